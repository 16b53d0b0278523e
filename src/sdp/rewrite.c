/* Rewriting a parsed description for a relay: new addresses and ports,
 * ICE and RTCP attributes of the old leg dropped, everything else kept in
 * order. The result is printed and parsed back like every built SDP. */
#include <string.h>

#include "sdp_int.h"

static bool drop_attr(const struct cv_sdp_rewrite *rw, struct cv_pl name)
{
	/* RFC 8839 §5: the ICE attributes describe the old leg's transport */
	static const char *const ice[] = {
		"ice-ufrag",	     "ice-pwd",	    "ice-options",
		"ice-lite",	     "candidate",   "end-of-candidates",
		"remote-candidates", "ice-mismatch"};
	if (rw->strip_ice)
		for (size_t i = 0; i < CV_ARRAY_SIZE(ice); i++)
			if (cv_pl_eq_str(name, ice[i]))
				return true;
	if (rw->strip_rtcp && cv_pl_eq_str(name, "rtcp"))
		return true;
	for (size_t i = 0; i < rw->ndrop_attrs; i++)
		if (rw->drop_attrs[i] && cv_pl_eq_str(name, rw->drop_attrs[i]))
			return true;
	return false;
}

static void rewrite_line(struct cv_buf *b, const struct cv_sdp *in,
			 const struct cv_sdp_line *l,
			 const struct cv_sdp_rewrite *rw, const char *at,
			 int port, int rtcp_port)
{
	struct cv_pl rest = l->value;
	switch (l->type) {
	case 'o':
		if (rw->addr || rw->set_version) {
			cv_buf_printf(b, "o=" CV_PL_FMT " " CV_PL_FMT " ",
				      CV_PL_ARG(in->origin_user),
				      CV_PL_ARG(in->sess_id));
			if (rw->set_version)
				cv_buf_printf(
					b, "%llu",
					(unsigned long long)rw->sess_version);
			else
				cv_buf_append_pl(b, in->sess_version_pl);
			if (rw->addr)
				cv_buf_printf(b, " IN %s %s\r\n", at, rw->addr);
			else
				cv_buf_printf(b,
					      " " CV_PL_FMT " " CV_PL_FMT
					      " " CV_PL_FMT "\r\n",
					      CV_PL_ARG(in->origin.nettype),
					      CV_PL_ARG(in->origin.addrtype),
					      CV_PL_ARG(in->origin.addr));
			return;
		}
		break;
	case 'c': {
		struct cv_sdp_conn c;
		static const uint8_t zero[16];
		bool null = cv_sdp__conn_parse(l->value, &c) == 0 &&
			    ((c.af == AF_INET && !memcmp(c.ip, zero, 4)) ||
			     (c.af == AF_INET6 && !memcmp(c.ip, zero, 16)));
		if (rw->addr && !null) {
			cv_buf_printf(b, "c=IN %s %s\r\n", at, rw->addr);
			return;
		}
		break;
	}
	case 'm':
		if (port >= 0) {
			/* <media> <port>[/<n>] <rest>: only the port changes */
			struct cv_pl media, portpl, p1, p2;
			cv_sdp__tok(&rest, &media);
			cv_sdp__tok(&rest, &portpl);
			bool has_n = cv_sdp__split(portpl, '/', &p1, &p2);
			cv_buf_printf(b, "m=" CV_PL_FMT " %d", CV_PL_ARG(media),
				      port);
			if (has_n)
				cv_buf_printf(b, "/" CV_PL_FMT, CV_PL_ARG(p2));
			cv_buf_append_pl(b, rest);
			cv_buf_append_str(b, "\r\n");
			return;
		}
		break;
	case 'a': {
		struct cv_pl name, val;
		cv_sdp__split(l->value, ':', &name, &val);
		if (drop_attr(rw, name))
			return;
		if (rtcp_port >= 0 && cv_pl_eq_str(name, "rtcp")) {
			cv_buf_printf(b, "a=rtcp:%d\r\n", rtcp_port);
			return;
		}
		break;
	}
	default:
		break;
	}
	char t[2] = {l->type, '='};
	cv_buf_append(b, t, 2);
	cv_buf_append_pl(b, l->value);
	cv_buf_append_str(b, "\r\n");
}

int cv_sdp_rewrite(struct cv_sdp **out, const struct cv_sdp *in,
		   const struct cv_sdp_rewrite *rw)
{
	int af;
	uint8_t ip[16];
	if (!out || !in || !rw)
		return -EINVAL;
	*out = NULL;
	if (rw->addr && !cv_sdp__addr_literal(cv_pl_str(rw->addr), &af, ip))
		return -EINVAL;
	if (rw->nports && (rw->nports != in->nmedia || !rw->ports))
		return -EINVAL;
	if (rw->ndrop_attrs && !rw->drop_attrs)
		return -EINVAL;
	const char *at = rw->addr && af == AF_INET6 ? "IP6" : "IP4";

	struct cv_buf b;
	/* the input is bounded and each line grows by at most an address */
	cv_buf_init(&b, 0);
	for (uint32_t i = 0; i < in->c.nlines; i++)
		rewrite_line(&b, in, &in->c.lines[i], rw, at, -1, -1);
	for (uint32_t k = 0; k < in->nmedia; k++) {
		const struct cv_sdp_media *m = &in->media[k];
		/* RFC 3264 §8.2: a rejected stream keeps port 0 */
		int port = rw->nports && m->port ? rw->ports[k] : -1;
		int rport =
			port >= 0 && rw->rtcp_ports ? rw->rtcp_ports[k] : -1;
		for (uint32_t i = 0; i < m->c.nlines; i++)
			rewrite_line(&b, in, &m->c.lines[i], rw, at,
				     i == 0 ? port : -1, rport);
	}
	int err = b.err;
	if (!err)
		err = cv_sdp_parse(out, b.data, b.len, NULL);
	cv_buf_free(&b);
	return err;
}
