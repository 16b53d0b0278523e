/* Feeds arbitrary frames to every decoder, the comfort-noise and RFC 4733
 * receivers and the fmtp parsers.
 * Input: byte 0 picks the codec, byte 1 the options (Opus PCM rate);
 * then frames as [len][len bytes]; a zero length means "lost" and makes
 * the decoder conceal (with the following frame as the FEC source). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cvoip/media.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void te_cb(char digit, bool end, uint32_t ms, void *arg)
{
	(void)digit;
	(void)end;
	(void)ms;
	(*(unsigned *)arg)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	static const uint32_t rates[] = {8000, 12000, 16000, 24000, 48000};
	const struct cv_codec *c = cv_codec_at(data[0] % cv_codec_count());
	struct cv_codec_params p = {.pcm_rate = rates[data[1] % 5]};
	struct cv_codec_dec *dec = NULL;
	if (cv_codec_dec_create(&dec, c, &p))
		return 0;
	struct cv_cn_dec cn;
	cv_cn_dec_init(&cn);
	struct cv_te_rx te;
	unsigned events = 0;
	cv_te_rx_init(&te, 8000, te_cb, &events);
	static int16_t pcm[CV_CODEC_MAX_SAMPLES];
	size_t off = 2;
	uint32_t ts = 0;
	while (off < size) {
		size_t len = data[off++];
		if (len > size - off)
			len = size - off;
		const uint8_t *fr = data + off;
		off += len;
		if (len == 0) {
			const uint8_t *next = NULL;
			size_t next_len = 0;
			if (off < size) {
				next_len = data[off];
				if (next_len > size - off - 1)
					next_len = size - off - 1;
				next = data + off + 1;
			}
			cv_codec_conceal(dec, next, next_len, pcm,
					 cv_codec_dec_rate(dec) / 50);
			continue;
		}
		size_t n = CV_ARRAY_SIZE(pcm);
		int ns = cv_codec_dec_payload_samples(dec, fr, len);
		int r = cv_codec_decode(dec, fr, len, pcm, &n);
		if (r == 0 && (int)n != ns)
			__builtin_trap(); /* decoded length must match */
		if (r == 0 && n > CV_ARRAY_SIZE(pcm))
			__builtin_trap();
		if (cv_cn_dec_update(&cn, fr, len) == 0)
			cv_cn_dec_generate(&cn, pcm, 160);
		cv_te_rx_packet(&te, ts, fr, len);
		ts += (uint32_t)(fr[0] & 3) * 160;
	}
	struct cv_codec_params fp = {0};
	struct cv_pl fmtp = {(const char *)data + 2, size - 2};
	cv_codec_fmtp_parse(c, &fp, fmtp);
	char buf[256];
	cv_codec_fmtp_print(c, &fp, buf, sizeof(buf));
	cv_mem_unref(dec);
	return 0;
}
