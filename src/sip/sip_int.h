/* Private helpers of src/sip: character classes and small scanners. */
#ifndef CV_SIP_INT_H
#define CV_SIP_INT_H

#include <string.h>

#include "cvoip/sip.h"

/* Character classes (RFC 3261 §25.1). */
enum {
	SIP_C_TOKEN = 1 << 0, /* token: alphanum -.!%*_+`'~ */
	SIP_C_WS = 1 << 1,    /* SP HT CR LF (LWS inside a value slice) */
	SIP_C_UNRES = 1 << 2, /* unreserved: alphanum mark */
	SIP_C_USER = 1 << 3,  /* user-unreserved &=+$,;?/ */
	SIP_C_PASS = 1 << 4,  /* password chars &=+$, */
	SIP_C_PARAM = 1 << 5, /* param-unreserved []/:&+$ */
	SIP_C_HNV = 1 << 6,   /* hnv-unreserved []/?:+$ */
	SIP_C_HEX = 1 << 7,
	SIP_C_DIGIT = 1 << 8,
	SIP_C_ALPHA = 1 << 9,
	SIP_C_HOST = 1 << 10, /* alphanum - . _ (hostname, lenient on _) */
	SIP_C_WORD = 1 << 11, /* word (Call-ID) */
	SIP_C_PVAL = 1 << 12, /* unquoted parameter value: VCHAR but ;," */
};

extern const uint16_t sip_ctab[256];

static inline bool sip_is(char c, uint16_t cls)
{
	return (sip_ctab[(unsigned char)c] & cls) != 0;
}
static inline bool sip_is_lws(char c)
{
	/* one compare for the usual answer (a byte above SP), then a bit
	 * test: SP HT CR LF */
	return (unsigned char)c <= ' ' &&
	       ((1ull << (unsigned char)c) &
		((1ull << ' ') | (1ull << '\t') | (1ull << '\r') |
		 (1ull << '\n'))) != 0;
}
static inline char sip_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c | 0x20) : c;
}

/* 8-byte words: sip_ld64 loads one (native order), SIP_LIT64 is the
 * first up to 8 bytes of a literal as the same kind of word and SIP_MASK64
 * its mask, as constant expressions; SIP_WEQ compares a loaded word's
 * first sizeof(lit) - 1 bytes with the literal, SIP_W8 all 8. */
static inline uint64_t sip_ld64(const char *p)
{
	uint64_t w;
	memcpy(&w, p, 8);
	return w;
}
#define SIP_LB(s, i)                                                           \
	((i) < sizeof(s) - 1                                                   \
		 ? (uint64_t)(unsigned char)(s)[(i) < sizeof(s) - 1 ? (i) : 0] \
		 : 0)
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define SIP_LSH(i) (56 - 8 * (i))
#define SIP_MASK64(s)                                                          \
	(sizeof(s) - 1 >= 8 ? ~0ull : ~0ull << (64 - 8 * (sizeof(s) - 1)))
#else
#define SIP_LSH(i) (8 * (i))
#define SIP_MASK64(s)                                                          \
	(sizeof(s) - 1 >= 8 ? ~0ull : (1ull << (8 * ((sizeof(s) - 1) & 7))) - 1)
#endif
#define SIP_LIT64(s)                                                           \
	(SIP_LB(s, 0) << SIP_LSH(0) | SIP_LB(s, 1) << SIP_LSH(1) |             \
	 SIP_LB(s, 2) << SIP_LSH(2) | SIP_LB(s, 3) << SIP_LSH(3) |             \
	 SIP_LB(s, 4) << SIP_LSH(4) | SIP_LB(s, 5) << SIP_LSH(5) |             \
	 SIP_LB(s, 6) << SIP_LSH(6) | SIP_LB(s, 7) << SIP_LSH(7))
#define SIP_WEQ(w, lit) (((w)&SIP_MASK64(lit)) == SIP_LIT64(lit))
#define SIP_W8(w, lit)	((w) == SIP_LIT64(lit))

/* Skip LWS from p up to e. */
static inline const char *sip_skip_ws(const char *p, const char *e)
{
	while (p < e && sip_is_lws(*p))
		p++;
	return p;
}
/* Slices may arrive as {NULL, 0}; scanners compute p + l, so give them a
 * real (empty) string instead of a null pointer. */
static inline struct cv_pl sip_nn(struct cv_pl v)
{
	if (!v.p) {
		v.p = "";
		v.l = 0;
	}
	return v;
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

/* First byte in [p,e) that is a control or space (<= 0x20), DEL, or one
 * of a, b, c; e if none. SSE2 compares 16 bytes per step: the long runs
 * (branch, tag, URI, Call-ID) are scanned without a per-byte branch. */
#if defined(__SSE2__)
#include <emmintrin.h>
static inline unsigned sip_until_mask(__m128i x, char a, char b, char c)
{
	const __m128i sp = _mm_set1_epi8(0x20), del = _mm_set1_epi8(0x7f);
	__m128i m = _mm_cmpeq_epi8(_mm_min_epu8(x, sp), x);
	m = _mm_or_si128(m, _mm_cmpeq_epi8(x, del));
	m = _mm_or_si128(m, _mm_cmpeq_epi8(x, _mm_set1_epi8(a)));
	m = _mm_or_si128(m, _mm_cmpeq_epi8(x, _mm_set1_epi8(b)));
	m = _mm_or_si128(m, _mm_cmpeq_epi8(x, _mm_set1_epi8(c)));
	return (unsigned)_mm_movemask_epi8(m);
}
/* As sip_scan_until, where [lo, e) is known readable (lo <= p): a tail
 * shorter than 16 bytes is checked with one load ending at e, the bytes
 * before p masked off, instead of byte by byte. */
static inline const char *sip_scan_until_lo(const char *lo, const char *p,
					    const char *e, char a, char b,
					    char c)
{
	while (e - p >= 16) {
		unsigned mask = sip_until_mask(
			_mm_loadu_si128((const __m128i *)(const void *)p), a, b,
			c);
		if (mask)
			return p + __builtin_ctz(mask);
		p += 16;
	}
	if (p < e && e - lo >= 16) {
		unsigned mask =
			sip_until_mask(
				_mm_loadu_si128((
					const __m128i *)(const void *)(e - 16)),
				a, b, c) >>
			(16 - (e - p));
		return mask ? p + __builtin_ctz(mask) : e;
	}
	while (p < e && (unsigned char)*p > 0x20 && *p != 0x7f && *p != a &&
	       *p != b && *p != c)
		p++;
	return p;
}
static inline const char *sip_scan_until(const char *p, const char *e, char a,
					 char b, char c)
{
	return sip_scan_until_lo(p, p, e, a, b, c);
}
/* First byte in [p,e) that is not a hostname character (alphanumeric,
 * '-', '.', '_': SIP_C_HOST), 16 at a time; [lo, e) readable. */
static inline unsigned sip_nonhost_mask(__m128i x)
{
	__m128i l = _mm_or_si128(x, _mm_set1_epi8(0x20));
	__m128i al = _mm_and_si128(
		_mm_cmpeq_epi8(_mm_max_epu8(l, _mm_set1_epi8('a')), l),
		_mm_cmpeq_epi8(_mm_min_epu8(l, _mm_set1_epi8('z')), l));
	__m128i dg = _mm_and_si128(
		_mm_cmpeq_epi8(_mm_max_epu8(x, _mm_set1_epi8('0')), x),
		_mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8('9')), x));
	__m128i ok = _mm_or_si128(al, dg);
	ok = _mm_or_si128(ok, _mm_cmpeq_epi8(x, _mm_set1_epi8('-')));
	ok = _mm_or_si128(ok, _mm_cmpeq_epi8(x, _mm_set1_epi8('.')));
	ok = _mm_or_si128(ok, _mm_cmpeq_epi8(x, _mm_set1_epi8('_')));
	return ~(unsigned)_mm_movemask_epi8(ok) & 0xffffu;
}
static inline const char *sip_skip_host_lo(const char *lo, const char *p,
					   const char *e)
{
	while (e - p >= 16) {
		unsigned mask = sip_nonhost_mask(
			_mm_loadu_si128((const __m128i *)(const void *)p));
		if (mask)
			return p + __builtin_ctz(mask);
		p += 16;
	}
	if (p < e && e - lo >= 16) {
		unsigned mask =
			sip_nonhost_mask(_mm_loadu_si128(
				(const __m128i *)(const void *)(e - 16))) >>
			(16 - (e - p));
		return mask ? p + __builtin_ctz(mask) : e;
	}
	while (p < e && sip_is(*p, SIP_C_HOST))
		p++;
	return p;
}
/* memchr(p, c, e - p) inlined: header lines are short, and the libc call
 * costs more than the scan. NULL if absent. */
static inline const char *sip_find_byte(const char *p, const char *e, char c)
{
	const __m128i v = _mm_set1_epi8(c);
	for (; e - p >= 16; p += 16) {
		unsigned mask = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(
			_mm_loadu_si128((const __m128i *)(const void *)p), v));
		if (mask)
			return p + __builtin_ctz(mask);
	}
	for (; p < e; p++)
		if (*p == c)
			return p;
	return NULL;
}

/* As sip_find_byte, where [lo, e) is readable (lo <= p): a short tail is
 * one load ending at e with the bytes before p masked off. */
static inline const char *sip_find_byte_lo(const char *lo, const char *p,
					   const char *e, char c)
{
	const __m128i v = _mm_set1_epi8(c);
	for (; e - p >= 16; p += 16) {
		unsigned mask = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(
			_mm_loadu_si128((const __m128i *)(const void *)p), v));
		if (mask)
			return p + __builtin_ctz(mask);
	}
	if (p < e && e - lo >= 16) {
		unsigned mask =
			(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(
				_mm_loadu_si128((
					const __m128i *)(const void *)(e - 16)),
				v)) >>
			(16 - (e - p));
		return mask ? p + __builtin_ctz(mask) : NULL;
	}
	for (; p < e; p++)
		if (*p == c)
			return p;
	return NULL;
}

/* First of the bytes a, b, c in [p,e), e if none; [lo, e) readable. */
static inline const char *sip_find3_lo(const char *lo, const char *p,
				       const char *e, char a, char b, char c)
{
	const __m128i va = _mm_set1_epi8(a), vb = _mm_set1_epi8(b),
		      vc = _mm_set1_epi8(c);
#define SIP_F3(x)                                                              \
	((unsigned)_mm_movemask_epi8(_mm_or_si128(                             \
		_mm_or_si128(_mm_cmpeq_epi8(x, va), _mm_cmpeq_epi8(x, vb)),    \
		_mm_cmpeq_epi8(x, vc))))
	for (; e - p >= 16; p += 16) {
		unsigned mask = SIP_F3(
			_mm_loadu_si128((const __m128i *)(const void *)p));
		if (mask)
			return p + __builtin_ctz(mask);
	}
	if (p < e && e - lo >= 16) {
		unsigned mask =
			SIP_F3(_mm_loadu_si128(
				(const __m128i *)(const void *)(e - 16))) >>
			(16 - (e - p));
		return mask ? p + __builtin_ctz(mask) : e;
	}
#undef SIP_F3
	while (p < e && *p != a && *p != b && *p != c)
		p++;
	return p;
}

/* Any byte >= 0x80 in [p,e)? (the sign bits, 16 at a time) */
static inline bool sip_has_high(const char *p, const char *e)
{
	for (; e - p >= 16; p += 16)
		if (_mm_movemask_epi8(
			    _mm_loadu_si128((const __m128i *)(const void *)p)))
			return true;
	for (; p < e; p++)
		if ((unsigned char)*p >= 0x80)
			return true;
	return false;
}
#else
static inline const char *sip_find3_lo(const char *lo, const char *p,
				       const char *e, char a, char b, char c)
{
	(void)lo;
	while (p < e && *p != a && *p != b && *p != c)
		p++;
	return p;
}
static inline const char *sip_find_byte_lo(const char *lo, const char *p,
					   const char *e, char c)
{
	(void)lo;
	return p < e ? memchr(p, c, (size_t)(e - p)) : NULL;
}
static inline const char *sip_skip_host_lo(const char *lo, const char *p,
					   const char *e)
{
	(void)lo;
	while (p < e && sip_is(*p, SIP_C_HOST))
		p++;
	return p;
}
static inline const char *sip_find_byte(const char *p, const char *e, char c)
{
	return p < e ? memchr(p, c, (size_t)(e - p)) : NULL;
}
static inline bool sip_has_high(const char *p, const char *e)
{
	for (; p < e; p++)
		if ((unsigned char)*p >= 0x80)
			return true;
	return false;
}
static inline const char *sip_scan_until(const char *p, const char *e, char a,
					 char b, char c)
{
	while (p < e && (unsigned char)*p > 0x20 && *p != 0x7f && *p != a &&
	       *p != b && *p != c)
		p++;
	return p;
}
static inline const char *sip_scan_until_lo(const char *lo, const char *p,
					    const char *e, char a, char b,
					    char c)
{
	(void)lo;
	return sip_scan_until(p, e, a, b, c);
}
#endif

const char *sip_skip_quoted(const char *p, const char *e);

/* One ";name[=value]" from *rest. Value may be a quoted-string (returned
 * without quotes) or a run of non-separator characters. LWS allowed around
 * ';' and '=' (RFC 3261 SEMI, EQUAL). Hot path of every parse: table-driven
 * loops only. */
__attribute__((always_inline)) static inline int
sip_param_next_lo(struct cv_pl *rest, const char *lo, struct cv_pl *name,
		  struct cv_pl *val)
{
	const char *p = rest->p, *e = rest->p + rest->l;
	while (p < e && sip_is_lws(*p))
		p++;
	if (p >= e)
		return CV_ENOTFOUND;
	if (*p == ';') {
		p++;
		while (p < e && sip_is_lws(*p))
			p++;
	}
	const char *n = p;
	/* the usual names with the '=' that ends them, by one word compare
	 * (the literals are tokens, so the result is the token loop's) */
	if (e - p >= 8) {
		uint64_t w = sip_ld64(p);
		if (SIP_WEQ(w, "tag="))
			p += 3;
		else if (SIP_WEQ(w, "branch="))
			p += 6;
		else if (SIP_W8(w, "received") && e - p > 8 && p[8] == '=')
			p += 8;
		else if (SIP_W8(w, "expires="))
			p += 7;
	}
	if (p == n) {
		while (p < e && sip_is(*p, SIP_C_TOKEN))
			p++;
		if (p == n)
			return CV_EPARSE;
	}
	*name = (struct cv_pl){n, (size_t)(p - n)};
	*val = (struct cv_pl){p, 0};
	if (p < e && *p != '=' && *p != ';' && sip_is_lws(*p)) {
		const char *q = p;
		while (q < e && sip_is_lws(*q))
			q++;
		if (q < e && *q == '=')
			p = q;
	}
	if (p < e && *p == '=') {
		p++;
		while (p < e && sip_is_lws(*p))
			p++;
		if (p < e && *p == '"') {
			const char *z = sip_skip_quoted(p, e);
			if (!z)
				return CV_EPARSE;
			*val = (struct cv_pl){p + 1, (size_t)(z - 1 - (p + 1))};
			p = z;
		} else {
			const char *v = p;
			p = sip_scan_until_lo(lo, p, e, ';', ',', '"');
			if (p == v)
				return CV_EPARSE;
			*val = (struct cv_pl){v, (size_t)(p - v)};
		}
	}
	while (p < e && sip_is_lws(*p))
		p++;
	if (p < e && *p != ';')
		return CV_EPARSE;
	rest->p = p;
	rest->l = (size_t)(e - p);
	return 0;
}

/* The same where [lo, rest->p) is readable too (the start of the slice
 * the parameters belong to): short values are scanned in one step. */
static inline int sip_param_next(struct cv_pl *rest, struct cv_pl *name,
				 struct cv_pl *val)
{
	return sip_param_next_lo(rest, rest->p, name, val);
}

/* Offset just past the empty line that ends the headers, 0 if none. */
size_t sip_headers_end(const char *buf, size_t len);

/* Scan a quoted-string starting at p (*p == '"'); returns the pointer after
 * the closing quote, or NULL when unterminated. */
const char *sip_skip_quoted(const char *p, const char *e);
/* sip_skip_quoted with a first 16-byte step inline: a short quoted-string
 * without escapes or controls ends at the first '"' of the step; any other
 * first stop takes the full scanner. */
static inline const char *sip_skip_quoted_fast(const char *p, const char *e)
{
#if defined(__SSE2__)
	if (e - p >= 17) {
		__m128i x =
			_mm_loadu_si128((const __m128i *)(const void *)(p + 1));
		__m128i m =
			_mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8(0x1f)), x);
		m = _mm_or_si128(m, _mm_cmpeq_epi8(x, _mm_set1_epi8('"')));
		m = _mm_or_si128(m, _mm_cmpeq_epi8(x, _mm_set1_epi8('\\')));
		m = _mm_or_si128(m, _mm_cmpeq_epi8(x, _mm_set1_epi8(0x7f)));
		unsigned mask = (unsigned)_mm_movemask_epi8(m);
		if (mask) {
			const char *z = p + 1 + __builtin_ctz(mask);
			if (*z == '"')
				return z + 1;
		}
	}
#endif
	return sip_skip_quoted(p, e);
}
/* Scan a token; returns end (== p when none). */
static inline const char *sip_skip_token(const char *p, const char *e)
{
	while (p < e && sip_is(*p, SIP_C_TOKEN))
		p++;
	return p;
}
/* Case-insensitive compare with a lowercase literal; the length test
 * first, then an exact compare (the usual spelling), then folding. Inline
 * so that a literal's length is a constant and memcmp is a word compare. */
static inline bool sip_ci_lit_n(struct cv_pl a, const char *lit, size_t n)
{
	if (a.l != n)
		return false;
	if (!memcmp(a.p, lit, n))
		return true;
	for (size_t i = 0; i < n; i++) {
		char c = a.p[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c | 0x20);
		if (c != lit[i])
			return false;
	}
	return true;
}
#define sip_ci_lit(a, lit) sip_ci_lit_n((a), (lit), __builtin_strlen(lit))
/* Parse host[:port] (hostname, IPv4, [IPv6]) strictly over the whole slice. */
int sip_hostport_parse(struct cv_pl hp, struct cv_pl *host, bool *ipv6,
		       uint16_t *port, struct cv_pl *port_pl);
bool sip_ipv6_valid(struct cv_pl h);
/* Case-folded FNV-1a over a header name (the parser folds it in while
 * scanning); sip_hdr_lookup() maps it to an id. */
#define SIP_HHASH_INIT 2166136261u
#define SIP_HHASH_STEP(h, c)                                                   \
	(((h) ^ (uint32_t)((unsigned char)(c) | 0x20)) * 16777619u)
enum cv_sip_hdr_id sip_hdr_lookup(const char *p, size_t n, uint32_t h);
/* The 400 reason for a control character (bare CR, NUL...) in a header
 * line: the header's "Malformed X" reason, "Control character in header"
 * for unknown ones. Both parse levels answer it. */
const char *sip_bad_ctl_reason(enum cv_sip_hdr_id id);
void sip_verdict(struct cv_sip_verdict *v, int status, const char *reason);

#endif
