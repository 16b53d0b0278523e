/* RFC 3261 §10.3 registrar: digest-authenticated bindings per AOR, with
 * RFC 5626 instance/reg-id, RFC 3327 Path and the flow (source address,
 * connection) each REGISTER came in on, persisted to the store. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __GLIBC__
#include <malloc.h> /* malloc_trim */
#endif

#include "server_int.h"

#define MOD "registrar"

#define SWEEP_MS    1000
#define PURGE_EVERY 60 /* sweeps */

/* A binding that expired, kept until the sweep publishes it. */
struct reg_expired {
	struct reg_expired *next;
	char *aor;
	struct binding *b;
};

/* The instance id without its angle brackets ("urn:uuid:..."): the value
 * of a GRUU's gr parameter (RFC 5627 §4.1). */
static struct cv_pl instance_gr(const char *inst)
{
	struct cv_pl v = cv_pl_str(inst);
	if (v.l >= 2 && v.p[0] == '<' && v.p[v.l - 1] == '>') {
		v.p++;
		v.l -= 2;
	}
	return v;
}

static bool gr_safe(struct cv_pl v)
{
	if (!v.l || v.l > 200)
		return false;
	for (size_t i = 0; i < v.l; i++)
		if (v.p[i] == '"' || v.p[i] == '>' || v.p[i] == '<' ||
		    v.p[i] == ';' || (unsigned char)v.p[i] <= ' ')
			return false;
	return true;
}

int registrar_init(struct registrar *r)
{
	memset(r, 0, sizeof(*r));
	r->nbuckets = 4096;
	r->buckets = calloc(r->nbuckets, sizeof(*r->buckets));
	if (!r->buckets)
		return -ENOMEM;
	pthread_mutex_init(&r->lock, NULL);
	return 0;
}

static void binding_free(struct binding *b)
{
	free(b->contact);
	free(b->call_id);
	free(b->instance);
	free(b->path);
	free(b->user_agent);
	cv_ua_addr_clear(&b->src);
	free(b);
}

static struct reg_expired *graveyard_take(struct registrar *r)
{
	struct reg_expired *g = r->graveyard;
	r->graveyard = NULL;
	return g;
}

/* Publish (registration.expired) and free; no lock held. */
static void graveyard_flush(struct cv_srv *s, struct reg_expired *g)
{
	while (g) {
		struct reg_expired *n = g->next;
		CV_DEBUG(MOD, "binding expired aor=%s contact=%s", g->aor,
			 g->b->contact);
		if (s)
			srv_pub_reg(s, CV_BUS_REG_EXPIRED, g->aor,
				    g->b->contact, &g->b->src, g->b->user_agent,
				    0);
		binding_free(g->b);
		free(g->aor);
		free(g);
		g = n;
	}
}

void registrar_fini(struct registrar *r)
{
	if (!r->buckets)
		return;
	for (size_t i = 0; i < r->nbuckets; i++) {
		struct aor *a = r->buckets[i];
		while (a) {
			struct aor *na = a->next;
			while (a->bindings) {
				struct binding *b = a->bindings;
				a->bindings = b->next;
				binding_free(b);
			}
			free(a->name);
			free(a);
			a = na;
		}
	}
	free(r->buckets);
	r->buckets = NULL;
	graveyard_flush(NULL, graveyard_take(r));
	pthread_mutex_destroy(&r->lock);
}

static struct aor *aor_get(struct registrar *r, struct cv_pl name, bool create)
{
	size_t b = cv_hash(name.p, name.l) % r->nbuckets;
	for (struct aor *a = r->buckets[b]; a; a = a->next)
		if (cv_pl_eq_str(name, a->name))
			return a;
	if (!create)
		return NULL;
	struct aor *a = calloc(1, sizeof(*a));
	if (!a || !(a->name = cv_pl_strdup(name))) {
		free(a);
		return NULL;
	}
	a->next = r->buckets[b];
	r->buckets[b] = a;
	return a;
}

/* Drop expired bindings of one AOR (lock held). */
static void aor_expire(struct registrar *r, struct aor *a, uint64_t now_ms)
{
	for (struct binding **pp = &a->bindings; *pp;) {
		struct binding *b = *pp;
		if (b->expires_ms <= now_ms) {
			*pp = b->next;
			/* published by the next sweep (no bus call under the
			 * lock); without memory for that, just dropped */
			struct reg_expired *g = calloc(1, sizeof(*g));
			if (g && (g->aor = strdup(a->name))) {
				g->b = b;
				g->next = r->graveyard;
				r->graveyard = g;
			} else {
				free(g);
				binding_free(b);
			}
			a->n--;
			r->nbindings--;
		} else {
			pp = &b->next;
		}
	}
}

void reg_target_clear(struct reg_target *t)
{
	cv_ua_addr_clear(&t->dst);
}

/* Where requests for binding b go: the flow it registered from (a NATed
 * UA is reachable only there), unless its Contact explicitly names another
 * transport (";transport=" or sips:) at a numeric address. A UA that
 * registers over UDP a Contact with ";transport=tls" asks to be called over
 * TLS there (RFC 3261 §10.2.1: the Contact is where requests go); the flow
 * stands in for a Contact of its own transport only. Names keep the flow
 * (WebSocket clients register "*.invalid" hosts, RFC 7118 §5). */
static void target_dst(const struct binding *b, struct cv_txn_addr *out)
{
	*out = b->src;
	if (out->conn)
		cv_tp_conn_ref(out->conn);
	struct cv_sip_uri u;
	struct cv_pl tp;
	struct cv_txn_addr a;
	if (cv_sip_uri_parse(cv_pl_str(b->contact), &u) != 0 ||
	    (u.scheme != CV_SIP_SCHEME_SIPS &&
	     cv_sip_uri_param(&u, "transport", &tp) != 0) ||
	    cv_ua_addr_from_uri(NULL, cv_pl_str(b->contact), &a) != 0 ||
	    a.kind == b->src.kind)
		return;
	cv_ua_addr_clear(out);
	*out = a;
}

size_t registrar_lookup(struct cv_srv *s, struct cv_pl name,
			struct reg_target *out, size_t max)
{
	struct registrar *r = &s->reg;
	size_t n = 0;
	pthread_mutex_lock(&r->lock);
	struct aor *a = aor_get(r, name, false);
	if (a) {
		aor_expire(r, a, cv_clock_ms());
		for (struct binding *b = a->bindings; b && n < max;
		     b = b->next) {
			snprintf(out[n].contact, sizeof(out[n].contact), "%s",
				 b->contact);
			target_dst(b, &out[n].dst);
			n++;
		}
	}
	pthread_mutex_unlock(&r->lock);
	return n;
}

size_t registrar_lookup_gruu(struct cv_srv *s, struct cv_pl name,
			     struct cv_pl gr, struct reg_target *out,
			     size_t max)
{
	struct registrar *r = &s->reg;
	size_t n = 0;
	pthread_mutex_lock(&r->lock);
	struct aor *a = aor_get(r, name, false);
	if (a) {
		aor_expire(r, a, cv_clock_ms());
		for (struct binding *b = a->bindings; b && n < max;
		     b = b->next) {
			if (!cv_pl_eq(instance_gr(b->instance), gr))
				continue;
			snprintf(out[n].contact, sizeof(out[n].contact), "%s",
				 b->contact);
			target_dst(b, &out[n].dst);
			n++;
		}
	}
	pthread_mutex_unlock(&r->lock);
	return n;
}

static void persist(struct cv_srv *s, const char *aor, const struct binding *b,
		    bool del)
{
	if (!s->p.store)
		return;
	if (del) {
		cv_store_binding_del(s->p.store, aor, b ? b->contact : NULL,
				     NULL);
		return;
	}
	char recv[CV_TP_ADDRSTRLEN];
	struct cv_tp_addr ta = {0};
	if (b->src.remote.sa.sa_family == AF_INET)
		memcpy(&ta.ss, &b->src.remote.in, sizeof(b->src.remote.in));
	else
		memcpy(&ta.ss, &b->src.remote.in6, sizeof(b->src.remote.in6));
	cv_tp_addr_print(&ta, recv, sizeof(recv));
	struct cv_store_binding sb = {
		.aor = aor,
		.contact = b->contact,
		.instance_id = b->instance,
		.reg_id = b->reg_id,
		.path = b->path,
		.received = recv,
		.transport = cv_tp_kind_name((enum cv_tp_kind)b->src.kind),
		.expires_us = b->expires_wall_us,
		.q = b->q,
		.call_id = b->call_id,
		.cseq = b->cseq,
		.user_agent = b->user_agent,
	};
	/* fire and forget: a failed write is logged by the store, the
	 * binding stays valid in memory */
	cv_store_binding_upsert(s->p.store, &sb, NULL);
}

int cv_srv_load_bindings(struct cv_srv *s)
{
	if (!s->p.store)
		return 0;
	struct cv_store_res *res = NULL;
	int64_t now = (int64_t)cv_clock_wall_us();
	struct cv_store_query q = {.since_us = now,
				   .limit = CV_STORE_LIMIT_MAX};
	int err = cv_store_binding_list(s->p.store, &q, CV_STORE_SYNC(&res));
	if (err)
		return err;
	struct registrar *r = &s->reg;
	size_t loaded = 0;
	for (size_t i = 0; i < res->n; i++) {
		const struct cv_store_binding *sb = &res->bindings[i];
		struct binding *b = calloc(1, sizeof(*b));
		if (!b)
			break;
		b->contact = strdup(sb->contact);
		b->call_id = strdup(sb->call_id);
		b->instance = strdup(sb->instance_id);
		b->path = strdup(sb->path);
		b->user_agent = strdup(sb->user_agent);
		b->cseq = sb->cseq;
		b->q = sb->q;
		b->reg_id = sb->reg_id;
		b->expires_wall_us = sb->expires_us;
		b->stored_expires_us = sb->expires_us;
		b->expires_ms =
			cv_clock_ms() + (uint64_t)(sb->expires_us - now) / 1000;
		struct cv_tp_addr ta;
		enum cv_tp_kind kind = CV_TP_UDP;
		cv_tp_kind_parse(cv_pl_str(sb->transport), &kind);
		if (!b->contact || !b->call_id || !b->instance || !b->path ||
		    !b->user_agent ||
		    cv_tp_addr_parse(&ta, cv_pl_str(sb->received)) != 0) {
			binding_free(b);
			continue;
		}
		struct cv_tp_meta m = {.kind = kind, .src = ta};
		cv_ua_addr_from_meta(&b->src, &m);
		pthread_mutex_lock(&r->lock);
		struct aor *a = aor_get(r, cv_pl_str(sb->aor), true);
		if (a) {
			b->next = a->bindings;
			a->bindings = b;
			a->n++;
			r->nbindings++;
			loaded++;
		} else {
			binding_free(b);
		}
		pthread_mutex_unlock(&r->lock);
	}
	cv_mem_unref(res);
	CV_INFO(MOD, "loaded %zu bindings from the store", loaded);
	return 0;
}

/* ---- REGISTER
 * ---------------------------------------------------------------- */

/* §10.3 step 7 compares Contact URIs by §19.1.4 equality; a refresh
 * repeats the same bytes, which the byte compare settles first. */
static bool contact_eq(struct cv_pl uri, const char *stored)
{
	return cv_pl_eq_str(uri, stored) ||
	       cv_sip_uri_eq_text(uri, cv_pl_str(stored));
}

static char *dup_changed(const char *old, struct cv_pl v, bool *failed)
{
	if (old && cv_pl_eq_str(v, old))
		return NULL;
	char *n = cv_pl_strdup(v);
	if (!n)
		*failed = true;
	return n;
}

static void swap_str(char **dst, char *n)
{
	if (n) {
		free(*dst);
		*dst = n;
	}
}

struct contact_in {
	struct cv_sip_contact c;
	uint32_t expires;
};

/* 200 to a REGISTER: every binding with its expiry; with `Supported:
 * gruu` (RFC 5627 §5.1) a binding with +sip.instance also gets its
 * public GRUU, the AOR (To URI) with gr=<instance>. */
static void respond_ok(struct srv_worker *sw, struct cv_txn *st,
		       const struct cv_sip_msg *req, struct cv_pl aor)
{
	struct cv_srv *s = sw->srv;
	struct cv_buf hdrs;
	cv_buf_init(&hdrs, 32768);
	uint64_t now = cv_clock_ms();
	struct cv_sip_vals_iter it = {0};
	struct cv_pl tag;
	bool gruu = false;
	for (unsigned n = 0;
	     n < 64 && !gruu &&
	     cv_sip_msg_vals_next(req, CV_SIP_HDR_SUPPORTED, &it, &tag) == 0;
	     n++)
		gruu = cv_pl_caseeq_str(cv_pl_trim(tag), "gruu");
	struct cv_sip_uri to;
	if (gruu && (cv_sip_uri_parse(req->to.uri, &to) != 0 || !to.host.l))
		gruu = false;
	pthread_mutex_lock(&s->reg.lock);
	struct aor *a = aor_get(&s->reg, aor, false);
	if (a) {
		for (struct binding *b = a->bindings; b; b = b->next) {
			/* appends, not printf: this runs for every 200 */
			char exp[CV_U64_DEC_MAX];
			size_t en = cv_u64_dec(
				exp, (b->expires_ms - now + 999) / 1000);
			cv_buf_append(&hdrs, "Contact: <", 10);
			cv_buf_append_str(&hdrs, b->contact);
			cv_buf_append(&hdrs, ">;expires=", 10);
			cv_buf_append(&hdrs, exp, en);
			struct cv_pl gr = instance_gr(b->instance);
			if (gruu && gr_safe(gr)) {
				char port[8] = "";
				if (to.port)
					snprintf(port, sizeof(port), ":%u",
						 to.port);
				cv_buf_printf(&hdrs,
					      ";+sip.instance=\"%s\";pub-gruu="
					      "\"sip:%.*s@%.*s%s;gr=%.*s\"",
					      b->instance, CV_PL_ARG(aor),
					      CV_PL_ARG(to.host), port,
					      CV_PL_ARG(gr));
			}
			cv_buf_append_str(&hdrs, "\r\n");
		}
	}
	pthread_mutex_unlock(&s->reg.lock);
	/* §20.17 Date (RFC 1123 form), formatted once a second per thread */
	static _Thread_local struct {
		time_t t;
		char s[64];
	} date;
	time_t t = time(NULL);
	if (t != date.t || !date.s[0]) {
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(date.s, sizeof(date.s),
			 "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
		date.t = t;
	}
	cv_buf_append_str(&hdrs, date.s);
	if (hdrs.err) {
		srv_reply(st, 500, "Too Many Contacts", NULL);
	} else {
		srv_reply(st, 200, NULL, hdrs.data);
		sw->srv->st_registers_ok++;
	}
	cv_buf_free(&hdrs);
}

static char *join_path(const struct cv_sip_msg *req)
{
	struct cv_buf b;
	cv_buf_init(&b, 8192);
	struct cv_sip_vals_iter it = {0};
	struct cv_pl v;
	while (cv_sip_msg_vals_next(req, CV_SIP_HDR_PATH, &it, &v) == 0)
		cv_buf_printf(&b, "%s%.*s", b.len ? "," : "", CV_PL_ARG(v));
	if (b.err) {
		cv_buf_free(&b);
		return strdup("");
	}
	return b.data ? b.data : strdup("");
}

void srv_register(struct srv_worker *sw, struct cv_txn *st,
		  struct cv_sip_msg *req)
{
	struct cv_srv *s = sw->srv;
	const struct cv_srv_user *user;
	if (srv_authenticate(sw, st, req, false, &user) != 0) {
		s->st_registers_challenged++;
		return;
	}
	/* §10.3 step 5: the AOR is the To URI; only the authenticated user
	 * may change its own bindings (step 6). */
	struct cv_sip_uri to;
	if (cv_sip_uri_parse(req->to.uri, &to) != 0) {
		s->st_registers_rejected++;
		srv_reply(st, 400, "Bad To URI", NULL);
		return;
	}
	if (!cv_pl_eq_str(to.user, user->name)) {
		s->st_registers_rejected++;
		srv_reply(st, 403, "Not Your Address Of Record", NULL);
		return;
	}
	struct cv_pl aor = to.user;

	uint32_t hdr_expires = s->p.reg_default_expires;
	const struct cv_sip_hdr *eh = cv_sip_msg_hdr(req, CV_SIP_HDR_EXPIRES);
	if (eh && cv_sip_u32_parse(eh->value, &hdr_expires) != 0) {
		s->st_registers_rejected++;
		srv_reply(st, 400, "Bad Expires", NULL);
		return;
	}

	struct contact_in cs[16];
	size_t nc = 0;
	bool star = false;
	struct cv_sip_vals_iter it = {0};
	struct cv_pl v;
	while (cv_sip_msg_vals_next(req, CV_SIP_HDR_CONTACT, &it, &v) == 0) {
		if (nc >= CV_ARRAY_SIZE(cs)) {
			s->st_registers_rejected++;
			srv_reply(st, 403, "Too Many Contacts", NULL);
			return;
		}
		struct contact_in *ci = &cs[nc];
		if (cv_sip_contact_parse(v, &ci->c) != 0) {
			s->st_registers_rejected++;
			srv_reply(st, 400, "Bad Contact", NULL);
			return;
		}
		if (ci->c.star) {
			star = true;
			continue;
		}
		int64_t e = ci->c.expires >= 0 ? ci->c.expires : hdr_expires;
		if (e > 0 && e < s->p.reg_min_expires) {
			char h[64];
			snprintf(h, sizeof(h), "Min-Expires: %u\r\n",
				 s->p.reg_min_expires);
			s->st_registers_rejected++;
			srv_reply(st, 423, NULL, h);
			return;
		}
		ci->expires =
			(uint32_t)CV_MIN(e, (int64_t)s->p.reg_max_expires);
		nc++;
	}
	/* §10.3 step 6: "*" only alone and with Expires: 0 */
	if (star && (nc || hdr_expires != 0 || !eh)) {
		s->st_registers_rejected++;
		srv_reply(st, 400, "Invalid Use Of Contact *", NULL);
		return;
	}

	/* A change the store cannot keep is refused (a restart would lose
	 * it); a fetch (no Contact) is still answered from memory. */
	if ((nc || star) && s->p.store && !cv_store_healthy(s->p.store)) {
		s->st_registers_rejected++;
		CV_LOG_RL(CV_LOG_WARN, MOD,
			  "database down: REGISTER %.*s refused (503)",
			  CV_PL_ARG(aor));
		srv_reply(st, 503, "Database Unavailable",
			  "Retry-After: 30\r\n");
		return;
	}
	struct registrar *r = &s->reg;
	uint64_t now = cv_clock_ms();
	int64_t now_wall = (int64_t)cv_clock_wall_us();
	const struct cv_txn_addr *src = cv_txn_addr(st);
	char *aor_name = cv_pl_strdup(aor);
	if (!aor_name) {
		srv_reply(st, 500, NULL, NULL);
		return;
	}
	pthread_mutex_lock(&r->lock);
	struct aor *a = aor_get(r, aor, true);
	if (!a) {
		pthread_mutex_unlock(&r->lock);
		free(aor_name);
		srv_reply(st, 500, NULL, NULL);
		return;
	}
	aor_expire(r, a, now);
	if (star) {
		while (a->bindings) {
			struct binding *b = a->bindings;
			a->bindings = b->next;
			binding_free(b);
			r->nbindings--;
		}
		a->n = 0;
		pthread_mutex_unlock(&r->lock);
		persist(s, aor_name, NULL, true);
		srv_pub_reg(s, CV_BUS_REG_REMOVED, aor_name, "*",
			    cv_txn_addr(st), NULL, 0);
		free(aor_name);
		respond_ok(sw, st, req, aor);
		return;
	}
	int status = 0;
	const char *why = NULL;
	/* events are published after the lock is dropped */
	struct {
		enum cv_bus_type type;
		uint32_t expires;
		struct cv_pl contact; /* in the request */
	} evs[CV_ARRAY_SIZE(cs)];
	size_t nev = 0;
	for (size_t i = 0; i < nc && !status; i++) {
		struct contact_in *ci = &cs[i];
		struct binding *b = NULL, **pp;
		for (pp = &a->bindings; *pp; pp = &(*pp)->next) {
			/* RFC 5626 §6: same instance and reg-id replace the
			 * flow; else the same Contact URI (§10.3 step 7). */
			bool same = ci->c.instance.l && (*pp)->instance[0]
					    ? cv_pl_eq_str(ci->c.instance,
							   (*pp)->instance)
					    : contact_eq(ci->c.addr.uri,
							 (*pp)->contact);
			if (same) {
				b = *pp;
				break;
			}
		}
		if (b && cv_pl_eq_str(req->call_id, b->call_id) &&
		    req->cseq.num <= b->cseq) {
			status = 500;
			why = "Out Of Order REGISTER";
			break;
		}
		if (ci->expires == 0) {
			if (b) {
				*pp = b->next;
				persist(s, aor_name, b, true);
				binding_free(b);
				a->n--;
				r->nbindings--;
				evs[nev++] = (__typeof__(evs[0])){
					CV_BUS_REG_REMOVED, 0, ci->c.addr.uri};
			}
			continue;
		}
		evs[nev++] = (__typeof__(evs[0])){b ? CV_BUS_REG_REFRESHED
						    : CV_BUS_REG_ADDED,
						  ci->expires, ci->c.addr.uri};
		if (!b) {
			if (a->n >= s->p.max_bindings_per_aor) {
				status = 403;
				why = "Too Many Bindings";
				break;
			}
			b = calloc(1, sizeof(*b));
			if (!b) {
				status = 500;
				break;
			}
			b->next = a->bindings;
			a->bindings = b;
			a->n++;
			r->nbindings++;
		}
		/* Write-behind: a refresh that changes nothing but the expiry
		 * is written only when the stored expiry lags by more than a
		 * quarter of the lifetime (at least 60 s), so a restart loses
		 * at most that much of a binding's time while a busy registrar
		 * does not write every refresh (docs/server.md). */
		bool changed = !b->contact ||
			       !cv_pl_eq_str(ci->c.addr.uri, b->contact) ||
			       !cv_pl_eq_str(ci->c.instance, b->instance) ||
			       b->src.kind != src->kind ||
			       memcmp(&b->src.remote, &src->remote,
				      sizeof(src->remote)) != 0;
		int64_t new_exp = now_wall + (int64_t)ci->expires * 1000000;
		int64_t slack = CV_MAX((int64_t)60000000,
				       (int64_t)ci->expires * 250000);
		bool write = changed || new_exp - b->stored_expires_us > slack;
		/* A refresh mostly repeats what the binding holds: a field is
		 * copied only when it changed (NULL: keep the old one). */
		bool failed = false;
		const struct cv_sip_hdr *uah =
			cv_sip_msg_hdr(req, CV_SIP_HDR_USER_AGENT);
		char *contact =
			dup_changed(b->contact, ci->c.addr.uri, &failed);
		char *cid = dup_changed(b->call_id, req->call_id, &failed);
		char *inst = dup_changed(b->instance, ci->c.instance, &failed);
		char *ua = dup_changed(
			b->user_agent,
			uah ? uah->value : (struct cv_pl)CV_PL_INIT, &failed);
		char *path = NULL;
		if (cv_sip_msg_hdr(req, CV_SIP_HDR_PATH)) {
			path = join_path(req);
			if (!path) {
				failed = true;
			} else if (b->path && !strcmp(path, b->path)) {
				free(path);
				path = NULL;
			}
		} else {
			path = dup_changed(b->path, (struct cv_pl)CV_PL_INIT,
					   &failed);
		}
		if (failed) {
			free(contact);
			free(cid);
			free(inst);
			free(path);
			free(ua);
			status = 500;
			break;
		}
		swap_str(&b->contact, contact);
		swap_str(&b->call_id, cid);
		swap_str(&b->instance, inst);
		swap_str(&b->path, path);
		swap_str(&b->user_agent, ua);
		b->cseq = req->cseq.num;
		b->q = ci->c.q >= 0 ? (uint16_t)ci->c.q : 1000;
		uint32_t rid = 0;
		if (ci->c.reg_id.l)
			cv_pl_u32(ci->c.reg_id, &rid);
		b->reg_id = rid;
		b->expires_ms = now + (uint64_t)ci->expires * 1000;
		b->expires_wall_us = now_wall + (int64_t)ci->expires * 1000000;
		cv_ua_addr_clear(&b->src);
		b->src = *src;
		if (b->src.conn)
			cv_tp_conn_ref(b->src.conn);
		if (write) {
			persist(s, aor_name, b, false);
			b->stored_expires_us = b->expires_wall_us;
		}
	}
	pthread_mutex_unlock(&r->lock);
	if (status) {
		free(aor_name);
		s->st_registers_rejected++;
		srv_reply(st, (uint16_t)status, why, NULL);
		return;
	}
	if (s->p.bus) {
		const struct cv_sip_hdr *uah =
			cv_sip_msg_hdr(req, CV_SIP_HDR_USER_AGENT);
		char *ua = uah ? cv_pl_strdup(uah->value) : NULL;
		for (size_t i = 0; i < nev; i++) {
			char *contact = cv_pl_strdup(evs[i].contact);
			srv_pub_reg(s, evs[i].type, aor_name, contact, src, ua,
				    evs[i].expires);
			free(contact);
		}
		free(ua);
	}
	free(aor_name);
	CV_DEBUG(MOD, "REGISTER %.*s ok (%zu contacts)", CV_PL_ARG(aor), nc);
	respond_ok(sw, st, req, aor);
}

/* ---- heap trim after bursts ---------------------------------------------
 * The transactions of a burst of REGISTERs or calls stay 32 s in their
 * wait timers (Timers J, H, L; slimmed, docs/txn.md) and are then freed,
 * but glibc keeps freed pages of an arena mapped: RSS stays at the burst's
 * peak for good. When the bytes held through cv_mem (transactions, parsed
 * messages, dialogs) fell TRIM_DROP below their peak since the last trim
 * and the fall has slowed down (the burst's transactions are gone, not
 * going), malloc_trim(0) gives the free pages back. It walks every arena, so it
 * runs on libuv's thread pool, never on a worker's loop. */
#define TRIM_DROP ((int64_t)4 << 20)

/* One trim at a time in the process (the heap is the process's); the
 * request touches no server object, so a server stopped meanwhile is no
 * concern. */
static _Atomic bool trim_busy;
static uv_work_t trim_req;

static void trim_work(uv_work_t *w)
{
	(void)w;
#ifdef __GLIBC__
	malloc_trim(0);
#endif
}

static void trim_done(uv_work_t *w, int status)
{
	(void)w;
	(void)status;
	atomic_store(&trim_busy, false);
}

static void trim_check(struct srv_worker *sw)
{
	struct registrar *r = &sw->srv->reg;
	int64_t live = cv_mem_live_bytes();
	int64_t prev = r->trim_prev;
	r->trim_prev = live;
	if (live > r->trim_peak)
		r->trim_peak = live;
	if (r->trim_peak - live < TRIM_DROP || prev - live > TRIM_DROP / 8)
		return;
	bool idle = false;
	if (!atomic_compare_exchange_strong(&trim_busy, &idle, true))
		return;
	if (uv_queue_work(cv_worker_loop(sw->w), &trim_req, trim_work,
			  trim_done) != 0) {
		atomic_store(&trim_busy, false);
		return;
	}
	CV_DEBUG(MOD, "heap trim: cv_mem bytes %lld, peak %lld",
		 (long long)live, (long long)r->trim_peak);
	r->trim_peak = live;
}

/* ---- expiry sweep ------------------------------------------------------- */

static void sweep(struct cv_tmr *t, void *arg)
{
	struct srv_worker *sw = arg;
	struct cv_srv *s = sw->srv;
	struct registrar *r = &s->reg;
	(void)t;
	uint64_t now = cv_clock_ms();
	pthread_mutex_lock(&r->lock);
	for (size_t i = 0; r->nbindings && i < r->nbuckets; i++)
		for (struct aor *a = r->buckets[i]; a; a = a->next)
			if (a->bindings)
				aor_expire(r, a, now);
	struct reg_expired *g = graveyard_take(r);
	pthread_mutex_unlock(&r->lock);
	graveyard_flush(s, g);
	if (s->p.store && ++r->sweeps % PURGE_EVERY == 0)
		cv_store_binding_purge(s->p.store, (int64_t)cv_clock_wall_us(),
				       NULL);
	trim_check(sw);
	cv_tmr_start(cv_worker_wheel(sw->w), &r->sweep, SWEEP_MS * 1000, sweep,
		     sw);
}

void registrar_worker_start(struct srv_worker *sw)
{
	struct registrar *r = &sw->srv->reg;
	if (cv_worker_index(sw->w) != 0)
		return;
	r->sweep_sw = sw;
	cv_tmr_init(&r->sweep);
	cv_tmr_start(cv_worker_wheel(sw->w), &r->sweep, SWEEP_MS * 1000, sweep,
		     sw);
}

void registrar_worker_stop(struct srv_worker *sw)
{
	struct registrar *r = &sw->srv->reg;
	if (r->sweep_sw != sw)
		return;
	cv_tmr_cancel(&r->sweep);
	r->sweep_sw = NULL;
	pthread_mutex_lock(&r->lock);
	struct reg_expired *g = graveyard_take(r);
	pthread_mutex_unlock(&r->lock);
	graveyard_flush(sw->srv, g);
}
