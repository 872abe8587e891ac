/* Cases of the accel-kvm.so tests, each run in a child by test_kvm.c. */
#ifndef TESTS_ACCEL_TEST_KVM_H
#define TESTS_ACCEL_TEST_KVM_H

#include <unistd.h>

#include "harness.h"
#include "t_pio.h"

/* Runs v until the guest writes T_MMIO_DONE; anything else fails the case. */
void t_run_checked(struct t_case *c, struct t_host *t, struct accel_vcpu *v, unsigned ms);

/* test_kvm_kick.c */
void case_kick_loop(struct t_case *c);
void case_kick_hlt(struct t_case *c);
void case_kick_no_stop(struct t_case *c);
void case_kick_before_run(struct t_case *c);
void case_ap_waits_for_sipi(struct t_case *c);
void case_parallel_vcpus(struct t_case *c);
void case_init_sipi(struct t_case *c);

/* test_kvm_irq.c */
void case_set_irq(struct t_case *c);
void case_isa_irq0_routing(struct t_case *c);
void case_irqfd(struct t_case *c);
void case_irqfd_resample(struct t_case *c);
void case_irq_shared_line(struct t_case *c);
void case_msi(struct t_case *c);
void case_msi_irqfd(struct t_case *c);
void case_msi_irqfd_update(struct t_case *c);
void case_msi_irqfd_pending(struct t_case *c);
void case_ioeventfd_pio(struct t_case *c);
void case_ioeventfd_mmio(struct t_case *c);
void case_pit_ioapic(struct t_case *c);
void case_pit_pic(struct t_case *c);

#endif
