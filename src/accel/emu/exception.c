/*
 * Exceptions and interrupts in long mode (system mode): delivery through the
 * 64-bit IDT with error codes, CR2, IST stacks and the TSS.RSPn stack switch,
 * #DF and the triple fault, NMI blocking, and the entry points the
 * accelerator module calls between runs. Facts from the Intel SDM vol. 3
 * ch. 6 ("Interrupt and exception handling", 64-bit mode) and the AMD APM
 * vol. 2 ch. 8.
 */
#include "accel/emu/icache.h"
#include "accel/emu/system.h"

struct gate {
	uint64_t off;
	uint16_t sel;
	uint8_t ist, type, dpl;
};

/* Vectors that push an error code when raised by the CPU. */
static bool pushes_error(unsigned vec)
{
	return vec == 8 || (vec >= 10 && vec <= 14) || vec == 17 || vec == 21;
}

static bool contributory(unsigned vec)
{
	return vec == 0 || (vec >= 10 && vec <= 13);
}

static void read_gate(struct emu_cpu *cpu, unsigned vec, uint32_t ext, struct gate *g)
{
	uint32_t err = vec * 8 + 2 + ext;
	uint8_t b[16];

	if (vec * 16 + 15 > cpu->idtr.limit)
		emu_raise_err(cpu, EMU_GP, err);
	emu_sys_read(cpu, cpu->idtr.base + vec * 16, b, 16);
	g->off = (uint64_t)(b[0] | b[1] << 8) | (uint64_t)(b[6] | b[7] << 8) << 16 |
		 (uint64_t)((uint32_t)b[8] | (uint32_t)b[9] << 8 | (uint32_t)b[10] << 16 |
			    (uint32_t)b[11] << 24) << 32;
	g->sel = (uint16_t)(b[2] | b[3] << 8);
	g->ist = b[4] & 7;
	g->type = b[5] & 0x1f;
	g->dpl = (b[5] >> 5) & 3;
	if (g->type != 0xe && g->type != 0xf)
		emu_raise_err(cpu, EMU_GP, err);
	if (!(b[5] & 0x80))
		emu_raise_err(cpu, EMU_NP, err);
}

/* A 64-bit TSS field (RSPn at 4 + 8n, ISTn at 0x24 + 8(n-1)). */
static uint64_t tss_read(struct emu_cpu *cpu, unsigned off)
{
	uint64_t v;

	if (off + 7 > cpu->sys.tr.limit || !(cpu->sys.tr.attr & EMU_SEG_P))
		emu_raise_err(cpu, EMU_TS, cpu->sys.tr.sel & 0xfffc);
	emu_sys_read(cpu, cpu->sys.tr.base + off, &v, 8);
	return v;
}

/* The handler's code segment: a present 64-bit code descriptor, DPL <= CPL. */
static uint64_t handler_cs(struct emu_cpu *cpu, uint16_t sel, uint32_t ext)
{
	uint64_t d;
	unsigned dpl;

	if (!(sel & 0xfffc))
		emu_raise_err(cpu, EMU_GP, ext);
	d = emu_desc_read(cpu, sel);
	dpl = (d >> 45) & 3;
	if (!((d >> 44) & 1) || !((d >> 43) & 1) || !((d >> 53) & 1) || dpl > cpu->sys.cpl)
		emu_raise_err(cpu, EMU_GP, (sel & 0xfffc) | ext);
	if (!((d >> 47) & 1))
		emu_raise_err(cpu, EMU_NP, (sel & 0xfffc) | ext);
	return d;
}

static void deliver(struct emu_cpu *cpu, unsigned vec, unsigned kind, bool err_code, uint32_t err)
{
	uint32_t ext = kind != EMU_EV_SOFT;
	unsigned cpl = cpu->sys.cpl, new_cpl, n = 0;
	uint64_t frame[6], d, rsp = RSP;
	struct emu_seg cs;
	struct gate g;

	read_gate(cpu, vec, ext, &g);
	if (kind == EMU_EV_SOFT && g.dpl < cpl)
		emu_raise_err(cpu, EMU_GP, vec * 8 + 2);
	d = handler_cs(cpu, g.sel, ext);
	new_cpl = ((d >> 42) & 1) ? cpl : (unsigned)((d >> 45) & 3); /* conforming: same */
	if (g.ist)
		rsp = tss_read(cpu, 0x24 + (g.ist - 1) * 8u);
	else if (new_cpl < cpl)
		rsp = tss_read(cpu, 4 + new_cpl * 8u);
	rsp &= ~15ull;
	if (err_code)
		frame[n++] = err;
	frame[n++] = RIP;
	frame[n++] = cpu->seg[EMU_SEG_CS].sel;
	frame[n++] = flags_get(cpu);
	frame[n++] = RSP;
	frame[n++] = cpu->seg[EMU_SEG_SS].sel;
	emu_sys_write(cpu, rsp - n * 8, frame, n * 8);

	/* committed: nothing below faults */
	if (new_cpl != cpl)
		emu_set_ss_null(cpu, new_cpl);
	emu_desc_to_seg(d, (uint16_t)((g.sel & 0xfffc) | new_cpl), &cs);
	emu_seg_set(cpu, EMU_SEG_CS, &cs);
	emu_set_cpl(cpu, new_cpl);
	RSP = rsp - n * 8;
	RIP = g.off;
	cpu->rflags &= ~(EMU_TF | EMU_NT | EMU_RF | EMU_VM | (g.type == 0xe ? EMU_IF : 0));
}

static bool shutdown(struct emu_cpu *cpu)
{
	cpu->sys.delivering = -1;
	cpu->exit_reason = EMU_EXIT_SHUTDOWN;
	return false;
}

bool emu_sys_unwind(struct emu_cpu *cpu)
{
	unsigned vec = cpu->exc.vector, kind = cpu->exc.kind;
	bool has_err = cpu->exc.has_err;
	uint32_t err = cpu->exc.err;

	cpu->exc.kind = EMU_EV_FAULT;
	if (cpu->exit_reason != EMU_EXIT_EXCEPTION || cpu->mode != EMU_MODE_64) {
		cpu->sys.delivering = -1;
		return false; /* HLT, exits; legacy modes report exceptions as before */
	}
	if (cpu->sys.delivering >= 0) {
		unsigned first = (unsigned)cpu->sys.delivering;

		kind = EMU_EV_FAULT;
		if (first == EMU_DF_VEC)
			return shutdown(cpu);
		/* SDM table 6-5: contributory then contributory, or #PF then
		 * contributory or #PF, make #DF; other pairs are handled serially */
		if ((contributory(first) && contributory(vec)) ||
		    (first == EMU_PF_VEC && (contributory(vec) || vec == EMU_PF_VEC))) {
			vec = EMU_DF_VEC;
			err = 0;
		}
	}
	if (kind == EMU_EV_FAULT && vec == EMU_PF_VEC)
		cpu->sys.cr2 = cpu->exc.addr;
	cpu->sys.delivering = (int16_t)vec;
	deliver(cpu, vec, kind, kind == EMU_EV_FAULT && (pushes_error(vec) || has_err), err);
	if (kind == EMU_EV_NMI)
		cpu->sys.nmi_blocked = true;
	cpu->sys.delivering = -1;
	cpu->exit_reason = EMU_EXIT_NONE;
	return true;
}

EMU_NORETURN void emu_raise_soft(struct emu_cpu *cpu, int vector)
{
	cpu->exc.vector = (uint8_t)vector;
	cpu->exc.has_err = false;
	cpu->exc.err = 0;
	cpu->exc.kind = EMU_EV_SOFT;
	emu_exit_now(cpu, EMU_EXIT_EXCEPTION);
}

/*
 * Entering CPL 3 drops the TLB entries filled with supervisor rights;
 * leaving it needs nothing (with CR0.WP and no SMEP/SMAP, what CPL 3 may do
 * with a page CPL 0 may do too; anything more takes a miss and a refill).
 */
void emu_set_cpl(struct emu_cpu *cpu, unsigned cpl)
{
	if (cpl == 3 && cpu->sys.cpl != 3)
		emu_tlb_drop_sup(cpu);
	cpu->sys.cpl = (uint8_t)cpl;
}

void emu_fpu_trap_update(struct emu_cpu *cpu)
{
	uint8_t t = 0;

	if (cpu->sys.on) {
		if ((cpu->cr0 & CR0_EM) || !(cpu->cr4 & CR4_OSFXSR))
			t |= EMU_FPU_SSE_UD;
		if (cpu->cr0 & CR0_TS)
			t |= EMU_FPU_NM;
		if (cpu->cr0 & (CR0_EM | CR0_TS))
			t |= EMU_FPU_X87_NM;
	}
	cpu->sys.fpu_trap = t;
}

void emu_sys_sse_trap(struct emu_cpu *cpu)
{
	if (cpu->sys.fpu_trap & EMU_FPU_SSE_UD)
		emu_raise(cpu, EMU_UD);
	if (cpu->sys.fpu_trap & EMU_FPU_NM)
		emu_raise(cpu, EMU_NM);
}

void emu_sys_x87_trap(struct emu_cpu *cpu)
{
	if (cpu->sys.fpu_trap & EMU_FPU_X87_NM)
		emu_raise(cpu, EMU_NM);
}

/* ---- the accelerator module's entry points ---- */

void emu_sys_enable(struct emu_cpu *cpu)
{
	cpu->sys.on = true;
	cpu->sys.delivering = -1;
	emu_fpu_trap_update(cpu);
}

bool emu_can_take_interrupt(struct emu_cpu *cpu)
{
	return cpu->sys.on && cpu->mode == EMU_MODE_64 && !cpu->wait_sipi &&
	       (cpu->rflags & EMU_IF);
}

/* Delivers cpu->exc now, outside emu_run: the setjmp frame the delivery's
 * own faults unwind to (#DF, triple fault) is this one. */
static __attribute__((noinline)) int deliver_now(struct emu_cpu *cpu)
{
	if (__builtin_setjmp(cpu->jb) == 0)
		emu_exit_now(cpu, EMU_EXIT_EXCEPTION);
	if (emu_sys_unwind(cpu))
		return EMU_EXIT_NONE;
	if (cpu->exit_reason == EMU_EXIT_SHUTDOWN)
		cpu->sys.shutdown = true; /* the next emu_run reports it */
	return cpu->exit_reason;
}

static void inject(struct emu_cpu *cpu, unsigned vec, unsigned kind)
{
	cpu->exc.vector = (uint8_t)vec;
	cpu->exc.has_err = false;
	cpu->exc.err = 0;
	cpu->exc.kind = (uint8_t)kind;
	deliver_now(cpu);
}

void emu_inject_interrupt(struct emu_cpu *cpu, uint8_t vector)
{
	inject(cpu, vector, EMU_EV_EXT);
}

/* Blocked from NMI delivery until the next IRET; one more stays pending. */
void emu_inject_nmi(struct emu_cpu *cpu)
{
	if (cpu->sys.nmi_blocked || cpu->mode != EMU_MODE_64) {
		cpu->sys.nmi_pending = true;
		return;
	}
	inject(cpu, EMU_NMI_VEC, EMU_EV_NMI);
}
