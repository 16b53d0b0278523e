/* Differential test against sofia-sip's parser (issue 4 "Tests"): every
 * RFC 4475 / RFC 5118 torture message and every benchmark corpus message is
 * parsed by cvoip (parse + full typed parse) and by sofia-sip (msg_make with
 * sip_default_mclass). Where both accept, the fields the transaction and
 * dialog layers use must agree: method/status, Request-URI, From/To
 * (display, URI, tag), Call-ID, CSeq, every Via (transport, host, port,
 * branch), Max-Forwards, Content-Length and body length, every Contact URI.
 * Differences that were analysed (docs/sip.md "Differential test against
 * sofia-sip") are listed in known[]; anything else fails the test, and so
 * does a listed difference that no longer occurs. Acceptance differences
 * are listed too: a message one parser rejects and the other accepts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sofia-sip/msg.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_parser.h>
#include <sofia-sip/url.h>

#include "cvoip/sip.h"

/* file, field ("accept" for an acceptance difference), why. */
static const struct known {
	const char *file, *field, *why;
} known[] = {
	/* sofia-sip's bugs: RFC 4475 says these are valid */
	{"intmeth.sip", "accept",
	 "sofia refuses the method token (!, %, ` are token chars, RFC 3261 "
	 "§25.1) "
	 "and the To display name with escaped controls (RFC 4475 §3.1.1.2)"},
	/* RFC 4475 invalid messages sofia's parser lets through (nta or the
	 * application would have to catch them); cvoip answers as the RFC says
	 */
	{"badaspec.sip", "accept",
	 "To addr-spec with params not in <>: §3.1.2.14 400"},
	{"badvers.sip", "accept",
	 "SIP/7.0: §3.1.2.16 505 (nta checks the version later)"},
	{"escruri.sip", "accept",
	 "unescaped headers in the Request-URI: §3.1.2.11 400"},
	{"ltgtruri.sip", "accept", "Request-URI in <>: §3.1.2.7 400"},
	{"lwsstart.sip", "accept",
	 "extra SP in the request line: §3.1.2.9 may reject"},
	{"trws.sip", "accept",
	 "trailing SP after SIP-Version: §3.1.2.10 may reject"},
	{"mismatch01.sip", "accept",
	 "CSeq method differs from the method: §3.1.2.17 400"},
	{"mismatch02.sip", "accept",
	 "CSeq method differs from the method: §3.1.2.18 400"},
	{"ipv6-bad-via.sip", "accept",
	 "Via host [2001:db8:::9:1] is no IPv6 address (RFC 5118 §4.2 style)"},
	{NULL, NULL, NULL},
};
static bool known_seen[sizeof(known) / sizeof(known[0])];

static int unexpected, both_accept, total;

static void report(const char *file, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void report(const char *file, const char *field, const char *fmt, ...)
{
	char detail[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	for (size_t i = 0; known[i].file; i++)
		if (!strcmp(known[i].file, file) &&
		    !strcmp(known[i].field, field)) {
			known_seen[i] = true;
			print_message("known  %s %s: %s\n", file, field,
				      detail);
			return;
		}
	print_error("DIFF   %s %s: %s\n", file, field, detail);
	unexpected++;
}

static bool pl_is(struct cv_pl a, const char *s)
{
	return s ? cv_pl_eq_str(a, s) : a.l == 0;
}

static bool pl_is_nocase(struct cv_pl a, const char *s)
{
	if (!s)
		return a.l == 0;
	return strlen(s) == a.l && strncasecmp(a.p, s, a.l) == 0;
}

/* unescaped comparison: sofia canonicalises escapes of unreserved chars
 * (RFC 3261 §19.1.4 makes both forms equal) */
static bool pl_is_unesc(struct cv_pl a, const char *s)
{
	char x[1024], y[1024];
	if (cv_sip_unescape(a, x, sizeof(x)) < 0)
		return false;
	snprintf(y, sizeof(y), "%s", s ? s : "");
	url_unescape(y, y);
	return strcmp(x, y) == 0;
}

static void uri_cmp(const char *file, const char *what, struct cv_pl text,
		    const url_t *u)
{
	struct cv_sip_uri x;
	char field[64];
	if (cv_sip_uri_parse(text, &x)) {
		report(file, what, "cvoip cannot parse URI %.*s", (int)text.l,
		       text.p);
		return;
	}
	snprintf(field, sizeof(field), "%s.scheme", what);
	if (!pl_is_nocase(x.scheme_pl, u->url_scheme))
		report(file, field, "%.*s vs %s", (int)x.scheme_pl.l,
		       x.scheme_pl.p, u->url_scheme);
	if (x.scheme == CV_SIP_SCHEME_OTHER)
		return;
	/* sofia keeps a tel number in url_host */
	const char *user = x.scheme == CV_SIP_SCHEME_TEL && !u->url_user
				   ? u->url_host
				   : u->url_user;
	snprintf(field, sizeof(field), "%s.user", what);
	if (!pl_is_unesc(x.user, user))
		report(file, field, "%.*s vs %s", (int)x.user.l, x.user.p,
		       user ? user : "(none)");
	if (x.scheme == CV_SIP_SCHEME_TEL)
		return;
	snprintf(field, sizeof(field), "%s.password", what);
	if (!pl_is_unesc(x.password, u->url_password))
		report(file, field, "%.*s vs %s", (int)x.password.l,
		       x.password.p,
		       u->url_password ? u->url_password : "(none)");
	/* sofia keeps the brackets of an IPv6 reference */
	char host[300];
	snprintf(host, sizeof(host), "%s", u->url_host ? u->url_host : "");
	char *h = host;
	size_t hl = strlen(h);
	if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
		h[hl - 1] = 0;
		h++;
	}
	snprintf(field, sizeof(field), "%s.host", what);
	if (!pl_is_nocase(x.host, h))
		report(file, field, "%.*s vs %s", (int)x.host.l, x.host.p, h);
	snprintf(field, sizeof(field), "%s.port", what);
	if (!pl_is(x.port_pl, u->url_port))
		report(file, field, "%.*s vs %s", (int)x.port_pl.l, x.port_pl.p,
		       u->url_port ? u->url_port : "(none)");
	struct cv_pl params = x.params;
	if (params.l && params.p[0] == ';') {
		params.p++;
		params.l--;
	}
	snprintf(field, sizeof(field), "%s.params", what);
	if (!pl_is_unesc(params, u->url_params))
		report(file, field, "%.*s vs %s", (int)params.l, params.p,
		       u->url_params ? u->url_params : "(none)");
	snprintf(field, sizeof(field), "%s.headers", what);
	if (!pl_is_unesc(x.headers, u->url_headers))
		report(file, field, "%.*s vs %s", (int)x.headers.l, x.headers.p,
		       u->url_headers ? u->url_headers : "(none)");
}

static void addr_cmp(const char *file, const char *what,
		     const struct cv_sip_naddr *na, const sip_addr_t *a)
{
	char field[64];
	snprintf(field, sizeof(field), "%s.tag", what);
	if (!pl_is(na->tag, a->a_tag))
		report(file, field, "%.*s vs %s", (int)na->tag.l, na->tag.p,
		       a->a_tag ? a->a_tag : "(none)");
	/* sofia keeps the quotes of a quoted display name */
	const char *d = a->a_display;
	char dn[512];
	if (d && d[0] == '"') {
		snprintf(dn, sizeof(dn), "%s", d + 1);
		size_t l = strlen(dn);
		if (l && dn[l - 1] == '"')
			dn[l - 1] = 0;
		d = dn;
	}
	snprintf(field, sizeof(field), "%s.display", what);
	if (!pl_is(na->dname, d))
		report(file, field, "[%.*s] vs [%s]", (int)na->dname.l,
		       na->dname.p, d ? d : "(none)");
	uri_cmp(file, what, na->uri, a->a_url);
}

static void compare(const char *file, const struct cv_sip_msg *m,
		    const sip_t *s)
{
	both_accept++;
	if (m->req) {
		if (!s->sip_request) {
			report(file, "startline", "request vs response");
			return;
		}
		if (!pl_is(m->method_pl, s->sip_request->rq_method_name))
			report(file, "method", "%.*s vs %s",
			       (int)m->method_pl.l, m->method_pl.p,
			       s->sip_request->rq_method_name);
		uri_cmp(file, "ruri", m->ruri, s->sip_request->rq_url);
	} else {
		if (!s->sip_status) {
			report(file, "startline", "response vs request");
			return;
		}
		if (m->status != s->sip_status->st_status)
			report(file, "status", "%d vs %d", m->status,
			       s->sip_status->st_status);
		if (!pl_is(m->reason, s->sip_status->st_phrase))
			report(file, "reason", "%.*s vs %s", (int)m->reason.l,
			       m->reason.p, s->sip_status->st_phrase);
	}
	addr_cmp(file, "from", &m->from, s->sip_from);
	addr_cmp(file, "to", &m->to, s->sip_to);
	if (!pl_is(m->call_id, s->sip_call_id->i_id))
		report(file, "call-id", "%.*s vs %s", (int)m->call_id.l,
		       m->call_id.p, s->sip_call_id->i_id);
	if (m->cseq.num != s->sip_cseq->cs_seq ||
	    !pl_is(m->cseq.method_pl, s->sip_cseq->cs_method_name))
		report(file, "cseq", "%u %.*s vs %u %s", m->cseq.num,
		       (int)m->cseq.method_pl.l, m->cseq.method_pl.p,
		       s->sip_cseq->cs_seq, s->sip_cseq->cs_method_name);
	if (m->max_forwards < 0
		    ? s->sip_max_forwards != NULL
		    : !s->sip_max_forwards ||
			      s->sip_max_forwards->mf_count !=
				      (unsigned long)m->max_forwards)
		report(file, "max-forwards", "%d vs %lu", m->max_forwards,
		       s->sip_max_forwards ? s->sip_max_forwards->mf_count
					   : 0ul);
	if (m->content_length < 0
		    ? s->sip_content_length != NULL
		    : !s->sip_content_length ||
			      s->sip_content_length->l_length !=
				      (unsigned long)m->content_length)
		report(file, "content-length", "%lld vs %lu",
		       (long long)m->content_length,
		       s->sip_content_length
			       ? (unsigned long)s->sip_content_length->l_length
			       : 0ul);
	size_t spl = s->sip_payload ? s->sip_payload->pl_len : 0;
	if (m->body.l != spl)
		report(file, "body", "%zu vs %zu bytes", m->body.l, spl);

	/* every Via value */
	struct cv_sip_vals_iter it = {0};
	struct cv_pl val;
	const sip_via_t *sv = s->sip_via;
	unsigned k = 0;
	while (cv_sip_msg_vals_next(m, CV_SIP_HDR_VIA, &it, &val) == 0) {
		char field[64];
		struct cv_sip_via v;
		snprintf(field, sizeof(field), "via%u", k);
		if (!sv) {
			report(file, field, "sofia has fewer Via values");
			break;
		}
		if (cv_sip_via_parse(val, &v)) {
			report(file, field, "cvoip cannot parse %.*s",
			       (int)val.l, val.p);
		} else {
			/* sent-protocol as written, LWS removed (sofia does
			 * too) */
			char proto[64];
			size_t pl = 0;
			for (const char *c = v.value.p;
			     c < v.transport.p + v.transport.l &&
			     pl < sizeof(proto) - 1;
			     c++)
				if ((unsigned char)*c > 0x20)
					proto[pl++] = *c;
			proto[pl] = 0;
			const char *sh = sv->v_host ? sv->v_host : "";
			char host[300];
			snprintf(host, sizeof(host), "%s", sh);
			size_t hl = strlen(host);
			char *h = host;
			if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
				h[hl - 1] = 0;
				h++;
			}
			/* sent-by port as a number: "h:0" is port 0 to sofia,
			 * absent (0) to cvoip */
			char port[8] = "";
			if (v.port)
				snprintf(port, sizeof(port), "%u", v.port);
			const char *sport =
				sv->v_port && strtoul(sv->v_port, NULL, 10)
					? sv->v_port
					: "";
			if (strcasecmp(proto,
				       sv->v_protocol ? sv->v_protocol : "") ||
			    !pl_is_nocase(v.host, h) || strcmp(port, sport) ||
			    !pl_is(v.branch, sv->v_branch) ||
			    !pl_is(v.received, sv->v_received) ||
			    !pl_is(v.maddr, sv->v_maddr))
				report(file, field,
				       "%s %.*s:%s branch=%.*s vs %s %s:%s "
				       "branch=%s",
				       proto, (int)v.host.l, v.host.p, port,
				       (int)v.branch.l, v.branch.p,
				       sv->v_protocol, sv->v_host,
				       sv->v_port ? sv->v_port : "",
				       sv->v_branch ? sv->v_branch : "");
		}
		sv = sv->v_next;
		k++;
	}
	if (sv)
		report(file, "via", "sofia has more Via values");
	if (k != m->via_count)
		report(file, "via_count", "%u values iterated, via_count %u", k,
		       m->via_count);

	/* every Contact value */
	memset(&it, 0, sizeof(it));
	const sip_contact_t *sc = s->sip_contact;
	k = 0;
	while (cv_sip_msg_vals_next(m, CV_SIP_HDR_CONTACT, &it, &val) == 0) {
		char field[64];
		struct cv_sip_contact c;
		snprintf(field, sizeof(field), "contact%u", k);
		if (!sc) {
			report(file, field, "sofia has fewer Contact values");
			break;
		}
		if (cv_sip_contact_parse(val, &c))
			report(file, field, "cvoip cannot parse %.*s",
			       (int)val.l, val.p);
		else if (c.star)
			; /* sofia: url_type any, compared through acceptance
			     only */
		else
			uri_cmp(file, field, c.addr.uri, sc->m_url);
		sc = sc->m_next;
		k++;
	}
	if (sc)
		report(file, "contact", "sofia has more Contact values");
}

/* NULL when sofia-sip accepts the message, else what it objects to */
static const char *sofia_why(const msg_t *sm, const sip_t *s)
{
	if (!sm || !s)
		return "no message";
	/* a header that failed keeps its own class (and layout) on the error
	 * list: name it by its class, er_name is only valid for unknown ones */
	if (s->sip_error) {
		const msg_hclass_t *hc = s->sip_error->er_common->h_class;
		return hc && hc->hc_name && hc->hc_name[0] ? hc->hc_name
							   : "bad header";
	}
	if (s->sip_flags & MSG_FLG_ERROR)
		return "error flag";
	if (!s->sip_request && !s->sip_status)
		return "start line";
	if (!s->sip_from || !s->sip_to || !s->sip_call_id || !s->sip_cseq ||
	    !s->sip_via)
		return "missing From/To/Call-ID/CSeq/Via";
	return NULL;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *b = malloc(1 << 17);
	*len = b ? fread(b, 1, 1 << 17, f) : 0;
	fclose(f);
	return b;
}

static void one(const char *dir, const char *name)
{
	char path[4096];
	size_t len = 0;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	char *buf = slurp(path, &len);
	assert_non_null(buf);
	total++;
	struct cv_sip_msg *m = NULL;
	struct cv_sip_verdict v = {0};
	int err = cv_sip_msg_parse(&m, buf, len, NULL, &v);
	if (!err)
		err = cv_sip_msg_parse_full(m, &v);
	msg_t *sm = msg_make(sip_default_mclass(), 0, buf, (issize_t)len);
	sip_t *s = sm ? sip_object(sm) : NULL;
	const char *why = sofia_why(sm, s);
	bool sok = !why;
	if (!err && sok)
		compare(name, m, s);
	else if (!err != sok)
		report(name, "accept", "cvoip %s%s%s, sofia %s%s%s",
		       err ? "rejects" : "accepts", err ? ": " : "",
		       err && v.reason ? v.reason : "",
		       sok ? "accepts" : "rejects", sok ? "" : ": ",
		       sok ? "" : why);
	cv_mem_unref(m);
	msg_destroy(sm);
	free(buf);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

enum { MAXFILES = 20000 };

static void run_dir_abs(const char *dir, bool all)
{
	DIR *d = opendir(dir);
	assert_non_null(d);
	char **names = calloc(MAXFILES, sizeof(char *));
	assert_non_null(names);
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d)) && n < MAXFILES) {
		size_t l = strlen(e->d_name);
		if (e->d_name[0] != '.' &&
		    (all || (l > 4 && !strcmp(e->d_name + l - 4, ".sip"))))
			names[n++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), name_cmp);
	for (size_t i = 0; i < n; i++) {
		one(dir, names[i]);
		free(names[i]);
	}
	free(names);
}

static void run_dir(const char *sub)
{
	const char *src = getenv("CV_SOURCE_DIR");
	char dir[2048];
	snprintf(dir, sizeof(dir), "%s/%s", src ? src : "..", sub);
	run_dir_abs(dir, false);
}

static void test_sofia_diff(void **state)
{
	(void)state;
	int64_t live = cv_mem_live();
	run_dir("tests/sip/torture");
	run_dir("bench/sip/corpus");
	print_message(
		"%d messages, %d accepted by both, %d unexpected differences\n",
		total, both_accept, unexpected);
	for (size_t i = 0; known[i].file; i++)
		if (!known_seen[i]) {
			print_error("listed difference no longer seen: %s %s\n",
				    known[i].file, known[i].field);
			unexpected++;
		}
	assert_int_equal(unexpected, 0);
	/* the 11 corpus messages and most valid torture messages */
	assert_true(both_accept >= 40);
	assert_int_equal(cv_mem_live(), live);
}

int main(int argc, char **argv)
{
	/* exploration: test_sip_sofia_diff DIR... compares every file of the
	 * given folders (e.g. a fuzzer's output corpus) and lists differences
	 */
	if (argc > 1) {
		for (int i = 1; i < argc; i++)
			run_dir_abs(argv[i], true);
		printf("%d files, %d accepted by both, %d differences\n", total,
		       both_accept, unexpected);
		return 0;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sofia_diff),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
