/*
 * A small x86-64 encoder for the block translator (jit.c, jit_ops.c): the
 * few instruction forms translations use, written into a buffer that is
 * executed at another address (the arena's executable view).
 */
#ifndef EMU_JIT_X86_H
#define EMU_JIT_X86_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

enum { H_RAX, H_RCX, H_RDX, H_RBX, H_RSP, H_RBP, H_RSI, H_RDI };
#define X_NOINDEX (-1)

struct emit {
	uint8_t *p, *end;  /* writable view */
	intptr_t to_rx;    /* executable address - writable address */
	bool full;         /* ran out of room: the translation is dropped */
};

static inline void put(struct emit *e, const void *bytes, size_t n)
{
	if ((size_t)(e->end - e->p) < n) {
		e->full = true;
		return;
	}
	memcpy(e->p, bytes, n);
	e->p += n;
}

static inline void put1(struct emit *e, uint8_t b)
{
	put(e, &b, 1);
}

static inline void put4(struct emit *e, uint32_t v)
{
	put(e, &v, 4);
}

static inline void put8(struct emit *e, uint64_t v)
{
	put(e, &v, 8);
}

/* Where the next byte will execute. */
static inline uintptr_t here_rx(const struct emit *e)
{
	return (uintptr_t)e->p + (uintptr_t)e->to_rx;
}

static inline bool fits32(int64_t v)
{
	return v == (int32_t)v;
}

/* Operand size of x_mem/x_rr: 2 adds 0x66, 8 adds REX.W. */
void x_mem(struct emit *e, unsigned size, const uint8_t *op, unsigned oplen, unsigned reg,
	   unsigned base, int index, unsigned scale, int32_t disp);
void x_rr(struct emit *e, unsigned size, uint8_t op, unsigned reg, unsigned rm);

/* Register h (zero-extended) = the sz-byte value at [base + disp]. */
void x_load(struct emit *e, unsigned h, unsigned base, int32_t disp, unsigned sz);
/* h = the sz-byte value at [base + disp], sign-extended to 64 bits. */
void x_load_sx(struct emit *e, unsigned h, unsigned base, int32_t disp, unsigned sz);
/* [base + disp] = the low sz bytes of h. */
void x_store(struct emit *e, unsigned h, unsigned base, int32_t disp, unsigned sz);
/* h = v */
void x_imm(struct emit *e, unsigned h, uint64_t v);
/* qword [rbx + disp] += v (v may be negative) */
void x_add_cpu(struct emit *e, int32_t disp, int32_t v);
/* call target: rel32 when it reaches, else through H_RAX */
void x_call(struct emit *e, uintptr_t target);
/* jmp / jcc (cc: the condition code) to target, rel32; the rel32's
 * position is returned for patching (x_patch). */
uint8_t *x_jmp(struct emit *e, uintptr_t target);
uint8_t *x_jcc(struct emit *e, unsigned cc, uintptr_t target);
void x_patch(struct emit *e, uint8_t *rel, uintptr_t target);

#endif
