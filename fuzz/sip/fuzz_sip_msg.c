/* Whole-message fuzzing: framing, pre-parse, parse, typed parse of every
 * header, policy, JSON, edits and responses. Invariant: a parsed message
 * prints back byte for byte. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cvoip/sip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *b = (const char *)data;
	size_t n = 0;
	struct cv_pl id;
	size_t ka = cv_sip_keepalive_len(b, size);
	if (cv_sip_frame(b + ka, size - ka, 4096, &n) == 0 &&
	    (n == 0 || n > size - ka))
		__builtin_trap();
	(void)cv_sip_peek_call_id(b, size, &id);

	struct cv_sip_limits lim = CV_SIP_LIMITS_DEFAULT;
	lim.max_headers = 64;
	struct cv_sip_msg *m = NULL;
	struct cv_sip_verdict v;
	if (cv_sip_msg_parse(&m, data, size, &lim, &v))
		return 0;
	struct cv_buf out;
	cv_buf_init(&out, 1 << 20);
	if (cv_sip_msg_print(&out, m) || out.len != size ||
	    memcmp(out.data, data, size))
		__builtin_trap();
	(void)cv_sip_msg_parse_full(m, &v);
	static const char *const sup[] = {"100rel", NULL};
	struct cv_sip_policy pol = {.supported = sup, .proxy = true};
	(void)cv_sip_msg_check(m, &pol, &v);
	json_t *j = cv_sip_msg_to_json(m);
	if (j) {
		char *s = json_dumps(j, 0);
		free(s);
		json_decref(j);
	}
	struct cv_sip_uri u;
	(void)cv_sip_msg_ruri(m, &u);
	/* every header value through its typed parser happened above; also
	 * walk the lists the transaction and dialog layers walk */
	enum cv_sip_hdr_id ids[] = {CV_SIP_HDR_VIA, CV_SIP_HDR_CONTACT,
				    CV_SIP_HDR_ROUTE, CV_SIP_HDR_RECORD_ROUTE,
				    CV_SIP_HDR_SUPPORTED};
	for (size_t k = 0; k < sizeof(ids) / sizeof(ids[0]); k++) {
		struct cv_sip_vals_iter it = {0};
		struct cv_pl val;
		int guard = 0;
		while (cv_sip_msg_vals_next(m, ids[k], &it, &val) == 0 &&
		       guard++ < 10000) {
			struct cv_sip_contact c;
			(void)cv_sip_contact_parse(val, &c);
		}
	}
	cv_buf_reset(&out);
	(void)cv_sip_via_strip_top(&out, m);
	cv_buf_reset(&out);
	(void)cv_sip_via_set_received(&out, m, CV_PL("192.0.2.1"), 5060);
	cv_buf_reset(&out);
	(void)cv_sip_via_prepend(
		&out, m, CV_PL("SIP/2.0/UDP p.example.com;branch=z9hG4bKx"));
	cv_buf_reset(&out);
	if (m->nhdrs) {
		struct cv_sip_edit ops[3] = {
			{.op = CV_SIP_EDIT_REMOVE,
			 .hdr = &m->hdrs[m->nhdrs - 1]},
			{.op = CV_SIP_EDIT_REPLACE,
			 .hdr = &m->hdrs[0],
			 .value = CV_PL("x")},
			{.op = CV_SIP_EDIT_BODY,
			 .name = CV_PL("text/plain"),
			 .value = CV_PL("hi")},
		};
		(void)cv_sip_msg_edit(&out, m, ops, 3);
	}
	if (m->req) {
		cv_buf_reset(&out);
		struct cv_sip_resp_params rp = {.to_tag = CV_PL("t1")};
		(void)cv_sip_resp_print(&out, m, 200, NULL, &rp);
		/* the response we build must itself parse */
		struct cv_sip_msg *r = NULL;
		if (out.err == 0 &&
		    cv_sip_msg_parse(&r, out.data, out.len, NULL, NULL) == 0)
			cv_mem_unref(r);
	}
	cv_buf_free(&out);
	cv_mem_unref(m);
	return 0;
}
