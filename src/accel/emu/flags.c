/*
 * Lazy flags: the arithmetic flags of the last flag-setting operation are
 * computed from its result and operands only when something reads them.
 * ADC/SBB share the ADD/SUB formulas (carry and overflow out of the top bit
 * are functions of a, b and res alone, whatever the carry in).
 */
#include "accel/emu/cpu.h"

static uint64_t add_cf(uint64_t a, uint64_t b, uint64_t res, uint64_t sign)
{
	return ((a & b) | ((a | b) & ~res)) & sign;
}

static uint64_t sub_cf(uint64_t a, uint64_t b, uint64_t res, uint64_t sign)
{
	return ((~a & b) | (~(a ^ b) & res)) & sign;
}

bool emu_lf_cf(const struct emu_lflags *lf)
{
	uint64_t sign = sz_sign(lf->sz);
	unsigned bits = lf->sz * 8;

	switch (lf->op) {
	case LF_ADD: return add_cf(lf->a, lf->b, lf->res, sign) != 0;
	case LF_SUB:
	case LF_SBB: return sub_cf(lf->a, lf->b, lf->res, sign) != 0;
	case LF_INC:
	case LF_DEC: return lf->cf;
	case LF_SHL: return lf->b <= bits && ((lf->a >> (bits - lf->b)) & 1);
	case LF_SHR: return (lf->a >> (lf->b - 1)) & 1;
	case LF_SAR: return ((uint64_t)sext(lf->a, lf->sz) >> (lf->b > 63 ? 63 : lf->b - 1)) & 1;
	default: return false;
	}
}

uint64_t emu_lf_arith(const struct emu_lflags *lf)
{
	uint64_t sign = sz_sign(lf->sz), a = lf->a, b = lf->b, res = lf->res;
	uint64_t f = 0;

	if (!__builtin_parityll(res & 0xff))
		f |= EMU_PF;
	if (res == 0)
		f |= EMU_ZF;
	if (res & sign)
		f |= EMU_SF;
	if (emu_lf_cf(lf))
		f |= EMU_CF;
	switch (lf->op) {
	case LF_ADD:
	case LF_INC:
		if ((a ^ res) & (b ^ res) & sign)
			f |= EMU_OF;
		f |= (a ^ b ^ res) & EMU_AF;
		break;
	case LF_SUB:
	case LF_SBB:
	case LF_DEC:
		if ((a ^ b) & (a ^ res) & sign)
			f |= EMU_OF;
		f |= (a ^ b ^ res) & EMU_AF;
		break;
	case LF_SHL: /* OF defined for count 1: top bit changed */
		if (((res ^ (f & EMU_CF ? ~0ull : 0)) & sign))
			f |= EMU_OF;
		break;
	case LF_SHR:
		if (a & sign)
			f |= EMU_OF;
		break;
	default:
		break;
	}
	return f;
}

bool emu_cond_slow(struct emu_cpu *cpu, unsigned cc)
{
	return cc_flags(cc, flags_get(cpu));
}

uint64_t emu_get_rflags(struct emu_cpu *cpu)
{
	return flags_get(cpu);
}

void emu_set_rflags(struct emu_cpu *cpu, uint64_t v)
{
	cpu->lf.op = LF_NONE;
	cpu->rflags = v | 2;
}
