/*
 * A fake VMM core for driving an accelerator module on its own: RAM from a
 * memfd, PIO/MMIO callbacks that record every access, a watchdog that kicks
 * the vCPU after a time limit, tiny guest programs assembled by hand, and
 * fork isolation so that a platform that wedges a vCPU cannot hang a test.
 */
#ifndef TESTS_ACCEL_HARNESS_H
#define TESTS_ACCEL_HARNESS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "splitvm/accel.h"

/* Guest memory map of the test machine. */
#define T_RAM0_SIZE     0x80000ull  /* RAM: [0, 512 KiB) */
#define T_RAM1_BASE     0x100000ull /* RAM: [1 MiB, 2 MiB), a second slot */
#define T_RAM1_SIZE     0x100000ull
#define T_GDT           0x0500ull
#define T_TSS           0x0600ull
#define T_PML4          0x1000ull   /* 5 pages of tables, 2 MiB pages: */
#define T_HIGH          0xffffffff80000000ull /* [0,1G) at 0, at T_HIGH, [3G,4G) */
#define T_IDT           0x6000ull
#define T_DATA          0x7000ull   /* results the guest stores */
#define T_COUNTER       0x7080ull   /* interrupts counted by t_put_isr */
#define T_STACK         0x7ff0ull
#define T_CODE          0x8000ull
#define T_ISR           0x9000ull   /* interrupt handlers */
#define T_AP_CODE       0x10000ull  /* real-mode AP entry (SIPI vector 0x10) */
#define T_MMIO_DONE     0x90000ull  /* not RAM: a write here ends the run */
#define T_MMIO_TEST     0x98000ull  /* not RAM: MMIO under test */

#define T_SEL_CODE32    0x08
#define T_SEL_CODE64    0x10
#define T_SEL_DATA      0x18
#define T_SEL_TSS       0x20

enum t_mode { T_REAL, T_PROT32, T_LONG64 };

struct t_access {
	bool pio, is_write;
	uint64_t addr;
	unsigned size;
	uint64_t data;
};

#define T_MAX_ACCESS 16384

struct t_host {
	struct accel_host host;
	const struct accel_ops *ops;
	struct accel_vm *vm;
	struct guest_ram_region ram[2];
	int memfd;
	uint8_t *mem; /* whole memfd: RAM0 then RAM1 */
	atomic_int stop;       /* 0, or enum accel_stop_reason + 1 */
	atomic_bool done;      /* the guest wrote T_MMIO_DONE */
	atomic_ulong exits;    /* PIO/MMIO callbacks seen */
	atomic_bool count_only; /* benchmarks: count, do not record */
	uint32_t pio_in_value; /* what a port read returns (low bytes first) */
	bool pio_in_seq;       /* port reads return 0, 1, 2... instead */
	atomic_uint in_seq;
	pthread_mutex_t lock;
	struct t_access acc[T_MAX_ACCESS];
	unsigned nacc;
	char errlog[2048];     /* ACCEL_LOG_ERROR lines from the module */
};

/* Module loading: NULL with a message on failure. */
const struct accel_ops *t_load_module(const char *path, char *why, size_t why_len);

int t_host_init(struct t_host *t, const struct accel_ops *ops, unsigned ncpus);
void t_host_destroy(struct t_host *t);
void *t_gpa(struct t_host *t, uint64_t gpa);
/* Copy guest code to T_CODE. */
void t_put_code(struct t_host *t, const uint8_t *code, size_t len);
/* GDT, page tables, IDT base; a boot state starting at T_CODE in `mode`. */
void t_boot_state(struct t_host *t, enum t_mode mode, struct cpu_boot_state *st);
/* Long mode: a 64-bit interrupt gate for vec, and its handler at T_ISR. */
void t_idt_set(struct t_host *t, unsigned vec, uint64_t handler);
/* Handler that increments T_COUNTER and EOIs the LAPIC; returns its size. */
size_t t_put_isr(struct t_host *t, uint64_t gpa);
/* Long mode: move rip, rsp, rsi, rdi, rbx to their T_HIGH aliases. */
void t_boot_state_high(struct cpu_boot_state *st);

struct t_run_result {
	int ret;        /* run()'s return */
	bool timed_out; /* the watchdog had to kick */
	uint64_t ns;    /* wall time in run() */
};

/* run() with a watchdog: after timeout_ms it requests a stop and kicks. */
struct t_run_result t_run(struct t_host *t, struct accel_vcpu *vcpu, unsigned timeout_ms);
uint64_t t_now_ns(void);

/* Accesses matching pio/addr (recorded order); returns the count. */
unsigned t_find(struct t_host *t, bool pio, uint64_t addr, struct t_access *out, unsigned max);

/* A tiny assembler: bytes in a buffer, encodings per mode. */
struct t_asm {
	uint8_t b[8192];
	size_t n;
	enum t_mode mode;
};

void a_bytes(struct t_asm *a, const uint8_t *p, size_t n);
void a_u8(struct t_asm *a, uint8_t v);
void a_u16(struct t_asm *a, uint16_t v);
void a_u32(struct t_asm *a, uint32_t v);
/* Operand-size prefix for a 16-bit (size 2) or 32-bit (size 4) operation. */
void a_opsize(struct t_asm *a, unsigned size);
void a_mov_dx(struct t_asm *a, uint16_t port);
void a_mov_eax(struct t_asm *a, uint32_t v);
void a_mov_ecx(struct t_asm *a, uint32_t v);
void a_out_dx(struct t_asm *a, unsigned size);
void a_out_imm(struct t_asm *a, uint8_t port, unsigned size);
void a_in_dx(struct t_asm *a, unsigned size);
void a_in_imm(struct t_asm *a, uint8_t port, unsigned size);
/* rep outs/ins from [rsi]/to [rdi] (set up in the boot state), count in ecx. */
void a_rep_outs(struct t_asm *a, unsigned size);
void a_rep_ins(struct t_asm *a, unsigned size);
/* mov [rdi], rax (eax, or [di] in real mode): store a result to T_DATA. */
void a_store_eax_rdi(struct t_asm *a);
/* mov [rbx], al: a write to T_MMIO_DONE (rbx preset) ends the run. */
void a_done(struct t_asm *a);
void a_hlt_loop(struct t_asm *a);
/* Long mode: mov dword [addr], v through eax (clobbers eax). */
void a_mov_mem32(struct t_asm *a, uint32_t addr, uint32_t v);
void a_inc_eax(struct t_asm *a);
void a_dec_ecx(struct t_asm *a);
/* jnz to an offset in the buffer (within 128 bytes back). */
void a_jnz(struct t_asm *a, size_t target);

/* Fork isolation: the child runs fn and reports; a hung child is killed. */
enum t_outcome { T_PASS, T_FAIL, T_SKIP, T_HANG };

struct t_case {
	const char *module;
	const struct accel_ops *ops;
	bool limited;        /* probe said ACCEL_PROBE_LIMITED */
	int msg_fd;          /* child side of the message pipe */
	void *arg;
};

enum t_outcome t_isolate(void (*fn)(struct t_case *c), struct t_case *c,
			 unsigned timeout_ms, char *msg, size_t msg_len);

/* In a child: report and exit. */
__attribute__((noreturn, format(printf, 3, 4)))
void t_exit(struct t_case *c, enum t_outcome o, const char *fmt, ...);

/* In a child: a VM with ncpus vCPUs (skips if KVM refuses), a vCPU. */
struct t_host *t_vm(struct t_case *c, unsigned ncpus);
struct accel_vcpu *t_vcpu(struct t_case *c, struct t_host *t, unsigned index,
			  const struct cpu_boot_state *st);

#define T_REQUIRE(c, cond, ...)                                   \
	do {                                                      \
		if (!(cond))                                      \
			t_exit((c), T_FAIL, __VA_ARGS__);         \
	} while (0)

#endif
