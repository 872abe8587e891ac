/*
 * The fake device's fast channel (fake_dev.h): served on a thread with
 * the real device-side code (fastchan.c), answering like the fake's link,
 * or misbehaving in the ways f->chan_mode names.
 */
#include <errno.h>
#include <linux/futex.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fake_dev.h"

static bool is_bar_read(const struct fastchan_req *q)
{
	return q->cmd == LINK_BAR_READ;
}

/* The request waiting in the page (not served yet). */
static struct fastchan_req peek(struct fake_dev *f)
{
	struct fastchan_req q;
	uint64_t w[FASTCHAN_REQ_WORDS];

	for (unsigned i = 0; i < FASTCHAN_REQ_WORDS; i++)
		w[i] = atomic_load(&f->chan.page->req[i]);
	memcpy(&q, w, sizeof(q));
	return q;
}

static int answer(void *opaque, const struct fastchan_req *q, struct fastchan_rep *rep)
{
	struct fake_dev *f = opaque;
	int err = 0;

	pthread_mutex_lock(&f->lock);
	f->nchan++;
	switch (q->cmd) {
	case LINK_PCI_CFGWRITE:
		if (q->u.conf.addr == FAKE_CTL) {
			err = fake_control(f, q->u.conf.val) ? 0 : -EPIPE;
			break;
		}
		/* fall through */
	case LINK_PCI_CFGREAD:
		rep->val = fake_cfg_access(f, q->cmd, &q->u.conf);
		break;
	default:
		f->nbar++;
		f->last_bar = q->u.bar;
		f->last_bar_cmd = q->cmd;
		rep->val = is_bar_read(q) ? FAKE_MAGIC | q->u.bar.addr : 0;
		if (!is_bar_read(q) && f->chan_mode == FAKE_CHAN_BAD_WRITE)
			rep->val = 5;
		if (is_bar_read(q) && f->chan_mode == FAKE_CHAN_AHEAD)
			rep->sock_msgs = 100000;
		if (is_bar_read(q) && f->chan_mode == FAKE_CHAN_STRAY_RET) {
			link_send_ret(&f->link, 0, false, 1000);
			rep->sock_msgs = 1;
		}
	}
	pthread_mutex_unlock(&f->lock);
	return err;
}

/* A reply word with a number that is not the request's, then silence. */
static void bad_seq(struct fake_dev *f)
{
	_Atomic uint32_t *w = &f->chan.page->rep_word;

	atomic_store(w, ((atomic_load(&f->chan.served) + 7) & FASTCHAN_SEQ_MASK) << 1);
	syscall(SYS_futex, w, FUTEX_WAKE, 1, NULL, NULL, 0);
}

static bool misbehaves(struct fake_dev *f)
{
	struct fastchan_req q = peek(f);
	enum fake_chan_mode mode;

	pthread_mutex_lock(&f->lock);
	mode = f->chan_mode;
	pthread_mutex_unlock(&f->lock);
	if (!is_bar_read(&q) || (mode != FAKE_CHAN_HANG && mode != FAKE_CHAN_BAD_SEQ))
		return false;
	if (mode == FAKE_CHAN_BAD_SEQ)
		bad_seq(f);
	return true;
}

static void *chan_main(void *arg)
{
	struct fake_dev *f = arg;

	while (fastchan_dev_wait(&f->chan) == 0) {
		if (misbehaves(f) || fastchan_dev_serve(&f->chan, answer, f) < 0) {
			/* Never answers again: only the end stops it. */
			while (!atomic_load(&f->chan.stop))
				usleep(1000);
			break;
		}
	}
	return NULL;
}

int fake_chan_open(struct fake_dev *f, struct link_msg *m)
{
	const char *why = NULL;

	fastchan_dev_init(&f->chan);
	if (fastchan_dev_map(&f->chan, m->fds[0], &why) ||
	    pthread_create(&f->chan_thread, NULL, chan_main, f)) {
		fastchan_dev_fini(&f->chan);
		return -1;
	}
	f->chan_on = true;
	return 0;
}

void fake_chan_close(struct fake_dev *f)
{
	if (!f->chan_on)
		return;
	fastchan_dev_stop(&f->chan);
	pthread_join(f->chan_thread, NULL);
	fastchan_dev_fini(&f->chan);
	f->chan_on = false;
}
