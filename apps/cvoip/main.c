/* cvoip: command-line softphone and SIP toolbox. */
#include <stdio.h>
#include <string.h>

#include "cvoip/base.h"

#include "commands.h"

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{"call", cvoip_cmd_call, "place a call: play, record, DTMF, quality"},
	{"answer", cvoip_cmd_answer, "wait for calls and answer them"},
	{"register", cvoip_cmd_register, "register an address of record"},
	{"options", cvoip_cmd_options, "send OPTIONS and print the answer"},
	{"message", cvoip_cmd_message, "send a SIP MESSAGE"},
	{"subscribe", cvoip_cmd_subscribe,
	 "subscribe to presence, message-summary or dialog and print NOTIFYs"},
	{"sip-parse", cvoip_cmd_sip_parse,
	 "parse SIP messages, print them as JSON with the server's verdict"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: cvoip [--version] [--help] COMMAND [ARGS]\n\n"
		   "cvoip is the cvoip command line: softphone and SIP "
		   "toolbox.\n\n"
		   "commands:\n");
	for (size_t i = 0; i < CV_ARRAY_SIZE(commands); i++)
		fprintf(f, "  %-12s %s\n", commands[i].name,
			commands[i].summary);
	fprintf(f, "\n'cvoip COMMAND --help' describes each command.\n"
		   "Exit status: 0 success, 1 failure or rejection, 2 usage "
		   "error,\n"
		   "3 no answer or timeout, 4 network error, 5 authentication "
		   "failed.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return CVOIP_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		usage(stdout);
		return CVOIP_EXIT_OK;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("cvoip %s\n", cv_version());
		return CVOIP_EXIT_OK;
	}
	for (size_t i = 0; i < CV_ARRAY_SIZE(commands); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "cvoip: unknown command '%s'\nTry 'cvoip --help'.\n",
		argv[1]);
	return CVOIP_EXIT_USAGE;
}
