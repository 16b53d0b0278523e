/* The server object: users, registrar, per-worker UA cores, dispatch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server_int.h"
#include "trunk_int.h"

#define MOD "server"

static struct srv_worker *sw_of(struct cv_srv *s, struct cv_worker *w)
{
	return &s->workers[cv_worker_index(w)];
}

static void on_request(struct cv_ua *ua, struct cv_txn *st,
		       struct cv_sip_msg *req, struct cv_dlg *dlg, void *arg)
{
	struct srv_worker *sw = arg;
	if (dlg) {
		b2bua_in_dialog(sw, st, req, dlg);
		return;
	}
	switch (req->method) {
	case CV_SIP_REGISTER:
		srv_register(sw, st, req);
		return;
	case CV_SIP_INVITE:
		b2bua_invite(sw, st, req);
		return;
	case CV_SIP_OPTIONS: {
		static const char hdrs[] =
			"Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, "
			"UPDATE, INFO, REFER, NOTIFY, MESSAGE, PRACK\r\n"
			"Accept: application/sdp\r\n";
		srv_reply(st, 200, NULL, hdrs);
		return;
	}
	case CV_SIP_BYE:
		srv_reply(st, 481, NULL, NULL);
		return;
	default:
		srv_reply(st, 405, NULL,
			  "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, "
			  "UPDATE, INFO, REFER, NOTIFY, MESSAGE, PRACK\r\n");
		return;
	}
	(void)ua;
}

static void on_ack(struct cv_ua *ua, struct cv_dlg *dlg, struct cv_sip_msg *ack,
		   void *arg)
{
	b2bua_ack(arg, dlg, ack);
}

static void on_cancel(struct cv_ua *ua, struct cv_txn *st,
		      struct cv_sip_msg *cancel, void *arg)
{
	b2bua_cancel(arg, st);
}

static void on_response(struct cv_ua *ua, struct cv_txn *ct,
			const struct cv_txn_resp *r, void *arg)
{
	if (!trunks_response(arg, ct, r))
		b2bua_response(arg, ct, r);
}

static void on_ack_timeout(struct cv_ua *ua, struct cv_dlg *dlg, void *arg)
{
	b2bua_ack_timeout(arg, dlg);
}

static void on_prack_timeout(struct cv_ua *ua, struct cv_dlg *dlg, void *arg)
{
	b2bua_prack_timeout(arg, dlg);
}

static const struct cv_ua_handlers ua_handlers = {
	.request = on_request,
	.ack = on_ack,
	.cancel = on_cancel,
	.response = on_response,
	.ack_timeout = on_ack_timeout,
	.prack_timeout = on_prack_timeout,
};

static char *dup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

int cv_srv_create(struct cv_srv **sp, const struct cv_srv_params *p)
{
	if (!p || !p->rt || !p->tp)
		return -EINVAL;
	struct cv_srv *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->p = *p;
	if (!s->p.reg_min_expires)
		s->p.reg_min_expires = 60;
	if (!s->p.reg_max_expires)
		s->p.reg_max_expires = 3600;
	if (!s->p.reg_default_expires)
		s->p.reg_default_expires = 600;
	if (!s->p.no_answer_ms)
		s->p.no_answer_ms = 60000;
	if (!s->p.rtp_port_min || !s->p.rtp_port_max) {
		s->p.rtp_port_min = 20000;
		s->p.rtp_port_max = 29999;
	}
	if (!s->p.max_bindings_per_aor)
		s->p.max_bindings_per_aor = 10;
	if (!s->p.trunk_timeout_ms)
		s->p.trunk_timeout_ms = 5000;
	int err = -ENOMEM;
	s->realm = strdup(p->realm ? p->realm : "cvoip");
	s->user_agent = strdup(p->user_agent ? p->user_agent : "cvoipd");
	if (!s->realm || !s->user_agent)
		goto fail;
	s->users = calloc(p->nusers ? p->nusers : 1, sizeof(*s->users));
	if (!s->users)
		goto fail;
	for (size_t i = 0; i < p->nusers; i++) {
		struct cv_srv_user *u = &s->users[i];
		u->name = dup_or_empty(p->users[i].name);
		u->ha1_md5 = dup_or_empty(p->users[i].ha1_md5);
		u->ha1_sha256 = dup_or_empty(p->users[i].ha1_sha256);
		u->ha1_sha512_256 = dup_or_empty(p->users[i].ha1_sha512_256);
		s->nusers++;
		if (!u->name || !u->ha1_md5 || !u->ha1_sha256 ||
		    !u->ha1_sha512_256)
			goto fail;
	}
	srv_users_sort(s);
	for (size_t i = 0;
	     i < p->ndigest_algs && s->nalgs < CV_DIGEST_ALG_COUNT; i++) {
		enum cv_digest_alg a;
		if (cv_digest_alg_from(cv_pl_str(p->digest_algs[i]), &a) != 0) {
			err = -EINVAL;
			goto fail;
		}
		s->algs[s->nalgs++] = a;
	}
	if (!s->nalgs)
		s->algs[s->nalgs++] = CV_DIGEST_MD5;
	if (!s->p.auth_window_ms)
		s->p.auth_window_ms = 60000;
	if (!s->p.auth_block_ms)
		s->p.auth_block_ms = 300000;
	s->fail = calloc(SRV_FAIL_SLOTS, sizeof(*s->fail));
	if (!s->fail) {
		err = -ENOMEM;
		goto fail;
	}
	pthread_mutex_init(&s->fail_lock, NULL);
	err = cv_random(s->secret, sizeof(s->secret));
	if (err)
		goto fail;
	/* One digest server for every worker: its nonce-count table is what
	 * refuses a replayed Authorization (RFC 7616 §3.4.5), and a replay
	 * with another Call-ID lands on another worker. */
	struct cv_digest_server_params dp = {.secret = s->secret,
					     .secret_len = sizeof(s->secret),
					     .realm = cv_pl_str(s->realm)};
	err = cv_digest_server_create(&s->digest, &dp);
	if (err)
		goto fail;
	err = registrar_init(&s->reg);
	if (err)
		goto fail;
	err = trunks_create(s);
	if (err)
		goto fail;
	s->nworkers = cv_rt_workers(p->rt);
	s->workers = calloc(s->nworkers, sizeof(*s->workers));
	if (!s->workers) {
		err = -ENOMEM;
		goto fail;
	}
	*sp = s;
	return 0;
fail:
	cv_srv_destroy(s);
	return err;
}

int cv_srv_worker_start(struct cv_srv *s, struct cv_worker *w)
{
	struct srv_worker *sw = sw_of(s, w);
	sw->srv = s;
	sw->w = w;
	static const char *const supported[] = {
		"path",	 "outbound", "gruu", "replaces",
		"timer", "100rel",   NULL};
	struct cv_ua_params up = {.tp = s->p.tp,
				  .w = w,
				  .h = &ua_handlers,
				  .arg = sw,
				  .user_agent = s->user_agent,
				  .supported = supported};
	int err = cv_ua_create(&sw->ua, &up);
	if (err)
		return err;
	sw->digest = s->digest;
	if (s->p.media_relay) {
		struct cv_rtp_relay_params rp = {
			.loop = cv_worker_loop(w),
			.local_addr = s->p.media_addr && *s->p.media_addr
					      ? s->p.media_addr
					      : NULL,
			.port_min = s->p.rtp_port_min,
			.port_max = s->p.rtp_port_max,
		};
		err = cv_rtp_relay_create(&sw->relay, &rp);
		if (err) {
			CV_ERROR(MOD, "worker %u: media relay: %s",
				 cv_worker_index(w), cv_strerror(err));
			return err;
		}
	}
	trunks_worker_start(sw);
	registrar_worker_start(sw);
	return 0;
}

void cv_srv_worker_stop(struct cv_srv *s, struct cv_worker *w)
{
	struct srv_worker *sw = sw_of(s, w);
	trunks_worker_stop(sw);
	registrar_worker_stop(sw);
	b2bua_worker_stop(sw);
	if (sw->relay) {
		cv_rtp_relay_destroy(sw->relay);
		sw->relay = NULL;
	}
	cv_ua_destroy(sw->ua);
	sw->ua = NULL;
	sw->digest = NULL;
}

void cv_srv_recv(struct cv_srv *s, struct cv_worker *w,
		 const struct cv_tp_rx *rx)
{
	struct srv_worker *sw = sw_of(s, w);
	if (sw->ua)
		cv_ua_recv(sw->ua, rx);
}

void cv_srv_destroy(struct cv_srv *s)
{
	if (!s)
		return;
	registrar_fini(&s->reg);
	trunks_destroy(s);
	cv_mem_unref(s->digest);
	if (s->fail) {
		pthread_mutex_destroy(&s->fail_lock);
		free(s->fail);
	}
	for (size_t i = 0; i < s->nusers; i++) {
		free((char *)s->users[i].name);
		free((char *)s->users[i].ha1_md5);
		free((char *)s->users[i].ha1_sha256);
		free((char *)s->users[i].ha1_sha512_256);
	}
	free(s->users);
	free(s->workers);
	free(s->realm);
	free(s->user_agent);
	free(s);
}

void cv_srv_stats_read(struct cv_srv *s, struct cv_srv_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->registers_ok = s->st_registers_ok;
	out->registers_challenged = s->st_registers_challenged;
	out->registers_rejected = s->st_registers_rejected;
	pthread_mutex_lock(&s->reg.lock);
	out->bindings = s->reg.nbindings;
	pthread_mutex_unlock(&s->reg.lock);
	out->calls_started = s->st_calls_started;
	out->calls_answered = s->st_calls_answered;
	out->calls_failed = s->st_calls_failed;
	out->calls_active = s->st_calls_active;
	out->auth_failures = s->st_auth_failures;
	out->auth_blocks = s->st_auth_blocks;
	out->auth_limited = s->st_auth_limited;
	out->relay_streams = s->st_relay_streams;
	out->relay_forwarded = s->st_relay_forwarded;
	trunks_stats(s, out);
}
