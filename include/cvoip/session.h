/*
 * cvoip session: calls (the INVITE usage with SDP offer/answer) and the
 * registration client, over the dialog layer's UA core. This is the API a
 * softphone, IVR or test tool is written against (see examples/).
 *
 * One struct cv_agent per worker owns that worker's UA core. Calls and
 * registrations created on an agent live on its worker; every callback
 * runs there. Media is reached through struct cv_call_media_ops, so a call
 * can be bound to RTP streams (cv_media), to a relay, or to nothing (tests).
 *
 * Release contract (ARCHITECTURE.md): after cv_call_release() no callback
 * for that call fires again; the agent keeps what it needs to finish the
 * protocol (CANCEL, BYE, ACK).
 */
#ifndef CVOIP_SESSION_H
#define CVOIP_SESSION_H

#include "cvoip/base.h"
#include "cvoip/dialog.h"
#include "cvoip/sdp.h"
#include "cvoip/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

struct cv_agent;
struct cv_call;
struct cv_regc;
struct cv_sub;

enum cv_call_state {
	CV_CALL_IDLE = 0,
	CV_CALL_CALLING,  /* INVITE sent */
	CV_CALL_INCOMING, /* INVITE received, not answered */
	CV_CALL_RINGING,  /* 180 received or sent */
	CV_CALL_EARLY,	  /* 183 with SDP: early media */
	CV_CALL_ANSWERED, /* 2xx sent or received */
	CV_CALL_ENDED
};
CV_API const char *cv_call_state_name(enum cv_call_state s);

/* Who ended a call. */
enum cv_call_end_by {
	CV_CALL_BY_LOCAL = 0,
	CV_CALL_BY_REMOTE,
	CV_CALL_BY_SYSTEM
};

/* What the media layer does for a call. Every entry is required. */
struct cv_call_media_ops {
	/* Fill this side's SDP capabilities (address, port, codecs). The
	 * pointers must stay valid until the next call into these ops. */
	int (*local)(void *marg, struct cv_sdp_local *out);
	/* Start or update streams from the negotiated result. */
	int (*apply)(void *marg, const struct cv_sdp_neg *neg);
	/* The call ended: stop the streams. */
	void (*stop)(void *marg);
};

/* A transfer request (RFC 3515 REFER) received in a call. */
struct cv_call_refer {
	const char *target;	 /* Refer-To URI without its headers */
	const char *replaces;	 /* its Replaces value (RFC 3891), or NULL */
	const char *referred_by; /* Referred-By value, or NULL */
};

struct cv_call_handlers {
	/* A new incoming call (state INCOMING). Answer, reject or let it
	 * ring; cv_call_set_media() before answering. The agent holds the
	 * call until cv_call_release(). */
	void (*incoming)(struct cv_agent *ag, struct cv_call *c,
			 const struct cv_sip_msg *invite, void *arg);
	/* State changed; status/reason are the SIP response that caused it
	 * (0/NULL when none), e.g. ENDED with 486 "Busy Here". */
	void (*state)(struct cv_call *c, enum cv_call_state st, uint16_t status,
		      const char *reason, void *uarg);
	/* Media was negotiated (answer processed or sent) or renegotiated. */
	void (*media)(struct cv_call *c, const struct cv_sdp_neg *neg,
		      void *uarg);
	/* DTMF received as SIP INFO (application/dtmf-relay). */
	void (*info_dtmf)(struct cv_call *c, char digit, uint32_t duration_ms,
			  void *uarg);
	/* The peer asks us to transfer (REFER; 202 and NOTIFY 100 are sent).
	 * To accept, place the new call from here with cv_call_create() and
	 * .refer_from = c: its progress goes back to the peer as sipfrag
	 * NOTIFYs and c is hung up when it is answered. Not placing it
	 * declines (NOTIFY 603). NULL: REFER is declined the same way. */
	void (*refer)(struct cv_call *c, const struct cv_call_refer *r,
		      void *uarg);
	/* Progress of a transfer we asked for (cv_call_transfer_*): the
	 * REFER's failure, or the status line of each NOTIFY sipfrag. final
	 * is set on the last one; on a 2xx final the call is hung up. */
	void (*transfer)(struct cv_call *c, uint16_t status, const char *reason,
			 bool final, void *uarg);
	/* An outgoing call followed a 3xx to a new target (at most 5). */
	void (*redirect)(struct cv_call *c, const char *target, uint16_t status,
			 void *uarg);
	/* A MESSAGE (RFC 3428) outside a dialog, answered 200. */
	void (*message)(struct cv_agent *ag, const struct cv_sip_msg *req,
			void *arg);
	/* A new subscription (RFC 6665 SUBSCRIBE) to cv_sub_event(s): accept
	 * it from here with cv_sub_accept() (200 and the first NOTIFY go
	 * out), or return without: 489 Bad Event. NULL: every SUBSCRIBE 489. */
	void (*subscribe)(struct cv_agent *ag, struct cv_sub *s,
			  const struct cv_sip_msg *req, void *arg);
};

struct cv_regc_handlers {
	/* Registration state: registered (status 200, expires granted) or
	 * failed (status >= 300 or local 408/503), or unregistered. */
	void (*state)(struct cv_regc *r, bool registered, uint16_t status,
		      const char *reason, uint32_t expires, void *uarg);
};

struct cv_agent_params {
	struct cv_tp *tp;		  /* required */
	struct cv_worker *w;		  /* required */
	const struct cv_call_handlers *h; /* required */
	void *arg;			  /* for incoming() */
	const char *user_agent;		  /* NULL: "cvoip" */
	const char *contact_user;	  /* user part of our Contact */
	int32_t trying_ms;		  /* auto 100 Trying (txn) */
	/* RFC 4028 session timers: the Session-Expires we ask for in our
	 * INVITEs (0: 1800 s; UINT32_MAX: none) and the smallest we accept
	 * (Min-SE; 0: 90 s; a smaller value is allowed for tests). */
	uint32_t session_expires;
	uint32_t min_se;
	/* RFC 3262: do not send reliable provisional responses even when the
	 * caller supports them (a Require: 100rel is still honoured). */
	bool no_100rel;
};

CV_API int cv_agent_create(struct cv_agent **agp,
			   const struct cv_agent_params *p);
/* Ends every call without callbacks and frees the agent. */
CV_API void cv_agent_destroy(struct cv_agent *ag);
/* The transport's recv handler forwards here. */
CV_API void cv_agent_recv(struct cv_agent *ag, const struct cv_tp_rx *rx);
CV_API struct cv_ua *cv_agent_ua(struct cv_agent *ag);
CV_API size_t cv_agent_calls(const struct cv_agent *ag);

/* Credentials for 401/407 challenges (RFC 3261 §22.2). */
struct cv_auth_cred {
	const char *user;
	const char *password;
};

struct cv_call_params {
	const char *target;	  /* Request-URI, e.g. "sip:bob@127.0.0.1" */
	const char *from;	  /* our AOR URI, e.g. "sip:alice@127.0.0.1" */
	const char *from_display; /* NULL: none */
	const char *to;		  /* To URI; NULL: target */
	/* Where to send the INVITE: an outbound proxy URI with a numeric
	 * host ("sip:127.0.0.1:5060;transport=tcp"); NULL: the target. */
	const char *proxy;
	struct cv_auth_cred auth; /* user NULL: no credentials */
	const struct cv_call_media_ops *media;
	void *marg;
	const char *headers; /* extra header lines, each ending CRLF */
	void *uarg;
	/* Transfer (RFC 3515): this call is placed for a REFER received in
	 * refer_from (from its refer handler); replaces / referred_by as the
	 * handler got them (Replaces and Referred-By headers). */
	struct cv_call *refer_from;
	const char *replaces;
	const char *referred_by;
};

/* Places a call: builds the offer with media->local and sends the INVITE.
 * Challenges are answered once per realm. */
CV_API int cv_call_create(struct cv_call **cp, struct cv_agent *ag,
			  const struct cv_call_params *p);
/* For incoming calls: media and user argument before answering. */
CV_API void cv_call_set_media(struct cv_call *c,
			      const struct cv_call_media_ops *media,
			      void *marg);
CV_API void cv_call_set_uarg(struct cv_call *c, void *uarg);
/* 180 Ringing. */
CV_API int cv_call_ring(struct cv_call *c);
/* Early media as UAS: 183 Session Progress with the answer to the INVITE's
 * offer (reliable, RFC 3262, when the caller supports 100rel), media
 * applied, state EARLY. For a late-offer INVITE (no SDP) with 100rel our
 * offer goes in the reliable 183 and the answer comes in the PRACK. When
 * the 183 was reliable, the 200 of cv_call_answer() waits for its PRACK
 * and carries no SDP (RFC 6337 §3.1.1); otherwise it repeats the answer.
 * -EINVAL for a late offer without 100rel, -EBUSY while a reliable 1xx
 * awaits its PRACK, -EALREADY the second time; when nothing in the offer
 * can be accepted, 488 and the call ends (as cv_call_answer()). */
CV_API int cv_call_early(struct cv_call *c);
/* 200 with the answer to the INVITE's offer (488 is sent instead, and
 * the call ends, when nothing in the offer can be accepted). */
CV_API int cv_call_answer(struct cv_call *c);
/* Final failure response to an incoming call (486, 603...). */
CV_API int cv_call_reject(struct cv_call *c, uint16_t status,
			  const char *reason);
/* CANCEL (outgoing, not answered) or BYE (answered); the call ends. */
CV_API int cv_call_hangup(struct cv_call *c);
struct cv_call_end_params {
	uint16_t status; /* incoming, not answered: the rejection (603) */
	/* Reason header value (RFC 3326) for the CANCEL or BYE, e.g.
	 * "Q.850;cause=16;text=\"Normal call clearing\""; NULL: none. */
	const char *reason;
};
CV_API int cv_call_end(struct cv_call *c, const struct cv_call_end_params *p);
/* re-INVITE with a=sendonly (hold) or a=sendrecv (resume), RFC 3264 §8.4. */
CV_API int cv_call_hold(struct cv_call *c, bool hold);
/* A new offer in the confirmed call: hold or resume, by re-INVITE or by
 * UPDATE (RFC 3311). A 491 (glare) is retried after the RFC 3261 §14.1
 * random delay; any other failure rolls the hold state back. -EBUSY while
 * one is in progress. */
struct cv_call_modify_params {
	bool hold;
	bool use_update;
};
CV_API int cv_call_modify(struct cv_call *c,
			  const struct cv_call_modify_params *p);
/* Blind transfer (RFC 3515): REFER with Refer-To: target and Referred-By.
 * Progress comes to the transfer handler; the call is hung up when the
 * transfer succeeds. */
CV_API int cv_call_transfer_blind(struct cv_call *c, const char *target);
/* Attended transfer: REFER to c's peer with Refer-To the peer of `other`
 * plus Replaces naming other's dialog (RFC 3891, RFC 5589 §7). */
CV_API int cv_call_transfer_attended(struct cv_call *c, struct cv_call *other);
/* For an incoming call with a Replaces header (RFC 3891): the call it
 * replaces (hung up when this one is answered), or NULL. */
CV_API struct cv_call *cv_call_replaces(const struct cv_call *c);
/* The negotiated session interval (RFC 4028) in seconds, 0: none; *we
 * tells whether we are the refresher. */
CV_API uint32_t cv_call_session_expires(const struct cv_call *c, bool *we);
/* DTMF as SIP INFO application/dtmf-relay. */
CV_API int cv_call_send_info_dtmf(struct cv_call *c, char digit,
				  uint32_t duration_ms);
CV_API void cv_call_release(struct cv_call *c);

CV_API enum cv_call_state cv_call_state(const struct cv_call *c);
CV_API bool cv_call_is_outgoing(const struct cv_call *c);
CV_API const char *cv_call_remote_uri(const struct cv_call *c);
CV_API const char *cv_call_id(const struct cv_call *c);
CV_API void *cv_call_uarg(const struct cv_call *c);
/* The last negotiated media, or NULL. */
CV_API const struct cv_sdp_neg *cv_call_neg(const struct cv_call *c);

/* ---- other requests out of dialog (OPTIONS, MESSAGE, ...) -------------- */
/* Final outcome: status (a local 408/503 when nothing came back) and the
 * response when there is one. */
typedef void(cv_oreq_fn)(uint16_t status, const char *reason,
			 const struct cv_sip_msg *resp, void *arg);

struct cv_oreq_params {
	enum cv_sip_method method; /* not INVITE, ACK, CANCEL */
	const char *target;	   /* Request-URI */
	const char *from;	   /* NULL: sip:<contact_user>@<local> */
	const char *proxy;	   /* destination URI; NULL: target */
	struct cv_auth_cred auth;  /* answers one 401/407 */
	const char *headers;	   /* extra header lines, each ending CRLF */
	const char *content_type;
	const char *body;
	cv_oreq_fn *done; /* required */
	void *arg;
};
CV_API int cv_agent_request(struct cv_agent *ag,
			    const struct cv_oreq_params *p);

/* ---- registration client ------------------------------------------------ */
struct cv_regc_params {
	const char *aor;       /* "sip:alice@127.0.0.1" */
	const char *registrar; /* Request-URI / destination, numeric host
				  ("sip:127.0.0.1:5060;transport=tcp");
				  NULL: the AOR's host */
	struct cv_auth_cred auth;
	uint32_t expires; /* requested; 0: 600 */
	/* Further contacts bound to the AOR with ours (RFC 3261 §10.2.1:
	 * one REGISTER may carry several), e.g. a desk phone's URI or a
	 * forwarding target; refreshed and un-registered with ours. At most
	 * CV_REGC_MAX_CONTACTS, each a sip/sips/tel URI under 512 bytes. */
	const char *const *contacts;
	size_t ncontacts;
	const struct cv_regc_handlers *h;
	void *uarg;
};
#define CV_REGC_MAX_CONTACTS 8

/* Registers and refreshes before expiry (at 1/2 of the granted time, at
 * least 5 s before it), answers 401/407 and 423 (with Min-Expires). */
CV_API int cv_regc_create(struct cv_regc **rp, struct cv_agent *ag,
			  const struct cv_regc_params *p);
/* REGISTER with Expires: 0; the state callback reports the result. */
CV_API int cv_regc_unregister(struct cv_regc *r);
/* Stops refreshing; no callback fires after this. */
CV_API void cv_regc_release(struct cv_regc *r);
/* Bindings of the AOR the registrar listed in its last 2xx (ours, our
 * further contacts and other devices' alike; §10.3 step 8). */
CV_API unsigned cv_regc_bindings(const struct cv_regc *r);

/* ---- subscriptions (RFC 6665) ------------------------------------------- */
struct cv_sub_handlers {
	/* Subscriber: a NOTIFY (answered 200). state is its
	 * Subscription-State ("active", "pending", "terminated"), reason its
	 * reason parameter or ""; the body is in notify. */
	void (*notify)(struct cv_sub *s, const char *state, const char *reason,
		       const struct cv_sip_msg *notify, void *uarg);
	/* The subscription is over (both roles): a failure response to the
	 * SUBSCRIBE (status), a terminating NOTIFY (status 0), expiry or
	 * unsubscription. The last callback for s. */
	void (*ended)(struct cv_sub *s, uint16_t status, const char *reason,
		      void *uarg);
};

struct cv_sub_params {
	const char *target; /* Request-URI, e.g. "sip:bob@127.0.0.1:5062" */
	const char *from;   /* our AOR; NULL: sip:<contact user>@<local> */
	const char *proxy;  /* destination URI (numeric host); NULL: target */
	const char *event;  /* "presence", "message-summary", "dialog" */
	const char *accept; /* NULL: the package's usual body type */
	uint32_t expires;   /* requested; 0: 600 */
	struct cv_auth_cred auth; /* answers 401/407 (twice at most) */
	const struct cv_sub_handlers *h;
	void *uarg;
};

/* Subscriber: SUBSCRIBE, refreshed before the granted expiry (at half of
 * it), a 423 retried with Min-Expires, NOTIFYs passed to the handler (one
 * arriving before the 2xx creates the dialog, §4.1.2.4). */
CV_API int cv_sub_create(struct cv_sub **sp, struct cv_agent *ag,
			 const struct cv_sub_params *p);
/* SUBSCRIBE with Expires: 0; the notifier's final NOTIFY ends it. */
CV_API int cv_sub_unsubscribe(struct cv_sub *s);

/* Notifier: accept an incoming subscription (only from the subscribe
 * handler): 200 with the granted Expires and a first NOTIFY carrying the
 * current state (content_type/body, may be empty; pending: state
 * "pending"). Refreshes are answered and re-NOTIFYed with the last body;
 * an unsubscription or the expiry sends a terminating NOTIFY and ends it. */
struct cv_sub_accept_params {
	const struct cv_sub_handlers *h; /* ended() is called; notify unused */
	void *uarg;
	const char *content_type;
	const char *body;
	bool pending;
	uint32_t max_expires; /* cap of the granted time; 0: 3600 */
};
CV_API int cv_sub_accept(struct cv_sub *s,
			 const struct cv_sub_accept_params *p);
/* Notifier: new state to the subscriber (NOTIFY). */
CV_API int cv_sub_notify(struct cv_sub *s, const char *content_type,
			 const char *body);
/* Notifier: NOTIFY terminated;reason=<reason> (NULL: noresource); ends. */
CV_API int cv_sub_terminate(struct cv_sub *s, const char *reason);
/* Either role: no callback after this; an active subscriber
 * unsubscribes, an active notifier sends its terminating NOTIFY. */
CV_API void cv_sub_release(struct cv_sub *s);
CV_API const char *cv_sub_event(const struct cv_sub *s);
CV_API const char *cv_sub_remote_uri(const struct cv_sub *s);
CV_API bool cv_sub_is_notifier(const struct cv_sub *s);

/* ---- event package bodies -------------------------------------------------
 * Tolerant readers of what NOTIFYs carry; bounded, never fail on unknown
 * elements. 0, or CV_EPARSE when the body is not of the package. */

/* application/pidf+xml (RFC 3863): the first tuple's basic status. */
struct cv_pidf {
	char entity[256];
	bool open; /* <basic>open</basic> */
	bool has_basic;
	char note[256]; /* first <note>, or "" */
};
CV_API int cv_pidf_parse(struct cv_pl body, struct cv_pidf *out);
/* A minimal PIDF document for entity with basic status open/closed. */
CV_API int cv_pidf_print(struct cv_buf *out, const char *entity, bool open,
			 const char *note);

/* application/simple-message-summary (RFC 3842). */
struct cv_mwi {
	bool waiting;	   /* Messages-Waiting: yes */
	char account[256]; /* Message-Account, or "" */
	uint32_t voice_new, voice_old, voice_urgent_new, voice_urgent_old;
};
CV_API int cv_mwi_parse(struct cv_pl body, struct cv_mwi *out);

/* application/dialog-info+xml (RFC 4235). */
#define CV_DIALOG_INFO_MAX 8
struct cv_dialog_info_dialog {
	char id[128];
	char call_id[128];
	char direction[16]; /* "initiator", "recipient" or "" */
	char state[16];	  /* trying, proceeding, early, confirmed, terminated */
	char remote[256]; /* remote identity, or "" */
};
struct cv_dialog_info {
	char entity[256];
	uint32_t version;
	bool full;	 /* state="full" (else partial) */
	size_t ndialogs; /* those beyond CV_DIALOG_INFO_MAX are skipped */
	struct cv_dialog_info_dialog dialogs[CV_DIALOG_INFO_MAX];
};
CV_API int cv_dialog_info_parse(struct cv_pl body, struct cv_dialog_info *out);

#ifdef __cplusplus
}
#endif

#endif
