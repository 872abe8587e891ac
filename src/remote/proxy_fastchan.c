/*
 * The proxy's side of the fast channel (proxy_int.h, fastchan.h): once a
 * splitvm device process agreed on LINK_F_FASTCHAN, config and BAR
 * accesses (posted writes too) go through a shared page instead of the
 * socket; everything else stays on the socket, after the channel's last
 * posted write was served.
 *
 * The device process is not trusted: a reply is read once and checked, a
 * vCPU waits at most timeout= for it, and proxy_fail() (any thread: EOF,
 * heartbeat, the process's death) ends its wait at once. A failure here
 * is reported as one on the socket would be.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "hw/device.h"
#include "remote/proxy_int.h"

/* More doorbell messages than a device could have sent at once: garbage. */
#define MAX_AHEAD (2 * LINK_DOORBELL_MAX)

int proxy_fastchan_open(struct proxy *p)
{
	struct link_msg m;
	uint64_t v = 0;
	int err = fastchan_vmm_open(&p->chan);

	if (err) {
		/* The socket still carries everything. */
		log_warn(p->host->log, "%s: no fast channel: %s", p->name, strerror(-err));
		return 0;
	}
	link_msg_fastchan(&m, p->chan.fd, FASTCHAN_SIZE);
	err = px_call(p, &m, &v);
	if (err) {
		fastchan_vmm_close(&p->chan);
		return err;
	}
	p->chan_on = true;
	log_debug(p->host->log, "%s: fast channel open", p->name);
	return 0;
}

void proxy_fastchan_close(struct proxy *p)
{
	p->chan_on = false;
	fastchan_vmm_close(&p->chan);
}

void proxy_fastchan_fail(struct proxy *p)
{
	fastchan_vmm_fail(&p->chan);
}

static bool on_channel(uint32_t cmd)
{
	return cmd == LINK_PCI_CFGREAD || cmd == LINK_PCI_CFGWRITE || cmd == LINK_BAR_READ ||
	       cmd == LINK_BAR_WRITE || cmd == LINK_EXT_BAR_WRITE;
}

static int64_t deadline_of(const struct proxy *p)
{
	return fastchan_now_ns() + (int64_t)p->timeout_ms * 1000000;
}

/* The wait ended badly: reported once (the first failure wins), as the socket would. */
static int failed(struct proxy *p, const struct link_msg *m, int err)
{
	char what[128];

	if (err == -ETIMEDOUT) {
		snprintf(what, sizeof(what), "no reply to %s within %d ms", link_cmd_name(m->cmd),
			 p->timeout_ms);
		proxy_fail(p, PROXY_FAIL_TIMEOUT, what);
	} else if (err == -EBADMSG) {
		snprintf(what, sizeof(what), "bad reply to %s on the fast channel",
			 link_cmd_name(m->cmd));
		proxy_fail(p, PROXY_FAIL_PROTOCOL, what);
	}
	return err == -ECANCELED ? -EPIPE : err; /* canceled: failed elsewhere, reported there */
}

struct ext_target {
	struct proxy *p;
	uint32_t want;
};

static int32_t ahead(const struct proxy *p, uint32_t sock_msgs)
{
	return (int32_t)(sock_msgs - atomic_load(&p->ext_msgs));
}

static bool ext_caught_up(void *opaque)
{
	const struct ext_target *t = opaque;

	return ahead(t->p, t->want) <= 0;
}

/*
 * Doorbells the request changed were sent on the socket before the reply:
 * read them now, so the next guest write finds them in place.
 */
static int catch_up(struct proxy *p, uint32_t sock_msgs, int64_t deadline)
{
	struct ext_target t = { p, sock_msgs };
	int64_t left_ms = (deadline - fastchan_now_ns()) / 1000000;

	if (ahead(p, sock_msgs) <= 0)
		return 0;
	return link_take_ext(&p->link, ext_caught_up, &t, left_ms > 0 ? (int)left_ms : 0);
}

/* Read once, then checked: a write answers 0 or all ones, as its RET would. */
static int check_reply(struct proxy *p, const struct link_msg *m, const struct fastchan_rep *rep)
{
	bool is_write = m->cmd == LINK_PCI_CFGWRITE || m->cmd == LINK_BAR_WRITE;

	if (is_write && rep->val != 0 && rep->val != UINT64_MAX)
		return -EBADMSG;
	if (ahead(p, rep->sock_msgs) > MAX_AHEAD)
		return -EBADMSG;
	return 0;
}

static int request(struct proxy *p, const struct link_msg *m, uint64_t *v, bool posted)
{
	struct fastchan_req req = { .cmd = m->cmd };
	int64_t deadline = deadline_of(p);
	struct fastchan_rep rep;
	int err;

	memcpy(&req.u, m->data.raw, m->size < sizeof(req.u) ? m->size : sizeof(req.u));
	err = fastchan_vmm_request(&p->chan, &req, posted ? NULL : &rep, deadline);
	if (!err && !posted)
		err = check_reply(p, m, &rep);
	if (err)
		return failed(p, m, err);
	if (posted)
		return 0;
	*v = rep.val;
	err = catch_up(p, rep.sock_msgs, deadline);
	/* A broken link reported itself; a heartbeat holding the link past our deadline did not. */
	return err == -ETIMEDOUT && !link_broken(&p->link) ? failed(p, m, err) : err;
}

bool proxy_fastchan_call(struct proxy *p, const struct link_msg *m, uint64_t *v, int *err)
{
	if (!p->chan_on)
		return false;
	if (on_channel(m->cmd)) {
		*err = request(p, m, v, false);
		return true;
	}
	/* The socket's turn, after everything sent before it. */
	*err = fastchan_vmm_drain(&p->chan, deadline_of(p));
	if (*err)
		*err = failed(p, m, *err);
	return *err != 0;
}

bool proxy_fastchan_post(struct proxy *p, const struct link_msg *m)
{
	uint64_t v;

	if (!p->chan_on)
		return false;
	request(p, m, &v, true); /* a failure was reported; the write is lost as on a dead bus */
	return true;
}
