/* Call center engine internals. */
#ifndef CVOIP_CC_INT_H
#define CVOIP_CC_INT_H

#include "cvoip/callcenter.h"
#include "cvoip/runtime.h"

#define CC_MOD	 "cc"
#define CC_STEPS (CV_CC_RELAX_MAX + 1) /* step 0: strict requirements */

/* ---- indexed binary heap ----------------------------------------------------
 * Min-heap on (k1, k2); each node knows its index so removal from the
 * middle is O(log n). Used for every "who is next" set: waiting callers
 * per (queue, step) and available agents per (queue, step). */
struct cc_hn {
	uint64_t k1, k2;
	size_t idx; /* SIZE_MAX: not in a heap */
	void *owner;
};
struct cc_heap {
	struct cc_hn **v;
	size_t n, cap;
};
void cc_hn_init(struct cc_hn *h, void *owner);
int cc_heap_push(struct cc_heap *h, struct cc_hn *x);
void cc_heap_remove(struct cc_heap *h, struct cc_hn *x);
void cc_heap_free(struct cc_heap *h);
static inline struct cc_hn *cc_heap_min(const struct cc_heap *h)
{
	return h->n ? h->v[0] : NULL;
}
static inline bool cc_hn_in(const struct cc_hn *x)
{
	return x->idx != SIZE_MAX;
}
static inline bool cc_key_lt(uint64_t a1, uint64_t a2, uint64_t b1, uint64_t b2)
{
	return a1 < b1 || (a1 == b1 && a2 < b2);
}

/* ---- chained hash map ---------------------------------------------------
 * Keys are 64-bit: ids for callers/offers, cv_hash of the name for agents
 * and queues (names compared on lookup). Grows by doubling. */
struct cc_mn {
	struct cc_mn *next;
	uint64_t key;
};
struct cc_map {
	struct cc_mn **b;
	size_t nb, n;
};
int cc_map_put(struct cc_map *m, struct cc_mn *x);
void cc_map_del(struct cc_map *m, struct cc_mn *x);
struct cc_mn *cc_map_first(const struct cc_map *m, uint64_t key);
/* Further entries with the same key (name hash collisions). */
struct cc_mn *cc_map_next(const struct cc_mn *x, uint64_t key);
void cc_map_free(struct cc_map *m);

/* ---- objects ---------------------------------------------------------- */
struct cc_queue;
struct cc_agent;
struct cc_caller;

/* An agent's membership of a queue, with its nodes in the queue's
 * available-agent heaps (one per relaxation step). */
struct cc_member {
	struct cc_agent *a;
	struct cc_queue *q;
	uint32_t score;	     /* sum of required skill levels */
	bool qual[CC_STEPS]; /* qualified at step t */
	struct cc_hn hn[CC_STEPS];
	uint64_t last_offer; /* round-robin: engine offer sequence */
	uint64_t answered;   /* fewest-calls */
	uint64_t talk_us;    /* least-talk-time */
};

struct cc_agent {
	struct cc_mn mn;
	struct cv_cc *cc;
	char *name;
	uint32_t ord; /* creation order */
	uint32_t max_calls, wrapup_ms;
	size_t nskills;
	uint16_t skill_id[CV_CC_SKILLS_MAX];
	uint8_t skill_lvl[CV_CC_SKILLS_MAX];
	size_t nmem;
	struct cc_member **mem;
	/* state */
	uint32_t ndev;
	char *dev[CV_CC_DEVICES_MAX];
	bool paused;
	char *reason;
	uint32_t calls;
	struct cc_offer *offer;
	bool wrapping;
	bool cooling;
	struct cv_tmr wrap_tmr, cool_tmr;
	uint32_t misses;
	uint64_t idle_since; /* monotonic µs: last call end or login */
	enum cv_cc_agent_state state;
	uint64_t state_since;
	/* figures */
	uint64_t offered, answered, missed, talk_us, handle_us;
	uint64_t state_us[CV_CC_AGENT_STATE_COUNT];
};

struct cc_queue {
	struct cc_mn mn;
	struct cv_cc *cc;
	char *name;
	enum cv_cc_strategy strategy;
	size_t nreq;
	uint16_t req_id[CV_CC_SKILLS_MAX];
	uint8_t req_lvl[CV_CC_SKILLS_MAX];
	size_t nsteps; /* 1 + relaxation steps (skills-based) */
	uint32_t step_after_ms[CC_STEPS];
	uint8_t step_drop[CC_STEPS];
	bool step_any[CC_STEPS];
	uint32_t max_wait_ms, max_len, ring_timeout_ms, announce_ms, sl_ms;
	char *moh;
	char *overflow_text;
	struct cv_cc_target overflow; /* points into overflow_text */
	struct cc_queue *overflow_q;
	size_t nmem;
	struct cc_member **mem;
	struct cc_heap callers[CC_STEPS]; /* waiting callers per step */
	struct cc_heap agents[CC_STEPS];  /* offerable members per step */
	struct cc_caller *fifo_head, *fifo_tail; /* waiting+ringing, arrival */
	uint32_t nfifo;
	uint32_t logged_in;
	bool dirty;
	struct cc_queue *dirty_next;
	/* figures */
	uint64_t joined, offers, answered, abandoned, overflowed;
	uint64_t answered_in_sl, completed, wait_sum_us, handle_sum_us;
};

enum cc_caller_state { CC_WAITING = 0, CC_RINGING, CC_BRIDGED, CC_GONE };

struct cc_caller {
	struct cc_mn mn;
	struct cv_cc *cc;
	uint64_t id;
	char *call_id, *caller;
	int32_t priority;
	enum cc_caller_state st;
	struct cc_queue *q;
	struct cc_hn hn; /* in q->callers[step] while waiting */
	uint32_t step;
	bool front;   /* back at the head after a failed bridge */
	uint64_t seq; /* arrival order, engine-wide */
	struct cc_caller *fprev, *fnext; /* q fifo */
	uint64_t q_since;		 /* entered current queue (mono µs) */
	int64_t q_since_wall;
	uint64_t wait_start; /* waiting since (mono µs), for wait sums */
	uint64_t waited_us;  /* accumulated before a requeue */
	uint32_t chain;
	struct cc_offer *offers; /* ringing offers (ring-all: several) */
	uint32_t noffers;
	struct cc_agent *agent; /* bridged */
	uint64_t answer_at;
	int64_t answer_wall;
	bool in_sl;
	struct cv_tmr wait_tmr, ann_tmr, relax_tmr;
};

struct cc_offer {
	struct cc_mn mn;
	struct cv_cc *cc;
	uint64_t id;
	struct cc_caller *c; /* reference */
	struct cc_agent *a;
	struct cc_queue *q;
	struct cc_offer *cnext;
	struct cv_tmr ring_tmr;
};

/* Deferred actions (see "Re-entrancy" in the header). */
enum cc_act_kind {
	ACT_AGENT_STATE = 0,
	ACT_OFFER,
	ACT_OFFER_CANCEL,
	ACT_HOLD,
	ACT_ANNOUNCE,
	ACT_BRIDGE,
	ACT_OVERFLOW,
	ACT_HANGUP,
};
struct cc_act {
	struct cc_act *next;
	enum cc_act_kind kind;
	struct cc_caller *c; /* reference, or NULL */
	struct cc_agent *a;
	struct cc_queue *q;
	uint64_t offer_id;
	uint64_t wait_us;
	uint32_t position;
	enum cv_cc_agent_state old_st, new_st;
	uint32_t calls;
	char *text; /* reason, or file */
	struct cv_cc_target target;
	char *target_buf;
};

struct cv_cc {
	struct cv_wheel *wheel;
	struct cv_store *store;
	struct cv_bus *bus;
	const struct cv_cc_handlers *h;
	void *arg;
	const char *code[4]; /* feature codes (NULL: default) */
	char *code_buf[4];
	uint32_t miss_limit, cooldown_ms, max_chain, stats_period_ms;
	size_t max_callers;
	uint64_t rng;
	struct cc_map agents, queues, callers, offers;
	struct cc_agent **agent_list;
	size_t nagents;
	struct cc_queue **queue_list;
	size_t nqueues;
	char **skills;
	size_t nskills;
	uint64_t next_id, next_seq, next_offer_seq;
	unsigned depth;
	bool flushing;
	struct cc_act *act_head, *act_tail;
	struct cc_queue *dirty;
	struct cv_tmr stats_tmr;
	/* totals */
	uint64_t joined, answered, overflowed, abandoned, bridged;
};

/* engine.c / stats.c shared helpers */
uint64_t cc_wait_now(const struct cc_caller *c, uint64_t now);
void cc_stats_snapshot(struct cv_cc *cc);
/* Queued-call record of the caller's visit of its current queue. */
void cc_record(struct cv_cc *cc, const struct cc_caller *c, int outcome,
	       const char *target, uint64_t handle_us);
uint64_t cc_agent_state_us(const struct cc_agent *a, enum cv_cc_agent_state st,
			   uint64_t now);
struct cc_agent *cc_agent_find(const struct cv_cc *cc, const char *name);
struct cc_queue *cc_queue_find(const struct cv_cc *cc, const char *name);

#endif
