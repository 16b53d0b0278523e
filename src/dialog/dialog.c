/* RFC 3261 §12 dialogs: creation, matching, in-dialog requests, and the
 * 2xx/ACK reliability of INVITE (§13.3.1.4, §13.2.2.4, RFC 6026). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dialog_int.h"

#define MOD "dialog"

static size_t bucket_of(struct cv_ua *ua, struct cv_pl call_id,
			struct cv_pl ltag)
{
	uint64_t h =
		cv_hash(call_id.p, call_id.l) ^ (cv_hash(ltag.p, ltag.l) * 31);
	return (size_t)(h % ua->nbuckets);
}

struct cv_dlg *dlg_find(struct cv_ua *ua, struct cv_pl call_id,
			struct cv_pl ltag, struct cv_pl rtag)
{
	if (!ltag.l)
		return NULL;
	for (struct cv_dlg *d = ua->buckets[bucket_of(ua, call_id, ltag)]; d;
	     d = d->hnext) {
		if (!cv_pl_eq_str(call_id, d->call_id) ||
		    !cv_pl_eq_str(ltag, d->ltag))
			continue;
		/* An early UAC dialog learns nothing new here; a dialog
		 * created before the remote tag was known (none today) would
		 * match any. */
		if (d->rtag && !cv_pl_eq_str(rtag, d->rtag))
			continue;
		return d;
	}
	return NULL;
}

/* Doubles the table at load factor 1 (a failed grow only costs longer
 * chains): lookups stay O(1) at 100,000 dialogs, for 8-16 bytes each. */
static void table_grow(struct cv_ua *ua)
{
	size_t n = ua->nbuckets * 2;
	if (n > SIZE_MAX / sizeof(*ua->buckets))
		return;
	struct cv_dlg **nb = calloc(n, sizeof(*nb));
	if (!nb)
		return;
	struct cv_dlg **old = ua->buckets;
	size_t on = ua->nbuckets;
	ua->buckets = nb;
	ua->nbuckets = n;
	for (size_t i = 0; i < on; i++) {
		struct cv_dlg *d = old[i], *next;
		for (; d; d = next) {
			next = d->hnext;
			size_t b = bucket_of(ua, cv_pl_str(d->call_id),
					     cv_pl_str(d->ltag));
			d->hnext = nb[b];
			nb[b] = d;
		}
	}
	free(old);
}

static void table_add(struct cv_dlg *d)
{
	struct cv_ua *ua = d->ua;
	if (ua->count >= ua->nbuckets)
		table_grow(ua);
	size_t b = bucket_of(ua, cv_pl_str(d->call_id), cv_pl_str(d->ltag));
	d->hnext = ua->buckets[b];
	ua->buckets[b] = d;
	d->in_table = true;
	ua->count++;
	ua->st.dialogs_created++;
	cv_mem_ref(d); /* the table's reference */
}

static void table_remove(struct cv_dlg *d)
{
	if (!d->in_table)
		return;
	struct cv_ua *ua = d->ua;
	size_t b = bucket_of(ua, cv_pl_str(d->call_id), cv_pl_str(d->ltag));
	for (struct cv_dlg **pp = &ua->buckets[b]; *pp; pp = &(*pp)->hnext) {
		if (*pp == d) {
			*pp = d->hnext;
			break;
		}
	}
	d->hnext = NULL;
	d->in_table = false;
	ua->count--;
	cv_mem_unref(d);
}

static void tx_free(struct cv_dlg *d)
{
	d->waiting_ack = false;
	if (!d->tx)
		return;
	cv_tmr_cancel(&d->tx->tmr);
	cv_mem_unref(d->tx->inv);
	free(d->tx->resp);
	free(d->tx);
	d->tx = NULL;
}

static void rel_free(struct cv_dlg *d)
{
	if (!d->rel)
		return;
	cv_tmr_cancel(&d->rel->tmr);
	cv_mem_unref(d->rel->st);
	free(d->rel->resp);
	free(d->rel);
	d->rel = NULL;
}

static void dlg_dtor(void *obj)
{
	struct cv_dlg *d = obj;
	tx_free(d);
	rel_free(d);
	free(d->contact_user);
	free(d->call_id); /* ltag, rtag, luri and ruri are in its block */
	free(d->target);
	for (size_t i = 0; i < d->nroute; i++)
		free(d->routes[i]);
	free(d->routes);
	free(d->ack);
	cv_ua_addr_clear(&d->peer);
}

void dlg_table_clear(struct cv_ua *ua)
{
	for (size_t b = 0; b < ua->nbuckets; b++) {
		while (ua->buckets[b]) {
			struct cv_dlg *d = ua->buckets[b];
			tx_free(d);
			rel_free(d);
			d->rel_pending = false;
			d->state = CV_DLG_TERMINATED;
			table_remove(d);
		}
	}
}

/* A name-addr value without its tag parameter, for re-use in From/To,
 * written at o (NULL: only measured); returns its length. Appends, not
 * printf: two per dialog. */
static size_t naddr_put(char *o, const struct cv_sip_naddr *na)
{
	size_t n = 0;
#define NA_PUT(ptr, len)                                                       \
	do {                                                                   \
		if (o && (len))                                                \
			memcpy(o + n, (ptr), (len));                           \
		n += (len);                                                    \
	} while (0)
	if (na->dname.l) {
		NA_PUT("\"", 1);
		NA_PUT(na->dname.p, na->dname.l);
		NA_PUT("\" ", 2);
	}
	NA_PUT("<", 1);
	NA_PUT(na->uri.p, na->uri.l);
	NA_PUT(">", 1);
	struct cv_pl rest = na->params, name, val;
	while (cv_sip_param_next(&rest, &name, &val) == 0) {
		if (cv_pl_caseeq_str(name, "tag"))
			continue;
		NA_PUT(";", 1);
		NA_PUT(name.p, name.l);
		if (val.l) {
			NA_PUT("=", 1);
			NA_PUT(val.p, val.l);
		}
	}
#undef NA_PUT
	return n;
}

/* The dialog's identifiers in one block sized for them (call_id first,
 * then the tags and the two name-addrs): a held dialog carries a few
 * dozen bytes of strings, not five allocations. */
static int set_ids(struct cv_dlg *d, struct cv_pl call_id, struct cv_pl ltag,
		   struct cv_pl rtag, const struct cv_sip_naddr *local,
		   const struct cv_sip_naddr *remote)
{
	size_t nl = naddr_put(NULL, local) + 1,
	       nr = naddr_put(NULL, remote) + 1;
	/* bounded by the message they came from; refuse absurd sizes */
	if (nl > 65536 || nr > 65536)
		return CV_ETOOBIG;
	char *blk = malloc(call_id.l + ltag.l + rtag.l + 3 + nl + nr);
	if (!blk)
		return -ENOMEM;
	char *p = blk;
	d->call_id = p;
	p += cv_pl_strcpy(call_id, p, call_id.l + 1);
	d->ltag = p;
	p += cv_pl_strcpy(ltag, p, ltag.l + 1);
	d->rtag = p;
	p += cv_pl_strcpy(rtag, p, rtag.l + 1);
	d->luri = p;
	p[naddr_put(p, local)] = '\0';
	d->ruri = p + nl;
	d->ruri[naddr_put(d->ruri, remote)] = '\0';
	return 0;
}

static int contact_target(const struct cv_sip_msg *m, char **out)
{
	const struct cv_sip_hdr *h = cv_sip_msg_hdr(m, CV_SIP_HDR_CONTACT);
	if (!h)
		return CV_ENOTFOUND;
	struct cv_pl rest = h->value, item;
	if (cv_sip_list_next(&rest, &item))
		return CV_EPARSE;
	struct cv_sip_contact c;
	if (cv_sip_contact_parse(item, &c) || c.star)
		return CV_EPARSE;
	char *s = cv_pl_strdup(c.addr.uri);
	if (!s)
		return -ENOMEM;
	free(*out);
	*out = s;
	return 0;
}

/* Record-Route values in message order; reverse for the UAC (§12.1.2). */
static int set_routes(struct cv_dlg *d, const struct cv_sip_msg *m,
		      bool reverse)
{
	struct cv_sip_vals_iter it = {0};
	struct cv_pl v;
	size_t n = 0;
	while (cv_sip_msg_vals_next(m, CV_SIP_HDR_RECORD_ROUTE, &it, &v) == 0)
		n++;
	if (n > 64)
		return CV_ETOOBIG;
	if (!n)
		return 0;
	d->routes = calloc(n, sizeof(char *));
	if (!d->routes)
		return -ENOMEM;
	memset(&it, 0, sizeof(it));
	size_t i = 0;
	while (i < n &&
	       cv_sip_msg_vals_next(m, CV_SIP_HDR_RECORD_ROUTE, &it, &v) == 0) {
		char *s = cv_pl_strdup(cv_pl_trim(v));
		if (!s)
			return -ENOMEM;
		d->routes[reverse ? n - 1 - i : i] = s;
		i++;
		d->nroute = i;
	}
	return 0;
}

static struct cv_dlg *dlg_alloc(struct cv_ua *ua)
{
	struct cv_dlg *d = cv_mem_zalloc(sizeof(*d), dlg_dtor);
	if (!d)
		return NULL;
	d->ua = ua;
	return d;
}

int cv_dlg_create_uas(struct cv_dlg **dp, struct cv_ua *ua, struct cv_txn *st,
		      struct cv_pl contact_user)
{
	const struct cv_sip_msg *req = cv_txn_request(st);
	char ltag[40];
	int err = cv_txn_local_tag(st, ltag, sizeof(ltag));
	if (err < 0)
		return err;
	if (!req->from.tag.l)
		return CV_EPARSE; /* RFC 2543 peers without tags: not supported
				   */
	struct cv_dlg *d = dlg_alloc(ua);
	if (!d)
		return -ENOMEM;
	d->uac = false;
	d->state = CV_DLG_EARLY;
	err = set_ids(d, req->call_id, cv_pl_str(ltag), req->from.tag, &req->to,
		      &req->from);
	if (err)
		goto fail;
	err = contact_target(req, &d->target);
	if (err == CV_ENOTFOUND)
		err = (d->target = cv_pl_strdup(req->from.uri)) ? 0 : -ENOMEM;
	if (err)
		goto fail;
	err = set_routes(d, req, false);
	if (err)
		goto fail;
	d->rcseq = req->cseq.num;
	d->rcseq_set = true;
	d->lcseq = 0;
	if (contact_user.l && !(d->contact_user = cv_pl_strdup(contact_user))) {
		err = -ENOMEM;
		goto fail;
	}
	cv_ua_addr_copy(&d->peer, cv_txn_addr(st));
	table_add(d);
	*dp = d;
	return 0;
fail:
	cv_mem_unref(d);
	return err;
}

/* A UAC-side dialog for client transaction ct (§12.1.2) from message m
 * (a response, or a request that creates the dialog), tags as given. */
static int uac_dialog_new(struct cv_dlg **dp, struct cv_ua *ua,
			  struct cv_txn *ct, const struct cv_sip_msg *m,
			  struct cv_pl ltag, struct cv_pl rtag, bool confirmed,
			  bool reverse_routes)
{
	const struct cv_sip_msg *req = cv_txn_request(ct);
	struct cv_dlg *d = dlg_alloc(ua);
	if (!d)
		return -ENOMEM;
	int err = -ENOMEM;
	d->uac = true;
	d->state = confirmed ? CV_DLG_CONFIRMED : CV_DLG_EARLY;
	if (set_ids(d, m->call_id, ltag, rtag, &req->from, &req->to))
		goto fail;
	err = contact_target(m, &d->target);
	if (err == CV_ENOTFOUND)
		err = (d->target = cv_pl_strdup(req->ruri)) ? 0 : -ENOMEM;
	if (err)
		goto fail;
	err = set_routes(d, m, reverse_routes);
	if (err)
		goto fail;
	d->lcseq = req->cseq.num;
	d->rcseq_set = false;
	/* the Contact user we sent, for in-dialog requests */
	const struct cv_sip_hdr *ch = cv_sip_msg_hdr(req, CV_SIP_HDR_CONTACT);
	struct cv_sip_contact c;
	struct cv_sip_uri u;
	if (ch && cv_sip_contact_parse(ch->value, &c) == 0 &&
	    cv_sip_uri_parse(c.addr.uri, &u) == 0)
		if (u.user.l && !(d->contact_user = cv_pl_strdup(u.user))) {
			err = -ENOMEM;
			goto fail;
		}
	cv_ua_addr_copy(&d->peer, cv_txn_addr(ct));
	table_add(d);
	*dp = d;
	return 0;
fail:
	cv_mem_unref(d);
	return err;
}

int cv_dlg_create_uac(struct cv_dlg **dp, struct cv_ua *ua, struct cv_txn *ct,
		      const struct cv_sip_msg *resp)
{
	if (!resp->to.tag.l)
		return CV_EPARSE;
	struct cv_dlg *d =
		dlg_find(ua, resp->call_id, resp->from.tag, resp->to.tag);
	if (d) {
		if (resp->status >= 200 && resp->status < 300)
			d->state = CV_DLG_CONFIRMED;
		cv_dlg_refresh_target(d, resp);
		*dp = cv_dlg_ref(d);
		return 0;
	}
	return uac_dialog_new(dp, ua, ct, resp, resp->from.tag, resp->to.tag,
			      resp->status >= 200, true);
}

/* A NOTIFY that arrives before the 2xx to our SUBSCRIBE (RFC 6665 §4.1.2.4)
 * creates the dialog from the request: its From tag is the remote tag and
 * its Record-Route is taken in order. */
int cv_dlg_create_uac_req(struct cv_dlg **dp, struct cv_ua *ua,
			  struct cv_txn *ct, const struct cv_sip_msg *in)
{
	const struct cv_sip_msg *req = cv_txn_request(ct);
	if (!in->req || !in->from.tag.l ||
	    !cv_pl_eq(in->to.tag, req->from.tag) ||
	    !cv_pl_eq(in->call_id, req->call_id))
		return CV_EPARSE;
	struct cv_dlg *d = dlg_find(ua, in->call_id, in->to.tag, in->from.tag);
	if (d) {
		*dp = cv_dlg_ref(d);
		return 0;
	}
	int err = uac_dialog_new(dp, ua, ct, in, in->to.tag, in->from.tag, true,
				 false);
	if (!err) {
		(*dp)->rcseq = in->cseq.num;
		(*dp)->rcseq_set = true;
	}
	return err;
}

struct cv_dlg *cv_dlg_ref(struct cv_dlg *d)
{
	return cv_mem_ref(d);
}

void cv_dlg_release(struct cv_dlg *d)
{
	cv_mem_unref(d);
}

void cv_dlg_terminate(struct cv_dlg *d)
{
	if (!d)
		return;
	d->state = CV_DLG_TERMINATED;
	tx_free(d);
	rel_free(d);
	d->rel_pending = false;
	table_remove(d);
}

void cv_dlg_refresh_target(struct cv_dlg *d, const struct cv_sip_msg *m)
{
	contact_target(m, &d->target);
}

static void extra_headers(struct cv_dlg *d, struct cv_buf *b, bool response)
{
	char contact[512];
	if (cv_ua_contact_uri(d->ua, &d->peer,
			      cv_pl_str(d->contact_user ? d->contact_user : ""),
			      contact, sizeof(contact)) == 0) {
		cv_buf_append(b, "Contact: <", 10);
		cv_buf_append_str(b, contact);
		cv_buf_append(b, ">\r\n", 3);
	}
	if (d->ua->user_agent) {
		cv_buf_append_str(b, response ? "Server: " : "User-Agent: ");
		cv_buf_append_str(b, d->ua->user_agent);
		cv_buf_append(b, "\r\n", 2);
	}
}

/* RFC 3261 §13.3.1.4: 2xx again at T1, 2T1, ... capped at T2, until the
 * ACK comes or 64*T1 has passed. */
static void retrans_2xx(struct cv_tmr *t, void *arg)
{
	struct cv_dlg *d = arg;
	struct cv_ua *ua = d->ua;
	struct dlg_tx2xx *tx = d->tx;
	if (!d->waiting_ack || !tx)
		return;
	if (cv_clock_us() >= tx->deadline_us) {
		tx_free(d);
		ua->st.ack_timeouts++;
		CV_LOG_RL(CV_LOG_INFO, MOD, "no ACK for 2xx call-id=%s",
			  d->call_id);
		if (ua->h->ack_timeout) {
			cv_mem_ref(d);
			ua->h->ack_timeout(ua, d, ua->arg);
			cv_mem_unref(d);
		}
		return;
	}
	if (!d->peer.reliable) {
		ua_send_response(ua, tx->inv, &d->peer, tx->resp, tx->resplen);
		ua->st.tx_2xx_retrans++;
		tx->interval_ms = CV_MIN(tx->interval_ms * 2, ua->t2_ms);
	}
	uint64_t next = d->peer.reliable ? tx->deadline_us - cv_clock_us()
					 : (uint64_t)tx->interval_ms * 1000;
	cv_tmr_start(cv_worker_wheel(ua->w), &tx->tmr, next, retrans_2xx, d);
}

static int build_response(struct cv_dlg *d, struct cv_sip_msg *req,
			  uint16_t status, const struct cv_txn_resp_params *p,
			  const char *extra, struct cv_buf *out)
{
	struct cv_buf hdrs;
	cv_buf_init(&hdrs, 16384);
	cv_buf_reserve(&hdrs, CV_MIN(512 + (p ? p->headers.l : 0), 16384));
	/* §12.1.1: a dialog-creating response carries the request's
	 * Record-Route headers, in order, so the UAC learns the route set */
	if (status > 100 && status < 300)
		for (const struct cv_sip_hdr *h =
			     cv_sip_msg_hdr(req, CV_SIP_HDR_RECORD_ROUTE);
		     h; h = cv_sip_msg_hdr_next(req, h)) {
			cv_buf_append(&hdrs, "Record-Route: ", 14);
			cv_buf_append_pl(&hdrs, h->value);
			cv_buf_append(&hdrs, "\r\n", 2);
		}
	extra_headers(d, &hdrs, true);
	if (extra)
		cv_buf_append_str(&hdrs, extra);
	if (p)
		cv_buf_append_pl(&hdrs, p->headers);
	if (hdrs.err) {
		int e = hdrs.err;
		cv_buf_free(&hdrs);
		return e;
	}
	struct cv_sip_resp_params rp = {
		.to_tag = cv_pl_str(d->ltag),
		.headers = {hdrs.data, hdrs.len},
		.content_type = p ? p->content_type : (struct cv_pl)CV_PL_INIT,
		.body = p ? p->body : (struct cv_pl)CV_PL_INIT,
	};
	cv_buf_init(out, d->ua->lim.max_msg);
	/* one allocation: the request's header section bounds what the
	 * response copies from it */
	size_t est =
		256 + req->headers.l + hdrs.len + rp.content_type.l + rp.body.l;
	cv_buf_reserve(out, out->max ? CV_MIN(est, out->max) : est);
	int err =
		cv_sip_resp_print(out, req, status, p ? p->reason : NULL, &rp);
	cv_buf_free(&hdrs);
	return err;
}

static void rel_stop(struct cv_dlg *d)
{
	/* still unacknowledged: a late PRACK for it gets 200, not 481 */
	d->rel_unacked = d->rel_pending;
	d->rel_pending = false;
	rel_free(d);
}

int cv_dlg_respond(struct cv_dlg *d, struct cv_txn *st, uint16_t status,
		   const struct cv_txn_resp_params *p)
{
	struct cv_sip_msg *req = cv_txn_request(st);
	struct cv_buf out;
	int err = build_response(d, req, status, p, NULL, &out);
	if (!err)
		err = cv_txn_respond_raw(st, status, out.data, out.len);
	if (status >= 200 && req->method == CV_SIP_INVITE && d->rel &&
	    d->rel->st == st)
		rel_stop(d); /* RFC 3262 §3: a final response ends them */
	if (!err && status >= 200 && status < 300 &&
	    req->method == CV_SIP_INVITE) {
		d->state = CV_DLG_CONFIRMED;
		tx_free(d);
		struct dlg_tx2xx *tx = calloc(1, sizeof(*tx));
		if (!tx) {
			/* sent once; without memory to keep it, not
			 * retransmitted */
			cv_buf_free(&out);
			return 0;
		}
		cv_tmr_init(&tx->tmr);
		tx->resp = out.data;
		tx->resplen = out.len;
		out.data = NULL;
		tx->inv = cv_mem_ref(req);
		tx->interval_ms = d->ua->t1_ms;
		tx->deadline_us = cv_clock_us() + 64ull * d->ua->t1_ms * 1000;
		d->tx = tx;
		d->waiting_ack = true;
		uint64_t first = d->peer.reliable
					 ? 64ull * d->ua->t1_ms * 1000
					 : (uint64_t)d->ua->t1_ms * 1000;
		cv_tmr_start(cv_worker_wheel(d->ua->w), &tx->tmr, first,
			     retrans_2xx, d);
	} else if (!err && status >= 300 && req->method == CV_SIP_INVITE &&
		   d->state == CV_DLG_EARLY) {
		/* a failed initial INVITE ends its early dialog; a failed
		 * re-INVITE leaves the dialog as it was (§14.1, §14.2) */
		cv_dlg_terminate(d);
	}
	cv_buf_free(&out);
	return err;
}

/* RFC 3262 §3: retransmit at T1, 2T1, 4T1... (no T2 cap), for 64*T1. */
static void retrans_rel(struct cv_tmr *t, void *arg)
{
	struct cv_dlg *d = arg;
	struct cv_ua *ua = d->ua;
	struct dlg_rel *rel = d->rel;
	if (!d->rel_pending || !rel)
		return;
	if (cv_clock_us() >= rel->deadline_us) {
		rel_stop(d);
		CV_LOG_RL(CV_LOG_INFO, MOD, "no PRACK call-id=%s", d->call_id);
		if (ua->h->prack_timeout) {
			cv_mem_ref(d);
			ua->h->prack_timeout(ua, d, ua->arg);
			cv_mem_unref(d);
		}
		return;
	}
	if (!d->peer.reliable) {
		if (cv_txn_respond_raw(rel->st, rel->status, rel->resp,
				       rel->len) != 0) {
			rel_stop(d);
			return;
		}
		ua->st.tx_rel_retrans++;
		rel->interval_ms *= 2;
	}
	uint64_t now = cv_clock_us();
	uint64_t next = d->peer.reliable ? rel->deadline_us - now
					 : (uint64_t)rel->interval_ms * 1000;
	if (now + next > rel->deadline_us)
		next = rel->deadline_us - now;
	cv_tmr_start(cv_worker_wheel(ua->w), &rel->tmr, next, retrans_rel, d);
}

int cv_dlg_respond_reliable(struct cv_dlg *d, struct cv_txn *st,
			    uint16_t status, const struct cv_txn_resp_params *p)
{
	if (status <= 100 || status >= 200)
		return -EINVAL;
	if (d->rel_pending)
		return -EBUSY;
	struct cv_sip_msg *req = cv_txn_request(st);
	if (req->method != CV_SIP_INVITE)
		return -EINVAL;
	if (!d->rseq_next) {
		/* §3: the first RSeq is random in 1..2^31-1; leave room */
		uint32_t r = 0;
		cv_random(&r, sizeof(r));
		d->rseq_next = 1 + (r % 0x3fffffffu);
	}
	char extra[96];
	snprintf(extra, sizeof(extra), "Require: 100rel\r\nRSeq: %u\r\n",
		 d->rseq_next);
	struct dlg_rel *rel = calloc(1, sizeof(*rel));
	if (!rel)
		return -ENOMEM;
	struct cv_buf out;
	int err = build_response(d, req, status, p, extra, &out);
	if (!err)
		err = cv_txn_respond_raw(st, status, out.data, out.len);
	if (err) {
		cv_buf_free(&out);
		free(rel);
		return err;
	}
	rel_stop(d);
	cv_tmr_init(&rel->tmr);
	d->rel = rel;
	d->rel_pending = true;
	d->rel_cseq = req->cseq.num;
	d->rel_rseq = d->rseq_next++;
	rel->status = status;
	rel->resp = out.data;
	rel->len = out.len;
	rel->st = cv_mem_ref(st);
	rel->interval_ms = d->ua->t1_ms;
	rel->deadline_us = cv_clock_us() + 64ull * d->ua->t1_ms * 1000;
	d->ua->st.tx_reliable_1xx++;
	uint64_t first = d->peer.reliable ? 64ull * d->ua->t1_ms * 1000
					  : (uint64_t)d->ua->t1_ms * 1000;
	cv_tmr_start(cv_worker_wheel(d->ua->w), &rel->tmr, first, retrans_rel,
		     d);
	return 0;
}

bool cv_dlg_prack(struct cv_dlg *d, const struct cv_sip_msg *prack)
{
	const struct cv_sip_hdr *h = cv_sip_msg_hdr(prack, CV_SIP_HDR_RACK);
	struct cv_sip_rack rack;
	if (!h || (!d->rel_pending && !d->rel_unacked) ||
	    cv_sip_rack_parse(h->value, &rack) != 0)
		return false;
	if (rack.rseq != d->rel_rseq || rack.cseq != d->rel_cseq ||
	    rack.method != CV_SIP_INVITE)
		return false;
	rel_stop(d);
	d->rel_unacked = false;
	return true;
}

bool cv_dlg_reliable_pending(const struct cv_dlg *d)
{
	return d->rel_pending;
}

struct cv_dlg *cv_ua_dialog_find(struct cv_ua *ua, struct cv_pl call_id,
				 struct cv_pl local_tag,
				 struct cv_pl remote_tag)
{
	if (!remote_tag.l)
		return NULL;
	return dlg_find(ua, call_id, local_tag, remote_tag);
}

uint32_t cv_dlg_local_cseq(const struct cv_dlg *d)
{
	return d->lcseq;
}

/* The 2xx and its INVITE are kept only to retransmit the 2xx. */
void dlg_got_ack(struct cv_dlg *d, struct cv_sip_msg *ack)
{
	(void)ack;
	tx_free(d);
}

static int build_request(struct cv_dlg *d, enum cv_sip_method method,
			 struct cv_pl method_name, uint32_t cseq,
			 struct cv_pl headers, struct cv_pl ctype,
			 struct cv_pl body, struct cv_buf *out)
{
	struct cv_tp_via via;
	int err = ua_via_for(d->ua, &d->peer, &via);
	if (err)
		return err;
	char sent_by[CV_TP_ADDRSTRLEN + 240];
	ua_sent_by(&via, sent_by, sizeof(sent_by));
	struct cv_pl routes[64];
	for (size_t i = 0; i < d->nroute; i++)
		routes[i] = cv_pl_str(d->routes[i]);
	struct cv_buf hdrs;
	cv_buf_init(&hdrs, 16384);
	cv_buf_reserve(&hdrs, CV_MIN(512 + headers.l, 16384));
	if (method != CV_SIP_ACK) {
		extra_headers(d, &hdrs, false);
	} else if (d->ua->user_agent) {
		cv_buf_append(&hdrs, "User-Agent: ", 12);
		cv_buf_append_str(&hdrs, d->ua->user_agent);
		cv_buf_append(&hdrs, "\r\n", 2);
	}
	cv_buf_append_pl(&hdrs, headers);
	if (hdrs.err) {
		err = hdrs.err;
		cv_buf_free(&hdrs);
		return err;
	}
	/* From/To values are complete name-addrs; the printer adds tags. */
	struct cv_sip_naddr lna, rna;
	cv_sip_naddr_parse(cv_pl_str(d->luri), &lna);
	cv_sip_naddr_parse(cv_pl_str(d->ruri), &rna);
	struct cv_sip_req_params rp = {
		.method = method,
		.method_name = method_name,
		.ruri = cv_pl_str(d->target),
		.via = {.tp = ua_sip_tp(via.kind),
			.sent_by = cv_pl_str(sent_by),
			.rport = true},
		.from_uri = lna.uri,
		.from_display = lna.dname,
		.from_tag = cv_pl_str(d->ltag),
		.to_uri = rna.uri,
		.to_display = rna.dname,
		.to_tag = cv_pl_str(d->rtag),
		.call_id = cv_pl_str(d->call_id),
		.cseq = cseq,
		.route = routes,
		.nroute = d->nroute,
		.headers = {hdrs.data, hdrs.len},
		.content_type = ctype,
		.body = body,
	};
	/* one allocation for the message: a little more than it needs */
	size_t est = 384 + hdrs.len + ctype.l + body.l + strlen(d->target) +
		     strlen(d->luri) + strlen(d->ruri) + strlen(d->call_id) +
		     strlen(d->ltag) + strlen(d->rtag);
	for (size_t i = 0; i < d->nroute; i++)
		est += routes[i].l + 9;
	cv_buf_reserve(out, out->max ? CV_MIN(est, out->max) : est);
	err = cv_sip_req_print(out, &rp);
	cv_buf_free(&hdrs);
	return err;
}

int cv_dlg_request(struct cv_dlg *d, const struct cv_dlg_req *r,
		   struct cv_txn **ctp)
{
	if (r->method == CV_SIP_ACK || r->method == CV_SIP_CANCEL)
		return -EINVAL;
	if (d->state == CV_DLG_TERMINATED)
		return CV_ECLOSED;
	if (d->lcseq == UINT32_MAX >> 1)
		return CV_ETOOBIG;
	struct cv_buf out;
	cv_buf_init(&out, d->ua->lim.max_msg);
	int err = build_request(d, r->method, r->method_name, d->lcseq + 1,
				r->headers, r->content_type, r->body, &out);
	if (!err) {
		struct cv_txn_client_params cp = {.buf = out.data,
						  .len = out.len,
						  .dst = &d->peer,
						  .uarg = r->uarg};
		err = cv_txn_client_create(ctp, cv_ua_txn_layer(d->ua), &cp);
		if (!err)
			d->lcseq++;
	}
	cv_buf_free(&out);
	return err;
}

int cv_dlg_ack(struct cv_dlg *d, const struct cv_sip_msg *resp2xx,
	       struct cv_pl content_type, struct cv_pl body)
{
	if (d->state == CV_DLG_EARLY)
		d->state = CV_DLG_CONFIRMED;
	struct cv_buf out;
	cv_buf_init(&out, d->ua->lim.max_msg);
	int err = build_request(d, CV_SIP_ACK, (struct cv_pl)CV_PL_INIT,
				resp2xx->cseq.num, (struct cv_pl)CV_PL_INIT,
				content_type, body, &out);
	if (!err)
		err = cv_txn_send_stateless(cv_ua_txn_layer(d->ua), &d->peer,
					    NULL, out.data, out.len);
	if (!err) {
		free(d->ack);
		/* kept for the dialog's life: no slack */
		char *shrunk = realloc(out.data, out.len + 1);
		d->ack = shrunk ? shrunk : out.data;
		d->acklen = out.len;
		d->ack_cseq = resp2xx->cseq.num;
		out.data = NULL;
	}
	cv_buf_free(&out);
	return err;
}

bool dlg_resend_ack(struct cv_ua *ua, const struct cv_sip_msg *resp)
{
	struct cv_dlg *d =
		dlg_find(ua, resp->call_id, resp->from.tag, resp->to.tag);
	if (!d || !d->ack || d->ack_cseq != resp->cseq.num)
		return false;
	cv_txn_send_stateless(ua->txl, &d->peer, NULL, d->ack, d->acklen);
	ua->st.tx_ack_retrans++;
	return true;
}

enum cv_dlg_state cv_dlg_state(const struct cv_dlg *d)
{
	return d->state;
}
bool cv_dlg_is_uac(const struct cv_dlg *d)
{
	return d->uac;
}
struct cv_pl cv_dlg_call_id(const struct cv_dlg *d)
{
	return cv_pl_str(d->call_id);
}
struct cv_pl cv_dlg_local_tag(const struct cv_dlg *d)
{
	return cv_pl_str(d->ltag);
}
struct cv_pl cv_dlg_remote_tag(const struct cv_dlg *d)
{
	return cv_pl_str(d->rtag);
}
struct cv_pl cv_dlg_remote_uri(const struct cv_dlg *d)
{
	return cv_pl_str(d->ruri);
}
struct cv_pl cv_dlg_local_uri(const struct cv_dlg *d)
{
	return cv_pl_str(d->luri);
}
struct cv_pl cv_dlg_remote_target(const struct cv_dlg *d)
{
	return cv_pl_str(d->target);
}
const struct cv_txn_addr *cv_dlg_peer(const struct cv_dlg *d)
{
	return &d->peer;
}
void *cv_dlg_uarg(const struct cv_dlg *d)
{
	return d->uarg;
}
void cv_dlg_set_uarg(struct cv_dlg *d, void *uarg)
{
	d->uarg = uarg;
}
struct cv_ua *cv_dlg_ua(const struct cv_dlg *d)
{
	return d->ua;
}
