#include "remote/remote_opts.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "hw/device.h"

static const char remote_help[] =
	"usage: splitvm remote --link fd=N|socket=PATH --device SPEC [--sandbox on|off]\n"
	"                      [--log-level LEVEL]\n"
	"\n"
	"A device process: serves one device to a VMM over QEMU 7.2's multi-process\n"
	"protocol (QEMU's -device x-pci-proxy-dev,fd=N, or splitvm run --device\n"
	"remote,fd=N|socket=PATH). Guest RAM and interrupts come from the VMM.\n"
	"\n"
	"  --link fd=N          a connected UNIX stream socket, inherited as fd N\n"
	"  --link socket=PATH   listen on PATH and serve the first VMM that connects\n"
	"                       (the socket file is removed once it has)\n"
	"  --device SPEC        the device, one per process (kinds below)\n"
	"  --sandbox on|off     namespaces, an empty root, no capabilities and a\n"
	"                       seccomp filter once set up (default on; off to debug)\n"
	"  --log-level LEVEL    error, warn, info or debug (default warn)\n"
	"\n"
	"Exit status: 0 when the VMM closes the link (or on SIGTERM), 1 on a bad\n"
	"message from the VMM or a device failure, 2 for bad usage.\n"
	"\n"
	"Devices (--device SPEC):\n";

void print_remote_help(int fd)
{
	if (write(fd, remote_help, sizeof(remote_help) - 1) < 0)
		return;
	device_kinds_usage(fd);
}

enum { OPT_LINK = 256, OPT_DEVICE, OPT_SANDBOX, OPT_LOG_LEVEL, OPT_HELP };

static const struct option remote_options[] = {
	{ "link", required_argument, NULL, OPT_LINK },
	{ "device", required_argument, NULL, OPT_DEVICE },
	{ "sandbox", required_argument, NULL, OPT_SANDBOX },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

#define fail(...) do { snprintf(err, err_len, __VA_ARGS__); return -EINVAL; } while (0)

/* fd=N must be open and a connected UNIX stream socket: checked here, once. */
static int check_fd(int fd, char *err, size_t err_len)
{
	int type = 0, domain = 0, listening = 0;
	socklen_t len = sizeof(int);

	if (fcntl(fd, F_GETFD) < 0)
		fail("--link fd=%d: no such open file descriptor", fd);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
		fail("--link fd=%d is not a socket", fd);
	len = sizeof(int);
	getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len);
	len = sizeof(int);
	getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len);
	if (type != SOCK_STREAM || domain != AF_UNIX || listening)
		fail("--link fd=%d is not a connected UNIX stream socket", fd);
	return 0;
}

static int parse_link(struct remote_options *o, const char *arg, char *err, size_t err_len)
{
	char *end;
	long n;

	if (o->link_fd >= 0 || o->socket)
		fail("give --link once");
	if (!strncmp(arg, "socket=", 7) && arg[7]) {
		if (strlen(arg + 7) >= sizeof(((struct sockaddr_un *)0)->sun_path))
			fail("--link socket=%s: path too long", arg + 7);
		o->socket = arg + 7;
		return 0;
	}
	if (strncmp(arg, "fd=", 3))
		fail("invalid --link '%s' (fd=N or socket=PATH)", arg);
	errno = 0;
	n = strtol(arg + 3, &end, 10);
	if (errno || end == arg + 3 || *end || n < 0 || n > 65535)
		fail("invalid --link '%s' (fd=N: a file descriptor number)", arg);
	o->link_fd = (int)n;
	return check_fd(o->link_fd, err, err_len);
}

static int parse_one(struct remote_options *o, int opt, const char *arg, char *err,
		     size_t err_len)
{
	switch (opt) {
	case OPT_LINK:
		return parse_link(o, arg, err, err_len);
	case OPT_DEVICE:
		if (o->device)
			fail("one --device per device process");
		o->device = arg;
		return 0;
	case OPT_SANDBOX:
		if (strcmp(arg, "on") && strcmp(arg, "off"))
			fail("invalid --sandbox '%s' (on or off)", arg);
		o->sandbox = !strcmp(arg, "on");
		return 0;
	case OPT_LOG_LEVEL:
		if (log_level_parse(arg, &o->log_level) < 0)
			fail("invalid --log-level '%s' (error, warn, info or debug)", arg);
		return 0;
	}
	fail("internal: unhandled option %d", opt);
}

int parse_remote_args(int argc, char **argv, struct remote_options *o, char *err,
		      size_t err_len)
{
	int opt;

	*o = (struct remote_options){ .link_fd = -1, .sandbox = true, .log_level = LOG_WARN };
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":", remote_options, NULL)) != -1) {
		if (opt == OPT_HELP)
			return 1;
		if (opt == '?')
			fail("unknown option '%s' (see splitvm remote --help)", argv[optind - 1]);
		if (opt == ':')
			fail("option '%s' needs a value", argv[optind - 1]);
		if (parse_one(o, opt, optarg, err, err_len) < 0)
			return -EINVAL;
	}
	if (optind < argc)
		fail("unexpected argument '%s'", argv[optind]);
	if (o->link_fd < 0 && !o->socket)
		fail("missing --link fd=N|socket=PATH (see splitvm remote --help)");
	if (!o->device)
		fail("missing --device SPEC (see splitvm remote --help)");
	return 0;
}

/* A socket file nobody listens on is left from an earlier run: replace it. */
static int clear_stale(const char *path, const struct sockaddr_un *sa, const struct logger *log)
{
	struct stat st;
	int probe, in_use;

	if (lstat(path, &st) < 0)
		return 0;
	if (!S_ISSOCK(st.st_mode)) {
		log_error(log, "remote: %s exists and is not a socket", path);
		return -EEXIST;
	}
	probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe < 0)
		return -errno;
	in_use = connect(probe, (const struct sockaddr *)sa, sizeof(*sa)) == 0;
	close(probe);
	if (in_use) {
		log_error(log, "remote: another process listens on %s", path);
		return -EADDRINUSE;
	}
	unlink(path);
	return 0;
}

/* Listens on PATH, takes one connection and removes PATH. */
static int accept_one(const char *path, const struct logger *log, int *fd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int lfd, err;

	strcpy(sa.sun_path, path); /* length checked when parsed */
	err = clear_stale(path, &sa, log);
	if (err)
		return err;
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		log_error(log, "remote: cannot listen on %s: %s", path, strerror(errno));
		if (lfd >= 0)
			close(lfd);
		return err;
	}
	if (listen(lfd, 1) < 0) {
		err = -errno;
		log_error(log, "remote: cannot listen on %s: %s", path, strerror(errno));
		goto out;
	}
	log_info(log, "remote: waiting for the VMM on %s", path);
	do
		*fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	while (*fd < 0 && errno == EINTR);
	err = *fd < 0 ? -errno : 0;
	if (err)
		log_error(log, "remote: accept on %s: %s", path, strerror(-err));
out:
	close(lfd);
	unlink(path);
	return err;
}

int remote_open_link(const struct remote_options *o, const struct logger *log, int *fd)
{
	if (o->socket)
		return accept_one(o->socket, log, fd);
	/* Nothing we start later (a disk helper) inherits the VMM's socket. */
	fcntl(o->link_fd, F_SETFD, FD_CLOEXEC);
	*fd = o->link_fd;
	return 0;
}
