/* Structured, levelled logging with per-module levels and rate limits. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cvoip/base.h"

#define MAX_OVERRIDES 32

struct override {
	char module[24];
	enum cv_log_level lvl;
};

static _Atomic int global_level = CV_LOG_INFO;
static struct override overrides[MAX_OVERRIDES];
static _Atomic int n_overrides;
static pthread_mutex_t sink_lock = PTHREAD_MUTEX_INITIALIZER;
static cv_log_sink_fn *sink_fn;
static void *sink_arg;

static const char *const level_names[] = {"error", "warn", "info", "debug",
					  "trace"};

const char *cv_log_level_name(enum cv_log_level lvl)
{
	return (unsigned)lvl < CV_ARRAY_SIZE(level_names) ? level_names[lvl]
							  : "?";
}

int cv_log_level_parse(const char *s, enum cv_log_level *out)
{
	for (unsigned i = 0; i < CV_ARRAY_SIZE(level_names); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum cv_log_level)i;
			return 0;
		}
	}
	if (strcmp(s, "warning") == 0) {
		*out = CV_LOG_WARN;
		return 0;
	}
	return -EINVAL;
}

void cv_log_set_level(enum cv_log_level lvl)
{
	atomic_store(&global_level, (int)lvl);
}

/* Overrides are set at start-up, before workers run. */
int cv_log_set_module_level(const char *module, enum cv_log_level lvl)
{
	int n = atomic_load(&n_overrides);
	for (int i = 0; i < n; i++) {
		if (strcmp(overrides[i].module, module) == 0) {
			overrides[i].lvl = lvl;
			return 0;
		}
	}
	if (n >= MAX_OVERRIDES || strlen(module) >= sizeof(overrides[0].module))
		return CV_ETOOBIG;
	snprintf(overrides[n].module, sizeof(overrides[n].module), "%s",
		 module);
	overrides[n].lvl = lvl;
	atomic_store(&n_overrides, n + 1);
	return 0;
}

bool cv_log_enabled(enum cv_log_level lvl, const char *module)
{
	int n = atomic_load_explicit(&n_overrides, memory_order_relaxed);
	if (CV_UNLIKELY(n && module)) {
		for (int i = 0; i < n; i++)
			if (strcmp(overrides[i].module, module) == 0)
				return lvl <= overrides[i].lvl;
	}
	return (int)lvl <=
	       atomic_load_explicit(&global_level, memory_order_relaxed);
}

void cv_log_set_sink(cv_log_sink_fn *fn, void *arg)
{
	pthread_mutex_lock(&sink_lock);
	sink_fn = fn;
	sink_arg = arg;
	pthread_mutex_unlock(&sink_lock);
}

void cv_vlog(enum cv_log_level lvl, const char *module, const char *fmt,
	     va_list ap)
{
	if (!cv_log_enabled(lvl, module))
		return;
	char line[2048];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(line, sizeof(line),
			 "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %-10s ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			 tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
			 cv_log_level_name(lvl), module ? module : "-");
	if (n < 0)
		return;
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	if (m < 0)
		return;
	/* A call to cv_log is never made while this lock is held by the
	 * caller; the sink itself must not log. */
	pthread_mutex_lock(&sink_lock);
	if (sink_fn) {
		sink_fn(lvl, module, line, sink_arg);
	} else {
		fputs(line, stderr);
		fputc('\n', stderr);
	}
	pthread_mutex_unlock(&sink_lock);
}

void cv_log(enum cv_log_level lvl, const char *module, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cv_vlog(lvl, module, fmt, ap);
	va_end(ap);
}

/* A burst of 10 lines per second per call site, then silence with a count.
 * Call sites are shared by every worker: the fields are touched with
 * relaxed atomics (the struct stays plain for C++ users of the header);
 * races between workers only blur the count. */
bool cv_log_rl_allow(struct cv_log_rl *rl, uint32_t *suppressed)
{
	int64_t now = (int64_t)cv_clock_ms();
	int64_t start = __atomic_load_n(&rl->window_start_ms, __ATOMIC_RELAXED);
	if (now - start >= 1000 &&
	    __atomic_compare_exchange_n(&rl->window_start_ms, &start, now,
					false, __ATOMIC_RELAXED,
					__ATOMIC_RELAXED))
		__atomic_store_n(&rl->in_window, 0, __ATOMIC_RELAXED);
	if (__atomic_fetch_add(&rl->in_window, 1, __ATOMIC_RELAXED) >= 10) {
		__atomic_fetch_add(&rl->suppressed, 1, __ATOMIC_RELAXED);
		return false;
	}
	*suppressed = __atomic_exchange_n(&rl->suppressed, 0, __ATOMIC_RELAXED);
	return true;
}
