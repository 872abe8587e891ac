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

SPLITVM_ACCEL_MODULE(badabi_ops)
