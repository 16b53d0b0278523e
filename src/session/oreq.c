/* Out-of-dialog non-INVITE requests (OPTIONS, MESSAGE...) with one digest
 * retry. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session_int.h"

struct oreq {
	int kind; /* UARG_OREQ */
	struct cv_agent *ag;
	struct oreq *next, *prev; /* the agent's pending requests */
	struct cv_oreq_params p;
	char *target, *from, *headers, *ctype, *body, *user, *pass;
	struct cv_txn_addr dst;
	char call_id[128], from_tag[64];
	uint32_t cseq;
	bool retried;
	struct cv_txn *ct; /* pending request; released at its final response */
};

static void oreq_dtor(void *obj)
{
	struct oreq *o = obj;
	free(o->target);
	free(o->from);
	free(o->headers);
	free(o->ctype);
	free(o->body);
	free(o->user);
	free(o->pass);
	cv_ua_addr_clear(&o->dst);
}

static void list_add(struct oreq *o)
{
	struct cv_agent *ag = o->ag;
	o->prev = NULL;
	o->next = ag->oreqs;
	if (ag->oreqs)
		ag->oreqs->prev = o;
	ag->oreqs = o;
}

static void list_del(struct oreq *o)
{
	struct cv_agent *ag = o->ag;
	if (o->prev)
		o->prev->next = o->next;
	else if (ag->oreqs == o)
		ag->oreqs = o->next;
	if (o->next)
		o->next->prev = o->prev;
	o->next = o->prev = NULL;
}

static int oreq_send(struct oreq *o, const char *auth)
{
	struct cv_buf h;
	cv_buf_init(&h, 16384);
	cv_buf_append_str(&h, o->headers);
	if (auth)
		cv_buf_append_str(&h, auth);
	if (h.err) {
		cv_buf_free(&h);
		return h.err;
	}
	struct cv_ua_req r = {
		.method = o->p.method,
		.ruri = cv_pl_str(o->target),
		.from_uri = cv_pl_str(o->from),
		.from_tag = cv_pl_str(o->from_tag),
		.to_uri = cv_pl_str(o->target),
		.call_id = cv_pl_str(o->call_id),
		.cseq = ++o->cseq,
		.contact_user = cv_pl_str(o->ag->contact_user),
		.no_contact = o->p.method == CV_SIP_MESSAGE,
		.headers = {h.data, h.len},
		.content_type = cv_pl_str(o->ctype),
		.body = cv_pl_str(o->body),
		.dst = &o->dst,
		.uarg = o,
	};
	int err = cv_ua_request(o->ag->ua, &r, &o->ct);
	cv_buf_free(&h);
	if (!err) {
		const struct cv_sip_msg *m = cv_txn_request(o->ct);
		cv_pl_strcpy(m->call_id, o->call_id, sizeof(o->call_id));
		cv_pl_strcpy(m->from.tag, o->from_tag, sizeof(o->from_tag));
		cv_mem_ref(o); /* until the final response */
	}
	return err;
}

void oreq_response(struct oreq *o, struct cv_txn *ct,
		   const struct cv_txn_resp *r)
{
	if (r->status < 200 || ct != o->ct)
		return;
	cv_txn_set_uarg(ct, NULL);
	cv_txn_release(ct);
	o->ct = NULL;
	char reason[128];
	if (r->msg && r->msg->reason.l)
		cv_pl_strcpy(r->msg->reason, reason, sizeof(reason));
	else
		snprintf(reason, sizeof(reason), "%s",
			 cv_sip_reason(r->status));
	if ((r->status == 401 || r->status == 407) && r->msg && o->user &&
	    !o->retried) {
		struct cv_buf ah;
		cv_buf_init(&ah, 4096);
		o->retried = true;
		int err = session_auth_header(&ah, r->msg, o->user, o->pass,
					      cv_sip_method_name(o->p.method),
					      o->target);
		if (!err)
			err = oreq_send(o, ah.data);
		cv_buf_free(&ah);
		if (!err) {
			cv_mem_unref(o);
			return;
		}
	}
	list_del(o);
	o->p.done(r->status, reason, r->msg, o->p.arg);
	cv_mem_unref(o);
}

void oreq_destroy_all(struct cv_agent *ag)
{
	while (ag->oreqs) {
		struct oreq *o = ag->oreqs;
		if (o->ct) {
			cv_txn_set_uarg(o->ct, NULL);
			cv_txn_release(o->ct);
			o->ct = NULL;
		}
		list_del(o);
		cv_mem_unref(o); /* the pending request's reference */
	}
}

int cv_agent_request(struct cv_agent *ag, const struct cv_oreq_params *p)
{
	if (!p || !p->target || !p->done || p->method == CV_SIP_INVITE ||
	    p->method == CV_SIP_ACK || p->method == CV_SIP_CANCEL)
		return -EINVAL;
	struct oreq *o = cv_mem_zalloc(sizeof(*o), oreq_dtor);
	if (!o)
		return -ENOMEM;
	o->kind = UARG_OREQ;
	o->ag = ag;
	o->p = *p;
	int err = cv_ua_addr_from_uri(
		ag->ua, cv_pl_str(p->proxy ? p->proxy : p->target), &o->dst);
	char from[512];
	if (!err && !p->from) {
		char contact[300];
		err = cv_ua_contact_uri(ag->ua, &o->dst,
					cv_pl_str(ag->contact_user), contact,
					sizeof(contact));
		snprintf(from, sizeof(from), "%s", contact);
		/* the AOR, not the transport address */
		char *semi = strchr(from, ';');
		if (semi)
			*semi = '\0';
	}
	o->target = strdup(p->target);
	o->from = strdup(p->from ? p->from : from);
	o->headers = strdup(p->headers ? p->headers : "");
	o->ctype = strdup(p->content_type ? p->content_type : "");
	o->body = strdup(p->body ? p->body : "");
	if (!err &&
	    (!o->target || !o->from || !o->headers || !o->ctype || !o->body))
		err = -ENOMEM;
	if (!err && p->auth.user) {
		o->user = strdup(p->auth.user);
		o->pass = strdup(p->auth.password ? p->auth.password : "");
		if (!o->user || !o->pass)
			err = -ENOMEM;
	}
	if (!err)
		err = oreq_send(o, NULL);
	if (!err)
		list_add(o); /* its entry goes with the final response */
	cv_mem_unref(o);
	return err;
}
