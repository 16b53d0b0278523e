/*
 * cvoip txn: RFC 3261 §17 client and server transactions (INVITE and
 * non-INVITE) with every timer A..K, the RFC 6026 Accepted state (Timers L
 * and M), §17.1.3/§17.2.3 matching with the RFC 2543 fallback, CANCEL
 * (§9), merged-request (§8.2.2.2) and loop (§16.3 item 4, RFC 5393)
 * helpers.
 *
 * Threads and ownership (ARCHITECTURE.md). One layer per worker: every
 * transaction of a layer, its timers (on the worker's cv_wheel) and every
 * callback run on that worker, without locks. The layer never touches a
 * socket: it sends through the params' send callback and receives parsed
 * messages from whoever calls cv_txn_recv() (the transport glue).
 *
 * Lifetimes. struct cv_txn is refcounted (cv_mem_ref/cv_mem_unref). The
 * layer holds a reference while the transaction is live. The transaction
 * user (TU) owns one reference to every transaction handed to it: the one
 * from cv_txn_client_create() and the one given with the request event.
 * The TU gives it back with cv_txn_release(); after that no callback for
 * that transaction fires again, while the layer finishes the protocol
 * (retransmissions, absorbing ACKs, Timers D/I/J/K). A server transaction
 * released before a final response was sent is answered 500 by the layer.
 * Extra references taken with cv_mem_ref() only keep the memory alive.
 *
 * Callbacks may call any function of this header except
 * cv_txn_layer_destroy().
 */
#ifndef CVOIP_TXN_H
#define CVOIP_TXN_H

#include <netinet/in.h>
#include <sys/socket.h>

#include "cvoip/base.h"
#include "cvoip/runtime.h"
#include "cvoip/sip.h"

#ifdef __cplusplus
extern "C" {
#endif

struct cv_txn_layer;
struct cv_txn;

/* ---- addresses
 * --------------------------------------------------------------- Where a
 * request came from (server side) or goes to (client side). The layer copies it
 * into the transaction and hands it back to the send callback; it never
 * interprets anything but `reliable`. */
union cv_txn_sockaddr {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

struct cv_txn_addr {
	union cv_txn_sockaddr remote; /* packet source / destination */
	union cv_txn_sockaddr
		local; /* local address it arrived on / leave from */
	/* Transport connection (opaque, e.g. struct cv_tp_conn *), NULL for
	 * datagrams. The layer keeps it with params.conn_ref/conn_unref. */
	void *conn;
	uint8_t kind;  /* transport kind as the transport numbers it (opaque) */
	bool reliable; /* stream transport: no retransmissions (§17) */
};

/* ---- sending
 * ------------------------------------------------------------------- */
struct cv_txn_out {
	struct cv_txn *txn; /* NULL for stateless answers */
	const struct cv_sip_msg
		*req;		       /* the request this message belongs to:
					  server side the request being answered
					  (its top Via routes the response,
					  §18.2.2); client side the request sent.
					  A retransmission from a slimmed
					  transaction (docs/txn.md) carries only
					  top Via, Call-ID, CSeq, From tag and
					  method, no header index or bytes */
	const struct cv_txn_addr *dst; /* server: the request's source;
					  client: the destination given */
	const char *buf;
	size_t len;
	bool response;
	bool retransmission;
};

/* Sends one message. Returns 0 when sent or queued, setting *reliable when
 * the message left on a reliable transport (it starts out as dst->reliable),
 * or a negative error: the transaction then fails (§17.1.4, §17.2.4: local
 * 503 / failed event). */
typedef int(cv_txn_send_fn)(const struct cv_txn_out *out, bool *reliable,
			    void *arg);

/* ---- events
 * ---------------------------------------------------------------------- */
struct cv_txn_resp {
	struct cv_sip_msg *msg; /* NULL when local */
	uint16_t status;
	bool local;	     /* locally generated: 408 (Timer B/F or the
				§9.1 64*T1 after CANCEL), 503 (transport) */
	bool retransmission; /* a 2xx again in Accepted (RFC 6026 §8.4):
				the UAC core ACKs it again */
};

/* The handler table is const and outlives the layer; any entry may be NULL
 * (request NULL: requests are answered 501). arg is params.arg. */
struct cv_txn_handlers {
	/* A request created server transaction t (never ACK or CANCEL).
	 * The TU owns one reference: cv_txn_release() when done. */
	void (*request)(struct cv_txn *t, struct cv_sip_msg *req, void *arg);
	/* An ACK no server transaction absorbed: for a 2xx (RFC 6026 §7.1;
	 * inv is the INVITE server transaction in Accepted, or NULL when none
	 * matched, the usual case as the ACK has its own branch). Goes to the
	 * dialog layer. src is valid for the call. */
	void (*ack)(struct cv_txn *inv, struct cv_sip_msg *ack,
		    const struct cv_txn_addr *src, void *arg);
	/* A client transaction got a response (provisional or final), or a
	 * local 408/503 (then the transaction is Terminated). */
	void (*response)(struct cv_txn *t, const struct cv_txn_resp *r,
			 void *arg);
	/* A CANCEL matched INVITE server transaction t which has not sent a
	 * final response; 200 went to the CANCEL (§9.2). The TU answers 487
	 * (unless params.auto_487 did already; then t is Completed). */
	void (*cancel)(struct cv_txn *t, struct cv_sip_msg *cancel, void *arg);
	/* A server transaction failed: status 408 when Timer H fired (no ACK,
	 * §17.2.1), 503 on a transport error (§17.2.4). Terminated follows. */
	void (*failed)(struct cv_txn *t, uint16_t status, void *arg);
	/* The transaction reached Terminated: the last callback for it. */
	void (*terminated)(struct cv_txn *t, void *arg);
};

/* ---- the layer
 * ---------------------------------------------------------------------- */
struct cv_txn_timers {
	uint32_t t1_ms; /* RTT estimate [500] (§17.1.1.1) */
	uint32_t t2_ms; /* cap of non-INVITE / response retransmits [4000] */
	uint32_t t4_ms; /* max lifetime of a message in the network [5000] */
	uint32_t d_ms;	/* Timer D for unreliable transports, >= 32 s [32000] */
};

#define CV_TXN_TRYING_NEVER (-1)

struct cv_txn_params {
	cv_txn_send_fn *send;		 /* required */
	const struct cv_txn_handlers *h; /* required */
	void *arg;
	struct cv_wheel *wheel;	     /* required: this worker's wheel */
	struct cv_txn_timers timers; /* 0 fields take the defaults */
	/* Auto 100 Trying for INVITE server transactions the TU has not
	 * answered after this many ms (§17.2.1): 0 at once (before the TU
	 * sees the request), CV_TXN_TRYING_NEVER never. cv_txn_params_init()
	 * sets 200. */
	int32_t trying_ms;
	/* Live transactions (client + server); beyond it new requests get a
	 * stateless 503 and cv_txn_client_create() fails with CV_EFULL
	 * [cv_txn_params_init: 1000000; 0 means the default]. */
	uint32_t max_txns;
	/* Answer 487 to the INVITE of a matched CANCEL without the TU. */
	bool auto_487;
	/* Keep the transport connection of a cv_txn_addr alive (optional). */
	void (*conn_ref)(void *conn);
	void (*conn_unref)(void *conn);
};

/* Defaults: zero timers (RFC values), trying_ms 200, max_txns 1000000. */
CV_API void cv_txn_params_init(struct cv_txn_params *p);

CV_API int cv_txn_layer_create(struct cv_txn_layer **lp,
			       const struct cv_txn_params *p);
/* Terminates every transaction without callbacks and frees the layer.
 * Transactions the TU still holds become inert (calls fail with
 * CV_ECLOSED); release them as usual. */
CV_API void cv_txn_layer_destroy(struct cv_txn_layer *l);

/* A parsed message from the transport (RFC 3261 §17.1.3, §17.2.3). The
 * layer takes its own references; msg and src stay the caller's. Returns
 * 0 when the message was consumed (matched, created a transaction, passed
 * up, answered or dropped and counted), or -ENOMEM. */
CV_API int cv_txn_recv(struct cv_txn_layer *l, struct cv_sip_msg *msg,
		       const struct cv_txn_addr *src);

/* ---- client transactions
 * ------------------------------------------------------------ */
struct cv_txn_client_params {
	/* The request: parsed (a reference is taken) or bytes (parsed once).
	 * Its top Via must carry a branch with the magic cookie (§8.1.1.7). */
	struct cv_sip_msg *req;
	const char *buf;
	size_t len;
	const struct cv_txn_addr *dst; /* required */
	void *uarg;		       /* cv_txn_uarg() */
};

/* Creates the transaction and sends the request (§17.1.1.2 / §17.1.2.2).
 * ACK and CANCEL are refused (-EINVAL): ACKs for 2xx are sent with
 * cv_txn_send_stateless(), CANCEL with cv_txn_cancel(). A failure of the
 * first send returns the error and creates nothing. */
CV_API int cv_txn_client_create(struct cv_txn **tp, struct cv_txn_layer *l,
				const struct cv_txn_client_params *p);

struct cv_txn_cancel_params {
	struct cv_pl headers; /* extra header lines, e.g. "Reason: ...\r\n" */
};

/* Cancels INVITE client transaction t (§9.1): the CANCEL (same Request-URI,
 * Call-ID, From, To, CSeq number, top Via and Route) goes in its own
 * non-INVITE client transaction, handled by the layer. Before any
 * provisional response the CANCEL waits for one (and is dropped if a final
 * response comes first). Once sent, a final response must come within
 * 64*T1 or the TU gets a local 408. CV_ECLOSED when t has a final
 * response already; 0 when already cancelled. p may be NULL. */
CV_API int cv_txn_cancel(struct cv_txn *t,
			 const struct cv_txn_cancel_params *p);

/* ---- server transactions
 * -------------------------------------------------------------- */
struct cv_txn_resp_params {
	const char *reason; /* NULL: the default phrase */
	/* To tag for status > 100 when the request had none; empty: the
	 * transaction's own random tag (cv_txn_local_tag()). */
	struct cv_pl to_tag;
	struct cv_pl headers; /* extra header lines, each ending CRLF */
	struct cv_pl content_type;
	struct cv_pl body;
	/* Final responses only: the transaction ends as soon as this response
	 * is sent, as with a stateless UAS (RFC 3261 §8.2.7, the role meant
	 * for challenges to unauthenticated requests, so that a flood of them
	 * leaves no state): nothing is kept for retransmissions, a
	 * retransmitted request reaches the TU as a new one, an ACK to a
	 * non-2xx INVITE final goes to the ack handler as a stray ACK.
	 * -EINVAL with a provisional or a 2xx to INVITE. */
	bool stateless;
};

/* Sends a response on server transaction t (§8.2.6 via cv_sip_resp_print;
 * §17.2.1/§17.2.2 state changes). 2xx to INVITE move to Accepted; further
 * 2xx (the UAS core's retransmissions, RFC 6026 §8.6) are sent as given.
 * Returns CV_ECLOSED when t cannot send it (e.g. a second final), or the
 * send error (t is then Terminated; no failed/terminated callback fires
 * for an error returned here). p may be NULL. */
CV_API int cv_txn_respond(struct cv_txn *t, uint16_t status,
			  const struct cv_txn_resp_params *p);
/* The same with prebuilt response bytes (status must match them). */
CV_API int cv_txn_respond_raw(struct cv_txn *t, uint16_t status,
			      const void *buf, size_t len);

/* The TU lets go of t (see Lifetimes). */
CV_API void cv_txn_release(struct cv_txn *t);

/* A transport error reported after the send callback returned (e.g. a TCP
 * connect refused or a TLS handshake failure from the transport's "sent"
 * callback): t fails as in §17.1.4 / §17.2.4 — a client without a final
 * response gets a local 503 (RFC 3263 §4.3: the TU tries the next target),
 * a server transaction the failed(503) event — and is Terminated. Called
 * by the transport glue (not the TU), so the callbacks fire from inside
 * it. No effect on a Terminated transaction. */
CV_API void cv_txn_transport_error(struct cv_txn *t, int err);

/* ---- stateless sending
 * ----------------------------------------------------------------- */
/* Sends bytes outside any transaction through the send callback: the ACK
 * for a 2xx (§13.2.2.4), a stateless proxy's forward. req may be NULL. */
CV_API int cv_txn_send_stateless(struct cv_txn_layer *l,
				 const struct cv_txn_addr *dst,
				 const struct cv_sip_msg *req, const void *buf,
				 size_t len);
/* Answers req without a transaction (e.g. the parser's 400 verdict). */
CV_API int cv_txn_reply_stateless(struct cv_txn_layer *l,
				  const struct cv_sip_msg *req,
				  const struct cv_txn_addr *src,
				  uint16_t status, const char *reason,
				  struct cv_pl headers);

/* ---- accessors
 * ------------------------------------------------------------------------- */
enum cv_txn_state {
	CV_TXN_CALLING = 0, /* INVITE client */
	CV_TXN_TRYING,	    /* non-INVITE client and server */
	CV_TXN_PROCEEDING,
	CV_TXN_COMPLETED,
	CV_TXN_CONFIRMED, /* INVITE server */
	CV_TXN_ACCEPTED,  /* INVITE client and server (RFC 6026) */
	CV_TXN_TERMINATED
};
CV_API const char *cv_txn_state_name(enum cv_txn_state s);

CV_API enum cv_txn_state cv_txn_state(const struct cv_txn *t);
CV_API bool cv_txn_is_client(const struct cv_txn *t);
CV_API enum cv_sip_method cv_txn_method(const struct cv_txn *t);
/* The request that created t (server) or was sent (client). NULL once
 * the TU has released t and t has its final response: the layer keeps
 * only a match key then (docs/txn.md). */
CV_API struct cv_sip_msg *cv_txn_request(const struct cv_txn *t);
/* Source (server) or destination (client) address. */
CV_API const struct cv_txn_addr *cv_txn_addr(const struct cv_txn *t);
/* Status of the last response sent (server) or received (client), 0 none. */
CV_API uint16_t cv_txn_status(const struct cv_txn *t);
CV_API void *cv_txn_uarg(const struct cv_txn *t);
CV_API void cv_txn_set_uarg(struct cv_txn *t, void *uarg);
/* The To tag this server transaction puts in its responses when the TU
 * gives none: 16 hex characters, created on first use. Returns the length
 * (out NUL-terminated, size >= 17) or CV_ETOOBIG. */
CV_API int cv_txn_local_tag(struct cv_txn *t, char *out, size_t size);
CV_API struct cv_txn_layer *cv_txn_layer_of(const struct cv_txn *t);

/* ---- UAS and proxy helpers
 * -------------------------------------------------------------- */
/* §8.2.2.2: server transaction t's request has no To tag and a server
 * transaction that was live when it arrived has the same From tag, Call-ID
 * and CSeq (the request came over two paths): the UAS core answers 482
 * (Loop Detected). O(1): one bucket of the Call-ID/CSeq index. */
CV_API bool cv_txn_is_merged(const struct cv_txn *t);

/* Loop detection for a proxy (RFC 3261 §16.3 item 4, §16.6 item 8,
 * RFC 5393 §4.2). cv_txn_loop_hash() writes the hash a proxy puts in the
 * branch it adds ("z9hG4bK" + hash + "." + anything unique): over the
 * Request-URI, Call-ID, From tag, To tag, CSeq number, Route,
 * Proxy-Require and Proxy-Authorization values. */
#define CV_TXN_LOOP_HASH_SIZE 17
CV_API void cv_txn_loop_hash(const struct cv_sip_msg *req,
			     char out[CV_TXN_LOOP_HASH_SIZE]);

enum cv_txn_loop {
	CV_TXN_LOOP_NONE = 0, /* no Via of ours */
	CV_TXN_LOOP_SPIRAL,   /* ours, but the request changed: forward */
	CV_TXN_LOOP_DETECTED  /* ours with the same hash: answer 482 */
};
/* Looks for a Via whose sent-by is one of ours (host:port as this proxy
 * writes them) and compares its branch's hash part with the request's. */
CV_API enum cv_txn_loop cv_txn_loop_check(const struct cv_sip_msg *req,
					  const struct cv_pl *sent_by,
					  size_t n_sent_by);

/* ---- statistics
 * --------------------------------------------------------------------------
 * Per layer (i.e. per worker); sum over workers on read. Arrays are indexed
 * by enum cv_sip_method. */
struct cv_txn_stats {
	uint64_t created[CV_SIP_METHOD_COUNT];	     /* client + server */
	uint64_t completed[CV_SIP_METHOD_COUNT];     /* a final response
							sent/received */
	uint64_t timed_out[CV_SIP_METHOD_COUNT];     /* Timers B, F, H, §9.1 */
	uint64_t retransmitted[CV_SIP_METHOD_COUNT]; /* messages sent again */
	uint64_t live_client, live_server;
	uint64_t rx_retransmissions; /* requests absorbed or re-answered */
	uint64_t rx_resp_absorbed;   /* response retransmissions absorbed */
	uint64_t stray_responses;    /* dropped: no client transaction */
	uint64_t stray_acks;	     /* ACKs passed up without a transaction */
	uint64_t acks_absorbed;	     /* ACKs for non-2xx */
	uint64_t acks_dropped;	     /* ACK before a final response */
	uint64_t cancels_matched;
	uint64_t cancels_481;
	uint64_t cseq_mismatch;	 /* answered 400 (or dropped for ACK) */
	uint64_t branch_reused;	 /* same branch, other Call-ID/CSeq: dropped */
	uint64_t bad_via;	 /* dropped: top Via without sent-by */
	uint64_t limit_rejected; /* answered 503: max_txns */
	uint64_t transport_errors;
	uint64_t auto_100;
	uint64_t auto_500; /* released without a final response */
	uint64_t stateless_finals; /* finals sent with params.stateless */
	uint64_t slimmed; /* transactions reduced to their key */
};

CV_API void cv_txn_stats_read(const struct cv_txn_layer *l,
			      struct cv_txn_stats *out);
/* Live transactions of the layer. */
CV_API size_t cv_txn_count(const struct cv_txn_layer *l);

#ifdef __cplusplus
}
#endif

#endif
