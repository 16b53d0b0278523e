/* callcenter: deterministic scenarios with the fake clock and a scripted
 * glue — every strategy, every overflow path, failure handling, bad input,
 * figures, store and bus output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "callcenter/glue.h"
#include "cvoip/bus.h"
#include "cvoip/runtime.h"
#include "cvoip/store.h"

static int64_t live0;
static struct cv_wheel *W;
static struct cv_cc *CC;
static struct glue G;

static const struct cv_cc_skill sk1[] = {{"english", 8}, {"spanish", 5}};
static const struct cv_cc_skill sk2[] = {{"english", 5}};
static const struct cv_cc_skill sk3[] = {{"spanish", 9}};
static const struct cv_cc_agent_params agents3[] = {
	{.name = "a1", .skills = sk1, .nskills = 2},
	{.name = "a2", .skills = sk2, .nskills = 1},
	{.name = "a3", .skills = sk3, .nskills = 1},
};

static int setup(void **state)
{
	live0 = cv_mem_live();
	cv_clock_fake_enable(1000000000ull);
	memset(&G, 0, sizeof(G));
	assert_int_equal(cv_wheel_create(&W, NULL, 1000), 0);
	CC = NULL;
	return 0;
}

static int teardown(void **state)
{
	if (CC)
		assert_int_equal(cv_cc_check(CC), 0);
	cv_cc_destroy(CC);
	CC = NULL;
	cv_wheel_destroy(W);
	g_free(&G);
	cv_clock_fake_disable();
	assert_int_equal(cv_mem_live(), live0);
	return 0;
}

static void start_with(const struct cv_cc_params *pp,
		       const struct cv_cc_agent_params *ag, size_t na,
		       const struct cv_cc_queue_params *qs, size_t nq)
{
	struct cv_cc_params p = pp ? *pp : (struct cv_cc_params){0};
	p.wheel = W;
	p.handlers = &g_handlers;
	p.arg = &G;
	if (!p.seed)
		p.seed = 42;
	assert_int_equal(cv_cc_create(&CC, &p), 0);
	G.cc = CC;
	struct cv_cc_config cfg = {ag, na, qs, nq};
	struct cv_cc_cfg_err err;
	int rc = cv_cc_configure(CC, &cfg, &err);
	if (rc)
		fail_msg("configure: %s", err.msg);
}

static void start(const struct cv_cc_queue_params *qs, size_t nq)
{
	start_with(NULL, agents3, 3, qs, nq);
}

static void adv_ms(uint64_t ms)
{
	/* in 1 s steps so that timers fire in order */
	while (ms) {
		uint64_t d = ms > 1000 ? 1000 : ms;
		cv_clock_fake_advance(d * 1000);
		cv_wheel_run(W);
		ms -= d;
	}
	assert_int_equal(cv_cc_check(CC), 0);
}

static uint64_t join(const char *queue, const char *who, int32_t prio)
{
	uint64_t id = 0;
	struct cv_cc_join j = {.queue = queue,
			       .call_id = who,
			       .caller = who,
			       .priority = prio};
	assert_int_equal(cv_cc_caller_join(CC, &j, &id), 0);
	assert_int_equal(cv_cc_check(CC), 0);
	return id;
}

static void login_all(void)
{
	assert_int_equal(cv_cc_agent_login(CC, "a1", "dev1"), 0);
	adv_ms(1000);
	assert_int_equal(cv_cc_agent_login(CC, "a2", "dev2"), 0);
	adv_ms(1000);
	assert_int_equal(cv_cc_agent_login(CC, "a3", "dev3"), 0);
	adv_ms(1000);
}

static enum cv_cc_agent_state st(const char *agent)
{
	struct cv_cc_agent_stats s;
	assert_int_equal(cv_cc_agent_stats(CC, agent, &s), 0);
	return s.state;
}

/* Answers the ringing offer of `agent`, talks talk_ms, hangs up. */
static void serve(const char *agent, uint64_t caller, uint64_t talk_ms)
{
	uint64_t o = g_offer_to(&G, agent);
	assert_true(o != 0);
	assert_int_equal(cv_cc_offer_result(CC, o, CV_CC_OFFER_ANSWERED), 0);
	assert_int_equal(st(agent), CV_CC_AGENT_ON_CALL);
	adv_ms(talk_ms);
	assert_int_equal(cv_cc_caller_hangup(CC, caller), 0);
	assert_int_equal(cv_cc_check(CC), 0);
}

#define Q(nm, strat, ...)                                                      \
	{                                                                      \
		.name = (nm), .strategy = (strat), __VA_ARGS__                 \
	}

/* ---- strategies ------------------------------------------------------------
 */

static void test_longest_idle(void **state)
{
	const struct cv_cc_queue_params q[] = {Q("sales", CV_CC_LONGEST_IDLE)};
	start(q, 1);
	login_all();
	uint64_t c1 = join("sales", "c1", 0);
	/* a1 logged in first: idle longest */
	assert_string_equal(g_ringing(&G, c1), "a1");
	serve("a1", c1, 5000);
	uint64_t c2 = join("sales", "c2", 0);
	assert_string_equal(g_ringing(&G, c2), "a2");
	serve("a2", c2, 1000);
	uint64_t c3 = join("sales", "c3", 0);
	assert_string_equal(g_ringing(&G, c3), "a3");
	serve("a3", c3, 1000);
	/* a1 finished first of the three */
	uint64_t c4 = join("sales", "c4", 0);
	assert_string_equal(g_ringing(&G, c4), "a1");
	serve("a1", c4, 1000);
}

static void test_round_robin(void **state)
{
	const struct cv_cc_queue_params q[] = {Q("rr", CV_CC_ROUND_ROBIN)};
	start(q, 1);
	login_all();
	const char *want[] = {"a1", "a2", "a3", "a1", "a2", "a3", "a1"};
	for (size_t i = 0; i < CV_ARRAY_SIZE(want); i++) {
		uint64_t c = join("rr", "c", 0);
		assert_string_equal(g_ringing(&G, c), want[i]);
		serve(want[i], c, 1000);
	}
	/* a miss still moves the turn on */
	uint64_t c = join("rr", "c", 0);
	assert_string_equal(g_ringing(&G, c), "a2");
	assert_int_equal(g_report(&G, "a2", CV_CC_OFFER_DECLINED), 0);
	assert_string_equal(g_ringing(&G, c), "a3");
	serve("a3", c, 1000);
}

static void test_fewest_calls(void **state)
{
	const struct cv_cc_queue_params q[] = {Q("few", CV_CC_FEWEST_CALLS)};
	start(q, 1);
	login_all();
	/* a1 takes two, a2 one (a3 paused meanwhile) */
	assert_int_equal(cv_cc_agent_pause(CC, "a3", "lunch"), 0);
	uint64_t c = join("few", "c", 0);
	serve(g_ringing(&G, c), c, 1000); /* a1: idle longest */
	c = join("few", "c", 0);
	assert_string_equal(g_ringing(&G, c), "a2");
	serve("a2", c, 1000);
	assert_int_equal(cv_cc_agent_pause(CC, "a2", NULL), 0);
	c = join("few", "c", 0);
	assert_string_equal(g_ringing(&G, c), "a1");
	serve("a1", c, 1000);
	assert_int_equal(cv_cc_agent_resume(CC, "a2"), 0);
	assert_int_equal(cv_cc_agent_resume(CC, "a3"), 0);
	/* a3 has 0, a2 1, a1 2 */
	c = join("few", "c", 0);
	assert_string_equal(g_ringing(&G, c), "a3");
	serve("a3", c, 1000);
	c = join("few", "c", 0);
	/* a2 and a3 have 1 each: a2 idle longer */
	assert_string_equal(g_ringing(&G, c), "a2");
	serve("a2", c, 1000);
}

static void test_least_talk_time(void **state)
{
	const struct cv_cc_queue_params q[] = {Q("ltt", CV_CC_LEAST_TALK_TIME)};
	start(q, 1);
	login_all();
	uint64_t c = join("ltt", "c", 0);
	assert_string_equal(g_ringing(&G, c), "a1"); /* all 0: idle longest */
	serve("a1", c, 10000);
	c = join("ltt", "c", 0);
	assert_string_equal(g_ringing(&G, c), "a2");
	serve("a2", c, 3000);
	c = join("ltt", "c", 0);
	assert_string_equal(g_ringing(&G, c), "a3");
	serve("a3", c, 20000);
	/* talk: a1 10 s, a2 3 s, a3 20 s */
	c = join("ltt", "c", 0);
	assert_string_equal(g_ringing(&G, c), "a2");
	serve("a2", c, 8000); /* a2 now 11 s */
	c = join("ltt", "c", 0);
	assert_string_equal(g_ringing(&G, c), "a1");
	serve("a1", c, 1000);
}

static void test_random(void **state)
{
	const struct cv_cc_queue_params q[] = {Q("rnd", CV_CC_RANDOM)};
	start(q, 1);
	login_all();
	int hits[3] = {0};
	char seq1[64] = {0};
	for (int i = 0; i < 300; i++) {
		uint64_t c = join("rnd", "c", 0);
		const char *a = g_ringing(&G, c);
		assert_non_null(a);
		hits[a[1] - '1']++;
		if (i < 60)
			seq1[i] = a[1];
		serve(a, c, 100);
	}
	/* every agent is picked, none overwhelmingly (expected 100 each) */
	for (int i = 0; i < 3; i++)
		assert_in_range(hits[i], 60, 140);
	/* the same seed gives the same sequence */
	cv_cc_destroy(CC);
	CC = NULL;
	g_free(&G);
	start(q, 1);
	login_all();
	for (int i = 0; i < 60; i++) {
		uint64_t c = join("rnd", "c", 0);
		const char *a = g_ringing(&G, c);
		assert_int_equal(a[1], seq1[i]);
		serve(a, c, 100);
	}
}

static void test_ring_all(void **state)
{
	const struct cv_cc_queue_params q[] = {Q("all", CV_CC_RING_ALL)};
	start(q, 1);
	login_all();
	uint64_t c1 = join("all", "c1", 0);
	assert_int_equal(g_count(&G, G_OFFER), 3);
	assert_int_equal(st("a1"), CV_CC_AGENT_OFFERED);
	assert_int_equal(st("a3"), CV_CC_AGENT_OFFERED);
	/* a second caller waits: everybody is ringing for c1 */
	uint64_t c2 = join("all", "c2", 0);
	struct cv_cc_caller_info ci;
	assert_int_equal(cv_cc_caller_get(CC, c2, &ci), 0);
	assert_int_equal(ci.state, CV_CC_CALLER_WAITING);
	assert_int_equal(ci.position, 2);
	uint64_t o1 = g_offer_to(&G, "a1"), o3 = g_offer_to(&G, "a3");
	assert_int_equal(g_report(&G, "a2", CV_CC_OFFER_ANSWERED), 0);
	/* a1 and a3 stop ringing for c1 and ring for c2 at once */
	assert_int_equal(g_count(&G, G_CANCEL), 2);
	assert_int_equal(g_last(&G, G_BRIDGE, c1)->caller, c1);
	assert_string_equal(g_ringing(&G, c2), "a1");
	assert_int_equal(g_count(&G, G_OFFER), 5);
	/* a late answer to a cancelled offer is refused: the glue hangs
	 * that leg up */
	assert_int_equal(cv_cc_offer_result(CC, o1, CV_CC_OFFER_ANSWERED),
			 CV_ENOTFOUND);
	assert_int_equal(cv_cc_offer_result(CC, o3, CV_CC_OFFER_NO_ANSWER),
			 CV_ENOTFOUND);
	serve("a3", c2, 1000);
	assert_int_equal(cv_cc_caller_hangup(CC, c1), 0);
	struct cv_cc_queue_stats qs;
	assert_int_equal(cv_cc_queue_stats(CC, "all", &qs), 0);
	assert_int_equal(qs.answered, 2);
	assert_int_equal(qs.offers, 5);
}

static void test_skills_best_match(void **state)
{
	const struct cv_cc_skill req[] = {{"english", 1}};
	const struct cv_cc_queue_params q[] = {Q("support", CV_CC_SKILLS_BASED,
						 .required = req,
						 .nrequired = 1)};
	start(q, 1);
	login_all();
	struct cv_cc_queue_stats qs;
	assert_int_equal(cv_cc_queue_stats(CC, "support", &qs), 0);
	assert_int_equal(qs.members, 2); /* a3 speaks no english */
	/* a1 (english 8) beats a2 (english 5) although a2 idled longer
	 * after this */
	uint64_t c = join("support", "c", 0);
	assert_string_equal(g_ringing(&G, c), "a1");
	serve("a1", c, 1000);
	c = join("support", "c", 0);
	assert_string_equal(g_ringing(&G, c), "a1");
	uint64_t c2 = join("support", "c2", 0);
	assert_string_equal(g_ringing(&G, c2), "a2");
	serve("a1", c, 1000);
	serve("a2", c2, 1000);
}

static void test_skills_relax(void **state)
{
	/* english 9 nobody has; after 10 s: 6 (a1); after 20 s anyone */
	const struct cv_cc_skill req[] = {{"english", 9}};
	const struct cv_cc_relax rx[] = {{.after_ms = 10000, .drop = 3},
					 {.after_ms = 20000, .any = true}};
	const struct cv_cc_queue_params q[] = {
		Q("hard", CV_CC_SKILLS_BASED, .required = req, .nrequired = 1,
		  .relax = rx, .nrelax = 2)};
	start(q, 1);
	login_all();
	assert_int_equal(cv_cc_agent_pause(CC, "a1", "meeting"), 0);
	uint64_t c = join("hard", "c", 0);
	assert_null(g_ringing(&G, c));
	adv_ms(9000);
	assert_null(g_ringing(&G, c));
	adv_ms(2000); /* english >= 6: a1 only, paused */
	assert_null(g_ringing(&G, c));
	adv_ms(10000); /* any member: a2 (english 5) matches better */
	assert_string_equal(g_ringing(&G, c), "a2");
	serve("a2", c, 1000);
	/* a new caller starts strict again; a1 back: offered after 10 s */
	assert_int_equal(cv_cc_agent_resume(CC, "a1"), 0);
	c = join("hard", "c", 0);
	assert_null(g_ringing(&G, c));
	adv_ms(10000);
	assert_string_equal(g_ringing(&G, c), "a1");
	serve("a1", c, 1000);
}

static void test_priority(void **state)
{
	const struct cv_cc_queue_params q[] = {Q("p", CV_CC_LONGEST_IDLE)};
	start(q, 1);
	login_all();
	for (int i = 1; i <= 3; i++)
		assert_int_equal(
			cv_cc_agent_pause(CC, (char[]){'a', (char)('0' + i), 0},
					  NULL),
			0);
	uint64_t lo1 = join("p", "lo1", 0);
	uint64_t lo2 = join("p", "lo2", 0);
	uint64_t hi = join("p", "hi", 5);
	uint64_t neg = join("p", "neg", -3);
	struct cv_cc_caller_info ci;
	assert_int_equal(cv_cc_caller_get(CC, hi, &ci), 0);
	assert_int_equal(ci.position, 1);
	assert_int_equal(cv_cc_caller_get(CC, lo2, &ci), 0);
	assert_int_equal(ci.position, 3);
	assert_int_equal(cv_cc_caller_get(CC, neg, &ci), 0);
	assert_int_equal(ci.position, 4);
	assert_int_equal(cv_cc_agent_resume(CC, "a2"), 0);
	assert_string_equal(g_ringing(&G, hi), "a2");
	assert_int_equal(cv_cc_agent_resume(CC, "a3"), 0);
	assert_string_equal(g_ringing(&G, lo1), "a3");
	assert_int_equal(cv_cc_agent_resume(CC, "a1"), 0);
	assert_string_equal(g_ringing(&G, lo2), "a1");
	serve("a2", hi, 100);
	assert_string_equal(g_ringing(&G, neg), "a2");
	serve("a1", lo2, 100);
	serve("a3", lo1, 100);
	serve("a2", neg, 100);
}

/* ---- overflow and failure
 * ---------------------------------------------------- */

static void test_overflow_max_wait(void **state)
{
	const struct cv_cc_queue_params q[] = {
		Q("q", CV_CC_LONGEST_IDLE, .max_wait_ms = 30000,
		  .overflow = "user:bob", .music_on_hold = "moh.wav")};
	start(q, 1);
	login_all();
	for (int i = 1; i <= 3; i++)
		cv_cc_agent_pause(CC, (char[]){'a', (char)('0' + i), 0}, NULL);
	uint64_t c = join("q", "c", 0);
	assert_string_equal(g_last(&G, G_HOLD, c)->text, "moh.wav");
	adv_ms(29000);
	assert_null(g_last(&G, G_OVERFLOW, c));
	adv_ms(1000);
	const struct g_rec *r = g_last(&G, G_OVERFLOW, c);
	assert_non_null(r);
	assert_int_equal(r->tkind, CV_CC_TARGET_USER);
	assert_string_equal(r->text, "user:bob");
	assert_int_equal(cv_cc_caller_hangup(CC, c), CV_ENOTFOUND);
	/* also while ringing: the offer is cancelled */
	cv_cc_agent_resume(CC, "a1");
	c = join("q", "c", 0);
	assert_string_equal(g_ringing(&G, c), "a1");
	adv_ms(14000);
	assert_int_equal(g_report(&G, "a1", CV_CC_OFFER_DECLINED), 0);
	adv_ms(16000);
	assert_non_null(g_last(&G, G_OVERFLOW, c));
	struct cv_cc_queue_stats qs;
	cv_cc_queue_stats(CC, "q", &qs);
	assert_int_equal(qs.overflowed, 2);
	assert_int_equal(qs.joined, 2);
}

static void test_overflow_max_len(void **state)
{
	const struct cv_cc_queue_params q[] = {
		Q("q", CV_CC_LONGEST_IDLE, .max_len = 2,
		  .overflow = "sip:vm@example.com")};
	start(q, 1);
	login_all();
	for (int i = 1; i <= 3; i++)
		cv_cc_agent_pause(CC, (char[]){'a', (char)('0' + i), 0}, NULL);
	join("q", "c1", 0);
	join("q", "c2", 0);
	uint64_t c3 = join("q", "c3", 0);
	const struct g_rec *r = g_last(&G, G_OVERFLOW, c3);
	assert_non_null(r);
	assert_int_equal(r->tkind, CV_CC_TARGET_URI);
	assert_string_equal(r->text, "sip:vm@example.com");
	/* no hold music for a caller that never waited */
	assert_null(g_last(&G, G_HOLD, c3));
}

static void test_overflow_no_agents(void **state)
{
	const struct cv_cc_queue_params q[] = {
		Q("q", CV_CC_LONGEST_IDLE, .overflow = "announce:closed.wav")};
	start(q, 1);
	uint64_t c = join("q", "c", 0);
	const struct g_rec *r = g_last(&G, G_OVERFLOW, c);
	assert_non_null(r);
	assert_int_equal(r->tkind, CV_CC_TARGET_ANNOUNCE);
	/* paused agents count as logged in: the caller waits */
	assert_int_equal(cv_cc_agent_login(CC, "a1", NULL), 0);
	assert_int_equal(cv_cc_agent_pause(CC, "a1", NULL), 0);
	uint64_t c2 = join("q", "c2", 0);
	uint64_t c3 = join("q", "c3", 0);
	assert_null(g_last(&G, G_OVERFLOW, c2));
	/* the last agent logs out: the waiting callers overflow */
	assert_int_equal(cv_cc_agent_logout(CC, "a1", NULL), 0);
	assert_non_null(g_last(&G, G_OVERFLOW, c2));
	assert_non_null(g_last(&G, G_OVERFLOW, c3));
	struct cv_cc_totals t;
	cv_cc_totals(CC, &t);
	assert_int_equal(t.joined, 3);
	assert_int_equal(t.overflowed, 3);
	assert_int_equal(t.in_progress, 0);
}

static void test_overflow_to_queue_and_hangup(void **state)
{
	const struct cv_cc_queue_params q[] = {
		Q("first", CV_CC_LONGEST_IDLE, .max_wait_ms = 10000,
		  .overflow = "queue:second"),
		Q("second", CV_CC_RING_ALL, .max_wait_ms = 10000),
	};
	const struct cv_cc_skill en[] = {{"english", 5}};
	const struct cv_cc_agent_params ag[] = {
		{.name = "a1", .skills = en, .nskills = 1}};
	start_with(NULL, ag, 1, q, 2);
	assert_int_equal(cv_cc_agent_login(CC, "a1", NULL), 0);
	assert_int_equal(cv_cc_agent_pause(CC, "a1", NULL), 0);
	uint64_t c = join("first", "c", 0);
	adv_ms(10000);
	struct cv_cc_caller_info ci;
	assert_int_equal(cv_cc_caller_get(CC, c, &ci), 0);
	assert_string_equal(ci.queue, "second");
	assert_int_equal(ci.chain, 1);
	assert_string_equal(g_last(&G, G_HOLD, c)->queue, "second");
	/* the second queue's own max wait, then its target: hang up */
	adv_ms(10000);
	const struct g_rec *r = g_last(&G, G_HANGUP, c);
	assert_non_null(r);
	assert_string_equal(r->text, "max wait");
	struct cv_cc_queue_stats a, b;
	cv_cc_queue_stats(CC, "first", &a);
	cv_cc_queue_stats(CC, "second", &b);
	assert_int_equal(a.overflowed, 1);
	assert_int_equal(b.joined, 1);
	assert_int_equal(b.overflowed, 1);
	struct cv_cc_totals t;
	cv_cc_totals(CC, &t);
	assert_int_equal(t.joined, 1);
	assert_int_equal(t.overflowed, 1);
}

static void test_overflow_chain_bounded(void **state)
{
	/* a loop x -> y -> x with nobody logged in */
	const struct cv_cc_queue_params q[] = {
		Q("x", CV_CC_LONGEST_IDLE, .overflow = "queue:y"),
		Q("y", CV_CC_LONGEST_IDLE, .overflow = "queue:x"),
	};
	struct cv_cc_params p = {.max_chain = 3};
	start_with(&p, agents3, 3, q, 2);
	uint64_t c = join("x", "c", 0);
	const struct g_rec *r = g_last(&G, G_HANGUP, c);
	assert_non_null(r);
	assert_string_equal(r->text, "overflow chain too long");
	struct cv_cc_queue_stats a, b;
	cv_cc_queue_stats(CC, "x", &a);
	cv_cc_queue_stats(CC, "y", &b);
	/* x, y, x, y: four visits, each overflowed once */
	assert_int_equal(a.joined + b.joined, 4);
	assert_int_equal(a.overflowed + b.overflowed, 4);
	struct cv_cc_totals t;
	cv_cc_totals(CC, &t);
	assert_int_equal(t.overflowed, 1);
}

static void test_ring_timeout_and_auto_pause(void **state)
{
	const struct cv_cc_queue_params q[] = {
		Q("q", CV_CC_LONGEST_IDLE, .ring_timeout_ms = 5000)};
	struct cv_cc_params p = {.miss_limit = 2, .miss_cooldown_ms = 1000};
	start_with(&p, agents3, 3, q, 1);
	login_all();
	uint64_t c = join("q", "c", 0);
	assert_string_equal(g_ringing(&G, c), "a1");
	adv_ms(5000); /* timeout: cancelled, next agent */
	assert_string_equal(g_last(&G, G_CANCEL, c)->agent, "a1");
	assert_string_equal(g_ringing(&G, c), "a2");
	assert_int_equal(g_report(&G, "a2", CV_CC_OFFER_NO_ANSWER), 0);
	assert_string_equal(g_ringing(&G, c), "a3");
	assert_int_equal(g_report(&G, "a3", CV_CC_OFFER_FAILED), 0);
	/* all three in cooldown: nobody rings */
	assert_null(g_ringing(&G, c));
	adv_ms(1000);
	assert_string_equal(g_ringing(&G, c), "a1");
	adv_ms(5000); /* a1's second miss: paused */
	struct cv_cc_agent_stats s;
	cv_cc_agent_stats(CC, "a1", &s);
	assert_int_equal(s.state, CV_CC_AGENT_PAUSED);
	assert_string_equal(s.reason, "missed calls");
	assert_int_equal(s.missed, 2);
	const struct g_rec *r = NULL;
	for (size_t i = 0; i < G.n; i++)
		if (G.v[i].kind == G_STATE && !strcmp(G.v[i].agent, "a1"))
			r = &G.v[i];
	assert_non_null(r);
	assert_int_equal(r->old_st, CV_CC_AGENT_OFFERED);
	assert_int_equal(r->new_st, CV_CC_AGENT_PAUSED);
	assert_string_equal(r->text, "missed calls");
	/* an answer resets the consecutive count */
	assert_string_equal(g_ringing(&G, c), "a2");
	serve("a2", c, 1000);
	cv_cc_agent_stats(CC, "a2", &s);
	assert_int_equal(s.misses, 0);
	assert_int_equal(s.missed, 1);
}

static void test_bridge_failed_requeues_at_head(void **state)
{
	const struct cv_cc_queue_params q[] = {Q("q", CV_CC_LONGEST_IDLE)};
	start(q, 1);
	login_all();
	cv_cc_agent_pause(CC, "a2", NULL);
	cv_cc_agent_pause(CC, "a3", NULL);
	uint64_t c1 = join("q", "c1", 0);
	uint64_t o = g_offer_to(&G, "a1");
	assert_int_equal(cv_cc_offer_result(CC, o, CV_CC_OFFER_ANSWERED), 0);
	uint64_t c2 = join("q", "c2", 9); /* high priority, waiting */
	adv_ms(3000);
	assert_int_equal(cv_cc_bridge_failed(CC, c1), 0);
	assert_int_equal(cv_cc_bridge_failed(CC, c1), -EINVAL);
	/* a1 is free again (no wrap-up); c1 goes first despite c2's
	 * priority */
	assert_string_equal(g_ringing(&G, c1), "a1");
	struct cv_cc_caller_info ci;
	cv_cc_caller_get(CC, c2, &ci);
	assert_int_equal(ci.position, 2);
	struct cv_cc_queue_stats qs;
	cv_cc_queue_stats(CC, "q", &qs);
	assert_int_equal(qs.answered, 0); /* taken back */
	assert_int_equal(g_count(&G, G_HOLD), 3);
	serve("a1", c1, 1000);
	serve("a1", c2, 1000);
	cv_cc_queue_stats(CC, "q", &qs);
	assert_int_equal(qs.answered, 2);
	assert_int_equal(qs.completed, 2);
}

static void test_bridge_failed_nobody_left(void **state)
{
	const struct cv_cc_queue_params q[] = {
		Q("q", CV_CC_LONGEST_IDLE, .overflow = "user:operator")};
	start(q, 1);
	cv_cc_agent_login(CC, "a1", NULL);
	uint64_t c = join("q", "c", 0);
	assert_int_equal(g_report(&G, "a1", CV_CC_OFFER_ANSWERED), 0);
	assert_int_equal(cv_cc_agent_logout(CC, "a1", NULL), 0);
	assert_int_equal(cv_cc_bridge_failed(CC, c), 0);
	assert_int_equal(g_last(&G, G_OVERFLOW, c)->tkind, CV_CC_TARGET_USER);
	assert_int_equal(st("a1"), CV_CC_AGENT_LOGGED_OUT);
	struct cv_cc_totals t;
	cv_cc_totals(CC, &t);
	assert_int_equal(t.answered, 0);
	assert_int_equal(t.overflowed, 1);
}

static void test_pause_while_ringing(void **state)
{
	const struct cv_cc_queue_params q[] = {
		Q("q", CV_CC_LONGEST_IDLE, .ring_timeout_ms = 2000)};
	struct cv_cc_params p = {.miss_limit = 1};
	start_with(&p, agents3, 3, q, 1);
	cv_cc_agent_login(CC, "a1", NULL);
	uint64_t c = join("q", "c", 0);
	assert_string_equal(g_ringing(&G, c), "a1");
	/* pausing does not stop the ringing call; a miss keeps the reason */
	assert_int_equal(cv_cc_agent_pause(CC, "a1", "coffee"), 0);
	assert_int_equal(st("a1"), CV_CC_AGENT_OFFERED);
	adv_ms(2000);
	struct cv_cc_agent_stats s;
	cv_cc_agent_stats(CC, "a1", &s);
	assert_int_equal(s.state, CV_CC_AGENT_PAUSED);
	assert_string_equal(s.reason, "coffee");
	/* a new reason while paused is a state event of its own */
	size_t n = g_count(&G, G_STATE);
	assert_int_equal(cv_cc_agent_pause(CC, "a1", "meeting"), 0);
	assert_int_equal(g_count(&G, G_STATE), n + 1);
	assert_string_equal(g_last(&G, G_STATE, 0)->text, "meeting");
	assert_int_equal(cv_cc_agent_pause(CC, "a1", "meeting"), 0);
	assert_int_equal(g_count(&G, G_STATE), n + 1);
	assert_int_equal(cv_cc_caller_hangup(CC, c), 0);
}

static void test_wrapup(void **state)
{
	const struct cv_cc_agent_params ag[] = {
		{.name = "a1", .wrapup_ms = 10000},
		{.name = "a2", .wrapup_ms = 10000}};
	const struct cv_cc_queue_params q[] = {Q("q", CV_CC_LONGEST_IDLE)};
	start_with(NULL, ag, 2, q, 1);
	cv_cc_agent_login(CC, "a1", NULL);
	adv_ms(1000);
	uint64_t c = join("q", "c", 0);
	serve("a1", c, 60000);
	assert_int_equal(st("a1"), CV_CC_AGENT_WRAP_UP);
	c = join("q", "c", 0);
	assert_null(g_ringing(&G, c));
	adv_ms(10000);
	assert_int_equal(st("a1"), CV_CC_AGENT_ON_CALL - 1); /* offered */
	assert_string_equal(g_ringing(&G, c), "a1");
	serve("a1", c, 30000);
	struct cv_cc_agent_stats s;
	cv_cc_agent_stats(CC, "a1", &s);
	assert_int_equal(s.talk_us, 90000000ull);
	assert_int_equal(s.handle_us, 110000000ull);
	/* occupancy: offered 0 + on call 90 s + wrap-up 10 s (+ the 2nd
	 * running) over that plus 1 s available */
	assert_true(s.occupancy > 0.98 && s.occupancy < 1.0);
	struct cv_cc_queue_stats qs;
	cv_cc_queue_stats(CC, "q", &qs);
	assert_true(qs.avg_handle_s > 54.9 && qs.avg_handle_s < 55.1);
	assert_true(qs.avg_wait_s > 4.9 && qs.avg_wait_s < 5.1);
	/* service level 20 s default: c1 waited 0, c2 10 s: both in */
	assert_true(qs.service_level > 0.99);
}

/* ---- bad input
 * --------------------------------------------------------------- */

static void test_logout_while_offered_or_on_call(void **state)
{
	const struct cv_cc_agent_params ag[] = {
		{.name = "a1", .wrapup_ms = 5000},
		{.name = "a2", .wrapup_ms = 5000}};
	const struct cv_cc_queue_params q[] = {Q("q", CV_CC_LONGEST_IDLE)};
	start_with(NULL, ag, 2, q, 1);
	cv_cc_agent_login(CC, "a1", NULL);
	adv_ms(1000);
	cv_cc_agent_login(CC, "a2", NULL);
	uint64_t c = join("q", "c", 0);
	assert_string_equal(g_ringing(&G, c), "a1");
	/* logout while ringing: cancelled, caller rings at a2, no miss */
	assert_int_equal(cv_cc_agent_logout(CC, "a1", NULL), 0);
	assert_string_equal(g_last(&G, G_CANCEL, c)->agent, "a1");
	assert_string_equal(g_ringing(&G, c), "a2");
	assert_int_equal(g_report(&G, "a2", CV_CC_OFFER_ANSWERED), 0);
	/* logout while on call: the call goes on */
	assert_int_equal(cv_cc_agent_logout(CC, "a2", NULL), 0);
	assert_int_equal(st("a2"), CV_CC_AGENT_ON_CALL);
	struct cv_cc_agent_stats s;
	cv_cc_agent_stats(CC, "a2", &s);
	assert_false(s.logged_in);
	/* nobody logged in now: a new caller overflows (hang up) */
	uint64_t c2 = join("q", "c2", 0);
	assert_non_null(g_last(&G, G_HANGUP, c2));
	assert_int_equal(cv_cc_caller_hangup(CC, c), 0);
	assert_int_equal(st("a2"), CV_CC_AGENT_LOGGED_OUT); /* no wrap-up */
	assert_int_equal(cv_cc_agent_pause(CC, "a2", NULL), CV_ECLOSED);
	assert_int_equal(cv_cc_agent_resume(CC, "a2"), CV_ECLOSED);
	/* logout while in wrap-up ends the wrap-up */
	cv_cc_agent_login(CC, "a1", NULL);
	c = join("q", "c", 0);
	serve("a1", c, 1000);
	assert_int_equal(st("a1"), CV_CC_AGENT_WRAP_UP);
	assert_int_equal(cv_cc_agent_logout(CC, "a1", NULL), 0);
	assert_int_equal(st("a1"), CV_CC_AGENT_LOGGED_OUT);
	adv_ms(6000);
	assert_int_equal(st("a1"), CV_CC_AGENT_LOGGED_OUT);
}

static void test_two_devices(void **state)
{
	const struct cv_cc_queue_params q[] = {Q("q", CV_CC_LONGEST_IDLE)};
	start(q, 1);
	assert_int_equal(cv_cc_agent_login(CC, "a1", "sip:a1@10.0.0.1"), 0);
	assert_int_equal(cv_cc_agent_login(CC, "a1", "sip:a1@10.0.0.2"), 0);
	/* refresh of a registration: no change */
	assert_int_equal(cv_cc_agent_login(CC, "a1", "sip:a1@10.0.0.2"), 0);
	assert_int_equal(g_count(&G, G_STATE), 1);
	struct cv_cc_agent_stats s;
	cv_cc_agent_stats(CC, "a1", &s);
	assert_int_equal(s.devices, 2);
	assert_int_equal(cv_cc_agent_logout(CC, "a1", "sip:a1@10.0.0.1"), 0);
	assert_int_equal(st("a1"), CV_CC_AGENT_AVAILABLE);
	assert_int_equal(cv_cc_agent_logout(CC, "a1", "sip:a1@10.0.0.1"),
			 CV_ENOTFOUND);
	assert_int_equal(cv_cc_agent_logout(CC, "a1", "sip:a1@10.0.0.2"), 0);
	assert_int_equal(st("a1"), CV_CC_AGENT_LOGGED_OUT);
	/* bounded */
	char dev[32];
	for (int i = 0; i < CV_CC_DEVICES_MAX; i++) {
		snprintf(dev, sizeof(dev), "d%d", i);
		assert_int_equal(cv_cc_agent_login(CC, "a1", dev), 0);
	}
	assert_int_equal(cv_cc_agent_login(CC, "a1", "one-too-many"),
			 CV_ETOOBIG);
	assert_int_equal(cv_cc_agent_login(CC, "nobody", NULL), CV_ENOTFOUND);
	/* *21 logs out every device */
	assert_int_equal(cv_cc_agent_op(CC, "a1", CV_CC_OP_LOGOUT), 0);
	assert_int_equal(st("a1"), CV_CC_AGENT_LOGGED_OUT);
}

static void test_hangup_at_every_step(void **state)
{
	const struct cv_cc_agent_params ag[] = {
		{.name = "a1", .wrapup_ms = 2000}};
	const struct cv_cc_queue_params q[] = {Q("q", CV_CC_LONGEST_IDLE)};
	start_with(NULL, ag, 1, q, 1);
	cv_cc_agent_login(CC, "a1", NULL);
	cv_cc_agent_pause(CC, "a1", NULL);
	/* waiting */
	uint64_t c = join("q", "c", 0);
	assert_int_equal(cv_cc_caller_hangup(CC, c), 0);
	assert_int_equal(cv_cc_caller_hangup(CC, c), CV_ENOTFOUND);
	cv_cc_agent_resume(CC, "a1");
	/* ringing */
	c = join("q", "c", 0);
	uint64_t o = g_offer_to(&G, "a1");
	assert_int_equal(cv_cc_caller_hangup(CC, c), 0);
	assert_int_equal(g_last(&G, G_CANCEL, c)->id, o);
	assert_int_equal(cv_cc_offer_result(CC, o, CV_CC_OFFER_ANSWERED),
			 CV_ENOTFOUND);
	assert_int_equal(st("a1"), CV_CC_AGENT_AVAILABLE);
	struct cv_cc_agent_stats s;
	cv_cc_agent_stats(CC, "a1", &s);
	assert_int_equal(s.misses, 0);
	/* bridged */
	c = join("q", "c", 0);
	assert_int_equal(g_report(&G, "a1", CV_CC_OFFER_ANSWERED), 0);
	assert_int_equal(cv_cc_caller_hangup(CC, c), 0);
	assert_int_equal(cv_cc_bridge_failed(CC, c), CV_ENOTFOUND);
	/* during wrap-up a new caller waits, then hangs up */
	c = join("q", "c", 0);
	assert_null(g_ringing(&G, c));
	assert_int_equal(cv_cc_caller_hangup(CC, c), 0);
	adv_ms(2000);
	assert_int_equal(st("a1"), CV_CC_AGENT_AVAILABLE);
	struct cv_cc_totals t;
	cv_cc_totals(CC, &t);
	assert_int_equal(t.joined, 4);
	assert_int_equal(t.abandoned, 3);
	assert_int_equal(t.answered, 1);
	assert_int_equal(t.in_progress, 0);
	/* stale and bogus ids */
	assert_int_equal(cv_cc_caller_hangup(CC, 0), CV_ENOTFOUND);
	assert_int_equal(cv_cc_offer_result(CC, 12345, CV_CC_OFFER_DECLINED),
			 CV_ENOTFOUND);
	assert_int_equal(cv_cc_offer_result(CC, 1, (enum cv_cc_offer_res)99),
			 -EINVAL);
	struct cv_cc_join j = {.queue = "nope"};
	uint64_t id;
	assert_int_equal(cv_cc_caller_join(CC, &j, &id), CV_ENOTFOUND);
}

static void test_reentrant_glue(void **state)
{
	/* the glue fails every offer from inside the offer handler */
	const struct cv_cc_queue_params q[] = {Q("q", CV_CC_RING_ALL)};
	struct cv_cc_params p = {.miss_limit = 1};
	start_with(&p, agents3, 3, q, 1);
	login_all();
	G.fail_offers_at_once = true;
	uint64_t c = join("q", "c", 0);
	assert_int_equal(g_count(&G, G_OFFER), 3);
	for (int i = 1; i <= 3; i++)
		assert_int_equal(st((char[]){'a', (char)('0' + i), 0}),
				 CV_CC_AGENT_PAUSED);
	struct cv_cc_caller_info ci;
	assert_int_equal(cv_cc_caller_get(CC, c, &ci), 0);
	assert_int_equal(ci.state, CV_CC_CALLER_WAITING);
	assert_int_equal(cv_cc_caller_hangup(CC, c), 0);
}

static void test_many_waiting_bounded(void **state)
{
	const struct cv_cc_queue_params q[] = {
		Q("big", CV_CC_LONGEST_IDLE, .max_len = 1000)};
	start(q, 1);
	cv_cc_agent_login(CC, "a1", NULL);
	cv_cc_agent_pause(CC, "a1", NULL);
	for (int i = 0; i < 5000; i++) {
		uint64_t id;
		struct cv_cc_join j = {
			.queue = "big", .caller = "x", .priority = i % 7};
		assert_int_equal(cv_cc_caller_join(CC, &j, &id), 0);
	}
	struct cv_cc_queue_stats qs;
	cv_cc_queue_stats(CC, "big", &qs);
	assert_int_equal(qs.waiting, 1000);
	assert_int_equal(qs.overflowed, 4000);
	assert_int_equal(cv_cc_check(CC), 0);
	/* engine-wide bound */
	cv_cc_destroy(CC);
	CC = NULL;
	g_free(&G);
	struct cv_cc_params p = {.max_callers = 10};
	start_with(&p, agents3, 3, q, 1);
	cv_cc_agent_login(CC, "a1", NULL);
	cv_cc_agent_pause(CC, "a1", NULL);
	uint64_t id;
	struct cv_cc_join j = {.queue = "big"};
	for (int i = 0; i < 10; i++)
		assert_int_equal(cv_cc_caller_join(CC, &j, &id), 0);
	assert_int_equal(cv_cc_caller_join(CC, &j, &id), CV_EFULL);
	char *huge = malloc(CV_CC_TEXT_MAX + 2);
	memset(huge, 'x', CV_CC_TEXT_MAX + 1);
	huge[CV_CC_TEXT_MAX + 1] = 0;
	j.caller = huge;
	assert_int_equal(cv_cc_caller_join(CC, &j, &id), CV_ETOOBIG);
	free(huge);
}

static void expect_refused(const struct cv_cc_queue_params *q, size_t nq,
			   const struct cv_cc_agent_params *ag, size_t na,
			   const char *needle, int qi, int ai)
{
	struct cv_cc_params p = {
		.wheel = W, .handlers = &g_handlers, .arg = &G};
	struct cv_cc *cc;
	assert_int_equal(cv_cc_create(&cc, &p), 0);
	struct cv_cc_config cfg = {ag, na, q, nq};
	struct cv_cc_cfg_err err;
	int rc = cv_cc_configure(cc, &cfg, &err);
	assert_true(rc < 0);
	if (!strstr(err.msg, needle))
		fail_msg("error '%s' lacks '%s'", err.msg, needle);
	assert_int_equal(err.queue, qi);
	assert_int_equal(err.agent, ai);
	/* nothing was added */
	struct cv_cc_queue_stats qs;
	for (size_t i = 0; i < nq; i++)
		if (q[i].name)
			assert_int_equal(cv_cc_queue_stats(cc, q[i].name, &qs),
					 CV_ENOTFOUND);
	cv_cc_destroy(cc);
}

static void test_misconfigured(void **state)
{
	const struct cv_cc_skill en[] = {{"english", 5}};
	const struct cv_cc_skill bad_lvl[] = {{"english", 11}};
	const struct cv_cc_skill twice[] = {{"english", 5}, {"english", 6}};
	const struct cv_cc_relax down[] = {{.after_ms = 2000, .drop = 2},
					   {.after_ms = 1000, .drop = 3}};
	const struct cv_cc_relax tight[] = {{.after_ms = 1000, .drop = 3},
					    {.after_ms = 2000, .drop = 1}};
	struct {
		struct cv_cc_queue_params q[2];
		size_t nq;
		const char *needle;
		int qi;
	} cases[] = {
		{{Q("s", CV_CC_SKILLS_BASED)}, 1, "needs required_skills", 0},
		{{Q("s", CV_CC_LONGEST_IDLE, .required = bad_lvl,
		    .nrequired = 1)},
		 1,
		 "level 11",
		 0},
		{{Q("s", CV_CC_LONGEST_IDLE, .required = twice,
		    .nrequired = 2)},
		 1,
		 "twice",
		 0},
		{{Q("s", CV_CC_LONGEST_IDLE, .overflow = "queue:nowhere")},
		 1,
		 "unknown queue 'nowhere'",
		 0},
		{{Q("s", CV_CC_LONGEST_IDLE, .overflow = "queue:s")},
		 1,
		 "overflows to itself",
		 0},
		{{Q("s", CV_CC_LONGEST_IDLE, .overflow = "voicemail")},
		 1,
		 "overflow 'voicemail'",
		 0},
		{{Q("s", CV_CC_LONGEST_IDLE), Q("s", CV_CC_RANDOM)},
		 2,
		 "defined twice",
		 1},
		{{Q("s", (enum cv_cc_strategy)42)}, 1, "unknown strategy", 0},
		{{Q("s", CV_CC_SKILLS_BASED, .required = en, .nrequired = 1,
		    .relax = down, .nrelax = 2)},
		 1,
		 "must be > 0 and increase",
		 0},
		{{Q("s", CV_CC_SKILLS_BASED, .required = en, .nrequired = 1,
		    .relax = tight, .nrelax = 2)},
		 1,
		 "tightens",
		 0},
		{{Q("s", CV_CC_RANDOM, .relax = tight, .nrelax = 1)},
		 1,
		 "need the skills-based",
		 0},
		{{Q("s", CV_CC_RANDOM, .max_len = CV_CC_QUEUE_LEN_MAX + 1)},
		 1,
		 "max_length",
		 0},
		{{Q(NULL, CV_CC_RANDOM)}, 1, "missing or bad name", 0},
	};
	for (size_t i = 0; i < CV_ARRAY_SIZE(cases); i++)
		expect_refused(cases[i].q, cases[i].nq, NULL, 0,
			       cases[i].needle, cases[i].qi, -1);
	const struct cv_cc_agent_params bad_agents[][2] = {
		{{.name = "a", .skills = bad_lvl, .nskills = 1}},
		{{.name = "a"}, {.name = "a"}},
		{{.name = ""}},
	};
	const char *needles[] = {"level 11", "defined twice", "bad name"};
	const int idx[] = {0, 1, 0};
	for (size_t i = 0; i < CV_ARRAY_SIZE(needles); i++)
		expect_refused(NULL, 0, bad_agents[i], i == 1 ? 2 : 1,
			       needles[i], -1, idx[i]);
	/* configuring the same names again */
	const struct cv_cc_queue_params ok[] = {Q("s", CV_CC_RANDOM)};
	start(ok, 1);
	struct cv_cc_config cfg = {agents3, 1, NULL, 0};
	struct cv_cc_cfg_err err;
	assert_int_equal(cv_cc_configure(CC, &cfg, &err), -EEXIST);
	assert_non_null(strstr(err.msg, "already exists"));
}

static void test_codes_and_names(void **state)
{
	enum cv_cc_op op;
	assert_int_equal(cv_cc_code_parse(NULL, "*20", &op), 0);
	assert_int_equal(op, CV_CC_OP_LOGIN);
	assert_int_equal(cv_cc_code_parse(NULL, "*23", &op), 0);
	assert_int_equal(op, CV_CC_OP_RESUME);
	assert_int_equal(cv_cc_code_parse(NULL, "*24", &op), CV_ENOTFOUND);
	assert_int_equal(cv_cc_code_parse(NULL, "", &op), CV_ENOTFOUND);
	struct cv_cc_codes codes = {.login = "#1", .pause = "#3"};
	assert_int_equal(cv_cc_code_parse(&codes, "#3", &op), 0);
	assert_int_equal(op, CV_CC_OP_PAUSE);
	assert_int_equal(cv_cc_code_parse(&codes, "*20", &op), CV_ENOTFOUND);
	assert_int_equal(cv_cc_code_parse(&codes, "*21", &op), 0);
	assert_int_equal(op, CV_CC_OP_LOGOUT);
	enum cv_cc_strategy s;
	for (int i = 0; i < CV_CC_STRATEGY_COUNT; i++) {
		assert_int_equal(
			cv_cc_strategy_parse(
				cv_cc_strategy_name((enum cv_cc_strategy)i),
				&s),
			0);
		assert_int_equal(s, i);
	}
	assert_int_equal(cv_cc_strategy_parse("linear", &s), CV_ENOTFOUND);
	struct cv_cc_target t;
	assert_int_equal(cv_cc_target_parse("sips:a@b", &t), 0);
	assert_int_equal(t.kind, CV_CC_TARGET_URI);
	assert_string_equal(t.value, "sips:a@b");
	assert_int_equal(cv_cc_target_parse("user:bob", &t), 0);
	assert_string_equal(t.value, "bob");
	assert_int_equal(cv_cc_target_parse(NULL, &t), 0);
	assert_int_equal(t.kind, CV_CC_TARGET_HANGUP);
	assert_int_equal(cv_cc_target_parse("queue:", &t), -EINVAL);
	assert_int_equal(cv_cc_target_parse("user:a b", &t), -EINVAL);
	assert_string_equal(cv_cc_agent_state_name(CV_CC_AGENT_WRAP_UP),
			    "wrap-up");
	/* the engine runs the op of a dialled code */
	const struct cv_cc_queue_params q[] = {Q("q", CV_CC_RANDOM)};
	start(q, 1);
	assert_int_equal(cv_cc_code_parse(NULL, "*20", &op), 0);
	assert_int_equal(cv_cc_agent_op(CC, "a2", op), 0);
	assert_int_equal(st("a2"), CV_CC_AGENT_AVAILABLE);
	assert_int_equal(cv_cc_agent_op(CC, "a2", CV_CC_OP_PAUSE), 0);
	struct cv_cc_agent_stats as;
	cv_cc_agent_stats(CC, "a2", &as);
	assert_string_equal(as.reason, "feature code");
	assert_int_equal(cv_cc_agent_op(CC, "a2", CV_CC_OP_RESUME), 0);
	assert_int_equal(st("a2"), CV_CC_AGENT_AVAILABLE);
	/* the engine's own codes */
	cv_cc_destroy(CC);
	CC = NULL;
	struct cv_cc_params p = {.codes = {.pause = "#7", .resume = "#8"}};
	start_with(&p, agents3, 3, q, 1);
	assert_int_equal(cv_cc_agent_dial(CC, "a3", "*20"), 0);
	assert_int_equal(cv_cc_agent_dial(CC, "a3", "#7"), 0);
	assert_int_equal(st("a3"), CV_CC_AGENT_PAUSED);
	assert_int_equal(cv_cc_agent_dial(CC, "a3", "*22"), CV_ENOTFOUND);
	assert_int_equal(cv_cc_agent_dial(CC, "a3", "#8"), 0);
	assert_int_equal(st("a3"), CV_CC_AGENT_AVAILABLE);
	assert_int_equal(cv_cc_agent_dial(CC, "a3", "*21"), 0);
	assert_int_equal(st("a3"), CV_CC_AGENT_LOGGED_OUT);
	assert_int_equal(cv_cc_agent_dial(CC, "nobody", "*20"), CV_ENOTFOUND);
	/* duplicate codes are refused */
	struct cv_cc *bad;
	struct cv_cc_params bp = {
		.wheel = W, .handlers = &g_handlers, .codes = {.login = "*21"}};
	assert_int_equal(cv_cc_create(&bad, &bp), -EINVAL);
	bp.codes.login = "";
	assert_int_equal(cv_cc_create(&bad, &bp), -EINVAL);
}

static void test_announce(void **state)
{
	const struct cv_cc_queue_params q[] = {
		Q("q", CV_CC_LONGEST_IDLE, .announce_ms = 30000)};
	start(q, 1);
	cv_cc_agent_login(CC, "a1", NULL);
	cv_cc_agent_pause(CC, "a1", NULL);
	uint64_t c1 = join("q", "c1", 0);
	adv_ms(10000);
	uint64_t c2 = join("q", "c2", 0);
	adv_ms(20000);
	assert_int_equal(g_last(&G, G_ANNOUNCE, c1)->position, 1);
	assert_null(g_last(&G, G_ANNOUNCE, c2));
	adv_ms(10000);
	assert_int_equal(g_last(&G, G_ANNOUNCE, c2)->position, 2);
	assert_int_equal(cv_cc_caller_hangup(CC, c1), 0);
	adv_ms(30000);
	assert_int_equal(g_last(&G, G_ANNOUNCE, c2)->position, 1);
	assert_int_equal(g_count(&G, G_ANNOUNCE), 3);
}

static void test_stats_json(void **state)
{
	const struct cv_cc_queue_params q[] = {Q("sales", CV_CC_LONGEST_IDLE)};
	start(q, 1);
	login_all();
	uint64_t c = join("sales", "c", 0);
	serve("a1", c, 2000);
	json_t *j = NULL;
	assert_int_equal(cv_cc_stats_json(CC, &j), 0);
	json_t *qs = json_object_get(json_object_get(j, "queues"), "sales");
	assert_non_null(qs);
	assert_int_equal(json_integer_value(json_object_get(qs, "answered")),
			 1);
	assert_string_equal(json_string_value(json_object_get(qs, "strategy")),
			    "longest-idle");
	json_t *a1 = json_object_get(json_object_get(j, "agents"), "a1");
	assert_string_equal(json_string_value(json_object_get(a1, "state")),
			    "available");
	assert_true(json_real_value(json_object_get(a1, "talk_s")) == 2.0);
	json_t *tot = json_object_get(j, "totals");
	assert_int_equal(json_integer_value(json_object_get(tot, "joined")), 1);
	json_decref(j);
}

/* ---- store and bus output
 * ------------------------------------------------------ */

static void test_store_and_bus(void **state)
{
	struct cv_store *s;
	struct cv_store_params sp = {.url = "sqlite::memory:"};
	assert_int_equal(cv_store_open(&s, &sp), 0);
	struct cv_bus *bus;
	assert_int_equal(cv_bus_create(&bus, NULL), 0);
	const struct cv_cc_queue_params q[] = {Q("sales", CV_CC_LONGEST_IDLE,
						 .max_wait_ms = 60000,
						 .overflow = "user:bob")};
	struct cv_cc_params p = {
		.store = s, .bus = bus, .stats_period_ms = 60000};
	start_with(&p, agents3, 3, q, 1);
	login_all();
	uint64_t c = join("sales", "c-ok", 0);
	serve("a1", c, 2000);
	cv_cc_agent_pause(CC, "a2", "lunch");
	cv_cc_agent_pause(CC, "a3", NULL);
	c = join("sales", "c-abandon", 3);
	adv_ms(1000);
	cv_cc_caller_hangup(CC, c);
	join("sales", "c-over", 0);
	cv_cc_agent_pause(CC, "a1", NULL);
	adv_ms(60000); /* overflow, and a statistics snapshot */
	uint64_t published = cv_bus_published(bus);
	/* agent states (login x3, offered, on-call, available, pauses...)
	 * and queue events (3 joined, left, abandoned, overflowed) */
	assert_true(published >= 12);
	cv_cc_destroy(CC);
	CC = NULL;

	struct cv_store_res *res = NULL;
	assert_int_equal(cv_store_agent_get(s, "a2", CV_STORE_SYNC(&res)), 0);
	assert_int_equal(res->agents[0].state, CV_STORE_AGENT_PAUSED);
	assert_string_equal(res->agents[0].reason, "lunch");
	assert_int_equal(res->agents[0].nskills, 1);
	cv_mem_unref(res);
	struct cv_store_query qq = {.key = "sales"};
	assert_int_equal(cv_store_qcall_list(s, &qq, CV_STORE_SYNC(&res)), 0);
	assert_int_equal(res->n, 3);
	int seen[CV_STORE_OUTCOME_COUNT] = {0};
	for (size_t i = 0; i < res->n; i++) {
		const struct cv_store_qcall *r = &res->qcalls[i];
		seen[r->outcome]++;
		if (r->outcome == CV_STORE_OUTCOME_ANSWERED) {
			assert_string_equal(r->agent, "a1");
			assert_string_equal(r->call_id, "c-ok");
			assert_int_equal(r->handle_us, 2000000);
		} else if (r->outcome == CV_STORE_OUTCOME_ABANDONED) {
			assert_int_equal(r->priority, 3);
			assert_int_equal(r->wait_us, 1000000);
		} else {
			assert_string_equal(r->overflow_target, "user:bob");
		}
	}
	assert_int_equal(seen[0], 1);
	assert_int_equal(seen[1], 1);
	assert_int_equal(seen[2], 1);
	cv_mem_unref(res);
	struct cv_store_query sq = {.key = "queue", .key2 = "sales"};
	assert_int_equal(cv_store_stat_list(s, &sq, CV_STORE_SYNC(&res)), 0);
	assert_true(res->n >= 1);
	json_t *d = json_loads(res->stats[0].data, 0, NULL);
	assert_non_null(d);
	assert_int_equal(json_integer_value(json_object_get(d, "joined")), 3);
	json_decref(d);
	cv_mem_unref(res);
	assert_int_equal(cv_store_queue_get(s, "sales", CV_STORE_SYNC(&res)),
			 0);
	assert_string_equal(res->queues[0].strategy, "longest-idle");
	cv_mem_unref(res);
	cv_store_close(s);
	cv_bus_destroy(bus);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_longest_idle, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_round_robin, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_fewest_calls, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_least_talk_time, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_random, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ring_all, setup, teardown),
		cmocka_unit_test_setup_teardown(test_skills_best_match, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_skills_relax, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_priority, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overflow_max_wait, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_overflow_max_len, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_overflow_no_agents, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_overflow_to_queue_and_hangup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overflow_chain_bounded,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_ring_timeout_and_auto_pause, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_bridge_failed_requeues_at_head, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bridge_failed_nobody_left,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_pause_while_ringing, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_wrapup, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_logout_while_offered_or_on_call, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_devices, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_hangup_at_every_step,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_reentrant_glue, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_many_waiting_bounded,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_misconfigured, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_codes_and_names, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_announce, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stats_json, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_store_and_bus, setup,
						teardown),
	};
	cv_log_set_level(CV_LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
