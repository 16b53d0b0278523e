/* Publishing the transport counters in the metrics registry. */
#include <stdio.h>

#include "tp_int.h"

#define F(field) (offsetof(struct cv_tp_stats, field) / sizeof(uint64_t))

struct tp_mdef {
	size_t idx;
	const char *family;
	const char *help;
	const char *label; /* label name, NULL for none */
	const char *value;
};

static const struct tp_mdef defs[] = {
	{F(handover), "cvoip_transport_handover_total",
	 "Messages handed to the worker owning their Call-ID", NULL, NULL},
	{F(handover_dropped), "cvoip_transport_handover_dropped_total",
	 "Messages dropped because the owner's queue was full", NULL, NULL},
	{F(conns_accepted), "cvoip_transport_connections_total",
	 "Stream connection events", "event", "accepted"},
	{F(conns_connected), "cvoip_transport_connections_total",
	 "Stream connection events", "event", "connected"},
	{F(conns_closed), "cvoip_transport_connections_total",
	 "Stream connection events", "event", "closed"},
#define REJ(f, v)                                                              \
	{                                                                      \
		F(f), "cvoip_transport_rejected_total",                        \
			"Input or connections refused by a transport limit",   \
			"limit", v                                             \
	}
	REJ(rej_udp_too_big, "udp_too_big"),
	REJ(rej_stream_too_big, "stream_too_big"),
	REJ(rej_ws_too_big, "ws_too_big"),
	REJ(rej_http_bad, "http_bad"),
	REJ(rej_max_conns, "max_conns"),
	REJ(rej_per_ip, "per_ip"),
	REJ(rej_idle, "idle"),
	REJ(rej_partial, "partial"),
	REJ(rej_handshake, "handshake"),
	REJ(rej_send_queue, "send_queue"),
	REJ(rej_garbage, "garbage"),
#undef REJ
	{F(keepalive_pong), "cvoip_transport_keepalive_pongs_total",
	 "CRLFCRLF pings answered (RFC 5626)", NULL, NULL},
	{F(dns_queries), "cvoip_transport_dns_total", "RFC 3263 DNS lookups",
	 "result", "query"},
	{F(dns_cache_hits), "cvoip_transport_dns_total", "RFC 3263 DNS lookups",
	 "result", "cache_hit"},
	{F(dns_failures), "cvoip_transport_dns_total", "RFC 3263 DNS lookups",
	 "result", "failure"},
	{F(udp_batches), "cvoip_transport_udp_batches_total",
	 "recvmmsg calls that returned datagrams", NULL, NULL},
	{F(sl_bad_requests), "cvoip_transport_bad_requests_answered_total",
	 "Unparsable requests answered statelessly with the parser's verdict",
	 NULL, NULL},
	{F(aliases), "cvoip_transport_aliases_total",
	 "Connections aliased to a Via sent-by (RFC 5923)", NULL, NULL},
};

static int series(struct cv_metrics *m, const char *family, const char *help,
		  const char *label, const char *value, struct cv_metric **sp)
{
	struct cv_metric_family *f;
	const char *labels[1] = {label};
	struct cv_metric_desc d = {.name = family,
				   .help = help,
				   .type = CV_METRIC_COUNTER,
				   .labels = labels,
				   .nlabels = label ? 1 : 0};
	int err = cv_metrics_family(m, &d, &f);
	if (err)
		return err;
	const char *values[1] = {value};
	return cv_metrics_series(f, values, label ? 1 : 0, sp);
}

int tp_metrics_register(struct cv_tp *tp, struct cv_metrics *m)
{
	int err;
	for (size_t i = 0; i < CV_ARRAY_SIZE(defs); i++) {
		err = series(m, defs[i].family, defs[i].help, defs[i].label,
			     defs[i].value, &tp->mx[defs[i].idx]);
		if (err)
			return err;
	}
	for (unsigned k = 0; k < CV_TP_NKINDS; k++) {
		char v[4];
		const char *n = cv_tp_kind_name((enum cv_tp_kind)k);
		size_t i;
		for (i = 0; n[i] && i < 3; i++)
			v[i] = (char)(n[i] | 0x20);
		v[i] = '\0';
		err = series(m, "cvoip_transport_rx_messages_total",
			     "SIP messages received", "transport", v,
			     &tp->mx[F(rx_msgs) + k]);
		if (!err)
			err = series(m, "cvoip_transport_tx_messages_total",
				     "SIP messages sent", "transport", v,
				     &tp->mx[F(tx_msgs) + k]);
		if (err)
			return err;
	}
	struct cv_metric_family *f;
	struct cv_metric_desc d = {.name = "cvoip_transport_connections_open",
				   .help = "Open stream connections",
				   .type = CV_METRIC_GAUGE};
	err = cv_metrics_family(m, &d, &f);
	if (!err)
		err = cv_metrics_series(f, NULL, 0, &tp->m_open);
	return err;
}
