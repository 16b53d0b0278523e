/* Method and header-name tables (RFC 3261 §7.3.3 compact forms). */
#include <string.h>

#include "sip_int.h"

static const char *const methods[CV_SIP_METHOD_COUNT] = {
	[CV_SIP_METHOD_OTHER] = "",
	[CV_SIP_INVITE] = "INVITE",
	[CV_SIP_ACK] = "ACK",
	[CV_SIP_BYE] = "BYE",
	[CV_SIP_CANCEL] = "CANCEL",
	[CV_SIP_OPTIONS] = "OPTIONS",
	[CV_SIP_REGISTER] = "REGISTER",
	[CV_SIP_PRACK] = "PRACK",
	[CV_SIP_SUBSCRIBE] = "SUBSCRIBE",
	[CV_SIP_NOTIFY] = "NOTIFY",
	[CV_SIP_PUBLISH] = "PUBLISH",
	[CV_SIP_INFO] = "INFO",
	[CV_SIP_REFER] = "REFER",
	[CV_SIP_MESSAGE] = "MESSAGE",
	[CV_SIP_UPDATE] = "UPDATE",
};

enum cv_sip_method cv_sip_method_from(struct cv_pl n)
{
	if (n.l < 3 || n.l > 9)
		return CV_SIP_METHOD_OTHER;
	/* dispatch on first letter; methods are case-sensitive */
	switch (n.p[0]) {
	case 'I':
		if (n.l == 6 && !memcmp(n.p, "INVITE", 6))
			return CV_SIP_INVITE;
		if (n.l == 4 && !memcmp(n.p, "INFO", 4))
			return CV_SIP_INFO;
		break;
	case 'A':
		if (n.l == 3 && !memcmp(n.p, "ACK", 3))
			return CV_SIP_ACK;
		break;
	case 'B':
		if (n.l == 3 && !memcmp(n.p, "BYE", 3))
			return CV_SIP_BYE;
		break;
	case 'C':
		if (n.l == 6 && !memcmp(n.p, "CANCEL", 6))
			return CV_SIP_CANCEL;
		break;
	case 'O':
		if (n.l == 7 && !memcmp(n.p, "OPTIONS", 7))
			return CV_SIP_OPTIONS;
		break;
	case 'R':
		if (n.l == 8 && !memcmp(n.p, "REGISTER", 8))
			return CV_SIP_REGISTER;
		if (n.l == 5 && !memcmp(n.p, "REFER", 5))
			return CV_SIP_REFER;
		break;
	case 'P':
		if (n.l == 5 && !memcmp(n.p, "PRACK", 5))
			return CV_SIP_PRACK;
		if (n.l == 7 && !memcmp(n.p, "PUBLISH", 7))
			return CV_SIP_PUBLISH;
		break;
	case 'S':
		if (n.l == 9 && !memcmp(n.p, "SUBSCRIBE", 9))
			return CV_SIP_SUBSCRIBE;
		break;
	case 'N':
		if (n.l == 6 && !memcmp(n.p, "NOTIFY", 6))
			return CV_SIP_NOTIFY;
		break;
	case 'M':
		if (n.l == 7 && !memcmp(n.p, "MESSAGE", 7))
			return CV_SIP_MESSAGE;
		break;
	case 'U':
		if (n.l == 6 && !memcmp(n.p, "UPDATE", 6))
			return CV_SIP_UPDATE;
		break;
	default:
		break;
	}
	return CV_SIP_METHOD_OTHER;
}

const char *cv_sip_method_name(enum cv_sip_method m)
{
	return (unsigned)m < CV_SIP_METHOD_COUNT ? methods[m] : "";
}

struct hname {
	const char *name; /* lowercase */
	uint8_t len;
	uint8_t id;
};

static const char *const canon[CV_SIP_HDR_COUNT] = {
	[CV_SIP_HDR_ACCEPT] = "Accept",
	[CV_SIP_HDR_ACCEPT_CONTACT] = "Accept-Contact",
	[CV_SIP_HDR_ACCEPT_ENCODING] = "Accept-Encoding",
	[CV_SIP_HDR_ACCEPT_LANGUAGE] = "Accept-Language",
	[CV_SIP_HDR_ALERT_INFO] = "Alert-Info",
	[CV_SIP_HDR_ALLOW] = "Allow",
	[CV_SIP_HDR_ALLOW_EVENTS] = "Allow-Events",
	[CV_SIP_HDR_AUTHENTICATION_INFO] = "Authentication-Info",
	[CV_SIP_HDR_AUTHORIZATION] = "Authorization",
	[CV_SIP_HDR_CALL_ID] = "Call-ID",
	[CV_SIP_HDR_CALL_INFO] = "Call-Info",
	[CV_SIP_HDR_CONTACT] = "Contact",
	[CV_SIP_HDR_CONTENT_DISPOSITION] = "Content-Disposition",
	[CV_SIP_HDR_CONTENT_ENCODING] = "Content-Encoding",
	[CV_SIP_HDR_CONTENT_LANGUAGE] = "Content-Language",
	[CV_SIP_HDR_CONTENT_LENGTH] = "Content-Length",
	[CV_SIP_HDR_CONTENT_TYPE] = "Content-Type",
	[CV_SIP_HDR_CSEQ] = "CSeq",
	[CV_SIP_HDR_DATE] = "Date",
	[CV_SIP_HDR_DIVERSION] = "Diversion",
	[CV_SIP_HDR_ERROR_INFO] = "Error-Info",
	[CV_SIP_HDR_EVENT] = "Event",
	[CV_SIP_HDR_EXPIRES] = "Expires",
	[CV_SIP_HDR_FROM] = "From",
	[CV_SIP_HDR_HISTORY_INFO] = "History-Info",
	[CV_SIP_HDR_IN_REPLY_TO] = "In-Reply-To",
	[CV_SIP_HDR_MAX_FORWARDS] = "Max-Forwards",
	[CV_SIP_HDR_MIME_VERSION] = "MIME-Version",
	[CV_SIP_HDR_MIN_EXPIRES] = "Min-Expires",
	[CV_SIP_HDR_MIN_SE] = "Min-SE",
	[CV_SIP_HDR_ORGANIZATION] = "Organization",
	[CV_SIP_HDR_P_ASSERTED_IDENTITY] = "P-Asserted-Identity",
	[CV_SIP_HDR_P_PREFERRED_IDENTITY] = "P-Preferred-Identity",
	[CV_SIP_HDR_PATH] = "Path",
	[CV_SIP_HDR_PRIORITY] = "Priority",
	[CV_SIP_HDR_PRIVACY] = "Privacy",
	[CV_SIP_HDR_PROXY_AUTHENTICATE] = "Proxy-Authenticate",
	[CV_SIP_HDR_PROXY_AUTHORIZATION] = "Proxy-Authorization",
	[CV_SIP_HDR_PROXY_REQUIRE] = "Proxy-Require",
	[CV_SIP_HDR_RACK] = "RAck",
	[CV_SIP_HDR_REASON] = "Reason",
	[CV_SIP_HDR_RECORD_ROUTE] = "Record-Route",
	[CV_SIP_HDR_REFER_TO] = "Refer-To",
	[CV_SIP_HDR_REFERRED_BY] = "Referred-By",
	[CV_SIP_HDR_REJECT_CONTACT] = "Reject-Contact",
	[CV_SIP_HDR_REPLACES] = "Replaces",
	[CV_SIP_HDR_REPLY_TO] = "Reply-To",
	[CV_SIP_HDR_REQUEST_DISPOSITION] = "Request-Disposition",
	[CV_SIP_HDR_REQUIRE] = "Require",
	[CV_SIP_HDR_RETRY_AFTER] = "Retry-After",
	[CV_SIP_HDR_ROUTE] = "Route",
	[CV_SIP_HDR_RSEQ] = "RSeq",
	[CV_SIP_HDR_SERVER] = "Server",
	[CV_SIP_HDR_SERVICE_ROUTE] = "Service-Route",
	[CV_SIP_HDR_SESSION_EXPIRES] = "Session-Expires",
	[CV_SIP_HDR_SIP_ETAG] = "SIP-ETag",
	[CV_SIP_HDR_SIP_IF_MATCH] = "SIP-If-Match",
	[CV_SIP_HDR_SUBJECT] = "Subject",
	[CV_SIP_HDR_SUBSCRIPTION_STATE] = "Subscription-State",
	[CV_SIP_HDR_SUPPORTED] = "Supported",
	[CV_SIP_HDR_TIMESTAMP] = "Timestamp",
	[CV_SIP_HDR_TO] = "To",
	[CV_SIP_HDR_UNSUPPORTED] = "Unsupported",
	[CV_SIP_HDR_USER_AGENT] = "User-Agent",
	[CV_SIP_HDR_VIA] = "Via",
	[CV_SIP_HDR_WARNING] = "Warning",
	[CV_SIP_HDR_WWW_AUTHENTICATE] = "WWW-Authenticate",
};

/* compact forms (RFC 3261 §7.3.3, RFC 3841, RFC 3515, RFC 3892, RFC 4028,
 * RFC 6665) */
static const uint8_t compact[26] = {
	['a' - 'a'] = CV_SIP_HDR_ACCEPT_CONTACT,
	['b' - 'a'] = CV_SIP_HDR_REFERRED_BY,
	['c' - 'a'] = CV_SIP_HDR_CONTENT_TYPE,
	['d' - 'a'] = CV_SIP_HDR_REQUEST_DISPOSITION,
	['e' - 'a'] = CV_SIP_HDR_CONTENT_ENCODING,
	['f' - 'a'] = CV_SIP_HDR_FROM,
	['i' - 'a'] = CV_SIP_HDR_CALL_ID,
	['j' - 'a'] = CV_SIP_HDR_REJECT_CONTACT,
	['k' - 'a'] = CV_SIP_HDR_SUPPORTED,
	['l' - 'a'] = CV_SIP_HDR_CONTENT_LENGTH,
	['m' - 'a'] = CV_SIP_HDR_CONTACT,
	['o' - 'a'] = CV_SIP_HDR_EVENT,
	['r' - 'a'] = CV_SIP_HDR_REFER_TO,
	['s' - 'a'] = CV_SIP_HDR_SUBJECT,
	['t' - 'a'] = CV_SIP_HDR_TO,
	['u' - 'a'] = CV_SIP_HDR_ALLOW_EVENTS,
	['v' - 'a'] = CV_SIP_HDR_VIA,
	['x' - 'a'] = CV_SIP_HDR_SESSION_EXPIRES,
};

/* Open-addressed table keyed by a case-folded FNV-1a hash of the name,
 * filled once at load time (constructor), read-only afterwards. The parser
 * computes the hash while it scans the name, so a lookup is one probe and
 * one short compare in the common case. */
#define HBITS 9
#define HMASK ((1u << HBITS) - 1)
static struct {
	uint8_t id;
	uint8_t len;
	char lc[22];
	const char *canon;
} htab[1 << HBITS];

static bool ci_eq_lc(const char *p, size_t l, const char *lc)
{
	for (size_t i = 0; i < l; i++)
		if (sip_lower(p[i]) != lc[i])
			return false;
	return true;
}

__attribute__((constructor)) static void hinit(void)
{
	for (int id = 1; id < CV_SIP_HDR_COUNT; id++) {
		const char *n = canon[id];
		size_t l = strlen(n);
		uint32_t h = SIP_HHASH_INIT;
		for (size_t i = 0; i < l; i++)
			h = SIP_HHASH_STEP(h, n[i]);
		unsigned k = h & HMASK;
		while (htab[k].id)
			k = (k + 1) & HMASK;
		htab[k].id = (uint8_t)id;
		htab[k].len = (uint8_t)l;
		htab[k].canon = n;
		for (size_t i = 0; i < l; i++)
			htab[k].lc[i] = sip_lower(n[i]);
	}
}

enum cv_sip_hdr_id sip_hdr_lookup(const char *p, size_t n, uint32_t h)
{
	if (n == 1) {
		char c = sip_lower(p[0]);
		return (c >= 'a' && c <= 'z')
			       ? (enum cv_sip_hdr_id)compact[c - 'a']
			       : CV_SIP_HDR_OTHER;
	}
	if (n > 21)
		return CV_SIP_HDR_OTHER;
	/* canonical spelling is the common case: one memcmp */
	for (unsigned k = h & HMASK; htab[k].id; k = (k + 1) & HMASK)
		if (htab[k].len == n && (!memcmp(p, htab[k].canon, n) ||
					 ci_eq_lc(p, n, htab[k].lc)))
			return (enum cv_sip_hdr_id)htab[k].id;
	return CV_SIP_HDR_OTHER;
}

enum cv_sip_hdr_id cv_sip_hdr_id_of(struct cv_pl n)
{
	uint32_t h = SIP_HHASH_INIT;
	for (size_t i = 0; i < n.l && i < 32; i++)
		h = SIP_HHASH_STEP(h, n.p[i]);
	return sip_hdr_lookup(n.p, n.l, h);
}

const char *cv_sip_hdr_name(enum cv_sip_hdr_id id)
{
	return (id > 0 && id < CV_SIP_HDR_COUNT) ? canon[id] : NULL;
}

const char *cv_sip_reason(int status)
{
	switch (status) {
	case 100:
		return "Trying";
	case 180:
		return "Ringing";
	case 181:
		return "Call Is Being Forwarded";
	case 182:
		return "Queued";
	case 183:
		return "Session Progress";
	case 199:
		return "Early Dialog Terminated";
	case 200:
		return "OK";
	case 202:
		return "Accepted";
	case 204:
		return "No Notification";
	case 300:
		return "Multiple Choices";
	case 301:
		return "Moved Permanently";
	case 302:
		return "Moved Temporarily";
	case 305:
		return "Use Proxy";
	case 380:
		return "Alternative Service";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 402:
		return "Payment Required";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 406:
		return "Not Acceptable";
	case 407:
		return "Proxy Authentication Required";
	case 408:
		return "Request Timeout";
	case 410:
		return "Gone";
	case 412:
		return "Conditional Request Failed";
	case 413:
		return "Request Entity Too Large";
	case 414:
		return "Request-URI Too Long";
	case 415:
		return "Unsupported Media Type";
	case 416:
		return "Unsupported URI Scheme";
	case 420:
		return "Bad Extension";
	case 421:
		return "Extension Required";
	case 422:
		return "Session Interval Too Small";
	case 423:
		return "Interval Too Brief";
	case 428:
		return "Use Identity Header";
	case 439:
		return "First Hop Lacks Outbound Support";
	case 480:
		return "Temporarily Unavailable";
	case 481:
		return "Call/Transaction Does Not Exist";
	case 482:
		return "Loop Detected";
	case 483:
		return "Too Many Hops";
	case 484:
		return "Address Incomplete";
	case 485:
		return "Ambiguous";
	case 486:
		return "Busy Here";
	case 487:
		return "Request Terminated";
	case 488:
		return "Not Acceptable Here";
	case 489:
		return "Bad Event";
	case 491:
		return "Request Pending";
	case 493:
		return "Undecipherable";
	case 494:
		return "Security Agreement Required";
	case 500:
		return "Server Internal Error";
	case 501:
		return "Not Implemented";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Server Time-out";
	case 505:
		return "Version Not Supported";
	case 513:
		return "Message Too Large";
	case 580:
		return "Precondition Failure";
	case 600:
		return "Busy Everywhere";
	case 603:
		return "Decline";
	case 604:
		return "Does Not Exist Anywhere";
	case 606:
		return "Not Acceptable";
	case 607:
		return "Unwanted";
	default:
		return "";
	}
}
