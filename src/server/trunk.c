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
 * address are taken without authentication (b2bua.c); their Request-URI
 * user may be an inbound DID mapped to a local user.
 *
 * A route rewrites the number it sends (strip, prepend, regex) and may
 * force SRTP on or off toward its trunks (media.c; under `required` a 488
 * fails over). A trunk with `options_ping` is health-checked with OPTIONS
 * (RFC 3261 §11); after `down_after` failures in a row it is down and
 * routes skip it until it answers again.
 *
 * A trunk host given by name is resolved with RFC 3263 (the transport's
 * c-ares resolver: NAPTR -> SRV -> A/AAAA, or SRV only with a configured
 * transport, A/AAAA only with a configured port) and again every
 * TRUNK_DNS_REFRESH_MS (the transport's TTL cache decides when DNS is
 * really asked); a call tries the targets in order (RFC 3263 §4.3: a
 * transport error, a timeout or a 503 tries the next one) before the
 * route's next trunk. Until the first answer the trunk is skipped. TLS
 * toward a name checks that name in the certificate (RFC 5922 §7.1).
 *
 * Threads: the trunk, route and DID tables are read-only after creation
 * and shared by every worker, except a trunk's `down` flag (atomic,
 * written by the worker that pings it) and its targets (an immutable
 * refcounted set, swapped under the trunk's mutex by the worker that
 * resolves it; readers take a reference under it); the registration,
 * the pings and the resolution of trunk i live on worker i % workers
 * (their Call-IDs hash there), and a leg's state on the call's worker.
 * Counters are atomic. */
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
/* ... and of an OPTIONS health check */
#define UARG_TRUNK_PING	     0x54524b50
#define TRUNK_DOWN_AFTER     3
#define TRUNK_NUMBER_MAX     128 /* a rewritten number */
#define TRUNK_REWRITE_GROUPS 10	 /* \0..\9 */
/* A trunk given by name is resolved again this often: the transport's
 * per-worker cache answers until the records' TTL runs out, so the
 * addresses follow a DNS change within TTL + this. */
#define TRUNK_DNS_REFRESH_MS 2000

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

/* The OPTIONS health check of one trunk (on the worker its registration
 * would use): a ping every interval; one still unanswered at the next
 * tick counts as failed. */
struct trunk_ping {
	int kind; /* UARG_TRUNK_PING: first */
	struct trunk *t;
	struct srv_worker *sw;
	struct cv_txn *ct;
	struct cv_tmr tmr;
	char call_id[128];
	char from_tag[64];
	uint32_t cseq;
	unsigned fails; /* in a row */
};

/* Where a trunk is reached: one target for a numeric host (made at
 * creation), the RFC 3263 targets (failover order) for a name. Immutable
 * once published; swapped under trunk.lock, refcounted (cv_mem). */
struct trunk_addrs {
	struct cv_tp_targets tg;
};

/* The re-resolution of a trunk given by name, on the worker that owns
 * its registration. */
struct trunk_dns {
	struct srv_worker *sw;
	struct cv_tmr tmr;
	struct cv_tp_query *q;
	unsigned fails; /* in a row */
};

struct trunk {
	char *name, *host, *transport, *username, *password, *realm;
	uint16_t port; /* configured; 0: by DNS / the transport's default */
	bool do_register;
	uint32_t expires_s;
	bool named;	      /* host is a DNS name (RFC 3263 §4) */
	enum cv_tp_kind kind; /* transport when configured (or numeric) */
	pthread_mutex_t lock; /* guards addrs */
	bool lock_init;
	struct trunk_addrs *addrs; /* NULL: not resolved (yet): unusable */
	_Atomic bool resolved;	   /* addrs set (read without the lock) */
	struct trunk_dns dns;
	char dst_uri[340]; /* sip:host[:port][;transport=x] (events) */
	char domain[300];  /* host[:port] for URIs */
	char tp_param[32]; /* ";transport=tcp" or "" */
	struct trunk_reg reg;
	uint32_t ping_ms;    /* 0: no OPTIONS health check */
	uint32_t down_after; /* failed pings in a row that mark it down */
	_Atomic bool down;   /* written by the pinging worker, read by all */
	struct trunk_ping ping;
};

struct trunk_did {
	char *number;
	char *user;
	const struct trunk *t; /* NULL: any trunk */
};

struct trunk_route {
	char *name;
	char *prefix;
	regex_t re;
	bool has_re;
	bool relay;
	/* number rewriting for the trunk: strip, prepend, regex */
	uint32_t strip;
	char *prepend;
	regex_t rw;
	bool has_rw;
	char *rw_replace;
	enum cv_srv_srtp srtp;
	unsigned ntrunks;
	struct trunk *trunks[TRUNK_ROUTE_MAX];
};

struct trunk_set {
	struct trunk *trunks;
	size_t ntrunks;
	struct trunk_route *routes;
	size_t nroutes;
	struct trunk_did *dids;
	size_t ndids;
	_Atomic uint64_t registered, calls, failovers, auth_answers, down,
		pings_failed, skipped;
};

struct trunk_leg {
	struct srv_worker *sw;
	const struct trunk_route *route;
	unsigned idx;		   /* trunk of the route in use */
	struct trunk_addrs *addrs; /* its targets (a reference) */
	unsigned tgt;		   /* the target in use */
	unsigned auth_tries;	   /* on this trunk */
	struct cv_txn *ct;	   /* current transaction (borrowed) */
	struct cv_tmr tmr;	   /* no response at all in time: next trunk */
	bool answered;		   /* the current trunk sent something */
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

/* A numeric host is its one target, a name goes to the transport's
 * RFC 3263 resolver (trunk_dns_tick). URIs carry the configured host:
 * with a name and no port the upstream's SRV records pick the port
 * (RFC 3263 §4.2), so none is written. */
static int trunk_addr_setup(struct trunk *t)
{
	t->kind = CV_TP_UDP;
	if (*t->transport &&
	    cv_tp_kind_parse(cv_pl_str(t->transport), &t->kind) != 0) {
		CV_ERROR(MOD, "trunk %s: bad transport '%s'", t->name,
			 t->transport);
		return -EINVAL;
	}
	if (strlen(t->host) > 253) {
		CV_ERROR(MOD, "trunk %s: host too long", t->name);
		return -EINVAL;
	}
	struct cv_tp_addr a;
	t->named = cv_tp_addr_set(&a, cv_pl_str(t->host), 0) != 0;
	uint16_t port = t->port ? t->port : cv_tp_kind_default_port(t->kind);
	bool tp = t->kind != CV_TP_UDP;
	snprintf(t->tp_param, sizeof(t->tp_param), "%s%s",
		 tp ? ";transport=" : "", tp ? cv_tp_kind_name(t->kind) : "");
	for (char *c = t->tp_param; *c; c++)
		*c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
	bool hv6 = strchr(t->host, ':') != NULL && t->host[0] != '[';
	if (t->named && !t->port)
		snprintf(t->domain, sizeof(t->domain), "%s", t->host);
	else
		snprintf(t->domain, sizeof(t->domain), "%s%s%s:%u",
			 hv6 ? "[" : "", t->host, hv6 ? "]" : "", port);
	snprintf(t->dst_uri, sizeof(t->dst_uri), "sip:%s%s", t->domain,
		 t->tp_param);
	if (pthread_mutex_init(&t->lock, NULL))
		return -ENOMEM;
	t->lock_init = true;
	cv_tmr_init(&t->dns.tmr);
	if (t->named)
		return 0;
	if (t->kind != CV_TP_UDP && t->kind != CV_TP_TCP &&
	    t->kind != CV_TP_TLS) {
		CV_ERROR(MOD, "trunk %s: transport must be udp, tcp or tls",
			 t->name);
		return -EINVAL;
	}
	t->addrs = cv_mem_zalloc(sizeof(*t->addrs), NULL);
	if (!t->addrs)
		return -ENOMEM;
	t->addrs->tg.n = 1;
	t->resolved = true;
	t->addrs->tg.t[0].kind = t->kind;
	cv_tp_addr_set(&t->addrs->tg.t[0].addr, cv_pl_str(t->host), port);
	return 0;
}

/* The trunk's current targets (a reference, trunk_addrs_put), NULL while
 * it is not resolved. Any worker. */
static struct trunk_addrs *trunk_addrs_get(struct trunk *t)
{
	pthread_mutex_lock(&t->lock);
	struct trunk_addrs *a = t->addrs ? cv_mem_ref(t->addrs) : NULL;
	pthread_mutex_unlock(&t->lock);
	return a;
}

static void trunk_addrs_put(struct trunk_addrs *a)
{
	if (a)
		cv_mem_unref(a);
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

/* Characters a rewritten number may hold (RFC 3261 §25.1 user part:
 * unreserved, user-unreserved and escapes). */
static bool number_ok(const char *n)
{
	if (!*n)
		return false;
	for (; *n; n++) {
		char ch = *n;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') ||
		      strchr("-_.!~*'()&=+$,;?/%", ch)))
			return false;
	}
	return true;
}

static int route_opts(struct trunk_route *r, const struct cv_srv_params *p)
{
	const struct cv_srv_route_opts *o = NULL;
	for (size_t i = 0; i < p->nroute_opts && !o; i++)
		if (p->route_opts[i].route &&
		    !strcmp(p->route_opts[i].route, r->name))
			o = &p->route_opts[i];
	r->prepend = dup_s(o ? o->prepend : NULL);
	r->rw_replace = dup_s(o ? o->rewrite_replace : NULL);
	if (!r->prepend || !r->rw_replace)
		return -ENOMEM;
	if (!o)
		return 0;
	r->strip = o->strip;
	r->srtp = o->srtp;
	if (r->srtp != CV_SRV_SRTP_OPTIONAL && !r->relay) {
		CV_ERROR(MOD, "route %s: an SRTP policy needs media relay",
			 r->name);
		return -EINVAL;
	}
	if (*r->prepend && !number_ok(r->prepend)) {
		CV_ERROR(MOD, "route %s: bad prepend '%s'", r->name,
			 r->prepend);
		return -EINVAL;
	}
	if (o->rewrite_match && *o->rewrite_match) {
		if (regcomp(&r->rw, o->rewrite_match, REG_EXTENDED) != 0) {
			CV_ERROR(MOD, "route %s: bad rewrite '%s'", r->name,
				 o->rewrite_match);
			return -EINVAL;
		}
		r->has_rw = true;
	}
	return 0;
}

static int trunk_opts(struct trunk *t, const struct cv_srv_params *p)
{
	t->down_after = TRUNK_DOWN_AFTER;
	for (size_t i = 0; i < p->ntrunk_opts; i++) {
		const struct cv_srv_trunk_opts *o = &p->trunk_opts[i];
		if (!o->trunk || strcmp(o->trunk, t->name))
			continue;
		t->ping_ms = o->options_ping_ms;
		if (o->down_after)
			t->down_after = o->down_after;
	}
	cv_tmr_init(&t->ping.tmr);
	t->ping.kind = UARG_TRUNK_PING;
	t->ping.t = t;
	return 0;
}

/* strcmp of a slice and a string */
static int pl_cmp_str(struct cv_pl a, const char *b)
{
	size_t bl = strlen(b);
	size_t n = CV_MIN(a.l, bl);
	int c = n ? memcmp(a.p, b, n) : 0;
	if (c)
		return c;
	return a.l < bl ? -1 : a.l > bl ? 1 : 0;
}

static int did_cmp(const void *a, const void *b)
{
	return strcmp(((const struct trunk_did *)a)->number,
		      ((const struct trunk_did *)b)->number);
}

static int dids_create(struct trunk_set *ts, const struct cv_srv_params *p)
{
	if (!p->ndids)
		return 0;
	ts->dids = calloc(p->ndids, sizeof(*ts->dids));
	if (!ts->dids)
		return -ENOMEM;
	for (size_t i = 0; i < p->ndids; i++) {
		const struct cv_srv_did *in = &p->dids[i];
		struct trunk_did *d = &ts->dids[ts->ndids++];
		d->number = dup_s(in->number);
		d->user = dup_s(in->user);
		if (!d->number || !d->user)
			return -ENOMEM;
		if (!*d->number || !*d->user) {
			CV_ERROR(MOD, "a DID needs a number and a user");
			return -EINVAL;
		}
		if (in->trunk && *in->trunk) {
			d->t = trunk_by_name(ts, in->trunk, strlen(in->trunk));
			if (!d->t) {
				CV_ERROR(MOD, "DID %s: unknown trunk '%s'",
					 d->number, in->trunk);
				return -EINVAL;
			}
		}
	}
	return 0;
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
		t->port = in->port; /* 0: by DNS or the default */
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
		int err = trunk_addr_setup(t);
		if (!err)
			err = trunk_opts(t, p);
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
		int err = route_opts(r, p);
		if (err)
			return err;
	}
	int err = dids_create(ts, p);
	/* looked up by binary search (trunk_did_map) */
	if (!err && ts->ndids > 1)
		qsort(ts->dids, ts->ndids, sizeof(*ts->dids), did_cmp);
	return err;
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
		trunk_addrs_put(t->addrs);
		if (t->lock_init)
			pthread_mutex_destroy(&t->lock);
	}
	for (size_t i = 0; i < ts->nroutes; i++) {
		struct trunk_route *r = &ts->routes[i];
		free(r->name);
		free(r->prefix);
		free(r->prepend);
		free(r->rw_replace);
		if (r->has_re)
			regfree(&r->re);
		if (r->has_rw)
			regfree(&r->rw);
	}
	for (size_t i = 0; i < ts->ndids; i++) {
		free(ts->dids[i].number);
		free(ts->dids[i].user);
	}
	free(ts->dids);
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
	out->trunks_down = ts->down;
	out->trunk_pings_failed = ts->pings_failed;
	out->trunk_skipped = ts->skipped;
}

/* ---- matching ----------------------------------------------------------- */

/* Any of the trunk's resolved addresses: the IP, and for a UDP target
 * its port too (an upstream sends from where it listens); over TCP/TLS
 * the source port is ephemeral. */
static bool trunk_has_addr(struct trunk *t, const struct cv_tp_addr *a)
{
	bool hit = false;
	pthread_mutex_lock(&t->lock);
	const struct trunk_addrs *ad = t->addrs;
	for (unsigned i = 0; ad && i < ad->tg.n && !hit; i++) {
		const struct cv_tp_target *g = &ad->tg.t[i];
		hit = g->kind == CV_TP_UDP ? cv_tp_addr_eq(&g->addr, a)
					   : cv_tp_addr_eq_ip(&g->addr, a);
	}
	pthread_mutex_unlock(&t->lock);
	return hit;
}

const char *trunk_source(struct cv_srv *s, const struct cv_txn_addr *src)
{
	struct trunk_set *ts = s->trunks;
	if (!ts || !src)
		return NULL;
	sa_family_t fam = src->remote.sa.sa_family;
	if (fam != AF_INET && fam != AF_INET6)
		return NULL;
	struct cv_tp_addr a;
	cv_ua_sockaddr_to_tp(&a, &src->remote);
	for (size_t i = 0; i < ts->ntrunks; i++)
		if (trunk_has_addr(&ts->trunks[i], &a))
			return ts->trunks[i].name;
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

enum cv_srv_srtp trunk_route_srtp(const struct trunk_route *rt)
{
	return rt->srtp;
}

/* The route's first trunk at or after idx that is not down and has
 * addresses; ntrunks when none. */
static unsigned next_up(const struct trunk_route *rt, unsigned idx)
{
	while (idx < rt->ntrunks &&
	       (rt->trunks[idx]->down || !rt->trunks[idx]->resolved))
		idx++;
	return idx;
}

/* The transaction layer's destination for target g. */
static void target_dst(const struct cv_tp_target *g, struct cv_txn_addr *out)
{
	memset(out, 0, sizeof(*out));
	cv_ua_sockaddr_from_tp(&out->remote, &g->addr);
	out->kind = (uint8_t)g->kind;
	out->reliable = cv_tp_kind_is_stream(g->kind);
}

/* RFC 5922 §7.1: toward a TLS target the name to verify (and SNI) is the
 * trunk's configured domain, not the SRV target's name. The UA's send
 * has no place for a name, so the connection is opened here first with
 * one: a CRLF pair (RFC 3261 §7.5: CRLF before a start-line is ignored;
 * RFC 5626 §3.5.1 keep-alive) goes out on it, and the request that
 * follows finds the connection in the transport's table and reuses it.
 * A numeric host needs nothing: the certificate's IP address is checked
 * (the transport's default). */
static void tls_open(struct srv_worker *sw, const struct trunk *t,
		     const struct cv_tp_target *g)
{
	if (!t->named || g->kind != CV_TP_TLS)
		return;
	struct cv_tp_send_params sp = {
		.kind = g->kind, .dst = g->addr, .tls_name = t->host};
	int err = cv_tp_send(cv_ua_tp(sw->ua), sw->w, &sp, "\r\n\r\n", 4);
	if (err)
		CV_LOG_RL(CV_LOG_WARN, MOD, "trunk %s: TLS connect: %s",
			  t->name, cv_strerror(err));
}

/* The first target of trunk t, for its registration and pings. */
static int trunk_first_dst(struct srv_worker *sw, struct trunk *t,
			   struct cv_txn_addr *out)
{
	struct trunk_addrs *a = trunk_addrs_get(t);
	if (!a || !a->tg.n) {
		trunk_addrs_put(a);
		return CV_ENOTFOUND;
	}
	target_dst(&a->tg.t[0], out);
	tls_open(sw, t, &a->tg.t[0]);
	trunk_addrs_put(a);
	return 0;
}

int trunk_route_dst(struct srv_worker *sw, const struct trunk_route *rt,
		    struct cv_txn_addr *out)
{
	(void)sw;
	unsigned i = next_up(rt, 0);
	struct trunk_addrs *a =
		trunk_addrs_get(rt->trunks[i < rt->ntrunks ? i : 0]);
	if (!a || !a->tg.n) {
		trunk_addrs_put(a);
		return CV_ENOTFOUND;
	}
	target_dst(&a->tg.t[0], out);
	trunk_addrs_put(a);
	return 0;
}

bool trunk_did_map(struct cv_srv *s, const char *trunk, struct cv_pl *user)
{
	struct trunk_set *ts = s->trunks;
	if (!ts || !trunk || !ts->ndids)
		return false;
	/* sorted by number (dids_create): binary search for the first
	 * entry of the number, then its entries in turn */
	size_t lo = 0, hi = ts->ndids;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (pl_cmp_str(*user, ts->dids[mid].number) > 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	const struct trunk_did *any = NULL;
	for (size_t i = lo;
	     i < ts->ndids && !pl_cmp_str(*user, ts->dids[i].number); i++) {
		const struct trunk_did *d = &ts->dids[i];
		if (d->t && d->t->name == trunk) {
			any = d; /* the trunk's own entry first */
			break;
		}
		if (!d->t && !any)
			any = d;
	}
	if (!any)
		return false;
	CV_INFO(MOD, "DID %s from trunk %s -> %s", any->number, trunk,
		any->user);
	*user = cv_pl_str(any->user);
	return true;
}

/* The number sent to the route's trunks: `strip`, `prepend`, then the
 * regex rewrite (\0..\9 = the match's groups). CV_EINVAL when the
 * result is empty or not a valid user part. */
static int rewrite(const struct trunk_route *r, const char *in, char *out,
		   size_t size)
{
	char tmp[TRUNK_NUMBER_MAX * 2];
	size_t inl = strlen(in);
	const char *rest = in + CV_MIN((size_t)r->strip, inl);
	int n = snprintf(tmp, sizeof(tmp), "%s%s", r->prepend, rest);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return CV_ETOOBIG;
	regmatch_t mt[TRUNK_REWRITE_GROUPS];
	if (r->has_rw &&
	    regexec(&r->rw, tmp, TRUNK_REWRITE_GROUPS, mt, 0) == 0) {
		size_t o = 0;
		for (const char *c = r->rw_replace; *c; c++) {
			if (*c == '\\' && c[1] >= '0' && c[1] <= '9') {
				const regmatch_t *g = &mt[c[1] - '0'];
				c++;
				if (g->rm_so < 0)
					continue; /* a group that took no part
						   */
				size_t gl = (size_t)(g->rm_eo - g->rm_so);
				if (o + gl >= size)
					return CV_ETOOBIG;
				memcpy(out + o, tmp + g->rm_so, gl);
				o += gl;
				continue;
			}
			if (*c == '\\' && c[1] == '\\')
				c++;
			if (o + 1 >= size)
				return CV_ETOOBIG;
			out[o++] = *c;
		}
		out[o] = 0;
	} else {
		if ((size_t)n >= size)
			return CV_ETOOBIG;
		memcpy(out, tmp, (size_t)n + 1);
	}
	return number_ok(out) ? 0 : -EINVAL;
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

/* Trunks from..to-1 of the route were passed over: down. */
static void skip_log(struct srv_worker *sw, const struct trunk_route *rt,
		     unsigned from, unsigned to)
{
	for (unsigned i = from; i < to && i < rt->ntrunks; i++) {
		sw->srv->trunks->skipped++;
		CV_LOG_RL(CV_LOG_INFO, MOD, "route %s: trunk %s is %s, skipped",
			  rt->name, rt->trunks[i]->name,
			  rt->trunks[i]->down ? "down" : "not resolved");
	}
}

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
	if (!tl->addrs || tl->tgt >= tl->addrs->tg.n)
		return CV_ENOTFOUND;
	const struct cv_tp_target *g = &tl->addrs->tg.t[tl->tgt];
	struct cv_txn_addr dst;
	target_dst(g, &dst);
	tls_open(sw, t, g);
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
	int err = cv_ua_request(sw->ua, &r, ctp);
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
	trunk_addrs_put(tl->addrs);
	free(tl->user);
	free(tl->caller);
	free(tl->from_display);
	free(tl->call_id);
	free(tl->headers);
	free(tl->ctype);
	free(tl->body);
	free(tl);
}

/* Moves the leg on: to the current trunk's next target when `target`
 * (RFC 3263 §4.3: a transport error, a timeout or a 503 tries the next
 * address), else (or when there is none) to the route's next trunk that
 * is up and resolved, at its first target. tl->idx (unsigned)-1: the
 * first trunk. false when nothing is left. */
static bool leg_next(struct srv_worker *sw, struct trunk_leg *tl, bool target)
{
	const struct trunk_route *rt = tl->route;
	if (target && tl->addrs && tl->tgt + 1 < tl->addrs->tg.n) {
		tl->tgt++;
		tl->auth_tries = 0;
		char a[CV_TP_ADDRSTRLEN + 8];
		cv_tp_addr_print(&tl->addrs->tg.t[tl->tgt].addr, a, sizeof(a));
		CV_INFO(MOD, "trunk %s: next target %s %s",
			rt->trunks[tl->idx]->name,
			cv_tp_kind_name(tl->addrs->tg.t[tl->tgt].kind), a);
		return true;
	}
	unsigned from = tl->idx + 1; /* (unsigned)-1 + 1 = 0 */
	for (unsigned nx = next_up(rt, from); nx < rt->ntrunks;
	     nx = next_up(rt, nx + 1)) {
		skip_log(sw, rt, from, nx);
		from = nx + 1;
		struct trunk_addrs *a = trunk_addrs_get(rt->trunks[nx]);
		if (!a || !a->tg.n) {
			trunk_addrs_put(a);
			continue;
		}
		trunk_addrs_put(tl->addrs);
		tl->addrs = a;
		tl->idx = nx;
		tl->tgt = 0;
		tl->auth_tries = 0;
		return true;
	}
	skip_log(sw, rt, from, rt->ntrunks);
	return false;
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
	char dialled[TRUNK_NUMBER_MAX], number[TRUNK_NUMBER_MAX];
	cv_pl_strcpy(o->user, dialled, sizeof(dialled));
	int err = o->user.l < sizeof(dialled)
			  ? rewrite(o->route, dialled, number, sizeof(number))
			  : CV_ETOOBIG;
	if (err) {
		CV_LOG_RL(CV_LOG_WARN, MOD,
			  "route %s: number %.64s cannot be rewritten: %s",
			  o->route->name, dialled, cv_strerror(err));
		free(tl);
		return err;
	}
	if (strcmp(dialled, number))
		CV_INFO(MOD, "route %s: number %s rewritten to %s",
			o->route->name, dialled, number);
	tl->user = strdup(number);
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
	/* trunks the health check marked down (or not resolved yet) are
	 * passed over */
	tl->idx = (unsigned)-1;
	bool none = !leg_next(sw, tl, false);
	err = none ? CV_ENOTFOUND
		   : leg_send(sw, tl, NULL, ctp, peer, peer_size);
	if (none)
		CV_LOG_RL(CV_LOG_WARN, MOD,
			  "route %s: every trunk is down or unresolved",
			  tl->route->name);
	/* a destination that cannot be sent to: the trunk's next target,
	 * then the next trunks */
	while (err && !none) {
		const struct trunk *ft = tl->route->trunks[tl->idx];
		CV_LOG_RL(CV_LOG_WARN, MOD, "trunk %s: %s, trying the next",
			  ft->name, cv_strerror(err));
		if (!leg_next(sw, tl, true))
			break;
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
	/* 488 under `srtp: required`: another trunk may take SRTP */
	bool next = st == 408 || (st >= 500 && st < 600) ||
		    (st == 488 && tl->route->srtp == CV_SRV_SRTP_REQUIRED);
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
	/* RFC 3263 §4.3: no answer, a transport error (local 408/503) or a
	 * 503 tries the trunk's next address first */
	bool target = r->local || st == 503;
	while (next) {
		unsigned was = tl->idx;
		if (!leg_next(sw, tl, target))
			break;
		if (tl->idx != was)
			CV_INFO(MOD,
				"trunk %s failed with %u%s, failover to %s",
				t->name, st, r->local ? " (local)" : "",
				tl->route->trunks[tl->idx]->name);
		tl->cseq++;
		ts->failovers++;
		t = tl->route->trunks[tl->idx];
		if (leg_send(sw, tl, NULL, ctp, peer, peer_size) == 0)
			return 0;
		target = true; /* could not send: next address */
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
	int err = trunk_first_dst(sw, t, &dst);
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

/* ---- OPTIONS health check ----------------------------------------------- */

/* trunk.down / trunk.up on the bus (for the API, metrics and the event
 * log): a state change only, never per ping. */
static void pub_trunk(struct trunk_ping *g, enum cv_bus_type type,
		      uint16_t status, bool local)
{
	struct cv_bus *bus = g->sw->srv->p.bus;
	if (!bus)
		return;
	struct cv_bus_trunk ev = {.trunk = g->t->name,
				  .address = g->t->dst_uri,
				  .status = status,
				  .local = local,
				  .failures = g->fails};
	cv_bus_publish(bus, type, &ev);
}

/* One ping's outcome. Failed: no response within the interval (or Timer
 * F), a transport error (local), or 503 (RFC 3261 §21.5.4: the upstream
 * says it cannot serve). Any other response, 4xx/5xx included (a 405 or
 * 501 to OPTIONS still proves a live SIP server), is a success. */
static void ping_result(struct trunk_ping *g, uint16_t status, bool local)
{
	struct trunk *t = g->t;
	struct trunk_set *ts = g->sw->srv->trunks;
	if (!local && status != 503) {
		g->fails = 0;
		if (t->down) {
			t->down = false;
			ts->down--;
			CV_INFO(MOD, "trunk %s up (OPTIONS answered %u)",
				t->name, status);
			pub_trunk(g, CV_BUS_TRUNK_UP, status, false);
		}
		return;
	}
	g->fails++;
	ts->pings_failed++;
	if (!t->down && g->fails >= t->down_after) {
		t->down = true;
		ts->down++;
		CV_WARN(MOD,
			"trunk %s down: %u OPTIONS failed in a row (last: "
			"%u%s)",
			t->name, g->fails, status, local ? " local" : "");
		pub_trunk(g, CV_BUS_TRUNK_DOWN, status, local);
	}
}

static void ping_release(struct trunk_ping *g)
{
	if (!g->ct)
		return;
	cv_txn_set_uarg(g->ct, NULL);
	cv_txn_release(g->ct);
	g->ct = NULL;
}

static void ping_tick(struct cv_tmr *tm, void *arg)
{
	struct trunk_ping *g = arg;
	struct trunk *t = g->t;
	struct srv_worker *sw = g->sw;
	(void)tm;
	if (g->ct) { /* the last one is still unanswered */
		ping_release(g);
		ping_result(g, 408, true);
	}
	cv_tmr_start(cv_worker_wheel(sw->w), &g->tmr,
		     (uint64_t)t->ping_ms * 1000, ping_tick, g);
	char ruri[400], from[600], to[400];
	snprintf(ruri, sizeof(ruri), "sip:%s%s", t->domain, t->tp_param);
	snprintf(from, sizeof(from), "sip:%s@%s",
		 *t->username ? t->username : "cvoipd", t->domain);
	snprintf(to, sizeof(to), "sip:%s", t->domain);
	if (!g->call_id[0])
		cv_ua_call_id_for(sw->ua, cv_worker_index(sw->w), g->call_id,
				  sizeof(g->call_id));
	struct cv_txn_addr dst;
	int err = trunk_first_dst(sw, t, &dst);
	struct cv_ua_req r = {
		.method = CV_SIP_OPTIONS,
		.ruri = cv_pl_str(ruri),
		.from_uri = cv_pl_str(from),
		.from_tag = cv_pl_str(g->from_tag),
		.to_uri = cv_pl_str(to),
		.call_id = cv_pl_str(g->call_id),
		.cseq = ++g->cseq,
		.headers = CV_PL("Accept: application/sdp\r\n"),
		.dst = &dst,
		.uarg = g,
	};
	if (!err)
		err = cv_ua_request(sw->ua, &r, &g->ct);
	if (err) {
		g->ct = NULL;
		ping_result(g, 503, true);
		return;
	}
	if (!g->from_tag[0])
		cv_pl_strcpy(cv_txn_request(g->ct)->from.tag, g->from_tag,
			     sizeof(g->from_tag));
}

static void ping_response(struct trunk_ping *g, struct cv_txn *ct,
			  const struct cv_txn_resp *r)
{
	if (r->status < 200)
		return;
	if (ct != g->ct) { /* an older one (released already) */
		cv_txn_set_uarg(ct, NULL);
		cv_txn_release(ct);
		return;
	}
	ping_release(g);
	ping_result(g, r->status, r->local);
}

bool trunks_response(struct srv_worker *sw, struct cv_txn *ct,
		     const struct cv_txn_resp *r)
{
	int *kind = cv_txn_uarg(ct);
	if (kind && *kind == UARG_TRUNK_PING) {
		ping_response((struct trunk_ping *)(void *)kind, ct, r);
		return true;
	}
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

/* ---- RFC 3263 resolution of a trunk given by name ---------------------- */

static void dns_tick(struct cv_tmr *tm, void *arg);

static bool target_eq(const struct cv_tp_target *x,
		      const struct cv_tp_target *y)
{
	return x->kind == y->kind && cv_tp_addr_eq(&x->addr, &y->addr);
}

/* Same targets in the same order (nothing to publish). */
static bool addrs_same(const struct trunk_addrs *a,
		       const struct cv_tp_targets *b)
{
	if (!a || a->tg.n != b->n)
		return false;
	for (unsigned i = 0; i < b->n; i++)
		if (!target_eq(&a->tg.t[i], &b->t[i]))
			return false;
	return true;
}

/* Same targets in any order: SRV targets of one priority come in a new
 * weighted random order each time (RFC 2782), which is published (calls
 * spread by weight) but not logged. */
static bool addrs_same_set(const struct trunk_addrs *a,
			   const struct cv_tp_targets *b)
{
	if (!a || a->tg.n != b->n)
		return false;
	for (unsigned i = 0; i < b->n; i++) {
		bool found = false;
		for (unsigned j = 0; j < a->tg.n && !found; j++)
			found = target_eq(&a->tg.t[j], &b->t[i]);
		if (!found)
			return false;
	}
	return true;
}

/* A new answer: published when it differs (the order counts: it is the
 * failover order); the first one starts the registration. A failure
 * keeps the addresses known (an upstream stays reachable through a DNS
 * outage); before any answer the trunk stays unusable. */
static void dns_done(int err, const struct cv_tp_targets *tg, void *arg)
{
	struct trunk *t = arg;
	struct trunk_dns *d = &t->dns;
	d->q = NULL;
	if (!d->sw)
		return;
	if (!err && (!tg || !tg->n))
		err = CV_ENOTFOUND;
	if (err) {
		if (!d->fails++)
			CV_WARN(MOD, "trunk %s: cannot resolve %s: %s (%s)",
				t->name, t->host, cv_strerror(err),
				t->resolved ? "keeping the last addresses"
					    : "unusable until resolved");
	} else {
		d->fails = 0;
		bool first = !t->resolved;
		if (!addrs_same(t->addrs, tg)) {
			struct trunk_addrs *a = cv_mem_zalloc(sizeof(*a), NULL);
			if (a) {
				a->tg = *tg;
				char buf[512] = "";
				size_t o = 0;
				for (unsigned i = 0; i < tg->n && i < 4; i++) {
					char ad[CV_TP_ADDRSTRLEN + 8];
					cv_tp_addr_print(&tg->t[i].addr, ad,
							 sizeof(ad));
					o += (size_t)snprintf(
						buf + o, sizeof(buf) - o,
						"%s%s %s", i ? ", " : "",
						cv_tp_kind_name(tg->t[i].kind),
						ad);
				}
				if (!addrs_same_set(t->addrs, tg))
					CV_INFO(MOD,
						"trunk %s resolved %s: %u "
						"targets: %s%s",
						t->name, t->host, tg->n, buf,
						tg->n > 4 ? ", ..." : "");
				pthread_mutex_lock(&t->lock);
				struct trunk_addrs *old = t->addrs;
				t->addrs = a;
				pthread_mutex_unlock(&t->lock);
				t->resolved = true;
				trunk_addrs_put(old);
			}
		}
		struct trunk_reg *g = &t->reg;
		if (first && t->resolved && t->do_register && g->sw && !g->ct) {
			cv_tmr_cancel(&g->tmr);
			g->auth_tries = 0;
			reg_send(g, NULL);
		}
	}
	cv_tmr_start(cv_worker_wheel(d->sw->w), &d->tmr,
		     (uint64_t)TRUNK_DNS_REFRESH_MS * 1000, dns_tick, t);
}

static void dns_tick(struct cv_tmr *tm, void *arg)
{
	struct trunk *t = arg;
	struct trunk_dns *d = &t->dns;
	(void)tm;
	if (d->q || !d->sw)
		return;
	/* RFC 3263 §4.1/§4.2: a configured transport skips NAPTR, a
	 * configured port skips SRV (A/AAAA only) */
	struct cv_tp_resolve_params p = {.host = cv_pl_str(t->host),
					 .port = t->port,
					 .has_transport = *t->transport != 0,
					 .kind = t->kind,
					 .done = dns_done,
					 .arg = t};
	struct cv_tp_query *q = NULL;
	int err = cv_tp_resolve(cv_ua_tp(d->sw->ua), d->sw->w, &p, &q);
	if (err) {
		dns_done(err, NULL, t);
		return;
	}
	d->q = q; /* NULL when done ran already (cached) */
}

void trunks_worker_start(struct srv_worker *sw)
{
	struct trunk_set *ts = sw->srv->trunks;
	if (!ts)
		return;
	unsigned idx = cv_worker_index(sw->w);
	for (size_t i = 0; i < ts->ntrunks; i++) {
		struct trunk *t = &ts->trunks[i];
		if (t->ping_ms && i % sw->srv->nworkers == idx) {
			t->ping.sw = sw;
			t->ping.fails = 0;
			t->ping.cseq = 0;
			t->ping.call_id[0] = t->ping.from_tag[0] = '\0';
			ping_tick(&t->ping.tmr, &t->ping);
		}
		if (!t->do_register || i % sw->srv->nworkers != idx)
			continue;
		t->reg.sw = sw;
		t->reg.cseq = 0;
		t->reg.call_id[0] = t->reg.from_tag[0] = '\0';
		t->reg.auth_tries = 0;
		if (t->resolved)
			reg_send(&t->reg, NULL);
		/* else the first answer (dns_done) sends it */
	}
	/* after the registrations: the first answer may start one */
	for (size_t i = 0; i < ts->ntrunks; i++) {
		struct trunk *t = &ts->trunks[i];
		if (!t->named || i % sw->srv->nworkers != idx)
			continue;
		t->dns.sw = sw;
		t->dns.fails = 0;
		dns_tick(&t->dns.tmr, t);
	}
}

void trunks_worker_stop(struct srv_worker *sw)
{
	struct trunk_set *ts = sw->srv->trunks;
	if (!ts)
		return;
	for (size_t i = 0; i < ts->ntrunks; i++) {
		struct trunk_dns *d = &ts->trunks[i].dns;
		if (d->sw == sw) {
			cv_tmr_cancel(&d->tmr);
			if (d->q)
				cv_tp_query_cancel(d->q);
			d->q = NULL;
			d->sw = NULL;
		}
		struct trunk_ping *pg = &ts->trunks[i].ping;
		if (pg->sw == sw) {
			cv_tmr_cancel(&pg->tmr);
			ping_release(pg);
			pg->sw = NULL;
		}
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
