/* Opening libslirp on demand (slirp_lib.h). */
#include "hw/net/slirp_lib.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

#define SYM(name, field) { #name, offsetof(struct slirp_lib, field) }

static const struct lib_symbol slirp_symbols[] = {
	SYM(slirp_new, new_stack),
	SYM(slirp_cleanup, cleanup),
	SYM(slirp_input, input),
	SYM(slirp_pollfds_fill, pollfds_fill),
	SYM(slirp_pollfds_poll, pollfds_poll),
	SYM(slirp_handle_timer, handle_timer),
	SYM(slirp_add_hostfwd, add_hostfwd),
	SYM(slirp_version_string, version_string),
};

/* SlirpConfig version 4, which slirp.c hands to slirp_new(), came with 4.7. */
static bool version_ok(const char *version)
{
	char *end;
	unsigned long major = strtoul(version, &end, 10), minor;

	if (end == version || *end != '.')
		return false;
	minor = strtoul(end + 1, NULL, 10);
	return major > 4 || (major == 4 && minor >= 7);
}

int slirp_lib_load(struct slirp_lib *lib, const struct lib_loader *loader,
		   const struct logger *log)
{
	const char *why;
	int err;

	memset(lib, 0, sizeof(*lib));
	lib->handle = lib_open_table(loader, SLIRP_LIB_SONAME, slirp_symbols,
				     sizeof(slirp_symbols) / sizeof(slirp_symbols[0]), lib, &why,
				     &err);
	if (!lib->handle) {
		if (err == -ELIBBAD)
			log_error(log, "virtio-net: user-mode networking: %s has no %s",
				  SLIRP_LIB_SONAME, why);
		else
			log_error(log, "virtio-net: user-mode networking needs %s, which cannot "
				  "be loaded: %s (Debian: apt-get install libslirp0)",
				  SLIRP_LIB_SONAME, why);
		return err;
	}
	lib->loader = loader;
	if (!version_ok(lib->version_string())) {
		log_error(log, "virtio-net: user-mode networking: %s is libslirp %s; 4.7 or "
			  "later is needed", SLIRP_LIB_SONAME, lib->version_string());
		slirp_lib_unload(lib);
		return -ELIBBAD;
	}
	log_debug(log, "virtio-net: user-mode networking: libslirp %s loaded",
		  lib->version_string());
	return 0;
}

void slirp_lib_unload(struct slirp_lib *lib)
{
	if (lib->handle)
		lib->loader->close(lib->handle);
	memset(lib, 0, sizeof(*lib));
}
