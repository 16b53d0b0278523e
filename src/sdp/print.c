/* SDP printer and lookups over the parsed model. */
#include <string.h>

#include "sdp_int.h"

static int print_lines(const struct cv_sdp_common *c, struct cv_buf *b)
{
	for (uint32_t i = 0; i < c->nlines; i++) {
		const struct cv_sdp_line *l = &c->lines[i];
		char t[2] = {l->type, '='};
		cv_buf_append(b, t, 2);
		cv_buf_append_pl(b, l->value);
		cv_buf_append(b, "\r\n", 2);
	}
	return b->err;
}

/* RFC 8866 §5: every line ends in CRLF on output. */
int cv_sdp_print(const struct cv_sdp *sdp, struct cv_buf *b)
{
	if (!sdp || !b)
		return -EINVAL;
	int err = print_lines(&sdp->c, b);
	for (uint32_t i = 0; !err && i < sdp->nmedia; i++)
		err = print_lines(&sdp->media[i].c, b);
	return err;
}

const struct cv_sdp_attr *cv_sdp_attr_find(const struct cv_sdp_common *c,
					   const char *name)
{
	if (!c || !name)
		return NULL;
	for (uint32_t i = 0; i < c->nattrs; i++)
		if (cv_pl_eq_str(c->attrs[i].name, name))
			return &c->attrs[i];
	return NULL;
}

const struct cv_sdp_fmt *cv_sdp_fmt_by_pt(const struct cv_sdp_media *m, int pt)
{
	if (!m || pt < 0)
		return NULL;
	for (uint32_t i = 0; i < m->nfmts; i++)
		if (m->fmts[i].pt == pt)
			return &m->fmts[i];
	return NULL;
}

const struct cv_sdp_conn *cv_sdp_media_conn(const struct cv_sdp *sdp,
					    const struct cv_sdp_media *m)
{
	if (m && m->c.conn.present)
		return &m->c.conn;
	if (sdp && sdp->c.conn.present)
		return &sdp->c.conn;
	return NULL;
}

/* RFC 3264 §5.1: a direction at media level wins over the session level;
 * none at all means sendrecv. */
enum cv_sdp_dir cv_sdp_media_dir(const struct cv_sdp *sdp,
				 const struct cv_sdp_media *m)
{
	if (m && m->c.has_dir)
		return m->c.dir;
	if (sdp && sdp->c.has_dir)
		return sdp->c.dir;
	return CV_SDP_SENDRECV;
}
