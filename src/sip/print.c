/* Building and editing messages (RFC 3261 §8.1.1, §8.2.6, §16.6, RFC 3581).
 * Edits copy untouched bytes verbatim: a proxy never re-serialises what it
 * does not change. */
#include <string.h>

#include "sip_int.h"

void cv_sip_branch_new(char out[CV_SIP_BRANCH_SIZE])
{
	memcpy(out, "z9hG4bK", 7);
	cv_random_token(out + 7, 20);
}

void cv_sip_tag_new(char out[CV_SIP_TAG_SIZE])
{
	cv_random_token(out, 16);
}

static const char *tp_name(enum cv_sip_transport tp)
{
	switch (tp) {
	case CV_SIP_TP_TCP:
		return "TCP";
	case CV_SIP_TP_TLS:
		return "TLS";
	case CV_SIP_TP_SCTP:
		return "SCTP";
	case CV_SIP_TP_WS:
		return "WS";
	case CV_SIP_TP_WSS:
		return "WSS";
	default:
		return "UDP";
	}
}

/* Header lines supplied by callers must end with CRLF; refuse anything
 * that would let a value inject a header section end. */
bool cv_sip_hdr_lines_ok(struct cv_pl h)
{
	h = sip_nn(h);
	if (!h.l)
		return true;
	if (h.l < 2 || h.p[h.l - 2] != '\r' || h.p[h.l - 1] != '\n')
		return false;
	for (size_t i = 0; i + 3 < h.l; i++)
		if (!memcmp(h.p + i, "\r\n\r\n", 4))
			return false;
	return true;
}

bool cv_sip_hdr_value_ok(struct cv_pl v)
{
	v = sip_nn(v);
	for (size_t i = 0; i < v.l; i++)
		if (v.p[i] == '\r' || v.p[i] == '\n' || v.p[i] == '\0')
			return false;
	return true;
}

/* Messages are built with appends, not printf: glibc's vsnprintf costs
 * ~1,000 instructions a call whatever it prints, and a request took ten
 * (docs/performance.md, cvoipd against Kamailio). */
#define PUT_LIT(o, s) cv_buf_append((o), (s), sizeof(s) - 1)

static void put_pl(struct cv_buf *o, struct cv_pl pl)
{
	cv_buf_append(o, pl.p, pl.l);
}

static void put_u64(struct cv_buf *o, uint64_t v)
{
	char tmp[CV_U64_DEC_MAX];
	cv_buf_append(o, tmp, cv_u64_dec(tmp, v));
}

/* "Name: value\r\n" */
static void put_hdr(struct cv_buf *o, const char *name, size_t nlen,
		    struct cv_pl value)
{
	cv_buf_append(o, name, nlen);
	put_pl(o, value);
	PUT_LIT(o, "\r\n");
}
#define PUT_HDR(o, name, v) put_hdr((o), name, sizeof(name) - 1, (v))

static void body_part(struct cv_buf *out, struct cv_pl ctype, struct cv_pl body)
{
	if (body.l && ctype.l)
		PUT_HDR(out, "Content-Type: ", ctype);
	PUT_LIT(out, "Content-Length: ");
	put_u64(out, body.l);
	PUT_LIT(out, "\r\n\r\n");
	cv_buf_append(out, body.p, body.l);
}

int cv_sip_resp_print(struct cv_buf *out, const struct cv_sip_msg *req,
		      int status, const char *reason,
		      const struct cv_sip_resp_params *p)
{
	static const struct cv_sip_resp_params none;
	if (!p)
		p = &none;
	if (!req || !req->req || status < 100 || status > 699)
		return -EINVAL;
	if (!cv_sip_hdr_lines_ok(p->headers) ||
	    !cv_sip_hdr_value_ok(p->to_tag) ||
	    !cv_sip_hdr_value_ok(p->content_type))
		return -EINVAL;
	if (!reason || !*reason)
		reason = cv_sip_reason(status);
	if (strpbrk(reason, "\r\n"))
		return -EINVAL;
	/* one allocation for the whole response in the common case */
	size_t est = req->headers.l + p->headers.l + p->body.l +
		     p->content_type.l + 128;
	if (!out->max || out->len + est <= out->max)
		cv_buf_reserve(out, est);
	PUT_LIT(out, "SIP/2.0 ");
	put_u64(out, (uint64_t)status); /* 100..699: three digits */
	PUT_LIT(out, " ");
	cv_buf_append_str(out, reason);
	PUT_LIT(out, "\r\n");
	/* §8.2.6.2: Via values in order, From, Call-ID, CSeq copied as is;
	 * To gets a tag unless it already has one */
	for (const struct cv_sip_hdr *h = cv_sip_msg_hdr(req, CV_SIP_HDR_VIA);
	     h; h = cv_sip_msg_hdr_next(req, h))
		PUT_HDR(out, "Via: ", h->value);
	const struct cv_sip_hdr *from = cv_sip_msg_hdr(req, CV_SIP_HDR_FROM);
	const struct cv_sip_hdr *to = cv_sip_msg_hdr(req, CV_SIP_HDR_TO);
	if (from)
		PUT_HDR(out, "From: ", from->value);
	if (to) {
		PUT_LIT(out, "To: ");
		put_pl(out, to->value);
		if (p->to_tag.l && !req->to.tag.l && status != 100) {
			PUT_LIT(out, ";tag=");
			put_pl(out, p->to_tag);
		}
		PUT_LIT(out, "\r\n");
	}
	PUT_HDR(out, "Call-ID: ", req->call_id);
	const struct cv_sip_hdr *cseq = cv_sip_msg_hdr(req, CV_SIP_HDR_CSEQ);
	if (cseq) {
		PUT_LIT(out, "CSeq: ");
		put_u64(out, req->cseq.num);
		PUT_LIT(out, " ");
		put_pl(out, req->cseq.method_pl);
		PUT_LIT(out, "\r\n");
	}
	/* §8.2.6.1: a 100 Trying echoes the Timestamp */
	const struct cv_sip_hdr *ts = cv_sip_msg_hdr(req, CV_SIP_HDR_TIMESTAMP);
	if (ts && status == 100)
		PUT_HDR(out, "Timestamp: ", ts->value);
	cv_buf_append_pl(out, p->headers);
	body_part(out, p->content_type, p->body);
	return out->err;
}

int cv_sip_req_print(struct cv_buf *out, const struct cv_sip_req_params *p)
{
	struct cv_pl mname = p->method == CV_SIP_METHOD_OTHER
				     ? p->method_name
				     : cv_pl_str(cv_sip_method_name(p->method));
	if (!mname.l ||
	    sip_skip_token(mname.p, mname.p + mname.l) != mname.p + mname.l)
		return -EINVAL;
	if (!p->ruri.l || !p->via.sent_by.l || !p->from_uri.l || !p->to_uri.l ||
	    !p->call_id.l)
		return -EINVAL;
	struct cv_pl all[] = {p->ruri,	   p->via.sent_by,  p->via.branch,
			      p->from_uri, p->from_display, p->from_tag,
			      p->to_uri,   p->to_display,   p->to_tag,
			      p->call_id,  p->contact,	    p->content_type};
	for (size_t i = 0; i < CV_ARRAY_SIZE(all); i++)
		if (!cv_sip_hdr_value_ok(all[i]))
			return -EINVAL;
	for (size_t i = 0; i < p->nroute; i++)
		if (!cv_sip_hdr_value_ok(p->route[i]))
			return -EINVAL;
	if (!cv_sip_hdr_lines_ok(p->headers))
		return -EINVAL;
	char branch[CV_SIP_BRANCH_SIZE];
	struct cv_pl br = p->via.branch;
	if (!br.l) {
		cv_sip_branch_new(branch);
		br = cv_pl_str(branch);
	}
	put_pl(out, mname);
	PUT_LIT(out, " ");
	put_pl(out, p->ruri);
	PUT_LIT(out, " SIP/2.0\r\nVia: SIP/2.0/");
	cv_buf_append_str(out, tp_name(p->via.tp));
	PUT_LIT(out, " ");
	put_pl(out, p->via.sent_by);
	PUT_LIT(out, ";branch=");
	put_pl(out, br);
	if (p->via.rport)
		PUT_LIT(out, ";rport");
	int mf = p->max_forwards == 0  ? 70
		 : p->max_forwards < 0 ? 0
				       : p->max_forwards;
	PUT_LIT(out, "\r\nMax-Forwards: ");
	put_u64(out, (uint64_t)mf);
	PUT_LIT(out, "\r\n");
	for (size_t i = 0; i < p->nroute; i++)
		PUT_HDR(out, "Route: ", p->route[i]);
	/* display names are always quoted (quoted-string is always valid) */
	PUT_LIT(out, "From: ");
	if (p->from_display.l) {
		PUT_LIT(out, "\"");
		put_pl(out, p->from_display);
		PUT_LIT(out, "\" ");
	}
	PUT_LIT(out, "<");
	put_pl(out, p->from_uri);
	PUT_LIT(out, ">");
	if (p->from_tag.l) {
		PUT_LIT(out, ";tag=");
		put_pl(out, p->from_tag);
	}
	PUT_LIT(out, "\r\nTo: ");
	if (p->to_display.l) {
		PUT_LIT(out, "\"");
		put_pl(out, p->to_display);
		PUT_LIT(out, "\" ");
	}
	PUT_LIT(out, "<");
	put_pl(out, p->to_uri);
	PUT_LIT(out, ">");
	if (p->to_tag.l) {
		PUT_LIT(out, ";tag=");
		put_pl(out, p->to_tag);
	}
	PUT_LIT(out, "\r\nCall-ID: ");
	put_pl(out, p->call_id);
	PUT_LIT(out, "\r\nCSeq: ");
	put_u64(out, p->cseq);
	PUT_LIT(out, " ");
	put_pl(out, mname);
	PUT_LIT(out, "\r\n");
	if (p->contact.l)
		PUT_HDR(out, "Contact: ", p->contact);
	cv_buf_append_pl(out, p->headers);
	body_part(out, p->content_type, p->body);
	return out->err;
}

/* ---- edits ---- */

static size_t hdr_off(const struct cv_sip_msg *m, const struct cv_sip_hdr *h)
{
	return (size_t)(h->name.p - m->buf);
}

static bool hdr_of_msg(const struct cv_sip_msg *m, const struct cv_sip_hdr *h)
{
	return h >= m->hdrs && h < m->hdrs + m->nhdrs;
}

int cv_sip_msg_edit(struct cv_buf *out, const struct cv_sip_msg *m,
		    const struct cv_sip_edit *ops, size_t nops)
{
	const struct cv_sip_edit *ruri = NULL, *body = NULL;
	for (size_t k = 0; k < nops; k++) {
		const struct cv_sip_edit *o = &ops[k];
		if (o->hdr && !hdr_of_msg(m, o->hdr))
			return -EINVAL;
		/* a body may hold anything; names and header values may not
		 * break the header section */
		if (!cv_sip_hdr_value_ok(o->name) ||
		    (o->op != CV_SIP_EDIT_BODY &&
		     !cv_sip_hdr_value_ok(o->value)))
			return -EINVAL;
		switch (o->op) {
		case CV_SIP_EDIT_REMOVE:
		case CV_SIP_EDIT_REPLACE:
			if (!o->hdr)
				return -EINVAL;
			break;
		case CV_SIP_EDIT_INSERT:
		case CV_SIP_EDIT_APPEND:
			if (!o->name.l)
				return -EINVAL;
			break;
		case CV_SIP_EDIT_RURI:
			if (!m->req || !o->value.l)
				return -EINVAL;
			ruri = o;
			break;
		case CV_SIP_EDIT_BODY:
			body = o;
			break;
		default:
			return -EINVAL;
		}
	}
	const char *b = m->buf;
	size_t hstart = (size_t)(m->headers.p - b);
	/* start line */
	if (ruri) {
		cv_buf_printf(out, CV_PL_FMT " " CV_PL_FMT " " CV_PL_FMT "\r\n",
			      CV_PL_ARG(m->method_pl), CV_PL_ARG(ruri->value),
			      CV_PL_ARG(m->version));
	} else {
		cv_buf_append(out, b, hstart);
	}
	/* header lines, in order, each with the edits aimed at it */
	for (uint32_t i = 0; i < m->nhdrs; i++) {
		const struct cv_sip_hdr *h = &m->hdrs[i];
		bool removed = false;
		const struct cv_sip_edit *rep = NULL;
		for (size_t k = 0; k < nops; k++) {
			const struct cv_sip_edit *o = &ops[k];
			if (o->op == CV_SIP_EDIT_INSERT &&
			    (o->hdr == h || (!o->hdr && i == 0)))
				cv_buf_printf(out,
					      CV_PL_FMT ": " CV_PL_FMT "\r\n",
					      CV_PL_ARG(o->name),
					      CV_PL_ARG(o->value));
			if (o->hdr == h && o->op == CV_SIP_EDIT_REMOVE)
				removed = true;
			if (o->hdr == h && o->op == CV_SIP_EDIT_REPLACE)
				rep = o;
		}
		if (body &&
		    (h->id == CV_SIP_HDR_CONTENT_LENGTH ||
		     (h->id == CV_SIP_HDR_CONTENT_TYPE && body->name.l)))
			continue;
		if (removed)
			continue;
		if (rep)
			cv_buf_printf(out, CV_PL_FMT ": " CV_PL_FMT "\r\n",
				      CV_PL_ARG(h->name),
				      CV_PL_ARG(rep->value));
		else
			cv_buf_append(out, b + hdr_off(m, h), h->line_len);
	}
	for (size_t k = 0; k < nops; k++) {
		const struct cv_sip_edit *o = &ops[k];
		if (o->op == CV_SIP_EDIT_APPEND ||
		    (o->op == CV_SIP_EDIT_INSERT && !o->hdr && m->nhdrs == 0))
			cv_buf_printf(out, CV_PL_FMT ": " CV_PL_FMT "\r\n",
				      CV_PL_ARG(o->name), CV_PL_ARG(o->value));
	}
	if (body) {
		if (body->name.l)
			cv_buf_printf(out, "Content-Type: " CV_PL_FMT "\r\n",
				      CV_PL_ARG(body->name));
		cv_buf_printf(out, "Content-Length: %zu\r\n\r\n",
			      body->value.l);
		cv_buf_append(out, body->value.p, body->value.l);
	} else {
		/* the empty line and the body as received */
		size_t tail = (size_t)(m->headers.p + m->headers.l - b);
		const char *last =
			m->nhdrs ? m->hdrs[m->nhdrs - 1].name.p +
					   m->hdrs[m->nhdrs - 1].line_len
				 : m->headers.p;
		cv_buf_append(out, last, tail - (size_t)(last - b));
		cv_buf_append(out, m->body.p, m->body.l);
	}
	return out->err;
}

/* Folded values (CRLF + WS, RFC 3261 §7.3.1) become single spaces so a
 * rewritten value fits on one line. */
static void unfold(struct cv_buf *b, struct cv_pl v)
{
	for (size_t i = 0; i < v.l; i++) {
		char c = v.p[i] == '\r' || v.p[i] == '\n' ? ' ' : v.p[i];
		cv_buf_append(b, &c, 1);
	}
}

int cv_sip_via_prepend(struct cv_buf *out, const struct cv_sip_msg *msg,
		       struct cv_pl via_value)
{
	via_value = sip_nn(via_value);
	const struct cv_sip_hdr *top = cv_sip_msg_hdr(msg, CV_SIP_HDR_VIA);
	struct cv_sip_edit e = {.op = CV_SIP_EDIT_INSERT,
				.hdr = top,
				.name = CV_PL("Via"),
				.value = via_value};
	return cv_sip_msg_edit(out, msg, &e, 1);
}

int cv_sip_via_strip_top(struct cv_buf *out, const struct cv_sip_msg *msg)
{
	const struct cv_sip_hdr *top = cv_sip_msg_hdr(msg, CV_SIP_HDR_VIA);
	if (!top)
		return CV_ENOTFOUND;
	struct cv_pl rest = top->value, item;
	if (cv_sip_list_next(&rest, &item))
		return CV_EPARSE;
	/* skip the comma separating it from the next value */
	while (rest.l && (sip_is_lws(rest.p[0]) || rest.p[0] == ',')) {
		rest.p++;
		rest.l--;
	}
	struct cv_sip_edit e = {.hdr = top};
	struct cv_buf tmp;
	cv_buf_init(&tmp, 65536);
	if (!rest.l) {
		e.op = CV_SIP_EDIT_REMOVE;
	} else {
		/* the remaining values, unfolded onto one line */
		e.op = CV_SIP_EDIT_REPLACE;
		unfold(&tmp, rest);
		e.value = (struct cv_pl){tmp.data, tmp.len};
	}
	int err = tmp.err ? tmp.err : cv_sip_msg_edit(out, msg, &e, 1);
	cv_buf_free(&tmp);
	return err;
}

int cv_sip_via_set_received(struct cv_buf *out, const struct cv_sip_msg *msg,
			    struct cv_pl received, uint16_t rport)
{
	received = sip_nn(received);
	const struct cv_sip_hdr *top = cv_sip_msg_hdr(msg, CV_SIP_HDR_VIA);
	if (!top)
		return CV_ENOTFOUND;
	if (!cv_sip_hdr_value_ok(received))
		return -EINVAL;
	const struct cv_sip_via *via = &msg->via;
	/* rebuild only the top via-parm: sent-protocol, sent-by, then params
	 * without received/rport, then the new received/rport */
	struct cv_buf nv;
	cv_buf_init(&nv, 4096);
	cv_buf_printf(&nv, "SIP/2.0/" CV_PL_FMT " " CV_PL_FMT,
		      CV_PL_ARG(via->transport), CV_PL_ARG(via->sent_by));
	struct cv_pl rest = via->params, n, v;
	while (cv_sip_param_next(&rest, &n, &v) == 0) {
		if (sip_ci_lit(n, "received"))
			continue;
		if (sip_ci_lit(n, "rport")) {
			if (rport)
				cv_buf_printf(&nv, ";rport=%u", rport);
			else
				cv_buf_printf(&nv, ";" CV_PL_FMT, CV_PL_ARG(n));
			continue;
		}
		/* re-quote a value that arrived quoted */
		bool quoted = v.l && v.p > n.p && v.p[-1] == '"';
		if (v.p != n.p + n.l || v.l)
			cv_buf_printf(&nv,
				      quoted ? ";" CV_PL_FMT "=\"" CV_PL_FMT
					       "\""
					     : ";" CV_PL_FMT "=" CV_PL_FMT,
				      CV_PL_ARG(n), CV_PL_ARG(v));
		else
			cv_buf_printf(&nv, ";" CV_PL_FMT, CV_PL_ARG(n));
	}
	if (received.l)
		cv_buf_printf(&nv, ";received=" CV_PL_FMT, CV_PL_ARG(received));
	/* the other values of the same line follow unchanged */
	struct cv_pl all = top->value, item;
	cv_sip_list_next(&all, &item);
	if (all.l)
		unfold(&nv, all);
	int err = nv.err;
	for (size_t i = 0; !err && i < nv.len; i++)
		if (nv.data[i] == '\r' || nv.data[i] == '\n')
			nv.data[i] = ' '; /* folded sent-by or quoted values */
	if (!err) {
		struct cv_sip_edit e = {.op = CV_SIP_EDIT_REPLACE,
					.hdr = top,
					.value = {nv.data, nv.len}};
		err = cv_sip_msg_edit(out, msg, &e, 1);
	}
	cv_buf_free(&nv);
	return err;
}
