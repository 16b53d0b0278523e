/* Stream framing and the cheap pre-parse used before a full parse
 * (RFC 3261 §18.3: on a stream, Content-Length finds the message end). */
#include <string.h>

#include "cvoip/sip.h"
#include "sip_int.h"

size_t cv_sip_keepalive_len(const char *buf, size_t len)
{
	size_t i = 0;
	while (i < len && (buf[i] == '\r' || buf[i] == '\n'))
		i++;
	return i;
}

/* Offset just past the empty line that ends the headers ("\r\n\r\n" or a
 * bare "\n\n"), or 0 when not within len bytes. */
size_t sip_headers_end(const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			return 0;
		/* an empty line is "\n" or "\r\n" right after the previous \n
		 */
		const char *q = nl + 1;
		if (q < end && *q == '\n')
			return (size_t)(q + 1 - buf);
		if (q + 1 < end && q[0] == '\r' && q[1] == '\n')
			return (size_t)(q + 2 - buf);
		if (q >= end || (q + 1 >= end && *q == '\r'))
			return 0;
		p = q;
	}
	return 0;
}

/* Case-insensitive compare of an ASCII lowercase literal. */
static bool ci_eq(const char *p, size_t l, const char *lit, size_t ll)
{
	if (l != ll)
		return false;
	for (size_t i = 0; i < l; i++)
		if (sip_lower(p[i]) != lit[i])
			return false;
	return true;
}

/* Walks header lines [p, end); calls back with trimmed name and the value of
 * each line (folded continuation lines are joined into the value). */
static const char *line_end(const char *p, const char *end)
{
	for (;;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			return end;
		if (nl + 1 < end && (nl[1] == ' ' || nl[1] == '\t')) {
			p = nl + 1;
			continue;
		}
		return nl + 1;
	}
}

static struct cv_pl value_of(const char *colon, const char *le)
{
	const char *p = colon + 1, *e = le;
	while (p < e && sip_is_lws(*p))
		p++;
	while (e > p && sip_is_lws(e[-1]))
		e--;
	return (struct cv_pl){p, (size_t)(e - p)};
}

static const char *find_colon(const char *p, const char *le, size_t *nlen)
{
	const char *c = memchr(p, ':', (size_t)(le - p));
	if (!c)
		return NULL;
	const char *e = c;
	while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	*nlen = (size_t)(e - p);
	return c;
}

int cv_sip_frame(const char *buf, size_t len, size_t max_msg, size_t *msg_len)
{
	if (!buf || !len)
		return CV_EINCOMPLETE;
	size_t scan = max_msg && len > max_msg ? max_msg : len;
	size_t hend = sip_headers_end(buf, scan);
	if (!hend)
		return (max_msg && len >= max_msg) ? CV_ETOOBIG
						   : CV_EINCOMPLETE;

	/* skip the start line, then look for Content-Length / l */
	const char *p = memchr(buf, '\n', hend);
	const char *end = buf + hend;
	p = p ? p + 1 : end;
	bool have = false;
	uint64_t clen = 0;
	while (p < end) {
		const char *le = line_end(p, end);
		size_t nlen;
		const char *c = find_colon(p, le, &nlen);
		if (c && (ci_eq(p, nlen, "content-length", 14) ||
			  ci_eq(p, nlen, "l", 1))) {
			struct cv_pl v = value_of(c, le);
			uint64_t n;
			if (cv_pl_u64(v, &n) != 0 || n > UINT32_MAX)
				return CV_EPARSE;
			if (have && n != clen)
				return CV_EPARSE;
			have = true;
			clen = n;
		}
		p = le;
	}
	if (!have)
		return CV_EPARSE;
	uint64_t total = (uint64_t)hend + clen;
	if (max_msg && total > max_msg)
		return CV_ETOOBIG;
	if (total > len)
		return CV_EINCOMPLETE;
	*msg_len = (size_t)total;
	return 0;
}

int cv_sip_peek_call_id(const char *buf, size_t len, struct cv_pl *call_id)
{
	if (!buf || !len)
		return CV_ENOTFOUND;
	const char *end = buf + len;
	const char *p = memchr(buf, '\n', len);
	if (!p)
		return CV_ENOTFOUND;
	p++;
	while (p < end) {
		if (*p == '\r' || *p == '\n')
			break; /* end of headers */
		const char *le = line_end(p, end);
		/* fast reject: first letter must be c/C or i/I */
		char f = sip_lower(*p);
		if (f == 'c' || f == 'i') {
			size_t nlen;
			const char *c = find_colon(p, le, &nlen);
			if (c && (ci_eq(p, nlen, "call-id", 7) ||
				  ci_eq(p, nlen, "i", 1))) {
				struct cv_pl v = value_of(c, le);
				if (!v.l)
					return CV_EPARSE;
				*call_id = v;
				return 0;
			}
		}
		p = le;
	}
	return CV_ENOTFOUND;
}
