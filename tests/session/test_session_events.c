/* Readers of event package bodies: PIDF (RFC 3863), message-summary
 * (RFC 3842), dialog-info (RFC 4235), with namespace prefixes, odd
 * spacing, truncation and garbage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cvoip/session.h"

static void test_pidf(void **state)
{
	(void)state;
	struct cv_pidf p;
	const char *doc =
		"<?xml version=\"1.0\"?>\n"
		"<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" "
		"entity='sip:bob@example.com'>\n"
		" <tuple id=\"t1\"><status><basic> open </basic></status>"
		"<contact>sip:bob@10.0.0.1</contact></tuple>\n"
		" <note xml:lang=\"en\">Out to lunch</note>\n</presence>\n";
	assert_int_equal(cv_pidf_parse(cv_pl_str(doc), &p), 0);
	assert_string_equal(p.entity, "sip:bob@example.com");
	assert_true(p.has_basic);
	assert_true(p.open);
	assert_string_equal(p.note, "Out to lunch");
	const char *pref =
		"<p:presence xmlns:p=\"urn:ietf:params:xml:ns:pidf\" "
		"entity=\"pres:a@b\">"
		"<p:tuple "
		"id=\"x\"><p:status><p:basic>closed</p:basic></p:status></"
		"p:tuple>"
		"</p:presence>";
	assert_int_equal(cv_pidf_parse(cv_pl_str(pref), &p), 0);
	assert_true(p.has_basic);
	assert_false(p.open);
	assert_string_equal(p.entity, "pres:a@b");
	assert_int_equal(
		cv_pidf_parse(cv_pl_str("<presence entity=\"x\"><tuple>"), &p),
		CV_EPARSE);
	assert_int_equal(cv_pidf_parse(cv_pl_str("hello"), &p), CV_EPARSE);
	/* print and read back */
	struct cv_buf b;
	cv_buf_init(&b, 4096);
	assert_int_equal(cv_pidf_print(&b, "sip:me@h", false, "a<b"), 0);
	assert_int_equal(cv_pidf_parse((struct cv_pl){b.data, b.len}, &p), 0);
	assert_false(p.open);
	assert_true(p.has_basic);
	assert_string_equal(p.note, "a&lt;b");
	cv_buf_free(&b);
}

static void test_mwi(void **state)
{
	(void)state;
	struct cv_mwi w;
	const char *body = "Messages-Waiting: yes\r\nMessage-Account: "
			   "sip:alice@vmail.example.com\r\n"
			   "Voice-Message: 2/8 (0/2)\r\nFax-Message: 1/0\r\n";
	assert_int_equal(cv_mwi_parse(cv_pl_str(body), &w), 0);
	assert_true(w.waiting);
	assert_string_equal(w.account, "sip:alice@vmail.example.com");
	assert_int_equal(w.voice_new, 2);
	assert_int_equal(w.voice_old, 8);
	assert_int_equal(w.voice_urgent_new, 0);
	assert_int_equal(w.voice_urgent_old, 2);
	assert_int_equal(cv_mwi_parse(cv_pl_str("messages-waiting:no\n"), &w),
			 0);
	assert_false(w.waiting);
	assert_int_equal(cv_mwi_parse(cv_pl_str("Voice-Message: 1/1\r\n"), &w),
			 CV_EPARSE);
	assert_int_equal(
		cv_mwi_parse(cv_pl_str("Messages-Waiting: yes\r\n"
				       "Voice-Message: 99999999999999/4\r\n"),
			     &w),
		0);
	assert_int_equal(w.voice_new, 0xffffffffu);
	assert_int_equal(w.voice_old, 4);
}

static void test_dialog_info(void **state)
{
	(void)state;
	struct cv_dialog_info di;
	const char *doc =
		"<?xml version=\"1.0\"?>\n"
		"<dialog-info xmlns=\"urn:ietf:params:xml:ns:dialog-info\" "
		"version=\"7\" "
		"state=\"full\" entity=\"sip:alice@example.com\">\n"
		"<dialog id=\"as7d900as8\" call-id=\"a84b4c76e66710\" "
		"local-tag=\"1928301774\" "
		"direction=\"initiator\"><state "
		"event=\"replaced\">terminated</state></dialog>\n"
		"<dialog id=\"x2\" "
		"direction=\"recipient\"><state>confirmed</state>"
		"<remote><identity "
		"display=\"Bob\">sip:bob@example.com</identity></remote>"
		"</dialog>\n<dialog id='x3'/>\n</dialog-info>";
	assert_int_equal(cv_dialog_info_parse(cv_pl_str(doc), &di), 0);
	assert_string_equal(di.entity, "sip:alice@example.com");
	assert_int_equal(di.version, 7);
	assert_true(di.full);
	assert_int_equal(di.ndialogs, 3);
	assert_string_equal(di.dialogs[0].id, "as7d900as8");
	assert_string_equal(di.dialogs[0].call_id, "a84b4c76e66710");
	assert_string_equal(di.dialogs[0].direction, "initiator");
	assert_string_equal(di.dialogs[0].state, "terminated");
	assert_string_equal(di.dialogs[1].state, "confirmed");
	assert_string_equal(di.dialogs[1].remote, "sip:bob@example.com");
	assert_string_equal(di.dialogs[2].id, "x3");
	assert_string_equal(di.dialogs[2].state, "");
	/* more dialogs than kept */
	char big[8192] =
		"<dialog-info version=\"1\" state=\"partial\" entity=\"e\">";
	for (int i = 0; i < 20; i++)
		strcat(big, "<dialog id=\"d\"><state>early</state></dialog>");
	strcat(big, "</dialog-info>");
	assert_int_equal(cv_dialog_info_parse(cv_pl_str(big), &di), 0);
	assert_int_equal(di.ndialogs, CV_DIALOG_INFO_MAX);
	assert_false(di.full);
	assert_int_equal(cv_dialog_info_parse(cv_pl_str("<dialog-info"), &di),
			 CV_EPARSE);
	assert_int_equal(cv_dialog_info_parse((struct cv_pl){NULL, 0}, &di),
			 CV_EPARSE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pidf),
		cmocka_unit_test(test_mwi),
		cmocka_unit_test(test_dialog_info),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
