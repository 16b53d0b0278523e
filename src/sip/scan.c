/* Shared scanners: quoted strings, tokens, parameters, comma lists,
 * host[:port] (RFC 3261 §25.1, RFC 5118 for IPv6 references). */
#include <arpa/inet.h>
#include <string.h>

#include "sip_int.h"

void sip_verdict(struct cv_sip_verdict *v, int status, const char *reason)
{
	if (!v)
		return;
	v->status = status;
	v->reason = reason;
}

/* RFC 3261 §25.1: quoted-string = SWS DQUOTE *(qdtext / quoted-pair ) DQUOTE
 * qdtext excludes CTLs other than LWS; quoted-pair may escape any octet but
 * CR and LF. */
const char *sip_skip_quoted(const char *p, const char *e)
{
	p++;
	while (p < e) {
#if defined(__SSE2__)
		/* 16 bytes at a time to the next '"', '\\' or control */
		const __m128i lo = _mm_set1_epi8(0x1f), dq = _mm_set1_epi8('"'),
			      bs = _mm_set1_epi8('\\'),
			      del = _mm_set1_epi8(0x7f);
		while (e - p >= 16) {
			__m128i x = _mm_loadu_si128(
				(const __m128i *)(const void *)p);
			__m128i m = _mm_cmpeq_epi8(_mm_min_epu8(x, lo), x);
			m = _mm_or_si128(m, _mm_cmpeq_epi8(x, dq));
			m = _mm_or_si128(m, _mm_cmpeq_epi8(x, bs));
			m = _mm_or_si128(m, _mm_cmpeq_epi8(x, del));
			unsigned mask = (unsigned)_mm_movemask_epi8(m);
			if (mask) {
				p += __builtin_ctz(mask);
				break;
			}
			p += 16;
		}
		if (p >= e)
			return NULL;
#endif
		unsigned char c = (unsigned char)*p;
		if (c == '"')
			return p + 1;
		if (c == '\\') {
			if (p + 1 >= e || p[1] == '\r' || p[1] == '\n')
				return NULL;
			p += 2;
			continue;
		}
		if ((c < 0x20 && c != '\t' && c != '\r' && c != '\n') ||
		    c == 0x7f)
			return NULL;
		p++;
	}
	return NULL;
}

bool sip_ipv6_valid(struct cv_pl h)
{
	h = sip_nn(h);
	char tmp[64];
	unsigned char out[16];
	if (h.l == 0 || h.l >= sizeof(tmp))
		return false;
	memcpy(tmp, h.p, h.l);
	tmp[h.l] = '\0';
	return inet_pton(AF_INET6, tmp, out) == 1;
}

/* hostname = *( domainlabel "." ) toplabel [ "." ], labels alnum/'-';
 * IPv4 dotted quads are a subset of this character set (SIP_C_HOST, with
 * '_' tolerated); it must not start with '.' or '-'. */
int sip_hostport_parse(struct cv_pl hp, struct cv_pl *host, bool *ipv6,
		       uint16_t *port, struct cv_pl *port_pl)
{
	hp = sip_nn(hp);
	const char *p = hp.p, *e = hp.p + hp.l;
	*ipv6 = false;
	*port = 0;
	if (port_pl)
		*port_pl = (struct cv_pl){NULL, 0};
	if (p >= e)
		return CV_EPARSE;
	if (*p == '[') {
		const char *rb = memchr(p, ']', (size_t)(e - p));
		if (!rb)
			return CV_EPARSE;
		*host = sip_pl(p + 1, rb);
		if (!sip_ipv6_valid(*host))
			return CV_EPARSE;
		*ipv6 = true;
		p = rb + 1;
	} else {
		/* hostname characters up to ':' or the end, 16 bytes at
		 * a time */
		const char *c = sip_skip_host_lo(hp.p, p, e);
		if ((c < e && *c != ':') || c == p || *p == '.' || *p == '-')
			return CV_EPARSE;
		*host = sip_pl(p, c);
		p = c;
	}
	if (p == e)
		return 0;
	if (*p != ':')
		return CV_EPARSE;
	p++;
	if (p == e || e - p > 5)
		return CV_EPARSE;
	uint32_t n = 0;
	for (const char *d = p; d < e; d++) {
		if (*d < '0' || *d > '9')
			return CV_EPARSE;
		n = n * 10 + (uint32_t)(*d - '0');
	}
	if (n > 65535)
		return CV_EPARSE;
	*port = (uint16_t)n;
	if (port_pl)
		*port_pl = sip_pl(p, e);
	return 0;
}

int cv_sip_list_next(struct cv_pl *rest, struct cv_pl *item)
{
	*rest = sip_nn(*rest);
	const char *p = rest->p, *e = rest->p + rest->l;
	while (p < e && (sip_is_lws(*p) || *p == ','))
		p++;
	if (p >= e) {
		rest->p = e;
		rest->l = 0;
		return CV_ENOTFOUND;
	}
	const char *s = p;
	for (;;) {
		p = sip_find3_lo(rest->p, p, e, ',', '"', '<');
		if (p >= e || *p == ',')
			break;
		if (*p == '"') {
			const char *q = sip_skip_quoted(p, e);
			p = q ? q : e;
		} else {
			const char *q = sip_find_byte_lo(rest->p, p, e, '>');
			p = q ? q + 1 : e;
		}
	}
	*item = sip_trim(sip_pl(s, p));
	rest->p = p;
	rest->l = (size_t)(e - p);
	return 0;
}

int cv_sip_param_next(struct cv_pl *rest, struct cv_pl *name, struct cv_pl *val)
{
	*rest = sip_nn(*rest);
	return sip_param_next(rest, name, val);
}

int cv_sip_param_get(struct cv_pl params, const char *name, struct cv_pl *val)
{
	params = sip_nn(params);
	struct cv_pl n, v;
	int err;
	while ((err = cv_sip_param_next(&params, &n, &v)) == 0) {
		if (cv_pl_caseeq_str(n, name)) {
			if (val)
				*val = v;
			return 0;
		}
	}
	return CV_ENOTFOUND;
}
