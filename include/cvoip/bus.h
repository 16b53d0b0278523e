/*
 * cvoip event bus: typed events on topics, delivered to subscribers on their
 * own uv loops.
 *
 * Publishing (any thread, lock-free): the bus copies the payload and its
 * strings into one immutable, refcounted event and pushes a pointer to it
 * into one bounded single-producer/single-consumer ring per (publisher
 * thread, subscriber) pair. Events of one publisher therefore reach every
 * subscriber in the order they were published; events of different
 * publishers are not ordered with respect to each other.
 *
 * Subscribing: a subscription lives on one uv loop, is woken by a
 * uv_async_t only when it went idle, and drains its rings in batches,
 * calling its callback once per event with no lock held. When a ring is
 * full the subscription's overflow policy decides: CV_BUS_DROP drops the
 * event for that subscriber and counts it; CV_BUS_BLOCK makes the publisher
 * wait up to block_us for room, then drops and counts. Losses show in the
 * metric cvoip_bus_dropped_total{topic,subscriber} and in
 * cv_bus_sub_dropped().
 *
 * Every event type has a JSON encoder (cv_bus_event_json), so the WebSocket
 * API streams the bus with no per-type glue.
 */
#ifndef CVOIP_BUS_H
#define CVOIP_BUS_H

#include <jansson.h>
#include <uv.h>

#include "cvoip/base.h"
#include "cvoip/metrics.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- topics and event types ------------------------------------------------
 */

enum cv_bus_topic {
	CV_BUS_TOPIC_CALL = 0,
	CV_BUS_TOPIC_REGISTRATION = 1,
	CV_BUS_TOPIC_AGENT = 2,
	CV_BUS_TOPIC_QUEUE = 3,
	CV_BUS_TOPIC_QUALITY = 4,
	CV_BUS_TOPIC_CDR = 5,
	CV_BUS_TOPIC_SYSTEM = 6,
	CV_BUS_TOPIC_TRUNK = 7,
	CV_BUS_TOPIC_COUNT
};

#define CV_BUS_MASK(topic) (1u << (topic))
#define CV_BUS_MASK_ALL	   ((1u << CV_BUS_TOPIC_COUNT) - 1u)

enum cv_bus_type {
	CV_BUS_CALL_STARTED = 0, /* struct cv_bus_call */
	CV_BUS_CALL_RINGING,
	CV_BUS_CALL_ANSWERED,
	CV_BUS_CALL_ENDED,
	CV_BUS_REG_ADDED, /* struct cv_bus_reg */
	CV_BUS_REG_REFRESHED,
	CV_BUS_REG_REMOVED,
	CV_BUS_REG_EXPIRED,
	CV_BUS_AGENT_STATE,  /* struct cv_bus_agent */
	CV_BUS_QUEUE_JOINED, /* struct cv_bus_queue */
	CV_BUS_QUEUE_LEFT,
	CV_BUS_QUEUE_OVERFLOWED,
	CV_BUS_QUEUE_ABANDONED,
	CV_BUS_QUALITY_REPORT, /* struct cv_bus_quality */
	CV_BUS_CDR_WRITTEN,    /* struct cv_bus_cdr */
	CV_BUS_SYSTEM_STARTED, /* struct cv_bus_system */
	CV_BUS_SYSTEM_STOPPING,
	CV_BUS_TRUNK_DOWN, /* struct cv_bus_trunk */
	CV_BUS_TRUNK_UP,
	CV_BUS_TYPE_COUNT
};

/* "call", "registration", ...; NULL when out of range. */
CV_API const char *cv_bus_topic_name(enum cv_bus_topic t);
/* "call.started", "registration.expired", ...; NULL when out of range. */
CV_API const char *cv_bus_type_name(enum cv_bus_type t);
CV_API enum cv_bus_topic cv_bus_type_topic(enum cv_bus_type t);
/* Parse a topic name; CV_ENOTFOUND when unknown. */
CV_API int cv_bus_topic_parse(struct cv_pl name, enum cv_bus_topic *out);

/* ---- payloads --------------------------------------------------------------
 * Strings are NUL-terminated; NULL means absent (JSON null). Publishing
 * copies every string into the event (each cut at CV_BUS_STR_MAX bytes), so
 * the caller's memory is free again when cv_bus_publish() returns. */
#define CV_BUS_STR_MAX 2048

enum cv_bus_direction {
	CV_BUS_DIR_INBOUND = 0,
	CV_BUS_DIR_OUTBOUND = 1,
};

/* Who ended the call (call.ended). */
enum cv_bus_hangup {
	CV_BUS_HANGUP_NONE = 0,	  /* not ended, or unknown */
	CV_BUS_HANGUP_CALLER = 1, /* the calling party sent BYE/CANCEL */
	CV_BUS_HANGUP_CALLEE =
		2, /* the called party sent BYE or a final error */
	CV_BUS_HANGUP_SYSTEM = 3, /* cvoip itself: timeout, shutdown, policy */
};

struct cv_bus_call {
	const char *call_id;
	const char *from; /* From URI */
	const char *to;	  /* To URI */
	enum cv_bus_direction direction;
	uint16_t
		status; /* SIP status of the event (180, 200, 486...), 0 none */
	const char *reason; /* reason phrase or Reason header text */
	bool local;	    /* status generated locally (e.g. 408, 503) */
	enum cv_bus_hangup hangup_by;
	uint64_t duration_ms; /* call.ended: answered time, 0 if never answered
			       */
};

struct cv_bus_reg {
	const char *aor;     /* address of record */
	const char *contact; /* contact URI */
	const char *source;  /* "udp:192.0.2.1:5060" */
	const char *user_agent;
	uint32_t expires; /* seconds granted (0 on removed/expired) */
};

struct cv_bus_agent {
	const char *agent_id;
	const char *old_state; /* "available", "busy", "wrap_up", ... */
	const char *new_state;
	const char *reason;
};

struct cv_bus_queue {
	const char *queue;
	const char *call_id;
	const char *caller;   /* caller URI */
	const char *agent_id; /* queue.left: the agent that took the call */
	const char *target;   /* queue.overflowed: where the call went */
	const char *reason;
	uint32_t position; /* 1-based position at the event */
	uint64_t wait_ms;  /* time spent in the queue so far */
};

struct cv_bus_quality {
	const char *call_id;
	const char *stream; /* "audio", or a stream label */
	double loss_pct;    /* fraction lost in percent (RFC 3550 §6.4.1) */
	double jitter_ms;   /* interarrival jitter (RFC 3550 §6.4.1) */
	double rtt_ms;	    /* round-trip time, 0 unknown */
	double mos;	    /* estimated MOS 1..5 (ITU-T G.107 E-model) */
	uint64_t packets;   /* packets received */
	uint64_t lost;	    /* cumulative packets lost */
};

struct cv_bus_cdr {
	const char *cdr_id;
	const char *call_id;
	const char *from;
	const char *to;
	uint16_t status;    /* final SIP status */
	uint64_t start_us;  /* wall clock, µs since the epoch */
	uint64_t answer_us; /* 0 if never answered */
	uint64_t end_us;
};

struct cv_bus_system {
	const char *node; /* node name */
	const char *version;
	const char *reason; /* system.stopping: "signal", "admin", ... */
	uint32_t workers;
};

/* trunk.down / trunk.up: the server's OPTIONS health check
 * (RFC 3261 §11) marked an upstream trunk down or up again. */
struct cv_bus_trunk {
	const char *trunk;   /* its name in the configuration */
	const char *address; /* "sip:192.0.2.1:5060;transport=tcp" */
	uint16_t status;     /* the last OPTIONS answer, 0 none */
	bool local;	   /* the last failure was local (timeout, transport) */
	uint32_t failures; /* failed pings in a row (trunk.down) */
};

/* ---- events -----------------------------------------------------------------
 * Immutable once published and refcounted: a subscriber that keeps one past
 * its callback takes cv_bus_event_ref() and later cv_bus_event_unref(). */
#define CV_BUS_NO_WORKER 0xffffu

struct cv_bus_event {
	enum cv_bus_type type;
	enum cv_bus_topic topic;
	uint16_t worker; /* worker index of the publisher or CV_BUS_NO_WORKER */
	uint16_t publisher; /* publisher slot in the bus (ordering domain) */
	uint64_t seq;	    /* per-publisher sequence, 1, 2, 3... */
	uint64_t ts_us;	    /* wall clock at creation, µs since the epoch */
	union {
		struct cv_bus_call call;
		struct cv_bus_reg reg;
		struct cv_bus_agent agent;
		struct cv_bus_queue queue;
		struct cv_bus_quality quality;
		struct cv_bus_cdr cdr;
		struct cv_bus_system system;
		struct cv_bus_trunk trunk;
	} u;
};

/* A standalone event (refcount 1) holding a deep copy of payload, which
 * must be the struct of the type's kind. For tests, bridges and encoders;
 * publishing builds its own. The caller may still change ts_us. */
CV_API int cv_bus_event_create(struct cv_bus_event **evp, enum cv_bus_type type,
			       const void *payload);
CV_API struct cv_bus_event *cv_bus_event_ref(const struct cv_bus_event *ev);
/* Returns NULL: ev = cv_bus_event_unref(ev). */
CV_API struct cv_bus_event *cv_bus_event_unref(const struct cv_bus_event *ev);

/* {"type":"call.ended","topic":"call","ts":"2026-11-23T13:00:00.123456Z",
 *  "ts_us":..., "worker":0 (null off-worker), "publisher":0, "seq":7,
 *  "data":{...the payload's fields, strings null when absent...}}
 * *out is a new reference. */
CV_API int cv_bus_event_json(const struct cv_bus_event *ev, json_t **out);
/* The same, compact (reals with 15 significant digits), appended to a
 * buffer. */
CV_API int cv_bus_event_json_print(const struct cv_bus_event *ev,
				   struct cv_buf *out);

/* ---- bus ---------------------------------------------------------------- */
struct cv_bus;
struct cv_bus_sub;

struct cv_bus_params {
	/* Registry for cvoip_bus_{published,delivered,dropped}_total; may
	 * be NULL. It must outlive the bus. */
	struct cv_metrics *metrics;
	/* Threads that may publish over the bus's lifetime (0: 256). Each
	 * thread takes a slot on its first publish; past the limit publishing
	 * fails with CV_ETOOBIG. */
	unsigned max_publishers;
	/* Wake-up coalescing for every subscription of this bus (0: off).
	 * After a callback batch the subscriber does not re-arm its wake-up
	 * at once but looks again after this many milliseconds, so a steady
	 * stream costs one loop wake-up per period instead of one per event
	 * (a thread hand-off each). An idle subscriber is still woken by the
	 * first event at once; later ones wait at most this long. A
	 * CV_BUS_BLOCK publisher that finds the ring full wakes it anyway. */
	unsigned sub_linger_ms;
};

CV_API int cv_bus_create(struct cv_bus **busp, const struct cv_bus_params *p);
/* Every subscription must have been removed first (a subscription still
 * present is reported with an error log and leaked rather than freed
 * under a loop that may still run it). No thread may publish any more. */
CV_API void cv_bus_destroy(struct cv_bus *bus);

/* ---- publishing (any thread)
 * ------------------------------------------------- payload: the struct of the
 * type's kind (struct cv_bus_call for call types, ...). Returns 0 when the
 * event was handed to every subscriber whose topic mask matches (also when
 * there are none), CV_EFULL when at least one of them dropped it (counted),
 * CV_ETOOBIG past max_publishers, -ENOMEM, -EINVAL on a bad type. Never blocks
 * unless a matching subscription asked for CV_BUS_BLOCK, and then at most
 * block_us per event. */
CV_API int cv_bus_publish(struct cv_bus *bus, enum cv_bus_type type,
			  const void *payload);
/* Publish an event from cv_bus_event_create(); takes over the caller's
 * reference whatever the result. seq/publisher/worker are set here.
 * -EINVAL when the event is shared (refcount above 1) or its type was
 * changed to one with another payload struct. */
CV_API int cv_bus_post(struct cv_bus *bus, struct cv_bus_event *ev);

/* ---- subscribing ------------------------------------------------------- */
/* What a publisher does when this subscription's ring is full.
 * CV_BUS_DROP: drop the event for this subscriber (counted).
 * CV_BUS_BLOCK: wait up to block_us for room, then drop (counted). Do not
 * publish from a callback into a CV_BUS_BLOCK subscription of the same
 * loop: nothing drains it while the publisher waits. */
enum cv_bus_overflow {
	CV_BUS_DROP = 0,
	CV_BUS_BLOCK = 1,
};

/* Called on the subscription's loop, no bus lock held. The event is valid
 * until the callback returns (take a ref to keep it). The callback may
 * publish, subscribe, and unsubscribe any subscription of its own loop,
 * itself included. */
typedef void(cv_bus_event_fn)(const struct cv_bus_event *ev, void *arg);

struct cv_bus_sub_params {
	uv_loop_t *loop;     /* required; subscribe on this loop's thread */
	uint32_t topics;     /* CV_BUS_MASK(...) bits; 0 means all */
	cv_bus_event_fn *fn; /* required */
	void *arg;
	const char *name; /* metrics label "subscriber" (default "anon") */
	/* Ring capacity per publisher thread, rounded up to a power of two
	 * (0: 4096, at most 1 << 20). */
	size_t queue_cap;
	enum cv_bus_overflow overflow;
	/* CV_BUS_BLOCK: longest wait per event (0: 10000 µs, at most 10 s).
	 * After one wait ran out the ring is marked stalled and further events
	 * drop at once until the subscriber makes room again, so a stuck
	 * subscriber costs its publishers one wait, not one per event. */
	uint32_t block_us;
	/* Events taken from one ring before the next ring is looked at, and
	 * per loop iteration before other handles get their turn (0: 256). */
	unsigned batch;
};

/* Must run on the loop's thread. Events published after this returns
 * reach the subscription (if their topic matches). Like unsubscribe, it
 * waits for publishers that are in the middle of a publish (at most the
 * longest block_us of a publisher blocked on a full subscription). */
CV_API int cv_bus_subscribe(struct cv_bus *bus,
			    const struct cv_bus_sub_params *p,
			    struct cv_bus_sub **subp);
/* Must run on the subscription's loop thread (a callback of it included).
 * Waits until no publisher still sees the subscription (at most the
 * longest block_us of publishers blocked elsewhere), then no callback
 * fires again; events still queued are released uncounted. The memory is
 * freed when the loop runs the uv_close callback of its wake-up handle
 * (which may happen after cv_bus_destroy()). */
CV_API void cv_bus_unsubscribe(struct cv_bus_sub *sub);

/* Events this subscription lost to overflow (all topics). Any thread. */
CV_API uint64_t cv_bus_sub_dropped(const struct cv_bus_sub *sub);
/* Events this subscription's callback received. Any thread. */
CV_API uint64_t cv_bus_sub_delivered(const struct cv_bus_sub *sub);
/* Events published (handed to the bus, whatever their fate). */
CV_API uint64_t cv_bus_published(const struct cv_bus *bus);
/* Events alive right now (queued or held by a subscriber). Leak checks. */
CV_API int64_t cv_bus_live_events(void);

#ifdef __cplusplus
}
#endif

#endif
