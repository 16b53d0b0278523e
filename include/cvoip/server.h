/*
 * cvoip server: what cvoipd does with SIP — a digest-authenticated
 * registrar (RFC 3261 §10) and a B2BUA that routes calls between
 * registered users (forking to every contact), on top of the dialog
 * layer's per-worker UA core.
 *
 * Threads: one cv_srv for the process; cv_srv_worker_start() on each
 * worker creates that worker's UA. A call (both legs) lives on the worker
 * owning the incoming Call-ID; the outgoing leg's Call-ID is chosen to
 * hash to the same worker (ARCHITECTURE.md). The registrar's bindings are
 * shared by every worker behind a mutex held only for table operations
 * (no callback, no I/O under it); docs/server.md explains the choice.
 */
#ifndef CVOIP_SERVER_H
#define CVOIP_SERVER_H

#include "cvoip/base.h"
#include "cvoip/runtime.h"
#include "cvoip/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

struct cv_srv;
struct cv_store;
struct cv_store_trunk;
struct cv_store_route;

/* Where an application (the call center glue, src/callcenter) wants a
 * call delivered instead of the callee's registered contacts. */
struct cv_srv_route {
	/* Request-URI of the single outgoing leg, numeric host, e.g.
	 * "sip:support@127.0.0.1:40000" (it is also the destination). */
	char uri[256];
};
/* user: the Request-URI user part; caller: the authenticated user ("" for
 * a call the server did not authenticate, e.g. from a trunk: then no
 * P-Asserted-Identity is added). Return
 * 0 with *out filled to take the call (the leg then carries
 * `P-Asserted-Identity: <sip:CALLER@REALM>`, RFC 3325, so the application
 * knows who called), CV_ENOTFOUND to route it normally. Runs on any
 * worker: it may only read state that never changes while running. */
typedef int(cv_srv_route_fn)(void *arg, const char *user, const char *caller,
			     struct cv_srv_route *out);

/* A user as the server authenticates it: HA1 per algorithm (lower-case
 * hex; empty = that algorithm not available for the user). */
struct cv_srv_user {
	const char *name;
	const char *ha1_md5;
	const char *ha1_sha256;
	const char *ha1_sha512_256;
};

/* SRTP toward a route's trunk (docs/server.md "Trunks"): MIRROR offers
 * what the caller chose (and retries the other way after a 488), PLAIN
 * offers RTP/AVP without keys, REQUIRED offers only RTP/SAVP with
 * cvoipd's key (a 488 then fails over to the route's next trunk). */
enum cv_srv_srtp {
	CV_SRV_SRTP_OPTIONAL = 0,
	CV_SRV_SRTP_OFF,
	CV_SRV_SRTP_REQUIRED
};

/* Per-route options beyond the store's route row, matched by route name
 * (trunk.c): the dialled number is rewritten for the trunk in this order:
 * `strip` leading characters removed, `prepend` put in front, then when
 * `rewrite_match` (POSIX extended regex) matches, the number becomes
 * `rewrite_replace` with \0..\9 replaced by the match's groups. */
struct cv_srv_route_opts {
	const char *route;
	uint32_t strip;
	const char *prepend;	     /* NULL/"": none */
	const char *rewrite_match;   /* NULL/"": none */
	const char *rewrite_replace; /* with rewrite_match */
	enum cv_srv_srtp srtp;
};

/* Per-trunk health check (RFC 3261 §11 OPTIONS): one OPTIONS every
 * options_ping_ms; down_after failures in a row (no response within the
 * interval, a transport error, 503) mark the trunk down, any other
 * response marks it up again. Down trunks are skipped by routes. */
struct cv_srv_trunk_opts {
	const char *trunk;
	uint32_t options_ping_ms; /* 0: no health check */
	uint32_t down_after;	  /* [3] */
};

/* An inbound number (the Request-URI user of a call from a trunk) and
 * the local user (or call-center queue) it reaches. trunk NULL/"": from
 * any trunk; a trunk's own entries are looked up first. */
struct cv_srv_did {
	const char *number;
	const char *user;
	const char *trunk;
};

struct cv_srv_params {
	struct cv_rt *rt;	/* required */
	struct cv_tp *tp;	/* required */
	struct cv_store *store; /* bindings and CDRs; NULL: memory only */
	struct cv_bus *bus; /* call, registration and CDR events; NULL: none */
	const char *realm;  /* digest realm ["cvoip"] */
	const char *user_agent;	      /* Server / User-Agent ["cvoipd"] */
	uint32_t reg_min_expires;     /* [60] */
	uint32_t reg_max_expires;     /* [3600] */
	uint32_t reg_default_expires; /* [600] */
	uint32_t no_answer_ms; /* callee rings this long, then 480 [60000] */
	uint32_t max_bindings_per_aor; /* [10] */
	/* Digest challenges offered, in this order (RFC 8760): names as in
	 * cv_digest_alg_name(). NULL/0: MD5 only (see docs/server.md). */
	const char *const *digest_algs;
	size_t ndigest_algs;
	/* Failed-authentication limit (RFC 3261 §26.3.2.4 leaves the policy
	 * to us): after this many wrong credentials within auth_window_ms
	 * from one source address (IP, any port) or for one user name,
	 * requests from that source / for that user are answered 403
	 * without checking credentials for auth_block_ms. 0: no limit. */
	uint32_t auth_max_failures_source;
	uint32_t auth_max_failures_user;
	uint32_t auth_window_ms; /* [60000] */
	uint32_t auth_block_ms;	 /* [300000] */
	/* Media anchoring (docs/server.md): RTP of bridged calls goes
	 * through a relay on each worker, SDP rewritten on both legs. */
	bool media_relay;
	const char *media_addr;		     /* relay bind + SDP address; NULL:
					      * bind 0.0.0.0, advertise each leg's
					      * SIP address */
	uint16_t rtp_port_min, rtp_port_max; /* [20000, 29999] */
	const struct cv_srv_user *users;     /* copied */
	size_t nusers;
	/* Trunks (upstream SIP servers) and the routes to them, as the store
	 * holds them (cvoipd provisions them from configuration): a route's
	 * `trunk` is the comma-separated failover list of trunk names.
	 * Copied; docs/server.md "Trunks". */
	const struct cv_store_trunk *trunks;
	size_t ntrunks;
	const struct cv_store_route *routes; /* tried by priority */
	size_t nroutes;
	uint32_t trunk_timeout_ms; /* no response from a trunk: next [5000] */
	const struct cv_srv_route_opts *route_opts; /* copied */
	size_t nroute_opts;
	const struct cv_srv_trunk_opts *trunk_opts; /* copied */
	size_t ntrunk_opts;
	const struct cv_srv_did *dids; /* copied */
	size_t ndids;
	/* Application routing hook (src/server/hooks.c): asked for every
	 * authenticated INVITE outside a dialog before the registrar
	 * lookup. NULL: none. */
	cv_srv_route_fn *route;
	void *route_arg;
};

CV_API int cv_srv_create(struct cv_srv **sp, const struct cv_srv_params *p);
/* Reload bindings persisted by an earlier run (before workers start). */
CV_API int cv_srv_load_bindings(struct cv_srv *s);
/* From the runtime's on_start / on_stop. */
CV_API int cv_srv_worker_start(struct cv_srv *s, struct cv_worker *w);
CV_API void cv_srv_worker_stop(struct cv_srv *s, struct cv_worker *w);
/* The transport's recv handler forwards here. */
CV_API void cv_srv_recv(struct cv_srv *s, struct cv_worker *w,
			const struct cv_tp_rx *rx);
CV_API void cv_srv_destroy(struct cv_srv *s);

/* The live (not expired) contacts of a user's bindings, each passed to fn
 * (at most 16); returns how many. Any thread: the registrar's lock is
 * held only while copying, never during fn. */
typedef void(cv_srv_contact_fn)(const char *contact, void *arg);
CV_API size_t cv_srv_contacts(struct cv_srv *s, const char *user,
			      cv_srv_contact_fn *fn, void *arg);

struct cv_srv_stats {
	uint64_t registers_ok;
	uint64_t registers_challenged;
	uint64_t registers_rejected; /* 403, 423, 400 */
	uint64_t bindings;	     /* live now */
	uint64_t calls_started;
	uint64_t calls_answered;
	uint64_t calls_failed; /* ended without answer */
	uint64_t calls_active;
	uint64_t auth_failures;	     /* wrong credentials (403) */
	uint64_t auth_blocks;	     /* times a source or user got blocked */
	uint64_t auth_limited;	     /* requests refused while blocked */
	uint64_t relay_streams;	     /* relay streams open now */
	uint64_t relay_forwarded;    /* RTP/RTCP packets the relays sent */
	uint64_t trunks_registered;  /* trunks registered upstream now */
	uint64_t trunk_calls;	     /* calls routed to a trunk */
	uint64_t trunk_failovers;    /* moves to a route's next trunk */
	uint64_t trunks_down;	     /* trunks marked down by OPTIONS now */
	uint64_t trunk_pings_failed; /* OPTIONS without a good response */
	uint64_t trunk_skipped;	     /* down trunks passed over by calls */
};
CV_API void cv_srv_stats_read(struct cv_srv *s, struct cv_srv_stats *out);

#ifdef __cplusplus
}
#endif

#endif
