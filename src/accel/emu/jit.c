/*
 * Translated blocks (jit.h). The common forms are translated inline
 * (jit_ops.c); any other record, or fused pair, is a direct call of its
 * handler on a private copy of the record followed by a unit end (returns
 * 2), so emu_next() comes back here; 1 from a handler (a branch, the
 * block's end) leaves the block.
 *
 * The arena is one memfd mapped twice: written through one view, executed
 * through the other (never writable and executable at once). Translations
 * and copies are only appended; emu_jit_reset() starts over.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "accel/emu/icache.h"
#include "accel/emu/jit.h"
#include "accel/emu/jit_int.h"

/* What a unit end returns: the unit fell through, the block goes on. */
#define JIT_ON 2

struct emu_jit {
	size_t code_size;           /* bytes of code; as many again of copies */
	size_t max_copies;
	uint8_t *rw;                /* the code, writable view */
	uint8_t *rx;                /* the same pages, executable view */
	size_t code_used;
	struct emu_insn *copies;    /* record copies (after the code in the memfd) */
	size_t ncopies;
};

static EMU_OP(op_unit_end)
{
	(void)cpu;
	(void)i;
	return JIT_ON;
}

/* One memfd: code_size bytes of code, then as many of record copies. */
int emu_jit_create(struct emu_jit **out, size_t code_size)
{
	struct emu_jit *j = calloc(1, sizeof(*j));
	int fd = memfd_create("splitvm-emu-jit", MFD_CLOEXEC);
	int ret = -ENOMEM;

	code_size = (code_size + 4095) & ~(size_t)4095;
	if (!j || fd < 0 || !code_size)
		goto fail;
	j->code_size = code_size;
	j->max_copies = code_size / sizeof(struct emu_insn);
	if (ftruncate(fd, (off_t)(2 * code_size)) < 0)
		goto fail;
	j->rw = mmap(NULL, 2 * code_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (j->rw == MAP_FAILED)
		goto fail;
	j->rx = mmap(NULL, code_size, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
	if (j->rx == MAP_FAILED) {
		ret = -errno;
		munmap(j->rw, 2 * code_size);
		goto fail;
	}
	j->copies = (struct emu_insn *)(void *)(j->rw + code_size);
	close(fd);
	*out = j;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	free(j);
	return ret;
}

void emu_jit_destroy(struct emu_jit *j)
{
	if (!j)
		return;
	munmap(j->rx, j->code_size);
	munmap(j->rw, 2 * j->code_size);
	free(j);
}

size_t emu_jit_used(const struct emu_jit *j)
{
	return j->code_used + j->ncopies * sizeof(struct emu_insn);
}

void emu_jit_reset(struct emu_jit *j)
{
	j->code_used = 0;
	j->ncopies = 0;
}

/* ---- translating ---- */

/* Records in the unit starting at insns[k]: a fused pair (fast.c marks its
 * first record I_END; any other I_END record ends the block) or one. */
static unsigned unit_len(const struct emu_insn *insns, unsigned k, unsigned n)
{
	return (insns[k].flags & I_END) && k + 1 < n ? 2 : 1;
}

static uint32_t unit_bytes(const struct emu_insn *first, unsigned m)
{
	return m == 2 ? (uint32_t)first[0].len + first[1].len : first->len;
}

/* Copies of a unit's records and its end; the end's len is that of the
 * record after the unit (0 at the block's end: STI looks at it). */
static struct emu_insn *copy_unit(struct emu_jit *j, const struct emu_insn *first, unsigned m)
{
	struct emu_insn *c = &j->copies[j->ncopies];

	memcpy(c, first, m * sizeof(*c));
	c[m] = (struct emu_insn){ .fn = op_unit_end, .len = first[m].len };
	j->ncopies += m + 1;
	return c;
}

/* Call the handler of copy (RIP must be exact), leave unless it fell through. */
static void call_copy(struct jit_ctx *c, const struct emu_insn *copy)
{
	struct emit *e = &c->e;

	x_rr(e, 8, 0x89, H_RBX, H_RDI);  /* mov rdi, rbx */
	x_imm(e, H_RSI, (uintptr_t)copy);
	x_call(e, (uintptr_t)copy->fn);
	put(e, (const uint8_t[]){ 0x83, 0xf8, JIT_ON }, 3); /* cmp eax, JIT_ON */
	x_jcc(e, 0x5, c->exit_rx);                          /* jne exit */
}

/*
 * A unit run by its handler. A record of a RIP-free run (fast.c) runs with
 * RIP caught up, so with no lag of its own; one that leaves RIP behind
 * leaves it here too.
 */
static void emit_called(struct jit_ctx *c, const struct emu_insn *first, unsigned m)
{
	struct emu_insn *copy = copy_unit(c->jit, first, m);
	bool run = emu_insn_in_rip_run(first);

	x_add_cpu(&c->e, CPU_RIP, (int32_t)c->pend);
	c->pend = 0;
	if (run)
		copy->disp = 0;
	call_copy(c, copy);
	if (run && (first->flags & I_NOADV))
		c->pend = first->len;
}

void jit_probe(struct jit_ctx *c, const struct emu_insn *i, unsigned m, unsigned sz, bool write)
{
	struct emit *e = &c->e;
	int32_t tlb = CPU_OFF(tlb);
	struct jit_stub *s;

	/* the entry's offset, as tlb_entry(): (va >> 7) & mask */
	x_rr(e, 8, 0x89, H_RAX, H_RDX);                            /* mov rdx, rax */
	x_rr(e, 8, 0xc1, 5, H_RDX);                                /* shr rdx, 7 */
	put1(e, 12 - 5);
	x_rr(e, 4, 0x81, 4, H_RDX);                                /* and edx, mask */
	put4(e, (EMU_TLB_SIZE - 1) << 5);
	/* the page of the access's last byte against the tag, as tlb_hit() */
	x_mem(e, 8, (const uint8_t[]){ 0x8d }, 1, H_RCX, H_RAX, X_NOINDEX, 0, (int32_t)sz - 1);
	x_rr(e, 8, 0x81, 4, H_RCX);                                /* and rcx, page mask */
	put4(e, (uint32_t)EMU_PAGE_MASK);
	x_mem(e, 8, (const uint8_t[]){ 0x3b }, 1, H_RCX, H_RBX, H_RDX, 0, /* cmp rcx, tag */
	      tlb + (int32_t)(write ? offsetof(struct emu_tlb_entry, tag_w)
				    : offsetof(struct emu_tlb_entry, tag_r)));
	s = &c->stub[c->nstubs++];
	*s = (struct jit_stub){ .jump = x_jcc(e, 0x5, 0), .insn = i, .m = m,
				  .pend = c->pend };
	x_mem(e, 8, (const uint8_t[]){ 0x03 }, 1, H_RAX, H_RBX, H_RDX, 0, /* add rax, addend */
	      tlb + (int32_t)offsetof(struct emu_tlb_entry, addend));
}

void jit_branch(struct jit_ctx *c, int64_t rel, unsigned uncount)
{
	x_add_cpu(&c->e, CPU_RIP, (int32_t)(c->pend + rel));
	if (uncount)
		x_add_cpu(&c->e, CPU_OFF(icount), -(int32_t)uncount);
	put(&c->e, (const uint8_t[]){ 0xb8, 1, 0, 0, 0 }, 5); /* mov eax, 1 */
	x_jmp(&c->e, c->exit_rx);
}

void jit_resume(struct jit_ctx *c)
{
	c->stub[c->nstubs - 1].resume = here_rx(&c->e);
}

/* The slow paths: the record's handler with RIP exact, then back to the
 * inline code with RIP lagging again as it expects. */
static void emit_stubs(struct jit_ctx *c)
{
	for (unsigned k = 0; k < c->nstubs; k++) {
		struct jit_stub *s = &c->stub[k];

		x_patch(&c->e, s->jump, here_rx(&c->e));
		x_add_cpu(&c->e, CPU_RIP, (int32_t)s->pend);
		call_copy(c, copy_unit(c->jit, s->insn, s->m));
		x_add_cpu(&c->e, CPU_RIP, -(int32_t)(s->pend + unit_bytes(s->insn, s->m)));
		x_jmp(&c->e, s->resume);
	}
}

static void translate(struct jit_ctx *c, const struct emu_insn *insns, unsigned n)
{
	for (unsigned k = 0; k < n;) {
		unsigned m = unit_len(insns, k, n);

		if (c->nstubs < JIT_STUBS_MAX &&
		    (m == 1 ? emu_jit_inline(c, &insns[k]) : emu_jit_inline_pair(c, &insns[k]))) {
			c->pend += unit_bytes(&insns[k], m);
			k += m;
			continue;
		}
		emit_called(c, &insns[k], m);
		k += m;
	}
	x_add_cpu(&c->e, CPU_RIP, (int32_t)c->pend);
	put(&c->e, (const uint8_t[]){ 0xb8, 1, 0, 0, 0 }, 5); /* mov eax, 1 */
	x_jmp(&c->e, c->exit_rx);
	emit_stubs(c);
}

void emu_jit_link(struct emu_jit_links *l, uint32_t gen, uint64_t rip, emu_fn to)
{
	if (l->gen != gen) {
		l->gen = gen;
		l->rip[1] = ~0ull;
		l->to[1] = l->none;
	} else {
		l->rip[1] = l->rip[0];
		l->to[1] = l->to[0];
	}
	l->rip[0] = rip;
	l->to[0] = (uintptr_t)to + EMU_JIT_CHAIN_OFF;
}

/*
 * Where a translation leaves, eax its result: with 1 (RIP set) and the run
 * loop's budget and exit request allowing, on into a linked successor;
 * else back to the run loop, telling it whose links to fill.
 */
static void emit_exit(struct jit_ctx *c, struct emu_jit_links *l)
{
	struct emit *e = &c->e;
	uint8_t *out, *out1[4];
	unsigned n = 0;

	put(e, (const uint8_t[]){ 0x83, 0xf8, 0x01 }, 3);                   /* cmp eax, 1 */
	out = x_jcc(e, 0x5, 0);                                             /* jne out */
	x_load(e, H_RAX, H_RBX, CPU_OFF(icount), 8);
	x_mem(e, 8, (const uint8_t[]){ 0x3b }, 1, H_RAX, H_RBX, X_NOINDEX, 0, CPU_OFF(icount_end));
	out1[n++] = x_jcc(e, 0x3, 0);                                       /* jae out1 */
	x_mem(e, 4, (const uint8_t[]){ 0x83 }, 1, 7, H_RBX, X_NOINDEX, 0, CPU_OFF(exit_request));
	put1(e, 0);                                                         /* cmp [], 0 */
	out1[n++] = x_jcc(e, 0x5, 0);
	x_load(e, H_RCX, H_RBX, CPU_OFF(ic), 8);
	x_load(e, H_RCX, H_RCX, 0, 4);                                      /* the cache's gen */
	x_imm(e, H_RDX, (uintptr_t)l);
	x_mem(e, 4, (const uint8_t[]){ 0x3b }, 1, H_RCX, H_RDX, X_NOINDEX, 0,
	      (int32_t)offsetof(struct emu_jit_links, gen));
	out1[n++] = x_jcc(e, 0x5, 0);
	x_load(e, H_RAX, H_RBX, CPU_RIP, 8);
	for (unsigned k = 0; k < 2; k++) {
		uint8_t *miss;

		x_mem(e, 8, (const uint8_t[]){ 0x3b }, 1, H_RAX, H_RDX, X_NOINDEX, 0,
		      (int32_t)offsetof(struct emu_jit_links, rip[k]));
		miss = x_jcc(e, 0x5, 0);
		x_mem(e, 4, (const uint8_t[]){ 0xff }, 1, 4, H_RDX, X_NOINDEX, 0, /* jmp [to] */
		      (int32_t)offsetof(struct emu_jit_links, to[k]));
		x_patch(e, miss, here_rx(e));
	}
	/* both missed: the jump cache's block at RIP, if translated */
	x_rr(e, 8, 0x89, H_RBX, H_RDI);                                     /* mov rdi, rbx */
	x_call(e, (uintptr_t)emu_ic_chain_next);
	x_rr(e, 8, 0x85, H_RAX, H_RAX);                                     /* test rax, rax */
	out1[n++] = x_jcc(e, 0x4, 0);                                       /* jz out1 */
	put(e, (const uint8_t[]){ 0xff, 0xe0 }, 2);                         /* jmp rax */
	l->none = here_rx(e);
	for (unsigned k = 0; k < n; k++)
		x_patch(e, out1[k], here_rx(e));
	put(e, (const uint8_t[]){ 0xb8, 1, 0, 0, 0 }, 5);                  /* out1: mov eax, 1 */
	x_patch(e, out, here_rx(e));
	x_imm(e, H_RDX, (uintptr_t)l);                                      /* out: */
	x_store(e, H_RDX, H_RBX, CPU_OFF(jit_links), 8);
	put(e, (const uint8_t[]){ 0x5b, 0xc3 }, 2);                         /* pop rbx; ret */
	*l = (struct emu_jit_links){ .rip = { ~0ull, ~0ull }, .to = { l->none, l->none },
				     .none = l->none };
}

/* The links live among the copies (two records' room). */
static struct emu_jit_links *new_links(struct emu_jit *j)
{
	_Static_assert(sizeof(struct emu_jit_links) <= 2 * sizeof(struct emu_insn), "links");
	struct emu_jit_links *l = (struct emu_jit_links *)(void *)&j->copies[j->ncopies];

	j->ncopies += 2;
	return l;
}

emu_fn emu_jit_block(struct emu_jit *j, const struct emu_insn *insns, unsigned n)
{
	struct jit_ctx c;
	size_t copies_at = j->ncopies;
	uintptr_t entry_rx;
	uint8_t *to_body;

	/* at most a copy and its end per record, twice (call and slow path) */
	if (j->ncopies + 4 * n + 2 > j->max_copies)
		return NULL;
	c = (struct jit_ctx){ .e = { j->rw + j->code_used, j->rw + j->code_size, j->rx - j->rw,
				     false },
			      .jit = j };
	c.exit_rx = here_rx(&c.e);
	emit_exit(&c, new_links(j));
	entry_rx = here_rx(&c.e);
	put(&c.e, (const uint8_t[]){ 0x53, 0x48, 0x89, 0xfb }, 4); /* push rbx; mov rbx, rdi */
	to_body = x_jmp(&c.e, 0);
	if (here_rx(&c.e) - entry_rx != EMU_JIT_CHAIN_OFF)
		c.e.full = true; /* cannot happen: the entry's encoding is fixed */
	x_add_cpu(&c.e, CPU_OFF(icount), (int32_t)n);               /* chain entry */
	x_patch(&c.e, to_body, here_rx(&c.e));
	translate(&c, insns, n);
	if (c.e.full) {
		j->ncopies = copies_at;
		return NULL;
	}
	j->code_used = (size_t)(c.e.p - j->rw);
	return (emu_fn)entry_rx;
}
