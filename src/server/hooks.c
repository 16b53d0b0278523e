/* Application hooks: the routing hook of cv_srv_params (server.h) lets a
 * module above the server (the call center glue) take calls to some
 * Request-URI users without the server knowing that module, and
 * cv_srv_contacts tells it who is registered. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server_int.h"

#define MOD "hooks"

size_t srv_hook_route(struct srv_worker *sw, struct cv_pl user,
		      const char *caller, struct reg_target *out, char *pai,
		      size_t pai_size)
{
	struct cv_srv *s = sw->srv;
	if (!s->p.route || !user.l || user.l > 255)
		return 0;
	char name[256];
	cv_pl_strcpy(user, name, sizeof(name));
	struct cv_srv_route r;
	memset(&r, 0, sizeof(r));
	if (s->p.route(s->p.route_arg, name, caller ? caller : "", &r) != 0)
		return 0;
	r.uri[sizeof(r.uri) - 1] = '\0';
	memset(out, 0, sizeof(*out));
	if (cv_ua_addr_from_uri(sw->ua, cv_pl_str(r.uri), &out->dst) != 0) {
		CV_LOG_RL(CV_LOG_WARN, MOD,
			  "route hook gave an unusable URI '%s'", r.uri);
		return 0;
	}
	snprintf(out->contact, sizeof(out->contact), "%s", r.uri);
	if (caller) /* RFC 3325: only what we authenticated */
		snprintf(pai, pai_size, "P-Asserted-Identity: <sip:%s@%s>\r\n",
			 caller, s->realm);
	return 1;
}

size_t cv_srv_contacts(struct cv_srv *s, const char *user,
		       cv_srv_contact_fn *fn, void *arg)
{
	if (!s || !user)
		return 0;
	struct reg_target *t = calloc(16, sizeof(*t));
	if (!t)
		return 0;
	size_t n = registrar_lookup(s, cv_pl_str(user), t, 16);
	for (size_t i = 0; i < n; i++) {
		if (fn)
			fn(t[i].contact, arg);
		reg_target_clear(&t[i]);
	}
	free(t);
	return n;
}
