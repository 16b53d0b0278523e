/* Reception statistics (RFC 3550 A.1/A.3/A.8) and the G.107 E-model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>

#include "cvoip/rtp.h"

static void test_seq_loss_wrap(void **state)
{
	(void)state;
	struct cv_rtp_source s;
	/* Start just before the 16-bit wrap; lose 2 of 20 packets. */
	cv_rtp_source_init(&s, 0x1234, 65530, 8000, 0);
	uint64_t t = 1000000;
	unsigned sent = 0;
	for (unsigned i = 0; i < 20; i++, t += 20000) {
		uint16_t seq = (uint16_t)(65530 + i);
		if (i == 5 || i == 11)
			continue; /* lost */
		assert_int_equal(cv_rtp_source_update(&s, seq, i * 160, 160, t),
				 1);
		sent++;
	}
	assert_int_equal(s.received, 18);
	/* expected = ext_max - base + 1 = 20 */
	assert_int_equal(cv_rtp_source_expected(&s), 20);
	assert_int_equal(cv_rtp_source_ext_max(&s), 65536 + 13);
	assert_int_equal(cv_rtp_source_lost(&s), 2);
	/* A.3 fraction: 2/20 * 256 = 25.6 -> 25 */
	assert_int_equal(cv_rtp_source_fraction(&s), 25);
	/* Next interval without loss. */
	for (unsigned i = 20; i < 30; i++, t += 20000)
		cv_rtp_source_update(&s, (uint16_t)(65530 + i), i * 160, 160,
				     t);
	assert_int_equal(cv_rtp_source_fraction(&s), 0);
	assert_int_equal(cv_rtp_source_jitter(&s), 0); /* perfectly paced */
}

static void test_dup_reorder(void **state)
{
	(void)state;
	struct cv_rtp_source s;
	cv_rtp_source_init(&s, 1, 100, 8000, 0);
	uint64_t t = 0;
	assert_int_equal(cv_rtp_source_update(&s, 100, 0, 10, t), 1);
	assert_int_equal(cv_rtp_source_update(&s, 102, 320, 10, t), 1);
	assert_int_equal(cv_rtp_source_update(&s, 101, 160, 10, t),
			 1); /* late */
	assert_int_equal(cv_rtp_source_update(&s, 101, 160, 10, t),
			 0); /* dup */
	assert_int_equal(cv_rtp_source_update(&s, 102, 320, 10, t),
			 0); /* dup */
	assert_int_equal(s.duplicates, 2);
	assert_int_equal(s.reordered, 1);
	assert_int_equal(cv_rtp_source_lost(&s), 0);
	/* A jump beyond MAX_DROPOUT is taken only when confirmed (A.1). */
	assert_int_equal(cv_rtp_source_update(&s, 20000, 0, 10, t), 0);
	assert_int_equal(cv_rtp_source_update(&s, 20001, 160, 10, t), 1);
	assert_int_equal(cv_rtp_source_expected(&s), 1);
}

static void test_probation(void **state)
{
	(void)state;
	struct cv_rtp_source s;
	cv_rtp_source_init(&s, 1, 500, 8000, 2);
	assert_int_equal(cv_rtp_source_update(&s, 500, 0, 10, 0), 0);
	assert_int_equal(cv_rtp_source_update(&s, 501, 160, 10, 0), 1);
	assert_int_equal(cv_rtp_source_update(&s, 502, 320, 10, 0), 1);
	assert_int_equal(s.received, 2);
}

static void test_jitter_hand(void **state)
{
	(void)state;
	/* A.8 by hand: packets every 160 ts (20 ms at 8 kHz); arrivals
	 * 0, 20, 45, 60 ms. Transit (ts units): 0, 0, 40, 0 ->
	 * D = 0, 40, 40 -> J = 0; 40/16 = 2.5; 2.5 + (40 - 2.5)/16 = 4.84 */
	struct cv_rtp_source s;
	cv_rtp_source_init(&s, 1, 0, 8000, 0);
	cv_rtp_source_update(&s, 0, 0, 1, 0);
	cv_rtp_source_update(&s, 1, 160, 1, 20000);
	cv_rtp_source_update(&s, 2, 320, 1, 45000);
	assert_int_equal(cv_rtp_source_jitter(&s), 2);
	cv_rtp_source_update(&s, 3, 480, 1, 60000);
	assert_int_equal(cv_rtp_source_jitter(&s), 4);
	assert_true(fabs(s.jitter_q4 / 16.0 - 4.84) < 0.1);
}

static double mos_of(double ie, double bpl, double ppl, double burst, double ta)
{
	struct cv_rtp_emodel_in in = {ie, bpl, ppl, burst, ta};
	return cv_rtp_emodel_mos(cv_rtp_emodel_r(&in));
}

static void test_emodel(void **state)
{
	(void)state;
	struct cv_rtp_emodel_in in = {.ie = 0, .bpl = 4.3, .burst_r = 1};
	/* G.107 defaults give R = 93.2. */
	assert_true(fabs(cv_rtp_emodel_r(&in) - 93.2) < 0.05);
	/* Hand-computed at T = 0: R = 93.206 - Ie,eff;
	 * G.711+PLC 1% random loss: Ie,eff = 95*1/(1+25.1) = 3.640 */
	in.bpl = 25.1;
	in.ppl = 1;
	assert_true(fabs(cv_rtp_emodel_r(&in) - 89.566) < 0.05);
	/* MOS(89.566) = 1 + 0.035R + R(R-60)(100-R)7e-6 = 4.328 */
	assert_true(fabs(mos_of(0, 25.1, 1, 1, 0) - 4.328) < 0.1);
	/* G.711 without PLC, 2%: Ie,eff = 95*2/(2+4.3) = 30.16 -> R 63.05 */
	assert_true(fabs(mos_of(0, 4.3, 2, 1, 0) - 3.256) < 0.1);
	/* With delay (values from the full G.107 formula, see docs/rtp.md) */
	assert_true(fabs(mos_of(0, 25.1, 5, 1, 50) - 3.863) < 0.1);
	assert_true(fabs(mos_of(11, 19, 3, 1, 100) - 3.512) < 0.1);
	assert_true(fabs(mos_of(11, 19, 0, 1, 200) - 3.813) < 0.1);
	assert_true(fabs(mos_of(0, 25.1, 15, 1, 150) - 2.786) < 0.1);
	assert_true(fabs(mos_of(0, 20, 10, 2, 80) - 2.737) < 0.1);
	assert_true(fabs(mos_of(0, 25.1, 0, 1, 300) - 3.719) < 0.1);
	/* MOS falls as loss rises. */
	double prev = 5;
	for (double l = 0; l <= 20; l += 5) {
		double m = mos_of(0, 25.1, l, 1, 40);
		assert_true(m < prev);
		prev = m;
	}
	assert_true(cv_rtp_emodel_mos(0) == 1.0);
	assert_true(cv_rtp_emodel_mos(100) == 4.5);
	const struct cv_rtp_codec_imp *ci;
	assert_int_equal(cv_rtp_codec_imp_find("g729", &ci), 0);
	assert_true(ci->ie == 11 && ci->bpl == 19);
	assert_int_equal(cv_rtp_codec_imp_find("PCMA", &ci), 0);
	assert_true(ci->bpl_plc == 25.1);
	assert_int_equal(cv_rtp_codec_imp_find("nope", &ci), CV_ENOTFOUND);
}

static void test_rtcp_interval(void **state)
{
	(void)state;
	struct cv_rtcp_interval_in in = {
		.members = 2,
		.senders = 2,
		.rtcp_bw = 400,
		.we_sent = true,
		.avg_rtcp_size = 100,
	};
	/* 100 * 2 / 400 = 0.5 s < 5 s minimum */
	assert_true(cv_rtcp_interval_det(&in) == 5.0);
	in.initial = true;
	assert_true(cv_rtcp_interval_det(&in) == 2.5);
	in.initial = false;
	in.members = 200;
	in.senders = 10; /* senders <= 25%: they share 25% of the bandwidth */
	/* 100 * 10 / (400 * 0.25) = 10 s */
	assert_true(fabs(cv_rtcp_interval_det(&in) - 10.0) < 1e-9);
	for (int i = 0; i < 100; i++) {
		double t = cv_rtcp_interval(&in);
		assert_true(t >= 10 * 0.5 / 1.21828 - 1e-9);
		assert_true(t <= 10 * 1.5 / 1.21828 + 1e-9);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seq_loss_wrap),
		cmocka_unit_test(test_dup_reorder),
		cmocka_unit_test(test_probation),
		cmocka_unit_test(test_jitter_hand),
		cmocka_unit_test(test_emodel),
		cmocka_unit_test(test_rtcp_interval),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
