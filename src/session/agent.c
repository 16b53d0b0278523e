/* The agent: one per worker, the UA core's application for calls and
 * registrations. */
#include <stdlib.h>
#include <string.h>

#include "session_int.h"

static void reply(struct cv_txn *st, uint16_t status, const char *hdrs)
{
	struct cv_txn_resp_params rp = {.headers = cv_pl_str(hdrs)};
	cv_txn_respond(st, status, &rp);
	cv_txn_release(st);
}

static void on_request(struct cv_ua *ua, struct cv_txn *st,
		       struct cv_sip_msg *req, struct cv_dlg *dlg, void *arg)
{
	struct cv_agent *ag = arg;
	if (dlg) {
		int *kind = cv_dlg_uarg(dlg);
		if (kind && *kind == UARG_SUB)
			sub_request((struct cv_sub *)(void *)kind, st, req);
		else
			call_request(ag, st, req, dlg);
		return;
	}
	switch (req->method) {
	case CV_SIP_SUBSCRIBE:
		sub_incoming(ag, st, req);
		return;
	case CV_SIP_INVITE:
		call_incoming(ag, st, req);
		return;
	case CV_SIP_OPTIONS:
		reply(st, 200,
		      SESSION_ALLOW
		      "Accept: application/sdp\r\n" SESSION_SUPPORTED);
		return;
	case CV_SIP_MESSAGE:
		reply(st, 200, NULL);
		if (ag->h->message)
			ag->h->message(ag, req, ag->arg);
		return;
	case CV_SIP_NOTIFY:
	case CV_SIP_PRACK:
		/* RFC 6665 §4.1.3 / RFC 3262 §3: no subscription or dialog */
		reply(st, 481, NULL);
		return;
	default:
		reply(st, 405, SESSION_ALLOW);
		return;
	}
	(void)ua;
}

static void on_ack(struct cv_ua *ua, struct cv_dlg *dlg, struct cv_sip_msg *ack,
		   void *arg)
{
	call_ack(arg, dlg, ack);
}

static void on_cancel(struct cv_ua *ua, struct cv_txn *st,
		      struct cv_sip_msg *cancel, void *arg)
{
	call_cancelled(arg, st, cancel);
}

static void on_response(struct cv_ua *ua, struct cv_txn *ct,
			const struct cv_txn_resp *r, void *arg)
{
	int *kind = cv_txn_uarg(ct);
	if (!kind)
		return;
	if (*kind == UARG_CALL)
		call_response((struct cv_call *)(void *)kind, ct, r);
	else if (*kind == UARG_REGC)
		regc_response((struct cv_regc *)(void *)kind, ct, r);
	else if (*kind == UARG_OREQ)
		oreq_response((struct oreq *)(void *)kind, ct, r);
	else if (*kind == UARG_SUB)
		sub_response((struct cv_sub *)(void *)kind, ct, r);
}

static void on_ack_timeout(struct cv_ua *ua, struct cv_dlg *dlg, void *arg)
{
	call_ack_timeout(arg, dlg);
}

static void on_prack_timeout(struct cv_ua *ua, struct cv_dlg *dlg, void *arg)
{
	call_prack_timeout(arg, dlg);
}

static bool on_no_dialog(struct cv_ua *ua, struct cv_txn *st,
			 struct cv_sip_msg *req, void *arg)
{
	return sub_orphan(arg, st, req);
}

static const struct cv_ua_handlers handlers = {
	.prack_timeout = on_prack_timeout,
	.no_dialog = on_no_dialog,
	.request = on_request,
	.ack = on_ack,
	.cancel = on_cancel,
	.response = on_response,
	.ack_timeout = on_ack_timeout,
};

int cv_agent_create(struct cv_agent **agp, const struct cv_agent_params *p)
{
	if (!p || !p->tp || !p->w || !p->h)
		return -EINVAL;
	struct cv_agent *ag = calloc(1, sizeof(*ag));
	if (!ag)
		return -ENOMEM;
	ag->w = p->w;
	ag->tp = p->tp;
	ag->h = p->h;
	ag->arg = p->arg;
	ag->contact_user = strdup(p->contact_user ? p->contact_user : "cvoip");
	ag->session_expires = p->session_expires == UINT32_MAX ? 0
			      : p->session_expires ? p->session_expires
						   : 1800;
	ag->min_se = p->min_se ? p->min_se : 90;
	if (ag->session_expires && ag->session_expires < ag->min_se)
		ag->session_expires = ag->min_se;
	ag->no_100rel = p->no_100rel;
	static const char *const supported[] = {"100rel", "timer", "replaces",
						NULL};
	struct cv_ua_params up = {.tp = p->tp,
				  .w = p->w,
				  .h = &handlers,
				  .arg = ag,
				  .user_agent = p->user_agent ? p->user_agent
							      : "cvoip",
				  .trying_ms = p->trying_ms,
				  .supported = supported};
	int err = ag->contact_user ? cv_ua_create(&ag->ua, &up) : -ENOMEM;
	if (err) {
		free(ag->contact_user);
		free(ag);
		return err;
	}
	*agp = ag;
	return 0;
}

void cv_agent_destroy(struct cv_agent *ag)
{
	if (!ag)
		return;
	call_destroy_all(ag);
	sub_destroy_all(ag);
	regc_destroy_all(ag);
	oreq_destroy_all(ag);
	cv_ua_destroy(ag->ua);
	free(ag->contact_user);
	free(ag);
}

void cv_agent_recv(struct cv_agent *ag, const struct cv_tp_rx *rx)
{
	cv_ua_recv(ag->ua, rx);
}

struct cv_ua *cv_agent_ua(struct cv_agent *ag)
{
	return ag->ua;
}

size_t cv_agent_calls(const struct cv_agent *ag)
{
	return ag->ncalls;
}
