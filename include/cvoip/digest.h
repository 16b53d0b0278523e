/*
 * cvoip digest: HTTP Digest authentication for SIP (RFC 7616, RFC 8760,
 * RFC 3261 §22). MD5, SHA-256, SHA-512-256 and their -sess forms; qop
 * auth and auth-int.
 *
 * Client: parse the challenges of a 401/407, pick the strongest, print the
 * Authorization/Proxy-Authorization value. Server: stateless nonces (time +
 * random + HMAC-SHA256 over a server secret), response verification from a
 * stored HA1 (no plaintext password needed), stale detection, and a bounded
 * nonce-count replay table.
 */
#ifndef CVOIP_DIGEST_H
#define CVOIP_DIGEST_H

#include "cvoip/base.h"
#include "cvoip/sip.h"

#ifdef __cplusplus
extern "C" {
#endif

enum cv_digest_alg {
	CV_DIGEST_MD5 = 0,
	CV_DIGEST_MD5_SESS,
	CV_DIGEST_SHA256,
	CV_DIGEST_SHA256_SESS,
	CV_DIGEST_SHA512_256,
	CV_DIGEST_SHA512_256_SESS,
	CV_DIGEST_ALG_COUNT
};

/* Hex digests: 32 (MD5) or 64 chars + NUL. */
#define CV_DIGEST_HEX_MAX 65

/* "MD5", "SHA-256-sess"... */
CV_API const char *cv_digest_alg_name(enum cv_digest_alg alg);
/* Case-insensitive; an empty name means MD5 (RFC 7616 §3.3). */
CV_API int cv_digest_alg_from(struct cv_pl name, enum cv_digest_alg *alg);
/* Strength order used to pick among challenges (SHA-512-256 > SHA-256 >
 * MD5; -sess ranks just below its base). */
CV_API int cv_digest_alg_rank(enum cv_digest_alg alg);

/* HA1 = H(user:realm:password) (RFC 7616 §3.4.2), lowercase hex. For -sess
 * algorithms this is the stored, nonce-independent part (H of the base
 * algorithm); the session key is derived per nonce. */
CV_API int cv_digest_ha1(enum cv_digest_alg alg, struct cv_pl user,
			 struct cv_pl realm, struct cv_pl password,
			 char out[CV_DIGEST_HEX_MAX]);

/* A parsed WWW-Authenticate / Proxy-Authenticate Digest challenge. */
struct cv_digest_challenge {
	struct cv_pl realm, nonce, opaque, domain, qop_raw, algorithm;
	enum cv_digest_alg alg;
	bool alg_known;
	bool qop_auth, qop_auth_int;
	bool stale;
	bool userhash;
};
/* value: the header value ("Digest realm=..."). CV_EUNSUPP for other
 * schemes, CV_EPARSE for bad syntax or a missing realm/nonce. */
CV_API int cv_digest_challenge_parse(struct cv_pl value,
				     struct cv_digest_challenge *ch);

/* Among every WWW-Authenticate (proxy=false) or Proxy-Authenticate value
 * of a response, the strongest known-algorithm Digest challenge
 * (RFC 8760 §2.4). 0 or CV_ENOTFOUND. */
CV_API int cv_digest_challenge_best(const struct cv_sip_msg *resp, bool proxy,
				    struct cv_digest_challenge *ch);

/* Longest username accepted in username* (decoded bytes). */
#define CV_DIGEST_USER_MAX 256

/* Parsed Authorization / Proxy-Authorization Digest credentials.
 * username* (RFC 7616 §3.4, RFC 8187 ext-value, charset UTF-8) is decoded
 * into user_ext and username then points there: keep the struct where it
 * is while username is in use. username and username* together, username*
 * with userhash=true, another charset (CV_EUNSUPP), a bad escape or a
 * control character in the decoded name are refused. */
struct cv_digest_credentials {
	struct cv_pl username, realm, nonce, uri, response, algorithm;
	struct cv_pl cnonce, opaque, qop, nc_pl;
	enum cv_digest_alg alg;
	uint32_t nc;
	bool userhash;
	bool username_ext; /* the name came from username* */
	char user_ext[CV_DIGEST_USER_MAX];
};
CV_API int cv_digest_credentials_parse(struct cv_pl value,
				       struct cv_digest_credentials *cr);

/* Client side: the Authorization value (without the header name).
 * qop auth is preferred when offered, else auth-int, else the RFC 2069
 * form. -EINVAL for values with control characters. A user name with
 * bytes above 0x7f (UTF-8) is sent as username*=UTF-8''... (RFC 7616
 * §3.4, RFC 8187) unless the challenge asked for userhash. */
struct cv_digest_client_params {
	struct cv_pl user;
	struct cv_pl password; /* or ha1 */
	struct cv_pl ha1;      /* hex HA1 for the challenge's algorithm */
	struct cv_pl method;   /* "INVITE" (ACK/CANCEL reuse INVITE's) */
	struct cv_pl uri;      /* digest-uri, normally the Request-URI */
	struct cv_pl body;     /* for qop=auth-int */
	uint32_t nc;	       /* nonce count, 0 = 1 */
	struct cv_pl cnonce;   /* empty: a random one */
};
CV_API int cv_digest_authorize(struct cv_buf *out,
			       const struct cv_digest_challenge *ch,
			       const struct cv_digest_client_params *p);

/* Low level: the request-digest (RFC 7616 §3.4.1) for the given inputs. */
struct cv_digest_calc {
	enum cv_digest_alg alg;
	struct cv_pl ha1;		     /* hex, of the base algorithm */
	struct cv_pl nonce, cnonce, nc, qop; /* qop empty: RFC 2069 form */
	struct cv_pl method, uri, body;
};
CV_API int cv_digest_calc_response(const struct cv_digest_calc *c,
				   char out[CV_DIGEST_HEX_MAX]);

/* Server side. The server object is refcounted (cv_mem_unref frees it);
 * verify may be called from any worker (the nonce-count table has its own
 * mutex, held only for the table update). */
struct cv_digest_server;
struct cv_digest_server_params {
	const void *secret; /* HMAC key for nonces (>= 16 bytes) */
	size_t secret_len;
	struct cv_pl realm;
	uint32_t nonce_ttl_s;  /* 0 = 300 */
	uint32_t replay_slots; /* nonce-count table size, 0 = 4096 */
	bool qop_auth_int;     /* offer auth-int besides auth */
};
CV_API int cv_digest_server_create(struct cv_digest_server **srvp,
				   const struct cv_digest_server_params *p);
/* The WWW-Authenticate / Proxy-Authenticate value with a fresh nonce. */
CV_API int cv_digest_server_challenge(struct cv_digest_server *srv,
				      struct cv_buf *out,
				      enum cv_digest_alg alg, bool stale);
/* Verifies credentials against the stored HA1 (hex, for cr->alg's base
 * algorithm). The caller checks that cr->uri matches the Request-URI and
 * picks the HA1 by cr->username. 0 when valid; CV_ESTALE when the response is
 * right but the nonce expired or its nonce-count was not fresh (answer
 * stale=true); CV_EAUTH on a wrong response, foreign nonce or realm; CV_EPARSE.
 */
CV_API int cv_digest_server_verify(struct cv_digest_server *srv,
				   const struct cv_digest_credentials *cr,
				   struct cv_pl method, struct cv_pl body,
				   struct cv_pl ha1);

#ifdef __cplusplus
}
#endif

#endif
