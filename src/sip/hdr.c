/* Typed header parsers: pure functions over a header value slice
 * (RFC 3261 §20 and §25.1 unless noted). */
#include <string.h>
#include <time.h>

#include "sip_int.h"

static int u32_digits(const char *p, const char *e, uint32_t *out,
		      const char **endp)
{
	const char *s = p;
	uint64_t n = 0;
	while (p < e && *p >= '0' && *p <= '9') {
		n = n * 10 + (uint64_t)(*p - '0');
		if (n > UINT32_MAX)
			return CV_EPARSE;
		p++;
	}
	if (p == s)
		return CV_EPARSE;
	*out = (uint32_t)n;
	*endp = p;
	return 0;
}

int cv_sip_u32_parse(struct cv_pl value, uint32_t *out)
{
	value = sip_nn(value);
	struct cv_pl v = sip_trim(value);
	const char *end;
	if (u32_digits(v.p, v.p + v.l, out, &end) || end != v.p + v.l)
		return CV_EPARSE;
	return 0;
}

/* Parses header params ";a=b;c" over [p,e) strictly (each one introduced
 * by ';'); sets *params. */
static int hparams(const char *p, const char *e, struct cv_pl *params)
{
	p = sip_skip_ws(p, e);
	if (p < e && *p != ';')
		return CV_EPARSE;
	*params = sip_pl(p, e);
	struct cv_pl rest = *params, n, v;
	int err;
	while ((err = sip_param_next(&rest, &n, &v)) == 0)
		;
	return err == CV_ENOTFOUND ? 0 : CV_EPARSE;
}

/* RFC 3261 §20.42: via-parm = sent-protocol LWS sent-by *( SEMI via-params ) */
int cv_sip_via_parse(struct cv_pl value, struct cv_sip_via *via)
{
	value = sip_nn(value);
	memset(via, 0, sizeof(*via));
	struct cv_pl val = sip_trim(value);
	const char *p = val.p, *e = val.p + val.l, *t;
	via->value = val;
	/* protocol-name SLASH protocol-version SLASH transport; the usual
	 * spelling "SIP/2.0/" skips the token loop */
	int first = 0;
	if (e - p > 8 && !memcmp(p, "SIP/2.0/", 8)) {
		p += 8;
		first = 2;
	}
	for (int i = first; i < 3; i++) {
		t = p;
		p = sip_skip_token(p, e);
		if (p == t)
			return CV_EPARSE;
		if (i == 2) {
			via->transport = sip_pl(t, p);
			break;
		}
		p = sip_skip_ws(p, e);
		if (p >= e || *p != '/')
			return CV_EPARSE;
		p = sip_skip_ws(p + 1, e);
	}
	if (p >= e || !sip_is_lws(*p))
		return CV_EPARSE;
	p = sip_skip_ws(p, e);
	/* sent-by = host [ COLON port ], COLON = SWS ":" SWS */
	const char *hs = p;
	if (p < e && *p == '[') {
		const char *rb = memchr(p, ']', (size_t)(e - p));
		if (!rb)
			return CV_EPARSE;
		p = rb + 1;
	} else {
		p = sip_skip_host_lo(val.p, p, e);
	}
	const char *he = p;
	const char *q = sip_skip_ws(p, e);
	const char *ps = NULL, *pe = NULL;
	uint32_t pn = 0; /* saturates above 65535 */
	if (q < e && *q == ':') {
		q = sip_skip_ws(q + 1, e);
		ps = q;
		while (q < e && *q >= '0' && *q <= '9') {
			if (pn <= 65535)
				pn = pn * 10 + (uint32_t)(*q - '0');
			q++;
		}
		pe = q;
		p = q;
	}
	via->sent_by = sip_pl(hs, p);
	uint16_t port = 0;
	int err;
	if (*hs == '[') {
		err = sip_hostport_parse(sip_pl(hs, he), &via->host, &via->ipv6,
					 &port, NULL);
		if (err)
			return err;
	} else {
		/* the scan above took only host characters */
		if (he == hs || *hs == '.' || *hs == '-')
			return CV_EPARSE;
		via->host = sip_pl(hs, he);
	}
	if (ps) {
		if (pe == ps || pn > 65535)
			return CV_EPARSE;
		via->port = (uint16_t)pn;
	}
	p = sip_skip_ws(p, e);
	if (p < e && *p != ';')
		return CV_EPARSE;
	via->params = sip_pl(p, e);
	struct cv_pl rest = via->params, n, v;
	/* A repeated branch/received/maddr/ttl/rport is refused rather than
	 * resolved: two components picking different occurrences (first vs
	 * last) would match different transactions. */
	struct cv_pl *slot;
	while ((err = sip_param_next_lo(&rest, val.p, &n, &v)) == 0) {
		slot = NULL;
		switch (n.l) {
		case 3:
			if (sip_ci_lit(n, "ttl"))
				slot = &via->ttl;
			break;
		case 5:
			if (sip_ci_lit(n, "maddr"))
				slot = &via->maddr;
			else if (sip_ci_lit(n, "rport")) {
				if (via->rport_present)
					return CV_EPARSE;
				via->rport_present = true;
				via->rport = v;
			}
			break;
		case 6:
			if (sip_ci_lit(n, "branch"))
				slot = &via->branch;
			break;
		case 8:
			if (sip_ci_lit(n, "received"))
				slot = &via->received;
			break;
		default:
			break;
		}
		if (slot) {
			if (slot->p)
				return CV_EPARSE;
			*slot = v;
		}
	}
	if (err != CV_ENOTFOUND)
		return CV_EPARSE;
	/* a bare "branch" or "received" flag is not a value (badinv01-like) */
	if ((via->branch.p && !via->branch.l) ||
	    (via->received.p && !via->received.l) ||
	    (via->ttl.p && !via->ttl.l) || (via->maddr.p && !via->maddr.l))
		return CV_EPARSE;
	struct cv_pl tr = via->transport;
	via->tp = CV_SIP_TP_OTHER;
	if (tr.l == 3) {
		if (sip_ci_lit(tr, "udp"))
			via->tp = CV_SIP_TP_UDP;
		else if (sip_ci_lit(tr, "tcp"))
			via->tp = CV_SIP_TP_TCP;
		else if (sip_ci_lit(tr, "tls"))
			via->tp = CV_SIP_TP_TLS;
		else if (sip_ci_lit(tr, "wss"))
			via->tp = CV_SIP_TP_WSS;
	} else if (sip_ci_lit(tr, "sctp")) {
		via->tp = CV_SIP_TP_SCTP;
	} else if (sip_ci_lit(tr, "ws")) {
		via->tp = CV_SIP_TP_WS;
	}
	return 0;
}

static bool scheme_ok(struct cv_pl uri)
{
	uri = sip_nn(uri);
	const char *p = uri.p, *e = uri.p + uri.l;
	/* the usual schemes first: one 4-byte compare */
	if (uri.l >= 4 && (!memcmp(p, "sip:", 4) || !memcmp(p, "tel:", 4)))
		return true;
	if (p >= e || !sip_is(*p, SIP_C_ALPHA))
		return false;
	while (p < e && (sip_is(*p, SIP_C_ALPHA | SIP_C_DIGIT) || *p == '+' ||
			 *p == '-' || *p == '.'))
		p++;
	return p < e && *p == ':';
}

/* RFC 3261 §25.1: ( name-addr / addr-spec ) *( SEMI generic-param ).
 * In addr-spec form, ';' parameters belong to the header (§20.10). */
/* The Contact parameters (RFC 3261 §20.10, RFC 5626 §4.2), read in the
 * same pass as the tag. */
static int contact_param(struct cv_sip_contact *c, struct cv_pl n,
			 struct cv_pl pv, struct cv_pl *q)
{
	if (n.l == 7 && sip_ci_lit(n, "expires")) {
		uint32_t x;
		if (cv_sip_u32_parse(pv, &x))
			return CV_EPARSE;
		c->expires = x;
	} else if (n.l == 1 && sip_lower(n.p[0]) == 'q') {
		*q = pv;
		if (!q->p)
			q->p = n.p;
	} else if (n.l == 13 && sip_ci_lit(n, "+sip.instance")) {
		c->instance = pv;
	} else if (n.l == 6 && sip_ci_lit(n, "reg-id")) {
		c->reg_id = pv;
	}
	return 0;
}

/* name-addr / addr-spec with its params; with c, the Contact params too
 * (q is its raw qvalue, checked by the caller). */
static int naddr_parse(struct cv_pl value, struct cv_sip_naddr *na,
		       struct cv_sip_contact *c, struct cv_pl *qv)
{
	value = sip_nn(value);
	memset(na, 0, sizeof(*na));
	struct cv_pl val = sip_trim(value);
	const char *p = val.p, *e = val.p + val.l;
	if (p >= e)
		return CV_EPARSE;
	if (*p == '"') {
		const char *q = sip_skip_quoted_fast(p, e);
		if (!q)
			return CV_EPARSE;
		na->dname = sip_pl(p + 1, q - 1);
		na->quoted = true;
		p = sip_skip_ws(q, e);
		if (p >= e || *p != '<')
			return CV_EPARSE;
	} else {
		/* display-name as *(token LWS): look for '<' after tokens */
		const char *q = p;
		while (q < e && (sip_is(*q, SIP_C_TOKEN) || sip_is_lws(*q)))
			q++;
		if (q < e && *q == '<') {
			na->dname = sip_trim(sip_pl(p, q));
			p = q;
		}
	}
	if (*p == '<') {
		/* no LWS (all <= 0x20) inside <> (RFC 3261 §25.1 LAQUOT/RAQUOT)
		 */
		const char *gt =
			sip_scan_until_lo(val.p, p + 1, e, '>', '<', '>');
		if (gt >= e || *gt != '>')
			return CV_EPARSE;
		na->uri = sip_pl(p + 1, gt);
		na->angle = true;
		p = gt + 1;
	} else {
		const char *s = p;
		while (p < e && *p != ';' && !sip_is_lws(*p) && *p != ',' &&
		       *p != '?' && *p != '<' && *p != '>' && *p != '"')
			p++;
		na->uri = sip_pl(s, p);
		if (p < e && *p != ';' && !sip_is_lws(*p))
			return CV_EPARSE;
	}
	if (!scheme_ok(na->uri))
		return CV_EPARSE;
	p = sip_skip_ws(p, e);
	if (p < e && *p != ';')
		return CV_EPARSE;
	na->params = sip_pl(p, e);
	struct cv_pl rest = na->params, n, v;
	int err;
	while ((err = sip_param_next_lo(&rest, val.p, &n, &v)) == 0)
		if (n.l == 3 && sip_ci_lit(n, "tag")) {
			/* tag = "tag" EQUAL token (RFC 3261 §25.1): a bare flag
			 * or a second tag is refused, as sofia-sip takes the
			 * first of two and dialog matching must not guess;
			 * a quoted tag is no token either (token syntax:
			 * cv_sip_msg_parse_full, off the matching path) */
			if (na->tag.p || !v.l || v.p[-1] == '"')
				return CV_EPARSE;
			na->tag = v;
		} else if (c && contact_param(c, n, v, qv)) {
			return CV_EPARSE;
		}
	return err == CV_ENOTFOUND ? 0 : CV_EPARSE;
}

int cv_sip_naddr_parse(struct cv_pl value, struct cv_sip_naddr *na)
{
	return naddr_parse(value, na, NULL, NULL);
}

static int delta_param(struct cv_pl params, const char *name, int64_t *out)
{
	params = sip_nn(params);
	struct cv_pl v;
	uint32_t n;
	*out = -1;
	if (cv_sip_param_get(params, name, &v) != 0)
		return 0;
	if (cv_sip_u32_parse(v, &n))
		return CV_EPARSE;
	*out = n;
	return 0;
}

int cv_sip_contact_parse(struct cv_pl value, struct cv_sip_contact *c)
{
	value = sip_nn(value);
	memset(c, 0, sizeof(*c));
	c->expires = -1;
	c->q = -1;
	struct cv_pl v = sip_trim(value);
	if (v.l == 1 && v.p[0] == '*') {
		c->star = true;
		return 0;
	}
	struct cv_pl q = {NULL, 0};
	int err = naddr_parse(v, &c->addr, c, &q);
	if (err)
		return err;
	if (q.p) {
		/* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
		 */
		if (!q.l || (q.p[0] != '0' && q.p[0] != '1') || q.l > 5 ||
		    (q.l > 1 && q.p[1] != '.'))
			return CV_EPARSE;
		int val = (q.p[0] - '0') * 1000, mul = 100;
		for (size_t i = 2; i < q.l; i++, mul /= 10) {
			if (q.p[i] < '0' || q.p[i] > '9')
				return CV_EPARSE;
			val += (q.p[i] - '0') * mul;
		}
		if (val > 1000)
			return CV_EPARSE;
		c->q = val;
	}
	return 0;
}

/* CSeq = 1*DIGIT LWS Method; RFC 3261 §8.1.1.5 caps the number below 2^31. */
int cv_sip_cseq_parse(struct cv_pl value, struct cv_sip_cseq *cs)
{
	value = sip_nn(value);
	struct cv_pl v = sip_trim(value);
	const char *p = v.p, *e = v.p + v.l, *end;
	uint32_t n;
	if (u32_digits(p, e, &n, &end) || n > 0x7fffffffu)
		return CV_EPARSE;
	p = end;
	if (p >= e || !sip_is_lws(*p))
		return CV_EPARSE;
	p = sip_skip_ws(p, e);
	const char *m = p;
	p = sip_skip_token(p, e);
	if (p == m || p != e)
		return CV_EPARSE;
	cs->num = n;
	cs->method_pl = sip_pl(m, p);
	cs->method = cv_sip_method_from(cs->method_pl);
	return 0;
}

/* media-type = m-type SLASH m-subtype *(SEMI m-parameter) (§20.15) */
int cv_sip_ctype_parse(struct cv_pl value, struct cv_sip_ctype *ct)
{
	value = sip_nn(value);
	memset(ct, 0, sizeof(*ct));
	struct cv_pl v = sip_trim(value);
	const char *p = v.p, *e = v.p + v.l, *s = p;
	p = sip_skip_token(p, e);
	if (p == s)
		return CV_EPARSE;
	ct->type = sip_pl(s, p);
	p = sip_skip_ws(p, e);
	if (p >= e || *p != '/')
		return CV_EPARSE;
	p = sip_skip_ws(p + 1, e);
	s = p;
	p = sip_skip_token(p, e);
	if (p == s)
		return CV_EPARSE;
	ct->subtype = sip_pl(s, p);
	p = sip_skip_ws(p, e);
	if (p < e && *p != ';')
		return CV_EPARSE;
	return hparams(p, e, &ct->params);
}

int cv_sip_cdisp_parse(struct cv_pl value, struct cv_sip_ctype *cd)
{
	value = sip_nn(value);
	memset(cd, 0, sizeof(*cd));
	struct cv_pl v = sip_trim(value);
	const char *p = v.p, *e = v.p + v.l, *s = p;
	p = sip_skip_token(p, e);
	if (p == s)
		return CV_EPARSE;
	cd->type = sip_pl(s, p);
	p = sip_skip_ws(p, e);
	if (p < e && *p != ';')
		return CV_EPARSE;
	return hparams(p, e, &cd->params);
}

/* RAck = response-num LWS CSeq-num LWS Method (RFC 3262 §7.2) */
int cv_sip_rack_parse(struct cv_pl value, struct cv_sip_rack *r)
{
	value = sip_nn(value);
	struct cv_pl v = sip_trim(value);
	const char *p = v.p, *e = v.p + v.l, *end;
	if (u32_digits(p, e, &r->rseq, &end) || end >= e || !sip_is_lws(*end))
		return CV_EPARSE;
	p = sip_skip_ws(end, e);
	struct cv_sip_cseq cs;
	if (cv_sip_cseq_parse(sip_pl(p, e), &cs))
		return CV_EPARSE;
	r->cseq = cs.num;
	r->method = cs.method;
	r->method_pl = cs.method_pl;
	return 0;
}

/* event-type = event-package *( "." event-template ) *( SEMI event-param ) */
int cv_sip_event_parse(struct cv_pl value, struct cv_sip_event *ev)
{
	value = sip_nn(value);
	memset(ev, 0, sizeof(*ev));
	struct cv_pl v = sip_trim(value);
	const char *p = v.p, *e = v.p + v.l, *s = p;
	p = sip_skip_token(p, e);
	if (p == s)
		return CV_EPARSE;
	ev->package = sip_pl(s, p);
	p = sip_skip_ws(p, e);
	if (p < e && *p != ';')
		return CV_EPARSE;
	if (hparams(p, e, &ev->params))
		return CV_EPARSE;
	cv_sip_param_get(ev->params, "id", &ev->id);
	return 0;
}

/* Subscription-State (RFC 6665 §8.2.3) */
int cv_sip_substate_parse(struct cv_pl value, struct cv_sip_substate *s)
{
	value = sip_nn(value);
	memset(s, 0, sizeof(*s));
	struct cv_pl v = sip_trim(value);
	const char *p = v.p, *e = v.p + v.l, *t = p;
	p = sip_skip_token(p, e);
	if (p == t)
		return CV_EPARSE;
	s->state = sip_pl(t, p);
	p = sip_skip_ws(p, e);
	if (p < e && *p != ';')
		return CV_EPARSE;
	if (hparams(p, e, &s->params))
		return CV_EPARSE;
	cv_sip_param_get(s->params, "reason", &s->reason);
	if (delta_param(s->params, "expires", &s->expires) ||
	    delta_param(s->params, "retry-after", &s->retry_after))
		return CV_EPARSE;
	return 0;
}

/* Session-Expires = delta-seconds *(SEMI se-params) (RFC 4028 §4) */
int cv_sip_session_expires_parse(struct cv_pl value,
				 struct cv_sip_session_expires *se)
{
	value = sip_nn(value);
	memset(se, 0, sizeof(*se));
	struct cv_pl v = sip_trim(value);
	const char *p = v.p, *e = v.p + v.l, *end;
	if (u32_digits(p, e, &se->delta, &end))
		return CV_EPARSE;
	p = sip_skip_ws(end, e);
	if (p < e && *p != ';')
		return CV_EPARSE;
	if (hparams(p, e, &se->params))
		return CV_EPARSE;
	if (cv_sip_param_get(se->params, "refresher", &se->refresher) == 0 &&
	    !sip_ci_lit(se->refresher, "uac") &&
	    !sip_ci_lit(se->refresher, "uas"))
		return CV_EPARSE;
	return 0;
}

/* Replaces = callid *(SEMI replaces-param) (RFC 3891 §6.1) */
int cv_sip_replaces_parse(struct cv_pl value, struct cv_sip_replaces *r)
{
	value = sip_nn(value);
	memset(r, 0, sizeof(*r));
	struct cv_pl v = sip_trim(value);
	const char *p = v.p, *e = v.p + v.l, *s = p;
	while (p < e && *p != ';' && !sip_is_lws(*p))
		p++;
	if (p == s)
		return CV_EPARSE;
	r->call_id = sip_pl(s, p);
	struct cv_pl params, x;
	if (hparams(p, e, &params))
		return CV_EPARSE;
	if (cv_sip_param_get(params, "to-tag", &r->to_tag) ||
	    cv_sip_param_get(params, "from-tag", &r->from_tag))
		return CV_EPARSE;
	r->early_only = cv_sip_param_get(params, "early-only", &x) == 0;
	return 0;
}

/* Reason = protocol *(SEMI reason-params) (RFC 3326 §2) */
int cv_sip_reason_parse(struct cv_pl value, struct cv_sip_reason *r)
{
	value = sip_nn(value);
	memset(r, 0, sizeof(*r));
	r->cause = -1;
	struct cv_pl v = sip_trim(value);
	const char *p = v.p, *e = v.p + v.l, *s = p;
	p = sip_skip_token(p, e);
	if (p == s)
		return CV_EPARSE;
	r->protocol = sip_pl(s, p);
	if (hparams(p, e, &r->params))
		return CV_EPARSE;
	struct cv_pl c;
	uint32_t n;
	if (cv_sip_param_get(r->params, "cause", &c) == 0) {
		if (cv_sip_u32_parse(c, &n) || n > 65535)
			return CV_EPARSE;
		r->cause = (int)n;
	}
	cv_sip_param_get(r->params, "text", &r->text);
	return 0;
}

/* rfc1123-date = wkday "," SP date1 SP time SP "GMT" (RFC 3261 §25.1) */
int cv_sip_date_parse(struct cv_pl value, int64_t *unix_s)
{
	value = sip_nn(value);
	static const char wk[7][4] = {"Mon", "Tue", "Wed", "Thu",
				      "Fri", "Sat", "Sun"};
	static const char mo[12][4] = {"Jan", "Feb", "Mar", "Apr",
				       "May", "Jun", "Jul", "Aug",
				       "Sep", "Oct", "Nov", "Dec"};
	struct cv_pl v = sip_trim(value);
	/* "Sat, 13 Nov 2010 23:29:00 GMT" is exactly 29 chars */
	if (v.l != 29)
		return CV_EPARSE;
	const char *s = v.p;
	int wd = -1, m = -1;
	for (int i = 0; i < 7; i++)
		if (!memcmp(s, wk[i], 3))
			wd = i;
	for (int i = 0; i < 12; i++)
		if (!memcmp(s + 8, mo[i], 3))
			m = i;
	if (wd < 0 || m < 0 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' ||
	    s[11] != ' ' || s[16] != ' ' || s[19] != ':' || s[22] != ':' ||
	    s[25] != ' ' || memcmp(s + 26, "GMT", 3))
		return CV_EPARSE;
	const int dig[] = {5, 6, 12, 13, 14, 15, 17, 18, 20, 21, 23, 24};
	for (size_t i = 0; i < CV_ARRAY_SIZE(dig); i++)
		if (s[dig[i]] < '0' || s[dig[i]] > '9')
			return CV_EPARSE;
#define D2(i) ((s[i] - '0') * 10 + (s[(i) + 1] - '0'))
	int day = D2(5), year = D2(12) * 100 + D2(14), hh = D2(17), mm = D2(20),
	    ss = D2(23);
#undef D2
	if (day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60)
		return CV_EPARSE;
	/* days from civil (Howard Hinnant's algorithm), no timegm needed */
	int y = year - (m < 2);
	int era = (y >= 0 ? y : y - 399) / 400;
	int yoe = y - era * 400;
	int mp = (m + 10) % 12;
	int doy = (153 * mp + 2) / 5 + day - 1;
	int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	int64_t days = (int64_t)era * 146097 + doe - 719468;
	*unix_s = days * 86400 + hh * 3600 + mm * 60 + ss;
	return 0;
}

/* Timestamp = 1*(DIGIT) [ "." *(DIGIT) ] [ LWS delay ] */
static const char *decimal(const char *p, const char *e)
{
	const char *s = p;
	while (p < e && *p >= '0' && *p <= '9')
		p++;
	if (p == s)
		return NULL;
	if (p < e && *p == '.') {
		p++;
		while (p < e && *p >= '0' && *p <= '9')
			p++;
	}
	return p;
}

int cv_sip_timestamp_parse(struct cv_pl value, struct cv_sip_timestamp *ts)
{
	value = sip_nn(value);
	memset(ts, 0, sizeof(*ts));
	struct cv_pl v = sip_trim(value);
	const char *p = v.p, *e = v.p + v.l, *q = decimal(p, e);
	if (!q)
		return CV_EPARSE;
	ts->value = sip_pl(p, q);
	p = sip_skip_ws(q, e);
	if (p == e)
		return 0;
	if (p == q)
		return CV_EPARSE;
	q = decimal(p, e);
	if (!q || q != e)
		return CV_EPARSE;
	ts->delay = sip_pl(p, q);
	return 0;
}

/* Retry-After = delta-seconds [ comment ] *( SEMI retry-param ) */
int cv_sip_retry_after_parse(struct cv_pl value, struct cv_sip_retry_after *ra)
{
	value = sip_nn(value);
	memset(ra, 0, sizeof(*ra));
	ra->duration = -1;
	struct cv_pl v = sip_trim(value);
	const char *p = v.p, *e = v.p + v.l, *end;
	if (u32_digits(p, e, &ra->delta, &end))
		return CV_EPARSE;
	p = sip_skip_ws(end, e);
	if (p < e && *p == '(') {
		/* comment: nested parens, bounded by the value */
		int depth = 0;
		const char *s = p;
		for (; p < e; p++) {
			if (*p == '\\' && p + 1 < e) {
				p++;
				continue;
			}
			if (*p == '(')
				depth++;
			else if (*p == ')' && --depth == 0)
				break;
		}
		if (p >= e)
			return CV_EPARSE;
		ra->comment = sip_pl(s, p + 1);
		p = sip_skip_ws(p + 1, e);
	}
	if (p < e && *p != ';')
		return CV_EPARSE;
	if (hparams(p, e, &ra->params))
		return CV_EPARSE;
	return delta_param(ra->params, "duration", &ra->duration);
}

/* challenge / credentials = auth-scheme LWS auth-param *(COMMA auth-param) */
int cv_sip_auth_parse(struct cv_pl value, bool has_scheme,
		      struct cv_sip_auth *a)
{
	value = sip_nn(value);
	memset(a, 0, sizeof(*a));
	struct cv_pl v = sip_trim(value);
	const char *p = v.p, *e = v.p + v.l;
	if (has_scheme) {
		const char *s = p;
		p = sip_skip_token(p, e);
		if (p == s || (p < e && !sip_is_lws(*p)))
			return CV_EPARSE;
		a->scheme = sip_pl(s, p);
		p = sip_skip_ws(p, e);
	}
	a->params = sip_pl(p, e);
	struct cv_pl rest = a->params, n, pv;
	int err;
	while ((err = cv_sip_auth_param_next(&rest, &n, &pv)) == 0)
		;
	return err == CV_ENOTFOUND ? 0 : CV_EPARSE;
}

int cv_sip_auth_param_next(struct cv_pl *rest, struct cv_pl *name,
			   struct cv_pl *val)
{
	*rest = sip_nn(*rest);
	const char *p = rest->p, *e = rest->p + rest->l;
	p = sip_skip_ws(p, e);
	if (p < e && *p == ',')
		p = sip_skip_ws(p + 1, e);
	if (p >= e)
		return CV_ENOTFOUND;
	const char *s = p;
	p = sip_skip_token(p, e);
	if (p == s)
		return CV_EPARSE;
	*name = sip_pl(s, p);
	p = sip_skip_ws(p, e);
	if (p >= e || *p != '=')
		return CV_EPARSE;
	p = sip_skip_ws(p + 1, e);
	if (p < e && *p == '"') {
		const char *q = sip_skip_quoted(p, e);
		if (!q)
			return CV_EPARSE;
		*val = sip_pl(p + 1, q - 1);
		p = q;
	} else {
		s = p;
		p = sip_skip_token(p, e);
		if (p == s)
			return CV_EPARSE;
		*val = sip_pl(s, p);
	}
	p = sip_skip_ws(p, e);
	if (p < e && *p != ',')
		return CV_EPARSE;
	rest->p = p;
	rest->l = (size_t)(e - p);
	return 0;
}
