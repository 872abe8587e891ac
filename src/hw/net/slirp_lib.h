/*
 * libslirp, opened when a user-mode network backend is made rather than
 * linked into splitvm: with it come GLib and PCRE2 (and libm), which the
 * dynamic linker would otherwise map and start in every process, the
 * device processes of disks and RNGs included (core/dynlib.h).
 */
#ifndef HW_NET_SLIRP_LIB_H
#define HW_NET_SLIRP_LIB_H

#include <slirp/libslirp.h>

#include "core/dynlib.h"

struct logger;

/* Debian's libslirp0; the headers (libslirp-dev) are only needed to build. */
#define SLIRP_LIB_SONAME "libslirp.so.0"

/* The libslirp functions the backend calls, typed as its header declares them. */
struct slirp_lib {
	const struct lib_loader *loader;
	void *handle;
	__typeof__(slirp_new) *new_stack;
	__typeof__(slirp_cleanup) *cleanup;
	__typeof__(slirp_input) *input;
	__typeof__(slirp_pollfds_fill) *pollfds_fill;
	__typeof__(slirp_pollfds_poll) *pollfds_poll;
	__typeof__(slirp_handle_timer) *handle_timer;
	__typeof__(slirp_add_hostfwd) *add_hostfwd;
	__typeof__(slirp_version_string) *version_string;
};

/*
 * Opens SLIRP_LIB_SONAME with loader and fills lib: 0, or -ELIBACC (cannot
 * be opened) or -ELIBBAD (a function is missing, or a version before 4.7),
 * logged with the reason.
 * Must run before a device process's sandbox: its empty root has no
 * libraries, and its filter no open().
 */
int slirp_lib_load(struct slirp_lib *lib, const struct lib_loader *loader,
		   const struct logger *log);
void slirp_lib_unload(struct slirp_lib *lib);

#endif
