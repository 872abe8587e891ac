/*
 * The run loop. Blocks come from the decoded-instruction cache; each record
 * is one indirect call through its handler pointer. Exceptions unwind here
 * through __builtin_longjmp (a few instructions to set up, nothing per
 * instruction), leaving RIP at the faulting instruction.
 */
#include <errno.h>
#include <stdlib.h>

#include "accel/emu/codemap.h"
#include "accel/emu/icache.h"
#include "accel/emu/mem.h"
#include "accel/emu/system.h"

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
	cpu->fcw = 0x37f; /* as after FNINIT */
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

void emu_set_jit_hot(struct emu_cpu *cpu, unsigned runs)
{
	emu_ic_set_hot(cpu->ic, runs);
}

int emu_set_jit_arena(struct emu_cpu *cpu, size_t code_size)
{
	return emu_ic_set_jit_arena(cpu->ic, code_size);
}

void emu_cache_stats(const struct emu_cpu *cpu, struct emu_cache_stats *out)
{
	emu_ic_stats(cpu->ic, out);
}

void emu_request_exit(struct emu_cpu *cpu)
{
	__atomic_store_n(&cpu->exit_request, 1, __ATOMIC_RELEASE);
}

/*
 * The block after b, now that it has run and set RIP: one of b's two links
 * if they still count, else a lookup whose result becomes b's newest link.
 * A link is only made when no invalidation happened during the lookup (a
 * full flush there may even have recycled b's slot).
 */
static inline struct emu_block *next_block(struct emu_cpu *cpu, struct emu_block *b)
{
	struct emu_icache *ic = cpu->ic;
	uint32_t gen = emu_ic_gen(ic);
	struct emu_block *nb;

	if (likely(b->gen == gen)) {
		if (b->link[0].rip == RIP)
			return b->link[0].to;
		if (b->link[1].rip == RIP)
			return b->link[1].to;
	}
	nb = emu_ic_lookup(cpu);
	if (emu_ic_gen(ic) == gen && b->key && nb->key) {
		if (b->gen != gen) {
			b->gen = gen;
			b->link[1] = (struct emu_link){ 0 };
		} else {
			b->link[1] = b->link[0];
		}
		b->link[0] = (struct emu_link){ RIP, nb };
	}
	return nb;
}

/*
 * noinline: the setjmp frame must stay live while handlers run. The budget
 * and the exit request are checked at every block boundary; blocks hold at
 * most 64 instructions (a REP chunk at most 64 K elements).
 */
static __attribute__((noinline)) int run_blocks(struct emu_cpu *cpu, uint64_t end)
{
	struct emu_block *b;

	emu_code_boundary(cpu); /* stores into code, this vCPU's and the others' */
	b = emu_ic_lookup(cpu);
	cpu->icount_end = end;

	for (;;) {
		const struct emu_insn *i = b->insns;
		struct emu_jit_links *l;
		uint32_t gen;

		cpu->icount += b->n;
		cpu->jit_links = NULL;
		/* Threaded: returns 1 from the block's last record (a translation:
		 * from the last block it chained to). 0 comes from a handler
		 * written for the old loop ("return 0" to fall through instead of
		 * emu_next()): the rest of its block did not run, so fail loudly
		 * (#UD) rather than loop on it. */
		if (unlikely(!b->entry(cpu, i)))
			emu_raise(cpu, EMU_UD);
		if (unlikely(!--b->heat))
			emu_ic_hot(cpu, b);
		if (unlikely(cpu->icount >= end ||
			     __atomic_load_n(&cpu->exit_request, __ATOMIC_RELAXED)))
			break;
		l = cpu->jit_links;
		gen = emu_ic_gen(cpu->ic);
		b = next_block(cpu, b);
		if (l && emu_ic_gen(cpu->ic) == gen)
			emu_ic_link_translation(cpu, l, b);
	}
	/* Acquire: a request seen here comes with what its sender posted
	 * (code map events), which the boundary must see. */
	__atomic_exchange_n(&cpu->exit_request, 0, __ATOMIC_ACQUIRE);
	emu_code_boundary(cpu);
	return EMU_EXIT_NONE;
}

/* System mode (exception.c): faults are delivered through the guest's IDT
 * and the run goes on; a triple fault while injecting is reported here. */
int emu_run(struct emu_cpu *cpu, uint64_t max_insns)
{
	volatile uint64_t end = cpu->icount + max_insns;

	if (EMU_SETJMP(cpu->jb)) {
		if (!cpu->sys.on || !emu_sys_unwind(cpu)) {
			emu_code_boundary(cpu); /* HLT, an exception: the stores are done */
			return cpu->exit_reason;
		}
	} else if (unlikely(cpu->sys.shutdown)) {
		cpu->sys.shutdown = false;
		return EMU_EXIT_SHUTDOWN;
	}
	return run_blocks(cpu, end);
}

/* One record alone: a fused pair would run two instructions. */
static __attribute__((noinline)) int step_one(struct emu_cpu *cpu)
{
	emu_code_boundary(cpu);
	emu_fast_run_single(cpu, emu_ic_lookup(cpu)->insns);
	cpu->icount++;
	emu_code_boundary(cpu);
	return EMU_EXIT_NONE;
}

int emu_step(struct emu_cpu *cpu)
{
	if (EMU_SETJMP(cpu->jb)) {
		emu_code_boundary(cpu);
		if (!cpu->sys.on || !emu_sys_unwind(cpu))
			return cpu->exit_reason;
		return EMU_EXIT_NONE; /* the step delivered an exception */
	}
	return step_one(cpu);
}
