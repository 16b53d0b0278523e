/*
 * cvoip dialog: the UA core of one worker and RFC 3261 §12 dialogs.
 *
 * struct cv_ua is what sits on one worker between the transport and the
 * application (session layer, B2BUA, registrar): it parses what the
 * transport delivers, answers what the parser rejects, owns the worker's
 * transaction layer (it is its transaction user) and the table of dialogs,
 * matches in-dialog requests to their dialog (481 when none), enforces CSeq
 * order (500), retransmits 2xx until the ACK comes (RFC 6026 §8.6: the UAS
 * core's job) and re-sends the ACK when a 2xx is retransmitted (§13.2.2.4).
 *
 * Routing decision (docs/dialog.md): in-dialog requests go to the first
 * Route when the route set is non-empty, else to the remote target; when
 * that host is not numeric, or for a dialog created by a request that
 * arrived from a NATed peer, to the flow the dialog came in on (the
 * address and connection of the initial request or response). DNS names
 * in targets are not resolved by this layer yet.
 *
 * Threads: one cv_ua per worker; everything runs on that worker.
 */
#ifndef CVOIP_DIALOG_H
#define CVOIP_DIALOG_H

#include "cvoip/base.h"
#include "cvoip/runtime.h"
#include "cvoip/sip.h"
#include "cvoip/transport.h"
#include "cvoip/txn.h"

#ifdef __cplusplus
extern "C" {
#endif

struct cv_ua;
struct cv_dlg;

enum cv_dlg_state { CV_DLG_EARLY = 0, CV_DLG_CONFIRMED, CV_DLG_TERMINATED };

/* Events for the application. Any entry may be NULL. */
struct cv_ua_handlers {
	/* A request that created server transaction st. dlg is its dialog
	 * (in-dialog request, CSeq already checked) or NULL (out of dialog).
	 * The application owns one reference to st: answer it and
	 * cv_txn_release() it. */
	void (*request)(struct cv_ua *ua, struct cv_txn *st,
			struct cv_sip_msg *req, struct cv_dlg *dlg, void *arg);
	/* The ACK for a 2xx we sent on dlg (2xx retransmissions stopped). */
	void (*ack)(struct cv_ua *ua, struct cv_dlg *dlg,
		    struct cv_sip_msg *ack, void *arg);
	/* A CANCEL for INVITE server transaction st (200 sent to the CANCEL;
	 * the application answers the INVITE 487). */
	void (*cancel)(struct cv_ua *ua, struct cv_txn *st,
		       struct cv_sip_msg *cancel, void *arg);
	/* A response on client transaction ct (provisional, final, or local
	 * 408/503). cv_txn_uarg(ct) is what the request was sent with. */
	void (*response)(struct cv_ua *ua, struct cv_txn *ct,
			 const struct cv_txn_resp *r, void *arg);
	/* A server transaction failed (408: no ACK for a non-2xx; 503). */
	void (*server_failed)(struct cv_ua *ua, struct cv_txn *st,
			      uint16_t status, void *arg);
	/* The 2xx we sent on dlg was never ACKed (64*T1, RFC 3261 §13.3.1.4):
	 * the application should send BYE. */
	void (*ack_timeout)(struct cv_ua *ua, struct cv_dlg *dlg, void *arg);
	/* A reliable provisional response sent on dlg (cv_dlg_respond_reliable)
	 * got no PRACK within 64*T1 (RFC 3262 §3): the application should
	 * reject the INVITE with a 5xx. */
	void (*prack_timeout)(struct cv_ua *ua, struct cv_dlg *dlg, void *arg);
	/* A request with a To tag that matches no dialog, before the UA core
	 * answers 481: return true to take it (and the reference to st), e.g.
	 * a NOTIFY that arrives before the 2xx to its SUBSCRIBE (RFC 6665
	 * §4.1.2.4) creates the subscription's dialog. */
	bool (*no_dialog)(struct cv_ua *ua, struct cv_txn *st,
			  struct cv_sip_msg *req, void *arg);
};

struct cv_ua_params {
	struct cv_tp *tp;		/* required */
	struct cv_worker *w;		/* required: the owning worker */
	const struct cv_ua_handlers *h; /* required */
	void *arg;
	struct cv_txn_timers timers; /* 0 fields: RFC defaults */
	int32_t trying_ms;	     /* auto 100 Trying; see cv_txn_params */
	const char *user_agent;	     /* User-Agent / Server value; NULL none */
	const struct cv_sip_limits *limits; /* NULL: defaults */
	const char *const *supported; /* option tags we support (policy 420) */
};

CV_API int cv_ua_create(struct cv_ua **uap, const struct cv_ua_params *p);
/* Terminates every dialog and transaction without callbacks. */
CV_API void cv_ua_destroy(struct cv_ua *ua);
/* Hand a message from the transport (the tp handler's recv) to the UA. */
CV_API void cv_ua_recv(struct cv_ua *ua, const struct cv_tp_rx *rx);

CV_API struct cv_txn_layer *cv_ua_txn_layer(struct cv_ua *ua);
CV_API struct cv_worker *cv_ua_worker(struct cv_ua *ua);
CV_API struct cv_tp *cv_ua_tp(struct cv_ua *ua);
CV_API const char *cv_ua_user_agent(const struct cv_ua *ua);

/* ---- addresses ------------------------------------------------------------
 */
/* Conversion between the transport's view of a peer and the transaction
 * layer's. The connection is borrowed. */
CV_API void cv_ua_addr_from_meta(struct cv_txn_addr *a,
				 const struct cv_tp_meta *m);
/* Copy an address taking a connection reference; clear drops it. */
CV_API void cv_ua_addr_copy(struct cv_txn_addr *dst,
			    const struct cv_txn_addr *src);
CV_API void cv_ua_addr_clear(struct cv_txn_addr *a);
/* Destination for a URI with a numeric host (sip:, sips:; transport= and
 * port honoured; default UDP 5060, sips/TLS 5061). CV_EUNSUPP for names. */
CV_API int cv_ua_addr_from_uri(struct cv_ua *ua, struct cv_pl uri,
			       struct cv_txn_addr *a);
/* Between the transaction layer's addresses and the transport's (the UA
 * core is where the two meet; a transaction user wired to the transport
 * without a UA, like tests/txn/txn_peer, uses them too). */
CV_API void cv_ua_sockaddr_to_tp(struct cv_tp_addr *out,
				 const union cv_txn_sockaddr *in);
CV_API void cv_ua_sockaddr_from_tp(union cv_txn_sockaddr *out,
				   const struct cv_tp_addr *in);
/* The transport kind a Via's transport names (UDP for anything unknown). */
CV_API enum cv_tp_kind cv_ua_tp_kind(enum cv_sip_transport t);

/* ---- sending requests out of dialog ------------------------------------ */
struct cv_ua_req {
	enum cv_sip_method method;
	struct cv_pl ruri;
	struct cv_pl from_uri, from_display, from_tag; /* tag: new if empty */
	struct cv_pl to_uri, to_display;
	struct cv_pl call_id;	   /* new if empty */
	uint32_t cseq;		   /* 0: 1 */
	struct cv_pl contact_user; /* Contact user part (may be empty) */
	bool no_contact;	   /* no Contact header (e.g. MESSAGE) */
	const struct cv_pl *route; /* route set, full Route values */
	size_t nroute;
	struct cv_pl headers; /* extra header lines, each ending CRLF */
	struct cv_pl content_type;
	struct cv_pl body;
	const struct cv_txn_addr *dst; /* required */
	void *uarg;		       /* cv_txn_uarg() of the transaction */
	int max_forwards;	       /* 0: 70; negative: 0 (a B2BUA passes
					* the incoming value - 1, §16.6 step 3) */
};

/* Builds (Via with our sent-by for dst, Max-Forwards, Contact with our
 * address, User-Agent) and sends a request in a new client transaction.
 * The caller owns one reference to *ctp (cv_txn_release). The Call-ID and
 * From tag used are readable from cv_txn_request(*ctp). */
CV_API int cv_ua_request(struct cv_ua *ua, const struct cv_ua_req *r,
			 struct cv_txn **ctp);

/* Our Contact URI for a peer address ("sip:user@host:port;transport=tcp"),
 * written into out (NUL-terminated). */
CV_API int cv_ua_contact_uri(struct cv_ua *ua, const struct cv_txn_addr *peer,
			     struct cv_pl user, char *out, size_t size);

/* A Call-ID (random@host) that cv_rt_owner() maps to worker `owner`: a
 * B2BUA's outgoing leg stays on the worker of the incoming one. */
CV_API void cv_ua_call_id_for(struct cv_ua *ua, unsigned owner, char *out,
			      size_t size);

/* ---- dialogs ----------------------------------------------------------------
 */
/* UAS: a dialog for server transaction st's INVITE (or SUBSCRIBE/REFER),
 * before sending a 1xx-with-tag or 2xx (§12.1.1). The local tag is the
 * transaction's (cv_txn_local_tag), so responses built by cv_dlg_respond
 * carry it. The dialog holds references; the caller gets one (unref with
 * cv_dlg_release). */
CV_API int cv_dlg_create_uas(struct cv_dlg **dp, struct cv_ua *ua,
			     struct cv_txn *st, struct cv_pl contact_user);
/* UAC: a dialog from a response with a To tag to client transaction ct
 * (§12.1.2): 1xx makes it early, 2xx confirmed. When a dialog for that
 * remote tag already exists it is returned (with a new reference). */
CV_API int cv_dlg_create_uac(struct cv_dlg **dp, struct cv_ua *ua,
			     struct cv_txn *ct, const struct cv_sip_msg *resp);
/* UAC: a dialog created by a request for client transaction ct's request
 * (RFC 6665 §4.1.2.4: the NOTIFY for our SUBSCRIBE): the remote tag is
 * the request's From tag, the route set its Record-Route (not reversed),
 * the remote target its Contact; the request's CSeq is the remote CSeq. */
CV_API int cv_dlg_create_uac_req(struct cv_dlg **dp, struct cv_ua *ua,
				 struct cv_txn *ct,
				 const struct cv_sip_msg *req);
CV_API struct cv_dlg *cv_dlg_ref(struct cv_dlg *d);
/* The application lets go; the dialog stays in the table until
 * terminated (cv_dlg_terminate) and its last reference goes. */
CV_API void cv_dlg_release(struct cv_dlg *d);
/* Removes the dialog from matching (after BYE, or a failed early dialog). */
CV_API void cv_dlg_terminate(struct cv_dlg *d);

/* Response on the dialog's INVITE server transaction st with our Contact;
 * a 2xx is retransmitted by the dialog until its ACK (RFC 6026). */
CV_API int cv_dlg_respond(struct cv_dlg *d, struct cv_txn *st, uint16_t status,
			  const struct cv_txn_resp_params *p);

/* RFC 3262 §3: a reliable provisional response (101..199) on the dialog's
 * INVITE server transaction st. Require: 100rel and RSeq (1, 2, ... per
 * dialog) are added; it is retransmitted at T1, 2T1, 4T1... until
 * cv_dlg_prack() acknowledges it, a final response is sent, or 64*T1
 * passes (then the prack_timeout handler fires). One at a time: -EBUSY
 * while the previous one is unacknowledged. */
CV_API int cv_dlg_respond_reliable(struct cv_dlg *d, struct cv_txn *st,
				   uint16_t status,
				   const struct cv_txn_resp_params *p);
/* A PRACK received on d: true when its RAck names the unacknowledged
 * reliable provisional response (its retransmissions stop), false when it
 * matches none (the UAS answers 481, RFC 3262 §3). */
CV_API bool cv_dlg_prack(struct cv_dlg *d, const struct cv_sip_msg *prack);
/* True while a reliable provisional response awaits its PRACK. */
CV_API bool cv_dlg_reliable_pending(const struct cv_dlg *d);

/* A request within the dialog (§12.2.1.1): CSeq+1, route set, remote
 * target, tags. ACK is refused here (cv_dlg_ack). */
struct cv_dlg_req {
	enum cv_sip_method method;
	struct cv_pl method_name; /* for CV_SIP_METHOD_OTHER */
	struct cv_pl headers;
	struct cv_pl content_type;
	struct cv_pl body;
	void *uarg;
};
CV_API int cv_dlg_request(struct cv_dlg *d, const struct cv_dlg_req *r,
			  struct cv_txn **ctp);
/* ACK for a 2xx to our INVITE (§13.2.2.4): same CSeq number as the INVITE,
 * a new branch; kept and re-sent when the 2xx is retransmitted. body for
 * an offer in the 2xx (late offer). */
CV_API int cv_dlg_ack(struct cv_dlg *d, const struct cv_sip_msg *resp2xx,
		      struct cv_pl content_type, struct cv_pl body);

/* Update the remote target from a target refresh request or its 2xx
 * (§12.2.1.2, §12.2.2). */
CV_API void cv_dlg_refresh_target(struct cv_dlg *d, const struct cv_sip_msg *m);

CV_API enum cv_dlg_state cv_dlg_state(const struct cv_dlg *d);
CV_API bool cv_dlg_is_uac(const struct cv_dlg *d);
CV_API struct cv_pl cv_dlg_call_id(const struct cv_dlg *d);
CV_API struct cv_pl cv_dlg_local_tag(const struct cv_dlg *d);
CV_API struct cv_pl cv_dlg_remote_tag(const struct cv_dlg *d);
CV_API struct cv_pl cv_dlg_remote_uri(const struct cv_dlg *d);
CV_API struct cv_pl cv_dlg_local_uri(const struct cv_dlg *d);
CV_API struct cv_pl cv_dlg_remote_target(const struct cv_dlg *d);
CV_API const struct cv_txn_addr *cv_dlg_peer(const struct cv_dlg *d);
CV_API void *cv_dlg_uarg(const struct cv_dlg *d);
CV_API void cv_dlg_set_uarg(struct cv_dlg *d, void *uarg);
CV_API struct cv_ua *cv_dlg_ua(const struct cv_dlg *d);
/* The dialog with this Call-ID, local tag and remote tag (RFC 3891
 * Replaces, RFC 3515 targets), or NULL. No reference is taken. */
CV_API struct cv_dlg *cv_ua_dialog_find(struct cv_ua *ua, struct cv_pl call_id,
					struct cv_pl local_tag,
					struct cv_pl remote_tag);
/* The dialog's local CSeq number (the last request sent). */
CV_API uint32_t cv_dlg_local_cseq(const struct cv_dlg *d);
/* Dialogs in the UA's table. */
CV_API size_t cv_ua_dialog_count(const struct cv_ua *ua);

struct cv_ua_stats {
	uint64_t rx_parse_errors; /* answered by verdict or dropped */
	uint64_t rx_481;	  /* in-dialog requests with no dialog */
	uint64_t rx_500_cseq;	  /* out-of-order CSeq */
	uint64_t rx_482_merged;
	uint64_t tx_2xx_retrans;
	uint64_t tx_ack_retrans;
	uint64_t ack_timeouts;
	uint64_t dialogs_created;
	uint64_t
		tx_reliable_1xx; /* reliable provisional responses (RFC 3262) */
	uint64_t tx_rel_retrans; /* their retransmissions */
};
CV_API void cv_ua_stats_read(const struct cv_ua *ua, struct cv_ua_stats *out);

#ifdef __cplusplus
}
#endif

#endif
