/* RFC 3263 §4 server location with c-ares on the worker's loop: NAPTR ->
 * SRV -> A/AAAA, RFC 2782 priority/weight ordering, a per-worker cache of
 * raw answers kept for their TTL, numeric hosts and maddr without DNS. */
#include <arpa/nameser.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ares.h>

#include "tp_int.h"

#define DNS_NEG_TTL_S 30 /* NXDOMAIN / no data kept this long */
#define DNS_MAX_TTL_S 86400
#define DNS_MAX_SRV   8 /* SRV names tried per query */
#define DNS_MAX_HOSTS CV_TP_MAX_TARGETS
#define DNS_BUCKETS   256

struct dns_sock {
	struct dns_sock *next;
	struct tp_dns *d;
	ares_socket_t fd;
	uv_poll_t poll;
};

struct dns_centry {
	struct dns_centry *next;
	int type;
	uint64_t expires_us;
	int status; /* ARES_SUCCESS or the negative answer */
	int alen;
	unsigned char *abuf;
	char name[];
};

struct tp_dns {
	struct tp_worker *tw;
	ares_channel ch;
	bool ch_ok;
	uv_timer_t tmr;
	bool tmr_init;
	struct dns_sock *socks;
	struct dns_centry *cache[DNS_BUCKETS];
	uint32_t ncache;
	struct cv_tp_query *queries;
	unsigned active; /* outstanding c-ares queries */
};

struct dns_srvname {
	char name[300];
	enum cv_tp_kind kind;
};

struct dns_host {
	char name[256];
	uint16_t port;
	enum cv_tp_kind kind;
};

enum dns_stage { ST_NAPTR, ST_SRV, ST_ADDR, ST_DONE };

struct cv_tp_query {
	struct cv_tp_query *next, *prev;
	struct tp_dns *d;
	cv_tp_resolved_fn *done;
	void *arg;
	bool cancelled;
	bool in_step;
	bool waiting; /* one c-ares query outstanding */
	bool have_result;
	bool res_nocache;
	int res_status;
	unsigned char *res_abuf;
	int res_alen;
	int res_type;
	char res_name[300];

	char host[256];
	bool sips;
	uint16_t port;
	enum cv_tp_kind kind;
	bool has_kind;

	enum dns_stage stage;
	struct dns_srvname srv[DNS_MAX_SRV];
	unsigned nsrv, isrv;
	struct dns_host hosts[DNS_MAX_HOSTS];
	unsigned nhost, ihost;
	int ifam; /* 0: A, 1: AAAA */
	struct cv_tp_targets out;
};

/* ---- c-ares on libuv
 * ---------------------------------------------------------------- */

static void dns_poll_cb(uv_poll_t *h, int status, int events)
{
	struct dns_sock *s = h->data;
	ares_socket_t rfd = ARES_SOCKET_BAD, wfd = ARES_SOCKET_BAD;
	if (status < 0 || (events & UV_READABLE))
		rfd = s->fd;
	if (status < 0 || (events & UV_WRITABLE))
		wfd = s->fd;
	ares_process_fd(s->d->ch, rfd, wfd);
}

static void dns_sock_closed(uv_handle_t *h)
{
	free(h->data);
}

static void dns_sock_state(void *data, ares_socket_t fd, int readable,
			   int writable)
{
	struct tp_dns *d = data;
	struct dns_sock **pp, *s = NULL;
	for (pp = &d->socks; *pp; pp = &(*pp)->next)
		if ((*pp)->fd == fd) {
			s = *pp;
			break;
		}
	if (!readable && !writable) {
		if (s) {
			*pp = s->next;
			uv_poll_stop(&s->poll);
			uv_close((uv_handle_t *)&s->poll, dns_sock_closed);
		}
		return;
	}
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s)
			return;
		s->d = d;
		s->fd = fd;
		if (uv_poll_init_socket(cv_worker_loop(d->tw->w), &s->poll,
					fd)) {
			free(s);
			return;
		}
		s->poll.data = s;
		s->next = d->socks;
		d->socks = s;
	}
	uv_poll_start(&s->poll,
		      (readable ? UV_READABLE : 0) |
			      (writable ? UV_WRITABLE : 0),
		      dns_poll_cb);
}

static void dns_tick(uv_timer_t *t)
{
	struct tp_dns *d = t->data;
	ares_process_fd(d->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	if (d->active == 0)
		uv_timer_stop(&d->tmr);
}

int tp_dns_start(struct tp_worker *tw)
{
	struct tp_dns *d = calloc(1, sizeof(*d));
	struct ares_options o;
	int r;

	if (!d)
		return -ENOMEM;
	d->tw = tw;
	tw->dns = d;
	memset(&o, 0, sizeof(o));
	o.sock_state_cb = dns_sock_state;
	o.sock_state_cb_data = d;
	o.timeout = 1000;
	o.tries = 2;
	int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
	if (tw->tp->dns_csv) {
		/* A configured server: no /etc/hosts, no search list. */
		o.lookups = (char *)"b";
		mask |= ARES_OPT_LOOKUPS;
	}
	r = ares_init_options(&d->ch, &o, mask);
	if (r != ARES_SUCCESS) {
		CV_ERROR(TP_MOD, "c-ares init: %s", ares_strerror(r));
		return CV_ECONFIG;
	}
	d->ch_ok = true;
	if (tw->tp->dns_csv) {
		r = ares_set_servers_ports_csv(d->ch, tw->tp->dns_csv);
		if (r != ARES_SUCCESS) {
			CV_ERROR(TP_MOD, "dns servers '%s': %s",
				 tw->tp->dns_csv, ares_strerror(r));
			return CV_ECONFIG;
		}
	}
	uv_timer_init(cv_worker_loop(tw->w), &d->tmr);
	d->tmr.data = d;
	d->tmr_init = true;
	return 0;
}

static void dns_free_closed(uv_handle_t *h)
{
	struct tp_dns *d = h->data;
	for (unsigned i = 0; i < DNS_BUCKETS; i++) {
		for (struct dns_centry *e = d->cache[i], *n; e; e = n) {
			n = e->next;
			free(e->abuf);
			free(e);
		}
	}
	free(d);
}

void tp_dns_stop(struct tp_worker *tw)
{
	struct tp_dns *d = tw->dns;
	if (!d)
		return;
	tw->dns = NULL;
	/* Queries still running complete with ECANCELLED inside destroy;
	 * their owners are told nothing (cancelled). */
	for (struct cv_tp_query *q = d->queries; q; q = q->next)
		q->cancelled = true;
	if (d->ch_ok)
		ares_destroy(d->ch);
	while (d->queries) {
		struct cv_tp_query *q = d->queries;
		d->queries = q->next;
		q->d = NULL;
		free(q->res_abuf);
		free(q);
	}
	for (struct dns_sock *s = d->socks, *n; s; s = n) {
		n = s->next;
		uv_poll_stop(&s->poll);
		uv_close((uv_handle_t *)&s->poll, dns_sock_closed);
	}
	d->socks = NULL;
	if (d->tmr_init) {
		uv_timer_stop(&d->tmr);
		uv_close((uv_handle_t *)&d->tmr, dns_free_closed);
	} else {
		dns_free_closed((uv_handle_t *)&d->tmr);
	}
}

/* ares_library_init is not thread-safe: once per transport, on the thread
 * that creates it, before any worker starts. */
int tp_dns_lib_init(void)
{
	return ares_library_init(ARES_LIB_INIT_ALL) == ARES_SUCCESS ? 0
								    : -ENOMEM;
}

void tp_dns_lib_cleanup(void)
{
	ares_library_cleanup();
}

/* ---- answer cache
 * ------------------------------------------------------------------------ */

static unsigned cache_bucket(int type, const char *name)
{
	uint64_t h = cv_hash_ci(name, strlen(name)) ^ (uint64_t)type;
	return (unsigned)(h % DNS_BUCKETS);
}

/* Smallest TTL of the answer records, DNS_NEG_TTL_S when none. */
static uint32_t answer_ttl(const unsigned char *abuf, int alen)
{
	if (!abuf || alen < 12)
		return DNS_NEG_TTL_S;
	unsigned qd = (unsigned)(abuf[4] << 8 | abuf[5]);
	unsigned an = (unsigned)(abuf[6] << 8 | abuf[7]);
	const unsigned char *p = abuf + 12, *end = abuf + alen;
	uint32_t ttl = DNS_MAX_TTL_S;
	char *name;
	long enc;
	for (unsigned i = 0; i < qd; i++) {
		if (ares_expand_name(p, abuf, alen, &name, &enc) !=
		    ARES_SUCCESS)
			return DNS_NEG_TTL_S;
		ares_free_string(name);
		p += enc + 4;
		if (p > end)
			return DNS_NEG_TTL_S;
	}
	if (an == 0)
		return DNS_NEG_TTL_S;
	for (unsigned i = 0; i < an && p < end; i++) {
		if (ares_expand_name(p, abuf, alen, &name, &enc) !=
		    ARES_SUCCESS)
			break;
		ares_free_string(name);
		p += enc;
		if (p + 10 > end)
			break;
		uint32_t t = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 |
			     (uint32_t)p[6] << 8 | p[7];
		unsigned rdlen = (unsigned)(p[8] << 8 | p[9]);
		if (t < ttl)
			ttl = t;
		p += 10 + rdlen;
	}
	return ttl;
}

static struct dns_centry *cache_get(struct tp_dns *d, int type,
				    const char *name)
{
	unsigned b = cache_bucket(type, name);
	uint64_t now = cv_clock_us();
	for (struct dns_centry **pp = &d->cache[b]; *pp;) {
		struct dns_centry *e = *pp;
		if (e->expires_us <= now) {
			*pp = e->next;
			free(e->abuf);
			free(e);
			d->ncache--;
			continue;
		}
		if (e->type == type && strcasecmp(e->name, name) == 0)
			return e;
		pp = &e->next;
	}
	return NULL;
}

static void cache_clear(struct tp_dns *d)
{
	for (unsigned i = 0; i < DNS_BUCKETS; i++) {
		for (struct dns_centry *e = d->cache[i], *n; e; e = n) {
			n = e->next;
			free(e->abuf);
			free(e);
		}
		d->cache[i] = NULL;
	}
	d->ncache = 0;
}

static void cache_put(struct tp_dns *d, int type, const char *name, int status,
		      const unsigned char *abuf, int alen)
{
	size_t nl = strlen(name);
	uint32_t ttl =
		status == ARES_SUCCESS ? answer_ttl(abuf, alen) : DNS_NEG_TTL_S;
	if (ttl == 0)
		return;
	if (d->ncache >= d->tw->tp->dns_cache_max)
		cache_clear(d); /* bounded; a full cache restarts cold */
	struct dns_centry *e = calloc(1, sizeof(*e) + nl + 1);
	if (!e)
		return;
	if (abuf && alen > 0) {
		e->abuf = malloc((size_t)alen);
		if (!e->abuf) {
			free(e);
			return;
		}
		memcpy(e->abuf, abuf, (size_t)alen);
		e->alen = alen;
	}
	e->type = type;
	e->status = status;
	e->expires_us = cv_clock_us() + (uint64_t)ttl * 1000000;
	memcpy(e->name, name, nl + 1);
	unsigned b = cache_bucket(type, name);
	e->next = d->cache[b];
	d->cache[b] = e;
	d->ncache++;
}

/* ---- the RFC 3263 state machine
 * --------------------------------------------------------- */

static bool kind_usable(struct cv_tp *tp, enum cv_tp_kind k)
{
	if (k == CV_TP_WS || k == CV_TP_WSS)
		return false; /* no outgoing WebSocket */
	if (k == CV_TP_TCP || k == CV_TP_TLS)
		return true; /* connect-only works without a listener */
	for (unsigned i = 0; i < tp->nlis; i++)
		if (tp->lis[i].spec.kind == k)
			return true;
	return false;
}

static void add_target(struct cv_tp_query *q, enum cv_tp_kind kind,
		       const struct cv_tp_addr *a, const char *name)
{
	struct cv_tp *tp = q->d->tw->tp;
	if (q->out.n >= CV_TP_MAX_TARGETS)
		return;
	if (kind == CV_TP_UDP &&
	    tp_listener_find(tp, kind, a->ss.ss_family, NULL) < 0)
		return; /* no UDP socket of that family to send from */
	for (unsigned i = 0; i < q->out.n; i++)
		if (q->out.t[i].kind == kind &&
		    cv_tp_addr_eq(&q->out.t[i].addr, a))
			return;
	struct cv_tp_target *t = &q->out.t[q->out.n++];
	t->kind = kind;
	t->addr = *a;
	snprintf(t->name, sizeof(t->name), "%s", name);
}

static const char *srv_prefix(enum cv_tp_kind k)
{
	switch (k) {
	case CV_TP_TCP:
		return "_sip._tcp.";
	case CV_TP_TLS:
		return "_sips._tcp.";
	default:
		return "_sip._udp.";
	}
}

static void add_srvname(struct cv_tp_query *q, enum cv_tp_kind k,
			const char *name)
{
	if (q->nsrv >= DNS_MAX_SRV)
		return;
	struct dns_srvname *s = &q->srv[q->nsrv++];
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->kind = k;
}

static void add_host(struct cv_tp_query *q, const char *name, uint16_t port,
		     enum cv_tp_kind k)
{
	if (q->nhost >= DNS_MAX_HOSTS || strcmp(name, ".") == 0 || !name[0])
		return;
	struct dns_host *h = &q->hosts[q->nhost++];
	snprintf(h->name, sizeof(h->name), "%s", name);
	h->port = port;
	h->kind = k;
}

static enum cv_tp_kind default_kind(const struct cv_tp_query *q)
{
	if (q->has_kind)
		return q->kind;
	return q->sips ? CV_TP_TLS : CV_TP_UDP;
}

/* RFC 3263 §4.1 without NAPTR: SRV for each transport we can use. */
static void srv_defaults(struct cv_tp_query *q)
{
	struct cv_tp *tp = q->d->tw->tp;
	static const enum cv_tp_kind order[] = {CV_TP_UDP, CV_TP_TCP,
						CV_TP_TLS};
	char n[300];
	for (unsigned i = 0; i < CV_ARRAY_SIZE(order); i++) {
		if (q->sips && order[i] != CV_TP_TLS)
			continue;
		if (!kind_usable(tp, order[i]))
			continue;
		snprintf(n, sizeof(n), "%s%s", srv_prefix(order[i]), q->host);
		add_srvname(q, order[i], n);
	}
}

static void on_naptr(struct cv_tp_query *q, int status,
		     const unsigned char *abuf, int alen)
{
	struct cv_tp *tp = q->d->tw->tp;
	struct ares_naptr_reply *nr = NULL;
	struct {
		struct ares_naptr_reply *r;
	} v[DNS_MAX_SRV * 2];
	unsigned nv = 0;

	if (status == ARES_SUCCESS &&
	    ares_parse_naptr_reply(abuf, alen, &nr) == ARES_SUCCESS) {
		for (struct ares_naptr_reply *r = nr;
		     r && nv < CV_ARRAY_SIZE(v); r = r->next) {
			v[nv++].r = r;
		}
		/* order, then preference (RFC 3403 §4.1) */
		for (unsigned i = 1; i < nv; i++)
			for (unsigned j = i; j > 0; j--) {
				struct ares_naptr_reply *a = v[j - 1].r,
							*b = v[j].r;
				if (a->order > b->order ||
				    (a->order == b->order &&
				     a->preference > b->preference)) {
					v[j - 1].r = b;
					v[j].r = a;
				}
			}
		for (unsigned i = 0; i < nv; i++) {
			struct ares_naptr_reply *r = v[i].r;
			const char *svc = (const char *)r->service;
			const char *fl = (const char *)r->flags;
			enum cv_tp_kind k;
			if (strcasecmp(fl, "s") != 0)
				continue;
			if (strcasecmp(svc, "SIP+D2U") == 0)
				k = CV_TP_UDP;
			else if (strcasecmp(svc, "SIP+D2T") == 0)
				k = CV_TP_TCP;
			else if (strcasecmp(svc, "SIPS+D2T") == 0)
				k = CV_TP_TLS;
			else
				continue;
			if (q->sips && k != CV_TP_TLS)
				continue;
			if (!kind_usable(tp, k))
				continue;
			add_srvname(q, k, r->replacement);
		}
		ares_free_data(nr);
	}
	if (q->nsrv == 0)
		srv_defaults(q);
	q->stage = ST_SRV;
}

struct srv_item {
	uint16_t prio, weight, port;
	char name[256];
	bool used;
};

/* RFC 2782: ascending priority; within one, weighted random order. */
static void on_srv(struct cv_tp_query *q, int status, const unsigned char *abuf,
		   int alen, enum cv_tp_kind k)
{
	struct ares_srv_reply *sr = NULL;
	struct srv_item it[DNS_MAX_HOSTS];
	unsigned n = 0;

	if (status != ARES_SUCCESS ||
	    ares_parse_srv_reply(abuf, alen, &sr) != ARES_SUCCESS)
		return;
	for (struct ares_srv_reply *r = sr; r && n < DNS_MAX_HOSTS;
	     r = r->next) {
		it[n].prio = r->priority;
		it[n].weight = r->weight;
		it[n].port = r->port;
		it[n].used = false;
		snprintf(it[n].name, sizeof(it[n].name), "%s", r->host);
		n++;
	}
	ares_free_data(sr);
	for (unsigned done = 0; done < n;) {
		int lowest = -1;
		for (unsigned i = 0; i < n; i++)
			if (!it[i].used && (lowest < 0 || it[i].prio < lowest))
				lowest = it[i].prio;
		for (;;) {
			uint32_t sum = 0;
			unsigned cnt = 0;
			for (unsigned i = 0; i < n; i++)
				if (!it[i].used && it[i].prio == lowest) {
					sum += it[i].weight;
					cnt++;
				}
			if (cnt == 0)
				break;
			uint32_t pick = sum ? cv_random_u32() % (sum + 1) : 0;
			uint32_t run = 0;
			unsigned chosen = n;
			for (unsigned i = 0; i < n; i++) {
				if (it[i].used || it[i].prio != lowest)
					continue;
				if (chosen == n)
					chosen = i; /* weight 0 entries when sum
						       0 */
				run += it[i].weight;
				if (sum && run >= pick) {
					chosen = i;
					break;
				}
			}
			it[chosen].used = true;
			done++;
			add_host(q, it[chosen].name, it[chosen].port, k);
		}
	}
}

static void on_addr(struct cv_tp_query *q, int status,
		    const unsigned char *abuf, int alen, int fam)
{
	const struct dns_host *h = &q->hosts[q->ihost];
	struct ares_addrttl a4[8];
	struct ares_addr6ttl a6[8];
	int n = 8;

	if (status != ARES_SUCCESS)
		return;
	if (fam == AF_INET) {
		if (ares_parse_a_reply(abuf, alen, NULL, a4, &n) !=
		    ARES_SUCCESS)
			return;
		for (int i = 0; i < n; i++) {
			struct cv_tp_addr a = {0};
			struct sockaddr_in *in = (struct sockaddr_in *)&a.ss;
			in->sin_family = AF_INET;
			in->sin_addr = a4[i].ipaddr;
			in->sin_port = htons(h->port);
			add_target(q, h->kind, &a, h->name);
		}
	} else {
		if (ares_parse_aaaa_reply(abuf, alen, NULL, a6, &n) !=
		    ARES_SUCCESS)
			return;
		for (int i = 0; i < n; i++) {
			struct cv_tp_addr a = {0};
			struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a.ss;
			in6->sin6_family = AF_INET6;
			memcpy(&in6->sin6_addr, &a6[i].ip6addr, 16);
			in6->sin6_port = htons(h->port);
			add_target(q, h->kind, &a, h->name);
		}
	}
}

static void query_unlink(struct cv_tp_query *q)
{
	struct tp_dns *d = q->d;
	if (!d)
		return;
	if (q->prev)
		q->prev->next = q->next;
	else
		d->queries = q->next;
	if (q->next)
		q->next->prev = q->prev;
	q->next = q->prev = NULL;
}

static void query_free(struct cv_tp_query *q)
{
	query_unlink(q);
	free(q->res_abuf);
	free(q);
}

static void ares_cb(void *arg, int status, int timeouts, unsigned char *abuf,
		    int alen);
static bool step(struct cv_tp_query *q);

/* Current question of the state machine, or false when finished. */
static bool current_question(struct cv_tp_query *q, int *type, char *name,
			     size_t size)
{
	for (;;) {
		switch (q->stage) {
		case ST_NAPTR:
			*type = ns_t_naptr;
			snprintf(name, size, "%s", q->host);
			return true;
		case ST_SRV:
			if (q->isrv < q->nsrv) {
				*type = ns_t_srv;
				snprintf(name, size, "%s",
					 q->srv[q->isrv].name);
				return true;
			}
			if (q->nhost == 0) {
				/* RFC 3263 §4.2: no SRV -> A/AAAA, default port
				 */
				enum cv_tp_kind k = default_kind(q);
				if (q->isrv > 0 && q->nsrv > 0 && !q->has_kind)
					k = q->srv[0].kind;
				add_host(q, q->host, cv_tp_kind_default_port(k),
					 k);
			}
			q->stage = ST_ADDR;
			q->ihost = 0;
			q->ifam = 0;
			break;
		case ST_ADDR:
			if (q->ihost < q->nhost) {
				*type = q->ifam == 0 ? ns_t_a : ns_t_aaaa;
				snprintf(name, size, "%s",
					 q->hosts[q->ihost].name);
				return true;
			}
			q->stage = ST_DONE;
			return false;
		default:
			return false;
		}
	}
}

static void apply_answer(struct cv_tp_query *q, int type, int status,
			 const unsigned char *abuf, int alen)
{
	switch (q->stage) {
	case ST_NAPTR:
		on_naptr(q, status, abuf, alen);
		break;
	case ST_SRV:
		on_srv(q, status, abuf, alen, q->srv[q->isrv].kind);
		q->isrv++;
		break;
	case ST_ADDR:
		on_addr(q, status, abuf, alen,
			type == ns_t_a ? AF_INET : AF_INET6);
		if (++q->ifam == 2) {
			q->ifam = 0;
			q->ihost++;
		}
		break;
	default:
		break;
	}
}

static void finish(struct cv_tp_query *q)
{
	struct tp_dns *d = q->d;
	if (!q->cancelled) {
		if (q->out.n == 0)
			TP_INC(d->tw, dns_failures);
		q->done(q->out.n ? 0 : CV_ENOTFOUND, &q->out, q->arg);
	}
	query_free(q);
}

/* Runs the machine until it waits for c-ares; true when q was freed. */
static bool step(struct cv_tp_query *q)
{
	struct tp_dns *d = q->d;
	char name[300];
	int type;

	q->in_step = true;
	for (;;) {
		if (q->cancelled) {
			if (!q->waiting) {
				query_free(q);
				return true;
			}
			q->in_step = false;
			return false;
		}
		if (q->have_result) {
			q->have_result = false;
			if (!q->res_nocache)
				cache_put(d, q->res_type, q->res_name,
					  q->res_status, q->res_abuf,
					  q->res_alen);
			apply_answer(q, q->res_type, q->res_status, q->res_abuf,
				     q->res_alen);
			free(q->res_abuf);
			q->res_abuf = NULL;
			continue;
		}
		if (q->waiting)
			break;
		if (!current_question(q, &type, name, sizeof(name))) {
			finish(q);
			return true;
		}
		struct dns_centry *e = cache_get(d, type, name);
		if (e) {
			TP_INC(d->tw, dns_cache_hits);
			apply_answer(q, type, e->status, e->abuf, e->alen);
			continue;
		}
		TP_INC(d->tw, dns_queries);
		q->waiting = true;
		q->res_type = type;
		snprintf(q->res_name, sizeof(q->res_name), "%s", name);
		d->active++;
		if (!uv_is_active((uv_handle_t *)&d->tmr))
			uv_timer_start(&d->tmr, dns_tick, 100, 100);
		ares_query(d->ch, name, ns_c_in, type, ares_cb, q);
	}
	q->in_step = false;
	return false;
}

static void ares_cb(void *arg, int status, int timeouts, unsigned char *abuf,
		    int alen)
{
	struct cv_tp_query *q = arg;
	if (!q->d)
		return;
	q->d->active--;
	q->waiting = false;
	if (status == ARES_EDESTRUCTION)
		return; /* tp_dns_stop() frees the query */
	q->have_result = true;
	q->res_status = status;
	/* Server trouble (timeout, refusal) is not an answer: not cached. */
	q->res_nocache = status == ARES_ETIMEOUT || status == ARES_ESERVFAIL ||
			 status == ARES_ECONNREFUSED ||
			 status == ARES_EREFUSED || status == ARES_ECANCELLED;
	q->res_abuf = NULL;
	q->res_alen = 0;
	if (abuf && alen > 0) {
		q->res_abuf = malloc((size_t)alen);
		if (q->res_abuf) {
			memcpy(q->res_abuf, abuf, (size_t)alen);
			q->res_alen = alen;
		}
	}
	if (!q->in_step)
		step(q);
}

int cv_tp_resolve(struct cv_tp *tp, struct cv_worker *w,
		  const struct cv_tp_resolve_params *p, struct cv_tp_query **qp)
{
	struct tp_worker *tw = tp_worker_of(tp, w);
	struct cv_pl host;
	struct cv_tp_addr a;

	if (qp)
		*qp = NULL;
	if (!tw || !tw->dns || !p || !p->done)
		return -EINVAL;
	host = p->maddr.l ? p->maddr : p->host;
	if (host.l >= 2 && host.p[0] == '[' && host.p[host.l - 1] == ']') {
		host.p++;
		host.l -= 2;
	}
	if (host.l == 0 || host.l >= 254)
		return CV_EPARSE;
	enum cv_tp_kind kind =
		p->has_transport ? p->kind : (p->sips ? CV_TP_TLS : CV_TP_UDP);
	if (p->sips && kind == CV_TP_UDP)
		return CV_EPARSE; /* RFC 3261 §26.2.2: no sips over UDP */
	/* RFC 3263 §4.1/§4.2: numeric host: no DNS at all. */
	if (cv_tp_addr_set(&a, host,
			   p->port ? p->port : cv_tp_kind_default_port(kind)) ==
	    0) {
		struct cv_tp_targets t = {0};
		if (kind == CV_TP_UDP &&
		    tp_listener_find(tp, kind, a.ss.ss_family, NULL) < 0) {
			p->done(CV_ENOTFOUND, &t, p->arg);
			return 0;
		}
		t.n = 1;
		t.t[0].kind = kind;
		t.t[0].addr = a;
		cv_pl_strcpy(host, t.t[0].name, sizeof(t.t[0].name));
		p->done(0, &t, p->arg);
		return 0;
	}
	for (size_t i = 0; i < host.l; i++) {
		char c = host.p[i];
		if (!(isalnum((unsigned char)c) || c == '-' || c == '.' ||
		      c == '_'))
			return CV_EPARSE;
	}
	struct cv_tp_query *q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->d = tw->dns;
	q->done = p->done;
	q->arg = p->arg;
	cv_pl_strcpy(host, q->host, sizeof(q->host));
	q->sips = p->sips;
	q->port = p->port;
	q->kind = kind;
	q->has_kind = p->has_transport;
	if (p->port) {
		/* §4.2: explicit port -> A/AAAA only */
		add_host(q, q->host, p->port, kind);
		q->stage = ST_ADDR;
	} else if (p->has_transport) {
		char n[300];
		snprintf(n, sizeof(n), "%s%s", srv_prefix(kind), q->host);
		add_srvname(q, kind, n);
		q->stage = ST_SRV;
	} else {
		q->stage = ST_NAPTR;
	}
	q->next = tw->dns->queries;
	if (q->next)
		q->next->prev = q;
	tw->dns->queries = q;
	if (!step(q) && qp)
		*qp = q;
	return 0;
}

void cv_tp_query_cancel(struct cv_tp_query *q)
{
	if (!q)
		return;
	q->cancelled = true;
	if (!q->waiting && !q->in_step)
		query_free(q);
}
