/* The message parser: one pass over the bytes builds the header index,
 * one allocation holds message struct, index and a copy of the bytes, then
 * the matching fields are parsed from the copy (RFC 3261 §7, §8.2, §18.3). */
#include <stdlib.h>
#include <string.h>

#include "sip_int.h"

void cv_sip_limits_default(struct cv_sip_limits *lim)
{
	*lim = (struct cv_sip_limits)CV_SIP_LIMITS_DEFAULT;
}

/* Index entry during the scan: offsets into the input. */
struct hscan {
	uint32_t name_off, val_off, val_len, line_len;
	uint16_t name_len;
	uint16_t id;
};

#define STACK_HDRS 96

struct scan {
	const char *b;
	size_t len;
	struct hscan *h;
	uint32_t n, cap;
	struct hscan stack[STACK_HDRS];
	struct hscan *heap;
};

static int grow(struct scan *s, uint32_t max)
{
	if (s->n >= max)
		return CV_ETOOBIG;
	if (s->n < s->cap)
		return 0;
	if (s->cap >= max)
		return CV_ETOOBIG;
	uint32_t ncap = s->cap * 4 > max ? max : s->cap * 4;
	struct hscan *nh = malloc(sizeof(*nh) * ncap);
	if (!nh)
		return -ENOMEM;
	memcpy(nh, s->h, sizeof(*nh) * s->n);
	free(s->heap);
	s->heap = s->h = nh;
	s->cap = ncap;
	return 0;
}

static bool version_ok(const char *p, const char *e, bool *other)
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

static int count_vias(struct cv_sip_msg *m, uint32_t max)
{
	uint32_t n = 0;
	for (uint16_t i = m->first[CV_SIP_HDR_VIA]; i != CV_SIP_HDR_NONE;
	     i = m->hdrs[i].next) {
		struct cv_pl v = m->hdrs[i].value, item;
		if (!sip_find_byte(v.p, v.p + v.l, ',')) {
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
	s.b = buf;
	s.len = len;
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
	size_t off = cv_sip_keepalive_len(b, len); /* RFC 3261 §7.5 */
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
		const char *sp1 = memchr(p, ' ', (size_t)(sle - p));
		if (!sp1)
			FAIL(400, "Malformed start line");
		const char *sp2;
		if (req) {
			sp2 = memchr(sp1 + 1, ' ', (size_t)(sle - sp1 - 1));
			if (!sp2)
				FAIL(400, "Malformed Request-Line");
		} else {
			sp2 = memchr(sp1 + 1, ' ', (size_t)(sle - sp1 - 1));
			if (!sp2)
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

	/* ---- header lines: one scan, an SSE2 newline search per line ---- */
	p = nl + 1;
	const char *hdr_start = p;
	const char *body = NULL;
	size_t max_line = lim->max_header_len ? lim->max_header_len : SIZE_MAX;
	while (p < end) {
		if (*p == '\n') {
			body = p + 1;
			break;
		}
		if (*p == '\r' && p + 1 < end && p[1] == '\n') {
			body = p + 2;
			break;
		}
		const char *ns = p;
		const char *ne;
		uint16_t id = sip_hdr_fast(p, end, &ne);
		if (id) {
			p = ne;
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
		}
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p >= end || *p != ':')
			FAIL(400, "Malformed header name");
		const char *colon = p;
		p++;
		/* find the end of the line, following folded continuations */
		const char *le;
		for (;;) {
			le = sip_find_byte(p, end, '\n');
			if (!le) {
				le = end;
				break;
			}
			if (le + 1 < end && (le[1] == ' ' || le[1] == '\t')) {
				p = le + 1;
				continue;
			}
			break;
		}
		const char *lend = le < end ? le + 1 : end;
		if ((size_t)(lend - ns) > max_line)
			FAIL(400, "Header line too long");
		const char *vs = colon + 1;
		const char *ve = le;
		while (vs < ve && sip_is_lws(*vs))
			vs++;
		while (ve > vs && sip_is_lws(ve[-1]))
			ve--;
		/* controls inside values are judged by the typed parsers (the
		 * matching fields here, every known header in parse_full) */
		if ((err = grow(&s, max_hdrs)) != 0) {
			if (err == CV_ETOOBIG)
				FAIL(400, "Too many headers");
			sip_verdict(v, 0, "Out of memory");
			goto out;
		}
		struct hscan *h = &s.h[s.n++];
		h->name_off = (uint32_t)(ns - b);
		h->name_len = (uint16_t)CV_MIN((size_t)(ne - ns), 0xffffu);
		h->val_off = (uint32_t)(vs - b);
		h->val_len = (uint32_t)(ve - vs);
		h->line_len = (uint32_t)(lend - ns);
		h->id = id;
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
	memset(m, 0, sizeof(*m));
	struct cv_sip_hdr *hdrs =
		(struct cv_sip_hdr *)(void *)((char *)m + msz);
	char *copy = (char *)hdrs + hsz;
	memcpy(copy, b, len);
	copy[len] = '\0';
	m->buf = copy;
	m->len = len;
	m->hdrs = hdrs;
	m->nhdrs = s.n;
	memset(m->first, 0xff, sizeof(m->first));
	uint16_t last[CV_SIP_HDR_COUNT];
	for (uint32_t i = 0; i < s.n; i++) {
		const struct hscan *h = &s.h[i];
		struct cv_sip_hdr *d = &hdrs[i];
		d->name = (struct cv_pl){copy + h->name_off, h->name_len};
		d->value = (struct cv_pl){copy + h->val_off, h->val_len};
		d->line_len = h->line_len;
		d->id = h->id;
		d->next = CV_SIP_HDR_NONE;
		if (m->first[h->id] == CV_SIP_HDR_NONE)
			m->first[h->id] = (uint16_t)i;
		else
			hdrs[last[h->id]].next = (uint16_t)i;
		last[h->id] = (uint16_t)i;
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
	if (cv_sip_cseq_parse(h->value, &m->cseq))
		FAIL(400, "Malformed CSeq");
	if (req && !cv_pl_eq(m->cseq.method_pl, m->method_pl))
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
		if (memchr(top.p, ',', top.l)) {
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
		if (cv_sip_u32_parse(h->value, &mf) || mf > 255)
			FAIL(400, "Malformed Max-Forwards");
		m->max_forwards = (int32_t)mf;
	}

	m->content_length = -1;
	for (uint16_t i = m->first[CV_SIP_HDR_CONTENT_LENGTH];
	     i != CV_SIP_HDR_NONE; i = hdrs[i].next) {
		uint32_t cl;
		if (cv_sip_u32_parse(hdrs[i].value, &cl))
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
