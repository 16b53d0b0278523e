/* Private helpers of src/sip: character classes and small scanners. */
#ifndef CV_SIP_INT_H
#define CV_SIP_INT_H

#include "cvoip/sip.h"

/* Character classes (RFC 3261 §25.1). */
enum {
	SIP_C_TOKEN = 1 << 0,    /* token: alphanum -.!%*_+`'~ */
	SIP_C_WS = 1 << 1,       /* SP HT CR LF (LWS inside a value slice) */
	SIP_C_UNRES = 1 << 2,    /* unreserved: alphanum mark */
	SIP_C_USER = 1 << 3,     /* user-unreserved &=+$,;?/ */
	SIP_C_PASS = 1 << 4,     /* password chars &=+$, */
	SIP_C_PARAM = 1 << 5,    /* param-unreserved []/:&+$ */
	SIP_C_HNV = 1 << 6,      /* hnv-unreserved []/?:+$ */
	SIP_C_HEX = 1 << 7,
	SIP_C_DIGIT = 1 << 8,
	SIP_C_ALPHA = 1 << 9,
	SIP_C_HOST = 1 << 10,    /* alphanum - . (hostname) */
	SIP_C_WORD = 1 << 11,    /* word (Call-ID) */
};

extern const uint16_t sip_ctab[256];

static inline bool sip_is(char c, uint16_t cls)
{
	return (sip_ctab[(unsigned char)c] & cls) != 0;
}
static inline bool sip_is_lws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}
static inline char sip_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c | 0x20) : c;
}

/* Skip LWS from p up to e. */
static inline const char *sip_skip_ws(const char *p, const char *e)
{
	while (p < e && sip_is_lws(*p))
		p++;
	return p;
}
static inline struct cv_pl sip_pl(const char *a, const char *b)
{
	return (struct cv_pl){a, (size_t)(b - a)};
}
static inline struct cv_pl sip_trim(struct cv_pl v)
{
	const char *a = v.p, *b = v.p + v.l;
	while (a < b && sip_is_lws(*a))
		a++;
	while (b > a && sip_is_lws(b[-1]))
		b--;
	return sip_pl(a, b);
}

/* Offset just past the empty line that ends the headers, 0 if none. */
size_t sip_headers_end(const char *buf, size_t len);

/* Scan a quoted-string starting at p (*p == '"'); returns the pointer after
 * the closing quote, or NULL when unterminated. */
const char *sip_skip_quoted(const char *p, const char *e);
/* Scan a token; returns end (== p when none). */
const char *sip_skip_token(const char *p, const char *e);
bool sip_ci_lit(struct cv_pl a, const char *lowercase_lit);
/* Parse host[:port] (hostname, IPv4, [IPv6]) strictly over the whole slice. */
int sip_hostport_parse(struct cv_pl hp, struct cv_pl *host, bool *ipv6,
		       uint16_t *port, struct cv_pl *port_pl);
bool sip_ipv6_valid(struct cv_pl h);
void sip_verdict(struct cv_sip_verdict *v, int status, const char *reason);

#endif
