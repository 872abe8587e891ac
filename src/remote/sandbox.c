/*
 * The device process's sandbox (sandbox.h): namespaces, the empty root,
 * rlimits and capabilities here; the seccomp filter in sandbox_filter.c.
 */
#include "remote/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* What a device process may have open, and add once sandboxed. */
#define DEFAULT_FILES 64
#define DEFAULT_HEAP_MIB 64

struct sb {
	const struct device_sandbox *kind;
	unsigned applied;
	bool root_user; /* uid 0 before any user namespace */
	char *missing;  /* "what: why; ..." */
	size_t len, cap;
};

static void append(struct sb *s, const char *text)
{
	size_t n = strlen(text);

	if (!s->missing || s->len + 1 >= s->cap)
		return;
	if (n > s->cap - 1 - s->len)
		n = s->cap - 1 - s->len;
	memcpy(s->missing + s->len, text, n);
	s->len += n;
	s->missing[s->len] = '\0';
}

/*
 * Adds "what: why[: detail]" to what was not applied. Built without printf:
 * a device process run by root always has a note, and formatting it alone
 * made the process map printf's code and tables (~90 KiB of libc pages).
 */
static void note(struct sb *s, const char *what, const char *why, const char *detail)
{
	append(s, s->len ? "; " : "");
	append(s, what);
	append(s, ": ");
	append(s, why);
	if (detail) {
		append(s, ": ");
		append(s, detail);
	}
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), err = 0;
	ssize_t len = (ssize_t)strlen(text);

	if (fd < 0)
		return -errno;
	if (write(fd, text, (size_t)len) != len)
		err = -errno;
	close(fd);
	return err;
}

static long read_long(const char *path)
{
	char buf[32] = "";
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

	if (fd >= 0)
		close(fd);
	return n > 0 ? strtol(buf, NULL, 10) : -1;
}

/* Why the kernel refused a user namespace, in words an operator can act on. */
static void note_userns(struct sb *s, int err)
{
	if (err == EINVAL)
		note(s, "user namespace", "the process already has threads", NULL);
	else if (read_long("/proc/sys/user/max_user_namespaces") == 0)
		note(s, "user namespace", "user namespaces are disabled",
		     "user.max_user_namespaces = 0");
	else if (read_long("/proc/sys/kernel/unprivileged_userns_clone") == 0)
		note(s, "user namespace", "unprivileged user namespaces are disabled",
		     "kernel.unprivileged_userns_clone = 0");
	else if (err == ENOSPC || err == EUSERS)
		note(s, "user namespace", "the limit of user namespaces is reached", NULL);
	else if (err == EPERM)
		note(s, "user namespace", "not permitted here (a container's seccomp profile, "
		     "an LSM?)", NULL);
	else
		note(s, "user namespace", strerror(err), NULL);
}

/* Async-signal-safe: a decimal number into buf, NUL-terminated. */
static char *put_uint(char *p, unsigned v)
{
	char tmp[12];
	int n = 0;

	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10));
	while (n)
		*p++ = tmp[--n];
	*p = 0;
	return p;
}

/*
 * In a new user namespace, our own IDs map to themselves: files keep their
 * owners, nothing is gained. Async-signal-safe (sandbox_fork's child).
 */
static bool map_ids(uid_t uid, gid_t gid)
{
	char line[40], *p;

	p = put_uint(line, uid);
	*p++ = ' ';
	p = put_uint(p, uid);
	p[0] = ' ', p[1] = '1', p[2] = 0;
	if (write_file("/proc/self/uid_map", line) < 0 ||
	    write_file("/proc/self/setgroups", "deny") < 0)
		return false;
	p = put_uint(line, gid);
	*p++ = ' ';
	p = put_uint(p, gid);
	p[0] = ' ', p[1] = '1', p[2] = 0;
	return write_file("/proc/self/gid_map", line) == 0;
}

static void enter_userns(struct sb *s)
{
	uid_t uid = geteuid();
	gid_t gid = getegid();

	if (unshare(CLONE_NEWUSER) < 0) {
		note_userns(s, errno);
		return;
	}
	s->applied |= SANDBOX_USERNS;
	if (!map_ids(uid, gid))
		note(s, "user ID map", strerror(errno), NULL);
}

static void enter_namespaces(struct sb *s)
{
	static const struct { int flag; unsigned bit; const char *name; } ns[] = {
		{ CLONE_NEWNS, SANDBOX_MOUNTNS, "mount" },
		{ CLONE_NEWIPC, SANDBOX_IPCNS, "IPC" },
		{ CLONE_NEWUTS, SANDBOX_UTSNS, "UTS" },
		{ CLONE_NEWNET, SANDBOX_NETNS, "network" },
	};
	char denied[64] = "";

	for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		char what[32];

		if (ns[i].flag == CLONE_NEWNET && s->kind && s->kind->host_net)
			continue; /* documented per kind: user-mode networking */
		if (unshare(ns[i].flag) == 0) {
			s->applied |= ns[i].bit;
		} else if (errno == EPERM && !(s->applied & SANDBOX_USERNS)) {
			/* The usual reason for all of them: said once. */
			snprintf(denied + strlen(denied), sizeof(denied) - strlen(denied), "%s%s",
				 *denied ? ", " : "", ns[i].name);
		} else {
			snprintf(what, sizeof(what), "%s namespace", ns[i].name);
			note(s, what, strerror(errno), NULL);
		}
	}
	if (*denied)
		note(s, "namespaces", denied, "need a user namespace or CAP_SYS_ADMIN");
}

/* An empty file at path in the new root, the host's file bound over it read-only. */
static int bind_ro_file(const char *host_path, const char *root)
{
	char path[256];
	int fd, n = snprintf(path, sizeof(path), "%s%s", root, host_path);

	if (n < 0 || (size_t)n >= sizeof(path) || host_path[0] != '/')
		return -ENAMETOOLONG;
	for (char *p = strchr(path + strlen(root) + 1, '/'); p; p = strchr(p + 1, '/')) {
		*p = 0;
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
	if (fd < 0)
		return -errno;
	close(fd);
	if (mount(host_path, path, NULL, MS_BIND, NULL) < 0 ||
	    mount(NULL, path, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV |
		  MS_NOEXEC, NULL) < 0)
		return -errno;
	return 0;
}

static void bind_ro_files(struct sb *s, const char *root)
{
	const char *const *f = s->kind ? s->kind->ro_files : NULL;

	for (; f && *f; f++) {
		int err = bind_ro_file(*f, root);

		if (err)
			note(s, *f, "cannot be shown in the empty root", strerror(-err));
	}
}

/* A fresh tmpfs over a directory every system has, in our mount namespace only. */
static const char *mount_new_root(void)
{
	static const char *const at[] = { "/tmp", "/proc", "/mnt" };

	for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++)
		if (mount("splitvm-remote", at[i], "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
			  "size=64k,nr_inodes=16,mode=0755") == 0)
			return at[i];
	return NULL;
}

/*
 * pivot_root into an empty tmpfs and drop the old root: nothing of the host's
 * file system stays reachable by path (open files stay open).
 */
static void enter_empty_root(struct sb *s)
{
	const char *root;

	if (!(s->applied & SANDBOX_MOUNTNS)) {
		note(s, "empty root", "no mount namespace", NULL);
		return;
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 || !(root = mount_new_root())) {
		note(s, "empty root", "cannot mount a tmpfs", strerror(errno));
		return;
	}
	bind_ro_files(s, root);
	if (chdir(root) < 0 || syscall(SYS_pivot_root, ".", ".") < 0 ||
	    umount2(".", MNT_DETACH) < 0 || chdir("/") < 0) {
		note(s, "empty root", "pivot_root", strerror(errno));
		return;
	}
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  NULL) < 0)
		note(s, "read-only root", strerror(errno), NULL);
	s->applied |= SANDBOX_ROOT;
}

static void isolate(struct sb *s)
{
	enter_userns(s);
	enter_namespaces(s);
	enter_empty_root(s);
	if (getpid() == 1)
		s->applied |= SANDBOX_PIDNS;
	else
		note(s, "PID namespace", "the VMM did not start the process in one", NULL);
}

int sandbox_isolate(const struct device_sandbox *kind, unsigned *applied, char *missing,
		    size_t missing_len)
{
	struct sb s = { .kind = kind, .missing = missing, .cap = missing_len };

	if (missing && missing_len)
		missing[0] = 0;
	isolate(&s);
	*applied = s.applied;
	return 0;
}

/* ---- rlimits and capabilities ------------------------------------------------- */

/* Private writable memory mapped now (VmData, bytes; 0 if unknown) and threads. */
static void read_status(uint64_t *data, unsigned *threads)
{
	char buf[4096], *p;
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

	if (fd >= 0)
		close(fd);
	*data = 0;
	*threads = 1;
	if (n <= 0)
		return;
	buf[n] = 0;
	p = strstr(buf, "\nVmData:");
	if (p)
		*data = strtoull(p + 9, NULL, 10) << 10;
	p = strstr(buf, "\nThreads:");
	if (p)
		*threads = (unsigned)strtoul(p + 9, NULL, 10);
}

static int limit(int resource, uint64_t value)
{
	struct rlimit old, rl = { value, value };

	/* Never above the hard limit we were given. */
	if (getrlimit(resource, &old) == 0 && old.rlim_max != RLIM_INFINITY &&
	    old.rlim_max < value)
		rl.rlim_cur = rl.rlim_max = old.rlim_max;
	return setrlimit(resource, &rl) < 0 ? -errno : 0;
}

static void set_limits(struct sb *s, uint64_t data, unsigned threads)
{
	const struct device_sandbox *k = s->kind;
	unsigned files = k && k->max_files ? k->max_files : DEFAULT_FILES;
	unsigned heap = k && k->heap_mib ? k->heap_mib : DEFAULT_HEAP_MIB;
	int err = limit(RLIMIT_NOFILE, files);

	if (!err)
		err = limit(RLIMIT_CORE, 0); /* a core would hold guest RAM */
	if (!err && data)
		err = limit(RLIMIT_DATA, data + ((uint64_t)heap << 20));
	if (err) {
		note(s, "rlimits", strerror(-err), NULL);
		return;
	}
	s->applied |= SANDBOX_RLIMITS;
	/* Counted per user and namespace: meaningful only in a namespace of our own. */
	if (!(s->applied & SANDBOX_USERNS))
		note(s, "RLIMIT_NPROC", "no user namespace of its own", NULL);
	else if (limit(RLIMIT_NPROC, threads + (k ? k->max_threads : 0)) < 0)
		note(s, "RLIMIT_NPROC", strerror(errno), NULL);
	else if (s->root_user)
		note(s, "RLIMIT_NPROC", "the kernel does not enforce it for root", NULL);
}

/* No capabilities, in any set, and no way back to them (securebits locked). */
static void drop_caps(struct sb *s)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2] = { { 0 } };
	bool bounded = true;

	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	for (int cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
			bounded = false;
	prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
	      SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
	      SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED, 0, 0, 0);
	if (syscall(SYS_capset, &hdr, data) < 0) {
		note(s, "capabilities", "capset", strerror(errno));
		return;
	}
	s->applied |= SANDBOX_CAPS;
	if (!bounded)
		note(s, "capability bounding set", "no CAP_SETPCAP", NULL);
}

/* ---- all of it ------------------------------------------------------------------ */

/*
 * LeakSanitizer stops the world with ptrace and /proc at exit, which the
 * sandbox forbids: sanitizer builds check for leaks here instead, and not
 * at exit (the unsandboxed unit tests cover the serving code's leaks).
 */
void __lsan_do_leak_check(void) __attribute__((weak, visibility("default")));

int sandbox_apply(const struct device_sandbox *kind, const struct logger *log,
		  unsigned *applied)
{
	return sandbox_apply_with(kind, log, applied, NULL, NULL);
}

int sandbox_apply_with(const struct device_sandbox *kind, const struct logger *log,
		       unsigned *applied, int (*before_filter)(void *opaque), void *opaque)
{
	char missing[512] = "";
	struct sb s = { .kind = kind, .missing = missing, .cap = sizeof(missing),
			.root_user = geteuid() == 0 };
	uint64_t data;
	unsigned threads;
	int err;

	if (__lsan_do_leak_check)
		__lsan_do_leak_check();
	if (!kind)
		log_warn(log, "remote: sandbox: the device kind lists no system calls: only the "
			 "machine's are allowed (docs/remote.md)");
	isolate(&s);
	if (before_filter) {
		err = before_filter(opaque);
		if (err)
			return err;
	}
	/* The threads and their stacks count. */
	read_status(&data, &threads);
	set_limits(&s, data, threads);
	drop_caps(&s);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		err = -errno;
		log_error(log, "remote: sandbox: no_new_privs: %s", strerror(errno));
		return err;
	}
	err = sandbox_load_filter(kind, log);
	if (err)
		return err;
	s.applied |= SANDBOX_SECCOMP;
	if (*missing)
		log_info(log, "remote: sandbox: not applied: %s", missing);
	else
		log_debug(log, "remote: sandbox: namespaces, empty root, rlimits, no "
			  "capabilities, seccomp");
	if (applied)
		*applied = s.applied;
	return 0;
}

/* ---- descriptors and the PID namespace ------------------------------------------- */

void sandbox_close_inherited(int keep)
{
	if (keep < 3) {
		close_range(3, ~0u, 0);
		return;
	}
	if (keep > 3)
		close_range(3, (unsigned)keep - 1, 0);
	close_range((unsigned)keep + 1, ~0u, 0);
}

pid_t sandbox_fork(void)
{
	uid_t uid = geteuid();
	gid_t gid = getegid();
	pid_t pid;

	/* Privileged callers need no user namespace for it; others do. */
	pid = (pid_t)syscall(SYS_clone, CLONE_NEWPID | SIGCHLD, NULL, NULL, NULL, 0);
	if (pid >= 0 || errno != EPERM)
		return pid >= 0 || errno == EAGAIN ? pid : fork();
	pid = (pid_t)syscall(SYS_clone, CLONE_NEWUSER | CLONE_NEWPID | SIGCHLD, NULL, NULL, NULL,
			     0);
	if (pid < 0)
		return errno == EAGAIN ? pid : fork();
	/* exec keeps no capability in the new namespace: the IDs must be mapped. */
	if (pid == 0 && !map_ids(uid, gid))
		_exit(127);
	return pid;
}
