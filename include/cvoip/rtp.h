/*
 * cvoip rtp: RTP/RTCP packets (RFC 3550/3551), RFC 4733 telephone events,
 * RTCP-XR VoIP metrics (RFC 3611), SRTP/SRTCP with SDES keys (RFC 3711,
 * RFC 4568, RFC 7714; libsrtp2), RTP sessions on a worker's uv loop with
 * statistics and an ITU-T G.107 E-model MOS, an adaptive jitter buffer, and a
 * media relay that forwards without decoding.
 *
 * Threads: a session, jitter buffer or relay belongs to the worker whose loop
 * it was created on and is touched only from that thread (no locks).
 * Errors: 0 or a negative errno / CV_E* code; results via out-pointers.
 * Network input is hostile: every parser bounds sizes and counts, and a bad
 * datagram is dropped and counted, never fatal.
 */
#ifndef CVOIP_RTP_H
#define CVOIP_RTP_H

#include <sys/socket.h>

#include <uv.h>

#include "cvoip/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ===== RTP packets (RFC 3550 §5.1, §5.3.1) ============================== */

#define CV_RTP_VERSION	  2
#define CV_RTP_HDR_LEN	  12 /* fixed header */
#define CV_RTP_MAX_CSRC	  15
#define CV_RTP_MAX_PACKET 1500 /* largest datagram a session or relay takes */

struct cv_rtp_hdr {
	bool marker;
	uint8_t pt; /* 0..127 */
	uint16_t seq;
	uint32_t ts;
	uint32_t ssrc;
	uint8_t cc; /* CSRC count, 0..15 */
	uint32_t csrc[CV_RTP_MAX_CSRC];
	/* RFC 3550 §5.3.1 header extension: present when ext is true; ext_data
	 * points at ext_len bytes (a multiple of 4) after the 4-byte extension
	 * header. On build, ext_data is copied. */
	bool ext;
	uint16_t ext_profile;
	const uint8_t *ext_data;
	size_t ext_len;
	/* Padding octets at the end (last octet included); 0 = no padding. */
	uint8_t pad_len;
};

struct cv_rtp_pkt {
	struct cv_rtp_hdr hdr;
	const uint8_t *payload; /* points into the parsed buffer */
	size_t payload_len;
};

/* Parses one RTP packet (zero copy: pointers refer to buf). Rejects version
 * != 2, truncated headers, CSRC lists, extensions or padding that run past
 * the end (CV_EPARSE). */
CV_API int cv_rtp_parse(struct cv_rtp_pkt *pkt, const uint8_t *buf, size_t len);

/* Writes header + payload (+ hdr->pad_len padding octets) into buf of size
 * bytes; *outlen receives the length. CV_ETOOBIG when it does not fit,
 * -EINVAL for cc > 15, pt > 127 or ext_len not a multiple of 4. */
CV_API int cv_rtp_build(uint8_t *buf, size_t size, const struct cv_rtp_hdr *hdr,
			const void *payload, size_t payload_len,
			size_t *outlen);

/* Header length of a valid packet (12 + 4*cc + extension), 0 if invalid. */
CV_API size_t cv_rtp_hdr_len(const uint8_t *buf, size_t len);

/* RFC 5761 §4 demultiplexing on one port: true when the datagram is RTCP
 * (second octet 192..223, i.e. RTCP types 192-223 / RTP PT 64-95). */
CV_API bool cv_rtp_is_rtcp(const uint8_t *buf, size_t len);

/* RFC 5764 §5.1.2 / RFC 7983: first octet 128..191 means RTP or RTCP
 * (0..3 STUN, 20..63 DTLS). */
CV_API bool cv_rtp_is_rtp_or_rtcp(const uint8_t *buf, size_t len);

/* Sequence helpers (RFC 3550 A.1): signed distance a - b in 16-bit space and
 * ordering with wrap-around. */
static inline int16_t cv_rtp_seq_diff(uint16_t a, uint16_t b)
{
	return (int16_t)(uint16_t)(a - b);
}
static inline int32_t cv_rtp_ts_diff(uint32_t a, uint32_t b)
{
	return (int32_t)(uint32_t)(a - b);
}

/* ===== RFC 4733 telephone-event payload (§2.3) ========================== */

#define CV_RTP_TEVENT_LEN 4

struct cv_rtp_tevent {
	uint8_t event;	   /* 0-9, 10 '*', 11 '#', 12-15 A-D, 16 flash, ... */
	bool end;	   /* E bit */
	uint8_t volume;	   /* 0..63, in -dBm0 */
	uint16_t duration; /* in timestamp units since the event's timestamp */
};

/* Parses the first 4-octet event block (further blocks, RFC 4733 §2.5.1.5
 * redundancy, are ignored; the R bit is ignored as §2.3.4 says).
 * CV_EPARSE when shorter than 4 octets. */
CV_API int cv_rtp_tevent_parse(struct cv_rtp_tevent *ev, const uint8_t *p,
			       size_t len);
/* Writes 4 octets; CV_ETOOBIG if size < 4, -EINVAL for volume > 63. */
CV_API int cv_rtp_tevent_build(uint8_t *p, size_t size,
			       const struct cv_rtp_tevent *ev);
/* '0'..'9','*','#','A'..'D' <-> event codes; -EINVAL for others. */
CV_API int cv_rtp_tevent_from_char(char c, uint8_t *event);
CV_API char cv_rtp_tevent_to_char(uint8_t event); /* '?' if not a digit */

/* ===== RTCP (RFC 3550 §6, RFC 3611) ===================================== */

enum cv_rtcp_type {
	CV_RTCP_SR = 200,
	CV_RTCP_RR = 201,
	CV_RTCP_SDES = 202,
	CV_RTCP_BYE = 203,
	CV_RTCP_APP = 204,
	CV_RTCP_RTPFB = 205,
	CV_RTCP_PSFB = 206,
	CV_RTCP_XR = 207
};

#define CV_RTCP_MAX_RB	   31 /* report blocks per SR/RR (5-bit count) */
#define CV_RTCP_MAX_BYE	   31
#define CV_RTCP_MAX_PACKET 1500

/* RFC 3550 §6.4.1 report block. */
struct cv_rtcp_rb {
	uint32_t ssrc;	       /* source this block reports on */
	uint8_t fraction_lost; /* fixed point /256 */
	int32_t cum_lost;      /* 24-bit signed */
	uint32_t ext_high_seq;
	uint32_t jitter; /* timestamp units */
	uint32_t lsr;	 /* middle 32 bits of the last SR NTP time */
	uint32_t dlsr;	 /* 1/65536 s since that SR */
};

/* RFC 3550 §6.4.1 sender info. */
struct cv_rtcp_sender_info {
	uint64_t ntp; /* 32.32 fixed point NTP time */
	uint32_t rtp_ts;
	uint32_t packets;
	uint32_t octets;
};

/* RFC 3611 §4.7 VoIP Metrics report block (field units as in the RFC:
 * rates in 1/256, durations and delays in ms, levels in dB with 127 =
 * unavailable, R factors 0..100 or 127, MOS x10 (10..50) or 127). */
struct cv_rtcp_xr_voip {
	uint32_t ssrc;
	uint8_t loss_rate;
	uint8_t discard_rate;
	uint8_t burst_density;
	uint8_t gap_density;
	uint16_t burst_duration;
	uint16_t gap_duration;
	uint16_t round_trip_delay;
	uint16_t end_system_delay;
	int8_t signal_level;
	int8_t noise_level;
	uint8_t rerl;
	uint8_t gmin;
	uint8_t r_factor;
	uint8_t ext_r_factor;
	uint8_t mos_lq;
	uint8_t mos_cq;
	uint8_t rx_config;
	uint16_t jb_nominal;
	uint16_t jb_maximum;
	uint16_t jb_abs_max;
};

/* One RTCP compound packet, parsed or to be built. Slices point into the
 * parsed buffer. Only the first SR or RR, the CNAME of the first SDES chunk
 * for the sender, the first BYE, the first APP and the first XR VoIP block
 * are kept; other packets and blocks are counted in n_other. */
struct cv_rtcp_compound {
	uint32_t ssrc; /* sender of the SR/RR (or of the first packet) */
	bool has_sr;   /* SR (with sender info) rather than RR */
	bool has_rr;
	struct cv_rtcp_sender_info si;
	unsigned n_rb;
	struct cv_rtcp_rb rb[CV_RTCP_MAX_RB];
	struct cv_pl cname; /* SDES CNAME of ssrc, empty if absent */
	bool has_bye;
	unsigned n_bye;
	uint32_t bye_ssrc[CV_RTCP_MAX_BYE];
	struct cv_pl bye_reason;
	bool has_app;
	uint8_t app_subtype;
	char app_name[4];
	struct cv_pl app_data;
	bool has_xr_voip;
	struct cv_rtcp_xr_voip xr_voip;
	unsigned n_other; /* packets/blocks of other types that were skipped */
};

/* Parses and validates a compound packet per RFC 3550 A.2: version 2,
 * every length inside the datagram and summing exactly to it, padding only
 * in the last packet. With reduced_size false the first packet must be SR
 * or RR; with true (RFC 5506) any type may come first. Lying lengths,
 * truncation, counts that exceed the packet: CV_EPARSE. */
CV_API int cv_rtcp_parse(struct cv_rtcp_compound *c, const uint8_t *buf,
			 size_t len, bool reduced_size);

/* Builds a compound packet: SR (has_sr) or RR (always, with n_rb blocks),
 * then SDES CNAME (if cname.l > 0), XR VoIP (has_xr_voip), APP (has_app),
 * BYE (has_bye). CV_ETOOBIG if size is too small, -EINVAL on bad counts or
 * a CNAME over 255 octets. */
CV_API int cv_rtcp_build(uint8_t *buf, size_t size,
			 const struct cv_rtcp_compound *c, size_t *outlen);

/* NTP helpers: 32.32 NTP time from a Unix-epoch microsecond clock, and the
 * middle 32 bits used in LSR. */
CV_API uint64_t cv_rtcp_ntp_from_unix_us(uint64_t unix_us);
static inline uint32_t cv_rtcp_ntp_mid32(uint64_t ntp)
{
	return (uint32_t)(ntp >> 16);
}

/* RFC 3550 §6.3.1 / A.7 deterministic part of the RTCP interval, in
 * seconds, before randomisation: members, senders, rtcp_bw (octets/s for
 * RTCP, i.e. 5% of the session bandwidth), we_sent, avg_rtcp_size
 * (octets), initial (halves the 5 s minimum). */
struct cv_rtcp_interval_in {
	unsigned members;
	unsigned senders;
	double rtcp_bw;
	bool we_sent;
	double avg_rtcp_size;
	bool initial;
};
CV_API double cv_rtcp_interval_det(const struct cv_rtcp_interval_in *in);
/* The randomised interval (A.7): det * U[0.5,1.5] / (e - 3/2), seconds. */
CV_API double cv_rtcp_interval(const struct cv_rtcp_interval_in *in);

/* ===== Receive statistics (RFC 3550 A.1, A.3, A.8) ====================== */

/* Per-source reception state; usable on its own (the relay and tests do). */
struct cv_rtp_source {
	uint32_t ssrc;
	uint16_t max_seq;
	uint32_t cycles; /* shifted count of seq wraps (<< 16) */
	uint32_t base_seq;
	uint32_t bad_seq;
	uint32_t probation;
	uint64_t received;
	uint64_t bytes;
	uint32_t expected_prior;
	uint32_t received_prior;
	uint32_t transit;    /* relative transit of the previous packet */
	uint32_t jitter_q4;  /* A.8 estimate, timestamp units << 4 */
	uint64_t duplicates; /* same seq seen again within the window */
	uint64_t reordered;
	uint32_t clock_rate;
	bool transit_valid;
	uint64_t seen[2]; /* duplicate window: last 128 sequence numbers */
};

/* probation: packets in sequence needed before a source is valid (A.1
 * MIN_SEQUENTIAL, 2 by default; 0 accepts at once). */
CV_API void cv_rtp_source_init(struct cv_rtp_source *s, uint32_t ssrc,
			       uint16_t seq, uint32_t clock_rate,
			       unsigned probation);
/* Updates sequence state (A.1) and jitter (A.8) for one packet arriving at
 * arrival_us (any monotonic clock). Returns 1 if the packet counts; 0 if
 * it must be dropped: a duplicate (counted in duplicates; a 128-packet
 * window), the source still in probation, or a sequence jump that A.1
 * accepts only once the next packet confirms it. */
CV_API int cv_rtp_source_update(struct cv_rtp_source *s, uint16_t seq,
				uint32_t ts, size_t payload_len,
				uint64_t arrival_us);
CV_API uint32_t cv_rtp_source_ext_max(const struct cv_rtp_source *s);
CV_API uint32_t cv_rtp_source_expected(const struct cv_rtp_source *s);
/* Cumulative lost, A.3 (duplicates are not counted as received, so this
 * goes negative only for duplicates older than the window). */
CV_API int64_t cv_rtp_source_lost(const struct cv_rtp_source *s);
/* Fraction lost since the previous call, A.3 (8-bit fixed point); moves
 * the interval marks, so call it once per report. */
CV_API uint8_t cv_rtp_source_fraction(struct cv_rtp_source *s);
/* Interarrival jitter in timestamp units (A.8, J >> 4 of the q4 state). */
CV_API uint32_t cv_rtp_source_jitter(const struct cv_rtp_source *s);

/* ===== E-model MOS (ITU-T G.107) ======================================== */

/* Equipment impairment per codec (ITU-T G.113 Appendix I, G.107 Appendix
 * I; table and sources in docs/rtp.md). Names are SDP encoding names,
 * case-insensitive: PCMU, PCMA, G729, G722, opus, L16, ... */
struct cv_rtp_codec_imp {
	const char *name;
	double ie;
	double bpl;	/* packet-loss robustness without PLC */
	double bpl_plc; /* with packet-loss concealment */
	bool wideband;	/* values from the G.107.1 wideband table */
};
/* CV_ENOTFOUND for unknown codecs (callers may fall back to G.711's). */
CV_API int cv_rtp_codec_imp_find(const char *name,
				 const struct cv_rtp_codec_imp **out);

struct cv_rtp_emodel_in {
	double ie;
	double bpl;
	double ppl;	 /* packet loss, percent 0..100 */
	double burst_r;	 /* BurstR; 1 = random loss (use 1 when unknown) */
	double delay_ms; /* one-way mouth-to-ear delay Ta (= T = Tr/2) */
};
/* R factor: R = Ro - Is - Id - Ie,eff + A with the G.107 default values
 * (Ro = 93.2, Is = 1.41 -> R = 93.2 at zero impairment), Id from Ta, and
 * Ie,eff = Ie + (95 - Ie) * Ppl / (Ppl / BurstR + Bpl). Clamped to
 * [0, 100]. */
CV_API double cv_rtp_emodel_r(const struct cv_rtp_emodel_in *in);
/* G.107 Annex B: MOS from R (1.0 .. 4.5). */
CV_API double cv_rtp_emodel_mos(double r);

/* ===== SRTP / SRTCP (RFC 3711, RFC 7714; SDES keys RFC 4568) ============ */

enum cv_srtp_suite {
	CV_SRTP_AES_CM_128_HMAC_SHA1_80 = 1,
	CV_SRTP_AES_CM_128_HMAC_SHA1_32 = 2,
	CV_SRTP_AEAD_AES_128_GCM = 3,
	CV_SRTP_AEAD_AES_256_GCM = 4
};

#define CV_SRTP_MAX_KEY	    46 /* master key + salt: 32 + 14 (GCM-256: 32 + 12) */
#define CV_SRTP_MAX_TRAILER 148 /* room to leave after a packet to protect */

struct cv_srtp_key {
	enum cv_srtp_suite suite;
	uint8_t key[CV_SRTP_MAX_KEY]; /* master key followed by master salt */
	size_t len;		      /* must equal cv_srtp_key_len(suite) */
};

/* RFC 4568 §6.2.1 / RFC 7714 §14.2 crypto-suite names. */
CV_API int cv_srtp_suite_parse(struct cv_pl name, enum cv_srtp_suite *out);
CV_API const char *cv_srtp_suite_name(enum cv_srtp_suite suite);
/* Master key + salt length in octets (30, 30, 28, 44); 0 if unknown. */
CV_API size_t cv_srtp_key_len(enum cv_srtp_suite suite);
/* Fresh random master key and salt. */
CV_API int cv_srtp_key_generate(struct cv_srtp_key *k,
				enum cv_srtp_suite suite);
/* RFC 4568 §6.1 key-params "inline:<base64>[|lifetime][|MKI:len]"; only the
 * first key-param of a list is used. The lifetime is accepted; an MKI is
 * rejected (CV_EUNSUPP), as is a key of the wrong length (CV_EPARSE). */
CV_API int cv_srtp_keyparams_parse(struct cv_pl key_params,
				   enum cv_srtp_suite suite,
				   struct cv_srtp_key *out);
/* Writes "inline:<base64>" NUL-terminated; CV_ETOOBIG if size is short. */
CV_API int cv_srtp_keyparams_print(const struct cv_srtp_key *k, char *dst,
				   size_t size);

/* One SRTP direction (libsrtp2 session with a wildcard SSRC policy). */
struct cv_srtp;
CV_API int cv_srtp_create(struct cv_srtp **sp, const struct cv_srtp_key *k,
			  bool outbound);
CV_API void cv_srtp_destroy(struct cv_srtp *s);
/* In place: *len is the packet length in and out; size the buffer size
 * (at least *len + CV_SRTP_MAX_TRAILER for protect). Unprotect returns
 * CV_EAUTH on authentication or replay failure. */
CV_API int cv_srtp_protect(struct cv_srtp *s, uint8_t *buf, size_t *len,
			   size_t size);
CV_API int cv_srtp_unprotect(struct cv_srtp *s, uint8_t *buf, size_t *len);
CV_API int cv_srtp_protect_rtcp(struct cv_srtp *s, uint8_t *buf, size_t *len,
				size_t size);
CV_API int cv_srtp_unprotect_rtcp(struct cv_srtp *s, uint8_t *buf, size_t *len);

/* ===== RTP session ======================================================== */

struct cv_rtp_session;

/* A media packet from the current remote source, after SRTP, address and
 * SSRC checks and statistics. Telephone events (tevent_pt) also reach this
 * handler unless a tevent handler is set. */
typedef void(cv_rtp_packet_fn)(struct cv_rtp_session *s,
			       const struct cv_rtp_pkt *pkt, void *arg);
/* Every valid RTCP compound packet received (after SRTCP). */
typedef void(cv_rtp_rtcp_fn)(struct cv_rtp_session *s,
			     const struct cv_rtcp_compound *c, void *arg);
/* RFC 4733 event packet. is_new: first packet of an event (new timestamp);
 * the end of an event is reported once (end retransmissions, §2.5.1.4,
 * are absorbed). ts is the event's RTP timestamp. */
typedef void(cv_rtp_tevent_fn)(struct cv_rtp_session *s,
			       const struct cv_rtp_tevent *ev, uint32_t ts,
			       bool is_new, void *arg);
/* The remote source changed SSRC (new stream or restart). */
typedef void(cv_rtp_ssrc_fn)(struct cv_rtp_session *s, uint32_t old_ssrc,
			     uint32_t new_ssrc, void *arg);
/* A datagram that is neither RTP nor RTCP (STUN, DTLS: RFC 7983), for the
 * layers above (ICE). */
typedef void(cv_rtp_other_fn)(struct cv_rtp_session *s, const uint8_t *buf,
			      size_t len, const struct sockaddr *from,
			      void *arg);

struct cv_rtp_handlers {
	cv_rtp_packet_fn *packet;
	cv_rtp_rtcp_fn *rtcp;
	cv_rtp_tevent_fn *tevent;
	cv_rtp_ssrc_fn *ssrc_change;
	cv_rtp_other_fn *other;
};

struct cv_rtp_params {
	uv_loop_t *loop;	/* the owning worker's loop (required) */
	const char *local_addr; /* bind address; NULL: "0.0.0.0" */
	/* RTP port range, inclusive; the RTP port is even, RTCP is +1 unless
	 * rtcp_mux. 0/0: 16384..32767. */
	uint16_t port_min, port_max;
	bool rtcp_mux;	     /* RFC 5761: RTCP on the RTP port */
	uint32_t clock_rate; /* of the main payload; 0: 8000 */
	/* RFC 4733 payload type; 0 or -1: none (PT 0 is PCMU, RFC 3551). */
	int tevent_pt;
	uint32_t ssrc;	   /* 0: random */
	const char *cname; /* NULL: random token */
	/* Session bandwidth in bit/s for the RTCP interval (5% of it for
	 * RTCP, RFC 3550 §6.2); 0: 64000. */
	uint32_t session_bw;
	/* Minimum RTCP interval in ms (RFC 3550 §6.2: 5000). 0: 5000. Tests
	 * may set it lower; the RFC's randomisation still applies. */
	uint32_t rtcp_min_ms;
	bool rtcp_xr;	   /* add an RFC 3611 VoIP metrics block */
	bool rtcp_disable; /* no RTCP timer (receive still parsed) */
	/* Symmetric RTP latching (hijack guard): after start or a remote
	 * change, packets from a new address are accepted and latched only
	 * within latch_window_ms; later only if the latched source has been
	 * silent for latch_silence_ms. 0: 3000 / 2000. */
	uint32_t latch_window_ms;
	uint32_t latch_silence_ms;
	bool latch_disable; /* accept only the signalled remote address */
	/* Codec of the received stream, for the MOS (cv_rtp_codec_imp_find);
	 * NULL: PCMU. plc: the decoder conceals losses. */
	const char *codec;
	bool plc;
	/* Receive budget per readiness callback (flood guard); 0: 64. */
	unsigned rx_budget;
	const struct cv_rtp_handlers *h; /* may be NULL */
	void *arg;
};

/* Creates a session and binds its socket(s). Sockets are read from now on;
 * until a remote is set the first valid source latches (symmetric RTP). */
CV_API int cv_rtp_session_create(struct cv_rtp_session **sp,
				 const struct cv_rtp_params *p);
/* Closes the sockets; no handler fires after this returns. The memory is
 * released once libuv has closed the handles (the loop must run). */
CV_API void cv_rtp_session_destroy(struct cv_rtp_session *s);

/* Local RTP and RTCP addresses (RTCP == RTP with rtcp-mux). */
CV_API int cv_rtp_session_local(const struct cv_rtp_session *s,
				struct sockaddr_storage *rtp,
				struct sockaddr_storage *rtcp);
CV_API uint16_t cv_rtp_session_port(const struct cv_rtp_session *s);
/* Signalled remote (from SDP). rtcp NULL: rtp port + 1, or the RTP address
 * with rtcp-mux. Opens a new latching window. */
CV_API int cv_rtp_session_set_remote(struct cv_rtp_session *s,
				     const struct sockaddr *rtp,
				     const struct sockaddr *rtcp);
CV_API int cv_rtp_session_set_rtcp_mux(struct cv_rtp_session *s, bool mux);
/* SRTP keys for sending and receiving (SDES); NULL disables that
 * direction's SRTP. Replaces earlier keys (re-INVITE). */
CV_API int cv_rtp_session_set_srtp(struct cv_rtp_session *s,
				   const struct cv_srtp_key *tx,
				   const struct cv_srtp_key *rx);
/* Codec of the received stream, for the MOS (see params). */
CV_API int cv_rtp_session_set_codec(struct cv_rtp_session *s, const char *codec,
				    uint32_t clock_rate, bool plc);
/* RFC 4733 telephone-event payload type negotiated later (SDP answer);
 * 0 or -1 turns event handling off. -EINVAL above 127. */
CV_API int cv_rtp_session_set_tevent_pt(struct cv_rtp_session *s, int pt);
/* Jitter-buffer delay the application adds (for the E-model delay and the
 * XR end-system delay), in ms. */
CV_API void cv_rtp_session_set_playout_delay(struct cv_rtp_session *s,
					     uint32_t ms);

struct cv_rtp_tx {
	uint8_t pt;
	bool marker;
	/* Media timestamp in clock-rate units from any origin; the session
	 * adds its random offset (RFC 3550 §5.1). */
	uint32_t ts;
	const void *payload;
	size_t len;
};
/* Sends one packet to the remote (SSRC and sequence by the session,
 * SRTP if keyed). -ENOTCONN without a remote, CV_ETOOBIG for a payload
 * that does not fit CV_RTP_MAX_PACKET. A failed sendto is counted. */
CV_API int cv_rtp_send(struct cv_rtp_session *s, const struct cv_rtp_tx *tx);
/* Sends an RTCP report now (SR/RR + SDES [+ XR]), and with bye true a BYE
 * (RFC 3550 §6.6) too. */
CV_API int cv_rtp_send_rtcp(struct cv_rtp_session *s, bool bye);
/* Feeds a datagram that arrived by other means (ICE demux, tests) as if
 * received on the RTP (rtcp false) or RTCP socket. */
CV_API void cv_rtp_session_input(struct cv_rtp_session *s, uint8_t *buf,
				 size_t len, const struct sockaddr *from,
				 bool rtcp);
CV_API uint32_t cv_rtp_session_ssrc(const struct cv_rtp_session *s);

struct cv_rtp_stats {
	/* sending */
	uint32_t tx_ssrc;
	uint64_t tx_packets;
	uint64_t tx_bytes;  /* payload octets */
	uint64_t tx_errors; /* failed sends */
	uint64_t rtcp_sent;
	/* receiving (current remote source; counters survive SSRC changes) */
	uint32_t rx_ssrc;
	uint64_t rx_packets;
	uint64_t rx_bytes; /* payload octets */
	uint32_t rx_expected;
	int64_t rx_lost;	 /* cumulative, RFC 3550 A.3 */
	double rx_fraction_lost; /* 0..1 over the last RTCP interval */
	double rx_loss_pct;	 /* cumulative lost/expected, percent */
	uint32_t rx_jitter_ts;	 /* A.8, timestamp units */
	double rx_jitter_ms;
	uint64_t rx_duplicates;
	uint64_t rx_reordered;
	uint32_t ssrc_changes;
	uint64_t rtcp_received;
	/* dropped datagrams by cause */
	uint64_t drop_malformed; /* bad RTP/RTCP structure */
	uint64_t drop_address;	 /* unexpected source address (hijack guard) */
	uint64_t drop_ssrc;	 /* wrong SSRC / in probation */
	uint64_t drop_auth;	 /* SRTP/SRTCP authentication or replay */
	uint64_t drop_flood;	 /* kernel receive-queue overflow (SO_RXQ_OVFL,
				  * learnt with the next datagram read) */
	/* from the peer's reports about our stream */
	bool remote_valid;
	double remote_fraction_lost;
	int32_t remote_lost;
	double remote_jitter_ms;
	double rtt_ms; /* from LSR/DLSR (RFC 3550 §6.4.1); -1 unknown */
	/* quality of the received stream */
	double r_factor;
	double mos;
	/* latched remote address */
	struct sockaddr_storage remote_rtp;
	struct sockaddr_storage remote_rtcp;
	bool remote_latched;
};
CV_API int cv_rtp_session_stats(const struct cv_rtp_session *s,
				struct cv_rtp_stats *out);

/* ===== Jitter buffer ====================================================== */

/* Packets in, frames out at their playout time. The consumer calls
 * cv_rtp_jb_get() on its tick until it returns CV_RTP_JB_WAIT; each other
 * result covers `samples` of audio. The delay adapts to the measured
 * jitter within [min_ms, max_ms]; changes are applied at talkspurt starts
 * (marker bit or after silence) and by dropping/stretching during clock
 * skew. */
struct cv_rtp_jb;

struct cv_rtp_jb_params {
	uint32_t clock_rate; /* 0: 8000 */
	uint32_t frame_ts; /* ts units per frame; 0: learned (20 ms default) */
	uint32_t min_ms;   /* 0: 20 */
	uint32_t max_ms;   /* 0: 200 */
	uint32_t init_ms;  /* starting target; 0: 40 */
	unsigned max_packets; /* bound; 0: 64 */
	int cn_pt;	      /* RFC 3389 CN payload type (13); 0 or -1: none */
};

enum cv_rtp_jb_kind {
	CV_RTP_JB_WAIT = 0, /* nothing due yet */
	CV_RTP_JB_FRAME,    /* a received frame: decode it */
	CV_RTP_JB_LOST,	    /* a frame is missing: conceal */
	CV_RTP_JB_CN,	    /* RFC 3389 comfort noise payload (decode as CN) */
	CV_RTP_JB_SILENCE   /* DTX: no packets, nothing lost; play CN/silence */
};

struct cv_rtp_jb_frame {
	enum cv_rtp_jb_kind kind;
	uint8_t pt;
	bool marker;
	uint32_t ts;		/* timestamp of the slot */
	uint32_t samples;	/* ts units covered */
	const uint8_t *payload; /* FRAME/CN: valid until the next jb call */
	size_t len;
};

struct cv_rtp_jb_stats {
	uint64_t put;
	uint64_t frames; /* delivered */
	uint64_t lost;	 /* LOST slots reported */
	uint64_t late;	 /* arrived after their playout time, dropped */
	uint64_t duplicates;
	uint64_t reordered;    /* arrived out of order but in time */
	uint64_t overflow;     /* dropped because the buffer was full */
	uint64_t dropped_skew; /* frames dropped to shrink the delay */
	uint64_t resyncs;      /* timestamp jumps / SSRC changes */
	uint32_t target_ms;    /* current target delay */
	uint32_t jitter_ms;    /* measured */
	unsigned depth;	       /* packets buffered now */
};

CV_API int cv_rtp_jb_create(struct cv_rtp_jb **jbp,
			    const struct cv_rtp_jb_params *p);
CV_API void cv_rtp_jb_destroy(struct cv_rtp_jb *jb);
/* Copies the packet. now_us: arrival time (cv_clock_us()). Returns 0 (also
 * when the buffer was full and its oldest packet gave way: `overflow`),
 * -EALREADY for a duplicate, CV_ETIMEOUT for a late packet (both counted),
 * -EINVAL for a payload over CV_RTP_MAX_PACKET. */
CV_API int cv_rtp_jb_put(struct cv_rtp_jb *jb, const struct cv_rtp_pkt *pkt,
			 uint64_t now_us);
/* The next slot due at now_us, or kind CV_RTP_JB_WAIT. */
CV_API int cv_rtp_jb_get(struct cv_rtp_jb *jb, uint64_t now_us,
			 struct cv_rtp_jb_frame *out);
/* The buffered packet that starts the slot at `ts` (e.g. the one after a
 * LOST slot: ts + samples), without taking it out: kind FRAME or CN,
 * payload valid until the next jb call. -ENOENT when it is not there.
 * Lets a decoder recover a lost frame from the next packet's in-band FEC
 * (Opus LBRR, RFC 6716 §2.1.7). */
CV_API int cv_rtp_jb_peek(struct cv_rtp_jb *jb, uint32_t ts,
			  struct cv_rtp_jb_frame *out);
CV_API void cv_rtp_jb_reset(struct cv_rtp_jb *jb);
CV_API void cv_rtp_jb_stats(const struct cv_rtp_jb *jb,
			    struct cv_rtp_jb_stats *out);

/* ===== Media relay (no decoding) ========================================== */

/* One relay per worker loop; its sockets are polled by that loop and
 * packets move with recvmmsg/sendmmsg without allocating per packet. A stream
 * joins two legs (A and B), each with its own local RTP/RTCP port pair; what
 * arrives on A's ports goes out of B's ports to B's remote, and back. */
struct cv_rtp_relay;
struct cv_rtp_relay_stream;

/* How a relay moves packets.
 * EPOLL (default): a uv_poll per socket, one recvmmsg per readiness and one
 *   sendmmsg per destination socket.
 * URING (experimental, Linux 6.0+): one multishot recvmsg per socket into
 *   a ring of provided buffers, all sends of a pass submitted together, a
 *   few system calls per wake-up however many sockets had data (16 MB of
 *   receive buffers per relay). Measured 4-8 % cheaper than EPOLL at 1000
 *   streams, no cheaper at 4900 when the relay falls behind (the buffer
 *   ring runs dry every pass; see docs/rtp.md); fails with the kernel's
 *   error where io_uring is unavailable (old kernel, seccomp). */
enum cv_rtp_relay_io {
	CV_RTP_RELAY_IO_EPOLL = 0,
	CV_RTP_RELAY_IO_URING,
};

struct cv_rtp_relay_params {
	uv_loop_t *loop;
	const char *local_addr;	     /* NULL: "0.0.0.0" */
	uint16_t port_min, port_max; /* 0/0: 16384..32767 */
	uint32_t latch_window_ms;    /* 0: 3000 (see cv_rtp_params) */
	uint32_t latch_silence_ms;   /* 0: 2000 */
	unsigned batch;		     /* packets per recvmmsg; 0: 32 */
	enum cv_rtp_relay_io io;     /* 0: EPOLL */
	/* Settled legs: once a leg's RTP has come from its latched address
	 * after the latch window, the leg's RTP socket is connect()ed to that
	 * address (sends without an address, a cached route, early demux on
	 * receive; the kernel drops datagrams from any other source before
	 * they reach the relay). After latch_silence_ms without RTP from the
	 * peer, or on set_remote, it is disconnected again so that a new
	 * source can latch (docs/rtp.md, "Connected legs"). Only done when
	 * local_addr is a specific address: connecting a wildcard-bound
	 * socket would also narrow what it receives to one local address.
	 * true: never connect. */
	bool no_connect;
};

enum cv_rtp_relay_leg { CV_RTP_RELAY_A = 0, CV_RTP_RELAY_B = 1 };

struct cv_rtp_relay_stream_params {
	bool rtcp_mux[2]; /* per leg */
	/* Rewrite SSRC/sequence/timestamp of what goes out on leg i (e.g. to
	 * hide a re-INVITE's source change): SSRC becomes a fixed random one,
	 * sequence and timestamp stay continuous across source changes. */
	bool rewrite[2];
	const char *codec;   /* for the MOS; NULL: PCMU */
	uint32_t clock_rate; /* 0: 8000 */
};

struct cv_rtp_relay_leg_stats {
	uint64_t rx_packets, rx_bytes; /* arrived on this leg */
	uint64_t tx_packets, tx_bytes; /* sent out of this leg */
	uint64_t rtcp_rx, rtcp_tx;
	uint64_t drop_address, drop_malformed, drop_nodest, tx_errors;
	uint64_t drop_auth; /* SRTP/SRTCP authentication failed */
	uint32_t ssrc;
	int64_t lost;
	double loss_pct;
	double jitter_ms;
	double rtt_ms; /* from the leg's RTCP, -1 unknown */
	double mos;
	bool latched;
	bool connected; /* RTP socket connected to remote_rtp (settled leg):
			   datagrams from elsewhere are dropped by the kernel
			   and not counted in drop_address */
	struct sockaddr_storage remote_rtp;
};

struct cv_rtp_relay_stats {
	uint64_t streams;
	uint64_t forwarded; /* packets sent */
	uint64_t received;  /* datagrams read */
	uint64_t dropped;
	/* system calls: epoll mode recvmmsg / sendmmsg; io_uring mode
	 * eventfd reads / io_uring_enter calls, plus the recvmmsg /
	 * sendmmsg of sockets whose receive found no buffer */
	uint64_t syscalls_rx, syscalls_tx;
	bool uring;	 /* io_uring in use */
	uint64_t rearms; /* io_uring: multishot receives armed again
			    (out of buffers under load) */
	uint64_t connects, disconnects; /* settled legs' sockets */
};

CV_API int cv_rtp_relay_create(struct cv_rtp_relay **rp,
			       const struct cv_rtp_relay_params *p);
/* Destroys every stream still open (their pointers become invalid);
 * memory goes once the loop has closed the socket handles. */
CV_API void cv_rtp_relay_destroy(struct cv_rtp_relay *r);
CV_API void cv_rtp_relay_stats(const struct cv_rtp_relay *r,
			       struct cv_rtp_relay_stats *out);

CV_API int
cv_rtp_relay_stream_create(struct cv_rtp_relay *r,
			   struct cv_rtp_relay_stream **sp,
			   const struct cv_rtp_relay_stream_params *p);
CV_API void cv_rtp_relay_stream_destroy(struct cv_rtp_relay_stream *st);
CV_API int cv_rtp_relay_stream_local(const struct cv_rtp_relay_stream *st,
				     enum cv_rtp_relay_leg leg,
				     struct sockaddr_storage *rtp,
				     struct sockaddr_storage *rtcp);
/* Remote of a leg from its SDP (rtcp NULL: +1, or mux). Without one, the
 * first source on the leg latches (symmetric RTP). */
CV_API int cv_rtp_relay_stream_set_remote(struct cv_rtp_relay_stream *st,
					  enum cv_rtp_relay_leg leg,
					  const struct sockaddr *rtp,
					  const struct sockaddr *rtcp);
/* SRTP terminated by the relay on one leg (SDES, RFC 4568): rx is the key
 * of what arrives on the leg (the peer's a=crypto), tx the key of what
 * leaves on it (the one offered to that peer). NULL: plain in that
 * direction. Bridges SDES <-> plain and SDES <-> SDES with different keys;
 * with no keys on either leg SRTP passes through untouched (then without
 * rewriting). Both directions are replaced at once. */
CV_API int cv_rtp_relay_stream_set_srtp(struct cv_rtp_relay_stream *st,
					enum cv_rtp_relay_leg leg,
					const struct cv_srtp_key *rx,
					const struct cv_srtp_key *tx);
/* A payload transform for what crosses a stream (transcoding, done above
 * this layer: src/server with the codecs of src/media). Called on the
 * loop thread for each RTP packet that arrived on leg `from` and is about
 * to leave on the other leg, after SRTP, latching and the statistics of
 * the arriving leg: `pkt` holds the plain RTP packet of *len octets in a
 * buffer of `cap` octets, and may be rewritten in place (payload type,
 * payload, timestamp, length). Return 0 to send it (SRTP and rewriting of
 * the out leg follow), anything else to send nothing for it (e.g. samples
 * held until a whole frame is there, or an undecodable payload). RTCP is
 * not passed through the transform. */
typedef int cv_rtp_relay_xform_fn(void *arg, enum cv_rtp_relay_leg from,
				  uint8_t *pkt, size_t *len, size_t cap);
/* Sets (fn NULL: removes) the stream's transform; arg must stay valid
 * until it is removed or the stream destroyed. */
CV_API void cv_rtp_relay_stream_set_xform(struct cv_rtp_relay_stream *st,
					  cv_rtp_relay_xform_fn *fn, void *arg);
/* Feeds a datagram as if it had arrived on a leg's RTP (or RTCP) socket
 * from `from`: the same checks, latching, SRTP and statistics; what is to
 * be forwarded is sent at once from the other leg's socket (fuzzing,
 * tests). */
CV_API int cv_rtp_relay_stream_input(struct cv_rtp_relay_stream *st,
				     enum cv_rtp_relay_leg leg, bool rtcp,
				     const uint8_t *buf, size_t len,
				     const struct sockaddr *from);
CV_API int cv_rtp_relay_stream_stats(const struct cv_rtp_relay_stream *st,
				     enum cv_rtp_relay_leg leg,
				     struct cv_rtp_relay_leg_stats *out);

#ifdef __cplusplus
}
#endif

#endif
