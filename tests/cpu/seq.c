/*
 * Forms in context. The interpreter picks handlers by what surrounds an
 * instruction in its block: flagless handlers when a later instruction
 * overwrites the flags before anything reads them, fused handlers for a
 * compare and the instruction that reads its flags, carry and conditions
 * taken from whatever lazy flag state the previous instruction left. So
 * each integer form also runs as a block of
 *
 *   [setter] form [reader] [killer] jmp $+2
 *
 * setter: a flag-setting instruction (ALU, TEST, INC/DEC, NEG, shift by 1;
 *         1, 4 or 8 bytes) on registers the form does not use, so the form
 *         reads every kind of lazy flag state;
 * reader: SETcc, CMOVcc, ADC or SBB on free registers, reading the flags
 *         the form left (only conditions on flags the form defines);
 * killer: TEST EAX,EAX: the flags before it are dead (flagless handlers).
 * jmp $+2 ends the block where the host lands on its fall-through pad. A
 * Jcc form gets a setter only (its displacement grows by the jmp's 2 bytes;
 * the budget stops at the Jcc: not taken, the jmp still ends the block).
 */
#include <string.h>

#include "difftest.h"

#define FREE_REGS (1u << 3 | 0xff00u) /* RBX, R8-R15: no implicit operand */

/* The registers the form's encoding or per-state setup uses. */
static unsigned used_regs(const struct variant *v)
{
	unsigned u = 0;

	if (v->f->modrm == M_R)
		u |= 1u << v->reg;
	if (!v->mem && v->f->modrm != M_NONE)
		u |= 1u << v->rm;
	if (v->f->modrm == M_OPREG)
		u |= 1u << v->opreg;
	if (v->mem && v->base >= 0)
		u |= 1u << v->base;
	if (v->mem && v->index >= 0)
		u |= 1u << v->index;
	if (v->f->su == SU_CX16)
		u |= 1u << 3; /* RCX:RBX is its new value */
	return u;
}

static int free_reg(struct rng *g, unsigned *avail)
{
	unsigned n = (unsigned)__builtin_popcount(*avail), k = (unsigned)(rnd(g) % n);

	for (int r = 0; r < 16; r++)
		if ((*avail & (1u << r)) && !k--) {
			*avail &= ~(1u << r);
			return r;
		}
	return -1;
}

/* op r/m(register rm), reg with a REX as needed; sz 1, 4 or 8. */
static unsigned emit_rr(uint8_t *p, const uint8_t *op, unsigned oplen, unsigned sz,
			int reg, int rm)
{
	unsigned n = 0, rex = 0x40 | (sz == 8 ? 8 : 0) | (reg >= 8 ? 4 : 0) | (rm >= 8 ? 1 : 0);

	if (rex != 0x40)
		p[n++] = (uint8_t)rex;
	memcpy(p + n, op, oplen);
	n += oplen;
	p[n++] = (uint8_t)(0xc0 | (reg & 7) << 3 | (rm & 7));
	return n;
}

static unsigned pick_size(struct rng *g)
{
	static const unsigned s[] = { 1, 4, 8 };

	return s[rnd(g) % 3];
}

/* Forms that copy AF somewhere. */
static bool reads_af(const struct form *f)
{
	return f->op[0] == 0x9c || f->op[0] == 0x9f; /* PUSHF, LAHF */
}

/* A flag setter on r (written) and r2 (read). Every flag it leaves is
 * defined but AF after the logic ops and the shifts (the host sets it after
 * some shifts, the interpreter never): *af_undef tells. */
static unsigned emit_setter(struct rng *g, uint8_t *p, int r, int r2, bool af_ok, bool *af_undef)
{
	static const uint8_t arith[] = { 0, 2, 3, 5, 7, 9, 10, 11, 15 };
	unsigned sz = pick_size(g), k = (unsigned)(rnd(g) % 16), b = sz == 1 ? 0 : 1;
	uint8_t op[1];

	if (!af_ok)
		k = arith[k % sizeof(arith)];
	*af_undef = k == 1 || k == 4 || k == 6 || k == 8 || (k >= 12 && k <= 14);

	if (k < 8) { /* ADD OR ADC SBB AND SUB XOR CMP r, r2 */
		op[0] = (uint8_t)(k * 8 + b);
		return emit_rr(p, op, 1, sz, r2, r);
	}
	switch (k) {
	case 8: op[0] = (uint8_t)(0x84 + b); return emit_rr(p, op, 1, sz, r2, r); /* TEST */
	case 9: case 10: op[0] = (uint8_t)(0xfe + b); return emit_rr(p, op, 1, sz, k - 9, r);
	case 11: op[0] = (uint8_t)(0xf6 + b); return emit_rr(p, op, 1, sz, 3, r); /* NEG */
	case 12: op[0] = (uint8_t)(0xd0 + b); return emit_rr(p, op, 1, sz, 4, r); /* SHL 1 */
	case 13: op[0] = (uint8_t)(0xd0 + b); return emit_rr(p, op, 1, sz, 5, r); /* SHR 1 */
	case 14: op[0] = (uint8_t)(0xd0 + b); return emit_rr(p, op, 1, sz, 7, r); /* SAR 1 */
	default: op[0] = (uint8_t)(0x28 + b); return emit_rr(p, op, 1, sz, r, r); /* SUB r,r */
	}
}

/* The conditions that only read flags the form defines in every state. */
static unsigned defined_cc(const struct form *f)
{
	switch (f->fl) {
	case FL_ALL: case FL_LOGIC: return 0xffff;
	case FL_MUL: return 0x000f;   /* OF, CF */
	case FL_BT: return 0x000c;    /* CF */
	case FL_BSF: return 0x0030;   /* ZF */
	case FL_CNT: return 0x003c;   /* CF, ZF */
	default: return 0;            /* count-dependent or none */
	}
}

static unsigned pick_cc(struct rng *g, unsigned ok)
{
	for (;;) {
		unsigned cc = (unsigned)(rnd(g) & 15);

		if (ok & (1u << cc))
			return cc;
	}
}

/* SETcc r8, CMOVcc r, r2, ADC/SBB r, r2: reads the flags, writes r. */
static unsigned emit_reader(struct rng *g, uint8_t *p, unsigned ok, int r, int r2, bool *flags)
{
	unsigned cc = pick_cc(g, ok), sz = pick_size(g);
	uint8_t op[2] = { 0x0f, 0 };

	*flags = false;
	switch (rnd(g) % 4) {
	case 0:
		op[1] = (uint8_t)(0x90 + cc);
		return emit_rr(p, op, 2, 1, 0, r);
	case 1:
		op[1] = (uint8_t)(0x40 + cc);
		return emit_rr(p, op, 2, sz == 1 ? 4 : sz, r, r2);
	default:
		if (!(ok & 4)) { /* CF undefined: a SETcc instead */
			op[1] = (uint8_t)(0x90 + cc);
			return emit_rr(p, op, 2, 1, 0, r);
		}
		*flags = true;
		op[0] = (uint8_t)((rnd(g) & 1 ? 0x10 : 0x18) + (sz == 1 ? 0 : 1));
		return emit_rr(p, op, 1, sz, r2, r);
	}
}

static bool is_branch(const struct form *f)
{
	return f->su == SU_BR || f->su == SU_RET || f->su == SU_LOOP;
}

static bool is_jcc(const struct form *f)
{
	return f->su == SU_BR && ((f->op[0] & 0xf0) == 0x70 || f->op[0] == 0x0f);
}

bool make_seq(struct rng *g, struct variant *v, unsigned *budget)
{
	const struct form *f = v->f;
	unsigned avail = FREE_REGS & ~used_regs(v), ok = defined_cc(f);
	uint8_t pre[8], post[24];
	unsigned npre = 0, npost = 0, n = 1, kind = (unsigned)(rnd(g) % 5);
	bool setter = kind < 2, reader = kind >= 3 && ok, killer = kind == 1 || kind == 2 || kind == 4;
	bool rflags = false, af_undef = false;
	int r = free_reg(g, &avail), r2 = free_reg(g, &avail);

	if (r < 0 || r2 < 0 || (is_branch(f) && !is_jcc(f)) || f->su == SU_X87)
		return false;
	if (is_jcc(f)) { /* the block ends with it: a setter before it only */
		setter = true;
		reader = killer = false;
	}
	if (!setter && !reader && !killer)
		killer = true;
	if (setter) {
		npre = emit_setter(g, pre, r, r2, !reads_af(f), &af_undef);
		n++;
	}
	if (reader) {
		npost += emit_reader(g, post, ok, r, r2, &rflags);
		n++;
	}
	if (killer) {
		post[npost++] = 0x85; /* TEST EAX, EAX */
		post[npost++] = 0xc0;
		n++;
	}
	post[npost++] = 0xeb; /* jmp $+2 */
	post[npost++] = 0x00;
	if (!is_jcc(f))
		n++;
	if (npre + v->len + npost > sizeof(v->b))
		return false;
	memmove(v->b + npre, v->b, v->len);
	memcpy(v->b, pre, npre);
	memcpy(v->b + npre + v->len, post, npost);
	if (v->mem && v->amode == AM_RIP) { /* the form moved by npre bytes */
		int32_t d;

		memcpy(&d, v->b + npre + v->disp_off, 4);
		d -= (int32_t)npre;
		memcpy(v->b + npre + v->disp_off, &d, 4);
	}
	if (is_jcc(f)) /* the rel8/rel32 ends the form: past the jmp too */
		v->b[npre + v->len - v->imm_len] += 2;
	v->len += npre + npost;
	v->seq_fl = killer ? FL_LOGIC + 1 : rflags ? FL_ALL + 1 : 0;
	v->seq_noaf = af_undef;
	*budget = n;
	return true;
}
