/*
 * LOCK semantics between threads sharing guest RAM, the way vCPUs of the
 * emu accelerator share it. Regression for the secondary-CPU bring-up hang
 * of issue 4: a failing LOCK CMPXCHG stored the old value back with a plain
 * store, undoing a concurrent spinlock release (Linux's TSC warp check then
 * spun forever on both CPUs).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "accel/emu/emu.h"

#define RAM_SIZE (1u << 20)
#define CODE 0x1000u
#define LOCK_WORD 0x2000u
#define COUNTER 0x2040u
/* ~10 ms of interpreter time per CPU: long enough to overlap another thread. */
#define ITERS 2000000u
/* A CPU that has not halted after this many instructions is stuck. */
#define MAX_INSNS 400000000ull

struct vcpu {
	struct emu_mem mem;
	struct emu_cpu cpu;
	pthread_t thread;
	int exit;
	atomic_bool *done;
};

static uint8_t *ram;
static struct guest_ram_region region;

/* Long mode without paging (system mode off): linear = physical. */
static void vcpu_init(struct vcpu *v, atomic_bool *done)
{
	v->mem = (struct emu_mem){ .ram = &region, .nram = 1 };
	assert_int_equal(emu_cpu_init(&v->cpu, &v->mem), 0);
	v->cpu.r[EMU_RIP] = CODE;
	v->done = done;
}

static void *vcpu_main(void *arg)
{
	struct vcpu *v = arg;
	uint64_t n = 0;

	do
		v->exit = emu_run(&v->cpu, 100000);
	while (v->exit == EMU_EXIT_NONE && (n += 100000) < MAX_INSNS);
	if (v->done)
		atomic_store(v->done, true);
	return NULL;
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

static uint32_t rd32(uint32_t a)
{
	uint32_t v;

	memcpy(&v, ram + a, 4);
	return v;
}

static int setup(void **state)
{
	(void)state;
	ram = aligned_alloc(4096, RAM_SIZE);
	assert_non_null(ram);
	memset(ram, 0, RAM_SIZE);
	region = (struct guest_ram_region){ .base = { 0 }, .size = RAM_SIZE, .hva = ram, .fd = -1 };
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(ram);
	return 0;
}

/* mov ecx, n; loop: xor eax, eax; mov edx, 1; lock cmpxchg [LOCK_WORD], edx;
 * <body>; dec ecx; jnz loop; hlt. body_fn emits what follows the CMPXCHG. */
static void emit_loop(uint32_t n, void (*body)(uint32_t *at, uint32_t loop))
{
	uint32_t at = CODE, loop;

	put(&at, 1, 0xb9);
	put32(&at, n);
	loop = at;
	put(&at, 2, 0x31, 0xc0);
	put(&at, 5, 0xba, 1, 0, 0, 0);
	put(&at, 5, 0xf0, 0x0f, 0xb1, 0x14, 0x25);
	put32(&at, LOCK_WORD);
	body(&at, loop);
	put(&at, 2, 0xff, 0xc9);
	put(&at, 2, 0x75, (uint8_t)(loop - (at + 2)));
	put(&at, 1, 0xf4);
}

static void no_body(uint32_t *at, uint32_t loop)
{
	(void)at;
	(void)loop;
}

/* The lock word never reads 0 (it starts at 1 and only grows), so every
 * CMPXCHG fails, while a host thread increments it atomically: no
 * increment may be lost. */
static void test_failing_cmpxchg_stores_nothing(void **state)
{
	atomic_bool done = false;
	struct vcpu v;
	uint64_t adds = 0;

	(void)state;
	emit_loop(ITERS, no_body);
	ram[LOCK_WORD] = 1;
	vcpu_init(&v, &done);
	assert_int_equal(pthread_create(&v.thread, NULL, vcpu_main, &v), 0);
	while (!atomic_load(&done)) {
		__atomic_fetch_add((uint32_t *)(ram + LOCK_WORD), 1, __ATOMIC_SEQ_CST);
		adds++;
	}
	pthread_join(v.thread, NULL);
	assert_int_equal(v.exit, EMU_EXIT_HLT);
	assert_int_equal(rd32(LOCK_WORD), 1 + adds);
	emu_cpu_fini(&v.cpu);
}

/* Spinlock body: jnz loop (retry while taken); inc dword [COUNTER];
 * mov byte [LOCK_WORD], 0 (release). */
static void spinlock_body(uint32_t *at, uint32_t loop)
{
	put(at, 2, 0x75, (uint8_t)(loop - (*at + 2)));
	put(at, 3, 0xff, 0x04, 0x25);
	put32(at, COUNTER);
	put(at, 3, 0xc6, 0x04, 0x25);
	put32(at, LOCK_WORD);
	put(at, 1, 0);
}

/* Two interpreter CPUs take and release one test-and-set lock (Linux's
 * virt_spin_lock) around a plain increment: both must finish and the
 * counter must be exact. */
static void test_two_cpus_spinlock(void **state)
{
	struct vcpu v[2];

	(void)state;
	emit_loop(ITERS / 8, spinlock_body);
	for (unsigned k = 0; k < 2; k++)
		vcpu_init(&v[k], NULL);
	for (unsigned k = 0; k < 2; k++)
		assert_int_equal(pthread_create(&v[k].thread, NULL, vcpu_main, &v[k]), 0);
	for (unsigned k = 0; k < 2; k++)
		pthread_join(v[k].thread, NULL);
	for (unsigned k = 0; k < 2; k++) {
		assert_int_equal(v[k].exit, EMU_EXIT_HLT);
		emu_cpu_fini(&v[k].cpu);
	}
	assert_int_equal(rd32(LOCK_WORD), 0);
	assert_int_equal(rd32(COUNTER), 2 * (ITERS / 8));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_failing_cmpxchg_stores_nothing, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_two_cpus_spinlock, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
