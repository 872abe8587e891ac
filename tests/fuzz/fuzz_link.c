/*
 * libFuzzer target: the link's receive and validation path against an
 * arbitrary byte stream with file descriptors.
 *
 * Input: byte 0 sets up the receiving link (bit 0: proxy, else device
 * process; bit 1: an extension table installed, with bit 3 issue 7's
 * (link_ext_v1) rather than a test table; bit 2: QEMU's 7-region limit), byte 1 the number of eventfds to pass (0..20), byte 2 the size
 * of the chunks the stream is written in (1..256), byte 3 which chunk the
 * fds ride with; the rest is the stream (the layout tests/fuzz/run.py's
 * seeds use). Chunks go through a socketpair, the link reads between them.
 * Any crash, sanitizer report or fd left open after the link is destroyed
 * is a bug; a broken link is the right answer to a bad stream.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "remote/link.h"
#include "../common/fds.h"
#include "fuzz_log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_FDS 20

static int check_ext(const struct link_msg *m, const char **why)
{
	if (m->size && m->data.raw[0] == 0xff) {
		*why = "reserved";
		return -EBADMSG;
	}
	return 0;
}

static const struct link_cmd_rule ext_rules[] = {
	{ 0, LINK_PAYLOAD_MAX, 0, 2, LINK_ROLE_PROXY | LINK_ROLE_REMOTE, check_ext },
	{ 8, 8, 1, 1, LINK_ROLE_REMOTE, NULL },
};
static const struct link_ext ext = { ext_rules, 2 };

/* Everything the link has now; stops once it broke. */
static void drain(struct link *l)
{
	struct link_msg m;

	while (link_recv_nb(l, &m) == 1)
		link_msg_close_fds(&m);
}

static void send_chunk(int fd, const uint8_t *p, size_t len, const int *fds, unsigned nfds)
{
	/* A chunk the link refused to read any more of may not fit: drop it. */
	(void)fds_send(fd, p, len, fds, nfds, MSG_DONTWAIT | MSG_NOSIGNAL);
}

static void feed(struct link *l, int raw, const uint8_t *data, size_t size, const uint8_t *cfg)
{
	unsigned nfds = cfg[1] % (MAX_FDS + 1), chunk = cfg[2] + 1u, with_fds = cfg[3];
	int fds[MAX_FDS];
	size_t off = 0;

	for (unsigned i = 0; i < nfds; i++)
		if ((fds[i] = eventfd(0, EFD_CLOEXEC)) < 0)
			abort();
	for (unsigned k = 0; off < size; k++) {
		size_t n = size - off < chunk ? size - off : chunk;
		bool carry = k == with_fds || (off + n == size && k < with_fds);

		send_chunk(raw, data + off, n, fds, carry ? nfds : 0);
		off += n;
		drain(l);
	}
	for (unsigned i = 0; i < nfds; i++)
		close(fds[i]);
	shutdown(raw, SHUT_WR);
	drain(l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int base, sv[2];
	struct link l;

	if (size < 4)
		return 0;
	fuzz_quiet_log();
	base = fds_open_count();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) ||
	    link_init(&l, sv[0], data[0] & 1 ? LINK_ROLE_PROXY : LINK_ROLE_REMOTE, fuzz_quiet_log(),
		      "fuzz"))
		abort();
	if (data[0] & 2)
		l.ext = data[0] & 8 ? &link_ext_v1 : &ext;
	if (data[0] & 4)
		l.max_regions = LINK_QEMU_MAX_REGIONS;
	feed(&l, sv[1], data + 4, size - 4, data);
	link_destroy(&l);
	close(sv[1]);
	if (fds_open_count() != base)
		abort(); /* a received fd leaked */
	return 0;
}
