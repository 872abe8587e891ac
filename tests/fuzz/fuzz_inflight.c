/*
 * libFuzzer target: the failed responder (remote/inflight.h) against a
 * journal and rings the dead device process and the guest may have left
 * in any state.
 *
 * Input: bytes [0, 64) are queue 0's journal record (rings, features,
 * size, vector, next avail, enabled, completion record), [64, 128) its
 * first 512 taken bits, [128, 192) queue 1's record; the rest is the first
 * 64 KiB of guest RAM (rings and buffers). The responder takes over,
 * answers, is kicked once more, and stops. Any crash, sanitizer report or
 * access outside guest RAM is a bug; a refused journal is a right answer.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_host.h"
#include "remote/inflight.h"

#define RECORD_BYTES offsetof(struct vq_journal_queue, taken)
#define TAKEN_BYTES 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The virtio core's transport entry point; nothing is plugged in here. */
int virtio_pci_attach(struct virtio_dev *vdev)
{
	(void)vdev;
	return -1;
}

static void count_raise(void *opaque, uint16_t vector)
{
	(*(unsigned *)opaque)++;
	(void)vector;
}

struct env {
	struct fuzz_host h;
	struct vq_journal j;
	struct inflight f;
	unsigned raised;
};

static struct env *env(void)
{
	static struct env *e;

	if (!e) {
		e = calloc(1, sizeof(*e));
		if (!e)
			abort();
		fuzz_host_init(&e->h);
		inflight_init(&e->f, &e->h.host, "fuzz", count_raise, &e->raised);
	}
	return e;
}

/* Copies up to len bytes of the input at *at into dst; the rest stays zero. */
static void take(void *dst, size_t len, const uint8_t *data, size_t size, size_t *at)
{
	size_t n = *at < size ? size - *at : 0;

	if (n > len)
		n = len;
	memcpy(dst, data + *at, n);
	*at += len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_Static_assert(RECORD_BYTES == 64, "journal record header");
	struct env *e = env();
	size_t at = 0;

	memset(&e->j, 0, sizeof(e->j));
	take(&e->j.q[0], RECORD_BYTES, data, size, &at);
	take(e->j.q[0].taken, TAKEN_BYTES, data, size, &at);
	take(&e->j.q[1], RECORD_BYTES, data, size, &at);
	fuzz_load_ram(&e->h, at < size ? data + at : data, at < size ? size - at : 0);
	if (inflight_takeover(&e->f, &e->j) == 0)
		inflight_kick(&e->f);
	inflight_stop(&e->f);
	return 0;
}
