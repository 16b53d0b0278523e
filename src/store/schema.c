/* Schema migrations: numbered SQL shared by both backends, recorded in
 * schema_version, applied at open inside one exclusive transaction. A
 * database newer than this binary is refused rather than misread. */
#include <stdio.h>

#include "store_int.h"

/* Portable SQL only: TEXT, BIGINT, DOUBLE PRECISION, no autoincrement (ids
 * are random tokens made by the store), children deleted explicitly. */
static const char *const migrations[CV_STORE_SCHEMA_VERSION] = {
	/* 1: every table */
	"CREATE TABLE users ("
	" name TEXT NOT NULL, realm TEXT NOT NULL,"
	" ha1_md5 TEXT NOT NULL, ha1_sha256 TEXT NOT NULL,"
	" ha1_sha512_256 TEXT NOT NULL, created_us BIGINT NOT NULL,"
	" PRIMARY KEY (name, realm));"
	"CREATE TABLE bindings ("
	" aor TEXT NOT NULL, contact TEXT NOT NULL,"
	" instance_id TEXT NOT NULL, reg_id BIGINT NOT NULL,"
	" path TEXT NOT NULL, received TEXT NOT NULL, transport TEXT NOT NULL,"
	" expires_us BIGINT NOT NULL, q BIGINT NOT NULL,"
	" call_id TEXT NOT NULL, cseq BIGINT NOT NULL,"
	" user_agent TEXT NOT NULL, updated_us BIGINT NOT NULL,"
	" PRIMARY KEY (aor, contact));"
	"CREATE TABLE cdrs ("
	" id TEXT PRIMARY KEY, call_id TEXT NOT NULL,"
	" caller TEXT NOT NULL, callee TEXT NOT NULL,"
	" start_us BIGINT NOT NULL, answer_us BIGINT NOT NULL,"
	" end_us BIGINT NOT NULL, end_reason TEXT NOT NULL,"
	" hangup_by TEXT NOT NULL, nlegs BIGINT NOT NULL);"
	"CREATE TABLE cdr_legs ("
	" cdr_id TEXT NOT NULL, idx BIGINT NOT NULL, call_id TEXT NOT NULL,"
	" peer TEXT NOT NULL, codec TEXT NOT NULL, pkts_sent BIGINT NOT NULL,"
	" pkts_recv BIGINT NOT NULL, pkts_lost BIGINT NOT NULL,"
	" jitter_ms DOUBLE PRECISION NOT NULL, mos DOUBLE PRECISION NOT NULL,"
	" PRIMARY KEY (cdr_id, idx));"
	"CREATE TABLE trunks ("
	" name TEXT PRIMARY KEY, host TEXT NOT NULL, port BIGINT NOT NULL,"
	" transport TEXT NOT NULL, username TEXT NOT NULL,"
	" password TEXT NOT NULL, realm TEXT NOT NULL,"
	" do_register BIGINT NOT NULL, expires_s BIGINT NOT NULL);"
	"CREATE TABLE routes ("
	" name TEXT PRIMARY KEY, prefix TEXT NOT NULL, pattern TEXT NOT NULL,"
	" trunk TEXT NOT NULL, priority BIGINT NOT NULL, media TEXT NOT NULL);"
	"CREATE TABLE agents ("
	" name TEXT PRIMARY KEY, max_calls BIGINT NOT NULL,"
	" wrapup_s BIGINT NOT NULL, state BIGINT NOT NULL,"
	" reason TEXT NOT NULL, since_us BIGINT NOT NULL);"
	"CREATE TABLE agent_skills ("
	" agent TEXT NOT NULL, skill TEXT NOT NULL,"
	" level BIGINT NOT NULL CHECK (level BETWEEN 1 AND 10),"
	" PRIMARY KEY (agent, skill));"
	"CREATE TABLE queues ("
	" name TEXT PRIMARY KEY, strategy TEXT NOT NULL, params TEXT NOT NULL);"
	"CREATE TABLE queue_calls ("
	" id TEXT PRIMARY KEY, queue TEXT NOT NULL, call_id TEXT NOT NULL,"
	" caller TEXT NOT NULL, priority BIGINT NOT NULL,"
	" arrival_us BIGINT NOT NULL, answer_us BIGINT NOT NULL,"
	" end_us BIGINT NOT NULL, outcome BIGINT NOT NULL,"
	" agent TEXT NOT NULL, wait_us BIGINT NOT NULL,"
	" handle_us BIGINT NOT NULL, overflow_target TEXT NOT NULL);"
	"CREATE TABLE stats ("
	" scope TEXT NOT NULL, name TEXT NOT NULL, at_us BIGINT NOT NULL,"
	" data TEXT NOT NULL, PRIMARY KEY (scope, name, at_us));",
	/* 2: indexes for the time-range and expiry queries */
	"CREATE INDEX bindings_expires ON bindings (expires_us);"
	"CREATE INDEX cdrs_start ON cdrs (start_us, id);"
	"CREATE INDEX cdrs_call_id ON cdrs (call_id);"
	"CREATE INDEX queue_calls_queue ON queue_calls (queue, arrival_us);"
	"CREATE INDEX queue_calls_arrival ON queue_calls (arrival_us);"
	"CREATE INDEX stats_at ON stats (at_us);",
};

static int version_row(struct db_row *r, void *arg)
{
	*(int64_t *)arg = db_i64(r, 0);
	return 0;
}

int store_migrate(struct db *db)
{
	if (db_exec(db, "CREATE TABLE IF NOT EXISTS schema_version ("
			" version BIGINT PRIMARY KEY,"
			" applied_us BIGINT NOT NULL)"))
		return CV_EDB;
	if (db_exec(db, db->vt->begin_exclusive_sql))
		return CV_EDB;
	int64_t cur = 0;
	int err = db_run(db,
			 "SELECT COALESCE(MAX(version), 0) FROM schema_version",
			 NULL, 0, version_row, &cur, NULL);
	if (err)
		goto fail;
	if (cur > CV_STORE_SCHEMA_VERSION) {
		snprintf(db->errmsg, sizeof(db->errmsg),
			 "database schema v%lld is newer than this cvoip "
			 "(v%d): upgrade cvoip",
			 (long long)cur, CV_STORE_SCHEMA_VERSION);
		err = CV_EDB;
		goto fail;
	}
	for (int64_t v = cur + 1; v <= CV_STORE_SCHEMA_VERSION; v++) {
		err = db_exec(db, migrations[v - 1]);
		if (!err) {
			struct dbv p[2] = {V_I(v), V_I(cv_clock_wall_us())};
			err = db_run(db,
				     "INSERT INTO schema_version (version, "
				     "applied_us) VALUES (?, ?)",
				     p, 2, NULL, NULL, NULL);
		}
		if (err) {
			char msg[sizeof(db->errmsg)];
			snprintf(msg, sizeof(msg), "migration %lld: %.200s",
				 (long long)v, db->errmsg);
			snprintf(db->errmsg, sizeof(db->errmsg), "%s", msg);
			goto fail;
		}
		cv_log(CV_LOG_INFO, "store", "applied schema migration %lld",
		       (long long)v);
	}
	if (db_exec(db, "COMMIT"))
		return CV_EDB;
	return 0;
fail : {
	char msg[sizeof(db->errmsg)];
	snprintf(msg, sizeof(msg), "%s", db->errmsg);
	db->vt->exec(db, "ROLLBACK");
	snprintf(db->errmsg, sizeof(db->errmsg), "%s", msg);
}
	return err ? err : CV_EDB;
}
