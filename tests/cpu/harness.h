/* Differential CPU tests: shared declarations. */
#ifndef CPU_HARNESS_H
#define CPU_HARNESS_H

#include <stdbool.h>
#include <stdint.h>

/* Register image; layout known to native.S (gpr at 0, rflags at 128, xmm at
 * 144, fx at 400). fx: the x87/MMX/MXCSR state as an FXSAVE image, loaded
 * before the instruction and saved after it (its XMM area is ignored on
 * input: xmm[] wins). */
#define REGS_FX 400
struct regs {
	uint64_t gpr[16];
	uint64_t rflags;
	uint64_t pad;
	uint8_t xmm[16][16];
	uint8_t fx[512] __attribute__((aligned(16)));
};

/* Test memory (MAP_32BIT so 32-bit and absolute addressing reach it). */
#define AREA_SIZE 0x10000
#define CODE_OFF 0x0000
#define INSN_OFF 0x100
#define LANDED_OFF 0x800
#define DATA_OFF 0x1000
#define DATA_SIZE 0x2000
#define STACK_OFF 0x3000
#define STACK_TOP_OFF 0x3800
#define CMP_OFF DATA_OFF
#define CMP_SIZE 0x3000
#define BRANCH_REL 0x40 /* second landing: end of instruction + this */

/* native.c */
struct native_result {
	struct regs out;
	int sig;          /* 0, or the signal that stopped the instruction */
	int landed;       /* 1: after the instruction, 2: branch target */
	int trapno;       /* with sig: the exception vector */
};
int native_init(uint8_t *area);
/* Writes the instruction and its landing pads at area + INSN_OFF. */
void native_place(uint8_t *area, const uint8_t *insn, unsigned len);
void native_run(uint8_t *area, const struct regs *in, struct native_result *res);

#endif

/* ---- instruction forms (forms.c) ---- */

enum { M_NONE, M_R, M_D, M_OPREG };            /* operand encoding */
enum { BOTH, MEMONLY, REGONLY };               /* r/m kinds */
enum { S1 = 1, S2 = 2, S4 = 4, S8 = 8 };       /* operand sizes */
enum { IZ = 9, IV = 10 };                      /* imm16/32, imm16/32/64 */

/* defined-flag rules */
enum {
	FL_ALL, FL_LOGIC, FL_MUL, FL_DIV, FL_BT, FL_BSF, FL_CNT, FL_SHIFT, FL_ROT, FL_SHXD,
};

/* per-state setups */
enum {
	SU_NONE, SU_DIV, SU_IDIV, SU_STR, SU_BR, SU_CMPXCHG, SU_CX16, SU_BTREG, SU_POPF,
	SU_LEAVE, SU_MOFFS, SU_LOOP, SU_RET,
	SU_VSHIFT, SU_FXRSTOR, SU_LDMXCSR, SU_MASKMOV, SU_CMP,  /* forms_sse.c */
	SU_X87,                                         /* x87 forms: x87.c */
};

/* form flags */
#define F_LOCKABLE 0x01    /* lockable: LOCK variants with memory */
#define F_RM8 0x02     /* r/m operand is a byte whatever the size */
#define F_RM16 0x04    /* r/m operand is a word */
#define F_D64 0x08     /* 64-bit by default: no REX.W */
#define F_CL 0x10      /* count in CL */
#define F_C1 0x20      /* count 1 */
#define F_NOREG4 0x40  /* never pick register 4 (always the case) */
#define F_A16 0x80     /* 16-byte memory operand: aligned in most states */

struct form {
	const char *name;
	uint8_t op[3];
	uint8_t oplen;
	uint8_t pfx;      /* 0, 0xf2 or 0xf3 */
	uint8_t modrm;
	uint8_t digit;
	uint8_t sizes;
	uint8_t imm;
	uint8_t mem;
	uint8_t fl;
	uint8_t su;
	uint8_t flags;
};

extern const struct form forms[];
extern const unsigned nforms;
extern const struct form sse_forms[];  /* forms_sse.c */
extern const unsigned nsse_forms;
