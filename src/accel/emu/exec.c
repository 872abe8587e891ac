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

void emu_request_exit(struct emu_cpu *cpu)
{
	__atomic_store_n(&cpu->exit_request, 1, __ATOMIC_RELEASE);
}

/* Stack below the run loop's frame that chained handlers may use. */
#define CHAIN_STACK (64u << 10)

/* Back to the run loop, which looks up the block at RIP and links t to it. */
static __attribute__((noinline)) int tail_miss(struct emu_cpu *cpu, const struct emu_tail *t)
{
	cpu->tail = (void *)(uintptr_t)t;
	return 1;
}

/* A cleared link: never taken (no block starts at that RIP in any mode),
 * and if it were, it would go back to the loop. */
static EMU_OP(op_unlinked)
{
	(void)cpu;
	(void)i;
	return 1;
}

static const struct emu_insn unlinked = { .fn = op_unlinked };
static const struct emu_link no_link = { 0x8000000000000000ull, &unlinked };

/*
 * A block's end: the successor at RIP through one of the tail's links, a
 * tail call like any next record, unless the budget is spent, an exit is
 * requested, the stack ran low or the link is stale. No frame on the
 * chained path.
 */
EMU_OP(emu_block_end)
{
	const struct emu_tail *t = (const void *)i;
	const struct emu_ic_head *h = emu_ic_head(cpu->ic);
	unsigned k;

	if (unlikely(!emu_may_chain(cpu)))
		return tail_miss(cpu, t);
	if (t->link[0].rip == RIP)
		k = 0;
	else if (t->link[1].rip == RIP)
		k = 1;
	else
		return tail_miss(cpu, t);
	if (unlikely(t->local[k] ? t->lgen != h->lgen : t->gen != h->gen))
		return tail_miss(cpu, t);
	cpu->icount += t->n[k];
	return t->link[k].to->fn(cpu, t->link[k].to);
}

/* Links the current gens no longer vouch for are cleared. */
static void tail_refresh(struct emu_tail *t, const struct emu_ic_head *h)
{
	if (t->gen != h->gen) {
		t->link[0] = t->link[1] = no_link;
		t->gen = h->gen;
	}
	for (unsigned k = 0; k < 2; k++) {
		if (t->local[k] && t->lgen != h->lgen)
			t->link[k] = no_link;
	}
	t->lgen = h->lgen;
}

void emu_tail_link(struct emu_tail *t, const struct emu_icache *ic, uint64_t rip,
		   const struct emu_block *b, bool global)
{
	tail_refresh(t, emu_ic_head(ic));
	if (t->link[0].rip == rip && t->link[0].to == b->insns)
		return; /* the miss was the stack's or the budget's */
	t->link[1] = t->link[0];
	t->n[1] = t->n[0];
	t->local[1] = t->local[0];
	t->link[0] = (struct emu_link){ rip, b->insns };
	t->n[0] = (uint8_t)b->n;
	t->local[0] = !global;
}

/* The block at a CALL's return address, for RETs the return-address stack
 * predicts (icache.h). */
static void ret_link(const void *tail, const struct emu_icache *ic, const struct emu_block *b,
		     bool global)
{
	struct emu_tail *t = (struct emu_tail *)(uintptr_t)tail;
	const struct emu_ic_head *h = emu_ic_head(ic);

	if (!t->block->key)
		return; /* a dropped block's or the crossing scratch's */
	t->ret = (struct emu_ret_link){ .to = b->insns, .gen = h->gen, .lgen = h->lgen,
					.n = (uint8_t)b->n, .local = !global };
}

/*
 * The block after a miss: a lookup whose result becomes the missing tail's
 * newest link. A link is only made when no invalidation happened during the
 * lookup (a full flush there may even have recycled the tail's slots).
 */
static inline struct emu_block *next_block(struct emu_cpu *cpu)
{
	struct emu_icache *ic = cpu->ic;
	struct emu_tail *t = cpu->tail;
	uint32_t gen = emu_ic_gen(ic), lgen = emu_ic_head(ic)->lgen;
	struct emu_block *nb = emu_ic_lookup(cpu);

	bool same = emu_ic_gen(ic) == gen && emu_ic_head(ic)->lgen == lgen;

	if (same && t && t->block->key && nb->key)
		emu_tail_link(t, ic, RIP, nb, emu_ic_global(ic, RIP));
	if (same && cpu->ret_tail && cpu->ret_rip == RIP && cpu->ret_gen == gen && nb->key)
		ret_link(cpu->ret_tail, ic, nb, emu_ic_global(ic, RIP));
	return nb;
}

/*
 * noinline: the setjmp frame must stay live while handlers run. The budget
 * and the exit request are checked at every block boundary (in the tails);
 * blocks hold at most 64 instructions (a REP chunk at most 64 K elements).
 */
static __attribute__((noinline)) int run_blocks(struct emu_cpu *cpu)
{
	struct emu_block *b;

	cpu->chain_sp_floor = emu_stack_pointer() - CHAIN_STACK;
	emu_code_boundary(cpu); /* stores into code, this vCPU's and the others' */
	b = emu_ic_lookup(cpu);

	for (;;) {
		const struct emu_insn *i = b->insns;

		cpu->icount += b->n;
		cpu->tail = NULL; /* a block ending other than through its tail */
		cpu->ret_tail = NULL;
		/* Threaded: returns 1 from a tail that did not chain or from a
		 * handler that ends its block itself. 0 comes from a handler
		 * written for the old loop ("return 0" to fall through instead
		 * of emu_next()): the rest of its block did not run, so fail
		 * loudly (#UD) rather than loop on it. */
		if (unlikely(!i->fn(cpu, i)))
			emu_raise(cpu, EMU_UD);
		if (unlikely(cpu->icount >= cpu->run_end ||
			     __atomic_load_n(&cpu->exit_request, __ATOMIC_RELAXED)))
			break;
		b = next_block(cpu);
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
	cpu->run_end = cpu->icount + max_insns;
	if (EMU_SETJMP(cpu->jb)) {
		if (!cpu->sys.on || !emu_sys_unwind(cpu)) {
			emu_code_boundary(cpu); /* HLT, an exception: the stores are done */
			return cpu->exit_reason;
		}
	} else if (unlikely(cpu->sys.shutdown)) {
		cpu->sys.shutdown = false;
		return EMU_EXIT_SHUTDOWN;
	}
	return run_blocks(cpu);
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
