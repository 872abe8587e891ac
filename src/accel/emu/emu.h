/*
 * The software x86-64 CPU: state and the interface the accelerator module
 * (and the differential tests) drive it through. See docs/emu.md.
 */
#ifndef EMU_EMU_H
#define EMU_EMU_H

#include <stdbool.h>
#include <stdint.h>

#include "splitvm/types.h"

/* Register file slots: the 16 GPRs, then a constant zero and RIP, so that an
 * effective address is always base + index << scale + disp with no branch
 * (no base/index -> the zero slot; RIP-relative -> the RIP slot). */
#define EMU_ZERO 16
#define EMU_RIP 17
#define EMU_NSLOTS 18

/* Flag bits. */
#define EMU_CF 0x0001u
#define EMU_PF 0x0004u
#define EMU_AF 0x0010u
#define EMU_ZF 0x0040u
#define EMU_SF 0x0080u
#define EMU_TF 0x0100u
#define EMU_IF 0x0200u
#define EMU_DF 0x0400u
#define EMU_OF 0x0800u
#define EMU_AC 0x40000u
#define EMU_ID 0x200000u
#define EMU_ARITH (EMU_CF | EMU_PF | EMU_AF | EMU_ZF | EMU_SF | EMU_OF)

/* Exception vectors. */
enum {
	EMU_DE = 0, EMU_DB = 1, EMU_BP = 3, EMU_UD = 6, EMU_NM = 7, EMU_GP = 13,
	EMU_PF_VEC = 14, EMU_MF = 16, EMU_XM = 19,
};

/* emu_run/emu_step results. */
enum emu_exit {
	EMU_EXIT_NONE = 0,   /* budget used up */
	EMU_EXIT_EXCEPTION,  /* cpu->exc holds vector and error code */
	EMU_EXIT_HLT,
	EMU_EXIT_SHUTDOWN,   /* triple fault: the machine resets */
};

/* Lazy flags: the last flag-setting operation, evaluated on demand. */
enum emu_lf_op {
	LF_NONE,  /* arithmetic flags are in rflags */
	LF_ADD,   /* res = a + b (+ carry) */
	LF_SUB,   /* res = a - b: CMP/SUB; conditions evaluated from a and b */
	LF_SBB,   /* res = a - b - borrow */
	LF_LOGIC, /* CF = OF = AF = 0 */
	LF_INC,   /* res = a + 1, CF in lf.cf */
	LF_DEC,   /* res = a - 1, CF in lf.cf */
	LF_SHL,   /* res = a << b, b in 1..63 */
	LF_SHR,
	LF_SAR,
};

struct emu_lflags {
	uint64_t res, a, b;
	uint8_t op;  /* enum emu_lf_op */
	uint8_t sz;  /* operand size in bytes */
	uint8_t cf;  /* carry kept across INC/DEC */
};

/*
 * Software TLB entry: guest linear page -> host pointer. A tag is the page
 * address, or EMU_TLB_INVALID; host = linear + addend. Separate read and
 * write tags: a page holding decoded code gets no write tag, so that stores
 * to it take the slow path and invalidate the decoded blocks.
 */
#define EMU_TLB_BITS 8
#define EMU_TLB_SIZE (1u << EMU_TLB_BITS)
#define EMU_TLB_INVALID 1ull
#define EMU_PAGE_SIZE 4096ull
#define EMU_PAGE_MASK (~(EMU_PAGE_SIZE - 1))

struct emu_tlb_entry {
	uint64_t tag_r, tag_w;
	uintptr_t addend;
};

/* An x87 data register (80 bits): significand, then sign and exponent. */
struct emu_fpreg {
	uint64_t mant;
	uint16_t sexp;
	uint16_t pad[3];
};

union emu_xmm {
	uint8_t b[16];
	uint16_t w[8];
	uint32_t d[4];
	uint64_t q[2];
	float s[4];
	double f[2];
};

struct emu_icache;
struct emu_cpu;

/* Guest memory as the CPU sees it: RAM regions plus an MMIO fallback. */
struct emu_mem {
	const struct guest_ram_region *ram;
	unsigned nram;
	/*
	 * System hooks (the emu module gives each vCPU its own emu_mem, so
	 * opaque identifies the vCPU). NULL pio: reads all ones, writes dropped.
	 * NULL rdmsr/wrmsr or a -1 return: #GP. cr8 hooks: the LAPIC's TPR.
	 */
	void (*pio)(void *opaque, uint16_t port, void *data, unsigned size, bool is_write);
	int (*rdmsr)(void *opaque, uint32_t msr, uint64_t *val);
	int (*wrmsr)(void *opaque, uint32_t msr, uint64_t val);
	uint64_t (*get_cr8)(void *opaque);
	void (*set_cr8)(void *opaque, uint64_t val);
	/* Accesses outside RAM; NULL -> #GP. data little-endian, size 1..8. */
	void (*mmio)(void *opaque, uint64_t addr, void *data, unsigned size, bool is_write);
	void *opaque;
};

struct emu_cpu {
	uint64_t r[EMU_NSLOTS];
	struct emu_lflags lf;
	uint64_t rflags;           /* arithmetic bits valid only if lf.op == LF_NONE */
	uint64_t segbase[3];       /* none (0), FS, GS: what a segment prefix adds */
	uint64_t kernel_gs_base;
	union emu_xmm xmm[16];
	uint32_t mxcsr;
	/*
	 * x87 and MMX share this state. fpr[] is the register file in physical
	 * order R0..R7: ST(i) is fpr[(TOP + i) & 7], TOP in fsw bits 11-13.
	 * MMX register n is fpr[n].mant (an MMX write sets fpr[n].sexp to
	 * 0xffff; every MMX instruction but EMMS sets TOP = 0, ftw = 0xff).
	 * ftw is the abridged tag word as FXSAVE stores it: bit n set = R n
	 * not empty. fip/fdp/fop: last x87 instruction, for FXSAVE/FSTENV.
	 */
	struct emu_fpreg fpr[8];
	uint16_t fcw, fsw, fop;
	uint8_t ftw;
	uint64_t fip, fdp;
	uint64_t tsc_offset;
	uint64_t icount;           /* retired instructions (at block granularity) */
	/* Set (emu_request_exit) by another thread or a handler: emu_run returns
	 * EMU_EXIT_NONE at the next block boundary, then clears it. */
	uint32_t exit_request;

	/* Pending exception (EMU_EXIT_EXCEPTION). */
	struct {
		uint8_t vector;
		bool has_err;
		uint32_t err;
		uint64_t addr;     /* faulting address (CR2 for #PF) */
	} exc;

	uint8_t exit_reason;       /* enum emu_exit, set before unwinding */

	struct emu_tlb_entry tlb[EMU_TLB_SIZE];
	const struct emu_mem *mem;
	struct emu_icache *ic;
	void *jb[5];               /* __builtin_setjmp buffer for exceptions */
};

/* Life cycle: the cache is allocated once; nothing is allocated while running. */
int emu_cpu_init(struct emu_cpu *cpu, const struct emu_mem *mem);
void emu_cpu_fini(struct emu_cpu *cpu);

/* Run up to max_insns (block granularity); returns enum emu_exit. */
int emu_run(struct emu_cpu *cpu, uint64_t max_insns);
/* Execute exactly one instruction. */
int emu_step(struct emu_cpu *cpu);
/* Make emu_run return at the next block boundary (any thread, async-safe). */
void emu_request_exit(struct emu_cpu *cpu);

/*
 * System interface for the emu accelerator module (issue 4). Until
 * emu_sys_enable(), faults return EMU_EXIT_EXCEPTION to the caller (the
 * differential tests rely on that); after it, they are delivered through the
 * guest's IDT and a triple fault returns EMU_EXIT_SHUTDOWN.
 */
struct cpu_boot_state;
int emu_cpu_load_state(struct emu_cpu *cpu, const struct cpu_boot_state *st);
void emu_sys_enable(struct emu_cpu *cpu);
/* IF set and no STI/MOV SS interrupt shadow: an external interrupt may enter. */
bool emu_can_take_interrupt(struct emu_cpu *cpu);
/* Between blocks only: enter the guest's handler for vector now. */
void emu_inject_interrupt(struct emu_cpu *cpu, uint8_t vector);
void emu_inject_nmi(struct emu_cpu *cpu);
/* INIT: wait-for-SIPI state; SIPI: real mode at vector << 12. */
void emu_cpu_init_signal(struct emu_cpu *cpu);
void emu_cpu_sipi(struct emu_cpu *cpu, uint8_t vector);

/* Materialized RFLAGS, and setting them (all bits). */
uint64_t emu_get_rflags(struct emu_cpu *cpu);
void emu_set_rflags(struct emu_cpu *cpu, uint64_t v);

/* Drop every translation (CR3 write, memory map change). */
void emu_tlb_flush(struct emu_cpu *cpu);
/* Drop every decoded block (code changed behind the CPU's back). */
void emu_icache_flush(struct emu_cpu *cpu);

/* The x87/MMX/SSE state as a 512-byte FXSAVE image (64-bit format), e.g.
 * for an accelerator's get/set-FPU calls. Loading checks nothing. */
void emu_fxsave_image(const struct emu_cpu *cpu, uint8_t img[512]);
void emu_fxrstor_image(struct emu_cpu *cpu, const uint8_t img[512]);

/* CPUID as the guest sees it. */
void emu_cpuid(uint32_t leaf, uint32_t sub, uint32_t out[4]);

#endif
