/*
 * Benchmark part "hash": SHA-256 (FIPS 180-4) over 2 MiB, then a 64-bit
 * four-lane multiply-rotate hash over the same buffer (the shape of the
 * fast non-cryptographic hashes), several times with different seeds.
 */
#include "bench_work.h"

#define HASH_BYTES (2u << 20)
#define MIX_ROUNDS 12

static const uint32_t sha_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t ror32(uint32_t x, unsigned n)
{
	return (x >> n) | (x << (32 - n));
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void sha_block(uint32_t h[8], const uint8_t *p)
{
	uint32_t w[64];
	uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];

	for (unsigned t = 0; t < 16; t++)
		w[t] = be32(p + 4 * t);
	for (unsigned t = 16; t < 64; t++) {
		uint32_t s0 = ror32(w[t - 15], 7) ^ ror32(w[t - 15], 18) ^ (w[t - 15] >> 3);
		uint32_t s1 = ror32(w[t - 2], 17) ^ ror32(w[t - 2], 19) ^ (w[t - 2] >> 10);

		w[t] = w[t - 16] + s0 + w[t - 7] + s1;
	}
	for (unsigned t = 0; t < 64; t++) {
		uint32_t t1 = k + (ror32(e, 6) ^ ror32(e, 11) ^ ror32(e, 25)) +
			      ((e & f) ^ (~e & g)) + sha_k[t] + w[t];
		uint32_t t2 = (ror32(a, 2) ^ ror32(a, 13) ^ ror32(a, 22)) +
			      ((a & b) ^ (a & c) ^ (b & c));

		k = g;
		g = f;
		f = e;
		e = d + t1;
		d = c;
		c = b;
		b = a;
		a = t1 + t2;
	}
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
	h[4] += e;
	h[5] += f;
	h[6] += g;
	h[7] += k;
}

static void sha256(const uint8_t *p, size_t n, uint32_t h[8])
{
	static const uint32_t h0[8] = {
		0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
		0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
	};
	uint8_t tail[128];
	size_t full = n & ~(size_t)63, rest = n - full, tn;
	uint64_t bits = (uint64_t)n * 8;

	for (unsigned k = 0; k < 8; k++)
		h[k] = h0[k];
	for (size_t off = 0; off < full; off += 64)
		sha_block(h, p + off);
	for (size_t k = 0; k < rest; k++)
		tail[k] = p[full + k];
	tail[rest] = 0x80;
	tn = rest < 56 ? 64 : 128;
	for (size_t k = rest + 1; k < tn - 8; k++)
		tail[k] = 0;
	for (unsigned k = 0; k < 8; k++)
		tail[tn - 1 - k] = (uint8_t)(bits >> (8 * k));
	for (size_t off = 0; off < tn; off += 64)
		sha_block(h, tail + off);
}

#define MIX_P1 0x9fb21c651e98df25ull
#define MIX_P2 0xc2b2ae3d27d4eb4full
#define MIX_P3 0x165667b19e3779f9ull

static uint64_t rol64(uint64_t x, unsigned n)
{
	return (x << n) | (x >> (64 - n));
}

static uint64_t ld64(const uint8_t *p)
{
	uint64_t v;

	__builtin_memcpy(&v, p, 8);
	return v;
}

static uint64_t lane(uint64_t v, uint64_t x)
{
	return rol64(v + x * MIX_P2, 29) * MIX_P1;
}

static uint64_t mix64(const uint8_t *p, size_t n, uint64_t seed)
{
	uint64_t v[4] = { seed + MIX_P1, seed ^ MIX_P2, seed - MIX_P3, seed * MIX_P3 };
	uint64_t h;
	size_t i = 0;

	for (; i + 32 <= n; i += 32)
		for (unsigned l = 0; l < 4; l++)
			v[l] = lane(v[l], ld64(p + i + 8 * l));
	h = rol64(v[0], 1) + rol64(v[1], 7) + rol64(v[2], 12) + rol64(v[3], 18) + n;
	for (; i < n; i++)
		h = rol64(h ^ (p[i] * MIX_P3), 11) * MIX_P1;
	h ^= h >> 33;
	h *= MIX_P2;
	h ^= h >> 29;
	return h;
}

void bench_hash_setup(uint8_t *arena)
{
	struct bench_rng g = { 0xabcdef };

	bench_text(arena, HASH_BYTES / 2, 5);
	for (size_t k = HASH_BYTES / 2; k < HASH_BYTES + 64; k++)
		arena[k] = (uint8_t)rng_next(&g);
}

uint64_t bench_hash_run(uint8_t *arena)
{
	uint32_t h[8];
	uint64_t sum = 0;

	/* an odd length, so that the padding takes two blocks */
	sha256(arena, HASH_BYTES - 7, h);
	for (unsigned k = 0; k < 8; k++)
		sum = sum * 31 + h[k];
	for (unsigned r = 0; r < MIX_ROUNDS; r++)
		sum ^= mix64(arena + r, HASH_BYTES - r * 3, sum + r);
	return sum;
}
