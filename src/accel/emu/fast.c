/*
 * The specialisation pass: once a block is decoded, each record's generic
 * handler is replaced by a specialised one where the record fits its
 * preconditions (size, register or flat memory operand), CMP/TEST + Jcc
 * pairs are fused, and flag updates that nothing can observe are dropped.
 *
 * Dead flags: a record's flags are dead if, before anything reads flags, an
 * instruction of the same block overwrites all six arithmetic flags, and
 * every instruction in between neither touches flags nor can fault (so an
 * exception can never see stale flags). Interrupts only come at block ends,
 * where flags always count as live.
 */
#include "accel/emu/fast.h"
#include "accel/emu/icache.h"

enum { K_OTHER, K_NEUTRAL, K_FULLW };

static bool is_mem(const struct emu_insn *i)
{
	return i->flags & I_MEM;
}

static bool alu_full(unsigned op)
{
	return op != ALU_ADC && op != ALU_SBB;
}

static bool in(emu_fn fn, const emu_fn *tab, unsigned n)
{
	for (unsigned k = 0; k < n; k++)
		if (tab[k] == fn)
			return true;
	return false;
}

/*
 * SHL/SAL/SHR/SAR of a register by a non-zero constant: the lazy record is
 * replaced whole, so no earlier flag survives it.
 */
static bool shift_by_const(const struct emu_insn *i)
{
	unsigned op = i->op & 7;

	return i->fn == op_shift && i->sz2 != 1 && op >= 4 &&
	       (i->imm & (i->sz == 8 ? 63 : 31));
}

/*
 * How a (still generic) record treats flags, for the dead-flags scan.
 * Register IMUL defines CF/OF and leaves SF/ZF/AF/PF undefined, so it
 * overwrites everything a program may rely on (MPI multiply loops are
 * chains of IMULs and shifts).
 */
static unsigned kind(const struct emu_insn *i)
{
	emu_fn f = i->fn;

	if (in(f, emu_alu_r_r, 8) || in(f, emu_alu_r_imm, 8))
		return alu_full(i->op) ? K_FULLW : K_OTHER;
	if (is_mem(i))
		return f == op_lea ? K_NEUTRAL : K_OTHER;
	if (f == op_alu_r_rm)
		return alu_full(i->op) ? K_FULLW : K_OTHER;
	if (f == op_test_rm_r || f == op_test_rm_imm || f == op_neg)
		return K_FULLW;
	if (f == op_imul2 || f == op_imul3 || shift_by_const(i))
		return K_FULLW;
	if (f == op_mov_r_r || f == op_mov_rm_imm || f == op_mov_rm_r || f == op_mov_r_rm ||
	    f == op_movzx || f == op_movsx || f == op_not || f == op_bswap || f == op_nop)
		return K_NEUTRAL;
	return K_OTHER;
}

/* A memory operand ea_flat() computes: no segment, no 32-bit wrap. */
static bool flat_ea(const struct emu_insn *i)
{
	return !i->seg && !(i->flags & (I_A32 | I_RIPX | I_A16));
}

static int size_idx(unsigned sz)
{
	return sz == 1 ? FS_1 : sz == 4 ? FS_4 : sz == 8 ? FS_8 : -1;
}

/* Size index 0/1 for tables of 4/8-byte forms, -1 otherwise. */
static int size48(unsigned sz)
{
	return sz == 4 ? 0 : sz == 8 ? 1 : -1;
}

/* The fused form of a register ALU or INC/DEC record, or -1. */
static int fuse_form_alu(const struct emu_insn *i)
{
	static const int8_t alu_form[8] = {
		[ALU_ADD] = FZ_ADD_RR, [ALU_OR] = FZ_OR_RR, [ALU_ADC] = -1, [ALU_SBB] = -1,
		[ALU_AND] = FZ_AND_RR, [ALU_SUB] = FZ_SUB_RR, [ALU_XOR] = FZ_XOR_RR, [ALU_CMP] = -1,
	};
	int f = alu_form[i->op & 7];

	if (i->fn == op_incdec && i->op < 2)
		return i->op ? FZ_DEC : FZ_INC;
	if (f < 0 || (!in(i->fn, emu_alu_r_r, 8) && !in(i->fn, emu_alu_r_imm, 8)))
		return -1;
	return f + in(i->fn, emu_alu_r_imm, 8);
}

/* The fused form of a CMP/TEST/ALU/INC/DEC record, or -1. */
static int fuse_form(const struct emu_insn *i)
{
	emu_fn f = i->fn;
	bool mem = is_mem(i);

	if (mem && !flat_ea(i))
		return -1;
	if (f == emu_alu_r_r[ALU_CMP])
		return FZ_CMP_RR;
	if (f == emu_alu_r_imm[ALU_CMP])
		return FZ_CMP_RI;
	if (f == op_alu_r_rm && i->op == ALU_CMP)
		return mem ? FZ_CMP_RM : FZ_CMP_RRX;
	if (f == op_alu_rm_r && i->op == ALU_CMP && mem)
		return FZ_CMP_MR;
	if (f == op_alu_rm_imm && i->op == ALU_CMP && mem)
		return FZ_CMP_MI;
	if (f == op_test_rm_r && !mem)
		return FZ_TEST_RR;
	if (f == op_test_rm_imm)
		return mem ? FZ_TEST_MI : FZ_TEST_RI;
	return mem ? -1 : fuse_form_alu(i);
}

static bool try_fuse(struct emu_insn *i)
{
	int form = fuse_form(i), s = size_idx(i->sz);

	if (form < 0 || s < 0 || i[1].fn != op_jcc || !emu_fused[form][s][i[1].op & 15])
		return false;
	i->fn = emu_fused[form][s][i[1].op & 15];
	i->flags |= I_END; /* marks the pair (see single_fn) */
	i[1].fn = emu_fast_jcc[i[1].op & 15];
	return true;
}

/* The pick_* functions give the handler for a record, or its variant that
 * leaves RIP behind (nr, see ops_fast.c), or NULL. */
static emu_fn pick_alu(const struct emu_insn *i, bool live, bool nr)
{
	int s = size48(i->sz), form = -1;
	emu_fn f = i->fn;

	if (in(f, emu_alu_r_r, 8))
		form = FA_RR;
	else if (in(f, emu_alu_r_imm, 8))
		form = FA_RI;
	else if (f == op_alu_r_rm)
		form = is_mem(i) ? (flat_ea(i) ? FA_RM : -1) : FA_RRX;
	else if ((f == op_alu_rm_r || f == op_alu_rm_imm) && is_mem(i) && flat_ea(i))
		form = f == op_alu_rm_r ? FA_MR : FA_MI;
	if (form < 0 || s < 0)
		return NULL;
	return emu_fast_alu[nr][form][i->op & 7][s][live];
}

static emu_fn pick_mov(const struct emu_insn *i, bool nr)
{
	int s = size_idx(i->sz), s48 = size48(i->sz);
	bool mem = is_mem(i), flat = !mem || flat_ea(i);
	emu_fn f = i->fn;

	if (!flat)
		return NULL;
	if (f == op_movzx || f == op_movsx) {
		bool sx = f == op_movsx;
		int s2 = i->sz2 == 1 ? 0 : i->sz2 == 2 ? 1 : i->sz2 == 4 && sx ? 2 : -1;

		return s2 < 0 || s48 < 0 ? NULL : emu_fast_movx[sx][s2][nr][s48][mem];
	}
	if (s < 0)
		return NULL;
	if (f == op_mov_r_r || (f == op_mov_rm_r && !mem))
		return emu_fast_mov_rr[nr][s];
	if (f == op_mov_rm_imm && !mem)
		return emu_fast_movi_r[nr][s];
	if (nr)
		return NULL;
	if (f == op_mov_r_m || (f == op_mov_r_rm && mem))
		return emu_fast_mov_rm[s];
	if (f == op_mov_m_r || (f == op_mov_rm_r && mem))
		return emu_fast_mov_mr[s];
	if (f == op_mov_rm_imm)
		return emu_fast_movi_m[s];
	if (f == op_lea)
		return emu_fast_lea[s];
	return NULL;
}

/* Register-only INC/DEC, shifts by a fixed count, TEST; push/pop; IMUL,
 * SETcc, CMOVcc. */
static emu_fn pick_misc(const struct emu_insn *i, bool live, bool nr)
{
	static const int8_t shift_k[8] = { 0, 1, -1, -1, 2, 3, 2, 4 };
	int s48 = size48(i->sz), s = size_idx(i->sz);
	bool mem = is_mem(i);
	emu_fn f = i->fn;

	if (f == op_push_r && i->sz == 8)
		return nr ? NULL : op_fast_push64;
	if (f == op_pop_r && i->sz == 8)
		return nr ? NULL : op_fast_pop64;
	if (mem && !flat_ea(i))
		return NULL;
	if ((f == op_imul2 || f == op_imul3) && s48 >= 0 && !live)
		return emu_fast_imul[nr][f == op_imul3][s48][mem];
	if (f == op_setcc)
		return emu_fast_setcc[nr][mem][i->op & 15];
	if (f == op_cmovcc && s48 >= 0)
		return emu_fast_cmov[nr][s48][mem][i->op & 15];
	if (mem)
		return NULL;
	if (f == op_incdec && s48 >= 0 && i->op < 2)
		return emu_fast_incdec[nr][i->op][s48][live];
	if (f == op_shift && s48 >= 0 && i->sz2 != 1 && shift_k[i->op & 7] >= 0 &&
	    (i->imm & (i->sz * 8 - 1)))
		return emu_fast_shift[nr][shift_k[i->op & 7]][s48][live];
	if ((f == op_test_rm_r || f == op_test_rm_imm) && s >= 0)
		return emu_fast_test[nr][f == op_test_rm_imm][s];
	return NULL;
}

/* The specialised handler of a (still generic) record, or NULL. */
static emu_fn choose(const struct emu_insn *i, bool live, bool nr)
{
	emu_fn f;

	if (i->fn == op_jcc)
		return nr ? NULL : emu_fast_jcc[i->op & 15];
	if (i->flags & I_LOCK)
		return NULL;
	f = pick_alu(i, live, nr);
	if (!f)
		f = pick_mov(i, nr);
	if (!f)
		f = pick_misc(i, live, nr);
	return f;
}

/*
 * Runs of RIP-free records (those with an nr handler): each gets in disp
 * how far RIP lags behind it; all but the last leave RIP behind (I_NOADV),
 * the last catches up. Their address bits mean nothing (register
 * operands), so I_LAG/I_NOADV reuse them.
 */
static void rip_runs(struct emu_insn *insns, unsigned n, emu_fn const *nr)
{
	int32_t lag = 0;

	for (unsigned k = 0; k < n; k++) {
		struct emu_insn *i = &insns[k];

		if (!nr[k]) {
			lag = 0;
			continue;
		}
		i->disp = lag;
		i->flags = (uint8_t)((i->flags & ~(I_LAG | I_NOADV)) | I_LAG);
		if (nr[k + 1]) {
			i->fn = nr[k];
			i->flags |= I_NOADV;
			lag += i->len;
		} else {
			lag = 0;
		}
	}
}

void emu_fast_block(struct emu_insn *insns, unsigned n)
{
	bool live[EMU_BLOCK_MAX];
	emu_fn nr[EMU_BLOCK_MAX + 1];
	bool l = true; /* at the block's end flags are live */

	if (n > EMU_BLOCK_MAX)
		return;
	for (unsigned k = n; k-- > 0;) {
		unsigned kd = kind(&insns[k]);

		live[k] = l;
		if (kd == K_FULLW)
			l = false;
		else if (kd == K_OTHER)
			l = true;
	}
	for (unsigned k = 0; k < n; k++) {
		if (insns[k].fn == op_jcc)
			insns[k].sz2 = (uint8_t)(n - k - 1); /* see emu_jcc_taken */
	}
	for (unsigned k = 0; k < n; k++) {
		emu_fn f;

		nr[k] = NULL;
		if (k + 1 < n && try_fuse(&insns[k])) {
			nr[++k] = NULL;
			continue;
		}
		nr[k] = choose(&insns[k], live[k], true);
		f = choose(&insns[k], live[k], false);
		if (f)
			insns[k].fn = f;
	}
	nr[n] = NULL;
	rip_runs(insns, n, nr);
}

static emu_fn single_fn(const struct emu_insn *i)
{
	if (!(i->flags & I_END))
		return i->fn;
	for (unsigned f = 0; f < FZ_N; f++)
		for (unsigned s = 0; s < FS_N; s++)
			if (in(i->fn, emu_fused[f][s], 16))
				return emu_fused_generic(f);
	return i->fn;
}

static EMU_OP(op_single_end)
{
	(void)cpu;
	(void)i;
	return 1;
}

/*
 * A copy of the record followed by an end record: emu_next() stops there.
 * The caller counts the instruction (a taken Jcc would uncount the rest of
 * its block). A record from a RIP-free run runs with no lag; one that
 * leaves RIP behind is moved past here.
 */
void emu_fast_run_single(struct emu_cpu *cpu, const struct emu_insn *i)
{
	struct emu_insn one[2] = { *i, { .fn = op_single_end } };
	uint64_t icount = cpu->icount;

	bool run = emu_insn_in_rip_run(i);

	one[0].fn = single_fn(i);
	if (run)
		one[0].disp = 0;
	one[0].fn(cpu, one);
	if (run && (i->flags & I_NOADV))
		RIP += i->len;
	cpu->icount = icount;
}
