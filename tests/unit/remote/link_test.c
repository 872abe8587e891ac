#include "link_test.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

void lt_setup(struct lt_env *e, enum link_role role)
{
	int sv[2], pipefd[2];

	memset(e, 0, sizeof(*e));
	e->base_fds = fds_open_count();
	assert_int_equal(pipe2(pipefd, O_CLOEXEC | O_NONBLOCK), 0);
	e->log = (struct logger){ .level = LOG_DEBUG, .fd = pipefd[1] };
	e->log_rd = pipefd[0];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(link_init(&e->link, sv[0], role, &e->log, "test"), 0);
	e->raw = sv[1];
}

void lt_teardown(struct lt_env *e)
{
	link_destroy(&e->link);
	if (e->raw >= 0)
		close(e->raw);
	close(e->log.fd);
	close(e->log_rd);
	assert_int_equal(fds_open_count(), e->base_fds);
}

const char *lt_log(struct lt_env *e)
{
	size_t cap = sizeof(e->logbuf) - 1;
	ssize_t n;

	while (e->loglen < cap && (n = read(e->log_rd, e->logbuf + e->loglen, cap - e->loglen)) > 0)
		e->loglen += (size_t)n;
	e->logbuf[e->loglen] = 0;
	return e->logbuf;
}

void lt_raw_send(int fd, const void *buf, size_t len, const int *fds, unsigned nfds)
{
	assert_int_equal(fds_send(fd, buf, len, fds, nfds, MSG_NOSIGNAL), (ssize_t)len);
}

void lt_raw_msg(int fd, uint32_t cmd, uint64_t size, const void *payload, size_t plen,
		const int *fds, unsigned nfds)
{
	uint8_t buf[LINK_HDR_SIZE + 512];

	assert_true(plen <= 512);
	link_hdr_encode(buf, cmd, size);
	if (plen)
		memcpy(buf + LINK_HDR_SIZE, payload, plen);
	lt_raw_send(fd, buf, LINK_HDR_SIZE + plen, fds, nfds);
}

size_t lt_raw_recv(int fd, uint8_t *buf, size_t cap, int *fds, unsigned *nfds)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * 16)];
	} ctl;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	size_t got = 0;

	*nfds = 0;
	assert_int_equal(poll(&p, 1, 1000), 1);
	for (;;) {
		struct iovec iov = { buf + got, cap - got };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
		ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

		if (n <= 0)
			break;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			memcpy(fds + *nfds, CMSG_DATA(c), k * sizeof(int));
			*nfds += (unsigned)k;
		}
		got += (size_t)n;
	}
	return got;
}

void lt_eventfds(int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		fds[i] = eventfd(0, EFD_CLOEXEC);
		assert_true(fds[i] >= 0);
	}
}

void lt_close_all(const int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		close(fds[i]);
}
