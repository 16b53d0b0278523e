/* SDES keys per leg and codec lists of the B2BUA's media anchoring
 * (src/server/media.c, transcode.c): what each leg is told. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cvoip/media.h"
#include "cvoip/sdp.h"

#include "../src/server/server_int.h"

#include "media_fixture.h"

static int setup(void **state)
{
	return fixture_setup(state, 42000);
}

static int teardown(void **state)
{
	return fixture_teardown(state);
}

static char *rewrite(struct fixture *f, int from, const char *sdp)
{
	return fixture_rewrite(f, from, sdp, NULL);
}

/* the inline key of the first a=crypto line */
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

static const char savp_offer[] =
	"v=0\r\no=alice 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 "
	"0\r\n"
	"m=audio 4000 RTP/SAVP 0\r\n"
	"a=rtpmap:0 PCMU/8000\r\n"
	"a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:" KEY_A "\r\n"
	"a=sendrecv\r\n";

static void test_sdes_both(void **state)
{
	struct fixture *f = *state;
	char *toB = rewrite(f, 0, savp_offer);
	/* mirrored: SAVP, one a=crypto, cvoipd's own key with A's tag */
	assert_non_null(strstr(toB, "RTP/SAVP 0"));
	assert_int_equal(count(toB, "a=crypto:"), 1);
	assert_non_null(
		strstr(toB, "a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:"));
	assert_null(strstr(toB, KEY_A));
	char kb[64];
	key_of(toB, kb, sizeof(kb));
	char *toA = rewrite(f, 1,
			    "v=0\r\no=bob 1 1 IN IP4 10.0.0.2\r\ns=-\r\nc=IN "
			    "IP4 10.0.0.2\r\nt=0 0\r\n"
			    "m=audio 5000 RTP/SAVP 0\r\n"
			    "a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B
			    "\r\n");
	assert_non_null(strstr(toA, "RTP/SAVP 0"));
	assert_int_equal(count(toA, "a=crypto:"), 1);
	assert_non_null(
		strstr(toA, "a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:"));
	char ka[64];
	key_of(toA, ka, sizeof(ka));
	assert_string_not_equal(ka, kb);
	assert_null(strstr(toA, KEY_B));
	assert_null(strstr(toA, KEY_A));
	/* a re-INVITE from A keeps B's key (no rekey without cause) */
	free(toB);
	toB = rewrite(f, 0,
		      "v=0\r\no=alice 1 2 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 "
		      "10.0.0.1\r\nt=0 0\r\n"
		      "m=audio 4000 RTP/SAVP 0\r\n"
		      "a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:" KEY_A
		      "\r\n");
	char kb2[64];
	key_of(toB, kb2, sizeof(kb2));
	assert_string_equal(kb, kb2);
	free(toB);
	free(toA);
}

static void test_sdes_to_plain(void **state)
{
	struct fixture *f = *state;
	char *toB = rewrite(f, 0, savp_offer);
	free(toB);
	/* B answers plain (e.g. best-effort SRTP offered as RTP/AVP, or a
	 * callee that ignores a=crypto): A still gets SRTP, B plain */
	char *toA = rewrite(f, 1,
			    "v=0\r\no=bob 1 1 IN IP4 10.0.0.2\r\ns=-\r\nc=IN "
			    "IP4 10.0.0.2\r\nt=0 0\r\n"
			    "m=audio 5000 RTP/AVP 0\r\n");
	assert_non_null(strstr(toA, "RTP/SAVP 0"));
	assert_int_equal(count(toA, "a=crypto:3 "), 1);
	free(toA);
	/* B re-offers plain: A is told SAVP with its key (its own choice) */
	toA = rewrite(f, 1,
		      "v=0\r\no=bob 1 2 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 "
		      "10.0.0.2\r\nt=0 0\r\n"
		      "m=audio 5000 RTP/AVP 0\r\n");
	assert_non_null(strstr(toA, "RTP/SAVP 0"));
	assert_int_equal(count(toA, "a=crypto:"), 1);
	free(toA);
}

static void test_plain_untouched(void **state)
{
	struct fixture *f = *state;
	char *toB = rewrite(f, 0,
			    "v=0\r\no=alice 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN "
			    "IP4 10.0.0.1\r\nt=0 0\r\n"
			    "m=audio 4000 RTP/AVP 0 8\r\n");
	assert_null(strstr(toB, "crypto"));
	assert_null(strstr(toB, "SAVP"));
	assert_null(f->m.sec);
	free(toB);
	/* an unknown suite is passed through end to end */
	media_free(&f->sw, &f->m);
	toB = rewrite(f, 0,
		      "v=0\r\no=alice 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 "
		      "10.0.0.1\r\nt=0 0\r\n"
		      "m=audio 4000 RTP/SAVP 0\r\n"
		      "a=crypto:1 F8_128_HMAC_SHA1_80 inline:" KEY_A "\r\n");
	assert_non_null(
		strstr(toB, "a=crypto:1 F8_128_HMAC_SHA1_80 inline:" KEY_A));
	assert_int_equal(count(toB, "a=crypto:"), 1);
	free(toB);
}

/* After a 488, the callee is offered the opposite of the caller's
 * choice, once; a plain caller's offer becomes RTP/SAVP with our key. */
static void test_retry_flipped(void **state)
{
	struct fixture *f = *state;
	static const char plain[] =
		"v=0\r\no=alice 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 "
		"10.0.0.1\r\nt=0 0\r\n"
		"m=audio 4000 RTP/AVP 0\r\n";
	free(rewrite(f, 0, plain));
	struct cv_buf b;
	cv_buf_init(&b, 65536);
	assert_int_equal(media_retry_offer(&f->sw, &f->m, cv_pl_str(plain), &b),
			 0);
	cv_buf_append(&b, "", 1);
	assert_non_null(strstr(b.data, "RTP/SAVP 0"));
	assert_int_equal(
		count(b.data, "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"), 1);
	cv_buf_free(&b);
	cv_buf_init(&b, 65536);
	assert_int_equal(media_retry_offer(&f->sw, &f->m, cv_pl_str(plain), &b),
			 CV_ENOTFOUND); /* once */
	cv_buf_free(&b);
	/* B answers SRTP: A still gets plain RTP */
	char *toA = rewrite(f, 1,
			    "v=0\r\no=bob 1 1 IN IP4 10.0.0.2\r\ns=-\r\nc=IN "
			    "IP4 10.0.0.2\r\nt=0 0\r\n"
			    "m=audio 5000 RTP/SAVP 0\r\n"
			    "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B
			    "\r\n");
	assert_non_null(strstr(toA, "RTP/AVP 0"));
	assert_null(strstr(toA, "crypto"));
	free(toA);
	/* an SRTP caller's offer becomes plain */
	media_free(&f->sw, &f->m);
	free(rewrite(f, 0, savp_offer));
	cv_buf_init(&b, 65536);
	assert_int_equal(
		media_retry_offer(&f->sw, &f->m, cv_pl_str(savp_offer), &b), 0);
	cv_buf_append(&b, "", 1);
	assert_non_null(strstr(b.data, "RTP/AVP 0"));
	assert_null(strstr(b.data, "crypto"));
	cv_buf_free(&b);
}

static const char pcma_offer[] =
	"v=0\r\no=alice 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 "
	"0\r\n"
	"m=audio 4000 RTP/AVP 8 101\r\n"
	"a=rtpmap:8 PCMA/8000\r\n"
	"a=rtpmap:101 telephone-event/8000\r\n"
	"a=fmtp:101 0-16\r\n";

static void test_codecs_added_and_transcoded(void **state)
{
	struct fixture *f = *state;
	char *toB = rewrite(f, 0, pcma_offer);
	/* A's formats first, then the ones cvoipd transcodes */
	assert_non_null(strstr(toB, " RTP/AVP 8 101 0 9 96\r\n"));
	assert_non_null(strstr(toB, "a=rtpmap:0 PCMU/8000\r\n"));
	assert_non_null(strstr(toB, "a=rtpmap:9 G722/8000\r\n"));
	assert_non_null(strstr(toB, "a=rtpmap:96 opus/48000/2\r\n"));
	free(toB);
	/* 183 and 200 from B with the same SDP: both answers */
	static const char ans[] =
		"v=0\r\no=bob 1 1 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 "
		"10.0.0.2\r\nt=0 0\r\n"
		"m=audio 5000 RTP/AVP 0 101\r\n"
		"a=rtpmap:0 PCMU/8000\r\n"
		"a=rtpmap:101 telephone-event/8000\r\n"
		"a=fmtp:101 0-15\r\n";
	for (int k = 0; k < 2; k++) {
		char *toA = rewrite(f, 1, ans);
		/* A gets its own codec and its telephone-event line */
		assert_non_null(strstr(toA, " RTP/AVP 8 101\r\n"));
		assert_non_null(strstr(toA, "a=rtpmap:8 PCMA/8000\r\n"));
		assert_non_null(strstr(toA, "a=fmtp:101 0-16\r\n"));
		assert_null(strstr(toA, "PCMU"));
		assert_null(strstr(toA, "0-15"));
		free(toA);
	}
}

static void test_common_codec_filtered(void **state)
{
	struct fixture *f = *state;
	free(rewrite(f, 0, pcma_offer));
	/* B answers PCMU (ours) and PCMA (common): A hears only of PCMA */
	char *toA = rewrite(f, 1,
			    "v=0\r\no=bob 1 1 IN IP4 10.0.0.2\r\ns=-\r\nc=IN "
			    "IP4 10.0.0.2\r\nt=0 0\r\n"
			    "m=audio 5000 RTP/AVP 0 8\r\n"
			    "a=rtpmap:0 PCMU/8000\r\n"
			    "a=rtpmap:8 PCMA/8000\r\n");
	assert_non_null(strstr(toA, " RTP/AVP 8\r\n"));
	assert_null(strstr(toA, "PCMU"));
	assert_non_null(strstr(toA, "a=rtpmap:8 PCMA/8000\r\n"));
	free(toA);
	/* only the common codec: the answer is passed as it is */
	media_free(&f->sw, &f->m);
	free(rewrite(f, 0, pcma_offer));
	toA = rewrite(f, 1,
		      "v=0\r\no=bob 1 1 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 "
		      "10.0.0.2\r\nt=0 0\r\n"
		      "m=audio 5000 RTP/AVP 8\r\n");
	assert_non_null(strstr(toA, " RTP/AVP 8\r\n"));
	free(toA);
}

/* A packet in PCMA through the transform comes out as PCMU with the
 * callee's payload type, the same samples (within G.711 rounding). */
static void test_xform_packet(void **state)
{
	(void)state;
	long long live = (long long)cv_mem_live();
	struct xcode *x;
	assert_int_equal(xcode_create(&x), 0);
	struct cv_sdp *a, *b;
	static const char sa[] =
		"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\n"
		"m=audio 4000 RTP/AVP 8 101\r\na=rtpmap:101 "
		"telephone-event/8000\r\n";
	static const char sb[] =
		"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\n"
		"m=audio 4000 RTP/AVP 0 100\r\na=rtpmap:100 "
		"telephone-event/8000\r\n";
	assert_int_equal(cv_sdp_parse(&a, sa, sizeof(sa) - 1, NULL), 0);
	assert_int_equal(cv_sdp_parse(&b, sb, sizeof(sb) - 1, NULL), 0);
	xcode_set_fmts(x, 0, &a->media[0]);
	xcode_set_fmts(x, 1, &b->media[0]);
	uint8_t pkt[1600];
	int16_t pcm[160];
	for (int i = 0; i < 160; i++)
		pcm[i] = (int16_t)(i * 97 % 8000 - 4000);
	uint8_t pay[160];
	cv_g711_alaw_enc_buf(pay, pcm, 160);
	struct cv_rtp_hdr h = {.pt = 8, .seq = 7, .ts = 1000, .ssrc = 42};
	size_t len;
	assert_int_equal(cv_rtp_build(pkt, sizeof(pkt), &h, pay, 160, &len), 0);
	assert_int_equal(xcode_xform(x, CV_RTP_RELAY_A, pkt, &len, sizeof(pkt)),
			 0);
	struct cv_rtp_pkt p;
	assert_int_equal(cv_rtp_parse(&p, pkt, len), 0);
	assert_int_equal(p.hdr.pt, 0);
	assert_int_equal(p.hdr.seq, 7);
	assert_int_equal(p.hdr.ssrc, 42);
	assert_int_equal(p.payload_len, 160);
	for (int i = 0; i < 160; i++) {
		int d = cv_g711_ulaw_dec(p.payload[i]) -
			cv_g711_alaw_dec(pay[i]);
		assert_true(d > -300 && d < 300);
	}
	/* telephone-event: renumbered only */
	uint8_t ev[4] = {5, 0x8a, 0, 160};
	h.pt = 101;
	assert_int_equal(cv_rtp_build(pkt, sizeof(pkt), &h, ev, 4, &len), 0);
	assert_int_equal(xcode_xform(x, CV_RTP_RELAY_A, pkt, &len, sizeof(pkt)),
			 0);
	assert_int_equal(pkt[1] & 0x7f, 100);
	assert_int_equal(len, 16);
	/* an unknown payload type, junk: dropped */
	h.pt = 33;
	assert_int_equal(cv_rtp_build(pkt, sizeof(pkt), &h, ev, 4, &len), 0);
	assert_int_not_equal(
		xcode_xform(x, CV_RTP_RELAY_A, pkt, &len, sizeof(pkt)), 0);
	len = 5;
	assert_int_not_equal(
		xcode_xform(x, CV_RTP_RELAY_B, pkt, &len, sizeof(pkt)), 0);
	cv_mem_unref(a);
	cv_mem_unref(b);
	cv_mem_unref(x);
	assert_int_equal((long long)cv_mem_live(), live);
}

/* Hostile SDP: long format lists, non-numeric formats, junk crypto and
 * rtpmap lines: rewritten or refused, never a crash or a leak. */
static void test_hostile(void **state)
{
	struct fixture *f = *state;
	static const char *const bodies[] = {
		"m=audio 4000 RTP/AVP abc 8\r\na=rtpmap:abc PCMA/8000\r\n",
		("m=audio 4000 RTP/SAVP 8\r\na=crypto:1 "
		 "AES_CM_128_HMAC_SHA1_80 inline:!!!!\r\n"
		 "a=crypto:x\r\na=crypto:2 AES_CM_128_HMAC_SHA1_80 "
		 "inline:" KEY_A "|2^20|1:4\r\n"),
		"m=audio 4000 RTP/AVP\r\n",
		("m=audio 4000 RTP/AVP 8\r\na=rtpmap:8 PCMA/0\r\na=rtpmap:200 "
		 "X/8000\r\n"
		 "a=fmtp:8\r\na=rtcp-fb:* nack\r\na=rtpmap:\r\n"),
	};
	for (size_t k = 0; k < CV_ARRAY_SIZE(bodies); k++) {
		for (int leg = 0; leg < 2; leg++) {
			char sdp[8192];
			snprintf(sdp, sizeof(sdp),
				 "v=0\r\no=x 1 %zu IN IP4 "
				 "10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\n"
				 "t=0 0\r\n%s",
				 k * 2 + (size_t)leg, bodies[k]);
			struct cv_buf b;
			cv_buf_init(&b, 65536);
			(void)media_rewrite(&f->sw, &f->m, leg, cv_pl_str(sdp),
					    &b);
			cv_buf_free(&b);
		}
	}
	/* 127 formats: the list does not fit our additions, so none */
	char sdp[8192];
	int o = snprintf(sdp, sizeof(sdp),
			 "v=0\r\no=x 1 99 IN IP4 10.0.0.1\r\ns=-\r\n"
			 "c=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP");
	for (int pt = 1; pt < 128; pt++)
		o += snprintf(sdp + o, sizeof(sdp) - (size_t)o, " %d", pt);
	snprintf(sdp + o, sizeof(sdp) - (size_t)o, "\r\n");
	media_free(&f->sw, &f->m);
	char *out = rewrite(f, 0, sdp);
	assert_non_null(strstr(out, " 126 127\r\n"));
	free(out);
}

static int udp_socket(unsigned *port)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	socklen_t l = sizeof(a);
	getsockname(fd, (struct sockaddr *)&a, &l);
	*port = ntohs(a.sin_port);
	return fd;
}

static unsigned mport(const char *sdp)
{
	const char *p = strstr(sdp, "m=audio ");
	return p ? (unsigned)atoi(p + 8) : 0;
}

/* SRTP PCMA from A (its own key) crosses the relay and reaches B as SRTP
 * PCMU under the key cvoipd offered B: SDES terminated on both legs and
 * transcoded in between, through real sockets. */
static void test_srtp_transcoded_crosses(void **state)
{
	struct fixture *f = *state;
	unsigned pa, pb;
	int fa = udp_socket(&pa), fb = udp_socket(&pb);
	char sdp[512];
	snprintf(sdp, sizeof(sdp),
		 "v=0\r\no=a 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 "
		 "127.0.0.1\r\nt=0 0\r\n"
		 "m=audio %u RTP/SAVP 8\r\n"
		 "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_A "\r\n",
		 pa);
	char *to_b = rewrite(f, 0, sdp);
	snprintf(sdp, sizeof(sdp),
		 "v=0\r\no=b 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 "
		 "127.0.0.1\r\nt=0 0\r\n"
		 "m=audio %u RTP/SAVP 0\r\n"
		 "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_B "\r\n",
		 pb);
	char *to_a = rewrite(f, 1, sdp);
	assert_non_null(strstr(to_a, "RTP/SAVP 8\r\n"));
	/* the key B was given */
	const char *kp = strstr(to_b, "inline:");
	assert_non_null(kp);
	struct cv_srtp_key kb, ka;
	assert_int_equal(
		cv_srtp_keyparams_parse((struct cv_pl){kp, strcspn(kp, "\r\n")},
					CV_SRTP_AES_CM_128_HMAC_SHA1_80, &kb),
		0);
	assert_int_equal(
		cv_srtp_keyparams_parse(cv_pl_str("inline:" KEY_A),
					CV_SRTP_AES_CM_128_HMAC_SHA1_80, &ka),
		0);
	struct cv_srtp *tx, *rx;
	assert_int_equal(cv_srtp_create(&tx, &ka, true), 0);
	assert_int_equal(cv_srtp_create(&rx, &kb, false), 0);
	int16_t pcm[160];
	for (int i = 0; i < 160; i++)
		pcm[i] = (int16_t)((i % 40) * 400 - 8000);
	uint8_t alaw[160];
	cv_g711_alaw_enc_buf(alaw, pcm, 160);
	struct sockaddr_in relay_a = {.sin_family = AF_INET,
				      .sin_port = htons((uint16_t)mport(to_a))};
	relay_a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	uint8_t got[512];
	ssize_t r = -1;
	for (int k = 0; k < 3 && r < 0; k++) { /* B's socket is latched on */
		uint8_t pkt[172 + CV_SRTP_MAX_TRAILER];
		struct cv_rtp_hdr h = {.pt = 8,
				       .seq = (uint16_t)(1 + k),
				       .ts = 160u * (uint32_t)k,
				       .ssrc = 0x1234};
		size_t len = 0;
		assert_int_equal(
			cv_rtp_build(pkt, sizeof(pkt), &h, alaw, 160, &len), 0);
		assert_int_equal(cv_srtp_protect(tx, pkt, &len, sizeof(pkt)),
				 0);
		assert_int_equal(sendto(fa, pkt, len, 0,
					(struct sockaddr *)&relay_a,
					sizeof(relay_a)),
				 (ssize_t)len);
		for (int i = 0; i < 100 && r < 0; i++) {
			uv_run(&f->loop, UV_RUN_NOWAIT);
			struct pollfd pfd = {.fd = fb, .events = POLLIN};
			if (poll(&pfd, 1, 10) == 1)
				r = recv(fb, got, sizeof(got), 0);
		}
	}
	assert_true(r > 12);
	size_t glen = (size_t)r;
	assert_int_equal(cv_srtp_unprotect(rx, got, &glen), 0);
	struct cv_rtp_pkt p;
	assert_int_equal(cv_rtp_parse(&p, got, glen), 0);
	assert_int_equal(p.hdr.pt, 0);
	assert_int_equal(p.payload_len, 160);
	for (int i = 0; i < 160; i++) {
		int d = cv_g711_ulaw_dec(p.payload[i]) -
			cv_g711_alaw_dec(alaw[i]);
		assert_true(d > -300 && d < 300);
	}
	cv_srtp_destroy(tx);
	cv_srtp_destroy(rx);
	close(fa);
	close(fb);
	free(to_a);
	free(to_b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sdes_both, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_sdes_to_plain, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_plain_untouched, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_retry_flipped, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_codecs_added_and_transcoded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_common_codec_filtered,
						setup, teardown),
		cmocka_unit_test(test_xform_packet),
		cmocka_unit_test_setup_teardown(test_hostile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_srtp_transcoded_crosses,
						setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
