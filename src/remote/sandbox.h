/*
 * The sandbox of a device process (`splitvm remote`), applied once its
 * device exists, its files are open and its link is ready, before the first
 * message: new user, mount, IPC, UTS and (unless the kind needs the host's)
 * network namespaces, an empty read-only root, rlimits, no capabilities,
 * no_new_privs and an allow-list seccomp filter: the remote machine's own
 * calls plus the device kind's (hw/device_sandbox.h). A forbidden call kills
 * the process (SIGSYS). docs/remote.md ("Sandbox") lists what each kind may do.
 *
 * Namespaces, the root, capabilities and rlimits are applied where the
 * kernel allows, and one info line says what was not and why; no_new_privs
 * and the filter are not optional: without them the process must not serve.
 */
#ifndef REMOTE_SANDBOX_H
#define REMOTE_SANDBOX_H

#include <stddef.h>
#include <sys/types.h>

#include "core/log.h"
#include "hw/device_sandbox.h"

/* What sandbox_apply() did, as bits. */
enum {
	SANDBOX_USERNS = 1u << 0,
	SANDBOX_MOUNTNS = 1u << 1,
	SANDBOX_IPCNS = 1u << 2,
	SANDBOX_UTSNS = 1u << 3,
	SANDBOX_NETNS = 1u << 4,
	SANDBOX_PIDNS = 1u << 5,
	SANDBOX_ROOT = 1u << 6,
	SANDBOX_RLIMITS = 1u << 7,
	SANDBOX_CAPS = 1u << 8,
	SANDBOX_SECCOMP = 1u << 9, /* with no_new_privs */
};

/*
 * Namespaces and the empty root only (kind: NULL for none); the filter and
 * the rest are sandbox_apply()'s. *applied gets SANDBOX_* bits, *missing
 * (if not NULL) what was not applied and why. 0 or -errno.
 */
int sandbox_isolate(const struct device_sandbox *kind, unsigned *applied, char *missing,
		    size_t missing_len);

/*
 * Everything, to the calling process, which must be single-threaded (a
 * kind's worker threads start later), then sheds the pages only its
 * start-up used. Logs one info line on what could not be applied. 0, or
 * -errno (logged) if the filter or no_new_privs failed.
 */
int sandbox_apply(const struct device_sandbox *kind, const struct logger *log,
		  unsigned *applied);

/*
 * The same, with a step run once the namespaces exist and before the
 * rlimits and the filter: starting the threads the process needs (unshare
 * refuses a process with threads; the filter allows no new ones).
 * before_filter's error is returned before anything else is applied.
 */
int sandbox_apply_with(const struct device_sandbox *kind, const struct logger *log,
		       unsigned *applied, int (*before_filter)(void *opaque), void *opaque);

/* Builds and loads the seccomp filter alone (sandbox_apply() does it last). */
int sandbox_load_filter(const struct device_sandbox *kind, const struct logger *log);

/*
 * Checks that every rule of kind names a system call of this architecture;
 * on failure, -ENOENT with the name in bad. For tests of the kinds' lists.
 */
int sandbox_check_rules(const struct device_sandbox *kind, char *bad, size_t bad_len);

/* Closes every descriptor from 3 up but keep (-1: none): the inherited ones. */
void sandbox_close_inherited(int keep);

/*
 * fork() into a new PID namespace, the child its PID 1, for whoever starts
 * a device process (the child should exec `splitvm remote` at once: only
 * async-signal-safe calls before). Falls back to a plain fork() where no
 * PID namespace can be made.
 */
pid_t sandbox_fork(void);

#endif
