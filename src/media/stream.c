/* Media stream: one RTP session, its jitter buffer, a decoder and encoder,
 * and a source and sink, ticking every ptime on the owning worker's loop.
 *
 * Receive path per tick: jitter buffer slots due now -> decode / conceal /
 * comfort noise -> (in-band DTMF detector) -> sink.
 * Send path per tick: RFC 4733 event packets while a digit is being sent,
 * otherwise source -> (silence: RFC 3389 CN) -> encode -> RTP. */
#include <stdlib.h>

#include "media_int.h"

#define DTMF_QUEUE	   32
#define TE_TIMEOUT_MS	   300 /* an event with no packet for this long ends */
#define CN_REFRESH_TICKS   10  /* re-send CN during silence (RFC 3389 §4) */
#define CN_SILENT_LEVEL	   60  /* frames quieter than -60 dBov are silence */
#define MAX_CATCHUP	   5   /* ticks run at once after a stall */
#define MAX_SLOTS_PER_TICK 8

struct cv_media_stream {
	uv_loop_t *loop;
	uv_timer_t *timer; /* separately allocated: freed by its close cb */
	struct cv_rtp_session *rtp;
	struct cv_rtp_jb *jb;
	struct cv_media_stream_params p;
	struct cv_media_stream_cfg cfg;
	bool running;
	bool have_cfg;

	struct cv_codec_enc *enc;
	struct cv_codec_dec *dec;
	struct cv_asrc *src;
	struct cv_asink *sink;
	bool src_done_reported;
	struct cv_cn_dec cn;
	struct cv_dtmf_det *det;
	struct cv_aproc *ap;
	bool ap_on;
	struct cv_aproc_params ap_p;

	uint64_t next_due_us;
	uint32_t ts;	  /* media timestamp of the next frame we send */
	bool marker_next; /* first packet of a talkspurt */
	unsigned silent_ticks;

	struct cv_te_tx te;
	uint32_t te_ts;
	char dtmf_q[DTMF_QUEUE + 1];
	size_t dtmf_n;
	uint32_t dtmf_ms;
	struct cv_te_rx te_rx;

	struct cv_media_stream_stats st;
	int16_t pcm[CV_CODEC_MAX_SAMPLES];
	uint8_t payload[CV_CODEC_MAX_PAYLOAD];
};

static void stream_tick(struct cv_media_stream *ms, uint64_t now);

/* ---- receive ------------------------------------------------------------ */

static void emit_dtmf(struct cv_media_stream *ms, char d, bool end,
		      uint32_t ms_dur, bool inband)
{
	if (end)
		ms->st.dtmf_received++;
	if (ms->p.h && ms->p.h->dtmf)
		ms->p.h->dtmf(ms, d, end, ms_dur, inband, ms->p.arg);
}

static void on_te_rx(char digit, bool end, uint32_t duration_ms, void *arg)
{
	emit_dtmf(arg, digit, end, duration_ms, false);
}

static void on_inband(char digit, void *arg)
{
	emit_dtmf(arg, digit, true, 0, true);
}

static void on_packet(struct cv_rtp_session *s, const struct cv_rtp_pkt *pkt,
		      void *arg)
{
	(void)s;
	struct cv_media_stream *ms = arg;
	if (!ms->running || !ms->have_cfg)
		return;
	const struct cv_media_stream_cfg *c = &ms->cfg;
	uint8_t pt = pkt->hdr.pt;
	if (c->tevent_pt >= 0 && pt == (uint8_t)c->tevent_pt) {
		/* the session routes events here when it did not know the
		 * telephone-event pt at creation */
		cv_te_rx_packet(&ms->te_rx, pkt->hdr.ts, pkt->payload,
				pkt->payload_len);
		return;
	}
	if (pt != c->pt && !(c->cn_pt >= 0 && pt == (uint8_t)c->cn_pt)) {
		ms->st.unknown_pt++;
		return;
	}
	if (c->dir == CV_MEDIA_SENDONLY || c->dir == CV_MEDIA_INACTIVE)
		return;
	cv_rtp_jb_put(ms->jb, pkt, cv_clock_us());
}

static void on_tevent(struct cv_rtp_session *s, const struct cv_rtp_tevent *ev,
		      uint32_t ts, bool is_new, void *arg)
{
	(void)s;
	(void)is_new;
	struct cv_media_stream *ms = arg;
	if (ms->running)
		cv_te_rx_event(&ms->te_rx, ts, ev);
}

static const struct cv_rtp_handlers rtp_handlers = {
	.packet = on_packet,
	.tevent = on_tevent,
};

static void play_slot(struct cv_media_stream *ms,
		      const struct cv_rtp_jb_frame *f)
{
	uint32_t rate = cv_codec_dec_rate(ms->dec);
	const struct cv_codec *codec = ms->cfg.codec;
	size_t n = (size_t)((uint64_t)f->samples * rate / codec->clock_rate);
	if (n == 0 || n > CV_CODEC_MAX_SAMPLES)
		n = rate / 50;
	int16_t *pcm = ms->pcm;
	switch (f->kind) {
	case CV_RTP_JB_FRAME: {
		size_t got = CV_CODEC_MAX_SAMPLES;
		if (f->pt == ms->cfg.pt &&
		    cv_codec_decode(ms->dec, f->payload, f->len, pcm, &got) ==
			    0) {
			ms->st.frames_decoded++;
			n = got;
		} else {
			ms->st.decode_errors++;
			cv_codec_conceal(ms->dec, NULL, 0, pcm, n);
		}
		break;
	}
	case CV_RTP_JB_CN:
		ms->st.cn_received++;
		cv_cn_dec_update(&ms->cn, f->payload, f->len);
		cv_cn_dec_generate(&ms->cn, pcm, n);
		break;
	case CV_RTP_JB_LOST: {
		ms->st.frames_concealed++;
		/* In-band FEC (RFC 7587 §3.2, RFC 6716 §2.1.7): the packet
		 * after the lost one may carry it at lower quality; the jitter
		 * buffer usually holds it already when the gap is played. */
		struct cv_rtp_jb_frame nx;
		if (codec->inband_fec &&
		    cv_rtp_jb_peek(ms->jb, f->ts + f->samples, &nx) == 0 &&
		    nx.kind == CV_RTP_JB_FRAME && nx.pt == ms->cfg.pt &&
		    nx.ts == f->ts + f->samples) {
			ms->st.frames_fec++;
			cv_codec_conceal(ms->dec, nx.payload, nx.len, pcm, n);
		} else {
			cv_codec_conceal(ms->dec, NULL, 0, pcm, n);
		}
		break;
	}
	case CV_RTP_JB_SILENCE:
	default:
		cv_cn_dec_generate(&ms->cn, pcm, n);
		break;
	}
	if (ms->det)
		cv_dtmf_det_feed(ms->det, pcm, n, rate);
	/* far end for the echo canceller: what is played out */
	if (ms->ap && cv_aproc_rate(ms->ap) == rate)
		cv_aproc_playback(ms->ap, pcm, n);
	if (ms->sink)
		cv_asink_write(ms->sink, pcm, n, rate);
}

static void rx_tick(struct cv_media_stream *ms, uint64_t now)
{
	if (ms->cfg.dir == CV_MEDIA_SENDONLY ||
	    ms->cfg.dir == CV_MEDIA_INACTIVE)
		return;
	for (int i = 0; i < MAX_SLOTS_PER_TICK; i++) {
		struct cv_rtp_jb_frame f;
		if (cv_rtp_jb_get(ms->jb, now, &f) || f.kind == CV_RTP_JB_WAIT)
			break;
		play_slot(ms, &f);
	}
	cv_te_rx_poll(&ms->te_rx, TE_TIMEOUT_MS);
}

/* ---- send --------------------------------------------------------------- */

static int send_payload(struct cv_media_stream *ms, uint8_t pt, bool marker,
			uint32_t ts, const void *payload, size_t len)
{
	struct cv_rtp_tx tx = {
		.pt = pt,
		.marker = marker,
		.ts = ts,
		.payload = payload,
		.len = len,
	};
	return cv_rtp_send(ms->rtp, &tx);
}

static bool send_dtmf(struct cv_media_stream *ms)
{
	if (!cv_te_tx_busy(&ms->te) && ms->dtmf_n) {
		char d = ms->dtmf_q[0];
		memmove(ms->dtmf_q, ms->dtmf_q + 1, ms->dtmf_n);
		ms->dtmf_n--;
		if (cv_te_tx_start(&ms->te, d, ms->dtmf_ms, 10) == 0)
			ms->st.dtmf_sent++;
	}
	struct cv_rtp_tevent e;
	bool marker, new_ts;
	if (cv_te_tx_next(&ms->te, &e, &marker, &new_ts))
		return false;
	if (new_ts)
		ms->te_ts = ms->ts; /* §2.5.1.2: the event's start time */
	uint8_t p[CV_RTP_TEVENT_LEN];
	if (cv_rtp_tevent_build(p, sizeof(p), &e) == 0)
		send_payload(ms, (uint8_t)ms->cfg.tevent_pt, marker, ms->te_ts,
			     p, sizeof(p));
	return true;
}

static void tx_tick(struct cv_media_stream *ms)
{
	const struct cv_media_stream_cfg *c = &ms->cfg;
	uint32_t rate = cv_codec_enc_rate(ms->enc);
	size_t n = (size_t)rate * c->ptime / 1000;
	uint32_t ts_step = c->codec->clock_rate * c->ptime / 1000;
	bool sending =
		c->dir == CV_MEDIA_SENDRECV || c->dir == CV_MEDIA_SENDONLY;

	/* Read the source even when not sending so playback keeps time. */
	int real = 0;
	if (ms->src) {
		real = cv_asrc_read(ms->src, ms->pcm, n, rate);
		if (real < 0)
			real = 0;
		if (cv_asrc_done(ms->src) && !ms->src_done_reported) {
			ms->src_done_reported = true;
			if (ms->p.h && ms->p.h->source_done)
				ms->p.h->source_done(ms, ms->p.arg);
		}
	} else {
		memset(ms->pcm, 0, n * sizeof(int16_t));
	}
	if (ms->ap && cv_aproc_rate(ms->ap) == rate)
		cv_aproc_capture(ms->ap, ms->pcm, n);
	if (!sending)
		goto out;
	if (c->tevent_pt >= 0 && send_dtmf(ms)) {
		ms->marker_next = true; /* audio after an event: new spurt */
		goto out;
	}
	if (c->send_cn && c->cn_pt >= 0 &&
	    cv_cn_level(ms->pcm, n) >= CN_SILENT_LEVEL) {
		/* RFC 3389 §4: a CN packet at the start of the silence and
		 * now and then during it; nothing else. */
		if (ms->silent_ticks++ % CN_REFRESH_TICKS == 0) {
			size_t len;
			cv_cn_encode(ms->pcm, n, ms->payload,
				     sizeof(ms->payload), &len);
			if (send_payload(ms, (uint8_t)c->cn_pt, false, ms->ts,
					 ms->payload, len) == 0)
				ms->st.cn_sent++;
		}
		ms->marker_next = true;
		goto out;
	}
	ms->silent_ticks = 0;
	size_t len = 0;
	if (cv_codec_encode(ms->enc, ms->pcm, n, ms->payload,
			    sizeof(ms->payload), &len) == 0 &&
	    len > 0) {
		/* RFC 3551 §4.1: marker on the first packet of a talkspurt */
		if (send_payload(ms, c->pt, ms->marker_next, ms->ts,
				 ms->payload, len) == 0)
			ms->st.frames_sent++;
		ms->marker_next = false;
	} else if (len == 0) {
		ms->marker_next = true; /* DTX */
	}
out:
	ms->ts += ts_step;
}

static void stream_tick(struct cv_media_stream *ms, uint64_t now)
{
	ms->st.ticks++;
	rx_tick(ms, now);
	tx_tick(ms);
}

void cv_media_stream_tick(struct cv_media_stream *ms)
{
	if (ms && ms->running)
		stream_tick(ms, cv_clock_us());
}

static void arm(struct cv_media_stream *ms, uint64_t now);

static void on_timer(uv_timer_t *t)
{
	struct cv_media_stream *ms = t->data;
	if (!ms || !ms->running)
		return;
	uint64_t now = cv_clock_us();
	uint64_t step = (uint64_t)ms->cfg.ptime * 1000;
	unsigned k = 0;
	while (now >= ms->next_due_us && k < MAX_CATCHUP) {
		stream_tick(ms, now);
		ms->next_due_us += step;
		k++;
	}
	if (now >= ms->next_due_us + step) {
		/* stalled for long: resynchronise instead of bursting */
		ms->st.late_ticks++;
		ms->next_due_us = now + step;
	}
	arm(ms, now);
}

static void arm(struct cv_media_stream *ms, uint64_t now)
{
	uint64_t wait_us = ms->next_due_us > now ? ms->next_due_us - now : 0;
	uv_timer_start(ms->timer, on_timer, (wait_us + 999) / 1000, 0);
}

/* ---- lifecycle ---------------------------------------------------------- */

static void timer_closed(uv_handle_t *h)
{
	free(h);
}

static void stream_dtor(void *obj)
{
	struct cv_media_stream *ms = obj;
	cv_mem_unref(ms->enc);
	cv_mem_unref(ms->dec);
	cv_mem_unref(ms->src);
	cv_mem_unref(ms->sink);
	cv_mem_unref(ms->det);
	cv_mem_unref(ms->ap);
}

static enum cv_media_dir dir_from_sdp(enum cv_sdp_dir d)
{
	switch (d) {
	case CV_SDP_SENDONLY:
		return CV_MEDIA_SENDONLY;
	case CV_SDP_RECVONLY:
		return CV_MEDIA_RECVONLY;
	case CV_SDP_INACTIVE:
		return CV_MEDIA_INACTIVE;
	default:
		return CV_MEDIA_SENDRECV;
	}
}

int cv_media_stream_cfg_from_neg(const struct cv_sdp_neg_media *m,
				 struct cv_media_stream_cfg *cfg)
{
	if (!m->ncodecs)
		return CV_EUNSUPP;
	const struct cv_sdp_neg_codec *nc = &m->codecs[0];
	const struct cv_codec *codec = cv_codec_find(
		cv_pl_str(nc->name), nc->clock_rate, (uint8_t)nc->channels);
	if (!codec)
		return CV_EUNSUPP;
	*cfg = (struct cv_media_stream_cfg){
		.codec = codec,
		.pt = nc->pt_send,
		.ptime = m->ptime,
		.tevent_pt = m->dtmf_pt_send,
		.cn_pt = m->cn_pt_send,
		.dir = dir_from_sdp(m->dir),
		.remote = m->remote_rtp,
		.remote_rtcp = m->remote_rtcp,
		.rtcp_mux = m->rtcp_mux,
	};
	cv_codec_fmtp_parse(codec, &cfg->params, cv_pl_str(nc->fmtp));
	return 0;
}

int cv_media_stream_create(struct cv_media_stream **msp,
			   const struct cv_media_stream_params *p)
{
	if (!msp || !p || !p->loop)
		return -EINVAL;
	struct cv_media_stream *ms = cv_mem_zalloc(sizeof(*ms), stream_dtor);
	if (!ms)
		return -ENOMEM;
	ms->p = *p;
	ms->loop = p->loop;
	ms->cfg.tevent_pt = -1;
	ms->cfg.cn_pt = -1;
	cv_cn_dec_init(&ms->cn);
	cv_te_rx_init(&ms->te_rx, 8000, on_te_rx, ms);
	int err = -ENOMEM;
	ms->timer = malloc(sizeof(*ms->timer));
	if (!ms->timer)
		goto fail;
	uv_timer_init(p->loop, ms->timer);
	ms->timer->data = ms;
	if (p->detect_inband_dtmf) {
		err = cv_dtmf_det_create(&ms->det, on_inband, ms);
		if (err)
			goto fail;
	}
	struct cv_rtp_params rp = {
		.loop = p->loop,
		.local_addr = p->local_addr,
		.port_min = p->port_min,
		.port_max = p->port_max,
		.rtcp_mux = p->rtcp_mux,
		.tevent_pt = p->tevent_pt,
		.rtcp_min_ms = p->rtcp_min_ms,
		.rtcp_xr = p->rtcp_xr,
		.plc = true,
		.h = &rtp_handlers,
		.arg = ms,
	};
	err = cv_rtp_session_create(&ms->rtp, &rp);
	if (err)
		goto fail;
	*msp = ms;
	return 0;
fail:
	if (ms->timer) {
		ms->timer->data = NULL;
		uv_close((uv_handle_t *)ms->timer, timer_closed);
	}
	cv_mem_unref(ms);
	return err;
}

void cv_media_stream_destroy(struct cv_media_stream *ms)
{
	if (!ms)
		return;
	cv_media_stream_stop(ms);
	ms->timer->data = NULL;
	uv_close((uv_handle_t *)ms->timer, timer_closed);
	cv_rtp_session_destroy(ms->rtp);
	if (ms->jb)
		cv_rtp_jb_destroy(ms->jb);
	cv_mem_unref(ms);
}

static int rebuild_codec(struct cv_media_stream *ms,
			 const struct cv_media_stream_cfg *cfg)
{
	struct cv_codec_params prm = cfg->params;
	struct cv_codec_enc *enc = NULL;
	struct cv_codec_dec *dec = NULL;
	int err = cv_codec_enc_create(&enc, cfg->codec, &prm);
	if (!err)
		err = cv_codec_dec_create(&dec, cfg->codec, &prm);
	if (err) {
		cv_mem_unref(enc);
		return err;
	}
	uint32_t frame_ts = cfg->codec->clock_rate * cfg->ptime / 1000;
	struct cv_rtp_jb_params jp = {
		.clock_rate = cfg->codec->clock_rate,
		.frame_ts = frame_ts,
		.min_ms = ms->p.jb_min_ms,
		.max_ms = ms->p.jb_max_ms,
		.init_ms = ms->p.jb_init_ms,
		.cn_pt = cfg->cn_pt,
	};
	struct cv_rtp_jb *jb = NULL;
	err = cv_rtp_jb_create(&jb, &jp);
	if (err) {
		cv_mem_unref(enc);
		cv_mem_unref(dec);
		return err;
	}
	cv_mem_unref(ms->enc);
	cv_mem_unref(ms->dec);
	if (ms->jb)
		cv_rtp_jb_destroy(ms->jb);
	ms->enc = enc;
	ms->dec = dec;
	ms->jb = jb;
	cv_rtp_session_set_codec(ms->rtp, cfg->codec->name,
				 cfg->codec->clock_rate, true);
	cv_te_rx_init(&ms->te_rx, cfg->codec->clock_rate, on_te_rx, ms);
	cv_te_tx_init(&ms->te, cfg->codec->clock_rate, cfg->ptime);
	return 0;
}

/* (Re)creates the echo canceller etc. at the codec's PCM rate. */
static int rebuild_aproc(struct cv_media_stream *ms)
{
	cv_mem_unref(ms->ap);
	ms->ap = NULL;
	if (!ms->ap_on || !ms->enc)
		return 0;
	struct cv_aproc_params p = ms->ap_p;
	if (!p.rate)
		p.rate = cv_codec_enc_rate(ms->enc);
	return cv_aproc_create(&ms->ap, &p);
}

int cv_media_stream_set_aproc(struct cv_media_stream *ms,
			      const struct cv_aproc_params *p)
{
	if (!ms)
		return -EINVAL;
	ms->ap_on = p != NULL;
	if (p)
		ms->ap_p = *p;
	int err = rebuild_aproc(ms);
	if (err)
		ms->ap_on = false;
	return err;
}

int cv_media_stream_start(struct cv_media_stream *ms,
			  const struct cv_media_stream_cfg *cfg_in)
{
	if (!ms || !cfg_in || !cfg_in->codec)
		return -EINVAL;
	struct cv_media_stream_cfg cfg = *cfg_in;
	const struct cv_codec *c = cfg.codec;
	if (!cfg.ptime)
		cfg.ptime = cfg.params.ptime ? cfg.params.ptime : 20;
	if (cfg.ptime % c->frame_ms || cfg.ptime > c->max_ptime ||
	    cfg.pt > 127 || cfg.tevent_pt > 127 || cfg.cn_pt > 127)
		return -EINVAL;
	/* libopus encodes 10, 20, 40 or 60 ms in one frame (RFC 6716 §2.1.4);
	 * we do not repacketize other durations. */
	if (c == &cv_codec_opus && cfg.ptime != 10 && cfg.ptime != 20 &&
	    cfg.ptime != 40 && cfg.ptime != 60)
		return -EINVAL;
	int err;
	bool codec_changed =
		!ms->have_cfg || ms->cfg.codec != c || ms->cfg.pt != cfg.pt ||
		ms->cfg.ptime != cfg.ptime || ms->cfg.cn_pt != cfg.cn_pt ||
		memcmp(&ms->cfg.params, &cfg.params, sizeof(cfg.params)) != 0;
	if (codec_changed) {
		err = rebuild_codec(ms, &cfg);
		if (err)
			return err;
		/* a new PCM rate needs a new echo canceller (a failure leaves
		 * the stream without processing, never without audio) */
		if (rebuild_aproc(ms))
			ms->ap_on = false;
	}
	if (cfg.remote.ss_family == AF_INET ||
	    cfg.remote.ss_family == AF_INET6) {
		bool rtcp_set = cfg.remote_rtcp.ss_family == AF_INET ||
				cfg.remote_rtcp.ss_family == AF_INET6;
		err = cv_rtp_session_set_rtcp_mux(ms->rtp, cfg.rtcp_mux);
		if (!err)
			err = cv_rtp_session_set_remote(
				ms->rtp, (const struct sockaddr *)&cfg.remote,
				rtcp_set ? (const struct sockaddr *)&cfg
						   .remote_rtcp
					 : NULL);
		if (err)
			return err;
	}
	if (cfg.srtp_tx || cfg.srtp_rx) {
		err = cv_rtp_session_set_srtp(ms->rtp, cfg.srtp_tx,
					      cfg.srtp_rx);
		if (err)
			return err;
	}
	/* the keys belong to the caller; do not keep pointers to them */
	cfg.srtp_tx = cfg.srtp_rx = NULL;
	ms->cfg = cfg;
	ms->have_cfg = true;
	if (!ms->running) {
		ms->running = true;
		ms->marker_next = true;
		ms->ts = cv_random_u32();
		uint64_t now = cv_clock_us();
		ms->next_due_us = now + (uint64_t)cfg.ptime * 1000;
		arm(ms, now);
	}
	return 0;
}

void cv_media_stream_stop(struct cv_media_stream *ms)
{
	if (!ms || !ms->running)
		return;
	ms->running = false;
	uv_timer_stop(ms->timer);
}

bool cv_media_stream_running(const struct cv_media_stream *ms)
{
	return ms && ms->running;
}

struct cv_rtp_session *cv_media_stream_rtp(struct cv_media_stream *ms)
{
	return ms ? ms->rtp : NULL;
}

uint16_t cv_media_stream_port(const struct cv_media_stream *ms)
{
	return ms ? cv_rtp_session_port(ms->rtp) : 0;
}

void cv_media_stream_set_source(struct cv_media_stream *ms, struct cv_asrc *src)
{
	if (!ms)
		return;
	struct cv_asrc *old = ms->src;
	ms->src = src ? cv_mem_ref(src) : NULL;
	ms->src_done_reported = false;
	cv_mem_unref(old);
}

void cv_media_stream_set_sink(struct cv_media_stream *ms, struct cv_asink *sink)
{
	if (!ms)
		return;
	struct cv_asink *old = ms->sink;
	ms->sink = sink ? cv_mem_ref(sink) : NULL;
	cv_mem_unref(old);
}

int cv_media_stream_send_dtmf(struct cv_media_stream *ms, const char *digits,
			      uint32_t duration_ms)
{
	if (!ms || !digits)
		return -EINVAL;
	if (!ms->have_cfg || ms->cfg.tevent_pt < 0)
		return CV_EUNSUPP;
	size_t n = strlen(digits);
	for (size_t i = 0; i < n; i++) {
		uint8_t ev;
		if (cv_rtp_tevent_from_char(digits[i], &ev))
			return -EINVAL;
	}
	if (ms->dtmf_n + n > DTMF_QUEUE)
		return CV_EFULL;
	memcpy(ms->dtmf_q + ms->dtmf_n, digits, n);
	ms->dtmf_n += n;
	ms->dtmf_q[ms->dtmf_n] = '\0';
	ms->dtmf_ms = duration_ms ? duration_ms : 100;
	return 0;
}

int cv_media_stream_stats(const struct cv_media_stream *ms,
			  struct cv_media_stream_stats *out)
{
	if (!ms || !out)
		return -EINVAL;
	*out = ms->st;
	if (ms->ap)
		cv_aproc_stats(ms->ap, &out->aproc);
	int err = cv_rtp_session_stats(ms->rtp, &out->rtp);
	if (ms->jb)
		cv_rtp_jb_stats(ms->jb, &out->jb);
	return err;
}

int cv_media_stream_join(struct cv_media_stream *ms, struct cv_mixer *m)
{
	if (!ms || !m)
		return -EINVAL;
	struct cv_mixer_port *port = NULL;
	struct cv_asrc *src = NULL;
	struct cv_asink *sink = NULL;
	int err = cv_mixer_port_add(m, &port);
	if (err)
		return err;
	err = cv_asrc_mixer(&src, port);
	if (!err)
		err = cv_asink_mixer(&sink, port);
	if (!err) {
		cv_media_stream_set_source(ms, src);
		cv_media_stream_set_sink(ms, sink);
	}
	cv_mem_unref(src);
	cv_mem_unref(sink);
	cv_mem_unref(port);
	return err;
}

int cv_media_stream_bridge(struct cv_media_stream *a, struct cv_media_stream *b)
{
	if (!a || !b || !a->have_cfg || !b->have_cfg)
		return -EINVAL;
	uint32_t ra = cv_codec_dec_rate(a->dec), rb = cv_codec_dec_rate(b->dec);
	uint32_t rate = CV_MAX(ra, rb);
	if (rate > 48000)
		rate = 48000;
	struct cv_mixer *m = NULL;
	int err = cv_mixer_create(&m, rate);
	if (err)
		return err;
	err = cv_media_stream_join(a, m);
	if (!err)
		err = cv_media_stream_join(b, m);
	cv_mem_unref(m);
	return err;
}
