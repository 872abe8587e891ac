/*
 * Fixture for the system-architecture tests: 8 MiB of memfd-backed guest
 * RAM, a long-mode machine built in it (GDT, IDT, 64-bit TSS, 4-level page
 * tables) and the CPU loaded from a boot state with system mode on.
 *
 * Layout (guest-physical = linear for the identity part):
 *   0x500 GDT: 0x10 kernel code64, 0x18 kernel data, 0x28 user data (DPL 3),
 *         0x30 user code64 (DPL 3), 0x40 TSS (16 bytes)
 *   0x1000 PML4, 0x2000 PDPT, 0x3000 PD, 0x4000 PT (first 2 MiB in 4K pages)
 *   0x6000 IDT (every gate: interrupt gate to HANDLER(v), DPL 0)
 *   0x7000 TSS: RSP0 = STACK0, IST1 = STACK_IST, no I/O bitmap (offset 0x68)
 *   0x10000 + 16 v: handler for vector v (HLT unless a test writes code)
 *   0x20000 code, 0x30000 data, 0x100000.. kernel stacks, 0x200000+ 2M pages
 */
#ifndef TESTS_UNIT_EMU_SYS_TEST_H
#define TESTS_UNIT_EMU_SYS_TEST_H

#include <stdint.h>

#include "accel/emu/emu.h"

#define RAM_SIZE (8u << 20)
#define PT_BASE 0x4000u
#define IDT_BASE 0x6000u
#define TSS_BASE 0x7000u
#define HANDLER(v) (0x10000u + 16u * (v))
#define CODE 0x20000u
#define DATA 0x30000u
#define USTACK 0x48000u
#define STACK 0x58000u
#define STACK0 0x68000u
#define STACK_IST 0x78000u

#define PTE_P 1ull
#define PTE_W 2ull
#define PTE_U 4ull
#define PTE_A 0x20ull
#define PTE_D 0x40ull
#define PTE_G 0x100ull
#define PTE_NX (1ull << 63)

struct sys_fixture {
	uint8_t *ram;
	struct guest_ram_region region;
	struct emu_mem mem;
	struct emu_cpu cpu;
	/* pio hook log */
	unsigned npio;
	uint16_t pio_port;
	uint32_t pio_val;
	unsigned pio_size;
	int pio_write;
};

/* user: start at CPL 3 (CS 0x33, SS 0x2b) instead of CPL 0. */
struct sys_fixture *sys_new(int user);
void sys_free(struct sys_fixture *f);

void put(struct sys_fixture *f, uint64_t gpa, const void *bytes, unsigned n);
uint64_t rd64(struct sys_fixture *f, uint64_t gpa);
void wr64(struct sys_fixture *f, uint64_t gpa, uint64_t v);
/* The 4K PTE of linear page va (< 2 MiB). */
uint64_t *pte(struct sys_fixture *f, uint64_t va);
/* IDT gate for vector v: handler, DPL, IST, present, trap gate. */
void set_gate(struct sys_fixture *f, unsigned v, uint64_t handler, unsigned dpl, unsigned ist,
	      int present);
/* Runs until something other than budget exhaustion (at most 100000 insns). */
int run(struct sys_fixture *f);

#endif
