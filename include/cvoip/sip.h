/*
 * cvoip sip: SIP message model, zero-copy parser, printer/builder, URIs,
 * typed header parsers (RFC 3261 and extensions). Digest auth is in
 * cvoip/digest.h.
 *
 * Model. A received message is one refcounted allocation holding the raw
 * bytes and an index of header slices into them (ARCHITECTURE.md "Memory").
 * cv_sip_msg_parse() indexes every header line and parses eagerly only what
 * transaction and dialog matching need (start line, top Via, From/To tag,
 * Call-ID, CSeq, Max-Forwards, Content-Length/Type). Everything else is
 * parsed on demand by the typed parsers below: pure functions over slices
 * that fill caller-owned structs whose slices point into the message.
 *
 * Whitespace inside a header value slice may include folded line breaks
 * (CRLF followed by SP/HT, RFC 3261 §7.3.1); every typed parser treats
 * them as linear white space.
 */
#ifndef CVOIP_SIP_H
#define CVOIP_SIP_H

#include "cvoip/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- stream framing and pre-parse (transport) --------------------------- */

/* Stream framing for TCP/TLS/WS (RFC 3261 §18.3). Call after skipping
 * cv_sip_keepalive_len() bytes. Returns 0 with *msg_len = bytes of the first
 * complete message (headers + Content-Length body); CV_EINCOMPLETE when more
 * bytes are needed; CV_ETOOBIG when the message would exceed max_msg (also
 * when no end of headers appears within max_msg bytes); CV_EPARSE when it
 * can never frame (missing, invalid or conflicting Content-Length). */
CV_API int cv_sip_frame(const char *buf, size_t len, size_t max_msg,
			size_t *msg_len);

/* Number of leading CR/LF bytes (RFC 5626 §3.5.1 keep-alive "CRLF" pings
 * and the empty lines RFC 3261 §7.5 lets a parser ignore). */
CV_API size_t cv_sip_keepalive_len(const char *buf, size_t len);

/* Cheapest scan for the Call-ID (or compact 'i') value, trimmed, for worker
 * handover. Looks only at header lines (stops at the empty line). Returns 0,
 * CV_ENOTFOUND, or CV_EPARSE when the value is empty. */
CV_API int cv_sip_peek_call_id(const char *buf, size_t len,
			       struct cv_pl *call_id);

/* ---- methods --------------------------------------------------------------
 */
enum cv_sip_method {
	CV_SIP_METHOD_OTHER = 0,
	CV_SIP_INVITE,
	CV_SIP_ACK,
	CV_SIP_BYE,
	CV_SIP_CANCEL,
	CV_SIP_OPTIONS,
	CV_SIP_REGISTER,
	CV_SIP_PRACK,
	CV_SIP_SUBSCRIBE,
	CV_SIP_NOTIFY,
	CV_SIP_PUBLISH,
	CV_SIP_INFO,
	CV_SIP_REFER,
	CV_SIP_MESSAGE,
	CV_SIP_UPDATE,
	CV_SIP_METHOD_COUNT
};

/* Methods are case-sensitive (RFC 3261 §7.1). */
CV_API enum cv_sip_method cv_sip_method_from(struct cv_pl name);
CV_API const char *cv_sip_method_name(enum cv_sip_method m); /* "" for OTHER */
/* Default reason phrase for a status code ("Bad Request"); "" if unknown. */
CV_API const char *cv_sip_reason(int status);

/* ---- header ids ------------------------------------------------------------
 * Known header names, matched case-insensitively, compact forms included
 * (RFC 3261 §7.3.3 and the RFCs defining each header). */
enum cv_sip_hdr_id {
	CV_SIP_HDR_OTHER = 0,
	CV_SIP_HDR_ACCEPT,
	CV_SIP_HDR_ACCEPT_CONTACT, /* a */
	CV_SIP_HDR_ACCEPT_ENCODING,
	CV_SIP_HDR_ACCEPT_LANGUAGE,
	CV_SIP_HDR_ALERT_INFO,
	CV_SIP_HDR_ALLOW,
	CV_SIP_HDR_ALLOW_EVENTS, /* u */
	CV_SIP_HDR_AUTHENTICATION_INFO,
	CV_SIP_HDR_AUTHORIZATION,
	CV_SIP_HDR_CALL_ID, /* i */
	CV_SIP_HDR_CALL_INFO,
	CV_SIP_HDR_CONTACT, /* m */
	CV_SIP_HDR_CONTENT_DISPOSITION,
	CV_SIP_HDR_CONTENT_ENCODING, /* e */
	CV_SIP_HDR_CONTENT_LANGUAGE,
	CV_SIP_HDR_CONTENT_LENGTH, /* l */
	CV_SIP_HDR_CONTENT_TYPE,   /* c */
	CV_SIP_HDR_CSEQ,
	CV_SIP_HDR_DATE,
	CV_SIP_HDR_DIVERSION,
	CV_SIP_HDR_ERROR_INFO,
	CV_SIP_HDR_EVENT, /* o */
	CV_SIP_HDR_EXPIRES,
	CV_SIP_HDR_FROM, /* f */
	CV_SIP_HDR_HISTORY_INFO,
	CV_SIP_HDR_IN_REPLY_TO,
	CV_SIP_HDR_MAX_FORWARDS,
	CV_SIP_HDR_MIME_VERSION,
	CV_SIP_HDR_MIN_EXPIRES,
	CV_SIP_HDR_MIN_SE,
	CV_SIP_HDR_ORGANIZATION,
	CV_SIP_HDR_P_ASSERTED_IDENTITY,
	CV_SIP_HDR_P_PREFERRED_IDENTITY,
	CV_SIP_HDR_PATH,
	CV_SIP_HDR_PRIORITY,
	CV_SIP_HDR_PRIVACY,
	CV_SIP_HDR_PROXY_AUTHENTICATE,
	CV_SIP_HDR_PROXY_AUTHORIZATION,
	CV_SIP_HDR_PROXY_REQUIRE,
	CV_SIP_HDR_RACK,
	CV_SIP_HDR_REASON,
	CV_SIP_HDR_RECORD_ROUTE,
	CV_SIP_HDR_REFER_TO,	   /* r */
	CV_SIP_HDR_REFERRED_BY,	   /* b */
	CV_SIP_HDR_REJECT_CONTACT, /* j */
	CV_SIP_HDR_REPLACES,
	CV_SIP_HDR_REPLY_TO,
	CV_SIP_HDR_REQUEST_DISPOSITION, /* d */
	CV_SIP_HDR_REQUIRE,
	CV_SIP_HDR_RETRY_AFTER,
	CV_SIP_HDR_ROUTE,
	CV_SIP_HDR_RSEQ,
	CV_SIP_HDR_SERVER,
	CV_SIP_HDR_SERVICE_ROUTE,
	CV_SIP_HDR_SESSION_EXPIRES, /* x */
	CV_SIP_HDR_SIP_ETAG,
	CV_SIP_HDR_SIP_IF_MATCH,
	CV_SIP_HDR_SUBJECT, /* s */
	CV_SIP_HDR_SUBSCRIPTION_STATE,
	CV_SIP_HDR_SUPPORTED, /* k */
	CV_SIP_HDR_TIMESTAMP,
	CV_SIP_HDR_TO, /* t */
	CV_SIP_HDR_UNSUPPORTED,
	CV_SIP_HDR_USER_AGENT,
	CV_SIP_HDR_VIA, /* v */
	CV_SIP_HDR_WARNING,
	CV_SIP_HDR_WWW_AUTHENTICATE,
	CV_SIP_HDR_COUNT
};

/* Id of a header name (full or compact, any case); CV_SIP_HDR_OTHER if
 * unknown. */
CV_API enum cv_sip_hdr_id cv_sip_hdr_id_of(struct cv_pl name);
/* Canonical full name ("Call-ID"); NULL for OTHER. */
CV_API const char *cv_sip_hdr_name(enum cv_sip_hdr_id id);

/* One header line (field) of a message. Comma-separated values in one line
 * are split by cv_sip_list_next()/cv_sip_msg_vals_next(). */
struct cv_sip_hdr {
	struct cv_pl name;  /* as received */
	struct cv_pl value; /* trimmed; may contain folded line breaks */
	uint32_t line_len;  /* from name.p through the line terminator */
	uint16_t id;	    /* enum cv_sip_hdr_id */
	uint16_t next;	    /* index of the next header with this id, or
			       CV_SIP_HDR_NONE */
};
#define CV_SIP_HDR_NONE 0xffffu

/* ---- limits and verdicts ----------------------------------------------- */
struct cv_sip_limits {
	size_t max_msg;	       /* whole message bytes (default 65535) */
	uint32_t max_headers;  /* header lines (default 256) */
	size_t max_header_len; /* one header line incl. folding (default 8192)
				*/
	size_t max_uri_len; /* Request-URI and URIs in From/To (default 2048) */
	size_t max_body;    /* body bytes (default 65535) */
	uint32_t max_via;   /* Via values (default 64) */
};
#define CV_SIP_LIMITS_DEFAULT                                                  \
	{                                                                      \
		.max_msg = 65535, .max_headers = 256, .max_header_len = 8192,  \
		.max_uri_len = 2048, .max_body = 65535, .max_via = 64          \
	}
CV_API void cv_sip_limits_default(struct cv_sip_limits *lim);

/* What a server answers to a message it must not process further.
 * status 0 = drop silently (responses, or requests too broken to answer);
 * reason is a static string naming the defect ("Missing Call-ID"). hdrs
 * holds extra header lines for the answer (e.g. "Unsupported: foo\r\n" for
 * 420), possibly empty. */
struct cv_sip_verdict {
	int status;
	const char *reason;
	char hdrs[256];
};

/* ---- parsed pieces (slices into the message) -------------------------- */
enum cv_sip_transport {
	CV_SIP_TP_OTHER = 0,
	CV_SIP_TP_UDP,
	CV_SIP_TP_TCP,
	CV_SIP_TP_TLS,
	CV_SIP_TP_SCTP,
	CV_SIP_TP_WS,
	CV_SIP_TP_WSS
};

/* One via-parm (RFC 3261 §20.42, RFC 3581, RFC 5118). */
struct cv_sip_via {
	struct cv_pl value;	/* the whole via-parm */
	struct cv_pl transport; /* "UDP" */
	enum cv_sip_transport tp;
	struct cv_pl sent_by; /* host[:port] as written */
	struct cv_pl host;    /* IPv6 without brackets */
	bool ipv6;
	uint16_t port;	     /* 0 when absent */
	struct cv_pl params; /* ";..." (may be empty) */
	struct cv_pl branch, received, maddr, ttl;
	bool rport_present; /* ";rport" with or without value */
	struct cv_pl rport; /* value, empty when bare ";rport" */
};
CV_API int cv_sip_via_parse(struct cv_pl value, struct cv_sip_via *via);

/* name-addr or addr-spec with header params: From, To, Contact, Route,
 * Record-Route, Path, Service-Route, Refer-To, Referred-By, Reply-To,
 * P-Asserted-Identity, History-Info, Diversion, Call-Info, Alert-Info. */
struct cv_sip_naddr {
	struct cv_pl dname; /* display name, quotes stripped (escapes kept) */
	bool quoted;	    /* display name was a quoted-string */
	struct cv_pl uri;
	bool angle;	     /* <uri> form */
	struct cv_pl params; /* ";..." after the address (may be empty) */
	struct cv_pl tag;
};
CV_API int cv_sip_naddr_parse(struct cv_pl value, struct cv_sip_naddr *na);

struct cv_sip_contact {
	bool star; /* "Contact: *" (RFC 3261 §10.2.2) */
	struct cv_sip_naddr addr;
	int64_t expires;       /* -1 when absent */
	int q;		       /* 0..1000, -1 when absent */
	struct cv_pl instance; /* +sip.instance value, quotes stripped */
	struct cv_pl reg_id;   /* reg-id (RFC 5626) */
};
CV_API int cv_sip_contact_parse(struct cv_pl value, struct cv_sip_contact *c);

struct cv_sip_cseq {
	uint32_t num;
	enum cv_sip_method method;
	struct cv_pl method_pl;
};
CV_API int cv_sip_cseq_parse(struct cv_pl value, struct cv_sip_cseq *cs);

/* Whole-value unsigned decimal: Content-Length, Max-Forwards, Expires,
 * Min-Expires, RSeq, Min-SE (value before params). */
CV_API int cv_sip_u32_parse(struct cv_pl value, uint32_t *out);

/* Content-Type (media-type), Content-Disposition and similar "token/token
 * ;params" or "token ;params" values. */
struct cv_sip_ctype {
	struct cv_pl type, subtype; /* subtype empty for Content-Disposition */
	struct cv_pl params;
};
CV_API int cv_sip_ctype_parse(struct cv_pl value, struct cv_sip_ctype *ct);
CV_API int cv_sip_cdisp_parse(struct cv_pl value, struct cv_sip_ctype *cd);

struct cv_sip_rack {
	uint32_t rseq, cseq;
	enum cv_sip_method method;
	struct cv_pl method_pl;
};
CV_API int cv_sip_rack_parse(struct cv_pl value, struct cv_sip_rack *r);

/* Event / Allow-Events element (RFC 6665 §8.2.1). */
struct cv_sip_event {
	struct cv_pl
		package; /* "presence" or "dialog.winfo" (with templates) */
	struct cv_pl id;
	struct cv_pl params;
};
CV_API int cv_sip_event_parse(struct cv_pl value, struct cv_sip_event *ev);

struct cv_sip_substate {
	struct cv_pl state; /* active / pending / terminated / other */
	struct cv_pl reason;
	int64_t expires;     /* -1 absent */
	int64_t retry_after; /* -1 absent */
	struct cv_pl params;
};
CV_API int cv_sip_substate_parse(struct cv_pl value, struct cv_sip_substate *s);

/* Session-Expires (RFC 4028). */
struct cv_sip_session_expires {
	uint32_t delta;
	struct cv_pl refresher; /* "uac", "uas" or empty */
	struct cv_pl params;
};
CV_API int cv_sip_session_expires_parse(struct cv_pl value,
					struct cv_sip_session_expires *se);

/* Replaces (RFC 3891). */
struct cv_sip_replaces {
	struct cv_pl call_id, to_tag, from_tag;
	bool early_only;
};
CV_API int cv_sip_replaces_parse(struct cv_pl value, struct cv_sip_replaces *r);

/* One Reason value (RFC 3326). */
struct cv_sip_reason {
	struct cv_pl protocol; /* "SIP", "Q.850" */
	int cause;	       /* -1 absent */
	struct cv_pl text;     /* quotes stripped */
	struct cv_pl params;
};
CV_API int cv_sip_reason_parse(struct cv_pl value, struct cv_sip_reason *r);

/* Date (RFC 3261 §20.17, rfc1123-date in GMT) -> seconds since epoch. */
CV_API int cv_sip_date_parse(struct cv_pl value, int64_t *unix_s);

/* Timestamp (RFC 3261 §20.38). */
struct cv_sip_timestamp {
	struct cv_pl value, delay; /* delay empty when absent */
};
CV_API int cv_sip_timestamp_parse(struct cv_pl value,
				  struct cv_sip_timestamp *ts);

/* Retry-After (RFC 3261 §20.33). */
struct cv_sip_retry_after {
	uint32_t delta;
	struct cv_pl comment, params;
	int64_t duration; /* -1 absent */
};
CV_API int cv_sip_retry_after_parse(struct cv_pl value,
				    struct cv_sip_retry_after *ra);

/* Authorization, Proxy-Authorization, WWW-Authenticate, Proxy-Authenticate
 * (scheme + auth-params) and Authentication-Info (auth-params only, pass
 * has_scheme=false). Iterate the params with cv_sip_auth_param_next(). */
struct cv_sip_auth {
	struct cv_pl scheme; /* "Digest" */
	struct cv_pl params; /* comma-separated auth-params */
};
CV_API int cv_sip_auth_parse(struct cv_pl value, bool has_scheme,
			     struct cv_sip_auth *a);
/* Next "name=value" or "name=\"quoted\"" auth-param from *rest; *val has
 * the quotes stripped (escapes kept). 0, CV_ENOTFOUND at end, CV_EPARSE. */
CV_API int cv_sip_auth_param_next(struct cv_pl *rest, struct cv_pl *name,
				  struct cv_pl *val);

/* ---- lists and params -----------------------------------------------------
 */
/* Next element of a comma-separated header value (quotes and <> aware):
 * *rest is advanced past the element. 0, or CV_ENOTFOUND at the end. Empty
 * elements are skipped. */
CV_API int cv_sip_list_next(struct cv_pl *rest, struct cv_pl *item);

/* Generic parameters ";name[=value]" (RFC 3261 §7.3.1 generic-param). The
 * params slice may start with ';' or not. Names compare case-insensitively;
 * quoted values are returned with quotes stripped. 0 with *val (empty for a
 * flag), or CV_ENOTFOUND. */
CV_API int cv_sip_param_get(struct cv_pl params, const char *name,
			    struct cv_pl *val);
CV_API int cv_sip_param_next(struct cv_pl *rest, struct cv_pl *name,
			     struct cv_pl *val);

/* ---- URIs (RFC 3261 §19.1, RFC 3966, RFC 5118) -------------------------- */
enum cv_sip_scheme {
	CV_SIP_SCHEME_OTHER = 0,
	CV_SIP_SCHEME_SIP,
	CV_SIP_SCHEME_SIPS,
	CV_SIP_SCHEME_TEL
};

struct cv_sip_uri {
	enum cv_sip_scheme scheme;
	struct cv_pl scheme_pl;
	struct cv_pl user; /* escaped form; tel: the telephone-subscriber */
	struct cv_pl password;
	struct cv_pl host; /* IPv6 reference without brackets */
	bool ipv6;
	struct cv_pl port_pl;
	uint16_t port;	      /* 0 when absent */
	struct cv_pl params;  /* ";..." (may be empty) */
	struct cv_pl headers; /* after '?' (may be empty) */
	struct cv_pl opaque;  /* other schemes: everything after ':' */
};
/* Strict parse of one URI; CV_EPARSE on bad syntax (spaces, bad escapes,
 * bad IPv6 reference, port > 65535...). */
CV_API int cv_sip_uri_parse(struct cv_pl text, struct cv_sip_uri *uri);
CV_API int cv_sip_uri_param(const struct cv_sip_uri *uri, const char *name,
			    struct cv_pl *val);
/* URI equivalence per RFC 3261 §19.1.4 (sip/sips) and RFC 3966 §4 (tel):
 * scheme, user, password case-sensitive after unescaping; host
 * case-insensitive; user, ttl, method, maddr, transport params must match
 * when present in either; other params only when present in both; headers
 * all must match. Returns true when equal. */
CV_API bool cv_sip_uri_eq(const struct cv_sip_uri *a,
			  const struct cv_sip_uri *b);
CV_API bool cv_sip_uri_eq_text(struct cv_pl a, struct cv_pl b);
/* %XX unescape into dst (NUL-terminated, truncating); returns the length
 * needed or CV_EPARSE on a bad escape. */
CV_API int cv_sip_unescape(struct cv_pl in, char *dst, size_t size);
/* Escape a user part for printing (RFC 3261 §25 user grammar). */
CV_API int cv_sip_escape_user(struct cv_buf *out, struct cv_pl user);

/* ---- the message ------------------------------------------------------- */
struct cv_sip_msg {
	const char *buf; /* the raw bytes, NUL-terminated copy */
	size_t len;

	bool req;
	/* request line */
	enum cv_sip_method method;
	struct cv_pl method_pl;
	struct cv_pl ruri;
	/* status line */
	int status;
	struct cv_pl reason;
	struct cv_pl version; /* "SIP/2.0" */

	/* eagerly parsed for matching */
	struct cv_pl call_id;
	struct cv_sip_cseq cseq;
	struct cv_sip_via via; /* top Via value */
	uint32_t via_count;    /* Via values in all Via lines */
	struct cv_sip_naddr from, to;
	int32_t max_forwards;	/* -1 when absent */
	int64_t content_length; /* -1 when absent */
	struct cv_pl content_type;
	struct cv_pl body;
	struct cv_pl headers; /* all header lines, through the empty line */

	/* header index */
	const struct cv_sip_hdr *hdrs;
	uint32_t nhdrs;
	uint16_t first[CV_SIP_HDR_COUNT]; /* index of first by id or NONE */
};

/* Parses one message (datagram, or a frame from cv_sip_frame()). Copies buf
 * once into the message allocation; lim NULL = defaults. Returns 0 and a
 * message with one reference (cv_mem_unref it), or CV_EPARSE/CV_ETOOBIG
 * with *v filled (v may be NULL): the status and reason a server answers,
 * or status 0 for drop. A message parsed with 0 is still subject to
 * cv_sip_msg_check() for policy checks (416, 420, 483). */
CV_API int cv_sip_msg_parse(struct cv_sip_msg **msgp, const void *buf,
			    size_t len, const struct cv_sip_limits *lim,
			    struct cv_sip_verdict *v);

/* Runs the typed parser of every known header (and the Request-URI, and
 * every Contact/Route/Via value) to check the whole message: 0 or
 * CV_EPARSE with the 400 verdict naming the header. */
CV_API int cv_sip_msg_parse_full(const struct cv_sip_msg *msg,
				 struct cv_sip_verdict *v);

/* Policy checks a UAS/proxy applies after parsing (RFC 3261 §8.2.2,
 * §16.3): URI scheme (416), Require/Proxy-Require against supported option
 * tags (420 with Unsupported), Max-Forwards 0 when forwarding (483). */
struct cv_sip_policy {
	const char *const *supported; /* NULL-terminated option tags */
	bool proxy;		      /* check Proxy-Require and Max-Forwards */
	bool allow_tel;		      /* accept tel: Request-URIs */
};
CV_API int cv_sip_msg_check(const struct cv_sip_msg *msg,
			    const struct cv_sip_policy *pol,
			    struct cv_sip_verdict *v);

/* First header with this id (NULL if none), then the next of the same id. */
CV_API const struct cv_sip_hdr *cv_sip_msg_hdr(const struct cv_sip_msg *msg,
					       enum cv_sip_hdr_id id);
CV_API const struct cv_sip_hdr *
cv_sip_msg_hdr_next(const struct cv_sip_msg *msg, const struct cv_sip_hdr *h);
/* First header by name (any case; compact forms of known names match). */
CV_API const struct cv_sip_hdr *
cv_sip_msg_hdr_by_name(const struct cv_sip_msg *msg, struct cv_pl name);

/* Iterates the comma-separated values of every header line with this id,
 * in order. Zero-initialise the iterator. 0 with *val, or CV_ENOTFOUND. */
struct cv_sip_vals_iter {
	const struct cv_sip_hdr *hdr;
	struct cv_pl rest;
	bool started;
};
CV_API int cv_sip_msg_vals_next(const struct cv_sip_msg *msg,
				enum cv_sip_hdr_id id,
				struct cv_sip_vals_iter *it, struct cv_pl *val);

/* True when an option tag appears in a Supported/Require/... header. */
CV_API bool cv_sip_msg_has_tag(const struct cv_sip_msg *msg,
			       enum cv_sip_hdr_id id, const char *tag);

/* Request-URI parsed on demand. */
CV_API int cv_sip_msg_ruri(const struct cv_sip_msg *msg,
			   struct cv_sip_uri *uri);

/* ---- multipart bodies (RFC 5621, RFC 2046 §5.1) ---------------------- */
/* Content-Transfer-Encoding of a body part (RFC 2045 §6, RFC 5621 §3.2:
 * SIP is 8-bit clean, so parts are normally sent as they are). */
enum cv_sip_cte {
	CV_SIP_CTE_IDENTITY = 0, /* absent, 7bit, 8bit or binary */
	CV_SIP_CTE_BASE64,
	CV_SIP_CTE_QUOTED_PRINTABLE,
	CV_SIP_CTE_OTHER, /* an x-token or unknown: cannot be decoded */
};
struct cv_sip_part {
	struct cv_pl headers;	   /* the part's header lines */
	struct cv_pl content_type; /* its Content-Type value (may be empty) */
	struct cv_pl body;	   /* as received (still encoded) */
	struct cv_pl cte;	   /* its Content-Transfer-Encoding value */
	enum cv_sip_cte cte_kind;
};
/* Splits a multipart body using the boundary of content_type. Fills up to
 * max parts; *n = parts found. CV_EPARSE when malformed or no boundary,
 * CV_ETOOBIG when more than max parts. */
CV_API int cv_sip_multipart_split(struct cv_pl content_type, struct cv_pl body,
				  struct cv_sip_part *parts, size_t max,
				  size_t *n);
/* Appends the part's body decoded per its Content-Transfer-Encoding to out
 * (identity: as is; base64 and quoted-printable per RFC 2045 §6.8/§6.7).
 * CV_EUNSUPP for an encoding we cannot decode (a UAS that needs the part
 * answers 415, RFC 3261 §21.4.16), CV_EPARSE for bytes the encoding does
 * not allow (400); out is left as it was on error. */
CV_API int cv_sip_part_decode(const struct cv_sip_part *part,
			      struct cv_buf *out);

/* ---- printing and building ----------------------------------------------- */
/* The raw bytes of a parsed message (byte-identical round trip). */
CV_API int cv_sip_msg_print(struct cv_buf *out, const struct cv_sip_msg *msg);

#define CV_SIP_BRANCH_SIZE 32
/* "z9hG4bK" + 20 random [A-Za-z0-9] (RFC 3261 §8.1.1.7). */
CV_API void cv_sip_branch_new(char out[CV_SIP_BRANCH_SIZE]);
#define CV_SIP_TAG_SIZE 24
/* A random tag of 16 chars (RFC 3261 §19.3). */
CV_API void cv_sip_tag_new(char out[CV_SIP_TAG_SIZE]);

/* Checks for text a caller puts into a message: extra header lines must
 * each end with CRLF and hold no empty line (which would end the header
 * section early); a single value holds no CR, LF or NUL. */
CV_API bool cv_sip_hdr_lines_ok(struct cv_pl h);
CV_API bool cv_sip_hdr_value_ok(struct cv_pl v);

struct cv_sip_resp_params {
	struct cv_pl to_tag;	   /* added to To unless it already has one */
	struct cv_pl headers;	   /* extra header lines, each ending CRLF */
	struct cv_pl content_type; /* with body */
	struct cv_pl body;
};
/* A response to req per RFC 3261 §8.2.6: copies all Via values, From, To
 * (+ to_tag), Call-ID, CSeq (and Timestamp, §8.2.6.1), then the extra
 * headers, Content-Type, Content-Length and body. reason NULL = default
 * phrase. p may be NULL. */
CV_API int cv_sip_resp_print(struct cv_buf *out, const struct cv_sip_msg *req,
			     int status, const char *reason,
			     const struct cv_sip_resp_params *p);

struct cv_sip_req_params {
	enum cv_sip_method method;
	struct cv_pl method_name; /* for CV_SIP_METHOD_OTHER */
	struct cv_pl ruri;
	struct {
		enum cv_sip_transport tp; /* UDP default */
		struct cv_pl sent_by;	  /* host[:port] */
		struct cv_pl branch;	  /* empty: a new random branch */
		bool rport;		  /* add ;rport (RFC 3581) */
	} via;
	struct cv_pl from_uri, from_display, from_tag;
	struct cv_pl to_uri, to_display, to_tag;
	struct cv_pl call_id;
	uint32_t cseq;
	int max_forwards;	   /* 0 = 70; negative = send "0" */
	struct cv_pl contact;	   /* a full Contact value, e.g. "<sip:a@h>" */
	const struct cv_pl *route; /* route set, each a full Route value */
	size_t nroute;
	struct cv_pl headers; /* extra header lines, each ending CRLF */
	struct cv_pl content_type;
	struct cv_pl body;
};
CV_API int cv_sip_req_print(struct cv_buf *out,
			    const struct cv_sip_req_params *p);

/* Editing a parsed message without re-serialising the rest: the untouched
 * bytes are copied verbatim, edits are applied in one pass. */
enum cv_sip_edit_op {
	CV_SIP_EDIT_REMOVE = 1, /* drop header line `hdr` */
	CV_SIP_EDIT_REPLACE,	/* `hdr` gets value `value` (name kept) */
	CV_SIP_EDIT_INSERT,	/* line "name: value" before `hdr`
				   (NULL hdr: before the first header) */
	CV_SIP_EDIT_APPEND,	/* line "name: value" after the last header */
	CV_SIP_EDIT_RURI,	/* new Request-URI `value` */
	CV_SIP_EDIT_BODY	/* new body `value` (Content-Length follows;
				   Content-Type: `name` if non-empty) */
};
struct cv_sip_edit {
	enum cv_sip_edit_op op;
	const struct cv_sip_hdr *hdr;
	struct cv_pl name, value;
};
CV_API int cv_sip_msg_edit(struct cv_buf *out, const struct cv_sip_msg *msg,
			   const struct cv_sip_edit *ops, size_t nops);

/* Proxy helpers (RFC 3261 §16.6, §16.7 step 3, RFC 3581 §4). */
CV_API int cv_sip_via_prepend(struct cv_buf *out, const struct cv_sip_msg *msg,
			      struct cv_pl via_value);
/* Removes the top Via value (only that value when a line carries several). */
CV_API int cv_sip_via_strip_top(struct cv_buf *out,
				const struct cv_sip_msg *msg);
/* Sets received= (when non-empty) and fills ;rport with rport (when
 * nonzero and the top Via carries rport) on the top Via. */
CV_API int cv_sip_via_set_received(struct cv_buf *out,
				   const struct cv_sip_msg *msg,
				   struct cv_pl received, uint16_t rport);

/* ---- JSON (cvoip sip-parse, API) ---------------------------------------- */
struct json_t;
/* A new jansson object describing the message (start line, typed headers
 * where known, raw others, body); NULL on ENOMEM. */
CV_API struct json_t *cv_sip_msg_to_json(const struct cv_sip_msg *msg);

#ifdef __cplusplus
}
#endif

#endif
