/* The SRTP policy of a route toward its trunk (call_media.b_srtp,
 * src/server/media.c) and the SRTP key the B side keeps across the 488
 * retry of one fork (docs/server.md, SRTP and Trunks). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cvoip/sdp.h"

#include "../src/server/server_int.h"

#include "media_fixture.h"

static int setup(void **state)
{
	return fixture_setup(state, 43000);
}

static int teardown(void **state)
{
	return fixture_teardown(state);
}

static char *rewrite(struct fixture *f, int from, const char *sdp)
{
	return fixture_rewrite(f, from, sdp, NULL);
}

static void key_of(const char *sdp, char *key, size_t size)
{
	const char *p = strstr(sdp, "inline:");
	assert_non_null(p);
	p += 7;
	size_t n = strcspn(p, "|\r\n");
	assert_true(n < size);
	memcpy(key, p, n);
	key[n] = 0;
}

#define KEY_A "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd"
#define KEY_B "ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+f4CB"

static const char plain_offer[] =
	"v=0\r\no=alice 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\n"
	"t=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
static const char savp_offer[] =
	"v=0\r\no=alice 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\n"
	"t=0 0\r\nm=audio 4000 RTP/SAVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
	"a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:" KEY_A "\r\n";
static const char b_savp[] =
	"v=0\r\no=up 1 1 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\n"
	"t=0 0\r\nm=audio 5000 RTP/SAVP 0\r\n"
	"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B "\r\n";
static const char b_plain[] =
	"v=0\r\no=up 1 1 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\n"
	"t=0 0\r\nm=audio 5000 RTP/AVP 0\r\n";

/* srtp: required: a plain caller's offer reaches the trunk as RTP/SAVP
 * with cvoipd's key; the caller is answered plain; a re-INVITE from the
 * caller again offers SRTP (same key) to the trunk. */
static void test_required_plain_caller(void **state)
{
	struct fixture *f = *state;
	f->m.b_srtp = CV_SRV_SRTP_REQUIRED;
	char *toB = rewrite(f, 0, plain_offer);
	assert_non_null(strstr(toB, "m=audio "));
	assert_non_null(strstr(toB, " RTP/SAVP 0"));
	assert_null(strstr(toB, "RTP/AVP"));
	assert_int_equal(count(toB, "a=crypto:"), 1);
	assert_non_null(
		strstr(toB, "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"));
	char k1[64];
	key_of(toB, k1, sizeof(k1));
	char *toA = rewrite(f, 1, b_savp);
	assert_non_null(strstr(toA, " RTP/AVP 0"));
	assert_null(strstr(toA, "crypto"));
	free(toA);
	free(toB);
	toB = rewrite(f, 0,
		      "v=0\r\no=alice 1 2 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 "
		      "10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n");
	assert_non_null(strstr(toB, " RTP/SAVP 0"));
	char k2[64];
	key_of(toB, k2, sizeof(k2));
	assert_string_equal(k1, k2);
	free(toB);
}

/* srtp: required keeps an SRTP caller's suite toward the trunk. */
static void test_required_srtp_caller(void **state)
{
	struct fixture *f = *state;
	f->m.b_srtp = CV_SRV_SRTP_REQUIRED;
	char *toB = rewrite(f, 0, savp_offer);
	assert_non_null(strstr(toB, " RTP/SAVP 0"));
	assert_int_equal(count(toB, "a=crypto:"), 1);
	assert_non_null(strstr(toB, "AES_CM_128_HMAC_SHA1_32 inline:"));
	assert_null(strstr(toB, KEY_A));
	free(toB);
}

/* srtp: off: an SRTP caller's offer reaches the trunk as plain RTP/AVP
 * without keys; the trunk's plain answer reaches the caller as SRTP
 * with cvoipd's key. */
static void test_off_srtp_caller(void **state)
{
	struct fixture *f = *state;
	f->m.b_srtp = CV_SRV_SRTP_OFF;
	char *toB = rewrite(f, 0, savp_offer);
	assert_non_null(strstr(toB, " RTP/AVP 0"));
	assert_null(strstr(toB, "SAVP"));
	assert_null(strstr(toB, "crypto"));
	char *toA = rewrite(f, 1, b_plain);
	assert_non_null(strstr(toA, " RTP/SAVP 0"));
	assert_int_equal(count(toA, "a=crypto:2 AES_CM_128_HMAC_SHA1_32"), 1);
	assert_null(strstr(toA, KEY_A));
	free(toA);
	free(toB);
	/* a plain caller on an `off` route: untouched SRTP-wise */
}

/* optional (the default) is the mirror: plain stays plain. */
static void test_optional_mirror(void **state)
{
	struct fixture *f = *state;
	char *toB = rewrite(f, 0, plain_offer);
	assert_non_null(strstr(toB, " RTP/AVP 0"));
	assert_null(strstr(toB, "crypto"));
	free(toB);
}

/* A forked call: the SRTP mirror offer went to every fork; one refused
 * it with 488 and got the plain retry; another fork then answers the
 * first (SRTP) offer. The B side must still have the key that offer
 * carried: a later offer to B shows the same key (before the fix the
 * retry dropped it and B was sent plain RTP). */
static void test_fork_retry_keeps_key(void **state)
{
	struct fixture *f = *state;
	char *toB = rewrite(f, 0, savp_offer);
	char k1[64];
	key_of(toB, k1, sizeof(k1));
	free(toB);
	struct cv_buf b;
	cv_buf_init(&b, 65536);
	assert_int_equal(
		media_retry_offer(&f->sw, &f->m, cv_pl_str(savp_offer), &b), 0);
	cv_buf_append(&b, "", 1);
	assert_null(strstr(b.data, "crypto")); /* the retried fork: plain */
	cv_buf_free(&b);
	/* the other fork answers the SRTP offer (with its suite) */
	char *toA = rewrite(
		f, 1,
		"v=0\r\no=up 1 1 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\n"
		"t=0 0\r\nm=audio 5000 RTP/SAVP 0\r\n"
		"a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:" KEY_B "\r\n");
	assert_non_null(strstr(toA, " RTP/SAVP 0"));
	free(toA);
	toB = rewrite(f, 0,
		      "v=0\r\no=alice 1 2 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 "
		      "10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/SAVP 0\r\n"
		      "a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:" KEY_A
		      "\r\n");
	char k2[64];
	key_of(toB, k2, sizeof(k2));
	assert_string_equal(k1, k2);
	free(toB);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_required_plain_caller,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_required_srtp_caller,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_off_srtp_caller, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_optional_mirror, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_fork_retry_keeps_key,
						setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
