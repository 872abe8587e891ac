/* Helpers for the sandbox tests (sandbox_test.h). */
#include "sandbox_test.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "remote/link.h"
#include "remote/remote.h"
#include "remote/sandbox.h"

#define CHILD_TIMEOUT_MS 10000

/* In the child: the machine, then the sandbox. Exit statuses 90+ are setup failures. */
static int child_setup(const char *spec, enum st_mode mode, unsigned *applied)
{
	struct logger log = LOGGER_DEFAULT;
	struct remote *r;
	int sv[2];

	log.level = LOG_WARN;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 90;
	if (remote_create(&r, spec, &log) < 0)
		return 91;
	if (remote_attach(r, sv[0]) < 0)
		return 92;
	if (mode == ST_FULL)
		return sandbox_apply(remote_sandbox(r), &log, applied) < 0 ? 93 : 0;
	return sandbox_isolate(remote_sandbox(r), applied, NULL, 0) < 0 ? 94 : 0;
}

static int wait_child(pid_t pid)
{
	struct timespec tick = { 0, 5 * 1000 * 1000 };
	int status = 0;

	for (int waited = 0; waited < CHILD_TIMEOUT_MS; waited += 5) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return status;
		assert_true(r == 0);
		nanosleep(&tick, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	fail_msg("the sandboxed child did not end within %d ms", CHILD_TIMEOUT_MS);
	return status;
}

int st_fork(int (*fn)(void *), void *arg)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(fn(arg));
	return wait_child(pid);
}

int st_run_here(const char *spec, enum st_mode mode, int (*fn)(void *), void *arg)
{
	unsigned applied;
	int rc = child_setup(spec, mode, &applied);

	return rc ? rc : fn(arg);
}

int st_run(const char *spec, enum st_mode mode, int (*fn)(void *), void *arg)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(st_run_here(spec, mode, fn, arg));
	return wait_child(pid);
}

void st_start(struct st_child *c, const char *spec, enum st_mode mode)
{
	int report[2], hold[2];
	struct pollfd p;

	assert_int_equal(pipe2(report, O_CLOEXEC), 0);
	assert_int_equal(pipe2(hold, O_CLOEXEC), 0);
	fflush(NULL);
	c->pid = fork();
	assert_true(c->pid >= 0);
	if (c->pid == 0) {
		unsigned applied = 0;
		int rc;
		char byte;

		close(report[0]);
		close(hold[1]);
		rc = child_setup(spec, mode, &applied);
		if (rc)
			_exit(rc);
		if (write(report[1], &applied, sizeof(applied)) != sizeof(applied))
			_exit(95);
		_exit(read(hold[0], &byte, 1) == 0 ? 0 : 96);
	}
	close(report[1]);
	close(hold[0]);
	c->hold = hold[1];
	p = (struct pollfd){ .fd = report[0], .events = POLLIN };
	assert_int_equal(poll(&p, 1, CHILD_TIMEOUT_MS), 1);
	assert_int_equal(read(report[0], &c->applied, sizeof(c->applied)), sizeof(c->applied));
	close(report[0]);
}

int st_stop(struct st_child *c)
{
	close(c->hold);
	return wait_child(c->pid);
}

void st_read_proc(pid_t pid, const char *name, char *buf, size_t len)
{
	char path[64];
	size_t got = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	while (got < len - 1 && (n = read(fd, buf + got, len - 1 - got)) > 0)
		got += (size_t)n;
	close(fd);
	assert_true(got > 0);
	buf[got] = 0;
}

void st_assert_field(const char *text, const char *field, const char *value)
{
	const char *p = strstr(text, field);
	size_t vlen = strlen(value);

	if (!p)
		fail_msg("no %s in /proc status", field);
	p += strlen(field);
	p += strspn(p, " \t");
	if (strncmp(p, value, vlen) || (p[vlen] != '\n' && p[vlen] != 0))
		fail_msg("%s %.*s, expected %s", field, (int)strcspn(p, "\n"), p, value);
}

void st_assert_limit(const char *text, const char *name, unsigned long value)
{
	const char *p = strstr(text, name);
	unsigned long soft, hard;

	if (!p || sscanf(p + strlen(name), " %lu %lu", &soft, &hard) != 2)
		fail_msg("no numeric limit '%s' in /proc/PID/limits", name);
	if (soft != value || hard != value)
		fail_msg("%s: %lu/%lu, expected %lu", name, soft, hard, value);
}

void st_assert_ns(pid_t pid, const char *type, bool own)
{
	char mine[64], theirs[64];
	struct stat a, b;

	snprintf(mine, sizeof(mine), "/proc/self/ns/%s", type);
	snprintf(theirs, sizeof(theirs), "/proc/%d/ns/%s", (int)pid, type);
	assert_int_equal(stat(mine, &a), 0);
	assert_int_equal(stat(theirs, &b), 0);
	if ((a.st_ino != b.st_ino) != own)
		fail_msg("%s namespace: %s, the sandbox says %s", type,
			 a.st_ino != b.st_ino ? "its own" : "ours", own ? "its own" : "none");
}

void st_blk_spec(char *spec, size_t len)
{
	char path[] = "/tmp/splitvm-sandbox-XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 1 << 20), 0);
	close(fd);
	snprintf(spec, len, "virtio-blk,file=%s,aio=threads", path);
}

void st_blk_cleanup(const char *spec)
{
	const char *path = strstr(spec, "file=");
	char buf[128];

	assert_non_null(path);
	snprintf(buf, sizeof(buf), "%.*s", (int)strcspn(path + 5, ","), path + 5);
	unlink(buf);
}

/* ---- `splitvm remote` itself ---- */

/* How many PID namespaces deep pid is (NSpid's numbers). */
static unsigned nspid_levels(pid_t pid)
{
	char status[4096], *p;
	unsigned n = 0;

	st_read_proc(pid, "status", status, sizeof(status));
	p = strstr(status, "\nNSpid:");
	assert_non_null(p);
	for (p += 7; *p && *p != '\n'; p++)
		if ((*p == '\t' || *p == ' ') && p[1] >= '0' && p[1] <= '9')
			n++;
	return n;
}

#define RAM_SIZE (4u << 20)

static void exec_remote(int fd, const char *bin, const char *spec, bool sandbox)
{
	char a1[] = "remote", a2[] = "--link", a3[] = "fd=3", a4[] = "--device";
	char a6[] = "--sandbox", a7[] = "off", a8[] = "--log-level", a9[] = "info";
	char *argv[] = { (char *)bin, a1, a2, a3, a4, (char *)spec, a8, a9,
			 sandbox ? NULL : a6, a7, NULL };

	if (dup2(fd, 3) < 0)
		_exit(127);
	execv(bin, argv);
	_exit(127);
}

/* What a VMM sends first: guest RAM, then a config read (the vendor ID). */
static void first_messages(struct st_remote *rp)
{
	struct logger log = LOGGER_DEFAULT;
	struct link l;
	struct link_msg m;
	uint64_t v = 0;
	int fd = dup(rp->fd);

	rp->ram = memfd_create("st-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	assert_true(rp->ram >= 0 && fd >= 0);
	assert_int_equal(ftruncate(rp->ram, RAM_SIZE), 0);
	assert_int_equal(fcntl(rp->ram, F_ADD_SEALS, F_SEAL_SHRINK), 0);
	assert_int_equal(link_init(&l, fd, LINK_ROLE_PROXY, &log, "sandbox-test"), 0);
	link_msg_sysmem(&m);
	assert_int_equal(link_msg_sysmem_add(&m, rp->ram, 0, RAM_SIZE, 0), 0);
	assert_int_equal(link_send(&l, &m, CHILD_TIMEOUT_MS), 0);
	link_msg_cfg(&m, LINK_PCI_CFGREAD, 0, 0, 2);
	assert_int_equal(link_call(&l, &m, &v, CHILD_TIMEOUT_MS), 0);
	assert_int_equal(v, 0x1af4);
	link_destroy(&l);
}

void st_remote_start(struct st_remote *rp, const char *bin, const char *spec, bool sandbox)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	fflush(NULL);
	rp->pid = sandbox_fork();
	assert_true(rp->pid >= 0);
	if (rp->pid == 0)
		exec_remote(sv[1], bin, spec, sandbox);
	close(sv[1]);
	rp->fd = sv[0];
	first_messages(rp);
	rp->pidns = nspid_levels(rp->pid) > nspid_levels(getpid());
}

int st_remote_stop(struct st_remote *rp)
{
	int status;

	close(rp->fd);
	status = wait_child(rp->pid);
	close(rp->ram);
	return status;
}

void st_assert_pid1(const char *status, pid_t pid, bool pidns)
{
	const char *p = strstr(status, "\nNSpid:");
	const char *last;

	assert_non_null(p);
	p += 7;
	last = p + strcspn(p, "\n");
	while (last > p && last[-1] != '\t' && last[-1] != ' ')
		last--;
	if (pidns && strtol(last, NULL, 10) != 1)
		fail_msg("a PID namespace of its own, but not PID 1 in it");
	if (!pidns)
		print_message("(no PID namespace here: sandbox_fork() fell back to fork())\n");
}

/* Resident kB of pid: all of it, and the part that is its own (not file-backed, not RAM). */
void st_print_rss(pid_t pid, const char *what)
{
	static char buf[256 * 1024];
	unsigned long rss = 0, ram = 0, priv = 0, v;
	bool in_ram = false;
	char *line, *save;

	st_read_proc(pid, "smaps", buf, sizeof(buf));
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strchr(line, '-') && strchr(line, '-') < strchr(line, ' ')) {
			in_ram = strstr(line, "/memfd:st-ram") != NULL;
			continue;
		}
		if (sscanf(line, "Rss: %lu", &v) == 1) {
			rss += v;
			ram += in_ram ? v : 0;
		} else if (!in_ram && (sscanf(line, "Private_Dirty: %lu", &v) == 1 ||
				       sscanf(line, "Private_Clean: %lu", &v) == 1)) {
			priv += v;
		}
	}
	print_message("%s: resident %lu kB without guest RAM (%lu kB of it private), "
		      "guest RAM %lu kB\n", what, rss - ram, priv, ram);
}
