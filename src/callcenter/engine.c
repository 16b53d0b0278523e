/* Call center engine: agents, callers, offers and the routing decision.
 *
 * Routing invariant: when the outermost engine call returns, no queue has
 * both a waiting caller at step t and an offerable agent in its step-t
 * set (ring-all: any offerable member). Every event that can break it
 * (caller queued, agent offerable again, caller relaxed to the next step)
 * marks the queue dirty; dirty queues are dispatched before actions go
 * out. A decision is a heap peek per step plus O(log n) heap updates:
 * no scan of agents or callers. */
#include <stdlib.h>
#include <string.h>

#include "cc_int.h"
#include "cvoip/bus.h"
#include "cvoip/store.h"

/* ---- small helpers ------------------------------------------------------ */
static char *dupstr(const char *s)
{
	return strdup(s ? s : "");
}

static uint64_t rng_next(struct cv_cc *cc)
{
	/* xorshift64*: deterministic with a seed, enough for fair picks */
	uint64_t x = cc->rng;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	cc->rng = x;
	return x * 0x2545F4914F6CDD1DULL;
}

struct cc_agent *cc_agent_find(const struct cv_cc *cc, const char *name)
{
	if (!name)
		return NULL;
	uint64_t k = cv_hash(name, strlen(name));
	for (struct cc_mn *x = cc_map_first(&cc->agents, k); x;
	     x = cc_map_next(x, k)) {
		struct cc_agent *a = CV_CONTAINER_OF(x, struct cc_agent, mn);
		if (strcmp(a->name, name) == 0)
			return a;
	}
	return NULL;
}

struct cc_queue *cc_queue_find(const struct cv_cc *cc, const char *name)
{
	if (!name)
		return NULL;
	uint64_t k = cv_hash(name, strlen(name));
	for (struct cc_mn *x = cc_map_first(&cc->queues, k); x;
	     x = cc_map_next(x, k)) {
		struct cc_queue *q = CV_CONTAINER_OF(x, struct cc_queue, mn);
		if (strcmp(q->name, name) == 0)
			return q;
	}
	return NULL;
}

static struct cc_caller *caller_find(const struct cv_cc *cc, uint64_t id)
{
	struct cc_mn *x = cc_map_first(&cc->callers, id);
	return x ? CV_CONTAINER_OF(x, struct cc_caller, mn) : NULL;
}

static struct cc_offer *offer_find(const struct cv_cc *cc, uint64_t id)
{
	struct cc_mn *x = cc_map_first(&cc->offers, id);
	return x ? CV_CONTAINER_OF(x, struct cc_offer, mn) : NULL;
}

static struct cc_member *member_of(const struct cc_agent *a,
				   const struct cc_queue *q)
{
	for (size_t i = 0; i < a->nmem; i++)
		if (a->mem[i]->q == q)
			return a->mem[i];
	return NULL;
}

uint64_t cc_wait_now(const struct cc_caller *c, uint64_t now)
{
	if (c->st == CC_BRIDGED || c->st == CC_GONE)
		return c->waited_us;
	return c->waited_us + (now > c->wait_start ? now - c->wait_start : 0);
}

/* ---- deferred actions ---------------------------------------------------- */
static struct cc_act *act_new(struct cv_cc *cc, enum cc_act_kind kind,
			      struct cc_caller *c)
{
	struct cc_act *x = calloc(1, sizeof(*x));
	if (!x) {
		CV_LOG_RL(CV_LOG_ERROR, CC_MOD, "out of memory: action %d lost",
			  (int)kind);
		return NULL;
	}
	x->kind = kind;
	if (c) {
		x->c = cv_mem_ref(c);
		x->q = c->q;
		x->wait_us = cc_wait_now(c, cv_clock_us());
	}
	if (cc->act_tail)
		cc->act_tail->next = x;
	else
		cc->act_head = x;
	cc->act_tail = x;
	return x;
}

static void act_free(struct cc_act *x)
{
	if (x->c)
		cv_mem_unref(x->c);
	free(x->text);
	free(x->target_buf);
	free(x);
}

static void caller_view(const struct cc_act *x, struct cv_cc_caller_view *v)
{
	v->id = x->c->id;
	v->call_id = x->c->call_id;
	v->caller = x->c->caller;
	v->queue = x->q ? x->q->name : "";
	v->priority = x->c->priority;
	v->wait_us = x->wait_us;
}

static void offer_view(const struct cc_act *x, struct cv_cc_offer_view *v)
{
	v->id = x->offer_id;
	v->caller = x->c->id;
	v->call_id = x->c->call_id;
	v->caller_uri = x->c->caller;
	v->agent = x->a->name;
	v->queue = x->q->name;
	v->ring_timeout_ms = x->q->ring_timeout_ms;
}

static void act_deliver(struct cv_cc *cc, const struct cc_act *x)
{
	const struct cv_cc_handlers *h = cc->h;
	struct cv_cc_caller_view cv;
	struct cv_cc_offer_view ov;
	switch (x->kind) {
	case ACT_AGENT_STATE:
		if (h->agent_state) {
			struct cv_cc_agent_event ev = {
				.agent = x->a->name,
				.old_state = x->old_st,
				.new_state = x->new_st,
				.reason = x->text ? x->text : "",
				.calls = x->calls,
			};
			h->agent_state(cc, &ev, cc->arg);
		}
		break;
	case ACT_OFFER:
	case ACT_OFFER_CANCEL:
	case ACT_BRIDGE:
		offer_view(x, &ov);
		if (x->kind == ACT_OFFER && h->offer)
			h->offer(cc, &ov, cc->arg);
		else if (x->kind == ACT_OFFER_CANCEL && h->offer_cancel)
			h->offer_cancel(cc, &ov, cc->arg);
		else if (x->kind == ACT_BRIDGE && h->bridge)
			h->bridge(cc, &ov, cc->arg);
		break;
	case ACT_HOLD:
		caller_view(x, &cv);
		if (h->hold)
			h->hold(cc, &cv, x->text, cc->arg);
		break;
	case ACT_ANNOUNCE:
		caller_view(x, &cv);
		if (h->announce)
			h->announce(cc, &cv, x->position, cc->arg);
		break;
	case ACT_OVERFLOW:
		caller_view(x, &cv);
		if (h->overflow)
			h->overflow(cc, &cv, &x->target, cc->arg);
		break;
	case ACT_HANGUP:
		caller_view(x, &cv);
		if (h->hangup)
			h->hangup(cc, &cv, x->text ? x->text : "", cc->arg);
		break;
	}
}

/* ---- entering and leaving the engine ------------------------------------ */
static void dispatch(struct cv_cc *cc, struct cc_queue *q);

static void queue_dirty(struct cc_queue *q)
{
	if (q->dirty)
		return;
	q->dirty = true;
	q->dirty_next = q->cc->dirty;
	q->cc->dirty = q;
}

/* Key of the best waiting caller a queue could serve now, for ordering
 * dirty queues: callers of different queues compete by priority, then
 * arrival (seq is engine-wide). */
static bool queue_head(const struct cc_queue *q, uint64_t *k1, uint64_t *k2)
{
	bool any = false;
	for (size_t t = 0; t < q->nsteps; t++) {
		struct cc_hn *c = cc_heap_min(&q->callers[t]);
		if (!c || !q->agents[t].n)
			continue;
		if (!any || cc_key_lt(c->k1, c->k2, *k1, *k2)) {
			*k1 = c->k1;
			*k2 = c->k2;
			any = true;
		}
	}
	return any;
}

static void run_dirty(struct cv_cc *cc)
{
	while (cc->dirty) {
		struct cc_queue **pp, **bestp = NULL;
		uint64_t b1 = 0, b2 = 0;
		for (pp = &cc->dirty; *pp; pp = &(*pp)->dirty_next) {
			uint64_t k1 = 0, k2 = 0;
			if (queue_head(*pp, &k1, &k2) &&
			    (!bestp || cc_key_lt(k1, k2, b1, b2))) {
				bestp = pp;
				b1 = k1;
				b2 = k2;
			}
		}
		if (!bestp) {
			/* nothing to pair anywhere: clear the list */
			while (cc->dirty) {
				struct cc_queue *q = cc->dirty;
				cc->dirty = q->dirty_next;
				q->dirty = false;
				q->dirty_next = NULL;
			}
			break;
		}
		struct cc_queue *q = *bestp;
		*bestp = q->dirty_next;
		q->dirty = false;
		q->dirty_next = NULL;
		dispatch(cc, q);
	}
}

static void cc_enter(struct cv_cc *cc)
{
	cc->depth++;
}

static void cc_leave(struct cv_cc *cc)
{
	if (--cc->depth)
		return;
	run_dirty(cc);
	if (cc->flushing)
		return; /* a handler called in: the outer loop delivers */
	cc->flushing = true;
	struct cc_act *x;
	while ((x = cc->act_head)) {
		cc->act_head = x->next;
		if (!cc->act_head)
			cc->act_tail = NULL;
		act_deliver(cc, x);
		act_free(x);
	}
	cc->flushing = false;
}

/* ---- agents: state and availability ----------------------------------- */
static bool agent_offerable(const struct cc_agent *a)
{
	return a->ndev && !a->paused && !a->offer && !a->wrapping &&
	       !a->cooling && a->calls < a->max_calls;
}

static void member_key(const struct cc_member *m, uint64_t *k1, uint64_t *k2)
{
	const struct cc_agent *a = m->a;
	uint64_t ord = a->ord; /* configuration order breaks ties */
	switch (m->q->strategy) {
	case CV_CC_RING_ALL:
	case CV_CC_LONGEST_IDLE:
		*k1 = a->idle_since;
		*k2 = ord;
		break;
	case CV_CC_ROUND_ROBIN:
		*k1 = m->last_offer;
		*k2 = ord;
		break;
	case CV_CC_FEWEST_CALLS:
		*k1 = m->answered;
		*k2 = a->idle_since;
		break;
	case CV_CC_LEAST_TALK_TIME:
		*k1 = m->talk_us;
		*k2 = a->idle_since;
		break;
	case CV_CC_RANDOM: /* the pick is by index, see dispatch() */
		*k1 = ord;
		*k2 = 0;
		break;
	case CV_CC_SKILLS_BASED:
	default:
		/* best match first (highest sum of levels), then idle */
		*k1 = (uint64_t)(CV_CC_SKILLS_MAX * CV_CC_LEVEL_MAX) - m->score;
		*k2 = a->idle_since;
		break;
	}
}

/* Puts the agent into (or takes it out of) every available-agent heap it
 * belongs to, with fresh keys: O(memberships x steps x log n). */
static void agent_sync(struct cc_agent *a)
{
	bool off = agent_offerable(a);
	for (size_t i = 0; i < a->nmem; i++) {
		struct cc_member *m = a->mem[i];
		struct cc_queue *q = m->q;
		uint64_t k1, k2;
		member_key(m, &k1, &k2);
		for (size_t t = 0; t < q->nsteps; t++) {
			struct cc_hn *hn = &m->hn[t];
			bool want = off && m->qual[t];
			if (cc_hn_in(hn) &&
			    (!want || hn->k1 != k1 || hn->k2 != k2))
				cc_heap_remove(&q->agents[t], hn);
			if (want && !cc_hn_in(hn)) {
				hn->k1 = k1;
				hn->k2 = k2;
				if (cc_heap_push(&q->agents[t], hn))
					CV_LOG_RL(CV_LOG_ERROR, CC_MOD,
						  "out of memory: agent %s not "
						  "offerable in %s",
						  a->name, q->name);
			}
		}
		if (off)
			queue_dirty(q);
	}
}

static enum cv_cc_agent_state agent_derive(const struct cc_agent *a)
{
	if (a->offer)
		return CV_CC_AGENT_OFFERED;
	if (a->calls)
		return CV_CC_AGENT_ON_CALL;
	if (!a->ndev)
		return CV_CC_AGENT_LOGGED_OUT;
	if (a->wrapping)
		return CV_CC_AGENT_WRAP_UP;
	if (a->paused)
		return CV_CC_AGENT_PAUSED;
	return CV_CC_AGENT_AVAILABLE;
}

/* Recomputes the agent's state; a change is timed, emitted, persisted and
 * published. force: emit even when only the pause reason changed. */
static void agent_update(struct cc_agent *a, bool force)
{
	struct cv_cc *cc = a->cc;
	enum cv_cc_agent_state st = agent_derive(a);
	if (st != a->state || force) {
		uint64_t now = cv_clock_us();
		enum cv_cc_agent_state old = a->state;
		const char *reason =
			st == CV_CC_AGENT_PAUSED && a->reason ? a->reason : "";
		a->state_us[old] += now - a->state_since;
		a->state = st;
		a->state_since = now;
		struct cc_act *x = act_new(cc, ACT_AGENT_STATE, NULL);
		if (x) {
			x->a = a;
			x->old_st = old;
			x->new_st = st;
			x->calls = a->calls;
			x->text = dupstr(reason);
		}
		if (cc->store) {
			int err = cv_store_agent_set_state(
				cc->store, a->name,
				(enum cv_store_agent_state)st, reason,
				(int64_t)cv_clock_wall_us(), NULL);
			if (err)
				CV_LOG_RL(CV_LOG_WARN, CC_MOD,
					  "agent %s state not stored: %s",
					  a->name, cv_strerror(err));
		}
		if (cc->bus) {
			struct cv_bus_agent ev = {
				.agent_id = a->name,
				.old_state = cv_cc_agent_state_name(old),
				.new_state = cv_cc_agent_state_name(st),
				.reason = reason,
			};
			cv_bus_publish(cc->bus, CV_BUS_AGENT_STATE, &ev);
		}
		CV_DEBUG(CC_MOD, "agent %s %s -> %s%s%s", a->name,
			 cv_cc_agent_state_name(old),
			 cv_cc_agent_state_name(st), *reason ? " " : "",
			 reason);
	}
	agent_sync(a);
}

static void tmr_cool(struct cv_tmr *t, void *arg)
{
	struct cc_agent *a = arg;
	cc_enter(a->cc);
	a->cooling = false;
	agent_update(a, false);
	cc_leave(a->cc);
}

static void tmr_wrap(struct cv_tmr *t, void *arg)
{
	struct cc_agent *a = arg;
	cc_enter(a->cc);
	a->wrapping = false;
	a->idle_since = cv_clock_us();
	agent_update(a, false);
	cc_leave(a->cc);
}

static void agent_set_reason(struct cc_agent *a, const char *reason)
{
	char *r = dupstr(reason);
	if (!r)
		return; /* keeps the old reason */
	free(a->reason);
	a->reason = r;
}

/* ---- queue events on the bus -------------------------------------------- */
static void publish_queue(struct cv_cc *cc, enum cv_bus_type type,
			  const struct cc_caller *c, const char *agent,
			  const char *target, const char *reason)
{
	if (!cc->bus)
		return;
	struct cv_bus_queue ev = {
		.queue = c->q ? c->q->name : NULL,
		.call_id = c->call_id,
		.caller = c->caller,
		.agent_id = agent,
		.target = target,
		.reason = reason,
		.position = 0,
		.wait_ms = cc_wait_now(c, cv_clock_us()) / 1000,
	};
	cv_bus_publish(cc->bus, type, &ev);
}

/* ---- callers in queues ----------------------------------------------------
 */
static void caller_key(struct cc_caller *c)
{
	/* front (failed bridge) first, then priority (higher first), then
	 * arrival; all three in two 64-bit words. */
	c->hn.k1 = ((uint64_t)(c->front ? 0 : 1) << 40) |
		   (uint64_t)((int64_t)INT32_MAX - (int64_t)c->priority);
	c->hn.k2 = c->seq;
}

static void caller_heap_push(struct cc_caller *c)
{
	struct cc_queue *q = c->q;
	if (cc_heap_push(&q->callers[c->step], &c->hn))
		CV_LOG_RL(CV_LOG_ERROR, CC_MOD,
			  "out of memory: caller %llu not routable",
			  (unsigned long long)c->id);
	queue_dirty(q);
}

static void fifo_unlink(struct cc_caller *c)
{
	struct cc_queue *q = c->q;
	if (c->fprev)
		c->fprev->fnext = c->fnext;
	else if (q->fifo_head == c)
		q->fifo_head = c->fnext;
	else
		return; /* not linked */
	if (c->fnext)
		c->fnext->fprev = c->fprev;
	else
		q->fifo_tail = c->fprev;
	c->fprev = c->fnext = NULL;
	q->nfifo--;
}

static void fifo_link(struct cc_caller *c, bool front)
{
	struct cc_queue *q = c->q;
	if (front) {
		c->fprev = NULL;
		c->fnext = q->fifo_head;
		if (q->fifo_head)
			q->fifo_head->fprev = c;
		else
			q->fifo_tail = c;
		q->fifo_head = c;
	} else {
		c->fnext = NULL;
		c->fprev = q->fifo_tail;
		if (q->fifo_tail)
			q->fifo_tail->fnext = c;
		else
			q->fifo_head = c;
		q->fifo_tail = c;
	}
	q->nfifo++;
}

static void offer_cancel(struct cc_offer *o, bool notify);

/* Takes the caller out of its queue's structures (heap, fifo, timers,
 * offers). Offers are cancelled without counting a miss. */
static void queue_remove(struct cc_caller *c)
{
	struct cc_queue *q = c->q;
	if (c->st == CC_RINGING)
		c->st = CC_WAITING; /* so that no cancel puts it back */
	while (c->offers)
		offer_cancel(c->offers, true);
	if (cc_hn_in(&c->hn))
		cc_heap_remove(&q->callers[c->step], &c->hn);
	fifo_unlink(c);
	cv_tmr_cancel(&c->wait_tmr);
	cv_tmr_cancel(&c->ann_tmr);
	cv_tmr_cancel(&c->relax_tmr);
}

static void caller_free(struct cc_caller *c)
{
	struct cv_cc *cc = c->cc;
	cc_map_del(&cc->callers, &c->mn);
	c->st = CC_GONE;
	cv_mem_unref(c);
}

static void tmr_wait(struct cv_tmr *t, void *arg);
static void tmr_ann(struct cv_tmr *t, void *arg);
static void tmr_relax(struct cv_tmr *t, void *arg);
static void caller_overflow(struct cc_caller *c, const char *reason);

static void relax_arm(struct cc_caller *c)
{
	struct cc_queue *q = c->q;
	if (c->step + 1 >= q->nsteps)
		return;
	uint64_t due =
		c->q_since + (uint64_t)q->step_after_ms[c->step + 1] * 1000;
	uint64_t now = cv_clock_us();
	cv_tmr_start(c->cc->wheel, &c->relax_tmr, due > now ? due - now : 0,
		     tmr_relax, c);
}

/* The caller waits in q: heap, fifo, timers, hold music. */
static void queue_wait(struct cc_caller *c, bool front)
{
	struct cc_queue *q = c->q;
	struct cv_cc *cc = c->cc;
	c->st = CC_WAITING;
	c->front = front;
	c->wait_start = cv_clock_us();
	caller_key(c);
	fifo_link(c, front);
	caller_heap_push(c);
	if (q->max_wait_ms)
		cv_tmr_start(cc->wheel, &c->wait_tmr,
			     (uint64_t)q->max_wait_ms * 1000, tmr_wait, c);
	if (q->announce_ms)
		cv_tmr_start(cc->wheel, &c->ann_tmr,
			     (uint64_t)q->announce_ms * 1000, tmr_ann, c);
	relax_arm(c);
	struct cc_act *x = act_new(cc, ACT_HOLD, c);
	if (x && q->moh)
		x->text = dupstr(q->moh);
}

/* The caller enters q (first join or overflow from another queue). */
static void queue_join(struct cc_caller *c, struct cc_queue *q)
{
	c->q = q;
	c->step = 0;
	c->q_since = cv_clock_us();
	c->q_since_wall = (int64_t)cv_clock_wall_us();
	c->wait_start = c->q_since;
	c->waited_us = 0;
	q->joined++;
	publish_queue(c->cc, CV_BUS_QUEUE_JOINED, c, NULL, NULL, NULL);
	if (!q->logged_in) {
		caller_overflow(c, "no agents");
		return;
	}
	if (q->nfifo >= q->max_len) {
		caller_overflow(c, "queue full");
		return;
	}
	queue_wait(c, false);
}

/* Closes the caller's visit of its queue as overflowed and sends it to the
 * queue's target: another queue (bounded by max_chain) or out of the
 * engine. */
static void caller_overflow(struct cc_caller *c, const char *reason)
{
	struct cv_cc *cc = c->cc;
	struct cc_queue *q = c->q;
	queue_remove(c);
	q->overflowed++;
	cc_record(cc, c, CV_STORE_OUTCOME_OVERFLOWED, q->overflow.text, 0);
	publish_queue(cc, CV_BUS_QUEUE_OVERFLOWED, c, NULL, q->overflow.text,
		      reason);
	CV_DEBUG(CC_MOD, "caller %llu overflows %s (%s) to '%s'",
		 (unsigned long long)c->id, q->name, reason, q->overflow.text);
	const char *hangup_reason = NULL;
	if (q->overflow.kind == CV_CC_TARGET_QUEUE) {
		if (c->chain < cc->max_chain) {
			c->chain++;
			queue_join(c, q->overflow_q);
			return;
		}
		CV_LOG_RL(CV_LOG_WARN, CC_MOD,
			  "caller %llu: overflow chain too long at %s",
			  (unsigned long long)c->id, q->name);
		hangup_reason = "overflow chain too long";
	} else if (q->overflow.kind == CV_CC_TARGET_HANGUP) {
		hangup_reason = reason;
	}
	cc->overflowed++;
	struct cc_act *x =
		act_new(cc, hangup_reason ? ACT_HANGUP : ACT_OVERFLOW, c);
	if (x && hangup_reason) {
		x->text = dupstr(hangup_reason);
	} else if (x) {
		/* the action owns a copy: queues live as long as the engine,
		 * but keep the action self-contained anyway */
		x->target_buf = dupstr(q->overflow.text);
		if (!x->target_buf ||
		    cv_cc_target_parse(x->target_buf, &x->target))
			x->target = q->overflow;
	}
	caller_free(c);
}

static void tmr_wait(struct cv_tmr *t, void *arg)
{
	struct cc_caller *c = arg;
	struct cv_cc *cc = c->cc;
	cc_enter(cc);
	caller_overflow(c, "max wait");
	cc_leave(cc);
}

static uint32_t caller_position(const struct cc_caller *c)
{
	uint32_t pos = 1;
	for (const struct cc_caller *o = c->q->fifo_head; o; o = o->fnext)
		if (o != c && cc_key_lt(o->hn.k1, o->hn.k2, c->hn.k1, c->hn.k2))
			pos++;
	return pos;
}

static void tmr_ann(struct cv_tmr *t, void *arg)
{
	struct cc_caller *c = arg;
	struct cv_cc *cc = c->cc;
	cc_enter(cc);
	struct cc_act *x = act_new(cc, ACT_ANNOUNCE, c);
	if (x)
		x->position = caller_position(c);
	cv_tmr_start(cc->wheel, &c->ann_tmr, (uint64_t)c->q->announce_ms * 1000,
		     tmr_ann, c);
	cc_leave(cc);
}

static void tmr_relax(struct cv_tmr *t, void *arg)
{
	struct cc_caller *c = arg;
	struct cv_cc *cc = c->cc;
	cc_enter(cc);
	bool in = cc_hn_in(&c->hn);
	if (in)
		cc_heap_remove(&c->q->callers[c->step], &c->hn);
	c->step++;
	if (in)
		caller_heap_push(c);
	relax_arm(c);
	cc_leave(cc);
}

/* ---- offers -------------------------------------------------------------- */
static void offer_dtor(void *p)
{
	struct cc_offer *o = p;
	if (o->c)
		cv_mem_unref(o->c);
}

static void tmr_ring(struct cv_tmr *t, void *arg);

static void offer_make(struct cc_queue *q, struct cc_caller *c,
		       struct cc_agent *a)
{
	struct cv_cc *cc = q->cc;
	struct cc_offer *o = cv_mem_zalloc(sizeof(*o), offer_dtor);
	if (!o) {
		CV_LOG_RL(CV_LOG_ERROR, CC_MOD, "out of memory: no offer");
		return;
	}
	o->cc = cc;
	o->id = ++cc->next_id;
	o->mn.key = o->id;
	if (cc_map_put(&cc->offers, &o->mn)) {
		cv_mem_unref(o);
		CV_LOG_RL(CV_LOG_ERROR, CC_MOD, "out of memory: no offer");
		return;
	}
	o->c = cv_mem_ref(c);
	o->a = a;
	o->q = q;
	o->cnext = c->offers;
	c->offers = o;
	c->noffers++;
	a->offer = o;
	a->offered++;
	q->offers++;
	struct cc_member *m = member_of(a, q);
	if (m)
		m->last_offer = ++cc->next_offer_seq;
	cv_tmr_init(&o->ring_tmr);
	cv_tmr_start(cc->wheel, &o->ring_tmr,
		     (uint64_t)q->ring_timeout_ms * 1000, tmr_ring, o);
	if (cc_hn_in(&c->hn))
		cc_heap_remove(&q->callers[c->step], &c->hn);
	c->st = CC_RINGING;
	struct cc_act *x = act_new(cc, ACT_OFFER, c);
	if (x) {
		x->offer_id = o->id;
		x->a = a;
		x->q = q;
	}
	agent_update(a, false);
}

/* Unlinks an offer from its caller, agent, map and timer; drops the
 * engine's reference (the caller must hold its own if it still uses o). */
static void offer_detach(struct cc_offer *o)
{
	struct cv_cc *cc = o->cc;
	struct cc_caller *c = o->c;
	cc_map_del(&cc->offers, &o->mn);
	cv_tmr_cancel(&o->ring_tmr);
	for (struct cc_offer **pp = &c->offers; *pp; pp = &(*pp)->cnext) {
		if (*pp == o) {
			*pp = o->cnext;
			c->noffers--;
			break;
		}
	}
	o->cnext = NULL;
	if (o->a->offer == o)
		o->a->offer = NULL;
}

/* A ringing caller whose last offer went away waits again, in its old
 * place (its key is unchanged). */
static void caller_offers_gone(struct cc_caller *c)
{
	if (c->st == CC_RINGING && !c->noffers) {
		c->st = CC_WAITING;
		caller_heap_push(c);
	}
}

static void offer_cancel(struct cc_offer *o, bool notify)
{
	struct cv_cc *cc = o->cc;
	if (notify) {
		struct cc_act *x = act_new(cc, ACT_OFFER_CANCEL, o->c);
		if (x) {
			x->offer_id = o->id;
			x->a = o->a;
			x->q = o->q;
		}
	}
	struct cc_agent *a = o->a;
	struct cc_caller *c = o->c;
	offer_detach(o);
	agent_update(a, false);
	caller_offers_gone(c);
	cv_mem_unref(o);
}

static void offer_miss(struct cc_offer *o)
{
	struct cv_cc *cc = o->cc;
	struct cc_agent *a = o->a;
	struct cc_caller *c = o->c;
	offer_detach(o);
	a->missed++;
	a->misses++;
	if (a->paused) {
		/* paused while ringing: keep the agent's own reason */
	} else if (a->ndev && cc->miss_limit != UINT32_MAX &&
		   a->misses >= cc->miss_limit) {
		a->paused = true;
		agent_set_reason(a, "missed calls");
		CV_INFO(CC_MOD, "agent %s paused after %u missed offers",
			a->name, a->misses);
	} else {
		a->cooling = true;
		cv_tmr_start(cc->wheel, &a->cool_tmr,
			     (uint64_t)cc->cooldown_ms * 1000, tmr_cool, a);
	}
	agent_update(a, false);
	caller_offers_gone(c);
	cv_mem_unref(o);
}

static void tmr_ring(struct cv_tmr *t, void *arg)
{
	struct cc_offer *o = arg;
	struct cv_cc *cc = o->cc;
	cc_enter(cc);
	struct cc_act *x = act_new(cc, ACT_OFFER_CANCEL, o->c);
	if (x) {
		x->offer_id = o->id;
		x->a = o->a;
		x->q = o->q;
	}
	offer_miss(o);
	cc_leave(cc);
}

static void offer_answer(struct cc_offer *o)
{
	struct cv_cc *cc = o->cc;
	struct cc_caller *c = cv_mem_ref(o->c);
	struct cc_agent *a = o->a;
	struct cc_queue *q = o->q;
	uint64_t now = cv_clock_us();
	uint64_t oid = o->id;
	c->waited_us = cc_wait_now(c, now);
	c->st = CC_BRIDGED;
	offer_detach(o);
	cv_mem_unref(o);
	/* ring-all: the others stop ringing, no miss for them */
	while (c->offers)
		offer_cancel(c->offers, true);
	c->agent = a;
	c->answer_at = now;
	c->answer_wall = (int64_t)cv_clock_wall_us();
	fifo_unlink(c);
	cv_tmr_cancel(&c->wait_tmr);
	cv_tmr_cancel(&c->ann_tmr);
	cv_tmr_cancel(&c->relax_tmr);
	a->calls++;
	a->misses = 0;
	a->answered++;
	a->idle_since = now;
	struct cc_member *m = member_of(a, q);
	if (m)
		m->answered++;
	q->answered++;
	q->wait_sum_us += c->waited_us;
	c->in_sl = c->waited_us <= (uint64_t)q->sl_ms * 1000;
	if (c->in_sl)
		q->answered_in_sl++;
	cc->answered++;
	cc->bridged++;
	struct cc_act *x = act_new(cc, ACT_BRIDGE, c);
	if (x) {
		x->offer_id = oid;
		x->a = a;
		x->q = q;
	}
	publish_queue(cc, CV_BUS_QUEUE_LEFT, c, a->name, NULL, "answered");
	agent_update(a, false);
	cv_mem_unref(c);
}

int cv_cc_offer_result(struct cv_cc *cc, uint64_t id, enum cv_cc_offer_res res)
{
	if (!cc || (unsigned)res > CV_CC_OFFER_FAILED)
		return -EINVAL;
	struct cc_offer *o = offer_find(cc, id);
	if (!o)
		return CV_ENOTFOUND;
	cc_enter(cc);
	if (res == CV_CC_OFFER_ANSWERED)
		offer_answer(o);
	else
		offer_miss(o);
	cc_leave(cc);
	return 0;
}

/* ---- the decision ---------------------------------------------------------
 * Best caller: the smallest key among the heads of the step heaps that have
 * an offerable agent at that step. Best agent: the head of that step's
 * agent heap (ring-all: every offerable member). */
static void dispatch(struct cv_cc *cc, struct cc_queue *q)
{
	for (;;) {
		struct cc_hn *best = NULL;
		size_t bt = 0;
		for (size_t t = 0; t < q->nsteps; t++) {
			struct cc_hn *h = cc_heap_min(&q->callers[t]);
			if (!h || !q->agents[t].n)
				continue;
			if (!best ||
			    cc_key_lt(h->k1, h->k2, best->k1, best->k2)) {
				best = h;
				bt = t;
			}
		}
		if (!best)
			return;
		struct cc_caller *c = best->owner;
		if (q->strategy == CV_CC_RING_ALL) {
			/* offer_make() removes each agent from the heap */
			size_t n = q->agents[0].n;
			while (n-- && q->agents[0].n) {
				struct cc_member *m = q->agents[0].v[0]->owner;
				offer_make(q, c, m->a);
			}
		} else if (q->strategy == CV_CC_RANDOM) {
			/* the heap array holds exactly the offerable members:
			 * a uniform index is a uniform pick, O(1) */
			struct cc_heap *h = &q->agents[bt];
			struct cc_member *m = h->v[rng_next(cc) % h->n]->owner;
			offer_make(q, c, m->a);
		} else {
			struct cc_member *m =
				cc_heap_min(&q->agents[bt])->owner;
			offer_make(q, c, m->a);
		}
		if (c->st == CC_WAITING)
			return; /* could not offer (out of memory): stop */
	}
}

/* ---- caller inputs ------------------------------------------------------- */
static void caller_dtor(void *p)
{
	struct cc_caller *c = p;
	free(c->call_id);
	free(c->caller);
}

int cv_cc_caller_join(struct cv_cc *cc, const struct cv_cc_join *j,
		      uint64_t *idp)
{
	if (!cc || !j || !idp)
		return -EINVAL;
	struct cc_queue *q = cc_queue_find(cc, j->queue);
	if (!q)
		return CV_ENOTFOUND;
	if ((j->call_id && strlen(j->call_id) > CV_CC_TEXT_MAX) ||
	    (j->caller && strlen(j->caller) > CV_CC_TEXT_MAX))
		return CV_ETOOBIG;
	if (cc->callers.n >= cc->max_callers)
		return CV_EFULL;
	struct cc_caller *c = cv_mem_zalloc(sizeof(*c), caller_dtor);
	if (!c)
		return -ENOMEM;
	c->cc = cc;
	c->call_id = dupstr(j->call_id);
	c->caller = dupstr(j->caller);
	c->id = ++cc->next_id;
	c->mn.key = c->id;
	c->priority = j->priority;
	c->seq = ++cc->next_seq;
	cc_hn_init(&c->hn, c);
	cv_tmr_init(&c->wait_tmr);
	cv_tmr_init(&c->ann_tmr);
	cv_tmr_init(&c->relax_tmr);
	if (!c->call_id || !c->caller || cc_map_put(&cc->callers, &c->mn)) {
		cv_mem_unref(c);
		return -ENOMEM;
	}
	*idp = c->id;
	cc_enter(cc);
	cc->joined++;
	queue_join(c, q);
	cc_leave(cc);
	return 0;
}

int cv_cc_caller_hangup(struct cv_cc *cc, uint64_t id)
{
	if (!cc)
		return -EINVAL;
	struct cc_caller *c = caller_find(cc, id);
	if (!c)
		return CV_ENOTFOUND;
	cc_enter(cc);
	struct cc_queue *q = c->q;
	if (c->st != CC_BRIDGED) {
		queue_remove(c);
		c->waited_us = cc_wait_now(c, cv_clock_us());
		c->st = CC_GONE; /* wait is final */
		q->abandoned++;
		cc->abandoned++;
		cc_record(cc, c, CV_STORE_OUTCOME_ABANDONED, "", 0);
		publish_queue(cc, CV_BUS_QUEUE_ABANDONED, c, NULL, NULL,
			      "caller hung up");
	} else {
		struct cc_agent *a = c->agent;
		uint64_t now = cv_clock_us();
		uint64_t talk = now - c->answer_at;
		bool wrap = a->ndev && a->wrapup_ms;
		uint64_t handle =
			talk + (wrap ? (uint64_t)a->wrapup_ms * 1000 : 0);
		a->calls--;
		a->talk_us += talk;
		a->handle_us += handle;
		a->idle_since = now;
		struct cc_member *m = member_of(a, q);
		if (m)
			m->talk_us += talk;
		q->completed++;
		q->handle_sum_us += handle;
		cc->bridged--;
		cc_record(cc, c, CV_STORE_OUTCOME_ANSWERED, "", handle);
		if (wrap) {
			a->wrapping = true;
			cv_tmr_start(cc->wheel, &a->wrap_tmr,
				     (uint64_t)a->wrapup_ms * 1000, tmr_wrap,
				     a);
		}
		c->agent = NULL;
		agent_update(a, false);
	}
	caller_free(c);
	cc_leave(cc);
	return 0;
}

int cv_cc_bridge_failed(struct cv_cc *cc, uint64_t id)
{
	if (!cc)
		return -EINVAL;
	struct cc_caller *c = caller_find(cc, id);
	if (!c)
		return CV_ENOTFOUND;
	if (c->st != CC_BRIDGED)
		return -EINVAL;
	cc_enter(cc);
	struct cc_agent *a = c->agent;
	struct cc_queue *q = c->q;
	/* the answer did not hold: take it back from the figures */
	a->calls--;
	a->answered--;
	a->idle_since = cv_clock_us();
	struct cc_member *m = member_of(a, q);
	if (m && m->answered)
		m->answered--;
	q->answered--;
	q->wait_sum_us -= c->waited_us;
	if (c->in_sl)
		q->answered_in_sl--;
	c->in_sl = false;
	cc->answered--;
	cc->bridged--;
	c->agent = NULL;
	agent_update(a, false);
	CV_INFO(CC_MOD,
		"caller %llu: agent %s leg failed, back to the head "
		"of %s",
		(unsigned long long)c->id, a->name, q->name);
	if (q->logged_in)
		queue_wait(c, true);
	else
		caller_overflow(c, "no agents"); /* nobody left to take it */
	cc_leave(cc);
	return 0;
}

/* ---- agent inputs -------------------------------------------------------- */
static void queue_emptied(struct cc_queue *q)
{
	/* Nobody left to answer: every waiting caller goes to the target
	 * (bounded by max_len). */
	while (q->fifo_head)
		caller_overflow(q->fifo_head, "no agents");
}

int cv_cc_agent_login(struct cv_cc *cc, const char *name, const char *device)
{
	if (!cc)
		return -EINVAL;
	struct cc_agent *a = cc_agent_find(cc, name);
	if (!a)
		return CV_ENOTFOUND;
	const char *dev = device ? device : "*";
	if (strlen(dev) > CV_CC_TEXT_MAX)
		return CV_ETOOBIG;
	for (uint32_t i = 0; i < a->ndev; i++)
		if (strcmp(a->dev[i], dev) == 0)
			return 0; /* a refresh of the same registration */
	if (a->ndev >= CV_CC_DEVICES_MAX)
		return CV_ETOOBIG;
	char *d = strdup(dev);
	if (!d)
		return -ENOMEM;
	cc_enter(cc);
	a->dev[a->ndev++] = d;
	if (a->ndev == 1) {
		a->idle_since = cv_clock_us();
		a->misses = 0;
		for (size_t i = 0; i < a->nmem; i++)
			a->mem[i]->q->logged_in++;
	}
	agent_update(a, false);
	cc_leave(cc);
	return 0;
}

int cv_cc_agent_logout(struct cv_cc *cc, const char *name, const char *device)
{
	if (!cc)
		return -EINVAL;
	struct cc_agent *a = cc_agent_find(cc, name);
	if (!a)
		return CV_ENOTFOUND;
	if (!a->ndev)
		return 0;
	if (device) {
		uint32_t i;
		for (i = 0; i < a->ndev; i++)
			if (strcmp(a->dev[i], device) == 0)
				break;
		if (i == a->ndev)
			return CV_ENOTFOUND;
		free(a->dev[i]);
		a->dev[i] = a->dev[--a->ndev];
		a->dev[a->ndev] = NULL;
		if (a->ndev)
			return 0; /* another device is still registered */
	} else {
		while (a->ndev) {
			free(a->dev[--a->ndev]);
			a->dev[a->ndev] = NULL;
		}
	}
	cc_enter(cc);
	if (a->offer)
		offer_cancel(a->offer, true);
	cv_tmr_cancel(&a->wrap_tmr);
	cv_tmr_cancel(&a->cool_tmr);
	a->wrapping = false;
	a->cooling = false;
	a->paused = false;
	a->misses = 0;
	agent_update(a, false);
	for (size_t i = 0; i < a->nmem; i++) {
		struct cc_queue *q = a->mem[i]->q;
		if (--q->logged_in == 0)
			queue_emptied(q);
	}
	cc_leave(cc);
	return 0;
}

int cv_cc_agent_pause(struct cv_cc *cc, const char *name, const char *reason)
{
	if (!cc)
		return -EINVAL;
	struct cc_agent *a = cc_agent_find(cc, name);
	if (!a)
		return CV_ENOTFOUND;
	if (!a->ndev)
		return CV_ECLOSED;
	if (!reason)
		reason = "paused";
	if (strlen(reason) > CV_CC_NAME_MAX)
		return CV_ETOOBIG;
	bool changed = !a->paused || !a->reason || strcmp(a->reason, reason);
	cc_enter(cc);
	a->paused = true;
	agent_set_reason(a, reason);
	agent_update(a, changed && agent_derive(a) == CV_CC_AGENT_PAUSED);
	cc_leave(cc);
	return 0;
}

int cv_cc_agent_resume(struct cv_cc *cc, const char *name)
{
	if (!cc)
		return -EINVAL;
	struct cc_agent *a = cc_agent_find(cc, name);
	if (!a)
		return CV_ENOTFOUND;
	if (!a->ndev)
		return CV_ECLOSED;
	cc_enter(cc);
	a->paused = false;
	a->misses = 0;
	agent_update(a, false);
	cc_leave(cc);
	return 0;
}

int cv_cc_agent_op(struct cv_cc *cc, const char *agent, enum cv_cc_op op)
{
	switch (op) {
	case CV_CC_OP_LOGIN:
		return cv_cc_agent_login(cc, agent, NULL);
	case CV_CC_OP_LOGOUT:
		return cv_cc_agent_logout(cc, agent, NULL);
	case CV_CC_OP_PAUSE:
		return cv_cc_agent_pause(cc, agent, "feature code");
	case CV_CC_OP_RESUME:
		return cv_cc_agent_resume(cc, agent);
	}
	return -EINVAL;
}

int cv_cc_agent_dial(struct cv_cc *cc, const char *agent, const char *dialled)
{
	if (!cc || !dialled)
		return -EINVAL;
	const struct cv_cc_codes codes = {cc->code[0], cc->code[1], cc->code[2],
					  cc->code[3]};
	enum cv_cc_op op;
	int err = cv_cc_code_parse(&codes, dialled, &op);
	return err ? err : cv_cc_agent_op(cc, agent, op);
}

/* ---- reading ------------------------------------------------------------- */
int cv_cc_caller_get(struct cv_cc *cc, uint64_t id,
		     struct cv_cc_caller_info *out)
{
	if (!cc || !out)
		return -EINVAL;
	struct cc_caller *c = caller_find(cc, id);
	if (!c)
		return CV_ENOTFOUND;
	memset(out, 0, sizeof(*out));
	out->state = c->st == CC_BRIDGED   ? CV_CC_CALLER_BRIDGED
		     : c->st == CC_RINGING ? CV_CC_CALLER_RINGING
					   : CV_CC_CALLER_WAITING;
	out->queue = c->q->name;
	out->agent = c->agent ? c->agent->name : NULL;
	out->position = c->st == CC_BRIDGED ? 0 : caller_position(c);
	out->chain = c->chain;
	out->wait_us = cc_wait_now(c, cv_clock_us());
	return 0;
}

void cv_cc_totals(const struct cv_cc *cc, struct cv_cc_totals *out)
{
	memset(out, 0, sizeof(*out));
	if (!cc)
		return;
	out->joined = cc->joined;
	out->answered = cc->answered;
	out->overflowed = cc->overflowed;
	out->abandoned = cc->abandoned;
	out->in_progress = cc->callers.n - cc->bridged;
	out->bridged = cc->bridged;
}

/* ---- create / destroy ------------------------------------------------------
 */
static void tmr_stats(struct cv_tmr *t, void *arg)
{
	struct cv_cc *cc = arg;
	cc_stats_snapshot(cc);
	cv_tmr_start(cc->wheel, &cc->stats_tmr,
		     (uint64_t)cc->stats_period_ms * 1000, tmr_stats, cc);
}

int cv_cc_create(struct cv_cc **ccp, const struct cv_cc_params *p)
{
	if (!ccp || !p || !p->wheel || !p->handlers)
		return -EINVAL;
	struct cv_cc *cc = calloc(1, sizeof(*cc));
	if (!cc)
		return -ENOMEM;
	cc->wheel = p->wheel;
	cc->store = p->store;
	cc->bus = p->bus;
	cc->h = p->handlers;
	cc->arg = p->arg;
	const char *codes[4] = {p->codes.login, p->codes.logout, p->codes.pause,
				p->codes.resume};
	static const char *const defaults[4] = {"*20", "*21", "*22", "*23"};
	for (int i = 0; i < 4; i++) {
		const char *c = codes[i] ? codes[i] : defaults[i];
		bool dup = false;
		for (int k = 0; k < i; k++)
			dup |= strcmp(cc->code[k], c) == 0;
		if (!*c || strlen(c) > 32 || dup ||
		    !(cc->code_buf[i] = strdup(c))) {
			for (int k = 0; k < i; k++)
				free(cc->code_buf[k]);
			free(cc);
			return -EINVAL; /* empty, long, duplicate, or ENOMEM */
		}
		cc->code[i] = cc->code_buf[i];
	}
	cc->miss_limit = p->miss_limit ? p->miss_limit : 3;
	cc->cooldown_ms = p->miss_cooldown_ms ? p->miss_cooldown_ms : 2000;
	cc->max_chain = p->max_chain ? p->max_chain : 4;
	cc->max_callers = p->max_callers ? p->max_callers : 100000;
	cc->stats_period_ms = p->stats_period_ms;
	cc->rng = p->seed ? p->seed
			  : ((uint64_t)cv_random_u32() << 32 | cv_random_u32() |
			     1);
	cv_tmr_init(&cc->stats_tmr);
	if (cc->store && cc->stats_period_ms)
		cv_tmr_start(cc->wheel, &cc->stats_tmr,
			     (uint64_t)cc->stats_period_ms * 1000, tmr_stats,
			     cc);
	*ccp = cc;
	return 0;
}

static void queue_free(struct cc_queue *q)
{
	for (size_t t = 0; t < CC_STEPS; t++) {
		cc_heap_free(&q->callers[t]);
		cc_heap_free(&q->agents[t]);
	}
	free(q->mem);
	free(q->name);
	free(q->moh);
	free(q->overflow_text);
	free(q);
}

static void agent_free(struct cc_agent *a)
{
	cv_tmr_cancel(&a->wrap_tmr);
	cv_tmr_cancel(&a->cool_tmr);
	for (size_t i = 0; i < a->nmem; i++)
		free(a->mem[i]);
	free(a->mem);
	for (uint32_t i = 0; i < a->ndev; i++)
		free(a->dev[i]);
	free(a->reason);
	free(a->name);
	free(a);
}

void cv_cc_destroy(struct cv_cc *cc)
{
	if (!cc)
		return;
	cv_tmr_cancel(&cc->stats_tmr);
	/* callers and their offers: no handler fires */
	for (size_t i = 0; i < cc->offers.nb; i++) {
		while (cc->offers.b[i]) {
			struct cc_offer *o = CV_CONTAINER_OF(
				cc->offers.b[i], struct cc_offer, mn);
			offer_detach(o);
			cv_mem_unref(o);
		}
	}
	for (size_t i = 0; i < cc->callers.nb; i++) {
		while (cc->callers.b[i]) {
			struct cc_caller *c = CV_CONTAINER_OF(
				cc->callers.b[i], struct cc_caller, mn);
			cv_tmr_cancel(&c->wait_tmr);
			cv_tmr_cancel(&c->ann_tmr);
			cv_tmr_cancel(&c->relax_tmr);
			cc_map_del(&cc->callers, &c->mn);
			cv_mem_unref(c);
		}
	}
	struct cc_act *x;
	while ((x = cc->act_head)) {
		cc->act_head = x->next;
		act_free(x);
	}
	for (size_t i = 0; i < cc->nqueues; i++)
		queue_free(cc->queue_list[i]);
	for (size_t i = 0; i < cc->nagents; i++)
		agent_free(cc->agent_list[i]);
	for (size_t i = 0; i < cc->nskills; i++)
		free(cc->skills[i]);
	free(cc->skills);
	free(cc->queue_list);
	free(cc->agent_list);
	cc_map_free(&cc->agents);
	cc_map_free(&cc->queues);
	cc_map_free(&cc->callers);
	cc_map_free(&cc->offers);
	for (int i = 0; i < 4; i++)
		free(cc->code_buf[i]);
	free(cc);
}
