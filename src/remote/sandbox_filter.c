/*
 * The seccomp filter of a device process (sandbox.h): an allow-list of the
 * remote machine's own system calls (below) and the device kind's
 * (hw/device_sandbox.h), built with libseccomp. Anything else kills the
 * whole process with SIGSYS, as does a call from another ABI (i386, x32).
 */
#include "remote/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_UNDEFINED__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

/*
 * The remote machine: the link (recvmsg/sendmsg, poll for its timeouts),
 * the event loop (epoll, eventfd and signalfd reads, eventfd writes: INTx),
 * guest RAM (fstat and F_GET_SEALS of a received file, mmap of it, and the
 * anonymous overlay of a retired one), malloc, logging to stderr, closing
 * what the VMM replaces, and the exit path (the device's destroy, exit).
 * No executable memory can be made.
 */
static const struct sandbox_rule machine_rules[] = {
	SANDBOX_ALLOW("read"),
	SANDBOX_ALLOW("write"),
	SANDBOX_ALLOW("readv"),
	SANDBOX_ALLOW("writev"),
	SANDBOX_ALLOW("close"),
	SANDBOX_ALLOW("recvmsg"),
	SANDBOX_ALLOW("sendmsg"),
	SANDBOX_ALLOW("poll"),
	SANDBOX_ALLOW("ppoll"),
	SANDBOX_ALLOW("epoll_wait"),
	SANDBOX_ALLOW("epoll_pwait"),
	SANDBOX_ALLOW("epoll_ctl"),
	SANDBOX_ALLOW("fstat"),
	/* glibc's fstat(): fstatat(fd, "", AT_EMPTY_PATH); paths lead nowhere here. */
	SANDBOX_ALLOW_MASKED("newfstatat", 3, AT_EMPTY_PATH, AT_EMPTY_PATH),
	SANDBOX_ALLOW("fcntl"),
	SANDBOX_ALLOW_MASKED("mmap", 2, PROT_EXEC, 0),
	SANDBOX_ALLOW_MASKED("mprotect", 2, PROT_EXEC, 0),
	SANDBOX_ALLOW("munmap"),
	SANDBOX_ALLOW("mremap"),
	SANDBOX_ALLOW("madvise"),
	SANDBOX_ALLOW("brk"),
	SANDBOX_ALLOW("futex"),
	SANDBOX_ALLOW("clock_gettime"),
	SANDBOX_ALLOW("clock_nanosleep"),
	SANDBOX_ALLOW("nanosleep"),
	SANDBOX_ALLOW("gettimeofday"),
	SANDBOX_ALLOW("getpid"),
	SANDBOX_ALLOW("gettid"),
	SANDBOX_ALLOW("sched_yield"),
	SANDBOX_ALLOW("getcpu"), /* sched_getcpu() without the vDSO (the fast channel) */
	SANDBOX_ALLOW("rt_sigprocmask"),
	SANDBOX_ALLOW("rt_sigaction"), /* glibc: abort(), the first pthread_create() */
	SANDBOX_ALLOW("rt_sigreturn"),
	SANDBOX_ALLOW("restart_syscall"),
	SANDBOX_ALLOW("exit"),
	SANDBOX_ALLOW("exit_group"),
};

/*
 * Sanitizer builds (make check's build-asan): the runtime's own calls, on
 * a thread's start and end and on the way out. Its leak check, which needs
 * ptrace and /proc, runs before the sandbox instead (sandbox.c).
 */
static const struct sandbox_rule sanitizer_rules[] = {
	SANDBOX_ALLOW("sigaltstack"),
	SANDBOX_ALLOW("sched_getaffinity"),
};

static int add_rule(scmp_filter_ctx ctx, const struct sandbox_rule *r)
{
	uint32_t action = r->err ? SCMP_ACT_ERRNO((uint32_t)r->err) : SCMP_ACT_ALLOW;
	int nr = seccomp_syscall_resolve_name(r->syscall), err;

	if (nr == __NR_SCMP_ERROR)
		return -ENOENT;
	switch (r->cmp) {
	case SANDBOX_EQ:
		err = seccomp_rule_add(ctx, action, nr, 1,
				       SCMP_CMP(r->arg, SCMP_CMP_EQ, r->value));
		break;
	case SANDBOX_MASKED_EQ:
		err = seccomp_rule_add(ctx, action, nr, 1,
				       SCMP_CMP(r->arg, SCMP_CMP_MASKED_EQ, r->mask, r->value));
		break;
	default:
		err = seccomp_rule_add(ctx, action, nr, 0);
	}
	return err == -EEXIST ? 0 : err;
}

static int add_rules(scmp_filter_ctx ctx, const struct sandbox_rule *rules, size_t n,
		     const struct logger *log)
{
	for (size_t i = 0; i < n; i++) {
		int err = add_rule(ctx, &rules[i]);

		if (err) {
			log_error(log, "remote: sandbox: rule for %s: %s", rules[i].syscall,
				  strerror(-err));
			return err;
		}
	}
	return 0;
}

/* Signals to itself only: abort() and raise() are tgkill(getpid(), ...). */
static int add_self_signals(scmp_filter_ctx ctx)
{
	return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
				SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid()));
}

static scmp_filter_ctx build(const struct device_sandbox *kind, const struct logger *log)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	int err;

	if (!ctx)
		return NULL;
	err = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	/* Every thread, should the process have any. */
	if (!err)
		err = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (!err)
		err = add_rules(ctx, machine_rules, sizeof(machine_rules) / sizeof(machine_rules[0]),
				log);
	if (!err && kind)
		err = add_rules(ctx, kind->rules, kind->nrules, log);
	if (!err && SANITIZED)
		err = add_rules(ctx, sanitizer_rules,
				sizeof(sanitizer_rules) / sizeof(sanitizer_rules[0]), log);
	if (!err)
		err = add_self_signals(ctx);
	if (err) {
		seccomp_release(ctx);
		return NULL;
	}
	return ctx;
}

int sandbox_load_filter(const struct device_sandbox *kind, const struct logger *log)
{
	scmp_filter_ctx ctx = build(kind, log);
	int err;

	if (!ctx) {
		log_error(log, "remote: sandbox: cannot build the seccomp filter");
		return -EINVAL;
	}
	err = seccomp_load(ctx);
	seccomp_release(ctx);
	if (err)
		log_error(log, "remote: sandbox: cannot load the seccomp filter: %s",
			  strerror(-err));
	return err;
}

static int check(const struct sandbox_rule *rules, size_t n, char *bad, size_t bad_len)
{
	for (size_t i = 0; i < n; i++) {
		if (seccomp_syscall_resolve_name(rules[i].syscall) < 0) {
			snprintf(bad, bad_len, "%s", rules[i].syscall);
			return -ENOENT;
		}
	}
	return 0;
}

int sandbox_check_rules(const struct device_sandbox *kind, char *bad, size_t bad_len)
{
	int err = check(machine_rules, sizeof(machine_rules) / sizeof(machine_rules[0]), bad,
			bad_len);

	return err || !kind ? err : check(kind->rules, kind->nrules, bad, bad_len);
}
