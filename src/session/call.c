/* Calls: the INVITE usage (RFC 3261 §13-15) with RFC 3264 offer/answer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session_int.h"

#define MOD "call"

static const char *const state_names[] = {
	"idle", "calling", "incoming", "ringing", "early", "answered", "ended"};

const char *cv_call_state_name(enum cv_call_state s)
{
	return (unsigned)s < CV_ARRAY_SIZE(state_names) ? state_names[s] : "?";
}

static void call_dtor(void *obj)
{
	struct cv_call *c = obj;
	cv_tmr_cancel(&c->glare_tmr);
	cv_tmr_cancel(&c->se_tmr);
	cv_tmr_cancel(&c->fork_tmr);
	for (size_t i = 0; i < c->nforks; i++)
		cv_dlg_release(c->forks[i].dlg);
	free(c->forks);
	for (int i = 0; i < c->redirects; i++)
		free(c->tried[i]);
	free(c->call_id);
	free(c->from_tag);
	free(c->replaces_hdr);
	free(c->referred_by);
	cv_mem_unref(c->remote_offer);
	cv_mem_unref(c->local_offer);
	cv_sdp_neg_reset(&c->neg);
	free(c->target);
	free(c->from);
	free(c->from_display);
	free(c->to);
	free(c->headers);
	free(c->remote_uri);
	free(c->auth_user);
	free(c->auth_pass);
	cv_ua_addr_clear(&c->dst);
}

static void list_add(struct cv_agent *ag, struct cv_call *c)
{
	c->next = ag->calls;
	if (ag->calls)
		ag->calls->prev = c;
	ag->calls = c;
	c->in_list = true;
	ag->ncalls++;
	cv_mem_ref(c);
}

static void list_del(struct cv_call *c)
{
	if (!c->in_list)
		return;
	struct cv_agent *ag = c->ag;
	if (c->prev)
		c->prev->next = c->next;
	else
		ag->calls = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->next = c->prev = NULL;
	c->in_list = false;
	ag->ncalls--;
	cv_mem_unref(c);
}

/* Early dialogs of an outgoing call other than keep end (§13.2.2.4: the
 * first 2xx wins; a final failure or 3xx ends them all). */
static void forks_clear(struct cv_call *c, struct cv_dlg *keep)
{
	for (size_t i = 0; i < c->nforks; i++) {
		struct cv_dlg *d = c->forks[i].dlg;
		if (d != keep) {
			cv_dlg_set_uarg(d, NULL);
			cv_dlg_terminate(d);
		}
		cv_dlg_release(d);
	}
	c->nforks = 0;
}

#define set_state call_set_state

void call_set_state(struct cv_call *c, enum cv_call_state st, uint16_t status,
		    const char *reason)
{
	if (c->state == st || c->state == CV_CALL_ENDED)
		return;
	c->state = st;
	cv_mem_ref(c);
	if (st == CV_CALL_ENDED) {
		cv_tmr_cancel(&c->glare_tmr);
		cv_tmr_cancel(&c->se_tmr);
		cv_tmr_cancel(&c->fork_tmr);
		c->glare_pending = false;
	}
	/* media stops before the application hears of the end, so it may
	 * release the call (and its media) from the callback */
	if (st == CV_CALL_ENDED && c->media)
		c->media->stop(c->marg);
	if (!c->released && c->ag->h->state)
		c->ag->h->state(c, st, status, reason, c->uarg);
	if (c->refer_parent)
		xfer_child_state(c, st, status, reason);
	if (st == CV_CALL_ANSWERED && c->replaces)
		xfer_answered(c);
	if (st == CV_CALL_ENDED) {
		forks_clear(c, c->dlg);
		xfer_ended(c);
		if (c->re_ct) {
			cv_txn_set_uarg(c->re_ct, NULL);
			cv_txn_release(c->re_ct);
			c->re_ct = NULL;
			cv_mem_unref(c);
		}
		if (c->dlg) {
			cv_dlg_set_uarg(c->dlg, NULL);
			cv_dlg_terminate(c->dlg);
			cv_dlg_release(c->dlg);
			c->dlg = NULL;
		}
		/* an answered INVITE kept for late forks goes now */
		if (c->inv_ct && c->inv_accepted) {
			cv_txn_set_uarg(c->inv_ct, NULL);
			cv_txn_release(c->inv_ct);
			c->inv_ct = NULL;
			cv_mem_unref(c);
		}
		/* a CANCELled INVITE keeps the call listed until its final
		 * response, so that destroying the agent finds it */
		if (!c->inv_ct)
			list_del(c);
	}
	cv_mem_unref(c);
}

static void reason_of(const struct cv_txn_resp *r, char *out, size_t size)
{
	if (r->msg && r->msg->reason.l)
		cv_pl_strcpy(r->msg->reason, out, size);
	else
		snprintf(out, size, "%s",
			 r->local ? (r->status == 408
					     ? "Request Timeout (local)"
					     : "Service Unavailable (local)")
				  : cv_sip_reason(r->status));
}

static int apply_neg(struct cv_call *c)
{
	c->have_neg = true;
	int err = c->media ? c->media->apply(c->marg, &c->neg) : 0;
	if (!c->released && c->ag->h->media)
		c->ag->h->media(c, &c->neg, c->uarg);
	return err;
}

static struct cv_call *call_new(struct cv_agent *ag)
{
	struct cv_call *c = cv_mem_zalloc(sizeof(*c), call_dtor);
	if (!c)
		return NULL;
	c->kind = UARG_CALL;
	c->ag = ag;
	cv_random(&c->sess_id, sizeof(c->sess_id));
	c->sess_id &= 0x7fffffffffffffffull;
	c->sess_version = 1;
	cv_tmr_init(&c->glare_tmr);
	cv_tmr_init(&c->se_tmr);
	cv_tmr_init(&c->fork_tmr);
	return c;
}

/* The SDP of this side, as text, from the media ops. */
static int local_sdp(struct cv_call *c, bool hold, const struct cv_sdp *offer,
		     struct cv_buf *out)
{
	if (!c->media)
		return -EINVAL;
	struct cv_sdp_local loc;
	memset(&loc, 0, sizeof(loc));
	int err = c->media->local(c->marg, &loc);
	if (err)
		return err;
	loc.sess_id = c->sess_id;
	loc.sess_version = c->sess_version;
	struct cv_sdp_stream_caps caps[CV_SDP_NEG_MAX_MEDIA];
	if (hold && loc.nstreams <= CV_SDP_NEG_MAX_MEDIA) {
		memcpy(caps, loc.streams, loc.nstreams * sizeof(caps[0]));
		for (size_t i = 0; i < loc.nstreams; i++)
			caps[i].dir = CV_SDP_SENDONLY;
		loc.streams = caps;
	}
	struct cv_sdp *sdp = NULL;
	if (offer) {
		struct cv_sdp_warning warn = {0};
		err = cv_sdp_answer_create(&sdp, &c->neg, &warn, offer, &loc);
	} else {
		err = cv_sdp_offer_create(&sdp, &loc);
	}
	if (err)
		return err;
	err = cv_sdp_print(sdp, out);
	if (!offer) {
		cv_mem_unref(c->local_offer);
		c->local_offer = sdp;
	} else {
		cv_mem_unref(sdp);
	}
	return err;
}

static int parse_sdp(const struct cv_sip_msg *m, struct cv_sdp **out)
{
	if (!m->body.l)
		return CV_ENOTFOUND;
	return cv_sdp_parse(out, m->body.p, m->body.l, NULL);
}

int session_auth_header(struct cv_buf *out, const struct cv_sip_msg *resp,
			const char *user, const char *pass, const char *method,
			const char *uri)
{
	bool proxy = resp->status == 407;
	struct cv_digest_challenge ch;
	int err = cv_digest_challenge_best(resp, proxy, &ch);
	if (err)
		return err;
	struct cv_buf v;
	cv_buf_init(&v, 4096);
	struct cv_digest_client_params dp = {.user = cv_pl_str(user),
					     .password = cv_pl_str(pass),
					     .method = cv_pl_str(method),
					     .uri = cv_pl_str(uri)};
	err = cv_digest_authorize(&v, &ch, &dp);
	if (!err)
		err = cv_buf_printf(out, "%s: %.*s\r\n",
				    proxy ? "Proxy-Authorization"
					  : "Authorization",
				    (int)v.len, v.data);
	cv_buf_free(&v);
	return err;
}

/* ---- session timers (RFC 4028) ------------------------------------------- */

static bool parse_se(const struct cv_sip_msg *m, uint32_t *delta,
		     struct cv_pl *refresher)
{
	const struct cv_sip_hdr *h =
		cv_sip_msg_hdr(m, CV_SIP_HDR_SESSION_EXPIRES);
	struct cv_sip_session_expires se;
	if (!h || cv_sip_session_expires_parse(h->value, &se) != 0 || !se.delta)
		return false;
	*delta = se.delta;
	*refresher = se.refresher;
	return true;
}

static uint32_t parse_min_se(const struct cv_sip_msg *m)
{
	const struct cv_sip_hdr *h = cv_sip_msg_hdr(m, CV_SIP_HDR_MIN_SE);
	uint32_t v = 0;
	struct cv_pl val = h ? h->value : (struct cv_pl)CV_PL_INIT;
	const char *semi = val.l ? memchr(val.p, ';', val.l) : NULL;
	if (semi)
		val.l = (size_t)(semi - val.p);
	if (!h || cv_sip_u32_parse(cv_pl_trim(val), &v) != 0)
		return 0;
	return v;
}

static void se_fire(struct cv_tmr *t, void *arg);
static int send_reoffer(struct cv_call *c, enum cv_sip_method method, bool hold,
			bool refresh);

/* §10: the refresher refreshes at half the interval; the other side sends
 * BYE at the interval minus min(32 s, interval/3) without a refresh. */
static void se_start(struct cv_call *c)
{
	cv_tmr_cancel(&c->se_tmr);
	if (!c->se || c->state == CV_CALL_ENDED)
		return;
	uint64_t now = cv_clock_us();
	c->se_deadline_us = now + c->se * 1000000ull;
	uint64_t after = c->se_we_refresh ? c->se * 500000ull
					  : (c->se - CV_MIN(32u, c->se / 3)) *
						    1000000ull;
	cv_tmr_start(cv_worker_wheel(c->ag->w), &c->se_tmr, after, se_fire, c);
}

static void se_fire(struct cv_tmr *t, void *arg)
{
	struct cv_call *c = arg;
	if (c->state != CV_CALL_ANSWERED || !c->se)
		return;
	uint64_t now = cv_clock_us();
	if (c->se_we_refresh && now + 1000000ull < c->se_deadline_us) {
		int err = -EBUSY;
		if (!c->re_ct && !c->glare_pending)
			err = send_reoffer(c,
					   c->peer_update ? CV_SIP_UPDATE
							  : CV_SIP_INVITE,
					   c->hold, true);
		if (err) /* busy or failed: try again shortly */
			cv_tmr_start(cv_worker_wheel(c->ag->w), &c->se_tmr,
				     1000000ull, se_fire, c);
		return;
	}
	CV_LOG_RL(CV_LOG_INFO, MOD, "session expired call-id=%s",
		  cv_call_id(c));
	cv_mem_ref(c);
	call_send_bye(c, "SIP;cause=408;text=\"Session expired\"");
	set_state(c, CV_CALL_ENDED, 408, "Session expired");
	cv_mem_unref(c);
}

/* The 2xx to our INVITE, re-INVITE or UPDATE: the interval and refresher
 * the UAS chose (§7.2: none when absent). */
static void se_from_2xx(struct cv_call *c, const struct cv_sip_msg *m)
{
	uint32_t delta;
	struct cv_pl ref;
	if (!parse_se(m, &delta, &ref)) {
		c->se = 0;
		cv_tmr_cancel(&c->se_tmr);
		return;
	}
	c->se = delta;
	c->se_we_refresh = !ref.l || cv_pl_caseeq_str(ref, "uac");
	se_start(c);
}

/* A request that may refresh the session (INVITE, re-INVITE, UPDATE) as
 * UAS: 0 with the header lines for our 2xx in hdr, or 422 when its
 * interval is below our Min-SE (§9). Does not start the timer. initial:
 * the call's first INVITE, where we may insert a timer of our own. */
static uint16_t se_uas(struct cv_call *c, const struct cv_sip_msg *req,
		       bool initial, char *hdr, size_t size)
{
	hdr[0] = '\0';
	uint32_t delta;
	struct cv_pl ref;
	bool uac_supports =
		cv_sip_msg_has_tag(req, CV_SIP_HDR_SUPPORTED, "timer") ||
		cv_sip_msg_has_tag(req, CV_SIP_HDR_REQUIRE, "timer");
	if (!parse_se(req, &delta, &ref)) {
		if (!initial || !c->ag->session_expires) {
			c->se = 0;
			cv_tmr_cancel(&c->se_tmr);
			return 0;
		}
		/* RFC 4028 §9: the UAC asked for no session timer; the UAS
		 * may use one anyway, at least the request's Min-SE, and
		 * refreshes itself (refresher=uas needs nothing of the UAC,
		 * which may not even support the extension) */
		c->se = CV_MAX(c->ag->session_expires, parse_min_se(req));
		c->se_we_refresh = true;
		snprintf(hdr, size, "Session-Expires: %u;refresher=uas\r\n",
			 c->se);
		return 0;
	}
	if (delta < c->ag->min_se)
		return 422;
	bool uac_refreshes;
	if (cv_pl_caseeq_str(ref, "uac"))
		uac_refreshes = true;
	else if (cv_pl_caseeq_str(ref, "uas"))
		uac_refreshes = false;
	else
		uac_refreshes = uac_supports; /* §9: our choice */
	c->se = delta;
	c->se_we_refresh = !uac_refreshes;
	snprintf(hdr, size, "Session-Expires: %u;refresher=%s\r\n%s", delta,
		 uac_refreshes ? "uac" : "uas",
		 uac_refreshes ? "Require: timer\r\n" : "");
	return 0;
}

static void answer_422(struct cv_call *c, struct cv_txn *st)
{
	char h[64];
	snprintf(h, sizeof(h), "Min-SE: %u\r\n", c->ag->min_se);
	struct cv_txn_resp_params rp = {.headers = cv_pl_str(h)};
	if (c->dlg)
		cv_dlg_respond(c->dlg, st, 422, &rp);
	else
		cv_txn_respond(st, 422, &rp);
}

/* ---- outgoing ----------------------------------------------------------- */

static int send_invite(struct cv_call *c, const char *auth_hdr)
{
	struct cv_buf body, hdrs;
	cv_buf_init(&body, 65536);
	cv_buf_init(&hdrs, 16384);
	int err = 0;
	if (!c->local_offer)
		err = local_sdp(c, false, NULL, &body);
	else
		err = cv_sdp_print(c->local_offer, &body);
	if (err)
		goto out;
	if (c->headers)
		cv_buf_append_str(&hdrs, c->headers);
	if (auth_hdr)
		cv_buf_append_str(&hdrs, auth_hdr);
	cv_buf_append_str(&hdrs, SESSION_ALLOW SESSION_SUPPORTED);
	/* RFC 4028 §7.1 */
	if (c->se_req)
		cv_buf_printf(&hdrs, "Session-Expires: %u\r\nMin-SE: %u\r\n",
			      c->se_req, c->se_min);
	if (c->replaces_hdr)
		cv_buf_printf(&hdrs, "Replaces: %s\r\n", c->replaces_hdr);
	if (c->referred_by)
		cv_buf_printf(&hdrs, "Referred-By: %s\r\n", c->referred_by);
	if (hdrs.err) {
		err = hdrs.err;
		goto out;
	}
	struct cv_ua_req r = {
		.method = CV_SIP_INVITE,
		.ruri = cv_pl_str(c->target),
		.from_uri = cv_pl_str(c->from),
		.from_display = cv_pl_str(c->from_display),
		.from_tag = cv_pl_str(c->from_tag ? c->from_tag : ""),
		.to_uri = cv_pl_str(c->to),
		.call_id = cv_pl_str(c->call_id ? c->call_id : ""),
		.cseq = ++c->cseq,
		.contact_user = cv_pl_str(c->ag->contact_user),
		.headers = {hdrs.data, hdrs.len},
		.content_type = CV_PL("application/sdp"),
		.body = {body.data, body.len},
		.dst = &c->dst,
		.uarg = c,
	};
	err = cv_ua_request(c->ag->ua, &r, &c->inv_ct);
	if (!err) {
		cv_mem_ref(c); /* held while the INVITE is pending */
		const struct cv_sip_msg *m = cv_txn_request(c->inv_ct);
		/* the first INVITE chose them; retries (3xx, 401) reuse them */
		if (!c->call_id)
			c->call_id = cv_pl_strdup(m->call_id);
		if (!c->from_tag)
			c->from_tag = cv_pl_strdup(m->from.tag);
	}
out:
	cv_buf_free(&body);
	cv_buf_free(&hdrs);
	return err;
}

int cv_call_create(struct cv_call **cp, struct cv_agent *ag,
		   const struct cv_call_params *p)
{
	if (!p || !p->target || !p->from || !p->media)
		return -EINVAL;
	struct cv_call *c = call_new(ag);
	if (!c)
		return -ENOMEM;
	c->outgoing = true;
	c->media = p->media;
	c->marg = p->marg;
	c->uarg = p->uarg;
	c->target = strdup(p->target);
	c->from = strdup(p->from);
	c->from_display = strdup(p->from_display ? p->from_display : "");
	c->to = strdup(p->to ? p->to : p->target);
	c->headers = strdup(p->headers ? p->headers : "");
	c->remote_uri = strdup(p->to ? p->to : p->target);
	c->se_req = ag->session_expires;
	c->se_min = ag->min_se;
	c->via_proxy = p->proxy != NULL;
	int err = -ENOMEM;
	if (!c->target || !c->from || !c->from_display || !c->to ||
	    !c->headers || !c->remote_uri)
		goto fail;
	if ((p->replaces && !(c->replaces_hdr = strdup(p->replaces))) ||
	    (p->referred_by && !(c->referred_by = strdup(p->referred_by))))
		goto fail;
	if (p->auth.user) {
		c->auth_user = strdup(p->auth.user);
		c->auth_pass = strdup(p->auth.password ? p->auth.password : "");
		if (!c->auth_user || !c->auth_pass)
			goto fail;
	}
	if (p->refer_from &&
	    (p->refer_from->refer_child || !p->refer_from->refer_active)) {
		err = -EINVAL;
		goto fail;
	}
	err = cv_ua_addr_from_uri(
		ag->ua, cv_pl_str(p->proxy ? p->proxy : p->target), &c->dst);
	if (err)
		goto fail;
	err = send_invite(c, NULL);
	if (err)
		goto fail;
	c->state = CV_CALL_CALLING;
	list_add(ag, c);
	if (p->refer_from) {
		c->refer_parent = cv_mem_ref(p->refer_from);
		p->refer_from->refer_child = cv_mem_ref(c);
	}
	*cp = c;
	return 0;
fail:
	cv_mem_unref(c);
	return err;
}

static void end_invite_ct(struct cv_call *c)
{
	if (c->inv_ct) {
		cv_txn_set_uarg(c->inv_ct, NULL);
		cv_txn_release(c->inv_ct);
		c->inv_ct = NULL;
		c->inv_accepted = false;
		cv_tmr_cancel(&c->fork_tmr);
		if (c->state == CV_CALL_ENDED)
			list_del(c);
		cv_mem_unref(c);
	}
}

/* The early dialog of a 1xx-with-tag, one per remote tag (forking). */
static struct call_fork *fork_get(struct cv_call *c, const struct cv_sip_msg *m)
{
	for (size_t i = 0; i < c->nforks; i++)
		if (cv_pl_eq(cv_dlg_remote_tag(c->forks[i].dlg), m->to.tag))
			return &c->forks[i];
	if (c->nforks == CALL_MAX_FORKS)
		return NULL;
	if (!c->forks &&
	    !(c->forks = calloc(CALL_MAX_FORKS, sizeof(*c->forks))))
		return NULL;
	struct cv_dlg *d;
	if (cv_dlg_create_uac(&d, c->ag->ua, c->inv_ct, m) != 0)
		return NULL;
	cv_dlg_set_uarg(d, c);
	struct call_fork *f = &c->forks[c->nforks++];
	*f = (struct call_fork){.dlg = d};
	if (!c->dlg)
		c->dlg = cv_dlg_ref(d);
	return f;
}

/* RFC 3262 §4: PRACK a reliable provisional response in order; false for
 * a retransmission or one out of order (discarded). */
static bool prack_1xx(struct cv_call *c, struct call_fork *f,
		      const struct cv_sip_msg *m)
{
	const struct cv_sip_hdr *h = cv_sip_msg_hdr(m, CV_SIP_HDR_RSEQ);
	uint32_t rseq;
	if (!h || cv_sip_u32_parse(h->value, &rseq) != 0)
		return true; /* broken: treat as unreliable */
	if (f->rseq_set && rseq != f->rseq + 1)
		return false;
	f->rseq = rseq;
	f->rseq_set = true;
	char rack[64];
	snprintf(rack, sizeof(rack), "RAck: %u %u INVITE\r\n", rseq,
		 m->cseq.num);
	struct cv_dlg_req r = {.method = CV_SIP_PRACK,
			       .headers = cv_pl_str(rack)};
	struct cv_txn *ct;
	if (cv_dlg_request(f->dlg, &r, &ct) == 0)
		cv_txn_release(ct);
	return true;
}

static void note_allow(struct cv_call *c, const struct cv_sip_msg *m)
{
	if (cv_sip_msg_hdr(m, CV_SIP_HDR_ALLOW))
		c->peer_update =
			cv_sip_msg_has_tag(m, CV_SIP_HDR_ALLOW, "UPDATE");
}

/* §8.1.3.4: a 3xx gives new targets; follow the first untried sip(s) one,
 * at most CALL_MAX_REDIRECTS times. */
static bool follow_redirect(struct cv_call *c, const struct cv_sip_msg *m)
{
	if (c->redirects >= CALL_MAX_REDIRECTS)
		return false;
	struct cv_sip_vals_iter it = {0};
	struct cv_pl v;
	int n = 0;
	while (n++ < 16 &&
	       cv_sip_msg_vals_next(m, CV_SIP_HDR_CONTACT, &it, &v) == 0) {
		struct cv_sip_contact ct;
		struct cv_sip_uri u;
		if (cv_sip_contact_parse(v, &ct) != 0 || ct.star ||
		    cv_sip_uri_parse(ct.addr.uri, &u) != 0 ||
		    (u.scheme != CV_SIP_SCHEME_SIP &&
		     u.scheme != CV_SIP_SCHEME_SIPS))
			continue;
		bool tried =
			cv_sip_uri_eq_text(ct.addr.uri, cv_pl_str(c->target));
		for (int i = 0; i < c->redirects && !tried; i++)
			tried = cv_sip_uri_eq_text(ct.addr.uri,
						   cv_pl_str(c->tried[i]));
		if (tried)
			continue;
		struct cv_txn_addr dst;
		if (!c->via_proxy &&
		    cv_ua_addr_from_uri(c->ag->ua, ct.addr.uri, &dst) != 0)
			continue;
		char *nt = cv_pl_strdup(ct.addr.uri);
		if (!nt)
			return false;
		if (!c->via_proxy) {
			cv_ua_addr_clear(&c->dst);
			c->dst = dst;
		}
		c->tried[c->redirects++] = c->target;
		c->target = nt;
		forks_clear(c, NULL);
		if (c->dlg) {
			cv_dlg_release(c->dlg);
			c->dlg = NULL;
		}
		end_invite_ct(c);
		c->auth_tries = 0;
		if (send_invite(c, NULL) != 0)
			return false;
		if (!c->released && c->ag->h->redirect)
			c->ag->h->redirect(c, c->target, (uint16_t)m->status,
					   c->uarg);
		return true;
	}
	return false;
}

static void fork_done(struct cv_tmr *t, void *arg)
{
	struct cv_call *c = arg;
	if (c->inv_accepted)
		end_invite_ct(c);
}

static void invite_response(struct cv_call *c, const struct cv_txn_resp *r)
{
	struct cv_sip_msg *m = r->msg;
	char reason[128];
	reason_of(r, reason, sizeof(reason));
	uint16_t st = r->status;
	if (st < 200) {
		if (c->state == CV_CALL_ENDED || c->state == CV_CALL_ANSWERED ||
		    st == 100 || !m)
			return;
		struct call_fork *f = m->to.tag.l ? fork_get(c, m) : NULL;
		if (f && cv_sip_msg_has_tag(m, CV_SIP_HDR_REQUIRE, "100rel") &&
		    !prack_1xx(c, f, m))
			return; /* retransmission */
		note_allow(c, m);
		if (m->body.l && !c->have_neg) {
			struct cv_sdp *ans;
			if (parse_sdp(m, &ans) == 0) {
				if (cv_sdp_answer_process(
					    &c->neg, c->local_offer, ans) == 0)
					apply_neg(c);
				cv_mem_unref(ans);
			}
			set_state(c, CV_CALL_EARLY, st, reason);
		} else if (st >= 180 && c->state != CV_CALL_EARLY) {
			set_state(c, CV_CALL_RINGING, st, reason);
		}
		return;
	}
	if (st < 300 && m) {
		struct cv_dlg *d = NULL;
		if (cv_dlg_create_uac(&d, c->ag->ua, c->inv_ct, m) != 0) {
			end_invite_ct(c);
			set_state(c, CV_CALL_ENDED, 500, "Bad 2xx");
			return;
		}
		if (d == c->dlg && c->state == CV_CALL_ANSWERED) {
			/* the winner's 2xx again: ACK it again, nothing else */
			cv_dlg_ack(d, m, (struct cv_pl)CV_PL_INIT,
				   (struct cv_pl)CV_PL_INIT);
			cv_dlg_release(d);
			return;
		}
		cv_dlg_ack(d, m, (struct cv_pl)CV_PL_INIT,
			   (struct cv_pl)CV_PL_INIT);
		if (c->state == CV_CALL_ENDED || c->state == CV_CALL_ANSWERED) {
			/* a second fork answered, or we hung up meanwhile:
			 * ACK and BYE it (§13.2.2.4) */
			struct cv_dlg_req br = {.method = CV_SIP_BYE};
			struct cv_txn *bt;
			if (cv_dlg_request(d, &br, &bt) == 0)
				cv_txn_release(bt);
			cv_dlg_set_uarg(d, NULL);
			cv_dlg_terminate(d);
			cv_dlg_release(d);
			if (c->state == CV_CALL_ENDED)
				end_invite_ct(c);
			return;
		}
		/* the first 2xx wins; other early dialogs end */
		if (c->dlg)
			cv_dlg_release(c->dlg);
		c->dlg = d;
		cv_dlg_set_uarg(d, c);
		forks_clear(c, d);
		note_allow(c, m);
		struct cv_sdp *ans;
		if (parse_sdp(m, &ans) == 0) {
			if (cv_sdp_answer_process(&c->neg, c->local_offer,
						  ans) == 0)
				apply_neg(c);
			cv_mem_unref(ans);
		}
		/* §13.2.2.4: other forks may still answer until Timer M; keep
		 * the transaction to ACK and BYE them */
		c->inv_accepted = true;
		cv_tmr_start(cv_worker_wheel(c->ag->w), &c->fork_tmr,
			     64ull * 500 * 1000, fork_done, c);
		set_state(c, CV_CALL_ANSWERED, st, reason);
		if (c->state == CV_CALL_ANSWERED)
			se_from_2xx(c, m);
		return;
	}
	if (c->state != CV_CALL_ENDED && m) {
		if ((st == 401 || st == 407) && c->auth_user &&
		    c->auth_tries < 2) {
			struct cv_buf ah;
			cv_buf_init(&ah, 4096);
			int err = session_auth_header(&ah, m, c->auth_user,
						      c->auth_pass, "INVITE",
						      c->target);
			if (!err) {
				c->auth_tries++;
				forks_clear(c, NULL);
				if (c->dlg) {
					cv_dlg_release(c->dlg);
					c->dlg = NULL;
				}
				end_invite_ct(c);
				err = send_invite(c, ah.data);
			}
			cv_buf_free(&ah);
			if (!err)
				return;
		} else if (st == 422 && c->se_req && c->tries_422 < 2) {
			/* RFC 4028 §7.4: retry with the peer's Min-SE */
			uint32_t min = parse_min_se(m);
			if (min > c->se_req) {
				c->tries_422++;
				c->se_req = c->se_min = min;
				forks_clear(c, NULL);
				if (c->dlg) {
					cv_dlg_release(c->dlg);
					c->dlg = NULL;
				}
				end_invite_ct(c);
				if (send_invite(c, NULL) == 0)
					return;
			}
		} else if (st >= 300 && st < 400 && follow_redirect(c, m)) {
			return;
		}
	}
	end_invite_ct(c);
	set_state(c, CV_CALL_ENDED, st, reason);
}

/* ---- our re-INVITE / UPDATE ---------------------------------------------- */

static void glare_fire(struct cv_tmr *t, void *arg)
{
	struct cv_call *c = arg;
	if (!c->glare_pending || c->state != CV_CALL_ANSWERED)
		return;
	c->glare_pending = false;
	if (c->re_ct)
		return;
	send_reoffer(c, c->glare_method, c->glare_hold, c->glare_refresh);
}

/* RFC 3261 §14.1 (RFC 3311 §5.1 for UPDATE): after a 491, the owner of
 * the Call-ID waits 2.1..4 s, the other side 0..2 s, in 10 ms units. */
static void glare_retry(struct cv_call *c)
{
	if (++c->glare_tries > 5)
		return;
	uint32_t r = 0;
	cv_random(&r, sizeof(r));
	uint64_t ms = c->outgoing ? 2100 + (r % 191) * 10 : (r % 201) * 10;
	c->glare_pending = true;
	c->glare_method = c->re_method;
	c->glare_hold = c->re_hold;
	c->glare_refresh = c->re_refresh;
	cv_tmr_start(cv_worker_wheel(c->ag->w), &c->glare_tmr, ms * 1000,
		     glare_fire, c);
}

static int send_reoffer(struct cv_call *c, enum cv_sip_method method, bool hold,
			bool refresh)
{
	if (c->re_ct)
		return -EBUSY;
	bool offer = method == CV_SIP_INVITE || !refresh;
	struct cv_buf sdp, hdrs;
	cv_buf_init(&sdp, 65536);
	cv_buf_init(&hdrs, 4096);
	int err = 0;
	if (offer) {
		if (!refresh)
			c->sess_version++;
		err = local_sdp(c, hold, NULL, &sdp);
	}
	if (c->se)
		cv_buf_printf(
			&hdrs,
			"Session-Expires: %u;refresher=%s\r\nMin-SE: %u\r\n",
			c->se, c->se_we_refresh ? "uac" : "uas", c->se_min);
	cv_buf_append_str(&hdrs, SESSION_SUPPORTED);
	if (!err && hdrs.err)
		err = hdrs.err;
	if (!err) {
		struct cv_dlg_req r = {.method = method,
				       .headers = {hdrs.data, hdrs.len},
				       .uarg = c};
		if (offer) {
			r.content_type = CV_PL("application/sdp");
			r.body = (struct cv_pl){sdp.data, sdp.len};
		}
		err = cv_dlg_request(c->dlg, &r, &c->re_ct);
	}
	if (!err) {
		cv_mem_ref(c);
		c->re_method = method;
		c->re_prev_hold = c->hold;
		c->re_hold = hold;
		c->re_refresh = refresh;
		c->hold = hold;
	}
	cv_buf_free(&sdp);
	cv_buf_free(&hdrs);
	return err;
}

static void reoffer_response(struct cv_call *c, struct cv_txn *ct,
			     const struct cv_txn_resp *r)
{
	if (r->status < 200)
		return;
	cv_txn_set_uarg(ct, NULL);
	cv_txn_release(ct);
	c->re_ct = NULL;
	uint16_t st = r->status;
	if (st < 300 && r->msg && c->dlg) {
		c->glare_tries = 0;
		if (c->re_method == CV_SIP_INVITE)
			cv_dlg_ack(c->dlg, r->msg, (struct cv_pl)CV_PL_INIT,
				   (struct cv_pl)CV_PL_INIT);
		cv_dlg_refresh_target(c->dlg, r->msg);
		struct cv_sdp *ans;
		if ((c->re_method == CV_SIP_INVITE || !c->re_refresh) &&
		    parse_sdp(r->msg, &ans) == 0) {
			if (cv_sdp_answer_process(&c->neg, c->local_offer,
						  ans) == 0)
				apply_neg(c);
			cv_mem_unref(ans);
		}
		if (c->se ||
		    parse_se(r->msg, &(uint32_t){0}, &(struct cv_pl){0}))
			se_from_2xx(c, r->msg);
	} else if (st == 481 || st == 408) {
		/* §14.1: the dialog is gone */
		c->hold = c->re_prev_hold;
		call_send_bye(c, NULL);
		set_state(c, CV_CALL_ENDED, st,
			  c->re_method == CV_SIP_INVITE ? "re-INVITE failed"
							: "UPDATE failed");
	} else {
		/* §14.1: a failed offer leaves the session as it was */
		c->hold = c->re_prev_hold;
		if (st == 491) {
			glare_retry(c);
		} else if (st == 422 && r->msg && c->se && c->tries_422 < 2) {
			uint32_t min = parse_min_se(r->msg);
			if (min > c->se) {
				c->tries_422++;
				c->se = c->se_min = min;
				send_reoffer(c, c->re_method, c->re_hold,
					     c->re_refresh);
			}
		} else if (c->re_method == CV_SIP_UPDATE &&
			   (st == 405 || st == 501)) {
			/* no UPDATE after all: the same by re-INVITE */
			c->peer_update = false;
			send_reoffer(c, CV_SIP_INVITE, c->re_hold,
				     c->re_refresh);
		} else if (c->re_refresh && c->se) {
			/* the refresh failed: the session ends when it expires
			 */
			c->se_we_refresh = false;
			uint64_t now = cv_clock_us();
			cv_tmr_start(cv_worker_wheel(c->ag->w), &c->se_tmr,
				     c->se_deadline_us > now
					     ? c->se_deadline_us - now
					     : 0,
				     se_fire, c);
		}
	}
	cv_mem_unref(c);
}

void call_response(struct cv_call *c, struct cv_txn *ct,
		   const struct cv_txn_resp *r)
{
	cv_mem_ref(c);
	if (ct == c->inv_ct)
		invite_response(c, r);
	else if (ct == c->re_ct)
		reoffer_response(c, ct, r);
	else if (ct == c->refer_ct)
		xfer_refer_response(c, ct, r);
	cv_mem_unref(c);
}

/* ---- incoming -------------------------------------------------------------
 */

void call_incoming(struct cv_agent *ag, struct cv_txn *st,
		   struct cv_sip_msg *req)
{
	struct cv_call *c = call_new(ag);
	if (!c) {
		cv_txn_respond(st, 500, NULL);
		cv_txn_release(st);
		return;
	}
	c->outgoing = false;
	c->inv_st = st;
	c->state = CV_CALL_INCOMING;
	c->remote_uri = cv_pl_strdup(req->from.uri);
	c->call_id = cv_pl_strdup(req->call_id);
	c->peer_100rel =
		!ag->no_100rel &&
		cv_sip_msg_has_tag(req, CV_SIP_HDR_SUPPORTED, "100rel");
	if (cv_sip_msg_has_tag(req, CV_SIP_HDR_REQUIRE, "100rel"))
		c->peer_100rel = true;
	c->peer_timer = cv_sip_msg_has_tag(req, CV_SIP_HDR_SUPPORTED, "timer");
	c->se_min = ag->min_se;
	note_allow(c, req);
	uint16_t reject = 0;
	const char *why = NULL;
	int err = c->remote_uri ? 0 : -ENOMEM;
	if (!err && req->body.l) {
		err = parse_sdp(req, &c->remote_offer);
		if (err) {
			reject = 400;
			why = "Bad SDP";
		}
	}
	uint32_t delta;
	struct cv_pl ref;
	if (!err && parse_se(req, &delta, &ref) && delta < ag->min_se)
		reject = 422; /* RFC 4028 §8.1 */
	if (!err && !reject && cv_sip_msg_hdr(req, CV_SIP_HDR_REPLACES))
		reject = xfer_replaces(ag, c, req);
	if (reject) {
		if (reject == 422) {
			answer_422(c, st);
		} else {
			struct cv_txn_resp_params rp = {.reason = why};
			cv_txn_respond(st, reject, &rp);
		}
		cv_txn_release(st);
		c->inv_st = NULL;
		cv_mem_unref(c);
		return;
	}
	const struct cv_sip_hdr *rb =
		cv_sip_msg_hdr(req, CV_SIP_HDR_REFERRED_BY);
	if (!err && rb && !(c->referred_by = cv_pl_strdup(rb->value)))
		err = -ENOMEM;
	if (!err)
		err = cv_dlg_create_uas(&c->dlg, ag->ua, st,
					cv_pl_str(ag->contact_user));
	if (err) {
		cv_txn_respond(st, 500, NULL);
		cv_txn_release(st);
		c->inv_st = NULL;
		cv_mem_unref(c);
		return;
	}
	cv_dlg_set_uarg(c->dlg, c);
	cv_txn_set_uarg(st, c);
	list_add(ag, c);
	if (ag->h->incoming)
		ag->h->incoming(ag, c, req, ag->arg);
	else {
		cv_call_reject(c, 480, NULL);
		cv_call_release(c);
	}
	/* otherwise the application's reference is the one from call_new */
}

static int respond_inv(struct cv_call *c, uint16_t status, const char *reason,
		       const char *hdrs, struct cv_buf *sdp)
{
	struct cv_txn_resp_params rp = {.reason = reason,
					.headers = cv_pl_str(hdrs)};
	if (sdp && sdp->len) {
		rp.content_type = CV_PL("application/sdp");
		rp.body = (struct cv_pl){sdp->data, sdp->len};
	}
	int err = cv_dlg_respond(c->dlg, c->inv_st, status, &rp);
	if (status >= 200) {
		cv_txn_release(c->inv_st);
		c->inv_st = NULL;
	}
	return err;
}

int cv_call_ring(struct cv_call *c)
{
	if (!c->inv_st || !c->dlg)
		return CV_ECLOSED;
	int err;
	if (c->peer_100rel) {
		/* RFC 3262 §3: reliably, retransmitted until the PRACK */
		struct cv_txn_resp_params rp = {.headers =
							CV_PL(SESSION_ALLOW)};
		err = cv_dlg_respond_reliable(c->dlg, c->inv_st, 180, &rp);
		if (err == -EBUSY)
			return 0; /* the previous one is still unacknowledged */
	} else {
		err = respond_inv(c, 180, NULL, NULL, NULL);
	}
	if (!err)
		set_state(c, CV_CALL_RINGING, 180, "Ringing");
	return err;
}

/* The answer to the INVITE's offer failed: 488 with a Warning (RFC 3261
 * §13.3.1.3, §20.43) and the call ends. */
static int answer_488(struct cv_call *c, int err)
{
	char w[160];
	snprintf(w, sizeof(w),
		 "Warning: 305 cvoip \"Incompatible media format\"\r\n");
	respond_inv(c, 488, NULL, w, NULL);
	set_state(c, CV_CALL_ENDED, 488, "Not Acceptable Here");
	return err;
}

int cv_call_early(struct cv_call *c)
{
	if (!c->inv_st || !c->dlg)
		return CV_ECLOSED;
	if (c->early_answered || c->early_offered)
		return -EALREADY;
	/* RFC 3261 §13.2.1: an offer only in a reliable response */
	if (!c->remote_offer && !c->peer_100rel)
		return -EINVAL;
	if (c->peer_100rel && cv_dlg_reliable_pending(c->dlg))
		return -EBUSY; /* RFC 3262 §3: one unacknowledged at a time */
	struct cv_buf sdp;
	cv_buf_init(&sdp, 65536);
	/* the answer to the INVITE's offer, or (late offer) our offer */
	int err = local_sdp(c, false, c->remote_offer, &sdp);
	if (err) {
		cv_buf_free(&sdp);
		return c->remote_offer ? answer_488(c, err) : err;
	}
	struct cv_txn_resp_params rp = {
		.headers = CV_PL(SESSION_ALLOW),
		.content_type = CV_PL("application/sdp"),
		.body = {sdp.data, sdp.len},
	};
	/* RFC 3262 §5: an answer in a reliable 1xx is the answer (an offer
	 * there is answered in the PRACK). Without 100rel it is a preview
	 * and the 200 carries the answer again. */
	if (c->peer_100rel)
		err = cv_dlg_respond_reliable(c->dlg, c->inv_st, 183, &rp);
	else
		err = respond_inv(c, 183, NULL, SESSION_ALLOW, &sdp);
	cv_buf_free(&sdp);
	if (!err) {
		if (c->remote_offer) {
			apply_neg(c);
			c->early_answered = true;
		} else {
			c->early_offered = true;
		}
		set_state(c, CV_CALL_EARLY, 183, "Session Progress");
	}
	return err;
}

int cv_call_answer(struct cv_call *c)
{
	if (!c->inv_st || !c->dlg)
		return CV_ECLOSED;
	/* the INVITE's offer/answer went in a reliable 183 (and its PRACK) */
	bool done_early =
		c->peer_100rel && (c->early_answered || c->early_offered);
	/* RFC 3262 §3: no 2xx while a reliable 1xx with a session
	 * description awaits its PRACK; the 200 goes out when it comes
	 * (or the call ends with 504 when it does not) */
	if (done_early && cv_dlg_reliable_pending(c->dlg)) {
		c->answer_deferred = true;
		return 0;
	}
	struct cv_buf sdp;
	cv_buf_init(&sdp, 65536);
	int err = 0;
	/* RFC 6337 §3.1.1: after a reliable answer the 2xx needs no SDP
	 * (a PRACK or UPDATE may have changed the session since) */
	if (!done_early) {
		err = local_sdp(c, false, c->remote_offer, &sdp);
		if (err && c->remote_offer) {
			cv_buf_free(&sdp);
			return answer_488(c, err);
		}
		if (err) {
			cv_buf_free(&sdp);
			return err;
		}
		if (!c->remote_offer)
			c->ack_answer =
				true; /* late offer: ours is in the 200 */
		else if (!c->early_answered)
			apply_neg(c);
	}
	char seh[128];
	se_uas(c, cv_txn_request(c->inv_st), true, seh, sizeof(seh));
	char hdrs[512];
	snprintf(hdrs, sizeof(hdrs), "%s%s%s", SESSION_ALLOW, SESSION_SUPPORTED,
		 seh);
	err = respond_inv(c, 200, NULL, hdrs, &sdp);
	cv_buf_free(&sdp);
	if (!err) {
		/* the answer is sent and negotiated: the parsed offer (≈ 3.6
		 * KB) is not needed for the rest of a long call */
		c->remote_offer = cv_mem_unref(c->remote_offer);
		set_state(c, CV_CALL_ANSWERED, 200, "OK");
		se_start(c);
	}
	return err;
}

int cv_call_reject(struct cv_call *c, uint16_t status, const char *reason)
{
	if (!c->inv_st || status < 300)
		return CV_ECLOSED;
	int err = respond_inv(c, status, reason, NULL, NULL);
	set_state(c, CV_CALL_ENDED, status,
		  reason ? reason : cv_sip_reason(status));
	return err;
}

/* "BYE (Q.850 16: Normal call clearing)" from a Reason header (RFC 3326) */
static void reason_text(const struct cv_sip_msg *m, const char *what, char *out,
			size_t size)
{
	const struct cv_sip_hdr *h =
		m ? cv_sip_msg_hdr(m, CV_SIP_HDR_REASON) : NULL;
	struct cv_sip_reason r;
	if (h && cv_sip_reason_parse(h->value, &r) == 0 && r.cause >= 0)
		snprintf(out, size, "%s (%.*s %d%s%.*s)", what,
			 CV_PL_ARG(r.protocol), r.cause, r.text.l ? ": " : "",
			 CV_PL_ARG(r.text));
	else
		snprintf(out, size, "%s", what);
}

void call_cancelled(struct cv_agent *ag, struct cv_txn *st,
		    const struct cv_sip_msg *cancel)
{
	struct cv_call *c = cv_txn_uarg(st);
	if (!c || c->kind != UARG_CALL || c->inv_st != st)
		return;
	char why[160];
	reason_text(cancel, "Request Terminated", why, sizeof(why));
	respond_inv(c, 487, NULL, NULL, NULL);
	set_state(c, CV_CALL_ENDED, 487, why);
}

void call_prack_timeout(struct cv_agent *ag, struct cv_dlg *dlg)
{
	struct cv_call *c = cv_dlg_uarg(dlg);
	if (!c || c->kind != UARG_CALL || !c->inv_st)
		return;
	/* RFC 3262 §3: no PRACK within 64*T1: reject with a 5xx */
	cv_mem_ref(c);
	respond_inv(c, 504, "No PRACK", NULL, NULL);
	set_state(c, CV_CALL_ENDED, 504, "No PRACK");
	cv_mem_unref(c);
}

void call_ack(struct cv_agent *ag, struct cv_dlg *dlg, struct cv_sip_msg *ack)
{
	struct cv_call *c = cv_dlg_uarg(dlg);
	if (!c || c->kind != UARG_CALL)
		return;
	/* we offered in the 2xx: the answer comes in the ACK (§13.2.1) */
	if (c->ack_answer && c->local_offer && ack->body.l) {
		c->ack_answer = false;
		struct cv_sdp *ans;
		if (parse_sdp(ack, &ans) == 0) {
			if (cv_sdp_answer_process(&c->neg, c->local_offer,
						  ans) == 0)
				apply_neg(c);
			cv_mem_unref(ans);
		}
	}
}

void call_ack_timeout(struct cv_agent *ag, struct cv_dlg *dlg)
{
	struct cv_call *c = cv_dlg_uarg(dlg);
	if (!c || c->kind != UARG_CALL)
		return;
	struct cv_dlg_req br = {.method = CV_SIP_BYE};
	struct cv_txn *bt;
	if (cv_dlg_request(dlg, &br, &bt) == 0)
		cv_txn_release(bt);
	set_state(c, CV_CALL_ENDED, 408, "No ACK");
}

/* A re-INVITE or UPDATE from the peer (RFC 3261 §14.2, RFC 3311 §5.2):
 * answer its offer, or (re-INVITE without one) offer in the 200. */
static void answer_reoffer(struct cv_call *c, struct cv_txn *st,
			   struct cv_sip_msg *req)
{
	bool update = req->method == CV_SIP_UPDATE;
	struct cv_sdp *offer = NULL;
	struct cv_buf sdp;
	cv_buf_init(&sdp, 65536);
	char hdrs[512];
	char seh[128];
	if (se_uas(c, req, false, seh, sizeof(seh)) == 422) {
		answer_422(c, st);
		return;
	}
	snprintf(hdrs, sizeof(hdrs), "%s%s", SESSION_SUPPORTED, seh);
	int err = parse_sdp(req, &offer);
	if (err == 0) {
		c->sess_version++;
		err = local_sdp(c, c->hold, offer, &sdp);
		if (err) {
			struct cv_txn_resp_params rp = {
				.headers = CV_PL(
					"Warning: 305 cvoip \"Incompatible "
					"media format\"\r\n")};
			cv_dlg_respond(c->dlg, st, 488, &rp);
		} else {
			apply_neg(c);
		}
	} else if (req->body.l) {
		struct cv_txn_resp_params rp = {.reason = "Bad SDP"};
		cv_dlg_respond(c->dlg, st, 400, &rp);
	} else if (!update) {
		/* no offer: send ours, the answer comes in the ACK */
		c->sess_version++;
		err = local_sdp(c, c->hold, NULL, &sdp);
		c->ack_answer = err == 0;
	} else {
		err = 0; /* UPDATE without a body: a session refresh */
	}
	if (!err) {
		struct cv_txn_resp_params rp = {.headers = cv_pl_str(hdrs)};
		if (sdp.len) {
			rp.content_type = CV_PL("application/sdp");
			rp.body = (struct cv_pl){sdp.data, sdp.len};
		}
		cv_dlg_refresh_target(c->dlg, req);
		cv_dlg_respond(c->dlg, st, 200, &rp);
		if (c->state == CV_CALL_ANSWERED)
			se_start(c);
	}
	cv_mem_unref(offer);
	cv_buf_free(&sdp);
}

/* A PRACK that acknowledged our reliable 183 (RFC 3262 §5): it may carry
 * the answer to the offer in that 183 (late-offer INVITE), or a new
 * offer after the 183's answer, answered in its 200. */
static void prack_request(struct cv_call *c, struct cv_txn *st,
			  struct cv_sip_msg *req)
{
	struct cv_sdp *sdp = NULL;
	struct cv_txn_resp_params rp = {0};
	struct cv_buf out;
	cv_buf_init(&out, 65536);
	if (!req->body.l || !c->inv_st) {
		cv_dlg_respond(c->dlg, st, 200, NULL);
	} else if (parse_sdp(req, &sdp) != 0) {
		rp.reason = "Bad SDP";
		cv_dlg_respond(c->dlg, st, 400, &rp);
	} else if (c->early_offered && !c->have_neg) {
		if (cv_sdp_answer_process(&c->neg, c->local_offer, sdp) == 0)
			apply_neg(c);
		else
			CV_LOG_RL(CV_LOG_INFO, MOD,
				  "unusable answer in PRACK call-id=%s",
				  cv_call_id(c));
		cv_dlg_respond(c->dlg, st, 200, NULL);
	} else if (c->early_answered || (c->early_offered && c->have_neg)) {
		c->sess_version++;
		if (local_sdp(c, c->hold, sdp, &out) != 0) {
			rp.headers = CV_PL("Warning: 305 cvoip \"Incompatible "
					   "media format\"\r\n");
			cv_dlg_respond(c->dlg, st, 488, &rp);
		} else {
			apply_neg(c);
			rp.content_type = CV_PL("application/sdp");
			rp.body = (struct cv_pl){out.data, out.len};
			cv_dlg_respond(c->dlg, st, 200, &rp);
		}
	} else {
		/* no offer/answer of ours is early: nothing to answer */
		rp.headers = CV_PL("Retry-After: 1\r\n");
		cv_dlg_respond(c->dlg, st, 500, &rp);
	}
	cv_mem_unref(sdp);
	cv_buf_free(&out);
}

/* dtmf-relay body: "Signal=5\r\nDuration=160\r\n" */
static void info_request(struct cv_call *c, struct cv_sip_msg *req)
{
	if (!cv_pl_caseeq_str(req->content_type, "application/dtmf-relay"))
		return;
	char sig = 0;
	uint32_t dur = 0;
	struct cv_pl b = req->body;
	while (b.l) {
		const char *nl = memchr(b.p, '\n', b.l);
		struct cv_pl line = {b.p, nl ? (size_t)(nl - b.p) : b.l};
		b.p += line.l + (nl ? 1 : 0);
		b.l -= line.l + (nl ? 1 : 0);
		line = cv_pl_trim(line);
		const char *eq = memchr(line.p, '=', line.l);
		if (!eq)
			continue;
		struct cv_pl k = cv_pl_trim(
			(struct cv_pl){line.p, (size_t)(eq - line.p)});
		struct cv_pl v = cv_pl_trim((struct cv_pl){
			eq + 1, line.l - (size_t)(eq - line.p) - 1});
		if (cv_pl_caseeq_str(k, "Signal") && v.l)
			sig = v.p[0];
		else if (cv_pl_caseeq_str(k, "Duration"))
			cv_pl_u32(v, &dur);
	}
	if (sig && !c->released && c->ag->h->info_dtmf)
		c->ag->h->info_dtmf(c, sig, dur, c->uarg);
}

void call_request(struct cv_agent *ag, struct cv_txn *st,
		  struct cv_sip_msg *req, struct cv_dlg *dlg)
{
	struct cv_call *c = cv_dlg_uarg(dlg);
	struct cv_txn_resp_params rp = {0};
	if (!c || c->kind != UARG_CALL) {
		cv_txn_respond(st, 481, NULL);
		cv_txn_release(st);
		return;
	}
	cv_mem_ref(c);
	char why[160];
	switch (req->method) {
	case CV_SIP_BYE:
		cv_txn_respond(st, 200, NULL);
		if (c->inv_st) /* BYE before our final answer (§15.1.2) */
			respond_inv(c, 487, NULL, NULL, NULL);
		reason_text(req, "BYE", why, sizeof(why));
		set_state(c, CV_CALL_ENDED, 0, why);
		break;
	case CV_SIP_INVITE:
		if (c->re_ct || c->inv_st || (c->inv_ct && !c->inv_accepted)) {
			rp.headers = CV_PL("Retry-After: 1\r\n");
			cv_txn_respond(st, 491, &rp); /* §14.2 glare */
		} else {
			answer_reoffer(c, st, req);
		}
		break;
	case CV_SIP_UPDATE:
		if (req->body.l && c->re_ct &&
		    (c->re_method == CV_SIP_INVITE || !c->re_refresh)) {
			cv_txn_respond(st, 491, NULL); /* RFC 3311 §5.2 */
		} else if (req->body.l && c->outgoing && !c->have_neg) {
			cv_txn_respond(st, 491,
				       NULL); /* our offer is unanswered */
		} else if (req->body.l && !c->outgoing && c->inv_st &&
			   !(c->peer_100rel &&
			     (c->early_answered ||
			      (c->early_offered && c->have_neg)))) {
			/* RFC 3311 §5.2: the INVITE's offer is not answered yet
			 */
			rp.headers = CV_PL("Retry-After: 1\r\n");
			cv_txn_respond(st, 500, &rp);
		} else {
			answer_reoffer(c, st, req);
		}
		break;
	case CV_SIP_PRACK:
		/* RFC 3262 §3: 481 when it acknowledges nothing pending */
		if (cv_dlg_prack(dlg, req)) {
			prack_request(c, st, req);
			/* RFC 3262 §3: the 2xx waited for this PRACK */
			if (c->answer_deferred) {
				c->answer_deferred = false;
				cv_call_answer(c);
			}
		} else {
			cv_txn_respond(st, 481, NULL);
		}
		break;
	case CV_SIP_INFO:
		info_request(c, req);
		cv_txn_respond(st, 200, NULL);
		break;
	case CV_SIP_REFER:
		xfer_refer_request(c, st, req);
		break;
	case CV_SIP_NOTIFY:
		xfer_notify_request(c, st, req);
		break;
	case CV_SIP_ACK:
		break;
	default:
		rp.headers = CV_PL(SESSION_ALLOW);
		cv_txn_respond(st, 405, &rp);
		break;
	}
	cv_txn_release(st);
	cv_mem_unref(c);
}

/* ---- application actions ------------------------------------------------ */

int call_send_bye(struct cv_call *c, const char *reason_hdr)
{
	if (!c->dlg || cv_dlg_state(c->dlg) == CV_DLG_TERMINATED)
		return CV_ECLOSED;
	char h[300] = "";
	if (reason_hdr)
		snprintf(h, sizeof(h), "Reason: %s\r\n", reason_hdr);
	struct cv_dlg_req br = {.method = CV_SIP_BYE, .headers = cv_pl_str(h)};
	struct cv_txn *bt;
	int err = cv_dlg_request(c->dlg, &br, &bt);
	if (!err)
		cv_txn_release(bt);
	return err;
}

int cv_call_end(struct cv_call *c, const struct cv_call_end_params *p)
{
	const char *reason = p ? p->reason : NULL;
	switch (c->state) {
	case CV_CALL_ENDED:
		return 0;
	case CV_CALL_INCOMING:
	case CV_CALL_RINGING:
	case CV_CALL_EARLY:
		if (!c->outgoing)
			return cv_call_reject(
				c, p && p->status >= 300 ? p->status : 603,
				p && p->status >= 300 ? NULL : "Decline");
		/* fall through */
	case CV_CALL_CALLING:
		if (c->inv_ct) {
			char h[300] = "";
			if (reason)
				snprintf(h, sizeof(h), "Reason: %s\r\n",
					 reason);
			struct cv_txn_cancel_params cp = {.headers =
								  cv_pl_str(h)};
			cv_txn_cancel(c->inv_ct, &cp);
		}
		set_state(c, CV_CALL_ENDED, 0, "CANCEL");
		return 0;
	case CV_CALL_ANSWERED:
		call_send_bye(c, reason);
		set_state(c, CV_CALL_ENDED, 0, "BYE");
		return 0;
	default:
		set_state(c, CV_CALL_ENDED, 0, NULL);
		return 0;
	}
}

int cv_call_hangup(struct cv_call *c)
{
	return cv_call_end(c, NULL);
}

int cv_call_modify(struct cv_call *c, const struct cv_call_modify_params *p)
{
	if (c->state != CV_CALL_ANSWERED || !c->dlg)
		return CV_ECLOSED;
	if (c->re_ct)
		return -EBUSY;
	if (c->glare_pending) {
		/* a newer wish replaces the one waiting out a 491 */
		c->glare_method = p->use_update ? CV_SIP_UPDATE : CV_SIP_INVITE;
		c->glare_hold = p->hold;
		c->glare_refresh = false;
		return 0;
	}
	c->glare_tries = 0;
	return send_reoffer(c, p->use_update ? CV_SIP_UPDATE : CV_SIP_INVITE,
			    p->hold, false);
}

int cv_call_hold(struct cv_call *c, bool hold)
{
	struct cv_call_modify_params p = {.hold = hold};
	return cv_call_modify(c, &p);
}

int cv_call_send_info_dtmf(struct cv_call *c, char digit, uint32_t duration_ms)
{
	if (c->state != CV_CALL_ANSWERED || !c->dlg)
		return CV_ECLOSED;
	char body[64];
	int n = snprintf(body, sizeof(body), "Signal=%c\r\nDuration=%u\r\n",
			 digit, duration_ms);
	struct cv_dlg_req r = {.method = CV_SIP_INFO,
			       .content_type = CV_PL("application/dtmf-relay"),
			       .body = {body, (size_t)n}};
	struct cv_txn *ct;
	int err = cv_dlg_request(c->dlg, &r, &ct);
	if (!err)
		cv_txn_release(ct);
	return err;
}

void cv_call_set_media(struct cv_call *c, const struct cv_call_media_ops *media,
		       void *marg)
{
	c->media = media;
	c->marg = marg;
}

void cv_call_set_uarg(struct cv_call *c, void *uarg)
{
	c->uarg = uarg;
}

void cv_call_release(struct cv_call *c)
{
	if (!c)
		return;
	if (c->state != CV_CALL_ENDED)
		cv_call_hangup(c);
	c->released = true;
	cv_mem_unref(c);
}

static void drop_ct(struct cv_call *c, struct cv_txn **ct)
{
	if (*ct) {
		cv_txn_set_uarg(*ct, NULL);
		cv_txn_release(*ct);
		*ct = NULL;
		cv_mem_unref(c);
	}
}

void call_destroy_all(struct cv_agent *ag)
{
	while (ag->calls) {
		struct cv_call *c = cv_mem_ref(ag->calls);
		c->released = true;
		drop_ct(c, &c->inv_ct);
		drop_ct(c, &c->re_ct);
		drop_ct(c, &c->refer_ct);
		if (c->inv_st) {
			cv_txn_release(c->inv_st);
			c->inv_st = NULL;
		}
		if (c->state == CV_CALL_ENDED)
			list_del(c);
		else
			set_state(c, CV_CALL_ENDED, 0, "shutdown");
		cv_mem_unref(c);
	}
}

enum cv_call_state cv_call_state(const struct cv_call *c)
{
	return c->state;
}
bool cv_call_is_outgoing(const struct cv_call *c)
{
	return c->outgoing;
}
const char *cv_call_remote_uri(const struct cv_call *c)
{
	return c->remote_uri ? c->remote_uri : "";
}
const char *cv_call_id(const struct cv_call *c)
{
	return c->call_id ? c->call_id : "";
}
void *cv_call_uarg(const struct cv_call *c)
{
	return c->uarg;
}
const struct cv_sdp_neg *cv_call_neg(const struct cv_call *c)
{
	return c->have_neg ? &c->neg : NULL;
}
struct cv_call *cv_call_replaces(const struct cv_call *c)
{
	return c->replaces;
}

uint32_t cv_call_session_expires(const struct cv_call *c, bool *we)
{
	if (we)
		*we = c->se_we_refresh;
	return c->se;
}
