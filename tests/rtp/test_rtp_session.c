/* RTP sessions over loopback: send/receive, statistics, RTCP with RTT and
 * XR, RFC 4733 events, latching with the hijack guard, SSRC changes,
 * rtcp-mux, SRTP (and its failures), malformed input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include "cvoip/rtp.h"

struct rx {
	unsigned packets, rtcp, tevents, tevent_new, tevent_end, ssrc_changes,
		other;
	uint8_t last_pt;
	uint32_t last_ssrc;
	uint8_t last_payload[32];
	bool got_xr;
	struct cv_rtcp_xr_voip xr;
};

static void on_packet(struct cv_rtp_session *s, const struct cv_rtp_pkt *p,
		      void *arg)
{
	(void)s;
	struct rx *r = arg;
	r->packets++;
	r->last_pt = p->hdr.pt;
	r->last_ssrc = p->hdr.ssrc;
	memcpy(r->last_payload, p->payload, CV_MIN(p->payload_len, 32));
}

static void on_rtcp(struct cv_rtp_session *s, const struct cv_rtcp_compound *c,
		    void *arg)
{
	(void)s;
	struct rx *r = arg;
	r->rtcp++;
	if (c->has_xr_voip) {
		r->got_xr = true;
		r->xr = c->xr_voip;
	}
}

static void on_tevent(struct cv_rtp_session *s, const struct cv_rtp_tevent *ev,
		      uint32_t ts, bool is_new, void *arg)
{
	(void)s;
	(void)ts;
	struct rx *r = arg;
	r->tevents++;
	r->tevent_new += is_new;
	r->tevent_end += ev->end;
}

static void on_ssrc(struct cv_rtp_session *s, uint32_t o, uint32_t n, void *arg)
{
	(void)s;
	(void)o;
	(void)n;
	((struct rx *)arg)->ssrc_changes++;
}

static void on_other(struct cv_rtp_session *s, const uint8_t *b, size_t l,
		     const struct sockaddr *from, void *arg)
{
	(void)s;
	(void)b;
	(void)l;
	(void)from;
	((struct rx *)arg)->other++;
}

static const struct cv_rtp_handlers handlers = {
	.packet = on_packet,
	.rtcp = on_rtcp,
	.tevent = on_tevent,
	.ssrc_change = on_ssrc,
	.other = on_other,
};

static uv_loop_t loop;

static void spin(unsigned ms)
{
	for (unsigned i = 0; i < ms; i++) {
		uv_run(&loop, UV_RUN_NOWAIT);
		usleep(1000);
	}
	uv_run(&loop, UV_RUN_NOWAIT);
}

/* Spin until *counter reaches want (at most 2 s). */
static void wait_for(const unsigned *counter, unsigned want)
{
	for (unsigned i = 0; i < 2000 && *counter < want; i++) {
		uv_run(&loop, UV_RUN_NOWAIT);
		if (*counter < want)
			usleep(1000);
	}
}

static struct cv_rtp_session *mk(struct rx *r, bool mux, uint32_t window_ms,
				 uint32_t silence_ms)
{
	struct cv_rtp_params p = {
		.loop = &loop,
		.local_addr = "127.0.0.1",
		.port_min = 30000,
		.port_max = 39999,
		.rtcp_mux = mux,
		.tevent_pt = 101,
		.rtcp_disable = true,
		.rtcp_xr = true,
		.latch_window_ms = window_ms,
		.latch_silence_ms = silence_ms,
		.h = &handlers,
		.arg = r,
	};
	struct cv_rtp_session *s;
	assert_int_equal(cv_rtp_session_create(&s, &p), 0);
	assert_int_equal(cv_rtp_session_port(s) % 2, 0);
	return s;
}

static void local_of(struct cv_rtp_session *s, struct sockaddr_storage *rtp,
		     struct sockaddr_storage *rtcp)
{
	assert_int_equal(cv_rtp_session_local(s, rtp, rtcp), 0);
}

static int raw_sock(struct sockaddr_in *bound)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	socklen_t l = sizeof(*bound);
	getsockname(fd, (struct sockaddr *)bound, &l);
	return fd;
}

static void raw_send(int fd, const struct sockaddr_storage *to, uint32_t ssrc,
		     uint16_t seq, uint32_t ts, uint8_t pt, const void *pl,
		     size_t plen)
{
	uint8_t buf[256];
	size_t len;
	struct cv_rtp_hdr h = {.pt = pt, .seq = seq, .ts = ts, .ssrc = ssrc};
	assert_int_equal(cv_rtp_build(buf, sizeof(buf), &h, pl, plen, &len), 0);
	sendto(fd, buf, len, 0, (const struct sockaddr *)to,
	       sizeof(struct sockaddr_in));
}

static void finish(struct cv_rtp_session *a, struct cv_rtp_session *b)
{
	cv_rtp_session_destroy(a);
	cv_rtp_session_destroy(b);
	spin(2);
}

static void test_pair_stats_rtcp(void **state)
{
	(void)state;
	int64_t live = cv_mem_live();
	struct rx ra = {0}, rb = {0};
	struct cv_rtp_session *a = mk(&ra, false, 0, 0),
			      *b = mk(&rb, false, 0, 0);
	struct sockaddr_storage la, lb;
	local_of(a, &la, NULL);
	local_of(b, &lb, NULL);
	assert_int_equal(cv_rtp_send(a, &(struct cv_rtp_tx){.pt = 0,
							    .payload = "x",
							    .len = 1}),
			 -ENOTCONN);
	assert_int_equal(
		cv_rtp_session_set_remote(a, (struct sockaddr *)&lb, NULL), 0);
	assert_int_equal(
		cv_rtp_session_set_remote(b, (struct sockaddr *)&la, NULL), 0);
	uint8_t pl[160];
	memset(pl, 0xd5, sizeof(pl));
	for (unsigned i = 0; i < 50; i++) {
		struct cv_rtp_tx tx = {.pt = 0,
				       .marker = i == 0,
				       .ts = 160 * i,
				       .payload = pl,
				       .len = sizeof(pl)};
		assert_int_equal(cv_rtp_send(a, &tx), 0);
		if (i % 10 == 9)
			wait_for(&rb.packets, i + 1);
	}
	wait_for(&rb.packets, 50);
	assert_int_equal(rb.packets, 50);
	assert_int_equal(rb.last_pt, 0);
	assert_int_equal(rb.last_ssrc, cv_rtp_session_ssrc(a));
	/* b answers with an SR/RR + XR; a sends an SR; then b reports again
	 * so a learns the RTT from LSR/DLSR. */
	assert_int_equal(cv_rtp_send_rtcp(a, false), 0);
	wait_for(&rb.rtcp, 1);
	assert_int_equal(cv_rtp_send_rtcp(b, false), 0);
	wait_for(&ra.rtcp, 1);
	assert_true(ra.got_xr);
	assert_int_equal(ra.xr.ssrc, cv_rtp_session_ssrc(a));
	assert_int_equal(ra.xr.loss_rate, 0);
	assert_true(ra.xr.mos_lq >= 40);
	struct cv_rtp_stats sa, sb;
	cv_rtp_session_stats(a, &sa);
	cv_rtp_session_stats(b, &sb);
	assert_int_equal(sa.tx_packets, 50);
	assert_int_equal(sa.tx_bytes, 50 * 160);
	assert_int_equal(sb.rx_packets, 50);
	assert_int_equal(sb.rx_bytes, 50 * 160);
	assert_int_equal(sb.rx_lost, 0);
	assert_int_equal(sb.rx_expected, 50);
	assert_true(sa.remote_valid);
	assert_int_equal(sa.remote_lost, 0);
	assert_true(sa.rtt_ms >= 0 && sa.rtt_ms < 500);
	assert_true(sb.mos > 4.3);
	assert_true(sa.rtcp_sent == 1 && sb.rtcp_received == 1);
	finish(a, b);
	assert_int_equal(cv_mem_live(), live);
}

static void test_loss_tevent_ssrc(void **state)
{
	(void)state;
	int64_t live = cv_mem_live();
	struct rx rb = {0};
	struct cv_rtp_session *b = mk(&rb, false, 0, 0);
	struct sockaddr_storage lb;
	local_of(b, &lb, NULL);
	struct sockaddr_in xa;
	int x = raw_sock(&xa);
	/* 100 packets with 10 lost; sequence wraps. */
	unsigned sent = 0;
	for (unsigned i = 0; i < 100; i++) {
		if (i % 10 == 5)
			continue;
		raw_send(x, &lb, 0xabc, (uint16_t)(65500 + i), 160 * i, 0,
			 "abcd", 4);
		sent++;
		if (sent % 20 == 0)
			wait_for(&rb.packets, sent);
	}
	wait_for(&rb.packets, sent);
	struct cv_rtp_stats st;
	cv_rtp_session_stats(b, &st);
	assert_int_equal(st.rx_packets, 90);
	assert_int_equal(st.rx_lost, 10);
	assert_true(st.remote_latched);
	assert_true(st.mos < 4.0); /* 10% loss, G.711 without PLC */
	/* RFC 4733: one event, 3 updates, 3 end retransmissions. */
	uint8_t ev[4];
	struct cv_rtp_tevent e = {.event = 5, .volume = 10};
	uint16_t seq = (uint16_t)(65500u + 100u);
	for (int k = 0; k < 6; k++) {
		e.end = k >= 3;
		e.duration = (uint16_t)(160 * (k + 1));
		cv_rtp_tevent_build(ev, 4, &e);
		raw_send(x, &lb, 0xabc, seq++, 160 * 100, 101, ev, 4);
	}
	wait_for(&rb.tevents, 4);
	spin(5);
	assert_int_equal(rb.tevents, 4);
	assert_int_equal(rb.tevent_new, 1);
	assert_int_equal(rb.tevent_end, 1);
	/* SSRC change: a stray packet does not switch, two in a row do. */
	raw_send(x, &lb, 0xdef, 7, 0, 0, "z", 1);
	raw_send(x, &lb, 0xabc, seq++, 160 * 101, 0, "y", 1);
	raw_send(x, &lb, 0xdef, 100, 0, 0, "n", 1);
	raw_send(x, &lb, 0xdef, 101, 160, 0, "n", 1);
	raw_send(x, &lb, 0xdef, 102, 320, 0, "n", 1);
	unsigned want = rb.packets + 3;
	wait_for(&rb.packets, want);
	assert_int_equal(rb.ssrc_changes, 1);
	assert_int_equal(rb.last_ssrc, 0xdef);
	cv_rtp_session_stats(b, &st);
	assert_int_equal(st.rx_ssrc, 0xdef);
	assert_int_equal(st.ssrc_changes, 1);
	assert_int_equal(st.drop_ssrc, 2);
	/* Garbage, truncated RTP, STUN-looking datagram. */
	uint8_t junk[12] = {0x80, 0, 0};
	sendto(x, junk, 5, 0, (struct sockaddr *)&lb, sizeof(xa));
	uint8_t stun[20] = {0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42};
	sendto(x, stun, sizeof(stun), 0, (struct sockaddr *)&lb, sizeof(xa));
	junk[0] = 0x8f; /* 15 CSRCs in 12 bytes */
	sendto(x, junk, 12, 0, (struct sockaddr *)&lb, sizeof(xa));
	wait_for(&rb.other, 1);
	spin(5);
	cv_rtp_session_stats(b, &st);
	assert_int_equal(rb.other, 1);
	assert_int_equal(st.drop_malformed, 2);
	close(x);
	cv_rtp_session_destroy(b);
	spin(2);
	assert_int_equal(cv_mem_live(), live);
}

static void test_latch_guard(void **state)
{
	(void)state;
	int64_t live = cv_mem_live();
	struct rx rb = {0};
	/* Window 100 ms, silence 150 ms. */
	struct cv_rtp_session *b = mk(&rb, false, 100, 150);
	struct sockaddr_storage lb;
	local_of(b, &lb, NULL);
	struct sockaddr_in xa, ya;
	int x = raw_sock(&xa), y = raw_sock(&ya);
	/* The signalled address is not where media comes from (NAT). */
	struct sockaddr_in sig = xa;
	sig.sin_port = htons(9);
	cv_rtp_session_set_remote(b, (struct sockaddr *)&sig, NULL);
	raw_send(x, &lb, 1, 1, 0, 0, "a", 1);
	wait_for(&rb.packets, 1);
	struct cv_rtp_stats st;
	cv_rtp_session_stats(b, &st);
	assert_true(((struct sockaddr_in *)&st.remote_rtp)->sin_port ==
		    xa.sin_port);
	/* Symmetric RTP: b answers to x's real port. */
	assert_int_equal(cv_rtp_send(b, &(struct cv_rtp_tx){.pt = 0,
							    .payload = "r",
							    .len = 1}),
			 0);
	uint8_t buf[64];
	ssize_t n = -1;
	for (int i = 0; i < 200 && n < 0; i++) {
		n = recv(x, buf, sizeof(buf), 0);
		if (n < 0)
			usleep(1000);
	}
	assert_int_equal(n, 13);
	/* After the window, while x keeps talking, y cannot take over. */
	for (int i = 0; i < 12; i++) {
		raw_send(x, &lb, 1, (uint16_t)(2 + i), 160u * (1 + i), 0, "a",
			 1);
		spin(15);
	}
	raw_send(y, &lb, 1, 50, 160 * 50, 0, "h", 1);
	spin(10);
	cv_rtp_session_stats(b, &st);
	assert_int_equal(st.drop_address, 1);
	assert_true(((struct sockaddr_in *)&st.remote_rtp)->sin_port ==
		    xa.sin_port);
	/* x falls silent past latch_silence_ms: y may take over. */
	spin(200);
	raw_send(y, &lb, 1, 51, 160 * 51, 0, "h", 1);
	spin(10);
	cv_rtp_session_stats(b, &st);
	assert_int_equal(st.drop_address, 1);
	assert_true(((struct sockaddr_in *)&st.remote_rtp)->sin_port ==
		    ya.sin_port);
	close(x);
	close(y);
	cv_rtp_session_destroy(b);
	spin(2);
	assert_int_equal(cv_mem_live(), live);
}

static void test_mux_srtp(void **state)
{
	(void)state;
	int64_t live = cv_mem_live();
	enum cv_srtp_suite suites[] = {CV_SRTP_AES_CM_128_HMAC_SHA1_80,
				       CV_SRTP_AES_CM_128_HMAC_SHA1_32,
				       CV_SRTP_AEAD_AES_128_GCM,
				       CV_SRTP_AEAD_AES_256_GCM};
	for (size_t k = 0; k < 4; k++) {
		struct rx ra = {0}, rb = {0};
		struct cv_rtp_session *a = mk(&ra, true, 0, 0),
				      *b = mk(&rb, true, 0, 0);
		struct sockaddr_storage la, lb, lbc;
		local_of(a, &la, NULL);
		local_of(b, &lb, &lbc);
		(void)lbc;
		struct cv_srtp_key kab, kba;
		cv_srtp_key_generate(&kab, suites[k]);
		cv_srtp_key_generate(&kba, suites[k]);
		assert_int_equal(cv_rtp_session_set_srtp(a, &kab, &kba), 0);
		assert_int_equal(cv_rtp_session_set_srtp(b, &kba, &kab), 0);
		cv_rtp_session_set_remote(a, (struct sockaddr *)&lb, NULL);
		cv_rtp_session_set_remote(b, (struct sockaddr *)&la, NULL);
		for (unsigned i = 0; i < 10; i++)
			cv_rtp_send(a, &(struct cv_rtp_tx){.pt = 8,
							   .ts = 160 * i,
							   .payload = "secret",
							   .len = 6});
		wait_for(&rb.packets, 10);
		assert_int_equal(rb.packets, 10);
		assert_memory_equal(rb.last_payload, "secret", 6);
		/* RTCP over the muxed port, SRTCP-protected. */
		assert_int_equal(cv_rtp_send_rtcp(a, false), 0);
		wait_for(&rb.rtcp, 1);
		assert_int_equal(rb.rtcp, 1);
		/* A plain (unauthenticated) packet is dropped and counted. */
		struct sockaddr_in xa;
		int x = raw_sock(&xa);
		raw_send(x, &lb, 5, 5, 5, 8, "forged-forged", 13);
		spin(10);
		struct cv_rtp_stats st;
		cv_rtp_session_stats(b, &st);
		assert_int_equal(st.drop_auth, 1);
		assert_int_equal(rb.packets, 10);
		close(x);
		finish(a, b);
	}
	assert_int_equal(cv_mem_live(), live);
}

static void test_rtcp_timer(void **state)
{
	(void)state;
	int64_t live = cv_mem_live();
	struct rx ra = {0}, rb = {0};
	struct cv_rtp_params p = {
		.loop = &loop,
		.local_addr = "127.0.0.1",
		.rtcp_min_ms = 100,
		.session_bw = 1000000, /* 6250 B/s of RTCP: the minimum rules */
		.h = &handlers,
		.arg = &ra,
	};
	struct cv_rtp_session *a, *b;
	assert_int_equal(cv_rtp_session_create(&a, &p), 0);
	p.arg = &rb;
	assert_int_equal(cv_rtp_session_create(&b, &p), 0);
	struct sockaddr_storage la, lb;
	local_of(a, &la, NULL);
	local_of(b, &lb, NULL);
	cv_rtp_session_set_remote(a, (struct sockaddr *)&lb, NULL);
	cv_rtp_session_set_remote(b, (struct sockaddr *)&la, NULL);
	/* Randomised intervals of 100 ms * [0.5, 1.5] / 1.218: in 1 s,
	 * between about 6 and 25 reports each way. */
	spin(1000);
	assert_true(ra.rtcp >= 5 && ra.rtcp <= 25);
	assert_true(rb.rtcp >= 5 && rb.rtcp <= 25);
	finish(a, b);
	assert_int_equal(cv_mem_live(), live);
}

static void test_flood(void **state)
{
	(void)state;
	int64_t live = cv_mem_live();
	struct rx rb = {0};
	struct cv_rtp_session *b = mk(&rb, false, 0, 0);
	struct sockaddr_storage lb;
	local_of(b, &lb, NULL);
	struct sockaddr_in xa;
	int x = raw_sock(&xa);
	/* 30000 packets without letting the loop run: the socket buffer
	 * overflows; the kernel's drops are counted, the rest delivered, and
	 * the loop reads at most rx_budget per wake-up. */
	unsigned sent = 0;
	uint8_t pl[160] = {0};
	for (unsigned i = 0; i < 30000; i++) {
		uint8_t buf[200];
		size_t len;
		struct cv_rtp_hdr h = {
			.seq = (uint16_t)i, .ts = 160 * i, .ssrc = 3};
		cv_rtp_build(buf, sizeof(buf), &h, pl, sizeof(pl), &len);
		if (sendto(x, buf, len, 0, (struct sockaddr *)&lb, sizeof(xa)) >
		    0)
			sent++;
	}
	struct cv_rtp_stats st;
	spin(100);
	/* The kernel reports its drop count with the next datagram queued
	 * after the drops (SO_RXQ_OVFL). */
	raw_send(x, &lb, 3, 30000, 160 * 30000u, 0, "z", 1);
	sent++;
	spin(20);
	cv_rtp_session_stats(b, &st);
	assert_true(st.drop_flood > 0);
	assert_true(st.rx_packets > 0);
	/* Every datagram is accounted for; the last one is a sequence jump
	 * that A.1 holds back until confirmed. */
	assert_int_equal(st.rx_packets + st.drop_flood + 1, sent);
	close(x);
	cv_rtp_session_destroy(b);
	spin(2);
	assert_int_equal(cv_mem_live(), live);
}

static int setup(void **state)
{
	(void)state;
	return uv_loop_init(&loop);
}

static int teardown(void **state)
{
	(void)state;
	uv_run(&loop, UV_RUN_NOWAIT);
	return uv_loop_close(&loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pair_stats_rtcp),
		cmocka_unit_test(test_loss_tevent_ssrc),
		cmocka_unit_test(test_latch_guard),
		cmocka_unit_test(test_mux_srtp),
		cmocka_unit_test(test_rtcp_timer),
		cmocka_unit_test(test_flood),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
