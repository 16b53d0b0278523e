/* Digest authentication of REGISTER (401) and INVITE (407) against the
 * users' stored HA1 (RFC 3261 §22, RFC 7616, RFC 8760). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server_int.h"

#define MOD "auth"

/* s->users is sorted by name (srv_users_sort): a binary search, so that
 * 100k users cost no more per request than ten. */
const struct cv_srv_user *srv_user_find(struct cv_srv *s, struct cv_pl name)
{
	size_t lo = 0, hi = s->nusers;
	if (!name.l)
		return NULL;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *u = s->users[mid].name;
		size_t ul = strlen(u);
		int c = memcmp(name.p, u, CV_MIN(name.l, ul));
		if (!c)
			c = name.l < ul ? -1 : name.l > ul ? 1 : 0;
		if (!c)
			return &s->users[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static int user_cmp(const void *a, const void *b)
{
	return strcmp(((const struct cv_srv_user *)a)->name,
		      ((const struct cv_srv_user *)b)->name);
}

void srv_users_sort(struct cv_srv *s)
{
	qsort(s->users, s->nusers, sizeof(*s->users), user_cmp);
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
 * which is why the default is MD5 alone (docs/server.md).
 * The challenge is answered statelessly (RFC 3261 §8.2.7: the role meant
 * for challenges, so that a flood of unauthenticated requests leaves no
 * transaction state behind; the nonce is stateless too): a retransmitted
 * request is challenged again with a fresh nonce, as by Kamailio's
 * www_challenge/proxy_challenge. */
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
					       stale) == 0) {
			cv_buf_append_str(&hdrs, name);
			cv_buf_append(&hdrs, ": ", 2);
			cv_buf_append(&hdrs, v.data, v.len);
			cv_buf_append(&hdrs, "\r\n", 2);
		}
	}
	struct cv_txn_resp_params rp = {
		.headers = cv_pl_str(hdrs.data ? hdrs.data : ""),
		.stateless = true};
	cv_txn_respond(st, proxy ? 407 : 401, &rp);
	cv_txn_release(st);
	cv_buf_free(&v);
	cv_buf_free(&hdrs);
}

/* ---- failed-authentication limit -------------------------------------------
 */

/* The source address as text, for log lines only. */
static void source_text(const struct cv_txn_addr *a, char *out, size_t size)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	if (a->remote.sa.sa_family == AF_INET)
		inet_ntop(AF_INET, &a->remote.in.sin_addr, ip, sizeof(ip));
	else if (a->remote.sa.sa_family == AF_INET6)
		inet_ntop(AF_INET6, &a->remote.in6.sin6_addr, ip, sizeof(ip));
	snprintf(out, size, "%s", ip);
}

static uint64_t key_hash(const char *prefix, struct cv_pl v)
{
	/* distinct seeds keep "a:x" and "u:x" apart */
	return cv_hash(v.p, v.l) * 1000003u ^ cv_hash(prefix, strlen(prefix));
}

/* The source address (without port) as a limit key: hashed from its
 * bytes, not from text, so that a request the limit does not stop costs
 * no inet_ntop()/printf (family in the seed keeps v4 and v6 apart). */
static uint64_t source_hash(const struct cv_txn_addr *a)
{
	if (a->remote.sa.sa_family == AF_INET)
		return key_hash(
			"a4",
			(struct cv_pl){(const char *)&a->remote.in.sin_addr,
				       sizeof(a->remote.in.sin_addr)});
	if (a->remote.sa.sa_family == AF_INET6)
		return key_hash(
			"a6",
			(struct cv_pl){(const char *)&a->remote.in6.sin6_addr,
				       sizeof(a->remote.in6.sin6_addr)});
	return key_hash("a", (struct cv_pl){"?", 1});
}

/* Still blocked? (lock held) */
static bool fail_blocked(struct cv_srv *s, uint64_t h, uint64_t now)
{
	struct fail_slot *f = &s->fail[h % SRV_FAIL_SLOTS];
	return f->hash == h && f->blocked_until_ms > now;
}

/* One more failure; true when this one starts a block (lock held). */
static bool fail_count(struct cv_srv *s, uint64_t h, uint32_t limit,
		       uint64_t now)
{
	struct fail_slot *f = &s->fail[h % SRV_FAIL_SLOTS];
	if (f->hash != h || now - f->window_start_ms > s->p.auth_window_ms) {
		if (f->hash == h && f->blocked_until_ms > now)
			return false;
		f->hash = h;
		f->window_start_ms = now;
		f->count = 0;
		f->blocked_until_ms = 0;
	}
	f->count++;
	if (f->count >= limit && f->blocked_until_ms <= now) {
		f->blocked_until_ms = now + s->p.auth_block_ms;
		return true;
	}
	return false;
}

/* cr: the first credentials of our realm, or NULL */
static bool limited(struct srv_worker *sw, struct cv_txn *st,
		    const struct cv_digest_credentials *cr)
{
	struct cv_srv *s = sw->srv;
	if (!s->p.auth_max_failures_source && !s->p.auth_max_failures_user)
		return false;
	uint64_t hs = source_hash(cv_txn_addr(st));
	uint64_t hu = cr ? key_hash("u", cr->username) : 0;
	uint64_t now = cv_clock_ms();
	pthread_mutex_lock(&s->fail_lock);
	bool blocked =
		(s->p.auth_max_failures_source && fail_blocked(s, hs, now)) ||
		(s->p.auth_max_failures_user && hu && fail_blocked(s, hu, now));
	pthread_mutex_unlock(&s->fail_lock);
	if (!blocked)
		return false;
	s->st_auth_limited++;
	char src[INET6_ADDRSTRLEN];
	source_text(cv_txn_addr(st), src, sizeof(src));
	CV_LOG_RL(CV_LOG_DEBUG, MOD, "refused while blocked: %s", src);
	srv_reply(st, 403, "Too Many Failed Attempts", NULL);
	return true;
}

static void record_failure(struct srv_worker *sw, struct cv_txn *st,
			   struct cv_pl user)
{
	struct cv_srv *s = sw->srv;
	char src[INET6_ADDRSTRLEN];
	source_text(cv_txn_addr(st), src, sizeof(src));
	uint64_t now = cv_clock_ms();
	bool block_src = false, block_user = false;
	pthread_mutex_lock(&s->fail_lock);
	if (s->p.auth_max_failures_source)
		block_src = fail_count(s, source_hash(cv_txn_addr(st)),
				       s->p.auth_max_failures_source, now);
	if (s->p.auth_max_failures_user && user.l)
		block_user = fail_count(s, key_hash("u", user),
					s->p.auth_max_failures_user, now);
	pthread_mutex_unlock(&s->fail_lock);
	if (block_src) {
		s->st_auth_blocks++;
		CV_LOG_RL(CV_LOG_WARN, MOD,
			  "blocking source %s for %u ms after %u failed "
			  "authentications",
			  src, s->p.auth_block_ms,
			  s->p.auth_max_failures_source);
	}
	if (block_user) {
		s->st_auth_blocks++;
		CV_LOG_RL(CV_LOG_WARN, MOD,
			  "blocking user %.*s for %u ms after %u failed "
			  "authentications",
			  (int)CV_MIN(user.l, 64), user.p, s->p.auth_block_ms,
			  s->p.auth_max_failures_user);
	}
}

int srv_authenticate(struct srv_worker *sw, struct cv_txn *st,
		     struct cv_sip_msg *req, bool proxy,
		     const struct cv_srv_user **user)
{
	struct cv_srv *s = sw->srv;
	enum cv_sip_hdr_id id = proxy ? CV_SIP_HDR_PROXY_AUTHORIZATION
				      : CV_SIP_HDR_AUTHORIZATION;
	/* the first credentials of our realm: the only ones tried, and the
	 * user the failure limit counts */
	struct cv_digest_credentials cr;
	bool have = false;
	for (const struct cv_sip_hdr *h = cv_sip_msg_hdr(req, id); h && !have;
	     h = cv_sip_msg_hdr_next(req, h))
		have = cv_digest_credentials_parse(h->value, &cr) == 0 &&
		       cv_pl_eq_str(cr.realm, s->realm);
	if (limited(sw, st, have ? &cr : NULL))
		return CV_EAUTH;
	bool stale = false, tried = false;
	struct cv_pl tried_user = CV_PL_INIT;
	if (have) {
		tried = true;
		tried_user = cr.username;
		const struct cv_srv_user *u = srv_user_find(s, cr.username);
		const char *ha1 = u ? ha1_for(u, cr.alg) : NULL;
		if (ha1 && *ha1) {
			int err = cv_digest_server_verify(
				sw->digest, &cr, req->method_pl, req->body,
				cv_pl_str(ha1));
			if (err == 0) {
				*user = u;
				return 0;
			}
			if (err == CV_ESTALE) {
				stale = true;
				tried = false;
			}
		}
	}
	if (tried) {
		s->st_auth_failures++;
		CV_LOG_RL(CV_LOG_WARN, MOD,
			  "authentication failed call-id=%.*s",
			  CV_PL_ARG(req->call_id));
		record_failure(sw, st, tried_user);
		srv_reply(st, 403, "Forbidden", NULL);
		return CV_EAUTH;
	}
	challenge(sw, st, proxy, stale);
	return CV_EAUTH;
}
