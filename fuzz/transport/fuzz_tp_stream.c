/* Fuzz the stream input parsers of the transport: SIP stream framing with
 * keep-alives (RFC 3261 §18.3, RFC 5626) fed in two chunks, the
 * WebSocket Upgrade request parser, and the RFC 5923 alias Via scan. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/transport/tp_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_req r;
	(void)tp_http_parse((const char *)data, size, &r);
	struct cv_pl host;
	uint16_t port;
	for (int k = CV_TP_TCP; k <= CV_TP_TLS; k++)
		if (tp_alias_parse((const char *)data, size, (enum cv_tp_kind)k,
				   &host, &port) == 0 &&
		    (host.p < (const char *)data ||
		     host.p + host.l > (const char *)data + size || port == 0))
			abort();
	if (size > 70000)
		return 0;
	char *buf = malloc(size + 1);
	if (!buf)
		return 0;
	size_t have = 0, split = size ? data[0] % (size + 1) : 0;
	for (int part = 0; part < 2; part++) {
		size_t add = part == 0 ? split : size - split;
		memcpy(buf + have, data + (part == 0 ? 0 : split), add);
		have += add;
		for (unsigned guard = 0; guard < 100000; guard++) {
			size_t used, mlen;
			unsigned pings;
			int err = tp_frame_next(buf, have, 4096, &used, &mlen,
						&pings);
			if (used > have ||
			    (err == 0 && (mlen == 0 || mlen > used)))
				abort();
			memmove(buf, buf + used, have - used);
			have -= used;
			if (err)
				break;
		}
	}
	free(buf);
	return 0;
}
