/*
 * Event bus benchmark (issue 3): one publisher, 1 and 5 subscribers on
 * their own threads, lossless mode (CV_BUS_BLOCK). Measured in the same run
 * against a plain mutex+condvar bounded queue per subscriber carrying the
 * same refcounted events (BENCHMARKING.md: a ratio taken side by side).
 *
 * Figures: deliveries per second (events x subscribers, from the first
 * publish to the last callback), p50/p99 latency publish -> callback
 * (sampled on every 64th event), events lost (must be 0).
 *
 *   bench_bus [events-per-run] [trials] [subscribers]
 * CV_BENCH_BUS_ONLY=1 skips the baseline (profiling).
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "cvoip/bus.h"

#define SAMPLE_EVERY 64u
/* Paced runs (latency without queueing): bursts of PACE_BURST events every
 * PACE_NS, i.e. 100k events/s (below the baseline's capacity too), every
 * event time-stamped. */
#define PACE_BURST 10u
#define PACE_NS	   100000u

static bool paced;
#define QUEUE_CAP 4096u

struct stats {
	uint64_t n;	/* events received */
	uint64_t t_end; /* hrtime of the last one */
	uint64_t *lat;	/* ns samples */
	size_t nlat, maxlat;
};

static inline void on_payload(struct stats *st, const struct cv_bus_event *ev,
			      uint64_t total)
{
	if (ev->u.quality.packets && st->nlat < st->maxlat)
		st->lat[st->nlat++] = uv_hrtime() - ev->u.quality.packets;
	if (++st->n == total)
		st->t_end = uv_hrtime();
}

/* ---- cvoip bus subscriber ---------------------------------------------------
 */

struct bsub {
	struct cv_bus *bus;
	struct cv_bus_sub *sub;
	uv_loop_t loop;
	uv_async_t stop;
	pthread_t th;
	_Atomic int ready;
	_Atomic bool done;
	uint64_t total;
	struct stats st;
};

static void bsub_event(const struct cv_bus_event *ev, void *arg)
{
	struct bsub *b = arg;
	on_payload(&b->st, ev, b->total);
	if (b->st.n == b->total)
		atomic_store_explicit(&b->done, true, memory_order_release);
}

static void bsub_stop(uv_async_t *a)
{
	struct bsub *b = CV_CONTAINER_OF(a, struct bsub, stop);
	cv_bus_unsubscribe(b->sub);
	uv_close((uv_handle_t *)a, NULL);
}

static void *bsub_main(void *arg)
{
	struct bsub *b = arg;
	uv_loop_init(&b->loop);
	uv_async_init(&b->loop, &b->stop, bsub_stop);
	int err = cv_bus_subscribe(
		b->bus,
		&(struct cv_bus_sub_params){
			.loop = &b->loop,
			.fn = bsub_event,
			.arg = b,
			.name = "bench",
			.topics = CV_BUS_MASK(CV_BUS_TOPIC_QUALITY),
			.queue_cap = QUEUE_CAP,
			.overflow = CV_BUS_BLOCK,
			.block_us = 10000000},
		&b->sub);
	if (err) {
		fprintf(stderr, "subscribe: %s\n", cv_strerror(err));
		exit(1);
	}
	atomic_store(&b->ready, 1);
	uv_run(&b->loop, UV_RUN_DEFAULT);
	uv_loop_close(&b->loop);
	return NULL;
}

/* ---- baseline: mutex + condvar bounded queue
 * ------------------------------------ */

struct mq {
	pthread_mutex_t mu;
	pthread_cond_t not_empty, not_full;
	struct cv_bus_event *ring[QUEUE_CAP];
	size_t head, len;
	pthread_t th;
	uint64_t total;
	struct stats st;
};

static void mq_push(struct mq *q, struct cv_bus_event *ev)
{
	pthread_mutex_lock(&q->mu);
	while (q->len == QUEUE_CAP)
		pthread_cond_wait(&q->not_full, &q->mu);
	q->ring[(q->head + q->len) % QUEUE_CAP] = ev;
	q->len++;
	pthread_cond_signal(&q->not_empty);
	pthread_mutex_unlock(&q->mu);
}

static struct cv_bus_event *mq_pop(struct mq *q)
{
	pthread_mutex_lock(&q->mu);
	while (!q->len)
		pthread_cond_wait(&q->not_empty, &q->mu);
	struct cv_bus_event *ev = q->ring[q->head];
	q->head = (q->head + 1) % QUEUE_CAP;
	q->len--;
	pthread_cond_signal(&q->not_full);
	pthread_mutex_unlock(&q->mu);
	return ev;
}

static void *mq_main(void *arg)
{
	struct mq *q = arg;
	while (q->st.n < q->total) {
		struct cv_bus_event *ev = mq_pop(q);
		on_payload(&q->st, ev, q->total);
		cv_bus_event_unref(ev);
	}
	return NULL;
}

/* ---- runs
 * ------------------------------------------------------------------------ */

struct result {
	double deliveries_per_s;
	double cpu_ns; /* process CPU (all threads) per delivery */
	double p50_us, p99_us;
	uint64_t lost;
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static uint64_t cpu_now_ns(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) *
		       1000000000u +
	       ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) *
		       1000u;
}

static void stats_init(struct stats *st, uint64_t events)
{
	memset(st, 0, sizeof(*st));
	st->maxlat = paced ? events + 1 : events / SAMPLE_EVERY + 1;
	st->lat = malloc(st->maxlat * sizeof(uint64_t));
}

static void finish(struct result *r, struct stats **sts, unsigned nsubs,
		   uint64_t events, uint64_t t0)
{
	uint64_t t_end = 0;
	size_t n = 0;
	for (unsigned i = 0; i < nsubs; i++) {
		t_end = CV_MAX(t_end, sts[i]->t_end);
		n += sts[i]->nlat;
	}
	uint64_t *all = malloc((n ? n : 1) * sizeof(uint64_t));
	size_t k = 0;
	for (unsigned i = 0; i < nsubs; i++) {
		memcpy(all + k, sts[i]->lat, sts[i]->nlat * sizeof(uint64_t));
		k += sts[i]->nlat;
		free(sts[i]->lat);
	}
	qsort(all, n, sizeof(uint64_t), cmp_u64);
	r->deliveries_per_s =
		(double)events * nsubs / ((double)(t_end - t0) / 1e9);
	r->p50_us = n ? (double)all[n / 2] / 1000.0 : 0;
	r->p99_us = n ? (double)all[n * 99 / 100] / 1000.0 : 0;
	free(all);
}

static void publish_all(uint64_t events,
			void (*post)(void *ctx, struct cv_bus_quality *q),
			void *ctx)
{
	struct cv_bus_quality q = {.call_id = "bench-call-0001@192.0.2.1",
				   .stream = "audio",
				   .loss_pct = 0.5,
				   .jitter_ms = 3.25,
				   .mos = 4.3};
	uint64_t t0 = uv_hrtime();
	for (uint64_t i = 0; i < events; i++) {
		if (paced && i % PACE_BURST == 0) {
			uint64_t due = t0 + i / PACE_BURST * PACE_NS;
			struct timespec ts = {(time_t)(due / 1000000000u),
					      (long)(due % 1000000000u)};
			/* uv_hrtime() is CLOCK_MONOTONIC */
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts,
					NULL);
		}
		q.lost = i;
		q.packets = (paced || i % SAMPLE_EVERY == 0) ? uv_hrtime() : 0;
		post(ctx, &q);
	}
}

static void bus_post_one(void *ctx, struct cv_bus_quality *q)
{
	int err = cv_bus_publish(ctx, CV_BUS_QUALITY_REPORT, q);
	if (err && err != CV_EFULL) {
		fprintf(stderr, "publish: %s\n", cv_strerror(err));
		exit(1);
	}
}

static struct result run_bus(unsigned nsubs, uint64_t events)
{
	struct cv_bus *bus;
	if (cv_bus_create(&bus, NULL))
		exit(1);
	struct bsub *subs = calloc(nsubs, sizeof(*subs));
	struct stats *sts[8];
	uint64_t cpu0 = cpu_now_ns();
	for (unsigned i = 0; i < nsubs; i++) {
		subs[i].bus = bus;
		subs[i].total = events;
		stats_init(&subs[i].st, events);
		sts[i] = &subs[i].st;
		pthread_create(&subs[i].th, NULL, bsub_main, &subs[i]);
		while (!atomic_load(&subs[i].ready))
			sched_yield();
	}
	uint64_t t0 = uv_hrtime();
	publish_all(events, bus_post_one, bus);
	struct result r = {0};
	for (unsigned i = 0; i < nsubs; i++) {
		while (!atomic_load_explicit(&subs[i].done,
					     memory_order_acquire)) {
			/* lossless mode: everything arrives; a drop would hang
			 * here, so bound the wait and report it */
			uint64_t lost = cv_bus_sub_dropped(subs[i].sub);
			if (lost) {
				r.lost += lost;
				break;
			}
			struct timespec ts = {0, 200000};
			nanosleep(&ts, NULL);
		}
	}
	for (unsigned i = 0; i < nsubs; i++) {
		r.lost += cv_bus_sub_dropped(subs[i].sub);
		uv_async_send(&subs[i].stop);
		pthread_join(subs[i].th, NULL);
	}
	r.cpu_ns = (double)(cpu_now_ns() - cpu0) / ((double)events * nsubs);
	finish(&r, sts, nsubs, events, t0);
	free(subs);
	cv_bus_destroy(bus);
	return r;
}

struct mq_ctx {
	struct mq *qs;
	unsigned n;
};

static void mq_post_one(void *ctx, struct cv_bus_quality *q)
{
	struct mq_ctx *c = ctx;
	struct cv_bus_event *ev;
	if (cv_bus_event_create(&ev, CV_BUS_QUALITY_REPORT, q))
		exit(1);
	for (unsigned i = 1; i < c->n; i++)
		cv_bus_event_ref(ev);
	for (unsigned i = 0; i < c->n; i++)
		mq_push(&c->qs[i], ev);
}

static struct result run_mutex(unsigned nsubs, uint64_t events)
{
	struct mq *qs = calloc(nsubs, sizeof(*qs));
	struct stats *sts[8];
	uint64_t cpu0 = cpu_now_ns();
	for (unsigned i = 0; i < nsubs; i++) {
		pthread_mutex_init(&qs[i].mu, NULL);
		pthread_cond_init(&qs[i].not_empty, NULL);
		pthread_cond_init(&qs[i].not_full, NULL);
		qs[i].total = events;
		stats_init(&qs[i].st, events);
		sts[i] = &qs[i].st;
		pthread_create(&qs[i].th, NULL, mq_main, &qs[i]);
	}
	struct mq_ctx c = {qs, nsubs};
	uint64_t t0 = uv_hrtime();
	publish_all(events, mq_post_one, &c);
	for (unsigned i = 0; i < nsubs; i++)
		pthread_join(qs[i].th, NULL);
	struct result r = {0};
	r.cpu_ns = (double)(cpu_now_ns() - cpu0) / ((double)events * nsubs);
	finish(&r, sts, nsubs, events, t0);
	for (unsigned i = 0; i < nsubs; i++) {
		pthread_mutex_destroy(&qs[i].mu);
		pthread_cond_destroy(&qs[i].not_empty);
		pthread_cond_destroy(&qs[i].not_full);
	}
	free(qs);
	return r;
}

static int cmp_res(const void *a, const void *b)
{
	double x = ((const struct result *)a)->deliveries_per_s;
	double y = ((const struct result *)b)->deliveries_per_s;
	return x < y ? -1 : x > y;
}

static int cmp_p50(const void *a, const void *b)
{
	double x = ((const struct result *)a)->p50_us;
	double y = ((const struct result *)b)->p50_us;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	uint64_t events = argc > 1 ? strtoull(argv[1], NULL, 10) : 2000000;
	unsigned trials = argc > 2 ? (unsigned)atoi(argv[2]) : 3;
	if (!events || !trials || trials > 15)
		return 2;
	unsigned subs_list[] = {1, 5};
	size_t nlist = CV_ARRAY_SIZE(subs_list);
	if (argc > 3) { /* one subscriber count only */
		subs_list[0] = (unsigned)atoi(argv[3]);
		nlist = 1;
		if (!subs_list[0] || subs_list[0] > 8)
			return 2;
	}
	printf("# event bus: 1 publisher, events per run %llu, median of %u "
	       "trials "
	       "(min-max), lossless mode\n",
	       (unsigned long long)events, trials);
	printf("%-5s %-11s %13s %16s %9s %9s %9s %5s\n", "subs", "queue",
	       "deliveries/s", "(min-max)", "cpu_ns/d", "p50_us", "p99_us",
	       "lost");
	int rc = 0;
	for (size_t s = 0; s < nlist; s++) {
		unsigned n = subs_list[s];
		struct result rb[15], rm[15];
		for (unsigned t = 0; t < trials; t++) { /* interleaved */
			rb[t] = run_bus(n, events);
			rm[t] = getenv("CV_BENCH_BUS_ONLY")
					? rb[t]
					: run_mutex(n, events);
		}
		qsort(rb, trials, sizeof(rb[0]), cmp_res);
		qsort(rm, trials, sizeof(rm[0]), cmp_res);
		uint64_t lost = 0;
		for (unsigned t = 0; t < trials; t++)
			lost += rb[t].lost;
		const struct result *mb = &rb[trials / 2],
				    *mm = &rm[trials / 2];
		char range[48];
		snprintf(range, sizeof(range), "(%.1fM-%.1fM)",
			 rb[0].deliveries_per_s / 1e6,
			 rb[trials - 1].deliveries_per_s / 1e6);
		printf("%-5u %-11s %12.1fM %16s %9.1f %9.1f %9.1f %5llu\n", n,
		       "cvoip-bus", mb->deliveries_per_s / 1e6, range,
		       mb->cpu_ns, mb->p50_us, mb->p99_us,
		       (unsigned long long)lost);
		snprintf(range, sizeof(range), "(%.1fM-%.1fM)",
			 rm[0].deliveries_per_s / 1e6,
			 rm[trials - 1].deliveries_per_s / 1e6);
		printf("%-5u %-11s %12.1fM %16s %9.1f %9.1f %9.1f %5s\n", n,
		       "mutex+cond", mm->deliveries_per_s / 1e6, range,
		       mm->cpu_ns, mm->p50_us, mm->p99_us, "0");
		printf("%-5u ratio bus/mutex: %.1fx deliveries/s, %.1fx less "
		       "CPU per delivery\n",
		       n, mb->deliveries_per_s / mm->deliveries_per_s,
		       mm->cpu_ns / mb->cpu_ns);
		if (lost)
			rc = 1;
	}
	/* latency without queueing: paced publisher, median of the trials */
	uint64_t pevents = events / 20 < 50000 ? events / 20 : 50000;
	paced = true;
	printf("# latency at %u events/s (paced), %llu events per run\n",
	       (unsigned)(PACE_BURST * 1000000000ull / PACE_NS),
	       (unsigned long long)pevents);
	printf("%-5s %-11s %9s %9s\n", "subs", "queue", "p50_us", "p99_us");
	for (size_t s = 0; s < nlist; s++) {
		unsigned n = subs_list[s];
		struct result rb[15], rm[15];
		for (unsigned t = 0; t < trials; t++) {
			rb[t] = run_bus(n, pevents);
			rm[t] = getenv("CV_BENCH_BUS_ONLY")
					? rb[t]
					: run_mutex(n, pevents);
		}
		qsort(rb, trials, sizeof(rb[0]), cmp_p50);
		qsort(rm, trials, sizeof(rm[0]), cmp_p50);
		printf("%-5u %-11s %9.1f %9.1f\n", n, "cvoip-bus",
		       rb[trials / 2].p50_us, rb[trials / 2].p99_us);
		printf("%-5u %-11s %9.1f %9.1f\n", n, "mutex+cond",
		       rm[trials / 2].p50_us, rm[trials / 2].p99_us);
		for (unsigned t = 0; t < trials; t++)
			if (rb[t].lost)
				rc = 1;
	}
	return rc;
}
