/* base/bus: event types and their JSON, delivery on a loop, ordering,
 * topic filters, overflow policies, unsubscribe from a callback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cvoip/bus.h"

static int64_t live0;

static int setup(void **state)
{
	live0 = cv_mem_live();
	return 0;
}

static int teardown(void **state)
{
	assert_int_equal(cv_bus_live_events(), 0);
	assert_int_equal(cv_mem_live(), live0);
	return 0;
}

/* ---- names and JSON ---------------------------------------------------------
 */

static void test_names(void **state)
{
	assert_string_equal(cv_bus_topic_name(CV_BUS_TOPIC_REGISTRATION),
			    "registration");
	assert_null(cv_bus_topic_name(CV_BUS_TOPIC_COUNT));
	assert_string_equal(cv_bus_type_name(CV_BUS_QUEUE_ABANDONED),
			    "queue.abandoned");
	assert_null(cv_bus_type_name(CV_BUS_TYPE_COUNT));
	assert_int_equal(cv_bus_type_topic(CV_BUS_CDR_WRITTEN),
			 CV_BUS_TOPIC_CDR);
	enum cv_bus_topic t;
	assert_int_equal(cv_bus_topic_parse(cv_pl_str("quality"), &t), 0);
	assert_int_equal(t, CV_BUS_TOPIC_QUALITY);
	assert_int_equal(cv_bus_topic_parse(cv_pl_str("qual"), &t),
			 CV_ENOTFOUND);
	/* every type has a name with its topic as prefix */
	for (int i = 0; i < CV_BUS_TYPE_COUNT; i++) {
		const char *n = cv_bus_type_name((enum cv_bus_type)i);
		const char *tn = cv_bus_topic_name(
			cv_bus_type_topic((enum cv_bus_type)i));
		assert_non_null(n);
		assert_non_null(tn);
		assert_memory_equal(n, tn, strlen(tn));
		assert_int_equal(n[strlen(tn)], '.');
	}
}

static void expect_json(enum cv_bus_type type, const void *payload,
			const char *want)
{
	struct cv_bus_event *ev;
	assert_int_equal(cv_bus_event_create(&ev, type, payload), 0);
	ev->ts_us = 1795435200123456ull; /* 2026-11-23T12:00:00.123456Z */
	ev->seq = 7;
	ev->publisher = 1;
	ev->worker = 2;
	struct cv_buf b;
	cv_buf_init(&b, 0);
	assert_int_equal(cv_bus_event_json_print(ev, &b), 0);
	if (strcmp(b.data, want))
		fprintf(stderr, "got:  %s\nwant: %s\n", b.data, want);
	assert_string_equal(b.data, want);
	cv_buf_free(&b);
	cv_bus_event_unref(ev);
}

#define HDR(type, topic)                                                       \
	"{\"type\":\"" type "\",\"topic\":\"" topic "\","                      \
	"\"ts\":\"2026-11-23T12:00:00.123456Z\",\"ts_us\":1795435200123456,"   \
	"\"worker\":2,\"publisher\":1,\"seq\":7,\"data\":"

static void test_json_each_type(void **state)
{
	struct cv_bus_call call = {.call_id = "a84b4c76e66710",
				   .from = "sip:alice@example.com",
				   .to = "sip:bob@example.com",
				   .direction = CV_BUS_DIR_INBOUND};
#define call_data                                                              \
	"{\"call_id\":\"a84b4c76e66710\",\"from\":\"sip:alice@example.com\","  \
	"\"to\":\"sip:bob@example.com\",\"direction\":\"inbound\",\"status\":" \
	"%u,"                                                                  \
	"\"reason\":%s,\"local\":%s,\"hangup_by\":%s,\"duration_ms\":%u}}"
	char want[1024], data[512];

	snprintf(data, sizeof(data), call_data, 0, "null", "false", "null", 0);
	snprintf(want, sizeof(want), HDR("call.started", "call") "%s", data);
	expect_json(CV_BUS_CALL_STARTED, &call, want);

	call.status = 180;
	call.reason = "Ringing";
	snprintf(data, sizeof(data), call_data, 180, "\"Ringing\"", "false",
		 "null", 0);
	snprintf(want, sizeof(want), HDR("call.ringing", "call") "%s", data);
	expect_json(CV_BUS_CALL_RINGING, &call, want);

	call.status = 200;
	call.reason = "OK";
	snprintf(data, sizeof(data), call_data, 200, "\"OK\"", "false", "null",
		 0);
	snprintf(want, sizeof(want), HDR("call.answered", "call") "%s", data);
	expect_json(CV_BUS_CALL_ANSWERED, &call, want);

	call.status = 408;
	call.reason = "Request Timeout";
	call.local = true;
	call.hangup_by = CV_BUS_HANGUP_SYSTEM;
	call.duration_ms = 61234;
	snprintf(data, sizeof(data), call_data, 408, "\"Request Timeout\"",
		 "true", "\"system\"", 61234);
	snprintf(want, sizeof(want), HDR("call.ended", "call") "%s", data);
	expect_json(CV_BUS_CALL_ENDED, &call, want);

	call.hangup_by = CV_BUS_HANGUP_CALLEE;
	call.direction = CV_BUS_DIR_OUTBOUND;
	call.local = false;
	expect_json(CV_BUS_CALL_ENDED, &call,
		    HDR("call.ended",
			"call") "{\"call_id\":\"a84b4c76e66710\",\"from\":"
				"\"sip:alice@example.com\","
				"\"to\":\"sip:bob@example.com\",\"direction\":"
				"\"outbound\",\"status\":408,"
				"\"reason\":\"Request "
				"Timeout\",\"local\":false,\"hangup_by\":"
				"\"callee\","
				"\"duration_ms\":61234}}");

	struct cv_bus_reg reg = {.aor = "sip:alice@example.com",
				 .contact = "sip:alice@192.0.2.4:5060",
				 .source = "udp:192.0.2.4:5060",
				 .user_agent = "baresip",
				 .expires = 3600};
	static const char *const reg_types[][2] = {
		{"registration.added", NULL},
		{"registration.refreshed", NULL},
		{"registration.removed", NULL},
		{"registration.expired", NULL}};
	for (int i = 0; i < 4; i++) {
		snprintf(want, sizeof(want),
			 "{\"type\":\"%s\",\"topic\":\"registration\","
			 "\"ts\":\"2026-11-23T12:00:00.123456Z\",\"ts_us\":"
			 "1795435200123456,"
			 "\"worker\":2,\"publisher\":1,\"seq\":7,\"data\":"
			 "{\"aor\":\"sip:alice@example.com\",\"contact\":\"sip:"
			 "alice@192.0.2.4:5060\","
			 "\"source\":\"udp:192.0.2.4:5060\",\"user_agent\":"
			 "\"baresip\","
			 "\"expires\":%u}}",
			 reg_types[i][0], i < 2 ? 3600 : 0);
		reg.expires = i < 2 ? 3600 : 0;
		expect_json((enum cv_bus_type)(CV_BUS_REG_ADDED + i), &reg,
			    want);
	}

	struct cv_bus_agent agent = {.agent_id = "agent-7",
				     .old_state = "available",
				     .new_state = "busy",
				     .reason = NULL};
	expect_json(CV_BUS_AGENT_STATE, &agent,
		    HDR("agent.state_changed",
			"agent") "{\"agent_id\":\"agent-7\",\"old_state\":"
				 "\"available\","
				 "\"new_state\":\"busy\",\"reason\":null}}");

	struct cv_bus_queue q = {.queue = "sales",
				 .call_id = "c1",
				 .caller = "sip:carol@x",
				 .position = 3,
				 .wait_ms = 4500};
#define queue_data                                                             \
	"{\"queue\":\"sales\",\"call_id\":\"c1\",\"caller\":\"sip:carol@x\","  \
	"\"agent_id\":%s,\"target\":%s,\"reason\":%s,\"position\":3,"          \
	"\"wait_ms\":4500}}"
	snprintf(data, sizeof(data), queue_data, "null", "null", "null");
	snprintf(want, sizeof(want), HDR("queue.caller_joined", "queue") "%s",
		 data);
	expect_json(CV_BUS_QUEUE_JOINED, &q, want);
	q.agent_id = "agent-7";
	q.reason = "answered";
	snprintf(data, sizeof(data), queue_data, "\"agent-7\"", "null",
		 "\"answered\"");
	snprintf(want, sizeof(want), HDR("queue.caller_left", "queue") "%s",
		 data);
	expect_json(CV_BUS_QUEUE_LEFT, &q, want);
	q.agent_id = NULL;
	q.target = "voicemail";
	q.reason = "max_wait";
	snprintf(data, sizeof(data), queue_data, "null", "\"voicemail\"",
		 "\"max_wait\"");
	snprintf(want, sizeof(want), HDR("queue.overflowed", "queue") "%s",
		 data);
	expect_json(CV_BUS_QUEUE_OVERFLOWED, &q, want);
	q.target = NULL;
	q.reason = "caller hung up";
	snprintf(data, sizeof(data), queue_data, "null", "null",
		 "\"caller hung up\"");
	snprintf(want, sizeof(want), HDR("queue.abandoned", "queue") "%s",
		 data);
	expect_json(CV_BUS_QUEUE_ABANDONED, &q, want);

	struct cv_bus_quality qr = {.call_id = "c1",
				    .stream = "audio",
				    .loss_pct = 1.5,
				    .jitter_ms = 12.25,
				    .rtt_ms = 40,
				    .mos = 4.1,
				    .packets = 5000,
				    .lost = 75};
	expect_json(CV_BUS_QUALITY_REPORT, &qr,
		    HDR("quality.report",
			"quality") "{\"call_id\":\"c1\",\"stream\":\"audio\","
				   "\"loss_pct\":1.5,"
				   "\"jitter_ms\":12.25,\"rtt_ms\":40.0,"
				   "\"mos\":4.1,"
				   "\"packets\":5000,\"lost\":75}}");

	struct cv_bus_cdr cdr = {.cdr_id = "cdr-1",
				 .call_id = "c1",
				 .from = "sip:a@x",
				 .to = "sip:b@x",
				 .status = 200,
				 .start_us = 1795435200000000ull,
				 .answer_us = 1795435202000000ull,
				 .end_us = 1795435260000000ull};
	expect_json(
		CV_BUS_CDR_WRITTEN, &cdr,
		HDR("cdr.written", "cdr") "{\"cdr_id\":\"cdr-1\",\"call_id\":"
					  "\"c1\",\"from\":\"sip:a@x\","
					  "\"to\":\"sip:b@x\",\"status\":200,"
					  "\"start_us\":1795435200000000,"
					  "\"answer_us\":1795435202000000,"
					  "\"end_us\":1795435260000000}}");

	struct cv_bus_system sys = {
		.node = "node1", .version = "0.1.0", .workers = 2};
	expect_json(CV_BUS_SYSTEM_STARTED, &sys,
		    HDR("system.started",
			"system") "{\"node\":\"node1\",\"version\":\"0.1.0\","
				  "\"reason\":null,\"workers\":2}}");
	sys.reason = "signal";
	expect_json(CV_BUS_SYSTEM_STOPPING, &sys,
		    HDR("system.stopping",
			"system") "{\"node\":\"node1\",\"version\":\"0.1.0\","
				  "\"reason\":\"signal\","
				  "\"workers\":2}}");
}

static void test_json_hostile_strings(void **state)
{
	/* SIP text is not always UTF-8, and may be long: the event holds a
	 * bounded copy and the JSON stays valid. */
	char *big = malloc(CV_BUS_STR_MAX * 2 + 1);
	memset(big, 'x', CV_BUS_STR_MAX * 2);
	big[CV_BUS_STR_MAX * 2] = '\0';
	struct cv_bus_call call = {.call_id = big,
				   .from = "\"Al\xe9\" <sip:a@x>",
				   .reason = "line\nbreak"};
	struct cv_bus_event *ev;
	assert_int_equal(cv_bus_event_create(&ev, CV_BUS_CALL_ENDED, &call), 0);
	free(big); /* the event has its own copy */
	assert_int_equal(strlen(ev->u.call.call_id), CV_BUS_STR_MAX);
	assert_null(ev->u.call.to);
	assert_int_equal(ev->worker, CV_BUS_NO_WORKER);
	json_t *j;
	assert_int_equal(cv_bus_event_json(ev, &j), 0);
	json_t *data = json_object_get(j, "data");
	assert_string_equal(json_string_value(json_object_get(data, "from")),
			    "\"Al\xef\xbf\xbd\" <sip:a@x>");
	assert_string_equal(json_string_value(json_object_get(data, "reason")),
			    "line\nbreak");
	assert_true(json_is_null(json_object_get(data, "to")));
	assert_true(json_is_null(json_object_get(j, "worker")));
	json_decref(j);
	cv_bus_event_unref(ev);

	assert_int_equal(cv_bus_event_create(&ev, CV_BUS_TYPE_COUNT, &call),
			 -EINVAL);
	assert_int_equal(cv_bus_event_create(&ev, CV_BUS_CALL_ENDED, NULL),
			 -EINVAL);
}

/* ---- delivery
 * ------------------------------------------------------------------ */

struct rec {
	unsigned n;
	enum cv_bus_type types[64];
	uint64_t seqs[64];
	struct cv_bus_sub *self;
	struct cv_bus_sub **other;
	unsigned unsub_after;
	const struct cv_bus_event *kept;
};

static void on_event(const struct cv_bus_event *ev, void *arg)
{
	struct rec *r = arg;
	if (r->n < 64) {
		r->types[r->n] = ev->type;
		r->seqs[r->n] = ev->seq;
	}
	r->n++;
	if (r->unsub_after && r->n == r->unsub_after) {
		cv_bus_unsubscribe(r->self);
		r->self = NULL;
		if (r->other && *r->other) {
			cv_bus_unsubscribe(*r->other);
			*r->other = NULL;
		}
	}
	if (!r->kept)
		r->kept = cv_bus_event_ref(ev);
}

static void spin(uv_loop_t *loop)
{
	for (int i = 0; i < 20; i++)
		uv_run(loop, UV_RUN_NOWAIT);
}

static void rec_clear(struct rec *r)
{
	r->kept = cv_bus_event_unref(r->kept);
}

static void loop_finish(uv_loop_t *loop)
{
	uv_run(loop, UV_RUN_DEFAULT); /* runs the close callbacks */
	assert_int_equal(uv_loop_close(loop), 0);
}

static void test_order_and_filter(void **state)
{
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct cv_metrics *m;
	assert_int_equal(cv_metrics_create(&m, NULL), 0);
	struct cv_bus *bus;
	assert_int_equal(
		cv_bus_create(&bus, &(struct cv_bus_params){.metrics = m}), 0);

	/* Nobody listens: accepted and freed. */
	struct cv_bus_system sys = {.node = "n"};
	assert_int_equal(cv_bus_publish(bus, CV_BUS_SYSTEM_STARTED, &sys), 0);
	assert_int_equal(cv_bus_live_events(), 0);

	struct rec all = {0}, calls = {0};
	struct cv_bus_sub *s_all, *s_calls;
	assert_int_equal(
		cv_bus_subscribe(bus,
				 &(struct cv_bus_sub_params){.loop = &loop,
							     .fn = on_event,
							     .arg = &all,
							     .name = "all"},
				 &s_all),
		0);
	assert_int_equal(
		cv_bus_subscribe(
			bus,
			&(struct cv_bus_sub_params){
				.loop = &loop,
				.fn = on_event,
				.arg = &calls,
				.name = "calls",
				.topics = CV_BUS_MASK(CV_BUS_TOPIC_CALL) |
					  CV_BUS_MASK(CV_BUS_TOPIC_CDR)},
			&s_calls),
		0);

	struct cv_bus_call call = {.call_id = "x"};
	struct cv_bus_quality qr = {.call_id = "x"};
	struct cv_bus_cdr cdr = {.call_id = "x"};
	for (int i = 0; i < 20; i++) {
		assert_int_equal(
			cv_bus_publish(bus, CV_BUS_CALL_STARTED, &call), 0);
		assert_int_equal(
			cv_bus_publish(bus, CV_BUS_QUALITY_REPORT, &qr), 0);
		assert_int_equal(cv_bus_publish(bus, CV_BUS_CDR_WRITTEN, &cdr),
				 0);
	}
	spin(&loop);
	assert_int_equal(all.n, 60);
	assert_int_equal(calls.n, 40);
	for (unsigned i = 0; i < 60; i++) {
		/* seq 1 went to nobody; publication order is kept */
		assert_int_equal(all.seqs[i], i + 2);
		assert_int_equal(all.types[i], i % 3 == 0 ? CV_BUS_CALL_STARTED
					       : i % 3 == 1
						       ? CV_BUS_QUALITY_REPORT
						       : CV_BUS_CDR_WRITTEN);
	}
	for (unsigned i = 0; i < 40; i++)
		assert_int_not_equal(calls.types[i], CV_BUS_QUALITY_REPORT);
	assert_int_equal(cv_bus_sub_delivered(s_all), 60);
	assert_int_equal(cv_bus_sub_dropped(s_all), 0);
	assert_int_equal(cv_bus_published(bus), 61);

	/* the kept event outlives its delivery */
	assert_int_equal(all.kept->type, CV_BUS_CALL_STARTED);
	assert_string_equal(all.kept->u.call.call_id, "x");

	struct cv_buf out;
	cv_buf_init(&out, 0);
	assert_int_equal(cv_metrics_render(m, &out), 0);
	assert_non_null(strstr(
		out.data, "cvoip_bus_published_total{topic=\"call\"} 20\n"));
	assert_non_null(strstr(
		out.data, "cvoip_bus_published_total{topic=\"system\"} 1\n"));
	assert_non_null(
		strstr(out.data,
		       "cvoip_bus_delivered_total{subscriber=\"calls\"} 40\n"));
	assert_non_null(strstr(out.data, "cvoip_bus_dropped_total{topic="
					 "\"cdr\",subscriber=\"calls\"} 0\n"));
	/* no series for topics the subscription does not take */
	assert_null(
		strstr(out.data, "{topic=\"quality\",subscriber=\"calls\"}"));
	cv_buf_free(&out);

	cv_bus_unsubscribe(s_all);
	cv_bus_unsubscribe(s_calls);
	/* published after unsubscribe: nobody gets it */
	assert_int_equal(cv_bus_publish(bus, CV_BUS_CALL_STARTED, &call), 0);
	loop_finish(&loop);
	assert_int_equal(all.n, 60);
	rec_clear(&all);
	rec_clear(&calls);
	cv_bus_destroy(bus);
	cv_metrics_destroy(m);
}

static void test_drop_policy(void **state)
{
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct cv_metrics *m;
	assert_int_equal(cv_metrics_create(&m, NULL), 0);
	struct cv_bus *bus;
	assert_int_equal(
		cv_bus_create(&bus, &(struct cv_bus_params){.metrics = m}), 0);
	struct rec slow = {0}, fast = {0};
	struct cv_bus_sub *s_slow, *s_fast;
	assert_int_equal(cv_bus_subscribe(bus,
					  &(struct cv_bus_sub_params){
						  .loop = &loop,
						  .fn = on_event,
						  .arg = &slow,
						  .name = "slow",
						  .queue_cap = 4,
						  .overflow = CV_BUS_DROP},
					  &s_slow),
			 0);
	assert_int_equal(
		cv_bus_subscribe(bus,
				 &(struct cv_bus_sub_params){.loop = &loop,
							     .fn = on_event,
							     .arg = &fast,
							     .name = "fast",
							     .queue_cap = 64},
				 &s_fast),
		0);
	struct cv_bus_call call = {.call_id = "x"};
	for (int i = 0; i < 10; i++)
		assert_int_equal(
			cv_bus_publish(bus, CV_BUS_CALL_STARTED, &call),
			i < 4 ? 0 : CV_EFULL);
	assert_int_equal(cv_bus_sub_dropped(s_slow), 6);
	assert_int_equal(cv_bus_sub_dropped(s_fast), 0);
	spin(&loop);
	/* the other subscriber was not affected; the slow one got the first 4
	 */
	assert_int_equal(fast.n, 10);
	assert_int_equal(slow.n, 4);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(slow.seqs[i], i + 1);
	/* room again: delivery resumes, and the gap shows in seq */
	assert_int_equal(cv_bus_publish(bus, CV_BUS_CALL_STARTED, &call), 0);
	spin(&loop);
	assert_int_equal(slow.n, 5);
	assert_int_equal(slow.seqs[4], 11);

	struct cv_buf out;
	cv_buf_init(&out, 0);
	assert_int_equal(cv_metrics_render(m, &out), 0);
	assert_non_null(
		strstr(out.data, "# TYPE cvoip_bus_dropped_total counter\n"));
	assert_non_null(strstr(out.data, "cvoip_bus_dropped_total{topic="
					 "\"call\",subscriber=\"slow\"} 6\n"));
	assert_non_null(strstr(out.data, "cvoip_bus_dropped_total{topic="
					 "\"call\",subscriber=\"fast\"} 0\n"));
	cv_buf_free(&out);

	cv_bus_unsubscribe(s_slow);
	cv_bus_unsubscribe(s_fast);
	loop_finish(&loop);
	rec_clear(&slow);
	rec_clear(&fast);
	cv_bus_destroy(bus);
	cv_metrics_destroy(m);
}

static void test_block_policy(void **state)
{
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct cv_bus *bus;
	assert_int_equal(cv_bus_create(&bus, NULL), 0);
	struct rec r = {0};
	struct cv_bus_sub *s;
	assert_int_equal(cv_bus_subscribe(bus,
					  &(struct cv_bus_sub_params){
						  .loop = &loop,
						  .fn = on_event,
						  .arg = &r,
						  .name = "blk",
						  .queue_cap = 2,
						  .overflow = CV_BUS_BLOCK,
						  .block_us = 200000},
					  &s),
			 0);
	struct cv_bus_agent a = {.agent_id = "a"};
	assert_int_equal(cv_bus_publish(bus, CV_BUS_AGENT_STATE, &a), 0);
	assert_int_equal(cv_bus_publish(bus, CV_BUS_AGENT_STATE, &a), 0);
	/* Full, and nobody drains (same thread): one bounded wait, then drop.
	 */
	uint64_t t0 = uv_hrtime();
	assert_int_equal(cv_bus_publish(bus, CV_BUS_AGENT_STATE, &a), CV_EFULL);
	uint64_t t1 = uv_hrtime();
	assert_true(t1 - t0 >= 195000000ull);
	/* Stalled: the next drop is immediate, not another wait. */
	assert_int_equal(cv_bus_publish(bus, CV_BUS_AGENT_STATE, &a), CV_EFULL);
	uint64_t t2 = uv_hrtime();
	assert_true(t2 - t1 < 100000000ull);
	assert_int_equal(cv_bus_sub_dropped(s), 2);
	spin(&loop);
	assert_int_equal(r.n, 2);
	/* it drained: publishing works again, with waiting re-armed */
	assert_int_equal(cv_bus_publish(bus, CV_BUS_AGENT_STATE, &a), 0);
	spin(&loop);
	assert_int_equal(r.n, 3);
	assert_int_equal(r.seqs[2], 5);
	cv_bus_unsubscribe(s);
	loop_finish(&loop);
	rec_clear(&r);
	cv_bus_destroy(bus);
}

/* cv_bus_params.sub_linger_ms: the first event wakes an idle subscriber
 * at once; after a delivery it is not re-armed, so the next events wait
 * for the linger timer and come in one batch, in order; a drain that finds
 * nothing arms again; unsubscribing with the timer pending frees all. */
static void test_linger(void **state)
{
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct cv_bus *bus;
	/* long enough that the "not yet" check below cannot race the timer
	 * on a loaded machine */
	assert_int_equal(
		cv_bus_create(&bus,
			      &(struct cv_bus_params){.sub_linger_ms = 500}),
		0);
	struct rec r = {0};
	struct cv_bus_sub *s;
	assert_int_equal(
		cv_bus_subscribe(bus,
				 &(struct cv_bus_sub_params){.loop = &loop,
							     .fn = on_event,
							     .arg = &r,
							     .name = "linger"},
				 &s),
		0);
	struct cv_bus_agent a = {.agent_id = "a"};
	assert_int_equal(cv_bus_publish(bus, CV_BUS_AGENT_STATE, &a), 0);
	spin(&loop);
	assert_int_equal(r.n, 1); /* idle: woken at once */
	assert_int_equal(cv_bus_publish(bus, CV_BUS_AGENT_STATE, &a), 0);
	assert_int_equal(cv_bus_publish(bus, CV_BUS_AGENT_STATE, &a), 0);
	spin(&loop);
	assert_int_equal(r.n, 1); /* lingering: no wake-up per event */
	uint64_t t0 = uv_hrtime();
	while (r.n < 3 && uv_hrtime() - t0 < 10000000000ull)
		uv_run(&loop, UV_RUN_ONCE); /* until the timer fires */
	assert_int_equal(r.n, 3);
	assert_int_equal(r.seqs[1], 2);
	assert_int_equal(r.seqs[2], 3);
	/* the timer restarted by that delivery finds nothing and arms: the
	 * following event is again delivered without waiting */
	t0 = uv_hrtime();
	while (uv_hrtime() - t0 < 1500000000ull) {
		uv_run(&loop, UV_RUN_NOWAIT);
		nanosleep(&(struct timespec){0, 10000000}, NULL);
	}
	assert_int_equal(cv_bus_publish(bus, CV_BUS_AGENT_STATE, &a), 0);
	spin(&loop);
	assert_int_equal(r.n, 4);
	/* unsubscribe while the timer runs: both handles close */
	assert_int_equal(cv_bus_publish(bus, CV_BUS_AGENT_STATE, &a), 0);
	cv_bus_unsubscribe(s);
	loop_finish(&loop);
	rec_clear(&r);
	cv_bus_destroy(bus);
}

static void test_unsubscribe_in_callback(void **state)
{
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct cv_bus *bus;
	assert_int_equal(cv_bus_create(&bus, NULL), 0);
	struct rec a = {.unsub_after = 3}, b = {0};
	struct cv_bus_sub *sb;
	assert_int_equal(
		cv_bus_subscribe(bus,
				 &(struct cv_bus_sub_params){.loop = &loop,
							     .fn = on_event,
							     .arg = &a},
				 &a.self),
		0);
	assert_int_equal(
		cv_bus_subscribe(bus,
				 &(struct cv_bus_sub_params){.loop = &loop,
							     .fn = on_event,
							     .arg = &b},
				 &sb),
		0);
	/* a's callback also removes b, which has events queued */
	a.other = &sb;
	struct cv_bus_reg reg = {.aor = "sip:a@x"};
	for (int i = 0; i < 10; i++)
		assert_int_equal(cv_bus_publish(bus, CV_BUS_REG_ADDED, &reg),
				 0);
	spin(&loop);
	assert_int_equal(a.n, 3);
	assert_true(b.n <= 10);
	unsigned bn = b.n;
	/* nobody is subscribed any more */
	assert_int_equal(cv_bus_publish(bus, CV_BUS_REG_ADDED, &reg), 0);
	loop_finish(&loop);
	assert_int_equal(a.n, 3);
	assert_int_equal(b.n, bn);
	rec_clear(&a);
	rec_clear(&b);
	/* queued events were released with the subscriptions */
	assert_int_equal(cv_bus_live_events(), 0);
	cv_bus_destroy(bus);
}

static void test_post_and_errors(void **state)
{
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct cv_bus *bus;
	assert_int_equal(
		cv_bus_create(&bus,
			      &(struct cv_bus_params){.max_publishers = 1}),
		0);
	struct rec r = {0};
	struct cv_bus_sub *s;
	struct cv_bus_sub_params bad = {.loop = &loop, .fn = on_event};
	bad.topics = 1u << 30;
	assert_int_equal(cv_bus_subscribe(bus, &bad, &s), -EINVAL);
	bad.topics = 0;
	bad.queue_cap = (size_t)1 << 30;
	assert_int_equal(cv_bus_subscribe(bus, &bad, &s), -EINVAL);
	bad.queue_cap = 0;
	bad.fn = NULL;
	assert_int_equal(cv_bus_subscribe(bus, &bad, &s), -EINVAL);
	assert_int_equal(
		cv_bus_subscribe(bus,
				 &(struct cv_bus_sub_params){.loop = &loop,
							     .fn = on_event,
							     .arg = &r},
				 &s),
		0);

	struct cv_bus_event *ev;
	struct cv_bus_cdr cdr = {.cdr_id = "1"};
	assert_int_equal(cv_bus_event_create(&ev, CV_BUS_CDR_WRITTEN, &cdr), 0);
	/* a shared event cannot be posted (it would be stamped under a reader)
	 */
	cv_bus_event_ref(ev);
	assert_int_equal(cv_bus_post(bus, ev), -EINVAL);
	assert_int_equal(cv_bus_post(bus, ev), 0);
	/* a type of another payload kind is refused (and the event released) */
	assert_int_equal(cv_bus_event_create(&ev, CV_BUS_CDR_WRITTEN, &cdr), 0);
	ev->type = CV_BUS_QUALITY_REPORT;
	assert_int_equal(cv_bus_post(bus, ev), -EINVAL);
	assert_int_equal(cv_bus_publish(bus, CV_BUS_TYPE_COUNT, &cdr), -EINVAL);
	spin(&loop);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.kept->u.cdr.cdr_id, "1");
	cv_bus_unsubscribe(s);
	loop_finish(&loop);
	rec_clear(&r);
	cv_bus_destroy(bus);
}

/* The close callback of a removed subscription may run after the bus is
 * gone; queued events are released then. */
static void test_destroy_before_close(void **state)
{
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct cv_bus *bus;
	assert_int_equal(cv_bus_create(&bus, NULL), 0);
	struct rec r = {0};
	struct cv_bus_sub *s;
	assert_int_equal(cv_bus_subscribe(bus,
					  &(struct cv_bus_sub_params){
						  .loop = &loop,
						  .fn = on_event,
						  .arg = &r,
					  },
					  &s),
			 0);
	struct cv_bus_system sys = {.node = "n"};
	assert_int_equal(cv_bus_publish(bus, CV_BUS_SYSTEM_STOPPING, &sys), 0);
	assert_int_equal(cv_bus_live_events(), 1);
	cv_bus_unsubscribe(s);
	cv_bus_destroy(bus);
	loop_finish(&loop);
	assert_int_equal(r.n, 0);
	assert_int_equal(cv_bus_live_events(), 0);
}

static void *publish_once(void *arg)
{
	struct cv_bus_cdr cdr = {.cdr_id = "1"};
	return (void *)(intptr_t)cv_bus_publish(arg, CV_BUS_CDR_WRITTEN, &cdr);
}

static void test_max_publishers(void **state)
{
	struct cv_bus *bus;
	assert_int_equal(
		cv_bus_create(&bus,
			      &(struct cv_bus_params){.max_publishers = 1}),
		0);
	struct cv_bus_cdr cdr = {.cdr_id = "1"};
	assert_int_equal(cv_bus_publish(bus, CV_BUS_CDR_WRITTEN, &cdr), 0);
	pthread_t th;
	void *ret;
	assert_int_equal(pthread_create(&th, NULL, publish_once, bus), 0);
	pthread_join(th, &ret);
	assert_int_equal((int)(intptr_t)ret, CV_ETOOBIG);
	/* this thread keeps its slot */
	assert_int_equal(cv_bus_publish(bus, CV_BUS_CDR_WRITTEN, &cdr), 0);
	cv_bus_destroy(bus);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json_each_type, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_json_hostile_strings,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_order_and_filter, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_drop_policy, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_block_policy, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_linger, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsubscribe_in_callback,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_post_and_errors, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_destroy_before_close,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_publishers, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
