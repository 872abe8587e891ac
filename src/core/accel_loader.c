#include "core/accel_loader.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"

int accel_module_dir(char *buf, size_t len)
{
	const char *env = getenv("SPLITVM_MODULE_DIR");
	char exe[4096];
	ssize_t n;

	if (env && *env) {
		if ((size_t)snprintf(buf, len, "%s", env) >= len)
			return -ENAMETOOLONG;
		return 0;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0)
		return -errno;
	exe[n] = '\0';
	if ((size_t)snprintf(buf, len, "%s", dirname(exe)) >= len)
		return -ENAMETOOLONG;
	return 0;
}

static int check_ops(const struct accel_ops *ops, const char *path, const struct logger *log)
{
	if (!ops) {
		log_error(log, "accelerator module %s returned no operations", path);
		return -EINVAL;
	}
	if (ops->abi_version != SPLITVM_ACCEL_ABI_VERSION) {
		log_error(log, "accelerator module %s has ABI version %u, this splitvm needs %u",
			  path, ops->abi_version, SPLITVM_ACCEL_ABI_VERSION);
		return -EPROTO;
	}
	if (ops->size < sizeof(*ops) || !ops->name || !ops->probe || !ops->vm || !ops->vcpu) {
		log_error(log, "accelerator module %s has an incomplete operations table", path);
		return -EINVAL;
	}
	return 0;
}

int accel_load(struct accel *a, const char *name, const struct logger *log)
{
	char dir[4096];
	splitvm_accel_entry_fn entry;
	int err;

	memset(a, 0, sizeof(*a));
	err = accel_module_dir(dir, sizeof(dir));
	if (err) {
		log_error(log, "cannot find the module directory: %s", strerror(-err));
		return err;
	}
	if ((size_t)snprintf(a->path, sizeof(a->path), "%.3000s/accel-%.64s.so", dir, name) >=
	    sizeof(a->path))
		return -ENAMETOOLONG;
	if (access(a->path, F_OK) < 0) {
		log_error(log, "accelerator module %s not found (build it, or set SPLITVM_MODULE_DIR)",
			  a->path);
		return -ENOENT;
	}
	a->handle = dlopen(a->path, RTLD_NOW | RTLD_LOCAL);
	if (!a->handle) {
		log_error(log, "cannot load accelerator module %s: %s", a->path, dlerror());
		return -ENOEXEC;
	}
	*(void **)&entry = dlsym(a->handle, SPLITVM_ACCEL_ENTRY);
	if (!entry) {
		log_error(log, "accelerator module %s has no %s symbol", a->path, SPLITVM_ACCEL_ENTRY);
		err = -ENOEXEC;
		goto fail;
	}
	a->ops = entry();
	err = check_ops(a->ops, a->path, log);
	if (err)
		goto fail;
	return 0;
fail:
	accel_unload(a);
	return err;
}

void accel_unload(struct accel *a)
{
	if (a->handle)
		dlclose(a->handle);
	a->handle = NULL;
	a->ops = NULL;
}

int host_has_hw_virt(void)
{
	FILE *f = fopen("/proc/cpuinfo", "re");
	char line[8192];
	int found = 0;

	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags", 5))
			continue;
		found = strstr(line, " vmx") || strstr(line, " svm");
		break;
	}
	fclose(f);
	return found;
}

const char *accel_auto_choice(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return "emu";
	close(fd);
	return host_has_hw_virt() ? "kvm" : "emu";
}
