/*
 * Builds one encoding (a "variant") of a form: registers, addressing mode,
 * prefixes and immediate chosen at random, and sets up random states for it.
 */
#include <string.h>

#include "difftest.h"

uint64_t rnd(struct rng *g)
{
	g->s ^= g->s >> 12;
	g->s ^= g->s << 25;
	g->s ^= g->s >> 27;
	return g->s * 0x2545f4914f6cdd1dull;
}

/* Random values with the edges mixed in. */
uint64_t rnd_val(struct rng *g)
{
	static const uint64_t edges[] = {
		0, 1, 2, ~0ull, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff,
		0x80000000, 0xffffffff, 0x7fffffffffffffffull, 0x8000000000000000ull,
		0xffffffffffffff80ull, 0xffffffff80000000ull, 0x100000000ull, 63, 64, 31, 32,
	};
	uint64_t r = rnd(g);

	switch (r & 7) {
	case 0:
		return edges[(r >> 8) % (sizeof(edges) / sizeof(edges[0]))];
	case 1:
		return (r >> 8) & 0xff;
	case 2: /* an edge plus noise in the low bits */
		return edges[(r >> 8) % (sizeof(edges) / sizeof(edges[0]))] ^ ((r >> 40) & 3);
	default:
		return rnd(g);
	}
}

static unsigned imm_len(const struct form *f, unsigned sz)
{
	switch (f->imm) {
	case IZ: return sz == 2 ? 2 : 4;
	case IV: return sz;
	default: return f->imm;
	}
}

/* Registers that the per-state setup writes: not usable for addressing. */
static unsigned reserved(const struct form *f)
{
	switch (f->su) {
	case SU_DIV: case SU_IDIV: case SU_CMPXCHG: return 1u << 0 | 1u << 2;
	case SU_CX16: return 0xf;
	case SU_STR: return 1u << 1 | 1u << 6 | 1u << 7;
	case SU_LOOP: return 1u << 1;
	case SU_LEAVE: return 1u << 5;
	default: return 0;
	}
}

static int pick_reg(struct rng *g, unsigned exclude)
{
	exclude |= 1u << 4; /* RSP stays the stack pointer */
	for (;;) {
		int r = (int)(rnd(g) & 15);

		if (!(exclude & (1u << r)))
			return r;
	}
}

static bool is_byte_op(const struct form *f, unsigned sz)
{
	return sz == 1 || (f->flags & F_RM8);
}

static uint64_t shift_count(struct rng *g, unsigned sz)
{
	static const unsigned c[] = { 0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65 };

	(void)sz;
	if (rnd(g) & 1)
		return c[rnd(g) % (sizeof(c) / sizeof(c[0]))];
	return rnd(g) & 0xff;
}

static void choose_imm(struct rng *g, const struct form *f, struct variant *v)
{
	v->imm = rnd_val(g);
	if (f->fl == FL_SHIFT || f->fl == FL_ROT || f->fl == FL_SHXD)
		v->imm = shift_count(g, v->sz);
	if (f->fl == FL_SHXD && v->sz == 2)
		v->imm %= 17; /* larger 16-bit counts are undefined */
	if (f->su == SU_BR || f->su == SU_LOOP)
		v->imm = BRANCH_REL;
	if (f->su == SU_CMP) /* legacy CMPccPS: predicates 0-7 only */
		v->imm &= 7;
	if (v->imm_len < 8)
		v->imm &= (1ull << (8 * v->imm_len)) - 1;
}

static void choose_mem(struct rng *g, const struct form *f, struct variant *v)
{
	unsigned res = reserved(f);
	uint64_t r = rnd(g);

	if (f->flags & F_CL)
		res |= 1u << 1;
	if (f->su == SU_BTREG) /* the bit offset register stays small */
		res |= 1u << v->reg;

	v->amode = (int)(r % 7);
	v->dkind = (int)((r >> 8) % 3);
	v->scale = (int)((r >> 12) & 3);
	v->disp = 0;
	v->base = pick_reg(g, res);
	v->index = pick_reg(g, res | 1u << v->base);
	if (v->dkind == 1)
		v->disp = (int8_t)rnd(g);
	else if (v->dkind == 2)
		v->disp = (int32_t)(rnd(g) % 0x2000) - 0x1000;
	if (v->amode == AM_RSP) {
		v->base = 4;
		v->dkind = 1;
		v->disp = (int8_t)((rnd(g) % 200) - 100);
	}
	v->fs = (v->amode == AM_BASE || v->amode == AM_SIB) && (r >> 20) % 5 == 0;
	v->a32 = !v->fs && (v->amode == AM_BASE || v->amode == AM_SIB) && (r >> 24) % 6 == 0;
	v->lock = (f->flags & F_LOCKABLE) && (r >> 28) % 3 == 0;
}

static void emit_modrm(struct variant *v, uint8_t **pp, unsigned regfield)
{
	uint8_t *p = *pp;
	unsigned mod;

	if (!v->mem) {
		*p++ = (uint8_t)(0xc0 | (regfield & 7) << 3 | (v->rm & 7));
		*pp = p;
		return;
	}
	switch (v->amode) {
	case AM_RIP:
		*p++ = (uint8_t)((regfield & 7) << 3 | 5);
		v->disp_off = (unsigned)(p - v->b);
		p += 4;
		break;
	case AM_ABS:
		*p++ = (uint8_t)((regfield & 7) << 3 | 4);
		*p++ = 0x25;
		memcpy(p, &v->disp, 4);
		p += 4;
		break;
	case AM_NOBASE:
		*p++ = (uint8_t)((regfield & 7) << 3 | 4);
		*p++ = (uint8_t)(v->scale << 6 | (v->index & 7) << 3 | 5);
		memcpy(p, &v->disp, 4);
		p += 4;
		break;
	default: /* AM_BASE, AM_SIB, AM_RSP */
		if ((v->base & 7) == 5 && v->dkind == 0)
			v->dkind = 1;
		mod = (unsigned)v->dkind;
		if (v->amode == AM_SIB || (v->base & 7) == 4) {
			unsigned idx = v->amode == AM_SIB ? (unsigned)v->index & 7 : 4;

			*p++ = (uint8_t)(mod << 6 | (regfield & 7) << 3 | 4);
			*p++ = (uint8_t)(v->scale << 6 | idx << 3 | (v->base & 7));
		} else {
			*p++ = (uint8_t)(mod << 6 | (regfield & 7) << 3 | (v->base & 7));
		}
		if (mod == 1) {
			*p++ = (uint8_t)v->disp;
		} else if (mod == 2) {
			memcpy(p, &v->disp, 4);
			p += 4;
		}
	}
	*pp = p;
}

void make_variant(struct rng *g, const struct form *f, unsigned sz, uint8_t *area,
		  struct variant *v)
{
	uint8_t *p = v->b;
	unsigned rex = 0x40;
	bool modrm = f->modrm == M_R || f->modrm == M_D;

	memset(v, 0, sizeof(*v));
	v->f = f;
	v->sz = sz;
	v->base = v->index = -1;
	v->imm_len = imm_len(f, sz);
	v->mem = modrm && (f->mem == MEMONLY || (f->mem == BOTH && (rnd(g) & 1)));
	v->reg = pick_reg(g, 0);
	v->rm = pick_reg(g, 0);
	v->opreg = pick_reg(g, f->op[0] == 0x90 ? 1u : 0);
	v->t_fixed = (uintptr_t)area + DATA_OFF + 0x800 + (rnd(g) % 0x800);
	if ((f->flags & F_A16) && rnd(g) % 8)
		v->t_fixed &= ~15ull;
	if (v->mem)
		choose_mem(g, f, v);
	if (v->mem && v->amode == AM_ABS)
		v->disp = (int32_t)v->t_fixed;
	choose_imm(g, f, v);
	if (f->su == SU_MOFFS)
		v->imm = (uintptr_t)area + DATA_OFF + 0x800 + rnd(g) % 0x800;
	v->force_rex = is_byte_op(f, sz) && (rnd(g) & 3) == 0;

	if (v->lock && v->mem)
		*p++ = 0xf0;
	if (v->fs)
		*p++ = 0x64;
	if (v->a32)
		*p++ = 0x67;
	if (sz == 2)
		*p++ = 0x66;
	if (f->pfx)
		*p++ = f->pfx;
	if (sz == 8 && !(f->flags & F_D64))
		rex |= 8;
	if (f->modrm == M_R && v->reg >= 8)
		rex |= 4;
	if (v->mem && (v->amode == AM_SIB || v->amode == AM_NOBASE) && v->index >= 8)
		rex |= 2;
	if ((v->mem && v->amode != AM_RIP && v->amode != AM_ABS && v->amode != AM_NOBASE &&
	     v->base >= 8) || (!v->mem && modrm && v->rm >= 8) ||
	    (f->modrm == M_OPREG && v->opreg >= 8))
		rex |= 1;
	if (rex != 0x40 || v->force_rex) {
		*p++ = (uint8_t)rex;
		v->has_rex = true;
	}
	for (unsigned k = 0; k < f->oplen; k++)
		*p++ = f->op[k];
	if (f->modrm == M_OPREG)
		p[-1] = (uint8_t)(p[-1] + (v->opreg & 7));
	if (modrm)
		emit_modrm(v, &p, f->modrm == M_R ? (unsigned)v->reg : f->digit);
	memcpy(p, &v->imm, v->imm_len);
	p += v->imm_len;
	v->len = (unsigned)(p - v->b);
	if (v->mem && v->amode == AM_RIP) {
		int32_t d = (int32_t)(v->t_fixed - ((uintptr_t)area + INSN_OFF + v->len));

		memcpy(v->b + v->disp_off, &d, 4);
	}
	if (f->su == SU_MOFFS)
		v->t_fixed = v->imm;
}
