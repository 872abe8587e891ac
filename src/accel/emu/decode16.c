/*
 * The decoder outside 64-bit mode (real mode, 16/32-bit protected mode):
 * mode-dependent operand and address sizes (66/67 flip the default), 16-bit
 * ModRM addressing, default segments (SS for BP/SP-based forms, DS
 * otherwise; always a real segbase slot, never the 64-bit "none"), no REX
 * (40-4F are INC/DEC), and the opcodes that only exist here. Everything
 * whose meaning does not depend on the mode goes to the 64-bit tables.
 */
#include "accel/emu/decode.h"
#include "accel/emu/legacy.h"

static uint8_t fetch1(struct dstate *d)
{
	return (uint8_t)dec_uimm(d, 1);
}

/* 16-bit forms by r/m: BX+SI, BX+DI, BP+SI, BP+DI, SI, DI, BP (disp16), BX. */
static const uint8_t rm16_base[8] = { 3, 3, 5, 5, 6, 7, 5, 3 };
static const uint8_t rm16_index[8] = { 6, 7, 6, 7, EMU_ZERO, EMU_ZERO, EMU_ZERO, EMU_ZERO };

static void modrm16(struct dstate *d, struct emu_insn *i, unsigned mod, unsigned rm)
{
	if (mod == 0 && rm == 6) {
		i->disp = (int16_t)dec_uimm(d, 2);
		return;
	}
	i->base = rm16_base[rm];
	i->index = rm16_index[rm];
	if (rm == 2 || rm == 3 || rm == 6)
		d->defseg = EMU_SB_SS;
	if (mod == 1)
		i->disp = (int8_t)fetch1(d);
	else if (mod == 2)
		i->disp = (int16_t)dec_uimm(d, 2);
}

/* 32-bit forms: as in long mode without REX, and mod 0 r/m 5 is disp32. */
static void modrm32(struct dstate *d, struct emu_insn *i, unsigned mod, unsigned rm)
{
	unsigned base = rm;

	if (rm == 4) {
		uint8_t sib = fetch1(d);
		unsigned idx = (sib >> 3) & 7;

		i->scale = sib >> 6;
		if (idx != 4)
			i->index = (uint8_t)idx;
		base = sib & 7;
		if (base == 5 && mod == 0) {
			i->disp = (int32_t)dec_uimm(d, 4);
			return;
		}
	} else if (rm == 5 && mod == 0) {
		i->disp = (int32_t)dec_uimm(d, 4);
		return;
	}
	i->base = (uint8_t)base;
	if (base == 4 || base == 5)
		d->defseg = EMU_SB_SS;
	if (mod == 1)
		i->disp = (int8_t)fetch1(d);
	else if (mod == 2)
		i->disp = (int32_t)dec_uimm(d, 4);
}

void dec_modrm_legacy(struct dstate *d, struct emu_insn *i)
{
	uint8_t m = fetch1(d);
	unsigned mod = m >> 6, rm = m & 7;

	d->mod = (uint8_t)mod;
	d->digit = (m >> 3) & 7;
	d->reg = d->digit;
	i->base = EMU_ZERO;
	i->index = EMU_ZERO;
	i->scale = 0;
	if (mod == 3) {
		d->rmn = (uint8_t)rm;
		return;
	}
	i->flags |= I_MEM;
	if (d->asz == 2)
		modrm16(d, i, mod, rm);
	else
		modrm32(d, i, mod, rm);
}

/* Memory-only forms (far pointers, descriptor tables, LES/LDS...). */
static bool modrm_mem(struct dstate *d, struct emu_insn *i, emu_fn fn)
{
	dec_modrm(d, i);
	i->sz = d->osz;
	i->fn = fn;
	if (!(i->flags & I_MEM)) {
		dec_ud(i);
		return false;
	}
	dec_regs(d, i, d->osz, d->osz);
	return true;
}

static void branch(struct dstate *d, struct emu_insn *i, emu_fn fn, unsigned immsz)
{
	i->sz = d->osz;
	i->imm = dec_simm(d, immsz);
	i->fn = fn;
	i->flags |= I_END;
}

/* Sreg in ModRM.reg: ES CS SS DS FS GS; 6 and 7 do not exist. */
static void mov_sreg(struct dstate *d, struct emu_insn *i, unsigned b)
{
	dec_modrm(d, i);
	i->sz = (i->flags & I_MEM) ? 2 : d->osz;
	dec_regs(d, i, i->sz, i->sz);
	i->op = d->digit;
	i->fn = b == 0x8c ? op_l_mov_rm_sreg : op_l_mov_sreg_rm;
	if (d->digit >= EMU_NSEG || (b == 0x8e && d->digit == EMU_SEG_CS))
		dec_ud(i);
}

static void far_ptr(struct dstate *d, struct emu_insn *i, emu_fn fn)
{
	i->sz = d->osz;
	i->imm = dec_uimm(d, d->osz);
	i->disp = (int32_t)dec_uimm(d, 2); /* the selector */
	i->fn = fn;
	i->flags |= I_END;
}

static void grp5(struct dstate *d, struct emu_insn *i)
{
	static const emu_fn fns[8] = { op_incdec, op_incdec, op_l_call_rm, op_l_callf_m,
				       op_l_jmp_rm, op_l_jmpf_m, op_l_push_rm, op_ud };

	dec_modrm(d, i);
	i->sz = d->osz;
	i->op = d->digit;
	i->fn = fns[d->digit];
	dec_regs(d, i, d->osz, d->osz);
	d->lockable = d->digit < 2;
	if (d->digit >= 2 && d->digit != 6)
		i->flags |= I_END;
	if (d->digit == 7 || ((d->digit == 3 || d->digit == 5) && !(i->flags & I_MEM)))
		dec_ud(i);
}

static void stack_one(struct dstate *d, struct emu_insn *i, unsigned b)
{
	switch (b) {
	case 0x06: case 0x0e: case 0x16: case 0x1e:
		i->sz = d->osz;
		i->op = (uint8_t)(b >> 3);
		i->fn = op_l_push_sreg;
		break;
	case 0x07: case 0x17: case 0x1f:
		i->sz = d->osz;
		i->op = (uint8_t)(b >> 3);
		i->fn = op_l_pop_sreg;
		break;
	case 0x50 ... 0x5f:
		i->sz = d->osz;
		i->reg = (uint8_t)((b & 7) * 8);
		i->fn = b < 0x58 ? op_l_push_r : op_l_pop_r;
		break;
	case 0x60: case 0x61:
		i->sz = d->osz;
		i->fn = b == 0x60 ? op_l_pusha : op_l_popa;
		break;
	case 0x68: case 0x6a:
		i->sz = d->osz;
		i->imm = dec_simm(d, b == 0x6a ? 1 : d->osz);
		i->fn = op_l_push_imm;
		break;
	case 0x8f:
		dec_modrm(d, i);
		i->sz = d->osz;
		i->fn = op_l_pop_rm;
		dec_regs(d, i, d->osz, d->osz);
		if (d->digit)
			dec_ud(i);
		break;
	case 0x9c:
		i->sz = d->osz;
		i->fn = op_l_pushf;
		break;
	case 0x9d:
		i->sz = d->osz;
		i->fn = op_l_popf;
		i->flags |= I_END;
		break;
	default: /* 0xc9 */
		i->sz = d->osz;
		i->fn = op_l_leave;
	}
}

static void ctrl_one(struct dstate *d, struct emu_insn *i, unsigned b)
{
	switch (b) {
	case 0x70 ... 0x7f:
		i->op = b & 15;
		branch(d, i, op_l_jcc, 1);
		break;
	case 0x9a:
		far_ptr(d, i, op_l_callf_ptr);
		break;
	case 0xea:
		far_ptr(d, i, op_l_jmpf_ptr);
		break;
	case 0xc2: case 0xc3: case 0xca: case 0xcb:
		i->sz = d->osz;
		i->imm = (b & 1) ? 0 : dec_uimm(d, 2);
		i->fn = b < 0xca ? op_l_ret : op_l_retf;
		i->flags |= I_END;
		break;
	case 0xe0 ... 0xe2:
		i->op = b & 3;
		branch(d, i, op_l_loop, 1);
		break;
	case 0xe3:
		branch(d, i, op_l_jcxz, 1);
		break;
	case 0xe8:
		branch(d, i, op_l_call, d->osz);
		break;
	case 0xe9:
		branch(d, i, op_l_jmp, d->osz);
		break;
	default: /* 0xeb */
		branch(d, i, op_l_jmp, 1);
	}
}

/* One-byte opcodes whose legacy meaning differs; false: use the 64-bit map. */
static bool legacy_one_byte(struct dstate *d, struct emu_insn *i, unsigned b)
{
	switch (b) {
	case 0x06: case 0x07: case 0x0e: case 0x16: case 0x17: case 0x1e: case 0x1f:
	case 0x50 ... 0x5f: case 0x60: case 0x61: case 0x68: case 0x6a:
	case 0x8f: case 0x9c: case 0x9d: case 0xc9:
		stack_one(d, i, b);
		return true;
	case 0x70 ... 0x7f: case 0x9a: case 0xea: case 0xc2: case 0xc3: case 0xca: case 0xcb:
	case 0xe0 ... 0xe3: case 0xe8: case 0xe9: case 0xeb:
		ctrl_one(d, i, b);
		return true;
	case 0x40 ... 0x4f: /* INC/DEC r: the register form of FE/FF /0, /1 */
		i->sz = d->osz;
		i->rm = (uint8_t)((b & 7) * 8);
		i->op = (b >> 3) & 1;
		i->fn = op_incdec;
		return true;
	case 0x8c: case 0x8e:
		mov_sreg(d, i, b);
		return true;
	case 0x8d:
		dec_modrm(d, i);
		i->sz = d->osz;
		i->fn = op_l_lea;
		dec_regs(d, i, d->osz, d->osz);
		if (!(i->flags & I_MEM))
			dec_ud(i);
		return true;
	case 0xc4: case 0xc5: /* LES, LDS (never VEX here: no AVX) */
		if (modrm_mem(d, i, op_l_lxs))
			i->op = b == 0xc4 ? EMU_SEG_ES : EMU_SEG_DS;
		return true;
	case 0xfa: case 0xfb:
		i->fn = b == 0xfa ? op_l_cli : op_l_sti;
		i->flags |= b == 0xfb ? I_END : 0; /* the STI shadow: at least a block end */
		return true;
	case 0xff:
		grp5(d, i);
		return true;
	/* BCD adjusts, BOUND, ARPL, INTO, INT n, IRET, SALC, XLAT, string I/O:
	 * not used on Linux's AP start path. */
	case 0x27: case 0x2f: case 0x37: case 0x3f: case 0x62: case 0x63:
	case 0xcd: case 0xce: case 0xcf: case 0xd4: case 0xd5: case 0xd6:
		dec_ud(i);
		return true;
	case 0xa4 ... 0xa7: case 0xaa ... 0xaf:
		/* the string handlers know no ES base nor 16-bit SI/DI */
		if (d->asz == 2)
			dec_ud(i);
		return d->asz == 2;
	}
	return false;
}

/* 0F 01: LGDT/LIDT (/2, /3) with 16/32-bit operands, LMSW (/6). */
static void grp7(struct dstate *d, struct emu_insn *i)
{
	unsigned save = d->pos;

	dec_modrm(d, i);
	if (d->digit == 2 || d->digit == 3) {
		i->sz = d->osz;
		i->fn = d->digit == 2 ? op_l_lgdt : op_l_lidt;
		if (!(i->flags & I_MEM))
			dec_ud(i);
		return;
	}
	if (d->digit == 6) {
		i->sz = 2;
		i->fn = op_l_lmsw;
		i->flags |= I_END;
		dec_regs(d, i, 2, 2);
		return;
	}
	/* everything else as the 64-bit map has it */
	d->pos = save;
	*i = (struct emu_insn){ .base = EMU_ZERO, .index = EMU_ZERO };
	d->defseg = EMU_SB_DS;
	dec_0f(d, i, 0x01);
}

static bool legacy_0f(struct dstate *d, struct emu_insn *i, unsigned b)
{
	switch (b) {
	case 0x01:
		grp7(d, i);
		return true;
	case 0x05: case 0x07: case 0x34: case 0x35: /* SYSCALL/SYSRET/SYSENTER/SYSEXIT */
		dec_ud(i);
		return true;
	case 0x08: case 0x09: /* INVD/WBINVD: no caches to write back */
		i->fn = op_nop;
		return true;
	case 0x20: case 0x22: { /* MOV from/to CRn: always 32-bit operands here */
		uint8_t m = fetch1(d);

		i->op = (m >> 3) & 7;
		i->rm = (uint8_t)((m & 7) * 8);
		i->sz = 4;
		i->fn = b == 0x20 ? op_l_mov_from_cr : op_l_mov_to_cr;
		if (b == 0x22)
			i->flags |= I_END;
		if (i->op == 1 || i->op > 4)
			dec_ud(i);
		return true;
	}
	case 0x30:
		i->fn = op_l_wrmsr;
		i->flags |= I_END;
		return true;
	case 0x32:
		i->fn = op_l_rdmsr;
		return true;
	case 0x80 ... 0x8f:
		i->op = b & 15;
		branch(d, i, op_l_jcc, d->osz);
		return true;
	case 0xa0: case 0xa8:
		i->sz = d->osz;
		i->op = b == 0xa0 ? EMU_SEG_FS : EMU_SEG_GS;
		i->fn = op_l_push_sreg;
		return true;
	case 0xa1: case 0xa9:
		i->sz = d->osz;
		i->op = b == 0xa1 ? EMU_SEG_FS : EMU_SEG_GS;
		i->fn = op_l_pop_sreg;
		return true;
	case 0xb2: case 0xb4: case 0xb5: /* LSS, LFS, LGS */
		if (modrm_mem(d, i, op_l_lxs))
			i->op = b == 0xb2 ? EMU_SEG_SS : b == 0xb4 ? EMU_SEG_FS : EMU_SEG_GS;
		return true;
	}
	return false;
}

/* Prefixes: 66/67 flip the mode's default; segment overrides are real. */
static unsigned legacy_prefixes(struct dstate *d, unsigned def)
{
	static const uint8_t sb[4] = { EMU_SB_ES, EMU_SB_CS, EMU_SB_SS, EMU_SB_DS };

	for (;;) {
		uint8_t b = fetch1(d);

		switch (b) {
		case 0x66: d->osz = (uint8_t)(6 - def); d->pfx66 = true; continue;
		case 0x67: d->asz = (uint8_t)(6 - def); continue;
		case 0xf0: d->lock = true; continue;
		case 0xf2: case 0xf3: d->rep = b; continue;
		case 0x26: case 0x2e: case 0x36: case 0x3e: d->seg = sb[(b >> 3) & 3]; continue;
		case 0x64: d->seg = EMU_SB_FS; continue;
		case 0x65: d->seg = EMU_SB_GS; continue;
		}
		return b;
	}
}

unsigned emu_decode_mode(struct emu_insn *i, const uint8_t *bytes, unsigned avail, unsigned mode)
{
	unsigned def = mode == EMU_MODE_16 ? 2 : 4, b;
	struct dstate d = { .p = bytes, .avail = avail > 15 ? 15 : avail, .mode = (uint8_t)mode,
			    .osz = (uint8_t)def, .asz = (uint8_t)def, .defseg = EMU_SB_DS };

	if (mode == EMU_MODE_64)
		return emu_decode(i, bytes, avail);
	*i = (struct emu_insn){ .base = EMU_ZERO, .index = EMU_ZERO };
	b = legacy_prefixes(&d, def);
	if (b == 0x0f) {
		b = fetch1(&d);
		if (!legacy_0f(&d, i, b))
			dec_0f(&d, i, b);
	} else if (!legacy_one_byte(&d, i, b)) {
		dec_one_byte(&d, i, b);
	}
	if (d.short_input) {
		if (avail < 15)
			return 0;
		dec_ud(i);
	}
	i->seg = d.seg ? d.seg : d.defseg;
	i->flags |= d.asz == 2 ? I_A16 : I_A32;
	if (d.lock) {
		if (!d.lockable || !(i->flags & I_MEM))
			dec_ud(i);
		i->flags |= I_LOCK;
	}
	i->len = (uint8_t)d.pos;
	return d.pos;
}
