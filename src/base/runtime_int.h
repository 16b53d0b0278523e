/* Private parts of the worker runtime shared between runtime files. */
#ifndef CV_RUNTIME_INT_H
#define CV_RUNTIME_INT_H

#include <stdatomic.h>

#include "cvoip/runtime.h"

/* A bounded multi-producer ring of (fn, arg) pairs (Vyukov's bounded queue,
 * used with a single consumer). Producers never block; push fails when
 * full. */
struct ring_cell {
	_Atomic size_t seq;
	void *fn;
	void *arg;
};

struct ring {
	size_t mask;
	_Alignas(64) _Atomic size_t enq;
	_Alignas(64) size_t deq;
	struct ring_cell *cells;
};

int ring_init(struct ring *r, size_t cap);
void ring_fini(struct ring *r);
int ring_push(struct ring *r, void *fn, void *arg);
bool ring_pop(struct ring *r, void **fn, void **arg);

#endif
