/* Stream connections (TCP, and the byte layer under TLS, WS and WSS):
 * accept and connect, limits, the connection table, bounded framing of SIP
 * messages (RFC 3261 §18.3), CRLF keep-alive (RFC 5626 §4.4.1), timeouts,
 * and writes with a bounded send queue. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cvoip/sip.h"
#include "tp_int.h"

/* ---- per-source-address accounting -----------------------------------------
 */

static uint32_t ip_bucket(const struct cv_tp *tp, const struct cv_tp_addr *a)
{
	uint64_t h;
	if (a->ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 =
			(const struct sockaddr_in6 *)&a->ss;
		h = cv_hash(&in6->sin6_addr, 16);
	} else {
		const struct sockaddr_in *in4 =
			(const struct sockaddr_in *)&a->ss;
		h = cv_hash(&in4->sin_addr, 4);
	}
	/* keyed so a peer cannot aim at another address's bucket */
	h ^= tp->perip_seed;
	h *= 0x9E3779B97F4A7C15ull;
	return (uint32_t)(h >> 40) % TP_PERIP_BUCKETS;
}

/* Takes a connection slot; CV_ETOOBIG when a limit says no. */
static int slot_take(struct tp_worker *tw, struct cv_tp_conn *c, bool perip)
{
	struct cv_tp *tp = tw->tp;
	uint32_t n = atomic_fetch_add(&tp->nconns, 1);
	if (n >= tp->lim.max_conns) {
		atomic_fetch_sub(&tp->nconns, 1);
		TP_INC(tw, rej_max_conns);
		return CV_ETOOBIG;
	}
	c->counted = true;
	cv_metric_gauge_add(tp->m_open, 1);
	if (!perip)
		return 0; /* our own outgoing connections: total limit only */
	c->ipbucket = ip_bucket(tp, &c->peer);
	uint16_t k = atomic_fetch_add(&tp->perip[c->ipbucket], 1);
	if (k >= tp->lim.max_conns_per_ip) {
		atomic_fetch_sub(&tp->perip[c->ipbucket], 1);
		atomic_fetch_sub(&tp->nconns, 1);
		cv_metric_gauge_add(tp->m_open, -1);
		c->counted = false;
		TP_INC(tw, rej_per_ip);
		return CV_ETOOBIG;
	}
	c->ipcounted = true;
	return 0;
}

static void slot_give(struct cv_tp_conn *c)
{
	if (!c->counted)
		return;
	c->counted = false;
	if (c->ipcounted)
		atomic_fetch_sub(&c->tp->perip[c->ipbucket], 1);
	c->ipcounted = false;
	atomic_fetch_sub(&c->tp->nconns, 1);
	cv_metric_gauge_add(c->tp->m_open, -1);
}

/* ---- connection table
 * ------------------------------------------------------------ */

static unsigned ct_shard(enum cv_tp_kind kind, const struct cv_tp_addr *peer)
{
	char key[20];
	size_t n;
	uint16_t port = cv_tp_addr_port(peer);
	if (peer->ss.ss_family == AF_INET6) {
		memcpy(key,
		       &((const struct sockaddr_in6 *)&peer->ss)->sin6_addr,
		       16);
		n = 16;
	} else {
		memcpy(key, &((const struct sockaddr_in *)&peer->ss)->sin_addr,
		       4);
		n = 4;
	}
	memcpy(key + n, &port, 2);
	key[n + 2] = (char)kind;
	return (unsigned)(cv_hash(key, n + 3) % TP_CT_SHARDS);
}

static int ct_insert_key(struct cv_tp *tp, struct cv_tp_conn *c,
			 const struct cv_tp_addr *key)
{
	struct tp_ctent *e = malloc(sizeof(*e));
	if (!e)
		return -ENOMEM; /* not reusable, still usable */
	e->c = cv_mem_ref(c);
	e->key = *key;
	struct tp_ctshard *s = &tp->ct[ct_shard(c->kind, key)];
	pthread_mutex_lock(&s->mu);
	e->next = s->head;
	s->head = e;
	pthread_mutex_unlock(&s->mu);
	return 0;
}

void tp_ct_insert(struct cv_tp *tp, struct cv_tp_conn *c)
{
	if (ct_insert_key(tp, c, &c->peer) == 0)
		c->in_table = true;
}

int tp_ct_insert_alias(struct cv_tp *tp, struct cv_tp_conn *c,
		       const struct cv_tp_addr *alias)
{
	if (!c->in_table || c->aliased)
		return -EEXIST;
	int err = ct_insert_key(tp, c, alias);
	if (err)
		return err;
	c->alias = *alias;
	c->aliased = true;
	return 0;
}

/* Drops c's entries from the shard of key. */
static void ct_remove_key(struct cv_tp *tp, struct cv_tp_conn *c,
			  const struct cv_tp_addr *key)
{
	struct tp_ctent *found = NULL;
	struct tp_ctshard *s = &tp->ct[ct_shard(c->kind, key)];
	pthread_mutex_lock(&s->mu);
	for (struct tp_ctent **pp = &s->head; *pp; pp = &(*pp)->next) {
		if ((*pp)->c == c && cv_tp_addr_eq(&(*pp)->key, key)) {
			found = *pp;
			*pp = found->next;
			break;
		}
	}
	pthread_mutex_unlock(&s->mu);
	if (found) {
		cv_mem_unref(found->c);
		free(found);
	}
}

void tp_ct_remove(struct cv_tp *tp, struct cv_tp_conn *c)
{
	if (!c->in_table)
		return;
	c->in_table = false;
	ct_remove_key(tp, c, &c->peer);
	if (c->aliased)
		ct_remove_key(tp, c, &c->alias);
	c->aliased = false;
}

struct cv_tp_conn *tp_ct_lookup(struct cv_tp *tp, enum cv_tp_kind kind,
				const struct cv_tp_addr *peer,
				const struct cv_tp_addr *local)
{
	struct cv_tp_conn *r = NULL;
	struct tp_ctshard *s = &tp->ct[ct_shard(kind, peer)];
	pthread_mutex_lock(&s->mu);
	for (struct tp_ctent *e = s->head; e; e = e->next) {
		struct cv_tp_conn *c = e->c;
		if (c->kind != kind || !cv_tp_addr_eq(&e->key, peer) ||
		    !atomic_load(&c->open))
			continue;
		if (local && cv_tp_addr_isset(local) &&
		    !cv_tp_addr_eq(&c->local, local))
			continue;
		r = cv_mem_ref(c);
		break;
	}
	pthread_mutex_unlock(&s->mu);
	return r;
}

/* ---- lifetime
 * --------------------------------------------------------------------- */

static void conn_dtor(void *obj)
{
	struct cv_tp_conn *c = obj;
	cv_buf_free(&c->rbuf);
	if (c->ssl)
		SSL_free(c->ssl);
	tp_ws_free(c);
	for (struct tp_pend *p = c->pend, *n; p; p = n) {
		n = p->next;
		free(p);
	}
}

static struct cv_tp_conn *conn_alloc(struct tp_worker *tw, enum cv_tp_kind kind)
{
	struct cv_tp_conn *c = cv_mem_zalloc(sizeof(*c), conn_dtor);
	if (!c)
		return NULL;
	c->tp = tw->tp;
	c->tw = tw;
	c->kind = kind;
	cv_buf_init(&c->rbuf, 0);
	cv_tmr_init(&c->idle_tmr);
	cv_tmr_init(&c->partial_tmr);
	cv_tmr_init(&c->hs_tmr);
	c->pend_tail = &c->pend;
	c->last_us = cv_clock_us();
	return c;
}

static void conn_link(struct tp_worker *tw, struct cv_tp_conn *c)
{
	c->next = tw->conns;
	c->prev = NULL;
	if (tw->conns)
		tw->conns->prev = c;
	tw->conns = c;
}

static void conn_unlink(struct tp_worker *tw, struct cv_tp_conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else if (tw->conns == c)
		tw->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->next = c->prev = NULL;
}

static void conn_handle_closed(uv_handle_t *h)
{
	struct cv_tp_conn *c = h->data;
	c->tw->nclosing--;
	cv_mem_unref(c); /* the loop's reference */
}

void tp_conn_close(struct cv_tp_conn *c, int err)
{
	struct tp_worker *tw = c->tw;
	if (c->st == TP_C_CLOSED || c->closing)
		return;
	/* A failing write below may call us again: the flag stops that. */
	c->closing = true;
	if ((c->kind == CV_TP_WS || c->kind == CV_TP_WSS) && c->st == TP_C_OPEN)
		tp_ws_close(c); /* RFC 6455 §7: best-effort close frame */
	c->st = TP_C_CLOSED;
	c->close_err = err;
	atomic_store_explicit(&c->open, false, memory_order_release);
	tp_ct_remove(c->tp, c);
	cv_tmr_cancel(&c->idle_tmr);
	cv_tmr_cancel(&c->partial_tmr);
	cv_tmr_cancel(&c->hs_tmr);
	/* Connections refused by a limit were never seen above: no event. */
	bool announce = c->counted;
	slot_give(c);
	TP_INC(tw, conns_closed);
	for (struct tp_pend *p = c->pend, *n; p; p = n) {
		n = p->next;
		tp_sent_notify(p->origin, p->done, p->arg,
			       err ? err : CV_ECLOSED);
		free(p);
	}
	c->pend = NULL;
	c->pend_tail = &c->pend;
	c->pend_bytes = 0;
	conn_unlink(tw, c);
	if (announce && tw->tp->h->conn_closed && tw->started)
		tw->tp->h->conn_closed(tw->w, c, err, tw->tp->arg);
	if (c->handle_init) {
		tw->nclosing++;
		uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
	} else {
		cv_mem_unref(c);
	}
}

void tp_conns_close_all(struct tp_worker *tw)
{
	while (tw->conns)
		tp_conn_close(tw->conns, CV_ECLOSED);
}

/* ---- timers
 * -------------------------------------------------------------------------- */

static struct cv_wheel *conn_wheel(struct cv_tp_conn *c)
{
	return cv_worker_wheel(c->tw->w);
}

static int conn_lower_write(struct cv_tp_conn *c, const void *buf, size_t len);

/* Outgoing connections with keep-alives wake up after keepalive_ms of
 * silence instead of closing after idle_timeout_ms. */
static bool conn_keeps_alive(const struct cv_tp_conn *c)
{
	return c->outgoing && c->tp->keepalive_ms;
}

static uint64_t idle_period_us(const struct cv_tp_conn *c)
{
	if (conn_keeps_alive(c))
		return (uint64_t)c->tp->keepalive_ms * 1000;
	return (uint64_t)c->tp->lim.idle_timeout_ms * 1000;
}

static void idle_fire(struct cv_tmr *t, void *arg)
{
	struct cv_tp_conn *c = arg;
	uint64_t now = cv_clock_us();
	uint64_t idle = idle_period_us(c);
	struct cv_wheel *wh = conn_wheel(c);
	if (now - c->last_us < idle && wh) {
		/* activity since arming: sleep for the rest of the period */
		cv_tmr_start(wh, t, idle - (now - c->last_us), idle_fire, c);
		return;
	}
	if (conn_keeps_alive(c) && wh) {
		/* RFC 5626 §4.4.1 CRLFCRLF (the server answers CRLF), or a
		 * WebSocket ping: keeps our flow and the server's open */
		static const char ping[4] = {'\r', '\n', '\r', '\n'};
		c->last_us = now;
		if (c->st == TP_C_OPEN) {
			int err =
				c->ws ? tp_ws_ping(c)
				      : conn_lower_write(c, ping, sizeof(ping));
			if (err && c->st != TP_C_CLOSED)
				tp_conn_close(c, err);
		}
		if (c->st != TP_C_CLOSED)
			cv_tmr_start(wh, t, idle, idle_fire, c);
		return;
	}
	TP_INC(c->tw, rej_idle);
	CV_DEBUG(TP_MOD, "connection idle, closing");
	tp_conn_close(c, CV_ETIMEOUT);
}

static void partial_fire(struct cv_tmr *t, void *arg)
{
	struct cv_tp_conn *c = arg;
	TP_INC(c->tw, rej_partial);
	CV_LOG_RL(CV_LOG_INFO, TP_MOD, "partial message stalled, closing");
	tp_conn_close(c, CV_ETIMEOUT);
}

static void hs_fire(struct cv_tmr *t, void *arg)
{
	struct cv_tp_conn *c = arg;
	TP_INC(c->tw, rej_handshake);
	CV_LOG_RL(CV_LOG_INFO, TP_MOD, "%s connect/handshake timed out",
		  cv_tp_kind_name(c->kind));
	tp_conn_close(c, CV_ETIMEOUT);
}

static void conn_timers_start(struct cv_tp_conn *c, uint32_t hs_ms)
{
	struct cv_wheel *wh = conn_wheel(c);
	if (!wh)
		return;
	cv_tmr_start(wh, &c->idle_tmr, idle_period_us(c), idle_fire, c);
	if (hs_ms)
		cv_tmr_start(wh, &c->hs_tmr, (uint64_t)hs_ms * 1000, hs_fire,
			     c);
}

/* ---- writing
 * ---------------------------------------------------------------------------
 */

struct tp_wreq {
	uv_write_t req;
	struct cv_tp_conn *c;
	char data[];
};

static void write_done(uv_write_t *req, int status)
{
	struct tp_wreq *w = CV_CONTAINER_OF(req, struct tp_wreq, req);
	if (status < 0 && status != UV_ECANCELED)
		tp_conn_close(w->c, status);
	cv_mem_unref(w->c);
	free(w);
}

int tp_conn_write_raw(struct cv_tp_conn *c, const void *buf, size_t len)
{
	uv_stream_t *s = (uv_stream_t *)&c->tcp;
	size_t off = 0;

	if (c->st == TP_C_CLOSED || !c->handle_init)
		return CV_ECLOSED;
	if (len == 0)
		return 0;
	c->last_us = cv_clock_us();
	if (uv_stream_get_write_queue_size(s) == 0) {
		uv_buf_t b = uv_buf_init((char *)(uintptr_t)buf, (unsigned)len);
		int r = uv_try_write(s, &b, 1);
		if (r > 0)
			off = (size_t)r;
		else if (r != UV_EAGAIN && r != UV_ENOSYS) {
			tp_conn_close(c, r);
			return r;
		}
		if (off == len)
			return 0;
	}
	/* Slow reader: bound what we keep for it. */
	if (uv_stream_get_write_queue_size(s) + (len - off) >
	    c->tp->lim.max_send_queue) {
		TP_INC(c->tw, rej_send_queue);
		CV_LOG_RL(CV_LOG_WARN, TP_MOD,
			  "send queue over %zu bytes, closing",
			  c->tp->lim.max_send_queue);
		tp_conn_close(c, CV_EFULL);
		return CV_EFULL;
	}
	struct tp_wreq *w = malloc(sizeof(*w) + (len - off));
	if (!w)
		return -ENOMEM;
	memcpy(w->data, (const char *)buf + off, len - off);
	w->c = cv_mem_ref(c);
	uv_buf_t b = uv_buf_init(w->data, (unsigned)(len - off));
	int r = uv_write(&w->req, s, &b, 1, write_done);
	if (r) {
		cv_mem_unref(c);
		free(w);
		tp_conn_close(c, r);
		return r;
	}
	return 0;
}

/* Bytes to the peer below the SIP framing: through TLS when secure. */
static int conn_lower_write(struct cv_tp_conn *c, const void *buf, size_t len)
{
	if (c->ssl)
		return tp_tls_write(c, buf, len);
	return tp_conn_write_raw(c, buf, len);
}

static int conn_send_open(struct cv_tp_conn *c, const void *buf, size_t len)
{
	TP_INC(c->tw, tx_msgs[c->kind]);
	if (c->kind == CV_TP_WS || c->kind == CV_TP_WSS)
		return tp_ws_send(c, buf, len);
	return conn_lower_write(c, buf, len);
}

int tp_conn_send_local(struct cv_tp_conn *c, const void *buf, size_t len,
		       cv_tp_sent_fn *done, void *arg, struct tp_worker *origin)
{
	if (c->st == TP_C_CLOSED)
		return CV_ECLOSED;
	if (c->st == TP_C_OPEN) {
		int err = conn_send_open(c, buf, len);
		if (!err)
			tp_sent_notify(origin, done, arg, 0);
		return err;
	}
	if (c->pend_bytes + len > c->tp->lim.max_send_queue) {
		TP_INC(c->tw, rej_send_queue);
		return CV_EFULL;
	}
	struct tp_pend *p = malloc(sizeof(*p) + len);
	if (!p)
		return -ENOMEM;
	p->next = NULL;
	p->done = done;
	p->arg = arg;
	p->origin = origin;
	p->len = len;
	memcpy(p->data, buf, len);
	*c->pend_tail = p;
	c->pend_tail = &p->next;
	c->pend_bytes += len;
	return 0;
}

void tp_conn_established(struct cv_tp_conn *c)
{
	if (c->st == TP_C_CLOSED)
		return;
	c->st = TP_C_OPEN;
	cv_tmr_cancel(&c->hs_tmr);
	struct tp_pend *p = c->pend;
	c->pend = NULL;
	c->pend_tail = &c->pend;
	c->pend_bytes = 0;
	while (p) {
		struct tp_pend *n = p->next;
		int err = c->st == TP_C_OPEN
				  ? conn_send_open(c, p->data, p->len)
				  : CV_ECLOSED;
		tp_sent_notify(p->origin, p->done, p->arg, err);
		free(p);
		p = n;
	}
}

/* ---- framing (RFC 3261 §18.3, RFC 5626 §4.4.1)
 * ---------------------------------- */

int tp_frame_next(const char *buf, size_t len, size_t max, size_t *consumed,
		  size_t *msg_len, unsigned *pings)
{
	size_t k = cv_sip_keepalive_len(buf, len);
	*consumed = 0;
	*msg_len = 0;
	*pings = 0;
	if (k) {
		/* Count CRLFCRLF pings among the leading CR/LF bytes. A lone
		 * CRLF at the end of what we have may be half of a ping:
		 * keep it until more bytes arrive. */
		size_t crlf = 0, i = 0;
		while (i + 1 < k && buf[i] == '\r' && buf[i + 1] == '\n') {
			crlf++;
			i += 2;
		}
		*pings = (unsigned)(crlf / 2);
		if (k == len) {
			/* all keep-alive so far: drop whole pings only; an odd
			 * CRLF and a trailing CR may be the start of the next
			 */
			*consumed = (crlf / 2) * 4;
			return CV_EINCOMPLETE;
		}
		*consumed = k;
	}
	int err = cv_sip_frame(buf + k, len - k, max, msg_len);
	if (err)
		return err;
	*consumed = k + *msg_len;
	return 0;
}

static const char pong[2] = {'\r', '\n'};

/* Frames what rbuf holds; delivers whole messages. Returns 0 or the error
 * that closed the connection. */
int tp_stream_frame(struct cv_tp_conn *c)
{
	struct tp_worker *tw = c->tw;
	size_t max = c->tp->lim.max_stream_msg;

	while (c->rbuf.len && c->st != TP_C_CLOSED) {
		size_t used, mlen;
		unsigned pings;
		int err = tp_frame_next(c->rbuf.data, c->rbuf.len, max, &used,
					&mlen, &pings);
		/* Where we send the pings, CRLFs are the server's pongs
		 * (two pending ones look like a ping): never answer them. */
		for (unsigned i = 0;
		     i < pings && c->st != TP_C_CLOSED && !conn_keeps_alive(c);
		     i++) {
			TP_INC(tw, keepalive_pong);
			conn_lower_write(c, pong, sizeof(pong));
		}
		if (err == CV_EINCOMPLETE) {
			cv_buf_consume(&c->rbuf, used);
			break;
		}
		if (err) {
			if (err == CV_ETOOBIG)
				TP_INC(tw, rej_stream_too_big);
			else
				TP_INC(tw, rej_garbage);
			CV_LOG_RL(CV_LOG_INFO, TP_MOD,
				  "%s stream unframable (%s), closing",
				  cv_tp_kind_name(c->kind), cv_strerror(err));
			tp_conn_close(c, err);
			return err;
		}
		struct cv_tp_meta meta = {
			.kind = c->kind,
			.src = c->peer,
			.local = c->local,
			.conn = c,
			.rx_us = cv_clock_us(),
		};
		/* RFC 5923: a request with Via alias (checked only until the
		 * connection has its alias, and only where allowed). */
		if (!c->outgoing && !c->aliased &&
		    (c->kind == CV_TP_TLS ||
		     (c->kind == CV_TP_TCP && c->tp->tcp_aliases)))
			tp_alias_check(c, c->rbuf.data + (used - mlen), mlen);
		/* Keep the bytes valid across the handler: the handler may
		 * send on this connection but never reads from it. */
		tp_deliver(tw, &meta, c->rbuf.data + (used - mlen), mlen);
		cv_buf_consume(&c->rbuf, used);
	}
	if (c->st == TP_C_CLOSED)
		return CV_ECLOSED;
	struct cv_wheel *wh = conn_wheel(c);
	/* Only a started message is "partial"; a pending lone CRLF is not. */
	if (c->rbuf.len == 0 ||
	    cv_sip_keepalive_len(c->rbuf.data, c->rbuf.len) == c->rbuf.len)
		cv_tmr_cancel(&c->partial_tmr);
	else if (wh && !cv_tmr_active(&c->partial_tmr))
		cv_tmr_start(wh, &c->partial_tmr,
			     (uint64_t)c->tp->lim.partial_timeout_ms * 1000,
			     partial_fire, c);
	return 0;
}

void tp_conn_plain_in(struct cv_tp_conn *c, const char *p, size_t n)
{
	if (c->kind == CV_TP_WS || c->kind == CV_TP_WSS) {
		tp_ws_in(c, p, n);
		return;
	}
	/* Bounded: a message is at most max_stream_msg plus keep-alive
	 * bytes, so the buffer never holds more than that plus one read. */
	size_t cap = c->tp->lim.max_stream_msg + 4;
	while (n && c->st != TP_C_CLOSED) {
		size_t room = cap > c->rbuf.len ? cap - c->rbuf.len : 0;
		size_t take = CV_MIN(room, n);
		if (take == 0) {
			TP_INC(c->tw, rej_stream_too_big);
			tp_conn_close(c, CV_ETOOBIG);
			return;
		}
		if (cv_buf_append(&c->rbuf, p, take)) {
			tp_conn_close(c, -ENOMEM);
			return;
		}
		p += take;
		n -= take;
		if (tp_stream_frame(c))
			return;
	}
}

/* ---- reading
 * -----------------------------------------------------------------------------
 */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct cv_tp_conn *c = h->data;
	buf->base = c->tw->readbuf;
	buf->len = sizeof(c->tw->readbuf);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct cv_tp_conn *c = s->data;
	if (n < 0) {
		tp_conn_close(c, n == UV_EOF ? 0 : (int)n);
		return;
	}
	if (n == 0 || c->st == TP_C_CLOSED)
		return;
	c->last_us = cv_clock_us();
	cv_mem_ref(c);
	if (c->kind == CV_TP_TLS || c->kind == CV_TP_WSS)
		tp_tls_in(c, buf->base, (size_t)n);
	else
		tp_conn_plain_in(c, buf->base, (size_t)n);
	cv_mem_unref(c);
}

static int conn_start_io(struct cv_tp_conn *c)
{
	int err;
	c->tcp.data = c;
	(void)uv_tcp_nodelay(&c->tcp, 1);
	err = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
	if (err)
		return err;
	atomic_store_explicit(&c->open, true, memory_order_release);
	return 0;
}

/* ---- accepting
 * -----------------------------------------------------------------------------
 */

static void on_connection(uv_stream_t *server, int status)
{
	struct tp_slis *sl = server->data;
	struct tp_worker *tw = sl->tw;
	struct cv_tp *tp = tw->tp;
	enum cv_tp_kind kind = tp->lis[sl->li].spec.kind;
	struct cv_tp_conn *c;
	int len, err;

	if (status < 0)
		return;
	c = conn_alloc(tw, kind);
	if (!c)
		return;
	err = uv_tcp_init(cv_worker_loop(tw->w), &c->tcp);
	if (err) {
		cv_mem_unref(c);
		return;
	}
	c->handle_init = true;
	c->tcp.data = c;
	conn_link(tw, c);
	c->st = TP_C_CONNECTING;
	if (uv_accept(server, (uv_stream_t *)&c->tcp)) {
		tp_conn_close(c, CV_ECLOSED);
		return;
	}
	len = sizeof(c->peer.ss);
	uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&c->peer.ss, &len);
	len = sizeof(c->local.ss);
	uv_tcp_getsockname(&c->tcp, (struct sockaddr *)&c->local.ss, &len);
	if (slot_take(tw, c, true)) {
		CV_LOG_RL(CV_LOG_WARN, TP_MOD,
			  "connection limit reached, refusing");
		tp_conn_close(c, CV_ETOOBIG);
		return;
	}
	TP_INC(tw, conns_accepted);
	err = conn_start_io(c);
	if (err) {
		tp_conn_close(c, err);
		return;
	}
	switch (kind) {
	case CV_TP_TCP:
		c->st = TP_C_OPEN;
		conn_timers_start(c, 0);
		break;
	case CV_TP_WS:
		c->st = TP_C_WS_HS;
		conn_timers_start(c, tp->lim.handshake_timeout_ms);
		break;
	default: /* TLS, WSS */
		conn_timers_start(c, tp->lim.handshake_timeout_ms);
		err = tp_tls_conn_start(c);
		if (err) {
			tp_conn_close(c, err);
			return;
		}
		break;
	}
	if (c->st != TP_C_CLOSED)
		tp_ct_insert(tp, c);
}

int tp_stream_start(struct tp_worker *tw, unsigned li)
{
	struct cv_tp *tp = tw->tp;
	struct tp_slis *sl = &tw->slis[li];
	int fd = tp->lis[li].fds[tw->idx];
	int err = uv_tcp_init(cv_worker_loop(tw->w), &sl->tcp);
	if (err)
		return err;
	sl->tw = tw;
	sl->li = li;
	sl->tcp.data = sl;
	sl->active = true;
	err = uv_tcp_open(&sl->tcp, fd);
	if (err)
		return err;
	tp->lis[li].fds[tw->idx] = -1;
	return uv_listen((uv_stream_t *)&sl->tcp, 511, on_connection);
}

void tp_stream_stop(struct tp_worker *tw, unsigned li)
{
	struct tp_slis *sl = &tw->slis[li];
	if (!sl->active)
		return;
	sl->active = false;
	uv_close((uv_handle_t *)&sl->tcp, NULL);
}

/* ---- connecting
 * -----------------------------------------------------------------------------
 */

static void on_connect(uv_connect_t *req, int status)
{
	struct cv_tp_conn *c = req->data;
	int len;

	if (c->st == TP_C_CLOSED) {
		cv_mem_unref(c);
		return;
	}
	if (status < 0) {
		CV_LOG_RL(CV_LOG_INFO, TP_MOD, "%s connect failed: %s",
			  cv_tp_kind_name(c->kind), cv_strerror(status));
		tp_conn_close(c, status);
		cv_mem_unref(c);
		return;
	}
	len = sizeof(c->local.ss);
	uv_tcp_getsockname(&c->tcp, (struct sockaddr *)&c->local.ss, &len);
	TP_INC(c->tw, conns_connected);
	int err = conn_start_io(c);
	if (!err && c->kind != CV_TP_TCP) {
		/* TLS, WS and WSS handshakes get their own time */
		cv_tmr_cancel(&c->hs_tmr);
		cv_tmr_start(conn_wheel(c), &c->hs_tmr,
			     (uint64_t)c->tp->lim.handshake_timeout_ms * 1000,
			     hs_fire, c);
		/* WSS: the Upgrade follows the TLS handshake (tls.c) */
		err = c->kind == CV_TP_WS ? tp_ws_client_start(c)
					  : tp_tls_conn_start(c);
	} else if (!err) {
		tp_conn_established(c);
	}
	if (err)
		tp_conn_close(c, err);
	cv_mem_unref(c);
}

int tp_conn_connect(struct tp_worker *tw, const struct cv_tp_send_params *p,
		    struct cv_tp_conn **cp)
{
	struct cv_tp *tp = tw->tp;
	struct cv_tp_conn *c;
	int err;

	if ((unsigned)p->kind >= CV_TP_NKINDS || p->kind == CV_TP_UDP)
		return CV_EUNSUPP;
	if (cv_tp_kind_is_secure(p->kind) && !tp->ssl_cli)
		return CV_ECONFIG;
	c = conn_alloc(tw, p->kind);
	if (!c)
		return -ENOMEM;
	c->peer = p->dst;
	c->outgoing = true;
	if (p->tls_name)
		snprintf(c->tls_name, sizeof(c->tls_name), "%s", p->tls_name);
	else if (tp->tls_server_name)
		snprintf(c->tls_name, sizeof(c->tls_name), "%s",
			 tp->tls_server_name);
	err = slot_take(tw, c, false);
	if (err) {
		cv_mem_unref(c);
		return err;
	}
	err = uv_tcp_init(cv_worker_loop(tw->w), &c->tcp);
	if (err) {
		slot_give(c);
		cv_mem_unref(c);
		return err;
	}
	c->handle_init = true;
	c->tcp.data = c;
	conn_link(tw, c);
	c->st = TP_C_CONNECTING;
	c->creq.data = cv_mem_ref(c);
	err = uv_tcp_connect(&c->creq, &c->tcp,
			     (const struct sockaddr *)&c->peer.ss, on_connect);
	if (err) {
		cv_mem_unref(c);
		tp_conn_close(c, err);
		return err;
	}
	/* open (for the table) while connecting: requests queue behind it */
	atomic_store_explicit(&c->open, true, memory_order_release);
	conn_timers_start(c, tp->lim.connect_timeout_ms);
	tp_ct_insert(tp, c);
	*cp = c;
	return 0;
}
