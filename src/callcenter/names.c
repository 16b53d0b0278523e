/* Names, parsers and feature codes: no engine state. */
#include <string.h>

#include "cc_int.h"

static const char *const state_names[CV_CC_AGENT_STATE_COUNT] = {
	"logged-out", "available", "offered", "on-call", "wrap-up", "paused"};

const char *cv_cc_agent_state_name(enum cv_cc_agent_state st)
{
	return (unsigned)st < CV_CC_AGENT_STATE_COUNT ? state_names[st] : "?";
}

static const char *const strategy_names[CV_CC_STRATEGY_COUNT] = {
	"ring-all",	   "longest-idle", "round-robin", "fewest-calls",
	"least-talk-time", "random",	   "skills-based"};

const char *cv_cc_strategy_name(enum cv_cc_strategy s)
{
	return (unsigned)s < CV_CC_STRATEGY_COUNT ? strategy_names[s] : "?";
}

int cv_cc_strategy_parse(const char *name, enum cv_cc_strategy *out)
{
	if (!name || !out)
		return -EINVAL;
	for (int i = 0; i < CV_CC_STRATEGY_COUNT; i++) {
		if (strcmp(name, strategy_names[i]) == 0) {
			*out = (enum cv_cc_strategy)i;
			return 0;
		}
	}
	return CV_ENOTFOUND;
}

int cv_cc_target_parse(const char *s, struct cv_cc_target *out)
{
	if (!out)
		return -EINVAL;
	if (!s)
		s = "";
	if (strlen(s) > CV_CC_TEXT_MAX)
		return -EINVAL;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 0x21 || *p == 0x7f)
			return -EINVAL; /* no blanks or controls in a target */
	out->text = s;
	if (!*s || strcmp(s, "hangup") == 0) {
		out->kind = CV_CC_TARGET_HANGUP;
		out->value = s + strlen(s);
		return 0;
	}
	static const struct {
		const char *prefix;
		enum cv_cc_target_kind kind;
		bool keep; /* value keeps the prefix (URIs) */
	} forms[] = {
		{"queue:", CV_CC_TARGET_QUEUE, false},
		{"user:", CV_CC_TARGET_USER, false},
		{"announce:", CV_CC_TARGET_ANNOUNCE, false},
		{"sip:", CV_CC_TARGET_URI, true},
		{"sips:", CV_CC_TARGET_URI, true},
		{"tel:", CV_CC_TARGET_URI, true},
	};
	for (size_t i = 0; i < CV_ARRAY_SIZE(forms); i++) {
		size_t n = strlen(forms[i].prefix);
		if (strncmp(s, forms[i].prefix, n) != 0)
			continue;
		if (!s[n])
			return -EINVAL; /* "queue:" with nothing after it */
		if (forms[i].kind != CV_CC_TARGET_URI &&
		    forms[i].kind != CV_CC_TARGET_ANNOUNCE &&
		    strlen(s + n) > CV_CC_NAME_MAX)
			return -EINVAL;
		out->kind = forms[i].kind;
		out->value = forms[i].keep ? s : s + n;
		return 0;
	}
	return -EINVAL;
}

int cv_cc_code_parse(const struct cv_cc_codes *codes, const char *dialled,
		     enum cv_cc_op *out)
{
	static const struct cv_cc_codes defaults = {"*20", "*21", "*22", "*23"};
	if (!dialled || !out)
		return -EINVAL;
	if (!codes)
		codes = &defaults;
	const char *c[4] = {
		codes->login ? codes->login : defaults.login,
		codes->logout ? codes->logout : defaults.logout,
		codes->pause ? codes->pause : defaults.pause,
		codes->resume ? codes->resume : defaults.resume,
	};
	/* An empty code would match every empty dial string: never. */
	for (int i = 0; i < 4; i++) {
		if (*c[i] && strcmp(dialled, c[i]) == 0) {
			*out = (enum cv_cc_op)i;
			return 0;
		}
	}
	return CV_ENOTFOUND;
}
