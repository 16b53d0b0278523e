/* Registration client (RFC 3261 §10.2): REGISTER with digest, refresh
 * before expiry, 423 handling, un-register. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session_int.h"

#define MOD "regc"

static void regc_dtor(void *obj)
{
	struct cv_regc *r = obj;
	cv_tmr_cancel(&r->refresh);
	free(r->aor);
	free(r->ruri);
	free(r->user);
	free(r->auth_user);
	free(r->auth_pass);
	for (size_t i = 0; i < r->ncontacts; i++)
		free(r->contacts[i]);
	cv_ua_addr_clear(&r->dst);
}

static void notify(struct cv_regc *r, bool registered, uint16_t status,
		   const char *reason, uint32_t expires)
{
	r->registered = registered;
	if (!r->released && r->h && r->h->state)
		r->h->state(r, registered, status, reason, expires, r->uarg);
}

static int send_register(struct cv_regc *r, const char *auth_hdr)
{
	struct cv_buf hdrs;
	cv_buf_init(&hdrs, 8192);
	cv_buf_printf(&hdrs, "Expires: %u\r\n",
		      r->unregistering ? 0 : r->expires);
	for (size_t i = 0; i < r->ncontacts; i++)
		cv_buf_printf(&hdrs, "Contact: <%s>\r\n", r->contacts[i]);
	if (auth_hdr)
		cv_buf_append_str(&hdrs, auth_hdr);
	if (hdrs.err) {
		cv_buf_free(&hdrs);
		return hdrs.err;
	}
	struct cv_ua_req q = {
		.method = CV_SIP_REGISTER,
		.ruri = cv_pl_str(r->ruri),
		.from_uri = cv_pl_str(r->aor),
		.from_tag = cv_pl_str(r->from_tag),
		.to_uri = cv_pl_str(r->aor),
		.call_id = cv_pl_str(r->call_id),
		.cseq = ++r->cseq,
		.contact_user = cv_pl_str(r->user),
		.headers = {hdrs.data, hdrs.len},
		.dst = &r->dst,
		.uarg = r,
	};
	int err = cv_ua_request(r->ag->ua, &q, &r->ct);
	cv_buf_free(&hdrs);
	if (!err) {
		cv_mem_ref(r);
		const struct cv_sip_msg *m = cv_txn_request(r->ct);
		cv_pl_strcpy(m->call_id, r->call_id, sizeof(r->call_id));
		cv_pl_strcpy(m->from.tag, r->from_tag, sizeof(r->from_tag));
	}
	return err;
}

static void refresh_cb(struct cv_tmr *t, void *arg)
{
	struct cv_regc *r = arg;
	if (r->released || r->ct)
		return;
	r->auth_tries = 0;
	int err = send_register(r, NULL);
	if (err) {
		notify(r, false, 503, "Send failed", 0);
		/* try again in 30 s */
		cv_tmr_start(cv_worker_wheel(r->ag->w), &r->refresh,
			     30000000ull, refresh_cb, r);
	}
}

/* The expiry the registrar granted for our contact: its expires param, or
 * the Expires header (§10.2.4). */
static uint32_t granted_expires(struct cv_regc *r, const struct cv_sip_msg *m)
{
	uint32_t e = 0;
	bool found = false;
	struct cv_sip_vals_iter it = {0};
	struct cv_pl v;
	while (cv_sip_msg_vals_next(m, CV_SIP_HDR_CONTACT, &it, &v) == 0) {
		struct cv_sip_contact c;
		struct cv_sip_uri u;
		if (cv_sip_contact_parse(v, &c) || c.star || c.expires < 0)
			continue;
		if (cv_sip_uri_parse(c.addr.uri, &u) == 0 &&
		    cv_pl_eq_str(u.user, r->user)) {
			e = (uint32_t)CV_MIN(c.expires, (int64_t)UINT32_MAX);
			found = true;
			break;
		}
	}
	if (!found) {
		const struct cv_sip_hdr *h =
			cv_sip_msg_hdr(m, CV_SIP_HDR_EXPIRES);
		if (!h || cv_sip_u32_parse(h->value, &e))
			e = r->expires;
	}
	return e;
}

static unsigned count_bindings(const struct cv_sip_msg *m)
{
	unsigned n = 0;
	struct cv_sip_vals_iter it = {0};
	struct cv_pl v;
	while (cv_sip_msg_vals_next(m, CV_SIP_HDR_CONTACT, &it, &v) == 0) {
		struct cv_sip_contact c;
		if (cv_sip_contact_parse(v, &c) == 0 && !c.star &&
		    c.expires != 0)
			n++;
	}
	return n;
}

unsigned cv_regc_bindings(const struct cv_regc *r)
{
	return r ? r->bindings : 0;
}

void regc_response(struct cv_regc *r, struct cv_txn *ct,
		   const struct cv_txn_resp *resp)
{
	if (resp->status < 200 || ct != r->ct)
		return;
	cv_txn_set_uarg(ct, NULL);
	cv_txn_release(ct);
	r->ct = NULL;
	struct cv_sip_msg *m = resp->msg;
	char reason[128];
	if (m && m->reason.l)
		cv_pl_strcpy(m->reason, reason, sizeof(reason));
	else
		snprintf(reason, sizeof(reason), "%s",
			 cv_sip_reason(resp->status));
	uint16_t st = resp->status;
	if (r->released && !r->unregistering) {
		cv_mem_unref(r);
		return;
	}
	if (st >= 200 && st < 300) {
		r->bindings = m ? count_bindings(m) : 0;
		if (r->unregistering) {
			notify(r, false, st, reason, 0);
		} else {
			r->granted = m ? granted_expires(r, m) : r->expires;
			notify(r, true, st, reason, r->granted);
			/* refresh at half the granted time, and at least 5 s
			 * before it runs out */
			uint64_t in = r->granted > 10 ? r->granted / 2 : 1;
			if (r->granted > 10 && r->granted - in < 5)
				in = r->granted - 5;
			cv_tmr_start(cv_worker_wheel(r->ag->w), &r->refresh,
				     in * 1000000ull, refresh_cb, r);
		}
	} else if ((st == 401 || st == 407) && m && r->auth_user &&
		   r->auth_tries < 2) {
		struct cv_buf ah;
		cv_buf_init(&ah, 4096);
		int err =
			session_auth_header(&ah, m, r->auth_user, r->auth_pass,
					    "REGISTER", r->ruri);
		r->auth_tries++;
		if (!err)
			err = send_register(r, ah.data);
		cv_buf_free(&ah);
		if (err)
			notify(r, false, st, reason, 0);
	} else if (st == 423 && m && !r->unregistering) {
		const struct cv_sip_hdr *h =
			cv_sip_msg_hdr(m, CV_SIP_HDR_MIN_EXPIRES);
		uint32_t min = 0;
		if (h && cv_sip_u32_parse(h->value, &min) == 0 &&
		    min > r->expires && min < 86400) {
			r->expires = min;
			if (send_register(r, NULL) == 0) {
				cv_mem_unref(r);
				return;
			}
		}
		notify(r, false, st, reason, 0);
	} else {
		notify(r, false, st, reason, 0);
	}
	cv_mem_unref(r); /* the pending request's reference */
}

int cv_regc_create(struct cv_regc **rp, struct cv_agent *ag,
		   const struct cv_regc_params *p)
{
	if (!p || !p->aor)
		return -EINVAL;
	struct cv_sip_uri u;
	int err = cv_sip_uri_parse(cv_pl_str(p->aor), &u);
	if (err)
		return err;
	struct cv_regc *r = cv_mem_zalloc(sizeof(*r), regc_dtor);
	if (!r)
		return -ENOMEM;
	r->kind = UARG_REGC;
	r->ag = ag;
	r->h = p->h;
	r->uarg = p->uarg;
	r->expires = p->expires ? p->expires : 600;
	cv_tmr_init(&r->refresh);
	r->aor = strdup(p->aor);
	r->user = cv_pl_strdup(u.user);
	if (p->registrar) {
		r->ruri = strdup(p->registrar);
	} else {
		char buf[600];
		snprintf(buf, sizeof(buf), "sip:%s%.*s%s%s%.*s",
			 u.ipv6 ? "[" : "", CV_PL_ARG(u.host),
			 u.ipv6 ? "]" : "", u.port_pl.l ? ":" : "",
			 CV_PL_ARG(u.port_pl));
		r->ruri = strdup(buf);
	}
	err = -ENOMEM;
	if (!r->aor || !r->user || !r->ruri)
		goto fail;
	err = -EINVAL;
	if (p->ncontacts > CV_REGC_MAX_CONTACTS ||
	    (p->ncontacts && !p->contacts))
		goto fail;
	for (size_t i = 0; i < p->ncontacts; i++) {
		struct cv_sip_uri cu;
		const char *s = p->contacts[i];
		if (!s || strlen(s) >= 512 || strpbrk(s, "<>\r\n") ||
		    cv_sip_uri_parse(cv_pl_str(s), &cu))
			goto fail;
		r->contacts[r->ncontacts] = strdup(s);
		if (!r->contacts[r->ncontacts]) {
			err = -ENOMEM;
			goto fail;
		}
		r->ncontacts++;
	}
	err = -ENOMEM;
	if (p->auth.user) {
		r->auth_user = strdup(p->auth.user);
		r->auth_pass = strdup(p->auth.password ? p->auth.password : "");
		if (!r->auth_user || !r->auth_pass)
			goto fail;
	}
	err = cv_ua_addr_from_uri(ag->ua, cv_pl_str(r->ruri), &r->dst);
	if (err)
		goto fail;
	err = send_register(r, NULL);
	if (err)
		goto fail;
	r->next = ag->regs;
	if (ag->regs)
		ag->regs->prev = r;
	ag->regs = r;
	*rp = r;
	return 0;
fail:
	cv_mem_unref(r);
	return err;
}

int cv_regc_unregister(struct cv_regc *r)
{
	cv_tmr_cancel(&r->refresh);
	r->unregistering = true;
	if (r->ct) {
		/* the pending REGISTER completes first; drop its callback */
		cv_txn_set_uarg(r->ct, NULL);
		cv_txn_release(r->ct);
		r->ct = NULL;
		cv_mem_unref(r);
	}
	r->auth_tries = 0;
	return send_register(r, NULL);
}

static void list_remove(struct cv_regc *r)
{
	struct cv_agent *ag = r->ag;
	if (r->prev)
		r->prev->next = r->next;
	else if (ag->regs == r)
		ag->regs = r->next;
	if (r->next)
		r->next->prev = r->prev;
	r->next = r->prev = NULL;
}

void cv_regc_release(struct cv_regc *r)
{
	if (!r)
		return;
	r->released = true;
	cv_tmr_cancel(&r->refresh);
	list_remove(r);
	/* A REGISTER in flight runs on in the transaction layer (an
	 * un-REGISTER still reaches the registrar); we only stop hearing of
	 * it, and drop the reference it held on us. */
	if (r->ct) {
		cv_txn_set_uarg(r->ct, NULL);
		cv_txn_release(r->ct);
		r->ct = NULL;
		cv_mem_unref(r);
	}
	cv_mem_unref(r);
}

void regc_destroy_all(struct cv_agent *ag)
{
	while (ag->regs)
		cv_regc_release(ag->regs);
}
