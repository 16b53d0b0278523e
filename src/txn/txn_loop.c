/* UAS and proxy helpers: merged requests (RFC 3261 §8.2.2.2) and loop
 * detection (§16.3 item 4, §16.6 item 8, RFC 5393 §4.2). */
#include <stdio.h>

#include "txn_int.h"

bool cv_txn_is_merged(const struct cv_txn *t)
{
	const struct cv_txn_layer *l = t ? t->layer : NULL;
	if (!l || (t->flags & TF_CLIENT))
		return false;
	const struct cv_sip_msg *req = t->req;
	if (!req || req->to.tag.l || (t->flags & TF_SEC_ALONE))
		return false;
	for (const struct cv_txn *u = l->sec.b[t->shash & l->sec.mask]; u;
	     u = u->snext) {
		/* only transactions that were there when t's request came */
		if (u == t || u->shash != t->shash || (u->flags & TF_CLIENT) ||
		    (int32_t)(u->seq - t->seq) > 0)
			continue;
		/* u may be slimmed (txn_slim): its key has these fields; the
		 * CSeq method is the request method (checked on receipt). */
		if (txn_cseq(u) == req->cseq.num &&
		    u->method == (uint8_t)req->cseq.method &&
		    cv_pl_eq(txn_method_pl(u), req->cseq.method_pl) &&
		    cv_pl_eq(txn_call_id(u), req->call_id) &&
		    cv_pl_eq(txn_from_tag(u), req->from.tag))
			return true;
	}
	return false;
}

static uint64_t mix(uint64_t h, struct cv_pl pl)
{
	/* Length-prefixed so that ("ab","c") and ("a","bc") differ. */
	uint64_t v =
		cv_hash(pl.p ? pl.p : "", pl.l) ^ (pl.l * 0x100000001b3ull);
	return (h ^ v) * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull;
}

static uint64_t mix_hdrs(uint64_t h, const struct cv_sip_msg *m,
			 enum cv_sip_hdr_id id)
{
	for (const struct cv_sip_hdr *x = cv_sip_msg_hdr(m, id); x;
	     x = cv_sip_msg_hdr_next(m, x))
		h = mix(h, cv_pl_trim(x->value));
	return h;
}

void cv_txn_loop_hash(const struct cv_sip_msg *req,
		      char out[CV_TXN_LOOP_HASH_SIZE])
{
	/* The fields a looped request keeps and a spiral changes; never the
	 * Via values, which every hop changes (RFC 5393 §4.2). */
	uint64_t h = 0x6c62272e07bb0142ull;
	char cseq[16];
	int n = snprintf(cseq, sizeof(cseq), "%u", req->cseq.num);
	h = mix(h, req->ruri);
	h = mix(h, req->call_id);
	h = mix(h, req->from.tag);
	h = mix(h, req->to.tag);
	h = mix(h, (struct cv_pl){cseq, (size_t)(n > 0 ? n : 0)});
	h = mix_hdrs(h, req, CV_SIP_HDR_ROUTE);
	h = mix_hdrs(h, req, CV_SIP_HDR_PROXY_REQUIRE);
	h = mix_hdrs(h, req, CV_SIP_HDR_PROXY_AUTHORIZATION);
	static const char hex[] = "0123456789abcdef";
	for (unsigned i = 0; i < 16; i++)
		out[i] = hex[(h >> (60 - 4 * i)) & 0xf];
	out[16] = '\0';
}

static bool sent_by_ours(const struct cv_sip_via *v, const struct cv_pl *ours,
			 size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (cv_pl_casecmp_eq(cv_pl_trim(v->sent_by),
				     cv_pl_trim(ours[i])))
			return true;
	return false;
}

enum cv_txn_loop cv_txn_loop_check(const struct cv_sip_msg *req,
				   const struct cv_pl *sent_by,
				   size_t n_sent_by)
{
	if (!req || !req->req || !sent_by || !n_sent_by)
		return CV_TXN_LOOP_NONE;
	char hash[CV_TXN_LOOP_HASH_SIZE];
	bool computed = false;
	enum cv_txn_loop res = CV_TXN_LOOP_NONE;
	struct cv_sip_vals_iter it = {0};
	struct cv_pl val;
	/* Bounded by the parser's max_via. */
	while (cv_sip_msg_vals_next(req, CV_SIP_HDR_VIA, &it, &val) == 0) {
		struct cv_sip_via v;
		if (cv_sip_via_parse(val, &v) ||
		    !sent_by_ours(&v, sent_by, n_sent_by))
			continue;
		res = CV_TXN_LOOP_SPIRAL;
		if (!txn_has_cookie(v.branch))
			continue;
		if (!computed) {
			cv_txn_loop_hash(req, hash);
			computed = true;
		}
		struct cv_pl rest = {v.branch.p + 7, v.branch.l - 7};
		if (rest.l >= 16 && memcmp(rest.p, hash, 16) == 0 &&
		    (rest.l == 16 || rest.p[16] == '.'))
			return CV_TXN_LOOP_DETECTED;
	}
	return res;
}
