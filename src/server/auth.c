/* Digest authentication of REGISTER (401) and INVITE (407) against the
 * users' stored HA1 (RFC 3261 §22, RFC 7616, RFC 8760). */
#include <stdio.h>
#include <string.h>

#include "server_int.h"

#define MOD "auth"

const struct cv_srv_user *srv_user_find(struct cv_srv *s, struct cv_pl name)
{
	for (size_t i = 0; i < s->nusers; i++)
		if (cv_pl_eq_str(name, s->users[i].name))
			return &s->users[i];
	return NULL;
}

static const char *ha1_for(const struct cv_srv_user *u, enum cv_digest_alg alg)
{
	switch (alg) {
	case CV_DIGEST_MD5:
	case CV_DIGEST_MD5_SESS:
		return u->ha1_md5;
	case CV_DIGEST_SHA256:
	case CV_DIGEST_SHA256_SESS:
		return u->ha1_sha256;
	case CV_DIGEST_SHA512_256:
	case CV_DIGEST_SHA512_256_SESS:
		return u->ha1_sha512_256;
	default:
		return NULL;
	}
}

void srv_reply(struct cv_txn *st, uint16_t status, const char *reason,
	       const char *headers)
{
	struct cv_txn_resp_params rp = {.reason = reason,
					.headers = cv_pl_str(headers)};
	cv_txn_respond(st, status, &rp);
	cv_txn_release(st);
}

/* RFC 8760 §2.4: one challenge per configured algorithm, in the
 * configured order. Widely deployed phones (libre/baresip 1.x among them)
 * fail on any challenge whose algorithm they lack instead of skipping it,
 * which is why the default is MD5 alone (docs/server.md). */
static void challenge(struct srv_worker *sw, struct cv_txn *st, bool proxy,
		      bool stale)
{
	struct cv_buf hdrs, v;
	cv_buf_init(&hdrs, 4096);
	cv_buf_init(&v, 2048);
	const char *name = proxy ? "Proxy-Authenticate" : "WWW-Authenticate";
	for (size_t i = 0; i < sw->srv->nalgs; i++) {
		cv_buf_reset(&v);
		if (cv_digest_server_challenge(sw->digest, &v, sw->srv->algs[i],
					       stale) == 0)
			cv_buf_printf(&hdrs, "%s: %.*s\r\n", name, (int)v.len,
				      v.data);
	}
	srv_reply(st, proxy ? 407 : 401, NULL, hdrs.data ? hdrs.data : "");
	cv_buf_free(&v);
	cv_buf_free(&hdrs);
}

int srv_authenticate(struct srv_worker *sw, struct cv_txn *st,
		     struct cv_sip_msg *req, bool proxy,
		     const struct cv_srv_user **user)
{
	struct cv_srv *s = sw->srv;
	enum cv_sip_hdr_id id = proxy ? CV_SIP_HDR_PROXY_AUTHORIZATION
				      : CV_SIP_HDR_AUTHORIZATION;
	bool stale = false, tried = false;
	for (const struct cv_sip_hdr *h = cv_sip_msg_hdr(req, id); h;
	     h = cv_sip_msg_hdr_next(req, h)) {
		struct cv_digest_credentials cr;
		if (cv_digest_credentials_parse(h->value, &cr) != 0)
			continue;
		if (!cv_pl_eq_str(cr.realm, s->realm))
			continue; /* credentials for someone else */
		tried = true;
		const struct cv_srv_user *u = srv_user_find(s, cr.username);
		const char *ha1 = u ? ha1_for(u, cr.alg) : NULL;
		if (!ha1 || !*ha1)
			break;
		int err = cv_digest_server_verify(sw->digest, &cr, req->method_pl,
						  req->body, cv_pl_str(ha1));
		if (err == 0) {
			*user = u;
			return 0;
		}
		if (err == CV_ESTALE) {
			stale = true;
			tried = false;
		}
		break;
	}
	if (tried) {
		s->st_auth_failures++;
		CV_LOG_RL(CV_LOG_WARN, MOD, "authentication failed call-id=%.*s",
			  CV_PL_ARG(req->call_id));
		srv_reply(st, 403, "Forbidden", NULL);
		return CV_EAUTH;
	}
	challenge(sw, st, proxy, stale);
	return CV_EAUTH;
}
