/*
 * Decoding of the system instructions (64-bit mode): I/O, segment register
 * moves, far returns, INT n/IRET, CLI/STI, and the 0F 00/01/05-09/20-23/
 * 30-33/A0-A9 groups. Called by decode.c / decode_0f.c for these opcodes;
 * false: not a system opcode. In legacy modes (decode16.c) only IN/OUT are
 * taken from here; the rest decodes to #UD there.
 */
#include "accel/emu/decode.h"
#include "accel/emu/ops_system.h"

static void fn_end(struct emu_insn *i, emu_fn fn)
{
	i->fn = fn;
	i->flags |= I_END;
}

/* IN/OUT imm8 or DX; INS/OUTS. op: bit 0 = out, bit 1 = port in DX. */
static void io_form(struct dstate *d, struct emu_insn *i, unsigned b)
{
	i->sz = (b & 1) ? (d->osz == 2 ? 2 : 4) : 1;
	if (b >= 0x6c && b <= 0x6f) {
		i->fn = b >= 0x6e ? op_outs : op_ins;
		if (d->rep)
			i->flags |= I_END | I_REP;
		return;
	}
	i->op = (uint8_t)(((b >> 1) & 1) | ((b & 8) ? 2 : 0));
	if (!(b & 8))
		i->imm = dec_uimm(d, 1);
	i->fn = (b & 2) ? op_out : op_in;
}

bool dec_system_one(struct dstate *d, struct emu_insn *i, unsigned b)
{
	switch (b) {
	case 0x6c ... 0x6f: case 0xe4 ... 0xe7: case 0xec ... 0xef:
		io_form(d, i, b);
		return true;
	}
	if (d->mode)
		return false;
	switch (b) {
	case 0x8c: case 0x8e:
		dec_modrm(d, i);
		i->sz = d->osz;
		dec_regs(d, i, 2, d->osz);
		i->op = d->digit;
		if (d->digit > 5 || (b == 0x8e && d->digit == EMU_SEG_CS)) {
			dec_ud(i);
			return true;
		}
		i->fn = b == 0x8c ? op_mov_from_sreg : op_mov_sreg;
		if (b == 0x8e)
			i->flags |= I_END; /* SS/FS/GS loads change what later records see */
		return true;
	case 0xca: case 0xcb:
		i->sz = d->osz == 8 ? 8 : 4;
		i->imm = b == 0xca ? dec_uimm(d, 2) : 0;
		fn_end(i, op_retf);
		return true;
	case 0xcd:
		i->imm = dec_uimm(d, 1);
		fn_end(i, op_int_n);
		return true;
	case 0xcf:
		i->sz = d->osz == 8 ? 8 : 4;
		fn_end(i, op_iret);
		return true;
	case 0xfa:
		i->fn = op_cli;
		return true;
	case 0xfb: /* not I_END: see op_sti */
		i->fn = op_sti;
		return true;
	}
	return false;
}

/* 0F 00: SLDT STR LLDT LTR (VERR/VERW: #UD, unused by Linux). */
static void grp6(struct dstate *d, struct emu_insn *i)
{
	static const emu_fn fns[4] = { op_sldt, op_str, op_lldt, op_ltr };

	dec_modrm(d, i);
	i->sz = d->osz;
	dec_regs(d, i, 2, d->osz);
	if (d->digit > 3) {
		dec_ud(i);
		return;
	}
	i->op = d->digit;
	i->fn = fns[d->digit];
	if (d->digit >= 2)
		i->flags |= I_END;
}

/* 0F 01 with a register operand: SWAPGS, RDTSCP, SMSW, LMSW. */
static void grp7_reg(struct dstate *d, struct emu_insn *i, uint8_t m)
{
	if (m == 0xf8) {
		i->fn = op_swapgs;
	} else if (m == 0xf9) {
		i->fn = op_rdtscp;
	} else if (d->digit == 4) {
		i->fn = op_smsw;
	} else if (d->digit == 6) {
		fn_end(i, op_lmsw);
	} else {
		dec_ud(i);
	}
}

static void grp7(struct dstate *d, struct emu_insn *i)
{
	static const emu_fn mem_fns[8] = { op_sgdt, op_sidt, op_lgdt, op_lidt,
					   op_smsw, NULL, op_lmsw, op_invlpg };
	uint8_t m = d->pos < d->avail ? d->p[d->pos] : 0;

	dec_modrm(d, i);
	i->sz = d->osz;
	dec_regs(d, i, d->osz, d->osz);
	i->op = d->digit;
	if (!(i->flags & I_MEM)) {
		grp7_reg(d, i, m);
		return;
	}
	if (!mem_fns[d->digit]) {
		dec_ud(i);
		return;
	}
	i->fn = mem_fns[d->digit];
	if (d->digit >= 2 && d->digit != 4)
		i->flags |= I_END;
}

/* MOV to/from CRn/DRn: ModRM.reg (+REX.R) is the number, r/m a 64-bit GPR. */
static void mov_cr_dr(struct dstate *d, struct emu_insn *i, unsigned b)
{
	static const emu_fn fns[4] = { op_mov_from_cr, op_mov_from_dr, op_mov_to_cr, op_mov_to_dr };
	uint8_t m = d->pos < d->avail ? d->p[d->pos] : 0;

	d->pos++;
	if (d->pos > d->avail)
		d->short_input = true;
	i->op = (uint8_t)(((m >> 3) & 7) | ((d->rex & 4) << 1));
	i->rm = (uint8_t)(((m & 7) | ((d->rex & 1) << 3)) * 8);
	i->sz = 8;
	i->fn = fns[b & 3];
	if (b & 2)
		i->flags |= I_END;
}

bool dec_system_0f(struct dstate *d, struct emu_insn *i, unsigned b)
{
	switch (b) {
	case 0x00: case 0x01: case 0x05 ... 0x09: case 0x20 ... 0x23:
	case 0x30: case 0x32: case 0x33: case 0xa0: case 0xa1: case 0xa8: case 0xa9:
		break;
	default:
		return false;
	}
	if (d->mode) {
		dec_ud(i);
		return true;
	}
	switch (b) {
	case 0x00: grp6(d, i); break;
	case 0x01: grp7(d, i); break;
	case 0x05: fn_end(i, op_syscall); break;
	case 0x06: i->fn = op_clts; break;
	case 0x07: i->sz = d->osz == 8 ? 8 : 4; fn_end(i, op_sysret); break;
	case 0x08: case 0x09: i->fn = op_wbinvd; break;
	case 0x20 ... 0x23: mov_cr_dr(d, i, b); break;
	case 0x30: fn_end(i, op_wrmsr); break;
	case 0x32: i->fn = op_rdmsr; break;
	case 0x33: i->fn = op_rdpmc; break;
	default: /* PUSH/POP FS/GS */
		i->sz = d->osz == 2 ? 2 : 8;
		i->op = (b & 8) ? EMU_SEG_GS : EMU_SEG_FS;
		i->fn = (b & 1) ? op_pop_sreg : op_push_sreg;
		break;
	}
	return true;
}
