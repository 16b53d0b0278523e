/* Via sent-by for outgoing requests (RFC 3261 §18.1.1) and response
 * routing (RFC 3261 §18.2.2, RFC 3581 §4). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tp_int.h"

/* The local address the kernel would use toward dst (no packet is sent). */
static int route_local(const struct cv_tp_addr *dst, struct cv_tp_addr *out)
{
	int fd = socket(dst->ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int err = 0;
	socklen_t sl = sizeof(out->ss);
	if (connect(fd, (const struct sockaddr *)&dst->ss,
		    cv_tp_addr_len(dst)) ||
	    getsockname(fd, (struct sockaddr *)&out->ss, &sl))
		err = -errno;
	close(fd);
	return err;
}

int cv_tp_via_for(struct cv_tp *tp, const struct cv_tp_via_params *p,
		  struct cv_tp_via *out)
{
	enum cv_tp_kind kind = p->kind;
	int family = p->dst.ss.ss_family;
	int li;

	memset(out, 0, sizeof(*out));
	if (family != AF_INET && family != AF_INET6)
		return -EINVAL;
	/* RFC 3261 §18.1.1: a request within 200 bytes of the path MTU
	 * (1500 assumed) goes over a congestion-controlled transport. */
	if (kind == CV_TP_UDP && p->upgrade_large && p->msg_len > 1300 &&
	    tp_listener_find(tp, CV_TP_TCP, family, NULL) >= 0)
		kind = CV_TP_TCP;
	li = tp_listener_find(tp, kind, family, NULL);
	if (li < 0 && kind != CV_TP_UDP) {
		/* A client without a listener of this transport: responses
		 * come back on the connection; sent-by is our routed address
		 * without a port (RFC 3261 §18.1.1 only needs it informative).
		 */
		int err = route_local(&p->dst, &out->local);
		if (err)
			return err;
		out->kind = kind;
		out->transport = cv_tp_kind_name(kind);
		char h[CV_TP_ADDRSTRLEN];
		cv_tp_addr_host_print(&out->local, h, sizeof(h));
		snprintf(out->host, sizeof(out->host),
			 family == AF_INET6 ? "[%s]" : "%s", h);
		out->port = 0;
		return 0;
	}
	if (li < 0)
		return CV_ENOTFOUND;
	const struct tp_listener *l = &tp->lis[li];
	out->kind = kind;
	out->transport = cv_tp_kind_name(kind);
	out->local = l->bound;
	out->port = cv_tp_addr_port(&l->bound);
	if (l->spec.advertise_host[0]) {
		snprintf(out->host, sizeof(out->host), "%s",
			 l->spec.advertise_host);
		if (l->spec.advertise_port)
			out->port = l->spec.advertise_port;
		return 0;
	}
	struct cv_tp_addr a = l->bound;
	if (cv_tp_addr_is_any(&a)) {
		int err = route_local(&p->dst, &a);
		if (err)
			return err;
	}
	char h[CV_TP_ADDRSTRLEN];
	cv_tp_addr_host_print(&a, h, sizeof(h));
	if (family == AF_INET6)
		snprintf(out->host, sizeof(out->host), "[%s]", h);
	else
		snprintf(out->host, sizeof(out->host), "%s", h);
	return 0;
}

int cv_tp_resp_route(const struct cv_tp_meta *meta,
		     const struct cv_tp_topvia *via,
		     struct cv_tp_resp_route *out)
{
	struct cv_tp_addr a;
	uint16_t port;

	memset(out, 0, sizeof(*out));
	if (!meta || !via)
		return -EINVAL;
	out->kind = meta->kind;
	out->local = meta->local;
	/* The port for a fresh destination: sent-by port or the default. */
	port = via->port ? via->port : cv_tp_kind_default_port(meta->kind);

	if (cv_tp_kind_is_stream(meta->kind)) {
		/* §18.2.2: over the connection the request came on; if it
		 * closed, to the received address (the source) and the
		 * sent-by port. */
		out->addr = meta->src;
		cv_tp_addr_set_port(&out->addr, port);
		if (meta->conn && cv_tp_conn_is_open(meta->conn)) {
			out->how = CV_TP_RESP_CONN;
			out->conn = meta->conn;
			return 0;
		}
		out->how = CV_TP_RESP_ADDR;
		return 0;
	}
	/* §18.2.2: maddr -> there, port from sent-by (default 5060). */
	if (via->maddr.l) {
		if (cv_tp_addr_set(&a, via->maddr, port) == 0) {
			out->how = CV_TP_RESP_ADDR;
			out->addr = a;
			return 0;
		}
		out->how = CV_TP_RESP_RESOLVE;
		out->host = via->maddr;
		out->port = port;
		return 0;
	}
	/* RFC 3581 §4: rport -> source address and source port. */
	if (via->rport && cv_tp_addr_isset(&meta->src)) {
		out->how = CV_TP_RESP_ADDR;
		out->addr = meta->src;
		return 0;
	}
	/* §18.2.2: received -> that address, sent-by port. The received
	 * value is what the server itself saw: the packet source. */
	if (cv_tp_addr_isset(&meta->src)) {
		out->how = CV_TP_RESP_ADDR;
		out->addr = meta->src;
		cv_tp_addr_set_port(&out->addr, port);
		return 0;
	}
	if (via->received.l && cv_tp_addr_set(&a, via->received, port) == 0) {
		out->how = CV_TP_RESP_ADDR;
		out->addr = a;
		return 0;
	}
	/* §18.2.2 last case: sent-by, a numeric address or a name (RFC 3263
	 * §5). */
	if (cv_tp_addr_set(&a, via->host, port) == 0) {
		out->how = CV_TP_RESP_ADDR;
		out->addr = a;
		return 0;
	}
	out->how = CV_TP_RESP_RESOLVE;
	out->host = via->host;
	out->port = via->port;
	return 0;
}

int cv_tp_send_resp(struct cv_tp *tp, struct cv_worker *w,
		    const struct cv_tp_resp_route *r, const void *buf,
		    size_t len)
{
	struct cv_tp_send_params sp = {0};

	switch (r->how) {
	case CV_TP_RESP_CONN:
		sp.conn = r->conn;
		sp.kind = r->kind;
		sp.dst = r->addr;
		/* §18.2.2: a closed connection for TCP/TLS is reopened to
		 * the address; WS cannot be reopened by the server. */
		break;
	case CV_TP_RESP_ADDR:
		sp.kind = r->kind;
		sp.dst = r->addr;
		sp.local =
			r->local; /* §18.2.2: from where the request arrived */
		break;
	default:
		return CV_EUNSUPP; /* the caller resolves the sent-by first */
	}
	return cv_tp_send(tp, w, &sp, buf, len);
}
