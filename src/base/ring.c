/* Bounded lock-free MPSC ring and its public wrapper cv_mpsc. */
#include <stdlib.h>

#include "runtime_int.h"

int ring_init(struct ring *r, size_t cap)
{
	size_t n = 2;
	while (n < cap) {
		if (n > SIZE_MAX / 2)
			return -EINVAL;
		n <<= 1;
	}
	r->cells = calloc(n, sizeof(*r->cells));
	if (!r->cells)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		atomic_init(&r->cells[i].seq, i);
	r->mask = n - 1;
	atomic_init(&r->enq, 0);
	r->deq = 0;
	return 0;
}

void ring_fini(struct ring *r)
{
	free(r->cells);
	r->cells = NULL;
}

int ring_push(struct ring *r, void *fn, void *arg)
{
	size_t pos = atomic_load_explicit(&r->enq, memory_order_relaxed);
	struct ring_cell *c;
	for (;;) {
		c = &r->cells[pos & r->mask];
		size_t seq =
			atomic_load_explicit(&c->seq, memory_order_acquire);
		intptr_t diff = (intptr_t)seq - (intptr_t)pos;
		if (diff == 0) {
			if (atomic_compare_exchange_weak_explicit(
				    &r->enq, &pos, pos + 1,
				    memory_order_relaxed, memory_order_relaxed))
				break;
		} else if (diff < 0) {
			return CV_EFULL;
		} else {
			pos = atomic_load_explicit(&r->enq,
						   memory_order_relaxed);
		}
	}
	c->fn = fn;
	c->arg = arg;
	atomic_store_explicit(&c->seq, pos + 1, memory_order_release);
	return 0;
}

bool ring_pop(struct ring *r, void **fn, void **arg)
{
	size_t pos = r->deq;
	struct ring_cell *c = &r->cells[pos & r->mask];
	size_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
	if ((intptr_t)seq - (intptr_t)(pos + 1) < 0)
		return false;
	*fn = c->fn;
	*arg = c->arg;
	atomic_store_explicit(&c->seq, pos + r->mask + 1, memory_order_release);
	r->deq = pos + 1;
	return true;
}

struct cv_mpsc {
	struct ring ring;
};

int cv_mpsc_create(struct cv_mpsc **qp, size_t cap)
{
	struct cv_mpsc *q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	int err = ring_init(&q->ring, cap);
	if (err) {
		free(q);
		return err;
	}
	*qp = q;
	return 0;
}

void cv_mpsc_destroy(struct cv_mpsc *q)
{
	if (!q)
		return;
	ring_fini(&q->ring);
	free(q);
}

int cv_mpsc_push(struct cv_mpsc *q, void *item)
{
	return ring_push(&q->ring, NULL, item);
}

void *cv_mpsc_pop(struct cv_mpsc *q)
{
	void *fn, *arg;
	return ring_pop(&q->ring, &fn, &arg) ? arg : NULL;
}

size_t cv_mpsc_cap(const struct cv_mpsc *q)
{
	return q->ring.mask + 1;
}
