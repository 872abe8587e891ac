/* Decoder internals shared by the one-byte and 0F-map decoders. */
#ifndef EMU_DECODE_H
#define EMU_DECODE_H

#include "accel/emu/ops.h"

struct dstate {
	const uint8_t *p;
	unsigned pos, avail;
	bool short_input;  /* ran past avail */
	uint8_t rex;
	uint8_t osz;       /* operand size: 2, 4 or 8 */
	uint8_t asz;       /* address size: 4 or 8 */
	uint8_t rep;       /* 0, 0xf2 or 0xf3 (the last one wins) */
	uint8_t seg;
	bool pfx66, lock, lockable, riprel;
	uint8_t mode;      /* EMU_MODE_*: 0 = 64-bit; legacy modes: decode16.c */
	uint8_t defseg;    /* legacy modes: segbase slot of the default segment */
	/* ModRM */
	uint8_t mod, digit, reg, rmn;
};

uint64_t dec_simm(struct dstate *d, unsigned n);
uint64_t dec_uimm(struct dstate *d, unsigned n);
void dec_modrm(struct dstate *d, struct emu_insn *i);
void dec_regs(const struct dstate *d, struct emu_insn *i, unsigned regsz, unsigned rmsz);
void dec_0f(struct dstate *d, struct emu_insn *i, unsigned b);
/* The one-byte map as in 64-bit mode (legacy modes fall back to it). */
void dec_one_byte(struct dstate *d, struct emu_insn *i, unsigned b);
/* ModRM/SIB with 16- or 32-bit addressing outside 64-bit mode (decode16.c). */
void dec_modrm_legacy(struct dstate *d, struct emu_insn *i);
/* SSE/SSE2 (decode_sse.c): false if not an SSE opcode. */
bool dec_sse(struct dstate *d, struct emu_insn *i, unsigned b);
/* x87 escapes D8-DF (decode_x87.c). */
void dec_x87(struct dstate *d, struct emu_insn *i, unsigned b);

/* An encoding that raises #UD when reached; it ends its block. */
static inline void dec_ud(struct emu_insn *i)
{
	i->fn = op_ud;
	i->flags |= I_END;
}

/* ModRM with the usual r/m, reg operands of size sz. */
static inline void dec_rm_form(struct dstate *d, struct emu_insn *i, emu_fn fn, unsigned sz)
{
	dec_modrm(d, i);
	i->sz = (uint8_t)sz;
	i->fn = fn;
	dec_regs(d, i, sz, sz);
}

#endif
