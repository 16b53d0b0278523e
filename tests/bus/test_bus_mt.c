/* base/bus with several publisher threads and subscriber loops on their own
 * threads: per-publisher order, no loss with CV_BUS_BLOCK, exact loss
 * accounting with CV_BUS_DROP, subscribe/unsubscribe while events flow.
 * Labelled tsan: `make tsan` runs it under ThreadSanitizer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cvoip/bus.h"

#define MAXPUB 16

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* ---- a subscriber on its own thread and loop
 * --------------------------------- */

struct lsub {
	struct cv_bus *bus;
	struct cv_bus_sub_params params;
	struct cv_bus_sub *sub;
	uv_loop_t loop;
	uv_async_t stop;
	pthread_t th;
	_Atomic int ready;
	_Atomic uint64_t received;
	_Atomic uint64_t order_errors;
	_Atomic uint64_t gaps; /* seq jumps: events lost in between */
	uint64_t last_seq[MAXPUB];
};

static void lsub_event(const struct cv_bus_event *ev, void *arg)
{
	struct lsub *l = arg;
	if (ev->publisher >= MAXPUB || ev->seq <= l->last_seq[ev->publisher]) {
		atomic_fetch_add(&l->order_errors, 1);
	} else {
		if (ev->seq != l->last_seq[ev->publisher] + 1)
			atomic_fetch_add(&l->gaps, 1);
		l->last_seq[ev->publisher] = ev->seq;
	}
	/* payload strings are readable and intact */
	if (ev->type != CV_BUS_QUALITY_REPORT ||
	    strcmp(ev->u.quality.call_id, "mt-call"))
		atomic_fetch_add(&l->order_errors, 1);
	atomic_fetch_add_explicit(&l->received, 1, memory_order_relaxed);
}

static void lsub_on_stop(uv_async_t *a)
{
	struct lsub *l = CV_CONTAINER_OF(a, struct lsub, stop);
	cv_bus_unsubscribe(l->sub);
	uv_close((uv_handle_t *)a, NULL);
}

static void *lsub_main(void *arg)
{
	struct lsub *l = arg;
	uv_loop_init(&l->loop);
	uv_async_init(&l->loop, &l->stop, lsub_on_stop);
	l->params.loop = &l->loop;
	l->params.fn = lsub_event;
	l->params.arg = l;
	if (cv_bus_subscribe(l->bus, &l->params, &l->sub)) {
		uv_close((uv_handle_t *)&l->stop, NULL);
		uv_run(&l->loop, UV_RUN_DEFAULT);
		uv_loop_close(&l->loop);
		atomic_store(&l->ready, -1);
		return NULL;
	}
	atomic_store(&l->ready, 1);
	uv_run(&l->loop, UV_RUN_DEFAULT);
	uv_loop_close(&l->loop);
	return NULL;
}

static void lsub_start(struct lsub *l)
{
	assert_int_equal(pthread_create(&l->th, NULL, lsub_main, l), 0);
	while (!atomic_load(&l->ready))
		sched_yield();
	assert_int_equal(atomic_load(&l->ready), 1);
}

static void lsub_stop(struct lsub *l)
{
	uv_async_send(&l->stop);
	pthread_join(l->th, NULL);
}

/* Waits (bounded) until the subscriber has received + dropped `total`. */
static bool lsub_wait(struct lsub *l, uint64_t total)
{
	for (int i = 0; i < 20000; i++) {
		if (atomic_load(&l->received) + cv_bus_sub_dropped(l->sub) >=
		    total)
			return true;
		sleep_ms(1);
	}
	return false;
}

/* ---- publishers
 * ------------------------------------------------------------------ */

struct pubctx {
	struct cv_bus *bus;
	unsigned count; /* 0: until stop */
	_Atomic bool *stop;
	_Atomic uint64_t *published;
	_Atomic uint64_t *full;
};

static void *publisher(void *arg)
{
	struct pubctx *p = arg;
	struct cv_bus_quality q = {
		.call_id = "mt-call", .stream = "audio", .mos = 4.2};
	for (unsigned i = 0; p->count ? i < p->count : !atomic_load(p->stop);
	     i++) {
		q.packets = i;
		int err = cv_bus_publish(p->bus, CV_BUS_QUALITY_REPORT, &q);
		if (err == CV_EFULL)
			atomic_fetch_add(p->full, 1);
		else if (err)
			break;
		atomic_fetch_add(p->published, 1);
		if (!p->count && !(i & 255))
			sched_yield();
	}
	return NULL;
}

#define NPUB	4
#define PER_PUB 20000

static void test_publishers_block_and_drop(void **state)
{
	int64_t live0 = cv_mem_live();
	struct cv_metrics *m;
	assert_int_equal(cv_metrics_create(&m, NULL), 0);
	struct cv_bus *bus;
	assert_int_equal(
		cv_bus_create(&bus,
			      &(struct cv_bus_params){
				      .metrics = m, .max_publishers = MAXPUB}),
		0);

	/* two lossless subscribers with small rings (plenty of back-pressure),
	 * one dropping subscriber with a tiny ring */
	struct lsub b1 = {.bus = bus,
			  .params = {.name = "b1",
				     .queue_cap = 64,
				     .overflow = CV_BUS_BLOCK,
				     .block_us = 5000000}};
	struct lsub b2 = {.bus = bus,
			  .params = {.name = "b2",
				     .queue_cap = 256,
				     .overflow = CV_BUS_BLOCK,
				     .block_us = 5000000,
				     .batch = 16}};
	struct lsub d1 = {.bus = bus,
			  .params = {.name = "d1",
				     .queue_cap = 8,
				     .overflow = CV_BUS_DROP,
				     .batch = 4}};
	lsub_start(&b1);
	lsub_start(&b2);
	lsub_start(&d1);

	_Atomic bool stop = false;
	_Atomic uint64_t published = 0, full = 0;
	struct pubctx pc = {.bus = bus,
			    .count = PER_PUB,
			    .stop = &stop,
			    .published = &published,
			    .full = &full};
	pthread_t th[NPUB];
	for (int i = 0; i < NPUB; i++)
		assert_int_equal(pthread_create(&th[i], NULL, publisher, &pc),
				 0);
	for (int i = 0; i < NPUB; i++)
		pthread_join(th[i], NULL);
	uint64_t total = (uint64_t)NPUB * PER_PUB;
	assert_int_equal(atomic_load(&published), total);
	assert_int_equal(cv_bus_published(bus), total);

	assert_true(lsub_wait(&b1, total));
	assert_true(lsub_wait(&b2, total));
	assert_true(lsub_wait(&d1, total));
	/* lossless: everything, in order, without gaps */
	assert_int_equal(atomic_load(&b1.received), total);
	assert_int_equal(atomic_load(&b2.received), total);
	assert_int_equal(cv_bus_sub_dropped(b1.sub), 0);
	assert_int_equal(cv_bus_sub_dropped(b2.sub), 0);
	assert_int_equal(atomic_load(&b1.gaps), 0);
	assert_int_equal(atomic_load(&b2.gaps), 0);
	assert_int_equal(atomic_load(&b1.order_errors), 0);
	assert_int_equal(atomic_load(&b2.order_errors), 0);
	/* dropping: in order, and every event is either delivered or counted */
	assert_int_equal(atomic_load(&d1.order_errors), 0);
	assert_int_equal(atomic_load(&d1.received) + cv_bus_sub_dropped(d1.sub),
			 total);
	assert_int_equal(cv_bus_sub_delivered(d1.sub),
			 atomic_load(&d1.received));
	assert_int_equal(atomic_load(&full), cv_bus_sub_dropped(d1.sub));

	/* the loss counter is the metric */
	struct cv_buf out;
	cv_buf_init(&out, 0);
	assert_int_equal(cv_metrics_render(m, &out), 0);
	char line[128];
	snprintf(line, sizeof(line),
		 "cvoip_bus_dropped_total{topic=\"quality\",subscriber=\"d1\"} "
		 "%llu\n",
		 (unsigned long long)cv_bus_sub_dropped(d1.sub));
	assert_non_null(strstr(out.data, line));
	snprintf(line, sizeof(line),
		 "cvoip_bus_delivered_total{subscriber=\"b1\"} %llu\n",
		 (unsigned long long)total);
	assert_non_null(strstr(out.data, line));
	cv_buf_free(&out);

	lsub_stop(&b1);
	lsub_stop(&b2);
	lsub_stop(&d1);
	assert_int_equal(cv_bus_live_events(), 0);
	cv_bus_destroy(bus);
	cv_metrics_destroy(m);
	assert_int_equal(cv_mem_live(), live0);
}

/* ---- subscribe/unsubscribe churn while publishers run ----------------------
 */

struct churn {
	struct cv_bus *bus;
	uv_loop_t loop;
	unsigned rounds;
	_Atomic uint64_t order_errors;
	_Atomic uint64_t received;
	_Atomic uint64_t self_removed;
};

struct csub {
	struct churn *c;
	struct cv_bus_sub *sub;
	uint64_t last_seq[MAXPUB];
	unsigned n;
	unsigned unsub_after; /* 0: never from the callback */
};

static void churn_event(const struct cv_bus_event *ev, void *arg)
{
	struct csub *cs = arg;
	if (!cs->sub) { /* removed: a callback must never come */
		atomic_fetch_add(&cs->c->order_errors, 1);
		return;
	}
	if (ev->publisher >= MAXPUB || ev->seq <= cs->last_seq[ev->publisher])
		atomic_fetch_add(&cs->c->order_errors, 1);
	else
		cs->last_seq[ev->publisher] = ev->seq;
	atomic_fetch_add_explicit(&cs->c->received, 1, memory_order_relaxed);
	if (++cs->n == cs->unsub_after) {
		cv_bus_unsubscribe(cs->sub);
		cs->sub = NULL;
		atomic_fetch_add(&cs->c->self_removed, 1);
	}
}

static void *churn_main(void *arg)
{
	struct churn *c = arg;
	uv_loop_init(&c->loop);
	struct csub subs[4];
	/* At least `rounds` rounds, and on until a subscription removed itself
	 * from its callback (a loaded machine may starve the publishers for a
	 * while), bounded at 10 s. */
	uint64_t t_end = uv_hrtime() + 10000000000ull;
	for (unsigned r = 0; r < c->rounds || (!atomic_load(&c->self_removed) &&
					       uv_hrtime() < t_end);
	     r++) {
		memset(subs, 0, sizeof(subs));
		for (unsigned i = 0; i < 4; i++) {
			subs[i].c = c;
			subs[i].unsub_after = (i == 3) ? 1 + r % 7 : 0;
			int err = cv_bus_subscribe(
				c->bus,
				&(struct cv_bus_sub_params){
					.loop = &c->loop,
					.fn = churn_event,
					.arg = &subs[i],
					.name = "churn",
					.queue_cap = 16,
					.overflow = i & 1 ? CV_BUS_BLOCK
							  : CV_BUS_DROP,
					.block_us = 2000},
				&subs[i].sub);
			if (err)
				atomic_fetch_add(&c->order_errors, 1);
		}
		for (unsigned k = 0; k < 1 + r % 3; k++) {
			uv_run(&c->loop, UV_RUN_NOWAIT);
			sched_yield();
		}
		for (unsigned i = 0; i < 4; i++) {
			if (subs[i].sub) {
				cv_bus_unsubscribe(subs[i].sub);
				subs[i].sub = NULL;
			}
		}
		/* runs the close callbacks: subs[] may be reused after this */
		uv_run(&c->loop, UV_RUN_DEFAULT);
	}
	uv_loop_close(&c->loop);
	return NULL;
}

static void test_churn_while_publishing(void **state)
{
	int64_t live0 = cv_mem_live();
	struct cv_bus *bus;
	assert_int_equal(
		cv_bus_create(&bus, &(struct cv_bus_params){.max_publishers =
								    MAXPUB}),
		0);
	_Atomic bool stop = false;
	_Atomic uint64_t published = 0, full = 0;
	struct pubctx pc = {.bus = bus,
			    .stop = &stop,
			    .published = &published,
			    .full = &full};
	pthread_t th[3], ch[2];
	for (int i = 0; i < 3; i++)
		assert_int_equal(pthread_create(&th[i], NULL, publisher, &pc),
				 0);
	/* churn once events flow */
	for (int i = 0; i < 10000 && atomic_load(&published) < 1000; i++)
		sleep_ms(1);
	struct churn c[2] = {{.bus = bus, .rounds = 150},
			     {.bus = bus, .rounds = 150}};
	for (int i = 0; i < 2; i++)
		assert_int_equal(
			pthread_create(&ch[i], NULL, churn_main, &c[i]), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(ch[i], NULL);
	atomic_store(&stop, true);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(atomic_load(&c[i].order_errors), 0);
		assert_true(atomic_load(&c[i].received) > 0);
		assert_true(atomic_load(&c[i].self_removed) > 0);
	}
	assert_true(atomic_load(&published) > 0);
	assert_int_equal(cv_bus_live_events(), 0);
	cv_bus_destroy(bus);
	assert_int_equal(cv_mem_live(), live0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_publishers_block_and_drop),
		cmocka_unit_test(test_churn_while_publishing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
