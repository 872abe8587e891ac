/*
 * x86-64 encoding for translations (jit_x86.h). Memory operands always
 * carry a displacement (mod 01 or 10), so H_RBP/R13 bases need no special
 * case; only the eight legacy registers are used.
 */
#include "accel/emu/jit_x86.h"

static void prefixes(struct emit *e, unsigned size, unsigned reg, unsigned base, int index)
{
	uint8_t rex = 0x40;

	if (size == 2)
		put1(e, 0x66);
	if (size == 8)
		rex |= 8;
	if (reg & 8)
		rex |= 4;
	if (index >= 0 && (index & 8))
		rex |= 2;
	if (base & 8)
		rex |= 1;
	if (rex != 0x40)
		put1(e, rex);
}

void x_mem(struct emit *e, unsigned size, const uint8_t *op, unsigned oplen, unsigned reg,
	   unsigned base, int index, unsigned scale, int32_t disp)
{
	bool d8 = disp == (int8_t)disp;
	uint8_t mod = d8 ? 0x40 : 0x80;

	prefixes(e, size, reg, base, index);
	put(e, op, oplen);
	if (index >= 0 || (base & 7) == H_RSP) {
		put1(e, (uint8_t)(mod | (reg & 7) << 3 | 4));
		put1(e, (uint8_t)(scale << 6 | (index >= 0 ? (unsigned)index & 7 : 4) << 3 |
				  (base & 7)));
	} else {
		put1(e, (uint8_t)(mod | (reg & 7) << 3 | (base & 7)));
	}
	if (d8)
		put1(e, (uint8_t)disp);
	else
		put4(e, (uint32_t)disp);
}

void x_rr(struct emit *e, unsigned size, uint8_t op, unsigned reg, unsigned rm)
{
	prefixes(e, size, reg, rm, X_NOINDEX);
	put1(e, op);
	put1(e, (uint8_t)(0xc0 | (reg & 7) << 3 | (rm & 7)));
}

void x_load(struct emit *e, unsigned h, unsigned base, int32_t disp, unsigned sz)
{
	switch (sz) {
	case 1: x_mem(e, 4, (const uint8_t[]){ 0x0f, 0xb6 }, 2, h, base, X_NOINDEX, 0, disp); break;
	case 2: x_mem(e, 4, (const uint8_t[]){ 0x0f, 0xb7 }, 2, h, base, X_NOINDEX, 0, disp); break;
	default: x_mem(e, sz, (const uint8_t[]){ 0x8b }, 1, h, base, X_NOINDEX, 0, disp); break;
	}
}

void x_load_sx(struct emit *e, unsigned h, unsigned base, int32_t disp, unsigned sz)
{
	switch (sz) {
	case 1: x_mem(e, 8, (const uint8_t[]){ 0x0f, 0xbe }, 2, h, base, X_NOINDEX, 0, disp); break;
	case 2: x_mem(e, 8, (const uint8_t[]){ 0x0f, 0xbf }, 2, h, base, X_NOINDEX, 0, disp); break;
	case 4: x_mem(e, 8, (const uint8_t[]){ 0x63 }, 1, h, base, X_NOINDEX, 0, disp); break;
	default: x_load(e, h, base, disp, 8); break;
	}
}

void x_store(struct emit *e, unsigned h, unsigned base, int32_t disp, unsigned sz)
{
	if (sz == 1)
		x_mem(e, 1, (const uint8_t[]){ 0x88 }, 1, h, base, X_NOINDEX, 0, disp);
	else
		x_mem(e, sz, (const uint8_t[]){ 0x89 }, 1, h, base, X_NOINDEX, 0, disp);
}

void x_imm(struct emit *e, unsigned h, uint64_t v)
{
	if (v == (uint32_t)v) {
		put1(e, (uint8_t)(0xb8 + h)); /* mov r32, imm32: zero-extends */
		put4(e, (uint32_t)v);
	} else if (fits32((int64_t)v)) {
		x_rr(e, 8, 0xc7, 0, h); /* mov r64, simm32 */
		put4(e, (uint32_t)v);
	} else {
		put1(e, 0x48);
		put1(e, (uint8_t)(0xb8 + h));
		put8(e, v);
	}
}

void x_add_cpu(struct emit *e, int32_t disp, int32_t v)
{
	if (!v)
		return;
	x_mem(e, 8, (const uint8_t[]){ 0x81 }, 1, 0, H_RBX, X_NOINDEX, 0, disp); /* add m64, imm32 */
	put4(e, (uint32_t)v);
}

void x_call(struct emit *e, uintptr_t target)
{
	int64_t d = (int64_t)(target - (here_rx(e) + 5));

	if (fits32(d)) {
		put1(e, 0xe8);
		put4(e, (uint32_t)d);
		return;
	}
	x_imm(e, H_RAX, target);
	put(e, (const uint8_t[]){ 0xff, 0xd0 }, 2); /* call rax */
}

void x_patch(struct emit *e, uint8_t *rel, uintptr_t target)
{
	uintptr_t after = (uintptr_t)rel + 4 + (uintptr_t)e->to_rx;
	uint32_t d = (uint32_t)(int32_t)(int64_t)(target - after);

	if (!e->full)
		memcpy(rel, &d, 4);
}

uint8_t *x_jmp(struct emit *e, uintptr_t target)
{
	uint8_t *rel;

	put1(e, 0xe9);
	rel = e->p;
	put4(e, 0);
	x_patch(e, rel, target);
	return rel;
}

uint8_t *x_jcc(struct emit *e, unsigned cc, uintptr_t target)
{
	uint8_t *rel;

	put1(e, 0x0f);
	put1(e, (uint8_t)(0x80 | cc));
	rel = e->p;
	put4(e, 0);
	x_patch(e, rel, target);
	return rel;
}
