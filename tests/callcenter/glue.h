/* A scripted glue for the call center tests: records every action the
 * engine takes and keeps the set of ringing offers, so a test can say
 * "the offer to agent2" and answer it. Header-only (one test program). */
#ifndef CV_TEST_CC_GLUE_H
#define CV_TEST_CC_GLUE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cvoip/callcenter.h"

enum g_kind {
	G_STATE = 0,
	G_OFFER,
	G_CANCEL,
	G_HOLD,
	G_ANNOUNCE,
	G_BRIDGE,
	G_OVERFLOW,
	G_HANGUP
};

struct g_rec {
	enum g_kind kind;
	uint64_t id;	 /* offer id (offer/cancel/bridge) */
	uint64_t caller; /* caller id */
	char agent[64];
	char queue[64];
	char text[160]; /* reason, file, target text */
	enum cv_cc_target_kind tkind;
	enum cv_cc_agent_state old_st, new_st;
	uint32_t position;
};

#define G_PENDING_MAX 4096
struct glue {
	struct g_rec *v;
	size_t n, cap;
	/* ringing offers */
	struct {
		uint64_t id, caller;
		char agent[64];
	} pend[G_PENDING_MAX];
	size_t npend;
	/* scripted behaviour inside the handler (re-entrancy) */
	bool fail_offers_at_once;
	struct cv_cc *cc;
};

static inline void g_push(struct glue *g, const struct g_rec *r)
{
	if (g->n == g->cap) {
		g->cap = g->cap ? g->cap * 2 : 256;
		g->v = realloc(g->v, g->cap * sizeof(*g->v));
		if (!g->v)
			abort();
	}
	g->v[g->n++] = *r;
}

static inline void g_pend_del(struct glue *g, uint64_t id)
{
	for (size_t i = 0; i < g->npend; i++) {
		if (g->pend[i].id == id) {
			g->pend[i] = g->pend[--g->npend];
			return;
		}
	}
}

static void g_agent_state(struct cv_cc *cc, const struct cv_cc_agent_event *ev,
			  void *arg)
{
	struct g_rec r = {.kind = G_STATE,
			  .old_st = ev->old_state,
			  .new_st = ev->new_state};
	snprintf(r.agent, sizeof(r.agent), "%s", ev->agent);
	snprintf(r.text, sizeof(r.text), "%s", ev->reason);
	g_push(arg, &r);
}

static void g_offer_rec(struct glue *g, enum g_kind k,
			const struct cv_cc_offer_view *o)
{
	struct g_rec r = {.kind = k, .id = o->id, .caller = o->caller};
	snprintf(r.agent, sizeof(r.agent), "%s", o->agent);
	snprintf(r.queue, sizeof(r.queue), "%s", o->queue);
	g_push(g, &r);
}

static void g_offer(struct cv_cc *cc, const struct cv_cc_offer_view *o,
		    void *arg)
{
	struct glue *g = arg;
	g_offer_rec(g, G_OFFER, o);
	if (g->fail_offers_at_once) {
		/* a glue that learns at once that the agent is unreachable
		 * calls back from inside the handler */
		int err = cv_cc_offer_result(cc, o->id, CV_CC_OFFER_FAILED);
		if (err)
			abort();
		return;
	}
	if (g->npend == G_PENDING_MAX)
		abort();
	g->pend[g->npend].id = o->id;
	g->pend[g->npend].caller = o->caller;
	snprintf(g->pend[g->npend].agent, sizeof(g->pend[0].agent), "%s",
		 o->agent);
	g->npend++;
}

static void g_cancel(struct cv_cc *cc, const struct cv_cc_offer_view *o,
		     void *arg)
{
	g_offer_rec(arg, G_CANCEL, o);
	g_pend_del(arg, o->id);
}

static void g_bridge(struct cv_cc *cc, const struct cv_cc_offer_view *o,
		     void *arg)
{
	g_offer_rec(arg, G_BRIDGE, o);
	g_pend_del(arg, o->id);
}

static void g_caller_rec(struct glue *g, enum g_kind k,
			 const struct cv_cc_caller_view *c, const char *text)
{
	struct g_rec r = {.kind = k, .caller = c->id};
	snprintf(r.queue, sizeof(r.queue), "%s", c->queue);
	snprintf(r.text, sizeof(r.text), "%s", text ? text : "");
	g_push(g, &r);
}

static void g_hold(struct cv_cc *cc, const struct cv_cc_caller_view *c,
		   const char *file, void *arg)
{
	g_caller_rec(arg, G_HOLD, c, file);
}

static void g_announce(struct cv_cc *cc, const struct cv_cc_caller_view *c,
		       uint32_t position, void *arg)
{
	g_caller_rec(arg, G_ANNOUNCE, c, NULL);
	struct glue *g = arg;
	g->v[g->n - 1].position = position;
}

static void g_overflow(struct cv_cc *cc, const struct cv_cc_caller_view *c,
		       const struct cv_cc_target *t, void *arg)
{
	struct glue *g = arg;
	g_caller_rec(g, G_OVERFLOW, c, t->text);
	g->v[g->n - 1].tkind = t->kind;
}

static void g_hangup(struct cv_cc *cc, const struct cv_cc_caller_view *c,
		     const char *reason, void *arg)
{
	g_caller_rec(arg, G_HANGUP, c, reason);
}

static const struct cv_cc_handlers g_handlers = {
	.agent_state = g_agent_state,
	.offer = g_offer,
	.offer_cancel = g_cancel,
	.hold = g_hold,
	.announce = g_announce,
	.bridge = g_bridge,
	.overflow = g_overflow,
	.hangup = g_hangup,
};

/* The ringing offer to this agent, 0 if none. */
static inline uint64_t g_offer_to(const struct glue *g, const char *agent)
{
	for (size_t i = 0; i < g->npend; i++)
		if (strcmp(g->pend[i].agent, agent) == 0)
			return g->pend[i].id;
	return 0;
}

/* The agent a caller is ringing at (first one), NULL if none. */
static inline const char *g_ringing(const struct glue *g, uint64_t caller)
{
	for (size_t i = 0; i < g->npend; i++)
		if (g->pend[i].caller == caller)
			return g->pend[i].agent;
	return NULL;
}

/* Reports the result of the ringing offer to `agent` as the glue would. */
static inline int g_report(struct glue *g, const char *agent,
			   enum cv_cc_offer_res res)
{
	uint64_t id = g_offer_to(g, agent);
	if (!id)
		return CV_ENOTFOUND;
	g_pend_del(g, id);
	return cv_cc_offer_result(g->cc, id, res);
}

static inline size_t g_count(const struct glue *g, enum g_kind k)
{
	size_t n = 0;
	for (size_t i = 0; i < g->n; i++)
		n += g->v[i].kind == k;
	return n;
}

/* Last record of a kind (for a caller if caller != 0), or NULL. */
static inline const struct g_rec *g_last(const struct glue *g, enum g_kind k,
					 uint64_t caller)
{
	for (size_t i = g->n; i-- > 0;)
		if (g->v[i].kind == k && (!caller || g->v[i].caller == caller))
			return &g->v[i];
	return NULL;
}

static inline void g_free(struct glue *g)
{
	free(g->v);
	memset(g, 0, sizeof(*g));
}

#endif
