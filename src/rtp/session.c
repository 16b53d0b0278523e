/* RTP session on a worker loop (RFC 3550): sockets, send/receive, SSRC and
 * sequence handling, symmetric RTP latching with a hijack guard, SRTP, RTCP
 * reports at the §6.2 intervals, and statistics. */
#include <math.h>
#include <netinet/in.h>
#include <unistd.h>

#include "rtp_int.h"

#define TX_BUF (CV_RTP_MAX_PACKET + CV_SRTP_MAX_TRAILER)
#define RX_BUF 2048

struct sock {
	uv_poll_t poll;
	int fd;
	bool rtcp;
	bool open;
	struct cv_rtp_session *s;
};

struct cv_rtp_session {
	struct cv_rtp_params p;
	char cname[64];
	char codec[32];
	struct sock rtp, rtcp;
	uv_timer_t timer;
	bool timer_open;
	bool closing;
	unsigned open_handles;
	uint16_t port;
	bool mux;

	/* sending */
	uint32_t ssrc;
	uint16_t seq;
	uint32_t ts_offset;
	uint32_t last_ts;
	uint64_t last_tx_us;
	uint64_t tx_packets, tx_bytes, tx_errors, rtcp_sent;
	uint64_t tx_packets_at_rtcp; /* for "we_sent" */
	bool we_sent;

	/* remote addresses: signalled and latched */
	bool have_signalled;
	struct sockaddr_storage sig_rtp, sig_rtcp;
	bool latched;
	struct sockaddr_storage rem_rtp, rem_rtcp;
	bool rtcp_latched;
	uint64_t latch_deadline_us;
	uint64_t last_rx_us;

	/* receiving */
	bool have_src;
	struct cv_rtp_source src;
	uint32_t cand_ssrc; /* a new SSRC waiting for confirmation */
	unsigned cand_count;
	uint16_t cand_seq;
	int64_t lost_before; /* lost of earlier sources */
	uint32_t expected_before;
	uint64_t rx_packets, rx_bytes, rx_dups, rx_reord;
	uint32_t ssrc_changes;
	uint8_t last_fraction;
	uint64_t rtcp_received;
	uint64_t drop_malformed, drop_address, drop_ssrc, drop_auth, drop_flood;
	uint32_t last_ovfl[2];
	bool tev_valid, tev_ended;
	uint32_t tev_ts;

	/* RTCP state */
	uint32_t lsr; /* middle 32 bits of the last SR's NTP */
	uint64_t lsr_rx_us;
	double avg_rtcp_size;
	bool rtcp_initial;
	bool remote_valid;
	double remote_fraction;
	int32_t remote_lost;
	double remote_jitter_ms;
	double rtt_ms;
	uint32_t playout_ms;

	struct cv_srtp *srtp_tx, *srtp_rx;
	uint8_t rxbuf[RX_BUF];
};

static uint64_t now_us(void)
{
	return cv_clock_us();
}

static double u_to_ms(uint32_t ts_units, uint32_t rate)
{
	return rate ? (double)ts_units * 1000.0 / rate : 0;
}

static void handle_closed(uv_handle_t *h)
{
	struct cv_rtp_session *s = h->data;
	cv_mem_unref(s);
}

static void session_dtor(void *obj)
{
	struct cv_rtp_session *s = obj;
	cv_srtp_destroy(s->srtp_tx);
	cv_srtp_destroy(s->srtp_rx);
}

/* ---- sending --------------------------------------------------------------
 */

static int send_to(struct cv_rtp_session *s, int fd, const uint8_t *buf,
		   size_t len, const struct sockaddr_storage *to)
{
	ssize_t n = sendto(fd, buf, len, 0, (const struct sockaddr *)to,
			   cv_rtp_sa_len((const struct sockaddr *)to));
	if (n < 0) {
		s->tx_errors++;
		return -errno;
	}
	return 0;
}

int cv_rtp_send(struct cv_rtp_session *s, const struct cv_rtp_tx *tx)
{
	if (!s || !tx || s->closing || tx->pt > 127 ||
	    (tx->len && !tx->payload))
		return -EINVAL;
	if (!s->latched)
		return -ENOTCONN;
	if (tx->len > CV_RTP_MAX_PACKET - CV_RTP_HDR_LEN)
		return CV_ETOOBIG;
	uint8_t buf[TX_BUF];
	struct cv_rtp_hdr h = {
		.marker = tx->marker,
		.pt = tx->pt,
		.seq = s->seq,
		.ts = tx->ts + s->ts_offset,
		.ssrc = s->ssrc,
	};
	size_t len;
	int err =
		cv_rtp_build(buf, sizeof(buf), &h, tx->payload, tx->len, &len);
	if (err)
		return err;
	if (s->srtp_tx) {
		err = cv_srtp_protect(s->srtp_tx, buf, &len, sizeof(buf));
		if (err) {
			s->tx_errors++;
			return err;
		}
	}
	s->seq++;
	s->last_ts = h.ts;
	s->last_tx_us = now_us();
	err = send_to(s, s->rtp.fd, buf, len, &s->rem_rtp);
	if (err)
		return err;
	s->tx_packets++;
	s->tx_bytes += tx->len;
	return 0;
}

static double session_r(const struct cv_rtp_session *s, double *mos)
{
	double loss = 0;
	uint32_t expected = s->expected_before +
			    (s->have_src ? cv_rtp_source_expected(&s->src) : 0);
	int64_t lost = s->lost_before +
		       (s->have_src ? cv_rtp_source_lost(&s->src) : 0);
	if (expected > 0 && lost > 0)
		loss = 100.0 * (double)lost / expected;
	double delay = s->playout_ms + (s->rtt_ms >= 0 ? s->rtt_ms / 2 : 0);
	double r;
	*mos = cv_rtp_mos_for(s->codec, s->p.plc, loss, delay, &r);
	return r;
}

static int build_rtcp(struct cv_rtp_session *s, bool bye, uint8_t *buf,
		      size_t size, size_t *len)
{
	struct cv_rtcp_compound c;
	memset(&c, 0, sizeof(c));
	c.ssrc = s->ssrc;
	uint64_t now = now_us();
	/* RFC 3550 §6.4: SR if we sent data since the last report. */
	s->we_sent = s->tx_packets != s->tx_packets_at_rtcp;
	s->tx_packets_at_rtcp = s->tx_packets;
	if (s->we_sent) {
		c.has_sr = true;
		c.si.ntp = cv_rtcp_ntp_from_unix_us(cv_clock_wall_us());
		uint32_t rate = s->p.clock_rate;
		c.si.rtp_ts = s->last_ts + (uint32_t)((now - s->last_tx_us) *
						      rate / 1000000u);
		c.si.packets = (uint32_t)s->tx_packets;
		c.si.octets = (uint32_t)s->tx_bytes;
	}
	if (s->have_src) {
		struct cv_rtcp_rb *rb = &c.rb[c.n_rb++];
		rb->ssrc = s->src.ssrc;
		rb->fraction_lost = s->last_fraction =
			cv_rtp_source_fraction(&s->src);
		int64_t lost = cv_rtp_source_lost(&s->src);
		rb->cum_lost = lost > 0x7fffff
				       ? 0x7fffff
				       : (lost < -0x800000 ? -0x800000
							   : (int32_t)lost);
		rb->ext_high_seq = cv_rtp_source_ext_max(&s->src);
		rb->jitter = cv_rtp_source_jitter(&s->src);
		if (s->lsr_rx_us) {
			rb->lsr = s->lsr;
			/* DLSR in 1/65536 s (RFC 3550 §6.4.1). */
			rb->dlsr = (uint32_t)((now - s->lsr_rx_us) * 65536 /
					      1000000);
		}
	}
	c.cname = cv_pl_str(s->cname);
	if (s->p.rtcp_xr && s->have_src) {
		/* RFC 3611 §4.7 VoIP metrics of the received stream. */
		struct cv_rtcp_xr_voip *v = &c.xr_voip;
		c.has_xr_voip = true;
		v->ssrc = s->src.ssrc;
		uint32_t exp = cv_rtp_source_expected(&s->src);
		int64_t lost = cv_rtp_source_lost(&s->src);
		v->loss_rate = exp && lost > 0
				       ? (uint8_t)CV_MIN(255, lost * 256 / exp)
				       : 0;
		v->round_trip_delay =
			s->rtt_ms >= 0 ? (uint16_t)CV_MIN(65535, s->rtt_ms) : 0;
		v->end_system_delay = (uint16_t)CV_MIN(65535, s->playout_ms);
		v->signal_level = 127;
		v->noise_level = 127;
		v->rerl = 127;
		v->gmin = 16;
		double mos;
		double r = session_r(s, &mos);
		v->r_factor = (uint8_t)lround(r);
		v->ext_r_factor = 127;
		v->mos_lq = (uint8_t)lround(mos * 10);
		v->mos_cq = v->mos_lq;
		v->jb_nominal = (uint16_t)CV_MIN(65535, s->playout_ms);
		v->jb_maximum = v->jb_nominal;
		v->jb_abs_max = v->jb_nominal;
	}
	if (bye) {
		c.has_bye = true;
		c.n_bye = 1;
		c.bye_ssrc[0] = s->ssrc;
	}
	return cv_rtcp_build(buf, size, &c, len);
}

int cv_rtp_send_rtcp(struct cv_rtp_session *s, bool bye)
{
	if (!s || s->closing)
		return -EINVAL;
	if (!s->latched)
		return -ENOTCONN;
	uint8_t buf[TX_BUF];
	size_t len;
	int err = build_rtcp(s, bye, buf, CV_RTCP_MAX_PACKET, &len);
	if (err)
		return err;
	s->avg_rtcp_size = len / 16.0 + s->avg_rtcp_size * 15 / 16;
	if (s->srtp_tx) {
		err = cv_srtp_protect_rtcp(s->srtp_tx, buf, &len, sizeof(buf));
		if (err)
			return err;
	}
	const struct sockaddr_storage *to = s->mux ? &s->rem_rtp : &s->rem_rtcp;
	int fd = s->mux ? s->rtp.fd : s->rtcp.fd;
	err = send_to(s, fd, buf, len, to);
	if (!err)
		s->rtcp_sent++;
	return err;
}

static void rtcp_schedule(struct cv_rtp_session *s);

static void rtcp_timer_cb(uv_timer_t *t)
{
	struct cv_rtp_session *s = t->data;
	if (s->closing)
		return;
	if (s->latched)
		(void)cv_rtp_send_rtcp(s, false);
	rtcp_schedule(s);
}

static void rtcp_schedule(struct cv_rtp_session *s)
{
	if (s->p.rtcp_disable || !s->timer_open)
		return;
	struct cv_rtcp_interval_in in = {
		.members = 2,
		.senders = (s->we_sent ? 1u : 0u) + (s->have_src ? 1u : 0u),
		.rtcp_bw = s->p.session_bw * 0.05 / 8,
		.we_sent = s->we_sent,
		.avg_rtcp_size = s->avg_rtcp_size,
		.initial = s->rtcp_initial,
	};
	/* The §6.2 minimum (5 s unless configured, halved for the first
	 * report). */
	double tmin = s->p.rtcp_min_ms / 1000.0 * (s->rtcp_initial ? 0.5 : 1);
	double det = cv_rtcp_interval_raw(&in, tmin);
	double u = (double)cv_random_u32() / 4294967296.0;
	double t = det * (u + 0.5) / 1.21828;
	s->rtcp_initial = false;
	uint64_t ms = (uint64_t)(t * 1000);
	uv_timer_start(&s->timer, rtcp_timer_cb, ms ? ms : 1, 0);
}

/* ---- receiving ------------------------------------------------------------
 */

static bool may_latch(const struct cv_rtp_session *s, uint64_t now)
{
	if (s->p.latch_disable)
		return !s->latched;
	if (!s->latched || now < s->latch_deadline_us)
		return true;
	/* The latched source went silent: let a new one take over. */
	return now - s->last_rx_us >= (uint64_t)s->p.latch_silence_ms * 1000;
}

static void on_rtcp(struct cv_rtp_session *s, uint8_t *buf, size_t len,
		    const struct sockaddr *from, bool on_rtp_port)
{
	if (s->srtp_rx) {
		if (cv_srtp_unprotect_rtcp(s->srtp_rx, buf, &len)) {
			s->drop_auth++;
			return;
		}
	}
	struct cv_rtcp_compound c;
	if (cv_rtcp_parse(&c, buf, len, true)) {
		s->drop_malformed++;
		return;
	}
	/* RTCP from the media source's host; latch its port. */
	if (!on_rtp_port) {
		const struct sockaddr *ref =
			(const struct sockaddr *)&s->rem_rtp;
		bool same_host =
			s->latched && ref->sa_family == from->sa_family;
		if (same_host && from->sa_family == AF_INET)
			same_host =
				((const struct sockaddr_in *)(const void *)ref)
					->sin_addr.s_addr ==
				((const struct sockaddr_in *)(const void *)from)
					->sin_addr.s_addr;
		else if (same_host)
			same_host = !memcmp(
				&((const struct sockaddr_in6 *)(const void *)
					  ref)
					 ->sin6_addr,
				&((const struct sockaddr_in6 *)(const void *)
					  from)
					 ->sin6_addr,
				16);
		if (!same_host &&
		    !cv_rtp_sa_eq(from,
				  (const struct sockaddr *)&s->rem_rtcp)) {
			s->drop_address++;
			return;
		}
		if (!s->p.latch_disable)
			cv_rtp_sa_copy(&s->rem_rtcp, from);
		s->rtcp_latched = true;
	}
	s->rtcp_received++;
	s->avg_rtcp_size = len / 16.0 + s->avg_rtcp_size * 15 / 16;
	uint64_t now = now_us();
	if (c.has_sr) {
		s->lsr = cv_rtcp_ntp_mid32(c.si.ntp);
		s->lsr_rx_us = now ? now : 1;
	}
	for (unsigned i = 0; i < c.n_rb; i++) {
		const struct cv_rtcp_rb *rb = &c.rb[i];
		if (rb->ssrc != s->ssrc)
			continue;
		s->remote_valid = true;
		s->remote_fraction = rb->fraction_lost / 256.0;
		s->remote_lost = rb->cum_lost;
		s->remote_jitter_ms = u_to_ms(rb->jitter, s->p.clock_rate);
		if (rb->lsr) {
			/* RFC 3550 §6.4.1: RTT = A - LSR - DLSR, 1/65536 s. */
			uint32_t a = cv_rtcp_ntp_mid32(
				cv_rtcp_ntp_from_unix_us(cv_clock_wall_us()));
			uint32_t rtt = a - rb->lsr - rb->dlsr;
			if ((int32_t)rtt >= 0)
				s->rtt_ms = rtt * 1000.0 / 65536.0;
		}
	}
	if (c.ssrc == s->ssrc && c.ssrc) {
		/* RFC 3550 §8.2: the peer uses our SSRC; we change ours. */
		(void)cv_rtp_send_rtcp(s, true);
		s->ssrc = cv_random_u32();
	}
	if (s->p.h && s->p.h->rtcp)
		s->p.h->rtcp(s, &c, s->p.arg);
}

static void src_switch(struct cv_rtp_session *s, uint32_t ssrc, uint16_t seq)
{
	uint32_t old = s->src.ssrc;
	bool had = s->have_src;
	if (had) {
		s->lost_before += cv_rtp_source_lost(&s->src);
		s->expected_before += cv_rtp_source_expected(&s->src);
		s->rx_dups += s->src.duplicates;
		s->rx_reord += s->src.reordered;
		s->ssrc_changes++;
	}
	/* Probation 0: the address guard and SRTP already validated it. */
	cv_rtp_source_init(&s->src, ssrc, seq, s->p.clock_rate, 0);
	s->have_src = true;
	s->tev_valid = false;
	s->cand_count = 0;
	if (had && s->p.h && s->p.h->ssrc_change)
		s->p.h->ssrc_change(s, old, ssrc, s->p.arg);
}

static void on_rtp(struct cv_rtp_session *s, uint8_t *buf, size_t len,
		   const struct sockaddr *from)
{
	uint64_t now = now_us();
	bool known = s->latched &&
		     cv_rtp_sa_eq(from, (const struct sockaddr *)&s->rem_rtp);
	if (!known && !may_latch(s, now)) {
		s->drop_address++;
		return;
	}
	if (s->srtp_rx) {
		if (cv_srtp_unprotect(s->srtp_rx, buf, &len)) {
			s->drop_auth++;
			return;
		}
	}
	struct cv_rtp_pkt pkt;
	if (cv_rtp_parse(&pkt, buf, len)) {
		s->drop_malformed++;
		return;
	}
	if (pkt.hdr.ssrc == s->ssrc && s->tx_packets > 0 && !known) {
		/* RFC 3550 §8.2 collision with a third party, or a loop. */
		s->drop_ssrc++;
		return;
	}
	if (!known) {
		/* Symmetric RTP (RFC 4961): answer where media comes from. */
		cv_rtp_sa_copy(&s->rem_rtp, from);
		if (!s->rtcp_latched) {
			cv_rtp_sa_copy(&s->rem_rtcp, from);
			if (!s->mux)
				cv_rtp_sa_set_port(
					&s->rem_rtcp,
					(uint16_t)(cv_rtp_sa_port(&s->rem_rtp) +
						   1));
		}
		if (s->latched)
			CV_LOG_RL(CV_LOG_INFO, CV_RTP_MOD,
				  "rtp: re-latched port=%u",
				  cv_rtp_sa_port(&s->rem_rtp));
		s->latched = true;
	}
	s->last_rx_us = now;
	if (!s->have_src) {
		src_switch(s, pkt.hdr.ssrc, pkt.hdr.seq);
	} else if (pkt.hdr.ssrc != s->src.ssrc) {
		/* A new SSRC takes over after two consecutive packets, so a
		 * stray packet cannot reset the stream (RFC 3550 §8.2, A.1). */
		if (s->cand_count && pkt.hdr.ssrc == s->cand_ssrc &&
		    pkt.hdr.seq == (uint16_t)(s->cand_seq + 1)) {
			/* The confirming pair: count the first one too. */
			src_switch(s, pkt.hdr.ssrc, s->cand_seq);
			s->src.received = 1;
			s->src.seen[0] = 1;
			s->rx_packets++;
		} else {
			s->cand_ssrc = pkt.hdr.ssrc;
			s->cand_seq = pkt.hdr.seq;
			s->cand_count = 1;
			s->drop_ssrc++;
			return;
		}
	} else {
		s->cand_count = 0;
	}
	bool tev = s->p.tevent_pt > 0 && pkt.hdr.pt == s->p.tevent_pt;
	int r = cv_rtp_source_update_ex(&s->src, pkt.hdr.seq, pkt.hdr.ts,
					pkt.payload_len, now, !tev);
	if (r <= 0)
		return; /* duplicate or unconfirmed jump: counted in src */
	s->rx_packets++;
	s->rx_bytes += pkt.payload_len;
	if (tev && s->p.h && s->p.h->tevent) {
		struct cv_rtp_tevent ev;
		if (cv_rtp_tevent_parse(&ev, pkt.payload, pkt.payload_len)) {
			s->drop_malformed++;
			return;
		}
		bool is_new = !s->tev_valid || pkt.hdr.ts != s->tev_ts;
		if (is_new) {
			s->tev_valid = true;
			s->tev_ts = pkt.hdr.ts;
			s->tev_ended = false;
		} else if (s->tev_ended) {
			return; /* RFC 4733 §2.5.1.4 end retransmission */
		}
		if (ev.end)
			s->tev_ended = true;
		s->p.h->tevent(s, &ev, pkt.hdr.ts, is_new, s->p.arg);
		return;
	}
	if (s->p.h && s->p.h->packet)
		s->p.h->packet(s, &pkt, s->p.arg);
}

void cv_rtp_session_input(struct cv_rtp_session *s, uint8_t *buf, size_t len,
			  const struct sockaddr *from, bool rtcp)
{
	if (!s || !buf || !from || s->closing)
		return;
	if (from->sa_family != AF_INET && from->sa_family != AF_INET6)
		return;
	if (len > CV_RTP_MAX_PACKET) {
		s->drop_malformed++;
		return;
	}
	if (!cv_rtp_is_rtp_or_rtcp(buf, len)) {
		if (s->p.h && s->p.h->other)
			s->p.h->other(s, buf, len, from, s->p.arg);
		else
			s->drop_malformed++;
		return;
	}
	if (rtcp)
		on_rtcp(s, buf, len, from, false);
	else if (s->mux && cv_rtp_is_rtcp(buf, len))
		on_rtcp(s, buf, len, from, true);
	else
		on_rtp(s, buf, len, from);
}

static void sock_read(struct sock *k)
{
	struct cv_rtp_session *s = k->s;
	unsigned budget = s->p.rx_budget;
	/* Bounded reads per wake-up so a flood cannot stall the worker; the
	 * kernel drops the rest and SO_RXQ_OVFL tells us how many. */
	for (unsigned i = 0; i < budget && !s->closing; i++) {
		struct sockaddr_storage from;
		char cbuf[CMSG_SPACE(sizeof(uint32_t))];
		struct iovec iov = {s->rxbuf, sizeof(s->rxbuf)};
		struct msghdr mh = {
			.msg_name = &from,
			.msg_namelen = sizeof(from),
			.msg_iov = &iov,
			.msg_iovlen = 1,
			.msg_control = cbuf,
			.msg_controllen = sizeof(cbuf),
		};
		ssize_t n = recvmsg(k->fd, &mh, MSG_DONTWAIT);
		if (n < 0)
			break;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c;
		     c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level == SOL_SOCKET &&
			    c->cmsg_type == SO_RXQ_OVFL) {
				uint32_t ov;
				memcpy(&ov, CMSG_DATA(c), sizeof(ov));
				uint32_t *last = &s->last_ovfl[k->rtcp];
				s->drop_flood += ov - *last;
				*last = ov;
			}
		}
		if (mh.msg_flags & MSG_TRUNC) {
			s->drop_malformed++;
			continue;
		}
		cv_rtp_session_input(s, s->rxbuf, (size_t)n,
				     (struct sockaddr *)&from, k->rtcp);
	}
}

static void poll_cb(uv_poll_t *h, int status, int events)
{
	struct sock *k = h->data ? CV_CONTAINER_OF(h, struct sock, poll) : NULL;
	if (!k || status < 0 || !(events & UV_READABLE))
		return;
	sock_read(k);
}

/* ---- lifecycle ------------------------------------------------------------
 */

static int sock_open(struct cv_rtp_session *s, struct sock *k, int fd,
		     bool rtcp)
{
	k->fd = fd;
	k->rtcp = rtcp;
	k->s = s;
	int err = uv_poll_init(s->p.loop, &k->poll, fd);
	if (err) {
		close(fd);
		k->fd = -1;
		return err;
	}
	k->poll.data = s;
	k->open = true;
	cv_mem_ref(s);
	return uv_poll_start(&k->poll, UV_READABLE, poll_cb);
}

static void sock_close(struct sock *k)
{
	if (!k->open)
		return;
	uv_poll_stop(&k->poll);
	close(k->fd);
	k->fd = -1;
	k->open = false;
	uv_close((uv_handle_t *)&k->poll, handle_closed);
}

int cv_rtp_session_create(struct cv_rtp_session **sp,
			  const struct cv_rtp_params *p)
{
	if (!sp || !p || !p->loop)
		return -EINVAL;
	if (p->tevent_pt > 127)
		return -EINVAL;
	struct cv_rtp_session *s = cv_mem_zalloc(sizeof(*s), session_dtor);
	if (!s)
		return -ENOMEM;
	s->p = *p;
	s->p.local_addr = NULL;
	if (!s->p.clock_rate)
		s->p.clock_rate = 8000;
	if (!s->p.session_bw)
		s->p.session_bw = 64000;
	if (!s->p.rtcp_min_ms)
		s->p.rtcp_min_ms = 5000;
	if (!s->p.latch_window_ms)
		s->p.latch_window_ms = 3000;
	if (!s->p.latch_silence_ms)
		s->p.latch_silence_ms = 2000;
	if (!s->p.rx_budget)
		s->p.rx_budget = 64;
	if (p->cname)
		snprintf(s->cname, sizeof(s->cname), "%s", p->cname);
	else
		cv_random_token(s->cname, 16);
	snprintf(s->codec, sizeof(s->codec), "%s",
		 p->codec ? p->codec : "PCMU");
	s->p.cname = NULL;
	s->p.codec = NULL;
	s->ssrc = p->ssrc ? p->ssrc : cv_random_u32();
	s->seq = (uint16_t)cv_random_u32();
	s->ts_offset = cv_random_u32();
	s->rtt_ms = -1;
	s->mux = p->rtcp_mux;
	s->rtcp_initial = true;
	s->avg_rtcp_size = 100;
	s->rtp.fd = s->rtcp.fd = -1;
	s->latch_deadline_us = now_us() + (uint64_t)s->p.latch_window_ms * 1000;

	int rfd = -1, cfd = -1;
	int err = cv_rtp_sock_bind_pair(p->local_addr, p->port_min, p->port_max,
					s->mux, &rfd, &cfd, &s->port);
	if (err) {
		cv_mem_unref(s);
		return err;
	}
	/* A non-mux session keeps the RTCP port bound even if rtcp-mux is
	 * negotiated later; with mux from the start there is none. */
	err = sock_open(s, &s->rtp, rfd, false);
	if (!err && cfd >= 0)
		err = sock_open(s, &s->rtcp, cfd, true);
	else if (cfd >= 0 && err)
		close(cfd);
	if (!err) {
		err = uv_timer_init(s->p.loop, &s->timer);
		if (!err) {
			s->timer.data = s;
			s->timer_open = true;
			cv_mem_ref(s);
			rtcp_schedule(s);
		}
	}
	if (err) {
		cv_rtp_session_destroy(s);
		return err;
	}
	*sp = s;
	return 0;
}

void cv_rtp_session_destroy(struct cv_rtp_session *s)
{
	if (!s || s->closing)
		return;
	s->closing = true;
	sock_close(&s->rtp);
	sock_close(&s->rtcp);
	if (s->timer_open) {
		uv_timer_stop(&s->timer);
		s->timer_open = false;
		uv_close((uv_handle_t *)&s->timer, handle_closed);
	}
	cv_mem_unref(s);
}

int cv_rtp_session_local(const struct cv_rtp_session *s,
			 struct sockaddr_storage *rtp,
			 struct sockaddr_storage *rtcp)
{
	if (!s || s->closing)
		return -EINVAL;
	socklen_t l = sizeof(*rtp);
	if (rtp && getsockname(s->rtp.fd, (struct sockaddr *)rtp, &l))
		return -errno;
	if (rtcp) {
		l = sizeof(*rtcp);
		int fd = s->mux || s->rtcp.fd < 0 ? s->rtp.fd : s->rtcp.fd;
		if (getsockname(fd, (struct sockaddr *)rtcp, &l))
			return -errno;
	}
	return 0;
}

uint16_t cv_rtp_session_port(const struct cv_rtp_session *s)
{
	return s ? s->port : 0;
}

int cv_rtp_session_set_remote(struct cv_rtp_session *s,
			      const struct sockaddr *rtp,
			      const struct sockaddr *rtcp)
{
	if (!s || !rtp ||
	    (rtp->sa_family != AF_INET && rtp->sa_family != AF_INET6))
		return -EINVAL;
	if (rtcp && rtcp->sa_family != AF_INET && rtcp->sa_family != AF_INET6)
		return -EINVAL;
	cv_rtp_sa_copy(&s->sig_rtp, rtp);
	if (rtcp) {
		cv_rtp_sa_copy(&s->sig_rtcp, rtcp);
	} else {
		s->sig_rtcp = s->sig_rtp;
		if (!s->mux)
			cv_rtp_sa_set_port(
				&s->sig_rtcp,
				(uint16_t)(cv_rtp_sa_port(&s->sig_rtp) + 1));
	}
	s->have_signalled = true;
	s->rem_rtp = s->sig_rtp;
	s->rem_rtcp = s->sig_rtcp;
	s->latched = true;
	s->rtcp_latched = rtcp != NULL;
	/* A new latching window (RFC 4961 symmetric RTP behind NAT). */
	s->latch_deadline_us = now_us() + (uint64_t)s->p.latch_window_ms * 1000;
	s->last_rx_us = now_us();
	return 0;
}

int cv_rtp_session_set_rtcp_mux(struct cv_rtp_session *s, bool mux)
{
	if (!s)
		return -EINVAL;
	if (!mux && s->rtcp.fd < 0)
		return CV_EUNSUPP; /* created muxed: no RTCP port */
	s->mux = mux;
	if (mux)
		s->rem_rtcp = s->rem_rtp;
	return 0;
}

int cv_rtp_session_set_srtp(struct cv_rtp_session *s,
			    const struct cv_srtp_key *tx,
			    const struct cv_srtp_key *rx)
{
	if (!s)
		return -EINVAL;
	struct cv_srtp *ntx = NULL, *nrx = NULL;
	int err = 0;
	if (tx)
		err = cv_srtp_create(&ntx, tx, true);
	if (!err && rx)
		err = cv_srtp_create(&nrx, rx, false);
	if (err) {
		cv_srtp_destroy(ntx);
		return err;
	}
	cv_srtp_destroy(s->srtp_tx);
	cv_srtp_destroy(s->srtp_rx);
	s->srtp_tx = ntx;
	s->srtp_rx = nrx;
	return 0;
}

int cv_rtp_session_set_codec(struct cv_rtp_session *s, const char *codec,
			     uint32_t clock_rate, bool plc)
{
	if (!s || !codec)
		return -EINVAL;
	snprintf(s->codec, sizeof(s->codec), "%s", codec);
	if (clock_rate && clock_rate != s->p.clock_rate) {
		s->p.clock_rate = clock_rate;
		s->src.clock_rate = clock_rate;
		s->src.transit_valid = false;
	}
	s->p.plc = plc;
	return 0;
}

int cv_rtp_session_set_tevent_pt(struct cv_rtp_session *s, int pt)
{
	if (!s || pt > 127)
		return -EINVAL;
	s->p.tevent_pt = pt <= 0 ? -1 : pt;
	s->tev_valid = false;
	return 0;
}

void cv_rtp_session_set_playout_delay(struct cv_rtp_session *s, uint32_t ms)
{
	if (s)
		s->playout_ms = ms;
}

uint32_t cv_rtp_session_ssrc(const struct cv_rtp_session *s)
{
	return s ? s->ssrc : 0;
}

int cv_rtp_session_stats(const struct cv_rtp_session *s, struct cv_rtp_stats *o)
{
	if (!s || !o)
		return -EINVAL;
	memset(o, 0, sizeof(*o));
	o->tx_ssrc = s->ssrc;
	o->tx_packets = s->tx_packets;
	o->tx_bytes = s->tx_bytes;
	o->tx_errors = s->tx_errors;
	o->rtcp_sent = s->rtcp_sent;
	o->rx_ssrc = s->have_src ? s->src.ssrc : 0;
	o->rx_packets = s->rx_packets;
	o->rx_bytes = s->rx_bytes;
	o->rx_expected = s->expected_before +
			 (s->have_src ? cv_rtp_source_expected(&s->src) : 0);
	o->rx_lost = s->lost_before +
		     (s->have_src ? cv_rtp_source_lost(&s->src) : 0);
	o->rx_fraction_lost = s->last_fraction / 256.0;
	o->rx_loss_pct = o->rx_expected && o->rx_lost > 0
				 ? 100.0 * (double)o->rx_lost / o->rx_expected
				 : 0;
	o->rx_jitter_ts = s->have_src ? cv_rtp_source_jitter(&s->src) : 0;
	o->rx_jitter_ms = u_to_ms(o->rx_jitter_ts, s->p.clock_rate);
	o->rx_duplicates = s->rx_dups + (s->have_src ? s->src.duplicates : 0);
	o->rx_reordered = s->rx_reord + (s->have_src ? s->src.reordered : 0);
	o->ssrc_changes = s->ssrc_changes;
	o->rtcp_received = s->rtcp_received;
	o->drop_malformed = s->drop_malformed;
	o->drop_address = s->drop_address;
	o->drop_ssrc = s->drop_ssrc;
	o->drop_auth = s->drop_auth;
	o->drop_flood = s->drop_flood;
	o->remote_valid = s->remote_valid;
	o->remote_fraction_lost = s->remote_fraction;
	o->remote_lost = s->remote_lost;
	o->remote_jitter_ms = s->remote_jitter_ms;
	o->rtt_ms = s->rtt_ms;
	o->r_factor = session_r(s, &o->mos);
	o->remote_rtp = s->rem_rtp;
	o->remote_rtcp = s->rem_rtcp;
	o->remote_latched = s->latched;
	return 0;
}
