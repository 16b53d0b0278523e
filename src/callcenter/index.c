/* Indexed binary heap and chained hash map used by the routing engine. */
#include <stdlib.h>

#include "cc_int.h"

void cc_hn_init(struct cc_hn *h, void *owner)
{
	h->k1 = h->k2 = 0;
	h->idx = SIZE_MAX;
	h->owner = owner;
}

static inline bool hn_lt(const struct cc_hn *a, const struct cc_hn *b)
{
	return cc_key_lt(a->k1, a->k2, b->k1, b->k2);
}

static void sift_up(struct cc_heap *h, size_t i)
{
	struct cc_hn *x = h->v[i];
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!hn_lt(x, h->v[p]))
			break;
		h->v[i] = h->v[p];
		h->v[i]->idx = i;
		i = p;
	}
	h->v[i] = x;
	x->idx = i;
}

static void sift_down(struct cc_heap *h, size_t i)
{
	struct cc_hn *x = h->v[i];
	for (;;) {
		size_t l = 2 * i + 1, m;
		if (l >= h->n)
			break;
		m = l;
		if (l + 1 < h->n && hn_lt(h->v[l + 1], h->v[l]))
			m = l + 1;
		if (!hn_lt(h->v[m], x))
			break;
		h->v[i] = h->v[m];
		h->v[i]->idx = i;
		i = m;
	}
	h->v[i] = x;
	x->idx = i;
}

int cc_heap_push(struct cc_heap *h, struct cc_hn *x)
{
	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 16;
		struct cc_hn **v = realloc(h->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		h->v = v;
		h->cap = cap;
	}
	h->v[h->n] = x;
	x->idx = h->n++;
	sift_up(h, x->idx);
	return 0;
}

void cc_heap_remove(struct cc_heap *h, struct cc_hn *x)
{
	size_t i = x->idx;
	if (i == SIZE_MAX || i >= h->n || h->v[i] != x)
		return;
	x->idx = SIZE_MAX;
	h->n--;
	if (i == h->n)
		return;
	h->v[i] = h->v[h->n];
	h->v[i]->idx = i;
	if (i > 0 && hn_lt(h->v[i], h->v[(i - 1) / 2]))
		sift_up(h, i);
	else
		sift_down(h, i);
}

/* Frees the array only: the nodes may be gone already (engine teardown). */
void cc_heap_free(struct cc_heap *h)
{
	free(h->v);
	h->v = NULL;
	h->n = h->cap = 0;
}

/* ---- map ----------------------------------------------------------------- */
static inline size_t slot(const struct cc_map *m, uint64_t key)
{
	/* Ids are sequential and names are FNV hashes: mix before masking. */
	key ^= key >> 33;
	key *= 0xff51afd7ed558ccdULL;
	key ^= key >> 33;
	return (size_t)key & (m->nb - 1);
}

static int grow(struct cc_map *m)
{
	size_t nb = m->nb ? m->nb * 2 : 64;
	struct cc_mn **b = calloc(nb, sizeof(*b));
	if (!b)
		return -ENOMEM;
	struct cc_map nm = {b, nb, m->n};
	for (size_t i = 0; i < m->nb; i++) {
		for (struct cc_mn *x = m->b[i], *nx; x; x = nx) {
			nx = x->next;
			size_t s = slot(&nm, x->key);
			x->next = b[s];
			b[s] = x;
		}
	}
	free(m->b);
	*m = nm;
	return 0;
}

int cc_map_put(struct cc_map *m, struct cc_mn *x)
{
	if (m->n + 1 > m->nb) {
		int err = grow(m);
		if (err)
			return err;
	}
	size_t s = slot(m, x->key);
	x->next = m->b[s];
	m->b[s] = x;
	m->n++;
	return 0;
}

void cc_map_del(struct cc_map *m, struct cc_mn *x)
{
	if (!m->nb)
		return;
	for (struct cc_mn **pp = &m->b[slot(m, x->key)]; *pp;
	     pp = &(*pp)->next) {
		if (*pp == x) {
			*pp = x->next;
			x->next = NULL;
			m->n--;
			return;
		}
	}
}

struct cc_mn *cc_map_first(const struct cc_map *m, uint64_t key)
{
	if (!m->nb)
		return NULL;
	for (struct cc_mn *x = m->b[slot(m, key)]; x; x = x->next)
		if (x->key == key)
			return x;
	return NULL;
}

struct cc_mn *cc_map_next(const struct cc_mn *x, uint64_t key)
{
	for (x = x->next; x; x = x->next)
		if (x->key == key)
			return (struct cc_mn *)x;
	return NULL;
}

void cc_map_free(struct cc_map *m)
{
	free(m->b);
	m->b = NULL;
	m->nb = m->n = 0;
}
