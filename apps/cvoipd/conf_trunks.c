/* The `trunks` and `routes` sections of cvoipd's configuration
 * (docs/server.md, "Trunks"): every key checked, every mistake refused
 * with file:line. */
#include <netdb.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "conf.h"

#define ROUTE_MAX_TRUNKS 8

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

static int load_trunk(struct cvoipd_conf *c, const struct cv_cfg_node *e,
		      struct cvoipd_trunk *t, struct cv_cfg_err *err)
{
	static const char *const keys[] = {
		"name",	    "host",  "port",	 "transport", "username",
		"password", "realm", "register", "expires",   NULL};
	static const char *const transports[] = {"udp", "tcp", "tls", NULL};
	const struct cv_cfg *cfg = c->cfg;
	int tpi = 0;
	t->port = 5060;
	t->transport = "udp";
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
	if (rc)
		return rc;
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
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
				 .ai_socktype = SOCK_DGRAM};
	struct addrinfo *ai = NULL;
	if (getaddrinfo(t->host, NULL, &hints, &ai) != 0 || !ai)
		return cv_cfg_fail(cfg, cv_cfg_get(e, "host"), err,
				   "trunk host '%s' does not resolve", t->host);
	freeaddrinfo(ai);
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

static int load_route(struct cvoipd_conf *c, const struct cv_cfg_node *e,
		      struct cvoipd_route *r, unsigned index,
		      struct cv_cfg_err *err)
{
	static const char *const keys[] = {"name",   "prefix",	 "pattern",
					   "trunks", "priority", "media",
					   NULL};
	static const char *const medias[] = {"relay", "direct", NULL};
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
	if (rc)
		return rc;
	r->media = medias[mi];
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

int cvoipd_conf_load_trunks(struct cvoipd_conf *c,
			    const struct cv_cfg_node *trunks,
			    const struct cv_cfg_node *routes,
			    struct cv_cfg_err *err)
{
	const struct cv_cfg *cfg = c->cfg;
	int rc;
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
	return 0;
}

void cvoipd_conf_free_trunks(struct cvoipd_conf *c)
{
	for (unsigned i = 0; i < c->nroutes; i++)
		free(c->routes[i].trunks);
	free(c->routes);
	free(c->trunks);
	c->routes = NULL;
	c->trunks = NULL;
	c->nroutes = c->ntrunks = 0;
}
