/*
 * Cross-modifying code between vCPUs sharing a code map (codemap.h): vCPU A
 * runs a loop whose MOV EAX, imm32 vCPU B patches; the first run of A that
 * starts after B's store is done must execute the new immediate. Regression
 * for issue 4's SMP hang: a vCPU kept executing an INT3 from its decode
 * cache after another vCPU's text_poke_bp had put the instruction back.
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "accel/emu/emu.h"

#define RAM_SIZE (8u << 20)
#define A_CODE 0x1000u /* loop: mov eax, imm32; jmp loop */
#define B_CODE 0x3000u
#define FLAG 0x5000u
#define CHAIN 0x100000u /* test_behind_full_ring: a page per jmp */
#define CHAIN_PAGES 1100u /* more events than the ring holds */
#define OLD 0x11111111u
#define NEW 0x22222222u
#define SLICE 1000u
#define MAX_RUNS 200000u /* ~200 M instructions: a stuck test fails instead of hanging */

struct vcpu {
	struct emu_mem mem;
	struct emu_cpu cpu;
	pthread_t thread;
	int exit;
	atomic_bool ran_old;   /* A: has executed the loop as first decoded */
	atomic_bool *b_done;   /* A: B's store is done, next run must see it */
	uint32_t eax_after;    /* A: EAX after the first run started past b_done */
};

static uint8_t *ram;
static struct guest_ram_region region;
static struct emu_codemap *cm;

/* Long mode without paging (system mode off): linear = physical. */
static void vcpu_init(struct vcpu *v, unsigned index, uint64_t rip)
{
	memset(v, 0, sizeof(*v));
	v->mem = (struct emu_mem){ .ram = &region, .nram = 1, .code = cm };
	assert_int_equal(emu_cpu_init(&v->cpu, &v->mem), 0);
	emu_codemap_attach(cm, index, &v->cpu);
	v->cpu.r[EMU_RIP] = rip;
}

static void vcpu_fini(struct vcpu *v, unsigned index)
{
	emu_codemap_detach(cm, index);
	emu_cpu_fini(&v->cpu);
}

static uint32_t eax(const struct vcpu *v)
{
	return (uint32_t)v->cpu.r[0];
}

static void put(uint32_t *at, unsigned count, ...)
{
	va_list ap;

	va_start(ap, count);
	for (unsigned k = 0; k < count; k++)
		ram[(*at)++] = (uint8_t)va_arg(ap, int);
	va_end(ap);
}

static void put32(uint32_t *at, uint32_t v)
{
	put(at, 4, v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >> 24);
}

/* mov dword [A_CODE + 1], imm (the loop's immediate) */
static void emit_patch(uint32_t *at, uint32_t imm)
{
	put(at, 3, 0xc7, 0x04, 0x25);
	put32(at, A_CODE + 1);
	put32(at, imm);
}

static void emit_a_loop(void)
{
	uint32_t at = A_CODE;

	put(&at, 1, 0xb8);
	put32(&at, OLD);
	put(&at, 2, 0xeb, (uint8_t)(A_CODE - (at + 2)));
}

static int setup(void **state)
{
	(void)state;
	ram = aligned_alloc(4096, RAM_SIZE);
	assert_non_null(ram);
	memset(ram, 0, RAM_SIZE);
	region = (struct guest_ram_region){ .base = { 0 }, .size = RAM_SIZE, .hva = ram, .fd = -1 };
	assert_int_equal(emu_codemap_create(&cm, &region, 1, 2), 0);
	emit_a_loop();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	emu_codemap_destroy(cm);
	free(ram);
	return 0;
}

/* A: slices of the loop until the first one started after B was done. */
/* Runs v until HLT: another vCPU's post may end a run early. */
static int run_to_hlt(struct vcpu *v, uint64_t budget)
{
	int exit = EMU_EXIT_NONE;

	for (unsigned n = 0; n < 10 && exit == EMU_EXIT_NONE; n++)
		exit = emu_run(&v->cpu, budget);
	return exit;
}

static void *a_main(void *arg)
{
	struct vcpu *a = arg;

	for (unsigned n = 0; n < MAX_RUNS; n++) {
		bool last = atomic_load(a->b_done);

		a->exit = emu_run(&a->cpu, SLICE);
		if (a->exit != EMU_EXIT_NONE)
			break;
		if (eax(a) == OLD)
			atomic_store(&a->ran_old, true);
		if (last) {
			a->eax_after = eax(a);
			break;
		}
	}
	return NULL;
}

static void *b_main(void *arg)
{
	struct vcpu *b = arg;
	unsigned n = 0;

	do
		b->exit = emu_run(&b->cpu, SLICE);
	while (b->exit == EMU_EXIT_NONE && ++n < MAX_RUNS);
	return NULL;
}

static void start_a(struct vcpu *a, atomic_bool *b_done)
{
	vcpu_init(a, 0, A_CODE);
	a->b_done = b_done;
	assert_int_equal(pthread_create(&a->thread, NULL, a_main, a), 0);
	while (!atomic_load(&a->ran_old))
		sched_yield(); /* A has decoded the loop and runs it */
}

static void finish_a(struct vcpu *a, atomic_bool *b_done)
{
	atomic_store(b_done, true);
	pthread_join(a->thread, NULL);
	assert_int_equal(a->exit, EMU_EXIT_NONE);
	assert_int_equal(a->eax_after, NEW);
	vcpu_fini(a, 0);
}

/* B stores into the page A runs from (the store misses B's TLB). */
static void test_store_reaches_running_vcpu(void **state)
{
	atomic_bool b_done = false;
	struct vcpu a, b;
	uint32_t at = B_CODE;

	(void)state;
	emit_patch(&at, NEW);
	put(&at, 1, 0xf4);
	start_a(&a, &b_done);
	vcpu_init(&b, 1, B_CODE);
	assert_int_equal(run_to_hlt(&b, SLICE), EMU_EXIT_HLT);
	finish_a(&a, &b_done);
	vcpu_fini(&b, 1);
}

/*
 * B holds a write tag for A's page from before A decoded it (a store of the
 * same value), spins on FLAG while A starts, then patches through its TLB:
 * A's first decode must have taken that tag away.
 */
static void test_write_tag_from_before_decode(void **state)
{
	atomic_bool b_done = false;
	struct vcpu a, b;
	uint32_t at = B_CODE, spin;

	(void)state;
	emit_patch(&at, OLD);
	spin = at;
	put(&at, 3, 0x83, 0x3c, 0x25); /* cmp dword [FLAG], 0 */
	put32(&at, FLAG);
	put(&at, 1, 0);
	put(&at, 2, 0x74, (uint8_t)(spin - (at + 2))); /* je spin */
	emit_patch(&at, NEW);
	put(&at, 1, 0xf4);
	vcpu_init(&b, 1, B_CODE);
	assert_int_equal(emu_run(&b.cpu, 100), EMU_EXIT_NONE); /* stored OLD, spinning */
	assert_int_equal(pthread_create(&b.thread, NULL, b_main, &b), 0);
	start_a(&a, &b_done);
	__atomic_store_n((uint32_t *)(ram + FLAG), 1, __ATOMIC_SEQ_CST);
	pthread_join(b.thread, NULL);
	assert_int_equal(b.exit, EMU_EXIT_HLT);
	finish_a(&a, &b_done);
	vcpu_fini(&b, 1);
}

/* A does not run while B decodes more fresh pages than the ring holds,
 * then patches A's loop: A, a ring behind, must start over. */
static void test_behind_full_ring(void **state)
{
	struct vcpu a, b;
	uint32_t at = CHAIN;

	(void)state;
	for (unsigned k = 0; k < CHAIN_PAGES; k++, at = CHAIN + k * 4096u) {
		put(&at, 1, 0xe9); /* jmp to the next page */
		put32(&at, 4096u - 5);
	}
	emit_patch(&at, NEW);
	put(&at, 1, 0xf4);
	vcpu_init(&a, 0, A_CODE);
	vcpu_init(&b, 1, CHAIN);
	assert_int_equal(emu_run(&a.cpu, SLICE), EMU_EXIT_NONE);
	assert_int_equal(eax(&a), OLD);
	assert_int_equal(run_to_hlt(&b, 10 * CHAIN_PAGES), EMU_EXIT_HLT);
	assert_int_equal(emu_run(&a.cpu, SLICE), EMU_EXIT_NONE);
	assert_int_equal(eax(&a), NEW);
	vcpu_fini(&a, 0);
	vcpu_fini(&b, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_store_reaches_running_vcpu, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_tag_from_before_decode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_behind_full_ring, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
