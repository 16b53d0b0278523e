/* Codecs: G.711 against the ITU tables and spandsp, per-codec quality of a
 * speech-like signal through encode/decode, quality under 0/5/15% frame
 * loss with concealment, fmtp, registry and SDP format list. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>
#include <spandsp.h>

#include "cvoip/media.h"
#include "media/media_test_util.h"

static int64_t live0;

static int setup(void **state)
{
	(void)state;
	live0 = cv_mem_live();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	assert_int_equal(cv_mem_live(), live0);
	return 0;
}

static void test_g711_known_values(void **state)
{
	(void)state;
	/* ITU-T G.711 Tables 1a/2a (µ-law) and 1b/2b (A-law) end points. */
	assert_int_equal(cv_g711_ulaw_enc(0), 0xFF);
	assert_int_equal(cv_g711_ulaw_enc(-1), 0x7F);
	assert_int_equal(cv_g711_ulaw_enc(32767), 0x80);
	assert_int_equal(cv_g711_ulaw_enc(-32768), 0x00);
	assert_int_equal(cv_g711_ulaw_dec(0x00), -32124);
	assert_int_equal(cv_g711_ulaw_dec(0x80), 32124);
	assert_int_equal(cv_g711_ulaw_dec(0xFF), 0);
	assert_int_equal(cv_g711_ulaw_dec(0x7F), 0);
	assert_int_equal(cv_g711_ulaw_dec(0xEF), 132);
	assert_int_equal(cv_g711_alaw_enc(0), 0xD5);
	assert_int_equal(cv_g711_alaw_enc(-1), 0x55);
	assert_int_equal(cv_g711_alaw_enc(32767), 0xAA);
	assert_int_equal(cv_g711_alaw_enc(-32768), 0x2A);
	assert_int_equal(cv_g711_alaw_dec(0xD5), 8);
	assert_int_equal(cv_g711_alaw_dec(0x55), -8);
	assert_int_equal(cv_g711_alaw_dec(0xAA), 32256);
	assert_int_equal(cv_g711_alaw_dec(0x2A), -32256);
}

static void test_g711_against_spandsp(void **state)
{
	(void)state;
	for (int c = 0; c < 256; c++) {
		assert_int_equal(cv_g711_ulaw_dec((uint8_t)c),
				 ulaw_to_linear((uint8_t)c));
		assert_int_equal(cv_g711_alaw_dec((uint8_t)c),
				 alaw_to_linear((uint8_t)c));
		/* decode then encode is the identity (µ-law -0 becomes +0) */
		uint8_t u = cv_g711_ulaw_enc(cv_g711_ulaw_dec((uint8_t)c));
		assert_int_equal(u, c == 0x7F ? 0xFF : c);
		assert_int_equal(cv_g711_alaw_enc(cv_g711_alaw_dec((uint8_t)c)),
				 c);
	}
	int ndiff = 0;
	for (int s = -32768; s <= 32767; s++) {
		/* A-law: identical to spandsp (both follow the STL). */
		assert_int_equal(cv_g711_alaw_enc((int16_t)s),
				 linear_to_alaw(s));
		/* µ-law: spandsp biases negative magnitudes differently
		 * from the STL: codes may differ by one step, only at
		 * segment edges of negative inputs. */
		int ca = cv_g711_ulaw_enc((int16_t)s), cb = linear_to_ulaw(s);
		if (ca != cb) {
			assert_true(s < 0);
			assert_true(abs((~ca & 0x7f) - (~cb & 0x7f)) == 1);
			ndiff++;
		}
	}
	assert_true(ndiff < 256);
	int16_t pcm[160], back[160];
	uint8_t enc[160];
	for (int i = 0; i < 160; i++)
		pcm[i] = (int16_t)(i * 400 - 32000);
	cv_g711_ulaw_enc_buf(enc, pcm, 160);
	cv_g711_ulaw_dec_buf(back, enc, 160);
	for (int i = 0; i < 160; i++)
		assert_int_equal(back[i],
				 cv_g711_ulaw_dec(cv_g711_ulaw_enc(pcm[i])));
}

/* Encode a speech-like signal in 20 ms frames, lose frames at loss_pct
 * (deterministic), conceal, and measure correlation and SNR. */
struct run_result {
	double corr;
	double snr;
	size_t lag;
	unsigned lost;
};

static void run_codec(const struct cv_codec *c, const struct cv_codec_params *p,
		      double loss_pct, bool use_fec, long fixed_lag,
		      struct run_result *res)
{
	struct cv_codec_enc *enc = NULL;
	struct cv_codec_dec *dec = NULL;
	assert_int_equal(cv_codec_enc_create(&enc, c, p), 0);
	assert_int_equal(cv_codec_dec_create(&dec, c, p), 0);
	uint32_t rate = cv_codec_enc_rate(enc);
	assert_int_equal(cv_codec_dec_rate(dec), rate);
	size_t frame = rate / 50, nframes = 100; /* 2 s */
	size_t n = frame * nframes;
	int16_t *ref = calloc(n, sizeof(*ref));
	int16_t *out = calloc(n, sizeof(*out));
	uint8_t(*pl)[CV_CODEC_MAX_PAYLOAD] = calloc(nframes, sizeof(*pl));
	size_t *plen = calloc(nframes, sizeof(*plen));
	bool *lost = calloc(nframes, sizeof(*lost));
	assert_non_null(ref);
	assert_non_null(out);
	assert_non_null(pl);
	mt_speechlike(ref, n, rate, 16000);
	uint32_t seed = 12345;
	res->lost = 0;
	for (size_t f = 0; f < nframes; f++) {
		assert_int_equal(cv_codec_encode(enc, ref + f * frame, frame,
						 pl[f], CV_CODEC_MAX_PAYLOAD,
						 &plen[f]),
				 0);
		seed = seed * 1103515245u + 12345u;
		lost[f] = f > 2 && ((seed >> 16) % 1000) < loss_pct * 10;
		res->lost += lost[f];
	}
	for (size_t f = 0; f < nframes; f++) {
		int16_t *o = out + f * frame;
		if (lost[f] || plen[f] == 0) {
			const uint8_t *next = NULL;
			size_t next_len = 0;
			if (use_fec && f + 1 < nframes && !lost[f + 1]) {
				next = pl[f + 1];
				next_len = plen[f + 1];
			}
			assert_int_equal(
				cv_codec_conceal(dec, next, next_len, o, frame),
				0);
			continue;
		}
		size_t got = frame;
		assert_int_equal(
			cv_codec_dec_payload_samples(dec, pl[f], plen[f]),
			(int)frame);
		assert_int_equal(cv_codec_decode(dec, pl[f], plen[f], o, &got),
				 0);
		assert_int_equal(got, frame);
	}
	size_t from = rate / 10; /* skip the codecs' start-up */
	/* the codec's delay is found without loss and reused with loss */
	if (fixed_lag >= 0) {
		res->lag = (size_t)fixed_lag;
		res->corr = mt_corr_at(ref, out, n, from, n, res->lag);
	} else {
		res->corr = mt_xcorr(ref, out, n, from, rate / 50, &res->lag);
	}
	res->snr = mt_snr(ref, out, n, from, res->lag);
	free(ref);
	free(out);
	free(pl);
	free(plen);
	free(lost);
	cv_mem_unref(enc);
	cv_mem_unref(dec);
}

struct quality_case {
	const struct cv_codec *c;
	struct cv_codec_params p;
	bool fec;
	double min_corr[3]; /* at 0, 5, 15 % loss */
	double min_snr0;    /* waveform codecs only (else -100) */
};

static void check_case(const struct quality_case *qc)
{
	static const double loss[3] = {0, 5, 15};
	double prev = 2;
	long lag = -1;
	for (int i = 0; i < 3; i++) {
		struct run_result r;
		run_codec(qc->c, &qc->p, loss[i], qc->fec, lag, &r);
		lag = (long)r.lag;
		printf("  %-5s rate %u loss %2.0f%% (lost %u): corr %.4f "
		       "snr %.1f dB lag %zu\n",
		       qc->c->name,
		       qc->p.pcm_rate ? qc->p.pcm_rate : qc->c->pcm_rate,
		       loss[i], r.lost, r.corr, r.snr, r.lag);
		assert_true(r.corr >= qc->min_corr[i]);
		if (i == 0)
			assert_true(r.snr >= qc->min_snr0);
		if (i > 0)
			assert_true(r.lost > 0);
		/* quality falls (or holds) as loss rises */
		assert_true(r.corr <= prev + 0.01);
		prev = r.corr;
	}
}

static void test_quality_pcmu(void **state)
{
	(void)state;
	struct quality_case qc = {
		&cv_codec_pcmu, {0}, false, {0.999, 0.96, 0.90}, 35};
	check_case(&qc);
}

static void test_quality_pcma(void **state)
{
	(void)state;
	struct quality_case qc = {
		&cv_codec_pcma, {0}, false, {0.999, 0.96, 0.90}, 35};
	check_case(&qc);
}

static void test_quality_g722(void **state)
{
	(void)state;
	struct quality_case qc = {
		&cv_codec_g722, {0}, false, {0.999, 0.94, 0.90}, 30};
	check_case(&qc);
}

static void test_quality_l16(void **state)
{
	(void)state;
	struct quality_case qc = {
		&cv_codec_l16_16k, {0}, false, {0.99999, 0.96, 0.90}, 90};
	check_case(&qc);
}

static void test_quality_g729(void **state)
{
	(void)state;
	struct quality_case qc = {
		&cv_codec_g729, {0}, false, {0.80, 0.45, 0.25}, -100};
	check_case(&qc);
}

static void test_quality_opus(void **state)
{
	(void)state;
	struct quality_case qc = {&cv_codec_opus,
				  {.bitrate = 32000},
				  false,
				  {0.94, 0.86, 0.80},
				  -100};
	check_case(&qc);
	/* in-band FEC recovers part of each single loss */
	struct quality_case fec = {
		&cv_codec_opus,
		{.bitrate = 32000, .useinbandfec = true, .loss_pct = 15},
		true,
		{0.94, 0.93, 0.91},
		-100};
	check_case(&fec);
	/* a 16 kHz PCM side works too */
	struct quality_case wb = {&cv_codec_opus,
				  {.bitrate = 24000, .pcm_rate = 16000},
				  false,
				  {0.94, 0.85, 0.80},
				  -100};
	check_case(&wb);
}

static void test_decoder_rejects_bad_payloads(void **state)
{
	(void)state;
	for (size_t i = 0; i < cv_codec_count(); i++) {
		const struct cv_codec *c = cv_codec_at(i);
		struct cv_codec_dec *dec = NULL;
		assert_int_equal(cv_codec_dec_create(&dec, c, NULL), 0);
		int16_t pcm[CV_CODEC_MAX_SAMPLES];
		size_t n = CV_ARRAY_SIZE(pcm);
		uint8_t junk[7] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
		assert_int_not_equal(cv_codec_decode(dec, junk, 0, pcm, &n), 0);
		n = CV_ARRAY_SIZE(pcm);
		int r = cv_codec_decode(dec, junk, sizeof(junk), pcm, &n);
		/* G.711 and G.722 take any bytes; others reject 7 bytes */
		if (c == &cv_codec_g729 || c == &cv_codec_l16_8k)
			assert_int_equal(r, CV_EPARSE);
		/* not enough room is an error, never an overflow */
		n = 4;
		uint8_t big[200] = {0};
		assert_int_not_equal(cv_codec_decode(dec, big, 200, pcm, &n),
				     0);
		cv_mem_unref(dec);
	}
}

static void test_registry_and_fmtp(void **state)
{
	(void)state;
	assert_ptr_equal(cv_codec_find(CV_PL("pcmu"), 8000, 1), &cv_codec_pcmu);
	assert_ptr_equal(cv_codec_find(CV_PL("OPUS"), 48000, 2),
			 &cv_codec_opus);
	assert_ptr_equal(cv_codec_find(CV_PL("L16"), 16000, 0),
			 &cv_codec_l16_16k);
	assert_ptr_equal(cv_codec_find(CV_PL("G722"), 8000, 0), &cv_codec_g722);
	assert_null(cv_codec_find(CV_PL("opus"), 48000, 1));
	assert_null(cv_codec_find(CV_PL("GSM"), 0, 0));

	struct cv_codec_params p = {0};
	assert_int_equal(
		cv_codec_fmtp_parse(&cv_codec_opus, &p,
				    CV_PL("maxplaybackrate=16000; stereo=1;"
					  "useinbandfec=1;ptime=40;junk;x=")),
		0);
	assert_int_equal(p.maxplaybackrate, 16000);
	assert_true(p.stereo);
	assert_true(p.useinbandfec);
	assert_int_equal(p.ptime, 40);
	char buf[128];
	assert_int_equal(
		cv_codec_fmtp_print(&cv_codec_opus, &p, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "minptime=10;useinbandfec=1;"
				 "maxplaybackrate=16000;stereo=1;ptime=40");
	assert_int_equal(cv_codec_fmtp_print(&cv_codec_opus, &p, buf, 10),
			 CV_ETOOBIG);
	/* maxplaybackrate out of range is ignored */
	struct cv_codec_params q = {0};
	cv_codec_fmtp_parse(&cv_codec_opus, &q, CV_PL("maxplaybackrate=5"));
	assert_int_equal(q.maxplaybackrate, 0);

	struct cv_codec_params g = {0};
	cv_codec_fmtp_parse(&cv_codec_g729, &g, CV_PL("annexb=no"));
	assert_true(g.annexb_off);
	cv_codec_fmtp_print(&cv_codec_g729, &g, buf, sizeof(buf));
	assert_string_equal(buf, "annexb=no");
	cv_codec_fmtp_print(&cv_codec_pcmu, &g, buf, sizeof(buf));
	assert_string_equal(buf, "");
}

static void test_offer_fmts(void **state)
{
	(void)state;
	const char *names[] = {"opus", "PCMU", "G722", "L16/16000", "PCMA"};
	struct cv_media_offer_params op = {
		.codecs = names,
		.ncodecs = 5,
		.telephone_event = true,
		.comfort_noise = true,
	};
	struct cv_media_fmt f[16];
	size_t n = 0;
	assert_int_equal(cv_media_offer_fmts(&op, f, 16, &n), 0);
	/* opus, PCMU, G722, L16, PCMA, CN, te/48000, te/8000, te/16000 */
	assert_int_equal(n, 9);
	assert_string_equal(f[0].name, "opus");
	assert_int_equal(f[0].pt, 111);
	assert_int_equal(f[0].channels, 2);
	assert_string_equal(f[0].fmtp, "minptime=10;useinbandfec=1");
	assert_int_equal(f[1].pt, 0);
	assert_int_equal(f[2].pt, 9);
	assert_int_equal(f[3].clock_rate, 16000);
	assert_string_equal(f[5].name, "CN");
	assert_int_equal(f[5].pt, 13);
	assert_string_equal(f[6].name, "telephone-event");
	assert_int_equal(f[6].clock_rate, 48000);
	assert_string_equal(f[7].name, "telephone-event");
	assert_int_equal(f[7].clock_rate, 8000);
	assert_int_equal(f[7].pt, 101);
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			assert_int_not_equal(f[i].pt, f[j].pt);
	const char *bad[] = {"GSM"};
	op.codecs = bad;
	op.ncodecs = 1;
	assert_int_equal(cv_media_offer_fmts(&op, f, 16, &n), CV_ENOTFOUND);
	/* all built-ins */
	op.codecs = NULL;
	assert_int_equal(cv_media_offer_fmts(&op, f, 16, &n), 0);
	assert_true(n >= cv_codec_count());
	assert_int_equal(cv_media_offer_fmts(&op, f, 2, &n), CV_ETOOBIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_g711_known_values, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_g711_against_spandsp,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_quality_pcmu, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_quality_pcma, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_quality_g722, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_quality_l16, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_quality_g729, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_quality_opus, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_decoder_rejects_bad_payloads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_registry_and_fmtp, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_offer_fmts, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
