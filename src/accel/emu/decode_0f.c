/* The two-byte (0F) opcode map: integer instructions; SSE goes to dec_sse. */
#include "accel/emu/decode.h"
#include "accel/emu/ops_system.h"

/* BT/BTS/BTR/BTC r/m, r (i->op = 0..3) and 0F BA /4-7 r/m, imm8. */
static void bt_form(struct dstate *d, struct emu_insn *i, unsigned b)
{
	if (b == 0xba) {
		dec_rm_form(d, i, op_bt, d->osz);
		if (d->digit < 4) {
			dec_ud(i);
			return;
		}
		i->op = d->digit - 4;
		i->imm = dec_uimm(d, 1);
		i->sz2 = 1; /* immediate bit offset */
	} else {
		dec_rm_form(d, i, op_bt, d->osz);
		i->op = (b >> 3) & 3;
	}
	d->lockable = i->op != 0;
}

static void shxd_form(struct dstate *d, struct emu_insn *i, unsigned b)
{
	dec_rm_form(d, i, op_shxd, d->osz);
	i->op = b >= 0xac; /* 0 = SHLD, 1 = SHRD */
	if (b & 1) {
		i->sz2 = 1; /* count in CL */
	} else {
		i->sz2 = 0;
		i->imm = dec_uimm(d, 1);
	}
}

static void movx_form(struct dstate *d, struct emu_insn *i, unsigned b)
{
	unsigned src = (b & 1) ? 2 : 1;

	dec_modrm(d, i);
	i->sz = d->osz;
	i->sz2 = (uint8_t)src;
	i->fn = b < 0xb8 ? op_movzx : op_movsx;
	dec_regs(d, i, d->osz, src);
}

static void bitscan_form(struct dstate *d, struct emu_insn *i, unsigned b)
{
	if (b == 0xb8) {
		if (d->rep != 0xf3) {
			dec_ud(i);
			return;
		}
		dec_rm_form(d, i, op_popcnt, d->osz);
		return;
	}
	if (d->rep == 0xf3)
		dec_rm_form(d, i, b == 0xbc ? op_tzcnt : op_lzcnt, d->osz);
	else
		dec_rm_form(d, i, b == 0xbc ? op_bsf : op_bsr, d->osz);
}

static void grp9(struct dstate *d, struct emu_insn *i)
{
	dec_modrm(d, i);
	if (d->digit != 1 || !(i->flags & I_MEM)) {
		dec_ud(i);
		return;
	}
	i->sz = (d->rex & 8) ? 16 : 8;
	i->fn = op_cmpxchg16b;
	d->lockable = true;
}

/* 0F AE: fences and CLFLUSH are no-ops for an in-order interpreter. */
static void grp15(struct dstate *d, struct emu_insn *i)
{
	unsigned save = d->pos;

	dec_modrm(d, i);
	if (d->rep == 0 && !d->pfx66 &&
	    ((d->mod == 3 && d->digit >= 5) || (d->mod != 3 && d->digit == 7))) {
		i->fn = op_nop;
		return;
	}
	d->pos = save;
	d->riprel = false;
	*i = (struct emu_insn){ .base = EMU_ZERO, .index = EMU_ZERO };
	if (!dec_sse(d, i, 0xae))
		dec_ud(i);
}

static void misc_0f(struct dstate *d, struct emu_insn *i, unsigned b)
{
	if (dec_system_0f(d, i, b)) /* decode_system.c */
		return;
	switch (b) {
	case 0x01:
		if (d->pos < d->avail && d->p[d->pos] == 0xf9) { /* RDTSCP */
			d->pos++;
			i->fn = op_rdtscp;
			return;
		}
		break;
	case 0x0d: case 0x18 ... 0x1f: /* prefetches, hint NOPs, ENDBR */
		dec_rm_form(d, i, op_nop, d->osz);
		return;
	case 0x31:
		i->fn = op_rdtsc;
		return;
	case 0xa2:
		i->fn = op_cpuid;
		return;
	case 0xaf:
		dec_rm_form(d, i, op_imul2, d->osz);
		return;
	case 0xb0: case 0xb1:
		dec_rm_form(d, i, op_cmpxchg, (b & 1) ? d->osz : 1);
		d->lockable = true;
		return;
	case 0xc0: case 0xc1:
		dec_rm_form(d, i, op_xadd, (b & 1) ? d->osz : 1);
		d->lockable = true;
		return;
	case 0xc7:
		grp9(d, i);
		return;
	case 0xae:
		grp15(d, i);
		return;
	}
	if (!dec_sse(d, i, b))
		dec_ud(i);
}

void dec_0f(struct dstate *d, struct emu_insn *i, unsigned b)
{
	switch (b) {
	case 0x40 ... 0x4f:
		dec_rm_form(d, i, op_cmovcc, d->osz);
		i->op = b & 15;
		break;
	case 0x80 ... 0x8f: /* not I_END: a block goes on after a Jcc not taken */
		i->op = b & 15;
		i->imm = dec_simm(d, 4);
		i->fn = op_jcc;
		break;
	case 0x90 ... 0x9f:
		dec_rm_form(d, i, op_setcc, 1);
		i->op = b & 15;
		break;
	case 0xa3: case 0xab: case 0xb3: case 0xbb: case 0xba:
		bt_form(d, i, b);
		break;
	case 0xa4: case 0xa5: case 0xac: case 0xad:
		shxd_form(d, i, b);
		break;
	case 0xb6: case 0xb7: case 0xbe: case 0xbf:
		movx_form(d, i, b);
		break;
	case 0xb8: case 0xbc: case 0xbd:
		bitscan_form(d, i, b);
		break;
	case 0xc8 ... 0xcf:
		i->sz = d->osz;
		i->rm = (uint8_t)(((b & 7) | ((d->rex & 1) << 3)) * 8);
		i->fn = op_bswap;
		break;
	default:
		misc_0f(d, i, b);
	}
}
