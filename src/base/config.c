/* YAML configuration loaded into a node tree with line numbers (libyaml's
 * event API). Aliases are refused: they buy nothing in a config file and
 * open the door to exponential documents. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <yaml.h>

#include "cvoip/config.h"

#define MAX_DEPTH 64
#define MAX_NODES 100000

struct cv_cfg {
	char *file;
	struct cv_cfg_node *root;
	size_t nnodes;
};

static void node_free(struct cv_cfg_node *n)
{
	while (n) {
		struct cv_cfg_node *next = n->next;
		node_free(n->child);
		free((char *)n->key);
		free((char *)n->value);
		free(n);
		n = next;
	}
}

void cv_cfg_free(struct cv_cfg *cfg)
{
	if (!cfg)
		return;
	node_free(cfg->root);
	free(cfg->file);
	free(cfg);
}

const struct cv_cfg_node *cv_cfg_root(const struct cv_cfg *cfg)
{
	return cfg->root;
}

const char *cv_cfg_file(const struct cv_cfg *cfg)
{
	return cfg->file;
}

int cv_cfg_fail(const struct cv_cfg *cfg, const struct cv_cfg_node *n,
		struct cv_cfg_err *err, const char *fmt, ...)
{
	if (!err)
		return CV_ECONFIG;
	int off = snprintf(err->msg, sizeof(err->msg),
			   "%s:%u: ", cfg ? cfg->file : "?", n ? n->line : 0);
	if (off < 0 || (size_t)off >= sizeof(err->msg))
		return CV_ECONFIG;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->msg + off, sizeof(err->msg) - (size_t)off, fmt, ap);
	va_end(ap);
	return CV_ECONFIG;
}

struct builder {
	struct cv_cfg *cfg;
	yaml_parser_t parser;
	struct cv_cfg_err *err;
};

static struct cv_cfg_node *new_node(struct builder *b, enum cv_cfg_type type,
				    const yaml_event_t *ev)
{
	if (++b->cfg->nnodes > MAX_NODES)
		return NULL;
	struct cv_cfg_node *n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->type = type;
	n->line = (unsigned)ev->start_mark.line + 1;
	return n;
}

static int fail_at(struct builder *b, unsigned line, const char *what)
{
	snprintf(b->err->msg, sizeof(b->err->msg), "%s:%u: %s", b->cfg->file,
		 line, what);
	return CV_ECONFIG;
}

static int parse_node(struct builder *b, yaml_event_t *ev,
		      struct cv_cfg_node **out, unsigned depth);

static int next_event(struct builder *b, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&b->parser, ev)) {
		snprintf(b->err->msg, sizeof(b->err->msg), "%s:%zu: %s%s%s",
			 b->cfg->file, b->parser.problem_mark.line + 1,
			 b->parser.problem ? b->parser.problem : "YAML error",
			 b->parser.context ? " " : "",
			 b->parser.context ? b->parser.context : "");
		return CV_ECONFIG;
	}
	return 0;
}

static int parse_children(struct builder *b, struct cv_cfg_node *parent,
			  yaml_event_type_t end, unsigned depth)
{
	struct cv_cfg_node **tail = &parent->child;
	for (;;) {
		yaml_event_t ev;
		int err = next_event(b, &ev);
		if (err)
			return err;
		if (ev.type == end) {
			yaml_event_delete(&ev);
			return 0;
		}
		char *key = NULL;
		unsigned key_line = (unsigned)ev.start_mark.line + 1;
		if (parent->type == CV_CFG_MAP) {
			if (ev.type != YAML_SCALAR_EVENT) {
				yaml_event_delete(&ev);
				return fail_at(
					b, key_line,
					"mapping keys must be plain scalars");
			}
			key = strndup((const char *)ev.data.scalar.value,
				      ev.data.scalar.length);
			yaml_event_delete(&ev);
			if (!key)
				return -ENOMEM;
			for (struct cv_cfg_node *s = parent->child; s;
			     s = s->next) {
				if (s->key && strcmp(s->key, key) == 0) {
					char msg[300];
					snprintf(msg, sizeof(msg),
						 "duplicate key '%.200s'", key);
					free(key);
					return fail_at(b, key_line, msg);
				}
			}
			err = next_event(b, &ev);
			if (err) {
				free(key);
				return err;
			}
		}
		struct cv_cfg_node *child = NULL;
		err = parse_node(b, &ev, &child, depth + 1);
		yaml_event_delete(&ev);
		if (err) {
			free(key);
			return err;
		}
		child->key = key;
		if (key)
			child->line = key_line; /* errors point at the key */
		*tail = child;
		tail = &child->next;
		parent->nchild++;
	}
}

static bool is_null_scalar(const yaml_event_t *ev)
{
	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	const char *v = (const char *)ev->data.scalar.value;
	return ev->data.scalar.length == 0 || strcmp(v, "~") == 0 ||
	       strcmp(v, "null") == 0;
}

static int parse_node(struct builder *b, yaml_event_t *ev,
		      struct cv_cfg_node **out, unsigned depth)
{
	unsigned line = (unsigned)ev->start_mark.line + 1;
	if (depth > MAX_DEPTH)
		return fail_at(b, line, "nesting too deep");
	struct cv_cfg_node *n;
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		n = new_node(b,
			     is_null_scalar(ev) ? CV_CFG_NULL : CV_CFG_SCALAR,
			     ev);
		if (!n)
			return fail_at(b, line, "too many nodes");
		n->value = strndup((const char *)ev->data.scalar.value,
				   ev->data.scalar.length);
		n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
		if (!n->value) {
			free(n);
			return -ENOMEM;
		}
		*out = n;
		return 0;
	case YAML_MAPPING_START_EVENT:
	case YAML_SEQUENCE_START_EVENT: {
		bool map = ev->type == YAML_MAPPING_START_EVENT;
		n = new_node(b, map ? CV_CFG_MAP : CV_CFG_SEQ, ev);
		if (!n)
			return fail_at(b, line, "too many nodes");
		int err = parse_children(b, n,
					 map ? YAML_MAPPING_END_EVENT
					     : YAML_SEQUENCE_END_EVENT,
					 depth);
		if (err) {
			node_free(n);
			return err;
		}
		*out = n;
		return 0;
	}
	case YAML_ALIAS_EVENT:
		return fail_at(b, line, "YAML aliases are not supported");
	default:
		return fail_at(b, line, "unexpected YAML construct");
	}
}

static int load(struct cv_cfg **cfgp, const char *name, const char *text,
		size_t len, struct cv_cfg_err *err)
{
	struct cv_cfg_err dummy;
	if (!err)
		err = &dummy;
	err->msg[0] = '\0';
	struct cv_cfg *cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		return -ENOMEM;
	cfg->file = strdup(name);
	if (!cfg->file) {
		free(cfg);
		return -ENOMEM;
	}
	struct builder b = {.cfg = cfg, .err = err};
	yaml_parser_initialize(&b.parser);
	yaml_parser_set_input_string(&b.parser, (const unsigned char *)text,
				     len);
	int rc = 0;
	yaml_event_t ev;
	bool doc_seen = false;
	for (;;) {
		rc = next_event(&b, &ev);
		if (rc)
			break;
		yaml_event_type_t t = ev.type;
		if (t == YAML_STREAM_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		if (t == YAML_DOCUMENT_START_EVENT) {
			if (doc_seen) {
				rc = fail_at(
					&b, (unsigned)ev.start_mark.line + 1,
					"only one YAML document is allowed");
				yaml_event_delete(&ev);
				break;
			}
			doc_seen = true;
			yaml_event_delete(&ev);
			rc = next_event(&b, &ev);
			if (rc)
				break;
			rc = parse_node(&b, &ev, &cfg->root, 0);
			yaml_event_delete(&ev);
			if (rc)
				break;
			continue;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&b.parser);
	if (!rc && (!cfg->root || cfg->root->type == CV_CFG_NULL)) {
		/* An empty file is an empty configuration. */
		node_free(cfg->root);
		cfg->root = calloc(1, sizeof(*cfg->root));
		if (!cfg->root)
			rc = -ENOMEM;
		else {
			cfg->root->type = CV_CFG_MAP;
			cfg->root->line = 1;
		}
	}
	if (!rc && cfg->root->type != CV_CFG_MAP)
		rc = cv_cfg_fail(cfg, cfg->root, err,
				 "the top level must be a mapping");
	if (rc) {
		cv_cfg_free(cfg);
		return rc;
	}
	*cfgp = cfg;
	return 0;
}

int cv_cfg_load_str(struct cv_cfg **cfgp, const char *name, const char *text,
		    size_t len, struct cv_cfg_err *err)
{
	return load(cfgp, name, text, len, err);
}

int cv_cfg_load(struct cv_cfg **cfgp, const char *path, struct cv_cfg_err *err)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		int e = errno;
		if (err)
			snprintf(err->msg, sizeof(err->msg), "%s: %s", path,
				 strerror(e));
		return -e;
	}
	struct cv_buf b;
	cv_buf_init(&b, 16u << 20);
	char chunk[8192];
	size_t n;
	int rc = 0;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		rc = cv_buf_append(&b, chunk, n);
		if (rc)
			break;
	}
	if (!rc && ferror(f))
		rc = -EIO;
	fclose(f);
	if (rc) {
		if (err)
			snprintf(err->msg, sizeof(err->msg), "%s: %s", path,
				 rc == CV_ETOOBIG ? "file larger than 16 MiB"
						  : cv_strerror(rc));
		cv_buf_free(&b);
		return rc;
	}
	rc = load(cfgp, path, b.data ? b.data : "", b.len, err);
	cv_buf_free(&b);
	return rc;
}

const struct cv_cfg_node *cv_cfg_get(const struct cv_cfg_node *map,
				     const char *key)
{
	if (!map || map->type != CV_CFG_MAP)
		return NULL;
	for (const struct cv_cfg_node *n = map->child; n; n = n->next)
		if (strcmp(n->key, key) == 0)
			return n;
	return NULL;
}

int cv_cfg_check_keys(const struct cv_cfg *cfg, const struct cv_cfg_node *map,
		      const char *where, const char *const *allowed,
		      struct cv_cfg_err *err)
{
	if (!map)
		return 0;
	if (map->type != CV_CFG_MAP)
		return cv_cfg_fail(cfg, map, err, "%s must be a mapping",
				   where);
	for (const struct cv_cfg_node *n = map->child; n; n = n->next) {
		bool ok = false;
		for (const char *const *a = allowed; *a; a++)
			if (strcmp(*a, n->key) == 0) {
				ok = true;
				break;
			}
		if (ok)
			continue;
		char list[256] = "";
		size_t off = 0;
		for (const char *const *a = allowed; *a && off < sizeof(list);
		     a++) {
			int w = snprintf(list + off, sizeof(list) - off, "%s%s",
					 a == allowed ? "" : ", ", *a);
			if (w < 0)
				break;
			off += (size_t)w;
		}
		return cv_cfg_fail(cfg, n, err,
				   "unknown key '%s' in %s (expected: %s)",
				   n->key, where, list);
	}
	return 0;
}

int cv_cfg_expect(const struct cv_cfg *cfg, const struct cv_cfg_node *n,
		  enum cv_cfg_type type, const char *what,
		  struct cv_cfg_err *err)
{
	static const char *const names[] = {"a value", "a mapping", "a list",
					    "null"};
	if (n && n->type != type)
		return cv_cfg_fail(cfg, n, err, "%s must be %s", what,
				   names[type]);
	return 0;
}

static const char *key_of(const struct cv_cfg_node *n)
{
	return n->key ? n->key : "value";
}

int cv_cfg_str(const struct cv_cfg *cfg, const struct cv_cfg_node *n,
	       const char **out, struct cv_cfg_err *err)
{
	if (!n)
		return 0;
	if (n->type != CV_CFG_SCALAR)
		return cv_cfg_fail(cfg, n, err, "'%s' must be a string",
				   key_of(n));
	*out = n->value;
	return 0;
}

int cv_cfg_int(const struct cv_cfg *cfg, const struct cv_cfg_node *n,
	       int64_t min, int64_t max, int64_t *out, struct cv_cfg_err *err)
{
	if (!n)
		return 0;
	if (n->type != CV_CFG_SCALAR || n->quoted)
		return cv_cfg_fail(cfg, n, err, "'%s' must be an integer",
				   key_of(n));
	char *end;
	errno = 0;
	long long v = strtoll(n->value, &end, 10);
	if (errno || end == n->value || *end)
		return cv_cfg_fail(cfg, n, err,
				   "'%s' must be an integer, not '%s'",
				   key_of(n), n->value);
	if (v < min || v > max)
		return cv_cfg_fail(cfg, n, err,
				   "'%s' must be between %" PRId64
				   " and %" PRId64,
				   key_of(n), min, max);
	*out = v;
	return 0;
}

int cv_cfg_bool(const struct cv_cfg *cfg, const struct cv_cfg_node *n,
		bool *out, struct cv_cfg_err *err)
{
	if (!n)
		return 0;
	if (n->type == CV_CFG_SCALAR && !n->quoted) {
		if (!strcmp(n->value, "true") || !strcmp(n->value, "yes") ||
		    !strcmp(n->value, "on")) {
			*out = true;
			return 0;
		}
		if (!strcmp(n->value, "false") || !strcmp(n->value, "no") ||
		    !strcmp(n->value, "off")) {
			*out = false;
			return 0;
		}
	}
	return cv_cfg_fail(cfg, n, err, "'%s' must be true or false",
			   key_of(n));
}

int cv_cfg_duration_ms(const struct cv_cfg *cfg, const struct cv_cfg_node *n,
		       int64_t min_ms, int64_t max_ms, int64_t *out,
		       struct cv_cfg_err *err)
{
	if (!n)
		return 0;
	if (n->type != CV_CFG_SCALAR)
		goto bad;
	char *end;
	errno = 0;
	long long v = strtoll(n->value, &end, 10);
	if (errno || end == n->value || v < 0)
		goto bad;
	int64_t mult;
	if (!*end || !strcmp(end, "s"))
		mult = 1000;
	else if (!strcmp(end, "ms"))
		mult = 1;
	else if (!strcmp(end, "m"))
		mult = 60000;
	else if (!strcmp(end, "h"))
		mult = 3600000;
	else
		goto bad;
	if (v > INT64_MAX / mult)
		goto bad;
	v *= mult;
	if (v < min_ms || v > max_ms)
		return cv_cfg_fail(cfg, n, err,
				   "'%s' must be between %" PRId64
				   "ms and %" PRId64 "ms",
				   key_of(n), min_ms, max_ms);
	*out = v;
	return 0;
bad:
	return cv_cfg_fail(cfg, n, err,
			   "'%s' must be a duration like 30s, 250ms, 5m or 1h",
			   key_of(n));
}

int cv_cfg_enum(const struct cv_cfg *cfg, const struct cv_cfg_node *n,
		const char *const *names, int *out, struct cv_cfg_err *err)
{
	if (!n)
		return 0;
	if (n->type == CV_CFG_SCALAR) {
		for (int i = 0; names[i]; i++)
			if (strcmp(names[i], n->value) == 0) {
				*out = i;
				return 0;
			}
	}
	char list[256] = "";
	size_t off = 0;
	for (int i = 0; names[i] && off < sizeof(list); i++) {
		int w = snprintf(list + off, sizeof(list) - off, "%s%s",
				 i ? ", " : "", names[i]);
		if (w < 0)
			break;
		off += (size_t)w;
	}
	return cv_cfg_fail(cfg, n, err, "'%s' must be one of: %s", key_of(n),
			   list);
}
