/* cvoipd: configuration -> modules on the worker runtime. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cvoip/runtime.h"
#include "cvoip/transport.h"

#include "server.h"

#define MOD "cvoipd"

struct server {
	struct cvoipd_conf conf;
	struct cv_tp_spec specs[CVOIPD_MAX_LISTEN];
	unsigned nspecs;
	struct cv_rt *rt;
	struct cv_tp *tp;
};

static void on_recv(struct cv_worker *w, const struct cv_tp_rx *rx, void *arg)
{
	struct server *s = arg;
	cv_tp_stateless_reply(s->tp, w, rx, NULL);
}

static const struct cv_tp_handler tp_handler = {
	.recv = on_recv,
};

static void worker_start(struct cv_worker *w, void *arg)
{
	struct server *s = arg;
	int err = cv_tp_worker_start(s->tp, w);
	if (err) {
		CV_ERROR(MOD, "worker %u: transport start failed: %s",
			 cv_worker_index(w), cv_strerror(err));
		cv_rt_fail(cv_worker_rt(w), err);
	}
}

static void worker_stop(struct cv_worker *w, void *arg)
{
	struct server *s = arg;
	cv_tp_worker_stop(s->tp, w);
}

static int parse_specs(struct server *s, const char *const *list, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		int err = cv_tp_spec_parse(list[i], &s->specs[i]);
		if (err) {
			fprintf(stderr, "cvoipd: bad listen spec '%s' (expected e.g. udp:127.0.0.1:5060)\n",
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
		fprintf(stderr, "cvoipd: cannot create database folder %s: %s\n",
			dir, strerror(errno));
		return -errno;
	}
	if (access(dir, W_OK | X_OK) != 0) {
		fprintf(stderr, "cvoipd: database folder %s is not writable: %s\n",
			dir, strerror(errno));
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

int cvoipd_user_cmd(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "cvoipd user: not built yet (needs the store module)\n");
	return 1;
}

int cvoipd_serve(const struct cvoipd_opts *o)
{
	static const char *const default_listen[] = {"udp:127.0.0.1:5060",
						     "tcp:127.0.0.1:5060"};
	struct server s = {0};
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
		err = parse_specs(&s, default_listen, CV_ARRAY_SIZE(default_listen));
	if (err || check_db_path(s.conf.database))
		goto out;

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
				   .h = &tp_handler,
				   .arg = &s};
	err = cv_tp_create(&s.tp, s.rt, &tpp);
	if (err) {
		fprintf(stderr, "cvoipd: cannot open listeners: %s\n",
			cv_strerror(err));
		goto out;
	}
	err = cv_rt_start(s.rt);
	if (err) {
		fprintf(stderr, "cvoipd: start failed: %s\n", cv_strerror(err));
		goto out;
	}
	for (unsigned i = 0; i < cv_tp_listener_count(s.tp); i++) {
		struct cv_tp_spec sp = {0};
		char txt[128];
		cv_tp_listener_addr(s.tp, i, &sp.kind, &sp.addr);
		cv_tp_spec_print(&sp, txt, sizeof(txt));
		CV_INFO(MOD, "listening on %s", txt);
	}
	CV_INFO(MOD, "ready: version=%s workers=%u config=%s db=%s",
		cv_version(), cv_rt_workers(s.rt),
		o->config ? o->config : "(defaults)", s.conf.database);
	err = cv_rt_wait(s.rt);
	rc = err ? 1 : 0;
out:
	cv_tp_destroy(s.tp);
	cv_rt_destroy(s.rt);
	cvoipd_conf_free(&s.conf);
	if (rc == 0)
		CV_INFO(MOD, "stopped cleanly: live_objects=%lld",
			(long long)cv_mem_live());
	return rc;
}
