/* SRTP/SRTCP through libsrtp2 (RFC 3711, RFC 7714) and SDES key-params
 * (RFC 4568 §6.1). */
#include <pthread.h>
#include <srtp2/srtp.h>

#include "rtp_int.h"

struct cv_srtp {
	srtp_t ctx;
	enum cv_srtp_suite suite;
};

static const struct {
	enum cv_srtp_suite suite;
	const char *name;
	size_t len;
} suites[] = {
	{CV_SRTP_AES_CM_128_HMAC_SHA1_80, "AES_CM_128_HMAC_SHA1_80", 30},
	{CV_SRTP_AES_CM_128_HMAC_SHA1_32, "AES_CM_128_HMAC_SHA1_32", 30},
	{CV_SRTP_AEAD_AES_128_GCM, "AEAD_AES_128_GCM", 28},
	{CV_SRTP_AEAD_AES_256_GCM, "AEAD_AES_256_GCM", 44},
};

int cv_srtp_suite_parse(struct cv_pl name, enum cv_srtp_suite *out)
{
	for (size_t i = 0; i < CV_ARRAY_SIZE(suites); i++) {
		if (cv_pl_eq_str(name, suites[i].name)) {
			*out = suites[i].suite;
			return 0;
		}
	}
	return CV_EUNSUPP;
}

const char *cv_srtp_suite_name(enum cv_srtp_suite suite)
{
	for (size_t i = 0; i < CV_ARRAY_SIZE(suites); i++)
		if (suites[i].suite == suite)
			return suites[i].name;
	return "?";
}

size_t cv_srtp_key_len(enum cv_srtp_suite suite)
{
	for (size_t i = 0; i < CV_ARRAY_SIZE(suites); i++)
		if (suites[i].suite == suite)
			return suites[i].len;
	return 0;
}

int cv_srtp_key_generate(struct cv_srtp_key *k, enum cv_srtp_suite suite)
{
	size_t len = cv_srtp_key_len(suite);
	if (!k || !len)
		return -EINVAL;
	memset(k, 0, sizeof(*k));
	k->suite = suite;
	k->len = len;
	return cv_random(k->key, len);
}

int cv_srtp_keyparams_parse(struct cv_pl kp, enum cv_srtp_suite suite,
			    struct cv_srtp_key *out)
{
	size_t want = cv_srtp_key_len(suite);
	if (!out || !want || !kp.p)
		return -EINVAL;
	kp = cv_pl_trim(kp);
	/* Only the first key-param of a ';'-separated list. */
	for (size_t i = 0; i < kp.l; i++) {
		if (kp.p[i] == ';') {
			kp.l = i;
			break;
		}
	}
	static const char method[] = "inline:";
	if (kp.l < sizeof(method) - 1 ||
	    !cv_pl_caseeq_str((struct cv_pl){kp.p, sizeof(method) - 1}, method))
		return CV_EPARSE;
	struct cv_pl info = {kp.p + sizeof(method) - 1,
			     kp.l - (sizeof(method) - 1)};
	struct cv_pl key = info, rest = CV_PL_INIT;
	for (size_t i = 0; i < info.l; i++) {
		if (info.p[i] == '|') {
			key.l = i;
			rest.p = info.p + i + 1;
			rest.l = info.l - i - 1;
			break;
		}
	}
	/* "|lifetime" may come before "|MKI:length"; an MKI is what we cannot
	 * honour with a wildcard-SSRC libsrtp session. */
	for (size_t i = 0; i < rest.l; i++)
		if (rest.p[i] == ':')
			return CV_EUNSUPP;
	struct cv_srtp_key k = {.suite = suite};
	size_t n = 0;
	int err =
		cv_base64_decode(key, k.key, sizeof(k.key), &n, CV_BASE64_STD);
	if (err)
		return err;
	if (n != want)
		return CV_EPARSE;
	k.len = n;
	*out = k;
	return 0;
}

int cv_srtp_keyparams_print(const struct cv_srtp_key *k, char *dst, size_t size)
{
	if (!k || !dst || k->len > CV_SRTP_MAX_KEY)
		return -EINVAL;
	if (size < 8)
		return CV_ETOOBIG;
	memcpy(dst, "inline:", 7);
	int n = cv_base64_encode(k->key, k->len, dst + 7, size - 7,
				 CV_BASE64_STD);
	return n < 0 ? n : 0;
}

/* ---- libsrtp2 contexts ----------------------------------------------------
 */

static pthread_once_t srtp_once = PTHREAD_ONCE_INIT;
static srtp_err_status_t srtp_init_status;

static void srtp_init_once(void)
{
	srtp_init_status = srtp_init();
}

static void srtp_dtor(void *obj)
{
	struct cv_srtp *s = obj;
	if (s->ctx)
		srtp_dealloc(s->ctx);
}

int cv_srtp_create(struct cv_srtp **sp, const struct cv_srtp_key *k,
		   bool outbound)
{
	if (!sp || !k || k->len != cv_srtp_key_len(k->suite) || !k->len)
		return -EINVAL;
	pthread_once(&srtp_once, srtp_init_once);
	if (srtp_init_status != srtp_err_status_ok)
		return -EIO;
	srtp_policy_t pol;
	memset(&pol, 0, sizeof(pol));
	switch (k->suite) {
	case CV_SRTP_AES_CM_128_HMAC_SHA1_80:
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol.rtp);
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol.rtcp);
		break;
	case CV_SRTP_AES_CM_128_HMAC_SHA1_32:
		/* RFC 4568 §6.2.2: SRTCP keeps the 80-bit tag. */
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&pol.rtp);
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol.rtcp);
		break;
	case CV_SRTP_AEAD_AES_128_GCM:
		srtp_crypto_policy_set_aes_gcm_128_16_auth(&pol.rtp);
		srtp_crypto_policy_set_aes_gcm_128_16_auth(&pol.rtcp);
		break;
	case CV_SRTP_AEAD_AES_256_GCM:
		srtp_crypto_policy_set_aes_gcm_256_16_auth(&pol.rtp);
		srtp_crypto_policy_set_aes_gcm_256_16_auth(&pol.rtcp);
		break;
	default:
		return -EINVAL;
	}
	uint8_t key[CV_SRTP_MAX_KEY];
	memcpy(key, k->key, k->len);
	pol.ssrc.type = outbound ? ssrc_any_outbound : ssrc_any_inbound;
	pol.key = key;
	pol.window_size = 128;
	/* Retransmitted packets (RFC 4733 end events) are re-protected. */
	pol.allow_repeat_tx = 1;
	pol.next = NULL;
	struct cv_srtp *s = cv_mem_zalloc(sizeof(*s), srtp_dtor);
	if (!s)
		return -ENOMEM;
	s->suite = k->suite;
	srtp_err_status_t st = srtp_create(&s->ctx, &pol);
	memset(key, 0, sizeof(key));
	if (st != srtp_err_status_ok) {
		s->ctx = NULL;
		cv_mem_unref(s);
		return st == srtp_err_status_alloc_fail ? -ENOMEM : -EINVAL;
	}
	*sp = s;
	return 0;
}

void cv_srtp_destroy(struct cv_srtp *s)
{
	cv_mem_unref(s);
}

static int map_err(srtp_err_status_t st)
{
	switch (st) {
	case srtp_err_status_ok:
		return 0;
	case srtp_err_status_auth_fail:
	case srtp_err_status_replay_fail:
	case srtp_err_status_replay_old:
		return CV_EAUTH;
	default:
		return CV_EPARSE;
	}
}

int cv_srtp_protect(struct cv_srtp *s, uint8_t *buf, size_t *len, size_t size)
{
	if (!s || !buf || !len || *len > INT32_MAX)
		return -EINVAL;
	if (size < *len + SRTP_MAX_TRAILER_LEN)
		return CV_ETOOBIG;
	int l = (int)*len;
	int err = map_err(srtp_protect(s->ctx, buf, &l));
	if (!err)
		*len = (size_t)l;
	return err;
}

int cv_srtp_unprotect(struct cv_srtp *s, uint8_t *buf, size_t *len)
{
	if (!s || !buf || !len || *len > INT32_MAX)
		return -EINVAL;
	if (*len < CV_RTP_HDR_LEN)
		return CV_EPARSE;
	int l = (int)*len;
	int err = map_err(srtp_unprotect(s->ctx, buf, &l));
	if (!err)
		*len = (size_t)l;
	return err;
}

int cv_srtp_protect_rtcp(struct cv_srtp *s, uint8_t *buf, size_t *len,
			 size_t size)
{
	if (!s || !buf || !len || *len > INT32_MAX)
		return -EINVAL;
	if (size < *len + SRTP_MAX_TRAILER_LEN + 4)
		return CV_ETOOBIG;
	int l = (int)*len;
	int err = map_err(srtp_protect_rtcp(s->ctx, buf, &l));
	if (!err)
		*len = (size_t)l;
	return err;
}

int cv_srtp_unprotect_rtcp(struct cv_srtp *s, uint8_t *buf, size_t *len)
{
	if (!s || !buf || !len || *len > INT32_MAX)
		return -EINVAL;
	if (*len < 8)
		return CV_EPARSE;
	int l = (int)*len;
	int err = map_err(srtp_unprotect_rtcp(s->ctx, buf, &l));
	if (!err)
		*len = (size_t)l;
	return err;
}
