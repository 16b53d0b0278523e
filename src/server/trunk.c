/* Trunks: upstream SIP servers the B2BUA routes calls to.
 *
 * Routes (by priority) match the dialled Request-URI user by prefix
 * and/or POSIX extended regex and name up to TRUNK_ROUTE_MAX trunks: the
 * call goes to the first; a 5xx, 408, a transport error, no answer at all
 * within trunk_timeout_ms, or credentials the upstream refuses moves it to
 * the next (failover). A 401/407 from the upstream is answered with the
 * trunk's own digest credentials (RFC 3261 §22.2: same Call-ID and From
 * tag, CSeq + 1). A trunk with `register` keeps an outbound registration
 * at its upstream (RFC 3261 §10.2: REGISTER refreshed at half the granted
 * expiry, same Call-ID, CSeq growing). Requests whose source is a trunk's
 * address are taken without authentication (b2bua.c).
 *
 * Threads: the trunk and route tables are read-only after creation and
 * shared by every worker; the registration of trunk i lives on worker
 * i % workers (its Call-ID hashes there), and a leg's state on the call's
 * worker. Counters are atomic. */
#include <netdb.h>
#include <regex.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trunk_int.h"

#define MOD "trunk"

#define TRUNK_ROUTE_MAX	     8
#define TRUNK_RETRY_MS	     30000 /* failed registration: try again after */
#define TRUNK_MIN_REFRESH_MS 1000
/* uarg kind of a registration transaction (b2bua.c uses small values) */
#define UARG_TRUNK_REG 0x54524b47

struct trunk;

struct trunk_reg {
	int kind; /* UARG_TRUNK_REG: first, as for every uarg of the UA */
	struct trunk *t;
	struct srv_worker *sw;
	struct cv_txn *ct;
	struct cv_tmr tmr;
	char call_id[128];
	char from_tag[64];
	uint32_t cseq;
	unsigned auth_tries;
	bool registered;
};

struct trunk {
	char *name, *host, *transport, *username, *password, *realm;
	uint16_t port;
	bool do_register;
	uint32_t expires_s;
	union cv_txn_sockaddr sa; /* the host resolved at start */
	bool match_port;	  /* UDP: a request from the trunk comes
				   * from its port too */
	char dst_uri[160];	  /* sip:IP:port;transport=x */
	char domain[300];	  /* host[:port] for URIs */
	char tp_param[32];	  /* ";transport=tcp" or "" */
	struct trunk_reg reg;
};

struct trunk_route {
	char *name;
	char *prefix;
	regex_t re;
	bool has_re;
	bool relay;
	unsigned ntrunks;
	struct trunk *trunks[TRUNK_ROUTE_MAX];
};

struct trunk_set {
	struct trunk *trunks;
	size_t ntrunks;
	struct trunk_route *routes;
	size_t nroutes;
	_Atomic uint64_t registered, calls, failovers, auth_answers;
};

struct trunk_leg {
	struct srv_worker *sw;
	const struct trunk_route *route;
	unsigned idx;	     /* trunk of the route in use */
	unsigned auth_tries; /* on this trunk */
	struct cv_txn *ct;   /* current transaction (borrowed) */
	struct cv_tmr tmr;   /* no response at all in time: next trunk */
	bool answered;	     /* the current trunk sent something */
	char *user, *caller, *from_display, *call_id, *headers, *ctype, *body;
	size_t body_len;
	int max_forwards;
	void *uarg;
	char from_tag[64];
	uint32_t cseq;
};

static char *dup_s(const char *s)
{
	return strdup(s ? s : "");
}

/* ---- creation ----------------------------------------------------------- */

static int resolve(struct trunk *t)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
				 .ai_socktype = SOCK_DGRAM};
	struct addrinfo *ai = NULL;
	char port[8];
	snprintf(port, sizeof(port), "%u", t->port);
	if (getaddrinfo(t->host, port, &hints, &ai) != 0 || !ai) {
		CV_ERROR(MOD, "trunk %s: cannot resolve host '%s'", t->name,
			 t->host);
		return -EINVAL;
	}
	memset(&t->sa, 0, sizeof(t->sa));
	memcpy(&t->sa, ai->ai_addr,
	       CV_MIN((size_t)ai->ai_addrlen, sizeof(t->sa)));
	freeaddrinfo(ai);
	char ip[INET6_ADDRSTRLEN] = "";
	if (t->sa.sa.sa_family == AF_INET6)
		inet_ntop(AF_INET6, &t->sa.in6.sin6_addr, ip, sizeof(ip));
	else
		inet_ntop(AF_INET, &t->sa.in.sin_addr, ip, sizeof(ip));
	bool v6 = t->sa.sa.sa_family == AF_INET6;
	bool tp = t->transport[0] && strcmp(t->transport, "udp") != 0;
	snprintf(t->tp_param, sizeof(t->tp_param), "%s%s",
		 tp ? ";transport=" : "", tp ? t->transport : "");
	snprintf(t->dst_uri, sizeof(t->dst_uri), "sip:%s%s%s:%u%s",
		 v6 ? "[" : "", ip, v6 ? "]" : "", t->port, t->tp_param);
	bool hv6 = strchr(t->host, ':') != NULL;
	snprintf(t->domain, sizeof(t->domain), "%s%s%s:%u", hv6 ? "[" : "",
		 t->host, hv6 ? "]" : "", t->port);
	t->match_port = !tp;
	return 0;
}

static struct trunk *trunk_by_name(struct trunk_set *ts, const char *name,
				   size_t len)
{
	for (size_t i = 0; i < ts->ntrunks; i++)
		if (strlen(ts->trunks[i].name) == len &&
		    !memcmp(ts->trunks[i].name, name, len))
			return &ts->trunks[i];
	return NULL;
}

int trunks_create(struct cv_srv *s)
{
	const struct cv_srv_params *p = &s->p;
	if (!p->ntrunks && !p->nroutes)
		return 0;
	struct trunk_set *ts = calloc(1, sizeof(*ts));
	if (!ts)
		return -ENOMEM;
	s->trunks = ts;
	ts->trunks = calloc(p->ntrunks ? p->ntrunks : 1, sizeof(*ts->trunks));
	ts->routes = calloc(p->nroutes ? p->nroutes : 1, sizeof(*ts->routes));
	if (!ts->trunks || !ts->routes)
		return -ENOMEM;
	for (size_t i = 0; i < p->ntrunks; i++) {
		const struct cv_store_trunk *in = &p->trunks[i];
		struct trunk *t = &ts->trunks[ts->ntrunks++];
		t->name = dup_s(in->name);
		t->host = dup_s(in->host);
		t->transport = dup_s(in->transport);
		t->username = dup_s(in->username);
		t->password = dup_s(in->password);
		t->realm = dup_s(in->realm);
		t->port = in->port ? in->port : 5060;
		t->do_register = in->do_register;
		t->expires_s = in->expires_s ? in->expires_s : 3600;
		cv_tmr_init(&t->reg.tmr);
		t->reg.kind = UARG_TRUNK_REG;
		t->reg.t = t;
		if (!t->name || !t->host || !t->transport || !t->username ||
		    !t->password || !t->realm)
			return -ENOMEM;
		for (char *c = t->transport; *c; c++)
			*c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
		if (!*t->name || !*t->host) {
			CV_ERROR(MOD, "a trunk needs a name and a host");
			return -EINVAL;
		}
		if (t->do_register && !*t->username) {
			CV_ERROR(MOD, "trunk %s: register needs a username",
				 t->name);
			return -EINVAL;
		}
		int err = resolve(t);
		if (err)
			return err;
	}
	for (size_t i = 0; i < p->nroutes; i++) {
		const struct cv_store_route *in = &p->routes[i];
		struct trunk_route *r = &ts->routes[ts->nroutes++];
		r->name = dup_s(in->name);
		r->prefix = dup_s(in->prefix);
		if (!r->name || !r->prefix)
			return -ENOMEM;
		r->relay = p->media_relay &&
			   !(in->media && !strcmp(in->media, "direct"));
		if (in->pattern && *in->pattern) {
			if (regcomp(&r->re, in->pattern,
				    REG_EXTENDED | REG_NOSUB) != 0) {
				CV_ERROR(MOD, "route %s: bad pattern '%s'",
					 r->name, in->pattern);
				return -EINVAL;
			}
			r->has_re = true;
		}
		/* trunk: the names in failover order, comma-separated (the
		 * store's one column holds the list) */
		const char *list = in->trunk ? in->trunk : "";
		while (*list) {
			size_t n = strcspn(list, ",");
			struct trunk *t = n ? trunk_by_name(ts, list, n) : NULL;
			if (!t || r->ntrunks >= TRUNK_ROUTE_MAX) {
				CV_ERROR(MOD, "route %s: %s '%.*s'", r->name,
					 t ? "too many trunks at"
					   : "unknown trunk",
					 (int)n, list);
				return -EINVAL;
			}
			r->trunks[r->ntrunks++] = t;
			list += n;
			if (*list == ',')
				list++;
		}
		if (!r->ntrunks) {
			CV_ERROR(MOD, "route %s names no trunk", r->name);
			return -EINVAL;
		}
	}
	return 0;
}

void trunks_destroy(struct cv_srv *s)
{
	struct trunk_set *ts = s->trunks;
	if (!ts)
		return;
	for (size_t i = 0; i < ts->ntrunks; i++) {
		struct trunk *t = &ts->trunks[i];
		free(t->name);
		free(t->host);
		free(t->transport);
		free(t->username);
		free(t->password);
		free(t->realm);
	}
	for (size_t i = 0; i < ts->nroutes; i++) {
		struct trunk_route *r = &ts->routes[i];
		free(r->name);
		free(r->prefix);
		if (r->has_re)
			regfree(&r->re);
	}
	free(ts->trunks);
	free(ts->routes);
	free(ts);
	s->trunks = NULL;
}

void trunks_stats(struct cv_srv *s, struct cv_srv_stats *out)
{
	struct trunk_set *ts = s->trunks;
	if (!ts)
		return;
	out->trunks_registered = ts->registered;
	out->trunk_calls = ts->calls;
	out->trunk_failovers = ts->failovers;
}

/* ---- matching ----------------------------------------------------------- */

const char *trunk_source(struct cv_srv *s, const struct cv_txn_addr *src)
{
	struct trunk_set *ts = s->trunks;
	if (!ts || !src)
		return NULL;
	const union cv_txn_sockaddr *a = &src->remote;
	for (size_t i = 0; i < ts->ntrunks; i++) {
		const struct trunk *t = &ts->trunks[i];
		if (t->sa.sa.sa_family != a->sa.sa_family)
			continue;
		if (a->sa.sa_family == AF_INET) {
			if (a->in.sin_addr.s_addr == t->sa.in.sin_addr.s_addr &&
			    (!t->match_port ||
			     a->in.sin_port == t->sa.in.sin_port))
				return t->name;
		} else if (a->sa.sa_family == AF_INET6) {
			if (!memcmp(&a->in6.sin6_addr, &t->sa.in6.sin6_addr,
				    sizeof(a->in6.sin6_addr)) &&
			    (!t->match_port ||
			     a->in6.sin6_port == t->sa.in6.sin6_port))
				return t->name;
		}
	}
	return NULL;
}

const struct trunk_route *trunk_route_find(struct cv_srv *s, struct cv_pl user)
{
	struct trunk_set *ts = s->trunks;
	if (!ts || !user.l || user.l > 255)
		return NULL;
	char u[256];
	cv_pl_strcpy(user, u, sizeof(u));
	for (size_t i = 0; i < ts->nroutes; i++) {
		const struct trunk_route *r = &ts->routes[i];
		size_t pl = strlen(r->prefix);
		if (pl && strncmp(u, r->prefix, pl) != 0)
			continue;
		if (r->has_re && regexec(&r->re, u, 0, NULL, 0) != 0)
			continue;
		return r;
	}
	return NULL;
}

bool trunk_route_relay(const struct trunk_route *rt)
{
	return rt->relay;
}

int trunk_route_dst(struct srv_worker *sw, const struct trunk_route *rt,
		    struct cv_txn_addr *out)
{
	return cv_ua_addr_from_uri(sw->ua, cv_pl_str(rt->trunks[0]->dst_uri),
				   out);
}

/* ---- digest towards the upstream ---------------------------------------- */

/* The Authorization line answering resp's challenge for trunk t, into
 * hdr; CV_ENOTFOUND when there is none we may answer. */
static int authorize(const struct trunk *t, const struct cv_sip_msg *resp,
		     struct cv_pl method, struct cv_pl uri, struct cv_pl body,
		     struct cv_buf *hdr)
{
	if (!resp || !*t->username)
		return CV_ENOTFOUND;
	bool proxy = resp->status == 407;
	struct cv_digest_challenge ch;
	int err = cv_digest_challenge_best(resp, proxy, &ch);
	if (err)
		return err;
	if (*t->realm && !cv_pl_eq_str(ch.realm, t->realm)) {
		CV_LOG_RL(
			CV_LOG_WARN, MOD,
			"trunk %s: challenge for realm '%.*s', configured '%s'",
			t->name, (int)CV_MIN(ch.realm.l, 64), ch.realm.p,
			t->realm);
		return CV_ENOTFOUND;
	}
	struct cv_buf v;
	cv_buf_init(&v, 2048);
	struct cv_digest_client_params dp = {.user = cv_pl_str(t->username),
					     .password = cv_pl_str(t->password),
					     .method = method,
					     .uri = uri,
					     .body = body};
	err = cv_digest_authorize(&v, &ch, &dp);
	if (!err)
		err = cv_buf_printf(hdr, "%s: %.*s\r\n",
				    proxy ? "Proxy-Authorization"
					  : "Authorization",
				    (int)v.len, v.data);
	cv_buf_free(&v);
	return err;
}

/* ---- calls to a trunk --------------------------------------------------- */

static void leg_timeout(struct cv_tmr *tm, void *arg)
{
	struct trunk_leg *tl = arg;
	(void)tm;
	struct cv_txn *ct = tl->ct;
	if (!ct || tl->answered)
		return;
	CV_LOG_RL(CV_LOG_WARN, MOD, "trunk %s: no response within %u ms",
		  tl->route->trunks[tl->idx]->name,
		  tl->sw->srv->p.trunk_timeout_ms);
	/* stop the upstream in case it got it (sent once it answers), then
	 * the B2BUA sees a local 408: next trunk or the call's failure */
	cv_txn_cancel(ct, NULL);
	struct cv_txn_resp r = {.status = 408, .local = true};
	b2bua_response(tl->sw, ct, &r);
}

static int leg_send(struct srv_worker *sw, struct trunk_leg *tl,
		    const char *auth, struct cv_txn **ctp, char *peer,
		    size_t peer_size)
{
	const struct trunk *t = tl->route->trunks[tl->idx];
	char ruri[512], from[512], to[512];
	int n1 = snprintf(ruri, sizeof(ruri), "sip:%s@%s%s", tl->user,
			  t->domain, t->tp_param);
	int n2 = snprintf(from, sizeof(from), "sip:%s@%s", tl->caller,
			  t->domain);
	int n3 = snprintf(to, sizeof(to), "sip:%s@%s", tl->user, t->domain);
	if (n1 < 0 || n2 < 0 || n3 < 0 || (size_t)n1 >= sizeof(ruri) ||
	    (size_t)n2 >= sizeof(from) || (size_t)n3 >= sizeof(to))
		return CV_ETOOBIG;
	struct cv_txn_addr dst;
	int err = cv_ua_addr_from_uri(sw->ua, cv_pl_str(t->dst_uri), &dst);
	if (err)
		return err;
	struct cv_buf hdrs;
	cv_buf_init(&hdrs, 16384);
	cv_buf_append_str(&hdrs, tl->headers);
	if (auth)
		cv_buf_append_str(&hdrs, auth);
	struct cv_ua_req r = {
		.method = CV_SIP_INVITE,
		.ruri = cv_pl_str(ruri),
		.from_uri = cv_pl_str(from),
		.from_display = cv_pl_str(tl->from_display),
		.from_tag = cv_pl_str(tl->from_tag),
		.to_uri = cv_pl_str(to),
		.call_id = cv_pl_str(tl->call_id),
		.cseq = tl->cseq,
		.contact_user = cv_pl_str(tl->caller),
		.headers = {hdrs.data, hdrs.len},
		.content_type = cv_pl_str(tl->ctype),
		.body = {tl->body, tl->body_len},
		.dst = &dst,
		.uarg = tl->uarg,
		.max_forwards = tl->max_forwards,
	};
	err = cv_ua_request(sw->ua, &r, ctp);
	cv_buf_free(&hdrs);
	if (err)
		return err;
	if (!tl->from_tag[0])
		cv_pl_strcpy(cv_txn_request(*ctp)->from.tag, tl->from_tag,
			     sizeof(tl->from_tag));
	tl->ct = *ctp;
	tl->answered = false;
	if (sw->srv->p.trunk_timeout_ms)
		cv_tmr_start(cv_worker_wheel(sw->w), &tl->tmr,
			     (uint64_t)sw->srv->p.trunk_timeout_ms * 1000,
			     leg_timeout, tl);
	snprintf(peer, peer_size, "%s", ruri);
	return 0;
}

void trunk_leg_free(struct trunk_leg *tl)
{
	if (!tl)
		return;
	cv_tmr_cancel(&tl->tmr);
	free(tl->user);
	free(tl->caller);
	free(tl->from_display);
	free(tl->call_id);
	free(tl->headers);
	free(tl->ctype);
	free(tl->body);
	free(tl);
}

int trunk_leg_start(struct srv_worker *sw, const struct trunk_out *o,
		    struct trunk_leg **tlp, struct cv_txn **ctp, char *peer,
		    size_t peer_size)
{
	struct trunk_leg *tl = calloc(1, sizeof(*tl));
	if (!tl)
		return -ENOMEM;
	cv_tmr_init(&tl->tmr);
	tl->sw = sw;
	tl->route = o->route;
	tl->user = cv_pl_strdup(o->user);
	tl->caller = cv_pl_strdup(o->caller);
	tl->from_display = cv_pl_strdup(o->from_display);
	tl->call_id = cv_pl_strdup(o->call_id);
	tl->headers = cv_pl_strdup(o->headers);
	tl->ctype = cv_pl_strdup(o->content_type);
	tl->body = malloc(o->body.l ? o->body.l : 1);
	tl->body_len = o->body.l;
	tl->max_forwards = o->max_forwards;
	tl->uarg = o->uarg;
	tl->cseq = 1;
	if (!tl->user || !tl->caller || !tl->from_display || !tl->call_id ||
	    !tl->headers || !tl->ctype || !tl->body) {
		trunk_leg_free(tl);
		return -ENOMEM;
	}
	if (o->body.l)
		memcpy(tl->body, o->body.p, o->body.l);
	int err = leg_send(sw, tl, NULL, ctp, peer, peer_size);
	/* a first trunk that cannot be sent to: the next ones */
	while (err && tl->idx + 1 < tl->route->ntrunks) {
		CV_LOG_RL(CV_LOG_WARN, MOD, "trunk %s: %s, trying the next",
			  tl->route->trunks[tl->idx]->name, cv_strerror(err));
		tl->idx++;
		tl->cseq++;
		sw->srv->trunks->failovers++;
		err = leg_send(sw, tl, NULL, ctp, peer, peer_size);
	}
	if (err) {
		trunk_leg_free(tl);
		return err;
	}
	sw->srv->trunks->calls++;
	CV_INFO(MOD, "call to %s via route %s trunk %s", tl->user,
		tl->route->name, tl->route->trunks[tl->idx]->name);
	*tlp = tl;
	return 0;
}

void trunk_leg_seen(struct trunk_leg *tl, const struct cv_txn_resp *r)
{
	if (!tl)
		return;
	/* any final response (a local 408/503 too) ends the wait: the timer
	 * must not fire once the transaction may be released */
	if (!r->local)
		tl->answered = true;
	if (!r->local || r->status >= 200)
		cv_tmr_cancel(&tl->tmr);
}

int trunk_leg_retry(struct srv_worker *sw, struct trunk_leg *tl,
		    struct cv_txn *ct, const struct cv_txn_resp *r,
		    struct cv_txn **ctp, char *peer, size_t peer_size)
{
	if (!tl || ct != tl->ct)
		return CV_ENOTFOUND;
	cv_tmr_cancel(&tl->tmr);
	tl->ct = NULL;
	struct trunk_set *ts = sw->srv->trunks;
	const struct trunk *t = tl->route->trunks[tl->idx];
	uint16_t st = r->status;
	bool next = st == 408 || (st >= 500 && st < 600);
	if ((st == 401 || st == 407) && r->msg) {
		/* one answer per challenge; stale=true (RFC 7616 §3.3) earns
		 * another, bounded */
		struct cv_digest_challenge ch;
		bool stale =
			cv_digest_challenge_best(r->msg, st == 407, &ch) == 0 &&
			ch.stale;
		if (tl->auth_tries < 1 || (stale && tl->auth_tries < 3)) {
			struct cv_buf auth;
			cv_buf_init(&auth, 4096);
			char ruri[512];
			snprintf(ruri, sizeof(ruri), "sip:%s@%s%s", tl->user,
				 t->domain, t->tp_param);
			int err = authorize(
				t, r->msg, cv_pl_str("INVITE"), cv_pl_str(ruri),
				(struct cv_pl){tl->body, tl->body_len}, &auth);
			if (!err) {
				tl->auth_tries++;
				tl->cseq++;
				ts->auth_answers++;
				err = leg_send(sw, tl, auth.data, ctp, peer,
					       peer_size);
			}
			cv_buf_free(&auth);
			if (!err)
				return 0;
		}
		CV_LOG_RL(CV_LOG_WARN, MOD,
			  "trunk %s refused our credentials (%u)", t->name, st);
		next = true;
	}
	while (next && tl->idx + 1 < tl->route->ntrunks) {
		CV_INFO(MOD, "trunk %s failed with %u%s, failover to %s",
			t->name, st, r->local ? " (local)" : "",
			tl->route->trunks[tl->idx + 1]->name);
		tl->idx++;
		tl->auth_tries = 0;
		tl->cseq++;
		ts->failovers++;
		t = tl->route->trunks[tl->idx];
		if (leg_send(sw, tl, NULL, ctp, peer, peer_size) == 0)
			return 0;
	}
	return CV_ENOTFOUND;
}

/* ---- outbound registration ---------------------------------------------- */

static void reg_send(struct trunk_reg *g, const char *auth);

static void reg_timer(struct cv_tmr *tm, void *arg)
{
	struct trunk_reg *g = arg;
	(void)tm;
	g->auth_tries = 0;
	reg_send(g, NULL);
}

static void reg_schedule(struct trunk_reg *g, uint64_t ms)
{
	cv_tmr_start(cv_worker_wheel(g->sw->w), &g->tmr, ms * 1000, reg_timer,
		     g);
}

static void reg_set(struct trunk_reg *g, bool registered)
{
	struct trunk_set *ts = g->sw->srv->trunks;
	if (registered && !g->registered)
		ts->registered++;
	else if (!registered && g->registered)
		ts->registered--;
	g->registered = registered;
}

static void reg_send(struct trunk_reg *g, const char *auth)
{
	struct trunk *t = g->t;
	struct srv_worker *sw = g->sw;
	char ruri[400], aor[600], hdrs[8192];
	snprintf(ruri, sizeof(ruri), "sip:%s%s", t->domain, t->tp_param);
	snprintf(aor, sizeof(aor), "sip:%s@%s", t->username, t->domain);
	snprintf(hdrs, sizeof(hdrs), "Expires: %u\r\n%s", t->expires_s,
		 auth ? auth : "");
	struct cv_txn_addr dst;
	int err = cv_ua_addr_from_uri(sw->ua, cv_pl_str(t->dst_uri), &dst);
	if (!g->call_id[0])
		cv_ua_call_id_for(sw->ua, cv_worker_index(sw->w), g->call_id,
				  sizeof(g->call_id));
	g->cseq++;
	struct cv_ua_req r = {
		.method = CV_SIP_REGISTER,
		.ruri = cv_pl_str(ruri),
		.from_uri = cv_pl_str(aor),
		.from_tag = cv_pl_str(g->from_tag),
		.to_uri = cv_pl_str(aor),
		.call_id = cv_pl_str(g->call_id),
		.cseq = g->cseq,
		.contact_user = cv_pl_str(t->username),
		.headers = cv_pl_str(hdrs),
		.dst = &dst,
		.uarg = g,
	};
	if (!err)
		err = cv_ua_request(sw->ua, &r, &g->ct);
	if (err) {
		g->ct = NULL;
		CV_WARN(MOD, "trunk %s: REGISTER not sent: %s; again in %u s",
			t->name, cv_strerror(err), TRUNK_RETRY_MS / 1000);
		reg_schedule(g, TRUNK_RETRY_MS);
		return;
	}
	if (!g->from_tag[0])
		cv_pl_strcpy(cv_txn_request(g->ct)->from.tag, g->from_tag,
			     sizeof(g->from_tag));
}

/* The expiry the upstream granted: our Contact's expires parameter, else
 * Expires, else what we asked (RFC 3261 §10.2.4). */
static uint32_t granted(const struct trunk *t, const struct cv_sip_msg *m)
{
	uint32_t exp = t->expires_s;
	const struct cv_sip_hdr *h = cv_sip_msg_hdr(m, CV_SIP_HDR_EXPIRES);
	if (h) {
		char v[16];
		cv_pl_strcpy(cv_pl_trim(h->value), v, sizeof(v));
		char *end;
		unsigned long e = strtoul(v, &end, 10);
		if (end != v && !*end && e > 0 && e <= 86400 * 7)
			exp = (uint32_t)e;
	}
	struct cv_sip_vals_iter it = {0};
	struct cv_pl val;
	for (unsigned n = 0;
	     n < 32 &&
	     cv_sip_msg_vals_next(m, CV_SIP_HDR_CONTACT, &it, &val) == 0;
	     n++) {
		struct cv_sip_contact c;
		if (cv_sip_contact_parse(val, &c) != 0)
			continue;
		struct cv_sip_uri u;
		if (cv_sip_uri_parse(c.addr.uri, &u) != 0 ||
		    !cv_pl_eq_str(u.user, t->username))
			continue;
		if (c.expires >= 0 && c.expires <= 86400 * 7)
			exp = (uint32_t)c.expires;
		break;
	}
	return exp;
}

bool trunks_response(struct srv_worker *sw, struct cv_txn *ct,
		     const struct cv_txn_resp *r)
{
	int *kind = cv_txn_uarg(ct);
	if (!kind || *kind != UARG_TRUNK_REG)
		return false;
	struct trunk_reg *g = (struct trunk_reg *)(void *)kind;
	if (r->status < 200)
		return true;
	if (ct != g->ct) { /* not the current one (cannot happen): let go */
		cv_txn_set_uarg(ct, NULL);
		cv_txn_release(ct);
		return true;
	}
	struct trunk *t = g->t;
	cv_txn_set_uarg(ct, NULL);
	cv_txn_release(ct);
	g->ct = NULL;
	(void)sw;
	if ((r->status == 401 || r->status == 407) && r->msg &&
	    g->auth_tries < 2) {
		struct cv_buf auth;
		cv_buf_init(&auth, 4096);
		char ruri[400];
		snprintf(ruri, sizeof(ruri), "sip:%s%s", t->domain,
			 t->tp_param);
		int err = authorize(t, r->msg, cv_pl_str("REGISTER"),
				    cv_pl_str(ruri), (struct cv_pl)CV_PL_INIT,
				    &auth);
		if (!err) {
			g->auth_tries++;
			reg_send(g, auth.data);
			cv_buf_free(&auth);
			return true;
		}
		cv_buf_free(&auth);
	}
	if (r->status >= 200 && r->status < 300 && r->msg) {
		uint32_t exp = granted(t, r->msg);
		if (!g->registered)
			CV_INFO(MOD,
				"trunk %s registered at %s as %s (expires %u "
				"s)",
				t->name, t->domain, t->username, exp);
		reg_set(g, true);
		g->auth_tries = 0;
		uint64_t ms = (uint64_t)exp * 1000 / 2;
		reg_schedule(g, ms < TRUNK_MIN_REFRESH_MS ? TRUNK_MIN_REFRESH_MS
							  : ms);
		return true;
	}
	CV_WARN(MOD, "trunk %s: registration failed: %u%s; again in %u s",
		t->name, r->status, r->local ? " (local)" : "",
		TRUNK_RETRY_MS / 1000);
	reg_set(g, false);
	uint64_t retry =
		CV_MIN((uint64_t)TRUNK_RETRY_MS, (uint64_t)t->expires_s * 1000);
	reg_schedule(g, retry < TRUNK_MIN_REFRESH_MS ? TRUNK_MIN_REFRESH_MS
						     : retry);
	return true;
}

void trunks_worker_start(struct srv_worker *sw)
{
	struct trunk_set *ts = sw->srv->trunks;
	if (!ts)
		return;
	unsigned idx = cv_worker_index(sw->w);
	for (size_t i = 0; i < ts->ntrunks; i++) {
		struct trunk *t = &ts->trunks[i];
		if (!t->do_register || i % sw->srv->nworkers != idx)
			continue;
		t->reg.sw = sw;
		t->reg.cseq = 0;
		t->reg.call_id[0] = t->reg.from_tag[0] = '\0';
		t->reg.auth_tries = 0;
		reg_send(&t->reg, NULL);
	}
}

void trunks_worker_stop(struct srv_worker *sw)
{
	struct trunk_set *ts = sw->srv->trunks;
	if (!ts)
		return;
	for (size_t i = 0; i < ts->ntrunks; i++) {
		struct trunk_reg *g = &ts->trunks[i].reg;
		if (g->sw != sw)
			continue;
		cv_tmr_cancel(&g->tmr);
		if (g->ct) {
			cv_txn_set_uarg(g->ct, NULL);
			cv_txn_release(g->ct);
			g->ct = NULL;
		}
		reg_set(g, false);
		g->sw = NULL;
	}
}
