/*
 * libslirp opened on demand (hw/net/slirp_lib.h): GLib is not in a process
 * until a user-mode backend is made; a library that cannot be opened, lacks
 * a function or is older than 4.7 (a loader standing in for dlopen) makes
 * the backend's creation fail with a clear message, leaving nothing behind.
 */
#include <dlfcn.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/evloop.h"
#include "core/log.h"
#include "hw/net/backend.h"
#include "hw/net/slirp_lib.h"

/* The stand-in loader's state: one process-wide, as dlopen's own is. */
static struct {
	const char *missing; /* the symbol sym() does not find; NULL: open() fails */
	const char *version; /* what slirp_version_string() says */
	int handle;          /* what open() hands out */
	unsigned opens, closes;
	const char *opened;
} fake;

static const char *fake_version(void)
{
	return fake.version;
}

static void *fake_open(const char *soname)
{
	fake.opened = soname;
	if (!fake.missing)
		return NULL;
	fake.opens++;
	return &fake.handle;
}

static void *fake_sym(void *handle, const char *name)
{
	const char *(*version_fn)(void) = fake_version;
	void *version;

	assert_ptr_equal(handle, &fake.handle);
	if (!strcmp(name, fake.missing))
		return NULL;
	if (!strcmp(name, "slirp_version_string")) {
		memcpy(&version, &version_fn, sizeof(version));
		return version;
	}
	/* Any other non-NULL pointer: none of them is called before a version passes. */
	return &fake;
}

static void fake_close(void *handle)
{
	assert_ptr_equal(handle, &fake.handle);
	fake.closes++;
}

static const char *fake_error(void)
{
	return "libslirp.so.0: cannot open shared object file: No such file or directory";
}

static const struct lib_loader fake_loader = { fake_open, fake_sym, fake_close, fake_error };

struct ctx {
	struct logger log;
	struct evloop loop;
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	c->log = (struct logger){ .level = LOG_ERROR, .fd = memfd_create("log", MFD_CLOEXEC) };
	assert_true(c->log.fd >= 0);
	assert_int_equal(evloop_init(&c->loop), 0);
	memset(&fake, 0, sizeof(fake));
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	evloop_destroy(&c->loop);
	close(c->log.fd);
	free(c);
	return 0;
}

/* Everything logged so far. */
static const char *logged(struct ctx *c)
{
	static char text[2048];
	ssize_t n = pread(c->log.fd, text, sizeof(text) - 1, 0);

	assert_true(n >= 0);
	text[n] = '\0';
	return text;
}

static int create(struct ctx *c, struct net_backend **be)
{
	struct net_config cfg = { .type = NET_BACKEND_USER, .tap_fd = -1 };
	struct net_peer peer = { NULL, c };

	*be = NULL;
	return net_slirp_create_with(&fake_loader, &cfg, &peer, &c->loop, &c->log, be);
}

static void test_cannot_open(void **state)
{
	struct ctx *c = *state;
	struct net_backend *be;

	assert_int_equal(create(c, &be), -ELIBACC);
	assert_null(be);
	assert_string_equal(fake.opened, "libslirp.so.0");
	assert_non_null(strstr(logged(c), "user-mode networking needs libslirp.so.0, which "
				 "cannot be loaded: libslirp.so.0: cannot open shared object "
				 "file: No such file or directory (Debian: apt-get install "
				 "libslirp0)"));
	assert_int_equal(fake.closes, 0);
}

static void test_missing_function(void **state)
{
	struct ctx *c = *state;
	struct net_backend *be;

	fake.missing = "slirp_add_hostfwd";
	assert_int_equal(create(c, &be), -ELIBBAD);
	assert_null(be);
	assert_non_null(strstr(logged(c), "libslirp.so.0 has no slirp_add_hostfwd"));
	assert_int_equal(fake.opens, 1);
	assert_int_equal(fake.closes, 1); /* closed again */
}

/* SlirpConfig version 4 needs libslirp 4.7: an older one is refused by name. */
static void test_old_version(void **state)
{
	struct ctx *c = *state;
	struct net_backend *be;

	fake.missing = "none";
	fake.version = "4.6.1";
	assert_int_equal(create(c, &be), -ELIBBAD);
	assert_null(be);
	assert_non_null(strstr(logged(c), "libslirp.so.0 is libslirp 4.6.1; 4.7 or later is "
				 "needed"));
	assert_int_equal(fake.closes, 1);
}

/* The first test to load the real library (GLib is never unloaded). */
static void test_glib_only_when_loaded(void **state)
{
	struct ctx *c = *state;
	struct slirp_lib lib;
	void *glib;

	assert_null(dlopen("libglib-2.0.so.0", RTLD_NOW | RTLD_NOLOAD));
	assert_null(dlopen(SLIRP_LIB_SONAME, RTLD_NOW | RTLD_NOLOAD));
	assert_int_equal(slirp_lib_load(&lib, &lib_loader_dl, &c->log), 0);
	assert_non_null(lib.new_stack);
	assert_non_null(lib.add_hostfwd);
	assert_true(strlen(lib.version_string()) > 0);
	glib = dlopen("libglib-2.0.so.0", RTLD_NOW | RTLD_NOLOAD);
	assert_non_null(glib);
	dlclose(glib);
	slirp_lib_unload(&lib);
	assert_null(lib.handle);
	assert_string_equal(logged(c), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_glib_only_when_loaded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cannot_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_function, setup, teardown),
		cmocka_unit_test_setup_teardown(test_old_version, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
