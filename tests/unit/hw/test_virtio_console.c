/* virtio-console through its device kind: file output, the UNIX socket. */
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_ids.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "hw/virtio/devices.h"
#include "vq_driver.h"

#define QSIZE 16
#define RXQ 0
#define TXQ 1

struct fixture {
	struct vqd_host h;
	struct device dev;
	struct virtio_dev *vdev; /* first in the device's state */
	struct vq_driver rx, tx;
	char dir[64], path[128];
	int client;
};

static struct fixture *new_fixture(void)
{
	struct fixture *f = test_calloc(1, sizeof(*f));

	vqd_host_init(&f->h, 16 << 20);
	strcpy(f->dir, "/tmp/splitvm-con-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->client = -1;
	return f;
}

static void start(struct fixture *f, const char *key)
{
	char spec[256];

	snprintf(f->path, sizeof(f->path), "%s/%s", f->dir, key);
	snprintf(spec, sizeof(spec), "virtio-console,%s=%s", key, f->path);
	assert_int_equal(device_parse(&f->dev, spec, &f->h.log), 0);
	assert_int_equal(device_create(&f->dev, &f->h.host), 0);
	f->vdev = f->dev.state;
	assert_int_equal(f->vdev->device_id, VIRTIO_ID_CONSOLE);
	assert_int_equal(f->vdev->nqueues, 2);
	vqd_set_features(f->vdev, ~0ull);
	vqd_queue_init(&f->rx, &f->h, &f->vdev->vqs[RXQ], QSIZE);
	vqd_queue_init(&f->tx, &f->h, &f->vdev->vqs[TXQ], QSIZE);
	vqd_driver_ok(f->vdev);
	vqd_poll(&f->h);
}

static int setup_file(void **state)
{
	struct fixture *f = new_fixture();
	char path[128];
	int fd;

	/* An existing file is truncated. */
	snprintf(path, sizeof(path), "%s/file", f->dir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	assert_int_equal(write(fd, "old contents", 12), 12);
	close(fd);
	start(f, "file");
	*state = f;
	return 0;
}

static int setup_socket(void **state)
{
	struct fixture *f = new_fixture();

	start(f, "socket");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char path[128];

	if (f->client >= 0)
		close(f->client);
	device_destroy(&f->dev);
	snprintf(path, sizeof(path), "%s/file", f->dir);
	unlink(path);
	assert_int_equal(rmdir(f->dir), 0); /* the socket file went away too */
	vqd_host_fini(&f->h);
	test_free(f);
	return 0;
}

/* The guest writes text to the console (one segment per piece). */
static uint16_t guest_tx(struct fixture *f, const char *const *pieces, unsigned n)
{
	struct vqd_seg segs[8];
	uint16_t head;

	for (unsigned i = 0; i < n; i++) {
		size_t len = strlen(pieces[i]);

		segs[i] = (struct vqd_seg){ vqd_alloc(&f->h, len), (uint32_t)len, false };
		memcpy(vqd_ptr(&f->h, segs[i].addr, len), pieces[i], len);
	}
	head = vqd_add(&f->tx, segs, n);
	virtq_kick(&f->vdev->vqs[TXQ]);
	vqd_poll(&f->h);
	return head;
}

static uint64_t guest_rx(struct fixture *f, uint32_t len)
{
	struct vqd_seg s = { vqd_alloc(&f->h, len), len, true };

	vqd_add(&f->rx, &s, 1);
	virtq_kick(&f->vdev->vqs[RXQ]);
	vqd_poll(&f->h);
	return s.addr;
}

static size_t file_contents(struct fixture *f, char *buf, size_t cap)
{
	int fd = open(f->path, O_RDONLY);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, buf, cap - 1);
	close(fd);
	assert_true(n >= 0);
	buf[n] = '\0';
	return (size_t)n;
}

static void test_file_output(void **state)
{
	struct fixture *f = *state;
	const char *const one[] = { "second ", "console\n" };
	const char *const two[] = { "more\n" };
	uint32_t id, len;
	uint16_t head;
	char buf[128];

	assert_int_equal(file_contents(f, buf, sizeof(buf)), 0);
	head = guest_tx(f, one, 2);
	assert_true(vqd_used(&f->tx, &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(len, 0);
	guest_tx(f, two, 1);
	assert_true(vqd_used(&f->tx, &id, &len));
	file_contents(f, buf, sizeof(buf));
	assert_string_equal(buf, "second console\nmore\n");
	/* No input in file mode: receive buffers stay with the device. */
	guest_rx(f, 16);
	assert_false(vqd_used(&f->rx, &id, &len));
}

static void connect_client(struct fixture *f)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	strcpy(sa.sun_path, f->path);
	f->client = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(f->client, (struct sockaddr *)&sa, sizeof(sa)), 0);
	vqd_poll(&f->h); /* accepted */
}

static void test_socket_both_ways(void **state)
{
	struct fixture *f = *state;
	const char *const out[] = { "to the ", "host" }, *const early[] = { "lost" };
	struct stat st;
	uint64_t buf;
	uint32_t id, len;
	char got[32];

	assert_int_equal(stat(f->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	/* Output before anyone listens is dropped, but completed. */
	guest_tx(f, early, 1);
	assert_true(vqd_used(&f->tx, &id, &len));
	connect_client(f);
	guest_tx(f, out, 2);
	assert_true(vqd_used(&f->tx, &id, &len));
	assert_int_equal(recv(f->client, got, sizeof(got), MSG_DONTWAIT), 11);
	assert_memory_equal(got, "to the host", 11);
	/* Input waits for a buffer, then fills it. */
	assert_int_equal(send(f->client, "typed", 5, 0), 5);
	vqd_poll(&f->h);
	assert_false(vqd_used(&f->rx, &id, &len));
	buf = guest_rx(f, 64);
	assert_true(vqd_used(&f->rx, &id, &len));
	assert_int_equal(len, 5);
	assert_memory_equal(vqd_ptr(&f->h, buf, 5), "typed", 5);
	assert_true(f->h.queue_irqs[RXQ] >= 1);
	/* A buffer posted first is filled when bytes come. */
	buf = guest_rx(f, 64);
	assert_false(vqd_used(&f->rx, &id, &len));
	assert_int_equal(send(f->client, "x", 1, 0), 1);
	vqd_poll(&f->h);
	assert_true(vqd_used(&f->rx, &id, &len));
	assert_int_equal(len, 1);
}

/* A client that does not read holds the guest's write, never the loop. */
static void test_socket_backpressure(void **state)
{
	struct fixture *f = *state;
	size_t big = 4 << 20, got = 0;
	struct vqd_seg seg = { vqd_alloc(&f->h, big), (uint32_t)big, false };
	uint8_t *src = vqd_ptr(&f->h, seg.addr, big);
	uint8_t *dst = malloc(big);
	uint32_t id, len;
	ssize_t n;

	connect_client(f);
	for (size_t i = 0; i < big; i++)
		src[i] = (uint8_t)(i * 7);
	vqd_add(&f->tx, &seg, 1);
	virtq_kick(&f->vdev->vqs[TXQ]);
	vqd_poll(&f->h);
	assert_false(vqd_used(&f->tx, &id, &len)); /* the socket is full */
	while (got < big) {
		n = recv(f->client, dst + got, big - got, MSG_DONTWAIT);
		if (n > 0)
			got += (size_t)n;
		evloop_run_once(&f->h.loop, n > 0 ? 0 : 100);
	}
	vqd_poll(&f->h);
	assert_true(vqd_used(&f->tx, &id, &len));
	assert_memory_equal(src, dst, big);
	free(dst);
}

/* The client leaves; the next one gets the console. */
static void test_socket_reconnect(void **state)
{
	struct fixture *f = *state;
	const char *const hi[] = { "hi" };
	uint32_t id, len;
	char got[8];

	connect_client(f);
	close(f->client);
	f->client = -1;
	guest_rx(f, 16);
	vqd_poll(&f->h);
	assert_false(vqd_used(&f->rx, &id, &len));
	connect_client(f);
	guest_tx(f, hi, 1);
	assert_int_equal(recv(f->client, got, sizeof(got), MSG_DONTWAIT), 2);
	assert_int_equal(send(f->client, "k", 1, 0), 1);
	vqd_poll(&f->h);
	assert_true(vqd_used(&f->rx, &id, &len));
	assert_int_equal(len, 1);
}

/* A driver reset drops the requests the device held. */
static void test_reset(void **state)
{
	struct fixture *f = *state;

	connect_client(f);
	guest_rx(f, 16);
	pthread_mutex_lock(&f->vdev->lock);
	virtio_reset(f->vdev);
	pthread_mutex_unlock(&f->vdev->lock);
	assert_int_equal(send(f->client, "z", 1, 0), 1);
	vqd_poll(&f->h); /* nothing to fill, nothing written */
	assert_int_equal(f->vdev->status, 0);
}

static void bad_spec(const char *spec, const char *why)
{
	struct vqd_host h;
	struct device dev;

	vqd_host_init(&h, 1 << 20);
	assert_int_equal(device_parse(&dev, spec, &h.log), -EINVAL);
	assert_non_null(strstr(vqd_log(&h), why));
	vqd_host_fini(&h);
}

static void test_bad_specs(void **state)
{
	char spec[300], dir[] = "/tmp/splitvm-con-XXXXXX", file[64];
	struct stat st;
	int fd;

	(void)state;
	bad_spec("virtio-console", "one of file=PATH or socket=PATH");
	bad_spec("virtio-console,file=/tmp/a,socket=/tmp/b", "one of file=PATH");
	bad_spec("virtio-console,file=", "one of file=PATH");
	bad_spec("virtio-console,file=/nonexistent/dir/x", "cannot create /nonexistent/dir/x");
	memset(spec, 0, sizeof(spec));
	strcpy(spec, "virtio-console,socket=/tmp/");
	memset(spec + strlen(spec), 'a', 150);
	bad_spec(spec, "socket path too long");
	/* A file in the way of the socket is left alone. */
	assert_non_null(mkdtemp(dir));
	snprintf(file, sizeof(file), "%s/f", dir);
	fd = open(file, O_WRONLY | O_CREAT, 0600);
	close(fd);
	snprintf(spec, sizeof(spec), "virtio-console,socket=%s", file);
	bad_spec(spec, "cannot listen on");
	assert_int_equal(stat(file, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	unlink(file);
	rmdir(dir);
}

/* A socket left by an earlier run is replaced. */
static int setup_stale_socket(void **state)
{
	struct fixture *f = new_fixture();
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/socket", f->dir);
	assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(s);
	start(f, "socket");
	*state = f;
	return 0;
}

static void test_stale_socket(void **state)
{
	connect_client(*state);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_file_output, setup_file, teardown),
		cmocka_unit_test_setup_teardown(test_socket_both_ways, setup_socket, teardown),
		cmocka_unit_test_setup_teardown(test_socket_backpressure, setup_socket, teardown),
		cmocka_unit_test_setup_teardown(test_socket_reconnect, setup_socket, teardown),
		cmocka_unit_test_setup_teardown(test_reset, setup_socket, teardown),
		cmocka_unit_test(test_bad_specs),
		cmocka_unit_test_setup_teardown(test_stale_socket, setup_stale_socket, teardown),
	};

	return cmocka_run_group_tests_name("virtio-console", tests, NULL, NULL);
}
