#include "core/evloop.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

int evloop_init(struct evloop *loop)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

	memset(loop, 0, sizeof(*loop));
	loop->wake_fd = -1;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0)
		return -errno;
	loop->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (loop->wake_fd < 0 || epoll_ctl(loop->epfd, EPOLL_CTL_ADD, loop->wake_fd, &ev) < 0) {
		int err = -errno;

		evloop_destroy(loop);
		return err;
	}
	return 0;
}

void evloop_destroy(struct evloop *loop)
{
	if (loop->wake_fd >= 0)
		close(loop->wake_fd);
	if (loop->epfd >= 0)
		close(loop->epfd);
	loop->wake_fd = loop->epfd = -1;
}

static int ctl(struct evloop *loop, int op, struct ev_watch *w, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	return epoll_ctl(loop->epfd, op, w->fd, &ev) < 0 ? -errno : 0;
}

int evloop_add(struct evloop *loop, struct ev_watch *w, uint32_t events)
{
	return ctl(loop, EPOLL_CTL_ADD, w, events);
}

int evloop_mod(struct evloop *loop, struct ev_watch *w, uint32_t events)
{
	return ctl(loop, EPOLL_CTL_MOD, w, events);
}

int evloop_del(struct evloop *loop, struct ev_watch *w)
{
	return ctl(loop, EPOLL_CTL_DEL, w, 0);
}

#define BATCH 16

/* loop->first before the rest of the batch, marked served there (the loop itself). */
static void serve_first(struct evloop *loop, struct epoll_event *evs, int n)
{
	struct ev_watch *f = loop->first;

	for (int i = 0; i < n; i++) {
		if (evs[i].data.ptr == f) {
			evs[i].data.ptr = loop;
			f->fn(f->opaque, evs[i].events);
			return;
		}
	}
	/* A full batch may have left it out: have it look. */
	if (n == BATCH)
		f->fn(f->opaque, 0);
}

int evloop_run_once(struct evloop *loop, int timeout_ms)
{
	struct epoll_event evs[BATCH];
	int n = epoll_wait(loop->epfd, evs, BATCH, timeout_ms);

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	if (n > 0 && loop->before)
		loop->before(loop->before_opaque);
	if (n > 0 && loop->first)
		serve_first(loop, evs, n);
	for (int i = 0; i < n; i++) {
		struct ev_watch *w = evs[i].data.ptr;

		if (w == (void *)loop)
			continue; /* served first */
		if (!w) {
			uint64_t v;

			if (read(loop->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
				return -errno;
			continue;
		}
		w->fn(w->opaque, evs[i].events);
	}
	return n;
}

void evloop_wake(struct evloop *loop)
{
	uint64_t one = 1;

	while (write(loop->wake_fd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}
