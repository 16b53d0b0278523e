/* Private structures of the session layer. */
#ifndef CV_SESSION_INT_H
#define CV_SESSION_INT_H

#include "cvoip/digest.h"
#include "cvoip/session.h"

enum { UARG_CALL = 0x43414c4c, UARG_REGC = 0x52454743, UARG_OREQ = 0x4f524551 };

struct cv_call {
	int kind; /* UARG_CALL: first, the txn uarg tag */
	struct cv_agent *ag;
	struct cv_call *next, *prev;
	bool in_list;
	bool outgoing;
	bool released;
	enum cv_call_state state;
	struct cv_dlg *dlg;
	struct cv_txn *inv_st;   /* incoming INVITE until its final response */
	struct cv_txn *inv_ct;   /* outgoing INVITE until its final response */
	struct cv_txn *re_ct;    /* our re-INVITE in progress */
	struct cv_sdp *remote_offer;
	struct cv_sdp *local_offer;
	struct cv_sdp_neg neg;
	bool have_neg;
	const struct cv_call_media_ops *media;
	void *marg;
	void *uarg;
	char *target, *from, *from_display, *to, *headers;
	char *remote_uri;
	char call_id[128];
	char from_tag[64];
	uint32_t cseq;
	struct cv_txn_addr dst;
	char *auth_user, *auth_pass;
	int auth_tries;
	uint64_t sess_id, sess_version;
	bool hold;
};

struct cv_regc {
	int kind; /* UARG_REGC */
	struct cv_agent *ag;
	struct cv_regc *next, *prev;
	bool released;
	char *aor, *ruri, *user;
	char *auth_user, *auth_pass;
	const struct cv_regc_handlers *h;
	void *uarg;
	uint32_t expires;
	uint32_t granted;
	char call_id[128];
	char from_tag[64];
	uint32_t cseq;
	struct cv_txn_addr dst;
	struct cv_txn *ct;
	struct cv_tmr refresh;
	int auth_tries;
	bool registered;
	bool unregistering;
};

struct cv_agent {
	struct cv_ua *ua;
	struct cv_worker *w;
	struct cv_tp *tp;
	const struct cv_call_handlers *h;
	void *arg;
	char *contact_user;
	struct cv_call *calls;
	size_t ncalls;
	struct cv_regc *regs;
	struct oreq *oreqs;
};

/* call.c */
void call_request(struct cv_agent *ag, struct cv_txn *st,
		  struct cv_sip_msg *req, struct cv_dlg *dlg);
void call_incoming(struct cv_agent *ag, struct cv_txn *st,
		   struct cv_sip_msg *req);
void call_response(struct cv_call *c, struct cv_txn *ct,
		   const struct cv_txn_resp *r);
void call_cancelled(struct cv_agent *ag, struct cv_txn *st);
void call_ack(struct cv_agent *ag, struct cv_dlg *dlg, struct cv_sip_msg *ack);
void call_ack_timeout(struct cv_agent *ag, struct cv_dlg *dlg);
void call_destroy_all(struct cv_agent *ag);

/* regc.c */
void regc_response(struct cv_regc *r, struct cv_txn *ct,
		   const struct cv_txn_resp *resp);
void regc_destroy_all(struct cv_agent *ag);

/* oreq.c */
struct oreq;
void oreq_response(struct oreq *o, struct cv_txn *ct,
		   const struct cv_txn_resp *r);
void oreq_destroy_all(struct cv_agent *ag);

/* auth (call.c): an Authorization / Proxy-Authorization header line for a
 * 401/407 response, into out. */
int session_auth_header(struct cv_buf *out, const struct cv_sip_msg *resp,
			const char *user, const char *pass, const char *method,
			const char *uri);

#endif
