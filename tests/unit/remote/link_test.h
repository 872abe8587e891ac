/* Helpers for the link tests: socket pairs, raw peers, fd and log checks. */
#ifndef TESTS_LINK_TEST_H
#define TESTS_LINK_TEST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/log.h"
#include "remote/link.h"
#include "../../common/fds.h"

struct lt_env {
	struct logger log; /* writes into a pipe the test reads back */
	int log_rd;
	struct link link;  /* the side under test */
	int raw;           /* its peer, driven byte by byte */
	int base_fds;      /* open fds before the pair existed */
	char logbuf[8192];
	size_t loglen;
};

/* A link of the given role on one end of a socketpair, raw on the other. */
void lt_setup(struct lt_env *e, enum link_role role);
/* Destroys both ends and checks that no fd stayed open. */
void lt_teardown(struct lt_env *e);
/* Everything logged so far, NUL-terminated. */
const char *lt_log(struct lt_env *e);

/* One sendmsg of buf with fds on its first byte; asserts it all went. */
void lt_raw_send(int fd, const void *buf, size_t len, const int *fds, unsigned nfds);
/* A header and payload as QEMU would write them. */
void lt_raw_msg(int fd, uint32_t cmd, uint64_t size, const void *payload, size_t plen,
		const int *fds, unsigned nfds);
/* Reads what is queued (waits up to 1 s for the first byte). */
size_t lt_raw_recv(int fd, uint8_t *buf, size_t cap, int *fds, unsigned *nfds);
/* n fresh eventfds. */
void lt_eventfds(int *fds, unsigned n);
void lt_close_all(const int *fds, unsigned n);

#endif
