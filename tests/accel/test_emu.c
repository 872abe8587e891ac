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

static unsigned count_fds(void)
{
	char path[64];
	unsigned n = 0;

	for (int fd = 0; fd < 1024; fd++) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if (access(path, F_OK) == 0)
			n++;
	}
	return n;
}

/* VMs with vCPUs and an irqfd, twice: every fd and thread goes. */
static void case_teardown(struct t_case *c)
{
	unsigned before = count_fds();

	for (int round = 0; round < 2; round++) {
		struct t_host *t = t_vm(c, 2);
		struct accel_vcpu *v0 = t_vcpu(c, t, 0, NULL), *v1 = t_vcpu(c, t, 1, NULL);

		c->ops->vcpu->destroy(v1);
		c->ops->vcpu->destroy(v0);
		t_host_destroy(t);
		free(t);
	}
	T_REQUIRE(c, count_fds() == before, "%u fds before, %u after", before, count_fds());
}

static void case_pio(struct t_case *c)
{
	struct t_host *t = t_vm(c, 1);
	char why[256];

	t_pio_run(t, c->arg, why, sizeof(why));
	T_REQUIRE(c, why[0] == '\0', "%s", why);
}

static void case_pio_loop(struct t_case *c)
{
	struct t_host *t = t_vm(c, 1);
	char why[256];

	t_pio_loop(t, T_LONG64, 4, 2000, why, sizeof(why));
	T_REQUIRE(c, why[0] == '\0', "%s", why);
}

/* ud2 with an empty IDT: #UD, #DF, then a triple fault (shutdown). */
static void case_triple_fault(struct t_case *c)
{
	static const uint8_t code[] = { 0x0f, 0x0b, 0xeb, 0xfe };
	struct t_host *t = t_vm(c, 1);
	struct cpu_boot_state st;
	struct t_run_result res;

	t_put_code(t, code, sizeof(code));
	t_boot_state(t, T_LONG64, &st);
	st.idt.limit = 0;
	res = t_run(t, t_vcpu(c, t, 0, &st), 3000);
	T_REQUIRE(c, !res.timed_out && res.ret == 0, "ret %d timed out %d", res.ret,
		  res.timed_out);
	T_REQUIRE(c, atomic_load(&t->stop) == ACCEL_STOP_RESET + 1, "stop request %d, want RESET: %s",
		  atomic_load(&t->stop) - 1, t->errlog);
}

void t_run_checked(struct t_case *c, struct t_host *t, struct accel_vcpu *v, unsigned ms)
{
	struct t_run_result res = t_run(t, v, ms);

	if (atomic_load(&t->stop) == ACCEL_STOP_RESET + 1)
		t_exit(c, T_FAIL, "the guest triple-faulted after %lu exits",
		       atomic_load(&t->exits));
	T_REQUIRE(c, res.ret == 0, "run returned %d: %s", res.ret, t->errlog);
	T_REQUIRE(c, !res.timed_out, "guest did not finish within %u ms (%lu exits): %s", ms,
		  atomic_load(&t->exits), t->errlog);
	T_REQUIRE(c, atomic_load(&t->done), "stop request %d: %s", atomic_load(&t->stop) - 1,
		  t->errlog);
}

struct case_desc {
	void (*fn)(struct t_case *c);
	const void *arg;
	unsigned timeout_ms;
	const char *name;
	const struct t_case *base;
};

static void run_case(void **state)
{
	const struct case_desc *d = *state;
	struct t_case c = *d->base;
	char msg[1024];
	enum t_outcome o;

	c.arg = (void *)d->arg;
	o = t_isolate(d->fn, &c, d->timeout_ms, msg, sizeof(msg));
	if (o == T_PASS)
		return;
	if (o == T_SKIP) {
		print_message("skipped: %s\n", msg);
		skip();
		return;
	}
	fail_msg("%s", msg);
}

static const struct t_pio_form pio_forms[] = {
	{ T_LONG64, T_OUT_IMM, 1 }, { T_LONG64, T_OUT_IMM, 2 }, { T_LONG64, T_OUT_IMM, 4 },
	{ T_LONG64, T_OUT_DX, 1 },  { T_LONG64, T_OUT_DX, 2 },  { T_LONG64, T_OUT_DX, 4 },
	{ T_LONG64, T_IN_IMM, 1 },  { T_LONG64, T_IN_IMM, 2 },  { T_LONG64, T_IN_IMM, 4 },
	{ T_LONG64, T_IN_DX, 1 },   { T_LONG64, T_IN_DX, 2 },   { T_LONG64, T_IN_DX, 4 },
	{ T_LONG64, T_OUTS, 1 },    { T_LONG64, T_OUTS, 2 },    { T_LONG64, T_OUTS, 4 },
	{ T_LONG64, T_INS, 1 },     { T_LONG64, T_INS, 4 },
	{ T_PROT32, T_OUT_DX, 4 },  { T_PROT32, T_IN_DX, 4 },   { T_PROT32, T_OUTS, 1 },
	{ T_REAL, T_OUT_DX, 1 },    { T_REAL, T_IN_DX, 2 },     { T_REAL, T_OUTS, 1 },
	{ T_LONG64, T_OUT_DX, 4, true }, { T_LONG64, T_INS, 2, true },
};

#define NPIO (sizeof(pio_forms) / sizeof(pio_forms[0]))
#define CASE(f, a, ms, n) { .fn = (f), .arg = (a), .timeout_ms = (ms), .name = (n) }

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
	CASE(case_msi, NULL, 10000, "MSI to the LAPIC"),
	CASE(case_ioeventfd_pio, NULL, 10000, "ioeventfd on a port"),
	CASE(case_ioeventfd_mmio, NULL, 10000, "ioeventfd on MMIO with datamatch"),
};

int main(int argc, char **argv)
{
	enum { NCASES = sizeof(cases) / sizeof(cases[0]) };
	static struct CMUnitTest tests[NCASES + NPIO];
	static struct case_desc descs[NCASES + NPIO];
	static char names[NPIO][64];
	struct t_case base_case = { 0 };
	char why[256];
	size_t i;

	if (argc < 2) {
		fprintf(stderr, "usage: %s accel-emu.so\n", argv[0]);
		return 2;
	}
	base_case.module = argv[1];
	base_case.ops = t_load_module(argv[1], why, sizeof(why));
	if (!base_case.ops) {
		fprintf(stderr, "%s\n", why);
		return 1;
	}
	for (i = 0; i < NCASES; i++) {
		descs[i] = cases[i];
		descs[i].base = &base_case;
		tests[i] = (struct CMUnitTest){ .name = descs[i].name, .test_func = run_case,
						.initial_state = &descs[i] };
	}
	for (i = 0; i < NPIO; i++) {
		descs[NCASES + i] = (struct case_desc)CASE(case_pio, &pio_forms[i], 10000, NULL);
		descs[NCASES + i].base = &base_case;
		t_pio_form_name(&pio_forms[i], names[i], sizeof(names[i]));
		tests[NCASES + i] = (struct CMUnitTest){ .name = names[i], .test_func = run_case,
							 .initial_state = &descs[NCASES + i] };
	}
	return _cmocka_run_group_tests("accel-emu", tests, NCASES + NPIO, NULL, NULL);
}
