/*
 * The benchmark's guest workload: realistic mixed integer code (sorting,
 * hashing, CRC, a toy LZ compressor, string scans). Built with
 * -mgeneral-regs-only so it stays within the instructions the interpreter
 * implements; called natively and run in the interpreter at the same address.
 */
#include <stddef.h>
#include <stdint.h>

#include "bench.h"

static void sort_u32(uint32_t *a, size_t n)
{
	/* shell sort: compares, branches, indexed loads and stores */
	for (size_t gap = n / 2; gap; gap /= 2)
		for (size_t i = gap; i < n; i++) {
			uint32_t v = a[i];
			size_t j = i;

			for (; j >= gap && a[j - gap] > v; j -= gap)
				a[j] = a[j - gap];
			a[j] = v;
		}
}

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

static uint32_t crc32_bitwise(const uint8_t *p, size_t n)
{
	uint32_t c = ~0u;

	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
	}
	return ~c;
}

/* A toy LZ77: greedy matches through a small hash table. */
static size_t lz_compress(const uint8_t *in, size_t n, uint8_t *out, uint32_t *table)
{
	size_t i = 0, o = 0;

	for (unsigned k = 0; k < 4096; k++)
		table[k] = 0;
	while (i + 4 <= n) {
		uint32_t w = (uint32_t)in[i] | (uint32_t)in[i + 1] << 8 | (uint32_t)in[i + 2] << 16;
		uint32_t h = (w * 2654435761u) >> 20;
		size_t cand = table[h], len = 0;

		table[h] = (uint32_t)i;
		while (cand < i && i + len < n && len < 255 && in[cand + len] == in[i + len])
			len++;
		if (len >= 4) {
			out[o++] = 0xff;
			out[o++] = (uint8_t)len;
			out[o++] = (uint8_t)(i - cand);
			i += len;
		} else {
			out[o++] = in[i++];
		}
	}
	while (i < n)
		out[o++] = in[i++];
	return o;
}

static size_t count_words(const char *s, size_t n)
{
	size_t words = 0;
	int in = 0;

	for (size_t i = 0; i < n; i++) {
		int sp = s[i] == ' ' || s[i] == '\n';

		words += !sp && !in;
		in = !sp;
	}
	return words;
}

uint64_t bench_work(uint8_t *buf, size_t n, unsigned iters)
{
	uint32_t *arr = (uint32_t *)(void *)(buf + n);
	uint32_t *table = arr + 2048;
	uint8_t *out = (uint8_t *)(table + 4096);
	uint64_t sum = 0, seed = 1;

	for (unsigned it = 0; it < iters; it++) {
		for (size_t k = 0; k < n; k++) {
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			buf[k] = (uint8_t)("the quick brown fox jumps over "[(seed >> 33) % 31]);
		}
		for (size_t k = 0; k < 2048; k++)
			arr[k] = (uint32_t)(fnv1a(buf + (k % (n - 16)), 16));
		sort_u32(arr, 2048);
		sum += arr[0] ^ arr[2047];
		sum += fnv1a(buf, n);
		sum += crc32_bitwise(buf, n);
		sum += lz_compress(buf, n, out, table);
		sum += count_words((const char *)buf, n);
	}
	return sum;
}
