/* Opening shared libraries on demand (dynlib.h). */
#include "core/dynlib.h"

#include <dlfcn.h>
#include <errno.h>
#include <string.h>

static void *dl_open(const char *soname)
{
	/* NOW: a missing symbol shows here, not at a first call in a sandbox. */
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

void *lib_open_table(const struct lib_loader *loader, const char *soname,
		     const struct lib_symbol *syms, size_t nsyms, void *table, const char **why,
		     int *err)
{
	void *handle = loader->open(soname);

	if (!handle) {
		*why = loader->error();
		*err = -ELIBACC;
		return NULL;
	}
	for (size_t i = 0; i < nsyms; i++) {
		void *fn = loader->sym(handle, syms[i].name);

		if (!fn) {
			loader->close(handle);
			*why = syms[i].name;
			*err = -ELIBBAD;
			return NULL;
		}
		memcpy((char *)table + syms[i].offset, &fn, sizeof(fn));
	}
	return handle;
}
