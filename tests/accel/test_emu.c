/*
 * accel-emu.so module tests: test-emu MODULE_PATH.
 *
 * The generic cases (kicks, SIPI, parallel vCPUs, interrupts, irqfd,
 * ioeventfd, port I/O forms) are the accel-kvm ones, run against the
 * software CPU; the cases here check what is the emu module's own: its
 * identity, the CPUID/MSR machine it presents, kvmclock and its LAPIC
 * timer. Each case runs in a child with a time limit (t_isolate).
 */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "t_suite.h"
#include "test_emu.h"

static void case_entry(struct t_case *c)
{
	char why[256] = "";
	int r = c->ops->probe(why, sizeof(why));
	void *h;

	T_REQUIRE(c, c->ops->size == sizeof(struct accel_ops), "ops size %u", c->ops->size);
	T_REQUIRE(c, strcmp(c->ops->name, "emu") == 0, "name %s", c->ops->name);
	T_REQUIRE(c, r == ACCEL_PROBE_OK && why[0], "probe %d (%s)", r, why);
	h = dlopen(c->module, RTLD_NOW | RTLD_NOLOAD);
	T_REQUIRE(c, h && dlsym(h, SPLITVM_ACCEL_ENTRY), "entry symbol not found");
	T_REQUIRE(c, !dlsym(h, "emu_run") && !dlsym(h, "emu_vcpu_ops") && !dlsym(h, "emu_log") &&
		     !dlsym(h, "lapic_init"), "the module exports more than its entry symbol");
}


static const struct case_desc cases[] = {
	CASE(case_entry, NULL, 5000, "module entry and probe"),
	CASE(case_teardown, NULL, 10000, "teardown closes every fd"),
	CASE(case_pio_loop, NULL, 20000, "2000 outs in a loop (64-bit)"),
	CASE(case_triple_fault, NULL, 10000, "triple fault requests RESET"),
	CASE(case_emu_exec_mmio, NULL, 10000, "executing MMIO: one error line, stop ERROR"),
	CASE(case_kick_loop, NULL, 10000, "kick: jmp $"),
	CASE(case_kick_hlt, NULL, 10000, "kick: cli; hlt"),
	CASE(case_kick_no_stop, NULL, 10000, "kick without stop does not end run"),
	CASE(case_kick_before_run, NULL, 10000, "kick before run"),
	CASE(case_ap_waits_for_sipi, NULL, 10000, "AP waits for SIPI"),
	CASE(case_parallel_vcpus, NULL, 20000, "4 vCPUs created and run in parallel threads"),
	CASE(case_init_sipi, NULL, 10000, "INIT/SIPI starts the AP"),
	CASE(case_emu_cpuid, NULL, 10000, "CPUID and MSRs per vCPU"),
	CASE(case_emu_kvmclock, NULL, 10000, "kvmclock record and TSC rate"),
	CASE(case_emu_lapic_timer, NULL, 10000, "LAPIC one-shot timer interrupt"),
	CASE(case_emu_tsc_deadline, NULL, 10000, "TSC-deadline timer interrupt"),
	CASE(case_set_irq, NULL, 10000, "set_irq via IOAPIC"),
	CASE(case_isa_irq0_routing, NULL, 10000, "ISA IRQ 0 reaches IOAPIC pin 2"),
	CASE(case_irqfd, NULL, 10000, "irqfd via IOAPIC (edge)"),
	CASE(case_irqfd_resample, NULL, 10000, "irqfd with resample (level)"),
	CASE(case_irq_shared_line, NULL, 10000, "a line shared by set_irq and an irqfd"),
	CASE(case_msi, NULL, 10000, "MSI to the LAPIC"),
	CASE(case_msi_irqfd, NULL, 10000, "MSI route: irqfd to the LAPIC, then deleted"),
	CASE(case_msi_irqfd_update, NULL, 10000, "MSI route: message changed in place"),
	CASE(case_msi_irqfd_pending, NULL, 10000, "MSI route: a pending count delivered on add"),
	CASE(case_ioeventfd_pio, NULL, 10000, "ioeventfd on a port"),
	CASE(case_ioeventfd_mmio, NULL, 10000, "ioeventfd on MMIO with datamatch"),
	CASE(case_pit_ioapic, NULL, 10000, "PIT IRQ 0 through IOAPIC pin 2"),
	CASE(case_pit_pic, NULL, 10000, "PIT IRQ 0 through the 8259 (ExtINT)"),
};

int main(int argc, char **argv)
{
	return t_suite_main(argc, argv, "accel-emu", cases, sizeof(cases) / sizeof(cases[0]));
}
