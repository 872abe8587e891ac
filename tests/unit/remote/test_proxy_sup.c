/*
 * Supervision of device processes (docs/proxy.md): a device process of
 * ours that is killed, exits, hangs, closes its link or stops answering
 * its heartbeat puts the proxy in its failed state (all ones, one log line
 * naming the device and the cause, INTx unwired, the process reaped);
 * requests in flight end at once; restart=on brings a new process to
 * where the guest left the device, a limited number of times; a VMM killed
 * with SIGKILL leaves no device process behind.
 *
 * The device processes are this binary started as `... remote --link fd=3
 * --device SPEC`: main() then serves a fake device (fake_dev.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "proxy_env.h"
#include "remote/proxy_int.h"

#define BAR_REG(i) (PCI_BASE_ADDRESS_0 + 4 * (i))
#define DIE_IF "die-if="

static int64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the child: a device process ------------------------------------------ */

static int child_main(int argc, char **argv)
{
	static struct fake_dev f;
	const char *spec = argc >= 6 ? argv[5] : "", *die = strstr(spec, DIE_IF);

	/* A restart that fails: the process leaves as soon as it starts. */
	if (die && access(die + strlen(DIE_IF), F_OK) == 0)
		return 4;
	fake_init(&f);
	/* ",fastchan": splitvm's device process as far as the fast channel goes. */
	f.splitvm = strstr(spec, "fastchan") != NULL;
	f.take = f.splitvm ? LINK_F_FASTCHAN : 0;
	if (link_init(&f.link, 3, LINK_ROLE_REMOTE, &f.log, "child") < 0)
		return 1;
	fake_serve(&f);
	link_destroy(&f.link);
	if (f.mode == FAKE_HANG_BAR || strstr(spec, "linger"))
		sleep(30); /* closed its link but stays: the VMM must kill it */
	return 0;
}

/* ---- helpers ------------------------------------------------------------------ */

/* An isolated device of ours, supervised, with this binary as its process. */
static struct proxy *spawn(struct px_env *e, const char *spec, int timeout_ms, bool restart)
{
	struct proxy_config cfg;
	struct proxy *p;

	assert_int_equal(proxy_spawn(spec, spec, &cfg, &e->log), 0);
	cfg.timeout_ms = timeout_ms;
	cfg.restart = restart;
	assert_int_equal(proxy_create(&e->host, &cfg, &p), 0);
	proxy_config_clear(&cfg);
	e->px = p;
	return p;
}

static struct px_env *env(void)
{
	struct px_env *e = px_env_new(1);

	px_env_supervise(e);
	return e;
}

/* Its pid here (the sandbox may give it a PID namespace of its own, where it is 1). */
static pid_t child_pid(struct proxy *p)
{
	return proxy_child(p);
}

static uint64_t bar1_read(struct px_env *e)
{
	uint64_t v = 0;

	iobus_access(&e->mmio, pci_bar_base(proxy_pci(e->px), 1), &v, 4, false);
	return v;
}

static bool gone(pid_t pid)
{
	return kill(pid, 0) < 0 && errno == ESRCH;
}

static bool reaped(struct px_env *e, const void *arg)
{
	(void)e;
	return gone(*(const pid_t *)arg);
}

static bool logged(struct px_env *e, const void *arg)
{
	return strstr(px_env_log(e), arg) != NULL;
}

static bool live_again(struct px_env *e, const void *arg)
{
	return proxy_generation(e->px) >= *(const unsigned *)arg && !proxy_failed(e->px);
}

static bool never(struct px_env *e, const void *arg)
{
	(void)e;
	(void)arg;
	return false;
}

/* The failed state as the guest sees it, and the log: exactly `lines` lines. */
static void check_failed_as(struct px_env *e, const char *name, const char *cause,
			    unsigned lines)
{
	struct pci_device *pdev = proxy_pci(e->px);
	uint64_t b1, zero = 0, v = 0xff;

	px_env_run(e, 100, never, NULL); /* whatever the loop still has to do */
	print_message("  %s", px_env_log(e));
	assert_true(proxy_failed(e->px));
	assert_int_equal(pci_config_read(pdev, PCI_VENDOR_ID, 4), 0xffffffff);
	assert_int_equal(pci_config_read(pdev, PCI_COMMAND, 2), 0xffff);
	assert_int_equal(bar1_read(e), 0xffffffff);
	assert_non_null(strstr(px_env_log(e), name));
	assert_non_null(strstr(px_env_log(e), ": device failed: "));
	assert_non_null(strstr(px_env_log(e), cause));
	assert_int_equal(px_env_log_lines(e), lines);
	assert_int_equal(e->ndel, e->nadd); /* INTx unwired */
	/* What the guest writes now reads back (a reset handshake ends), nothing else. */
	b1 = pci_bar_base(pdev, 1);
	iobus_access(&e->mmio, b1 + 0x14, &zero, 1, true);
	iobus_access(&e->mmio, b1 + 0x14, &v, 1, false);
	assert_int_equal(v, 0);
	v = 0;
	iobus_access(&e->mmio, b1 + 0x14, &v, 4, false);
	assert_int_equal(v, 0xffffffff);
	assert_int_equal(px_env_log_lines(e), lines);
}

static void check_failed(struct px_env *e, const char *cause, unsigned lines)
{
	check_failed_as(e, "virtio-rng", cause, lines);
}

/* ---- the tests -------------------------------------------------------------- */

/* Killed while idle: the pidfd (and the hang-up) tell, not a request. */
static void test_killed_idle(void **state)
{
	struct px_env *e = env();
	struct proxy *p = spawn(e, "virtio-rng", 2000, false);
	pid_t pid = child_pid(p);
	char cause[80];

	assert_true(pid > 0);
	assert_int_equal(pci_config_read(proxy_pci(p), PCI_VENDOR_ID, 4), 0x56781234);
	assert_int_equal(kill(pid, SIGKILL), 0);
	snprintf(cause, sizeof(cause), "device process %d killed by signal 9 (SIGKILL)", (int)pid);
	assert_true(px_env_run(e, 3000, logged, cause));
	assert_true(px_env_run(e, 3000, reaped, &pid));
	check_failed(e, cause, 1);
	px_env_free(e);
	(void)state;
}

/* Exits while the guest waits for it: the access fails at once, the status says why. */
static void test_exit_status(void **state)
{
	struct px_env *e = env();
	struct proxy *p = spawn(e, "virtio-rng", 10000, false);
	pid_t pid = child_pid(p);
	int64_t t0 = ms_now();

	pci_config_write(proxy_pci(p), FAKE_CTL, 4, FAKE_CTL_EXIT);
	assert_true(ms_now() - t0 < 2000);
	assert_true(proxy_failed(p));
	assert_true(px_env_run(e, 3000, logged, "exited with status 3"));
	assert_true(px_env_run(e, 3000, reaped, &pid));
	check_failed(e, "exited with status 3", 1);
	px_env_free(e);
	(void)state;
}

struct reader {
	struct px_env *e;
	uint64_t value;
	int64_t ms;
	atomic_bool done;
};

static void *read_bar(void *arg)
{
	struct reader *r = arg;
	int64_t t0 = ms_now();

	r->value = bar1_read(r->e);
	r->ms = ms_now() - t0;
	atomic_store(&r->done, true);
	return NULL;
}

static bool read_done(struct px_env *e, const void *arg)
{
	(void)e;
	return atomic_load(&((const struct reader *)arg)->done);
}

/* SIGSTOP is asynchronous: a device spinning on another CPU may still answer. */
static void wait_stopped(pid_t pid)
{
	char path[64], buf[256] = "";
	int64_t t0 = ms_now();

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	while (ms_now() - t0 < 2000) {
		FILE *f = fopen(path, "r");
		char *p;

		if (f && fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')) && p[2] == 'T') {
			fclose(f);
			return;
		}
		if (f)
			fclose(f);
		usleep(1000);
	}
	fail_msg("process %d did not stop", (int)pid);
}

/* A request in flight when the process dies ends then, not at its 10 s timeout. */
static void in_flight(const char *spec)
{
	struct px_env *e = env();
	struct proxy *p = spawn(e, spec, 10000, false);
	pid_t pid = child_pid(p);
	struct reader r = { .e = e };
	pthread_t t;

	pci_config_write(proxy_pci(p), FAKE_CTL, 4, FAKE_CTL_HANG);
	assert_int_equal(pthread_create(&t, NULL, read_bar, &r), 0);
	usleep(200 * 1000);
	assert_int_equal(kill(pid, SIGKILL), 0);
	/* The VMM's event loop runs meanwhile: its pidfd and the hang-up tell. */
	assert_true(px_env_run(e, 10000, read_done, &r));
	pthread_join(t, NULL);
	print_message("  the read ended after %lld ms\n", (long long)r.ms);
	assert_int_equal(r.value, 0xffffffff);
	assert_true(r.ms < 2000);
	assert_true(px_env_run(e, 3000, logged, "killed by signal 9 (SIGKILL)"));
	assert_true(px_env_run(e, 3000, reaped, &pid));
	check_failed_as(e, spec, "killed by signal 9", 1);
	px_env_free(e);
}

static void test_in_flight(void **state)
{
	in_flight("virtio-rng");
	(void)state;
}

/* The same with the vCPU waiting on the fast channel: the pidfd wakes it. */
static void test_in_flight_fastchan(void **state)
{
	in_flight("virtio-rng,fastchan");
	(void)state;
}

/* Stopped (SIGSTOP): the per-request timeout finds it; it is killed and reaped. */
static void hung(const char *spec)
{
	struct px_env *e = env();
	struct proxy *p = spawn(e, spec, 300, false);
	pid_t pid = child_pid(p);
	int64_t t0;

	assert_int_equal(kill(pid, SIGSTOP), 0);
	wait_stopped(pid);
	t0 = ms_now();
	assert_int_equal(bar1_read(e), 0xffffffff);
	assert_true(ms_now() - t0 < 2000);
	assert_true(px_env_run(e, 3000, reaped, &pid));
	check_failed_as(e, spec, "no reply to BAR_READ within 300 ms", 1);
	px_env_free(e);
}

static void test_hung(void **state)
{
	hung("virtio-rng");
	(void)state;
}

static void test_hung_fastchan(void **state)
{
	hung("virtio-rng,fastchan");
	(void)state;
}

static void *heartbeat_lost(void *arg)
{
	usleep(200 * 1000);
	proxy_fail(arg, PROXY_FAIL_UNRESPONSIVE, "no heartbeat for 150 ms");
	return NULL;
}

/* The heartbeat's entry: from another thread, while a request waits. */
static void test_unresponsive(void **state)
{
	struct px_env *e = env();
	struct proxy *p = spawn(e, "virtio-rng", 10000, false);
	pid_t pid = child_pid(p);
	pthread_t t;
	int64_t t0;

	assert_int_equal(kill(pid, SIGSTOP), 0);
	assert_int_equal(pthread_create(&t, NULL, heartbeat_lost, p), 0);
	t0 = ms_now();
	assert_int_equal(bar1_read(e), 0xffffffff);
	assert_true(ms_now() - t0 < 2000);
	pthread_join(t, NULL);
	assert_true(px_env_run(e, 3000, reaped, &pid));
	check_failed(e, "no heartbeat for 150 ms", 1);
	px_env_free(e);
	(void)state;
}

/* It closed its link but stays: reported and killed after the grace. */
static void test_closed_lingers(void **state)
{
	struct px_env *e = env();
	struct proxy *p = spawn(e, "virtio-rng,linger", 2000, false);
	pid_t pid = child_pid(p);
	int64_t t0 = ms_now();

	pci_config_write(proxy_pci(p), FAKE_CTL, 4, FAKE_CTL_CLOSE);
	assert_true(px_env_run(e, 3000, reaped, &pid));
	print_message("  reaped after %lld ms\n", (long long)(ms_now() - t0));
	assert_true(ms_now() - t0 >= PROXY_EXIT_GRACE_MS);
	check_failed(e, "closed its link and did not exit: killed", 1);
	px_env_free(e);
	(void)state;
}

/* A peer not of ours (remote,fd=N) that hangs up while idle. */
static void test_peer_hangs_up(void **state)
{
	struct px_env *e = env();

	assert_int_equal(px_env_create(e, 2000), 0);
	shutdown(e->fake.link.fd, SHUT_RDWR);
	assert_true(px_env_run(e, 3000, logged, "closed its link"));
	check_failed_as(e, "test-proxy", "test-proxy: device failed: the device process closed its "
			"link", 1);
	px_env_free(e);
	(void)state;
}

/* restart=on: a new process, wired and programmed as the guest left the old one. */
static void restart(const char *spec)
{
	struct px_env *e = env();
	struct proxy *p = spawn(e, spec, 2000, true);
	struct pci_device *pdev = proxy_pci(p);
	pid_t pid = child_pid(p), pid2;
	unsigned two = 2;
	uint32_t bar1;

	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_true(px_env_run(e, 3000, logged, "restarted"));
	assert_true(px_env_run(e, 3000, live_again, &two));
	print_message("  %s", px_env_log(e));
	assert_int_equal(px_env_log_lines(e), 2);
	assert_non_null(strstr(px_env_log(e), "killed by signal 9 (SIGKILL)"));
	assert_non_null(strstr(px_env_log(e), "the guest must reset the device"));
	assert_true(gone(pid));
	pid2 = child_pid(p);
	assert_true(pid2 > 0 && pid2 != pid);
	/* Wired again: INTx, and the BARs, line and COMMAND of the local copy. */
	assert_int_equal(e->nadd, 2);
	assert_int_equal(e->ndel, 1);
	assert_int_equal(pci_config_read(pdev, PCI_VENDOR_ID, 4), 0x56781234);
	bar1 = pci_cfg_get(pdev, BAR_REG(1), 4);
	assert_int_equal(pci_config_read(pdev, BAR_REG(1), 4), bar1);
	assert_int_equal(pci_config_read(pdev, PCI_COMMAND, 2), pci_cfg_get(pdev, PCI_COMMAND, 2));
	assert_int_equal(pci_config_read(pdev, PCI_INTERRUPT_LINE, 1),
			 pdev->cfg[PCI_INTERRUPT_LINE]);
	assert_int_equal(bar1_read(e), (FAKE_MAGIC | (bar1 & ~0xfu)) & 0xffffffff);
	/* A new channel for the new process (the old page died with the old link). */
	assert_int_equal(p->chan_on, strstr(spec, "fastchan") != NULL);
	px_env_free(e);
}

static void test_restart(void **state)
{
	restart("virtio-rng");
	(void)state;
}

static void test_restart_fastchan(void **state)
{
	restart("virtio-rng,fastchan");
	(void)state;
}

/* The guest moves a BAR while the device is down: the new process gets the new address. */
static void test_restart_moved(void **state)
{
	struct px_env *e = env();
	struct proxy *p = spawn(e, "virtio-rng", 2000, true);
	struct pci_device *pdev = proxy_pci(p);
	uint32_t moved = 0xd0000000; /* free in px_env's 32-bit window */
	unsigned two = 2;

	/* Failed, not yet restarted: the loop has not run. */
	proxy_fail(p, PROXY_FAIL_UNRESPONSIVE, "test");
	assert_int_equal(bar1_read(e), 0xffffffff);
	pci_config_write(pdev, BAR_REG(1), 4, moved);
	assert_int_equal(pci_bar_base(pdev, 1), moved);
	assert_true(px_env_run(e, 3000, live_again, &two));
	assert_int_equal(pci_config_read(pdev, BAR_REG(1), 4), moved);
	assert_int_equal(bar1_read(e), (FAKE_MAGIC | moved) & 0xffffffff);
	px_env_free(e);
	(void)state;
}

/* At most PROXY_RESTART_MAX restarts a minute; then the device stays failed. */
static void test_restart_limit(void **state)
{
	struct px_env *e = env();
	struct proxy *p = spawn(e, "virtio-rng", 2000, true);

	for (unsigned gen = 2; gen <= PROXY_RESTART_MAX + 1; gen++) {
		pid_t pid = child_pid(p);

		assert_int_equal(kill(pid, SIGKILL), 0);
		assert_true(px_env_run(e, 3000, live_again, &gen));
	}
	assert_int_equal(kill(child_pid(p), SIGKILL), 0);
	assert_true(px_env_run(e, 3000, logged, "not restarted"));
	px_env_run(e, 200, never, NULL);
	print_message("  %s", px_env_log(e));
	assert_true(proxy_failed(p));
	assert_int_equal(proxy_generation(p), PROXY_RESTART_MAX + 1);
	/* Per failure a line, per restart a line, and the refusal. */
	assert_int_equal(px_env_log_lines(e), 2 * PROXY_RESTART_MAX + 2);
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	px_env_free(e);
	(void)state;
}

/* Restarted processes that die at once use up the restarts, quickly, then stop. */
static void test_restart_fails(void **state)
{
	char dir[] = "/tmp/px-sup-XXXXXX", spec[96], flag[64];
	struct px_env *e = env();
	struct proxy *p;
	int64_t t0;
	int fd;

	assert_non_null(mkdtemp(dir));
	snprintf(flag, sizeof(flag), "%s/die", dir);
	snprintf(spec, sizeof(spec), "virtio-rng,%s%s", DIE_IF, flag);
	p = spawn(e, spec, 2000, true);
	fd = open(flag, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	t0 = ms_now();
	assert_int_equal(kill(child_pid(p), SIGKILL), 0);
	assert_true(px_env_run(e, 10000, logged, "not restarted"));
	print_message("  gave up after %lld ms: %s", (long long)(ms_now() - t0), px_env_log(e));
	assert_true(proxy_failed(p));
	assert_int_equal(proxy_generation(p), PROXY_RESTART_MAX + 1);
	assert_int_equal(pci_config_read(proxy_pci(p), PCI_VENDOR_ID, 4), 0xffffffff);
	px_env_run(e, 200, never, NULL);
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(e->nadd, e->ndel);
	px_env_free(e);
	unlink(flag);
	rmdir(dir);
	(void)state;
}

/* Shutdown with a failed device: no wait for the grace, nothing left. */
static void test_destroy_failed(void **state)
{
	struct px_env *e = env();
	struct proxy *p = spawn(e, "virtio-rng,linger", 2000, false);
	pid_t pid = child_pid(p);
	int64_t t0;

	pci_config_write(proxy_pci(p), FAKE_CTL, 4, FAKE_CTL_HANG);
	assert_int_equal(kill(pid, SIGSTOP), 0);
	proxy_fail(p, PROXY_FAIL_UNRESPONSIVE, "test");
	t0 = ms_now();
	proxy_destroy(p);
	e->px = NULL;
	assert_true(ms_now() - t0 < 1000);
	assert_true(gone(pid));
	px_env_free(e);
	(void)state;
}

/* A VMM killed with SIGKILL takes its device processes with it (PR_SET_PDEATHSIG). */
static void test_vmm_killed(void **state)
{
	int pfd[2], status = 0;
	pid_t vmm, dev = 0, r = 0;
	int64_t t0;

	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
	vmm = fork();
	assert_true(vmm >= 0);
	if (vmm == 0) {
		struct px_env *e;

		/* Bounded even if the test fails before it kills us. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		alarm(30);
		e = env();

		/* It stays after its link closed: only the death signal ends it. */
		dev = child_pid(spawn(e, "virtio-rng,linger", 2000, true));
		if (write(pfd[1], &dev, sizeof(dev)) != sizeof(dev))
			_exit(1);
		for (;;)
			px_env_run(e, 1000, never, NULL);
	}
	close(pfd[1]);
	assert_int_equal(read(pfd[0], &dev, sizeof(dev)), sizeof(dev));
	close(pfd[0]);
	assert_int_equal(kill(vmm, SIGKILL), 0);
	assert_int_equal(waitpid(vmm, NULL, 0), vmm);
	/* Orphaned, it comes to us, the subreaper: it must already be dying. */
	t0 = ms_now();
	while (ms_now() - t0 < 5000 && (r = waitpid(dev, &status, WNOHANG)) == 0)
		usleep(10 * 1000);
	prctl(PR_SET_CHILD_SUBREAPER, 0);
	assert_int_equal(r, dev);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	(void)state;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_killed_idle),
		cmocka_unit_test(test_exit_status),
		cmocka_unit_test(test_in_flight),
		cmocka_unit_test(test_in_flight_fastchan),
		cmocka_unit_test(test_hung),
		cmocka_unit_test(test_hung_fastchan),
		cmocka_unit_test(test_unresponsive),
		cmocka_unit_test(test_closed_lingers),
		cmocka_unit_test(test_peer_hangs_up),
		cmocka_unit_test(test_restart),
		cmocka_unit_test(test_restart_fastchan),
		cmocka_unit_test(test_restart_moved),
		cmocka_unit_test(test_restart_limit),
		cmocka_unit_test(test_restart_fails),
		cmocka_unit_test(test_destroy_failed),
		cmocka_unit_test(test_vmm_killed),
	};

	if (argc > 1 && !strcmp(argv[1], "remote"))
		return child_main(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
