/*
 * cvoip base: errors, refcounted memory, slices, buffers, logging, clock.
 *
 * Every other module builds on this header. Conventions (ARCHITECTURE.md):
 * functions return 0 or a negative errno-style code; results go through
 * out-pointers; long-lived objects are refcounted with a destructor.
 */
#ifndef CVOIP_BASE_H
#define CVOIP_BASE_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define CV_API		__attribute__((visibility("default")))
#define CV_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define CV_LIKELY(x)	__builtin_expect(!!(x), 1)
#define CV_UNLIKELY(x)	__builtin_expect(!!(x), 0)
#else
#define CV_API
#define CV_PRINTF(f, a)
#define CV_LIKELY(x)   (x)
#define CV_UNLIKELY(x) (x)
#endif

#define CV_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define CV_MIN(a, b)	 ((a) < (b) ? (a) : (b))
#define CV_MAX(a, b)	 ((a) > (b) ? (a) : (b))
#define CV_CONTAINER_OF(ptr, type, member)                                     \
	((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* ---- errors ------------------------------------------------------------
 * System errors are negative errno values (-ENOMEM, -EINVAL, ...), as in
 * libuv. Project codes live in their own negative block below -10000. */
enum cv_err {
	CV_EBASE = -10000,
	CV_EPARSE = -10001,	/* malformed input */
	CV_ETOOBIG = -10002,	/* a configured limit was exceeded */
	CV_ENOTFOUND = -10003,	/* lookup found nothing */
	CV_ESTALE = -10004,	/* generational handle no longer valid */
	CV_ECONFIG = -10005,	/* configuration rejected */
	CV_EFULL = -10006,	/* bounded queue full */
	CV_ECLOSED = -10007,	/* object or transport already closed */
	CV_EAUTH = -10008,	/* authentication failed */
	CV_ETIMEOUT = -10009,	/* operation timed out */
	CV_EPROTO = -10010,	/* protocol violation by the peer */
	CV_EUNSUPP = -10011,	/* valid but unsupported */
	CV_EDB = -10012,	/* database error */
	CV_EINCOMPLETE = -10013 /* need more bytes (stream framing) */
};

/* A readable text for any code this project returns (errno, libuv, cv). */
CV_API const char *cv_strerror(int err);

/* ---- refcounted memory ---------------------------------------------------
 * cv_mem_zalloc() returns zeroed memory with a refcount of 1. The destructor
 * runs when the last reference goes, before the memory is freed. Leak
 * accounting: cv_mem_live() is the number of live objects across threads;
 * tests assert it returns to its start value. */
typedef void(cv_mem_dtor_fn)(void *obj);

CV_API void *cv_mem_zalloc(size_t size, cv_mem_dtor_fn *dtor);
/* The same without zeroing: for an object whose every byte the caller
 * writes before reading it (a parsed SIP message: struct, index, copy). */
CV_API void *cv_mem_alloc(size_t size, cv_mem_dtor_fn *dtor);
CV_API void *cv_mem_ref(void *obj);
/* Drops a reference; returns NULL so callers can write p = cv_mem_unref(p). */
CV_API void *cv_mem_unref(void *obj);
CV_API uint32_t cv_mem_nrefs(const void *obj);
/* Resize an object with refcount 1 (no destructor change). NULL on failure
 * (the old object is untouched). */
CV_API void *cv_mem_realloc(void *obj, size_t size);
CV_API int64_t cv_mem_live(void);
CV_API int64_t cv_mem_live_bytes(void);

/* ---- slices (pointer + length, never NUL-terminated) ------------------- */
struct cv_pl {
	const char *p;
	size_t l;
};

#define CV_PL(s) ((struct cv_pl){(s), sizeof(s) - 1})
#define CV_PL_INIT                                                             \
	{                                                                      \
		NULL, 0                                                        \
	}
#define CV_PL_FMT     "%.*s"
#define CV_PL_ARG(pl) (int)(pl).l, (pl).p

static inline struct cv_pl cv_pl_str(const char *s);
CV_API bool cv_pl_eq(struct cv_pl a, struct cv_pl b);
CV_API bool cv_pl_casecmp_eq(struct cv_pl a, struct cv_pl b);
CV_API bool cv_pl_eq_str(struct cv_pl a, const char *s);
CV_API bool cv_pl_caseeq_str(struct cv_pl a, const char *s);
/* Decimal parse of the whole slice; -EINVAL on junk, -ERANGE past max. */
CV_API int cv_pl_u32(struct cv_pl pl, uint32_t *out);
CV_API int cv_pl_u64(struct cv_pl pl, uint64_t *out);
CV_API struct cv_pl cv_pl_trim(struct cv_pl pl);
/* Copy into a NUL-terminated buffer, truncating; returns bytes needed. */
CV_API size_t cv_pl_strcpy(struct cv_pl pl, char *dst, size_t size);
/* Newly malloc()ed NUL-terminated copy (free() it), NULL on ENOMEM. */
CV_API char *cv_pl_strdup(struct cv_pl pl);

#include <string.h>
static inline struct cv_pl cv_pl_str(const char *s)
{
	struct cv_pl pl = {s, s ? strlen(s) : 0};
	return pl;
}

/* ---- growable, bounded byte buffer --------------------------------------
 * A plain struct (not refcounted) for building messages. `max` bounds the
 * growth (0 = no bound); writes past it fail with CV_ETOOBIG. */
struct cv_buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max;
	int err; /* first error of a chain of appends, sticky */
};

CV_API void cv_buf_init(struct cv_buf *b, size_t max);
CV_API void cv_buf_free(struct cv_buf *b);
CV_API void cv_buf_reset(struct cv_buf *b);
CV_API int cv_buf_reserve(struct cv_buf *b, size_t extra);
CV_API int cv_buf_append(struct cv_buf *b, const void *p, size_t n);
CV_API int cv_buf_append_pl(struct cv_buf *b, struct cv_pl pl);
CV_API int cv_buf_append_str(struct cv_buf *b, const char *s);
CV_API int cv_buf_printf(struct cv_buf *b, const char *fmt, ...)
	CV_PRINTF(2, 3);
CV_API int cv_buf_vprintf(struct cv_buf *b, const char *fmt, va_list ap)
	CV_PRINTF(2, 0);
/* Remove the first n bytes (stream consumers). */
CV_API void cv_buf_consume(struct cv_buf *b, size_t n);

/* ---- logging --------------------------------------------------------------
 * Lines look like: `2026-11-23T13:00:00.123Z info  sip  msg key=value`.
 * Anything the network can trigger must use CV_LOG_RL, which allows a burst
 * per call site and then one line per second with a suppressed count. */
enum cv_log_level {
	CV_LOG_ERROR = 0,
	CV_LOG_WARN = 1,
	CV_LOG_INFO = 2,
	CV_LOG_DEBUG = 3,
	CV_LOG_TRACE = 4
};

typedef void(cv_log_sink_fn)(enum cv_log_level lvl, const char *module,
			     const char *line, void *arg);

CV_API void cv_log_set_level(enum cv_log_level lvl);
/* Per-module override, e.g. ("sip", CV_LOG_TRACE). At most 32 overrides. */
CV_API int cv_log_set_module_level(const char *module, enum cv_log_level lvl);
CV_API int cv_log_level_parse(const char *s, enum cv_log_level *out);
CV_API const char *cv_log_level_name(enum cv_log_level lvl);
CV_API bool cv_log_enabled(enum cv_log_level lvl, const char *module);
/* Replace the stderr sink (tests capture lines); NULL restores stderr. */
CV_API void cv_log_set_sink(cv_log_sink_fn *fn, void *arg);
CV_API void cv_log(enum cv_log_level lvl, const char *module, const char *fmt,
		   ...) CV_PRINTF(3, 4);
CV_API void cv_vlog(enum cv_log_level lvl, const char *module, const char *fmt,
		    va_list ap) CV_PRINTF(3, 0);

struct cv_log_rl {
	int64_t window_start_ms;
	uint32_t in_window;
	uint32_t suppressed;
};
/* Returns true when this line may be printed; *suppressed is set to the
 * number dropped since the last printed line. */
CV_API bool cv_log_rl_allow(struct cv_log_rl *rl, uint32_t *suppressed);

#define CV_LOG_RL(lvl, module, fmt, ...)                                       \
	do {                                                                   \
		static struct cv_log_rl cv__rl;                                \
		uint32_t cv__sup;                                              \
		if (cv_log_enabled((lvl), (module)) &&                         \
		    cv_log_rl_allow(&cv__rl, &cv__sup))                        \
			cv_log((lvl), (module), fmt " suppressed=%u",          \
			       ##__VA_ARGS__, cv__sup);                        \
	} while (0)

#define CV_ERROR(mod, ...) cv_log(CV_LOG_ERROR, (mod), __VA_ARGS__)
#define CV_WARN(mod, ...)  cv_log(CV_LOG_WARN, (mod), __VA_ARGS__)
#define CV_INFO(mod, ...)  cv_log(CV_LOG_INFO, (mod), __VA_ARGS__)
#define CV_DEBUG(mod, ...)                                                     \
	do {                                                                   \
		if (cv_log_enabled(CV_LOG_DEBUG, (mod)))                       \
			cv_log(CV_LOG_DEBUG, (mod), __VA_ARGS__);              \
	} while (0)

/* ---- clock ----------------------------------------------------------------
 * Monotonic time. Tests switch to a fake clock that only moves when told. */
CV_API uint64_t cv_clock_us(void);
CV_API uint64_t cv_clock_ms(void);
/* Wall clock, microseconds since the Unix epoch (not faked). */
CV_API uint64_t cv_clock_wall_us(void);
CV_API void cv_clock_fake_enable(uint64_t start_us);
CV_API void cv_clock_fake_disable(void);
CV_API bool cv_clock_is_fake(void);
CV_API void cv_clock_fake_advance(uint64_t us);

/* ---- misc -------------------------------------------------------------- */
/* 64-bit FNV-1a; stable across runs (worker ownership depends on it). */
CV_API uint64_t cv_hash(const void *p, size_t n);
/* Case-insensitive variant for tokens. */
CV_API uint64_t cv_hash_ci(const void *p, size_t n);
/* Cryptographically random bytes (getrandom); 0 or -errno. */
CV_API int cv_random(void *buf, size_t n);
/* Random token of [A-Za-z0-9] of length n, NUL-terminated (dst size n+1). */
CV_API void cv_random_token(char *dst, size_t n);
CV_API uint32_t cv_random_u32(void);

/* v in decimal into out (no NUL): the digit count, 1..CV_U64_DEC_MAX.
 * For hot paths that build text without printf. */
#define CV_U64_DEC_MAX 20
CV_API size_t cv_u64_dec(char *out, uint64_t v);

/* Base64, RFC 4648: CV_BASE64_STD is §4 with '=' padding (padding is
 * optional on decode), CV_BASE64_URL is §5 without padding (leftover bits
 * must be zero on decode), CV_BASE64_MIME decodes a MIME body (RFC 2045
 * §6.8: line breaks and white space skipped, every quantum complete,
 * padded only at its end; encodes as STD, without line breaks). encode writes a
 * NUL-terminated string and returns its length, or CV_ETOOBIG when out (size
 * bytes, room for the NUL included) is too small; decode returns 0 or CV_EPARSE
 * (bad character, data after padding, more than size bytes). */
enum cv_base64 { CV_BASE64_STD, CV_BASE64_URL, CV_BASE64_MIME };
CV_API size_t cv_base64_enclen(size_t len, enum cv_base64 kind);
CV_API int cv_base64_encode(const void *in, size_t len, char *out, size_t size,
			    enum cv_base64 kind);
CV_API int cv_base64_decode(struct cv_pl in, uint8_t *out, size_t size,
			    size_t *outlen, enum cv_base64 kind);

CV_API const char *cv_version(void);

#ifdef __cplusplus
}
#endif

#endif
