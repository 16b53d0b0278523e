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

/* A user as the server authenticates it: HA1 per algorithm (lower-case
 * hex; empty = that algorithm not available for the user). */
struct cv_srv_user {
	const char *name;
	const char *ha1_md5;
	const char *ha1_sha256;
	const char *ha1_sha512_256;
};

struct cv_srv_params {
	struct cv_rt *rt;               /* required */
	struct cv_tp *tp;               /* required */
	struct cv_store *store;         /* bindings and CDRs; NULL: memory only */
	struct cv_bus *bus;             /* call, registration and CDR events; NULL: none */
	const char *realm;              /* digest realm ["cvoip"] */
	const char *user_agent;         /* Server / User-Agent ["cvoipd"] */
	uint32_t reg_min_expires;       /* [60] */
	uint32_t reg_max_expires;       /* [3600] */
	uint32_t reg_default_expires;   /* [600] */
	uint32_t no_answer_ms;          /* callee rings this long, then 480 [60000] */
	uint32_t max_bindings_per_aor;  /* [10] */
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
	uint32_t auth_window_ms;        /* [60000] */
	uint32_t auth_block_ms;         /* [300000] */
	/* Media anchoring (docs/server.md): RTP of bridged calls goes
	 * through a relay on each worker, SDP rewritten on both legs. */
	bool media_relay;
	const char *media_addr;         /* relay bind + SDP address; NULL:
					 * bind 0.0.0.0, advertise each leg's
					 * SIP address */
	uint16_t rtp_port_min, rtp_port_max; /* [20000, 29999] */
	const struct cv_srv_user *users; /* copied */
	size_t nusers;
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

struct cv_srv_stats {
	uint64_t registers_ok;
	uint64_t registers_challenged;
	uint64_t registers_rejected;   /* 403, 423, 400 */
	uint64_t bindings;             /* live now */
	uint64_t calls_started;
	uint64_t calls_answered;
	uint64_t calls_failed;         /* ended without answer */
	uint64_t calls_active;
	uint64_t auth_failures;        /* wrong credentials (403) */
	uint64_t auth_blocks;          /* times a source or user got blocked */
	uint64_t auth_limited;         /* requests refused while blocked */
	uint64_t relay_streams;        /* relay streams open now */
	uint64_t relay_forwarded;      /* RTP/RTCP packets the relays sent */
};
CV_API void cv_srv_stats_read(struct cv_srv *s, struct cv_srv_stats *out);

#ifdef __cplusplus
}
#endif

#endif
