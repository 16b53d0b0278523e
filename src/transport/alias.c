/* RFC 5923 connection reuse: a request that arrives on a connection we
 * accepted, with `alias` in its top Via, makes that connection also the
 * one for requests we send to the Via's sent-by (the peer's listening
 * port), instead of a second connection opened the other way.
 *
 * Aliasing lets a peer claim an address, so it is bounded:
 * - TLS (RFC 5923 §5): only when the peer presented a client certificate
 *   that verified (tls verify_client) and that covers the sent-by host
 *   (RFC 5922 §7.2: subjectAltName DNS name or IP address);
 * - plain TCP only when the application asked for it (cv_tp_params
 *   tcp_aliases, like Kamailio's tcp_accept_aliases): RFC 5923 leaves TCP
 *   out because nothing authenticates the claim;
 * - either way the alias is the connection's own source IP address with
 *   the sent-by port (a peer can only claim ports of its own address), the
 *   Via transport must be the connection's, and a connection takes one
 *   alias, for its lifetime (it leaves the table when it closes). */
#include <string.h>
#include <strings.h>

#include <openssl/x509v3.h>

#include "cvoip/sip.h"
#include "tp_int.h"

#define ALIAS_MAX_LINES 64 /* the top Via is near the top */

/* The first Via header value (the whole line, folding kept) of the
 * message head; false when none within ALIAS_MAX_LINES lines. */
static bool top_via_line(const char *b, size_t len, struct cv_pl *out)
{
	const char *p = b + cv_sip_keepalive_len(b, len), *end = b + len;
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	if (!nl)
		return false;
	p = nl + 1;
	for (unsigned lines = 0; p < end && lines < ALIAS_MAX_LINES; lines++) {
		if (*p == '\n' || *p == '\r')
			return false; /* the empty line: no Via */
		const char *le = memchr(p, '\n', (size_t)(end - p));
		if (!le)
			le = end;
		const char *colon = memchr(p, ':', (size_t)(le - p));
		if (colon) {
			const char *ne = colon;
			while (ne > p && (ne[-1] == ' ' || ne[-1] == '\t'))
				ne--;
			size_t nl2 = (size_t)(ne - p);
			if ((nl2 == 3 && strncasecmp(p, "via", 3) == 0) ||
			    (nl2 == 1 && (*p | 0x20) == 'v')) {
				const char *vs = colon + 1, *ve = le;
				while (vs < ve && (*vs == ' ' || *vs == '\t'))
					vs++;
				while (ve > vs &&
				       (ve[-1] == '\r' || ve[-1] == ' ' ||
					ve[-1] == '\t'))
					ve--;
				out->p = vs;
				out->l = (size_t)(ve - vs);
				return true;
			}
		}
		p = le + 1;
	}
	return false;
}

static bool via_has_alias(struct cv_pl params)
{
	struct cv_pl v;
	return cv_sip_param_get(params, "alias", &v) == 0;
}

/* RFC 5923 §5 / RFC 5922 §7.2: the verified client certificate names the
 * sent-by host (a DNS subjectAltName, or an IP address one). */
static bool tls_peer_is(struct cv_tp_conn *c, struct cv_pl host)
{
	char h[256];
	if (!c->ssl || host.l == 0 || host.l >= sizeof(h) ||
	    SSL_get_verify_result(c->ssl) != X509_V_OK)
		return false;
	X509 *cert = SSL_get0_peer_certificate(c->ssl);
	if (!cert)
		return false;
	memcpy(h, host.p, host.l);
	h[host.l] = '\0';
	struct cv_tp_addr ip;
	if (cv_tp_addr_set(&ip, host, 0) == 0)
		return X509_check_ip_asc(cert, h, 0) == 1;
	return X509_check_host(cert, h, host.l,
			       X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL) == 1;
}

int tp_alias_parse(const char *buf, size_t len, enum cv_tp_kind kind,
		   struct cv_pl *host, uint16_t *port)
{
	struct cv_pl line, top;
	struct cv_sip_via via;

	/* requests only: a response's Via is ours */
	const char *sl = buf + cv_sip_keepalive_len(buf, len);
	if ((size_t)(buf + len - sl) >= 4 && strncasecmp(sl, "SIP/", 4) == 0)
		return CV_ENOTFOUND;
	if (!top_via_line(buf, len, &line))
		return CV_ENOTFOUND;
	struct cv_pl rest = line;
	if (cv_sip_list_next(&rest, &top) || cv_sip_via_parse(top, &via) ||
	    !via_has_alias(via.params))
		return CV_ENOTFOUND;
	enum cv_tp_kind vk;
	if (cv_tp_kind_parse(via.transport, &vk) || vk != kind)
		return CV_ENOTFOUND;
	*host = via.host;
	*port = via.port ? via.port : (kind == CV_TP_TLS ? 5061 : 5060);
	return 0;
}

void tp_alias_check(struct cv_tp_conn *c, const char *buf, size_t len)
{
	struct cv_tp *tp = c->tp;
	struct cv_pl host;
	uint16_t port;

	if (c->outgoing || c->aliased || !c->in_table ||
	    !(c->kind == CV_TP_TLS ||
	      (c->kind == CV_TP_TCP && tp->tcp_aliases)))
		return;
	if (tp_alias_parse(buf, len, c->kind, &host, &port))
		return;
	if (c->kind == CV_TP_TLS) {
		if (!tls_peer_is(c, host)) {
			CV_LOG_RL(CV_LOG_INFO, TP_MOD,
				  "alias refused: the client certificate does "
				  "not name %.*s",
				  (int)host.l, host.p);
			return;
		}
	} else {
		/* TCP: the sent-by must be the connection's own address */
		struct cv_tp_addr sb;
		if (cv_tp_addr_set(&sb, host, 0) ||
		    !cv_tp_addr_eq_ip(&sb, &c->peer))
			return;
	}
	struct cv_tp_addr alias = c->peer;
	if (alias.ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&alias.ss)->sin6_port = htons(port);
	else
		((struct sockaddr_in *)&alias.ss)->sin_port = htons(port);
	if (port == cv_tp_addr_port(&c->peer))
		return; /* already found under that address */
	if (tp_ct_insert_alias(tp, c, &alias) == 0)
		TP_INC(c->tw, aliases);
}
