/* Private structures of the server module. */
#ifndef CV_SERVER_INT_H
#define CV_SERVER_INT_H

#include <pthread.h>

#include <arpa/inet.h>

#include "cvoip/bus.h"
#include "cvoip/dialog.h"
#include "cvoip/digest.h"
#include "cvoip/rtp.h"
#include "cvoip/server.h"
#include "cvoip/store.h"

#define SRV_MAX_FORK 8

struct binding {
	struct binding *next;
	char *contact; /* Contact URI */
	char *call_id;
	uint32_t cseq;
	uint64_t expires_ms; /* monotonic (cv_clock_ms) */
	int64_t expires_wall_us;
	int64_t stored_expires_us; /* the expiry the store holds (0: none) */
	uint16_t q;
	char *instance;
	uint32_t reg_id;
	char *path;
	char *user_agent;
	struct cv_txn_addr src; /* flow the REGISTER came from (conn ref) */
};

struct aor {
	struct aor *next;
	char *name;
	struct binding *bindings;
	unsigned n;
};

struct reg_expired;
struct registrar {
	pthread_mutex_t lock;
	struct aor **buckets;
	size_t nbuckets;
	uint64_t nbindings;
	/* bindings dropped by expiry, published (registration.expired) and
	 * freed by the sweep on worker 0 once the lock is released */
	struct reg_expired *graveyard;
	struct cv_tmr sweep;
	struct srv_worker *sweep_sw;
	unsigned sweeps;
	int64_t trim_peak, trim_prev; /* heap trim after bursts (registrar.c) */
};

/* A contact to fork to, copied out of the table. */
struct reg_target {
	char contact[1024];
	struct cv_txn_addr dst; /* conn ref held: reg_target_clear */
};

/* Failed-authentication counters, keyed "a:<ip>" or "u:<user>", in a
 * fixed direct-mapped table (bounded whatever the network sends; a
 * collision evicts the older key, which at worst forgets a count). */
#define SRV_FAIL_SLOTS 4096
struct fail_slot {
	uint64_t hash;
	uint64_t window_start_ms;
	uint64_t blocked_until_ms;
	uint32_t count;
};

/* A call's anchored media: one relay stream per RTP m-line, indexed by
 * m-line (leg A = caller side, B = callee side). */
#define CALL_MAX_STREAMS 4
struct media_sec;
struct call_media {
	struct cv_rtp_relay_stream *st[CALL_MAX_STREAMS];
	unsigned n;			/* streams open */
	bool off;			/* not anchored: SDP passed as is */
	char adv[2][INET6_ADDRSTRLEN];	/* relay address told to A / to B */
	char codec[64];			/* first format of the first m-line */
	uint8_t seen[CALL_MAX_STREAMS]; /* bit per leg: sent an SDP for it */
	struct media_sec *sec;		/* SDES state, once a=crypto was seen */
	struct xcode *xc[CALL_MAX_STREAMS]; /* codec maps; transcoding */
	uint8_t pend;	       /* 1 + leg with an offer out, 0 none */
	uint8_t last_ans;      /* 1 + leg that answered last */
	uint64_t last_ans_ver; /* o= version of that answer */
	bool flip;	       /* offer B the opposite of A (retry) */
	bool flipped;	       /* ... done once */
	uint8_t b_srtp;	       /* enum cv_srv_srtp toward B (route policy) */
};

struct srv_worker {
	struct cv_srv *srv;
	struct cv_worker *w;
	struct cv_ua *ua;
	struct cv_digest_server *digest; /* the server's, shared */
	struct cv_store_client *store_client;
	struct cv_rtp_relay *relay; /* NULL: media not anchored */
	struct call *calls;	    /* list of live calls */
};

struct cv_srv {
	struct cv_srv_params p;
	char *realm;
	char *user_agent;
	struct cv_srv_user *users;
	size_t nusers;
	char *user_strings;
	unsigned char secret[32];
	enum cv_digest_alg algs[CV_DIGEST_ALG_COUNT];
	size_t nalgs;
	struct registrar reg;
	struct cv_digest_server *digest;
	pthread_mutex_t fail_lock;
	struct fail_slot *fail; /* SRV_FAIL_SLOTS */
	struct srv_worker *workers;
	unsigned nworkers;
	struct trunk_set *trunks; /* trunk.c; NULL: none configured */
	int slot;
	_Atomic uint64_t st_registers_ok, st_registers_challenged,
		st_registers_rejected, st_calls_started, st_calls_answered,
		st_calls_failed, st_calls_active, st_auth_failures,
		st_auth_blocks, st_auth_limited, st_relay_streams,
		st_relay_forwarded;
};

/* registrar.c */
int registrar_init(struct registrar *r);
void registrar_fini(struct registrar *r);
void srv_register(struct srv_worker *sw, struct cv_txn *st,
		  struct cv_sip_msg *req);
/* Copies up to max live targets of user `aor`; returns the count. */
size_t registrar_lookup(struct cv_srv *s, struct cv_pl aor,
			struct reg_target *out, size_t max);
/* RFC 5627 §5.3: the bindings of `aor` whose instance is gr (the value
 * of a GRUU's gr parameter). */
size_t registrar_lookup_gruu(struct cv_srv *s, struct cv_pl aor,
			     struct cv_pl gr, struct reg_target *out,
			     size_t max);
void reg_target_clear(struct reg_target *t);
/* The expiry sweep (worker 0): every second, expired bindings are dropped
 * and published; the store's expired rows are purged every minute. */
void registrar_worker_start(struct srv_worker *sw);
void registrar_worker_stop(struct srv_worker *sw);

/* auth.c */
const struct cv_srv_user *srv_user_find(struct cv_srv *s, struct cv_pl name);
void srv_users_sort(struct cv_srv *s);
/* 0: authenticated as *user; otherwise the challenge was sent (401/407)
 * or a 403 and st released. */
int srv_authenticate(struct srv_worker *sw, struct cv_txn *st,
		     struct cv_sip_msg *req, bool proxy,
		     const struct cv_srv_user **user);

/* b2bua.c */
void b2bua_invite(struct srv_worker *sw, struct cv_txn *st,
		  struct cv_sip_msg *req);
void b2bua_in_dialog(struct srv_worker *sw, struct cv_txn *st,
		     struct cv_sip_msg *req, struct cv_dlg *dlg);
void b2bua_ack(struct srv_worker *sw, struct cv_dlg *dlg,
	       struct cv_sip_msg *ack);
void b2bua_cancel(struct srv_worker *sw, struct cv_txn *st);
void b2bua_response(struct srv_worker *sw, struct cv_txn *ct,
		    const struct cv_txn_resp *r);
void b2bua_ack_timeout(struct srv_worker *sw, struct cv_dlg *dlg);
void b2bua_prack_timeout(struct srv_worker *sw, struct cv_dlg *dlg);
void b2bua_worker_stop(struct srv_worker *sw);

/* media.c */
/* Rewrites SDP `body` that came from leg `from` (0 A, 1 B) for the other
 * leg into out. CV_ENOTFOUND when media is not anchored (pass the body as
 * it is); other errors: parse failure, relay out of ports. */
int media_rewrite(struct srv_worker *sw, struct call_media *m, int from,
		  struct cv_pl body, struct cv_buf *out);
void media_set_adv(struct srv_worker *sw, struct call_media *m, int leg,
		   const struct cv_txn_addr *flow);
void media_leg_stats(const struct call_media *m, int leg,
		     struct cv_store_cdr_leg *out);
void media_free(struct srv_worker *sw, struct call_media *m);
/* The caller's offer (a_body) again for the callee after it refused the
 * first with 488: SRTP where the caller was plain and plain where it was
 * SRTP (docs/server.md). Once per call; CV_ENOTFOUND when not possible. */
int media_retry_offer(struct srv_worker *sw, struct call_media *m,
		      struct cv_pl a_body, struct cv_buf *out);

/* transcode.c: codec maps per leg and the relay transform */
struct xcode;
struct cv_sdp_media;
struct cv_sdp_fmt;
int xcode_create(struct xcode **xp);
bool xcode_can(const struct cv_sdp_fmt *sf);
void xcode_set_fmts(struct xcode *x, int leg, const struct cv_sdp_media *md);
bool xcode_common(const struct xcode *x, int a, int b, bool *extra);
bool xcode_has_pt(const struct xcode *x, int leg, uint8_t pt);
int xcode_answer(const struct xcode *x, int a, int b, char *pts, size_t ptsz,
		 struct cv_buf *lines);
int xcode_xform(void *arg, enum cv_rtp_relay_leg from, uint8_t *pkt,
		size_t *len, size_t cap);
void xcode_counts(const struct xcode *x, uint64_t *transcoded,
		  uint64_t *dropped);

/* events.c: bus publishing (no-ops without a bus) */
void srv_pub_call(struct cv_srv *s, enum cv_bus_type type, const char *call_id,
		  const char *from, const char *to, uint16_t status,
		  const char *reason, enum cv_bus_hangup by,
		  uint64_t duration_ms);
void srv_pub_reg(struct cv_srv *s, enum cv_bus_type type, const char *aor,
		 const char *contact, const struct cv_txn_addr *src,
		 const char *user_agent, uint32_t expires);
void srv_pub_cdr(struct cv_srv *s, const struct cv_store_cdr *cdr);

/* hooks.c: the application routing hook; 1 with out (and the
 * P-Asserted-Identity header line in pai, "" when caller is NULL: not
 * authenticated, e.g. from a trunk) when it takes the call. */
size_t srv_hook_route(struct srv_worker *sw, struct cv_pl user,
		      const char *caller, struct reg_target *out, char *pai,
		      size_t pai_size);

/* helpers */
void srv_reply(struct cv_txn *st, uint16_t status, const char *reason,
	       const char *headers);

#endif
