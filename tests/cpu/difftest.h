/* Differential test engine internals. */
#ifndef CPU_DIFFTEST_H
#define CPU_DIFFTEST_H

#include "harness.h"

struct rng {
	uint64_t s;
};

uint64_t rnd(struct rng *g);
uint64_t rnd_val(struct rng *g);

enum { AM_BASE, AM_SIB, AM_RIP, AM_ABS, AM_NOBASE, AM_RSP, AM_BASE2 };

struct variant {
	const struct form *f;
	uint8_t b[32];     /* the form, or a sequence around it (seq.c) */
	unsigned len, sz;
	int reg, rm, opreg;
	bool mem, fs, a32, lock, force_rex, has_rex;
	int amode, dkind, base, index, scale;
	int32_t disp;
	unsigned disp_off;
	uint64_t imm;
	unsigned imm_len;
	uint64_t t_fixed;  /* memory target for RIP/absolute/moffs forms */
	unsigned seq_fl;   /* in a sequence: FL_* + 1 of the last flag writer after the form */
	bool seq_noaf;     /* in a sequence: AF may be the setter's undefined one */
};

/* chain.c: chaining, the return-address stack and the budget; mismatches. */
struct emu_cpu;
int check_chaining(struct emu_cpu *cpu, uint8_t *area);

/* seq.c: v becomes a block around its form (setter, reader, killer); false
 * if none fits. *budget: the instructions emu_run must run. */
bool make_seq(struct rng *g, struct variant *v, unsigned *budget);

/* fpstate.c: random x87/MMX/SSE state with FP edge values, and the
 * per-state setups of the SSE forms (t: memory operand address or 0). */
uint64_t fp_val(struct rng *g);
void fx_state(struct rng *g, uint8_t *fx, bool fp);
void fp_state(struct rng *g, struct regs *r);
void setup_fp(struct rng *g, uint8_t *area, const struct variant *v, struct regs *r,
	      uint64_t t);

void make_variant(struct rng *g, const struct form *f, unsigned sz, uint8_t *area,
		  struct variant *v);

/* x87.c: x87 states and operands (SU_X87 forms), FXSAVE image comparison */
void x87_setup(struct rng *g, const struct variant *v, struct regs *r);
void x87_mem_operand(struct rng *g, const struct variant *v, uint64_t t);
void x87_fix_native(const struct variant *v, uint8_t *p);
const char *x87_diff(const uint8_t *a, const uint8_t *b);
void x87_dump(const char *what, const uint8_t *fx);
struct emu_cpu;
unsigned long x87_check_sequences(struct rng *g, struct emu_cpu *cpu, uint8_t *area,
				  uint64_t fsbase, unsigned n, unsigned long *states);

#endif
