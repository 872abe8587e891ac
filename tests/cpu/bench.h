/* The interpreter benchmark's workload. */
#ifndef CPU_BENCH_H
#define CPU_BENCH_H

#include <stddef.h>
#include <stdint.h>

/* buf: n bytes of text, then room for 2048 + 4096 words and 2n bytes. */
uint64_t bench_work(uint8_t *buf, size_t n, unsigned iters);

#endif
