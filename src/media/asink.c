/* Audio sinks: application-defined, null and files (libsndfile). */
#include <sndfile.h>
#include <stdlib.h>
#include <strings.h>

#include "media_int.h"

struct cv_asink {
	const struct cv_asink_ops *ops;
	void *arg;
	bool closed;
};

static void asink_dtor(void *obj)
{
	struct cv_asink *k = obj;
	if (k->ops->destroy)
		k->ops->destroy(k->arg);
}

int cv_asink_create(struct cv_asink **kp, const struct cv_asink_ops *ops,
		    void *arg)
{
	if (!kp || !ops || !ops->write)
		return -EINVAL;
	struct cv_asink *k = cv_mem_zalloc(sizeof(*k), asink_dtor);
	if (!k)
		return -ENOMEM;
	k->ops = ops;
	k->arg = arg;
	*kp = k;
	return 0;
}

int cv_asink_write(struct cv_asink *k, const int16_t *pcm, size_t n,
		   uint32_t rate)
{
	if (!k || (!pcm && n) || !rate || rate > 384000)
		return -EINVAL;
	if (k->closed)
		return CV_ECLOSED;
	return k->ops->write(k->arg, pcm, n, rate);
}

static int null_write(void *arg, const int16_t *pcm, size_t n, uint32_t rate)
{
	(void)arg;
	(void)pcm;
	(void)n;
	(void)rate;
	return 0;
}

static const struct cv_asink_ops null_ops = {.write = null_write};

int cv_asink_null(struct cv_asink **kp)
{
	return cv_asink_create(kp, &null_ops, NULL);
}

/* ---- file ----------------------------------------------------------------
 * Writes are small (one packet time) and go to the page cache; the file
 * writer runs on the stream's loop. A recorder that must never touch the
 * loop's latency should buffer and write off-loop (record module). */

struct file_sink {
	SNDFILE *sf;
	uint32_t rate;
	struct cv_rate_conv conv;
	int16_t tmp[8192];
};

static void file_sink_finish(struct file_sink *f)
{
	if (f->sf) {
		sf_write_sync(f->sf);
		sf_close(f->sf); /* writes the final header sizes */
		f->sf = NULL;
	}
	cv_rate_conv_free(&f->conv);
}

static void file_sink_destroy(void *arg)
{
	struct file_sink *f = arg;
	file_sink_finish(f);
	free(f);
}

static int file_write(void *arg, const int16_t *pcm, size_t n, uint32_t rate)
{
	struct file_sink *f = arg;
	if (!f->sf)
		return CV_ECLOSED;
	while (n) {
		/* Chunks small enough that the converted output fits. */
		size_t c = CV_MIN(n, (size_t)1024);
		const int16_t *out = pcm;
		size_t outn = c;
		if (rate != f->rate) {
			int err = cv_rate_conv_run(
				&f->conv, rate, f->rate, pcm, c, f->tmp,
				CV_ARRAY_SIZE(f->tmp), &outn);
			if (err)
				return err;
			out = f->tmp;
		}
		if (outn && sf_write_short(f->sf, out, (sf_count_t)outn) !=
				    (sf_count_t)outn)
			return -EIO;
		pcm += c;
		n -= c;
	}
	return 0;
}

static const struct cv_asink_ops file_sink_ops = {
	.write = file_write,
	.destroy = file_sink_destroy,
};

static int format_for(const char *path)
{
	const char *dot = strrchr(path, '.');
	if (dot) {
		if (!strcasecmp(dot, ".au"))
			return SF_FORMAT_AU | SF_FORMAT_PCM_16;
		if (!strcasecmp(dot, ".flac"))
			return SF_FORMAT_FLAC | SF_FORMAT_PCM_16;
		if (!strcasecmp(dot, ".raw") || !strcasecmp(dot, ".sln"))
			return SF_FORMAT_RAW | SF_FORMAT_PCM_16;
		if (!strcasecmp(dot, ".caf"))
			return SF_FORMAT_CAF | SF_FORMAT_PCM_16;
	}
	return SF_FORMAT_WAV | SF_FORMAT_PCM_16;
}

int cv_asink_file(struct cv_asink **kp, const char *path, uint32_t file_rate)
{
	if (!kp || !path || file_rate < 1000 || file_rate > 192000)
		return -EINVAL;
	struct file_sink *f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	SF_INFO info = {
		.samplerate = (int)file_rate,
		.channels = 1,
		.format = format_for(path),
	};
	f->sf = sf_open(path, SFM_WRITE, &info);
	if (!f->sf) {
		CV_WARN(MEDIA_LOG, "create %s: %s", path, sf_strerror(NULL));
		free(f);
		return -EIO;
	}
	f->rate = file_rate;
	/* Keep the header right after every write: a killed process still
	 * leaves a playable file. */
	sf_command(f->sf, SFC_SET_UPDATE_HEADER_AUTO, NULL, SF_TRUE);
	int err = cv_asink_create(kp, &file_sink_ops, f);
	if (err)
		file_sink_destroy(f);
	return err;
}

int cv_asink_close(struct cv_asink *k)
{
	if (!k)
		return -EINVAL;
	if (k->closed)
		return 0;
	k->closed = true;
	if (k->ops == &file_sink_ops)
		file_sink_finish(k->arg);
	return 0;
}
