/* fuzz_txn: drives one transaction layer with a script of messages, time
 * steps and TU actions, on the fake clock. Chunks are separated by
 * "\n#\n"; the first byte of a chunk says what it is:
 *   M<sip message>   received over UDP     m<sip message> over TCP
 *   T<ms>            advance the clock (<= 100 s) running the wheel
 *   A<status>        answer every held server transaction
 *   C<sip request>   start a client transaction (held)
 *   X                cancel every held client transaction
 *   E                a late transport error on every held transaction
 *   L                release everything held
 * Invariants checked: no crash, no leak (cv_mem_live back to its start),
 * no timer left on the wheel after the layer is destroyed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cvoip/txn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_HELD 64

static struct cv_txn *held[MAX_HELD];
static unsigned nheld;

static int f_send(const struct cv_txn_out *o, bool *reliable, void *arg)
{
	(void)arg;
	(void)reliable;
	/* a deterministic transport failure now and then */
	return (o->len % 97) == 13 ? -ECONNRESET : 0;
}

static void hold(struct cv_txn *t)
{
	if (nheld < MAX_HELD)
		held[nheld++] = t;
	else
		cv_txn_release(t);
}

static void f_request(struct cv_txn *t, struct cv_sip_msg *req, void *arg)
{
	(void)arg;
	if (req->method == CV_SIP_INVITE && cv_txn_is_merged(t)) {
		(void)cv_txn_respond(t, 482, NULL);
		cv_txn_release(t);
		return;
	}
	hold(t);
}

static void f_response(struct cv_txn *t, const struct cv_txn_resp *r, void *arg)
{
	(void)t;
	(void)r;
	(void)arg;
}

static void f_ack(struct cv_txn *inv, struct cv_sip_msg *ack,
		  const struct cv_txn_addr *src, void *arg)
{
	(void)inv;
	(void)ack;
	(void)src;
	(void)arg;
}

static void f_cancel(struct cv_txn *t, struct cv_sip_msg *c, void *arg)
{
	(void)c;
	(void)arg;
	(void)cv_txn_respond(t, 487, NULL);
}

static const struct cv_txn_handlers handlers = {
	.request = f_request,
	.response = f_response,
	.ack = f_ack,
	.cancel = f_cancel,
};

static uint32_t num(const uint8_t *p, size_t n)
{
	uint32_t v = 0;
	for (size_t i = 0; i < n && i < 9 && p[i] >= '0' && p[i] <= '9'; i++)
		v = v * 10 + (uint32_t)(p[i] - '0');
	return v;
}

static void chunk(struct cv_txn_layer *l, struct cv_wheel *w, const uint8_t *p,
		  size_t n)
{
	if (!n)
		return;
	const uint8_t op = p[0];
	p++;
	n--;
	switch (op) {
	case 'M':
	case 'm': {
		struct cv_sip_msg *m = NULL;
		struct cv_txn_addr src = {.reliable = op == 'm'};
		if (cv_sip_msg_parse(&m, p, n, NULL, NULL) == 0) {
			(void)cv_txn_recv(l, m, &src);
			cv_mem_unref(m);
		}
		break;
	}
	case 'T': {
		uint32_t ms = num(p, n);
		if (ms > 100000)
			ms = 100000;
		for (uint32_t t = 0; t < ms; t += 10) {
			cv_clock_fake_advance(10000);
			cv_wheel_run(w);
		}
		break;
	}
	case 'A': {
		uint32_t st = num(p, n);
		for (unsigned i = 0; i < nheld; i++)
			if (!cv_txn_is_client(held[i]))
				(void)cv_txn_respond(held[i], (uint16_t)st,
						     NULL);
		break;
	}
	case 'C': {
		struct cv_txn *t = NULL;
		struct cv_txn_addr dst = {.reliable = n % 2 == 0};
		struct cv_txn_client_params cp = {
			.buf = (const char *)p, .len = n, .dst = &dst};
		if (n && cv_txn_client_create(&t, l, &cp) == 0)
			hold(t);
		break;
	}
	case 'X':
		for (unsigned i = 0; i < nheld; i++)
			if (cv_txn_is_client(held[i]))
				(void)cv_txn_cancel(held[i], NULL);
		break;
	case 'E':
		for (unsigned i = 0; i < nheld; i++)
			cv_txn_transport_error(held[i], -ECONNRESET);
		break;
	case 'L':
		for (unsigned i = 0; i < nheld; i++)
			cv_txn_release(held[i]);
		nheld = 0;
		break;
	default:
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int64_t live0 = cv_mem_live();
	cv_clock_fake_enable(1000000000ull);
	struct cv_wheel *w;
	struct cv_txn_layer *l;
	if (cv_wheel_create(&w, NULL, 1000))
		return 0;
	struct cv_txn_params p;
	cv_txn_params_init(&p);
	p.send = f_send;
	p.h = &handlers;
	p.wheel = w;
	p.max_txns = 32;
	p.auto_487 = size % 2;
	if (cv_txn_layer_create(&l, &p)) {
		cv_wheel_destroy(w);
		return 0;
	}
	nheld = 0;
	size_t start = 0;
	for (size_t i = 0; i + 3 <= size; i++) {
		if (memcmp(data + i, "\n#\n", 3) == 0) {
			chunk(l, w, data + start, i - start);
			start = i + 3;
			i += 2;
		}
	}
	chunk(l, w, data + start, size - start);
	for (unsigned i = 0; i < nheld; i++)
		cv_txn_release(held[i]);
	nheld = 0;
	cv_txn_layer_destroy(l);
	if (cv_wheel_count(w) != 0)
		abort();
	cv_wheel_destroy(w);
	cv_clock_fake_disable();
	if (cv_mem_live() != live0)
		abort();
	return 0;
}
