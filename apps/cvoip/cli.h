/* Shared pieces of the cvoip subcommands: output (human or --json),
 * credentials, exit codes. */
#ifndef CVOIP_CLI_H
#define CVOIP_CLI_H

#include <jansson.h>
#include <stdbool.h>

#include "cvoip/client.h"

#include "commands.h"

struct cli_out {
	bool json;
	bool tty;
};

extern struct cli_out cli_out;

/* One event: in --json mode the object is printed on one line (and
 * consumed); otherwise `human` is printed (if not NULL). */
void cli_event(json_t *obj, const char *human, ...)
	__attribute__((format(printf, 2, 3)));
/* A one-line error on stderr (and as an "error" event with --json). */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "user:pass" -> user and pass (pointers into buf); --auth-stdin reads
 * the same form from standard input. 0 or -EINVAL. */
int cli_parse_auth(const char *arg, char *buf, size_t size, const char **user,
		   const char **pass);
int cli_read_auth_stdin(char *buf, size_t size, const char **user,
			const char **pass);
/* "PCMU,opus" -> list (pointers into buf). */
size_t cli_parse_codecs(char *buf, const char **out, size_t max);
/* Creates the client (*clp is set before anything runs, for the
 * callbacks), runs it with start(cl, arg) until it stops, calls
 * before_destroy(arg) (may be NULL: release what the command still holds)
 * and destroys it. 0, or after a one-line error CVOIP_EXIT_USAGE when the
 * configuration was refused (TLS files, listen specs), CVOIP_EXIT_NETWORK
 * when the client could not start or run. */
int cli_client_run(struct cv_client **clp, const struct cv_client_params *cp,
		   void (*start)(struct cv_client *cl, void *arg), void *arg,
		   void (*before_destroy)(void *arg));

/* Exit code for a SIP final status of a failed call or request. */
int cli_exit_for_status(unsigned status);

/* --transport and the TLS options every network subcommand takes. */
enum {
	CLI_O_TLS_CA = 900,
	CLI_O_TLS_CERT,
	CLI_O_TLS_KEY,
	CLI_O_TLS_NAME,
	CLI_O_TLS_NO_VERIFY
};
#define CLI_TLS_OPTIONS                                                        \
	{"tls-ca", required_argument, NULL, CLI_O_TLS_CA},                     \
		{"tls-cert", required_argument, NULL, CLI_O_TLS_CERT},         \
		{"tls-key", required_argument, NULL, CLI_O_TLS_KEY},           \
		{"tls-name", required_argument, NULL, CLI_O_TLS_NAME},         \
	{                                                                      \
		"tls-no-verify", no_argument, NULL, CLI_O_TLS_NO_VERIFY        \
	}
/* Usage lines for --transport and the TLS options. */
extern const char cli_tp_usage[];
/* One of the CLI_TLS_OPTIONS into t: true when c was one. */
bool cli_tls_option(int c, const char *arg, struct cv_client_tls *t);
/* The options several subcommands share; each lists in its own option
 * table those it takes (CLI_OPT_*), and passes what getopt_long returns
 * to cli_common_option. */
enum {
	CLI_O_LISTEN = 940,
	CLI_O_AUTH,
	CLI_O_AUTH_STDIN,
	CLI_O_FROM,
	CLI_O_PROXY,
	CLI_O_TRANSPORT,
	CLI_O_KEEPALIVE,
	CLI_O_JSON
};
/* clang-format off */
#define CLI_OPT_LISTEN {"listen", required_argument, NULL, CLI_O_LISTEN}
#define CLI_OPT_AUTH {"auth", required_argument, NULL, CLI_O_AUTH}
#define CLI_OPT_AUTH_STDIN {"auth-stdin", no_argument, NULL, CLI_O_AUTH_STDIN}
#define CLI_OPT_FROM {"from", required_argument, NULL, CLI_O_FROM}
#define CLI_OPT_PROXY {"proxy", required_argument, NULL, CLI_O_PROXY}
#define CLI_OPT_TRANSPORT {"transport", required_argument, NULL, CLI_O_TRANSPORT}
#define CLI_OPT_KEEPALIVE {"keepalive", required_argument, NULL, CLI_O_KEEPALIVE}
#define CLI_OPT_JSON {"json", no_argument, NULL, CLI_O_JSON}
/* clang-format on */

struct cli_common {
	struct cv_auth_cred auth; /* --auth, or --auth-stdin after finish */
	bool auth_stdin;
	const char *from, *proxy;
	const char *listen[4]; /* --listen, repeatable */
	size_t nlisten;
	enum cv_tp_kind tp; /* --transport; CV_TP_UDP by default */
	struct cv_client_tls tls;
	uint32_t keepalive; /* --keepalive SECONDS */
	char authbuf[512];
};

/* One of the CLI_OPT_* or CLI_TLS_OPTIONS into o (--json sets
 * cli_out.json): 1 when c was one, 0 when not, -EINVAL after a one-line
 * error for a bad value. */
int cli_common_option(int c, const char *arg, struct cli_common *o);
/* After the options: reads USER:PASS from standard input for
 * --auth-stdin. 0, or -EINVAL after a one-line error. */
int cli_common_finish(struct cli_common *o);
/* The client parameters that come from the common options (listen
 * addresses, TLS, keep-alive). */
void cli_common_params(const struct cli_common *o, struct cv_client_params *cp);
/* The registrar to use for aor over o->tp: registrar (may be NULL: the
 * AOR's own server) with ";transport=" added for non-UDP transports.
 * *out is registrar itself for UDP. 0 or -EINVAL after a one-line error. */
int cli_common_registrar(const struct cli_common *o, const char *aor,
			 const char *registrar, char *buf, size_t size,
			 const char **out);

/* --audio device[:NAME], --aec, --audio-rate HZ, --audio-period MS
 * (call and answer). */
enum { CLI_O_AUDIO = 920, CLI_O_AEC, CLI_O_AUDIO_RATE, CLI_O_AUDIO_PERIOD };
#define CLI_AUDIO_OPTIONS                                                      \
	{"audio", required_argument, NULL, CLI_O_AUDIO},                       \
		{"aec", no_argument, NULL, CLI_O_AEC},                         \
		{"audio-rate", required_argument, NULL, CLI_O_AUDIO_RATE},     \
	{                                                                      \
		"audio-period", required_argument, NULL, CLI_O_AUDIO_PERIOD    \
	}
extern const char cli_audio_usage[];
/* One of the CLI_AUDIO_OPTIONS into m: 1 when c was one, 0 when not, and
 * -EINVAL after a one-line error for a bad value. */
int cli_audio_option(int c, const char *arg, struct cv_client_media *m);
/* A "device" event (sound device figures) when q->device. */
void cli_device_event(const struct cv_ccall_quality *q);
/* After the options: --aec without a device, a device with both a
 * source (--play/--tone) and --record, or media that cv_client_media_check
 * refuses (unreadable file, unknown codec, device that does not open) is
 * a usage error (-EINVAL after a one-line error). */
int cli_audio_check(const struct cv_client_media *m);
/* "udp|tcp|tls|ws|wss"; a one-line error and -EINVAL otherwise. */
int cli_parse_transport(const char *arg, enum cv_tp_kind *out);
/* uri with ";transport=<k>" appended unless k is UDP or the URI names a
 * transport already. CV_ETOOBIG when out is short. */
int cli_uri_transport(const char *uri, enum cv_tp_kind k, char *out,
		      size_t size);
/* "sip:host[:port]" of an AOR ("sip:bob@127.0.0.1:5060" ->
 * "sip:127.0.0.1:5060"), with the transport as above. */
int cli_aor_server(const char *aor, enum cv_tp_kind k, char *out, size_t size);

#endif
