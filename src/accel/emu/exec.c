/*
 * The run loop. Blocks come from the decoded-instruction cache; each record
 * is one indirect call through its handler pointer. Exceptions unwind here
 * through __builtin_longjmp (a few instructions to set up, nothing per
 * instruction), leaving RIP at the faulting instruction.
 */
#include <errno.h>
#include <stdlib.h>

#include "accel/emu/icache.h"
#include "accel/emu/mem.h"

/* GCC's light-weight setjmp: saves only the frame and stack pointers. */
#define EMU_SETJMP(buf) __builtin_setjmp(buf)
#define EMU_LONGJMP(buf) __builtin_longjmp(buf, 1)

EMU_NORETURN void emu_exit_now(struct emu_cpu *cpu, int reason)
{
	cpu->exit_reason = (uint8_t)reason;
	EMU_LONGJMP(cpu->jb);
}

EMU_NORETURN void emu_raise_err(struct emu_cpu *cpu, int vector, uint32_t err)
{
	cpu->exc.vector = (uint8_t)vector;
	cpu->exc.has_err = true;
	cpu->exc.err = err;
	emu_exit_now(cpu, EMU_EXIT_EXCEPTION);
}

EMU_NORETURN void emu_raise(struct emu_cpu *cpu, int vector)
{
	cpu->exc.vector = (uint8_t)vector;
	cpu->exc.has_err = false;
	cpu->exc.err = 0;
	emu_exit_now(cpu, EMU_EXIT_EXCEPTION);
}

int emu_cpu_init(struct emu_cpu *cpu, const struct emu_mem *mem)
{
	int ret;

	memset(cpu, 0, sizeof(*cpu));
	cpu->mem = mem;
	cpu->rflags = 2;
	cpu->mxcsr = 0x1f80;
	emu_tlb_flush(cpu);
	ret = emu_ic_create(&cpu->ic, mem);
	if (ret < 0)
		return ret;
	return 0;
}

void emu_cpu_fini(struct emu_cpu *cpu)
{
	emu_ic_destroy(cpu->ic);
	cpu->ic = NULL;
}

void emu_icache_flush(struct emu_cpu *cpu)
{
	emu_ic_flush(cpu->ic);
	emu_tlb_flush(cpu);
}

/* noinline: the setjmp frame must stay live while handlers run. */
static __attribute__((noinline)) int run_blocks(struct emu_cpu *cpu, uint64_t end)
{
	while (cpu->icount < end) {
		unsigned n;
		const struct emu_insn *i = emu_ic_fetch(cpu, &n);

		cpu->icount += n;
		while (!i->fn(cpu, i)) {
			RIP += i->len;
			i++;
		}
	}
	return EMU_EXIT_NONE;
}

int emu_run(struct emu_cpu *cpu, uint64_t max_insns)
{
	if (EMU_SETJMP(cpu->jb))
		return cpu->exit_reason;
	return run_blocks(cpu, cpu->icount + max_insns);
}

static __attribute__((noinline)) int step_one(struct emu_cpu *cpu)
{
	unsigned n;
	const struct emu_insn *i = emu_ic_fetch(cpu, &n);

	if (!i->fn(cpu, i))
		RIP += i->len;
	cpu->icount++;
	return EMU_EXIT_NONE;
}

int emu_step(struct emu_cpu *cpu)
{
	if (EMU_SETJMP(cpu->jb))
		return cpu->exit_reason;
	return step_one(cpu);
}
