/*
 * cvoip client: a softphone in a few calls. It runs its own worker
 * runtime (one worker), transport and session agent, and binds each call
 * to an RTP media stream whose audio comes from a WAV file, a tone or
 * silence and goes to a WAV file or nowhere. `cvoip call`/`answer` are
 * built on it; docs/client.md has a complete example.
 *
 * Threads: cv_client_run() blocks the calling thread; every callback and
 * every cv_client_* / cv_ccall_* call except cv_client_stop() happens on
 * the client's worker (start from the `start` function given to run).
 */
#ifndef CVOIP_CLIENT_H
#define CVOIP_CLIENT_H

#include "cvoip/base.h"
#include "cvoip/session.h"

#ifdef __cplusplus
extern "C" {
#endif

struct cv_client;
struct cv_ccall;
struct cv_csub;

/* What a call sends and where what it receives goes. */
struct cv_client_media {
	const char *play;   /* audio file to send (looped), or NULL */
	double tone_hz;	    /* or a tone (0: none) */
	const char *record; /* WAV file for what is heard, or NULL */
	/* Sound device: an ALSA PCM name ("default", "hw:0", a PCM from
	 * an asoundrc), or NULL. Its microphone is sent unless play or
	 * tone is set; what is heard goes to its loudspeaker unless record
	 * is set. */
	const char *device;
	uint32_t device_rate;	   /* 8000, 16000 or 48000; 0: 48000 */
	uint32_t device_period_ms; /* 0: 20 */
	/* speexdsp echo cancellation (200 ms tail) of the device's
	 * microphone against its loudspeaker. */
	bool aec;
	const char *const *codecs; /* preference ("PCMU", "opus"...); NULL:
				      PCMU, PCMA, G722, opus */
	size_t ncodecs;
	/* SRTP with SDES keys (RFC 4568): offer RTP/SAVP with a=crypto
	 * AES_CM_128_HMAC_SHA1_80 and _32, and accept only SRTP (an offer of
	 * plain RTP gets 488; a plain answer ends the call). Without it plain
	 * RTP is offered, and an SRTP offer is still accepted. */
	bool srtp;
};

struct cv_ccall_quality {
	uint64_t tx_packets, rx_packets;
	int64_t rx_lost;
	double loss_pct;
	double jitter_ms;
	double rtt_ms; /* -1: unknown */
	double mos;    /* ITU-T G.107 E-model, from the rtp layer */
	char codec[32];
	char srtp[48]; /* negotiated SRTP suite; "" for plain RTP */
	/* With a sound device (cv_client_media.device) open: */
	bool device;
	uint32_t device_rate;
	uint64_t device_captured, device_played; /* frames */
	uint64_t device_xruns;	 /* capture overruns + playback underruns */
	uint64_t device_dropped; /* frames lost to full rings */
	uint64_t device_silence; /* frames of silence for a short ring */
	uint64_t aec_frames;	 /* 10 ms frames through the echo canceller */
};

struct cv_client_handlers {
	/* An incoming call: answer (cv_ccall_answer), reject, or keep it
	 * ringing. The client keeps it until cv_ccall_release(). */
	void (*incoming)(struct cv_client *cl, struct cv_ccall *cc,
			 const char *from, void *arg);
	void (*call_state)(struct cv_ccall *cc, enum cv_call_state st,
			   uint16_t status, const char *reason, void *arg);
	/* A DTMF digit from the peer (RFC 4733, in-band or SIP INFO). */
	void (*dtmf)(struct cv_ccall *cc, char digit, void *arg);
	void (*reg_state)(struct cv_client *cl, bool registered,
			  uint16_t status, const char *reason, uint32_t expires,
			  void *arg);
	/* SIGINT/SIGTERM while running: hang up, then cv_client_stop(). When
	 * NULL the client stops at once. */
	void (*interrupt)(struct cv_client *cl, void *arg);
	/* Media (re)negotiated: direction ("sendrecv", "sendonly"...) as we
	 * send, and the codec. Hold and resume show here. */
	void (*media)(struct cv_ccall *cc, const char *dir, const char *codec,
		      void *arg);
	/* A call is being replaced by another: the peer transferred us
	 * (REFER: new_cc is the call to the transfer target, placed with
	 * old_cc's media options except the recording) or an INVITE with
	 * Replaces arrived (new_cc is answered at once). old_cc ends when
	 * new_cc is answered; the application owns new_cc like any call. */
	void (*transferred)(struct cv_client *cl, struct cv_ccall *old_cc,
			    struct cv_ccall *new_cc, void *arg);
	/* Progress of a transfer we asked for (cv_ccall_transfer_*): status
	 * of the REFER or of the target's call; final on the last one. On
	 * success the call is hung up. */
	void (*transfer)(struct cv_ccall *cc, uint16_t status,
			 const char *reason, bool final, void *arg);
	/* An outgoing call followed a 3xx redirect to target. */
	void (*redirect)(struct cv_ccall *cc, const char *target,
			 uint16_t status, void *arg);
	/* Someone subscribed to our presence (PIDF: open while the client
	 * runs) or to our dialogs (RFC 4235 dialog-info, NOTIFYed on every
	 * call state change); other event packages get 489. */
	void (*subscribed)(struct cv_client *cl, const char *event,
			   const char *from, void *arg);
	/* A MESSAGE (RFC 3428) arrived (answered 200). */
	void (*message)(struct cv_client *cl, const char *from,
			const char *content_type, const char *body, size_t len,
			void *arg);
	/* A NOTIFY for a subscription we made (cv_client_subscribe): its
	 * Subscription-State ("active", "pending", "terminated"), the
	 * reason parameter or "", and the body. */
	void (*sub_notify)(struct cv_csub *s, const char *state,
			   const char *reason, const char *content_type,
			   const char *body, size_t len, void *arg);
	/* For "presence" subscriptions, the PIDF body decoded (RFC 3863):
	 * basic status open/closed (has_basic false: none given) and the
	 * first note; after sub_notify. */
	void (*presence)(struct cv_csub *s, const char *entity, bool has_basic,
			 bool open, const char *note, void *arg);
	/* The subscription is over: refused (status >= 300), terminated by
	 * the notifier (status 0), expired or unsubscribed. The last callback
	 * for s; release it with cv_csub_release(). */
	void (*sub_ended)(struct cv_csub *s, uint16_t status,
			  const char *reason, void *arg);
};

/* TLS for outgoing TLS and WSS connections, and for TLS/WSS listeners. */
struct cv_client_tls {
	const char
		*ca_file; /* CA bundle that signs servers; NULL: the system's */
	const char
		*cert_file;   /* our certificate chain (PEM): needed by TLS/WSS
				 listeners, sent to servers asking mutual TLS */
	const char *key_file; /* its private key */
	/* The name the server's certificate must carry (and SNI, and the WSS
	 * Host); NULL: the server's IP address must be in the certificate. */
	const char *server_name;
	bool no_verify; /* accept any server certificate (testing only) */
};

struct cv_client_params {
	/* Listeners ("udp:0.0.0.0:0", "tcp:127.0.0.1:5062"...); NULL: UDP
	 * and TCP on an ephemeral port of every address. */
	const char *const *listen;
	size_t nlisten;
	/* Address put in SDP and bound for RTP; NULL: 127.0.0.1 when the
	 * peer is on loopback, else the address the kernel routes to it. */
	const char *media_addr;
	uint16_t rtp_port_min, rtp_port_max; /* 0: 40000-49999 */
	const char *user_agent;		     /* NULL: "cvoip/<version>" */
	const char *contact_user;	     /* NULL: "cvoip" */
	const struct cv_client_handlers *h;
	void *arg;
	/* RFC 4028 session timers (see cv_agent_params): 0 defaults. */
	uint32_t session_expires;
	uint32_t min_se;
	struct cv_client_tls tls;
	/* Keep-alive of the TCP/TLS/WS/WSS connections the client opens
	 * (CRLFCRLF, RFC 5626 §4.4.1, or a WebSocket ping) after this many
	 * seconds without traffic, so a registration's flow stays open; 0:
	 * 90 s. */
	uint32_t keepalive_s;
};

/* Checks media options before a call (any thread): the file to play
 * opens as audio, every codec name is known, the recording's folder is
 * writable, the sound device opens (and is closed again). 0, or an error with a
 * one-line reason in why. */
CV_API int cv_client_media_check(const struct cv_client_media *m, char *why,
				 size_t size);

CV_API int cv_client_create(struct cv_client **clp,
			    const struct cv_client_params *p);
/* Runs until cv_client_stop(); start(cl, arg) runs first on the worker. */
CV_API int cv_client_run(struct cv_client *cl,
			 void (*start)(struct cv_client *cl, void *arg),
			 void *arg);
/* Any thread. */
CV_API void cv_client_stop(struct cv_client *cl);
CV_API void cv_client_destroy(struct cv_client *cl);
CV_API struct cv_agent *cv_client_agent(struct cv_client *cl);
/* The worker's loop, for the application's own timers. */
CV_API uv_loop_t *cv_client_loop(struct cv_client *cl);
/* The bound address of listener i (port resolved). */
CV_API int cv_client_listener(struct cv_client *cl, unsigned i,
			      enum cv_tp_kind *kind, struct cv_tp_addr *addr);

/* ---- subscriptions we make (RFC 6665; presence RFC 3856) ------------- */
struct cv_client_sub_params {
	const char *target; /* whose state: "sip:bob@127.0.0.1" */
	const char
		*event;	  /* NULL: "presence"; "dialog", "message-summary"... */
	const char *from; /* our AOR; NULL: as for calls */
	const char *proxy; /* send through this server (numeric host) */
	struct cv_auth_cred auth;
	uint32_t expires;	   /* requested; 0: 600 (refreshed at half) */
	enum cv_tp_kind transport; /* as in cv_client_call_params */
};

/* SUBSCRIBE, refreshed until cv_csub_unsubscribe() or the notifier ends
 * it; NOTIFYs reach sub_notify (and presence). The client keeps *sp
 * until cv_csub_release(); a client stopping unsubscribes. */
CV_API int cv_client_subscribe(struct cv_client *cl,
			       const struct cv_client_sub_params *p,
			       struct cv_csub **sp);
/* SUBSCRIBE with Expires: 0; sub_ended follows the final NOTIFY. */
CV_API int cv_csub_unsubscribe(struct cv_csub *s);
CV_API const char *cv_csub_event(const struct cv_csub *s);
CV_API const char *cv_csub_target(const struct cv_csub *s);
/* No callback after this (an active subscription unsubscribes). */
CV_API void cv_csub_release(struct cv_csub *s);

/* Register (and keep refreshing) one account. */
CV_API int cv_client_register(struct cv_client *cl,
			      const struct cv_regc_params *p);
CV_API int cv_client_unregister(struct cv_client *cl);
CV_API bool cv_client_registered(const struct cv_client *cl);
/* Bindings of the AOR in the registrar's last 2xx (cv_regc_bindings). */
CV_API unsigned cv_client_reg_bindings(const struct cv_client *cl);

struct cv_client_call_params {
	const char *target; /* "sip:bob@127.0.0.1:5060" */
	const char *from;   /* our AOR; NULL: "sip:cvoip@<local>" */
	const char *proxy;  /* outbound proxy URI (numeric host) */
	struct cv_auth_cred auth;
	/* added as ;transport= to the proxy (or the target when there is no
	 * proxy) unless it has one: udp, tcp, tls, ws or wss. TCP, TLS, WS and
	 * WSS connections are opened as needed and reused (RFC 7118 for
	 * WebSockets: the client connects, the server keeps the flow). */
	enum cv_tp_kind transport;
	struct cv_client_media media;
};

CV_API int cv_client_call(struct cv_client *cl,
			  const struct cv_client_call_params *p,
			  struct cv_ccall **ccp);
CV_API int cv_ccall_ring(struct cv_ccall *cc);
CV_API int cv_ccall_answer(struct cv_ccall *cc,
			   const struct cv_client_media *m);
CV_API int cv_ccall_reject(struct cv_ccall *cc, uint16_t status);
CV_API int cv_ccall_hangup(struct cv_ccall *cc);
CV_API int cv_ccall_hold(struct cv_ccall *cc, bool hold);
/* Hold or resume by re-INVITE or by UPDATE (RFC 3311). */
CV_API int cv_ccall_modify(struct cv_ccall *cc, bool hold, bool use_update);
/* Blind transfer of the peer to target (REFER, RFC 3515). */
CV_API int cv_ccall_transfer_blind(struct cv_ccall *cc, const char *target);
/* Attended transfer: cc's peer is connected to other's peer (REFER with
 * Replaces, RFC 3891); both our calls end when it succeeds. */
CV_API int cv_ccall_transfer_attended(struct cv_ccall *cc,
				      struct cv_ccall *other);
/* Mute: send silence instead of the source (the stream keeps running). */
CV_API int cv_ccall_mute(struct cv_ccall *cc, bool mute);
/* RFC 4733 when negotiated, else SIP INFO (one digit each 250 ms). */
CV_API int cv_ccall_send_dtmf(struct cv_ccall *cc, const char *digits);
CV_API int cv_ccall_quality(struct cv_ccall *cc, struct cv_ccall_quality *q);
CV_API enum cv_call_state cv_ccall_state(const struct cv_ccall *cc);
CV_API struct cv_call *cv_ccall_call(struct cv_ccall *cc);
CV_API void cv_ccall_release(struct cv_ccall *cc);

#ifdef __cplusplus
}
#endif

#endif
