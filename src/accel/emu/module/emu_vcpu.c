/*
 * vCPUs of accel-emu.so: creation, boot state, the run loop, kicks.
 *
 * The run loop interleaves interpreter slices with the LAPIC: before each
 * slice it fires due timers and delivers INIT/SIPI/NMI/interrupts; HLT
 * sleeps in the LAPIC until an interrupt, a timer deadline or a kick.
 * Another thread's IPI, MSI or irqfd reaches a running vCPU through the
 * LAPIC's wake callback (emu_request_exit), so it is seen within a block.
 */
#include <errno.h>
#include <inttypes.h>

#include "accel/emu/module/emu_mod.h"

/* Instructions per slice: stop requests and timers are noticed well within
 * a millisecond at interpreter speed (~300 MIPS). */
#define SLICE_INSNS 100000
/* Slice while an interrupt waits for IF or the STI/MOV SS shadow. */
#define BLOCKED_SLICE_INSNS 1000

void emu_vcpu_wake(void *opaque)
{
	struct accel_vcpu *v = opaque;

	if (atomic_load_explicit(&v->created, memory_order_acquire))
		emu_request_exit(&v->cpu);
}

static bool stopping(const struct accel_vcpu *v)
{
	const struct accel_host *h = v->vm->host;

	return h->should_stop(h->opaque);
}

static int vcpu_create(struct accel_vm *vm, unsigned index, struct accel_vcpu **out)
{
	struct accel_vcpu *v;
	int err;

	if (index >= vm->ncpus)
		return -EINVAL;
	v = &vm->vcpu[index];
	if (atomic_load(&v->created))
		return -EEXIST;
	emu_vcpu_mem_init(v);
	v->mem.code = vm->code;
	err = emu_cpu_init(&v->cpu, &v->mem);
	if (err)
		return err;
	emu_set_jit_hot(&v->cpu, vm->jit_hot);
	if (vm->code)
		emu_codemap_attach(vm->code, index, &v->cpu);
	v->cpu.topo = (struct emu_cpu_topo){ .apic_id = index, .ncpus = vm->ncpus };
	v->kvmclock = 0;
	v->halted = false;
	/* Every vCPU starts in the INIT state; the BSP then gets its boot
	 * state, the others wait for a SIPI. */
	emu_cpu_init_signal(&v->cpu);
	v->cpu.topo = (struct emu_cpu_topo){ .apic_id = index, .ncpus = vm->ncpus };
	emu_sys_enable(&v->cpu);
	v->waiting_sipi = true;
	atomic_store_explicit(&v->created, true, memory_order_release);
	*out = v;
	return 0;
}

/* The speed a guest saw, for benchmarks (--log-level info). */
static void log_speed(const struct accel_vcpu *v)
{
	double busy = (double)(v->run_ns - v->idle_ns) / 1e9;
	struct emu_cache_stats st;

	if (!v->run_ns)
		return;
	emu_cache_stats(&v->cpu, &st);
	emu_log(v->vm, ACCEL_LOG_INFO,
		"emu: vCPU %u: %" PRIu64 " blocks decoded, %" PRIu64 " translated, %" PRIu64
		" page drops, %" PRIu64 " flushes, %" PRIu64 " translation arena refills, %.1f MiB"
		" of translations", v->index, st.decoded, st.translated, st.page_drops, st.flushes,
		st.jit_restarts, (double)st.jit_bytes / (1 << 20));
	emu_log(v->vm, ACCEL_LOG_INFO,
		"emu: vCPU %u: %.1f M instructions in %.2f s (%.2f s halted or waiting): "
		"%.0f MIPS while running", v->index, (double)v->cpu.icount / 1e6,
		(double)v->run_ns / 1e9, (double)v->idle_ns / 1e9,
		busy > 0 ? (double)v->cpu.icount / 1e6 / busy : 0.0);
}

static void vcpu_destroy(struct accel_vcpu *v)
{
	if (!v || !atomic_load(&v->created))
		return;
	log_speed(v);
	atomic_store(&v->created, false);
	if (v->vm->code)
		emu_codemap_detach(v->vm->code, v->index);
	emu_cpu_fini(&v->cpu);
}

static int vcpu_set_boot_state(struct accel_vcpu *v, const struct cpu_boot_state *st)
{
	int err = emu_cpu_load_state(&v->cpu, st);

	if (err)
		return err;
	emu_sys_enable(&v->cpu);
	v->waiting_sipi = false;
	v->halted = false;
	return 0;
}

/* INIT resets the CPU into wait-for-SIPI; a SIPI starts a waiting CPU and is
 * discarded otherwise (a stale one must not stay latched). */
static void take_init_sipi(struct accel_vcpu *v, uint32_t ev)
{
	uint8_t vec = 0;

	if (ev & LAPIC_EV_INIT) {
		lapic_take(v->lapic, LAPIC_EV_INIT, NULL);
		emu_cpu_init_signal(&v->cpu);
		v->cpu.topo = (struct emu_cpu_topo){ .apic_id = v->index, .ncpus = v->vm->ncpus };
		v->waiting_sipi = true;
	}
	if ((ev & LAPIC_EV_SIPI) && lapic_take(v->lapic, LAPIC_EV_SIPI, &vec) && v->waiting_sipi) {
		emu_cpu_sipi(&v->cpu, vec);
		v->waiting_sipi = false;
		v->halted = false;
	}
}

/* Delivers what is pending; returns the instruction budget of the next slice. */
static uint64_t deliver_events(struct accel_vcpu *v)
{
	uint32_t ev = lapic_events(v->lapic);
	int vec;

	if (!ev)
		return SLICE_INSNS;
	if (ev & (LAPIC_EV_INIT | LAPIC_EV_SIPI)) {
		take_init_sipi(v, ev);
		if (v->waiting_sipi)
			return 0;
	}
	if (ev & LAPIC_EV_NMI) {
		lapic_take(v->lapic, LAPIC_EV_NMI, NULL);
		emu_inject_nmi(&v->cpu);
	}
	if (!(ev & LAPIC_EV_INTR))
		return SLICE_INSNS;
	if (!emu_can_take_interrupt(&v->cpu))
		return BLOCKED_SLICE_INSNS;
	vec = lapic_ack(v->lapic);
	if (vec >= 0)
		emu_inject_interrupt(&v->cpu, (uint8_t)vec);
	return SLICE_INSNS;
}

/* What ends a HLT (or the wait-for-SIPI state). */
static uint32_t wake_mask(const struct accel_vcpu *v, bool intr)
{
	if (v->waiting_sipi)
		return LAPIC_EV_INIT | LAPIC_EV_SIPI;
	return LAPIC_EV_INIT | LAPIC_EV_SIPI | LAPIC_EV_NMI | (intr ? LAPIC_EV_INTR : 0);
}

/*
 * HLT or wait-for-SIPI: sleeps in the LAPIC until something the CPU acts
 * on, the timer deadline, or a kick. True when the CPU resumes; false on a
 * timeout or kick (the caller re-checks should_stop and the timers).
 */
static bool vcpu_wait(struct accel_vcpu *v)
{
	struct lapic *l = v->lapic;
	bool intr = !v->waiting_sipi && (emu_get_rflags(&v->cpu) & EMU_IF);
	uint32_t mask = wake_mask(v, intr), ev;

	if (v->waiting_sipi && (lapic_events(l) & LAPIC_EV_NMI))
		lapic_take(l, LAPIC_EV_NMI, NULL); /* blocked in wait-for-SIPI */
	ev = lapic_events(l) & mask;
	if (!ev) {
		emu_irq_halt(v, intr, v->waiting_sipi ? UINT64_MAX : emu_timers_deadline(v));
		ev = lapic_events(l) & mask;
	}
	if (!ev)
		return false;
	v->halted = false;
	return true;
}

static void report_exception(struct accel_vcpu *v)
{
	const struct emu_cpu *c = &v->cpu;

	emu_log(v->vm, ACCEL_LOG_ERROR,
		"emu: vCPU %u: unhandled exception vector %u (error 0x%x, address 0x%" PRIx64
		") at rip 0x%" PRIx64 ", stopping",
		v->index, c->exc.vector, c->exc.has_err ? c->exc.err : 0, c->exc.addr,
		c->r[EMU_RIP]);
}

/* As accel-kvm: code in MMIO cannot run, so the VM stops with one line. */
static void report_unbacked_fetch(struct accel_vcpu *v)
{
	emu_log(v->vm, ACCEL_LOG_ERROR,
		"emu: vCPU %u: cannot execute from MMIO/unbacked address 0x%" PRIx64
		" (rip 0x%" PRIx64 "), stopping", v->index, v->cpu.exit_gpa, v->cpu.r[EMU_RIP]);
}

/* One slice and its exit; false when the run loop must return. */
static bool run_slice(struct accel_vcpu *v, uint64_t budget)
{
	const struct accel_host *h = v->vm->host;

	switch (emu_run(&v->cpu, budget)) {
	case EMU_EXIT_NONE:
		return true;
	case EMU_EXIT_HLT:
		v->halted = true;
		return true;
	case EMU_EXIT_SHUTDOWN:
		emu_log(v->vm, ACCEL_LOG_INFO, "emu: vCPU %u: triple fault, resetting", v->index);
		h->request_stop(h->opaque, ACCEL_STOP_RESET);
		return false;
	case EMU_EXIT_FETCH_UNBACKED:
		report_unbacked_fetch(v);
		h->request_stop(h->opaque, ACCEL_STOP_ERROR);
		return false;
	default:
		report_exception(v);
		h->request_stop(h->opaque, ACCEL_STOP_ERROR);
		return false;
	}
}

static bool timed_wait(struct accel_vcpu *v)
{
	uint64_t t0 = emu_host_ns();
	bool woke = vcpu_wait(v);

	v->idle_ns += emu_host_ns() - t0;
	return woke;
}

static void run_loop(struct accel_vcpu *v)
{
	uint64_t budget;

	for (;;) {
		if (stopping(v))
			return;
		emu_timers_check(v);
		if ((v->halted || v->waiting_sipi) && !timed_wait(v))
			continue;
		budget = deliver_events(v);
		if (v->waiting_sipi)
			continue;
		if (!run_slice(v, budget))
			return;
	}
}

static int vcpu_run(struct accel_vcpu *v)
{
	uint64_t t0 = emu_host_ns();

	run_loop(v);
	v->run_ns += emu_host_ns() - t0;
	return 0;
}

static void vcpu_kick(struct accel_vcpu *v)
{
	emu_vcpu_wake(v);
	lapic_kick(v->lapic);
}

const struct accel_vcpu_ops emu_vcpu_ops = {
	.create = vcpu_create,
	.destroy = vcpu_destroy,
	.set_boot_state = vcpu_set_boot_state,
	.run = vcpu_run,
	.kick = vcpu_kick,
};
