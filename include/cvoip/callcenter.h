/*
 * cvoip call center engine: agents, queues, routing strategies, overflow,
 * statistics.
 *
 * The engine knows nothing about SIP or media. A glue layer (cvoipd) drives
 * it through the input functions below (caller joined, offer answered, call
 * ended...) and carries out the engine's actions, which arrive through a
 * const handler table plus void *arg: ring agent A for caller C, stop
 * ringing, play hold music or an announcement, bridge, overflow, hang up.
 *
 * Threads: an engine is owned by one worker and touched only on its thread
 * (ARCHITECTURE.md: shared state owned by one worker); glue running on other
 * workers posts to it. Timers (ring timeout, maximum wait, wrap-up, skill
 * relaxation, announcements, statistics snapshots) run on a cv_wheel driven
 * by cv_clock_us(), so tests use the fake clock.
 *
 * Re-entrancy: actions are queued while the engine updates its state and
 * delivered when the outermost engine call returns, one at a time, in
 * order. A handler may call back into the engine (e.g. report an offer as
 * failed at once); the nested call's actions are delivered after the ones
 * already queued. No handler runs after cv_cc_destroy().
 *
 * Handles: callers and offers are named by 64-bit ids that are never
 * reused; a stale id fails the lookup with CV_ENOTFOUND instead of touching
 * freed memory. Agents and queues are named by their configured names.
 *
 * Outcomes: every caller that joined ends in exactly one of answered,
 * overflowed (left the engine to a user, URI, announcement or hang-up) or
 * abandoned (hung up before an agent answered). Overflow to another queue
 * is not an engine outcome (the caller is still in the engine) but closes
 * the caller's visit of the first queue as overflowed in that queue's
 * figures. cv_cc_totals() and the per-queue figures always add up:
 *     joined = answered + overflowed + abandoned + in_progress.
 */
#ifndef CVOIP_CALLCENTER_H
#define CVOIP_CALLCENTER_H

#include <jansson.h>

#include "cvoip/base.h"

#ifdef __cplusplus
extern "C" {
#endif

struct cv_cc;
struct cv_wheel;
struct cv_store;
struct cv_bus;
struct cv_srv_route;
struct cv_srv;

/* Bounds (input beyond them is refused with CV_ETOOBIG or -EINVAL). */
#define CV_CC_NAME_MAX	    128	   /* agent, queue, skill names */
#define CV_CC_TEXT_MAX	    1024   /* caller URI, call id, targets, files */
#define CV_CC_SKILLS_MAX    16	   /* skills per agent / required per queue */
#define CV_CC_RELAX_MAX	    4	   /* relaxation steps per queue */
#define CV_CC_DEVICES_MAX   8	   /* registrations (devices) per agent */
#define CV_CC_QUEUE_LEN_MAX 100000 /* max_len of one queue */
#define CV_CC_LEVEL_MIN	    1
#define CV_CC_LEVEL_MAX	    10

/* ---- agents ----------------------------------------------------------------
 * Same order and meaning as enum cv_store_agent_state. */
enum cv_cc_agent_state {
	CV_CC_AGENT_LOGGED_OUT = 0,
	CV_CC_AGENT_AVAILABLE,
	CV_CC_AGENT_OFFERED, /* an offer is ringing */
	CV_CC_AGENT_ON_CALL,
	CV_CC_AGENT_WRAP_UP,
	CV_CC_AGENT_PAUSED,
	CV_CC_AGENT_STATE_COUNT
};
/* "logged-out", "available", "offered", "on-call", "wrap-up", "paused". */
CV_API const char *cv_cc_agent_state_name(enum cv_cc_agent_state st);

struct cv_cc_skill {
	const char *name;
	uint8_t level; /* 1..10: agent's level, or a queue's minimum */
};

struct cv_cc_agent_params {
	const char *name;
	const struct cv_cc_skill *skills;
	size_t nskills;
	uint32_t max_calls; /* concurrent calls; 0: 1 */
	uint32_t wrapup_ms; /* after each call; 0: none */
};

/* ---- queues ----------------------------------------------------------------
 * Same order as cvoipd's strategy list (apps/cvoipd/conf.c). */
enum cv_cc_strategy {
	CV_CC_RING_ALL = 0,    /* every available member at once */
	CV_CC_LONGEST_IDLE,    /* member idle longest (since last call end) */
	CV_CC_ROUND_ROBIN,     /* member offered least recently by this queue */
	CV_CC_FEWEST_CALLS,    /* fewest calls answered in this queue */
	CV_CC_LEAST_TALK_TIME, /* least talk time in this queue */
	CV_CC_RANDOM,	       /* uniformly random available member */
	CV_CC_SKILLS_BASED,    /* qualified, best match, then longest idle */
	CV_CC_STRATEGY_COUNT
};
CV_API const char *cv_cc_strategy_name(enum cv_cc_strategy s);
/* "ring-all", "longest-idle", ...; CV_ENOTFOUND when unknown. */
CV_API int cv_cc_strategy_parse(const char *name, enum cv_cc_strategy *out);

/* Overflow targets, written in configuration as
 *   "queue:NAME"        another queue of this engine (handled inside)
 *   "user:NAME"         a local user (the glue routes the call there)
 *   "sip:..." "sips:..." "tel:..."   a URI
 *   "announce:FILE"     play FILE, then hang up (busy/voicemail style)
 *   "hangup" or ""      hang up */
enum cv_cc_target_kind {
	CV_CC_TARGET_HANGUP = 0,
	CV_CC_TARGET_QUEUE,
	CV_CC_TARGET_USER,
	CV_CC_TARGET_URI,
	CV_CC_TARGET_ANNOUNCE,
};
struct cv_cc_target {
	enum cv_cc_target_kind kind;
	const char *value; /* queue/user name, URI or file; "" for hangup */
	const char *text;  /* the target as configured */
};
/* Parses into out (value and text point into s). -EINVAL when malformed. */
CV_API int cv_cc_target_parse(const char *s, struct cv_cc_target *out);

/* Skills-based only: after a caller waited after_ms in the queue, each
 * required minimum level drops by `drop` (never below 1); with `any` the
 * requirements are dropped and every member qualifies. Steps are ordered
 * by after_ms, strictly increasing, and only ever relax further. */
struct cv_cc_relax {
	uint32_t after_ms;
	uint8_t drop;
	bool any;
};

struct cv_cc_queue_params {
	const char *name;
	enum cv_cc_strategy strategy;
	/* Members: agents with every required skill (any level for ordinary
	 * strategies, the minimum level for skills-based; with a relaxation
	 * step `any`, every agent). No required skill: every agent. */
	const struct cv_cc_skill *required;
	size_t nrequired;
	const struct cv_cc_relax *relax;
	size_t nrelax;
	uint32_t max_wait_ms;	   /* then overflow; 0: no limit */
	uint32_t max_len;	   /* callers waiting; 0: 100 */
	uint32_t ring_timeout_ms;  /* per offer; 0: 15000 */
	const char *music_on_hold; /* file for the glue; NULL: its default */
	const char *overflow;	   /* target (see above); NULL: hang up */
	/* Position/wait announcement period per caller; 0: none. */
	uint32_t announce_ms;
	/* Service level threshold: answered within it counts; 0: 20000. */
	uint32_t service_level_ms;
};

/* The whole call center as configured. cvoipd fills it from
 * apps/cvoipd/conf.h: agents[i] from cvoipd_agent (wrapup_ms, max_calls,
 * skills), queues[i] from cvoipd_queue (strategy by name through
 * cv_cc_strategy_parse(cvoipd_strategies[q->strategy]), required skills,
 * max_wait_ms, max_len, ring_timeout_ms, moh, overflow). */
struct cv_cc_config {
	const struct cv_cc_agent_params *agents;
	size_t nagents;
	const struct cv_cc_queue_params *queues;
	size_t nqueues;
};

/* Why a configuration was refused: the message names the object, and the
 * index lets the glue point at the file:line of that entry. */
struct cv_cc_cfg_err {
	char msg[256];
	int agent; /* index into agents[], or -1 */
	int queue; /* index into queues[], or -1 */
};

/* ---- feature codes ---------------------------------------------------------
 */
enum cv_cc_op {
	CV_CC_OP_LOGIN = 0,
	CV_CC_OP_LOGOUT,
	CV_CC_OP_PAUSE,
	CV_CC_OP_RESUME,
};
struct cv_cc_codes {
	const char *login;  /* NULL: "*20" */
	const char *logout; /* NULL: "*21" */
	const char *pause;  /* NULL: "*22" */
	const char *resume; /* NULL: "*23" */
};
/* Maps a dialled string (the Request-URI user part) to an operation;
 * codes NULL: the defaults. CV_ENOTFOUND when it is none of them. */
CV_API int cv_cc_code_parse(const struct cv_cc_codes *codes,
			    const char *dialled, enum cv_cc_op *out);

/* ---- actions (engine -> glue) ----------------------------------------------
 */
struct cv_cc_caller_view {
	uint64_t id;
	const char *call_id;
	const char *caller; /* caller URI / id */
	const char *queue;  /* current queue */
	int32_t priority;
	uint64_t wait_us; /* in the current queue so far */
};

struct cv_cc_offer_view {
	uint64_t id; /* report the result with this id */
	uint64_t caller;
	const char *call_id;
	const char *caller_uri;
	const char *agent;
	const char *queue;
	uint32_t ring_timeout_ms; /* the engine enforces it too */
};

struct cv_cc_agent_event {
	const char *agent;
	enum cv_cc_agent_state old_state;
	enum cv_cc_agent_state new_state;
	const char *reason; /* pause reason, "" otherwise */
	uint32_t calls;	    /* calls in progress */
};

/* Every member may be NULL (that action is then not carried out, which
 * only makes sense in tests). */
struct cv_cc_handlers {
	void (*agent_state)(struct cv_cc *cc,
			    const struct cv_cc_agent_event *ev, void *arg);
	/* Ring the agent for the caller; report with cv_cc_offer_result(). */
	void (*offer)(struct cv_cc *cc, const struct cv_cc_offer_view *o,
		      void *arg);
	/* Stop ringing (ring timeout, answered elsewhere, caller gone, agent
	 * logged out). No result is expected any more. */
	void (*offer_cancel)(struct cv_cc *cc, const struct cv_cc_offer_view *o,
			     void *arg);
	/* Answer the caller if needed and play music on hold (file NULL:
	 * the glue's default). Sent at each (re-)entry into a queue. */
	void (*hold)(struct cv_cc *cc, const struct cv_cc_caller_view *c,
		     const char *file, void *arg);
	/* Every announce_ms while waiting: play the caller's position
	 * (1 = next to be served) and/or wait (c->wait_us). */
	void (*announce)(struct cv_cc *cc, const struct cv_cc_caller_view *c,
			 uint32_t position, void *arg);
	/* The offer was answered: connect caller and agent. Report the end
	 * with cv_cc_caller_hangup() or cv_cc_bridge_failed(). */
	void (*bridge)(struct cv_cc *cc, const struct cv_cc_offer_view *o,
		       void *arg);
	/* The caller leaves the engine for a user, URI or announcement
	 * (kinds USER, URI, ANNOUNCE; the glue plays ANNOUNCE then hangs
	 * up). The caller id is stale afterwards. */
	void (*overflow)(struct cv_cc *cc, const struct cv_cc_caller_view *c,
			 const struct cv_cc_target *t, void *arg);
	/* Hang up the caller (overflow "hangup", overflow chain too long).
	 * The caller id is stale afterwards. */
	void (*hangup)(struct cv_cc *cc, const struct cv_cc_caller_view *c,
		       const char *reason, void *arg);
};

/* ---- engine ------------------------------------------------------------- */
struct cv_cc_params {
	struct cv_wheel *wheel; /* required: the owning worker's wheel */
	struct cv_store *store; /* optional: agent states, records, stats */
	struct cv_bus *bus;	/* optional: agent and queue events */
	const struct cv_cc_handlers *handlers; /* required */
	void *arg;
	struct cv_cc_codes codes;  /* copied; NULL members: the defaults */
	uint32_t miss_limit;	   /* consecutive misses before auto-pause;
				    * 0: 3; UINT32_MAX: never */
	uint32_t miss_cooldown_ms; /* no new offer to an agent for this long
				    * after a miss; 0: 2000 */
	uint32_t max_chain; /* queue-to-queue overflows per caller; 0: 4 */
	size_t max_callers; /* callers in the engine; 0: 100000 */
	uint32_t stats_period_ms; /* stat snapshots to the store; 0: none */
	uint64_t seed;		  /* random strategy; 0: from cv_random */
};

/* -EINVAL without wheel or handlers, or when two feature codes are equal,
 * empty or longer than 32 characters. */
CV_API int cv_cc_create(struct cv_cc **ccp, const struct cv_cc_params *p);
/* Frees everything; no handler fires. Calls in progress are forgotten
 * (the glue tears them down itself). */
CV_API void cv_cc_destroy(struct cv_cc *cc);

/* Adds every agent and queue of cfg after validating all of it: nothing
 * is added when any entry is wrong (duplicate name, skill level outside
 * 1..10, skills-based queue without required skills, relaxation steps out
 * of order, malformed overflow target, overflow to an unknown queue or to
 * itself...). -EINVAL/CV_ECONFIG/-EEXIST/CV_ETOOBIG with err filled. With
 * a store, agents and queues are written there too (fire and forget). */
CV_API int cv_cc_configure(struct cv_cc *cc, const struct cv_cc_config *cfg,
			   struct cv_cc_cfg_err *err);

/* ---- agent inputs -----------------------------------------------------------
 * device: the registration (e.g. Contact or instance id) the login comes
 * from; NULL stands for "feature code". An agent is logged in while at
 * least one device is; logout with device NULL logs out every device. */
CV_API int cv_cc_agent_login(struct cv_cc *cc, const char *agent,
			     const char *device);
/* Logging out while offered cancels the offer (the caller goes back to
 * its place); while on a call the call goes on and the agent is logged
 * out when it ends (no wrap-up). */
CV_API int cv_cc_agent_logout(struct cv_cc *cc, const char *agent,
			      const char *device);
/* reason NULL: "paused". A ringing offer keeps ringing. */
CV_API int cv_cc_agent_pause(struct cv_cc *cc, const char *agent,
			     const char *reason);
CV_API int cv_cc_agent_resume(struct cv_cc *cc, const char *agent);
/* Runs a feature-code operation for the agent (login/logout with device
 * NULL, pause with reason "feature code"). */
CV_API int cv_cc_agent_op(struct cv_cc *cc, const char *agent,
			  enum cv_cc_op op);
/* The agent dialled `dialled` (Request-URI user part): runs the operation
 * of the engine's feature codes (cv_cc_params.codes). CV_ENOTFOUND when it
 * is no feature code (the glue routes the call normally) or no agent. */
CV_API int cv_cc_agent_dial(struct cv_cc *cc, const char *agent,
			    const char *dialled);

/* ---- caller inputs ----------------------------------------------------------
 */
struct cv_cc_join {
	const char *queue;
	const char *call_id;
	const char *caller;
	int32_t priority; /* higher first; equal: arrival order */
};
/* The caller entered a queue; *idp receives its id. The engine answers
 * with hold (and maybe at once an offer, or an overflow when the queue is
 * full or has no agent logged in). CV_ENOTFOUND for an unknown queue,
 * CV_EFULL past max_callers. */
CV_API int cv_cc_caller_join(struct cv_cc *cc, const struct cv_cc_join *j,
			     uint64_t *idp);
/* The caller's call is over, at whatever step: waiting or ringing, it is
 * abandoned (offers are cancelled); bridged, the call is complete and the
 * agent enters wrap-up. */
CV_API int cv_cc_caller_hangup(struct cv_cc *cc, uint64_t caller);
/* The agent leg failed while bridged: the agent is freed (no wrap-up) and
 * the caller goes back to the head of its queue (its answer is taken back
 * from the figures). */
CV_API int cv_cc_bridge_failed(struct cv_cc *cc, uint64_t caller);

enum cv_cc_offer_res {
	CV_CC_OFFER_ANSWERED = 0,
	CV_CC_OFFER_NO_ANSWER, /* the glue's own timeout */
	CV_CC_OFFER_DECLINED,  /* busy, decline */
	CV_CC_OFFER_FAILED,    /* unreachable, error */
};
/* The outcome of a ringing offer. CV_ENOTFOUND when the offer is no longer
 * current (cancelled, timed out, answered elsewhere): on ANSWERED the glue
 * must hang that agent leg up. Misses count towards miss_limit. */
CV_API int cv_cc_offer_result(struct cv_cc *cc, uint64_t offer,
			      enum cv_cc_offer_res res);

/* ---- reading -------------------------------------------------------------
 */
enum cv_cc_caller_state {
	CV_CC_CALLER_WAITING = 0,
	CV_CC_CALLER_RINGING, /* offers outstanding */
	CV_CC_CALLER_BRIDGED,
};
struct cv_cc_caller_info {
	enum cv_cc_caller_state state;
	const char *queue;
	const char *agent; /* bridged: the agent, else NULL */
	uint32_t position; /* 1-based among waiting callers; 0 if bridged */
	uint32_t chain;	   /* queue-to-queue overflows so far */
	uint64_t wait_us;
};
/* CV_ENOTFOUND when the caller left the engine. Strings stay valid until
 * the next engine call. position costs O(callers in the queue). */
CV_API int cv_cc_caller_get(struct cv_cc *cc, uint64_t caller,
			    struct cv_cc_caller_info *out);

struct cv_cc_agent_stats {
	enum cv_cc_agent_state state;
	const char *reason;
	uint32_t calls; /* in progress */
	bool logged_in; /* false also while finishing a call after logout */
	uint32_t devices;
	uint32_t misses; /* consecutive */
	uint64_t offered, answered, missed;
	uint64_t talk_us, handle_us; /* totals of completed calls */
	uint64_t state_us[CV_CC_AGENT_STATE_COUNT]; /* time in each state */
	double occupancy; /* (offered+on call+wrap-up) / (that + available) */
};
CV_API int cv_cc_agent_stats(struct cv_cc *cc, const char *agent,
			     struct cv_cc_agent_stats *out);

struct cv_cc_queue_stats {
	uint32_t waiting; /* waiting or ringing */
	uint32_t members, logged_in, available;
	uint64_t longest_wait_us;
	uint64_t joined; /* callers that entered (also by overflow) */
	uint64_t offers; /* agent offers made */
	uint64_t answered, abandoned, overflowed;
	uint64_t answered_in_sl;
	uint64_t completed;	/* answered calls that have ended */
	uint64_t wait_sum_us;	/* of answered callers */
	uint64_t handle_sum_us; /* talk + wrap-up of completed calls */
	double avg_wait_s, avg_handle_s;
	double service_level; /* answered_in_sl / (answered+abandoned+
			       * overflowed); 1 when nothing finished */
};
CV_API int cv_cc_queue_stats(struct cv_cc *cc, const char *queue,
			     struct cv_cc_queue_stats *out);

struct cv_cc_totals {
	uint64_t joined, answered, overflowed, abandoned;
	uint64_t in_progress; /* waiting or ringing (not yet answered) */
	uint64_t bridged;     /* answered and still talking (in answered) */
};
CV_API void cv_cc_totals(const struct cv_cc *cc, struct cv_cc_totals *out);

/* {"totals":{...},"queues":{"NAME":{...}},"agents":{"NAME":{...}}};
 * *out is a new reference. */
CV_API int cv_cc_stats_json(struct cv_cc *cc, json_t **out);

/* Checks the engine's internal consistency (outcome accounting, agent
 * states against offers and calls, index membership); 0 or CV_EPROTO
 * with a log line saying what is wrong. For tests and debugging: O(all). */
CV_API int cv_cc_check(struct cv_cc *cc);

/* ---- SIP/media glue (glue.c, docs/callcenter.md "SIP glue") ---------------
 * Carries the engine's actions out with real calls. The glue is a SIP user
 * agent of its own, on its own worker thread and loopback listener, behind
 * the server: the server hands it INVITEs to queue names and feature codes
 * (cv_cc_glue_route as the server's route hook), it answers callers and
 * plays music on hold and prompts from WAV files, and it calls agents,
 * overflow users and URIs back through the server (as an internal user),
 * bridging the two legs' media streams. Agents log in and out by
 * REGISTER: the glue follows the server's registration events on the bus. */
struct cv_cc_glue;

/* Caller priority by caller: the authenticated user the server names in
 * P-Asserted-Identity, exactly or (pattern ending in '*') by prefix. The
 * first match wins; no match: 0. */
struct cv_cc_glue_priority {
	const char *pattern;
	int32_t priority;
};

struct cv_cc_glue_params {
	struct cv_bus *bus;	/* registrations in, engine events out */
	struct cv_store *store; /* optional: agent states, records, stats */
	const struct cv_cc_config *config; /* agents and queues */
	/* Engine settings (cv_cc_params): codes, miss_limit, miss_cooldown_ms,
	 * max_chain, max_callers, stats_period_ms; wheel, handlers, arg,
	 * store and bus are the glue's own. */
	struct cv_cc_params engine;
	const char *listen_addr; /* SIP and RTP address ["127.0.0.1"] */
	/* The server, numeric host: "sip:127.0.0.1:5060" (";transport=tcp"
	 * allowed). Agent and user legs go there. Required. */
	const char *server_uri;
	const char *auth_user;	   /* the internal user the server knows */
	const char *auth_password; /* (both required) */
	const char *sounds_dir;	   /* prompts; NULL: the build's share/sounds */
	const char *music_on_hold; /* default file; NULL: sounds_dir/moh.wav */
	uint16_t rtp_port_min, rtp_port_max; /* 0/0: rtp's default range */
	/* Queue announcements (cv_cc_queue_params.announce_ms) say the
	 * caller's position (true) or only "please hold" (false). */
	bool announce_position;
	/* Feature-code calls: answered, the confirmation prompt played, then
	 * BYE (true); false: answered 200 and BYE at once. */
	bool code_prompts;
	const struct cv_cc_glue_priority *priorities; /* copied */
	size_t npriorities;
};

/* Copies the parameters. The configuration is validated when the glue
 * starts (cv_cc_glue_start fills err). */
CV_API int cv_cc_glue_create(struct cv_cc_glue **gp,
			     const struct cv_cc_glue_params *p);
/* Opens the listener, starts the worker, builds and configures the engine
 * and subscribes to registrations. On a refused configuration returns
 * CV_ECONFIG (or the engine's error) with err filled. */
CV_API int cv_cc_glue_start(struct cv_cc_glue *g, struct cv_cc_cfg_err *err);
/* Ends every call (BYE/CANCEL/480), logs the figures, stops the worker. */
CV_API void cv_cc_glue_stop(struct cv_cc_glue *g);
CV_API void cv_cc_glue_destroy(struct cv_cc_glue *g);
/* The server's route hook (cv_srv_route_fn, arg = the glue): takes calls
 * to a queue name, and feature codes dialled by an agent. Thread-safe. */
CV_API int cv_cc_glue_route(void *arg, const char *user, const char *caller,
			    struct cv_srv_route *out);
/* Before start: the server whose registrar tells which agents are
 * registered (bindings reloaded from the database log their agents in at
 * start; each second, devices the registrar no longer has log out).
 * Without it the glue relies on registration events and the expiry they
 * carry. */
CV_API void cv_cc_glue_set_server(struct cv_cc_glue *g, struct cv_srv *srv);
/* The glue's SIP URI ("sip:127.0.0.1:PORT"), valid after start. */
CV_API const char *cv_cc_glue_uri(const struct cv_cc_glue *g);

#ifdef __cplusplus
}
#endif

#endif
