/* cvoipd's event log: a bus subscriber on its own thread and loop that
 * appends every event as one JSON line to a file. */
#ifndef CVOIPD_EVLOG_H
#define CVOIPD_EVLOG_H

#include "cvoip/bus.h"

struct evlog;

/* Opens (appends to) path and subscribes; 0 or -errno with a message on
 * stderr. */
int evlog_start(struct evlog **ep, struct cv_bus *bus, const char *path);
/* Unsubscribes, writes what is queued, closes. NULL is fine. */
void evlog_stop(struct evlog *e);

#endif
