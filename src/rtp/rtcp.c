/* RTCP compound packets (RFC 3550 §6, A.2) and XR VoIP metrics (RFC 3611
 * §4.7): parse with every length checked, build, and the §6.3 interval. */
#include <math.h>

#include "rtp_int.h"

#define RTCP_HDR    4
#define RB_LEN	    24
#define SI_LEN	    20
#define XR_VOIP_BT  7
#define XR_VOIP_LEN 36

static void rb_parse(struct cv_rtcp_rb *rb, const uint8_t *p)
{
	rb->ssrc = cv_get32(p);
	rb->fraction_lost = p[4];
	uint32_t cl = cv_get24(p + 5);
	/* 24-bit two's complement (RFC 3550 §6.4.1: may go negative). */
	rb->cum_lost = (cl & 0x800000) ? (int32_t)cl - 0x1000000 : (int32_t)cl;
	rb->ext_high_seq = cv_get32(p + 8);
	rb->jitter = cv_get32(p + 12);
	rb->lsr = cv_get32(p + 16);
	rb->dlsr = cv_get32(p + 20);
}

static void rb_build(uint8_t *p, const struct cv_rtcp_rb *rb)
{
	int32_t cl = rb->cum_lost;
	if (cl > 0x7fffff)
		cl = 0x7fffff;
	if (cl < -0x800000)
		cl = -0x800000;
	cv_put32(p, rb->ssrc);
	p[4] = rb->fraction_lost;
	cv_put24(p + 5, (uint32_t)cl & 0xffffff);
	cv_put32(p + 8, rb->ext_high_seq);
	cv_put32(p + 12, rb->jitter);
	cv_put32(p + 16, rb->lsr);
	cv_put32(p + 20, rb->dlsr);
}

static int parse_rr_sr(struct cv_rtcp_compound *c, uint8_t type, unsigned count,
		       const uint8_t *b, size_t bl)
{
	size_t need = 4 + (type == CV_RTCP_SR ? SI_LEN : 0) + RB_LEN * count;
	if (bl < need)
		return CV_EPARSE;
	if (c->has_sr || c->has_rr) {
		c->n_other++;
		return 0;
	}
	c->ssrc = cv_get32(b);
	const uint8_t *p = b + 4;
	if (type == CV_RTCP_SR) {
		c->has_sr = true;
		c->si.ntp = ((uint64_t)cv_get32(p) << 32) | cv_get32(p + 4);
		c->si.rtp_ts = cv_get32(p + 8);
		c->si.packets = cv_get32(p + 12);
		c->si.octets = cv_get32(p + 16);
		p += SI_LEN;
	} else {
		c->has_rr = true;
	}
	c->n_rb = count;
	for (unsigned i = 0; i < count; i++, p += RB_LEN)
		rb_parse(&c->rb[i], p);
	/* Profile-specific extensions may follow the blocks: ignored. */
	return 0;
}

/* RFC 3550 §6.5: chunks of SSRC + items, each chunk ends with a null item
 * and is padded to a 32-bit boundary. */
static int parse_sdes(struct cv_rtcp_compound *c, unsigned count,
		      const uint8_t *b, size_t bl, bool *first_cname_set)
{
	size_t off = 0;
	for (unsigned i = 0; i < count; i++) {
		if (bl - off < 4)
			return CV_EPARSE;
		uint32_t ssrc = cv_get32(b + off);
		off += 4;
		for (;;) {
			if (off >= bl)
				return CV_EPARSE;
			uint8_t type = b[off];
			if (type == 0) {
				off = (off + 4) & ~(size_t)3;
				if (off > bl)
					return CV_EPARSE;
				break;
			}
			if (bl - off < 2)
				return CV_EPARSE;
			uint8_t ilen = b[off + 1];
			if (bl - off - 2 < ilen)
				return CV_EPARSE;
			if (type == 1 && !*first_cname_set &&
			    (ssrc == c->ssrc || (!c->has_sr && !c->has_rr))) {
				c->cname.p = (const char *)b + off + 2;
				c->cname.l = ilen;
				*first_cname_set = true;
			}
			off += 2u + ilen;
		}
	}
	return 0;
}

static int parse_bye(struct cv_rtcp_compound *c, unsigned count,
		     const uint8_t *b, size_t bl)
{
	if (bl < 4u * count)
		return CV_EPARSE;
	size_t off = 4u * count;
	struct cv_pl reason = CV_PL_INIT;
	if (bl > off) {
		uint8_t rl = b[off];
		if (bl - off - 1 < rl)
			return CV_EPARSE;
		reason.p = (const char *)b + off + 1;
		reason.l = rl;
	}
	if (c->has_bye) {
		c->n_other++;
		return 0;
	}
	c->has_bye = true;
	c->n_bye = count;
	for (unsigned i = 0; i < count; i++)
		c->bye_ssrc[i] = cv_get32(b + 4 * i);
	c->bye_reason = reason;
	return 0;
}

static int parse_app(struct cv_rtcp_compound *c, unsigned subtype,
		     const uint8_t *b, size_t bl)
{
	if (bl < 8)
		return CV_EPARSE;
	if (c->has_app) {
		c->n_other++;
		return 0;
	}
	c->has_app = true;
	c->app_subtype = (uint8_t)subtype;
	memcpy(c->app_name, b + 4, 4);
	c->app_data.p = (const char *)b + 8;
	c->app_data.l = bl - 8;
	return 0;
}

static void xr_voip_parse(struct cv_rtcp_xr_voip *v, const uint8_t *p)
{
	v->ssrc = cv_get32(p);
	v->loss_rate = p[4];
	v->discard_rate = p[5];
	v->burst_density = p[6];
	v->gap_density = p[7];
	v->burst_duration = cv_get16(p + 8);
	v->gap_duration = cv_get16(p + 10);
	v->round_trip_delay = cv_get16(p + 12);
	v->end_system_delay = cv_get16(p + 14);
	v->signal_level = (int8_t)p[16];
	v->noise_level = (int8_t)p[17];
	v->rerl = p[18];
	v->gmin = p[19];
	v->r_factor = p[20];
	v->ext_r_factor = p[21];
	v->mos_lq = p[22];
	v->mos_cq = p[23];
	v->rx_config = p[24];
	v->jb_nominal = cv_get16(p + 26);
	v->jb_maximum = cv_get16(p + 28);
	v->jb_abs_max = cv_get16(p + 30);
}

static void xr_voip_build(uint8_t *p, const struct cv_rtcp_xr_voip *v)
{
	p[0] = XR_VOIP_BT;
	p[1] = 0;
	cv_put16(p + 2, 8);
	p += 4;
	cv_put32(p, v->ssrc);
	p[4] = v->loss_rate;
	p[5] = v->discard_rate;
	p[6] = v->burst_density;
	p[7] = v->gap_density;
	cv_put16(p + 8, v->burst_duration);
	cv_put16(p + 10, v->gap_duration);
	cv_put16(p + 12, v->round_trip_delay);
	cv_put16(p + 14, v->end_system_delay);
	p[16] = (uint8_t)v->signal_level;
	p[17] = (uint8_t)v->noise_level;
	p[18] = v->rerl;
	p[19] = v->gmin;
	p[20] = v->r_factor;
	p[21] = v->ext_r_factor;
	p[22] = v->mos_lq;
	p[23] = v->mos_cq;
	p[24] = v->rx_config;
	p[25] = 0;
	cv_put16(p + 26, v->jb_nominal);
	cv_put16(p + 28, v->jb_maximum);
	cv_put16(p + 30, v->jb_abs_max);
}

/* RFC 3611 §3: SSRC of the sender, then blocks of BT, type-specific,
 * block length (words - 1, excluding the 4-octet block header). */
static int parse_xr(struct cv_rtcp_compound *c, const uint8_t *b, size_t bl)
{
	if (bl < 4)
		return CV_EPARSE;
	if (!c->has_sr && !c->has_rr && c->ssrc == 0)
		c->ssrc = cv_get32(b);
	size_t off = 4;
	unsigned blocks = 0;
	while (off < bl) {
		if (bl - off < 4 || ++blocks > 64)
			return CV_EPARSE;
		uint8_t bt = b[off];
		size_t blen = 4u * cv_get16(b + off + 2);
		if (bl - off - 4 < blen)
			return CV_EPARSE;
		if (bt == XR_VOIP_BT) {
			if (blen != XR_VOIP_LEN - 4)
				return CV_EPARSE;
			if (!c->has_xr_voip) {
				c->has_xr_voip = true;
				xr_voip_parse(&c->xr_voip, b + off + 4);
			} else {
				c->n_other++;
			}
		} else {
			c->n_other++;
		}
		off += 4 + blen;
	}
	return 0;
}

int cv_rtcp_parse(struct cv_rtcp_compound *c, const uint8_t *buf, size_t len,
		  bool reduced_size)
{
	if (!c || !buf)
		return -EINVAL;
	memset(c, 0, sizeof(*c));
	if (len < RTCP_HDR || len % 4)
		return CV_EPARSE;
	/* RFC 3550 A.2: the first packet is SR or RR without padding. */
	if (!reduced_size && ((buf[0] & 0xe0) != 0x80 ||
			      (buf[1] != CV_RTCP_SR && buf[1] != CV_RTCP_RR)))
		return CV_EPARSE;
	bool cname_set = false;
	size_t off = 0;
	unsigned npkt = 0;
	while (off < len) {
		if (len - off < RTCP_HDR || ++npkt > 64)
			return CV_EPARSE;
		const uint8_t *p = buf + off;
		if ((p[0] >> 6) != 2)
			return CV_EPARSE;
		bool pad = p[0] & 0x20;
		unsigned count = p[0] & 0x1f;
		uint8_t type = p[1];
		size_t plen = 4u * ((size_t)cv_get16(p + 2) + 1);
		if (plen > len - off)
			return CV_EPARSE;
		size_t bl = plen - RTCP_HDR;
		if (pad) {
			/* Only the last packet of a compound may be padded. */
			if (off + plen != len)
				return CV_EPARSE;
			uint8_t pl = p[plen - 1];
			if (pl == 0 || pl > bl)
				return CV_EPARSE;
			bl -= pl;
		}
		const uint8_t *b = p + RTCP_HDR;
		int err = 0;
		switch (type) {
		case CV_RTCP_SR:
		case CV_RTCP_RR:
			err = parse_rr_sr(c, type, count, b, bl);
			break;
		case CV_RTCP_SDES:
			err = parse_sdes(c, count, b, bl, &cname_set);
			break;
		case CV_RTCP_BYE:
			err = parse_bye(c, count, b, bl);
			break;
		case CV_RTCP_APP:
			err = parse_app(c, count, b, bl);
			break;
		case CV_RTCP_XR:
			err = parse_xr(c, b, bl);
			break;
		default:
			if (type < 192 || type > 223)
				return CV_EPARSE;
			c->n_other++;
			break;
		}
		if (err)
			return err;
		off += plen;
	}
	if (!c->has_sr && !c->has_rr && npkt > 0 && c->ssrc == 0 && len >= 8)
		c->ssrc = cv_get32(buf + 4);
	return 0;
}

static void hdr_build(uint8_t *p, unsigned count, uint8_t type, size_t plen)
{
	p[0] = (uint8_t)(0x80 | (count & 0x1f));
	p[1] = type;
	cv_put16(p + 2, (uint16_t)(plen / 4 - 1));
}

int cv_rtcp_build(uint8_t *buf, size_t size, const struct cv_rtcp_compound *c,
		  size_t *outlen)
{
	if (!buf || !c || c->n_rb > CV_RTCP_MAX_RB ||
	    c->n_bye > CV_RTCP_MAX_BYE || c->cname.l > 255 ||
	    c->bye_reason.l > 255 || (c->cname.l && !c->cname.p) ||
	    (c->bye_reason.l && !c->bye_reason.p) ||
	    (c->app_data.l && !c->app_data.p) || c->app_data.l % 4 ||
	    c->app_subtype > 31 || c->app_data.l > 4 * 0xfff0)
		return -EINVAL;
	size_t off = 0;
	/* SR or RR */
	size_t plen = 8 + (c->has_sr ? SI_LEN : 0) + RB_LEN * c->n_rb;
	if (plen > size)
		return CV_ETOOBIG;
	uint8_t *p = buf;
	hdr_build(p, c->n_rb, c->has_sr ? CV_RTCP_SR : CV_RTCP_RR, plen);
	cv_put32(p + 4, c->ssrc);
	uint8_t *q = p + 8;
	if (c->has_sr) {
		cv_put32(q, (uint32_t)(c->si.ntp >> 32));
		cv_put32(q + 4, (uint32_t)c->si.ntp);
		cv_put32(q + 8, c->si.rtp_ts);
		cv_put32(q + 12, c->si.packets);
		cv_put32(q + 16, c->si.octets);
		q += SI_LEN;
	}
	for (unsigned i = 0; i < c->n_rb; i++, q += RB_LEN)
		rb_build(q, &c->rb[i]);
	off += plen;
	if (c->cname.l) {
		/* SSRC, CNAME item, null terminator, pad to 32 bits. */
		plen = (4 + 4 + 2 + c->cname.l + 1 + 3) & ~(size_t)3;
		if (plen > size - off)
			return CV_ETOOBIG;
		p = buf + off;
		memset(p, 0, plen);
		hdr_build(p, 1, CV_RTCP_SDES, plen);
		cv_put32(p + 4, c->ssrc);
		p[8] = 1;
		p[9] = (uint8_t)c->cname.l;
		memcpy(p + 10, c->cname.p, c->cname.l);
		off += plen;
	}
	if (c->has_xr_voip) {
		plen = 8 + XR_VOIP_LEN;
		if (plen > size - off)
			return CV_ETOOBIG;
		p = buf + off;
		hdr_build(p, 0, CV_RTCP_XR, plen);
		cv_put32(p + 4, c->ssrc);
		xr_voip_build(p + 8, &c->xr_voip);
		off += plen;
	}
	if (c->has_app) {
		plen = 12 + c->app_data.l;
		if (plen > size - off)
			return CV_ETOOBIG;
		p = buf + off;
		hdr_build(p, c->app_subtype, CV_RTCP_APP, plen);
		cv_put32(p + 4, c->ssrc);
		memcpy(p + 8, c->app_name, 4);
		if (c->app_data.l)
			memcpy(p + 12, c->app_data.p, c->app_data.l);
		off += plen;
	}
	if (c->has_bye) {
		size_t rl = c->bye_reason.l
				    ? (1 + c->bye_reason.l + 3) & ~(size_t)3
				    : 0;
		plen = 4 + 4 * c->n_bye + rl;
		if (plen > size - off)
			return CV_ETOOBIG;
		p = buf + off;
		memset(p, 0, plen);
		hdr_build(p, c->n_bye, CV_RTCP_BYE, plen);
		for (unsigned i = 0; i < c->n_bye; i++)
			cv_put32(p + 4 + 4 * i, c->bye_ssrc[i]);
		if (rl) {
			p[4 + 4 * c->n_bye] = (uint8_t)c->bye_reason.l;
			memcpy(p + 5 + 4 * c->n_bye, c->bye_reason.p,
			       c->bye_reason.l);
		}
		off += plen;
	}
	if (outlen)
		*outlen = off;
	return 0;
}

uint64_t cv_rtcp_ntp_from_unix_us(uint64_t unix_us)
{
	/* 2208988800 s between 1900-01-01 and 1970-01-01. */
	uint64_t sec = unix_us / 1000000 + 2208988800ull;
	uint64_t frac = ((unix_us % 1000000) << 32) / 1000000;
	return (sec << 32) | frac;
}

/* RFC 3550 §6.3.1 and A.7 rtcp_interval(). */
double cv_rtcp_interval_det(const struct cv_rtcp_interval_in *in)
{
	return cv_rtcp_interval_raw(in, in->initial ? 2.5 : 5.0);
}

double cv_rtcp_interval_raw(const struct cv_rtcp_interval_in *in,
			    double rtcp_min)
{
	double bw = in->rtcp_bw > 0 ? in->rtcp_bw : 400.0; /* 5% of 64 kbit/s */
	double n = in->members ? in->members : 1;
	/* Senders get 25% of the RTCP bandwidth when they are <= 25%. */
	if (in->senders > 0 && in->senders <= in->members * 0.25) {
		if (in->we_sent) {
			bw *= 0.25;
			n = in->senders;
		} else {
			bw *= 0.75;
			n -= in->senders;
		}
	}
	double size = in->avg_rtcp_size > 0 ? in->avg_rtcp_size : 100;
	double t = size * n / bw;
	return t < rtcp_min ? rtcp_min : t;
}

double cv_rtcp_interval(const struct cv_rtcp_interval_in *in)
{
	double t = cv_rtcp_interval_det(in);
	/* Randomise to [0.5, 1.5] x and compensate for timer reconsideration
	 * (divide by e - 3/2 = 1.21828). */
	double u = (double)cv_random_u32() / 4294967296.0;
	return t * (u + 0.5) / 1.21828;
}
