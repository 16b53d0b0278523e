/* Private structures of the session layer. */
#ifndef CV_SESSION_INT_H
#define CV_SESSION_INT_H

#include "cvoip/digest.h"
#include "cvoip/session.h"

/* What we allow and support, in every dialog-creating message. */
#define SESSION_ALLOW                                                          \
	"Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, PRACK, "      \
	"REFER, NOTIFY, MESSAGE, SUBSCRIBE\r\n"
#define SESSION_SUPPORTED "Supported: 100rel, timer, replaces\r\n"

enum {
	UARG_CALL = 0x43414c4c,
	UARG_REGC = 0x52454743,
	UARG_OREQ = 0x4f524551,
	UARG_SUB = 0x53554220
};

#define CALL_MAX_FORKS	   8
#define CALL_MAX_REDIRECTS 5

/* An early dialog of an outgoing call (one per remote tag, §12.1.2), with
 * the last RSeq we PRACKed on it (RFC 3262 §4). */
struct call_fork {
	struct cv_dlg *dlg;
	uint32_t rseq;
	bool rseq_set;
};

/* Fields are grouped by size: a held call is ~500 bytes plus its
 * negotiated media (docs/session.md, memory per call). */
struct cv_call {
	int kind; /* UARG_CALL: first, the txn uarg tag */
	enum cv_call_state state;
	struct cv_agent *ag;
	struct cv_call *next, *prev;
	struct cv_dlg *dlg;
	struct cv_txn *inv_st; /* incoming INVITE until its final response */
	struct cv_txn *inv_ct; /* outgoing INVITE until its final response */
	struct cv_txn *re_ct;  /* our re-INVITE in progress */
	struct cv_sdp *remote_offer;
	struct cv_sdp *local_offer;
	struct cv_sdp_neg neg;
	const struct cv_call_media_ops *media;
	void *marg;
	void *uarg;
	char *target, *from, *from_display, *to, *headers;
	char *remote_uri;
	char *call_id;	/* NULL until known */
	char *from_tag; /* outgoing: our tag, NULL until sent */
	char *auth_user, *auth_pass;
	/* outgoing: early dialogs (CALL_MAX_FORKS entries, allocated with
	 * the first one), redirects */
	struct call_fork *forks;
	char *tried[CALL_MAX_REDIRECTS];
	/* transfer */
	struct cv_call *refer_parent; /* we were placed for its REFER */
	struct cv_call *refer_child;  /* the call placed for our REFER'd peer */
	struct cv_txn *refer_ct;      /* our REFER in progress */
	struct cv_call *replaces;     /* incoming with Replaces: the old call */
	char *replaces_hdr, *referred_by;
	uint64_t sess_id, sess_version;
	uint64_t se_deadline_us; /* when the session expires unrefreshed */
	struct cv_txn_addr dst;
	struct cv_tmr glare_tmr;
	struct cv_tmr se_tmr;	/* RFC 4028 session timer */
	struct cv_tmr fork_tmr; /* until Timer M (64*T1, RFC 6026 §8.4) */
	uint32_t cseq;
	uint32_t refer_id; /* CSeq of the REFER we received */
	/* RFC 4028 session timer */
	uint32_t se;		      /* negotiated interval, 0: none */
	uint32_t se_req;	      /* what we ask for */
	uint32_t se_min;	      /* the Min-SE we send (raised by 422) */
	enum cv_sip_method re_method; /* our offer in progress */
	enum cv_sip_method glare_method; /* and its 491 retry */
	uint8_t nforks;
	uint8_t redirects;
	uint8_t auth_tries;
	uint8_t tries_422;
	uint8_t glare_tries;
	bool in_list;
	bool outgoing;
	bool released;
	bool have_neg;
	bool hold;
	/* incoming: the caller supports 100rel / timer */
	bool peer_100rel;
	bool peer_timer;
	bool peer_update; /* the peer's Allow lists UPDATE */
	bool re_hold, re_prev_hold, re_refresh;
	bool glare_pending;
	bool glare_hold, glare_refresh;
	bool se_we_refresh;
	bool refer_active;   /* its implicit subscription is up */
	bool refer_sent;     /* we are transferor: NOTIFYs expected */
	bool via_proxy;	     /* dst is an outbound proxy, not the target */
	bool ack_answer;     /* we offered in a 2xx: the answer is in the ACK */
	bool inv_accepted;   /* inv_ct kept after its 2xx for late forks */
	bool early_answered; /* incoming: the answer went out in a 183 */
	bool early_offered;  /* incoming, late offer: ours went in a 183 */
	bool answer_deferred; /* cv_call_answer() waits for that 183's PRACK */
};

struct cv_regc {
	int kind; /* UARG_REGC */
	struct cv_agent *ag;
	struct cv_regc *next, *prev;
	bool released;
	char *aor, *ruri, *user;
	char *auth_user, *auth_pass;
	char *contacts[CV_REGC_MAX_CONTACTS];
	size_t ncontacts;
	unsigned bindings;
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

struct cv_sub {
	int kind; /* UARG_SUB */
	struct cv_agent *ag;
	struct cv_sub *next, *prev;
	bool in_list;
	bool notifier;
	bool released;
	bool ended;
	bool accepted; /* notifier: cv_sub_accept() called */
	bool unsubscribing;
	struct cv_dlg *dlg;
	struct cv_txn *st; /* notifier: the SUBSCRIBE being decided */
	struct cv_txn *ct; /* subscriber: SUBSCRIBE in progress */
	char *event, *accept, *target, *from, *remote;
	char *auth_user, *auth_pass;
	char *ctype, *body; /* notifier: the last state sent */
	char call_id[128], from_tag[64];
	uint32_t cseq;
	struct cv_txn_addr dst;
	int auth_tries, tries_423;
	uint32_t expires, max_expires;
	uint64_t expires_at_us; /* notifier: when it lapses */
	bool pending;
	struct cv_tmr tmr; /* subscriber: refresh; notifier: expiry */
	const struct cv_sub_handlers *h;
	void *uarg;
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
	struct cv_sub *subs;
	uint32_t session_expires; /* 0: none */
	uint32_t min_se;
	bool no_100rel;
};

/* call.c */
void call_request(struct cv_agent *ag, struct cv_txn *st,
		  struct cv_sip_msg *req, struct cv_dlg *dlg);
void call_incoming(struct cv_agent *ag, struct cv_txn *st,
		   struct cv_sip_msg *req);
void call_response(struct cv_call *c, struct cv_txn *ct,
		   const struct cv_txn_resp *r);
void call_cancelled(struct cv_agent *ag, struct cv_txn *st,
		    const struct cv_sip_msg *cancel);
void call_prack_timeout(struct cv_agent *ag, struct cv_dlg *dlg);
void call_ack(struct cv_agent *ag, struct cv_dlg *dlg, struct cv_sip_msg *ack);
void call_ack_timeout(struct cv_agent *ag, struct cv_dlg *dlg);
void call_destroy_all(struct cv_agent *ag);

/* call.c, used by transfer.c */
void call_set_state(struct cv_call *c, enum cv_call_state st, uint16_t status,
		    const char *reason);
int call_send_bye(struct cv_call *c, const char *reason_hdr);

/* transfer.c */
void xfer_refer_request(struct cv_call *c, struct cv_txn *st,
			struct cv_sip_msg *req);
void xfer_notify_request(struct cv_call *c, struct cv_txn *st,
			 struct cv_sip_msg *req);
void xfer_refer_response(struct cv_call *c, struct cv_txn *ct,
			 const struct cv_txn_resp *r);
/* An INVITE with Replaces: 0 (c->replaces set) or the status to reject
 * it with (481, 486, 400). */
uint16_t xfer_replaces(struct cv_agent *ag, struct cv_call *c,
		       const struct cv_sip_msg *req);
/* State changes of a call placed for a REFER, reported upstream. */
void xfer_child_state(struct cv_call *child, enum cv_call_state st,
		      uint16_t status, const char *reason);
/* c answered: hang up the call it replaces. */
void xfer_answered(struct cv_call *c);
/* c ended: drop its transfer links. */
void xfer_ended(struct cv_call *c);

/* sub.c */
void sub_incoming(struct cv_agent *ag, struct cv_txn *st,
		  struct cv_sip_msg *req);
void sub_request(struct cv_sub *s, struct cv_txn *st, struct cv_sip_msg *req);
void sub_response(struct cv_sub *s, struct cv_txn *ct,
		  const struct cv_txn_resp *r);
bool sub_orphan(struct cv_agent *ag, struct cv_txn *st, struct cv_sip_msg *req);
void sub_destroy_all(struct cv_agent *ag);

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
