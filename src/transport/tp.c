/* Transport instance: creation, per-worker start/stop, delivery to the
 * Call-ID owner (worker handover), the send entry point and statistics. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cvoip/sip.h"
#include "tp_int.h"

struct tp_worker *tp_worker_of(struct cv_tp *tp, struct cv_worker *w)
{
	unsigned i = cv_worker_index(w);
	return i < tp->nworkers ? tp->tw[i] : NULL;
}

static void tp_worker_free(struct tp_worker *tw)
{
	if (!tw)
		return;
	free(tw->udp);
	free(tw->slis);
	free(tw->rxbuf);
	free(tw->txarena);
	free(tw->slout);
	free(tw);
}

int cv_tp_create(struct cv_tp **tpp, struct cv_rt *rt,
		 const struct cv_tp_params *p)
{
	struct cv_tp *tp;
	int err = 0;

	if (!tpp || !rt || !p || !p->h || !p->h->recv ||
	    (p->nspecs && !p->specs))
		return -EINVAL;
	/* libuv writes with write(2): a peer that closed first (a WebSocket
	 * close answered after the peer's FIN) must give EPIPE, not kill the
	 * process. Only when the application kept the default action. */
	struct sigaction sa;
	if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
		signal(SIGPIPE, SIG_IGN);
	tp = calloc(1, sizeof(*tp));
	if (!tp)
		return -ENOMEM;
	tp->rt = rt;
	tp->nworkers = cv_rt_workers(rt);
	if (p->limits)
		tp->lim = *p->limits;
	else
		cv_tp_limits_default(&tp->lim);
	if (tp->lim.max_udp_msg == 0 || tp->lim.max_udp_msg > 65535)
		tp->lim.max_udp_msg = 65535;
	tp->h = p->h;
	tp->arg = p->arg;
	tp->udp_batch = p->udp_batch ? p->udp_batch : 16;
	if (tp->udp_batch > TP_UDP_BATCH_MAX)
		tp->udp_batch = TP_UDP_BATCH_MAX;
	tp->dns_cache_max = p->dns_cache_max ? p->dns_cache_max : 1024;
	tp->keepalive_ms = p->keepalive_ms;
	tp->deliver_local = p->deliver_local;
	tp->tcp_aliases = p->tcp_aliases;
	tp->perip_seed = ((uint64_t)cv_random_u32() << 32) | cv_random_u32();
	for (unsigned i = 0; i < TP_CT_SHARDS; i++)
		pthread_mutex_init(&tp->ct[i].mu, NULL);

	if (p->dns_servers && p->dns_servers[0]) {
		struct cv_buf b;
		cv_buf_init(&b, 4096);
		for (unsigned i = 0; p->dns_servers[i]; i++) {
			struct cv_tp_addr chk;
			if (cv_tp_addr_parse(&chk,
					     cv_pl_str(p->dns_servers[i]))) {
				cv_buf_free(&b);
				err = CV_ECONFIG;
				CV_ERROR(TP_MOD, "bad dns server '%s'",
					 p->dns_servers[i]);
				goto out;
			}
			cv_buf_printf(&b, "%s%s", i ? "," : "",
				      p->dns_servers[i]);
		}
		cv_buf_append(&b, "", 1);
		if (b.err) {
			err = b.err;
			cv_buf_free(&b);
			goto out;
		}
		tp->dns_csv = b.data; /* owned */
	}

	if (p->metrics) {
		err = tp_metrics_register(tp, p->metrics);
		if (err)
			goto out;
	}
	err = tp_dns_lib_init();
	if (err)
		goto out;
	tp->ares_init = true;
	err = tp_tls_init(tp, &p->tls);
	if (err)
		goto out;

	tp->tw = calloc(tp->nworkers, sizeof(*tp->tw));
	tp->lis = calloc(p->nspecs ? p->nspecs : 1, sizeof(*tp->lis));
	if (!tp->tw || !tp->lis) {
		err = -ENOMEM;
		goto out;
	}
	for (unsigned i = 0; i < tp->nworkers; i++) {
		struct tp_worker *tw = calloc(1, sizeof(*tw));
		if (!tw) {
			err = -ENOMEM;
			goto out;
		}
		tp->tw[i] = tw;
		tw->tp = tp;
		tw->idx = i;
		tw->batch = tp->udp_batch;
		tw->udp = calloc(p->nspecs ? p->nspecs : 1, sizeof(*tw->udp));
		tw->slis = calloc(p->nspecs ? p->nspecs : 1, sizeof(*tw->slis));
		tw->rxbuf = malloc(tw->batch * (tp->lim.max_udp_msg + 1));
		tw->txarena = malloc(TP_TX_ARENA);
		tw->slout = malloc(TP_SL_MAX);
		if (!tw->udp || !tw->slis || !tw->rxbuf || !tw->txarena ||
		    !tw->slout) {
			err = -ENOMEM;
			goto out;
		}
		tw->rxslot = tp->lim.max_udp_msg + 1;
	}

	for (unsigned i = 0; i < p->nspecs; i++) {
		struct tp_listener *l = &tp->lis[i];
		l->spec = p->specs[i];
		l->fds = malloc(tp->nworkers * sizeof(int));
		if (!l->fds) {
			err = -ENOMEM;
			goto out;
		}
		for (unsigned k = 0; k < tp->nworkers; k++)
			l->fds[k] = -1;
		tp->nlis++;
		if (cv_tp_kind_is_secure(l->spec.kind) && !tp->ssl_srv) {
			CV_ERROR(TP_MOD,
				 "%s listener needs tls cert_file and key_file",
				 cv_tp_kind_name(l->spec.kind));
			err = CV_ECONFIG;
			goto out;
		}
		if (l->spec.kind == CV_TP_UDP)
			err = tp_udp_bind(tp, l);
		else
			err = tp_stream_bind(tp, l);
		if (err) {
			char s[300];
			cv_tp_spec_print(&l->spec, s, sizeof(s));
			CV_ERROR(TP_MOD, "listen %s: %s", s, cv_strerror(err));
			goto out;
		}
	}
	*tpp = tp;
	return 0;
out:
	cv_tp_destroy(tp);
	return err;
}

void cv_tp_destroy(struct cv_tp *tp)
{
	if (!tp)
		return;
	for (unsigned i = 0; i < tp->nlis; i++) {
		struct tp_listener *l = &tp->lis[i];
		for (unsigned k = 0; l->fds && k < tp->nworkers; k++)
			if (l->fds[k] >= 0)
				close(l->fds[k]);
		free(l->fds);
	}
	free(tp->lis);
	/* Connections left in the table (workers never started) */
	for (unsigned i = 0; i < TP_CT_SHARDS; i++) {
		struct tp_ctent *e = tp->ct[i].head, *n;
		for (; e; e = n) {
			n = e->next;
			cv_mem_unref(e->c);
			free(e);
		}
		pthread_mutex_destroy(&tp->ct[i].mu);
	}
	for (unsigned i = 0; tp->tw && i < tp->nworkers; i++)
		tp_worker_free(tp->tw[i]);
	free(tp->tw);
	tp_tls_free(tp);
	if (tp->ares_init)
		tp_dns_lib_cleanup();
	free(tp->dns_csv);
	free(tp);
}

int cv_tp_worker_start(struct cv_tp *tp, struct cv_worker *w)
{
	struct tp_worker *tw = tp_worker_of(tp, w);
	int err = 0;

	if (!tw || tw->started)
		return -EINVAL;
	tw->w = w;
	tw->started = true;
	for (unsigned i = 0; i < tp->nlis; i++) {
		if (tp->lis[i].spec.kind == CV_TP_UDP)
			err = tp_udp_start(tw, i);
		else
			err = tp_stream_start(tw, i);
		if (err)
			return err;
	}
	return tp_dns_start(tw);
}

void cv_tp_worker_stop(struct cv_tp *tp, struct cv_worker *w)
{
	struct tp_worker *tw = tp_worker_of(tp, w);
	if (!tw || !tw->started)
		return;
	tp_udp_flush(tw);
	tw->started = false;
	tp_dns_stop(tw);
	for (unsigned i = 0; i < tp->nlis; i++) {
		if (tp->lis[i].spec.kind == CV_TP_UDP)
			tp_udp_stop(tw, i);
		else
			tp_stream_stop(tw, i);
	}
	tp_conns_close_all(tw);
}

unsigned cv_tp_listener_count(const struct cv_tp *tp)
{
	return tp->nlis;
}

int cv_tp_listener_addr(const struct cv_tp *tp, unsigned i,
			enum cv_tp_kind *kind, struct cv_tp_addr *addr)
{
	if (i >= tp->nlis)
		return CV_ENOTFOUND;
	if (kind)
		*kind = tp->lis[i].spec.kind;
	if (addr)
		*addr = tp->lis[i].bound;
	return 0;
}

int tp_listener_find(struct cv_tp *tp, enum cv_tp_kind kind, int family,
		     const struct cv_tp_addr *local)
{
	int any = -1, first = -1;
	/* exact local address, else a wildcard listener on its port, else
	 * the first listener of the transport and family */
	for (unsigned i = 0; i < tp->nlis; i++) {
		const struct tp_listener *l = &tp->lis[i];
		if (l->spec.kind != kind || l->bound.ss.ss_family != family)
			continue;
		if (!local || !cv_tp_addr_isset(local))
			return (int)i;
		if (cv_tp_addr_eq(&l->bound, local))
			return (int)i;
		if (any < 0 && cv_tp_addr_is_any(&l->bound) &&
		    cv_tp_addr_port(&l->bound) == cv_tp_addr_port(local))
			any = (int)i;
		if (first < 0)
			first = (int)i;
	}
	if (any >= 0)
		return any;
	return first >= 0 ? first : CV_ENOTFOUND;
}

/* ---- metadata ------------------------------------------------------------ */

void cv_tp_meta_copy(struct cv_tp_meta *dst, const struct cv_tp_meta *src)
{
	*dst = *src;
	if (dst->conn)
		cv_mem_ref(dst->conn);
}

void cv_tp_meta_clear(struct cv_tp_meta *m)
{
	if (m->conn)
		m->conn = cv_mem_unref(m->conn);
}

/* ---- delivery to the Call-ID owner ----------------------------------------
 */

struct tp_hand {
	struct cv_tp_meta meta; /* holds a connection reference */
	struct cv_tp *tp;
	size_t len;
	size_t cid_off, cid_len;
	char buf[];
};

static void hand_run(struct cv_worker *w, void *arg)
{
	struct tp_hand *m = arg;
	struct tp_worker *tw = tp_worker_of(m->tp, w);

	if (tw && tw->started) {
		struct cv_tp_rx rx = {
			.meta = m->meta,
			.buf = m->buf,
			.len = m->len,
			.call_id = {m->buf + m->cid_off, m->cid_len},
			.tp = m->tp,
		};
		m->tp->h->recv(w, &rx, m->tp->arg);
		tp_udp_flush(tw);
	}
	cv_tp_meta_clear(&m->meta);
	free(m);
}

void tp_deliver(struct tp_worker *tw, const struct cv_tp_meta *meta,
		const char *buf, size_t len)
{
	struct cv_tp *tp = tw->tp;
	struct cv_pl cid = CV_PL_INIT;
	unsigned owner = tw->idx;

	TP_INC(tw, rx_msgs[meta->kind]);
	/* A message without Call-ID stays here: the layer above answers 400.
	 * One worker, or a handler without per-Call-ID state: no peek. */
	if (tp->nworkers > 1 && !tp->deliver_local &&
	    cv_sip_peek_call_id(buf, len, &cid) == 0)
		owner = cv_rt_owner(tp->rt, cid.p, cid.l);
	if (owner == tw->idx) {
		struct cv_tp_rx rx = {.meta = *meta,
				      .buf = buf,
				      .len = len,
				      .call_id = cid,
				      .tp = tp};
		tp->h->recv(tw->w, &rx, tp->arg);
		return;
	}
	struct tp_hand *m = malloc(sizeof(*m) + len + 1);
	if (!m) {
		TP_INC(tw, handover_dropped);
		return;
	}
	cv_tp_meta_copy(&m->meta, meta);
	m->tp = tp;
	m->len = len;
	memcpy(m->buf, buf, len);
	m->buf[len] = '\0';
	m->cid_off = (size_t)(cid.p - buf);
	m->cid_len = cid.l;
	if (cv_worker_post(cv_rt_worker(tp->rt, owner), hand_run, m)) {
		TP_INC(tw, handover_dropped);
		CV_LOG_RL(CV_LOG_WARN, TP_MOD,
			  "handover to worker %u dropped: queue full", owner);
		cv_tp_meta_clear(&m->meta);
		free(m);
		return;
	}
	TP_INC(tw, handover);
}

/* ---- sending ----------------------------------------------------------------
 */

struct tp_xsend {
	struct cv_tp_conn *c; /* reference */
	struct tp_worker *origin;
	cv_tp_sent_fn *done;
	void *arg;
	size_t len;
	char data[];
};

struct tp_sentmsg {
	cv_tp_sent_fn *done;
	void *arg;
	int err;
};

static void sent_run(struct cv_worker *w, void *arg)
{
	struct tp_sentmsg *m = arg;
	m->done(m->err, m->arg);
	free(m);
}

void tp_sent_notify(struct tp_worker *origin, cv_tp_sent_fn *done, void *arg,
		    int err)
{
	if (!done)
		return;
	if (!origin || cv_worker_current() == origin->w) {
		done(err, arg);
		return;
	}
	struct tp_sentmsg *m = malloc(sizeof(*m));
	if (!m)
		return;
	m->done = done;
	m->arg = arg;
	m->err = err;
	if (cv_worker_post(origin->w, sent_run, m)) {
		/* The origin's queue is full: nothing safe to call here. */
		CV_LOG_RL(CV_LOG_WARN, TP_MOD, "send result to worker %u lost",
			  origin->idx);
		free(m);
	}
}

static void xsend_run(struct cv_worker *w, void *arg)
{
	struct tp_xsend *m = arg;
	struct tp_worker *tw = tp_worker_of(m->c->tp, w);
	int err = CV_ECLOSED;

	if (tw && tw->started && m->c->st != TP_C_CLOSED)
		err = tp_conn_send_local(m->c, m->data, m->len, m->done, m->arg,
					 m->origin);
	if (err)
		tp_sent_notify(m->origin, m->done, m->arg, err);
	cv_mem_unref(m->c);
	free(m);
}

static int send_on_conn(struct tp_worker *tw, struct cv_tp_conn *c,
			const void *buf, size_t len, cv_tp_sent_fn *done,
			void *arg)
{
	if (c->tw == tw)
		return tp_conn_send_local(c, buf, len, done, arg, tw);
	struct tp_xsend *m = malloc(sizeof(*m) + len);
	if (!m)
		return -ENOMEM;
	m->c = cv_mem_ref(c);
	m->origin = tw;
	m->done = done;
	m->arg = arg;
	m->len = len;
	memcpy(m->data, buf, len);
	int err = cv_worker_post(c->tw->w, xsend_run, m);
	if (err) {
		cv_mem_unref(m->c);
		free(m);
		return err;
	}
	return 0;
}

int cv_tp_send(struct cv_tp *tp, struct cv_worker *w,
	       const struct cv_tp_send_params *p, const void *buf, size_t len)
{
	struct tp_worker *tw = tp_worker_of(tp, w);
	int err;

	if (!tw || !tw->started || !p || !buf)
		return -EINVAL;
	if (p->conn) {
		if (cv_tp_conn_is_open(p->conn))
			return send_on_conn(tw, p->conn, buf, len, p->done,
					    p->arg);
		if (!cv_tp_addr_isset(&p->dst))
			return CV_ECLOSED;
	}
	if (!cv_tp_addr_isset(&p->dst) || (unsigned)p->kind >= CV_TP_NKINDS)
		return -EINVAL;
	if (p->kind == CV_TP_UDP) {
		int li = tp_listener_find(tp, CV_TP_UDP, p->dst.ss.ss_family,
					  &p->local);
		if (li < 0)
			return li;
		err = tp_udp_send(tw, (unsigned)li, &p->dst, &p->local, buf,
				  len);
		if (!err && p->done)
			p->done(0, p->arg);
		return err;
	}
	struct cv_tp_conn *c = tp_ct_lookup(tp, p->kind, &p->dst, &p->local);
	if (c) {
		err = send_on_conn(tw, c, buf, len, p->done, p->arg);
		cv_mem_unref(c);
		return err;
	}
	err = tp_conn_connect(tw, p, &c);
	if (err)
		return err;
	err = tp_conn_send_local(c, buf, len, p->done, p->arg, tw);
	return err;
}

/* ---- connections: identity accessors ----------------------------------------
 */

struct cv_tp_conn *cv_tp_conn_ref(struct cv_tp_conn *c)
{
	return cv_mem_ref(c);
}

void cv_tp_conn_unref(struct cv_tp_conn *c)
{
	cv_mem_unref(c);
}

enum cv_tp_kind cv_tp_conn_kind(const struct cv_tp_conn *c)
{
	return c->kind;
}

const struct cv_tp_addr *cv_tp_conn_peer(const struct cv_tp_conn *c)
{
	return &c->peer;
}

const struct cv_tp_addr *cv_tp_conn_local(const struct cv_tp_conn *c)
{
	return &c->local;
}

unsigned cv_tp_conn_worker(const struct cv_tp_conn *c)
{
	return c->tw->idx;
}

bool cv_tp_conn_is_open(const struct cv_tp_conn *c)
{
	return atomic_load_explicit(&c->open, memory_order_acquire);
}

static void close_run(struct cv_worker *w, void *arg)
{
	struct cv_tp_conn *c = arg;
	tp_conn_close(c, 0);
	cv_mem_unref(c);
}

void cv_tp_conn_close(struct cv_tp_conn *c)
{
	if (!c)
		return;
	struct cv_worker *cur = cv_worker_current();
	if (cur == c->tw->w) {
		tp_conn_close(c, 0);
		return;
	}
	cv_mem_ref(c);
	if (cv_worker_post(c->tw->w, close_run, c))
		cv_mem_unref(c);
}

/* ---- application WebSockets
 * ----------------------------------------------------- */

struct tp_wsx {
	struct cv_tp_conn *c; /* reference */
	bool binary;
	size_t len;
	char data[];
};

static void wsx_run(struct cv_worker *w, void *arg)
{
	struct tp_wsx *m = arg;
	struct tp_worker *tw = tp_worker_of(m->c->tp, w);
	if (tw && tw->started)
		(void)tp_ws_send_op(m->c, m->data, m->len, m->binary);
	cv_mem_unref(m->c);
	free(m);
}

int cv_tp_ws_send(struct cv_tp_conn *c, const void *data, size_t len,
		  bool binary)
{
	if (!c || !c->ws_app)
		return CV_EUNSUPP;
	if (!cv_tp_conn_is_open(c))
		return CV_ECLOSED;
	if (cv_worker_current() == c->tw->w)
		return tp_ws_send_op(c, data, len, binary);
	struct tp_wsx *m = malloc(sizeof(*m) + len);
	if (!m)
		return -ENOMEM;
	m->c = cv_mem_ref(c);
	m->binary = binary;
	m->len = len;
	memcpy(m->data, data, len);
	int err = cv_worker_post(c->tw->w, wsx_run, m);
	if (err) {
		cv_mem_unref(m->c);
		free(m);
	}
	return err;
}

/* ---- statistics
 * ------------------------------------------------------------------ */

void cv_tp_stats_read(const struct cv_tp *tp, struct cv_tp_stats *out)
{
	memset(out, 0, sizeof(*out));
	uint64_t *o = (uint64_t *)(void *)out;
	size_t n = sizeof(*out) / sizeof(uint64_t);
	for (unsigned i = 0; i < tp->nworkers; i++) {
		const uint64_t *s =
			(const uint64_t *)(const void *)&tp->tw[i]->stats;
		for (size_t k = 0; k < n; k++)
			o[k] += __atomic_load_n(&s[k], __ATOMIC_RELAXED);
	}
	out->conns_open = atomic_load(&((struct cv_tp *)tp)->nconns);
}
