/* Transfer: REFER (RFC 3515) with its implicit subscription and sipfrag
 * NOTIFYs, Referred-By (RFC 3892), and Replaces (RFC 3891) — as
 * transferor, transferee and transfer target (RFC 5589). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session_int.h"

#define MOD "transfer"

/* ---- transferee: a REFER in our call ---------------------------------------
 */

/* RFC 3515 §2.4.5: "SIP/2.0 100 Trying" in message/sipfrag, with the
 * subscription's state; id is the REFER's CSeq (§2.4.6). */
static void refer_notify(struct cv_call *c, uint16_t status, const char *reason,
			 bool final)
{
	if (!c->dlg || cv_dlg_state(c->dlg) == CV_DLG_TERMINATED)
		return;
	char hdrs[160], body[160];
	snprintf(hdrs, sizeof(hdrs),
		 "Event: refer;id=%u\r\nSubscription-State: %s\r\n",
		 c->refer_id,
		 final ? "terminated;reason=noresource" : "active;expires=60");
	int n = snprintf(body, sizeof(body), "SIP/2.0 %u %s\r\n", status,
			 reason && *reason ? reason : cv_sip_reason(status));
	struct cv_dlg_req r = {
		.method = CV_SIP_NOTIFY,
		.headers = cv_pl_str(hdrs),
		.content_type = CV_PL("message/sipfrag;version=2.0"),
		.body = {body, (size_t)CV_MIN((size_t)n, sizeof(body) - 1)}};
	struct cv_txn *ct;
	if (cv_dlg_request(c->dlg, &r, &ct) == 0)
		cv_txn_release(ct);
	if (final)
		c->refer_active = false;
}

/* Headers of a URI ("?Replaces=...&x=y"): the unescaped value of one. */
static bool uri_header(struct cv_pl headers, const char *name, char *out,
		       size_t size)
{
	size_t nl = strlen(name);
	while (headers.l) {
		const char *amp = memchr(headers.p, '&', headers.l);
		struct cv_pl item = {headers.p, amp ? (size_t)(amp - headers.p)
						    : headers.l};
		headers.p += item.l + (amp ? 1 : 0);
		headers.l -= item.l + (amp ? 1 : 0);
		if (item.l > nl && item.p[nl] == '=' &&
		    cv_pl_caseeq_str((struct cv_pl){item.p, nl}, name)) {
			struct cv_pl v = {item.p + nl + 1, item.l - nl - 1};
			int n = cv_sip_unescape(v, out, size);
			return n >= 0 && (size_t)n < size;
		}
	}
	return false;
}

void xfer_refer_request(struct cv_call *c, struct cv_txn *st,
			struct cv_sip_msg *req)
{
	const struct cv_sip_hdr *h = cv_sip_msg_hdr(req, CV_SIP_HDR_REFER_TO);
	struct cv_sip_naddr na;
	struct cv_sip_uri u;
	struct cv_txn_resp_params rp = {0};
	if (!h || cv_sip_msg_hdr_next(req, h) ||
	    cv_sip_naddr_parse(h->value, &na) || cv_sip_uri_parse(na.uri, &u) ||
	    (u.scheme != CV_SIP_SCHEME_SIP && u.scheme != CV_SIP_SCHEME_SIPS)) {
		/* RFC 3515 §2.4.2: exactly one Refer-To, a URI we can call */
		rp.reason = "Bad Refer-To";
		cv_txn_respond(st, 400, &rp);
		return;
	}
	if (c->state != CV_CALL_ANSWERED) {
		cv_txn_respond(st, 603, NULL);
		return;
	}
	if (c->refer_active || c->refer_child) {
		rp.headers = CV_PL("Retry-After: 2\r\n");
		cv_txn_respond(st, 491, &rp);
		return;
	}
	char target[2048], replaces[1024];
	struct cv_pl t = na.uri;
	const char *q = memchr(t.p, '?', t.l);
	if (q)
		t.l = (size_t)(q - t.p);
	cv_pl_strcpy(t, target, sizeof(target));
	bool has_replaces =
		uri_header(u.headers, "Replaces", replaces, sizeof(replaces));
	struct cv_sip_replaces rep;
	if (has_replaces &&
	    cv_sip_replaces_parse(cv_pl_str(replaces), &rep) != 0) {
		rp.reason = "Bad Replaces";
		cv_txn_respond(st, 400, &rp);
		return;
	}
	/* RFC 3892: Referred-By from the REFER, else the referrer */
	char rby[1024];
	const struct cv_sip_hdr *rb =
		cv_sip_msg_hdr(req, CV_SIP_HDR_REFERRED_BY);
	if (rb)
		cv_pl_strcpy(rb->value, rby, sizeof(rby));
	else
		snprintf(rby, sizeof(rby), "%.*s",
			 CV_PL_ARG(cv_dlg_remote_uri(c->dlg)));
	cv_dlg_respond(c->dlg, st, 202, NULL);
	c->refer_active = true;
	c->refer_id = req->cseq.num;
	refer_notify(c, 100, "Trying", false);
	struct cv_call_refer r = {.target = target,
				  .replaces = has_replaces ? replaces : NULL,
				  .referred_by = rby};
	cv_mem_ref(c);
	if (!c->released && c->ag->h->refer)
		c->ag->h->refer(c, &r, c->uarg);
	if (c->refer_active && !c->refer_child)
		refer_notify(c, 603, "Declined", true);
	cv_mem_unref(c);
}

void xfer_child_state(struct cv_call *child, enum cv_call_state st,
		      uint16_t status, const char *reason)
{
	struct cv_call *p = child->refer_parent;
	if (!p || p->refer_child != child || !p->refer_active)
		return;
	cv_mem_ref(p);
	switch (st) {
	case CV_CALL_RINGING:
	case CV_CALL_EARLY:
		refer_notify(p, status ? status : 180, reason, false);
		break;
	case CV_CALL_ANSWERED:
		refer_notify(p, status ? status : 200, reason, true);
		/* the transfer is done: our leg to the transferor ends */
		if (p->state == CV_CALL_ANSWERED) {
			call_send_bye(p, NULL);
			call_set_state(p, CV_CALL_ENDED, 0, "Transferred");
		}
		break;
	case CV_CALL_ENDED:
		refer_notify(p, status >= 300 ? status : 487,
			     status >= 300 ? reason : "Request Terminated",
			     true);
		break;
	default:
		break;
	}
	cv_mem_unref(p);
}

void xfer_ended(struct cv_call *c)
{
	struct cv_call *p = c->refer_parent;
	if (p) {
		c->refer_parent = NULL;
		if (p->refer_child == c) {
			p->refer_child = NULL;
			cv_mem_unref(c);
		}
		cv_mem_unref(p);
	}
	struct cv_call *ch = c->refer_child;
	if (ch) {
		c->refer_child = NULL;
		if (ch->refer_parent == c) {
			ch->refer_parent = NULL;
			cv_mem_unref(c);
		}
		cv_mem_unref(ch);
	}
	c->refer_active = false;
	c->refer_sent = false;
	if (c->replaces) {
		cv_mem_unref(c->replaces);
		c->replaces = NULL;
	}
	if (c->refer_ct) {
		cv_txn_set_uarg(c->refer_ct, NULL);
		cv_txn_release(c->refer_ct);
		c->refer_ct = NULL;
		cv_mem_unref(c);
	}
}

/* ---- transfer target: INVITE with Replaces ----------------------------------
 */

uint16_t xfer_replaces(struct cv_agent *ag, struct cv_call *c,
		       const struct cv_sip_msg *req)
{
	const struct cv_sip_hdr *h = cv_sip_msg_hdr(req, CV_SIP_HDR_REPLACES);
	struct cv_sip_replaces r;
	if (!h || cv_sip_msg_hdr_next(req, h) ||
	    cv_sip_replaces_parse(h->value, &r) != 0)
		return 400;
	/* RFC 3891 §3: to-tag is our tag, from-tag the peer's */
	struct cv_dlg *d = cv_ua_dialog_find(cv_agent_ua(ag), r.call_id,
					     r.to_tag, r.from_tag);
	struct cv_call *old = d ? cv_dlg_uarg(d) : NULL;
	if (!old || old->kind != UARG_CALL || old->state == CV_CALL_ENDED)
		return 481;
	/* an early dialog we did not initiate cannot be replaced (§3) */
	if (!old->outgoing && old->state != CV_CALL_ANSWERED)
		return 481;
	if (r.early_only && old->state == CV_CALL_ANSWERED)
		return 486;
	c->replaces = cv_mem_ref(old);
	return 0;
}

void xfer_answered(struct cv_call *c)
{
	struct cv_call *old = c->replaces;
	c->replaces = NULL;
	if (!old)
		return;
	if (old->state == CV_CALL_ANSWERED) {
		call_send_bye(old, NULL);
		call_set_state(old, CV_CALL_ENDED, 0, "Replaced");
	} else if (old->state != CV_CALL_ENDED) {
		cv_call_end(old, NULL);
	}
	cv_mem_unref(old);
}

/* ---- transferor
 * ---------------------------------------------------------------- */

static int refer_send(struct cv_call *c, const char *refer_to)
{
	if (c->state != CV_CALL_ANSWERED || !c->dlg)
		return CV_ECLOSED;
	if (c->refer_ct || c->refer_sent)
		return -EBUSY;
	struct cv_buf h;
	cv_buf_init(&h, 8192);
	cv_buf_printf(&h, "Refer-To: %s\r\nReferred-By: %.*s\r\n", refer_to,
		      CV_PL_ARG(cv_dlg_local_uri(c->dlg)));
	int err = h.err;
	if (!err) {
		struct cv_dlg_req r = {.method = CV_SIP_REFER,
				       .headers = {h.data, h.len},
				       .uarg = c};
		err = cv_dlg_request(c->dlg, &r, &c->refer_ct);
	}
	if (!err) {
		cv_mem_ref(c);
		c->refer_sent = true;
	}
	cv_buf_free(&h);
	return err;
}

int cv_call_transfer_blind(struct cv_call *c, const char *target)
{
	struct cv_sip_uri u;
	if (!target || cv_sip_uri_parse(cv_pl_str(target), &u) != 0)
		return CV_EPARSE;
	char v[2100];
	if (snprintf(v, sizeof(v), "<%s>", target) >= (int)sizeof(v))
		return CV_ETOOBIG;
	return refer_send(c, v);
}

static void escape_hvalue(struct cv_buf *b, struct cv_pl v)
{
	for (size_t i = 0; i < v.l; i++) {
		unsigned char ch = (unsigned char)v.p[i];
		if (isalnum(ch) || strchr("-_.!~*'()", ch))
			cv_buf_printf(b, "%c", ch);
		else
			cv_buf_printf(b, "%%%02X", ch);
	}
}

int cv_call_transfer_attended(struct cv_call *c, struct cv_call *other)
{
	if (!other || other == c || other->state != CV_CALL_ANSWERED ||
	    !other->dlg)
		return CV_ECLOSED;
	struct cv_pl target = cv_dlg_remote_target(other->dlg);
	const char *q = memchr(target.p, '?', target.l);
	if (q)
		target.l = (size_t)(q - target.p);
	/* RFC 5589 §7: Refer-To the other peer, with Replaces naming the
	 * other dialog as that peer sees it (its tag is our remote tag) */
	char rep[1024];
	snprintf(rep, sizeof(rep), "%.*s;to-tag=%.*s;from-tag=%.*s",
		 CV_PL_ARG(cv_dlg_call_id(other->dlg)),
		 CV_PL_ARG(cv_dlg_remote_tag(other->dlg)),
		 CV_PL_ARG(cv_dlg_local_tag(other->dlg)));
	struct cv_buf b;
	cv_buf_init(&b, 4096);
	cv_buf_printf(&b, "<%.*s?Replaces=", CV_PL_ARG(target));
	escape_hvalue(&b, cv_pl_str(rep));
	cv_buf_printf(&b, ">");
	int err = b.err ? b.err : cv_buf_printf(&b, "%c", '\0');
	if (!err)
		err = refer_send(c, b.data);
	cv_buf_free(&b);
	return err;
}

static void report(struct cv_call *c, uint16_t status, const char *reason,
		   bool final)
{
	if (!c->released && c->ag->h->transfer)
		c->ag->h->transfer(c, status, reason, final, c->uarg);
}

void xfer_refer_response(struct cv_call *c, struct cv_txn *ct,
			 const struct cv_txn_resp *r)
{
	if (r->status < 200)
		return;
	cv_txn_set_uarg(ct, NULL);
	cv_txn_release(ct);
	c->refer_ct = NULL;
	char reason[128];
	if (r->msg && r->msg->reason.l)
		cv_pl_strcpy(r->msg->reason, reason, sizeof(reason));
	else
		snprintf(reason, sizeof(reason), "%s",
			 cv_sip_reason(r->status));
	if (r->status >= 300) {
		c->refer_sent = false;
		report(c, r->status, reason, true);
	} else {
		report(c, r->status, reason, false);
	}
	cv_mem_unref(c); /* the REFER's reference */
}

void xfer_notify_request(struct cv_call *c, struct cv_txn *st,
			 struct cv_sip_msg *req)
{
	const struct cv_sip_hdr *ev = cv_sip_msg_hdr(req, CV_SIP_HDR_EVENT);
	struct cv_sip_event e;
	if (!ev || cv_sip_event_parse(ev->value, &e) != 0) {
		cv_txn_respond(st, 400, NULL);
		return;
	}
	if (!cv_pl_caseeq_str(e.package, "refer") || !c->refer_sent) {
		/* RFC 6665 §4.1.3: no such subscription */
		cv_txn_respond(st, 481, NULL);
		return;
	}
	cv_txn_respond(st, 200, NULL);
	bool final = false;
	const struct cv_sip_hdr *ss =
		cv_sip_msg_hdr(req, CV_SIP_HDR_SUBSCRIPTION_STATE);
	struct cv_sip_substate sst;
	if (ss && cv_sip_substate_parse(ss->value, &sst) == 0 &&
	    cv_pl_caseeq_str(sst.state, "terminated"))
		final = true;
	/* the sipfrag's status line: "SIP/2.0 200 OK" */
	unsigned status = 0;
	char reason[128] = "";
	struct cv_pl b = req->body;
	if (b.l > 12 && !memcmp(b.p, "SIP/2.0 ", 8)) {
		const char *nl = memchr(b.p, '\n', b.l);
		size_t ll = nl ? (size_t)(nl - b.p) : b.l;
		struct cv_pl code = {b.p + 8, 3};
		uint32_t v;
		if (cv_pl_u32(code, &v) == 0 && v >= 100 && v <= 699)
			status = v;
		if (ll > 12)
			cv_pl_strcpy(
				cv_pl_trim((struct cv_pl){b.p + 12, ll - 12}),
				reason, sizeof(reason));
	}
	if (final && status < 200)
		status = status ? 487 : 0;
	cv_mem_ref(c);
	if (status || final)
		report(c, (uint16_t)status, reason, final);
	if (final) {
		c->refer_sent = false;
		if (status >= 200 && status < 300 &&
		    c->state == CV_CALL_ANSWERED) {
			/* RFC 5589 §6: the transferor leaves */
			call_send_bye(c, NULL);
			call_set_state(c, CV_CALL_ENDED, 0, "Transferred");
		}
	}
	cv_mem_unref(c);
}
