/* The B2BUA's media handling on hostile SDP and RTP: SDP offers and
 * answers from either leg rewritten for the relay (SRTP keys per leg,
 * codecs added for transcoding), the SRTP-flipped retry offer, then the
 * rest of the input as RTP through every transcoding stream, both ways.
 * Input: up to six SDPs separated by NUL bytes, each led by one control
 * byte (bit 0: from leg B; bit 1: build the retry offer instead). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/server/server_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static uv_loop_t loop;
static struct cv_srv srv;
static struct srv_worker sw;

static int setup(void)
{
	static int done;
	if (done)
		return sw.relay ? 0 : -1;
	done = 1;
	cv_log_set_level(CV_LOG_ERROR);
	if (uv_loop_init(&loop))
		return -1;
	srv.p.media_addr = "127.0.0.1";
	sw.srv = &srv;
	/* Ports outside the ephemeral range and the test port range. */
	struct cv_rtp_relay_params rp = {.loop = &loop,
					 .local_addr = "127.0.0.1",
					 .port_min = 43000,
					 .port_max = 43999};
	return cv_rtp_relay_create(&sw.relay, &rp) ? -1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	if (setup())
		return 0;
	struct call_media m;
	memset(&m, 0, sizeof(m));
	media_set_adv(&sw, &m, 0, NULL);
	media_set_adv(&sw, &m, 1, NULL);
	size_t off = 0;
	for (int k = 0; off < n && k < 6; k++) {
		const uint8_t *z = memchr(d + off, 0, n - off);
		size_t l = z ? (size_t)(z - (d + off)) : n - off;
		if (l > 1) {
			int from = d[off] & 1;
			struct cv_pl sdp = {(const char *)d + off + 1, l - 1};
			struct cv_buf b;
			cv_buf_init(&b, 65536);
			if (d[off] & 2)
				(void)media_retry_offer(&sw, &m, sdp, &b);
			else
				(void)media_rewrite(&sw, &m, from, sdp, &b);
			cv_buf_free(&b);
		}
		off += l + 1;
	}
	for (unsigned i = 0; i < CALL_MAX_STREAMS; i++) {
		if (!m.xc[i] || n <= 12)
			continue;
		uint8_t pkt[1700];
		size_t len = n < 1500 ? n : 1500;
		memcpy(pkt, d, len);
		pkt[0] = 0x80;
		(void)xcode_xform(m.xc[i], CV_RTP_RELAY_A, pkt, &len,
				  sizeof(pkt));
		len = n < 1500 ? n : 1500;
		memcpy(pkt, d, len);
		pkt[0] = 0x80;
		pkt[1] = d[n - 1] & 0x7f;
		(void)xcode_xform(m.xc[i], CV_RTP_RELAY_B, pkt, &len,
				  sizeof(pkt));
	}
	media_free(&sw, &m);
	uv_run(&loop, UV_RUN_NOWAIT);
	return 0;
}
