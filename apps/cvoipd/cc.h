/* cvoipd: the call center (src/callcenter glue) from the configuration. */
#ifndef CVOIPD_CC_H
#define CVOIPD_CC_H

#include "cvoip/server.h"

#include "conf.h"

struct cvoipd_cc;
struct cv_bus;
struct cv_store;
struct cv_tp;

/* *out NULL when no queue is configured (no call center). tp: the
 * server's transport (its first listener is where the glue sends agent
 * calls). */
int cvoipd_cc_create(struct cvoipd_cc **out, const struct cvoipd_conf *c,
		     struct cv_tp *tp, struct cv_bus *bus,
		     struct cv_store *store);
/* The internal user the glue authenticates as (for the server's list). */
void cvoipd_cc_user(const struct cvoipd_cc *cc, struct cv_srv_user *u);
/* The server's route hook and its argument. */
void *cvoipd_cc_route_arg(struct cvoipd_cc *cc);
/* Starts the glue; a refused queue or agent is printed as file:line. */
int cvoipd_cc_start(struct cvoipd_cc *cc, const struct cvoipd_conf *c,
		    struct cv_srv *srv);
void cvoipd_cc_destroy(struct cvoipd_cc *cc);

#endif
