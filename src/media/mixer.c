/* Mixer and 2-party bridge.
 *
 * Each port has an input queue (what its participant said) and an output
 * queue (what it should hear), both at the mixer rate. A mix step takes one
 * 10 ms block from every input (silence when short), sums them in 32 bits,
 * and gives every port the sum minus its own block, clipped. Steps run on
 * demand when a port reads and its output is short, so the mixer needs no
 * timer of its own and follows the streams' packet clocks. Everything is on
 * one worker (a bridged call never crosses threads). */
#include <stdlib.h>

#include "media_int.h"

#define MIX_MAX_PORTS 64
#define MIX_QUEUE_MS  100
#define MIX_MAX_RATE  48000
#define MIX_QUEUE_MAX (MIX_MAX_RATE * MIX_QUEUE_MS / 1000)
#define MIX_PEND      4096

struct cv_mixer {
	uint32_t rate;
	size_t block;
	size_t qmax;
	struct cv_mixer_port *ports[MIX_MAX_PORTS];
	size_t nports;
	int32_t sum[MIX_MAX_RATE / 100];
};

struct cv_mixer_port {
	struct cv_mixer *m;
	int16_t in[MIX_QUEUE_MAX];
	size_t in_len;
	int16_t out[MIX_QUEUE_MAX];
	size_t out_len;
	struct cv_rate_conv in_conv;
	struct cv_rate_conv out_conv;
	int16_t tmp[MIX_PEND];
	int16_t pend[MIX_PEND]; /* mixed audio at the reader's rate */
	size_t pend_len;
	uint32_t pend_rate;
};

static void mixer_dtor(void *obj)
{
	(void)obj; /* ports hold references: none left when we get here */
}

int cv_mixer_create(struct cv_mixer **mp, uint32_t rate)
{
	if (!mp || rate < 8000 || rate > MIX_MAX_RATE || rate % 100)
		return -EINVAL;
	struct cv_mixer *m = cv_mem_zalloc(sizeof(*m), mixer_dtor);
	if (!m)
		return -ENOMEM;
	m->rate = rate;
	m->block = rate / 100;
	m->qmax = (size_t)rate * MIX_QUEUE_MS / 1000;
	*mp = m;
	return 0;
}

size_t cv_mixer_ports(const struct cv_mixer *m)
{
	return m ? m->nports : 0;
}

static void port_dtor(void *obj)
{
	struct cv_mixer_port *p = obj;
	struct cv_mixer *m = p->m;
	for (size_t i = 0; i < m->nports; i++) {
		if (m->ports[i] == p) {
			m->ports[i] = m->ports[--m->nports];
			break;
		}
	}
	cv_rate_conv_free(&p->in_conv);
	cv_rate_conv_free(&p->out_conv);
	cv_mem_unref(m);
}

int cv_mixer_port_add(struct cv_mixer *m, struct cv_mixer_port **pp)
{
	if (!m || !pp)
		return -EINVAL;
	if (m->nports >= MIX_MAX_PORTS)
		return CV_ETOOBIG;
	struct cv_mixer_port *p = cv_mem_zalloc(sizeof(*p), port_dtor);
	if (!p)
		return -ENOMEM;
	p->m = cv_mem_ref(m);
	m->ports[m->nports++] = p;
	*pp = p;
	return 0;
}

/* Append to a bounded queue, dropping the oldest audio on overflow. */
static void q_push(int16_t *q, size_t *len, size_t qmax, const int16_t *s,
		   size_t n)
{
	if (n >= qmax) {
		memcpy(q, s + (n - qmax), qmax * sizeof(*q));
		*len = qmax;
		return;
	}
	if (*len + n > qmax) {
		size_t drop = *len + n - qmax;
		memmove(q, q + drop, (*len - drop) * sizeof(*q));
		*len -= drop;
	}
	memcpy(q + *len, s, n * sizeof(*q));
	*len += n;
}

static void mix_step(struct cv_mixer *m)
{
	size_t b = m->block;
	memset(m->sum, 0, b * sizeof(m->sum[0]));
	for (size_t i = 0; i < m->nports; i++) {
		struct cv_mixer_port *p = m->ports[i];
		size_t k = CV_MIN(b, p->in_len);
		for (size_t j = 0; j < k; j++)
			m->sum[j] += p->in[j];
	}
	for (size_t i = 0; i < m->nports; i++) {
		struct cv_mixer_port *p = m->ports[i];
		int16_t blk[MIX_MAX_RATE / 100];
		size_t k = CV_MIN(b, p->in_len);
		for (size_t j = 0; j < b; j++) {
			int32_t own = j < k ? p->in[j] : 0;
			blk[j] = cv_sat16(m->sum[j] - own);
		}
		memmove(p->in, p->in + k, (p->in_len - k) * sizeof(p->in[0]));
		p->in_len -= k;
		q_push(p->out, &p->out_len, m->qmax, blk, b);
	}
}

int cv_mixer_port_write(struct cv_mixer_port *p, const int16_t *pcm, size_t n,
			uint32_t rate)
{
	if (!p || (!pcm && n) || !rate)
		return -EINVAL;
	while (n) {
		size_t c = CV_MIN(n, (size_t)480);
		size_t outn = 0;
		int err = cv_rate_conv_run(&p->in_conv, rate, p->m->rate, pcm,
					   c, p->tmp, MIX_PEND, &outn);
		if (err)
			return err;
		q_push(p->in, &p->in_len, p->m->qmax, p->tmp, outn);
		pcm += c;
		n -= c;
	}
	return 0;
}

int cv_mixer_port_read(struct cv_mixer_port *p, int16_t *pcm, size_t n,
		       uint32_t rate)
{
	if (!p || !pcm || !rate || n > MIX_PEND / 2)
		return -EINVAL;
	struct cv_mixer *m = p->m;
	if (p->pend_rate != rate) {
		p->pend_len = 0;
		p->pend_rate = rate;
	}
	for (unsigned guard = 0; p->pend_len < n && guard < 64; guard++) {
		if (p->out_len < m->block)
			mix_step(m);
		size_t outn = 0;
		int err = cv_rate_conv_run(&p->out_conv, m->rate, rate, p->out,
					   m->block, p->pend + p->pend_len,
					   MIX_PEND - p->pend_len, &outn);
		if (err)
			return err;
		memmove(p->out, p->out + m->block,
			(p->out_len - m->block) * sizeof(p->out[0]));
		p->out_len -= m->block;
		p->pend_len += outn;
	}
	size_t k = CV_MIN(n, p->pend_len);
	memcpy(pcm, p->pend, k * sizeof(*pcm));
	if (k < n)
		memset(pcm + k, 0, (n - k) * sizeof(*pcm));
	memmove(p->pend, p->pend + k, (p->pend_len - k) * sizeof(*pcm));
	p->pend_len -= k;
	return (int)n;
}

/* ---- sources and sinks bound to a port ---------------------------------- */

static int port_src_read(void *arg, int16_t *pcm, size_t n, uint32_t rate)
{
	return cv_mixer_port_read(arg, pcm, n, rate);
}

static int port_sink_write(void *arg, const int16_t *pcm, size_t n,
			   uint32_t rate)
{
	return cv_mixer_port_write(arg, pcm, n, rate);
}

static void port_release(void *arg)
{
	cv_mem_unref(arg);
}

static const struct cv_asrc_ops port_src_ops = {
	.read = port_src_read,
	.destroy = port_release,
};

static const struct cv_asink_ops port_sink_ops = {
	.write = port_sink_write,
	.destroy = port_release,
};

int cv_asrc_mixer(struct cv_asrc **sp, struct cv_mixer_port *p)
{
	if (!sp || !p)
		return -EINVAL;
	int err = cv_asrc_create(sp, &port_src_ops, cv_mem_ref(p));
	if (err)
		cv_mem_unref(p);
	return err;
}

int cv_asink_mixer(struct cv_asink **kp, struct cv_mixer_port *p)
{
	if (!kp || !p)
		return -EINVAL;
	int err = cv_asink_create(kp, &port_sink_ops, cv_mem_ref(p));
	if (err)
		cv_mem_unref(p);
	return err;
}
