/*
 * Metrics hot path: CPU ns per counter increment with per-thread cells
 * (cv_metric_inc) against one shared atomic counter (fetch_add), with 1
 * and 2 threads hammering the same series, measured in the same run.
 *
 *   bench_metrics [increments-per-thread]
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cvoip/metrics.h"

static struct cv_metric *counter;
static _Atomic uint64_t shared;
static uint64_t per_thread;
static _Atomic int go;

static _Atomic uint64_t cpu_total;

/* CPU time of the calling thread: robust against other load on the box */
static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *cells(void *arg)
{
	while (!atomic_load(&go))
		;
	uint64_t c0 = thread_cpu_ns();
	for (uint64_t i = 0; i < per_thread; i++)
		cv_metric_inc(counter);
	atomic_fetch_add(&cpu_total, thread_cpu_ns() - c0);
	return NULL;
}

static void *atomic_inc(void *arg)
{
	while (!atomic_load(&go))
		;
	uint64_t c0 = thread_cpu_ns();
	for (uint64_t i = 0; i < per_thread; i++)
		atomic_fetch_add_explicit(&shared, 1, memory_order_relaxed);
	atomic_fetch_add(&cpu_total, thread_cpu_ns() - c0);
	return NULL;
}

static double run(void *(*fn)(void *), unsigned nth)
{
	pthread_t th[8];
	atomic_store(&go, 0);
	atomic_store(&cpu_total, 0);
	for (unsigned i = 0; i < nth; i++)
		pthread_create(&th[i], NULL, fn, NULL);
	atomic_store(&go, 1);
	for (unsigned i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	/* CPU time per increment */
	return (double)atomic_load(&cpu_total) / (double)(per_thread * nth);
}

int main(int argc, char **argv)
{
	per_thread = argc > 1 ? strtoull(argv[1], NULL, 10) : 50000000;
	struct cv_metrics *m;
	if (!per_thread || cv_metrics_create(&m, NULL) ||
	    cv_metrics_counter(m, "bench_total", "x", &counter))
		return 1;
	printf("# metrics: CPU ns per increment, %llu increments each\n",
	       (unsigned long long)per_thread);
	printf("%-8s %14s %14s\n", "threads", "per-thread", "shared-atomic");
	for (unsigned nth = 1; nth <= 2; nth++) {
		double c = run(cells, nth);
		double a = run(atomic_inc, nth);
		printf("%-8u %13.2fns %13.2fns\n", nth, c, a);
	}
	uint64_t want = per_thread * 3;
	int rc = cv_metric_counter_value(counter) == want &&
				 atomic_load(&shared) == want
			 ? 0
			 : 1;
	cv_metrics_destroy(m);
	return rc;
}
