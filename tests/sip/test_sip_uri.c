/* URIs: sip/sips/tel parsing, escapes, IPv6 references (RFC 5118), and
 * comparison with the examples of RFC 3261 §19.1.4. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "cvoip/sip.h"

#define EQ(pl, s) assert_true(cv_pl_eq_str((pl), (s)))

static void test_parse(void **state)
{
	(void)state;
	struct cv_sip_uri u;
	assert_int_equal(
		cv_sip_uri_parse(CV_PL("sips:alice:secret@[2001:db8::1]:5061;"
				       "transport=tcp;lr?subject=hi&x=%20y"),
				 &u),
		0);
	assert_int_equal(u.scheme, CV_SIP_SCHEME_SIPS);
	EQ(u.user, "alice");
	EQ(u.password, "secret");
	EQ(u.host, "2001:db8::1");
	assert_true(u.ipv6);
	assert_int_equal(u.port, 5061);
	EQ(u.params, ";transport=tcp;lr");
	EQ(u.headers, "subject=hi&x=%20y");
	struct cv_pl v;
	assert_int_equal(cv_sip_uri_param(&u, "TRANSPORT", &v), 0);
	EQ(v, "tcp");
	assert_int_equal(cv_sip_uri_param(&u, "lr", &v), 0);
	/* RFC 4475 §3.1.1.2 user part and §3.1.1.9 ';' inside the user */
	assert_int_equal(cv_sip_uri_parse(CV_PL("sip:1_unusual.URI~(to-be!sure)"
						"&isn't+it$/crazy?,/"
						";;*:&it+has=1,weird!*pas$wo~d_"
						"too.(doesn't-it)@example.com"),
					  &u),
			 0);
	EQ(u.host, "example.com");
	assert_int_equal(
		cv_sip_uri_parse(
			CV_PL("sip:user;par=u%40example.net@example.com"), &u),
		0);
	EQ(u.user, "user;par=u%40example.net");
	assert_int_equal(cv_sip_uri_parse(CV_PL("SIP:host.example.com"), &u),
			 0);
	assert_int_equal(u.scheme, CV_SIP_SCHEME_SIP);
	assert_null(u.user.p);
	assert_int_equal(
		cv_sip_uri_parse(
			CV_PL("tel:+1-201-555-0123;phone-context=example.com"),
			&u),
		0);
	assert_int_equal(u.scheme, CV_SIP_SCHEME_TEL);
	EQ(u.user, "+1-201-555-0123");
	assert_int_equal(cv_sip_uri_parse(CV_PL("urn:service:sos"), &u), 0);
	assert_int_equal(u.scheme, CV_SIP_SCHEME_OTHER);
	EQ(u.opaque, "service:sos");
	const char *bad[] = {"",
			     "sip:",
			     "sip:a@",
			     "sip:a b@c",
			     "sip:a@b:99999",
			     "sip:a@b:",
			     "sip:%zz@b",
			     "sip:a@[2001:db8::1",
			     "sip:2001:db8::10",
			     "sip:a@b;",
			     "sip:a@b;=x",
			     "sip:a@b?x",
			     "1sip:a",
			     "sip:a@b>",
			     "sip:@b",
			     "tel:",
			     "tel:abc-xyz",
			     "sip:a@-b"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (cv_sip_uri_parse(cv_pl_str(bad[i]), &u) != CV_EPARSE)
			print_error("accepted: %s\n",
				    bad[i] ? bad[i] : "(null)");
		assert_int_equal(cv_sip_uri_parse(cv_pl_str(bad[i]), &u),
				 CV_EPARSE);
	}
}

static void test_escape(void **state)
{
	(void)state;
	char b[32];
	assert_int_equal(
		cv_sip_unescape(CV_PL("I%20have%20spaces"), b, sizeof(b)), 13);
	assert_string_equal(b, "I have spaces");
	assert_int_equal(cv_sip_unescape(CV_PL("null-%00-null"), b, sizeof(b)),
			 11);
	assert_int_equal(b[5], '\0');
	assert_int_equal(cv_sip_unescape(CV_PL("bad%2"), b, sizeof(b)),
			 CV_EPARSE);
	assert_int_equal(cv_sip_unescape(CV_PL("0123456789"), b, 4), 10);
	assert_string_equal(b, "012");
	struct cv_buf out;
	cv_buf_init(&out, 0);
	assert_int_equal(cv_sip_escape_user(&out, CV_PL("a b@c;d")), 0);
	assert_int_equal(out.len, 11);
	assert_memory_equal(out.data, "a%20b%40c;d", 11);
	cv_buf_free(&out);
}

static void test_compare_rfc3261(void **state)
{
	(void)state;
	/* RFC 3261 §19.1.4: equivalent */
	static const char *const eq[][2] = {
		{"sip:%61lice@atlanta.com;transport=TCP",
		 "sip:alice@AtLanTa.CoM;Transport=tcp"},
		{"sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5"},
		{"sip:carol@chicago.com", "sip:carol@chicago.com;security=on"},
		{"sip:carol@chicago.com;newparam=5",
		 "sip:carol@chicago.com;security=on"},
		{"sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%"
		 "40biloxi.com",
		 "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%"
		 "40biloxi.com"},
		{"sip:alice@atlanta.com?subject=project%20x&priority=urgent",
		 "sip:alice@atlanta.com?priority=urgent&subject=project%20x"},
		/* RFC 5118 §4.9: the same IPv6 address written two ways */
		{"sip:[2001:db8::9:1]", "sip:[2001:db8:0:0:0:0:9:1]"},
		{"tel:+1-201-555-0123", "tel:+1.201.555.0123"},
	};
	/* not equivalent */
	static const char *const ne[][2] = {
		{"SIP:ALICE@AtLanTa.CoM;Transport=udp",
		 "sip:alice@AtLanTa.CoM;Transport=UDP"},
		{"sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"},
		{"sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"},
		{"sip:bob@biloxi.com", "sip:bob@biloxi.com:6000;transport=tcp"},
		{"sip:carol@chicago.com",
		 "sip:carol@chicago.com?Subject=next%20meeting"},
		{"sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"},
		{"sip:carol@chicago.com;security=on",
		 "sip:carol@chicago.com;security=off"},
		{"sip:a@b", "sips:a@b"},
		{"sip:a@b", "tel:+123"},
	};
	for (size_t i = 0; i < sizeof(eq) / sizeof(eq[0]); i++) {
		if (!cv_sip_uri_eq_text(cv_pl_str(eq[i][0]),
					cv_pl_str(eq[i][1])))
			print_error("should be equal: %s %s\n", eq[i][0],
				    eq[i][1]);
		assert_true(cv_sip_uri_eq_text(cv_pl_str(eq[i][0]),
					       cv_pl_str(eq[i][1])));
		assert_true(cv_sip_uri_eq_text(cv_pl_str(eq[i][1]),
					       cv_pl_str(eq[i][0])));
	}
	for (size_t i = 0; i < sizeof(ne) / sizeof(ne[0]); i++) {
		if (cv_sip_uri_eq_text(cv_pl_str(ne[i][0]),
				       cv_pl_str(ne[i][1])))
			print_error("should differ: %s %s\n", ne[i][0],
				    ne[i][1]);
		assert_false(cv_sip_uri_eq_text(cv_pl_str(ne[i][0]),
						cv_pl_str(ne[i][1])));
		assert_false(cv_sip_uri_eq_text(cv_pl_str(ne[i][1]),
						cv_pl_str(ne[i][0])));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_compare_rfc3261),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
