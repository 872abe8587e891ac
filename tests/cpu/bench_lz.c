/*
 * Benchmark part "lz77": a byte-oriented LZ77 compressor (hash chains over a
 * 64 KiB window, greedy matching) and its decompressor, round trip on 1 MiB
 * of text with binary stretches.
 *
 * Format: a control byte c < 0x80 is followed by c + 1 literal bytes;
 * c >= 0x80 is a match of (c & 0x7f) + LZ_MIN bytes at a 16-bit
 * little-endian distance that follows.
 */
#include "bench_work.h"

#define LZ_IN_BYTES (1u << 20)
#define LZ_MIN 3
#define LZ_MAX (0x7f + LZ_MIN)
#define LZ_WIN (1u << 16)
#define LZ_HBITS 15
#define LZ_DEPTH 12
#define LZ_NONE 0xffffffffu

/* Arena layout. */
struct lz_area {
	uint8_t in[LZ_IN_BYTES];
	uint8_t packed[LZ_IN_BYTES + LZ_IN_BYTES / 64 + 64];
	uint8_t back[LZ_IN_BYTES];
	uint32_t head[1u << LZ_HBITS];
	uint32_t prev[LZ_WIN];
};

static uint32_t lz_hash(const uint8_t *p)
{
	uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16;

	return (v * 0x9e3779b1u) >> (32 - LZ_HBITS);
}

static size_t put_literals(uint8_t *out, size_t o, const uint8_t *lit, size_t n)
{
	while (n) {
		size_t k = n > 128 ? 128 : n;

		out[o++] = (uint8_t)(k - 1);
		for (size_t j = 0; j < k; j++)
			out[o++] = lit[j];
		lit += k;
		n -= k;
	}
	return o;
}

static void insert(struct lz_area *a, size_t pos)
{
	uint32_t h = lz_hash(a->in + pos);

	a->prev[pos & (LZ_WIN - 1)] = a->head[h];
	a->head[h] = (uint32_t)pos;
}

/* The longest earlier match for position i, *dist its distance. */
static size_t longest(const struct lz_area *a, size_t i, size_t n, size_t *dist)
{
	uint32_t cand = a->head[lz_hash(a->in + i)];
	size_t limit = n - i < LZ_MAX ? n - i : LZ_MAX, best = 0;

	for (unsigned d = 0; d < LZ_DEPTH && cand != LZ_NONE && i - cand < LZ_WIN; d++) {
		const uint8_t *p = a->in + cand, *q = a->in + i;
		size_t len = 0;

		while (len < limit && p[len] == q[len])
			len++;
		if (len > best) {
			best = len;
			*dist = i - cand;
			if (len == limit)
				break;
		}
		cand = a->prev[cand & (LZ_WIN - 1)];
	}
	return best;
}

static size_t lz_pack(struct lz_area *a, size_t n)
{
	size_t i = 0, o = 0, lit = 0;

	for (size_t k = 0; k < (1u << LZ_HBITS); k++)
		a->head[k] = LZ_NONE;
	while (i + LZ_MIN <= n) {
		size_t dist = 0, len = longest(a, i, n, &dist);

		if (len < LZ_MIN) {
			insert(a, i);
			lit++;
			i++;
			continue;
		}
		o = put_literals(a->packed, o, a->in + i - lit, lit);
		lit = 0;
		a->packed[o++] = (uint8_t)(0x80 | (len - LZ_MIN));
		a->packed[o++] = (uint8_t)dist;
		a->packed[o++] = (uint8_t)(dist >> 8);
		for (size_t k = 0; k < len && i + k + LZ_MIN <= n; k++)
			insert(a, i + k);
		i += len;
	}
	lit += n - i;
	return put_literals(a->packed, o, a->in + n - lit, lit);
}

static size_t lz_unpack(const uint8_t *in, size_t n, uint8_t *out)
{
	size_t i = 0, o = 0;

	while (i < n) {
		unsigned c = in[i++];

		if (c < 0x80) {
			for (unsigned k = 0; k <= c; k++)
				out[o++] = in[i++];
		} else {
			size_t len = (c & 0x7f) + LZ_MIN;
			size_t dist = (size_t)in[i] | (size_t)in[i + 1] << 8;
			const uint8_t *src = out + o - dist;

			i += 2;
			/* byte by byte: source and destination may overlap */
			for (size_t k = 0; k < len; k++)
				out[o + k] = src[k];
			o += len;
		}
	}
	return o;
}

/* Index of the first differing byte, or n. */
static size_t first_diff(const uint8_t *p, const uint8_t *q, size_t n)
{
	size_t i = 0;

	while (i + 8 <= n) {
		uint64_t x, y;

		__builtin_memcpy(&x, p + i, 8);
		__builtin_memcpy(&y, q + i, 8);
		if (x != y)
			break;
		i += 8;
	}
	while (i < n && p[i] == q[i])
		i++;
	return i;
}

void bench_lz_setup(uint8_t *arena)
{
	struct lz_area *a = (struct lz_area *)(void *)arena;
	struct bench_rng g = { 0x5eed1234 };

	bench_text(a->in, LZ_IN_BYTES, 77);
	/* a few stretches of incompressible bytes and of long runs */
	for (unsigned s = 0; s < 16; s++) {
		size_t at = rng_below(&g, LZ_IN_BYTES - 8192);

		for (size_t k = 0; k < 4096; k++)
			a->in[at + k] = (uint8_t)(s & 1 ? rng_next(&g) : 'z');
	}
}

uint64_t bench_lz_run(uint8_t *arena)
{
	struct lz_area *a = (struct lz_area *)(void *)arena;
	size_t packed = lz_pack(a, LZ_IN_BYTES);
	size_t unpacked = lz_unpack(a->packed, packed, a->back);
	size_t diff = first_diff(a->in, a->back, LZ_IN_BYTES);

	return bench_fnv(BENCH_FNV0, a->packed, packed) ^ (uint64_t)packed << 32 ^
	       (uint64_t)unpacked << 8 ^ diff;
}
