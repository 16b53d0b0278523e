/* RTCP compound packets (RFC 3550 A.2) and XR (RFC 3611) on hostile
 * input: never crash; what parses must rebuild and parse again to the
 * same report. */
#include <stdlib.h>
#include <string.h>

#include "cvoip/rtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (int reduced = 0; reduced < 2; reduced++) {
		struct cv_rtcp_compound c;
		if (cv_rtcp_parse(&c, data, size, reduced) != 0)
			continue;
		if (c.n_rb > CV_RTCP_MAX_RB || c.n_bye > CV_RTCP_MAX_BYE)
			abort();
		if (c.cname.l &&
		    (c.cname.p < (const char *)data ||
		     c.cname.p + c.cname.l > (const char *)data + size))
			abort();
		uint8_t buf[4096];
		size_t len;
		if (cv_rtcp_build(buf, sizeof(buf), &c, &len) != 0)
			continue; /* e.g. APP data not a multiple of 4 */
		struct cv_rtcp_compound d;
		if (cv_rtcp_parse(&d, buf, len, false) != 0)
			abort();
		if (d.ssrc != c.ssrc || d.n_rb != c.n_rb ||
		    d.has_sr != c.has_sr || d.has_xr_voip != c.has_xr_voip ||
		    d.has_bye != c.has_bye || d.cname.l != c.cname.l ||
		    memcmp(d.rb, c.rb, sizeof(c.rb[0]) * c.n_rb))
			abort();
		if (c.has_xr_voip &&
		    memcmp(&d.xr_voip, &c.xr_voip, sizeof(c.xr_voip)))
			abort();
	}
	return 0;
}
