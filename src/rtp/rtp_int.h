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

#endif
