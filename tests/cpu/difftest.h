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
	uint8_t b[16];
	unsigned len, sz;
	int reg, rm, opreg;
	bool mem, fs, a32, lock, force_rex, has_rex;
	int amode, dkind, base, index, scale;
	int32_t disp;
	unsigned disp_off;
	uint64_t imm;
	unsigned imm_len;
	uint64_t t_fixed;  /* memory target for RIP/absolute/moffs forms */
};

void make_variant(struct rng *g, const struct form *f, unsigned sz, uint8_t *area,
		  struct variant *v);

#endif
