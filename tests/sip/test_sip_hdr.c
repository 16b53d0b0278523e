/* Typed header parsers, one test per header type (RFC 3261 §20 and the
 * RFCs defining each extension header). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "cvoip/sip.h"

#define EQ(pl, s) assert_true(cv_pl_eq_str((pl), (s)))

static void test_via(void **state)
{
	(void)state;
	struct cv_sip_via v;
	assert_int_equal(
		cv_sip_via_parse(CV_PL("SIP / 2.0 / TLS  h.example.com : 5061 "
				       ";branch=z9hG4bK1;"
				       "received=192.0.2.1;rport=5070;maddr="
				       "224.0.0.1;ttl=16;x"),
				 &v),
		0);
	EQ(v.transport, "TLS");
	assert_int_equal(v.tp, CV_SIP_TP_TLS);
	EQ(v.host, "h.example.com");
	assert_int_equal(v.port, 5061);
	EQ(v.branch, "z9hG4bK1");
	EQ(v.received, "192.0.2.1");
	assert_true(v.rport_present);
	EQ(v.rport, "5070");
	EQ(v.maddr, "224.0.0.1");
	EQ(v.ttl, "16");
	struct cv_pl x;
	assert_int_equal(cv_sip_param_get(v.params, "x", &x), 0);
	assert_int_equal(x.l, 0);
	/* RFC 5118 §4.5, §4.6: received with or without brackets */
	assert_int_equal(
		cv_sip_via_parse(CV_PL("SIP/2.0/UDP "
				       "[2001:db8::9:1];received=[2001:db8::9:"
				       "255];branch=z9hG4bKa"),
				 &v),
		0);
	assert_true(v.ipv6);
	EQ(v.host, "2001:db8::9:1");
	EQ(v.received, "[2001:db8::9:255]");
	assert_int_equal(
		cv_sip_via_parse(
			CV_PL("SIP/2.0/WSS "
			      "df7jal23ls0d.invalid;branch=z9hG4bKa;rport"),
			&v),
		0);
	assert_int_equal(v.tp, CV_SIP_TP_WSS);
	assert_int_equal(v.rport.l, 0);
	/* bad: missing transport, empty param, bad port, bad IPv6, bare branch
	 */
	const char *bad[] = {"SIP/2.0 h",
			     "SIP/2.0/UDP",
			     "SIP/2.0/UDP h;;",
			     "SIP/2.0/UDP h:99999",
			     "SIP/2.0/UDP [2001:db8:::1]",
			     "SIP/2.0/UDP h;branch",
			     "SIP/2.0/UDP h x",
			     "SIP/2.0/UDPh",
			     "SIP/2.0/UDP .h"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(cv_sip_via_parse(cv_pl_str(bad[i]), &v),
				 CV_EPARSE);
}

static void test_naddr(void **state)
{
	(void)state;
	struct cv_sip_naddr n;
	assert_int_equal(
		cv_sip_naddr_parse(CV_PL("\"A \\\"q\\\" B\" "
					 "<sip:a@b;lr>;tag=x1;foo=\"b;c\""),
				   &n),
		0);
	EQ(n.dname, "A \\\"q\\\" B");
	assert_true(n.quoted && n.angle);
	EQ(n.uri, "sip:a@b;lr");
	EQ(n.tag, "x1");
	struct cv_pl f;
	assert_int_equal(cv_sip_param_get(n.params, "FOO", &f), 0);
	EQ(f, "b;c");
	assert_int_equal(
		cv_sip_naddr_parse(CV_PL("Bob   Smith<sips:bob@h>"), &n), 0);
	EQ(n.dname, "Bob   Smith");
	/* addr-spec: ';' params belong to the header, not the URI (§20.10) */
	assert_int_equal(
		cv_sip_naddr_parse(CV_PL("sip:c@d;tag=88;user=phone"), &n), 0);
	EQ(n.uri, "sip:c@d");
	EQ(n.tag, "88");
	assert_false(n.angle);
	assert_int_equal(cv_sip_naddr_parse(CV_PL("tel:+1-201-555-0123"), &n),
			 0);
	const char *bad[] = {
		"",	     "\"x <sip:a@b>",	  "< sip:a@b>",
		"<sip:a@b",  "Bell, A <sip:a@b>", "sip:a@b?x=y",
		"<nocolon>", "<sip:a@b>;",	  "<sip:a@b> junk"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (cv_sip_naddr_parse(cv_pl_str(bad[i]), &n) != CV_EPARSE)
			print_error("accepted: %s\n",
				    bad[i] ? bad[i] : "(null)");
		assert_int_equal(cv_sip_naddr_parse(cv_pl_str(bad[i]), &n),
				 CV_EPARSE);
	}
}

static void test_contact(void **state)
{
	(void)state;
	struct cv_sip_contact c;
	assert_int_equal(cv_sip_contact_parse(CV_PL(" * "), &c), 0);
	assert_true(c.star);
	assert_int_equal(
		cv_sip_contact_parse(
			CV_PL("<sip:a@192.0.2.4;transport=tcp>;expires=3600;q="
			      "0.7;"
			      "+sip.instance=\"<urn:uuid:00000000-0000-1000-"
			      "8000-000A95A0E128>\";reg-id=2"),
			&c),
		0);
	assert_false(c.star);
	assert_int_equal(c.expires, 3600);
	assert_int_equal(c.q, 700);
	EQ(c.instance, "<urn:uuid:00000000-0000-1000-8000-000A95A0E128>");
	EQ(c.reg_id, "2");
	assert_int_equal(cv_sip_contact_parse(CV_PL("<sip:a@b>;q=1.000"), &c),
			 0);
	assert_int_equal(c.q, 1000);
	assert_int_equal(c.expires, -1);
	assert_int_equal(cv_sip_contact_parse(CV_PL("<sip:a@b>;q=1.5"), &c),
			 CV_EPARSE);
	assert_int_equal(cv_sip_contact_parse(CV_PL("<sip:a@b>;q=2"), &c),
			 CV_EPARSE);
	assert_int_equal(
		cv_sip_contact_parse(CV_PL("<sip:a@b>;expires=soon"), &c),
		CV_EPARSE);
}

static void test_scalars(void **state)
{
	(void)state;
	struct cv_sip_cseq cs;
	assert_int_equal(cv_sip_cseq_parse(CV_PL("0009\r\n  INVITE"), &cs), 0);
	assert_int_equal(cs.num, 9);
	assert_int_equal(cs.method, CV_SIP_INVITE);
	assert_int_equal(cv_sip_cseq_parse(CV_PL("2147483648 INVITE"), &cs),
			 CV_EPARSE);
	assert_int_equal(cv_sip_cseq_parse(CV_PL("1INVITE"), &cs), CV_EPARSE);
	assert_int_equal(cv_sip_cseq_parse(CV_PL("1 INVITE x"), &cs),
			 CV_EPARSE);
	assert_int_equal(cv_sip_cseq_parse(CV_PL("1 FOO"), &cs), 0);
	assert_int_equal(cs.method, CV_SIP_METHOD_OTHER);
	uint32_t u;
	assert_int_equal(cv_sip_u32_parse(CV_PL(" 70 "), &u), 0);
	assert_int_equal(u, 70);
	assert_int_equal(cv_sip_u32_parse(CV_PL("4294967296"), &u), CV_EPARSE);
	assert_int_equal(cv_sip_u32_parse(CV_PL("-1"), &u), CV_EPARSE);
	assert_int_equal(cv_sip_u32_parse(CV_PL(""), &u), CV_EPARSE);
	struct cv_sip_rack r;
	assert_int_equal(cv_sip_rack_parse(CV_PL("776656 1 INVITE"), &r), 0);
	assert_int_equal(r.rseq, 776656);
	assert_int_equal(r.cseq, 1);
	assert_int_equal(r.method, CV_SIP_INVITE);
	assert_int_equal(cv_sip_rack_parse(CV_PL("776656 INVITE"), &r),
			 CV_EPARSE);
}

static void test_types_and_events(void **state)
{
	(void)state;
	struct cv_sip_ctype ct;
	assert_int_equal(
		cv_sip_ctype_parse(CV_PL("multipart/mixed ; boundary=\"b 1\""),
				   &ct),
		0);
	EQ(ct.type, "multipart");
	EQ(ct.subtype, "mixed");
	struct cv_pl b;
	assert_int_equal(cv_sip_param_get(ct.params, "boundary", &b), 0);
	EQ(b, "b 1");
	assert_int_equal(cv_sip_ctype_parse(CV_PL("application"), &ct),
			 CV_EPARSE);
	assert_int_equal(
		cv_sip_cdisp_parse(CV_PL("session;handling=optional"), &ct), 0);
	EQ(ct.type, "session");
	struct cv_sip_event ev;
	assert_int_equal(cv_sip_event_parse(CV_PL("dialog.winfo;id=12"), &ev),
			 0);
	EQ(ev.package, "dialog.winfo");
	EQ(ev.id, "12");
	struct cv_sip_substate ss;
	assert_int_equal(
		cv_sip_substate_parse(
			CV_PL("terminated;reason=timeout;retry-after=60"), &ss),
		0);
	EQ(ss.state, "terminated");
	EQ(ss.reason, "timeout");
	assert_int_equal(ss.retry_after, 60);
	assert_int_equal(ss.expires, -1);
	assert_int_equal(cv_sip_substate_parse(CV_PL("active;expires=x"), &ss),
			 CV_EPARSE);
	struct cv_sip_session_expires se;
	assert_int_equal(
		cv_sip_session_expires_parse(CV_PL("1800;refresher=uas"), &se),
		0);
	assert_int_equal(se.delta, 1800);
	EQ(se.refresher, "uas");
	assert_int_equal(
		cv_sip_session_expires_parse(CV_PL("1800;refresher=me"), &se),
		CV_EPARSE);
	struct cv_sip_replaces rp;
	assert_int_equal(cv_sip_replaces_parse(
				 CV_PL("98732@sip.example.com;from-tag="
				       "r33th4x0r;to-tag=ff87ff;early-only"),
				 &rp),
			 0);
	EQ(rp.call_id, "98732@sip.example.com");
	EQ(rp.to_tag, "ff87ff");
	EQ(rp.from_tag, "r33th4x0r");
	assert_true(rp.early_only);
	assert_int_equal(cv_sip_replaces_parse(CV_PL("98732@x;to-tag=1"), &rp),
			 CV_EPARSE);
	struct cv_sip_reason rs;
	assert_int_equal(
		cv_sip_reason_parse(
			CV_PL("Q.850 ;cause=16 ;text=\"Terminated\""), &rs),
		0);
	EQ(rs.protocol, "Q.850");
	assert_int_equal(rs.cause, 16);
	EQ(rs.text, "Terminated");
}

static void test_date_time(void **state)
{
	(void)state;
	int64_t t;
	assert_int_equal(
		cv_sip_date_parse(CV_PL("Sat, 13 Nov 2010 23:29:00 GMT"), &t),
		0);
	assert_int_equal(t, 1289690940);
	assert_int_equal(
		cv_sip_date_parse(CV_PL("Fri, 01 Jan 2010 16:00:00 EST"), &t),
		CV_EPARSE);
	assert_int_equal(
		cv_sip_date_parse(CV_PL("Xyz, 01 Jan 2010 16:00:00 GMT"), &t),
		CV_EPARSE);
	struct cv_sip_timestamp ts;
	assert_int_equal(cv_sip_timestamp_parse(CV_PL("54.16 0.5"), &ts), 0);
	EQ(ts.value, "54.16");
	EQ(ts.delay, "0.5");
	assert_int_equal(cv_sip_timestamp_parse(CV_PL("x"), &ts), CV_EPARSE);
	struct cv_sip_retry_after ra;
	assert_int_equal(
		cv_sip_retry_after_parse(
			CV_PL("120 (I'm in (a) meeting);duration=3600"), &ra),
		0);
	assert_int_equal(ra.delta, 120);
	EQ(ra.comment, "(I'm in (a) meeting)");
	assert_int_equal(ra.duration, 3600);
	assert_int_equal(cv_sip_retry_after_parse(CV_PL("120 (open"), &ra),
			 CV_EPARSE);
}

static void test_auth_lists_params(void **state)
{
	(void)state;
	struct cv_sip_auth a;
	assert_int_equal(
		cv_sip_auth_parse(CV_PL("Digest realm=\"a, b\", "
					"nonce=\"n\",\r\n algorithm=MD5"),
				  true, &a),
		0);
	EQ(a.scheme, "Digest");
	struct cv_pl rest = a.params, n, v;
	assert_int_equal(cv_sip_auth_param_next(&rest, &n, &v), 0);
	EQ(n, "realm");
	EQ(v, "a, b");
	assert_int_equal(cv_sip_auth_param_next(&rest, &n, &v), 0);
	assert_int_equal(cv_sip_auth_param_next(&rest, &n, &v), 0);
	EQ(v, "MD5");
	assert_int_equal(cv_sip_auth_param_next(&rest, &n, &v), CV_ENOTFOUND);
	assert_int_equal(cv_sip_auth_parse(CV_PL("nextnonce=\"x\", qop=auth"),
					   false, &a),
			 0);
	assert_int_equal(cv_sip_auth_parse(CV_PL("Digest realm"), true, &a),
			 CV_EPARSE);
	/* lists: quotes and <> protect commas; empty elements are skipped */
	struct cv_pl l = CV_PL(" a, \"b,c\" , <sip:x,y>;p=1,, d ,"), it;
	const char *want[] = {"a", "\"b,c\"", "<sip:x,y>;p=1", "d"};
	for (int i = 0; i < 4; i++) {
		assert_int_equal(cv_sip_list_next(&l, &it), 0);
		EQ(it, want[i]);
	}
	assert_int_equal(cv_sip_list_next(&l, &it), CV_ENOTFOUND);
	struct cv_pl p;
	assert_int_equal(
		cv_sip_param_get(CV_PL(";lr;Transport=TCP"), "transport", &p),
		0);
	EQ(p, "TCP");
	assert_int_equal(cv_sip_param_get(CV_PL("lr"), "lr", &p), 0);
	assert_int_equal(cv_sip_param_get(CV_PL(";lr"), "maddr", &p),
			 CV_ENOTFOUND);
}

static void test_header_names(void **state)
{
	(void)state;
	for (int id = 1; id < CV_SIP_HDR_COUNT; id++) {
		const char *n = cv_sip_hdr_name((enum cv_sip_hdr_id)id);
		assert_non_null(n);
		assert_int_equal(cv_sip_hdr_id_of(cv_pl_str(n)), id);
	}
	assert_int_equal(cv_sip_hdr_id_of(CV_PL("www-AUTHENTICATE")),
			 CV_SIP_HDR_WWW_AUTHENTICATE);
	const char compact[] = "abcdefijklmorstuvx";
	for (const char *c = compact; *c; c++)
		assert_int_not_equal(cv_sip_hdr_id_of((struct cv_pl){c, 1}),
				     CV_SIP_HDR_OTHER);
	assert_int_equal(cv_sip_hdr_id_of(CV_PL("g")), CV_SIP_HDR_OTHER);
	assert_int_equal(cv_sip_method_from(CV_PL("invite")),
			 CV_SIP_METHOD_OTHER);
	for (int m = 1; m < CV_SIP_METHOD_COUNT; m++)
		assert_int_equal(
			cv_sip_method_from(cv_pl_str(
				cv_sip_method_name((enum cv_sip_method)m))),
			m);
	assert_string_equal(cv_sip_reason(420), "Bad Extension");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_via),
		cmocka_unit_test(test_naddr),
		cmocka_unit_test(test_contact),
		cmocka_unit_test(test_scalars),
		cmocka_unit_test(test_types_and_events),
		cmocka_unit_test(test_date_time),
		cmocka_unit_test(test_auth_lists_params),
		cmocka_unit_test(test_header_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
