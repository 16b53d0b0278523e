/*
 * cvoip configuration: one YAML file loaded into a tree with line numbers,
 * then mapped to each module's typed params struct by the application.
 *
 * Every reader rejects unknown keys and bad values with `file:line: what is
 * wrong` in a struct cv_cfg_err, so a typo never passes silently.
 */
#ifndef CVOIP_CONFIG_H
#define CVOIP_CONFIG_H

#include "cvoip/base.h"

#ifdef __cplusplus
extern "C" {
#endif

enum cv_cfg_type { CV_CFG_SCALAR, CV_CFG_MAP, CV_CFG_SEQ, CV_CFG_NULL };

struct cv_cfg_node {
	enum cv_cfg_type type;
	unsigned line;
	const char *key;   /* in a map: this entry's key, else NULL */
	const char *value; /* scalar text, else NULL */
	bool quoted;	   /* scalar was quoted: never null/bool/number */
	struct cv_cfg_node *child; /* first entry of a map or seq */
	struct cv_cfg_node *next;  /* next sibling */
	unsigned nchild;
};

struct cv_cfg;

struct cv_cfg_err {
	char msg[512];
};

/* Load a YAML file. On failure returns CV_ECONFIG (or -errno for I/O) and
 * fills err with `file:line: what`. Documents nest at most 64 levels and
 * hold at most 100k nodes. */
CV_API int cv_cfg_load(struct cv_cfg **cfgp, const char *path,
		       struct cv_cfg_err *err);
CV_API int cv_cfg_load_str(struct cv_cfg **cfgp, const char *name,
			   const char *text, size_t len,
			   struct cv_cfg_err *err);
CV_API void cv_cfg_free(struct cv_cfg *cfg);
CV_API const struct cv_cfg_node *cv_cfg_root(const struct cv_cfg *cfg);
CV_API const char *cv_cfg_file(const struct cv_cfg *cfg);

/* Lookup in a map; NULL when absent or when map is not a map. */
CV_API const struct cv_cfg_node *cv_cfg_get(const struct cv_cfg_node *map,
					    const char *key);

/* Fail with `file:line: unknown key 'x' in <where> (expected: a, b, c)` when
 * map has a key outside allowed (NULL-terminated). */
CV_API int cv_cfg_check_keys(const struct cv_cfg *cfg,
			     const struct cv_cfg_node *map, const char *where,
			     const char *const *allowed,
			     struct cv_cfg_err *err);
CV_API int cv_cfg_expect(const struct cv_cfg *cfg, const struct cv_cfg_node *n,
			 enum cv_cfg_type type, const char *what,
			 struct cv_cfg_err *err);

/* Typed readers: node may be NULL (absent): out keeps its default and 0 is
 * returned. A present node of the wrong form fails with file:line. */
CV_API int cv_cfg_str(const struct cv_cfg *cfg, const struct cv_cfg_node *n,
		      const char **out, struct cv_cfg_err *err);
CV_API int cv_cfg_int(const struct cv_cfg *cfg, const struct cv_cfg_node *n,
		      int64_t min, int64_t max, int64_t *out,
		      struct cv_cfg_err *err);
CV_API int cv_cfg_bool(const struct cv_cfg *cfg, const struct cv_cfg_node *n,
		       bool *out, struct cv_cfg_err *err);
/* Durations: `30`, `30s`, `250ms`, `5m`, `1h` -> milliseconds. */
CV_API int cv_cfg_duration_ms(const struct cv_cfg *cfg,
			      const struct cv_cfg_node *n, int64_t min_ms,
			      int64_t max_ms, int64_t *out,
			      struct cv_cfg_err *err);
/* One of the NULL-terminated names; *out is its index. */
CV_API int cv_cfg_enum(const struct cv_cfg *cfg, const struct cv_cfg_node *n,
		       const char *const *names, int *out,
		       struct cv_cfg_err *err);
/* Format an error at node n. Always returns CV_ECONFIG. */
CV_API int cv_cfg_fail(const struct cv_cfg *cfg, const struct cv_cfg_node *n,
		       struct cv_cfg_err *err, const char *fmt, ...)
	CV_PRINTF(4, 5);

#ifdef __cplusplus
}
#endif

#endif
