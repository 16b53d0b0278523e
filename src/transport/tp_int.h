/* Private structures of the transport module. */
#ifndef CV_TP_INT_H
#define CV_TP_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>

#include <openssl/ssl.h>
#include <wslay/wslay.h>

#include "cvoip/metrics.h"
#include "cvoip/transport.h"

#define TP_MOD		 "transport"
#define TP_UDP_BATCH_MAX 64
#define TP_TX_ARENA	 (256 * 1024)
#define TP_PERIP_BUCKETS 4096
#define TP_CT_SHARDS	 64
#define TP_READ_BUF	 (64 * 1024)
#define TP_SL_MAX	 (64 * 1024) /* largest stateless response */

/* Single-writer counters: the owner worker bumps, any thread reads; the
 * same event goes to the metrics registry when one was given (the series
 * of each stats field sits at the field's index in tp->mx). */
#define TP_NSTATS     (sizeof(struct cv_tp_stats) / sizeof(uint64_t))
#define TP_INC(tw, f) TP_ADD(tw, f, 1)
#define TP_ADD(tw, f, n)                                                       \
	do {                                                                   \
		__atomic_store_n(                                              \
			&(tw)->stats.f,                                        \
			__atomic_load_n(&(tw)->stats.f, __ATOMIC_RELAXED) +    \
				(n),                                           \
			__ATOMIC_RELAXED);                                     \
		cv_metric_add((tw)->tp->mx[offsetof(struct cv_tp_stats, f) /   \
					   sizeof(uint64_t)],                  \
			      (n));                                            \
	} while (0)

struct tp_worker;

/* One configured listener; its sockets (one per worker) are bound at
 * cv_tp_create(). */
struct tp_listener {
	struct cv_tp_spec spec;
	struct cv_tp_addr bound;
	int *fds; /* [nworkers], -1 once handed to a loop */
};

struct tp_udp {
	uv_poll_t poll;
	int fd;
	unsigned li; /* listener index */
	struct tp_worker *tw;
	bool active;
	bool any; /* wildcard bind: PKTINFO in and out */
};

struct tp_slis {
	uv_tcp_t tcp;
	unsigned li;
	struct tp_worker *tw;
	bool active;
};

struct tp_txent {
	struct cv_tp_addr dst;
	struct cv_tp_addr src; /* wildcard listener: source to use, or unset */
	int fd;
	size_t off, len;
};

struct tp_dns;

struct tp_worker {
	struct cv_tp *tp;
	struct cv_worker *w;
	unsigned idx;
	bool started;
	struct tp_udp *udp;   /* [nlis], used where the listener is UDP */
	struct tp_slis *slis; /* [nlis], used where the listener is a stream */
	struct cv_tp_conn *conns; /* owned connections (doubly linked) */
	unsigned nclosing;	  /* handles whose close callback is pending */
	struct cv_tp_stats stats;

	/* UDP batching (recvmmsg / sendmmsg) */
	unsigned batch;
	struct mmsghdr rxm[TP_UDP_BATCH_MAX];
	struct iovec rxiov[TP_UDP_BATCH_MAX];
	struct cv_tp_addr rxsrc[TP_UDP_BATCH_MAX];
	/* IP_PKTINFO / IPV6_PKTINFO of each datagram (wildcard listeners) */
	char rxctl[TP_UDP_BATCH_MAX][64];
	char *rxbuf;		     /* batch * (max_udp_msg + 1) */
	const struct tp_udp *rx_for; /* socket the headers are set up for */
	unsigned rx_used;	     /* headers the last receive wrote to */
	size_t rxslot;
	bool in_batch;
	struct tp_txent tx[TP_UDP_BATCH_MAX];
	unsigned ntx;
	char *txarena; /* TP_TX_ARENA bytes */
	size_t txused;

	char readbuf[TP_READ_BUF]; /* stream reads */
	char *slout;		   /* stateless response, TP_SL_MAX bytes */
	struct tp_dns *dns;
};

/* Connection table: every open stream connection, for reuse by any worker
 * (a shard mutex on insert/remove/lookup; the receive path takes none). */
struct tp_ctent {
	struct tp_ctent *next;
	struct cv_tp_conn *c;  /* holds a reference */
	struct cv_tp_addr key; /* c->peer, or its RFC 5923 alias */
};

struct tp_ctshard {
	pthread_mutex_t mu;
	struct tp_ctent *head;
};

struct cv_tp {
	struct cv_rt *rt;
	unsigned nworkers;
	struct cv_tp_limits lim;
	const struct cv_tp_handler *h;
	void *arg;
	struct tp_listener *lis;
	unsigned nlis;
	struct tp_worker **tw;
	SSL_CTX *ssl_srv;
	SSL_CTX *ssl_cli;
	bool verify_server;
	char *tls_server_name; /* default SNI / name to verify, or NULL */
	unsigned udp_batch;
	bool deliver_local;    /* no Call-ID handover (cv_tp_params) */
	bool tcp_aliases;      /* RFC 5923 alias honoured on plain TCP */
	uint32_t keepalive_ms; /* outgoing stream connections, 0 = none */
	char *dns_csv;	       /* "a:p,b:p" or NULL */
	uint32_t dns_cache_max;
	bool ares_init;

	struct cv_metric *mx[sizeof(struct cv_tp_stats) / sizeof(uint64_t)];
	struct cv_metric *m_open; /* gauge: open stream connections */
	_Atomic uint32_t nconns;
	_Atomic uint16_t perip[TP_PERIP_BUCKETS];
	uint64_t perip_seed;
	struct tp_ctshard ct[TP_CT_SHARDS];
};

enum tp_conn_state {
	TP_C_CONNECTING = 0,
	TP_C_TLS_HS,
	TP_C_WS_HS,
	TP_C_OPEN,
	TP_C_CLOSED
};

/* A message waiting for a connection to open. */
struct tp_pend {
	struct tp_pend *next;
	cv_tp_sent_fn *done;
	void *arg;
	struct tp_worker *origin;
	size_t len;
	char data[];
};

struct cv_tp_conn {
	/* immutable after creation: readable from any worker */
	struct cv_tp *tp;
	struct tp_worker *tw;
	enum cv_tp_kind kind;
	struct cv_tp_addr peer;
	struct cv_tp_addr local;
	bool outgoing;
	char tls_name[256];
	uint32_t ipbucket;
	_Atomic bool open;

	/* owner worker only */
	struct cv_tp_conn *next, *prev;
	uv_tcp_t tcp;
	uv_connect_t creq;
	enum tp_conn_state st;
	bool counted;	/* holds a slot in nconns */
	bool ipcounted; /* and one in its perip bucket (accepted only) */
	bool in_table;
	bool handle_init;
	bool closing; /* tp_conn_close() running */
	bool aliased; /* RFC 5923: also in the table under alias */
	struct cv_tp_addr alias;
	struct cv_buf rbuf; /* plaintext: SIP stream, or the HTTP Upgrade */
	uint64_t last_us;
	struct cv_tmr idle_tmr, partial_tmr, hs_tmr;
	SSL *ssl;
	wslay_event_context_ptr ws;
	const char *wsin;
	size_t wsin_len;
	bool ws_fail;
	bool ws_app; /* application WebSocket, not SIP (handler->ws_upgrade) */
	char ws_key[32]; /* outgoing WS/WSS: our Sec-WebSocket-Key (RFC 6455
			    §4.1) */
	struct tp_pend *pend, **pend_tail;
	size_t pend_bytes;
	int close_err;
};

/* metrics.c */
int tp_metrics_register(struct cv_tp *tp, struct cv_metrics *m);

/* tp.c */
void tp_deliver(struct tp_worker *tw, const struct cv_tp_meta *meta,
		const char *buf, size_t len);
struct tp_worker *tp_worker_of(struct cv_tp *tp, struct cv_worker *w);
int tp_listener_find(struct cv_tp *tp, enum cv_tp_kind kind, int family,
		     const struct cv_tp_addr *local);

/* udp.c */
int tp_udp_bind(struct cv_tp *tp, struct tp_listener *l);
int tp_udp_start(struct tp_worker *tw, unsigned li);
void tp_udp_stop(struct tp_worker *tw, unsigned li);
int tp_udp_send(struct tp_worker *tw, unsigned li, const struct cv_tp_addr *dst,
		const struct cv_tp_addr *src, const void *buf, size_t len);
void tp_udp_flush(struct tp_worker *tw);

/* conn.c */
int tp_stream_bind(struct cv_tp *tp, struct tp_listener *l);
int tp_stream_start(struct tp_worker *tw, unsigned li);
void tp_stream_stop(struct tp_worker *tw, unsigned li);
void tp_conns_close_all(struct tp_worker *tw);
int tp_conn_send_local(struct cv_tp_conn *c, const void *buf, size_t len,
		       cv_tp_sent_fn *done, void *arg,
		       struct tp_worker *origin);
int tp_conn_connect(struct tp_worker *tw, const struct cv_tp_send_params *p,
		    struct cv_tp_conn **cp);
void tp_conn_close(struct cv_tp_conn *c, int err);
void tp_conn_established(struct cv_tp_conn *c);
int tp_conn_write_raw(struct cv_tp_conn *c, const void *buf, size_t len);
void tp_conn_plain_in(struct cv_tp_conn *c, const char *p, size_t n);
void tp_sent_notify(struct tp_worker *origin, cv_tp_sent_fn *done, void *arg,
		    int err);
struct cv_tp_conn *tp_ct_lookup(struct cv_tp *tp, enum cv_tp_kind kind,
				const struct cv_tp_addr *peer,
				const struct cv_tp_addr *local);
void tp_ct_insert(struct cv_tp *tp, struct cv_tp_conn *c);
void tp_ct_remove(struct cv_tp *tp, struct cv_tp_conn *c);
/* RFC 5923: c is also found under alias, until it leaves the table. */
int tp_ct_insert_alias(struct cv_tp *tp, struct cv_tp_conn *c,
		       const struct cv_tp_addr *alias);
int tp_stream_frame(struct cv_tp_conn *c);
/* Pure framing step over a stream buffer (unit-tested): 0 with a message
 * of msg_len bytes ending at consumed; CV_EINCOMPLETE with consumed =
 * keep-alive bytes to drop; CV_ETOOBIG / CV_EPARSE. pings = CRLFCRLF seen. */
int tp_frame_next(const char *buf, size_t len, size_t max, size_t *consumed,
		  size_t *msg_len, unsigned *pings);
void tp_ws_accept_key(struct cv_pl key, char out[32]);

/* alias.c: RFC 5923 alias of an accepted connection from a request's Via */
void tp_alias_check(struct cv_tp_conn *c, const char *buf, size_t len);
/* Pure part (fuzzed): a request whose top Via has alias and transport
 * kind gives its sent-by host (inside buf) and port (default 5060/5061);
 * else CV_ENOTFOUND. */
int tp_alias_parse(const char *buf, size_t len, enum cv_tp_kind kind,
		   struct cv_pl *host, uint16_t *port);

/* tls.c */
int tp_tls_init(struct cv_tp *tp, const struct cv_tp_tls_params *p);
void tp_tls_free(struct cv_tp *tp);
int tp_tls_conn_start(struct cv_tp_conn *c);
void tp_tls_in(struct cv_tp_conn *c, const char *p, size_t n);
int tp_tls_write(struct cv_tp_conn *c, const void *buf, size_t len);

/* ws.c */
struct http_req {
	struct cv_pl method, path, version;
	struct cv_pl upgrade, connection, key, wsversion, protocol, host;
	struct cv_pl accept; /* Sec-WebSocket-Accept (responses) */
};
/* The WebSocket Upgrade request head (RFC 6455 §4.2.1), bounded. */
int tp_http_parse(const char *p, size_t n, struct http_req *r);
void tp_ws_in(struct cv_tp_conn *c, const char *p, size_t n);
int tp_ws_send(struct cv_tp_conn *c, const void *buf, size_t len);
int tp_ws_send_op(struct cv_tp_conn *c, const void *buf, size_t len,
		  bool binary);
void tp_ws_free(struct cv_tp_conn *c);
void tp_ws_close(struct cv_tp_conn *c);
/* Outgoing WS/WSS: the transport below is up; send the Upgrade (RFC 6455
 * §4.1, RFC 7118 §4.1) and wait for 101 in TP_C_WS_HS. */
int tp_ws_client_start(struct cv_tp_conn *c);
/* A WebSocket ping (keep-alive of an outgoing connection). */
int tp_ws_ping(struct cv_tp_conn *c);

/* dns.c */
int tp_dns_lib_init(void);
void tp_dns_lib_cleanup(void);
int tp_dns_start(struct tp_worker *tw);
void tp_dns_stop(struct tp_worker *tw);

#endif
