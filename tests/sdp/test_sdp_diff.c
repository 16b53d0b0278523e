/* Differential test: every real-world sample and every seed of the fuzz
 * corpus that sofia-sip's SDP parser accepts must give the same media
 * count, media types, ports, profiles, payload types with their encoding,
 * clock rate, channels and fmtp, addresses and directions with cvoip.
 * CV_SDP_DIFF_VERBOSE=1 names each corpus file before comparing it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>
#include <sofia-sip/sdp.h>
#include <strings.h>

#include "cvoip/sdp.h"
#include "sdp/samples.h"

static int compared;

static void pl_eq_cstr(struct cv_pl pl, const char *s, const char *what)
{
	if (!s)
		s = "";
	if (!cv_pl_casecmp_eq(pl, cv_pl_str(s))) {
		fprintf(stderr, "%s: cvoip '%.*s' sofia '%s'\n", what,
			(int)pl.l, pl.p ? pl.p : "", s);
		fail();
	}
}

static void compare(const char *text, size_t len, const char *name)
{
	sdp_parser_t *sp = sdp_parse(NULL, text, (issize_t)len, 0);
	sdp_session_t *ss = sp ? sdp_session(sp) : NULL;
	struct cv_sdp *cs = NULL;
	int err = cv_sdp_parse(&cs, text, len, NULL);
	if (!ss) {
		/* sofia refused: nothing to compare */
		sdp_parser_free(sp);
		cv_mem_unref(cs);
		return;
	}
	if (err) {
		fprintf(stderr, "%s: sofia accepts, cvoip says %s\n", name,
			cv_strerror(err));
		fail();
	}
	compared++;
	if (ss->sdp_connection)
		pl_eq_cstr(cs->c.conn.addr, ss->sdp_connection->c_address,
			   "session c=");
	uint32_t i = 0;
	for (sdp_media_t *m = ss->sdp_media; m; m = m->m_next, i++) {
		assert_true(i < cs->nmedia);
		const struct cv_sdp_media *cm = &cs->media[i];
		pl_eq_cstr(cm->media, m->m_type_name, "media");
		assert_int_equal(cm->port, m->m_port);
		pl_eq_cstr(cm->proto, m->m_proto_name, "proto");
		if (m->m_connections)
			pl_eq_cstr(cm->c.conn.addr, m->m_connections->c_address,
				   "media c=");
		for (sdp_rtpmap_t *r = m->m_rtpmaps; r; r = r->rm_next) {
			const struct cv_sdp_fmt *f =
				cv_sdp_fmt_by_pt(cm, (int)r->rm_pt);
			if (!f) {
				fprintf(stderr, "%s: pt %u missing\n", name,
					r->rm_pt);
				fail();
			}
			pl_eq_cstr(f->encoding, r->rm_encoding, "encoding");
			assert_int_equal(f->clock_rate, r->rm_rate);
			unsigned ch =
				r->rm_params ? (unsigned)atoi(r->rm_params) : 1;
			assert_int_equal(f->channels, ch ? ch : 1);
			if (r->rm_fmtp)
				pl_eq_cstr(f->fmtp, r->rm_fmtp, "fmtp");
			else
				assert_false(f->has_fmtp);
		}
		if (m->m_port)
			assert_int_equal(cv_sdp_media_dir(cs, cm), m->m_mode);
	}
	assert_int_equal(i, cs->nmedia);
	sdp_parser_free(sp);
	cv_mem_unref(cs);
}

static void test_samples(void **state)
{
	(void)state;
	const char *all[] = {sdp_baresip,   sdp_baresip_srtp, sdp_linphone,
			     sdp_chrome,    sdp_asterisk,     sdp_asterisk_hold,
			     sdp_rtpengine, sdp_oldhold,      sdp_ipv6};
	int64_t live = cv_mem_live();
	for (size_t i = 0; i < CV_ARRAY_SIZE(all); i++)
		compare(all[i], strlen(all[i]), "sample");
	assert_int_equal(compared, (int)CV_ARRAY_SIZE(all));
	assert_int_equal(cv_mem_live(), live);
}

static void test_corpus(void **state)
{
	(void)state;
	const char *src = getenv("CV_SOURCE_DIR");
	char dir[4096];
	if (!src)
		skip();
	snprintf(dir, sizeof(dir), "%s/fuzz/corpus/sdp", src);
	DIR *d = opendir(dir);
	assert_non_null(d);
	struct dirent *e;
	int64_t live = cv_mem_live();
	int before = compared;
	while ((e = readdir(d))) {
		/* hand-written seeds only: inputs found by the fuzzer can make
		 * sofia-sip allocate without bound */
		size_t nl = strlen(e->d_name);
		if (e->d_name[0] == '.' || nl < 5 ||
		    strcmp(e->d_name + nl - 4, ".sdp"))
			continue;
		char path[8192];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		FILE *f = fopen(path, "rb");
		assert_non_null(f);
		char buf[65536];
		size_t n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		if (getenv("CV_SDP_DIFF_VERBOSE"))
			fprintf(stderr, "%s\n", e->d_name);
		compare(buf, n, e->d_name);
	}
	closedir(d);
	assert_true(compared > before);
	assert_int_equal(cv_mem_live(), live);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_samples),
		cmocka_unit_test(test_corpus),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
