/*
 * Helpers shared by the benchmark parts (bench_*.c). Everything here is
 * built like the parts themselves: integer only, no library calls, so that
 * the interpreter can run it with nothing but the executable, the arena and
 * a stack mapped.
 */
#ifndef CPU_BENCH_WORK_H
#define CPU_BENCH_WORK_H

#include "bench.h"

/* A small deterministic generator (xorshift with a multiplier), for setup. */
struct bench_rng {
	uint64_t s;
};

static inline uint64_t rng_next(struct bench_rng *g)
{
	g->s ^= g->s >> 12;
	g->s ^= g->s << 25;
	g->s ^= g->s >> 27;
	return g->s * 0x2545f4914f6cdd1dull;
}

static inline uint32_t rng_below(struct bench_rng *g, uint32_t n)
{
	return (uint32_t)((rng_next(g) >> 32) * n >> 32);
}

/* n bytes of text-like input: words, numbers, punctuation, lines. */
void bench_text(uint8_t *out, size_t n, uint64_t seed);

/* A 64-bit FNV-1a over n bytes, continuing from h (start: BENCH_FNV0). */
#define BENCH_FNV0 0xcbf29ce484222325ull
uint64_t bench_fnv(uint64_t h, const void *p, size_t n);

void bench_lz_setup(uint8_t *arena);
uint64_t bench_lz_run(uint8_t *arena);
void bench_hash_setup(uint8_t *arena);
uint64_t bench_hash_run(uint8_t *arena);
void bench_sort_setup(uint8_t *arena);
uint64_t bench_sort_run(uint8_t *arena);
void bench_str_setup(uint8_t *arena);
uint64_t bench_str_run(uint8_t *arena);

#endif
