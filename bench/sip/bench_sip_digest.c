/* Digest server cost per REGISTER round (issue 9 benchmark (a)): one
 * challenge (fresh nonce: cv_random + HMAC-SHA256), the client response
 * (cv_digest_authorize) and cv_digest_server_verify (HMAC check + response
 * recompute). Prints ns per operation for MD5 and SHA-256.
 *
 * usage: bench_sip_digest [iterations] (default 100000) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cvoip/digest.h"

int main(int argc, char **argv);

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int run(struct cv_digest_server *srv, enum cv_digest_alg alg, long n)
{
	char ha1[CV_DIGEST_HEX_MAX];
	if (cv_digest_ha1(alg, CV_PL("alice"), CV_PL("bench.test"),
			  CV_PL("secret"), ha1))
		return 1;
	struct cv_buf ch = {0}, au = {0};
	cv_buf_init(&ch, 512);
	cv_buf_init(&au, 1024);
	double t_ch = 0, t_au = 0, t_ver = 0;
	int rc = 0;
	for (long i = 0; i < n && !rc; i++) {
		ch.len = 0;
		au.len = 0;
		double t0 = now_ns();
		rc |= cv_digest_server_challenge(srv, &ch, alg, false);
		double t1 = now_ns();
		struct cv_digest_challenge c;
		rc |= cv_digest_challenge_parse((struct cv_pl){ch.data, ch.len},
						&c);
		double t2 = now_ns();
		struct cv_digest_client_params p = {
			.user = CV_PL("alice"),
			.ha1 = cv_pl_str(ha1),
			.method = CV_PL("REGISTER"),
			.uri = CV_PL("sip:bench.test"),
			.cnonce = CV_PL("0a4f113b")};
		rc |= cv_digest_authorize(&au, &c, &p);
		double t3 = now_ns();
		struct cv_digest_credentials cr;
		rc |= cv_digest_credentials_parse(
			(struct cv_pl){au.data, au.len}, &cr);
		double t4 = now_ns();
		rc |= cv_digest_server_verify(srv, &cr, CV_PL("REGISTER"),
					      (struct cv_pl){"", 0},
					      cv_pl_str(ha1));
		double t5 = now_ns();
		t_ch += t1 - t0;
		t_au += t3 - t2;
		t_ver += t5 - t4;
	}
	if (rc)
		fprintf(stderr, "bench_sip_digest: failure (%d)\n", rc);
	else
		printf("%-8s n=%ld challenge %7.0f ns  authorize %7.0f ns  "
		       "verify %7.0f ns  "
		       "server total %7.0f ns\n",
		       cv_digest_alg_name(alg), n, t_ch / (double)n,
		       t_au / (double)n, t_ver / (double)n,
		       (t_ch + t_ver) / (double)n);
	cv_buf_free(&ch);
	cv_buf_free(&au);
	return rc != 0;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 100000;
	if (n <= 0)
		n = 100000;
	static const char secret[32] = "bench-secret-0123456789abcdefghi";
	struct cv_digest_server *srv;
	struct cv_digest_server_params sp = {.secret = secret,
					     .secret_len = sizeof(secret),
					     .realm = CV_PL("bench.test"),
					     .replay_slots = 1u << 18};
	if (cv_digest_server_create(&srv, &sp))
		return 1;
	int rc = run(srv, CV_DIGEST_MD5, n) | run(srv, CV_DIGEST_SHA256, n);
	cv_mem_unref(srv);
	return rc;
}
