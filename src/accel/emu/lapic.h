/*
 * Local APIC model for the emu accelerator: xAPIC MMIO and x2APIC MSR front
 * ends over one register core, IRR/ISR/TMR, TPR/PPR, EOI (broadcast to the
 * IOAPIC for level-triggered vectors), ICR IPIs, LVTs, and the timer
 * (one-shot, periodic, TSC-deadline) computed from the timebase.
 *
 * Threads: the owning vCPU thread uses the guest front ends and the run-loop
 * calls; any thread may deliver (lapic_accept, through the APIC bus) and
 * kick. All state is under one per-LAPIC mutex, a leaf lock (nothing is
 * called while it is held). The run loop's hot check, lapic_events(), is a
 * lock-free atomic load of a summary kept up to date under the mutex. ID,
 * LDR, DFR and the mode are mirrored in atomics so that senders can match
 * destinations without taking the target's lock.
 */
#ifndef EMU_LAPIC_H
#define EMU_LAPIC_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "accel/emu/apic_bus.h"
#include "accel/emu/timebase.h"

#define LAPIC_DEFAULT_BASE 0xfee00000ull
#define LAPIC_MMIO_SIZE 0x1000
#define LAPIC_VERSION 0x00050014u /* integrated APIC, max LVT entry 5 */

#define MSR_IA32_APIC_BASE 0x1b
#define MSR_IA32_TSC_DEADLINE 0x6e0
#define MSR_X2APIC_FIRST 0x800
#define MSR_X2APIC_LAST 0x8ff

/* IA32_APIC_BASE bits */
#define APIC_BASE_BSP (1ull << 8)
#define APIC_BASE_EXTD (1ull << 10) /* x2APIC mode */
#define APIC_BASE_EN (1ull << 11)

/* What the run loop must look at (lapic_events()). */
enum lapic_event {
	LAPIC_EV_INTR = 1 << 0, /* a fixed vector above PPR, or ExtINT: take it when IF=1 */
	LAPIC_EV_NMI = 1 << 1,
	LAPIC_EV_INIT = 1 << 2,
	LAPIC_EV_SIPI = 1 << 3,
};

/* state bits (atomic, for senders) */
#define LAPIC_ST_HW (1u << 0) /* IA32_APIC_BASE.EN */
#define LAPIC_ST_SW (1u << 1) /* SVR software enable */
#define LAPIC_ST_X2 (1u << 2) /* x2APIC mode */

enum { LVT_TIMER, LVT_THERMAL, LVT_PERF, LVT_LINT0, LVT_LINT1, LVT_ERROR, LAPIC_NLVT };

struct lapic_timer {
	uint64_t start_ns;     /* when the current count was count0 */
	uint64_t deadline_ns;  /* next expiry, UINT64_MAX: none */
	uint64_t tsc_deadline; /* IA32_TSC_DEADLINE (TSC-deadline mode) */
	uint32_t initial, count0, dcr;
	unsigned shift;        /* log2 of the divider */
	bool running;
};

struct lapic_config {
	unsigned index;  /* bus slot and APIC ID */
	bool bsp;
	struct apic_bus *bus;
	const struct emu_timebase *tb;
	/* Optional: called (outside the lock) after an event is posted from any
	 * thread, e.g. to make the vCPU leave its interpreter loop. It must not
	 * call into the IOAPIC (it may run under the IOAPIC's lock). */
	void (*wake)(void *opaque);
	void *wake_opaque;
	/* Optional: the INTA cycle of the 8259 wired to LINT0, returning the
	 * vector (called without the LAPIC's lock). */
	int (*inta)(void *opaque);
	void *inta_opaque;
};

/* Fields are private to lapic*.c; the struct is public for embedding. */
struct lapic {
	pthread_mutex_t lock;
	_Atomic uint32_t events;        /* enum lapic_event */
	_Atomic uint64_t wake_deadline; /* timer's next unmasked expiry */
	_Atomic uint32_t id, ldr, dfr, state;
	uint64_t apic_base;
	uint32_t tpr, svr, esr, esr_pending, icr_lo, icr_hi;
	uint32_t lvt[LAPIC_NLVT];
	uint32_t irr[8], isr[8], tmr[8];
	uint8_t sipi_vector;
	bool kicked;
	int halt_fd;     /* an armed HLT's eventfd, -1: none */
	bool lint0;      /* LINT0 input level (the 8259's INT) */
	struct lapic_timer timer;
	unsigned index;
	struct apic_bus *bus;
	const struct emu_timebase *tb;
	void (*wake)(void *opaque);
	void *wake_opaque;
	int (*inta)(void *opaque);
	void *inta_opaque;
};

int lapic_init(struct lapic *l, const struct lapic_config *cfg);
void lapic_destroy(struct lapic *l);

/* --- guest front ends (owning vCPU thread) --- */

/* True if the guest sees the xAPIC page at lapic_base() (xAPIC mode). */
bool lapic_mmio_enabled(struct lapic *l);
uint64_t lapic_base(struct lapic *l);
/* offset within the 4 KiB page; non-dword accesses read 0 / are dropped. */
void lapic_mmio(struct lapic *l, uint64_t offset, void *data, unsigned size, bool is_write);

static inline bool lapic_msr_owned(uint32_t msr)
{
	return msr == MSR_IA32_APIC_BASE || msr == MSR_IA32_TSC_DEADLINE ||
	       (msr >= MSR_X2APIC_FIRST && msr <= MSR_X2APIC_LAST);
}

/* For lapic_msr_owned() MSRs: 0, or -1 where the CPU raises #GP. */
int lapic_rdmsr(struct lapic *l, uint32_t msr, uint64_t *val);
int lapic_wrmsr(struct lapic *l, uint32_t msr, uint64_t val);

/* CR8 = TPR[7:4]. */
uint64_t lapic_get_cr8(struct lapic *l);
void lapic_set_cr8(struct lapic *l, uint64_t cr8);

/* --- delivery (any thread) --- */

/* Destination match for a non-shorthand message (lock-free). */
bool lapic_match_dest(struct lapic *l, uint32_t dest, bool logical, bool wide);
/* Accepts a message; false if dropped (disabled APIC, unsupported mode). */
bool lapic_accept(struct lapic *l, unsigned mode, uint8_t vector, bool level);
/* Ends an armed HLT (e.g. the VM is stopping): see lapic_halt_arm(). */
void lapic_kick(struct lapic *l);
/*
 * LINT0's level. While it is up and LINT0 is unmasked in ExtINT mode, or the
 * APIC is hardware-disabled (LINT0 is then the CPU's INTR pin), the CPU has
 * an interrupt whose vector lapic_ack() fetches through the inta callback.
 * As KVM's LAPIC: ExtINT ignores the TPR and the software enable, and the
 * fixed and NMI modes of LINT0 are not driven.
 */
void lapic_set_lint0(struct lapic *l, bool level);
/* LVT0 = ExtINT, LVT1 = NMI, unmasked: the virtual-wire state a BIOS leaves
 * on the boot CPU (and accel-kvm sets). */
void lapic_virtual_wire(struct lapic *l);

/* --- run loop (owning vCPU thread) --- */

static inline uint32_t lapic_events(struct lapic *l)
{
	return atomic_load_explicit(&l->events, memory_order_acquire);
}

/* The fixed vector the CPU would take now (above PPR), or -1. */
int lapic_pending_vector(struct lapic *l);
/* Interrupt acknowledge: an ExtINT's vector from the 8259 if one is up,
 * else moves the pending fixed vector from IRR to ISR; the vector or -1. */
int lapic_ack(struct lapic *l);
/* Takes and clears the NMI/INIT/SIPI latches in mask; returns those set. */
uint32_t lapic_take(struct lapic *l, uint32_t mask, uint8_t *sipi_vector);
/* Fires expired timers; returns the next deadline (ns) or UINT64_MAX. */
uint64_t lapic_timer_check(struct lapic *l, uint64_t now_ns);
/* Next unmasked timer expiry (ns) or UINT64_MAX; lock-free. */
static inline uint64_t lapic_timer_deadline(struct lapic *l)
{
	return atomic_load_explicit(&l->wake_deadline, memory_order_acquire);
}

/*
 * HLT, slept by the caller (e.g. in epoll beside other fds): between arm
 * and disarm, an event the CPU would act on (INTR only when intr_enabled)
 * or a kick signals wake_fd (an eventfd). arm returns false when one is
 * there already (then do not sleep); disarm clears a kick. The caller
 * reads the events afterwards (lapic_events()).
 */
bool lapic_halt_arm(struct lapic *l, bool intr_enabled, int wake_fd);
void lapic_halt_disarm(struct lapic *l);

#endif
