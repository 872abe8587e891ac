/* Cases of the accel-emu.so tests (test_emu.c runs them, and the generic
 * accel-kvm cases of test_kvm_kick.c and test_kvm_irq.c). */
#ifndef TESTS_ACCEL_TEST_EMU_H
#define TESTS_ACCEL_TEST_EMU_H

#include "test_kvm.h"

/* test_emu_sys.c */
void case_emu_cpuid(struct t_case *c);
void case_emu_kvmclock(struct t_case *c);
void case_emu_lapic_timer(struct t_case *c);
void case_emu_tsc_deadline(struct t_case *c);

#endif
