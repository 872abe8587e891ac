/*
 * The virtqueue journal and the failed responder (remote/inflight.h): a
 * device that takes requests and keeps them writes its journal through the
 * virtio core; then, as if its process were killed at a given instruction,
 * the responder answers over the same guest RAM. Each request must be
 * answered exactly once, with VIRTIO_BLK_S_IOERR, and a journal that breaks
 * a rule must be refused without touching the rings.
 */
#include <errno.h>
#include <linux/virtio_blk.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../hw/vq_driver.h"
#include "remote/inflight.h"
#include "remote/proxy_int.h"

#define QSIZE 32
#define HOLD_MAX 16
#define STATUS_UNSET 0x5a

/* A device that takes requests and answers them only when told (hold_complete). */
struct hold {
	struct virtio_dev vdev;
	struct virtq_req reqs[HOLD_MAX];
	unsigned held;
};

static void hold_notify(struct virtio_dev *vdev, struct virtq *vq)
{
	struct hold *d = vdev->opaque;

	while (d->held < HOLD_MAX && virtq_pop(vq, &d->reqs[d->held]) > 0)
		d->held++;
}

static const struct virtio_dev_ops hold_ops = { .queue_notify = hold_notify };

struct fixture {
	struct vqd_host h;
	struct hold dev;
	struct vq_driver d;
	struct vq_journal *j;
	struct inflight f;
	unsigned raised[4];
	uint64_t status[QSIZE]; /* guest addresses of the status bytes, by head */
};

static void count_raise(void *opaque, uint16_t vector)
{
	struct fixture *fx = opaque;

	if (vector < 4)
		fx->raised[vector]++;
}

static int setup(void **state)
{
	struct fixture *fx = test_calloc(1, sizeof(*fx));

	vqd_host_init(&fx->h, 4 << 20);
	fx->j = test_calloc(1, sizeof(*fx->j));
	fx->j->magic = VQ_JOURNAL_MAGIC;
	fx->h.host.vq_journal = fx->j;
	assert_int_equal(virtio_dev_init(&fx->dev.vdev, "hold", 2, &hold_ops, &fx->dev,
					 &fx->h.host, 1, QSIZE, 0, 4), 0);
	vqd_attach(&fx->h, &fx->dev.vdev);
	vqd_set_features(&fx->dev.vdev, ~0ull);
	fx->dev.vdev.vqs[0].msix_vector = 1;
	vqd_queue_init(&fx->d, &fx->h, &fx->dev.vdev.vqs[0], QSIZE);
	vqd_driver_ok(&fx->dev.vdev);
	inflight_init(&fx->f, &fx->h.host, "blk", count_raise, fx);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	inflight_stop(&fx->f);
	inflight_fini(&fx->f);
	virtio_dev_destroy(&fx->dev.vdev);
	vqd_host_fini(&fx->h);
	test_free(fx->j);
	test_free(fx);
	return 0;
}

/* A read request as Linux makes it: header, 512 bytes of data, status. */
static uint16_t add_read(struct fixture *fx)
{
	uint64_t hdr = vqd_alloc(&fx->h, 16), data = vqd_alloc(&fx->h, 512);
	uint64_t st = vqd_alloc(&fx->h, 1);
	struct vqd_seg segs[] = { { hdr, 16, false }, { data, 512, true }, { st, 1, true } };
	struct virtio_blk_outhdr *h = vqd_ptr(&fx->h, hdr, 16);
	uint16_t head;

	h->type = VIRTIO_BLK_T_IN;
	*(uint8_t *)vqd_ptr(&fx->h, st, 1) = STATUS_UNSET;
	head = vqd_add(&fx->d, segs, 3);
	fx->status[head] = st;
	return head;
}

static uint8_t status_of(struct fixture *fx, uint16_t head)
{
	return *(uint8_t *)vqd_ptr(&fx->h, fx->status[head], 1);
}

/* The driver rings and the device takes what is there. */
static void kick(struct fixture *fx)
{
	virtq_kick(&fx->dev.vdev.vqs[0]);
	vqd_poll(&fx->h);
}

/* The device answers its i-th held request: status OK, pushed, interrupt. */
static void hold_complete(struct fixture *fx, unsigned i)
{
	struct virtq *vq = &fx->dev.vdev.vqs[0];
	struct virtq_req *r = &fx->dev.reqs[i];

	*(uint8_t *)vqd_ptr(&fx->h, fx->status[r->head], 1) = VIRTIO_BLK_S_OK;
	pthread_mutex_lock(&fx->dev.vdev.lock);
	virtq_push(vq, r, 1);
	pthread_mutex_unlock(&fx->dev.vdev.lock);
}

static uint16_t used_idx(struct fixture *fx)
{
	struct vring_used *u = vqd_ptr(&fx->h, fx->d.used, 6 + 8ull * QSIZE);

	return u->idx;
}

/* Each head answered once with IOERR and a used length of 1, nothing else. */
static void expect_answers(struct fixture *fx, const uint16_t *heads, unsigned n)
{
	bool seen[QSIZE] = { false };
	uint32_t id, len;

	for (unsigned i = 0; i < n; i++) {
		assert_true(vqd_used(&fx->d, &id, &len));
		assert_true(id < QSIZE);
		assert_false(seen[id]);
		seen[id] = true;
		assert_int_equal(len, 1);
		assert_int_equal(status_of(fx, (uint16_t)id), VIRTIO_BLK_S_IOERR);
	}
	for (unsigned i = 0; i < n; i++)
		assert_true(seen[heads[i]]);
	assert_false(vqd_used(&fx->d, &id, &len));
}

static void test_journal_follows_the_queue(void **state)
{
	struct fixture *fx = *state;
	struct vq_journal_queue *q = &fx->j->q[0];
	uint16_t a = add_read(fx), b = add_read(fx);
	uint32_t id, len;

	kick(fx);
	assert_int_equal(fx->dev.held, 2);
	assert_int_equal(q->enabled, 1);
	assert_int_equal(q->size, QSIZE);
	assert_int_equal(q->desc, fx->d.desc);
	assert_int_equal(q->msix_vector, 1);
	assert_int_equal(q->next_avail, 2);
	assert_int_equal(q->taken[0], 1ull << a | 1ull << b);
	hold_complete(fx, 0);
	assert_true(vqd_used(&fx->d, &id, &len));
	assert_int_equal(q->taken[0], 1ull << b);
	assert_int_equal(q->completing, 0);
	/* A reset empties the record, disabled first. */
	pthread_mutex_lock(&fx->dev.vdev.lock);
	virtio_set_status(&fx->dev.vdev, 0);
	pthread_mutex_unlock(&fx->dev.vdev.lock);
	assert_int_equal(q->enabled, 0);
	assert_int_equal(q->taken[0], 0);
}

/* Killed after taking three and answering one: two errors, and later requests too. */
static void test_answers_taken_and_later(void **state)
{
	struct fixture *fx = *state;
	uint16_t heads[3], later[2];
	uint32_t id, len;

	for (unsigned i = 0; i < 3; i++)
		heads[i] = add_read(fx);
	kick(fx);
	hold_complete(fx, 1);
	assert_true(vqd_used(&fx->d, &id, &len));
	assert_int_equal(id, heads[1]);
	assert_int_equal(inflight_takeover(&fx->f, fx->j), 0);
	assert_int_equal(fx->f.answered, 2);
	expect_answers(fx, (uint16_t[]){ heads[0], heads[2] }, 2);
	assert_int_equal(status_of(fx, heads[1]), VIRTIO_BLK_S_OK);
	assert_int_equal(fx->raised[1], 1);
	/* The doorbell is the VMM's now; the driver wants to hear of the next one. */
	vqd_set_used_event(&fx->d, fx->d.used_seen);
	later[0] = add_read(fx);
	later[1] = add_read(fx);
	inflight_kick(&fx->f);
	expect_answers(fx, later, 2);
	assert_int_equal(fx->raised[1], 2);
	/* Handed back: nothing more is answered. */
	inflight_stop(&fx->f);
	add_read(fx);
	inflight_kick(&fx->f);
	assert_false(vqd_used(&fx->d, &id, &len));
	assert_false(inflight_active(&fx->f));
}

/* Killed between the taken bit and next_avail: the request is answered once. */
static void test_kill_inside_take(void **state)
{
	struct fixture *fx = *state;
	uint16_t a = add_read(fx), b = add_read(fx);

	kick(fx);
	fx->j->q[0].next_avail--; /* the store that did not happen */
	assert_int_equal(inflight_takeover(&fx->f, fx->j), 0);
	expect_answers(fx, (uint16_t[]){ a, b }, 2);
	assert_int_equal(used_idx(fx), 2);
}

/* Killed after the completion record and the used entry, before used->idx. */
static void test_kill_before_used_idx(void **state)
{
	struct fixture *fx = *state;
	struct vring_used *u = vqd_ptr(&fx->h, fx->d.used, 6 + 8ull * QSIZE);
	uint16_t a = add_read(fx);

	kick(fx);
	fx->j->q[0].completing = VQ_JOURNAL_COMPLETING | (uint64_t)a << 16 | 0;
	u->ring[0].id = a;
	u->ring[0].len = 1;
	*(uint8_t *)vqd_ptr(&fx->h, fx->status[a], 1) = VIRTIO_BLK_S_OK;
	assert_int_equal(inflight_takeover(&fx->f, fx->j), 0);
	expect_answers(fx, &a, 1);
	assert_int_equal(used_idx(fx), 1);
}

/* Killed after used->idx, before the taken bit was cleared: nothing to answer. */
static void test_kill_after_used_idx(void **state)
{
	struct fixture *fx = *state;
	uint16_t a = add_read(fx);
	uint32_t id, len;

	kick(fx);
	hold_complete(fx, 0);
	assert_true(vqd_used(&fx->d, &id, &len));
	fx->j->q[0].taken[0] |= 1ull << a;
	fx->j->q[0].completing = VQ_JOURNAL_COMPLETING | (uint64_t)a << 16 | 0;
	assert_int_equal(inflight_takeover(&fx->f, fx->j), 0);
	assert_int_equal(fx->f.answered, 0);
	assert_int_equal(used_idx(fx), 1);
	assert_int_equal(status_of(fx, a), VIRTIO_BLK_S_OK);
	assert_false(vqd_used(&fx->d, &id, &len));
}

/* One rule broken at a time: no takeover, no ring touched, a log line. */
static void refuse_after(void **state, void (*spoil)(struct fixture *fx))
{
	struct fixture *fx = *state;
	uint32_t id, len;

	add_read(fx);
	kick(fx);
	spoil(fx);
	assert_int_equal(inflight_takeover(&fx->f, fx->j), -EINVAL);
	assert_false(inflight_active(&fx->f));
	assert_false(vqd_used(&fx->d, &id, &len));
	assert_non_null(strstr(vqd_log(&fx->h), "journal is not usable"));
	add_read(fx);
	inflight_kick(&fx->f);
	assert_false(vqd_used(&fx->d, &id, &len));
}

static void bad_size(struct fixture *fx) { fx->j->q[0].size = 6; }
static void zero_size(struct fixture *fx) { fx->j->q[0].size = 0; }
static void big_size(struct fixture *fx) { fx->j->q[0].size = 2 * VIRTQ_MAX_SIZE; }
static void bad_enabled(struct fixture *fx) { fx->j->q[0].enabled = 7; }
static void bad_taken(struct fixture *fx) { fx->j->q[0].taken[0] |= 1ull << QSIZE; }
static void far_taken(struct fixture *fx) { fx->j->q[0].taken[511] = 1ull << 63; }
static void bad_ring(struct fixture *fx) { fx->j->q[0].used = 64ull << 20; }
static void odd_ring(struct fixture *fx) { fx->j->q[0].desc += 8; }

static void bad_completing(struct fixture *fx)
{
	fx->j->q[0].completing = VQ_JOURNAL_COMPLETING | (uint64_t)QSIZE << 16;
}

static void stray_completing(struct fixture *fx)
{
	fx->j->q[0].completing = VQ_JOURNAL_COMPLETING | 5; /* used->idx is 0 */
}

static void bad_features(struct fixture *fx)
{
	fx->j->q[1] = fx->j->q[0];
	fx->j->q[1].features = 0;
}

#define REFUSES(name, spoil)                                                           \
	static void name(void **state)                                                 \
	{                                                                              \
		refuse_after(state, spoil);                                            \
	}
REFUSES(test_refuses_size, bad_size)
REFUSES(test_refuses_size_zero, zero_size)
REFUSES(test_refuses_size_too_big, big_size)
REFUSES(test_refuses_enabled, bad_enabled)
REFUSES(test_refuses_taken_past_size, bad_taken)
REFUSES(test_refuses_taken_far, far_taken)
REFUSES(test_refuses_ring_outside_ram, bad_ring)
REFUSES(test_refuses_misaligned_ring, odd_ring)
REFUSES(test_refuses_completing_head, bad_completing)
REFUSES(test_refuses_completing_mismatch, stray_completing)
REFUSES(test_refuses_mixed_features, bad_features)

/* A taken head whose chain loops: the queue is left alone, nothing crashes. */
static void test_hostile_chain(void **state)
{
	struct fixture *fx = *state;
	uint16_t a = add_read(fx);

	kick(fx);
	vqd_desc(&fx->d, (uint16_t)(a + 2))->flags |= VRING_DESC_F_NEXT;
	vqd_desc(&fx->d, (uint16_t)(a + 2))->next = a;
	assert_int_equal(inflight_takeover(&fx->f, fx->j), 0);
	assert_int_equal(fx->f.answered, 0);
	assert_int_equal(used_idx(fx), 0);
	inflight_kick(&fx->f); /* a broken queue stays quiet */
	assert_int_equal(used_idx(fx), 0);
}

static void test_no_queue(void **state)
{
	struct fixture *fx = *state;

	fx->j->q[0].enabled = 0;
	assert_int_equal(inflight_takeover(&fx->f, fx->j), -ENOENT);
	assert_false(inflight_active(&fx->f));
}

/*
 * The proxy's hooks for guest accesses to a failed device: a 2-byte BAR
 * write (a doorbell) kicks the responder, a 1-byte one (device_status: the
 * driver resets the device and frees its rings) hands the rings back, and
 * so does a config write that turns bus mastering off.
 */
static struct proxy *hooked_proxy(struct fixture *fx, uint16_t *answered)
{
	struct proxy *p = test_calloc(1, sizeof(*p));

	p->responder = &fx->f;
	assert_int_equal(inflight_takeover(&fx->f, fx->j), 0);
	*answered = add_read(fx);
	proxy_inflight_bar_write(p, 2);
	expect_answers(fx, answered, 1);
	return p;
}

static void expect_quiet(struct fixture *fx, struct proxy *p)
{
	uint32_t id, len;

	assert_false(inflight_active(&fx->f));
	add_read(fx);
	proxy_inflight_bar_write(p, 2);
	assert_false(vqd_used(&fx->d, &id, &len));
	test_free(p);
}

static void test_proxy_status_write(void **state)
{
	struct fixture *fx = *state;
	uint16_t a;
	struct proxy *p = hooked_proxy(fx, &a);

	proxy_inflight_bar_write(p, 1);
	expect_quiet(fx, p);
}

static void test_proxy_bus_master_off(void **state)
{
	struct fixture *fx = *state;
	uint16_t a;
	struct proxy *p = hooked_proxy(fx, &a);

	proxy_inflight_config_write(p, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	proxy_inflight_config_write(p, PCI_STATUS, 2, 0); /* not COMMAND */
	assert_true(inflight_active(&fx->f));
	proxy_inflight_config_write(p, PCI_COMMAND, 1, PCI_COMMAND_MEMORY);
	expect_quiet(fx, p);
}

/* The memfd the VMM gives: sealed against resizing, header set. */
static void test_journal_memfd(void **state)
{
	struct inflight_journal j;

	(void)state;
	assert_int_equal(inflight_journal_create(&j), 0);
	assert_true(j.fd >= 0);
	assert_int_equal(j.map->magic, VQ_JOURNAL_MAGIC);
	assert_int_equal(j.map->version, VQ_JOURNAL_VERSION);
	assert_int_not_equal(ftruncate(j.fd, 4096), 0);
	inflight_journal_destroy(&j);
	assert_int_equal(j.fd, -1);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_journal_follows_the_queue),
		T(test_answers_taken_and_later),
		T(test_kill_inside_take),
		T(test_kill_before_used_idx),
		T(test_kill_after_used_idx),
		T(test_refuses_size),
		T(test_refuses_size_zero),
		T(test_refuses_size_too_big),
		T(test_refuses_enabled),
		T(test_refuses_taken_past_size),
		T(test_refuses_taken_far),
		T(test_refuses_ring_outside_ram),
		T(test_refuses_misaligned_ring),
		T(test_refuses_completing_head),
		T(test_refuses_completing_mismatch),
		T(test_refuses_mixed_features),
		T(test_hostile_chain),
		T(test_no_queue),
		T(test_proxy_status_write),
		T(test_proxy_bus_master_off),
		cmocka_unit_test(test_journal_memfd),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
