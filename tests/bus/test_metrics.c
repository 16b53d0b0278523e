/* base/metrics: registry, exact Prometheus text, JSON, per-thread cells
 * (the threaded test also runs under TSan). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cvoip/metrics.h"

static int64_t live0;

static int setup(void **state)
{
	live0 = cv_mem_live();
	return 0;
}

static int teardown(void **state)
{
	assert_int_equal(cv_mem_live(), live0);
	return 0;
}

static void test_render_exact(void **state)
{
	struct cv_metrics *m;
	assert_int_equal(cv_metrics_create(&m, NULL), 0);

	struct cv_metric *c, *g, *h, *a, *b;
	assert_int_equal(cv_metrics_counter(m, "cvoip_requests_total",
					    "Requests seen.", &c),
			 0);
	static const char *const labels[] = {"method", "code"};
	struct cv_metric_family *f;
	assert_int_equal(
		cv_metrics_family(
			m,
			&(struct cv_metric_desc){
				.name = "cvoip_responses_total",
				.help = "Responses by \\ method\nand code.",
				.type = CV_METRIC_COUNTER,
				.labels = labels,
				.nlabels = 2},
			&f),
		0);
	const char *va[] = {"INVITE", "200"};
	const char *vb[] = {"we\"ird\\val\nue", "486"};
	assert_int_equal(cv_metrics_series(f, va, 2, &a), 0);
	assert_int_equal(cv_metrics_series(f, vb, 2, &b), 0);
	/* The same values give the same series. */
	struct cv_metric *a2;
	assert_int_equal(cv_metrics_series(f, va, 2, &a2), 0);
	assert_ptr_equal(a, a2);

	assert_int_equal(
		cv_metrics_gauge(m, "cvoip_calls", "Active calls.", &g), 0);
	static const double bounds[] = {0.005, 0.1, 1, 2.5};
	assert_int_equal(cv_metrics_histogram(m, "cvoip_latency_seconds",
					      "Latency.", bounds, 4, &h),
			 0);
	/* A labelled family without series does not render. */
	struct cv_metric_family *empty;
	assert_int_equal(cv_metrics_family(m,
					   &(struct cv_metric_desc){
						   .name = "cvoip_empty",
						   .help = "x",
						   .type = CV_METRIC_GAUGE,
						   .labels = labels,
						   .nlabels = 1},
					   &empty),
			 0);

	cv_metric_inc(c);
	cv_metric_add(c, 41);
	cv_metric_add(a, 7);
	cv_metric_inc(b);
	cv_metric_gauge_add(g, 5);
	cv_metric_gauge_add(g, -8);
	cv_metric_observe(h, 0.001);
	cv_metric_observe(h, 0.1); /* le is inclusive */
	cv_metric_observe(h, 2);
	cv_metric_observe(h, 100);
	/* wrong-type calls and NULL series are ignored */
	cv_metric_observe(c, 1);
	cv_metric_add(g, 1);
	cv_metric_inc(NULL);

	struct cv_buf out;
	cv_buf_init(&out, 0);
	assert_int_equal(cv_metrics_render(m, &out), 0);
	const char *want =
		"# HELP cvoip_requests_total Requests seen.\n"
		"# TYPE cvoip_requests_total counter\n"
		"cvoip_requests_total 42\n"
		"# HELP cvoip_responses_total Responses by \\\\ method\\nand "
		"code.\n"
		"# TYPE cvoip_responses_total counter\n"
		"cvoip_responses_total{method=\"INVITE\",code=\"200\"} 7\n"
		"cvoip_responses_total{method=\"we\\\"ird\\\\val\\nue\",code="
		"\"486\"} 1\n"
		"# HELP cvoip_calls Active calls.\n"
		"# TYPE cvoip_calls gauge\n"
		"cvoip_calls -3\n"
		"# HELP cvoip_latency_seconds Latency.\n"
		"# TYPE cvoip_latency_seconds histogram\n"
		"cvoip_latency_seconds_bucket{le=\"0.005\"} 1\n"
		"cvoip_latency_seconds_bucket{le=\"0.1\"} 2\n"
		"cvoip_latency_seconds_bucket{le=\"1\"} 2\n"
		"cvoip_latency_seconds_bucket{le=\"2.5\"} 3\n"
		"cvoip_latency_seconds_bucket{le=\"+Inf\"} 4\n"
		"cvoip_latency_seconds_sum 102.101\n"
		"cvoip_latency_seconds_count 4\n";
	assert_string_equal(out.data, want);

	/* set replaces the base; adds still count on top */
	cv_metric_gauge_set(g, 10);
	assert_int_equal(cv_metric_gauge_value(g), 7);
	uint64_t count;
	double sum;
	uint64_t counts[5];
	cv_metric_hist_value(h, &count, &sum, counts, 5);
	assert_int_equal(count, 4);
	assert_int_equal(counts[0], 1);
	assert_int_equal(counts[4], 1);

	/* A bounded buffer reports CV_ETOOBIG. */
	struct cv_buf small;
	cv_buf_init(&small, 32);
	assert_int_equal(cv_metrics_render(m, &small), CV_ETOOBIG);
	cv_buf_free(&small);
	cv_buf_free(&out);
	cv_metrics_destroy(m);
}

static void test_labelled_histogram(void **state)
{
	struct cv_metrics *m;
	assert_int_equal(cv_metrics_create(&m, NULL), 0);
	static const char *const labels[] = {"queue"};
	static const double bounds[] = {1, 10};
	struct cv_metric_family *f;
	assert_int_equal(cv_metrics_family(m,
					   &(struct cv_metric_desc){
						   .name = "cvoip_wait_seconds",
						   .help = "Queue wait.",
						   .type = CV_METRIC_HISTOGRAM,
						   .labels = labels,
						   .nlabels = 1,
						   .buckets = bounds,
						   .nbuckets = 2},
					   &f),
			 0);
	struct cv_metric *s;
	const char *v[] = {"sales"};
	assert_int_equal(cv_metrics_series(f, v, 1, &s), 0);
	cv_metric_observe(s, 0.5);
	cv_metric_observe(s, 3);
	struct cv_buf out;
	cv_buf_init(&out, 0);
	assert_int_equal(cv_metrics_render(m, &out), 0);
	assert_string_equal(
		out.data,
		"# HELP cvoip_wait_seconds Queue wait.\n"
		"# TYPE cvoip_wait_seconds histogram\n"
		"cvoip_wait_seconds_bucket{queue=\"sales\",le=\"1\"} 1\n"
		"cvoip_wait_seconds_bucket{queue=\"sales\",le=\"10\"} 2\n"
		"cvoip_wait_seconds_bucket{queue=\"sales\",le=\"+Inf\"} 2\n"
		"cvoip_wait_seconds_sum{queue=\"sales\"} 3.5\n"
		"cvoip_wait_seconds_count{queue=\"sales\"} 2\n");

	json_t *j;
	assert_int_equal(cv_metrics_json(m, &j), 0);
	char *txt = json_dumps(j, JSON_COMPACT);
	assert_string_equal(txt, "{\"cvoip_wait_seconds\":{\"type\":"
				 "\"histogram\",\"help\":\"Queue wait.\","
				 "\"series\":[{\"labels\":{\"queue\":\"sales\"}"
				 ",\"count\":2,\"sum\":3.5,"
				 "\"buckets\":[{\"le\":1.0,\"count\":1},{"
				 "\"le\":10.0,\"count\":2},"
				 "{\"le\":\"+Inf\",\"count\":2}]}]}}");
	free(txt);
	json_decref(j);
	cv_buf_free(&out);
	cv_metrics_destroy(m);
}

static void test_json(void **state)
{
	struct cv_metrics *m;
	assert_int_equal(cv_metrics_create(&m, NULL), 0);
	struct cv_metric *c, *g, *bad;
	assert_int_equal(cv_metrics_counter(m, "a_total", "A.", &c), 0);
	assert_int_equal(cv_metrics_gauge(m, "b", "B.", &g), 0);
	static const char *const labels[] = {"ua"};
	struct cv_metric_family *f;
	assert_int_equal(cv_metrics_family(m,
					   &(struct cv_metric_desc){
						   .name = "c_total",
						   .help = "C.",
						   .type = CV_METRIC_COUNTER,
						   .labels = labels,
						   .nlabels = 1},
					   &f),
			 0);
	/* label values are arbitrary bytes: invalid UTF-8 becomes U+FFFD */
	const char *v[] = {"x\xff"
			   "y"};
	assert_int_equal(cv_metrics_series(f, v, 1, &bad), 0);
	cv_metric_add(c, 3);
	cv_metric_gauge_set(g, -2);
	cv_metric_inc(bad);
	json_t *j;
	assert_int_equal(cv_metrics_json(m, &j), 0);
	char *txt = json_dumps(j, JSON_COMPACT);
	assert_string_equal(
		txt,
		"{\"a_total\":{\"type\":\"counter\",\"help\":\"A.\",\"series\":"
		"[{\"labels\":{},\"value\":3}]},"
		"\"b\":{\"type\":\"gauge\",\"help\":\"B.\",\"series\":"
		"[{\"labels\":{},\"value\":-2}]},"
		"\"c_total\":{\"type\":\"counter\",\"help\":\"C.\",\"series\":"
		"[{\"labels\":{\"ua\":\"x\xef\xbf\xbd"
		"y\"},\"value\":1}]}}");
	free(txt);
	json_decref(j);
	cv_metrics_destroy(m);
}

static void test_validation(void **state)
{
	struct cv_metrics *m;
	assert_int_equal(
		cv_metrics_create(&m,
				  &(struct cv_metrics_params){.max_series = 3}),
		0);
	struct cv_metric *s;
	struct cv_metric_family *f, *f2;
	assert_int_equal(cv_metrics_counter(m, "9bad", "x", &s), -EINVAL);
	assert_int_equal(cv_metrics_counter(m, "bad-name", "x", &s), -EINVAL);
	assert_int_equal(cv_metrics_counter(m, "", "x", &s), -EINVAL);
	assert_int_equal(cv_metrics_counter(m, NULL, "x", &s), -EINVAL);
	static const char *const le[] = {"le"};
	static const char *const under[] = {"__x"};
	static const char *const dup[] = {"a", "a"};
	static const double b1[] = {1};
	static const double bdesc[] = {2, 1};
	assert_int_equal(cv_metrics_family(m,
					   &(struct cv_metric_desc){
						   .name = "h",
						   .type = CV_METRIC_HISTOGRAM,
						   .labels = le,
						   .nlabels = 1,
						   .buckets = b1,
						   .nbuckets = 1},
					   &f),
			 -EINVAL);
	assert_int_equal(cv_metrics_family(m,
					   &(struct cv_metric_desc){
						   .name = "c",
						   .type = CV_METRIC_COUNTER,
						   .labels = under,
						   .nlabels = 1},
					   &f),
			 -EINVAL);
	assert_int_equal(cv_metrics_family(m,
					   &(struct cv_metric_desc){
						   .name = "c",
						   .type = CV_METRIC_COUNTER,
						   .labels = dup,
						   .nlabels = 2},
					   &f),
			 -EINVAL);
	assert_int_equal(cv_metrics_histogram(m, "h", "x", bdesc, 2, &s),
			 -EINVAL);
	assert_int_equal(cv_metrics_histogram(m, "h", "x", NULL, 0, &s),
			 -EINVAL);
	/* "le" is a fine label for non-histograms */
	assert_int_equal(cv_metrics_family(m,
					   &(struct cv_metric_desc){
						   .name = "c",
						   .type = CV_METRIC_COUNTER,
						   .labels = le,
						   .nlabels = 1},
					   &f),
			 0);
	/* same definition: same family; conflicting: -EEXIST */
	assert_int_equal(cv_metrics_family(m,
					   &(struct cv_metric_desc){
						   .name = "c",
						   .type = CV_METRIC_COUNTER,
						   .labels = le,
						   .nlabels = 1},
					   &f2),
			 0);
	assert_ptr_equal(f, f2);
	assert_int_equal(cv_metrics_gauge(m, "c", "x", &s), -EEXIST);
	/* wrong number of label values */
	const char *v1[] = {"x"};
	assert_int_equal(cv_metrics_series(f, v1, 0, &s), -EINVAL);
	/* bounded series count */
	const char *v2[] = {"y"}, *v3[] = {"z"}, *v4[] = {"w"};
	assert_int_equal(cv_metrics_series(f, v1, 1, &s), 0);
	assert_int_equal(cv_metrics_series(f, v2, 1, &s), 0);
	assert_int_equal(cv_metrics_series(f, v3, 1, &s), 0);
	assert_int_equal(cv_metrics_series(f, v4, 1, &s), CV_ETOOBIG);
	cv_metrics_destroy(m);
}

/* Many series: cells spread over several pages. */
static void test_many_series(void **state)
{
	struct cv_metrics *m;
	assert_int_equal(cv_metrics_create(&m, NULL), 0);
	static const char *const labels[] = {"n"};
	static const double b[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
	struct cv_metric_family *fc, *fh;
	assert_int_equal(cv_metrics_family(m,
					   &(struct cv_metric_desc){
						   .name = "c",
						   .type = CV_METRIC_COUNTER,
						   .labels = labels,
						   .nlabels = 1},
					   &fc),
			 0);
	assert_int_equal(cv_metrics_family(m,
					   &(struct cv_metric_desc){
						   .name = "h",
						   .type = CV_METRIC_HISTOGRAM,
						   .labels = labels,
						   .nlabels = 1,
						   .buckets = b,
						   .nbuckets = 10},
					   &fh),
			 0);
	struct cv_metric *sc[600], *sh[100];
	char name[16];
	for (int i = 0; i < 600; i++) {
		snprintf(name, sizeof(name), "%d", i);
		const char *v[] = {name};
		assert_int_equal(cv_metrics_series(fc, v, 1, &sc[i]), 0);
		if (i < 100)
			assert_int_equal(cv_metrics_series(fh, v, 1, &sh[i]),
					 0);
	}
	for (int i = 0; i < 600; i++)
		cv_metric_add(sc[i], (uint64_t)i);
	for (int i = 0; i < 100; i++)
		cv_metric_observe(sh[i], i % 12);
	for (int i = 0; i < 600; i++)
		assert_int_equal(cv_metric_counter_value(sc[i]), i);
	for (int i = 0; i < 100; i++) {
		uint64_t cnt;
		double sum;
		cv_metric_hist_value(sh[i], &cnt, &sum, NULL, 0);
		assert_int_equal(cnt, 1);
		assert_true(sum == i % 12);
	}
	cv_metrics_destroy(m);
}

#define THREADS	   4
#define PER_THREAD 200000

struct mt {
	struct cv_metric *c, *g, *h;
	struct cv_metric_family *fam; /* series added while writers run */
	_Atomic int added;
	_Atomic bool stop;
	_Atomic bool went_back;
};

static void *writer(void *arg)
{
	struct mt *t = arg;
	for (int i = 0; i < PER_THREAD; i++) {
		cv_metric_inc(t->c);
		cv_metric_gauge_add(t->g, (i & 1) ? -1 : 2);
		if (!(i & 63))
			cv_metric_observe(t->h, 0.5);
	}
	return NULL;
}

/* Registration while other threads update and render: new series (600
 * cells, several pages) each updated once by this thread. */
static void *registrar(void *arg)
{
	struct mt *t = arg;
	char name[16];
	for (int i = 0; i < 600; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		const char *v[] = {name};
		struct cv_metric *s;
		if (cv_metrics_series(t->fam, v, 1, &s))
			return NULL;
		cv_metric_add(s, 2);
		atomic_fetch_add(&t->added, 1);
	}
	return NULL;
}

static void *reader(void *arg)
{
	struct mt *t = arg;
	uint64_t last = 0;
	while (!atomic_load(&t->stop)) {
		uint64_t v = cv_metric_counter_value(t->c);
		/* per-thread cells only grow: the sum never goes back */
		if (v < last)
			atomic_store(&t->went_back, true);
		last = v;
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct cv_metrics *m;
	assert_int_equal(cv_metrics_create(&m, NULL), 0);
	struct mt t = {0};
	static const double b[] = {1};
	assert_int_equal(cv_metrics_counter(m, "c_total", "x", &t.c), 0);
	assert_int_equal(cv_metrics_gauge(m, "g", "x", &t.g), 0);
	assert_int_equal(cv_metrics_histogram(m, "h", "x", b, 1, &t.h), 0);
	static const char *const lab[] = {"n"};
	assert_int_equal(cv_metrics_family(m,
					   &(struct cv_metric_desc){
						   .name = "dyn_total",
						   .type = CV_METRIC_COUNTER,
						   .labels = lab,
						   .nlabels = 1},
					   &t.fam),
			 0);
	pthread_t th[THREADS], rd, rg;
	assert_int_equal(pthread_create(&rd, NULL, reader, &t), 0);
	assert_int_equal(pthread_create(&rg, NULL, registrar, &t), 0);
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, writer, &t), 0);
	/* rendering while writers run is safe */
	struct cv_buf out;
	cv_buf_init(&out, 0);
	for (int i = 0; i < 20; i++) {
		cv_buf_reset(&out);
		assert_int_equal(cv_metrics_render(m, &out), 0);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	pthread_join(rg, NULL);
	assert_int_equal(atomic_load(&t.added), 600);
	cv_buf_reset(&out);
	assert_int_equal(cv_metrics_render(m, &out), 0);
	assert_non_null(strstr(out.data, "dyn_total{n=\"s0\"} 2\n"));
	assert_non_null(strstr(out.data, "dyn_total{n=\"s599\"} 2\n"));
	atomic_store(&t.stop, true);
	pthread_join(rd, NULL);
	assert_false(atomic_load(&t.went_back));
	assert_int_equal(cv_metric_counter_value(t.c),
			 (uint64_t)THREADS * PER_THREAD);
	assert_int_equal(cv_metric_gauge_value(t.g),
			 (int64_t)THREADS * PER_THREAD / 2);
	uint64_t cnt;
	double sum;
	cv_metric_hist_value(t.h, &cnt, &sum, NULL, 0);
	assert_int_equal(cnt, THREADS * ((PER_THREAD + 63) / 64));
	assert_true(sum == 0.5 * (double)cnt);
	cv_buf_free(&out);
	cv_metrics_destroy(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_render_exact, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_labelled_histogram, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_validation, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_many_series, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
