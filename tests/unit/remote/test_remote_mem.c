/*
 * Guest RAM of a device process (remote_mem.c): tables from SYNC_SYSMEM,
 * mappings kept per file across syncs, dropped files overlaid, bad regions
 * refused with the old table kept, every fd accounted for.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "link_test.h"
#include "remote/remote_mem.h"

#define MIB (1ull << 20)

struct env {
	struct logger log;
	int base_fds;
	struct remote_mem rm;
};

static int new_memfd(uint64_t size)
{
	int fd = memfd_create("test-ram", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	return fd;
}

/* A SYNC_SYSMEM of n regions {fd, gpa, size, offset}; the fds are dup'd. */
struct region {
	int fd;
	uint64_t gpa, size;
	int64_t off;
};

static int sync_regions(struct env *e, const struct region *r, unsigned n)
{
	struct link_msg m;

	link_msg_sysmem(&m);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(link_msg_sysmem_add(&m, dup(r[i].fd), r[i].gpa, r[i].size, r[i].off),
				 0);
	return remote_mem_sync(&e->rm, &m);
}

static int setup(void **state)
{
	static struct env e;

	memset(&e, 0, sizeof(e));
	e.log = (struct logger){ .level = LOG_ERROR, .fd = -1 };
	e.base_fds = fds_open_count();
	remote_mem_init(&e.rm, &e.log);
	*state = &e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	remote_mem_destroy(&e->rm);
	assert_int_equal(fds_open_count(), e->base_fds);
	return 0;
}

static void test_table(void **state)
{
	struct env *e = *state;
	int fd = new_memfd(4 * MIB);
	const struct region r[] = {
		{ fd, 0x100000, 2 * MIB, 2 * MIB }, /* given out of order: sorted */
		{ fd, 0, 0xc0000, 0 },
	};
	uint8_t *p;

	assert_null(gpa_to_hva(&e->rm.mem, gpa(0), 1));
	assert_int_equal(sync_regions(e, r, 2), 0);
	assert_int_equal(e->rm.mem.nregions, 2);
	assert_int_equal(e->rm.nfiles, 1); /* one file, one mapping */
	assert_int_equal(e->rm.mem.regions[0].base.raw, 0);
	assert_int_equal(e->rm.mem.regions[1].base.raw, 0x100000);
	assert_int_equal(e->rm.mem.total, 2 * MIB + 0xc0000);
	/* The bytes the VMM writes at an offset are those at the region's address. */
	assert_int_equal(pwrite(fd, "abc", 3, 2 * MIB + 0x10), 3);
	p = gpa_to_hva(&e->rm.mem, gpa(0x100010), 3);
	assert_non_null(p);
	assert_memory_equal(p, "abc", 3);
	assert_null(gpa_to_hva(&e->rm.mem, gpa(0xc0000), 1)); /* the hole */
	assert_null(gpa_to_hva(&e->rm.mem, gpa(0xbffff), 2)); /* across its end */
	assert_int_equal(guest_ram_end_below(&e->rm.mem, 1ull << 32), 0x300000);
	close(fd);
}

/* Past QEMU 7.2's 7: a table of 8 regions, from 8 files. */
static void test_eight_regions(void **state)
{
	struct env *e = *state;
	struct region r[LINK_MAX_FDS];

	for (unsigned i = 0; i < LINK_MAX_FDS; i++)
		r[i] = (struct region){ new_memfd(0x10000), 0x100000ull * i, 0x10000, 0 };
	assert_int_equal(sync_regions(e, r, LINK_MAX_FDS), 0);
	assert_int_equal(e->rm.mem.nregions, 8);
	assert_int_equal(e->rm.nfiles, 8);
	assert_non_null(gpa_to_hva(&e->rm.mem, gpa(0x700000), 0x10000));
	for (unsigned i = 0; i < LINK_MAX_FDS; i++)
		close(r[i].fd);
}

/* QEMU re-sends the same memfd cut differently: host pointers must not move. */
static void test_same_file_same_mapping(void **state)
{
	struct env *e = *state;
	int fd = new_memfd(4 * MIB);
	const struct region split[] = { { fd, 0, 0xc0000, 0 }, { fd, 0x100000, 3 * MIB, 0x100000 } };
	const struct region whole[] = { { fd, 0, 4 * MIB, 0 } };
	uint8_t *before, *after;

	assert_int_equal(sync_regions(e, split, 2), 0);
	before = gpa_to_hva(&e->rm.mem, gpa(0x200000), 64);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(sync_regions(e, whole, 1), 0);
		assert_int_equal(sync_regions(e, split, 2), 0);
	}
	after = gpa_to_hva(&e->rm.mem, gpa(0x200000), 64);
	assert_ptr_equal(before, after);
	assert_int_equal(e->rm.nfiles, 1);
	assert_int_equal(e->rm.nretired, 0);
	close(fd);
}

/* A file no longer named: pointers into it still work, on scratch memory. */
static void test_dropped_file_overlaid(void **state)
{
	struct env *e = *state;
	int a = new_memfd(MIB), b = new_memfd(MIB);
	const struct region ra[] = { { a, 0, MIB, 0 } };
	const struct region rb[] = { { b, 0, MIB, 0 } };
	volatile uint8_t *stale;
	uint8_t c = 0;

	assert_int_equal(pwrite(a, "old", 3, 0x80), 3);
	assert_int_equal(sync_regions(e, ra, 1), 0);
	stale = gpa_to_hva(&e->rm.mem, gpa(0x80), 3);
	assert_int_equal(stale[0], 'o');
	assert_int_equal(sync_regions(e, rb, 1), 0);
	assert_int_equal(e->rm.nretired, 1);
	assert_ptr_not_equal(gpa_to_hva(&e->rm.mem, gpa(0x80), 3), (void *)stale);
	assert_int_equal(stale[0], 0); /* zeros, not the dropped file */
	stale[0] = 'x';                /* and no fault */
	assert_int_equal(pread(a, &c, 1, 0x80), 1);
	assert_int_equal(c, 'o'); /* the VMM's file is untouched */
	close(a);
	close(b);
}

static void test_bad_regions_keep_table(void **state)
{
	struct env *e = *state;
	int fd = new_memfd(MIB), pipefd[2];
	const struct region good[] = { { fd, 0, MIB, 0 } };
	const struct region past_end[] = { { fd, 0, 2 * MIB, 0 } };
	const struct region offset_past[] = { { fd, 0, 0x1000, MIB } };
	void *p;

	assert_int_equal(sync_regions(e, good, 1), 0);
	p = gpa_to_hva(&e->rm.mem, gpa(0), MIB);
	assert_int_equal(sync_regions(e, past_end, 1), -EINVAL);
	assert_int_equal(sync_regions(e, offset_past, 1), -EINVAL);
	assert_int_equal(pipe(pipefd), 0);
	{
		const struct region not_ram[] = { { pipefd[0], 0, 0x1000, 0 } };

		assert_int_equal(sync_regions(e, not_ram, 1), -EINVAL);
	}
	/* A new file mapped, then a bad region in the same message: all undone. */
	{
		int other = new_memfd(MIB);
		const struct region mixed[] = { { other, 0, MIB, 0 }, { fd, MIB, 2 * MIB, 0 } };

		assert_int_equal(sync_regions(e, mixed, 2), -EINVAL);
		close(other);
	}
	assert_ptr_equal(gpa_to_hva(&e->rm.mem, gpa(0), MIB), p);
	assert_int_equal(e->rm.nfiles, 1);
	close(pipefd[0]);
	close(pipefd[1]);
	close(fd);
}

/* A read-only file cannot be mapped for a device to write: refused. */
static void test_readonly_file(void **state)
{
	struct env *e = *state;
	int fd = new_memfd(MIB);
	char path[64];
	int ro;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ro = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(ro >= 0);
	{
		const struct region r[] = { { ro, 0, MIB, 0 } };

		assert_int_equal(sync_regions(e, r, 1), -EACCES);
	}
	assert_int_equal(e->rm.mem.nregions, 0);
	close(ro);
	close(fd);
}

/* The address space a hostile VMM can make us keep is bounded. */
static void test_retired_limit(void **state)
{
	struct env *e = *state;
	int err = 0;
	unsigned i;

	for (i = 0; i <= REMOTE_MEM_MAX_RETIRED + 1 && !err; i++) {
		int fd = new_memfd(0x1000);
		const struct region r[] = { { fd, 0, 0x1000, 0 } };

		err = sync_regions(e, r, 1);
		close(fd);
	}
	assert_int_equal(err, -ENOSPC);
	assert_int_equal(e->rm.nretired, REMOTE_MEM_MAX_RETIRED);
	assert_non_null(gpa_to_hva(&e->rm.mem, gpa(0), 0x1000)); /* the last good table */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eight_regions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_same_file_same_mapping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dropped_file_overlaid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_regions_keep_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readonly_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retired_limit, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
