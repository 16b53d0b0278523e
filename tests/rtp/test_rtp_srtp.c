/* SRTP/SRTCP: RFC 3711 Appendix B.3 master key/salt with the libsrtp
 * reference packets, AES-GCM (RFC 7714) reference packets, round trips for
 * every suite, tampering, replay, and RFC 4568 key-params. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "cvoip/rtp.h"

/* RFC 3711 B.3: master key E1F97A0D3E018BE0D64FA32C06DE4139,
 * master salt 0EC675AD498AFEEBB6960B3AABE6. */
static const uint8_t b3_key[30] = {
	0xe1, 0xf9, 0x7a, 0x0d, 0x3e, 0x01, 0x8b, 0xe0, 0xd6, 0x4f,
	0xa3, 0x2c, 0x06, 0xde, 0x41, 0x39, 0x0e, 0xc6, 0x75, 0xad,
	0x49, 0x8a, 0xfe, 0xeb, 0xb6, 0x96, 0x0b, 0x3a, 0xab, 0xe6};

static const uint8_t rtp_plain[28] = {0x80, 0x0f, 0x12, 0x34, 0xde, 0xca, 0xfb,
				      0xad, 0xca, 0xfe, 0xba, 0xbe, 0xab, 0xab,
				      0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab,
				      0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab};
static const uint8_t rtcp_plain[24] = {
	0x81, 0xc8, 0x00, 0x0b, 0xca, 0xfe, 0xba, 0xbe, 0xab, 0xab, 0xab, 0xab,
	0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab};

static const uint8_t cm80_srtp[38] = {
	0x80, 0x0f, 0x12, 0x34, 0xde, 0xca, 0xfb, 0xad, 0xca, 0xfe,
	0xba, 0xbe, 0x4e, 0x55, 0xdc, 0x4c, 0xe7, 0x99, 0x78, 0xd8,
	0x8c, 0xa4, 0xd2, 0x15, 0x94, 0x9d, 0x24, 0x02, 0xb7, 0x8d,
	0x6a, 0xcc, 0x99, 0xea, 0x17, 0x9b, 0x8d, 0xbb};
static const uint8_t cm80_srtcp[38] = {
	0x81, 0xc8, 0x00, 0x0b, 0xca, 0xfe, 0xba, 0xbe, 0x71, 0x28,
	0x03, 0x5b, 0xe4, 0x87, 0xb9, 0xbd, 0xbe, 0xf8, 0x90, 0x41,
	0xf9, 0x77, 0xa5, 0xa8, 0x80, 0x00, 0x00, 0x01, 0x99, 0x3e,
	0x08, 0xcd, 0x54, 0xd6, 0xc1, 0x23, 0x07, 0x98};

static const uint8_t gcm_key[28] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
				    0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d,
				    0x0e, 0x0f, 0xa0, 0xa1, 0xa2, 0xa3, 0xa4,
				    0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab};
static const uint8_t gcm_srtp[44] = {
	0x80, 0x0f, 0x12, 0x34, 0xde, 0xca, 0xfb, 0xad, 0xca, 0xfe, 0xba,
	0xbe, 0xc5, 0x00, 0x2e, 0xde, 0x04, 0xcf, 0xdd, 0x2e, 0xb9, 0x11,
	0x59, 0xe0, 0x88, 0x0a, 0xa0, 0x6e, 0xd2, 0x97, 0x68, 0x26, 0xf7,
	0x96, 0xb2, 0x01, 0xdf, 0x31, 0x31, 0xa1, 0x27, 0xe8, 0xa3, 0x92};
static const uint8_t gcm_srtcp[44] = {
	0x81, 0xc8, 0x00, 0x0b, 0xca, 0xfe, 0xba, 0xbe, 0xc9, 0x8b, 0x8b,
	0x5d, 0xf0, 0x39, 0x2a, 0x55, 0x85, 0x2b, 0x6c, 0x21, 0xac, 0x8e,
	0x70, 0x25, 0xc5, 0x2c, 0x6f, 0xbe, 0xa2, 0xb3, 0xb4, 0x46, 0xea,
	0x31, 0x12, 0x3b, 0xa8, 0x8c, 0xe6, 0x1e, 0x80, 0x00, 0x00, 0x01};

static void check_vector(enum cv_srtp_suite suite, const uint8_t *key,
			 size_t klen, const uint8_t *srtp, size_t srtp_len,
			 const uint8_t *srtcp, size_t srtcp_len)
{
	int64_t live = cv_mem_live();
	struct cv_srtp_key k = {.suite = suite, .len = klen};
	memcpy(k.key, key, klen);
	struct cv_srtp *tx, *rx;
	assert_int_equal(cv_srtp_create(&tx, &k, true), 0);
	assert_int_equal(cv_srtp_create(&rx, &k, false), 0);
	uint8_t buf[256];
	size_t len = sizeof(rtp_plain);
	memcpy(buf, rtp_plain, len);
	assert_int_equal(cv_srtp_protect(tx, buf, &len, sizeof(buf)), 0);
	assert_int_equal(len, srtp_len);
	assert_memory_equal(buf, srtp, srtp_len);
	len = sizeof(rtcp_plain);
	memcpy(buf, rtcp_plain, len);
	assert_int_equal(cv_srtp_protect_rtcp(tx, buf, &len, sizeof(buf)), 0);
	assert_int_equal(len, srtcp_len);
	assert_memory_equal(buf, srtcp, srtcp_len);
	/* Decrypt the references. */
	memcpy(buf, srtp, srtp_len);
	len = srtp_len;
	assert_int_equal(cv_srtp_unprotect(rx, buf, &len), 0);
	assert_int_equal(len, sizeof(rtp_plain));
	assert_memory_equal(buf, rtp_plain, len);
	/* Replay of the same packet fails. */
	memcpy(buf, srtp, srtp_len);
	len = srtp_len;
	assert_int_equal(cv_srtp_unprotect(rx, buf, &len), CV_EAUTH);
	memcpy(buf, srtcp, srtcp_len);
	len = srtcp_len;
	assert_int_equal(cv_srtp_unprotect_rtcp(rx, buf, &len), 0);
	assert_int_equal(len, sizeof(rtcp_plain));
	assert_memory_equal(buf, rtcp_plain, len);
	cv_srtp_destroy(tx);
	cv_srtp_destroy(rx);
	assert_int_equal(cv_mem_live(), live);
}

static void test_vectors(void **state)
{
	(void)state;
	check_vector(CV_SRTP_AES_CM_128_HMAC_SHA1_80, b3_key, sizeof(b3_key),
		     cm80_srtp, sizeof(cm80_srtp), cm80_srtcp,
		     sizeof(cm80_srtcp));
	check_vector(CV_SRTP_AEAD_AES_128_GCM, gcm_key, sizeof(gcm_key),
		     gcm_srtp, sizeof(gcm_srtp), gcm_srtcp, sizeof(gcm_srtcp));
}

static void test_suites_roundtrip(void **state)
{
	(void)state;
	static const struct {
		enum cv_srtp_suite s;
		size_t tag;
	} suites[] = {
		{CV_SRTP_AES_CM_128_HMAC_SHA1_80, 10},
		{CV_SRTP_AES_CM_128_HMAC_SHA1_32, 4},
		{CV_SRTP_AEAD_AES_128_GCM, 16},
		{CV_SRTP_AEAD_AES_256_GCM, 16},
	};
	int64_t live = cv_mem_live();
	for (size_t i = 0; i < 4; i++) {
		struct cv_srtp_key k;
		assert_int_equal(cv_srtp_key_generate(&k, suites[i].s), 0);
		struct cv_srtp *tx, *rx;
		assert_int_equal(cv_srtp_create(&tx, &k, true), 0);
		assert_int_equal(cv_srtp_create(&rx, &k, false), 0);
		for (int n = 0; n < 5; n++) {
			uint8_t buf[256];
			struct cv_rtp_hdr h = {.pt = 0,
					       .seq = (uint16_t)(65534 + n),
					       .ts = 160u * n,
					       .ssrc = 42};
			size_t len;
			assert_int_equal(cv_rtp_build(buf, sizeof(buf), &h,
						      "0123456789", 10, &len),
					 0);
			assert_int_equal(
				cv_srtp_protect(tx, buf, &len, sizeof(buf)), 0);
			assert_int_equal(len, 22 + suites[i].tag);
			if (n == 3) {
				buf[15] ^= 1; /* tampered: rejected */
				size_t l2 = len;
				assert_int_equal(
					cv_srtp_unprotect(rx, buf, &l2),
					CV_EAUTH);
				continue;
			}
			assert_int_equal(cv_srtp_unprotect(rx, buf, &len), 0);
			assert_int_equal(len, 22);
			assert_memory_equal(buf + 12, "0123456789", 10);
		}
		/* A different key cannot decrypt. */
		struct cv_srtp_key k2;
		cv_srtp_key_generate(&k2, suites[i].s);
		struct cv_srtp *rx2;
		assert_int_equal(cv_srtp_create(&rx2, &k2, false), 0);
		uint8_t buf[256];
		struct cv_rtp_hdr h = {.seq = 9, .ssrc = 42};
		size_t len;
		cv_rtp_build(buf, sizeof(buf), &h, "abcd", 4, &len);
		assert_int_equal(cv_srtp_protect(tx, buf, &len, sizeof(buf)),
				 0);
		assert_int_equal(cv_srtp_unprotect(rx2, buf, &len), CV_EAUTH);
		/* Too short a buffer to protect. */
		len = 16;
		assert_int_equal(cv_srtp_protect(tx, buf, &len, 20),
				 CV_ETOOBIG);
		cv_srtp_destroy(tx);
		cv_srtp_destroy(rx);
		cv_srtp_destroy(rx2);
	}
	assert_int_equal(cv_mem_live(), live);
}

static void test_keyparams(void **state)
{
	(void)state;
	/* RFC 4568 §4 example key-params. */
	struct cv_srtp_key k;
	struct cv_pl kp = CV_PL(
		"inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32");
	assert_int_equal(cv_srtp_keyparams_parse(
				 kp, CV_SRTP_AES_CM_128_HMAC_SHA1_80, &k),
			 CV_EUNSUPP); /* MKI */
	kp = CV_PL("inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20");
	assert_int_equal(cv_srtp_keyparams_parse(
				 kp, CV_SRTP_AES_CM_128_HMAC_SHA1_80, &k),
			 0);
	assert_int_equal(k.len, 30);
	assert_int_equal(k.key[0], 0x3d); /* 'P','S' -> 0x3d 0x2d ... */
	assert_int_equal(k.key[1], 0x2d);
	char out[80];
	assert_int_equal(cv_srtp_keyparams_print(&k, out, sizeof(out)), 0);
	assert_string_equal(out,
			    "inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR");
	assert_int_equal(cv_srtp_keyparams_print(&k, out, 20), CV_ETOOBIG);
	/* Wrong length for the suite, bad base64, wrong method. */
	assert_int_equal(
		cv_srtp_keyparams_parse(kp, CV_SRTP_AEAD_AES_256_GCM, &k),
		CV_EPARSE);
	assert_int_equal(
		cv_srtp_keyparams_parse(CV_PL("inline:PS1u*CVe"),
					CV_SRTP_AES_CM_128_HMAC_SHA1_80, &k),
		CV_EPARSE);
	assert_int_equal(
		cv_srtp_keyparams_parse(CV_PL("uri:x"),
					CV_SRTP_AES_CM_128_HMAC_SHA1_80, &k),
		CV_EPARSE);
	/* Round trip for each suite, including padded base64 (GCM 28/44). */
	enum cv_srtp_suite all[] = {CV_SRTP_AES_CM_128_HMAC_SHA1_32,
				    CV_SRTP_AEAD_AES_128_GCM,
				    CV_SRTP_AEAD_AES_256_GCM};
	for (size_t i = 0; i < 3; i++) {
		struct cv_srtp_key a, b;
		cv_srtp_key_generate(&a, all[i]);
		assert_int_equal(cv_srtp_keyparams_print(&a, out, sizeof(out)),
				 0);
		assert_int_equal(
			cv_srtp_keyparams_parse(cv_pl_str(out), all[i], &b), 0);
		assert_int_equal(b.len, a.len);
		assert_memory_equal(a.key, b.key, a.len);
	}
	enum cv_srtp_suite s;
	assert_int_equal(cv_srtp_suite_parse(CV_PL("AEAD_AES_256_GCM"), &s), 0);
	assert_int_equal(s, CV_SRTP_AEAD_AES_256_GCM);
	assert_string_equal(cv_srtp_suite_name(CV_SRTP_AES_CM_128_HMAC_SHA1_32),
			    "AES_CM_128_HMAC_SHA1_32");
	assert_int_equal(cv_srtp_suite_parse(CV_PL("F8_128_HMAC_SHA1_80"), &s),
			 CV_EUNSUPP);
	assert_int_equal(cv_srtp_key_len(CV_SRTP_AEAD_AES_256_GCM), 44);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_suites_roundtrip),
		cmocka_unit_test(test_keyparams),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
