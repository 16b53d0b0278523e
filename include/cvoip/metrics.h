/*
 * cvoip metrics: counters, gauges and fixed-bucket histograms with labels.
 *
 * A registry holds metric families (name, help, type, label names); a family
 * holds series (one per set of label values). Each thread that updates a
 * series writes its own cell (a per-thread page of cells, created on the
 * thread's first update), so the hot path is a plain load and store with no
 * locked instruction and no shared cache line; readers sum the cells of all
 * threads. Register families and series at start-up (or when a new labelled
 * thing appears, e.g. a bus subscriber); updating is then lock-free.
 *
 * Rendering: cv_metrics_render() writes the Prometheus text exposition format
 * (version 0.0.4), cv_metrics_json() a jansson snapshot for the API.
 */
#ifndef CVOIP_METRICS_H
#define CVOIP_METRICS_H

#include <jansson.h>

#include "cvoip/base.h"

#ifdef __cplusplus
extern "C" {
#endif

struct cv_metrics;	 /* registry */
struct cv_metric_family; /* name + help + type + label names */
struct cv_metric;	 /* one series: a family and its label values */

enum cv_metric_type {
	CV_METRIC_COUNTER = 0,	 /* monotonic uint64 */
	CV_METRIC_GAUGE = 1,	 /* int64, summed deltas plus the last set */
	CV_METRIC_HISTOGRAM = 2, /* fixed upper bounds, cumulative on render */
};

/* Limits: a family has at most CV_METRICS_MAX_LABELS label names and a
 * histogram at most CV_METRICS_MAX_BUCKETS bounds (+Inf is implicit). */
#define CV_METRICS_MAX_LABELS  8
#define CV_METRICS_MAX_BUCKETS 32
#define CV_METRICS_NAME_MAX    128

struct cv_metrics_params {
	/* Upper bound of series over all families (0: 65536). Creating more
	 * fails with CV_ETOOBIG instead of growing without bound. */
	size_t max_series;
};

CV_API int cv_metrics_create(struct cv_metrics **mp,
			     const struct cv_metrics_params *p);
/* Frees the registry and every family and series in it. No thread may
 * update or render it any more. */
CV_API void cv_metrics_destroy(struct cv_metrics *m);

struct cv_metric_desc {
	const char *name; /* [a-zA-Z_:][a-zA-Z0-9_:]* */
	const char *help; /* any text; escaped on render */
	enum cv_metric_type type;
	/* Label names, [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__"; "le"
	 * is reserved for histograms. */
	const char *const *labels;
	size_t nlabels;
	/* Histograms: strictly increasing finite upper bounds. */
	const double *buckets;
	size_t nbuckets;
};

/* Registers a family. Registering the same name again with the same type,
 * labels and buckets returns the existing family (so independent modules
 * can share one); a conflicting definition fails with -EEXIST. -EINVAL on a
 * bad name, label or bucket list. A family with no labels gets its single
 * series at once (cv_metrics_series with no values returns it). */
CV_API int cv_metrics_family(struct cv_metrics *m,
			     const struct cv_metric_desc *d,
			     struct cv_metric_family **fp);
/* The series with these label values (nvalues must equal the family's
 * label count), created on first use. Values are any bytes up to 1024 long
 * and are escaped on render. Takes the registry lock: call it when the
 * labelled thing is set up, not per update. */
CV_API int cv_metrics_series(struct cv_metric_family *f,
			     const char *const *values, size_t nvalues,
			     struct cv_metric **sp);

/* Shorthands for unlabelled metrics: family + its single series. */
CV_API int cv_metrics_counter(struct cv_metrics *m, const char *name,
			      const char *help, struct cv_metric **sp);
CV_API int cv_metrics_gauge(struct cv_metrics *m, const char *name,
			    const char *help, struct cv_metric **sp);
CV_API int cv_metrics_histogram(struct cv_metrics *m, const char *name,
				const char *help, const double *buckets,
				size_t nbuckets, struct cv_metric **sp);

/* ---- hot path: any thread, lock-free, no atomic read-modify-write -------
 * Each call writes only the calling thread's cell. A NULL series is
 * accepted and ignored, so optional metrics need no branches at the caller.
 * Calling the wrong function for the type is ignored as well. */
CV_API void cv_metric_add(struct cv_metric *s, uint64_t n); /* counter */
CV_API void cv_metric_inc(struct cv_metric *s);		    /* counter, gauge */
CV_API void cv_metric_gauge_add(struct cv_metric *s, int64_t d);
/* Sets the gauge's base value; the result read is the last set value plus
 * every cv_metric_gauge_add() since the registry was created. Use a gauge
 * either with set or with add, not both. Takes one relaxed atomic store. */
CV_API void cv_metric_gauge_set(struct cv_metric *s, int64_t v);
CV_API void cv_metric_observe(struct cv_metric *s, double v); /* histogram */

/* ---- reading (any thread; sums the per-thread cells) --------------------- */
CV_API uint64_t cv_metric_counter_value(const struct cv_metric *s);
CV_API int64_t cv_metric_gauge_value(const struct cv_metric *s);
/* Histogram: total count, sum, and per-bucket (non-cumulative) counts into
 * counts[0..nbuckets] (the last is +Inf) when counts is non-NULL. */
CV_API void cv_metric_hist_value(const struct cv_metric *s, uint64_t *count,
				 double *sum, uint64_t *counts, size_t ncounts);

/* Appends the Prometheus text format of every family with at least one
 * series, in registration order (series in creation order):
 *   # HELP name help      (\ and newline escaped)
 *   # TYPE name counter
 *   name{a="x",b="y"} 3   (\ " and newline escaped in values)
 * Histograms render name_bucket{...,le="..."} (cumulative, ending with
 * le="+Inf"), name_sum and name_count. Errors come from the buffer
 * (CV_ETOOBIG past its max, -ENOMEM). */
CV_API int cv_metrics_render(struct cv_metrics *m, struct cv_buf *out);

/* A JSON snapshot:
 * {"name": {"type": "counter", "help": "...", "series": [
 *     {"labels": {"a": "x"}, "value": 3}, ...]}, ...}
 * histogram series: {"labels": {...}, "count": n, "sum": s,
 *     "buckets": [{"le": 0.1, "count": cumulative}, ..., {"le": "+Inf", ...}]}
 * *out is a new reference. */
CV_API int cv_metrics_json(struct cv_metrics *m, json_t **out);

#ifdef __cplusplus
}
#endif

#endif
