/* RFC 3264 offer/answer as pure functions: offers and answers are written
 * as text from the local capabilities and parsed back into the model;
 * negotiated media is packed into one block sized for what exists. */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sdp_int.h"

#define OA_MAX_TEXT 65536

/* ---- negotiated media ------------------------------------------------------
 * Negotiation fills a fixed-size scratch (the sizes below bound what is
 * reported), then neg_pack() copies what exists into one block sized for
 * it: a held call keeps a few hundred bytes, not the 11 KB worst case. */

struct wcodec {
	char name[32];
	uint32_t clock_rate;
	uint32_t channels;
	uint8_t pt_send;
	uint8_t pt_recv;
	char fmtp[160];
};

struct wmedia {
	uint32_t index;
	char media[16];
	bool rejected;
	enum cv_sdp_dir dir;
	bool remote_hold;
	bool remote_null_addr;
	char remote_addr[64];
	struct sockaddr_storage remote_rtp, remote_rtcp;
	uint16_t remote_port, remote_rtcp_port;
	bool rtcp_mux;
	struct wcodec codecs[CV_SDP_NEG_MAX_CODECS];
	uint32_t ncodecs;
	int dtmf_pt_send, dtmf_pt_recv;
	uint32_t dtmf_rate;
	char dtmf_events[32];
	int cn_pt_send, cn_pt_recv;
	uint32_t ptime, maxptime;
	bool srtp;
	char crypto_suite[48];
	uint32_t crypto_tag;
	char crypto_remote_key[128];
	char crypto_local_key[128];
	char remote_ice_ufrag[64], remote_ice_pwd[128];
	char remote_fingerprint[160];
	enum cv_sdp_setup remote_setup;
	char mid[32];
};

struct wneg {
	struct wmedia media[CV_SDP_NEG_MAX_MEDIA];
	uint32_t nmedia;
};

/* ---- helpers ------------------------------------------------------------ */

/* Caller strings go into the text verbatim: refuse line breaks. */
static bool bad_str(const char *s)
{
	return s && strpbrk(s, "\r\n") != NULL;
}

static bool bad_token(const char *s)
{
	return !s || !*s || strpbrk(s, "\r\n \t/") != NULL;
}

static enum cv_sdp_dir dir_rev(enum cv_sdp_dir d)
{
	return (enum cv_sdp_dir)(((d & 1) << 1) | ((d & 2) >> 1));
}

static uint32_t ch1(uint32_t c)
{
	return c ? c : 1;
}

/* Value of one parameter of a "k=v;k=v" fmtp (RFC 8866 §6.15). */
static bool fmtp_param(struct cv_pl fmtp, const char *name, struct cv_pl *val)
{
	struct cv_pl rest = fmtp, item, k, v;
	for (int guard = 0; rest.l && guard < 256; guard++) {
		cv_sdp__split(rest, ';', &item, &rest);
		cv_sdp__split(item, '=', &k, &v);
		if (cv_pl_caseeq_str(cv_pl_trim(k), name)) {
			*val = cv_pl_trim(v);
			return true;
		}
	}
	return false;
}

static uint32_t fmtp_u32(struct cv_pl fmtp, const char *name, uint32_t def)
{
	struct cv_pl v;
	uint32_t x;
	if (fmtp_param(fmtp, name, &v) && !cv_pl_u32(v, &x))
		return x;
	return def;
}

/* RFC 4733 §2.4.1 event lists ("0-15,66"), as a 256-bit set. Returns
 * false on a malformed list. */
struct evset {
	uint64_t w[4];
};

static bool events_parse(struct cv_pl s, struct evset *e)
{
	struct cv_pl rest = cv_pl_trim(s), item, a, b;
	memset(e, 0, sizeof(*e));
	for (int guard = 0; rest.l && guard < 256; guard++) {
		uint32_t lo, hi;
		cv_sdp__split(rest, ',', &item, &rest);
		item = cv_pl_trim(item);
		if (cv_sdp__split(item, '-', &a, &b)) {
			if (cv_pl_u32(cv_pl_trim(a), &lo) ||
			    cv_pl_u32(cv_pl_trim(b), &hi))
				return false;
		} else {
			if (cv_pl_u32(item, &lo))
				return false;
			hi = lo;
		}
		if (lo > hi || hi > 255)
			return false;
		/* word at a time: a hostile list costs O(items), not O(256
		 * items) */
		for (uint32_t w = lo / 64; w <= hi / 64; w++) {
			uint32_t a0 = CV_MAX(lo, w * 64) % 64,
				 a1 = CV_MIN(hi, w * 64 + 63) % 64;
			uint64_t mask =
				(a1 == 63 ? ~0ull : ((1ull << (a1 + 1)) - 1)) &
				~((1ull << a0) - 1);
			e->w[w] |= mask;
		}
	}
	return true;
}

static bool events_has(const struct evset *e, uint32_t i)
{
	return (e->w[i / 64] >> (i % 64)) & 1u;
}

static bool events_empty(const struct evset *e)
{
	return !(e->w[0] | e->w[1] | e->w[2] | e->w[3]);
}

static void events_print(const struct evset *e, char *dst, size_t size)
{
	size_t n = 0;
	dst[0] = '\0';
	for (uint32_t i = 0; i < 256;) {
		if (!events_has(e, i)) {
			i++;
			continue;
		}
		uint32_t j = i;
		while (j + 1 < 256 && events_has(e, j + 1))
			j++;
		int w = (j == i) ? snprintf(dst + n, size - n, "%s%u",
					    n ? "," : "", i)
				 : snprintf(dst + n, size - n, "%s%u-%u",
					    n ? "," : "", i, j);
		if (w < 0 || (size_t)w >= size - n) {
			dst[n] = '\0';
			return;
		}
		n += (size_t)w;
		i = j + 1;
	}
}

/* The events a telephone-event format carries: RFC 4733 §2.4.1 says an
 * absent fmtp means 0-15. */
static bool fmt_events(const struct cv_sdp_fmt *f, struct evset *e)
{
	return events_parse(f->has_fmtp ? f->fmtp : CV_PL("0-15"), e);
}

static bool is_te(struct cv_pl enc)
{
	return cv_pl_caseeq_str(enc, "telephone-event");
}

static bool is_cn(struct cv_pl enc)
{
	return cv_pl_caseeq_str(enc, "CN");
}

/* Format parameters that select a different payload format rather than
 * declare a receiver's wish must agree (RFC 3264 §6.1 leaves this to each
 * payload format): H.264 packetization-mode (RFC 6184 §8.2.2), AMR
 * octet-align (RFC 4867 §8.3.1). */
static bool fmtp_compatible(struct cv_pl name, struct cv_pl remote,
			    const char *local)
{
	struct cv_pl l = cv_pl_str(local);
	if (cv_pl_caseeq_str(name, "H264"))
		return fmtp_u32(remote, "packetization-mode", 0) ==
		       fmtp_u32(l, "packetization-mode", 0);
	if (cv_pl_caseeq_str(name, "AMR") || cv_pl_caseeq_str(name, "AMR-WB"))
		return fmtp_u32(remote, "octet-align", 0) ==
		       fmtp_u32(l, "octet-align", 0);
	return true;
}

static bool codec_match(const struct cv_sdp_fmt *f,
			const struct cv_sdp_codec *c)
{
	return f->encoding.l && cv_pl_caseeq_str(f->encoding, c->name) &&
	       f->clock_rate == c->clock_rate &&
	       ch1(f->channels) == ch1(c->channels) &&
	       fmtp_compatible(f->encoding, f->has_fmtp ? f->fmtp : CV_PL(""),
			       c->fmtp);
}

static void sa_fill(struct sockaddr_storage *ss, const struct cv_sdp_conn *c,
		    uint16_t port)
{
	memset(ss, 0, sizeof(*ss));
	if (!c || !c->present)
		return;
	if (c->af == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)(void *)ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		memcpy(&s4->sin_addr, c->ip, 4);
	} else if (c->af == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)(void *)ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		memcpy(&s6->sin6_addr, c->ip, 16);
	}
}

/* ptime/maxptime are media-level attributes (RFC 8866 §6.4), but some
 * peers put them at session level: used when the media has none. */
static uint32_t session_u32_attr(const struct cv_sdp *sdp, const char *name)
{
	const struct cv_sdp_attr *a = cv_sdp_attr_find(&sdp->c, name);
	struct cv_pl ip, fp;
	uint32_t x;
	if (!a)
		return 0;
	cv_sdp__split(cv_pl_trim(a->value), '.', &ip, &fp);
	return !cv_pl_u32(ip, &x) && x <= 10000 ? x : 0;
}

/* What the remote side's description says about one stream. */
static void neg_remote(struct wmedia *nm, const struct cv_sdp *sdp,
		       const struct cv_sdp_media *m, bool mux)
{
	const struct cv_sdp_conn *c = cv_sdp_media_conn(sdp, m);
	nm->remote_port = m->port;
	nm->ptime = m->ptime ? m->ptime : session_u32_attr(sdp, "ptime");
	nm->maxptime =
		m->maxptime ? m->maxptime : session_u32_attr(sdp, "maxptime");
	nm->rtcp_mux = mux;
	if (c) {
		cv_pl_strcpy(c->addr, nm->remote_addr, sizeof(nm->remote_addr));
		nm->remote_null_addr = cv_sdp_conn_is_null(c);
	}
	sa_fill(&nm->remote_rtp, c, m->port);
	/* RFC 5761 §5.1.3 with mux; RFC 3605 a=rtcp; else RFC 3550 port+1 */
	const struct cv_sdp_conn *rc = c;
	if (mux) {
		nm->remote_rtcp_port = m->port;
	} else if (m->has_rtcp) {
		nm->remote_rtcp_port = m->rtcp_port;
		if (m->rtcp_conn.present)
			rc = &m->rtcp_conn;
	} else {
		nm->remote_rtcp_port =
			m->port < 65535 ? (uint16_t)(m->port + 1) : 0;
	}
	sa_fill(&nm->remote_rtcp, rc, nm->remote_rtcp_port);
	/* ICE and DTLS: media level wins over session level */
	const struct cv_sdp_common *mc = &m->c, *sc = &sdp->c;
	cv_pl_strcpy(mc->ice_ufrag.l ? mc->ice_ufrag : sc->ice_ufrag,
		     nm->remote_ice_ufrag, sizeof(nm->remote_ice_ufrag));
	cv_pl_strcpy(mc->ice_pwd.l ? mc->ice_pwd : sc->ice_pwd,
		     nm->remote_ice_pwd, sizeof(nm->remote_ice_pwd));
	const struct cv_sdp_fingerprint *fp =
		mc->nfingerprints
			? &mc->fingerprints[0]
			: (sc->nfingerprints ? &sc->fingerprints[0] : NULL);
	if (fp)
		snprintf(nm->remote_fingerprint, sizeof(nm->remote_fingerprint),
			 CV_PL_FMT " " CV_PL_FMT, CV_PL_ARG(fp->hash_func),
			 CV_PL_ARG(fp->value));
	nm->remote_setup = mc->setup ? mc->setup : sc->setup;
	cv_pl_strcpy(m->mid, nm->mid, sizeof(nm->mid));
}

static void neg_init(struct wmedia *nm, uint32_t index, struct cv_pl media)
{
	memset(nm, 0, sizeof(*nm));
	nm->index = index;
	cv_pl_strcpy(media, nm->media, sizeof(nm->media));
	nm->dtmf_pt_send = nm->dtmf_pt_recv = -1;
	nm->cn_pt_send = nm->cn_pt_recv = -1;
	nm->rejected = true;
}

static void neg_codec_add(struct wmedia *nm, const struct cv_sdp_fmt *rf,
			  int pt_send, int pt_recv)
{
	if (nm->ncodecs >= CV_SDP_NEG_MAX_CODECS)
		return;
	struct wcodec *c = &nm->codecs[nm->ncodecs++];
	cv_pl_strcpy(rf->encoding, c->name, sizeof(c->name));
	c->clock_rate = rf->clock_rate;
	c->channels = ch1(rf->channels);
	c->pt_send = (uint8_t)pt_send;
	c->pt_recv = (uint8_t)pt_recv;
	if (rf->has_fmtp)
		cv_pl_strcpy(rf->fmtp, c->fmtp, sizeof(c->fmtp));
}

/* ---- offer (RFC 3264 §5) --------------------------------------------------
 */

struct ptset {
	bool used[128];
	int next_dyn;
};

/* RFC 3551 §3: dynamic types are 96-127. */
static int pt_dynamic(struct ptset *ps)
{
	while (ps->next_dyn < 128 && ps->used[ps->next_dyn])
		ps->next_dyn++;
	if (ps->next_dyn >= 128)
		return -1;
	ps->used[ps->next_dyn] = true;
	return ps->next_dyn;
}

static int pt_static_for(const struct cv_sdp_codec *c)
{
	for (int pt = 0; pt < 96; pt++) {
		const char *name;
		uint32_t rate, ch;
		if (cv_sdp_static_pt(pt, &name, &rate, &ch) &&
		    !strcasecmp(name, c->name) && rate == c->clock_rate &&
		    ch == ch1(c->channels))
			return pt;
	}
	return -1;
}

static int check_local(const struct cv_sdp_local *l)
{
	int af;
	uint8_t ip[16];
	if (!l || !l->addr ||
	    !cv_sdp__addr_literal(cv_pl_str(l->addr), &af, ip))
		return -EINVAL;
	if ((l->user && bad_token(l->user)) || bad_str(l->name) ||
	    (l->nstreams && !l->streams) ||
	    (l->nsession_attrs && !l->session_attrs))
		return -EINVAL;
	for (size_t i = 0; i < l->nsession_attrs; i++)
		if (!l->session_attrs[i] || bad_str(l->session_attrs[i]))
			return -EINVAL;
	for (size_t i = 0; i < l->nstreams; i++) {
		const struct cv_sdp_stream_caps *s = &l->streams[i];
		if ((s->media && bad_token(s->media)) ||
		    bad_str(s->dtmf_events) || (s->ncodecs && !s->codecs) ||
		    (s->ncrypto && !s->crypto) ||
		    (s->nextra_attrs && !s->extra_attrs) ||
		    s->dir > CV_SDP_SENDRECV)
			return -EINVAL;
		for (size_t k = 0; k < s->ncodecs; k++) {
			const struct cv_sdp_codec *c = &s->codecs[k];
			if (bad_token(c->name) || bad_str(c->fmtp) ||
			    c->clock_rate == 0 || c->pt > 127 ||
			    ch1(c->channels) > 255)
				return -EINVAL;
		}
		for (size_t k = 0; k < s->ncrypto; k++) {
			const struct cv_sdp_crypto_local *c = &s->crypto[k];
			if (bad_token(c->suite) || !c->key_params ||
			    bad_str(c->key_params) ||
			    strchr(c->key_params, ' ') ||
			    bad_str(c->session_params) || c->tag > 999999999)
				return -EINVAL;
		}
		for (size_t k = 0; k < s->nextra_attrs; k++)
			if (!s->extra_attrs[k] || bad_str(s->extra_attrs[k]))
				return -EINVAL;
	}
	return 0;
}

static void write_head(struct cv_buf *b, const struct cv_sdp_local *l,
		       bool null_addr)
{
	bool v6 = strchr(l->addr, ':') != NULL;
	const char *at = v6 ? "IP6" : "IP4";
	cv_buf_printf(b, "v=0\r\no=%s %llu %llu IN %s %s\r\ns=%s\r\n",
		      l->user ? l->user : "-", (unsigned long long)l->sess_id,
		      (unsigned long long)l->sess_version, at, l->addr,
		      l->name && *l->name ? l->name : "-");
	cv_buf_printf(b, "c=IN %s %s\r\nt=0 0\r\n", at,
		      null_addr && !v6 ? "0.0.0.0" : l->addr);
	for (size_t i = 0; i < l->nsession_attrs; i++)
		cv_buf_printf(b, "a=%s\r\n", l->session_attrs[i]);
}

static void write_stream_tail(struct cv_buf *b,
			      const struct cv_sdp_stream_caps *s,
			      enum cv_sdp_dir dir, bool mux)
{
	if (s->rtcp_port)
		cv_buf_printf(b, "a=rtcp:%u\r\n", s->rtcp_port);
	if (s->ptime)
		cv_buf_printf(b, "a=ptime:%u\r\n", s->ptime);
	if (s->maxptime)
		cv_buf_printf(b, "a=maxptime:%u\r\n", s->maxptime);
	cv_buf_printf(b, "a=%s\r\n", cv_sdp_dir_name(dir));
	if (mux)
		cv_buf_append_str(b, "a=rtcp-mux\r\n");
}

static void write_extra(struct cv_buf *b, const struct cv_sdp_stream_caps *s)
{
	for (size_t k = 0; k < s->nextra_attrs; k++)
		cv_buf_printf(b, "a=%s\r\n", s->extra_attrs[k]);
}

static int offer_stream(struct cv_buf *b, const struct cv_sdp_stream_caps *s)
{
	struct ptset ps = {.next_dyn = 96};
	int pts[64];
	int te_pts[8];
	uint32_t te_rates[8];
	size_t nte = 0, nc = CV_MIN(s->ncodecs, CV_ARRAY_SIZE(pts));

	if (nc == 0 && !s->telephone_event)
		return -EINVAL;
	/* Preferred numbers first, then the static table, then dynamic. */
	for (size_t k = 0; k < nc; k++) {
		int p = s->codecs[k].pt;
		pts[k] = -1;
		if (p >= 0 && p < 128 && !ps.used[p]) {
			pts[k] = p;
			ps.used[p] = true;
		}
	}
	for (size_t k = 0; k < nc; k++) {
		if (pts[k] >= 0)
			continue;
		int p = pt_static_for(&s->codecs[k]);
		if (p >= 0 && !ps.used[p]) {
			pts[k] = p;
			ps.used[p] = true;
		}
	}
	if (s->telephone_event) {
		/* RFC 4733 §7.1.1: one telephone-event per clock rate in use */
		for (size_t k = 0; k < nc && nte < CV_ARRAY_SIZE(te_rates);
		     k++) {
			uint32_t r = s->codecs[k].clock_rate;
			bool seen = false;
			if (!strcasecmp(s->codecs[k].name, "CN") ||
			    !strcasecmp(s->codecs[k].name, "telephone-event"))
				continue;
			for (size_t j = 0; j < nte; j++)
				seen |= te_rates[j] == r;
			if (!seen)
				te_rates[nte++] = r;
		}
		if (nte == 0)
			te_rates[nte++] = 8000;
		int want =
			s->dtmf_pt >= 0 && s->dtmf_pt < 128 ? s->dtmf_pt : 101;
		for (size_t j = 0; j < nte; j++) {
			te_pts[j] = -1;
			if (j == 0 && !ps.used[want]) {
				te_pts[j] = want;
				ps.used[want] = true;
			}
		}
	}
	for (size_t k = 0; k < nc; k++)
		if (pts[k] < 0 && (pts[k] = pt_dynamic(&ps)) < 0)
			return CV_ETOOBIG;
	for (size_t j = 0; j < nte; j++)
		if (te_pts[j] < 0 && (te_pts[j] = pt_dynamic(&ps)) < 0)
			return CV_ETOOBIG;

	const char *proto = s->ncrypto ? (s->avpf ? "RTP/SAVPF" : "RTP/SAVP")
				       : (s->avpf ? "RTP/AVPF" : "RTP/AVP");
	cv_buf_printf(b, "m=%s %u %s", s->media ? s->media : "audio", s->port,
		      proto);
	for (size_t k = 0; k < nc; k++)
		cv_buf_printf(b, " %d", pts[k]);
	for (size_t j = 0; j < nte; j++)
		cv_buf_printf(b, " %d", te_pts[j]);
	cv_buf_append_str(b, "\r\n");
	for (size_t k = 0; k < nc; k++) {
		const struct cv_sdp_codec *c = &s->codecs[k];
		cv_buf_printf(b, "a=rtpmap:%d %s/%u", pts[k], c->name,
			      c->clock_rate);
		if (ch1(c->channels) > 1)
			cv_buf_printf(b, "/%u", c->channels);
		cv_buf_append_str(b, "\r\n");
		if (c->fmtp && *c->fmtp)
			cv_buf_printf(b, "a=fmtp:%d %s\r\n", pts[k], c->fmtp);
	}
	for (size_t j = 0; j < nte; j++)
		cv_buf_printf(
			b, "a=rtpmap:%d telephone-event/%u\r\na=fmtp:%d %s\r\n",
			te_pts[j], te_rates[j], te_pts[j],
			s->dtmf_events ? s->dtmf_events : "0-16");
	for (size_t k = 0; k < s->ncrypto; k++) {
		const struct cv_sdp_crypto_local *c = &s->crypto[k];
		cv_buf_printf(b, "a=crypto:%u %s %s%s%s\r\n", c->tag, c->suite,
			      c->key_params, c->session_params ? " " : "",
			      c->session_params ? c->session_params : "");
	}
	write_stream_tail(b, s, s->dir, s->rtcp_mux);
	write_extra(b, s);
	return b->err;
}

static int finish_text(struct cv_sdp **out, struct cv_buf *b, int err)
{
	if (!err)
		err = b->err;
	if (!err)
		err = cv_sdp_parse(out, b->data, b->len, NULL);
	cv_buf_free(b);
	return err;
}

int cv_sdp_offer_create(struct cv_sdp **out, const struct cv_sdp_local *local)
{
	if (!out)
		return -EINVAL;
	*out = NULL;
	int err = check_local(local);
	if (err)
		return err;
	struct cv_buf b;
	cv_buf_init(&b, OA_MAX_TEXT);
	write_head(&b, local, local->hold_null_addr);
	for (size_t i = 0; !err && i < local->nstreams; i++)
		err = offer_stream(&b, &local->streams[i]);
	return finish_text(out, &b, err);
}

/* ---- answer (RFC 3264 §6) --------------------------------------------------
 */

enum {
	/* why a stream was refused, in rising order of "how close it came";
	 * the highest one picks the Warning (RFC 3261 §20.43) */
	REJ_NONE = 0,
	REJ_MEDIA = 1,	/* 304 Media type not available */
	REJ_PROTO = 2,	/* 302 Incompatible transport protocol */
	REJ_FORMAT = 3, /* 305 Incompatible media format */
};

static bool proto_is(struct cv_pl p, const char *s)
{
	return cv_pl_caseeq_str(p, s);
}

struct ans_stream {
	const struct cv_sdp_stream_caps *caps;
	int why;
	/* chosen offer formats (indexes into the offer's m= fmts), the local
	 * codec each maps to */
	uint32_t fi[CV_SDP_NEG_MAX_CODECS];
	const struct cv_sdp_codec *lc[CV_SDP_NEG_MAX_CODECS];
	uint32_t n;
	int te; /* offer fmt index of the telephone-event, -1 */
	char te_events[32];
	int cn; /* offer fmt index of CN, -1 */
	const struct cv_sdp_crypto *rcrypto;
	const struct cv_sdp_crypto_local *lcrypto;
	enum cv_sdp_dir dir;
	bool mux;
};

static bool fmt_taken(const struct ans_stream *as, uint32_t fi)
{
	for (uint32_t i = 0; i < as->n; i++)
		if (as->fi[i] == fi)
			return true;
	return false;
}

static void pick_codecs(struct ans_stream *as, const struct cv_sdp_media *m)
{
	const struct cv_sdp_stream_caps *s = as->caps;
	uint32_t max = s->max_codecs
			       ? CV_MIN(s->max_codecs, CV_SDP_NEG_MAX_CODECS)
			       : CV_SDP_NEG_MAX_CODECS;
	/* RFC 3264 §6.1: the answer keeps the offerer's payload numbers; the
	 * order is the offerer's preference unless asked otherwise. */
	if (s->prefer_local) {
		for (size_t k = 0; k < s->ncodecs && as->n < max; k++) {
			if (!strcasecmp(s->codecs[k].name, "CN") ||
			    !strcasecmp(s->codecs[k].name, "telephone-event"))
				continue;
			for (uint32_t i = 0; i < m->nfmts; i++) {
				if (codec_match(&m->fmts[i], &s->codecs[k]) &&
				    !fmt_taken(as, i)) {
					as->fi[as->n] = i;
					as->lc[as->n++] = &s->codecs[k];
					break;
				}
			}
		}
	} else {
		for (uint32_t i = 0; i < m->nfmts && as->n < max; i++) {
			const struct cv_sdp_fmt *f = &m->fmts[i];
			if (is_te(f->encoding) || is_cn(f->encoding))
				continue;
			for (size_t k = 0; k < s->ncodecs; k++) {
				if (codec_match(f, &s->codecs[k])) {
					as->fi[as->n] = i;
					as->lc[as->n++] = &s->codecs[k];
					break;
				}
			}
		}
	}
	if (as->n == 0)
		return;
	uint32_t rate = m->fmts[as->fi[0]].clock_rate;

	/* RFC 4733 §7.1.1: telephone-event at the clock rate of the codec in
	 * use; any offered rate when none matches. */
	if (s->telephone_event) {
		struct evset local, remote;
		int best = -1;
		if (!events_parse(
			    cv_pl_str(s->dtmf_events ? s->dtmf_events : "0-16"),
			    &local))
			memset(&local, 0, sizeof(local));
		for (uint32_t i = 0; i < m->nfmts; i++) {
			const struct cv_sdp_fmt *f = &m->fmts[i];
			if (!is_te(f->encoding) || f->pt < 0 ||
			    !fmt_events(f, &remote))
				continue;
			for (int w = 0; w < 4; w++)
				remote.w[w] &= local.w[w];
			if (events_empty(&remote))
				continue;
			if (best < 0 || (f->clock_rate == rate &&
					 m->fmts[best].clock_rate != rate)) {
				best = (int)i;
				events_print(&remote, as->te_events,
					     sizeof(as->te_events));
			}
		}
		as->te = best;
	}
	/* RFC 3389 CN only when configured locally, at the codec's rate */
	for (size_t k = 0; k < s->ncodecs; k++) {
		if (strcasecmp(s->codecs[k].name, "CN"))
			continue;
		for (uint32_t i = 0; i < m->nfmts; i++) {
			const struct cv_sdp_fmt *f = &m->fmts[i];
			if (is_cn(f->encoding) && f->clock_rate == rate &&
			    f->pt >= 0) {
				as->cn = (int)i;
				break;
			}
		}
		break;
	}
}

/* RFC 4568 §7.1.2: accept the first offered crypto line whose suite we
 * have a key for, answer with the offerer's tag. */
static void pick_crypto(struct ans_stream *as, const struct cv_sdp_media *m)
{
	for (uint32_t i = 0; i < m->ncrypto; i++) {
		const struct cv_sdp_crypto *rc = &m->crypto[i];
		if (rc->key_params.l >=
		    sizeof(((struct wmedia *)0)->crypto_remote_key))
			continue;
		for (size_t k = 0; k < as->caps->ncrypto; k++) {
			if (cv_pl_eq_str(rc->suite,
					 as->caps->crypto[k].suite) &&
			    strlen(as->caps->crypto[k].key_params) <
				    sizeof(((struct wmedia *)0)
						   ->crypto_local_key)) {
				as->rcrypto = rc;
				as->lcrypto = &as->caps->crypto[k];
				return;
			}
		}
	}
}

static void answer_check(struct ans_stream *as, const struct cv_sdp *offer,
			 const struct cv_sdp_media *m);

static void answer_decide(struct ans_stream *as, const struct cv_sdp *offer,
			  const struct cv_sdp_media *m,
			  const struct cv_sdp_local *local, bool *caps_used)
{
	memset(as, 0, sizeof(*as));
	as->te = as->cn = -1;
	if (m->port == 0)
		return; /* RFC 3264 §6: a rejected offer stream stays rejected
			 */
	size_t ci = 0;
	for (size_t k = 0; k < local->nstreams; k++) {
		const struct cv_sdp_stream_caps *s = &local->streams[k];
		if (!caps_used[k] &&
		    cv_pl_caseeq_str(m->media, s->media ? s->media : "audio")) {
			as->caps = s;
			ci = k;
			break;
		}
	}
	if (!as->caps || as->caps->port == 0) {
		as->caps = NULL;
		as->why = REJ_MEDIA;
		return;
	}
	answer_check(as, offer, m);
	/* a stream caps serves one accepted m= line (it has one port) */
	if (as->caps)
		caps_used[ci] = true;
}

static void answer_check(struct ans_stream *as, const struct cv_sdp *offer,
			 const struct cv_sdp_media *m)
{
	bool savp = proto_is(m->proto, "RTP/SAVP") ||
		    proto_is(m->proto, "RTP/SAVPF");
	bool avp =
		proto_is(m->proto, "RTP/AVP") || proto_is(m->proto, "RTP/AVPF");
	if (!(savp || (avp && !as->caps->srtp_required))) {
		as->why = REJ_PROTO;
		as->caps = NULL;
		return;
	}
	if (savp) {
		pick_crypto(as, m);
		if (!as->rcrypto) {
			as->why = REJ_PROTO;
			as->caps = NULL;
			return;
		}
	}
	pick_codecs(as, m);
	if (as->n == 0) {
		as->why = REJ_FORMAT;
		as->caps = NULL;
		return;
	}
	/* RFC 3264 §6.1 directions; §8.4 c=0.0.0.0 means the offerer will not
	 * receive. */
	enum cv_sdp_dir od = cv_sdp_media_dir(offer, m);
	if (cv_sdp_conn_is_null(cv_sdp_media_conn(offer, m)))
		od &= ~CV_SDP_RECVONLY;
	as->dir = dir_rev(od) & as->caps->dir;
	as->mux = m->rtcp_mux && as->caps->rtcp_mux;
}

static void answer_fmtp(char *dst, size_t size, const struct cv_sdp_fmt *f,
			const struct cv_sdp_codec *c)
{
	struct cv_pl v;
	dst[0] = '\0';
	if (c->fmtp)
		snprintf(dst, size, "%s", c->fmtp);
	/* RFC 4749 §4.1.1 (G.729 Annex B): an offer without annexb=no
	 * still needs our "no" when we say it; an offer's "no" is binding. */
	if (cv_pl_caseeq_str(f->encoding, "G729") && f->has_fmtp &&
	    fmtp_param(f->fmtp, "annexb", &v) && cv_pl_caseeq_str(v, "no"))
		snprintf(dst, size, "annexb=no");
}

static void answer_write(struct cv_buf *b, const struct ans_stream *as,
			 const struct cv_sdp_media *m)
{
	if (!as->caps) {
		/* RFC 3264 §6: port zero, same media and proto, a format */
		cv_buf_printf(
			b, "m=" CV_PL_FMT " 0 " CV_PL_FMT " " CV_PL_FMT "\r\n",
			CV_PL_ARG(m->media), CV_PL_ARG(m->proto),
			CV_PL_ARG(m->fmts[0].id));
		if (m->mid.l)
			cv_buf_printf(b, "a=mid:" CV_PL_FMT "\r\n",
				      CV_PL_ARG(m->mid));
		return;
	}
	cv_buf_printf(b, "m=" CV_PL_FMT " %u " CV_PL_FMT, CV_PL_ARG(m->media),
		      as->caps->port, CV_PL_ARG(m->proto));
	for (uint32_t i = 0; i < as->n; i++)
		cv_buf_printf(b, " %d", m->fmts[as->fi[i]].pt);
	if (as->te >= 0)
		cv_buf_printf(b, " %d", m->fmts[as->te].pt);
	if (as->cn >= 0)
		cv_buf_printf(b, " %d", m->fmts[as->cn].pt);
	cv_buf_append_str(b, "\r\n");
	for (uint32_t i = 0; i < as->n; i++) {
		const struct cv_sdp_fmt *f = &m->fmts[as->fi[i]];
		char fmtp[256];
		cv_buf_printf(b, "a=rtpmap:%d " CV_PL_FMT "/%u", f->pt,
			      CV_PL_ARG(f->encoding), f->clock_rate);
		if (f->channels > 1)
			cv_buf_printf(b, "/%u", f->channels);
		cv_buf_append_str(b, "\r\n");
		answer_fmtp(fmtp, sizeof(fmtp), f, as->lc[i]);
		if (fmtp[0])
			cv_buf_printf(b, "a=fmtp:%d %s\r\n", f->pt, fmtp);
	}
	if (as->te >= 0) {
		const struct cv_sdp_fmt *f = &m->fmts[as->te];
		cv_buf_printf(
			b, "a=rtpmap:%d telephone-event/%u\r\na=fmtp:%d %s\r\n",
			f->pt, f->clock_rate, f->pt, as->te_events);
	}
	if (as->cn >= 0) {
		const struct cv_sdp_fmt *f = &m->fmts[as->cn];
		cv_buf_printf(b, "a=rtpmap:%d CN/%u\r\n", f->pt, f->clock_rate);
	}
	if (as->rcrypto) {
		const struct cv_sdp_crypto_local *lc = as->lcrypto;
		cv_buf_printf(b, "a=crypto:%u %s %s%s%s\r\n", as->rcrypto->tag,
			      lc->suite, lc->key_params,
			      lc->session_params ? " " : "",
			      lc->session_params ? lc->session_params : "");
	}
	write_stream_tail(b, as->caps, as->dir, as->mux);
	if (m->mid.l)
		cv_buf_printf(b, "a=mid:" CV_PL_FMT "\r\n", CV_PL_ARG(m->mid));
	write_extra(b, as->caps);
}

static void answer_neg(struct wmedia *nm, const struct ans_stream *as,
		       const struct cv_sdp *offer, const struct cv_sdp_media *m)
{
	if (!as->caps)
		return;
	nm->rejected = false;
	nm->dir = as->dir;
	neg_remote(nm, offer, m, as->mux);
	enum cv_sdp_dir od = cv_sdp_media_dir(offer, m);
	nm->remote_hold = !(od & CV_SDP_RECVONLY) || nm->remote_null_addr;
	for (uint32_t i = 0; i < as->n; i++) {
		const struct cv_sdp_fmt *f = &m->fmts[as->fi[i]];
		neg_codec_add(nm, f, f->pt, f->pt);
	}
	if (as->te >= 0) {
		const struct cv_sdp_fmt *f = &m->fmts[as->te];
		nm->dtmf_pt_send = nm->dtmf_pt_recv = f->pt;
		nm->dtmf_rate = f->clock_rate;
		snprintf(nm->dtmf_events, sizeof(nm->dtmf_events), "%s",
			 as->te_events);
	}
	if (as->cn >= 0)
		nm->cn_pt_send = nm->cn_pt_recv = m->fmts[as->cn].pt;
	if (as->rcrypto) {
		nm->srtp = true;
		nm->crypto_tag = as->rcrypto->tag;
		cv_pl_strcpy(as->rcrypto->suite, nm->crypto_suite,
			     sizeof(nm->crypto_suite));
		cv_pl_strcpy(as->rcrypto->key_params, nm->crypto_remote_key,
			     sizeof(nm->crypto_remote_key));
		snprintf(nm->crypto_local_key, sizeof(nm->crypto_local_key),
			 "%s", as->lcrypto->key_params);
	}
}

static int answer_create(struct cv_sdp **out, struct wneg *neg,
			 struct cv_sdp_warning *warn,
			 const struct cv_sdp *offer,
			 const struct cv_sdp_local *local)
{
	static const struct {
		uint16_t code;
		const char *text;
	} warns[] = {
		{0, NULL},
		{304, "Media type not available"},
		{302, "Incompatible transport protocol"},
		{305, "Incompatible media format"},
	};
	if (!out || !neg || !offer)
		return -EINVAL;
	*out = NULL;
	memset(neg, 0, sizeof(*neg));
	if (warn) {
		warn->code = 0;
		warn->text = NULL;
	}
	int err = check_local(local);
	if (err)
		return err;
	if (local->nstreams > 64)
		return -EINVAL;

	bool caps_used[64] = {false};
	struct ans_stream as;
	struct cv_buf b;
	uint32_t accepted = 0, offered = 0;
	int why = REJ_NONE;

	cv_buf_init(&b, OA_MAX_TEXT);
	write_head(&b, local, false);
	for (uint32_t i = 0; i < offer->nmedia; i++) {
		const struct cv_sdp_media *m = &offer->media[i];
		answer_decide(&as, offer, m, local, caps_used);
		answer_write(&b, &as, m);
		if (m->port)
			offered++;
		if (as.caps)
			accepted++;
		why = CV_MAX(why, as.why);
		if (i < CV_SDP_NEG_MAX_MEDIA) {
			struct wmedia *nm = &neg->media[neg->nmedia++];
			neg_init(nm, i, m->media);
			answer_neg(nm, &as, offer, m);
		}
	}
	if (offered && !accepted) {
		/* RFC 3261 §13.3.1.3 / RFC 3264 §6: answer 488 with a Warning
		 */
		cv_buf_free(&b);
		memset(neg, 0, sizeof(*neg));
		if (warn) {
			warn->code = warns[why ? why : REJ_MEDIA].code;
			warn->text = warns[why ? why : REJ_MEDIA].text;
		}
		return CV_SDP_ENOTACCEPTABLE;
	}
	err = finish_text(out, &b, 0);
	if (err)
		memset(neg, 0, sizeof(*neg));
	return err;
}

/* ---- processing the answer --------------------------------------------------
 */

/* Our offered format the answer's format stands for: same encoding, rate
 * and channels (RFC 3264 §6.1 lets the answerer renumber). */
static const struct cv_sdp_fmt *offer_fmt_for(const struct cv_sdp_media *om,
					      const struct cv_sdp_fmt *af)
{
	const struct cv_sdp_fmt *same_pt = NULL;
	for (uint32_t i = 0; i < om->nfmts; i++) {
		const struct cv_sdp_fmt *f = &om->fmts[i];
		if (!f->encoding.l ||
		    !cv_pl_casecmp_eq(f->encoding, af->encoding) ||
		    f->clock_rate != af->clock_rate ||
		    ch1(f->channels) != ch1(af->channels))
			continue;
		if (f->pt == af->pt)
			return f;
		if (!same_pt)
			same_pt = f;
	}
	return same_pt;
}

static int answer_process(struct wneg *neg, const struct cv_sdp *offer,
			  const struct cv_sdp *answer)
{
	if (!neg || !offer || !answer)
		return -EINVAL;
	memset(neg, 0, sizeof(*neg));
	/* RFC 3264 §6: as many m= lines as the offer, in the same order */
	if (offer->nmedia != answer->nmedia)
		return CV_EPROTO;
	for (uint32_t i = 0; i < offer->nmedia; i++)
		if (!cv_pl_casecmp_eq(offer->media[i].media,
				      answer->media[i].media))
			return CV_EPROTO;

	uint32_t offered = 0, accepted = 0;
	for (uint32_t i = 0; i < offer->nmedia && i < CV_SDP_NEG_MAX_MEDIA;
	     i++) {
		const struct cv_sdp_media *om = &offer->media[i],
					  *am = &answer->media[i];
		struct wmedia *nm = &neg->media[neg->nmedia++];
		neg_init(nm, i, om->media);
		if (om->port)
			offered++;
		if (om->port == 0 || am->port == 0)
			continue;
		if (!cv_pl_casecmp_eq(om->proto, am->proto))
			continue;
		for (uint32_t k = 0; k < am->nfmts; k++) {
			const struct cv_sdp_fmt *af = &am->fmts[k];
			const struct cv_sdp_fmt *of;
			if (af->pt < 0 || !af->encoding.l ||
			    !(of = offer_fmt_for(om, af)))
				continue;
			if (is_te(af->encoding)) {
				if (nm->dtmf_pt_send < 0) {
					nm->dtmf_pt_send = af->pt;
					nm->dtmf_pt_recv = of->pt;
					nm->dtmf_rate = af->clock_rate;
					cv_pl_strcpy(af->has_fmtp
							     ? af->fmtp
							     : CV_PL("0-15"),
						     nm->dtmf_events,
						     sizeof(nm->dtmf_events));
				}
			} else if (is_cn(af->encoding)) {
				if (nm->cn_pt_send < 0) {
					nm->cn_pt_send = af->pt;
					nm->cn_pt_recv = of->pt;
				}
			} else {
				neg_codec_add(nm, af, af->pt, of->pt);
			}
		}
		if (nm->ncodecs == 0) {
			nm->dtmf_pt_send = nm->dtmf_pt_recv = nm->cn_pt_send =
				nm->cn_pt_recv = -1;
			continue;
		}
		/* RFC 4568 §7.1.3: the answer's crypto names our tag */
		if (proto_is(om->proto, "RTP/SAVP") ||
		    proto_is(om->proto, "RTP/SAVPF")) {
			const struct cv_sdp_crypto *ac = NULL, *oc = NULL;
			for (uint32_t a = 0; a < am->ncrypto && !oc; a++) {
				for (uint32_t o = 0; o < om->ncrypto; o++) {
					if (om->crypto[o].tag ==
						    am->crypto[a].tag &&
					    cv_pl_eq(om->crypto[o].suite,
						     am->crypto[a].suite)) {
						ac = &am->crypto[a];
						oc = &om->crypto[o];
						break;
					}
				}
			}
			if (!oc ||
			    ac->key_params.l >= sizeof(nm->crypto_remote_key) ||
			    oc->key_params.l >= sizeof(nm->crypto_local_key)) {
				memset(nm->codecs, 0, sizeof(nm->codecs));
				nm->ncodecs = 0;
				nm->dtmf_pt_send = nm->dtmf_pt_recv = -1;
				nm->cn_pt_send = nm->cn_pt_recv = -1;
				continue;
			}
			nm->srtp = true;
			nm->crypto_tag = ac->tag;
			cv_pl_strcpy(ac->suite, nm->crypto_suite,
				     sizeof(nm->crypto_suite));
			cv_pl_strcpy(ac->key_params, nm->crypto_remote_key,
				     sizeof(nm->crypto_remote_key));
			cv_pl_strcpy(oc->key_params, nm->crypto_local_key,
				     sizeof(nm->crypto_local_key));
		}
		nm->rejected = false;
		accepted++;
		neg_remote(nm, answer, am, om->rtcp_mux && am->rtcp_mux);
		enum cv_sdp_dir ad = cv_sdp_media_dir(answer, am);
		if (nm->remote_null_addr)
			ad &= ~CV_SDP_RECVONLY;
		/* what we do: our offer's wish within the reverse of theirs */
		enum cv_sdp_dir od = cv_sdp_media_dir(offer, om);
		nm->dir = od & dir_rev(ad);
		nm->remote_hold = !(ad & CV_SDP_RECVONLY);
	}
	if (offered && !accepted)
		return CV_SDP_ENOTACCEPTABLE;
	return 0;
}

/* ---- packing ------------------------------------------------------------ */

void cv_sdp_neg_reset(struct cv_sdp_neg *neg)
{
	if (!neg)
		return;
	cv_mem_unref(neg->mem);
	memset(neg, 0, sizeof(*neg));
}

static size_t str_need(const char *s)
{
	return s[0] ? strlen(s) + 1 : 0;
}

/* Copies s into the string area at *pos; "" needs no room. */
static const char *str_put(char *area, size_t *pos, const char *s)
{
	if (!s[0])
		return "";
	size_t n = strlen(s) + 1;
	char *d = area + *pos;
	memcpy(d, s, n);
	*pos += n;
	return d;
}

/* One block: media[nmedia], then every media's codecs, then the strings. */
static int neg_pack(struct cv_sdp_neg *neg, const struct wneg *w)
{
	memset(neg, 0, sizeof(*neg));
	if (!w->nmedia)
		return 0;
	size_t ncodecs = 0, strs = 0;
	for (uint32_t i = 0; i < w->nmedia; i++) {
		const struct wmedia *m = &w->media[i];
		ncodecs += m->ncodecs;
		for (uint32_t k = 0; k < m->ncodecs; k++)
			strs += str_need(m->codecs[k].fmtp);
		strs += str_need(m->remote_addr) + str_need(m->crypto_suite) +
			str_need(m->crypto_remote_key) +
			str_need(m->crypto_local_key) +
			str_need(m->remote_ice_ufrag) +
			str_need(m->remote_ice_pwd) +
			str_need(m->remote_fingerprint) + str_need(m->mid);
	}
	size_t moff = 0, coff = w->nmedia * sizeof(struct cv_sdp_neg_media);
	size_t soff = coff + ncodecs * sizeof(struct cv_sdp_neg_codec);
	char *blk = cv_mem_zalloc(soff + strs, NULL);
	if (!blk)
		return -ENOMEM;
	struct cv_sdp_neg_media *pm =
		(struct cv_sdp_neg_media *)(void *)(blk + moff);
	struct cv_sdp_neg_codec *pc =
		(struct cv_sdp_neg_codec *)(void *)(blk + coff);
	char *area = blk + soff;
	size_t pos = 0;
	for (uint32_t i = 0; i < w->nmedia; i++) {
		const struct wmedia *m = &w->media[i];
		struct cv_sdp_neg_media *o = &pm[i];
		o->index = m->index;
		memcpy(o->media, m->media, sizeof(o->media));
		o->rejected = m->rejected;
		o->dir = m->dir;
		o->remote_hold = m->remote_hold;
		o->remote_null_addr = m->remote_null_addr;
		o->remote_addr = str_put(area, &pos, m->remote_addr);
		o->remote_rtp = m->remote_rtp;
		o->remote_rtcp = m->remote_rtcp;
		o->remote_port = m->remote_port;
		o->remote_rtcp_port = m->remote_rtcp_port;
		o->rtcp_mux = m->rtcp_mux;
		o->codecs = m->ncodecs ? pc : NULL;
		o->ncodecs = m->ncodecs;
		for (uint32_t k = 0; k < m->ncodecs; k++, pc++) {
			memcpy(pc->name, m->codecs[k].name, sizeof(pc->name));
			pc->clock_rate = m->codecs[k].clock_rate;
			pc->channels = m->codecs[k].channels;
			pc->pt_send = m->codecs[k].pt_send;
			pc->pt_recv = m->codecs[k].pt_recv;
			pc->fmtp = str_put(area, &pos, m->codecs[k].fmtp);
		}
		o->dtmf_pt_send = m->dtmf_pt_send;
		o->dtmf_pt_recv = m->dtmf_pt_recv;
		o->dtmf_rate = m->dtmf_rate;
		memcpy(o->dtmf_events, m->dtmf_events, sizeof(o->dtmf_events));
		o->cn_pt_send = m->cn_pt_send;
		o->cn_pt_recv = m->cn_pt_recv;
		o->ptime = m->ptime;
		o->maxptime = m->maxptime;
		o->srtp = m->srtp;
		o->crypto_suite = str_put(area, &pos, m->crypto_suite);
		o->crypto_tag = m->crypto_tag;
		o->crypto_remote_key =
			str_put(area, &pos, m->crypto_remote_key);
		o->crypto_local_key = str_put(area, &pos, m->crypto_local_key);
		o->remote_ice_ufrag = str_put(area, &pos, m->remote_ice_ufrag);
		o->remote_ice_pwd = str_put(area, &pos, m->remote_ice_pwd);
		o->remote_fingerprint =
			str_put(area, &pos, m->remote_fingerprint);
		o->remote_setup = m->remote_setup;
		o->mid = str_put(area, &pos, m->mid);
	}
	neg->media = pm;
	neg->nmedia = w->nmedia;
	neg->mem = blk;
	return 0;
}

int cv_sdp_answer_create(struct cv_sdp **out, struct cv_sdp_neg *neg,
			 struct cv_sdp_warning *warn,
			 const struct cv_sdp *offer,
			 const struct cv_sdp_local *local)
{
	if (!out || !neg || !offer)
		return -EINVAL;
	cv_sdp_neg_reset(neg);
	struct wneg *w = malloc(sizeof(*w));
	if (!w)
		return -ENOMEM;
	int err = answer_create(out, w, warn, offer, local);
	if (!err) {
		err = neg_pack(neg, w);
		if (err) {
			cv_mem_unref(*out);
			*out = NULL;
		}
	}
	free(w);
	return err;
}

int cv_sdp_answer_process(struct cv_sdp_neg *neg, const struct cv_sdp *offer,
			  const struct cv_sdp *answer)
{
	if (!neg || !offer || !answer)
		return -EINVAL;
	cv_sdp_neg_reset(neg);
	struct wneg *w = malloc(sizeof(*w));
	if (!w)
		return -ENOMEM;
	int err = answer_process(w, offer, answer);
	/* CV_SDP_ENOTACCEPTABLE still reports the rejected streams */
	if (!err || err == CV_SDP_ENOTACCEPTABLE) {
		int perr = neg_pack(neg, w);
		if (perr)
			err = perr;
	}
	free(w);
	return err;
}
