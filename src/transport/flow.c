/* RFC 5626 §5.2 flow tokens: the flow a request arrived on (transport,
 * local and remote address, and for streams the connection), encoded so
 * that an edge proxy or registrar can put it into a Path or Record-Route
 * URI and later send requests back on the same flow. Tokens carry an
 * HMAC-SHA256 (truncated to 80 bits) under a random per-process key, so
 * a token that was altered or forged is recognised (§5.2: "MUST be able
 * to determine ... that the flow token is valid"). */
#include <pthread.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "tp_int.h"

#define FLOW_VER 1
#define FLOW_MAC 10
/* ver, kind, family, local addr[16] port[2], remote addr[16] port[2],
 * connection identity[8] */
#define FLOW_RAW (3 + 18 + 18 + 8)

static uint8_t flow_key[32];
static pthread_once_t flow_once = PTHREAD_ONCE_INIT;

static void flow_key_init(void)
{
	(void)cv_random(flow_key, sizeof(flow_key));
}

static void put_addr(uint8_t *p, const struct cv_tp_addr *a)
{
	memset(p, 0, 18);
	uint16_t port = cv_tp_addr_port(a);
	if (a->ss.ss_family == AF_INET6)
		memcpy(p,
		       &((const struct sockaddr_in6 *)(const void *)&a->ss)
				->sin6_addr,
		       16);
	else if (a->ss.ss_family == AF_INET)
		memcpy(p,
		       &((const struct sockaddr_in *)(const void *)&a->ss)
				->sin_addr,
		       4);
	p[16] = (uint8_t)(port >> 8);
	p[17] = (uint8_t)port;
}

static void get_addr(const uint8_t *p, int family, struct cv_tp_addr *a)
{
	memset(a, 0, sizeof(*a));
	a->ss.ss_family = (sa_family_t)family;
	if (family == AF_INET6)
		memcpy(&((struct sockaddr_in6 *)(void *)&a->ss)->sin6_addr, p,
		       16);
	else
		memcpy(&((struct sockaddr_in *)(void *)&a->ss)->sin_addr, p, 4);
	cv_tp_addr_set_port(a, (uint16_t)(p[16] << 8 | p[17]));
}

static void mac(const uint8_t *raw, uint8_t out[FLOW_MAC])
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	pthread_once(&flow_once, flow_key_init);
	HMAC(EVP_sha256(), flow_key, sizeof(flow_key), raw, FLOW_RAW, md,
	     &mdlen);
	memcpy(out, md, FLOW_MAC);
}

/* The connection's identity in a token: a keyed hash of its address (the
 * token is visible to peers; a raw heap pointer would leak the layout). */
static uint64_t conn_id(const struct cv_tp_conn *c)
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	uintptr_t p = (uintptr_t)c;
	uint64_t id = 0;
	pthread_once(&flow_once, flow_key_init);
	HMAC(EVP_sha256(), flow_key, sizeof(flow_key), (const uint8_t *)&p,
	     sizeof(p), md, &mdlen);
	for (int i = 0; i < 8; i++)
		id = id << 8 | md[i];
	return id;
}

int cv_tp_flow_token(const struct cv_tp_meta *m, char *out, size_t size)
{
	uint8_t raw[FLOW_RAW + FLOW_MAC];
	int fam = m->src.ss.ss_family;
	if ((fam != AF_INET && fam != AF_INET6) ||
	    (unsigned)m->kind >= CV_TP_NKINDS ||
	    (cv_tp_kind_is_stream(m->kind) && !m->conn))
		return -EINVAL;
	if (size < CV_TP_FLOW_TOKEN_MAX)
		return CV_ETOOBIG;
	raw[0] = FLOW_VER;
	raw[1] = (uint8_t)m->kind;
	raw[2] = fam == AF_INET6 ? 6 : 4;
	put_addr(raw + 3, &m->local);
	put_addr(raw + 21, &m->src);
	/* the connection's identity: a new connection on the same addresses
	 * is another flow (§5.3: the old one failed) */
	uint64_t id = m->conn ? conn_id(m->conn) : 0;
	for (int i = 0; i < 8; i++)
		raw[39 + i] = (uint8_t)(id >> (56 - 8 * i));
	mac(raw, raw + FLOW_RAW);
	/* base64url without padding: URI-safe (unreserved characters) */
	return cv_base64_encode(raw, sizeof(raw), out, size, CV_BASE64_URL);
}

int cv_tp_flow_resolve(struct cv_tp *tp, struct cv_pl token,
		       struct cv_tp_send_params *out)
{
	uint8_t raw[FLOW_RAW + FLOW_MAC], want[FLOW_MAC];
	size_t n = 0;

	memset(out, 0, sizeof(*out));
	if (!token.p || token.l != (sizeof(raw) * 8 + 5) / 6)
		return CV_EPARSE;
	if (cv_base64_decode(token, raw, sizeof(raw), &n, CV_BASE64_URL) ||
	    n != sizeof(raw))
		return CV_EPARSE;
	mac(raw, want);
	/* constant time: the MAC is what a forger would probe */
	uint8_t diff = 0;
	for (int i = 0; i < FLOW_MAC; i++)
		diff |= (uint8_t)(want[i] ^ raw[FLOW_RAW + i]);
	if (diff || raw[0] != FLOW_VER || raw[1] >= CV_TP_NKINDS ||
	    (raw[2] != 4 && raw[2] != 6))
		return CV_EPARSE;
	int fam = raw[2] == 6 ? AF_INET6 : AF_INET;
	out->kind = (enum cv_tp_kind)raw[1];
	get_addr(raw + 3, fam, &out->local);
	get_addr(raw + 21, fam, &out->dst);
	if (!cv_tp_kind_is_stream(out->kind))
		return 0; /* UDP: the local socket and the remote address */
	uint64_t id = 0;
	for (int i = 0; i < 8; i++)
		id = id << 8 | raw[39 + i];
	struct cv_tp_conn *c =
		tp_ct_lookup(tp, out->kind, &out->dst, &out->local);
	if (!c || conn_id(c) != id) {
		if (c)
			cv_tp_conn_unref(c);
		return CV_ENOTFOUND; /* §5.3: the flow failed -> 430 */
	}
	out->conn = c;
	return 0;
}
