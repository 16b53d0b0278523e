/* Monotonic clock with a fake mode for timer tests. */
#include <stdatomic.h>
#include <time.h>

#include "cvoip/base.h"

static _Atomic bool fake_on;
static _Atomic uint64_t fake_us;

uint64_t cv_clock_us(void)
{
	if (CV_UNLIKELY(atomic_load_explicit(&fake_on, memory_order_relaxed)))
		return atomic_load(&fake_us);
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t cv_clock_ms(void)
{
	return cv_clock_us() / 1000u;
}

uint64_t cv_clock_wall_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void cv_clock_fake_enable(uint64_t start_us)
{
	atomic_store(&fake_us, start_us);
	atomic_store(&fake_on, true);
}

void cv_clock_fake_disable(void)
{
	atomic_store(&fake_on, false);
}

bool cv_clock_is_fake(void)
{
	return atomic_load(&fake_on);
}

void cv_clock_fake_advance(uint64_t us)
{
	atomic_fetch_add(&fake_us, us);
}
