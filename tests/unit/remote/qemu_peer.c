#include "qemu_peer.h"

#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

static char qemu_bin[4096];

bool qemu_find(void)
{
	const char *env = getenv("QEMU"), *path = getenv("PATH");

	if (env) {
		snprintf(qemu_bin, sizeof(qemu_bin), "%s", env);
		return access(qemu_bin, X_OK) == 0;
	}
	for (const char *p = path ? path : "/usr/bin"; *p;) {
		size_t n = strcspn(p, ":");

		snprintf(qemu_bin, sizeof(qemu_bin), "%.*s/qemu-system-x86_64", (int)n, p);
		if (access(qemu_bin, X_OK) == 0)
			return true;
		p += n + (p[n] == ':');
	}
	return false;
}

const char *qemu_path(void)
{
	return qemu_bin;
}

pid_t qemu_spawn(const char *const argv[], int keep_fd, int stderr_fd)
{
	char *args[32];
	size_t n = 0;
	pid_t pid;

	args[n++] = qemu_bin;
	for (size_t i = 1; argv[i] && n < sizeof(args) / sizeof(args[0]) - 1; i++)
		args[n++] = (char *)argv[i];
	args[n] = NULL;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		fcntl(keep_fd, F_SETFD, 0); /* only the link and stderr go to QEMU */
		if (stderr_fd >= 0)
			dup2(stderr_fd, 2);
		execv(qemu_bin, args);
		_exit(127);
	}
	return pid;
}

pid_t qemu_spawn_lsi_remote(int link_fd, int stderr_fd)
{
	char objarg[128];
	const char *argv[] = { "qemu", "-machine", "x-remote", "-nodefaults", "-display", "none",
			       "-device", "lsi53c895a,id=lsi0", "-object", objarg, NULL };

	snprintf(objarg, sizeof(objarg), "x-remote-object,id=robj0,devid=lsi0,fd=%d", link_fd);
	return qemu_spawn(argv, link_fd, stderr_fd);
}

int qemu_reap(pid_t pid)
{
	int status = -1;

	for (int i = 0; i < 500; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return status;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return status;
}
