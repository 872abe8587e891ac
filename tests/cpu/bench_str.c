/*
 * Benchmark part "string": C string functions as a program uses them.
 * 1 MiB of text is split into lines (memchr), each line copied out and
 * measured (strlen, word at a time), then tokenized: identifiers are looked
 * up in a keyword table (memcmp) and counted in an open-addressing hash table
 * of distinct words, numbers are converted, punctuation is tallied.
 */
#include "bench_work.h"

#define STR_BYTES (1u << 20)
#define WORDS_BITS 14
#define PASSES 2

enum { C_SPACE, C_ALPHA, C_DIGIT, C_PUNCT };

struct word_slot {
	const char *s;
	uint32_t len, count;
};

/* Arena layout. */
struct str_area {
	char text[STR_BYTES];
	char line[4096];
	uint8_t cls[256];
	struct word_slot words[1u << WORDS_BITS];
};

static const char *const keywords[] = {
	"an", "in", "or", "un", "de", "co", "if", "else", "for", "while",
	"return", "static", "struct", "void",
};

static const void *my_memchr(const void *s, int c, size_t n)
{
	const unsigned char *p = s;

	for (size_t i = 0; i < n; i++)
		if (p[i] == (unsigned char)c)
			return p + i;
	return 0;
}

static int my_memcmp(const void *x, const void *y, size_t n)
{
	const unsigned char *p = x, *q = y;

	for (size_t i = 0; i < n; i++)
		if (p[i] != q[i])
			return p[i] - q[i];
	return 0;
}

/* Word at a time once aligned: a zero byte sets the high bit of its lane. */
static size_t my_strlen(const char *s)
{
	const char *p = s;
	uint64_t w;

	for (; (uintptr_t)p & 7; p++)
		if (!*p)
			return (size_t)(p - s);
	for (;; p += 8) {
		__builtin_memcpy(&w, p, 8);
		if ((w - 0x0101010101010101ull) & ~w & 0x8080808080808080ull)
			break;
	}
	while (*p)
		p++;
	return (size_t)(p - s);
}

static void my_memcpy(void *d, const void *s, size_t n)
{
	unsigned char *o = d;
	const unsigned char *p = s;

	for (size_t i = 0; i < n; i++)
		o[i] = p[i];
}

static unsigned keyword(const char *s, size_t len)
{
	for (unsigned k = 0; k < sizeof(keywords) / sizeof(keywords[0]); k++)
		if (my_strlen(keywords[k]) == len && !my_memcmp(keywords[k], s, len))
			return k + 1;
	return 0;
}

/* Count an identifier; returns 1 if it was new. */
static unsigned count_word(struct str_area *a, const char *s, uint32_t len)
{
	uint32_t h = (uint32_t)bench_fnv(BENCH_FNV0, s, len);

	for (;;) {
		struct word_slot *w = &a->words[h & ((1u << WORDS_BITS) - 1)];

		if (!w->s) {
			w->s = s;
			w->len = len;
			w->count = 1;
			return 1;
		}
		if (w->len == len && !my_memcmp(w->s, s, len)) {
			w->count++;
			return 0;
		}
		h++;
	}
}

struct tally {
	uint64_t idents, fresh, kw, numsum, punct, chars;
};

static void tokenize(struct str_area *a, const char *line, const char *orig, struct tally *t)
{
	const char *p = line;

	while (*p) {
		const char *start = p;

		switch (a->cls[(unsigned char)*p]) {
		case C_SPACE:
			p++;
			break;
		case C_ALPHA:
			while (a->cls[(unsigned char)*p] == C_ALPHA || a->cls[(unsigned char)*p] == C_DIGIT)
				p++;
			t->idents++;
			t->kw += keyword(start, (size_t)(p - start));
			/* the table keeps pointers into the text, not into the line */
			t->fresh += count_word(a, orig + (start - line), (uint32_t)(p - start));
			break;
		case C_DIGIT: {
			uint64_t v = 0;

			while (a->cls[(unsigned char)*p] == C_DIGIT)
				v = v * 10 + (uint64_t)(*p++ - '0');
			t->numsum += v;
			break;
		}
		default:
			t->punct += (unsigned char)*p++;
			break;
		}
	}
}

void bench_str_setup(uint8_t *arena)
{
	struct str_area *a = (struct str_area *)(void *)arena;

	bench_text((uint8_t *)a->text, STR_BYTES - 1, 2024);
	a->text[STR_BYTES - 1] = '\n';
	for (unsigned c = 0; c < 256; c++)
		a->cls[c] = c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ? C_ALPHA
			  : c >= '0' && c <= '9' ? C_DIGIT
			  : c == ' ' || c == '\t' || c == '\n' ? C_SPACE
			  : C_PUNCT;
}

uint64_t bench_str_run(uint8_t *arena)
{
	struct str_area *a = (struct str_area *)(void *)arena;
	struct tally t = { 0 };
	uint64_t sum = 0;

	for (unsigned pass = 0; pass < PASSES; pass++) {
		const char *p = a->text, *end = a->text + STR_BYTES;

		for (size_t k = 0; k < (1u << WORDS_BITS); k++)
			a->words[k] = (struct word_slot){ 0 };
		while (p < end) {
			const char *nl = my_memchr(p, '\n', (size_t)(end - p));
			size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

			if (n >= sizeof(a->line))
				n = sizeof(a->line) - 1;
			my_memcpy(a->line, p, n);
			a->line[n] = 0;
			t.chars += my_strlen(a->line);
			tokenize(a, a->line, p, &t);
			p += n + 1;
		}
		for (size_t k = 0; k < (1u << WORDS_BITS); k++)
			sum = sum * 5 + a->words[k].count;
	}
	return sum ^ t.idents ^ t.fresh << 12 ^ t.kw << 24 ^ t.numsum << 7 ^ t.punct << 40 ^ t.chars;
}
