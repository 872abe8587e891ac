/*
 * CPUID from one table. An AMD family 12h identity with only the features
 * this interpreter implements (12h: outside the K8 erratum 400 paths that
 * read MSRs unsafely, has ARAT, same Spectre mitigations as K8; see
 * docs/emu.md); leaves beyond the table read as 0, as on AMD parts. A few
 * fields are per vCPU (APIC ID, topology): they are patched in from
 * cpu->topo.
 *
 * Time: the guest learns the TSC rate from kvmclock, not from CPUID 15h.
 * Linux reads 15h only for Intel parts, and an Intel identity would bring
 * Intel-only paths (Meltdown page-table isolation unless ARCH_CAPABILITIES
 * is emulated, microcode and MSR probes) into every boot. Staying AMD with
 * the KVM signature is also exactly what accel-kvm presents on this host, so
 * a guest sees the same machine under both modules. kvmclock is two MSRs
 * (module/emu_msr.c): the guest then sets TSC_KNOWN_FREQ and never
 * calibrates; TSC-deadline makes it skip LAPIC timer calibration.
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
#define L1_EDX (1u << 0 /* FPU */ | 1u << 3 /* PSE */ | 1u << 4 /* TSC */ | \
		1u << 5 /* MSR */ | 1u << 6 /* PAE */ | 1u << 8 /* CX8 */ | \
		1u << 9 /* APIC */ | 1u << 13 /* PGE */ | \
		1u << 15 /* CMOV, with FPU: FCMOV */ | 1u << 19 /* CLFSH */ | \
		1u << 23 /* MMX */ | 1u << 24 /* FXSR */ | 1u << 25 /* SSE */ | 1u << 26 /* SSE2 */)
#define L1_ECX (1u << 13 /* CX16 */ | 1u << 21 /* x2APIC */ | 1u << 23 /* POPCNT */ | \
		1u << 24 /* TSC-deadline */ | 1u << 31 /* hypervisor */)
/* leaf 80000001h */
#define E1_EDX (1u << 0 /* FPU */ | 1u << 11 /* SYSCALL */ | 1u << 20 /* NX */ | \
		1u << 22 /* MMXEXT */ | 1u << 23 /* MMX */ | 1u << 24 /* FXSR */ | \
		1u << 26 /* 1 GiB pages */ | 1u << 27 /* RDTSCP */ | 1u << 29 /* LM */)
#define E1_ECX (1u << 0 /* LAHF/SAHF in 64-bit mode */ | 1u << 5 /* ABM: LZCNT */ | \
		1u << 7 /* MisAlignSse: MXCSR.MM */)
/* KVM paravirtual features (40000001h EAX): kvmclock MSRs 4b564d00/01, and
 * its "TSC is stable across vCPUs" flag. */
#define KVM_FEATURES (1u << 3 /* CLOCKSOURCE2 */ | 1u << 24 /* CLOCKSOURCE_STABLE_BIT */)

static const struct cpuid_leaf table[] = {
	{ 0x0, ~0u, { 0xb, VENDOR_EBX, VENDOR_ECX, VENDOR_EDX } },
	/* family 12h (0Fh + extended 3), model 1, stepping 0; CLFLUSH 64 bytes;
	 * EBX[31:24] is the APIC ID (patched per vCPU) */
	{ 0x1, ~0u, { 0x00300f10, 0x00010800, L1_ECX, L1_EDX } },
	/* EBX[13]: x87 FCS/FDS deprecated (FNSTENV, FNSAVE, FXSAVE store 0) */
	{ 0x7, 0, { 0, 1u << 13, 0, 0 } },
	/* x2APIC topology: one thread per core (SMT level, shift 0), then every
	 * vCPU a core of one package (patched: shift and count by ncpus) */
	{ 0xb, 0, { 0, 1, 0x100, 0 } },
	{ 0xb, 1, { 0, 1, 0x201, 0 } },
	{ 0xb, ~0u, { 0, 0, 0, 0 } }, /* ECX[7:0] = subleaf, patched */
	{ 0x40000000, ~0u, { 0x40000001, 0x4b4d564b, 0x564b4d56, 0x0000004d } }, /* KVMKVMKVM */
	{ 0x40000001, ~0u, { KVM_FEATURES, 0, 0, 0 } },
	{ 0x80000000, ~0u, { 0x80000008, VENDOR_EBX, VENDOR_ECX, VENDOR_EDX } },
	{ 0x80000001, ~0u, { 0x00300f10, 0, E1_ECX, E1_EDX } },
	/* brand string "splitvm emu x86-64 CPU" */
	{ 0x80000002, ~0u, { 0x696c7073, 0x206d7674, 0x20756d65, 0x2d363878 } },
	{ 0x80000003, ~0u, { 0x43203436, 0x00005550, 0, 0 } },
	{ 0x80000004, ~0u, { 0, 0, 0, 0 } },
	/* EDX[8]: invariant TSC (the timebase never stops or changes rate) */
	{ 0x80000007, ~0u, { 0, 0, 0, 1u << 8 } },
	/* 40-bit physical, 48-bit linear addresses */
	{ 0x80000008, ~0u, { 0x00003028, 0, 0, 0 } },
};

/* Bits needed to number n CPUs (x2APIC ID shift to the package level). */
static uint32_t id_bits(uint32_t n)
{
	uint32_t b = 0;

	while (b < 31 && (1u << b) < n)
		b++;
	return b;
}

/* The per-vCPU fields: APIC IDs and the topology the count implies. */
static void patch_topo(const struct emu_cpu_topo *topo, uint32_t leaf, uint32_t sub,
		       uint32_t out[4])
{
	uint32_t n = topo && topo->ncpus ? topo->ncpus : 1;
	uint32_t id = topo ? topo->apic_id : 0;

	if (leaf == 0x1) {
		out[1] |= id << 24;
	} else if (leaf == 0xb) {
		if (sub == 1) {
			out[0] = id_bits(n);
			out[1] = n;
		}
		out[2] = (out[2] & ~0xffu) | (sub & 0xff);
		out[3] = id;
	}
}

void emu_cpuid(const struct emu_cpu_topo *topo, uint32_t leaf, uint32_t sub, uint32_t out[4])
{
	for (unsigned k = 0; k < sizeof(table) / sizeof(table[0]); k++) {
		const struct cpuid_leaf *l = &table[k];

		if (l->leaf == leaf && (l->sub == ~0u || l->sub == sub)) {
			memcpy(out, l->r, sizeof(l->r));
			patch_topo(topo, leaf, sub, out);
			return;
		}
	}
	memset(out, 0, 4 * sizeof(uint32_t));
}
