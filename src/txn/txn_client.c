/* Client transactions: RFC 3261 §17.1.1 (INVITE, Figure 5 with the RFC 6026
 * Accepted state and Timer M), §17.1.2 (non-INVITE, Figure 6), response
 * matching §17.1.3, CANCEL §9.1. */
#include "txn_int.h"

#define REQ_MAX 65535

static bool cseq_method_eq(const struct cv_txn *t,
			   const struct cv_sip_msg *resp)
{
	if (t->method != (uint8_t)resp->cseq.method)
		return false;
	return t->method != CV_SIP_METHOD_OTHER ||
	       cv_pl_eq(txn_method_pl(t), resp->cseq.method_pl);
}

/* §17.1.3: the branch of the top Via and the CSeq method. */
static struct cv_txn *find_client(struct cv_txn_layer *l,
				  const struct cv_sip_msg *resp)
{
	uint64_t h = txn_branch_hash(resp->via.branch);
	for (struct cv_txn *t = l->prim.b[h & l->prim.mask]; t; t = t->hnext) {
		if (t->hash != h || !(t->flags & TF_CLIENT))
			continue;
		if (cv_pl_eq(txn_via(t)->branch, resp->via.branch) &&
		    cseq_method_eq(t, resp))
			return t;
	}
	return NULL;
}

static void deliver(struct cv_txn *t, struct cv_sip_msg *msg, uint16_t status,
		    bool local, bool retx)
{
	struct cv_txn_layer *l = t->layer;
	if (!txn_tu(t) || !l->p.h->response)
		return;
	struct cv_txn_resp r = {
		.msg = msg,
		.status = status,
		.local = local,
		.retransmission = retx,
	};
	l->p.h->response(t, &r, l->p.arg);
}

/* Delivers a local final response (408/503) and terminates (§17.1.1.2,
 * §17.1.2.2, §17.1.4). */
static void fail(struct cv_txn *t, uint16_t status)
{
	if (!t->layer)
		return;
	deliver(t, NULL, status, true, false);
	txn_terminate(t, true);
}

void txn_client_fail(struct cv_txn *t, uint16_t status)
{
	/* after a final response the TU has its answer: just end */
	if (t->flags & TF_FINAL)
		txn_terminate(t, true);
	else
		fail(t, status);
}

/* The header lines a CANCEL or ACK copies from the request (§9.1,
 * §17.1.1.3): Request-URI, top Via, Route, From, Call-ID, CSeq number. */
static int print_derived(struct cv_buf *b, const struct cv_sip_msg *req,
			 const char *method, struct cv_pl to,
			 struct cv_pl extra)
{
	const struct cv_sip_hdr *from = cv_sip_msg_hdr(req, CV_SIP_HDR_FROM);
	if (!from)
		return CV_EPARSE;
	cv_buf_printf(b, "%s " CV_PL_FMT " SIP/2.0\r\nVia: " CV_PL_FMT "\r\n",
		      method, CV_PL_ARG(req->ruri), CV_PL_ARG(req->via.value));
	for (const struct cv_sip_hdr *h = cv_sip_msg_hdr(req, CV_SIP_HDR_ROUTE);
	     h; h = cv_sip_msg_hdr_next(req, h))
		cv_buf_printf(b, "Route: " CV_PL_FMT "\r\n",
			      CV_PL_ARG(h->value));
	cv_buf_printf(b,
		      "From: " CV_PL_FMT "\r\nTo: " CV_PL_FMT
		      "\r\nCall-ID: " CV_PL_FMT "\r\nCSeq: %u %s\r\n"
		      "Max-Forwards: 70\r\n",
		      CV_PL_ARG(from->value), CV_PL_ARG(to),
		      CV_PL_ARG(req->call_id), req->cseq.num, method);
	cv_buf_append_pl(b, extra);
	cv_buf_append_str(b, "Content-Length: 0\r\n\r\n");
	return b->err;
}

static struct cv_pl to_value(const struct cv_sip_msg *m)
{
	const struct cv_sip_hdr *h = cv_sip_msg_hdr(m, CV_SIP_HDR_TO);
	return h ? h->value : (struct cv_pl)CV_PL_INIT;
}

int cv_txn_client_create(struct cv_txn **tp, struct cv_txn_layer *l,
			 const struct cv_txn_client_params *p)
{
	if (!tp || !l || !p || !p->dst || (!p->req && (!p->buf || !p->len)))
		return -EINVAL;
	struct cv_sip_msg *m = NULL;
	if (p->req) {
		m = cv_mem_ref(p->req);
	} else {
		int err = cv_sip_msg_parse(&m, p->buf, p->len, NULL, NULL);
		if (err)
			return err;
	}
	int err = 0;
	if (!m->req || m->method == CV_SIP_ACK || m->method == CV_SIP_CANCEL ||
	    !txn_has_cookie(m->via.branch)) {
		err = -EINVAL;
		goto out;
	}
	if (l->live >= l->p.max_txns) {
		l->st.limit_rejected++;
		err = CV_EFULL;
		goto out;
	}
	uint32_t flags = TF_CLIENT;
	if (m->method == CV_SIP_INVITE)
		flags |= TF_INVITE;
	struct cv_txn *t = txn_alloc(l, m, p->dst, flags);
	if (!t) {
		err = -ENOMEM;
		goto out;
	}
	t->uarg = p->uarg;
	t->state = (flags & TF_INVITE) ? CV_TXN_CALLING : CV_TXN_TRYING;
	t->hash = txn_branch_hash(m->via.branch);
	txn_htab_insert_prim(l, t);
	err = txn_send(t, m->buf, m->len, false, false);
	if (err) {
		txn_terminate(t, false);
		goto out;
	}
	/* §17.1.1.2 Timers A and B; §17.1.2.2 Timers E and F. A and E only
	 * on unreliable transports. */
	uint64_t now = cv_clock_us();
	if (!(t->flags & TF_RELIABLE)) {
		t->retx_ivl_ms = l->t1;
		t->due_retx = now + txn_ms(l->t1);
	}
	t->due_end = now + txn_ms(64 * l->t1);
	txn_arm(t);
	*tp = cv_mem_ref(t);
out:
	cv_mem_unref(m);
	return err;
}

/* Starts the CANCEL's own client transaction (§9.1) from prebuilt bytes. */
static int send_cancel(struct cv_txn *t, const struct txn_bytes *bytes)
{
	struct cv_txn_layer *l = t->layer;
	struct cv_sip_msg *m = NULL;
	int err = cv_sip_msg_parse(&m, bytes->data, bytes->len, NULL, NULL);
	if (err)
		return err;
	struct cv_txn *c = txn_alloc(l, m, &t->addr, TF_CLIENT | TF_INTERNAL);
	cv_mem_unref(m);
	if (!c)
		return -ENOMEM;
	c->state = CV_TXN_TRYING;
	c->hash = txn_branch_hash(c->req->via.branch);
	txn_htab_insert_prim(l, c);
	err = txn_send(c, c->req->buf, c->req->len, false, false);
	if (err) {
		txn_terminate(c, false);
		return err;
	}
	uint64_t now = cv_clock_us();
	if (!(c->flags & TF_RELIABLE)) {
		c->retx_ivl_ms = l->t1;
		c->due_retx = now + txn_ms(l->t1);
	}
	c->due_end = now + txn_ms(64 * l->t1);
	txn_arm(c);
	cv_mem_unref(t->cancel);
	t->cancel = cv_mem_ref(c);
	t->flags |= TF_CANCELLED;
	t->flags &= ~(uint32_t)TF_CANCEL_PENDING;
	/* §9.1: no final response within 64*T1 of the CANCEL: give up. */
	t->due_end = now + txn_ms(64 * l->t1);
	txn_arm(t);
	return 0;
}

int cv_txn_cancel(struct cv_txn *t, const struct cv_txn_cancel_params *p)
{
	if (!t || !(t->flags & TF_CLIENT) || !(t->flags & TF_INVITE))
		return -EINVAL;
	if (!t->layer)
		return CV_ECLOSED;
	if (t->flags & (TF_CANCEL_PENDING | TF_CANCELLED))
		return 0;
	if (t->state != CV_TXN_CALLING && t->state != CV_TXN_PROCEEDING)
		return CV_ECLOSED;
	struct cv_buf b;
	cv_buf_init(&b, REQ_MAX);
	int err = print_derived(&b, t->req, "CANCEL", to_value(t->req),
				p ? p->headers : (struct cv_pl)CV_PL_INIT);
	struct txn_bytes *bytes = err ? NULL : txn_bytes_new(b.data, b.len);
	cv_buf_free(&b);
	if (err)
		return err;
	if (!bytes)
		return -ENOMEM;
	if (t->state == CV_TXN_CALLING) {
		/* §9.1: not before a provisional response. */
		cv_mem_unref(t->out);
		t->out = bytes;
		t->flags |= TF_CANCEL_PENDING;
		return 0;
	}
	err = send_cancel(t, bytes);
	cv_mem_unref(bytes);
	return err;
}

static void invite_final_non2xx(struct cv_txn *t, struct cv_sip_msg *resp)
{
	struct cv_txn_layer *l = t->layer;
	uint64_t now = cv_clock_us();
	t->state = CV_TXN_COMPLETED;
	t->due_retx = 0;
	t->flags &= ~(uint32_t)TF_CANCEL_PENDING;
	t->flags |= TF_FINAL;
	l->st.completed[t->method]++;
	/* §17.1.1.3: the ACK, kept for retransmitted finals. */
	struct cv_buf b;
	cv_buf_init(&b, REQ_MAX);
	int err = print_derived(&b, t->req, "ACK", to_value(resp),
				(struct cv_pl)CV_PL_INIT);
	cv_mem_unref(t->out);
	t->out = err ? NULL : txn_bytes_new(b.data, b.len);
	cv_buf_free(&b);
	if (t->out)
		err = txn_send(t, t->out->data, t->out->len, false, false);
	/* Timer D: >= 32 s unreliable, 0 reliable (next tick). */
	t->due_end = txn_due(now, (t->flags & TF_RELIABLE) ? 0 : txn_ms(l->td));
	txn_arm(t);
	deliver(t, resp, (uint16_t)resp->status, false, false);
	if (err && t->layer)
		txn_terminate(t, true); /* §17.1.4 */
}

static void invite_resp(struct cv_txn *t, struct cv_sip_msg *resp)
{
	struct cv_txn_layer *l = t->layer;
	uint16_t st = (uint16_t)resp->status;
	switch (t->state) {
	case CV_TXN_CALLING:
	case CV_TXN_PROCEEDING:
		t->status = st;
		if (st < 200) {
			if (t->state == CV_TXN_CALLING) {
				t->state = CV_TXN_PROCEEDING;
				t->due_retx = 0;
				t->due_end = 0; /* Timer B only in Calling */
			}
			txn_arm(t);
			if (t->flags & TF_CANCEL_PENDING) {
				struct txn_bytes *bytes = t->out;
				t->out = NULL;
				if (send_cancel(t, bytes))
					t->flags &=
						~(uint32_t)TF_CANCEL_PENDING;
				cv_mem_unref(bytes);
			}
			deliver(t, resp, st, false, false);
		} else if (st < 300) {
			/* RFC 6026 §8.4: Accepted, Timer M = 64*T1. */
			t->state = CV_TXN_ACCEPTED;
			t->due_retx = 0;
			t->flags &= ~(uint32_t)TF_CANCEL_PENDING;
			t->flags |= TF_FINAL;
			t->out = cv_mem_unref(t->out);
			t->due_end = cv_clock_us() + txn_ms(64 * l->t1);
			l->st.completed[t->method]++;
			txn_arm(t);
			deliver(t, resp, st, false, false);
		} else {
			invite_final_non2xx(t, resp);
		}
		break;
	case CV_TXN_COMPLETED:
		/* §17.1.1.2: a retransmitted final gets the ACK again. */
		l->st.rx_resp_absorbed++;
		if (st >= 300 && t->out &&
		    txn_send(t, t->out->data, t->out->len, false, true))
			fail(t, 503);
		break;
	case CV_TXN_ACCEPTED:
		/* RFC 6026 §8.4: 2xx go up (the UAC core ACKs each). */
		if (st >= 200 && st < 300)
			deliver(t, resp, st, false, true);
		else
			l->st.rx_resp_absorbed++;
		break;
	default:
		break;
	}
}

static void non_invite_resp(struct cv_txn *t, struct cv_sip_msg *resp)
{
	struct cv_txn_layer *l = t->layer;
	uint16_t st = (uint16_t)resp->status;
	if (t->state != CV_TXN_TRYING && t->state != CV_TXN_PROCEEDING) {
		l->st.rx_resp_absorbed++;
		return;
	}
	t->status = st;
	if (st < 200) {
		t->state = CV_TXN_PROCEEDING;
	} else {
		/* §17.1.2.2: Completed, Timer K = T4 unreliable, 0 reliable. */
		uint64_t now = cv_clock_us();
		t->state = CV_TXN_COMPLETED;
		t->flags |= TF_FINAL;
		t->due_retx = 0;
		t->due_end = txn_due(
			now, (t->flags & TF_RELIABLE) ? 0 : txn_ms(l->t4));
		l->st.completed[t->method]++;
		txn_arm(t);
	}
	deliver(t, resp, st, false, false);
}

void txn_client_recv(struct cv_txn_layer *l, struct cv_sip_msg *resp)
{
	struct cv_txn *t = NULL;
	if (txn_has_cookie(resp->via.branch))
		t = find_client(l, resp);
	if (!t || resp->status < 100 || resp->status > 699) {
		/* RFC 6026 §8.9: no transaction, no core: discard. */
		l->st.stray_responses++;
		CV_LOG_RL(CV_LOG_DEBUG, TXN_MOD, "stray response %d dropped",
			  resp->status);
		return;
	}
	cv_mem_ref(t);
	if (t->flags & TF_INVITE)
		invite_resp(t, resp);
	else
		non_invite_resp(t, resp);
	txn_slim(t); /* a final for a transaction the TU let go */
	cv_mem_unref(t);
}

void txn_client_timer(struct cv_txn *t, uint64_t now)
{
	struct cv_txn_layer *l = t->layer;
	bool invite = t->flags & TF_INVITE;
	if (t->due_end && t->due_end <= now) {
		t->due_end = 0;
		bool waiting = invite ? (t->state == CV_TXN_CALLING ||
					 t->state == CV_TXN_PROCEEDING)
				      : (t->state == CV_TXN_TRYING ||
					 t->state == CV_TXN_PROCEEDING);
		if (waiting) {
			/* Timer B / F, or §9.1's 64*T1 after a CANCEL. */
			l->st.timed_out[t->method]++;
			fail(t, 408);
		} else {
			txn_terminate(t, true); /* Timers D, K, M */
		}
		return;
	}
	if (t->due_retx && t->due_retx <= now) {
		if (invite)
			t->retx_ivl_ms *= 2; /* Timer A: 2*A, no cap */
		else if (t->state == CV_TXN_PROCEEDING)
			t->retx_ivl_ms = l->t2; /* Timer E in Proceeding: T2 */
		else
			t->retx_ivl_ms = CV_MIN(2 * t->retx_ivl_ms, l->t2);
		t->due_retx += txn_ms(t->retx_ivl_ms);
		if (txn_send(t, t->req->buf, t->req->len, false, true))
			fail(t, 503);
	}
}
