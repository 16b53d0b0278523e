/* Private structures of the UA core and dialogs. */
#ifndef CV_DIALOG_INT_H
#define CV_DIALOG_INT_H

#include "cvoip/dialog.h"

/* UAS: a 2xx to an INVITE kept for retransmission until the ACK
 * (RFC 3261 §13.3.1.4, RFC 6026 §8.6); allocated with the 2xx, freed
 * when the ACK comes or 64*T1 passes, so a confirmed dialog does not
 * carry it. */
struct dlg_tx2xx {
	struct cv_tmr tmr;
	struct cv_sip_msg *inv; /* the INVITE being answered */
	char *resp;
	size_t resplen;
	uint64_t deadline_us;
	uint32_t interval_ms;
};

/* UAS: the reliable provisional response awaiting PRACK (RFC 3262 §3). */
struct dlg_rel {
	struct cv_tmr tmr;
	struct cv_txn *st;
	char *resp;
	size_t len;
	uint64_t deadline_us;
	uint32_t interval_ms;
	uint16_t status;
};

struct cv_dlg {
	struct cv_ua *ua;
	struct cv_dlg *hnext; /* hash chain */
	char *call_id;
	char *ltag;
	char *rtag;
	char *luri;	    /* local name-addr (From/To value without tag) */
	char *ruri;	    /* remote name-addr */
	char *target;	    /* remote target URI */
	char **routes;	    /* route set, full values "<sip:p;lr>" */
	char *contact_user; /* user part of our Contact, NULL: none */
	struct cv_txn_addr peer; /* flow for in-dialog requests (conn ref) */
	struct dlg_tx2xx *tx;	 /* UAS: 2xx until its ACK, or NULL */
	struct dlg_rel *rel; /* UAS: reliable 1xx until its PRACK, or NULL */
	/* UAC: the ACK for the 2xx, re-sent on 2xx retransmissions */
	char *ack;
	size_t acklen;
	void *uarg;
	size_t nroute;
	enum cv_dlg_state state;
	uint32_t lcseq;
	uint32_t rcseq;
	uint32_t ack_cseq;
	uint32_t rel_rseq;  /* RSeq of the pending reliable 1xx */
	uint32_t rel_cseq;  /* CSeq number of the INVITE it answered */
	uint32_t rseq_next; /* next RSeq to use (0: not yet chosen) */
	bool in_table;
	bool uac;
	bool rcseq_set;
	bool waiting_ack; /* tx holds a 2xx awaiting its ACK */
	bool rel_pending; /* rel holds a 1xx awaiting its PRACK */
	bool rel_unacked; /* a final went out before its PRACK */
};

/* cv_tp_via_for()'s answer for one destination (ua_via_for). */
#define UA_VIA_SLOTS 8
struct ua_via_slot {
	uint64_t until_us;	   /* 0: empty */
	union cv_txn_sockaddr dst; /* key: family and address, not port */
	uint8_t kind;
	struct cv_tp_via via;
};

struct cv_ua {
	struct cv_tp *tp;
	struct cv_worker *w;
	const struct cv_ua_handlers *h;
	void *arg;
	struct cv_txn_layer *txl;
	struct cv_sip_limits lim;
	char *user_agent;
	const char *const *supported;
	uint32_t t1_ms, t2_ms;
	struct cv_dlg **buckets;
	size_t nbuckets;
	size_t count;
	struct cv_ua_stats st;
	struct ua_via_slot via_cache[UA_VIA_SLOTS];
	unsigned via_next; /* next slot to replace */
};

/* ua.c */
int ua_send_response(struct cv_ua *ua, const struct cv_sip_msg *req,
		     const struct cv_txn_addr *src, const char *buf,
		     size_t len);
int ua_send_request(struct cv_ua *ua, const struct cv_txn_addr *dst,
		    const char *buf, size_t len);
int ua_via_for(struct cv_ua *ua, const struct cv_txn_addr *dst,
	       struct cv_tp_via *via);
enum cv_sip_transport ua_sip_tp(enum cv_tp_kind k);
/* "host:port" of via into out (at least CV_TP_ADDRSTRLEN + 230 bytes). */
size_t ua_sent_by(const struct cv_tp_via *via, char *out, size_t size);

/* dialog.c */
struct cv_dlg *dlg_find(struct cv_ua *ua, struct cv_pl call_id,
			struct cv_pl ltag, struct cv_pl rtag);
void dlg_got_ack(struct cv_dlg *d, struct cv_sip_msg *ack);
bool dlg_resend_ack(struct cv_ua *ua, const struct cv_sip_msg *resp);
void dlg_table_clear(struct cv_ua *ua);

#endif
