/*
 * Interpreter micro-benchmark: bench_work() run natively, then in the
 * interpreter (its code, data and stack mapped at their host addresses),
 * printing guest MIPS and the slowdown against native in the same run.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "accel/emu/emu.h"
#include "bench.h"

#define DATA_N 16384
#define DATA_BYTES (1u << 20)
#define STACK_BYTES (1u << 20)

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The span of the mappings of the executable holding fn (code and rodata). */
static int text_range(uintptr_t fn, uintptr_t *lo, uintptr_t *hi)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512], path[256] = "", p[256];
	unsigned long a, b;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %255s", &a, &b, p) == 3 &&
		    fn >= a && fn < b)
			strcpy(path, p);
	*lo = ~0ul;
	*hi = 0;
	rewind(f);
	while (path[0] && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %255s", &a, &b, p) != 3 || strcmp(p, path))
			continue;
		if (a < *lo)
			*lo = a;
		if (b > *hi)
			*hi = b;
	}
	fclose(f);
	return path[0] ? 0 : -1;
}

static void *map(size_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

int main(int argc, char **argv)
{
	unsigned iters = argc > 1 ? (unsigned)atoi(argv[1]) : 20;
	uint8_t *data = map(DATA_BYTES), *stack = map(STACK_BYTES);
	struct guest_ram_region ram[3];
	struct emu_mem mem;
	struct emu_cpu *cpu = calloc(1, sizeof(*cpu));
	uintptr_t lo, hi;
	uint64_t want, got, sp;
	double t0, tn, te;
	int rc;

	if (!data || !stack || !cpu || text_range((uintptr_t)bench_work, &lo, &hi)) {
		fprintf(stderr, "cpu-bench: setup failed\n");
		return 1;
	}
	t0 = now();
	want = bench_work(data, DATA_N, iters);
	tn = now() - t0;

	ram[0] = (struct guest_ram_region){ gpa(lo), hi - lo, (uint8_t *)lo, -1, 0 };
	ram[1] = (struct guest_ram_region){ gpa((uintptr_t)data), DATA_BYTES, data, -1, 0 };
	ram[2] = (struct guest_ram_region){ gpa((uintptr_t)stack), STACK_BYTES, stack, -1, 0 };
	mem = (struct emu_mem){ .ram = ram, .nram = 3 };
	if (emu_cpu_init(cpu, &mem)) {
		fprintf(stderr, "cpu-bench: emu init failed\n");
		return 1;
	}
	/* return address: a HLT byte at the bottom of the stack mapping */
	stack[0] = 0xf4;
	sp = (uintptr_t)stack + STACK_BYTES - 64;
	memcpy((void *)(uintptr_t)sp, &(uint64_t){ (uintptr_t)stack }, 8);
	cpu->r[4] = sp;
	cpu->r[7] = (uintptr_t)data;
	cpu->r[6] = DATA_N;
	cpu->r[2] = iters;
	cpu->r[EMU_RIP] = (uintptr_t)bench_work;
	t0 = now();
	do
		rc = emu_run(cpu, 1ull << 40);
	while (rc == EMU_EXIT_NONE);
	te = now() - t0;
	got = cpu->r[0];
	if (rc != EMU_EXIT_HLT || got != want) {
		fprintf(stderr, "cpu-bench: guest failed: exit %d vector %u at %#" PRIx64
			", result %#" PRIx64 " want %#" PRIx64 "\n", rc, cpu->exc.vector,
			cpu->r[EMU_RIP], got, want);
		return 1;
	}
	printf("cpu-bench: %.1f M guest instructions in %.3f s: %.0f MIPS; "
	       "native %.4f s, slowdown %.1fx\n", (double)cpu->icount / 1e6, te,
	       (double)cpu->icount / te / 1e6, tn, te / tn);
	emu_cpu_fini(cpu);
	return 0;
}
