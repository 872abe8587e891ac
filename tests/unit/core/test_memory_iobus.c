/* Guest memory accessors and PIO/MMIO dispatch. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "core/iobus.h"
#include "core/log.h"
#include "core/memory.h"

static void test_memory_regions(void **state)
{
	const struct mem_range ranges[] = {
		{ gpa(0), 1 << 20 },
		{ gpa(4ull << 30), 2 << 20 },
	};
	struct guest_memory m;
	struct stat st;
	uint8_t buf[8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, out[8];

	assert_int_equal(guest_memory_init(&m, ranges, 2), 0);
	assert_int_equal(m.nregions, 2);
	assert_int_equal(fstat(m.fd, &st), 0);
	assert_int_equal(st.st_size, 3 << 20);
	assert_int_equal(m.regions[1].fd_offset, 1 << 20);
	assert_non_null(gpa_to_hva(&m, gpa(0), 1 << 20));
	assert_null(gpa_to_hva(&m, gpa(0), (1 << 20) + 1));    /* runs past the end */
	assert_null(gpa_to_hva(&m, gpa(1 << 20), 1));          /* the gap */
	assert_null(gpa_to_hva(&m, gpa(UINT64_MAX), 2));       /* wraps */
	assert_null(gpa_to_hva(&m, gpa((4ull << 30) - 4), 8)); /* straddles into RAM */
	assert_int_equal(guest_write(&m, gpa((4ull << 30) + 100), buf, 8), 0);
	assert_int_equal(guest_read(&m, gpa((4ull << 30) + 100), out, 8), 0);
	assert_memory_equal(buf, out, 8);
	/* The same bytes through the memfd, as a device process would see them. */
	assert_memory_equal(m.map + (1 << 20) + 100, buf, 8);
	assert_int_equal(guest_read(&m, gpa((6ull << 30)), out, 1), -EFAULT);
	assert_int_equal(guest_ram_end_below(&m, 4ull << 30), 1 << 20);
	guest_memory_destroy(&m);
}

static void test_memory_bad_layout(void **state)
{
	const struct mem_range overlap[] = { { gpa(0), 2 << 20 }, { gpa(1 << 20), 1 << 20 } };
	const struct mem_range empty[] = { { gpa(0), 0 } };
	struct guest_memory m;

	assert_int_equal(guest_memory_init(&m, overlap, 2), -EINVAL);
	assert_int_equal(guest_memory_init(&m, empty, 1), -EINVAL);
	assert_int_equal(guest_memory_init(&m, overlap, 0), -EINVAL);
}

struct fake_dev {
	uint64_t last_off, last_val;
	unsigned last_size, reads, writes;
};

static uint64_t fake_read(void *dev, uint64_t off, unsigned size)
{
	struct fake_dev *d = dev;

	d->reads++;
	d->last_off = off;
	d->last_size = size;
	return 0x1122334455667788ull;
}

static void fake_write(void *dev, uint64_t off, uint64_t val, unsigned size)
{
	struct fake_dev *d = dev;

	d->writes++;
	d->last_off = off;
	d->last_val = val;
	d->last_size = size;
}

static const struct io_ops fake_ops = { fake_read, fake_write };

static void test_iobus_dispatch(void **state)
{
	struct logger log = { LOG_ERROR, -1 };
	struct fake_dev a = { 0 }, b = { 0 };
	struct iobus bus;
	uint8_t data[8];
	uint32_t v32 = 0xdeadbeef;

	assert_int_equal(iobus_init(&bus, "pio", &log), 0);
	assert_int_equal(iobus_register(&bus, 0x3f8, 8, &fake_ops, &a, "a"), 0);
	assert_int_equal(iobus_register(&bus, 0x60, 1, &fake_ops, &b, "b"), 0);
	assert_int_equal(iobus_register(&bus, 0x3fc, 8, &fake_ops, &b, "overlap"), -EBUSY);
	assert_int_equal(iobus_register(&bus, 0x3f0, 9, &fake_ops, &b, "overlap"), -EBUSY);
	assert_int_equal(iobus_register(&bus, 0x10, 0, &fake_ops, &b, "empty"), -EINVAL);

	assert_true(iobus_access(&bus, 0x3fa, data, 2, false));
	assert_int_equal(a.last_off, 2);
	assert_int_equal(a.last_size, 2);
	assert_int_equal(data[0], 0x88);
	assert_int_equal(data[1], 0x77);
	assert_true(iobus_access(&bus, 0x3fc, &v32, 4, true));
	assert_int_equal(a.last_val, 0xdeadbeef);
	assert_int_equal(a.last_off, 4);
	/* An access that runs past a device's end is not that device's. */
	assert_false(iobus_access(&bus, 0x3fe, data, 4, false));
	assert_int_equal(data[0], 0xff);
	assert_false(iobus_access(&bus, 0x61, data, 1, true));
	assert_int_equal(b.writes, 0);
	assert_true(iobus_access(&bus, 0x60, data, 1, true));
	assert_int_equal(b.writes, 1);

	assert_int_equal(iobus_unregister(&bus, 0x60, &a), -ENOENT);
	assert_int_equal(iobus_unregister(&bus, 0x60, &b), 0);
	assert_false(iobus_access(&bus, 0x60, data, 1, false));
	iobus_destroy(&bus);
}

static void test_iobus_many(void **state)
{
	struct logger log = { LOG_ERROR, -1 };
	struct fake_dev devs[100] = { 0 };
	struct iobus bus;
	uint8_t data[4];

	assert_int_equal(iobus_init(&bus, "mmio", &log), 0);
	for (int i = 99; i >= 0; i--) /* reverse order exercises the sorted insert */
		assert_int_equal(iobus_register(&bus, 0x1000ull * i, 0x100, &fake_ops, &devs[i], "d"), 0);
	for (int i = 0; i < 100; i++) {
		assert_true(iobus_access(&bus, 0x1000ull * i + 0xfc, data, 4, false));
		assert_int_equal(devs[i].reads, 1);
		assert_false(iobus_access(&bus, 0x1000ull * i + 0x100, data, 1, false));
	}
	iobus_destroy(&bus);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_memory_regions),
		cmocka_unit_test(test_memory_bad_layout),
		cmocka_unit_test(test_iobus_dispatch),
		cmocka_unit_test(test_iobus_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
