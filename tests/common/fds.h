/*
 * File descriptors in tests: counting this process's open ones (leak
 * checks) and sending bytes with SCM_RIGHTS (hand-made link messages).
 * No cmocka here, so libFuzzer targets share it with the unit tests.
 */
#ifndef SPLITVM_TESTS_COMMON_FDS_H
#define SPLITVM_TESTS_COMMON_FDS_H

#include <stddef.h>
#include <sys/types.h>

/* Open descriptors of this process; aborts without /proc. */
int fds_open_count(void);

/* One sendmsg of len bytes carrying nfds (at most 64) descriptors. */
ssize_t fds_send(int sock, const void *buf, size_t len, const int *fds, unsigned nfds, int flags);

#endif
