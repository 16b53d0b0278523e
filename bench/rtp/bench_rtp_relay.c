/* Relay benchmark: N concurrent one-way G.711 streams at 50 packets/s each
 * through a relay on loopback; the figure is the relay process' CPU
 * (utime+stime from /proc/<pid>/stat) per forwarded packet.
 *
 *   bench_rtp_relay cvoip    N SECONDS   cvoip's relay (cv_rtp_relay), epoll
 *                                        mode
 *   bench_rtp_relay cvoip-uring N SECONDS  the same relay in io_uring mode
 *   bench_rtp_relay cvoip-noconn / cvoip-uring-noconn N SECONDS
 *                                        the same without connecting
 *                                        settled legs (.no_connect)
 *   bench_rtp_relay rtpengine N SECONDS  rtpengine --table=-1 (userspace),
 *                                        calls set up over NG (bencode/UDP)
 *   bench_rtp_relay floor    N SECONDS   a bare recvmmsg->sendmmsg loop on
 *                                        the same sockets (kernel floor)
 *   bench_rtp_relay floor2   N SECONDS   the same, but sending from a second
 *                                        socket per stream (a relay's shape)
 *   bench_rtp_relay floor2c  N SECONDS   floor2 with both sockets connected
 *                                        (receive from the generator, send
 *                                        to the sink: a relay's settled legs)
 *
 * The generator (this process) paces packets every millisecond so that
 * each stream sends one 172-byte RTP packet per 20 ms, from one socket,
 * and counts what arrives at one sink socket. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cvoip/rtp.h"

int main(int argc, char **argv);

#define PKT_LEN 172
#define BATCH	64

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static double proc_cpu_us(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	if (!p)
		return -1;
	unsigned long ut = 0, st = 0;
	/* fields after ')': state(3) ... utime(14) stime(15) */
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
		   &ut, &st) != 2)
		return -1;
	return (double)(ut + st) * 1e6 / (double)sysconf(_SC_CLK_TCK);
}

static int udp_sock(uint16_t port, struct sockaddr_in *bound)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)))
		return -1;
	int sz = 8 << 20;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz));
	socklen_t l = sizeof(*bound);
	getsockname(fd, (struct sockaddr *)bound, &l);
	return fd;
}

static void raise_nofile(void)
{
	struct rlimit rl = {65536, 65536};
	if (setrlimit(RLIMIT_NOFILE, &rl)) {
		getrlimit(RLIMIT_NOFILE, &rl);
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* ---- relays under test ----------------------------------------------------
 */

static volatile sig_atomic_t stop_flag;
static void on_term(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void stop_cb(uv_timer_t *t)
{
	if (stop_flag)
		uv_stop(t->loop);
}

/* Child: cvoip relay with n streams; leg A ports to pipe fd, leg B to sink. */
static void run_cvoip(unsigned n, const struct sockaddr_in *sink, int wfd,
		      enum cv_rtp_relay_io io, bool no_connect)
{
	raise_nofile();
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct cv_rtp_relay *r;
	struct cv_rtp_relay_params p = {.loop = &loop,
					.local_addr = "127.0.0.1",
					.port_min = 20000,
					.port_max = 60000,
					.io = io,
					.no_connect = no_connect};
	if (cv_rtp_relay_create(&r, &p))
		exit(2);
	struct cv_rtp_relay_stream_params sp = {.rtcp_mux = {true, true}};
	for (unsigned i = 0; i < n; i++) {
		struct cv_rtp_relay_stream *st;
		struct sockaddr_storage a;
		if (cv_rtp_relay_stream_create(r, &st, &sp)) {
			fprintf(stderr, "stream %u: create failed\n", i);
			exit(2);
		}
		cv_rtp_relay_stream_set_remote(st, CV_RTP_RELAY_B,
					       (const struct sockaddr *)sink,
					       NULL);
		cv_rtp_relay_stream_local(st, CV_RTP_RELAY_A, &a, NULL);
		uint16_t port = ntohs(((struct sockaddr_in *)&a)->sin_port);
		if (write(wfd, &port, 2) != 2)
			exit(2);
	}
	close(wfd);
	signal(SIGTERM, on_term);
	uv_timer_t t;
	uv_timer_init(&loop, &t);
	uv_timer_start(&t, stop_cb, 50, 50);
	uv_run(&loop, UV_RUN_DEFAULT);
	struct cv_rtp_relay_stats rs;
	cv_rtp_relay_stats(r, &rs);
	fprintf(stderr,
		"cvoip relay (%s): received=%llu forwarded=%llu "
		"rx_syscalls=%llu "
		"tx_syscalls=%llu rearms=%llu connects=%llu\n",
		rs.uring ? "io_uring" : "epoll",
		(unsigned long long)rs.received,
		(unsigned long long)rs.forwarded,
		(unsigned long long)rs.syscalls_rx,
		(unsigned long long)rs.syscalls_tx,
		(unsigned long long)rs.rearms, (unsigned long long)rs.connects);
	exit(0);
}

/* Child: the kernel floor, one recvmmsg + one sendmmsg per ready socket
 * through epoll, no parsing, no statistics. */
static void run_floor(unsigned n, const struct sockaddr_in *sink,
		      const struct sockaddr_in *gen, int wfd, bool two,
		      bool conn)
{
	raise_nofile();
	int ep = epoll_create1(0);
	static uint8_t bufs[BATCH][2048];
	struct mmsghdr m[BATCH];
	struct iovec iov[BATCH];
	for (unsigned i = 0; i < n; i++) {
		struct sockaddr_in a, b;
		int fd = udp_sock(0, &a);
		/* floor2: a second socket per stream sends, as a relay's other
		 * leg does */
		int ofd = two ? udp_sock(0, &b) : fd;
		/* floor2c: both sockets connected (a relay's settled legs) */
		if (conn &&
		    (connect(fd, (const struct sockaddr *)gen, sizeof(*gen)) ||
		     connect(ofd, (const struct sockaddr *)sink,
			     sizeof(*sink))))
			exit(2);
		struct epoll_event ev = {.events = EPOLLIN,
					 .data.u64 = (uint64_t)(uint32_t)fd
							     << 32 |
						     (uint32_t)ofd};
		epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
		uint16_t port = ntohs(a.sin_port);
		if (write(wfd, &port, 2) != 2)
			exit(2);
	}
	close(wfd);
	signal(SIGTERM, on_term);
	struct epoll_event evs[256];
	while (!stop_flag) {
		int k = epoll_wait(ep, evs, 256, 50);
		for (int e = 0; e < k; e++) {
			for (int i = 0; i < BATCH; i++) {
				iov[i] = (struct iovec){bufs[i],
							sizeof(bufs[i])};
				m[i].msg_hdr = (struct msghdr){
					.msg_iov = &iov[i], .msg_iovlen = 1};
			}
			int rfd = (int)(evs[e].data.u64 >> 32),
			    sfd = (int)(uint32_t)evs[e].data.u64;
			int got = recvmmsg(rfd, m, BATCH, MSG_DONTWAIT, NULL);
			if (got <= 0)
				continue;
			for (int i = 0; i < got; i++) {
				iov[i].iov_len = m[i].msg_len;
				m[i].msg_hdr.msg_name =
					conn ? NULL : (void *)sink;
				m[i].msg_hdr.msg_namelen =
					conn ? 0 : sizeof(*sink);
			}
			sendmmsg(sfd, m, (unsigned)got, MSG_DONTWAIT);
		}
	}
	exit(0);
}

/* rtpengine: NG "offer"/"answer" per stream; returns the port the
 * generator sends to. */
static int ng_request(int fd, const struct sockaddr_in *ng, const char *cmd,
		      const char *callid, const char *sdp, const char *to_tag,
		      char *resp, size_t rsize)
{
	static unsigned cookie;
	char req[2048];
	int n = snprintf(req, sizeof(req),
			 "%u "
			 "d7:call-id%zu:%s7:command%zu:%s8:from-tag4:ftag3:sdp%"
			 "zu:%s%s%s%se",
			 ++cookie, strlen(callid), callid, strlen(cmd), cmd,
			 strlen(sdp), sdp, to_tag ? "6:to-tag" : "",
			 to_tag ? "4:" : "", to_tag ? to_tag : "");
	sendto(fd, req, (size_t)n, 0, (const struct sockaddr *)ng, sizeof(*ng));
	for (int i = 0; i < 2000; i++) {
		ssize_t r = recv(fd, resp, rsize - 1, 0);
		if (r > 0) {
			resp[r] = 0;
			return 0;
		}
		usleep(1000);
	}
	return -1;
}

static int sdp_port(const char *resp)
{
	const char *m = strstr(resp, "m=audio ");
	return m ? atoi(m + 8) : -1;
}

static pid_t start_rtpengine(unsigned n, const struct sockaddr_in *gen,
			     const struct sockaddr_in *sink, int wfd)
{
	pid_t pid = fork();
	if (pid == 0) {
		raise_nofile();
		close(wfd);
		execlp("rtpengine", "rtpengine", "--table=-1",
		       "--interface=127.0.0.1", "--listen-ng=127.0.0.1:22222",
		       "--port-min=20000", "--port-max=60000", "--foreground",
		       "--log-stderr", "--log-level=3", "--num-threads=1",
		       "--delete-delay=0", "--timeout=600",
		       "--silent-timeout=600", (char *)NULL);
		_exit(127);
	}
	usleep(700000);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in ng = {.sin_family = AF_INET,
				 .sin_port = htons(22222)};
	ng.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	char resp[8192], sdp[512], cid[32];
	for (unsigned i = 0; i < n; i++) {
		snprintf(cid, sizeof(cid), "bench-%u", i);
		snprintf(sdp, sizeof(sdp),
			 "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 "
			 "127.0.0.1\r\n"
			 "t=0 0\r\nm=audio %u RTP/AVP 0\r\na=sendrecv\r\n",
			 ntohs(gen->sin_port));
		if (ng_request(fd, &ng, "offer", cid, sdp, NULL, resp,
			       sizeof(resp))) {
			fprintf(stderr, "rtpengine: no answer to offer %u\n",
				i);
			kill(pid, SIGTERM);
			exit(2);
		}
		snprintf(sdp, sizeof(sdp),
			 "v=0\r\no=- 2 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 "
			 "127.0.0.1\r\n"
			 "t=0 0\r\nm=audio %u RTP/AVP 0\r\na=sendrecv\r\n",
			 ntohs(sink->sin_port));
		if (ng_request(fd, &ng, "answer", cid, sdp, "ttag", resp,
			       sizeof(resp))) {
			fprintf(stderr, "rtpengine: no answer to answer %u\n",
				i);
			kill(pid, SIGTERM);
			exit(2);
		}
		int port = sdp_port(resp);
		if (port <= 0) {
			fprintf(stderr, "rtpengine: bad answer: %.200s\n",
				resp);
			kill(pid, SIGTERM);
			exit(2);
		}
		uint16_t p16 = (uint16_t)port;
		if (write(wfd, &p16, 2) != 2)
			exit(2);
	}
	close(fd);
	close(wfd);
	return pid;
}

/* ---- generator -------------------------------------------------------------
 */

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr,
			"usage: %s cvoip|cvoip-uring|rtpengine|floor|floor2|floor2c "
			"STREAMS SECONDS\n",
			argv[0]);
		return 2;
	}
	const char *mode = argv[1];
	unsigned n = (unsigned)atoi(argv[2]);
	unsigned secs = (unsigned)atoi(argv[3]);
	if (n == 0 || n > 20000 || secs == 0 || secs > 120)
		return 2;
	raise_nofile();
	struct sockaddr_in gen_a, sink_a;
	int gen = udp_sock(0, &gen_a), sink = udp_sock(0, &sink_a);
	if (gen < 0 || sink < 0)
		return 2;
	int pfd[2];
	if (pipe(pfd))
		return 2;
	pid_t pid;
	if (!strcmp(mode, "rtpengine")) {
		pid = start_rtpengine(n, &gen_a, &sink_a, pfd[1]);
	} else {
		pid = fork();
		if (pid == 0) {
			close(pfd[0]);
			if (!strncmp(mode, "floor", 5))
				run_floor(n, &sink_a, &gen_a, pfd[1],
					  strcmp(mode, "floor") != 0,
					  !strcmp(mode, "floor2c"));
			run_cvoip(n, &sink_a, pfd[1],
				  !strncmp(mode, "cvoip-uring", 11)
					  ? CV_RTP_RELAY_IO_URING
					  : CV_RTP_RELAY_IO_EPOLL,
				  strstr(mode, "noconn") != NULL);
		}
		close(pfd[1]);
	}
	uint16_t *ports = calloc(n, sizeof(*ports));
	size_t got = 0;
	while (got < n * 2) {
		ssize_t r = read(pfd[0], (char *)ports + got, n * 2 - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	if (got != n * 2) {
		fprintf(stderr, "relay set up only %zu of %u streams\n",
			got / 2, n);
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
		return 1;
	}
	struct sockaddr_in *dst = calloc(n, sizeof(*dst));
	for (unsigned i = 0; i < n; i++) {
		dst[i] = (struct sockaddr_in){.sin_family = AF_INET,
					      .sin_port = htons(ports[i])};
		dst[i].sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	}
	static uint8_t pk[BATCH][PKT_LEN];
	struct mmsghdr m[BATCH];
	struct iovec iov[BATCH];
	uint16_t *seq = calloc(n, sizeof(*seq));
	static uint8_t rbuf[BATCH][2048];
	struct mmsghdr rm[BATCH];
	struct iovec riov[BATCH];
	uint64_t sent = 0, recvd = 0, recvd_window = 0;
	/* Warm up 4 s (latching, rtpengine's learning, and the relay's 3 s
	 * latch window after which settled legs are connected), then
	 * measure the steady state. */
	uint64_t t0 = now_ns(), tick = 0;
	uint64_t warm = 4000000000ull,
		 end = warm + (uint64_t)secs * 1000000000ull;
	double cpu0 = -1, cpu1 = -1;
	uint64_t sent0 = 0, recvd0 = 0;
	for (;;) {
		uint64_t el = now_ns() - t0;
		if (cpu0 < 0 && el >= warm) {
			cpu0 = proc_cpu_us(pid);
			sent0 = sent;
			recvd0 = recvd;
		}
		if (el >= end)
			break;
		/* 1 ms tick: streams i with i % 20 == tick % 20. */
		unsigned k = 0;
		for (unsigned i = (unsigned)(tick % 20); i < n; i += 20) {
			uint8_t *b = pk[k];
			struct cv_rtp_hdr h = {.pt = 0,
					       .seq = seq[i]++,
					       .ts = 160u * seq[i],
					       .ssrc = i + 1};
			size_t len;
			cv_rtp_build(b, PKT_LEN, &h, NULL, 0, &len);
			memset(b + 12, 0xd5, PKT_LEN - 12);
			iov[k] = (struct iovec){b, PKT_LEN};
			m[k].msg_hdr =
				(struct msghdr){.msg_name = &dst[i],
						.msg_namelen = sizeof(dst[i]),
						.msg_iov = &iov[k],
						.msg_iovlen = 1};
			if (++k == BATCH || i + 20 >= n) {
				int s = sendmmsg(gen, m, k, 0);
				if (s > 0)
					sent += (unsigned)s;
				k = 0;
			}
		}
		/* Drain the sink and the generator socket (rtpengine may send
		 * to either). */
		int socks[2] = {sink, gen};
		for (int q = 0; q < 2; q++) {
			for (;;) {
				for (int i = 0; i < BATCH; i++) {
					riov[i] = (struct iovec){
						rbuf[i], sizeof(rbuf[i])};
					rm[i].msg_hdr = (struct msghdr){
						.msg_iov = &riov[i],
						.msg_iovlen = 1};
				}
				int r = recvmmsg(socks[q], rm, BATCH,
						 MSG_DONTWAIT, NULL);
				if (r <= 0)
					break;
				if (q == 0)
					recvd += (unsigned)r;
			}
		}
		tick++;
		uint64_t next = t0 + tick * 1000000ull;
		struct timespec ts = {(time_t)(next / 1000000000ull),
				      (long)(next % 1000000000ull)};
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
	}
	cpu1 = proc_cpu_us(pid);
	/* Catch the packets still in flight for the loss figure. */
	usleep(100000);
	for (;;) {
		for (int i = 0; i < BATCH; i++) {
			riov[i] = (struct iovec){rbuf[i], sizeof(rbuf[i])};
			rm[i].msg_hdr = (struct msghdr){.msg_iov = &riov[i],
							.msg_iovlen = 1};
		}
		int r = recvmmsg(sink, rm, BATCH, MSG_DONTWAIT, NULL);
		if (r <= 0)
			break;
		recvd_window += (unsigned)r;
	}
	uint64_t fwd = recvd - recvd0;
	uint64_t offered = sent - sent0;
	double cpu = cpu1 - cpu0;
	printf("%s streams=%u seconds=%u offered_pps=%.0f forwarded=%llu "
	       "loss=%.3f%% "
	       "relay_cpu_s=%.2f cpu_us_per_pkt=%.2f\n",
	       mode, n, secs, (double)offered / secs, (unsigned long long)fwd,
	       offered ? 100.0 * (1.0 -
				  (double)(recvd + recvd_window - recvd0) /
					  offered)
		       : 0,
	       cpu / 1e6, fwd ? cpu / (double)fwd : 0);
	fflush(stdout);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	free(ports);
	free(dst);
	free(seq);
	return 0;
}
