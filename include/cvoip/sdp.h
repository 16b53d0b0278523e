/*
 * cvoip sdp: SDP model, parser and printer (RFC 8866) and RFC 3264
 * offer/answer as pure functions.
 *
 * A parsed description (struct cv_sdp) is ONE refcounted allocation: a copy
 * of the text plus arrays of slices into it. It is read-only after parsing;
 * every cv_pl in it points into that copy and lives as long as the object.
 * Offers and answers are built as text and parsed back, so there is one
 * representation for everything (docs/sdp.md explains why).
 *
 * Typed views exist for the attributes media needs (rtpmap, fmtp, ptime,
 * maxptime, direction, rtcp, rtcp-mux, crypto, fingerprint, setup, ice-*,
 * candidate, mid, group, ssrc, extmap, rtcp-fb); every a= line, known or
 * not, is also kept verbatim, in order, in the section's attribute list, and
 * every line of the section in its line list, which is what the printer
 * writes back.
 */
#ifndef CVOIP_SDP_H
#define CVOIP_SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "cvoip/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- errors ---------------------------------------------------------------
 * Project block -10300..-10399 belongs to sdp. */
enum cv_sdp_err {
	/* RFC 3264 §6: nothing in the offer can be accepted; the caller
	 * answers 488 with the Warning returned beside it. */
	CV_SDP_ENOTACCEPTABLE = -10301,
};

/* Text for the codes above, else cv_strerror(). */
CV_API const char *cv_sdp_strerror(int err);

/* ---- limits --------------------------------------------------------------
 * Hostile input is bounded by these; a zero field takes the default. */
struct cv_sdp_limits {
	size_t max_len;	       /* whole description, bytes (65536) */
	uint32_t max_lines;    /* lines in total (2048) */
	uint32_t max_media;    /* m= sections (32) */
	uint32_t max_attrs;    /* a= lines per section (512) */
	uint32_t max_fmts;     /* formats on one m= line (128) */
	uint32_t max_line_len; /* one line, bytes (8192) */
};

CV_API void cv_sdp_limits_default(struct cv_sdp_limits *l);

/* ---- model -------------------------------------------------------------- */

/* Media direction as a bit set (RFC 3264 §5.1 / §6.1 arithmetic). */
enum cv_sdp_dir {
	CV_SDP_INACTIVE = 0,
	CV_SDP_SENDONLY = 1,
	CV_SDP_RECVONLY = 2,
	CV_SDP_SENDRECV = 3,
};

CV_API const char *cv_sdp_dir_name(enum cv_sdp_dir d);

/* c= line (RFC 8866 §5.7) or an address out of o=, a=rtcp, a=candidate. */
struct cv_sdp_conn {
	bool present;
	struct cv_pl nettype;  /* "IN" */
	struct cv_pl addrtype; /* "IP4", "IP6" */
	struct cv_pl addr;     /* literal or FQDN, without /ttl/n */
	int af;		       /* AF_INET, AF_INET6, or AF_UNSPEC for an FQDN */
	uint8_t ip[16];	       /* network order; 4 bytes used for AF_INET */
	uint32_t ttl;	       /* IP4 multicast only, 0 when absent */
	uint32_t naddr;	       /* number of addresses, 1 when absent */
};

/* True for 0.0.0.0: RFC 2543-style hold (RFC 3264 §8.4). */
CV_API bool cv_sdp_conn_is_null(const struct cv_sdp_conn *c);

struct cv_sdp_line {
	char type;	    /* 'v', 'o', 'a', ... */
	struct cv_pl value; /* after "x=", without the line end */
};

struct cv_sdp_attr {
	struct cv_pl name;
	struct cv_pl value; /* after ':' (empty for a property attribute) */
	bool has_value;
};

struct cv_sdp_bw {
	struct cv_pl type; /* AS, CT, TIAS, ... */
	uint32_t value;
};

/* One format of an m= line, with its rtpmap and fmtp when present. */
struct cv_sdp_fmt {
	struct cv_pl id;       /* as on the m= line */
	int pt;		       /* 0..127 for RTP profiles, -1 otherwise */
	bool has_rtpmap;       /* from a=rtpmap, else static table or none */
	struct cv_pl encoding; /* "PCMU", "opus"; from the static table when
				  there is no rtpmap (RFC 3551 §6) */
	uint32_t clock_rate;
	uint32_t channels; /* 1 when absent */
	bool has_fmtp;
	struct cv_pl fmtp; /* format parameters, verbatim */
};

/* a=crypto (RFC 4568 §9.1): tag crypto-suite key-params [session-params] */
struct cv_sdp_crypto {
	uint32_t tag;
	struct cv_pl suite;
	struct cv_pl key_params;     /* all key-params, verbatim */
	struct cv_pl key_salt;	     /* base64 of the first inline: key */
	struct cv_pl lifetime;	     /* of the first key, may be empty */
	struct cv_pl mki;	     /* "value:length", may be empty */
	struct cv_pl session_params; /* rest of the line, may be empty */
};

/* a=fingerprint (RFC 8122 §5) */
struct cv_sdp_fingerprint {
	struct cv_pl hash_func;
	struct cv_pl value;
};

enum cv_sdp_setup {
	CV_SDP_SETUP_NONE = 0,
	CV_SDP_SETUP_ACTIVE,
	CV_SDP_SETUP_PASSIVE,
	CV_SDP_SETUP_ACTPASS,
	CV_SDP_SETUP_HOLDCONN,
};

/* a=candidate (RFC 8839 §5.1) */
struct cv_sdp_candidate {
	struct cv_pl foundation;
	uint32_t component;
	struct cv_pl transport; /* "UDP", "TCP" */
	uint32_t priority;
	struct cv_sdp_conn addr; /* af/ip set for literals; addr slice always */
	uint16_t port;
	struct cv_pl type; /* host, srflx, prflx, relay */
	bool has_raddr;
	struct cv_pl raddr;
	uint16_t rport;
	struct cv_pl extensions; /* the rest (tcptype, generation, ...) */
};

/* a=ssrc (RFC 5576 §4.1) */
struct cv_sdp_ssrc {
	uint32_t ssrc;
	struct cv_pl attr;  /* "cname", "msid", ... may be empty */
	struct cv_pl value; /* may be empty */
};

/* a=extmap (RFC 8285 §5) */
struct cv_sdp_extmap {
	uint32_t id;
	struct cv_pl direction; /* may be empty */
	struct cv_pl uri;
	struct cv_pl ext_attrs; /* may be empty */
};

/* a=rtcp-fb (RFC 4585 §4.2) */
struct cv_sdp_rtcp_fb {
	struct cv_pl pt;    /* a payload type or "*" */
	struct cv_pl type;  /* nack, ccm, goog-remb, transport-cc, ... */
	struct cv_pl param; /* may be empty */
};

/* a=group (RFC 5888 §5), e.g. BUNDLE (RFC 9143) */
struct cv_sdp_group {
	struct cv_pl semantics;
	struct cv_pl mids; /* space-separated identification tags */
};

/* What may sit at session level and at media level alike. */
struct cv_sdp_common {
	struct cv_sdp_line *lines; /* every line of the section, m= first */
	uint32_t nlines;
	struct cv_sdp_attr *attrs;
	uint32_t nattrs;
	struct cv_sdp_conn conn;
	struct cv_sdp_bw *bw;
	uint32_t nbw;
	bool has_dir;
	enum cv_sdp_dir dir; /* as written; see cv_sdp_media_dir() */
	struct cv_sdp_fingerprint *fingerprints;
	uint32_t nfingerprints;
	enum cv_sdp_setup setup;
	struct cv_pl ice_ufrag, ice_pwd, ice_options;
	bool ice_lite;
};

struct cv_sdp_media {
	struct cv_pl media; /* audio, video, application, ... */
	uint16_t port;
	uint32_t nports;    /* 1 when absent */
	struct cv_pl proto; /* RTP/AVP, RTP/SAVP, UDP/TLS/RTP/SAVPF, ... */
	struct cv_sdp_fmt *fmts;
	uint32_t nfmts;
	struct cv_sdp_common c;
	uint32_t ptime, maxptime; /* 0 when absent */
	bool rtcp_mux, rtcp_rsize;
	bool has_rtcp; /* a=rtcp (RFC 3605) */
	uint16_t rtcp_port;
	struct cv_sdp_conn rtcp_conn; /* present when a=rtcp carried one */
	struct cv_pl mid;
	struct cv_sdp_crypto *crypto;
	uint32_t ncrypto;
	struct cv_sdp_candidate *candidates;
	uint32_t ncandidates;
	bool end_of_candidates;
	struct cv_sdp_ssrc *ssrcs;
	uint32_t nssrcs;
	struct cv_sdp_extmap *extmaps;
	uint32_t nextmaps;
	struct cv_sdp_rtcp_fb *rtcp_fbs;
	uint32_t nrtcp_fbs;
};

struct cv_sdp {
	uint32_t version; /* v= */
	/* o= (RFC 8866 §5.2) */
	struct cv_pl origin_user, sess_id, sess_version_pl;
	uint64_t sess_version;
	struct cv_sdp_conn origin; /* unicast-address of o= */
	struct cv_pl name;	   /* s= */
	uint64_t t_start, t_stop;  /* first t= line, 0 0 when absent */
	struct cv_sdp_common c;	   /* session level */
	struct cv_sdp_group *groups;
	uint32_t ngroups;
	struct cv_sdp_media *media;
	uint32_t nmedia;
	struct cv_pl raw; /* the object's own copy of the parsed text */
};

/* Parse text into a new object (unref with cv_mem_unref). limits may be
 * NULL for the defaults. Returns 0, CV_EPARSE (malformed), CV_ETOOBIG (a
 * limit) or -ENOMEM. Accepts CRLF or LF line ends (RFC 8866 §5). */
CV_API int cv_sdp_parse(struct cv_sdp **out, const char *text, size_t len,
			const struct cv_sdp_limits *limits);

/* Append the description to b, one line per model line, CRLF ends. For
 * input with CRLF ends and no blank lines the output is byte-identical. */
CV_API int cv_sdp_print(const struct cv_sdp *sdp, struct cv_buf *b);

/* Lookups. NULL/false when absent. */
CV_API const struct cv_sdp_attr *cv_sdp_attr_find(const struct cv_sdp_common *c,
						  const char *name);
CV_API const struct cv_sdp_fmt *cv_sdp_fmt_by_pt(const struct cv_sdp_media *m,
						 int pt);
/* The address media goes to: media-level c=, else session-level c=. */
CV_API const struct cv_sdp_conn *
cv_sdp_media_conn(const struct cv_sdp *sdp, const struct cv_sdp_media *m);
/* Effective direction: media-level attribute, else session-level, else
 * sendrecv (RFC 3264 §5.1). c=0.0.0.0 is not folded in here. */
CV_API enum cv_sdp_dir cv_sdp_media_dir(const struct cv_sdp *sdp,
					const struct cv_sdp_media *m);
/* Lookup of the RFC 3551 static payload table: 0 PCMU, 3 GSM, 4 G723,
 * 8 PCMA, 9 G722, 13 CN, 18 G729 ... Returns false for unassigned ones. */
CV_API bool cv_sdp_static_pt(int pt, const char **name, uint32_t *rate,
			     uint32_t *channels);

/* ---- offer/answer (RFC 3264) ---------------------------------------------
 * Local capabilities: what this side can do, given by the session layer
 * from its configuration and the media module's codec list. */

struct cv_sdp_codec {
	const char *name;    /* encoding name: "PCMU", "opus", "G722" */
	uint32_t clock_rate; /* RTP clock: 8000 for G722 (RFC 3551 §4.5.2) */
	uint32_t channels;   /* 0 or 1 = mono; opus is 2 */
	const char *fmtp;    /* NULL = none */
	int pt;		     /* preferred payload type, -1 = pick one */
};

/* An a=crypto line the caller made (keys come from the rtp layer). */
struct cv_sdp_crypto_local {
	uint32_t tag;		/* used in offers; answers echo the offer's */
	const char *suite;	/* "AES_CM_128_HMAC_SHA1_80" */
	const char *key_params; /* "inline:<base64>[|lifetime][|mki:len]" */
	const char *session_params; /* NULL = none */
};

/* Capabilities of one stream (one m= line of an offer, or what this side
 * accepts for one media type in an answer). */
struct cv_sdp_stream_caps {
	const char *media;		   /* "audio" (default), "video" */
	uint16_t port;			   /* 0 = offer/answer it rejected */
	const struct cv_sdp_codec *codecs; /* in order of preference */
	size_t ncodecs;
	/* RFC 4733 telephone-event: offered at each clock rate of the
	 * codecs above, with these events ("0-16" when NULL). */
	bool telephone_event;
	const char *dtmf_events;
	int dtmf_pt;		  /* preferred pt, -1 = 101 */
	uint32_t ptime, maxptime; /* 0 = do not send */
	enum cv_sdp_dir dir;	  /* what this side wants */
	bool rtcp_mux;		  /* offer / accept RFC 5761 */
	uint16_t rtcp_port;	  /* write a=rtcp (RFC 3605); 0 = no */
	/* SDES (RFC 4568). In an offer: one a=crypto per entry and the
	 * profile becomes RTP/SAVP. In an answer: the suites accepted, the
	 * first offered one in this list wins. */
	const struct cv_sdp_crypto_local *crypto;
	size_t ncrypto;
	bool srtp_required; /* answer: refuse RTP/AVP; offer: no effect */
	bool avpf;	    /* offer RTP/AVPF (or RTP/SAVPF) */
	/* Lines appended verbatim as "a=<line>" (ICE, DTLS, ssrc...). */
	const char *const *extra_attrs;
	size_t nextra_attrs;
	/* Answer only: list codecs in local order instead of the offer's;
	 * stop after max_codecs common ones (0 = all). */
	bool prefer_local;
	uint32_t max_codecs;
};

/* This side of a session: o=, c= and the streams. */
struct cv_sdp_local {
	const char *user;      /* o= username, NULL = "-" */
	uint64_t sess_id;      /* o= sess-id, kept for the dialog */
	uint64_t sess_version; /* o= sess-version, caller increments it */
	const char *name;      /* s=, NULL = "-" */
	const char *addr;      /* IPv4 or IPv6 literal for o= and c= */
	/* RFC 3264 §8.4 old-style hold: put c=0.0.0.0 in offers (IP4 only). */
	bool hold_null_addr;
	const struct cv_sdp_stream_caps *streams;
	size_t nstreams;
	const char *const
		*session_attrs; /* verbatim "a=" lines, session level */
	size_t nsession_attrs;
};

/* How much of an offer/answer is reported in struct cv_sdp_neg (the SDP
 * itself is answered whole): m= lines past CV_SDP_NEG_MAX_MEDIA and codecs
 * past CV_SDP_NEG_MAX_CODECS per line are left out. */
#define CV_SDP_NEG_MAX_CODECS 8
#define CV_SDP_NEG_MAX_MEDIA  4 /* audio, video, and room to spare */

struct cv_sdp_neg_codec {
	char name[32];
	uint32_t clock_rate;
	uint32_t channels;
	uint8_t pt_send;  /* pt for packets we send (the remote's number) */
	uint8_t pt_recv;  /* pt we expect to receive (our number) */
	const char *fmtp; /* the remote's fmtp (what it wants to receive), "" */
};

/* The negotiated result for one m= line, ready for the rtp layer. Every
 * string is NUL-terminated and never NULL ("" when absent). */
struct cv_sdp_neg_media {
	uint32_t index;		 /* position of the m= line */
	char media[16];		 /* "audio" */
	bool rejected;		 /* port 0 on either side, or nothing common */
	enum cv_sdp_dir dir;	 /* what THIS side does */
	bool remote_hold;	 /* remote sendonly/inactive or c=0.0.0.0 */
	bool remote_null_addr;	 /* c=0.0.0.0 seen (RFC 3264 §8.4) */
	const char *remote_addr; /* as written in c= */
	/* RTP and RTCP destinations; ss_family AF_UNSPEC when c= is an FQDN. */
	struct sockaddr_storage remote_rtp, remote_rtcp;
	uint16_t remote_port, remote_rtcp_port;
	bool rtcp_mux; /* both sides agreed (RFC 5761 §5.1.1) */
	struct cv_sdp_neg_codec *codecs; /* ncodecs entries */
	uint32_t ncodecs;		 /* codecs[0] is the one to send with */
	int dtmf_pt_send, dtmf_pt_recv;	 /* -1 when no telephone-event */
	uint32_t dtmf_rate;
	char dtmf_events[32];
	int cn_pt_send, cn_pt_recv; /* RFC 3389 CN, -1 when none */
	uint32_t ptime, maxptime;   /* remote's wish (media level, else
				       session level), 0 when not said */
	bool srtp;		    /* SDES negotiated */
	const char *crypto_suite;
	uint32_t crypto_tag;
	const char *crypto_remote_key; /* key-params of the remote side */
	const char *crypto_local_key;  /* key-params of this side */
	/* Carried for later layers (DTLS, ICE). "" when absent. */
	const char *remote_ice_ufrag, *remote_ice_pwd;
	const char *remote_fingerprint; /* "sha-256 AB:CD:..." */
	enum cv_sdp_setup remote_setup;
	const char *mid;
};

/* The negotiated media: nmedia entries of media[], sized for the m= lines
 * that exist, in one block (mem) that also holds the codecs and strings.
 * Start it zeroed ({0}); cv_sdp_answer_create()/cv_sdp_answer_process()
 * release what it held before filling it, cv_sdp_neg_reset() releases it.
 * A copy by value shares the block: reset only one of them. */
struct cv_sdp_neg {
	struct cv_sdp_neg_media *media;
	uint32_t nmedia;
	void *mem;
};

/* Releases what neg holds and zeroes it (NULL: nothing). */
CV_API void cv_sdp_neg_reset(struct cv_sdp_neg *neg);

/* RFC 3261 §20.43 warning to put in a 488: Warning: <code> <host> "<text>" */
struct cv_sdp_warning {
	uint16_t code; /* 300..399; 0 when none */
	const char *text;
};

/* Build an offer from local capabilities (RFC 3264 §5). The result is a
 * parsed object; cv_sdp_print() gives its text. -EINVAL on bad params
 * (no address, CR/LF inside strings, no codec in a non-rejected stream). */
CV_API int cv_sdp_offer_create(struct cv_sdp **out,
			       const struct cv_sdp_local *local);

/* Build the answer to a remote offer (RFC 3264 §6). neg gets the
 * negotiated media. When no stream can be accepted returns
 * CV_SDP_ENOTACCEPTABLE with *warn set (answer 488), and no *out. */
CV_API int cv_sdp_answer_create(struct cv_sdp **out, struct cv_sdp_neg *neg,
				struct cv_sdp_warning *warn,
				const struct cv_sdp *offer,
				const struct cv_sdp_local *local);

/* Process the answer to our offer (RFC 3264 §5 and §6): the negotiated
 * media as this side sees it. CV_EPROTO when the answer does not match the
 * offer (m= count or media types), CV_SDP_ENOTACCEPTABLE when every stream
 * ended up rejected (neg then holds the rejected streams: reset it). */
CV_API int cv_sdp_answer_process(struct cv_sdp_neg *neg,
				 const struct cv_sdp *offer,
				 const struct cv_sdp *answer);

/* ---- rewriting (relays, B2BUAs) --------------------------------------------
 * A copy of a description with this side's transport put in: what a media
 * relay does to an SDP it forwards (codecs, fmtp, crypto... are kept). */
struct cv_sdp_rewrite {
	const char
		*addr; /* IPv4/IPv6 literal for every c= and o=; NULL keeps */
	bool set_version; /* replace o= sess-version with sess_version */
	uint64_t sess_version;
	const uint16_t *ports; /* new port of m= line i; a port 0 stays 0 */
	size_t nports;	       /* 0 (keep all) or the number of m= lines */
	/* with ports: the RTCP port of m= line i; an a=rtcp line of that
	 * section becomes a=rtcp:<port> (RFC 3605). NULL: left as it is. */
	const uint16_t *rtcp_ports;
	bool strip_ice;	 /* drop ice-* and candidate lines (RFC 8839) */
	bool strip_rtcp; /* drop a=rtcp (RFC 3605): it named the old leg */
	const char *const *drop_attrs; /* further attribute names to drop */
	size_t ndrop_attrs;
};

/* c=0.0.0.0 and c=IN IP6 :: are kept: they say "hold" (RFC 3264 §8.4), not
 * where media goes. -EINVAL when addr is not a literal or nports does not
 * match. */
CV_API int cv_sdp_rewrite(struct cv_sdp **out, const struct cv_sdp *in,
			  const struct cv_sdp_rewrite *rw);

#ifdef __cplusplus
}
#endif

#endif
