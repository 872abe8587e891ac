/*
 * How a proxy gets its device process: `remote,fd=N` and `remote,socket=PATH`
 * (and their refusals), and isolated=on, which starts this very binary as
 * `... remote --link fd=3 --device SPEC`: main() then  plays the device
 * process and reports, through its config space, what it was given.
 */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "proxy_env.h"
#include "remote/sandbox.h"

/* Where the child reports (config space of the fake device). */
#define REP_NFDS 0x60
#define REP_ARGV 0x61
#define REP_STDIN 0x62
#define REP_SPEC 0x80

static int64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the child: a device process ------------------------------------------ */

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n - 1;
}

static int child_main(int argc, char **argv)
{
	static struct fake_dev f;
	const char *spec = argc == 8 ? argv[5] : "";
	char in[64] = "";
	bool linger = strstr(spec, "console") != NULL;

	fake_init(&f);
	f.cfg[REP_NFDS] = (uint8_t)open_fds();
	f.cfg[REP_ARGV] = argc == 8 && !strcmp(argv[2], "--link") && !strcmp(argv[3], "fd=3") &&
			  !strcmp(argv[4], "--device") && !strcmp(argv[6], "--log-level") &&
			  !strcmp(argv[7], "warn");
	if (readlink("/proc/self/fd/0", in, sizeof(in) - 1) > 0)
		f.cfg[REP_STDIN] = !strcmp(in, "/dev/null");
	snprintf((char *)f.cfg + REP_SPEC, sizeof(f.cfg) - REP_SPEC - 4, "%s", spec);
	if (link_init(&f.link, 3, LINK_ROLE_REMOTE, &f.log, "child") < 0)
		return 1;
	fake_serve(&f);
	link_destroy(&f.link);
	if (linger)
		sleep(30); /* ignores its closed link: the VMM must kill it */
	if (strstr(spec, "virtio-net")) {
		/* The machine's filter alone, then a call it does not allow. */
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || sandbox_load_filter(NULL, &f.log))
			return 1;
		syscall(SYS_getppid);
	}
	return 0;
}

/* ---- the tests -------------------------------------------------------------- */

static void test_isolated(void **state)
{
	struct px_env *e = px_env_new(1);
	struct device dev;
	struct pci_device *pdev;
	char spec[64];
	int stray = dup(STDOUT_FILENO); /* not close-on-exec: must not reach the child */
	int status;

	assert_int_equal(device_parse(&dev, "virtio-rng,isolated=on", &e->log), 0);
	assert_true(dev.isolated);
	assert_null(dev.config);
	assert_string_equal(dev.remote_spec, "virtio-rng");
	assert_int_equal(device_create(&dev, &e->host), 0);
	pdev = proxy_pci(dev.state);
	assert_int_equal(pci_config_read(pdev, 0, 4), 0x56781234);
	assert_int_equal(pci_config_read(pdev, REP_NFDS, 1), 4); /* 0, 1, 2 and the link */
	assert_int_equal(pci_config_read(pdev, REP_ARGV, 1), 1);
	assert_int_equal(pci_config_read(pdev, REP_STDIN, 1), 1);
	for (unsigned i = 0; i < sizeof(spec); i++)
		spec[i] = (char)pci_config_read(pdev, REP_SPEC + i, 1);
	spec[sizeof(spec) - 1] = 0;
	assert_string_equal(spec, "virtio-rng");
	assert_int_equal(e->nadd, 1);
	device_destroy(&dev);
	assert_int_equal(e->ndel, 1);
	/* Reaped: no child left. */
	assert_int_equal(waitpid(-1, &status, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
	assert_int_equal(px_env_log_lines(e), 0);
	close(stray);
	px_env_free(e);
	(void)state;
}

static void test_isolated_specs(void **state)
{
	struct px_env *e = px_env_new(1);
	struct device dev;

	assert_int_equal(device_parse(&dev, "virtio-console,file=/dev/null,isolated=on", &e->log),
			 0);
	assert_string_equal(dev.remote_spec, "virtio-console,file=/dev/null");
	device_destroy(&dev);
	assert_int_equal(device_parse(&dev, "virtio-rng,isolated", &e->log), 0);
	assert_true(dev.isolated);
	assert_string_equal(dev.remote_spec, "virtio-rng");
	device_destroy(&dev);
	assert_int_equal(device_parse(&dev, "virtio-rng,isolated=off", &e->log), 0);
	assert_false(dev.isolated);
	assert_null(dev.remote_spec);
	assert_non_null(dev.config);
	device_destroy(&dev);
	assert_int_equal(px_env_log_lines(e), 0);
	px_env_free(e);
	(void)state;
}

/* One bad spec: -EINVAL and one log line naming `mention`. */
static void refuse(struct px_env *e, const char *spec, const char *mention)
{
	struct device dev;
	size_t before = strlen(px_env_log(e));
	const char *line;

	assert_int_equal(device_parse(&dev, spec, &e->log), -EINVAL);
	line = px_env_log(e) + before;
	print_message("  %s", line);
	assert_non_null(strstr(line, mention));
	assert_non_null(strchr(line, '\n'));
	assert_null(strchr(strchr(line, '\n') + 1, '\n'));
}

static void test_refusals(void **state)
{
	struct px_env *e = px_env_new(1);
	char spec[128];
	int sv[2], p[2], lone;

	refuse(e, "virtio-rng,isolated=maybe", "isolated=maybe");
	refuse(e, "virtio-rng,isolated=on,colour=blue", "colour");
	refuse(e, "remote", "fd=N or socket=PATH");
	refuse(e, "remote,fd=999", "not an open file descriptor");
	refuse(e, "remote,fd=three", "fd=three");
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	snprintf(spec, sizeof(spec), "remote,fd=%d", p[0]);
	refuse(e, spec, "not a UNIX stream socket");
	lone = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(spec, sizeof(spec), "remote,fd=%d", lone);
	refuse(e, spec, "not connected");
	refuse(e, "remote,socket=/nonexistent/dev.sock", "/nonexistent/dev.sock");
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	snprintf(spec, sizeof(spec), "remote,fd=%d,socket=/tmp/x", sv[0]);
	refuse(e, spec, "one of");
	snprintf(spec, sizeof(spec), "remote,fd=%d,timeout=1", sv[0]);
	refuse(e, spec, "timeout=1");
	/* The fd was taken, then given back (closed) with the refused device. */
	snprintf(spec, sizeof(spec), "remote,fd=%d,isolated=on", sv[0]);
	refuse(e, spec, "isolated already");
	assert_int_equal(fcntl(sv[0], F_GETFD), -1);
	close(sv[1]);
	close(p[0]);
	close(p[1]);
	close(lone);
	/* One link, two devices: the second finds the fd gone. */
	{
		struct device first;

		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
		snprintf(spec, sizeof(spec), "remote,fd=%d", sv[0]);
		assert_int_equal(device_parse(&first, spec, &e->log), 0);
		refuse(e, spec, "not an open file descriptor");
		device_destroy(&first);
		close(sv[1]);
	}
	/* A device process (no irqfds to give) cannot start another one. */
	{
		struct device dev;
		struct dev_host host = e->host;

		host.add_irqfd = NULL;
		assert_int_equal(device_parse(&dev, "virtio-rng,isolated=on", &e->log), 0);
		assert_int_equal(device_create(&dev, &host), -EINVAL);
		assert_non_null(strstr(px_env_log(e), "no other device process"));
		device_destroy(&dev);
	}
	px_env_free(e);
	(void)state;
}

/* remote,socket=PATH: the device process listens, the VMM connects. */
static void test_socket_path(void **state)
{
	struct px_env *e = px_env_new(1);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[] = "/tmp/px-sock-XXXXXX", spec[160];
	struct device dev;
	int lfd, cfd;

	assert_non_null(mkdtemp(dir));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/dev.sock", dir);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	snprintf(spec, sizeof(spec), "remote,socket=%s,timeout=2000", sa.sun_path);
	assert_int_equal(device_parse(&dev, spec, &e->log), 0);
	cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(cfd >= 0);
	fake_start(&e->fake, cfd);
	e->fake_running = true;
	assert_int_equal(device_create(&dev, &e->host), 0);
	assert_int_equal(pci_config_read(proxy_pci(dev.state), 2, 2), 0x5678);
	device_destroy(&dev);
	close(lfd);
	unlink(sa.sun_path);
	rmdir(dir);
	px_env_free(e);
	(void)state;
}

/* A device process that outlives its link is killed after PROXY_REAP_MS. */
static void test_linger(void **state)
{
	struct px_env *e = px_env_new(1);
	struct device dev;
	int64_t t0;

	assert_int_equal(device_parse(&dev, "virtio-console,file=/dev/null,isolated=on", &e->log),
			 0);
	assert_int_equal(device_create(&dev, &e->host), 0);
	t0 = ms_now();
	device_destroy(&dev);
	print_message("  reaped after %lld ms: %s", (long long)(ms_now() - t0), px_env_log(e));
	assert_true(ms_now() - t0 >= PROXY_REAP_MS);
	assert_non_null(strstr(px_env_log(e), "killed"));
	px_env_free(e);
	(void)state;
}

/* One killed by its sandbox: the VMM's log says so. */
static void test_sigsys(void **state)
{
	struct px_env *e = px_env_new(1);
	struct device dev;

	assert_int_equal(device_parse(&dev, "virtio-net,user,isolated=on", &e->log), 0);
	assert_int_equal(device_create(&dev, &e->host), 0);
	device_destroy(&dev);
	print_message("  %s", px_env_log(e));
	assert_non_null(strstr(px_env_log(e), "(SIGSYS): a system call its sandbox does not allow"));
	px_env_free(e);
	(void)state;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_isolated),
		cmocka_unit_test(test_isolated_specs),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_socket_path),
		cmocka_unit_test(test_linger),
		cmocka_unit_test(test_sigsys),
	};

	if (argc > 1 && !strcmp(argv[1], "remote"))
		return child_main(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
