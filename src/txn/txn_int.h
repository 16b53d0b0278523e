/* Private structures of the transaction layer. */
#ifndef CVOIP_TXN_INT_H
#define CVOIP_TXN_INT_H

#include "cvoip/txn.h"

#define TXN_MOD		 "txn"
#define TXN_MAGIC_COOKIE "z9hG4bK"

/* Bytes kept for retransmission: the last response (server) or the ACK
 * for a non-2xx final response (INVITE client). One cv_mem allocation. */
struct txn_bytes {
	size_t len;
	char data[];
};

/* What a server transaction keeps of its request once it has sent its
 * final response and the TU has let go (txn_slim(), docs/txn.md): the
 * §17.2.3 match key (branch, sent-by, method), the Call-ID, CSeq and From
 * tag of the branch-reuse and §8.2.2.2 merged-request checks, and the top
 * Via that routes retransmitted responses (§18.2.2). One cv_mem
 * allocation; every slice points into text. */
struct txn_key {
	struct cv_sip_via via;
	struct cv_pl call_id, from_tag, method_pl;
	uint32_t cseq;
	char text[];
};

/* Intrusive chained hash table, power-of-two buckets, grows at load 1. */
struct txn_htab {
	struct cv_txn **b;
	uint32_t mask;
	uint32_t n;
};

enum txn_flags {
	TF_CLIENT = 1u << 0,
	TF_INVITE = 1u << 1,
	TF_RELIABLE = 1u << 2,
	TF_RELEASED = 1u << 3, /* TU let go: no callbacks */
	TF_INTERNAL = 1u << 4, /* layer-owned (CANCEL txns): no callbacks */
	TF_RFC2543 = 1u << 5, /* request without magic cookie: fallback match */
	TF_CANCEL_PENDING = 1u << 6, /* CANCEL waits for a provisional */
	TF_CANCELLED = 1u << 7,	     /* CANCEL sent / received */
	TF_IN_PRIM = 1u << 8,
	TF_IN_SEC = 1u << 9,
	TF_FINAL = 1u << 10,	   /* a final response sent / received */
	TF_TU_ANSWERED = 1u << 11, /* the TU sent any response (no auto 100) */
	TF_SEC_ALONE = 1u << 12,   /* first in its secondary bucket */
};

struct cv_txn {
	/* What the index walks (chains, hashes, flags, creation order) sits
	 * in the first cache line: with 10^5 live transactions every chain
	 * step is a cache (and TLB) miss, so one line per step, not two. */
	struct cv_txn *hnext; /* primary table: branch */
	struct cv_txn *snext; /* secondary: Call-ID + CSeq (server) */
	uint64_t hash, shash;
	uint32_t flags;
	uint32_t seq; /* creation order (merged requests) */
	uint16_t status;
	uint8_t state;
	uint8_t method;		    /* enum cv_sip_method */
	struct cv_txn_layer *layer; /* NULL once Terminated */
	struct cv_sip_msg *req;	    /* NULL once slimmed to key */
	struct txn_key *key;	    /* see struct txn_key */
	struct txn_bytes *out;	    /* see struct txn_bytes */
	void *uarg;
	struct cv_tmr tmr; /* the one wheel entry of this txn */
	uint64_t due_retx; /* A, E, G (us, 0 = off) */
	uint64_t due_end;  /* B, D, F, H, I, J, K, L, M, §9.1 */
	uint64_t due_100;  /* auto 100 Trying */
	struct cv_txn_addr addr;
	uint64_t tag;		/* local To tag (random), 0 = none yet */
	uint64_t resp_tag_hash; /* To tag of the final response (2543 ACK) */
	struct cv_txn *cancel;	/* client INVITE: its CANCEL txn */
	uint32_t retx_ivl_ms;
};

struct cv_txn_layer {
	struct cv_txn_params p;
	uint32_t t1, t2, t4, td; /* ms */
	struct txn_htab prim, sec;
	size_t live;
	uint32_t seq;
	struct cv_txn_stats st;
};

/* A deadline; 0 means "not armed", so a zero-delay deadline at clock 0
 * (a fake clock) must still be non-zero. */
static inline uint64_t txn_due(uint64_t now, uint64_t us)
{
	return now + us ? now + us : 1;
}

/* The fields of a server transaction's request, from the parsed request
 * or, once slimmed, from its key. */
static inline const struct cv_sip_via *txn_via(const struct cv_txn *t)
{
	return t->req ? &t->req->via : &t->key->via;
}

static inline struct cv_pl txn_call_id(const struct cv_txn *t)
{
	return t->req ? t->req->call_id : t->key->call_id;
}

static inline uint32_t txn_cseq(const struct cv_txn *t)
{
	return t->req ? t->req->cseq.num : t->key->cseq;
}

static inline struct cv_pl txn_from_tag(const struct cv_txn *t)
{
	return t->req ? t->req->from.tag : t->key->from_tag;
}

static inline struct cv_pl txn_method_pl(const struct cv_txn *t)
{
	return t->req ? t->req->method_pl : t->key->method_pl;
}

/* txn_layer.c */
void txn_htab_insert_prim(struct cv_txn_layer *l, struct cv_txn *t);
void txn_htab_insert_sec(struct cv_txn_layer *l, struct cv_txn *t);
struct cv_txn *txn_alloc(struct cv_txn_layer *l, struct cv_sip_msg *req,
			 const struct cv_txn_addr *addr, uint32_t flags);
void txn_arm(struct cv_txn *t);
void txn_terminate(struct cv_txn *t, bool notify);
int txn_send(struct cv_txn *t, const char *buf, size_t len, bool response,
	     bool retx);
bool txn_tu(const struct cv_txn *t);
struct txn_bytes *txn_bytes_new(const void *p, size_t len);
uint64_t txn_branch_hash(struct cv_pl branch);
uint64_t txn_sec_hash(const struct cv_sip_msg *m);
bool txn_has_cookie(struct cv_pl branch);
uint64_t txn_ms(uint32_t ms);

/* txn_client.c */
void txn_client_recv(struct cv_txn_layer *l, struct cv_sip_msg *resp);
void txn_client_timer(struct cv_txn *t, uint64_t now);
void txn_client_fail(struct cv_txn *t, uint16_t status);

/* txn_server.c */
void txn_server_recv(struct cv_txn_layer *l, struct cv_sip_msg *req,
		     const struct cv_txn_addr *src);
void txn_server_timer(struct cv_txn *t, uint64_t now);
void txn_server_fail(struct cv_txn *t, uint16_t status);
void txn_slim(struct cv_txn *t);
int txn_server_reply_stateless(struct cv_txn_layer *l,
			       const struct cv_sip_msg *req,
			       const struct cv_txn_addr *src, uint16_t status,
			       const char *reason, struct cv_pl headers);

#endif
