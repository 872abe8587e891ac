/*
 * The fallback backend: worker threads run each request as blocking system
 * calls, so the caller's thread never waits for the disk (aio.h).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "hw/block/aio.h"

#define AIO_WORKERS 2

struct aio_threads {
	struct blk_aio *a;
	int fd, efd;
	pthread_mutex_t lock;
	pthread_cond_t work; /* todo has requests, or stop */
	pthread_cond_t idle; /* a request finished */
	struct blk_aio_req *todo_head, *todo_tail; /* sent, not started */
	struct blk_aio_req *fin_head, *fin_tail;   /* finished, not collected */
	struct blk_aio_req *staged_head, *staged_tail; /* queued, not yet sent */
	unsigned pending; /* sent and not collected */
	bool stop;
	unsigned nworkers;
	pthread_t workers[AIO_WORKERS];
};

static void list_add(struct blk_aio_req **head, struct blk_aio_req **tail,
		     struct blk_aio_req *req)
{
	req->next = NULL;
	if (*tail)
		(*tail)->next = req;
	else
		*head = req;
	*tail = req;
}

static struct blk_aio_req *take_work(struct aio_threads *t)
{
	struct blk_aio_req *req;

	while (!t->todo_head && !t->stop)
		pthread_cond_wait(&t->work, &t->lock);
	req = t->todo_head;
	if (req) {
		t->todo_head = req->next;
		if (!t->todo_head)
			t->todo_tail = NULL;
	}
	return req;
}

static void *worker(void *opaque)
{
	struct aio_threads *t = opaque;
	const uint64_t one = 1;
	struct blk_aio_req *req;

	pthread_mutex_lock(&t->lock);
	while ((req = take_work(t))) {
		pthread_mutex_unlock(&t->lock);
		req->result = blk_aio_sync_op(t->fd, req);
		pthread_mutex_lock(&t->lock);
		list_add(&t->fin_head, &t->fin_tail, req);
		pthread_cond_broadcast(&t->idle);
		while (write(t->efd, &one, sizeof(one)) < 0 && errno == EINTR)
			;
	}
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

static void stop_workers(struct aio_threads *t)
{
	pthread_mutex_lock(&t->lock);
	t->stop = true;
	pthread_cond_broadcast(&t->work);
	pthread_mutex_unlock(&t->lock);
	for (unsigned i = 0; i < t->nworkers; i++)
		pthread_join(t->workers[i], NULL);
}

/*
 * The workers start with the first request, not at init: a device process
 * is still single-threaded when it enters its sandbox (a new user namespace
 * needs that), and its workers then inherit the sandbox.
 */
static int start_workers(struct aio_threads *t)
{
	sigset_t all, old;
	int err = 0;

	/* Signals (vCPU kicks, SIGINT) are for the VMM's own threads. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (; t->nworkers < AIO_WORKERS; t->nworkers++) {
		err = -pthread_create(&t->workers[t->nworkers], NULL, worker, t);
		if (err)
			break;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return t->nworkers ? 0 : err;
}

static int th_init(struct blk_aio *a)
{
	struct aio_threads *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->a = a;
	t->fd = a->fd;
	t->efd = a->efd;
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->work, NULL);
	pthread_cond_init(&t->idle, NULL);
	a->priv = t;
	return 0;
}

static void th_destroy(struct blk_aio *a)
{
	struct aio_threads *t = a->priv;

	stop_workers(t);
	pthread_cond_destroy(&t->idle);
	pthread_cond_destroy(&t->work);
	pthread_mutex_destroy(&t->lock);
	free(t);
	a->priv = NULL;
}

static void th_queue(struct blk_aio *a, struct blk_aio_req *req)
{
	struct aio_threads *t = a->priv;

	list_add(&t->staged_head, &t->staged_tail, req);
}

/* No worker could start: the staged requests fail, as a disk error would. */
static void fail_staged(struct blk_aio *a, struct aio_threads *t, int err)
{
	const uint64_t one = 1;
	struct blk_aio_req *req, *next;

	for (req = t->staged_head; req; req = next) {
		next = req->next;
		blk_aio_finish(a, req, err);
	}
	t->staged_head = t->staged_tail = NULL;
	while (write(t->efd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}

static void th_submit(struct blk_aio *a)
{
	struct aio_threads *t = a->priv;
	unsigned n = 0;
	int err;

	if (!t->staged_head)
		return;
	if (!t->nworkers) {
		err = start_workers(t);
		if (err) {
			fail_staged(a, t, err);
			return;
		}
	}
	for (struct blk_aio_req *r = t->staged_head; r; r = r->next)
		n++;
	pthread_mutex_lock(&t->lock);
	if (t->todo_tail)
		t->todo_tail->next = t->staged_head;
	else
		t->todo_head = t->staged_head;
	t->todo_tail = t->staged_tail;
	t->pending += n;
	pthread_cond_broadcast(&t->work);
	pthread_mutex_unlock(&t->lock);
	t->staged_head = t->staged_tail = NULL;
}

static void th_collect(struct blk_aio *a, bool wait)
{
	struct aio_threads *t = a->priv;
	struct blk_aio_req *req, *next;

	pthread_mutex_lock(&t->lock);
	while (wait && !t->fin_head && t->pending)
		pthread_cond_wait(&t->idle, &t->lock);
	req = t->fin_head;
	t->fin_head = t->fin_tail = NULL;
	for (struct blk_aio_req *r = req; r; r = r->next)
		t->pending--;
	pthread_mutex_unlock(&t->lock);
	for (; req; req = next) {
		next = req->next;
		blk_aio_finish(a, req, req->result);
	}
}

static unsigned th_pending(struct blk_aio *a)
{
	struct aio_threads *t = a->priv;
	unsigned n;

	pthread_mutex_lock(&t->lock);
	n = t->pending;
	pthread_mutex_unlock(&t->lock);
	return n;
}

const struct blk_aio_backend blk_aio_threads = {
	.init = th_init,
	.destroy = th_destroy,
	.queue = th_queue,
	.submit = th_submit,
	.collect = th_collect,
	.pending = th_pending,
};
