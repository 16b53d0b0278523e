/* The UA core of one worker: transport <-> parser <-> transactions <->
 * dialogs <-> application. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dialog_int.h"

#define MOD "ua"

enum cv_sip_transport ua_sip_tp(enum cv_tp_kind k)
{
	switch (k) {
	case CV_TP_UDP:
		return CV_SIP_TP_UDP;
	case CV_TP_TCP:
		return CV_SIP_TP_TCP;
	case CV_TP_TLS:
		return CV_SIP_TP_TLS;
	case CV_TP_WS:
		return CV_SIP_TP_WS;
	case CV_TP_WSS:
		return CV_SIP_TP_WSS;
	default:
		return CV_SIP_TP_OTHER;
	}
}

enum cv_tp_kind cv_ua_tp_kind(enum cv_sip_transport t)
{
	switch (t) {
	case CV_SIP_TP_TCP:
		return CV_TP_TCP;
	case CV_SIP_TP_TLS:
		return CV_TP_TLS;
	case CV_SIP_TP_WS:
		return CV_TP_WS;
	case CV_SIP_TP_WSS:
		return CV_TP_WSS;
	default:
		return CV_TP_UDP;
	}
}

void cv_ua_sockaddr_to_tp(struct cv_tp_addr *out,
			  const union cv_txn_sockaddr *in)
{
	memset(out, 0, sizeof(*out));
	if (in->sa.sa_family == AF_INET)
		memcpy(&out->ss, &in->in, sizeof(in->in));
	else if (in->sa.sa_family == AF_INET6)
		memcpy(&out->ss, &in->in6, sizeof(in->in6));
}

void cv_ua_sockaddr_from_tp(union cv_txn_sockaddr *out,
			    const struct cv_tp_addr *in)
{
	memset(out, 0, sizeof(*out));
	if (in->ss.ss_family == AF_INET)
		memcpy(&out->in, &in->ss, sizeof(out->in));
	else if (in->ss.ss_family == AF_INET6)
		memcpy(&out->in6, &in->ss, sizeof(out->in6));
}

void cv_ua_addr_from_meta(struct cv_txn_addr *a, const struct cv_tp_meta *m)
{
	memset(a, 0, sizeof(*a));
	cv_ua_sockaddr_from_tp(&a->remote, &m->src);
	cv_ua_sockaddr_from_tp(&a->local, &m->local);
	a->conn = m->conn;
	a->kind = (uint8_t)m->kind;
	a->reliable = cv_tp_kind_is_stream(m->kind);
}

void cv_ua_addr_copy(struct cv_txn_addr *dst, const struct cv_txn_addr *src)
{
	*dst = *src;
	if (dst->conn)
		cv_tp_conn_ref(dst->conn);
}

void cv_ua_addr_clear(struct cv_txn_addr *a)
{
	if (a->conn)
		cv_tp_conn_unref(a->conn);
	memset(a, 0, sizeof(*a));
}

int ua_send_response(struct cv_ua *ua, const struct cv_sip_msg *req,
		     const struct cv_txn_addr *src, const char *buf, size_t len)
{
	struct cv_tp_meta meta = {.kind = (enum cv_tp_kind)src->kind,
				  .conn = src->conn};
	cv_ua_sockaddr_to_tp(&meta.src, &src->remote);
	cv_ua_sockaddr_to_tp(&meta.local, &src->local);
	struct cv_tp_topvia tv = {0};
	if (req) {
		tv.kind = cv_ua_tp_kind(req->via.tp);
		tv.host = req->via.host;
		tv.port = req->via.port;
		tv.received = req->via.received;
		tv.maddr = req->via.maddr;
		tv.rport = req->via.rport_present;
		uint32_t rp = 0;
		if (req->via.rport.l && cv_pl_u32(req->via.rport, &rp) == 0 &&
		    rp <= 65535)
			tv.rport_value = (uint16_t)rp;
	} else {
		tv.kind = meta.kind;
		tv.rport = true;
	}
	struct cv_tp_resp_route r;
	int err = cv_tp_resp_route(&meta, &tv, &r);
	if (err || r.how == CV_TP_RESP_RESOLVE) {
		/* Names in sent-by are not resolved here: answer the source
		 * (what every NAT-aware server does anyway). */
		memset(&r, 0, sizeof(r));
		r.how = meta.conn ? CV_TP_RESP_CONN : CV_TP_RESP_ADDR;
		r.kind = meta.kind;
		r.conn = meta.conn;
		r.addr = meta.src;
	}
	return cv_tp_send_resp(ua->tp, ua->w, &r, buf, len);
}

int ua_send_request(struct cv_ua *ua, const struct cv_txn_addr *dst,
		    const char *buf, size_t len)
{
	struct cv_tp_send_params sp = {.conn = dst->conn,
				       .kind = (enum cv_tp_kind)dst->kind};
	cv_ua_sockaddr_to_tp(&sp.dst, &dst->remote);
	cv_ua_sockaddr_to_tp(&sp.local, &dst->local);
	return cv_tp_send(ua->tp, ua->w, &sp, buf, len);
}

/* A request of a client transaction that went to a connection still
 * being opened: a late failure (refused, TLS handshake) fails the
 * transaction now (local 503, §17.1.4) instead of at Timer B/F. */
static void request_sent(int err, void *arg)
{
	struct cv_txn *t = arg;
	if (err)
		cv_txn_transport_error(t, err);
	cv_mem_unref(t);
}

static int tx_send(const struct cv_txn_out *out, bool *reliable, void *arg)
{
	struct cv_ua *ua = arg;
	const struct cv_txn_addr *d = out->dst;
	*reliable = cv_tp_kind_is_stream((enum cv_tp_kind)d->kind);
	if (out->response)
		return ua_send_response(ua, out->req, d, out->buf, out->len);
	if (!out->txn || d->kind == CV_TP_UDP)
		return ua_send_request(ua, d, out->buf, out->len);
	struct cv_tp_send_params sp = {.conn = d->conn,
				       .kind = (enum cv_tp_kind)d->kind,
				       .done = request_sent,
				       .arg = cv_mem_ref(out->txn)};
	cv_ua_sockaddr_to_tp(&sp.dst, &d->remote);
	cv_ua_sockaddr_to_tp(&sp.local, &d->local);
	int err = cv_tp_send(ua->tp, ua->w, &sp, out->buf, out->len);
	if (err)
		cv_mem_unref(out->txn); /* done is not called on an immediate
					   error */
	return err;
}

static bool via_slot_eq(const struct ua_via_slot *s, uint8_t kind,
			const union cv_txn_sockaddr *a)
{
	if (s->kind != kind || s->dst.sa.sa_family != a->sa.sa_family)
		return false;
	if (a->sa.sa_family == AF_INET)
		return s->dst.in.sin_addr.s_addr == a->in.sin_addr.s_addr;
	return !memcmp(&s->dst.in6.sin6_addr, &a->in6.sin6_addr,
		       sizeof(a->in6.sin6_addr)) &&
	       s->dst.in6.sin6_scope_id == a->in6.sin6_scope_id;
}

/* cv_tp_via_for() formats the listener's address (inet_ntop and
 * snprintf, ~2,600 instructions; for a wildcard listener it also asks
 * the kernel for the route), and the UA needs it for every request,
 * Contact and in-dialog request it builds: 7 times per call through
 * the B2BUA. Its answer depends only on the transport kind, the
 * destination's family and (wildcard listener) IP address, so the last
 * answers are kept per destination address for a second: a listener
 * added or a route changed is seen within that second. */
int ua_via_for(struct cv_ua *ua, const struct cv_txn_addr *dst,
	       struct cv_tp_via *via)
{
	int fam = dst->remote.sa.sa_family;
	bool cacheable = fam == AF_INET || fam == AF_INET6;
	uint64_t now = cacheable ? cv_clock_us() : 0;
	for (unsigned i = 0; cacheable && i < UA_VIA_SLOTS; i++) {
		const struct ua_via_slot *sl = &ua->via_cache[i];
		if (sl->until_us > now &&
		    via_slot_eq(sl, dst->kind, &dst->remote)) {
			*via = sl->via;
			return 0;
		}
	}
	struct cv_tp_via_params vp = {.kind = (enum cv_tp_kind)dst->kind};
	cv_ua_sockaddr_to_tp(&vp.dst, &dst->remote);
	int err = cv_tp_via_for(ua->tp, &vp, via);
	if (err || !cacheable)
		return err;
	struct ua_via_slot *sl = &ua->via_cache[ua->via_next++ % UA_VIA_SLOTS];
	sl->until_us = now + 1000000;
	sl->dst = dst->remote;
	sl->kind = dst->kind;
	sl->via = *via;
	return 0;
}

size_t ua_sent_by(const struct cv_tp_via *via, char *out, size_t size)
{
	size_t hl = strnlen(via->host, sizeof(via->host));
	if (hl + 12 > size) {
		if (size)
			out[0] = '\0';
		return 0;
	}
	memcpy(out, via->host, hl);
	out[hl++] = ':';
	hl += cv_u64_dec(out + hl, via->port);
	out[hl] = '\0';
	return hl;
}

int cv_ua_contact_uri(struct cv_ua *ua, const struct cv_txn_addr *peer,
		      struct cv_pl user, char *out, size_t size)
{
	struct cv_tp_via via;
	int err = ua_via_for(ua, peer, &via);
	if (err)
		return err;
	const char *tps = "";
	switch (via.kind) {
	case CV_TP_TCP:
		tps = ";transport=tcp";
		break;
	case CV_TP_TLS:
		tps = ";transport=tls";
		break;
	case CV_TP_WS:
		tps = ";transport=ws";
		break;
	case CV_TP_WSS:
		tps = ";transport=wss";
		break;
	default:
		break;
	}
	struct cv_pl tp = cv_pl_str(tps);
	/* "sip:" user "@" host ":" port tp, without printf (built for every
	 * request and dialog-creating response) */
	size_t hl = strnlen(via.host, sizeof(via.host));
	if (4 + user.l + 1 + hl + 1 + 5 + tp.l + 1 > size)
		return CV_ETOOBIG;
	char *o = out;
	memcpy(o, "sip:", 4);
	o += 4;
	if (user.l) {
		memcpy(o, user.p, user.l);
		o += user.l;
		*o++ = '@';
	}
	memcpy(o, via.host, hl);
	o += hl;
	*o++ = ':';
	o += cv_u64_dec(o, via.port);
	if (tp.l)
		memcpy(o, tp.p, tp.l);
	o[tp.l] = '\0';
	return 0;
}

void cv_ua_call_id_for(struct cv_ua *ua, unsigned owner, char *out, size_t size)
{
	struct cv_rt *rt = cv_worker_rt(ua->w);
	char tok[21];
	/* Expected tries: the number of workers. */
	for (;;) {
		cv_random_token(tok, 20);
		/* tok "@cvoip", truncated to size as snprintf would */
		size_t n = 0;
		for (const char *p = tok; *p && n + 1 < size; p++)
			out[n++] = *p;
		for (const char *p = "@cvoip"; *p && n + 1 < size; p++)
			out[n++] = *p;
		if (size)
			out[n] = '\0';
		if (cv_rt_owner(rt, out, n) == owner)
			return;
	}
}

int cv_ua_addr_from_uri(struct cv_ua *ua, struct cv_pl text,
			struct cv_txn_addr *a)
{
	struct cv_sip_uri uri;
	int err = cv_sip_uri_parse(text, &uri);
	if (err)
		return err;
	if (uri.scheme != CV_SIP_SCHEME_SIP && uri.scheme != CV_SIP_SCHEME_SIPS)
		return CV_EUNSUPP;
	enum cv_tp_kind kind =
		uri.scheme == CV_SIP_SCHEME_SIPS ? CV_TP_TLS : CV_TP_UDP;
	struct cv_pl tpv;
	if (cv_sip_uri_param(&uri, "transport", &tpv) == 0) {
		enum cv_tp_kind k;
		if (cv_tp_kind_parse(tpv, &k) == 0)
			kind = (k == CV_TP_TCP &&
				uri.scheme == CV_SIP_SCHEME_SIPS)
				       ? CV_TP_TLS
				       : k;
	}
	struct cv_pl host = uri.host;
	struct cv_pl maddr;
	if (cv_sip_uri_param(&uri, "maddr", &maddr) == 0 && maddr.l)
		host = maddr;
	struct cv_tp_addr ta;
	uint16_t port = uri.port ? uri.port : cv_tp_kind_default_port(kind);
	err = cv_tp_addr_set(&ta, host, port);
	if (err)
		return CV_EUNSUPP;
	memset(a, 0, sizeof(*a));
	cv_ua_sockaddr_from_tp(&a->remote, &ta);
	a->kind = (uint8_t)kind;
	a->reliable = cv_tp_kind_is_stream(kind);
	(void)ua;
	return 0;
}

/* ---- transaction user ------------------------------------------------------
 */

static void reply(struct cv_txn *t, uint16_t status, const char *reason)
{
	struct cv_txn_resp_params rp = {.reason = reason};
	cv_txn_respond(t, status, &rp);
	cv_txn_release(t);
}

static void on_request(struct cv_txn *t, struct cv_sip_msg *req, void *arg)
{
	struct cv_ua *ua = arg;
	struct cv_dlg *d = NULL;
	if (req->to.tag.l) {
		d = dlg_find(ua, req->call_id, req->to.tag, req->from.tag);
		if (!d && ua->h->no_dialog &&
		    ua->h->no_dialog(ua, t, req, ua->arg))
			return;
		if (!d) {
			ua->st.rx_481++;
			reply(t, 481, NULL);
			return;
		}
		/* §12.2.2: lower or equal CSeq is out of order */
		if (d->rcseq_set && req->cseq.num <= d->rcseq) {
			ua->st.rx_500_cseq++;
			reply(t, 500, "CSeq Out of Order");
			return;
		}
		d->rcseq = req->cseq.num;
		d->rcseq_set = true;
	} else if (cv_txn_is_merged(t)) {
		ua->st.rx_482_merged++;
		reply(t, 482, "Loop Detected");
		return;
	}
	if (!ua->h->request) {
		reply(t, 501, NULL);
		return;
	}
	ua->h->request(ua, t, req, d, ua->arg);
}

static void on_ack(struct cv_txn *inv, struct cv_sip_msg *ack,
		   const struct cv_txn_addr *src, void *arg)
{
	struct cv_ua *ua = arg;
	struct cv_dlg *d =
		dlg_find(ua, ack->call_id, ack->to.tag, ack->from.tag);
	if (!d)
		return; /* stray ACK: nothing to do (§17.2.3) */
	bool first = d->waiting_ack;
	dlg_got_ack(d, ack);
	if (first && ua->h->ack)
		ua->h->ack(ua, d, ack, ua->arg);
}

static void on_response(struct cv_txn *t, const struct cv_txn_resp *r,
			void *arg)
{
	struct cv_ua *ua = arg;
	if (r->retransmission && r->msg && r->status >= 200 &&
	    r->status < 300 && dlg_resend_ack(ua, r->msg))
		return;
	if (ua->h->response)
		ua->h->response(ua, t, r, ua->arg);
}

static void on_cancel(struct cv_txn *t, struct cv_sip_msg *cancel, void *arg)
{
	struct cv_ua *ua = arg;
	if (ua->h->cancel)
		ua->h->cancel(ua, t, cancel, ua->arg);
}

static void on_failed(struct cv_txn *t, uint16_t status, void *arg)
{
	struct cv_ua *ua = arg;
	if (ua->h->server_failed)
		ua->h->server_failed(ua, t, status, ua->arg);
}

static const struct cv_txn_handlers txn_handlers = {
	.request = on_request,
	.ack = on_ack,
	.response = on_response,
	.cancel = on_cancel,
	.failed = on_failed,
};

static void conn_ref(void *c)
{
	cv_tp_conn_ref(c);
}

static void conn_unref(void *c)
{
	cv_tp_conn_unref(c);
}

int cv_ua_create(struct cv_ua **uap, const struct cv_ua_params *p)
{
	if (!p || !p->tp || !p->w || !p->h)
		return -EINVAL;
	struct cv_ua *ua = calloc(1, sizeof(*ua));
	if (!ua)
		return -ENOMEM;
	ua->tp = p->tp;
	ua->w = p->w;
	ua->h = p->h;
	ua->arg = p->arg;
	ua->supported = p->supported;
	if (p->limits)
		ua->lim = *p->limits;
	else
		cv_sip_limits_default(&ua->lim);
	ua->t1_ms = p->timers.t1_ms ? p->timers.t1_ms : 500;
	ua->t2_ms = p->timers.t2_ms ? p->timers.t2_ms : 4000;
	int err = -ENOMEM;
	if (p->user_agent && !(ua->user_agent = strdup(p->user_agent)))
		goto fail;
	ua->nbuckets = 4096;
	ua->buckets = calloc(ua->nbuckets, sizeof(*ua->buckets));
	if (!ua->buckets)
		goto fail;
	struct cv_txn_params tp;
	cv_txn_params_init(&tp);
	tp.send = tx_send;
	tp.h = &txn_handlers;
	tp.arg = ua;
	tp.wheel = cv_worker_wheel(p->w);
	tp.timers = p->timers;
	if (p->trying_ms)
		tp.trying_ms = p->trying_ms;
	tp.conn_ref = conn_ref;
	tp.conn_unref = conn_unref;
	err = cv_txn_layer_create(&ua->txl, &tp);
	if (err)
		goto fail;
	*uap = ua;
	return 0;
fail:
	free(ua->buckets);
	free(ua->user_agent);
	free(ua);
	return err;
}

void cv_ua_destroy(struct cv_ua *ua)
{
	if (!ua)
		return;
	dlg_table_clear(ua);
	cv_txn_layer_destroy(ua->txl);
	free(ua->buckets);
	free(ua->user_agent);
	free(ua);
}

void cv_ua_recv(struct cv_ua *ua, const struct cv_tp_rx *rx)
{
	struct cv_sip_msg *m;
	struct cv_sip_verdict v;
	int err = cv_sip_msg_parse(&m, rx->buf, rx->len, &ua->lim, &v);
	if (err) {
		ua->st.rx_parse_errors++;
		CV_LOG_RL(CV_LOG_DEBUG, MOD,
			  "unparsable message from worker %u: %d %s",
			  cv_worker_index(ua->w), v.status,
			  v.reason ? v.reason : "");
		/* answers the verdict, or drops */
		cv_tp_stateless_reply(ua->tp, ua->w, rx, NULL);
		return;
	}
	struct cv_txn_addr src;
	cv_ua_addr_from_meta(&src, &rx->meta);
	if (m->req && m->method != CV_SIP_ACK) {
		struct cv_sip_policy pol = {.supported = ua->supported,
					    .allow_tel = true};
		if (cv_sip_msg_check(m, &pol, &v) != 0) {
			ua->st.rx_parse_errors++;
			if (v.status)
				cv_txn_reply_stateless(
					ua->txl, m, &src, (uint16_t)v.status,
					v.reason, cv_pl_str(v.hdrs));
			cv_mem_unref(m);
			return;
		}
	}
	cv_txn_recv(ua->txl, m, &src);
	cv_mem_unref(m);
}

int cv_ua_request(struct cv_ua *ua, const struct cv_ua_req *r,
		  struct cv_txn **ctp)
{
	if (!r || !r->dst)
		return -EINVAL;
	struct cv_tp_via via;
	int err = ua_via_for(ua, r->dst, &via);
	if (err)
		return err;
	char sent_by[CV_TP_ADDRSTRLEN + 240];
	ua_sent_by(&via, sent_by, sizeof(sent_by));
	char tag[CV_SIP_TAG_SIZE], callid[64], contact[512] = "";
	struct cv_pl from_tag = r->from_tag, call_id = r->call_id;
	if (!from_tag.l) {
		cv_sip_tag_new(tag);
		from_tag = cv_pl_str(tag);
	}
	if (!call_id.l) {
		cv_ua_call_id_for(ua, cv_worker_index(ua->w), callid,
				  sizeof(callid));
		call_id = cv_pl_str(callid);
	}
	struct cv_buf hdrs;
	cv_buf_init(&hdrs, 16384);
	cv_buf_reserve(&hdrs, CV_MIN(256 + r->headers.l, 16384));
	if (!r->no_contact) {
		struct cv_txn_addr cdst = *r->dst;
		err = cv_ua_contact_uri(ua, &cdst, r->contact_user, contact,
					sizeof(contact));
		if (err)
			goto out;
	}
	if (ua->user_agent) {
		cv_buf_append(&hdrs, "User-Agent: ", 12);
		cv_buf_append_str(&hdrs, ua->user_agent);
		cv_buf_append(&hdrs, "\r\n", 2);
	}
	cv_buf_append_pl(&hdrs, r->headers);
	if (hdrs.err) {
		err = hdrs.err;
		goto out;
	}
	char contact_val[sizeof(contact) + 2];
	size_t cl = strlen(contact);
	contact_val[0] = '<';
	memcpy(contact_val + 1, contact, cl);
	contact_val[cl + 1] = '>';
	contact_val[cl + 2] = '\0';
	struct cv_sip_req_params rp = {
		.method = r->method,
		.ruri = r->ruri,
		.via = {.tp = ua_sip_tp(via.kind),
			.sent_by = cv_pl_str(sent_by),
			.rport = true},
		.from_uri = r->from_uri,
		.from_display = r->from_display,
		.from_tag = from_tag,
		.to_uri = r->to_uri,
		.to_display = r->to_display,
		.call_id = call_id,
		.cseq = r->cseq ? r->cseq : 1,
		.max_forwards = r->max_forwards,
		.contact = r->no_contact ? (struct cv_pl)CV_PL_INIT
					 : cv_pl_str(contact_val),
		.route = r->route,
		.nroute = r->nroute,
		.headers = {hdrs.data, hdrs.len},
		.content_type = r->content_type,
		.body = r->body,
	};
	struct cv_buf out;
	cv_buf_init(&out, ua->lim.max_msg);
	/* one allocation for the message: a little more than it needs */
	size_t est = 512 + hdrs.len + r->ruri.l + r->from_uri.l +
		     r->from_display.l + r->to_uri.l + r->to_display.l +
		     call_id.l + strlen(contact_val) + r->content_type.l +
		     r->body.l;
	for (size_t i = 0; i < r->nroute; i++)
		est += r->route[i].l + 9;
	cv_buf_reserve(&out, out.max ? CV_MIN(est, out.max) : est);
	err = cv_sip_req_print(&out, &rp);
	if (!err) {
		struct cv_txn_client_params cp = {.buf = out.data,
						  .len = out.len,
						  .dst = r->dst,
						  .uarg = r->uarg};
		err = cv_txn_client_create(ctp, ua->txl, &cp);
	}
	cv_buf_free(&out);
out:
	cv_buf_free(&hdrs);
	return err;
}

struct cv_txn_layer *cv_ua_txn_layer(struct cv_ua *ua)
{
	return ua->txl;
}

struct cv_worker *cv_ua_worker(struct cv_ua *ua)
{
	return ua->w;
}

struct cv_tp *cv_ua_tp(struct cv_ua *ua)
{
	return ua->tp;
}

const char *cv_ua_user_agent(const struct cv_ua *ua)
{
	return ua->user_agent;
}

size_t cv_ua_dialog_count(const struct cv_ua *ua)
{
	return ua->count;
}

void cv_ua_stats_read(const struct cv_ua *ua, struct cv_ua_stats *out)
{
	*out = ua->st;
}
