/* Store tests: every operation, async completion, failure behaviour,
 * migrations and durability. Without arguments the suite runs on SQLite
 * (in memory, then in a file); with a URL argument (the PostgreSQL wrapper
 * script passes one) it runs against that database. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "cvoip/store.h"

static const char *g_url; /* database under test */
static char g_dir[256];	  /* temp folder (SQLite files) */
static int g_file_seq;
static char g_file_url[512];
static int64_t g_live;

static bool is_pg(void)
{
	return strncmp(g_url, "postgres", 8) == 0;
}

/* A fresh database for each test: a new SQLite file or memory database,
 * or an emptied PostgreSQL schema (migrations then run from scratch). */
static const char *fresh_url(void)
{
	if (is_pg()) {
		PGconn *c = PQconnectdb(g_url);
		assert_int_equal(PQstatus(c), CONNECTION_OK);
		PGresult *r = PQexec(c, "SET client_min_messages = warning;"
					"DROP SCHEMA public CASCADE;"
					"CREATE SCHEMA public");
		assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
		PQclear(r);
		PQfinish(c);
		return g_url;
	}
	if (strcmp(g_url, "sqlite::memory:") == 0)
		return g_url;
	snprintf(g_file_url, sizeof(g_file_url), "sqlite:%s/t%d.db", g_dir,
		 ++g_file_seq);
	return g_file_url;
}

static struct cv_store *open_store(const char *url)
{
	struct cv_store *s = NULL;
	struct cv_store_params p = {.url = url, .reconnect_ms = 50};
	assert_int_equal(cv_store_open(&s, &p), 0);
	return s;
}

static int setup(void **state)
{
	g_live = cv_mem_live();
	*state = open_store(fresh_url());
	return 0;
}

static int teardown(void **state)
{
	cv_store_close(*state);
	assert_int_equal(cv_mem_live(), g_live);
	return 0;
}

#define RES(x) CV_STORE_SYNC(&(x))

/* ---- users ----------------------------------------------------------------
 */
static void test_ha1(void **state)
{
	(void)state;
	char hex[CV_STORE_HA1_HEX_MAX];
	/* RFC 2617 §3.5 example */
	assert_int_equal(cv_store_ha1(CV_STORE_ALG_MD5, "Mufasa",
				      "testrealm@host.com", "Circle Of Life",
				      hex),
			 0);
	assert_string_equal(hex, "939e7578ed9e3c518a452acee763bce9");
	/* cross-checked with `openssl dgst -sha256 / -sha512-256` */
	assert_int_equal(cv_store_ha1(CV_STORE_ALG_SHA256, "Mufasa",
				      "testrealm@host.com", "Circle Of Life",
				      hex),
			 0);
	assert_string_equal(hex, "3ba6cd94661c5ef34598040c868f13b8775df29109"
				 "986be50ad35ae537dd3aa4");
	assert_int_equal(cv_store_ha1(CV_STORE_ALG_SHA512_256, "Mufasa",
				      "testrealm@host.com", "Circle Of Life",
				      hex),
			 0);
	assert_string_equal(hex, "4f89a1c293dd533bc27546c1da0608df9efcaa6bd1"
				 "c350edca70a01c8a823360");
	assert_int_equal(cv_store_ha1(CV_STORE_ALG_COUNT, "a", "b", "c", hex),
			 -EINVAL);
	assert_string_equal(cv_store_alg_name(CV_STORE_ALG_SHA512_256),
			    "SHA-512-256");
}

static void test_users(void **state)
{
	struct cv_store *s = *state;
	struct cv_store_res *res = NULL;
	assert_int_equal(cv_store_user_add(s, "alice", "cvoip", "alice-secret",
					   CV_STORE_SYNC(NULL)),
			 0);
	assert_int_equal(cv_store_user_add(s, "bob", "cvoip", "bob-secret",
					   CV_STORE_SYNC(NULL)),
			 0);
	assert_int_equal(
		cv_store_user_add(s, "bob", "other", "x", CV_STORE_SYNC(NULL)),
		0);
	assert_int_equal(cv_store_user_get(s, "alice", "cvoip", RES(res)), 0);
	assert_int_equal(res->kind, CV_STORE_RES_USERS);
	assert_int_equal(res->n, 1);
	assert_string_equal(res->users[0].name, "alice");
	assert_string_equal(res->users[0].ha1[CV_STORE_ALG_MD5],
			    "9cff265ac08df48b4fc19d8abf658df0");
	assert_string_equal(res->users[0].ha1[CV_STORE_ALG_SHA256],
			    "92e32c966d967524274ad7177623ee172a6369eaa0d2c3c8"
			    "ca7028d3b2ae3f3f");
	assert_string_equal(res->users[0].ha1[CV_STORE_ALG_SHA512_256],
			    "343d961f518536ec57f8e97b634a9d6ab9b6d05342682514"
			    "5fa184d6233ac2e4");
	assert_true(res->users[0].created_us > 0);
	res = cv_mem_unref(res);

	/* a new password replaces the hashes */
	assert_int_equal(cv_store_user_add(s, "alice", "cvoip", "new",
					   CV_STORE_SYNC(NULL)),
			 0);
	assert_int_equal(cv_store_user_get(s, "alice", "cvoip", RES(res)), 0);
	char hex[CV_STORE_HA1_HEX_MAX];
	cv_store_ha1(CV_STORE_ALG_MD5, "alice", "cvoip", "new", hex);
	assert_string_equal(res->users[0].ha1[0], hex);
	res = cv_mem_unref(res);

	assert_int_equal(cv_store_user_list(s, NULL, RES(res)), 0);
	assert_int_equal(res->n, 3);
	assert_string_equal(res->users[0].realm, "cvoip");
	res = cv_mem_unref(res);
	struct cv_store_query q = {.key = "other"};
	assert_int_equal(cv_store_user_list(s, &q, RES(res)), 0);
	assert_int_equal(res->n, 1);
	assert_string_equal(res->users[0].name, "bob");
	res = cv_mem_unref(res);
	q = (struct cv_store_query){.limit = 1, .offset = 1};
	assert_int_equal(cv_store_user_list(s, &q, RES(res)), 0);
	assert_int_equal(res->n, 1);
	assert_string_equal(res->users[0].name, "bob");
	assert_string_equal(res->users[0].realm, "cvoip");
	res = cv_mem_unref(res);

	assert_int_equal(cv_store_user_del(s, "bob", "cvoip", RES(res)), 0);
	assert_int_equal(res->changes, 1);
	res = cv_mem_unref(res);
	assert_int_equal(cv_store_user_del(s, "bob", "cvoip", RES(res)),
			 CV_ENOTFOUND);
	assert_null(res);
	assert_int_equal(cv_store_user_get(s, "bob", "cvoip", RES(res)),
			 CV_ENOTFOUND);
	assert_null(res);
}

static void test_bad_input(void **state)
{
	struct cv_store *s = *state;
	char big[CV_STORE_TEXT_MAX + 2];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(cv_store_user_add(s, "", "r", "p", NULL), -EINVAL);
	assert_int_equal(cv_store_user_add(s, NULL, "r", "p", NULL), -EINVAL);
	assert_int_equal(cv_store_user_add(s, "a", "r", NULL, NULL), -EINVAL);
	assert_int_equal(cv_store_user_add(s, big, "r", "p", NULL), CV_ETOOBIG);
	struct cv_store_binding b = {.aor = "sip:a@x", .contact = big};
	assert_int_equal(cv_store_binding_upsert(s, &b, NULL), CV_ETOOBIG);
	b.contact = "sip:a@1.2.3.4";
	b.q = 1001;
	assert_int_equal(cv_store_binding_upsert(s, &b, NULL), -EINVAL);
	struct cv_store_query q = {.limit = CV_STORE_LIMIT_MAX + 1};
	assert_int_equal(cv_store_user_list(s, &q, NULL), -EINVAL);
	struct cv_store_cdr_leg legs[CV_STORE_LEGS_MAX + 1];
	memset(legs, 0, sizeof(legs));
	struct cv_store_cdr c = {.nlegs = CV_STORE_LEGS_MAX + 1, .legs = legs};
	assert_int_equal(cv_store_cdr_insert(s, &c, NULL), CV_ETOOBIG);
	c.nlegs = 2; /* duplicate leg index 0 */
	assert_int_equal(cv_store_cdr_insert(s, &c, NULL), -EINVAL);
	struct cv_store_skill sk[] = {{"english", 11}};
	struct cv_store_agent a = {
		.name = "a1", .max_calls = 1, .nskills = 1, .skills = sk};
	assert_int_equal(cv_store_agent_upsert(s, &a, NULL), -EINVAL);
	sk[0].level = 0;
	assert_int_equal(cv_store_agent_upsert(s, &a, NULL), -EINVAL);
	struct cv_store_queue qu = {
		.name = "q", .strategy = "random", .params = "{not json"};
	assert_int_equal(cv_store_queue_upsert(s, &qu, NULL), -EINVAL);
	qu.params = "[1,2]";
	assert_int_equal(cv_store_queue_upsert(s, &qu, NULL), -EINVAL);
	struct cv_store_route r = {.name = "r", .trunk = "t", .media = "magic"};
	assert_int_equal(cv_store_route_upsert(s, &r, NULL), -EINVAL);
	assert_int_equal(cv_store_agent_set_state(s, "a", 99, NULL, 0, NULL),
			 -EINVAL);
	struct cv_store_stat st = {.scope = "queue", .name = "q", .data = "1"};
	assert_int_equal(cv_store_stat_put(s, &st, NULL), -EINVAL);
	/* SQL text in values is data, nothing else */
	assert_int_equal(cv_store_user_add(s, "x'); DROP TABLE users; --", "r",
					   "p", CV_STORE_SYNC(NULL)),
			 0);
	struct cv_store_res *res = NULL;
	assert_int_equal(cv_store_user_list(s, NULL, RES(res)), 0);
	assert_int_equal(res->n, 1);
	assert_string_equal(res->users[0].name, "x'); DROP TABLE users; --");
	cv_mem_unref(res);
}

/* ---- bindings --------------------------------------------------------------
 */
static void test_bindings(void **state)
{
	struct cv_store *s = *state;
	struct cv_store_res *res = NULL;
	int64_t now = (int64_t)cv_clock_wall_us();
	struct cv_store_binding b = {.aor = "sip:alice@cvoip",
				     .contact = "sip:alice@10.0.0.1:5060",
				     .path = "<sip:edge1;lr>",
				     .received = "10.0.0.1:5060",
				     .transport = "udp",
				     .expires_us = now + 3600000000,
				     .q = 500,
				     .call_id = "c1",
				     .cseq = 1,
				     .user_agent = "baresip"};
	assert_int_equal(cv_store_binding_upsert(s, &b, CV_STORE_SYNC(NULL)),
			 0);
	b.contact = "sip:alice@10.0.0.2:5060";
	b.q = 1000;
	b.instance_id = "<urn:uuid:00000000-0000-1000-8000-000A95A0E128>";
	b.reg_id = 1;
	assert_int_equal(cv_store_binding_upsert(s, &b, CV_STORE_SYNC(NULL)),
			 0);
	struct cv_store_binding old = b;
	old.contact = "sip:alice@10.0.0.3:5060";
	old.instance_id = "";
	old.reg_id = 0;
	old.expires_us = now - 1; /* expired */
	assert_int_equal(cv_store_binding_upsert(s, &old, CV_STORE_SYNC(NULL)),
			 0);
	b.aor = "sip:bob@cvoip";
	b.contact = "sip:bob@10.0.0.9";
	b.instance_id = "";
	assert_int_equal(cv_store_binding_upsert(s, &b, CV_STORE_SYNC(NULL)),
			 0);

	assert_int_equal(
		cv_store_binding_list_aor(s, "sip:alice@cvoip", RES(res)), 0);
	assert_int_equal(res->kind, CV_STORE_RES_BINDINGS);
	assert_int_equal(res->n, 2); /* the expired one is not live */
	assert_string_equal(res->bindings[0].contact,
			    "sip:alice@10.0.0.2:5060");
	assert_int_equal(res->bindings[0].q, 1000);
	assert_int_equal(res->bindings[0].reg_id, 1);
	assert_string_equal(res->bindings[0].instance_id,
			    "<urn:uuid:00000000-0000-1000-8000-000A95A0E128>");
	assert_string_equal(res->bindings[1].path, "<sip:edge1;lr>");
	assert_string_equal(res->bindings[1].received, "10.0.0.1:5060");
	assert_string_equal(res->bindings[1].transport, "udp");
	assert_string_equal(res->bindings[1].user_agent, "baresip");
	assert_int_equal(res->bindings[1].expires_us, now + 3600000000);
	assert_true(res->bindings[1].updated_us > 0);
	res = cv_mem_unref(res);

	/* refresh: same contact, new CSeq and expiry */
	b = (struct cv_store_binding){.aor = "sip:alice@cvoip",
				      .contact = "sip:alice@10.0.0.1:5060",
				      .expires_us = now + 7200000000,
				      .q = 500,
				      .call_id = "c1",
				      .cseq = 2};
	assert_int_equal(cv_store_binding_upsert(s, &b, CV_STORE_SYNC(NULL)),
			 0);
	/* RFC 5626: same instance + reg-id from a new Contact replaces */
	b = (struct cv_store_binding){
		.aor = "sip:alice@cvoip",
		.contact = "sip:alice@10.0.0.7:5060",
		.instance_id =
			"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>",
		.reg_id = 1,
		.expires_us = now + 60000000,
		.q = 100};
	assert_int_equal(cv_store_binding_upsert(s, &b, RES(res)), 0);
	assert_int_equal(res->changes, 2); /* one replaced, one written */
	res = cv_mem_unref(res);
	assert_int_equal(
		cv_store_binding_list_aor(s, "sip:alice@cvoip", RES(res)), 0);
	assert_int_equal(res->n, 2);
	assert_string_equal(res->bindings[0].contact,
			    "sip:alice@10.0.0.1:5060");
	assert_int_equal(res->bindings[0].cseq, 2);
	assert_string_equal(res->bindings[0].path, "");
	assert_string_equal(res->bindings[1].contact,
			    "sip:alice@10.0.0.7:5060");
	res = cv_mem_unref(res);

	/* list all, paged, including the expired one */
	struct cv_store_query q = {.limit = 2};
	assert_int_equal(cv_store_binding_list(s, &q, RES(res)), 0);
	assert_int_equal(res->n, 2);
	res = cv_mem_unref(res);
	q.offset = 2;
	assert_int_equal(cv_store_binding_list(s, &q, RES(res)), 0);
	assert_int_equal(res->n, 2);
	assert_string_equal(res->bindings[1].aor, "sip:bob@cvoip");
	res = cv_mem_unref(res);
	q = (struct cv_store_query){.since_us = now};
	assert_int_equal(cv_store_binding_list(s, &q, RES(res)), 0);
	assert_int_equal(res->n, 3);
	res = cv_mem_unref(res);

	assert_int_equal(cv_store_binding_purge(s, now, RES(res)), 0);
	assert_int_equal(res->changes, 1);
	res = cv_mem_unref(res);
	assert_int_equal(cv_store_binding_del(s, "sip:alice@cvoip",
					      "sip:alice@10.0.0.7:5060",
					      RES(res)),
			 0);
	assert_int_equal(res->changes, 1);
	res = cv_mem_unref(res);
	assert_int_equal(cv_store_binding_del(s, "sip:alice@cvoip",
					      "sip:alice@10.0.0.7:5060", NULL),
			 0);
	/* "*": every binding of the AOR */
	assert_int_equal(
		cv_store_binding_del(s, "sip:alice@cvoip", NULL, RES(res)), 0);
	assert_int_equal(res->changes, 1);
	res = cv_mem_unref(res);
	assert_int_equal(
		cv_store_binding_del(s, "sip:alice@cvoip", NULL, RES(res)),
		CV_ENOTFOUND);
	assert_int_equal(cv_store_binding_list(s, NULL, RES(res)), 0);
	assert_int_equal(res->n, 1);
	cv_mem_unref(res);
}

/* ---- CDRs ------------------------------------------------------------------
 */
static const struct cv_store_cdr_leg test_legs[] = {
	{.index = 0,
	 .call_id = "in-1",
	 .peer = "sip:alice@cvoip",
	 .codec = "opus/48000/2",
	 .pkts_sent = 1500,
	 .pkts_recv = 1498,
	 .pkts_lost = 2,
	 .jitter_ms = 3.25,
	 .mos = 4.38},
	{.index = 1,
	 .call_id = "out-1",
	 .peer = "sip:bob@cvoip",
	 .codec = "PCMU/8000",
	 .pkts_sent = 1499,
	 .pkts_recv = 1500,
	 .pkts_lost = 0,
	 .jitter_ms = 1.5,
	 .mos = 4.2},
};

static void test_cdrs(void **state)
{
	struct cv_store *s = *state;
	struct cv_store_res *res = NULL;
	struct cv_store_cdr c = {.id = "cdr-1",
				 .call_id = "in-1",
				 .caller = "sip:alice@cvoip",
				 .callee = "sip:bob@cvoip",
				 .start_us = 1000000,
				 .answer_us = 2000000,
				 .end_us = 9000000,
				 .end_reason = "BYE",
				 .hangup_by = "caller",
				 .nlegs = 2,
				 .legs = test_legs};
	assert_int_equal(cv_store_cdr_insert(s, &c, RES(res)), 0);
	assert_int_equal(res->changes, 1);
	res = cv_mem_unref(res);
	/* same id again: idempotent */
	assert_int_equal(cv_store_cdr_insert(s, &c, RES(res)), 0);
	assert_int_equal(res->changes, 0);
	res = cv_mem_unref(res);
	struct cv_store_cdr c2 = {.call_id = "in-2",
				  .caller = "=cmd|' /C calc'!A0",
				  .callee = "sip:carol@cvoip",
				  .start_us = 5000000,
				  .end_us = 6000000,
				  .end_reason = "486 Busy Here",
				  .hangup_by = "callee"};
	assert_int_equal(cv_store_cdr_insert(s, &c2, CV_STORE_SYNC(NULL)), 0);

	assert_int_equal(cv_store_cdr_list(s, NULL, RES(res)), 0);
	assert_int_equal(res->kind, CV_STORE_RES_CDRS);
	assert_int_equal(res->n, 2);
	const struct cv_store_cdr *d = &res->cdrs[0];
	assert_string_equal(d->id, "cdr-1");
	assert_string_equal(d->callee, "sip:bob@cvoip");
	assert_int_equal(d->answer_us, 2000000);
	assert_string_equal(d->end_reason, "BYE");
	assert_string_equal(d->hangup_by, "caller");
	assert_int_equal(d->nlegs, 2);
	assert_int_equal(d->legs[1].index, 1);
	assert_string_equal(d->legs[1].codec, "PCMU/8000");
	assert_int_equal(d->legs[0].pkts_lost, 2);
	assert_int_equal(d->legs[0].pkts_recv, 1498);
	assert_true(d->legs[0].jitter_ms > 3.24 && d->legs[0].jitter_ms < 3.26);
	assert_true(d->legs[0].mos > 4.37 && d->legs[0].mos < 4.39);
	assert_int_equal(strlen(res->cdrs[1].id), 32); /* made by the store */
	assert_int_equal(res->cdrs[1].nlegs, 0);
	assert_int_equal(res->cdrs[1].answer_us, 0);
	res = cv_mem_unref(res);

	struct cv_store_query q = {.since_us = 4000000};
	assert_int_equal(cv_store_cdr_list(s, &q, RES(res)), 0);
	assert_int_equal(res->n, 1);
	assert_string_equal(res->cdrs[0].call_id, "in-2");
	res = cv_mem_unref(res);
	q = (struct cv_store_query){.until_us = 5000000};
	assert_int_equal(cv_store_cdr_list(s, &q, RES(res)), 0);
	assert_int_equal(res->n, 1);
	assert_int_equal(res->cdrs[0].nlegs, 2);
	res = cv_mem_unref(res);
	q = (struct cv_store_query){.key = "in-2"};
	assert_int_equal(cv_store_cdr_list(s, &q, RES(res)), 0);
	assert_int_equal(res->n, 1);
	res = cv_mem_unref(res);
	q = (struct cv_store_query){.limit = 1, .offset = 1};
	assert_int_equal(cv_store_cdr_list(s, &q, RES(res)), 0);
	assert_int_equal(res->n, 1);
	assert_string_equal(res->cdrs[0].call_id, "in-2");
	cv_mem_unref(res);

	/* CSV */
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	assert_int_equal(cv_store_cdr_export_csv(s, f, NULL), 0);
	fclose(f);
	char *second = strstr(buf, "\r\n") + 2;
	assert_memory_equal(buf, "id,call_id,caller,callee,start_us,", 34);
	assert_memory_equal(
		second,
		"cdr-1,in-1,sip:alice@cvoip,sip:bob@cvoip,1000000,"
		"2000000,9000000,BYE,caller,0,in-1,sip:alice@cvoip,"
		"opus/48000/2,1500,1498,2,3.250,4.38\r\n",
		strlen("cdr-1,in-1,sip:alice@cvoip,sip:bob@cvoip,1000000,"
		       "2000000,9000000,BYE,caller,0,in-1,sip:alice@cvoip,"
		       "opus/48000/2,1500,1498,2,3.250,4.38\r\n"));
	assert_non_null(strstr(buf,
			       ",1,out-1,sip:bob@cvoip,PCMU/8000,1499,1500,0,"
			       "1.500,4.20\r\n"));
	/* formula neutralised; the text with a quote is quoted */
	assert_non_null(strstr(buf, ",in-2,\"'=cmd|' /C calc'!A0\","
				    "sip:carol@cvoip,5000000,0,6000000,"
				    "486 Busy Here,callee,,,,,,,,,\r\n"));
	int lines = 0;
	for (char *p = buf; (p = strstr(p, "\r\n")); p += 2)
		lines++;
	assert_int_equal(lines, 4);
	free(buf);
}

/* ---- trunks / routes --------------------------------------------------------
 */
static void test_trunks_routes(void **state)
{
	struct cv_store *s = *state;
	struct cv_store_res *res = NULL;
	struct cv_store_trunk t = {.name = "carrier1",
				   .host = "sip.carrier.example",
				   .port = 5060,
				   .transport = "udp",
				   .username = "acct",
				   .password = "pw",
				   .realm = "carrier",
				   .do_register = true,
				   .expires_s = 600};
	assert_int_equal(cv_store_trunk_upsert(s, &t, CV_STORE_SYNC(NULL)), 0);
	t.name = "backup";
	t.do_register = false;
	t.port = 0;
	assert_int_equal(cv_store_trunk_upsert(s, &t, CV_STORE_SYNC(NULL)), 0);
	t.name = "carrier1";
	t.port = 5080;
	t.do_register = true;
	assert_int_equal(cv_store_trunk_upsert(s, &t, CV_STORE_SYNC(NULL)), 0);
	assert_int_equal(cv_store_trunk_list(s, RES(res)), 0);
	assert_int_equal(res->kind, CV_STORE_RES_TRUNKS);
	assert_int_equal(res->n, 2);
	assert_string_equal(res->trunks[0].name, "backup");
	assert_false(res->trunks[0].do_register);
	assert_int_equal(res->trunks[1].port, 5080);
	assert_true(res->trunks[1].do_register);
	assert_string_equal(res->trunks[1].password, "pw");
	assert_int_equal(res->trunks[1].expires_s, 600);
	res = cv_mem_unref(res);

	struct cv_store_route r = {.name = "intl",
				   .prefix = "00",
				   .trunk = "carrier1",
				   .priority = 10};
	assert_int_equal(cv_store_route_upsert(s, &r, CV_STORE_SYNC(NULL)), 0);
	r = (struct cv_store_route){.name = "intl-failover",
				    .prefix = "00",
				    .trunk = "backup",
				    .priority = 20,
				    .media = "direct"};
	assert_int_equal(cv_store_route_upsert(s, &r, CV_STORE_SYNC(NULL)), 0);
	r = (struct cv_store_route){.name = "mobile",
				    .pattern = "^\\+?316[0-9]{8}$",
				    .trunk = "carrier1",
				    .priority = 5};
	assert_int_equal(cv_store_route_upsert(s, &r, CV_STORE_SYNC(NULL)), 0);
	assert_int_equal(cv_store_route_list(s, RES(res)), 0);
	assert_int_equal(res->n, 3);
	assert_string_equal(res->routes[0].name, "mobile");
	assert_string_equal(res->routes[0].pattern, "^\\+?316[0-9]{8}$");
	assert_string_equal(res->routes[0].media, "relay");
	assert_string_equal(res->routes[2].media, "direct");
	assert_string_equal(res->routes[2].trunk, "backup");
	res = cv_mem_unref(res);
	assert_int_equal(cv_store_route_del(s, "mobile", CV_STORE_SYNC(NULL)),
			 0);
	assert_int_equal(cv_store_route_del(s, "mobile", CV_STORE_SYNC(NULL)),
			 CV_ENOTFOUND);
	assert_int_equal(cv_store_trunk_del(s, "backup", CV_STORE_SYNC(NULL)),
			 0);
	assert_int_equal(cv_store_trunk_list(s, RES(res)), 0);
	assert_int_equal(res->n, 1);
	res = cv_mem_unref(res);
	assert_int_equal(cv_store_route_list(s, RES(res)), 0);
	assert_int_equal(res->n, 2);
	cv_mem_unref(res);
}

/* ---- call center ----------------------------------------------------------
 */
static void test_agents(void **state)
{
	struct cv_store *s = *state;
	struct cv_store_res *res = NULL;
	struct cv_store_skill sk1[] = {{"english", 8}, {"billing", 3}};
	struct cv_store_agent a = {.name = "agent1",
				   .max_calls = 1,
				   .wrapup_s = 10,
				   .nskills = 2,
				   .skills = sk1};
	assert_int_equal(cv_store_agent_upsert(s, &a, CV_STORE_SYNC(NULL)), 0);
	struct cv_store_skill sk2[] = {{"english", 5}};
	a = (struct cv_store_agent){.name = "agent2",
				    .max_calls = 2,
				    .wrapup_s = 0,
				    .nskills = 1,
				    .skills = sk2};
	assert_int_equal(cv_store_agent_upsert(s, &a, CV_STORE_SYNC(NULL)), 0);
	a = (struct cv_store_agent){.name = "agent3", .max_calls = 1};
	assert_int_equal(cv_store_agent_upsert(s, &a, CV_STORE_SYNC(NULL)), 0);

	assert_int_equal(cv_store_agent_get(s, "agent1", RES(res)), 0);
	assert_int_equal(res->kind, CV_STORE_RES_AGENTS);
	assert_int_equal(res->n, 1);
	assert_int_equal(res->agents[0].state, CV_STORE_AGENT_LOGGED_OUT);
	assert_int_equal(res->agents[0].wrapup_s, 10);
	assert_int_equal(res->agents[0].nskills, 2);
	assert_string_equal(res->agents[0].skills[0].name, "billing");
	assert_int_equal(res->agents[0].skills[0].level, 3);
	assert_string_equal(res->agents[0].skills[1].name, "english");
	assert_int_equal(res->agents[0].skills[1].level, 8);
	res = cv_mem_unref(res);

	assert_int_equal(
		cv_store_agent_set_state(s, "agent1", CV_STORE_AGENT_PAUSED,
					 "lunch", 123456, CV_STORE_SYNC(NULL)),
		0);
	assert_int_equal(cv_store_agent_set_state(s, "nobody",
						  CV_STORE_AGENT_PAUSED, "", 0,
						  CV_STORE_SYNC(NULL)),
			 CV_ENOTFOUND);
	/* a profile update replaces skills and keeps the state */
	struct cv_store_skill sk3[] = {{"spanish", 10}};
	a = (struct cv_store_agent){.name = "agent1",
				    .max_calls = 3,
				    .wrapup_s = 20,
				    .nskills = 1,
				    .skills = sk3};
	assert_int_equal(cv_store_agent_upsert(s, &a, CV_STORE_SYNC(NULL)), 0);
	assert_int_equal(cv_store_agent_list(s, RES(res)), 0);
	assert_int_equal(res->n, 3);
	const struct cv_store_agent *g = &res->agents[0];
	assert_string_equal(g->name, "agent1");
	assert_int_equal(g->state, CV_STORE_AGENT_PAUSED);
	assert_string_equal(g->reason, "lunch");
	assert_int_equal(g->since_us, 123456);
	assert_int_equal(g->max_calls, 3);
	assert_int_equal(g->nskills, 1);
	assert_string_equal(g->skills[0].name, "spanish");
	assert_int_equal(res->agents[1].nskills, 1);
	assert_string_equal(res->agents[1].skills[0].name, "english");
	assert_int_equal(res->agents[2].nskills, 0);
	assert_null(res->agents[2].skills);
	assert_string_equal(cv_store_agent_state_name(g->state), "paused");
	res = cv_mem_unref(res);

	assert_int_equal(cv_store_agent_del(s, "agent2", CV_STORE_SYNC(NULL)),
			 0);
	assert_int_equal(cv_store_agent_get(s, "agent2", CV_STORE_SYNC(NULL)),
			 CV_ENOTFOUND);
	assert_int_equal(cv_store_agent_del(s, "agent2", CV_STORE_SYNC(NULL)),
			 CV_ENOTFOUND);
	/* its skills went with it: a new agent2 starts without any */
	a = (struct cv_store_agent){.name = "agent2", .max_calls = 1};
	assert_int_equal(cv_store_agent_upsert(s, &a, CV_STORE_SYNC(NULL)), 0);
	assert_int_equal(cv_store_agent_get(s, "agent2", RES(res)), 0);
	assert_int_equal(res->agents[0].nskills, 0);
	cv_mem_unref(res);
}

static void test_queues_qcalls_stats(void **state)
{
	struct cv_store *s = *state;
	struct cv_store_res *res = NULL;
	struct cv_store_queue q = {.name = "support",
				   .strategy = "skills-based",
				   .params = "{\"skills\":{\"english\":5},"
					     "\"max_wait_s\":120}"};
	assert_int_equal(cv_store_queue_upsert(s, &q, CV_STORE_SYNC(NULL)), 0);
	q = (struct cv_store_queue){.name = "sales",
				    .strategy = "longest-idle"};
	assert_int_equal(cv_store_queue_upsert(s, &q, CV_STORE_SYNC(NULL)), 0);
	assert_int_equal(cv_store_queue_get(s, "support", RES(res)), 0);
	assert_int_equal(res->kind, CV_STORE_RES_QUEUES);
	assert_string_equal(res->queues[0].strategy, "skills-based");
	assert_string_equal(res->queues[0].params,
			    "{\"skills\":{\"english\":5},\"max_wait_s\":120}");
	res = cv_mem_unref(res);
	q.strategy = "round-robin";
	assert_int_equal(cv_store_queue_upsert(s, &q, CV_STORE_SYNC(NULL)), 0);
	assert_int_equal(cv_store_queue_list(s, RES(res)), 0);
	assert_int_equal(res->n, 2);
	assert_string_equal(res->queues[0].name, "sales");
	assert_string_equal(res->queues[0].strategy, "round-robin");
	assert_string_equal(res->queues[0].params, "");
	res = cv_mem_unref(res);
	assert_int_equal(cv_store_queue_del(s, "sales", CV_STORE_SYNC(NULL)),
			 0);
	assert_int_equal(cv_store_queue_get(s, "sales", CV_STORE_SYNC(NULL)),
			 CV_ENOTFOUND);

	struct cv_store_qcall c = {.id = "qc1",
				   .queue = "support",
				   .call_id = "call-1",
				   .caller = "sip:alice@cvoip",
				   .priority = 1,
				   .arrival_us = 100,
				   .answer_us = 200,
				   .end_us = 900,
				   .outcome = CV_STORE_OUTCOME_ANSWERED,
				   .agent = "agent1",
				   .wait_us = 100,
				   .handle_us = 700};
	assert_int_equal(cv_store_qcall_insert(s, &c, RES(res)), 0);
	assert_int_equal(res->changes, 1);
	res = cv_mem_unref(res);
	assert_int_equal(cv_store_qcall_insert(s, &c, RES(res)), 0);
	assert_int_equal(res->changes, 0);
	res = cv_mem_unref(res);
	c = (struct cv_store_qcall){.queue = "support",
				    .call_id = "call-2",
				    .arrival_us = 300,
				    .end_us = 5000,
				    .outcome = CV_STORE_OUTCOME_OVERFLOWED,
				    .wait_us = 4700,
				    .overflow_target = "sales"};
	assert_int_equal(cv_store_qcall_insert(s, &c, CV_STORE_SYNC(NULL)), 0);
	c = (struct cv_store_qcall){.queue = "sales",
				    .call_id = "call-3",
				    .arrival_us = 400,
				    .end_us = 450,
				    .outcome = CV_STORE_OUTCOME_ABANDONED,
				    .wait_us = 50};
	assert_int_equal(cv_store_qcall_insert(s, &c, CV_STORE_SYNC(NULL)), 0);
	struct cv_store_query f = {.key = "support"};
	assert_int_equal(cv_store_qcall_list(s, &f, RES(res)), 0);
	assert_int_equal(res->kind, CV_STORE_RES_QCALLS);
	assert_int_equal(res->n, 2);
	assert_string_equal(res->qcalls[0].agent, "agent1");
	assert_int_equal(res->qcalls[0].handle_us, 700);
	assert_int_equal(res->qcalls[0].priority, 1);
	assert_int_equal(res->qcalls[1].outcome, CV_STORE_OUTCOME_OVERFLOWED);
	assert_string_equal(res->qcalls[1].overflow_target, "sales");
	assert_string_equal(cv_store_outcome_name(res->qcalls[1].outcome),
			    "overflowed");
	res = cv_mem_unref(res);
	f = (struct cv_store_query){.since_us = 350};
	assert_int_equal(cv_store_qcall_list(s, &f, RES(res)), 0);
	assert_int_equal(res->n, 1);
	assert_int_equal(res->qcalls[0].outcome, CV_STORE_OUTCOME_ABANDONED);
	res = cv_mem_unref(res);

	struct cv_store_stat st = {.scope = "queue",
				   .name = "support",
				   .at_us = 60000000,
				   .data = "{\"offered\":2,\"answered\":1}"};
	assert_int_equal(cv_store_stat_put(s, &st, CV_STORE_SYNC(NULL)), 0);
	st.data = "{\"offered\":2,\"answered\":1,\"overflowed\":1}";
	assert_int_equal(cv_store_stat_put(s, &st, CV_STORE_SYNC(NULL)), 0);
	st = (struct cv_store_stat){.scope = "agent",
				    .name = "agent1",
				    .at_us = 60000000,
				    .data = "{\"occupancy\":0.5}"};
	assert_int_equal(cv_store_stat_put(s, &st, CV_STORE_SYNC(NULL)), 0);
	f = (struct cv_store_query){.key = "queue", .key2 = "support"};
	assert_int_equal(cv_store_stat_list(s, &f, RES(res)), 0);
	assert_int_equal(res->kind, CV_STORE_RES_STATS);
	assert_int_equal(res->n, 1);
	assert_string_equal(res->stats[0].data,
			    "{\"offered\":2,\"answered\":1,\"overflowed\":1}");
	res = cv_mem_unref(res);
	assert_int_equal(cv_store_stat_list(s, NULL, RES(res)), 0);
	assert_int_equal(res->n, 2);
	cv_mem_unref(res);
}

/* ---- asynchronous completion on a uv loop ---------------------------------
 */
struct async_ctx {
	int done, errors, rows;
	struct cv_store_res *kept;
	uv_loop_t *loop;
	struct cv_store_client *client;
	bool close_in_cb;
};

static void on_done(int err, struct cv_store_res *res, void *arg)
{
	struct async_ctx *x = arg;
	x->done++;
	if (err)
		x->errors++;
	if (res && res->kind == CV_STORE_RES_BINDINGS) {
		x->rows = (int)res->n;
		x->kept = cv_mem_ref(res); /* kept past the callback */
	}
}

static void run_until(uv_loop_t *loop, int *counter, int want)
{
	for (int i = 0; i < 5000 && *counter < want; i++) {
		uv_run(loop, UV_RUN_NOWAIT);
		usleep(1000);
	}
}

static void test_async(void **state)
{
	struct cv_store *s = *state;
	uv_loop_t loop;
	assert_int_equal(uv_loop_init(&loop), 0);
	struct cv_store_client *cl = NULL;
	assert_int_equal(cv_store_client_create(&cl, &loop), 0);
	struct async_ctx x = {0};
	struct cv_store_cb cb = {.client = cl, .fn = on_done, .arg = &x};
	int64_t exp = (int64_t)cv_clock_wall_us() + 3600000000;
	for (int i = 0; i < 200; i++) {
		char contact[64];
		snprintf(contact, sizeof(contact), "sip:u@10.0.%d.%d", i / 250,
			 i % 250);
		struct cv_store_binding b = {.aor = "sip:u@cvoip",
					     .contact = contact,
					     .expires_us = exp,
					     .cseq = (uint32_t)i};
		assert_int_equal(cv_store_binding_upsert(s, &b, &cb), 0);
	}
	/* ordered after the upserts: same AOR, same store thread */
	assert_int_equal(cv_store_binding_list_aor(s, "sip:u@cvoip", &cb), 0);
	/* fire and forget */
	assert_int_equal(cv_store_user_add(s, "ff", "cvoip", "pw", NULL), 0);
	run_until(&loop, &x.done, 201);
	assert_int_equal(x.done, 201);
	assert_int_equal(x.errors, 0);
	assert_int_equal(x.rows, 200);
	assert_non_null(x.kept);
	assert_int_equal(x.kept->n, 200);
	x.kept = cv_mem_unref(x.kept);
	assert_int_equal(
		cv_store_user_get(s, "ff", "cvoip", CV_STORE_SYNC(NULL)), 0);

	/* closing the client with requests in flight: no callback afterwards,
	 * nothing leaks */
	int before = x.done;
	for (int i = 0; i < 50; i++)
		assert_int_equal(
			cv_store_binding_list_aor(s, "sip:u@cvoip", &cb), 0);
	cv_store_client_close(cl);
	uv_run(&loop, UV_RUN_NOWAIT);
	/* wait until the store has run them (a sync call on the same key) */
	assert_int_equal(cv_store_binding_list_aor(s, "sip:u@cvoip",
						   CV_STORE_SYNC(NULL)),
			 0);
	uv_run(&loop, UV_RUN_NOWAIT);
	assert_int_equal(x.done, before);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* ---- failure: database unreachable -------------------------------------- */
static void test_outage(void **state)
{
	struct cv_store *s = *state;
	uv_loop_t loop;
	assert_int_equal(uv_loop_init(&loop), 0);
	struct cv_store_client *cl = NULL;
	assert_int_equal(cv_store_client_create(&cl, &loop), 0);
	struct async_ctx x = {0};
	struct cv_store_cb cb = {.client = cl, .fn = on_done, .arg = &x};
	assert_true(cv_store_healthy(s));

	cv_store_simulate_outage(s, true);
	assert_false(cv_store_healthy(s));
	/* registrations fail fast (the registrar answers 503 Retry-After) */
	struct cv_store_binding b = {.aor = "sip:a@cvoip",
				     .contact = "sip:a@h",
				     .expires_us = INT64_MAX / 2};
	assert_int_equal(cv_store_binding_upsert(s, &b, &cb), CV_EDB);
	assert_int_equal(
		cv_store_user_get(s, "a", "cvoip", CV_STORE_SYNC(NULL)),
		CV_EDB);
	/* CDRs are kept and written on reconnection */
	struct cv_store_cdr c = {.id = "kept-1",
				 .call_id = "k1",
				 .start_us = 10,
				 .end_us = 20,
				 .nlegs = 1,
				 .legs = test_legs};
	assert_int_equal(cv_store_cdr_insert(s, &c, &cb), 0);
	c.id = "kept-2";
	assert_int_equal(cv_store_cdr_insert(s, &c, &cb), 0);
	struct cv_store_counters k;
	cv_store_counters(s, &k);
	assert_int_equal(k.cdr_kept, 2);
	assert_true(k.failed_fast >= 2);
	usleep(120000); /* reconnect attempts fail while the outage lasts */
	uv_run(&loop, UV_RUN_NOWAIT);
	assert_int_equal(x.done, 0);

	cv_store_simulate_outage(s, false);
	run_until(&loop, &x.done, 2);
	assert_int_equal(x.done, 2);
	assert_int_equal(x.errors, 0);
	/* each connection reconnects on its own */
	for (int i = 0; i < 500 && !cv_store_healthy(s); i++)
		usleep(10000);
	assert_true(cv_store_healthy(s));
	cv_store_counters(s, &k);
	assert_int_equal(k.cdr_kept, 0);
	assert_true(k.reconnects >= 1);
	struct cv_store_res *res = NULL;
	assert_int_equal(cv_store_cdr_list(s, NULL, RES(res)), 0);
	assert_int_equal(res->n, 2);
	assert_string_equal(res->cdrs[0].id, "kept-1");
	assert_int_equal(res->cdrs[1].nlegs, 1);
	cv_mem_unref(res);
	assert_int_equal(cv_store_binding_upsert(s, &b, CV_STORE_SYNC(NULL)),
			 0);
	cv_store_client_close(cl);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* The retry queue is bounded: past it, CV_EFULL and a logged drop. */
static void test_cdr_retry_bound(void **state)
{
	(void)state;
	int64_t live = cv_mem_live();
	struct cv_store *s = NULL;
	struct cv_store_params p = {
		.url = fresh_url(), .cdr_retry_max = 2, .reconnect_ms = 20};
	assert_int_equal(cv_store_open(&s, &p), 0);
	cv_store_simulate_outage(s, true);
	struct cv_store_cdr c = {.call_id = "x"};
	assert_int_equal(cv_store_cdr_insert(s, &c, NULL), 0);
	assert_int_equal(cv_store_cdr_insert(s, &c, NULL), 0);
	assert_int_equal(cv_store_cdr_insert(s, &c, NULL), CV_EFULL);
	struct cv_store_counters k;
	cv_store_counters(s, &k);
	assert_int_equal(k.cdr_kept, 2);
	assert_int_equal(k.cdr_dropped, 1);
	/* closing while down drops (and logs) the kept ones */
	cv_store_close(s);
	assert_int_equal(cv_mem_live(), live);
	/* closing after the database returned writes them */
	assert_int_equal(
		cv_store_open(&s,
			      &(struct cv_store_params){.url = fresh_url(),
							.reconnect_ms = 20}),
		0);
	cv_store_simulate_outage(s, true);
	assert_int_equal(cv_store_cdr_insert(s, &c, NULL), 0);
	cv_store_simulate_outage(s, false);
	cv_store_close(s);
	assert_int_equal(cv_mem_live(), live);
}

/* A PostgreSQL server that does not answer: open fails fast and clearly. */
static void test_unreachable_open(void **state)
{
	(void)state;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	close(fd); /* nobody listens there now */
	char url[128];
	snprintf(url, sizeof(url), "postgresql://cvoip@127.0.0.1:%u/cvoip",
		 ntohs(sa.sin_port));
	struct cv_store *s = NULL;
	uint64_t t0 = cv_clock_ms();
	assert_int_equal(
		cv_store_open(&s, &(struct cv_store_params){.url = url}),
		CV_EDB);
	assert_true(cv_clock_ms() - t0 < 3000);
	assert_null(s);
	assert_int_equal(
		cv_store_open(&s,
			      &(struct cv_store_params){.url = "mysql://x"}),
		-EINVAL);
	assert_int_equal(
		cv_store_open(&s,
			      &(struct cv_store_params){
				      .url = "sqlite:/nonexistent-dir/x.db"}),
		CV_EDB);
	assert_int_equal(
		cv_store_open(&s, &(struct cv_store_params){.url = "sqlite:"}),
		CV_EDB);
}

/* A real outage: the wrapper script gives commands that stop and start the
 * PostgreSQL server under test. */
static void test_pg_restart(void **state)
{
	struct cv_store *s = *state;
	const char *stop = getenv("CV_PG_STOP");
	const char *start = getenv("CV_PG_START");
	if (!stop || !start) {
		skip();
		return;
	}
	uv_loop_t loop;
	assert_int_equal(uv_loop_init(&loop), 0);
	struct cv_store_client *cl = NULL;
	assert_int_equal(cv_store_client_create(&cl, &loop), 0);
	struct async_ctx x = {0};
	struct cv_store_cb cb = {.client = cl, .fn = on_done, .arg = &x};
	assert_int_equal(
		cv_store_user_add(s, "u", "cvoip", "p", CV_STORE_SYNC(NULL)),
		0);
	assert_int_equal(system(stop), 0);
	/* the first requests discover the loss; after that, fail fast */
	int err = 0;
	for (int i = 0; i < 200 && err != CV_EDB; i++) {
		err = cv_store_user_get(s, "u", "cvoip", CV_STORE_SYNC(NULL));
		if (err != CV_EDB)
			usleep(10000);
	}
	assert_int_equal(err, CV_EDB);
	uint64_t t0 = cv_clock_us();
	struct cv_store_binding b = {.aor = "sip:u@cvoip",
				     .contact = "sip:u@h",
				     .expires_us = INT64_MAX / 2};
	/* the AOR may map to the other connection: it fails at once or after
	 * discovering the loss itself */
	err = cv_store_binding_upsert(s, &b, CV_STORE_SYNC(NULL));
	assert_int_equal(err, CV_EDB);
	err = cv_store_binding_upsert(s, &b, CV_STORE_SYNC(NULL));
	assert_int_equal(err, CV_EDB);
	assert_true(cv_clock_us() - t0 < 2000000);
	struct cv_store_cdr c = {.id = "during-outage",
				 .call_id = "o1",
				 .start_us = 1,
				 .end_us = 2,
				 .nlegs = 2,
				 .legs = test_legs};
	assert_int_equal(cv_store_cdr_insert(s, &c, &cb), 0);
	assert_int_equal(system(start), 0);
	run_until(&loop, &x.done, 1);
	for (int i = 0; i < 500 && !cv_store_healthy(s); i++)
		usleep(10000);
	assert_true(cv_store_healthy(s));
	assert_int_equal(x.done, 1);
	assert_int_equal(x.errors, 0);
	struct cv_store_res *res = NULL;
	assert_int_equal(
		cv_store_cdr_list(s, &(struct cv_store_query){.key = "o1"},
				  RES(res)),
		0);
	assert_int_equal(res->n, 1);
	assert_int_equal(res->cdrs[0].nlegs, 2);
	cv_mem_unref(res);
	assert_int_equal(
		cv_store_user_get(s, "u", "cvoip", CV_STORE_SYNC(NULL)), 0);
	cv_store_client_close(cl);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* ---- durability ---------------------------------------------------------- */
static void write_some(struct cv_store *s, int n)
{
	int64_t exp = (int64_t)cv_clock_wall_us() + 3600000000;
	for (int i = 0; i < n; i++) {
		char aor[64], id[64];
		snprintf(aor, sizeof(aor), "sip:user%d@cvoip", i);
		snprintf(id, sizeof(id), "cdr-%d", i);
		struct cv_store_binding b = {
			.aor = aor, .contact = "sip:x@h", .expires_us = exp};
		assert_int_equal(
			cv_store_binding_upsert(s, &b, CV_STORE_SYNC(NULL)), 0);
		struct cv_store_cdr c = {.id = id,
					 .call_id = id,
					 .start_us = i + 1,
					 .end_us = i + 2,
					 .nlegs = 2,
					 .legs = test_legs};
		assert_int_equal(
			cv_store_cdr_insert(s, &c, CV_STORE_SYNC(NULL)), 0);
	}
	assert_int_equal(cv_store_user_add(s, "alice", "cvoip", "alice-secret",
					   CV_STORE_SYNC(NULL)),
			 0);
}

static void check_some(struct cv_store *s, int n)
{
	struct cv_store_res *res = NULL;
	assert_int_equal(cv_store_binding_list(s, NULL, RES(res)), 0);
	assert_int_equal(res->n, (size_t)n);
	res = cv_mem_unref(res);
	assert_int_equal(cv_store_cdr_list(s, NULL, RES(res)), 0);
	assert_int_equal(res->n, (size_t)n);
	assert_int_equal(res->cdrs[n - 1].nlegs, 2);
	res = cv_mem_unref(res);
	assert_int_equal(
		cv_store_user_get(s, "alice", "cvoip", CV_STORE_SYNC(NULL)), 0);
}

/* Close and reopen: the data is there and migrations do nothing twice. */
static void test_reopen(void **state)
{
	(void)state;
	if (strcmp(g_url, "sqlite::memory:") == 0) {
		skip();
		return;
	}
	int64_t live = cv_mem_live();
	const char *url = fresh_url();
	char keep[512];
	snprintf(keep, sizeof(keep), "%s", url);
	struct cv_store *s = open_store(keep);
	write_some(s, 20);
	cv_store_close(s);
	for (int round = 0; round < 2; round++) {
		s = open_store(keep);
		check_some(s, 20);
		cv_store_close(s);
	}
	if (!is_pg()) {
		/* one schema_version row per migration, journal in WAL */
		sqlite3 *h = NULL;
		assert_int_equal(sqlite3_open(keep + 7, &h), SQLITE_OK);
		sqlite3_stmt *st = NULL;
		assert_int_equal(
			sqlite3_prepare_v2(h,
					   "SELECT COUNT(*), MAX(version) FROM "
					   "schema_version",
					   -1, &st, NULL),
			SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_int_equal(sqlite3_column_int(st, 0),
				 CV_STORE_SCHEMA_VERSION);
		assert_int_equal(sqlite3_column_int(st, 1),
				 CV_STORE_SCHEMA_VERSION);
		sqlite3_finalize(st);
		assert_int_equal(sqlite3_prepare_v2(h, "PRAGMA journal_mode",
						    -1, &st, NULL),
				 SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_string_equal((const char *)sqlite3_column_text(st, 0),
				    "wal");
		sqlite3_finalize(st);
		/* a database from a newer cvoip is refused */
		assert_int_equal(sqlite3_exec(h,
					      "INSERT INTO schema_version "
					      "VALUES (99, 0)",
					      NULL, NULL, NULL),
				 SQLITE_OK);
		sqlite3_close(h);
		/* the password never reaches the file */
		FILE *f = fopen(keep + 7, "rb");
		assert_non_null(f);
		char buf[65536];
		size_t n;
		bool found = false;
		while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
			if (memmem(buf, n, "alice-secret", 12))
				found = true;
		fclose(f);
		assert_false(found);
		assert_int_equal(
			cv_store_open(&s,
				      &(struct cv_store_params){.url = keep}),
			CV_EDB);
	} else {
		PGconn *c = PQconnectdb(g_url);
		PGresult *r = PQexec(c, "SELECT COUNT(*) FROM schema_version");
		assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
		assert_int_equal(atoi(PQgetvalue(r, 0, 0)),
				 CV_STORE_SCHEMA_VERSION);
		PQclear(r);
		r = PQexec(c, "SELECT COUNT(*) FROM users WHERE ha1_md5 LIKE "
			      "'%alice-secret%'");
		assert_int_equal(atoi(PQgetvalue(r, 0, 0)), 0);
		PQclear(r);
		r = PQexec(c, "INSERT INTO schema_version VALUES (99, 0)");
		PQclear(r);
		PQfinish(c);
		assert_int_equal(
			cv_store_open(&s,
				      &(struct cv_store_params){.url = keep}),
			CV_EDB);
	}
	assert_int_equal(cv_mem_live(), live);
}

/* kill -9 right after the writes completed: everything is there. */
static void test_kill9(void **state)
{
	(void)state;
	if (strcmp(g_url, "sqlite::memory:") == 0) {
		skip();
		return;
	}
	const char *url = fresh_url();
	char keep[512];
	snprintf(keep, sizeof(keep), "%s", url);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct cv_store *s = NULL;
		if (cv_store_open(&s, &(struct cv_store_params){.url = keep}))
			_exit(3);
		write_some(s, 30);
		/* work still queued when killed: may or may not land */
		for (int i = 0; i < 100; i++)
			cv_store_user_add(s, "late", "cvoip", "x", NULL);
		kill(getpid(), SIGKILL);
		_exit(4);
	}
	int st = 0;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGKILL);
	int64_t live = cv_mem_live();
	struct cv_store *s = open_store(keep);
	check_some(s, 30);
	cv_store_close(s);
	assert_int_equal(cv_mem_live(), live);
}

static int run_suite(const char *url)
{
	g_url = url;
	printf("# store suite on %s\n", url);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ha1),
		cmocka_unit_test_setup_teardown(test_users, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_input, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bindings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cdrs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trunks_routes, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_agents, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queues_qcalls_stats, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_async, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outage, setup, teardown),
		cmocka_unit_test(test_cdr_retry_bound),
		cmocka_unit_test(test_unreachable_open),
		cmocka_unit_test_setup_teardown(test_pg_restart, setup,
						teardown),
		cmocka_unit_test(test_reopen),
		cmocka_unit_test(test_kill9),
	};
	return cmocka_run_group_tests_name(url, tests, NULL, NULL);
}

int main(int argc, char **argv)
{
	cv_log_set_level(CV_LOG_ERROR);
	if (getenv("CV_STORE_TEST_VERBOSE"))
		cv_log_set_level(CV_LOG_DEBUG);
	if (argc > 1)
		return run_suite(argv[1]) ? 1 : 0;
	snprintf(g_dir, sizeof(g_dir), "/tmp/cvoip-store-test-XXXXXX");
	if (!mkdtemp(g_dir))
		return 1;
	int fails = run_suite("sqlite::memory:");
	fails += run_suite("sqlite:file");
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
	if (system(cmd) != 0)
		fails++;
	return fails ? 1 : 0;
}
