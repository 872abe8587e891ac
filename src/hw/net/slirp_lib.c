/* Opening libslirp on demand (slirp_lib.h). */
#include "hw/net/slirp_lib.h"

#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "core/log.h"

static void *dl_open(const char *soname)
{
	/* NOW: a missing symbol shows here, not at a first call in the sandbox. */
	return dlopen(soname, RTLD_NOW | RTLD_LOCAL);
}

static void dl_close(void *handle)
{
	dlclose(handle);
}

static const char *dl_error(void)
{
	const char *why = dlerror();

	return why ? why : "unknown error";
}

const struct lib_loader lib_loader_dl = {
	.open = dl_open,
	.sym = dlsym,
	.close = dl_close,
	.error = dl_error,
};

static const struct {
	const char *name;
	size_t offset; /* of its pointer in struct slirp_lib */
} slirp_symbols[] = {
	{ "slirp_new", offsetof(struct slirp_lib, new_stack) },
	{ "slirp_cleanup", offsetof(struct slirp_lib, cleanup) },
	{ "slirp_input", offsetof(struct slirp_lib, input) },
	{ "slirp_pollfds_fill", offsetof(struct slirp_lib, pollfds_fill) },
	{ "slirp_pollfds_poll", offsetof(struct slirp_lib, pollfds_poll) },
	{ "slirp_handle_timer", offsetof(struct slirp_lib, handle_timer) },
	{ "slirp_add_hostfwd", offsetof(struct slirp_lib, add_hostfwd) },
	{ "slirp_version_string", offsetof(struct slirp_lib, version_string) },
};

static int find_symbols(struct slirp_lib *lib, const struct logger *log)
{
	for (size_t i = 0; i < sizeof(slirp_symbols) / sizeof(slirp_symbols[0]); i++) {
		void *fn = lib->loader->sym(lib->handle, slirp_symbols[i].name);

		if (!fn) {
			log_error(log, "virtio-net: user-mode networking: %s has no %s "
				  "(libslirp 4.7 or later is needed)", SLIRP_LIB_SONAME,
				  slirp_symbols[i].name);
			return -ELIBBAD;
		}
		memcpy((char *)lib + slirp_symbols[i].offset, &fn, sizeof(fn));
	}
	return 0;
}

int slirp_lib_load(struct slirp_lib *lib, const struct lib_loader *loader,
		   const struct logger *log)
{
	int err;

	memset(lib, 0, sizeof(*lib));
	lib->loader = loader;
	lib->handle = loader->open(SLIRP_LIB_SONAME);
	if (!lib->handle) {
		log_error(log, "virtio-net: user-mode networking needs %s, which cannot be "
			  "loaded: %s (Debian: apt-get install libslirp0)", SLIRP_LIB_SONAME,
			  loader->error());
		return -ELIBACC;
	}
	err = find_symbols(lib, log);
	if (err) {
		slirp_lib_unload(lib);
		return err;
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
