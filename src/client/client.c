/* The client: one worker, a transport, a session agent, and calls bound
 * to media streams. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cvoip/client.h"
#include "cvoip/media.h"
#include "cvoip/rtp.h"

#define MOD	   "client"
#define MAX_FMTS   16
#define MAX_LISTEN 8
/* SDES suites we offer and accept, in preference order (RFC 4568 §6.2). */
#define NSUITES 2
static const enum cv_srtp_suite srtp_suites[NSUITES] = {
	CV_SRTP_AES_CM_128_HMAC_SHA1_80, CV_SRTP_AES_CM_128_HMAC_SHA1_32};

/* A subscription to us (presence or dialog), kept to NOTIFY changes. */
struct csub {
	struct csub *next;
	struct cv_sub *s;
	bool dialog;
	char entity[256];
};

struct cv_client {
	struct cv_rt *rt;
	struct cv_tp *tp;
	struct cv_agent *ag;
	struct cv_worker *w;
	struct cv_tp_spec specs[MAX_LISTEN];
	unsigned nspecs;
	char media_addr[64];
	uint16_t port_min, port_max;
	char *user_agent;
	char *contact_user;
	const struct cv_client_handlers *h;
	void *arg;
	void (*start)(struct cv_client *cl, void *arg);
	void *start_arg;
	struct cv_regc *reg;
	char *reg_proxy; /* registrar: where calls placed for a REFER go */
	char *reg_aor, *reg_user, *reg_pass; /* and as whom */
	uint32_t session_expires, min_se;
	bool registered;
	int fail;
	struct cv_ccall *calls;
	struct csub *subs;
	struct cv_csub *out_subs; /* subscriptions we made */
	uint32_t dialog_version;
};

struct cv_ccall {
	bool muted;
	struct cv_client *cl;
	struct cv_ccall *next, *prev; /* the client's calls */
	struct cv_call *call;
	struct cv_media_stream *ms;
	char *play, *record;
	char *device; /* ALSA PCM name, or NULL */
	uint32_t device_rate, device_period_ms;
	bool aec;
	struct cv_adev *adev; /* open while the stream is */
	char *proxy, *from;   /* outgoing: as placed */
	char *auth_user, *auth_pass;
	double tone_hz;
	char *codec_names[MAX_FMTS];
	size_t ncodecs;
	char addr[64];
	struct cv_media_fmt fmts[MAX_FMTS];
	struct cv_sdp_codec sdpc[MAX_FMTS];
	struct cv_sdp_stream_caps caps;
	char codec[32];
	bool released;
	/* SRTP (SDES): our sending key per suite, made once per call. */
	bool srtp;		/* required (cv_client_media.srtp) */
	bool srtp_keys;		/* keys made */
	bool peer_offered_srtp; /* the INVITE offered RTP/SAVP */
	bool negotiated;	/* a first offer/answer completed */
	bool srtp_refused;	/* required, and the answer was plain */
	char srtp_suite[48];	/* negotiated suite, "" plain */
	char keyparams[NSUITES][64];
	struct cv_sdp_crypto_local crypto[NSUITES];
};

/* ---- media binding ------------------------------------------------------- */

static void on_stream_dtmf(struct cv_media_stream *ms, char digit, bool end,
			   uint32_t duration_ms, bool inband, void *arg)
{
	struct cv_ccall *cc = arg;
	if (end && !cc->released && cc->cl->h->dtmf)
		cc->cl->h->dtmf(cc, digit, cc->cl->arg);
}

static const struct cv_media_stream_handlers stream_handlers = {
	.dtmf = on_stream_dtmf,
};

/* The stream's source while not muted is rebuilt from the media options,
 * so a file restarts from the top after an unmute. */
static int make_source(struct cv_ccall *cc, struct cv_asrc **src)
{
	if (cc->play && !cc->muted)
		return cv_asrc_file(src, cc->play, true);
	if (cc->tone_hz > 0 && !cc->muted) {
		struct cv_tone_params tp = {.freq1 = cc->tone_hz,
					    .level_dbm0 = -10};
		return cv_asrc_tone(src, &tp);
	}
	if (cc->adev && !cc->muted)
		return cv_adev_source(cc->adev, src);
	return cv_asrc_silence(src);
}

static void device_params(const struct cv_client_media *m, bool capture,
			  bool playback, struct cv_adev_params *out)
{
	*out = (struct cv_adev_params){
		.name = m->device,
		.rate = m->device_rate,
		.period_ms = m->device_period_ms,
		.capture = capture,
		.playback = playback,
	};
}

/* The sound device for a call's stream: the microphone unless a file or
 * tone is sent, the loudspeaker unless a recording is made. */
static int open_device(struct cv_ccall *cc)
{
	bool capture = !cc->play && !(cc->tone_hz > 0);
	bool playback = !cc->record;
	if (!cc->device || cc->adev || (!capture && !playback))
		return 0;
	struct cv_client_media m = {.device = cc->device,
				    .device_rate = cc->device_rate,
				    .device_period_ms = cc->device_period_ms};
	struct cv_adev_params ap;
	device_params(&m, capture, playback, &ap);
	char why[256];
	int err = cv_adev_open(&cc->adev, &ap, why, sizeof(why));
	if (err)
		CV_WARN("client", "%s", why);
	return err;
}

static int ensure_stream(struct cv_ccall *cc)
{
	if (cc->ms)
		return 0;
	struct cv_client *cl = cc->cl;
	struct cv_media_stream_params sp = {
		.loop = cv_worker_loop(cl->w),
		.local_addr = cc->addr,
		.port_min = cl->port_min,
		.port_max = cl->port_max,
		.tevent_pt = -1,
		.detect_inband_dtmf = true,
		.h = &stream_handlers,
		.arg = cc,
	};
	int err = cv_media_stream_create(&cc->ms, &sp);
	if (err)
		return err;
	if ((err = open_device(cc)) != 0)
		return err;
	struct cv_asrc *src = NULL;
	err = make_source(cc, &src);
	if (err)
		return err;
	cv_media_stream_set_source(cc->ms, src);
	cv_mem_unref(src);
	if (cc->record) {
		struct cv_asink *sink = NULL;
		err = cv_asink_file(&sink, cc->record, 16000);
		if (err)
			return err;
		cv_media_stream_set_sink(cc->ms, sink);
		cv_mem_unref(sink);
	} else if (cc->adev) {
		struct cv_asink *sink = NULL;
		err = cv_adev_sink(cc->adev, &sink);
		if (err)
			return err;
		cv_media_stream_set_sink(cc->ms, sink);
		cv_mem_unref(sink);
	}
	if (cc->adev && cc->aec) {
		/* The stream hands the canceller what it plays out as the far
		 * end; the device's buffer delay must fit the tail. */
		struct cv_aproc_params ap = {.echo_tail_ms = 200};
		if ((err = cv_media_stream_set_aproc(cc->ms, &ap)) != 0)
			return err;
	}
	return 0;
}

static int make_keys(struct cv_ccall *cc)
{
	if (cc->srtp_keys)
		return 0;
	for (size_t i = 0; i < NSUITES; i++) {
		struct cv_srtp_key k;
		int err = cv_srtp_key_generate(&k, srtp_suites[i]);
		if (!err)
			err = cv_srtp_keyparams_print(&k, cc->keyparams[i],
						      sizeof(cc->keyparams[i]));
		memset(&k, 0, sizeof(k));
		if (err)
			return err;
		cc->crypto[i] = (struct cv_sdp_crypto_local){
			.tag = (uint32_t)i + 1,
			.suite = cv_srtp_suite_name(srtp_suites[i]),
			.key_params = cc->keyparams[i],
		};
	}
	cc->srtp_keys = true;
	return 0;
}

/* Required SRTP refused by the peer's answer: end the call (off the
 * session's callback stack). */
static void srtp_hangup(struct cv_worker *w, void *arg)
{
	struct cv_ccall *cc = arg;
	if (!cc->released && cc->call &&
	    cv_call_state(cc->call) != CV_CALL_ENDED) {
		struct cv_call_end_params p = {
			.reason = "SIP;cause=488;text=\"SRTP required\""};
		cv_call_end(cc->call, &p);
	}
	cv_mem_unref(cc);
}

static void srtp_refuse(struct cv_ccall *cc)
{
	if (cc->srtp_refused)
		return;
	cc->srtp_refused = true;
	CV_LOG_RL(CV_LOG_WARN, MOD,
		  "the peer answered without SRTP, which is required: hanging "
		  "up");
	if (cv_worker_post(cc->cl->w, srtp_hangup, cv_mem_ref(cc)) != 0)
		cv_mem_unref(cc);
}

static int media_local(void *marg, struct cv_sdp_local *out)
{
	struct cv_ccall *cc = marg;
	int err = ensure_stream(cc);
	if (err)
		return err;
	const char *names[MAX_FMTS];
	for (size_t i = 0; i < cc->ncodecs; i++)
		names[i] = cc->codec_names[i];
	struct cv_media_offer_params op = {.codecs = cc->ncodecs ? names : NULL,
					   .ncodecs = cc->ncodecs,
					   .telephone_event = false};
	size_t n = 0;
	err = cv_media_offer_fmts(&op, cc->fmts, MAX_FMTS, &n);
	if (err)
		return err;
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (!cc->fmts[i].codec)
			continue;
		cc->sdpc[k] = (struct cv_sdp_codec){
			.name = cc->fmts[i].name,
			.clock_rate = cc->fmts[i].clock_rate,
			.channels = cc->fmts[i].channels,
			.fmtp = cc->fmts[i].fmtp[0] ? cc->fmts[i].fmtp : NULL,
			.pt = cc->fmts[i].pt,
		};
		k++;
	}
	memset(&cc->caps, 0, sizeof(cc->caps));
	cc->caps.media = "audio";
	cc->caps.port = cv_media_stream_port(cc->ms);
	cc->caps.codecs = cc->sdpc;
	cc->caps.ncodecs = k;
	cc->caps.telephone_event = true;
	cc->caps.dtmf_pt = -1;
	cc->caps.ptime = 20;
	cc->caps.dir = CV_SDP_SENDRECV;
	/* RFC 4568: a=crypto (RTP/SAVP in offers) when SRTP is required, in
	 * use, or offered by the peer to whom we answer now. */
	if (cc->srtp || cc->srtp_suite[0] ||
	    (!cc->negotiated && cc->peer_offered_srtp)) {
		err = make_keys(cc);
		if (err)
			return err;
		cc->caps.crypto = cc->crypto;
		cc->caps.ncrypto = NSUITES;
	}
	cc->caps.srtp_required = cc->srtp;
	out->addr = cc->addr;
	out->user = "cvoip";
	out->streams = &cc->caps;
	out->nstreams = 1;
	return 0;
}

static int media_apply(void *marg, const struct cv_sdp_neg *neg)
{
	struct cv_ccall *cc = marg;
	cc->negotiated = true;
	if (cc->srtp && (!neg->nmedia || !neg->media[0].srtp))
		srtp_refuse(cc);
	if (!neg->nmedia || neg->media[0].rejected || !neg->media[0].ncodecs ||
	    cc->srtp_refused) {
		if (cc->ms)
			cv_media_stream_stop(cc->ms);
		if (!cc->released && cc->cl->h->media)
			cc->cl->h->media(cc, "inactive", "", cc->cl->arg);
		return 0;
	}
	int err = ensure_stream(cc);
	if (err)
		return err;
	const struct cv_sdp_neg_media *m = &neg->media[0];
	struct cv_media_stream_cfg cfg;
	err = cv_media_stream_cfg_from_neg(m, &cfg);
	if (err)
		return err;
	const struct cv_sdp_neg_codec *nc = &m->codecs[0];
	snprintf(cc->codec, sizeof(cc->codec), "%.24s/%u", nc->name,
		 nc->clock_rate);
	/* RFC 4568 §6.1: each side sends with its own key; the offer and
	 * answer carry both, as key-params of the negotiated suite */
	struct cv_srtp_key tx, rx;
	if (m->srtp) {
		enum cv_srtp_suite suite;
		err = cv_srtp_suite_parse(cv_pl_str(m->crypto_suite), &suite);
		if (!err)
			err = cv_srtp_keyparams_parse(
				cv_pl_str(m->crypto_local_key), suite, &tx);
		if (!err)
			err = cv_srtp_keyparams_parse(
				cv_pl_str(m->crypto_remote_key), suite, &rx);
		if (err) {
			cv_media_stream_stop(cc->ms);
			return err;
		}
		cfg.srtp_tx = &tx;
		cfg.srtp_rx = &rx;
		snprintf(cc->srtp_suite, sizeof(cc->srtp_suite), "%s",
			 m->crypto_suite);
	} else if (cc->srtp_suite[0]) {
		/* renegotiated to plain RTP: drop the keys */
		cv_rtp_session_set_srtp(cv_media_stream_rtp(cc->ms), NULL,
					NULL);
		cc->srtp_suite[0] = '\0';
	}
	err = cv_media_stream_start(cc->ms, &cfg);
	memset(&tx, 0, sizeof(tx));
	memset(&rx, 0, sizeof(rx));
	if (!err && !cc->released && cc->cl->h->media)
		cc->cl->h->media(cc, cv_sdp_dir_name(m->dir), cc->codec,
				 cc->cl->arg);
	return err;
}

static void media_stop(void *marg)
{
	struct cv_ccall *cc = marg;
	if (cc->ms)
		cv_media_stream_stop(cc->ms);
}

static const struct cv_call_media_ops media_ops = {
	.local = media_local,
	.apply = media_apply,
	.stop = media_stop,
};

/* ---- calls -------------------------------------------------------------- */

static void ccall_link(struct cv_ccall *cc)
{
	struct cv_client *cl = cc->cl;
	cc->next = cl->calls;
	if (cl->calls)
		cl->calls->prev = cc;
	cl->calls = cc;
}

static void ccall_unlink(struct cv_ccall *cc)
{
	struct cv_client *cl = cc->cl;
	if (cc->prev)
		cc->prev->next = cc->next;
	else if (cl && cl->calls == cc)
		cl->calls = cc->next;
	if (cc->next)
		cc->next->prev = cc->prev;
	cc->next = cc->prev = NULL;
}

/* Media streams live on the worker's loop: they go when the call ends,
 * is released, or the worker stops, never later. */
static void ccall_drop_media(struct cv_ccall *cc)
{
	if (cc->ms) {
		cv_media_stream_destroy(cc->ms);
		cc->ms = NULL;
	}
	/* after the stream: its source and sink hold the device too */
	cv_mem_unref(cc->adev);
	cc->adev = NULL;
}

static void ccall_dtor(void *obj)
{
	struct cv_ccall *cc = obj;
	ccall_unlink(cc);
	free(cc->play);
	free(cc->record);
	free(cc->device);
	cv_mem_unref(cc->adev);
	free(cc->proxy);
	free(cc->from);
	free(cc->auth_user);
	free(cc->auth_pass);
	for (size_t i = 0; i < cc->ncodecs; i++)
		free(cc->codec_names[i]);
}

static int set_media(struct cv_ccall *cc, const struct cv_client_media *m)
{
	if (!m)
		return 0;
	if (m->play && !(cc->play = strdup(m->play)))
		return -ENOMEM;
	if (m->record && !(cc->record = strdup(m->record)))
		return -ENOMEM;
	cc->tone_hz = m->tone_hz;
	if (m->device && !(cc->device = strdup(m->device)))
		return -ENOMEM;
	cc->device_rate = m->device_rate;
	cc->device_period_ms = m->device_period_ms;
	cc->aec = m->aec;
	cc->srtp = cc->srtp || m->srtp;
	for (size_t i = 0; i < m->ncodecs && i < MAX_FMTS; i++) {
		if (!(cc->codec_names[i] = strdup(m->codecs[i])))
			return -ENOMEM;
		cc->ncodecs++;
	}
	return 0;
}

/* The local address for media toward a peer: configured, or the one the
 * kernel would use to reach it. */
static void pick_addr(struct cv_client *cl, struct cv_ccall *cc,
		      const struct cv_tp_addr *peer)
{
	if (cl->media_addr[0]) {
		snprintf(cc->addr, sizeof(cc->addr), "%s", cl->media_addr);
		return;
	}
	struct cv_tp_via via;
	struct cv_tp_via_params vp = {.kind = CV_TP_UDP, .dst = *peer};
	if (peer && cv_tp_addr_isset(peer) &&
	    cv_tp_via_for(cl->tp, &vp, &via) == 0) {
		struct cv_pl h = cv_pl_str(via.host);
		if (h.l > 2 &&
		    h.p[0] == '[') { /* IPv6 reference: no brackets */
			h.p++;
			h.l -= 2;
		}
		cv_pl_strcpy(h, cc->addr, sizeof(cc->addr));
		return;
	}
	snprintf(cc->addr, sizeof(cc->addr), "127.0.0.1");
}

/* RFC 4235 §4.1: the full state of our calls */
static int dialog_info(struct cv_client *cl, const char *entity,
		       struct cv_buf *b)
{
	static const char *const st_names[] = {
		[CV_CALL_IDLE] = "trying",     [CV_CALL_CALLING] = "trying",
		[CV_CALL_INCOMING] = "early",  [CV_CALL_RINGING] = "early",
		[CV_CALL_EARLY] = "early",     [CV_CALL_ANSWERED] = "confirmed",
		[CV_CALL_ENDED] = "terminated"};
	cv_buf_printf(b,
		      "<?xml version=\"1.0\"?>\r\n<dialog-info "
		      "xmlns=\"urn:ietf:params:xml:ns:dialog-info\" "
		      "version=\"%u\" state=\"full\" entity=\"%s\">\r\n",
		      cl->dialog_version, entity);
	for (struct cv_ccall *cc = cl->calls; cc; cc = cc->next) {
		if (!cc->call)
			continue;
		enum cv_call_state st = cv_call_state(cc->call);
		cv_buf_printf(
			b,
			"<dialog id=\"%s\" call-id=\"%s\" "
			"direction=\"%s\"><state>%s</state>"
			"<remote><identity>%s</identity></remote></dialog>\r\n",
			cv_call_id(cc->call), cv_call_id(cc->call),
			cv_call_is_outgoing(cc->call) ? "initiator"
						      : "recipient",
			(unsigned)st < CV_ARRAY_SIZE(st_names) ? st_names[st]
							       : "trying",
			cv_call_remote_uri(cc->call));
	}
	cv_buf_append_str(b, "</dialog-info>\r\n");
	return b->err;
}

static void notify_dialogs(struct cv_client *cl)
{
	bool any = false;
	for (struct csub *x = cl->subs; x; x = x->next)
		any |= x->dialog;
	if (!any)
		return;
	cl->dialog_version++;
	for (struct csub *x = cl->subs; x; x = x->next) {
		if (!x->dialog)
			continue;
		struct cv_buf b;
		cv_buf_init(&b, 32768);
		if (dialog_info(cl, x->entity, &b) == 0 && b.data)
			cv_sub_notify(x->s, "application/dialog-info+xml",
				      b.data);
		cv_buf_free(&b);
	}
}

static void csub_ended(struct cv_sub *s, uint16_t status, const char *reason,
		       void *uarg)
{
	struct cv_client *cl = uarg;
	for (struct csub **pp = &cl->subs; *pp; pp = &(*pp)->next) {
		if ((*pp)->s == s) {
			struct csub *x = *pp;
			*pp = x->next;
			cv_sub_release(s);
			free(x);
			return;
		}
	}
}

static const struct cv_sub_handlers csub_handlers = {.ended = csub_ended};

static void on_subscribe(struct cv_agent *ag, struct cv_sub *s,
			 const struct cv_sip_msg *req, void *arg)
{
	struct cv_client *cl = arg;
	const char *ev = cv_sub_event(s);
	bool presence = !strcmp(ev, "presence"), dialog = !strcmp(ev, "dialog");
	if (!presence && !dialog)
		return; /* 489 */
	struct csub *x = calloc(1, sizeof(*x));
	if (!x)
		return;
	x->s = s;
	x->dialog = dialog;
	cv_pl_strcpy(req->to.uri, x->entity, sizeof(x->entity));
	/* the entity goes into XML attributes: keep it plain */
	for (char *p = x->entity; *p; p++)
		if (*p == '"' || *p == '<' || *p == '>' || *p == '&')
			*p = '_';
	struct cv_buf b;
	cv_buf_init(&b, 32768);
	int err = presence ? cv_pidf_print(&b, x->entity, true, NULL)
			   : dialog_info(cl, x->entity, &b);
	struct cv_sub_accept_params ap = {
		.h = &csub_handlers,
		.uarg = cl,
		.content_type = presence ? "application/pidf+xml"
					 : "application/dialog-info+xml",
		.body = b.data ? b.data : "",
	};
	x->next = cl->subs;
	cl->subs = x;
	if (!err)
		err = cv_sub_accept(s, &ap);
	cv_buf_free(&b);
	if (err) {
		cl->subs = x->next;
		free(x);
		return;
	}
	if (cl->h->subscribed) {
		char from[512];
		cv_pl_strcpy(req->from.uri, from, sizeof(from));
		cl->h->subscribed(cl, ev, from, cl->arg);
	}
}

static void on_call_state(struct cv_call *c, enum cv_call_state st,
			  uint16_t status, const char *reason, void *uarg)
{
	struct cv_ccall *cc = uarg;
	if (cc)
		notify_dialogs(cc->cl);
	if (cc && !cc->released && cc->cl->h->call_state)
		cc->cl->h->call_state(cc, st, status, reason, cc->cl->arg);
}

static void on_info_dtmf(struct cv_call *c, char digit, uint32_t duration_ms,
			 void *uarg)
{
	struct cv_ccall *cc = uarg;
	if (cc && !cc->released && cc->cl->h->dtmf)
		cc->cl->h->dtmf(cc, digit, cc->cl->arg);
}

/* A new call carrying old's media options (not its recording: that file
 * belongs to old's stream). */
static struct cv_ccall *ccall_like(struct cv_client *cl,
				   const struct cv_ccall *old)
{
	struct cv_ccall *cc = cv_mem_zalloc(sizeof(*cc), ccall_dtor);
	if (!cc)
		return NULL;
	cc->cl = cl;
	ccall_link(cc);
	const char *codecs[MAX_FMTS];
	for (size_t i = 0; i < old->ncodecs; i++)
		codecs[i] = old->codec_names[i];
	struct cv_client_media m = {.play = old->play,
				    .tone_hz = old->tone_hz,
				    .device = old->device,
				    .device_rate = old->device_rate,
				    .device_period_ms = old->device_period_ms,
				    .aec = old->aec,
				    .codecs = codecs,
				    .ncodecs = old->ncodecs,
				    .srtp = old->srtp};
	if (set_media(cc, &m) != 0) {
		cv_mem_unref(cc);
		return NULL;
	}
	snprintf(cc->addr, sizeof(cc->addr), "%s", old->addr);
	cc->muted = old->muted;
	return cc;
}

static bool pl_contains(struct cv_pl h, const char *needle)
{
	size_t n = strlen(needle);
	for (size_t i = 0; i + n <= h.l; i++)
		if (memcmp(h.p + i, needle, n) == 0)
			return true;
	return false;
}

static void on_incoming(struct cv_agent *ag, struct cv_call *c,
			const struct cv_sip_msg *invite, void *arg)
{
	struct cv_client *cl = arg;
	struct cv_call *rep = cv_call_replaces(c);
	struct cv_ccall *old = rep ? cv_call_uarg(rep) : NULL;
	if (old && (old->released || !cl->h->transferred))
		old = NULL; /* nobody to hand it to: an ordinary incoming call
			     */
	struct cv_ccall *cc = NULL;
	if (old) {
		/* RFC 3891: the new call takes over old's place, at once */
		cc = ccall_like(cl, old);
		if (!cc) {
			cv_call_reject(c, 500, NULL);
			cv_call_release(c);
			return;
		}
		cc->call = c;
		cv_call_set_uarg(c, cc);
		cv_call_set_media(c, &media_ops, cc);
		cl->h->transferred(cl, old, cc, cl->arg);
		if (cv_ccall_answer(cc, NULL) != 0 &&
		    cv_call_state(c) != CV_CALL_ENDED)
			cv_call_reject(c, 500, NULL);
		return;
	}
	cc = cv_mem_zalloc(sizeof(*cc), ccall_dtor);
	if (!cc || !cl->h->incoming) {
		cv_mem_unref(cc);
		cv_call_reject(c, cc ? 480 : 500, NULL);
		cv_call_release(c);
		return;
	}
	cc->cl = cl;
	cc->call = c;
	ccall_link(cc);
	struct cv_tp_addr peer = {0};
	if (invite->via.host.l)
		cv_tp_addr_set(&peer, invite->via.host,
			       invite->via.port ? invite->via.port : 5060);
	pick_addr(cl, cc, &peer);
	/* answer SDES with SDES (RFC 4568 §7.1.2), even when not required */
	cc->peer_offered_srtp = pl_contains(invite->body, "RTP/SAVP");
	cv_call_set_uarg(c, cc);
	cv_call_set_media(c, &media_ops, cc);
	char from[512];
	cv_pl_strcpy(invite->from.uri, from, sizeof(from));
	cl->h->incoming(cl, cc, from, cl->arg);
}

static int place_call(struct cv_client *cl, struct cv_ccall *cc,
		      const struct cv_client_call_params *p,
		      const struct cv_call_refer *refer,
		      struct cv_call *refer_from);

/* The peer transfers us (REFER): call the target with old's media. */
static void on_refer(struct cv_call *c, const struct cv_call_refer *r,
		     void *uarg)
{
	struct cv_ccall *old = uarg;
	if (!old || old->released || !old->cl->h->transferred)
		return; /* not placing the call declines (NOTIFY 603) */
	struct cv_client *cl = old->cl;
	struct cv_ccall *cc = ccall_like(cl, old);
	if (!cc)
		return;
	/* as the old call was placed, else as our registered account */
	struct cv_client_call_params p = {
		.target = r->target,
		.from = old->from ? old->from : cl->reg_aor,
		.proxy = old->proxy ? old->proxy : cl->reg_proxy,
		.auth = old->auth_user ? (struct cv_auth_cred){old->auth_user,
							       old->auth_pass}
				       : (struct cv_auth_cred){cl->reg_user,
							       cl->reg_pass},
	};
	if (place_call(cl, cc, &p, r, c) != 0) {
		cv_mem_unref(cc);
		return;
	}
	cl->h->transferred(cl, old, cc, cl->arg);
}

static void on_transfer(struct cv_call *c, uint16_t status, const char *reason,
			bool final, void *uarg)
{
	struct cv_ccall *cc = uarg;
	if (cc && !cc->released && cc->cl->h->transfer)
		cc->cl->h->transfer(cc, status, reason, final, cc->cl->arg);
}

static void on_redirect(struct cv_call *c, const char *target, uint16_t status,
			void *uarg)
{
	struct cv_ccall *cc = uarg;
	if (cc && !cc->released && cc->cl->h->redirect)
		cc->cl->h->redirect(cc, target, status, cc->cl->arg);
}

static void on_message(struct cv_agent *ag, const struct cv_sip_msg *req,
		       void *arg)
{
	struct cv_client *cl = arg;
	if (!cl->h->message)
		return;
	char from[512], ctype[128];
	cv_pl_strcpy(req->from.uri, from, sizeof(from));
	cv_pl_strcpy(req->content_type, ctype, sizeof(ctype));
	char *body = cv_pl_strdup(req->body);
	if (body)
		cl->h->message(cl, from, ctype, body, req->body.l, cl->arg);
	free(body);
}

static const struct cv_call_handlers call_handlers = {
	.incoming = on_incoming,
	.state = on_call_state,
	.info_dtmf = on_info_dtmf,
	.refer = on_refer,
	.transfer = on_transfer,
	.redirect = on_redirect,
	.message = on_message,
	.subscribe = on_subscribe,
};

static int place_call(struct cv_client *cl, struct cv_ccall *cc,
		      const struct cv_client_call_params *p,
		      const struct cv_call_refer *refer,
		      struct cv_call *refer_from)
{
	char target[1024], proxy[1024], from[512];
	const char *dst_uri = p->proxy ? p->proxy : p->target;
	snprintf(target, sizeof(target), "%s", p->target);
	snprintf(proxy, sizeof(proxy), "%s", dst_uri);
	if (p->transport != CV_TP_UDP && !strstr(proxy, "transport=")) {
		char lower[8];
		const char *n = cv_tp_kind_name(p->transport);
		size_t i = 0;
		for (; n[i] && i < sizeof(lower) - 1; i++)
			lower[i] = (char)(n[i] | 0x20);
		lower[i] = 0;
		size_t l = strlen(proxy);
		snprintf(proxy + l, sizeof(proxy) - l, ";transport=%s", lower);
		if (!p->proxy) /* direct: the target says how to reach it */
			snprintf(target, sizeof(target), "%s", proxy);
	}
	struct cv_txn_addr dst;
	int err = cv_ua_addr_from_uri(cv_agent_ua(cl->ag), cv_pl_str(proxy),
				      &dst);
	if (err)
		return err;
	if (!cc->addr[0]) {
		struct cv_tp_addr peer = {0};
		if (dst.remote.sa.sa_family == AF_INET)
			memcpy(&peer.ss, &dst.remote.in, sizeof(dst.remote.in));
		else
			memcpy(&peer.ss, &dst.remote.in6,
			       sizeof(dst.remote.in6));
		pick_addr(cl, cc, &peer);
	}
	if (p->from)
		snprintf(from, sizeof(from), "%s", p->from);
	else
		snprintf(from, sizeof(from), "sip:%s@%s", cl->contact_user,
			 cc->addr);
	if (!(cc->from = strdup(from)) ||
	    (p->proxy && !(cc->proxy = strdup(proxy))))
		return -ENOMEM;
	if (p->auth.user &&
	    (!(cc->auth_user = strdup(p->auth.user)) ||
	     !(cc->auth_pass =
		       strdup(p->auth.password ? p->auth.password : ""))))
		return -ENOMEM;
	struct cv_call_params cp = {
		.target = target,
		.from = from,
		.proxy = p->proxy ? proxy : NULL,
		.auth = p->auth,
		.media = &media_ops,
		.marg = cc,
		.uarg = cc,
		.refer_from = refer_from,
		.replaces = refer ? refer->replaces : NULL,
		.referred_by = refer ? refer->referred_by : NULL,
	};
	return cv_call_create(&cc->call, cl->ag, &cp);
}

int cv_client_call(struct cv_client *cl, const struct cv_client_call_params *p,
		   struct cv_ccall **ccp)
{
	if (!p || !p->target)
		return -EINVAL;
	struct cv_ccall *cc = cv_mem_zalloc(sizeof(*cc), ccall_dtor);
	if (!cc)
		return -ENOMEM;
	cc->cl = cl;
	ccall_link(cc);
	int err = set_media(cc, &p->media);
	if (!err)
		err = place_call(cl, cc, p, NULL, NULL);
	if (err) {
		cv_mem_unref(cc);
		return err;
	}
	*ccp = cc;
	return 0;
}

int cv_ccall_ring(struct cv_ccall *cc)
{
	return cv_call_ring(cc->call);
}

int cv_ccall_answer(struct cv_ccall *cc, const struct cv_client_media *m)
{
	int err = set_media(cc, m);
	return err ? err : cv_call_answer(cc->call);
}

int cv_ccall_reject(struct cv_ccall *cc, uint16_t status)
{
	return cv_call_reject(cc->call, status, NULL);
}

int cv_ccall_hangup(struct cv_ccall *cc)
{
	/* RFC 3326: say why on the CANCEL or BYE */
	struct cv_call_end_params p = {
		.reason = "Q.850;cause=16;text=\"Normal call clearing\""};
	return cv_call_end(cc->call, &p);
}

int cv_ccall_hold(struct cv_ccall *cc, bool hold)
{
	return cv_call_hold(cc->call, hold);
}

int cv_ccall_modify(struct cv_ccall *cc, bool hold, bool use_update)
{
	struct cv_call_modify_params p = {.hold = hold,
					  .use_update = use_update};
	return cv_call_modify(cc->call, &p);
}

int cv_ccall_transfer_blind(struct cv_ccall *cc, const char *target)
{
	return cv_call_transfer_blind(cc->call, target);
}

int cv_ccall_transfer_attended(struct cv_ccall *cc, struct cv_ccall *other)
{
	if (!other || !other->call)
		return -EINVAL;
	return cv_call_transfer_attended(cc->call, other->call);
}

int cv_ccall_mute(struct cv_ccall *cc, bool mute)
{
	cc->muted = mute;
	if (!cc->ms)
		return 0;
	struct cv_asrc *src = NULL;
	int err = make_source(cc, &src);
	if (err)
		return err;
	cv_media_stream_set_source(cc->ms, src);
	cv_mem_unref(src);
	return 0;
}

int cv_client_media_check(const struct cv_client_media *m, char *why,
			  size_t size)
{
	if (m->play) {
		struct cv_asrc *src = NULL;
		int err = cv_asrc_file(&src, m->play, false);
		if (err) {
			snprintf(why, size, "%s: not a readable audio file",
				 m->play);
			return err;
		}
		cv_mem_unref(src);
	}
	for (size_t i = 0; i < m->ncodecs; i++) {
		if (!cv_codec_find(cv_pl_str(m->codecs[i]), 0, 0)) {
			snprintf(why, size,
				 "unknown codec '%s' (known: PCMU, PCMA, G722, "
				 "opus, G729, L16)",
				 m->codecs[i]);
			return CV_ENOTFOUND;
		}
	}
	if (m->record) {
		char dir[1024];
		snprintf(dir, sizeof(dir), "%s", m->record);
		char *slash = strrchr(dir, '/');
		if (slash)
			*slash = '\0';
		else
			snprintf(dir, sizeof(dir), ".");
		if (access(dir[0] ? dir : "/", W_OK) != 0) {
			snprintf(why, size, "%s: folder not writable",
				 m->record);
			return -errno;
		}
	}
	if (m->device) {
		struct cv_adev_params ap;
		device_params(m, !m->play && !(m->tone_hz > 0), !m->record,
			      &ap);
		if (ap.capture || ap.playback) {
			struct cv_adev *d = NULL;
			int err = cv_adev_open(&d, &ap, why, size);
			if (err)
				return err;
			cv_mem_unref(d);
		}
	}
	return 0;
}

int cv_ccall_send_dtmf(struct cv_ccall *cc, const char *digits)
{
	int err = cc->ms ? cv_media_stream_send_dtmf(cc->ms, digits, 100)
			 : CV_EUNSUPP;
	if (err != CV_EUNSUPP)
		return err;
	for (const char *d = digits; *d; d++) {
		err = cv_call_send_info_dtmf(cc->call, *d, 100);
		if (err)
			return err;
	}
	return 0;
}

int cv_ccall_quality(struct cv_ccall *cc, struct cv_ccall_quality *q)
{
	memset(q, 0, sizeof(*q));
	q->rtt_ms = -1;
	snprintf(q->codec, sizeof(q->codec), "%s", cc->codec);
	snprintf(q->srtp, sizeof(q->srtp), "%s", cc->srtp_suite);
	if (!cc->ms)
		return CV_ENOTFOUND;
	struct cv_media_stream_stats st;
	int err = cv_media_stream_stats(cc->ms, &st);
	if (err)
		return err;
	q->tx_packets = st.rtp.tx_packets;
	q->rx_packets = st.rtp.rx_packets;
	q->rx_lost = st.rtp.rx_lost;
	q->loss_pct = st.rtp.rx_loss_pct;
	q->jitter_ms = st.rtp.rx_jitter_ms;
	q->rtt_ms = st.rtp.rtt_ms;
	q->mos = st.rtp.mos;
	q->aec_frames = st.aproc.frames;
	if (cc->adev) {
		struct cv_adev_stats ds;
		cv_adev_stats(cc->adev, &ds);
		q->device = true;
		q->device_rate = ds.rate;
		q->device_captured = ds.captured;
		q->device_played = ds.played;
		q->device_xruns = ds.capture_xruns + ds.playback_xruns;
		q->device_dropped = ds.capture_dropped + ds.playback_dropped;
		q->device_silence = ds.playback_silence;
	}
	return 0;
}

enum cv_call_state cv_ccall_state(const struct cv_ccall *cc)
{
	return cv_call_state(cc->call);
}

struct cv_call *cv_ccall_call(struct cv_ccall *cc)
{
	return cc->call;
}

void cv_ccall_release(struct cv_ccall *cc)
{
	if (!cc)
		return;
	cc->released = true;
	if (cc->call) {
		cv_call_set_media(cc->call, NULL, NULL);
		cv_call_release(cc->call);
		cc->call = NULL;
	}
	ccall_drop_media(cc);
	ccall_unlink(cc);
	cv_mem_unref(cc);
}

/* ---- subscriptions we make
 * --------------------------------------------------- */

struct cv_csub {
	struct cv_client *cl;
	struct cv_csub *next, *prev;
	struct cv_sub *s;
	char event[64];
	char target[512];
	bool released;
};

static void csub_unlink(struct cv_csub *cs)
{
	struct cv_client *cl = cs->cl;
	if (cs->prev)
		cs->prev->next = cs->next;
	else if (cl && cl->out_subs == cs)
		cl->out_subs = cs->next;
	if (cs->next)
		cs->next->prev = cs->prev;
	cs->next = cs->prev = NULL;
}

static void csub_dtor(void *obj)
{
	csub_unlink(obj);
}

static void out_notify(struct cv_sub *s, const char *state, const char *reason,
		       const struct cv_sip_msg *m, void *uarg)
{
	struct cv_csub *cs = uarg;
	struct cv_client *cl = cs->cl;
	if (cs->released)
		return;
	char ctype[128];
	cv_pl_strcpy(m->content_type, ctype, sizeof(ctype));
	char *body = cv_pl_strdup(m->body);
	if (!body)
		return;
	if (cl->h->sub_notify)
		cl->h->sub_notify(cs, state, reason, ctype, body, m->body.l,
				  cl->arg);
	struct cv_pidf pidf;
	if (!cs->released && cl->h->presence &&
	    !strcmp(cs->event, "presence") && m->body.l &&
	    cv_pidf_parse(m->body, &pidf) == 0)
		cl->h->presence(cs, pidf.entity, pidf.has_basic, pidf.open,
				pidf.note, cl->arg);
	free(body);
}

static void out_ended(struct cv_sub *s, uint16_t status, const char *reason,
		      void *uarg)
{
	struct cv_csub *cs = uarg;
	cv_sub_release(s);
	cs->s = NULL;
	if (!cs->released && cs->cl->h->sub_ended)
		cs->cl->h->sub_ended(cs, status, reason, cs->cl->arg);
}

static const struct cv_sub_handlers out_sub_handlers = {.notify = out_notify,
							.ended = out_ended};

int cv_client_subscribe(struct cv_client *cl,
			const struct cv_client_sub_params *p,
			struct cv_csub **sp)
{
	if (!cl || !p || !p->target || !sp)
		return -EINVAL;
	struct cv_csub *cs = cv_mem_zalloc(sizeof(*cs), csub_dtor);
	if (!cs)
		return -ENOMEM;
	cs->cl = cl;
	snprintf(cs->event, sizeof(cs->event), "%s",
		 p->event ? p->event : "presence");
	snprintf(cs->target, sizeof(cs->target), "%s", p->target);
	/* the transport goes on the proxy, or on the target without one */
	char proxy[1100];
	const char *dst = p->proxy ? p->proxy : p->target;
	const char *use_proxy = p->proxy;
	if (p->transport != CV_TP_UDP && !strstr(dst, "transport=")) {
		char lower[8];
		size_t i = 0;
		for (const char *n = cv_tp_kind_name(p->transport);
		     *n && i < sizeof(lower) - 1; n++)
			lower[i++] = (char)(*n | 0x20);
		lower[i] = '\0';
		snprintf(proxy, sizeof(proxy), "%s;transport=%s", dst, lower);
		use_proxy = proxy;
	}
	struct cv_sub_params sp2 = {
		.target = p->target,
		.from = p->from,
		.proxy = use_proxy,
		.event = cs->event,
		.expires = p->expires,
		.auth = p->auth,
		.h = &out_sub_handlers,
		.uarg = cs,
	};
	int err = cv_sub_create(&cs->s, cl->ag, &sp2);
	if (err) {
		cs->s = NULL;
		cv_mem_unref(cs);
		return err;
	}
	cs->next = cl->out_subs;
	if (cl->out_subs)
		cl->out_subs->prev = cs;
	cl->out_subs = cs;
	*sp = cs;
	return 0;
}

int cv_csub_unsubscribe(struct cv_csub *s)
{
	return s && s->s ? cv_sub_unsubscribe(s->s) : CV_ECLOSED;
}

const char *cv_csub_event(const struct cv_csub *s)
{
	return s->event;
}

const char *cv_csub_target(const struct cv_csub *s)
{
	return s->target;
}

void cv_csub_release(struct cv_csub *s)
{
	if (!s)
		return;
	s->released = true;
	if (s->s) {
		cv_sub_release(s->s); /* unsubscribes when active */
		s->s = NULL;
	}
	csub_unlink(s);
	cv_mem_unref(s);
}

/* ---- registration ----------------------------------------------------------
 */

static void on_reg(struct cv_regc *r, bool registered, uint16_t status,
		   const char *reason, uint32_t expires, void *uarg)
{
	struct cv_client *cl = uarg;
	cl->registered = registered;
	if (cl->h->reg_state)
		cl->h->reg_state(cl, registered, status, reason, expires,
				 cl->arg);
}

static const struct cv_regc_handlers reg_handlers = {.state = on_reg};

int cv_client_register(struct cv_client *cl, const struct cv_regc_params *p)
{
	if (cl->reg)
		return -EBUSY;
	struct cv_regc_params rp = *p;
	free(cl->reg_proxy);
	free(cl->reg_aor);
	free(cl->reg_user);
	free(cl->reg_pass);
	cl->reg_proxy = p->registrar ? strdup(p->registrar) : NULL;
	cl->reg_aor = p->aor ? strdup(p->aor) : NULL;
	cl->reg_user = p->auth.user ? strdup(p->auth.user) : NULL;
	cl->reg_pass = p->auth.password ? strdup(p->auth.password) : NULL;
	rp.h = &reg_handlers;
	rp.uarg = cl;
	return cv_regc_create(&cl->reg, cl->ag, &rp);
}

int cv_client_unregister(struct cv_client *cl)
{
	return cl->reg ? cv_regc_unregister(cl->reg) : CV_ENOTFOUND;
}

unsigned cv_client_reg_bindings(const struct cv_client *cl)
{
	return cv_regc_bindings(cl->reg);
}

bool cv_client_registered(const struct cv_client *cl)
{
	return cl->registered;
}

/* ---- runtime
 * ----------------------------------------------------------------- */

static void on_tp_recv(struct cv_worker *w, const struct cv_tp_rx *rx,
		       void *arg)
{
	struct cv_client *cl = arg;
	if (cl->ag)
		cv_agent_recv(cl->ag, rx);
}

static const struct cv_tp_handler tp_handler = {.recv = on_tp_recv};

static void worker_start(struct cv_worker *w, void *arg)
{
	struct cv_client *cl = arg;
	cl->w = w;
	int err = cv_tp_worker_start(cl->tp, w);
	if (!err) {
		struct cv_agent_params ap = {.tp = cl->tp,
					     .w = w,
					     .h = &call_handlers,
					     .arg = cl,
					     .user_agent = cl->user_agent,
					     .contact_user = cl->contact_user,
					     .session_expires =
						     cl->session_expires,
					     .min_se = cl->min_se};
		err = cv_agent_create(&cl->ag, &ap);
	}
	if (err)
		cv_rt_fail(cv_worker_rt(w), err);
}

static void worker_stop(struct cv_worker *w, void *arg)
{
	struct cv_client *cl = arg;
	/* calls the application still holds end here, on the loop */
	for (struct cv_ccall *cc = cl->calls; cc; cc = cc->next) {
		cc->released = true; /* no more callbacks */
		if (cc->call) {
			cv_call_set_media(cc->call, NULL, NULL);
			cv_call_hangup(cc->call);
		}
		ccall_drop_media(cc);
	}
	for (struct cv_csub *cs = cl->out_subs; cs; cs = cs->next) {
		cs->released = true; /* no more callbacks */
		if (cs->s) {
			cv_sub_release(cs->s);
			cs->s = NULL;
		}
	}
	if (cl->reg) {
		cv_regc_release(cl->reg);
		cl->reg = NULL;
	}
	while (cl->subs) { /* NOTIFY terminated to each subscriber */
		struct csub *x = cl->subs;
		cl->subs = x->next;
		cv_sub_release(x->s);
		free(x);
	}
	cv_agent_destroy(cl->ag);
	cl->ag = NULL;
	cv_tp_worker_stop(cl->tp, w);
}

static void run_start(struct cv_worker *w, void *arg)
{
	struct cv_client *cl = arg;
	if (cl->start)
		cl->start(cl, cl->start_arg);
}

static void run_interrupt(struct cv_worker *w, void *arg)
{
	struct cv_client *cl = arg;
	if (cl->h->interrupt)
		cl->h->interrupt(cl, cl->arg);
	else
		cv_client_stop(cl);
}

static void on_signal(struct cv_rt *rt, int signum, void *arg)
{
	struct cv_client *cl = arg;
	if (cv_worker_post(cl->w, run_interrupt, cl) != 0)
		cv_rt_stop(rt);
}

int cv_client_create(struct cv_client **clp, const struct cv_client_params *p)
{
	if (!p || !p->h)
		return -EINVAL;
	struct cv_client *cl = calloc(1, sizeof(*cl));
	if (!cl)
		return -ENOMEM;
	cl->h = p->h;
	cl->arg = p->arg;
	cl->session_expires = p->session_expires;
	cl->min_se = p->min_se;
	cl->port_min = p->rtp_port_min ? p->rtp_port_min : 40000;
	cl->port_max = p->rtp_port_max ? p->rtp_port_max : 49999;
	if (p->media_addr)
		snprintf(cl->media_addr, sizeof(cl->media_addr), "%s",
			 p->media_addr);
	char ua[64];
	snprintf(ua, sizeof(ua), "cvoip/%s", cv_version());
	cl->user_agent = strdup(p->user_agent ? p->user_agent : ua);
	cl->contact_user = strdup(p->contact_user ? p->contact_user : "cvoip");
	int err = -ENOMEM;
	if (!cl->user_agent || !cl->contact_user)
		goto fail;
	static const char *const dflt[] = {"udp:0.0.0.0:0", "tcp:0.0.0.0:0"};
	const char *const *list = p->nlisten ? p->listen : dflt;
	size_t n = p->nlisten ? p->nlisten : CV_ARRAY_SIZE(dflt);
	if (n > MAX_LISTEN) {
		err = CV_ETOOBIG;
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		err = cv_tp_spec_parse(list[i], &cl->specs[i]);
		if (err)
			goto fail;
	}
	cl->nspecs = (unsigned)n;
	struct cv_rt_params rp = {.workers = 1,
				  .on_start = worker_start,
				  .on_stop = worker_stop,
				  .on_signal = on_signal,
				  .arg = cl,
				  .handle_signals = true};
	err = cv_rt_create(&cl->rt, &rp);
	if (err)
		goto fail;
	struct cv_tp_params tpp = {
		.specs = cl->specs,
		.nspecs = cl->nspecs,
		.tls = {.ca_file = p->tls.ca_file,
			.cert_file = p->tls.cert_file,
			.key_file = p->tls.key_file,
			.server_name = p->tls.server_name,
			.verify_server = !p->tls.no_verify},
		.keepalive_ms = (p->keepalive_s ? p->keepalive_s : 90) * 1000u,
		.h = &tp_handler,
		.arg = cl};
	err = cv_tp_create(&cl->tp, cl->rt, &tpp);
	if (err)
		goto fail;
	*clp = cl;
	return 0;
fail:
	cv_client_destroy(cl);
	return err;
}

int cv_client_run(struct cv_client *cl,
		  void (*start)(struct cv_client *, void *), void *arg)
{
	cl->start = start;
	cl->start_arg = arg;
	int err = cv_rt_start(cl->rt);
	if (err)
		return err;
	cv_worker_post(cl->w, run_start, cl);
	return cv_rt_wait(cl->rt);
}

void cv_client_stop(struct cv_client *cl)
{
	cv_rt_stop(cl->rt);
}

void cv_client_destroy(struct cv_client *cl)
{
	if (!cl)
		return;
	cv_rt_destroy(cl->rt);
	cv_tp_destroy(cl->tp);
	free(cl->user_agent);
	free(cl->contact_user);
	free(cl->reg_proxy);
	free(cl->reg_aor);
	free(cl->reg_user);
	free(cl->reg_pass);
	free(cl);
}

struct cv_agent *cv_client_agent(struct cv_client *cl)
{
	return cl->ag;
}

uv_loop_t *cv_client_loop(struct cv_client *cl)
{
	return cv_worker_loop(cl->w);
}

int cv_client_listener(struct cv_client *cl, unsigned i, enum cv_tp_kind *kind,
		       struct cv_tp_addr *addr)
{
	return cv_tp_listener_addr(cl->tp, i, kind, addr);
}
