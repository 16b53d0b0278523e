/* SDP parser and printer: real-world descriptions, typed views, print
 * round trips, limits and malformed input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <netinet/in.h>

#include "cvoip/sdp.h"
#include "sdp/samples.h"

static int64_t live0;

static int setup(void **state)
{
	(void)state;
	live0 = cv_mem_live();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	assert_int_equal(cv_mem_live(), live0);
	return 0;
}

static struct cv_sdp *parse_ok(const char *s)
{
	struct cv_sdp *sdp = NULL;
	int err = cv_sdp_parse(&sdp, s, strlen(s), NULL);
	if (err)
		fprintf(stderr, "parse: %s\n", cv_strerror(err));
	assert_int_equal(err, 0);
	assert_non_null(sdp);
	return sdp;
}

static void assert_pl(struct cv_pl pl, const char *s)
{
	if (!cv_pl_eq_str(pl, s)) {
		fprintf(stderr, "got '%.*s' want '%s'\n", (int)pl.l,
			pl.p ? pl.p : "", s);
		fail();
	}
}

/* print(parse(x)) == x for CRLF input, and parse(print) again works */
static void roundtrip(const char *s)
{
	struct cv_sdp *sdp = parse_ok(s);
	struct cv_buf b;
	cv_buf_init(&b, 0);
	assert_int_equal(cv_sdp_print(sdp, &b), 0);
	assert_int_equal(b.len, strlen(s));
	assert_memory_equal(b.data, s, b.len);
	struct cv_sdp *again = parse_ok(b.data);
	assert_int_equal(again->nmedia, sdp->nmedia);
	cv_buf_free(&b);
	cv_mem_unref(again);
	cv_mem_unref(sdp);
}

static void test_roundtrip_all(void **state)
{
	(void)state;
	const char *all[] = {sdp_baresip,   sdp_baresip_srtp, sdp_linphone,
			     sdp_chrome,    sdp_asterisk,     sdp_asterisk_hold,
			     sdp_rtpengine, sdp_oldhold,      sdp_ipv6};
	for (size_t i = 0; i < CV_ARRAY_SIZE(all); i++)
		roundtrip(all[i]);
}

static void test_baresip(void **state)
{
	(void)state;
	struct cv_sdp *sdp = parse_ok(sdp_baresip);
	assert_int_equal(sdp->version, 0);
	assert_pl(sdp->origin_user, "-");
	assert_pl(sdp->sess_id, "1545918367");
	assert_true(sdp->sess_version == 2938573929ull);
	assert_int_equal(sdp->origin.af, AF_INET);
	assert_pl(sdp->name, "-");
	assert_true(sdp->c.conn.present);
	assert_pl(sdp->c.conn.addr, "192.0.2.10");
	const struct cv_sdp_attr *tool = cv_sdp_attr_find(&sdp->c, "tool");
	assert_non_null(tool);
	assert_pl(tool->value, "baresip 3.10.1");
	assert_int_equal(sdp->nmedia, 1);
	const struct cv_sdp_media *m = &sdp->media[0];
	assert_pl(m->media, "audio");
	assert_int_equal(m->port, 10374);
	assert_pl(m->proto, "RTP/AVP");
	assert_int_equal(m->nfmts, 5);
	assert_int_equal(m->fmts[0].pt, 96);
	assert_pl(m->fmts[0].encoding, "opus");
	assert_int_equal(m->fmts[0].clock_rate, 48000);
	assert_int_equal(m->fmts[0].channels, 2);
	assert_true(m->fmts[0].has_fmtp);
	assert_pl(m->fmts[0].fmtp, "stereo=1;sprop-stereo=1");
	const struct cv_sdp_fmt *te = cv_sdp_fmt_by_pt(m, 101);
	assert_non_null(te);
	assert_pl(te->encoding, "telephone-event");
	assert_pl(te->fmtp, "0-15");
	assert_int_equal(m->c.nbw, 1);
	assert_pl(m->c.bw[0].type, "AS");
	assert_int_equal(m->c.bw[0].value, 142);
	assert_true(m->rtcp_rsize);
	assert_int_equal(m->ptime, 20);
	assert_int_equal(cv_sdp_media_dir(sdp, m), CV_SDP_SENDRECV);
	assert_int_equal(m->nssrcs, 1);
	assert_true(m->ssrcs[0].ssrc == 2193946843u);
	assert_pl(m->ssrcs[0].attr, "cname");
	assert_pl(m->ssrcs[0].value, "d5e1dc6d-2a2f-4c07-8c21-6a1e90fdd1a4");
	assert_non_null(cv_sdp_attr_find(&m->c, "label"));
	assert_ptr_equal(cv_sdp_media_conn(sdp, m), &sdp->c.conn);
	cv_mem_unref(sdp);
}

static void test_crypto(void **state)
{
	(void)state;
	struct cv_sdp *sdp = parse_ok(sdp_baresip_srtp);
	const struct cv_sdp_media *m = &sdp->media[0];
	assert_pl(m->proto, "RTP/SAVP");
	assert_int_equal(m->ncrypto, 3);
	assert_int_equal(m->crypto[0].tag, 1);
	assert_pl(m->crypto[0].suite, "AES_CM_128_HMAC_SHA1_80");
	assert_pl(m->crypto[0].key_params,
		  "inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4");
	assert_pl(m->crypto[0].key_salt,
		  "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz");
	assert_pl(m->crypto[0].lifetime, "2^20");
	assert_pl(m->crypto[0].mki, "1:4");
	assert_int_equal(m->crypto[0].session_params.l, 0);
	assert_pl(m->crypto[1].lifetime, "2^20");
	assert_int_equal(m->crypto[1].mki.l, 0);
	assert_pl(m->crypto[2].suite, "AEAD_AES_256_GCM");
	assert_pl(m->crypto[2].session_params, "UNENCRYPTED_SRTCP");
	assert_int_equal(m->crypto[2].lifetime.l, 0);
	/* static payloads with rtpmap keep the rtpmap */
	assert_true(m->fmts[0].has_rtpmap);
	cv_mem_unref(sdp);
}

static void test_linphone(void **state)
{
	(void)state;
	struct cv_sdp *sdp = parse_ok(sdp_linphone);
	assert_pl(sdp->c.ice_ufrag, "0e6b4bf9");
	assert_pl(sdp->c.ice_pwd, "31ec21eb38b2ec6d36e8dc7b");
	assert_int_equal(sdp->nmedia, 2);
	const struct cv_sdp_media *a = &sdp->media[0], *v = &sdp->media[1];
	assert_int_equal(a->nfmts, 9);
	/* 18 has only an fmtp: encoding from the static table */
	const struct cv_sdp_fmt *g729 = cv_sdp_fmt_by_pt(a, 18);
	assert_false(g729->has_rtpmap);
	assert_pl(g729->encoding, "G729");
	assert_int_equal(g729->clock_rate, 8000);
	assert_pl(g729->fmtp, "annexb=yes");
	assert_true(a->has_rtcp);
	assert_int_equal(a->rtcp_port, 7079);
	assert_false(a->rtcp_conn.present);
	assert_int_equal(a->ncandidates, 3);
	assert_int_equal(a->candidates[2].component, 1);
	assert_pl(a->candidates[2].type, "srflx");
	assert_true(a->candidates[2].has_raddr);
	assert_pl(a->candidates[2].raddr, "198.51.100.5");
	assert_int_equal(a->candidates[2].rport, 7078);
	assert_int_equal(a->candidates[2].port, 47354);
	assert_int_equal(a->nrtcp_fbs, 2);
	assert_pl(a->rtcp_fbs[1].type, "ccm");
	assert_pl(a->rtcp_fbs[1].param, "tmmbr");
	assert_pl(v->media, "video");
	assert_int_equal(v->nrtcp_fbs, 6);
	assert_pl(v->rtcp_fbs[2].pt, "96");
	assert_pl(v->rtcp_fbs[2].param, "pli");
	assert_int_equal(v->ncandidates, 0);
	cv_mem_unref(sdp);
}

static void test_chrome(void **state)
{
	(void)state;
	struct cv_sdp *sdp = parse_ok(sdp_chrome);
	assert_int_equal(sdp->ngroups, 1);
	assert_pl(sdp->groups[0].semantics, "BUNDLE");
	assert_pl(sdp->groups[0].mids, "0 1");
	assert_false(sdp->c.conn.present);
	const struct cv_sdp_media *a = &sdp->media[0], *v = &sdp->media[1];
	assert_pl(a->proto, "UDP/TLS/RTP/SAVPF");
	assert_pl(a->mid, "0");
	assert_pl(a->c.ice_ufrag, "Oyef");
	assert_pl(a->c.ice_pwd, "7ouQJJvrjpqIU/TK0Y6cY+ID");
	assert_pl(a->c.ice_options, "trickle");
	assert_int_equal(a->c.nfingerprints, 1);
	assert_pl(a->c.fingerprints[0].hash_func, "sha-256");
	assert_int_equal(a->c.fingerprints[0].value.l, 95);
	assert_int_equal(a->c.setup, CV_SDP_SETUP_ACTPASS);
	assert_true(a->rtcp_mux);
	assert_true(a->has_rtcp);
	assert_int_equal(a->rtcp_port, 9);
	assert_true(cv_sdp_conn_is_null(&a->rtcp_conn));
	assert_int_equal(a->ncandidates, 4);
	assert_pl(a->candidates[0].foundation, "2999745851");
	assert_pl(a->candidates[0].transport, "udp");
	assert_int_equal(a->candidates[0].priority, 2122260223u);
	assert_int_equal(a->candidates[0].addr.af, AF_INET);
	assert_pl(a->candidates[0].extensions, "generation 0 network-id 1");
	assert_pl(a->candidates[2].extensions,
		  "tcptype active generation 0 network-id 1");
	assert_int_equal(a->candidates[3].addr.af, AF_INET6);
	assert_int_equal(a->nextmaps, 4);
	assert_int_equal(a->extmaps[2].id, 3);
	assert_pl(a->extmaps[2].uri,
		  "http://www.ietf.org/id/"
		  "draft-holmer-rmcat-transport-wide-cc-extensions-01");
	assert_int_equal(a->nssrcs, 2);
	assert_pl(a->ssrcs[1].attr, "msid");
	assert_pl(a->ssrcs[1].value, "lgsCFqt9kN2fVKw5wg3NKqGdATQoltEwOdMS "
				     "2ef5a1fc-0a2e-4b4c-8d7b-5a1dd1c2d3a4");
	assert_int_equal(a->nrtcp_fbs, 1);
	const struct cv_sdp_fmt *red = cv_sdp_fmt_by_pt(a, 63);
	assert_pl(red->encoding, "red");
	assert_pl(red->fmtp, "111/111");
	assert_pl(v->mid, "1");
	assert_int_equal(v->nextmaps, 3);
	assert_pl(v->extmaps[2].direction, "sendonly");
	assert_int_equal(v->extmaps[2].id, 5);
	assert_int_equal(v->nrtcp_fbs, 5);
	assert_int_equal(v->nssrcs, 2);
	assert_non_null(cv_sdp_attr_find(&v->c, "ssrc-group"));
	/* the audio c= is media-level; video's is 0.0.0.0 (bundled) */
	assert_true(cv_sdp_conn_is_null(cv_sdp_media_conn(sdp, v)));
	assert_pl(cv_sdp_media_conn(sdp, a)->addr, "203.0.113.141");
	cv_mem_unref(sdp);
}

static void test_asterisk_hold(void **state)
{
	(void)state;
	struct cv_sdp *sdp = parse_ok(sdp_asterisk_hold);
	assert_true(sdp->c.has_dir);
	assert_false(sdp->media[0].c.has_dir);
	/* session-level direction applies to the stream (RFC 3264 §5.1) */
	assert_int_equal(cv_sdp_media_dir(sdp, &sdp->media[0]),
			 CV_SDP_SENDONLY);
	cv_mem_unref(sdp);

	sdp = parse_ok(sdp_asterisk);
	assert_int_equal(sdp->media[0].maxptime, 150);
	assert_int_equal(sdp->media[0].ptime, 20);
	cv_mem_unref(sdp);
}

static void test_rtpengine(void **state)
{
	(void)state;
	struct cv_sdp *sdp = parse_ok(sdp_rtpengine);
	assert_int_equal(sdp->c.nbw, 1);
	assert_false(sdp->c.conn.present);
	const struct cv_sdp_media *m = &sdp->media[0];
	assert_int_equal(m->c.nbw, 2);
	assert_pl(m->c.bw[1].type, "TIAS");
	assert_int_equal(m->c.bw[1].value, 64000);
	assert_pl(cv_sdp_media_conn(sdp, m)->addr, "198.51.100.20");
	assert_int_equal(m->rtcp_port, 30001);
	const struct cv_sdp_attr *a = cv_sdp_attr_find(&m->c, "nortpproxy");
	assert_non_null(a);
	assert_true(a->has_value);
	assert_pl(a->value, "yes");
	/* unknown lines are kept in order */
	assert_int_equal(m->c.nlines, 12);
	assert_int_equal(m->c.lines[11].type, 'a');
	assert_pl(m->c.lines[11].value, "nortpproxy:yes");
	cv_mem_unref(sdp);
}

static void test_oldhold_ipv6(void **state)
{
	(void)state;
	struct cv_sdp *sdp = parse_ok(sdp_oldhold);
	assert_true(cv_sdp_conn_is_null(&sdp->c.conn));
	assert_pl(sdp->name, "SIP Call");
	const struct cv_sdp_fmt *f = cv_sdp_fmt_by_pt(&sdp->media[0], 0);
	assert_pl(f->encoding, "PCMU");
	assert_false(f->has_rtpmap);
	cv_mem_unref(sdp);

	sdp = parse_ok(sdp_ipv6);
	assert_int_equal(sdp->origin.af, AF_INET6);
	assert_int_equal(sdp->c.conn.af, AF_INET6);
	assert_int_equal(sdp->c.conn.ip[0], 0x20);
	assert_int_equal(sdp->c.conn.ip[15], 0x09);
	assert_true(sdp->t_start == 2873397496ull);
	assert_true(sdp->t_stop == 2873404696ull);
	const struct cv_sdp_conn *c = &sdp->media[1].c.conn;
	assert_int_equal(c->af, AF_INET);
	assert_int_equal(c->ttl, 127);
	assert_int_equal(c->naddr, 3);
	assert_pl(c->addr, "233.252.0.1");
	assert_int_equal(cv_sdp_media_dir(sdp, &sdp->media[1]),
			 CV_SDP_RECVONLY);
	assert_int_equal(sdp->media[0].fmts[1].clock_rate, 8000);
	cv_mem_unref(sdp);
}

/* LF-only input parses; the printer writes CRLF */
static void test_lf_and_fqdn(void **state)
{
	(void)state;
	const char *s =
		"v=0\no=- 1 2 IN IP4 host.example.com\ns=x\n"
		"c=IN IP4 media.example.com\nt=0 0\nm=audio 4000 RTP/AVP 0\n";
	struct cv_sdp *sdp = parse_ok(s);
	assert_int_equal(sdp->c.conn.af, AF_UNSPEC);
	assert_pl(sdp->c.conn.addr, "media.example.com");
	struct cv_buf b;
	cv_buf_init(&b, 0);
	assert_int_equal(cv_sdp_print(sdp, &b), 0);
	assert_string_equal(b.data,
			    "v=0\r\no=- 1 2 IN IP4 host.example.com\r\ns=x\r\n"
			    "c=IN IP4 media.example.com\r\nt=0 0\r\n"
			    "m=audio 4000 RTP/AVP 0\r\n");
	cv_buf_free(&b);
	cv_mem_unref(sdp);
}

static void test_malformed(void **state)
{
	(void)state;
	static const char *bad[] = {
		"", "\r\n",
		"o=- 1 1 IN IP4 1.2.3.4\r\nv=0\r\n", /* v= not first */
		"v=0\r\n",			     /* no o= */
		"v=x\r\no=- 1 1 IN IP4 1.2.3.4\r\n", /* bad version */
		"v=0\r\no=- 1 x IN IP4 1.2.3.4\r\n", /* bad sess-version */
		"v=0\r\no=- 1 1 IN IP4\r\n",	     /* short o= */
		"v=0\r\no=- 1 1 IN IP4 1.2.3.4 extra\r\n",
		"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\no=- 1 1 IN IP4 1.2.3.4\r\n",
		"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nc=IN IP4\r\n", /* short c= */
		"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nc=IN IP4 1.2.3.4/x\r\n",
		"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nc=IN IP6 ::1/2/3\r\n",
		"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nt=0\r\n",
		/* no fmt */
		"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nm=audio 1 RTP/AVP\r\n",
		"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nm=audio 70000 RTP/AVP 0\r\n",
		"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nm=audio x RTP/AVP 0\r\n",
		"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nm=audio 1/0 RTP/AVP 0\r\n",
		"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nv=0\r\n",
		/* o= after m= */
		"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nm=audio 1 RTP/AVP 0\r\no=- 1 1 IN IP4 1.2.3.4\r\n",
		/* upper-case type */
		"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nX=0\r\n",
		"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\na\r\n", /* no '=' */
		"v = 0\r\no=- 1 1 IN IP4 1.2.3.4\r\n",
		"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=a\rb\r\n", /* bare CR */
	};
	for (size_t i = 0; i < CV_ARRAY_SIZE(bad); i++) {
		struct cv_sdp *sdp = (struct cv_sdp *)(uintptr_t)1;
		int err = cv_sdp_parse(&sdp, bad[i], strlen(bad[i]), NULL);
		if (err == 0)
			fprintf(stderr, "accepted bad input %zu\n", i);
		assert_int_equal(err, CV_EPARSE);
		assert_null(sdp);
	}
	/* a NUL byte inside */
	static const char nul[] = "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=a\0b\r\n";
	struct cv_sdp *sdp;
	assert_int_equal(cv_sdp_parse(&sdp, nul, sizeof(nul) - 1, NULL),
			 CV_EPARSE);
	assert_int_equal(cv_sdp_parse(NULL, nul, 3, NULL), -EINVAL);
}

/* malformed known attributes keep their verbatim line but no typed view */
static void test_lenient_attrs(void **state)
{
	(void)state;
	const char *s = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n"
			"m=audio 4000 RTP/SAVP 0 96 97\r\n"
			"a=rtpmap:96\r\n"
			"a=rtpmap:97 foo/0\r\n"
			"a=rtpmap:98 bar/8000\r\n"
			"a=crypto:x AES_CM_128_HMAC_SHA1_80 inline:abc\r\n"
			"a=crypto:1 AES_CM_128_HMAC_SHA1_80 nokey\r\n"
			"a=crypto:2 AES_CM_128_HMAC_SHA1_80\r\n"
			"a=candidate:1 1 UDP 1 1.2.3.4 99999 typ host\r\n"
			"a=candidate:1 1 UDP 1 1.2.3.4 9\r\n"
			"a=extmap:0 urn:x\r\n"
			"a=ssrc:abc cname:x\r\n"
			"a=rtcp:99999\r\n"
			"a=ptime:abc\r\n"
			"a=fingerprint:sha-1\r\n"
			"a=setup:sideways\r\n";
	struct cv_sdp *sdp = parse_ok(s);
	const struct cv_sdp_media *m = &sdp->media[0];
	assert_false(m->fmts[1].has_rtpmap);
	assert_false(m->fmts[2].has_rtpmap);
	assert_int_equal(m->ncrypto, 0);
	assert_int_equal(m->ncandidates, 0);
	assert_int_equal(m->nextmaps, 0);
	assert_int_equal(m->nssrcs, 0);
	assert_false(m->has_rtcp);
	assert_int_equal(m->ptime, 0);
	assert_int_equal(m->c.nfingerprints, 0);
	assert_int_equal(m->c.setup, CV_SDP_SETUP_NONE);
	assert_int_equal(m->c.nattrs, 14);
	cv_mem_unref(sdp);
}

static void test_limits(void **state)
{
	(void)state;
	struct cv_sdp *sdp;
	struct cv_buf b;
	cv_buf_init(&b, 0);
	cv_buf_append_str(&b,
			  "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\n");
	for (int i = 0; i < 40; i++)
		cv_buf_printf(&b, "m=audio %d RTP/AVP 0\r\n", 1000 + i);
	struct cv_sdp_limits lim = {.max_media = 4};
	assert_int_equal(cv_sdp_parse(&sdp, b.data, b.len, &lim), CV_ETOOBIG);
	/* default max_media is 32 */
	assert_int_equal(cv_sdp_parse(&sdp, b.data, b.len, NULL), CV_ETOOBIG);
	lim = (struct cv_sdp_limits){.max_media = 64};
	assert_int_equal(cv_sdp_parse(&sdp, b.data, b.len, &lim), 0);
	assert_int_equal(sdp->nmedia, 40);
	sdp = cv_mem_unref(sdp);
	lim = (struct cv_sdp_limits){.max_media = 64, .max_len = 100};
	assert_int_equal(cv_sdp_parse(&sdp, b.data, b.len, &lim), CV_ETOOBIG);
	lim = (struct cv_sdp_limits){.max_media = 64, .max_lines = 10};
	assert_int_equal(cv_sdp_parse(&sdp, b.data, b.len, &lim), CV_ETOOBIG);

	cv_buf_reset(&b);
	cv_buf_append_str(&b,
			  "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nm=audio 1 RTP/AVP");
	for (int i = 0; i < 20; i++)
		cv_buf_printf(&b, " %d", i);
	cv_buf_append_str(&b, "\r\na=x\r\na=y\r\na=z\r\n");
	lim = (struct cv_sdp_limits){.max_fmts = 10};
	assert_int_equal(cv_sdp_parse(&sdp, b.data, b.len, &lim), CV_ETOOBIG);
	lim = (struct cv_sdp_limits){.max_attrs = 2};
	assert_int_equal(cv_sdp_parse(&sdp, b.data, b.len, &lim), CV_ETOOBIG);
	lim = (struct cv_sdp_limits){.max_line_len = 30};
	assert_int_equal(cv_sdp_parse(&sdp, b.data, b.len, &lim), CV_ETOOBIG);
	assert_int_equal(cv_sdp_parse(&sdp, b.data, b.len, NULL), 0);
	assert_int_equal(sdp->media[0].nfmts, 20);
	cv_mem_unref(sdp);
	cv_buf_free(&b);

	struct cv_sdp_limits d;
	cv_sdp_limits_default(&d);
	assert_int_equal(d.max_media, 32);
	assert_true(d.max_len >= 16384);
}

static void test_static_table(void **state)
{
	(void)state;
	const char *name;
	uint32_t rate, ch;
	assert_true(cv_sdp_static_pt(9, &name, &rate, &ch));
	assert_string_equal(name, "G722");
	assert_int_equal(rate, 8000);
	assert_true(cv_sdp_static_pt(10, &name, &rate, &ch));
	assert_int_equal(ch, 2);
	assert_false(cv_sdp_static_pt(96, &name, &rate, &ch));
	assert_false(cv_sdp_static_pt(2, &name, &rate, &ch));
	assert_string_equal(cv_sdp_dir_name(CV_SDP_RECVONLY), "recvonly");
	assert_string_equal(cv_sdp_strerror(CV_SDP_ENOTACCEPTABLE),
			    "no acceptable media in the offer");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_roundtrip_all, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_baresip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crypto, setup, teardown),
		cmocka_unit_test_setup_teardown(test_linphone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chrome, setup, teardown),
		cmocka_unit_test_setup_teardown(test_asterisk_hold, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_rtpengine, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_oldhold_ipv6, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_lf_and_fqdn, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_lenient_attrs, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_static_table, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
