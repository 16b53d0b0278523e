/* UDP: one SO_REUSEPORT socket per worker and listener, recvmmsg batches
 * in, replies produced while a batch is handled leave in one sendmmsg. */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "cvoip/sip.h"
#include "tp_int.h"

static int sock_open(const struct cv_tp_addr *a, int type, bool reuseport)
{
	int fd =
		socket(a->ss.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd < 0)
		return -errno;
	/* SO_REUSEADDR: listeners restart over TIME_WAIT; on UDP it would
	 * let other processes bind the same port (see bind_all). */
	if ((type == SOCK_STREAM &&
	     setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one))) ||
	    (reuseport &&
	     setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one))) ||
	    (a->ss.ss_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)))) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* Binds one socket per worker; port 0 resolves once and is shared. Shared
 * with the stream listeners (type SOCK_STREAM). */
static int bind_all(struct cv_tp *tp, struct tp_listener *l, int type)
{
	l->bound = l->spec.addr;
	/* SO_REUSEPORT only to share a port between our workers. With it (or
	 * SO_REUSEADDR), a UDP bind to port 0 may get a port that a socket
	 * of another process with the same option (same uid) holds, and the
	 * kernel then gives our datagrams to that process: so one worker goes
	 * without, and several first reserve a port alone. The same holds
	 * for a configured port: a probe bound without the option fails when
	 * another process holds the port, instead of the group joining it and
	 * sharing its traffic (two cvoipd on one port would both "start"). */
	bool reuseport = tp->nworkers > 1;
	if (reuseport) {
		int probe = sock_open(&l->bound, type, false);
		if (probe < 0)
			return probe;
		socklen_t sl = sizeof(l->bound.ss);
		if (bind(probe, (const struct sockaddr *)&l->bound.ss,
			 cv_tp_addr_len(&l->bound)) ||
		    getsockname(probe, (struct sockaddr *)&l->bound.ss, &sl)) {
			int err = -errno;
			close(probe);
			return err;
		}
		close(probe);
	}
	for (unsigned k = 0; k < tp->nworkers; k++) {
		int fd = sock_open(&l->bound, type, reuseport);
		if (fd < 0)
			return fd;
		l->fds[k] = fd;
		if (type == SOCK_DGRAM) {
			int sz = 4 * 1024 * 1024, one = 1;
			(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz,
					 sizeof(sz));
			/* A wildcard bind learns each datagram's local address
			 * so the response leaves from it (RFC 3261 §18.2.2). */
			if (cv_tp_addr_is_any(&l->bound) &&
			    (l->bound.ss.ss_family == AF_INET
				     ? setsockopt(fd, IPPROTO_IP, IP_PKTINFO,
						  &one, sizeof(one))
				     : setsockopt(fd, IPPROTO_IPV6,
						  IPV6_RECVPKTINFO, &one,
						  sizeof(one))))
				return -errno;
		}
		if (bind(fd, (const struct sockaddr *)&l->bound.ss,
			 cv_tp_addr_len(&l->bound)))
			return -errno;
		if (k == 0 && cv_tp_addr_port(&l->bound) == 0) {
			socklen_t sl = sizeof(l->bound.ss);
			if (getsockname(fd, (struct sockaddr *)&l->bound.ss,
					&sl))
				return -errno;
		}
	}
	return 0;
}

int tp_udp_bind(struct cv_tp *tp, struct tp_listener *l)
{
	return bind_all(tp, l, SOCK_DGRAM);
}

int tp_stream_bind(struct cv_tp *tp, struct tp_listener *l)
{
	return bind_all(tp, l, SOCK_STREAM);
}

/* The datagram's destination address from IP_PKTINFO / IPV6_PKTINFO. */
static void pktinfo_local(struct msghdr *mh, struct cv_tp_addr *local)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm;
	     cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level == IPPROTO_IP &&
		    cm->cmsg_type == IP_PKTINFO &&
		    local->ss.ss_family == AF_INET) {
			struct in_pktinfo pi;
			memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
			((struct sockaddr_in *)&local->ss)->sin_addr =
				pi.ipi_addr;
		} else if (cm->cmsg_level == IPPROTO_IPV6 &&
			   cm->cmsg_type == IPV6_PKTINFO &&
			   local->ss.ss_family == AF_INET6) {
			struct in6_pktinfo pi;
			memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
			((struct sockaddr_in6 *)&local->ss)->sin6_addr =
				pi.ipi6_addr;
		}
	}
}

/* Control message choosing the source address of a datagram sent from a
 * wildcard socket; returns its length (0: none). */
static size_t pktinfo_src(const struct cv_tp_addr *src, char *ctl, size_t size)
{
	struct msghdr mh = {.msg_control = ctl, .msg_controllen = size};
	if (!cv_tp_addr_isset(src) || cv_tp_addr_is_any(src))
		return 0;
	memset(ctl, 0, size);
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	if (src->ss.ss_family == AF_INET) {
		struct in_pktinfo pi = {0};
		pi.ipi_spec_dst =
			((const struct sockaddr_in *)&src->ss)->sin_addr;
		cm->cmsg_level = IPPROTO_IP;
		cm->cmsg_type = IP_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
		return CMSG_SPACE(sizeof(pi));
	}
	struct in6_pktinfo pi6 = {0};
	pi6.ipi6_addr = ((const struct sockaddr_in6 *)&src->ss)->sin6_addr;
	cm->cmsg_level = IPPROTO_IPV6;
	cm->cmsg_type = IPV6_PKTINFO;
	cm->cmsg_len = CMSG_LEN(sizeof(pi6));
	memcpy(CMSG_DATA(cm), &pi6, sizeof(pi6));
	return CMSG_SPACE(sizeof(pi6));
}

/* RFC 5626 §4.4.2 / §8.4: a UA using outbound keeps a UDP flow alive
 * with STUN Binding requests (RFC 5389) sent to the SIP port; answer each
 * with a Binding success response carrying XOR-MAPPED-ADDRESS (the
 * source address the NAT gave the flow). True when buf was a STUN
 * message (answered or not). SIP never starts with a byte below 0x40. */
#define STUN_COOKIE 0x2112A442u
static bool stun_answer(struct tp_worker *tw, const struct tp_udp *u,
			const struct cv_tp_meta *meta, const uint8_t *b,
			size_t len)
{
	if (len < 20 || (b[0] & 0xc0) != 0)
		return false;
	uint32_t cookie = (uint32_t)b[4] << 24 | (uint32_t)b[5] << 16 |
			  (uint32_t)b[6] << 8 | b[7];
	size_t alen = (size_t)b[2] << 8 | b[3];
	if (cookie != STUN_COOKIE || alen + 20 != len || (alen & 3))
		return false;
	if (b[0] != 0x00 || b[1] != 0x01)
		return true; /* not a Binding request: nothing to answer */
	uint8_t r[20 + 4 + 20];
	size_t n = 20;
	r[0] = 0x01; /* Binding success response */
	r[1] = 0x01;
	memcpy(r + 4, b + 4, 16); /* cookie and transaction ID */
	r[n++] = 0x00;		  /* XOR-MAPPED-ADDRESS */
	r[n++] = 0x20;
	const struct sockaddr_storage *ss = &meta->src.ss;
	uint16_t port =
		cv_tp_addr_port(&meta->src) ^ (uint16_t)(STUN_COOKIE >> 16);
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)ss;
		const uint8_t *a = (const uint8_t *)&in->sin_addr.s_addr;
		r[n++] = 0;
		r[n++] = 8;
		r[n++] = 0;
		r[n++] = 0x01;
		r[n++] = (uint8_t)(port >> 8);
		r[n++] = (uint8_t)port;
		for (int i = 0; i < 4; i++)
			r[n++] = a[i] ^ r[4 + i];
	} else {
		const struct sockaddr_in6 *in6 = (const void *)ss;
		const uint8_t *a = in6->sin6_addr.s6_addr;
		r[n++] = 0;
		r[n++] = 20;
		r[n++] = 0;
		r[n++] = 0x02;
		r[n++] = (uint8_t)(port >> 8);
		r[n++] = (uint8_t)port;
		for (int i = 0; i < 16;
		     i++) /* XOR with cookie + transaction ID */
			r[n++] = a[i] ^ r[4 + i];
	}
	r[2] = (uint8_t)((n - 20) >> 8);
	r[3] = (uint8_t)(n - 20);
	if (tp_udp_send(tw, u->li, &meta->src, &meta->local, r, n) == 0)
		TP_INC(tw, keepalive_pong);
	return true;
}

/* Points the receive headers at the worker's buffers. All of them when
 * the previous receive was on another socket; else only those the kernel
 * wrote to (name and control lengths, flags): at one datagram per
 * wake-up, rebuilding all `batch` headers cost more than the rest of the
 * receive path. */
static void rx_prepare(struct tp_worker *tw, const struct tp_udp *u)
{
	unsigned to = tw->batch;
	if (tw->rx_for == u && tw->rx_used < tw->batch)
		to = tw->rx_used + 1;
	tw->rx_for = u;
	for (unsigned i = 0; i < to; i++) {
		struct msghdr *mh = &tw->rxm[i].msg_hdr;
		tw->rxiov[i].iov_base = tw->rxbuf + i * tw->rxslot;
		tw->rxiov[i].iov_len = tw->rxslot;
		memset(mh, 0, sizeof(*mh));
		mh->msg_name = &tw->rxsrc[i].ss;
		mh->msg_namelen = sizeof(tw->rxsrc[i].ss);
		mh->msg_iov = &tw->rxiov[i];
		mh->msg_iovlen = 1;
		if (u->any) {
			mh->msg_control = tw->rxctl[i];
			mh->msg_controllen = sizeof(tw->rxctl[i]);
		}
	}
	tw->rx_used = 0;
}

static void udp_readable(uv_poll_t *h, int status, int events)
{
	struct tp_udp *u = h->data;
	struct tp_worker *tw = u->tw;
	struct cv_tp *tp = tw->tp;
	unsigned batch = tw->batch;

	if (status < 0)
		return;
	/* Bounded rounds per wake-up so one socket cannot starve the loop. */
	for (unsigned round = 0; round < 8; round++) {
		rx_prepare(tw, u);
		int n = recvmmsg(u->fd, tw->rxm, batch, MSG_DONTWAIT, NULL);
		if (n <= 0)
			break;
		tw->rx_used = (unsigned)n;
		TP_INC(tw, udp_batches);
		/* A lone datagram's answer leaves at once with sendmsg: no
		 * copy into the send arena, no mmsghdr. */
		tw->in_batch = n > 1;
		uint64_t now = cv_clock_us();
		for (int i = 0; i < n; i++) {
			size_t len = tw->rxm[i].msg_len;
			const char *buf = tw->rxiov[i].iov_base;
			if (len > tp->lim.max_udp_msg ||
			    (tw->rxm[i].msg_hdr.msg_flags & MSG_TRUNC)) {
				TP_INC(tw, rej_udp_too_big);
				CV_LOG_RL(CV_LOG_WARN, TP_MOD,
					  "udp datagram over %zu bytes dropped",
					  tp->lim.max_udp_msg);
				continue;
			}
			/* RFC 5626 §3.5.1/§4.4.2 keep-alives (CRLF, STUN) and
			 * empty datagrams carry no message; nor do datagrams of
			 * CR/LF only (RFC 3261 §7.5), whatever their length. */
			if (len <= 4 || cv_sip_keepalive_len(buf, len) == len)
				continue;
			struct cv_tp_meta meta = {
				.kind = CV_TP_UDP,
				.src = tw->rxsrc[i],
				.local = tp->lis[u->li].bound,
				.conn = NULL,
				.rx_us = now,
			};
			if (u->any)
				pktinfo_local(&tw->rxm[i].msg_hdr, &meta.local);
			if (stun_answer(tw, u, &meta, (const uint8_t *)buf,
					len))
				continue;
			tp_deliver(tw, &meta, buf, len);
		}
		tw->in_batch = false;
		tp_udp_flush(tw);
		if ((unsigned)n < batch)
			break;
	}
}

int tp_udp_start(struct tp_worker *tw, unsigned li)
{
	struct cv_tp *tp = tw->tp;
	struct tp_udp *u = &tw->udp[li];
	int fd = tp->lis[li].fds[tw->idx];
	int err;

	u->tw = tw;
	u->li = li;
	u->fd = fd;
	u->any = cv_tp_addr_is_any(&tp->lis[li].bound);
	err = uv_poll_init(cv_worker_loop(tw->w), &u->poll, fd);
	if (err)
		return err;
	tp->lis[li].fds[tw->idx] = -1; /* owned by the poll handle now */
	u->poll.data = u;
	u->active = true;
	return uv_poll_start(&u->poll, UV_READABLE, udp_readable);
}

static void udp_closed(uv_handle_t *h)
{
	struct tp_udp *u = h->data;
	close(u->fd);
	u->fd = -1;
}

void tp_udp_stop(struct tp_worker *tw, unsigned li)
{
	struct tp_udp *u = &tw->udp[li];
	if (!u->active)
		return;
	u->active = false;
	uv_poll_stop(&u->poll);
	uv_close((uv_handle_t *)&u->poll, udp_closed);
}

void tp_udp_flush(struct tp_worker *tw)
{
	struct mmsghdr m[TP_UDP_BATCH_MAX];
	struct iovec iov[TP_UDP_BATCH_MAX];
	char ctl[TP_UDP_BATCH_MAX][64];
	unsigned i = 0;

	while (i < tw->ntx) {
		/* one sendmmsg per run of entries on the same socket */
		unsigned k = 0;
		int fd = tw->tx[i].fd;
		while (i + k < tw->ntx && tw->tx[i + k].fd == fd) {
			struct tp_txent *e = &tw->tx[i + k];
			iov[k].iov_base = tw->txarena + e->off;
			iov[k].iov_len = e->len;
			memset(&m[k], 0, sizeof(m[k]));
			m[k].msg_hdr.msg_name = &e->dst.ss;
			m[k].msg_hdr.msg_namelen = cv_tp_addr_len(&e->dst);
			m[k].msg_hdr.msg_iov = &iov[k];
			m[k].msg_hdr.msg_iovlen = 1;
			size_t cl =
				pktinfo_src(&e->src, ctl[k], sizeof(ctl[k]));
			if (cl) {
				m[k].msg_hdr.msg_control = ctl[k];
				m[k].msg_hdr.msg_controllen = cl;
			}
			k++;
		}
		unsigned sent = 0;
		while (sent < k) {
			int r = sendmmsg(fd, m + sent, k - sent, MSG_DONTWAIT);
			if (r <= 0) {
				/* Send buffer full or ICMP error: that datagram
				 * is lost (UDP); skip it and go on. */
				CV_LOG_RL(CV_LOG_DEBUG, TP_MOD, "sendmmsg: %s",
					  cv_strerror(-errno));
				sent++;
				continue;
			}
			sent += (unsigned)r;
		}
		i += k;
	}
	tw->ntx = 0;
	tw->txused = 0;
}

int tp_udp_send(struct tp_worker *tw, unsigned li, const struct cv_tp_addr *dst,
		const struct cv_tp_addr *src, const void *buf, size_t len)
{
	struct tp_udp *u = &tw->udp[li];

	if (!u->active)
		return CV_ECLOSED;
	if (len > 65507)
		return CV_ETOOBIG;
	TP_INC(tw, tx_msgs[CV_TP_UDP]);
	if (tw->in_batch && tw->batch > 1) {
		if (tw->ntx == tw->batch || tw->txused + len > TP_TX_ARENA)
			tp_udp_flush(tw);
		if (len <= TP_TX_ARENA) {
			struct tp_txent *e = &tw->tx[tw->ntx++];
			e->dst = *dst;
			if (u->any && src)
				e->src = *src;
			else
				memset(&e->src, 0, sizeof(e->src));
			e->fd = u->fd;
			e->off = tw->txused;
			e->len = len;
			memcpy(tw->txarena + tw->txused, buf, len);
			tw->txused += (len + 7) & ~(size_t)7;
			return 0;
		}
	}
	char ctl[64];
	struct iovec iov = {(void *)(uintptr_t)buf, len};
	struct msghdr mh = {.msg_name = (void *)(uintptr_t)&dst->ss,
			    .msg_namelen = cv_tp_addr_len(dst),
			    .msg_iov = &iov,
			    .msg_iovlen = 1};
	size_t cl = u->any && src ? pktinfo_src(src, ctl, sizeof(ctl)) : 0;
	if (cl) {
		mh.msg_control = ctl;
		mh.msg_controllen = cl;
	}
	ssize_t r = sendmsg(u->fd, &mh, MSG_DONTWAIT);
	if (r < 0) {
		int err = -errno;
		CV_LOG_RL(CV_LOG_DEBUG, TP_MOD, "sendto: %s", cv_strerror(err));
		return err;
	}
	return 0;
}
