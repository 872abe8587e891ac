/* The `splitvm remote` command line, and opening its link. */
#ifndef REMOTE_REMOTE_OPTS_H
#define REMOTE_REMOTE_OPTS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/log.h"

struct remote_options {
	int link_fd;        /* --link fd=N, or -1 */
	const char *socket; /* --link socket=PATH, or NULL */
	const char *device; /* --device SPEC */
	bool sandbox;       /* --sandbox on|off */
	enum log_level log_level;
};

/*
 * Parses `remote` arguments (argv[0] is "remote"). -EINVAL with a one-line
 * message in err on bad usage (including an fd=N that is not an open UNIX
 * stream socket); 1 if --help was asked for.
 */
int parse_remote_args(int argc, char **argv, struct remote_options *o, char *err,
		      size_t err_len);
void print_remote_help(int fd);

/*
 * The link's socket: fd=N itself (made close-on-exec), or, for socket=PATH,
 * the first connection accepted on PATH, which is then removed. 0 with
 * *fd set, or -errno (logged).
 */
int remote_open_link(const struct remote_options *o, const struct logger *log, int *fd);

#endif
