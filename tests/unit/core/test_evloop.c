/*
 * The event loop: handlers of one wake-up, the `first` watch served before
 * the others that woke with it (whatever their order in epoll's list), and
 * looked at anyway when a full batch may have left it out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/evloop.h"

#define NFDS 20

struct order {
	int seen[64];
	uint32_t events[64];
	unsigned n;
};

struct tagged {
	struct ev_watch w;
	struct order *o;
	int tag;
};

static void on_ready(void *opaque, uint32_t events)
{
	struct tagged *t = opaque;
	uint64_t v;

	if (read(t->w.fd, &v, sizeof(v)) < 0)
		v = 0;
	t->o->events[t->o->n] = events;
	t->o->seen[t->o->n++] = t->tag;
}

static void signal_fd(int fd)
{
	uint64_t one = 1;

	assert_int_equal(write(fd, &one, sizeof(one)), sizeof(one));
}

static void setup(struct evloop *loop, struct tagged *t, unsigned n, struct order *o)
{
	assert_int_equal(evloop_init(loop), 0);
	memset(o, 0, sizeof(*o));
	for (unsigned i = 0; i < n; i++) {
		int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

		assert_true(fd >= 0);
		t[i] = (struct tagged){ { fd, on_ready, &t[i] }, o, (int)i };
		assert_int_equal(evloop_add(loop, &t[i].w, EPOLLIN), 0);
	}
}

static void teardown(struct evloop *loop, struct tagged *t, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		evloop_del(loop, &t[i].w);
		close(t[i].w.fd);
	}
	evloop_destroy(loop);
}

/* Signalled last, served first. */
static void test_first(void **state)
{
	struct tagged t[3];
	struct evloop loop;
	struct order o;

	setup(&loop, t, 3, &o);
	loop.first = &t[2].w;
	signal_fd(t[0].w.fd);
	signal_fd(t[1].w.fd);
	signal_fd(t[2].w.fd);
	assert_int_equal(evloop_run_once(&loop, 1000), 3);
	assert_int_equal(o.n, 3);
	assert_int_equal(o.seen[0], 2);
	assert_int_equal(o.events[0], EPOLLIN);
	/* Served once only. */
	assert_true(o.seen[1] != 2 && o.seen[2] != 2);
	/* Not ready: not called. */
	signal_fd(t[0].w.fd);
	assert_int_equal(evloop_run_once(&loop, 1000), 1);
	assert_int_equal(o.n, 4);
	assert_int_equal(o.seen[3], 0);
	teardown(&loop, t, 3);
	(void)state;
}

/* A full batch: `first` is called with no events, and again when its turn comes. */
static void test_first_full_batch(void **state)
{
	struct tagged t[NFDS];
	struct evloop loop;
	struct order o;
	unsigned calls = 0;

	setup(&loop, t, NFDS, &o);
	loop.first = &t[NFDS - 1].w;
	for (unsigned i = 0; i < NFDS; i++)
		signal_fd(t[i].w.fd);
	assert_int_equal(evloop_run_once(&loop, 1000), 16);
	assert_int_equal(o.seen[0], NFDS - 1);
	for (unsigned i = 0; i < o.n; i++)
		calls += o.seen[i] == NFDS - 1;
	assert_int_equal(calls, 1);
	teardown(&loop, t, NFDS);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first),
		cmocka_unit_test(test_first_full_batch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
