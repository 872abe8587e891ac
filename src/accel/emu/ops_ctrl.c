/* Near branches, stack, flag instructions, NOP family, CPUID, RDTSC, HLT. */
#include "accel/emu/fast.h"
#include "accel/emu/mem.h"
#include "accel/emu/ops.h"
#include "accel/emu/system.h"

EMU_OP(op_jcc)
{
	if (!emu_cond(cpu, i->op))
		return emu_next(cpu, i);
	return emu_jcc_taken(cpu, i, RIP + i->len + i->imm);
}

EMU_OP(op_jmp)
{
	RIP += i->len + i->imm;
	return 1;
}

EMU_OP(op_jmp_rm)
{
	RIP = rm_rd(cpu, i, 8);
	return 1;
}

/* CALL/RET: the stack slot's TLB entry is probed inline; on a miss the
 * out-of-line form takes the slow path (a tail call: the hit path keeps no
 * stack frame, as the fast handlers do). */
static __attribute__((noinline)) int call_slow(struct emu_cpu *cpu, const struct emu_insn *i)
{
	push(cpu, 8, RIP + i->len);
	RIP += i->len + i->imm;
	return 1;
}

EMU_OP(op_call)
{
	uint64_t sp = RSP - 8;
	void *p;

	if (unlikely(!fast_wr(cpu, sp, 8, &p)))
		return call_slow(cpu, i);
	st(p, 8, RIP + i->len);
	RSP = sp;
	RIP += i->len + i->imm;
	return 1;
}

EMU_OP(op_call_rm)
{
	uint64_t target = rm_rd(cpu, i, 8);

	push(cpu, 8, RIP + i->len);
	RIP = target;
	return 1;
}

static __attribute__((noinline)) int ret_slow(struct emu_cpu *cpu, const struct emu_insn *i)
{
	RIP = pop(cpu, 8);
	RSP += i->imm;
	return 1;
}

EMU_OP(op_ret)
{
	void *p;

	if (unlikely(!fast_rd(cpu, RSP, 8, &p)))
		return ret_slow(cpu, i);
	RIP = ld(p, 8);
	RSP += 8 + i->imm;
	return 1;
}

static uint64_t count_reg(const struct emu_cpu *cpu, const struct emu_insn *i)
{
	return (i->flags & I_A32) ? (uint32_t)cpu->r[1] : cpu->r[1];
}

EMU_OP(op_jrcxz)
{
	RIP += i->len + (count_reg(cpu, i) == 0 ? i->imm : 0);
	return 1;
}

/* LOOPNE (op 0), LOOPE (1), LOOP (2): count first, then the condition. */
EMU_OP(op_loop)
{
	uint64_t c = count_reg(cpu, i) - 1;
	bool take;

	if (i->flags & I_A32)
		cpu->r[1] = (uint32_t)c;
	else
		cpu->r[1] = c;
	take = (i->flags & I_A32) ? (uint32_t)c != 0 : c != 0;
	if (i->op == 0)
		take = take && !emu_cond(cpu, 4);
	else if (i->op == 1)
		take = take && emu_cond(cpu, 4);
	RIP += i->len + (take ? i->imm : 0);
	return 1;
}

EMU_OP(op_push_r)
{
	push(cpu, i->sz, reg_rd(cpu, i->reg, i->sz));
	return emu_next(cpu, i);
}

EMU_OP(op_pop_r)
{
	uint64_t v = pop(cpu, i->sz);

	reg_wr(cpu, i->reg, i->sz, v);
	return emu_next(cpu, i);
}

EMU_OP(op_push_imm)
{
	push(cpu, i->sz, i->imm);
	return emu_next(cpu, i);
}

EMU_OP(op_push_rm)
{
	push(cpu, i->sz, rm_rd(cpu, i, i->sz));
	return emu_next(cpu, i);
}

/* POP r/m: the address is computed with RSP already incremented. */
EMU_OP(op_pop_rm)
{
	uint64_t old = RSP, v = mem_rd(cpu, old, i->sz), va;

	if (!(i->flags & I_MEM)) {
		RSP = old + i->sz;
		reg_wr(cpu, i->rm, i->sz, v);
		return emu_next(cpu, i);
	}
	RSP = old + i->sz;
	va = ea(cpu, i);
	RSP = old;
	mem_wr(cpu, va, i->sz, v);
	RSP = old + i->sz;
	return emu_next(cpu, i);
}

EMU_OP(op_leave)
{
	uint64_t v = mem_rd(cpu, cpu->r[5], i->sz);

	RSP = cpu->r[5] + i->sz;
	reg_wr(cpu, 5 * 8, i->sz, v);
	return emu_next(cpu, i);
}

EMU_OP(op_pushf)
{
	push(cpu, i->sz, pushf_image(cpu));
	return emu_next(cpu, i);
}

/* Ends the block: TF and IF changes take effect at the next instruction. */
EMU_OP(op_popf)
{
	uint64_t v = pop(cpu, i->sz);

	flags_set(cpu, popf_mask(cpu, i->sz), v);
	RIP += i->len;
	return 1;
}

EMU_OP(op_lahf)
{
	reg_wr(cpu, 1, 1, (flags_get(cpu) & 0xff) | 2);
	return emu_next(cpu, i);
}

EMU_OP(op_sahf)
{
	flags_set(cpu, EMU_SF | EMU_ZF | EMU_AF | EMU_PF | EMU_CF, reg_rd(cpu, 1, 1));
	return emu_next(cpu, i);
}

EMU_OP(op_flagop)
{
	uint64_t f = flags_get(cpu);

	switch (i->op) {
	case 0xf5: f ^= EMU_CF; break;
	case 0xf8: f &= ~(uint64_t)EMU_CF; break;
	case 0xf9: f |= EMU_CF; break;
	case 0xfc: f &= ~(uint64_t)EMU_DF; break;
	default: f |= EMU_DF; break;
	}
	cpu->rflags = f;
	return emu_next(cpu, i);
}

EMU_OP(op_nop)
{
	(void)cpu;
	(void)i;
	return emu_next(cpu, i);
}

EMU_OP(op_cpuid)
{
	uint32_t out[4];

	emu_cpuid(&cpu->topo, (uint32_t)cpu->r[0], (uint32_t)cpu->r[1], out);
	cpu->r[0] = out[0];
	cpu->r[3] = out[1];
	cpu->r[1] = out[2];
	cpu->r[2] = out[3];
	return emu_next(cpu, i);
}

static uint64_t tsc(const struct emu_cpu *cpu)
{
	if (cpu->mem && cpu->mem->rdtsc)
		return cpu->mem->rdtsc(cpu->mem->opaque);
	return __builtin_ia32_rdtsc() + cpu->tsc_offset;
}

/* EDX:EAX = TSC, or #GP with CR4.TSD outside ring 0. */
static void rdtsc(struct emu_cpu *cpu)
{
	uint64_t t;

	if (unlikely(cpu->cr4 & CR4_TSD) && cpu->sys.cpl)
		emu_raise_err(cpu, EMU_GP, 0);
	t = tsc(cpu);
	cpu->r[0] = (uint32_t)t;
	cpu->r[2] = t >> 32;
}

EMU_OP(op_rdtsc)
{
	rdtsc(cpu);
	return emu_next(cpu, i);
}

EMU_OP(op_rdtscp)
{
	rdtsc(cpu);
	cpu->r[1] = (uint32_t)cpu->sys.tsc_aux;
	return emu_next(cpu, i);
}

EMU_OP(op_hlt)
{
	need_cpl0(cpu);
	RIP += i->len;
	emu_exit_now(cpu, EMU_EXIT_HLT);
}

EMU_OP(op_ud)
{
	(void)i;
	emu_raise(cpu, EMU_UD);
}

/* A trap: reported with RIP after the instruction; a software interrupt
 * for IDT delivery (gate DPL checked). */
EMU_OP(op_int3)
{
	RIP += i->len;
	emu_raise_soft(cpu, EMU_BP);
}
