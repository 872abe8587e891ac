/*
 * Shared libraries opened when first needed, not linked: a library that
 * only one feature uses (libslirp for user-mode networking, the
 * decompressors for a compressed kernel) then costs nothing to the
 * processes that never use it, device processes included
 * (docs/remote.md, "Resident memory").
 */
#ifndef CORE_DYNLIB_H
#define CORE_DYNLIB_H

#include <stddef.h>

/* How a shared library is opened: dlopen's way, or a test's stand-in. */
struct lib_loader {
	void *(*open)(const char *soname); /* NULL on failure, the reason in error() */
	void *(*sym)(void *handle, const char *name);
	void (*close)(void *handle);
	const char *(*error)(void);
};

extern const struct lib_loader lib_loader_dl;

/* A function to look up, and where its pointer goes in the caller's table. */
struct lib_symbol {
	const char *name;
	size_t offset;
};

/*
 * Opens soname with loader and stores each symbol's address at
 * (char *)table + offset. Returns the handle, or NULL with *why saying what
 * failed (the loader's reason, or the missing function's name) and *err
 * -ELIBACC (cannot be opened) or -ELIBBAD (a function is missing).
 */
void *lib_open_table(const struct lib_loader *loader, const char *soname,
		     const struct lib_symbol *syms, size_t nsyms, void *table, const char **why,
		     int *err);

#endif
