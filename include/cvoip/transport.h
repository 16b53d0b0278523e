/*
 * cvoip transport: SIP over UDP, TCP, TLS, WS and WSS (RFC 3261 §18,
 * RFC 7118), sharded across the workers of a cv_rt runtime, with RFC 3263
 * resolution (c-ares) and RFC 3261 §18.2.2 / RFC 3581 response routing.
 *
 * Threads and ownership (ARCHITECTURE.md):
 * - cv_tp_create() (any thread, before cv_rt_start) parses nothing, binds
 *   every listening socket: for each listener, one socket per worker with
 *   SO_REUSEPORT (so bind errors surface at start and port 0 resolves to one
 *   port shared by all workers). cv_tp_worker_start(), called by the
 *   application from the runtime's on_start, attaches this worker's sockets
 *   to its loop; cv_tp_worker_stop() from on_stop closes them and every
 *   connection the worker owns.
 * - A message is delivered (handler->recv) on the worker that owns its
 *   Call-ID (cv_rt_owner over the Call-ID value): bytes that land on another
 *   worker are copied once and posted to the owner.
 * - A stream connection (TCP, TLS, WS, WSS) belongs to the worker that
 *   accepted or opened it. struct cv_tp_conn is refcounted and its identity
 *   fields are immutable, so any worker may hold a reference and send on it:
 *   the bytes are posted to the owner.
 *
 * Every function taking a struct cv_worker * must be called on that worker's
 * thread (normally cv_worker_current()).
 */
#ifndef CVOIP_TRANSPORT_H
#define CVOIP_TRANSPORT_H

#include <netinet/in.h>
#include <sys/socket.h>

#include "cvoip/base.h"
#include "cvoip/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- transports ---------------------------------------------------------- */
enum cv_tp_kind {
	CV_TP_UDP = 0,
	CV_TP_TCP,
	CV_TP_TLS,
	CV_TP_WS,
	CV_TP_WSS,
	CV_TP_NKINDS
};

/* Via transport token: "UDP", "TCP", "TLS", "WS", "WSS". */
CV_API const char *cv_tp_kind_name(enum cv_tp_kind k);
/* Case-insensitive "udp", "tcp", "tls", "ws", "wss" (Via token or URI
 * transport= value). CV_EPARSE otherwise. */
CV_API int cv_tp_kind_parse(struct cv_pl s, enum cv_tp_kind *out);
CV_API bool cv_tp_kind_is_stream(enum cv_tp_kind k);
CV_API bool cv_tp_kind_is_secure(enum cv_tp_kind k);
/* RFC 3261 §19.1.2 / RFC 7118: 5060, 5060, 5061, 80, 443. */
CV_API uint16_t cv_tp_kind_default_port(enum cv_tp_kind k);

/* ---- addresses -------------------------------------------------------------
 * An IPv4 or IPv6 socket address. Zeroed = unset (family AF_UNSPEC). */
struct cv_tp_addr {
	struct sockaddr_storage ss;
};

/* Numeric host ("127.0.0.1", "::1", "[::1]") and port. CV_EPARSE when the
 * host is not a numeric address. */
CV_API int cv_tp_addr_set(struct cv_tp_addr *a, struct cv_pl host,
			  uint16_t port);
/* "127.0.0.1:5060", "[::1]:5060", "[fe80::1]:5060" */
CV_API int cv_tp_addr_parse(struct cv_tp_addr *a, struct cv_pl hostport);
CV_API bool cv_tp_addr_isset(const struct cv_tp_addr *a);
CV_API socklen_t cv_tp_addr_len(const struct cv_tp_addr *a);
CV_API uint16_t cv_tp_addr_port(const struct cv_tp_addr *a);
CV_API void cv_tp_addr_set_port(struct cv_tp_addr *a, uint16_t port);
CV_API bool cv_tp_addr_is_any(const struct cv_tp_addr *a);
/* Same family, address and port. */
CV_API bool cv_tp_addr_eq(const struct cv_tp_addr *a,
			  const struct cv_tp_addr *b);
/* Same family and address, port ignored. */
CV_API bool cv_tp_addr_eq_ip(const struct cv_tp_addr *a,
			     const struct cv_tp_addr *b);
/* Text forms: host only ("::1" unbracketed, for received=) and with port
 * ("[::1]:5060"). Return the length written (truncated to size). */
#define CV_TP_ADDRSTRLEN 64
CV_API size_t cv_tp_addr_host_print(const struct cv_tp_addr *a, char *buf,
				    size_t size);
CV_API size_t cv_tp_addr_print(const struct cv_tp_addr *a, char *buf,
			       size_t size);

/* ---- listen specs
 * ------------------------------------------------------------
 * `udp:127.0.0.1:5060`, `tcp:[::1]:5060`, `tls:0.0.0.0:5061`,
 * `ws:127.0.0.1:5066`, `wss:[::]:7443`. The port may be omitted (default
 * port of the transport) or 0 (the kernel picks one, shared by all workers).
 * An optional `;advertise=host[:port]` sets the sent-by written into Via for
 * requests leaving through this listener (a NAT or a wildcard bind). */
struct cv_tp_spec {
	enum cv_tp_kind kind;
	struct cv_tp_addr addr;
	char advertise_host[256]; /* "" = the bound (or routed) address */
	uint16_t advertise_port;  /* 0 = the bound port */
};

CV_API int cv_tp_spec_parse(const char *s, struct cv_tp_spec *out);
/* Canonical text of a spec ("tcp:[::1]:5060"); returns the length. */
CV_API size_t cv_tp_spec_print(const struct cv_tp_spec *s, char *buf,
			       size_t size);

/* ---- limits -----------------------------------------------------------------
 * Every bound a peer can push against. cv_tp_limits_default() fills the
 * defaults given in brackets; 0 is never "unlimited". */
struct cv_tp_limits {
	size_t max_udp_msg;	/* datagram bytes accepted [65507] */
	size_t max_stream_msg;	/* one SIP message on TCP/TLS [65536] */
	size_t max_ws_msg;	/* one SIP message in WS frames [65536] */
	size_t max_ws_frame;	/* one WebSocket frame payload [65536] */
	size_t max_http_header; /* WebSocket Upgrade request bytes [8192] */
	size_t max_send_queue;	/* bytes queued to a slow reader [1 MiB] */
	uint32_t max_conns; /* open stream connections, all workers [10000] */
	uint32_t max_conns_per_ip;   /* from one source address [64] */
	uint32_t idle_timeout_ms;    /* no bytes either way [300000] */
	uint32_t partial_timeout_ms; /* a started message must complete [10000]
				      */
	uint32_t handshake_timeout_ms; /* TLS / WS handshake [10000] */
	uint32_t connect_timeout_ms;   /* outgoing TCP connect [10000] */
};

CV_API void cv_tp_limits_default(struct cv_tp_limits *l);

/* ---- received messages ------------------------------------------------------
 */
struct cv_tp;
struct cv_tp_conn;

/* Where a message came from; kept by upper layers (e.g. a server transaction)
 * to route the response. Copy with cv_tp_meta_copy() (which takes a
 * connection reference) and release with cv_tp_meta_clear(). */
struct cv_tp_meta {
	enum cv_tp_kind kind;
	struct cv_tp_addr src;	 /* remote address (packet source) */
	struct cv_tp_addr local; /* local address it arrived on */
	struct cv_tp_conn
		*conn;	/* stream transports: the connection; UDP: NULL */
	uint64_t rx_us; /* cv_clock_us() at receipt */
};

struct cv_tp_rx {
	struct cv_tp_meta meta; /* conn is borrowed for the callback */
	const char *buf;	/* one whole SIP message, not NUL-terminated */
	size_t len;
	/* as peeked for the Call-ID handover, inside buf; empty if none,
	 * and with one worker or deliver_local (nothing to hand over) */
	struct cv_pl call_id;
	struct cv_tp *tp;
};

CV_API void cv_tp_meta_copy(struct cv_tp_meta *dst,
			    const struct cv_tp_meta *src);
CV_API void cv_tp_meta_clear(struct cv_tp_meta *m);

/* The WebSocket Upgrade request (RFC 6455 §4.2.1) as handler->ws_upgrade
 * sees it; slices valid for the call only. */
struct cv_tp_ws_req {
	struct cv_pl path; /* request-target, e.g. "/api/events" */
	struct cv_pl host;
	struct cv_pl protocols; /* Sec-WebSocket-Protocol list, may be empty */
	const struct cv_tp_addr *peer;
	enum cv_tp_kind kind; /* CV_TP_WS or CV_TP_WSS */
};

/* Events for the layer above. Called on a worker, never with a lock held. */
struct cv_tp_handler {
	/* A SIP message (request or response), on the worker owning its
	 * Call-ID. rx and its bytes are valid for the call only. Required. */
	void (*recv)(struct cv_worker *w, const struct cv_tp_rx *rx, void *arg);
	/* A stream connection closed (peer, error, timeout or limit), on its
	 * owner worker: transactions waiting on it fail over (RFC 3263 §4.3).
	 * Optional. err: 0 for an orderly close, else the reason. Not called
	 * for connections refused at accept by a limit, nor after
	 * cv_tp_worker_stop() began. */
	void (*conn_closed)(struct cv_worker *w, struct cv_tp_conn *c, int err,
			    void *arg);
	/* Optional: a WS/WSS Upgrade that does not offer the "sip"
	 * subprotocol (e.g. the API's WebSocket on /api). Return
	 * CV_TP_WS_APP to take the connection (its messages then go to
	 * ws_app_msg; *protocol, if set, is echoed as the accepted
	 * Sec-WebSocket-Protocol), anything else refuses it with 404.
	 * Without this hook such upgrades get 400 (RFC 7118 §4.1). */
	int (*ws_upgrade)(struct cv_worker *w, const struct cv_tp_ws_req *req,
			  const char **protocol, void *arg);
	/* A message on an application WebSocket, on the connection's owner
	 * worker (no Call-ID handover); data valid for the call only. */
	void (*ws_app_msg)(struct cv_worker *w, struct cv_tp_conn *c,
			   const void *data, size_t len, bool binary,
			   void *arg);
};

#define CV_TP_WS_APP 1

/* ---- TLS -------------------------------------------------------------------
 */
struct cv_tp_tls_params {
	const char *cert_file; /* server certificate chain (PEM); TLS/WSS
				  listeners need it */
	const char *key_file;  /* its private key (PEM) */
	const char *ca_file; /* CA bundle to verify peers; NULL = system default
				paths */
	bool verify_server;  /* as client: verify the server's chain and name
				[true] */
	bool verify_client;  /* as server: require and verify a client
				certificate */
	/* As client: SNI and the name to verify (and the WS/WSS Host) when a
	 * send gives no tls_name; NULL: no SNI, verify the peer's IP address.
	 */
	const char *server_name;
};

/* ---- creation
 * ---------------------------------------------------------------- */
struct cv_tp_params {
	const struct cv_tp_spec *specs; /* listeners */
	unsigned nspecs;
	const struct cv_tp_limits *limits; /* NULL: defaults */
	struct cv_tp_tls_params tls;
	/* DNS servers for RFC 3263 ("127.0.0.1:5353", "[::1]:53");
	 * NULL-terminated, NULL = the system resolver configuration. */
	const char *const *dns_servers;
	uint32_t dns_cache_max; /* cached answers per worker [1024] */
	/* UDP: receive batch (recvmmsg) size, 1 disables batching [16]. */
	unsigned udp_batch;
	/* Connections we opened (a UA's flow to its registrar or proxy):
	 * after this long without traffic send a keep-alive, CRLFCRLF on
	 * TCP/TLS (RFC 5626 §4.4.1) or a WebSocket ping, and never close
	 * them for idleness. 0: none (the idle timeout closes them). */
	uint32_t keepalive_ms;
	/* The handler keeps no state per Call-ID (a stateless responder or
	 * stateless proxy, like Kamailio's sl): every message goes to recv
	 * on the worker that read it, with no Call-ID handover. */
	bool deliver_local;
	/* RFC 5923 connection reuse: a request with `alias` in its top Via
	 * makes the accepted connection it came on also the connection for
	 * requests to the sent-by port of the peer's address. Always on for
	 * TLS when the peer's verified client certificate names the sent-by
	 * host (tls.verify_client); on plain TCP, where nothing checks the
	 * claim, only with tcp_aliases (RFC 5923 covers TLS only). */
	bool tcp_aliases;
	/* Optional registry (include/cvoip/metrics.h): every counter of
	 * struct cv_tp_stats is also published there as
	 * cvoip_transport_*_total (rejections as
	 * cvoip_transport_rejected_total{limit="..."}) plus the gauge
	 * cvoip_transport_connections_open. Must outlive the transport. */
	struct cv_metrics *metrics;
	const struct cv_tp_handler *h;
	void *arg;
};

/* Validates the parameters, loads TLS material and binds every listener
 * socket (per worker for all kinds, SO_REUSEPORT). rt must not be started. */
CV_API int cv_tp_create(struct cv_tp **tpp, struct cv_rt *rt,
			const struct cv_tp_params *p);
/* From the runtime's on_start, on worker w: attach w's sockets to its loop
 * and start its resolver. Returns 0 or an error for cv_rt_fail(). */
CV_API int cv_tp_worker_start(struct cv_tp *tp, struct cv_worker *w);
/* From on_stop: close w's sockets and every connection w owns; pending
 * sends fail, running resolutions end without calling done. */
CV_API void cv_tp_worker_stop(struct cv_tp *tp, struct cv_worker *w);
/* After cv_rt_wait() returned. */
CV_API void cv_tp_destroy(struct cv_tp *tp);

CV_API unsigned cv_tp_listener_count(const struct cv_tp *tp);
/* The bound address of listener i (port 0 in the spec resolved). */
CV_API int cv_tp_listener_addr(const struct cv_tp *tp, unsigned i,
			       enum cv_tp_kind *kind, struct cv_tp_addr *addr);

/* ---- connections ------------------------------------------------------------
 */
CV_API struct cv_tp_conn *cv_tp_conn_ref(struct cv_tp_conn *c);
CV_API void cv_tp_conn_unref(struct cv_tp_conn *c);
CV_API enum cv_tp_kind cv_tp_conn_kind(const struct cv_tp_conn *c);
CV_API const struct cv_tp_addr *cv_tp_conn_peer(const struct cv_tp_conn *c);
CV_API const struct cv_tp_addr *cv_tp_conn_local(const struct cv_tp_conn *c);
CV_API unsigned cv_tp_conn_worker(const struct cv_tp_conn *c);
/* False once the connection closed (any thread; advisory). */
CV_API bool cv_tp_conn_is_open(const struct cv_tp_conn *c);
/* Close from any worker (posted to the owner). */
CV_API void cv_tp_conn_close(struct cv_tp_conn *c);
/* Send one message on an application WebSocket (one accepted through
 * handler->ws_upgrade), text or binary, from any worker (posted to the
 * owner). CV_EUNSUPP on a SIP connection: use cv_tp_send() there. */
CV_API int cv_tp_ws_send(struct cv_tp_conn *c, const void *data, size_t len,
			 bool binary);

/* ---- sending
 * ------------------------------------------------------------------ */
/* Result of a send: 0 once the bytes were handed to the kernel (stream:
 * written to the socket), else the error (connect refused, TLS handshake
 * failed, timeout, closed): the caller fails over to its next target. On
 * the worker that called cv_tp_send(). */
typedef void(cv_tp_sent_fn)(int err, void *arg);

struct cv_tp_send_params {
	/* Send on this connection when set and still open (responses on the
	 * connection of their request, in-dialog requests on a flow). */
	struct cv_tp_conn *conn;
	/* Otherwise: transport and destination. For TCP/TLS/WS/WSS an open
	 * connection to dst (same transport; same local address when local
	 * is set) is reused, else one is opened. */
	enum cv_tp_kind kind;
	struct cv_tp_addr dst;
	struct cv_tp_addr local; /* optional: pick the listener bound here */
	const char *tls_name;	 /* TLS SNI + name to verify, WS Host; NULL:
				  * tls.server_name, else no SNI, verify IP */
	cv_tp_sent_fn *done;	 /* optional */
	void *arg;
};

/* Send one SIP message. Returns 0 when sent or queued (done fires later
 * for a connection being opened), or an immediate error (done not called).
 * The bytes are copied when they cannot leave at once. */
CV_API int cv_tp_send(struct cv_tp *tp, struct cv_worker *w,
		      const struct cv_tp_send_params *p, const void *buf,
		      size_t len);

/* ---- Via for outgoing requests (RFC 3261 §18.1.1) ------------------------ */
struct cv_tp_via {
	enum cv_tp_kind kind;  /* transport to use (maybe upgraded) */
	const char *transport; /* Via token, "UDP" ... */
	char host[CV_TP_ADDRSTRLEN +
		  200];		 /* sent-by host ("[::1]" bracketed) */
	uint16_t port;		 /* sent-by port */
	struct cv_tp_addr local; /* the listener address to send from */
};

struct cv_tp_via_params {
	enum cv_tp_kind kind;  /* wanted transport */
	struct cv_tp_addr dst; /* destination (chooses family, route) */
	size_t msg_len;	       /* estimated request size; 0 unknown */
	bool upgrade_large; /* §18.1.1: UDP > 1300 bytes -> TCP if listening */
};

/* The Via transport and sent-by for a request to dst: the address of a
 * listener of that transport and family (advertise= if configured; for a
 * wildcard bind, the local address the kernel routes toward dst). TCP/TLS
 * without such a listener (a client): the routed local address and port 0
 * (write sent-by without a port; responses return on the connection).
 * CV_ENOTFOUND when no listener of that kind and family exists otherwise. */
CV_API int cv_tp_via_for(struct cv_tp *tp, const struct cv_tp_via_params *p,
			 struct cv_tp_via *out);

/* ---- response routing (RFC 3261 §18.2.2, RFC 3581 §4) ----------------------
 */
/* The top Via of a request, as the layer above parsed it. */
struct cv_tp_topvia {
	enum cv_tp_kind kind;  /* Via transport */
	struct cv_pl host;     /* sent-by host (IPv6 with or without []) */
	uint16_t port;	       /* sent-by port, 0 when absent */
	struct cv_pl received; /* received= value, empty when absent */
	struct cv_pl maddr;    /* maddr= value, empty when absent */
	bool rport;	       /* rport present (with or without value) */
	uint16_t rport_value;  /* rport=N, 0 when bare */
};

enum cv_tp_resp_how {
	CV_TP_RESP_CONN, /* reliable: on rx's connection (conn set), else open
			    one to addr */
	CV_TP_RESP_ADDR, /* send to addr (UDP, or reopen a stream connection) */
	CV_TP_RESP_RESOLVE /* sent-by is a name: RFC 3263 §5 on host/port */
};

struct cv_tp_resp_route {
	enum cv_tp_resp_how how;
	enum cv_tp_kind kind;
	struct cv_tp_conn *conn; /* borrowed from meta (CV_TP_RESP_CONN) */
	struct cv_tp_addr addr;	 /* destination when known */
	struct cv_tp_addr
		local;	   /* send from here (the request's local address) */
	struct cv_pl host; /* CV_TP_RESP_RESOLVE: name to resolve */
	uint16_t port;	   /* CV_TP_RESP_RESOLVE: port, 0 = SRV */
};

/* Where a response to a request received with meta and top Via goes.
 * Reliable: the request's connection; if it closed, received (or source)
 * address with the sent-by port. Unreliable: maddr (multicast, port from
 * sent-by), else received/source address with rport when the request had
 * rport (RFC 3581), else with the sent-by port (default 5060). */
CV_API int cv_tp_resp_route(const struct cv_tp_meta *meta,
			    const struct cv_tp_topvia *via,
			    struct cv_tp_resp_route *out);

/* Send a response along cv_tp_resp_route(): on the connection (reopened
 * to addr for TCP/TLS if it closed) or to addr. CV_EUNSUPP for
 * CV_TP_RESP_RESOLVE: resolve the sent-by with cv_tp_resolve() first. */
CV_API int cv_tp_send_resp(struct cv_tp *tp, struct cv_worker *w,
			   const struct cv_tp_resp_route *r, const void *buf,
			   size_t len);

/* ---- RFC 5626 flow tokens (§5.2) ----------------------------------------- */
/* An edge proxy or registrar supporting outbound puts the flow a request
 * arrived on (transport, local and remote address, and for TCP/TLS/WS/WSS
 * the connection) into a Path or Record-Route URI as a token, and later
 * sends requests back on that flow. Tokens are base64url (URI-safe) with
 * an HMAC under a random per-process key. */
#define CV_TP_FLOW_TOKEN_MAX 96

/* Writes the token of m's flow (NUL-terminated, size >=
 * CV_TP_FLOW_TOKEN_MAX). Returns its length, -EINVAL for a stream meta
 * without a connection or an unset address. */
CV_API int cv_tp_flow_token(const struct cv_tp_meta *m, char *out, size_t size);
/* Turns a token back into send parameters (kind, dst, local; for streams
 * conn with a reference the caller drops with cv_tp_conn_unref()).
 * CV_EPARSE when it is not a token of this process or was altered (§5.2:
 * a proxy answers 403), CV_ENOTFOUND when its connection closed (§5.3:
 * 430 Flow Failed). Any thread. */
CV_API int cv_tp_flow_resolve(struct cv_tp *tp, struct cv_pl token,
			      struct cv_tp_send_params *out);

/* ---- RFC 3263 resolution
 * ------------------------------------------------------ */
#define CV_TP_MAX_TARGETS 16

struct cv_tp_target {
	enum cv_tp_kind kind;
	struct cv_tp_addr addr;
	char name[256]; /* the host name the target came from (TLS name) */
};

struct cv_tp_targets {
	unsigned n;
	struct cv_tp_target t[CV_TP_MAX_TARGETS];
};

/* err 0: targets ordered (NAPTR order/preference, SRV priority, weighted
 * random within a priority, AAAA/A order) for failover; the caller tries
 * t[0], then t[1] on transport error or 503. On the calling worker. */
typedef void(cv_tp_resolved_fn)(int err, const struct cv_tp_targets *t,
				void *arg);

struct cv_tp_resolve_params {
	struct cv_pl host;    /* URI host (name or numeric, IPv6 with []) */
	uint16_t port;	      /* URI port, 0 when absent */
	bool has_transport;   /* URI transport= present */
	enum cv_tp_kind kind; /* its value */
	bool sips;	      /* sips: URI */
	struct cv_pl maddr;   /* maddr= (RFC 3263 §4: replaces host) */
	cv_tp_resolved_fn *done;
	void *arg;
};

struct cv_tp_query;

/* RFC 3263 §4: numeric hosts (and maddr) answer at once (done called
 * before return, *qp NULL; also when every answer was cached); names go
 * through NAPTR -> SRV -> A then AAAA on w's c-ares channel, with a
 * per-worker TTL cache. UDP targets need a UDP listener of the family;
 * TCP/TLS targets are connect-only; WS/WSS are never chosen. qp may be
 * NULL. */
CV_API int cv_tp_resolve(struct cv_tp *tp, struct cv_worker *w,
			 const struct cv_tp_resolve_params *p,
			 struct cv_tp_query **qp);
/* done never fires after this. */
CV_API void cv_tp_query_cancel(struct cv_tp_query *q);

/* ---- statistics
 * ---------------------------------------------------------------- Per-worker
 * counters summed on read (and mirrored into the metrics registry given at
 * creation). */
struct cv_tp_stats {
	uint64_t rx_msgs[CV_TP_NKINDS];
	uint64_t tx_msgs[CV_TP_NKINDS];
	uint64_t handover;	   /* messages posted to their owner worker */
	uint64_t handover_dropped; /* owner queue full */
	uint64_t conns_open;	   /* currently open stream connections */
	uint64_t conns_accepted;
	uint64_t conns_connected;
	uint64_t conns_closed;
	/* what each limit rejected */
	uint64_t rej_udp_too_big;
	uint64_t rej_stream_too_big;
	uint64_t rej_ws_too_big; /* frame or message over its limit */
	uint64_t rej_http_bad;	 /* bad or oversized Upgrade request */
	uint64_t rej_max_conns;
	uint64_t rej_per_ip;
	uint64_t rej_idle;
	uint64_t rej_partial;	 /* stalled partial message */
	uint64_t rej_handshake;	 /* TLS/WS handshake failed or timed out */
	uint64_t rej_send_queue; /* slow reader: send queue overflow */
	uint64_t rej_garbage;	 /* unframable input / no Call-ID */
	uint64_t keepalive_pong; /* keep-alives answered: CRLFCRLF on
				    streams, STUN Binding on UDP (RFC 5626) */
	uint64_t dns_queries;
	uint64_t dns_cache_hits;
	uint64_t dns_failures;
	uint64_t udp_batches;	  /* recvmmsg calls that returned data */
	uint64_t sl_bad_requests; /* unparsable requests answered statelessly
				     with the parser's verdict (400 ...) */
	uint64_t aliases; /* connections aliased to a Via sent-by (RFC 5923) */
};

CV_API void cv_tp_stats_read(const struct cv_tp *tp, struct cv_tp_stats *out);

/* ---- stateless responder (until the upper layers exist) --------------------
 */
struct cv_tp_sl_params {
	int other_status; /* final status for non-OPTIONS: 501 or 503 [501] */
	uint32_t retry_after;  /* with 503: Retry-After seconds, 0 = none */
	const char *allow;     /* Allow value [common methods] */
	const char *accept;    /* Accept value ["application/sdp"] */
	const char *supported; /* Supported value [""] */
	const char *server;    /* Server value ["cvoip"] */
};

/* Answer rx statelessly (RFC 3261 §8.2.6, §18.2.2, RFC 3581 received/rport):
 * OPTIONS -> 200 with Allow/Accept/Supported; ACK -> nothing; other
 * requests -> p->other_status (Retry-After with 503); responses ->
 * nothing. A request the parser rejects gets the parser's verdict (400,
 * 413, 414, 505, 513; counted in sl_bad_requests) when its Via, From, To,
 * Call-ID and CSeq lines can still be found and parsed (RFC 3261
 * §8.2.6.2); other unparsable messages, and ACKs, are dropped and counted
 * (rej_garbage). p may be NULL (defaults). Returns 0, the parse error
 * (also when a verdict was sent), or the send error. */
CV_API int cv_tp_stateless_reply(struct cv_tp *tp, struct cv_worker *w,
				 const struct cv_tp_rx *rx,
				 const struct cv_tp_sl_params *p);

#ifdef __cplusplus
}
#endif

#endif
