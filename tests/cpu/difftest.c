/*
 * Differential tests of the software CPU against the host CPU: every form of
 * forms.c, in several encodings, with thousands of random states, run natively
 * and in the interpreter at the same addresses; every GPR, the defined
 * RFLAGS bits, the XMM registers, memory and where control went must match.
 *
 *   cpu-difftest [-s states-per-variant] [-v variants] [-x seed] [-f name-filter]
 *                [-j runs]
 *
 * Blocks run as decoded records the first time and as translations after
 * -j runs (default 1, so both are compared; 0: records only).
 */
#include <asm/prctl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "accel/emu/emu.h"
#include "difftest.h"

#define ARITH (EMU_CF | EMU_PF | EMU_AF | EMU_ZF | EMU_SF | EMU_OF)
/* FXSAVE image bytes compared: x87 control/status/pointers, MXCSR and its
 * mask, ST0-ST7 (the XMM area is compared as xmm[]) */
#define FX_CMP 160
#define MAX_REPORTS 8

struct ctx {
	struct rng g;
	uint8_t *area;
	uint64_t fsbase, gsbase;
	struct emu_cpu *cpu;
	uint8_t init_mem[CMP_SIZE], native_mem[CMP_SIZE];
	unsigned long states, mismatches, skipped;
	bool fp;  /* SSE/MMX form: FP-flavoured random values */
	uint64_t mem_target;  /* this state's memory operand, or 0 */
	unsigned budget;  /* 0: one instruction (emu_step); else run as a block (emu_run) */
};

static uint64_t addr(const struct ctx *c, unsigned off)
{
	return (uintptr_t)c->area + off;
}

/* Returns the operand's address. */
static uint64_t setup_mem_operand(struct ctx *c, const struct variant *v, struct regs *r)
{
	const struct form *f = v->f;
	uint64_t t = addr(c, DATA_OFF + 0x400) + rnd(&c->g) % 0x1800;
	int64_t idx = (int64_t)(rnd(&c->g) % 129) - 64;
	uint64_t garbage = v->a32 ? rnd(&c->g) << 32 : 0;
	bool align = f->su == SU_CX16 || ((f->flags & F_A16) && rnd(&c->g) % 8);

	if (align)
		t &= ~15ull;
	switch (v->amode) {
	case AM_RIP:
	case AM_ABS:
		t = v->t_fixed;
		break;
	case AM_RSP:
		t = r->gpr[4] + (uint64_t)(int64_t)v->disp;
		if (align && (f->flags & F_A16)) { /* move the stack instead */
			r->gpr[4] -= t & 15;
			t &= ~15ull;
		}
		break;
	case AM_NOBASE:
		idx = ((int64_t)t - v->disp) >> v->scale;
		t = (uint64_t)(v->disp + (idx << v->scale));
		r->gpr[v->index] = (uint64_t)idx;
		break;
	case AM_SIB:
		r->gpr[v->index] = (uint64_t)idx ^ garbage;
		r->gpr[v->base] = (t - (uint64_t)v->disp - ((uint64_t)idx << v->scale) -
				   (v->fs ? c->fsbase : 0)) ^ garbage;
		break;
	default:
		r->gpr[v->base] = (t - (uint64_t)v->disp - (v->fs ? c->fsbase : 0)) ^ garbage;
		break;
	}
	for (unsigned k = 0; k < 16; k += 8) {
		uint64_t x = rnd_val(&c->g);

		memcpy((void *)(uintptr_t)(t + k), &x, 8);
	}
	if (f->su == SU_BR) {
		uint64_t land = addr(c, INSN_OFF) + v->len + BRANCH_REL;

		memcpy((void *)(uintptr_t)t, &land, 8);
	}
	if (f->su == SU_CMPXCHG && (rnd(&c->g) & 1))
		memcpy((void *)(uintptr_t)t, &r->gpr[0], v->sz);
	if (f->su == SU_CX16 && (rnd(&c->g) & 1)) {
		if (v->sz == 8) {
			memcpy((void *)(uintptr_t)t, &r->gpr[0], 8);
			memcpy((void *)(uintptr_t)(t + 8), &r->gpr[2], 8);
		} else {
			memcpy((void *)(uintptr_t)t, &r->gpr[0], 4);
			memcpy((void *)(uintptr_t)(t + 4), &r->gpr[2], 4);
		}
	}
	return t;
}

static void setup_string(struct ctx *c, const struct variant *v, struct regs *r)
{
	uint8_t op = v->f->op[0];

	r->gpr[1] = rnd(&c->g) % 48;
	r->gpr[6] = addr(c, DATA_OFF + 0x600) + rnd(&c->g) % 0xc00;
	r->gpr[7] = addr(c, DATA_OFF + 0x600) + rnd(&c->g) % 0xc00;
	if (rnd(&c->g) & 1)
		r->rflags |= EMU_DF;
	if (rnd(&c->g) % 3 == 0) { /* make elements match for a while */
		uint8_t *d = (uint8_t *)(uintptr_t)(r->gpr[7] - 256);
		unsigned n = (unsigned)(rnd(&c->g) % 512);

		if (op == 0xa6 || op == 0xa7)
			memmove(d, (uint8_t *)(uintptr_t)(r->gpr[6] - 256), n);
		else
			for (unsigned k = 0; k < n; k++)
				d[k] = (uint8_t)(r->gpr[0] >> (8 * ((k + r->gpr[7]) % v->sz)));
	}
}

static void setup_divide(struct ctx *c, const struct variant *v, struct regs *r, bool sign)
{
	unsigned sz = v->sz;
	uint64_t a = r->gpr[0];

	if (rnd(&c->g) & 1)
		return;
	if (sz == 1) {
		uint64_t ah = sign && (a & 0x80) ? 0xff00 : 0;

		r->gpr[0] = (a & ~0xff00ull) | ah;
	} else {
		uint64_t m = sz == 8 ? ~0ull : (1ull << (8 * sz)) - 1;
		uint64_t hi = sign && (a & (1ull << (8 * sz - 1))) ? m : 0;

		r->gpr[2] = (r->gpr[2] & ~m) | hi;
	}
}

static void setup_state(struct ctx *c, const struct variant *v, struct regs *r)
{
	const struct form *f = v->f;
	uint64_t t = 0;

	for (int k = 0; k < 16; k++)
		r->gpr[k] = rnd_val(&c->g);
	if (rnd(&c->g) & 1) /* small shift counts in CL */
		r->gpr[1] = (r->gpr[1] & ~0xffull) | (rnd(&c->g) % 70);
	if (f->fl == FL_SHXD && v->sz == 2) /* 16-bit counts above 16: undefined */
		r->gpr[1] = (r->gpr[1] & ~0xffull) | (rnd(&c->g) % 17);
	r->gpr[4] = addr(c, STACK_TOP_OFF);
	r->rflags = 0x202 | (rnd(&c->g) & ARITH);
	if (c->fp) {
		fp_state(&c->g, r);
	} else {
		for (int k = 0; k < 16; k++)
			for (int b = 0; b < 16; b += 8) {
				uint64_t x = rnd(&c->g);

				memcpy(&r->xmm[k][b], &x, 8);
			}
		fx_state(&c->g, r->fx, false);
	}
	/* cheap random memory (edge values go into the operand itself) */
	for (unsigned k = 0; k < CMP_SIZE; k += 8) {
		uint64_t x = rnd(&c->g);

		if (!(x & 7))
			x = rnd_val(&c->g);
		memcpy(c->area + CMP_OFF + k, &x, 8);
	}
	switch (f->su) {
	case SU_DIV: setup_divide(c, v, r, false); break;
	case SU_IDIV: setup_divide(c, v, r, true); break;
	case SU_STR: setup_string(c, v, r); break;
	case SU_LEAVE: r->gpr[5] = addr(c, STACK_OFF + 0x100) + (rnd(&c->g) % 0x600 & ~7ull); break;
	case SU_LOOP: if (rnd(&c->g) & 1) r->gpr[1] = rnd(&c->g) % 3; break;
	case SU_BTREG: if (v->mem) r->gpr[v->reg] = (uint64_t)((int64_t)(rnd(&c->g) % 8000) - 4000); break;
	case SU_CMPXCHG:
		if (!v->mem && (rnd(&c->g) & 1))
			r->gpr[v->rm] = r->gpr[0];
		break;
	case SU_POPF: {
		uint64_t fl = (rnd(&c->g) & (ARITH | EMU_DF)) | 0x202;

		memcpy((void *)(uintptr_t)r->gpr[4], &fl, 8);
		break;
	}
	case SU_RET: {
		uint64_t land = addr(c, INSN_OFF) + v->len + ((rnd(&c->g) & 1) ? BRANCH_REL : 0);

		memcpy((void *)(uintptr_t)r->gpr[4], &land, 8);
		break;
	}
	case SU_BR:
		if (!v->mem && v->f->modrm == M_D)
			r->gpr[v->rm] = addr(c, INSN_OFF) + v->len + BRANCH_REL;
		break;
	}
	if (v->mem)
		t = setup_mem_operand(c, v, r);
	if (c->fp && v->mem) /* FP values in the memory operand */
		for (unsigned k = 0; k < 16; k += 8) {
			uint64_t x = fp_val(&c->g);

			memcpy((void *)(uintptr_t)(t + k), &x, 8);
		}
	setup_fp(&c->g, c->area, v, r, t);
	x87_setup(&c->g, v, r);
	if (t)
		x87_mem_operand(&c->g, v, t);
	c->mem_target = t;
}

static unsigned count_of(const struct variant *v, const struct regs *in)
{
	unsigned c = (v->f->flags & F_CL) ? (unsigned)in->gpr[1] & 0xff :
		     (v->f->flags & F_C1) ? 1 : (unsigned)v->imm;

	return c & (v->sz == 8 ? 63 : 31);
}

/* The arithmetic flags the architecture defines for this state. */
static uint64_t defined_flags(const struct variant *v, const struct regs *in)
{
	const struct form *f = v->f;
	unsigned c, bits = v->sz * 8;
	uint64_t m;

	if (v->seq_fl)
		return v->seq_fl - 1 == FL_LOGIC ? ARITH & ~EMU_AF : ARITH;
	switch (f->fl) {
	case FL_LOGIC: return ARITH & ~EMU_AF;
	case FL_MUL: return EMU_CF | EMU_OF;
	case FL_DIV: return 0;
	case FL_BT: return EMU_CF | EMU_ZF;
	case FL_BSF: return EMU_ZF;
	case FL_CNT: return EMU_CF | EMU_ZF;
	case FL_SHIFT:
		c = count_of(v, in);
		if (!c)
			return ARITH;
		m = EMU_SF | EMU_ZF | EMU_PF | EMU_CF | (c == 1 ? EMU_OF : 0);
		if (c >= bits)
			m &= ~(uint64_t)EMU_CF;
		return m;
	case FL_ROT:
		c = count_of(v, in);
		return c == 1 ? ARITH : ARITH & ~EMU_OF;
	case FL_SHXD:
		c = count_of(v, in);
		if (!c)
			return ARITH;
		return EMU_SF | EMU_ZF | EMU_PF | EMU_CF | (c == 1 ? EMU_OF : 0);
	default: return ARITH;
	}
}

static int vector_of_signal(int sig, int trapno)
{
	switch (sig) {
	case 8: return trapno == EMU_XM || trapno == EMU_MF ? trapno : EMU_DE; /* SIGFPE */
	case 4: return EMU_UD;   /* SIGILL */
	case 5: return EMU_BP;   /* SIGTRAP */
	default: return EMU_GP;  /* SIGSEGV, SIGBUS */
	}
}

static void run_emu(struct ctx *c, const struct regs *in, struct regs *out, int *rc)
{
	struct emu_cpu *cpu = c->cpu;

	memcpy(cpu->r, in->gpr, sizeof(in->gpr));
	cpu->r[EMU_RIP] = addr(c, INSN_OFF);
	emu_set_rflags(cpu, in->rflags);
	emu_fxrstor_image(cpu, in->fx);
	memcpy(cpu->xmm, in->xmm, sizeof(in->xmm));
	cpu->segbase[1] = c->fsbase;
	cpu->segbase[2] = c->gsbase;
	*rc = c->budget ? emu_run(cpu, c->budget) : emu_step(cpu);
	memcpy(out->gpr, cpu->r, sizeof(out->gpr));
	out->rflags = emu_get_rflags(cpu);
	out->pad = cpu->r[EMU_RIP];
	memcpy(out->xmm, cpu->xmm, sizeof(out->xmm));
	emu_fxsave_image(cpu, out->fx);
}

static uint32_t ld32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint64_t ld64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static bool show_xmm;

static void dump_regs(const char *what, const struct regs *r)
{
	printf("    %-7s", what);
	for (int k = 0; k < 16; k++)
		printf("%s%016" PRIx64, k && !(k % 4) ? "\n           " : " ", r->gpr[k]);
	printf("\n           rflags %08" PRIx64 " mxcsr %08" PRIx32 " fsw %04x ftw %02x\n",
	       r->rflags, ld32(r->fx + 24), ld32(r->fx + 2) & 0xffff, r->fx[4]);
	if (show_xmm) {
		printf("           xmm");
		for (int k = 0; k < 16; k++)
			printf("%s%016" PRIx64 "%016" PRIx64, k && !(k % 3) ? "\n              " : " ",
			       ld64(r->xmm[k] + 8), ld64(r->xmm[k]));
		printf("\n           mm ");
		for (int k = 0; k < 8; k++)
			printf(" %04x:%016" PRIx64, ld32(r->fx + 40 + 16 * k) & 0xffff,
			       ld64(r->fx + 32 + 16 * k));
		printf("\n");
	}
}

static void report(struct ctx *c, const struct variant *v, const struct regs *in,
		   const struct native_result *nat, const struct regs *emu, int rc,
		   const char *why)
{
	if (++c->mismatches > MAX_REPORTS)
		return;
	printf("MISMATCH %s (size %u, %s%s%s): %s\n    bytes  ", v->f->name, v->sz,
	       v->mem ? "mem" : "reg", v->lock ? ", lock" : "", v->fs ? ", fs" : "", why);
	for (unsigned k = 0; k < v->len; k++)
		printf("%02x ", v->b[k]);
	printf("\n    native: signal %d landed %d; emu: exit %d vector %d rip +%" PRIu64 "\n",
	       nat->sig, nat->landed, rc, c->cpu->exc.vector,
	       emu->pad - addr(c, INSN_OFF));
	dump_regs("in", in);
	dump_regs("native", &nat->out);
	dump_regs("emu", emu);
	if (v->f->su == SU_X87) {
		x87_dump("in", in->fx);
		x87_dump("native", nat->out.fx);
		x87_dump("emu", emu->fx);
	}
}

static void check(struct ctx *c, const struct variant *v, const struct regs *in,
		  const struct native_result *nat, const struct regs *emu, int rc)
{
	uint64_t fm = (defined_flags(v, in) & ~(v->seq_noaf ? EMU_AF : 0)) | EMU_DF;
	uint64_t end = addr(c, INSN_OFF) + v->len;
	int landed = emu->pad == end ? 1 : emu->pad == end + BRANCH_REL ? 2 : -1;
	const char *why;

	if (nat->sig) {
		if (rc != EMU_EXIT_EXCEPTION ||
		    c->cpu->exc.vector != vector_of_signal(nat->sig, nat->trapno))
			return report(c, v, in, nat, emu, rc, "exception differs");
		if (nat->out.pad != emu->pad)
			return report(c, v, in, nat, emu, rc, "faulting RIP differs");
	} else {
		if (rc != EMU_EXIT_NONE)
			return report(c, v, in, nat, emu, rc, "emu raised an exception");
		if (landed != nat->landed)
			return report(c, v, in, nat, emu, rc, "control flow differs");
	}
	if (memcmp(nat->out.gpr, emu->gpr, sizeof(emu->gpr)))
		return report(c, v, in, nat, emu, rc, "GPRs differ");
	if ((nat->out.rflags ^ emu->rflags) & fm)
		return report(c, v, in, nat, emu, rc, "flags differ");
	if (memcmp(nat->out.xmm, emu->xmm, sizeof(emu->xmm)))
		return report(c, v, in, nat, emu, rc, "XMM differ");
	/* x87 forms: FIP/FDP without the selectors the host stores */
	why = v->f->su == SU_X87 ? x87_diff(nat->out.fx, emu->fx) :
	      memcmp(nat->out.fx, emu->fx, FX_CMP) ? "x87/MMX/MXCSR state differs" : NULL;
	if (why)
		return report(c, v, in, nat, emu, rc, why);
	if (memcmp(c->native_mem, c->area + CMP_OFF, CMP_SIZE))
		return report(c, v, in, nat, emu, rc, "memory differs");
}

static void run_state(struct ctx *c, const struct variant *v)
{
	struct regs in, emu;
	struct native_result nat;
	int rc;

	memset(&in, 0, sizeof(in));
	setup_state(c, v, &in);
	memcpy(c->init_mem, c->area + CMP_OFF, CMP_SIZE);
	native_run(c->area, &in, &nat);
	memcpy(c->native_mem, c->area + CMP_OFF, CMP_SIZE);
	if (c->mem_target)
		x87_fix_native(v, c->native_mem + (c->mem_target - addr(c, CMP_OFF)));
	memcpy(c->area + CMP_OFF, c->init_mem, CMP_SIZE);
	run_emu(c, &in, &emu, &rc);
	c->states++;
	check(c, v, &in, &nat, &emu, rc);
}

/* The forms the interpreter may fuse with a following Jcc. */
static bool fusable(const struct form *f)
{
	static const char *const names[] = {
		"cmp ", "test ", "add ", "sub ", "and ", "or ", "xor ", "inc ", "dec ",
	};

	for (unsigned k = 0; k < sizeof(names) / sizeof(names[0]); k++)
		if (!strncmp(f->name, names[k], strlen(names[k])))
			return true;
	return false;
}

/*
 * CMP, TEST, ALU and INC/DEC forms again, each followed by a Jcc (every
 * condition) whose target is the branch landing, then jmp $+2: the
 * interpreter runs the pair as one fused handler when it can, so the pair
 * is compared as one instruction would be. A Jcc does not end its block:
 * the budget of 2 stops after the pair either way (not taken, the jmp ends
 * the same block).
 */
static void run_pairs(struct ctx *c, const struct form *f, unsigned sz, unsigned nvariants,
		      unsigned nstates)
{
	if (!fusable(f))
		return;
	c->budget = 2;
	for (unsigned n = 0; n < 2 * nvariants; n++) {
		struct variant v;

		make_variant(&c->g, f, sz, c->area, &v);
		if (v.len + 4 > sizeof(v.b))
			continue;
		v.b[v.len] = (uint8_t)(0x70 + n % 16);
		v.b[v.len + 1] = BRANCH_REL + 2;
		v.b[v.len + 2] = 0xeb; /* jmp $+2 */
		v.b[v.len + 3] = 0x00;
		v.len += 4;
		native_place(c->area, v.b, v.len);
		emu_icache_flush(c->cpu);
		for (unsigned s = 0; s < (nstates + 3) / 4; s++)
			run_state(c, &v);
	}
	c->budget = 0;
}

/* Integer forms inside blocks with flag setters, readers and killers. */
static void run_seqs(struct ctx *c, const struct form *f, unsigned sz, unsigned nvariants,
		     unsigned nstates)
{
	for (unsigned n = 0; n < 2 * nvariants; n++) {
		struct variant v;

		make_variant(&c->g, f, sz, c->area, &v);
		if (!make_seq(&c->g, &v, &c->budget))
			continue;
		native_place(c->area, v.b, v.len);
		emu_icache_flush(c->cpu);
		for (unsigned s = 0; s < (nstates + 7) / 8; s++)
			run_state(c, &v);
	}
	c->budget = 0;
}

/*
 * Self-modifying code: a cached block must be dropped when a store hits its
 * page. C is decoded and run first; then A patches C's immediate and jumps
 * to it: AL must show the new value.
 */
static int check_smc(struct ctx *c)
{
	static const uint8_t code[] = {
		0xc6, 0x05, 0x03, 0x00, 0x00, 0x00, 0x05, /* A: mov byte [rip + 3], 5 */
		0xeb, 0x00,                               /* B: jmp C */
		0xb0, 0x01,                               /* C: mov al, 1 */
		0xf4,                                     /* D: hlt */
	};
	struct emu_cpu *cpu = c->cpu;
	uint8_t *p = c->area + INSN_OFF;
	int rc1, rc2;
	uint64_t al1;

	memcpy(p, code, sizeof(code));
	emu_icache_flush(cpu);
	cpu->r[EMU_RIP] = (uintptr_t)p + 9;
	rc1 = emu_run(cpu, 100);
	al1 = cpu->r[0] & 0xff;
	cpu->r[EMU_RIP] = (uintptr_t)p;
	rc2 = emu_run(cpu, 100);
	if (rc1 != EMU_EXIT_HLT || rc2 != EMU_EXIT_HLT || al1 != 1 || (cpu->r[0] & 0xff) != 5) {
		printf("MISMATCH self-modifying code: exits %d %d, al %#" PRIx64 " then %#" PRIx64
		       " (want 1 then 5)\n", rc1, rc2, al1, cpu->r[0] & 0xff);
		return 1;
	}
	return 0;
}

/*
 * Self-modifying code through a chained block: B (one page) jumps to C
 * (another page) often enough to be linked to it; then A, on B's page,
 * patches C and jumps to B. The link B -> C must not lead to the old C.
 */
static int check_smc_chain(struct ctx *c)
{
	static const uint8_t code_c[] = { 0xb0, 0x01, 0xf4 }; /* C: mov al, 1; hlt */
	uint8_t *a = c->area + 0x8000, *b = a + 0x40, *cc = c->area + 0x9000;
	struct emu_cpu *cpu = c->cpu;
	int32_t rel = (int32_t)(cc - (b + 5));
	uint64_t al[3];
	int rc[3];

	memcpy(cc, code_c, sizeof(code_c));
	b[0] = 0xe9; /* B: jmp C */
	memcpy(b + 1, &rel, 4);
	/* A: mov byte [C + 1], 5 (RIP-relative); jmp B */
	rel = (int32_t)((cc + 1) - (a + 7));
	a[0] = 0xc6;
	a[1] = 0x05;
	memcpy(a + 2, &rel, 4);
	a[6] = 5;
	a[7] = 0xeb;
	a[8] = (uint8_t)(b - (a + 9));
	emu_icache_flush(cpu);
	for (int k = 0; k < 2; k++) {
		cpu->r[EMU_RIP] = (uintptr_t)b;
		rc[k] = emu_run(cpu, 100);
		al[k] = cpu->r[0] & 0xff;
	}
	cpu->r[EMU_RIP] = (uintptr_t)a;
	rc[2] = emu_run(cpu, 100);
	al[2] = cpu->r[0] & 0xff;
	if (rc[0] != EMU_EXIT_HLT || rc[1] != EMU_EXIT_HLT || rc[2] != EMU_EXIT_HLT ||
	    al[0] != 1 || al[1] != 1 || al[2] != 5) {
		printf("MISMATCH self-modifying code, chained: exits %d %d %d, al %#" PRIx64
		       " %#" PRIx64 " %#" PRIx64 " (want 1 1 5)\n", rc[0], rc[1], rc[2],
		       al[0], al[1], al[2]);
		return 1;
	}
	return 0;
}

/*
 * An instruction crossing a page is decoded outside the cache; the last one
 * is reused while its bytes stay the same. Changing its second half (here
 * behind the CPU's back) must show.
 */
static int check_crossing(struct ctx *c)
{
	uint8_t *p = c->area + 0xa000 - 2; /* mov eax, imm32 across 0xa000; hlt */
	uint32_t want[2] = { 0x11223344, 0x55667744 }, got[2];
	int rc[2];

	emu_icache_flush(c->cpu);
	for (int k = 0; k < 2; k++) {
		p[0] = 0xb8;
		memcpy(p + 1, &want[k], 4);
		p[5] = 0xf4;
		c->cpu->r[EMU_RIP] = (uintptr_t)p;
		rc[k] = emu_run(c->cpu, 100);
		got[k] = (uint32_t)c->cpu->r[0];
	}
	if (rc[0] != EMU_EXIT_HLT || rc[1] != EMU_EXIT_HLT || got[0] != want[0] || got[1] != want[1]) {
		printf("MISMATCH page-crossing instruction changed: eax %#x %#x (want %#x %#x)\n",
		       got[0], got[1], want[0], want[1]);
		return 1;
	}
	return 0;
}

static int setup(struct ctx *c, struct emu_mem *mem, struct guest_ram_region *ram)
{
	c->area = mmap(NULL, AREA_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
	if (c->area == MAP_FAILED)
		return -1;
	syscall(SYS_arch_prctl, ARCH_GET_FS, &c->fsbase);
	syscall(SYS_arch_prctl, ARCH_GET_GS, &c->gsbase);
	*ram = (struct guest_ram_region){ .base = gpa((uintptr_t)c->area), .size = AREA_SIZE,
					  .hva = c->area, .fd = -1 };
	*mem = (struct emu_mem){ .ram = ram, .nram = 1 };
	c->cpu = calloc(1, sizeof(*c->cpu));
	if (!c->cpu || emu_cpu_init(c->cpu, mem))
		return -1;
	return native_init(c->area);
}

/* The chaining programs again with a translation arena so small that it
 * refills all the time: blocks go back to their records and are
 * translated again while links into the old translations must not count. */
static unsigned long check_small_arena(struct emu_cpu *cpu, uint8_t *area)
{
	struct emu_cache_stats before, after;
	unsigned long bad;

	emu_cache_stats(cpu, &before);
	if (emu_set_jit_arena(cpu, 4096) < 0) {
		printf("MISMATCH small arena: cannot make one\n");
		return 1;
	}
	bad = (unsigned long)check_chaining(cpu, area);
	emu_cache_stats(cpu, &after);
	if (after.jit_restarts < before.jit_restarts + 3) {
		printf("MISMATCH small arena: %" PRIu64 " refills (want many)\n",
		       after.jit_restarts - before.jit_restarts);
		bad++;
	}
	return bad;
}

int main(int argc, char **argv)
{
	static struct ctx c;
	struct emu_mem mem;
	struct guest_ram_region ram;
	unsigned nstates = 200, nvariants = 12, ninst = 0, jit_hot = 1;
	const char *filter = NULL;
	int opt;

	c.g.s = 0x5eed5eed12345ull;
	while ((opt = getopt(argc, argv, "s:v:x:f:j:")) != -1) {
		switch (opt) {
		case 's': nstates = (unsigned)atoi(optarg); break;
		case 'v': nvariants = (unsigned)atoi(optarg); break;
		case 'x': c.g.s = strtoull(optarg, NULL, 0) | 1; break;
		case 'f': filter = optarg; break;
		case 'j': jit_hot = (unsigned)atoi(optarg); break;
		default: return 2;
		}
	}
	if (setup(&c, &mem, &ram)) {
		perror("cpu-difftest: setup");
		return 1;
	}
	emu_set_jit_hot(c.cpu, jit_hot);
	for (unsigned k = 0; k < nforms + nsse_forms; k++) {
		const struct form *f = k < nforms ? &forms[k] : &sse_forms[k - nforms];

		if (filter && !strstr(f->name, filter))
			continue;
		c.fp = k >= nforms;
		show_xmm = c.fp;
		for (unsigned sz = 1; sz <= 8; sz <<= 1) {
			if (!(f->sizes & sz))
				continue;
			unsigned long before = c.mismatches;

			ninst++;
			for (unsigned n = 0; n < nvariants; n++) {
				struct variant v;

				make_variant(&c.g, f, sz, c.area, &v);
				native_place(c.area, v.b, v.len);
				emu_icache_flush(c.cpu);
				for (unsigned s = 0; s < nstates; s++)
					run_state(&c, &v);
			}
			run_pairs(&c, f, sz, nvariants, nstates);
			if (k < nforms && f->su != SU_X87)
				run_seqs(&c, f, sz, nvariants, nstates);
			if (c.mismatches != before)
				printf("FAILED %s (size %u): %lu mismatches\n", f->name, sz,
				       c.mismatches - before);
		}
	}
	c.mismatches += check_smc(&c);
	if (!filter || strstr("x87 sequence", filter))
		c.mismatches += x87_check_sequences(&c.g, c.cpu, c.area, c.fsbase, 400, &c.states);
	c.mismatches += check_smc_chain(&c);
	c.mismatches += check_crossing(&c);
	c.mismatches += check_chaining(c.cpu, c.area);
	if (jit_hot)
		c.mismatches += check_small_arena(c.cpu, c.area);
	printf("cpu: %u forms, %lu states, %lu mismatches\n", ninst, c.states, c.mismatches);
	emu_cpu_fini(c.cpu);
	return c.mismatches ? 1 : 0;
}
