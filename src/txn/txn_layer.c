/* Transaction layer: instances, the transaction index, the one-timer-per-
 * transaction scheduler, sending, lifetimes and accessors. The state
 * machines are in txn_client.c and txn_server.c. */
#include <stdlib.h>

#include "txn_int.h"

#define HTAB_MIN_BUCKETS 1024u
#define HTAB_MAX_BUCKETS (1u << 26)

uint64_t txn_ms(uint32_t ms)
{
	return (uint64_t)ms * 1000u;
}

bool txn_has_cookie(struct cv_pl branch)
{
	return branch.l > 7 && memcmp(branch.p, TXN_MAGIC_COOKIE, 7) == 0;
}

uint64_t txn_branch_hash(struct cv_pl branch)
{
	return cv_hash(branch.p, branch.l);
}

/* Secondary key: Call-ID and CSeq number. Covers the RFC 2543 fallback
 * (§17.2.3) and merged requests (§8.2.2.2), which all share both. */
uint64_t txn_sec_hash(const struct cv_sip_msg *m)
{
	return cv_hash(m->call_id.p, m->call_id.l) ^
	       ((uint64_t)m->cseq.num * 0x9e3779b97f4a7c15ull);
}

/* ---- hash tables ------------------------------------------------------------
 */
static int htab_init(struct txn_htab *h)
{
	h->b = cv_mem_zalloc(HTAB_MIN_BUCKETS * sizeof(*h->b), NULL);
	if (!h->b)
		return -ENOMEM;
	h->mask = HTAB_MIN_BUCKETS - 1;
	h->n = 0;
	return 0;
}

static inline struct cv_txn **link_of(struct cv_txn *t, bool sec)
{
	return sec ? &t->snext : &t->hnext;
}

/* Doubling at load factor 1 keeps chains short; a failed grow only costs
 * longer chains. */
static void htab_grow(struct txn_htab *h, bool sec)
{
	uint32_t nb = (h->mask + 1) * 2;
	if (nb > HTAB_MAX_BUCKETS)
		return;
	struct cv_txn **b = cv_mem_zalloc((size_t)nb * sizeof(*b), NULL);
	if (!b)
		return;
	for (uint32_t i = 0; i <= h->mask; i++) {
		struct cv_txn *t = h->b[i];
		while (t) {
			struct cv_txn *nx = *link_of(t, sec);
			uint64_t hv = sec ? t->shash : t->hash;
			struct cv_txn **slot = &b[hv & (nb - 1)];
			*link_of(t, sec) = *slot;
			*slot = t;
			t = nx;
		}
	}
	cv_mem_unref(h->b);
	h->b = b;
	h->mask = nb - 1;
}

/* Returns whether t's bucket was empty. */
static bool htab_insert(struct txn_htab *h, struct cv_txn *t, bool sec)
{
	if (h->n >= h->mask + 1)
		htab_grow(h, sec);
	uint64_t hv = sec ? t->shash : t->hash;
	struct cv_txn **slot = &h->b[hv & h->mask];
	bool empty = !*slot;
	*link_of(t, sec) = *slot;
	*slot = t;
	h->n++;
	return empty;
}

static void htab_remove(struct txn_htab *h, struct cv_txn *t, bool sec)
{
	uint64_t hv = sec ? t->shash : t->hash;
	struct cv_txn **pp = &h->b[hv & h->mask];
	while (*pp) {
		if (*pp == t) {
			*pp = *link_of(t, sec);
			*link_of(t, sec) = NULL;
			h->n--;
			return;
		}
		pp = link_of(*pp, sec);
	}
}

void txn_htab_insert_prim(struct cv_txn_layer *l, struct cv_txn *t)
{
	htab_insert(&l->prim, t, false);
	t->flags |= TF_IN_PRIM;
}

void txn_htab_insert_sec(struct cv_txn_layer *l, struct cv_txn *t)
{
	/* Alone in its bucket: no older transaction shares its Call-ID and
	 * CSeq, so cv_txn_is_merged() need not walk (later ones are newer;
	 * growth keeps equal keys in one bucket). */
	if (htab_insert(&l->sec, t, true))
		t->flags |= TF_SEC_ALONE;
	t->flags |= TF_IN_SEC;
}

/* ---- layer
 * -------------------------------------------------------------------- */
void cv_txn_params_init(struct cv_txn_params *p)
{
	memset(p, 0, sizeof(*p));
	p->trying_ms = 200;
	p->max_txns = 1000000;
}

static void layer_dtor(void *obj)
{
	struct cv_txn_layer *l = obj;
	cv_mem_unref(l->prim.b);
	cv_mem_unref(l->sec.b);
}

int cv_txn_layer_create(struct cv_txn_layer **lp, const struct cv_txn_params *p)
{
	if (!lp || !p || !p->send || !p->h || !p->wheel)
		return -EINVAL;
	if (p->trying_ms < CV_TXN_TRYING_NEVER)
		return -EINVAL;
	/* Bounds that keep 64*T1 and the doubling of Timer A in range. */
	if (p->timers.t1_ms > 60000 || p->timers.t2_ms > 600000 ||
	    p->timers.t4_ms > 600000 || p->timers.d_ms > 600000)
		return -EINVAL;
	struct cv_txn_layer *l = cv_mem_zalloc(sizeof(*l), layer_dtor);
	if (!l)
		return -ENOMEM;
	l->p = *p;
	/* RFC 3261 §17.1.1.1 and Table 4 defaults. */
	l->t1 = p->timers.t1_ms ? p->timers.t1_ms : 500;
	l->t2 = p->timers.t2_ms ? p->timers.t2_ms : 4000;
	l->t4 = p->timers.t4_ms ? p->timers.t4_ms : 5000;
	l->td = p->timers.d_ms ? p->timers.d_ms : 32000;
	if (!l->p.max_txns)
		l->p.max_txns = 1000000;
	if (htab_init(&l->prim) || htab_init(&l->sec)) {
		cv_mem_unref(l);
		return -ENOMEM;
	}
	*lp = l;
	return 0;
}

void cv_txn_layer_destroy(struct cv_txn_layer *l)
{
	if (!l)
		return;
	for (uint32_t i = 0; i <= l->prim.mask; i++)
		while (l->prim.b[i])
			txn_terminate(l->prim.b[i], false);
	for (uint32_t i = 0; i <= l->sec.mask; i++)
		while (l->sec.b[i])
			txn_terminate(l->sec.b[i], false);
	cv_mem_unref(l);
}

/* ---- transactions
 * ---------------------------------------------------------------- */
static void txn_dtor(void *obj)
{
	struct cv_txn *t = obj;
	cv_tmr_cancel(&t->tmr);
	cv_mem_unref(t->req);
	cv_mem_unref(t->key);
	cv_mem_unref(t->out);
	cv_mem_unref(t->cancel);
}

struct txn_bytes *txn_bytes_new(const void *p, size_t len)
{
	struct txn_bytes *b = cv_mem_zalloc(sizeof(*b) + len, NULL);
	if (!b)
		return NULL;
	b->len = len;
	memcpy(b->data, p, len);
	return b;
}

struct cv_txn *txn_alloc(struct cv_txn_layer *l, struct cv_sip_msg *req,
			 const struct cv_txn_addr *addr, uint32_t flags)
{
	struct cv_txn *t = cv_mem_zalloc(sizeof(*t), txn_dtor);
	if (!t)
		return NULL;
	cv_tmr_init(&t->tmr);
	t->layer = l;
	t->req = cv_mem_ref(req);
	t->addr = *addr;
	if (t->addr.conn && l->p.conn_ref)
		l->p.conn_ref(t->addr.conn);
	t->flags = flags;
	if (addr->reliable)
		t->flags |= TF_RELIABLE;
	t->method = (uint8_t)req->method;
	t->seq = ++l->seq;
	l->live++;
	if (flags & TF_CLIENT)
		l->st.live_client++;
	else
		l->st.live_server++;
	l->st.created[t->method]++;
	return t;
}

bool txn_tu(const struct cv_txn *t)
{
	return t->layer && !(t->flags & (TF_RELEASED | TF_INTERNAL));
}

static void tmr_fired(struct cv_tmr *tm, void *arg)
{
	struct cv_txn *t = arg;
	(void)tm;
	uint64_t now = cv_clock_us();
	cv_mem_ref(t);
	if (t->flags & TF_CLIENT)
		txn_client_timer(t, now);
	else
		txn_server_timer(t, now);
	if (t->layer)
		txn_arm(t);
	cv_mem_unref(t);
}

/* One wheel entry per transaction, armed for the earliest of its pending
 * deadlines (retransmit, end-of-state, auto 100). */
void txn_arm(struct cv_txn *t)
{
	uint64_t due = 0;
	const uint64_t d[3] = {t->due_retx, t->due_end, t->due_100};
	for (unsigned i = 0; i < 3; i++)
		if (d[i] && (!due || d[i] < due))
			due = d[i];
	if (!due || !t->layer) {
		cv_tmr_cancel(&t->tmr);
		return;
	}
	if (cv_tmr_active(&t->tmr) && t->tmr.due_us == due)
		return;
	uint64_t now = cv_clock_us();
	cv_tmr_start(t->layer->p.wheel, &t->tmr, due > now ? due - now : 0,
		     tmr_fired, t);
}

void txn_terminate(struct cv_txn *t, bool notify)
{
	struct cv_txn_layer *l = t->layer;
	if (!l)
		return;
	cv_tmr_cancel(&t->tmr);
	t->due_retx = t->due_end = t->due_100 = 0;
	if (t->flags & TF_IN_PRIM)
		htab_remove(&l->prim, t, false);
	if (t->flags & TF_IN_SEC)
		htab_remove(&l->sec, t, true);
	t->flags &= ~(uint32_t)(TF_IN_PRIM | TF_IN_SEC);
	t->state = CV_TXN_TERMINATED;
	l->live--;
	if (t->flags & TF_CLIENT)
		l->st.live_client--;
	else
		l->st.live_server--;
	t->out = cv_mem_unref(t->out);
	if (t->addr.conn && l->p.conn_unref)
		l->p.conn_unref(t->addr.conn);
	t->addr.conn = NULL;
	bool tu = notify && !(t->flags & (TF_RELEASED | TF_INTERNAL));
	t->layer = NULL;
	if (tu && l->p.h->terminated)
		l->p.h->terminated(t, l->p.arg);
	cv_mem_unref(t); /* the layer's reference */
}

int txn_send(struct cv_txn *t, const char *buf, size_t len, bool response,
	     bool retx)
{
	struct cv_txn_layer *l = t->layer;
	/* A slimmed server transaction hands the send callback a message
	 * with what its key kept: top Via (§18.2.2 routing), Call-ID, CSeq,
	 * method. Only retransmissions take this path. */
	struct cv_sip_msg slim;
	const struct cv_sip_msg *req = t->req;
	if (!req) {
		memset(&slim, 0, sizeof(slim));
		memset(slim.first, 0xff, sizeof(slim.first));
		slim.buf = "";
		slim.req = true;
		slim.method = (enum cv_sip_method)t->method;
		slim.method_pl = t->key->method_pl;
		slim.call_id = t->key->call_id;
		slim.cseq.num = t->key->cseq;
		slim.cseq.method = slim.method;
		slim.cseq.method_pl = slim.method_pl;
		slim.via = t->key->via;
		slim.via_count = 1;
		slim.from.tag = t->key->from_tag;
		slim.max_forwards = -1;
		slim.content_length = -1;
		req = &slim;
	}
	struct cv_txn_out o = {
		.txn = t,
		.req = req,
		.dst = &t->addr,
		.buf = buf,
		.len = len,
		.response = response,
		.retransmission = retx,
	};
	bool rel = (t->flags & TF_RELIABLE) != 0;
	int err = l->p.send(&o, &rel, l->p.arg);
	if (err) {
		l->st.transport_errors++;
		CV_LOG_RL(CV_LOG_DEBUG, TXN_MOD, "send failed: %s",
			  cv_strerror(err));
		return err;
	}
	if (rel)
		t->flags |= TF_RELIABLE;
	else
		t->flags &= ~(uint32_t)TF_RELIABLE;
	if (retx)
		l->st.retransmitted[t->method]++;
	return 0;
}

/* ---- entry points
 * ---------------------------------------------------------------- */
int cv_txn_recv(struct cv_txn_layer *l, struct cv_sip_msg *msg,
		const struct cv_txn_addr *src)
{
	if (!l || !msg || !src)
		return -EINVAL;
	if (msg->req)
		txn_server_recv(l, msg, src);
	else
		txn_client_recv(l, msg);
	return 0;
}

int cv_txn_send_stateless(struct cv_txn_layer *l, const struct cv_txn_addr *dst,
			  const struct cv_sip_msg *req, const void *buf,
			  size_t len)
{
	if (!l || !dst || !buf)
		return -EINVAL;
	struct cv_txn_out o = {
		.req = req,
		.dst = dst,
		.buf = buf,
		.len = len,
		.response = false,
	};
	bool rel = dst->reliable;
	int err = l->p.send(&o, &rel, l->p.arg);
	if (err)
		l->st.transport_errors++;
	return err;
}

int cv_txn_reply_stateless(struct cv_txn_layer *l, const struct cv_sip_msg *req,
			   const struct cv_txn_addr *src, uint16_t status,
			   const char *reason, struct cv_pl headers)
{
	if (!l || !req || !src || !req->req || status < 100 || status > 699)
		return -EINVAL;
	if (req->method == CV_SIP_ACK)
		return -EINVAL; /* §17.1.1.3: ACK is never answered */
	return txn_server_reply_stateless(l, req, src, status, reason, headers);
}

void cv_txn_release(struct cv_txn *t)
{
	if (!t)
		return;
	if (t->flags & TF_RELEASED) {
		CV_WARN(TXN_MOD, "transaction released twice");
		return;
	}
	t->flags |= TF_RELEASED;
	struct cv_txn_layer *l = t->layer;
	if (l && !(t->flags & TF_CLIENT) && !(t->flags & TF_FINAL) &&
	    t->state != CV_TXN_TERMINATED) {
		/* Nobody will answer: close the transaction properly. */
		l->st.auto_500++;
		(void)cv_txn_respond(t, 500, NULL);
	} else if (l && (t->flags & TF_CLIENT) && (t->flags & TF_INVITE) &&
		   t->state == CV_TXN_PROCEEDING && !t->due_end) {
		/* Proceeding has no timer (§17.1.1.2): a released INVITE
		 * would wait for a final response forever. */
		t->due_end = cv_clock_us() + txn_ms(64 * l->t1);
		txn_arm(t);
	} else if (l) {
		txn_slim(t);
	}
	cv_mem_unref(t);
}

void cv_txn_transport_error(struct cv_txn *t, int err)
{
	if (!t || !t->layer)
		return;
	struct cv_txn_layer *l = t->layer;
	l->st.transport_errors++;
	CV_LOG_RL(CV_LOG_DEBUG, TXN_MOD, "transport error reported: %s",
		  cv_strerror(err));
	cv_mem_ref(t);
	if (t->flags & TF_CLIENT)
		txn_client_fail(t, 503);
	else
		txn_server_fail(t, 503);
	cv_mem_unref(t);
}

/* ---- accessors
 * ---------------------------------------------------------------------- */
const char *cv_txn_state_name(enum cv_txn_state s)
{
	static const char *const names[] = {
		"Calling",   "Trying",	 "Proceeding", "Completed",
		"Confirmed", "Accepted", "Terminated",
	};
	return (unsigned)s < CV_ARRAY_SIZE(names) ? names[s] : "?";
}

enum cv_txn_state cv_txn_state(const struct cv_txn *t)
{
	return (enum cv_txn_state)t->state;
}

bool cv_txn_is_client(const struct cv_txn *t)
{
	return (t->flags & TF_CLIENT) != 0;
}

enum cv_sip_method cv_txn_method(const struct cv_txn *t)
{
	return (enum cv_sip_method)t->method;
}

struct cv_sip_msg *cv_txn_request(const struct cv_txn *t)
{
	return t->req;
}

const struct cv_txn_addr *cv_txn_addr(const struct cv_txn *t)
{
	return &t->addr;
}

uint16_t cv_txn_status(const struct cv_txn *t)
{
	return t->status;
}

void *cv_txn_uarg(const struct cv_txn *t)
{
	return t->uarg;
}

void cv_txn_set_uarg(struct cv_txn *t, void *uarg)
{
	t->uarg = uarg;
}

struct cv_txn_layer *cv_txn_layer_of(const struct cv_txn *t)
{
	return t->layer;
}

int cv_txn_local_tag(struct cv_txn *t, char *out, size_t size)
{
	if (size < 17)
		return CV_ETOOBIG;
	while (!t->tag)
		t->tag = ((uint64_t)cv_random_u32() << 32) | cv_random_u32();
	static const char hex[] = "0123456789abcdef";
	for (unsigned i = 0; i < 16; i++)
		out[i] = hex[(t->tag >> (60 - 4 * i)) & 0xf];
	out[16] = '\0';
	return 16;
}

void cv_txn_stats_read(const struct cv_txn_layer *l, struct cv_txn_stats *out)
{
	*out = l->st;
}

size_t cv_txn_count(const struct cv_txn_layer *l)
{
	return l->live;
}
