/* HTTP Digest for SIP (RFC 7616, RFC 8760, RFC 3261 §22.4): hashes via
 * OpenSSL EVP; stateless server nonces; bounded nonce-count table. */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "cvoip/digest.h"
#include "sip_int.h"

static const char *const alg_names[CV_DIGEST_ALG_COUNT] = {
	"MD5",		"MD5-sess",    "SHA-256",
	"SHA-256-sess", "SHA-512-256", "SHA-512-256-sess",
};

const char *cv_digest_alg_name(enum cv_digest_alg alg)
{
	return (unsigned)alg < CV_DIGEST_ALG_COUNT ? alg_names[alg] : "?";
}

int cv_digest_alg_from(struct cv_pl name, enum cv_digest_alg *alg)
{
	name = sip_nn(name);
	if (!name.l) {
		*alg = CV_DIGEST_MD5; /* RFC 7616 §3.3: absent means MD5 */
		return 0;
	}
	for (int i = 0; i < CV_DIGEST_ALG_COUNT; i++)
		if (cv_pl_caseeq_str(name, alg_names[i])) {
			*alg = (enum cv_digest_alg)i;
			return 0;
		}
	return CV_EUNSUPP;
}

int cv_digest_alg_rank(enum cv_digest_alg alg)
{
	static const int rank[CV_DIGEST_ALG_COUNT] = {10, 9, 20, 19, 30, 29};
	return (unsigned)alg < CV_DIGEST_ALG_COUNT ? rank[alg] : 0;
}

static bool is_sess(enum cv_digest_alg alg)
{
	return alg == CV_DIGEST_MD5_SESS || alg == CV_DIGEST_SHA256_SESS ||
	       alg == CV_DIGEST_SHA512_256_SESS;
}

/* Algorithms are fetched once per process (OpenSSL 3: EVP_md5() and
 * friends, and one-shot HMAC(), do an implicit provider fetch on every use,
 * which dominated the REGISTER profile). They stay alive for the process:
 * freeing them at exit would race with workers still hashing. */
enum { MD_MD5, MD_SHA256, MD_SHA512_256, MD_COUNT };
static EVP_MD *fetched_md[MD_COUNT];
static pthread_once_t md_once = PTHREAD_ONCE_INIT;
static pthread_key_t md_ctx_key;

static void md_ctx_free(void *ctx)
{
	EVP_MD_CTX_free(ctx);
}

static void md_fetch_all(void)
{
	fetched_md[MD_MD5] = EVP_MD_fetch(NULL, "MD5", NULL);
	fetched_md[MD_SHA256] = EVP_MD_fetch(NULL, "SHA2-256", NULL);
	fetched_md[MD_SHA512_256] = EVP_MD_fetch(NULL, "SHA2-512/256", NULL);
	/* per-thread EVP_MD_CTX, freed when its worker thread exits */
	(void)pthread_key_create(&md_ctx_key, md_ctx_free);
}

static const EVP_MD *md_of(enum cv_digest_alg alg)
{
	pthread_once(&md_once, md_fetch_all);
	switch (alg) {
	case CV_DIGEST_MD5:
	case CV_DIGEST_MD5_SESS:
		return fetched_md[MD_MD5];
	case CV_DIGEST_SHA256:
	case CV_DIGEST_SHA256_SESS:
		return fetched_md[MD_SHA256];
	case CV_DIGEST_SHA512_256:
	case CV_DIGEST_SHA512_256_SESS:
		return fetched_md[MD_SHA512_256];
	default:
		return NULL;
	}
}

/* This thread's digest context (reused: EVP_DigestInit_ex2 with the same
 * fetched MD keeps its provider state, so no allocation per hash). Only
 * called after md_of(), so the key exists. */
static EVP_MD_CTX *thread_md_ctx(void)
{
	static _Thread_local EVP_MD_CTX *tl_ctx;
	if (CV_UNLIKELY(!tl_ctx)) {
		EVP_MD_CTX *c = EVP_MD_CTX_new();
		if (!c || pthread_setspecific(md_ctx_key, c) != 0) {
			EVP_MD_CTX_free(c);
			return NULL;
		}
		tl_ctx = c;
	}
	return tl_ctx;
}

/* H over parts joined by ':' -> lowercase hex */
static int hash_hex(enum cv_digest_alg alg, const struct cv_pl *parts, size_t n,
		    char out[CV_DIGEST_HEX_MAX])
{
	const EVP_MD *md = md_of(alg);
	if (!md)
		return -EINVAL;
	EVP_MD_CTX *ctx = thread_md_ctx();
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int dl = 0;
	int ok = ctx && EVP_DigestInit_ex2(ctx, md, NULL);
	for (size_t i = 0; ok && i < n; i++) {
		if (i)
			ok = EVP_DigestUpdate(ctx, ":", 1);
		if (ok && parts[i].l)
			ok = EVP_DigestUpdate(ctx, parts[i].p, parts[i].l);
	}
	ok = ok && EVP_DigestFinal_ex(ctx, d, &dl);
	if (!ok)
		return -ENOMEM;
	static const char hx[] = "0123456789abcdef";
	for (unsigned i = 0; i < dl; i++) {
		out[2 * i] = hx[d[i] >> 4];
		out[2 * i + 1] = hx[d[i] & 15];
	}
	out[2 * dl] = '\0';
	return 0;
}

int cv_digest_ha1(enum cv_digest_alg alg, struct cv_pl user, struct cv_pl realm,
		  struct cv_pl password, char out[CV_DIGEST_HEX_MAX])
{
	user = sip_nn(user);
	realm = sip_nn(realm);
	password = sip_nn(password);
	struct cv_pl parts[3] = {user, realm, password};
	return hash_hex(alg, parts, 3, out);
}

int cv_digest_calc_response(const struct cv_digest_calc *c,
			    char out[CV_DIGEST_HEX_MAX])
{
	char ha1s[CV_DIGEST_HEX_MAX], ha2[CV_DIGEST_HEX_MAX],
		hbody[CV_DIGEST_HEX_MAX];
	struct cv_pl ha1 = c->ha1;
	int err;
	if (!md_of(c->alg) || !c->ha1.l)
		return -EINVAL;
	if (is_sess(c->alg)) {
		/* RFC 7616 §3.4.2: A1 = H(user:realm:pw) ":" nonce ":" cnonce
		 */
		struct cv_pl p[3] = {c->ha1, c->nonce, c->cnonce};
		if ((err = hash_hex(c->alg, p, 3, ha1s)))
			return err;
		ha1 = cv_pl_str(ha1s);
	}
	bool auth_int = cv_pl_caseeq_str(c->qop, "auth-int");
	if (auth_int) {
		struct cv_pl b = c->body;
		if ((err = hash_hex(c->alg, &b, 1, hbody)))
			return err;
		struct cv_pl p[3] = {c->method, c->uri, cv_pl_str(hbody)};
		err = hash_hex(c->alg, p, 3, ha2);
	} else {
		struct cv_pl p[2] = {c->method, c->uri};
		err = hash_hex(c->alg, p, 2, ha2);
	}
	if (err)
		return err;
	if (!c->qop.l) {
		/* RFC 2069 compatibility: H(HA1:nonce:HA2) */
		struct cv_pl p[3] = {ha1, c->nonce, cv_pl_str(ha2)};
		return hash_hex(c->alg, p, 3, out);
	}
	struct cv_pl p[6] = {ha1,	c->nonce, c->nc,
			     c->cnonce, c->qop,	  cv_pl_str(ha2)};
	return hash_hex(c->alg, p, 6, out);
}

/* ---- parsing ---- */

static bool qop_has(struct cv_pl list, const char *want)
{
	list = sip_nn(list);
	struct cv_pl rest = list, item;
	while (cv_sip_list_next(&rest, &item) == 0)
		if (cv_pl_caseeq_str(item, want))
			return true;
	return false;
}

int cv_digest_challenge_parse(struct cv_pl value,
			      struct cv_digest_challenge *ch)
{
	value = sip_nn(value);
	struct cv_sip_auth a;
	memset(ch, 0, sizeof(*ch));
	if (cv_sip_auth_parse(value, true, &a))
		return CV_EPARSE;
	if (!sip_ci_lit(a.scheme, "digest"))
		return CV_EUNSUPP;
	struct cv_pl rest = a.params, n, v;
	bool has_realm = false;
	while (cv_sip_auth_param_next(&rest, &n, &v) == 0) {
		if (sip_ci_lit(n, "realm")) {
			ch->realm = v;
			has_realm = true;
		} else if (sip_ci_lit(n, "nonce"))
			ch->nonce = v;
		else if (sip_ci_lit(n, "opaque"))
			ch->opaque = v;
		else if (sip_ci_lit(n, "domain"))
			ch->domain = v;
		else if (sip_ci_lit(n, "qop"))
			ch->qop_raw = v;
		else if (sip_ci_lit(n, "algorithm"))
			ch->algorithm = v;
		else if (sip_ci_lit(n, "stale"))
			ch->stale = sip_ci_lit(v, "true");
		else if (sip_ci_lit(n, "userhash"))
			ch->userhash = sip_ci_lit(v, "true");
	}
	if (!has_realm || !ch->nonce.l)
		return CV_EPARSE;
	/* values are echoed back verbatim (RFC 7616 §3.4): refuse escapes and
	 * controls rather than guess at an unq() that peers disagree on */
	struct cv_pl echo[3] = {ch->realm, ch->nonce, ch->opaque};
	for (int i = 0; i < 3; i++)
		for (size_t k = 0; k < echo[i].l; k++) {
			unsigned char c = (unsigned char)echo[i].p[k];
			if (c < 0x20 || c == 0x7f || c == '\\' || c == '"')
				return CV_EPARSE;
		}
	ch->alg_known = cv_digest_alg_from(ch->algorithm, &ch->alg) == 0;
	ch->qop_auth = qop_has(ch->qop_raw, "auth");
	ch->qop_auth_int = qop_has(ch->qop_raw, "auth-int");
	return 0;
}

int cv_digest_challenge_best(const struct cv_sip_msg *resp, bool proxy,
			     struct cv_digest_challenge *best)
{
	enum cv_sip_hdr_id id = proxy ? CV_SIP_HDR_PROXY_AUTHENTICATE
				      : CV_SIP_HDR_WWW_AUTHENTICATE;
	int found = 0;
	for (const struct cv_sip_hdr *h = cv_sip_msg_hdr(resp, id); h;
	     h = cv_sip_msg_hdr_next(resp, h)) {
		struct cv_digest_challenge c;
		if (cv_digest_challenge_parse(h->value, &c) || !c.alg_known)
			continue;
		if (!found ||
		    cv_digest_alg_rank(c.alg) > cv_digest_alg_rank(best->alg)) {
			*best = c;
			found = 1;
		}
	}
	return found ? 0 : CV_ENOTFOUND;
}

/* attr-char (RFC 8187 §3.2.1): ALPHA DIGIT ! # $ & + - . ^ _ ` | ~ */
static bool attr_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || (c && strchr("!#$&+-.^_`|~", c));
}

static int hexval(char c)
{
	c = sip_lower(c);
	return (c >= '0' && c <= '9')	? c - '0'
	       : (c >= 'a' && c <= 'f') ? c - 'a' + 10
					: -1;
}

/* ext-value = charset "'" [ language ] "'" value-chars (RFC 8187 §3.2.1),
 * decoded into out (max bytes). Only UTF-8 is taken (RFC 7616 §3.4 names
 * it; ISO-8859-1 would need a conversion to compare names); decoded
 * controls are refused, as in a quoted username. */
static int ext_value_decode(struct cv_pl v, char *out, size_t max, size_t *n)
{
	const char *p = v.p, *e = v.p + v.l;
	const char *q1 = memchr(p, '\'', (size_t)(e - p));
	if (!q1)
		return CV_EPARSE;
	if (!sip_ci_lit(sip_pl(p, q1), "utf-8"))
		return CV_EUNSUPP;
	const char *q2 = memchr(q1 + 1, '\'', (size_t)(e - q1 - 1));
	if (!q2)
		return CV_EPARSE;
	for (const char *l = q1 + 1; l < q2; l++)
		if (!sip_is(*l, SIP_C_ALPHA | SIP_C_DIGIT) && *l != '-')
			return CV_EPARSE; /* language tag (RFC 5646) */
	size_t k = 0;
	for (p = q2 + 1; p < e;) {
		unsigned char c;
		if (*p == '%') {
			int hi, lo;
			if (e - p < 3 || (hi = hexval(p[1])) < 0 ||
			    (lo = hexval(p[2])) < 0)
				return CV_EPARSE;
			c = (unsigned char)(hi * 16 + lo);
			p += 3;
		} else if (attr_char(*p)) {
			c = (unsigned char)*p++;
		} else {
			return CV_EPARSE;
		}
		if (c < 0x20 || c == 0x7f || k >= max)
			return CV_EPARSE;
		out[k++] = (char)c;
	}
	if (!k)
		return CV_EPARSE;
	*n = k;
	return 0;
}

int cv_digest_credentials_parse(struct cv_pl value,
				struct cv_digest_credentials *cr)
{
	value = sip_nn(value);
	struct cv_sip_auth a;
	memset(cr, 0, sizeof(*cr));
	if (cv_sip_auth_parse(value, true, &a))
		return CV_EPARSE;
	if (!sip_ci_lit(a.scheme, "digest"))
		return CV_EUNSUPP;
	struct cv_pl rest = a.params, n, v, ext = {NULL, 0};
	while (cv_sip_auth_param_next(&rest, &n, &v) == 0) {
		if (sip_ci_lit(n, "username"))
			cr->username = v;
		else if (sip_ci_lit(n, "username*")) {
			/* an ext-value is a token, never a quoted-string */
			if (v.p > value.p && v.p[-1] == '"')
				return CV_EPARSE;
			ext = v;
		} else if (sip_ci_lit(n, "realm"))
			cr->realm = v;
		else if (sip_ci_lit(n, "nonce"))
			cr->nonce = v;
		else if (sip_ci_lit(n, "uri"))
			cr->uri = v;
		else if (sip_ci_lit(n, "response"))
			cr->response = v;
		else if (sip_ci_lit(n, "algorithm"))
			cr->algorithm = v;
		else if (sip_ci_lit(n, "cnonce"))
			cr->cnonce = v;
		else if (sip_ci_lit(n, "opaque"))
			cr->opaque = v;
		else if (sip_ci_lit(n, "qop"))
			cr->qop = v;
		else if (sip_ci_lit(n, "nc"))
			cr->nc_pl = v;
		else if (sip_ci_lit(n, "userhash"))
			cr->userhash = sip_ci_lit(v, "true");
	}
	if (ext.p) {
		/* RFC 7616 §3.4: username* only instead of username, and not
		 * with a hashed username */
		if (cr->username.p || cr->userhash)
			return CV_EPARSE;
		size_t un;
		int err = ext_value_decode(ext, cr->user_ext,
					   sizeof(cr->user_ext), &un);
		if (err)
			return err;
		cr->username = (struct cv_pl){cr->user_ext, un};
		cr->username_ext = true;
	}
	if (!cr->username.l || !cr->nonce.l || !cr->response.l || !cr->uri.p)
		return CV_EPARSE;
	if (cv_digest_alg_from(cr->algorithm, &cr->alg))
		return CV_EUNSUPP;
	if (cr->qop.l) {
		/* RFC 7616 §3.4: nc is exactly 8 hex digits, cnonce required */
		if (cr->nc_pl.l != 8 || !cr->cnonce.l)
			return CV_EPARSE;
		uint32_t nc = 0;
		for (size_t i = 0; i < 8; i++) {
			char c = sip_lower(cr->nc_pl.p[i]);
			int d = (c >= '0' && c <= '9')	 ? c - '0'
				: (c >= 'a' && c <= 'f') ? c - 'a' + 10
							 : -1;
			if (d < 0)
				return CV_EPARSE;
			nc = nc * 16 + (uint32_t)d;
		}
		cr->nc = nc;
		if (!cv_pl_caseeq_str(cr->qop, "auth") &&
		    !cv_pl_caseeq_str(cr->qop, "auth-int"))
			return CV_EPARSE;
	}
	return 0;
}

/* ---- client ---- */

/* A quoted-string of v; values with controls cannot be sent (-EINVAL). */
static int quoted(struct cv_buf *out, struct cv_pl v)
{
	for (size_t i = 0; i < v.l; i++) {
		unsigned char c = (unsigned char)v.p[i];
		if (c < 0x20 || c == 0x7f)
			return -EINVAL;
	}
	cv_buf_append(out, "\"", 1);
	for (size_t i = 0; i < v.l; i++) {
		if (v.p[i] == '"' || v.p[i] == '\\')
			cv_buf_append(out, "\\", 1);
		cv_buf_append(out, &v.p[i], 1);
	}
	cv_buf_append(out, "\"", 1);
	return 0;
}

static bool has_high(struct cv_pl v)
{
	for (size_t i = 0; i < v.l; i++)
		if ((unsigned char)v.p[i] >= 0x80)
			return true;
	return false;
}

/* UTF-8''value with every byte outside attr-char %-encoded (RFC 8187
 * §3.2.1), and also # $ & ^ |: attr-chars but no SIP token characters,
 * and a SIP auth-param value is a token or a quoted-string (RFC 3261
 * §25.1). Controls cannot be sent (-EINVAL), as in quoted(). */
static int ext_value(struct cv_buf *out, struct cv_pl v)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < v.l; i++) {
		unsigned char c = (unsigned char)v.p[i];
		if (c < 0x20 || c == 0x7f)
			return -EINVAL;
	}
	cv_buf_append_str(out, "UTF-8''");
	for (size_t i = 0; i < v.l; i++) {
		unsigned char c = (unsigned char)v.p[i];
		if (attr_char((char)c) && !strchr("#$&^|", (char)c)) {
			cv_buf_append(out, &v.p[i], 1);
		} else {
			char enc[3] = {'%', hex[c >> 4], hex[c & 15]};
			cv_buf_append(out, enc, 3);
		}
	}
	return 0;
}

int cv_digest_authorize(struct cv_buf *out,
			const struct cv_digest_challenge *ch,
			const struct cv_digest_client_params *p)
{
	if (!ch->alg_known || !p->user.l || !p->method.l || !p->uri.l)
		return -EINVAL;
	char ha1[CV_DIGEST_HEX_MAX], resp[CV_DIGEST_HEX_MAX], cn[33], ncs[9],
		uh[CV_DIGEST_HEX_MAX];
	struct cv_pl h1 = p->ha1;
	int err;
	if (!h1.l) {
		if ((err = cv_digest_ha1(ch->alg, p->user, ch->realm,
					 p->password, ha1)))
			return err;
		h1 = cv_pl_str(ha1);
	}
	struct cv_pl cnonce = p->cnonce;
	if (!cnonce.l) {
		cv_random_token(cn, 32);
		cnonce = cv_pl_str(cn);
	}
	snprintf(ncs, sizeof(ncs), "%08x", p->nc ? p->nc : 1);
	struct cv_pl qop = ch->qop_auth	      ? CV_PL("auth")
			   : ch->qop_auth_int ? CV_PL("auth-int")
					      : (struct cv_pl){"", 0};
	struct cv_digest_calc c = {.alg = ch->alg,
				   .ha1 = h1,
				   .nonce = ch->nonce,
				   .cnonce = cnonce,
				   .nc = cv_pl_str(ncs),
				   .qop = qop,
				   .method = p->method,
				   .uri = p->uri,
				   .body = p->body};
	if ((err = cv_digest_calc_response(&c, resp)))
		return err;
	struct cv_pl user = p->user;
	if (ch->userhash) {
		/* RFC 7616 §3.4.4: username = H(user:realm) */
		struct cv_pl parts[2] = {p->user, ch->realm};
		if ((err = hash_hex(ch->alg, parts, 2, uh)))
			return err;
		user = cv_pl_str(uh);
	}
	size_t start = out->len;
	err = 0;
	if (!ch->userhash && has_high(user)) {
		cv_buf_append_str(out, "Digest username*=");
		err |= ext_value(out, user);
	} else {
		cv_buf_append_str(out, "Digest username=");
		err |= quoted(out, user);
	}
	cv_buf_append_str(out, ", realm=");
	err |= quoted(out, ch->realm);
	cv_buf_append_str(out, ", nonce=");
	err |= quoted(out, ch->nonce);
	cv_buf_append_str(out, ", uri=");
	err |= quoted(out, p->uri);
	cv_buf_printf(out, ", response=\"%s\", algorithm=%s", resp,
		      cv_digest_alg_name(ch->alg));
	if (ch->opaque.p) {
		cv_buf_append_str(out, ", opaque=");
		err |= quoted(out, ch->opaque);
	}
	if (qop.l) {
		cv_buf_printf(out, ", qop=" CV_PL_FMT ", nc=%s, cnonce=",
			      CV_PL_ARG(qop), ncs);
		err |= quoted(out, cnonce);
	}
	if (err) {
		out->len = start; /* nothing half-written */
		return -EINVAL;
	}
	if (ch->userhash)
		cv_buf_append_str(out, ", userhash=true");
	return out->err;
}

/* ---- server ---- */

struct nc_slot {
	uint64_t nonce_hash;
	uint32_t max_nc;
};

#define HMAC_BLOCK 64 /* SHA-256 block size (RFC 2104 B) */

struct cv_digest_server {
	/* RFC 2104: K0 = secret zero-padded to B (secret_len <= B, so never
	 * hashed first), pre-XORed with ipad / opad */
	unsigned char kipad[HMAC_BLOCK];
	unsigned char kopad[HMAC_BLOCK];
	char realm[128];
	uint32_t ttl_s;
	bool auth_int;
	pthread_mutex_t lock;
	uint32_t nslots;
	struct nc_slot *slots;
};

static void server_dtor(void *obj)
{
	struct cv_digest_server *s = obj;
	OPENSSL_cleanse(s->kipad, sizeof(s->kipad));
	OPENSSL_cleanse(s->kopad, sizeof(s->kopad));
	pthread_mutex_destroy(&s->lock);
	cv_mem_unref(s->slots);
}

int cv_digest_server_create(struct cv_digest_server **srvp,
			    const struct cv_digest_server_params *p)
{
	if (!p->secret || p->secret_len < 16 || p->secret_len > 64 ||
	    !p->realm.l || p->realm.l >= 128)
		return -EINVAL;
	for (size_t i = 0; i < p->realm.l; i++)
		if (p->realm.p[i] == '"' || p->realm.p[i] == '\\' ||
		    (unsigned char)p->realm.p[i] < 0x20)
			return -EINVAL;
	struct cv_digest_server *s = cv_mem_zalloc(sizeof(*s), server_dtor);
	if (!s)
		return -ENOMEM;
	const unsigned char *key = p->secret;
	for (size_t i = 0; i < HMAC_BLOCK; i++) {
		unsigned char k = i < p->secret_len ? key[i] : 0;
		s->kipad[i] = k ^ 0x36;
		s->kopad[i] = k ^ 0x5c;
	}
	cv_pl_strcpy(p->realm, s->realm, sizeof(s->realm));
	s->ttl_s = p->nonce_ttl_s ? p->nonce_ttl_s : 300;
	s->auth_int = p->qop_auth_int;
	s->nslots = p->replay_slots ? p->replay_slots : 4096;
	if (s->nslots > (1u << 22))
		s->nslots = 1u << 22;
	pthread_mutex_init(&s->lock, NULL);
	s->slots = cv_mem_zalloc(sizeof(struct nc_slot) * s->nslots, NULL);
	if (!s->slots) {
		cv_mem_unref(s);
		return -ENOMEM;
	}
	*srvp = s;
	return 0;
}

#define NONCE_HEX 64 /* 8-byte time, 8 random, 16 of HMAC, all in hex */

/* HMAC-SHA256(secret, raw || realm) (RFC 2104), computed on this thread's
 * digest context from the pre-padded keys: byte-identical to OpenSSL's
 * HMAC() but without its per-call fetch and context allocation. The server
 * object is only read, so workers may share it. -ENOMEM if OpenSSL fails. */
static int nonce_mac(const struct cv_digest_server *s,
		     const unsigned char raw[16], unsigned char mac[32])
{
	const EVP_MD *md = md_of(CV_DIGEST_SHA256);
	EVP_MD_CTX *ctx = md ? thread_md_ctx() : NULL;
	unsigned char inner[32];
	unsigned int il = 0, ml = 0;
	int ok = ctx && EVP_DigestInit_ex2(ctx, md, NULL) &&
		 EVP_DigestUpdate(ctx, s->kipad, HMAC_BLOCK) &&
		 EVP_DigestUpdate(ctx, raw, 16) &&
		 EVP_DigestUpdate(ctx, s->realm, strlen(s->realm)) &&
		 EVP_DigestFinal_ex(ctx, inner, &il) && il == 32 &&
		 EVP_DigestInit_ex2(ctx, md, NULL) &&
		 EVP_DigestUpdate(ctx, s->kopad, HMAC_BLOCK) &&
		 EVP_DigestUpdate(ctx, inner, 32) &&
		 EVP_DigestFinal_ex(ctx, mac, &ml) && ml == 32;
	OPENSSL_cleanse(inner, sizeof(inner));
	return ok ? 0 : -ENOMEM;
}

static void to_hex(const unsigned char *b, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hx[b[i] >> 4];
		out[2 * i + 1] = hx[b[i] & 15];
	}
}

static int from_hex(const char *p, size_t n, unsigned char *out)
{
	for (size_t i = 0; i < n; i++) {
		int v = 0;
		for (int k = 0; k < 2; k++) {
			char c = p[2 * i + k];
			int d = (c >= '0' && c <= '9')	 ? c - '0'
				: (c >= 'a' && c <= 'f') ? c - 'a' + 10
							 : -1;
			if (d < 0)
				return -1;
			v = v * 16 + d;
		}
		out[i] = (unsigned char)v;
	}
	return 0;
}

int cv_digest_server_challenge(struct cv_digest_server *s, struct cv_buf *out,
			       enum cv_digest_alg alg, bool stale)
{
	if (!md_of(alg))
		return -EINVAL;
	unsigned char raw[16], mac[32];
	uint64_t now = cv_clock_wall_us() / 1000000u;
	for (int i = 0; i < 8; i++)
		raw[i] = (unsigned char)(now >> (56 - 8 * i));
	if (cv_random(raw + 8, 8))
		return -EIO;
	if (nonce_mac(s, raw, mac))
		return -ENOMEM;
	char nonce[NONCE_HEX + 1];
	to_hex(raw, 16, nonce);
	to_hex(mac, 16, nonce + 32);
	nonce[NONCE_HEX] = '\0';
	cv_buf_printf(
		out,
		"Digest realm=\"%s\", nonce=\"%s\", algorithm=%s, qop=\"%s\"%s",
		s->realm, nonce, cv_digest_alg_name(alg),
		s->auth_int ? "auth,auth-int" : "auth",
		stale ? ", stale=true" : "");
	return out->err;
}

int cv_digest_server_verify(struct cv_digest_server *s,
			    const struct cv_digest_credentials *cr,
			    struct cv_pl method, struct cv_pl body,
			    struct cv_pl ha1)
{
	method = sip_nn(method);
	body = sip_nn(body);
	ha1 = sip_nn(ha1);
	if (!cv_pl_eq_str(cr->realm, s->realm))
		return CV_EAUTH;
	if (cr->nonce.l != NONCE_HEX)
		return CV_EAUTH;
	unsigned char raw[16], mac[32], got[16];
	if (from_hex(cr->nonce.p, 16, raw) ||
	    from_hex(cr->nonce.p + 32, 16, got))
		return CV_EAUTH;
	if (nonce_mac(s, raw, mac))
		return -ENOMEM;
	if (CRYPTO_memcmp(mac, got, 16) != 0)
		return CV_EAUTH; /* not our nonce */
	if (cr->qop.l && cv_pl_caseeq_str(cr->qop, "auth-int") && !s->auth_int)
		return CV_EAUTH;
	char want[CV_DIGEST_HEX_MAX];
	struct cv_digest_calc c = {.alg = cr->alg,
				   .ha1 = ha1,
				   .nonce = cr->nonce,
				   .cnonce = cr->cnonce,
				   .nc = cr->nc_pl,
				   .qop = cr->qop,
				   .method = method,
				   .uri = cr->uri,
				   .body = body};
	int err = cv_digest_calc_response(&c, want);
	if (err)
		return err;
	size_t wl = strlen(want);
	if (cr->response.l != wl ||
	    CRYPTO_memcmp(want, cr->response.p, wl) != 0)
		return CV_EAUTH;
	uint64_t ts = 0;
	for (int i = 0; i < 8; i++)
		ts = ts << 8 | raw[i];
	uint64_t now = cv_clock_wall_us() / 1000000u;
	if (ts > now + 60 || now - ts > s->ttl_s)
		return CV_ESTALE;
	if (!cr->qop.l)
		return 0; /* RFC 2069 form: no nonce-count; bounded by the ttl
			   */
	/* RFC 7616 §3.4.5: nc must grow for a nonce. Bounded direct-mapped
	 * table: a nonce evicted by another is answered stale unless nc=1. */
	uint64_t nh = cv_hash(cr->nonce.p, cr->nonce.l);
	pthread_mutex_lock(&s->lock);
	struct nc_slot *sl = &s->slots[nh % s->nslots];
	if (sl->nonce_hash == nh) {
		if (cr->nc <= sl->max_nc)
			err = CV_ESTALE;
		else
			sl->max_nc = cr->nc;
	} else if (cr->nc == 1) {
		sl->nonce_hash = nh;
		sl->max_nc = 1;
	} else {
		err = CV_ESTALE;
	}
	pthread_mutex_unlock(&s->lock);
	return err;
}
