/*
 * SSE/SSE2/MMX instruction forms. The mandatory prefix (66, F2, F3) goes in
 * pfx; size S4 means no REX.W, S4 | S8 adds a REX.W variant (GPR operand
 * size). F_A16: a 16-byte memory operand, aligned in 7 states out of 8 (the
 * others check #GP, or its absence under MXCSR.MM).
 */
#include "harness.h"

#define SX(nm, pf, o, mem, su, fl) \
	{ nm, { 0x0f, o }, 2, pf, M_R, 0, S4, 0, mem, FL_ALL, su, fl }
#define SXI(nm, pf, o, mem, fl) \
	{ nm, { 0x0f, o }, 2, pf, M_R, 0, S4, 1, mem, FL_ALL, SU_NONE, fl }
#define SXC(nm, pf, fl) \
	{ nm, { 0x0f, 0xc2 }, 2, pf, M_R, 0, S4, 1, BOTH, FL_ALL, SU_CMP, fl }
#define SXW(nm, pf, o, mem) \
	{ nm, { 0x0f, o }, 2, pf, M_R, 0, S4 | S8, 0, mem, FL_ALL, SU_NONE, 0 }
#define X16(nm, pf, o) SX(nm, pf, o, BOTH, SU_NONE, F_A16)
#define XS(nm, pf, o) SX(nm, pf, o, BOTH, SU_NONE, 0)

/* MMX form and SSE2 form of a packed-integer instruction */
#define MX(nm, o, su) SX(nm " mm", 0, o, BOTH, su, 0), SX(nm " xmm", 0x66, o, BOTH, su, F_A16)

/* packed/scalar single/double */
#define PSD(nm, o) X16(nm "ps", 0, o), X16(nm "pd", 0x66, o), XS(nm "ss", 0xf3, o), \
	XS(nm "sd", 0xf2, o)

/* shifts by imm8: 0F 71-73 /digit, register only */
#define SHI(nm, pf, o, dg) \
	{ nm, { 0x0f, o }, 2, pf, M_D, dg, S4, 1, REGONLY, FL_ALL, SU_NONE, 0 }

const struct form sse_forms[] = {
	/* moves */
	SX("movups", 0, 0x10, BOTH, SU_NONE, 0), SX("movupd", 0x66, 0x10, BOTH, SU_NONE, 0),
	XS("movss", 0xf3, 0x10), XS("movsd", 0xf2, 0x10),
	SX("movups st", 0, 0x11, BOTH, SU_NONE, 0), SX("movupd st", 0x66, 0x11, BOTH, SU_NONE, 0),
	XS("movss st", 0xf3, 0x11), XS("movsd st", 0xf2, 0x11),
	XS("movlps/movhlps", 0, 0x12), SX("movlpd", 0x66, 0x12, MEMONLY, SU_NONE, 0),
	SX("movlps st", 0, 0x13, MEMONLY, SU_NONE, 0), SX("movlpd st", 0x66, 0x13, MEMONLY, SU_NONE, 0),
	XS("movhps/movlhps", 0, 0x16), SX("movhpd", 0x66, 0x16, MEMONLY, SU_NONE, 0),
	SX("movhps st", 0, 0x17, MEMONLY, SU_NONE, 0), SX("movhpd st", 0x66, 0x17, MEMONLY, SU_NONE, 0),
	X16("movaps", 0, 0x28), X16("movapd", 0x66, 0x28),
	X16("movaps st", 0, 0x29), X16("movapd st", 0x66, 0x29),
	SX("movntps", 0, 0x2b, MEMONLY, SU_NONE, F_A16), SX("movntpd", 0x66, 0x2b, MEMONLY, SU_NONE, F_A16),
	SXW("movd/q mm,rm", 0, 0x6e, BOTH), SXW("movd/q xmm,rm", 0x66, 0x6e, BOTH),
	SXW("movd/q rm,mm", 0, 0x7e, BOTH), SXW("movd/q rm,xmm", 0x66, 0x7e, BOTH),
	XS("movq xmm,xmm/m64", 0xf3, 0x7e), XS("movq xmm/m64,xmm", 0x66, 0xd6),
	XS("movq mm,mm/m64", 0, 0x6f), XS("movq mm/m64,mm", 0, 0x7f),
	X16("movdqa", 0x66, 0x6f), X16("movdqa st", 0x66, 0x7f),
	XS("movdqu", 0xf3, 0x6f), XS("movdqu st", 0xf3, 0x7f),
	SX("movq2dq", 0xf3, 0xd6, REGONLY, SU_NONE, 0), SX("movdq2q", 0xf2, 0xd6, REGONLY, SU_NONE, 0),
	SX("movntq", 0, 0xe7, MEMONLY, SU_NONE, 0), SX("movntdq", 0x66, 0xe7, MEMONLY, SU_NONE, F_A16),
	{ "movnti", { 0x0f, 0xc3 }, 2, 0, M_R, 0, S4 | S8, 0, MEMONLY, FL_ALL, SU_NONE, 0 },
	SX("pmovmskb mm", 0, 0xd7, REGONLY, SU_NONE, 0), SX("pmovmskb xmm", 0x66, 0xd7, REGONLY, SU_NONE, 0),
	SX("movmskps", 0, 0x50, REGONLY, SU_NONE, 0), SX("movmskpd", 0x66, 0x50, REGONLY, SU_NONE, 0),
	SXI("pextrw mm", 0, 0xc5, REGONLY, 0), SXI("pextrw xmm", 0x66, 0xc5, REGONLY, 0),
	SXI("pinsrw mm", 0, 0xc4, BOTH, 0), SXI("pinsrw xmm", 0x66, 0xc4, BOTH, 0),
	SX("maskmovq", 0, 0xf7, REGONLY, SU_MASKMOV, 0), SX("maskmovdqu", 0x66, 0xf7, REGONLY, SU_MASKMOV, 0),

	/* floating point */
	PSD("add", 0x58), PSD("mul", 0x59), PSD("sub", 0x5c), PSD("min", 0x5d),
	PSD("div", 0x5e), PSD("max", 0x5f), PSD("sqrt", 0x51),
	X16("rsqrtps", 0, 0x52), XS("rsqrtss", 0xf3, 0x52), X16("rcpps", 0, 0x53), XS("rcpss", 0xf3, 0x53),
	X16("andps", 0, 0x54), X16("andpd", 0x66, 0x54), X16("andnps", 0, 0x55), X16("andnpd", 0x66, 0x55),
	X16("orps", 0, 0x56), X16("orpd", 0x66, 0x56), X16("xorps", 0, 0x57), X16("xorpd", 0x66, 0x57),
	X16("unpcklps", 0, 0x14), X16("unpcklpd", 0x66, 0x14),
	X16("unpckhps", 0, 0x15), X16("unpckhpd", 0x66, 0x15),
	SXI("shufps", 0, 0xc6, BOTH, F_A16), SXI("shufpd", 0x66, 0xc6, BOTH, F_A16),
	SXC("cmpps", 0, F_A16), SXC("cmppd", 0x66, F_A16), SXC("cmpss", 0xf3, 0),
	SXC("cmpsd", 0xf2, 0),
	XS("ucomiss", 0, 0x2e), XS("ucomisd", 0x66, 0x2e), XS("comiss", 0, 0x2f), XS("comisd", 0x66, 0x2f),

	/* conversions */
	SXW("cvtsi2ss", 0xf3, 0x2a, BOTH), SXW("cvtsi2sd", 0xf2, 0x2a, BOTH),
	SXW("cvttss2si", 0xf3, 0x2c, BOTH), SXW("cvttsd2si", 0xf2, 0x2c, BOTH),
	SXW("cvtss2si", 0xf3, 0x2d, BOTH), SXW("cvtsd2si", 0xf2, 0x2d, BOTH),
	XS("cvtps2pd", 0, 0x5a), X16("cvtpd2ps", 0x66, 0x5a),
	XS("cvtss2sd", 0xf3, 0x5a), XS("cvtsd2ss", 0xf2, 0x5a),
	X16("cvtdq2ps", 0, 0x5b), X16("cvtps2dq", 0x66, 0x5b), X16("cvttps2dq", 0xf3, 0x5b),
	X16("cvttpd2dq", 0x66, 0xe6), X16("cvtpd2dq", 0xf2, 0xe6), XS("cvtdq2pd", 0xf3, 0xe6),

	/* packed integer */
	MX("punpcklbw", 0x60, SU_NONE), MX("punpcklwd", 0x61, SU_NONE), MX("punpckldq", 0x62, SU_NONE),
	MX("packsswb", 0x63, SU_NONE), MX("pcmpgtb", 0x64, SU_NONE), MX("pcmpgtw", 0x65, SU_NONE),
	MX("pcmpgtd", 0x66, SU_NONE), MX("packuswb", 0x67, SU_NONE), MX("punpckhbw", 0x68, SU_NONE),
	MX("punpckhwd", 0x69, SU_NONE), MX("punpckhdq", 0x6a, SU_NONE), MX("packssdw", 0x6b, SU_NONE),
	X16("punpcklqdq", 0x66, 0x6c), X16("punpckhqdq", 0x66, 0x6d),
	SXI("pshufw", 0, 0x70, BOTH, 0), SXI("pshufd", 0x66, 0x70, BOTH, F_A16),
	SXI("pshufhw", 0xf3, 0x70, BOTH, F_A16), SXI("pshuflw", 0xf2, 0x70, BOTH, F_A16),
	MX("pcmpeqb", 0x74, SU_NONE), MX("pcmpeqw", 0x75, SU_NONE), MX("pcmpeqd", 0x76, SU_NONE),
	MX("psrlw", 0xd1, SU_VSHIFT), MX("psrld", 0xd2, SU_VSHIFT), MX("psrlq", 0xd3, SU_VSHIFT),
	MX("paddq", 0xd4, SU_NONE), MX("pmullw", 0xd5, SU_NONE), MX("psubusb", 0xd8, SU_NONE),
	MX("psubusw", 0xd9, SU_NONE), MX("pminub", 0xda, SU_NONE), MX("pand", 0xdb, SU_NONE),
	MX("paddusb", 0xdc, SU_NONE), MX("paddusw", 0xdd, SU_NONE), MX("pmaxub", 0xde, SU_NONE),
	MX("pandn", 0xdf, SU_NONE), MX("pavgb", 0xe0, SU_NONE), MX("psraw", 0xe1, SU_VSHIFT),
	MX("psrad", 0xe2, SU_VSHIFT), MX("pavgw", 0xe3, SU_NONE), MX("pmulhuw", 0xe4, SU_NONE),
	MX("pmulhw", 0xe5, SU_NONE), MX("psubsb", 0xe8, SU_NONE), MX("psubsw", 0xe9, SU_NONE),
	MX("pminsw", 0xea, SU_NONE), MX("por", 0xeb, SU_NONE), MX("paddsb", 0xec, SU_NONE),
	MX("paddsw", 0xed, SU_NONE), MX("pmaxsw", 0xee, SU_NONE), MX("pxor", 0xef, SU_NONE),
	MX("psllw", 0xf1, SU_VSHIFT), MX("pslld", 0xf2, SU_VSHIFT), MX("psllq", 0xf3, SU_VSHIFT),
	MX("pmuludq", 0xf4, SU_NONE), MX("pmaddwd", 0xf5, SU_NONE), MX("psadbw", 0xf6, SU_NONE),
	MX("psubb", 0xf8, SU_NONE), MX("psubw", 0xf9, SU_NONE), MX("psubd", 0xfa, SU_NONE),
	MX("psubq", 0xfb, SU_NONE), MX("paddb", 0xfc, SU_NONE), MX("paddw", 0xfd, SU_NONE),
	MX("paddd", 0xfe, SU_NONE),
	SHI("psrlw imm mm", 0, 0x71, 2), SHI("psraw imm mm", 0, 0x71, 4), SHI("psllw imm mm", 0, 0x71, 6),
	SHI("psrld imm mm", 0, 0x72, 2), SHI("psrad imm mm", 0, 0x72, 4), SHI("pslld imm mm", 0, 0x72, 6),
	SHI("psrlq imm mm", 0, 0x73, 2), SHI("psllq imm mm", 0, 0x73, 6),
	SHI("psrlw imm xmm", 0x66, 0x71, 2), SHI("psraw imm xmm", 0x66, 0x71, 4),
	SHI("psllw imm xmm", 0x66, 0x71, 6), SHI("psrld imm xmm", 0x66, 0x72, 2),
	SHI("psrad imm xmm", 0x66, 0x72, 4), SHI("pslld imm xmm", 0x66, 0x72, 6),
	SHI("psrlq imm xmm", 0x66, 0x73, 2), SHI("psllq imm xmm", 0x66, 0x73, 6),
	SHI("psrldq", 0x66, 0x73, 3), SHI("pslldq", 0x66, 0x73, 7),

	/* state */
	{ "emms", { 0x0f, 0x77 }, 2, 0, M_NONE, 0, S4, 0, REGONLY, FL_ALL, SU_NONE, 0 },
	{ "fxsave", { 0x0f, 0xae }, 2, 0, M_D, 0, S4 | S8, 0, MEMONLY, FL_ALL, SU_NONE, F_A16 },
	{ "fxrstor", { 0x0f, 0xae }, 2, 0, M_D, 1, S4 | S8, 0, MEMONLY, FL_ALL, SU_FXRSTOR, F_A16 },
	{ "ldmxcsr", { 0x0f, 0xae }, 2, 0, M_D, 2, S4, 0, MEMONLY, FL_ALL, SU_LDMXCSR, 0 },
	{ "stmxcsr", { 0x0f, 0xae }, 2, 0, M_D, 3, S4, 0, MEMONLY, FL_ALL, SU_NONE, 0 },
	{ "prefetchnta", { 0x0f, 0x18 }, 2, 0, M_D, 0, S4, 0, MEMONLY, FL_ALL, SU_NONE, 0 },
	{ "prefetcht0", { 0x0f, 0x18 }, 2, 0, M_D, 1, S4, 0, MEMONLY, FL_ALL, SU_NONE, 0 },
	{ "prefetchw", { 0x0f, 0x0d }, 2, 0, M_D, 1, S4, 0, MEMONLY, FL_ALL, SU_NONE, 0 },
};

const unsigned nsse_forms = sizeof(sse_forms) / sizeof(sse_forms[0]);
