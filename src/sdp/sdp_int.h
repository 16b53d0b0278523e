/* Private helpers shared by the sdp parser, printer and offer/answer. */
#ifndef CVOIP_SDP_INT_H
#define CVOIP_SDP_INT_H

#include "cvoip/sdp.h"

/* Next space-separated token of *rest (runs of spaces/tabs collapse);
 * false when none is left. */
bool cv_sdp__tok(struct cv_pl *rest, struct cv_pl *tok);
/* Split s at the first c: *a before, *b after. false when c is absent
 * (then *a = s, *b empty). */
bool cv_sdp__split(struct cv_pl s, char c, struct cv_pl *a, struct cv_pl *b);
/* c= style "IN IP4 addr[/ttl[/n]]" into conn. 0 or CV_EPARSE. */
int cv_sdp__conn_parse(struct cv_pl v, struct cv_sdp_conn *conn);
/* Literal address into af/ip; false when not an IPv4/IPv6 literal. */
bool cv_sdp__addr_literal(struct cv_pl addr, int *af, uint8_t ip[16]);

#endif
