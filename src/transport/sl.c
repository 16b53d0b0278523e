/* Stateless responder (RFC 3261 §8.2.6 with §18.2.1/§18.2.2 and RFC 3581
 * received/rport), used by cvoipd until transactions exist. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cvoip/sip.h"
#include "tp_int.h"

static const char default_allow[] =
	"INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, PRACK, UPDATE, INFO, "
	"MESSAGE, SUBSCRIBE, NOTIFY, REFER";

/* Appends a string literal. */
#define SL_PUT(b, lit) cv_buf_append((b), (lit), sizeof(lit) - 1)

/* Decimal text of v in buf (at least 11 bytes); returns buf. */
static const char *u32_dec(uint32_t v, char *buf)
{
	char tmp[11];
	int i = 0;
	do {
		tmp[i++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (int k = 0; k < i; k++)
		buf[k] = tmp[i - 1 - k];
	buf[i] = '\0';
	return buf;
}

/* Finds a bare ";rport" in a via-parm: offset just after "rport", or 0. */
static size_t bare_rport_end(struct cv_pl v)
{
	for (size_t i = 0; i + 6 <= v.l; i++) {
		if (v.p[i] != ';')
			continue;
		size_t j = i + 1;
		while (j < v.l && (v.p[j] == ' ' || v.p[j] == '\t'))
			j++;
		if (j + 5 > v.l || strncasecmp(v.p + j, "rport", 5) != 0)
			continue;
		size_t e = j + 5;
		size_t k = e;
		while (k < v.l && (v.p[k] == ' ' || v.p[k] == '\t'))
			k++;
		if (k == v.l || v.p[k] == ';' || v.p[k] == ',')
			return e;
	}
	return 0;
}

/* RFC 3261 §18.2.1 / RFC 3581 §4: whether the response's top Via gets
 * rport=<source port> (a bare rport was asked) and received=. */
static void via_flags(const struct cv_sip_via *via,
		      const struct cv_tp_meta *meta, bool *add_rport,
		      bool *add_received)
{
	struct cv_tp_addr sentby;
	*add_rport = via->rport_present && via->rport.l == 0;
	*add_received = via->rport_present ||
			cv_tp_addr_set(&sentby, via->host, 0) != 0 ||
			!cv_tp_addr_eq_ip(&sentby, &meta->src);
	if (via->received.l)
		*add_received = false; /* a proxy before us already did */
}

/* Appends the top via-parm with rport filled and received= added. */
static void via_put(struct cv_buf *out, const struct cv_sip_via *via,
		    const struct cv_tp_meta *meta)
{
	bool add_rport, add_received;
	via_flags(via, meta, &add_rport, &add_received);
	size_t rp = add_rport ? bare_rport_end(via->value) : 0;
	if (rp) {
		char num[12];
		cv_buf_append(out, via->value.p, rp);
		SL_PUT(out, "=");
		cv_buf_append_str(out,
				  u32_dec(cv_tp_addr_port(&meta->src), num));
		cv_buf_append(out, via->value.p + rp, via->value.l - rp);
	} else {
		cv_buf_append(out, via->value.p, via->value.l);
	}
	if (add_received) {
		SL_PUT(out, ";received=");
		if (meta->src.ss.ss_family == AF_INET) {
			/* dotted quad by hand: inet_ntop formats with sprintf
			 */
			const struct sockaddr_in *in =
				(const void *)&meta->src.ss;
			const uint8_t *q =
				(const uint8_t *)&in->sin_addr.s_addr;
			char num[12];
			for (int i = 0; i < 4; i++) {
				if (i)
					SL_PUT(out, ".");
				cv_buf_append_str(out, u32_dec(q[i], num));
			}
		} else {
			char src[CV_TP_ADDRSTRLEN];
			cv_tp_addr_host_print(&meta->src, src, sizeof(src));
			cv_buf_append_str(out, src);
		}
	}
}

/* §8.2.6.2: a To tag, stable for retransmissions of the request (derived
 * from Call-ID, From tag and CSeq number); tag holds 19 bytes. */
static void sl_tag(char *tag, struct cv_pl call_id, struct cv_pl from_tag,
		   uint32_t cseq)
{
	static const char hex[] = "0123456789abcdef";
	uint64_t h = cv_hash(call_id.p, call_id.l) ^
		     (cv_hash(from_tag.p, from_tag.l) * 31) ^ cseq;
	tag[0] = 's';
	tag[1] = 'l';
	for (int i = 0; i < 16; i++)
		tag[2 + i] = hex[(h >> (60 - 4 * i)) & 15];
	tag[18] = '\0';
}

/* ---- answering requests the parser rejected (RFC 3261 §8.2.6.2, §21.4.1)
 * The parser returns no message for them, only the status to send (400,
 * 413, 414, 505, 513, with extra header lines). A response needs the
 * request's Via values, From, To, Call-ID and CSeq: this scan finds those
 * header lines leniently in the raw bytes, and the typed parsers must
 * accept the top Via, From, To and CSeq, else the request is dropped
 * (rej_garbage). */
#define SL_MAX_VIA_LINES 64
#define SL_MAX_LINES	 512

struct sl_raw {
	struct cv_pl via[SL_MAX_VIA_LINES];
	unsigned nvia;
	struct cv_pl from, to, call_id, cseq;
};

static bool name_is(struct cv_pl n, const char *full, char compact)
{
	if (compact && n.l == 1 && (n.p[0] | 0x20) == compact)
		return true;
	return n.l == strlen(full) && strncasecmp(n.p, full, n.l) == 0;
}

/* Values keep folded continuations (CRLF + WSP) inside; sl_put_value()
 * turns line breaks into spaces. False when a needed line is missing, the
 * header section has no end, or there are too many lines. */
static bool sl_scan(const char *b, size_t len, struct sl_raw *r)
{
	const char *p = b, *end = b + len;
	memset(r, 0, sizeof(*r));
	p += cv_sip_keepalive_len(b, len);
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	if (!nl)
		return false;
	p = nl + 1; /* past the start line */
	for (unsigned lines = 0; p < end; lines++) {
		if (lines == SL_MAX_LINES)
			return false;
		if (*p == '\n' || (*p == '\r' && p + 1 < end && p[1] == '\n'))
			break; /* the empty line */
		const char *le = p;
		for (;;) { /* the end of the line, with folded continuations */
			le = memchr(le, '\n', (size_t)(end - le));
			if (!le) {
				le = end;
				break;
			}
			if (le + 1 < end && (le[1] == ' ' || le[1] == '\t')) {
				le++;
				continue;
			}
			break;
		}
		const char *colon = memchr(p, ':', (size_t)(le - p));
		if (colon) {
			struct cv_pl n = {p, (size_t)(colon - p)};
			while (n.l &&
			       (n.p[n.l - 1] == ' ' || n.p[n.l - 1] == '\t'))
				n.l--;
			const char *vs = colon + 1, *ve = le;
			while (vs < ve && (*vs == ' ' || *vs == '\t'))
				vs++;
			while (ve > vs && (ve[-1] == ' ' || ve[-1] == '\t' ||
					   ve[-1] == '\r' || ve[-1] == '\n'))
				ve--;
			struct cv_pl v = {vs, (size_t)(ve - vs)};
			if (name_is(n, "via", 'v')) {
				if (r->nvia == SL_MAX_VIA_LINES)
					return false;
				r->via[r->nvia++] = v;
			} else if (!r->from.p && name_is(n, "from", 'f')) {
				r->from = v;
			} else if (!r->to.p && name_is(n, "to", 't')) {
				r->to = v;
			} else if (!r->call_id.p &&
				   name_is(n, "call-id", 'i')) {
				r->call_id = v;
			} else if (!r->cseq.p && name_is(n, "cseq", 0)) {
				r->cseq = v;
			}
		}
		p = le < end ? le + 1 : end;
	}
	if (!r->nvia || !r->from.l || !r->to.l || !r->call_id.l || !r->cseq.l)
		return false;
	/* nothing but printable text and folding is reflected back */
	const struct cv_pl *all[] = {&r->from, &r->to, &r->call_id, &r->cseq};
	for (size_t k = 0; k < CV_ARRAY_SIZE(all) + r->nvia; k++) {
		struct cv_pl v = k < CV_ARRAY_SIZE(all)
					 ? *all[k]
					 : r->via[k - CV_ARRAY_SIZE(all)];
		for (size_t i = 0; i < v.l; i++) {
			unsigned char c = (unsigned char)v.p[i];
			if ((c < 0x20 && c != '\t' && c != '\r' && c != '\n') ||
			    c == 0x7f)
				return false;
		}
	}
	return true;
}

static void sl_put_value(struct cv_buf *out, struct cv_pl v)
{
	size_t i = 0;
	while (i < v.l) {
		size_t j = i;
		while (j < v.l && v.p[j] != '\r' && v.p[j] != '\n')
			j++;
		cv_buf_append(out, v.p + i, j - i);
		if (j < v.l)
			SL_PUT(out, " ");
		i = j + 1;
	}
}

static void sl_put_hdr(struct cv_buf *out, const char *name, struct cv_pl v)
{
	cv_buf_append_str(out, name);
	sl_put_value(out, v);
	SL_PUT(out, "\r\n");
}

/* 0 when answered; CV_EPARSE when the request cannot be answered. */
static int sl_bad_request(struct cv_tp *tp, struct cv_worker *w,
			  struct tp_worker *tw, const struct cv_tp_rx *rx,
			  const struct cv_sip_verdict *v, const char *server)
{
	struct sl_raw r;
	struct cv_sip_via via;
	struct cv_sip_naddr from, to;
	struct cv_sip_cseq cseq;
	struct cv_pl top = CV_PL_INIT;

	if (v->status < 300 || v->status > 699 ||
	    !sl_scan(rx->buf, rx->len, &r))
		return CV_EPARSE;
	/* the top via-parm: the first value of the first Via line */
	struct cv_pl rest = r.via[0];
	if (cv_sip_list_next(&rest, &top) || cv_sip_via_parse(top, &via) ||
	    cv_sip_naddr_parse(r.from, &from) ||
	    cv_sip_naddr_parse(r.to, &to) || cv_sip_cseq_parse(r.cseq, &cseq))
		return CV_EPARSE;
	/* §17: an ACK is never answered (its start line may be the broken
	 * part, so the CSeq method decides too) */
	const char *sl = rx->buf + cv_sip_keepalive_len(rx->buf, rx->len);
	if (cseq.method == CV_SIP_ACK ||
	    (rx->len - (size_t)(sl - rx->buf) >= 4 &&
	     memcmp(sl, "ACK ", 4) == 0))
		return CV_EPARSE;

	struct cv_buf *out = &tw->slbuf[0];
	char num[12], tag[20];
	cv_buf_reset(out);
	cv_buf_append_str(out, "SIP/2.0 ");
	cv_buf_append_str(out, u32_dec((uint32_t)v->status, num));
	SL_PUT(out, " ");
	cv_buf_append_str(out, v->reason && v->reason[0] ? v->reason
							 : "Bad Request");
	SL_PUT(out, "\r\nVia: ");
	/* §8.2.6.2: every Via value, in order; the top one with received/rport
	 */
	cv_buf_append(out, r.via[0].p, (size_t)(top.p - r.via[0].p));
	via_put(out, &via, &rx->meta);
	sl_put_value(out, (struct cv_pl){top.p + top.l,
					 r.via[0].l - (size_t)(top.p + top.l -
							       r.via[0].p)});
	SL_PUT(out, "\r\n");
	for (unsigned i = 1; i < r.nvia; i++)
		sl_put_hdr(out, "Via: ", r.via[i]);
	sl_put_hdr(out, "From: ", r.from);
	cv_buf_append_str(out, "To: ");
	sl_put_value(out, r.to);
	if (!to.tag.l) {
		sl_tag(tag, r.call_id, from.tag, cseq.num);
		SL_PUT(out, ";tag=");
		cv_buf_append_str(out, tag);
	}
	SL_PUT(out, "\r\n");
	sl_put_hdr(out, "Call-ID: ", r.call_id);
	sl_put_hdr(out, "CSeq: ", r.cseq);
	cv_buf_append_str(out, v->hdrs);
	cv_buf_append_str(out, "Server: ");
	cv_buf_append_str(out, server);
	cv_buf_append_str(out, "\r\nContent-Length: 0\r\n\r\n");
	if (out->err)
		return CV_EPARSE;

	struct cv_tp_topvia tv = {
		.host = via.host,
		.port = via.port,
		.received = via.received,
		.maddr = via.maddr,
		.rport = via.rport_present,
	};
	(void)cv_tp_kind_parse(via.transport, &tv.kind);
	struct cv_tp_resp_route route;
	int err = cv_tp_resp_route(&rx->meta, &tv, &route);
	if (err || route.how == CV_TP_RESP_RESOLVE) {
		/* a name in sent-by: answer where the request came from */
		memset(&route, 0, sizeof(route));
		route.how = rx->meta.conn ? CV_TP_RESP_CONN : CV_TP_RESP_ADDR;
		route.kind = rx->meta.kind;
		route.conn = rx->meta.conn;
		route.addr = rx->meta.src;
		route.local = rx->meta.local;
	}
	err = cv_tp_send_resp(tp, w, &route, out->data, out->len);
	if (err)
		return err;
	TP_INC(tw, sl_bad_requests);
	CV_LOG_RL(CV_LOG_INFO, TP_MOD, "unparsable request answered %d %s",
		  v->status, v->reason ? v->reason : "");
	return 0;
}

int cv_tp_stateless_reply(struct cv_tp *tp, struct cv_worker *w,
			  const struct cv_tp_rx *rx,
			  const struct cv_tp_sl_params *p)
{
	static const struct cv_tp_sl_params defp = {0};
	struct cv_sip_msg *msg = NULL;
	struct cv_sip_verdict v;
	int err;

	if (!p)
		p = &defp;
	err = cv_sip_msg_parse(&msg, rx->buf, rx->len, NULL, &v);
	if (err) {
		/* A request with the fields a response needs gets the
		 * parser's verdict (400 ...); anything else is dropped. */
		struct tp_worker *tw = tp_worker_of(tp, w);
		if (tw && v.status &&
		    sl_bad_request(tp, w, tw, rx, &v,
				   p->server ? p->server : "cvoip") == 0)
			return err;
		if (tw)
			TP_INC(tw, rej_garbage);
		CV_LOG_RL(CV_LOG_INFO, TP_MOD,
			  "unparsable message dropped: %d %s", v.status,
			  v.reason ? v.reason : "");
		return err;
	}
	if (!msg->req || msg->method == CV_SIP_ACK) {
		cv_mem_unref(msg);
		return 0;
	}
	struct tp_worker *tw = tp_worker_of(tp, w);
	if (!tw) {
		cv_mem_unref(msg);
		return -EINVAL;
	}
	const char *server = p->server ? p->server : "cvoip";
	int status = msg->method == CV_SIP_OPTIONS ? 200
		     : p->other_status		   ? p->other_status
						   : 501;
	const char *reason = cv_sip_reason(status);
	if (strpbrk(server, "\r\n") ||
	    (p->allow && strpbrk(p->allow, "\r\n")) ||
	    (p->accept && strpbrk(p->accept, "\r\n")) ||
	    (p->supported && strpbrk(p->supported, "\r\n"))) {
		cv_mem_unref(msg);
		return -EINVAL;
	}
	/* The response is copied together from the request's slices (RFC
	 * 3261 §8.2.6.2: Via values in order, From, Call-ID, CSeq as they
	 * came, To with a tag) into a per-worker buffer: no printf, no
	 * allocation, one pass (printf showed up in profiles of this path). */
	struct cv_buf *out = &tw->slbuf[0];
	char num[12], tag[20];
	cv_buf_reset(out);
	SL_PUT(out, "SIP/2.0 ");
	cv_buf_append_str(out, u32_dec((uint32_t)status, num));
	SL_PUT(out, " ");
	cv_buf_append_str(out, reason);
	SL_PUT(out, "\r\n");
	bool top = true;
	for (const struct cv_sip_hdr *h = cv_sip_msg_hdr(msg, CV_SIP_HDR_VIA);
	     h; h = cv_sip_msg_hdr_next(msg, h)) {
		SL_PUT(out, "Via: ");
		const struct cv_pl tv = msg->via.value;
		if (top && tv.p >= h->value.p &&
		    tv.p + tv.l <= h->value.p + h->value.l) {
			/* the top via-parm gets received/rport (§18.2.1, RFC
			 * 3581) */
			cv_buf_append(out, h->value.p,
				      (size_t)(tv.p - h->value.p));
			via_put(out, &msg->via, &rx->meta);
			cv_buf_append(out, tv.p + tv.l,
				      (size_t)(h->value.p + h->value.l -
					       (tv.p + tv.l)));
		} else {
			cv_buf_append(out, h->value.p, h->value.l);
		}
		top = false;
		SL_PUT(out, "\r\n");
	}
	const struct cv_sip_hdr *from = cv_sip_msg_hdr(msg, CV_SIP_HDR_FROM);
	const struct cv_sip_hdr *to = cv_sip_msg_hdr(msg, CV_SIP_HDR_TO);
	const struct cv_sip_hdr *cseq = cv_sip_msg_hdr(msg, CV_SIP_HDR_CSEQ);
	SL_PUT(out, "From: ");
	cv_buf_append(out, from->value.p, from->value.l);
	SL_PUT(out, "\r\nTo: ");
	cv_buf_append(out, to->value.p, to->value.l);
	if (!msg->to.tag.l) {
		/* §8.2.6.2: a To tag; stable for retransmissions of the request
		 */
		sl_tag(tag, msg->call_id, msg->from.tag, msg->cseq.num);
		SL_PUT(out, ";tag=");
		cv_buf_append(out, tag, 18);
	}
	SL_PUT(out, "\r\nCall-ID: ");
	cv_buf_append(out, msg->call_id.p, msg->call_id.l);
	SL_PUT(out, "\r\nCSeq: ");
	cv_buf_append(out, cseq->value.p, cseq->value.l);
	SL_PUT(out, "\r\n");
	if (status == 200) {
		SL_PUT(out, "Allow: ");
		cv_buf_append_str(out, p->allow ? p->allow : default_allow);
		SL_PUT(out, "\r\nAccept: ");
		cv_buf_append_str(out,
				  p->accept ? p->accept : "application/sdp");
		SL_PUT(out, "\r\n");
		if (p->supported && p->supported[0]) {
			SL_PUT(out, "Supported: ");
			cv_buf_append_str(out, p->supported);
			SL_PUT(out, "\r\n");
		}
	} else if (status == 503 && p->retry_after) {
		SL_PUT(out, "Retry-After: ");
		cv_buf_append_str(out, u32_dec(p->retry_after, num));
		SL_PUT(out, "\r\n");
	}
	SL_PUT(out, "Server: ");
	cv_buf_append_str(out, server);
	SL_PUT(out, "\r\nContent-Length: 0\r\n\r\n");
	err = out->err;
	if (err)
		goto out;
	struct cv_tp_topvia tvia = {
		.host = msg->via.host,
		.port = msg->via.port,
		.received = msg->via.received,
		.maddr = msg->via.maddr,
		.rport = msg->via.rport_present,
	};
	(void)cv_tp_kind_parse(msg->via.transport, &tvia.kind);
	struct cv_tp_resp_route route;
	err = cv_tp_resp_route(&rx->meta, &tvia, &route);
	if (!err)
		err = cv_tp_send_resp(tp, w, &route, out->data, out->len);
out:
	cv_mem_unref(msg);
	return err;
}
