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
	EMU_EXIT_FETCH_UNBACKED, /* fetch from a guest-physical address with no RAM
				  * (MMIO cannot be executed): cpu->exit_gpa */
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
#define EMU_TLB_BITS 10
#define EMU_TLB_SIZE (1u << EMU_TLB_BITS)
#define EMU_TLB_WORDS (EMU_TLB_SIZE / 64) /* of a bitmap over the entries */
#define EMU_TLB_INVALID 1ull
#define EMU_PAGE_SIZE 4096ull
#define EMU_PAGE_MASK (~(EMU_PAGE_SIZE - 1))

struct emu_tlb_entry {
	uint64_t tag_r, tag_w;
	uint64_t tag_x;     /* instruction fetch (NX, U/S checked at fill) */
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
struct emu_codemap;
struct emu_cpu;

/*
 * Execution mode (cpu->mode): what the decoder assumes. 0 is 64-bit so that
 * a zeroed emu_cpu (the differential tests) stays in long mode. Legacy modes
 * exist for the AP start path (real -> 32-bit protected -> long); see
 * "Legacy modes" in docs/emu.md. While not in 64-bit mode, r[EMU_RIP] holds
 * the LINEAR address CS.base + EIP (so the decode cache, its links and the
 * TLB work unchanged); emu_get_eip() gives the architectural EIP/IP.
 */
enum { EMU_MODE_64 = 0, EMU_MODE_32 = 1, EMU_MODE_16 = 2 };

/* Segment registers, in the encoding's order (ES CS SS DS FS GS). */
enum { EMU_SEG_ES, EMU_SEG_CS, EMU_SEG_SS, EMU_SEG_DS, EMU_SEG_FS, EMU_SEG_GS, EMU_NSEG };
/* segbase[] slots: 0 = none (64-bit default), 1 FS, 2 GS, then the legacy ones. */
enum { EMU_SB_NONE, EMU_SB_FS, EMU_SB_GS, EMU_SB_ES, EMU_SB_CS, EMU_SB_SS, EMU_SB_DS, EMU_NSB };

/* Hidden descriptor part of a segment register. attr: descriptor bits
 * 40-47 in 0-7 (type, S, DPL, P) and 52-55 in 12-15 (AVL, L, D/B, G). */
struct emu_seg {
	uint64_t base;
	uint32_t limit;
	uint16_t sel;
	uint16_t attr;
};
#define EMU_SEG_P 0x0080u
#define EMU_SEG_L 0x2000u
#define EMU_SEG_DB 0x4000u
#define EMU_SEG_G 0x8000u

struct emu_dtr {
	uint64_t base;
	uint16_t limit;
};

/* exc.kind: what an event is, for IDT delivery (system mode). */
enum { EMU_EV_FAULT = 0, EMU_EV_SOFT, EMU_EV_EXT, EMU_EV_NMI };

/*
 * System state beyond what the legacy modes use (see "System" in
 * docs/emu.md). CPL is kept explicitly; FS/GS bases live in segbase[].
 */
struct emu_sys {
	bool on;                   /* emu_sys_enable(): faults go through the IDT */
	uint8_t cpl;
	uint8_t fpu_trap;          /* EMU_FPU_*: SSE/x87 checks to make (0: none) */
	bool nmi_blocked, nmi_pending;
	bool shutdown;             /* triple fault while injecting: next emu_run says so */
	int16_t delivering;        /* vector being delivered, -1: none */
	uint8_t deliver_kind;
	uint64_t cr2, cr8, dr[8];
	struct emu_seg ldtr, tr;
	uint64_t star, lstar, cstar, sfmask, tsc_aux, pat;
	uint64_t sysenter[3];      /* CS, ESP, EIP: stored only */
	uint64_t mtrr_def, mtrr_fixed[11], mtrr_var[16], misc_enable;
	/* TLB bookkeeping, one bit per entry: global, valid only at CPL < 3,
	 * derived from a 2M/1G page (tlb_shift gives its size). */
	uint64_t tlb_global[EMU_TLB_WORDS], tlb_sup[EMU_TLB_WORDS], tlb_large[EMU_TLB_WORDS];
	uint8_t tlb_shift[EMU_TLB_SIZE];
};

#define EMU_CR0_PE 0x00000001ull
#define EMU_CR0_PG 0x80000000ull
#define EMU_CR4_PAE 0x20ull
#define EMU_MSR_EFER 0xc0000080u
#define EMU_EFER_LME 0x100ull
#define EMU_EFER_LMA 0x400ull

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
	/* RDTSC/RDTSCP: the guest TSC (the module's timebase). NULL: the host
	 * TSC + cpu->tsc_offset (tests, benchmark). */
	uint64_t (*rdtsc)(void *opaque);
	void *opaque;
	/* The VM's code map when vCPUs share this RAM (SMP), else NULL. */
	struct emu_codemap *code;
};

/* Who the CPU is, for CPUID (the module sets it; zeros: CPU 0 of 1). */
struct emu_cpu_topo {
	uint32_t apic_id; /* CPUID 1 EBX[31:24], 0Bh EDX */
	uint32_t ncpus;   /* CPUID 0Bh logical processors (0 = 1) */
};

struct emu_jit_links;

struct emu_cpu {
	uint64_t r[EMU_NSLOTS];
	struct emu_lflags lf;
	uint64_t rflags;           /* arithmetic bits valid only if lf.op == LF_NONE */
	uint64_t segbase[EMU_NSB]; /* what a segment adds: none (0), FS, GS; legacy modes: ES CS SS DS too */
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
	struct emu_cpu_topo topo;
	uint64_t icount;           /* retired instructions (at block granularity) */
	uint64_t icount_end;       /* this run's budget: translations chain up to it */
	struct emu_jit_links *jit_links; /* the translation that returned to the run loop */
	/* Set (emu_request_exit) by another thread or a handler: emu_run returns
	 * EMU_EXIT_NONE at the next block boundary, then clears it. */
	uint32_t exit_request;

	/* Pending exception (EMU_EXIT_EXCEPTION). */
	struct {
		uint8_t vector;
		bool has_err;
		uint32_t err;
		uint64_t addr;     /* faulting address (CR2 for #PF) */
		uint8_t kind;      /* EMU_EV_*: how the IDT delivers it (system mode) */
	} exc;

	uint8_t exit_reason;       /* enum emu_exit, set before unwinding */
	uint64_t exit_gpa;         /* EMU_EXIT_FETCH_UNBACKED: the address fetched */

	/*
	 * System state used by the legacy modes (mode.c, ops_legacy.c). Minimal
	 * fields added by the legacy-modes work; the system-architecture code
	 * owns and may extend them. segbase[] mirrors seg[].base (emu_seg_set).
	 */
	uint8_t mode;              /* EMU_MODE_*: decoder mode, the decode cache follows it */
	bool wait_sipi;            /* after INIT, until a SIPI */
	struct emu_seg seg[EMU_NSEG];
	struct emu_dtr gdtr, idtr;
	uint64_t cr0, cr3, cr4, efer;
	struct emu_sys sys;        /* the rest of the system state (system.h) */

	struct emu_tlb_entry tlb[EMU_TLB_SIZE];
	const struct emu_mem *mem;
	struct emu_icache *ic;
	void *jb[5];               /* __builtin_setjmp buffer for exceptions */

	/* Code map (SMP, codemap.c): events taken so far, and pages this vCPU
	 * stored into whose decoded blocks the others are yet to drop. */
	uint32_t code_seen;
	uint32_t code_npending;
	uint64_t code_pending[8];
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

/* Legacy modes (mode.c). Load a segment register's visible and hidden parts
 * (keeps segbase[] in step); recompute the mode from CR0/EFER/CS after a
 * change, flushing decoded code when it differs. */
void emu_seg_set(struct emu_cpu *cpu, unsigned sreg, const struct emu_seg *s);
void emu_mode_update(struct emu_cpu *cpu);
/* The architectural instruction pointer (offset within CS). */
uint64_t emu_get_eip(const struct emu_cpu *cpu);

/* Materialized RFLAGS, and setting them (all bits). */
uint64_t emu_get_rflags(struct emu_cpu *cpu);
void emu_set_rflags(struct emu_cpu *cpu, uint64_t v);

/*
 * SMP: vCPUs sharing RAM share a code map, so that a store by one into code
 * another has decoded reaches it (codemap.h). Create it with the VM; each
 * vCPU's emu_mem.code points at it before emu_cpu_init, then the vCPU is
 * attached (index < ncpus) and detached before emu_cpu_fini.
 */
int emu_codemap_create(struct emu_codemap **out, const struct guest_ram_region *ram,
		       unsigned nram, unsigned ncpus);
void emu_codemap_destroy(struct emu_codemap *cm);
void emu_codemap_attach(struct emu_codemap *cm, unsigned index, struct emu_cpu *cpu);
void emu_codemap_detach(struct emu_codemap *cm, unsigned index);

/* Drop every translation (CR3 write, memory map change). */
void emu_tlb_flush(struct emu_cpu *cpu);
/* Drop every decoded block (code changed behind the CPU's back). */
void emu_icache_flush(struct emu_cpu *cpu);
/* Blocks are translated to host code after this many runs (docs/emu.md,
 * "Translated blocks"); 0: never. Applies to blocks decoded from now on. */
#define EMU_JIT_HOT_DEFAULT 128

/* What the decoded-instruction cache did (counts since the CPU was made). */
struct emu_cache_stats {
	uint64_t decoded;      /* blocks decoded */
	uint64_t translated;   /* blocks translated to host code */
	uint64_t page_drops;   /* pages whose blocks a store dropped */
	uint64_t flushes;      /* whole-cache drops */
	uint64_t jit_restarts; /* translation arena refills */
	uint64_t jit_bytes;    /* translation arena in use: code and record copies */
};
void emu_cache_stats(const struct emu_cpu *cpu, struct emu_cache_stats *out);
void emu_set_jit_hot(struct emu_cpu *cpu, unsigned runs);
/* A new translation arena of code_size bytes of code (tests make it small
 * to refill it often); between runs only. */
int emu_set_jit_arena(struct emu_cpu *cpu, size_t code_size);

/* The x87/MMX/SSE state as a 512-byte FXSAVE image (64-bit format), e.g.
 * for an accelerator's get/set-FPU calls. Loading checks nothing. */
void emu_fxsave_image(const struct emu_cpu *cpu, uint8_t img[512]);
void emu_fxrstor_image(struct emu_cpu *cpu, const uint8_t img[512]);

/* CPUID as the guest sees it. */
void emu_cpuid(const struct emu_cpu_topo *topo, uint32_t leaf, uint32_t sub, uint32_t out[4]);

#endif
