/*
 * The fast channel in `splitvm remote` (remote_int.h, fastchan.h): config
 * and BAR accesses from the VMM's shared page, served on a thread of their
 * own under the device's own locks (the same as for a vCPU of an
 * in-process VMM), each request checked as a link message would be.
 *
 * The thread is started before the sandbox's seccomp filter (no thread can
 * be made after it) and after its namespaces (unshare refuses a process
 * with threads): sandbox_apply()'s hook, or remote_run() without sandbox.
 */
#include <errno.h>
#include <string.h>

#include "core/log.h"
#include "remote/remote_int.h"

#define SERVE_STACK (256 * 1024)

void remote_fastchan_init(struct remote *r)
{
	struct remote_fastchan *c = &r->chan;

	memset(c, 0, sizeof(*c));
	fastchan_dev_init(&c->dev);
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
}

bool remote_fastchan_ready(const struct remote *r)
{
	return r->chan.thread_on || r->chan.inline_only;
}

void remote_fastchan_inline(struct remote *r)
{
	r->chan.inline_only = true;
}

int remote_fastchan_error(struct remote *r)
{
	return atomic_load(&r->chan.err);
}

/* Only what the socket would accept from a proxy, checked by the same rules. */
static int to_msg(struct remote *r, const struct fastchan_req *req, struct link_msg *m)
{
	const struct link_cmd_rule *rule;
	const char *why = "not a config or BAR access";

	memset(m, 0, sizeof(*m));
	m->cmd = req->cmd;
	switch (req->cmd) {
	case LINK_PCI_CFGREAD:
	case LINK_PCI_CFGWRITE:
	case LINK_BAR_READ:
	case LINK_BAR_WRITE:
	case LINK_EXT_BAR_WRITE:
		rule = link_rule(r->link.ext, req->cmd);
		if (!rule)
			break;
		m->size = rule->min_size;
		memcpy(m->data.raw, &req->u, m->size);
		if (!link_validate(&r->link, LINK_ROLE_PROXY, m, &why))
			return 0;
		break;
	}
	log_error(r->log, "remote: bad request %u on the fast channel: %s; link closed", req->cmd,
		  why);
	return -EBADMSG;
}

static int handle(void *opaque, const struct fastchan_req *req, struct fastchan_rep *rep)
{
	struct remote *r = opaque;
	struct link_msg m;
	int err = to_msg(r, req, &m);

	if (err)
		return err;
	rep->val = remote_access(r, &m);
	/* Doorbells it changed go out on the link first; the reply says how many there are. */
	err = remote_ext_flush(r);
	rep->sock_msgs = atomic_load(&r->ext.sock_msgs);
	return err;
}

/* The channel's end: the event loop stops the process with err. */
static void fail(struct remote *r, int err)
{
	int none = 0;

	atomic_compare_exchange_strong(&r->chan.err, &none, err);
	evloop_wake(&r->loop);
}

void remote_fastchan_sync(void *opaque)
{
	struct remote *r = opaque;
	int err;

	if (!r->chan.dev.page || atomic_load(&r->chan.err))
		return;
	err = fastchan_dev_serve(&r->chan.dev, handle, r);
	if (err < 0)
		fail(r, err);
}

int remote_fastchan_poll(struct remote *r)
{
	remote_fastchan_sync(r);
	if (remote_fastchan_error(r))
		remote_stop(r, remote_fastchan_error(r));
	return r->done ? r->status : 1;
}

/* Until EXT_FASTCHAN (or the end): whether there is a page to serve. */
static bool await_page(struct remote_fastchan *c)
{
	bool mapped;

	pthread_mutex_lock(&c->lock);
	while (!c->mapped && !c->quit)
		pthread_cond_wait(&c->cond, &c->lock);
	mapped = c->mapped && !c->quit;
	pthread_mutex_unlock(&c->lock);
	return mapped;
}

static void *serve_main(void *arg)
{
	struct remote *r = arg;
	struct remote_fastchan *c = &r->chan;

	/* Our start-up calls (rseq, set_robust_list) are made: the filter may come. */
	pthread_mutex_lock(&c->lock);
	c->running = true;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	if (!await_page(c))
		return NULL;
	while (fastchan_dev_wait(&c->dev) == 0) {
		int err = fastchan_dev_serve(&c->dev, handle, r);

		if (err < 0) {
			fail(r, err);
			break;
		}
	}
	return NULL;
}

int remote_start_threads(void *opaque)
{
	struct remote *r = opaque;
	pthread_attr_t attr;
	int err;

	if (r->chan.thread_on)
		return 0;
	/* A small stack: a config or BAR access is shallow, and resident memory counts. */
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, SERVE_STACK);
	err = -pthread_create(&r->chan.thread, &attr, serve_main, r);
	pthread_attr_destroy(&attr);
	if (err) {
		log_info(r->log, "remote: no fast channel: %s", strerror(-err));
		return 0; /* the link works without it */
	}
	r->chan.thread_on = true;
	pthread_mutex_lock(&r->chan.lock);
	while (!r->chan.running)
		pthread_cond_wait(&r->chan.cond, &r->chan.lock);
	pthread_mutex_unlock(&r->chan.lock);
	return 0;
}

int remote_fastchan_open(struct remote *r, struct link_msg *m)
{
	struct remote_fastchan *c = &r->chan;
	const char *why = NULL;
	int err;

	if (!(r->ext.features & LINK_F_FASTCHAN)) {
		log_error(r->log, "remote: EXT_FASTCHAN, but the fast channel was not agreed on");
		return -EPROTO;
	}
	err = fastchan_dev_map(&c->dev, m->fds[0], &why);
	if (err) {
		log_error(r->log, "remote: EXT_FASTCHAN: %s", why);
		return -EPROTO;
	}
	/* Served here, before any other event, too: see evloop.before. */
	r->loop.before = remote_fastchan_sync;
	r->loop.before_opaque = r;
	pthread_mutex_lock(&c->lock);
	c->mapped = true;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	log_debug(r->log, "remote: fast channel mapped");
	return 0;
}

void remote_fastchan_fini(struct remote *r)
{
	struct remote_fastchan *c = &r->chan;

	pthread_mutex_lock(&c->lock);
	c->quit = true;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	fastchan_dev_stop(&c->dev);
	if (c->thread_on)
		pthread_join(c->thread, NULL);
	c->thread_on = false;
	r->loop.before = NULL;
	fastchan_dev_fini(&c->dev);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
}
