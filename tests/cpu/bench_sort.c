/*
 * Benchmark part "sort": quicksort (median of three, insertion sort for
 * short ranges) and a bottom-up mergesort of 300,000 integers, checked
 * against each other; then a mergesort of 60,000 short strings through a
 * comparison function called by pointer, as a library sort would.
 */
#include "bench_work.h"

#define SORT_N 300000u
#define STR_N 60000u
#define SMALL 16

typedef int (*cmp_fn)(const void *, const void *);

/* Arena layout. */
struct sort_area {
	uint32_t src[SORT_N];
	uint32_t a[SORT_N];
	uint32_t b[SORT_N];
	uint32_t tmp[SORT_N];
	const char *strs[STR_N];
	const char *work[STR_N];
	const char *stmp[STR_N];
	cmp_fn cmp;
	char pool[STR_N * 16];
};

static void insertion_u32(uint32_t *v, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		uint32_t x = v[i];
		size_t j = i;

		for (; j > 0 && v[j - 1] > x; j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
}

static void swap_u32(uint32_t *p, uint32_t *q)
{
	uint32_t t = *p;

	*p = *q;
	*q = t;
}

static void quicksort_u32(uint32_t *v, size_t n)
{
	while (n > SMALL) {
		size_t mid = n / 2, i = 0, j = n - 1;
		uint32_t pivot;

		if (v[mid] < v[0])
			swap_u32(&v[mid], &v[0]);
		if (v[n - 1] < v[0])
			swap_u32(&v[n - 1], &v[0]);
		if (v[n - 1] < v[mid])
			swap_u32(&v[n - 1], &v[mid]);
		pivot = v[mid];
		for (;;) { /* Hoare partition */
			while (v[i] < pivot)
				i++;
			while (v[j] > pivot)
				j--;
			if (i >= j)
				break;
			swap_u32(&v[i++], &v[j--]);
		}
		/* recurse into the smaller side, loop on the larger */
		if (j + 1 < n - j - 1) {
			quicksort_u32(v, j + 1);
			v += j + 1;
			n -= j + 1;
		} else {
			quicksort_u32(v + j + 1, n - j - 1);
			n = j + 1;
		}
	}
	insertion_u32(v, n);
}

static void merge_u32(const uint32_t *s, uint32_t *d, size_t lo, size_t mid, size_t hi)
{
	size_t i = lo, j = mid, o = lo;

	while (i < mid && j < hi)
		d[o++] = s[j] < s[i] ? s[j++] : s[i++];
	while (i < mid)
		d[o++] = s[i++];
	while (j < hi)
		d[o++] = s[j++];
}

/* Bottom-up; returns whichever of v and tmp holds the result. */
static uint32_t *mergesort_u32(uint32_t *v, uint32_t *tmp, size_t n)
{
	for (size_t w = 1; w < n; w *= 2) {
		for (size_t lo = 0; lo < n; lo += 2 * w) {
			size_t mid = lo + w < n ? lo + w : n;
			size_t hi = lo + 2 * w < n ? lo + 2 * w : n;

			merge_u32(v, tmp, lo, mid, hi);
		}
		uint32_t *t = v;

		v = tmp;
		tmp = t;
	}
	return v;
}

static int cmp_str(const void *x, const void *y)
{
	const unsigned char *p = x, *q = y;

	while (*p && *p == *q) {
		p++;
		q++;
	}
	return *p - *q;
}

/* A stable mergesort of pointers; noipa keeps cmp a real indirect call. */
static __attribute__((noipa)) void sort_ptrs(const char **v, const char **tmp, size_t n, cmp_fn cmp)
{
	if (n <= 8) {
		for (size_t i = 1; i < n; i++) {
			const char *x = v[i];
			size_t j = i;

			for (; j > 0 && cmp(v[j - 1], x) > 0; j--)
				v[j] = v[j - 1];
			v[j] = x;
		}
		return;
	}
	size_t h = n / 2, i = 0, j = h, o = 0;

	sort_ptrs(v, tmp, h, cmp);
	sort_ptrs(v + h, tmp, n - h, cmp);
	while (i < h && j < n)
		tmp[o++] = cmp(v[j], v[i]) < 0 ? v[j++] : v[i++];
	while (i < h)
		tmp[o++] = v[i++];
	while (j < n)
		tmp[o++] = v[j++];
	for (size_t k = 0; k < n; k++)
		v[k] = tmp[k];
}

void bench_sort_setup(uint8_t *arena)
{
	struct sort_area *a = (struct sort_area *)(void *)arena;
	struct bench_rng g = { 0x5047 };
	char *p = a->pool;

	for (size_t k = 0; k < SORT_N; k++)
		a->src[k] = (uint32_t)rng_next(&g) % (SORT_N * 4);
	for (size_t k = 0; k < STR_N; k++) {
		unsigned len = 3 + rng_below(&g, 12);

		a->strs[k] = p;
		/* a small alphabet: long common prefixes, as in real keys */
		for (unsigned c = 0; c < len; c++)
			*p++ = (char)('a' + rng_below(&g, c < 3 ? 3 : 20));
		*p++ = 0;
	}
	a->cmp = cmp_str;
}

uint64_t bench_sort_run(uint8_t *arena)
{
	struct sort_area *a = (struct sort_area *)(void *)arena;
	uint64_t sum = 0, bad = 0;
	uint32_t *m;

	for (size_t k = 0; k < SORT_N; k++)
		a->a[k] = a->b[k] = a->src[k];
	quicksort_u32(a->a, SORT_N);
	m = mergesort_u32(a->b, a->tmp, SORT_N);
	for (size_t k = 0; k < SORT_N; k++) {
		bad += a->a[k] != m[k] || (k && m[k - 1] > m[k]);
		sum = sum * 3 + m[k];
	}
	for (size_t k = 0; k < STR_N; k++)
		a->work[k] = a->strs[k];
	sort_ptrs(a->work, a->stmp, STR_N, a->cmp);
	for (size_t k = 0; k < STR_N; k++)
		sum = sum * 7 + (uint64_t)(a->work[k] - a->pool);
	return sum ^ bad << 60;
}
