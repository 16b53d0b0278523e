/* Media relay without decoding: forwards RTP/RTCP between two legs of a
 * stream with symmetric-RTP latching (hijack guard as in sessions),
 * optional SSRC/sequence/timestamp rewriting and per-leg statistics.
 *
 * Speed: each relay socket is a uv_poll_t on the worker's loop (one
 * epoll_wait serves them all; a nested private epoll set measured slower,
 * see docs/rtp.md); a readiness callback does one recvmmsg of up to
 * `batch` datagrams and one sendmmsg per destination socket. Buffers live
 * in the relay object: nothing is allocated per packet. */
#include <netinet/in.h>
#include <unistd.h>

#include "rtp_int.h"

#define MAX_BATCH 64

struct relay_sock {
	uv_poll_t poll;
	bool open;
	int fd;
	bool rtcp;
	uint8_t leg;
	struct cv_rtp_relay_stream *st;
};

struct leg {
	struct relay_sock rtp, rtcp;
	bool mux;
	bool rewrite;
	bool have_sig;
	struct sockaddr_storage rem_rtp, rem_rtcp;
	bool latched, rtcp_latched;
	uint64_t latch_deadline_us;
	uint64_t last_rx_us;
	/* receive statistics of the stream arriving on this leg */
	bool have_src;
	struct cv_rtp_source src;
	int64_t lost_before;
	uint32_t expected_before;
	/* rewriting of what leaves on this leg */
	uint32_t out_ssrc;
	uint32_t in_ssrc;       /* source currently mapped */
	bool map_valid;
	uint16_t seq_delta;
	uint32_t ts_delta;
	uint16_t last_out_seq;
	uint32_t last_out_ts;
	uint64_t last_out_us;
	/* RTT: an SR we sent out of this leg, matched by the RR coming back */
	uint32_t sr_mid;
	uint64_t sr_sent_us;
	double rtt_ms;
	struct cv_rtp_relay_leg_stats s;
};

struct cv_rtp_relay_stream {
	struct cv_rtp_relay *r;
	struct cv_rtp_relay_stream *next, *prev;
	struct leg leg[2];
	char codec[32];
	uint32_t clock_rate;
};

struct cv_rtp_relay {
	struct cv_rtp_relay_params p;
	char local_addr[64];
	bool closing;
	struct cv_rtp_relay_stream *streams;
	struct cv_rtp_relay_stats st;
	/* batch buffers */
	struct mmsghdr rx[MAX_BATCH];
	unsigned rx_dirty;
	struct iovec rx_iov[MAX_BATCH];
	struct sockaddr_storage rx_from[MAX_BATCH];
	struct mmsghdr tx[2][MAX_BATCH];
	struct iovec tx_iov[2][MAX_BATCH];
	uint8_t buf[MAX_BATCH][CV_RTP_MAX_PACKET];
};

/* ---- helpers -------------------------------------------------------------- */

static bool same_host(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return false;
	if (a->sa_family == AF_INET)
		return ((const struct sockaddr_in *)(const void *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)(const void *)b)->sin_addr.s_addr;
	if (a->sa_family == AF_INET6)
		return !memcmp(&((const struct sockaddr_in6 *)(const void *)a)->sin6_addr,
			       &((const struct sockaddr_in6 *)(const void *)b)->sin6_addr, 16);
	return false;
}

static bool may_latch(const struct cv_rtp_relay *r, const struct leg *l,
		      uint64_t now)
{
	if (!l->latched || now < l->latch_deadline_us)
		return true;
	return now - l->last_rx_us >= (uint64_t)r->p.latch_silence_ms * 1000;
}

/* Rewrite an RTP header leaving on leg `out` (RFC 3550 §5.1 fields). */
static void rewrite_rtp(struct leg *out, uint8_t *b, uint64_t now, uint32_t rate)
{
	uint32_t ssrc = cv_get32(b + 8);
	uint16_t seq = cv_get16(b + 2);
	uint32_t ts = cv_get32(b + 4);
	if (!out->map_valid || ssrc != out->in_ssrc) {
		/* New source: continue our sequence and timeline. */
		if (out->map_valid) {
			uint32_t el = (uint32_t)((now - out->last_out_us) * rate / 1000000u);
			out->seq_delta = (uint16_t)(out->last_out_seq + 1u - seq);
			out->ts_delta = out->last_out_ts + (el ? el : 1) - ts;
		} else {
			out->seq_delta = (uint16_t)(cv_random_u32() - seq);
			out->ts_delta = cv_random_u32() - ts;
		}
		out->in_ssrc = ssrc;
		out->map_valid = true;
	}
	uint16_t oseq = (uint16_t)(seq + out->seq_delta);
	uint32_t ots = ts + out->ts_delta;
	cv_put32(b + 8, out->out_ssrc);
	cv_put16(b + 2, oseq);
	cv_put32(b + 4, ots);
	if (cv_rtp_seq_diff(oseq, out->last_out_seq) > 0 || out->last_out_us == 0) {
		out->last_out_seq = oseq;
		out->last_out_ts = ots;
		out->last_out_us = now ? now : 1;
	}
}

/* RTCP leaving on leg `out`: sender SSRCs of the rewritten direction are
 * replaced; report blocks about the stream we rewrote toward the sender
 * (`back`) are mapped back to its original SSRC. Lengths are validated
 * before anything is touched. */
static void rewrite_rtcp(struct leg *out, struct leg *back, uint8_t *b, size_t len)
{
	struct cv_rtcp_compound c;
	if (cv_rtcp_parse(&c, b, len, true))
		return;
	size_t off = 0;
	while (off + 8 <= len) {
		uint8_t *p = b + off;
		size_t plen = 4u * ((size_t)cv_get16(p + 2) + 1);
		unsigned count = p[0] & 0x1f;
		uint8_t type = p[1];
		if (out->rewrite && out->map_valid &&
		    (type == CV_RTCP_SR || type == CV_RTCP_RR || type == CV_RTCP_SDES ||
		     type == CV_RTCP_BYE || type == CV_RTCP_XR) &&
		    cv_get32(p + 4) == out->in_ssrc)
			cv_put32(p + 4, out->out_ssrc);
		if (back->rewrite && back->map_valid &&
		    (type == CV_RTCP_SR || type == CV_RTCP_RR)) {
			size_t rb = 8 + (type == CV_RTCP_SR ? 20 : 0);
			for (unsigned i = 0; i < count && rb + 24 <= plen; i++, rb += 24)
				if (cv_get32(p + rb) == back->out_ssrc)
					cv_put32(p + rb, back->in_ssrc);
		}
		off += plen;
	}
}

/* Statistics from RTCP arriving on leg `in` (RTT against the SR we
 * forwarded out of it). */
static void rtcp_stats(struct leg *in, const uint8_t *b, size_t len, uint64_t now)
{
	struct cv_rtcp_compound c;
	if (cv_rtcp_parse(&c, b, len, true))
		return;
	for (unsigned i = 0; i < c.n_rb; i++) {
		const struct cv_rtcp_rb *rb = &c.rb[i];
		if (rb->lsr && rb->lsr == in->sr_mid && in->sr_sent_us) {
			double rtt = (double)(now - in->sr_sent_us) / 1000.0 -
				     rb->dlsr * 1000.0 / 65536.0;
			if (rtt >= 0)
				in->rtt_ms = rtt;
		}
	}
}

/* ---- the hot path ----------------------------------------------------------- */

static void handle_sock(struct cv_rtp_relay *r, struct relay_sock *k)
{
	struct cv_rtp_relay_stream *st = k->st;
	struct leg *in = &st->leg[k->leg], *out = &st->leg[!k->leg];
	unsigned batch = r->p.batch;
	/* The headers were set up once; the kernel only rewrites the name
	 * length and flags of the entries it filled last time. */
	for (unsigned i = 0; i < r->rx_dirty; i++)
		r->rx[i].msg_hdr.msg_namelen = sizeof(r->rx_from[i]);
	int n = recvmmsg(k->fd, r->rx, batch, MSG_DONTWAIT, NULL);
	r->st.syscalls_rx++;
	if (n <= 0)
		return;
	r->rx_dirty = (unsigned)n;
	r->st.received += (unsigned)n;
	uint64_t now = cv_clock_us();
	unsigned nt[2] = {0, 0}; /* 0: RTP out, 1: RTCP out */
	for (int i = 0; i < n; i++) {
		uint8_t *b = r->buf[i];
		size_t len = r->rx[i].msg_len;
		const struct sockaddr *from = (const struct sockaddr *)&r->rx_from[i];
		if ((r->rx[i].msg_hdr.msg_flags & MSG_TRUNC) ||
		    !cv_rtp_is_rtp_or_rtcp(b, len) || len < 8) {
			in->s.drop_malformed++;
			continue;
		}
		bool is_rtcp = k->rtcp || (in->mux && cv_rtp_is_rtcp(b, len));
		if (!is_rtcp) {
			if (len < CV_RTP_HDR_LEN) {
				in->s.drop_malformed++;
				continue;
			}
			bool known = in->latched &&
				     cv_rtp_sa_eq(from, (struct sockaddr *)&in->rem_rtp);
			if (!known) {
				if (!may_latch(r, in, now)) {
					in->s.drop_address++;
					continue;
				}
				/* Symmetric RTP: latch the real source. */
				cv_rtp_sa_copy(&in->rem_rtp, from);
				if (!in->rtcp_latched) {
					in->rem_rtcp = in->rem_rtp;
					if (!in->mux)
						cv_rtp_sa_set_port(&in->rem_rtcp,
							(uint16_t)(cv_rtp_sa_port(&in->rem_rtp) + 1));
				}
				in->latched = true;
			}
			in->last_rx_us = now;
			uint32_t ssrc = cv_get32(b + 8);
			uint16_t seq = cv_get16(b + 2);
			if (!in->have_src || ssrc != in->src.ssrc) {
				if (in->have_src) {
					in->lost_before += cv_rtp_source_lost(&in->src);
					in->expected_before += cv_rtp_source_expected(&in->src);
				}
				cv_rtp_source_init(&in->src, ssrc, seq, st->clock_rate, 0);
				in->have_src = true;
			}
			/* Duplicates still go through: the endpoint decides. */
			(void)cv_rtp_source_update(&in->src, seq, cv_get32(b + 4),
						   len - CV_RTP_HDR_LEN, now);
			in->s.rx_packets++;
			in->s.rx_bytes += len;
			if (!out->latched) {
				out->s.drop_nodest++;
				continue;
			}
			if (out->rewrite)
				rewrite_rtp(out, b, now, st->clock_rate);
			struct mmsghdr *m = &r->tx[0][nt[0]];
			r->tx_iov[0][nt[0]] = (struct iovec){b, len};
			m->msg_hdr = (struct msghdr){
				.msg_name = &out->rem_rtp,
				.msg_namelen = cv_rtp_sa_len((struct sockaddr *)&out->rem_rtp),
				.msg_iov = &r->tx_iov[0][nt[0]],
				.msg_iovlen = 1,
			};
			nt[0]++;
		} else {
			/* RTCP from the media source's host (any port). */
			if (!in->latched ||
			    (!same_host(from, (struct sockaddr *)&in->rem_rtp) &&
			     !cv_rtp_sa_eq(from, (struct sockaddr *)&in->rem_rtcp))) {
				in->s.drop_address++;
				continue;
			}
			if (!in->mux && k->rtcp) {
				cv_rtp_sa_copy(&in->rem_rtcp, from);
				in->rtcp_latched = true;
			}
			in->s.rtcp_rx++;
			rtcp_stats(in, b, len, now);
			if (!out->latched) {
				out->s.drop_nodest++;
				continue;
			}
			if (out->rewrite || in->rewrite)
				rewrite_rtcp(out, in, b, len);
			/* Remember the SR we send out, for the RTT of that leg. */
			if (len >= 20 && b[1] == CV_RTCP_SR) {
				out->sr_mid = (uint32_t)((cv_get32(b + 8) << 16) |
							 (cv_get32(b + 12) >> 16));
				out->sr_sent_us = now;
			}
			struct mmsghdr *m = &r->tx[1][nt[1]];
			r->tx_iov[1][nt[1]] = (struct iovec){b, len};
			struct sockaddr_storage *to = out->mux ? &out->rem_rtp : &out->rem_rtcp;
			m->msg_hdr = (struct msghdr){
				.msg_name = to,
				.msg_namelen = cv_rtp_sa_len((struct sockaddr *)to),
				.msg_iov = &r->tx_iov[1][nt[1]],
				.msg_iovlen = 1,
			};
			nt[1]++;
		}
	}
	for (int q = 0; q < 2; q++) {
		if (!nt[q])
			continue;
		int fd = (q == 0 || out->mux) ? out->rtp.fd : out->rtcp.fd;
		unsigned sent = 0;
		while (sent < nt[q]) {
			int m = sendmmsg(fd, r->tx[q] + sent, nt[q] - sent, MSG_DONTWAIT);
			r->st.syscalls_tx++;
			if (m <= 0) {
				/* Full socket buffer or an ICMP error: drop the
				 * rest of this batch and count it. */
				out->s.tx_errors += nt[q] - sent;
				r->st.dropped += nt[q] - sent;
				break;
			}
			for (int j = 0; j < m; j++) {
				if (q == 0) {
					out->s.tx_packets++;
					out->s.tx_bytes += r->tx[q][sent + j].msg_hdr.msg_iov->iov_len;
				} else {
					out->s.rtcp_tx++;
				}
			}
			sent += (unsigned)m;
		}
		r->st.forwarded += sent;
	}
}

static void sock_cb(uv_poll_t *h, int status, int events)
{
	struct relay_sock *k = h->data;
	struct cv_rtp_relay *r = k->st->r;
	if (status < 0 || !(events & UV_READABLE) || r->closing || !k->open)
		return;
	handle_sock(r, k);
}

/* ---- lifecycle -------------------------------------------------------------- */

static void sock_closed(uv_handle_t *h)
{
	struct relay_sock *k = h->data;
	cv_mem_unref(k->st);
}

int cv_rtp_relay_create(struct cv_rtp_relay **rp, const struct cv_rtp_relay_params *p)
{
	if (!rp || !p || !p->loop)
		return -EINVAL;
	struct cv_rtp_relay *r = cv_mem_zalloc(sizeof(*r), NULL);
	if (!r)
		return -ENOMEM;
	r->p = *p;
	snprintf(r->local_addr, sizeof(r->local_addr), "%s",
		 p->local_addr ? p->local_addr : "0.0.0.0");
	r->p.local_addr = r->local_addr;
	if (!r->p.latch_window_ms)
		r->p.latch_window_ms = 3000;
	if (!r->p.latch_silence_ms)
		r->p.latch_silence_ms = 2000;
	if (!r->p.batch)
		r->p.batch = 32;
	if (r->p.batch > MAX_BATCH)
		r->p.batch = MAX_BATCH;
	for (unsigned i = 0; i < MAX_BATCH; i++) {
		r->rx_iov[i].iov_base = r->buf[i];
		r->rx_iov[i].iov_len = CV_RTP_MAX_PACKET;
		r->rx[i].msg_hdr = (struct msghdr){
			.msg_name = &r->rx_from[i],
			.msg_namelen = sizeof(r->rx_from[i]),
			.msg_iov = &r->rx_iov[i],
			.msg_iovlen = 1,
		};
	}
	*rp = r;
	return 0;
}

static void sock_close(struct relay_sock *k)
{
	if (k->open) {
		/* Stop polling before the fd goes; the handle holds a
		 * reference on the stream until libuv has closed it. */
		uv_poll_stop(&k->poll);
		uv_close((uv_handle_t *)&k->poll, sock_closed);
		k->open = false;
	}
	if (k->fd >= 0)
		close(k->fd);
	k->fd = -1;
}

static void stream_close(struct cv_rtp_relay_stream *st)
{
	for (int i = 0; i < 2; i++) {
		sock_close(&st->leg[i].rtp);
		sock_close(&st->leg[i].rtcp);
	}
}

void cv_rtp_relay_destroy(struct cv_rtp_relay *r)
{
	if (!r || r->closing)
		return;
	r->closing = true;
	while (r->streams)
		cv_rtp_relay_stream_destroy(r->streams);
	cv_mem_unref(r);
}

void cv_rtp_relay_stats(const struct cv_rtp_relay *r, struct cv_rtp_relay_stats *out)
{
	if (r && out)
		*out = r->st;
}

static int add_sock(struct cv_rtp_relay *r, struct relay_sock *k)
{
	int err = uv_poll_init(r->p.loop, &k->poll, k->fd);
	if (err)
		return err;
	k->poll.data = k;
	k->open = true;
	cv_mem_ref(k->st);
	return uv_poll_start(&k->poll, UV_READABLE, sock_cb);
}

static void stream_dtor(void *obj)
{
	(void)obj; /* sockets were closed by stream_close() */
}

int cv_rtp_relay_stream_create(struct cv_rtp_relay *r, struct cv_rtp_relay_stream **sp,
			       const struct cv_rtp_relay_stream_params *p)
{
	if (!r || !sp || r->closing)
		return -EINVAL;
	struct cv_rtp_relay_stream_params def = {0};
	if (!p)
		p = &def;
	struct cv_rtp_relay_stream *st = cv_mem_zalloc(sizeof(*st), stream_dtor);
	if (!st)
		return -ENOMEM;
	st->r = r;
	st->clock_rate = p->clock_rate ? p->clock_rate : 8000;
	snprintf(st->codec, sizeof(st->codec), "%s", p->codec ? p->codec : "PCMU");
	uint64_t now = cv_clock_us();
	for (int i = 0; i < 2; i++) {
		struct leg *l = &st->leg[i];
		l->rtp.fd = l->rtcp.fd = -1;
		l->mux = p->rtcp_mux[i];
		l->rewrite = p->rewrite[i];
		l->out_ssrc = cv_random_u32();
		l->rtt_ms = -1;
		l->latch_deadline_us = now + (uint64_t)r->p.latch_window_ms * 1000;
	}
	int err = 0;
	for (int i = 0; i < 2 && !err; i++) {
		struct leg *l = &st->leg[i];
		uint16_t port;
		err = cv_rtp_sock_bind_pair(r->p.local_addr, r->p.port_min, r->p.port_max,
					    l->mux, &l->rtp.fd, &l->rtcp.fd, &port);
		if (err)
			break;
		/* The relay reads no control messages: no drop counter. */
		int zero = 0;
		setsockopt(l->rtp.fd, SOL_SOCKET, SO_RXQ_OVFL, &zero, sizeof(zero));
		if (l->rtcp.fd >= 0)
			setsockopt(l->rtcp.fd, SOL_SOCKET, SO_RXQ_OVFL, &zero, sizeof(zero));
		l->rtp.rtcp = false;
		l->rtcp.rtcp = true;
		l->rtp.leg = l->rtcp.leg = (uint8_t)i;
		l->rtp.st = l->rtcp.st = st;
		err = add_sock(r, &l->rtp);
		if (!err && l->rtcp.fd >= 0)
			err = add_sock(r, &l->rtcp);
	}
	if (err) {
		stream_close(st);
		cv_mem_unref(st);
		return err;
	}
	st->next = r->streams;
	if (r->streams)
		r->streams->prev = st;
	r->streams = st;
	r->st.streams++;
	*sp = st;
	return 0;
}

void cv_rtp_relay_stream_destroy(struct cv_rtp_relay_stream *st)
{
	if (!st)
		return;
	struct cv_rtp_relay *r = st->r;
	if (st->prev)
		st->prev->next = st->next;
	else
		r->streams = st->next;
	if (st->next)
		st->next->prev = st->prev;
	r->st.streams--;
	stream_close(st);
	cv_mem_unref(st);
}

int cv_rtp_relay_stream_local(const struct cv_rtp_relay_stream *st,
			      enum cv_rtp_relay_leg leg, struct sockaddr_storage *rtp,
			      struct sockaddr_storage *rtcp)
{
	if (!st || (leg != CV_RTP_RELAY_A && leg != CV_RTP_RELAY_B))
		return -EINVAL;
	const struct leg *l = &st->leg[leg];
	socklen_t sl = sizeof(*rtp);
	if (rtp && getsockname(l->rtp.fd, (struct sockaddr *)rtp, &sl))
		return -errno;
	if (rtcp) {
		sl = sizeof(*rtcp);
		int fd = l->rtcp.fd >= 0 ? l->rtcp.fd : l->rtp.fd;
		if (getsockname(fd, (struct sockaddr *)rtcp, &sl))
			return -errno;
	}
	return 0;
}

int cv_rtp_relay_stream_set_remote(struct cv_rtp_relay_stream *st,
				   enum cv_rtp_relay_leg leg, const struct sockaddr *rtp,
				   const struct sockaddr *rtcp)
{
	if (!st || (leg != CV_RTP_RELAY_A && leg != CV_RTP_RELAY_B) || !rtp ||
	    (rtp->sa_family != AF_INET && rtp->sa_family != AF_INET6))
		return -EINVAL;
	if (rtcp && rtcp->sa_family != AF_INET && rtcp->sa_family != AF_INET6)
		return -EINVAL;
	struct leg *l = &st->leg[leg];
	cv_rtp_sa_copy(&l->rem_rtp, rtp);
	if (rtcp) {
		cv_rtp_sa_copy(&l->rem_rtcp, rtcp);
	} else {
		l->rem_rtcp = l->rem_rtp;
		if (!l->mux)
			cv_rtp_sa_set_port(&l->rem_rtcp,
					   (uint16_t)(cv_rtp_sa_port(&l->rem_rtp) + 1));
	}
	l->latched = true;
	l->rtcp_latched = rtcp != NULL;
	l->have_sig = true;
	uint64_t now = cv_clock_us();
	l->latch_deadline_us = now + (uint64_t)st->r->p.latch_window_ms * 1000;
	l->last_rx_us = now;
	return 0;
}

int cv_rtp_relay_stream_stats(const struct cv_rtp_relay_stream *st,
			      enum cv_rtp_relay_leg leg, struct cv_rtp_relay_leg_stats *out)
{
	if (!st || !out || (leg != CV_RTP_RELAY_A && leg != CV_RTP_RELAY_B))
		return -EINVAL;
	const struct leg *l = &st->leg[leg];
	*out = l->s;
	out->ssrc = l->have_src ? l->src.ssrc : 0;
	uint32_t expected = l->expected_before +
			    (l->have_src ? cv_rtp_source_expected(&l->src) : 0);
	out->lost = l->lost_before + (l->have_src ? cv_rtp_source_lost(&l->src) : 0);
	out->loss_pct = expected && out->lost > 0 ? 100.0 * (double)out->lost / expected : 0;
	out->jitter_ms = l->have_src ? cv_rtp_source_jitter(&l->src) * 1000.0 /
					       st->clock_rate
				     : 0;
	out->rtt_ms = l->rtt_ms;
	/* One-way delay for the E-model: half the RTT toward this leg. */
	out->mos = cv_rtp_mos_for(st->codec, true, out->loss_pct,
				  l->rtt_ms >= 0 ? l->rtt_ms / 2 : 0, NULL);
	out->latched = l->latched;
	out->remote_rtp = l->rem_rtp;
	return 0;
}
