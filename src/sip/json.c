/* JSON view of a message for `cvoip sip-parse` and the API: start line,
 * matching fields, every header in order (raw, plus typed fields where
 * the header is known), body. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "sip_int.h"

/* JSON strings must be UTF-8: invalid bytes become '?'. */
static json_t *jstr(struct cv_pl pl)
{
	if (!pl.p)
		return json_string("");
	json_t *j = json_stringn(pl.p, pl.l);
	if (j)
		return j;
	char *tmp = malloc(pl.l + 1);
	if (!tmp)
		return NULL;
	for (size_t i = 0; i < pl.l; i++) {
		unsigned char c = (unsigned char)pl.p[i];
		tmp[i] = (c == 0 || c >= 0x80) ? '?' : (char)c;
	}
	j = json_stringn(tmp, pl.l);
	free(tmp);
	return j;
}

static void set_pl(json_t *o, const char *k, struct cv_pl pl)
{
	if (pl.p && pl.l)
		json_object_set_new(o, k, jstr(pl));
}

static json_t *params_json(struct cv_pl params)
{
	json_t *o = json_object();
	struct cv_pl rest = params, n, v;
	while (cv_sip_param_next(&rest, &n, &v) == 0) {
		char key[128];
		cv_pl_strcpy(n, key, sizeof(key));
		json_object_set_new(o, key, v.l ? jstr(v) : json_true());
	}
	return o;
}

static json_t *uri_json(struct cv_pl text)
{
	struct cv_sip_uri u;
	json_t *o = json_object();
	if (cv_sip_uri_parse(text, &u)) {
		json_object_set_new(o, "valid", json_false());
		return o;
	}
	set_pl(o, "scheme", u.scheme_pl);
	set_pl(o, "user", u.user);
	set_pl(o, "password", u.password);
	set_pl(o, "host", u.host);
	if (u.port_pl.l)
		json_object_set_new(o, "port", json_integer(u.port));
	if (u.params.l)
		json_object_set_new(o, "params", params_json(u.params));
	set_pl(o, "headers", u.headers);
	return o;
}

static json_t *via_json(const struct cv_sip_via *via)
{
	json_t *o = json_object();
	set_pl(o, "transport", via->transport);
	set_pl(o, "host", via->host);
	if (via->port)
		json_object_set_new(o, "port", json_integer(via->port));
	set_pl(o, "branch", via->branch);
	set_pl(o, "received", via->received);
	if (via->rport_present)
		json_object_set_new(o, "rport",
				    via->rport.l ? jstr(via->rport)
						 : json_true());
	set_pl(o, "maddr", via->maddr);
	set_pl(o, "ttl", via->ttl);
	if (via->params.l)
		json_object_set_new(o, "params", params_json(via->params));
	return o;
}

static json_t *naddr_json(const struct cv_sip_naddr *na)
{
	json_t *o = json_object();
	if (na->dname.l)
		json_object_set_new(o, "display", jstr(na->dname));
	set_pl(o, "uri", na->uri);
	set_pl(o, "tag", na->tag);
	if (na->params.l)
		json_object_set_new(o, "params", params_json(na->params));
	return o;
}

/* Typed view of one value; NULL when the header has no typed form or the
 * value does not parse (the raw value is always there). */
static json_t *typed(enum cv_sip_hdr_id id, struct cv_pl v)
{
	switch (id) {
	case CV_SIP_HDR_VIA: {
		struct cv_sip_via via;
		return cv_sip_via_parse(v, &via) ? NULL : via_json(&via);
	}
	case CV_SIP_HDR_FROM:
	case CV_SIP_HDR_TO:
	case CV_SIP_HDR_ROUTE:
	case CV_SIP_HDR_RECORD_ROUTE:
	case CV_SIP_HDR_PATH:
	case CV_SIP_HDR_SERVICE_ROUTE:
	case CV_SIP_HDR_REFER_TO:
	case CV_SIP_HDR_REFERRED_BY:
	case CV_SIP_HDR_P_ASSERTED_IDENTITY:
	case CV_SIP_HDR_P_PREFERRED_IDENTITY:
	case CV_SIP_HDR_HISTORY_INFO:
	case CV_SIP_HDR_DIVERSION:
	case CV_SIP_HDR_CALL_INFO: {
		struct cv_sip_naddr na;
		return cv_sip_naddr_parse(v, &na) ? NULL : naddr_json(&na);
	}
	case CV_SIP_HDR_CONTACT: {
		struct cv_sip_contact c;
		if (cv_sip_contact_parse(v, &c))
			return NULL;
		if (c.star)
			return json_string("*");
		json_t *o = naddr_json(&c.addr);
		if (c.expires >= 0)
			json_object_set_new(o, "expires",
					    json_integer(c.expires));
		if (c.q >= 0)
			json_object_set_new(o, "q", json_real(c.q / 1000.0));
		return o;
	}
	case CV_SIP_HDR_CSEQ: {
		struct cv_sip_cseq cs;
		if (cv_sip_cseq_parse(v, &cs))
			return NULL;
		return json_pack("{s:I,s:o}", "num", (json_int_t)cs.num,
				 "method", jstr(cs.method_pl));
	}
	case CV_SIP_HDR_CONTENT_LENGTH:
	case CV_SIP_HDR_MAX_FORWARDS:
	case CV_SIP_HDR_EXPIRES:
	case CV_SIP_HDR_MIN_EXPIRES:
	case CV_SIP_HDR_RSEQ: {
		uint32_t n;
		return cv_sip_u32_parse(v, &n) ? NULL : json_integer(n);
	}
	case CV_SIP_HDR_CONTENT_TYPE: {
		struct cv_sip_ctype ct;
		if (cv_sip_ctype_parse(v, &ct))
			return NULL;
		json_t *o = json_pack("{s:o,s:o}", "type", jstr(ct.type),
				      "subtype", jstr(ct.subtype));
		if (ct.params.l)
			json_object_set_new(o, "params",
					    params_json(ct.params));
		return o;
	}
	case CV_SIP_HDR_EVENT: {
		struct cv_sip_event ev;
		if (cv_sip_event_parse(v, &ev))
			return NULL;
		json_t *o = json_pack("{s:o}", "package", jstr(ev.package));
		set_pl(o, "id", ev.id);
		return o;
	}
	case CV_SIP_HDR_SESSION_EXPIRES: {
		struct cv_sip_session_expires se;
		if (cv_sip_session_expires_parse(v, &se))
			return NULL;
		json_t *o = json_pack("{s:I}", "delta", (json_int_t)se.delta);
		set_pl(o, "refresher", se.refresher);
		return o;
	}
	case CV_SIP_HDR_AUTHORIZATION:
	case CV_SIP_HDR_PROXY_AUTHORIZATION:
	case CV_SIP_HDR_WWW_AUTHENTICATE:
	case CV_SIP_HDR_PROXY_AUTHENTICATE:
	case CV_SIP_HDR_AUTHENTICATION_INFO: {
		struct cv_sip_auth a;
		bool scheme = id != CV_SIP_HDR_AUTHENTICATION_INFO;
		if (cv_sip_auth_parse(v, scheme, &a))
			return NULL;
		json_t *o = json_object();
		set_pl(o, "scheme", a.scheme);
		json_t *ps = json_object();
		struct cv_pl rest = a.params, n, pv;
		while (cv_sip_auth_param_next(&rest, &n, &pv) == 0) {
			char key[64];
			cv_pl_strcpy(n, key, sizeof(key));
			json_object_set_new(ps, key, jstr(pv));
		}
		json_object_set_new(o, "params", ps);
		return o;
	}
	default:
		return NULL;
	}
}

static bool multi_valued(enum cv_sip_hdr_id id)
{
	return id == CV_SIP_HDR_VIA || id == CV_SIP_HDR_CONTACT ||
	       id == CV_SIP_HDR_ROUTE || id == CV_SIP_HDR_RECORD_ROUTE ||
	       id == CV_SIP_HDR_PATH || id == CV_SIP_HDR_SERVICE_ROUTE ||
	       id == CV_SIP_HDR_HISTORY_INFO || id == CV_SIP_HDR_DIVERSION ||
	       id == CV_SIP_HDR_P_ASSERTED_IDENTITY;
}

json_t *cv_sip_msg_to_json(const struct cv_sip_msg *m)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	if (m->req) {
		json_object_set_new(o, "type", json_string("request"));
		json_object_set_new(o, "method", jstr(m->method_pl));
		json_object_set_new(o, "request_uri", jstr(m->ruri));
		json_object_set_new(o, "uri", uri_json(m->ruri));
	} else {
		json_object_set_new(o, "type", json_string("response"));
		json_object_set_new(o, "status", json_integer(m->status));
		json_object_set_new(o, "reason", jstr(m->reason));
	}
	json_object_set_new(o, "version", jstr(m->version));
	json_object_set_new(o, "call_id", jstr(m->call_id));
	json_object_set_new(o, "cseq",
			    json_pack("{s:I,s:o}", "num",
				      (json_int_t)m->cseq.num, "method",
				      jstr(m->cseq.method_pl)));
	json_object_set_new(o, "from", naddr_json(&m->from));
	json_object_set_new(o, "to", naddr_json(&m->to));
	json_object_set_new(o, "via", via_json(&m->via));
	json_object_set_new(o, "via_count", json_integer(m->via_count));
	if (m->max_forwards >= 0)
		json_object_set_new(o, "max_forwards",
				    json_integer(m->max_forwards));
	if (m->content_length >= 0)
		json_object_set_new(o, "content_length",
				    json_integer(m->content_length));
	json_t *hs = json_array();
	for (uint32_t i = 0; i < m->nhdrs; i++) {
		const struct cv_sip_hdr *h = &m->hdrs[i];
		enum cv_sip_hdr_id id = (enum cv_sip_hdr_id)h->id;
		json_t *jh = json_object();
		json_object_set_new(jh, "name", jstr(h->name));
		if (id != CV_SIP_HDR_OTHER)
			json_object_set_new(jh, "canonical",
					    json_string(cv_sip_hdr_name(id)));
		json_object_set_new(jh, "value", jstr(h->value));
		if (multi_valued(id)) {
			json_t *arr = json_array();
			struct cv_pl rest = h->value, item;
			while (cv_sip_list_next(&rest, &item) == 0) {
				json_t *t = typed(id, item);
				json_array_append_new(arr, t ? t : json_null());
			}
			json_object_set_new(jh, "parsed", arr);
		} else {
			json_t *t = typed(id, h->value);
			if (t)
				json_object_set_new(jh, "parsed", t);
		}
		json_array_append_new(hs, jh);
	}
	json_object_set_new(o, "headers", hs);
	if (m->body.l) {
		json_object_set_new(o, "body", jstr(m->body));
		struct cv_sip_part parts[16];
		size_t n = 0;
		if (m->content_type.l &&
		    cv_sip_multipart_split(m->content_type, m->body, parts, 16,
					   &n) == 0) {
			json_t *arr = json_array();
			for (size_t i = 0; i < n; i++)
				json_array_append_new(
					arr,
					json_pack("{s:o,s:o}", "content_type",
						  jstr(parts[i].content_type),
						  "body", jstr(parts[i].body)));
			json_object_set_new(o, "parts", arr);
		}
	}
	return o;
}
