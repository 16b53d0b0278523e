/*
 * Metrics registry with per-thread cells summed on read.
 *
 * Every series owns a small range of cell indexes in the registry. Each
 * thread that updates the registry gets its own table of cell pages; the
 * series' cells in that table are written only by that thread (a relaxed
 * load plus a relaxed store: a plain mov on x86, no lock prefix, and no
 * cache line shared with another writer). Readers walk the list of thread
 * tables under the registry lock and sum. Threads that exit leave their
 * table behind, so their counts keep adding up.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cvoip/metrics.h"
#include "metrics_int.h"

#define PAGE_CELLS	256u
#define MAX_PAGES	1024u
#define LABEL_VALUE_MAX 1024u
#define TLS_CACHE	4u

struct tcells {
	struct tcells *next;
	const void *owner; /* address of the owning thread's TLS marker */
	_Atomic(_Atomic uint64_t *) pages[MAX_PAGES];
};

struct cv_metric {
	struct cv_metric *next;
	struct cv_metric_family *fam;
	struct cv_metrics *reg;
	uint32_t cell;	 /* first cell index */
	uint32_t ncells; /* counter/gauge 1; histogram nbuckets + 2 */
	enum cv_metric_type type;
	_Atomic int64_t gauge_base;
	char *values[CV_METRICS_MAX_LABELS];
};

struct cv_metric_family {
	struct cv_metric_family *next;
	struct cv_metrics *reg;
	char *name;
	char *help;
	enum cv_metric_type type;
	size_t nlabels;
	char *labels[CV_METRICS_MAX_LABELS];
	size_t nbuckets;
	double buckets[CV_METRICS_MAX_BUCKETS];
	struct cv_metric *series;
	struct cv_metric **series_tail;
};

struct cv_metrics {
	pthread_mutex_t lock;
	uint64_t gen;
	size_t max_series;
	size_t nseries;
	uint32_t next_cell;
	struct cv_metric_family *fams;
	struct cv_metric_family **fams_tail;
	struct tcells *_Atomic threads;
};

static _Atomic uint64_t reg_gen = 1;

struct tls_ent {
	uint64_t gen;
	struct tcells *t;
};
/* initial-exec: the objects are built position-independent, and the
 * default dynamic TLS model costs a __tls_get_addr() call per access */
#if defined(__GNUC__)
#define CV_TLS _Thread_local __attribute__((tls_model("initial-exec")))
#else
#define CV_TLS _Thread_local
#endif
static CV_TLS struct tls_ent tls_cache[TLS_CACHE];
static CV_TLS unsigned tls_next;
static CV_TLS char tls_marker;

/* Length of the valid UTF-8 sequence at p (RFC 3629 §4), 0 if invalid. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	unsigned char c = p[0];
	if (c < 0x80)
		return 1;
	size_t len;
	unsigned char lo = 0x80, hi = 0xbf;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f; /* no surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (n < len || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return len;
}

json_t *cv_json_text(const char *s)
{
	if (!s)
		return json_null();
	size_t n = strlen(s);
	json_t *j = json_stringn(s, n);
	if (j)
		return j;
	struct cv_buf b;
	cv_buf_init(&b, 0);
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < n) {
		size_t l = utf8_len(p + i, n - i);
		if (l) {
			cv_buf_append(&b, p + i, l);
			i += l;
		} else {
			cv_buf_append(&b, "\xef\xbf\xbd", 3);
			i++;
		}
	}
	j = b.err ? NULL : json_stringn(b.data ? b.data : "", b.len);
	cv_buf_free(&b);
	return j;
}

/* ---- validation ---------------------------------------------------------- */

static bool name_ok(const char *s, bool colon)
{
	if (!s || !*s || strlen(s) > CV_METRICS_NAME_MAX)
		return false;
	for (const char *p = s; *p; p++) {
		char c = *p;
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     c == '_' || (colon && c == ':');
		if (!alpha && !(p != s && c >= '0' && c <= '9'))
			return false;
	}
	return true;
}

static bool label_ok(const char *s, enum cv_metric_type type)
{
	if (!name_ok(s, false))
		return false;
	if (s[0] == '_' && s[1] == '_')
		return false;
	if (type == CV_METRIC_HISTOGRAM && !strcmp(s, "le"))
		return false;
	return true;
}

/* ---- registry --------------------------------------------------------------
 */

int cv_metrics_create(struct cv_metrics **mp, const struct cv_metrics_params *p)
{
	if (!mp)
		return -EINVAL;
	struct cv_metrics *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	pthread_mutex_init(&m->lock, NULL);
	m->gen = atomic_fetch_add(&reg_gen, 1);
	m->max_series = p && p->max_series ? p->max_series : 65536;
	m->fams_tail = &m->fams;
	*mp = m;
	return 0;
}

static void series_free(struct cv_metric *s, size_t nlabels)
{
	for (size_t i = 0; i < nlabels; i++)
		free(s->values[i]);
	free(s);
}

void cv_metrics_destroy(struct cv_metrics *m)
{
	if (!m)
		return;
	struct cv_metric_family *f = m->fams;
	while (f) {
		struct cv_metric_family *fn = f->next;
		struct cv_metric *s = f->series;
		while (s) {
			struct cv_metric *sn = s->next;
			series_free(s, f->nlabels);
			s = sn;
		}
		for (size_t i = 0; i < f->nlabels; i++)
			free(f->labels[i]);
		free(f->name);
		free(f->help);
		free(f);
		f = fn;
	}
	struct tcells *t = atomic_load(&m->threads);
	while (t) {
		struct tcells *tn = t->next;
		for (size_t i = 0; i < MAX_PAGES; i++)
			free(atomic_load_explicit(&t->pages[i],
						  memory_order_relaxed));
		free(t);
		t = tn;
	}
	pthread_mutex_destroy(&m->lock);
	free(m);
}

static bool family_same(const struct cv_metric_family *f,
			const struct cv_metric_desc *d)
{
	if (f->type != d->type || f->nlabels != d->nlabels)
		return false;
	for (size_t i = 0; i < d->nlabels; i++)
		if (strcmp(f->labels[i], d->labels[i]))
			return false;
	if (d->type == CV_METRIC_HISTOGRAM) {
		if (f->nbuckets != d->nbuckets)
			return false;
		for (size_t i = 0; i < d->nbuckets; i++)
			if (f->buckets[i] != d->buckets[i])
				return false;
	}
	return true;
}

/* Registry lock held. Cells of one series never straddle a page. */
static int series_create_locked(struct cv_metric_family *f,
				const char *const *values,
				struct cv_metric **sp)
{
	struct cv_metrics *m = f->reg;
	if (m->nseries >= m->max_series)
		return CV_ETOOBIG;
	uint32_t ncells =
		f->type == CV_METRIC_HISTOGRAM ? (uint32_t)f->nbuckets + 2 : 1;
	uint32_t cell = m->next_cell;
	if (cell / PAGE_CELLS != (cell + ncells - 1) / PAGE_CELLS)
		cell = (cell / PAGE_CELLS + 1) * PAGE_CELLS;
	if ((uint64_t)cell + ncells > (uint64_t)PAGE_CELLS * MAX_PAGES)
		return CV_ETOOBIG;
	struct cv_metric *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < f->nlabels; i++) {
		s->values[i] = strdup(values[i]);
		if (!s->values[i]) {
			series_free(s, f->nlabels);
			return -ENOMEM;
		}
	}
	s->fam = f;
	s->reg = m;
	s->type = f->type;
	s->cell = cell;
	s->ncells = ncells;
	atomic_init(&s->gauge_base, 0);
	m->next_cell = cell + ncells;
	m->nseries++;
	*f->series_tail = s;
	f->series_tail = &s->next;
	*sp = s;
	return 0;
}

int cv_metrics_family(struct cv_metrics *m, const struct cv_metric_desc *d,
		      struct cv_metric_family **fp)
{
	if (!m || !d || !fp || !name_ok(d->name, true))
		return -EINVAL;
	if (d->type != CV_METRIC_COUNTER && d->type != CV_METRIC_GAUGE &&
	    d->type != CV_METRIC_HISTOGRAM)
		return -EINVAL;
	if (d->nlabels > CV_METRICS_MAX_LABELS || (d->nlabels && !d->labels))
		return -EINVAL;
	for (size_t i = 0; i < d->nlabels; i++) {
		if (!label_ok(d->labels[i], d->type))
			return -EINVAL;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(d->labels[i], d->labels[j]))
				return -EINVAL;
	}
	if (d->type == CV_METRIC_HISTOGRAM) {
		if (!d->nbuckets || d->nbuckets > CV_METRICS_MAX_BUCKETS ||
		    !d->buckets)
			return -EINVAL;
		for (size_t i = 0; i < d->nbuckets; i++) {
			if (!isfinite(d->buckets[i]))
				return -EINVAL;
			if (i && !(d->buckets[i] > d->buckets[i - 1]))
				return -EINVAL;
		}
	}

	int err = 0;
	pthread_mutex_lock(&m->lock);
	for (struct cv_metric_family *f = m->fams; f; f = f->next) {
		if (strcmp(f->name, d->name))
			continue;
		if (family_same(f, d))
			*fp = f;
		else
			err = -EEXIST;
		goto out;
	}
	struct cv_metric_family *f = calloc(1, sizeof(*f));
	if (!f) {
		err = -ENOMEM;
		goto out;
	}
	f->reg = m;
	f->type = d->type;
	f->name = strdup(d->name);
	f->help = strdup(d->help ? d->help : "");
	f->nlabels = d->nlabels;
	f->series_tail = &f->series;
	bool oom = !f->name || !f->help;
	for (size_t i = 0; i < d->nlabels; i++)
		if (!(f->labels[i] = strdup(d->labels[i])))
			oom = true;
	if (d->type == CV_METRIC_HISTOGRAM) {
		f->nbuckets = d->nbuckets;
		memcpy(f->buckets, d->buckets, d->nbuckets * sizeof(double));
	}
	struct cv_metric *single;
	if (!oom && !d->nlabels) {
		err = series_create_locked(f, NULL, &single);
	} else if (oom) {
		err = -ENOMEM;
	}
	if (err) {
		for (size_t i = 0; i < f->nlabels; i++)
			free(f->labels[i]);
		free(f->name);
		free(f->help);
		free(f);
		goto out;
	}
	*m->fams_tail = f;
	m->fams_tail = &f->next;
	*fp = f;
out:
	pthread_mutex_unlock(&m->lock);
	return err;
}

int cv_metrics_series(struct cv_metric_family *f, const char *const *values,
		      size_t nvalues, struct cv_metric **sp)
{
	if (!f || !sp || nvalues != f->nlabels || (nvalues && !values))
		return -EINVAL;
	for (size_t i = 0; i < nvalues; i++)
		if (!values[i] || strlen(values[i]) > LABEL_VALUE_MAX)
			return -EINVAL;
	struct cv_metrics *m = f->reg;
	int err = 0;
	pthread_mutex_lock(&m->lock);
	for (struct cv_metric *s = f->series; s; s = s->next) {
		size_t i = 0;
		while (i < nvalues && !strcmp(s->values[i], values[i]))
			i++;
		if (i == nvalues) {
			*sp = s;
			goto out;
		}
	}
	err = series_create_locked(f, values, sp);
out:
	pthread_mutex_unlock(&m->lock);
	return err;
}

static int simple(struct cv_metrics *m, const struct cv_metric_desc *d,
		  struct cv_metric **sp)
{
	struct cv_metric_family *f;
	int err = cv_metrics_family(m, d, &f);
	if (err)
		return err;
	return cv_metrics_series(f, NULL, 0, sp);
}

int cv_metrics_counter(struct cv_metrics *m, const char *name, const char *help,
		       struct cv_metric **sp)
{
	return simple(m,
		      &(struct cv_metric_desc){.name = name,
					       .help = help,
					       .type = CV_METRIC_COUNTER},
		      sp);
}

int cv_metrics_gauge(struct cv_metrics *m, const char *name, const char *help,
		     struct cv_metric **sp)
{
	return simple(m,
		      &(struct cv_metric_desc){.name = name,
					       .help = help,
					       .type = CV_METRIC_GAUGE},
		      sp);
}

int cv_metrics_histogram(struct cv_metrics *m, const char *name,
			 const char *help, const double *buckets,
			 size_t nbuckets, struct cv_metric **sp)
{
	return simple(m,
		      &(struct cv_metric_desc){.name = name,
					       .help = help,
					       .type = CV_METRIC_HISTOGRAM,
					       .buckets = buckets,
					       .nbuckets = nbuckets},
		      sp);
}

/* ---- hot path
 * ---------------------------------------------------------------- */

static struct tcells *tcells_slow(struct cv_metrics *m)
{
	struct tcells *t = NULL;
	pthread_mutex_lock(&m->lock);
	for (t = atomic_load_explicit(&m->threads, memory_order_relaxed); t;
	     t = t->next)
		if (t->owner == &tls_marker)
			break;
	if (!t) {
		t = calloc(1, sizeof(*t));
		if (t) {
			t->owner = &tls_marker;
			t->next = atomic_load_explicit(&m->threads,
						       memory_order_relaxed);
			atomic_store_explicit(&m->threads, t,
					      memory_order_release);
		}
	}
	pthread_mutex_unlock(&m->lock);
	if (t) {
		struct tls_ent *e = &tls_cache[tls_next++ % TLS_CACHE];
		e->gen = m->gen;
		e->t = t;
	}
	return t;
}

static inline _Atomic uint64_t *cells_of(const struct cv_metric *s)
{
	struct cv_metrics *m = s->reg;
	struct tcells *t = NULL;
	for (unsigned i = 0; i < TLS_CACHE; i++) {
		if (tls_cache[i].gen == m->gen) {
			t = tls_cache[i].t;
			break;
		}
	}
	if (CV_UNLIKELY(!t)) {
		t = tcells_slow(m);
		if (!t)
			return NULL;
	}
	uint32_t pg = s->cell / PAGE_CELLS;
	_Atomic uint64_t *page =
		atomic_load_explicit(&t->pages[pg], memory_order_relaxed);
	if (CV_UNLIKELY(!page)) {
		/* cache-line aligned: no line shared with another thread's page
		 */
		page = aligned_alloc(64, PAGE_CELLS * sizeof(*page));
		if (!page)
			return NULL; /* the update is lost; nothing else breaks
				      */
		for (uint32_t i = 0; i < PAGE_CELLS; i++)
			atomic_init(&page[i], 0);
		atomic_store_explicit(&t->pages[pg], page,
				      memory_order_release);
	}
	return page + s->cell % PAGE_CELLS;
}

static inline void cell_add(_Atomic uint64_t *c, uint64_t n)
{
	atomic_store_explicit(c,
			      atomic_load_explicit(c, memory_order_relaxed) + n,
			      memory_order_relaxed);
}

void cv_metric_add(struct cv_metric *s, uint64_t n)
{
	if (!s || s->type != CV_METRIC_COUNTER)
		return;
	_Atomic uint64_t *c = cells_of(s);
	if (c)
		cell_add(c, n);
}

void cv_metric_inc(struct cv_metric *s)
{
	if (!s || s->type == CV_METRIC_HISTOGRAM)
		return;
	_Atomic uint64_t *c = cells_of(s);
	if (c)
		cell_add(c, 1);
}

void cv_metric_gauge_add(struct cv_metric *s, int64_t d)
{
	if (!s || s->type != CV_METRIC_GAUGE)
		return;
	_Atomic uint64_t *c = cells_of(s);
	if (c)
		cell_add(c,
			 (uint64_t)d); /* two's complement: sums wrap right */
}

void cv_metric_gauge_set(struct cv_metric *s, int64_t v)
{
	if (s && s->type == CV_METRIC_GAUGE)
		atomic_store_explicit(&s->gauge_base, v, memory_order_relaxed);
}

void cv_metric_observe(struct cv_metric *s, double v)
{
	if (!s || s->type != CV_METRIC_HISTOGRAM || isnan(v))
		return;
	_Atomic uint64_t *c = cells_of(s);
	if (!c)
		return;
	const struct cv_metric_family *f = s->fam;
	size_t i = 0;
	while (i < f->nbuckets && v > f->buckets[i])
		i++;
	cell_add(&c[i], 1);
	_Atomic uint64_t *sum = &c[f->nbuckets + 1];
	uint64_t bits = atomic_load_explicit(sum, memory_order_relaxed);
	double d;
	memcpy(&d, &bits, sizeof(d));
	d += v;
	memcpy(&bits, &d, sizeof(d));
	atomic_store_explicit(sum, bits, memory_order_relaxed);
}

/* ---- reading
 * ------------------------------------------------------------------ */

static uint64_t cell_sum(const struct cv_metrics *m, uint32_t cell)
{
	uint64_t v = 0;
	for (struct tcells *t = atomic_load_explicit(
		     &((struct cv_metrics *)m)->threads, memory_order_acquire);
	     t; t = t->next) {
		_Atomic uint64_t *page = atomic_load_explicit(
			&t->pages[cell / PAGE_CELLS], memory_order_acquire);
		if (page)
			v += atomic_load_explicit(&page[cell % PAGE_CELLS],
						  memory_order_relaxed);
	}
	return v;
}

static double cell_sum_double(const struct cv_metrics *m, uint32_t cell)
{
	double v = 0;
	for (struct tcells *t = atomic_load_explicit(
		     &((struct cv_metrics *)m)->threads, memory_order_acquire);
	     t; t = t->next) {
		_Atomic uint64_t *page = atomic_load_explicit(
			&t->pages[cell / PAGE_CELLS], memory_order_acquire);
		if (!page)
			continue;
		uint64_t bits = atomic_load_explicit(&page[cell % PAGE_CELLS],
						     memory_order_relaxed);
		double d;
		memcpy(&d, &bits, sizeof(d));
		v += d;
	}
	return v;
}

uint64_t cv_metric_counter_value(const struct cv_metric *s)
{
	if (!s || s->type != CV_METRIC_COUNTER)
		return 0;
	return cell_sum(s->reg, s->cell);
}

int64_t cv_metric_gauge_value(const struct cv_metric *s)
{
	if (!s || s->type != CV_METRIC_GAUGE)
		return 0;
	return atomic_load_explicit(&((struct cv_metric *)s)->gauge_base,
				    memory_order_relaxed) +
	       (int64_t)cell_sum(s->reg, s->cell);
}

void cv_metric_hist_value(const struct cv_metric *s, uint64_t *count,
			  double *sum, uint64_t *counts, size_t ncounts)
{
	uint64_t total = 0;
	if (s && s->type == CV_METRIC_HISTOGRAM) {
		size_t nb = s->fam->nbuckets;
		for (size_t i = 0; i <= nb; i++) {
			uint64_t c = cell_sum(s->reg, s->cell + (uint32_t)i);
			total += c;
			if (counts && i < ncounts)
				counts[i] = c;
		}
		if (sum)
			*sum = cell_sum_double(s->reg,
					       s->cell + (uint32_t)nb + 1);
	} else if (sum) {
		*sum = 0;
	}
	if (count)
		*count = total;
}

/* Shortest text that reads back as the same double, laid out like the Go
 * Prometheus client (strconv 'g', -1): 0.005, 1, 10, 2.5, 100000, 1e+06. */
static void fmt_double(char *buf, size_t n, double v)
{
	if (isnan(v)) {
		snprintf(buf, n, "NaN");
		return;
	}
	if (isinf(v)) {
		snprintf(buf, n, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	int digits = 17;
	for (int p = 1; p <= 17; p++) {
		snprintf(buf, n, "%.*e", p - 1, v);
		if (strtod(buf, NULL) == v) {
			digits = p;
			break;
		}
	}
	snprintf(buf, n, "%.*e", digits - 1, v);
	const char *e = strchr(buf, 'e');
	int exp = e ? atoi(e + 1) : 0;
	if (exp < -4 || exp >= 6)
		return; /* keep the exponent form */
	int frac = digits - 1 - exp;
	snprintf(buf, n, "%.*f", frac > 0 ? frac : 0, v);
}

static void esc_append(struct cv_buf *out, const char *s, bool quote)
{
	const char *run = s;
	for (const char *p = s; *p; p++) {
		const char *rep = NULL;
		if (*p == '\\')
			rep = "\\\\";
		else if (*p == '\n')
			rep = "\\n";
		else if (quote && *p == '"')
			rep = "\\\"";
		if (!rep)
			continue;
		cv_buf_append(out, run, (size_t)(p - run));
		cv_buf_append_str(out, rep);
		run = p + 1;
	}
	cv_buf_append_str(out, run);
}

/* {a="x",b="y"[,le="v"]} or nothing when there are no labels at all. */
static void labels_append(struct cv_buf *out, const struct cv_metric *s,
			  const char *le)
{
	const struct cv_metric_family *f = s->fam;
	if (!f->nlabels && !le)
		return;
	cv_buf_append_str(out, "{");
	for (size_t i = 0; i < f->nlabels; i++) {
		cv_buf_printf(out, "%s%s=\"", i ? "," : "", f->labels[i]);
		esc_append(out, s->values[i], true);
		cv_buf_append_str(out, "\"");
	}
	if (le)
		cv_buf_printf(out, "%sle=\"%s\"", f->nlabels ? "," : "", le);
	cv_buf_append_str(out, "}");
}

static const char *type_name(enum cv_metric_type t)
{
	switch (t) {
	case CV_METRIC_COUNTER:
		return "counter";
	case CV_METRIC_GAUGE:
		return "gauge";
	case CV_METRIC_HISTOGRAM:
		return "histogram";
	}
	return "untyped";
}

static void render_hist(struct cv_buf *out, const struct cv_metric *s)
{
	const struct cv_metric_family *f = s->fam;
	uint64_t counts[CV_METRICS_MAX_BUCKETS + 1];
	uint64_t count;
	double sum;
	char num[40];
	cv_metric_hist_value(s, &count, &sum, counts, CV_ARRAY_SIZE(counts));
	uint64_t cum = 0;
	for (size_t i = 0; i <= f->nbuckets; i++) {
		cum += counts[i];
		if (i < f->nbuckets)
			fmt_double(num, sizeof(num), f->buckets[i]);
		else
			snprintf(num, sizeof(num), "+Inf");
		cv_buf_printf(out, "%s_bucket", f->name);
		labels_append(out, s, num);
		cv_buf_printf(out, " %llu\n", (unsigned long long)cum);
	}
	fmt_double(num, sizeof(num), sum);
	cv_buf_printf(out, "%s_sum", f->name);
	labels_append(out, s, NULL);
	cv_buf_printf(out, " %s\n", num);
	cv_buf_printf(out, "%s_count", f->name);
	labels_append(out, s, NULL);
	cv_buf_printf(out, " %llu\n", (unsigned long long)count);
}

int cv_metrics_render(struct cv_metrics *m, struct cv_buf *out)
{
	if (!m || !out)
		return -EINVAL;
	pthread_mutex_lock(&m->lock);
	for (const struct cv_metric_family *f = m->fams; f; f = f->next) {
		if (!f->series)
			continue;
		cv_buf_printf(out, "# HELP %s ", f->name);
		esc_append(out, f->help, false);
		cv_buf_printf(out, "\n# TYPE %s %s\n", f->name,
			      type_name(f->type));
		for (const struct cv_metric *s = f->series; s; s = s->next) {
			switch (f->type) {
			case CV_METRIC_COUNTER:
				cv_buf_append_str(out, f->name);
				labels_append(out, s, NULL);
				cv_buf_printf(
					out, " %llu\n",
					(unsigned long long)
						cv_metric_counter_value(s));
				break;
			case CV_METRIC_GAUGE:
				cv_buf_append_str(out, f->name);
				labels_append(out, s, NULL);
				cv_buf_printf(
					out, " %lld\n",
					(long long)cv_metric_gauge_value(s));
				break;
			case CV_METRIC_HISTOGRAM:
				render_hist(out, s);
				break;
			}
		}
	}
	pthread_mutex_unlock(&m->lock);
	return out->err;
}

static int json_set(json_t *obj, const char *key, json_t *val)
{
	/* json_object_set_new() frees val on failure */
	return val && !json_object_set_new(obj, key, val) ? 0 : -ENOMEM;
}

static json_t *series_json(const struct cv_metric *s)
{
	const struct cv_metric_family *f = s->fam;
	json_t *o = json_object();
	json_t *labels = json_object();
	int err = o && labels ? 0 : -ENOMEM;
	for (size_t i = 0; !err && i < f->nlabels; i++)
		err = json_set(labels, f->labels[i],
			       cv_json_text(s->values[i]));
	if (!err) {
		err = json_set(o, "labels", labels);
		labels = NULL;
	}
	if (!err && f->type == CV_METRIC_COUNTER)
		err = json_set(
			o, "value",
			json_integer((json_int_t)cv_metric_counter_value(s)));
	if (!err && f->type == CV_METRIC_GAUGE)
		err = json_set(o, "value",
			       json_integer(cv_metric_gauge_value(s)));
	if (!err && f->type == CV_METRIC_HISTOGRAM) {
		uint64_t counts[CV_METRICS_MAX_BUCKETS + 1], count, cum = 0;
		double sum;
		cv_metric_hist_value(s, &count, &sum, counts,
				     CV_ARRAY_SIZE(counts));
		json_t *b = json_array();
		err = json_set(o, "count", json_integer((json_int_t)count));
		if (!err)
			err = json_set(o, "sum", json_real(sum));
		if (!err)
			err = json_set(o, "buckets", b);
		else
			json_decref(b);
		for (size_t i = 0; !err && i <= f->nbuckets; i++) {
			cum += counts[i];
			json_t *e = json_object();
			if (!e || json_array_append_new(b, e)) {
				err = -ENOMEM;
				break;
			}
			err = json_set(e, "le",
				       i < f->nbuckets
					       ? json_real(f->buckets[i])
					       : json_string("+Inf"));
			if (!err)
				err = json_set(e, "count",
					       json_integer((json_int_t)cum));
		}
	}
	json_decref(labels);
	if (err) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int cv_metrics_json(struct cv_metrics *m, json_t **out)
{
	if (!m || !out)
		return -EINVAL;
	json_t *root = json_object();
	int err = root ? 0 : -ENOMEM;
	pthread_mutex_lock(&m->lock);
	for (const struct cv_metric_family *f = m->fams; !err && f;
	     f = f->next) {
		json_t *fo = json_object();
		json_t *arr = json_array();
		if (!fo || !arr) {
			json_decref(fo);
			json_decref(arr);
			err = -ENOMEM;
			break;
		}
		err = json_set(root, f->name, fo);
		if (!err)
			err = json_set(fo, "type",
				       json_string(type_name(f->type)));
		if (!err)
			err = json_set(fo, "help", cv_json_text(f->help));
		if (!err)
			err = json_set(fo, "series", arr);
		else
			json_decref(arr);
		for (const struct cv_metric *s = f->series; !err && s;
		     s = s->next) {
			json_t *so = series_json(s);
			if (!so || json_array_append_new(arr, so))
				err = -ENOMEM;
		}
	}
	pthread_mutex_unlock(&m->lock);
	if (err) {
		json_decref(root);
		return err;
	}
	*out = root;
	return 0;
}
