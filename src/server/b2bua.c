/* B2BUA call routing between registered users: the incoming leg (A) is a
 * UAS dialog, each contact of the callee gets an outgoing leg (B, forked in
 * parallel); the first 2xx wins, the others are cancelled (or ACKed and
 * BYEd when they answer late). Both legs live on one worker: B's Call-ID is
 * chosen to hash to A's worker. Media is anchored on the worker's relay
 * unless configured off (media.c, docs/server.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server_int.h"
#include "trunk_int.h"

#define MOD "b2bua"

enum { UARG_LEG = 1, UARG_RELAY = 2 };

struct call;

struct leg {
	int kind; /* UARG_LEG */
	struct call *call;
	struct cv_txn *ct;
	struct cv_dlg *dlg;
	bool final;
	uint16_t status;
	char contact[256];
	struct trunk_leg *tl; /* a leg to a route's trunks (trunk.c) */
	uint32_t rseq;	      /* last RSeq from this leg (RFC 3262) */
};

/* A request relayed from one leg to the other; the response goes back on
 * st (NULL: nothing to answer, e.g. our own BYE). */
struct relay {
	int kind; /* UARG_RELAY */
	struct call *call;
	struct relay *next; /* in call->relays while ct is pending */
	struct cv_txn *ct;  /* the request sent on the other leg */
	struct cv_txn *st;
	struct cv_dlg *from; /* the dialog st arrived on */
	enum cv_sip_method method;
};

enum call_state { CALL_ROUTING, CALL_EARLY, CALL_ANSWERED, CALL_ENDED };

struct call {
	struct call *next, *prev;
	struct srv_worker *sw;
	enum call_state state;
	struct cv_txn *a_st;
	struct cv_dlg *a_dlg;
	unsigned nlegs;
	struct leg *winner;
	struct relay *relays; /* in-dialog requests waiting for the other leg */
	bool cancelled;
	uint16_t best;
	char best_reason[64]; /* reason phrase of `best`, passed back */
	struct cv_tmr no_answer;
	bool listed; /* in sw->calls, which holds a reference */
	struct call_media media;
	/* Late offer (RFC 3261 §13.2.1): the INVITE had no SDP, so the
	 * callee's 2xx carries the offer and the answer comes in the caller's
	 * ACK; the callee's 2xx waits here, un-ACKed, until then. */
	bool late_offer;
	struct cv_sip_msg *b_2xx;
	char *a_call_id;
	char *caller;
	char *callee;
	int64_t start_us, answer_us;
	/* RFC 3262 across the legs: a reliable 18x of rel_leg (its RSeq and
	 * INVITE CSeq) was passed to the caller reliably; the caller's PRACK
	 * goes to that leg with this RAck */
	bool a_100rel;
	struct leg *rel_leg;
	uint32_t rel_rseq, rel_cseq;
	/* one per fork (at most SRV_MAX_FORK), sized at the call's creation:
	 * most calls have one leg, and a leg is ~300 bytes (docs/server.md,
	 * memory per call). Keep this member last. */
	struct leg legs[];
};

static void call_dtor(void *obj)
{
	struct call *c = obj;
	cv_tmr_cancel(&c->no_answer);
	for (unsigned i = 0; i < c->nlegs; i++)
		trunk_leg_free(c->legs[i].tl);
	cv_mem_unref(c->b_2xx);
	free(c->a_call_id);
	free(c->caller);
	free(c->callee);
}

static void list_remove(struct call *c)
{
	struct srv_worker *sw = c->sw;
	if (!c->listed)
		return;
	c->listed = false;
	if (c->prev)
		c->prev->next = c->next;
	else if (sw->calls == c)
		sw->calls = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->next = c->prev = NULL;
}

static void write_cdr(struct call *c, const char *reason, const char *by)
{
	struct cv_srv *s = c->sw->srv;
	int64_t end = (int64_t)cv_clock_wall_us();
	CV_INFO(MOD,
		"call end call-id=%s from=%s to=%s reason=\"%s\" by=%s "
		"duration_ms=%lld",
		c->a_call_id, c->caller, c->callee, reason, by,
		c->answer_us ? (long long)(end - c->answer_us) / 1000 : 0LL);
	srv_pub_call(s, CV_BUS_CALL_ENDED, c->a_call_id, c->caller, c->callee,
		     0, reason,
		     !strcmp(by, "caller")   ? CV_BUS_HANGUP_CALLER
		     : !strcmp(by, "callee") ? CV_BUS_HANGUP_CALLEE
					     : CV_BUS_HANGUP_SYSTEM,
		     c->answer_us ? (uint64_t)(end - c->answer_us) / 1000 : 0);
	struct cv_store_cdr_leg legs[2];
	size_t nlegs = 0;
	legs[nlegs++] = (struct cv_store_cdr_leg){
		.index = 0, .call_id = c->a_call_id, .peer = c->caller};
	media_leg_stats(&c->media, 0, &legs[0]);
	char bcid[256] = "";
	if (c->winner && c->winner->dlg) {
		cv_pl_strcpy(cv_dlg_call_id(c->winner->dlg), bcid,
			     sizeof(bcid));
		legs[nlegs++] =
			(struct cv_store_cdr_leg){.index = 1,
						  .call_id = bcid,
						  .peer = c->winner->contact};
		media_leg_stats(&c->media, 1, &legs[1]);
	}
	struct cv_store_cdr cdr = {
		.call_id = c->a_call_id,
		.caller = c->caller,
		.callee = c->callee,
		.start_us = c->start_us,
		.answer_us = c->answer_us,
		.end_us = end,
		.end_reason = reason,
		.hangup_by = by,
		.nlegs = nlegs,
		.legs = legs,
	};
	if (s->p.store)
		cv_store_cdr_insert(s->p.store, &cdr, NULL);
	srv_pub_cdr(s, &cdr);
}

static bool all_legs_final(const struct call *c)
{
	for (unsigned i = 0; i < c->nlegs; i++)
		if (!c->legs[i].final)
			return false;
	return true;
}

/* An ended call leaves the worker's list once no fork is pending any
 * more (a fork that never answered keeps it until its Timer B), so that
 * b2bua_worker_stop() still finds and releases it. */
static void call_maybe_free(struct call *c)
{
	if (c->state != CALL_ENDED || !c->listed || !all_legs_final(c) ||
	    c->relays)
		return;
	list_remove(c);
	cv_mem_unref(c); /* the list's reference */
}

/* ACK the callee's 2xx held for a late-offer answer: with the caller's
 * answer, or without a body when the call ends first (so that the callee
 * stops retransmitting before our BYE). */
static void flush_b_ack(struct call *c, struct cv_pl ctype, struct cv_pl body)
{
	if (!c->b_2xx)
		return;
	if (c->winner && c->winner->dlg)
		cv_dlg_ack(c->winner->dlg, c->b_2xx, ctype, body);
	c->b_2xx = cv_mem_unref(c->b_2xx);
}

/* The call is over: drop dialogs; pending client transactions keep their
 * own references until their final responses. */
static void call_end(struct call *c, const char *reason, const char *by)
{
	if (c->state == CALL_ENDED)
		return;
	flush_b_ack(c, (struct cv_pl)CV_PL_INIT, (struct cv_pl)CV_PL_INIT);
	struct cv_srv *s = c->sw->srv;
	if (c->state != CALL_ANSWERED)
		s->st_calls_failed++;
	s->st_calls_active--;
	c->state = CALL_ENDED;
	cv_tmr_cancel(&c->no_answer);
	write_cdr(c, reason, by);
	media_free(c->sw, &c->media);
	if (c->a_dlg) {
		cv_dlg_set_uarg(c->a_dlg, NULL);
		cv_dlg_terminate(c->a_dlg);
		cv_dlg_release(c->a_dlg);
		c->a_dlg = NULL;
	}
	for (unsigned i = 0; i < c->nlegs; i++) {
		struct leg *l = &c->legs[i];
		if (l->dlg) {
			cv_dlg_set_uarg(l->dlg, NULL);
			cv_dlg_terminate(l->dlg);
			cv_dlg_release(l->dlg);
			l->dlg = NULL;
		}
	}
	if (c->a_st) {
		cv_txn_release(c->a_st);
		c->a_st = NULL;
	}
	call_maybe_free(c);
}

static bool is_sdp(struct cv_pl ctype)
{
	static const char sdp[] = "application/sdp";
	if (ctype.l < sizeof(sdp) - 1)
		return false;
	struct cv_pl head = {ctype.p, sizeof(sdp) - 1};
	return cv_pl_caseeq_str(head, sdp) &&
	       (ctype.l == head.l || ctype.p[head.l] == ';' ||
		ctype.p[head.l] == ' ');
}

/* The body to pass on for message m that came from leg `from` (0: A,
 * 1: B): its SDP rewritten for the relay (into buf), or as it came. */
static struct cv_pl pass_body(struct call *c, int from,
			      const struct cv_sip_msg *m, struct cv_buf *buf,
			      int *errp)
{
	int err = CV_ENOTFOUND;
	struct cv_pl out = CV_PL_INIT;
	if (m && m->body.l) {
		out = m->body;
		if (is_sdp(m->content_type)) {
			err = media_rewrite(c->sw, &c->media, from, m->body,
					    buf);
			if (!err)
				out = (struct cv_pl){buf->data, buf->len};
			else if (err != CV_ENOTFOUND)
				CV_LOG_RL(CV_LOG_WARN, MOD,
					  "SDP from leg %c of call-id=%s "
					  "passed as it is: %s",
					  from ? 'B' : 'A', c->a_call_id,
					  cv_strerror(err));
		}
	}
	if (errp)
		*errp = err;
	return out;
}

/* RFC 3262 §7.1: is option tag `tag` in header id of m? */
static bool has_tag(const struct cv_sip_msg *m, enum cv_sip_hdr_id id,
		    const char *tag)
{
	struct cv_sip_vals_iter it = {0};
	struct cv_pl v;
	for (unsigned n = 0;
	     n < 64 && cv_sip_msg_vals_next(m, id, &it, &v) == 0; n++)
		if (cv_pl_caseeq_str(cv_pl_trim(v), tag))
			return true;
	return false;
}

/* PRACK leg l's reliable provisional response ourselves (RFC 3262 §4),
 * when the caller cannot take it reliably (no 100rel, or another fork's
 * reliable 18x is still unacknowledged there). */
static void prack_local(struct leg *l, uint32_t rseq, uint32_t cseq)
{
	char rack[64];
	snprintf(rack, sizeof(rack), "RAck: %u %u INVITE\r\n", rseq, cseq);
	struct cv_dlg_req r = {.method = CV_SIP_PRACK,
			       .headers = cv_pl_str(rack)};
	struct cv_txn *ct;
	if (l->dlg && cv_dlg_request(l->dlg, &r, &ct) == 0)
		cv_txn_release(ct);
}

static struct cv_pl pass_body(struct call *c, int from,
			      const struct cv_sip_msg *m, struct cv_buf *buf,
			      int *errp);

/* Leg l's reliable 18x to the caller, reliably (the dialog retransmits it
 * until the caller's PRACK, which b2bua_in_dialog passes to l). */
static bool rel_to_a(struct call *c, struct leg *l, uint16_t st, uint32_t rseq,
		     const struct cv_sip_msg *m)
{
	if (!c->a_100rel || !c->a_st || cv_dlg_reliable_pending(c->a_dlg))
		return false;
	struct cv_txn_resp_params rp = {0};
	struct cv_buf sdp;
	cv_buf_init(&sdp, 65536);
	if (m->body.l) {
		rp.content_type = m->content_type;
		rp.body = pass_body(c, 1, m, &sdp, NULL);
	}
	int err = cv_dlg_respond_reliable(
		c->a_dlg, c->a_st, st == 183 || m->body.l ? 183 : 180, &rp);
	cv_buf_free(&sdp);
	if (err)
		return false;
	c->rel_leg = l;
	c->rel_rseq = rseq;
	c->rel_cseq = m->cseq.num;
	return true;
}

static void respond_a(struct call *c, uint16_t status, const char *reason,
		      const struct cv_sip_msg *from)
{
	if (!c->a_st)
		return;
	struct cv_txn_resp_params rp = {.reason = reason};
	struct cv_buf sdp;
	cv_buf_init(&sdp, 65536);
	if (from && from->body.l) {
		rp.content_type = from->content_type;
		rp.body = pass_body(c, 1, from, &sdp, NULL);
	}
	cv_dlg_respond(c->a_dlg, c->a_st, status, &rp);
	cv_buf_free(&sdp);
	if (status >= 200) {
		cv_txn_release(c->a_st);
		c->a_st = NULL;
	}
}

static void cancel_legs(struct call *c, const struct leg *except)
{
	struct cv_txn_cancel_params cp = {
		.headers = CV_PL("Reason: SIP;cause=200;text=\"Call completed "
				 "elsewhere\"\r\n")};
	for (unsigned i = 0; i < c->nlegs; i++) {
		struct leg *l = &c->legs[i];
		if (l != except && !l->final && l->ct)
			cv_txn_cancel(l->ct, except ? &cp : NULL);
	}
}

static void no_answer(struct cv_tmr *t, void *arg)
{
	struct call *c = arg;
	if (c->state == CALL_ANSWERED || c->state == CALL_ENDED)
		return;
	CV_INFO(MOD, "no answer call-id=%s", c->a_call_id);
	c->cancelled = true;
	cancel_legs(c, NULL);
	respond_a(c, 480, "No Answer", NULL);
	call_end(c, "480 No Answer", "system");
}

static uint16_t better(uint16_t a, uint16_t b)
{
	/* RFC 3261 §16.7 step 6, simplified: 6xx first, then the lowest
	 * class; 408/local failures rank last. */
	if (!a)
		return b;
	if (a >= 600)
		return a;
	if (b >= 600)
		return b;
	if (a == 408)
		return b;
	if (b == 408)
		return a;
	return b / 100 < a / 100 ? b : a;
}

/* Our own BYE: nobody waits for its response (the transaction finishes
 * in the layer after release). */
static void send_bye(struct call *c, struct cv_dlg *d)
{
	(void)c;
	struct cv_dlg_req r = {.method = CV_SIP_BYE};
	struct cv_txn *ct;
	if (cv_dlg_request(d, &r, &ct) == 0)
		cv_txn_release(ct);
}

void b2bua_invite(struct srv_worker *sw, struct cv_txn *st,
		  struct cv_sip_msg *req)
{
	struct cv_srv *s = sw->srv;
	const struct cv_srv_user *user = NULL;
	/* a call from a trunk's address is taken without authentication
	 * (the upstream authenticated its caller); the caller is then the
	 * From user (docs/server.md, Trunks) */
	const char *from_trunk = trunk_source(s, cv_txn_addr(st));
	if (!from_trunk && srv_authenticate(sw, st, req, true, &user) != 0)
		return;
	char from_user[128] = "anonymous";
	struct cv_sip_uri furi;
	if (!user && cv_sip_uri_parse(req->from.uri, &furi) == 0 &&
	    furi.user.l && furi.user.l < sizeof(from_user))
		cv_pl_strcpy(furi.user, from_user, sizeof(from_user));
	const char *caller = user ? user->name : from_user;
	/* RFC 3261 §16.6 step 3 / §16.3 step 2, kept by the B2BUA so that a
	 * loop (through trunks, or a contact pointing back at us) ends */
	if (req->max_forwards == 0) {
		srv_reply(st, 483, "Too Many Hops", NULL);
		return;
	}
	int mf = req->max_forwards < 0 ? 70 : req->max_forwards - 1;
	struct cv_sip_uri ruri;
	if (cv_sip_msg_ruri(req, &ruri) != 0 || !ruri.user.l) {
		srv_reply(st, 404, NULL, NULL);
		return;
	}
	if (from_trunk) /* an inbound DID -> its local user (trunk.c) */
		trunk_did_map(s, from_trunk, &ruri.user);
	struct reg_target targets[SRV_MAX_FORK];
	char pai[512] = "";
	/* only an authenticated caller is asserted (a trunk's From is not) */
	size_t nt = srv_hook_route(sw, ruri.user, user ? user->name : NULL,
				   &targets[0], pai, sizeof(pai));
	/* a public GRUU (RFC 5627 §5.3): only that instance's bindings */
	struct cv_pl gr = CV_PL_INIT;
	bool by_gruu = !nt && cv_sip_uri_param(&ruri, "gr", &gr) == 0 && gr.l;
	if (by_gruu)
		nt = registrar_lookup_gruu(s, ruri.user, gr, targets,
					   SRV_MAX_FORK);
	else if (!nt)
		nt = registrar_lookup(s, ruri.user, targets, SRV_MAX_FORK);
	/* not a local user: the routes to trunks (by priority); a call that
	 * came from a trunk only reaches local users (no transit from one
	 * trunk to another: no loop, no toll fraud through us) */
	const struct trunk_route *route = NULL;
	if (!nt && !by_gruu && !from_trunk && !srv_user_find(s, ruri.user))
		route = trunk_route_find(s, ruri.user);
	if (!nt && !route) {
		srv_reply(st, srv_user_find(s, ruri.user) ? 480 : 404,
			  srv_user_find(s, ruri.user)
				  ? "Temporarily Unavailable"
				  : "Not Found",
			  NULL);
		return;
	}
	struct call *c = cv_mem_zalloc(
		sizeof(*c) + (route ? 1 : nt) * sizeof(struct leg), call_dtor);
	if (!c) {
		for (size_t i = 0; i < nt; i++)
			reg_target_clear(&targets[i]);
		srv_reply(st, 500, NULL, NULL);
		return;
	}
	c->sw = sw;
	cv_tmr_init(&c->no_answer);
	c->a_st = st;
	c->a_call_id = cv_pl_strdup(req->call_id);
	c->caller = strdup(caller);
	c->callee = cv_pl_strdup(ruri.user);
	c->start_us = (int64_t)cv_clock_wall_us();
	c->late_offer = !req->body.l;
	int err = cv_dlg_create_uas(&c->a_dlg, sw->ua, st,
				    (struct cv_pl)CV_PL_INIT);
	if (err || !c->a_call_id || !c->caller || !c->callee) {
		for (size_t i = 0; i < nt; i++)
			reg_target_clear(&targets[i]);
		c->a_st = NULL;
		cv_mem_unref(c);
		srv_reply(st, 500, NULL, NULL);
		return;
	}
	cv_dlg_set_uarg(c->a_dlg, c);
	cv_txn_set_uarg(st, c);
	c->next = sw->calls;
	if (sw->calls)
		sw->calls->prev = c;
	sw->calls = c;
	c->listed = true;
	s->st_calls_started++;
	s->st_calls_active++;
	CV_INFO(MOD, "call start call-id=%s from=%s to=%s forks=%zu",
		c->a_call_id, c->caller, c->callee, nt);
	srv_pub_call(s, CV_BUS_CALL_STARTED, c->a_call_id, c->caller, c->callee,
		     0, NULL, CV_BUS_HANGUP_NONE, 0);

	/* B legs: same worker, the caller's identity, the caller's offer
	 * (anchored: rewritten to the relay's B side) */
	media_set_adv(sw, &c->media, 0, cv_txn_addr(st));
	struct cv_txn_addr tdst;
	if (!route)
		media_set_adv(sw, &c->media, 1, &targets[0].dst);
	else if (trunk_route_dst(sw, route, &tdst) == 0)
		media_set_adv(sw, &c->media, 1, &tdst);
	if (route && !trunk_route_relay(route))
		c->media.off = true; /* the route's `media: direct` */
	if (route) /* the route's `srtp:` policy toward the trunk */
		c->media.b_srtp = (uint8_t)trunk_route_srtp(route);
	struct cv_buf sdp;
	cv_buf_init(&sdp, 65536);
	int merr;
	struct cv_pl offer = pass_body(c, 0, req, &sdp, &merr);
	if (merr && merr != CV_ENOTFOUND) {
		media_free(sw, &c->media);
		c->media.off = true; /* the whole call goes direct */
	}
	char call_id[64];
	cv_ua_call_id_for(sw->ua, cv_worker_index(sw->w), call_id,
			  sizeof(call_id));
	struct cv_buf hdrs;
	cv_buf_init(&hdrs, 4096);
	const struct cv_sip_hdr *h;
	if ((h = cv_sip_msg_hdr(req, CV_SIP_HDR_ALLOW))) {
		/* appends, not printf: this runs for every call */
		cv_buf_append_str(&hdrs, "Allow: ");
		cv_buf_append_pl(&hdrs, h->value);
		cv_buf_append_str(&hdrs, "\r\n");
	}
	cv_buf_append_str(&hdrs, pai); /* "" unless the route hook took it */
	/* the caller's option tags, 100rel included: reliable provisional
	 * responses and PRACK are passed across (RFC 3262, docs/server.md) */
	c->a_100rel = has_tag(req, CV_SIP_HDR_SUPPORTED, "100rel") ||
		      has_tag(req, CV_SIP_HDR_REQUIRE, "100rel");
	if (has_tag(req, CV_SIP_HDR_REQUIRE, "100rel"))
		cv_buf_append_str(&hdrs, "Require: 100rel\r\n");
	struct cv_sip_vals_iter it = {0};
	struct cv_pl tag;
	bool first = true;
	while (cv_sip_msg_vals_next(req, CV_SIP_HDR_SUPPORTED, &it, &tag) ==
	       0) {
		tag = cv_pl_trim(tag);
		if (!tag.l)
			continue;
		cv_buf_append_str(&hdrs, first ? "Supported: " : ", ");
		cv_buf_append_pl(&hdrs, tag);
		first = false;
	}
	if (!first)
		cv_buf_append_str(&hdrs, "\r\n");
	if (route) {
		struct leg *l = &c->legs[0];
		l->kind = UARG_LEG;
		l->call = c;
		struct trunk_out to = {.route = route,
				       .user = ruri.user,
				       .caller = cv_pl_str(c->caller),
				       .from_display = req->from.dname,
				       .call_id = cv_pl_str(call_id),
				       .headers = {hdrs.data, hdrs.len},
				       .content_type = req->content_type,
				       .body = offer,
				       .max_forwards = mf ? mf : -1,
				       .uarg = l};
		err = trunk_leg_start(sw, &to, &l->tl, &l->ct, l->contact,
				      sizeof(l->contact));
		if (err)
			CV_LOG_RL(CV_LOG_WARN, MOD, "call to trunk failed: %s",
				  cv_strerror(err));
		else {
			cv_mem_ref(c); /* held by the pending leg */
			c->nlegs++;
		}
	}
	for (size_t i = 0; i < nt; i++) {
		struct leg *l = &c->legs[c->nlegs];
		l->kind = UARG_LEG;
		l->call = c;
		cv_pl_strcpy(cv_pl_str(targets[i].contact), l->contact,
			     sizeof(l->contact));
		struct cv_ua_req r = {
			.method = CV_SIP_INVITE,
			.ruri = cv_pl_str(targets[i].contact),
			.from_uri = req->from.uri,
			.from_display = req->from.dname,
			.to_uri = req->to.uri,
			.to_display = req->to.dname,
			.call_id = cv_pl_str(call_id),
			.cseq = 1,
			.contact_user = cv_pl_str(c->caller),
			.headers = {hdrs.data, hdrs.len},
			.content_type = req->content_type,
			.body = offer,
			.dst = &targets[i].dst,
			.uarg = l,
			.max_forwards = mf ? mf : -1,
		};
		err = cv_ua_request(sw->ua, &r, &l->ct);
		reg_target_clear(&targets[i]);
		if (err) {
			CV_LOG_RL(CV_LOG_WARN, MOD, "fork to %s failed: %s",
				  l->contact, cv_strerror(err));
			continue;
		}
		cv_mem_ref(c); /* held by the pending leg */
		c->nlegs++;
	}
	cv_buf_free(&hdrs);
	cv_buf_free(&sdp);
	if (!c->nlegs) {
		respond_a(c, 480, "Temporarily Unavailable", NULL);
		call_end(c, "480 unreachable", "system");
		return;
	}
	cv_tmr_start(cv_worker_wheel(sw->w), &c->no_answer,
		     (uint64_t)s->p.no_answer_ms * 1000, no_answer, c);
}

static void leg_final(struct leg *l)
{
	l->final = true;
	if (l->ct) {
		cv_txn_release(l->ct);
		l->ct = NULL;
		call_maybe_free(l->call);
		cv_mem_unref(l->call); /* drop the pending leg's reference */
	}
}

/* Every fork has its final response and none won: answer the caller with
 * the best failure (RFC 3261 §16.7 step 6) unless it cancelled, and end
 * the call. */
static void finish_if_done(struct call *c)
{
	if (c->winner || c->state == CALL_ENDED || !all_legs_final(c))
		return;
	if (c->cancelled) {
		call_end(c, "CANCEL", "caller");
		return;
	}
	uint16_t out = c->best ? c->best : 480;
	const char *why = c->best_reason[0] ? c->best_reason : NULL;
	if (out == 408 || out == 503) {
		out = 480;
		why = "Temporarily Unavailable";
	}
	char reason[96];
	snprintf(reason, sizeof(reason), "%u%s%s", out, why ? " " : "",
		 why ? why : "");
	respond_a(c, out, why, NULL);
	call_end(c, reason, "callee");
}

/* A callee that refused our offer with 488 gets the caller's offer again
 * with SRTP turned the other way (media_retry_offer): the same request
 * URI, identities, Call-ID and option tags, CSeq + 1, to the same
 * address. */
static int leg_retry_srtp(struct srv_worker *sw, struct call *c, struct leg *l)
{
	struct cv_sip_msg *req = c->a_st ? cv_txn_request(c->a_st) : NULL;
	struct cv_sip_msg *breq = l->ct ? cv_txn_request(l->ct) : NULL;
	const struct cv_txn_addr *dst = l->ct ? cv_txn_addr(l->ct) : NULL;
	if (!req || !breq || !dst || !req->body.l || !is_sdp(req->content_type))
		return CV_ENOTFOUND;
	struct cv_buf sdp, hdrs;
	cv_buf_init(&sdp, 65536);
	int err = media_retry_offer(sw, &c->media, req->body, &sdp);
	if (err) {
		cv_buf_free(&sdp);
		return err;
	}
	cv_buf_init(&hdrs, 4096);
	static const enum cv_sip_hdr_id keep[] = {
		CV_SIP_HDR_ALLOW, CV_SIP_HDR_SUPPORTED, CV_SIP_HDR_REQUIRE,
		CV_SIP_HDR_P_ASSERTED_IDENTITY};
	static const char *const names[] = {"Allow", "Supported", "Require",
					    "P-Asserted-Identity"};
	for (size_t i = 0; i < CV_ARRAY_SIZE(keep); i++) {
		const struct cv_sip_hdr *h = cv_sip_msg_hdr(breq, keep[i]);
		if (h)
			cv_buf_printf(&hdrs, "%s: %.*s\r\n", names[i],
				      CV_PL_ARG(h->value));
	}
	struct cv_ua_req r = {
		.method = CV_SIP_INVITE,
		.ruri = breq->ruri,
		.from_uri = breq->from.uri,
		.from_display = breq->from.dname,
		.to_uri = breq->to.uri,
		.to_display = breq->to.dname,
		.call_id = breq->call_id,
		.cseq = breq->cseq.num + 1,
		.contact_user = cv_pl_str(c->caller),
		.headers = {hdrs.data, hdrs.len},
		.content_type = req->content_type,
		.body = {sdp.data, sdp.len},
		.dst = dst,
		.uarg = l,
		.max_forwards =
			breq->max_forwards > 0 ? breq->max_forwards : -1,
	};
	struct cv_txn *nct = NULL;
	err = hdrs.err	? hdrs.err
	      : sdp.err ? sdp.err
			: cv_ua_request(sw->ua, &r, &nct);
	cv_buf_free(&hdrs);
	cv_buf_free(&sdp);
	if (err) {
		CV_LOG_RL(CV_LOG_WARN, MOD, "retry after 488 to %s failed: %s",
			  l->contact, cv_strerror(err));
		return err;
	}
	CV_INFO(MOD,
		"call-id=%s: %s refused the offer (488), offered again with "
		"SRTP %s",
		c->a_call_id, l->contact, "the other way");
	cv_txn_release(l->ct); /* no more callbacks from it */
	l->ct = nct;
	l->rseq = 0;
	if (c->rel_leg == l)
		c->rel_leg = NULL;
	return 0;
}

static void leg_response(struct srv_worker *sw, struct leg *l,
			 const struct cv_txn_resp *r)
{
	struct call *c = l->call;
	struct cv_sip_msg *m = r->msg;
	uint16_t st = r->status;
	if (l->final)
		return;
	trunk_leg_seen(l->tl, r);
	if (st < 200) {
		if (st > 100 && m && m->to.tag.l && !l->dlg &&
		    cv_dlg_create_uac(&l->dlg, sw->ua, l->ct, m) == 0)
			cv_dlg_set_uarg(l->dlg, c);
		/* RFC 3262: a reliable provisional response (once per RSeq) */
		uint32_t rseq = 0;
		const struct cv_sip_hdr *rh =
			m ? cv_sip_msg_hdr(m, CV_SIP_HDR_RSEQ) : NULL;
		bool rel = st > 100 && rh && l->dlg &&
			   has_tag(m, CV_SIP_HDR_REQUIRE, "100rel") &&
			   cv_sip_u32_parse(rh->value, &rseq) == 0;
		if (rel && rseq <= l->rseq)
			return; /* a retransmission */
		if (rel)
			l->rseq = rseq;
		if (st > 100 &&
		    (c->state == CALL_ROUTING || c->state == CALL_EARLY) &&
		    c->a_st) {
			c->state = CALL_EARLY;
			if (rel && rel_to_a(c, l, st, rseq, m))
				return;
			respond_a(c, st == 183 || (m && m->body.l) ? 183 : 180,
				  NULL, m);
		}
		if (rel)
			prack_local(l, rseq, m->cseq.num);
		return;
	}
	if (st < 300 && m) {
		if (!l->dlg &&
		    cv_dlg_create_uac(&l->dlg, sw->ua, l->ct, m) != 0) {
			leg_final(l);
			return;
		}
		bool late = c->state == CALL_ENDED || c->winner || c->cancelled;
		if (!late && c->late_offer && m->body.l && !c->b_2xx)
			c->b_2xx = cv_mem_ref(
				m); /* ACKed with the caller's answer */
		else
			cv_dlg_ack(l->dlg, m, (struct cv_pl)CV_PL_INIT,
				   (struct cv_pl)CV_PL_INIT);
		l->status = st;
		struct call *keep = cv_mem_ref(c);
		leg_final(l);
		if (late) {
			/* a late fork answer, or an answer that crossed the
			 * caller's CANCEL or the no-answer timer: §13.2.2.4 ACK
			 * it, then end it */
			send_bye(c, l->dlg);
			cv_dlg_set_uarg(l->dlg, NULL);
			cv_dlg_terminate(l->dlg);
			cv_dlg_release(l->dlg);
			l->dlg = NULL;
			finish_if_done(c);
			cv_mem_unref(keep);
			return;
		}
		cv_dlg_set_uarg(l->dlg, c);
		c->winner = l;
		c->state = CALL_ANSWERED;
		c->answer_us = (int64_t)cv_clock_wall_us();
		cv_tmr_cancel(&c->no_answer);
		sw->srv->st_calls_answered++;
		cancel_legs(c, l);
		respond_a(c, st, NULL, m);
		CV_INFO(MOD, "call answered call-id=%s by=%s", c->a_call_id,
			l->contact);
		srv_pub_call(sw->srv, CV_BUS_CALL_ANSWERED, c->a_call_id,
			     c->caller, c->callee, st, NULL, CV_BUS_HANGUP_NONE,
			     0);
		cv_mem_unref(keep);
		return;
	}
	/* failure of this fork */
	l->status = st;
	if (l->dlg) {
		cv_dlg_set_uarg(l->dlg, NULL);
		cv_dlg_terminate(l->dlg);
		cv_dlg_release(l->dlg);
		l->dlg = NULL;
	}
	/* 488 to the SRTP choice mirrored from the caller: once per call,
	 * the other way round, to this fork only (docs/server.md, SRTP) */
	if (st == 488 && !l->tl && !c->cancelled && c->state != CALL_ENDED &&
	    !c->winner && leg_retry_srtp(sw, c, l) == 0)
		return;
	/* a trunk leg: the upstream's challenge answered, or failover */
	struct cv_txn *nct;
	if (l->tl && !c->cancelled && c->state != CALL_ENDED &&
	    trunk_leg_retry(sw, l->tl, l->ct, r, &nct, l->contact,
			    sizeof(l->contact)) == 0) {
		cv_txn_release(l->ct); /* no more callbacks from it */
		l->ct = nct;
		l->rseq = 0; /* a new dialog: its own RSeq space */
		if (c->rel_leg == l)
			c->rel_leg = NULL;
		return;
	}
	struct call *keep = cv_mem_ref(c);
	leg_final(l);
	uint16_t prev = c->best;
	c->best = better(c->best, (st == 401 || st == 407) ? 480 : st);
	if (c->best != prev && m)
		cv_pl_strcpy(m->reason, c->best_reason, sizeof(c->best_reason));
	finish_if_done(c);
	cv_mem_unref(keep);
}

static void relay_unlink(struct relay *rl)
{
	struct call *c = rl->call;
	for (struct relay **pp = c ? &c->relays : NULL; pp && *pp;
	     pp = &(*pp)->next) {
		if (*pp == rl) {
			*pp = rl->next;
			rl->next = NULL;
			return;
		}
	}
}

static void relay_response(struct srv_worker *sw, struct relay *rl,
			   struct cv_txn *ct, const struct cv_txn_resp *r)
{
	if (r->status < 200)
		return;
	struct call *c = rl->call;
	if (rl->method == CV_SIP_INVITE && r->status < 300 && r->msg) {
		/* ACK the other side's 2xx ourselves (§13.2.2.4) */
		struct cv_dlg *other = NULL;
		if (c && c->winner && rl->from == c->a_dlg)
			other = c->winner->dlg;
		else if (c)
			other = c->a_dlg;
		if (other)
			cv_dlg_ack(other, r->msg, (struct cv_pl)CV_PL_INIT,
				   (struct cv_pl)CV_PL_INIT);
	}
	if (rl->st) {
		struct cv_txn_resp_params rp = {0};
		struct cv_buf sdp;
		cv_buf_init(&sdp, 65536);
		if (r->msg && r->msg->body.l && c) {
			/* the answer comes from the leg the request went to */
			rp.content_type = r->msg->content_type;
			rp.body = pass_body(c, rl->from == c->a_dlg ? 1 : 0,
					    r->msg, &sdp, NULL);
		}
		if (rl->from && rl->method == CV_SIP_INVITE &&
		    cv_dlg_state(rl->from) != CV_DLG_TERMINATED)
			cv_dlg_respond(rl->from, rl->st, r->status, &rp);
		else
			cv_txn_respond(rl->st, r->status, &rp);
		cv_buf_free(&sdp);
		cv_txn_release(rl->st);
		rl->st = NULL;
	}
	(void)sw;
	relay_unlink(rl);
	cv_txn_release(ct);
	rl->ct = NULL;
	if (rl->from)
		cv_dlg_release(rl->from);
	if (c) {
		call_maybe_free(c);
		cv_mem_unref(c);
	}
	cv_mem_unref(rl);
}

void b2bua_response(struct srv_worker *sw, struct cv_txn *ct,
		    const struct cv_txn_resp *r)
{
	int *kind = cv_txn_uarg(ct);
	if (!kind)
		return;
	if (*kind == UARG_LEG) {
		leg_response(sw, (struct leg *)(void *)kind, r);
	} else if (*kind == UARG_RELAY) {
		struct relay *rl = (struct relay *)(void *)kind;
		if (r->status >= 200) {
			cv_txn_set_uarg(ct, NULL);
			relay_response(sw, rl, ct, r);
		}
	}
}

void b2bua_in_dialog(struct srv_worker *sw, struct cv_txn *st,
		     struct cv_sip_msg *req, struct cv_dlg *dlg)
{
	struct call *c = cv_dlg_uarg(dlg);
	if (!c || c->state == CALL_ENDED) {
		srv_reply(st, 481, NULL, NULL);
		return;
	}
	bool from_a = dlg == c->a_dlg;
	struct cv_dlg *other =
		from_a ? (c->winner ? c->winner->dlg : NULL) : c->a_dlg;
	char rack[64] = "";
	if (req->method == CV_SIP_PRACK) {
		/* RFC 3262 §3/§4: the caller's PRACK for the reliable 18x we
		 * passed on goes to the leg that sent it, with that leg's RAck
		 */
		if (!from_a || !cv_dlg_prack(dlg, req)) {
			srv_reply(st, 481, NULL, NULL);
			return;
		}
		if (!c->rel_leg || !c->rel_leg->dlg) {
			srv_reply(st, 200, NULL, NULL); /* that leg is gone */
			return;
		}
		other = c->rel_leg->dlg;
		snprintf(rack, sizeof(rack), "RAck: %u %u INVITE\r\n",
			 c->rel_rseq, c->rel_cseq);
	}
	if (req->method == CV_SIP_BYE) {
		srv_reply(st, 200, NULL, NULL);
		if (other)
			send_bye(c, other);
		else if (from_a) {
			/* BYE in an early dialog from the caller: cancel forks
			 */
			c->cancelled = true;
			cancel_legs(c, NULL);
			respond_a(c, 487, NULL, NULL);
		}
		call_end(c, "BYE", from_a ? "caller" : "callee");
		return;
	}
	if (!other || (c->state != CALL_ANSWERED && !rack[0])) {
		srv_reply(st, req->method == CV_SIP_INVITE ? 491 : 403, NULL,
			  NULL);
		return;
	}
	if (req->method == CV_SIP_INVITE || req->method == CV_SIP_UPDATE)
		cv_dlg_refresh_target(dlg, req);
	struct relay *rl = cv_mem_zalloc(sizeof(*rl), NULL);
	if (!rl) {
		srv_reply(st, 500, NULL, NULL);
		return;
	}
	rl->kind = UARG_RELAY;
	rl->call = cv_mem_ref(c);
	rl->st = st;
	rl->from = cv_dlg_ref(dlg);
	rl->method = req->method;
	/* pass the headers that carry meaning for these methods */
	struct cv_buf hdrs;
	cv_buf_init(&hdrs, 8192);
	cv_buf_append_str(&hdrs, rack);
	static const enum cv_sip_hdr_id pass[] = {
		CV_SIP_HDR_EVENT,	    CV_SIP_HDR_SUBSCRIPTION_STATE,
		CV_SIP_HDR_REFER_TO,	    CV_SIP_HDR_REFERRED_BY,
		CV_SIP_HDR_SESSION_EXPIRES, CV_SIP_HDR_SUPPORTED};
	for (size_t i = 0; i < CV_ARRAY_SIZE(pass); i++)
		for (const struct cv_sip_hdr *h = cv_sip_msg_hdr(req, pass[i]);
		     h; h = cv_sip_msg_hdr_next(req, h))
			cv_buf_printf(&hdrs, "%s: %.*s\r\n",
				      cv_sip_hdr_name(pass[i]),
				      CV_PL_ARG(h->value));
	const struct cv_sip_hdr *ih =
		cv_sip_msg_hdr_by_name(req, CV_PL("Info-Package"));
	if (ih)
		cv_buf_printf(&hdrs, "Info-Package: %.*s\r\n",
			      CV_PL_ARG(ih->value));
	struct cv_buf sdp;
	cv_buf_init(&sdp, 65536);
	struct cv_dlg_req r = {
		.method = req->method,
		.method_name = req->method_pl,
		.headers = {hdrs.data, hdrs.len},
		.content_type = req->content_type,
		.body = pass_body(c, from_a ? 0 : 1, req, &sdp, NULL),
		.uarg = rl};
	struct cv_txn *ct;
	int err = cv_dlg_request(other, &r, &ct);
	cv_buf_free(&sdp);
	cv_buf_free(&hdrs);
	if (err) {
		srv_reply(st, 500, NULL, NULL);
		cv_dlg_release(rl->from);
		cv_mem_unref(rl->call);
		cv_mem_unref(rl);
		return;
	}
	/* ct is released in relay_response (or at worker stop) */
	rl->ct = ct;
	rl->next = c->relays;
	c->relays = rl;
}

void b2bua_ack(struct srv_worker *sw, struct cv_dlg *dlg,
	       struct cv_sip_msg *ack)
{
	(void)sw;
	/* The caller's ACK for our 2xx. The B leg was ACKed when its 2xx came,
	 * except for a late offer: the answer in this ACK goes to B now. */
	struct call *c = cv_dlg_uarg(dlg);
	if (!c || dlg != c->a_dlg || !c->b_2xx)
		return;
	struct cv_buf sdp;
	cv_buf_init(&sdp, 65536);
	struct cv_pl body = pass_body(c, 0, ack, &sdp, NULL);
	flush_b_ack(c, body.l ? ack->content_type : (struct cv_pl)CV_PL_INIT,
		    body);
	cv_buf_free(&sdp);
}

void b2bua_cancel(struct srv_worker *sw, struct cv_txn *st)
{
	struct call *c = cv_txn_uarg(st);
	(void)sw;
	if (!c || c->a_st != st || c->state == CALL_ANSWERED ||
	    c->state == CALL_ENDED)
		return;
	CV_INFO(MOD, "caller cancelled call-id=%s", c->a_call_id);
	c->cancelled = true;
	cancel_legs(c, NULL);
	respond_a(c, 487, NULL, NULL);
	/* the call ends when every leg has its final response; if none is
	 * pending any more, now */
	finish_if_done(c);
}

void b2bua_ack_timeout(struct srv_worker *sw, struct cv_dlg *dlg)
{
	struct call *c = cv_dlg_uarg(dlg);
	(void)sw;
	if (!c || c->state == CALL_ENDED)
		return;
	struct cv_dlg *other = dlg == c->a_dlg
				       ? (c->winner ? c->winner->dlg : NULL)
				       : c->a_dlg;
	flush_b_ack(c, (struct cv_pl)CV_PL_INIT, (struct cv_pl)CV_PL_INIT);
	send_bye(c, dlg);
	if (other)
		send_bye(c, other);
	call_end(c, "no ACK", "system");
}

/* RFC 3262 §3: the caller never PRACKed the reliable 18x we sent it. */
void b2bua_prack_timeout(struct srv_worker *sw, struct cv_dlg *dlg)
{
	struct call *c = cv_dlg_uarg(dlg);
	(void)sw;
	if (!c || dlg != c->a_dlg || c->state == CALL_ANSWERED ||
	    c->state == CALL_ENDED)
		return;
	c->cancelled = true;
	cancel_legs(c, NULL);
	respond_a(c, 504, "No PRACK", NULL);
	call_end(c, "504 No PRACK", "system");
}

void b2bua_worker_stop(struct srv_worker *sw)
{
	while (sw->calls) {
		struct call *c = cv_mem_ref(sw->calls);
		/* relayed requests still waiting: 503 to their sender */
		while (c->relays) {
			struct relay *rl = c->relays;
			c->relays = rl->next;
			cv_txn_set_uarg(rl->ct, NULL);
			cv_txn_release(rl->ct);
			if (rl->st)
				srv_reply(rl->st, 503, "Shutting Down", NULL);
			if (rl->from)
				cv_dlg_release(rl->from);
			cv_mem_unref(rl->call);
			cv_mem_unref(rl);
		}
		for (unsigned i = 0; i < c->nlegs; i++) {
			struct leg *l = &c->legs[i];
			if (l->ct) {
				cv_txn_set_uarg(l->ct, NULL);
				cv_txn_release(l->ct);
				l->ct = NULL;
				l->final = true;
				cv_mem_unref(c);
			}
		}
		if (c->state == CALL_ENDED) {
			call_maybe_free(c);
		} else {
			respond_a(c, 503, "Shutting Down", NULL);
			call_end(c, "shutdown", "system");
		}
		cv_mem_unref(c);
	}
}
