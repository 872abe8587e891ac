/* The VMM's event loop: epoll over file descriptors, run by the main thread. */
#ifndef CORE_EVLOOP_H
#define CORE_EVLOOP_H

#include <stdbool.h>
#include <stdint.h>

struct evloop;

/* Called with the epoll events that fired (EPOLLIN, EPOLLHUP, ...). */
typedef void (*ev_handler)(void *opaque, uint32_t events);

struct ev_watch {
	int fd;
	ev_handler fn;
	void *opaque;
};

struct evloop {
	int epfd;
	int wake_fd; /* eventfd: evloop_wake() from any thread */
	bool quit;
	/*
	 * Optional, set after evloop_init(): a watch served before the others
	 * that woke with it (a device process reads its link first, so a
	 * posted write is seen before the doorbell rung after it). Whatever
	 * was ready when the wait returned is in its events unless the batch
	 * was full: then `first` runs anyway, with events 0.
	 */
	struct ev_watch *first;
	/*
	 * Optional: called whenever the wait returns events, before any
	 * handler (a device process serves its fast channel's pending request
	 * there, so a posted write is applied before a doorbell rung after it).
	 */
	void (*before)(void *opaque);
	void *before_opaque;
};

int evloop_init(struct evloop *loop);
void evloop_destroy(struct evloop *loop);
/* w must stay valid while registered. */
int evloop_add(struct evloop *loop, struct ev_watch *w, uint32_t events);
int evloop_mod(struct evloop *loop, struct ev_watch *w, uint32_t events);
int evloop_del(struct evloop *loop, struct ev_watch *w);
/* One round: waits up to timeout_ms (-1 forever) and runs handlers. */
int evloop_run_once(struct evloop *loop, int timeout_ms);
/* Thread-safe: interrupts a waiting evloop_run_once. */
void evloop_wake(struct evloop *loop);

#endif
