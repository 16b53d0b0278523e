/* cvoip subcommands: each lives in its own cmd_<name>.c. */
#ifndef CVOIP_COMMANDS_H
#define CVOIP_COMMANDS_H

/* Exit codes shared by every subcommand (docs/cli.md). */
enum cvoip_exit {
	CVOIP_EXIT_OK = 0,
	CVOIP_EXIT_FAIL = 1, /* rejected, invalid, or failed */
	CVOIP_EXIT_USAGE = 2,
	CVOIP_EXIT_NOANSWER = 3, /* no answer / timeout */
	CVOIP_EXIT_NETWORK = 4,	 /* network error, unreachable */
	CVOIP_EXIT_AUTH = 5	 /* authentication failed */
};

int cvoip_cmd_sip_parse(int argc, char **argv);
int cvoip_cmd_call(int argc, char **argv);
int cvoip_cmd_answer(int argc, char **argv);
int cvoip_cmd_register(int argc, char **argv);
int cvoip_cmd_options(int argc, char **argv);
int cvoip_cmd_message(int argc, char **argv);
int cvoip_cmd_subscribe(int argc, char **argv);

#endif
