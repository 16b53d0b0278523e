/* base: YAML configuration with file:line errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sched.h>

#include "cvoip/config.h"

static const char *doc = "# demo\n"
			 "server:\n"
			 "  workers: 4\n"
			 "  name: \"cvoipd\"\n"
			 "  relay: yes\n"
			 "  timeout: 250ms\n"
			 "listen:\n"
			 "  - udp:127.0.0.1:5060\n"
			 "  - tcp:127.0.0.1:5060\n"
			 "strategy: longest-idle\n"
			 "empty:\n";

static void test_load_and_read(void **state)
{
	struct cv_cfg *cfg;
	struct cv_cfg_err err;
	assert_int_equal(
		cv_cfg_load_str(&cfg, "demo.yaml", doc, strlen(doc), &err), 0);
	const struct cv_cfg_node *root = cv_cfg_root(cfg);
	const struct cv_cfg_node *server = cv_cfg_get(root, "server");
	assert_non_null(server);
	assert_int_equal(server->line, 2);
	int64_t workers = 1;
	assert_int_equal(cv_cfg_int(cfg, cv_cfg_get(server, "workers"), 1, 64,
				    &workers, &err),
			 0);
	assert_int_equal(workers, 4);
	const char *name = NULL;
	assert_int_equal(
		cv_cfg_str(cfg, cv_cfg_get(server, "name"), &name, &err), 0);
	assert_string_equal(name, "cvoipd");
	bool relay = false;
	assert_int_equal(
		cv_cfg_bool(cfg, cv_cfg_get(server, "relay"), &relay, &err), 0);
	assert_true(relay);
	int64_t ms = 0;
	assert_int_equal(cv_cfg_duration_ms(cfg, cv_cfg_get(server, "timeout"),
					    0, 10000, &ms, &err),
			 0);
	assert_int_equal(ms, 250);
	const struct cv_cfg_node *listen = cv_cfg_get(root, "listen");
	assert_int_equal(listen->type, CV_CFG_SEQ);
	assert_int_equal(listen->nchild, 2);
	assert_string_equal(listen->child->next->value, "tcp:127.0.0.1:5060");
	static const char *const strategies[] = {"ring-all", "longest-idle",
						 NULL};
	int s = -1;
	assert_int_equal(cv_cfg_enum(cfg, cv_cfg_get(root, "strategy"),
				     strategies, &s, &err),
			 0);
	assert_int_equal(s, 1);
	assert_int_equal(cv_cfg_get(root, "empty")->type, CV_CFG_NULL);
	/* absent keys keep defaults */
	int64_t dflt = 7;
	assert_int_equal(cv_cfg_int(cfg, cv_cfg_get(root, "missing"), 0, 10,
				    &dflt, &err),
			 0);
	assert_int_equal(dflt, 7);

	/* errors name file and line */
	assert_int_equal(cv_cfg_int(cfg, cv_cfg_get(server, "workers"), 1, 2,
				    &workers, &err),
			 CV_ECONFIG);
	assert_string_equal(err.msg,
			    "demo.yaml:3: 'workers' must be between 1 and 2");
	assert_int_equal(cv_cfg_int(cfg, cv_cfg_get(server, "name"), 1, 2,
				    &workers, &err),
			 CV_ECONFIG);
	assert_string_equal(err.msg, "demo.yaml:4: 'name' must be an integer");
	static const char *const allowed[] = {"workers", "name", "relay", NULL};
	assert_int_equal(
		cv_cfg_check_keys(cfg, server, "server", allowed, &err),
		CV_ECONFIG);
	assert_string_equal(err.msg, "demo.yaml:6: unknown key 'timeout' in "
				     "server (expected: workers, name, relay)");
	assert_int_equal(cv_cfg_enum(cfg, cv_cfg_get(server, "name"),
				     strategies, &s, &err),
			 CV_ECONFIG);
	cv_cfg_free(cfg);
}

static void test_bad_documents(void **state)
{
	struct cv_cfg *cfg = NULL;
	struct cv_cfg_err err;
	const char *bad = "a: 1\nb: [1, 2\n";
	assert_int_equal(
		cv_cfg_load_str(&cfg, "bad.yaml", bad, strlen(bad), &err),
		CV_ECONFIG);
	assert_non_null(strstr(err.msg, "bad.yaml:"));
	const char *dup = "a: 1\na: 2\n";
	assert_int_equal(
		cv_cfg_load_str(&cfg, "dup.yaml", dup, strlen(dup), &err),
		CV_ECONFIG);
	assert_string_equal(err.msg, "dup.yaml:2: duplicate key 'a'");
	const char *alias = "a: &x 1\nb: *x\n";
	assert_int_equal(
		cv_cfg_load_str(&cfg, "alias.yaml", alias, strlen(alias), &err),
		CV_ECONFIG);
	assert_string_equal(err.msg,
			    "alias.yaml:2: YAML aliases are not supported");
	const char *list = "- a\n- b\n";
	assert_int_equal(
		cv_cfg_load_str(&cfg, "list.yaml", list, strlen(list), &err),
		CV_ECONFIG);
	assert_string_equal(err.msg,
			    "list.yaml:1: the top level must be a mapping");
	char deep[400];
	size_t o = 0;
	for (int i = 0; i < 100; i++)
		deep[o++] = '[';
	deep[o] = 0;
	assert_int_equal(cv_cfg_load_str(&cfg, "deep.yaml", deep, o, &err),
			 CV_ECONFIG);
	assert_non_null(strstr(err.msg, "nesting too deep"));
	assert_int_equal(cv_cfg_load(&cfg, "/nonexistent/cvoip.yaml", &err),
			 -ENOENT);
	assert_string_equal(
		err.msg, "/nonexistent/cvoip.yaml: No such file or directory");
	assert_int_equal(cv_cfg_load_str(&cfg, "empty.yaml", "", 0, &err), 0);
	assert_int_equal(cv_cfg_root(cfg)->type, CV_CFG_MAP);
	cv_cfg_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_and_read),
		cmocka_unit_test(test_bad_documents),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
