/* The event log subscriber (server.event_log in the configuration). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <uv.h>

#include "evlog.h"

struct evlog {
	struct cv_bus *bus;
	FILE *f;
	uv_thread_t thread;
	uv_loop_t loop;
	uv_async_t stop;
	uv_sem_t ready;
	struct cv_bus_sub *sub;
	struct cv_buf line;
	int err;
};

static void on_event(const struct cv_bus_event *ev, void *arg)
{
	struct evlog *e = arg;
	cv_buf_reset(&e->line);
	if (cv_bus_event_json_print(ev, &e->line) == 0 && e->line.len) {
		fwrite(e->line.data, 1, e->line.len, e->f);
		fputc('\n', e->f);
		fflush(e->f);
	}
}

static void on_stop(uv_async_t *a)
{
	struct evlog *e = a->data;
	if (e->sub) {
		cv_bus_unsubscribe(e->sub);
		e->sub = NULL;
	}
	uv_close((uv_handle_t *)&e->stop, NULL);
}

static void thread_main(void *arg)
{
	struct evlog *e = arg;
	struct cv_bus_sub_params sp = {.loop = &e->loop,
				       .topics = CV_BUS_MASK_ALL,
				       .fn = on_event,
				       .arg = e,
				       .name = "event_log",
				       .overflow = CV_BUS_DROP};
	e->err = cv_bus_subscribe(e->bus, &sp, &e->sub);
	uv_sem_post(&e->ready);
	if (e->err)
		return;
	uv_run(&e->loop, UV_RUN_DEFAULT);
}

int evlog_start(struct evlog **ep, struct cv_bus *bus, const char *path)
{
	struct evlog *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->bus = bus;
	cv_buf_init(&e->line, 1 << 20);
	/* like the database, the log's folder is made on first use */
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		mkdir(dir, 0755);
	}
	e->f = fopen(path, "a");
	if (!e->f) {
		int err = -errno;
		fprintf(stderr, "cvoipd: cannot open event log %s: %s\n", path,
			strerror(errno));
		free(e);
		return err;
	}
	int err = uv_loop_init(&e->loop);
	if (!err)
		err = uv_async_init(&e->loop, &e->stop, on_stop);
	if (!err) {
		e->stop.data = e;
		uv_sem_init(&e->ready, 0);
		err = uv_thread_create(&e->thread, thread_main, e);
		if (!err) {
			uv_sem_wait(&e->ready);
			uv_sem_destroy(&e->ready);
			err = e->err;
			if (err) {
				uv_thread_join(&e->thread);
				uv_close((uv_handle_t *)&e->stop, NULL);
				uv_run(&e->loop, UV_RUN_DEFAULT);
			}
		}
	}
	if (err) {
		fprintf(stderr, "cvoipd: event log: %s\n", cv_strerror(err));
		uv_loop_close(&e->loop);
		fclose(e->f);
		cv_buf_free(&e->line);
		free(e);
		return err;
	}
	*ep = e;
	return 0;
}

void evlog_stop(struct evlog *e)
{
	if (!e)
		return;
	/* Everything published so far (system.stopping included) reaches the
	 * file before the subscription goes: wait, bounded, for the loop to
	 * catch up (it subscribes to every topic, so it sees every event). */
	for (int i = 0; i < 2000; i++) {
		uint64_t seen = cv_bus_sub_delivered(e->sub) +
				cv_bus_sub_dropped(e->sub);
		if (seen >= cv_bus_published(e->bus))
			break;
		uv_sleep(1);
	}
	uv_async_send(&e->stop);
	uv_thread_join(&e->thread);
	/* the subscription's handles close on the loop */
	uv_run(&e->loop, UV_RUN_DEFAULT);
	uv_loop_close(&e->loop);
	fclose(e->f);
	cv_buf_free(&e->line);
	free(e);
}
