/* Subscriptions (RFC 6665): SUBSCRIBE/NOTIFY as subscriber and as
 * notifier, with refresh, expiry and termination. The body of each event
 * package is the application's (see events.c for readers). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session_int.h"

#define MOD "sub"

static void sub_dtor(void *obj)
{
	struct cv_sub *s = obj;
	cv_tmr_cancel(&s->tmr);
	free(s->event);
	free(s->accept);
	free(s->target);
	free(s->from);
	free(s->remote);
	free(s->auth_user);
	free(s->auth_pass);
	free(s->ctype);
	free(s->body);
	cv_ua_addr_clear(&s->dst);
}

static void list_add(struct cv_sub *s)
{
	struct cv_agent *ag = s->ag;
	s->next = ag->subs;
	if (ag->subs)
		ag->subs->prev = s;
	ag->subs = s;
	s->in_list = true;
	cv_mem_ref(s);
}

static void list_del(struct cv_sub *s)
{
	if (!s->in_list)
		return;
	if (s->prev)
		s->prev->next = s->next;
	else
		s->ag->subs = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->next = s->prev = NULL;
	s->in_list = false;
	cv_mem_unref(s);
}

static void drop_ct(struct cv_sub *s)
{
	if (s->ct) {
		cv_txn_set_uarg(s->ct, NULL);
		cv_txn_release(s->ct);
		s->ct = NULL;
		cv_mem_unref(s);
	}
}

/* The end, once: the handler hears it, the dialog goes. */
static void sub_end(struct cv_sub *s, uint16_t status, const char *reason)
{
	if (s->ended)
		return;
	s->ended = true;
	cv_mem_ref(s);
	cv_tmr_cancel(&s->tmr);
	if (!s->released && s->h && s->h->ended)
		s->h->ended(s, status, reason ? reason : "", s->uarg);
	if (s->dlg) {
		cv_dlg_set_uarg(s->dlg, NULL);
		cv_dlg_terminate(s->dlg);
		cv_dlg_release(s->dlg);
		s->dlg = NULL;
	}
	list_del(s);
	cv_mem_unref(s);
}

static uint32_t expires_of(const struct cv_sip_msg *m, uint32_t dflt)
{
	const struct cv_sip_hdr *h = cv_sip_msg_hdr(m, CV_SIP_HDR_EXPIRES);
	uint32_t v;
	if (h && cv_sip_u32_parse(h->value, &v) == 0)
		return v;
	return dflt;
}

static bool same_event(const struct cv_sip_msg *m, const char *event)
{
	const struct cv_sip_hdr *h = cv_sip_msg_hdr(m, CV_SIP_HDR_EVENT);
	struct cv_sip_event e;
	return h && cv_sip_event_parse(h->value, &e) == 0 &&
	       cv_pl_caseeq_str(e.package, event);
}

/* ---- subscriber
 * -------------------------------------------------------------- */

static void refresh_fire(struct cv_tmr *t, void *arg);

static int send_subscribe(struct cv_sub *s, const char *auth)
{
	struct cv_buf h;
	cv_buf_init(&h, 8192);
	cv_buf_printf(&h, "Event: %s\r\nExpires: %u\r\nAccept: %s\r\n",
		      s->event, s->unsubscribing ? 0 : s->expires, s->accept);
	if (auth)
		cv_buf_append_str(&h, auth);
	int err = h.err;
	if (!err && s->dlg) {
		struct cv_dlg_req r = {.method = CV_SIP_SUBSCRIBE,
				       .headers = {h.data, h.len},
				       .uarg = s};
		err = cv_dlg_request(s->dlg, &r, &s->ct);
	} else if (!err) {
		struct cv_ua_req r = {
			.method = CV_SIP_SUBSCRIBE,
			.ruri = cv_pl_str(s->target),
			.from_uri = cv_pl_str(s->from),
			.from_tag = cv_pl_str(s->from_tag),
			.to_uri = cv_pl_str(s->target),
			.call_id = cv_pl_str(s->call_id),
			.cseq = ++s->cseq,
			.contact_user = cv_pl_str(s->ag->contact_user),
			.headers = {h.data, h.len},
			.dst = &s->dst,
			.uarg = s,
		};
		err = cv_ua_request(s->ag->ua, &r, &s->ct);
		if (!err) {
			const struct cv_sip_msg *m = cv_txn_request(s->ct);
			cv_pl_strcpy(m->call_id, s->call_id,
				     sizeof(s->call_id));
			cv_pl_strcpy(m->from.tag, s->from_tag,
				     sizeof(s->from_tag));
		}
	}
	if (!err)
		cv_mem_ref(s); /* while the SUBSCRIBE is pending */
	cv_buf_free(&h);
	return err;
}

static void refresh_fire(struct cv_tmr *t, void *arg)
{
	struct cv_sub *s = arg;
	if (s->ended)
		return;
	if (s->unsubscribing) {
		/* no terminating NOTIFY came: end anyway */
		sub_end(s, 408, "No final NOTIFY");
		return;
	}
	s->auth_tries = 0;
	if (s->ct || send_subscribe(s, NULL) != 0)
		cv_tmr_start(cv_worker_wheel(s->ag->w), &s->tmr, 1000000ull,
			     refresh_fire, s);
}

static void arm_refresh(struct cv_sub *s, uint32_t granted)
{
	uint64_t us = granted > 1 ? granted * 500000ull : 1000000ull;
	cv_tmr_start(cv_worker_wheel(s->ag->w), &s->tmr, us, refresh_fire, s);
}

static void arm_unsub_guard(struct cv_sub *s)
{
	/* §4.1.2.3: the notifier's final NOTIFY ends it; not forever */
	cv_tmr_start(cv_worker_wheel(s->ag->w), &s->tmr, 5000000ull,
		     refresh_fire, s);
}

int cv_sub_create(struct cv_sub **sp, struct cv_agent *ag,
		  const struct cv_sub_params *p)
{
	if (!p || !p->target || !p->event || !*p->event)
		return -EINVAL;
	struct cv_sub *s = cv_mem_zalloc(sizeof(*s), sub_dtor);
	if (!s)
		return -ENOMEM;
	s->kind = UARG_SUB;
	s->ag = ag;
	cv_tmr_init(&s->tmr);
	s->h = p->h;
	s->uarg = p->uarg;
	s->expires = p->expires ? p->expires : 600;
	const char *accept = p->accept;
	if (!accept) {
		if (!strcmp(p->event, "presence"))
			accept = "application/pidf+xml";
		else if (!strcmp(p->event, "message-summary"))
			accept = "application/simple-message-summary";
		else if (!strcmp(p->event, "dialog"))
			accept = "application/dialog-info+xml";
		else
			accept = "*/*";
	}
	int err = cv_ua_addr_from_uri(
		ag->ua, cv_pl_str(p->proxy ? p->proxy : p->target), &s->dst);
	char from[512] = "";
	if (!err && !p->from) {
		char contact[300];
		err = cv_ua_contact_uri(ag->ua, &s->dst,
					cv_pl_str(ag->contact_user), contact,
					sizeof(contact));
		snprintf(from, sizeof(from), "%s", contact);
		char *semi = strchr(from, ';');
		if (semi)
			*semi = '\0';
	}
	s->event = strdup(p->event);
	s->accept = strdup(accept);
	s->target = strdup(p->target);
	s->from = strdup(p->from ? p->from : from);
	s->remote = strdup(p->target);
	if (!err &&
	    (!s->event || !s->accept || !s->target || !s->from || !s->remote))
		err = -ENOMEM;
	if (!err && p->auth.user) {
		s->auth_user = strdup(p->auth.user);
		s->auth_pass = strdup(p->auth.password ? p->auth.password : "");
		if (!s->auth_user || !s->auth_pass)
			err = -ENOMEM;
	}
	if (!err)
		err = send_subscribe(s, NULL);
	if (err) {
		cv_mem_unref(s);
		return err;
	}
	list_add(s);
	*sp = s;
	return 0;
}

int cv_sub_unsubscribe(struct cv_sub *s)
{
	if (s->ended || s->notifier)
		return s->notifier ? -EINVAL : 0;
	if (s->unsubscribing)
		return 0;
	s->unsubscribing = true;
	cv_tmr_cancel(&s->tmr);
	if (s->ct)
		return 0; /* sent when the pending SUBSCRIBE is answered */
	if (!s->dlg) {
		sub_end(s, 0, "unsubscribed");
		return 0;
	}
	int err = send_subscribe(s, NULL);
	if (err)
		sub_end(s, 0, "unsubscribed");
	else
		arm_unsub_guard(s);
	return 0;
}

void sub_response(struct cv_sub *s, struct cv_txn *ct,
		  const struct cv_txn_resp *r)
{
	if (r->status < 200 || ct != s->ct)
		return;
	cv_mem_ref(s);
	uint16_t st = r->status;
	struct cv_sip_msg *m = r->msg;
	char reason[128];
	if (m && m->reason.l)
		cv_pl_strcpy(m->reason, reason, sizeof(reason));
	else
		snprintf(reason, sizeof(reason), "%s", cv_sip_reason(st));
	if (st < 300 && m && !s->dlg &&
	    cv_dlg_create_uac(&s->dlg, s->ag->ua, ct, m) == 0)
		cv_dlg_set_uarg(s->dlg, s);
	drop_ct(s);
	if (s->ended)
		goto out;
	if (st < 300) {
		uint32_t granted = m ? expires_of(m, s->expires) : s->expires;
		if (s->unsubscribing) {
			if (granted && s->dlg && send_subscribe(s, NULL) == 0)
				arm_unsub_guard(
					s); /* the 2xx of the initial one */
			else
				arm_unsub_guard(s);
		} else if (!s->dlg) {
			sub_end(s, 500, "No dialog");
		} else {
			arm_refresh(s, granted);
		}
	} else if ((st == 401 || st == 407) && m && s->auth_user &&
		   s->auth_tries < 2) {
		struct cv_buf ah;
		cv_buf_init(&ah, 4096);
		int err =
			session_auth_header(&ah, m, s->auth_user, s->auth_pass,
					    "SUBSCRIBE", s->target);
		s->auth_tries++;
		if (!err)
			err = send_subscribe(s, ah.data);
		cv_buf_free(&ah);
		if (err)
			sub_end(s, st, reason);
	} else if (st == 423 && m && s->tries_423++ < 2 && !s->unsubscribing) {
		/* §4.1.2.1 / RFC 3261 §10.2.8: ask for at least Min-Expires */
		const struct cv_sip_hdr *h =
			cv_sip_msg_hdr(m, CV_SIP_HDR_MIN_EXPIRES);
		uint32_t min;
		if (h && cv_sip_u32_parse(h->value, &min) == 0 &&
		    min > s->expires) {
			s->expires = min;
			if (send_subscribe(s, NULL) == 0)
				goto out;
		}
		sub_end(s, st, reason);
	} else if (s->dlg && st != 481 && st != 408 && !s->unsubscribing &&
		   st != 489 && st != 403) {
		/* a failed refresh leaves the subscription until it lapses */
		arm_refresh(s, 60);
	} else {
		sub_end(s, s->unsubscribing && s->dlg ? 0 : st, reason);
	}
out:
	cv_mem_unref(s);
}

static void notify_received(struct cv_sub *s, struct cv_txn *st,
			    struct cv_sip_msg *req)
{
	if (!same_event(req, s->event)) {
		cv_txn_respond(st, 489, NULL); /* §4.1.3 */
		return;
	}
	const struct cv_sip_hdr *h =
		cv_sip_msg_hdr(req, CV_SIP_HDR_SUBSCRIPTION_STATE);
	struct cv_sip_substate ss;
	if (!h || cv_sip_substate_parse(h->value, &ss) != 0) {
		struct cv_txn_resp_params rp = {
			.reason = "Bad Subscription-State"};
		cv_txn_respond(st, 400, &rp);
		return;
	}
	cv_txn_respond(st, 200, NULL);
	cv_dlg_refresh_target(s->dlg, req);
	char state[32], reason[64];
	cv_pl_strcpy(ss.state, state, sizeof(state));
	cv_pl_strcpy(ss.reason, reason, sizeof(reason));
	cv_mem_ref(s);
	if (!s->released && s->h && s->h->notify)
		s->h->notify(s, state, reason, req, s->uarg);
	if (cv_pl_caseeq_str(ss.state, "terminated"))
		sub_end(s, 0, reason[0] ? reason : "terminated");
	else if (ss.expires >= 0 && !s->unsubscribing && !s->ct &&
		 (uint64_t)ss.expires * 1000000ull <
			 (cv_tmr_active(&s->tmr) ? s->tmr.due_us - cv_clock_us()
						 : UINT64_MAX))
		arm_refresh(s, (uint32_t)CV_MIN(ss.expires, 0x7fffffff));
	cv_mem_unref(s);
}

bool sub_orphan(struct cv_agent *ag, struct cv_txn *st, struct cv_sip_msg *req)
{
	if (req->method != CV_SIP_NOTIFY)
		return false;
	for (struct cv_sub *s = ag->subs; s; s = s->next) {
		if (s->notifier || s->ended || s->dlg || !s->ct ||
		    !cv_pl_eq_str(req->call_id, s->call_id) ||
		    !cv_pl_eq_str(req->to.tag, s->from_tag))
			continue;
		/* §4.1.2.4: the NOTIFY came before the 2xx: it makes the dialog
		 */
		if (cv_dlg_create_uac_req(&s->dlg, ag->ua, s->ct, req) != 0)
			return false;
		cv_dlg_set_uarg(s->dlg, s);
		sub_request(s, st, req);
		return true;
	}
	return false;
}

/* ---- notifier
 * -------------------------------------------------------------------- */

static void expiry_fire(struct cv_tmr *t, void *arg);

static void send_notify(struct cv_sub *s, const char *reason_terminated)
{
	if (!s->dlg)
		return;
	char hdrs[256], state[96];
	if (reason_terminated) {
		snprintf(state, sizeof(state), "terminated;reason=%s",
			 reason_terminated);
	} else {
		uint64_t now = cv_clock_us();
		uint64_t left =
			s->expires_at_us > now
				? (s->expires_at_us - now + 999999) / 1000000
				: 0;
		snprintf(state, sizeof(state), "%s;expires=%llu",
			 s->pending ? "pending" : "active",
			 (unsigned long long)left);
	}
	snprintf(hdrs, sizeof(hdrs), "Event: %s\r\nSubscription-State: %s\r\n",
		 s->event, state);
	struct cv_dlg_req r = {.method = CV_SIP_NOTIFY,
			       .headers = cv_pl_str(hdrs)};
	if (s->body && *s->body && !reason_terminated) {
		r.content_type = cv_pl_str(s->ctype);
		r.body = cv_pl_str(s->body);
	}
	struct cv_txn *ct;
	if (cv_dlg_request(s->dlg, &r, &ct) == 0)
		cv_txn_release(ct);
}

static void arm_expiry(struct cv_sub *s, uint32_t granted)
{
	s->expires = granted;
	s->expires_at_us = cv_clock_us() + granted * 1000000ull;
	cv_tmr_start(cv_worker_wheel(s->ag->w), &s->tmr, granted * 1000000ull,
		     expiry_fire, s);
}

static void expiry_fire(struct cv_tmr *t, void *arg)
{
	struct cv_sub *s = arg;
	if (s->ended)
		return;
	cv_mem_ref(s);
	send_notify(s, "timeout"); /* §4.2.2 */
	sub_end(s, 0, "expired");
	cv_mem_unref(s);
}

void sub_incoming(struct cv_agent *ag, struct cv_txn *st,
		  struct cv_sip_msg *req)
{
	const struct cv_sip_hdr *eh = cv_sip_msg_hdr(req, CV_SIP_HDR_EVENT);
	struct cv_sip_event ev;
	if (!eh || cv_sip_event_parse(eh->value, &ev) != 0 || !ev.package.l ||
	    ev.package.l > 64) {
		struct cv_txn_resp_params rp = {.reason = "Bad Event"};
		cv_txn_respond(st, 400, &rp);
		cv_txn_release(st);
		return;
	}
	struct cv_sub *s = cv_mem_zalloc(sizeof(*s), sub_dtor);
	if (!s) {
		cv_txn_respond(st, 500, NULL);
		cv_txn_release(st);
		return;
	}
	s->kind = UARG_SUB;
	s->ag = ag;
	s->notifier = true;
	cv_tmr_init(&s->tmr);
	s->event = cv_pl_strdup(ev.package);
	s->remote = cv_pl_strdup(req->from.uri);
	s->expires = expires_of(req, 600);
	int err = s->event && s->remote ? 0 : -ENOMEM;
	if (!err)
		err = cv_dlg_create_uas(&s->dlg, ag->ua, st,
					cv_pl_str(ag->contact_user));
	if (err) {
		cv_txn_respond(st, err == CV_EPARSE ? 400 : 500, NULL);
		cv_txn_release(st);
		cv_mem_unref(s);
		return;
	}
	cv_dlg_set_uarg(s->dlg, s);
	s->st = st;
	list_add(s);
	cv_mem_unref(s); /* the list's reference holds it */
	cv_mem_ref(s);
	if (ag->h->subscribe)
		ag->h->subscribe(ag, s, req, ag->arg);
	if (!s->accepted) {
		cv_dlg_respond(s->dlg, st, 489, NULL); /* RFC 6665 §4.2.1.1 */
		cv_txn_release(st);
		s->st = NULL;
		s->released = true;
		sub_end(s, 489, "Bad Event");
	}
	cv_mem_unref(s);
}

int cv_sub_accept(struct cv_sub *s, const struct cv_sub_accept_params *p)
{
	if (!s->notifier || !s->st || s->accepted || s->ended)
		return CV_ECLOSED;
	s->h = p->h;
	s->uarg = p->uarg;
	s->pending = p->pending;
	free(s->ctype);
	free(s->body);
	s->ctype = strdup(p->content_type ? p->content_type : "");
	s->body = strdup(p->body ? p->body : "");
	if (!s->ctype || !s->body)
		return -ENOMEM;
	s->max_expires = p->max_expires ? p->max_expires : 3600;
	uint32_t granted = CV_MIN(s->expires, s->max_expires);
	char h[64];
	snprintf(h, sizeof(h), "Expires: %u\r\n", granted);
	struct cv_txn_resp_params rp = {.headers = cv_pl_str(h)};
	int err = cv_dlg_respond(s->dlg, s->st, 200, &rp);
	cv_txn_release(s->st);
	s->st = NULL;
	if (err)
		return err;
	s->accepted = true;
	cv_mem_ref(s); /* the application's */
	if (!granted) {
		/* a fetch (§4.4.3): one NOTIFY with the state, then done */
		s->expires_at_us = cv_clock_us();
		send_notify(s, NULL);
		send_notify(s, "timeout");
		sub_end(s, 0, "fetched");
		return 0;
	}
	arm_expiry(s, granted);
	send_notify(s, NULL); /* §4.2.1.2: at once */
	return 0;
}

int cv_sub_notify(struct cv_sub *s, const char *content_type, const char *body)
{
	if (!s->notifier || !s->accepted || s->ended)
		return CV_ECLOSED;
	char *ct = strdup(content_type ? content_type : "");
	char *b = strdup(body ? body : "");
	if (!ct || !b) {
		free(ct);
		free(b);
		return -ENOMEM;
	}
	free(s->ctype);
	free(s->body);
	s->ctype = ct;
	s->body = b;
	s->pending = false;
	send_notify(s, NULL);
	return 0;
}

int cv_sub_terminate(struct cv_sub *s, const char *reason)
{
	if (!s->notifier || s->ended)
		return CV_ECLOSED;
	cv_mem_ref(s);
	send_notify(s, reason ? reason : "noresource");
	sub_end(s, 0, reason ? reason : "noresource");
	cv_mem_unref(s);
	return 0;
}

void sub_request(struct cv_sub *s, struct cv_txn *st, struct cv_sip_msg *req)
{
	cv_mem_ref(s);
	if (s->ended) {
		cv_txn_respond(st, 481, NULL);
	} else if (req->method == CV_SIP_NOTIFY && !s->notifier) {
		notify_received(s, st, req);
	} else if (req->method == CV_SIP_SUBSCRIBE && s->notifier &&
		   s->accepted) {
		if (!same_event(req, s->event)) {
			cv_txn_respond(st, 489, NULL);
		} else {
			/* §4.2.1.2 refresh, §4.2.1.4 unsubscribe: each gets a
			 * NOTIFY */
			uint32_t want = expires_of(req, 600);
			uint32_t granted = CV_MIN(want, s->max_expires);
			char h[64];
			snprintf(h, sizeof(h), "Expires: %u\r\n", granted);
			struct cv_txn_resp_params rp = {.headers =
								cv_pl_str(h)};
			cv_dlg_refresh_target(s->dlg, req);
			cv_dlg_respond(s->dlg, st, 200, &rp);
			if (!granted) {
				send_notify(s, "timeout");
				sub_end(s, 0, "unsubscribed");
			} else {
				arm_expiry(s, granted);
				send_notify(s, NULL);
			}
		}
	} else {
		struct cv_txn_resp_params rp = {.headers =
							CV_PL(SESSION_ALLOW)};
		cv_txn_respond(st, 405, &rp);
	}
	cv_txn_release(st);
	cv_mem_unref(s);
}

/* ---- both
 * ------------------------------------------------------------------------ */

void cv_sub_release(struct cv_sub *s)
{
	if (!s)
		return;
	s->released = true;
	if (!s->ended) {
		if (s->notifier) {
			cv_sub_terminate(s, "noresource");
		} else if (s->dlg && !s->ct) {
			s->unsubscribing = true;
			if (send_subscribe(s, NULL) == 0)
				arm_unsub_guard(
					s); /* lives on to finish, silently */
			else
				sub_end(s, 0, NULL);
		} else if (s->ct) {
			s->unsubscribing = true; /* sent when answered */
		} else {
			sub_end(s, 0, NULL);
		}
	}
	cv_mem_unref(s);
}

void sub_destroy_all(struct cv_agent *ag)
{
	while (ag->subs) {
		struct cv_sub *s = cv_mem_ref(ag->subs);
		s->released = true;
		drop_ct(s);
		if (s->st) {
			cv_txn_release(s->st);
			s->st = NULL;
		}
		if (!s->ended)
			sub_end(s, 0, "shutdown");
		else
			list_del(s);
		cv_mem_unref(s);
	}
}

const char *cv_sub_event(const struct cv_sub *s)
{
	return s->event;
}
const char *cv_sub_remote_uri(const struct cv_sub *s)
{
	return s->remote ? s->remote : "";
}
bool cv_sub_is_notifier(const struct cv_sub *s)
{
	return s->notifier;
}
