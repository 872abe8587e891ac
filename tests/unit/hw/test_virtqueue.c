/*
 * The virtio core: negotiation, status, reset, and the split virtqueue
 * parser against well-formed and hostile rings.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "vq_driver.h"

#define QSIZE 8

/* An echo device: copies what it reads into what it may write. */
struct echo {
	struct virtio_dev vdev;
	unsigned notifies, resets, popped;
	int last_pop;
};

static void echo_notify(struct virtio_dev *vdev, struct virtq *vq)
{
	struct echo *e = vdev->opaque;
	static struct virtq_req req;
	char buf[256];
	int r;

	e->notifies++;
	while ((r = virtq_pop(vq, &req)) > 0) {
		size_t n = virtq_req_read(&req, 0, buf, sizeof(buf));

		n = virtq_req_write(&req, 0, buf, n);
		virtq_push(vq, &req, (uint32_t)n);
		e->popped++;
	}
	e->last_pop = r;
	virtq_notify(vq);
}

static void echo_reset(struct virtio_dev *vdev)
{
	((struct echo *)vdev->opaque)->resets++;
}

static const struct virtio_dev_ops echo_ops = {
	.queue_notify = echo_notify,
	.reset = echo_reset,
};

struct fixture {
	struct vqd_host h;
	struct echo e;
	struct vq_driver d;
};

static struct fixture *setup_with(uint64_t features)
{
	struct fixture *f = test_calloc(1, sizeof(*f));

	vqd_host_init(&f->h, 4 << 20);
	assert_int_equal(virtio_dev_init(&f->e.vdev, "echo", 42, &echo_ops, &f->e, &f->h.host, 1,
					 QSIZE, 0, 4), 0);
	vqd_attach(&f->h, &f->e.vdev);
	vqd_set_features(&f->e.vdev, features);
	vqd_queue_init(&f->d, &f->h, &f->e.vdev.vqs[0], QSIZE);
	vqd_driver_ok(&f->e.vdev);
	return f;
}

static int setup(void **state)
{
	*state = setup_with(~0ull);
	return 0;
}

static int setup_no_event_idx(void **state)
{
	*state = setup_with(~(1ull << VIRTIO_RING_F_EVENT_IDX));
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	virtio_dev_destroy(&f->e.vdev);
	vqd_host_fini(&f->h);
	test_free(f);
	return 0;
}

static void kick(struct fixture *f)
{
	virtq_kick(&f->e.vdev.vqs[0]);
	vqd_poll(&f->h);
}

static bool needs_reset(struct fixture *f)
{
	return f->e.vdev.status & VIRTIO_CONFIG_S_NEEDS_RESET;
}

static void test_echo_roundtrip(void **state)
{
	struct fixture *f = *state;
	uint64_t in = vqd_alloc(&f->h, 16), out1 = vqd_alloc(&f->h, 5), out2 = vqd_alloc(&f->h, 5);
	struct vqd_seg segs[] = { { in, 10, false }, { out1, 5, true }, { out2, 5, true } };
	uint32_t id, len;
	uint16_t head;

	memcpy(vqd_ptr(&f->h, in, 10), "0123456789", 10);
	head = vqd_add(&f->d, segs, 3);
	kick(f);
	assert_true(vqd_used(&f->d, &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(len, 10);
	assert_memory_equal(vqd_ptr(&f->h, out1, 5), "01234", 5);
	assert_memory_equal(vqd_ptr(&f->h, out2, 5), "56789", 5);
	assert_int_equal(f->h.queue_irqs[0], 1);
	assert_false(needs_reset(f));
	/* Empty again: the driver is asked for the next doorbell. */
	assert_int_equal(vqd_avail_event(&f->d), 1);
}

static void test_indirect(void **state)
{
	struct fixture *f = *state;
	uint64_t table = vqd_alloc(&f->h, 32), in = vqd_alloc(&f->h, 4), out = vqd_alloc(&f->h, 4);
	struct vring_desc *t = vqd_ptr(&f->h, table, 32);
	struct vring_desc *d = vqd_desc(&f->d, 3);
	uint32_t id, len;

	memcpy(vqd_ptr(&f->h, in, 4), "abcd", 4);
	t[0] = (struct vring_desc){ in, 4, VRING_DESC_F_NEXT, 1 };
	t[1] = (struct vring_desc){ out, 4, VRING_DESC_F_WRITE, 0 };
	*d = (struct vring_desc){ table, 32, VRING_DESC_F_INDIRECT, 0 };
	vqd_publish(&f->d, 3);
	kick(f);
	assert_true(vqd_used(&f->d, &id, &len));
	assert_int_equal(id, 3);
	assert_int_equal(len, 4);
	assert_memory_equal(vqd_ptr(&f->h, out, 4), "abcd", 4);
}

/* Each hostile chain: the queue is refused, the device needs a reset. */
static void expect_refused(struct fixture *f, const char *why)
{
	uint32_t id, len;

	kick(f);
	assert_int_equal(f->e.last_pop, -EIO);
	assert_false(vqd_used(&f->d, &id, &len));
	assert_true(needs_reset(f));
	assert_int_equal(f->h.config_irqs, 1);
	assert_non_null(strstr(vqd_log(&f->h), why));
	/* Further doorbells are ignored until reset. */
	kick(f);
	assert_int_equal(f->e.notifies, 1);
}

static void test_loop(void **state)
{
	struct fixture *f = *state;
	uint64_t buf = vqd_alloc(&f->h, 4);

	*vqd_desc(&f->d, 0) = (struct vring_desc){ buf, 4, VRING_DESC_F_NEXT, 1 };
	*vqd_desc(&f->d, 1) = (struct vring_desc){ buf, 4, VRING_DESC_F_NEXT, 0 };
	vqd_publish(&f->d, 0);
	expect_refused(f, "a loop");
}

static void test_outside_ram(void **state)
{
	struct fixture *f = *state;
	struct vqd_seg seg = { (4 << 20) - 2, 4, false };

	vqd_add(&f->d, &seg, 1);
	expect_refused(f, "outside guest RAM");
}

static void test_huge_length(void **state)
{
	struct fixture *f = *state;
	struct vqd_seg seg = { 1 << 20, 0xffffffffu, true };

	vqd_add(&f->d, &seg, 1);
	expect_refused(f, "outside guest RAM");
}

static void test_next_out_of_range(void **state)
{
	struct fixture *f = *state;

	*vqd_desc(&f->d, 0) = (struct vring_desc){ 1 << 20, 4, VRING_DESC_F_NEXT, QSIZE };
	vqd_publish(&f->d, 0);
	expect_refused(f, "index out of range");
}

static void test_head_out_of_range(void **state)
{
	struct fixture *f = *state;

	vqd_publish(&f->d, QSIZE + 3);
	expect_refused(f, "head out of range");
}

static void test_avail_jump(void **state)
{
	struct fixture *f = *state;
	struct vring_avail *av = vqd_ptr(&f->h, f->d.avail, 6 + 2 * QSIZE);

	av->idx = QSIZE + 1;
	expect_refused(f, "past the queue size");
}

static void test_readable_after_writable(void **state)
{
	struct fixture *f = *state;
	uint64_t a = vqd_alloc(&f->h, 8);
	struct vqd_seg segs[] = { { a, 4, true }, { a + 4, 4, false } };

	vqd_add(&f->d, segs, 2);
	expect_refused(f, "readable descriptor after a writable one");
}

static void test_nested_indirect(void **state)
{
	struct fixture *f = *state;
	uint64_t table = vqd_alloc(&f->h, 16);
	struct vring_desc *t = vqd_ptr(&f->h, table, 16);

	t[0] = (struct vring_desc){ table, 16, VRING_DESC_F_INDIRECT, 0 };
	*vqd_desc(&f->d, 0) = (struct vring_desc){ table, 16, VRING_DESC_F_INDIRECT, 0 };
	vqd_publish(&f->d, 0);
	expect_refused(f, "nested indirect");
}

/* Found by fuzz-virtq: a table that is the ring's own descriptor table. */
static void test_indirect_aliases_ring(void **state)
{
	struct fixture *f = *state;

	*vqd_desc(&f->d, 0) = (struct vring_desc){ f->d.desc, 16 * QSIZE, VRING_DESC_F_INDIRECT, 0 };
	vqd_publish(&f->d, 0);
	expect_refused(f, "nested indirect");
}

static void test_indirect_bad_length(void **state)
{
	struct fixture *f = *state;

	*vqd_desc(&f->d, 0) = (struct vring_desc){ 1 << 20, 17, VRING_DESC_F_INDIRECT, 0 };
	vqd_publish(&f->d, 0);
	expect_refused(f, "indirect table length");
}

static void test_too_many_segments(void **state)
{
	struct fixture *f = *state;
	unsigned n = VIRTQ_MAX_SEGS + 1;
	uint64_t table = vqd_alloc(&f->h, 16ull * n), buf = vqd_alloc(&f->h, 1);
	struct vring_desc *t = vqd_ptr(&f->h, table, 16ull * n);

	for (unsigned i = 0; i < n; i++)
		t[i] = (struct vring_desc){ buf, 1, i + 1 < n ? VRING_DESC_F_NEXT : 0,
					    (uint16_t)(i + 1) };
	*vqd_desc(&f->d, 0) = (struct vring_desc){ table, 16 * n, VRING_DESC_F_INDIRECT, 0 };
	vqd_publish(&f->d, 0);
	expect_refused(f, "too many segments");
}

static void test_reset_recovers(void **state)
{
	struct fixture *f = *state;
	uint64_t in = vqd_alloc(&f->h, 4), out = vqd_alloc(&f->h, 4);
	struct vqd_seg segs[] = { { in, 4, false }, { out, 4, true } };
	uint32_t id, len;

	vqd_publish(&f->d, QSIZE);
	kick(f);
	assert_true(needs_reset(f));
	pthread_mutex_lock(&f->e.vdev.lock);
	virtio_set_status(&f->e.vdev, 0);
	pthread_mutex_unlock(&f->e.vdev.lock);
	assert_int_equal(f->e.resets, 1);
	assert_int_equal(f->e.vdev.status, 0);
	assert_false(f->e.vdev.vqs[0].enabled);
	vqd_set_features(&f->e.vdev, ~0ull);
	vqd_queue_init(&f->d, &f->h, &f->e.vdev.vqs[0], QSIZE);
	vqd_driver_ok(&f->e.vdev);
	vqd_add(&f->d, segs, 2);
	kick(f);
	assert_true(vqd_used(&f->d, &id, &len));
	assert_int_equal(len, 4);
}

static void test_event_idx_suppresses(void **state)
{
	struct fixture *f = *state;
	uint64_t in = vqd_alloc(&f->h, 4), out = vqd_alloc(&f->h, 4);
	struct vqd_seg segs[] = { { in, 4, false }, { out, 4, true } };

	vqd_add(&f->d, segs, 2);
	kick(f); /* used 0 -> 1: the first interrupt always goes */
	assert_int_equal(f->h.queue_irqs[0], 1);
	vqd_set_used_event(&f->d, 5); /* wake me when entry 5 is used */
	vqd_add(&f->d, segs, 2);
	kick(f); /* used 1 -> 2 */
	assert_int_equal(f->h.queue_irqs[0], 1);
	for (int i = 0; i < 4; i++) {
		vqd_add(&f->d, segs, 2);
		kick(f);
	}
	/* used reached 6 > 5: exactly one more interrupt. */
	assert_int_equal(f->h.queue_irqs[0], 2);
}

static void test_no_interrupt_flag(void **state)
{
	struct fixture *f = *state;
	uint64_t in = vqd_alloc(&f->h, 4), out = vqd_alloc(&f->h, 4);
	struct vqd_seg segs[] = { { in, 4, false }, { out, 4, true } };
	struct vring_avail *av = vqd_ptr(&f->h, f->d.avail, 6);

	av->flags = VRING_AVAIL_F_NO_INTERRUPT;
	vqd_add(&f->d, segs, 2);
	kick(f);
	assert_int_equal(f->e.popped, 1);
	assert_int_equal(f->h.queue_irqs[0], 0);
	av->flags = 0;
	vqd_add(&f->d, segs, 2);
	kick(f);
	assert_int_equal(f->h.queue_irqs[0], 1);
}

static void test_features_ok_refused(void **state)
{
	struct fixture *f = *state;
	struct virtio_dev *v = &f->e.vdev;

	pthread_mutex_lock(&v->lock);
	virtio_set_status(v, 0);
	virtio_set_status(v, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	v->drv_features = 1ull << VIRTIO_F_VERSION_1 | 1ull << 50; /* never offered */
	virtio_set_status(v, v->status | VIRTIO_CONFIG_S_FEATURES_OK);
	assert_false(v->status & VIRTIO_CONFIG_S_FEATURES_OK);
	v->drv_features = 0; /* a legacy driver: no VERSION_1 */
	virtio_set_status(v, v->status | VIRTIO_CONFIG_S_FEATURES_OK);
	assert_false(v->status & VIRTIO_CONFIG_S_FEATURES_OK);
	v->drv_features = 1ull << VIRTIO_F_VERSION_1;
	virtio_set_status(v, v->status | VIRTIO_CONFIG_S_FEATURES_OK);
	assert_true(v->status & VIRTIO_CONFIG_S_FEATURES_OK);
	pthread_mutex_unlock(&v->lock);
}

static void test_bad_ring_address(void **state)
{
	struct fixture *f = *state;
	struct virtq *vq = &f->e.vdev.vqs[0];

	pthread_mutex_lock(&f->e.vdev.lock);
	vq->used_addr = (4 << 20) - 8; /* the used ring would run past RAM */
	virtq_enable(vq);
	pthread_mutex_unlock(&f->e.vdev.lock);
	assert_true(needs_reset(f));
	assert_non_null(strstr(vqd_log(&f->h), "outside guest RAM"));
}

static void test_config_bounds(void **state)
{
	struct fixture *f = *state;
	uint32_t v = 0xdeadbeef;

	memcpy(f->e.vdev.config, "\x01\x02\x03\x04", 4);
	virtio_config_access(&f->e.vdev, 0, &v, 4, false);
	assert_int_equal(v, 0x04030201);
	virtio_config_access(&f->e.vdev, 2, &v, 4, false); /* runs past the end */
	assert_int_equal(v, 0);
	virtio_config_access(&f->e.vdev, 0xffffffffu, &v, 4, false);
	assert_int_equal(v, 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_echo_roundtrip),
		T(test_indirect),
		T(test_loop),
		T(test_outside_ram),
		T(test_huge_length),
		T(test_next_out_of_range),
		T(test_head_out_of_range),
		T(test_avail_jump),
		T(test_readable_after_writable),
		T(test_nested_indirect),
		T(test_indirect_aliases_ring),
		T(test_indirect_bad_length),
		T(test_too_many_segments),
		T(test_reset_recovers),
		T(test_event_idx_suppresses),
		cmocka_unit_test_setup_teardown(test_no_interrupt_flag, setup_no_event_idx,
						teardown),
		T(test_features_ok_refused),
		T(test_bad_ring_address),
		T(test_config_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
