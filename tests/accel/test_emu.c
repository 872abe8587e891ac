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
	T_BASE_CASES,
	T_KICK_CASES,
	CASE(case_emu_cpuid, NULL, 10000, "CPUID and MSRs per vCPU"),
	CASE(case_emu_kvmclock, NULL, 10000, "kvmclock record and TSC rate"),
	CASE(case_emu_lapic_timer, NULL, 10000, "LAPIC one-shot timer interrupt"),
	CASE(case_emu_tsc_deadline, NULL, 10000, "TSC-deadline timer interrupt"),
	T_IRQ_CASES,
	CASE(case_irq_shared_line, NULL, 10000, "a line shared by set_irq and an irqfd"),
};

int main(int argc, char **argv)
{
	return t_suite_main(argc, argv, "accel-emu", cases, sizeof(cases) / sizeof(cases[0]));
}
