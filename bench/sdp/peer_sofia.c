/* sofia-sip's SDP parser (sdp_parse), the peer for the parse figure. */
#include <sofia-sip/sdp.h>

#include "peers.h"

int bench_sofia_parse(const char *text, size_t len)
{
	sdp_parser_t *p = sdp_parse(NULL, text, (issize_t)len, 0);
	int ok = p && sdp_session(p) != NULL;
	sdp_parser_free(p);
	return ok ? 0 : -1;
}
