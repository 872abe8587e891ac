#include "t_suite.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../common/fds.h"
#include "t_pio.h"
#include "test_kvm.h"

/* Create and destroy a VM with vCPUs twice: every fd, thread and mapping goes. */
void case_teardown(struct t_case *c)
{
	int before = fds_open_count();

	for (int round = 0; round < 2; round++) {
		struct t_host *t = t_vm(c, 2);
		struct accel_vcpu *v0 = t_vcpu(c, t, 0, NULL), *v1 = t_vcpu(c, t, 1, NULL);

		c->ops->vcpu->destroy(v1);
		c->ops->vcpu->destroy(v0);
		t_host_destroy(t);
		free(t);
	}
	T_REQUIRE(c, fds_open_count() == before, "%d fds before, %d after", before,
		  fds_open_count());
}

static void case_pio(struct t_case *c)
{
	struct t_host *t = t_vm(c, 1);
	char why[256];

	t_pio_run(t, c->arg, why, sizeof(why));
	T_REQUIRE(c, why[0] == '\0', "%s", why);
}

void case_pio_loop(struct t_case *c)
{
	struct t_host *t = t_vm(c, 1);
	char why[256];

	t_pio_loop(t, T_LONG64, 4, 2000, why, sizeof(why));
	T_REQUIRE(c, why[0] == '\0', "%s", why);
}

/* ud2 with an empty IDT: #UD, #DF, then a triple fault (shutdown). */
void case_triple_fault(struct t_case *c)
{
	static const uint8_t code[] = { 0x0f, 0x0b, 0xeb, 0xfe };
	struct t_host *t = t_vm(c, 1);
	struct cpu_boot_state st;
	struct t_run_result res;

	t_put_code(t, code, sizeof(code));
	t_boot_state(t, T_LONG64, &st);
	st.idt.limit = 0;
	res = t_run(t, t_vcpu(c, t, 0, &st), 3000);
	T_REQUIRE(c, !res.timed_out, "no shutdown within 3 s");
	T_REQUIRE(c, res.ret == 0, "run returned %d", res.ret);
	T_REQUIRE(c, atomic_load(&t->stop) == ACCEL_STOP_RESET + 1, "stop request %d, want RESET: %s",
		  atomic_load(&t->stop) - 1, t->errlog);
}

/*
 * A jump into MMIO: no accelerator can execute it, so the VM stops with
 * ERROR and one log line naming the address (not #GP, not a hang).
 */
void case_exec_mmio(struct t_case *c)
{
	static const uint8_t code[] = { 0x48, 0xc7, 0xc0, 0x00, 0x80, 0x09, 0x00, /* mov rax */
					0xff, 0xe0 };                             /* jmp rax */
	struct t_host *t = t_vm(c, 1);
	struct cpu_boot_state st;
	struct t_run_result res;
	char addr[32];

	_Static_assert(T_MMIO_TEST == 0x98000, "code[] jumps to 0x98000");
	snprintf(addr, sizeof(addr), "0x%llx", (unsigned long long)T_MMIO_TEST);
	t_put_code(t, code, sizeof(code));
	t_boot_state(t, T_LONG64, &st);
	res = t_run(t, t_vcpu(c, t, 0, &st), 3000);
	T_REQUIRE(c, !res.timed_out && res.ret == 0, "ret %d timed out %d (%lu exits)", res.ret,
		  res.timed_out, atomic_load(&t->exits));
	T_REQUIRE(c, atomic_load(&t->stop) == ACCEL_STOP_ERROR + 1, "stop request %d",
		  atomic_load(&t->stop) - 1);
	T_REQUIRE(c, strchr(t->errlog, ';') == strrchr(t->errlog, ';') && t->errlog[0],
		  "want one error line, got: %s", t->errlog);
	T_REQUIRE(c, strstr(t->errlog, addr), "the error line does not name %s: %s", addr,
		  t->errlog);
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

/* The cmocka side: run a case in a child and map its outcome. */
static void run_case(void **state)
{
	const struct case_desc *d = *state;
	struct t_case c = *d->base;
	char msg[1024];

	c.arg = (void *)d->arg;
	switch (t_isolate(d->fn, &c, d->timeout_ms, msg, sizeof(msg))) {
	case T_PASS:
		return;
	case T_SKIP:
		print_message("skipped: %s\n", msg);
		skip();
		return;
	case T_HANG:
		if (c.limited) {
			print_message("skipped: the nested KVM layer wedged: %s\n", msg);
			skip();
			return;
		}
		fail_msg("%s", msg);
		return;
	case T_FAIL:
		fail_msg("%s", msg);
	}
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
#define MAX_CASES 64

int t_suite_main(int argc, char **argv, const char *suite, const struct case_desc *cases,
		 size_t ncases)
{
	static struct CMUnitTest tests[MAX_CASES + NPIO];
	static struct case_desc descs[MAX_CASES + NPIO];
	static char names[NPIO][64];
	static struct t_case base_case;
	char why[256];
	size_t i;
	int r;

	if (argc < 2 || ncases > MAX_CASES) {
		fprintf(stderr, "usage: %s MODULE.so\n", argv[0]);
		return 2;
	}
	base_case.module = argv[1];
	base_case.ops = t_load_module(argv[1], why, sizeof(why));
	if (!base_case.ops) {
		fprintf(stderr, "%s\n", why);
		return 1;
	}
	r = base_case.ops->probe(why, sizeof(why));
	printf("%s probe: %s\n", base_case.ops->name, why);
	if (r < 0)
		return 77; /* the module cannot run here: skip the whole suite */
	base_case.limited = r == ACCEL_PROBE_LIMITED;
	for (i = 0; i < ncases + NPIO; i++) {
		if (i < ncases) {
			descs[i] = cases[i];
		} else {
			descs[i] = (struct case_desc)CASE(case_pio, &pio_forms[i - ncases], 10000,
							  names[i - ncases]);
			t_pio_form_name(&pio_forms[i - ncases], names[i - ncases], sizeof(names[0]));
		}
		descs[i].base = &base_case;
		tests[i] = (struct CMUnitTest){ .name = descs[i].name, .test_func = run_case,
						.initial_state = &descs[i] };
	}
	return _cmocka_run_group_tests(suite, tests, ncases + NPIO, NULL, NULL);
}
