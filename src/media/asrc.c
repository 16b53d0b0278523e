/* Audio sources: application-defined, file (libsndfile), silence, tones
 * and DTMF. Sources produce at whatever rate the reader asks for. */
#include <math.h>
#include <sndfile.h>
#include <stdlib.h>

#include "media_int.h"

/* Largest chunk handed to a source's read op at once. */
#define ASRC_CHUNK 1920

struct cv_asrc {
	const struct cv_asrc_ops *ops;
	void *arg;
	bool done;
};

static void asrc_dtor(void *obj)
{
	struct cv_asrc *s = obj;
	if (s->ops->destroy)
		s->ops->destroy(s->arg);
}

int cv_asrc_create(struct cv_asrc **sp, const struct cv_asrc_ops *ops,
		   void *arg)
{
	if (!sp || !ops || !ops->read)
		return -EINVAL;
	struct cv_asrc *s = cv_mem_zalloc(sizeof(*s), asrc_dtor);
	if (!s)
		return -ENOMEM;
	s->ops = ops;
	s->arg = arg;
	*sp = s;
	return 0;
}

int cv_asrc_read(struct cv_asrc *s, int16_t *pcm, size_t n, uint32_t rate)
{
	if (!s || !pcm || !rate || rate > 384000)
		return -EINVAL;
	size_t real = 0, off = 0;
	while (off < n) {
		size_t c = CV_MIN(n - off, (size_t)ASRC_CHUNK);
		int r = s->done ? 0 : s->ops->read(s->arg, pcm + off, c, rate);
		if (r < 0)
			return r;
		if ((size_t)r > c)
			r = (int)c;
		if ((size_t)r < c)
			memset(pcm + off + r, 0,
			       (c - (size_t)r) * sizeof(*pcm));
		if (r == 0)
			s->done = true;
		real += (size_t)r;
		off += c;
	}
	return (int)real;
}

bool cv_asrc_done(const struct cv_asrc *s)
{
	return !s || s->done;
}

/* ---- silence ----------------------------------------------------------- */

static int silence_read(void *arg, int16_t *pcm, size_t n, uint32_t rate)
{
	(void)arg;
	(void)rate;
	memset(pcm, 0, n * sizeof(*pcm));
	return (int)n;
}

static const struct cv_asrc_ops silence_ops = {.read = silence_read};

int cv_asrc_silence(struct cv_asrc **sp)
{
	return cv_asrc_create(sp, &silence_ops, NULL);
}

/* ---- file -------------------------------------------------------------- */

#define FILE_MAX_CH 8
#define FILE_PEND   8192

struct file_src {
	SNDFILE *sf;
	SF_INFO info;
	bool loop;
	bool eof;
	struct cv_rate_conv conv;
	int16_t pend[FILE_PEND]; /* at the reader's rate */
	size_t pend_len;
	uint32_t pend_rate;
	int16_t raw[FILE_MAX_CH * 1920];
	int16_t mono[1920];
};

static void file_src_destroy(void *arg)
{
	struct file_src *f = arg;
	if (f->sf)
		sf_close(f->sf);
	cv_rate_conv_free(&f->conv);
	free(f);
}

/* Reads 10 ms of the file, mixed to mono; 0 at the end. */
static size_t file_pull(struct file_src *f)
{
	sf_count_t want = f->info.samplerate / 100;
	if (want < 1)
		want = 1;
	for (int tries = 0; tries < 2; tries++) {
		sf_count_t got = sf_readf_short(f->sf, f->raw, want);
		if (got > 0) {
			int ch = f->info.channels;
			for (sf_count_t i = 0; i < got; i++) {
				int32_t acc = 0;
				for (int c = 0; c < ch; c++)
					acc += f->raw[i * ch + c];
				f->mono[i] = (int16_t)(acc / ch);
			}
			return (size_t)got;
		}
		if (!f->loop || sf_seek(f->sf, 0, SEEK_SET) < 0)
			break;
	}
	return 0;
}

static int file_read(void *arg, int16_t *pcm, size_t n, uint32_t rate)
{
	struct file_src *f = arg;
	if (f->pend_rate != rate) {
		f->pend_len = 0; /* rate changed: drop what was converted */
		f->pend_rate = rate;
	}
	/* Bounded: each pull adds at least one sample unless at the end. */
	for (unsigned guard = 0; f->pend_len < n && !f->eof && guard < 1000;
	     guard++) {
		size_t got = file_pull(f);
		if (!got) {
			f->eof = true;
			break;
		}
		size_t outn = 0;
		int err = cv_rate_conv_run(&f->conv,
					   (uint32_t)f->info.samplerate, rate,
					   f->mono, got, f->pend + f->pend_len,
					   FILE_PEND - f->pend_len, &outn);
		if (err)
			return err;
		f->pend_len += outn;
	}
	size_t k = CV_MIN(n, f->pend_len);
	memcpy(pcm, f->pend, k * sizeof(*pcm));
	memmove(f->pend, f->pend + k, (f->pend_len - k) * sizeof(*pcm));
	f->pend_len -= k;
	return (int)k;
}

static const struct cv_asrc_ops file_ops = {
	.read = file_read,
	.destroy = file_src_destroy,
};

int cv_asrc_file(struct cv_asrc **sp, const char *path, bool loop)
{
	if (!sp || !path)
		return -EINVAL;
	struct file_src *f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->sf = sf_open(path, SFM_READ, &f->info);
	if (!f->sf) {
		CV_WARN(MEDIA_LOG, "open %s: %s", path, sf_strerror(NULL));
		free(f);
		return -ENOENT;
	}
	if (f->info.channels < 1 || f->info.channels > FILE_MAX_CH ||
	    f->info.samplerate < 1000 || f->info.samplerate > 192000) {
		file_src_destroy(f);
		return CV_EUNSUPP;
	}
	f->loop = loop;
	int err = cv_asrc_create(sp, &file_ops, f);
	if (err)
		file_src_destroy(f);
	return err;
}

/* ---- tones and DTMF ------------------------------------------------------
 * A list of segments (two frequencies and a duration; silence when both
 * are 0), played once or looped. Phase is kept in cycles so a change of
 * the reader's rate does not click. */

#define TONE_MAX_SEG 128

struct tone_seg {
	double f1, f2;
	double amp;
	uint32_t ms; /* 0: forever */
};

struct tone_src {
	struct tone_seg seg[TONE_MAX_SEG];
	unsigned nseg;
	unsigned cur;
	double seg_t;	 /* seconds into the current segment */
	double total_t;	 /* seconds played */
	double limit_s;	 /* 0: no limit */
	double ph1, ph2; /* cycles, in [0,1) */
	bool loop;
	bool done;
};

/* dBm0 to peak amplitude: a sine at +3.14 dBm0 is full scale (G.711). */
static double dbm0_amp(double dbm0)
{
	return 32767.0 * pow(10.0, (dbm0 - 3.14) / 20.0);
}

/* Sine by the recurrence s[k+1] = 2cos(w) s[k] - s[k-1], seeded from the
 * phase at the start of each run, so no sin() per sample. */
struct osc {
	double c, y1, y2; /* y1 = s[k-1], y2 = s[k-2] */
};

static void osc_init(struct osc *o, double ph_cycles, double f, double dt)
{
	double w = 2 * M_PI * f * dt, p = 2 * M_PI * ph_cycles;
	o->c = 2 * cos(w);
	o->y1 = sin(p - w);
	o->y2 = sin(p - 2 * w);
}

static inline double osc_next(struct osc *o)
{
	double y = o->c * o->y1 - o->y2;
	o->y2 = o->y1;
	o->y1 = y;
	return y;
}

static int tone_read(void *arg, int16_t *pcm, size_t n, uint32_t rate)
{
	struct tone_src *t = arg;
	double dt = 1.0 / rate;
	size_t i = 0;
	while (i < n && !t->done) {
		const struct tone_seg *s = &t->seg[t->cur];
		/* samples left in this segment and before the duration limit */
		double left_s = 1e9;
		if (s->ms)
			left_s = s->ms / 1000.0 - t->seg_t;
		if (t->limit_s > 0 && t->limit_s - t->total_t < left_s)
			left_s = t->limit_s - t->total_t;
		size_t run = n - i;
		double lr = ceil(left_s * rate - 1e-6);
		if (lr < 1)
			lr = 1;
		if (lr < (double)run)
			run = (size_t)lr;
		struct osc o1, o2;
		osc_init(&o1, t->ph1, s->f1, dt);
		osc_init(&o2, t->ph2, s->f2, dt);
		for (size_t k = 0; k < run; k++) {
			double v = 0;
			if (s->f1 > 0)
				v += osc_next(&o1);
			if (s->f2 > 0)
				v += osc_next(&o2);
			pcm[i + k] = cv_sat16((int32_t)lrint(v * s->amp));
		}
		i += run;
		t->ph1 += s->f1 * dt * (double)run;
		t->ph1 -= floor(t->ph1);
		t->ph2 += s->f2 * dt * (double)run;
		t->ph2 -= floor(t->ph2);
		t->seg_t += dt * (double)run;
		t->total_t += dt * (double)run;
		if (t->limit_s > 0 && t->total_t >= t->limit_s - 1e-9)
			t->done = true;
		if (s->ms && t->seg_t * 1000.0 >= s->ms - 1e-6) {
			t->seg_t = 0;
			t->ph1 = t->ph2 = 0;
			if (++t->cur >= t->nseg) {
				t->cur = 0;
				if (!t->loop)
					t->done = true;
			}
		}
	}
	return (int)i;
}

static void tone_destroy(void *arg)
{
	free(arg);
}

static const struct cv_asrc_ops tone_ops = {
	.read = tone_read,
	.destroy = tone_destroy,
};

int cv_asrc_tone(struct cv_asrc **sp, const struct cv_tone_params *p)
{
	if (!sp || !p || p->freq1 < 0 || p->freq2 < 0 || p->freq1 > 20000 ||
	    p->freq2 > 20000 || p->level_dbm0 > 3.14 || p->level_dbm0 < -90)
		return -EINVAL;
	struct tone_src *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	double amp = dbm0_amp(p->level_dbm0);
	t->seg[0] = (struct tone_seg){p->freq1, p->freq2, amp, p->on_ms};
	t->nseg = 1;
	if (p->on_ms && p->off_ms)
		t->seg[t->nseg++] = (struct tone_seg){0, 0, 0, p->off_ms};
	t->loop = p->on_ms != 0;
	t->limit_s = p->duration_ms / 1000.0;
	int err = cv_asrc_create(sp, &tone_ops, t);
	if (err)
		free(t);
	return err;
}

/* ITU-T Q.23 frequencies. */
int cv_dtmf_freqs(char digit, double *lo, double *hi)
{
	static const char keys[] = "123A456B789C*0#D";
	static const double row[] = {697, 770, 852, 941};
	static const double col[] = {1209, 1336, 1477, 1633};
	char d = (char)(digit >= 'a' && digit <= 'd' ? digit - 32 : digit);
	const char *k = d ? strchr(keys, d) : NULL;
	if (!k)
		return -EINVAL;
	size_t i = (size_t)(k - keys);
	*lo = row[i / 4];
	*hi = col[i % 4];
	return 0;
}

int cv_asrc_dtmf(struct cv_asrc **sp, const char *digits, uint32_t on_ms,
		 uint32_t off_ms, double level_dbm0)
{
	if (!sp || !digits || !on_ms || on_ms > 10000 || off_ms > 10000 ||
	    level_dbm0 > 0 || level_dbm0 < -60)
		return -EINVAL;
	size_t nd = strlen(digits);
	if (!nd || nd * 2 > TONE_MAX_SEG)
		return -EINVAL;
	struct tone_src *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	double amp = dbm0_amp(level_dbm0);
	for (size_t i = 0; i < nd; i++) {
		double lo, hi;
		if (cv_dtmf_freqs(digits[i], &lo, &hi)) {
			free(t);
			return -EINVAL;
		}
		t->seg[t->nseg++] = (struct tone_seg){lo, hi, amp, on_ms};
		if (off_ms)
			t->seg[t->nseg++] = (struct tone_seg){0, 0, 0, off_ms};
	}
	int err = cv_asrc_create(sp, &tone_ops, t);
	if (err)
		free(t);
	return err;
}
