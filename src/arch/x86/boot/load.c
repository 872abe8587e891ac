/*
 * arch_load_guest(): kernel, command line, initrd, zero page and boot CPU,
 * in that order. Each step logs its own error; nothing is logged twice.
 */
#include <errno.h>

#include "arch/x86/boot/boot.h"
#include "arch/x86/layout.h"
#include "core/arch.h"
#include "core/vm.h"

int x86_load_guest(struct guest_memory *mem, const struct logger *lg,
		   const struct vm_config *cfg, struct cpu_boot_state *bsp)
{
	struct x86_initrd initrd = { 0, 0 };
	struct x86_kernel k;
	int err;

	if (!cfg->kernel) {
		log_error(lg, "no kernel given");
		return -EINVAL;
	}
	/* The boot structures live in the first MiB. */
	if (!gpa_is_ram(mem, gpa(0), X86_HIGH_MEM_START)) {
		log_error(lg, "guest RAM too small: the boot structures need the first 1 MiB");
		return -EFBIG;
	}
	err = x86_load_kernel(mem, lg, cfg->kernel, cfg->unpack, &k);
	if (!err)
		err = x86_write_cmdline(mem, lg, cfg->append, &k);
	if (!err && cfg->initrd)
		err = x86_load_initrd(mem, lg, cfg->initrd, &k, &initrd);
	if (!err)
		err = x86_write_zero_page(mem, &k, &initrd);
	if (!err)
		err = x86_setup_boot_cpu(mem, k.entry, bsp);
	return err;
}

int arch_load_guest(struct vm *vm, struct cpu_boot_state *bsp)
{
	return x86_load_guest(&vm->mem, &vm->log, vm->cfg, bsp);
}
