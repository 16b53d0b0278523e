/* Figures: live per-queue and per-agent statistics, JSON for the API,
 * queued-call records and periodic snapshots in the store, and the
 * consistency check used by the tests. */
#include <stdlib.h>
#include <string.h>

#include "cc_int.h"
#include "cvoip/store.h"

void cc_record(struct cv_cc *cc, const struct cc_caller *c, int outcome,
	       const char *target, uint64_t handle_us)
{
	if (!cc->store)
		return;
	int64_t now_wall = (int64_t)cv_clock_wall_us();
	struct cv_store_qcall r = {
		.queue = c->q->name,
		.call_id = c->call_id,
		.caller = c->caller,
		.priority = c->priority,
		.arrival_us = c->q_since_wall,
		.answer_us = outcome == CV_STORE_OUTCOME_ANSWERED
				     ? c->answer_wall
				     : 0,
		.end_us = now_wall,
		.outcome = (enum cv_store_outcome)outcome,
		.agent = c->agent ? c->agent->name : "",
		.wait_us = (int64_t)cc_wait_now(c, cv_clock_us()),
		.handle_us = (int64_t)handle_us,
		.overflow_target = target ? target : "",
	};
	int err = cv_store_qcall_insert(cc->store, &r, NULL);
	if (err)
		CV_LOG_RL(CV_LOG_WARN, CC_MOD, "queued-call record lost: %s",
			  cv_strerror(err));
}

uint64_t cc_agent_state_us(const struct cc_agent *a, enum cv_cc_agent_state st,
			   uint64_t now)
{
	uint64_t v = a->state_us[st];
	if (a->state == st && now > a->state_since)
		v += now - a->state_since;
	return v;
}

static void agent_fill(const struct cc_agent *a, struct cv_cc_agent_stats *o)
{
	uint64_t now = cv_clock_us();
	memset(o, 0, sizeof(*o));
	o->state = a->state;
	o->reason =
		a->state == CV_CC_AGENT_PAUSED && a->reason ? a->reason : "";
	o->calls = a->calls;
	o->logged_in = a->ndev > 0;
	o->devices = a->ndev;
	o->misses = a->misses;
	o->offered = a->offered;
	o->answered = a->answered;
	o->missed = a->missed;
	o->talk_us = a->talk_us;
	o->handle_us = a->handle_us;
	for (int s = 0; s < CV_CC_AGENT_STATE_COUNT; s++)
		o->state_us[s] =
			cc_agent_state_us(a, (enum cv_cc_agent_state)s, now);
	uint64_t busy = o->state_us[CV_CC_AGENT_OFFERED] +
			o->state_us[CV_CC_AGENT_ON_CALL] +
			o->state_us[CV_CC_AGENT_WRAP_UP];
	uint64_t staffed = busy + o->state_us[CV_CC_AGENT_AVAILABLE];
	o->occupancy = staffed ? (double)busy / (double)staffed : 0.0;
}

int cv_cc_agent_stats(struct cv_cc *cc, const char *name,
		      struct cv_cc_agent_stats *out)
{
	if (!cc || !out)
		return -EINVAL;
	struct cc_agent *a = cc_agent_find(cc, name);
	if (!a)
		return CV_ENOTFOUND;
	agent_fill(a, out);
	return 0;
}

static void queue_fill(const struct cc_queue *q, struct cv_cc_queue_stats *o)
{
	uint64_t now = cv_clock_us();
	memset(o, 0, sizeof(*o));
	o->waiting = q->nfifo;
	o->members = (uint32_t)q->nmem;
	o->logged_in = q->logged_in;
	for (size_t i = 0; i < q->nmem; i++)
		if (q->mem[i]->a->state == CV_CC_AGENT_AVAILABLE)
			o->available++;
	/* the fifo is in arrival order: its head waited longest */
	o->longest_wait_us = q->fifo_head ? cc_wait_now(q->fifo_head, now) : 0;
	o->joined = q->joined;
	o->offers = q->offers;
	o->answered = q->answered;
	o->abandoned = q->abandoned;
	o->overflowed = q->overflowed;
	o->answered_in_sl = q->answered_in_sl;
	o->completed = q->completed;
	o->wait_sum_us = q->wait_sum_us;
	o->handle_sum_us = q->handle_sum_us;
	o->avg_wait_s =
		q->answered ? (double)q->wait_sum_us / 1e6 / (double)q->answered
			    : 0.0;
	o->avg_handle_s = q->completed ? (double)q->handle_sum_us / 1e6 /
						 (double)q->completed
				       : 0.0;
	uint64_t done = q->answered + q->abandoned + q->overflowed;
	o->service_level =
		done ? (double)q->answered_in_sl / (double)done : 1.0;
}

int cv_cc_queue_stats(struct cv_cc *cc, const char *name,
		      struct cv_cc_queue_stats *out)
{
	if (!cc || !out)
		return -EINVAL;
	struct cc_queue *q = cc_queue_find(cc, name);
	if (!q)
		return CV_ENOTFOUND;
	queue_fill(q, out);
	return 0;
}

static json_t *queue_json(const struct cc_queue *q)
{
	struct cv_cc_queue_stats s;
	queue_fill(q, &s);
	return json_pack(
		"{s:s,s:I,s:I,s:I,s:I,s:f,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f,"
		"s:f,s:f}",
		"strategy", cv_cc_strategy_name(q->strategy), "waiting",
		(json_int_t)s.waiting, "members", (json_int_t)s.members,
		"logged_in", (json_int_t)s.logged_in, "available",
		(json_int_t)s.available, "longest_wait_s",
		(double)s.longest_wait_us / 1e6, "joined", (json_int_t)s.joined,
		"offers", (json_int_t)s.offers, "answered",
		(json_int_t)s.answered, "abandoned", (json_int_t)s.abandoned,
		"overflowed", (json_int_t)s.overflowed, "answered_in_sl",
		(json_int_t)s.answered_in_sl, "completed",
		(json_int_t)s.completed, "avg_wait_s", s.avg_wait_s,
		"avg_handle_s", s.avg_handle_s, "service_level",
		s.service_level);
}

static json_t *agent_json(const struct cc_agent *a)
{
	struct cv_cc_agent_stats s;
	agent_fill(a, &s);
	json_t *st = json_object();
	for (int i = 0; st && i < CV_CC_AGENT_STATE_COUNT; i++)
		json_object_set_new(
			st, cv_cc_agent_state_name((enum cv_cc_agent_state)i),
			json_real((double)s.state_us[i] / 1e6));
	json_t *o = json_pack(
		"{s:s,s:s,s:I,s:b,s:I,s:I,s:I,s:I,s:f,s:f,s:f}", "state",
		cv_cc_agent_state_name(s.state), "reason", s.reason, "calls",
		(json_int_t)s.calls, "logged_in", s.logged_in, "devices",
		(json_int_t)s.devices, "offered", (json_int_t)s.offered,
		"answered", (json_int_t)s.answered, "missed",
		(json_int_t)s.missed, "talk_s", (double)s.talk_us / 1e6,
		"handle_s", (double)s.handle_us / 1e6, "occupancy",
		s.occupancy);
	if (o && st)
		json_object_set(o, "time_in_state_s", st);
	json_decref(st);
	return o;
}

int cv_cc_stats_json(struct cv_cc *cc, json_t **out)
{
	if (!cc || !out)
		return -EINVAL;
	struct cv_cc_totals t;
	cv_cc_totals(cc, &t);
	json_t *root = json_pack(
		"{s:{s:I,s:I,s:I,s:I,s:I,s:I},s:{},s:{}}", "totals", "joined",
		(json_int_t)t.joined, "answered", (json_int_t)t.answered,
		"overflowed", (json_int_t)t.overflowed, "abandoned",
		(json_int_t)t.abandoned, "in_progress",
		(json_int_t)t.in_progress, "bridged", (json_int_t)t.bridged,
		"queues", "agents");
	if (!root)
		return -ENOMEM;
	json_t *qs = json_object_get(root, "queues");
	json_t *as = json_object_get(root, "agents");
	for (size_t i = 0; i < cc->nqueues; i++) {
		json_t *q = queue_json(cc->queue_list[i]);
		if (!q || json_object_set_new(qs, cc->queue_list[i]->name, q)) {
			json_decref(root);
			return -ENOMEM;
		}
	}
	for (size_t i = 0; i < cc->nagents; i++) {
		json_t *a = agent_json(cc->agent_list[i]);
		if (!a || json_object_set_new(as, cc->agent_list[i]->name, a)) {
			json_decref(root);
			return -ENOMEM;
		}
	}
	*out = root;
	return 0;
}

static void stat_put(struct cv_cc *cc, const char *scope, const char *name,
		     json_t *o, int64_t at)
{
	char *data =
		o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(9)) : NULL;
	json_decref(o);
	if (!data)
		return;
	struct cv_store_stat st = {scope, name, at, data};
	int err = cv_store_stat_put(cc->store, &st, NULL);
	if (err)
		CV_LOG_RL(CV_LOG_WARN, CC_MOD, "statistics not stored: %s",
			  cv_strerror(err));
	free(data);
}

void cc_stats_snapshot(struct cv_cc *cc)
{
	if (!cc->store)
		return;
	int64_t at = (int64_t)cv_clock_wall_us();
	for (size_t i = 0; i < cc->nqueues; i++)
		stat_put(cc, "queue", cc->queue_list[i]->name,
			 queue_json(cc->queue_list[i]), at);
	for (size_t i = 0; i < cc->nagents; i++)
		stat_put(cc, "agent", cc->agent_list[i]->name,
			 agent_json(cc->agent_list[i]), at);
}

/* ---- consistency -----------------------------------------------------------
 */
#define BAD(...)                                                               \
	do {                                                                   \
		CV_ERROR(CC_MOD, "check: " __VA_ARGS__);                       \
		return CV_EPROTO;                                              \
	} while (0)

static int check_agent(const struct cc_agent *a)
{
	bool off = a->ndev && !a->paused && !a->offer && !a->wrapping &&
		   !a->cooling && a->calls < a->max_calls;
	if (a->calls > a->max_calls)
		BAD("agent %s has %u calls, max %u", a->name, a->calls,
		    a->max_calls);
	if (a->offer && (a->offer->a != a))
		BAD("agent %s offer does not point back", a->name);
	if (!a->ndev && (a->wrapping || a->paused || a->offer))
		BAD("agent %s logged out but wrapping/paused/offered", a->name);
	if (a->wrapping != cv_tmr_active(&a->wrap_tmr))
		BAD("agent %s wrap-up flag without timer", a->name);
	if (a->cooling != cv_tmr_active(&a->cool_tmr))
		BAD("agent %s cooldown flag without timer", a->name);
	enum cv_cc_agent_state st = a->offer	  ? CV_CC_AGENT_OFFERED
				    : a->calls	  ? CV_CC_AGENT_ON_CALL
				    : !a->ndev	  ? CV_CC_AGENT_LOGGED_OUT
				    : a->wrapping ? CV_CC_AGENT_WRAP_UP
				    : a->paused	  ? CV_CC_AGENT_PAUSED
						  : CV_CC_AGENT_AVAILABLE;
	if (st != a->state)
		BAD("agent %s state %s, derived %s", a->name,
		    cv_cc_agent_state_name(a->state),
		    cv_cc_agent_state_name(st));
	for (size_t i = 0; i < a->nmem; i++) {
		const struct cc_member *m = a->mem[i];
		for (size_t t = 0; t < m->q->nsteps; t++) {
			bool in = cc_hn_in(&m->hn[t]);
			if (in != (off && m->qual[t]))
				BAD("agent %s in %s step %zu: indexed %d, "
				    "offerable %d",
				    a->name, m->q->name, t, in, off);
			if (in && m->q->agents[t].v[m->hn[t].idx] != &m->hn[t])
				BAD("agent %s heap index broken", a->name);
		}
	}
	return 0;
}

int cv_cc_check(struct cv_cc *cc)
{
	if (!cc)
		return -EINVAL;
	uint64_t finished = cc->answered + cc->overflowed + cc->abandoned;
	uint64_t open = 0, bridged = 0;
	if (cc->joined != finished - cc->bridged + cc->callers.n)
		BAD("totals: joined %llu != answered %llu + overflowed %llu + "
		    "abandoned %llu + in progress %zu - bridged %llu",
		    (unsigned long long)cc->joined,
		    (unsigned long long)cc->answered,
		    (unsigned long long)cc->overflowed,
		    (unsigned long long)cc->abandoned, cc->callers.n,
		    (unsigned long long)cc->bridged);
	for (size_t i = 0; i < cc->nagents; i++) {
		int err = check_agent(cc->agent_list[i]);
		if (err)
			return err;
	}
	uint64_t agent_calls = 0;
	for (size_t i = 0; i < cc->nagents; i++)
		agent_calls += cc->agent_list[i]->calls;
	for (size_t i = 0; i < cc->nqueues; i++) {
		const struct cc_queue *q = cc->queue_list[i];
		uint32_t n = 0, logged = 0;
		for (const struct cc_caller *c = q->fifo_head; c;
		     c = c->fnext) {
			n++;
			if (c->q != q ||
			    (c->st != CC_WAITING && c->st != CC_RINGING))
				BAD("queue %s fifo holds a caller in state %d",
				    q->name, (int)c->st);
			if ((c->st == CC_WAITING) != cc_hn_in(&c->hn))
				BAD("queue %s caller %llu heap membership",
				    q->name, (unsigned long long)c->id);
			if ((c->st == CC_RINGING) != (c->noffers > 0))
				BAD("queue %s caller %llu ringing without "
				    "offers",
				    q->name, (unsigned long long)c->id);
		}
		if (n != q->nfifo)
			BAD("queue %s fifo count %u != %u", q->name, n,
			    q->nfifo);
		for (size_t k = 0; k < q->nmem; k++)
			logged += q->mem[k]->a->ndev > 0;
		if (logged != q->logged_in)
			BAD("queue %s logged_in %u != %u", q->name,
			    q->logged_in, logged);
		/* per queue: joined = answered + abandoned + overflowed +
		 * waiting + (answered and still bridged are in answered) */
		if (q->joined !=
		    q->answered + q->abandoned + q->overflowed + q->nfifo)
			BAD("queue %s: joined %llu != answered %llu + "
			    "abandoned %llu + overflowed %llu + waiting %u",
			    q->name, (unsigned long long)q->joined,
			    (unsigned long long)q->answered,
			    (unsigned long long)q->abandoned,
			    (unsigned long long)q->overflowed, q->nfifo);
		/* routing invariant: nothing left to pair */
		for (size_t t = 0; t < q->nsteps; t++)
			if (q->callers[t].n && q->agents[t].n)
				BAD("queue %s step %zu: waiting caller and "
				    "offerable agent left unpaired",
				    q->name, t);
		open += n;
	}
	for (size_t i = 0; i < cc->callers.nb; i++)
		for (struct cc_mn *x = cc->callers.b[i]; x; x = x->next) {
			const struct cc_caller *c =
				CV_CONTAINER_OF(x, struct cc_caller, mn);
			if (c->st == CC_BRIDGED) {
				bridged++;
				if (!c->agent)
					BAD("bridged caller without agent");
			}
		}
	if (bridged != cc->bridged || bridged != agent_calls)
		BAD("bridged %llu, counted %llu, agent calls %llu",
		    (unsigned long long)bridged,
		    (unsigned long long)cc->bridged,
		    (unsigned long long)agent_calls);
	if (open + bridged != cc->callers.n)
		BAD("callers: %llu queued + %llu bridged != %zu",
		    (unsigned long long)open, (unsigned long long)bridged,
		    cc->callers.n);
	return 0;
}
