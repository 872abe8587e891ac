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
void case_msi_irqfd_many(struct t_case *c);
void case_msi_irqfd_update(struct t_case *c);
void case_msi_irqfd_pending(struct t_case *c);
void case_ioeventfd_pio(struct t_case *c);
void case_ioeventfd_mmio(struct t_case *c);
void case_pit_ioapic(struct t_case *c);
void case_pit_pic(struct t_case *c);

/* The cases both modules pass: the same table lines in test_kvm.c and test_emu.c. */
#define T_KICK_CASES                                                                        \
	CASE(case_kick_loop, NULL, 10000, "kick: jmp $"),                                   \
	CASE(case_kick_hlt, NULL, 10000, "kick: cli; hlt"),                                 \
	CASE(case_kick_no_stop, NULL, 10000, "kick without stop does not end run"),         \
	CASE(case_kick_before_run, NULL, 10000, "kick before run"),                         \
	CASE(case_ap_waits_for_sipi, NULL, 10000, "AP waits for SIPI"),                     \
	CASE(case_parallel_vcpus, NULL, 20000, "4 vCPUs created and run in parallel threads"), \
	CASE(case_init_sipi, NULL, 10000, "INIT/SIPI starts the AP")

#define T_IRQ_CASES                                                                         \
	CASE(case_set_irq, NULL, 10000, "set_irq via IOAPIC"),                              \
	CASE(case_isa_irq0_routing, NULL, 10000, "ISA IRQ 0 reaches IOAPIC pin 2"),         \
	CASE(case_irqfd, NULL, 10000, "irqfd via IOAPIC (edge)"),                           \
	CASE(case_irqfd_resample, NULL, 10000, "irqfd with resample (level)"),              \
	CASE(case_msi, NULL, 10000, "MSI to the LAPIC"),                                    \
	CASE(case_msi_irqfd, NULL, 10000, "MSI route: irqfd to the LAPIC, then deleted"),   \
	CASE(case_msi_irqfd_many, NULL, 30000, "MSI route: 100 signals, 100 interrupts"),     \
	CASE(case_msi_irqfd_update, NULL, 10000, "MSI route: message changed in place"),    \
	CASE(case_msi_irqfd_pending, NULL, 10000, "MSI route: a pending count delivered on add"), \
	CASE(case_ioeventfd_pio, NULL, 10000, "ioeventfd on a port"),                       \
	CASE(case_ioeventfd_mmio, NULL, 10000, "ioeventfd on MMIO with datamatch"),         \
	CASE(case_pit_ioapic, NULL, 10000, "PIT IRQ 0 through IOAPIC pin 2"),               \
	CASE(case_pit_pic, NULL, 10000, "PIT IRQ 0 through the 8259 (ExtINT)")

#endif
