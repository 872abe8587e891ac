/*
 * QEMU 7.2 as the peer of the interop tests: finding the binary, starting
 * it on one end of a socketpair, reaping it.
 */
#ifndef SPLITVM_TESTS_QEMU_PEER_H
#define SPLITVM_TESTS_QEMU_PEER_H

#include <stdbool.h>
#include <sys/types.h>

/* $QEMU, else qemu-system-x86_64 on $PATH; false if not executable. */
bool qemu_find(void);
const char *qemu_path(void);

/*
 * Forks QEMU with argv (argv[0] is replaced by the binary), after keeping
 * keep_fd open across exec and, if stderr_fd >= 0, making it QEMU's
 * stderr. Returns the child's pid (asserts on fork failure).
 */
pid_t qemu_spawn(const char *const argv[], int keep_fd, int stderr_fd);

/* QEMU's x-remote machine serving lsi53c895a (devid lsi0) on link_fd. */
pid_t qemu_spawn_lsi_remote(int link_fd, int stderr_fd);

/* Waits up to 5 s for pid to exit, then kills it; its wait status. */
int qemu_reap(pid_t pid);

#endif
