/* UDP sockets for sessions and the relay: an even RTP port from a range
 * with RTCP on the next port (RFC 3550 §11), or one port with rtcp-mux. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <unistd.h>

#include "rtp_int.h"

socklen_t cv_rtp_sa_len(const struct sockaddr *sa)
{
	return sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
					 : sizeof(struct sockaddr_in);
}

bool cv_rtp_sa_eq(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return false;
	if (a->sa_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a,
					 *y = (const void *)b;
		return x->sin_port == y->sin_port &&
		       x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->sa_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a,
					  *y = (const void *)b;
		return x->sin6_port == y->sin6_port &&
		       !memcmp(&x->sin6_addr, &y->sin6_addr, 16);
	}
	return false;
}

void cv_rtp_sa_copy(struct sockaddr_storage *dst, const struct sockaddr *src)
{
	memset(dst, 0, sizeof(*dst));
	if (src && (src->sa_family == AF_INET || src->sa_family == AF_INET6))
		memcpy(dst, src, cv_rtp_sa_len(src));
}

void cv_rtp_sa_set_port(struct sockaddr_storage *sa, uint16_t port)
{
	if (sa->ss_family == AF_INET)
		((struct sockaddr_in *)(void *)sa)->sin_port = htons(port);
	else if (sa->ss_family == AF_INET6)
		((struct sockaddr_in6 *)(void *)sa)->sin6_port = htons(port);
}

uint16_t cv_rtp_sa_port(const struct sockaddr_storage *sa)
{
	if (sa->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)(const void *)sa)
				     ->sin_port);
	if (sa->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)(const void *)sa)
				     ->sin6_port);
	return 0;
}

static int open_bound(const struct sockaddr_storage *ss, uint16_t port,
		      int *fdp)
{
	struct sockaddr_storage a = *ss;
	cv_rtp_sa_set_port(&a, port);
	int fd = socket(a.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			0);
	if (fd < 0)
		return -errno;
	int one = 1;
	/* Kernel drop counter for the flood statistics (SO_RXQ_OVFL). */
	(void)setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a,
		 cv_rtp_sa_len((struct sockaddr *)&a))) {
		int err = -errno;
		close(fd);
		return err;
	}
	*fdp = fd;
	return 0;
}

int cv_rtp_sock_bind_pair(const char *addr, uint16_t pmin, uint16_t pmax,
			  bool mux, int *rtp_fd, int *rtcp_fd, uint16_t *port)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	if (!addr)
		addr = "0.0.0.0";
	struct sockaddr_in *s4 = (struct sockaddr_in *)(void *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)(void *)&ss;
	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1)
		ss.ss_family = AF_INET;
	else if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1)
		ss.ss_family = AF_INET6;
	else
		return -EINVAL;
	if (pmin == 0 && pmax == 0) {
		pmin = 16384;
		pmax = 32767;
	}
	pmin = (uint16_t)((pmin + 1u) & ~1u);
	if (pmin < 2 || pmax < pmin || (!mux && pmax < pmin + 1))
		return -EINVAL;
	unsigned n = (unsigned)(pmax - pmin) / 2 + 1;
	unsigned start = cv_random_u32() % n;
	int last = -EADDRINUSE;
	/* Every even port of the range once, from a random start. */
	for (unsigned i = 0; i < n; i++) {
		uint16_t p = (uint16_t)(pmin + 2 * ((start + i) % n));
		if (!mux && p == 65535)
			continue;
		int a = -1, b = -1;
		last = open_bound(&ss, p, &a);
		if (last == -EADDRINUSE || last == -EACCES)
			continue;
		if (last)
			return last;
		if (!mux) {
			last = open_bound(&ss, (uint16_t)(p + 1), &b);
			if (last) {
				close(a);
				if (last == -EADDRINUSE || last == -EACCES)
					continue;
				return last;
			}
		}
		*rtp_fd = a;
		*rtcp_fd = b;
		*port = p;
		return 0;
	}
	return last;
}
