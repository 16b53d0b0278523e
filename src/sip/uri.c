/* SIP, SIPS and tel URIs: parse (RFC 3261 §19.1, §25.1; RFC 3966; RFC 5118
 * IPv6 references) and comparison (RFC 3261 §19.1.4, RFC 3966 §4). */
#include <arpa/inet.h>
#include <string.h>

#include "sip_int.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = sip_lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Every char is in cls, or an escape "%" HEX HEX. */
static bool chars_ok(struct cv_pl s, uint16_t cls, const char *extra)
{
	s = sip_nn(s);
	for (size_t i = 0; i < s.l; i++) {
		char c = s.p[i];
		if (sip_is(c, cls))
			continue;
		if (c == '%') {
			if (i + 2 >= s.l || hexval(s.p[i + 1]) < 0 ||
			    hexval(s.p[i + 2]) < 0)
				return false;
			i += 2;
			continue;
		}
		if (extra && c && strchr(extra, c))
			continue;
		return false;
	}
	return true;
}

int cv_sip_unescape(struct cv_pl in, char *dst, size_t size)
{
	in = sip_nn(in);
	size_t n = 0;
	for (size_t i = 0; i < in.l; i++) {
		char c = in.p[i];
		if (c == '%') {
			if (i + 2 >= in.l || hexval(in.p[i + 1]) < 0 ||
			    hexval(in.p[i + 2]) < 0)
				return CV_EPARSE;
			c = (char)(hexval(in.p[i + 1]) * 16 +
				   hexval(in.p[i + 2]));
			i += 2;
		}
		if (dst && n + 1 < size)
			dst[n] = c;
		n++;
	}
	if (dst && size)
		dst[n < size ? n : size - 1] = '\0';
	return n > INT32_MAX ? CV_ETOOBIG : (int)n;
}

int cv_sip_escape_user(struct cv_buf *out, struct cv_pl user)
{
	user = sip_nn(user);
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < user.l; i++) {
		char c = user.p[i];
		if (sip_is(c, SIP_C_UNRES | SIP_C_USER)) {
			cv_buf_append(out, &c, 1);
		} else {
			char e[3] = {'%', hex[(unsigned char)c >> 4],
				     hex[c & 15]};
			cv_buf_append(out, e, 3);
		}
	}
	return out->err;
}

/* uri-parameters: *( ";" pname [ "=" pvalue ] ), paramchar only. */
static bool params_ok(struct cv_pl s)
{
	s = sip_nn(s);
	const char *p = s.p, *e = s.p + s.l;
	while (p < e) {
		if (*p != ';')
			return false;
		p++;
		const char *n = p;
		while (p < e && *p != ';')
			p++;
		struct cv_pl item = sip_pl(n, p);
		const char *eq = memchr(item.p, '=', item.l);
		struct cv_pl pname = eq ? sip_pl(item.p, eq) : item;
		if (!pname.l ||
		    !chars_ok(pname, SIP_C_UNRES | SIP_C_PARAM, NULL))
			return false;
		if (eq) {
			struct cv_pl pv = sip_pl(eq + 1, item.p + item.l);
			if (!pv.l ||
			    !chars_ok(pv, SIP_C_UNRES | SIP_C_PARAM, NULL))
				return false;
		}
	}
	return true;
}

/* headers: hname "=" hvalue *( "&" hname "=" hvalue ) */
static bool headers_ok(struct cv_pl s)
{
	s = sip_nn(s);
	const char *p = s.p, *e = s.p + s.l;
	if (!s.l)
		return false;
	while (p <= e) {
		const char *a = p;
		while (p < e && *p != '&')
			p++;
		struct cv_pl item = sip_pl(a, p);
		const char *eq = memchr(item.p, '=', item.l);
		if (!eq || eq == item.p)
			return false;
		if (!chars_ok(sip_pl(item.p, eq), SIP_C_UNRES | SIP_C_HNV,
			      NULL) ||
		    !chars_ok(sip_pl(eq + 1, item.p + item.l),
			      SIP_C_UNRES | SIP_C_HNV, NULL))
			return false;
		if (p == e)
			break;
		p++;
	}
	return true;
}

static int parse_sip(const char *p, const char *e, struct cv_sip_uri *u)
{
	/* userinfo ends at the first '@' (neither user nor password may hold
	 * an unescaped '@', and hostport never does) */
	const char *at = memchr(p, '@', (size_t)(e - p));
	if (at) {
		const char *colon = memchr(p, ':', (size_t)(at - p));
		u->user = sip_pl(p, colon ? colon : at);
		if (colon)
			u->password = sip_pl(colon + 1, at);
		if (!u->user.l)
			return CV_EPARSE;
		if (!chars_ok(u->user, SIP_C_UNRES | SIP_C_USER, NULL))
			return CV_EPARSE;
		if (colon &&
		    !chars_ok(u->password, SIP_C_UNRES | SIP_C_PASS, NULL))
			return CV_EPARSE;
		p = at + 1;
	}
	const char *h = p;
	if (p < e && *p == '[') {
		const char *rb = memchr(p, ']', (size_t)(e - p));
		if (!rb)
			return CV_EPARSE;
		p = rb + 1;
	}
	while (p < e && *p != ';' && *p != '?')
		p++;
	int err = sip_hostport_parse(sip_pl(h, p), &u->host, &u->ipv6, &u->port,
				     &u->port_pl);
	if (err)
		return err;
	const char *ps = p;
	while (p < e && *p != '?')
		p++;
	u->params = sip_pl(ps, p);
	if (u->params.l && !params_ok(u->params))
		return CV_EPARSE;
	if (p < e) {
		u->headers = sip_pl(p + 1, e);
		if (!headers_ok(u->headers))
			return CV_EPARSE;
	}
	return 0;
}

/* RFC 3966 §3: telephone-subscriber *par */
static int parse_tel(const char *p, const char *e, struct cv_sip_uri *u)
{
	const char *s = p;
	while (p < e && *p != ';')
		p++;
	u->user = sip_pl(s, p);
	if (!u->user.l)
		return CV_EPARSE;
	size_t i = u->user.p[0] == '+' ? 1 : 0;
	size_t digits = 0;
	for (; i < u->user.l; i++) {
		char c = u->user.p[i];
		if (hexval(c) >= 0 || c == '*' || c == '#')
			digits++;
		else if (c != '-' && c != '.' && c != '(' && c != ')')
			return CV_EPARSE;
	}
	if (!digits)
		return CV_EPARSE;
	u->params = sip_pl(p, e);
	if (u->params.l && !params_ok(u->params))
		return CV_EPARSE;
	return 0;
}

int cv_sip_uri_parse(struct cv_pl text, struct cv_sip_uri *u)
{
	text = sip_nn(text);
	memset(u, 0, sizeof(*u));
	const char *p = text.p, *e = text.p + text.l;
	if (p >= e || !sip_is(*p, SIP_C_ALPHA))
		return CV_EPARSE;
	const char *s = p;
	while (p < e && (sip_is(*p, SIP_C_ALPHA | SIP_C_DIGIT) || *p == '+' ||
			 *p == '-' || *p == '.'))
		p++;
	if (p >= e || *p != ':')
		return CV_EPARSE;
	u->scheme_pl = sip_pl(s, p);
	p++;
	/* no controls, spaces, '<' '>' '"' anywhere (16 bytes at a time) */
	if (sip_scan_until(p, e, '<', '>', '"') != e)
		return CV_EPARSE;
	if (sip_ci_lit(u->scheme_pl, "sip"))
		u->scheme = CV_SIP_SCHEME_SIP;
	else if (sip_ci_lit(u->scheme_pl, "sips"))
		u->scheme = CV_SIP_SCHEME_SIPS;
	else if (sip_ci_lit(u->scheme_pl, "tel"))
		u->scheme = CV_SIP_SCHEME_TEL;
	else {
		u->scheme = CV_SIP_SCHEME_OTHER;
		u->opaque = sip_pl(p, e);
		return u->opaque.l ? 0 : CV_EPARSE;
	}
	u->opaque = sip_pl(p, e);
	if (u->scheme == CV_SIP_SCHEME_TEL)
		return parse_tel(p, e, u);
	return parse_sip(p, e, u);
}

int cv_sip_uri_param(const struct cv_sip_uri *uri, const char *name,
		     struct cv_pl *val)
{
	return cv_sip_param_get(uri->params, name, val);
}

/* Compare two escaped strings after unescaping; ci: case-insensitive. */
static bool esc_eq(struct cv_pl a, struct cv_pl b, bool ci)
{
	a = sip_nn(a);
	b = sip_nn(b);
	size_t i = 0, j = 0;
	for (;;) {
		if (i >= a.l || j >= b.l)
			return i >= a.l && j >= b.l;
		char ca = a.p[i], cb = b.p[j];
		if (ca == '%' && i + 2 < a.l && hexval(a.p[i + 1]) >= 0 &&
		    hexval(a.p[i + 2]) >= 0) {
			ca = (char)(hexval(a.p[i + 1]) * 16 +
				    hexval(a.p[i + 2]));
			i += 2;
		}
		if (cb == '%' && j + 2 < b.l && hexval(b.p[j + 1]) >= 0 &&
		    hexval(b.p[j + 2]) >= 0) {
			cb = (char)(hexval(b.p[j + 1]) * 16 +
				    hexval(b.p[j + 2]));
			j += 2;
		}
		if (ci) {
			ca = sip_lower(ca);
			cb = sip_lower(cb);
		}
		if (ca != cb)
			return false;
		i++;
		j++;
	}
}

/* Look a uri-parameter up by name in a list (names unescaped,
 * case-insensitive): 0 absent, 1 present with a value equal to want (any
 * occurrence), -1 present but never equal. */
static int uparam_match(struct cv_pl params, char sep, struct cv_pl name,
			struct cv_pl want)
{
	params = sip_nn(params);
	const char *p = params.p, *e = params.p + params.l;
	int found = 0;
	while (p < e) {
		if (*p == sep)
			p++;
		const char *s = p;
		while (p < e && *p != sep)
			p++;
		struct cv_pl item = sip_pl(s, p);
		const char *eq = memchr(item.p, '=', item.l);
		struct cv_pl n = eq ? sip_pl(item.p, eq) : item;
		if (esc_eq(n, name, true)) {
			struct cv_pl v = eq ? sip_pl(eq + 1, item.p + item.l)
					    : sip_pl(p, p);
			if (esc_eq(v, want, true))
				return 1;
			found = -1;
		}
	}
	return found;
}

static bool params_cmp(struct cv_pl a, struct cv_pl b, char sep, bool all)
{
	a = sip_nn(a);
	b = sip_nn(b);
	/* every param of a that b also has must be equal; the special ones
	 * (or, for tel/headers, all) must appear in both */
	static const char *const special[] = {"user", "ttl", "method", "maddr",
					      "transport"};
	const char *p = a.p, *e = a.p + a.l;
	while (p < e) {
		if (*p == sep)
			p++;
		const char *s = p;
		while (p < e && *p != sep)
			p++;
		struct cv_pl item = sip_pl(s, p);
		if (!item.l)
			continue;
		const char *eq = memchr(item.p, '=', item.l);
		struct cv_pl n = eq ? sip_pl(item.p, eq) : item;
		struct cv_pl av =
			eq ? sip_pl(eq + 1, item.p + item.l) : sip_pl(p, p);
		int m = uparam_match(b, sep, n, av);
		if (m < 0)
			return false;
		if (m > 0)
			continue;
		if (all)
			return false;
		for (size_t k = 0; k < CV_ARRAY_SIZE(special); k++)
			if (esc_eq(n, cv_pl_str(special[k]), true))
				return false;
	}
	return true;
}

static bool tel_num_eq(struct cv_pl a, struct cv_pl b)
{
	a = sip_nn(a);
	b = sip_nn(b);
	size_t i = 0, j = 0;
	for (;;) {
		while (i < a.l && strchr("-.()", a.p[i]))
			i++;
		while (j < b.l && strchr("-.()", b.p[j]))
			j++;
		if (i >= a.l || j >= b.l)
			return i >= a.l && j >= b.l;
		if (sip_lower(a.p[i]) != sip_lower(b.p[j]))
			return false;
		i++;
		j++;
	}
}

bool cv_sip_uri_eq(const struct cv_sip_uri *a, const struct cv_sip_uri *b)
{
	if (a->scheme != b->scheme)
		return false;
	switch (a->scheme) {
	case CV_SIP_SCHEME_OTHER:
		return cv_pl_casecmp_eq(a->scheme_pl, b->scheme_pl) &&
		       esc_eq(a->opaque, b->opaque, false);
	case CV_SIP_SCHEME_TEL:
		return tel_num_eq(a->user, b->user) &&
		       params_cmp(a->params, b->params, ';', true) &&
		       params_cmp(b->params, a->params, ';', true);
	default:
		break;
	}
	if ((a->user.p != NULL) != (b->user.p != NULL) ||
	    !esc_eq(a->user, b->user, false))
		return false;
	if ((a->password.p != NULL) != (b->password.p != NULL) ||
	    !esc_eq(a->password, b->password, false))
		return false;
	if (a->ipv6 != b->ipv6)
		return false;
	if (a->ipv6) {
		if (!sip_ipv6_valid(a->host) || !sip_ipv6_valid(b->host))
			return false;
		/* RFC 5118 §4.8/§4.9: compare the addresses, not their text */
		char ta[64], tb[64];
		unsigned char xa[16], xb[16];
		cv_pl_strcpy(a->host, ta, sizeof(ta));
		cv_pl_strcpy(b->host, tb, sizeof(tb));
		if (inet_pton(AF_INET6, ta, xa) != 1 ||
		    inet_pton(AF_INET6, tb, xb) != 1 || memcmp(xa, xb, 16) != 0)
			return false;
	} else if (!cv_pl_casecmp_eq(a->host, b->host)) {
		return false;
	}
	if ((a->port_pl.l != 0) != (b->port_pl.l != 0) || a->port != b->port)
		return false;
	if (!params_cmp(a->params, b->params, ';', false) ||
	    !params_cmp(b->params, a->params, ';', false))
		return false;
	return params_cmp(a->headers, b->headers, '&', true) &&
	       params_cmp(b->headers, a->headers, '&', true);
}

bool cv_sip_uri_eq_text(struct cv_pl a, struct cv_pl b)
{
	a = sip_nn(a);
	b = sip_nn(b);
	struct cv_sip_uri ua, ub;
	if (cv_sip_uri_parse(a, &ua) || cv_sip_uri_parse(b, &ub))
		return false;
	return cv_sip_uri_eq(&ua, &ub);
}
