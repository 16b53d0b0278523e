/* The call center's SIP/media glue (docs/callcenter.md, "SIP glue").
 *
 * A user agent of its own (session layer) on its own one-worker runtime
 * and loopback listener. The server hands it calls to queue names and
 * feature codes (cv_cc_glue_route); it answers callers, plays music on
 * hold and prompts into their media stream, calls agents and overflow
 * targets back through the server (as an internal user, so that the
 * server's registrar, flows, relay and CDRs apply), and bridges the two
 * legs' streams. The engine, the calls and the streams all live on the
 * glue's worker: no lock anywhere. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cvoip/bus.h"
#include "cvoip/callcenter.h"
#include "cvoip/media.h"
#include "cvoip/runtime.h"
#include "cvoip/server.h"
#include "cvoip/session.h"
#include "cvoip/transport.h"

#define MOD	    "ccglue"
#define MAX_FMTS    8
#define MAX_DEVICES 4096

#ifndef CV_CC_SOUNDS_DIR
#define CV_CC_SOUNDS_DIR "share/sounds"
#endif

enum gkind { G_CALLER = 0, G_AGENT, G_FORWARD, G_CODE };
static const char *const gkind_names[] = {"caller", "agent", "forward", "code"};

struct gcall {
	struct gcall *next, *prev;
	struct cv_cc_glue *g;
	enum gkind kind;
	struct cv_call *call;
	struct cv_media_stream *ms;
	uint64_t id;	    /* caller id (G_CALLER) or offer id (G_AGENT) */
	uint64_t caller;    /* G_AGENT: the caller's id */
	struct gcall *peer; /* the other leg once bridged (or forwarded) */
	bool in_engine;	    /* G_CALLER: the engine still knows the caller */
	bool answered;
	bool accepted;	/* G_AGENT: the engine took the answer */
	bool cancelled; /* G_AGENT: we stopped it; report nothing */
	bool hangup_after_prompt;
	bool ending;
	char call_id[128];
	char from[512]; /* G_CALLER: the caller's From URI */
	char moh[1024];
	struct cv_tmr tmr;   /* G_CODE: hang up; safety net */
	struct cv_tmr defer; /* work after a prompt ended (not from its tick) */
	char addr[64];
	struct cv_media_fmt fmts[MAX_FMTS];
	struct cv_sdp_codec sdpc[MAX_FMTS];
	struct cv_sdp_stream_caps caps;
};

/* A registered contact of an agent (login by REGISTER), with the expiry
 * the registrar granted: the registrar expires bindings lazily, so the
 * glue logs a device out itself when no refresh came in time. */
struct gdev {
	struct gdev *next;
	char *agent;
	char *contact;
	uint64_t expires_ms;
};

struct cv_cc_glue {
	struct cv_cc_glue_params p;
	/* copies of the strings of p */
	char *listen_addr, *server_uri, *auth_user, *auth_password, *sounds_dir,
		*moh;
	char *codes[4];
	char **queue_names;
	size_t nqueues;
	char **agent_names;
	size_t nagents;
	struct cv_cc_glue_priority *prio;
	size_t nprio;
	char uri[128];
	char server_host[128]; /* "127.0.0.1:5060;transport=tcp" part */
	struct cv_rt *rt;
	struct cv_tp *tp;
	struct cv_worker *w;
	struct cv_agent *ag;
	struct cv_cc *cc;
	struct cv_bus_sub *sub;
	struct gcall *calls;
	struct gdev *devs;
	size_t ndevs;
	struct cv_tmr sweep;
	struct cv_srv *srv; /* the registrar to check devices against */
	struct cset *cset;  /* scratch for cv_srv_contacts */
	struct cv_cc_cfg_err cfg_err;
	int start_err;
	bool started;
};

/* Contacts of one agent as the registrar has them. */
#define CSET_MAX 16
struct cset {
	char c[CSET_MAX][1024];
	size_t n;
};

/* ---- helpers ------------------------------------------------------------- */

static char *dup0(const char *s)
{
	return s ? strdup(s) : NULL;
}

static struct gcall *find_caller(struct cv_cc_glue *g, uint64_t id,
				 const char *call_id)
{
	for (struct gcall *c = g->calls; c; c = c->next) {
		if (c->kind != G_CALLER || !c->in_engine)
			continue;
		if (c->id == id)
			return c;
		if (!c->id && call_id && !strcmp(c->call_id, call_id)) {
			c->id = id; /* the join's first action, before *idp */
			return c;
		}
	}
	return NULL;
}

static struct gcall *find_offer(struct cv_cc_glue *g, uint64_t offer)
{
	for (struct gcall *c = g->calls; c; c = c->next)
		if (c->kind == G_AGENT && c->id == offer)
			return c;
	return NULL;
}

static void sound_path(struct cv_cc_glue *g, const char *file, char *out,
		       size_t size)
{
	if (file[0] == '/' || !g->sounds_dir)
		snprintf(out, size, "%s", file);
	else
		snprintf(out, size, "%s/%s", g->sounds_dir, file);
}

/* ---- media --------------------------------------------------------------- */

static void on_source_done(struct cv_media_stream *ms, void *arg);
static void code_hangup(struct cv_tmr *t, void *arg);

static const struct cv_media_stream_handlers stream_handlers = {
	.source_done = on_source_done,
};

static int ensure_stream(struct gcall *c)
{
	if (c->ms)
		return 0;
	struct cv_cc_glue *g = c->g;
	snprintf(c->addr, sizeof(c->addr), "%s", g->listen_addr);
	struct cv_media_stream_params sp = {
		.loop = cv_worker_loop(g->w),
		.local_addr = c->addr,
		.port_min = g->p.rtp_port_min,
		.port_max = g->p.rtp_port_max,
		.tevent_pt = -1,
		.h = &stream_handlers,
		.arg = c,
	};
	return cv_media_stream_create(&c->ms, &sp);
}

static void play(struct gcall *c, const char *file, bool loop)
{
	if (ensure_stream(c) != 0)
		return;
	char path[1200];
	sound_path(c->g, file, path, sizeof(path));
	struct cv_asrc *src = NULL;
	int err = cv_asrc_file(&src, path, loop);
	if (err) {
		CV_LOG_RL(CV_LOG_WARN, MOD, "cannot play %s: %s", path,
			  cv_strerror(err));
		cv_asrc_silence(&src);
	}
	cv_media_stream_set_source(c->ms, src);
	cv_media_stream_set_sink(c->ms, NULL);
	cv_mem_unref(src);
}

static int media_local(void *marg, struct cv_sdp_local *out)
{
	struct gcall *c = marg;
	int err = ensure_stream(c);
	if (err)
		return err;
	static const char *const names[] = {"PCMU", "PCMA"};
	struct cv_media_offer_params op = {.codecs = names,
					   .ncodecs = CV_ARRAY_SIZE(names)};
	size_t n = 0;
	err = cv_media_offer_fmts(&op, c->fmts, MAX_FMTS, &n);
	if (err)
		return err;
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (!c->fmts[i].codec)
			continue;
		c->sdpc[k++] = (struct cv_sdp_codec){
			.name = c->fmts[i].name,
			.clock_rate = c->fmts[i].clock_rate,
			.channels = c->fmts[i].channels,
			.fmtp = c->fmts[i].fmtp[0] ? c->fmts[i].fmtp : NULL,
			.pt = c->fmts[i].pt,
		};
	}
	memset(&c->caps, 0, sizeof(c->caps));
	c->caps.media = "audio";
	c->caps.port = cv_media_stream_port(c->ms);
	c->caps.codecs = c->sdpc;
	c->caps.ncodecs = k;
	c->caps.telephone_event = true;
	c->caps.dtmf_pt = -1;
	c->caps.ptime = 20;
	c->caps.dir = CV_SDP_SENDRECV;
	out->addr = c->addr;
	out->user = "cvoipd-cc";
	out->streams = &c->caps;
	out->nstreams = 1;
	return 0;
}

static int media_apply(void *marg, const struct cv_sdp_neg *neg)
{
	struct gcall *c = marg;
	if (!neg->nmedia || neg->media[0].rejected || !neg->media[0].ncodecs) {
		if (c->ms)
			cv_media_stream_stop(c->ms);
		return 0;
	}
	int err = ensure_stream(c);
	if (err)
		return err;
	const struct cv_sdp_neg_media *m = &neg->media[0];
	struct cv_media_stream_cfg cfg;
	err = cv_media_stream_cfg_from_neg(m, &cfg);
	if (err)
		return err;
	return cv_media_stream_start(c->ms, &cfg);
}

static void media_stop(void *marg)
{
	struct gcall *c = marg;
	if (c->ms)
		cv_media_stream_stop(c->ms);
}

static const struct cv_call_media_ops media_ops = {
	.local = media_local,
	.apply = media_apply,
	.stop = media_stop,
};

/* ---- call objects -------------------------------------------------------- */

static void gcall_dtor(void *obj)
{
	struct gcall *c = obj;
	cv_tmr_cancel(&c->tmr);
	cv_tmr_cancel(&c->defer);
}

static struct gcall *gcall_new(struct cv_cc_glue *g, enum gkind kind)
{
	struct gcall *c = cv_mem_zalloc(sizeof(*c), gcall_dtor);
	if (!c)
		return NULL;
	c->g = g;
	c->kind = kind;
	cv_tmr_init(&c->tmr);
	cv_tmr_init(&c->defer);
	c->next = g->calls; /* the list holds the reference */
	if (g->calls)
		g->calls->prev = c;
	g->calls = c;
	return c;
}

/* The call is over: its stream and SIP call go, and the list's reference. */
static void gcall_free(struct gcall *c)
{
	struct cv_cc_glue *g = c->g;
	cv_tmr_cancel(&c->tmr);
	cv_tmr_cancel(&c->defer);
	if (c->peer) {
		c->peer->peer = NULL;
		c->peer = NULL;
	}
	if (c->ms) {
		cv_media_stream_destroy(c->ms);
		c->ms = NULL;
	}
	if (c->call) {
		cv_call_set_uarg(c->call, NULL);
		cv_call_release(c->call);
		c->call = NULL;
	}
	if (c->prev)
		c->prev->next = c->next;
	else if (g->calls == c)
		g->calls = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->next = c->prev = NULL;
	cv_mem_unref(c);
}

/* End one leg: BYE when answered, CANCEL when ours and ringing, the given
 * failure when it is an unanswered incoming call. The state handler sees
 * the end and frees it. */
static void gcall_end(struct gcall *c, uint16_t status, const char *reason)
{
	if (!c->call || c->ending)
		return;
	c->ending = true;
	struct cv_call_end_params ep = {.status = status};
	(void)reason;
	if (cv_call_end(c->call, &ep) != 0 &&
	    cv_call_state(c->call) != CV_CALL_ENDED)
		cv_call_hangup(c->call);
}

/* An outgoing leg for c (agent offer or overflow forward): to `user`
 * through the server, or to `uri` directly. */
static int call_out(struct cv_cc_glue *g, struct gcall *c, const char *user,
		    const char *uri, const char *from)
{
	char target[1200];
	if (user)
		snprintf(target, sizeof(target), "sip:%s@%s", user,
			 g->server_host);
	else
		snprintf(target, sizeof(target), "%s", uri);
	struct cv_call_params cp = {
		.target = target,
		.from = from,
		.proxy = user ? g->server_uri : NULL,
		.auth = {.user = g->auth_user, .password = g->auth_password},
		.media = &media_ops,
		.marg = c,
		.uarg = c,
	};
	int err = cv_call_create(&c->call, g->ag, &cp);
	if (err)
		CV_LOG_RL(CV_LOG_WARN, MOD, "call to %s failed: %s", target,
			  cv_strerror(err));
	else
		snprintf(c->call_id, sizeof(c->call_id), "%s",
			 cv_call_id(c->call));
	return err;
}

/* ---- engine actions ------------------------------------------------------ */

static void h_agent_state(struct cv_cc *cc, const struct cv_cc_agent_event *ev,
			  void *arg)
{
	(void)cc;
	(void)arg;
	CV_INFO(MOD, "agent %s %s -> %s%s%s calls=%u", ev->agent,
		cv_cc_agent_state_name(ev->old_state),
		cv_cc_agent_state_name(ev->new_state),
		ev->reason[0] ? " reason=" : "", ev->reason, ev->calls);
}

static void h_offer(struct cv_cc *cc, const struct cv_cc_offer_view *o,
		    void *arg)
{
	struct cv_cc_glue *g = arg;
	struct gcall *caller = find_caller(g, o->caller, o->call_id);
	struct gcall *a = caller ? gcall_new(g, G_AGENT) : NULL;
	if (!a) {
		cv_cc_offer_result(cc, o->id, CV_CC_OFFER_FAILED);
		return;
	}
	a->id = o->id;
	a->caller = o->caller;
	CV_INFO(MOD, "offer %llu: caller call-id=%s to agent %s (queue %s)",
		(unsigned long long)o->id, o->call_id, o->agent, o->queue);
	if (call_out(g, a, o->agent, NULL, caller->from) != 0) {
		a->cancelled = true;
		gcall_free(a);
		cv_cc_offer_result(cc, o->id, CV_CC_OFFER_FAILED);
	}
}

static void h_offer_cancel(struct cv_cc *cc, const struct cv_cc_offer_view *o,
			   void *arg)
{
	(void)cc;
	struct gcall *a = find_offer(arg, o->id);
	if (!a || a->cancelled)
		return;
	a->cancelled = true;
	gcall_end(a, 0, NULL);
}

static void h_hold(struct cv_cc *cc, const struct cv_cc_caller_view *v,
		   const char *file, void *arg)
{
	(void)cc;
	struct cv_cc_glue *g = arg;
	struct gcall *c = find_caller(g, v->id, v->call_id);
	if (!c)
		return;
	snprintf(c->moh, sizeof(c->moh), "%s", file && *file ? file : g->moh);
	if (c->peer) { /* back from a failed bridge */
		c->peer->peer = NULL;
		c->peer = NULL;
	}
	play(c, c->moh, true);
	if (!c->answered && cv_call_state(c->call) != CV_CALL_ANSWERED &&
	    cv_call_answer(c->call) == 0)
		c->answered = true;
}

static void h_announce(struct cv_cc *cc, const struct cv_cc_caller_view *v,
		       uint32_t position, void *arg)
{
	(void)cc;
	struct cv_cc_glue *g = arg;
	struct gcall *c = find_caller(g, v->id, v->call_id);
	if (!c || c->peer)
		return;
	char file[64];
	if (!g->p.announce_position)
		snprintf(file, sizeof(file), "hold.wav");
	else if (position >= 1 && position <= 9)
		snprintf(file, sizeof(file), "position-%u.wav", position);
	else
		snprintf(file, sizeof(file), "position-many.wav");
	CV_INFO(MOD, "announce %s to call-id=%s (position %u)", file,
		c->call_id, position);
	play(c, file, false); /* on_source_done resumes the music */
}

static void h_bridge(struct cv_cc *cc, const struct cv_cc_offer_view *o,
		     void *arg)
{
	struct cv_cc_glue *g = arg;
	struct gcall *a = find_offer(g, o->id);
	struct gcall *c = find_caller(g, o->caller, o->call_id);
	if (!a || !c || !a->ms || !c->ms) {
		/* a leg vanished in between: the agent leg's end (or the
		 * caller's) reports it to the engine */
		if (c && !a)
			cv_cc_bridge_failed(cc, o->caller);
		return;
	}
	a->peer = c;
	c->peer = a;
	int err = cv_media_stream_bridge(c->ms, a->ms);
	CV_INFO(MOD, "bridged caller call-id=%s with agent %s%s%s", c->call_id,
		o->agent, err ? ": " : "", err ? cv_strerror(err) : "");
}

static void h_overflow(struct cv_cc *cc, const struct cv_cc_caller_view *v,
		       const struct cv_cc_target *t, void *arg)
{
	(void)cc;
	struct cv_cc_glue *g = arg;
	struct gcall *c = find_caller(g, v->id, v->call_id);
	if (!c)
		return;
	c->in_engine = false; /* the id is stale from here */
	CV_INFO(MOD, "overflow caller call-id=%s from queue %s to %s",
		c->call_id, v->queue, t->text);
	switch (t->kind) {
	case CV_CC_TARGET_USER:
	case CV_CC_TARGET_URI: {
		struct gcall *f = gcall_new(g, G_FORWARD);
		if (!f ||
		    call_out(g, f,
			     t->kind == CV_CC_TARGET_USER ? t->value : NULL,
			     t->value, c->from) != 0) {
			if (f)
				gcall_free(f);
			gcall_end(c, 480, NULL);
			return;
		}
		f->peer = c; /* bridged when it answers */
		c->peer = f;
		if (!c->answered) { /* music until the target answers */
			play(c, c->moh[0] ? c->moh : g->moh, true);
			if (cv_call_answer(c->call) == 0)
				c->answered = true;
		}
		return;
	}
	case CV_CC_TARGET_ANNOUNCE:
		c->hangup_after_prompt = true;
		play(c, t->value, false);
		if (!c->answered && cv_call_answer(c->call) == 0)
			c->answered = true;
		/* a safety net: the prompt's end normally comes first */
		cv_tmr_start(cv_worker_wheel(g->w), &c->tmr, 120 * 1000000ULL,
			     code_hangup, c);
		return;
	default:
		gcall_end(c, 480, NULL);
		return;
	}
}

static void h_hangup(struct cv_cc *cc, const struct cv_cc_caller_view *v,
		     const char *reason, void *arg)
{
	(void)cc;
	struct gcall *c = find_caller(arg, v->id, v->call_id);
	if (!c)
		return;
	c->in_engine = false;
	CV_INFO(MOD, "hang up caller call-id=%s: %s", c->call_id, reason);
	gcall_end(c, 480, reason);
}

static const struct cv_cc_handlers cc_handlers = {
	.agent_state = h_agent_state,
	.offer = h_offer,
	.offer_cancel = h_offer_cancel,
	.hold = h_hold,
	.announce = h_announce,
	.bridge = h_bridge,
	.overflow = h_overflow,
	.hangup = h_hangup,
};

static void after_prompt(struct cv_tmr *t, void *arg)
{
	(void)t;
	struct gcall *c = arg;
	if (c->hangup_after_prompt) {
		gcall_end(c, 0, NULL);
		return;
	}
	if (c->kind == G_CALLER && c->in_engine && !c->peer)
		play(c, c->moh[0] ? c->moh : c->g->moh, true);
}

/* From the stream's own tick: neither the stream nor its source may go
 * from here, so the work runs from the wheel right after. */
static void on_source_done(struct cv_media_stream *ms, void *arg)
{
	(void)ms;
	struct gcall *c = arg;
	cv_tmr_start(cv_worker_wheel(c->g->w), &c->defer, 0, after_prompt, c);
}

static void code_hangup(struct cv_tmr *t, void *arg)
{
	(void)t;
	gcall_end(arg, 0, NULL);
}

/* ---- SIP: the session layer's callbacks ---------------------------------- */

static enum cv_cc_offer_res offer_res(uint16_t status)
{
	switch (status) {
	case 486:
	case 600:
	case 603:
		return CV_CC_OFFER_DECLINED;
	case 408:
	case 480:
	case 487:
		return CV_CC_OFFER_NO_ANSWER;
	default:
		return CV_CC_OFFER_FAILED;
	}
}

static void ended(struct gcall *c, uint16_t status, const char *reason)
{
	struct cv_cc_glue *g = c->g;
	struct gcall *peer = c->peer;
	if (peer) {
		peer->peer = NULL;
		c->peer = NULL;
	}
	switch (c->kind) {
	case G_CALLER:
		if (c->in_engine) {
			c->in_engine = false;
			cv_cc_caller_hangup(g->cc, c->id);
		}
		if (peer) {
			if (peer->kind == G_AGENT)
				peer->cancelled = true; /* reported above */
			gcall_end(peer, 0, NULL);
		}
		break;
	case G_AGENT:
		if (c->cancelled)
			break;
		if (!c->accepted) {
			cv_cc_offer_result(g->cc, c->id, offer_res(status));
			break;
		}
		{
			struct gcall *caller =
				peer ? peer : find_caller(g, c->caller, NULL);
			if (status == 0) {
				/* the agent (or we) hung up: the call is
				 * complete */
				if (caller && caller->in_engine) {
					caller->in_engine = false;
					cv_cc_caller_hangup(g->cc, caller->id);
					gcall_end(caller, 0, NULL);
				}
			} else if (caller && caller->in_engine) {
				/* the agent leg failed: back to the queue */
				CV_INFO(MOD,
					"agent leg of call-id=%s failed (%u "
					"%s)",
					caller->call_id, status,
					reason ? reason : "");
				cv_cc_bridge_failed(g->cc, caller->id);
			}
		}
		break;
	case G_FORWARD:
		if (peer)
			gcall_end(peer, 480, NULL);
		break;
	case G_CODE:
		break;
	}
}

static void on_state(struct cv_call *call, enum cv_call_state st,
		     uint16_t status, const char *reason, void *uarg)
{
	(void)call;
	struct gcall *c = uarg;
	if (!c)
		return;
	struct cv_cc_glue *g = c->g;
	cv_mem_ref(c);
	if (st == CV_CALL_ANSWERED) {
		c->answered = true;
		if (c->kind == G_AGENT && !c->cancelled) {
			int err = cv_cc_offer_result(g->cc, c->id,
						     CV_CC_OFFER_ANSWERED);
			if (err) { /* answered elsewhere, cancelled, timed out
				    */
				c->cancelled = true;
				gcall_end(c, 0, NULL);
			} else {
				c->accepted = true;
			}
		} else if (c->kind == G_AGENT) {
			gcall_end(c, 0, NULL);
		} else if (c->kind == G_FORWARD) {
			if (c->peer && c->peer->ms && c->ms)
				cv_media_stream_bridge(c->peer->ms, c->ms);
			else
				gcall_end(c, 0, NULL);
		}
	} else if (st == CV_CALL_ENDED) {
		CV_DEBUG(MOD, "%s leg call-id=%s ended: %u %s",
			 gkind_names[c->kind], c->call_id, status,
			 reason ? reason : "");
		ended(c, status, reason);
		gcall_free(c);
	}
	cv_mem_unref(c);
}

/* The user part of the first sip:/sips: URI in a header value. */
static bool uri_user(struct cv_pl v, char *out, size_t size)
{
	const char *p = v.p, *end = v.p + v.l;
	for (; p + 4 <= end; p++)
		if (!strncasecmp(p, "sip:", 4) ||
		    (p + 5 <= end && !strncasecmp(p, "sips:", 5)))
			break;
	if (p + 4 > end)
		return false;
	p += p[3] == ':' ? 4 : 5;
	const char *at = p;
	while (at < end && *at != '@' && *at != '>' && *at != ';')
		at++;
	if (at >= end || *at != '@' || at == p || (size_t)(at - p) >= size)
		return false;
	memcpy(out, p, (size_t)(at - p));
	out[at - p] = '\0';
	return true;
}

static bool is_queue(const struct cv_cc_glue *g, const char *name)
{
	for (size_t i = 0; i < g->nqueues; i++)
		if (!strcmp(g->queue_names[i], name))
			return true;
	return false;
}

static bool is_agent(const struct cv_cc_glue *g, const char *name)
{
	for (size_t i = 0; i < g->nagents; i++)
		if (!strcmp(g->agent_names[i], name))
			return true;
	return false;
}

/* The configured priority of the authenticated caller (the server's
 * P-Asserted-Identity; the From header is the caller's to write). */
static int32_t caller_priority(const struct cv_cc_glue *g,
			       const struct cv_sip_msg *inv)
{
	char user[CV_CC_NAME_MAX];
	const struct cv_sip_hdr *h =
		cv_sip_msg_hdr_by_name(inv, CV_PL("P-Asserted-Identity"));
	if (!g->nprio || !h || !uri_user(h->value, user, sizeof(user)))
		return 0;
	for (size_t i = 0; i < g->nprio; i++) {
		const char *pat = g->prio[i].pattern;
		size_t n = strlen(pat);
		if (n && pat[n - 1] == '*' ? !strncmp(user, pat, n - 1)
					   : !strcmp(user, pat))
			return g->prio[i].priority;
	}
	return 0;
}

static void incoming_code(struct cv_cc_glue *g, struct cv_call *call,
			  const char *dialled, const struct cv_sip_msg *inv)
{
	char agent[CV_CC_NAME_MAX];
	const struct cv_sip_hdr *h =
		cv_sip_msg_hdr_by_name(inv, CV_PL("P-Asserted-Identity"));
	enum cv_cc_op op;
	if (!h || !uri_user(h->value, agent, sizeof(agent)) ||
	    cv_cc_code_parse(&g->p.engine.codes, dialled, &op) != 0 ||
	    cv_cc_agent_dial(g->cc, agent, dialled) != 0) {
		cv_call_reject(call, 403, "Not An Agent");
		cv_call_release(call);
		return;
	}
	CV_INFO(MOD, "agent %s dialled %s", agent, dialled);
	struct gcall *c = gcall_new(g, G_CODE);
	if (!c) {
		cv_call_reject(call, 500, NULL);
		cv_call_release(call);
		return;
	}
	c->call = call;
	snprintf(c->call_id, sizeof(c->call_id), "%s", cv_call_id(call));
	cv_call_set_uarg(call, c);
	cv_call_set_media(call, &media_ops, c);
	static const char *const prompts[] = {"login.wav", "logout.wav",
					      "pause.wav", "resume.wav"};
	uint64_t after_us = 10 * 1000000ULL; /* the prompt's end comes first */
	if (g->p.code_prompts) {
		c->hangup_after_prompt = true;
		play(c, prompts[op], false);
	} else {
		after_us = 500000;
	}
	cv_call_answer(call);
	cv_tmr_start(cv_worker_wheel(g->w), &c->tmr, after_us, code_hangup, c);
}

static void on_incoming(struct cv_agent *ag, struct cv_call *call,
			const struct cv_sip_msg *inv, void *arg)
{
	(void)ag;
	struct cv_cc_glue *g = arg;
	struct cv_sip_uri ruri;
	char user[CV_CC_NAME_MAX];
	if (cv_sip_msg_ruri(inv, &ruri) != 0 || !ruri.user.l ||
	    ruri.user.l >= sizeof(user)) {
		cv_call_reject(call, 404, NULL);
		cv_call_release(call);
		return;
	}
	cv_pl_strcpy(ruri.user, user, sizeof(user));
	if (cv_cc_code_parse(&g->p.engine.codes, user, &(enum cv_cc_op){0}) ==
	    0) {
		incoming_code(g, call, user, inv);
		return;
	}
	if (!is_queue(g, user)) {
		cv_call_reject(call, 404, NULL);
		cv_call_release(call);
		return;
	}
	struct gcall *c = gcall_new(g, G_CALLER);
	if (!c) {
		cv_call_reject(call, 500, NULL);
		cv_call_release(call);
		return;
	}
	c->call = call;
	c->in_engine = true;
	snprintf(c->call_id, sizeof(c->call_id), "%s", cv_call_id(call));
	cv_pl_strcpy(inv->from.uri, c->from, sizeof(c->from));
	snprintf(c->moh, sizeof(c->moh), "%s", g->moh);
	cv_call_set_uarg(call, c);
	cv_call_set_media(call, &media_ops, c);
	cv_call_ring(call);
	struct cv_cc_join j = {.queue = user,
			       .call_id = c->call_id,
			       .caller = c->from,
			       .priority = caller_priority(g, inv)};
	uint64_t id = 0;
	cv_mem_ref(c);
	int err = cv_cc_caller_join(g->cc, &j, &id);
	if (err) {
		CV_LOG_RL(CV_LOG_WARN, MOD, "caller call-id=%s not queued: %s",
			  c->call_id, cv_strerror(err));
		c->in_engine = false;
		gcall_end(c, err == CV_EFULL ? 503 : 480, NULL);
	} else if (!c->id) {
		c->id = id;
	}
	cv_mem_unref(c);
}

static const struct cv_call_handlers call_handlers = {
	.incoming = on_incoming,
	.state = on_state,
};

/* ---- registrations: agent login and logout --------------------------------
 */

static struct gdev **dev_find(struct cv_cc_glue *g, const char *agent,
			      const char *contact)
{
	struct gdev **pp = &g->devs;
	for (; *pp; pp = &(*pp)->next)
		if (!strcmp((*pp)->agent, agent) &&
		    !strcmp((*pp)->contact, contact))
			return pp;
	return pp;
}

static void dev_drop(struct cv_cc_glue *g, struct gdev **pp)
{
	struct gdev *d = *pp;
	*pp = d->next;
	free(d->agent);
	free(d->contact);
	free(d);
	g->ndevs--;
}

static struct gdev *dev_add(struct cv_cc_glue *g, const char *agent,
			    const char *contact);

static void on_bus(const struct cv_bus_event *ev, void *arg)
{
	struct cv_cc_glue *g = arg;
	const struct cv_bus_reg *r = &ev->u.reg;
	if (ev->topic != CV_BUS_TOPIC_REGISTRATION || !r->aor || !r->contact ||
	    !is_agent(g, r->aor))
		return;
	bool up = (ev->type == CV_BUS_REG_ADDED ||
		   ev->type == CV_BUS_REG_REFRESHED) &&
		  r->expires > 0;
	if (up) {
		struct gdev *d = dev_add(g, r->aor, r->contact);
		if (!d)
			return;
		d->expires_ms = cv_clock_ms() + (uint64_t)r->expires * 1000;
		int err = cv_cc_agent_login(g->cc, r->aor, r->contact);
		if (err)
			CV_LOG_RL(CV_LOG_WARN, MOD, "login of %s from %s: %s",
				  r->aor, r->contact, cv_strerror(err));
		return;
	}
	if (!strcmp(r->contact, "*")) { /* every binding removed */
		for (struct gdev **pp = &g->devs; *pp;) {
			if (!strcmp((*pp)->agent, r->aor)) {
				cv_cc_agent_logout(g->cc, r->aor,
						   (*pp)->contact);
				dev_drop(g, pp);
			} else {
				pp = &(*pp)->next;
			}
		}
		return;
	}
	struct gdev **pp = dev_find(g, r->aor, r->contact);
	if (*pp)
		dev_drop(g, pp);
	cv_cc_agent_logout(g->cc, r->aor, r->contact);
}

static void cset_add(const char *contact, void *arg)
{
	struct cset *cs = arg;
	if (cs->n < CSET_MAX)
		snprintf(cs->c[cs->n++], sizeof(cs->c[0]), "%s", contact);
}

static bool cset_has(const struct cset *cs, const char *contact)
{
	for (size_t i = 0; i < cs->n; i++)
		if (!strcmp(cs->c[i], contact))
			return true;
	return false;
}

static struct gdev *dev_add(struct cv_cc_glue *g, const char *agent,
			    const char *contact)
{
	struct gdev **pp = dev_find(g, agent, contact);
	if (*pp)
		return *pp;
	if (g->ndevs >= MAX_DEVICES)
		return NULL;
	struct gdev *d = calloc(1, sizeof(*d));
	if (!d || !(d->agent = strdup(agent)) ||
	    !(d->contact = strdup(contact))) {
		if (d) {
			free(d->agent);
			free(d);
		}
		return NULL;
	}
	*pp = d;
	g->ndevs++;
	return d;
}

/* Bindings reloaded from the database at start publish no event: their
 * agents are logged in from the registrar itself. */
static void login_registered(struct cv_cc_glue *g)
{
	for (size_t i = 0; g->srv && i < g->nagents; i++) {
		g->cset->n = 0;
		cv_srv_contacts(g->srv, g->agent_names[i], cset_add, g->cset);
		for (size_t k = 0; k < g->cset->n; k++) {
			struct gdev *d =
				dev_add(g, g->agent_names[i], g->cset->c[k]);
			if (!d)
				continue;
			d->expires_ms = UINT64_MAX; /* the registrar knows */
			CV_INFO(MOD, "agent %s: registered at start from %s",
				g->agent_names[i], d->contact);
			cv_cc_agent_login(g->cc, d->agent, d->contact);
		}
	}
}

/* With the server at hand its registrar is the truth: a device it no
 * longer has (expired, removed while an event was dropped) logs out. */
static void sweep_registrar(struct cv_cc_glue *g)
{
	const char *agent = NULL;
	for (struct gdev **pp = &g->devs; *pp;) {
		if (!agent || strcmp(agent, (*pp)->agent) != 0) {
			agent = (*pp)->agent;
			g->cset->n = 0;
			cv_srv_contacts(g->srv, agent, cset_add, g->cset);
		}
		if (!cset_has(g->cset, (*pp)->contact)) {
			CV_INFO(MOD, "agent %s: %s is no longer registered",
				(*pp)->agent, (*pp)->contact);
			cv_cc_agent_logout(g->cc, (*pp)->agent, (*pp)->contact);
			const char *gone = (*pp)->agent;
			bool same = agent == gone;
			dev_drop(g, pp);
			if (same)
				agent = NULL; /* freed: look the next one up
						 again */
		} else {
			pp = &(*pp)->next;
		}
	}
}

/* Devices whose registration ran out without a refresh log out (2 s of
 * grace for a refresh in flight). */
static void on_sweep(struct cv_tmr *t, void *arg)
{
	struct cv_cc_glue *g = arg;
	uint64_t now = cv_clock_ms();
	if (g->srv) {
		sweep_registrar(g);
		cv_tmr_start(cv_worker_wheel(g->w), t, 1000000, on_sweep, g);
		return;
	}
	for (struct gdev **pp = &g->devs; *pp;) {
		if ((*pp)->expires_ms + 2000 < now) {
			CV_INFO(MOD, "agent %s: registration of %s expired",
				(*pp)->agent, (*pp)->contact);
			cv_cc_agent_logout(g->cc, (*pp)->agent, (*pp)->contact);
			dev_drop(g, pp);
		} else {
			pp = &(*pp)->next;
		}
	}
	cv_tmr_start(cv_worker_wheel(g->w), t, 1000000, on_sweep, g);
}

/* ---- worker lifecycle ------------------------------------------------------
 */

static void on_recv(struct cv_worker *w, const struct cv_tp_rx *rx, void *arg)
{
	(void)w;
	struct cv_cc_glue *g = arg;
	if (g->ag)
		cv_agent_recv(g->ag, rx);
}

static const struct cv_tp_handler tp_handler = {.recv = on_recv};

static void log_stats(struct cv_cc_glue *g)
{
	json_t *j = NULL;
	if (cv_cc_stats_json(g->cc, &j) != 0)
		return;
	/* one line per object: a log line is bounded */
	char *txt = json_dumps(json_object_get(j, "totals"),
			       JSON_COMPACT | JSON_SORT_KEYS |
				       JSON_REAL_PRECISION(6));
	if (txt)
		CV_INFO(MOD, "callcenter totals: %s", txt);
	free(txt);
	static const char *const kinds[] = {"queues", "agents"};
	for (size_t i = 0; i < CV_ARRAY_SIZE(kinds); i++) {
		const char *name;
		json_t *v;
		json_object_foreach(json_object_get(j, kinds[i]), name, v)
		{
			txt = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS |
						    JSON_REAL_PRECISION(6));
			if (txt)
				CV_INFO(MOD, "callcenter %.5s %s: %s", kinds[i],
					name, txt);
			free(txt);
		}
	}
	json_decref(j);
}

static void worker_start(struct cv_worker *w, void *arg)
{
	struct cv_cc_glue *g = arg;
	g->w = w;
	int err = cv_tp_worker_start(g->tp, w);
	if (err)
		goto fail;
	struct cv_agent_params ap = {.tp = g->tp,
				     .w = w,
				     .h = &call_handlers,
				     .arg = g,
				     .user_agent = "cvoipd-callcenter",
				     .contact_user = "callcenter",
				     .no_100rel = true};
	err = cv_agent_create(&g->ag, &ap);
	if (err)
		goto fail;
	struct cv_cc_params cp = g->p.engine;
	cp.wheel = cv_worker_wheel(w);
	cp.store = g->p.store;
	cp.bus = g->p.bus;
	cp.handlers = &cc_handlers;
	cp.arg = g;
	err = cv_cc_create(&g->cc, &cp);
	if (err)
		goto fail;
	err = cv_cc_configure(g->cc, g->p.config, &g->cfg_err);
	if (err)
		goto fail;
	if (g->p.bus) {
		struct cv_bus_sub_params sp = {
			.loop = cv_worker_loop(w),
			.topics = CV_BUS_MASK(CV_BUS_TOPIC_REGISTRATION),
			.fn = on_bus,
			.arg = g,
			.name = "callcenter",
			.overflow = CV_BUS_BLOCK,
		};
		err = cv_bus_subscribe(g->p.bus, &sp, &g->sub);
		if (err)
			goto fail;
	}
	login_registered(g);
	cv_tmr_start(cv_worker_wheel(w), &g->sweep, 1000000, on_sweep, g);
	return;
fail:
	g->start_err = err;
	cv_rt_fail(cv_worker_rt(w), err);
}

static void worker_stop(struct cv_worker *w, void *arg)
{
	struct cv_cc_glue *g = arg;
	cv_tmr_cancel(&g->sweep);
	if (g->sub) {
		cv_bus_unsubscribe(g->sub);
		g->sub = NULL;
	}
	if (g->cc)
		log_stats(g);
	/* every call goes, without engine reports (the engine goes too) */
	while (g->calls) {
		struct gcall *c = g->calls;
		c->in_engine = false;
		c->cancelled = true;
		if (c->peer) {
			c->peer->peer = NULL;
			c->peer = NULL;
		}
		gcall_free(c);
	}
	cv_agent_destroy(g->ag);
	g->ag = NULL;
	cv_cc_destroy(g->cc);
	g->cc = NULL;
	while (g->devs)
		dev_drop(g, &g->devs);
	cv_tp_worker_stop(g->tp, w);
}

/* ---- public ------------------------------------------------------------- */

int cv_cc_glue_create(struct cv_cc_glue **gp, const struct cv_cc_glue_params *p)
{
	if (!gp || !p || !p->config || !p->server_uri || !p->auth_user ||
	    !p->auth_password)
		return -EINVAL;
	if (strncmp(p->server_uri, "sip:", 4) != 0 ||
	    strlen(p->server_uri) > 100)
		return -EINVAL;
	struct cv_cc_glue *g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->p = *p;
	g->listen_addr = strdup(p->listen_addr ? p->listen_addr : "127.0.0.1");
	g->server_uri = strdup(p->server_uri);
	g->auth_user = strdup(p->auth_user);
	g->auth_password = strdup(p->auth_password);
	g->sounds_dir =
		strdup(p->sounds_dir ? p->sounds_dir : CV_CC_SOUNDS_DIR);
	g->moh = strdup(p->music_on_hold ? p->music_on_hold : "moh.wav");
	g->cset = calloc(1, sizeof(*g->cset));
	const char *codes[4] = {p->engine.codes.login, p->engine.codes.logout,
				p->engine.codes.pause, p->engine.codes.resume};
	static const char *const defaults[4] = {"*20", "*21", "*22", "*23"};
	for (int i = 0; i < 4; i++)
		g->codes[i] = strdup(codes[i] ? codes[i] : defaults[i]);
	g->p.engine.codes = (struct cv_cc_codes){g->codes[0], g->codes[1],
						 g->codes[2], g->codes[3]};
	g->p.listen_addr = g->listen_addr;
	g->p.server_uri = g->server_uri;
	snprintf(g->server_host, sizeof(g->server_host), "%s",
		 g->server_uri + 4);
	const struct cv_cc_config *cfg = p->config;
	g->queue_names = calloc(cfg->nqueues + 1, sizeof(char *));
	g->agent_names = calloc(cfg->nagents + 1, sizeof(char *));
	bool ok = g->listen_addr && g->server_uri && g->auth_user &&
		  g->auth_password && g->sounds_dir && g->moh && g->codes[0] &&
		  g->codes[1] && g->codes[2] && g->codes[3] && g->queue_names &&
		  g->agent_names && g->cset;
	for (size_t i = 0; ok && i < cfg->nqueues; i++, g->nqueues++)
		ok = (g->queue_names[i] = dup0(cfg->queues[i].name)) != NULL;
	for (size_t i = 0; ok && i < cfg->nagents; i++, g->nagents++)
		ok = (g->agent_names[i] = dup0(cfg->agents[i].name)) != NULL;
	g->prio = calloc(p->npriorities + 1, sizeof(*g->prio));
	ok = ok && g->prio;
	for (size_t i = 0; ok && i < p->npriorities; i++, g->nprio++) {
		g->prio[i].priority = p->priorities[i].priority;
		ok = (g->prio[i].pattern = dup0(p->priorities[i].pattern)) !=
		     NULL;
	}
	g->p.priorities = NULL;
	if (!ok) {
		cv_cc_glue_destroy(g);
		return -ENOMEM;
	}
	*gp = g;
	return 0;
}

int cv_cc_glue_start(struct cv_cc_glue *g, struct cv_cc_cfg_err *err)
{
	if (err)
		memset(err, 0, sizeof(*err)), err->agent = err->queue = -1;
	struct cv_rt_params rp = {.workers = 1,
				  .on_start = worker_start,
				  .on_stop = worker_stop,
				  .arg = g};
	int rc = cv_rt_create(&g->rt, &rp);
	if (rc)
		return rc;
	struct cv_tp_spec spec = {.kind = CV_TP_UDP};
	char txt[96];
	snprintf(txt, sizeof(txt), "udp:%s:0", g->listen_addr);
	if (strchr(g->listen_addr, ':'))
		snprintf(txt, sizeof(txt), "udp:[%s]:0", g->listen_addr);
	rc = cv_tp_spec_parse(txt, &spec);
	if (rc)
		return rc;
	struct cv_tp_params tpp = {
		.specs = &spec, .nspecs = 1, .h = &tp_handler, .arg = g};
	rc = cv_tp_create(&g->tp, g->rt, &tpp);
	if (rc)
		return rc;
	struct cv_tp_spec ls = {0};
	cv_tp_listener_addr(g->tp, 0, &ls.kind, &ls.addr);
	char lt[128];
	cv_tp_spec_print(&ls, lt, sizeof(lt)); /* "udp:127.0.0.1:40000" */
	snprintf(g->uri, sizeof(g->uri), "sip:%s", strchr(lt, ':') + 1);
	rc = cv_rt_start(g->rt);
	if (rc) {
		if (err && g->cfg_err.msg[0])
			*err = g->cfg_err;
		return g->start_err ? g->start_err : rc;
	}
	g->started = true;
	CV_INFO(MOD, "call center at %s: %zu queues, %zu agents, server %s",
		g->uri, g->nqueues, g->nagents, g->server_uri);
	return 0;
}

void cv_cc_glue_stop(struct cv_cc_glue *g)
{
	if (!g || !g->rt)
		return;
	if (g->started) {
		cv_rt_stop(g->rt);
		cv_rt_wait(g->rt);
		g->started = false;
	}
}

void cv_cc_glue_destroy(struct cv_cc_glue *g)
{
	if (!g)
		return;
	cv_cc_glue_stop(g);
	cv_rt_destroy(g->rt);
	cv_tp_destroy(g->tp);
	free(g->listen_addr);
	free(g->server_uri);
	free(g->auth_user);
	free(g->auth_password);
	free(g->sounds_dir);
	free(g->moh);
	free(g->cset);
	for (int i = 0; i < 4; i++)
		free(g->codes[i]);
	for (size_t i = 0; i < g->nqueues; i++)
		free(g->queue_names[i]);
	for (size_t i = 0; i < g->nagents; i++)
		free(g->agent_names[i]);
	free(g->queue_names);
	free(g->agent_names);
	for (size_t i = 0; i < g->nprio; i++)
		free((char *)g->prio[i].pattern);
	free(g->prio);
	free(g);
}

int cv_cc_glue_route(void *arg, const char *user, const char *caller,
		     struct cv_srv_route *out)
{
	struct cv_cc_glue *g = arg;
	if (!g || !g->uri[0] || !user || !caller ||
	    !strcmp(caller, g->auth_user)) /* our own legs: no loop */
		return CV_ENOTFOUND;
	bool code = cv_cc_code_parse(&g->p.engine.codes, user,
				     &(enum cv_cc_op){0}) == 0;
	if (!(code ? is_agent(g, caller) : is_queue(g, user)))
		return CV_ENOTFOUND;
	snprintf(out->uri, sizeof(out->uri), "sip:%s@%s", user, g->uri + 4);
	return 0;
}

const char *cv_cc_glue_uri(const struct cv_cc_glue *g)
{
	return g->uri;
}

void cv_cc_glue_set_server(struct cv_cc_glue *g, struct cv_srv *srv)
{
	g->srv = srv;
}
