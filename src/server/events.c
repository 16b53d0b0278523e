/* The server's events on the bus: calls, registrations, CDRs. The API,
 * recorder and metrics subscribe; cvoipd's event log writes them as JSON
 * lines. Publishing copies every string and never blocks a worker unless a
 * subscriber asked for back-pressure. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "server_int.h"

#define MOD "server"

void srv_pub_call(struct cv_srv *s, enum cv_bus_type type, const char *call_id,
		  const char *from, const char *to, uint16_t status,
		  const char *reason, enum cv_bus_hangup by,
		  uint64_t duration_ms)
{
	if (!s->p.bus)
		return;
	struct cv_bus_call ev = {.call_id = call_id,
				 .from = from,
				 .to = to,
				 .direction = CV_BUS_DIR_INBOUND,
				 .status = status,
				 .reason = reason,
				 .hangup_by = by,
				 .duration_ms = duration_ms};
	cv_bus_publish(s->p.bus, type, &ev);
}

void srv_pub_reg(struct cv_srv *s, enum cv_bus_type type, const char *aor,
		 const char *contact, const struct cv_txn_addr *src,
		 const char *user_agent, uint32_t expires)
{
	if (!s->p.bus)
		return;
	char source[CV_TP_ADDRSTRLEN + 8] = "";
	if (src && src->remote.sa.sa_family == AF_INET) {
		/* "udp:192.0.2.1:5060" without printf: one per REGISTER */
		const char *k = cv_tp_kind_name((enum cv_tp_kind)src->kind);
		const uint8_t *ip =
			(const uint8_t *)&src->remote.in.sin_addr.s_addr;
		char *p = source;
		for (size_t i = 0; k[i] && i < 7; i++)
			*p++ = (char)(k[i] | 0x20);
		*p++ = ':';
		for (int i = 0; i < 4; i++) {
			p += cv_u64_dec(p, ip[i]);
			*p++ = i < 3 ? '.' : ':';
		}
		p += cv_u64_dec(p, ntohs(src->remote.in.sin_port));
		*p = '\0';
	} else if (src) {
		struct cv_tp_addr ta = {0};
		if (src->remote.sa.sa_family == AF_INET)
			memcpy(&ta.ss, &src->remote.in, sizeof(src->remote.in));
		else if (src->remote.sa.sa_family == AF_INET6)
			memcpy(&ta.ss, &src->remote.in6,
			       sizeof(src->remote.in6));
		char a[CV_TP_ADDRSTRLEN];
		cv_tp_addr_print(&ta, a, sizeof(a));
		const char *k = cv_tp_kind_name((enum cv_tp_kind)src->kind);
		char lower[8];
		size_t i = 0;
		for (; k[i] && i < sizeof(lower) - 1; i++)
			lower[i] = (char)(k[i] | 0x20);
		lower[i] = '\0';
		snprintf(source, sizeof(source), "%s:%s", lower, a);
	}
	struct cv_bus_reg ev = {.aor = aor,
				.contact = contact,
				.source = source[0] ? source : NULL,
				.user_agent = user_agent,
				.expires = expires};
	cv_bus_publish(s->p.bus, type, &ev);
}

void srv_pub_cdr(struct cv_srv *s, const struct cv_store_cdr *cdr)
{
	if (!s->p.bus)
		return;
	unsigned status = 0;
	sscanf(cdr->end_reason ? cdr->end_reason : "", "%u", &status);
	if (!status && cdr->answer_us)
		status = 200;
	struct cv_bus_cdr ev = {.cdr_id = cdr->id,
				.call_id = cdr->call_id,
				.from = cdr->caller,
				.to = cdr->callee,
				.status = (uint16_t)status,
				.start_us = (uint64_t)cdr->start_us,
				.answer_us = (uint64_t)cdr->answer_us,
				.end_us = (uint64_t)cdr->end_us};
	cv_bus_publish(s->p.bus, CV_BUS_CDR_WRITTEN, &ev);
}
