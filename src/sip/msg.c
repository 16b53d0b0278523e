/* The message parser: one pass over the bytes builds the header index,
 * one allocation holds message struct, index and a copy of the bytes, then
 * the matching fields are parsed from the copy (RFC 3261 §7, §8.2, §18.3). */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "sip_int.h"

void cv_sip_limits_default(struct cv_sip_limits *lim)
{
	*lim = (struct cv_sip_limits)CV_SIP_LIMITS_DEFAULT;
}

/* The index is built during the scan straight into cv_sip_hdr entries
 * whose slices point into the input (and with the same-id chains linked),
 * then copied into the allocation and rebased onto the copy. */
#define STACK_HDRS 96

struct scan {
	struct cv_sip_hdr *h;
	uint32_t n, cap;
	struct cv_sip_hdr *heap;
	struct cv_sip_hdr stack[STACK_HDRS];
};

static int grow(struct scan *s, uint32_t max)
{
	if (s->n >= max || s->cap >= max)
		return CV_ETOOBIG;
	uint32_t ncap = s->cap * 4 > max ? max : s->cap * 4;
	struct cv_sip_hdr *nh = malloc(sizeof(*nh) * ncap);
	if (!nh)
		return -ENOMEM;
	memcpy(nh, s->h, sizeof(*nh) * s->n);
	free(s->heap);
	s->heap = s->h = nh;
	s->cap = ncap;
	return 0;
}

/* First CR or LF in [p,e), or e. A line ends at LF or CRLF; finding CR
 * as well lets the scan refuse a bare CR where it meets it. */
static inline const char *find_crlf(const char *p, const char *e)
{
#if defined(__SSE2__)
	const __m128i cr = _mm_set1_epi8('\r'), lf = _mm_set1_epi8('\n');
	/* 32 bytes a step: header lines are mostly longer than 16 */
	for (; e - p >= 32; p += 32) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
		__m128i y = _mm_loadu_si128(
			(const __m128i *)(const void *)(p + 16));
		unsigned mask =
			(unsigned)_mm_movemask_epi8(_mm_or_si128(
				_mm_cmpeq_epi8(x, cr), _mm_cmpeq_epi8(x, lf))) |
			(unsigned)_mm_movemask_epi8(_mm_or_si128(
				_mm_cmpeq_epi8(y, cr), _mm_cmpeq_epi8(y, lf)))
				<< 16;
		if (mask)
			return p + __builtin_ctz(mask);
	}
	for (; e - p >= 16; p += 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
		unsigned mask = (unsigned)_mm_movemask_epi8(_mm_or_si128(
			_mm_cmpeq_epi8(x, cr), _mm_cmpeq_epi8(x, lf)));
		if (mask)
			return p + __builtin_ctz(mask);
	}
#endif
	while (p < e && *p != '\r' && *p != '\n')
		p++;
	return p;
}

/* Header names real traffic spells this way, matched with one or two
 * 8-byte loads and masked compares (sip_int.h); a word past the input
 * reads as 0, which matches no name. Returns the id and the position of
 * the ':' or 0 (then the generic scan decides). */
#define ld64 sip_ld64
#define WEQ  SIP_WEQ
#define W8   SIP_W8
static inline uint16_t hdr_fast(const char *p, size_t avail, const char **colon)
{
	if (avail < 8)
		return 0;
	uint64_t w = ld64(p), w2;
	/* a word past the input reads as 0, which matches no name */
#define WD2 (avail >= 16 ? ld64(p + 8) : 0)
#define WD3 (avail >= 24 ? ld64(p + 16) : 0)
#define C16 (avail > 16 && p[16] == ':')
#define HIT(len, idv)                                                          \
	do {                                                                   \
		*colon = p + (len)-1;                                          \
		return (idv);                                                  \
	} while (0)
	switch (p[0]) {
	case 'V':
		if (WEQ(w, "Via:"))
			HIT(4, CV_SIP_HDR_VIA);
		break;
	case 'F':
		if (WEQ(w, "From:"))
			HIT(5, CV_SIP_HDR_FROM);
		break;
	case 'T':
		if (WEQ(w, "To:"))
			HIT(3, CV_SIP_HDR_TO);
		if (W8(w, "Timestam") && WEQ(WD2, "p:"))
			HIT(10, CV_SIP_HDR_TIMESTAMP);
		break;
	case 'C':
		if (W8(w, "Call-ID:"))
			HIT(8, CV_SIP_HDR_CALL_ID);
		if (WEQ(w, "CSeq:"))
			HIT(5, CV_SIP_HDR_CSEQ);
		if (W8(w, "Contact:"))
			HIT(8, CV_SIP_HDR_CONTACT);
		if (W8(w, "Content-")) {
			w2 = WD2;
			if (WEQ(w2, "Length:"))
				HIT(15, CV_SIP_HDR_CONTENT_LENGTH);
			if (WEQ(w2, "Type:"))
				HIT(13, CV_SIP_HDR_CONTENT_TYPE);
			if (W8(w2, "Disposit") && WEQ(WD3, "ion:"))
				HIT(20, CV_SIP_HDR_CONTENT_DISPOSITION);
			if (W8(w2, "Encoding") && C16)
				HIT(17, CV_SIP_HDR_CONTENT_ENCODING);
		}
		if (W8(w, "Call-Inf") && WEQ(WD2, "o:"))
			HIT(10, CV_SIP_HDR_CALL_INFO);
		break;
	case 'M':
		if (W8(w, "Max-Forw") && WEQ(WD2, "ards:"))
			HIT(13, CV_SIP_HDR_MAX_FORWARDS);
		if (WEQ(w, "Min-SE:"))
			HIT(7, CV_SIP_HDR_MIN_SE);
		break;
	case 'R':
		if (WEQ(w, "Route:"))
			HIT(6, CV_SIP_HDR_ROUTE);
		if (W8(w, "Record-R") && WEQ(WD2, "oute:"))
			HIT(13, CV_SIP_HDR_RECORD_ROUTE);
		if (W8(w, "Require:"))
			HIT(8, CV_SIP_HDR_REQUIRE);
		if (WEQ(w, "Reason:"))
			HIT(7, CV_SIP_HDR_REASON);
		break;
	case 'A':
		if (WEQ(w, "Allow:"))
			HIT(6, CV_SIP_HDR_ALLOW);
		if (WEQ(w, "Accept:"))
			HIT(7, CV_SIP_HDR_ACCEPT);
		if (W8(w, "Authoriz") && WEQ(WD2, "ation:"))
			HIT(14, CV_SIP_HDR_AUTHORIZATION);
		if (W8(w, "Allow-Ev") && WEQ(WD2, "ents:"))
			HIT(13, CV_SIP_HDR_ALLOW_EVENTS);
		break;
	case 'S':
		if (W8(w, "Supporte") && WEQ(WD2, "d:"))
			HIT(10, CV_SIP_HDR_SUPPORTED);
		if (W8(w, "Session-") && W8(WD2, "Expires:"))
			HIT(16, CV_SIP_HDR_SESSION_EXPIRES);
		if (WEQ(w, "Server:"))
			HIT(7, CV_SIP_HDR_SERVER);
		if (W8(w, "Subscrip") && W8(WD2, "tion-Sta") && WEQ(WD3, "te:"))
			HIT(19, CV_SIP_HDR_SUBSCRIPTION_STATE);
		break;
	case 'U':
		if (W8(w, "User-Age") && WEQ(WD2, "nt:"))
			HIT(11, CV_SIP_HDR_USER_AGENT);
		break;
	case 'W':
		if (W8(w, "WWW-Auth") && W8(WD2, "enticate") && C16)
			HIT(17, CV_SIP_HDR_WWW_AUTHENTICATE);
		break;
	case 'E':
		if (WEQ(w, "Event:"))
			HIT(6, CV_SIP_HDR_EVENT);
		if (W8(w, "Expires:"))
			HIT(8, CV_SIP_HDR_EXPIRES);
		break;
	case 'P':
		if (W8(w, "Proxy-Au") && W8(WD2, "thorizat") &&
		    WEQ(WD3, "ion:"))
			HIT(20, CV_SIP_HDR_PROXY_AUTHORIZATION);
		if (W8(w, "Proxy-Au") && W8(WD2, "thentica") && WEQ(WD3, "te:"))
			HIT(19, CV_SIP_HDR_PROXY_AUTHENTICATE);
		if (W8(w, "P-Assert") && W8(WD2, "ed-Ident") &&
		    WEQ(WD3, "ity:"))
			HIT(20, CV_SIP_HDR_P_ASSERTED_IDENTITY);
		break;
	default:
		break;
	}
#undef HIT
#undef WD2
#undef WD3
#undef C16
	return 0;
}

static bool version_ok_slow(const char *p, const char *e, bool *other);
static inline bool version_ok(const char *p, const char *e, bool *other)
{
	if (e - p == 7 && !memcmp(p, "SIP/2.0", 7)) {
		*other = false;
		return true;
	}
	return version_ok_slow(p, e, other);
}

static bool version_ok_slow(const char *p, const char *e, bool *other)
{
	/* SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT, case-insensitive */
	*other = false;
	if (e - p < 7 || sip_lower(p[0]) != 's' || sip_lower(p[1]) != 'i' ||
	    sip_lower(p[2]) != 'p' || p[3] != '/')
		return false;
	if (e - p == 7 && !memcmp(p + 4, "2.0", 3))
		return true;
	const char *q = p + 4, *s = q;
	while (q < e && *q >= '0' && *q <= '9')
		q++;
	if (q == s || q >= e || *q != '.')
		return false;
	s = ++q;
	while (q < e && *q >= '0' && *q <= '9')
		q++;
	*other = q == e && q > s;
	return false;
}

/* Headers that are not comma lists may appear once (RFC 3261 §7.3.1):
 * a second one is refused with its own reason (the matching fields have
 * theirs below). Two values would be read differently by components
 * that take the first and those that take the last. Looked up only when
 * an id repeats. */
static const char *const twice[CV_SIP_HDR_COUNT] = {
	[CV_SIP_HDR_SUBJECT] = "Multiple Subject",
	[CV_SIP_HDR_DATE] = "Multiple Date",
	[CV_SIP_HDR_USER_AGENT] = "Multiple User-Agent",
	[CV_SIP_HDR_SERVER] = "Multiple Server",
	[CV_SIP_HDR_EXPIRES] = "Multiple Expires",
	[CV_SIP_HDR_MIN_EXPIRES] = "Multiple Min-Expires",
	[CV_SIP_HDR_ORGANIZATION] = "Multiple Organization",
	[CV_SIP_HDR_PRIORITY] = "Multiple Priority",
	[CV_SIP_HDR_MIME_VERSION] = "Multiple MIME-Version",
	[CV_SIP_HDR_TIMESTAMP] = "Multiple Timestamp",
	[CV_SIP_HDR_RETRY_AFTER] = "Multiple Retry-After",
	[CV_SIP_HDR_CONTENT_DISPOSITION] = "Multiple Content-Disposition",
	[CV_SIP_HDR_RSEQ] = "Multiple RSeq",
	[CV_SIP_HDR_RACK] = "Multiple RAck",
	[CV_SIP_HDR_SESSION_EXPIRES] = "Multiple Session-Expires",
	[CV_SIP_HDR_MIN_SE] = "Multiple Min-SE",
	[CV_SIP_HDR_EVENT] = "Multiple Event",
	[CV_SIP_HDR_SUBSCRIPTION_STATE] = "Multiple Subscription-State",
	[CV_SIP_HDR_REFER_TO] = "Multiple Refer-To",
	[CV_SIP_HDR_REFERRED_BY] = "Multiple Referred-By",
	[CV_SIP_HDR_REPLACES] = "Multiple Replaces",
	[CV_SIP_HDR_SIP_ETAG] = "Multiple SIP-ETag",
	[CV_SIP_HDR_SIP_IF_MATCH] = "Multiple SIP-If-Match",
};

static void msg_dtor(void *obj)
{
	(void)obj;
}

#define FAIL(st, why)                                                          \
	do {                                                                   \
		sip_verdict(v, req ? (st) : 0, (why));                         \
		err = CV_EPARSE;                                               \
		goto out;                                                      \
	} while (0)

/* Single-valued headers appear once (RFC 3261 §7.3.1). */
static int single(const struct cv_sip_msg *m, enum cv_sip_hdr_id id,
		  const struct cv_sip_hdr **h)
{
	uint16_t i = m->first[id];
	if (i == CV_SIP_HDR_NONE) {
		*h = NULL;
		return 0;
	}
	*h = &m->hdrs[i];
	return m->hdrs[i].next == CV_SIP_HDR_NONE ? 0 : CV_EPARSE;
}

/* cv_sip_u32_parse of an index value (already trimmed): up to 9 digits
 * without the general path's checks. */
__attribute__((always_inline)) static inline int u32_value(struct cv_pl v,
							   uint32_t *out)
{
	if (v.l - 1 < 9) {
		uint32_t n = 0;
		size_t i = 0;
		for (; i < v.l && v.p[i] >= '0' && v.p[i] <= '9'; i++)
			n = n * 10 + (uint32_t)(v.p[i] - '0');
		if (i == v.l) {
			*out = n;
			return 0;
		}
	}
	return cv_sip_u32_parse(v, out);
}

/* cv_sip_cseq_parse of an index value (trimmed) into m->cseq; the usual
 * "DIGITS SP METHOD" of a request reuses the request line's method (a
 * token, already classified). */
static int cseq_value(struct cv_pl v, struct cv_sip_msg *m)
{
	size_t i = 0;
	uint32_t n = 0;
	for (; i < v.l && i < 10 && v.p[i] >= '0' && v.p[i] <= '9'; i++)
		n = n * 10 + (uint32_t)(v.p[i] - '0');
	if (m->req && i > 0 && i < 10 && i + 1 + m->method_pl.l == v.l &&
	    v.p[i] == ' ' &&
	    !memcmp(v.p + i + 1, m->method_pl.p, m->method_pl.l)) {
		/* 9 digits stay below 2^31 (RFC 3261 §8.1.1.5) */
		m->cseq.num = n;
		m->cseq.method = m->method;
		m->cseq.method_pl = (struct cv_pl){v.p + i + 1, m->method_pl.l};
		return 0;
	}
	if (!m->req && i > 0 && i < 10 && i + 1 < v.l && v.p[i] == ' ' &&
	    sip_skip_token(v.p + i + 1, v.p + v.l) == v.p + v.l) {
		/* a response's "DIGITS SP token" */
		m->cseq.num = n;
		m->cseq.method_pl = (struct cv_pl){v.p + i + 1, v.l - i - 1};
		m->cseq.method = cv_sip_method_from(m->cseq.method_pl);
		return 0;
	}
	return cv_sip_cseq_parse(v, &m->cseq);
}

static int count_vias(struct cv_sip_msg *m, uint32_t max)
{
	uint32_t n = 0;
	for (uint16_t i = m->first[CV_SIP_HDR_VIA]; i != CV_SIP_HDR_NONE;
	     i = m->hdrs[i].next) {
		struct cv_pl v = m->hdrs[i].value, item;
		if (!sip_find_byte_lo(m->buf, v.p, v.p + v.l, ',')) {
			n++;
		} else {
			while (cv_sip_list_next(&v, &item) == 0)
				n++;
		}
		if (n > max)
			return CV_ETOOBIG;
	}
	m->via_count = n;
	return 0;
}

int cv_sip_msg_parse(struct cv_sip_msg **msgp, const void *buf, size_t len,
		     const struct cv_sip_limits *lim, struct cv_sip_verdict *v)
{
	static const struct cv_sip_limits defl = CV_SIP_LIMITS_DEFAULT;
	struct cv_sip_verdict vtmp;
	struct cv_sip_msg *m = NULL;
	int err = 0;
	if (!v)
		v = &vtmp;
	v->status = 0;
	v->reason = "";
	v->hdrs[0] = '\0';
	if (!lim)
		lim = &defl;
	*msgp = NULL;

	struct scan s;
	s.h = s.stack;
	s.n = 0;
	s.cap = STACK_HDRS;
	s.heap = NULL;
	uint32_t max_hdrs = lim->max_headers ? lim->max_headers : 256;
	if (max_hdrs > 65000)
		max_hdrs = 65000;

	if (!buf)
		len = 0;
	const char *b = buf ? (const char *)buf : "", *end = b + len;
	size_t off = len && (b[0] == '\r' || b[0] == '\n')
			     ? cv_sip_keepalive_len(b, len) /* RFC 3261 §7.5 */
			     : 0;
	const char *p = b + off;
	bool req = !(end - p >= 4 && sip_lower(p[0]) == 's' &&
		     sip_lower(p[1]) == 'i' && sip_lower(p[2]) == 'p' &&
		     p[3] == '/');
	/* offsets in the index are 32-bit: bound the size even with no limit */
	if ((lim->max_msg && len > lim->max_msg) || len > UINT32_MAX) {
		sip_verdict(v, req ? 513 : 0, "Message Too Large");
		return CV_ETOOBIG;
	}
	if (p >= end) {
		sip_verdict(v, 0, "Empty message");
		return CV_EPARSE;
	}

	/* ---- start line ---- */
	const char *nl = sip_find_byte(p, end, '\n');
	if (!nl) {
		sip_verdict(v, 0, "No start line");
		return CV_EPARSE;
	}
	const char *sle = nl > p && nl[-1] == '\r' ? nl - 1 : nl;
	struct {
		struct cv_pl a, b, c;
	} sl;
	{
		/* exactly one SP between the three elements (RFC 3261 §7.1) */
		const char *sp1 = sip_find_byte(p, sle, ' ');
		if (!sp1)
			FAIL(400, "Malformed start line");
		const char *sp2 = sip_find_byte(sp1 + 1, sle, ' ');
		if (!sp2) {
			if (req)
				FAIL(400, "Malformed Request-Line");
			sp2 = sle; /* "SIP/2.0 100" without reason */
		}
		sl.a = sip_pl(p, sp1);
		sl.b = sip_pl(sp1 + 1, sp2);
		sl.c = sp2 < sle ? sip_pl(sp2 + 1, sle) : sip_pl(sle, sle);
	}
	bool other_version = false;
	if (req) {
		if (!sl.a.l ||
		    sip_skip_token(sl.a.p, sl.a.p + sl.a.l) != sl.a.p + sl.a.l)
			FAIL(400, "Malformed method");
		if (lim->max_uri_len && sl.b.l > lim->max_uri_len)
			FAIL(414, "Request-URI too long");
		if (!sl.b.l || !sip_is(sl.b.p[0], SIP_C_ALPHA))
			FAIL(400, "Malformed Request-URI");
		if (sip_scan_until(sl.b.p, sl.b.p + sl.b.l, '<', '>', '"') !=
		    sl.b.p + sl.b.l)
			FAIL(400, "Malformed Request-URI");
		if (sip_has_high(sl.b.p, sl.b.p + sl.b.l))
			FAIL(400, "Malformed Request-URI");
		if (!version_ok(sl.c.p, sl.c.p + sl.c.l, &other_version)) {
			if (other_version)
				FAIL(505, "Version Not Supported");
			FAIL(400, "Malformed SIP-Version");
		}
	} else {
		if (!version_ok(sl.a.p, sl.a.p + sl.a.l, &other_version))
			FAIL(0, "Bad SIP-Version in response");
		if (sl.b.l != 3 || !sip_is(sl.b.p[0], SIP_C_DIGIT) ||
		    !sip_is(sl.b.p[1], SIP_C_DIGIT) ||
		    !sip_is(sl.b.p[2], SIP_C_DIGIT) || sl.b.p[0] < '1' ||
		    sl.b.p[0] > '6')
			FAIL(0, "Bad status code");
		for (size_t i = 0; i < sl.c.l; i++) {
			unsigned char c = (unsigned char)sl.c.p[i];
			if ((c < 0x20 && c != '\t') || c == 0x7f)
				FAIL(0, "Bad reason phrase");
		}
	}

	/* ---- header lines: one scan, an SSE2 CR/LF search per line ---- */
	p = nl + 1;
	const char *hdr_start = p;
	const char *body = NULL;
	size_t max_line = lim->max_header_len ? lim->max_header_len : SIZE_MAX;
	uint16_t first[CV_SIP_HDR_COUNT], last[CV_SIP_HDR_COUNT];
	memset(first, 0xff, sizeof(first));
	uint32_t room = CV_MIN(s.cap, max_hdrs);
	const char *dup = NULL; /* a single-value header seen twice */
	while (p < end) {
		if ((unsigned char)*p <= '\r') {
			if (*p == '\n') {
				body = p + 1;
				break;
			}
			if (*p == '\r' && p + 1 < end && p[1] == '\n') {
				body = p + 2;
				break;
			}
		}
		const char *ns = p;
		const char *ne, *colon;
		uint16_t id = hdr_fast(p, (size_t)(end - p), &colon);
		if (id) {
			ne = colon;
		} else {
			uint32_t hh = SIP_HHASH_INIT;
			while (p < end && sip_is(*p, SIP_C_TOKEN)) {
				hh = SIP_HHASH_STEP(hh, *p);
				p++;
			}
			ne = p;
			if (ne == ns)
				FAIL(400, "Malformed header name");
			id = (uint16_t)sip_hdr_lookup(ns, (size_t)(ne - ns),
						      hh);
			while (p < end && (*p == ' ' || *p == '\t'))
				p++;
			if (p >= end || *p != ':')
				FAIL(400, "Malformed header name");
			colon = p;
		}
		/* the end of the line, following folded continuations; a CR
		 * is part of a line end only right before its LF: a bare CR
		 * is refused here, with the verdict cv_sip_msg_parse_full
		 * gives (parsers that end lines at a bare CR, like sofia-sip,
		 * would read other headers or another body) */
		const char *q = colon + 1, *le, *ve;
		for (;;) {
			q = find_crlf(q, end);
			if (q >= end) {
				le = ve = end;
				break;
			}
			ve = q;
			if (*q == '\r') {
				if (q + 1 >= end) {
					le = ve = end;
					break;
				}
				if (q[1] != '\n')
					FAIL(400, sip_bad_ctl_reason(id));
				q++;
			}
			if (q + 1 < end && (unsigned char)q[1] <= ' ' &&
			    (q[1] == ' ' || q[1] == '\t')) {
				q++;
				continue;
			}
			le = q;
			break;
		}
		const char *lend = le < end ? le + 1 : end;
		if ((size_t)(lend - ns) > max_line)
			FAIL(400, "Header line too long");
		/* trim LWS (a byte above SP ends the loop at its first test) */
		const char *vs = colon + 1;
		if (vs < ve && *vs == ' ')
			vs++;
		while (vs < ve && (unsigned char)*vs <= ' ' && sip_is_lws(*vs))
			vs++;
		while (ve > vs && (unsigned char)ve[-1] <= ' ' &&
		       sip_is_lws(ve[-1]))
			ve--;
		/* other controls inside values are judged by the typed parsers
		 * (the matching fields here, every header in parse_full) */
		if (s.n >= room) {
			if ((err = grow(&s, max_hdrs)) != 0) {
				if (err == CV_ETOOBIG)
					FAIL(400, "Too many headers");
				sip_verdict(v, 0, "Out of memory");
				goto out;
			}
			room = CV_MIN(s.cap, max_hdrs);
		}
		struct cv_sip_hdr *h = &s.h[s.n];
		h->name = (struct cv_pl){ns, (size_t)(ne - ns)};
		h->value = (struct cv_pl){vs, (size_t)(ve - vs)};
		h->line_len = (uint32_t)(lend - ns);
		h->id = id;
		h->next = CV_SIP_HDR_NONE;
		if (first[id] == CV_SIP_HDR_NONE) {
			first[id] = (uint16_t)s.n;
		} else {
			s.h[last[id]].next = (uint16_t)s.n;
			if (!dup)
				dup = twice[id];
		}
		last[id] = (uint16_t)s.n;
		s.n++;
		p = lend;
	}
	if (!body) {
		/* RFC 3261 §7: the header section ends with an empty line */
		FAIL(400, "Missing empty line after headers");
	}

	/* ---- the one allocation ---- */
	size_t hsz = sizeof(struct cv_sip_hdr) * s.n;
	size_t msz = (sizeof(*m) + 15) & ~(size_t)15;
	m = cv_mem_alloc(msz + hsz + len + 1, msg_dtor);
	if (!m) {
		err = -ENOMEM;
		sip_verdict(v, 0, "Out of memory");
		goto out;
	}
	/* Not zeroed whole: every field from via on is written below (via,
	 * from, to by their parsers) before the message is handed out. */
	memset(m, 0, offsetof(struct cv_sip_msg, via));
	struct cv_sip_hdr *hdrs =
		(struct cv_sip_hdr *)(void *)((char *)m + msz);
	char *copy = (char *)hdrs + hsz;
	memcpy(copy, b, len);
	copy[len] = '\0';
	m->buf = copy;
	m->len = len;
	m->hdrs = hdrs;
	m->nhdrs = s.n;
	m->via_count = 0;
	m->content_type = (struct cv_pl){NULL, 0};
	memcpy(m->first, first, sizeof(m->first));
	for (uint32_t i = 0; i < s.n; i++) {
		const struct cv_sip_hdr *h = &s.h[i];
		struct cv_sip_hdr *d = &hdrs[i];
		*d = *h;
		d->name.p = copy + (h->name.p - b);
		d->value.p = copy + (h->value.p - b);
	}
#define REBASE(pl) ((struct cv_pl){copy + ((pl).p - b), (pl).l})
	m->req = req;
	m->headers = (struct cv_pl){copy + (hdr_start - b),
				    (size_t)(body - hdr_start)};
	if (req) {
		m->method_pl = REBASE(sl.a);
		m->method = cv_sip_method_from(m->method_pl);
		m->ruri = REBASE(sl.b);
		m->version = REBASE(sl.c);
	} else {
		m->version = REBASE(sl.a);
		m->status = (sl.b.p[0] - '0') * 100 + (sl.b.p[1] - '0') * 10 +
			    (sl.b.p[2] - '0');
		m->reason = REBASE(sl.c);
	}
#undef REBASE
	const char *cbody = copy + (body - b);
	size_t avail = len - (size_t)(body - b);

	/* ---- eager fields for matching ---- */
	const struct cv_sip_hdr *h;
	if (single(m, CV_SIP_HDR_CALL_ID, &h))
		FAIL(400, "Multiple Call-ID");
	if (!h || !h->value.l)
		FAIL(400, "Missing Call-ID");
	/* word [ "@" word ]: no LWS or controls; the full word-character check
	 * is in cv_sip_msg_parse_full */
	if (sip_scan_until(h->value.p, h->value.p + h->value.l, 0x7f, 0x7f,
			   0x7f) != h->value.p + h->value.l)
		FAIL(400, "Malformed Call-ID");
	m->call_id = h->value;

	if (single(m, CV_SIP_HDR_CSEQ, &h))
		FAIL(400, "Multiple CSeq");
	if (!h)
		FAIL(400, "Missing CSeq");
	if (cseq_value(h->value, m))
		FAIL(400, "Malformed CSeq");
	if (req &&
	    !(m->cseq.method_pl.l == m->method_pl.l &&
	      !memcmp(m->cseq.method_pl.p, m->method_pl.p, m->method_pl.l)))
		FAIL(400, "CSeq method does not match Request-Line");

	if (single(m, CV_SIP_HDR_FROM, &h))
		FAIL(400, "Multiple From");
	if (!h)
		FAIL(400, "Missing From");
	if (cv_sip_naddr_parse(h->value, &m->from))
		FAIL(400, "Malformed From");
	if (single(m, CV_SIP_HDR_TO, &h))
		FAIL(400, "Multiple To");
	if (!h)
		FAIL(400, "Missing To");
	if (cv_sip_naddr_parse(h->value, &m->to))
		FAIL(400, "Malformed To");
	if (lim->max_uri_len && (m->from.uri.l > lim->max_uri_len ||
				 m->to.uri.l > lim->max_uri_len))
		FAIL(400, "URI too long");

	if (m->first[CV_SIP_HDR_VIA] == CV_SIP_HDR_NONE)
		FAIL(400, "Missing Via");
	{
		struct cv_pl top = hdrs[m->first[CV_SIP_HDR_VIA]].value, item;
		if (sip_find_byte_lo(copy, top.p, top.p + top.l, ',')) {
			if (cv_sip_list_next(&top, &item))
				FAIL(400, "Malformed Via");
			top = item;
		}
		if (cv_sip_via_parse(top, &m->via))
			FAIL(400, "Malformed Via");
		if (count_vias(m, lim->max_via ? lim->max_via : 64))
			FAIL(400, "Too many Via values");
	}

	m->max_forwards = -1;
	if (single(m, CV_SIP_HDR_MAX_FORWARDS, &h))
		FAIL(400, "Multiple Max-Forwards");
	if (h) {
		uint32_t mf;
		if (u32_value(h->value, &mf) || mf > 255)
			FAIL(400, "Malformed Max-Forwards");
		m->max_forwards = (int32_t)mf;
	}

	m->content_length = -1;
	for (uint16_t i = m->first[CV_SIP_HDR_CONTENT_LENGTH];
	     i != CV_SIP_HDR_NONE; i = hdrs[i].next) {
		uint32_t cl;
		if (u32_value(hdrs[i].value, &cl))
			FAIL(400, "Malformed Content-Length");
		if (m->content_length >= 0)
			FAIL(400, "Multiple Content-Length");
		m->content_length = cl;
	}
	if (single(m, CV_SIP_HDR_CONTENT_TYPE, &h))
		FAIL(400, "Multiple Content-Type");
	if (h)
		m->content_type = h->value;
	size_t blen = avail;
	if (m->content_length >= 0) {
		if ((uint64_t)m->content_length > avail)
			FAIL(400, "Content-Length larger than message");
		/* RFC 3261 §18.3: bytes past Content-Length are discarded */
		blen = (size_t)m->content_length;
	}
	if (lim->max_body && blen > lim->max_body)
		FAIL(413, "Body too large");
	if (dup)
		FAIL(400, dup);
	m->body = (struct cv_pl){cbody, blen};
	*msgp = m;
	m = NULL;
	err = 0;
out:
	if (m)
		cv_mem_unref(m);
	free(s.heap);
	return err;
}
#undef FAIL

const struct cv_sip_hdr *cv_sip_msg_hdr(const struct cv_sip_msg *msg,
					enum cv_sip_hdr_id id)
{
	if ((unsigned)id >= CV_SIP_HDR_COUNT)
		return NULL;
	uint16_t i = msg->first[id];
	return i == CV_SIP_HDR_NONE ? NULL : &msg->hdrs[i];
}

const struct cv_sip_hdr *cv_sip_msg_hdr_next(const struct cv_sip_msg *msg,
					     const struct cv_sip_hdr *h)
{
	if (h->id == CV_SIP_HDR_OTHER) {
		/* unknown headers chain by id too; keep only same-name ones */
		for (uint16_t i = h->next; i != CV_SIP_HDR_NONE;
		     i = msg->hdrs[i].next)
			if (cv_pl_casecmp_eq(msg->hdrs[i].name, h->name))
				return &msg->hdrs[i];
		return NULL;
	}
	return h->next == CV_SIP_HDR_NONE ? NULL : &msg->hdrs[h->next];
}

const struct cv_sip_hdr *cv_sip_msg_hdr_by_name(const struct cv_sip_msg *msg,
						struct cv_pl name)
{
	enum cv_sip_hdr_id id = cv_sip_hdr_id_of(name);
	if (id != CV_SIP_HDR_OTHER)
		return cv_sip_msg_hdr(msg, id);
	for (uint16_t i = msg->first[CV_SIP_HDR_OTHER]; i != CV_SIP_HDR_NONE;
	     i = msg->hdrs[i].next)
		if (cv_pl_casecmp_eq(msg->hdrs[i].name, name))
			return &msg->hdrs[i];
	return NULL;
}

int cv_sip_msg_vals_next(const struct cv_sip_msg *msg, enum cv_sip_hdr_id id,
			 struct cv_sip_vals_iter *it, struct cv_pl *val)
{
	if (!it->started) {
		it->started = true;
		it->hdr = cv_sip_msg_hdr(msg, id);
		if (it->hdr)
			it->rest = it->hdr->value;
	}
	while (it->hdr) {
		if (cv_sip_list_next(&it->rest, val) == 0)
			return 0;
		it->hdr = cv_sip_msg_hdr_next(msg, it->hdr);
		if (it->hdr)
			it->rest = it->hdr->value;
	}
	return CV_ENOTFOUND;
}

bool cv_sip_msg_has_tag(const struct cv_sip_msg *msg, enum cv_sip_hdr_id id,
			const char *tag)
{
	struct cv_sip_vals_iter it = {0};
	struct cv_pl v;
	while (cv_sip_msg_vals_next(msg, id, &it, &v) == 0)
		if (cv_pl_caseeq_str(v, tag))
			return true;
	return false;
}

int cv_sip_msg_ruri(const struct cv_sip_msg *msg, struct cv_sip_uri *uri)
{
	if (!msg->req)
		return CV_EPARSE;
	return cv_sip_uri_parse(msg->ruri, uri);
}

int cv_sip_msg_print(struct cv_buf *out, const struct cv_sip_msg *msg)
{
	return cv_buf_append(out, msg->buf, msg->len);
}
