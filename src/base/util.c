/* Error texts, hashing, randomness, version. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <uv.h>

#include "cvoip/base.h"

/* Module error blocks (ARCHITECTURE.md "Errors"): a layer above base owns
 * a block of 100 codes below -10000 and declares them in its header
 * (sdp: -10300..-10399 in cvoip/sdp.h). base cannot call up into the
 * module's own text function, so the codes in use are named here too and
 * an unnamed code in a block still names its module. */
static const struct {
	int code;
	const char *text;
} module_codes[] = {
	{-10301,
	 "sdp: no acceptable media in the offer"}, /* CV_SDP_ENOTACCEPTABLE */
};

static const struct {
	int hi, lo;
	const char *text;
} module_blocks[] = {
	{-10300, -10399, "sdp error"},
};

static const char *module_strerror(int err)
{
	for (size_t i = 0; i < sizeof(module_codes) / sizeof(module_codes[0]);
	     i++)
		if (module_codes[i].code == err)
			return module_codes[i].text;
	for (size_t i = 0; i < sizeof(module_blocks) / sizeof(module_blocks[0]);
	     i++)
		if (err <= module_blocks[i].hi && err >= module_blocks[i].lo)
			return module_blocks[i].text;
	return "unknown error";
}

const char *cv_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case CV_EPARSE:
		return "malformed input";
	case CV_ETOOBIG:
		return "limit exceeded";
	case CV_ENOTFOUND:
		return "not found";
	case CV_ESTALE:
		return "stale handle";
	case CV_ECONFIG:
		return "configuration rejected";
	case CV_EFULL:
		return "queue full";
	case CV_ECLOSED:
		return "closed";
	case CV_EAUTH:
		return "authentication failed";
	case CV_ETIMEOUT:
		return "timed out";
	case CV_EPROTO:
		return "protocol violation";
	case CV_EUNSUPP:
		return "unsupported";
	case CV_EDB:
		return "database error";
	case CV_EINCOMPLETE:
		return "incomplete input";
	default:
		break;
	}
	if (err < 0 && err > -4096)
		return strerror(-err);
	if (err <= -4096 && err > CV_EBASE)
		return uv_strerror(err);
	return module_strerror(err);
}

uint64_t cv_hash(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 1099511628211ull;
	}
	return h;
}

uint64_t cv_hash_ci(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++) {
		unsigned c = s[i];
		if (c >= 'A' && c <= 'Z')
			c += 32;
		h ^= c;
		h *= 1099511628211ull;
	}
	return h;
}

static int random_fill(void *buf, size_t n)
{
	char *p = buf;
	while (n) {
		ssize_t r = getrandom(p, n, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* Small requests (nonce randomness, keys) are served from a per-thread pool
 * refilled from getrandom(), so a digest challenge costs no syscall. The
 * bytes are kernel CSPRNG output, each handed out once and wiped from the
 * pool when taken. A forked child drops the pool it inherited so parent
 * and child never hand out the same bytes. */
#define RANDOM_POOL	    256
#define RANDOM_POOL_MAX_REQ 64

static _Thread_local struct {
	unsigned char b[RANDOM_POOL];
	size_t avail; /* unread bytes at the end of b */
} rpool;
static pthread_once_t rpool_once = PTHREAD_ONCE_INIT;

static void rpool_atfork_child(void)
{
	explicit_bzero(&rpool, sizeof(rpool));
}

static void rpool_init(void)
{
	(void)pthread_atfork(NULL, NULL, rpool_atfork_child);
}

int cv_random(void *buf, size_t n)
{
	if (n == 0)
		return 0;
	if (n > RANDOM_POOL_MAX_REQ)
		return random_fill(buf, n);
	if (rpool.avail < n) {
		pthread_once(&rpool_once, rpool_init);
		int err = random_fill(rpool.b, RANDOM_POOL);
		if (err) {
			rpool.avail = 0;
			return err;
		}
		rpool.avail = RANDOM_POOL;
	}
	unsigned char *src = rpool.b + RANDOM_POOL - rpool.avail;
	memcpy(buf, src, n);
	explicit_bzero(src, n);
	rpool.avail -= n;
	return 0;
}

/* Thread-local xorshift seeded from getrandom: tokens (tags, branches) need
 * uniqueness, not secrecy; secrets use cv_random(). */
static _Thread_local uint64_t rng_state;

uint32_t cv_random_u32(void)
{
	if (CV_UNLIKELY(rng_state == 0)) {
		if (cv_random(&rng_state, sizeof(rng_state)) != 0 || !rng_state)
			rng_state = 0x9e3779b97f4a7c15ull ^
				    (uint64_t)(uintptr_t)&rng_state;
	}
	uint64_t x = rng_state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return (uint32_t)((x * 2685821657736338717ull) >> 32);
}

void cv_random_token(char *dst, size_t n)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklm"
				       "nopqrstuvwxyz0123456789";
	for (size_t i = 0; i < n; i++)
		dst[i] = alphabet[cv_random_u32() % (sizeof(alphabet) - 1)];
	dst[n] = '\0';
}

const char *cv_version(void)
{
	return CV_VERSION_STRING;
}

size_t cv_u64_dec(char *out, uint64_t v)
{
	char tmp[CV_U64_DEC_MAX];
	size_t i = sizeof(tmp);
	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	size_t n = sizeof(tmp) - i;
	memcpy(out, tmp + i, n);
	return n;
}
