/* cvoip sip-parse [FILE|-]... [--quiet]: parse SIP messages, print them as
 * JSON, and say what a server would answer. Exit 0 valid, 1 reject/drop,
 * 2 usage or I/O error. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "cvoip/sip.h"

/* Option tags a cvoip UAS understands (Require checks, RFC 3261 §8.2.2.3). */
static const char *const supported[] = {"100rel",     "timer",	  "replaces",
					"path",	      "outbound", "gruu",
					"norefersub", NULL};

static int read_all(const char *path, char **out, size_t *len)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	if (!f)
		return -1;
	size_t cap = 65536, n = 0;
	char *b = malloc(cap);
	while (b) {
		size_t r = fread(b + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
		if (n == cap) {
			if (cap >= (64u << 20))
				break; /* bounded: 64 MiB */
			char *nb = realloc(b, cap * 2);
			if (!nb) {
				free(b);
				b = NULL;
				break;
			}
			b = nb;
			cap *= 2;
		}
	}
	int err = ferror(f) || !b;
	if (f != stdin)
		fclose(f);
	if (err) {
		free(b);
		return -1;
	}
	*out = b;
	*len = n;
	return 0;
}

static void verdict_line(FILE *f, const struct cv_sip_verdict *v)
{
	if (v->status)
		fprintf(f, "%d %s: %s\n", v->status, cv_sip_reason(v->status),
			v->reason);
	else
		fprintf(f, "drop: %s\n", v->reason);
}

static int one(const char *path, bool quiet)
{
	char *buf;
	size_t len;
	if (read_all(path, &buf, &len)) {
		fprintf(stderr, "sip-parse: cannot read %s\n", path);
		return 2;
	}
	struct cv_sip_msg *m = NULL;
	struct cv_sip_verdict v;
	int err = cv_sip_msg_parse(&m, buf, len, NULL, &v);
	if (!err)
		err = cv_sip_msg_parse_full(m, &v);
	if (!err) {
		struct cv_sip_policy pol = {.supported = supported,
					    .allow_tel = true};
		err = cv_sip_msg_check(m, &pol, &v);
	}
	if (quiet) {
		if (err)
			verdict_line(stdout, &v);
		else
			printf("valid\n");
	} else {
		json_t *j = m ? cv_sip_msg_to_json(m) : json_object();
		if (j) {
			if (strcmp(path, "-"))
				json_object_set_new(j, "file",
						    json_string(path));
			json_object_set_new(j, "valid", json_boolean(!err));
			if (err) {
				json_object_set_new(
					j, "verdict",
					json_pack("{s:i,s:s}", "status",
						  v.status, "reason",
						  v.reason));
				if (v.hdrs[0])
					json_object_set_new(
						json_object_get(j, "verdict"),
						"headers", json_string(v.hdrs));
			}
			json_dumpf(j, stdout,
				   JSON_INDENT(2) | JSON_PRESERVE_ORDER);
			fputc('\n', stdout);
			json_decref(j);
		}
		if (err)
			verdict_line(stderr, &v);
	}
	cv_mem_unref(m);
	free(buf);
	return err ? 1 : 0;
}

int cvoip_cmd_sip_parse(int argc, char **argv)
{
	bool quiet = false;
	int nfiles = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quiet") || !strcmp(argv[i], "-q"))
			quiet = true;
		else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			printf("usage: cvoip sip-parse [FILE|-]... [--quiet]\n"
			       "  prints each message as JSON and the answer a "
			       "server\n"
			       "  would give; exit 0 valid, 1 reject/drop, 2 "
			       "usage/IO\n");
			return 0;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			fprintf(stderr, "sip-parse: unknown option %s\n",
				argv[i]);
			return 2;
		} else
			nfiles++;
	}
	int rc = 0;
	if (!nfiles)
		return one("-", quiet);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quiet") || !strcmp(argv[i], "-q"))
			continue;
		int r = one(argv[i], quiet);
		if (r > rc)
			rc = r;
	}
	return rc;
}
