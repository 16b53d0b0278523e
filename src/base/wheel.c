/* Hashed timer wheel: O(1) start/cancel; a tick visits one slot. Timers
 * further away than one revolution stay in their slot and are skipped until
 * due, which costs one comparison per revolution per such timer.
 *
 * The loop is not woken every tick: the uv timer is a one-shot armed for the
 * next non-empty slot (looked up at most WHEEL_SCAN slots ahead, else it
 * wakes after WHEEL_SCAN ticks to look again). A worker whose only timer is
 * a 1 s sweep wakes once a second instead of 100 times: on these VMs each
 * wake-up costs more in the scheduler than the tick's work. */
#include <stdlib.h>

#include "cvoip/runtime.h"

#define WHEEL_SLOTS 4096u
#define WHEEL_SCAN  256u /* slots looked at for the next wake-up */

struct cv_wheel {
	struct cv_tmr slots[WHEEL_SLOTS]; /* sentinels of circular lists */
	uint32_t tick_us;
	uint64_t last_tick; /* last tick number processed */
	size_t count;
	uv_timer_t uvt;
	bool has_uvt;
	bool running;
	uint64_t armed_tick; /* the tick the uv timer wakes for */
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

/* The first tick after last_tick whose slot holds a timer, or the last
 * tick scanned when none is within WHEEL_SCAN. */
static uint64_t next_tick(const struct cv_wheel *w)
{
	for (uint64_t tk = w->last_tick + 1; tk <= w->last_tick + WHEEL_SCAN;
	     tk++) {
		const struct cv_tmr *head = &w->slots[tk % WHEEL_SLOTS];
		if (head->next != head)
			return tk;
	}
	return w->last_tick + WHEEL_SCAN;
}

static void uv_tick(uv_timer_t *h);

/* Arms the one-shot uv timer for tick (or earlier: never later than a
 * wake-up already armed). */
static void arm_at(struct cv_wheel *w, uint64_t tick)
{
	if (!w->has_uvt || !w->count)
		return;
	if (w->running && w->armed_tick <= tick)
		return;
	uint64_t due_us = tick * w->tick_us, now = cv_clock_us();
	/* uv timers count whole ms from the loop's cached, coarse time: round
	 * up and add one so the slot is mostly due when the timer runs; when
	 * it is not yet, uv_tick finds nothing and arms again (>= 1 ms: a
	 * wake-up more, never a spin) */
	uint64_t ms = (due_us > now ? (due_us - now + 999) / 1000 : 0) + 1;
	uv_timer_start(&w->uvt, uv_tick, ms, 0);
	w->running = true;
	w->armed_tick = tick;
}

static void uv_tick(uv_timer_t *h)
{
	struct cv_wheel *w = h->data;
	w->running = false; /* the one-shot has run */
	cv_wheel_run(w);
	/* callbacks may have armed a later tick than a slot already filled:
	 * the earliest non-empty slot decides */
	if (w->count)
		arm_at(w, next_tick(w));
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
	arm_at(w, tick);
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
