/* Private helpers of the rtp module. */
#ifndef CVOIP_RTP_INT_H
#define CVOIP_RTP_INT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cvoip/rtp.h"

#define CV_RTP_MOD "rtp"

static inline uint16_t cv_get16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}
static inline uint32_t cv_get24(const uint8_t *p)
{
	return ((uint32_t)p[0] << 16) | ((uint32_t)p[1] << 8) | p[2];
}
static inline uint32_t cv_get32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	       ((uint32_t)p[2] << 8) | p[3];
}
static inline void cv_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static inline void cv_put24(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 16);
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)v;
}
static inline void cv_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Socket helpers shared by the session and the relay (sock.c). */
int cv_rtp_sock_bind_pair(const char *addr, uint16_t pmin, uint16_t pmax,
			  bool mux, int *rtp_fd, int *rtcp_fd, uint16_t *port);
bool cv_rtp_sa_eq(const struct sockaddr *a, const struct sockaddr *b);
socklen_t cv_rtp_sa_len(const struct sockaddr *sa);
void cv_rtp_sa_copy(struct sockaddr_storage *dst, const struct sockaddr *src);
void cv_rtp_sa_set_port(struct sockaddr_storage *sa, uint16_t port);
uint16_t cv_rtp_sa_port(const struct sockaddr_storage *sa);

/* cv_rtp_source_update() with jitter optional (RFC 4733 events keep one
 * timestamp over many packets and would fake jitter). */
int cv_rtp_source_update_ex(struct cv_rtp_source *s, uint16_t seq, uint32_t ts,
			    size_t payload_len, uint64_t arrival_us,
			    bool jitter);

/* The RTCP interval of A.7 before randomisation with a given minimum. */
double cv_rtcp_interval_raw(const struct cv_rtcp_interval_in *in,
			    double rtcp_min);

/* MOS of a received stream from its figures (E-model with codec table). */
double cv_rtp_mos_for(const char *codec, bool plc, double loss_pct,
		      double delay_ms, double *r_out);

/* Minimal io_uring for the relay (uring.c): raw system calls, one ring per
 * relay, used from the relay's loop thread only. */
struct io_uring_sqe;
struct io_uring_cqe;
struct io_uring_buf_ring;
struct cv_uring {
	int fd;
	bool enabled;
	void *sq_ptr, *cq_ptr;
	size_t sq_sz, cq_sz, sqes_sz, br_sz;
	unsigned *sq_head, *sq_tail, *sq_array;
	unsigned sq_mask, sq_entries, local_tail;
	unsigned *cq_head, *cq_tail;
	unsigned *sq_flags, *cq_flags;
	unsigned cq_mask;
	struct io_uring_cqe *cqes;
	struct io_uring_sqe *sqes;
	struct io_uring_buf_ring *br; /* provided buffers, group 0 */
	uint8_t *bufs;
	unsigned nbufs, buf_size;
	uint16_t br_tail;
	unsigned nfixed; /* size of the fixed-file table (0: none) */
	uint64_t enters;
};
int cv_uring_init(struct cv_uring *u, unsigned sq, unsigned cq, unsigned nbufs,
		  unsigned buf_size, uint8_t *bufs);
void cv_uring_free(struct cv_uring *u);
int cv_uring_enable(struct cv_uring *u);
int cv_uring_register_eventfd(struct cv_uring *u, int efd);
/* Puts fd (or -1: clears) into fixed-file slot `slot`. */
int cv_uring_file_set(struct cv_uring *u, unsigned slot, int fd);
/* Next free submission entry (zeroed), NULL when the queue is full. */
struct io_uring_sqe *cv_uring_sqe(struct cv_uring *u);
/* Submits what is queued and runs ready completions; no waiting. */
int cv_uring_submit(struct cv_uring *u);
/* Hands buffer `bid` back to the kernel (visible after _commit). */
void cv_uring_buf_put(struct cv_uring *u, uint16_t bid);
void cv_uring_buf_commit(struct cv_uring *u);

#endif
