/*
 * The x87 escape opcodes D8-DF. Every accepted encoding gets the host stub
 * that runs the very same instruction (x87_host.S), plus flags saying how
 * to treat memory, RFLAGS, #MF and the last-instruction pointers.
 */
#include "accel/emu/decode.h"
#include "accel/emu/x87.h"

#define BAD 0xff

/* Memory forms by escape and ModRM.reg: operand bytes and X87_* flags. */
static const struct { uint8_t sz, fl; } mem_forms[8][8] = {
	/* D8: FADD..FDIVR m32fp */
	{ { 4, X87_LD }, { 4, X87_LD }, { 4, X87_LD }, { 4, X87_LD },
	  { 4, X87_LD }, { 4, X87_LD }, { 4, X87_LD }, { 4, X87_LD } },
	/* D9: FLD m32, -, FST m32, FSTP m32, FLDENV, FLDCW, FNSTENV, FNSTCW */
	{ { 4, X87_LD }, { 0, BAD }, { 4, X87_ST }, { 4, X87_ST },
	  { 28, X87_LD | X87_CTRL | X87_ENV }, { 2, X87_LD | X87_CTRL },
	  { 28, X87_ST | X87_NOWAIT | X87_CTRL | X87_ENV }, { 2, BAD } },
	/* DA: FIADD..FIDIVR m32int */
	{ { 4, X87_LD }, { 4, X87_LD }, { 4, X87_LD }, { 4, X87_LD },
	  { 4, X87_LD }, { 4, X87_LD }, { 4, X87_LD }, { 4, X87_LD } },
	/* DB: FILD m32, FISTTP m32, FIST m32, FISTP m32, -, FLD m80, -, FSTP m80 */
	{ { 4, X87_LD }, { 4, X87_ST }, { 4, X87_ST }, { 4, X87_ST },
	  { 0, BAD }, { 10, X87_LD }, { 0, BAD }, { 10, X87_ST } },
	/* DC: FADD..FDIVR m64fp */
	{ { 8, X87_LD }, { 8, X87_LD }, { 8, X87_LD }, { 8, X87_LD },
	  { 8, X87_LD }, { 8, X87_LD }, { 8, X87_LD }, { 8, X87_LD } },
	/* DD: FLD m64, FISTTP m64, FST m64, FSTP m64, FRSTOR, -, FNSAVE, FNSTSW */
	{ { 8, X87_LD }, { 8, X87_ST }, { 8, X87_ST }, { 8, X87_ST },
	  { 108, X87_LD | X87_CTRL | X87_ENV }, { 0, BAD },
	  { 108, X87_ST | X87_NOWAIT | X87_CTRL | X87_ENV }, { 2, BAD } },
	/* DE: FIADD..FIDIVR m16int */
	{ { 2, X87_LD }, { 2, X87_LD }, { 2, X87_LD }, { 2, X87_LD },
	  { 2, X87_LD }, { 2, X87_LD }, { 2, X87_LD }, { 2, X87_LD } },
	/* DF: FILD m16, FISTTP m16, FIST m16, FISTP m16, FBLD, FILD m64, FBSTP, FISTP m64 */
	{ { 2, X87_LD }, { 2, X87_ST }, { 2, X87_ST }, { 2, X87_ST },
	  { 10, X87_LD }, { 8, X87_LD }, { 10, X87_ST }, { 8, X87_ST } },
};

static void mem_form(struct dstate *d, struct emu_insn *i, unsigned e)
{
	unsigned dig = d->digit, fl = mem_forms[e][dig].fl;

	i->sz = mem_forms[e][dig].sz;
	if (e == 1 && dig == 7) {
		i->fn = op_fnstcw;
		return;
	}
	if (e == 5 && dig == 7) {
		i->fn = op_fnstsw_m;
		return;
	}
	if (fl == BAD) {
		dec_ud(i);
		return;
	}
	i->fn = op_x87_mem;
	i->imm = (uintptr_t)(emu_x87_mem_stubs + 4 * (e * 8 + dig));
	if ((fl & X87_ENV) && d->pfx66) {
		/* 16-bit environment: 14 bytes, 94 with the registers */
		fl |= X87_O16;
		i->sz = (uint8_t)(i->sz - 14);
		i->imm += 256;
	}
	i->op = (uint8_t)fl;
}

/*
 * Register forms (ModRM C0-FF, m = low 6 bits): X87_* flags or BAD. The
 * reserved aliases hardware executes anyway are accepted too (FSTP1, FCOM2,
 * FCOMP3, FXCH4, FCOMP5, FFREEP, FXCH7, FSTP8, FSTP9; FNENI, FNDISI and
 * FNSETPM as no-ops); the rest is #UD, as on hardware.
 */
static unsigned reg_form(unsigned e, unsigned m)
{
	switch (e) {
	case 0: /* FADD..FDIVR st(0), st(i) */
		return 0;
	case 1: /* FLD, FXCH, FNOP, FSTP1, FCHS, FABS, FTST, FXAM, constants, F0-FF */
		if (m <= 0x10 || (m >= 0x18 && m < 0x20) || m == 0x20 || m == 0x21 ||
		    m == 0x24 || m == 0x25 || (m >= 0x28 && m <= 0x2e) || m >= 0x30)
			return 0;
		return BAD;
	case 2: /* FCMOVB/E/BE/U, FUCOMPP */
		return m < 0x20 ? X87_EFL : m == 0x29 ? 0 : BAD;
	case 3: /* FCMOVNB/NE/NBE/NU, FNCLEX, FNINIT, FUCOMI, FCOMI */
		if (m < 0x20 || (m >= 0x28 && m < 0x38))
			return X87_EFL;
		if (m == 0x22)
			return X87_NOWAIT | X87_CTRL;
		if (m == 0x23)
			return X87_NOWAIT | X87_CTRL | X87_INIT;
		if (m == 0x20 || m == 0x21 || m == 0x24) /* 8087/287 leftovers: no-ops */
			return X87_NOWAIT | X87_CTRL;
		return BAD;
	case 4: /* FADD, FMUL, FCOM2, FCOMP3, FSUBR, FSUB, FDIVR, FDIV st(i), st(0) */
		return 0;
	case 5: /* FFREE, FXCH4, FST, FSTP, FUCOM, FUCOMP */
		return m < 0x30 ? 0 : BAD;
	case 6: /* FADDP, FMULP, FCOMP5, FCOMPP, FSUBRP, FSUBP, FDIVRP, FDIVP */
		return m < 0x18 || m == 0x19 || m >= 0x20 ? 0 : BAD;
	default: /* DF: FFREEP, FXCH7, FSTP8, FSTP9, FNSTSW AX (decoded apart), FUCOMIP, FCOMIP */
		return m < 0x20 ? 0 : m >= 0x28 && m < 0x38 ? X87_EFL : BAD;
	}
}

void dec_x87(struct dstate *d, struct emu_insn *i, unsigned b)
{
	unsigned e = b & 7;
	uint8_t modrm = d->pos < d->avail ? d->p[d->pos] : 0;
	unsigned fl;

	dec_modrm(d, i);
	i->rm = (uint8_t)e;       /* FOP = escape & 7, ModRM */
	i->reg = modrm;
	if (d->mod != 3) {
		mem_form(d, i, e);
		return;
	}
	if (e == 7 && modrm == 0xe0) {
		i->fn = op_fnstsw_ax;
		return;
	}
	fl = reg_form(e, modrm & 0x3f);
	if (fl == BAD) {
		dec_ud(i);
		return;
	}
	i->fn = op_x87_reg;
	i->op = (uint8_t)fl;
	i->imm = (uintptr_t)(emu_x87_reg_stubs + 4 * (e * 64 + (modrm & 0x3f)));
}
