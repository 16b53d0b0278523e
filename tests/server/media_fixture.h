/* The fixture the server's media unit tests share (test_server_media,
 * test_server_xmedia, test_server_srtp_policy): a loop, a server and a
 * worker with its own relay on 127.0.0.1, one call's media with both legs
 * advertising the relay, and a check that nothing leaks. Include after
 * cmocka.h and server_int.h. */
#ifndef CV_TEST_MEDIA_FIXTURE_H
#define CV_TEST_MEDIA_FIXTURE_H

struct fixture {
	uv_loop_t loop;
	struct cv_srv srv;
	struct srv_worker sw;
	struct call_media m;
	long long live;
};

/* Each test binary takes its own relay port window (tests run in
 * parallel). */
static inline int fixture_setup(void **state, uint16_t port_min)
{
	struct fixture *f = calloc(1, sizeof(*f));
	f->live = (long long)cv_mem_live();
	uv_loop_init(&f->loop);
	f->srv.p.media_addr = "127.0.0.1";
	f->sw.srv = &f->srv;
	struct cv_rtp_relay_params rp = {.loop = &f->loop,
					 .local_addr = "127.0.0.1",
					 .port_min = port_min,
					 .port_max =
						 (uint16_t)(port_min + 999)};
	assert_int_equal(cv_rtp_relay_create(&f->sw.relay, &rp), 0);
	media_set_adv(&f->sw, &f->m, 0, NULL);
	media_set_adv(&f->sw, &f->m, 1, NULL);
	*state = f;
	return 0;
}

static inline int fixture_teardown(void **state)
{
	struct fixture *f = *state;
	media_free(&f->sw, &f->m);
	cv_rtp_relay_destroy(f->sw.relay);
	uv_run(&f->loop, UV_RUN_NOWAIT);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	assert_int_equal((long long)cv_mem_live(), f->live);
	free(f);
	return 0;
}

/* sdp from leg `from` rewritten for the other leg, NUL-terminated (free()
 * it). errp NULL: the rewrite must succeed; else its result goes there
 * and a failure returns NULL. */
static inline char *fixture_rewrite(struct fixture *f, int from,
				    const char *sdp, int *errp)
{
	struct cv_buf b;
	cv_buf_init(&b, 65536);
	int err = media_rewrite(&f->sw, &f->m, from, cv_pl_str(sdp), &b);
	if (errp)
		*errp = err;
	else
		assert_int_equal(err, 0);
	if (err) {
		cv_buf_free(&b);
		return NULL;
	}
	cv_buf_append(&b, "", 1);
	return b.data;
}

/* How often needle occurs in s. */
static inline unsigned count(const char *s, const char *needle)
{
	unsigned n = 0;
	for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

#endif
