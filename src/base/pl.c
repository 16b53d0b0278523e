/* Slices and bounded growable buffers. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

#include "cvoip/base.h"

bool cv_pl_eq(struct cv_pl a, struct cv_pl b)
{
	return a.l == b.l && (a.l == 0 || memcmp(a.p, b.p, a.l) == 0);
}

bool cv_pl_casecmp_eq(struct cv_pl a, struct cv_pl b)
{
	if (a.l != b.l)
		return false;
	for (size_t i = 0; i < a.l; i++)
		if (tolower((unsigned char)a.p[i]) !=
		    tolower((unsigned char)b.p[i]))
			return false;
	return true;
}

bool cv_pl_eq_str(struct cv_pl a, const char *s)
{
	return cv_pl_eq(a, cv_pl_str(s));
}

bool cv_pl_caseeq_str(struct cv_pl a, const char *s)
{
	return cv_pl_casecmp_eq(a, cv_pl_str(s));
}

int cv_pl_u64(struct cv_pl pl, uint64_t *out)
{
	uint64_t v = 0;
	if (pl.l == 0)
		return -EINVAL;
	for (size_t i = 0; i < pl.l; i++) {
		unsigned c = (unsigned char)pl.p[i];
		if (c < '0' || c > '9')
			return -EINVAL;
		if (v > (UINT64_MAX - (c - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (c - '0');
	}
	*out = v;
	return 0;
}

int cv_pl_u32(struct cv_pl pl, uint32_t *out)
{
	uint64_t v;
	int err = cv_pl_u64(pl, &v);
	if (err)
		return err;
	if (v > UINT32_MAX)
		return -ERANGE;
	*out = (uint32_t)v;
	return 0;
}

struct cv_pl cv_pl_trim(struct cv_pl pl)
{
	while (pl.l && isspace((unsigned char)pl.p[0])) {
		pl.p++;
		pl.l--;
	}
	while (pl.l && isspace((unsigned char)pl.p[pl.l - 1]))
		pl.l--;
	return pl;
}

size_t cv_pl_strcpy(struct cv_pl pl, char *dst, size_t size)
{
	if (size) {
		size_t n = CV_MIN(pl.l, size - 1);
		if (n)
			memcpy(dst, pl.p, n);
		dst[n] = '\0';
	}
	return pl.l + 1;
}

char *cv_pl_strdup(struct cv_pl pl)
{
	char *s = malloc(pl.l + 1);
	if (!s)
		return NULL;
	if (pl.l)
		memcpy(s, pl.p, pl.l);
	s[pl.l] = '\0';
	return s;
}

void cv_buf_init(struct cv_buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

void cv_buf_free(struct cv_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
	b->err = 0;
}

void cv_buf_reset(struct cv_buf *b)
{
	b->len = 0;
	b->err = 0;
}

int cv_buf_reserve(struct cv_buf *b, size_t extra)
{
	if (b->err)
		return b->err;
	if (extra > SIZE_MAX - b->len - 1)
		return b->err = CV_ETOOBIG;
	size_t need = b->len + extra + 1; /* room for a NUL terminator */
	if (b->max && need > b->max + 1)
		return b->err = CV_ETOOBIG;
	if (need <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if (b->max && cap > b->max + 1)
		cap = b->max + 1;
	char *nd = realloc(b->data, cap);
	if (!nd)
		return b->err = -ENOMEM;
	b->data = nd;
	b->cap = cap;
	return 0;
}

int cv_buf_append(struct cv_buf *b, const void *p, size_t n)
{
	int err = cv_buf_reserve(b, n);
	if (err)
		return err;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int cv_buf_append_pl(struct cv_buf *b, struct cv_pl pl)
{
	return cv_buf_append(b, pl.p, pl.l);
}

int cv_buf_append_str(struct cv_buf *b, const char *s)
{
	return cv_buf_append(b, s, strlen(s));
}

int cv_buf_vprintf(struct cv_buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int err = cv_buf_reserve(b, 0);
	if (err) {
		va_end(ap2);
		return err;
	}
	int n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
	if (n < 0) {
		va_end(ap2);
		return b->err = -EINVAL;
	}
	if ((size_t)n >= b->cap - b->len) {
		err = cv_buf_reserve(b, (size_t)n);
		if (err) {
			b->data[b->len] = '\0';
			va_end(ap2);
			return err;
		}
		vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap2);
	}
	va_end(ap2);
	b->len += (size_t)n;
	return 0;
}

int cv_buf_printf(struct cv_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int err = cv_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return err;
}

void cv_buf_consume(struct cv_buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
	} else {
		memmove(b->data, b->data + n, b->len - n);
		b->len -= n;
	}
	if (b->data)
		b->data[b->len] = '\0';
}
