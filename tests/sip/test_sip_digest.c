/* Digest: RFC 7616 §3.9.1 examples, client/server round trips, stale and
 * nonce-count replay handling, challenge selection (RFC 8760), nonce MAC
 * identical to OpenSSL's HMAC(), and a shared server used from several
 * threads at once (per-thread digest contexts). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cvoip/digest.h"

#define NONCE  "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
#define CNONCE "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
#define REALM  "http-auth@example.org"

static void rfc7616_example(enum cv_digest_alg alg, const char *expect)
{
	char ha1[CV_DIGEST_HEX_MAX], resp[CV_DIGEST_HEX_MAX];
	assert_int_equal(cv_digest_ha1(alg, CV_PL("Mufasa"), CV_PL(REALM),
				       CV_PL("Circle of Life"), ha1),
			 0);
	struct cv_digest_calc c = {.alg = alg,
				   .ha1 = cv_pl_str(ha1),
				   .nonce = CV_PL(NONCE),
				   .cnonce = CV_PL(CNONCE),
				   .nc = CV_PL("00000001"),
				   .qop = CV_PL("auth"),
				   .method = CV_PL("GET"),
				   .uri = CV_PL("/dir/index.html")};
	assert_int_equal(cv_digest_calc_response(&c, resp), 0);
	assert_string_equal(resp, expect);
}

static void test_rfc7616_vectors(void **state)
{
	(void)state;
	/* RFC 7616 §3.9.1 */
	rfc7616_example(CV_DIGEST_MD5, "8ca523f5e9506fed4657c9700eebdbec");
	rfc7616_example(CV_DIGEST_SHA256, "753927fa0e85d155564e2e272a28d1802ca1"
					  "0daf4496794697cf8db5856cb6c1");
	/* RFC 2617 §3.5 (same construction, MD5) */
	char ha1[CV_DIGEST_HEX_MAX], resp[CV_DIGEST_HEX_MAX];
	cv_digest_ha1(CV_DIGEST_MD5, CV_PL("Mufasa"),
		      CV_PL("testrealm@host.com"), CV_PL("Circle Of Life"),
		      ha1);
	struct cv_digest_calc c = {
		.alg = CV_DIGEST_MD5,
		.ha1 = cv_pl_str(ha1),
		.nonce = CV_PL("dcd98b7102dd2f0e8b11d0f600bfb0c093"),
		.cnonce = CV_PL("0a4f113b"),
		.nc = CV_PL("00000001"),
		.qop = CV_PL("auth"),
		.method = CV_PL("GET"),
		.uri = CV_PL("/dir/index.html")};
	assert_int_equal(cv_digest_calc_response(&c, resp), 0);
	assert_string_equal(resp, "6629fae49393a05397450978507c4ef1");
	/* SHA-512-256 produces 64 hex chars */
	cv_digest_ha1(CV_DIGEST_SHA512_256, CV_PL("u"), CV_PL("r"), CV_PL("p"),
		      ha1);
	assert_int_equal(strlen(ha1), 64);
}

static void test_parse(void **state)
{
	(void)state;
	struct cv_digest_challenge ch;
	assert_int_equal(cv_digest_challenge_parse(
				 CV_PL("Digest realm=\"" REALM
				       "\", qop=\"auth, auth-int\",\r\n"
				       " algorithm=SHA-256, nonce=\"" NONCE
				       "\", opaque=\"x\", stale=TRUE"),
				 &ch),
			 0);
	assert_true(cv_pl_eq_str(ch.realm, REALM));
	assert_true(ch.qop_auth && ch.qop_auth_int && ch.stale && ch.alg_known);
	assert_int_equal(ch.alg, CV_DIGEST_SHA256);
	assert_int_equal(
		cv_digest_challenge_parse(CV_PL("Basic realm=\"x\""), &ch),
		CV_EUNSUPP);
	assert_int_equal(
		cv_digest_challenge_parse(CV_PL("Digest nonce=\"x\""), &ch),
		CV_EPARSE);
	assert_int_equal(
		cv_digest_challenge_parse(CV_PL("Digest realm=\"x"), &ch),
		CV_EPARSE);
	assert_int_equal(
		cv_digest_challenge_parse(CV_PL("Digest realm=\"x\", "
						"nonce=\"n\", algorithm=SHA-1"),
					  &ch),
		0);
	assert_false(ch.alg_known);

	struct cv_digest_credentials cr;
	assert_int_equal(cv_digest_credentials_parse(
				 CV_PL("Digest username=\"Mufasa\", "
				       "realm=\"r\", nonce=\"n\", "
				       "uri=\"sip:a@b\", response=\"abc\", "
				       "qop=auth, nc=0000000a, "
				       "cnonce=\"c\", algorithm=MD5-sess"),
				 &cr),
			 0);
	assert_int_equal(cr.nc, 10);
	assert_int_equal(cr.alg, CV_DIGEST_MD5_SESS);
	assert_int_equal(cv_digest_credentials_parse(
				 CV_PL("Digest username=\"M\", realm=\"r\", "
				       "nonce=\"n\", uri=\"u\", "
				       "response=\"abc\", qop=auth, nc=1"),
				 &cr),
			 CV_EPARSE);
	assert_int_equal(cv_digest_credentials_parse(
				 CV_PL("Digest username=\"M\", realm=\"r\", "
				       "nonce=\"n\", uri=\"u\", "
				       "response=\"abc\", algorithm=foo"),
				 &cr),
			 CV_EUNSUPP);
}

static struct cv_digest_server *server(uint32_t ttl, uint32_t slots)
{
	static const char secret[] = "0123456789abcdef0123456789abcdef";
	struct cv_digest_server *s = NULL;
	struct cv_digest_server_params p = {.secret = secret,
					    .secret_len = 32,
					    .realm = CV_PL("example.com"),
					    .nonce_ttl_s = ttl,
					    .replay_slots = slots,
					    .qop_auth_int = true};
	assert_int_equal(cv_digest_server_create(&s, &p), 0);
	return s;
}

/* challenge -> client answer -> server verify */
static int round_trip(struct cv_digest_server *s, enum cv_digest_alg alg,
		      uint32_t nc, const char *pw, bool use_ha1,
		      struct cv_buf *chal)
{
	struct cv_buf auth;
	cv_buf_init(&auth, 0);
	struct cv_digest_challenge ch;
	assert_int_equal(cv_digest_challenge_parse(
				 (struct cv_pl){chal->data, chal->len}, &ch),
			 0);
	char ha1[CV_DIGEST_HEX_MAX];
	cv_digest_ha1(alg, CV_PL("alice"), CV_PL("example.com"), cv_pl_str(pw),
		      ha1);
	struct cv_digest_client_params cp = {.user = CV_PL("alice"),
					     .method = CV_PL("REGISTER"),
					     .uri = CV_PL("sip:example.com"),
					     .nc = nc};
	if (use_ha1)
		cp.ha1 = cv_pl_str(ha1);
	else
		cp.password = cv_pl_str(pw);
	assert_int_equal(cv_digest_authorize(&auth, &ch, &cp), 0);
	struct cv_digest_credentials cr;
	assert_int_equal(cv_digest_credentials_parse(
				 (struct cv_pl){auth.data, auth.len}, &cr),
			 0);
	char stored[CV_DIGEST_HEX_MAX];
	cv_digest_ha1(alg, CV_PL("alice"), CV_PL("example.com"),
		      CV_PL("secret"), stored);
	int rc = cv_digest_server_verify(s, &cr, CV_PL("REGISTER"), CV_PL(""),
					 cv_pl_str(stored));
	cv_buf_free(&auth);
	return rc;
}

static void test_server_round_trip(void **state)
{
	(void)state;
	int64_t live = cv_mem_live();
	struct cv_digest_server *s = server(300, 64);
	for (int a = 0; a < CV_DIGEST_ALG_COUNT; a++) {
		struct cv_buf chal;
		cv_buf_init(&chal, 0);
		assert_int_equal(
			cv_digest_server_challenge(
				s, &chal, (enum cv_digest_alg)a, false),
			0);
		assert_int_equal(round_trip(s, (enum cv_digest_alg)a, 1,
					    "secret", a & 1, &chal),
				 0);
		/* nc must grow: replaying nc=1 is stale, nc=2 fine */
		assert_int_equal(round_trip(s, (enum cv_digest_alg)a, 1,
					    "secret", false, &chal),
				 CV_ESTALE);
		assert_int_equal(round_trip(s, (enum cv_digest_alg)a, 2,
					    "secret", false, &chal),
				 0);
		assert_int_equal(round_trip(s, (enum cv_digest_alg)a, 3,
					    "wrong", false, &chal),
				 CV_EAUTH);
		cv_buf_free(&chal);
	}
	/* a foreign nonce is refused */
	struct cv_buf fake;
	cv_buf_init(&fake, 0);
	cv_buf_printf(
		&fake,
		"Digest realm=\"example.com\", nonce=\"%064d\", qop=\"auth\"",
		0);
	assert_int_equal(
		round_trip(s, CV_DIGEST_MD5, 1, "secret", false, &fake),
		CV_EAUTH);
	cv_buf_free(&fake);
	cv_mem_unref(s);
	assert_int_equal(cv_mem_live(), live);
}

/* the buffer as a C string (a NUL appended, not counted) */
static const char *cstr(struct cv_buf *b)
{
	cv_buf_append(b, "", 1);
	b->len--;
	return b->data;
}

/* username* (RFC 7616 §3.4, RFC 8187): the RFC 7616 §3.9.2 name, decoded;
 * refusals; a UTF-8 user name sent by the client as username* and
 * verified by the server. */
static void test_username_ext(void **state)
{
	(void)state;
	int64_t live = cv_mem_live();
	struct cv_digest_credentials cr;
#define CR(u)                                                                  \
	"Digest " u ", realm=\"api@example.org\", uri=\"/doe.json\", "         \
	"nonce=\"n\", response=\"r\""
	assert_int_equal(
		cv_digest_credentials_parse(
			CV_PL(CR("username*=UTF-8''J%C3%A4s%C3%B8n%20Doe")),
			&cr),
		0);
	assert_true(cr.username_ext);
	assert_true(cv_pl_eq_str(cr.username, "J\xc3\xa4s\xc3\xb8n Doe"));
	/* a language tag may sit between the quotes; hex in either case */
	assert_int_equal(
		cv_digest_credentials_parse(
			CV_PL(CR("username*=utf-8'en'%e2%82%ac-x")), &cr),
		0);
	assert_true(cv_pl_eq_str(cr.username, "\xe2\x82\xac-x"));
	/* both forms, with userhash, quoted, other charset, bad escapes,
	 * controls, bytes outside attr-char, empty, too long */
	assert_int_equal(
		cv_digest_credentials_parse(
			CV_PL(CR("username=\"a\", username*=UTF-8''a")), &cr),
		CV_EPARSE);
	assert_int_equal(
		cv_digest_credentials_parse(
			CV_PL(CR("username*=UTF-8''a, userhash=true")), &cr),
		CV_EPARSE);
	assert_int_equal(cv_digest_credentials_parse(
				 CV_PL(CR("username*=\"UTF-8''a\"")), &cr),
			 CV_EPARSE);
	assert_int_equal(cv_digest_credentials_parse(
				 CV_PL(CR("username*=ISO-8859-1''%E4")), &cr),
			 CV_EUNSUPP);
	assert_int_equal(cv_digest_credentials_parse(
				 CV_PL(CR("username*=UTF-8''%C3%A")), &cr),
			 CV_EPARSE);
	assert_int_equal(cv_digest_credentials_parse(
				 CV_PL(CR("username*=UTF-8''a%0Db")), &cr),
			 CV_EPARSE);
	assert_int_equal(cv_digest_credentials_parse(
				 CV_PL(CR("username*=UTF-8''a%00")), &cr),
			 CV_EPARSE);
	assert_int_equal(cv_digest_credentials_parse(
				 CV_PL(CR("username*=UTF-8''a'b")), &cr),
			 CV_EPARSE);
	assert_int_equal(cv_digest_credentials_parse(
				 CV_PL(CR("username*=UTF-8''")), &cr),
			 CV_EPARSE);
	assert_int_equal(cv_digest_credentials_parse(
				 CV_PL(CR("username*=UTF-8'e n'a")), &cr),
			 CV_EPARSE);
	char longv[1024] = "Digest username*=UTF-8''";
	for (int i = 0; i < CV_DIGEST_USER_MAX + 1; i++)
		strcat(longv, "a");
	strcat(longv, ", realm=\"r\", uri=\"u\", nonce=\"n\", "
		      "response=\"r\"");
	assert_int_equal(cv_digest_credentials_parse(cv_pl_str(longv), &cr),
			 CV_EPARSE);
#undef CR
	/* client: a UTF-8 user goes as username*, the server verifies it */
	struct cv_digest_server *s = server(300, 64);
	struct cv_buf chal, auth;
	cv_buf_init(&chal, 0);
	cv_buf_init(&auth, 0);
	assert_int_equal(cv_digest_server_challenge(
				 s, &chal, CV_DIGEST_SHA512_256, false),
			 0);
	struct cv_digest_challenge ch;
	assert_int_equal(cv_digest_challenge_parse(
				 (struct cv_pl){chal.data, chal.len}, &ch),
			 0);
	const struct cv_pl user = CV_PL("J\xc3\xa4s\xc3\xb8n Doe");
	struct cv_digest_client_params cp = {.user = user,
					     .password =
						     CV_PL("Secret, or not?"),
					     .method = CV_PL("REGISTER"),
					     .uri = CV_PL("sip:example.com")};
	assert_int_equal(cv_digest_authorize(&auth, &ch, &cp), 0);
	assert_non_null(
		strstr(cstr(&auth), "username*=UTF-8''J%C3%A4s%C3%B8n%20Doe,"));
	assert_null(strstr(cstr(&auth), "username=\""));
	assert_int_equal(cv_digest_credentials_parse(
				 (struct cv_pl){auth.data, auth.len}, &cr),
			 0);
	assert_true(cv_pl_eq(cr.username, user));
	char ha1[CV_DIGEST_HEX_MAX];
	cv_digest_ha1(CV_DIGEST_SHA512_256, user, CV_PL("example.com"),
		      CV_PL("Secret, or not?"), ha1);
	assert_int_equal(cv_digest_server_verify(s, &cr, CV_PL("REGISTER"),
						 CV_PL(""), cv_pl_str(ha1)),
			 0);
	/* attr-chars that are no SIP token characters (# $ & ^ |) are
	 * %-encoded too: the value must pass as an auth-param token
	 * (found by fuzz_digest: crash-username-ext-nontoken) */
	cp.user = CV_PL("\xc3\xa4&#$^|!~");
	auth.len = 0;
	assert_int_equal(cv_digest_authorize(&auth, &ch, &cp), 0);
	assert_non_null(strstr(cstr(&auth),
			       "username*=UTF-8''%C3%A4%26%23%24%5E%7C!~,"));
	assert_int_equal(cv_digest_credentials_parse(
				 (struct cv_pl){auth.data, auth.len}, &cr),
			 0);
	assert_true(cv_pl_eq(cr.username, cp.user));
	cp.user = user;
	/* with userhash the hashed name goes in username, never username* */
	ch.userhash = true;
	auth.len = 0;
	assert_int_equal(cv_digest_authorize(&auth, &ch, &cp), 0);
	assert_null(strstr(cstr(&auth), "username*"));
	/* controls cannot be sent either way */
	ch.userhash = false;
	cp.user = CV_PL("\xc3\xa4\x01");
	auth.len = 0;
	assert_int_equal(cv_digest_authorize(&auth, &ch, &cp), -EINVAL);
	assert_int_equal(auth.len, 0);
	cv_buf_free(&chal);
	cv_buf_free(&auth);
	cv_mem_unref(s);
	assert_int_equal(cv_mem_live(), live);
}

static void test_server_stale(void **state)
{
	(void)state;
	struct cv_digest_server *s = server(1, 0);
	struct cv_buf chal;
	cv_buf_init(&chal, 0);
	assert_int_equal(
		cv_digest_server_challenge(s, &chal, CV_DIGEST_SHA256, true),
		0);
	assert_non_null(strstr(chal.data, "stale=true"));
	assert_int_equal(
		round_trip(s, CV_DIGEST_SHA256, 1, "secret", false, &chal), 0);
	sleep(2);
	assert_int_equal(
		round_trip(s, CV_DIGEST_SHA256, 2, "secret", false, &chal),
		CV_ESTALE);
	/* a wrong password on an old nonce is still just wrong */
	assert_int_equal(
		round_trip(s, CV_DIGEST_SHA256, 3, "bad", false, &chal),
		CV_EAUTH);
	cv_buf_free(&chal);
	cv_mem_unref(s);
}

static void test_best_challenge(void **state)
{
	(void)state;
	static const char R[] =
		"SIP/2.0 401 Unauthorized\r\nVia: SIP/2.0/UDP "
		"h;branch=z9hG4bK1\r\n"
		"From: <sip:a@b>;tag=1\r\nTo: <sip:a@b>;tag=2\r\nCall-ID: "
		"x\r\nCSeq: 1 REGISTER\r\n"
		"WWW-Authenticate: Digest realm=\"b\", nonce=\"1\", "
		"algorithm=MD5, qop=\"auth\"\r\n"
		"WWW-Authenticate: Digest realm=\"b\", nonce=\"2\", "
		"algorithm=SHA-512-256, qop=\"auth\"\r\n"
		"WWW-Authenticate: Digest realm=\"b\", nonce=\"3\", "
		"algorithm=SHA-256, qop=\"auth\"\r\n"
		"WWW-Authenticate: Digest realm=\"b\", nonce=\"4\", "
		"algorithm=UNKNOWN\r\n"
		"Content-Length: 0\r\n\r\n";
	struct cv_sip_msg *m = NULL;
	assert_int_equal(cv_sip_msg_parse(&m, R, sizeof(R) - 1, NULL, NULL), 0);
	struct cv_digest_challenge ch;
	assert_int_equal(cv_digest_challenge_best(m, false, &ch), 0);
	assert_int_equal(ch.alg, CV_DIGEST_SHA512_256);
	assert_true(cv_pl_eq_str(ch.nonce, "2"));
	assert_int_equal(cv_digest_challenge_best(m, true, &ch), CV_ENOTFOUND);
	/* auth-int covers the body; userhash hides the user name */
	ch.qop_auth = false;
	ch.qop_auth_int = true;
	ch.userhash = true;
	struct cv_buf out;
	cv_buf_init(&out, 0);
	struct cv_digest_client_params cp = {.user = CV_PL("a"),
					     .password = CV_PL("p"),
					     .method = CV_PL("INVITE"),
					     .uri = CV_PL("sip:b"),
					     .body = CV_PL("v=0\r\n"),
					     .cnonce = CV_PL("cn")};
	assert_int_equal(cv_digest_authorize(&out, &ch, &cp), 0);
	assert_non_null(strstr(out.data, "qop=auth-int"));
	assert_non_null(strstr(out.data, "userhash=true"));
	assert_null(strstr(out.data, "username=\"a\""));
	cv_buf_free(&out);
	cv_mem_unref(m);
}

static void hex_in(const char *p, size_t n, unsigned char *out)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v = 0;
		assert_int_equal(sscanf(p + 2 * i, "%2x", &v), 1);
		out[i] = (unsigned char)v;
	}
}

/* The nonce is hex(time 8 || random 8 || first 16 bytes of
 * HMAC-SHA256(secret, time || random || realm)); the hand-rolled RFC 2104
 * HMAC must match OpenSSL's one-shot HMAC() for every key length allowed. */
static void test_nonce_mac_matches_hmac(void **state)
{
	(void)state;
	static const unsigned char key[64] = "k0k1k2k3k4k5k6k7k8k9kakbkckdkekf"
					     "K0K1K2K3K4K5K6K7K8K9KaKbKcKdKeKf";
	static const size_t lens[] = {16, 17, 32, 63, 64};
	for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
		struct cv_digest_server *s = NULL;
		struct cv_digest_server_params p = {
			.secret = key,
			.secret_len = lens[li],
			.realm = CV_PL("mac.example")};
		assert_int_equal(cv_digest_server_create(&s, &p), 0);
		for (int round = 0; round < 4; round++) {
			struct cv_buf chal;
			cv_buf_init(&chal, 0);
			assert_int_equal(
				cv_digest_server_challenge(
					s, &chal, CV_DIGEST_MD5, false),
				0);
			struct cv_digest_challenge ch;
			assert_int_equal(
				cv_digest_challenge_parse(
					(struct cv_pl){chal.data, chal.len},
					&ch),
				0);
			assert_int_equal(ch.nonce.l, 64);
			unsigned char in[16 + 11], got[16], want[32];
			unsigned int wl = 0;
			hex_in(ch.nonce.p, 16, in);
			memcpy(in + 16, "mac.example", 11);
			hex_in(ch.nonce.p + 32, 16, got);
			assert_non_null(HMAC(EVP_sha256(), key, (int)lens[li],
					     in, sizeof(in), want, &wl));
			assert_int_equal(wl, 32);
			assert_memory_equal(got, want, 16);
			cv_buf_free(&chal);
		}
		cv_mem_unref(s);
	}
}

/* One server shared by worker threads (how src/server/auth.c uses it):
 * every challenge/answer/verify round must succeed on every thread. */
#define MT_THREADS 4
#define MT_ROUNDS  300

struct mt_arg {
	struct cv_digest_server *s;
	int id;
	int failures;
};

static void *mt_worker(void *p)
{
	struct mt_arg *a = p;
	for (int i = 0; i < MT_ROUNDS; i++) {
		enum cv_digest_alg alg =
			(enum cv_digest_alg)((i + a->id) % CV_DIGEST_ALG_COUNT);
		struct cv_buf chal, auth;
		cv_buf_init(&chal, 0);
		cv_buf_init(&auth, 0);
		struct cv_digest_challenge ch;
		struct cv_digest_credentials cr;
		char ha1[CV_DIGEST_HEX_MAX];
		struct cv_digest_client_params cp = {
			.user = CV_PL("alice"),
			.password = CV_PL("secret"),
			.method = CV_PL("REGISTER"),
			.uri = CV_PL("sip:example.com")};
		int ok =
			cv_digest_server_challenge(a->s, &chal, alg, false) ==
				0 &&
			cv_digest_challenge_parse(
				(struct cv_pl){chal.data, chal.len}, &ch) ==
				0 &&
			cv_digest_authorize(&auth, &ch, &cp) == 0 &&
			cv_digest_credentials_parse(
				(struct cv_pl){auth.data, auth.len}, &cr) ==
				0 &&
			cv_digest_ha1(alg, CV_PL("alice"), CV_PL("example.com"),
				      CV_PL("secret"), ha1) == 0 &&
			cv_digest_server_verify(a->s, &cr, CV_PL("REGISTER"),
						CV_PL(""), cv_pl_str(ha1)) == 0;
		if (!ok)
			a->failures++;
		cv_buf_free(&chal);
		cv_buf_free(&auth);
	}
	return NULL;
}

static void test_server_threads(void **state)
{
	(void)state;
	int64_t live = cv_mem_live();
	struct cv_digest_server *s = server(300, 1u << 16);
	pthread_t th[MT_THREADS];
	struct mt_arg args[MT_THREADS];
	for (int i = 0; i < MT_THREADS; i++) {
		args[i] = (struct mt_arg){.s = s, .id = i};
		assert_int_equal(
			pthread_create(&th[i], NULL, mt_worker, &args[i]), 0);
	}
	for (int i = 0; i < MT_THREADS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(args[i].failures, 0);
	}
	cv_mem_unref(s);
	assert_int_equal(cv_mem_live(), live);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc7616_vectors),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_server_round_trip),
		cmocka_unit_test(test_server_stale),
		cmocka_unit_test(test_username_ext),
		cmocka_unit_test(test_best_challenge),
		cmocka_unit_test(test_nonce_mac_matches_hmac),
		cmocka_unit_test(test_server_threads),
	};
	int64_t live = cv_mem_live();
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	return rc || cv_mem_live() != live;
}
