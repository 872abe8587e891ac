/*
 * SSE/SSE2/MMX decoding (0F map): one table indexed by opcode and mandatory
 * prefix (none, 66, F3, F2; F2/F3 win over 66), plus the few irregular
 * groups (0F 71-73 shifts by immediate, CMPccPS, 0F AE, EMMS). See sse.h
 * for how the operands land in struct emu_insn.
 */
#include "accel/emu/sse.h"
#include "accel/emu/decode.h"

/* operand kinds: ModRM.reg operand, then r/m operand */
enum {
	K_X = 1, /* xmm, xmm/mem */
	K_M,     /* mm, mm/mem */
	K_XG,    /* xmm, r/m (GPR or memory) */
	K_MG,    /* mm, r/m */
	K_GX,    /* GPR, xmm/mem */
	K_GM,    /* GPR, mm/mem */
	K_G,     /* GPR, mem (MOVNTI) */
};

/* entry flags */
#define E_IMM 0x01     /* imm8 follows */
#define E_MEM 0x02     /* memory form only */
#define E_REG 0x04     /* register form only */
#define E_SWAP 0x08    /* register form: destination is r/m (xreg <-> rm) */

struct sse_ent {
	emu_fn fn;
	emu_fn rfn;      /* register-form handler, if it differs */
	uint8_t kind;
	uint8_t msz;     /* memory operand bytes; 0 with a G kind: 4 or 8 by REX.W */
	uint8_t fl;
};

enum { P_NONE, P_66, P_F3, P_F2 };

#define X(f, n) { f, NULL, K_X, n, 0 }
#define M(f, n) { f, NULL, K_M, n, 0 }
/* MMX form without prefix, SSE2 form with 66 */
#define MX(f) { [P_NONE] = M(f, 8), [P_66] = X(f, 16) }
/* packed single, packed double, scalar single, scalar double */
#define PSD(n) { [P_NONE] = X(op_##n##ps, 16), [P_66] = X(op_##n##pd, 16), \
		 [P_F3] = X(op_##n##ss, 4), [P_F2] = X(op_##n##sd, 8) }
#define XX(f) { [P_NONE] = X(f, 16), [P_66] = X(f, 16) }

/* the table starts at opcode 10h */
#define OP(b) [(b) - 0x10]

static const struct sse_ent table[0xf0][4] = {
	OP(0x10) = { [P_NONE] = X(op_movu_load, 16), [P_66] = X(op_movu_load, 16),
		   [P_F3] = { op_movs_load, op_movss_rr, K_X, 4, 0 },
		   [P_F2] = { op_movs_load, op_movsd_rr, K_X, 8, 0 } },
	OP(0x11) = { [P_NONE] = X(op_movu_store, 16), [P_66] = X(op_movu_store, 16),
		   [P_F3] = { op_movs_store, op_movss_rr, K_X, 4, E_SWAP },
		   [P_F2] = { op_movs_store, op_movsd_rr, K_X, 8, E_SWAP } },
	OP(0x12) = { [P_NONE] = { op_movlo_load, op_movhlps, K_X, 8, 0 },
		   [P_66] = { op_movlo_load, NULL, K_X, 8, E_MEM } },
	OP(0x13) = { [P_NONE] = { op_movlo_store, NULL, K_X, 8, E_MEM },
		   [P_66] = { op_movlo_store, NULL, K_X, 8, E_MEM } },
	OP(0x14) = { [P_NONE] = X(op_punpckldq, 16), [P_66] = X(op_punpcklqdq, 16) },
	OP(0x15) = { [P_NONE] = X(op_punpckhdq, 16), [P_66] = X(op_punpckhqdq, 16) },
	OP(0x16) = { [P_NONE] = { op_movhi_load, op_movlhps, K_X, 8, 0 },
		   [P_66] = { op_movhi_load, NULL, K_X, 8, E_MEM } },
	OP(0x17) = { [P_NONE] = { op_movhi_store, NULL, K_X, 8, E_MEM },
		   [P_66] = { op_movhi_store, NULL, K_X, 8, E_MEM } },
	OP(0x28) = XX(op_mova_load),
	OP(0x29) = XX(op_mova_store),
	OP(0x2a) = { [P_F3] = { op_cvtsi2ss, NULL, K_XG, 0, 0 },
		   [P_F2] = { op_cvtsi2sd, NULL, K_XG, 0, 0 } },
	OP(0x2b) = { [P_NONE] = { op_mova_store, NULL, K_X, 16, E_MEM },
		   [P_66] = { op_mova_store, NULL, K_X, 16, E_MEM } },
	OP(0x2c) = { [P_F3] = { op_cvttss2si, NULL, K_GX, 4, 0 },
		   [P_F2] = { op_cvttsd2si, NULL, K_GX, 8, 0 } },
	OP(0x2d) = { [P_F3] = { op_cvtss2si, NULL, K_GX, 4, 0 },
		   [P_F2] = { op_cvtsd2si, NULL, K_GX, 8, 0 } },
	OP(0x2e) = { [P_NONE] = X(op_ucomiss, 4), [P_66] = X(op_ucomisd, 8) },
	OP(0x2f) = { [P_NONE] = X(op_comiss, 4), [P_66] = X(op_comisd, 8) },
	OP(0x50) = { [P_NONE] = { op_movmskps, NULL, K_GX, 16, E_REG },
		   [P_66] = { op_movmskpd, NULL, K_GX, 16, E_REG } },
	OP(0x51) = PSD(sqrt),
	OP(0x52) = { [P_NONE] = X(op_rsqrtps, 16), [P_F3] = X(op_rsqrtss, 4) },
	OP(0x53) = { [P_NONE] = X(op_rcpps, 16), [P_F3] = X(op_rcpss, 4) },
	OP(0x54) = XX(op_pand),   /* ANDPS/ANDPD */
	OP(0x55) = XX(op_pandn),  /* ANDNPS/ANDNPD */
	OP(0x56) = XX(op_por),    /* ORPS/ORPD */
	OP(0x57) = XX(op_pxor),   /* XORPS/XORPD */
	OP(0x58) = PSD(add),
	OP(0x59) = PSD(mul),
	OP(0x5a) = { [P_NONE] = X(op_cvtps2pd, 8), [P_66] = X(op_cvtpd2ps, 16),
		   [P_F3] = X(op_cvtss2sd, 4), [P_F2] = X(op_cvtsd2ss, 8) },
	OP(0x5b) = { [P_NONE] = X(op_cvtdq2ps, 16), [P_66] = X(op_cvtps2dq, 16),
		   [P_F3] = X(op_cvttps2dq, 16) },
	OP(0x5c) = PSD(sub),
	OP(0x5d) = PSD(min),
	OP(0x5e) = PSD(div),
	OP(0x5f) = PSD(max),
	/* MMX PUNPCKL* read 32 bits of memory */
	OP(0x60) = { [P_NONE] = M(op_punpcklbw, 4), [P_66] = X(op_punpcklbw, 16) },
	OP(0x61) = { [P_NONE] = M(op_punpcklwd, 4), [P_66] = X(op_punpcklwd, 16) },
	OP(0x62) = { [P_NONE] = M(op_punpckldq, 4), [P_66] = X(op_punpckldq, 16) },
	OP(0x63) = MX(op_packsswb),
	OP(0x64) = MX(op_pcmpgtb),
	OP(0x65) = MX(op_pcmpgtw),
	OP(0x66) = MX(op_pcmpgtd),
	OP(0x67) = MX(op_packuswb),
	OP(0x68) = MX(op_punpckhbw),
	OP(0x69) = MX(op_punpckhwd),
	OP(0x6a) = MX(op_punpckhdq),
	OP(0x6b) = MX(op_packssdw),
	OP(0x6c) = { [P_66] = X(op_punpcklqdq, 16) },
	OP(0x6d) = { [P_66] = X(op_punpckhqdq, 16) },
	OP(0x6e) = { [P_NONE] = { op_movd_v_g, NULL, K_MG, 0, 0 },
		   [P_66] = { op_movd_v_g, NULL, K_XG, 0, 0 } },
	OP(0x6f) = { [P_NONE] = M(op_movq_mm_m, 8), [P_66] = X(op_mova_load, 16),
		   [P_F3] = X(op_movu_load, 16) },
	OP(0x70) = { [P_NONE] = { op_pshufw, NULL, K_M, 8, E_IMM },
		   [P_66] = { op_pshufd, NULL, K_X, 16, E_IMM },
		   [P_F3] = { op_pshufhw, NULL, K_X, 16, E_IMM },
		   [P_F2] = { op_pshuflw, NULL, K_X, 16, E_IMM } },
	OP(0x74) = MX(op_pcmpeqb),
	OP(0x75) = MX(op_pcmpeqw),
	OP(0x76) = MX(op_pcmpeqd),
	OP(0x7e) = { [P_NONE] = { op_movd_g_v, NULL, K_MG, 0, 0 },
		   [P_66] = { op_movd_g_v, NULL, K_XG, 0, 0 },
		   [P_F3] = X(op_movq_x_xm, 8) },
	OP(0x7f) = { [P_NONE] = M(op_movq_m_mm, 8), [P_66] = X(op_mova_store, 16),
		   [P_F3] = X(op_movu_store, 16) },
	OP(0xc3) = { [P_NONE] = { op_movnti, NULL, K_G, 0, E_MEM } },
	OP(0xc4) = { [P_NONE] = { op_pinsrw, NULL, K_MG, 2, E_IMM },
		   [P_66] = { op_pinsrw, NULL, K_XG, 2, E_IMM } },
	OP(0xc5) = { [P_NONE] = { op_pextrw, NULL, K_GM, 8, E_IMM | E_REG },
		   [P_66] = { op_pextrw, NULL, K_GX, 16, E_IMM | E_REG } },
	OP(0xc6) = { [P_NONE] = { op_shufps, NULL, K_X, 16, E_IMM },
		   [P_66] = { op_shufpd, NULL, K_X, 16, E_IMM } },
	OP(0xd1) = MX(op_psrlw),
	OP(0xd2) = MX(op_psrld),
	OP(0xd3) = MX(op_psrlq),
	OP(0xd4) = MX(op_paddq),
	OP(0xd5) = MX(op_pmullw),
	OP(0xd6) = { [P_66] = X(op_movq_xm_x, 8) },
	OP(0xd7) = { [P_NONE] = { op_pmovmskb, NULL, K_GM, 8, E_REG },
		   [P_66] = { op_pmovmskb, NULL, K_GX, 16, E_REG } },
	OP(0xd8) = MX(op_psubusb),
	OP(0xd9) = MX(op_psubusw),
	OP(0xda) = MX(op_pminub),
	OP(0xdb) = MX(op_pand),
	OP(0xdc) = MX(op_paddusb),
	OP(0xdd) = MX(op_paddusw),
	OP(0xde) = MX(op_pmaxub),
	OP(0xdf) = MX(op_pandn),
	OP(0xe0) = MX(op_pavgb),
	OP(0xe1) = MX(op_psraw),
	OP(0xe2) = MX(op_psrad),
	OP(0xe3) = MX(op_pavgw),
	OP(0xe4) = MX(op_pmulhuw),
	OP(0xe5) = MX(op_pmulhw),
	OP(0xe6) = { [P_66] = X(op_cvttpd2dq, 16), [P_F2] = X(op_cvtpd2dq, 16),
		   [P_F3] = X(op_cvtdq2pd, 8) },
	OP(0xe7) = { [P_NONE] = { op_movq_m_mm, NULL, K_M, 8, E_MEM },   /* MOVNTQ */
		   [P_66] = { op_mova_store, NULL, K_X, 16, E_MEM } }, /* MOVNTDQ */
	OP(0xe8) = MX(op_psubsb),
	OP(0xe9) = MX(op_psubsw),
	OP(0xea) = MX(op_pminsw),
	OP(0xeb) = MX(op_por),
	OP(0xec) = MX(op_paddsb),
	OP(0xed) = MX(op_paddsw),
	OP(0xee) = MX(op_pmaxsw),
	OP(0xef) = MX(op_pxor),
	OP(0xf1) = MX(op_psllw),
	OP(0xf2) = MX(op_pslld),
	OP(0xf3) = MX(op_psllq),
	OP(0xf4) = MX(op_pmuludq),
	OP(0xf5) = MX(op_pmaddwd),
	OP(0xf6) = MX(op_psadbw),
	OP(0xf7) = { [P_NONE] = { op_maskmov, NULL, K_M, 8, E_REG },
		   [P_66] = { op_maskmov, NULL, K_X, 16, E_REG } },
	OP(0xf8) = MX(op_psubb),
	OP(0xf9) = MX(op_psubw),
	OP(0xfa) = MX(op_psubd),
	OP(0xfb) = MX(op_psubq),
	OP(0xfc) = MX(op_paddb),
	OP(0xfd) = MX(op_paddw),
	OP(0xfe) = MX(op_paddd),
};

static unsigned gpr_size(const struct dstate *d)
{
	return (d->rex & 8) ? 8 : 4;
}

/* Operands of a table entry into i; false if the form is undefined. */
static bool operands(struct dstate *d, struct emu_insn *i, const struct sse_ent *e)
{
	bool mem = i->flags & I_MEM;
	unsigned rm = d->rmn, reg = d->reg;

	if ((mem && (e->fl & E_REG)) || (!mem && (e->fl & E_MEM)))
		return false;
	i->sz = e->msz;
	i->sz2 = 16;
	switch (e->kind) {
	case K_M:
		i->sz2 = 8;
		rm &= 7;
		reg &= 7;
		/* fall through */
	case K_X:
		i->xreg = (uint8_t)reg;
		i->rm = (uint8_t)rm;
		break;
	case K_MG:
		i->sz2 = 8;
		reg &= 7;
		/* fall through */
	case K_XG:
		i->xreg = (uint8_t)reg;
		i->rm = (uint8_t)(rm * 8);
		i->sz = e->msz ? e->msz : (uint8_t)gpr_size(d);
		i->op = i->sz;
		break;
	case K_GM:
		i->sz2 = 8;
		rm &= 7;
		/* fall through */
	case K_GX:
		i->reg = (uint8_t)(reg * 8);
		i->rm = (uint8_t)rm;
		i->op = (uint8_t)gpr_size(d);
		break;
	case K_G:
		i->reg = (uint8_t)(reg * 8);
		i->sz = (uint8_t)gpr_size(d);
		break;
	}
	i->fn = (!mem && e->rfn) ? e->rfn : e->fn;
	if (!mem && (e->fl & E_SWAP)) {
		uint8_t t = i->xreg;

		i->xreg = i->rm;
		i->rm = t;
	}
	if (e->fl & E_IMM)
		i->imm = dec_uimm(d, 1);
	return true;
}

/* 0F 71/72/73: shifts by imm8; the r/m register is the destination. */
static bool shift_imm(struct dstate *d, struct emu_insn *i, unsigned b, unsigned pfx)
{
	static const emu_fn fns[3][8] = {
		{ [2] = op_psrlw_i, [4] = op_psraw_i, [6] = op_psllw_i },
		{ [2] = op_psrld_i, [4] = op_psrad_i, [6] = op_pslld_i },
		{ [2] = op_psrlq_i, [3] = op_psrldq, [6] = op_psllq_i, [7] = op_pslldq },
	};

	dec_modrm(d, i);
	if ((i->flags & I_MEM) || pfx > P_66)
		return false;
	i->fn = fns[b - 0x71][d->digit];
	if (!i->fn || (pfx == P_NONE && (d->digit == 3 || d->digit == 7)))
		return false;
	i->sz2 = pfx == P_66 ? 16 : 8;
	i->xreg = (uint8_t)(pfx == P_66 ? d->rmn : d->rmn & 7);
	i->imm = dec_uimm(d, 1);
	return true;
}

/* CMPccPS/PD/SS/SD: the predicate (imm8 bits 2:0) picks the handler. */
static bool cmp_form(struct dstate *d, struct emu_insn *i, unsigned pfx)
{
	static const emu_fn *const fns[4] = { emu_cmpps, emu_cmppd, emu_cmpss, emu_cmpsd };
	static const uint8_t msz[4] = { 16, 16, 4, 8 };
	struct sse_ent e = { NULL, NULL, K_X, msz[pfx], E_IMM };

	e.fn = op_ud;
	dec_modrm(d, i);
	if (!operands(d, i, &e))
		return false;
	i->fn = fns[pfx][i->imm & 7];
	return true;
}

/* 0F AE with memory: FXSAVE, FXRSTOR, LDMXCSR, STMXCSR. */
static bool grp15(struct dstate *d, struct emu_insn *i, unsigned pfx)
{
	static const emu_fn fns[4] = { op_fxsave, op_fxrstor, op_ldmxcsr, op_stmxcsr };

	dec_modrm(d, i);
	if (!(i->flags & I_MEM) || pfx != P_NONE || d->digit > 3)
		return false;
	i->fn = fns[d->digit];
	i->sz = (uint8_t)gpr_size(d);
	return true;
}

/* F3/F2 0F D6: MOVQ2DQ xmm, mm and MOVDQ2Q mm, xmm (registers only). */
static bool movq_mm_xmm(struct dstate *d, struct emu_insn *i, unsigned pfx)
{
	dec_modrm(d, i);
	if (i->flags & I_MEM)
		return false;
	if (pfx == P_F3) {
		i->fn = op_movq2dq;
		i->xreg = d->reg;
		i->rm = d->rmn & 7;
	} else {
		i->fn = op_movdq2q;
		i->xreg = d->reg & 7;
		i->rm = d->rmn;
	}
	return true;
}

bool dec_sse(struct dstate *d, struct emu_insn *i, unsigned b)
{
	unsigned pfx = d->rep == 0xf3 ? P_F3 : d->rep == 0xf2 ? P_F2 : d->pfx66 ? P_66 : P_NONE;
	const struct sse_ent *e;

	switch (b) {
	case 0x71: case 0x72: case 0x73:
		return shift_imm(d, i, b, pfx);
	case 0x77:
		i->fn = op_emms;
		return pfx == P_NONE;
	case 0xae:
		return grp15(d, i, pfx);
	case 0xc2:
		return cmp_form(d, i, pfx);
	case 0xd6:
		if (pfx == P_F3 || pfx == P_F2)
			return movq_mm_xmm(d, i, pfx);
		break;
	}
	if (b < 0x10)
		return false;
	e = &table[b - 0x10][pfx];
	if (!e->fn)
		return false;
	dec_modrm(d, i);
	return operands(d, i, e);
}
