/* Media anchoring: every RTP m-line of a bridged call goes through a
 * stream of the worker's relay (cv_rtp_relay). An SDP coming from one leg
 * gives that leg's remote address (cv_rtp_relay_stream_set_remote), and is
 * rewritten so that the other leg sends to the relay: c= becomes the
 * relay's address, the m= port and a=rtcp the relay's ports for that
 * other leg. Offers and answers are treated alike (RFC 3264 keeps the
 * m-line order), so re-INVITE and UPDATE need nothing special. ICE
 * attributes are dropped: the relay is the only candidate. SDES keys are
 * terminated per leg (each leg gets cvoipd's own a=crypto), offers carry
 * the codecs we transcode, and an answer with no codec in common with
 * its offer turns the stream's transform (transcode.c) on; see
 * docs/server.md "Media anchoring". */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cvoip/sdp.h"

#include "server_int.h"

#define MOD "media"

/* SDES (RFC 4568) terminated in the relay, per m-line and leg. A leg's
 * own a=crypto gives `rx` (what it sends); `tx` is the key cvoipd made for
 * it (cv_srtp_key_generate) and put in the SDP sent to it. The two legs'
 * keys are independent, so SDES <-> SDES, SDES <-> plain and plain <->
 * plain all work; what a leg gets is what it asked for itself, or, before
 * it has said anything (the offer to the callee), a mirror of the other
 * leg's choice (SRTP or not, RTP/SAVP or RTP/AVP). */
struct sec_leg {
	struct cv_srtp_key rx, tx;
	struct cv_srtp_key ap_rx, ap_tx; /* what the relay has now */
	uint32_t tag;			 /* a=crypto tag to use toward it */
	bool has_rx, has_tx, ap_has_rx, ap_has_tx;
	bool known;  /* the leg sent an SDP for this m-line */
	bool secure; /* ... with a usable a=crypto */
	bool savp;   /* ... with an RTP/SAVP(F) profile */
};

struct media_sec {
	struct sec_leg l[CALL_MAX_STREAMS][2];
	bool passthru[CALL_MAX_STREAMS]; /* crypto we cannot take: untouched */
};

/* What to write for one m-line toward the other leg. */
struct sec_plan {
	bool term;	/* drop the sender's a=crypto lines */
	int proto;	/* +1: AVP -> SAVP, -1: SAVP -> AVP, 0: as it is */
	char line[160]; /* our a=crypto line toward it ("" none) */
	/* codecs: the m= format list replaced (" 0 8 96"), the sender's
	 * rtpmap/fmtp/rtcp-fb lines of formats not in keep[] dropped, and
	 * extra lines added at the end of the section */
	bool fmts_set, filter;
	char fmts[200];
	uint8_t keep[16];
	char extra[400];
};

static void sec_dtor(void *arg)
{
	struct media_sec *s = arg;
	explicit_bzero(s, sizeof(*s)); /* keys */
}

static bool pl_has(struct cv_pl v, const char *needle)
{
	size_t n = strlen(needle);
	for (size_t i = 0; i + n <= v.l; i++)
		if (!memcmp(v.p + i, needle, n))
			return true;
	return false;
}

static void sec_apply(struct cv_rtp_relay_stream *st, struct sec_leg *l,
		      int leg)
{
	if (l->ap_has_rx == l->has_rx && l->ap_has_tx == l->has_tx &&
	    (!l->has_rx || !memcmp(&l->ap_rx, &l->rx, sizeof(l->rx))) &&
	    (!l->has_tx || !memcmp(&l->ap_tx, &l->tx, sizeof(l->tx))))
		return; /* unchanged: keep the contexts (ROC, replay window) */
	int err = cv_rtp_relay_stream_set_srtp(st, (enum cv_rtp_relay_leg)leg,
					       l->has_rx ? &l->rx : NULL,
					       l->has_tx ? &l->tx : NULL);
	if (err) {
		CV_LOG_RL(CV_LOG_WARN, MOD, "SRTP keys for leg %c refused: %s",
			  leg ? 'B' : 'A', cv_strerror(err));
		return;
	}
	l->ap_has_rx = l->has_rx;
	l->ap_has_tx = l->has_tx;
	l->ap_rx = l->rx;
	l->ap_tx = l->tx;
}

/* Learns leg `from`'s SRTP choice on m-line i and decides what the other
 * leg gets. */
static int sec_learn(struct srv_worker *sw, struct call_media *m, unsigned i,
		     int from, const struct cv_sdp_media *md,
		     struct sec_plan *pl)
{
	int to = !from;
	memset(pl, 0, sizeof(*pl));
	uint8_t seen = m->seen[i];
	m->seen[i] |= (uint8_t)(1u << from);
	/* a route's `srtp: required` makes B's offer SRTP whatever A does */
	bool force = to == 1 && m->b_srtp != CV_SRV_SRTP_OPTIONAL;
	if (!m->sec && !md->ncrypto && !m->flip &&
	    !(force && m->b_srtp == CV_SRV_SRTP_REQUIRED))
		return 0; /* plain on both legs so far */
	if (!m->sec) {
		m->sec = cv_mem_zalloc(sizeof(*m->sec), sec_dtor);
		if (!m->sec)
			return -ENOMEM;
		/* legs that spoke before were plain */
		for (unsigned k = 0; k < CALL_MAX_STREAMS; k++)
			for (int g = 0; g < 2; g++)
				m->sec->l[k][g].known =
					(k == i ? seen : m->seen[k]) >> g & 1;
	}
	struct media_sec *sec = m->sec;
	if (sec->passthru[i])
		return 0;
	struct sec_leg *f = &sec->l[i][from], *t = &sec->l[i][to];
	bool found = false;
	/* DTLS-SRTP (UDP/TLS/...) is end to end: not ours to terminate */
	if (!pl_has(md->proto, "TLS")) {
		for (uint32_t k = 0; k < md->ncrypto && !found; k++) {
			const struct cv_sdp_crypto *c = &md->crypto[k];
			enum cv_srtp_suite suite;
			if (cv_srtp_suite_parse(c->suite, &suite) ||
			    cv_srtp_keyparams_parse(c->key_params, suite,
						    &f->rx))
				continue;
			f->tag = c->tag;
			found = true;
		}
	}
	if (md->ncrypto && !found) {
		/* nothing we can terminate (unknown suite, MKI, DTLS): leave
		 * the stream's crypto end to end as before */
		CV_LOG_RL(CV_LOG_INFO, MOD,
			  "m-line %u: a=crypto not terminated, passed through",
			  i);
		sec->passthru[i] = true;
		f->has_rx = f->has_tx = t->has_rx = t->has_tx = false;
		sec_apply(m->st[i], f, from);
		sec_apply(m->st[i], t, to);
		return 0;
	}
	f->known = true;
	f->secure = found;
	f->has_rx = found;
	f->savp = pl_has(md->proto, "SAVP");
	if (!f->secure)
		f->has_tx = false; /* it did not take (or offer) SRTP */
	/* the mirror, or its opposite after the callee refused it */
	bool sec_out = t->known ? t->secure : f->secure != m->flip;
	bool savp_out = t->known ? t->savp : f->savp != m->flip;
	if (force) /* the route's policy, not the mirror */
		sec_out = savp_out = m->b_srtp == CV_SRV_SRTP_REQUIRED;
	pl->term = true;
	pl->proto = savp_out == f->savp ? 0 : savp_out ? 1 : -1;
	if (sec_out) {
		enum cv_srtp_suite suite =
			t->has_rx   ? t->rx.suite
			: f->has_rx ? f->rx.suite
				    : CV_SRTP_AES_CM_128_HMAC_SHA1_80;
		if (!t->has_tx || t->tx.suite != suite) {
			int err = cv_srtp_key_generate(&t->tx, suite);
			if (err)
				return err;
			t->has_tx = true;
		}
		if (!t->known)
			t->tag = f->has_rx ? f->tag : 1;
		char kp[128];
		int err = cv_srtp_keyparams_print(&t->tx, kp, sizeof(kp));
		if (err)
			return err;
		snprintf(pl->line, sizeof(pl->line), "a=crypto:%u %s %s\r\n",
			 t->tag, cv_srtp_suite_name(suite), kp);
	} else if (t->known) {
		t->has_tx = false;
	}
	/* else: an offer to a leg that has not answered yet keeps the key
	 * it may have been given before: after the 488 retry of one fork
	 * (plain), another fork may still answer the first (SRTP) offer;
	 * the answer then decides (a plain one drops the key) */
	sec_apply(m->st[i], f, from);
	sec_apply(m->st[i], t, to);
	return 0;
}

/* Codecs cvoipd transcodes between, added to every offer that has at
 * least one of them (after the offerer's own, so an answerer honouring
 * the offer's order picks a common codec when there is one). */
static const struct {
	const char *name;
	uint32_t rate;
	uint8_t ch;
	int pt; /* static, or -1: dynamic */
	const char *fmtp;
} xc_offer[] = {
	{"PCMU", 8000, 1, 0, NULL},
	{"PCMA", 8000, 1, 8, NULL},
	{"G722", 8000, 1, 9, NULL},
	{"opus", 48000, 2, -1, "useinbandfec=1"},
};

static bool md_has(const struct cv_sdp_media *md, const char *name,
		   uint32_t rate, int pt)
{
	for (uint32_t k = 0; k < md->nfmts; k++) {
		const struct cv_sdp_fmt *f = &md->fmts[k];
		if ((int)f->pt == pt || (f->clock_rate == rate &&
					 cv_pl_caseeq_str(f->encoding, name)))
			return true;
	}
	return false;
}

/* Appends " pt" to the format list; false (list left as it was) when it
 * would not fit. */
static bool plan_fmt(struct sec_plan *pl, unsigned pt)
{
	size_t o = strlen(pl->fmts);
	int n = snprintf(pl->fmts + o, sizeof(pl->fmts) - o, " %u", pt);
	if (n < 0 || (size_t)n >= sizeof(pl->fmts) - o) {
		pl->fmts[o] = 0;
		return false;
	}
	return true;
}

/* Offer: the offerer's formats plus ours. Answer: only formats the
 * offerer offered, and when there is no common codec the offerer's own
 * first codec with the relay transcoding. */
static int codec_learn(struct srv_worker *sw, struct call_media *m, unsigned i,
		       int from, bool offer, const struct cv_sdp_media *md,
		       struct sec_plan *pl)
{
	int to = !from;
	(void)sw;
	if (!md->nfmts || !cv_pl_caseeq_str(md->media, "audio"))
		return 0;
	if (!m->xc[i]) {
		int err = xcode_create(&m->xc[i]);
		if (err)
			return err;
	}
	struct xcode *x = m->xc[i];
	xcode_set_fmts(x, from, md);
	if (offer) {
		bool any = false;
		for (uint32_t k = 0; k < md->nfmts && !any; k++)
			any = xcode_can(&md->fmts[k]);
		if (!any)
			return 0;
		struct cv_buf lines;
		cv_buf_init(&lines, sizeof(pl->extra) - 1);
		pl->fmts[0] = 0;
		bool fits = true;
		for (uint32_t k = 0; k < md->nfmts && fits; k++)
			fits = md->fmts[k].pt >= 0 && md->fmts[k].pt < 128 &&
			       plan_fmt(pl, (unsigned)md->fmts[k].pt);
		for (size_t c = 0; c < CV_ARRAY_SIZE(xc_offer) && fits; c++) {
			int pt = xc_offer[c].pt;
			if (md_has(md, xc_offer[c].name, xc_offer[c].rate, pt))
				continue;
			for (int d = 96; pt < 0 && d < 128; d++)
				if (!md_has(md, "", 0, d))
					pt = d;
			if (pt < 0)
				continue;
			if (!(fits = plan_fmt(pl, (unsigned)pt)))
				break;
			if (xc_offer[c].ch > 1)
				cv_buf_printf(&lines,
					      "a=rtpmap:%d %s/%u/%u\r\n", pt,
					      xc_offer[c].name,
					      xc_offer[c].rate, xc_offer[c].ch);
			else
				cv_buf_printf(&lines, "a=rtpmap:%d %s/%u\r\n",
					      pt, xc_offer[c].name,
					      xc_offer[c].rate);
			if (xc_offer[c].fmtp)
				cv_buf_printf(&lines, "a=fmtp:%d %s\r\n", pt,
					      xc_offer[c].fmtp);
		}
		if (fits && !lines.err && lines.len) {
			snprintf(pl->extra, sizeof(pl->extra), "%.*s",
				 (int)lines.len, lines.data);
			pl->fmts_set = true;
		}
		cv_buf_free(&lines);
		return 0;
	}
	bool extra = false;
	if (xcode_common(x, to, from, &extra)) {
		if (extra) {
			/* the answer also names codecs only we offered: the
			 * offerer is told the common ones; packets in the
			 * others are transcoded */
			pl->fmts[0] = 0;
			bool fits = true;
			for (uint32_t k = 0; k < md->nfmts && fits; k++) {
				int ipt = md->fmts[k].pt;
				unsigned pt = ipt >= 0 ? (unsigned)ipt : 255;
				if (pt < 128 &&
				    xcode_has_pt(x, to, (uint8_t)pt)) {
					fits = plan_fmt(pl, pt);
					pl->keep[pt / 8] |=
						(uint8_t)(1u << (pt % 8));
				}
			}
			pl->fmts_set = pl->filter = fits;
		}
		cv_rtp_relay_stream_set_xform(m->st[i],
					      extra ? xcode_xform : NULL, x);
		return 0;
	}
	struct cv_buf lines;
	cv_buf_init(&lines, sizeof(pl->extra) - 1);
	int err = xcode_answer(x, to, from, pl->fmts, sizeof(pl->fmts), &lines);
	if (!err && !lines.err) {
		snprintf(pl->extra, sizeof(pl->extra), "%.*s", (int)lines.len,
			 lines.data);
		pl->fmts_set = pl->filter = true;
		memset(pl->keep, 0, sizeof(pl->keep));
		cv_rtp_relay_stream_set_xform(m->st[i], xcode_xform, x);
		cv_log(CV_LOG_INFO, MOD,
		       "m-line %u: no common codec, transcoding (leg %c "
		       "gets%s)",
		       i, to ? 'B' : 'A', pl->fmts);
	} else {
		cv_rtp_relay_stream_set_xform(m->st[i], NULL, NULL);
		pl->fmts[0] = 0;
	}
	cv_buf_free(&lines);
	return 0;
}

void media_free(struct srv_worker *sw, struct call_media *m)
{
	cv_mem_unref(m->sec);
	m->sec = NULL;
	m->pend = m->last_ans = 0;
	m->flip = m->flipped = false;
	memset(m->seen, 0, sizeof(m->seen));
	for (unsigned i = 0; i < CALL_MAX_STREAMS; i++) {
		if (!m->st[i])
			continue;
		struct cv_rtp_relay_leg_stats a = {0}, b = {0};
		cv_rtp_relay_stream_stats(m->st[i], CV_RTP_RELAY_A, &a);
		cv_rtp_relay_stream_stats(m->st[i], CV_RTP_RELAY_B, &b);
		sw->srv->st_relay_forwarded +=
			a.tx_packets + b.tx_packets + a.rtcp_tx + b.rtcp_tx;
		sw->srv->st_relay_streams--;
		cv_rtp_relay_stream_destroy(m->st[i]);
		m->st[i] = NULL;
	}
	for (unsigned i = 0; i < CALL_MAX_STREAMS; i++) {
		if (m->xc[i]) {
			uint64_t t, d;
			xcode_counts(m->xc[i], &t, &d);
			if (t)
				cv_log(CV_LOG_INFO, MOD,
				       "m-line %u: %llu packets transcoded, "
				       "%llu dropped",
				       i, (unsigned long long)t,
				       (unsigned long long)d);
		}
		cv_mem_unref(m->xc[i]);
		m->xc[i] = NULL;
	}
	m->n = 0;
}

static bool anchorable(const struct cv_sdp_media *md)
{
	if (!md->port)
		return false; /* rejected or disabled stream */
	/* RTP/AVP, RTP/SAVP(F), UDP/TLS/RTP/SAVPF: forwarded as they are
	 * (SRTP and DTLS pass through undecrypted). */
	for (size_t i = 0; i + 3 <= md->proto.l; i++)
		if (!memcmp(md->proto.p + i, "RTP", 3))
			return true;
	return false;
}

static int conn_sockaddr(const struct cv_sdp_conn *c, uint16_t port,
			 struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (!c || !c->present || cv_sdp_conn_is_null(c))
		return CV_ENOTFOUND;
	if (c->af == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)(void *)ss;
		in->sin_family = AF_INET;
		memcpy(&in->sin_addr, c->ip, 4);
		in->sin_port = htons(port);
		return 0;
	}
	if (c->af == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)(void *)ss;
		in6->sin6_family = AF_INET6;
		memcpy(&in6->sin6_addr, c->ip, 16);
		in6->sin6_port = htons(port);
		return 0;
	}
	return CV_EUNSUPP; /* FQDN in c=: not resolved here */
}

static uint16_t sa_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)(const void *)ss)
				     ->sin_port);
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)(const void *)ss)
				     ->sin6_port);
	return 0;
}

static bool is_ice_attr(struct cv_pl v)
{
	static const char *const names[] = {
		"candidate",	     "end-of-candidates", "ice-ufrag",
		"ice-pwd",	     "ice-options",	  "ice-lite",
		"remote-candidates", "ice-mismatch"};
	for (size_t i = 0; i < CV_ARRAY_SIZE(names); i++) {
		size_t n = strlen(names[i]);
		if (v.l >= n && !memcmp(v.p, names[i], n) &&
		    (v.l == n || v.p[n] == ':'))
			return true;
	}
	return false;
}

static void codec_of(const struct cv_sdp_media *md, char *out, size_t size)
{
	if (!md->nfmts || !md->fmts[0].encoding.l) {
		snprintf(out, size, "%s", "");
		return;
	}
	const struct cv_sdp_fmt *f = &md->fmts[0];
	if (f->channels > 1)
		snprintf(out, size, "%.*s/%u/%u", CV_PL_ARG(f->encoding),
			 f->clock_rate, f->channels);
	else
		snprintf(out, size, "%.*s/%u", CV_PL_ARG(f->encoding),
			 f->clock_rate);
}

/* Set up streams and remotes for an SDP from leg `from`; fills the local
 * ports the other leg must use. */
static int media_learn(struct srv_worker *sw, struct call_media *m, int from,
		       const struct cv_sdp *sdp, bool *anch, uint16_t *rtp_port,
		       uint16_t *rtcp_port, struct sec_plan *plan, bool offer)
{
	int to = !from;
	for (uint32_t i = 0; i < sdp->nmedia; i++) {
		const struct cv_sdp_media *md = &sdp->media[i];
		anch[i] = false;
		if (i >= CALL_MAX_STREAMS || !anchorable(md))
			continue;
		if (!m->st[i]) {
			/* one stream per m-line index (RFC 3264 keeps the
			 * order; a new m-line, §8.1, gets a new one) */
			char codec[64];
			codec_of(md, codec, sizeof(codec));
			uint32_t rate = md->nfmts ? md->fmts[0].clock_rate : 0;
			struct cv_rtp_relay_stream_params sp = {
				.rtcp_mux = {md->rtcp_mux, md->rtcp_mux},
				.codec = codec[0] ? codec : NULL,
				.clock_rate = rate,
			};
			int err = cv_rtp_relay_stream_create(sw->relay,
							     &m->st[i], &sp);
			if (err)
				return err;
			m->n++;
			sw->srv->st_relay_streams++;
		}
		struct sockaddr_storage rtp, rtcp;
		const struct cv_sdp_conn *c = cv_sdp_media_conn(sdp, md);
		if (conn_sockaddr(c, md->port, &rtp) == 0) {
			bool have_rtcp =
				md->has_rtcp &&
				conn_sockaddr(md->rtcp_conn.present
						      ? &md->rtcp_conn
						      : c,
					      md->rtcp_port, &rtcp) == 0;
			cv_rtp_relay_stream_set_remote(
				m->st[i], (enum cv_rtp_relay_leg)from,
				(struct sockaddr *)&rtp,
				have_rtcp ? (struct sockaddr *)&rtcp : NULL);
		}
		/* else: hold (c=0.0.0.0) or a name; the relay latches the
		 * source when media comes */
		struct sockaddr_storage lrtp, lrtcp;
		int err = cv_rtp_relay_stream_local(
			m->st[i], (enum cv_rtp_relay_leg)to, &lrtp, &lrtcp);
		if (err)
			return err;
		rtp_port[i] = sa_port(&lrtp);
		rtcp_port[i] = sa_port(&lrtcp);
		err = sec_learn(sw, m, i, from, md, &plan[i]);
		if (!err)
			err = codec_learn(sw, m, i, from, offer, md, &plan[i]);
		if (err)
			return err;
		anch[i] = true;
		bool first = true;
		for (uint32_t k = 0; k < i; k++)
			first = first && !m->st[k];
		if (first && (from == 1 || !m->codec[0]))
			codec_of(md, m->codec,
				 sizeof(m->codec)); /* the answer's */
	}
	return 0;
}

/* Our a=crypto line at the end of m-section mi. */
static void sec_flush(struct cv_buf *out, const struct sec_plan *plan, int mi)
{
	if (mi < 0 || mi >= CALL_MAX_STREAMS ||
	    (!plan[mi].line[0] && !plan[mi].extra[0]))
		return;
	if (out->len && out->data[out->len - 1] != '\n')
		cv_buf_append_str(out, "\r\n");
	cv_buf_append_str(out, plan[mi].extra);
	cv_buf_append_str(out, plan[mi].line);
}

/* a=rtpmap/fmtp/rtcp-fb of a format not in keep[] */
static bool dropped_fmt(struct cv_pl val, const uint8_t *keep)
{
	static const char *const names[] = {"rtpmap:", "fmtp:", "rtcp-fb:"};
	for (size_t i = 0; i < CV_ARRAY_SIZE(names); i++) {
		size_t n = strlen(names[i]);
		if (val.l <= n || memcmp(val.p, names[i], n))
			continue;
		unsigned pt = 0;
		size_t k = n;
		for (; k < val.l && k < n + 3 && val.p[k] >= '0' &&
		       val.p[k] <= '9';
		     k++)
			pt = pt * 10 + (unsigned)(val.p[k] - '0');
		if (k == n || pt > 127)
			return false; /* "*" (rtcp-fb) or junk: kept */
		return !(keep[pt / 8] >> (pt % 8) & 1);
	}
	return false;
}

/* " PROTO fmt..." with the profile turned to SAVP (+1) or AVP (-1), and
 * the format list replaced by fmts (" 0 8") when given. */
static void m_proto(struct cv_buf *out, struct cv_pl rest, int change,
		    const char *fmts)
{
	struct cv_pl v = rest;
	if (fmts && v.l > 1) {
		const char *sp = memchr(v.p + 1, ' ', v.l - 1);
		size_t pl = sp ? (size_t)(sp - v.p) : v.l;
		char tmp[256];
		snprintf(tmp, sizeof(tmp), "%.*s%s", (int)pl, v.p, fmts);
		m_proto(out, cv_pl_str(tmp), change, NULL);
		return;
	}
	if (change && v.l > 1) {
		const char *sp = memchr(v.p + 1, ' ', v.l - 1);
		size_t pl = sp ? (size_t)(sp - v.p) : v.l;
		struct cv_pl proto = {v.p + 1, pl - 1};
		for (size_t i = 0; i + 3 <= proto.l; i++) {
			bool savp = i + 4 <= proto.l &&
				    !memcmp(proto.p + i, "SAVP", 4);
			bool avp = !memcmp(proto.p + i, "AVP", 3) &&
				   (i == 0 || proto.p[i - 1] != 'S');
			if ((change < 0 && savp) || (change > 0 && avp)) {
				cv_buf_printf(out, " %.*s%s%.*s", (int)i,
					      proto.p, change > 0 ? "S" : "",
					      (int)(v.l - 1 - i - (change < 0)),
					      proto.p + i + (change < 0));
				cv_buf_append_str(out, "\r\n");
				return;
			}
		}
	}
	cv_buf_printf(out, "%.*s\r\n", CV_PL_ARG(v));
}

int media_rewrite(struct srv_worker *sw, struct call_media *m, int from,
		  struct cv_pl body, struct cv_buf *out)
{
	if (!sw->relay || m->off || !body.l)
		return CV_ENOTFOUND;
	struct cv_sdp *sdp;
	int err = cv_sdp_parse(&sdp, body.p, body.l, NULL);
	if (err)
		return err;
	bool anch[CALL_MAX_STREAMS * 16] = {0};
	uint16_t rtp_port[CALL_MAX_STREAMS * 16] = {0},
					     rtcp_port[CALL_MAX_STREAMS * 16] =
						     {0};
	struct sec_plan plan[CALL_MAX_STREAMS] = {0};
	if (sdp->nmedia > CV_ARRAY_SIZE(anch)) {
		cv_mem_unref(sdp);
		return CV_ETOOBIG;
	}
	/* RFC 3264: an SDP from the leg that did not make the outstanding
	 * offer answers it; a repeated answer (18x, then 2xx with the same
	 * o= version) is still an answer; anything else is an offer. */
	bool offer;
	if (m->pend == 1 + !from || (!m->pend && m->last_ans == 1 + from &&
				     sdp->sess_version == m->last_ans_ver)) {
		offer = false;
		m->pend = 0;
		m->last_ans = (uint8_t)(1 + from);
		m->last_ans_ver = sdp->sess_version;
	} else {
		offer = true;
		m->pend = (uint8_t)(1 + from);
	}
	err = media_learn(sw, m, from, sdp, anch, rtp_port, rtcp_port, plan,
			  offer);
	cv_mem_unref(sdp);
	if (err)
		return err;
	const char *adv = m->adv[!from];
	const char *ipv = strchr(adv, ':') ? "IP6" : "IP4";
	/* line by line over the original text: what is not ours to change
	 * stays byte for byte */
	struct cv_pl rest = body;
	int mi = -1;
	bool any = false;
	for (size_t i = 0; i < CV_ARRAY_SIZE(anch); i++)
		any = any || anch[i];
	for (;;) {
		if (!rest.l) {
			sec_flush(out, plan, mi);
			break;
		}
		const char *nl = memchr(rest.p, '\n', rest.l);
		size_t len = nl ? (size_t)(nl - rest.p) + 1 : rest.l;
		struct cv_pl line = {rest.p, len};
		rest.p += len;
		rest.l -= len;
		struct cv_pl v = line;
		while (v.l && (v.p[v.l - 1] == '\n' || v.p[v.l - 1] == '\r'))
			v.l--;
		if (v.l < 2 || v.p[1] != '=') {
			cv_buf_append_pl(out, line);
			continue;
		}
		struct cv_pl val = {v.p + 2, v.l - 2};
		bool here =
			mi >= 0 ? ((size_t)mi < CV_ARRAY_SIZE(anch) && anch[mi])
				: any;
		switch (v.p[0]) {
		case 'm': {
			sec_flush(out, plan, mi);
			mi++;
			here = (size_t)mi < CV_ARRAY_SIZE(anch) && anch[mi];
			const char *sp1 = memchr(val.p, ' ', val.l);
			if (!here || !sp1)
				break;
			size_t off = (size_t)(sp1 - val.p) + 1;
			const char *sp2 = memchr(val.p + off, ' ', val.l - off);
			if (!sp2)
				break;
			cv_buf_printf(out, "m=%.*s %u", (int)(off - 1), val.p,
				      rtp_port[mi]);
			m_proto(out,
				(struct cv_pl){sp2,
					       (size_t)(val.p + val.l - sp2)},
				(size_t)mi < CALL_MAX_STREAMS ? plan[mi].proto
							      : 0,
				(size_t)mi < CALL_MAX_STREAMS &&
						plan[mi].fmts_set
					? plan[mi].fmts
					: NULL);
			continue;
		}
		case 'c': {
			/* keep c=IN IP4 0.0.0.0 (hold, RFC 3264 §8.4) as it is
			 */
			bool null = (val.l >= 8 && !memcmp(val.p + val.l - 8,
							   " 0.0.0.0", 8)) ||
				    (val.l >= 3 &&
				     !memcmp(val.p + val.l - 3, " ::", 3));
			if (!here || null)
				break;
			cv_buf_printf(out, "c=IN %s %s\r\n", ipv, adv);
			continue;
		}
		case 'a':
			if (any && is_ice_attr(val))
				continue;
			if (here && mi >= 0 && (size_t)mi < CALL_MAX_STREAMS &&
			    plan[mi].term && val.l > 7 &&
			    !memcmp(val.p, "crypto:", 7))
				continue; /* the sender's keys stay with us */
			if (here && mi >= 0 && (size_t)mi < CALL_MAX_STREAMS &&
			    plan[mi].filter && dropped_fmt(val, plan[mi].keep))
				continue;
			if (here && mi >= 0 && val.l > 5 &&
			    !memcmp(val.p, "rtcp:", 5)) {
				cv_buf_printf(out, "a=rtcp:%u\r\n",
					      rtcp_port[mi]);
				continue;
			}
			break;
		default:
			break;
		}
		cv_buf_append_pl(out, line);
	}
	return out->err;
}

int media_retry_offer(struct srv_worker *sw, struct call_media *m,
		      struct cv_pl a_body, struct cv_buf *out)
{
	if (!sw->relay || m->off || m->flipped || !m->st[0])
		return CV_ENOTFOUND;
	for (unsigned i = 0; i < CALL_MAX_STREAMS; i++)
		if (m->seen[i] & 2)
			return CV_ENOTFOUND; /* the callee has spoken SDP */
	m->flip = m->flipped = true;
	m->pend = 0;
	int err = media_rewrite(sw, m, 0, a_body, out);
	m->flip = false;
	return err;
}

void media_leg_stats(const struct call_media *m, int leg,
		     struct cv_store_cdr_leg *out)
{
	/* the first anchored m-line (normally the audio) */
	const struct cv_rtp_relay_stream *st = NULL;
	for (unsigned i = 0; i < CALL_MAX_STREAMS && !st; i++)
		st = m->st[i];
	struct cv_rtp_relay_leg_stats ls;
	if (!st ||
	    cv_rtp_relay_stream_stats(st, (enum cv_rtp_relay_leg)leg, &ls))
		return;
	out->codec = m->codec;
	out->pkts_recv = ls.rx_packets;
	out->pkts_sent = ls.tx_packets;
	out->pkts_lost = ls.lost > 0 ? (uint64_t)ls.lost : 0;
	out->jitter_ms = ls.jitter_ms;
	out->mos = ls.mos;
}

/* The address a leg's peer reaches the relay on: the configured media
 * address, else our SIP address on that leg's flow (when not a
 * wildcard), else the other side's. */
void media_set_adv(struct srv_worker *sw, struct call_media *m, int leg,
		   const struct cv_txn_addr *flow)
{
	if (!sw->relay)
		return; /* media not anchored: nothing will be advertised */
	const char *conf = sw->srv->p.media_addr;
	char ip[INET6_ADDRSTRLEN] = "";
	if (conf && *conf && strcmp(conf, "0.0.0.0") && strcmp(conf, "::")) {
		snprintf(m->adv[leg], sizeof(m->adv[leg]), "%s", conf);
		return;
	}
	if (flow && flow->local.sa.sa_family == AF_INET &&
	    flow->local.in.sin_addr.s_addr != htonl(INADDR_ANY))
		inet_ntop(AF_INET, &flow->local.in.sin_addr, ip, sizeof(ip));
	else if (flow && flow->local.sa.sa_family == AF_INET6 &&
		 !IN6_IS_ADDR_UNSPECIFIED(&flow->local.in6.sin6_addr))
		inet_ntop(AF_INET6, &flow->local.in6.sin6_addr, ip, sizeof(ip));
	if (ip[0])
		snprintf(m->adv[leg], sizeof(m->adv[leg]), "%s", ip);
	else if (m->adv[!leg][0])
		memcpy(m->adv[leg], m->adv[!leg], sizeof(m->adv[leg]));
	else
		snprintf(m->adv[leg], sizeof(m->adv[leg]), "%s", "127.0.0.1");
}
