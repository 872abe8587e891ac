/*
 * A test fixture: an accelerator module with a wrong ABI version. splitvm
 * must refuse it with one clear line naming the file.
 */
#include "splitvm/accel.h"

static const struct accel_ops badabi_ops = {
	.abi_version = 999,
	.size = sizeof(struct accel_ops),
	.name = "kvm",
	.description = "test fixture with a wrong ABI version",
};

__attribute__((visibility("default"))) const struct accel_ops *splitvm_accel_entry(void);

__attribute__((visibility("default"))) const struct accel_ops *splitvm_accel_entry(void)
{
	return &badabi_ops;
}
