/* TLS (OpenSSL 3) over memory BIOs on top of a libuv TCP connection:
 * TLS 1.2+ only, server certificate from config, client verification of
 * the peer chain against a CA file plus host name (or IP) check, SNI. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "tp_int.h"

static void log_ssl_errors(const char *what)
{
	unsigned long e;
	char buf[256];
	while ((e = ERR_get_error()) != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		CV_LOG_RL(CV_LOG_INFO, TP_MOD, "%s: %s", what, buf);
	}
}

int tp_tls_init(struct cv_tp *tp, const struct cv_tp_tls_params *p)
{
	tp->verify_server = p->verify_server;
	if (p->server_name && p->server_name[0]) {
		if (strlen(p->server_name) >=
		    sizeof(((struct cv_tp_conn *)0)->tls_name))
			return CV_ECONFIG;
		tp->tls_server_name = strdup(p->server_name);
		if (!tp->tls_server_name)
			return -ENOMEM;
	}
	tp->ssl_cli = SSL_CTX_new(TLS_client_method());
	if (!tp->ssl_cli)
		return -ENOMEM;
	SSL_CTX_set_min_proto_version(tp->ssl_cli, TLS1_2_VERSION);
	if (p->ca_file) {
		if (SSL_CTX_load_verify_locations(tp->ssl_cli, p->ca_file,
						  NULL) != 1) {
			log_ssl_errors("tls ca_file");
			CV_ERROR(TP_MOD, "cannot load CA file %s", p->ca_file);
			return CV_ECONFIG;
		}
	} else {
		SSL_CTX_set_default_verify_paths(tp->ssl_cli);
	}
	SSL_CTX_set_verify(tp->ssl_cli,
			   p->verify_server ? SSL_VERIFY_PEER : SSL_VERIFY_NONE,
			   NULL);
	/* A client certificate, when we have one, for servers asking mutual
	 * TLS. */
	if (p->cert_file && p->key_file) {
		if (SSL_CTX_use_certificate_chain_file(tp->ssl_cli,
						       p->cert_file) != 1 ||
		    SSL_CTX_use_PrivateKey_file(tp->ssl_cli, p->key_file,
						SSL_FILETYPE_PEM) != 1) {
			log_ssl_errors("tls cert");
			CV_ERROR(TP_MOD, "cannot load certificate %s / key %s",
				 p->cert_file, p->key_file);
			return CV_ECONFIG;
		}
	}

	if (!p->cert_file || !p->key_file)
		return 0; /* no TLS/WSS listeners possible (checked by create)
			   */
	tp->ssl_srv = SSL_CTX_new(TLS_server_method());
	if (!tp->ssl_srv)
		return -ENOMEM;
	SSL_CTX_set_min_proto_version(tp->ssl_srv, TLS1_2_VERSION);
	SSL_CTX_set_options(tp->ssl_srv, SSL_OP_CIPHER_SERVER_PREFERENCE |
						 SSL_OP_NO_RENEGOTIATION);
	if (SSL_CTX_use_certificate_chain_file(tp->ssl_srv, p->cert_file) !=
		    1 ||
	    SSL_CTX_use_PrivateKey_file(tp->ssl_srv, p->key_file,
					SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(tp->ssl_srv) != 1) {
		log_ssl_errors("tls cert");
		CV_ERROR(TP_MOD, "cannot load certificate %s / key %s",
			 p->cert_file, p->key_file);
		return CV_ECONFIG;
	}
	if (p->verify_client) {
		if (!p->ca_file ||
		    SSL_CTX_load_verify_locations(tp->ssl_srv, p->ca_file,
						  NULL) != 1) {
			CV_ERROR(TP_MOD,
				 "verify_client needs a loadable ca_file");
			return CV_ECONFIG;
		}
		SSL_CTX_set_verify(tp->ssl_srv,
				   SSL_VERIFY_PEER |
					   SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
				   NULL);
	}
	return 0;
}

void tp_tls_free(struct cv_tp *tp)
{
	if (tp->ssl_srv)
		SSL_CTX_free(tp->ssl_srv);
	if (tp->ssl_cli)
		SSL_CTX_free(tp->ssl_cli);
	tp->ssl_srv = tp->ssl_cli = NULL;
	free(tp->tls_server_name);
	tp->tls_server_name = NULL;
}

/* Ciphertext produced by OpenSSL goes to the socket. */
static int tls_flush(struct cv_tp_conn *c)
{
	BIO *wbio = SSL_get_wbio(c->ssl);
	char buf[16384];
	int n;
	while ((n = BIO_read(wbio, buf, sizeof(buf))) > 0) {
		int err = tp_conn_write_raw(c, buf, (size_t)n);
		if (err)
			return err;
	}
	return 0;
}

int tp_tls_conn_start(struct cv_tp_conn *c)
{
	struct cv_tp *tp = c->tp;
	SSL_CTX *ctx = c->outgoing ? tp->ssl_cli : tp->ssl_srv;
	if (!ctx)
		return CV_ECONFIG;
	c->ssl = SSL_new(ctx);
	if (!c->ssl)
		return -ENOMEM;
	BIO *rbio = BIO_new(BIO_s_mem()), *wbio = BIO_new(BIO_s_mem());
	if (!rbio || !wbio) {
		BIO_free(rbio);
		BIO_free(wbio);
		return -ENOMEM;
	}
	BIO_set_mem_eof_return(rbio, -1);
	SSL_set_bio(c->ssl, rbio, wbio);
	c->st = TP_C_TLS_HS;
	if (!c->outgoing) {
		SSL_set_accept_state(c->ssl);
		return 0;
	}
	SSL_set_connect_state(c->ssl);
	/* RFC 5922 §7.1 / RFC 6125: SNI with the domain, identity check with
	 * the domain, or with the IP address when we only have one. */
	struct cv_tp_addr tmp;
	if (c->tls_name[0] &&
	    cv_tp_addr_set(&tmp, cv_pl_str(c->tls_name), 0) != 0) {
		SSL_set_tlsext_host_name(c->ssl, c->tls_name);
		if (tp->verify_server)
			SSL_set1_host(c->ssl, c->tls_name);
	} else if (tp->verify_server) {
		char ip[CV_TP_ADDRSTRLEN];
		cv_tp_addr_host_print(&c->peer, ip, sizeof(ip));
		X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), ip);
	}
	int r = SSL_do_handshake(c->ssl);
	if (r != 1) {
		int e = SSL_get_error(c->ssl, r);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
			log_ssl_errors("tls connect");
			return CV_EPROTO;
		}
	}
	return tls_flush(c);
}

static void tls_fail(struct cv_tp_conn *c, const char *what)
{
	long vr = SSL_get_verify_result(c->ssl);
	TP_INC(c->tw, rej_handshake);
	if (vr != X509_V_OK)
		CV_LOG_RL(CV_LOG_INFO, TP_MOD, "%s: certificate: %s", what,
			  X509_verify_cert_error_string(vr));
	log_ssl_errors(what);
	tls_flush(c); /* the alert, if any */
	tp_conn_close(c, CV_EPROTO);
}

void tp_tls_in(struct cv_tp_conn *c, const char *p, size_t n)
{
	char buf[16384];

	if (!c->ssl || c->st == TP_C_CLOSED)
		return;
	if (BIO_write(SSL_get_rbio(c->ssl), p, (int)n) != (int)n) {
		tp_conn_close(c, -ENOMEM);
		return;
	}
	if (c->st == TP_C_TLS_HS) {
		int r = SSL_do_handshake(c->ssl);
		if (r != 1) {
			int e = SSL_get_error(c->ssl, r);
			if (e == SSL_ERROR_WANT_READ ||
			    e == SSL_ERROR_WANT_WRITE) {
				tls_flush(c);
				return;
			}
			tls_fail(c, "tls handshake");
			return;
		}
		if (tls_flush(c))
			return;
		if (c->kind == CV_TP_WSS && !c->outgoing) {
			c->st = TP_C_WS_HS; /* hs timer keeps running */
		} else if (c->kind == CV_TP_WSS) {
			/* RFC 7118 §4.1: our Upgrade inside TLS */
			int err = tp_ws_client_start(c);
			if (err) {
				tp_conn_close(c, err);
				return;
			}
		} else {
			tp_conn_established(c);
		}
	}
	while (c->st != TP_C_CLOSED) {
		int r = SSL_read(c->ssl, buf, sizeof(buf));
		if (r <= 0) {
			int e = SSL_get_error(c->ssl, r);
			if (e == SSL_ERROR_WANT_READ ||
			    e == SSL_ERROR_WANT_WRITE)
				break;
			if (e == SSL_ERROR_ZERO_RETURN) {
				tls_flush(c);
				tp_conn_close(c, 0);
				return;
			}
			log_ssl_errors("tls read");
			tp_conn_close(c, CV_EPROTO);
			return;
		}
		tp_conn_plain_in(c, buf, (size_t)r);
	}
	if (c->st != TP_C_CLOSED)
		tls_flush(c);
}

int tp_tls_write(struct cv_tp_conn *c, const void *buf, size_t len)
{
	if (!c->ssl || c->st == TP_C_CLOSED)
		return CV_ECLOSED;
	if (len == 0)
		return 0;
	int r = SSL_write(c->ssl, buf, (int)len);
	if (r <= 0) {
		log_ssl_errors("tls write");
		tp_conn_close(c, CV_EPROTO);
		return CV_EPROTO;
	}
	return tls_flush(c);
}
