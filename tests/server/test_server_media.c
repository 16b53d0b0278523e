/* Media anchoring of the B2BUA (src/server/media.c): SDP rewritten for
 * each leg, and RTP really crossing the relay between two sockets. */
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

#include "../src/server/server_int.h"

#include "media_fixture.h"

static int setup(void **state)
{
	return fixture_setup(state, 41000);
}

static int teardown(void **state)
{
	return fixture_teardown(state);
}

static char *rewrite(struct fixture *f, int from, const char *sdp, int *errp)
{
	return fixture_rewrite(f, from, sdp, errp);
}

static unsigned mport(const char *sdp, const char *media)
{
	char key[32];
	snprintf(key, sizeof(key), "m=%s ", media);
	const char *p = strstr(sdp, key);
	return p ? (unsigned)atoi(p + strlen(key)) : 0;
}

static const char offer[] =
	"v=0\r\n"
	"o=alice 1 1 IN IP4 10.0.0.1\r\n"
	"s=-\r\n"
	"c=IN IP4 10.0.0.1\r\n"
	"t=0 0\r\n"
	"a=ice-ufrag:abcd\r\n"
	"a=ice-pwd:0123456789012345678901\r\n"
	"m=audio 4000 RTP/AVP 0 8 101\r\n"
	"a=rtpmap:0 PCMU/8000\r\n"
	"a=rtpmap:101 telephone-event/8000\r\n"
	"a=rtcp:4001\r\n"
	"a=candidate:1 1 UDP 2130706431 10.0.0.1 4000 typ host\r\n"
	"a=sendrecv\r\n"
	"m=video 0 RTP/AVP 96\r\n"
	"m=video 4002 RTP/AVP 96\r\n"
	"a=rtpmap:96 H264/90000\r\n";

static void test_offer_answer(void **state)
{
	struct fixture *f = *state;
	char *out = rewrite(f, 0, offer, NULL);
	assert_non_null(out);
	/* to B: the relay's address and B-side ports; what is not ours is
	 * untouched */
	assert_non_null(strstr(out, "c=IN IP4 127.0.0.1\r\n"));
	assert_null(strstr(out, "10.0.0.1\r\nt=")); /* session c= rewritten */
	assert_non_null(strstr(out, "o=alice 1 1 IN IP4 10.0.0.1\r\n"));
	assert_non_null(strstr(out, "a=rtpmap:101 telephone-event/8000\r\n"));
	assert_non_null(strstr(out, "m=video 0 RTP/AVP 96\r\n"));
	assert_null(strstr(out, "candidate"));
	assert_null(strstr(out, "ice-"));
	unsigned pa = mport(out, "audio");
	assert_true(pa >= 41000 && pa <= 41999 && pa % 2 == 0);
	char rtcp[32];
	snprintf(rtcp, sizeof(rtcp), "a=rtcp:%u\r\n", pa + 1);
	assert_non_null(strstr(out, rtcp));
	assert_int_equal(f->m.n, 2); /* audio and the second video */
	assert_null(f->m.st[1]);
	unsigned pv = mport(strstr(out, "m=video 0") + 5, "video");
	assert_true(pv >= 41000 && pv <= 41999 && pv != pa);
	/* answer from B: A is told the A-side ports, distinct from B's */
	static const char answer[] =
		"v=0\r\no=bob 2 2 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 "
		"10.0.0.2\r\nt=0 0\r\n"
		"m=audio 5000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
		"m=video 0 RTP/AVP 96\r\nm=video 0 RTP/AVP 96\r\n";
	char *ans = rewrite(f, 1, answer, NULL);
	assert_non_null(ans);
	unsigned pb = mport(ans, "audio");
	assert_true(pb >= 41000 && pb <= 41999 && pb != pa);
	assert_non_null(strstr(ans, "c=IN IP4 127.0.0.1\r\n"));
	assert_string_equal(f->m.codec, "PCMU/8000");
	free(out);
	free(ans);
}

static void test_hold_kept(void **state)
{
	struct fixture *f = *state;
	static const char hold[] =
		"v=0\r\no=a 1 2 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 "
		"0.0.0.0\r\nt=0 0\r\n"
		"m=audio 4000 RTP/AVP 0\r\na=sendonly\r\n";
	char *out = rewrite(f, 0, hold, NULL);
	assert_non_null(out);
	assert_non_null(strstr(out, "c=IN IP4 0.0.0.0\r\n"));
	assert_non_null(strstr(out, "a=sendonly\r\n"));
	assert_int_not_equal(mport(out, "audio"), 4000);
	free(out);
}

static void test_bad_sdp(void **state)
{
	struct fixture *f = *state;
	int err = 0;
	char *out = rewrite(f, 0, "this is not SDP\r\nm=\r\n", &err);
	assert_null(out);
	assert_int_not_equal(err, 0);
	assert_int_not_equal(err, CV_ENOTFOUND);
	/* off: passed as it is */
	f->m.off = true;
	out = rewrite(f, 0, offer, &err);
	assert_null(out);
	assert_int_equal(err, CV_ENOTFOUND);
	f->m.off = false;
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

/* A sends RTP to the port its answer named; it comes out at B. */
static void test_rtp_crosses(void **state)
{
	struct fixture *f = *state;
	unsigned pa, pb;
	int fa = udp_socket(&pa), fb = udp_socket(&pb);
	char sdp[512];
	snprintf(sdp, sizeof(sdp),
		 "v=0\r\no=a 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 "
		 "127.0.0.1\r\nt=0 0\r\n"
		 "m=audio %u RTP/AVP 0\r\n",
		 pa);
	char *to_b = rewrite(f, 0, sdp, NULL);
	snprintf(sdp, sizeof(sdp),
		 "v=0\r\no=b 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 "
		 "127.0.0.1\r\nt=0 0\r\n"
		 "m=audio %u RTP/AVP 0\r\n",
		 pb);
	char *to_a = rewrite(f, 1, sdp, NULL);
	assert_non_null(to_b);
	assert_non_null(to_a);
	uint8_t pkt[172];
	struct cv_rtp_hdr h = {.pt = 0, .seq = 1, .ts = 160, .ssrc = 0x1234};
	uint8_t payload[160];
	memset(payload, 0xff, sizeof(payload));
	size_t len = 0;
	assert_int_equal(cv_rtp_build(pkt, sizeof(pkt), &h, payload,
				      sizeof(payload), &len),
			 0);
	ssize_t n = (ssize_t)len;
	struct sockaddr_in relay_a = {
		.sin_family = AF_INET,
		.sin_port = htons((uint16_t)mport(to_a, "audio"))};
	relay_a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(sendto(fa, pkt, (size_t)n, 0,
				(struct sockaddr *)&relay_a, sizeof(relay_a)),
			 n);
	uint8_t got[512];
	ssize_t r = -1;
	for (int i = 0; i < 200 && r < 0; i++) {
		uv_run(&f->loop, UV_RUN_NOWAIT);
		struct pollfd pfd = {.fd = fb, .events = POLLIN};
		if (poll(&pfd, 1, 10) == 1)
			r = recv(fb, got, sizeof(got), 0);
	}
	assert_int_equal(r, n);
	assert_memory_equal(got + 12, payload, sizeof(payload));
	struct cv_store_cdr_leg la = {0}, lb = {0};
	media_leg_stats(&f->m, 0, &la);
	media_leg_stats(&f->m, 1, &lb);
	assert_int_equal(la.pkts_recv, 1);
	assert_int_equal(lb.pkts_sent, 1);
	assert_string_equal(la.codec, "PCMU/8000");
	close(fa);
	close(fb);
	free(to_a);
	free(to_b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_offer_answer, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_hold_kept, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bad_sdp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rtp_crosses, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
