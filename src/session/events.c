/* Bodies of the event packages a softphone subscribes to: presence
 * (PIDF, RFC 3863), message-summary (RFC 3842) and dialog (RFC 4235).
 * A small tolerant XML scanner: elements are found by local name (any
 * namespace prefix), unknown ones are skipped, every loop is bounded by
 * the body length. */
#include <stdio.h>
#include <string.h>

#include "session_int.h"

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
	       c == ':';
}

/* The next element <[prefix:]local ...>...</[prefix:]local> in *doc:
 * attrs (inside the start tag) and content; *doc moves past it. A
 * self-closing element has empty content. */
static bool xml_next(struct cv_pl *doc, const char *local, struct cv_pl *attrs,
		     struct cv_pl *content)
{
	size_t ll = strlen(local);
	const char *p = doc->p, *end = doc->p + doc->l;
	while (p < end) {
		const char *lt = memchr(p, '<', (size_t)(end - p));
		if (!lt || lt + 1 >= end)
			return false;
		p = lt + 1;
		if (*p == '/' || *p == '?' || *p == '!')
			continue;
		const char *n = p;
		while (p < end && name_char(*p))
			p++;
		struct cv_pl qname = {n, (size_t)(p - n)};
		const char *colon = memchr(qname.p, ':', qname.l);
		struct cv_pl lname =
			colon ? (struct cv_pl){colon + 1,
					       qname.l - (size_t)(colon + 1 -
								  qname.p)}
			      : qname;
		if (lname.l != ll || memcmp(lname.p, local, ll) != 0)
			continue;
		const char *gt = memchr(p, '>', (size_t)(end - p));
		if (!gt)
			return false;
		bool selfclose = gt > p && gt[-1] == '/';
		*attrs = (struct cv_pl){p,
					(size_t)(gt - p) - (selfclose ? 1 : 0)};
		const char *cstart = gt + 1;
		if (selfclose) {
			*content = (struct cv_pl){cstart, 0};
			doc->l = (size_t)(end - cstart);
			doc->p = cstart;
			return true;
		}
		/* the matching close tag </qname> */
		for (const char *q = cstart; q + qname.l + 3 <= end; q++) {
			q = memchr(q, '<', (size_t)(end - q));
			if (!q || q + qname.l + 3 > end)
				break;
			if (q[1] == '/' && !memcmp(q + 2, qname.p, qname.l) &&
			    q[2 + qname.l] == '>') {
				*content = (struct cv_pl){cstart,
							  (size_t)(q - cstart)};
				const char *after = q + qname.l + 3;
				doc->p = after;
				doc->l = (size_t)(end - after);
				return true;
			}
		}
		return false;
	}
	return false;
}

static bool xml_attr(struct cv_pl attrs, const char *name, struct cv_pl *val)
{
	size_t nl = strlen(name);
	const char *p = attrs.p, *end = attrs.p + attrs.l;
	while (p < end) {
		while (p < end && !name_char(*p))
			p++;
		const char *n = p;
		while (p < end && name_char(*p))
			p++;
		size_t len = (size_t)(p - n);
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p >= end || *p != '=')
			continue;
		p++;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p >= end || (*p != '"' && *p != '\''))
			continue;
		char q = *p++;
		const char *v = p;
		const char *e = memchr(p, q, (size_t)(end - p));
		if (!e)
			return false;
		p = e + 1;
		if (len == nl && !memcmp(n, name, nl)) {
			*val = (struct cv_pl){v, (size_t)(e - v)};
			return true;
		}
	}
	return false;
}

static void copy(struct cv_pl v, char *out, size_t size)
{
	cv_pl_strcpy(cv_pl_trim(v), out, size);
}

int cv_pidf_parse(struct cv_pl body, struct cv_pidf *out)
{
	memset(out, 0, sizeof(*out));
	struct cv_pl doc = body, attrs, content, v;
	if (!xml_next(&doc, "presence", &attrs, &content))
		return CV_EPARSE;
	if (xml_attr(attrs, "entity", &v))
		copy(v, out->entity, sizeof(out->entity));
	struct cv_pl pres = content, tuple;
	if (xml_next(&pres, "tuple", &attrs, &tuple)) {
		struct cv_pl t = tuple, status, basic;
		if (xml_next(&t, "status", &attrs, &status) &&
		    xml_next(&status, "basic", &attrs, &basic)) {
			out->has_basic = true;
			out->open = cv_pl_caseeq_str(cv_pl_trim(basic), "open");
		}
	}
	pres = content;
	struct cv_pl note;
	if (xml_next(&pres, "note", &attrs, &note))
		copy(note, out->note, sizeof(out->note));
	return 0;
}

static void xml_escape(struct cv_buf *out, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '<':
			cv_buf_append_str(out, "&lt;");
			break;
		case '>':
			cv_buf_append_str(out, "&gt;");
			break;
		case '&':
			cv_buf_append_str(out, "&amp;");
			break;
		case '"':
			cv_buf_append_str(out, "&quot;");
			break;
		default:
			cv_buf_printf(out, "%c", *s);
			break;
		}
	}
}

int cv_pidf_print(struct cv_buf *out, const char *entity, bool open,
		  const char *note)
{
	cv_buf_append_str(
		out,
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n"
		"<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"");
	xml_escape(out, entity);
	cv_buf_printf(
		out,
		"\">\r\n<tuple id=\"cvoip\"><status><basic>%s</basic></status>",
		open ? "open" : "closed");
	if (note && *note) {
		cv_buf_append_str(out, "<note>");
		xml_escape(out, note);
		cv_buf_append_str(out, "</note>");
	}
	cv_buf_append_str(out, "</tuple>\r\n</presence>\r\n");
	return out->err;
}

/* "Voice-Message: 2/8 (0/0)" */
static void mwi_counts(struct cv_pl v, uint32_t *nw, uint32_t *old,
		       uint32_t *unew, uint32_t *uold)
{
	uint32_t vals[4] = {0};
	int k = 0;
	const char *p = v.p, *end = v.p + v.l;
	while (p < end && k < 4) {
		while (p < end && (*p < '0' || *p > '9'))
			p++;
		uint64_t x = 0;
		bool any = false;
		while (p < end && *p >= '0' && *p <= '9') {
			if (x < 0xffffffffu)
				x = x * 10 + (uint64_t)(*p - '0');
			p++;
			any = true;
		}
		if (any)
			vals[k++] = x > 0xffffffffu ? 0xffffffffu : (uint32_t)x;
	}
	*nw = vals[0];
	*old = vals[1];
	*unew = vals[2];
	*uold = vals[3];
}

int cv_mwi_parse(struct cv_pl body, struct cv_mwi *out)
{
	memset(out, 0, sizeof(*out));
	bool seen = false;
	struct cv_pl b = body;
	for (int lines = 0; b.l && lines < 256; lines++) {
		const char *nl = memchr(b.p, '\n', b.l);
		struct cv_pl line = {b.p, nl ? (size_t)(nl - b.p) : b.l};
		b.p += line.l + (nl ? 1 : 0);
		b.l -= line.l + (nl ? 1 : 0);
		const char *colon = memchr(line.p, ':', line.l);
		if (!colon)
			continue;
		struct cv_pl k = cv_pl_trim(
			(struct cv_pl){line.p, (size_t)(colon - line.p)});
		struct cv_pl v = cv_pl_trim((struct cv_pl){
			colon + 1, line.l - (size_t)(colon + 1 - line.p)});
		if (cv_pl_caseeq_str(k, "Messages-Waiting")) {
			seen = true;
			out->waiting = cv_pl_caseeq_str(v, "yes");
		} else if (cv_pl_caseeq_str(k, "Message-Account")) {
			copy(v, out->account, sizeof(out->account));
		} else if (cv_pl_caseeq_str(k, "Voice-Message")) {
			mwi_counts(v, &out->voice_new, &out->voice_old,
				   &out->voice_urgent_new,
				   &out->voice_urgent_old);
		}
	}
	return seen ? 0 : CV_EPARSE;
}

int cv_dialog_info_parse(struct cv_pl body, struct cv_dialog_info *out)
{
	memset(out, 0, sizeof(*out));
	struct cv_pl doc = body, attrs, content, v;
	if (!xml_next(&doc, "dialog-info", &attrs, &content))
		return CV_EPARSE;
	if (xml_attr(attrs, "entity", &v))
		copy(v, out->entity, sizeof(out->entity));
	if (xml_attr(attrs, "version", &v))
		cv_pl_u32(cv_pl_trim(v), &out->version);
	out->full = xml_attr(attrs, "state", &v) &&
		    cv_pl_eq_str(cv_pl_trim(v), "full");
	struct cv_pl rest = content, dlg;
	while (out->ndialogs < CV_DIALOG_INFO_MAX &&
	       xml_next(&rest, "dialog", &attrs, &dlg)) {
		struct cv_dialog_info_dialog *d =
			&out->dialogs[out->ndialogs++];
		if (xml_attr(attrs, "id", &v))
			copy(v, d->id, sizeof(d->id));
		if (xml_attr(attrs, "call-id", &v))
			copy(v, d->call_id, sizeof(d->call_id));
		if (xml_attr(attrs, "direction", &v))
			copy(v, d->direction, sizeof(d->direction));
		struct cv_pl in = dlg, st, remote, ident;
		if (xml_next(&in, "state", &attrs, &st))
			copy(st, d->state, sizeof(d->state));
		in = dlg;
		if (xml_next(&in, "remote", &attrs, &remote) &&
		    xml_next(&remote, "identity", &attrs, &ident))
			copy(ident, d->remote, sizeof(d->remote));
	}
	return 0;
}
