/* virtio-rng through its device kind, driven by the miniature driver. */
#include <errno.h>
#include <linux/virtio_ids.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "hw/virtio/devices.h"
#include "vq_driver.h"

#define QSIZE 8

struct fixture {
	struct vqd_host h;
	struct device dev;
	struct virtio_dev *vdev; /* first in the device's state */
	struct vq_driver d;
};

static int setup(void **state)
{
	struct fixture *f = test_calloc(1, sizeof(*f));

	vqd_host_init(&f->h, 4 << 20);
	assert_int_equal(device_parse(&f->dev, "virtio-rng", &f->h.log), 0);
	assert_ptr_equal(f->dev.kind, &virtio_rng_kind);
	assert_int_equal(device_create(&f->dev, &f->h.host), 0);
	f->vdev = f->dev.state;
	assert_int_equal(f->vdev->device_id, VIRTIO_ID_RNG);
	assert_int_equal(f->vdev->nqueues, 1);
	vqd_set_features(f->vdev, ~0ull);
	vqd_queue_init(&f->d, &f->h, &f->vdev->vqs[0], QSIZE);
	vqd_driver_ok(f->vdev);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	device_destroy(&f->dev);
	vqd_host_fini(&f->h);
	test_free(f);
	return 0;
}

static void kick(struct fixture *f)
{
	virtq_kick(&f->vdev->vqs[0]);
	vqd_poll(&f->h);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static void test_fills_buffers(void **state)
{
	struct fixture *f = *state;
	uint64_t a = vqd_alloc(&f->h, 64), b = vqd_alloc(&f->h, 100);
	struct vqd_seg segs[] = { { a, 64, true }, { b, 100, true } };
	uint16_t head = vqd_add(&f->d, segs, 2);
	uint32_t id, len;

	kick(f);
	assert_true(vqd_used(&f->d, &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(len, 164);
	assert_false(all_zero(vqd_ptr(&f->h, a, 64), 64));
	assert_false(all_zero(vqd_ptr(&f->h, b, 100), 100));
	assert_true(f->h.queue_irqs[0] >= 1);
	assert_false(vqd_used(&f->d, &id, &len));
}

static void test_two_reads_differ(void **state)
{
	struct fixture *f = *state;
	uint64_t a = vqd_alloc(&f->h, 32), b = vqd_alloc(&f->h, 32);
	struct vqd_seg sa = { a, 32, true }, sb = { b, 32, true };
	uint32_t id, len;

	vqd_add(&f->d, &sa, 1);
	vqd_add(&f->d, &sb, 1);
	kick(f);
	assert_true(vqd_used(&f->d, &id, &len));
	assert_true(vqd_used(&f->d, &id, &len));
	assert_memory_not_equal(vqd_ptr(&f->h, a, 32), vqd_ptr(&f->h, b, 32), 32);
}

/* Nothing writable: returned at once with nothing written. */
static void test_readable_only(void **state)
{
	struct fixture *f = *state;
	uint64_t a = vqd_alloc(&f->h, 16);
	struct vqd_seg s = { a, 16, false };
	uint32_t id, len = 99;

	vqd_add(&f->d, &s, 1);
	kick(f);
	assert_true(vqd_used(&f->d, &id, &len));
	assert_int_equal(len, 0);
	assert_true(all_zero(vqd_ptr(&f->h, a, 16), 16));
}

/* A buffer outside guest RAM breaks the queue; the VMM goes on. */
static void test_bad_buffer(void **state)
{
	struct fixture *f = *state;
	struct vqd_seg s = { 64ull << 20, 16, true };
	uint32_t id, len;

	vqd_add(&f->d, &s, 1);
	kick(f);
	assert_false(vqd_used(&f->d, &id, &len));
	assert_true(f->vdev->status & VIRTIO_CONFIG_S_NEEDS_RESET);
	assert_non_null(strstr(vqd_log(&f->h), "outside guest RAM"));
}

static void test_no_options(void **state)
{
	struct vqd_host h;
	struct device dev;

	(void)state;
	vqd_host_init(&h, 1 << 20);
	assert_int_equal(device_parse(&dev, "virtio-rng,rate=10", &h.log), -EINVAL);
	assert_non_null(strstr(vqd_log(&h), "unknown option 'rate'"));
	vqd_host_fini(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fills_buffers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_reads_differ, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readable_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_buffer, setup, teardown),
		cmocka_unit_test(test_no_options),
	};

	return cmocka_run_group_tests_name("virtio-rng", tests, NULL, NULL);
}
