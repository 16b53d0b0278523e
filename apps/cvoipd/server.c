/* cvoipd: configuration -> modules on the worker runtime. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cvoip/bus.h"
#include "cvoip/callcenter.h"
#include "cvoip/metrics.h"
#include "cvoip/runtime.h"
#include "cvoip/server.h"
#include "cvoip/store.h"
#include "cvoip/transport.h"

#include "cc.h"
#include "evlog.h"
#include "server.h"

#define MOD "cvoipd"

struct server {
	struct cvoipd_conf conf;
	struct cv_tp_spec specs[CVOIPD_MAX_LISTEN];
	unsigned nspecs;
	struct cv_rt *rt;
	struct cv_tp *tp;
	struct cv_store *store;
	struct cv_srv *srv;
	struct cv_metrics *metrics;
	struct cv_bus *bus;
	struct evlog *evlog;
	struct cvoipd_cc *cc; /* the call center, NULL without queues */
};

static void on_recv(struct cv_worker *w, const struct cv_tp_rx *rx, void *arg)
{
	struct server *s = arg;
	cv_srv_recv(s->srv, w, rx);
}

static const struct cv_tp_handler tp_handler = {
	.recv = on_recv,
};

/* glibc grows a thread's arena (every thread but main has its own) by
 * one mprotect() per page-rounded shortfall: M_TOP_PAD applies to the
 * main arena only. Under load a worker's heap grows for as long as its
 * transactions live (Timer J: 32 s), so that was an mprotect() and a VMA
 * split for every few requests (2-3 % of a worker's CPU in a profile of
 * bench/server/run.sh). Allocating and freeing blocks below the mmap
 * threshold once makes the heap writable that far; freeing trims the
 * pages (MADV_DONTNEED, no RSS kept) but not the protection, so later
 * growth within it is only the first-touch page faults. */
static void arena_reserve(void)
{
#ifdef __GLIBC__
	/* about 60 MB: most of a thread heap (64 MB at most) */
	enum { BLOCK = 60 * 1024, NBLOCKS = 1000 };
	void **b = malloc(NBLOCKS * sizeof(*b));
	size_t n = 0;
	if (!b)
		return;
	while (n < NBLOCKS && (b[n] = malloc(BLOCK)) != NULL)
		n++;
	while (n)
		free(b[--n]);
	free(b);
#endif
}

static void worker_start(struct cv_worker *w, void *arg)
{
	struct server *s = arg;
	arena_reserve();
	int err = cv_tp_worker_start(s->tp, w);
	if (err) {
		CV_ERROR(MOD, "worker %u: transport start failed: %s",
			 cv_worker_index(w), cv_strerror(err));
		cv_rt_fail(cv_worker_rt(w), err);
		return;
	}
	err = cv_srv_worker_start(s->srv, w);
	if (err) {
		CV_ERROR(MOD, "worker %u: server start failed: %s",
			 cv_worker_index(w), cv_strerror(err));
		cv_rt_fail(cv_worker_rt(w), err);
	}
}

static void worker_stop(struct cv_worker *w, void *arg)
{
	struct server *s = arg;
	cv_srv_worker_stop(s->srv, w);
	cv_tp_worker_stop(s->tp, w);
}

static int parse_specs(struct server *s, const char *const *list, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		int err = cv_tp_spec_parse(list[i], &s->specs[i]);
		if (err) {
			fprintf(stderr,
				"cvoipd: bad listen spec '%s' (expected e.g. "
				"udp:127.0.0.1:5060)\n",
				list[i]);
			return err;
		}
	}
	s->nspecs = n;
	return 0;
}

/* sqlite:PATH -> make sure the folder exists and is writable, so that a
 * bad var/ is one clear line at start instead of a failure later. */
static int check_db_path(const char *url)
{
	if (strncmp(url, "sqlite:", 7) != 0 || strcmp(url + 7, ":memory:") == 0)
		return 0;
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", url + 7);
	char *slash = strrchr(dir, '/');
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else
		*slash = '\0';
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr,
			"cvoipd: cannot create database folder %s: %s\n", dir,
			strerror(errno));
		return -errno;
	}
	if (access(dir, W_OK | X_OK) != 0) {
		fprintf(stderr,
			"cvoipd: database folder %s is not writable: %s\n", dir,
			strerror(errno));
		return -errno;
	}
	return 0;
}

static int load_conf(struct cvoipd_conf *c, const char *path)
{
	cvoipd_conf_defaults(c);
	if (!path)
		return 0;
	struct cv_cfg_err err;
	int rc = cvoipd_conf_load(c, path, &err);
	if (rc)
		fprintf(stderr, "cvoipd: %s\n", err.msg);
	return rc;
}

int cvoipd_check_config(const char *path)
{
	struct server s = {0};
	if (load_conf(&s.conf, path))
		return 1;
	int rc = parse_specs(&s, s.conf.listen, s.conf.nlisten);
	cvoipd_conf_free(&s.conf);
	if (rc)
		return 1;
	printf("%s: ok\n", path);
	return 0;
}

static int open_store(const char *url, struct cv_store **stp)
{
	if (check_db_path(url))
		return CV_EDB;
	/* Fire-and-forget writes (CDRs, binding changes) share a commit for
	 * up to 20 ms instead of the store's 5 ms: at 1000 calls/s the store
	 * thread's CPU per call went from 32 to 20 us (SQLite's cost is per
	 * commit: WAL frames and their checksums). A kill -9 can lose what
	 * the last 20 ms finished (docs/server.md, Persistence). */
	struct cv_store_params sp = {.url = url, .linger_ms = 20};
	int err = cv_store_open(stp, &sp);
	if (err)
		fprintf(stderr, "cvoipd: cannot open database %s: %s\n", url,
			cv_strerror(err));
	return err;
}

static int read_password_stdin(char *buf, size_t size)
{
	if (!fgets(buf, (int)size, stdin))
		return -EIO;
	buf[strcspn(buf, "\r\n")] = '\0';
	return buf[0] ? 0 : -EINVAL;
}

int cvoipd_user_cmd(int argc, char **argv)
{
	const char *db = NULL, *password = NULL, *config = NULL;
	bool from_stdin = false;
	const char *verb = argc > 1 ? argv[1] : NULL;
	const char *name = NULL;
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--db") && i + 1 < argc)
			db = argv[++i];
		else if (!strcmp(argv[i], "--config") && i + 1 < argc)
			config = argv[++i];
		else if (!strcmp(argv[i], "--password") && i + 1 < argc)
			password = argv[++i];
		else if (!strcmp(argv[i], "--password-stdin"))
			from_stdin = true;
		else if (argv[i][0] != '-' && !name)
			name = argv[i];
		else {
			fprintf(stderr,
				"cvoipd user: unexpected argument '%s'\n",
				argv[i]);
			return 2;
		}
	}
	bool needs_name =
		verb && (!strcmp(verb, "add") || !strcmp(verb, "del"));
	if (!verb ||
	    (strcmp(verb, "add") && strcmp(verb, "del") &&
	     strcmp(verb, "list")) ||
	    (needs_name && !name)) {
		fprintf(stderr,
			"usage: cvoipd user add NAME [--password P | "
			"--password-stdin] [--db URL] [--config FILE]\n"
			"       cvoipd user del NAME [--db URL] [--config "
			"FILE]\n"
			"       cvoipd user list [--db URL] [--config FILE]\n");
		return 2;
	}
	struct cvoipd_conf conf;
	if (load_conf(&conf, config))
		return 1;
	if (!db)
		db = conf.database;
	char pw[512];
	if (!strcmp(verb, "add") && !password) {
		if (!from_stdin) {
			fprintf(stderr, "cvoipd user add: give --password P or "
					"--password-stdin\n");
			cvoipd_conf_free(&conf);
			return 2;
		}
		if (read_password_stdin(pw, sizeof(pw))) {
			fprintf(stderr, "cvoipd user add: no password on "
					"standard input\n");
			cvoipd_conf_free(&conf);
			return 1;
		}
		password = pw;
	}
	struct cv_store *st;
	int rc = 1;
	if (open_store(db, &st)) {
		cvoipd_conf_free(&conf);
		return 1;
	}
	int err;
	if (!strcmp(verb, "add")) {
		err = cv_store_user_add(st, name, conf.realm, password,
					CV_STORE_SYNC(NULL));
		if (!err) {
			printf("user %s added (realm %s)\n", name, conf.realm);
			rc = 0;
		}
	} else if (!strcmp(verb, "del")) {
		err = cv_store_user_del(st, name, conf.realm,
					CV_STORE_SYNC(NULL));
		if (!err) {
			printf("user %s deleted\n", name);
			rc = 0;
		}
	} else {
		struct cv_store_res *res = NULL;
		struct cv_store_query q = {.limit = CV_STORE_LIMIT_MAX};
		err = cv_store_user_list(st, &q, CV_STORE_SYNC(&res));
		if (!err) {
			for (size_t i = 0; i < res->n; i++)
				printf("%s\t%s\n", res->users[i].name,
				       res->users[i].realm);
			cv_mem_unref(res);
			rc = 0;
		}
	}
	if (rc)
		fprintf(stderr, "cvoipd user %s: %s\n", verb, cv_strerror(err));
	cv_store_close(st);
	cvoipd_conf_free(&conf);
	return rc;
}

int cvoipd_parse_time(const char *s, int64_t now_us, int64_t *out_us)
{
	if (!s || !*s)
		return -EINVAL;
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno == 0 && end != s && v >= 0) {
		int64_t unit = 0;
		if (!*end)
			unit = -1; /* a Unix time in seconds */
		else if (!strcmp(end, "s"))
			unit = 1;
		else if (!strcmp(end, "m"))
			unit = 60;
		else if (!strcmp(end, "h"))
			unit = 3600;
		else if (!strcmp(end, "d"))
			unit = 86400;
		if (unit == -1 && v < 100000000000LL) {
			*out_us = (int64_t)v * 1000000;
			return 0;
		}
		if (unit > 0 &&
		    v <= 100000LL * 86400 / unit) { /* ages up to ~270 years */
			*out_us = now_us - (int64_t)v * unit * 1000000;
			return 0;
		}
	}
	static const char *const fmts[] = {"%Y-%m-%dT%H:%M:%S",
					   "%Y-%m-%d %H:%M:%S",
					   "%Y-%m-%dT%H:%M", "%Y-%m-%d"};
	for (size_t i = 0; i < CV_ARRAY_SIZE(fmts); i++) {
		struct tm tm;
		memset(&tm, 0, sizeof(tm));
		const char *rest = strptime(s, fmts[i], &tm);
		if (!rest || (*rest && strcmp(rest, "Z") != 0))
			continue;
		time_t t = timegm(&tm);
		if (t == (time_t)-1)
			return -EINVAL;
		*out_us = (int64_t)t * 1000000;
		return 0;
	}
	return -EINVAL;
}

/* `cvoipd cdr export`: the CDRs as CSV on standard output (one line per
 * leg; the store writes the format, docs/server.md lists the columns). */
int cvoipd_cdr_cmd(int argc, char **argv)
{
	const char *db = NULL, *config = NULL, *since = NULL, *until = NULL,
		   *call_id = NULL;
	const char *verb = argc > 1 ? argv[1] : NULL;
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--db") && i + 1 < argc)
			db = argv[++i];
		else if (!strcmp(argv[i], "--config") && i + 1 < argc)
			config = argv[++i];
		else if (!strcmp(argv[i], "--since") && i + 1 < argc)
			since = argv[++i];
		else if (!strcmp(argv[i], "--until") && i + 1 < argc)
			until = argv[++i];
		else if (!strcmp(argv[i], "--call-id") && i + 1 < argc)
			call_id = argv[++i];
		else {
			fprintf(stderr,
				"cvoipd cdr: unexpected argument '%s'\n",
				argv[i]);
			return 2;
		}
	}
	if (!verb || strcmp(verb, "export")) {
		fprintf(stderr,
			"usage: cvoipd cdr export [--db URL] [--config FILE] "
			"[--since T] [--until T] [--call-id ID]\n"
			"  T: 2026-11-23, 2026-11-23T13:00:00Z (UTC), a Unix "
			"time in seconds,\n"
			"     or an age before now: 90s, 30m, 2h, 7d\n");
		return 2;
	}
	int64_t now = (int64_t)cv_clock_wall_us();
	struct cv_store_query q = {.key = call_id};
	if (since && cvoipd_parse_time(since, now, &q.since_us)) {
		fprintf(stderr, "cvoipd cdr export: bad --since '%s'\n", since);
		return 2;
	}
	if (until && cvoipd_parse_time(until, now, &q.until_us)) {
		fprintf(stderr, "cvoipd cdr export: bad --until '%s'\n", until);
		return 2;
	}
	struct cvoipd_conf conf;
	if (load_conf(&conf, config))
		return 1;
	if (!db)
		db = conf.database;
	struct cv_store *st;
	if (open_store(db, &st)) {
		cvoipd_conf_free(&conf);
		return 1;
	}
	int err = cv_store_cdr_export_csv(st, stdout, &q);
	if (!err && fflush(stdout) != 0)
		err = -errno;
	if (err)
		fprintf(stderr, "cvoipd cdr export: %s\n", cv_strerror(err));
	cv_store_close(st);
	cvoipd_conf_free(&conf);
	return err ? 1 : 0;
}

/* Users and agents of the configuration go into the store (as HA1), then
 * every user of the realm is read back for the server's snapshot. */
static int provision_users(struct server *s, struct cv_store_res **resp)
{
	const struct cvoipd_conf *c = &s->conf;
	for (unsigned i = 0; i < c->nusers; i++) {
		int err = cv_store_user_add(s->store, c->users[i].name,
					    c->realm, c->users[i].password,
					    CV_STORE_SYNC(NULL));
		if (err)
			return err;
	}
	for (unsigned i = 0; i < c->nagents; i++) {
		int err = cv_store_user_add(s->store, c->agents[i].name,
					    c->realm, c->agents[i].password,
					    CV_STORE_SYNC(NULL));
		if (err)
			return err;
	}
	struct cv_store_query q = {.key = c->realm,
				   .limit = CV_STORE_LIMIT_MAX};
	return cv_store_user_list(s->store, &q, CV_STORE_SYNC(resp));
}

/* Trunks and routes of the configuration go into the store, which then
 * holds exactly those (the configuration is their authority: rows it no
 * longer names are deleted); the server gets them read back from it. */
static int provision_trunks(struct server *s, struct cv_store_res **trunks,
			    struct cv_store_res **routes)
{
	const struct cvoipd_conf *c = &s->conf;
	int err = 0;
	for (unsigned i = 0; !err && i < c->ntrunks; i++) {
		const struct cvoipd_trunk *t = &c->trunks[i];
		struct cv_store_trunk st = {.name = t->name,
					    .host = t->host,
					    .port = (uint16_t)t->port,
					    .transport = t->transport,
					    .username = t->username,
					    .password = t->password,
					    .realm = t->realm,
					    .do_register = t->do_register,
					    .expires_s = (uint32_t)t->expires};
		err = cv_store_trunk_upsert(s->store, &st, CV_STORE_SYNC(NULL));
	}
	for (unsigned i = 0; !err && i < c->nroutes; i++) {
		const struct cvoipd_route *r = &c->routes[i];
		struct cv_store_route sr = {.name = r->name,
					    .prefix = r->prefix,
					    .pattern = r->pattern,
					    .trunk = r->trunks,
					    .priority = (int32_t)r->priority,
					    .media = r->media};
		err = cv_store_route_upsert(s->store, &sr, CV_STORE_SYNC(NULL));
	}
	struct cv_store_res *res = NULL;
	if (!err)
		err = cv_store_route_list(s->store, CV_STORE_SYNC(&res));
	for (size_t i = 0; !err && i < res->n; i++) {
		bool keep = false;
		for (unsigned j = 0; j < c->nroutes; j++)
			keep = keep ||
			       !strcmp(c->routes[j].name, res->routes[i].name);
		if (!keep)
			err = cv_store_route_del(s->store, res->routes[i].name,
						 CV_STORE_SYNC(NULL));
	}
	res = cv_mem_unref(res);
	if (!err)
		err = cv_store_trunk_list(s->store, CV_STORE_SYNC(&res));
	for (size_t i = 0; !err && i < res->n; i++) {
		bool keep = false;
		for (unsigned j = 0; j < c->ntrunks; j++)
			keep = keep ||
			       !strcmp(c->trunks[j].name, res->trunks[i].name);
		if (!keep)
			err = cv_store_trunk_del(s->store, res->trunks[i].name,
						 CV_STORE_SYNC(NULL));
	}
	cv_mem_unref(res);
	if (!err)
		err = cv_store_trunk_list(s->store, CV_STORE_SYNC(trunks));
	if (!err)
		err = cv_store_route_list(s->store, CV_STORE_SYNC(routes));
	return err;
}

int cvoipd_serve(const struct cvoipd_opts *o)
{
	static const char *const default_listen[] = {"udp:127.0.0.1:5060",
						     "tcp:127.0.0.1:5060"};
	struct server s = {0};
	struct cv_store_res *users = NULL, *trunks = NULL, *routes = NULL;
	int rc = 1;
	if (load_conf(&s.conf, o->config))
		return 1;
	if (o->db)
		s.conf.database = o->db;
	if (o->workers > 0)
		s.conf.workers = o->workers;
	if (o->log_level)
		s.conf.log_level = o->log_level;
	enum cv_log_level lvl = CV_LOG_INFO;
	cv_log_level_parse(s.conf.log_level, &lvl);
	cv_log_set_level(lvl);

	int err;
	if (o->nlisten)
		err = parse_specs(&s, o->listen, o->nlisten);
	else if (s.conf.nlisten)
		err = parse_specs(&s, s.conf.listen, s.conf.nlisten);
	else
		err = parse_specs(&s, default_listen,
				  CV_ARRAY_SIZE(default_listen));
	if (err || open_store(s.conf.database, &s.store))
		goto out;
	err = provision_users(&s, &users);
	if (err) {
		fprintf(stderr, "cvoipd: cannot provision users: %s\n",
			cv_strerror(err));
		goto out;
	}
	err = provision_trunks(&s, &trunks, &routes);
	if (err) {
		fprintf(stderr,
			"cvoipd: cannot provision trunks and routes: %s\n",
			cv_strerror(err));
		goto out;
	}

	struct cv_rt_params rp = {.workers = (unsigned)s.conf.workers,
				  .on_start = worker_start,
				  .on_stop = worker_stop,
				  .arg = &s,
				  .handle_signals = true};
	err = cv_rt_create(&s.rt, &rp);
	if (err) {
		fprintf(stderr, "cvoipd: runtime: %s\n", cv_strerror(err));
		goto out;
	}
	struct cv_tp_params tpp = {.specs = s.specs,
				   .nspecs = s.nspecs,
				   .tls = {.cert_file = s.conf.tls_cert,
					   .key_file = s.conf.tls_key,
					   .ca_file = s.conf.tls_ca,
					   .verify_server = true},
				   .dns_servers = s.conf.dns_servers[0]
							  ? s.conf.dns_servers
							  : NULL,
				   .h = &tp_handler,
				   .arg = &s};
	err = cv_tp_create(&s.tp, s.rt, &tpp);
	if (err) {
		fprintf(stderr, "cvoipd: cannot open listeners: %s\n",
			cv_strerror(err));
		goto out;
	}
	/* one more: the call center's internal user */
	struct cv_srv_user *su = calloc(users->n + 1, sizeof(*su));
	if (!su)
		goto out;
	for (size_t i = 0; i < users->n; i++) {
		su[i].name = users->users[i].name;
		su[i].ha1_md5 = users->users[i].ha1[CV_STORE_ALG_MD5];
		su[i].ha1_sha256 = users->users[i].ha1[CV_STORE_ALG_SHA256];
		su[i].ha1_sha512_256 =
			users->users[i].ha1[CV_STORE_ALG_SHA512_256];
	}
	/* The relay binds the configured media address, else the first
	 * listener's address when it is not a wildcard (so that `make run`
	 * on 127.0.0.1 keeps media on loopback too). */
	char media_addr[CV_TP_ADDRSTRLEN] = "";
	if (s.conf.media_address) {
		snprintf(media_addr, sizeof(media_addr), "%s",
			 s.conf.media_address);
	} else if (s.nspecs) {
		const struct cv_tp_addr *a = &s.specs[0].addr;
		if (a->ss.ss_family == AF_INET &&
		    ((const struct sockaddr_in *)(const void *)&a->ss)
				    ->sin_addr.s_addr != htonl(INADDR_ANY))
			inet_ntop(AF_INET,
				  &((const struct sockaddr_in *)(const void *)&a
					    ->ss)
					   ->sin_addr,
				  media_addr, sizeof(media_addr));
		else if (a->ss.ss_family == AF_INET6 &&
			 !IN6_IS_ADDR_UNSPECIFIED(
				 &((const struct sockaddr_in6 *)(const void *)&a
					   ->ss)
					  ->sin6_addr))
			inet_ntop(AF_INET6,
				  &((const struct sockaddr_in6
					     *)(const void *)&a->ss)
					   ->sin6_addr,
				  media_addr, sizeof(media_addr));
	}
	/* the event bus: the server publishes calls, registrations and
	 * CDRs; the event log (server.event_log) is its first subscriber */
	struct cv_metrics_params mp = {0};
	struct cv_bus_params bp = {0};
	err = cv_metrics_create(&s.metrics, &mp);
	if (!err) {
		bp.metrics = s.metrics;
		/* subscribers (event log, call center) run on other threads:
		 * under load, one wake-up per 5 ms rather than one thread
		 * hand-off per REGISTER (docs/performance.md) */
		bp.sub_linger_ms = 20;
		err = cv_bus_create(&s.bus, &bp);
	}
	if (!err && s.conf.event_log)
		err = evlog_start(&s.evlog, s.bus, s.conf.event_log);
	if (err) {
		fprintf(stderr, "cvoipd: event bus: %s\n", cv_strerror(err));
		goto out;
	}
	/* the call center: queue calls go to its glue (route hook) */
	err = cvoipd_cc_create(&s.cc, &s.conf, s.tp, s.bus, s.store);
	if (err) {
		free(su);
		goto out;
	}
	if (s.cc)
		cvoipd_cc_user(s.cc, &su[users->n]);
	struct cv_srv_params sp = {
		.bus = s.bus,
		.media_relay = s.conf.media_relay,
		.media_addr = media_addr[0] ? media_addr : NULL,
		.rtp_port_min = (uint16_t)s.conf.rtp_port_min,
		.rtp_port_max = (uint16_t)s.conf.rtp_port_max,
		.rt = s.rt,
		.tp = s.tp,
		.store = s.store,
		.realm = s.conf.realm,
		.user_agent = s.conf.user_agent,
		.reg_min_expires = (uint32_t)s.conf.reg_min_expires,
		.reg_max_expires = (uint32_t)s.conf.reg_max_expires,
		.reg_default_expires = (uint32_t)s.conf.reg_default_expires,
		.no_answer_ms = (uint32_t)s.conf.no_answer_ms,
		.auth_max_failures_source =
			(uint32_t)s.conf.auth_max_fail_source,
		.auth_max_failures_user = (uint32_t)s.conf.auth_max_fail_user,
		.auth_window_ms = (uint32_t)s.conf.auth_window_ms,
		.auth_block_ms = (uint32_t)s.conf.auth_block_ms,
		.users = su,
		.nusers = users->n + (s.cc ? 1 : 0),
		.route = s.cc ? cv_cc_glue_route : NULL,
		.route_arg = s.cc ? cvoipd_cc_route_arg(s.cc) : NULL,
		.digest_algs = s.conf.digest,
		.ndigest_algs = s.conf.ndigest,
		.trunks = trunks->trunks,
		.ntrunks = trunks->n,
		.routes = routes->routes,
		.nroutes = routes->n,
		.trunk_timeout_ms = (uint32_t)s.conf.trunk_timeout_ms,
		.route_opts = s.conf.route_opts,
		.nroute_opts = s.conf.route_opts ? s.conf.nroutes : 0,
		.trunk_opts = s.conf.trunk_opts,
		.ntrunk_opts = s.conf.trunk_opts ? s.conf.ntrunks : 0,
		.dids = s.conf.dids,
		.ndids = s.conf.ndids,
	};
	err = cv_srv_create(&s.srv, &sp);
	free(su);
	size_t nusers = users->n;
	users = cv_mem_unref(users);
	if (err) {
		fprintf(stderr, "cvoipd: server: %s\n", cv_strerror(err));
		goto out;
	}
	err = cv_srv_load_bindings(s.srv);
	if (err)
		CV_WARN(MOD, "could not reload bindings: %s", cv_strerror(err));
	CV_INFO(MOD, "%zu users in realm %s", nusers, s.conf.realm);
	if (s.cc && cvoipd_cc_start(s.cc, &s.conf, s.srv))
		goto out;
	err = cv_rt_start(s.rt);
	if (err) {
		fprintf(stderr, "cvoipd: start failed: %s\n", cv_strerror(err));
		goto out;
	}
	for (unsigned i = 0; i < cv_tp_listener_count(s.tp); i++) {
		struct cv_tp_spec ls = {0};
		char txt[128];
		cv_tp_listener_addr(s.tp, i, &ls.kind, &ls.addr);
		cv_tp_spec_print(&ls, txt, sizeof(txt));
		CV_INFO(MOD, "listening on %s", txt);
	}
	CV_INFO(MOD, "ready: version=%s workers=%u config=%s db=%s",
		cv_version(), cv_rt_workers(s.rt),
		o->config ? o->config : "(defaults)", s.conf.database);
	struct cv_bus_system sys = {.node = s.conf.user_agent,
				    .version = cv_version(),
				    .workers = cv_rt_workers(s.rt)};
	cv_bus_publish(s.bus, CV_BUS_SYSTEM_STARTED, &sys);
	err = cv_rt_wait(s.rt);
	sys.reason = "signal";
	cv_bus_publish(s.bus, CV_BUS_SYSTEM_STOPPING, &sys);
	rc = err ? 1 : 0;
	struct cv_srv_stats ss;
	cv_srv_stats_read(s.srv, &ss);
	CV_INFO(MOD,
		"server stats: registers_ok=%llu registers_challenged=%llu "
		"registers_rejected=%llu bindings=%llu calls_started=%llu "
		"calls_answered=%llu calls_failed=%llu auth_failures=%llu "
		"auth_blocks=%llu auth_limited=%llu",
		(unsigned long long)ss.registers_ok,
		(unsigned long long)ss.registers_challenged,
		(unsigned long long)ss.registers_rejected,
		(unsigned long long)ss.bindings,
		(unsigned long long)ss.calls_started,
		(unsigned long long)ss.calls_answered,
		(unsigned long long)ss.calls_failed,
		(unsigned long long)ss.auth_failures,
		(unsigned long long)ss.auth_blocks,
		(unsigned long long)ss.auth_limited);
	CV_INFO(MOD,
		"media relay stats: streams_open=%llu packets_forwarded=%llu",
		(unsigned long long)ss.relay_streams,
		(unsigned long long)ss.relay_forwarded);
	if (s.conf.ntrunks)
		CV_INFO(MOD,
			"trunk stats: registered=%llu calls=%llu "
			"failovers=%llu down=%llu pings_failed=%llu "
			"skipped=%llu",
			(unsigned long long)ss.trunks_registered,
			(unsigned long long)ss.trunk_calls,
			(unsigned long long)ss.trunk_failovers,
			(unsigned long long)ss.trunks_down,
			(unsigned long long)ss.trunk_pings_failed,
			(unsigned long long)ss.trunk_skipped);
out:
	cv_mem_unref(users);
	cv_mem_unref(trunks);
	cv_mem_unref(routes);
	cv_rt_destroy(s.rt);
	cvoipd_cc_destroy(s.cc); /* after the server: no route hook call left */
	evlog_stop(s.evlog);	 /* no worker publishes any more */
	cv_srv_destroy(s.srv);
	cv_tp_destroy(s.tp);
	cv_store_close(s.store);
	cv_bus_destroy(s.bus);
	cv_metrics_destroy(s.metrics);
	cvoipd_conf_free(&s.conf);
	if (rc == 0)
		CV_INFO(MOD, "stopped cleanly: live_objects=%lld",
			(long long)cv_mem_live());
	return rc;
}
