/* Refcounted memory with destructors and live-object accounting. */
#include <stdatomic.h>
#include <stdlib.h>

#include "cvoip/base.h"

struct mem_hdr {
	_Atomic uint32_t nrefs;
	uint32_t magic;
	size_t size;
	cv_mem_dtor_fn *dtor;
	/* keeps the payload 16-byte aligned */
	uint64_t pad;
};

#define MEM_MAGIC 0xc7a11c0du

/* Relaxed atomics: summed only when a test or a metric asks. */
static _Atomic int64_t live_objs;
static _Atomic int64_t live_bytes;

static inline struct mem_hdr *hdr_of(const void *obj)
{
	return (struct mem_hdr *)(void *)((char *)(uintptr_t)obj -
					  sizeof(struct mem_hdr));
}

static void *mem_alloc(size_t size, cv_mem_dtor_fn *dtor, bool zero)
{
	if (size > SIZE_MAX - sizeof(struct mem_hdr))
		return NULL;
	struct mem_hdr *h =
		zero ? calloc(1, sizeof(*h) + size) : malloc(sizeof(*h) + size);
	if (!h)
		return NULL;
	atomic_init(&h->nrefs, 1);
	h->magic = MEM_MAGIC;
	h->size = size;
	h->dtor = dtor;
	atomic_fetch_add_explicit(&live_objs, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&live_bytes, (int64_t)size,
				  memory_order_relaxed);
	return h + 1;
}

void *cv_mem_zalloc(size_t size, cv_mem_dtor_fn *dtor)
{
	return mem_alloc(size, dtor, true);
}

void *cv_mem_alloc(size_t size, cv_mem_dtor_fn *dtor)
{
	return mem_alloc(size, dtor, false);
}

void *cv_mem_ref(void *obj)
{
	if (obj)
		atomic_fetch_add_explicit(&hdr_of(obj)->nrefs, 1,
					  memory_order_relaxed);
	return obj;
}

void *cv_mem_unref(void *obj)
{
	if (!obj)
		return NULL;
	struct mem_hdr *h = hdr_of(obj);
	if (atomic_fetch_sub_explicit(&h->nrefs, 1, memory_order_acq_rel) != 1)
		return NULL;
	if (h->dtor)
		h->dtor(obj);
	atomic_fetch_sub_explicit(&live_objs, 1, memory_order_relaxed);
	atomic_fetch_sub_explicit(&live_bytes, (int64_t)h->size,
				  memory_order_relaxed);
	h->magic = 0;
	free(h);
	return NULL;
}

uint32_t cv_mem_nrefs(const void *obj)
{
	return obj ? atomic_load_explicit(&hdr_of(obj)->nrefs,
					  memory_order_relaxed)
		   : 0;
}

void *cv_mem_realloc(void *obj, size_t size)
{
	if (!obj)
		return cv_mem_zalloc(size, NULL);
	if (size > SIZE_MAX - sizeof(struct mem_hdr))
		return NULL;
	struct mem_hdr *h = hdr_of(obj);
	size_t old = h->size;
	struct mem_hdr *nh = realloc(h, sizeof(*nh) + size);
	if (!nh)
		return NULL;
	if (size > old)
		memset((char *)(nh + 1) + old, 0, size - old);
	nh->size = size;
	atomic_fetch_add_explicit(&live_bytes, (int64_t)size - (int64_t)old,
				  memory_order_relaxed);
	return nh + 1;
}

int64_t cv_mem_live(void)
{
	return atomic_load_explicit(&live_objs, memory_order_relaxed);
}

int64_t cv_mem_live_bytes(void)
{
	return atomic_load_explicit(&live_bytes, memory_order_relaxed);
}
