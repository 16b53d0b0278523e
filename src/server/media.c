/* Media anchoring: every RTP m-line of a bridged call goes through a
 * stream of the worker's relay (cv_rtp_relay). An SDP coming from one leg
 * gives that leg's remote address (cv_rtp_relay_stream_set_remote), and is
 * rewritten so that the other leg sends to the relay: c= becomes the
 * relay's address, the m= port and a=rtcp the relay's ports for that
 * other leg. Offers and answers are treated alike (RFC 3264 keeps the
 * m-line order), so re-INVITE and UPDATE need nothing special. ICE
 * attributes are dropped: the relay is the only candidate. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cvoip/sdp.h"

#include "server_int.h"

#define MOD "media"

void media_free(struct srv_worker *sw, struct call_media *m)
{
	for (unsigned i = 0; i < CALL_MAX_STREAMS; i++) {
		if (!m->st[i])
			continue;
		struct cv_rtp_relay_leg_stats a = {0}, b = {0};
		cv_rtp_relay_stream_stats(m->st[i], CV_RTP_RELAY_A, &a);
		cv_rtp_relay_stream_stats(m->st[i], CV_RTP_RELAY_B, &b);
		sw->srv->st_relay_forwarded += a.tx_packets + b.tx_packets +
					       a.rtcp_tx + b.rtcp_tx;
		sw->srv->st_relay_streams--;
		cv_rtp_relay_stream_destroy(m->st[i]);
		m->st[i] = NULL;
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
		return ntohs(((const struct sockaddr_in *)(const void *)ss)->sin_port);
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)(const void *)ss)->sin6_port);
	return 0;
}

static bool is_ice_attr(struct cv_pl v)
{
	static const char *const names[] = {"candidate", "end-of-candidates",
					    "ice-ufrag", "ice-pwd", "ice-options",
					    "ice-lite", "remote-candidates",
					    "ice-mismatch"};
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
		       uint16_t *rtcp_port)
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
			int err = cv_rtp_relay_stream_create(sw->relay, &m->st[i], &sp);
			if (err)
				return err;
			m->n++;
			sw->srv->st_relay_streams++;
		}
		struct sockaddr_storage rtp, rtcp;
		const struct cv_sdp_conn *c = cv_sdp_media_conn(sdp, md);
		if (conn_sockaddr(c, md->port, &rtp) == 0) {
			bool have_rtcp = md->has_rtcp &&
					 conn_sockaddr(md->rtcp_conn.present ? &md->rtcp_conn : c,
						       md->rtcp_port, &rtcp) == 0;
			cv_rtp_relay_stream_set_remote(m->st[i], (enum cv_rtp_relay_leg)from,
						       (struct sockaddr *)&rtp,
						       have_rtcp ? (struct sockaddr *)&rtcp : NULL);
		}
		/* else: hold (c=0.0.0.0) or a name; the relay latches the
		 * source when media comes */
		struct sockaddr_storage lrtp, lrtcp;
		int err = cv_rtp_relay_stream_local(m->st[i], (enum cv_rtp_relay_leg)to,
						    &lrtp, &lrtcp);
		if (err)
			return err;
		rtp_port[i] = sa_port(&lrtp);
		rtcp_port[i] = sa_port(&lrtcp);
		anch[i] = true;
		bool first = true;
		for (uint32_t k = 0; k < i; k++)
			first = first && !m->st[k];
		if (first && (from == 1 || !m->codec[0]))
			codec_of(md, m->codec, sizeof(m->codec)); /* the answer's */
	}
	return 0;
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
		 rtcp_port[CALL_MAX_STREAMS * 16] = {0};
	if (sdp->nmedia > CV_ARRAY_SIZE(anch)) {
		cv_mem_unref(sdp);
		return CV_ETOOBIG;
	}
	err = media_learn(sw, m, from, sdp, anch, rtp_port, rtcp_port);
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
	while (rest.l) {
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
		bool here = mi >= 0 ? ((size_t)mi < CV_ARRAY_SIZE(anch) && anch[mi]) : any;
		switch (v.p[0]) {
		case 'm': {
			mi++;
			here = (size_t)mi < CV_ARRAY_SIZE(anch) && anch[mi];
			const char *sp1 = memchr(val.p, ' ', val.l);
			if (!here || !sp1)
				break;
			size_t off = (size_t)(sp1 - val.p) + 1;
			const char *sp2 = memchr(val.p + off, ' ', val.l - off);
			if (!sp2)
				break;
			cv_buf_printf(out, "m=%.*s %u%.*s\r\n", (int)(off - 1), val.p,
				      rtp_port[mi], (int)(val.p + val.l - sp2), sp2);
			continue;
		}
		case 'c': {
			/* keep c=IN IP4 0.0.0.0 (hold, RFC 3264 §8.4) as it is */
			bool null = (val.l >= 8 && !memcmp(val.p + val.l - 8, " 0.0.0.0", 8)) ||
				    (val.l >= 3 && !memcmp(val.p + val.l - 3, " ::", 3));
			if (!here || null)
				break;
			cv_buf_printf(out, "c=IN %s %s\r\n", ipv, adv);
			continue;
		}
		case 'a':
			if (any && is_ice_attr(val))
				continue;
			if (here && mi >= 0 && val.l > 5 && !memcmp(val.p, "rtcp:", 5)) {
				cv_buf_printf(out, "a=rtcp:%u\r\n", rtcp_port[mi]);
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

void media_leg_stats(const struct call_media *m, int leg,
		     struct cv_store_cdr_leg *out)
{
	/* the first anchored m-line (normally the audio) */
	const struct cv_rtp_relay_stream *st = NULL;
	for (unsigned i = 0; i < CALL_MAX_STREAMS && !st; i++)
		st = m->st[i];
	struct cv_rtp_relay_leg_stats ls;
	if (!st || cv_rtp_relay_stream_stats(st, (enum cv_rtp_relay_leg)leg, &ls))
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
