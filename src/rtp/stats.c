/* Reception statistics (RFC 3550 A.1 sequence, A.3 loss, A.8 jitter) and
 * the ITU-T G.107 E-model. */
#include <math.h>
#include <strings.h>

#include "rtp_int.h"

#define RTP_SEQ_MOD  (1u << 16)
#define MAX_DROPOUT  3000
#define MAX_MISORDER 100

static void init_seq(struct cv_rtp_source *s, uint16_t seq)
{
	s->base_seq = seq;
	s->max_seq = seq;
	s->bad_seq = RTP_SEQ_MOD + 1; /* so seq == bad_seq is false */
	s->cycles = 0;
	s->received = 0;
	s->received_prior = 0;
	s->expected_prior = 0;
	s->transit_valid = false;
	s->seen[0] = 1; /* bit 0: max_seq */
	s->seen[1] = 0;
}

void cv_rtp_source_init(struct cv_rtp_source *s, uint32_t ssrc, uint16_t seq,
			uint32_t clock_rate, unsigned probation)
{
	memset(s, 0, sizeof(*s));
	s->ssrc = ssrc;
	s->clock_rate = clock_rate ? clock_rate : 8000;
	init_seq(s, seq);
	/* Nothing seen yet: the first update with seq counts (probation 0). */
	s->seen[0] = 0;
	if (probation) {
		s->max_seq = (uint16_t)(seq - 1);
		s->probation = probation;
	}
}

/* 128-bit window of seen sequence numbers; bit i = max_seq - i. */
static void seen_shift(struct cv_rtp_source *s, unsigned d)
{
	if (d >= 128) {
		s->seen[0] = s->seen[1] = 0;
	} else if (d >= 64) {
		s->seen[1] = s->seen[0] << (d - 64);
		s->seen[0] = 0;
	} else if (d > 0) {
		s->seen[1] = (s->seen[1] << d) | (s->seen[0] >> (64 - d));
		s->seen[0] <<= d;
	}
}

static bool seen_test_set(struct cv_rtp_source *s, unsigned behind)
{
	uint64_t *w = &s->seen[behind / 64];
	uint64_t bit = 1ull << (behind % 64);
	bool was = *w & bit;
	*w |= bit;
	return was;
}

static void jitter_update(struct cv_rtp_source *s, uint32_t ts,
			  uint64_t arrival_us)
{
	/* A.8: arrival in timestamp units; differences are all that matter,
	 * so the 32-bit wrap is harmless. */
	uint32_t arrival = (uint32_t)(arrival_us * s->clock_rate / 1000000u);
	uint32_t transit = arrival - ts;
	if (s->transit_valid) {
		int32_t d = (int32_t)(transit - s->transit);
		uint32_t ad = d < 0 ? (uint32_t) - (int64_t)d : (uint32_t)d;
		/* J += (|D| - J) / 16, in q4 fixed point. */
		s->jitter_q4 += ad - ((s->jitter_q4 + 8) >> 4);
	}
	s->transit = transit;
	s->transit_valid = true;
}

int cv_rtp_source_update_ex(struct cv_rtp_source *s, uint16_t seq, uint32_t ts,
			    size_t payload_len, uint64_t arrival_us,
			    bool jitter)
{
	uint16_t udelta = (uint16_t)(seq - s->max_seq);
	if (s->probation) {
		/* A.1: a source is valid after MIN_SEQUENTIAL in-order packets.
		 */
		if (seq == (uint16_t)(s->max_seq + 1)) {
			s->probation--;
			s->max_seq = seq;
			if (s->probation == 0) {
				init_seq(s, seq);
				goto counted;
			}
		} else {
			s->probation = 1;
			s->max_seq = seq;
		}
		return 0;
	} else if (udelta == 0) {
		if (s->received == 0 && !(s->seen[0] & 1)) {
			s->seen[0] = 1; /* the source's first packet */
			goto counted;
		}
		s->duplicates++;
		return 0;
	} else if (udelta < MAX_DROPOUT) {
		/* In order, with a permissible gap. */
		if (seq < s->max_seq)
			s->cycles += RTP_SEQ_MOD;
		s->max_seq = seq;
		seen_shift(s, udelta);
		s->seen[0] |= 1;
	} else if (udelta <= RTP_SEQ_MOD - MAX_MISORDER) {
		/* A large jump: accept only once the next packet confirms it
		 * (the sender restarted), A.1. */
		if (seq == s->bad_seq) {
			uint64_t dup = s->duplicates, reo = s->reordered;
			init_seq(s, seq);
			s->duplicates = dup;
			s->reordered = reo;
		} else {
			s->bad_seq = (seq + 1u) & (RTP_SEQ_MOD - 1);
			return 0;
		}
	} else {
		/* Duplicate or reordered packet (behind max_seq). */
		unsigned behind = (uint16_t)(s->max_seq - seq);
		if (behind < 128 && seen_test_set(s, behind)) {
			s->duplicates++;
			return 0;
		}
		s->reordered++;
	}
counted:
	s->received++;
	s->bytes += payload_len;
	if (jitter)
		jitter_update(s, ts, arrival_us);
	return 1;
}

int cv_rtp_source_update(struct cv_rtp_source *s, uint16_t seq, uint32_t ts,
			 size_t payload_len, uint64_t arrival_us)
{
	return cv_rtp_source_update_ex(s, seq, ts, payload_len, arrival_us,
				       true);
}

uint32_t cv_rtp_source_ext_max(const struct cv_rtp_source *s)
{
	return s->cycles + s->max_seq;
}

uint32_t cv_rtp_source_expected(const struct cv_rtp_source *s)
{
	if (s->probation)
		return 0;
	return cv_rtp_source_ext_max(s) - s->base_seq + 1;
}

int64_t cv_rtp_source_lost(const struct cv_rtp_source *s)
{
	return (int64_t)cv_rtp_source_expected(s) - (int64_t)s->received;
}

uint8_t cv_rtp_source_fraction(struct cv_rtp_source *s)
{
	uint32_t expected = cv_rtp_source_expected(s);
	uint32_t exp_int = expected - s->expected_prior;
	s->expected_prior = expected;
	uint32_t rcv_int = (uint32_t)s->received - s->received_prior;
	s->received_prior = (uint32_t)s->received;
	int64_t lost_int = (int64_t)exp_int - (int64_t)rcv_int;
	if (exp_int == 0 || lost_int <= 0)
		return 0;
	return (uint8_t)(((uint64_t)lost_int << 8) / exp_int);
}

uint32_t cv_rtp_source_jitter(const struct cv_rtp_source *s)
{
	return s->jitter_q4 >> 4;
}

/* ---- E-model ------------------------------------------------------------
 * ITU-T G.107 (06/2015) with the default values of its Table 1 for every
 * parameter except delay (T = Ta, Tr = 2 Ta), Ie, Bpl, Ppl and BurstR. */

static const struct cv_rtp_codec_imp codec_table[] = {
	/* G.113 Appendix I, Table I.1 / I.3; PLC Bpl from G.711 Appendix I. */
	{"PCMU", 0, 4.3, 25.1, false},
	{"PCMA", 0, 4.3, 25.1, false},
	{"G711", 0, 4.3, 25.1, false},
	{"G729", 11, 19.0, 19.0, false},
	{"G723", 15, 16.1, 16.1, false},
	{"G726-32", 7, 4.3, 4.3, false},
	{"GSM", 20, 10.0, 10.0, false},
	{"iLBC", 11, 32.0, 32.0, false},
	/* Wideband codecs rated on the narrowband scale: no worse than G.711
	 * (G.107.1 gives wideband ones their own Ro,wb = 129 scale). */
	{"G722", 0, 4.3, 25.1, true},
	{"L16", 0, 4.3, 25.1, false},
	/* No ITU value; Opus' built-in PLC/FEC is about as robust as G.729's
	 * in published measurements, so Bpl ~ 20. */
	{"opus", 0, 20.0, 20.0, true},
};

int cv_rtp_codec_imp_find(const char *name, const struct cv_rtp_codec_imp **out)
{
	if (!name || !out)
		return -EINVAL;
	for (size_t i = 0; i < CV_ARRAY_SIZE(codec_table); i++) {
		if (!strcasecmp(codec_table[i].name, name)) {
			*out = &codec_table[i];
			return 0;
		}
	}
	return CV_ENOTFOUND;
}

/* G.107 Table 1 defaults. */
#define E_SLR  8.0
#define E_RLR  2.0
#define E_STMR 15.0
#define E_LSTR 18.0
#define E_DS   3.0
#define E_TELR 65.0
#define E_WEPL 110.0
#define E_QDU  1.0
#define E_NC   (-70.0)
#define E_NFOR (-64.0)
#define E_PS   35.0
#define E_PR   35.0
#define E_A    0.0

static double e_noise(void)
{
	double olr = E_SLR + E_RLR;
	double nos = E_PS - E_SLR - E_DS - 100 +
		     0.004 * pow(E_PS - olr - E_DS - 14, 2);
	double pre = E_PR + 10 * log10(1 + pow(10, (10 - E_LSTR) / 10));
	double nor = E_RLR - 121 + pre + 0.008 * pow(pre - 35, 2);
	double nfo = E_NFOR + E_RLR;
	return 10 * log10(pow(10, E_NC / 10) + pow(10, nos / 10) +
			  pow(10, nor / 10) + pow(10, nfo / 10));
}

double cv_rtp_emodel_r(const struct cv_rtp_emodel_in *in)
{
	double ta = in->delay_ms > 0 ? in->delay_ms : 0;
	double t = ta, tr = 2 * ta;
	double no = e_noise();
	double ro = 15 - 1.5 * (E_SLR + no);
	/* Simultaneous impairments Is = Iolr + Ist + Iq. */
	double olr = E_SLR + E_RLR;
	double xolr = olr + 0.2 * (64 + no - E_RLR);
	double iolr = 20 * (pow(1 + pow(xolr / 8, 8), 1.0 / 8) - xolr / 8);
	double stmro = -10 * log10(pow(10, -E_STMR / 10) +
				   exp(-t / 4) * pow(10, -E_TELR / 10));
	double ist = 12 * pow(1 + pow((stmro - 13) / 6, 8), 1.0 / 8) -
		     28 * pow(1 + pow((stmro + 1) / 19.4, 35), 1.0 / 35) -
		     13 * pow(1 + pow((stmro - 3) / 33, 13), 1.0 / 13) + 29;
	double q = 37 - 15 * log10(E_QDU);
	double g = 1.07 + 0.258 * q + 0.0602 * q * q;
	double y = (ro - 100) / 15 + 46 / 8.4 - g / 9;
	double z = 46 / 30.0 - g / 40;
	double iq = 15 * log10(1 + pow(10, y) + pow(10, z));
	double is = iolr + ist + iq;
	/* Delay impairments Id = Idte + Idle + Idd. */
	double roe = -1.5 * (no - E_RLR);
	double terv = E_TELR - 40 * log10((1 + t / 10) / (1 + t / 150)) +
		      6 * exp(-0.3 * t * t);
	double re = 80 + 2.5 * (terv - 14);
	double idte = ((roe - re) / 2 + sqrt(pow(roe - re, 2) / 4 + 100) - 1) *
		      (1 - exp(-t));
	double rle = 10.5 * (E_WEPL + 7) * pow(tr + 1, -0.25);
	double idle = (ro - rle) / 2 + sqrt(pow(ro - rle, 2) / 4 + 169);
	double idd = 0;
	if (ta > 100) {
		double x = log10(ta / 100) / log10(2);
		idd = 25 * (pow(1 + pow(x, 6), 1.0 / 6) -
			    3 * pow(1 + pow(x / 3, 6), 1.0 / 6) + 2);
	}
	double id = idte + idle + idd;
	/* Equipment impairment with packet loss (G.107 §7.2, eq. 7-29). */
	double ppl = in->ppl < 0 ? 0 : (in->ppl > 100 ? 100 : in->ppl);
	double burst = in->burst_r >= 1 ? in->burst_r : 1;
	double bpl = in->bpl > 0 ? in->bpl : 1;
	double ieeff = in->ie + (95 - in->ie) * ppl / (ppl / burst + bpl);
	double r = ro - is - id - ieeff + E_A;
	if (r < 0)
		r = 0;
	if (r > 100)
		r = 100;
	return r;
}

double cv_rtp_emodel_mos(double r)
{
	/* G.107 Annex B (B.4). */
	if (r <= 0)
		return 1.0;
	if (r >= 100)
		return 4.5;
	double mos = 1 + 0.035 * r + r * (r - 60) * (100 - r) * 7e-6;
	return mos < 1 ? 1 : (mos > 4.5 ? 4.5 : mos);
}

double cv_rtp_mos_for(const char *codec, bool plc, double loss_pct,
		      double delay_ms, double *r_out)
{
	const struct cv_rtp_codec_imp *ci = NULL;
	if (!codec || cv_rtp_codec_imp_find(codec, &ci))
		cv_rtp_codec_imp_find("PCMU", &ci);
	struct cv_rtp_emodel_in in = {
		.ie = ci->ie,
		.bpl = plc ? ci->bpl_plc : ci->bpl,
		.ppl = loss_pct,
		.burst_r = 1,
		.delay_ms = delay_ms,
	};
	double r = cv_rtp_emodel_r(&in);
	if (r_out)
		*r_out = r;
	return cv_rtp_emodel_mos(r);
}
