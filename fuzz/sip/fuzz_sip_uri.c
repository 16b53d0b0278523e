/* URI and address parsers. Invariants: a parsed URI equals itself; the
 * unescape length agrees with a sized call. */
#include <stdint.h>
#include <string.h>

#include "cvoip/sip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cv_pl t = {(const char *)data, size};
	struct cv_sip_uri u, u2;
	if (cv_sip_uri_parse(t, &u) == 0) {
		if (!cv_sip_uri_eq(&u, &u))
			__builtin_trap();
		struct cv_pl val;
		(void)cv_sip_uri_param(&u, "transport", &val);
		(void)cv_sip_uri_param(&u, "lr", &val);
		/* compare with a case-changed copy: hosts compare without case
		 */
		char tmp[512];
		if (size < sizeof(tmp)) {
			memcpy(tmp, data, size);
			if (cv_sip_uri_parse((struct cv_pl){tmp, size}, &u2) ==
			    0)
				(void)cv_sip_uri_eq(&u, &u2);
		}
	}
	char dst[64];
	int n = cv_sip_unescape(t, dst, sizeof(dst));
	if (n >= 0 && cv_sip_unescape(t, NULL, 0) != n)
		__builtin_trap();
	/* split the input in two URIs for comparison */
	size_t half = size / 2;
	(void)cv_sip_uri_eq_text((struct cv_pl){t.p, half},
				 (struct cv_pl){t.p + half, size - half});
	struct cv_sip_naddr na;
	(void)cv_sip_naddr_parse(t, &na);
	struct cv_sip_contact c;
	(void)cv_sip_contact_parse(t, &c);
	struct cv_sip_via via;
	(void)cv_sip_via_parse(t, &via);
	struct cv_sip_cseq cs;
	(void)cv_sip_cseq_parse(t, &cs);
	struct cv_sip_ctype ct;
	(void)cv_sip_ctype_parse(t, &ct);
	struct cv_sip_event ev;
	(void)cv_sip_event_parse(t, &ev);
	struct cv_sip_substate ss;
	(void)cv_sip_substate_parse(t, &ss);
	struct cv_sip_session_expires se;
	(void)cv_sip_session_expires_parse(t, &se);
	struct cv_sip_replaces rp;
	(void)cv_sip_replaces_parse(t, &rp);
	struct cv_sip_reason rs;
	(void)cv_sip_reason_parse(t, &rs);
	struct cv_sip_rack ra;
	(void)cv_sip_rack_parse(t, &ra);
	int64_t d;
	(void)cv_sip_date_parse(t, &d);
	struct cv_sip_timestamp ts;
	(void)cv_sip_timestamp_parse(t, &ts);
	struct cv_sip_retry_after rta;
	(void)cv_sip_retry_after_parse(t, &rta);
	struct cv_sip_part parts[8];
	size_t np;
	if (cv_sip_multipart_split(CV_PL("multipart/mixed;boundary=b"), t,
				   parts, 8, &np) == 0) {
		struct cv_buf dec;
		cv_buf_init(&dec, 1 << 16);
		for (size_t i = 0; i < np; i++) {
			/* the encodings too, whatever the part says */
			for (int k = 0; k <= CV_SIP_CTE_OTHER; k++) {
				parts[i].cte_kind = (enum cv_sip_cte)k;
				size_t before = dec.len;
				if (cv_sip_part_decode(&parts[i], &dec) &&
				    dec.len != before)
					__builtin_trap();
			}
		}
		cv_buf_free(&dec);
	}
	struct cv_pl rest = t, item;
	int guard = 0;
	while (cv_sip_list_next(&rest, &item) == 0 && guard++ < 100000)
		;
	return 0;
}
