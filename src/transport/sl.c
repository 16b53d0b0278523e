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

/* The response under construction, in the worker's fixed TP_SL_MAX-byte
 * buffer. The appends are inline and bounds-checked; an answer that does
 * not fit marks the writer full and is not sent. (cv_buf's out-of-line
 * append with its growth checks was a third of this path's instructions:
 * some 45 appends per answer.) */
struct sl_out {
	char *p;
	size_t len;
	bool full;
};

static inline void sl_put(struct sl_out *o, const void *s, size_t n)
{
	if (n > TP_SL_MAX - o->len) {
		o->full = true;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

/* Appends a string literal. */
#define SL_PUT(o, lit) sl_put((o), (lit), sizeof(lit) - 1)

static inline void sl_puts(struct sl_out *o, const char *s)
{
	sl_put(o, s, strlen(s));
}

static inline void sl_put_pl(struct sl_out *o, struct cv_pl v)
{
	sl_put(o, v.p, v.l);
}

/* Appends v in decimal. */
static void sl_put_u32(struct sl_out *o, uint32_t v)
{
	char tmp[CV_U64_DEC_MAX];
	sl_put(o, tmp, cv_u64_dec(tmp, v));
}

/* Finds a bare ";rport" in a via-parm: offset just after "rport", or 0. */
static size_t bare_rport_end(struct cv_pl v)
{
	const char *p = v.p, *end = v.p + v.l;
	while (end - p >= 6) {
		const char *semi = memchr(p, ';', (size_t)(end - p));
		if (!semi)
			break;
		p = semi + 1;
		const char *j = p;
		while (j < end && (*j == ' ' || *j == '\t'))
			j++;
		if (end - j < 5 || strncasecmp(j, "rport", 5) != 0)
			continue;
		const char *e = j + 5, *k = e;
		while (k < end && (*k == ' ' || *k == '\t'))
			k++;
		if (k == end || *k == ';' || *k == ',')
			return (size_t)(e - v.p);
	}
	return 0;
}

/* The transport of the Via as the transport names it (the parser's enum;
 * SCTP and unknown tokens: none, as cv_tp_kind_parse() would say). */
static void via_kind(const struct cv_sip_via *via, enum cv_tp_kind *kind)
{
	switch (via->tp) {
	case CV_SIP_TP_UDP:
		*kind = CV_TP_UDP;
		break;
	case CV_SIP_TP_TCP:
		*kind = CV_TP_TCP;
		break;
	case CV_SIP_TP_TLS:
		*kind = CV_TP_TLS;
		break;
	case CV_SIP_TP_WS:
		*kind = CV_TP_WS;
		break;
	case CV_SIP_TP_WSS:
		*kind = CV_TP_WSS;
		break;
	default:
		break;
	}
}

/* The packet source as received= text: an IPv4 dotted quad by hand
 * (inet_ntop formats with sprintf), IPv6 through inet_ntop. Returns the
 * length; buf holds CV_TP_ADDRSTRLEN bytes. */
static size_t src_text(const struct cv_tp_addr *src, char *buf)
{
	if (src->ss.ss_family != AF_INET)
		return cv_tp_addr_host_print(src, buf, CV_TP_ADDRSTRLEN);
	const struct sockaddr_in *in = (const void *)&src->ss;
	const uint8_t *q = (const uint8_t *)&in->sin_addr.s_addr;
	size_t n = 0;
	for (int i = 0; i < 4; i++) {
		if (i)
			buf[n++] = '.';
		if (q[i] >= 100)
			buf[n++] = (char)('0' + q[i] / 100);
		if (q[i] >= 10)
			buf[n++] = (char)('0' + q[i] / 10 % 10);
		buf[n++] = (char)('0' + q[i] % 10);
	}
	buf[n] = '\0';
	return n;
}

/* RFC 3261 §18.2.1 / RFC 3581 §4: whether the response's top Via gets
 * rport=<source port> (a bare rport was asked) and received= (a name in
 * the sent-by, or an address other than the packet source). An IPv4
 * sent-by is compared as text with the source's dotted quad: that form
 * is the only one inet_pton accepts for the same address, so the answer
 * is the same without parsing the host. */
static void via_flags(const struct cv_sip_via *via,
		      const struct cv_tp_meta *meta, struct cv_pl srctxt,
		      bool *add_rport, bool *add_received)
{
	*add_rport = via->rport_present && via->rport.l == 0;
	if (via->received.l) {
		*add_received = false; /* a proxy before us already did */
	} else if (via->rport_present) {
		*add_received = true;
	} else if (meta->src.ss.ss_family == AF_INET) {
		*add_received = !cv_pl_eq(via->host, srctxt);
	} else {
		struct cv_tp_addr sentby;
		*add_received = cv_tp_addr_set(&sentby, via->host, 0) != 0 ||
				!cv_tp_addr_eq_ip(&sentby, &meta->src);
	}
}

/* Appends the top via-parm with rport filled and received= added. */
static void via_put(struct sl_out *out, const struct cv_sip_via *via,
		    const struct cv_tp_meta *meta)
{
	bool add_rport, add_received;
	char src[CV_TP_ADDRSTRLEN];
	struct cv_pl srctxt = {src, src_text(&meta->src, src)};
	via_flags(via, meta, srctxt, &add_rport, &add_received);
	size_t rp = add_rport ? bare_rport_end(via->value) : 0;
	if (rp) {
		sl_put(out, via->value.p, rp);
		SL_PUT(out, "=");
		sl_put_u32(out, cv_tp_addr_port(&meta->src));
		sl_put(out, via->value.p + rp, via->value.l - rp);
	} else {
		sl_put_pl(out, via->value);
	}
	if (add_received) {
		SL_PUT(out, ";received=");
		sl_put_pl(out, srctxt);
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

/* Sends the response. A UDP answer routed to an address (§18.2.2: the
 * request's source or sent-by) goes straight to the listener socket,
 * as cv_tp_send() would after filling its parameters. */
static int sl_send(struct cv_tp *tp, struct cv_worker *w, struct tp_worker *tw,
		   const struct cv_tp_resp_route *route, const char *buf,
		   size_t len)
{
	if (route->how == CV_TP_RESP_ADDR && route->kind == CV_TP_UDP &&
	    tw->started && cv_tp_addr_isset(&route->addr)) {
		int li = tp_listener_find(
			tp, CV_TP_UDP, route->addr.ss.ss_family, &route->local);
		if (li < 0)
			return li;
		return tp_udp_send(tw, (unsigned)li, &route->addr,
				   &route->local, buf, len);
	}
	return cv_tp_send_resp(tp, w, route, buf, len);
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

static void sl_put_value(struct sl_out *out, struct cv_pl v)
{
	size_t i = 0;
	while (i < v.l) {
		size_t j = i;
		while (j < v.l && v.p[j] != '\r' && v.p[j] != '\n')
			j++;
		sl_put(out, v.p + i, j - i);
		if (j < v.l)
			SL_PUT(out, " ");
		i = j + 1;
	}
}

static void sl_put_hdr(struct sl_out *out, const char *name, struct cv_pl v)
{
	sl_puts(out, name);
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

	struct sl_out o = {.p = tw->slout}, *out = &o;
	char tag[20];
	SL_PUT(out, "SIP/2.0 ");
	sl_put_u32(out, (uint32_t)v->status);
	SL_PUT(out, " ");
	sl_puts(out, v->reason && v->reason[0] ? v->reason : "Bad Request");
	SL_PUT(out, "\r\nVia: ");
	/* §8.2.6.2: every Via value, in order; the top one with received/rport
	 */
	sl_put(out, r.via[0].p, (size_t)(top.p - r.via[0].p));
	via_put(out, &via, &rx->meta);
	sl_put_value(out, (struct cv_pl){top.p + top.l,
					 r.via[0].l - (size_t)(top.p + top.l -
							       r.via[0].p)});
	SL_PUT(out, "\r\n");
	for (unsigned i = 1; i < r.nvia; i++)
		sl_put_hdr(out, "Via: ", r.via[i]);
	sl_put_hdr(out, "From: ", r.from);
	SL_PUT(out, "To: ");
	sl_put_value(out, r.to);
	if (!to.tag.l) {
		sl_tag(tag, r.call_id, from.tag, cseq.num);
		SL_PUT(out, ";tag=");
		sl_puts(out, tag);
	}
	SL_PUT(out, "\r\n");
	sl_put_hdr(out, "Call-ID: ", r.call_id);
	sl_put_hdr(out, "CSeq: ", r.cseq);
	sl_puts(out, v->hdrs);
	SL_PUT(out, "Server: ");
	sl_puts(out, server);
	SL_PUT(out, "\r\nContent-Length: 0\r\n\r\n");
	if (out->full)
		return CV_EPARSE;

	struct cv_tp_topvia tv = {
		.host = via.host,
		.port = via.port,
		.received = via.received,
		.maddr = via.maddr,
		.rport = via.rport_present,
	};
	via_kind(&via, &tv.kind);
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
	err = sl_send(tp, w, tw, &route, out->p, out->len);
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
	struct sl_out o = {.p = tw->slout}, *out = &o;
	char tag[20];
	SL_PUT(out, "SIP/2.0 ");
	sl_put_u32(out, (uint32_t)status);
	SL_PUT(out, " ");
	sl_puts(out, reason);
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
			sl_put(out, h->value.p, (size_t)(tv.p - h->value.p));
			via_put(out, &msg->via, &rx->meta);
			sl_put(out, tv.p + tv.l,
			       (size_t)(h->value.p + h->value.l -
					(tv.p + tv.l)));
		} else {
			sl_put_pl(out, h->value);
		}
		top = false;
		SL_PUT(out, "\r\n");
	}
	const struct cv_sip_hdr *from = cv_sip_msg_hdr(msg, CV_SIP_HDR_FROM);
	const struct cv_sip_hdr *to = cv_sip_msg_hdr(msg, CV_SIP_HDR_TO);
	const struct cv_sip_hdr *cseq = cv_sip_msg_hdr(msg, CV_SIP_HDR_CSEQ);
	SL_PUT(out, "From: ");
	sl_put_pl(out, from->value);
	SL_PUT(out, "\r\nTo: ");
	sl_put_pl(out, to->value);
	if (!msg->to.tag.l) {
		/* §8.2.6.2: a To tag; stable for retransmissions of the request
		 */
		sl_tag(tag, msg->call_id, msg->from.tag, msg->cseq.num);
		SL_PUT(out, ";tag=");
		sl_put(out, tag, 18);
	}
	SL_PUT(out, "\r\nCall-ID: ");
	sl_put_pl(out, msg->call_id);
	SL_PUT(out, "\r\nCSeq: ");
	sl_put_pl(out, cseq->value);
	SL_PUT(out, "\r\n");
	if (status == 200) {
		SL_PUT(out, "Allow: ");
		sl_puts(out, p->allow ? p->allow : default_allow);
		SL_PUT(out, "\r\nAccept: ");
		sl_puts(out, p->accept ? p->accept : "application/sdp");
		SL_PUT(out, "\r\n");
		if (p->supported && p->supported[0]) {
			SL_PUT(out, "Supported: ");
			sl_puts(out, p->supported);
			SL_PUT(out, "\r\n");
		}
	} else if (status == 503 && p->retry_after) {
		SL_PUT(out, "Retry-After: ");
		sl_put_u32(out, p->retry_after);
		SL_PUT(out, "\r\n");
	}
	SL_PUT(out, "Server: ");
	sl_puts(out, server);
	SL_PUT(out, "\r\nContent-Length: 0\r\n\r\n");
	if (out->full) {
		err = CV_ETOOBIG;
		goto out;
	}
	struct cv_tp_topvia tvia = {
		.host = msg->via.host,
		.port = msg->via.port,
		.received = msg->via.received,
		.maddr = msg->via.maddr,
		.rport = msg->via.rport_present,
	};
	via_kind(&msg->via, &tvia.kind);
	struct cv_tp_resp_route route;
	err = cv_tp_resp_route(&rx->meta, &tvia, &route);
	if (!err)
		err = sl_send(tp, w, tw, &route, out->p, out->len);
out:
	cv_mem_unref(msg);
	return err;
}
