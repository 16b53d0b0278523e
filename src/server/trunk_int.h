/* Trunks (trunk.c): upstream SIP servers that calls are routed to by
 * prefix or pattern, with their own digest credentials, outbound
 * registration and failover between the trunks of a route
 * (docs/server.md, "Trunks"). */
#ifndef CV_SERVER_TRUNK_INT_H
#define CV_SERVER_TRUNK_INT_H

#include "server_int.h"

struct trunk_set;
struct trunk_route;
struct trunk_leg;

/* From s->p.trunks / s->p.routes (copied); -EINVAL (logged) for a route
 * naming an unknown trunk, a bad pattern or a bad transport. Numeric
 * hosts are their address; names are resolved by the worker owning the
 * trunk once workers start (RFC 3263, trunks_worker_start), so no DNS
 * here. Sets s->trunks (NULL when nothing is configured). */
int trunks_create(struct cv_srv *s);
void trunks_destroy(struct cv_srv *s);
/* Outbound registrations, OPTIONS pings and DNS re-resolution of the
 * trunks this worker owns. */
void trunks_worker_start(struct srv_worker *sw);
void trunks_worker_stop(struct srv_worker *sw);
/* A response on client transaction ct: true when it was one of ours (a
 * trunk REGISTER), handled. */
bool trunks_response(struct srv_worker *sw, struct cv_txn *ct,
		     const struct cv_txn_resp *r);
void trunks_stats(struct cv_srv *s, struct cv_srv_stats *out);

/* The name of the trunk a request came from (its source address is one
 * of the trunk's resolved targets: IP, and port for a UDP target), or
 * NULL. Any worker. */
const char *trunk_source(struct cv_srv *s, const struct cv_txn_addr *src);
/* The first route (by priority) whose prefix and pattern match the
 * dialled user, or NULL. */
const struct trunk_route *trunk_route_find(struct cv_srv *s, struct cv_pl user);
/* Media of the route: true relay, false direct. */
bool trunk_route_relay(const struct trunk_route *rt);
/* SRTP policy toward the route's trunks. */
enum cv_srv_srtp trunk_route_srtp(const struct trunk_route *rt);
/* Inbound DID mapping for a call from trunk `trunk` (trunk_source's
 * name): true with *user pointing at the local user (server lifetime)
 * when the number is mapped. */
bool trunk_did_map(struct cv_srv *s, const char *trunk, struct cv_pl *user);
/* Where the route's first usable trunk is reached (its first target);
 * CV_ENOTFOUND while it is not resolved. */
int trunk_route_dst(struct srv_worker *sw, const struct trunk_route *rt,
		    struct cv_txn_addr *out);

/* An outgoing leg to a route's trunks. */
struct trunk_out {
	const struct trunk_route *route;
	struct cv_pl user;   /* dialled: Request-URI and To user */
	struct cv_pl caller; /* From user */
	struct cv_pl from_display;
	struct cv_pl call_id;
	struct cv_pl headers; /* extra header lines (Allow, Supported...) */
	struct cv_pl content_type;
	struct cv_pl body;
	int max_forwards; /* as cv_ua_req.max_forwards */
	void *uarg;	  /* the B2BUA's leg */
};
/* Sends the INVITE to the route's first trunk. *tlp: the leg's trunk
 * state (trunk_leg_free), *ctp: the transaction (the caller's reference);
 * peer gets the Request-URI used (for the CDR). */
int trunk_leg_start(struct srv_worker *sw, const struct trunk_out *o,
		    struct trunk_leg **tlp, struct cv_txn **ctp, char *peer,
		    size_t peer_size);
/* Every response of the leg's current transaction (stops the failover
 * timer once the trunk answered anything). */
void trunk_leg_seen(struct trunk_leg *tl, const struct cv_txn_resp *r);
/* After a failure response r on ct: the INVITE again with credentials
 * (401/407), or to the route's next trunk (5xx, 408, timeout, transport
 * error, failed authentication). 0 with *ctp the new transaction (same
 * uarg; the caller releases ct), CV_ENOTFOUND when there is nothing left
 * to try. */
int trunk_leg_retry(struct srv_worker *sw, struct trunk_leg *tl,
		    struct cv_txn *ct, const struct cv_txn_resp *r,
		    struct cv_txn **ctp, char *peer, size_t peer_size);
void trunk_leg_free(struct trunk_leg *tl);

#endif
