/* Peer SDP parsers, each in its own file: sofia-sip and osip2 both define
 * sdp_media_t & co. 0 when the text parsed. */
#ifndef CV_BENCH_SDP_PEERS_H
#define CV_BENCH_SDP_PEERS_H
#include <stddef.h>
int bench_sofia_parse(const char *text, size_t len);
void bench_osip_init(void);
int bench_osip_parse(const char *text);
#endif
