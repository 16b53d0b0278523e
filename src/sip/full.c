/* Whole-message checks beyond matching: every known header through its
 * typed parser (cv_sip_msg_parse_full) and the policy checks a UAS or proxy
 * applies (cv_sip_msg_check: RFC 3261 §8.2.2, §16.3). Also multipart
 * bodies (RFC 5621, RFC 2046 §5.1). */
#include <stdio.h>
#include <string.h>

#include "sip_int.h"

/* token (RFC 3261 §25.1), non-empty */
static bool is_token(struct cv_pl v)
{
	return v.l && sip_skip_token(v.p, v.p + v.l) == v.p + v.l;
}

/* warning-value = warn-code SP warn-agent SP warn-text (RFC 3261 §20.43):
 * three digits, a host[:port] or pseudonym, a quoted-string. */
static int warning_check(struct cv_pl v)
{
	const char *p = v.p, *e = v.p + v.l;
	if (e - p < 4 || !sip_is(p[0], SIP_C_DIGIT) ||
	    !sip_is(p[1], SIP_C_DIGIT) || !sip_is(p[2], SIP_C_DIGIT) ||
	    p[3] != ' ')
		return CV_EPARSE;
	p += 4;
	const char *a = p;
	while (p < e &&
	       (sip_is(*p, SIP_C_TOKEN) || *p == ':' || *p == '[' || *p == ']'))
		p++;
	if (p == a || p >= e || *p != ' ' || ++p >= e || *p != '"')
		return CV_EPARSE;
	return sip_skip_quoted(p, e) == e ? 0 : CV_EPARSE;
}

/* Parse one value of a header with the parser for its id; 0 if fine. */
static int check_value(enum cv_sip_hdr_id id, struct cv_pl v)
{
	v = sip_nn(v);
	union {
		struct cv_sip_via via;
		struct cv_sip_naddr na;
		struct cv_sip_contact c;
		struct cv_sip_cseq cs;
		struct cv_sip_ctype ct;
		struct cv_sip_rack ra;
		struct cv_sip_event ev;
		struct cv_sip_substate ss;
		struct cv_sip_session_expires se;
		struct cv_sip_replaces rp;
		struct cv_sip_reason rs;
		struct cv_sip_timestamp ts;
		struct cv_sip_retry_after rta;
		struct cv_sip_auth au;
		struct cv_sip_uri uri;
		uint32_t u;
		int64_t t;
	} x;
	switch (id) {
	case CV_SIP_HDR_VIA: {
		/* branch = token: the transaction key (RFC 3261 §25.1) */
		int err = cv_sip_via_parse(v, &x.via);
		if (err)
			return err;
		return x.via.branch.l && !is_token(x.via.branch) ? CV_EPARSE
								 : 0;
	}
	case CV_SIP_HDR_FROM:
	case CV_SIP_HDR_TO:
	case CV_SIP_HDR_ROUTE:
	case CV_SIP_HDR_RECORD_ROUTE:
	case CV_SIP_HDR_PATH:
	case CV_SIP_HDR_SERVICE_ROUTE:
	case CV_SIP_HDR_REFER_TO:
	case CV_SIP_HDR_REFERRED_BY:
	case CV_SIP_HDR_REPLY_TO:
	case CV_SIP_HDR_P_ASSERTED_IDENTITY:
	case CV_SIP_HDR_P_PREFERRED_IDENTITY:
	case CV_SIP_HDR_HISTORY_INFO:
	case CV_SIP_HDR_DIVERSION:
	case CV_SIP_HDR_CALL_INFO:
	case CV_SIP_HDR_ALERT_INFO:
	case CV_SIP_HDR_ERROR_INFO: {
		int err = cv_sip_naddr_parse(v, &x.na);
		if (err)
			return err;
		/* the address itself must be a URI we can read */
		if (id == CV_SIP_HDR_ROUTE || id == CV_SIP_HDR_RECORD_ROUTE ||
		    id == CV_SIP_HDR_PATH || id == CV_SIP_HDR_SERVICE_ROUTE)
			return x.na.angle ? cv_sip_uri_parse(x.na.uri, &x.uri)
					  : CV_EPARSE;
		return 0;
	}
	case CV_SIP_HDR_CONTACT: {
		/* the Contact URI becomes a remote target or a binding: it
		 * must be a URI we can read (sip:a@[2] is not) */
		int err = cv_sip_contact_parse(v, &x.c);
		if (err || x.c.star)
			return err;
		struct cv_sip_uri cu;
		return cv_sip_uri_parse(x.c.addr.uri, &cu);
	}
	case CV_SIP_HDR_CSEQ:
		return cv_sip_cseq_parse(v, &x.cs);
	case CV_SIP_HDR_CONTENT_LENGTH:
	case CV_SIP_HDR_MAX_FORWARDS:
	case CV_SIP_HDR_EXPIRES:
	case CV_SIP_HDR_MIN_EXPIRES:
	case CV_SIP_HDR_RSEQ:
		return cv_sip_u32_parse(v, &x.u);
	case CV_SIP_HDR_MIN_SE: {
		struct cv_sip_session_expires se;
		return cv_sip_session_expires_parse(v, &se);
	}
	case CV_SIP_HDR_CONTENT_TYPE:
		return cv_sip_ctype_parse(v, &x.ct);
	case CV_SIP_HDR_CONTENT_DISPOSITION:
		return cv_sip_cdisp_parse(v, &x.ct);
	case CV_SIP_HDR_RACK:
		return cv_sip_rack_parse(v, &x.ra);
	case CV_SIP_HDR_EVENT:
	case CV_SIP_HDR_ALLOW_EVENTS:
		return cv_sip_event_parse(v, &x.ev);
	case CV_SIP_HDR_SUBSCRIPTION_STATE:
		return cv_sip_substate_parse(v, &x.ss);
	case CV_SIP_HDR_SESSION_EXPIRES:
		return cv_sip_session_expires_parse(v, &x.se);
	case CV_SIP_HDR_REPLACES:
		return cv_sip_replaces_parse(v, &x.rp);
	case CV_SIP_HDR_REASON:
		return cv_sip_reason_parse(v, &x.rs);
	case CV_SIP_HDR_DATE:
		return cv_sip_date_parse(v, &x.t);
	case CV_SIP_HDR_TIMESTAMP:
		return cv_sip_timestamp_parse(v, &x.ts);
	case CV_SIP_HDR_RETRY_AFTER:
		return cv_sip_retry_after_parse(v, &x.rta);
	case CV_SIP_HDR_AUTHORIZATION:
	case CV_SIP_HDR_PROXY_AUTHORIZATION:
	case CV_SIP_HDR_WWW_AUTHENTICATE:
	case CV_SIP_HDR_PROXY_AUTHENTICATE:
		/* auth-scheme LWS auth-param *(COMMA auth-param): at least
		 * one param (RFC 3261 §25.1 credentials, challenge) */
		return cv_sip_auth_parse(v, true, &x.au) || !x.au.params.l
			       ? CV_EPARSE
			       : 0;
	case CV_SIP_HDR_AUTHENTICATION_INFO:
		return cv_sip_auth_parse(v, false, &x.au);
	case CV_SIP_HDR_SUPPORTED:
	case CV_SIP_HDR_REQUIRE:
	case CV_SIP_HDR_PROXY_REQUIRE:
	case CV_SIP_HDR_UNSUPPORTED:
	case CV_SIP_HDR_ALLOW:
	case CV_SIP_HDR_CONTENT_ENCODING:
	case CV_SIP_HDR_CONTENT_LANGUAGE:
		/* token lists */
		return sip_skip_token(v.p, v.p + v.l) == v.p + v.l && v.l
			       ? 0
			       : CV_EPARSE;
	case CV_SIP_HDR_ACCEPT_ENCODING:
	case CV_SIP_HDR_ACCEPT_LANGUAGE:
		/* token *(SEMI accept-param) */
		return cv_sip_cdisp_parse(v, &x.ct);
	case CV_SIP_HDR_PRIVACY: {
		/* priv-value *(";" priv-value) (RFC 3323 §4.2) */
		for (size_t i = 0; i < v.l; i++)
			if (!sip_is(v.p[i], SIP_C_TOKEN) && v.p[i] != ';' &&
			    !sip_is_lws(v.p[i]))
				return CV_EPARSE;
		return 0;
	}
	case CV_SIP_HDR_ACCEPT: {
		/* media-range *(SEMI accept-param); "*" wildcards are tokens */
		return cv_sip_ctype_parse(v, &x.ct);
	}
	case CV_SIP_HDR_WARNING:
		return warning_check(v);
	default:
		return 0;
	}
}

/* Headers whose value is one item even with commas inside. */
static bool is_list(enum cv_sip_hdr_id id)
{
	switch (id) {
	case CV_SIP_HDR_DATE:
	case CV_SIP_HDR_AUTHORIZATION:
	case CV_SIP_HDR_PROXY_AUTHORIZATION:
	case CV_SIP_HDR_WWW_AUTHENTICATE:
	case CV_SIP_HDR_PROXY_AUTHENTICATE:
	case CV_SIP_HDR_AUTHENTICATION_INFO:
	case CV_SIP_HDR_CALL_ID:
	case CV_SIP_HDR_CSEQ:
	case CV_SIP_HDR_FROM:
	case CV_SIP_HDR_TO:
	case CV_SIP_HDR_MAX_FORWARDS:
	case CV_SIP_HDR_CONTENT_LENGTH:
	case CV_SIP_HDR_CONTENT_TYPE:
	case CV_SIP_HDR_CONTENT_DISPOSITION:
	case CV_SIP_HDR_EXPIRES:
	case CV_SIP_HDR_MIN_EXPIRES:
	case CV_SIP_HDR_RSEQ:
	case CV_SIP_HDR_RACK:
	case CV_SIP_HDR_SESSION_EXPIRES:
	case CV_SIP_HDR_MIN_SE:
	case CV_SIP_HDR_REPLACES:
	case CV_SIP_HDR_SUBSCRIPTION_STATE:
	case CV_SIP_HDR_EVENT:
	case CV_SIP_HDR_TIMESTAMP:
	case CV_SIP_HDR_RETRY_AFTER:
	case CV_SIP_HDR_REFER_TO:
	case CV_SIP_HDR_REFERRED_BY:
	case CV_SIP_HDR_REPLY_TO:
	case CV_SIP_HDR_SUBJECT:
	case CV_SIP_HDR_ORGANIZATION:
	case CV_SIP_HDR_USER_AGENT:
	case CV_SIP_HDR_SERVER:
	case CV_SIP_HDR_PRIORITY:
	case CV_SIP_HDR_MIME_VERSION:
	case CV_SIP_HDR_SIP_ETAG:
	case CV_SIP_HDR_SIP_IF_MATCH:
	case CV_SIP_HDR_PRIVACY:
	case CV_SIP_HDR_OTHER:
		return false;
	default:
		return true;
	}
}

/* Could the header block [p,e) hold a control character a value must not
 * have: a byte < 0x20 other than HT, CR and LF, DEL, or a CR not followed
 * by LF? (An LF inside a value is always a fold: the line scan ends a line
 * at any other LF.) One pass, 16 bytes at a time; most messages have none,
 * and only then is every value walked. e[0] is readable: the message copy
 * is NUL-terminated. */
static bool block_has_ctl(const char *p, const char *e)
{
#ifdef __SSE2__
	if (e - p >= 16) {
		const __m128i top = _mm_set1_epi8(0x1f),
			      ht = _mm_set1_epi8('\t'),
			      cr = _mm_set1_epi8('\r'),
			      lf = _mm_set1_epi8('\n'),
			      del = _mm_set1_epi8(0x7f);
		__m128i acc = _mm_setzero_si128();
		/* the last step overlaps the one before: checking a byte twice
		 * is harmless and saves the scalar tail */
		for (const char *q = p;; q += 16) {
			if (e - q < 16)
				q = e - 16;
			__m128i x = _mm_loadu_si128(
				(const __m128i *)(const void *)q);
			__m128i nx = _mm_loadu_si128(
				(const __m128i *)(const void *)(q + 1));
			__m128i c = _mm_cmpeq_epi8(_mm_min_epu8(x, top), x);
			__m128i ok = _mm_or_si128(_mm_cmpeq_epi8(x, ht),
						  _mm_cmpeq_epi8(x, lf));
			ok = _mm_or_si128(
				ok, _mm_and_si128(_mm_cmpeq_epi8(x, cr),
						  _mm_cmpeq_epi8(nx, lf)));
			acc = _mm_or_si128(acc, _mm_andnot_si128(ok, c));
			acc = _mm_or_si128(acc, _mm_cmpeq_epi8(x, del));
			if (q + 16 >= e)
				break;
		}
		return _mm_movemask_epi8(acc) != 0;
	}
#endif
	for (; p < e; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == 0x7f || (c < 0x20 && c != '\t' && c != '\n' &&
				  (c != '\r' || p[1] != '\n')))
			return true;
	}
	return false;
}

/* RFC 3261 §25.1: a header value holds no control characters except HT,
 * the line break of a fold (CRLF, or the bare LF the line scan accepts,
 * followed by SP/HT), and inside a quoted-string a quoted-pair, which may
 * escape any byte but CR and LF (RFC 4475 §3.1.1.2 escapes NUL, BEL,
 * DEL). Unknown headers are kept verbatim, but not with raw NULs or bare
 * CRs a downstream C string or a proxied copy would misread. */
static bool value_ctl_ok(struct cv_pl v)
{
	const char *p = v.p, *e = v.p + v.l;
	bool inq = false;
	for (; p < e; p++) {
		unsigned char c = (unsigned char)*p;
		if (inq && c == '\\') {
			if (p + 1 >= e || p[1] == '\r' || p[1] == '\n')
				return false;
			p++;
		} else if (c == '"') {
			inq = !inq;
		} else if (c == '\r' || c == '\n') {
			if (c == '\r') {
				if (p + 1 >= e || p[1] != '\n')
					return false;
				p++;
			}
			if (p + 1 >= e || (p[1] != ' ' && p[1] != '\t'))
				return false;
		} else if ((c < 0x20 && c != '\t') || c == 0x7f) {
			return false;
		}
	}
	return true;
}

/* A CR not followed by LF anywhere in a header line, also where the value
 * trim does not look (between the value and the line end: "CSeq: 1 A\r\r\n").
 * Parsers that end lines at a bare CR (sofia-sip does) would see other
 * headers or another body: refused rather than guessed. */
static bool has_bare_cr(const char *p, size_t n)
{
	for (const char *e = p + n;
	     (p = memchr(p, '\r', (size_t)(e - p))) != NULL; p++)
		if (p + 1 >= e || p[1] != '\n')
			return true;
	return false;
}

static const char *bad_reason(enum cv_sip_hdr_id id)
{
	switch (id) {
	case CV_SIP_HDR_VIA:
		return "Malformed Via";
	case CV_SIP_HDR_CONTACT:
		return "Malformed Contact";
	case CV_SIP_HDR_ROUTE:
		return "Malformed Route";
	case CV_SIP_HDR_RECORD_ROUTE:
		return "Malformed Record-Route";
	case CV_SIP_HDR_CONTENT_TYPE:
		return "Malformed Content-Type";
	case CV_SIP_HDR_DATE:
		return "Malformed Date";
	case CV_SIP_HDR_EXPIRES:
		return "Malformed Expires";
	case CV_SIP_HDR_CSEQ:
		return "Malformed CSeq";
	case CV_SIP_HDR_EVENT:
		return "Malformed Event";
	case CV_SIP_HDR_AUTHORIZATION:
		return "Malformed Authorization";
	case CV_SIP_HDR_PROXY_AUTHORIZATION:
		return "Malformed Proxy-Authorization";
	case CV_SIP_HDR_REQUIRE:
		return "Malformed Require";
	case CV_SIP_HDR_SUPPORTED:
		return "Malformed Supported";
	case CV_SIP_HDR_WARNING:
		return "Malformed Warning";
	default:
		return "Malformed header";
	}
}

const char *sip_bad_ctl_reason(enum cv_sip_hdr_id id)
{
	return id == CV_SIP_HDR_OTHER ? "Control character in header"
				      : bad_reason(id);
}

int cv_sip_msg_parse_full(const struct cv_sip_msg *msg,
			  struct cv_sip_verdict *v)
{
	int st = msg->req ? 400 : 0;
	if (v) {
		v->status = 0;
		v->reason = "";
		v->hdrs[0] = '\0';
	}
	if (msg->req) {
		struct cv_sip_uri u;
		if (cv_sip_uri_parse(msg->ruri, &u)) {
			sip_verdict(v, st, "Malformed Request-URI");
			return CV_EPARSE;
		}
		/* RFC 3261 §19.1.1: headers are not allowed in a Request-URI */
		if (u.headers.l) {
			sip_verdict(v, st, "Headers in Request-URI");
			return CV_EPARSE;
		}
	}
	/* Call-ID = word [ "@" word ] (RFC 3261 §25.1) */
	unsigned ats = 0;
	for (size_t i = 0; i < msg->call_id.l; i++) {
		char c = msg->call_id.p[i];
		if (c == '@')
			ats++;
		else if (!sip_is(c, SIP_C_WORD))
			ats = 2;
	}
	if (ats > 1) {
		sip_verdict(v, st, "Malformed Call-ID");
		return CV_EPARSE;
	}
	struct cv_sip_naddr *ft[2] = {(struct cv_sip_naddr *)&msg->from,
				      (struct cv_sip_naddr *)&msg->to};
	for (int i = 0; i < 2; i++) {
		struct cv_sip_uri u;
		if (cv_sip_uri_parse(ft[i]->uri, &u)) {
			sip_verdict(v, st,
				    i ? "Malformed To URI"
				      : "Malformed From URI");
			return CV_EPARSE;
		}
		/* tag = token (RFC 3261 §25.1) */
		if (ft[i]->tag.l && !is_token(ft[i]->tag)) {
			sip_verdict(v, st,
				    i ? "Malformed To" : "Malformed From");
			return CV_EPARSE;
		}
	}
	/* the top Via, parsed eagerly: its branch is a token too */
	if (msg->via.branch.l && !is_token(msg->via.branch)) {
		sip_verdict(v, st, "Malformed Via");
		return CV_EPARSE;
	}
	bool ctl =
		msg->headers.l &&
		block_has_ctl(msg->headers.p, msg->headers.p + msg->headers.l);
	for (uint32_t i = 0; i < msg->nhdrs; i++) {
		const struct cv_sip_hdr *h = &msg->hdrs[i];
		enum cv_sip_hdr_id id = (enum cv_sip_hdr_id)h->id;
		int err = 0;
		if (ctl && (!value_ctl_ok(h->value) ||
			    has_bare_cr(h->name.p, h->line_len))) {
			sip_verdict(v, st, sip_bad_ctl_reason(id));
			return CV_EPARSE;
		}
		switch (id) {
		case CV_SIP_HDR_FROM:
		case CV_SIP_HDR_TO:
		case CV_SIP_HDR_CALL_ID:
		case CV_SIP_HDR_CSEQ:
		case CV_SIP_HDR_MAX_FORWARDS:
		case CV_SIP_HDR_CONTENT_LENGTH:
			/* parsed and checked by cv_sip_msg_parse already */
			continue;
		case CV_SIP_HDR_VIA:
			if (i == msg->first[CV_SIP_HDR_VIA] &&
			    !sip_find_byte_lo(msg->buf, h->value.p,
					      h->value.p + h->value.l, ','))
				continue; /* the top Via, parsed eagerly */
			break;
		default:
			break;
		}
		if (is_list(id)) {
			struct cv_pl rest = h->value, item;
			if (id == CV_SIP_HDR_CONTACT ||
			    id == CV_SIP_HDR_ROUTE ||
			    id == CV_SIP_HDR_RECORD_ROUTE ||
			    id == CV_SIP_HDR_VIA) {
				/* empty list elements (",,") are malformed here
				 */
				const char *p = rest.p, *e = rest.p + rest.l;
				bool seen = false;
				while (p < e && !err) {
					const char *s = p;
					for (;;) {
						p = sip_find3_lo(rest.p, p, e,
								 ',', '"', '<');
						if (p >= e || *p == ',')
							break;
						const char *q =
							*p == '"'
								? sip_skip_quoted(
									  p, e)
								: sip_find_byte_lo(
									  rest.p,
									  p, e,
									  '>');
						p = !q		? e
						    : *p == '"' ? q
								: q + 1;
					}
					item = sip_trim(sip_pl(s, p));
					if (!item.l)
						err = CV_EPARSE;
					else
						err = check_value(id, item);
					seen = true;
					if (p < e)
						p++;
					if (p == e && e > rest.p &&
					    e[-1] == ',')
						err = CV_EPARSE;
				}
				if (!seen)
					err = CV_EPARSE;
			} else {
				while (!err &&
				       cv_sip_list_next(&rest, &item) == 0)
					err = check_value(id, item);
			}
		} else if (id != CV_SIP_HDR_OTHER) {
			err = check_value(id, h->value);
		}
		if (err) {
			sip_verdict(v, st, bad_reason(id));
			return CV_EPARSE;
		}
	}
	/* Contact "*" only alone (RFC 3261 §10.3 step 6 gives 400) */
	struct cv_sip_vals_iter it = {0};
	struct cv_pl c;
	unsigned n = 0, stars = 0;
	while (cv_sip_msg_vals_next(msg, CV_SIP_HDR_CONTACT, &it, &c) == 0) {
		n++;
		if (c.l == 1 && c.p[0] == '*')
			stars++;
	}
	if (stars && n > 1) {
		sip_verdict(v, st, "Contact * with other contacts");
		return CV_EPARSE;
	}
	return 0;
}

int cv_sip_msg_check(const struct cv_sip_msg *msg,
		     const struct cv_sip_policy *pol, struct cv_sip_verdict *v)
{
	static const struct cv_sip_policy none;
	if (!pol)
		pol = &none;
	if (v) {
		v->status = 0;
		v->reason = "";
		v->hdrs[0] = '\0';
	}
	if (!msg->req)
		return 0;
	struct cv_sip_uri u;
	if (cv_sip_uri_parse(msg->ruri, &u)) {
		sip_verdict(v, 400, "Malformed Request-URI");
		return CV_EPARSE;
	}
	if (u.scheme == CV_SIP_SCHEME_OTHER ||
	    (u.scheme == CV_SIP_SCHEME_TEL && !pol->allow_tel)) {
		sip_verdict(v, 416, "Request-URI scheme not supported");
		return CV_EPARSE;
	}
	/* §8.2.2.3: Require (and at a proxy Proxy-Require) tags we do not
	 * know give 420 listing them in Unsupported; never for ACK/CANCEL */
	if (msg->method != CV_SIP_ACK && msg->method != CV_SIP_CANCEL) {
		enum cv_sip_hdr_id ids[2] = {CV_SIP_HDR_REQUIRE,
					     CV_SIP_HDR_PROXY_REQUIRE};
		size_t used = 0;
		for (int k = 0; k < (pol->proxy ? 2 : 1); k++) {
			struct cv_sip_vals_iter it = {0};
			struct cv_pl tag;
			while (cv_sip_msg_vals_next(msg, ids[k], &it, &tag) ==
			       0) {
				bool known = false;
				for (const char *const *s = pol->supported;
				     s && *s; s++)
					if (cv_pl_caseeq_str(tag, *s))
						known = true;
				if (known)
					continue;
				if (v) {
					int w = snprintf(
						v->hdrs + used,
						sizeof(v->hdrs) - used,
						"Unsupported: " CV_PL_FMT
						"\r\n",
						CV_PL_ARG(tag));
					if (w > 0 &&
					    (size_t)w < sizeof(v->hdrs) - used)
						used += (size_t)w;
					else
						v->hdrs[used] = '\0';
				}
				sip_verdict(v, 420,
					    "Require lists an unsupported "
					    "option tag");
			}
		}
		if (v && v->status == 420)
			return CV_EPARSE;
	}
	/* §16.3 step 2: a proxy answers Max-Forwards 0 with 483 (OPTIONS may
	 * be answered by the proxy itself, §11) */
	if (pol->proxy && msg->max_forwards == 0 &&
	    msg->method != CV_SIP_OPTIONS) {
		sip_verdict(v, 483, "Max-Forwards is 0");
		return CV_EPARSE;
	}
	return 0;
}

/* mechanism = "7bit" / "8bit" / "binary" / "quoted-printable" / "base64"
 * / ietf-token / x-token, case-insensitive (RFC 2045 §6.1) */
static enum cv_sip_cte cte_kind(struct cv_pl v)
{
	if (!v.l || sip_ci_lit(v, "7bit") || sip_ci_lit(v, "8bit") ||
	    sip_ci_lit(v, "binary"))
		return CV_SIP_CTE_IDENTITY;
	if (sip_ci_lit(v, "base64"))
		return CV_SIP_CTE_BASE64;
	if (sip_ci_lit(v, "quoted-printable"))
		return CV_SIP_CTE_QUOTED_PRINTABLE;
	return CV_SIP_CTE_OTHER;
}

/* RFC 2045 §6.8 through base's MIME decoder: line breaks and white space
 * skipped; a byte outside the alphabet, data after the padding or a
 * partial quantum is refused (a decoder that skipped them would read
 * other content than a strict one). */
static int b64_decode(struct cv_pl in, struct cv_buf *out)
{
	int err = cv_buf_reserve(out, in.l / 4 * 3 + 3);
	if (err)
		return err;
	size_t n = 0;
	err = cv_base64_decode(in, (uint8_t *)out->data + out->len,
			       out->cap - out->len, &n, CV_BASE64_MIME);
	if (err)
		return err;
	out->len += n;
	return 0;
}

static int hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = sip_lower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* RFC 2045 §6.7: "=XX" is a byte, "=" at a line end a soft break,
 * trailing white space before a line break is dropped; a bare "=" or bad
 * hex digits are refused. */
static int qp_decode(struct cv_pl in, struct cv_buf *out)
{
	const char *p = in.p, *e = in.p + in.l;
	while (p < e) {
		const char *le = memchr(p, '\n', (size_t)(e - p));
		const char *next = le ? le + 1 : e;
		const char *te = le ? le : e;
		if (te > p && te[-1] == '\r')
			te--;
		while (te > p && (te[-1] == ' ' || te[-1] == '\t'))
			te--;
		bool soft = false;
		for (const char *q = p; q < te; q++) {
			if (*q != '=') {
				cv_buf_append(out, q, 1);
				continue;
			}
			if (q + 1 == te) {
				soft = true;
				break;
			}
			int hi, lo;
			if (te - q < 3 || (hi = hex_val(q[1])) < 0 ||
			    (lo = hex_val(q[2])) < 0)
				return CV_EPARSE;
			unsigned char c = (unsigned char)(hi * 16 + lo);
			cv_buf_append(out, &c, 1);
			q += 2;
		}
		if (le && !soft)
			cv_buf_append(out, "\r\n", 2);
		p = next;
	}
	return 0;
}

int cv_sip_part_decode(const struct cv_sip_part *part, struct cv_buf *out)
{
	struct cv_pl b = sip_nn(part->body);
	size_t start = out->len;
	int err;
	switch (part->cte_kind) {
	case CV_SIP_CTE_IDENTITY:
		err = 0;
		cv_buf_append(out, b.p, b.l);
		break;
	case CV_SIP_CTE_BASE64:
		err = b64_decode(b, out);
		break;
	case CV_SIP_CTE_QUOTED_PRINTABLE:
		err = qp_decode(b, out);
		break;
	default:
		return CV_EUNSUPP;
	}
	if (!err && out->err)
		err = out->err;
	if (err)
		out->len = start;
	return err;
}

/* RFC 2046 §5.1.1: parts are separated by CRLF "--" boundary; the last
 * delimiter is followed by "--". */
int cv_sip_multipart_split(struct cv_pl content_type, struct cv_pl body,
			   struct cv_sip_part *parts, size_t max, size_t *n)
{
	content_type = sip_nn(content_type);
	body = sip_nn(body);
	struct cv_sip_ctype ct;
	struct cv_pl bnd;
	*n = 0;
	if (cv_sip_ctype_parse(content_type, &ct) ||
	    !sip_ci_lit(ct.type, "multipart") ||
	    cv_sip_param_get(ct.params, "boundary", &bnd) || !bnd.l ||
	    bnd.l > 70)
		return CV_EPARSE;
	const char *p = body.p, *e = body.p + body.l;
	/* find the first delimiter ("--" boundary at a line start) */
	const char *cur = NULL;
	for (const char *q = p; q + 2 + bnd.l <= e; q++) {
		if ((q == p || q[-1] == '\n') && q[0] == '-' && q[1] == '-' &&
		    !memcmp(q + 2, bnd.p, bnd.l)) {
			cur = q + 2 + bnd.l;
			break;
		}
	}
	if (!cur)
		return CV_EPARSE;
	for (;;) {
		if (e - cur >= 2 && cur[0] == '-' && cur[1] == '-')
			return 0; /* close delimiter */
		/* rest of the delimiter line */
		const char *nl = memchr(cur, '\n', (size_t)(e - cur));
		if (!nl)
			return CV_EPARSE;
		const char *ps = nl + 1;
		/* next delimiter: CRLF "--" boundary */
		const char *next = NULL, *q;
		for (q = ps; q + 2 + bnd.l <= e; q++) {
			if ((q == ps || q[-1] == '\n') && q[0] == '-' &&
			    q[1] == '-' && !memcmp(q + 2, bnd.p, bnd.l)) {
				next = q;
				break;
			}
		}
		if (!next)
			return CV_EPARSE;
		const char *pe = next;
		if (pe > ps && pe[-1] == '\n')
			pe--;
		if (pe > ps && pe[-1] == '\r')
			pe--;
		if (*n >= max)
			return CV_ETOOBIG;
		struct cv_sip_part *part = &parts[(*n)++];
		memset(part, 0, sizeof(*part));
		/* part headers end at the first empty line */
		size_t hend = sip_headers_end(
			ps - 1 >= body.p && ps[-1] == '\n' ? ps - 1 : ps,
			(size_t)(pe - ps) + 1);
		const char *bs;
		if (pe > ps && (*ps == '\n' || (*ps == '\r' && ps + 1 < pe &&
						ps[1] == '\n'))) {
			/* no part headers: implicit text/plain (RFC 2046 §5.1)
			 */
			bs = ps + (*ps == '\n' ? 1 : 2);
			part->headers = sip_pl(ps, ps);
		} else if (hend) {
			bs = ps - 1 + hend;
			part->headers = sip_pl(ps, bs);
		} else {
			return CV_EPARSE;
		}
		part->body = sip_pl(bs, pe >= bs ? pe : bs);
		/* the part's Content-Type and Content-Transfer-Encoding */
		const char *l = part->headers.p,
			   *he = part->headers.p + part->headers.l;
		while (l < he) {
			const char *le = memchr(l, '\n', (size_t)(he - l));
			le = le ? le + 1 : he;
			const char *c = memchr(l, ':', (size_t)(le - l));
			struct cv_pl hn = c ? sip_trim(sip_pl(l, c))
					    : (struct cv_pl){l, 0};
			if (c && sip_ci_lit(hn, "content-type"))
				part->content_type =
					sip_trim(sip_pl(c + 1, le));
			else if (c &&
				 sip_ci_lit(hn, "content-transfer-encoding"))
				part->cte = sip_trim(sip_pl(c + 1, le));
			l = le;
		}
		part->cte_kind = cte_kind(part->cte);
		cur = next + 2 + bnd.l;
	}
}
