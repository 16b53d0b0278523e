/* Private structures of the UA core and dialogs. */
#ifndef CV_DIALOG_INT_H
#define CV_DIALOG_INT_H

#include "cvoip/dialog.h"

struct cv_dlg {
	struct cv_ua *ua;
	struct cv_dlg *hnext;   /* hash chain */
	bool in_table;
	enum cv_dlg_state state;
	bool uac;
	char *call_id;
	char *ltag;
	char *rtag;
	char *luri;             /* local name-addr (From/To value without tag) */
	char *ruri;             /* remote name-addr */
	char *target;           /* remote target URI */
	char **routes;          /* route set, full values "<sip:p;lr>" */
	size_t nroute;
	uint32_t lcseq;
	uint32_t rcseq;
	bool rcseq_set;
	struct cv_txn_addr peer; /* flow for in-dialog requests (conn ref) */
	char contact_user[64];
	/* UAS: 2xx retransmission until the ACK (RFC 6026 §8.6) */
	struct cv_tmr tmr;
	struct cv_sip_msg *inv;  /* the INVITE being answered */
	char *resp;
	size_t resplen;
	uint32_t interval_ms;
	uint64_t deadline_us;
	bool waiting_ack;
	/* UAS: the reliable provisional response awaiting PRACK (RFC 3262) */
	struct cv_tmr rel_tmr;
	struct cv_txn *rel_st;
	char *rel_resp;
	size_t rel_len;
	uint16_t rel_status;
	uint32_t rel_rseq;      /* RSeq of the pending one */
	uint32_t rseq_next;     /* next RSeq to use (0: not yet chosen) */
	uint32_t rel_interval_ms;
	uint64_t rel_deadline_us;
	bool rel_pending;
	bool rel_unacked;       /* a final went out before its PRACK */
	uint32_t rel_cseq;      /* CSeq number of the INVITE it answered */
	/* UAC: the ACK for the 2xx, re-sent on 2xx retransmissions */
	char *ack;
	size_t acklen;
	uint32_t ack_cseq;
	void *uarg;
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
};

/* ua.c */
int ua_send_response(struct cv_ua *ua, const struct cv_sip_msg *req,
		     const struct cv_txn_addr *src, const char *buf, size_t len);
int ua_send_request(struct cv_ua *ua, const struct cv_txn_addr *dst,
		    const char *buf, size_t len);
int ua_via_for(struct cv_ua *ua, const struct cv_txn_addr *dst,
	       struct cv_tp_via *via);
enum cv_sip_transport ua_sip_tp(enum cv_tp_kind k);

/* dialog.c */
struct cv_dlg *dlg_find(struct cv_ua *ua, struct cv_pl call_id,
			struct cv_pl ltag, struct cv_pl rtag);
void dlg_got_ack(struct cv_dlg *d, struct cv_sip_msg *ack);
bool dlg_resend_ack(struct cv_ua *ua, const struct cv_sip_msg *resp);
void dlg_table_clear(struct cv_ua *ua);

#endif
