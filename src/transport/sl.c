/* Stateless responder (RFC 3261 §8.2.6 with §18.2.1/§18.2.2 and RFC 3581
 * received/rport), used by cvoipd until transactions exist. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cvoip/sip.h"
#include "tp_int.h"

static const char default_allow[] =
	"INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, PRACK, UPDATE, INFO, "
	"MESSAGE, SUBSCRIBE, NOTIFY, REFER";

static bool cat(char *dst, size_t *n, size_t cap, const char *s)
{
	size_t l = strlen(s);
	if (*n + l >= cap)
		return false;
	memcpy(dst + *n, s, l);
	*n += l;
	dst[*n] = '\0';
	return true;
}

/* Decimal text of v in buf (at least 11 bytes); returns buf. */
static const char *u32_dec(uint32_t v, char *buf)
{
	char tmp[11];
	int i = 0;
	do {
		tmp[i++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (int k = 0; k < i; k++)
		buf[k] = tmp[i - 1 - k];
	buf[i] = '\0';
	return buf;
}

/* Finds a bare ";rport" in a via-parm: offset just after "rport", or 0. */
static size_t bare_rport_end(struct cv_pl v)
{
	for (size_t i = 0; i + 6 <= v.l; i++) {
		if (v.p[i] != ';')
			continue;
		size_t j = i + 1;
		while (j < v.l && (v.p[j] == ' ' || v.p[j] == '\t'))
			j++;
		if (j + 5 > v.l || strncasecmp(v.p + j, "rport", 5) != 0)
			continue;
		size_t e = j + 5;
		size_t k = e;
		while (k < v.l && (v.p[k] == ' ' || v.p[k] == '\t'))
			k++;
		if (k == v.l || v.p[k] == ';' || v.p[k] == ',')
			return e;
	}
	return 0;
}

/* RFC 3261 §18.2.1 / RFC 3581 §4: the response's top Via gets received=
 * (when the source differs from sent-by, or rport was asked) and
 * rport=<source port>. Edits `resp` in place of the first copy of the
 * request's top Via value. */
static int via_patch(struct cv_buf *out, const struct cv_buf *resp,
		     const struct cv_sip_msg *req, const struct cv_tp_meta *meta)
{
	const struct cv_sip_via *via = &req->via;
	char src[CV_TP_ADDRSTRLEN];
	struct cv_tp_addr sentby;
	bool add_received, add_rport;

	cv_tp_addr_host_print(&meta->src, src, sizeof(src));
	add_rport = via->rport_present && via->rport.l == 0;
	add_received = via->rport_present ||
		       cv_tp_addr_set(&sentby, via->host, 0) != 0 ||
		       !cv_tp_addr_eq_ip(&sentby, &meta->src);
	if (via->received.l)
		add_received = false; /* a proxy before us already did */
	if (!add_rport && !add_received)
		return 1; /* nothing to change */
	const char *at = NULL;
	if (via->value.l && resp->len >= via->value.l)
		at = memmem(resp->data, resp->len, via->value.p, via->value.l);
	if (!at)
		return 1;
	size_t pre = (size_t)(at - resp->data);
	size_t rp = add_rport ? bare_rport_end(via->value) : 0;

	cv_buf_reset(out);
	cv_buf_append(out, resp->data, pre);
	if (rp) {
		char num[12];
		cv_buf_append(out, via->value.p, rp);
		cv_buf_append(out, "=", 1);
		cv_buf_append_str(out, u32_dec(cv_tp_addr_port(&meta->src), num));
		cv_buf_append(out, via->value.p + rp, via->value.l - rp);
	} else {
		cv_buf_append(out, via->value.p, via->value.l);
	}
	if (add_received) {
		cv_buf_append(out, ";received=", 10);
		cv_buf_append_str(out, src);
	}
	cv_buf_append(out, at + via->value.l,
		      resp->len - pre - via->value.l);
	return out->err;
}

int cv_tp_stateless_reply(struct cv_tp *tp, struct cv_worker *w,
			  const struct cv_tp_rx *rx,
			  const struct cv_tp_sl_params *p)
{
	static const struct cv_tp_sl_params defp = {0};
	struct cv_sip_msg *msg = NULL;
	struct cv_sip_verdict v;
	char hdrs[1024], tag[20];
	int status, err;

	if (!p)
		p = &defp;
	err = cv_sip_msg_parse(&msg, rx->buf, rx->len, NULL, &v);
	if (err) {
		/* No message object to build an answer from: drop, counted. */
		struct tp_worker *tw = tp_worker_of(tp, w);
		if (tw)
			TP_INC(tw, rej_garbage);
		CV_LOG_RL(CV_LOG_INFO, TP_MOD, "unparsable message dropped: %d %s",
			  v.status, v.reason ? v.reason : "");
		return err;
	}
	if (!msg->req || msg->method == CV_SIP_ACK) {
		cv_mem_unref(msg);
		return 0;
	}
	/* Built with plain copies: printf showed up in profiles of this path. */
	size_t n = 0;
	bool ok = true;
	const char *server = p->server ? p->server : "cvoip";
	if (msg->method == CV_SIP_OPTIONS) {
		status = 200;
		ok = cat(hdrs, &n, sizeof(hdrs), "Allow: ") &&
		     cat(hdrs, &n, sizeof(hdrs), p->allow ? p->allow : default_allow) &&
		     cat(hdrs, &n, sizeof(hdrs), "\r\nAccept: ") &&
		     cat(hdrs, &n, sizeof(hdrs),
			 p->accept ? p->accept : "application/sdp") &&
		     cat(hdrs, &n, sizeof(hdrs), "\r\n");
		if (ok && p->supported && p->supported[0])
			ok = cat(hdrs, &n, sizeof(hdrs), "Supported: ") &&
			     cat(hdrs, &n, sizeof(hdrs), p->supported) &&
			     cat(hdrs, &n, sizeof(hdrs), "\r\n");
	} else {
		status = p->other_status ? p->other_status : 501;
		if (status == 503 && p->retry_after) {
			char num[12];
			ok = cat(hdrs, &n, sizeof(hdrs), "Retry-After: ") &&
			     cat(hdrs, &n, sizeof(hdrs), u32_dec(p->retry_after, num)) &&
			     cat(hdrs, &n, sizeof(hdrs), "\r\n");
		}
	}
	ok = ok && cat(hdrs, &n, sizeof(hdrs), "Server: ") &&
	     cat(hdrs, &n, sizeof(hdrs), server) && cat(hdrs, &n, sizeof(hdrs), "\r\n");
	if (!ok) {
		cv_mem_unref(msg);
		return CV_ETOOBIG;
	}
	/* §8.2.6.2: a To tag; stable for retransmissions of the request. */
	uint64_t h = cv_hash(msg->call_id.p, msg->call_id.l) ^
		     (cv_hash(msg->from.tag.p, msg->from.tag.l) * 31) ^ msg->cseq.num;
	static const char hex[] = "0123456789abcdef";
	tag[0] = 's';
	tag[1] = 'l';
	for (int i = 0; i < 16; i++)
		tag[2 + i] = hex[(h >> (60 - 4 * i)) & 15];
	tag[18] = '\0';
	struct cv_sip_resp_params rp = {
		.to_tag = cv_pl_str(tag),
		.headers = {hdrs, n},
	};
	struct tp_worker *tw = tp_worker_of(tp, w);
	if (!tw) {
		cv_mem_unref(msg);
		return -EINVAL;
	}
	/* per-worker scratch buffers: no allocation per reply */
	struct cv_buf *b1 = &tw->slbuf[0], *b2 = &tw->slbuf[1];
	cv_buf_reset(b1);
	err = cv_sip_resp_print(b1, msg, status, NULL, &rp);
	if (err)
		goto out;
	const struct cv_buf *resp = b1;
	err = via_patch(b2, b1, msg, &rx->meta);
	if (err < 0)
		goto out;
	if (err == 0)
		resp = b2;
	struct cv_tp_topvia tv = {
		.host = msg->via.host,
		.port = msg->via.port,
		.received = msg->via.received,
		.maddr = msg->via.maddr,
		.rport = msg->via.rport_present,
	};
	(void)cv_tp_kind_parse(msg->via.transport, &tv.kind);
	struct cv_tp_resp_route route;
	err = cv_tp_resp_route(&rx->meta, &tv, &route);
	if (!err)
		err = cv_tp_send_resp(tp, w, &route, resp->data, resp->len);
out:
	cv_mem_unref(msg);
	return err;
}
