/* RFC 3264 offer/answer: offers from capabilities, answers to real-world
 * offers (codec intersection, dynamic payload types, telephone-event, hold
 * and resume, rejected streams, rtcp-mux, SDES crypto, 488 warnings), and
 * processing of answers. Expected SDP is compared as whole text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>

#include "cvoip/sdp.h"
#include "sdp/samples.h"

static int64_t live0;

/* Negotiated media is one block released when the variable goes out of
 * scope (before teardown() counts live objects). */
#define SCOPED_NEG(x)                                                          \
	struct cv_sdp_neg x __attribute__((cleanup(cv_sdp_neg_reset))) = {0}

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
	assert_int_equal(cv_sdp_parse(&sdp, s, strlen(s), NULL), 0);
	return sdp;
}

static void assert_text(const struct cv_sdp *sdp, const char *want)
{
	struct cv_buf b;
	cv_buf_init(&b, 0);
	assert_int_equal(cv_sdp_print(sdp, &b), 0);
	if (strcmp(b.data, want)) {
		fprintf(stderr, "--- got\n%s--- want\n%s", b.data, want);
		fail();
	}
	cv_buf_free(&b);
}

static const struct cv_sdp_codec g711[] = {
	{.name = "PCMU", .clock_rate = 8000, .pt = -1},
	{.name = "PCMA", .clock_rate = 8000, .pt = -1},
};

static const struct cv_sdp_codec opus_g711[] = {
	{.name = "opus",
	 .clock_rate = 48000,
	 .channels = 2,
	 .fmtp = "useinbandfec=1",
	 .pt = -1},
	{.name = "G722", .clock_rate = 8000, .pt = -1},
	{.name = "PCMU", .clock_rate = 8000, .pt = -1},
	{.name = "PCMA", .clock_rate = 8000, .pt = -1},
};

static struct cv_sdp_stream_caps audio_caps(const struct cv_sdp_codec *c,
					    size_t n)
{
	return (struct cv_sdp_stream_caps){
		.port = 20000,
		.codecs = c,
		.ncodecs = n,
		.telephone_event = true,
		.dtmf_pt = -1,
		.ptime = 20,
		.dir = CV_SDP_SENDRECV,
	};
}

static struct cv_sdp_local local_for(const struct cv_sdp_stream_caps *s,
				     size_t n)
{
	return (struct cv_sdp_local){
		.sess_id = 42,
		.sess_version = 1,
		.addr = "192.0.2.1",
		.streams = s,
		.nstreams = n,
	};
}

/* answer an offer text; returns the answer and fills neg */
static struct cv_sdp *answer_ok(const char *offer_text,
				const struct cv_sdp_local *l,
				struct cv_sdp_neg *neg)
{
	struct cv_sdp *offer = parse_ok(offer_text), *ans = NULL;
	struct cv_sdp_warning w;
	int err = cv_sdp_answer_create(&ans, neg, &w, offer, l);
	if (err)
		fprintf(stderr, "answer: %s (%u %s)\n", cv_sdp_strerror(err),
			w.code, w.text ? w.text : "");
	assert_int_equal(err, 0);
	cv_mem_unref(offer);
	return ans;
}

static void test_offer_basic(void **state)
{
	(void)state;
	struct cv_sdp_stream_caps s =
		audio_caps(opus_g711, CV_ARRAY_SIZE(opus_g711));
	struct cv_sdp_local l = local_for(&s, 1);
	struct cv_sdp *o = NULL;
	assert_int_equal(cv_sdp_offer_create(&o, &l), 0);
	/* static numbers from RFC 3551, dynamic from 96, te 101 at 48000 and a
	 * second te at 8000 (RFC 4733 §7.1.1) */
	assert_text(o, "v=0\r\n"
		       "o=- 42 1 IN IP4 192.0.2.1\r\n"
		       "s=-\r\n"
		       "c=IN IP4 192.0.2.1\r\n"
		       "t=0 0\r\n"
		       "m=audio 20000 RTP/AVP 96 9 0 8 101 97\r\n"
		       "a=rtpmap:96 opus/48000/2\r\n"
		       "a=fmtp:96 useinbandfec=1\r\n"
		       "a=rtpmap:9 G722/8000\r\n"
		       "a=rtpmap:0 PCMU/8000\r\n"
		       "a=rtpmap:8 PCMA/8000\r\n"
		       "a=rtpmap:101 telephone-event/48000\r\n"
		       "a=fmtp:101 0-16\r\n"
		       "a=rtpmap:97 telephone-event/8000\r\n"
		       "a=fmtp:97 0-16\r\n"
		       "a=ptime:20\r\n"
		       "a=sendrecv\r\n");
	cv_mem_unref(o);
}

static void test_offer_srtp_mux_hold(void **state)
{
	(void)state;
	static const struct cv_sdp_crypto_local cr[] = {
		{.tag = 1,
		 .suite = "AES_CM_128_HMAC_SHA1_80",
		 .key_params =
			 "inline:d0RmdmcmVCspeEc3QGZiNWpVLFJhQX1cfHAwJSoj"},
		{.tag = 2,
		 .suite = "AEAD_AES_128_GCM",
		 .key_params = "inline:aGVsbG8gd29ybGQgaGVsbG8gd29ybA==",
		 .session_params = "UNENCRYPTED_SRTCP"},
	};
	static const struct cv_sdp_codec c[] = {
		{.name = "PCMA", .clock_rate = 8000, .pt = 8},
		{.name = "L16", .clock_rate = 16000, .pt = 96},
		{.name = "X",
		 .clock_rate = 8000,
		 .pt = 96}, /* conflict: moved */
	};
	struct cv_sdp_stream_caps s = audio_caps(c, 3);
	s.telephone_event = false;
	s.ptime = 0;
	s.maxptime = 40;
	s.crypto = cr;
	s.ncrypto = 2;
	s.rtcp_mux = true;
	s.dir = CV_SDP_SENDONLY;
	const char *extra[] = {"ice-ufrag:abcd", "label:1"};
	s.extra_attrs = extra;
	s.nextra_attrs = 2;
	struct cv_sdp_local l = local_for(&s, 1);
	l.hold_null_addr = true;
	l.name = "cvoip";
	l.user = "alice";
	const char *sa[] = {"tool:cvoip"};
	l.session_attrs = sa;
	l.nsession_attrs = 1;
	struct cv_sdp *o = NULL;
	assert_int_equal(cv_sdp_offer_create(&o, &l), 0);
	assert_text(o, "v=0\r\n"
		       "o=alice 42 1 IN IP4 192.0.2.1\r\n"
		       "s=cvoip\r\n"
		       "c=IN IP4 0.0.0.0\r\n"
		       "t=0 0\r\n"
		       "a=tool:cvoip\r\n"
		       "m=audio 20000 RTP/SAVP 8 96 97\r\n"
		       "a=rtpmap:8 PCMA/8000\r\n"
		       "a=rtpmap:96 L16/16000\r\n"
		       "a=rtpmap:97 X/8000\r\n"
		       "a=crypto:1 AES_CM_128_HMAC_SHA1_80 "
		       "inline:d0RmdmcmVCspeEc3QGZiNWpVLFJhQX1cfHAwJSoj\r\n"
		       "a=crypto:2 AEAD_AES_128_GCM "
		       "inline:aGVsbG8gd29ybGQgaGVsbG8gd29ybA== "
		       "UNENCRYPTED_SRTCP\r\n"
		       "a=maxptime:40\r\n"
		       "a=sendonly\r\n"
		       "a=rtcp-mux\r\n"
		       "a=ice-ufrag:abcd\r\n"
		       "a=label:1\r\n");
	assert_int_equal(o->media[0].ncrypto, 2);
	cv_mem_unref(o);

	/* IPv6 */
	l.addr = "2001:db8::1";
	s.avpf = true;
	s.ncrypto = 0;
	assert_int_equal(cv_sdp_offer_create(&o, &l), 0);
	assert_int_equal(o->c.conn.af, AF_INET6);
	assert_true(cv_pl_eq_str(o->media[0].proto, "RTP/AVPF"));
	cv_mem_unref(o);
}

static void test_offer_bad_params(void **state)
{
	(void)state;
	struct cv_sdp *o = (struct cv_sdp *)(uintptr_t)1;
	struct cv_sdp_codec bad = {.name = "PCMU",
				   .clock_rate = 8000,
				   .fmtp = "a\r\nm=x",
				   .pt = -1};
	struct cv_sdp_stream_caps s = audio_caps(&bad, 1);
	struct cv_sdp_local l = local_for(&s, 1);
	assert_int_equal(cv_sdp_offer_create(&o, &l), -EINVAL);
	assert_null(o);
	bad.fmtp = NULL;
	bad.name = "PC MU";
	assert_int_equal(cv_sdp_offer_create(&o, &l), -EINVAL);
	bad.name = "PCMU";
	l.addr = "not-an-ip";
	assert_int_equal(cv_sdp_offer_create(&o, &l), -EINVAL);
	l.addr = NULL;
	assert_int_equal(cv_sdp_offer_create(&o, &l), -EINVAL);
	assert_int_equal(cv_sdp_offer_create(&o, NULL), -EINVAL);
	/* 33 dynamic codecs cannot fit in 96-127 */
	struct cv_sdp_codec many[40];
	char names[40][8];
	for (int i = 0; i < 40; i++) {
		snprintf(names[i], sizeof(names[i]), "c%d", i);
		many[i] = (struct cv_sdp_codec){
			.name = names[i], .clock_rate = 8000, .pt = -1};
	}
	s = audio_caps(many, 40);
	l = local_for(&s, 1);
	assert_int_equal(cv_sdp_offer_create(&o, &l), CV_ETOOBIG);
}

static void test_answer_baresip(void **state)
{
	(void)state;
	struct cv_sdp_stream_caps s = audio_caps(g711, 2);
	struct cv_sdp_local l = local_for(&s, 1);
	SCOPED_NEG(neg);
	struct cv_sdp *a = answer_ok(sdp_baresip, &l, &neg);
	/* offer order kept, te events intersected (0-15 ∩ 0-16) */
	assert_text(a, "v=0\r\n"
		       "o=- 42 1 IN IP4 192.0.2.1\r\n"
		       "s=-\r\n"
		       "c=IN IP4 192.0.2.1\r\n"
		       "t=0 0\r\n"
		       "m=audio 20000 RTP/AVP 0 8 101\r\n"
		       "a=rtpmap:0 PCMU/8000\r\n"
		       "a=rtpmap:8 PCMA/8000\r\n"
		       "a=rtpmap:101 telephone-event/8000\r\n"
		       "a=fmtp:101 0-15\r\n"
		       "a=ptime:20\r\n"
		       "a=sendrecv\r\n");
	cv_mem_unref(a);
	assert_int_equal(neg.nmedia, 1);
	const struct cv_sdp_neg_media *nm = &neg.media[0];
	assert_false(nm->rejected);
	assert_int_equal(nm->dir, CV_SDP_SENDRECV);
	assert_false(nm->remote_hold);
	assert_int_equal(nm->ncodecs, 2);
	assert_string_equal(nm->codecs[0].name, "PCMU");
	assert_int_equal(nm->codecs[0].pt_send, 0);
	assert_int_equal(nm->codecs[0].pt_recv, 0);
	assert_int_equal(nm->dtmf_pt_send, 101);
	assert_int_equal(nm->dtmf_rate, 8000);
	assert_string_equal(nm->dtmf_events, "0-15");
	assert_string_equal(nm->remote_addr, "192.0.2.10");
	assert_int_equal(nm->remote_port, 10374);
	assert_int_equal(nm->remote_rtcp_port, 10375);
	assert_int_equal(nm->ptime, 20);
	const struct sockaddr_in *sin =
		(const struct sockaddr_in *)(const void *)&nm->remote_rtp;
	assert_int_equal(sin->sin_family, AF_INET);
	assert_int_equal(ntohs(sin->sin_port), 10374);
	assert_int_equal(ntohl(sin->sin_addr.s_addr), 0xc000020a);
	sin = (const struct sockaddr_in *)(const void *)&nm->remote_rtcp;
	assert_int_equal(ntohs(sin->sin_port), 10375);
	assert_false(nm->srtp);
	assert_false(nm->rtcp_mux);
	assert_int_equal(nm->cn_pt_send, -1);

	/* local preference and a single codec */
	s.prefer_local = true;
	s.max_codecs = 1;
	static const struct cv_sdp_codec pref[] = {
		{.name = "PCMA", .clock_rate = 8000, .pt = -1},
		{.name = "opus", .clock_rate = 48000, .channels = 2, .pt = -1},
	};
	s.codecs = pref;
	a = answer_ok(sdp_baresip, &l, &neg);
	assert_int_equal(a->media[0].nfmts, 2);
	assert_int_equal(a->media[0].fmts[0].pt, 8);
	assert_int_equal(a->media[0].fmts[1].pt, 101);
	cv_mem_unref(a);
}

/* The negotiated media is one block sized for what exists: every string
 * present (never NULL), a neg reused without reset leaks nothing, and
 * reset is idempotent. */
static void test_neg_block(void **state)
{
	(void)state;
	struct cv_sdp_stream_caps s = audio_caps(g711, 2);
	struct cv_sdp_local l = local_for(&s, 1);
	struct cv_sdp_neg neg = {0};
	int64_t live = cv_mem_live();
	for (int i = 0; i < 3; i++) {
		struct cv_sdp *a = answer_ok(sdp_baresip, &l, &neg);
		cv_mem_unref(a);
		/* the offer and the answer are gone: only the neg's block */
		assert_int_equal(cv_mem_live(), live + 1);
	}
	assert_non_null(neg.mem);
	const struct cv_sdp_neg_media *nm = &neg.media[0];
	assert_string_equal(nm->codecs[1].name, "PCMA");
	assert_string_equal(nm->codecs[0].fmtp, "");
	assert_string_equal(nm->mid, "");
	assert_string_equal(nm->crypto_suite, "");
	assert_string_equal(nm->crypto_remote_key, "");
	assert_string_equal(nm->crypto_local_key, "");
	assert_string_equal(nm->remote_ice_ufrag, "");
	assert_string_equal(nm->remote_ice_pwd, "");
	assert_string_equal(nm->remote_fingerprint, "");
	assert_string_equal(nm->remote_addr, "192.0.2.10");
	/* codecs of each m= line are contiguous in the block, after media[] */
	assert_ptr_equal((const void *)nm->codecs,
			 (const void *)(neg.media + neg.nmedia));
	cv_sdp_neg_reset(&neg);
	assert_null(neg.media);
	assert_int_equal(neg.nmedia, 0);
	assert_int_equal(cv_mem_live(), live);
	cv_sdp_neg_reset(&neg);
	cv_sdp_neg_reset(NULL);
}

/* RFC 3264 §6.1: dynamic payload types keep the offerer's numbers; the
 * telephone-event follows the codec's clock rate */
static void test_answer_dynamic_pt_and_te_rate(void **state)
{
	(void)state;
	const char *offer =
		"v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 "
		"192.0.2.9\r\n"
		"t=0 0\r\nm=audio 5000 RTP/AVP 111 0 110 126\r\n"
		"a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10\r\n"
		"a=rtpmap:110 telephone-event/48000\r\n"
		"a=rtpmap:126 telephone-event/8000\r\na=fmtp:126 0-15,66\r\n";
	static const struct cv_sdp_codec c[] = {
		{.name = "OPUS",
		 .clock_rate = 48000,
		 .channels = 2,
		 .fmtp = "useinbandfec=1",
		 .pt = 96},
		{.name = "PCMU", .clock_rate = 8000, .pt = -1},
	};
	struct cv_sdp_stream_caps s = audio_caps(c, 2);
	s.dtmf_events = "0-15";
	struct cv_sdp_local l = local_for(&s, 1);
	SCOPED_NEG(neg);
	struct cv_sdp *a = answer_ok(offer, &l, &neg);
	assert_text(a, "v=0\r\no=- 42 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 "
		       "192.0.2.1\r\n"
		       "t=0 0\r\n"
		       "m=audio 20000 RTP/AVP 111 0 110\r\n"
		       "a=rtpmap:111 opus/48000/2\r\n"
		       "a=fmtp:111 useinbandfec=1\r\n"
		       "a=rtpmap:0 PCMU/8000\r\n"
		       "a=rtpmap:110 telephone-event/48000\r\n"
		       "a=fmtp:110 0-15\r\n"
		       "a=ptime:20\r\n"
		       "a=sendrecv\r\n");
	cv_mem_unref(a);
	assert_int_equal(neg.media[0].codecs[0].pt_send, 111);
	assert_string_equal(neg.media[0].codecs[0].fmtp, "minptime=10");
	assert_int_equal(neg.media[0].dtmf_pt_send, 110);
	assert_int_equal(neg.media[0].dtmf_rate, 48000);

	/* with only PCMU in common, te/8000 (126) and the events both know */
	s.codecs = &c[1];
	s.ncodecs = 1;
	a = answer_ok(offer, &l, &neg);
	assert_int_equal(a->media[0].nfmts, 2);
	assert_int_equal(a->media[0].fmts[1].pt, 126);
	assert_true(cv_pl_eq_str(a->media[0].fmts[1].fmtp, "0-15"));
	cv_mem_unref(a);

	/* events with nothing in common: no telephone-event at all */
	s.dtmf_events = "16";
	a = answer_ok(offer, &l, &neg);
	assert_int_equal(a->media[0].nfmts, 1);
	assert_int_equal(neg.media[0].dtmf_pt_send, -1);
	cv_mem_unref(a);
	s.dtmf_events = "66,70";
	a = answer_ok(offer, &l, &neg);
	assert_int_equal(neg.media[0].dtmf_pt_send, 126);
	assert_string_equal(neg.media[0].dtmf_events, "66");
	cv_mem_unref(a);
}

/* RFC 4733 §2.4.1 event lists: ranges across 64-bit words, malformed lists */
static void test_te_events(void **state)
{
	(void)state;
	static const struct {
		const char *offer, *local, *want;
	} cases[] = {
		{"60-70,200", "0-255", "60-70,200"},
		{"0-255", "63-64,127-129,255", "63-64,127-129,255"},
		{"0-15", "5", "5"},
		{" 1 - 3 , 7", "0-10", "1-3,7"},
		{"3-1", "0-15", NULL}, /* malformed: no te */
		{"0-256", "0-15", NULL},
		{"a-b", "0-15", NULL},
		{"16", "0-15", NULL}, /* nothing in common */
	};
	for (size_t i = 0; i < CV_ARRAY_SIZE(cases); i++) {
		char offer[512];
		snprintf(offer, sizeof(offer),
			 "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 "
			 "192.0.2.9\r\n"
			 "t=0 0\r\nm=audio 5000 RTP/AVP 0 101\r\n"
			 "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 "
			 "%s\r\n",
			 cases[i].offer);
		struct cv_sdp_stream_caps s = audio_caps(g711, 2);
		s.dtmf_events = cases[i].local;
		struct cv_sdp_local l = local_for(&s, 1);
		SCOPED_NEG(neg);
		struct cv_sdp *a = answer_ok(offer, &l, &neg);
		if (cases[i].want) {
			assert_int_equal(neg.media[0].dtmf_pt_send, 101);
			assert_string_equal(neg.media[0].dtmf_events,
					    cases[i].want);
		} else {
			assert_int_equal(neg.media[0].dtmf_pt_send, -1);
			assert_int_equal(a->media[0].nfmts, 1);
		}
		cv_mem_unref(a);
	}
}

static enum cv_sdp_dir answer_dir_for(const char *offer, enum cv_sdp_dir local,
				      struct cv_sdp_neg *neg)
{
	struct cv_sdp_stream_caps s = audio_caps(g711, 2);
	s.dir = local;
	struct cv_sdp_local l = local_for(&s, 1);
	struct cv_sdp *a = answer_ok(offer, &l, neg);
	enum cv_sdp_dir d = cv_sdp_media_dir(a, &a->media[0]);
	assert_int_equal(d, neg->media[0].dir);
	cv_mem_unref(a);
	return d;
}

/* RFC 3264 §6.1 and §8.4: hold and resume */
static void test_answer_hold(void **state)
{
	(void)state;
	SCOPED_NEG(neg);
	char buf[512];
#define tmpl                                                                   \
	"v=0\r\no=- 1 %d IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 %s\r\n"           \
	"t=0 0\r\nm=audio 5000 RTP/AVP 0\r\n%s"
	snprintf(buf, sizeof(buf), tmpl, 2, "192.0.2.9", "a=sendonly\r\n");
	assert_int_equal(answer_dir_for(buf, CV_SDP_SENDRECV, &neg),
			 CV_SDP_RECVONLY);
	assert_true(neg.media[0].remote_hold);
	snprintf(buf, sizeof(buf), tmpl, 3, "192.0.2.9", "a=inactive\r\n");
	assert_int_equal(answer_dir_for(buf, CV_SDP_SENDRECV, &neg),
			 CV_SDP_INACTIVE);
	assert_true(neg.media[0].remote_hold);
	snprintf(buf, sizeof(buf), tmpl, 4, "192.0.2.9", "a=recvonly\r\n");
	assert_int_equal(answer_dir_for(buf, CV_SDP_SENDRECV, &neg),
			 CV_SDP_SENDONLY);
	assert_false(neg.media[0].remote_hold);
	/* we hold while they offer sendrecv */
	snprintf(buf, sizeof(buf), tmpl, 5, "192.0.2.9", "");
	assert_int_equal(answer_dir_for(buf, CV_SDP_SENDONLY, &neg),
			 CV_SDP_SENDONLY);
	assert_int_equal(answer_dir_for(buf, CV_SDP_INACTIVE, &neg),
			 CV_SDP_INACTIVE);
	/* both hold: sendonly offer, local sendonly → inactive */
	snprintf(buf, sizeof(buf), tmpl, 6, "192.0.2.9", "a=sendonly\r\n");
	assert_int_equal(answer_dir_for(buf, CV_SDP_SENDONLY, &neg),
			 CV_SDP_INACTIVE);
	/* resume */
	snprintf(buf, sizeof(buf), tmpl, 7, "192.0.2.9", "a=sendrecv\r\n");
	assert_int_equal(answer_dir_for(buf, CV_SDP_SENDRECV, &neg),
			 CV_SDP_SENDRECV);
	assert_false(neg.media[0].remote_hold);
	/* RFC 2543 hold: c=0.0.0.0 */
	assert_int_equal(answer_dir_for(sdp_oldhold, CV_SDP_SENDRECV, &neg),
			 CV_SDP_RECVONLY);
	assert_true(neg.media[0].remote_hold);
	assert_true(neg.media[0].remote_null_addr);
	assert_string_equal(neg.media[0].remote_addr, "0.0.0.0");
	/* Asterisk's session-level sendonly */
	assert_int_equal(
		answer_dir_for(sdp_asterisk_hold, CV_SDP_SENDRECV, &neg),
		CV_SDP_RECVONLY);
}

/* RFC 3264 §6: port 0 for streams we do not take, same count and order */
static void test_answer_rejected_streams(void **state)
{
	(void)state;
	struct cv_sdp_stream_caps s =
		audio_caps(opus_g711, CV_ARRAY_SIZE(opus_g711));
	struct cv_sdp_local l = local_for(&s, 1);
	SCOPED_NEG(neg);
	struct cv_sdp *a = answer_ok(sdp_linphone, &l, &neg);
	assert_int_equal(a->nmedia, 2);
	assert_int_equal(a->media[0].port, 20000);
	/* opus first; linphone's te at 48000 goes with it */
	assert_int_equal(a->media[0].fmts[0].pt, 96);
	assert_int_equal(neg.media[0].dtmf_pt_send, 101);
	assert_int_equal(neg.media[0].dtmf_rate, 48000);
	assert_string_equal(neg.media[0].dtmf_events, "0-15");
	assert_int_equal(neg.media[0].remote_rtcp_port, 7079);
	assert_string_equal(neg.media[0].remote_ice_ufrag, "0e6b4bf9");
	assert_int_equal(a->media[1].port, 0);
	assert_true(cv_pl_eq_str(a->media[1].media, "video"));
	assert_true(cv_pl_eq_str(a->media[1].c.lines[0].value,
				 "video 0 RTP/AVP 96"));
	assert_true(neg.media[1].rejected);
	assert_int_equal(neg.nmedia, 2);
	cv_mem_unref(a);

	/* a stream the offerer disabled stays disabled */
	const char *off =
		"v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 "
		"192.0.2.9\r\n"
		"t=0 0\r\nm=audio 0 RTP/AVP 0\r\nm=audio 5002 RTP/AVP 8\r\n";
	static const struct cv_sdp_stream_caps two[] = {
		{.port = 20000,
		 .codecs = g711,
		 .ncodecs = 2,
		 .dir = CV_SDP_SENDRECV},
		{.port = 20002,
		 .codecs = g711,
		 .ncodecs = 2,
		 .dir = CV_SDP_SENDRECV},
	};
	l = local_for(two, 2);
	a = answer_ok(off, &l, &neg);
	assert_int_equal(a->media[0].port, 0);
	assert_int_equal(a->media[1].port, 20000);
	assert_true(neg.media[0].rejected);
	assert_false(neg.media[1].rejected);
	assert_string_equal(neg.media[1].codecs[0].name, "PCMA");
	cv_mem_unref(a);

	/* all streams disabled by the offerer: a valid all-zero answer */
	off = "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nt=0 0\r\nm=audio 0 "
	      "RTP/AVP 0\r\n";
	a = answer_ok(off, &l, &neg);
	assert_int_equal(a->media[0].port, 0);
	cv_mem_unref(a);
}

static void expect_488(const char *offer_text, const struct cv_sdp_local *l,
		       uint16_t code)
{
	struct cv_sdp *offer = parse_ok(offer_text),
		      *ans = (struct cv_sdp *)(uintptr_t)1;
	SCOPED_NEG(neg);
	struct cv_sdp_warning w;
	assert_int_equal(cv_sdp_answer_create(&ans, &neg, &w, offer, l),
			 CV_SDP_ENOTACCEPTABLE);
	assert_null(ans);
	assert_int_equal(w.code, code);
	assert_non_null(w.text);
	cv_mem_unref(offer);
}

static void test_answer_488(void **state)
{
	(void)state;
	static const struct cv_sdp_codec g729 = {
		.name = "G729", .clock_rate = 8000, .pt = -1};
	struct cv_sdp_stream_caps s = audio_caps(&g729, 1);
	struct cv_sdp_local l = local_for(&s, 1);
	expect_488(sdp_asterisk, &l, 305);
	/* DTLS-SRTP is not negotiated by this layer (docs/sdp.md) */
	s = audio_caps(opus_g711, 4);
	expect_488(sdp_chrome, &l, 302);
	/* SAVP without a local suite, AVP when SRTP is required */
	expect_488(sdp_baresip_srtp, &l, 302);
	s.srtp_required = true;
	expect_488(sdp_asterisk, &l, 302);
	/* video only offered to an audio-only side */
	s.srtp_required = false;
	expect_488("v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 "
		   "192.0.2.9\r\nt=0 0\r\n"
		   "m=video 5000 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n",
		   &l, 304);
	/* a stream caps with port 0 refuses its media */
	s.port = 0;
	expect_488(sdp_asterisk, &l, 304);
	s.port = 20000;
	assert_string_equal(cv_sdp_strerror(CV_SDP_ENOTACCEPTABLE),
			    "no acceptable media in the offer");
}

static void test_answer_fmtp_rules(void **state)
{
	(void)state;
	/* RFC 4749: the offer's annexb=no is binding */
	static const struct cv_sdp_codec g729 = {
		.name = "G729", .clock_rate = 8000, .pt = -1};
	struct cv_sdp_stream_caps s = audio_caps(&g729, 1);
	s.telephone_event = false;
	struct cv_sdp_local l = local_for(&s, 1);
	SCOPED_NEG(neg);
	struct cv_sdp *a = answer_ok(sdp_oldhold, &l, &neg);
	assert_true(cv_pl_eq_str(a->media[0].fmts[0].fmtp, "annexb=no"));
	assert_int_equal(a->media[0].nfmts, 1);
	cv_mem_unref(a);

	/* H.264 packetization-mode must agree (RFC 6184 §8.2.2) */
	static const struct cv_sdp_codec h264[] = {
		{.name = "H264",
		 .clock_rate = 90000,
		 .fmtp = "packetization-mode=1",
		 .pt = -1},
	};
	const char *vo =
		"v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 "
		"192.0.2.9\r\n"
		"t=0 0\r\nm=video 5000 RTP/AVP 97 98\r\n"
		"a=rtpmap:97 H264/90000\r\na=fmtp:97 "
		"profile-level-id=42e01f\r\n"
		"a=rtpmap:98 H264/90000\r\n"
		"a=fmtp:98 profile-level-id=42e01f;packetization-mode=1\r\n";
	struct cv_sdp_stream_caps v = {.media = "video",
				       .port = 30000,
				       .codecs = h264,
				       .ncodecs = 1,
				       .dir = CV_SDP_SENDRECV};
	l = local_for(&v, 1);
	a = answer_ok(vo, &l, &neg);
	assert_int_equal(a->media[0].nfmts, 1);
	assert_int_equal(a->media[0].fmts[0].pt, 98);
	assert_string_equal(neg.media[0].media, "video");
	cv_mem_unref(a);

	/* CN only when configured, at the chosen codec's rate */
	static const struct cv_sdp_codec cn[] = {
		{.name = "PCMU", .clock_rate = 8000, .pt = -1},
		{.name = "CN", .clock_rate = 8000, .pt = -1},
	};
	s = audio_caps(cn, 2);
	l = local_for(&s, 1);
	s.telephone_event = false;
	const char *co = "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 "
			 "192.0.2.9\r\n"
			 "t=0 0\r\nm=audio 5000 RTP/AVP 0 13\r\n";
	a = answer_ok(co, &l, &neg);
	assert_int_equal(a->media[0].nfmts, 2);
	assert_int_equal(neg.media[0].cn_pt_send, 13);
	assert_int_equal(neg.media[0].ncodecs, 1);
	cv_mem_unref(a);
}

static void test_answer_mux_crypto(void **state)
{
	(void)state;
	struct cv_sdp_stream_caps s = audio_caps(g711, 2);
	s.rtcp_mux = true;
	struct cv_sdp_local l = local_for(&s, 1);
	SCOPED_NEG(neg);
	const char *mo = "v=0\r\no=- 1 1 IN IP6 2001:db8::7\r\ns=-\r\nc=IN IP6 "
			 "2001:db8::7\r\n"
			 "t=0 0\r\nm=audio 5000 RTP/AVP "
			 "8\r\na=rtcp-mux\r\na=rtcp:5001\r\n"
			 "a=mid:a1\r\n";
	struct cv_sdp *a = answer_ok(mo, &l, &neg);
	assert_true(a->media[0].rtcp_mux);
	assert_true(cv_pl_eq_str(a->media[0].mid, "a1"));
	assert_true(neg.media[0].rtcp_mux);
	assert_int_equal(neg.media[0].remote_rtcp_port, 5000);
	assert_int_equal(neg.media[0].remote_rtp.ss_family, AF_INET6);
	assert_string_equal(neg.media[0].mid, "a1");
	cv_mem_unref(a);
	s.rtcp_mux = false;
	a = answer_ok(mo, &l, &neg);
	assert_false(a->media[0].rtcp_mux);
	assert_false(neg.media[0].rtcp_mux);
	assert_int_equal(neg.media[0].remote_rtcp_port, 5001);
	cv_mem_unref(a);
	/* our own a=rtcp (RFC 3605) */
	s.rtcp_port = 20011;
	a = answer_ok(mo, &l, &neg);
	assert_true(a->media[0].has_rtcp);
	assert_int_equal(a->media[0].rtcp_port, 20011);
	cv_mem_unref(a);
	s.rtcp_port = 0;
	/* session-level ptime from a sloppy peer */
	a = answer_ok("v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 "
		      "192.0.2.9\r\n"
		      "t=0 0\r\na=ptime:30\r\na=maxptime:60.0\r\nm=audio 5000 "
		      "RTP/AVP 8\r\n",
		      &l, &neg);
	assert_int_equal(neg.media[0].ptime, 30);
	assert_int_equal(neg.media[0].maxptime, 60);
	assert_int_equal(a->media[0].ptime, 20); /* ours */
	cv_mem_unref(a);

	/* RFC 4568: first offered suite we know, the offerer's tag */
	static const struct cv_sdp_crypto_local cr[] = {
		{.tag = 9,
		 .suite = "AES_CM_128_HMAC_SHA1_32",
		 .key_params =
			 "inline:bG9jYWxrZXlsb2NhbGtleWxvY2Fsa2V5bG9jYWxr"},
		{.tag = 9,
		 .suite = "AEAD_AES_256_GCM",
		 .key_params = "inline:"
			       "Z2NtZ2NtZ2NtZ2NtZ2NtZ2NtZ2NtZ2NtZ2NtZ2NtZ2NtZ2N"
			       "tZ2Nt"},
	};
	s.crypto = cr;
	s.ncrypto = 2;
	a = answer_ok(sdp_baresip_srtp, &l, &neg);
	assert_true(cv_pl_eq_str(a->media[0].proto, "RTP/SAVP"));
	assert_int_equal(a->media[0].ncrypto, 1);
	assert_int_equal(a->media[0].crypto[0].tag, 2);
	assert_true(cv_pl_eq_str(a->media[0].crypto[0].suite,
				 "AES_CM_128_HMAC_SHA1_32"));
	assert_true(cv_pl_eq_str(
		a->media[0].crypto[0].key_params,
		"inline:bG9jYWxrZXlsb2NhbGtleWxvY2Fsa2V5bG9jYWxr"));
	assert_true(neg.media[0].srtp);
	assert_int_equal(neg.media[0].crypto_tag, 2);
	assert_string_equal(neg.media[0].crypto_suite,
			    "AES_CM_128_HMAC_SHA1_32");
	assert_string_equal(
		neg.media[0].crypto_remote_key,
		"inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj|2^20");
	assert_string_equal(neg.media[0].crypto_local_key,
			    "inline:bG9jYWxrZXlsb2NhbGtleWxvY2Fsa2V5bG9jYWxr");
	cv_mem_unref(a);
	/* best-effort: crypto configured, plain RTP/AVP offered */
	a = answer_ok(sdp_asterisk, &l, &neg);
	assert_false(neg.media[0].srtp);
	assert_int_equal(a->media[0].ncrypto, 0);
	cv_mem_unref(a);
}

/* the offerer's view: our offer, their answer */
static void test_process_answer(void **state)
{
	(void)state;
	static const struct cv_sdp_crypto_local cr[] = {
		{.tag = 1,
		 .suite = "AES_CM_128_HMAC_SHA1_80",
		 .key_params =
			 "inline:b2ZmZXJrZXlvZmZlcmtleW9mZmVya2V5b2ZmZXJr"},
	};
	struct cv_sdp_stream_caps s = audio_caps(opus_g711, 4);
	s.rtcp_mux = true;
	s.crypto = cr;
	s.ncrypto = 1;
	s.dir = CV_SDP_SENDONLY; /* we hold */
	struct cv_sdp_local l = local_for(&s, 1);
	struct cv_sdp *offer = NULL;
	assert_int_equal(cv_sdp_offer_create(&offer, &l), 0);
	/* the answerer renumbered opus 96 -> 100 and te 97 -> 99 */
	struct cv_sdp *ans = parse_ok(
		"v=0\r\no=- 7 7 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 "
		"198.51.100.7\r\nt=0 0\r\n"
		"m=audio 6000 RTP/SAVP 100 0 99 13\r\n"
		"a=rtpmap:100 opus/48000/2\r\na=fmtp:100 "
		"maxplaybackrate=16000\r\n"
		"a=rtpmap:99 telephone-event/48000\r\na=fmtp:99 0-15\r\n"
		"a=rtpmap:13 CN/8000\r\n"
		"a=crypto:1 AES_CM_128_HMAC_SHA1_80 "
		"inline:YW5zd2Vya2V5YW5zd2Vya2V5YW5zd2Vya2V5YW5z\r\n"
		"a=recvonly\r\na=rtcp-mux\r\na=ptime:40\r\n");
	SCOPED_NEG(neg);
	assert_int_equal(cv_sdp_answer_process(&neg, offer, ans), 0);
	const struct cv_sdp_neg_media *nm = &neg.media[0];
	assert_false(nm->rejected);
	assert_int_equal(nm->dir, CV_SDP_SENDONLY);
	assert_false(nm->remote_hold);
	assert_int_equal(nm->ncodecs, 2);
	assert_string_equal(nm->codecs[0].name, "opus");
	assert_int_equal(nm->codecs[0].pt_send, 100);
	assert_int_equal(nm->codecs[0].pt_recv, 96);
	assert_string_equal(nm->codecs[0].fmtp, "maxplaybackrate=16000");
	assert_int_equal(nm->codecs[1].pt_send, 0);
	assert_int_equal(nm->dtmf_pt_send, 99);
	assert_int_equal(nm->dtmf_pt_recv, 101);
	assert_int_equal(nm->dtmf_rate, 48000);
	assert_int_equal(nm->cn_pt_send, -1); /* CN was never offered */
	assert_true(nm->rtcp_mux);
	assert_int_equal(nm->remote_rtcp_port, 6000);
	assert_int_equal(nm->ptime, 40);
	assert_true(nm->srtp);
	assert_string_equal(nm->crypto_remote_key,
			    "inline:YW5zd2Vya2V5YW5zd2Vya2V5YW5zd2Vya2V5YW5z");
	assert_string_equal(nm->crypto_local_key,
			    "inline:b2ZmZXJrZXlvZmZlcmtleW9mZmVya2V5b2ZmZXJr");
	cv_mem_unref(ans);

	/* wrong tag: the stream is unusable */
	ans = parse_ok(
		"v=0\r\no=- 7 8 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 "
		"198.51.100.7\r\n"
		"t=0 0\r\nm=audio 6000 RTP/SAVP 0\r\n"
		"a=crypto:5 AES_CM_128_HMAC_SHA1_80 inline:YW5zd2Vya2V5\r\n");
	assert_int_equal(cv_sdp_answer_process(&neg, offer, ans),
			 CV_SDP_ENOTACCEPTABLE);
	assert_true(neg.media[0].rejected);
	cv_mem_unref(ans);
	/* port 0 */
	ans = parse_ok("v=0\r\no=- 7 9 IN IP4 198.51.100.7\r\ns=-\r\nt=0 0\r\n"
		       "m=audio 0 RTP/SAVP 0\r\n");
	assert_int_equal(cv_sdp_answer_process(&neg, offer, ans),
			 CV_SDP_ENOTACCEPTABLE);
	cv_mem_unref(ans);
	/* m= count or type differs */
	ans = parse_ok("v=0\r\no=- 7 9 IN IP4 198.51.100.7\r\ns=-\r\nt=0 0\r\n"
		       "m=audio 5 RTP/SAVP 0\r\nm=audio 7 RTP/SAVP 0\r\n");
	assert_int_equal(cv_sdp_answer_process(&neg, offer, ans), CV_EPROTO);
	cv_mem_unref(ans);
	ans = parse_ok("v=0\r\no=- 7 9 IN IP4 198.51.100.7\r\ns=-\r\nt=0 0\r\n"
		       "m=video 5 RTP/SAVP 0\r\n");
	assert_int_equal(cv_sdp_answer_process(&neg, offer, ans), CV_EPROTO);
	cv_mem_unref(ans);
	cv_mem_unref(offer);
}

/* A offers, B answers, A processes: both views agree */
static void test_full_exchange(void **state)
{
	(void)state;
	struct cv_sdp_stream_caps sa = audio_caps(opus_g711, 4);
	sa.rtcp_mux = true;
	struct cv_sdp_local la = local_for(&sa, 1);
	static const struct cv_sdp_codec bc[] = {
		{.name = "PCMA", .clock_rate = 8000, .pt = -1},
		{.name = "G722", .clock_rate = 8000, .pt = -1},
	};
	struct cv_sdp_stream_caps sb = audio_caps(bc, 2);
	sb.port = 40000;
	struct cv_sdp_local lb = local_for(&sb, 1);
	lb.addr = "198.51.100.2";

	struct cv_sdp *offer = NULL, *ans = NULL;
	SCOPED_NEG(nb);
	SCOPED_NEG(na);
	struct cv_sdp_warning w;
	assert_int_equal(cv_sdp_offer_create(&offer, &la), 0);
	assert_int_equal(cv_sdp_answer_create(&ans, &nb, &w, offer, &lb), 0);
	assert_int_equal(cv_sdp_answer_process(&na, offer, ans), 0);
	/* A sends G722 (offer order) to B's port; B sends to A's */
	assert_string_equal(na.media[0].codecs[0].name, "G722");
	assert_string_equal(nb.media[0].codecs[0].name, "G722");
	assert_int_equal(na.media[0].codecs[0].pt_send,
			 nb.media[0].codecs[0].pt_recv);
	assert_int_equal(nb.media[0].codecs[0].pt_send,
			 na.media[0].codecs[0].pt_recv);
	assert_int_equal(na.media[0].remote_port, 40000);
	assert_int_equal(nb.media[0].remote_port, 20000);
	assert_string_equal(na.media[0].remote_addr, "198.51.100.2");
	assert_false(na.media[0].rtcp_mux); /* B did not accept mux */
	assert_int_equal(na.media[0].remote_rtcp_port, 40001);
	assert_int_equal(na.media[0].dtmf_pt_send, nb.media[0].dtmf_pt_recv);
	assert_int_equal(na.media[0].dtmf_rate, 8000);
	assert_int_equal(na.media[0].dir, CV_SDP_SENDRECV);
	cv_mem_unref(ans);
	cv_mem_unref(offer);
}

/* a relay puts its own transport into a forwarded SDP */
static void test_rewrite(void **state)
{
	(void)state;
	struct cv_sdp *in = parse_ok(sdp_chrome), *out = NULL;
	const uint16_t ports[] = {30000, 30002};
	const char *drop[] = {"ssrc", "msid"};
	struct cv_sdp_rewrite rw = {
		.addr = "2001:db8::20",
		.set_version = true,
		.sess_version = 3,
		.ports = ports,
		.nports = 2,
		.strip_ice = true,
		.strip_rtcp = true,
		.drop_attrs = drop,
		.ndrop_attrs = 2,
	};
	assert_int_equal(cv_sdp_rewrite(&out, in, &rw), 0);
	assert_true(cv_pl_eq_str(out->origin.addr, "2001:db8::20"));
	assert_int_equal(out->origin.af, AF_INET6);
	assert_true(out->sess_version == 3);
	assert_true(cv_pl_eq_str(out->sess_id, "4611731400430051336"));
	assert_int_equal(out->nmedia, 2);
	for (uint32_t i = 0; i < 2; i++) {
		const struct cv_sdp_media *m = &out->media[i];
		assert_int_equal(m->port, ports[i]);
		/* the video's c=0.0.0.0 is kept */
		assert_int_equal(m->c.conn.af, i == 0 ? AF_INET6 : AF_INET);
		assert_int_equal(m->ncandidates, 0);
		assert_int_equal(m->c.ice_ufrag.l, 0);
		assert_false(m->has_rtcp);
		assert_int_equal(m->nssrcs, 0);
		assert_null(cv_sdp_attr_find(&m->c, "msid"));
		/* the rest is kept */
		assert_int_equal(m->nfmts, in->media[i].nfmts);
		assert_int_equal(m->c.nfingerprints, 1);
		assert_true(m->rtcp_mux);
	}
	assert_int_equal(out->ngroups, 1);
	assert_true(cv_pl_eq_str(out->media[1].c.lines[0].value,
				 "video 30002 UDP/TLS/RTP/SAVPF 96 97 102"));
	cv_mem_unref(out);

	/* nothing asked: the same text */
	struct cv_sdp_rewrite none = {0};
	assert_int_equal(cv_sdp_rewrite(&out, in, &none), 0);
	assert_true(cv_pl_eq(out->raw, in->raw));
	cv_mem_unref(out);
	cv_mem_unref(in);

	/* a rejected stream stays rejected; m=.../n keeps its count; a=rtcp
	 * gets the relay's port; the hold address stays */
	in = parse_ok(
		"v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 "
		"192.0.2.9\r\n"
		"t=0 0\r\nm=audio 0 RTP/AVP 0\r\nm=audio 5000/2 RTP/AVP 8\r\n"
		"a=rtcp:5009 IN IP4 192.0.2.9\r\nm=audio 6000 RTP/AVP 0\r\n"
		"c=IN IP4 0.0.0.0\r\na=rtcp:6001\r\n");
	const uint16_t p2[] = {40000, 40002, 40004},
		       r2[] = {41000, 41002, 41004};
	rw = (struct cv_sdp_rewrite){.addr = "198.51.100.1",
				     .ports = p2,
				     .nports = 3,
				     .rtcp_ports = r2};
	assert_int_equal(cv_sdp_rewrite(&out, in, &rw), 0);
	assert_text(
		out,
		"v=0\r\no=- 1 1 IN IP4 198.51.100.1\r\ns=-\r\nc=IN IP4 "
		"198.51.100.1\r\n"
		"t=0 0\r\nm=audio 0 RTP/AVP 0\r\nm=audio 40002/2 RTP/AVP 8\r\n"
		"a=rtcp:41002\r\nm=audio 40004 RTP/AVP 0\r\nc=IN IP4 "
		"0.0.0.0\r\n"
		"a=rtcp:41004\r\n");
	cv_mem_unref(out);
	/* bad params */
	rw.nports = 2;
	assert_int_equal(cv_sdp_rewrite(&out, in, &rw), -EINVAL);
	rw.nports = 3;
	rw.addr = "relay.example.com";
	assert_int_equal(cv_sdp_rewrite(&out, in, &rw), -EINVAL);
	assert_null(out);
	cv_mem_unref(in);
}

/* Worst cases within the default limits stay cheap: 32 m= sections of
 * 128 formats each, every one a telephone-event with a long event list,
 * plus as many crypto lines as fit. */
static void test_hostile_bounded(void **state)
{
	(void)state;
	struct cv_buf b;
	cv_buf_init(&b, 0);
	cv_buf_append_str(&b, "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN "
			      "IP4 192.0.2.9\r\nt=0 0\r\n");
	for (int m = 0; m < 32; m++) {
		cv_buf_printf(&b, "m=audio %d RTP/SAVP", 1000 + m);
		for (int f = 0; f < 128; f++)
			cv_buf_printf(&b, " %d", f);
		cv_buf_append_str(&b, "\r\n");
		for (int f = 96;
		     f < 128 && b.len < (size_t)(60000 * (m + 1) / 32); f++)
			cv_buf_printf(
				&b,
				"a=rtpmap:%d telephone-event/8000\r\n"
				"a=fmtp:%d "
				"0-1,2-3,4-5,6-7,8-9,10-11,12-13,14-255\r\n",
				f, f);
		for (int c = 0; c < 4; c++)
			cv_buf_printf(&b,
				      "a=crypto:%d AES_CM_128_HMAC_SHA1_80 "
				      "inline:QUJD\r\n",
				      c);
	}
	struct cv_sdp *offer = NULL, *ans = NULL, *rew = NULL;
	uint64_t t0 = cv_clock_us();
	assert_int_equal(cv_sdp_parse(&offer, b.data, b.len, NULL), 0);
	assert_int_equal(offer->nmedia, 32);
	static const struct cv_sdp_crypto_local cr = {
		.tag = 1,
		.suite = "AES_CM_128_HMAC_SHA1_80",
		.key_params = "inline:WFla"};
	struct cv_sdp_stream_caps caps[32];
	for (int i = 0; i < 32; i++) {
		caps[i] = audio_caps(g711, 2);
		caps[i].port = (uint16_t)(20000 + 2 * i);
		caps[i].crypto = &cr;
		caps[i].ncrypto = 1;
	}
	struct cv_sdp_local l = local_for(caps, 32);
	SCOPED_NEG(neg);
	struct cv_sdp_warning w;
	assert_int_equal(cv_sdp_answer_create(&ans, &neg, &w, offer, &l), 0);
	assert_int_equal(ans->nmedia, 32);
	assert_int_equal(neg.nmedia, CV_SDP_NEG_MAX_MEDIA);
	assert_int_equal(cv_sdp_answer_process(&neg, offer, ans), 0);
	struct cv_sdp_rewrite rw = {.addr = "2001:db8::1", .strip_ice = true};
	assert_int_equal(cv_sdp_rewrite(&rew, offer, &rw), 0);
	uint64_t dt = cv_clock_us() - t0;
	/* generous for sanitizer builds on a loaded 2-core machine */
	assert_true(dt < 2000000);
	cv_mem_unref(rew);
	cv_mem_unref(ans);
	cv_mem_unref(offer);
	cv_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_offer_basic, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_offer_srtp_mux_hold, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_offer_bad_params, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_answer_baresip, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_answer_dynamic_pt_and_te_rate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_te_events, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_answer_hold, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_answer_rejected_streams,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_answer_488, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_answer_fmtp_rules, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_answer_mux_crypto, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_process_answer, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_full_exchange, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_neg_block, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_rewrite, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_bounded, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
