/*
 * The cases every accelerator module passes (teardown, port I/O forms, a
 * triple fault, executing MMIO) and the cmocka driver that runs a module's case table, each
 * case in a child with a time limit (t_isolate), plus every port I/O form.
 */
#ifndef TESTS_ACCEL_T_SUITE_H
#define TESTS_ACCEL_T_SUITE_H

#include "harness.h"

struct case_desc {
	void (*fn)(struct t_case *c);
	const void *arg;
	unsigned timeout_ms;
	const char *name;
	const struct t_case *base;
};

#define CASE(f, a, ms, n) { .fn = (f), .arg = (a), .timeout_ms = (ms), .name = (n) }

void case_teardown(struct t_case *c);
void case_pio_loop(struct t_case *c);
void case_triple_fault(struct t_case *c);
void case_exec_mmio(struct t_case *c);

#define T_BASE_CASES                                                                   \
	CASE(case_teardown, NULL, 10000, "teardown closes every fd"),                  \
	CASE(case_pio_loop, NULL, 20000, "2000 outs in a loop (64-bit)"),              \
	CASE(case_triple_fault, NULL, 10000, "triple fault requests RESET"),           \
	CASE(case_exec_mmio, NULL, 10000, "executing MMIO: one error line, stop ERROR")

/*
 * test-X MODULE_PATH: loads the module, probes it (a probe failure skips the
 * whole suite: status 77) and runs cases[] then every port I/O form.
 */
int t_suite_main(int argc, char **argv, const char *suite, const struct case_desc *cases,
		 size_t ncases);

#endif
