/* RTP header (RFC 3550 §5.1) + RFC 4733 payload + reception statistics +
 * jitter buffer on hostile input. A valid packet must rebuild to the same
 * bytes' meaning. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "cvoip/rtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_packet(struct cv_rtp_session *s, const struct cv_rtp_pkt *p,
		      void *arg)
{
	(void)s;
	(void)arg;
	if (p->payload_len > CV_RTP_MAX_PACKET)
		abort();
}

static void on_tevent(struct cv_rtp_session *s, const struct cv_rtp_tevent *ev,
		      uint32_t ts, bool is_new, void *arg)
{
	(void)s;
	(void)ts;
	(void)is_new;
	(void)arg;
	if (ev->volume > 63)
		abort();
}

static const struct cv_rtp_handlers handlers = {.packet = on_packet,
						.tevent = on_tevent};

/* One long-lived session (rtcp-mux, events on PT 101) fed every input as
 * a datagram from one of two addresses: latching, SSRC switching,
 * statistics and RTCP handling see hostile data in any order. */
static struct cv_rtp_session *session(void)
{
	static uv_loop_t loop;
	static struct cv_rtp_session *s;
	if (!s) {
		uv_loop_init(&loop);
		struct cv_rtp_params p = {.loop = &loop,
					  .local_addr = "127.0.0.1",
					  .rtcp_mux = true,
					  .tevent_pt = 101,
					  .rtcp_disable = true,
					  .h = &handlers};
		if (cv_rtp_session_create(&s, &p))
			abort();
	}
	return s;
}

/* One long-lived relay stream: leg A terminates SRTP (fixed keys, so
 * nearly every input fails authentication there), leg B is plain with
 * SSRC/sequence/timestamp rewriting and rtcp-mux; both legs have a
 * signalled remote (a discard port), so packets are forwarded too. */
static struct cv_rtp_relay_stream *relay_stream(void)
{
	static uv_loop_t loop;
	static struct cv_rtp_relay *r;
	static struct cv_rtp_relay_stream *st;
	if (!st) {
		uv_loop_init(&loop);
		struct cv_rtp_relay_params p = {.loop = &loop,
						.local_addr = "127.0.0.1"};
		struct cv_rtp_relay_stream_params sp = {
			.rtcp_mux = {false, true}, .rewrite = {true, true}};
		if (cv_rtp_relay_create(&r, &p) ||
		    cv_rtp_relay_stream_create(r, &st, &sp))
			abort();
		struct cv_srtp_key k = {
			.suite = CV_SRTP_AES_CM_128_HMAC_SHA1_80, .len = 30};
		memset(k.key, 0x5a, sizeof(k.key));
		if (cv_rtp_relay_stream_set_srtp(st, CV_RTP_RELAY_A, &k, &k))
			abort();
		struct sockaddr_in d = {.sin_family = AF_INET,
					.sin_port = htons(9)};
		d.sin_addr.s_addr = htonl(0x7f000001);
		cv_rtp_relay_stream_set_remote(st, CV_RTP_RELAY_A,
					       (struct sockaddr *)&d, NULL);
		cv_rtp_relay_stream_set_remote(st, CV_RTP_RELAY_B,
					       (struct sockaddr *)&d, NULL);
	}
	return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cv_rtp_pkt p;
	if (size <= 65536 && cv_rtp_parse(&p, data, size) == 0) {
		if (p.payload + p.payload_len + p.hdr.pad_len != data + size)
			abort();
		uint8_t buf[70000];
		size_t len;
		if (cv_rtp_build(buf, sizeof(buf), &p.hdr, p.payload,
				 p.payload_len, &len) != 0)
			abort();
		struct cv_rtp_pkt q;
		if (cv_rtp_parse(&q, buf, len) != 0 || q.hdr.seq != p.hdr.seq ||
		    q.hdr.ts != p.hdr.ts || q.hdr.ssrc != p.hdr.ssrc ||
		    q.hdr.cc != p.hdr.cc || q.payload_len != p.payload_len ||
		    q.hdr.ext_len != p.hdr.ext_len ||
		    memcmp(q.payload, p.payload, p.payload_len))
			abort();
		struct cv_rtp_tevent ev;
		if (cv_rtp_tevent_parse(&ev, p.payload, p.payload_len) == 0) {
			uint8_t b[4];
			if (cv_rtp_tevent_build(b, 4, &ev) ||
			    b[0] != p.payload[0] ||
			    (b[1] & 0xbf) != (p.payload[1] & 0xbf))
				abort();
		}
	}
	if (size <= CV_RTP_MAX_PACKET) {
		uint8_t copy[CV_RTP_MAX_PACKET];
		if (size)
			memcpy(copy, data, size);
		struct sockaddr_in from = {
			.sin_family = AF_INET,
			.sin_port = htons(size & 1 ? 4000 : 4002)};
		from.sin_addr.s_addr = htonl(0x7f000001);
		cv_rtp_session_input(session(), copy, size,
				     (const struct sockaddr *)&from, false);
		struct cv_rtp_stats st;
		cv_rtp_session_stats(session(), &st);
		/* the relay: leg and socket chosen by the input's length */
		cv_rtp_relay_stream_input(
			relay_stream(),
			size & 2 ? CV_RTP_RELAY_B : CV_RTP_RELAY_A, size & 4,
			data, size, (const struct sockaddr *)&from);
		struct cv_rtp_relay_leg_stats ls;
		cv_rtp_relay_stream_stats(relay_stream(), CV_RTP_RELAY_A, &ls);
	}
	/* The input as a stream of 10-byte records: (seq, ts, arrival) into the
	 * statistics and the jitter buffer, with gets in between. */
	struct cv_rtp_source src;
	cv_rtp_source_init(&src, 1,
			   size >= 2 ? (uint16_t)(data[0] << 8 | data[1]) : 0,
			   8000, size > 2 ? data[2] % 3 : 0);
	struct cv_rtp_jb *jb;
	struct cv_rtp_jb_params jp = {.max_packets = 16, .cn_pt = 13};
	if (cv_rtp_jb_create(&jb, &jp))
		return 0;
	uint64_t now = 0;
	for (size_t off = 3; off + 10 <= size; off += 10) {
		const uint8_t *r = data + off;
		uint16_t seq = (uint16_t)(r[0] << 8 | r[1]);
		uint32_t ts = (uint32_t)r[2] << 24 | (uint32_t)r[3] << 16 |
			      (uint32_t)r[4] << 8 | r[5];
		now += (uint64_t)(r[6] << 8 | r[7]) * 10;
		cv_rtp_source_update(&src, seq, ts, r[8], now);
		struct cv_rtp_pkt pk = {.hdr = {.seq = seq,
						.ts = ts,
						.ssrc = r[9] >> 6,
						.pt = r[9] & 0x7f},
					.payload = r,
					.payload_len = 10};
		cv_rtp_jb_put(jb, &pk, now);
		for (int k = 0; k < 4; k++) {
			struct cv_rtp_jb_frame f;
			cv_rtp_jb_get(jb, now, &f);
			if (f.kind == CV_RTP_JB_WAIT)
				break;
			struct cv_rtp_jb_frame nx;
			if (f.kind == CV_RTP_JB_LOST &&
			    cv_rtp_jb_peek(jb, f.ts + f.samples, &nx) == 0 &&
			    (nx.len > CV_RTP_MAX_PACKET || !nx.payload))
				abort();
		}
	}
	(void)cv_rtp_source_lost(&src);
	(void)cv_rtp_source_fraction(&src);
	cv_rtp_jb_destroy(jb);
	return 0;
}
