/*
 * Block chaining, the return-address stack and the run budget, on small
 * programs whose results are known by construction: calls from several
 * sites (more return targets than a block has links), nested calls, a
 * retpoline (CALL, then MOV [RSP] and RET to another target), run in short
 * slices so that budgets end inside chains; then stores into the callee's
 * and the caller's pages, after which neither links, nor the return-address
 * stack, nor the blocks linked for returns may lead to the old code. Also
 * PUSH/POP pairs (one record runs two) around a page boundary.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "accel/emu/emu.h"
#include "difftest.h"

#define MAIN_OFF 0xb000  /* the loop (and, at +0x800, the patcher) */
#define FUNC_OFF 0xc000  /* the functions, on their own page */
#define CHAIN_STACK_TOP 0xe000
#define LOOPS 300

static uint8_t *put(uint8_t *p, const void *b, size_t n)
{
	memcpy(p, b, n);
	return p + n;
}

/* E8/E9 (or any opcode + rel32) at p to target; returns the end. */
static uint8_t *rel32(uint8_t *p, uint8_t op, const uint8_t *target)
{
	int32_t rel = (int32_t)(target - (p + 5));

	*p = op;
	memcpy(p + 1, &rel, 4);
	return p + 5;
}

/*
 * F: add rbx, 1; ret           G: call F; add rbx, 0x100; ret
 * T: call T1; pause; jmp $-2   T1: mov [rsp], rax; ret (a retpoline)
 * H: add rbx, 0x10000; ret
 */
static void put_functions(uint8_t *f)
{
	static const uint8_t add1[] = { 0x48, 0x83, 0xc3, 0x01, 0xc3 };
	static const uint8_t add100[] = { 0x48, 0x81, 0xc3, 0x00, 0x01, 0x00, 0x00, 0xc3 };
	static const uint8_t trap[] = { 0xf3, 0x90, 0xeb, 0xfc };
	static const uint8_t t1[] = { 0x48, 0x89, 0x04, 0x24, 0xc3 };
	static const uint8_t h[] = { 0x48, 0x81, 0xc3, 0x00, 0x00, 0x01, 0x00, 0xc3 };

	put(f, add1, sizeof(add1));
	put(rel32(f + 0x10, 0xe8, f), add100, sizeof(add100));
	put(rel32(f + 0x20, 0xe8, f + 0x30), trap, sizeof(trap));
	put(f + 0x30, t1, sizeof(t1));
	put(f + 0x40, h, sizeof(h));
}

/* mov ecx, LOOPS; L: call F; call G; call F; lea rax, [H]; call T;
 * dec ecx; jnz L; hlt */
static void put_main(uint8_t *m, uint8_t *f)
{
	static const uint8_t tail[] = { 0xff, 0xc9, 0x75, 0xe1, 0xf4 };
	uint8_t *p = m;
	int32_t rel;

	*p++ = 0xb9;
	rel = LOOPS;
	p = put(p, &rel, 4);
	p = rel32(p, 0xe8, f);
	p = rel32(p, 0xe8, f + 0x10);
	p = rel32(p, 0xe8, f);
	rel = (int32_t)(f + 0x40 - (p + 7));
	p = put(p, (const uint8_t[]){ 0x48, 0x8d, 0x05 }, 3);
	p = put(p, &rel, 4);
	p = rel32(p, 0xe8, f + 0x20);
	put(p, tail, sizeof(tail)); /* jnz back to L = m + 5 */
}

/* Runs from rip in slices of n instructions until HLT; the exit, or -1
 * after too many slices. */
static int run_sliced(struct emu_cpu *cpu, uint64_t rip, uint64_t n)
{
	cpu->r[EMU_RIP] = rip;
	for (unsigned k = 0; k < 100000; k++) {
		int rc = emu_run(cpu, n);

		if (rc != EMU_EXIT_NONE)
			return rc;
	}
	return -1;
}

static int check_loop(struct emu_cpu *cpu, uint8_t *area, uint64_t start, uint64_t slice,
		      uint64_t per_loop, const char *what)
{
	uint64_t sp = (uintptr_t)area + CHAIN_STACK_TOP;
	int rc;

	cpu->r[3] = 0;
	cpu->r[4] = sp;
	rc = run_sliced(cpu, (uintptr_t)area + start, slice);
	if (rc == EMU_EXIT_HLT && cpu->r[3] == LOOPS * per_loop && cpu->r[4] == sp &&
	    (uint32_t)cpu->r[1] == 0)
		return 0;
	printf("MISMATCH chained calls (%s, slices of %" PRIu64 "): exit %d, rbx %#" PRIx64
	       " (want %#" PRIx64 "), rsp %+" PRId64 ", ecx %" PRIu64 "\n", what, slice, rc,
	       cpu->r[3], LOOPS * per_loop, (int64_t)(cpu->r[4] - sp), cpu->r[1]);
	return 1;
}

/*
 * The patcher, on the loop's page: F's immediate becomes 2, the loop's
 * call G (the return site of its first call F) becomes a call F, then it
 * jumps to the loop. Links, return-address stack entries and the blocks
 * linked for returns were all made for the old code.
 */
static int check_patched(struct emu_cpu *cpu, uint8_t *area)
{
	uint8_t *m = area + MAIN_OFF, *f = area + FUNC_OFF, *p = area + MAIN_OFF + 0x800;
	uint8_t *site = m + 10; /* call G: the return site of the first call F */
	int32_t rel = (int32_t)(f - (site + 5)), d;

	/* mov byte [rip + F + 3], 2 */
	d = (int32_t)(f + 3 - (p + 7));
	p = put(p, (const uint8_t[]){ 0xc6, 0x05 }, 2);
	p = put(p, &d, 4);
	*p++ = 2;
	/* mov dword [rip + site + 1], rel (call G becomes call F) */
	d = (int32_t)(site + 1 - (p + 10));
	p = put(p, (const uint8_t[]){ 0xc7, 0x05 }, 2);
	p = put(p, &d, 4);
	p = put(p, &rel, 4);
	rel32(p, 0xe9, m);
	/* per loop: F 2, F 2, F 2, H 0x10000 */
	return check_loop(cpu, area, MAIN_OFF + 0x800, 1000000, 6 + 0x10000, "after patching");
}

/*
 * A CALL ending exactly at a page's end (X, on the functions' page) returns
 * to the first byte of the next page (R: add rbx, 1; dec ecx; jnz X; hlt).
 * A store into R's page drops R's blocks but not X's, whose tail still
 * holds the block linked for its return: that link must stop counting.
 */
static int check_return_site(struct emu_cpu *cpu, uint8_t *area)
{
	static const uint8_t r[] = { 0x48, 0x83, 0xc3, 0x01, 0xff, 0xc9, 0x0f, 0x85 };
	uint8_t *x = area + 0xd000 - 5, *ret = area + 0xd000, *p = area + MAIN_OFF + 0xa00;
	int32_t rel = (int32_t)(x - (ret + sizeof(r) + 4)), d;
	uint64_t got[2], want[2] = { 20 * 2, 20 * (1 + 5) };
	int rc[2];

	rel32(x, 0xe8, area + FUNC_OFF); /* F: add rbx, 1; ret */
	put(put(ret, r, sizeof(r)), &rel, 4)[0] = 0xf4;
	/* the patcher: mov byte [R + 3], 5; jmp X */
	d = (int32_t)(ret + 3 - (p + 7));
	p = put(p, (const uint8_t[]){ 0xc6, 0x05 }, 2);
	p = put(p, &d, 4);
	*p++ = 5;
	rel32(p, 0xe9, x);
	for (int k = 0; k < 2; k++) {
		cpu->r[1] = 20;
		cpu->r[3] = 0;
		cpu->r[4] = (uintptr_t)area + CHAIN_STACK_TOP;
		rc[k] = run_sliced(cpu, (uintptr_t)(k ? area + MAIN_OFF + 0xa00 : x), 1000000);
		got[k] = cpu->r[3];
	}
	if (rc[0] == EMU_EXIT_HLT && rc[1] == EMU_EXIT_HLT && got[0] == want[0] && got[1] == want[1])
		return 0;
	printf("MISMATCH return to a patched page: exits %d %d, rbx %" PRIu64 " %" PRIu64
	       " (want %" PRIu64 " %" PRIu64 ")\n", rc[0], rc[1], got[0], got[1], want[0], want[1]);
	return 1;
}

/*
 * PUSH and POP pairs (one record runs two) with the stack 0x800 into a
 * page, then 8 and 16 bytes above a page boundary: a push pair, then a
 * pop pair, straddling it.
 */
static int check_stack_pairs(struct emu_cpu *cpu, uint8_t *area)
{
	/* push rbx, rbp, r12; pop rax, rcx, rdx; push rsi, rdi; pop r8, r8; hlt */
	static const uint8_t code[] = { 0x53, 0x55, 0x41, 0x54, 0x58, 0x59, 0x5a,
					0x56, 0x57, 0x41, 0x58, 0x41, 0x58, 0xf4 };
	static const unsigned above[] = { 0x800, 8, 16 };
	uint8_t *p = area + MAIN_OFF + 0xc00;
	uint64_t page = (uintptr_t)area + 0xd000;
	int bad = 0;

	memcpy(p, code, sizeof(code));
	for (unsigned k = 0; k < 3; k++) {
		uint64_t sp = page + above[k];
		int rc;

		for (unsigned r = 0; r < 16; r++)
			cpu->r[r] = 0x1111111111111111ull * r;
		cpu->r[4] = sp;
		cpu->r[EMU_RIP] = (uintptr_t)p;
		rc = emu_run(cpu, 100);
		if (rc == EMU_EXIT_HLT && cpu->r[4] == sp && cpu->r[0] == cpu->r[12] &&
		    cpu->r[1] == cpu->r[5] && cpu->r[2] == cpu->r[3] && cpu->r[8] == cpu->r[6])
			continue;
		printf("MISMATCH push/pop pairs (rsp page + %#x): exit %d, rsp %+" PRId64
		       ", rax %#" PRIx64 " rcx %#" PRIx64 " rdx %#" PRIx64 " r8 %#" PRIx64 "\n",
		       above[k], rc, (int64_t)(cpu->r[4] - sp), cpu->r[0], cpu->r[1], cpu->r[2],
		       cpu->r[8]);
		bad++;
	}
	return bad;
}

/* jmp $ chains to itself: the budget and an exit request must still end
 * the run within a block of where they say. */
static int check_budget(struct emu_cpu *cpu, uint8_t *area)
{
	uint8_t *p = area + MAIN_OFF + 0xf00;
	uint64_t before;
	int rc[2];
	uint64_t ran[2];

	p[0] = 0xeb;
	p[1] = 0xfe;
	cpu->r[EMU_RIP] = (uintptr_t)p;
	before = cpu->icount;
	rc[0] = emu_run(cpu, 1000);
	ran[0] = cpu->icount - before;
	emu_request_exit(cpu);
	before = cpu->icount;
	rc[1] = emu_run(cpu, 1000000000);
	ran[1] = cpu->icount - before;
	if (rc[0] == EMU_EXIT_NONE && rc[1] == EMU_EXIT_NONE && ran[0] >= 1000 &&
	    ran[0] <= 1000 + 64 && ran[1] >= 1 && ran[1] <= 64)
		return 0;
	printf("MISMATCH chained budget: exits %d %d, ran %" PRIu64 " (want 1000) and %" PRIu64
	       " (want 1 after an exit request)\n", rc[0], rc[1], ran[0], ran[1]);
	return 1;
}

int check_chaining(struct emu_cpu *cpu, uint8_t *area)
{
	int bad = 0;

	put_functions(area + FUNC_OFF);
	put_main(area + MAIN_OFF, area + FUNC_OFF);
	emu_icache_flush(cpu);
	/* per loop: F 1, G 0x101, F 1, H 0x10000 */
	bad += check_loop(cpu, area, MAIN_OFF, 1000000, 0x10103, "whole");
	bad += check_loop(cpu, area, MAIN_OFF, 97, 0x10103, "sliced");
	bad += check_loop(cpu, area, MAIN_OFF, 5, 0x10103, "sliced");
	bad += check_return_site(cpu, area);
	bad += check_patched(cpu, area);
	bad += check_budget(cpu, area);
	bad += check_stack_pairs(cpu, area);
	return bad;
}
