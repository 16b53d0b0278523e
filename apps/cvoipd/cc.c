/* cvoipd: configuration -> the call center glue (docs/callcenter.md). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cvoip/callcenter.h"
#include "cvoip/digest.h"
#include "cvoip/transport.h"

#include "cc.h"

#define CC_USER "_callcenter"

struct cvoipd_cc {
	struct cv_cc_glue *glue;
	char password[33];
	char ha1[CV_DIGEST_HEX_MAX];
	struct cv_cc_agent_params *agents;
	struct cv_cc_skill *skills; /* agents' then queues' */
	struct cv_cc_queue_params *queues;
	struct cv_cc_relax *relax;
	struct cv_cc_config cfg; /* the glue points at it until it starts */
	struct cv_cc_glue_priority prio[64];
};

/* The server's first listener as a URI the glue can send to: a wildcard
 * address becomes loopback. */
static int server_uri(struct cv_tp *tp, char *out, size_t size)
{
	for (unsigned i = 0; i < cv_tp_listener_count(tp); i++) {
		struct cv_tp_spec ls = {0};
		if (cv_tp_listener_addr(tp, i, &ls.kind, &ls.addr) != 0)
			continue;
		if (ls.kind != CV_TP_UDP && ls.kind != CV_TP_TCP)
			continue;
		char host[INET6_ADDRSTRLEN] = "";
		uint16_t port;
		const struct sockaddr_storage *ss = &ls.addr.ss;
		if (ss->ss_family == AF_INET) {
			const struct sockaddr_in *a = (const void *)ss;
			if (a->sin_addr.s_addr == htonl(INADDR_ANY))
				snprintf(host, sizeof(host), "127.0.0.1");
			else
				inet_ntop(AF_INET, &a->sin_addr, host,
					  sizeof(host));
			port = ntohs(a->sin_port);
			snprintf(out, size, "sip:%s:%u%s", host, port,
				 ls.kind == CV_TP_TCP ? ";transport=tcp" : "");
		} else {
			const struct sockaddr_in6 *a = (const void *)ss;
			if (IN6_IS_ADDR_UNSPECIFIED(&a->sin6_addr))
				snprintf(host, sizeof(host), "::1");
			else
				inet_ntop(AF_INET6, &a->sin6_addr, host,
					  sizeof(host));
			port = ntohs(a->sin6_port);
			snprintf(out, size, "sip:[%s]:%u%s", host, port,
				 ls.kind == CV_TP_TCP ? ";transport=tcp" : "");
		}
		return 0;
	}
	return CV_ENOTFOUND;
}

int cvoipd_cc_create(struct cvoipd_cc **out, const struct cvoipd_conf *c,
		     struct cv_tp *tp, struct cv_bus *bus,
		     struct cv_store *store)
{
	*out = NULL;
	if (!c->nqueues)
		return 0;
	struct cvoipd_cc *cc = calloc(1, sizeof(*cc));
	if (!cc)
		return -ENOMEM;
	size_t nskills = 0;
	for (unsigned i = 0; i < c->nagents; i++)
		nskills += c->agents[i].nskills;
	for (unsigned i = 0; i < c->nqueues; i++)
		nskills += c->queues[i].nrequired;
	cc->agents = calloc(c->nagents + 1, sizeof(*cc->agents));
	cc->queues = calloc(c->nqueues, sizeof(*cc->queues));
	cc->skills = calloc(nskills + 1, sizeof(*cc->skills));
	cc->relax = calloc(c->nqueues * 4, sizeof(*cc->relax));
	int err = -ENOMEM;
	if (!cc->agents || !cc->queues || !cc->skills || !cc->relax)
		goto fail;
	size_t k = 0;
	for (unsigned i = 0; i < c->nagents; i++) {
		const struct cvoipd_agent *a = &c->agents[i];
		cc->agents[i] = (struct cv_cc_agent_params){
			.name = a->name,
			.skills = &cc->skills[k],
			.nskills = a->nskills,
			.max_calls = (uint32_t)a->max_calls,
			.wrapup_ms = (uint32_t)a->wrapup_ms,
		};
		for (unsigned j = 0; j < a->nskills; j++)
			cc->skills[k++] = (struct cv_cc_skill){
				a->skills[j].name, (uint8_t)a->skills[j].level};
	}
	for (unsigned i = 0; i < c->nqueues; i++) {
		const struct cvoipd_queue *q = &c->queues[i];
		enum cv_cc_strategy st = CV_CC_LONGEST_IDLE;
		cv_cc_strategy_parse(cvoipd_strategies[q->strategy], &st);
		struct cv_cc_relax *rl = &cc->relax[i * 4];
		for (unsigned j = 0; j < q->nrelax; j++)
			rl[j] = (struct cv_cc_relax){
				(uint32_t)q->relax[j].after_ms,
				(uint8_t)q->relax[j].drop, q->relax[j].any};
		cc->queues[i] = (struct cv_cc_queue_params){
			.name = q->name,
			.strategy = st,
			.required = &cc->skills[k],
			.nrequired = q->nrequired,
			.relax = rl,
			.nrelax = q->nrelax,
			.max_wait_ms = (uint32_t)q->max_wait_ms,
			.max_len = (uint32_t)q->max_len,
			.ring_timeout_ms = (uint32_t)q->ring_timeout_ms,
			.music_on_hold = q->moh,
			.overflow = q->overflow,
			.announce_ms = (uint32_t)q->announce_ms,
			.service_level_ms = (uint32_t)q->service_level_ms,
		};
		for (unsigned j = 0; j < q->nrequired; j++)
			cc->skills[k++] = (struct cv_cc_skill){
				q->required[j].name,
				(uint8_t)q->required[j].level};
	}
	cv_random_token(cc->password, sizeof(cc->password) - 1);
	err = cv_digest_ha1(CV_DIGEST_MD5, cv_pl_str(CC_USER),
			    cv_pl_str(c->realm), cv_pl_str(cc->password),
			    cc->ha1);
	char uri[160];
	if (!err)
		err = server_uri(tp, uri, sizeof(uri));
	if (err) {
		fprintf(stderr, "cvoipd: call center: no UDP or TCP listener "
				"to reach the server\n");
		goto fail;
	}
	const struct cvoipd_callcenter *ccc = &c->callcenter;
	cc->cfg = (struct cv_cc_config){.agents = cc->agents,
					.nagents = c->nagents,
					.queues = cc->queues,
					.nqueues = c->nqueues};
	struct cv_cc_glue_params gp = {
		.bus = bus,
		.store = store,
		.config = &cc->cfg,
		.engine = {.codes = {ccc->codes[0], ccc->codes[1],
				     ccc->codes[2], ccc->codes[3]},
			   .miss_limit = (uint32_t)ccc->miss_limit,
			   .miss_cooldown_ms = (uint32_t)ccc->miss_cooldown_ms,
			   .max_chain = (uint32_t)ccc->max_chain,
			   .max_callers = (size_t)ccc->max_callers,
			   .stats_period_ms = (uint32_t)ccc->stats_period_ms},
		.listen_addr = ccc->listen_address,
		.server_uri = uri,
		.auth_user = CC_USER,
		.auth_password = cc->password,
		.sounds_dir = ccc->sounds_dir,
		.music_on_hold = ccc->music_on_hold,
		.announce_position = ccc->announce_position,
		.code_prompts = ccc->code_prompts,
	};
	for (unsigned i = 0;
	     i < ccc->npriorities && i < CV_ARRAY_SIZE(cc->prio); i++)
		cc->prio[i] = (struct cv_cc_glue_priority){
			ccc->priorities[i].pattern,
			(int32_t)ccc->priorities[i].priority};
	gp.priorities = cc->prio;
	gp.npriorities = ccc->npriorities;
	err = cv_cc_glue_create(&cc->glue, &gp);
	if (err)
		goto fail;
	*out = cc;
	return 0;
fail:
	cvoipd_cc_destroy(cc);
	return err;
}

void cvoipd_cc_user(const struct cvoipd_cc *cc, struct cv_srv_user *u)
{
	*u = (struct cv_srv_user){.name = CC_USER, .ha1_md5 = cc->ha1};
}

void *cvoipd_cc_route_arg(struct cvoipd_cc *cc)
{
	return cc->glue;
}

int cvoipd_cc_start(struct cvoipd_cc *cc, const struct cvoipd_conf *c,
		    struct cv_srv *srv)
{
	struct cv_cc_cfg_err e;
	cv_cc_glue_set_server(cc->glue, srv);
	int err = cv_cc_glue_start(cc->glue, &e);
	if (!err)
		return 0;
	const char *file = cv_cfg_file(c->cfg);
	if (e.msg[0] && e.queue >= 0 && (unsigned)e.queue < c->nqueues)
		fprintf(stderr, "cvoipd: %s:%u: %s\n", file ? file : "config",
			c->queues[e.queue].line, e.msg);
	else if (e.msg[0] && e.agent >= 0 && (unsigned)e.agent < c->nagents)
		fprintf(stderr, "cvoipd: %s:%u: %s\n", file ? file : "config",
			c->agents[e.agent].line, e.msg);
	else if (e.msg[0])
		fprintf(stderr, "cvoipd: call center: %s\n", e.msg);
	else
		fprintf(stderr, "cvoipd: call center: %s\n", cv_strerror(err));
	return err;
}

void cvoipd_cc_destroy(struct cvoipd_cc *cc)
{
	if (!cc)
		return;
	cv_cc_glue_destroy(cc->glue);
	free(cc->agents);
	free(cc->queues);
	free(cc->skills);
	free(cc->relax);
	free(cc);
}
