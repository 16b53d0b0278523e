/* Transport kinds, socket addresses, listen specs and default limits. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "cvoip/transport.h"

static const char *const kind_names[CV_TP_NKINDS] = {"UDP", "TCP", "TLS", "WS",
						     "WSS"};

const char *cv_tp_kind_name(enum cv_tp_kind k)
{
	return (unsigned)k < CV_TP_NKINDS ? kind_names[k] : "?";
}

int cv_tp_kind_parse(struct cv_pl s, enum cv_tp_kind *out)
{
	for (unsigned i = 0; i < CV_TP_NKINDS; i++) {
		if (cv_pl_caseeq_str(s, kind_names[i])) {
			*out = (enum cv_tp_kind)i;
			return 0;
		}
	}
	return CV_EPARSE;
}

bool cv_tp_kind_is_stream(enum cv_tp_kind k)
{
	return k != CV_TP_UDP;
}

bool cv_tp_kind_is_secure(enum cv_tp_kind k)
{
	return k == CV_TP_TLS || k == CV_TP_WSS;
}

uint16_t cv_tp_kind_default_port(enum cv_tp_kind k)
{
	switch (k) {
	case CV_TP_TLS:
		return 5061;
	case CV_TP_WS:
		return 80;
	case CV_TP_WSS:
		return 443;
	default:
		return 5060;
	}
}

/* ---- addresses ------------------------------------------------------------
 */

int cv_tp_addr_set(struct cv_tp_addr *a, struct cv_pl host, uint16_t port)
{
	char tmp[INET6_ADDRSTRLEN + 1];

	memset(a, 0, sizeof(*a));
	if (host.l >= 2 && host.p[0] == '[' && host.p[host.l - 1] == ']') {
		host.p++;
		host.l -= 2;
	}
	if (host.l == 0 || host.l >= sizeof(tmp))
		return CV_EPARSE;
	memcpy(tmp, host.p, host.l);
	tmp[host.l] = '\0';
	if (memchr(tmp, ':', host.l)) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a->ss;
		if (inet_pton(AF_INET6, tmp, &in6->sin6_addr) != 1)
			return CV_EPARSE;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
	} else {
		struct sockaddr_in *in4 = (struct sockaddr_in *)&a->ss;
		if (inet_pton(AF_INET, tmp, &in4->sin_addr) != 1)
			return CV_EPARSE;
		in4->sin_family = AF_INET;
		in4->sin_port = htons(port);
	}
	return 0;
}

/* Splits "host:port" / "[v6]:port" / "host" / "[v6]"; port 0 when absent. */
static int split_hostport(struct cv_pl hp, struct cv_pl *host, uint32_t *port,
			  bool *has_port)
{
	*has_port = false;
	*port = 0;
	if (hp.l == 0)
		return CV_EPARSE;
	if (hp.p[0] == '[') {
		const char *rb = memchr(hp.p, ']', hp.l);
		if (!rb)
			return CV_EPARSE;
		host->p = hp.p;
		host->l = (size_t)(rb - hp.p) + 1;
		size_t rest = hp.l - host->l;
		if (rest == 0)
			return 0;
		if (rb[1] != ':' || rest < 2)
			return CV_EPARSE;
		struct cv_pl pp = {rb + 2, rest - 1};
		if (cv_pl_u32(pp, port) || *port > 65535)
			return CV_EPARSE;
		*has_port = true;
		return 0;
	}
	const char *c = memchr(hp.p, ':', hp.l);
	if (c && memchr(c + 1, ':', hp.l - (size_t)(c + 1 - hp.p))) {
		/* bare IPv6 without brackets: no port */
		*host = hp;
		return 0;
	}
	if (!c) {
		*host = hp;
		return 0;
	}
	host->p = hp.p;
	host->l = (size_t)(c - hp.p);
	struct cv_pl pp = {c + 1, hp.l - host->l - 1};
	if (host->l == 0 || cv_pl_u32(pp, port) || *port > 65535)
		return CV_EPARSE;
	*has_port = true;
	return 0;
}

int cv_tp_addr_parse(struct cv_tp_addr *a, struct cv_pl hostport)
{
	struct cv_pl host;
	uint32_t port;
	bool has_port;
	int err = split_hostport(hostport, &host, &port, &has_port);
	if (err)
		return err;
	return cv_tp_addr_set(a, host, (uint16_t)port);
}

bool cv_tp_addr_isset(const struct cv_tp_addr *a)
{
	return a->ss.ss_family == AF_INET || a->ss.ss_family == AF_INET6;
}

socklen_t cv_tp_addr_len(const struct cv_tp_addr *a)
{
	switch (a->ss.ss_family) {
	case AF_INET:
		return sizeof(struct sockaddr_in);
	case AF_INET6:
		return sizeof(struct sockaddr_in6);
	default:
		return 0;
	}
}

uint16_t cv_tp_addr_port(const struct cv_tp_addr *a)
{
	switch (a->ss.ss_family) {
	case AF_INET:
		return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
	case AF_INET6:
		return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
	default:
		return 0;
	}
}

void cv_tp_addr_set_port(struct cv_tp_addr *a, uint16_t port)
{
	if (a->ss.ss_family == AF_INET)
		((struct sockaddr_in *)&a->ss)->sin_port = htons(port);
	else if (a->ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&a->ss)->sin6_port = htons(port);
}

bool cv_tp_addr_is_any(const struct cv_tp_addr *a)
{
	if (a->ss.ss_family == AF_INET)
		return ((const struct sockaddr_in *)&a->ss)->sin_addr.s_addr ==
		       htonl(INADDR_ANY);
	if (a->ss.ss_family == AF_INET6)
		return IN6_IS_ADDR_UNSPECIFIED(
			&((const struct sockaddr_in6 *)&a->ss)->sin6_addr);
	return false;
}

bool cv_tp_addr_eq_ip(const struct cv_tp_addr *a, const struct cv_tp_addr *b)
{
	if (a->ss.ss_family != b->ss.ss_family)
		return false;
	if (a->ss.ss_family == AF_INET)
		return ((const struct sockaddr_in *)&a->ss)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)&b->ss)->sin_addr.s_addr;
	if (a->ss.ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)&a->ss)->sin6_addr,
			      &((const struct sockaddr_in6 *)&b->ss)->sin6_addr,
			      16) == 0;
	return true;
}

bool cv_tp_addr_eq(const struct cv_tp_addr *a, const struct cv_tp_addr *b)
{
	return cv_tp_addr_eq_ip(a, b) &&
	       cv_tp_addr_port(a) == cv_tp_addr_port(b);
}

size_t cv_tp_addr_host_print(const struct cv_tp_addr *a, char *buf, size_t size)
{
	char tmp[INET6_ADDRSTRLEN];
	const void *src;

	if (a->ss.ss_family == AF_INET)
		src = &((const struct sockaddr_in *)&a->ss)->sin_addr;
	else if (a->ss.ss_family == AF_INET6)
		src = &((const struct sockaddr_in6 *)&a->ss)->sin6_addr;
	else
		return (size_t)snprintf(buf, size, "?");
	if (size >= sizeof(tmp)) /* the common case, no copy */
		return inet_ntop(a->ss.ss_family, src, buf, (socklen_t)size)
			       ? strlen(buf)
			       : (size_t)snprintf(buf, size, "?");
	if (!inet_ntop(a->ss.ss_family, src, tmp, sizeof(tmp)))
		return (size_t)snprintf(buf, size, "?");
	int n = snprintf(buf, size, "%s", tmp);
	return n < 0 ? 0 : (size_t)n;
}

size_t cv_tp_addr_print(const struct cv_tp_addr *a, char *buf, size_t size)
{
	char host[INET6_ADDRSTRLEN + 1];
	int n;

	cv_tp_addr_host_print(a, host, sizeof(host));
	if (a->ss.ss_family == AF_INET6)
		n = snprintf(buf, size, "[%s]:%u", host, cv_tp_addr_port(a));
	else
		n = snprintf(buf, size, "%s:%u", host, cv_tp_addr_port(a));
	return n < 0 ? 0 : (size_t)n;
}

/* ---- listen specs ---------------------------------------------------------
 */

int cv_tp_spec_parse(const char *s, struct cv_tp_spec *out)
{
	struct cv_pl all = cv_pl_str(s), kind, rest, adv = CV_PL_INIT;
	const char *colon;
	struct cv_pl host;
	uint32_t port;
	bool has_port;
	int err;

	memset(out, 0, sizeof(*out));
	if (!s || all.l == 0 || all.l > 512)
		return CV_EPARSE;
	colon = memchr(all.p, ':', all.l);
	if (!colon)
		return CV_EPARSE;
	kind.p = all.p;
	kind.l = (size_t)(colon - all.p);
	if (cv_tp_kind_parse(kind, &out->kind))
		return CV_EPARSE;
	rest.p = colon + 1;
	rest.l = all.l - kind.l - 1;
	const char *semi = memchr(rest.p, ';', rest.l);
	if (semi) {
		struct cv_pl param = {semi + 1,
				      rest.l - (size_t)(semi + 1 - rest.p)};
		rest.l = (size_t)(semi - rest.p);
		if (param.l <= 10 || strncmp(param.p, "advertise=", 10) != 0)
			return CV_EPARSE;
		adv.p = param.p + 10;
		adv.l = param.l - 10;
	}
	err = split_hostport(rest, &host, &port, &has_port);
	if (err)
		return err;
	if (!has_port)
		port = cv_tp_kind_default_port(out->kind);
	err = cv_tp_addr_set(&out->addr, host, (uint16_t)port);
	if (err)
		return err;
	if (adv.l) {
		struct cv_pl ah;
		uint32_t ap;
		bool ahp;
		if (split_hostport(adv, &ah, &ap, &ahp) || ah.l == 0 ||
		    ah.l >= sizeof(out->advertise_host))
			return CV_EPARSE;
		for (size_t i = 0; i < ah.l; i++) {
			char c = ah.p[i];
			if (!(c == '.' || c == '-' || c == ':' || c == '[' ||
			      c == ']' || (c >= '0' && c <= '9') ||
			      (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
				return CV_EPARSE;
		}
		memcpy(out->advertise_host, ah.p, ah.l);
		out->advertise_host[ah.l] = '\0';
		out->advertise_port = ahp ? (uint16_t)ap : 0;
	}
	return 0;
}

size_t cv_tp_spec_print(const struct cv_tp_spec *s, char *buf, size_t size)
{
	char a[CV_TP_ADDRSTRLEN];
	int n;
	char kind[4];

	const char *k = cv_tp_kind_name(s->kind);
	size_t i;
	for (i = 0; k[i] && i < sizeof(kind) - 1; i++)
		kind[i] = (char)(k[i] | 0x20);
	kind[i] = '\0';
	cv_tp_addr_print(&s->addr, a, sizeof(a));
	if (s->advertise_host[0]) {
		if (s->advertise_port)
			n = snprintf(buf, size, "%s:%s;advertise=%s:%u", kind,
				     a, s->advertise_host, s->advertise_port);
		else
			n = snprintf(buf, size, "%s:%s;advertise=%s", kind, a,
				     s->advertise_host);
	} else {
		n = snprintf(buf, size, "%s:%s", kind, a);
	}
	return n < 0 ? 0 : (size_t)n;
}

void cv_tp_limits_default(struct cv_tp_limits *l)
{
	l->max_udp_msg = 65507;
	l->max_stream_msg = 65536;
	l->max_ws_msg = 65536;
	l->max_ws_frame = 65536;
	l->max_http_header = 8192;
	l->max_send_queue = 1024 * 1024;
	l->max_conns = 10000;
	l->max_conns_per_ip = 64;
	l->idle_timeout_ms = 300000;
	l->partial_timeout_ms = 10000;
	l->handshake_timeout_ms = 10000;
	l->connect_timeout_ms = 10000;
}
