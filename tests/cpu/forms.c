/*
 * The instruction forms under test. Each row expands to one form per operand
 * size; every form runs with register and memory operands (several addressing
 * modes, FS overrides, 32-bit addressing, LOCK where it is legal) and
 * thousands of random states.
 */
#include "harness.h"

#define SZV (S2 | S4 | S8)
#define LK(n) ((n) == 7 ? 0 : F_LOCKABLE)

#define ALU(n, nm, fl)									\
	{ nm " rm8,r8", { (n) * 8 }, 1, 0, M_R, 0, S1, 0, BOTH, fl, SU_NONE, LK(n) },	\
	{ nm " rm,r", { (n) * 8 + 1 }, 1, 0, M_R, 0, SZV, 0, BOTH, fl, SU_NONE, LK(n) },	\
	{ nm " r8,rm8", { (n) * 8 + 2 }, 1, 0, M_R, 0, S1, 0, BOTH, fl, SU_NONE, 0 },	\
	{ nm " r,rm", { (n) * 8 + 3 }, 1, 0, M_R, 0, SZV, 0, BOTH, fl, SU_NONE, 0 },	\
	{ nm " al,imm8", { (n) * 8 + 4 }, 1, 0, M_NONE, 0, S1, 1, REGONLY, fl, SU_NONE, 0 }, \
	{ nm " eax,imm", { (n) * 8 + 5 }, 1, 0, M_NONE, 0, SZV, IZ, REGONLY, fl, SU_NONE, 0 }, \
	{ nm " rm8,imm8", { 0x80 }, 1, 0, M_D, n, S1, 1, BOTH, fl, SU_NONE, LK(n) },	\
	{ nm " rm,imm", { 0x81 }, 1, 0, M_D, n, SZV, IZ, BOTH, fl, SU_NONE, LK(n) },	\
	{ nm " rm,imm8", { 0x83 }, 1, 0, M_D, n, SZV, 1, BOTH, fl, SU_NONE, LK(n) }

#define SHIFT(n, nm, fl)								\
	{ nm " rm8,1", { 0xd0 }, 1, 0, M_D, n, S1, 0, BOTH, fl, SU_NONE, F_C1 },	\
	{ nm " rm,1", { 0xd1 }, 1, 0, M_D, n, SZV, 0, BOTH, fl, SU_NONE, F_C1 },	\
	{ nm " rm8,cl", { 0xd2 }, 1, 0, M_D, n, S1, 0, BOTH, fl, SU_NONE, F_CL },	\
	{ nm " rm,cl", { 0xd3 }, 1, 0, M_D, n, SZV, 0, BOTH, fl, SU_NONE, F_CL },	\
	{ nm " rm8,imm8", { 0xc0 }, 1, 0, M_D, n, S1, 1, BOTH, fl, SU_NONE, 0 },	\
	{ nm " rm,imm8", { 0xc1 }, 1, 0, M_D, n, SZV, 1, BOTH, fl, SU_NONE, 0 }

#define CC16(macro) macro(0), macro(1), macro(2), macro(3), macro(4), macro(5), macro(6), \
	macro(7), macro(8), macro(9), macro(10), macro(11), macro(12), macro(13), macro(14), macro(15)

#define CMOV(c) { "cmovcc r,rm", { 0x0f, 0x40 + (c) }, 2, 0, M_R, 0, SZV, 0, BOTH, FL_ALL, SU_NONE, 0 }
#define SETCC(c) { "setcc rm8", { 0x0f, 0x90 + (c) }, 2, 0, M_D, 0, S1, 0, BOTH, FL_ALL, SU_NONE, 0 }
#define JCC8(c) { "jcc rel8", { 0x70 + (c) }, 1, 0, M_NONE, 0, S8, 1, REGONLY, FL_ALL, SU_BR, F_D64 }
#define JCC32(c) { "jcc rel32", { 0x0f, 0x80 + (c) }, 2, 0, M_NONE, 0, S8, 4, REGONLY, FL_ALL, SU_BR, F_D64 }

#define BT(n, nm, op)									\
	{ nm " rm,r", { 0x0f, op }, 2, 0, M_R, 0, SZV, 0, BOTH, FL_BT, SU_BTREG, (n) ? F_LOCKABLE : 0 }, \
	{ nm " rm,imm8", { 0x0f, 0xba }, 2, 0, M_D, 4 + (n), SZV, 1, BOTH, FL_BT, SU_NONE, (n) ? F_LOCKABLE : 0 }

/* x87: memory operand with digit; ST(i) from the register choice; fixed ModRM */
#define X87M(nm, esc, d) { nm, { esc }, 1, 0, M_D, d, S4, 0, MEMONLY, FL_ALL, SU_X87, 0 }
#define X87ENV(nm, esc, d) { nm, { esc }, 1, 0, M_D, d, S2 | S4, 0, MEMONLY, FL_ALL, SU_X87, 0 }
#define X87I(nm, esc, m) { nm, { esc, m }, 2, 0, M_OPREG, 0, S4, 0, REGONLY, FL_ALL, SU_X87, 0 }
#define X87F(nm, esc, m) { nm, { esc, m }, 2, 0, M_NONE, 0, S4, 0, REGONLY, FL_ALL, SU_X87, 0 }
#define X87M8(f, op, esc) X87M(f "add " op, esc, 0), X87M(f "mul " op, esc, 1),	\
	X87M(f "com " op, esc, 2), X87M(f "comp " op, esc, 3), X87M(f "sub " op, esc, 4),	\
	X87M(f "subr " op, esc, 5), X87M(f "div " op, esc, 6), X87M(f "divr " op, esc, 7)
#define X87I8(op, esc) X87I("fadd " op, esc, 0xc0), X87I("fmul " op, esc, 0xc8),		\
	X87I("fcom " op, esc, 0xd0), X87I("fcomp " op, esc, 0xd8), X87I("fsub " op, esc, 0xe0), \
	X87I("fsubr " op, esc, 0xe8), X87I("fdiv " op, esc, 0xf0), X87I("fdivr " op, esc, 0xf8)

#define STR(nm, op, pfx, su)								\
	{ nm "b", { op }, 1, pfx, M_NONE, 0, S1, 0, REGONLY, FL_ALL, su, 0 },		\
	{ nm, { (op) + 1 }, 1, pfx, M_NONE, 0, SZV, 0, REGONLY, FL_ALL, su, 0 }

const struct form forms[] = {
	ALU(0, "add", FL_ALL), ALU(1, "or", FL_LOGIC), ALU(2, "adc", FL_ALL),
	ALU(3, "sbb", FL_ALL), ALU(4, "and", FL_LOGIC), ALU(5, "sub", FL_ALL),
	ALU(6, "xor", FL_LOGIC), ALU(7, "cmp", FL_ALL),
	{ "test rm8,r8", { 0x84 }, 1, 0, M_R, 0, S1, 0, BOTH, FL_LOGIC, SU_NONE, 0 },
	{ "test rm,r", { 0x85 }, 1, 0, M_R, 0, SZV, 0, BOTH, FL_LOGIC, SU_NONE, 0 },
	{ "test al,imm8", { 0xa8 }, 1, 0, M_NONE, 0, S1, 1, REGONLY, FL_LOGIC, SU_NONE, 0 },
	{ "test eax,imm", { 0xa9 }, 1, 0, M_NONE, 0, SZV, IZ, REGONLY, FL_LOGIC, SU_NONE, 0 },
	{ "test rm8,imm8", { 0xf6 }, 1, 0, M_D, 0, S1, 1, BOTH, FL_LOGIC, SU_NONE, 0 },
	{ "test rm,imm", { 0xf7 }, 1, 0, M_D, 0, SZV, IZ, BOTH, FL_LOGIC, SU_NONE, 0 },
	{ "not rm8", { 0xf6 }, 1, 0, M_D, 2, S1, 0, BOTH, FL_ALL, SU_NONE, F_LOCKABLE },
	{ "not rm", { 0xf7 }, 1, 0, M_D, 2, SZV, 0, BOTH, FL_ALL, SU_NONE, F_LOCKABLE },
	{ "neg rm8", { 0xf6 }, 1, 0, M_D, 3, S1, 0, BOTH, FL_ALL, SU_NONE, F_LOCKABLE },
	{ "neg rm", { 0xf7 }, 1, 0, M_D, 3, SZV, 0, BOTH, FL_ALL, SU_NONE, F_LOCKABLE },
	{ "inc rm8", { 0xfe }, 1, 0, M_D, 0, S1, 0, BOTH, FL_ALL, SU_NONE, F_LOCKABLE },
	{ "inc rm", { 0xff }, 1, 0, M_D, 0, SZV, 0, BOTH, FL_ALL, SU_NONE, F_LOCKABLE },
	{ "dec rm8", { 0xfe }, 1, 0, M_D, 1, S1, 0, BOTH, FL_ALL, SU_NONE, F_LOCKABLE },
	{ "dec rm", { 0xff }, 1, 0, M_D, 1, SZV, 0, BOTH, FL_ALL, SU_NONE, F_LOCKABLE },

	{ "mul rm8", { 0xf6 }, 1, 0, M_D, 4, S1, 0, BOTH, FL_MUL, SU_NONE, 0 },
	{ "mul rm", { 0xf7 }, 1, 0, M_D, 4, SZV, 0, BOTH, FL_MUL, SU_NONE, 0 },
	{ "imul rm8", { 0xf6 }, 1, 0, M_D, 5, S1, 0, BOTH, FL_MUL, SU_NONE, 0 },
	{ "imul rm", { 0xf7 }, 1, 0, M_D, 5, SZV, 0, BOTH, FL_MUL, SU_NONE, 0 },
	{ "div rm8", { 0xf6 }, 1, 0, M_D, 6, S1, 0, BOTH, FL_DIV, SU_DIV, 0 },
	{ "div rm", { 0xf7 }, 1, 0, M_D, 6, SZV, 0, BOTH, FL_DIV, SU_DIV, 0 },
	{ "idiv rm8", { 0xf6 }, 1, 0, M_D, 7, S1, 0, BOTH, FL_DIV, SU_IDIV, 0 },
	{ "idiv rm", { 0xf7 }, 1, 0, M_D, 7, SZV, 0, BOTH, FL_DIV, SU_IDIV, 0 },
	{ "imul r,rm", { 0x0f, 0xaf }, 2, 0, M_R, 0, SZV, 0, BOTH, FL_MUL, SU_NONE, 0 },
	{ "imul r,rm,imm", { 0x69 }, 1, 0, M_R, 0, SZV, IZ, BOTH, FL_MUL, SU_NONE, 0 },
	{ "imul r,rm,imm8", { 0x6b }, 1, 0, M_R, 0, SZV, 1, BOTH, FL_MUL, SU_NONE, 0 },

	SHIFT(0, "rol", FL_ROT), SHIFT(1, "ror", FL_ROT), SHIFT(2, "rcl", FL_ROT),
	SHIFT(3, "rcr", FL_ROT), SHIFT(4, "shl", FL_SHIFT), SHIFT(5, "shr", FL_SHIFT),
	SHIFT(6, "sal", FL_SHIFT), SHIFT(7, "sar", FL_SHIFT),
	{ "shld rm,r,imm8", { 0x0f, 0xa4 }, 2, 0, M_R, 0, SZV, 1, BOTH, FL_SHXD, SU_NONE, 0 },
	{ "shld rm,r,cl", { 0x0f, 0xa5 }, 2, 0, M_R, 0, SZV, 0, BOTH, FL_SHXD, SU_NONE, F_CL },
	{ "shrd rm,r,imm8", { 0x0f, 0xac }, 2, 0, M_R, 0, SZV, 1, BOTH, FL_SHXD, SU_NONE, 0 },
	{ "shrd rm,r,cl", { 0x0f, 0xad }, 2, 0, M_R, 0, SZV, 0, BOTH, FL_SHXD, SU_NONE, F_CL },

	{ "mov rm8,r8", { 0x88 }, 1, 0, M_R, 0, S1, 0, BOTH, FL_ALL, SU_NONE, 0 },
	{ "mov rm,r", { 0x89 }, 1, 0, M_R, 0, SZV, 0, BOTH, FL_ALL, SU_NONE, 0 },
	{ "mov r8,rm8", { 0x8a }, 1, 0, M_R, 0, S1, 0, BOTH, FL_ALL, SU_NONE, 0 },
	{ "mov r,rm", { 0x8b }, 1, 0, M_R, 0, SZV, 0, BOTH, FL_ALL, SU_NONE, 0 },
	{ "mov rm8,imm8", { 0xc6 }, 1, 0, M_D, 0, S1, 1, BOTH, FL_ALL, SU_NONE, 0 },
	{ "mov rm,imm", { 0xc7 }, 1, 0, M_D, 0, SZV, IZ, BOTH, FL_ALL, SU_NONE, 0 },
	{ "mov r8,imm8", { 0xb0 }, 1, 0, M_OPREG, 0, S1, 1, REGONLY, FL_ALL, SU_NONE, 0 },
	{ "mov r,imm", { 0xb8 }, 1, 0, M_OPREG, 0, SZV, IV, REGONLY, FL_ALL, SU_NONE, 0 },
	{ "mov al,moffs", { 0xa0 }, 1, 0, M_NONE, 0, S1, 8, REGONLY, FL_ALL, SU_MOFFS, 0 },
	{ "mov eax,moffs", { 0xa1 }, 1, 0, M_NONE, 0, SZV, 8, REGONLY, FL_ALL, SU_MOFFS, 0 },
	{ "mov moffs,al", { 0xa2 }, 1, 0, M_NONE, 0, S1, 8, REGONLY, FL_ALL, SU_MOFFS, 0 },
	{ "mov moffs,eax", { 0xa3 }, 1, 0, M_NONE, 0, SZV, 8, REGONLY, FL_ALL, SU_MOFFS, 0 },
	{ "movzx r,rm8", { 0x0f, 0xb6 }, 2, 0, M_R, 0, SZV, 0, BOTH, FL_ALL, SU_NONE, F_RM8 },
	{ "movzx r,rm16", { 0x0f, 0xb7 }, 2, 0, M_R, 0, S4 | S8, 0, BOTH, FL_ALL, SU_NONE, F_RM16 },
	{ "movsx r,rm8", { 0x0f, 0xbe }, 2, 0, M_R, 0, SZV, 0, BOTH, FL_ALL, SU_NONE, F_RM8 },
	{ "movsx r,rm16", { 0x0f, 0xbf }, 2, 0, M_R, 0, S4 | S8, 0, BOTH, FL_ALL, SU_NONE, F_RM16 },
	{ "movsxd r,rm32", { 0x63 }, 1, 0, M_R, 0, S4 | S8, 0, BOTH, FL_ALL, SU_NONE, 0 },
	{ "lea r,m", { 0x8d }, 1, 0, M_R, 0, SZV, 0, MEMONLY, FL_ALL, SU_NONE, 0 },
	{ "xchg rm8,r8", { 0x86 }, 1, 0, M_R, 0, S1, 0, BOTH, FL_ALL, SU_NONE, F_LOCKABLE },
	{ "xchg rm,r", { 0x87 }, 1, 0, M_R, 0, SZV, 0, BOTH, FL_ALL, SU_NONE, F_LOCKABLE },
	{ "xchg eax,r", { 0x90 }, 1, 0, M_OPREG, 0, SZV, 0, REGONLY, FL_ALL, SU_NONE, 0 },
	{ "cmpxchg rm8,r8", { 0x0f, 0xb0 }, 2, 0, M_R, 0, S1, 0, BOTH, FL_ALL, SU_CMPXCHG, F_LOCKABLE },
	{ "cmpxchg rm,r", { 0x0f, 0xb1 }, 2, 0, M_R, 0, SZV, 0, BOTH, FL_ALL, SU_CMPXCHG, F_LOCKABLE },
	{ "cmpxchg8b/16b m", { 0x0f, 0xc7 }, 2, 0, M_D, 1, S4 | S8, 0, MEMONLY, FL_ALL, SU_CX16, F_LOCKABLE },
	{ "xadd rm8,r8", { 0x0f, 0xc0 }, 2, 0, M_R, 0, S1, 0, BOTH, FL_ALL, SU_NONE, F_LOCKABLE },
	{ "xadd rm,r", { 0x0f, 0xc1 }, 2, 0, M_R, 0, SZV, 0, BOTH, FL_ALL, SU_NONE, F_LOCKABLE },
	{ "cbw/cwde/cdqe", { 0x98 }, 1, 0, M_NONE, 0, SZV, 0, REGONLY, FL_ALL, SU_NONE, 0 },
	{ "cwd/cdq/cqo", { 0x99 }, 1, 0, M_NONE, 0, SZV, 0, REGONLY, FL_ALL, SU_NONE, 0 },
	{ "bswap r", { 0x0f, 0xc8 }, 2, 0, M_OPREG, 0, S4 | S8, 0, REGONLY, FL_ALL, SU_NONE, 0 },
	CC16(CMOV), CC16(SETCC),

	BT(0, "bt", 0xa3), BT(1, "bts", 0xab), BT(2, "btr", 0xb3), BT(3, "btc", 0xbb),
	{ "bsf r,rm", { 0x0f, 0xbc }, 2, 0, M_R, 0, SZV, 0, BOTH, FL_BSF, SU_NONE, 0 },
	{ "bsr r,rm", { 0x0f, 0xbd }, 2, 0, M_R, 0, SZV, 0, BOTH, FL_BSF, SU_NONE, 0 },
	{ "tzcnt r,rm", { 0x0f, 0xbc }, 2, 0xf3, M_R, 0, SZV, 0, BOTH, FL_CNT, SU_NONE, 0 },
	{ "lzcnt r,rm", { 0x0f, 0xbd }, 2, 0xf3, M_R, 0, SZV, 0, BOTH, FL_CNT, SU_NONE, 0 },
	{ "popcnt r,rm", { 0x0f, 0xb8 }, 2, 0xf3, M_R, 0, SZV, 0, BOTH, FL_ALL, SU_NONE, 0 },

	CC16(JCC8), CC16(JCC32),
	{ "jmp rel8", { 0xeb }, 1, 0, M_NONE, 0, S8, 1, REGONLY, FL_ALL, SU_BR, F_D64 },
	{ "jmp rel32", { 0xe9 }, 1, 0, M_NONE, 0, S8, 4, REGONLY, FL_ALL, SU_BR, F_D64 },
	{ "call rel32", { 0xe8 }, 1, 0, M_NONE, 0, S8, 4, REGONLY, FL_ALL, SU_BR, F_D64 },
	{ "jmp rm64", { 0xff }, 1, 0, M_D, 4, S8, 0, BOTH, FL_ALL, SU_BR, F_D64 },
	{ "call rm64", { 0xff }, 1, 0, M_D, 2, S8, 0, BOTH, FL_ALL, SU_BR, F_D64 },
	{ "ret", { 0xc3 }, 1, 0, M_NONE, 0, S8, 0, REGONLY, FL_ALL, SU_RET, F_D64 },
	{ "ret imm16", { 0xc2 }, 1, 0, M_NONE, 0, S8, 2, REGONLY, FL_ALL, SU_RET, F_D64 },
	{ "jrcxz rel8", { 0xe3 }, 1, 0, M_NONE, 0, S8, 1, REGONLY, FL_ALL, SU_LOOP, F_D64 },
	{ "loop rel8", { 0xe2 }, 1, 0, M_NONE, 0, S8, 1, REGONLY, FL_ALL, SU_LOOP, F_D64 },
	{ "loope rel8", { 0xe1 }, 1, 0, M_NONE, 0, S8, 1, REGONLY, FL_ALL, SU_LOOP, F_D64 },
	{ "loopne rel8", { 0xe0 }, 1, 0, M_NONE, 0, S8, 1, REGONLY, FL_ALL, SU_LOOP, F_D64 },

	{ "push r", { 0x50 }, 1, 0, M_OPREG, 0, S2 | S8, 0, REGONLY, FL_ALL, SU_NONE, F_D64 },
	{ "pop r", { 0x58 }, 1, 0, M_OPREG, 0, S2 | S8, 0, REGONLY, FL_ALL, SU_NONE, F_D64 },
	{ "push imm8", { 0x6a }, 1, 0, M_NONE, 0, S8, 1, REGONLY, FL_ALL, SU_NONE, F_D64 },
	{ "push imm32", { 0x68 }, 1, 0, M_NONE, 0, S8, 4, REGONLY, FL_ALL, SU_NONE, F_D64 },
	{ "push rm", { 0xff }, 1, 0, M_D, 6, S2 | S8, 0, BOTH, FL_ALL, SU_NONE, F_D64 },
	{ "pop rm", { 0x8f }, 1, 0, M_D, 0, S2 | S8, 0, BOTH, FL_ALL, SU_NONE, F_D64 },
	{ "pushf", { 0x9c }, 1, 0, M_NONE, 0, S8, 0, REGONLY, FL_ALL, SU_NONE, F_D64 },
	{ "popf", { 0x9d }, 1, 0, M_NONE, 0, S8, 0, REGONLY, FL_ALL, SU_POPF, F_D64 },
	{ "leave", { 0xc9 }, 1, 0, M_NONE, 0, S8, 0, REGONLY, FL_ALL, SU_LEAVE, F_D64 },
	{ "lahf", { 0x9f }, 1, 0, M_NONE, 0, S4, 0, REGONLY, FL_ALL, SU_NONE, 0 },
	{ "sahf", { 0x9e }, 1, 0, M_NONE, 0, S4, 0, REGONLY, FL_ALL, SU_NONE, 0 },
	{ "cmc", { 0xf5 }, 1, 0, M_NONE, 0, S4, 0, REGONLY, FL_ALL, SU_NONE, 0 },
	{ "clc", { 0xf8 }, 1, 0, M_NONE, 0, S4, 0, REGONLY, FL_ALL, SU_NONE, 0 },
	{ "stc", { 0xf9 }, 1, 0, M_NONE, 0, S4, 0, REGONLY, FL_ALL, SU_NONE, 0 },
	{ "cld", { 0xfc }, 1, 0, M_NONE, 0, S4, 0, REGONLY, FL_ALL, SU_NONE, 0 },
	{ "std", { 0xfd }, 1, 0, M_NONE, 0, S4, 0, REGONLY, FL_ALL, SU_NONE, 0 },
	{ "nop", { 0x90 }, 1, 0, M_NONE, 0, S4, 0, REGONLY, FL_ALL, SU_NONE, 0 },
	{ "pause", { 0x90 }, 1, 0xf3, M_NONE, 0, S4, 0, REGONLY, FL_ALL, SU_NONE, 0 },
	{ "nop rm", { 0x0f, 0x1f }, 2, 0, M_D, 0, S2 | S4, 0, BOTH, FL_ALL, SU_NONE, 0 },
	{ "ud2", { 0x0f, 0x0b }, 2, 0, M_NONE, 0, S4, 0, REGONLY, FL_ALL, SU_NONE, 0 },
	{ "int3", { 0xcc }, 1, 0, M_NONE, 0, S4, 0, REGONLY, FL_ALL, SU_NONE, 0 },

	STR("movs", 0xa4, 0, SU_STR), STR("rep movs", 0xa4, 0xf3, SU_STR),
	STR("stos", 0xaa, 0, SU_STR), STR("rep stos", 0xaa, 0xf3, SU_STR),
	STR("lods", 0xac, 0, SU_STR), STR("rep lods", 0xac, 0xf3, SU_STR),
	STR("scas", 0xae, 0, SU_STR), STR("repe scas", 0xae, 0xf3, SU_STR),
	STR("repne scas", 0xae, 0xf2, SU_STR),
	STR("cmps", 0xa6, 0, SU_STR), STR("repe cmps", 0xa6, 0xf3, SU_STR),
	STR("repne cmps", 0xa6, 0xf2, SU_STR),

	/* x87: memory forms, fixed register forms, ST(i) forms (i random) */
	X87M8("f", "m32fp", 0xd8), X87M8("f", "m64fp", 0xdc),
	X87M8("fi", "m32int", 0xda), X87M8("fi", "m16int", 0xde),
	X87M("fld m32fp", 0xd9, 0), X87M("fst m32fp", 0xd9, 2), X87M("fstp m32fp", 0xd9, 3),
	X87ENV("fldenv m", 0xd9, 4), X87M("fldcw m16", 0xd9, 5), X87ENV("fnstenv m", 0xd9, 6),
	X87M("fnstcw m16", 0xd9, 7),
	X87M("fild m32int", 0xdb, 0), X87M("fisttp m32int", 0xdb, 1), X87M("fist m32int", 0xdb, 2),
	X87M("fistp m32int", 0xdb, 3), X87M("fld m80fp", 0xdb, 5), X87M("fstp m80fp", 0xdb, 7),
	X87M("fld m64fp", 0xdd, 0), X87M("fisttp m64int", 0xdd, 1), X87M("fst m64fp", 0xdd, 2),
	X87M("fstp m64fp", 0xdd, 3), X87ENV("frstor m", 0xdd, 4), X87ENV("fnsave m", 0xdd, 6),
	X87M("fnstsw m16", 0xdd, 7),
	X87M("fild m16int", 0xdf, 0), X87M("fisttp m16int", 0xdf, 1), X87M("fist m16int", 0xdf, 2),
	X87M("fistp m16int", 0xdf, 3), X87M("fbld m80bcd", 0xdf, 4), X87M("fild m64int", 0xdf, 5),
	X87M("fbstp m80bcd", 0xdf, 6), X87M("fistp m64int", 0xdf, 7),
	X87I8("st,st(i)", 0xd8),
	X87I("fld st(i)", 0xd9, 0xc0), X87I("fxch st(i)", 0xd9, 0xc8),
	X87F("fnop", 0xd9, 0xd0), X87F("fchs", 0xd9, 0xe0), X87F("fabs", 0xd9, 0xe1),
	X87F("ftst", 0xd9, 0xe4), X87F("fxam", 0xd9, 0xe5),
	X87F("fld1", 0xd9, 0xe8), X87F("fldl2t", 0xd9, 0xe9), X87F("fldl2e", 0xd9, 0xea),
	X87F("fldpi", 0xd9, 0xeb), X87F("fldlg2", 0xd9, 0xec), X87F("fldln2", 0xd9, 0xed),
	X87F("fldz", 0xd9, 0xee),
	X87F("f2xm1", 0xd9, 0xf0), X87F("fyl2x", 0xd9, 0xf1), X87F("fptan", 0xd9, 0xf2),
	X87F("fpatan", 0xd9, 0xf3), X87F("fxtract", 0xd9, 0xf4), X87F("fprem1", 0xd9, 0xf5),
	X87F("fdecstp", 0xd9, 0xf6), X87F("fincstp", 0xd9, 0xf7), X87F("fprem", 0xd9, 0xf8),
	X87F("fyl2xp1", 0xd9, 0xf9), X87F("fsqrt", 0xd9, 0xfa), X87F("fsincos", 0xd9, 0xfb),
	X87F("frndint", 0xd9, 0xfc), X87F("fscale", 0xd9, 0xfd), X87F("fsin", 0xd9, 0xfe),
	X87F("fcos", 0xd9, 0xff),
	X87I("fcmovb st,st(i)", 0xda, 0xc0), X87I("fcmove st,st(i)", 0xda, 0xc8),
	X87I("fcmovbe st,st(i)", 0xda, 0xd0), X87I("fcmovu st,st(i)", 0xda, 0xd8),
	X87F("fucompp", 0xda, 0xe9),
	X87I("fcmovnb st,st(i)", 0xdb, 0xc0), X87I("fcmovne st,st(i)", 0xdb, 0xc8),
	X87I("fcmovnbe st,st(i)", 0xdb, 0xd0), X87I("fcmovnu st,st(i)", 0xdb, 0xd8),
	X87F("fnclex", 0xdb, 0xe2), X87F("fninit", 0xdb, 0xe3),
	X87I("fucomi st,st(i)", 0xdb, 0xe8), X87I("fcomi st,st(i)", 0xdb, 0xf0),
	X87I("fadd st(i),st", 0xdc, 0xc0), X87I("fmul st(i),st", 0xdc, 0xc8),
	X87I("fsubr st(i),st", 0xdc, 0xe0), X87I("fsub st(i),st", 0xdc, 0xe8),
	X87I("fdivr st(i),st", 0xdc, 0xf0), X87I("fdiv st(i),st", 0xdc, 0xf8),
	X87I("ffree st(i)", 0xdd, 0xc0), X87I("fst st(i)", 0xdd, 0xd0),
	X87I("fstp st(i)", 0xdd, 0xd8), X87I("fucom st(i)", 0xdd, 0xe0),
	X87I("fucomp st(i)", 0xdd, 0xe8),
	X87I("faddp st(i),st", 0xde, 0xc0), X87I("fmulp st(i),st", 0xde, 0xc8),
	X87F("fcompp", 0xde, 0xd9),
	X87I("fsubrp st(i),st", 0xde, 0xe0), X87I("fsubp st(i),st", 0xde, 0xe8),
	X87I("fdivrp st(i),st", 0xde, 0xf0), X87I("fdivp st(i),st", 0xde, 0xf8),
	X87F("fnstsw ax", 0xdf, 0xe0),
	X87I("fucomip st,st(i)", 0xdf, 0xe8), X87I("fcomip st,st(i)", 0xdf, 0xf0),
	{ "fwait", { 0x9b }, 1, 0, M_NONE, 0, S4, 0, REGONLY, FL_ALL, SU_X87, 0 },
	/* reserved aliases hardware runs anyway, and encodings that are #UD */
	X87I("fstp1 st(i)", 0xd9, 0xd8), X87I("fcom2 st(i)", 0xdc, 0xd0),
	X87I("fcomp3 st(i)", 0xdc, 0xd8), X87I("fxch4 st(i)", 0xdd, 0xc8),
	X87I("fcomp5 st(i)", 0xde, 0xd0), X87I("ffreep st(i)", 0xdf, 0xc0),
	X87I("fxch7 st(i)", 0xdf, 0xc8), X87I("fstp8 st(i)", 0xdf, 0xd0),
	X87I("fstp9 st(i)", 0xdf, 0xd8),
	X87F("fneni", 0xdb, 0xe0), X87F("fndisi", 0xdb, 0xe1), X87F("fnsetpm", 0xdb, 0xe4),
	X87F("x87 ud d9 d1", 0xd9, 0xd1), X87F("x87 ud d9 e2", 0xd9, 0xe2),
	X87F("x87 ud d9 ef", 0xd9, 0xef), X87F("x87 ud da e0", 0xda, 0xe0),
	X87F("x87 ud db e5", 0xdb, 0xe5), X87F("x87 ud db f8", 0xdb, 0xf8),
	X87F("x87 ud dd f0", 0xdd, 0xf0), X87F("x87 ud de d8", 0xde, 0xd8),
	X87F("x87 ud df e1", 0xdf, 0xe1), X87F("x87 ud df f8", 0xdf, 0xf8),
	X87M("x87 ud d9 /1", 0xd9, 1), X87M("x87 ud db /4", 0xdb, 4),
	X87M("x87 ud db /6", 0xdb, 6), X87M("x87 ud dd /5", 0xdd, 5),
};

const unsigned nforms = sizeof(forms) / sizeof(forms[0]);
