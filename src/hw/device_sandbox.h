/*
 * What a device kind needs once sandboxed in a device process (`splitvm
 * remote`, src/remote/sandbox.h): the system calls it makes beyond those of
 * the remote machine itself, and a few limits. Plain data, kept beside each
 * kind; the device process turns it into a seccomp filter. A kind that
 * lists nothing gets the machine's calls only.
 */
#ifndef HW_DEVICE_SANDBOX_H
#define HW_DEVICE_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sandbox_cmp {
	SANDBOX_ANY,       /* any arguments */
	SANDBOX_EQ,        /* args[arg] == value */
	SANDBOX_MASKED_EQ, /* (args[arg] & mask) == value */
};

/*
 * One system call, by name. Several rules for one call allow it when any
 * of them matches. err != 0: the call fails with that errno instead of
 * killing the process (for calls a library makes and copes with failing).
 */
struct sandbox_rule {
	const char *syscall;
	int err;
	enum sandbox_cmp cmp;
	unsigned arg;
	uint64_t mask, value;
};

#define SANDBOX_ALLOW(name) { .syscall = (name) }
#define SANDBOX_ALLOW_EQ(name, a, v) \
	{ .syscall = (name), .cmp = SANDBOX_EQ, .arg = (a), .value = (v) }
#define SANDBOX_ALLOW_MASKED(name, a, m, v) \
	{ .syscall = (name), .cmp = SANDBOX_MASKED_EQ, .arg = (a), .mask = (m), .value = (v) }
#define SANDBOX_FAIL(name, e) { .syscall = (name), .err = (e) }

struct device_sandbox {
	const struct sandbox_rule *rules;
	size_t nrules;
	/* Keeps the host's network namespace (user-mode networking opens sockets). */
	bool host_net;
	/* Host files readable in the empty root (absolute paths, NULL-terminated). */
	const char *const *ro_files;
	/* RLIMIT_NOFILE; 0: the machine's default. */
	unsigned max_files;
	/* Threads the kind may start once sandboxed (kernel io-wq workers count). */
	unsigned max_threads;
	/* Private memory it may add once sandboxed (RLIMIT_DATA); 0: the default. */
	unsigned heap_mib;
};

#define SANDBOX_RULES(r) .rules = (r), .nrules = sizeof(r) / sizeof((r)[0])

#endif
