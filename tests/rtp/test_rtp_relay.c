/* Media relay over loopback: forwarding both ways with latching, hijack
 * guard, SSRC/sequence/timestamp rewriting, RTCP (mux and not) with RTT,
 * per-leg statistics and MOS. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include "cvoip/rtp.h"

static uv_loop_t loop;
/* Every test runs twice: io_uring mode (skipped where the kernel or a
 * seccomp filter refuses io_uring) and epoll mode. */
static enum cv_rtp_relay_io io_mode;

static void spin(unsigned ms)
{
	for (unsigned i = 0; i < ms; i++) {
		uv_run(&loop, UV_RUN_NOWAIT);
		usleep(1000);
	}
	uv_run(&loop, UV_RUN_NOWAIT);
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

static void rtp_to(int fd, const struct sockaddr_storage *to, uint32_t ssrc,
		   uint16_t seq, uint32_t ts, uint8_t tag)
{
	uint8_t buf[64], pl[20];
	memset(pl, tag, sizeof(pl));
	size_t len;
	struct cv_rtp_hdr h = {.pt = 0, .seq = seq, .ts = ts, .ssrc = ssrc};
	cv_rtp_build(buf, sizeof(buf), &h, pl, sizeof(pl), &len);
	sendto(fd, buf, len, 0, (const struct sockaddr *)to,
	       sizeof(struct sockaddr_in));
}

/* Receive up to want packets (spinning the loop), parse them into out. */
static unsigned drain(int fd, struct cv_rtp_hdr *out, uint8_t *tags,
		      unsigned want)
{
	unsigned got = 0;
	static uint8_t bufs[256][64];
	for (int i = 0; i < 1000 && got < want; i++) {
		uv_run(&loop, UV_RUN_NOWAIT);
		ssize_t n = recv(fd, bufs[got % 256], 64, 0);
		if (n < 0) {
			usleep(1000);
			continue;
		}
		struct cv_rtp_pkt p;
		if (cv_rtp_is_rtcp(bufs[got % 256], (size_t)n))
			continue;
		assert_int_equal(cv_rtp_parse(&p, bufs[got % 256], (size_t)n),
				 0);
		if (out)
			out[got] = p.hdr;
		if (tags)
			tags[got] = p.payload[0];
		got++;
	}
	return got;
}

static struct cv_rtp_relay *mk_relay_ex(uint32_t window, uint32_t silence,
					const char *addr, bool no_connect)
{
	struct cv_rtp_relay *r;
	struct cv_rtp_relay_params p = {.loop = &loop,
					.local_addr = addr,
					.port_min = 40000,
					.port_max = 49999,
					.latch_window_ms = window,
					.latch_silence_ms = silence,
					.io = io_mode,
					.no_connect = no_connect};
	int err = cv_rtp_relay_create(&r, &p);
	if (err && io_mode == CV_RTP_RELAY_IO_URING)
		skip();
	assert_int_equal(err, 0);
	struct cv_rtp_relay_stats rs;
	cv_rtp_relay_stats(r, &rs);
	assert_int_equal(rs.uring, io_mode == CV_RTP_RELAY_IO_URING);
	return r;
}

static struct cv_rtp_relay *mk_relay(uint32_t window, uint32_t silence)
{
	return mk_relay_ex(window, silence, "127.0.0.1", false);
}

static void test_forward_both_ways(void **state)
{
	(void)state;
	int64_t live = cv_mem_live();
	/* Unconnected legs: every refused datagram reaches the relay and is
	 * counted (test_connect_settled covers connected legs). */
	struct cv_rtp_relay *r = mk_relay_ex(100, 150, "127.0.0.1", true);
	struct cv_rtp_relay_stream *st;
	assert_int_equal(cv_rtp_relay_stream_create(r, &st, NULL), 0);
	struct sockaddr_storage a_rtp, a_rtcp, b_rtp;
	cv_rtp_relay_stream_local(st, CV_RTP_RELAY_A, &a_rtp, &a_rtcp);
	cv_rtp_relay_stream_local(st, CV_RTP_RELAY_B, &b_rtp, NULL);
	struct sockaddr_in xa, ya, za;
	int x = raw_sock(&xa), y = raw_sock(&ya), z = raw_sock(&za);
	/* Leg B is signalled (y), leg A latches to whoever speaks first. */
	cv_rtp_relay_stream_set_remote(st, CV_RTP_RELAY_B,
				       (struct sockaddr *)&ya, NULL);
	/* Before A latched, what y sends has nowhere to go. */
	rtp_to(y, &b_rtp, 77, 1, 0, 0xee);
	spin(5);
	struct cv_rtp_relay_leg_stats ls;
	cv_rtp_relay_stream_stats(st, CV_RTP_RELAY_A, &ls);
	assert_int_equal(ls.drop_nodest, 1);
	struct cv_rtp_hdr h[64];
	uint8_t tags[64];
	/* A -> B, with 2 of 30 lost on the way in. */
	for (unsigned i = 0; i < 30; i++) {
		if (i == 10 || i == 20)
			continue;
		rtp_to(x, &a_rtp, 0x1111, (uint16_t)(65530 + i), 160 * i,
		       (uint8_t)i);
	}
	assert_int_equal(drain(y, h, tags, 28), 28);
	assert_int_equal(h[0].ssrc, 0x1111); /* no rewriting */
	assert_int_equal(tags[27], 29);
	/* B -> A goes to the latched x. */
	for (unsigned i = 0; i < 10; i++)
		rtp_to(y, &b_rtp, 0x2222, (uint16_t)i, 160 * i,
		       (uint8_t)(100 + i));
	assert_int_equal(drain(x, h, tags, 10), 10);
	assert_int_equal(h[9].ssrc, 0x2222);
	assert_int_equal(tags[0], 100);
	cv_rtp_relay_stream_stats(st, CV_RTP_RELAY_A, &ls);
	assert_int_equal(ls.rx_packets, 28);
	assert_int_equal(ls.lost, 2);
	assert_true(ls.loss_pct > 6.6 && ls.loss_pct < 6.7);
	assert_int_equal(ls.tx_packets, 10);
	assert_true(ls.latched);
	assert_true(((struct sockaddr_in *)&ls.remote_rtp)->sin_port ==
		    xa.sin_port);
	assert_true(ls.mos > 1 && ls.mos < 4.2);
	struct cv_rtp_relay_leg_stats lb;
	cv_rtp_relay_stream_stats(st, CV_RTP_RELAY_B, &lb);
	assert_int_equal(lb.tx_packets, 28);
	assert_int_equal(lb.rx_packets,
			 11); /* with the one dropped for no destination */
	assert_int_equal(lb.lost, 0);
	assert_true(lb.mos > 4.3);
	/* Hijack: after the window, z cannot take leg A while x talks. */
	for (unsigned i = 30; i < 40; i++) {
		rtp_to(x, &a_rtp, 0x1111, (uint16_t)(65530 + i), 160 * i, 1);
		spin(15);
	}
	rtp_to(z, &a_rtp, 0x9999, 1, 1, 0x66);
	spin(10);
	cv_rtp_relay_stream_stats(st, CV_RTP_RELAY_A, &ls);
	assert_int_equal(ls.drop_address, 1);
	assert_int_equal(drain(y, NULL, NULL, 10), 10); /* x's, not z's */
	/* Its RTCP from a foreign host port is dropped as well... */
	uint8_t rr[8] = {0x80, 201, 0, 1, 0, 0, 0, 9};
	sendto(z, rr, 8, 0, (struct sockaddr *)&a_rtcp, sizeof(za));
	/* ...while x's own RTCP (same host, any port) is accepted. */
	sendto(x, rr, 8, 0, (struct sockaddr *)&a_rtcp, sizeof(xa));
	spin(10);
	cv_rtp_relay_stream_stats(st, CV_RTP_RELAY_A, &ls);
	assert_int_equal(ls.rtcp_rx, 2); /* z shares 127.0.0.1 with x */
	/* x falls silent: z may take over. */
	spin(200);
	rtp_to(z, &a_rtp, 0x9999, 1, 1, 0x66);
	assert_int_equal(drain(y, h, tags, 1), 1);
	assert_int_equal(tags[0], 0x66);
	struct cv_rtp_relay_stats rs;
	cv_rtp_relay_stats(r, &rs);
	assert_int_equal(rs.streams, 1);
	assert_true(rs.forwarded >= 48);
	assert_int_equal(rs.connects, 0);
	cv_rtp_relay_stream_stats(st, CV_RTP_RELAY_A, &ls);
	assert_false(ls.connected);
	close(x);
	close(y);
	close(z);
	cv_rtp_relay_destroy(r);
	spin(2);
	assert_int_equal(cv_mem_live(), live);
}

static struct cv_rtp_relay_leg_stats leg_stats(struct cv_rtp_relay_stream *st,
					       enum cv_rtp_relay_leg leg)
{
	struct cv_rtp_relay_leg_stats ls;
	assert_int_equal(cv_rtp_relay_stream_stats(st, leg, &ls), 0);
	return ls;
}

/* x talks to leg A every few ms for `ms` milliseconds; y drains. */
static void talk(int x, const struct sockaddr_storage *to, uint16_t *seq, int y,
		 unsigned ms)
{
	for (unsigned t = 0; t < ms; t += 10) {
		rtp_to(x, to, 0x1111, *seq, 160u * *seq, 1);
		(*seq)++;
		spin(10);
		assert_int_equal(drain(y, NULL, NULL, 1), 1);
	}
}

/* Connected legs: a leg whose RTP came from its latched address after the
 * latch window is connect()ed; then a third address is dropped by the
 * kernel (never reaches the relay), ICMP errors from the peer do not stop
 * the leg, silence disconnects it so that a new source can latch (and the
 * new source is connected in turn), set_remote disconnects, and relays on
 * a wildcard address never connect. */
static void test_connect_settled(void **state)
{
	(void)state;
	int64_t live = cv_mem_live();
	/* A window long enough that the first packet is surely inside it,
	 * even on a loaded machine. */
	struct cv_rtp_relay *r = mk_relay(500, 600);
	struct cv_rtp_relay_stream *st;
	struct cv_rtp_relay_stream_params sp = {.rtcp_mux = {true, false}};
	assert_int_equal(cv_rtp_relay_stream_create(r, &st, &sp), 0);
	struct sockaddr_storage a_rtp, b_rtp;
	cv_rtp_relay_stream_local(st, CV_RTP_RELAY_A, &a_rtp, NULL);
	cv_rtp_relay_stream_local(st, CV_RTP_RELAY_B, &b_rtp, NULL);
	struct sockaddr_in xa, ya, za;
	int x = raw_sock(&xa), y = raw_sock(&ya), z = raw_sock(&za);
	cv_rtp_relay_stream_set_remote(st, CV_RTP_RELAY_B,
				       (struct sockaddr *)&ya, NULL);
	/* Inside the window: latched, not connected (latching is free). */
	uint16_t seq = 1;
	rtp_to(x, &a_rtp, 0x1111, seq, 160u * seq, 1);
	seq++;
	assert_int_equal(drain(y, NULL, NULL, 1), 1);
	struct cv_rtp_relay_leg_stats ls = leg_stats(st, CV_RTP_RELAY_A);
	assert_true(ls.latched);
	assert_false(ls.connected);
	/* x keeps talking past the window: leg A settles and connects. */
	usleep(520000);
	talk(x, &a_rtp, &seq, y, 30);
	ls = leg_stats(st, CV_RTP_RELAY_A);
	assert_true(ls.connected);
	assert_int_equal(((struct sockaddr_in *)&ls.remote_rtp)->sin_port,
			 xa.sin_port);
	/* Leg B was signalled (y) but has heard nothing: not connected. */
	assert_false(leg_stats(st, CV_RTP_RELAY_B).connected);
	/* y talks from the signalled address: B connects; B -> A leaves
	 * through A's connected socket (no address) and reaches x. */
	for (uint16_t i = 0; i < 3; i++)
		rtp_to(y, &b_rtp, 0x2222, i, 160u * i, (uint8_t)(0x40 + i));
	uint8_t tags[8];
	assert_int_equal(drain(x, NULL, tags, 3), 3);
	assert_int_equal(tags[2], 0x42);
	assert_true(leg_stats(st, CV_RTP_RELAY_B).connected);
	/* mux RTCP from x through the connected socket is forwarded. */
	uint8_t rr[8] = {0x80, 201, 0, 1, 0, 0, 0x11, 0x11};
	sendto(x, rr, 8, 0, (struct sockaddr *)&a_rtp, sizeof(xa));
	spin(10);
	assert_int_equal(leg_stats(st, CV_RTP_RELAY_A).rtcp_rx, 1);
	/* z (same host, another port) tries to take leg A: the kernel drops
	 * it (not counted by the relay), and x's stream goes on alone. */
	rtp_to(z, &a_rtp, 0x9999, 1, 1, 0x66);
	talk(x, &a_rtp, &seq, y, 20);
	ls = leg_stats(st, CV_RTP_RELAY_A);
	assert_int_equal(ls.drop_address, 0);
	assert_int_equal(((struct sockaddr_in *)&ls.remote_rtp)->sin_port,
			 xa.sin_port);
	uint8_t buf[64];
	assert_true(recv(y, buf, sizeof(buf), 0) < 0); /* nothing of z's */
	/* y goes away: what A sends on to it draws ICMP port unreachable
	 * errors onto B's connected socket. B keeps receiving once y is
	 * back on the same port. */
	close(y);
	for (int i = 0; i < 3; i++) {
		rtp_to(x, &a_rtp, 0x1111, seq, 160u * seq, 1);
		seq++;
		spin(5);
	}
	y = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	assert_int_equal(bind(y, (struct sockaddr *)&ya, sizeof(ya)), 0);
	for (uint16_t i = 3; i < 6; i++)
		rtp_to(y, &b_rtp, 0x2222, i, 160u * i, (uint8_t)(0x40 + i));
	assert_int_equal(drain(x, NULL, tags, 3), 3);
	assert_int_equal(tags[2], 0x45);
	talk(x, &a_rtp, &seq, y, 20);
	/* x falls silent: after latch_silence_ms leg A is disconnected and
	 * z may take over; z is connected at once (the window is over). */
	for (int i = 0; i < 400 && leg_stats(st, CV_RTP_RELAY_A).connected; i++)
		spin(10);
	ls = leg_stats(st, CV_RTP_RELAY_A);
	assert_false(ls.connected);
	struct cv_rtp_relay_stats rs;
	cv_rtp_relay_stats(r, &rs);
	assert_true(rs.disconnects >= 1);
	rtp_to(z, &a_rtp, 0x9999, 2, 2, 0x67);
	assert_int_equal(drain(y, NULL, tags, 1), 1);
	assert_int_equal(tags[0], 0x67);
	ls = leg_stats(st, CV_RTP_RELAY_A);
	assert_true(ls.connected);
	assert_int_equal(((struct sockaddr_in *)&ls.remote_rtp)->sin_port,
			 za.sin_port);
	/* ...and now x is the stranger. */
	rtp_to(x, &a_rtp, 0x1111, seq, 160u * seq, 1);
	spin(10);
	assert_true(recv(y, buf, sizeof(buf), 0) < 0);
	/* y speaks again: B (disconnected by the silence) connects again,
	 * and its packet reaches z, A's new peer. A new offer/answer for B
	 * then reopens its latching: disconnected at once. */
	rtp_to(y, &b_rtp, 0x2222, 6, 960, 0x46);
	assert_int_equal(drain(z, NULL, tags, 1), 1);
	assert_int_equal(tags[0], 0x46);
	assert_true(leg_stats(st, CV_RTP_RELAY_B).connected);
	cv_rtp_relay_stream_set_remote(st, CV_RTP_RELAY_B,
				       (struct sockaddr *)&ya, NULL);
	assert_false(leg_stats(st, CV_RTP_RELAY_B).connected);
	cv_rtp_relay_stats(r, &rs);
	assert_true(rs.connects >= 3);
	assert_true(rs.disconnects >= 2);
	cv_rtp_relay_destroy(r);
	spin(2);
	/* A wildcard relay never connects. */
	r = mk_relay_ex(10, 1000, "0.0.0.0", false);
	assert_int_equal(cv_rtp_relay_stream_create(r, &st, NULL), 0);
	cv_rtp_relay_stream_local(st, CV_RTP_RELAY_A, &a_rtp, NULL);
	((struct sockaddr_in *)&a_rtp)->sin_addr.s_addr =
		htonl(INADDR_LOOPBACK);
	cv_rtp_relay_stream_set_remote(st, CV_RTP_RELAY_B,
				       (struct sockaddr *)&ya, NULL);
	usleep(20000);
	talk(x, &a_rtp, &seq, y, 30);
	assert_true(leg_stats(st, CV_RTP_RELAY_A).latched);
	assert_false(leg_stats(st, CV_RTP_RELAY_A).connected);
	cv_rtp_relay_stats(r, &rs);
	assert_int_equal(rs.connects, 0);
	close(x);
	close(y);
	close(z);
	cv_rtp_relay_destroy(r);
	spin(2);
	assert_int_equal(cv_mem_live(), live);
}

static void test_rewrite_rtcp_rtt(void **state)
{
	(void)state;
	int64_t live = cv_mem_live();
	struct cv_rtp_relay *r = mk_relay(0, 0);
	struct cv_rtp_relay_stream *st;
	struct cv_rtp_relay_stream_params sp = {.rtcp_mux = {true, true},
						.rewrite = {false, true}};
	assert_int_equal(cv_rtp_relay_stream_create(r, &st, &sp), 0);
	struct sockaddr_storage a_rtp, a_rtcp, b_rtp;
	cv_rtp_relay_stream_local(st, CV_RTP_RELAY_A, &a_rtp, &a_rtcp);
	cv_rtp_relay_stream_local(st, CV_RTP_RELAY_B, &b_rtp, NULL);
	struct sockaddr_in xa, ya;
	int x = raw_sock(&xa), y = raw_sock(&ya);
	cv_rtp_relay_stream_set_remote(st, CV_RTP_RELAY_A,
				       (struct sockaddr *)&xa, NULL);
	cv_rtp_relay_stream_set_remote(st, CV_RTP_RELAY_B,
				       (struct sockaddr *)&ya, NULL);
	struct cv_rtp_hdr h[32];
	for (unsigned i = 0; i < 5; i++)
		rtp_to(x, &a_rtp, 0xaaaa, (uint16_t)(1000 + i), 8000 + 160 * i,
		       0);
	assert_int_equal(drain(y, h, NULL, 5), 5);
	uint32_t out_ssrc = h[0].ssrc;
	assert_int_not_equal(out_ssrc, 0xaaaa);
	for (unsigned i = 1; i < 5; i++) {
		assert_int_equal(h[i].ssrc, out_ssrc);
		assert_int_equal((uint16_t)(h[i].seq - h[0].seq), i);
		assert_int_equal(h[i].ts - h[0].ts, 160 * i);
	}
	/* The source restarts with a new SSRC, sequence and timestamp: the
	 * far end sees one continuous stream. */
	uint16_t last_seq = h[4].seq;
	uint32_t last_ts = h[4].ts;
	spin(20);
	for (unsigned i = 0; i < 5; i++)
		rtp_to(x, &a_rtp, 0xbbbb, (uint16_t)(7 + i), 123456 + 160 * i,
		       0);
	assert_int_equal(drain(y, h, NULL, 5), 5);
	assert_int_equal(h[0].ssrc, out_ssrc);
	assert_int_equal(h[0].seq, (uint16_t)(last_seq + 1));
	assert_true(h[0].ts - last_ts >= 100 && h[0].ts - last_ts < 8000);
	/* RTCP: x sends an SR (mux); y gets it with the rewritten sender SSRC
	 * and answers with an RR whose block names out_ssrc: x must see its
	 * own SSRC there, and the relay learns leg B's RTT. */
	struct cv_rtcp_compound c = {.ssrc = 0xbbbb, .has_sr = true};
	c.si.ntp = 0x0000123456780000ull;
	uint8_t buf[256];
	size_t len;
	cv_rtcp_build(buf, sizeof(buf), &c, &len);
	sendto(x, buf, len, 0, (struct sockaddr *)&a_rtp, sizeof(xa));
	ssize_t n = -1;
	for (int i = 0; i < 500 && n < 0; i++) {
		uv_run(&loop, UV_RUN_NOWAIT);
		n = recv(y, buf, sizeof(buf), 0);
		if (n < 0)
			usleep(1000);
	}
	assert_true(n > 0);
	struct cv_rtcp_compound d;
	assert_int_equal(cv_rtcp_parse(&d, buf, (size_t)n, false), 0);
	assert_true(d.has_sr);
	assert_int_equal(d.ssrc, out_ssrc);
	usleep(20000);
	struct cv_rtcp_compound rrc = {.ssrc = 0x5555, .n_rb = 1};
	rrc.rb[0].ssrc = out_ssrc;
	rrc.rb[0].lsr = cv_rtcp_ntp_mid32(c.si.ntp);
	rrc.rb[0].dlsr = 65536 / 100; /* 10 ms of the 20 ms were ours */
	cv_rtcp_build(buf, sizeof(buf), &rrc, &len);
	sendto(y, buf, len, 0, (struct sockaddr *)&b_rtp, sizeof(ya));
	n = -1;
	for (int i = 0; i < 500 && n < 0; i++) {
		uv_run(&loop, UV_RUN_NOWAIT);
		n = recv(x, buf, sizeof(buf), 0);
		if (n < 0)
			usleep(1000);
	}
	assert_true(n > 0);
	assert_int_equal(cv_rtcp_parse(&d, buf, (size_t)n, false), 0);
	assert_int_equal(d.rb[0].ssrc, 0xbbbb);
	struct cv_rtp_relay_leg_stats lb;
	cv_rtp_relay_stream_stats(st, CV_RTP_RELAY_B, &lb);
	assert_true(lb.rtt_ms >= 5 && lb.rtt_ms < 200);
	assert_int_equal(lb.rtcp_rx, 1);
	assert_int_equal(lb.rtcp_tx, 1);
	close(x);
	close(y);
	cv_rtp_relay_destroy(r);
	spin(2);
	assert_int_equal(cv_mem_live(), live);
}

static void test_many_streams_garbage(void **state)
{
	(void)state;
	int64_t live = cv_mem_live();
	struct cv_rtp_relay *r = mk_relay(0, 0);
	enum { N = 50 };
	struct cv_rtp_relay_stream *st[N];
	struct sockaddr_storage a[N];
	struct sockaddr_in ya;
	int x = raw_sock(&ya), y = raw_sock(&ya);
	for (int i = 0; i < N; i++) {
		assert_int_equal(cv_rtp_relay_stream_create(r, &st[i], NULL),
				 0);
		cv_rtp_relay_stream_local(st[i], CV_RTP_RELAY_A, &a[i], NULL);
		cv_rtp_relay_stream_set_remote(st[i], CV_RTP_RELAY_B,
					       (struct sockaddr *)&ya, NULL);
	}
	/* Junk first: short, wrong version, STUN-like; nothing forwarded. */
	uint8_t junk[4] = {0x80, 0, 0, 0};
	sendto(x, junk, 4, 0, (struct sockaddr *)&a[0], sizeof(ya));
	junk[0] = 0x01;
	sendto(x, junk, 4, 0, (struct sockaddr *)&a[0], sizeof(ya));
	for (int k = 0; k < 4; k++)
		for (int i = 0; i < N; i++)
			rtp_to(x, &a[i], (uint32_t)i, (uint16_t)k, 160u * k,
			       (uint8_t)i);
	assert_int_equal(drain(y, NULL, NULL, 4 * N), 4 * N);
	struct cv_rtp_relay_leg_stats ls;
	cv_rtp_relay_stream_stats(st[0], CV_RTP_RELAY_A, &ls);
	assert_int_equal(ls.drop_malformed, 2);
	assert_int_equal(ls.rx_packets, 4);
	/* Destroy half the streams; the rest keep working. */
	for (int i = 0; i < N; i += 2)
		cv_rtp_relay_stream_destroy(st[i]);
	for (int i = 1; i < N; i += 2)
		rtp_to(x, &a[i], (uint32_t)i, 4, 640, 1);
	assert_int_equal(drain(y, NULL, NULL, N / 2), N / 2);
	close(x);
	close(y);
	cv_rtp_relay_destroy(r);
	spin(2);
	assert_int_equal(cv_mem_live(), live);
}

/* A burst larger than any batch on one stream, then a flood on many
 * streams beyond the relay's buffers: everything is either forwarded or
 * accounted for, and the relay keeps forwarding afterwards (in io_uring
 * mode a multishot receive that ran out of buffers is armed again). */
static void test_burst_and_flood(void **state)
{
	(void)state;
	int64_t live = cv_mem_live();
	struct cv_rtp_relay *r = mk_relay(0, 0);
	/* N x FLOOD is more than io_uring mode's 8192 provided buffers. */
	enum { N = 40, BURST = 200, FLOOD = 250 };
	struct cv_rtp_relay_stream *st[N];
	struct sockaddr_storage a[N];
	struct sockaddr_in ya, xa;
	int x = raw_sock(&xa), y = raw_sock(&ya);
	int big = 32 << 20;
	setsockopt(y, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
	for (int i = 0; i < N; i++) {
		assert_int_equal(cv_rtp_relay_stream_create(r, &st[i], NULL),
				 0);
		cv_rtp_relay_stream_local(st[i], CV_RTP_RELAY_A, &a[i], NULL);
		cv_rtp_relay_stream_set_remote(st[i], CV_RTP_RELAY_B,
					       (struct sockaddr *)&ya, NULL);
	}
	spin(2);
	for (int k = 0; k < BURST; k++)
		rtp_to(x, &a[0], 1, (uint16_t)k, 160u * k, 1);
	assert_int_equal(drain(y, NULL, NULL, BURST), BURST);
	/* Flood: N x FLOOD datagrams without running the loop. */
	for (int k = 0; k < FLOOD; k++)
		for (int i = 0; i < N; i++)
			rtp_to(x, &a[i], 100u + (uint32_t)i,
			       (uint16_t)(1000 + k), 0, 2);
	unsigned got = drain(y, NULL, NULL, N * FLOOD);
	spin(20);
	while (drain(y, NULL, NULL, 1) == 1)
		got++;
	uint64_t rx = 0, tx = 0, err = 0;
	for (int i = 0; i < N; i++) {
		struct cv_rtp_relay_leg_stats la, lb;
		cv_rtp_relay_stream_stats(st[i], CV_RTP_RELAY_A, &la);
		cv_rtp_relay_stream_stats(st[i], CV_RTP_RELAY_B, &lb);
		rx += la.rx_packets;
		tx += lb.tx_packets;
		err += lb.tx_errors;
	}
	/* What the kernel took into the relay's sockets was forwarded or
	 * counted as a send error; what arrived was what was sent. */
	assert_int_equal(rx, BURST + tx - BURST + err);
	assert_int_equal(tx, BURST + (uint64_t)got);
	assert_true(got > 0);
	/* io_uring mode: the buffer ring ran dry, the starved sockets were
	 * drained directly and their receives armed again. */
	struct cv_rtp_relay_stats rs;
	cv_rtp_relay_stats(r, &rs);
	if (rs.uring)
		assert_true(rs.rearms > 0);
	/* Still forwarding on every stream. */
	for (int i = 0; i < N; i++)
		rtp_to(x, &a[i], 100u + (uint32_t)i, 5000, 0, 3);
	uint8_t tags[N];
	assert_int_equal(drain(y, NULL, tags, N), N);
	close(x);
	close(y);
	cv_rtp_relay_destroy(r);
	spin(2);
	assert_int_equal(cv_mem_live(), live);
}

/* ---- SRTP terminated in the relay ---------------------------------------- */

static void srtp_to(int fd, const struct sockaddr_storage *to,
		    struct cv_srtp *tx, uint32_t ssrc, uint16_t seq,
		    uint8_t tag)
{
	uint8_t buf[64 + CV_SRTP_MAX_TRAILER], pl[20];
	memset(pl, tag, sizeof(pl));
	size_t len;
	struct cv_rtp_hdr h = {
		.pt = 0, .seq = seq, .ts = 160u * seq, .ssrc = ssrc};
	cv_rtp_build(buf, sizeof(buf), &h, pl, sizeof(pl), &len);
	if (tx)
		assert_int_equal(cv_srtp_protect(tx, buf, &len, sizeof(buf)),
				 0);
	sendto(fd, buf, len, 0, (const struct sockaddr *)to,
	       sizeof(struct sockaddr_in));
}

/* One packet from fd (spinning the loop): its payload tag, or -1. With rx,
 * it must be SRTP that authenticates; without, plain RTP. */
static int recv_tag(int fd, struct cv_srtp *rx)
{
	uint8_t buf[256];
	for (int i = 0; i < 1000; i++) {
		uv_run(&loop, UV_RUN_NOWAIT);
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0) {
			usleep(1000);
			continue;
		}
		size_t len = (size_t)n;
		if (cv_rtp_is_rtcp(buf, len))
			continue;
		if (rx && cv_srtp_unprotect(rx, buf, &len))
			return -2;
		struct cv_rtp_pkt p;
		if (cv_rtp_parse(&p, buf, len) || p.payload_len != 20)
			return -3;
		return p.payload[0];
	}
	return -1;
}

static void test_srtp_bridge(void **state)
{
	(void)state;
	int64_t live = cv_mem_live();
	struct cv_rtp_relay *r = mk_relay(3000, 2000);
	struct cv_rtp_relay_stream *st;
	struct cv_rtp_relay_stream_params sp = {.rtcp_mux = {true, true}};
	assert_int_equal(cv_rtp_relay_stream_create(r, &st, &sp), 0);
	struct sockaddr_storage a_rtp, b_rtp;
	cv_rtp_relay_stream_local(st, CV_RTP_RELAY_A, &a_rtp, NULL);
	cv_rtp_relay_stream_local(st, CV_RTP_RELAY_B, &b_rtp, NULL);
	struct sockaddr_in xa, ya;
	int x = raw_sock(&xa), y = raw_sock(&ya);
	cv_rtp_relay_stream_set_remote(st, CV_RTP_RELAY_A,
				       (struct sockaddr *)&xa, NULL);
	cv_rtp_relay_stream_set_remote(st, CV_RTP_RELAY_B,
				       (struct sockaddr *)&ya, NULL);
	/* x speaks SDES with the relay (its key ka, the relay's ka2); y is
	 * plain at first. */
	struct cv_srtp_key ka, ka2, kb, kb2;
	cv_srtp_key_generate(&ka, CV_SRTP_AES_CM_128_HMAC_SHA1_80);
	cv_srtp_key_generate(&ka2, CV_SRTP_AES_CM_128_HMAC_SHA1_80);
	cv_srtp_key_generate(&kb, CV_SRTP_AEAD_AES_128_GCM);
	cv_srtp_key_generate(&kb2, CV_SRTP_AEAD_AES_128_GCM);
	assert_int_equal(
		cv_rtp_relay_stream_set_srtp(st, CV_RTP_RELAY_A, &ka, &ka2), 0);
	struct cv_srtp *x_tx, *x_rx, *y_tx, *y_rx;
	assert_int_equal(cv_srtp_create(&x_tx, &ka, true), 0);
	assert_int_equal(cv_srtp_create(&x_rx, &ka2, false), 0);
	assert_int_equal(cv_srtp_create(&y_tx, &kb, true), 0);
	assert_int_equal(cv_srtp_create(&y_rx, &kb2, false), 0);
	/* SDES -> plain and plain -> SDES */
	for (uint16_t k = 0; k < 3; k++) {
		srtp_to(x, &a_rtp, x_tx, 11, k, (uint8_t)(0x10 + k));
		assert_int_equal(recv_tag(y, NULL), 0x10 + k);
		srtp_to(y, &b_rtp, NULL, 22, k, (uint8_t)(0x20 + k));
		assert_int_equal(recv_tag(x, x_rx), 0x20 + k);
	}
	/* SRTCP from x arrives at y as plain RTCP (rtcp-mux legs). */
	{
		uint8_t buf[256];
		size_t len;
		struct cv_rtcp_compound c = {.ssrc = 11, .has_sr = true};
		assert_int_equal(cv_rtcp_build(buf, 128, &c, &len), 0);
		assert_int_equal(
			cv_srtp_protect_rtcp(x_tx, buf, &len, sizeof(buf)), 0);
		sendto(x, buf, len, 0, (struct sockaddr *)&a_rtp, sizeof(xa));
		ssize_t n = -1;
		for (int i = 0; i < 1000 && n < 0; i++) {
			uv_run(&loop, UV_RUN_NOWAIT);
			n = recv(y, buf, sizeof(buf), 0);
			if (n < 0)
				usleep(1000);
		}
		assert_true(n > 0);
		struct cv_rtcp_compound got;
		assert_int_equal(cv_rtcp_parse(&got, buf, (size_t)n, false), 0);
		assert_int_equal(got.ssrc, 11);
	}
	/* A forged packet (plain, or with the wrong key) is dropped and
	 * counted, and cannot move the latch. */
	struct sockaddr_in za;
	int z = raw_sock(&za);
	srtp_to(z, &a_rtp, NULL, 11, 50, 0x66);
	srtp_to(x, &a_rtp, y_tx, 11, 51, 0x66);
	spin(5);
	struct cv_rtp_relay_leg_stats la;
	cv_rtp_relay_stream_stats(st, CV_RTP_RELAY_A, &la);
	assert_int_equal(la.drop_auth, 2);
	assert_int_equal(la.rx_packets, 3);
	struct sockaddr_in lat;
	memcpy(&lat, &la.remote_rtp, sizeof(lat));
	assert_int_equal(lat.sin_port, xa.sin_port);
	/* SDES <-> SDES with different keys and suites on both legs. */
	assert_int_equal(
		cv_rtp_relay_stream_set_srtp(st, CV_RTP_RELAY_B, &kb, &kb2), 0);
	for (uint16_t k = 3; k < 6; k++) {
		srtp_to(x, &a_rtp, x_tx, 11, k, (uint8_t)(0x30 + k));
		assert_int_equal(recv_tag(y, y_rx), 0x30 + k);
		srtp_to(y, &b_rtp, y_tx, 22, k, (uint8_t)(0x40 + k));
		assert_int_equal(recv_tag(x, x_rx), 0x40 + k);
	}
	struct cv_rtp_relay_leg_stats lb;
	cv_rtp_relay_stream_stats(st, CV_RTP_RELAY_B, &lb);
	assert_int_equal(lb.rx_packets, 6);
	assert_int_equal(lb.tx_packets, 6);
	assert_int_equal(lb.drop_auth, 0);
	/* Keys off again: plain both ways. */
	assert_int_equal(
		cv_rtp_relay_stream_set_srtp(st, CV_RTP_RELAY_A, NULL, NULL),
		0);
	assert_int_equal(
		cv_rtp_relay_stream_set_srtp(st, CV_RTP_RELAY_B, NULL, NULL),
		0);
	srtp_to(x, &a_rtp, NULL, 11, 9, 0x77);
	assert_int_equal(recv_tag(y, NULL), 0x77);
	struct cv_srtp_key bad = ka;
	bad.len = 3;
	assert_int_equal(
		cv_rtp_relay_stream_set_srtp(st, CV_RTP_RELAY_A, &bad, NULL),
		-EINVAL);
	cv_srtp_destroy(x_tx);
	cv_srtp_destroy(x_rx);
	cv_srtp_destroy(y_tx);
	cv_srtp_destroy(y_rx);
	close(x);
	close(y);
	close(z);
	cv_rtp_relay_destroy(r);
	spin(2);
	assert_int_equal(cv_mem_live(), live);
}

static int setup(void **state)
{
	(void)state;
	return uv_loop_init(&loop);
}

static int mode_uring(void **state)
{
	(void)state;
	io_mode = CV_RTP_RELAY_IO_URING;
	return 0;
}

static int mode_epoll(void **state)
{
	(void)state;
	io_mode = CV_RTP_RELAY_IO_EPOLL;
	return 0;
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
#define BOTH(t)                                                                \
	cmocka_unit_test_setup(t, mode_uring),                                 \
		cmocka_unit_test_setup(t, mode_epoll)
		BOTH(test_forward_both_ways),	 BOTH(test_rewrite_rtcp_rtt),
		BOTH(test_many_streams_garbage), BOTH(test_burst_and_flood),
		BOTH(test_srtp_bridge),		 BOTH(test_connect_settled),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
