/* Shared pieces of the cvoip subcommands. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

struct cli_out cli_out;

void cli_event(json_t *obj, const char *human, ...)
{
	if (cli_out.json) {
		if (obj) {
			char *s = json_dumps(obj,
					     JSON_COMPACT | JSON_ENSURE_ASCII |
						     JSON_REAL_PRECISION(6));
			if (s) {
				puts(s);
				free(s);
			}
		}
	} else if (human) {
		va_list ap;
		va_start(ap, human);
		vprintf(human, ap);
		va_end(ap);
		putchar('\n');
	}
	fflush(stdout);
	json_decref(obj);
}

void cli_error(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "cvoip: %s\n", msg);
	if (cli_out.json)
		cli_event(json_pack("{s:s,s:s}", "event", "error", "message",
				    msg),
			  NULL);
}

static int split_auth(char *buf, const char **user, const char **pass)
{
	char *colon = strchr(buf, ':');
	if (!colon || colon == buf)
		return -EINVAL;
	*colon = '\0';
	*user = buf;
	*pass = colon + 1;
	return 0;
}

int cli_parse_auth(const char *arg, char *buf, size_t size, const char **user,
		   const char **pass)
{
	if (snprintf(buf, size, "%s", arg) >= (int)size)
		return -EINVAL;
	return split_auth(buf, user, pass);
}

int cli_read_auth_stdin(char *buf, size_t size, const char **user,
			const char **pass)
{
	if (!fgets(buf, (int)size, stdin))
		return -EINVAL;
	buf[strcspn(buf, "\r\n")] = '\0';
	return split_auth(buf, user, pass);
}

size_t cli_parse_codecs(char *buf, const char **out, size_t max)
{
	size_t n = 0;
	for (char *save = NULL, *t = strtok_r(buf, ",", &save); t && n < max;
	     t = strtok_r(NULL, ",", &save))
		out[n++] = t;
	return n;
}

int cli_exit_for_status(unsigned status)
{
	switch (status) {
	case 401:
	case 403:
	case 407:
		return CVOIP_EXIT_AUTH;
	case 408:
	case 480:
	case 487:
		return CVOIP_EXIT_NOANSWER;
	case 503:
		return CVOIP_EXIT_NETWORK;
	default:
		return CVOIP_EXIT_FAIL;
	}
}

int cli_client_run(struct cv_client **clp, const struct cv_client_params *cp,
		   void (*start)(struct cv_client *cl, void *arg), void *arg,
		   void (*before_destroy)(void *arg))
{
	int err = cv_client_create(clp, cp);
	if (err) {
		cli_error("cannot start: %s", cv_strerror(err));
		/* unreadable TLS files, bad listen specs: the command line's
		 * fault */
		return err == CV_ECONFIG || err == CV_EPARSE
			       ? CVOIP_EXIT_USAGE
			       : CVOIP_EXIT_NETWORK;
	}
	err = cv_client_run(*clp, start, arg);
	if (before_destroy)
		before_destroy(arg);
	cv_client_destroy(*clp);
	*clp = NULL;
	if (err) {
		cli_error("%s", cv_strerror(err));
		return CVOIP_EXIT_NETWORK;
	}
	return 0;
}

const char cli_tp_usage[] =
	"  --transport T       udp, tcp, tls, ws or wss (default udp): added "
	"as\n"
	"                      ;transport=T to the server URI (connections "
	"are\n"
	"                      opened as needed and reused; ws/wss per RFC "
	"7118)\n"
	"  --tls-ca FILE       CA certificates that sign the server (PEM; "
	"default:\n"
	"                      the system's)\n"
	"  --tls-name NAME     the name the server certificate must carry (and "
	"SNI);\n"
	"                      default: the server's IP address must be in it\n"
	"  --tls-no-verify     accept any server certificate (testing only)\n"
	"  --tls-cert FILE     our certificate (PEM): for tls:/wss: listeners "
	"and\n"
	"                      servers asking for a client certificate\n"
	"  --tls-key FILE      its private key\n";

bool cli_tls_option(int c, const char *arg, struct cv_client_tls *t)
{
	switch (c) {
	case CLI_O_TLS_CA:
		t->ca_file = arg;
		return true;
	case CLI_O_TLS_CERT:
		t->cert_file = arg;
		return true;
	case CLI_O_TLS_KEY:
		t->key_file = arg;
		return true;
	case CLI_O_TLS_NAME:
		t->server_name = arg;
		return true;
	case CLI_O_TLS_NO_VERIFY:
		t->no_verify = true;
		return true;
	default:
		return false;
	}
}

int cli_common_option(int c, const char *arg, struct cli_common *o)
{
	switch (c) {
	case CLI_O_LISTEN:
		if (o->nlisten == CV_ARRAY_SIZE(o->listen)) {
			cli_error("at most %zu --listen",
				  CV_ARRAY_SIZE(o->listen));
			return -EINVAL;
		}
		o->listen[o->nlisten++] = arg;
		return 1;
	case CLI_O_AUTH:
		if (cli_parse_auth(arg, o->authbuf, sizeof(o->authbuf),
				   &o->auth.user, &o->auth.password)) {
			cli_error("--auth takes USER:PASS");
			return -EINVAL;
		}
		return 1;
	case CLI_O_AUTH_STDIN:
		o->auth_stdin = true;
		return 1;
	case CLI_O_FROM:
		o->from = arg;
		return 1;
	case CLI_O_PROXY:
		o->proxy = arg;
		return 1;
	case CLI_O_TRANSPORT:
		return cli_parse_transport(arg, &o->tp) ? -EINVAL : 1;
	case CLI_O_KEEPALIVE:
		o->keepalive = (uint32_t)atol(arg);
		return 1;
	case CLI_O_JSON:
		cli_out.json = true;
		return 1;
	default:
		return cli_tls_option(c, arg, &o->tls) ? 1 : 0;
	}
}

int cli_common_finish(struct cli_common *o)
{
	if (o->auth_stdin &&
	    cli_read_auth_stdin(o->authbuf, sizeof(o->authbuf), &o->auth.user,
				&o->auth.password)) {
		cli_error("--auth-stdin: expected USER:PASS on standard input");
		return -EINVAL;
	}
	return 0;
}

void cli_common_params(const struct cli_common *o, struct cv_client_params *cp)
{
	cp->listen = o->nlisten ? o->listen : NULL;
	cp->nlisten = o->nlisten;
	cp->tls = o->tls;
	cp->keepalive_s = o->keepalive;
}

int cli_common_registrar(const struct cli_common *o, const char *aor,
			 const char *registrar, char *buf, size_t size,
			 const char **out)
{
	*out = registrar;
	if (o->tp == CV_TP_UDP)
		return 0;
	int err = registrar ? cli_uri_transport(registrar, o->tp, buf, size)
			    : cli_aor_server(aor, o->tp, buf, size);
	if (err) {
		cli_error("bad AOR or registrar URI");
		return -EINVAL;
	}
	*out = buf;
	return 0;
}

const char cli_audio_usage[] =
	"  --audio device[:NAME]  use the sound card through ALSA: its "
	"microphone\n"
	"                      is sent (unless --play/--tone) and what we hear "
	"is\n"
	"                      played (unless --record); NAME is an ALSA PCM\n"
	"                      (default \"default\"; e.g. hw:0, plughw:1, or a "
	"PCM\n"
	"                      from ~/.asoundrc or $ALSA_CONFIG_PATH)\n"
	"  --aec               speexdsp echo cancellation of the device's "
	"microphone\n"
	"  --audio-rate HZ     device rate: 8000, 16000 or 48000 (default "
	"48000)\n"
	"  --audio-period MS   device period, 5..100 ms (default 20)\n";

int cli_audio_option(int c, const char *arg, struct cv_client_media *m)
{
	switch (c) {
	case CLI_O_AUDIO:
		if (!strcmp(arg, "device")) {
			m->device = "default";
			return 1;
		}
		if (!strncmp(arg, "device:", 7) && arg[7]) {
			m->device = arg + 7;
			return 1;
		}
		cli_error("--audio takes device or device:NAME (files: --play, "
			  "--record)");
		return -EINVAL;
	case CLI_O_AEC:
		m->aec = true;
		return 1;
	case CLI_O_AUDIO_RATE:
		m->device_rate = (uint32_t)atol(arg);
		if (m->device_rate != 8000 && m->device_rate != 16000 &&
		    m->device_rate != 48000) {
			cli_error("--audio-rate: 8000, 16000 or 48000");
			return -EINVAL;
		}
		return 1;
	case CLI_O_AUDIO_PERIOD: {
		long ms = atol(arg);
		if (ms < 5 || ms > 100) {
			cli_error("--audio-period: 5..100 ms");
			return -EINVAL;
		}
		m->device_period_ms = (uint32_t)ms;
		return 1;
	}
	default:
		return 0;
	}
}

void cli_device_event(const struct cv_ccall_quality *q)
{
	if (!q->device)
		return;
	cli_event(json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "event",
			    "device", "rate", (json_int_t)q->device_rate,
			    "captured", (json_int_t)q->device_captured,
			    "played", (json_int_t)q->device_played, "xruns",
			    (json_int_t)q->device_xruns, "dropped",
			    (json_int_t)q->device_dropped, "silence",
			    (json_int_t)q->device_silence, "aec_frames",
			    (json_int_t)q->aec_frames),
		  "device: %u Hz captured %llu played %llu frames, %llu xruns, "
		  "%llu dropped, "
		  "%llu silence, %llu frames echo-cancelled",
		  q->device_rate, (unsigned long long)q->device_captured,
		  (unsigned long long)q->device_played,
		  (unsigned long long)q->device_xruns,
		  (unsigned long long)q->device_dropped,
		  (unsigned long long)q->device_silence,
		  (unsigned long long)q->aec_frames);
}

int cli_audio_check(const struct cv_client_media *m)
{
	if ((m->aec || m->device_rate || m->device_period_ms) && !m->device) {
		cli_error("--aec, --audio-rate and --audio-period need --audio "
			  "device");
		return -EINVAL;
	}
	if (m->device && (m->play || m->tone_hz > 0) && m->record) {
		cli_error("--audio device with --play/--tone and --record "
			  "would use neither "
			  "microphone nor loudspeaker");
		return -EINVAL;
	}
	/* files readable, codecs known, the device opens: before any call */
	char why[256];
	if (cv_client_media_check(m, why, sizeof(why)) != 0) {
		cli_error("%s", why);
		return -EINVAL;
	}
	return 0;
}

int cli_parse_transport(const char *arg, enum cv_tp_kind *out)
{
	if (cv_tp_kind_parse(cv_pl_str(arg), out) != 0) {
		cli_error("--transport: udp, tcp, tls, ws or wss");
		return -EINVAL;
	}
	return 0;
}

int cli_uri_transport(const char *uri, enum cv_tp_kind k, char *out,
		      size_t size)
{
	int n;
	if (k == CV_TP_UDP || strstr(uri, "transport=")) {
		n = snprintf(out, size, "%s", uri);
	} else {
		char lower[8];
		size_t i = 0;
		for (const char *p = cv_tp_kind_name(k);
		     *p && i < sizeof(lower) - 1; p++)
			lower[i++] = (char)(*p | 0x20);
		lower[i] = '\0';
		n = snprintf(out, size, "%s;transport=%s", uri, lower);
	}
	return n < 0 || (size_t)n >= size ? CV_ETOOBIG : 0;
}

int cli_aor_server(const char *aor, enum cv_tp_kind k, char *out, size_t size)
{
	const char *scheme = strncmp(aor, "sips:", 5) == 0 ? "sips:" : "sip:";
	const char *host = strchr(aor, '@');
	host = host ? host + 1 : aor + strlen(scheme);
	if (strncmp(aor, scheme, strlen(scheme)) != 0)
		return CV_EPARSE;
	char tmp[512];
	int n = snprintf(tmp, sizeof(tmp), "%s%.*s", scheme,
			 (int)strcspn(host, ";?>"), host);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return CV_ETOOBIG;
	return cli_uri_transport(tmp, k, out, size);
}
