/* callcenter soak: 200 callers and 10 agents over four queues with random
 * answer / no answer / decline / failure / mid-bridge failure / hang-up /
 * abandon and agent login/logout/pause churn, all from a seeded PRNG on
 * the fake clock. The engine's consistency check runs after every step;
 * at the end every caller has exactly one outcome, the engine's counts
 * equal the ones the scripted glue saw, and every agent is idle. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cvoip/callcenter.h"
#include "cvoip/runtime.h"

#define NCALLERS 200
#define NAGENTS	 10
#define NEV_MAX	 20000

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

enum ev_kind {
	EV_ARRIVE = 0,
	EV_ABANDON,
	EV_RESULT,   /* offer result */
	EV_CALL_END, /* bridged call ends */
	EV_BRIDGE_FAIL,
	EV_AGENT_CHURN,
};
struct ev {
	uint64_t at;
	enum ev_kind kind;
	uint64_t id;  /* offer or caller id */
	int idx;      /* caller or agent index */
	uint32_t gen; /* bridge generation for call end events */
	enum cv_cc_offer_res res;
};

struct caller {
	uint64_t id;
	uint32_t gen; /* bumped at each bridge */
	bool bridged;
	int outcome; /* -1 open, 0 answered, 1 overflowed, 2 abandoned */
};

static struct ev evs[NEV_MAX];
static size_t nev;
static struct caller callers[NCALLERS];
static struct cv_cc *CC;
static struct cv_wheel *W;
static uint64_t now_ms;
static uint64_t n_stale, n_offers, n_bridges;

static void sched(uint64_t in_ms, struct ev e)
{
	if (nev == NEV_MAX)
		fail_msg("event list full");
	e.at = now_ms + in_ms;
	evs[nev++] = e;
}

static struct caller *by_id(uint64_t id)
{
	for (int i = 0; i < NCALLERS; i++)
		if (callers[i].id == id)
			return &callers[i];
	return NULL;
}

static void h_offer(struct cv_cc *cc, const struct cv_cc_offer_view *o,
		    void *arg)
{
	n_offers++;
	uint32_t r = rnd(100);
	struct ev e = {.kind = EV_RESULT, .id = o->id};
	if (r < 55) {
		e.res = CV_CC_OFFER_ANSWERED;
		sched(500 + rnd(10000), e);
	} else if (r < 70) {
		e.res = CV_CC_OFFER_NO_ANSWER; /* may lose to the ring timeout
						*/
		sched(1000 + rnd(20000), e);
	} else if (r < 80) {
		e.res = CV_CC_OFFER_DECLINED;
		sched(1000, e);
	} else if (r < 85) {
		/* unreachable at once, from inside the handler */
		int err = cv_cc_offer_result(cc, o->id, CV_CC_OFFER_FAILED);
		assert_int_equal(err, 0);
	}
	/* else: never reported; the engine's ring timeout handles it */
}

static void h_bridge(struct cv_cc *cc, const struct cv_cc_offer_view *o,
		     void *arg)
{
	n_bridges++;
	struct caller *c = by_id(o->caller);
	assert_non_null(c);
	assert_false(c->bridged);
	c->bridged = true;
	c->gen++;
	struct ev e = {.id = o->caller, .gen = c->gen};
	if (rnd(100) < 7) {
		e.kind = EV_BRIDGE_FAIL;
		sched(500 + rnd(10000), e);
	} else {
		e.kind = EV_CALL_END;
		sched(5000 + rnd(50000), e);
	}
}

static void h_gone(uint64_t id)
{
	struct caller *c = by_id(id);
	assert_non_null(c);
	assert_int_equal(c->outcome, -1);
	assert_false(c->bridged);
	c->outcome = 1;
}

static void h_overflow(struct cv_cc *cc, const struct cv_cc_caller_view *c,
		       const struct cv_cc_target *t, void *arg)
{
	h_gone(c->id);
}

static void h_hangup(struct cv_cc *cc, const struct cv_cc_caller_view *c,
		     const char *reason, void *arg)
{
	h_gone(c->id);
}

static const struct cv_cc_handlers handlers = {
	.offer = h_offer,
	.bridge = h_bridge,
	.overflow = h_overflow,
	.hangup = h_hangup,
};

static const char *agent_name(int i)
{
	static char names[NAGENTS][8];
	snprintf(names[i], sizeof(names[i]), "ag%d", i);
	return names[i];
}

static void run_event(const struct ev *e)
{
	int err;
	struct caller *c;
	switch (e->kind) {
	case EV_ARRIVE: {
		static const char *const qs[] = {"support", "sales", "rr",
						 "all"};
		struct cv_cc_join j = {.queue = qs[rnd(4)],
				       .caller = "sip:caller@example.com",
				       .call_id = "soak",
				       .priority = (int32_t)rnd(3)};
		callers[e->idx].outcome = -1;
		/* join writes the id before it delivers any action, so the
		 * handlers find the caller by id */
		err = cv_cc_caller_join(CC, &j, &callers[e->idx].id);
		assert_int_equal(err, 0);
		struct ev a = {.kind = EV_ABANDON, .id = callers[e->idx].id};
		sched(3000 + rnd(240000), a);
		break;
	}
	case EV_ABANDON: {
		struct cv_cc_caller_info ci;
		if (cv_cc_caller_get(CC, e->id, &ci) == 0 &&
		    ci.state != CV_CC_CALLER_BRIDGED) {
			assert_int_equal(cv_cc_caller_hangup(CC, e->id), 0);
			c = by_id(e->id);
			assert_int_equal(c->outcome, -1);
			c->outcome = 2;
		}
		break;
	}
	case EV_RESULT:
		err = cv_cc_offer_result(CC, e->id, e->res);
		if (err == CV_ENOTFOUND)
			n_stale++; /* timed out, cancelled, caller gone */
		else
			assert_int_equal(err, 0);
		break;
	case EV_CALL_END:
	case EV_BRIDGE_FAIL:
		c = by_id(e->id);
		if (!c->bridged || c->gen != e->gen)
			break;
		c->bridged = false;
		if (e->kind == EV_CALL_END) {
			assert_int_equal(cv_cc_caller_hangup(CC, e->id), 0);
			c->outcome = 0;
		} else {
			assert_int_equal(cv_cc_bridge_failed(CC, e->id), 0);
		}
		break;
	case EV_AGENT_CHURN: {
		const char *a = agent_name(e->idx);
		switch (rnd(6)) {
		case 0:
			cv_cc_agent_logout(CC, a, rnd(2) ? NULL : "dev1");
			break;
		case 1:
			cv_cc_agent_login(CC, a, rnd(2) ? "dev1" : "dev2");
			break;
		case 2:
			cv_cc_agent_pause(CC, a, "break");
			break;
		default:
			cv_cc_agent_resume(CC, a);
			break;
		}
		break;
	}
	}
}

static void run_due(void)
{
	/* events may schedule more events: rescan until none is due */
	for (bool again = true; again;) {
		again = false;
		for (size_t i = 0; i < nev; i++) {
			if (evs[i].at > now_ms)
				continue;
			struct ev e = evs[i];
			evs[i] = evs[--nev];
			run_event(&e);
			assert_int_equal(cv_cc_check(CC), 0);
			again = true;
			break;
		}
	}
}

static void test_soak(void **state)
{
	int64_t live0 = cv_mem_live();
	cv_clock_fake_enable(5000000000ull);
	assert_int_equal(cv_wheel_create(&W, NULL, 1000), 0);
	struct cv_cc_params p = {.wheel = W,
				 .handlers = &handlers,
				 .seed = 7,
				 .miss_limit = 4,
				 .miss_cooldown_ms = 3000};
	assert_int_equal(cv_cc_create(&CC, &p), 0);

	static const char *const skills[] = {"english", "spanish", "german"};
	struct cv_cc_skill sk[NAGENTS][2];
	struct cv_cc_agent_params ag[NAGENTS];
	for (int i = 0; i < NAGENTS; i++) {
		sk[i][0] = (struct cv_cc_skill){skills[i % 3],
						(uint8_t)(1 + rnd(10))};
		sk[i][1] = (struct cv_cc_skill){skills[(i + 1) % 3],
						(uint8_t)(1 + rnd(10))};
		ag[i] = (struct cv_cc_agent_params){
			.name = agent_name(i),
			.skills = sk[i],
			.nskills = 1 + (unsigned)(i % 2),
			.max_calls = i == 0 ? 2 : 1,
			.wrapup_ms = rnd(3) * 2000};
	}
	const struct cv_cc_skill req[] = {{"english", 5}};
	const struct cv_cc_relax rx[] = {{.after_ms = 20000, .drop = 3},
					 {.after_ms = 60000, .any = true}};
	const struct cv_cc_queue_params qs[] = {
		{.name = "support",
		 .strategy = CV_CC_SKILLS_BASED,
		 .required = req,
		 .nrequired = 1,
		 .relax = rx,
		 .nrelax = 2,
		 .max_wait_ms = 90000,
		 .overflow = "queue:sales",
		 .announce_ms = 30000},
		{.name = "sales",
		 .strategy = CV_CC_LONGEST_IDLE,
		 .max_wait_ms = 120000,
		 .overflow = "user:voicemail"},
		{.name = "rr",
		 .strategy = CV_CC_ROUND_ROBIN,
		 .max_len = 8,
		 .max_wait_ms = 100000,
		 .overflow = "queue:all"},
		{.name = "all",
		 .strategy = CV_CC_RING_ALL,
		 .max_len = 10,
		 .ring_timeout_ms = 8000,
		 .overflow = "queue:rr"},
	};
	struct cv_cc_config cfg = {ag, NAGENTS, qs, 4};
	struct cv_cc_cfg_err err;
	assert_int_equal(cv_cc_configure(CC, &cfg, &err), 0);
	for (int i = 0; i < NAGENTS; i++)
		assert_int_equal(cv_cc_agent_login(CC, agent_name(i), "dev1"),
				 0);
	/* arrivals over ~10 minutes, churn every ~15 s per agent */
	uint64_t t = 0;
	for (int i = 0; i < NCALLERS; i++) {
		t += rnd(6000);
		evs[nev++] = (struct ev){.at = t, .kind = EV_ARRIVE, .idx = i};
		callers[i].outcome = -1;
	}
	uint64_t churn_end = t;
	for (uint64_t ct = 5000; ct < churn_end; ct += 1500)
		evs[nev++] = (struct ev){.at = ct,
					 .kind = EV_AGENT_CHURN,
					 .idx = (int)rnd(NAGENTS)};
	/* run: 100 ms steps; after the churn ends everybody works again */
	bool settled = false;
	for (uint64_t step = 0; step < 4 * 3600 * 10; step++) {
		now_ms += 100;
		cv_clock_fake_advance(100000);
		cv_wheel_run(W);
		assert_int_equal(cv_cc_check(CC), 0);
		run_due();
		if (!settled && now_ms > churn_end) {
			settled = true;
			for (int i = 0; i < NAGENTS; i++) {
				cv_cc_agent_login(CC, agent_name(i), "dev1");
				cv_cc_agent_resume(CC, agent_name(i));
			}
		}
		struct cv_cc_totals tt;
		cv_cc_totals(CC, &tt);
		if (settled && tt.joined == NCALLERS && !tt.in_progress &&
		    !tt.bridged && cv_wheel_count(W) == 0)
			break;
		/* agents auto-paused after misses come back */
		if (settled && step % 600 == 0)
			for (int i = 0; i < NAGENTS; i++)
				cv_cc_agent_resume(CC, agent_name(i));
	}
	struct cv_cc_totals tt;
	cv_cc_totals(CC, &tt);
	int seen[3] = {0};
	for (int i = 0; i < NCALLERS; i++) {
		assert_in_range(callers[i].outcome, 0, 2);
		seen[callers[i].outcome]++;
	}
	printf("soak: %d answered, %d overflowed, %d abandoned; %llu offers, "
	       "%llu bridges, %llu stale results, %llu s simulated\n",
	       seen[0], seen[1], seen[2], (unsigned long long)n_offers,
	       (unsigned long long)n_bridges, (unsigned long long)n_stale,
	       (unsigned long long)(now_ms / 1000));
	assert_int_equal(tt.joined, NCALLERS);
	assert_int_equal(tt.in_progress, 0);
	assert_int_equal(tt.bridged, 0);
	assert_int_equal(tt.answered, seen[0]);
	assert_int_equal(tt.overflowed, seen[1]);
	assert_int_equal(tt.abandoned, seen[2]);
	assert_int_equal(tt.answered + tt.overflowed + tt.abandoned, NCALLERS);
	/* every outcome kind happened */
	assert_true(seen[0] > 0 && seen[1] > 0 && seen[2] > 0);
	/* per-queue figures add up to the same callers */
	uint64_t q_answered = 0, q_abandoned = 0;
	for (size_t i = 0; i < 4; i++) {
		struct cv_cc_queue_stats s;
		assert_int_equal(cv_cc_queue_stats(CC, qs[i].name, &s), 0);
		assert_int_equal(s.joined,
				 s.answered + s.abandoned + s.overflowed);
		assert_int_equal(s.waiting, 0);
		assert_int_equal(s.completed, s.answered);
		q_answered += s.answered;
		q_abandoned += s.abandoned;
	}
	assert_int_equal(q_answered, tt.answered);
	assert_int_equal(q_abandoned, tt.abandoned);
	/* agents are all idle and logged in */
	for (int i = 0; i < NAGENTS; i++) {
		struct cv_cc_agent_stats s;
		assert_int_equal(cv_cc_agent_stats(CC, agent_name(i), &s), 0);
		assert_int_equal(s.calls, 0);
		assert_true(s.state == CV_CC_AGENT_AVAILABLE ||
			    s.state == CV_CC_AGENT_PAUSED);
		assert_true(s.logged_in);
	}
	assert_int_equal(cv_cc_check(CC), 0);
	cv_cc_destroy(CC);
	cv_wheel_destroy(W);
	cv_clock_fake_disable();
	assert_int_equal(cv_mem_live(), live0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_soak)};
	cv_log_set_level(CV_LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
