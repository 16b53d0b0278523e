/* Routing decision time of the call center engine.
 *
 * A decision happens in one of two shapes, because the engine never leaves
 * a waiting caller and an offerable agent unpaired:
 *  A. an agent becomes available while W callers wait (heap of W callers,
 *     measured: cv_cc_agent_resume() -> offer), and
 *  B. a caller arrives while N agents are available (heap of N agents,
 *     measured: cv_cc_caller_join() -> offer), here with another 10,000
 *     callers waiting in a second queue so the engine's tables are full.
 * Each figure is the whole engine input (state bookkeeping, allocation,
 * timers, the decision and the queued action), so the decision alone is
 * cheaper. Usage: bench_callcenter [--quick]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cvoip/callcenter.h"
#include "cvoip/runtime.h"

static uint64_t offers;

static void on_offer(struct cv_cc *cc, const struct cv_cc_offer_view *o,
		     void *arg)
{
	offers++;
}

static const struct cv_cc_handlers handlers = {.offer = on_offer};

static uint64_t ns_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void report(const char *shape, const char *strategy, size_t agents,
		   size_t waiting, uint64_t *s, size_t n)
{
	qsort(s, n, sizeof(*s), cmp_u64);
	uint64_t sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += s[i];
	printf("%-2s %-16s agents %6zu waiting %6zu  mean %7.2f us  p50 %7.2f "
	       "us  p99 %7.2f us  (n=%zu)\n",
	       shape, strategy, agents, waiting, (double)sum / (double)n / 1e3,
	       (double)s[n / 2] / 1e3, (double)s[n * 99 / 100] / 1e3, n);
}

struct setup {
	struct cv_wheel *w;
	struct cv_cc *cc;
	struct cv_cc_agent_params *ag;
	struct cv_cc_skill *sk;
	char (*names)[32];
};

static const char *const langs[] = {"english", "spanish", "german", "french"};

static void build(struct setup *s, enum cv_cc_strategy strat, size_t n)
{
	memset(s, 0, sizeof(*s));
	if (cv_wheel_create(&s->w, NULL, 1000))
		abort();
	struct cv_cc_params p = {.wheel = s->w,
				 .handlers = &handlers,
				 .seed = 1,
				 .max_callers = 200000};
	if (cv_cc_create(&s->cc, &p))
		abort();
	s->ag = calloc(n + 1, sizeof(*s->ag));
	s->sk = calloc((n + 1) * 2, sizeof(*s->sk));
	s->names = calloc(n + 1, sizeof(*s->names));
	uint64_t r = 12345;
	for (size_t i = 0; i < n; i++) {
		r = r * 6364136223846793005ull + 1442695040888963407ull;
		snprintf(s->names[i], sizeof(s->names[i]), "ag%zu", i);
		s->sk[2 * i] = (struct cv_cc_skill){
			"english", (uint8_t)(1 + (r >> 33) % 10)};
		s->sk[2 * i + 1] =
			(struct cv_cc_skill){langs[1 + (r >> 40) % 3],
					     (uint8_t)(1 + (r >> 45) % 10)};
		s->ag[i] = (struct cv_cc_agent_params){.name = s->names[i],
						       .skills = &s->sk[2 * i],
						       .nskills = 2};
	}
	/* the parker: only member of "park", kept paused */
	snprintf(s->names[n], sizeof(s->names[n]), "parker");
	s->sk[2 * n] = (struct cv_cc_skill){"park", 1};
	s->ag[n] = (struct cv_cc_agent_params){
		.name = s->names[n], .skills = &s->sk[2 * n], .nskills = 1};
	static const struct cv_cc_skill req_en[] = {{"english", 1}};
	static const struct cv_cc_skill req_park[] = {{"park", 1}};
	struct cv_cc_queue_params qs[2] = {
		{.name = "q",
		 .strategy = strat,
		 .max_len = 100000,
		 .required = req_en,
		 .nrequired = 1},
		{.name = "park",
		 .strategy = CV_CC_LONGEST_IDLE,
		 .max_len = 100000,
		 .required = req_park,
		 .nrequired = 1},
	};
	struct cv_cc_config cfg = {s->ag, n + 1, qs, 2};
	struct cv_cc_cfg_err err;
	if (cv_cc_configure(s->cc, &cfg, &err)) {
		fprintf(stderr, "configure: %s\n", err.msg);
		abort();
	}
}

static void teardown(struct setup *s)
{
	cv_cc_destroy(s->cc);
	cv_wheel_destroy(s->w);
	free(s->ag);
	free(s->sk);
	free(s->names);
}

/* B: caller arrives, n agents available, 10,000 parked callers. */
static void shape_b(enum cv_cc_strategy strat, size_t n, size_t iters)
{
	struct setup s;
	build(&s, strat, n);
	cv_cc_agent_login(s.cc, "parker", NULL);
	cv_cc_agent_pause(s.cc, "parker", NULL);
	struct cv_cc_join pj = {.queue = "park", .caller = "sip:p@x"};
	uint64_t id;
	for (int i = 0; i < 10000; i++)
		if (cv_cc_caller_join(s.cc, &pj, &id))
			abort();
	for (size_t i = 0; i < n; i++)
		cv_cc_agent_login(s.cc, s.names[i], NULL);
	uint64_t *smp = calloc(iters, sizeof(*smp));
	struct cv_cc_join j = {
		.queue = "q", .caller = "sip:c@x", .call_id = "bench"};
	for (size_t i = 0; i < iters; i++) {
		uint64_t before = offers;
		uint64_t t0 = ns_now();
		if (cv_cc_caller_join(s.cc, &j, &id))
			abort();
		smp[i] = ns_now() - t0;
		if (offers == before)
			abort(); /* no decision made */
		/* untimed: the caller hangs up, the agent is free again */
		cv_cc_caller_hangup(s.cc, id);
	}
	report("B", cv_cc_strategy_name(strat), n, 10000, smp, iters);
	free(smp);
	teardown(&s);
}

/* A: an agent frees up while 10,000 callers wait in its queue. */
static void shape_a(enum cv_cc_strategy strat, size_t n)
{
	struct setup s;
	build(&s, strat, n);
	for (size_t i = 0; i < n; i++) {
		cv_cc_agent_login(s.cc, s.names[i], NULL);
		cv_cc_agent_pause(s.cc, s.names[i], NULL);
	}
	struct cv_cc_join j = {.queue = "q", .caller = "sip:c@x"};
	uint64_t id;
	for (int i = 0; i < 10000; i++) {
		j.priority = i % 5;
		if (cv_cc_caller_join(s.cc, &j, &id))
			abort();
	}
	uint64_t *smp = calloc(n, sizeof(*smp));
	for (size_t i = 0; i < n; i++) {
		uint64_t before = offers;
		uint64_t t0 = ns_now();
		cv_cc_agent_resume(s.cc, s.names[i]);
		smp[i] = ns_now() - t0;
		if (offers == before)
			abort();
	}
	report("A", cv_cc_strategy_name(strat), n, 10000, smp, n);
	free(smp);
	teardown(&s);
}

int main(int argc, char **argv)
{
	bool quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
	size_t iters = quick ? 2000 : 20000;
	cv_log_set_level(CV_LOG_ERROR);
	printf("# one routing decision, 1,000 agents, 10,000 waiting "
	       "callers\n");
	for (int st = 0; st < CV_CC_STRATEGY_COUNT; st++) {
		enum cv_cc_strategy s = (enum cv_cc_strategy)st;
		shape_a(s, 1000);
		/* ring-all offers every available agent: O(agents) by nature */
		shape_b(s, 1000, s == CV_CC_RING_ALL ? iters / 20 : iters);
	}
	printf("# scaling with agents (shape B, 10,000 callers parked)\n");
	size_t sizes[] = {100, 1000, 10000};
	for (int st = 0; st < CV_CC_STRATEGY_COUNT; st++) {
		if (st == CV_CC_RING_ALL)
			continue;
		for (size_t k = 0; k < 3; k++)
			shape_b((enum cv_cc_strategy)st, sizes[k], iters);
	}
	for (size_t k = 0; k < 3; k++)
		shape_b(CV_CC_RING_ALL, sizes[k], quick ? 20 : 100);
	return 0;
}
