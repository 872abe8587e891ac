/* Finding, loading and checking accelerator modules. */
#ifndef CORE_ACCEL_LOADER_H
#define CORE_ACCEL_LOADER_H

#include <stddef.h>

#include "splitvm/accel.h"

struct logger;

struct accel {
	void *handle; /* dlopen handle */
	const struct accel_ops *ops;
	struct accel_vm *vm;
	char path[4096];
};

/* The module directory: $SPLITVM_MODULE_DIR, else the binary's directory. */
int accel_module_dir(char *buf, size_t len);
/* Loads accel-NAME.so and checks its ABI. Logs one clear line on failure. */
int accel_load(struct accel *a, const char *name, const struct logger *log);
void accel_unload(struct accel *a);
/* --accel auto: kvm where /dev/kvm opens and the CPU has vmx or svm, else emu. */
const char *accel_auto_choice(void);
/* True if /proc/cpuinfo lists vmx or svm. */
int host_has_hw_virt(void);

#endif
