/* RTP/RTCP packet parse and build, RFC 4733 events, RFC 3611 XR. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "cvoip/rtp.h"

static void test_rtp_roundtrip(void **state)
{
	(void)state;
	uint8_t ext[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	struct cv_rtp_hdr h = {
		.marker = true,
		.pt = 96,
		.seq = 65535,
		.ts = 0xfffffff0u,
		.ssrc = 0xdeadbeef,
		.cc = 2,
		.csrc = {11, 22},
		.ext = true,
		.ext_profile = 0xbede,
		.ext_data = ext,
		.ext_len = sizeof(ext),
		.pad_len = 3,
	};
	uint8_t buf[256];
	size_t len;
	assert_int_equal(cv_rtp_build(buf, sizeof(buf), &h, "hello", 5, &len),
			 0);
	assert_int_equal(len, 12 + 8 + 4 + 8 + 5 + 3);
	struct cv_rtp_pkt p;
	assert_int_equal(cv_rtp_parse(&p, buf, len), 0);
	assert_true(p.hdr.marker);
	assert_int_equal(p.hdr.pt, 96);
	assert_int_equal(p.hdr.seq, 65535);
	assert_int_equal(p.hdr.ts, 0xfffffff0u);
	assert_int_equal(p.hdr.ssrc, 0xdeadbeef);
	assert_int_equal(p.hdr.cc, 2);
	assert_int_equal(p.hdr.csrc[1], 22);
	assert_true(p.hdr.ext);
	assert_int_equal(p.hdr.ext_profile, 0xbede);
	assert_int_equal(p.hdr.ext_len, 8);
	assert_memory_equal(p.hdr.ext_data, ext, 8);
	assert_int_equal(p.hdr.pad_len, 3);
	assert_int_equal(p.payload_len, 5);
	assert_memory_equal(p.payload, "hello", 5);
	assert_int_equal(cv_rtp_hdr_len(buf, len), 32);
	assert_false(cv_rtp_is_rtcp(buf, len));
	assert_true(cv_rtp_is_rtp_or_rtcp(buf, len));
	/* Too small a buffer, bad arguments. */
	assert_int_equal(cv_rtp_build(buf, 20, &h, "hello", 5, &len),
			 CV_ETOOBIG);
	h.cc = 16;
	assert_int_equal(cv_rtp_build(buf, sizeof(buf), &h, NULL, 0, &len),
			 -EINVAL);
	h.cc = 0;
	h.ext_len = 3;
	assert_int_equal(cv_rtp_build(buf, sizeof(buf), &h, NULL, 0, &len),
			 -EINVAL);
	assert_int_equal(cv_rtp_seq_diff(2, 65534), 4);
	assert_int_equal(cv_rtp_ts_diff(5, 0xfffffffbu), 10);
}

static void test_rtp_bad(void **state)
{
	(void)state;
	struct cv_rtp_pkt p;
	uint8_t b[64] = {0x80, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1};
	assert_int_equal(cv_rtp_parse(&p, b, 12), 0);
	assert_int_equal(cv_rtp_parse(&p, b, 11), CV_EPARSE); /* truncated */
	b[0] = 0x40;
	assert_int_equal(cv_rtp_parse(&p, b, 12), CV_EPARSE); /* version 1 */
	b[0] = 0x8f;					      /* 15 CSRCs */
	assert_int_equal(cv_rtp_parse(&p, b, 40), CV_EPARSE);
	b[0] = 0x90; /* ext header */
	b[12] = 0xbe;
	b[13] = 0xde;
	b[14] = 0xff;
	b[15] = 0xff; /* lying length */
	assert_int_equal(cv_rtp_parse(&p, b, 24), CV_EPARSE);
	assert_int_equal(cv_rtp_parse(&p, b, 14), CV_EPARSE);
	b[0] = 0xa0; /* padding */
	b[19] = 0;
	assert_int_equal(cv_rtp_parse(&p, b, 20), CV_EPARSE); /* pad 0 */
	b[19] = 9;
	assert_int_equal(cv_rtp_parse(&p, b, 20),
			 CV_EPARSE); /* pad > payload */
	b[19] = 8;
	assert_int_equal(cv_rtp_parse(&p, b, 20), 0);
	assert_int_equal(p.payload_len, 0);
	/* RFC 5761 demux. */
	uint8_t r[8] = {0x80, 200, 0, 1};
	assert_true(cv_rtp_is_rtcp(r, 8));
	r[1] = 0x80 | 96;
	assert_false(cv_rtp_is_rtcp(r, 8));
	uint8_t stun[4] = {0, 1, 0, 0};
	assert_false(cv_rtp_is_rtp_or_rtcp(stun, 4));
}

static void test_tevent(void **state)
{
	(void)state;
	struct cv_rtp_tevent ev = {
		.event = 11, .end = true, .volume = 10, .duration = 1600};
	uint8_t b[4];
	assert_int_equal(cv_rtp_tevent_build(b, sizeof(b), &ev), 0);
	assert_int_equal(b[0], 11);
	assert_int_equal(b[1], 0x8a);
	assert_int_equal(b[2], 0x06);
	assert_int_equal(b[3], 0x40);
	struct cv_rtp_tevent out;
	b[1] |= 0x40; /* R bit is ignored */
	assert_int_equal(cv_rtp_tevent_parse(&out, b, 4), 0);
	assert_int_equal(out.event, 11);
	assert_true(out.end);
	assert_int_equal(out.volume, 10);
	assert_int_equal(out.duration, 1600);
	assert_int_equal(cv_rtp_tevent_parse(&out, b, 3), CV_EPARSE);
	ev.volume = 64;
	assert_int_equal(cv_rtp_tevent_build(b, 4, &ev), -EINVAL);
	assert_int_equal(cv_rtp_tevent_build(b, 3, &out), CV_ETOOBIG);
	uint8_t e;
	assert_int_equal(cv_rtp_tevent_from_char('#', &e), 0);
	assert_int_equal(e, 11);
	assert_int_equal(cv_rtp_tevent_from_char('d', &e), 0);
	assert_int_equal(e, 15);
	assert_int_equal(cv_rtp_tevent_from_char('x', &e), -EINVAL);
	assert_int_equal(cv_rtp_tevent_to_char(10), '*');
	assert_int_equal(cv_rtp_tevent_to_char(99), '?');
}

static void test_rtcp_roundtrip(void **state)
{
	(void)state;
	struct cv_rtcp_compound c = {0};
	c.ssrc = 0x11223344;
	c.has_sr = true;
	c.si.ntp = 0x0123456789abcdefull;
	c.si.rtp_ts = 8000;
	c.si.packets = 50;
	c.si.octets = 8000;
	c.n_rb = 2;
	c.rb[0] = (struct cv_rtcp_rb){.ssrc = 7,
				      .fraction_lost = 25,
				      .cum_lost = -3,
				      .ext_high_seq = 65540,
				      .jitter = 12,
				      .lsr = 0xabcd,
				      .dlsr = 65536};
	c.rb[1].ssrc = 8;
	c.rb[1].cum_lost = 0x7fffff;
	c.cname = CV_PL("user@host");
	c.has_xr_voip = true;
	c.xr_voip = (struct cv_rtcp_xr_voip){.ssrc = 7,
					     .loss_rate = 13,
					     .round_trip_delay = 45,
					     .end_system_delay = 60,
					     .signal_level = -20,
					     .noise_level = 127,
					     .rerl = 127,
					     .gmin = 16,
					     .r_factor = 89,
					     .ext_r_factor = 127,
					     .mos_lq = 43,
					     .mos_cq = 42,
					     .jb_nominal = 40,
					     .jb_maximum = 80,
					     .jb_abs_max = 200};
	c.has_app = true;
	c.app_subtype = 3;
	memcpy(c.app_name, "CVIP", 4);
	c.app_data = CV_PL("abcdefgh");
	c.has_bye = true;
	c.n_bye = 1;
	c.bye_ssrc[0] = 0x11223344;
	c.bye_reason = CV_PL("bye now");
	uint8_t buf[CV_RTCP_MAX_PACKET];
	size_t len;
	assert_int_equal(cv_rtcp_build(buf, sizeof(buf), &c, &len), 0);
	assert_int_equal(len % 4, 0);
	assert_true(cv_rtp_is_rtcp(buf, len));
	struct cv_rtcp_compound d;
	assert_int_equal(cv_rtcp_parse(&d, buf, len, false), 0);
	assert_int_equal(d.ssrc, c.ssrc);
	assert_true(d.has_sr);
	assert_true(d.si.ntp == c.si.ntp);
	assert_int_equal(d.si.packets, 50);
	assert_int_equal(d.n_rb, 2);
	assert_int_equal(d.rb[0].cum_lost, -3);
	assert_int_equal(d.rb[0].fraction_lost, 25);
	assert_int_equal(d.rb[0].ext_high_seq, 65540);
	assert_int_equal(d.rb[0].dlsr, 65536);
	assert_int_equal(d.rb[1].cum_lost, 0x7fffff);
	assert_true(cv_pl_eq_str(d.cname, "user@host"));
	assert_true(d.has_xr_voip);
	assert_memory_equal(&d.xr_voip, &c.xr_voip, sizeof(c.xr_voip));
	assert_true(d.has_app);
	assert_int_equal(d.app_subtype, 3);
	assert_memory_equal(d.app_name, "CVIP", 4);
	assert_true(cv_pl_eq_str(d.app_data, "abcdefgh"));
	assert_true(d.has_bye);
	assert_int_equal(d.bye_ssrc[0], 0x11223344);
	assert_true(cv_pl_eq_str(d.bye_reason, "bye now"));
	assert_int_equal(d.n_other, 0);

	/* Every truncation inside a packet is rejected; cutting at a packet
	 * boundary leaves a valid shorter compound. */
	bool boundary[CV_RTCP_MAX_PACKET + 1] = {false};
	for (size_t o = 0; o < len;
	     o += 4 * (size_t)((buf[o + 2] << 8 | buf[o + 3]) + 1))
		boundary[o] = true;
	boundary[0] = false;
	for (size_t l = 0; l < len; l++)
		assert_int_equal(cv_rtcp_parse(&d, buf, l, false) == 0,
				 boundary[l]);
	/* Lying length in the second packet (SDES). */
	size_t sr_len = 4 * (size_t)((buf[2] << 8 | buf[3]) + 1);
	uint8_t save = buf[sr_len + 3];
	buf[sr_len + 3] = 0xff;
	assert_int_equal(cv_rtcp_parse(&d, buf, len, false), CV_EPARSE);
	buf[sr_len + 3] = save;
	/* A report count larger than the packet. */
	buf[0] = (uint8_t)((buf[0] & 0xe0) | 5);
	assert_int_equal(cv_rtcp_parse(&d, buf, len, false), CV_EPARSE);
	buf[0] = (uint8_t)((buf[0] & 0xe0) | 2);
	/* Padding bit on the first (not last) packet. */
	buf[0] |= 0x20;
	assert_int_equal(cv_rtcp_parse(&d, buf, len, false), CV_EPARSE);
	buf[0] &= (uint8_t)~0x20;
	assert_int_equal(cv_rtcp_parse(&d, buf, len, false), 0);
	/* First packet must be SR/RR unless reduced-size (RFC 5506). */
	assert_int_equal(cv_rtcp_parse(&d, buf + sr_len, len - sr_len, false),
			 CV_EPARSE);
	assert_int_equal(cv_rtcp_parse(&d, buf + sr_len, len - sr_len, true),
			 0);
	assert_true(cv_pl_eq_str(d.cname, "user@host"));
}

static void test_rtcp_rr_min(void **state)
{
	(void)state;
	struct cv_rtcp_compound c = {.ssrc = 5};
	uint8_t buf[64];
	size_t len;
	assert_int_equal(cv_rtcp_build(buf, sizeof(buf), &c, &len), 0);
	assert_int_equal(len, 8);
	assert_int_equal(buf[1], CV_RTCP_RR);
	struct cv_rtcp_compound d;
	assert_int_equal(cv_rtcp_parse(&d, buf, len, false), 0);
	assert_true(d.has_rr);
	assert_int_equal(d.n_rb, 0);
	assert_int_equal(cv_rtcp_build(buf, 4, &c, &len), CV_ETOOBIG);
	/* XR with a bogus VoIP block length */
	uint8_t xr[8 + 8 + 36] = {0x80, 201, 0, 1, 0, 0, 0, 5, 0x80, 207,
				  0,	9,   0, 0, 0, 5, 7, 0, 0,    7};
	assert_int_equal(cv_rtcp_parse(&d, xr, sizeof(xr) - 4, false),
			 CV_EPARSE);
	/* Unknown XR block types are skipped */
	xr[16] = 42;
	assert_int_equal(cv_rtcp_parse(&d, xr, sizeof(xr) - 4, false), 0);
	assert_int_equal(d.n_other, 1);
	assert_false(d.has_xr_voip);
	/* NTP conversion: the Unix epoch is 2208988800 s after 1900. */
	uint64_t ntp = cv_rtcp_ntp_from_unix_us(1500000);
	assert_true((ntp >> 32) == 2208988801ull);
	assert_true((uint32_t)ntp == 0x80000000u);
	assert_int_equal(cv_rtcp_ntp_mid32(ntp),
			 (uint32_t)((2208988801ull << 16) | 0x8000));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rtp_roundtrip),
		cmocka_unit_test(test_rtp_bad),
		cmocka_unit_test(test_tevent),
		cmocka_unit_test(test_rtcp_roundtrip),
		cmocka_unit_test(test_rtcp_rr_min),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
