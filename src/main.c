/* splitvm command line: run, remote, accels, version, help. */
#include <dirent.h>
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "core/accel_loader.h"
#include "core/log.h"
#include "core/options.h"
#include "core/vm.h"
#include "remote/remote.h"
#include "remote/remote_opts.h"
#include "remote/sandbox.h"

/*
 * ASan's allocator is not glibc's: there is nothing for malloc_trim() to give
 * back, and glibc's malloc, never used, would start itself up (getrandom)
 * under the seccomp filter.
 */
#if defined(__SANITIZE_ADDRESS__)
#define ASAN_ALLOCATOR 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ASAN_ALLOCATOR 1
#endif
#endif
#ifndef ASAN_ALLOCATOR
#define ASAN_ALLOCATOR 0
#endif

enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

static const char usage[] =
	"usage: splitvm COMMAND [options]\n"
	"\n"
	"  run --kernel PATH ...  boot a guest (splitvm run --help)\n"
	"  remote --link ... --device SPEC\n"
	"                         a device process for a VMM (splitvm remote --help)\n"
	"  accels                 list accelerator modules and whether they run here\n"
	"  version                print the version\n"
	"  help                   this text\n";

static int cmd_run(int argc, char **argv, uint64_t start_ns)
{
	struct vm_config cfg;
	struct logger log = LOGGER_DEFAULT;
	struct vm *vm;
	char err[512];
	int rc, status = EXIT_RUNTIME;

	rc = parse_run_args(argc, argv, &cfg, err, sizeof(err));
	if (rc == 1) {
		print_run_help(STDOUT_FILENO);
		return EXIT_OK;
	}
	if (rc < 0) {
		log_error(&log, "%s", err);
		return EXIT_USAGE;
	}
	vm = malloc(sizeof(*vm));
	if (!vm) {
		log_error(&log, "out of memory");
		return EXIT_RUNTIME;
	}
	if (vm_create(vm, &cfg, start_ns) < 0)
		goto out;
	if (vm_load(vm) < 0) {
		status = EXIT_USAGE;
		goto out;
	}
	if (vm_setup(vm) < 0)
		goto out;
	switch (vm_run(vm)) {
	case VM_EXIT_RESET:
	case VM_EXIT_POWEROFF:
	case VM_EXIT_QUIT:
		status = EXIT_OK;
		break;
	default:
		status = EXIT_RUNTIME;
	}
out:
	vm_destroy(vm);
	free(vm);
	return status;
}

/* A device process: no vCPUs, no RAM of its own (remote/remote.h). */
static int cmd_remote(int argc, char **argv)
{
	struct remote_options o;
	struct logger log = LOGGER_DEFAULT;
	struct remote *r;
	char err[512];
	int rc, fd;

	rc = parse_remote_args(argc, argv, &o, err, sizeof(err));
	if (rc == 1) {
		print_remote_help(STDOUT_FILENO);
		return EXIT_OK;
	}
	if (rc < 0) {
		log_error(&log, "%s", err);
		return EXIT_USAGE;
	}
	log.level = o.log_level;
	/* Nothing of the VMM's but the link, before we open anything ourselves. */
	if (o.sandbox)
		sandbox_close_inherited(o.link_fd);
	/* The device first: a bad spec is reported before any VMM connects. */
	rc = remote_create(&r, o.device, &log);
	if (rc < 0)
		return rc == -EINVAL ? EXIT_USAGE : EXIT_RUNTIME;
	rc = remote_open_link(&o, &log, &fd);
	if (!rc)
		rc = remote_attach(r, fd);
	if (!rc && remote_block_signals() < 0)
		log_warn(&log, "remote: termination signals will not flush the device");
	/* Set up: from here on, only what serving the device needs. */
	if (!rc && o.sandbox)
		rc = sandbox_apply_with(remote_sandbox(r), &log, NULL, remote_start_threads, r);
	else if (!rc)
		rc = remote_start_threads(r);
	/* Set-up's scratch (the filter's rules and program) is freed: its pages go back. */
	if (!rc && !ASAN_ALLOCATOR)
		malloc_trim(0);
	if (!rc)
		rc = remote_run(r);
	remote_destroy(r);
	return rc < 0 ? EXIT_RUNTIME : EXIT_OK;
}

static void show_accel(const char *dir, const char *name)
{
	struct logger quiet = { .level = LOG_ERROR, .fd = -1 };
	struct accel a;
	char why[256] = "";
	int probe;

	if (accel_load(&a, name, &quiet) < 0) {
		printf("%-5s %s/accel-%s.so  unusable: %s\n", name, dir, name,
		       access(a.path, F_OK) ? "module not found" : "module does not load");
		return;
	}
	probe = a.ops->probe(why, sizeof(why));
	if (probe == ACCEL_PROBE_OK)
		printf("%-5s %s  runs here%s%s\n", name, a.path, *why ? ": " : "", why);
	else if (probe == ACCEL_PROBE_LIMITED)
		printf("%-5s %s  limited here: %s\n", name, a.path, why);
	else
		printf("%-5s %s  cannot run here: %s\n", name, a.path, why);
	accel_unload(&a);
}

static int cmd_accels(void)
{
	static const char *const known[] = { "kvm", "emu" };
	char dir[4096];
	int err = accel_module_dir(dir, sizeof(dir));

	if (err) {
		fprintf(stderr, "splitvm: error: cannot find the module directory: %s\n", strerror(-err));
		return EXIT_RUNTIME;
	}
	printf("module directory: %s\n", dir);
	for (unsigned i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		show_accel(dir, known[i]);
	printf("auto: %s\n", accel_auto_choice());
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	uint64_t start_ns = vm_now_ns();
	const char *cmd = argc > 1 ? argv[1] : NULL;

	/* A console reader that goes away must not kill the VMM. */
	signal(SIGPIPE, SIG_IGN);
	if (!cmd) {
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(cmd, "run"))
		return cmd_run(argc - 1, argv + 1, start_ns);
	if (!strcmp(cmd, "remote"))
		return cmd_remote(argc - 1, argv + 1);
	if (!strcmp(cmd, "accels"))
		return cmd_accels();
	if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
		printf("splitvm %s\n", SPLITVM_VERSION);
		return EXIT_OK;
	}
	if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
		fputs(usage, stdout);
		return EXIT_OK;
	}
	fprintf(stderr, "splitvm: error: unknown command '%s' (see splitvm help)\n", cmd);
	return EXIT_USAGE;
}
