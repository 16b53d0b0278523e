/* RFC 4475 torture messages and RFC 5118 IPv6 messages: each file under
 * tests/sip/torture/ gets the verdict listed in torture/EXPECTED, through
 * the same steps as `cvoip sip-parse` (parse, full typed parse, policy).
 * Every valid one also round-trips byte for byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cvoip/sip.h"

static const char *const supported[] = {"100rel",     "timer",	  "replaces",
					"path",	      "outbound", "gruu",
					"norefersub", NULL};

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *b = malloc(1 << 20);
	*len = fread(b, 1, 1 << 20, f);
	fclose(f);
	return b;
}

static void test_torture(void **state)
{
	(void)state;
	const char *src = getenv("CV_SOURCE_DIR");
	char dir[2048], path[4096], line[512];
	snprintf(dir, sizeof(dir), "%s/tests/sip/torture", src ? src : "..");
	snprintf(path, sizeof(path), "%s/EXPECTED", dir);
	FILE *ex = fopen(path, "r");
	assert_non_null(ex);
	int n = 0, bad = 0;
	while (fgets(line, sizeof(line), ex)) {
		char file[256], exp[16];
		if (line[0] == '#' ||
		    sscanf(line, "%255s %15s", file, exp) != 2)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, file);
		size_t len = 0;
		char *buf = slurp(path, &len);
		assert_non_null(buf);
		struct cv_sip_msg *m = NULL;
		struct cv_sip_verdict v;
		int err = cv_sip_msg_parse(&m, buf, len, NULL, &v);
		if (!err)
			err = cv_sip_msg_parse_full(m, &v);
		if (!err) {
			struct cv_sip_policy pol = {.supported = supported,
						    .allow_tel = true};
			err = cv_sip_msg_check(m, &pol, &v);
		}
		char got[32];
		if (!err)
			snprintf(got, sizeof(got), "valid");
		else if (!v.status)
			snprintf(got, sizeof(got), "drop");
		else
			snprintf(got, sizeof(got), "%d", v.status);
		if (strcmp(got, exp)) {
			print_error("%s: expected %s, got %s (%s)\n", file, exp,
				    got, v.reason);
			bad++;
		}
		if (m && !err) {
			/* round trip: the message bytes come back unchanged */
			struct cv_buf out;
			cv_buf_init(&out, 0);
			assert_int_equal(cv_sip_msg_print(&out, m), 0);
			assert_int_equal(out.len, len);
			assert_memory_equal(out.data, buf, len);
			cv_buf_free(&out);
		}
		cv_mem_unref(m);
		free(buf);
		n++;
	}
	fclose(ex);
	assert_true(n >= 58);
	assert_int_equal(bad, 0);
}

/* Spot checks of what the RFC says the parser must extract. */
static struct cv_sip_msg *load(const char *name)
{
	const char *src = getenv("CV_SOURCE_DIR");
	char path[4200];
	snprintf(path, sizeof(path), "%s/tests/sip/torture/%s",
		 src ? src : "..", name);
	size_t len = 0;
	char *buf = slurp(path, &len);
	assert_non_null(buf);
	struct cv_sip_msg *m = NULL;
	assert_int_equal(cv_sip_msg_parse(&m, buf, len, NULL, NULL), 0);
	free(buf);
	return m;
}

static void test_wsinv_details(void **state)
{
	(void)state;
	struct cv_sip_msg *m = load("wsinv.sip");
	assert_true(cv_pl_eq_str(m->to.tag, "1918181833n"));
	assert_true(cv_pl_eq_str(m->from.tag, "98asjd8"));
	assert_true(cv_pl_eq_str(m->from.uri, "sip:jdrosen@example.com"));
	assert_int_equal(m->max_forwards, 68);
	assert_int_equal(m->cseq.num, 9);
	assert_int_equal(m->via_count, 3);
	assert_true(cv_pl_eq_str(m->via.host, "192.0.2.2"));
	assert_true(cv_pl_eq_str(m->via.branch, "390skdjuw"));
	assert_int_equal(m->body.l, 150);
	struct cv_sip_vals_iter it = {0};
	struct cv_pl v;
	int i = 0;
	while (cv_sip_msg_vals_next(m, CV_SIP_HDR_VIA, &it, &v) == 0) {
		struct cv_sip_via via;
		assert_int_equal(cv_sip_via_parse(v, &via), 0);
		if (i == 2) {
			assert_true(cv_pl_eq_str(via.branch, "z9hG4bK30239"));
			assert_true(cv_pl_eq_str(via.host, "192.168.255.111"));
		}
		i++;
	}
	const struct cv_sip_hdr *c = cv_sip_msg_hdr(m, CV_SIP_HDR_CONTACT);
	struct cv_sip_contact ct;
	assert_int_equal(cv_sip_contact_parse(c->value, &ct), 0);
	assert_int_equal(ct.q, 330);
	struct cv_pl np;
	assert_int_equal(cv_sip_param_get(ct.addr.params, "newparam", &np), 0);
	assert_true(cv_pl_eq_str(np, "newvalue"));
	assert_int_equal(cv_sip_param_get(ct.addr.params, "secondparam", &np),
			 0);
	const struct cv_sip_hdr *s = cv_sip_msg_hdr(m, CV_SIP_HDR_SUBJECT);
	assert_non_null(s);
	assert_int_equal(s->value.l, 0);
	const struct cv_sip_hdr *u = cv_sip_msg_hdr_by_name(
		m, CV_PL("unknownheaderwithunusualvalue"));
	assert_true(cv_pl_eq_str(u->value, ";;,,;;,;"));
	cv_mem_unref(m);

	m = load("dblreq.sip");
	assert_int_equal(m->body.l, 0); /* trailing datagram bytes ignored */
	cv_mem_unref(m);
	m = load("esc01.sip");
	struct cv_sip_uri uri;
	assert_int_equal(cv_sip_msg_ruri(m, &uri), 0);
	char user[64];
	assert_int_equal(cv_sip_unescape(uri.user, user, sizeof(user)), 21);
	assert_string_equal(user, "sips:user@example.com");
	assert_true(
		cv_sip_uri_eq_text(m->to.uri, CV_PL("sip:user@example.com")));
	cv_mem_unref(m);
	m = load("mpart01.sip");
	struct cv_sip_part parts[4];
	size_t n;
	assert_int_equal(
		cv_sip_multipart_split(m->content_type, m->body, parts, 4, &n),
		0);
	assert_int_equal(n, 2);
	assert_true(cv_pl_eq_str(parts[0].body, "Hello"));
	cv_mem_unref(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_torture),
		cmocka_unit_test(test_wsinv_details),
	};
	int64_t live = cv_mem_live();
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	return rc || cv_mem_live() != live;
}
