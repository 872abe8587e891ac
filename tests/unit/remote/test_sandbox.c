/*
 * The device process's sandbox (remote/sandbox.h). Each test forks a child
 * that sets up a remote machine for a device kind as `splitvm remote` does
 * (device created, link attached), applies the sandbox and attempts
 * something; the parent judges how the child ended. Sandboxed, a child
 * cannot open a host file it was not given, create a network socket (a
 * kind without networking), exec or signal another process: each attempt
 * kills it with SIGSYS. Isolated only (namespaces and the empty root, no
 * filter), the same paths simply are not there. A running child shows
 * Seccomp 2, NoNewPrivs 1 and no capabilities in /proc/PID/status.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/evloop.h"
#include "hw/block/aio.h"
#include "hw/device.h"
#include "hw/net/backend.h"
#include "remote/remote.h"
#include "remote/sandbox.h"
#include "sandbox_test.h"

/* ---- attempts, run in the sandboxed child: 0 means as expected ---- */

static int try_open_host_file(void *arg)
{
	int fd = open("/etc/passwd", O_RDONLY | O_CLOEXEC);

	return fd >= 0 ? 1 : errno == ENOENT ? 0 : 2;
}

static int try_inet_socket(void *arg)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	return fd >= 0 ? 1 : 2;
}

static int try_exec(void *arg)
{
	char a0[] = "sh", a1[] = "-c", a2[] = "exit 0";
	char *const argv[] = { a0, a1, a2, NULL };

	execv("/bin/sh", argv);
	return errno == ENOENT ? 0 : 2;
}

/* Signalling anyone else, here the test process (arg: its pid). */
static int try_kill_parent(void *arg)
{
	return syscall(SYS_kill, *(pid_t *)arg, 0) == 0 ? 1 : 2;
}

static int try_fork(void *arg)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(0);
	return pid > 0 ? 1 : 2;
}

/* Not reached by path, not even by exec: the empty root. */
static int try_host_paths(void *arg)
{
	struct stat st;

	if (try_open_host_file(NULL) || try_exec(NULL))
		return 1;
	return stat("/", &st) == 0 && st.st_nlink <= 2 ? 0 : 3;
}

static void *thread_fn(void *arg)
{
	return arg;
}

static int try_thread(void *arg)
{
	static int token;
	pthread_t t;
	void *ret = NULL;

	if (pthread_create(&t, NULL, thread_fn, &token) || pthread_join(t, &ret))
		return 1;
	return ret == &token ? 0 : 2;
}

/* virtio-net,user: IPv4 sockets and the host's resolver (arg: the host has one). */
static int try_user_net(void *arg)
{
	bool resolv = *(bool *)arg;

	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return 10;
	close(fd);
	if (socket(AF_UNIX, SOCK_STREAM, 0) >= 0 || errno != EAFNOSUPPORT)
		return 11;
	if (try_open_host_file(NULL))
		return 12;
	/* As slirp reads it for the DNS it forwards: stat, fopen, fgets. */
	if (resolv) {
		struct stat st;
		char line[256];
		FILE *f;

		if (stat("/etc/resolv.conf", &st) < 0 || !(f = fopen("/etc/resolv.conf", "r")))
			return 13;
		while (fgets(line, sizeof(line), f))
			;
		fclose(f);
		return 0;
	}
	return open("/etc/resolv.conf", O_RDONLY | O_CLOEXEC) < 0 ? 0 : 14;
}

static int try_netlink_socket(void *arg)
{
	return socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, 0) >= 0 ? 1 : 2;
}

/* ---- in a child of their own ---- */

struct pid1_arg {
	const char *spec;
	pid_t parent;
};

/* PID 1 of a new PID namespace, sandboxed, makes a forbidden call. */
static int pid1_child(void *opaque)
{
	struct pid1_arg *a = opaque;
	pid_t pid;
	int status;

	if (unshare(CLONE_NEWPID) < 0 && unshare(CLONE_NEWUSER | CLONE_NEWPID) < 0)
		return 77; /* no PID namespace here */
	pid = fork();
	if (pid == 0)
		_exit(st_run_here(a->spec, ST_FULL, try_kill_parent, &a->parent));
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return 1;
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS ? 0 : 2;
}

static void noop_ready(void *opaque)
{
}

static int wait_reap(struct blk_aio *a, struct blk_aio_req *req)
{
	struct blk_aio_req *got;

	assert_int_equal(blk_aio_queue(a, req), 0);
	blk_aio_submit(a);
	blk_aio_wait(a);
	got = blk_aio_reap(a);
	return got == req ? req->result : -EIO;
}

/*
 * virtio-blk's io_uring, set up before the sandbox and used after it: a
 * write, a flush (the kernel runs it on an io-wq worker thread, which
 * RLIMIT_NPROC must allow), a read back.
 */
static int blk_uring_child(void *opaque)
{
	static char buf[65536], back[65536];
	struct logger log = LOGGER_DEFAULT;
	struct evloop loop;
	struct blk_aio a;
	struct iovec iov = { buf, sizeof(buf) };
	struct blk_aio_req req = { .op = BLK_AIO_WRITE, .iov = &iov, .iovcnt = 1 };
	struct blk_aio_config cfg = { .depth = 8, .mode = BLK_AIO_URING, .loop = &loop,
				      .ready = noop_ready, .log = &log };

	cfg.fd = open(opaque, O_RDWR | O_CLOEXEC);
	if (cfg.fd < 0 || evloop_init(&loop) || blk_aio_init(&a, &cfg))
		return 77; /* no io_uring here */
	if (sandbox_apply(device_kind_find("virtio-blk")->sandbox(NULL), &log, NULL))
		return 93;
	memset(buf, 0x5a, sizeof(buf));
	if (wait_reap(&a, &req))
		return 10;
	req = (struct blk_aio_req){ .op = BLK_AIO_FLUSH };
	if (wait_reap(&a, &req))
		return 11;
	iov = (struct iovec){ back, sizeof(back) };
	req = (struct blk_aio_req){ .op = BLK_AIO_READ, .iov = &iov, .iovcnt = 1 };
	if (wait_reap(&a, &req))
		return 12;
	return memcmp(buf, back, sizeof(buf)) ? 13 : 0;
}

/* ---- the tests ---- */

static void assert_sigsys(int status)
{
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGSYS)
		fail_msg("expected death by SIGSYS, got %s %d",
			 WIFSIGNALED(status) ? "signal" : "exit status",
			 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
}

static void assert_exit0(int status)
{
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("expected exit status 0, got %s %d",
			 WIFSIGNALED(status) ? "signal" : "exit status",
			 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
}

static void check_rules(const char *who, const struct device_sandbox *sb)
{
	char bad[64] = "";

	assert_non_null(sb);
	if (sandbox_check_rules(sb, bad, sizeof(bad)))
		fail_msg("%s: unknown system call %s", who, bad);
}

/* Every kind has a list, and every name in it is a system call here. */
static void test_rules_resolve(void **state)
{
	static const char *const specs[] = { "virtio-rng", "virtio-net,user" };
	static const char *const fixed[] = { "virtio-blk", "virtio-console" };
	struct logger log = LOGGER_DEFAULT;
	struct device dev;

	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		assert_int_equal(device_parse(&dev, specs[i], &log), 0);
		check_rules(specs[i], device_sandbox(&dev));
		device_destroy(&dev);
	}
	/* Their lists do not depend on the config (whose files we lack here). */
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		check_rules(fixed[i], device_kind_find(fixed[i])->sandbox(NULL));
	check_rules("virtio-net,tap", &net_tap_sandbox);
	assert_int_equal(sandbox_check_rules(NULL, (char[8]){ 0 }, 8), 0);
}

/* (a) Isolated only: no host file, no program to exec; sandboxed: killed. */
static void test_empty_root(void **state)
{
	assert_exit0(st_run("virtio-rng", ST_ISOLATE, try_host_paths, NULL));
}

static void test_open_kills(void **state)
{
	assert_sigsys(st_run("virtio-rng", ST_FULL, try_open_host_file, NULL));
}

/* (b) A kind without networking. */
static void test_socket_kills(void **state)
{
	assert_sigsys(st_run("virtio-rng", ST_FULL, try_inet_socket, NULL));
	assert_sigsys(st_run("virtio-console,file=/dev/null", ST_FULL, try_inet_socket, NULL));
}

/* (c) */
static void test_exec_kills(void **state)
{
	assert_sigsys(st_run("virtio-rng", ST_FULL, try_exec, NULL));
}

/* (d) Any call off the list: here kill(2) of another process. */
static void test_forbidden_call_kills(void **state)
{
	pid_t me = getpid();

	assert_sigsys(st_run("virtio-rng", ST_FULL, try_kill_parent, &me));
	assert_sigsys(st_run("virtio-rng", ST_FULL, try_fork, NULL));
}

/* The thread fallback of virtio-blk: threads yes, processes no. */
static void test_blk_threads(void **state)
{
	char spec[128];

	st_blk_spec(spec, sizeof(spec));
	assert_exit0(st_run(spec, ST_FULL, try_thread, NULL));
	assert_sigsys(st_run(spec, ST_FULL, try_fork, NULL));
	assert_sigsys(st_run(spec, ST_FULL, try_inet_socket, NULL));
	st_blk_cleanup(spec);
}

/* The same as PID 1 of its own PID namespace, as a VMM starts it (sandbox_fork). */
static void test_pid1_killed(void **state)
{
	struct pid1_arg a = { "virtio-rng", getpid() };
	int status = st_fork(pid1_child, &a);

	if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
		skip();
	assert_exit0(status);
}

static void test_blk_uring(void **state)
{
	char spec[128], path[128];
	int status;

	st_blk_spec(spec, sizeof(spec));
	snprintf(path, sizeof(path), "%.*s", (int)strcspn(strstr(spec, "file=") + 5, ","),
		 strstr(spec, "file=") + 5);
	status = st_fork(blk_uring_child, path);
	st_blk_cleanup(spec);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
		skip();
	assert_exit0(status);
}

/* virtio-net,user keeps the host's network (slirp), not other sockets. */
static void test_user_net(void **state)
{
	bool resolv = access("/etc/resolv.conf", R_OK) == 0;

	assert_exit0(st_run("virtio-net,user", ST_FULL, try_user_net, &resolv));
	assert_sigsys(st_run("virtio-net,user", ST_FULL, try_netlink_socket, NULL));
	assert_sigsys(st_run("virtio-net,user", ST_FULL, try_exec, NULL));
}

/* /proc/PID/status of a sandboxed child, and the namespaces it got. */
static void test_status(void **state)
{
	struct st_child c;
	char status[4096];

	st_start(&c, "virtio-rng", ST_FULL);
	st_read_proc(c.pid, "status", status, sizeof(status));
	st_assert_field(status, "Seccomp:", "2");
	st_assert_field(status, "NoNewPrivs:", "1");
	st_assert_field(status, "CapEff:", "0000000000000000");
	st_assert_field(status, "CapPrm:", "0000000000000000");
	if (c.applied & SANDBOX_CAPS)
		st_assert_field(status, "CapBnd:", "0000000000000000");
	st_read_proc(c.pid, "limits", status, sizeof(status));
	st_assert_limit(status, "Max open files", 64);
	st_assert_limit(status, "Max core file size", 0);
	st_assert_ns(c.pid, "user", c.applied & SANDBOX_USERNS);
	st_assert_ns(c.pid, "mnt", c.applied & SANDBOX_MOUNTNS);
	st_assert_ns(c.pid, "net", c.applied & SANDBOX_NETNS);
	st_assert_ns(c.pid, "ipc", c.applied & SANDBOX_IPCNS);
	assert_true(c.applied & SANDBOX_SECCOMP);
	assert_exit0(st_stop(&c));
}

/*
 * The real thing: `splitvm remote` (SPLITVM) started the way a VMM should
 * (sandbox_fork(): PID 1 of a new PID namespace where the kernel allows),
 * serving virtio-rng over a socketpair, with guest RAM in a memfd.
 */
static void test_splitvm_remote(void **state)
{
	struct st_remote rp;
	char status[4096];

	if (!getenv("SPLITVM"))
		skip();
	st_remote_start(&rp, getenv("SPLITVM"), "virtio-rng", true);
	st_read_proc(rp.pid, "status", status, sizeof(status));
	st_assert_field(status, "Seccomp:", "2");
	st_assert_field(status, "NoNewPrivs:", "1");
	st_assert_field(status, "CapEff:", "0000000000000000");
	st_assert_pid1(status, rp.pid, rp.pidns);
	st_print_rss(rp.pid, "virtio-rng, sandboxed");
	assert_exit0(st_remote_stop(&rp));
}

/* SIGTERM from the VMM reaches PID 1 of its namespace: the device is destroyed, status 0. */
static void test_splitvm_remote_sigterm(void **state)
{
	struct st_remote rp;

	if (!getenv("SPLITVM"))
		skip();
	st_remote_start(&rp, getenv("SPLITVM"), "virtio-rng", true);
	assert_int_equal(kill(rp.pid, SIGTERM), 0);
	assert_exit0(st_remote_stop(&rp));
}

/* --sandbox off: for debugging, nothing of it applies. */
static void test_splitvm_remote_off(void **state)
{
	struct st_remote rp;
	char status[4096];

	if (!getenv("SPLITVM"))
		skip();
	st_remote_start(&rp, getenv("SPLITVM"), "virtio-rng", false);
	st_read_proc(rp.pid, "status", status, sizeof(status));
	st_assert_field(status, "Seccomp:", "0");
	st_assert_ns(rp.pid, "mnt", false);
	assert_exit0(st_remote_stop(&rp));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rules_resolve),
		cmocka_unit_test(test_empty_root),
		cmocka_unit_test(test_open_kills),
		cmocka_unit_test(test_socket_kills),
		cmocka_unit_test(test_exec_kills),
		cmocka_unit_test(test_forbidden_call_kills),
		cmocka_unit_test(test_pid1_killed),
		cmocka_unit_test(test_blk_threads),
		cmocka_unit_test(test_blk_uring),
		cmocka_unit_test(test_user_net),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_splitvm_remote),
		cmocka_unit_test(test_splitvm_remote_sigterm),
		cmocka_unit_test(test_splitvm_remote_off),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
