/*
 * CPUID from one table. An AMD K8-class identity (family 0Fh) with only the
 * features this interpreter implements; leaves beyond the table read as 0,
 * as on AMD parts.
 */
#include "accel/emu/cpu.h"

struct cpuid_leaf {
	uint32_t leaf, sub; /* sub = ~0u: any subleaf */
	uint32_t r[4];      /* EAX, EBX, ECX, EDX */
};

#define VENDOR_EBX 0x68747541 /* "Auth" */
#define VENDOR_EDX 0x69746e65 /* "enti" */
#define VENDOR_ECX 0x444d4163 /* "cAMD" */

/* leaf 1 */
#define L1_EDX (1u << 0 /* FPU */ | 1u << 4 /* TSC */ | 1u << 8 /* CX8 */ | \
		1u << 15 /* CMOV, with FPU: FCMOV */ | 1u << 19 /* CLFSH */ | \
		1u << 23 /* MMX */ | 1u << 24 /* FXSR */ | 1u << 25 /* SSE */ | 1u << 26 /* SSE2 */)
#define L1_ECX (1u << 13 /* CX16 */ | 1u << 23 /* POPCNT */)
/* leaf 80000001h */
#define E1_EDX (1u << 0 /* FPU */ | 1u << 22 /* MMXEXT */ | 1u << 23 /* MMX */ | \
		1u << 24 /* FXSR */ | 1u << 27 /* RDTSCP */ | 1u << 29 /* LM */)
#define E1_ECX (1u << 0 /* LAHF/SAHF in 64-bit mode */ | 1u << 5 /* ABM: LZCNT */ | \
		1u << 7 /* MisAlignSse: MXCSR.MM */)

static const struct cpuid_leaf table[] = {
	{ 0x0, ~0u, { 0x7, VENDOR_EBX, VENDOR_ECX, VENDOR_EDX } },
	/* family 0Fh, extended model 6, model 0Bh, stepping 1; CLFLUSH 64 bytes */
	{ 0x1, ~0u, { 0x00060fb1, 0x00010800, L1_ECX, L1_EDX } },
	/* EBX[13]: x87 FCS/FDS deprecated (FNSTENV, FNSAVE, FXSAVE store 0) */
	{ 0x7, 0, { 0, 1u << 13, 0, 0 } },
	{ 0x80000000, ~0u, { 0x80000008, VENDOR_EBX, VENDOR_ECX, VENDOR_EDX } },
	{ 0x80000001, ~0u, { 0x00060fb1, 0, E1_ECX, E1_EDX } },
	/* brand string "splitvm emu x86-64 CPU" */
	{ 0x80000002, ~0u, { 0x696c7073, 0x206d7674, 0x20756d65, 0x2d363878 } },
	{ 0x80000003, ~0u, { 0x43203436, 0x00005550, 0, 0 } },
	{ 0x80000004, ~0u, { 0, 0, 0, 0 } },
	/* 40-bit physical, 48-bit linear addresses */
	{ 0x80000008, ~0u, { 0x00003028, 0, 0, 0 } },
};

void emu_cpuid(uint32_t leaf, uint32_t sub, uint32_t out[4])
{
	for (unsigned k = 0; k < sizeof(table) / sizeof(table[0]); k++) {
		const struct cpuid_leaf *l = &table[k];

		if (l->leaf == leaf && (l->sub == ~0u || l->sub == sub)) {
			memcpy(out, l->r, sizeof(l->r));
			return;
		}
	}
	memset(out, 0, 4 * sizeof(uint32_t));
}
