/*
 * Link I/O: whole messages with SCM_RIGHTS over a UNIX stream socket.
 *
 * The socket is always used with MSG_DONTWAIT and poll(), so one code path
 * serves a vCPU thread waiting for RET with a timeout and an event loop
 * reading whatever has arrived. A message is read in two steps (header,
 * then exactly its payload), never past its end: the next message's fds
 * stay queued with its own first byte.
 */
#include "remote/link.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Room for more fds than any command carries: an excess is seen, not cut. */
#define RX_FDS_MAX 16

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t deadline_of(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
}

/* Waits for events on fd until the deadline (-1: none). 0 or -ETIMEDOUT. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };

	for (;;) {
		int64_t left = deadline < 0 ? -1 : deadline - now_ms();
		int n;

		if (deadline >= 0 && left < 0)
			left = 0;
		n = poll(&p, 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (n > 0)
			return 0; /* readable, writable, or hung up: the next call says */
		if (n == 0 && deadline >= 0 && now_ms() >= deadline)
			return -ETIMEDOUT;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

static void rx_reset(struct link_rx *rx)
{
	memset(rx, 0, sizeof(*rx));
	for (unsigned int i = 0; i < LINK_MAX_FDS; i++)
		rx->msg.fds[i] = -1;
}

__attribute__((format(printf, 3, 4)))
static int link_fail(struct link *l, int err, const char *fmt, ...)
{
	/* A peer leaving between messages is the normal end of a link. */
	bool normal = err == -EPIPE && !l->in_call;
	char what[256];
	va_list ap;

	if (!l->err) {
		va_start(ap, fmt);
		vsnprintf(what, sizeof(what), fmt, ap);
		va_end(ap);
		l->err = err;
		if (l->on_break)
			l->on_break(l->break_opaque, err, what);
		else
			log_printf(l->log, normal ? LOG_INFO : LOG_ERROR, "link %s: %s%s", l->name,
				   what, normal ? "" : "; link closed");
	}
	link_msg_close_fds(&l->rx.msg);
	rx_reset(&l->rx);
	return err;
}

int link_init(struct link *l, int fd, enum link_role role, const struct logger *log,
	      const char *name)
{
	int type = 0, domain = 0;
	socklen_t len = sizeof(type);

	memset(l, 0, sizeof(*l));
	l->fd = -1;
	if (role != LINK_ROLE_PROXY && role != LINK_ROLE_REMOTE)
		return -EINVAL;
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
		return -errno;
	len = sizeof(domain);
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0)
		return -errno;
	if (type != SOCK_STREAM || domain != AF_UNIX)
		return -EPROTOTYPE;
	if (pthread_mutex_init(&l->lock, NULL))
		return -ENOMEM;
	l->fd = fd;
	l->role = role;
	l->log = log;
	l->name = name ? name : "?";
	l->max_regions = LINK_MAX_FDS;
	rx_reset(&l->rx);
	return 0;
}

void link_destroy(struct link *l)
{
	if (l->fd < 0)
		return;
	link_msg_close_fds(&l->rx.msg);
	close(l->fd);
	l->fd = -1;
	pthread_mutex_destroy(&l->lock);
}

/* The rest of the message after `off` bytes were sent, as iovecs. */
static int tx_iov(struct iovec iov[2], const uint8_t *hdr, const void *payload, size_t plen,
		  size_t off)
{
	int n = 0;

	if (off < LINK_HDR_SIZE)
		iov[n++] = (struct iovec){ (void *)(hdr + off), LINK_HDR_SIZE - off };
	if (plen) {
		size_t poff = off > LINK_HDR_SIZE ? off - LINK_HDR_SIZE : 0;

		iov[n++] = (struct iovec){ (uint8_t *)payload + poff, plen - poff };
	}
	return n;
}

static int send_all(struct link *l, const uint8_t *hdr, const struct link_msg *m,
		    int64_t deadline)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * LINK_MAX_FDS)];
	} ctl;
	size_t off = 0, total = LINK_HDR_SIZE + m->size;

	while (off < total) {
		struct iovec iov[2];
		struct msghdr mh = { .msg_iov = iov };
		ssize_t n;

		mh.msg_iovlen = tx_iov(iov, hdr, m->data.raw, m->size, off);
		if (off == 0 && m->nfds) {
			/* The fds travel with the first byte only. */
			struct cmsghdr *c;

			memset(&ctl, 0, sizeof(ctl));
			mh.msg_control = ctl.buf;
			mh.msg_controllen = CMSG_SPACE(sizeof(int) * m->nfds);
			c = CMSG_FIRSTHDR(&mh);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int) * m->nfds);
			memcpy(CMSG_DATA(c), m->fds, sizeof(int) * m->nfds);
		}
		n = sendmsg(l->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n >= 0) {
			off += (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		n = wait_fd(l->fd, POLLOUT, deadline);
		if (n)
			return (int)n;
	}
	return 0;
}

static int send_locked(struct link *l, const struct link_msg *m, int64_t deadline)
{
	const char *why = NULL;
	uint8_t hdr[LINK_HDR_SIZE];
	int err;

	if (l->err)
		return -EPIPE;
	/* Our own messages obey the rules we hold the peer to. */
	if (m->nfds > LINK_MAX_FDS || link_validate(l, l->role, m, &why)) {
		log_error(l->log, "link %s: refusing to send %s: %s", l->name,
			  link_cmd_name(m->cmd), why ? why : "too many fds");
		return -EINVAL;
	}
	link_hdr_encode(hdr, m->cmd, m->size);
	err = send_all(l, hdr, m, deadline);
	if (err)
		return link_fail(l, err, "sending %s failed: %s", link_cmd_name(m->cmd),
				 strerror(-err));
	return 0;
}

int link_send(struct link *l, const struct link_msg *m, int timeout_ms)
{
	int err;

	pthread_mutex_lock(&l->lock);
	err = send_locked(l, m, deadline_of(timeout_ms));
	pthread_mutex_unlock(&l->lock);
	return err;
}

int link_send_ret(struct link *l, uint64_t val, bool empty, int timeout_ms)
{
	struct link_msg m;

	memset(&m, 0, sizeof(m));
	m.cmd = LINK_RET;
	m.size = empty ? 0 : sizeof(uint64_t);
	m.data.u64 = empty ? 0 : val;
	return link_send(l, &m, timeout_ms);
}

/* Keeps the fds of one recvmsg in the message being read. 0 or -EBADMSG. */
static int rx_take_fds(struct link *l, struct msghdr *mh, const char **why)
{
	struct link_msg *m = &l->rx.msg;
	bool late = l->rx.started, extra = false;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		size_t n;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			if (!late && m->nfds < LINK_MAX_FDS)
				m->fds[m->nfds++] = fd;
			else {
				close(fd);
				extra = true;
			}
		}
	}
	if (late && extra)
		*why = "fds after the first byte of a message";
	else if (extra || (mh->msg_flags & MSG_CTRUNC))
		*why = "too many fds";
	else
		return 0;
	return -EBADMSG;
}

/* One recvmsg into buf: bytes read, 0 at end of file, or negative errno. */
static ssize_t rx_read(struct link *l, void *buf, size_t len, const char **why)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * RX_FDS_MAX)];
	} ctl;
	struct iovec iov = { buf, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;
	int err;

	do {
		mh.msg_control = ctl.buf;
		mh.msg_controllen = sizeof(ctl.buf);
		n = recvmsg(l->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	err = rx_take_fds(l, &mh, why);
	if (err)
		return err;
	if (n > 0)
		l->rx.started = true;
	return n;
}

static enum link_role peer_of(const struct link *l)
{
	return l->role == LINK_ROLE_PROXY ? LINK_ROLE_REMOTE : LINK_ROLE_PROXY;
}

/* A whole header is in: refuse a bad one before reading its payload. */
static int rx_header(struct link *l)
{
	struct link_msg *m = &l->rx.msg;
	const struct link_cmd_rule *r;
	uint64_t size;
	uint32_t cmd;

	memcpy(&cmd, l->rx.hdr, sizeof(cmd));
	memcpy(&size, l->rx.hdr + 8, sizeof(size));
	r = link_rule(l->ext, cmd);
	if (!r)
		return link_fail(l, -EBADMSG, "unknown command %u", cmd);
	if (!(r->senders & peer_of(l)))
		return link_fail(l, -EBADMSG, "%s from the wrong side", link_cmd_name(cmd));
	if (size < r->min_size || size > r->max_size)
		return link_fail(l, -EBADMSG, "%s with a %llu-byte payload", link_cmd_name(cmd),
				 (unsigned long long)size);
	m->cmd = cmd;
	m->size = (uint32_t)size;
	return 0;
}

static int rx_finish(struct link *l, struct link_msg *out)
{
	const char *why = NULL;

	if (link_validate(l, peer_of(l), &l->rx.msg, &why))
		return link_fail(l, -EBADMSG, "bad %s: %s", link_cmd_name(l->rx.msg.cmd), why);
	*out = l->rx.msg;
	/* The fds are the caller's now. */
	rx_reset(&l->rx);
	return 1;
}

int link_recv_nb(struct link *l, struct link_msg *m)
{
	struct link_rx *rx = &l->rx;

	if (l->err)
		return -EPIPE;
	for (;;) {
		size_t total = LINK_HDR_SIZE + rx->msg.size, want;
		const char *why = NULL;
		uint8_t *dst;
		ssize_t n;

		if (rx->got < LINK_HDR_SIZE) {
			dst = rx->hdr + rx->got;
			want = LINK_HDR_SIZE - rx->got;
		} else {
			dst = rx->msg.data.raw + (rx->got - LINK_HDR_SIZE);
			want = total - rx->got;
		}
		n = rx_read(l, dst, want, &why);
		if (n == -EAGAIN)
			return 0;
		if (n == -EBADMSG)
			return link_fail(l, -EBADMSG, "%s", why);
		if (n < 0)
			return link_fail(l, (int)n, "receive failed: %s", strerror((int)-n));
		if (n == 0 && (rx->got || rx->msg.nfds))
			return link_fail(l, -EPROTO, "peer closed mid-message (%zu bytes read)",
					 rx->got);
		if (n == 0)
			return link_fail(l, -EPIPE, "peer closed the link");
		rx->got += (size_t)n;
		if (rx->got == LINK_HDR_SIZE && rx_header(l))
			return l->err;
		if (rx->got == LINK_HDR_SIZE + rx->msg.size)
			return rx_finish(l, m);
	}
}

static int recv_until(struct link *l, struct link_msg *m, int64_t deadline)
{
	for (;;) {
		int r = link_recv_nb(l, m);

		if (r)
			return r < 0 ? r : 0;
		r = wait_fd(l->fd, POLLIN, deadline);
		if (r)
			return r;
	}
}

int link_recv(struct link *l, struct link_msg *m, int timeout_ms)
{
	int r = recv_until(l, m, deadline_of(timeout_ms));

	return r ? r : 1;
}

/*
 * The next message that is not an extension message of the peer's; those
 * (negotiated: the link has an extension table) go to on_ext on the way.
 */
static int recv_reply(struct link *l, struct link_msg *rep, int64_t deadline)
{
	for (;;) {
		int err = recv_until(l, rep, deadline);

		if (err || rep->cmd < LINK_EXT_BASE || !l->on_ext)
			return err;
		err = l->on_ext(l->ext_opaque, rep);
		link_msg_close_fds(rep);
		if (err)
			return link_fail(l, err, "the device process's %s was refused",
					 link_cmd_name(rep->cmd));
	}
}

int link_call(struct link *l, const struct link_msg *req, uint64_t *ret, int timeout_ms)
{
	int64_t deadline = deadline_of(timeout_ms);
	struct link_msg rep;
	int err;

	pthread_mutex_lock(&l->lock);
	l->in_call = true;
	err = send_locked(l, req, deadline);
	if (!err)
		err = recv_reply(l, &rep, deadline);
	if (err == -ETIMEDOUT)
		err = link_fail(l, err, "no reply to %s within %d ms", link_cmd_name(req->cmd),
				timeout_ms);
	if (!err && rep.cmd != LINK_RET) {
		link_msg_close_fds(&rep);
		err = link_fail(l, -EBADMSG, "%s while waiting for the reply to %s",
				link_cmd_name(rep.cmd), link_cmd_name(req->cmd));
	}
	if (!err)
		*ret = rep.size ? rep.data.u64 : 0;
	l->in_call = false;
	pthread_mutex_unlock(&l->lock);
	return err;
}

/* The lock, but not past the deadline: a heartbeat may hold it that long. */
static int lock_until(struct link *l, int64_t deadline)
{
	struct timespec ts;

	if (deadline < 0)
		return -pthread_mutex_lock(&l->lock);
	ts = (struct timespec){ deadline / 1000, (deadline % 1000) * 1000000 };
	return -pthread_mutex_clocklock(&l->lock, CLOCK_MONOTONIC, &ts);
}

int link_take_ext(struct link *l, bool (*done)(void *opaque), void *opaque, int timeout_ms)
{
	int64_t deadline = deadline_of(timeout_ms);
	struct link_msg m;
	int err = lock_until(l, deadline);

	if (err)
		return err;
	l->in_call = true;
	while (!err && !done(opaque)) {
		err = recv_until(l, &m, deadline);
		if (err == -ETIMEDOUT)
			err = link_fail(l, err, "announced messages missing after %d ms", timeout_ms);
		if (err)
			break;
		if (m.cmd < LINK_EXT_BASE || !l->on_ext) {
			link_msg_close_fds(&m);
			err = link_fail(l, -EBADMSG, "%s with no request pending",
					link_cmd_name(m.cmd));
			break;
		}
		err = l->on_ext(l->ext_opaque, &m);
		link_msg_close_fds(&m);
		if (err)
			err = link_fail(l, err, "the device process's %s was refused",
					link_cmd_name(m.cmd));
	}
	l->in_call = false;
	pthread_mutex_unlock(&l->lock);
	return err;
}

void link_break(struct link *l, int err, const char *why)
{
	pthread_mutex_lock(&l->lock);
	link_fail(l, err, "%s", why);
	pthread_mutex_unlock(&l->lock);
}
