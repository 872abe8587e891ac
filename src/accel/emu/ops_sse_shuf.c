/*
 * Lane rearrangement and shifts (MMX and SSE2): unpacks, packs with
 * saturation, shuffles, and the packed shifts by register/memory count and
 * by immediate (0F 71-73, whose r/m register is the destination).
 */
#include "accel/emu/sse.h"

#define VEC_HANDLER(op, fn)							\
	EMU_OP(op)								\
	{									\
		uint8_t s[16];							\
									\
		vsrc(cpu, i, s);						\
		fn(vreg(cpu, i->xreg, i->sz2), s, i->sz2, (unsigned)i->imm);	\
		vdone(cpu, i);							\
		return emu_next(cpu, i);					\
	}

/* Interleave elements of e bytes from the low (hi = 0) or high half. */
static inline void unpack(uint8_t *d, const uint8_t *s, unsigned n, unsigned e, unsigned hi)
{
	uint8_t r[16];
	unsigned half = hi ? n / 2 : 0;

	for (unsigned k = 0; k < n / 2; k += e) {
		memcpy(r + 2 * k, d + half + k, e);
		memcpy(r + 2 * k + e, s + half + k, e);
	}
	memcpy(d, r, n);
}

#define UNPACK(op, e, hi)							\
	static inline void f_##op(uint8_t *d, const uint8_t *s, unsigned n, unsigned imm) \
	{									\
		(void)imm;							\
		unpack(d, s, n, e, hi);						\
	}									\
	VEC_HANDLER(op_##op, f_##op)

UNPACK(punpcklbw, 1, 0)
UNPACK(punpcklwd, 2, 0)
UNPACK(punpckldq, 4, 0)
UNPACK(punpcklqdq, 8, 0)
UNPACK(punpckhbw, 1, 1)
UNPACK(punpckhwd, 2, 1)
UNPACK(punpckhdq, 4, 1)
UNPACK(punpckhqdq, 8, 1)

static inline int sat(int v, int lo, int hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* Words to bytes: d's elements fill the low half, s's the high half. */
static inline void f_packw(uint8_t *d, const uint8_t *s, unsigned n, int lo, int hi)
{
	uint8_t r[16];

	for (unsigned k = 0; k < n / 2; k++) {
		int16_t a, b;

		memcpy(&a, d + 2 * k, 2);
		memcpy(&b, s + 2 * k, 2);
		r[k] = (uint8_t)sat(a, lo, hi);
		r[n / 2 + k] = (uint8_t)sat(b, lo, hi);
	}
	memcpy(d, r, n);
}

static inline void f_packsswb(uint8_t *d, const uint8_t *s, unsigned n, unsigned imm)
{
	(void)imm;
	f_packw(d, s, n, -128, 127);
}
VEC_HANDLER(op_packsswb, f_packsswb)

static inline void f_packuswb(uint8_t *d, const uint8_t *s, unsigned n, unsigned imm)
{
	(void)imm;
	f_packw(d, s, n, 0, 255);
}
VEC_HANDLER(op_packuswb, f_packuswb)

static inline void f_packssdw(uint8_t *d, const uint8_t *s, unsigned n, unsigned imm)
{
	uint8_t r[16];

	(void)imm;
	for (unsigned k = 0; k < n / 4; k++) {
		int32_t a, b;
		int16_t ra, rb;

		memcpy(&a, d + 4 * k, 4);
		memcpy(&b, s + 4 * k, 4);
		ra = (int16_t)sat(a, -32768, 32767);
		rb = (int16_t)sat(b, -32768, 32767);
		memcpy(r + 2 * k, &ra, 2);
		memcpy(r + n / 2 + 2 * k, &rb, 2);
	}
	memcpy(d, r, n);
}
VEC_HANDLER(op_packssdw, f_packssdw)

/* Select elements of e bytes from src by 2-bit (or 1-bit) fields of imm. */
static inline void f_pshufd(uint8_t *d, const uint8_t *s, unsigned n, unsigned imm)
{
	(void)n;
	for (unsigned k = 0; k < 4; k++)
		memcpy(d + 4 * k, s + 4 * ((imm >> (2 * k)) & 3), 4);
}
VEC_HANDLER(op_pshufd, f_pshufd)

/* Four words at off (0 or 8) shuffled, the other half copied. */
static inline void shuf4w(uint8_t *d, const uint8_t *s, unsigned off, unsigned imm, unsigned n)
{
	memcpy(d, s, n);
	for (unsigned k = 0; k < 4; k++)
		memcpy(d + off + 2 * k, s + off + 2 * ((imm >> (2 * k)) & 3), 2);
}

static inline void f_pshuflw(uint8_t *d, const uint8_t *s, unsigned n, unsigned imm)
{
	shuf4w(d, s, 0, imm, n);
}
VEC_HANDLER(op_pshuflw, f_pshuflw)
VEC_HANDLER(op_pshufw, f_pshuflw)

static inline void f_pshufhw(uint8_t *d, const uint8_t *s, unsigned n, unsigned imm)
{
	shuf4w(d, s, 8, imm, n);
}
VEC_HANDLER(op_pshufhw, f_pshufhw)

static inline void f_shufps(uint8_t *d, const uint8_t *s, unsigned n, unsigned imm)
{
	uint8_t r[16];

	(void)n;
	memcpy(r, d + 4 * (imm & 3), 4);
	memcpy(r + 4, d + 4 * ((imm >> 2) & 3), 4);
	memcpy(r + 8, s + 4 * ((imm >> 4) & 3), 4);
	memcpy(r + 12, s + 4 * ((imm >> 6) & 3), 4);
	memcpy(d, r, 16);
}
VEC_HANDLER(op_shufps, f_shufps)

static inline void f_shufpd(uint8_t *d, const uint8_t *s, unsigned n, unsigned imm)
{
	uint8_t r[16];

	(void)n;
	memcpy(r, d + 8 * (imm & 1), 8);
	memcpy(r + 8, s + 8 * ((imm >> 1) & 1), 8);
	memcpy(d, r, 16);
}
VEC_HANDLER(op_shufpd, f_shufpd)

/* ---- shifts: counts above the element width give 0 (or the sign) ---- */

#define SHIFT_LANES(name, T, expr_in, expr_big)				\
	static inline void name(uint8_t *d, unsigned n, uint64_t c)		\
	{									\
		for (unsigned k = 0; k < n; k += sizeof(T)) {			\
			T a, r;							\
			memcpy(&a, d + k, sizeof(T));				\
			r = c < 8 * sizeof(T) ? (T)(expr_in) : (T)(expr_big);	\
			memcpy(d + k, &r, sizeof(T));				\
		}								\
	}

SHIFT_LANES(sh_srlw, uint16_t, a >> c, 0)
SHIFT_LANES(sh_srld, uint32_t, a >> c, 0)
SHIFT_LANES(sh_srlq, uint64_t, a >> c, 0)
SHIFT_LANES(sh_sllw, uint16_t, (uint32_t)a << c, 0)
SHIFT_LANES(sh_slld, uint32_t, a << c, 0)
SHIFT_LANES(sh_sllq, uint64_t, a << c, 0)
SHIFT_LANES(sh_sraw, int16_t, a >> c, a >> 15)
SHIFT_LANES(sh_srad, int32_t, a >> c, a >> 31)

/* By the low 64 bits of the source operand, and by imm8. The imm forms
 * name their destination in r/m; the decoder puts it in xreg. */
#define SHIFT_OPS(op, fn)							\
	EMU_OP(op_##op)								\
	{									\
		uint8_t s[16];							\
		uint64_t c;							\
									\
		vsrc(cpu, i, s);						\
		memcpy(&c, s, 8);						\
		fn(vreg(cpu, i->xreg, i->sz2), i->sz2, c);			\
		vdone(cpu, i);							\
		return emu_next(cpu, i);					\
	}									\
	EMU_OP(op_##op##_i)							\
	{									\
		sse_check(cpu);							\
		fn(vreg(cpu, i->xreg, i->sz2), i->sz2, i->imm);			\
		vdone(cpu, i);							\
		return emu_next(cpu, i);					\
	}

SHIFT_OPS(psrlw, sh_srlw)
SHIFT_OPS(psrld, sh_srld)
SHIFT_OPS(psrlq, sh_srlq)
SHIFT_OPS(psllw, sh_sllw)
SHIFT_OPS(pslld, sh_slld)
SHIFT_OPS(psllq, sh_sllq)
SHIFT_OPS(psraw, sh_sraw)
SHIFT_OPS(psrad, sh_srad)

/* Whole-register byte shifts (XMM only). */
EMU_OP(op_psrldq)
{
	uint8_t *d = cpu->xmm[i->xreg].b, r[16] = { 0 };
	unsigned c = (unsigned)i->imm;

	sse_check(cpu);
	if (c < 16)
		memcpy(r, d + c, 16 - c);
	memcpy(d, r, 16);
	return emu_next(cpu, i);
}

EMU_OP(op_pslldq)
{
	uint8_t *d = cpu->xmm[i->xreg].b, r[16] = { 0 };
	unsigned c = (unsigned)i->imm;

	sse_check(cpu);
	if (c < 16)
		memcpy(r + c, d, 16 - c);
	memcpy(d, r, 16);
	return emu_next(cpu, i);
}
