/*
 * Interpreter benchmark: each workload part (bench_work.c) runs natively and
 * then in the interpreter, its code, arena and stack mapped 1:1 as guest
 * RAM. Both runs start from the same inputs (setup is native) and must
 * return the same checksum. Prints per part and in total: guest
 * instructions, guest MIPS, native time and the slowdown against native.
 * Times are the best of several runs (the machines are shared and noisy).
 *
 *   cpu-bench [-r runs] [-p part] [-q quantum] [-n]
 *
 * -n runs the parts natively only: under `valgrind --tool=callgrind` that
 * counts the instructions independently of the interpreter's own count.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "accel/emu/emu.h"
#include "bench.h"

#define STACK_BYTES (1u << 20)

struct bench_env {
	uint8_t *arena, *stack;
	struct guest_ram_region ram[3];
	struct emu_mem mem;
	struct emu_cpu *cpu;
	uint64_t quantum; /* instructions per emu_run call, as a VMM would slice */
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The span of the mappings of the executable holding fn (code and data). */
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

static int env_init(struct bench_env *e)
{
	uintptr_t lo, hi;

	e->arena = map(BENCH_ARENA_BYTES);
	e->stack = map(STACK_BYTES);
	e->cpu = calloc(1, sizeof(*e->cpu));
	if (!e->arena || !e->stack || !e->cpu ||
	    text_range((uintptr_t)bench_parts[0].run, &lo, &hi))
		return -1;
	e->ram[0] = (struct guest_ram_region){ gpa(lo), hi - lo, (uint8_t *)lo, -1, 0 };
	e->ram[1] = (struct guest_ram_region){ gpa((uintptr_t)e->arena), BENCH_ARENA_BYTES,
					       e->arena, -1, 0 };
	e->ram[2] = (struct guest_ram_region){ gpa((uintptr_t)e->stack), STACK_BYTES,
					       e->stack, -1, 0 };
	e->mem = (struct emu_mem){ .ram = e->ram, .nram = 3 };
	return emu_cpu_init(e->cpu, &e->mem);
}

/* One interpreted call of fn(arena); returns the exit reason. */
static int run_emu(struct bench_env *e, uint64_t (*fn)(uint8_t *), uint64_t *ret)
{
	struct emu_cpu *cpu = e->cpu;
	uint64_t sp = (uintptr_t)e->stack + STACK_BYTES - 64;
	int rc;

	/* the return address: a HLT byte at the bottom of the stack mapping */
	e->stack[0] = 0xf4;
	memcpy((void *)(uintptr_t)sp, &(uint64_t){ (uintptr_t)e->stack }, 8);
	cpu->r[4] = sp;
	cpu->r[7] = (uintptr_t)e->arena;
	cpu->r[EMU_RIP] = (uintptr_t)fn;
	do
		rc = emu_run(cpu, e->quantum);
	while (rc == EMU_EXIT_NONE);
	*ret = cpu->r[0];
	return rc;
}

struct result {
	double native, emu;
	uint64_t insns;
};

static int bench_part(struct bench_env *e, const struct bench_part *p, unsigned runs,
		      struct result *res)
{
	uint64_t want = 0, got = 0;

	res->native = res->emu = 1e30;
	for (unsigned r = 0; r < runs; r++) {
		double t;

		p->setup(e->arena);
		t = now();
		want = p->run(e->arena);
		t = now() - t;
		if (t < res->native)
			res->native = t;
	}
	for (unsigned r = 0; r < runs; r++) {
		uint64_t n0 = e->cpu->icount;
		double t;
		int rc;

		p->setup(e->arena);
		t = now();
		rc = run_emu(e, p->run, &got);
		t = now() - t;
		if (rc != EMU_EXIT_HLT || got != want) {
			fprintf(stderr, "cpu-bench: %s: guest failed: exit %d vector %u at %#" PRIx64
				", checksum %#" PRIx64 ", native %#" PRIx64 "\n", p->name, rc,
				e->cpu->exc.vector, e->cpu->r[EMU_RIP], got, want);
			return -1;
		}
		res->insns = e->cpu->icount - n0;
		if (t < res->emu)
			res->emu = t;
	}
	return 0;
}

static void print_row(const char *name, const struct result *r)
{
	printf("%-8s %10.1f %8.0f %10.2f %10.3f %9.1fx\n", name, (double)r->insns / 1e6,
	       (double)r->insns / r->emu / 1e6, r->native * 1e3, r->emu, r->emu / r->native);
}

int main(int argc, char **argv)
{
	struct bench_env env = { .quantum = 1u << 20 };
	struct result total = { 0 }, res;
	const char *only = NULL;
	unsigned runs = 3;
	bool native_only = false;
	int c;

	while ((c = getopt(argc, argv, "r:p:q:n")) != -1) {
		if (c == 'n')
			native_only = true;
		else if (c == 'r')
			runs = (unsigned)atoi(optarg);
		else if (c == 'p')
			only = optarg;
		else if (c == 'q')
			env.quantum = strtoull(optarg, NULL, 0);
		else
			return 2;
	}
	if (!runs || !env.quantum || env_init(&env)) {
		fprintf(stderr, "cpu-bench: setup failed\n");
		return 1;
	}
	printf("%-8s %10s %8s %10s %10s %10s\n", "part", "M insns", "MIPS", "native ms",
	       "emu s", "slowdown");
	for (unsigned k = 0; k < bench_nparts; k++) {
		const struct bench_part *p = &bench_parts[k];

		if (only && strcmp(only, p->name))
			continue;
		if (native_only) {
			p->setup(env.arena);
			printf("%-8s checksum %#" PRIx64 "\n", p->name, p->run(env.arena));
			continue;
		}
		if (bench_part(&env, p, runs, &res))
			return 1;
		print_row(p->name, &res);
		total.insns += res.insns;
		total.native += res.native;
		total.emu += res.emu;
	}
	if (native_only)
		return 0;
	print_row("total", &total);
	printf("cpu-bench: %.0f MIPS, %.1fx slower than native (best of %u runs)\n",
	       (double)total.insns / total.emu / 1e6, total.emu / total.native, runs);
	emu_cpu_fini(env.cpu);
	return 0;
}
