/* libFuzzer target for the SDP layer: parse, print and re-parse (the
 * printed text must parse to the same text again), answer the input as an
 * offer against a fixed capability set, and process it as the answer to a
 * fixed offer. Any crash, leak, hang or broken round trip is a finding. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cvoip/sdp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct cv_sdp_codec codecs[] = {
	{.name = "opus",
	 .clock_rate = 48000,
	 .channels = 2,
	 .fmtp = "useinbandfec=1",
	 .pt = -1},
	{.name = "G722", .clock_rate = 8000, .pt = -1},
	{.name = "PCMU", .clock_rate = 8000, .pt = -1},
	{.name = "PCMA", .clock_rate = 8000, .pt = -1},
	{.name = "G729", .clock_rate = 8000, .fmtp = "annexb=no", .pt = -1},
	{.name = "CN", .clock_rate = 8000, .pt = -1},
};
static const struct cv_sdp_codec vcodecs[] = {
	{.name = "H264",
	 .clock_rate = 90000,
	 .fmtp = "packetization-mode=1",
	 .pt = -1},
	{.name = "VP8", .clock_rate = 90000, .pt = -1},
};
static const struct cv_sdp_crypto_local crypto[] = {
	{.tag = 1,
	 .suite = "AES_CM_128_HMAC_SHA1_80",
	 .key_params = "inline:d0RmdmcmVCspeEc3QGZiNWpVLFJhQX1cfHAwJSoj"},
	{.tag = 2,
	 .suite = "AEAD_AES_256_GCM",
	 .key_params =
		 "inline:Z2NtZ2NtZ2NtZ2NtZ2NtZ2NtZ2NtZ2NtZ2NtZ2NtZ2NtZ2NtZ2Nt"},
};
static const struct cv_sdp_stream_caps streams[] = {
	{.port = 20000,
	 .codecs = codecs,
	 .ncodecs = 6,
	 .telephone_event = true,
	 .dtmf_events = "0-16",
	 .dtmf_pt = -1,
	 .ptime = 20,
	 .dir = CV_SDP_SENDRECV,
	 .rtcp_mux = true,
	 .crypto = crypto,
	 .ncrypto = 2},
	{.media = "video",
	 .port = 20002,
	 .codecs = vcodecs,
	 .ncodecs = 2,
	 .dir = CV_SDP_SENDRECV,
	 .prefer_local = true,
	 .max_codecs = 1},
};
static const struct cv_sdp_local local = {
	.sess_id = 1,
	.sess_version = 1,
	.addr = "192.0.2.1",
	.streams = streams,
	.nstreams = 2,
};

static void check_roundtrip(const struct cv_sdp *sdp)
{
	struct cv_buf b1, b2;
	struct cv_sdp *again = NULL;
	cv_buf_init(&b1, 0);
	cv_buf_init(&b2, 0);
	if (cv_sdp_print(sdp, &b1))
		abort();
	if (cv_sdp_parse(&again, b1.data, b1.len, NULL))
		abort(); /* printed output of a parsed SDP must parse */
	if (cv_sdp_print(again, &b2) || b1.len != b2.len ||
	    memcmp(b1.data, b2.data, b1.len))
		abort();
	if (again->nmedia != sdp->nmedia)
		abort();
	cv_mem_unref(again);
	cv_buf_free(&b1);
	cv_buf_free(&b2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cv_sdp *offer;
	struct cv_sdp *sdp = NULL, *ans = NULL;
	struct cv_sdp_neg neg = {0};
	struct cv_sdp_warning w;

	if (!offer && cv_sdp_offer_create(&offer, &local))
		abort();
	if (cv_sdp_parse(&sdp, (const char *)data, size, NULL))
		return 0;
	check_roundtrip(sdp);
	int err = cv_sdp_answer_create(&ans, &neg, &w, sdp, &local);
	if (err == 0) {
		check_roundtrip(ans);
		/* the input is the offer: our answer must be acceptable to it
		 */
		cv_sdp_answer_process(&neg, sdp, ans);
		cv_mem_unref(ans);
	} else if (err == CV_SDP_ENOTACCEPTABLE) {
		if (!w.code || !w.text)
			abort();
	} else if (err != -ENOMEM && err != CV_ETOOBIG) {
		abort();
	}
	cv_sdp_answer_process(&neg, offer, sdp);
	cv_sdp_neg_reset(&neg);

	static uint16_t ports[64];
	static const char *const drop[] = {"ssrc", "crypto"};
	for (size_t i = 0; i < 64; i++)
		ports[i] = (uint16_t)(30000 + 2 * i);
	struct cv_sdp_rewrite rw = {
		.addr = "2001:db8::1",
		.set_version = true,
		.sess_version = 7,
		.ports = ports,
		.nports = sdp->nmedia <= 64 ? sdp->nmedia : 0,
		.rtcp_ports = ports,
		.strip_ice = true,
		.strip_rtcp = true,
		.drop_attrs = drop,
		.ndrop_attrs = 2,
	};
	struct cv_sdp *rew = NULL;
	err = cv_sdp_rewrite(&rew, sdp, &rw);
	if (err == 0) {
		if (rew->nmedia != sdp->nmedia)
			abort();
		check_roundtrip(rew);
		cv_mem_unref(rew);
	} else if (err != CV_ETOOBIG && err != -ENOMEM) {
		abort(); /* a rewrite of a valid SDP must parse */
	}
	cv_mem_unref(sdp);
	return 0;
}
