/* Calls: the INVITE usage (RFC 3261 §13-15) with RFC 3264 offer/answer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session_int.h"

#define MOD "call"

static const char *const state_names[] = {"idle",     "calling", "incoming",
					  "ringing",  "early",   "answered",
					  "ended"};

const char *cv_call_state_name(enum cv_call_state s)
{
	return (unsigned)s < CV_ARRAY_SIZE(state_names) ? state_names[s] : "?";
}

static void call_dtor(void *obj)
{
	struct cv_call *c = obj;
	cv_mem_unref(c->remote_offer);
	cv_mem_unref(c->local_offer);
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

static void set_state(struct cv_call *c, enum cv_call_state st, uint16_t status,
		      const char *reason)
{
	if (c->state == st || c->state == CV_CALL_ENDED)
		return;
	c->state = st;
	cv_mem_ref(c);
	/* media stops before the application hears of the end, so it may
	 * release the call (and its media) from the callback */
	if (st == CV_CALL_ENDED && c->media)
		c->media->stop(c->marg);
	if (!c->released && c->ag->h->state)
		c->ag->h->state(c, st, status, reason, c->uarg);
	if (st == CV_CALL_ENDED) {
		if (c->dlg) {
			cv_dlg_set_uarg(c->dlg, NULL);
			cv_dlg_terminate(c->dlg);
			cv_dlg_release(c->dlg);
			c->dlg = NULL;
		}
		list_del(c);
	}
	cv_mem_unref(c);
}

static void reason_of(const struct cv_txn_resp *r, char *out, size_t size)
{
	if (r->msg && r->msg->reason.l)
		cv_pl_strcpy(r->msg->reason, out, size);
	else
		snprintf(out, size, "%s", r->local ? (r->status == 408 ? "Request Timeout (local)"
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
				    proxy ? "Proxy-Authorization" : "Authorization",
				    (int)v.len, v.data);
	cv_buf_free(&v);
	return err;
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
	cv_buf_append_str(&hdrs, "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, MESSAGE\r\n");
	if (hdrs.err) {
		err = hdrs.err;
		goto out;
	}
	struct cv_ua_req r = {
		.method = CV_SIP_INVITE,
		.ruri = cv_pl_str(c->target),
		.from_uri = cv_pl_str(c->from),
		.from_display = cv_pl_str(c->from_display),
		.from_tag = cv_pl_str(c->from_tag),
		.to_uri = cv_pl_str(c->to),
		.call_id = cv_pl_str(c->call_id),
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
		cv_pl_strcpy(m->call_id, c->call_id, sizeof(c->call_id));
		cv_pl_strcpy(m->from.tag, c->from_tag, sizeof(c->from_tag));
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
	int err = -ENOMEM;
	if (!c->target || !c->from || !c->from_display || !c->to || !c->headers ||
	    !c->remote_uri)
		goto fail;
	if (p->auth.user) {
		c->auth_user = strdup(p->auth.user);
		c->auth_pass = strdup(p->auth.password ? p->auth.password : "");
		if (!c->auth_user || !c->auth_pass)
			goto fail;
	}
	err = cv_ua_addr_from_uri(ag->ua, cv_pl_str(p->proxy ? p->proxy : p->target),
				  &c->dst);
	if (err)
		goto fail;
	err = send_invite(c, NULL);
	if (err)
		goto fail;
	c->state = CV_CALL_CALLING;
	list_add(ag, c);
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
		cv_mem_unref(c);
	}
}

static void invite_response(struct cv_call *c, const struct cv_txn_resp *r)
{
	struct cv_sip_msg *m = r->msg;
	char reason[128];
	reason_of(r, reason, sizeof(reason));
	uint16_t st = r->status;
	if (st < 200) {
		if (c->state == CV_CALL_ENDED)
			return;
		if (m && m->to.tag.l && !c->dlg &&
		    cv_dlg_create_uac(&c->dlg, c->ag->ua, c->inv_ct, m) == 0)
			cv_dlg_set_uarg(c->dlg, c);
		if (st == 183 && m && m->body.l && !c->have_neg) {
			struct cv_sdp *ans;
			if (parse_sdp(m, &ans) == 0) {
				if (cv_sdp_answer_process(&c->neg, c->local_offer, ans) == 0)
					apply_neg(c);
				cv_mem_unref(ans);
			}
			set_state(c, CV_CALL_EARLY, st, reason);
		} else if (st >= 180) {
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
		cv_dlg_ack(d, m, (struct cv_pl)CV_PL_INIT, (struct cv_pl)CV_PL_INIT);
		if (c->state == CV_CALL_ENDED || c->state == CV_CALL_ANSWERED ||
		    (c->dlg && c->dlg != d)) {
			/* a second fork answered, or we hung up meanwhile:
			 * ACK and BYE it (§13.2.2.4) */
			struct cv_dlg_req br = {.method = CV_SIP_BYE};
			struct cv_txn *bt;
			if (cv_dlg_request(d, &br, &bt) == 0)
				cv_txn_release(bt);
			cv_dlg_terminate(d);
			cv_dlg_release(d);
			if (c->state == CV_CALL_ENDED)
				end_invite_ct(c);
			return;
		}
		if (!c->dlg) {
			c->dlg = d;
			cv_dlg_set_uarg(d, c);
		} else {
			cv_dlg_release(d);
		}
		struct cv_sdp *ans;
		if (parse_sdp(m, &ans) == 0) {
			if (cv_sdp_answer_process(&c->neg, c->local_offer, ans) == 0)
				apply_neg(c);
			cv_mem_unref(ans);
		}
		end_invite_ct(c);
		set_state(c, CV_CALL_ANSWERED, st, reason);
		return;
	}
	if ((st == 401 || st == 407) && m && c->auth_user && c->auth_tries < 2 &&
	    c->state != CV_CALL_ENDED) {
		struct cv_buf ah;
		cv_buf_init(&ah, 4096);
		int err = session_auth_header(&ah, m, c->auth_user, c->auth_pass,
					      "INVITE", c->target);
		if (!err) {
			c->auth_tries++;
			end_invite_ct(c);
			err = send_invite(c, ah.data);
		}
		cv_buf_free(&ah);
		if (!err)
			return;
	}
	end_invite_ct(c);
	set_state(c, CV_CALL_ENDED, st, reason);
}

static void reinvite_response(struct cv_call *c, struct cv_txn *ct,
			      const struct cv_txn_resp *r)
{
	if (r->status < 200)
		return;
	cv_txn_set_uarg(ct, NULL);
	cv_txn_release(ct);
	c->re_ct = NULL;
	if (r->status < 300 && r->msg && c->dlg) {
		cv_dlg_ack(c->dlg, r->msg, (struct cv_pl)CV_PL_INIT,
			   (struct cv_pl)CV_PL_INIT);
		struct cv_sdp *ans;
		if (parse_sdp(r->msg, &ans) == 0) {
			if (cv_sdp_answer_process(&c->neg, c->local_offer, ans) == 0)
				apply_neg(c);
			cv_mem_unref(ans);
		}
	} else if (r->status == 481 || r->status == 408) {
		/* §14.1: the dialog is gone */
		set_state(c, CV_CALL_ENDED, r->status, "re-INVITE failed");
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
		reinvite_response(c, ct, r);
	cv_mem_unref(c);
}

/* ---- incoming ------------------------------------------------------------- */

void call_incoming(struct cv_agent *ag, struct cv_txn *st, struct cv_sip_msg *req)
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
	cv_pl_strcpy(req->call_id, c->call_id, sizeof(c->call_id));
	int err = c->remote_uri ? 0 : -ENOMEM;
	if (!err && req->body.l) {
		err = parse_sdp(req, &c->remote_offer);
		if (err) {
			struct cv_txn_resp_params rp = {.reason = "Bad SDP"};
			cv_txn_respond(st, 400, &rp);
			cv_txn_release(st);
			c->inv_st = NULL;
			cv_mem_unref(c);
			return;
		}
	}
	if (!err)
		err = cv_dlg_create_uas(&c->dlg, ag->ua, st, cv_pl_str(ag->contact_user));
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
	if (!c->inv_st)
		return CV_ECLOSED;
	int err = respond_inv(c, 180, NULL, NULL, NULL);
	if (!err)
		set_state(c, CV_CALL_RINGING, 180, "Ringing");
	return err;
}

int cv_call_answer(struct cv_call *c)
{
	if (!c->inv_st || !c->dlg)
		return CV_ECLOSED;
	struct cv_buf sdp;
	cv_buf_init(&sdp, 65536);
	int err = local_sdp(c, false, c->remote_offer, &sdp);
	if (err && c->remote_offer) {
		char w[160];
		snprintf(w, sizeof(w),
			 "Warning: 305 cvoip \"Incompatible media format\"\r\n");
		respond_inv(c, 488, NULL, w, NULL);
		cv_buf_free(&sdp);
		set_state(c, CV_CALL_ENDED, 488, "Not Acceptable Here");
		return err;
	}
	if (err) {
		cv_buf_free(&sdp);
		return err;
	}
	if (c->remote_offer)
		apply_neg(c);
	err = respond_inv(c, 200, NULL, NULL, &sdp);
	cv_buf_free(&sdp);
	if (!err)
		set_state(c, CV_CALL_ANSWERED, 200, "OK");
	return err;
}

int cv_call_reject(struct cv_call *c, uint16_t status, const char *reason)
{
	if (!c->inv_st || status < 300)
		return CV_ECLOSED;
	int err = respond_inv(c, status, reason, NULL, NULL);
	set_state(c, CV_CALL_ENDED, status, reason ? reason : cv_sip_reason(status));
	return err;
}

void call_cancelled(struct cv_agent *ag, struct cv_txn *st)
{
	struct cv_call *c = cv_txn_uarg(st);
	if (!c || c->kind != UARG_CALL || c->inv_st != st)
		return;
	respond_inv(c, 487, NULL, NULL, NULL);
	set_state(c, CV_CALL_ENDED, 487, "Request Terminated");
}

void call_ack(struct cv_agent *ag, struct cv_dlg *dlg, struct cv_sip_msg *ack)
{
	struct cv_call *c = cv_dlg_uarg(dlg);
	if (!c || c->kind != UARG_CALL)
		return;
	/* late offer: the answer comes in the ACK (§13.2.1) */
	if (!c->remote_offer && c->local_offer && ack->body.l && !c->have_neg) {
		struct cv_sdp *ans;
		if (parse_sdp(ack, &ans) == 0) {
			if (cv_sdp_answer_process(&c->neg, c->local_offer, ans) == 0)
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

static void answer_reinvite(struct cv_call *c, struct cv_txn *st,
			    struct cv_sip_msg *req)
{
	struct cv_sdp *offer = NULL;
	struct cv_buf sdp;
	cv_buf_init(&sdp, 65536);
	int err = parse_sdp(req, &offer);
	if (err == 0) {
		c->sess_version++;
		err = local_sdp(c, c->hold, offer, &sdp);
		if (err) {
			struct cv_txn_resp_params rp = {
				.headers = CV_PL("Warning: 305 cvoip \"Incompatible media format\"\r\n")};
			cv_dlg_respond(c->dlg, st, 488, &rp);
		} else {
			cv_mem_unref(c->remote_offer);
			c->remote_offer = cv_mem_ref(offer);
			apply_neg(c);
		}
	} else {
		/* no offer: send ours, the answer comes in the ACK */
		c->sess_version++;
		err = local_sdp(c, c->hold, NULL, &sdp);
	}
	if (!err) {
		struct cv_txn_resp_params rp = {.content_type = CV_PL("application/sdp"),
						.body = {sdp.data, sdp.len}};
		cv_dlg_refresh_target(c->dlg, req);
		cv_dlg_respond(c->dlg, st, 200, &rp);
	}
	cv_mem_unref(offer);
	cv_buf_free(&sdp);
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
		struct cv_pl k = cv_pl_trim((struct cv_pl){line.p, (size_t)(eq - line.p)});
		struct cv_pl v = cv_pl_trim((struct cv_pl){eq + 1, line.l - (size_t)(eq - line.p) - 1});
		if (cv_pl_caseeq_str(k, "Signal") && v.l)
			sig = v.p[0];
		else if (cv_pl_caseeq_str(k, "Duration"))
			cv_pl_u32(v, &dur);
	}
	if (sig && !c->released && c->ag->h->info_dtmf)
		c->ag->h->info_dtmf(c, sig, dur, c->uarg);
}

void call_request(struct cv_agent *ag, struct cv_txn *st, struct cv_sip_msg *req,
		  struct cv_dlg *dlg)
{
	struct cv_call *c = cv_dlg_uarg(dlg);
	struct cv_txn_resp_params rp = {0};
	if (!c || c->kind != UARG_CALL) {
		cv_txn_respond(st, 481, NULL);
		cv_txn_release(st);
		return;
	}
	cv_mem_ref(c);
	switch (req->method) {
	case CV_SIP_BYE:
		cv_txn_respond(st, 200, NULL);
		if (c->inv_st) /* BYE before our final answer (§15.1.2) */
			respond_inv(c, 487, NULL, NULL, NULL);
		set_state(c, CV_CALL_ENDED, 0, "BYE");
		break;
	case CV_SIP_INVITE:
		if (c->re_ct || c->inv_st || c->inv_ct) {
			rp.headers = CV_PL("Retry-After: 1\r\n");
			cv_txn_respond(st, 491, &rp); /* §14.2 glare */
		} else {
			answer_reinvite(c, st, req);
		}
		break;
	case CV_SIP_INFO:
		info_request(c, req);
		cv_txn_respond(st, 200, NULL);
		break;
	case CV_SIP_UPDATE:
		cv_txn_respond(st, 200, NULL);
		break;
	case CV_SIP_ACK:
		break;
	default:
		cv_txn_respond(st, 405, NULL);
		break;
	}
	cv_txn_release(st);
	cv_mem_unref(c);
}

/* ---- application actions ------------------------------------------------ */

int cv_call_hangup(struct cv_call *c)
{
	switch (c->state) {
	case CV_CALL_ENDED:
		return 0;
	case CV_CALL_INCOMING:
	case CV_CALL_RINGING:
	case CV_CALL_EARLY:
		if (!c->outgoing)
			return cv_call_reject(c, 603, "Decline");
		/* fall through */
	case CV_CALL_CALLING:
		if (c->inv_ct) {
			struct cv_txn_cancel_params cp = {0};
			cv_txn_cancel(c->inv_ct, &cp);
		}
		set_state(c, CV_CALL_ENDED, 0, "CANCEL");
		return 0;
	case CV_CALL_ANSWERED:
		if (c->dlg) {
			struct cv_dlg_req br = {.method = CV_SIP_BYE};
			struct cv_txn *bt;
			if (cv_dlg_request(c->dlg, &br, &bt) == 0)
				cv_txn_release(bt);
		}
		set_state(c, CV_CALL_ENDED, 0, "BYE");
		return 0;
	default:
		set_state(c, CV_CALL_ENDED, 0, NULL);
		return 0;
	}
}

int cv_call_hold(struct cv_call *c, bool hold)
{
	if (c->state != CV_CALL_ANSWERED || !c->dlg)
		return CV_ECLOSED;
	if (c->re_ct)
		return -EBUSY;
	c->hold = hold;
	c->sess_version++;
	struct cv_buf sdp;
	cv_buf_init(&sdp, 65536);
	int err = local_sdp(c, hold, NULL, &sdp);
	if (!err) {
		struct cv_dlg_req r = {.method = CV_SIP_INVITE,
				       .content_type = CV_PL("application/sdp"),
				       .body = {sdp.data, sdp.len},
				       .uarg = c};
		err = cv_dlg_request(c->dlg, &r, &c->re_ct);
		if (!err)
			cv_mem_ref(c);
	}
	cv_buf_free(&sdp);
	return err;
}

int cv_call_send_info_dtmf(struct cv_call *c, char digit, uint32_t duration_ms)
{
	if (c->state != CV_CALL_ANSWERED || !c->dlg)
		return CV_ECLOSED;
	char body[64];
	int n = snprintf(body, sizeof(body), "Signal=%c\r\nDuration=%u\r\n", digit,
			 duration_ms);
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

void call_destroy_all(struct cv_agent *ag)
{
	while (ag->calls) {
		struct cv_call *c = ag->calls;
		c->released = true;
		if (c->inv_ct) {
			cv_txn_set_uarg(c->inv_ct, NULL);
			cv_txn_release(c->inv_ct);
			c->inv_ct = NULL;
			cv_mem_unref(c);
		}
		if (c->re_ct) {
			cv_txn_set_uarg(c->re_ct, NULL);
			cv_txn_release(c->re_ct);
			c->re_ct = NULL;
			cv_mem_unref(c);
		}
		if (c->inv_st) {
			cv_txn_release(c->inv_st);
			c->inv_st = NULL;
		}
		set_state(c, CV_CALL_ENDED, 0, "shutdown");
	}
}

enum cv_call_state cv_call_state(const struct cv_call *c) { return c->state; }
bool cv_call_is_outgoing(const struct cv_call *c) { return c->outgoing; }
const char *cv_call_remote_uri(const struct cv_call *c) { return c->remote_uri ? c->remote_uri : ""; }
const char *cv_call_id(const struct cv_call *c) { return c->call_id; }
void *cv_call_uarg(const struct cv_call *c) { return c->uarg; }
const struct cv_sdp_neg *cv_call_neg(const struct cv_call *c) { return c->have_neg ? &c->neg : NULL; }
