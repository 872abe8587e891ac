/*
 * x87 side of the differential tests: random FPU states (edge values, every
 * TOP, tag mix, rounding and precision control, sometimes unmasked and
 * pending exceptions), memory operands of every x87 type, and the
 * comparison of two FXSAVE images' x87 parts.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "accel/emu/emu.h"
#include "difftest.h"

static void put(uint8_t *p, unsigned n, uint64_t v)
{
	memcpy(p, &v, n);
}

static uint64_t get(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	memcpy(&v, p, n);
	return v;
}

/* Exact integer magnitude m, scaled by 2^-scale, as an 80-bit real. */
static void int_f80(uint8_t *out, uint64_t m, unsigned scale, bool neg)
{
	unsigned s = m ? (unsigned)__builtin_clzll(m) : 0;
	uint16_t se = m ? (uint16_t)(16383 + 63 - s - scale) : 0;

	put(out, 8, m << s);
	put(out + 8, 2, se | (neg ? 0x8000 : 0));
}

static const uint64_t int_edges[] = {
	1, 2, 3, 10, 0x7fff, 0x8000, 0x8001, 0xffff, 0x7fffffff, 0x80000000, 0x80000001,
	0xffffffff, 0x7fffffffffffffffull, 0x8000000000000000ull, 0xffffffffffffffffull,
	999999999999999999ull, 1000000000000000000ull,
};
#define NEDGES (sizeof(int_edges) / sizeof(int_edges[0]))

static void rnd_f80(struct rng *g, uint8_t *out)
{
	uint64_t r = rnd(g), m = rnd(g);
	uint16_t sign = (r & 0x100) ? 0x8000 : 0;
	uint16_t exp;

	switch (r % 16) {
	case 0: m = 0; exp = 0; break;                                       /* zero */
	case 1: m = 1ull << 63; exp = 0x7fff; break;                         /* infinity */
	case 2: m |= 3ull << 62; exp = 0x7fff;                               /* QNaN */
		if (r & 0x200) { m = 3ull << 62; sign = 0x8000; }            /* indefinite */
		break;
	case 3: m = (m & ~(3ull << 62)) | (1ull << 63) | 1; exp = 0x7fff; break; /* SNaN */
	case 4: m >>= 1 + (r >> 10) % 63; exp = 0; break;                    /* denormal */
	case 5: /* unsupported encodings: pseudo-denormal, unnormal, pseudo-NaN */
		exp = (r & 0x200) ? 0 : (r & 0x400) ? 0x7fff : (uint16_t)((r >> 16) & 0x7fff);
		m = exp ? m & ~(1ull << 63) : m | (1ull << 63);
		break;
	case 6: case 7: { /* integers near the int16/32/64 and BCD edges, and halves */
		uint64_t v = int_edges[(r >> 12) % NEDGES] + ((r >> 20) % 5) - 2;
		unsigned scale = (r >> 24) % 3;

		if (scale && v < (1ull << 62))
			v = (v << scale) + ((r >> 28) & ((1u << scale) - 1));
		else
			scale = 0;
		int_f80(out, v, scale, sign);
		return;
	}
	case 8: m = ((r >> 12) % 400) << 55; int_f80(out, m >> 55, (r >> 30) % 3, sign); return;
	case 9: m |= 1ull << 63; exp = (uint16_t)(0x3fff + (r >> 12) % 5 - 2); break;
	case 10: m |= 1ull << 63; exp = (r & 0x200) ? (uint16_t)(0x7ffe - (r >> 12) % 3) :
			(uint16_t)(1 + (r >> 12) % 3); break;                /* huge, tiny */
	case 11: m |= 1ull << 63; exp = (uint16_t)(1 + (r >> 16) % 0x7ffe); break;
	default: m |= 1ull << 63; exp = (uint16_t)(0x3fff + (int)((r >> 16) % 200) - 100);
	}
	put(out, 8, m);
	put(out + 8, 2, exp | sign);
}

/* f32/f64 bit patterns of the same classes. */
static uint64_t rnd_fbits(struct rng *g, bool dbl)
{
	unsigned mb = dbl ? 52 : 23, eb = dbl ? 11 : 8;
	uint64_t r = rnd(g), m = rnd(g) & ((1ull << mb) - 1), emax = (1ull << eb) - 1;
	uint64_t sign = (r & 0x100) ? 1ull << (mb + eb) : 0, e;

	switch (r % 12) {
	case 0: m = 0; e = 0; break;
	case 1: m = 0; e = emax; break;
	case 2: m |= 1ull << (mb - 1); e = emax; break;                 /* QNaN */
	case 3: m = (m & ~(1ull << (mb - 1))) | 1; e = emax; break;     /* SNaN */
	case 4: m >>= (r >> 10) % mb; e = 0; break;                     /* denormal */
	case 5: e = (r & 0x200) ? emax - 1 : 1; break;                  /* huge, tiny */
	case 6: case 7: { /* integers and halves near the edges */
		double d = (double)(int_edges[(r >> 12) % NEDGES] + ((r >> 20) % 5) - 2);

		d += (double)((r >> 24) % 4) * 0.25;
		if (sign)
			d = -d;
		if (dbl) {
			memcpy(&m, &d, 8);
			return m;
		}
		float f = (float)d;
		uint32_t b;

		memcpy(&b, &f, 4);
		return b;
	}
	default: e = (emax >> 1) + (r >> 16) % 80 - 40;
	}
	return sign | e << mb | m;
}

static uint16_t rnd_fcw(struct rng *g)
{
	static const uint16_t pc[] = { 3, 3, 3, 2, 0, 1 };
	uint64_t r = rnd(g);
	uint16_t masks = (r & 3) ? 0x3f : (uint16_t)((r >> 8) & 0x3f);

	return (uint16_t)(0x40 | masks | pc[(r >> 16) % 6] << 8 | ((r >> 20) & 3) << 10 |
			  ((r >> 24) & 1) << 12);
}

/* Status word: flags that would be pending (unmasked) only now and then. */
static uint16_t rnd_fsw(struct rng *g, uint16_t fcw)
{
	uint64_t r = rnd(g);
	uint16_t f = (uint16_t)((r >> 8) & 0x3f), fsw;

	if ((f & ~fcw & 0x3f) && (r & 7))
		f &= fcw;
	if ((f & 1) && (r & 0x8000))
		f |= 0x40; /* SF */
	fsw = (uint16_t)(f | (r & 0x4700) | ((r >> 16) & 7) << 11);
	if (f & ~fcw & 0x3f)
		fsw |= 0x8080; /* ES, B */
	return fsw;
}

static uint8_t rnd_tags(struct rng *g)
{
	uint64_t r = rnd(g);

	switch (r & 3) {
	case 0: return 0;
	case 1: return 0xff;
	default: return (uint8_t)(r >> 8);
	}
}

static bool is_x87(const struct variant *v)
{
	return v->f->su == SU_X87;
}

void x87_setup(struct rng *g, const struct variant *v, struct regs *r)
{
	uint8_t *fx = r->fx;

	if (!is_x87(v))
		return;
	memset(fx, 0, 24);
	put(fx, 2, rnd_fcw(g));
	put(fx + 2, 2, rnd_fsw(g, (uint16_t)get(fx, 2)));
	fx[4] = rnd_tags(g);
	for (unsigned k = 0; k < 8; k++)
		rnd_f80(g, fx + 32 + 16 * k);
}

/* An environment (and registers) image for FLDENV/FRSTOR. */
static void rnd_env(struct rng *g, uint8_t *p, bool o16, bool regs)
{
	uint16_t fcw = rnd_fcw(g), tw = 0;
	uint8_t tags = rnd_tags(g);
	unsigned n = o16 ? 14 : 28;

	for (unsigned k = 0; k < 8; k++)
		tw |= (uint16_t)((tags & (1u << k) ? rnd(g) % 3 : 3) << (2 * k));
	memset(p, 0, n);
	if (o16) {
		put(p, 2, fcw);
		put(p + 2, 2, rnd_fsw(g, fcw));
		put(p + 4, 2, tw);
		put(p + 6, 2, rnd(g));
		put(p + 10, 2, rnd(g));
	} else {
		put(p, 2, fcw);
		put(p + 4, 2, rnd_fsw(g, fcw));
		put(p + 8, 2, tw);
		put(p + 12, 4, rnd(g));
		put(p + 16, 4, (rnd(g) & 0x7ff) << 16);
		put(p + 20, 4, rnd(g));
	}
	if (regs)
		for (unsigned k = 0; k < 8; k++)
			rnd_f80(g, p + n + 10 * k);
}

void x87_mem_operand(struct rng *g, const struct variant *v, uint64_t t)
{
	uint8_t *p = (uint8_t *)(uintptr_t)t;
	unsigned esc = v->f->op[0], dig = v->f->digit;

	if (!is_x87(v) || v->f->modrm != M_D)
		return;
	switch (esc << 4 | dig) {
	case 0xd80 ... 0xd87: case 0xd90:
		put(p, 4, rnd_fbits(g, false));
		break;
	case 0xdc0 ... 0xdc7: case 0xdd0:
		put(p, 8, rnd_fbits(g, true));
		break;
	case 0xdb5:
		rnd_f80(g, p);
		break;
	case 0xda0 ... 0xda7: case 0xdb0: /* int32: the harness' edge values */
	case 0xde0 ... 0xde7: case 0xdf0: case 0xdf5:
		break;
	case 0xdf4: /* packed BCD, now and then invalid digits */
		for (unsigned k = 0; k < 9; k++) {
			uint64_t r = rnd(g);

			p[k] = (r & 0xf00) ? (uint8_t)((r % 10) | ((r >> 4) % 10) << 4) : (uint8_t)r;
		}
		p[9] = (rnd(g) & 1) ? 0x80 : 0;
		break;
	case 0xd95:
		put(p, 2, (rnd(g) & 7) ? rnd_fcw(g) : rnd(g));
		break;
	case 0xd94:
		rnd_env(g, p, v->sz == 2, false);
		break;
	case 0xdd4:
		rnd_env(g, p, v->sz == 2, true);
		break;
	}
}

/* The host stores its CS and DS selectors in a saved environment; the
 * emulator stores 0 (CPUID.7:EBX[13]): clear them in the native result. */
void x87_fix_native(const struct variant *v, uint8_t *p)
{
	unsigned op = v->f->op[0] << 4 | v->f->digit;

	if (!is_x87(v) || (op != 0xd96 && op != 0xdd6))
		return;
	if (v->sz == 2) {
		put(p + 8, 2, 0);
		put(p + 12, 2, 0);
	} else {
		put(p + 16, 2, 0);
		put(p + 24, 2, 0);
	}
}

/* Compare the x87 parts and MXCSR: FIP/FDP without their selectors. */
const char *x87_diff(const uint8_t *a, const uint8_t *b)
{
	if (memcmp(a, b, 4))
		return "FCW/FSW differ";
	if (a[4] != b[4])
		return "x87 tag word differs";
	if (memcmp(a + 6, b + 6, 2) || memcmp(a + 8, b + 8, 4) || memcmp(a + 16, b + 16, 4))
		return "FOP/FIP/FDP differ";
	if (memcmp(a + 24, b + 24, 4))
		return "MXCSR differs";
	for (unsigned k = 0; k < 8; k++)
		if (memcmp(a + 32 + 16 * k, b + 32 + 16 * k, 10))
			return "x87 registers differ";
	return NULL;
}

void x87_dump(const char *what, const uint8_t *fx)
{
	printf("    %-7s fcw %04" PRIx64 " fsw %04" PRIx64 " ftw %02x fop %03" PRIx64
	       " fip %08" PRIx64 " fdp %08" PRIx64 " mxcsr %08" PRIx64 "\n           ",
	       what, get(fx, 2), get(fx + 2, 2), fx[4], get(fx + 6, 2), get(fx + 8, 4),
	       get(fx + 16, 4), get(fx + 24, 4));
	for (unsigned k = 0; k < 8; k++)
		printf("%s%04" PRIx64 ":%016" PRIx64, k == 4 ? "\n           " : " ",
		       get(fx + 40 + 16 * k, 2), get(fx + 32 + 16 * k, 8));
	printf("\n");
}

/*
 * Short x87 sequences, run natively and stepped in the emulator: what one
 * instruction cannot show. FNSTENV/FNSAVE after a load or an arithmetic
 * instruction must store its FIP, FOP and FDP; an unmasked exception must
 * stay pending until the next waiting instruction raises #MF there.
 * rdi points at operands, rsi at the store area.
 */
struct x87_seq {
	const char *name;
	uint8_t b[16];
	unsigned len, steps;
	int env;  /* offset of a stored environment from rsi, or -1 */
};

static const struct x87_seq seqs[] = {
	{ "fld m64; fnstenv", { 0xdd, 0x07, 0xd9, 0x36 }, 4, 2, 0 },
	{ "fld1; fadd m64; fnsave", { 0xd9, 0xe8, 0xdc, 0x47, 0x08, 0xdd, 0x36 }, 7, 3, 0 },
	{ "fild m32; fistp m16; fnstenv", { 0xdb, 0x07, 0xdf, 0x1e, 0xd9, 0x76, 0x20 }, 7, 3, 32 },
	{ "fldcw; fldz; fld1; fdivrp; fwait (#MF)",
	  { 0xd9, 0x6f, 0x10, 0xd9, 0xee, 0xd9, 0xe8, 0xde, 0xf1, 0x9b }, 10, 5, -1 },
	{ "fs: fld m32; fnclex; fnstenv", { 0x64, 0xd9, 0x07, 0xdb, 0xe2, 0xd9, 0x36 }, 7, 3, 0 },
};

static const struct form seq_form = { .name = "x87 sequence", .su = SU_X87 };

static void seq_state(struct rng *g, const struct x87_seq *s, uint8_t *area, struct regs *r,
		      uint64_t fsbase)
{
	const struct variant v = { .f = &seq_form };
	uint8_t *d = area + DATA_OFF + 0x100;

	for (unsigned k = 0; k < 16; k++)
		r->gpr[k] = rnd(g);
	r->gpr[4] = (uintptr_t)area + STACK_TOP_OFF;
	r->gpr[6] = (uintptr_t)area + DATA_OFF + 0x400;
	r->gpr[7] = (uintptr_t)d;
	if (s->b[0] == 0x64)
		r->gpr[7] -= fsbase;
	r->rflags = 0x202;
	memset(r->fx, 0, sizeof(r->fx));
	put(r->fx + 24, 4, 0x1f80);
	x87_setup(g, &v, r);
	memset(area + DATA_OFF, 0, 0x800);
	put(d, 8, rnd_fbits(g, true));
	put(d + 8, 8, rnd_fbits(g, true));
	put(d + 16, 2, 0x37b);  /* ZE unmasked */
}

unsigned long x87_check_sequences(struct rng *g, struct emu_cpu *cpu, uint8_t *area,
				  uint64_t fsbase, unsigned n, unsigned long *states)
{
	static uint8_t init_mem[0x800], native_mem[0x800];
	unsigned long bad = 0;

	for (unsigned q = 0; q < sizeof(seqs) / sizeof(seqs[0]); q++) {
		const struct x87_seq *s = &seqs[q];

		native_place(area, s->b, s->len);
		emu_icache_flush(cpu);
		for (unsigned k = 0; k < n; k++) {
			struct regs in, out;
			struct native_result nat;
			const char *why = NULL;
			int rc = EMU_EXIT_NONE;

			seq_state(g, s, area, &in, fsbase);
			memcpy(init_mem, area + DATA_OFF, sizeof(init_mem));
			native_run(area, &in, &nat);
			memcpy(native_mem, area + DATA_OFF, sizeof(native_mem));
			if (s->env >= 0) /* the host's selectors: the emulator stores 0 */
				put(native_mem + 0x400 + s->env + 16, 2, 0),
				put(native_mem + 0x400 + s->env + 24, 2, 0);
			memcpy(area + DATA_OFF, init_mem, sizeof(init_mem));
			memcpy(cpu->r, in.gpr, sizeof(in.gpr));
			cpu->r[EMU_RIP] = (uintptr_t)area + INSN_OFF;
			emu_set_rflags(cpu, in.rflags);
			emu_fxrstor_image(cpu, in.fx);
			cpu->segbase[1] = fsbase;
			for (unsigned st = 0; st < s->steps && rc == EMU_EXIT_NONE; st++)
				rc = emu_step(cpu);
			emu_fxsave_image(cpu, out.fx);
			(*states)++;
			if ((nat.sig != 0) != (rc == EMU_EXIT_EXCEPTION))
				why = "exception differs";
			else if (nat.sig && (cpu->exc.vector != EMU_MF || nat.out.pad != cpu->r[EMU_RIP]))
				why = "#MF differs";
			else if (!nat.sig && cpu->r[EMU_RIP] != (uintptr_t)area + INSN_OFF + s->len)
				why = "end RIP differs";
			else if ((why = x87_diff(nat.out.fx, out.fx)))
				;
			else if (memcmp(native_mem, area + DATA_OFF, sizeof(native_mem)))
				why = "memory differs";
			if (why && ++bad <= 4) {
				printf("MISMATCH %s: %s\n", s->name, why);
				x87_dump("in", in.fx);
				x87_dump("native", nat.out.fx);
				x87_dump("emu", out.fx);
			}
		}
	}
	return bad;
}
