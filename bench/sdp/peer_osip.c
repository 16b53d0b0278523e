/* osip2's SDP parser (sdp_message_parse), the second peer. */
#include <osipparser2/osip_parser.h>
#include <osipparser2/sdp_message.h>

#include "peers.h"

void bench_osip_init(void)
{
	parser_init();
}

int bench_osip_parse(const char *text)
{
	sdp_message_t *m;
	if (sdp_message_init(&m))
		return -1;
	int err = sdp_message_parse(m, text);
	sdp_message_free(m);
	return err ? -1 : 0;
}
