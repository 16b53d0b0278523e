/* SIP over WebSocket (RFC 7118) with wslay for RFC 6455 framing: the
 * HTTP/1.1 Upgrade with Sec-WebSocket-Protocol: sip, one SIP message per
 * message, automatic ping/pong and close handshake, frame and message
 * size limits, and a stalled-frame timeout. Both sides: a listener
 * accepts Upgrades; an outgoing connection (a UA reaching a WS server,
 * RFC 7118 §4.1) sends one, masks its frames (RFC 6455 §5.3) and checks
 * the server's Sec-WebSocket-Accept and protocol. */
#include <ctype.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "tp_int.h"

static int ws_lower_write(struct cv_tp_conn *c, const void *buf, size_t len)
{
	if (c->ssl)
		return tp_tls_write(c, buf, len);
	return tp_conn_write_raw(c, buf, len);
}

/* ---- wslay callbacks
 * ----------------------------------------------------------- */

static ssize_t ws_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len,
			  int flags, void *user)
{
	struct cv_tp_conn *c = user;
	if (c->wsin_len == 0 || c->ws_fail || c->st == TP_C_CLOSED) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	size_t n = CV_MIN(len, c->wsin_len);
	memcpy(buf, c->wsin, n);
	c->wsin += n;
	c->wsin_len -= n;
	return (ssize_t)n;
}

static ssize_t ws_send_cb(wslay_event_context_ptr ctx, const uint8_t *data,
			  size_t len, int flags, void *user)
{
	struct cv_tp_conn *c = user;
	if (c->st == TP_C_CLOSED || ws_lower_write(c, data, len)) {
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	return (ssize_t)len;
}

static void ws_partial_fire(struct cv_tmr *t, void *arg)
{
	struct cv_tp_conn *c = arg;
	TP_INC(c->tw, rej_partial);
	CV_LOG_RL(CV_LOG_INFO, TP_MOD, "websocket frame stalled, closing");
	tp_conn_close(c, CV_ETIMEOUT);
}

static void
ws_frame_start_cb(wslay_event_context_ptr ctx,
		  const struct wslay_event_on_frame_recv_start_arg *a,
		  void *user)
{
	struct cv_tp_conn *c = user;
	if (a->payload_length > c->tp->lim.max_ws_frame) {
		TP_INC(c->tw, rej_ws_too_big);
		CV_LOG_RL(CV_LOG_INFO, TP_MOD,
			  "websocket frame of %llu bytes over limit",
			  (unsigned long long)a->payload_length);
		c->ws_fail = true;
		return;
	}
	struct cv_wheel *wh = cv_worker_wheel(c->tw->w);
	if (wh && !cv_tmr_active(&c->partial_tmr))
		cv_tmr_start(wh, &c->partial_tmr,
			     (uint64_t)c->tp->lim.partial_timeout_ms * 1000,
			     ws_partial_fire, c);
}

static void ws_frame_end_cb(wslay_event_context_ptr ctx, void *user)
{
	struct cv_tp_conn *c = user;
	cv_tmr_cancel(&c->partial_tmr);
}

static void ws_msg_cb(wslay_event_context_ptr ctx,
		      const struct wslay_event_on_msg_recv_arg *a, void *user)
{
	struct cv_tp_conn *c = user;
	if (a->opcode != WSLAY_TEXT_FRAME && a->opcode != WSLAY_BINARY_FRAME)
		return; /* ping/pong/close: wslay answers them */
	if (c->st != TP_C_OPEN || c->ws_fail)
		return;
	if (a->msg_length > c->tp->lim.max_ws_msg) {
		TP_INC(c->tw, rej_ws_too_big);
		c->ws_fail = true;
		return;
	}
	if (a->msg_length == 0)
		return;
	struct cv_tp_meta meta = {
		.kind = c->kind,
		.src = c->peer,
		.local = c->local,
		.conn = c,
		.rx_us = cv_clock_us(),
	};
	if (c->ws_app) {
		const struct cv_tp_handler *h = c->tp->h;
		if (h->ws_app_msg)
			h->ws_app_msg(c->tw->w, c, a->msg, a->msg_length,
				      a->opcode == WSLAY_BINARY_FRAME,
				      c->tp->arg);
		return;
	}
	/* RFC 7118 §5: each WebSocket message carries one SIP message. */
	tp_deliver(c->tw, &meta, (const char *)a->msg, a->msg_length);
}

static const struct wslay_event_callbacks ws_callbacks = {
	.recv_callback = ws_recv_cb,
	.send_callback = ws_send_cb,
	.on_frame_recv_start_callback = ws_frame_start_cb,
	.on_frame_recv_end_callback = ws_frame_end_cb,
	.on_msg_recv_callback = ws_msg_cb,
};

/* RFC 6455 §5.3: a client masks every frame with a fresh unpredictable
 * key. */
static int ws_genmask_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len,
			 void *user)
{
	if (cv_random(buf, len) != 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	return 0;
}

static const struct wslay_event_callbacks ws_client_callbacks = {
	.recv_callback = ws_recv_cb,
	.send_callback = ws_send_cb,
	.genmask_callback = ws_genmask_cb,
	.on_frame_recv_start_callback = ws_frame_start_cb,
	.on_frame_recv_end_callback = ws_frame_end_cb,
	.on_msg_recv_callback = ws_msg_cb,
};

/* ---- HTTP/1.1 Upgrade (RFC 6455 §4.2, RFC 7118 §4)
 * ------------------------------ */

static bool token_in_list(struct cv_pl list, const char *tok)
{
	size_t tl = strlen(tok);
	size_t i = 0;
	while (i < list.l) {
		while (i < list.l && (list.p[i] == ' ' || list.p[i] == ',' ||
				      list.p[i] == '\t'))
			i++;
		size_t s = i;
		while (i < list.l && list.p[i] != ',')
			i++;
		size_t e = i;
		while (e > s && (list.p[e - 1] == ' ' || list.p[e - 1] == '\t'))
			e--;
		if (e - s == tl && strncasecmp(list.p + s, tok, tl) == 0)
			return true;
	}
	return false;
}

/* Parses the request head (through CRLFCRLF). */
int tp_http_parse(const char *p, size_t n, struct http_req *r)
{
	memset(r, 0, sizeof(*r));
	const char *end = p + n, *eol = NULL;
	for (const char *q = p; q + 1 < end; q++)
		if (q[0] == '\r' && q[1] == '\n') {
			eol = q;
			break;
		}
	if (!eol)
		return CV_EPARSE;
	const char *sp1 = memchr(p, ' ', (size_t)(eol - p));
	if (!sp1)
		return CV_EPARSE;
	const char *sp2 = memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1));
	r->method = (struct cv_pl){p, (size_t)(sp1 - p)};
	if (sp2) {
		r->path = (struct cv_pl){sp1 + 1, (size_t)(sp2 - sp1 - 1)};
		r->version = (struct cv_pl){sp2 + 1, (size_t)(eol - sp2 - 1)};
	} else {
		/* a status line without reason phrase ("HTTP/1.1 101"); a
		 * request without version fails its caller's version check */
		r->path = (struct cv_pl){sp1 + 1, (size_t)(eol - sp1 - 1)};
	}
	const char *q = eol + 2;
	unsigned nh = 0;
	while (q + 1 < end && !(q[0] == '\r' && q[1] == '\n')) {
		const char *le = NULL;
		for (const char *x = q; x + 1 < end; x++)
			if (x[0] == '\r' && x[1] == '\n') {
				le = x;
				break;
			}
		if (!le || ++nh > 64)
			return CV_EPARSE;
		const char *colon = memchr(q, ':', (size_t)(le - q));
		if (!colon)
			return CV_EPARSE;
		struct cv_pl name = {q, (size_t)(colon - q)};
		struct cv_pl val = cv_pl_trim(
			(struct cv_pl){colon + 1, (size_t)(le - colon - 1)});
		if (cv_pl_caseeq_str(name, "Upgrade"))
			r->upgrade = val;
		else if (cv_pl_caseeq_str(name, "Connection"))
			r->connection = val;
		else if (cv_pl_caseeq_str(name, "Sec-WebSocket-Key"))
			r->key = val;
		else if (cv_pl_caseeq_str(name, "Sec-WebSocket-Version"))
			r->wsversion = val;
		else if (cv_pl_caseeq_str(name, "Sec-WebSocket-Protocol"))
			r->protocol = val;
		else if (cv_pl_caseeq_str(name, "Host"))
			r->host = val;
		else if (cv_pl_caseeq_str(name, "Sec-WebSocket-Accept"))
			r->accept = val;
		q = le + 2;
	}
	return 0;
}

static void http_reject(struct cv_tp_conn *c, const char *status,
			const char *extra)
{
	char buf[256];
	int n = snprintf(buf, sizeof(buf),
			 "HTTP/1.1 %s\r\n%sContent-Length: 0\r\nConnection: "
			 "close\r\n\r\n",
			 status, extra);
	TP_INC(c->tw, rej_http_bad);
	CV_LOG_RL(CV_LOG_INFO, TP_MOD, "websocket upgrade rejected: %s",
		  status);
	if (n > 0)
		ws_lower_write(c, buf, (size_t)n);
	tp_conn_close(c, CV_EPROTO);
}

/* Sec-WebSocket-Accept (RFC 6455 §4.2.2 step 5.4). */
void tp_ws_accept_key(struct cv_pl key, char out[32])
{
	static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	unsigned char md[SHA_DIGEST_LENGTH];
	char tmp[128];
	size_t kl = CV_MIN(key.l, sizeof(tmp) - sizeof(guid));
	memcpy(tmp, key.p, kl);
	memcpy(tmp + kl, guid, sizeof(guid) - 1);
	SHA1((const unsigned char *)tmp, kl + sizeof(guid) - 1, md);
	EVP_EncodeBlock((unsigned char *)out, md, SHA_DIGEST_LENGTH);
}

static void ws_handshake(struct cv_tp_conn *c)
{
	const char *hend = NULL;
	struct http_req r;
	char resp[512];

	for (size_t i = 0; i + 3 < c->rbuf.len; i++)
		if (memcmp(c->rbuf.data + i, "\r\n\r\n", 4) == 0) {
			hend = c->rbuf.data + i + 4;
			break;
		}
	if (!hend) {
		if (c->rbuf.len >= c->tp->lim.max_http_header)
			http_reject(c, "431 Request Header Fields Too Large",
				    "");
		return;
	}
	size_t hlen = (size_t)(hend - c->rbuf.data);
	if (tp_http_parse(c->rbuf.data, hlen, &r) ||
	    !cv_pl_eq_str(r.method, "GET") ||
	    !cv_pl_eq_str(r.version, "HTTP/1.1") || r.path.l == 0) {
		http_reject(c, "400 Bad Request", "");
		return;
	}
	if (!token_in_list(r.upgrade, "websocket") ||
	    !token_in_list(r.connection, "upgrade") || r.key.l < 16 ||
	    r.key.l > 64) {
		http_reject(c, "400 Bad Request", "");
		return;
	}
	if (!cv_pl_eq_str(r.wsversion, "13")) {
		http_reject(c, "426 Upgrade Required",
			    "Sec-WebSocket-Version: 13\r\n");
		return;
	}
	/* RFC 7118 §4.1: the client offers "sip"; without it, no SIP here,
	 * but the application may take the connection (its own WebSocket). */
	const char *proto = "sip";
	if (!token_in_list(r.protocol, "sip")) {
		const struct cv_tp_handler *h = c->tp->h;
		const char *app_proto = NULL;
		if (!h->ws_upgrade) {
			http_reject(c, "400 Bad Request", "");
			return;
		}
		struct cv_tp_ws_req wr = {.path = r.path,
					  .host = r.host,
					  .protocols = r.protocol,
					  .peer = &c->peer,
					  .kind = c->kind};
		if (h->ws_upgrade(c->tw->w, &wr, &app_proto, c->tp->arg) !=
		    CV_TP_WS_APP) {
			http_reject(c, "404 Not Found", "");
			return;
		}
		c->ws_app = true;
		proto = app_proto;
		if (proto && (strlen(proto) > 64 || strpbrk(proto, "\r\n"))) {
			http_reject(c, "500 Internal Server Error", "");
			return;
		}
	}
	char accept[32], protohdr[100] = "";
	tp_ws_accept_key(r.key, accept);
	if (proto)
		snprintf(protohdr, sizeof(protohdr),
			 "Sec-WebSocket-Protocol: %s\r\n", proto);
	int n = snprintf(resp, sizeof(resp),
			 "HTTP/1.1 101 Switching Protocols\r\n"
			 "Upgrade: websocket\r\n"
			 "Connection: Upgrade\r\n"
			 "Sec-WebSocket-Accept: %s\r\n"
			 "%s\r\n",
			 accept, protohdr);
	if (wslay_event_context_server_init(&c->ws, &ws_callbacks, c)) {
		tp_conn_close(c, -ENOMEM);
		return;
	}
	wslay_event_config_set_max_recv_msg_length(c->ws,
						   c->tp->lim.max_ws_msg);
	if (ws_lower_write(c, resp, (size_t)n))
		return;
	size_t rest = c->rbuf.len - hlen;
	cv_buf_consume(&c->rbuf, hlen);
	tp_conn_established(c);
	if (rest) {
		/* frames pipelined behind the Upgrade */
		struct cv_buf tmp = c->rbuf;
		cv_buf_init(&c->rbuf, 0);
		tp_ws_in(c, tmp.data, tmp.len);
		cv_buf_free(&tmp);
	}
	cv_buf_free(&c->rbuf);
}

/* ---- outgoing connections (RFC 6455 §4.1, RFC 7118 §4.1)
 * ------------------------- */

int tp_ws_client_start(struct cv_tp_conn *c)
{
	uint8_t nonce[16];
	char host[CV_TP_ADDRSTRLEN + 8], req[768];
	int err = cv_random(nonce, sizeof(nonce));
	if (err)
		return err;
	EVP_EncodeBlock((unsigned char *)c->ws_key, nonce, sizeof(nonce));
	if (c->tls_name[0])
		snprintf(host, sizeof(host), "%.*s",
			 (int)CV_MIN(strlen(c->tls_name), 200), c->tls_name);
	else
		cv_tp_addr_print(&c->peer, host, sizeof(host));
	int n = snprintf(req, sizeof(req),
			 "GET / HTTP/1.1\r\n"
			 "Host: %s\r\n"
			 "Upgrade: websocket\r\n"
			 "Connection: Upgrade\r\n"
			 "Sec-WebSocket-Key: %s\r\n"
			 "Sec-WebSocket-Version: 13\r\n"
			 "Sec-WebSocket-Protocol: sip\r\n"
			 "\r\n",
			 host, c->ws_key);
	if (n < 0 || (size_t)n >= sizeof(req))
		return CV_ETOOBIG;
	c->st = TP_C_WS_HS;
	return ws_lower_write(c, req, (size_t)n);
}

static void ws_client_fail(struct cv_tp_conn *c, const char *why)
{
	TP_INC(c->tw, rej_handshake);
	CV_LOG_RL(CV_LOG_INFO, TP_MOD, "websocket upgrade refused: %s", why);
	tp_conn_close(c, CV_EPROTO);
}

/* The server's answer to our Upgrade: 101, websocket, our key's accept
 * value and the "sip" subprotocol (RFC 7118 §4.1: without it, no SIP). */
static void ws_client_handshake(struct cv_tp_conn *c)
{
	const char *hend = NULL;
	struct http_req r;

	for (size_t i = 0; i + 3 < c->rbuf.len; i++)
		if (memcmp(c->rbuf.data + i, "\r\n\r\n", 4) == 0) {
			hend = c->rbuf.data + i + 4;
			break;
		}
	if (!hend) {
		if (c->rbuf.len >= c->tp->lim.max_http_header)
			ws_client_fail(c, "response head too large");
		return;
	}
	size_t hlen = (size_t)(hend - c->rbuf.data);
	if (tp_http_parse(c->rbuf.data, hlen, &r) ||
	    !cv_pl_eq_str(r.method, "HTTP/1.1") ||
	    !cv_pl_eq_str(r.path, "101")) {
		ws_client_fail(c, "no 101 Switching Protocols");
		return;
	}
	char want[32];
	tp_ws_accept_key(cv_pl_str(c->ws_key), want);
	if (!token_in_list(r.upgrade, "websocket") ||
	    !token_in_list(r.connection, "upgrade") ||
	    !cv_pl_eq_str(r.accept, want)) {
		ws_client_fail(
			c, "bad Upgrade, Connection or Sec-WebSocket-Accept");
		return;
	}
	if (!token_in_list(r.protocol, "sip")) {
		ws_client_fail(c, "server did not accept the sip subprotocol");
		return;
	}
	if (wslay_event_context_client_init(&c->ws, &ws_client_callbacks, c)) {
		tp_conn_close(c, -ENOMEM);
		return;
	}
	wslay_event_config_set_max_recv_msg_length(c->ws,
						   c->tp->lim.max_ws_msg);
	size_t rest = c->rbuf.len - hlen;
	cv_buf_consume(&c->rbuf, hlen);
	tp_conn_established(c); /* queued requests leave as frames */
	if (rest && c->st == TP_C_OPEN) {
		/* frames the server sent right behind its 101 */
		struct cv_buf tmp = c->rbuf;
		cv_buf_init(&c->rbuf, 0);
		tp_ws_in(c, tmp.data, tmp.len);
		cv_buf_free(&tmp);
	}
	cv_buf_free(&c->rbuf);
}

void tp_ws_in(struct cv_tp_conn *c, const char *p, size_t n)
{
	if (c->st == TP_C_WS_HS) {
		size_t room = c->tp->lim.max_http_header > c->rbuf.len
				      ? c->tp->lim.max_http_header - c->rbuf.len
				      : 0;
		if (cv_buf_append(&c->rbuf, p, CV_MIN(room, n))) {
			tp_conn_close(c, -ENOMEM);
			return;
		}
		if (c->outgoing)
			ws_client_handshake(c);
		else
			ws_handshake(c);
		return;
	}
	if (c->st != TP_C_OPEN || !c->ws)
		return;
	c->wsin = p;
	c->wsin_len = n;
	int r = wslay_event_recv(c->ws);
	c->wsin = NULL;
	c->wsin_len = 0;
	if (c->st == TP_C_CLOSED)
		return;
	if (c->ws_fail) {
		/* RFC 6455 §7.4.1: 1009 message too big */
		wslay_event_queue_close(c->ws, WSLAY_CODE_MESSAGE_TOO_BIG, NULL,
					0);
		wslay_event_send(c->ws);
		tp_conn_close(c, CV_ETOOBIG);
		return;
	}
	if (r == 0)
		r = wslay_event_send(c->ws);
	if (r != 0 ||
	    (!wslay_event_want_read(c->ws) && !wslay_event_want_write(c->ws))) {
		if (r != 0)
			TP_INC(c->tw, rej_garbage);
		else if (wslay_event_get_status_code_sent(c->ws) ==
			 WSLAY_CODE_MESSAGE_TOO_BIG)
			TP_INC(c->tw, rej_ws_too_big); /* wslay's own 1009 */
		/* protocol error, or the close handshake finished */
		tp_conn_close(c, r ? CV_EPROTO : 0);
	}
}

int tp_ws_send(struct cv_tp_conn *c, const void *buf, size_t len)
{
	/* RFC 7118 §5.2: text frames must be UTF-8; binary for anything else */
	bool binary = false;
	for (size_t i = 0; i < len; i++)
		if (((const unsigned char *)buf)[i] >= 0x80) {
			binary = true;
			break;
		}
	return tp_ws_send_op(c, buf, len, binary);
}

int tp_ws_send_op(struct cv_tp_conn *c, const void *buf, size_t len,
		  bool binary)
{
	if (!c->ws || c->st != TP_C_OPEN)
		return CV_ECLOSED;
	uint8_t op = binary ? WSLAY_BINARY_FRAME : WSLAY_TEXT_FRAME;
	struct wslay_event_msg m = {op, buf, len};
	if (wslay_event_queue_msg(c->ws, &m))
		return CV_ECLOSED;
	if (wslay_event_send(c->ws))
		return CV_ECLOSED;
	return 0;
}

int tp_ws_ping(struct cv_tp_conn *c)
{
	if (!c->ws || c->st != TP_C_OPEN)
		return CV_ECLOSED;
	struct wslay_event_msg m = {WSLAY_PING, NULL, 0};
	if (wslay_event_queue_msg(c->ws, &m) || wslay_event_send(c->ws))
		return CV_ECLOSED;
	return 0;
}

/* Called from tp_conn_close(), possibly inside a wslay callback: writes
 * the close frame (status 1000; unmasked as a server's, masked as a
 * client's, RFC 6455 §5.1) below wslay instead of re-entering it, unless
 * wslay sent one already. */
void tp_ws_close(struct cv_tp_conn *c)
{
	static const char frame[4] = {(char)0x88, 0x02, 0x03, (char)0xe8};
	if (!c->ws || wslay_event_get_close_sent(c->ws))
		return;
	if (!c->outgoing) {
		(void)ws_lower_write(c, frame, sizeof(frame));
		return;
	}
	char masked[8] = {(char)0x88, (char)0x82};
	if (cv_random(masked + 2, 4) != 0)
		return;
	masked[6] = (char)(0x03 ^ masked[2]);
	masked[7] = (char)(0xe8 ^ masked[3]);
	(void)ws_lower_write(c, masked, sizeof(masked));
}

void tp_ws_free(struct cv_tp_conn *c)
{
	if (c->ws)
		wslay_event_context_free(c->ws);
	c->ws = NULL;
}
