/*
 * Internals shared by lapic.c, lapic_regs.c and lapic_timer.c. Every
 * function here runs with the LAPIC's mutex held.
 */
#ifndef EMU_LAPIC_INT_H
#define EMU_LAPIC_INT_H

#include "accel/emu/lapic.h"

#define LVT_MASKED (1u << 16)
#define LVT_DM_MASK (7u << 8)
#define LVT_DM_NMI (4u << 8)
#define LVT_DM_EXTINT (7u << 8)
#define LVT_VECTOR(v) ((uint8_t)((v) & 0xff))

/* ESR bits */
#define ESR_SEND_ILLEGAL (1u << 5)
#define ESR_RECV_ILLEGAL (1u << 6)

/* The highest set bit of a 256-bit register, or -1. */
int lapic_highest(const uint32_t *bits);
uint32_t lapic_ppr(const struct lapic *l);
/* Posts a fixed vector: IRR, and TMR per trigger mode. */
void lapic_set_irr(struct lapic *l, uint8_t vector, bool level);
/* Latches an ESR bit and raises the error LVT. */
void lapic_error(struct lapic *l, uint32_t esr_bit);
/* Recomputes LAPIC_EV_INTR after IRR/ISR/TPR changes. */
void lapic_update_events(struct lapic *l);
/* INIT: everything but the ID, the APIC base and the mode. */
void lapic_soft_reset(struct lapic *l);

/* Timer (lapic_timer.c). now is the timebase's ns. */
void lapic_timer_reset(struct lapic *l);
/* Fires an expiry due by now (at most one: missed periods coalesce). */
void lapic_timer_update(struct lapic *l, uint64_t now);
/* Refreshes the lock-free deadline after the LVT mask or state changed. */
void lapic_timer_publish(struct lapic *l);
uint32_t lapic_timer_current(struct lapic *l, uint64_t now);
void lapic_timer_write_initial(struct lapic *l, uint32_t v, uint64_t now);
void lapic_timer_write_dcr(struct lapic *l, uint32_t v, uint64_t now);
void lapic_timer_write_lvt(struct lapic *l, uint32_t v, uint64_t now);
uint64_t lapic_timer_read_tsc_deadline(struct lapic *l, uint64_t now);
void lapic_timer_write_tsc_deadline(struct lapic *l, uint64_t v, uint64_t now);

#endif
