/*
 * The benchmark's guest workload: the table of parts and the helpers they
 * share. Built with -mgeneral-regs-only and without library calls so that it
 * stays within what the interpreter implements; bench.c calls each part
 * natively and then runs it in the interpreter at the same address.
 */
#include "bench_work.h"

const struct bench_part bench_parts[] = {
	{ "lz77", bench_lz_setup, bench_lz_run },
	{ "hash", bench_hash_setup, bench_hash_run },
	{ "sort", bench_sort_setup, bench_sort_run },
	{ "string", bench_str_setup, bench_str_run },
};

const unsigned bench_nparts = sizeof(bench_parts) / sizeof(bench_parts[0]);

uint64_t bench_fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

/* Words made of syllables, so that the text repeats the way prose does. */
static const char *const syllables[] = {
	"an", "ber", "co", "de", "el", "fra", "gi", "ho", "in", "ja", "ke", "lo",
	"mu", "na", "or", "pe", "qui", "ra", "st", "tu", "un", "ve", "wo", "xi",
};

static size_t put_word(uint8_t *out, size_t o, size_t end, struct bench_rng *g)
{
	unsigned ns = 1 + rng_below(g, 3);

	/* a Zipf-like bias: small syllable indices are far more common */
	for (unsigned k = 0; k < ns && o < end; k++) {
		unsigned s = rng_below(g, 24);
		const char *p = syllables[(s * s) / 24];

		while (*p && o < end)
			out[o++] = (uint8_t)*p++;
	}
	return o;
}

void bench_text(uint8_t *out, size_t n, uint64_t seed)
{
	struct bench_rng g = { seed | 1 };
	size_t o = 0;
	unsigned col = 0;

	while (o < n) {
		unsigned r = rng_below(&g, 100);

		if (r < 80) {
			o = put_word(out, o, n, &g);
		} else if (r < 88) {
			uint32_t v = rng_below(&g, 100000);

			do
				out[o++] = (uint8_t)('0' + v % 10);
			while ((v /= 10) && o < n);
		} else if (r < 94) {
			out[o++] = (uint8_t)"_(),;=+*-."[rng_below(&g, 10)];
		} else {
			out[o++] = (uint8_t)"ABCDEFGHIJKLMNOPQRSTUVWXYZ"[rng_below(&g, 26)];
		}
		if (o >= n)
			break;
		col += 6;
		if (col > 60 + rng_below(&g, 20)) {
			out[o++] = '\n';
			col = 0;
		} else {
			out[o++] = ' ';
		}
	}
}
