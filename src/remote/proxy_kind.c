/*
 * How a proxy gets its link: `--device remote,fd=N|socket=PATH` (a device
 * process somebody else started) or isolated=on (one we start ourselves),
 * and reaping the processes we started.
 */
#include "remote/proxy.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
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

#include "core/log.h"
#include "hw/device.h"
#include "remote/link.h"
#include "remote/sandbox.h"

/* The child's end of the link, as `--link fd=3` says. */
#define CHILD_LINK_FD 3
/* Parent-side fds are moved at least this high so the child's dup2s cannot clash. */
#define SPAWN_FD_MIN 10

void proxy_config_clear(struct proxy_config *cfg)
{
	if (cfg->fd >= 0)
		close(cfg->fd);
	cfg->fd = -1;
	if (cfg->child > 0)
		proxy_reap(cfg->child, cfg->name ? cfg->name : "device process", PROXY_REAP_MS,
			   cfg->log);
	cfg->child = 0;
	free(cfg->path);
	free(cfg->name);
	free(cfg->spec);
	cfg->path = cfg->name = cfg->spec = NULL;
}

/* ---- --device remote,... ------------------------------------------------------ */

static int check_socket(int fd, const char *what, const char *spec, const struct logger *log)
{
	int type = 0, domain = 0;
	socklen_t len = sizeof(type);
	struct sockaddr_un peer;
	socklen_t plen = sizeof(peer);

	if (fcntl(fd, F_GETFD) < 0) {
		log_error(log, "--device %s: %s is not an open file descriptor", spec, what);
		return -EINVAL;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ||
	    (len = sizeof(domain), getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0) ||
	    type != SOCK_STREAM || domain != AF_UNIX) {
		log_error(log, "--device %s: %s is not a UNIX stream socket", spec, what);
		return -EINVAL;
	}
	if (getpeername(fd, (struct sockaddr *)&peer, &plen) < 0) {
		log_error(log, "--device %s: %s is not connected to a device process", spec, what);
		return -EINVAL;
	}
	return 0;
}

static int take_fd(struct proxy_config *cfg, struct devspec *spec, const struct logger *log)
{
	uint64_t n;
	char what[32];
	int err = devspec_u64(spec, "fd", 0, 0, INT_MAX, &n, log);

	if (err)
		return err;
	snprintf(what, sizeof(what), "fd=%d", (int)n);
	err = check_socket((int)n, what, spec->text, log);
	if (err)
		return err;
	/*
	 * Ours now, under another number: no process we start inherits it, and
	 * a second remote,fd=N finds N closed instead of sharing the link.
	 */
	cfg->fd = fcntl((int)n, F_DUPFD_CLOEXEC, 3);
	if (cfg->fd < 0)
		return -errno;
	close((int)n);
	return 0;
}

static int connect_socket(struct proxy_config *cfg, const char *path, const char *spec,
			  const struct logger *log)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (!*path || strlen(path) >= sizeof(sa.sun_path)) {
		log_error(log, "--device %s: socket path empty or too long", spec);
		return -EINVAL;
	}
	memcpy(sa.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = -errno;

		log_error(log, "--device %s: cannot connect to %s: %s%s", spec, path, strerror(-err),
			  err == -ECONNREFUSED ? " (no device process listens there)" : "");
		close(fd);
		return -EINVAL;
	}
	cfg->fd = fd;
	cfg->path = strdup(path);
	return cfg->path ? 0 : -ENOMEM;
}

static const char *const opt_keys[] = { "timeout", "heartbeat", "ext", "restart", NULL };

bool proxy_opt_key(const char *key)
{
	for (unsigned i = 0; opt_keys[i]; i++)
		if (!strcmp(key, opt_keys[i]))
			return true;
	return false;
}

int proxy_parse_opts(struct devspec *spec, struct proxy_opts *o, const struct logger *log)
{
	uint64_t timeout, heartbeat;
	bool ext, restart;
	int err;

	err = devspec_u64(spec, "timeout", PROXY_TIMEOUT_MS, 10, 3600000, &timeout, log);
	if (!err)
		err = devspec_u64(spec, "heartbeat", 0, 0, LINK_HEARTBEAT_MAX_MS, &heartbeat, log);
	if (!err)
		err = devspec_bool(spec, "ext", true, &ext, log);
	if (!err)
		err = devspec_bool(spec, "restart", false, &restart, log);
	if (err)
		return err;
	if (heartbeat && heartbeat < 10) {
		log_error(log, "--device %s: heartbeat=MS: at least 10 (or 0: none)", spec->text);
		return -EINVAL;
	}
	*o = (struct proxy_opts){ (int)timeout, (unsigned)heartbeat, !ext, restart };
	return 0;
}

void proxy_apply_opts(struct proxy_config *cfg, const struct proxy_opts *o)
{
	cfg->timeout_ms = o->timeout_ms;
	cfg->heartbeat_ms = o->heartbeat_ms;
	cfg->no_ext = o->no_ext;
	cfg->restart = o->restart;
}

static int remote_parse(struct devspec *spec, void *config, const struct logger *log)
{
	struct proxy_config *cfg = config;
	struct proxy_opts opts;
	const char *path;
	bool has_fd;
	int err;

	cfg->fd = -1;
	cfg->log = log;
	cfg->settle_ms = PROXY_SETTLE_MS; /* it may be QEMU's, freshly started */
	cfg->max_regions = LINK_QEMU_MAX_REGIONS;
	err = proxy_parse_opts(spec, &opts, log);
	if (err)
		return err;
	if (opts.restart) {
		log_error(log, "--device %s: restart=on needs isolated=on (a device process "
			  "splitvm started)", spec->text);
		return -EINVAL;
	}
	proxy_apply_opts(cfg, &opts);
	path = devspec_get(spec, "socket");
	has_fd = devspec_get(spec, "fd") != NULL;
	if (has_fd == (path != NULL)) {
		log_error(log, "--device %s: give one of fd=N or socket=PATH", spec->text);
		return -EINVAL;
	}
	err = has_fd ? take_fd(cfg, spec, log) : connect_socket(cfg, path, spec->text, log);
	if (!err) {
		cfg->name = strdup(spec->text);
		err = cfg->name ? 0 : -ENOMEM;
	}
	return err;
}

static void remote_config_free(void *config)
{
	proxy_config_clear(config);
}

static int remote_create(const struct dev_host *host, void *config, void **state)
{
	return proxy_create(host, config, (struct proxy **)state);
}

static void remote_destroy(void *state)
{
	proxy_destroy(state);
}

const struct device_kind remote_kind = {
	.name = "remote",
	.usage = "remote,fd=N | remote,socket=PATH [,timeout=MS][,heartbeat=MS][,ext=off]   "
		 "(a device process: "
		 "splitvm remote or QEMU -machine x-remote)",
	.config_size = sizeof(struct proxy_config),
	.parse = remote_parse,
	.config_free = remote_config_free,
	.create = remote_create,
	.destroy = remote_destroy,
};

/* ---- isolated=on ------------------------------------------------------------ */

/* After fork, before exec: async-signal-safe calls only. */
static void child_exec(int link_fd, int null_fd, pid_t parent, char *const argv[])
{
	sigset_t none;

	/* stdout carries the guest's console: the child's output goes to stderr. */
	if (dup2(null_fd, STDIN_FILENO) < 0 || dup2(STDERR_FILENO, STDOUT_FILENO) < 0 ||
	    dup2(link_fd, CHILD_LINK_FD) < 0)
		_exit(127);
	/* Nothing else of the VMM's: guest RAM, disks, the accelerator stay here. */
	if (syscall(SYS_close_range, CHILD_LINK_FD + 1, ~0u, 0) < 0)
		for (int fd = CHILD_LINK_FD + 1; fd < 4096; fd++)
			close(fd);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* It must not outlive the VMM (in a PID namespace of its own, the VMM is 0). */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent && getppid() != 0)
		_exit(127);
	execv("/proc/self/exe", argv);
	_exit(127);
}

static int high_fd(int fd)
{
	int h = fcntl(fd, F_DUPFD_CLOEXEC, SPAWN_FD_MIN);

	close(fd);
	return h;
}

int proxy_spawn(const char *spec, const char *name, struct proxy_config *cfg,
		const struct logger *log)
{
	static const char *const levels[] = { "error", "warn", "info", "debug" };
	char a0[] = "splitvm", a1[] = "remote", a2[] = "--link", a4[] = "--device";
	char a6[] = "--log-level", level[8];
	char link_arg[16];
	char *argv[] = { a0, a1, a2, link_arg, a4, (char *)spec, a6, level, NULL };
	int sv[2], null_fd = -1, err;
	pid_t parent = getpid(), pid;

	memset(cfg, 0, sizeof(*cfg));
	cfg->fd = -1;
	cfg->log = log;
	snprintf(link_arg, sizeof(link_arg), "fd=%d", CHILD_LINK_FD);
	/* The device process logs as much as we do. */
	snprintf(level, sizeof(level), "%s",
		 log && (unsigned)log->level <= LOG_DEBUG ? levels[log->level] : "warn");
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	sv[1] = high_fd(sv[1]);
	null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null_fd >= 0)
		null_fd = high_fd(null_fd);
	if (sv[1] < 0 || null_fd < 0) {
		err = -errno;
		goto fail;
	}
	/* PID 1 of a PID namespace of its own where the kernel allows (sandbox.h). */
	pid = sandbox_fork();
	if (pid == 0)
		child_exec(sv[1], null_fd, parent, argv);
	if (pid < 0) {
		err = -errno;
		goto fail;
	}
	close(sv[1]);
	close(null_fd);
	cfg->fd = sv[0];
	cfg->child = pid;
	cfg->timeout_ms = PROXY_TIMEOUT_MS;
	cfg->settle_ms = 0;                /* our own remote does not reset itself */
	cfg->max_regions = LINK_MAX_FDS;   /* and takes every region there can be */
	cfg->name = strdup(name);
	cfg->spec = strdup(spec); /* for a restart */
	log_debug(log, "%s: device process %d: splitvm remote --link %s --device %s", name,
		  (int)pid, link_arg, spec);
	return cfg->name && cfg->spec ? 0 : -ENOMEM;
fail:
	log_error(log, "%s: cannot start its device process: %s", name, strerror(-err));
	close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	if (null_fd >= 0)
		close(null_fd);
	return err;
}

void proxy_status_text(int status, char *buf, size_t len)
{
	const char *abbrev;

	if (WIFEXITED(status)) {
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
	} else if (WIFSIGNALED(status)) {
		abbrev = sigabbrev_np(WTERMSIG(status));
		snprintf(buf, len, "killed by signal %d (SIG%s)%s%s", WTERMSIG(status),
			 abbrev ? abbrev : "?", WCOREDUMP(status) ? ", core dumped" : "",
			 WTERMSIG(status) == SIGSYS ? ": a system call its sandbox does not allow "
						      "(docs/remote.md)" : "");
	} else {
		snprintf(buf, len, "ended with wait status %#x", (unsigned)status);
	}
}

static void describe_status(const char *name, int status, const struct logger *log)
{
	char how[160];

	if ((WIFEXITED(status) && WEXITSTATUS(status) == 0) ||
	    (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
		return;
	proxy_status_text(status, how, sizeof(how));
	log_warn(log, "%s: device process %s", name, how);
}

void proxy_reap(pid_t pid, const char *name, int timeout_ms, const struct logger *log)
{
	struct timespec tick = { 0, 10 * 1000 * 1000 };
	int status = 0;

	for (int waited = 0; waited < timeout_ms; waited += 10) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid) {
			describe_status(name, status, log);
			return;
		}
		if (r < 0)
			return; /* not ours, or reaped already */
		nanosleep(&tick, NULL);
	}
	log_warn(log, "%s: device process %d still runs %d ms after its link closed: killed",
		 name, (int)pid, timeout_ms);
	kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
}
