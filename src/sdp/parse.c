/* SDP parser (RFC 8866): two passes over the text. The first splits and
 * counts lines by kind, checking every limit, so the second can fill one
 * allocation holding the model and a copy of the text. Nothing is
 * allocated per line, and hostile input costs at most O(len). */
#include <arpa/inet.h>
#include <string.h>

#include "sdp_int.h"

#define SDP_DEF_MAX_LEN	     65536
#define SDP_DEF_MAX_LINES    2048
#define SDP_DEF_MAX_MEDIA    32
#define SDP_DEF_MAX_ATTRS    512
#define SDP_DEF_MAX_FMTS     128
#define SDP_DEF_MAX_LINE_LEN 8192

void cv_sdp_limits_default(struct cv_sdp_limits *l)
{
	l->max_len = SDP_DEF_MAX_LEN;
	l->max_lines = SDP_DEF_MAX_LINES;
	l->max_media = SDP_DEF_MAX_MEDIA;
	l->max_attrs = SDP_DEF_MAX_ATTRS;
	l->max_fmts = SDP_DEF_MAX_FMTS;
	l->max_line_len = SDP_DEF_MAX_LINE_LEN;
}

const char *cv_sdp_strerror(int err)
{
	if (err == CV_SDP_ENOTACCEPTABLE)
		return "no acceptable media in the offer";
	return cv_strerror(err);
}

const char *cv_sdp_dir_name(enum cv_sdp_dir d)
{
	switch (d) {
	case CV_SDP_SENDONLY:
		return "sendonly";
	case CV_SDP_RECVONLY:
		return "recvonly";
	case CV_SDP_SENDRECV:
		return "sendrecv";
	default:
		return "inactive";
	}
}

/* ---- small helpers ------------------------------------------------------ */

static inline bool is_sp(char c)
{
	return c == ' ' || c == '\t';
}

bool cv_sdp__tok(struct cv_pl *rest, struct cv_pl *tok)
{
	const char *p = rest->p, *e = rest->p + rest->l;
	while (p < e && is_sp(*p))
		p++;
	if (p == e) {
		rest->p = e;
		rest->l = 0;
		return false;
	}
	const char *s = p;
	while (p < e && !is_sp(*p))
		p++;
	tok->p = s;
	tok->l = (size_t)(p - s);
	rest->p = p;
	rest->l = (size_t)(e - p);
	return true;
}

bool cv_sdp__split(struct cv_pl s, char c, struct cv_pl *a, struct cv_pl *b)
{
	/* values are short: a loop beats a memchr call */
	const char *m = NULL;
	for (size_t i = 0; i < s.l; i++) {
		if (s.p[i] == c) {
			m = s.p + i;
			break;
		}
	}
	if (!m) {
		*a = s;
		b->p = s.p + s.l;
		b->l = 0;
		return false;
	}
	a->p = s.p;
	a->l = (size_t)(m - s.p);
	b->p = m + 1;
	b->l = s.l - a->l - 1;
	return true;
}

/* Everything after the leading space-separated tokens already taken. */
static struct cv_pl rest_trim(struct cv_pl rest)
{
	while (rest.l && is_sp(rest.p[0])) {
		rest.p++;
		rest.l--;
	}
	return rest;
}

bool cv_sdp__addr_literal(struct cv_pl addr, int *af, uint8_t ip[16])
{
	char tmp[64];
	if (addr.l == 0 || addr.l >= sizeof(tmp))
		return false;
	memcpy(tmp, addr.p, addr.l);
	tmp[addr.l] = '\0';
	memset(ip, 0, 16);
	if (inet_pton(AF_INET, tmp, ip) == 1) {
		*af = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, tmp, ip) == 1) {
		*af = AF_INET6;
		return true;
	}
	return false;
}

/* RFC 8866 §5.7: c=<nettype> <addrtype> <connection-address>; for IP4
 * multicast "addr/ttl[/n]", for IP6 "addr[/n]". */
int cv_sdp__conn_parse(struct cv_pl v, struct cv_sdp_conn *conn)
{
	struct cv_pl rest = v, a, b, c;
	memset(conn, 0, sizeof(*conn));
	if (!cv_sdp__tok(&rest, &conn->nettype) ||
	    !cv_sdp__tok(&rest, &conn->addrtype) || !cv_sdp__tok(&rest, &a))
		return CV_EPARSE;
	if (cv_sdp__tok(&rest, &c))
		return CV_EPARSE;
	conn->naddr = 1;
	if (cv_sdp__split(a, '/', &conn->addr, &b)) {
		struct cv_pl n1, n2;
		uint32_t x;
		bool two = cv_sdp__split(b, '/', &n1, &n2);
		if (cv_pl_u32(n1, &x))
			return CV_EPARSE;
		if (cv_pl_caseeq_str(conn->addrtype, "IP6")) {
			if (two)
				return CV_EPARSE;
			conn->naddr = x;
		} else {
			conn->ttl = x;
			if (two && cv_pl_u32(n2, &conn->naddr))
				return CV_EPARSE;
		}
		if (conn->naddr == 0)
			return CV_EPARSE;
	}
	if (conn->addr.l == 0)
		return CV_EPARSE;
	if (!cv_sdp__addr_literal(conn->addr, &conn->af, conn->ip))
		conn->af = AF_UNSPEC; /* FQDN (RFC 8866 §5.7) */
	conn->present = true;
	return 0;
}

bool cv_sdp_conn_is_null(const struct cv_sdp_conn *c)
{
	static const uint8_t zero[4];
	return c && c->present && c->af == AF_INET &&
	       memcmp(c->ip, zero, 4) == 0;
}

/* RFC 3551 §6 table 4 (audio) and 5 (video): the static assignments. */
static const struct {
	int pt;
	const char *name;
	uint32_t rate, ch;
} static_pts[] = {
	{0, "PCMU", 8000, 1},	{3, "GSM", 8000, 1},	{4, "G723", 8000, 1},
	{5, "DVI4", 8000, 1},	{6, "DVI4", 16000, 1},	{7, "LPC", 8000, 1},
	{8, "PCMA", 8000, 1},	{9, "G722", 8000, 1},	{10, "L16", 44100, 2},
	{11, "L16", 44100, 1},	{12, "QCELP", 8000, 1}, {13, "CN", 8000, 1},
	{14, "MPA", 90000, 1},	{15, "G728", 8000, 1},	{16, "DVI4", 11025, 1},
	{17, "DVI4", 22050, 1}, {18, "G729", 8000, 1},	{25, "CelB", 90000, 1},
	{26, "JPEG", 90000, 1}, {28, "nv", 90000, 1},	{31, "H261", 90000, 1},
	{32, "MPV", 90000, 1},	{33, "MP2T", 90000, 1}, {34, "H263", 90000, 1},
};

bool cv_sdp_static_pt(int pt, const char **name, uint32_t *rate,
		      uint32_t *channels)
{
	for (size_t i = 0; i < CV_ARRAY_SIZE(static_pts); i++) {
		if (static_pts[i].pt == pt) {
			if (name)
				*name = static_pts[i].name;
			if (rate)
				*rate = static_pts[i].rate;
			if (channels)
				*channels = static_pts[i].ch;
			return true;
		}
	}
	return false;
}

/* ---- attribute kinds ---------------------------------------------------- */

enum akind {
	AK_OTHER = 0,
	AK_RTPMAP,
	AK_FMTP,
	AK_PTIME,
	AK_MAXPTIME,
	AK_SENDRECV,
	AK_SENDONLY,
	AK_RECVONLY,
	AK_INACTIVE,
	AK_RTCP,
	AK_RTCP_MUX,
	AK_RTCP_RSIZE,
	AK_CRYPTO,
	AK_FINGERPRINT,
	AK_SETUP,
	AK_ICE_UFRAG,
	AK_ICE_PWD,
	AK_ICE_OPTIONS,
	AK_ICE_LITE,
	AK_CANDIDATE,
	AK_END_OF_CANDIDATES,
	AK_MID,
	AK_GROUP,
	AK_SSRC,
	AK_EXTMAP,
	AK_RTCP_FB,
};

/* Attribute names are case-sensitive (RFC 8866 §5.13). */

static enum akind attr_kind(struct cv_pl name)
{
	/* constant-size memcmp is inlined: no call per candidate name */
#define EQ(lit) (memcmp(p, lit, sizeof(lit) - 1) == 0)
	const char *p = name.p;
	switch (name.l) {
	case 3:
		return EQ("mid") ? AK_MID : AK_OTHER;
	case 4:
		return EQ("fmtp")   ? AK_FMTP
		       : EQ("rtcp") ? AK_RTCP
		       : EQ("ssrc") ? AK_SSRC
				    : AK_OTHER;
	case 5:
		return EQ("ptime")   ? AK_PTIME
		       : EQ("setup") ? AK_SETUP
		       : EQ("group") ? AK_GROUP
				     : AK_OTHER;
	case 6:
		return EQ("rtpmap")   ? AK_RTPMAP
		       : EQ("crypto") ? AK_CRYPTO
		       : EQ("extmap") ? AK_EXTMAP
				      : AK_OTHER;
	case 7:
		return EQ("ice-pwd")   ? AK_ICE_PWD
		       : EQ("rtcp-fb") ? AK_RTCP_FB
				       : AK_OTHER;
	case 8:
		return EQ("sendrecv")	? AK_SENDRECV
		       : EQ("sendonly") ? AK_SENDONLY
		       : EQ("recvonly") ? AK_RECVONLY
		       : EQ("inactive") ? AK_INACTIVE
		       : EQ("rtcp-mux") ? AK_RTCP_MUX
		       : EQ("maxptime") ? AK_MAXPTIME
		       : EQ("ice-lite") ? AK_ICE_LITE
					: AK_OTHER;
	case 9:
		return EQ("ice-ufrag")	 ? AK_ICE_UFRAG
		       : EQ("candidate") ? AK_CANDIDATE
					 : AK_OTHER;
	case 10:
		return EQ("rtcp-rsize") ? AK_RTCP_RSIZE : AK_OTHER;
	case 11:
		return EQ("fingerprint")   ? AK_FINGERPRINT
		       : EQ("ice-options") ? AK_ICE_OPTIONS
					   : AK_OTHER;
	case 17:
		return EQ("end-of-candidates") ? AK_END_OF_CANDIDATES
					       : AK_OTHER;
	default:
		return AK_OTHER;
	}
#undef EQ
}

static void attr_split(struct cv_pl v, struct cv_sdp_attr *a)
{
	a->has_value = cv_sdp__split(v, ':', &a->name, &a->value);
}

/* ---- pass 1: split and count --------------------------------------------- */

struct counts {
	uint32_t lines, attrs, bw, media, fmts;
	uint32_t fingerprints, crypto, candidates, ssrcs, extmaps, rtcp_fbs,
		groups;
};

/* Line iterator. Lines end in LF or CRLF; the last may lack an end. */
struct lineit {
	const char *p, *e;
};

/* 1 with a line, 0 at the end, <0 on error. Empty lines are skipped. */
static int line_next(struct lineit *it, const struct cv_sdp_limits *lim,
		     struct cv_sdp_line *out, bool validate)
{
	for (;;) {
		if (it->p >= it->e)
			return 0;
		const char *s = it->p, *nl;
		if (validate) {
			/* One byte loop finds the end and rejects NUL and a
			 * bare CR (never valid inside a line, RFC 8866 §5). */
			const char *q = s;
			nl = NULL;
			/* 8 bytes at a time while none is below 14 (Bit
			 * Twiddling Hacks, "hasless": a byte < n in a word) */
			while (it->e - q >= 8) {
				uint64_t w;
				memcpy(&w, q, 8);
				if ((w - 0x0e0e0e0e0e0e0e0eull) & ~w &
				    0x8080808080808080ull)
					break;
				q += 8;
			}
			while (q < it->e) {
				unsigned char c = (unsigned char)*q;
				if (CV_LIKELY(c > '\r')) {
					q++;
					continue;
				}
				if (c == '\n') {
					nl = q;
					break;
				}
				if (c == '\0' ||
				    (c == '\r' &&
				     (q + 1 == it->e || q[1] != '\n')))
					return CV_EPARSE;
				q++;
			}
		} else {
			/* the second pass reads text the first one checked */
			nl = memchr(s, '\n', (size_t)(it->e - s));
		}
		const char *le = nl ? nl : it->e;
		it->p = nl ? nl + 1 : it->e;
		if (le > s && le[-1] == '\r')
			le--;
		size_t l = (size_t)(le - s);
		if (l == 0)
			continue;
		if (validate) {
			if (l > lim->max_line_len)
				return CV_ETOOBIG;
			/* RFC 8866 §5: <type>=<value>, one letter, no spaces */
			if (l < 2 || s[0] < 'a' || s[0] > 'z' || s[1] != '=')
				return CV_EPARSE;
		}
		out->type = s[0];
		out->value.p = s + 2;
		out->value.l = l - 2;
		return 1;
	}
}

static int count_pass(const char *text, size_t len,
		      const struct cv_sdp_limits *lim, struct counts *n)
{
	struct lineit it = {text, text + len};
	struct cv_sdp_line ln;
	uint32_t sect_attrs = 0;
	int r;
	memset(n, 0, sizeof(*n));
	while ((r = line_next(&it, lim, &ln, true)) > 0) {
		if (++n->lines > lim->max_lines)
			return CV_ETOOBIG;
		if (n->lines == 1 && ln.type != 'v')
			return CV_EPARSE; /* RFC 8866 §5: v= comes first */
		switch (ln.type) {
		case 'm': {
			if (++n->media > lim->max_media)
				return CV_ETOOBIG;
			sect_attrs = 0;
			struct cv_pl rest = ln.value, tok;
			uint32_t k = 0;
			while (cv_sdp__tok(&rest, &tok))
				k++;
			if (k < 4)
				return CV_EPARSE;
			if (k - 3 > lim->max_fmts)
				return CV_ETOOBIG;
			n->fmts += k - 3;
			break;
		}
		case 'b':
			n->bw++;
			break;
		case 'a': {
			if (++sect_attrs > lim->max_attrs)
				return CV_ETOOBIG;
			n->attrs++;
			struct cv_sdp_attr a;
			attr_split(ln.value, &a);
			switch (attr_kind(a.name)) {
			case AK_FINGERPRINT:
				n->fingerprints++;
				break;
			case AK_CRYPTO:
				n->crypto++;
				break;
			case AK_CANDIDATE:
				n->candidates++;
				break;
			case AK_SSRC:
				n->ssrcs++;
				break;
			case AK_EXTMAP:
				n->extmaps++;
				break;
			case AK_RTCP_FB:
				n->rtcp_fbs++;
				break;
			case AK_GROUP:
				n->groups++;
				break;
			default:
				break;
			}
			break;
		}
		default:
			break;
		}
	}
	if (r < 0)
		return r;
	if (n->lines == 0)
		return CV_EPARSE;
	return 0;
}

/* ---- pass 2: fill ----------------------------------------------------------
 */

struct pools {
	struct cv_sdp_line *lines;
	struct cv_sdp_attr *attrs;
	struct cv_sdp_bw *bw;
	struct cv_sdp_fmt *fmts;
	struct cv_sdp_fingerprint *fingerprints;
	struct cv_sdp_crypto *crypto;
	struct cv_sdp_candidate *candidates;
	struct cv_sdp_ssrc *ssrcs;
	struct cv_sdp_extmap *extmaps;
	struct cv_sdp_rtcp_fb *rtcp_fbs;
	struct cv_sdp_group *groups;
};

static int parse_u16(struct cv_pl pl, uint16_t *out)
{
	uint32_t v;
	if (cv_pl_u32(pl, &v) || v > 65535)
		return CV_EPARSE;
	*out = (uint16_t)v;
	return 0;
}

/* o=<username> <sess-id> <sess-version> <nettype> <addrtype> <addr> */
static int parse_origin(struct cv_sdp *sdp, struct cv_pl v)
{
	struct cv_pl rest = v, a, b, c, x;
	if (!cv_sdp__tok(&rest, &sdp->origin_user) ||
	    !cv_sdp__tok(&rest, &sdp->sess_id) ||
	    !cv_sdp__tok(&rest, &sdp->sess_version_pl))
		return CV_EPARSE;
	if (cv_pl_u64(sdp->sess_version_pl, &sdp->sess_version))
		return CV_EPARSE;
	if (!cv_sdp__tok(&rest, &a) || !cv_sdp__tok(&rest, &b) ||
	    !cv_sdp__tok(&rest, &c) || cv_sdp__tok(&rest, &x))
		return CV_EPARSE;
	struct cv_sdp_conn *o = &sdp->origin;
	o->nettype = a;
	o->addrtype = b;
	o->addr = c;
	o->naddr = 1;
	if (!cv_sdp__addr_literal(c, &o->af, o->ip))
		o->af = AF_UNSPEC;
	o->present = true;
	return 0;
}

/* m=<media> <port>[/<number of ports>] <proto> <fmt> ... */
static int parse_mline(struct cv_sdp_media *m, struct cv_pl v, struct pools *pl)
{
	struct cv_pl rest = v, port, tok, p1, p2;
	if (!cv_sdp__tok(&rest, &m->media) || !cv_sdp__tok(&rest, &port) ||
	    !cv_sdp__tok(&rest, &m->proto))
		return CV_EPARSE;
	m->nports = 1;
	if (cv_sdp__split(port, '/', &p1, &p2)) {
		if (cv_pl_u32(p2, &m->nports) || m->nports == 0 ||
		    m->nports > 65536)
			return CV_EPARSE;
	}
	if (parse_u16(p1, &m->port))
		return CV_EPARSE;
	bool rtp = m->proto.l >= 3 && memmem(m->proto.p, m->proto.l, "RTP", 3);
	m->fmts = pl->fmts;
	while (cv_sdp__tok(&rest, &tok)) {
		struct cv_sdp_fmt *f = &m->fmts[m->nfmts++];
		f->id = tok;
		f->pt = -1;
		f->channels = 1;
		uint32_t pt;
		if (rtp && !cv_pl_u32(tok, &pt) && pt <= 127)
			f->pt = (int)pt;
	}
	pl->fmts += m->nfmts;
	return 0;
}

static struct cv_sdp_fmt *fmt_by_id(struct cv_sdp_media *m, struct cv_pl id)
{
	uint32_t v;
	if (!cv_pl_u32(id, &v) && v <= 127) {
		for (uint32_t i = 0; i < m->nfmts; i++)
			if (m->fmts[i].pt == (int)v)
				return &m->fmts[i];
	}
	for (uint32_t i = 0; i < m->nfmts; i++)
		if (cv_pl_eq(m->fmts[i].id, id))
			return &m->fmts[i];
	return NULL;
}

/* a=rtpmap:<pt> <encoding name>/<clock rate>[/<encoding parameters>] */
static void parse_rtpmap(struct cv_sdp_media *m, struct cv_pl v)
{
	struct cv_pl rest = v, id, enc, name, r, rate, ch, x;
	if (!m || !cv_sdp__tok(&rest, &id) || !cv_sdp__tok(&rest, &enc) ||
	    cv_sdp__tok(&rest, &x))
		return;
	struct cv_sdp_fmt *f = fmt_by_id(m, id);
	if (!f || f->has_rtpmap)
		return;
	if (!cv_sdp__split(enc, '/', &name, &r) || name.l == 0)
		return;
	uint32_t clock, chans = 1;
	bool has_ch = cv_sdp__split(r, '/', &rate, &ch);
	if (cv_pl_u32(rate, &clock) || clock == 0)
		return;
	if (has_ch && (cv_pl_u32(ch, &chans) || chans == 0 || chans > 255))
		return;
	f->has_rtpmap = true;
	f->encoding = name;
	f->clock_rate = clock;
	f->channels = chans;
}

/* a=fmtp:<format> <format specific parameters> */
static void parse_fmtp(struct cv_sdp_media *m, struct cv_pl v)
{
	struct cv_pl rest = v, id;
	if (!m || !cv_sdp__tok(&rest, &id))
		return;
	struct cv_sdp_fmt *f = fmt_by_id(m, id);
	if (!f || f->has_fmtp)
		return;
	f->has_fmtp = true;
	f->fmtp = rest_trim(rest);
}

/* a=crypto:<tag> <crypto-suite> <key-params> [<session-params>]
 * RFC 4568 §9.1; key-params: "inline:" key||salt ["|" lifetime] ["|" MKI:len],
 * several separated by ';'. */
static bool parse_crypto(struct cv_sdp_crypto *c, struct cv_pl v)
{
	struct cv_pl rest = v, tag, kp1, kpr, method, info, k, l, mki;
	memset(c, 0, sizeof(*c));
	if (!cv_sdp__tok(&rest, &tag) || !cv_sdp__tok(&rest, &c->suite) ||
	    !cv_sdp__tok(&rest, &c->key_params))
		return false;
	if (tag.l > 9 || cv_pl_u32(tag, &c->tag) || c->suite.l == 0)
		return false;
	c->session_params = rest_trim(rest);
	cv_sdp__split(c->key_params, ';', &kp1, &kpr);
	if (!cv_sdp__split(kp1, ':', &method, &info) ||
	    !cv_pl_caseeq_str(method, "inline"))
		return false;
	/* info = key||salt ["|" lifetime] ["|" mki:len] */
	struct cv_pl r2;
	cv_sdp__split(info, '|', &k, &r2);
	if (k.l == 0)
		return false;
	c->key_salt = k;
	if (r2.l) {
		struct cv_pl r3;
		cv_sdp__split(r2, '|', &l, &r3);
		if (r3.l) {
			c->lifetime = l;
			mki = r3;
		} else if (memchr(l.p, ':', l.l)) {
			mki = l; /* "inline:KEY|1:4": MKI without lifetime */
		} else {
			c->lifetime = l;
			mki.p = NULL;
			mki.l = 0;
		}
		c->mki = mki;
	}
	return true;
}

/* a=fingerprint:<hash-func> <fingerprint> (RFC 8122 §5) */
static bool parse_fingerprint(struct cv_sdp_fingerprint *f, struct cv_pl v)
{
	struct cv_pl rest = v, x;
	return cv_sdp__tok(&rest, &f->hash_func) &&
	       cv_sdp__tok(&rest, &f->value) && !cv_sdp__tok(&rest, &x);
}

static enum cv_sdp_setup parse_setup(struct cv_pl v)
{
	if (cv_pl_eq_str(v, "active"))
		return CV_SDP_SETUP_ACTIVE;
	if (cv_pl_eq_str(v, "passive"))
		return CV_SDP_SETUP_PASSIVE;
	if (cv_pl_eq_str(v, "actpass"))
		return CV_SDP_SETUP_ACTPASS;
	if (cv_pl_eq_str(v, "holdconn"))
		return CV_SDP_SETUP_HOLDCONN;
	return CV_SDP_SETUP_NONE;
}

/* a=candidate:<foundation> <component-id> <transport> <priority>
 *   <connection-address> <port> typ <cand-type> [raddr <a>] [rport <p>]
 *   *(<extension-att-name> <extension-att-value>)   (RFC 8839 §5.1) */
static bool parse_candidate(struct cv_sdp_candidate *c, struct cv_pl v)
{
	struct cv_pl rest = v, comp, prio, addr, port, typ, tok;
	memset(c, 0, sizeof(*c));
	if (!cv_sdp__tok(&rest, &c->foundation) || !cv_sdp__tok(&rest, &comp) ||
	    !cv_sdp__tok(&rest, &c->transport) || !cv_sdp__tok(&rest, &prio) ||
	    !cv_sdp__tok(&rest, &addr) || !cv_sdp__tok(&rest, &port) ||
	    !cv_sdp__tok(&rest, &typ) || !cv_sdp__tok(&rest, &c->type))
		return false;
	if (cv_pl_u32(comp, &c->component) || c->component == 0 ||
	    c->component > 256 || cv_pl_u32(prio, &c->priority) ||
	    parse_u16(port, &c->port) || !cv_pl_eq_str(typ, "typ"))
		return false;
	c->addr.addr = addr;
	c->addr.naddr = 1;
	c->addr.present = true;
	if (!cv_sdp__addr_literal(addr, &c->addr.af, c->addr.ip))
		c->addr.af = AF_UNSPEC; /* FQDN or mDNS name */
	for (int i = 0; i < 2; i++) {
		struct cv_pl save = rest, val;
		if (!cv_sdp__tok(&rest, &tok))
			break;
		if (cv_pl_eq_str(tok, "raddr") && !c->has_raddr &&
		    cv_sdp__tok(&rest, &val)) {
			c->has_raddr = true;
			c->raddr = val;
		} else if (cv_pl_eq_str(tok, "rport") &&
			   cv_sdp__tok(&rest, &val)) {
			if (parse_u16(val, &c->rport))
				return false;
		} else {
			rest = save;
			break;
		}
	}
	c->extensions = rest_trim(rest);
	return true;
}

/* a=ssrc:<ssrc-id> <attribute>[:<value>] (RFC 5576 §4.1) */
static bool parse_ssrc(struct cv_sdp_ssrc *s, struct cv_pl v)
{
	struct cv_pl rest = v, id, av;
	memset(s, 0, sizeof(*s));
	if (!cv_sdp__tok(&rest, &id) || cv_pl_u32(id, &s->ssrc))
		return false;
	av = rest_trim(rest);
	cv_sdp__split(av, ':', &s->attr, &s->value);
	return true;
}

/* a=extmap:<value>["/"<direction>] <URI> <extensionattributes> */
static bool parse_extmap(struct cv_sdp_extmap *x, struct cv_pl v)
{
	struct cv_pl rest = v, idd, id;
	memset(x, 0, sizeof(*x));
	if (!cv_sdp__tok(&rest, &idd) || !cv_sdp__tok(&rest, &x->uri))
		return false;
	cv_sdp__split(idd, '/', &id, &x->direction);
	if (cv_pl_u32(id, &x->id) || x->id == 0 || x->id > 4095)
		return false;
	x->ext_attrs = rest_trim(rest);
	return true;
}

/* a=rtcp-fb:<pt or *> <type> [<param>...] (RFC 4585 §4.2) */
static bool parse_rtcp_fb(struct cv_sdp_rtcp_fb *f, struct cv_pl v)
{
	struct cv_pl rest = v;
	memset(f, 0, sizeof(*f));
	if (!cv_sdp__tok(&rest, &f->pt) || !cv_sdp__tok(&rest, &f->type))
		return false;
	f->param = rest_trim(rest);
	return true;
}

/* a=rtcp:<port> [<nettype> <addrtype> <connection-address>] (RFC 3605) */
static bool parse_rtcp(struct cv_sdp_media *m, struct cv_pl v)
{
	struct cv_pl rest = v, port;
	if (!cv_sdp__tok(&rest, &port) || parse_u16(port, &m->rtcp_port))
		return false;
	rest = rest_trim(rest);
	if (rest.l && cv_sdp__conn_parse(rest, &m->rtcp_conn))
		return false;
	return true;
}

/* Typed view of one attribute; malformed known attributes keep only their
 * verbatim copy (docs/sdp.md: leniency). */
static void parse_attr(struct cv_sdp *sdp, struct cv_sdp_common *cm,
		       struct cv_sdp_media *m, const struct cv_sdp_attr *a,
		       struct pools *pl)
{
	struct cv_pl v = a->value;
	enum akind kind = attr_kind(a->name);
	switch (kind) {
	case AK_RTPMAP:
		parse_rtpmap(m, v);
		break;
	case AK_FMTP:
		parse_fmtp(m, v);
		break;
	case AK_PTIME:
	case AK_MAXPTIME: {
		/* ptime may carry decimals ("20.0"): keep the integer part */
		struct cv_pl ip, fp;
		uint32_t x;
		cv_sdp__split(cv_pl_trim(v), '.', &ip, &fp);
		if (m && !cv_pl_u32(ip, &x) && x <= 10000) {
			if (kind == AK_PTIME)
				m->ptime = x;
			else
				m->maxptime = x;
		}
		break;
	}
	case AK_SENDRECV:
		cm->has_dir = true;
		cm->dir = CV_SDP_SENDRECV;
		break;
	case AK_SENDONLY:
		cm->has_dir = true;
		cm->dir = CV_SDP_SENDONLY;
		break;
	case AK_RECVONLY:
		cm->has_dir = true;
		cm->dir = CV_SDP_RECVONLY;
		break;
	case AK_INACTIVE:
		cm->has_dir = true;
		cm->dir = CV_SDP_INACTIVE;
		break;
	case AK_RTCP:
		if (m && !m->has_rtcp) {
			if (parse_rtcp(m, v)) {
				m->has_rtcp = true;
			} else {
				m->rtcp_port = 0;
				memset(&m->rtcp_conn, 0, sizeof(m->rtcp_conn));
			}
		}
		break;
	case AK_RTCP_MUX:
		if (m)
			m->rtcp_mux = true;
		break;
	case AK_RTCP_RSIZE:
		if (m)
			m->rtcp_rsize = true;
		break;
	case AK_CRYPTO:
		/* RFC 4568 §9.1: media level only */
		if (m && parse_crypto(&pl->crypto[0], v)) {
			pl->crypto++;
			m->ncrypto++;
		}
		break;
	case AK_FINGERPRINT:
		if (parse_fingerprint(&pl->fingerprints[0], v)) {
			pl->fingerprints++;
			cm->nfingerprints++;
		}
		break;
	case AK_SETUP:
		cm->setup = parse_setup(v);
		break;
	case AK_ICE_UFRAG:
		cm->ice_ufrag = v;
		break;
	case AK_ICE_PWD:
		cm->ice_pwd = v;
		break;
	case AK_ICE_OPTIONS:
		cm->ice_options = v;
		break;
	case AK_ICE_LITE:
		cm->ice_lite = true;
		break;
	case AK_CANDIDATE:
		if (m && parse_candidate(&pl->candidates[0], v)) {
			pl->candidates++;
			m->ncandidates++;
		}
		break;
	case AK_END_OF_CANDIDATES:
		if (m)
			m->end_of_candidates = true;
		break;
	case AK_MID:
		if (m)
			m->mid = v;
		break;
	case AK_GROUP:
		if (!m) {
			struct cv_pl rest = v;
			struct cv_sdp_group *g = &pl->groups[0];
			if (cv_sdp__tok(&rest, &g->semantics)) {
				g->mids = rest_trim(rest);
				pl->groups++;
				sdp->ngroups++;
			}
		}
		break;
	case AK_SSRC:
		if (m && parse_ssrc(&pl->ssrcs[0], v)) {
			pl->ssrcs++;
			m->nssrcs++;
		}
		break;
	case AK_EXTMAP:
		if (m && parse_extmap(&pl->extmaps[0], v)) {
			pl->extmaps++;
			m->nextmaps++;
		}
		break;
	case AK_RTCP_FB:
		if (m && parse_rtcp_fb(&pl->rtcp_fbs[0], v)) {
			pl->rtcp_fbs++;
			m->nrtcp_fbs++;
		}
		break;
	default:
		break;
	}
}

/* Start a section: its arrays begin where the pools stand now. */
static void section_begin(struct cv_sdp_common *cm, struct pools *pl)
{
	cm->lines = pl->lines;
	cm->attrs = pl->attrs;
	cm->bw = pl->bw;
	cm->fingerprints = pl->fingerprints;
}

static void media_finish(struct cv_sdp_media *m)
{
	/* RFC 3551 §6: static payload types need no rtpmap. */
	for (uint32_t i = 0; i < m->nfmts; i++) {
		struct cv_sdp_fmt *f = &m->fmts[i];
		const char *name;
		if (f->has_rtpmap || f->pt < 0)
			continue;
		if (cv_sdp_static_pt(f->pt, &name, &f->clock_rate,
				     &f->channels))
			f->encoding = cv_pl_str(name);
	}
}

static int fill_pass(struct cv_sdp *sdp, const char *text, size_t len,
		     const struct cv_sdp_limits *lim, struct pools *pl)
{
	struct lineit it = {text, text + len};
	struct cv_sdp_line ln;
	struct cv_sdp_common *cm = &sdp->c;
	struct cv_sdp_media *m = NULL;
	bool seen_o = false, seen_t = false;
	int r, err;

	section_begin(cm, pl);
	while ((r = line_next(&it, lim, &ln, false)) > 0) {
		if (ln.type == 'm') {
			if (m)
				media_finish(m);
			m = &sdp->media[sdp->nmedia++];
			cm = &m->c;
			section_begin(cm, pl);
			m->crypto = pl->crypto;
			m->candidates = pl->candidates;
			m->ssrcs = pl->ssrcs;
			m->extmaps = pl->extmaps;
			m->rtcp_fbs = pl->rtcp_fbs;
			err = parse_mline(m, ln.value, pl);
			if (err)
				return err;
		}
		*pl->lines++ = ln;
		cm->nlines++;
		switch (ln.type) {
		case 'v':
			if (m || cm->nlines != 1 ||
			    cv_pl_u32(ln.value, &sdp->version))
				return CV_EPARSE;
			break;
		case 'o':
			if (m || seen_o)
				return CV_EPARSE;
			seen_o = true;
			err = parse_origin(sdp, ln.value);
			if (err)
				return err;
			break;
		case 's':
			if (!m && sdp->name.p == NULL)
				sdp->name = ln.value;
			break;
		case 't':
			if (!m && !seen_t) {
				struct cv_pl rest = ln.value, a, b;
				if (!cv_sdp__tok(&rest, &a) ||
				    !cv_sdp__tok(&rest, &b) ||
				    cv_pl_u64(a, &sdp->t_start) ||
				    cv_pl_u64(b, &sdp->t_stop))
					return CV_EPARSE;
				seen_t = true;
			}
			break;
		case 'c':
			/* several c= lines are legal (multicast); the first is
			 * typed */
			if (!cm->conn.present) {
				err = cv_sdp__conn_parse(ln.value, &cm->conn);
				if (err)
					return err;
			}
			break;
		case 'b': {
			struct cv_pl t, val;
			struct cv_sdp_bw *bw = pl->bw;
			if (cv_sdp__split(ln.value, ':', &t, &val) && t.l &&
			    !cv_pl_u32(val, &bw->value)) {
				bw->type = t;
				pl->bw++;
				cm->nbw++;
			}
			break;
		}
		case 'a': {
			struct cv_sdp_attr *a = pl->attrs++;
			attr_split(ln.value, a);
			cm->nattrs++;
			parse_attr(sdp, cm, m, a, pl);
			break;
		}
		default:
			break;
		}
	}
	if (r < 0)
		return r;
	if (m)
		media_finish(m);
	/* RFC 8866 §5.2: o= is mandatory; RFC 3264 needs its version. s= and
	 * t= are mandatory too, but real peers omit them: tolerated. */
	if (!seen_o)
		return CV_EPARSE;
	return 0;
}

static size_t align8(size_t n)
{
	return (n + 7u) & ~(size_t)7u;
}

int cv_sdp_parse(struct cv_sdp **out, const char *text, size_t len,
		 const struct cv_sdp_limits *limits)
{
	struct cv_sdp_limits lim;
	struct counts n;
	int err;

	if (!out || (!text && len))
		return -EINVAL;
	*out = NULL;
	cv_sdp_limits_default(&lim);
	if (limits) {
		if (limits->max_len)
			lim.max_len = limits->max_len;
		if (limits->max_lines)
			lim.max_lines = limits->max_lines;
		if (limits->max_media)
			lim.max_media = limits->max_media;
		if (limits->max_attrs)
			lim.max_attrs = limits->max_attrs;
		if (limits->max_fmts)
			lim.max_fmts = limits->max_fmts;
		if (limits->max_line_len)
			lim.max_line_len = limits->max_line_len;
	}
	if (len > lim.max_len)
		return CV_ETOOBIG;
	err = count_pass(text, len, &lim, &n);
	if (err)
		return err;

	/* One block: header, media, then every pool, then the text. All the
	 * counts are bounded by len, so the sum cannot overflow. */
	size_t off = align8(sizeof(struct cv_sdp));
	size_t o_media = off;
	off += align8((size_t)n.media * sizeof(struct cv_sdp_media));
#define POOL(field, type)                                                      \
	size_t o_##field = off;                                                \
	off += align8((size_t)n.field * sizeof(type));
	POOL(lines, struct cv_sdp_line)
	POOL(attrs, struct cv_sdp_attr)
	POOL(bw, struct cv_sdp_bw)
	POOL(fmts, struct cv_sdp_fmt)
	POOL(fingerprints, struct cv_sdp_fingerprint)
	POOL(crypto, struct cv_sdp_crypto)
	POOL(candidates, struct cv_sdp_candidate)
	POOL(ssrcs, struct cv_sdp_ssrc)
	POOL(extmaps, struct cv_sdp_extmap)
	POOL(rtcp_fbs, struct cv_sdp_rtcp_fb)
	POOL(groups, struct cv_sdp_group)
#undef POOL
	size_t o_text = off;
	off += len + 1;

	char *blk = cv_mem_zalloc(off, NULL);
	if (!blk)
		return -ENOMEM;
	struct cv_sdp *sdp = (struct cv_sdp *)(void *)blk;
	sdp->media = (struct cv_sdp_media *)(void *)(blk + o_media);
	struct pools pl = {
		.lines = (void *)(blk + o_lines),
		.attrs = (void *)(blk + o_attrs),
		.bw = (void *)(blk + o_bw),
		.fmts = (void *)(blk + o_fmts),
		.fingerprints = (void *)(blk + o_fingerprints),
		.crypto = (void *)(blk + o_crypto),
		.candidates = (void *)(blk + o_candidates),
		.ssrcs = (void *)(blk + o_ssrcs),
		.extmaps = (void *)(blk + o_extmaps),
		.rtcp_fbs = (void *)(blk + o_rtcp_fbs),
		.groups = (void *)(blk + o_groups),
	};
	char *copy = blk + o_text;
	if (len)
		memcpy(copy, text, len);
	sdp->raw.p = copy;
	sdp->raw.l = len;
	sdp->groups = pl.groups;

	/* Typed arrays of one section are contiguous in their pool. */
	err = fill_pass(sdp, copy, len, &lim, &pl);
	if (err) {
		cv_mem_unref(sdp);
		return err;
	}
	*out = sdp;
	return 0;
}
