/*
 * Random x87/MMX/SSE state for the differential tests: XMM lanes and memory
 * mixing random bits with floating-point edge values (signed zeros,
 * infinities, quiet and signalling NaNs, denormals, the limits of integer
 * conversions), random MXCSR rounding/DAZ/FTZ, and the per-state setups of
 * the SSE forms.
 */
#include <string.h>

#include "difftest.h"

static const uint32_t f_edges[] = {
	0x00000000, 0x80000000, 0x3f800000, 0xbf800000, 0x7f800000, 0xff800000,
	0x7fc00000, 0xffc00000, 0x7fc12345, 0x7f800001, 0xff812345, 0x7fa00000,
	0x00000001, 0x807fffff, 0x00400000, 0x00800000, 0x80800000, 0x7f7fffff,
	0xff7fffff, 0x4f000000, 0xcf000000, 0x4effffff, 0xcf000001, 0x5f000000,
	0xdf000000, 0x5effffff, 0x3f000000, 0xbf000000, 0x3fc00000, 0x40200000,
	0x4b000000, 0x3effffff,
};

static const uint64_t d_edges[] = {
	0, 1ull << 63, 0x3ff0000000000000, 0xbff0000000000000, 0x7ff0000000000000,
	0xfff0000000000000, 0x7ff8000000000000, 0xfff8000000000000, 0x7ff8000012345678,
	0x7ff0000000000001, 0xfff4000000000000, 0x0000000000000001, 0x800fffffffffffff,
	0x0010000000000000, 0x7fefffffffffffff, 0xffefffffffffffff, 0x41e0000000000000,
	0xc1e0000000000000, 0x41dfffffffc00000, 0xc1e0000000200000, 0x41dfffffffe00000,
	0x43e0000000000000, 0xc3e0000000000000, 0x43dfffffffffffff, 0x3fe0000000000000,
	0x3ff8000000000000, 0x4004000000000000, 0x4330000000000000, 0x36a0000000000000,
	0x47efffffe0000000, 0x380fffffffffffff, 0x3810000000000000,
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static uint32_t f_val(struct rng *g)
{
	uint64_t r = rnd(g);

	switch (r & 3) {
	case 0: return f_edges[(r >> 8) % N(f_edges)];
	case 1: { /* a modest number: exact and inexact results both */
		float x = (float)((int64_t)(r >> 16) % 20001 - 10000) / (float)(1 + (r >> 40) % 64);
		uint32_t u;

		memcpy(&u, &x, 4);
		return u;
	}
	case 2: return f_edges[(r >> 8) % N(f_edges)] ^ (uint32_t)((r >> 40) & 3);
	default: return (uint32_t)(r >> 16);
	}
}

static uint64_t d_val(struct rng *g)
{
	uint64_t r = rnd(g);

	switch (r & 3) {
	case 0: return d_edges[(r >> 8) % N(d_edges)];
	case 1: {
		double x = (double)((int64_t)(r >> 16) % 2000001 - 1000000) /
			   (double)(1 + (r >> 40) % 1000);
		uint64_t u;

		memcpy(&u, &x, 8);
		return u;
	}
	case 2: return d_edges[(r >> 8) % N(d_edges)] ^ ((r >> 40) & 3);
	default: return rnd(g);
	}
}

/* 64 bits: two floats, a double, small integers or random bits. */
uint64_t fp_val(struct rng *g)
{
	uint64_t r = rnd(g);

	switch (r % 6) {
	case 0: case 1: return f_val(g) | (uint64_t)f_val(g) << 32;
	case 2: case 3: return d_val(g);
	case 4: return rnd_val(g);
	default: return rnd(g);
	}
}

static uint32_t mxcsr_val(struct rng *g)
{
	uint64_t r = rnd(g);
	uint32_t m = 0x1f80;

	if (r % 4 == 0)
		return m;
	m |= (uint32_t)(r >> 8) & 0x3f & (uint32_t)-((r >> 14) & 1); /* flags */
	m |= (uint32_t)((r >> 16) & 3) << 13;                      /* RC */
	if ((r >> 20) % 4 == 0)
		m |= 0x40;    /* DAZ */
	if ((r >> 24) % 4 == 0)
		m |= 0x8000;  /* FTZ */
	if ((r >> 28) % 8 == 0)
		m |= 0x20000; /* MM: misaligned SSE (AMD) */
	return m;
}

/* An FXSAVE image: x87 control and registers, MXCSR; XMM area random when
 * fp (an FXRSTOR operand). No x87 exception is pending. */
void fx_state(struct rng *g, uint8_t *fx, bool fp)
{
	uint16_t fcw = 0x37f, fsw;
	uint32_t mxcsr = mxcsr_val(g);

	memset(fx, 0, 512);
	if (rnd(g) & 1)
		fcw ^= (uint16_t)(rnd(g) & 0xf00);  /* precision and rounding */
	fsw = (uint16_t)(rnd(g) & 0x4700 & -(rnd(g) & 1)) | (uint16_t)((rnd(g) & 7) << 11);
	memcpy(fx, &fcw, 2);
	memcpy(fx + 2, &fsw, 2);
	fx[4] = (uint8_t)rnd(g);
	memcpy(fx + 24, &mxcsr, 4);
	for (unsigned k = 0; k < 8; k++) {
		uint64_t m = rnd_val(g);
		uint16_t e = (uint16_t)rnd(g);

		if (rnd(g) & 1)
			e = (rnd(g) & 1) ? 0xffff : 0x3fff;
		memcpy(fx + 32 + 16 * k, &m, 8);
		memcpy(fx + 40 + 16 * k, &e, 2);
	}
	if (fp)
		for (unsigned k = 160; k < 416; k += 8) {
			uint64_t x = fp_val(g);

			memcpy(fx + k, &x, 8);
		}
}

void fp_state(struct rng *g, struct regs *r)
{
	for (int k = 0; k < 16; k++)
		for (int b = 0; b < 16; b += 8) {
			uint64_t x = fp_val(g);

			memcpy(&r->xmm[k][b], &x, 8);
		}
	for (int k = 0; k < 4; k++) /* equal operands now and then */
		memcpy(r->xmm[rnd(g) % 16], r->xmm[rnd(g) % 16], 16);
	fx_state(g, r->fx, false);
}

void setup_fp(struct rng *g, uint8_t *area, const struct variant *v, struct regs *r,
	      uint64_t t)
{
	uint64_t x;
	uint32_t m;

	switch (v->f->su) {
	case SU_VSHIFT: /* shift counts: mostly in range */
		if (rnd(g) % 4 == 0)
			break;
		x = rnd(g) % 70;
		if (v->mem) {
			memcpy((void *)(uintptr_t)t, &x, 8);
		} else if (v->f->pfx == 0x66) {
			memcpy(r->xmm[v->rm], &x, 8);
		} else { /* mm(rm) is physical x87 register rm: ST((rm - TOP) & 7) */
			unsigned top = (r->fx[3] >> 3) & 7;

			memcpy(r->fx + 32 + 16 * ((v->rm - top) & 7), &x, 8);
		}
		break;
	case SU_FXRSTOR:
		if (!v->mem)
			break;
		fx_state(g, (uint8_t *)(uintptr_t)t, true);
		if (rnd(g) % 16 == 0) { /* reserved MXCSR bits: #GP */
			m = 0x1f80 | 1u << (16 + rnd(g) % 16);
			memcpy((void *)(uintptr_t)(t + 24), &m, 4);
		}
		break;
	case SU_LDMXCSR:
		if (!v->mem)
			break;
		m = mxcsr_val(g);
		if (rnd(g) % 16 == 0)
			m |= 1u << (16 + rnd(g) % 16);
		memcpy((void *)(uintptr_t)t, &m, 4);
		break;
	case SU_MASKMOV:
		r->gpr[7] = (uintptr_t)area + DATA_OFF + 0x400 + rnd(g) % 0x1800;
		break;
	}
}
