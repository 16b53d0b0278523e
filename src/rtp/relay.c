/* Media relay without decoding: forwards RTP/RTCP between two legs of a
 * stream with symmetric-RTP latching (hijack guard as in sessions),
 * optional SSRC/sequence/timestamp rewriting and per-leg statistics.
 *
 * Two ways to move packets (docs/rtp.md, "Relay"):
 * - io_uring (opt-in, experimental): every socket has one
 *   multishot recvmsg armed into a ring of provided buffers; the kernel
 *   fills buffers as datagrams arrive and the relay, woken through one
 *   eventfd per relay, handles every ready datagram of every socket in one
 *   pass and submits all sends (from each leg's own socket) in one
 *   io_uring_enter. Per wake-up: epoll_wait, an eventfd read and one or
 *   two io_uring_enter calls, however many sockets had data.
 * - epoll (default): each socket is a uv_poll_t on the worker's loop; a
 * readiness callback does one recvmmsg of up to `batch` datagrams and one
 * sendmmsg per destination socket. Buffers live in the relay object: nothing is
 * allocated per packet.
 *
 * Either way, a settled leg's RTP socket is connect()ed to its latched peer
 * (sends without an address over a cached route, early demux on receive)
 * and disconnected again after latch_silence_ms of silence so that the
 * latching rules still apply (docs/rtp.md, "Connected legs"). */
#include <arpa/inet.h>
#include <linux/io_uring.h>
#include <netinet/in.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "rtp_int.h"

#define MAX_BATCH 64

/* io_uring mode: provided buffers (one datagram each, with the
 * io_uring_recvmsg_out header and the source address in front). */
/* Enough buffers for the datagrams that arrive between two passes at
 * thousands of streams; a socket that found none waits on the starved
 * list (see u_recv). */
#define U_NBUFS	   8192u
#define U_BUF_SIZE 2048u
#define U_NAMELEN  ((unsigned)sizeof(struct sockaddr_in6))
#define U_SQ	   512u
#define U_CQ	   16384u
#define U_ROUNDS   64
#define U_STARVED  4096u /* starved sockets drained and re-armed per pass */

/* user_data: kind in bits 0-1; receive: slot in 2-31, generation 32-63;
 * send: buffer id in 2-31. */
enum { UD_RECV = 0, UD_SEND = 1, UD_CANCEL = 2 };

struct relay_sock {
	uv_poll_t poll;
	bool open;
	int fd;
	bool rtcp;
	uint8_t leg;
	struct cv_rtp_relay_stream *st;
	/* io_uring mode */
	uint32_t slot, gen;
	bool armed; /* a multishot receive is in the ring */
	bool fixed; /* in the ring's fixed-file table at `slot` */
	struct relay_sock
		*arm_next; /* on the relay's to-arm list (holds a ref on st) */
	bool on_arm_list;
};

struct leg {
	struct relay_sock rtp, rtcp;
	bool mux;
	bool rewrite;
	bool have_sig;
	struct sockaddr_storage rem_rtp, rem_rtcp;
	bool latched, rtcp_latched;
	/* rtp socket connected to rem_rtp (every change of rem_rtp
	 * disconnects first); conn_failed: connect() refused for this
	 * rem_rtp, not retried until it changes */
	bool conn, conn_failed;
	uint64_t latch_deadline_us;
	uint64_t last_rx_us;
	/* receive statistics of the stream arriving on this leg */
	bool have_src;
	struct cv_rtp_source src;
	int64_t lost_before;
	uint32_t expected_before;
	/* rewriting of what leaves on this leg */
	uint32_t out_ssrc;
	uint32_t in_ssrc; /* source currently mapped */
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
	/* SRTP terminated here: what arrives on this leg is unprotected
	 * with srtp_rx, what leaves on it protected with srtp_tx */
	struct cv_srtp *srtp_rx, *srtp_tx;
	struct cv_rtp_relay_leg_stats s;
};

struct cv_rtp_relay_stream {
	struct cv_rtp_relay *r;
	struct cv_rtp_relay_stream *next, *prev;
	struct leg leg[2];
	char codec[32];
	uint32_t clock_rate;
	cv_rtp_relay_xform_fn *xform; /* transcoding (above us), or NULL */
	void *xform_arg;
};

/* A send in flight (io_uring mode), indexed by the buffer id. */
struct u_tx {
	struct msghdr m;
	struct iovec iov;
	struct sockaddr_storage to;
	uint32_t slot, gen; /* the sending socket, for statistics */
	uint8_t q;	    /* 0 RTP, 1 RTCP */
	bool has_to;	    /* addressed (unconnected socket) */
};

struct cv_rtp_relay {
	struct cv_rtp_relay_params p;
	char local_addr[64];
	bool closing;
	struct cv_rtp_relay_stream *streams;
	struct cv_rtp_relay_stats st;
	/* epoll mode batch buffers */
	struct mmsghdr rx[MAX_BATCH];
	unsigned rx_dirty;
	struct iovec rx_iov[MAX_BATCH];
	struct sockaddr_storage rx_from[MAX_BATCH];
	struct mmsghdr tx[2][MAX_BATCH];
	struct iovec tx_iov[2][MAX_BATCH];
	/* room for the SRTP trailer when a plain leg's packet is protected */
	uint8_t buf[MAX_BATCH][CV_RTP_MAX_PACKET + CV_SRTP_MAX_TRAILER];
	/* io_uring mode */
	bool uring;
	struct cv_uring u;
	int evfd;
	uv_poll_t evpoll;
	uv_prepare_t prep;
	uv_timer_t guard;
	unsigned handles;     /* uv handles not yet closed */
	struct msghdr rx_msg; /* template of the multishot receive */
	uint8_t *ubufs;
	struct u_tx *utx;
	uint16_t *inflight; /* buffers of sends not yet submitted */
	unsigned n_inflight;
	struct relay_sock **slots;
	uint32_t *free_slots;
	uint32_t nslots, cap_slots, n_free, gen;
	struct relay_sock *arm_head;
	struct relay_sock *starved_head, *starved_tail;
	uv_idle_t idle;
	bool u_send_addr; /* IORING_OP_SEND with addr2 works */
	/* connected legs: allowed (specific local address, not disabled),
	 * and the timer that disconnects the silent ones */
	bool can_connect;
	bool sweep_on;
	uv_timer_t sweep;
};

/* ---- helpers --------------------------------------------------------------
 */

static bool same_host(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return false;
	if (a->sa_family == AF_INET)
		return ((const struct sockaddr_in *)(const void *)a)
			       ->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)(const void *)b)
			       ->sin_addr.s_addr;
	if (a->sa_family == AF_INET6)
		return !memcmp(&((const struct sockaddr_in6 *)(const void *)a)
					->sin6_addr,
			       &((const struct sockaddr_in6 *)(const void *)b)
					->sin6_addr,
			       16);
	return false;
}

static bool may_latch(const struct cv_rtp_relay *r, const struct leg *l,
		      uint64_t now)
{
	if (!l->latched || now < l->latch_deadline_us)
		return true;
	return now - l->last_rx_us >= (uint64_t)r->p.latch_silence_ms * 1000;
}

/* A settled leg (RTP from its latched address after the latch window):
 * connect its RTP socket to the peer. Sends then need no address and use
 * the socket's cached route, receives are early-demuxed, and datagrams
 * from any other source are dropped by the kernel's socket lookup — the
 * same ones the hijack guard would refuse now. */
static void leg_connect(struct cv_rtp_relay *r, struct leg *l)
{
	if (connect(l->rtp.fd, (const struct sockaddr *)&l->rem_rtp,
		    cv_rtp_sa_len((const struct sockaddr *)&l->rem_rtp))) {
		l->conn_failed = true;
		return;
	}
	l->conn = true;
	r->st.connects++;
}

/* Back to an unconnected socket (AF_UNSPEC), keeping its bound port:
 * before rem_rtp changes, on set_remote, and when the peer fell silent
 * (so that a new source — a NAT rebinding, a re-INVITE's new media
 * source — reaches the latching rules again). */
static void leg_disconnect(struct cv_rtp_relay *r, struct leg *l)
{
	l->conn_failed = false;
	if (!l->conn)
		return;
	struct sockaddr sa = {.sa_family = AF_UNSPEC};
	(void)connect(l->rtp.fd, &sa, sizeof(sa));
	l->conn = false;
	r->st.disconnects++;
}

static void sweep_cb(uv_timer_t *h)
{
	struct cv_rtp_relay *r = h->data;
	uint64_t now = cv_clock_us();
	uint64_t quiet = (uint64_t)r->p.latch_silence_ms * 1000;
	for (struct cv_rtp_relay_stream *st = r->streams; st; st = st->next)
		for (int i = 0; i < 2; i++) {
			struct leg *l = &st->leg[i];
			if (l->conn && now - l->last_rx_us >= quiet)
				leg_disconnect(r, l);
		}
}

/* Relays bound to a wildcard address do not connect: connect() would bind
 * the socket to the one local address of the route back to the peer, and
 * a multi-homed host would then drop what the peer sends to another. */
static bool addr_specific(const char *a)
{
	struct in_addr v4;
	struct in6_addr v6;
	if (inet_pton(AF_INET, a, &v4) == 1)
		return v4.s_addr != htonl(INADDR_ANY);
	if (inet_pton(AF_INET6, a, &v6) == 1)
		return !IN6_IS_ADDR_UNSPECIFIED(&v6);
	return false;
}

/* Rewrite an RTP header leaving on leg `out` (RFC 3550 §5.1 fields). */
static void rewrite_rtp(struct leg *out, uint8_t *b, uint64_t now,
			uint32_t rate)
{
	uint32_t ssrc = cv_get32(b + 8);
	uint16_t seq = cv_get16(b + 2);
	uint32_t ts = cv_get32(b + 4);
	if (!out->map_valid || ssrc != out->in_ssrc) {
		/* New source: continue our sequence and timeline. */
		if (out->map_valid) {
			uint32_t el = (uint32_t)((now - out->last_out_us) *
						 rate / 1000000u);
			out->seq_delta =
				(uint16_t)(out->last_out_seq + 1u - seq);
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
	if (cv_rtp_seq_diff(oseq, out->last_out_seq) > 0 ||
	    out->last_out_us == 0) {
		out->last_out_seq = oseq;
		out->last_out_ts = ots;
		out->last_out_us = now ? now : 1;
	}
}

/* RTCP leaving on leg `out`: sender SSRCs of the rewritten direction are
 * replaced; report blocks about the stream we rewrote toward the sender
 * (`back`) are mapped back to its original SSRC. Lengths are validated
 * before anything is touched. */
static void rewrite_rtcp(struct leg *out, struct leg *back, uint8_t *b,
			 size_t len)
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
		    (type == CV_RTCP_SR || type == CV_RTCP_RR ||
		     type == CV_RTCP_SDES || type == CV_RTCP_BYE ||
		     type == CV_RTCP_XR) &&
		    cv_get32(p + 4) == out->in_ssrc)
			cv_put32(p + 4, out->out_ssrc);
		if (back->rewrite && back->map_valid &&
		    (type == CV_RTCP_SR || type == CV_RTCP_RR)) {
			size_t rb = 8 + (type == CV_RTCP_SR ? 20 : 0);
			for (unsigned i = 0; i < count && rb + 24 <= plen;
			     i++, rb += 24)
				if (cv_get32(p + rb) == back->out_ssrc)
					cv_put32(p + rb, back->in_ssrc);
		}
		off += plen;
	}
}

/* Statistics from RTCP arriving on leg `in` (RTT against the SR we
 * forwarded out of it). */
static void rtcp_stats(struct leg *in, const uint8_t *b, size_t len,
		       uint64_t now)
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

/* ---- the hot path -----------------------------------------------------------
 */

/* One datagram `b` of *lenp octets (buffer `cap` octets) from `from` on
 * socket k: checks, SRTP, latching, statistics, rewriting. Returns true
 * when it is to be sent (*lenp then the length to send): *fd from socket,
 * to *to (NULL: the socket is connected to the destination); *q 0 for RTP,
 * 1 for RTCP. */
static bool relay_one(struct cv_rtp_relay *r, struct relay_sock *k, uint8_t *b,
		      size_t *lenp, size_t cap, bool trunc,
		      const struct sockaddr *from, uint64_t now, int *fd,
		      struct sockaddr_storage **to, int *q)
{
	struct cv_rtp_relay_stream *st = k->st;
	struct leg *in = &st->leg[k->leg], *out = &st->leg[!k->leg];
	size_t len = *lenp;
	if (trunc || !cv_rtp_is_rtp_or_rtcp(b, len) || len < 8) {
		in->s.drop_malformed++;
		return false;
	}
	bool is_rtcp = k->rtcp || (in->mux && cv_rtp_is_rtcp(b, len));
	if (!is_rtcp) {
		if (len < CV_RTP_HDR_LEN) {
			in->s.drop_malformed++;
			return false;
		}
		bool known =
			in->latched &&
			cv_rtp_sa_eq(from, (struct sockaddr *)&in->rem_rtp);
		if (!known && !may_latch(r, in, now)) {
			in->s.drop_address++;
			return false;
		}
		/* RFC 3711 §3.3: authenticate before anything else is
		 * believed; an SRTP leg latches only to authentic packets. */
		if (in->srtp_rx) {
			if (cv_srtp_unprotect(in->srtp_rx, b, &len) ||
			    len < CV_RTP_HDR_LEN) {
				in->s.drop_auth++;
				return false;
			}
		}
		if (!known) {
			/* Symmetric RTP: latch the real source. */
			leg_disconnect(r, in);
			cv_rtp_sa_copy(&in->rem_rtp, from);
			if (!in->rtcp_latched) {
				in->rem_rtcp = in->rem_rtp;
				if (!in->mux)
					cv_rtp_sa_set_port(
						&in->rem_rtcp,
						(uint16_t)(cv_rtp_sa_port(
								   &in->rem_rtp) +
							   1));
			}
			in->latched = true;
		}
		in->last_rx_us = now;
		if (!in->conn && r->can_connect && !in->conn_failed &&
		    now >= in->latch_deadline_us)
			leg_connect(r, in);
		uint32_t ssrc = cv_get32(b + 8);
		uint16_t seq = cv_get16(b + 2);
		if (!in->have_src || ssrc != in->src.ssrc) {
			if (in->have_src) {
				in->lost_before += cv_rtp_source_lost(&in->src);
				in->expected_before +=
					cv_rtp_source_expected(&in->src);
			}
			cv_rtp_source_init(&in->src, ssrc, seq, st->clock_rate,
					   0);
			in->have_src = true;
		}
		/* Duplicates still go through: the endpoint decides. */
		(void)cv_rtp_source_update(&in->src, seq, cv_get32(b + 4),
					   len - CV_RTP_HDR_LEN, now);
		in->s.rx_packets++;
		in->s.rx_bytes += len;
		if (!out->latched) {
			out->s.drop_nodest++;
			return false;
		}
		if (st->xform) {
			/* keep room for the out leg's SRTP trailer */
			size_t room = cap > CV_SRTP_MAX_TRAILER
					      ? cap - CV_SRTP_MAX_TRAILER
					      : 0;
			if (room < CV_RTP_HDR_LEN ||
			    st->xform(st->xform_arg,
				      (enum cv_rtp_relay_leg)k->leg, b, &len,
				      room) ||
			    len < CV_RTP_HDR_LEN || len > room)
				return false;
		}
		if (out->rewrite)
			rewrite_rtp(out, b, now, st->clock_rate);
		if (out->srtp_tx &&
		    cv_srtp_protect(out->srtp_tx, b, &len, cap)) {
			out->s.tx_errors++;
			return false;
		}
		*lenp = len;
		*fd = out->rtp.fd;
		*to = out->conn ? NULL : &out->rem_rtp;
		*q = 0;
		return true;
	}
	/* RTCP from the media source's host (any port). */
	if (!in->latched ||
	    (!same_host(from, (struct sockaddr *)&in->rem_rtp) &&
	     !cv_rtp_sa_eq(from, (struct sockaddr *)&in->rem_rtcp))) {
		in->s.drop_address++;
		return false;
	}
	if (in->srtp_rx &&
	    (cv_srtp_unprotect_rtcp(in->srtp_rx, b, &len) || len < 8)) {
		in->s.drop_auth++;
		return false;
	}
	if (!in->mux && k->rtcp) {
		cv_rtp_sa_copy(&in->rem_rtcp, from);
		in->rtcp_latched = true;
	}
	in->s.rtcp_rx++;
	rtcp_stats(in, b, len, now);
	if (!out->latched) {
		out->s.drop_nodest++;
		return false;
	}
	if (out->rewrite || in->rewrite)
		rewrite_rtcp(out, in, b, len);
	/* Remember the SR we send out, for the RTT of that leg. */
	if (len >= 20 && b[1] == CV_RTCP_SR) {
		out->sr_mid = (uint32_t)((cv_get32(b + 8) << 16) |
					 (cv_get32(b + 12) >> 16));
		out->sr_sent_us = now;
	}
	if (out->srtp_tx && cv_srtp_protect_rtcp(out->srtp_tx, b, &len, cap)) {
		out->s.tx_errors++;
		return false;
	}
	*lenp = len;
	*fd = out->mux ? out->rtp.fd : out->rtcp.fd;
	*to = out->mux ? (out->conn ? NULL : &out->rem_rtp) : &out->rem_rtcp;
	*q = 1;
	return true;
}

static void count_tx(struct leg *out, int q, size_t len)
{
	if (q == 0) {
		out->s.tx_packets++;
		out->s.tx_bytes += len;
	} else {
		out->s.rtcp_tx++;
	}
}

/* epoll mode: one readiness callback, one recvmmsg, one sendmmsg per
 * destination socket. */
static void handle_sock(struct cv_rtp_relay *r, struct relay_sock *k)
{
	struct cv_rtp_relay_stream *st = k->st;
	struct leg *out = &st->leg[!k->leg];
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
	int tfd[2] = {-1, -1};
	for (int i = 0; i < n; i++) {
		uint8_t *b = r->buf[i];
		size_t len = r->rx[i].msg_len;
		int fd, q;
		struct sockaddr_storage *to;
		if (!relay_one(r, k, b, &len, sizeof(r->buf[i]),
			       r->rx[i].msg_hdr.msg_flags & MSG_TRUNC,
			       (const struct sockaddr *)&r->rx_from[i], now,
			       &fd, &to, &q))
			continue;
		tfd[q] = fd;
		struct mmsghdr *m = &r->tx[q][nt[q]];
		r->tx_iov[q][nt[q]] = (struct iovec){b, len};
		m->msg_hdr = (struct msghdr){
			.msg_name = to,
			.msg_namelen =
				to ? cv_rtp_sa_len((struct sockaddr *)to) : 0,
			.msg_iov = &r->tx_iov[q][nt[q]],
			.msg_iovlen = 1,
		};
		nt[q]++;
	}
	for (int q = 0; q < 2; q++) {
		if (!nt[q])
			continue;
		unsigned sent = 0;
		bool retried = false;
		while (sent < nt[q]) {
			int m = sendmmsg(tfd[q], r->tx[q] + sent, nt[q] - sent,
					 MSG_DONTWAIT);
			r->st.syscalls_tx++;
			if (m < 0 && !retried && errno != EAGAIN &&
			    errno != EWOULDBLOCK && errno != ENOBUFS) {
				/* A connected socket reports an ICMP error
				 * from its peer once, on the next call. */
				retried = true;
				continue;
			}
			if (m <= 0) {
				/* Full socket buffer or an ICMP error: drop the
				 * rest of this batch and count it. */
				out->s.tx_errors += nt[q] - sent;
				r->st.dropped += nt[q] - sent;
				break;
			}
			for (int j = 0; j < m; j++)
				count_tx(out, q,
					 r->tx[q][sent + j]
						 .msg_hdr.msg_iov->iov_len);
			sent += (unsigned)m;
		}
		r->st.forwarded += sent;
	}
}

static void sock_cb(uv_poll_t *h, int status, int events)
{
	struct relay_sock *k = h->data;
	struct cv_rtp_relay *r = k->st->r;
	if (r->closing || !k->open)
		return;
	if (status < 0) {
		/* EPOLLERR: a connected socket got an ICMP error from its
		 * peer (port unreachable...). libuv stopped the handle;
		 * take the error and poll again — the latching and silence
		 * rules decide about the peer, not one ICMP message. */
		int e = 0;
		socklen_t el = sizeof(e);
		(void)getsockopt(k->fd, SOL_SOCKET, SO_ERROR, &e, &el);
		if (uv_poll_start(&k->poll, UV_READABLE, sock_cb))
			return;
		events = UV_READABLE;
	}
	if (!(events & UV_READABLE))
		return;
	handle_sock(r, k);
}

/* ---- io_uring mode
 * ------------------------------------------------------------ */

static struct relay_sock *u_lookup(struct cv_rtp_relay *r, uint32_t slot,
				   uint32_t gen)
{
	if (slot >= r->nslots)
		return NULL;
	struct relay_sock *k = r->slots[slot];
	return k && k->gen == gen && k->fd >= 0 ? k : NULL;
}

/* Submits what is queued; the sends complete inside the call (MSG_DONTWAIT,
 * no poll retry), so their buffers go back to the kernel afterwards. */
static void u_submit(struct cv_rtp_relay *r)
{
	cv_uring_submit(&r->u);
	r->st.syscalls_tx++;
	for (unsigned i = 0; i < r->n_inflight; i++)
		cv_uring_buf_put(&r->u, r->inflight[i]);
	r->n_inflight = 0;
	cv_uring_buf_commit(&r->u);
}

static struct io_uring_sqe *u_sqe(struct cv_rtp_relay *r)
{
	struct io_uring_sqe *e = cv_uring_sqe(&r->u);
	if (!e) {
		u_submit(r);
		e = cv_uring_sqe(&r->u);
	}
	return e;
}

static void u_arm_later(struct cv_rtp_relay *r, struct relay_sock *k)
{
	if (k->on_arm_list)
		return;
	k->on_arm_list = true;
	cv_mem_ref(k->st);
	k->arm_next = r->arm_head;
	r->arm_head = k;
}

static void u_arm_pending(struct cv_rtp_relay *r)
{
	while (r->arm_head) {
		struct relay_sock *k = r->arm_head;
		r->arm_head = k->arm_next;
		k->on_arm_list = false;
		if (k->fd >= 0 && !k->armed) {
			struct io_uring_sqe *e = u_sqe(r);
			if (!e) {
				/* Ring unusable: try again on the next pass. */
				k->on_arm_list = true;
				r->arm_head = k;
				return;
			}
			e->opcode = IORING_OP_RECVMSG;
			e->fd = k->fixed ? (int)k->slot : k->fd;
			e->addr = (uint64_t)(uintptr_t)&r->rx_msg;
			e->ioprio = IORING_RECV_MULTISHOT;
			e->flags = IOSQE_BUFFER_SELECT |
				   (k->fixed ? IOSQE_FIXED_FILE : 0);
			e->buf_group = 0;
			e->user_data = UD_RECV | ((uint64_t)k->slot << 2) |
				       ((uint64_t)k->gen << 32);
			k->armed = true;
		}
		cv_mem_unref(k->st);
	}
}

static void u_recv(struct cv_rtp_relay *r, const struct io_uring_cqe *c,
		   uint64_t now)
{
	uint32_t slot = (uint32_t)(c->user_data >> 2) & 0x3fffffffu;
	struct relay_sock *k =
		u_lookup(r, slot, (uint32_t)(c->user_data >> 32));
	bool has_buf = c->flags & IORING_CQE_F_BUFFER;
	uint16_t bid = (uint16_t)(c->flags >> IORING_CQE_BUFFER_SHIFT);
	if (!(c->flags & IORING_CQE_F_MORE) && k) {
		/* Multishot ended: arm again. Out of buffers (load), the
		 * socket waits until buffers came back: arming it at once
		 * would only fail again and turn an overload into a
		 * livelock of re-arms. Its datagrams wait in its queue. */
		r->st.rearms++;
		k->armed = false;
		if (c->res == -ENOBUFS && !k->on_arm_list) {
			k->on_arm_list = true;
			cv_mem_ref(k->st);
			k->arm_next = NULL;
			if (r->starved_tail)
				r->starved_tail->arm_next = k;
			else
				r->starved_head = k;
			r->starved_tail = k;
		} else {
			u_arm_later(r, k);
		}
	}
	if (!has_buf || bid >= U_NBUFS)
		return;
	if (!k || c->res < 0 || r->closing) {
		cv_uring_buf_put(&r->u, bid);
		return;
	}
	uint8_t *base = r->ubufs + (size_t)bid * U_BUF_SIZE;
	struct io_uring_recvmsg_out o;
	memcpy(&o, base, sizeof(o));
	size_t hdr = sizeof(o) + U_NAMELEN;
	struct sockaddr_storage from;
	memset(&from, 0, sizeof(struct sockaddr_in6));
	memcpy(&from, base + sizeof(o), U_NAMELEN);
	size_t len = o.payloadlen;
	bool trunc = (o.flags & MSG_TRUNC) || len > CV_RTP_MAX_PACKET ||
		     hdr + len > U_BUF_SIZE || o.namelen > U_NAMELEN;
	if (trunc)
		len = 0;
	r->st.received++;
	uint8_t *b = base + hdr;
	int fd, q;
	struct sockaddr_storage *to;
	if (!relay_one(r, k, b, &len, trunc ? 0 : U_BUF_SIZE - hdr, trunc,
		       (const struct sockaddr *)&from, now, &fd, &to, &q)) {
		cv_uring_buf_put(&r->u, bid);
		return;
	}
	struct io_uring_sqe *e = u_sqe(r);
	if (!e) {
		r->st.dropped++;
		k->st->leg[!k->leg].s.tx_errors++;
		cv_uring_buf_put(&r->u, bid);
		return;
	}
	struct u_tx *t = &r->utx[bid];
	struct relay_sock *ks = q == 0 || k->st->leg[!k->leg].mux
					? &k->st->leg[!k->leg].rtp
					: &k->st->leg[!k->leg].rtcp;
	t->slot = ks->slot;
	t->gen = ks->gen;
	t->q = (uint8_t)q;
	t->has_to = to != NULL;
	socklen_t tl = to ? cv_rtp_sa_len((struct sockaddr *)to) : 0;
	if (to)
		memcpy(&t->to, to, tl);
	t->iov = (struct iovec){b, len};
	if (!to) {
		/* Connected out socket: a plain send. */
		e->opcode = IORING_OP_SEND;
		e->addr = (uint64_t)(uintptr_t)b;
		e->len = (uint32_t)len;
	} else if (r->u_send_addr) {
		/* IORING_OP_SEND with a destination (Linux 6.0+ for most
		 * kernels): no msghdr to copy in per packet. */
		e->opcode = IORING_OP_SEND;
		e->addr = (uint64_t)(uintptr_t)b;
		e->len = (uint32_t)len;
		e->addr2 = (uint64_t)(uintptr_t)&t->to;
		e->addr_len = (uint16_t)tl;
	} else {
		t->m = (struct msghdr){.msg_name = &t->to,
				       .msg_namelen = tl,
				       .msg_iov = &t->iov,
				       .msg_iovlen = 1};
		e->opcode = IORING_OP_SENDMSG;
		e->addr = (uint64_t)(uintptr_t)&t->m;
		e->len = 1;
	}
	e->fd = ks->fixed ? (int)ks->slot : fd;
	/* MSG_DONTWAIT: a full socket buffer fails the send at once (counted)
	 * instead of parking it in the ring. Successful sends post nothing. */
	e->msg_flags = MSG_DONTWAIT;
	e->flags = IOSQE_CQE_SKIP_SUCCESS | (ks->fixed ? IOSQE_FIXED_FILE : 0);
	e->user_data = UD_SEND | ((uint64_t)bid << 2);
	r->inflight[r->n_inflight++] = bid;
	/* Counted as sent now; a failure CQE takes it back. */
	count_tx(&k->st->leg[!k->leg], q, len);
	r->st.forwarded++;
}

static void u_send_failed(struct cv_rtp_relay *r, const struct io_uring_cqe *c)
{
	uint32_t bid = (uint32_t)(c->user_data >> 2) & 0x3fffffffu;
	if (bid >= U_NBUFS)
		return;
	const struct u_tx *t = &r->utx[bid];
	if (c->res == -EINVAL && r->u_send_addr && t->has_to) {
		/* A kernel without addressed IORING_OP_SEND: use SENDMSG
		 * from now on (this packet is lost, counted below). */
		r->u_send_addr = false;
	}
	r->st.forwarded--;
	r->st.dropped++;
	struct relay_sock *ks = u_lookup(r, t->slot, t->gen);
	if (!ks)
		return;
	struct leg *out = &ks->st->leg[ks->leg];
	if (t->q) {
		out->s.rtcp_tx--;
	} else {
		out->s.tx_packets--;
		out->s.tx_bytes -= t->iov.iov_len;
	}
	out->s.tx_errors++;
}

/* Handles every completion; returns how many. */
static unsigned u_drain(struct cv_rtp_relay *r, uint64_t now)
{
	struct cv_uring *u = &r->u;
	unsigned n = 0;
	unsigned head = *u->cq_head;
	for (;;) {
		unsigned tail = __atomic_load_n(u->cq_tail, __ATOMIC_ACQUIRE);
		if (head == tail)
			break;
		struct io_uring_cqe c = u->cqes[head & u->cq_mask];
		head++;
		/* Free the slot before anything below may submit (and so
		 * produce further completions). */
		__atomic_store_n(u->cq_head, head, __ATOMIC_RELEASE);
		n++;
		switch (c.user_data & 3) {
		case UD_RECV:
			u_recv(r, &c, now);
			break;
		case UD_SEND:
			if (c.res < 0)
				u_send_failed(r, &c);
			break;
		default:
			break;
		}
	}
	cv_uring_buf_commit(u);
	return n;
}

static void u_idle_cb(uv_idle_t *h);

static void u_run(struct cv_rtp_relay *r)
{
	if (r->closing || cv_uring_enable(&r->u))
		return;
	uint64_t now = cv_clock_us();
	/* Each io_uring_enter runs the receives that became ready since the
	 * last one (task work); enter again while completions keep coming or
	 * the kernel flags work as pending, but at most U_ROUNDS times, so a
	 * flood cannot keep the worker's other handles from running (what is
	 * left signals the eventfd again). */
	for (int round = 0; round < U_ROUNDS; round++) {
		u_arm_pending(r);
		u_submit(r);
		unsigned n = u_drain(r, now);
		if (n == 0 && r->u.local_tail == *r->u.sq_tail &&
		    !r->arm_head &&
		    !(__atomic_load_n(r->u.sq_flags, __ATOMIC_ACQUIRE) &
		      IORING_SQ_TASKRUN))
			break;
	}
	/* Starved sockets (their multishot receive found the buffer ring
	 * empty: the relay had fallen behind and one pass let the kernel
	 * drain every socket's backlog into the ring at once), oldest first,
	 * U_STARVED per pass; the rest on the next pass (the idle handle
	 * keeps the loop from blocking meanwhile). Each one's backlog is read
	 * here at once, as epoll mode does (recvmmsg + sendmmsg), before its
	 * multishot receive is armed again: re-arming alone let the next pass
	 * run dry the same way, and sockets waited seconds for their turn. */
	unsigned n = 0;
	/* Sends still queued in the ring go first (no reordering within a
	 * stream). */
	if (r->starved_head &&
	    (r->n_inflight || r->u.local_tail != *r->u.sq_tail))
		u_submit(r);
	while (r->starved_head && n < U_STARVED) {
		struct relay_sock *k = r->starved_head;
		r->starved_head = k->arm_next;
		if (!r->starved_head)
			r->starved_tail = NULL;
		k->on_arm_list = false;
		if (k->fd >= 0 && !k->armed)
			handle_sock(r, k);
		u_arm_later(r, k);
		cv_mem_unref(k->st);
		n++;
	}
	if (n) {
		u_arm_pending(r);
		u_submit(r);
	}
	if (r->starved_head)
		uv_idle_start(&r->idle, u_idle_cb);
	else
		uv_idle_stop(&r->idle);
}

static void u_idle_cb(uv_idle_t *h)
{
	u_run(h->data);
}

static void u_event_cb(uv_poll_t *h, int status, int events)
{
	struct cv_rtp_relay *r = h->data;
	if (status < 0 || !(events & UV_READABLE))
		return;
	/* Clear the eventfd before collecting, so that anything arriving
	 * after our last look signals it again. */
	uint64_t v;
	if (read(r->evfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
	r->st.syscalls_rx++;
	u_run(r);
}

/* Before the loop blocks: submit what stream creation/destruction queued
 * (arming, cancels), from the loop's thread (the ring's single issuer). */
static void u_prepare_cb(uv_prepare_t *h)
{
	struct cv_rtp_relay *r = h->data;
	if (r->arm_head || r->u.local_tail != *r->u.sq_tail)
		u_run(r);
}

/* Guard against a missed wake-up: completions pending in the kernel
 * (IORING_SQ_TASKRUN) without an eventfd signal would otherwise wait
 * for the next datagram. */
static void u_guard_cb(uv_timer_t *h)
{
	struct cv_rtp_relay *r = h->data;
	if (r->u.enabled && (__atomic_load_n(r->u.sq_flags, __ATOMIC_ACQUIRE) &
			     IORING_SQ_TASKRUN))
		u_run(r);
}

static int u_slot_add(struct cv_rtp_relay *r, struct relay_sock *k)
{
	if (!r->n_free && r->nslots == r->cap_slots) {
		uint32_t cap = r->cap_slots ? r->cap_slots * 2 : 256;
		if (cap > 0x3fffffffu)
			return -ENOSPC;
		struct relay_sock **ns = realloc(r->slots, cap * sizeof(*ns));
		if (!ns)
			return -ENOMEM;
		r->slots = ns;
		uint32_t *nf = realloc(r->free_slots, cap * sizeof(*nf));
		if (!nf)
			return -ENOMEM;
		r->free_slots = nf;
		r->cap_slots = cap;
	}
	k->slot = r->n_free ? r->free_slots[--r->n_free] : r->nslots++;
	k->gen = ++r->gen;
	r->slots[k->slot] = k;
	k->fixed = !cv_uring_file_set(&r->u, k->slot, k->fd);
	return 0;
}

static void u_slot_del(struct cv_rtp_relay *r, struct relay_sock *k)
{
	if (k->slot < r->nslots && r->slots[k->slot] == k) {
		if (k->fixed)
			cv_uring_file_set(&r->u, k->slot, -1);
		k->fixed = false;
		r->slots[k->slot] = NULL;
		r->free_slots[r->n_free++] = k->slot;
	}
}

/* ---- lifecycle --------------------------------------------------------------
 */

static void sock_closed(uv_handle_t *h)
{
	struct relay_sock *k = h->data;
	cv_mem_unref(k->st);
}

static void relay_dtor(void *obj)
{
	struct cv_rtp_relay *r = obj;
	cv_uring_free(&r->u);
	if (r->evfd >= 0)
		close(r->evfd);
	free(r->ubufs);
	free(r->utx);
	free(r->inflight);
	free(r->slots);
	free(r->free_slots);
}

static void relay_handle_closed(uv_handle_t *h)
{
	cv_mem_unref(h->data);
}

static int uring_setup(struct cv_rtp_relay *r)
{
	r->ubufs = aligned_alloc(4096, (size_t)U_NBUFS * U_BUF_SIZE);
	r->utx = calloc(U_NBUFS, sizeof(*r->utx));
	r->inflight = calloc(U_SQ, sizeof(*r->inflight));
	if (!r->ubufs || !r->utx || !r->inflight)
		return -ENOMEM;
	int err =
		cv_uring_init(&r->u, U_SQ, U_CQ, U_NBUFS, U_BUF_SIZE, r->ubufs);
	if (err)
		return err;
	r->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (r->evfd < 0)
		return -errno;
	err = cv_uring_register_eventfd(&r->u, r->evfd);
	if (err)
		return err;
	/* The multishot receive writes the source address (room for IPv6)
	 * and the datagram into each provided buffer. */
	r->rx_msg = (struct msghdr){.msg_namelen = U_NAMELEN};
	err = uv_poll_init(r->p.loop, &r->evpoll, r->evfd);
	if (err)
		return err;
	r->evpoll.data = r;
	cv_mem_ref(r);
	r->handles++;
	uv_prepare_init(r->p.loop, &r->prep);
	r->prep.data = r;
	cv_mem_ref(r);
	r->handles++;
	uv_timer_init(r->p.loop, &r->guard);
	r->guard.data = r;
	cv_mem_ref(r);
	r->handles++;
	uv_idle_init(r->p.loop, &r->idle);
	r->idle.data = r;
	cv_mem_ref(r);
	r->handles++;
	uv_poll_start(&r->evpoll, UV_READABLE, u_event_cb);
	uv_prepare_start(&r->prep, u_prepare_cb);
	uv_timer_start(&r->guard, u_guard_cb, 20, 20);
	/* The relay keeps the loop alive only while it has streams (as the
	 * per-socket handles of epoll mode do). */
	uv_unref((uv_handle_t *)&r->evpoll);
	uv_unref((uv_handle_t *)&r->prep);
	uv_unref((uv_handle_t *)&r->guard);
	return 0;
}

static void uring_close_handles(struct cv_rtp_relay *r)
{
	if (!r->handles)
		return;
	uv_close((uv_handle_t *)&r->evpoll, relay_handle_closed);
	uv_close((uv_handle_t *)&r->prep, relay_handle_closed);
	uv_close((uv_handle_t *)&r->guard, relay_handle_closed);
	uv_close((uv_handle_t *)&r->idle, relay_handle_closed);
	r->handles = 0;
}

int cv_rtp_relay_create(struct cv_rtp_relay **rp,
			const struct cv_rtp_relay_params *p)
{
	if (!rp || !p || !p->loop)
		return -EINVAL;
	struct cv_rtp_relay *r = cv_mem_zalloc(sizeof(*r), relay_dtor);
	if (!r)
		return -ENOMEM;
	r->p = *p;
	r->evfd = -1;
	r->u.fd = -1;
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
	if (p->io == CV_RTP_RELAY_IO_URING) {
		int err = uring_setup(r);
		if (err) {
			uring_close_handles(r);
			cv_mem_unref(r);
			return err;
		}
		r->uring = true;
		r->st.uring = true;
		r->u_send_addr = true;
	}
	r->can_connect = !p->no_connect && addr_specific(r->local_addr);
	if (r->can_connect) {
		/* A quarter of the silence: a silent leg is disconnected
		 * 1-1.25 latch_silence_ms after its last packet. */
		uint64_t iv = r->p.latch_silence_ms / 4;
		iv = iv < 5 ? 5 : iv > 500 ? 500 : iv;
		uv_timer_init(r->p.loop, &r->sweep);
		r->sweep.data = r;
		cv_mem_ref(r);
		r->sweep_on = true;
		uv_timer_start(&r->sweep, sweep_cb, iv, iv);
		uv_unref((uv_handle_t *)&r->sweep);
	}
	*rp = r;
	return 0;
}

static void sock_close(struct cv_rtp_relay *r, struct relay_sock *k)
{
	if (k->open) {
		/* Stop polling before the fd goes; the handle holds a
		 * reference on the stream until libuv has closed it. */
		uv_poll_stop(&k->poll);
		uv_close((uv_handle_t *)&k->poll, sock_closed);
		k->open = false;
	}
	if (r->uring && k->fd >= 0) {
		if (k->armed && !r->closing) {
			/* The ring holds the socket until its receive is
			 * cancelled (submitted before the loop next blocks). */
			struct io_uring_sqe *e = u_sqe(r);
			if (e) {
				e->opcode = IORING_OP_ASYNC_CANCEL;
				e->addr = UD_RECV | ((uint64_t)k->slot << 2) |
					  ((uint64_t)k->gen << 32);
				e->flags = IOSQE_CQE_SKIP_SUCCESS;
				e->user_data = UD_CANCEL;
			}
		}
		k->armed = false;
		u_slot_del(r, k);
	}
	if (k->fd >= 0)
		close(k->fd);
	k->fd = -1;
}

static void stream_close(struct cv_rtp_relay_stream *st)
{
	for (int i = 0; i < 2; i++) {
		sock_close(st->r, &st->leg[i].rtp);
		sock_close(st->r, &st->leg[i].rtcp);
	}
}

void cv_rtp_relay_destroy(struct cv_rtp_relay *r)
{
	if (!r || r->closing)
		return;
	r->closing = true;
	while (r->streams)
		cv_rtp_relay_stream_destroy(r->streams);
	for (int l = 0; l < 2; l++) {
		struct relay_sock **head = l ? &r->starved_head : &r->arm_head;
		while (*head) {
			struct relay_sock *k = *head;
			*head = k->arm_next;
			k->on_arm_list = false;
			cv_mem_unref(k->st);
		}
	}
	r->starved_tail = NULL;
	if (r->sweep_on) {
		uv_close((uv_handle_t *)&r->sweep, relay_handle_closed);
		r->sweep_on = false;
	}
	if (r->uring) {
		/* Closing the ring cancels every receive; the buffers are
		 * freed with the relay, after libuv closed our handles. */
		uring_close_handles(r);
		cv_uring_free(&r->u);
	}
	cv_mem_unref(r);
}

void cv_rtp_relay_stats(const struct cv_rtp_relay *r,
			struct cv_rtp_relay_stats *out)
{
	if (r && out)
		*out = r->st;
}

static int add_sock(struct cv_rtp_relay *r, struct relay_sock *k)
{
	if (r->uring) {
		int err = u_slot_add(r, k);
		if (err)
			return err;
		u_arm_later(r, k);
		return 0;
	}
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
	/* sockets were closed by stream_close() */
	struct cv_rtp_relay_stream *st = obj;
	for (int i = 0; i < 2; i++) {
		cv_srtp_destroy(st->leg[i].srtp_rx);
		cv_srtp_destroy(st->leg[i].srtp_tx);
	}
}

int cv_rtp_relay_stream_create(struct cv_rtp_relay *r,
			       struct cv_rtp_relay_stream **sp,
			       const struct cv_rtp_relay_stream_params *p)
{
	if (!r || !sp || r->closing)
		return -EINVAL;
	struct cv_rtp_relay_stream_params def = {0};
	if (!p)
		p = &def;
	struct cv_rtp_relay_stream *st =
		cv_mem_zalloc(sizeof(*st), stream_dtor);
	if (!st)
		return -ENOMEM;
	st->r = r;
	st->clock_rate = p->clock_rate ? p->clock_rate : 8000;
	snprintf(st->codec, sizeof(st->codec), "%s",
		 p->codec ? p->codec : "PCMU");
	uint64_t now = cv_clock_us();
	for (int i = 0; i < 2; i++) {
		struct leg *l = &st->leg[i];
		l->rtp.fd = l->rtcp.fd = -1;
		l->mux = p->rtcp_mux[i];
		l->rewrite = p->rewrite[i];
		l->out_ssrc = cv_random_u32();
		l->rtt_ms = -1;
		l->latch_deadline_us =
			now + (uint64_t)r->p.latch_window_ms * 1000;
	}
	int err = 0;
	for (int i = 0; i < 2 && !err; i++) {
		struct leg *l = &st->leg[i];
		uint16_t port;
		err = cv_rtp_sock_bind_pair(r->p.local_addr, r->p.port_min,
					    r->p.port_max, l->mux, &l->rtp.fd,
					    &l->rtcp.fd, &port);
		if (err)
			break;
		/* The relay reads no control messages: no drop counter. */
		int zero = 0;
		setsockopt(l->rtp.fd, SOL_SOCKET, SO_RXQ_OVFL, &zero,
			   sizeof(zero));
		if (l->rtcp.fd >= 0)
			setsockopt(l->rtcp.fd, SOL_SOCKET, SO_RXQ_OVFL, &zero,
				   sizeof(zero));
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
	if (r->st.streams++ == 0 && r->uring)
		uv_ref((uv_handle_t *)&r->evpoll);
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
	if (--r->st.streams == 0 && r->uring && r->handles)
		uv_unref((uv_handle_t *)&r->evpoll);
	stream_close(st);
	cv_mem_unref(st);
}

int cv_rtp_relay_stream_local(const struct cv_rtp_relay_stream *st,
			      enum cv_rtp_relay_leg leg,
			      struct sockaddr_storage *rtp,
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
				   enum cv_rtp_relay_leg leg,
				   const struct sockaddr *rtp,
				   const struct sockaddr *rtcp)
{
	if (!st || (leg != CV_RTP_RELAY_A && leg != CV_RTP_RELAY_B) || !rtp ||
	    (rtp->sa_family != AF_INET && rtp->sa_family != AF_INET6))
		return -EINVAL;
	if (rtcp && rtcp->sa_family != AF_INET && rtcp->sa_family != AF_INET6)
		return -EINVAL;
	struct leg *l = &st->leg[leg];
	/* A new offer/answer reopens the latch window: other sources must
	 * reach the latching rules again. */
	leg_disconnect(st->r, l);
	cv_rtp_sa_copy(&l->rem_rtp, rtp);
	if (rtcp) {
		cv_rtp_sa_copy(&l->rem_rtcp, rtcp);
	} else {
		l->rem_rtcp = l->rem_rtp;
		if (!l->mux)
			cv_rtp_sa_set_port(
				&l->rem_rtcp,
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

int cv_rtp_relay_stream_input(struct cv_rtp_relay_stream *st,
			      enum cv_rtp_relay_leg leg, bool rtcp,
			      const uint8_t *buf, size_t len,
			      const struct sockaddr *from)
{
	if (!st || (leg != CV_RTP_RELAY_A && leg != CV_RTP_RELAY_B) ||
	    (!buf && len) || !from ||
	    (from->sa_family != AF_INET && from->sa_family != AF_INET6))
		return -EINVAL;
	struct cv_rtp_relay *r = st->r;
	struct leg *l = &st->leg[leg];
	struct relay_sock *k = rtcp && l->rtcp.fd >= 0 ? &l->rtcp : &l->rtp;
	if (k->fd < 0)
		return -EBADF;
	bool trunc = len > CV_RTP_MAX_PACKET;
	size_t n = trunc ? 0 : len;
	uint8_t *b = r->buf[0];
	if (n)
		memcpy(b, buf, n);
	struct sockaddr_storage fs;
	cv_rtp_sa_copy(&fs, from);
	r->st.received++;
	int fd, q;
	struct sockaddr_storage *to;
	if (!relay_one(r, k, b, &n, sizeof(r->buf[0]), trunc,
		       (struct sockaddr *)&fs, cv_clock_us(), &fd, &to, &q))
		return 0;
	struct leg *out = &st->leg[!leg];
	if (sendto(fd, b, n, MSG_DONTWAIT, (struct sockaddr *)to,
		   to ? cv_rtp_sa_len((struct sockaddr *)to) : 0) < 0) {
		out->s.tx_errors++;
		r->st.dropped++;
		return 0;
	}
	count_tx(out, q, n);
	r->st.forwarded++;
	return 0;
}

void cv_rtp_relay_stream_set_xform(struct cv_rtp_relay_stream *st,
				   cv_rtp_relay_xform_fn *fn, void *arg)
{
	if (!st)
		return;
	st->xform = fn;
	st->xform_arg = fn ? arg : NULL;
}

int cv_rtp_relay_stream_set_srtp(struct cv_rtp_relay_stream *st,
				 enum cv_rtp_relay_leg leg,
				 const struct cv_srtp_key *rx,
				 const struct cv_srtp_key *tx)
{
	if (!st || (leg != CV_RTP_RELAY_A && leg != CV_RTP_RELAY_B))
		return -EINVAL;
	struct cv_srtp *nrx = NULL, *ntx = NULL;
	int err = rx ? cv_srtp_create(&nrx, rx, false) : 0;
	if (!err && tx)
		err = cv_srtp_create(&ntx, tx, true);
	if (err) {
		cv_srtp_destroy(nrx);
		return err;
	}
	/* Both directions replaced at once (re-INVITE with new keys). */
	struct leg *l = &st->leg[leg];
	cv_srtp_destroy(l->srtp_rx);
	cv_srtp_destroy(l->srtp_tx);
	l->srtp_rx = nrx;
	l->srtp_tx = ntx;
	return 0;
}

int cv_rtp_relay_stream_stats(const struct cv_rtp_relay_stream *st,
			      enum cv_rtp_relay_leg leg,
			      struct cv_rtp_relay_leg_stats *out)
{
	if (!st || !out || (leg != CV_RTP_RELAY_A && leg != CV_RTP_RELAY_B))
		return -EINVAL;
	const struct leg *l = &st->leg[leg];
	*out = l->s;
	out->ssrc = l->have_src ? l->src.ssrc : 0;
	uint32_t expected = l->expected_before +
			    (l->have_src ? cv_rtp_source_expected(&l->src) : 0);
	out->lost = l->lost_before +
		    (l->have_src ? cv_rtp_source_lost(&l->src) : 0);
	out->loss_pct = expected && out->lost > 0
				? 100.0 * (double)out->lost / expected
				: 0;
	out->jitter_ms = l->have_src ? cv_rtp_source_jitter(&l->src) * 1000.0 /
					       st->clock_rate
				     : 0;
	out->rtt_ms = l->rtt_ms;
	/* One-way delay for the E-model: half the RTT toward this leg. */
	out->mos = cv_rtp_mos_for(st->codec, true, out->loss_pct,
				  l->rtt_ms >= 0 ? l->rtt_ms / 2 : 0, NULL);
	out->latched = l->latched;
	out->connected = l->conn;
	out->remote_rtp = l->rem_rtp;
	return 0;
}
