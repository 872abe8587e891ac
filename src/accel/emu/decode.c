/*
 * 64-bit long-mode decoder: prefixes, REX, ModRM/SIB, displacement and
 * immediate, into one struct emu_insn with its handler chosen. Operand size,
 * register byte offsets and RIP-relative displacements are resolved here so
 * that handlers do no decoding work.
 */
#include "accel/emu/decode.h"
#include "accel/emu/ops_system.h"

static uint8_t fetch(struct dstate *d)
{
	if (d->pos >= d->avail) {
		d->short_input = true;
		return 0x90;
	}
	return d->p[d->pos++];
}

static uint64_t fetch_n(struct dstate *d, unsigned n)
{
	uint64_t v = 0;

	for (unsigned k = 0; k < n; k++)
		v |= (uint64_t)fetch(d) << (8 * k);
	return v;
}

/* Immediates of n bytes, sign-extended to 64 bits. */
uint64_t dec_simm(struct dstate *d, unsigned n)
{
	uint64_t v = fetch_n(d, n);

	return n == 8 ? v : (uint64_t)sext(v, n);
}

uint64_t dec_uimm(struct dstate *d, unsigned n)
{
	return fetch_n(d, n);
}

/* Byte offset of register n in cpu->r for an operand of size sz. */
static uint8_t reg_off(const struct dstate *d, unsigned n, unsigned sz)
{
	if (sz == 1 && !d->rex && n >= 4 && n < 8)
		return (uint8_t)((n - 4) * 8 + 1); /* AH, CH, DH, BH */
	return (uint8_t)(n * 8);
}

void dec_regs(const struct dstate *d, struct emu_insn *i, unsigned regsz, unsigned rmsz)
{
	i->reg = reg_off(d, d->reg, regsz);
	if (!(i->flags & I_MEM))
		i->rm = reg_off(d, d->rmn, rmsz);
}

void dec_modrm(struct dstate *d, struct emu_insn *i)
{
	uint8_t m;
	unsigned mod, rm;

	if (d->mode) {
		dec_modrm_legacy(d, i);
		return;
	}
	m = fetch(d);
	mod = m >> 6;
	rm = m & 7;
	d->mod = mod;
	d->digit = (m >> 3) & 7;
	d->reg = d->digit | ((d->rex & 4) << 1);
	i->base = EMU_ZERO;
	i->index = EMU_ZERO;
	i->scale = 0;
	if (mod == 3) {
		d->rmn = rm | ((d->rex & 1) << 3);
		return;
	}
	i->flags |= I_MEM;
	if (rm == 4) {
		uint8_t sib = fetch(d);
		unsigned idx = ((sib >> 3) & 7) | ((d->rex & 2) << 2);
		unsigned base = (sib & 7) | ((d->rex & 1) << 3);

		i->scale = sib >> 6;
		if (idx != 4)
			i->index = (uint8_t)idx;
		if ((sib & 7) == 5 && mod == 0)
			i->disp = (int32_t)fetch_n(d, 4);
		else
			i->base = (uint8_t)base;
	} else if (rm == 5 && mod == 0) {
		i->base = EMU_RIP;
		i->disp = (int32_t)fetch_n(d, 4);
		d->riprel = true;
	} else {
		i->base = (uint8_t)(rm | ((d->rex & 1) << 3));
	}
	if (mod == 1)
		i->disp = (int8_t)fetch(d);
	else if (mod == 2)
		i->disp = (int32_t)fetch_n(d, 4);
}

static unsigned imm_size(unsigned sz)
{
	return sz == 8 ? 4 : sz;
}

static void alu_form(struct dstate *d, struct emu_insn *i, unsigned b)
{
	unsigned sz = (b & 1) ? d->osz : 1;

	i->op = (b >> 3) & 7;
	switch (b & 7) {
	case 0: case 1:
		dec_rm_form(d, i, op_alu_rm_r, sz);
		if (!(i->flags & I_MEM))
			i->fn = emu_alu_r_r[i->op];
		d->lockable = i->op != ALU_CMP;
		break;
	case 2: case 3:
		dec_rm_form(d, i, op_alu_r_rm, sz);
		break;
	case 4: case 5: /* AL/eAX, imm: register form of r/m, imm */
		i->sz = (uint8_t)sz;
		i->rm = 0;
		i->imm = dec_simm(d, imm_size(sz));
		i->fn = emu_alu_r_imm[i->op];
		break;
	default:
		dec_ud(i);
	}
}

static void grp1(struct dstate *d, struct emu_insn *i, unsigned b)
{
	unsigned sz = b == 0x80 ? 1 : d->osz;

	dec_rm_form(d, i, op_alu_rm_imm, sz);
	i->op = d->digit;
	i->imm = dec_simm(d, b == 0x81 ? imm_size(sz) : 1);
	if (!(i->flags & I_MEM))
		i->fn = emu_alu_r_imm[i->op];
	d->lockable = i->op != ALU_CMP;
}

static void grp3(struct dstate *d, struct emu_insn *i, unsigned b)
{
	static const emu_fn fns[8] = { op_test_rm_imm, op_test_rm_imm, op_not, op_neg,
				       op_mul, op_imul1, op_div, op_idiv };
	unsigned sz = b == 0xf6 ? 1 : d->osz;

	dec_rm_form(d, i, NULL, sz);
	i->fn = fns[d->digit];
	if (d->digit < 2)
		i->imm = dec_simm(d, imm_size(sz));
	d->lockable = d->digit == 2 || d->digit == 3;
}

static void grp45(struct dstate *d, struct emu_insn *i, unsigned b)
{
	unsigned sz = b == 0xfe ? 1 : d->osz;

	dec_rm_form(d, i, NULL, sz);
	i->op = d->digit;
	switch (d->digit) {
	case 0: case 1:
		i->fn = op_incdec;
		d->lockable = true;
		return;
	case 2: case 4:
		if (b == 0xfe)
			break;
		i->sz = 8;
		dec_regs(d, i, 8, 8);
		i->fn = d->digit == 2 ? op_call_rm : op_jmp_rm;
		i->flags |= I_END;
		return;
	case 6:
		if (b == 0xfe)
			break;
		i->sz = d->osz == 2 ? 2 : 8;
		dec_regs(d, i, i->sz, i->sz);
		i->fn = op_push_rm;
		return;
	}
	dec_ud(i);
}

static void shift_form(struct dstate *d, struct emu_insn *i, unsigned b)
{
	unsigned sz = (b & 1) ? d->osz : 1;

	dec_rm_form(d, i, op_shift, sz);
	i->op = d->digit;
	if (b == 0xc0 || b == 0xc1) {
		i->sz2 = 2;
		i->imm = dec_uimm(d, 1);
	} else {
		i->sz2 = (b & 2) ? 1 : 0; /* D2/D3: count in CL; D0/D1: 1 */
		i->imm = 1;
	}
	if (d->digit == 6) /* SAL alias */
		i->op = 4;
}

static void string_form(struct dstate *d, struct emu_insn *i, unsigned b)
{
	static const emu_fn fns[] = { op_movs, op_cmps, NULL, op_stos, op_lods, op_scas };

	i->sz = (b & 1) ? d->osz : 1;
	i->fn = fns[(b - 0xa4) >> 1];
	/* A REP string instruction re-runs itself in chunks: it ends the block. */
	if (d->rep)
		i->flags |= I_END | (d->rep == 0xf3 ? I_REP : I_REPNE);
}

static void push_pop_reg(struct dstate *d, struct emu_insn *i, unsigned b)
{
	unsigned n = (b & 7) | ((d->rex & 1) << 3);

	i->sz = d->osz == 2 ? 2 : 8;
	i->reg = (uint8_t)(n * 8);
	i->fn = b < 0x58 ? op_push_r : op_pop_r;
}

static void branch_rel(struct dstate *d, struct emu_insn *i, emu_fn fn, unsigned n)
{
	i->imm = dec_simm(d, n);
	i->fn = fn;
	i->flags |= I_END;
}

static void mov_imm_reg(struct dstate *d, struct emu_insn *i, unsigned b)
{
	unsigned n = (b & 7) | ((d->rex & 1) << 3);
	unsigned sz = b < 0xb8 ? 1 : d->osz;

	i->sz = (uint8_t)sz;
	i->rm = reg_off(d, n, sz);
	i->imm = dec_uimm(d, sz);
	i->fn = op_mov_rm_imm;
}

static void moffs(struct dstate *d, struct emu_insn *i, unsigned b)
{
	i->sz = (b & 1) ? d->osz : 1;
	i->imm = dec_uimm(d, d->asz);
	i->fn = b < 0xa2 ? op_mov_acc_moffs : op_mov_moffs_acc;
}

static void xchg_acc(struct dstate *d, struct emu_insn *i, unsigned b)
{
	unsigned n = (b & 7) | ((d->rex & 1) << 3);

	if (n == 0) { /* 90: NOP, F3 90: PAUSE */
		i->fn = op_nop;
		return;
	}
	i->sz = d->osz;
	i->reg = 0;
	i->rm = (uint8_t)(n * 8);
	i->fn = op_xchg;
}

void dec_one_byte(struct dstate *d, struct emu_insn *i, unsigned b)
{
	switch (b) {
	case 0x00 ... 0x3f:
		alu_form(d, i, b);
		break;
	case 0x50 ... 0x5f:
		push_pop_reg(d, i, b);
		break;
	case 0x63: /* MOVSXD (without REX.W: a 32-bit move) */
		dec_rm_form(d, i, op_movsx, d->osz);
		i->sz2 = d->osz == 8 ? 4 : d->osz;
		dec_regs(d, i, d->osz, i->sz2);
		break;
	case 0x68: case 0x6a:
		i->sz = d->osz == 2 ? 2 : 8;
		i->imm = dec_simm(d, b == 0x6a ? 1 : (d->osz == 2 ? 2 : 4));
		i->fn = op_push_imm;
		break;
	case 0x69: case 0x6b:
		dec_rm_form(d, i, op_imul3, d->osz);
		i->imm = dec_simm(d, b == 0x6b ? 1 : imm_size(d->osz));
		break;
	case 0x70 ... 0x7f: /* not I_END: a block goes on after a Jcc not taken */
		i->op = b & 15;
		i->imm = dec_simm(d, 1);
		i->fn = op_jcc;
		break;
	case 0x80: case 0x81: case 0x83:
		grp1(d, i, b);
		break;
	case 0x84: case 0x85:
		dec_rm_form(d, i, op_test_rm_r, (b & 1) ? d->osz : 1);
		break;
	case 0x86: case 0x87:
		dec_rm_form(d, i, op_xchg, (b & 1) ? d->osz : 1);
		d->lockable = true;
		break;
	case 0x88: case 0x89:
		dec_rm_form(d, i, op_mov_rm_r, (b & 1) ? d->osz : 1);
		if (i->sz >= 4)
			i->fn = (i->flags & I_MEM) ? op_mov_m_r : op_mov_r_r;
		break;
	case 0x8a: case 0x8b:
		dec_rm_form(d, i, op_mov_r_rm, (b & 1) ? d->osz : 1);
		if (i->sz >= 4 && (i->flags & I_MEM)) {
			i->fn = op_mov_r_m;
		} else if (i->sz >= 4) { /* op_mov_r_r copies reg to rm: swap them */
			uint8_t t = i->reg;

			i->reg = i->rm;
			i->rm = t;
			i->fn = op_mov_r_r;
		}
		break;
	case 0x8d:
		dec_rm_form(d, i, op_lea, d->osz);
		if (!(i->flags & I_MEM))
			dec_ud(i);
		break;
	case 0x8f:
		i->sz = d->osz == 2 ? 2 : 8;
		dec_rm_form(d, i, op_pop_rm, i->sz);
		if (d->digit)
			dec_ud(i);
		break;
	case 0x90 ... 0x97:
		xchg_acc(d, i, b);
		break;
	case 0x98:
		i->sz = d->osz;
		i->fn = op_cbw;
		break;
	case 0x99:
		i->sz = d->osz;
		i->fn = op_cwd;
		break;
	case 0x9b: /* FWAIT: #MF if an x87 exception is pending */
		i->fn = op_fwait;
		break;
	case 0x9c:
		i->sz = d->osz == 2 ? 2 : 8;
		i->fn = op_pushf;
		break;
	case 0x9d:
		i->sz = d->osz == 2 ? 2 : 8;
		i->fn = op_popf;
		i->flags |= I_END;
		break;
	case 0x9e:
		i->fn = op_sahf;
		break;
	case 0x9f:
		i->fn = op_lahf;
		break;
	case 0xa0 ... 0xa3:
		moffs(d, i, b);
		break;
	case 0xa4 ... 0xa7: case 0xaa ... 0xaf:
		string_form(d, i, b);
		break;
	case 0xa8: case 0xa9:
		i->sz = (b & 1) ? d->osz : 1;
		i->rm = 0;
		i->imm = dec_simm(d, imm_size(i->sz));
		i->fn = op_test_rm_imm;
		break;
	case 0xb0 ... 0xbf:
		mov_imm_reg(d, i, b);
		break;
	case 0xc0: case 0xc1: case 0xd0 ... 0xd3:
		shift_form(d, i, b);
		break;
	case 0xc2: case 0xc3:
		i->imm = b == 0xc2 ? dec_uimm(d, 2) : 0;
		i->fn = op_ret;
		i->flags |= I_END;
		break;
	case 0xc6: case 0xc7:
		dec_rm_form(d, i, op_mov_rm_imm, (b & 1) ? d->osz : 1);
		i->imm = dec_simm(d, imm_size(i->sz));
		if (d->digit)
			dec_ud(i);
		break;
	case 0xc9:
		i->sz = d->osz == 2 ? 2 : 8;
		i->fn = op_leave;
		break;
	case 0xcc:
		i->fn = op_int3;
		i->flags |= I_END;
		break;
	case 0xd8 ... 0xdf:
		dec_x87(d, i, b);
		break;
	case 0xe0 ... 0xe2:
		i->op = b & 3;
		branch_rel(d, i, op_loop, 1);
		break;
	case 0xe3:
		branch_rel(d, i, op_jrcxz, 1);
		break;
	case 0xe8:
		branch_rel(d, i, op_call, 4);
		break;
	case 0xe9:
		branch_rel(d, i, op_jmp, 4);
		break;
	case 0xeb:
		branch_rel(d, i, op_jmp, 1);
		break;
	case 0xf4:
		i->fn = op_hlt;
		i->flags |= I_END;
		break;
	case 0xf5: case 0xf8 ... 0xf9: case 0xfc ... 0xfd:
		i->op = (uint8_t)b;
		i->fn = op_flagop;
		break;
	case 0xf6: case 0xf7:
		grp3(d, i, b);
		break;
	case 0xfe: case 0xff:
		grp45(d, i, b);
		break;
	default:
		if (!dec_system_one(d, i, b)) /* decode_system.c */
			dec_ud(i);
	}
}

/* Legacy prefixes (any order), then REX immediately before the opcode. */
static unsigned prefixes(struct dstate *d)
{
	for (;;) {
		uint8_t b = fetch(d);

		switch (b) {
		case 0x66: d->osz = 2; d->pfx66 = true; continue;
		case 0x67: d->asz = 4; continue;
		case 0xf0: d->lock = true; continue;
		case 0xf2: case 0xf3: d->rep = b; continue;
		case 0x64: d->seg = 1; continue;
		case 0x65: d->seg = 2; continue;
		case 0x26: case 0x2e: case 0x36: case 0x3e: continue; /* no effect in 64-bit */
		}
		if ((b & 0xf0) == 0x40) {
			d->rex = b;
			if (b & 8)
				d->osz = 8;
			b = fetch(d);
			if ((b & 0xf0) == 0x40 || b == 0x66 || b == 0x67 || b == 0xf0 ||
			    b == 0xf2 || b == 0xf3 || b == 0x64 || b == 0x65) {
				/* a prefix after REX cancels it: restart the scan */
				d->rex = 0;
				d->osz = d->pfx66 ? 2 : 4;
				d->pos--;
				continue;
			}
		}
		return b;
	}
}

unsigned emu_decode(struct emu_insn *i, const uint8_t *bytes, unsigned avail)
{
	struct dstate d = { .p = bytes, .avail = avail > 15 ? 15 : avail, .osz = 4, .asz = 8 };
	unsigned b;

	*i = (struct emu_insn){ .base = EMU_ZERO, .index = EMU_ZERO };
	b = prefixes(&d);
	if (d.rex & 8)
		d.osz = 8;
	if (b == 0x0f)
		dec_0f(&d, i, fetch(&d));
	else
		dec_one_byte(&d, i, b);

	if (d.short_input) {
		if (avail < 15)
			return 0;
		dec_ud(i); /* longer than 15 bytes: #GP on hardware, close enough */
	}
	i->seg = d.seg;
	if (d.asz == 4)
		i->flags |= I_A32;
	if (d.lock) {
		if (!d.lockable || !(i->flags & I_MEM))
			dec_ud(i);
		i->flags |= I_LOCK;
	}
	i->len = (uint8_t)d.pos;
	if (d.riprel) {
		int64_t disp = (int64_t)i->disp + d.pos;

		if (disp == (int32_t)disp)
			i->disp = (int32_t)disp;
		else
			i->flags |= I_RIPX;
	}
	return d.pos;
}
