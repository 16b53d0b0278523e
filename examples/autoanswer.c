/* A minimal auto-answer softphone on the cvoip client library: listens on
 * the given address, answers every call, plays a 1 kHz tone, records what
 * it hears to answered-N.wav, and exits after the given number of calls.
 *
 *   autoanswer udp:127.0.0.1:5062 [CALLS]
 */
#include <stdio.h>
#include <stdlib.h>

#include "cvoip/client.h"

struct app {
	struct cv_client *cl;
	int calls_left;
	int n;
};

static void on_incoming(struct cv_client *cl, struct cv_ccall *cc,
			const char *from, void *arg)
{
	struct app *a = arg;
	char rec[64];
	snprintf(rec, sizeof(rec), "answered-%d.wav", ++a->n);
	printf("call from %s\n", from);
	struct cv_client_media m = {.tone_hz = 1000, .record = rec};
	if (cv_ccall_answer(cc, &m) != 0) {
		cv_ccall_reject(cc, 500);
		cv_ccall_release(cc);
	}
}

static void on_state(struct cv_ccall *cc, enum cv_call_state st,
		     uint16_t status, const char *reason, void *arg)
{
	struct app *a = arg;
	printf("state %s %u %s\n", cv_call_state_name(st), status,
	       reason ? reason : "");
	fflush(stdout);
	if (st != CV_CALL_ENDED)
		return;
	struct cv_ccall_quality q;
	if (cv_ccall_quality(cc, &q) == 0)
		printf("received %llu packets, MOS %.2f\n",
		       (unsigned long long)q.rx_packets, q.mos);
	cv_ccall_release(cc);
	if (--a->calls_left == 0)
		cv_client_stop(a->cl);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: autoanswer LISTEN-SPEC [CALLS]\n");
		return 2;
	}
	struct app a = {.calls_left = argc > 2 ? atoi(argv[2]) : 1};
	static const struct cv_client_handlers h = {.incoming = on_incoming,
						    .call_state = on_state};
	const char *listen[] = {argv[1]};
	struct cv_client_params p = {
		.listen = listen, .nlisten = 1, .h = &h, .arg = &a};
	if (cv_client_create(&a.cl, &p) != 0)
		return 1;
	printf("listening on %s\n", argv[1]);
	fflush(stdout);
	int err = cv_client_run(a.cl, NULL, NULL);
	cv_client_destroy(a.cl);
	return err ? 1 : 0;
}
