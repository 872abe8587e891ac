/*
 * The interpreter benchmark's workload: parts that bench.c runs natively and
 * in the interpreter on the same inputs, comparing their checksums.
 */
#ifndef CPU_BENCH_H
#define CPU_BENCH_H

#include <stddef.h>
#include <stdint.h>

/* Every part works inside one arena of this size (inputs, outputs, tables). */
#define BENCH_ARENA_BYTES (48u << 20)

struct bench_part {
	const char *name;
	void (*setup)(uint8_t *arena);   /* writes the inputs; run natively only */
	uint64_t (*run)(uint8_t *arena); /* the measured code; returns a checksum */
};

extern const struct bench_part bench_parts[];
extern const unsigned bench_nparts;

#endif
