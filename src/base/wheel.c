/* Hashed timer wheel: O(1) start/cancel; a tick visits one slot. Timers
 * further away than one revolution stay in their slot and are skipped until
 * due, which costs one comparison per revolution per such timer. */
#include <stdlib.h>

#include "cvoip/runtime.h"

#define WHEEL_SLOTS 4096u

struct cv_wheel {
	struct cv_tmr slots[WHEEL_SLOTS]; /* sentinels of circular lists */
	uint32_t tick_us;
	uint64_t last_tick; /* last tick number processed */
	size_t count;
	uv_timer_t uvt;
	bool has_uvt;
	bool running;
};

static inline void list_init(struct cv_tmr *head)
{
	head->next = head->prev = head;
}

static inline void list_unlink(struct cv_tmr *t)
{
	t->prev->next = t->next;
	t->next->prev = t->prev;
	t->next = t->prev = NULL;
}

static inline void list_add_tail(struct cv_tmr *head, struct cv_tmr *t)
{
	t->prev = head->prev;
	t->next = head;
	head->prev->next = t;
	head->prev = t;
}

static void uv_tick(uv_timer_t *h)
{
	cv_wheel_run(h->data);
}

static void arm_uv(struct cv_wheel *w)
{
	if (w->has_uvt && !w->running && w->count) {
		uint64_t ms = w->tick_us >= 1000 ? w->tick_us / 1000 : 1;
		uv_timer_start(&w->uvt, uv_tick, ms, ms);
		w->running = true;
	}
}

int cv_wheel_create(struct cv_wheel **wp, uv_loop_t *loop, uint32_t tick_us)
{
	struct cv_wheel *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	for (unsigned i = 0; i < WHEEL_SLOTS; i++)
		list_init(&w->slots[i]);
	w->tick_us = tick_us ? tick_us : 10000;
	w->last_tick = cv_clock_us() / w->tick_us;
	if (loop) {
		int err = uv_timer_init(loop, &w->uvt);
		if (err) {
			free(w);
			return err;
		}
		w->uvt.data = w;
		w->has_uvt = true;
	}
	*wp = w;
	return 0;
}

static void uvt_closed(uv_handle_t *h)
{
	free(h->data);
}

void cv_wheel_destroy(struct cv_wheel *w)
{
	if (!w)
		return;
	/* Timers still armed belong to objects being torn down; unlink them
	 * so their owners see them inactive. */
	for (unsigned i = 0; i < WHEEL_SLOTS; i++) {
		while (w->slots[i].next != &w->slots[i]) {
			struct cv_tmr *t = w->slots[i].next;
			list_unlink(t);
			t->wheel = NULL;
		}
	}
	if (w->has_uvt) {
		uv_timer_stop(&w->uvt);
		uv_close((uv_handle_t *)&w->uvt, uvt_closed);
	} else {
		free(w);
	}
}

void cv_tmr_init(struct cv_tmr *t)
{
	t->next = t->prev = NULL;
	t->wheel = NULL;
	t->fn = NULL;
	t->arg = NULL;
	t->due_us = 0;
}

bool cv_tmr_active(const struct cv_tmr *t)
{
	return t->next != NULL;
}

void cv_tmr_cancel(struct cv_tmr *t)
{
	if (!t->next)
		return;
	list_unlink(t);
	if (t->wheel) {
		t->wheel->count--;
		if (t->wheel->count == 0 && t->wheel->running) {
			uv_timer_stop(&t->wheel->uvt);
			t->wheel->running = false;
		}
	}
	t->wheel = NULL;
}

void cv_tmr_start(struct cv_wheel *w, struct cv_tmr *t, uint64_t delay_us,
		  cv_tmr_fn *fn, void *arg)
{
	cv_tmr_cancel(t);
	uint64_t now = cv_clock_us();
	t->due_us = now + delay_us;
	t->fn = fn;
	t->arg = arg;
	t->wheel = w;
	/* Round up so a timer never fires early. */
	uint64_t tick = (t->due_us + w->tick_us - 1) / w->tick_us;
	if (tick <= w->last_tick)
		tick = w->last_tick + 1;
	list_add_tail(&w->slots[tick % WHEEL_SLOTS], t);
	w->count++;
	arm_uv(w);
}

unsigned cv_wheel_run(struct cv_wheel *w)
{
	uint64_t now = cv_clock_us();
	uint64_t now_tick = now / w->tick_us;
	unsigned fired = 0;
	if (now_tick <= w->last_tick)
		return 0;
	struct cv_tmr expired;
	list_init(&expired);
	uint64_t from = w->last_tick + 1;
	if (now_tick - from >= WHEEL_SLOTS)
		from = now_tick - WHEEL_SLOTS + 1;
	for (uint64_t tk = from; tk <= now_tick; tk++) {
		struct cv_tmr *head = &w->slots[tk % WHEEL_SLOTS];
		for (struct cv_tmr *t = head->next, *nx; t != head; t = nx) {
			nx = t->next;
			if (t->due_us <= now) {
				list_unlink(t);
				list_add_tail(&expired, t);
			}
		}
	}
	w->last_tick = now_tick;
	/* Fire one at a time: a callback may cancel or re-arm any timer,
	 * including ones still waiting in the expired list. */
	while (expired.next != &expired) {
		struct cv_tmr *t = expired.next;
		list_unlink(t);
		t->wheel = NULL;
		w->count--;
		fired++;
		t->fn(t, t->arg);
	}
	if (w->count == 0 && w->running) {
		uv_timer_stop(&w->uvt);
		w->running = false;
	}
	return fired;
}

size_t cv_wheel_count(const struct cv_wheel *w)
{
	return w->count;
}
