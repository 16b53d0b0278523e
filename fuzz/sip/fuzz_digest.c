/* Digest header parsing and the server/client paths on hostile values. */
#include <stdint.h>
#include <string.h>

#include "cvoip/digest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct cv_digest_server *srv;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!srv) {
		static const char secret[] = "fuzz-secret-fuzz-secret-0123456";
		struct cv_digest_server_params p = {
			.secret = secret,
			.secret_len = 31,
			.realm = CV_PL("example.com"),
			.replay_slots = 64,
			.qop_auth_int = true};
		if (cv_digest_server_create(&srv, &p))
			__builtin_trap();
	}
	struct cv_pl v = {(const char *)data, size};
	struct cv_sip_auth a;
	(void)cv_sip_auth_parse(v, true, &a);
	(void)cv_sip_auth_parse(v, false, &a);
	struct cv_digest_challenge ch;
	if (cv_digest_challenge_parse(v, &ch) == 0 && ch.alg_known) {
		struct cv_buf out;
		cv_buf_init(&out, 1 << 16);
		struct cv_digest_client_params cp = {.user = CV_PL("alice"),
						     .password = CV_PL("pw"),
						     .method = CV_PL("INVITE"),
						     .uri = CV_PL("sip:b"),
						     .body = CV_PL("x"),
						     .nc = 7};
		if (cv_digest_authorize(&out, &ch, &cp) == 0) {
			/* what we print must parse back */
			struct cv_digest_credentials cr;
			if (cv_digest_credentials_parse(
				    (struct cv_pl){out.data, out.len}, &cr))
				__builtin_trap();
		}
		/* a user name from the input (bytes above 0x7f go out as
		 * username*): printed, it parses back to the same name
		 * (compared where no quoted-pair escapes are involved) */
		cp.user = (struct cv_pl){(const char *)data,
					 size < 40 ? size : 40};
		cv_buf_reset(&out);
		if (cv_digest_authorize(&out, &ch, &cp) == 0) {
			struct cv_digest_credentials cr;
			if (cv_digest_credentials_parse(
				    (struct cv_pl){out.data, out.len}, &cr) ||
			    (!ch.userhash &&
			     !memchr(cp.user.p, '"', cp.user.l) &&
			     !memchr(cp.user.p, '\\', cp.user.l) &&
			     !cv_pl_eq(cr.username, cp.user)))
				__builtin_trap();
		}
		cv_buf_free(&out);
	}
	struct cv_digest_credentials cr;
	if (cv_digest_credentials_parse(v, &cr) == 0) {
		char ha1[CV_DIGEST_HEX_MAX];
		cv_digest_ha1(cr.alg, cr.username, cr.realm, CV_PL("pw"), ha1);
		(void)cv_digest_server_verify(srv, &cr, CV_PL("REGISTER"),
					      CV_PL(""), cv_pl_str(ha1));
	}
	return 0;
}
