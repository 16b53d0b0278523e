/* The `trunks` and `routes` sections of cvoipd's configuration
 * (docs/server.md, "Trunks"): every key checked, every mistake refused
 * with file:line. */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "conf.h"
#include "cvoip/transport.h"

#define ROUTE_MAX_TRUNKS 8
#define NUMBER_MAX	 64
#define DIDS_MAX	 100000

/* A number as a SIP user part may carry it (RFC 3261 §25.1), plus the
 * backslash of \N references when `refs`. */
static bool number_chars_ok(const char *s, bool refs)
{
	for (; *s; s++) {
		char ch = *s;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') ||
		      strchr("-_.!~*'()&=+$,;?/%", ch) || (refs && ch == '\\')))
			return false;
	}
	return true;
}

static bool name_ok(const char *s)
{
	size_t n = strlen(s);
	if (!n || n > 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
		      ch == '.'))
			return false;
	}
	return true;
}

/* RFC 1123 host name (letters, digits, '-', dots; labels of 1..63) */
static bool host_ok(const char *h)
{
	struct cv_tp_addr a;
	if (cv_tp_addr_set(&a, cv_pl_str(h), 0) == 0)
		return true;
	size_t label = 0;
	for (const char *c = h; *c; c++) {
		char ch = *c;
		if (ch == '.') {
			if (!label)
				return false;
			label = 0;
			continue;
		}
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-') ||
		    ++label > 63)
			return false;
	}
	return *h != 0;
}

static int load_trunk(struct cvoipd_conf *c, const struct cv_cfg_node *e,
		      struct cvoipd_trunk *t, struct cv_cfg_err *err)
{
	static const char *const keys[] = {
		"name",	      "host",  "port",	   "transport", "username",
		"password",   "realm", "register", "expires",	"options_ping",
		"down_after", "dids",  NULL};
	static const char *const transports[] = {"udp", "tcp", "tls", NULL};
	const struct cv_cfg *cfg = c->cfg;
	int tpi = -1;
	/* absent: chosen by RFC 3263 for a name (NAPTR, SRV), UDP and the
	 * transport's default port for a numeric host */
	t->port = 0;
	t->transport = "";
	t->username = t->password = t->realm = "";
	t->expires = 3600;
	int rc = cv_cfg_expect(cfg, e, CV_CFG_MAP, "a trunk", err);
	if (!rc)
		rc = cv_cfg_check_keys(cfg, e, "trunks", keys, err);
	if (!rc)
		rc = cv_cfg_str(cfg, cv_cfg_get(e, "name"), &t->name, err);
	if (!rc)
		rc = cv_cfg_str(cfg, cv_cfg_get(e, "host"), &t->host, err);
	if (!rc)
		rc = cv_cfg_int(cfg, cv_cfg_get(e, "port"), 1, 65535, &t->port,
				err);
	if (!rc)
		rc = cv_cfg_enum(cfg, cv_cfg_get(e, "transport"), transports,
				 &tpi, err);
	if (!rc)
		rc = cv_cfg_str(cfg, cv_cfg_get(e, "username"), &t->username,
				err);
	if (!rc)
		rc = cv_cfg_str(cfg, cv_cfg_get(e, "password"), &t->password,
				err);
	if (!rc)
		rc = cv_cfg_str(cfg, cv_cfg_get(e, "realm"), &t->realm, err);
	if (!rc)
		rc = cv_cfg_bool(cfg, cv_cfg_get(e, "register"),
				 &t->do_register, err);
	if (!rc)
		rc = cv_cfg_int(cfg, cv_cfg_get(e, "expires"), 2, 86400,
				&t->expires, err);
	t->down_after = 3;
	if (!rc)
		rc = cv_cfg_duration_ms(cfg, cv_cfg_get(e, "options_ping"), 500,
					3600000, &t->options_ping_ms, err);
	if (!rc)
		rc = cv_cfg_int(cfg, cv_cfg_get(e, "down_after"), 1, 100,
				&t->down_after, err);
	if (!rc && cv_cfg_get(e, "down_after") && !t->options_ping_ms)
		rc = cv_cfg_fail(cfg, cv_cfg_get(e, "down_after"), err,
				 "'down_after' needs 'options_ping'");
	if (rc)
		return rc;
	if (tpi >= 0)
		t->transport = transports[tpi];
	if (!t->name || !t->host)
		return cv_cfg_fail(cfg, e, err,
				   "a trunk needs 'name' and 'host'");
	if (!name_ok(t->name))
		return cv_cfg_fail(
			cfg, cv_cfg_get(e, "name"), err,
			"trunk name '%s': 1 to 64 of A-Z a-z 0-9 - _ .",
			t->name);
	for (unsigned i = 0; i < c->ntrunks; i++)
		if (!strcmp(c->trunks[i].name, t->name))
			return cv_cfg_fail(cfg, e, err,
					   "trunk '%s' defined twice", t->name);
	if (!*t->host || strlen(t->host) > 253)
		return cv_cfg_fail(cfg, cv_cfg_get(e, "host"), err, "bad host");
	/* a numeric address or a DNS name; names are resolved by cvoipd
	 * while it runs (RFC 3263), so a DNS outage at start is no error */
	if (!host_ok(t->host))
		return cv_cfg_fail(cfg, cv_cfg_get(e, "host"), err,
				   "trunk host '%s': not an IP address or a "
				   "DNS name",
				   t->host);
	if (*t->password && !*t->username)
		return cv_cfg_fail(cfg, cv_cfg_get(e, "password"), err,
				   "a trunk 'password' needs a 'username'");
	if (t->do_register && (!*t->username || !*t->password))
		return cv_cfg_fail(
			cfg, cv_cfg_get(e, "register"), err,
			"'register: true' needs 'username' and 'password'");
	if (strlen(t->username) > 128 || strlen(t->password) > 256 ||
	    strlen(t->realm) > 256)
		return cv_cfg_fail(cfg, e, err, "trunk credentials too long");
	return 0;
}

static const struct cvoipd_trunk *trunk_find(const struct cvoipd_conf *c,
					     const char *name)
{
	for (unsigned i = 0; i < c->ntrunks; i++)
		if (!strcmp(c->trunks[i].name, name))
			return &c->trunks[i];
	return NULL;
}

/* trunks: one name or a list (failover order) -> "a,b" */
static int route_trunks(struct cvoipd_conf *c, const struct cv_cfg_node *n,
			struct cvoipd_route *r, struct cv_cfg_err *err)
{
	const struct cv_cfg *cfg = c->cfg;
	r->trunks = calloc(1, ROUTE_MAX_TRUNKS * 65 + 1);
	if (!r->trunks)
		return -ENOMEM;
	const struct cv_cfg_node *one = n->type == CV_CFG_SCALAR ? n : NULL;
	if (!one) {
		int rc = cv_cfg_expect(cfg, n, CV_CFG_SEQ, "trunks", err);
		if (rc)
			return rc;
	}
	unsigned count = 0;
	for (const struct cv_cfg_node *e = one ? one : n->child; e;
	     e = one ? NULL : e->next) {
		const char *name = NULL;
		int rc = cv_cfg_str(cfg, e, &name, err);
		if (rc)
			return rc;
		if (!name || !trunk_find(c, name))
			return cv_cfg_fail(cfg, e, err, "unknown trunk '%s'",
					   name ? name : "");
		if (++count > ROUTE_MAX_TRUNKS)
			return cv_cfg_fail(cfg, e, err,
					   "at most %d trunks per route",
					   ROUTE_MAX_TRUNKS);
		if (count > 1)
			strcat(r->trunks, ",");
		strcat(r->trunks, name);
	}
	if (!count)
		return cv_cfg_fail(cfg, n, err, "route '%s' names no trunk",
				   r->name);
	return 0;
}

/* rewrite: {match: ERE, replace: "+49\\1"} */
static int load_rewrite(const struct cv_cfg *cfg, const struct cv_cfg_node *n,
			struct cvoipd_route *r, struct cv_cfg_err *err)
{
	static const char *const keys[] = {"match", "replace", NULL};
	if (!n)
		return 0;
	int rc = cv_cfg_expect(cfg, n, CV_CFG_MAP, "rewrite", err);
	if (!rc)
		rc = cv_cfg_check_keys(cfg, n, "rewrite", keys, err);
	if (!rc)
		rc = cv_cfg_str(cfg, cv_cfg_get(n, "match"), &r->rewrite_match,
				err);
	if (!rc)
		rc = cv_cfg_str(cfg, cv_cfg_get(n, "replace"),
				&r->rewrite_replace, err);
	if (rc)
		return rc;
	if (!r->rewrite_match || !*r->rewrite_match || !r->rewrite_replace)
		return cv_cfg_fail(cfg, n, err,
				   "rewrite needs 'match' and 'replace'");
	if (strlen(r->rewrite_match) > 1024 ||
	    strlen(r->rewrite_replace) > NUMBER_MAX)
		return cv_cfg_fail(cfg, n, err, "rewrite too long");
	const struct cv_cfg_node *mn = cv_cfg_get(n, "match");
	const struct cv_cfg_node *rn = cv_cfg_get(n, "replace");
	regex_t re;
	int ec = regcomp(&re, r->rewrite_match, REG_EXTENDED);
	if (ec) {
		char why[128];
		regerror(ec, &re, why, sizeof(why));
		return cv_cfg_fail(cfg, mn, err, "bad rewrite match '%s': %s",
				   r->rewrite_match, why);
	}
	size_t groups = re.re_nsub;
	regfree(&re);
	if (!number_chars_ok(r->rewrite_replace, true))
		return cv_cfg_fail(cfg, rn, err,
				   "rewrite replace '%s': characters of a SIP "
				   "user part and \\0..\\9 only",
				   r->rewrite_replace);
	for (const char *p = r->rewrite_replace; *p; p++) {
		if (*p != '\\')
			continue;
		if (p[1] == '\\') {
			p++;
			continue;
		}
		if (p[1] < '0' || p[1] > '9' || (size_t)(p[1] - '0') > groups)
			return cv_cfg_fail(
				cfg, rn, err,
				"rewrite replace '%s': \\%c names no group of "
				"the match (it has %zu)",
				r->rewrite_replace, p[1] ? p[1] : ' ', groups);
		p++;
	}
	return 0;
}

static int load_route(struct cvoipd_conf *c, const struct cv_cfg_node *e,
		      struct cvoipd_route *r, unsigned index,
		      struct cv_cfg_err *err)
{
	static const char *const keys[] = {
		"name",	 "prefix",  "pattern", "trunks", "priority", "media",
		"strip", "prepend", "rewrite", "srtp",	 NULL};
	static const char *const medias[] = {"relay", "direct", NULL};
	/* the order of enum cv_srv_srtp */
	static const char *const srtps[] = {"optional", "off", "required",
					    NULL};
	const struct cv_cfg *cfg = c->cfg;
	int mi = c->media_relay ? 0 : 1;
	r->prefix = r->pattern = "";
	r->priority = (int64_t)(index + 1) * 10; /* file order */
	int rc = cv_cfg_expect(cfg, e, CV_CFG_MAP, "a route", err);
	if (!rc)
		rc = cv_cfg_check_keys(cfg, e, "routes", keys, err);
	if (!rc)
		rc = cv_cfg_str(cfg, cv_cfg_get(e, "name"), &r->name, err);
	if (!rc)
		rc = cv_cfg_str(cfg, cv_cfg_get(e, "prefix"), &r->prefix, err);
	if (!rc)
		rc = cv_cfg_str(cfg, cv_cfg_get(e, "pattern"), &r->pattern,
				err);
	if (!rc)
		rc = cv_cfg_int(cfg, cv_cfg_get(e, "priority"), -1000000,
				1000000, &r->priority, err);
	if (!rc)
		rc = cv_cfg_enum(cfg, cv_cfg_get(e, "media"), medias, &mi, err);
	r->prepend = r->rewrite_match = r->rewrite_replace = "";
	if (!rc)
		rc = cv_cfg_int(cfg, cv_cfg_get(e, "strip"), 0, 32, &r->strip,
				err);
	if (!rc)
		rc = cv_cfg_str(cfg, cv_cfg_get(e, "prepend"), &r->prepend,
				err);
	if (!rc)
		rc = cv_cfg_enum(cfg, cv_cfg_get(e, "srtp"), srtps, &r->srtp,
				 err);
	if (!rc)
		rc = load_rewrite(cfg, cv_cfg_get(e, "rewrite"), r, err);
	if (rc)
		return rc;
	r->media = medias[mi];
	if (strlen(r->prepend) > 32 || !number_chars_ok(r->prepend, false))
		return cv_cfg_fail(cfg, cv_cfg_get(e, "prepend"), err,
				   "prepend '%s': at most 32 characters of a "
				   "SIP user part",
				   r->prepend);
	if (r->srtp && mi != 0)
		return cv_cfg_fail(cfg, cv_cfg_get(e, "srtp"), err,
				   "'srtp: %s' needs the route's media relayed",
				   srtps[r->srtp]);
	if (!r->name)
		return cv_cfg_fail(cfg, e, err, "a route needs a 'name'");
	if (!name_ok(r->name))
		return cv_cfg_fail(
			cfg, cv_cfg_get(e, "name"), err,
			"route name '%s': 1 to 64 of A-Z a-z 0-9 - _ .",
			r->name);
	for (unsigned i = 0; i < c->nroutes; i++)
		if (!strcmp(c->routes[i].name, r->name))
			return cv_cfg_fail(cfg, e, err,
					   "route '%s' defined twice", r->name);
	if (strlen(r->prefix) > 64)
		return cv_cfg_fail(cfg, cv_cfg_get(e, "prefix"), err,
				   "prefix longer than 64");
	if (strlen(r->pattern) > 1024)
		return cv_cfg_fail(cfg, cv_cfg_get(e, "pattern"), err,
				   "pattern longer than 1024");
	if (*r->pattern) {
		regex_t re;
		int ec = regcomp(&re, r->pattern, REG_EXTENDED | REG_NOSUB);
		if (ec) {
			char why[128];
			regerror(ec, &re, why, sizeof(why));
			return cv_cfg_fail(cfg, cv_cfg_get(e, "pattern"), err,
					   "bad pattern '%s': %s", r->pattern,
					   why);
		}
		regfree(&re);
	}
	if (mi == 0 && !c->media_relay)
		return cv_cfg_fail(cfg, cv_cfg_get(e, "media"), err,
				   "'media: relay' needs media.relay: true");
	const struct cv_cfg_node *tn = cv_cfg_get(e, "trunks");
	if (!tn)
		return cv_cfg_fail(cfg, e, err, "route '%s' needs 'trunks'",
				   r->name);
	return route_trunks(c, tn, r, err);
}

/* One map {number: user} (a trunk's `dids`, or the top-level one). */
static int load_dids(struct cvoipd_conf *c, const struct cv_cfg_node *n,
		     const char *trunk, struct cv_cfg_err *err)
{
	const struct cv_cfg *cfg = c->cfg;
	if (!n)
		return 0;
	int rc = cv_cfg_expect(cfg, n, CV_CFG_MAP, "dids", err);
	if (rc)
		return rc;
	for (const struct cv_cfg_node *e = n->child; e; e = e->next) {
		const char *user = NULL;
		rc = cv_cfg_str(cfg, e, &user, err);
		if (rc)
			return rc;
		if (!e->key || !*e->key || strlen(e->key) > NUMBER_MAX ||
		    !number_chars_ok(e->key, false))
			return cv_cfg_fail(cfg, e, err,
					   "DID '%s': 1 to %d characters of a "
					   "SIP user part",
					   e->key ? e->key : "", NUMBER_MAX);
		if (!user || !name_ok(user))
			return cv_cfg_fail(
				cfg, e, err,
				"DID %s: the user must be 1 to 64 of "
				"A-Z a-z 0-9 - _ .",
				e->key);
		for (unsigned i = 0; i < c->ndids; i++)
			if (!strcmp(c->dids[i].number, e->key) &&
			    (c->dids[i].trunk == trunk ||
			     (trunk && c->dids[i].trunk &&
			      !strcmp(c->dids[i].trunk, trunk))))
				return cv_cfg_fail(cfg, e, err,
						   "DID '%s' mapped twice",
						   e->key);
		if (c->ndids >= DIDS_MAX)
			return cv_cfg_fail(cfg, e, err, "more than %d DIDs",
					   DIDS_MAX);
		struct cv_srv_did *d =
			realloc(c->dids, (c->ndids + 1) * sizeof(*c->dids));
		if (!d)
			return -ENOMEM;
		c->dids = d;
		c->dids[c->ndids++] = (struct cv_srv_did){
			.number = e->key, .user = user, .trunk = trunk};
	}
	return 0;
}

/* dns: {servers: ["127.0.0.1:5353", "[::1]"]}: the DNS servers trunk
 * names (RFC 3263) are resolved with; absent: /etc/resolv.conf. */
static int load_dns(struct cvoipd_conf *c, const struct cv_cfg_node *n,
		    struct cv_cfg_err *err)
{
	static const char *const keys[] = {"servers", NULL};
	const struct cv_cfg *cfg = c->cfg;
	if (!n)
		return 0;
	int rc = cv_cfg_expect(cfg, n, CV_CFG_MAP, "dns", err);
	if (!rc)
		rc = cv_cfg_check_keys(cfg, n, "dns", keys, err);
	const struct cv_cfg_node *sv = cv_cfg_get(n, "servers");
	if (rc || !sv)
		return rc;
	rc = cv_cfg_expect(cfg, sv, CV_CFG_SEQ, "dns servers", err);
	unsigned k = 0;
	for (const struct cv_cfg_node *e = sv->child; !rc && e; e = e->next) {
		const char *v = NULL;
		rc = cv_cfg_str(cfg, e, &v, err);
		if (rc)
			break;
		struct cv_tp_addr a;
		if (!v || (cv_tp_addr_parse(&a, cv_pl_str(v)) != 0 &&
			   cv_tp_addr_set(&a, cv_pl_str(v), 53) != 0))
			return cv_cfg_fail(cfg, e, err,
					   "DNS server '%s': not IP[:port]",
					   v ? v : "");
		if (k >= CVOIPD_MAX_DNS)
			return cv_cfg_fail(cfg, e, err,
					   "at most %d DNS servers",
					   CVOIPD_MAX_DNS);
		c->dns_servers[k++] = v;
	}
	return rc;
}

int cvoipd_conf_load_trunks(struct cvoipd_conf *c,
			    const struct cv_cfg_node *trunks,
			    const struct cv_cfg_node *routes,
			    struct cv_cfg_err *err)
{
	const struct cv_cfg *cfg = c->cfg;
	int rc = load_dns(c, cv_cfg_get(cv_cfg_root(cfg), "dns"), err);
	if (rc)
		return rc;
	if (trunks) {
		rc = cv_cfg_expect(cfg, trunks, CV_CFG_SEQ, "trunks", err);
		if (rc)
			return rc;
		c->trunks = calloc(trunks->nchild ? trunks->nchild : 1,
				   sizeof(*c->trunks));
		if (!c->trunks)
			return -ENOMEM;
		for (const struct cv_cfg_node *e = trunks->child; e;
		     e = e->next) {
			rc = load_trunk(c, e, &c->trunks[c->ntrunks], err);
			if (!rc)
				rc = load_dids(c, cv_cfg_get(e, "dids"),
					       c->trunks[c->ntrunks].name, err);
			if (rc)
				return rc;
			c->ntrunks++;
		}
	}
	if (routes) {
		rc = cv_cfg_expect(cfg, routes, CV_CFG_SEQ, "routes", err);
		if (rc)
			return rc;
		c->routes = calloc(routes->nchild ? routes->nchild : 1,
				   sizeof(*c->routes));
		if (!c->routes)
			return -ENOMEM;
		for (const struct cv_cfg_node *e = routes->child; e;
		     e = e->next) {
			rc = load_route(c, e, &c->routes[c->nroutes],
					c->nroutes, err);
			c->nroutes++; /* so that free releases its trunk list */
			if (rc)
				return rc;
		}
	}
	/* calls from any trunk: the top-level dids */
	const struct cv_cfg_node *dids = cv_cfg_get(cv_cfg_root(cfg), "dids");
	if (dids && !c->ntrunks)
		return cv_cfg_fail(cfg, dids, err,
				   "'dids' map numbers called through trunks: "
				   "no trunk is configured");
	rc = load_dids(c, dids, NULL, err);
	if (rc)
		return rc;
	/* what the server takes beyond the store's trunk and route rows */
	c->route_opts =
		calloc(c->nroutes ? c->nroutes : 1, sizeof(*c->route_opts));
	c->trunk_opts =
		calloc(c->ntrunks ? c->ntrunks : 1, sizeof(*c->trunk_opts));
	if (!c->route_opts || !c->trunk_opts)
		return -ENOMEM;
	for (unsigned i = 0; i < c->nroutes; i++) {
		const struct cvoipd_route *r = &c->routes[i];
		c->route_opts[i] = (struct cv_srv_route_opts){
			.route = r->name,
			.strip = (uint32_t)r->strip,
			.prepend = r->prepend,
			.rewrite_match = r->rewrite_match,
			.rewrite_replace = r->rewrite_replace,
			.srtp = (enum cv_srv_srtp)r->srtp};
	}
	for (unsigned i = 0; i < c->ntrunks; i++)
		c->trunk_opts[i] = (struct cv_srv_trunk_opts){
			.trunk = c->trunks[i].name,
			.options_ping_ms =
				(uint32_t)c->trunks[i].options_ping_ms,
			.down_after = (uint32_t)c->trunks[i].down_after};
	return 0;
}

void cvoipd_conf_free_trunks(struct cvoipd_conf *c)
{
	for (unsigned i = 0; i < c->nroutes; i++)
		free(c->routes[i].trunks);
	free(c->routes);
	free(c->trunks);
	free(c->dids);
	free(c->route_opts);
	free(c->trunk_opts);
	c->route_opts = NULL;
	c->trunk_opts = NULL;
	c->routes = NULL;
	c->trunks = NULL;
	c->dids = NULL;
	c->nroutes = c->ntrunks = c->ndids = 0;
}
