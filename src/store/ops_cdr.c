/* CDRs: one record per call with its legs and their quality figures;
 * insert (idempotent by id, kept while the database is down), list, CSV. */
#include <inttypes.h>
#include <string.h>

#include "store_int.h"

/* ---- insert
 * ------------------------------------------------------------------ */
static int exec_cdr_insert(struct db *db, struct store_req *r)
{
	const struct cv_store_cdr *c = &r->in.cdr;
	int64_t ch = 0;
	struct dbv p[] = {V_S(c->id),	  V_S(c->call_id),    V_S(c->caller),
			  V_S(c->callee), V_I(c->start_us),   V_I(c->answer_us),
			  V_I(c->end_us), V_S(c->end_reason), V_S(c->hangup_by),
			  V_I(c->nlegs)};
	/* A retry after a lost COMMIT acknowledgement must not duplicate. */
	int err = db_run(db,
			 "INSERT INTO cdrs (id, call_id, caller, callee, "
			 "start_us, answer_us, end_us, end_reason, hangup_by, "
			 "nlegs) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
			 "ON CONFLICT (id) DO NOTHING",
			 p, 10, NULL, NULL, &ch);
	if (err)
		return err;
	for (size_t i = 0; i < c->nlegs && ch; i++) {
		const struct cv_store_cdr_leg *l = &c->legs[i];
		struct dbv lp[] = {V_S(c->id),	      V_I(l->index),
				   V_S(l->call_id),   V_S(l->peer),
				   V_S(l->codec),     V_I(l->pkts_sent),
				   V_I(l->pkts_recv), V_I(l->pkts_lost),
				   V_D(l->jitter_ms), V_D(l->mos)};
		err = db_run(
			db,
			"INSERT INTO cdr_legs (cdr_id, idx, call_id, peer, "
			"codec, pkts_sent, pkts_recv, pkts_lost, jitter_ms, "
			"mos) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			lp, 10, NULL, NULL, NULL);
		if (err)
			return err;
	}
	return res_set(r, CV_STORE_RES_NONE, ch);
}
static const struct op_desc op_cdr_insert = {"cdr_insert", exec_cdr_insert,
					     true};

int cv_store_cdr_insert(struct cv_store *s, const struct cv_store_cdr *c,
			const struct cv_store_cb *cb)
{
	if (!s || !c || (c->nlegs && !c->legs) || c->start_us < 0 ||
	    c->answer_us < 0 || c->end_us < 0)
		return -EINVAL;
	if (c->nlegs > CV_STORE_LEGS_MAX)
		return CV_ETOOBIG;
	const char *texts[] = {c->id,	  c->call_id,	 c->caller,
			       c->callee, c->end_reason, c->hangup_by};
	for (size_t i = 0; i < CV_ARRAY_SIZE(texts); i++)
		if (check_text(texts[i], CV_STORE_TEXT_MAX))
			return CV_ETOOBIG;
	for (size_t i = 0; i < c->nlegs; i++) {
		const struct cv_store_cdr_leg *l = &c->legs[i];
		if (check_text(l->call_id, CV_STORE_TEXT_MAX) ||
		    check_text(l->peer, CV_STORE_TEXT_MAX) ||
		    check_text(l->codec, CV_STORE_NAME_MAX))
			return CV_ETOOBIG;
		if (l->pkts_sent > INT64_MAX || l->pkts_recv > INT64_MAX ||
		    l->pkts_lost > INT64_MAX)
			return -EINVAL;
		for (size_t j = 0; j < i; j++)
			if (c->legs[j].index == l->index)
				return -EINVAL;
	}
	struct store_req *r = req_new(&op_cdr_insert);
	if (!r)
		return -ENOMEM;
	struct cv_store_cdr *d = &r->in.cdr;
	*d = *c;
	char id[33];
	if (!c->id || !*c->id)
		make_id(id);
	d->id = ADUP(r, c->id && *c->id ? c->id : id);
	d->call_id = ADUP(r, c->call_id);
	d->caller = ADUP(r, c->caller);
	d->callee = ADUP(r, c->callee);
	d->end_reason = ADUP(r, c->end_reason);
	d->hangup_by = ADUP(r, c->hangup_by);
	struct cv_store_cdr_leg *legs = NULL;
	if (c->nlegs) {
		legs = arena_alloc(&r->ar, c->nlegs * sizeof(*legs));
		for (size_t i = 0; legs && i < c->nlegs; i++) {
			legs[i] = c->legs[i];
			legs[i].call_id = ADUP(r, c->legs[i].call_id);
			legs[i].peer = ADUP(r, c->legs[i].peer);
			legs[i].codec = ADUP(r, c->legs[i].codec);
		}
	}
	d->legs = legs;
	r->key = key_of(d->id);
	return req_submit(s, r, cb);
}

/* ---- list
 * ---------------------------------------------------------------------- */
/* One statement (one snapshot): the page of CDRs joined with their legs,
 * ordered so that a CDR's legs follow it. */
#define CDR_PAGE_SQL                                                           \
	"SELECT c.id, c.call_id, c.caller, c.callee, c.start_us, "             \
	"c.answer_us, "                                                        \
	"c.end_us, c.end_reason, c.hangup_by, c.nlegs, COALESCE(l.idx, -1), "  \
	"l.call_id, l.peer, l.codec, l.pkts_sent, l.pkts_recv, l.pkts_lost, "  \
	"l.jitter_ms, l.mos FROM (SELECT * FROM cdrs WHERE start_us >= ? AND " \
	"start_us < ? AND (CAST(? AS TEXT) = '' OR call_id = ?) "              \
	"ORDER BY start_us, id LIMIT ? OFFSET ?) c "                           \
	"LEFT JOIN cdr_legs l ON l.cdr_id = c.id "                             \
	"ORDER BY c.start_us, c.id, l.idx"

struct cdr_ctx {
	struct list_ctx c;
	size_t legcap; /* capacity of the current CDR's legs */
};

static int cdr_row(struct db_row *row, void *arg)
{
	struct cdr_ctx *x = arg;
	struct list_ctx *c = &x->c;
	struct cv_store_cdr *d =
		c->res->pub.n ? &c->res->pub.cdrs[c->res->pub.n - 1] : NULL;
	const char *id = db_text(row, 0);
	if (!d || strcmp(d->id, id) != 0) {
		d = res_row(c->res, sizeof(*d), &c->cap);
		if (!d)
			return -ENOMEM;
		d->id = RDUP(c, row, 0);
		d->call_id = RDUP(c, row, 1);
		d->caller = RDUP(c, row, 2);
		d->callee = RDUP(c, row, 3);
		d->start_us = db_i64(row, 4);
		d->answer_us = db_i64(row, 5);
		d->end_us = db_i64(row, 6);
		d->end_reason = RDUP(c, row, 7);
		d->hangup_by = RDUP(c, row, 8);
		int64_t n = db_i64(row, 9);
		x->legcap = n > 0 && n <= CV_STORE_LEGS_MAX ? (size_t)n : 0;
		d->legs = NULL;
		if (x->legcap) {
			d->legs = arena_alloc(&c->res->ar,
					      x->legcap * sizeof(*d->legs));
			if (!d->legs)
				return -ENOMEM;
		}
	}
	if (db_i64(row, 10) < 0 || d->nlegs >= x->legcap)
		return 0;
	struct cv_store_cdr_leg *l =
		(struct cv_store_cdr_leg *)&d->legs[d->nlegs++];
	l->index = (uint32_t)db_i64(row, 10);
	l->call_id = RDUP(c, row, 11);
	l->peer = RDUP(c, row, 12);
	l->codec = RDUP(c, row, 13);
	l->pkts_sent = (uint64_t)db_i64(row, 14);
	l->pkts_recv = (uint64_t)db_i64(row, 15);
	l->pkts_lost = (uint64_t)db_i64(row, 16);
	l->jitter_ms = db_dbl(row, 17);
	l->mos = db_dbl(row, 18);
	return 0;
}

static int exec_cdr_list(struct db *db, struct store_req *r)
{
	struct cdr_ctx x = {0};
	int err = list_start(r, &x.c, CV_STORE_RES_CDRS);
	if (err)
		return err;
	const struct cv_store_query *q = &r->in.query;
	struct dbv p[] = {V_I(q->since_us), V_I(q->until_us), V_S(q->key),
			  V_S(q->key),	    V_I(q->limit),    V_I(q->offset)};
	err = db_run(db, CDR_PAGE_SQL, p, 6, cdr_row, &x, NULL);
	return list_end(r, &x.c, err);
}
static const struct op_desc op_cdr_list = {"cdr_list", exec_cdr_list, false};

int cv_store_cdr_list(struct cv_store *s, const struct cv_store_query *q,
		      const struct cv_store_cb *cb)
{
	return query_submit(s, &op_cdr_list, q, cb);
}

/* ---- CSV export
 * ----------------------------------------------------------------- */
/* RFC 4180 field. Text that a spreadsheet would run as a formula (OWASP
 * "CSV injection": = + - @ at the start) gets a leading apostrophe: caller
 * and callee come from the network. */
static void csv_text(FILE *f, const char *s)
{
	bool quote = strpbrk(s, ",\"\r\n") != NULL;
	bool formula = *s == '=' || *s == '+' || *s == '-' || *s == '@' ||
		       *s == '\t' || *s == '\r';
	if (quote || formula)
		fputc('"', f);
	if (formula)
		fputc('\'', f);
	for (const char *p = s; *p; p++) {
		if (*p == '"')
			fputc('"', f);
		fputc(*p, f);
	}
	if (quote || formula)
		fputc('"', f);
}

static void csv_cdr(FILE *f, const struct cv_store_cdr *d)
{
	csv_text(f, d->id);
	fputc(',', f);
	csv_text(f, d->call_id);
	fputc(',', f);
	csv_text(f, d->caller);
	fputc(',', f);
	csv_text(f, d->callee);
	fprintf(f, ",%" PRId64 ",%" PRId64 ",%" PRId64 ",", d->start_us,
		d->answer_us, d->end_us);
	csv_text(f, d->end_reason);
	fputc(',', f);
	csv_text(f, d->hangup_by);
}

int cv_store_cdr_export_csv(struct cv_store *s, FILE *out,
			    const struct cv_store_query *q)
{
	if (!s || !out)
		return -EINVAL;
	struct cv_store_query page = {0};
	if (q)
		page = *q;
	page.offset = 0;
	page.limit = 1000;
	fputs("id,call_id,caller,callee,start_us,answer_us,end_us,end_reason,"
	      "hangup_by,leg,leg_call_id,peer,codec,pkts_sent,pkts_recv,"
	      "pkts_lost,jitter_ms,mos\r\n",
	      out);
	for (;;) {
		struct cv_store_res *res = NULL;
		int err = cv_store_cdr_list(s, &page, CV_STORE_SYNC(&res));
		if (err)
			return err;
		for (size_t i = 0; i < res->n; i++) {
			const struct cv_store_cdr *d = &res->cdrs[i];
			if (!d->nlegs) {
				csv_cdr(out, d);
				fputs(",,,,,,,,,\r\n", out);
			}
			for (size_t j = 0; j < d->nlegs; j++) {
				const struct cv_store_cdr_leg *l = &d->legs[j];
				csv_cdr(out, d);
				fprintf(out, ",%u,", l->index);
				csv_text(out, l->call_id);
				fputc(',', out);
				csv_text(out, l->peer);
				fputc(',', out);
				csv_text(out, l->codec);
				fprintf(out,
					",%" PRIu64 ",%" PRIu64 ",%" PRIu64
					",%.3f,%.2f\r\n",
					l->pkts_sent, l->pkts_recv,
					l->pkts_lost, l->jitter_ms, l->mos);
			}
		}
		size_t n = res->n;
		cv_mem_unref(res);
		if (n < page.limit)
			break;
		page.offset += (uint32_t)n;
	}
	return ferror(out) ? -EIO : 0;
}
