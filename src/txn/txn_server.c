/* Server transactions: RFC 3261 §17.2.1 (INVITE, Figure 7 with the RFC 6026
 * Accepted state and Timer L), §17.2.2 (non-INVITE, Figure 8), request
 * matching §17.2.3 with the RFC 2543 fallback, CANCEL §9.2. */
#include "txn_int.h"

#define RESP_MAX 65535

static bool method_eq(enum cv_sip_method a, struct cv_pl apl,
		      enum cv_sip_method b, struct cv_pl bpl)
{
	if (a != b)
		return false;
	return a != CV_SIP_METHOD_OTHER || cv_pl_eq(apl, bpl);
}

/* sent-by equality: host case-insensitive, port as written (0 = absent). */
static bool sentby_eq(const struct cv_sip_via *a, const struct cv_sip_via *b)
{
	return a->port == b->port && cv_pl_casecmp_eq(a->host, b->host);
}

/* §17.2.3, branch with the magic cookie: branch, sent-by and method (the
 * caller maps ACK to INVITE and CANCEL-for-INVITE to INVITE). */
/* The request's two index keys, hashed once per received request. */
struct rx_keys {
	uint64_t branch; /* primary: txn_branch_hash (magic cookie only) */
	uint64_t sec;	 /* secondary: txn_sec_hash */
};

static struct cv_txn *find_server(struct cv_txn_layer *l,
				  const struct cv_sip_msg *req, uint64_t h,
				  enum cv_sip_method m, struct cv_pl mpl)
{
	for (struct cv_txn *t = l->prim.b[h & l->prim.mask]; t; t = t->hnext) {
		if (t->hash != h || (t->flags & TF_CLIENT))
			continue;
		const struct cv_sip_via *v = txn_via(t);
		if (!cv_pl_eq(v->branch, req->via.branch) ||
		    !sentby_eq(v, &req->via) ||
		    !method_eq((enum cv_sip_method)t->method, txn_method_pl(t),
			       m, mpl))
			continue;
		return t;
	}
	return NULL;
}

enum match_mode { MATCH_SAME, MATCH_ACK, MATCH_CANCEL };

static bool ruri_eq(struct cv_pl a, struct cv_pl b)
{
	return cv_pl_eq(a, b) || cv_sip_uri_eq_text(a, b);
}

/* §17.2.3 RFC 2543 fallback: Request-URI, To tag, From tag, Call-ID, CSeq
 * and top Via of the request that created the transaction. For an ACK the
 * CSeq method is not compared and its To tag must be that of the response
 * sent; a CANCEL matches the INVITE with the same fields but method. */
static struct cv_txn *find_server_2543(struct cv_txn_layer *l,
				       const struct cv_sip_msg *req, uint64_t h,
				       enum match_mode mode)
{
	for (struct cv_txn *t = l->sec.b[h & l->sec.mask]; t; t = t->snext) {
		/* RFC 2543 transactions are never slimmed: t->req is set */
		if (t->shash != h || !(t->flags & TF_RFC2543) || !t->req)
			continue;
		const struct cv_sip_msg *o = t->req;
		if (o->cseq.num != req->cseq.num ||
		    !cv_pl_eq(o->call_id, req->call_id) ||
		    !cv_pl_eq(o->from.tag, req->from.tag) ||
		    !cv_pl_casecmp_eq(o->via.value, req->via.value) ||
		    !ruri_eq(o->ruri, req->ruri))
			continue;
		switch (mode) {
		case MATCH_SAME:
			if (method_eq(o->method, o->method_pl, req->method,
				      req->method_pl) &&
			    cv_pl_eq(o->to.tag, req->to.tag))
				return t;
			break;
		case MATCH_ACK:
			if (o->method != CV_SIP_INVITE)
				break;
			if (t->resp_tag_hash
				    ? cv_hash(req->to.tag.p, req->to.tag.l) ==
					      t->resp_tag_hash
				    : cv_pl_eq(o->to.tag, req->to.tag))
				return t;
			break;
		case MATCH_CANCEL:
			if (o->method == CV_SIP_INVITE &&
			    cv_pl_eq(o->to.tag, req->to.tag))
				return t;
			break;
		}
	}
	return NULL;
}

static struct cv_txn *match(struct cv_txn_layer *l,
			    const struct cv_sip_msg *req, bool cookie,
			    const struct rx_keys *k, enum match_mode mode)
{
	if (!cookie)
		return find_server_2543(l, req, k->sec, mode);
	if (mode == MATCH_SAME)
		return find_server(l, req, k->branch, req->method,
				   req->method_pl);
	return find_server(l, req, k->branch, CV_SIP_INVITE,
			   (struct cv_pl)CV_PL_INIT);
}

/* ---- responses
 * ---------------------------------------------------------------- */

/* Into the room reserved up front; the buffer's own append (which also
 * grows it) only when the estimate was short. */
static inline void put(struct cv_buf *b, const char *s, size_t n)
{
	if (!n)
		return;
	if (!b->err && b->cap - b->len > n) {
		memcpy(b->data + b->len, s, n);
		b->len += n;
	} else {
		cv_buf_append(b, s, n);
	}
}

#define PUT_LIT(b, s) put(b, s, sizeof(s) - 1)

static void put_u64(struct cv_buf *b, uint64_t v)
{
	char d[CV_U64_DEC_MAX];
	put(b, d, cv_u64_dec(d, v));
}

/* The response to req (RFC 3261 §8.2.6): the bytes cv_sip_resp_print()
 * makes, built with appends into a buffer sized once instead of one
 * vsnprintf per header (a server transaction's main formatting cost). */
static int resp_print(struct cv_buf *b, const struct cv_sip_msg *req,
		      uint16_t status, const char *reason,
		      const struct cv_sip_resp_params *p)
{
	struct cv_pl hdrs =
		p->headers.p ? p->headers : (struct cv_pl)CV_PL_INIT;
	struct cv_pl ctype =
		p->content_type.p ? p->content_type : (struct cv_pl)CV_PL_INIT;
	struct cv_pl body = p->body.p ? p->body : (struct cv_pl)CV_PL_INIT;
	struct cv_pl tag = p->to_tag.p ? p->to_tag : (struct cv_pl)CV_PL_INIT;
	if (!cv_sip_hdr_lines_ok(hdrs) || !cv_sip_hdr_value_ok(tag) ||
	    !cv_sip_hdr_value_ok(ctype))
		return -EINVAL;
	if (!reason || !*reason)
		reason = cv_sip_reason(status);
	size_t rl = strlen(reason);
	if (memchr(reason, '\r', rl) || memchr(reason, '\n', rl))
		return -EINVAL;
	size_t want =
		req->headers.l + hdrs.l + body.l + ctype.l + tag.l + rl + 96;
	int err = cv_buf_reserve(b, CV_MIN(want, (size_t)RESP_MAX));
	if (err)
		return err;
	char sl[13] = "SIP/2.0 000 ";
	sl[8] = (char)('0' + status / 100);
	sl[9] = (char)('0' + status / 10 % 10);
	sl[10] = (char)('0' + status % 10);
	put(b, sl, 12);
	put(b, reason, rl);
	PUT_LIT(b, "\r\n");
	/* §8.2.6.2: Via values in order, From, Call-ID, CSeq copied as is;
	 * To gets the tag unless it has one */
	for (const struct cv_sip_hdr *h = cv_sip_msg_hdr(req, CV_SIP_HDR_VIA);
	     h; h = cv_sip_msg_hdr_next(req, h)) {
		PUT_LIT(b, "Via: ");
		put(b, h->value.p, h->value.l);
		PUT_LIT(b, "\r\n");
	}
	const struct cv_sip_hdr *from = cv_sip_msg_hdr(req, CV_SIP_HDR_FROM);
	const struct cv_sip_hdr *to = cv_sip_msg_hdr(req, CV_SIP_HDR_TO);
	if (from) {
		PUT_LIT(b, "From: ");
		put(b, from->value.p, from->value.l);
		PUT_LIT(b, "\r\n");
	}
	if (to) {
		PUT_LIT(b, "To: ");
		put(b, to->value.p, to->value.l);
		if (tag.l && !req->to.tag.l && status != 100) {
			PUT_LIT(b, ";tag=");
			put(b, tag.p, tag.l);
		}
		PUT_LIT(b, "\r\n");
	}
	PUT_LIT(b, "Call-ID: ");
	put(b, req->call_id.p, req->call_id.l);
	PUT_LIT(b, "\r\n");
	if (cv_sip_msg_hdr(req, CV_SIP_HDR_CSEQ)) {
		PUT_LIT(b, "CSeq: ");
		put_u64(b, req->cseq.num);
		PUT_LIT(b, " ");
		put(b, req->cseq.method_pl.p, req->cseq.method_pl.l);
		PUT_LIT(b, "\r\n");
	}
	/* §8.2.6.1: a 100 Trying echoes the Timestamp */
	const struct cv_sip_hdr *ts = cv_sip_msg_hdr(req, CV_SIP_HDR_TIMESTAMP);
	if (ts && status == 100) {
		PUT_LIT(b, "Timestamp: ");
		put(b, ts->value.p, ts->value.l);
		PUT_LIT(b, "\r\n");
	}
	put(b, hdrs.p, hdrs.l);
	if (body.l && ctype.l) {
		PUT_LIT(b, "Content-Type: ");
		put(b, ctype.p, ctype.l);
		PUT_LIT(b, "\r\n");
	}
	PUT_LIT(b, "Content-Length: ");
	put_u64(b, body.l);
	PUT_LIT(b, "\r\n\r\n");
	put(b, body.p, body.l);
	if (!b->err)
		b->data[b->len] = '\0';
	return b->err;
}

static void fail(struct cv_txn *t, uint16_t status)
{
	struct cv_txn_layer *l = t->layer;
	if (txn_tu(t) && l->p.h->failed)
		l->p.h->failed(t, status, l->p.arg);
	txn_terminate(t, true);
}

void txn_server_fail(struct cv_txn *t, uint16_t status)
{
	fail(t, status);
}

static void resend(struct cv_txn *t)
{
	if (!t->out)
		return;
	if (txn_send(t, t->out->data, t->out->len, true, true))
		fail(t, 503);
}

static struct cv_pl rebase(struct cv_pl v, struct cv_pl from, const char *to,
			   bool *ok)
{
	if (!v.l)
		return (struct cv_pl){to, 0};
	if (v.p < from.p || v.p + v.l > from.p + from.l) {
		*ok = false;
		return (struct cv_pl){to, 0};
	}
	return (struct cv_pl){to + (v.p - from.p), v.l};
}

static struct cv_pl copy_pl(char **dst, struct cv_pl v)
{
	struct cv_pl r = {*dst, v.l};
	if (v.l)
		memcpy(*dst, v.p, v.l);
	*dst += v.l;
	return r;
}

/* A transaction with its final response sent (server) or received
 * (client) that no TU looks at any more (released, or the layer's own)
 * keeps only a struct txn_key instead of the parsed request for the rest
 * of its life (Timers J, H, I, L; D, K, M: up to 64*T1): a few hundred
 * bytes instead of ~2 KB. What it still does (match retransmissions,
 * ACKs and responses, resend the stored final or ACK bytes, §8.2.2.2
 * checks of others) reads only the key. RFC 2543 transactions (no magic
 * cookie, matched on more fields) keep their request. */
void txn_slim(struct cv_txn *t)
{
	if (!t->layer || !t->req || (t->flags & TF_RFC2543) ||
	    !(t->flags & TF_FINAL) || !(t->flags & (TF_RELEASED | TF_INTERNAL)))
		return;
	const struct cv_sip_msg *r = t->req;
	const struct cv_sip_via *v = &r->via;
	size_t n = v->value.l + r->call_id.l + r->from.tag.l + r->method_pl.l;
	struct txn_key *k = cv_mem_zalloc(sizeof(*k) + n, NULL);
	if (!k)
		return; /* keeps the request: only bigger */
	char *p = k->text;
	struct cv_pl val = copy_pl(&p, v->value);
	bool ok = true;
	k->via = *v;
	k->via.value = val;
	k->via.transport = rebase(v->transport, v->value, val.p, &ok);
	k->via.sent_by = rebase(v->sent_by, v->value, val.p, &ok);
	k->via.host = rebase(v->host, v->value, val.p, &ok);
	k->via.params = rebase(v->params, v->value, val.p, &ok);
	k->via.branch = rebase(v->branch, v->value, val.p, &ok);
	k->via.received = rebase(v->received, v->value, val.p, &ok);
	k->via.maddr = rebase(v->maddr, v->value, val.p, &ok);
	k->via.ttl = rebase(v->ttl, v->value, val.p, &ok);
	k->via.rport = rebase(v->rport, v->value, val.p, &ok);
	if (!ok) { /* a parser whose slices leave the value: keep it all */
		cv_mem_unref(k);
		return;
	}
	k->call_id = copy_pl(&p, r->call_id);
	k->from_tag = copy_pl(&p, r->from.tag);
	k->method_pl = copy_pl(&p, r->method_pl);
	k->cseq = r->cseq.num;
	t->key = k;
	t->req = cv_mem_unref(t->req);
	t->layer->st.slimmed++;
}

/* Records a response the transaction sent and moves the state machine.
 * stateless: a final response after which the transaction ends at once
 * (cv_txn_resp_params.stateless, RFC 3261 §8.2.7). */
static int send_resp(struct cv_txn *t, uint16_t status, const char *buf,
		     size_t len, struct cv_pl to_tag, bool tu, bool stateless)
{
	struct cv_txn_layer *l = t->layer;
	bool invite = t->flags & TF_INVITE;
	if (stateless && status >= 200) {
		int err = txn_send(t, buf, len, true, false);
		if (!err) {
			t->flags |= TF_FINAL | (tu ? TF_TU_ANSWERED : 0);
			t->status = status;
			l->st.completed[t->method]++;
			l->st.stateless_finals++;
		}
		txn_terminate(t, false);
		return err;
	}
	bool keep = !(invite && status >= 200 && status < 300);
	struct txn_bytes *b = NULL;
	if (keep) {
		b = txn_bytes_new(buf, len);
		if (!b)
			return -ENOMEM;
	}
	int err = txn_send(t, buf, len, true, false);
	if (err) {
		cv_mem_unref(b);
		txn_terminate(t, false);
		return err;
	}
	if (tu) {
		t->flags |= TF_TU_ANSWERED;
		t->due_100 = 0;
	}
	t->status = status;
	uint64_t now = cv_clock_us();
	if (status < 200) {
		if (!invite)
			t->state = CV_TXN_PROCEEDING;
		cv_mem_unref(t->out);
		t->out = b;
		txn_arm(t);
		return 0;
	}
	t->flags |= TF_FINAL;
	t->due_100 = 0;
	l->st.completed[t->method]++;
	t->resp_tag_hash = cv_hash(to_tag.p, to_tag.l);
	cv_mem_unref(t->out);
	t->out = b;
	bool rel = t->flags & TF_RELIABLE;
	if (invite && status < 300) {
		/* RFC 6026 §8.5, §8.7: Accepted; Timer L = 64*T1 on any
		 * transport; 2xx retransmissions belong to the TU. */
		t->state = CV_TXN_ACCEPTED;
		t->due_end = now + txn_ms(64 * l->t1);
	} else if (invite) {
		/* §17.2.1: Completed; Timer G (unreliable only), Timer H. */
		t->state = CV_TXN_COMPLETED;
		if (!rel) {
			t->retx_ivl_ms = l->t1;
			t->due_retx = now + txn_ms(l->t1);
		}
		t->due_end = now + txn_ms(64 * l->t1);
	} else {
		/* §17.2.2: Completed; Timer J = 64*T1 unreliable, 0 reliable
		 * (fires on the next tick: no callback inside this call). */
		t->state = CV_TXN_COMPLETED;
		t->due_end = txn_due(now, rel ? 0 : txn_ms(64 * l->t1));
	}
	txn_arm(t);
	txn_slim(t);
	return 0;
}

static bool can_respond(const struct cv_txn *t, uint16_t status)
{
	switch (t->state) {
	case CV_TXN_TRYING:
	case CV_TXN_PROCEEDING:
		return true;
	case CV_TXN_ACCEPTED: /* RFC 6026 §8.6: 2xx again from the TU */
		return status >= 200 && status < 300;
	default:
		return false;
	}
}

static int respond(struct cv_txn *t, uint16_t status,
		   const struct cv_txn_resp_params *p, bool tu)
{
	struct cv_txn_layer *l = t->layer;
	if (!l)
		return CV_ECLOSED;
	if ((t->flags & TF_CLIENT) || status < 100 || status > 699)
		return -EINVAL;
	if (!can_respond(t, status) || !t->req)
		return CV_ECLOSED;
	if (p && p->stateless &&
	    (status < 200 || ((t->flags & TF_INVITE) && status < 300)))
		return -EINVAL;
	const struct cv_sip_msg *req = t->req;
	struct cv_sip_resp_params rp = {0};
	char tagbuf[24];
	struct cv_pl tag = req->to.tag;
	if (p) {
		rp.headers = p->headers;
		rp.content_type = p->content_type;
		rp.body = p->body;
	}
	/* §8.2.6.2: a To tag on every response but 100 when the request had
	 * none; one tag for all responses of the transaction. */
	if (status > 100 && !req->to.tag.l) {
		if (p && p->to_tag.l) {
			tag = p->to_tag;
		} else {
			int n = cv_txn_local_tag(t, tagbuf, sizeof(tagbuf));
			tag = (struct cv_pl){tagbuf, (size_t)n};
		}
		rp.to_tag = tag;
	}
	struct cv_buf b;
	cv_buf_init(&b, RESP_MAX);
	int err = resp_print(&b, req, status, p ? p->reason : NULL, &rp);
	if (!err) {
		if (t->state == CV_TXN_ACCEPTED) {
			err = txn_send(t, b.data, b.len, true, true);
			if (err)
				txn_terminate(t, false);
		} else {
			err = send_resp(t, status, b.data, b.len, tag, tu,
					p && p->stateless);
		}
	}
	cv_buf_free(&b);
	return err;
}

int cv_txn_respond(struct cv_txn *t, uint16_t status,
		   const struct cv_txn_resp_params *p)
{
	if (!t)
		return -EINVAL;
	return respond(t, status, p, true);
}

int cv_txn_respond_raw(struct cv_txn *t, uint16_t status, const void *buf,
		       size_t len)
{
	if (!t || !buf || !len || status < 100 || status > 699)
		return -EINVAL;
	if (!t->layer)
		return CV_ECLOSED;
	if (t->flags & TF_CLIENT)
		return -EINVAL;
	if (!can_respond(t, status))
		return CV_ECLOSED;
	if (t->state == CV_TXN_ACCEPTED) {
		int err = txn_send(t, buf, len, true, true);
		if (err)
			txn_terminate(t, false);
		return err;
	}
	/* The To tag of prebuilt bytes (for RFC 2543 ACK matching). */
	struct cv_pl tag = CV_PL_INIT;
	struct cv_sip_msg *m = NULL;
	if (status >= 200 && (t->flags & TF_RFC2543) &&
	    cv_sip_msg_parse(&m, buf, len, NULL, NULL) == 0)
		tag = m->to.tag;
	int err = send_resp(t, status, buf, len, tag, true, false);
	cv_mem_unref(m);
	return err;
}

int txn_server_reply_stateless(struct cv_txn_layer *l,
			       const struct cv_sip_msg *req,
			       const struct cv_txn_addr *src, uint16_t status,
			       const char *reason, struct cv_pl headers)
{
	struct cv_sip_resp_params rp = {.headers = headers};
	char tag[CV_SIP_TAG_SIZE];
	if (status > 100 && !req->to.tag.l) {
		cv_sip_tag_new(tag);
		rp.to_tag = cv_pl_str(tag);
	}
	struct cv_buf b;
	cv_buf_init(&b, RESP_MAX);
	int err = resp_print(&b, req, status, reason, &rp);
	if (!err) {
		struct cv_txn_out o = {
			.req = req,
			.dst = src,
			.buf = b.data,
			.len = b.len,
			.response = true,
		};
		bool rel = src->reliable;
		err = l->p.send(&o, &rel, l->p.arg);
		if (err)
			l->st.transport_errors++;
	}
	cv_buf_free(&b);
	return err;
}

static void send_100(struct cv_txn *t)
{
	t->layer->st.auto_100++;
	(void)respond(t, 100, NULL, false);
}

/* ---- incoming requests
 * ---------------------------------------------------------------- */
static void retransmission(struct cv_txn *t, const struct cv_sip_msg *req)
{
	struct cv_txn_layer *l = t->layer;
	/* Same branch but another request: an RFC violation, not a
	 * retransmission; answering it would confuse both. */
	if (txn_cseq(t) != req->cseq.num ||
	    !cv_pl_eq(txn_call_id(t), req->call_id)) {
		l->st.branch_reused++;
		CV_LOG_RL(CV_LOG_INFO, TXN_MOD,
			  "branch reused by another request: " CV_PL_FMT,
			  CV_PL_ARG(req->via.branch));
		return;
	}
	l->st.rx_retransmissions++;
	switch (t->state) {
	case CV_TXN_TRYING:    /* §17.2.2: absorbed */
	case CV_TXN_CONFIRMED: /* §17.2.1: absorbed */
	case CV_TXN_ACCEPTED:  /* RFC 6026 §8.7: absorbed */
		break;
	case CV_TXN_PROCEEDING: /* the last provisional, if any */
	case CV_TXN_COMPLETED:	/* the final response */
		resend(t);
		break;
	default:
		break;
	}
}

static void recv_ack(struct cv_txn_layer *l, struct cv_sip_msg *req,
		     const struct cv_txn_addr *src, bool cookie,
		     const struct rx_keys *k)
{
	struct cv_txn *t = match(l, req, cookie, k, MATCH_ACK);
	if (!t) {
		/* The ACK for a 2xx has its own branch: the dialog's business.
		 */
		l->st.stray_acks++;
		if (l->p.h->ack)
			l->p.h->ack(NULL, req, src, l->p.arg);
		return;
	}
	switch (t->state) {
	case CV_TXN_COMPLETED:
		/* §17.2.1: Confirmed, Timer I = T4 unreliable, 0 reliable. */
		l->st.acks_absorbed++;
		t->state = CV_TXN_CONFIRMED;
		t->due_retx = 0;
		t->out = cv_mem_unref(t->out);
		t->due_end =
			txn_due(cv_clock_us(),
				(t->flags & TF_RELIABLE) ? 0 : txn_ms(l->t4));
		txn_arm(t);
		break;
	case CV_TXN_CONFIRMED:
		l->st.acks_absorbed++;
		break;
	case CV_TXN_ACCEPTED:
		/* RFC 6026 §8.7: passed to the TU. */
		l->st.stray_acks++;
		cv_mem_ref(t);
		if (txn_tu(t) && l->p.h->ack)
			l->p.h->ack(t, req, src, l->p.arg);
		cv_mem_unref(t);
		break;
	default:
		l->st.acks_dropped++;
		break;
	}
}

static struct cv_txn *new_server(struct cv_txn_layer *l, struct cv_sip_msg *req,
				 const struct cv_txn_addr *src, bool cookie,
				 const struct rx_keys *k, uint32_t extra)
{
	if (l->live >= l->p.max_txns) {
		l->st.limit_rejected++;
		CV_LOG_RL(CV_LOG_WARN, TXN_MOD, "transaction limit %u reached",
			  l->p.max_txns);
		(void)txn_server_reply_stateless(l, req, src, 503, NULL,
						 CV_PL("Retry-After: 5\r\n"));
		return NULL;
	}
	uint32_t flags = extra;
	if (req->method == CV_SIP_INVITE)
		flags |= TF_INVITE;
	if (!cookie)
		flags |= TF_RFC2543;
	struct cv_txn *t = txn_alloc(l, req, src, flags);
	if (!t)
		return NULL;
	t->state = (flags & TF_INVITE) ? CV_TXN_PROCEEDING : CV_TXN_TRYING;
	t->shash = k->sec;
	if (cookie) {
		t->hash = k->branch;
		txn_htab_insert_prim(l, t);
	}
	txn_htab_insert_sec(l, t);
	return t;
}

static void recv_cancel(struct cv_txn_layer *l, struct cv_sip_msg *req,
			const struct cv_txn_addr *src, bool cookie,
			const struct rx_keys *k)
{
	struct cv_txn *c = match(l, req, cookie, k, MATCH_SAME);
	if (c) {
		retransmission(c, req);
		return;
	}
	struct cv_txn *inv = match(l, req, cookie, k, MATCH_CANCEL);
	/* The CANCEL's own transaction belongs to the layer (§9.2). */
	c = new_server(l, req, src, cookie, k, TF_INTERNAL);
	if (!c)
		return;
	if (!inv) {
		l->st.cancels_481++;
		(void)respond(c, 481, NULL, false);
		return;
	}
	l->st.cancels_matched++;
	if (inv->state == CV_TXN_PROCEEDING && !(inv->flags & TF_FINAL)) {
		inv->flags |= TF_CANCELLED;
		(void)respond(c, 200, NULL, false);
		cv_mem_ref(inv);
		if (txn_tu(inv) && l->p.h->cancel)
			l->p.h->cancel(inv, req, l->p.arg);
		if (l->p.auto_487 && inv->layer &&
		    inv->state == CV_TXN_PROCEEDING)
			(void)respond(inv, 487, NULL, true);
		cv_mem_unref(inv);
	} else {
		/* §9.2: a final response was sent; the CANCEL has no effect
		 * but is answered 200 all the same. */
		(void)respond(c, 200, NULL, false);
	}
}

void txn_server_recv(struct cv_txn_layer *l, struct cv_sip_msg *req,
		     const struct cv_txn_addr *src)
{
	if (!req->via.host.l || !req->call_id.l) {
		l->st.bad_via++;
		CV_LOG_RL(CV_LOG_INFO, TXN_MOD,
			  "request without usable top Via dropped");
		return;
	}
	/* §8.1.1.5: the CSeq method matches the request method. */
	if (!method_eq(req->method, req->method_pl, req->cseq.method,
		       req->cseq.method_pl)) {
		l->st.cseq_mismatch++;
		if (req->method != CV_SIP_ACK)
			(void)txn_server_reply_stateless(
				l, req, src, 400, "CSeq Method Mismatch",
				(struct cv_pl)CV_PL_INIT);
		return;
	}
	bool cookie = txn_has_cookie(req->via.branch);
	/* Both index keys once; their buckets fetched together: with 10^5
	 * live transactions each is a cache (and TLB) miss, and the lookup
	 * and the inserts that follow need both. */
	struct rx_keys k = {.branch = cookie ? txn_branch_hash(req->via.branch)
					     : 0,
			    .sec = txn_sec_hash(req)};
	if (cookie)
		__builtin_prefetch(&l->prim.b[k.branch & l->prim.mask]);
	__builtin_prefetch(&l->sec.b[k.sec & l->sec.mask]);
	if (req->method == CV_SIP_ACK) {
		recv_ack(l, req, src, cookie, &k);
		return;
	}
	if (req->method == CV_SIP_CANCEL) {
		recv_cancel(l, req, src, cookie, &k);
		return;
	}
	struct cv_txn *t = match(l, req, cookie, &k, MATCH_SAME);
	if (t) {
		cv_mem_ref(t);
		retransmission(t, req);
		cv_mem_unref(t);
		return;
	}
	t = new_server(l, req, src, cookie, &k, 0);
	if (!t)
		return;
	cv_mem_ref(t); /* ours for this call */
	if (!l->p.h->request) {
		t->flags |= TF_INTERNAL;
		(void)respond(t, 501, NULL, false);
		cv_mem_unref(t);
		return;
	}
	if (t->flags & TF_INVITE) {
		/* §17.2.1: 100 Trying unless the TU answers within 200 ms. */
		if (l->p.trying_ms == 0) {
			send_100(t);
		} else if (l->p.trying_ms > 0) {
			t->due_100 = cv_clock_us() +
				     txn_ms((uint32_t)l->p.trying_ms);
			txn_arm(t);
		}
	}
	if (t->layer) {
		cv_mem_ref(t); /* the TU's, given back with cv_txn_release() */
		l->p.h->request(t, req, l->p.arg);
	}
	cv_mem_unref(t);
}

void txn_server_timer(struct cv_txn *t, uint64_t now)
{
	struct cv_txn_layer *l = t->layer;
	if (t->due_end && t->due_end <= now) {
		t->due_end = 0;
		if ((t->flags & TF_INVITE) && t->state == CV_TXN_COMPLETED) {
			/* Timer H: no ACK (§17.2.1). */
			l->st.timed_out[t->method]++;
			fail(t, 408);
			return;
		}
		/* Timers I, J, L */
		txn_terminate(t, true);
		return;
	}
	if (t->due_100 && t->due_100 <= now) {
		t->due_100 = 0;
		if (t->state == CV_TXN_PROCEEDING &&
		    !(t->flags & TF_TU_ANSWERED))
			send_100(t);
		if (!t->layer)
			return;
	}
	if (t->due_retx && t->due_retx <= now) {
		/* Timer G: min(2*G, T2) */
		t->retx_ivl_ms = CV_MIN(2 * t->retx_ivl_ms, l->t2);
		t->due_retx += txn_ms(t->retx_ivl_ms);
		resend(t);
	}
}
