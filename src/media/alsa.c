/* Sound device through ALSA: capture and playback threads joined to the
 * stream's loop by bounded rings (the loop never blocks on the device). */
#include <alsa/asoundlib.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "media_int.h"

#define ADEV_MAX_CH	8
#define ADEV_MAX_PERIOD 4800 /* 100 ms at 48 kHz */

/* Bounded ring of mono samples at the device rate (mutex: both sides only
 * copy under it). */
struct ring {
	pthread_mutex_t mu;
	int16_t *buf;
	size_t cap, head, len;
};

struct dir {
	struct cv_adev *d;
	snd_pcm_t *pcm;
	pthread_t thr;
	bool started;
	unsigned channels;
	struct ring ring;
	uint64_t t0_us;	 /* pacing reference */
	uint64_t frames; /* frames since t0 */
	int16_t io[ADEV_MAX_PERIOD * ADEV_MAX_CH];
	int16_t mono[ADEV_MAX_PERIOD];
};

struct cv_adev {
	atomic_bool stop;
	uint32_t rate;
	snd_pcm_uframes_t period;
	struct dir cap, play;
	_Atomic uint64_t captured, played, cap_xruns, play_xruns, cap_dropped,
		play_dropped, play_silence, errors;
};

static uint64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- ring ---------------------------------------------------------------- */

static int ring_init(struct ring *r, size_t cap)
{
	r->buf = calloc(cap, sizeof(*r->buf));
	if (!r->buf)
		return -ENOMEM;
	r->cap = cap;
	pthread_mutex_init(&r->mu, NULL);
	return 0;
}

static void ring_free(struct ring *r)
{
	if (r->buf) {
		pthread_mutex_destroy(&r->mu);
		free(r->buf);
		r->buf = NULL;
	}
}

/* Appends n samples, dropping the oldest past capacity; returns the count
 * dropped. */
static size_t ring_push(struct ring *r, const int16_t *in, size_t n)
{
	size_t dropped = 0;
	pthread_mutex_lock(&r->mu);
	if (n > r->cap) {
		dropped += n - r->cap;
		in += n - r->cap;
		n = r->cap;
	}
	if (r->len + n > r->cap) {
		size_t k = r->len + n - r->cap;
		r->head = (r->head + k) % r->cap;
		r->len -= k;
		dropped += k;
	}
	for (size_t i = 0; i < n; i++)
		r->buf[(r->head + r->len + i) % r->cap] = in[i];
	r->len += n;
	pthread_mutex_unlock(&r->mu);
	return dropped;
}

/* Drops the oldest samples past `keep` when more than `above` are held
 * (latency bound); returns the count dropped. */
static size_t ring_trim(struct ring *r, size_t above, size_t keep)
{
	size_t k = 0;
	pthread_mutex_lock(&r->mu);
	if (r->len > above && r->len > keep) {
		k = r->len - keep;
		r->head = (r->head + k) % r->cap;
		r->len = keep;
	}
	pthread_mutex_unlock(&r->mu);
	return k;
}

/* Takes up to n samples (all n or nothing when `all`); returns the count. */
static size_t ring_pop(struct ring *r, int16_t *out, size_t n, bool all)
{
	pthread_mutex_lock(&r->mu);
	size_t k = CV_MIN(n, r->len);
	if (all && k < n)
		k = 0;
	for (size_t i = 0; i < k; i++)
		out[i] = r->buf[(r->head + i) % r->cap];
	r->head = (r->head + k) % r->cap;
	r->len -= k;
	pthread_mutex_unlock(&r->mu);
	return k;
}

/* ---- threads ------------------------------------------------------------- */

/* Hardware paces the blocking calls by itself; the null and file plugins
 * do not, so keep at most two periods ahead of the monotonic clock. A
 * device behind the clock (a stall) moves the reference instead of
 * bursting to catch up. */
static void pace(struct dir *x, size_t frames)
{
	struct cv_adev *d = x->d;
	uint64_t now = mono_us();
	if (!x->t0_us)
		x->t0_us = now;
	x->frames += frames;
	uint64_t due = x->t0_us + x->frames * 1000000u / d->rate;
	uint64_t period_us = (uint64_t)d->period * 1000000u / d->rate;
	if (due > now + 2 * period_us) {
		uint64_t us = due - now - 2 * period_us;
		struct timespec ts = {(time_t)(us / 1000000u),
				      (long)(us % 1000000u) * 1000};
		nanosleep(&ts, NULL);
	} else if (now > due + 4 * period_us) {
		x->t0_us = now;
		x->frames = 0;
	}
}

/* Waits for the PCM (at most 100 ms, so a stop is seen) and recovers from
 * an xrun; false when the caller should try again. */
static bool dir_wait(struct dir *x, _Atomic uint64_t *xruns)
{
	int r = snd_pcm_wait(x->pcm, 100);
	if (r > 0)
		return true;
	if (r < 0) {
		atomic_fetch_add(xruns, 1);
		if (snd_pcm_recover(x->pcm, r, 1) < 0) {
			atomic_fetch_add(&x->d->errors, 1);
			struct timespec ts = {0, 20 * 1000000L};
			nanosleep(&ts, NULL);
		}
	}
	return false;
}

static void *capture_main(void *arg)
{
	struct dir *x = arg;
	struct cv_adev *d = x->d;
	while (!atomic_load(&d->stop)) {
		if (!dir_wait(x, &d->cap_xruns))
			continue;
		snd_pcm_sframes_t n = snd_pcm_readi(x->pcm, x->io, d->period);
		if (n == -EAGAIN || n == 0)
			continue;
		if (n < 0) {
			/* -EPIPE overrun, -ESTRPIPE suspend */
			atomic_fetch_add(&d->cap_xruns, 1);
			if (snd_pcm_recover(x->pcm, (int)n, 1) < 0 ||
			    snd_pcm_start(x->pcm) < 0)
				atomic_fetch_add(&d->errors, 1);
			continue;
		}
		for (snd_pcm_sframes_t i = 0; i < n; i++) {
			int32_t acc = 0;
			for (unsigned c = 0; c < x->channels; c++)
				acc += x->io[(size_t)i * x->channels + c];
			x->mono[i] = (int16_t)(acc / (int32_t)x->channels);
		}
		atomic_fetch_add(&d->captured, (uint64_t)n);
		size_t drop = ring_push(&x->ring, x->mono, (size_t)n);
		if (drop)
			atomic_fetch_add(&d->cap_dropped, drop);
		pace(x, (size_t)n);
	}
	return NULL;
}

static void *playback_main(void *arg)
{
	struct dir *x = arg;
	struct cv_adev *d = x->d;
	while (!atomic_load(&d->stop)) {
		size_t n = d->period;
		/* Latency bound: jitter cushions (below) must not add up. */
		size_t trimmed = ring_trim(&x->ring, 4 * n, 2 * n);
		if (trimmed)
			atomic_fetch_add(&d->play_dropped, trimmed);
		/* A whole period or silence: the ring then keeps a period of
		 * cushion against the loop's timer jitter. */
		if (!ring_pop(&x->ring, x->mono, n, true)) {
			memset(x->mono, 0, n * sizeof(*x->mono));
			atomic_fetch_add(&d->play_silence, n);
		}
		for (size_t i = 0; i < n; i++)
			for (unsigned c = 0; c < x->channels; c++)
				x->io[i * x->channels + c] = x->mono[i];
		size_t off = 0;
		while (off < n && !atomic_load(&d->stop)) {
			snd_pcm_sframes_t w = snd_pcm_writei(
				x->pcm, x->io + off * x->channels, n - off);
			if (w == -EAGAIN) {
				dir_wait(x, &d->play_xruns);
				continue;
			}
			if (w < 0) {
				/* -EPIPE underrun, -ESTRPIPE suspend */
				atomic_fetch_add(&d->play_xruns, 1);
				if (snd_pcm_recover(x->pcm, (int)w, 1) < 0) {
					atomic_fetch_add(&d->errors, 1);
					break;
				}
				continue;
			}
			off += (size_t)w;
		}
		atomic_fetch_add(&d->played, off);
		pace(x, n);
	}
	return NULL;
}

/* ---- open/close ---------------------------------------------------------- */

/* alsa-lib prints its own errors to stderr; callers get one line from us
 * (why) and the details go to the debug log. */
static void alsa_quiet(const char *file, int line, const char *fn, int err,
		       const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static void alsa_quiet(const char *file, int line, const char *fn, int err,
		       const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	CV_DEBUG(MEDIA_LOG, "alsa %s:%d %s: %s (%s)", file, line, fn, msg,
		 err ? snd_strerror(err) : "");
}

static pthread_once_t alsa_once = PTHREAD_ONCE_INIT;

static void alsa_init(void)
{
	snd_lib_error_set_handler(alsa_quiet);
}

static int dir_setup(struct cv_adev *d, struct dir *x, const char *name,
		     snd_pcm_stream_t st, uint32_t period_ms, char *why,
		     size_t size)
{
	const char *what =
		st == SND_PCM_STREAM_CAPTURE ? "capture" : "playback";
	int err = snd_pcm_open(&x->pcm, name, st, SND_PCM_NONBLOCK);
	if (err < 0) {
		x->pcm = NULL;
		if (why)
			snprintf(why, size,
				 "audio device '%s': cannot open for %s: %s",
				 name, what, snd_strerror(err));
		return err;
	}
	snd_pcm_hw_params_t *hw;
	snd_pcm_hw_params_alloca(&hw);
	unsigned ch = 1, rate = d->rate;
	snd_pcm_uframes_t period =
		(snd_pcm_uframes_t)d->rate * period_ms / 1000;
	snd_pcm_uframes_t buffer = period * 4;
	int dirn = 0;
	const char *step = "hw params";
	if ((err = snd_pcm_hw_params_any(x->pcm, hw)) < 0 ||
	    (step = "access",
	     err = snd_pcm_hw_params_set_access(
		     x->pcm, hw, SND_PCM_ACCESS_RW_INTERLEAVED)) < 0 ||
	    (step = "format S16",
	     err = snd_pcm_hw_params_set_format(x->pcm, hw,
						SND_PCM_FORMAT_S16)) < 0 ||
	    (step = "channels",
	     err = snd_pcm_hw_params_set_channels_near(x->pcm, hw, &ch)) < 0 ||
	    (step = "rate", err = snd_pcm_hw_params_set_rate_near(
				    x->pcm, hw, &rate, &dirn)) < 0 ||
	    (step = "period", err = snd_pcm_hw_params_set_period_size_near(
				      x->pcm, hw, &period, &dirn)) < 0 ||
	    (step = "buffer", err = snd_pcm_hw_params_set_buffer_size_near(
				      x->pcm, hw, &buffer)) < 0 ||
	    (step = "hw params", err = snd_pcm_hw_params(x->pcm, hw)) < 0)
		goto fail;
	step = "device parameters";
	err = -EINVAL;
	if (ch < 1 || ch > ADEV_MAX_CH || rate < 8000 || rate > 48000 ||
	    period < 16 || period > ADEV_MAX_PERIOD)
		goto fail;
	if (x == &d->play) {
		snd_pcm_sw_params_t *sw;
		snd_pcm_sw_params_alloca(&sw);
		step = "sw params";
		if ((err = snd_pcm_sw_params_current(x->pcm, sw)) < 0 ||
		    (err = snd_pcm_sw_params_set_start_threshold(x->pcm, sw,
								 period)) < 0 ||
		    (err = snd_pcm_sw_params_set_avail_min(x->pcm, sw,
							   period)) < 0 ||
		    (err = snd_pcm_sw_params(x->pcm, sw)) < 0)
			goto fail;
	}
	/* Both directions of one device share rate and period; the first
	 * opened sets them. */
	if (d->period && (rate != d->rate || period != d->period)) {
		step = "same rate and period for capture and playback";
		err = -EINVAL;
		goto fail;
	}
	d->rate = rate;
	d->period = period;
	x->channels = ch;
	x->d = d;
	return 0;
fail:
	if (why)
		snprintf(why, size, "audio device '%s': %s: %s: %s", name, what,
			 step, snd_strerror(err));
	snd_pcm_close(x->pcm);
	x->pcm = NULL;
	return err;
}

static void adev_dtor(void *obj)
{
	struct cv_adev *d = obj;
	atomic_store(&d->stop, true);
	struct dir *dirs[] = {&d->cap, &d->play};
	for (size_t i = 0; i < 2; i++) {
		struct dir *x = dirs[i];
		if (x->started)
			pthread_join(x->thr, NULL);
		if (x->pcm) {
			if (x == &d->play)
				snd_pcm_drop(x->pcm);
			snd_pcm_close(x->pcm);
		}
		ring_free(&x->ring);
	}
}

int cv_adev_open(struct cv_adev **dp, const struct cv_adev_params *p, char *why,
		 size_t size)
{
	if (why && size)
		why[0] = '\0';
	if (!dp || !p || (!p->capture && !p->playback))
		return -EINVAL;
	uint32_t rate = p->rate ? p->rate : 48000;
	uint32_t period_ms = p->period_ms ? p->period_ms : 20;
	uint32_t ring_ms = p->ring_ms ? p->ring_ms : 200;
	if ((rate != 8000 && rate != 16000 && rate != 48000) || period_ms < 5 ||
	    period_ms > 100 || ring_ms < 2 * period_ms || ring_ms > 2000) {
		if (why)
			snprintf(why, size,
				 "audio device: bad rate, period or ring");
		return -EINVAL;
	}
	const char *name = p->name && p->name[0] ? p->name : "default";
	pthread_once(&alsa_once, alsa_init);
	struct cv_adev *d = cv_mem_zalloc(sizeof(*d), adev_dtor);
	if (!d)
		return -ENOMEM;
	d->rate = rate;
	int err = 0;
	if (p->capture)
		err = dir_setup(d, &d->cap, name, SND_PCM_STREAM_CAPTURE,
				period_ms, why, size);
	if (!err && p->playback) {
		uint32_t want = d->cap.pcm ? d->rate : rate;
		d->rate = want;
		err = dir_setup(d, &d->play, name, SND_PCM_STREAM_PLAYBACK,
				period_ms, why, size);
	}
	size_t cap = (size_t)d->rate * ring_ms / 1000;
	if (cap < 2 * d->period)
		cap = 2 * d->period;
	struct dir *dirs[] = {&d->cap, &d->play};
	void *(*mains[])(void *) = {capture_main, playback_main};
	for (size_t i = 0; !err && i < 2; i++) {
		struct dir *x = dirs[i];
		if (!x->pcm)
			continue;
		if ((err = ring_init(&x->ring, cap)) != 0)
			break;
		if (x == &d->cap && (err = snd_pcm_start(x->pcm)) < 0) {
			if (why)
				snprintf(
					why, size,
					"audio device '%s': capture: start: %s",
					name, snd_strerror(err));
			break;
		}
		if ((err = -pthread_create(&x->thr, NULL, mains[i], x)) != 0)
			break;
		x->started = true;
	}
	if (err) {
		cv_mem_unref(d);
		return err;
	}
	*dp = d;
	return 0;
}

void cv_adev_stats(const struct cv_adev *d, struct cv_adev_stats *out)
{
	struct cv_adev *m = (struct cv_adev *)d;
	*out = (struct cv_adev_stats){
		.rate = d->rate,
		.period_frames = (uint32_t)d->period,
		.captured = atomic_load(&m->captured),
		.played = atomic_load(&m->played),
		.capture_xruns = atomic_load(&m->cap_xruns),
		.playback_xruns = atomic_load(&m->play_xruns),
		.capture_dropped = atomic_load(&m->cap_dropped),
		.playback_dropped = atomic_load(&m->play_dropped),
		.playback_silence = atomic_load(&m->play_silence),
		.errors = atomic_load(&m->errors),
	};
}

/* ---- source and sink on the loop's side -----------------------------------
 */

#define PEND 8192

struct adev_io {
	struct cv_adev *d;
	struct cv_rate_conv conv;
	int16_t pend[PEND]; /* source: at the reader's rate */
	size_t pend_len;
	uint32_t pend_rate;
	int16_t tmp[PEND];
};

static void adev_io_destroy(void *arg)
{
	struct adev_io *io = arg;
	cv_rate_conv_free(&io->conv);
	cv_mem_unref(io->d);
	free(io);
}

static int adev_read(void *arg, int16_t *pcm, size_t n, uint32_t rate)
{
	struct adev_io *io = arg;
	struct cv_adev *d = io->d;
	if (io->pend_rate != rate) {
		io->pend_len = 0;
		io->pend_rate = rate;
	}
	/* The microphone captured while nobody read (before the answer, on
	 * hold, a late tick) would stay as latency: keep at most two periods
	 * beyond this read. */
	size_t need = (size_t)((uint64_t)n * d->rate / rate);
	size_t trimmed = ring_trim(&d->cap.ring, need + 3 * d->period,
				   need + 2 * d->period);
	if (trimmed)
		atomic_fetch_add(&d->cap_dropped, trimmed);
	for (unsigned guard = 0; io->pend_len < n && guard < 16; guard++) {
		/* device samples for what is missing, plus one for the
		 * resampler's carried fraction */
		size_t want = (size_t)(((uint64_t)(n - io->pend_len) * d->rate +
					rate - 1) /
				       rate) +
			      1;
		want = CV_MIN(want, (size_t)1024);
		size_t got = ring_pop(&d->cap.ring, io->tmp, want, false);
		if (!got)
			break;
		size_t outn = 0;
		int err = cv_rate_conv_run(&io->conv, d->rate, rate, io->tmp,
					   got, io->pend + io->pend_len,
					   PEND - io->pend_len, &outn);
		if (err)
			return err;
		io->pend_len += outn;
	}
	size_t k = CV_MIN(n, io->pend_len);
	memcpy(pcm, io->pend, k * sizeof(*pcm));
	memmove(io->pend, io->pend + k, (io->pend_len - k) * sizeof(*pcm));
	io->pend_len -= k;
	/* A live device is never done: a short ring is silence. */
	memset(pcm + k, 0, (n - k) * sizeof(*pcm));
	return (int)n;
}

static int adev_write(void *arg, const int16_t *pcm, size_t n, uint32_t rate)
{
	struct adev_io *io = arg;
	struct cv_adev *d = io->d;
	while (n) {
		size_t c = CV_MIN(n, (size_t)1024);
		const int16_t *out = pcm;
		size_t outn = c;
		if (rate != d->rate) {
			int err = cv_rate_conv_run(
				&io->conv, rate, d->rate, pcm, c, io->tmp,
				CV_ARRAY_SIZE(io->tmp), &outn);
			if (err)
				return err;
			out = io->tmp;
		}
		size_t drop = ring_push(&d->play.ring, out, outn);
		if (drop)
			atomic_fetch_add(&d->play_dropped, drop);
		pcm += c;
		n -= c;
	}
	return 0;
}

static const struct cv_asrc_ops adev_src_ops = {
	.read = adev_read,
	.destroy = adev_io_destroy,
};

static const struct cv_asink_ops adev_sink_ops = {
	.write = adev_write,
	.destroy = adev_io_destroy,
};

static struct adev_io *io_new(struct cv_adev *d)
{
	struct adev_io *io = calloc(1, sizeof(*io));
	if (io)
		io->d = cv_mem_ref(d);
	return io;
}

int cv_adev_source(struct cv_adev *d, struct cv_asrc **sp)
{
	if (!d || !sp)
		return -EINVAL;
	if (!d->cap.pcm)
		return CV_EUNSUPP;
	struct adev_io *io = io_new(d);
	if (!io)
		return -ENOMEM;
	int err = cv_asrc_create(sp, &adev_src_ops, io);
	if (err)
		adev_io_destroy(io);
	return err;
}

int cv_adev_sink(struct cv_adev *d, struct cv_asink **kp)
{
	if (!d || !kp)
		return -EINVAL;
	if (!d->play.pcm)
		return CV_EUNSUPP;
	struct adev_io *io = io_new(d);
	if (!io)
		return -ENOMEM;
	int err = cv_asink_create(kp, &adev_sink_ops, io);
	if (err)
		adev_io_destroy(io);
	return err;
}
