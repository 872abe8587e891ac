/*
 * The link's wire format against hand-built bytes in QEMU 7.2's x86-64
 * layout (docs/mpqemu.md), round trips of every command, fd passing,
 * request/reply with timeouts, partial reads and writes.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "link_test.h"

/* Header {int cmd; 4 bytes padding; size_t size}, little-endian. */
#define HDR(cmd, size) (cmd), 0, 0, 0, 0, 0, 0, 0, (size), 0, 0, 0, 0, 0, 0, 0

static const uint8_t cfgread_vendor[] = {
	HDR(0x03, 0x0c),
	0x00, 0x00, 0x00, 0x00, /* addr */
	0x00, 0x00, 0x00, 0x00, /* val */
	0x02, 0x00, 0x00, 0x00, /* len */
};

static const uint8_t cfgwrite_cmd[] = {
	HDR(0x02, 0x0c),
	0x04, 0x00, 0x00, 0x00,
	0x07, 0x01, 0x00, 0x00,
	0x02, 0x00, 0x00, 0x00,
};

static const uint8_t bar_write_mem[] = {
	HDR(0x04, 0x18),
	0x10, 0x10, 0xbf, 0xfe, 0x00, 0x00, 0x00, 0x00, /* addr */
	0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, /* val */
	0x04, 0x00, 0x00, 0x00,                         /* size */
	0x01, 0x00, 0x00, 0x00,                         /* memory, padding */
};

static const uint8_t bar_read_io[] = {
	HDR(0x05, 0x18),
	0x04, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x02, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00,
};

static const uint8_t ret_val[] = {
	HDR(0x01, 0x08),
	0x86, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

static const uint8_t ret_empty[] = { HDR(0x01, 0x00) };
static const uint8_t set_irqfd[] = { HDR(0x06, 0x00) };
static const uint8_t device_reset[] = { HDR(0x07, 0x00) };

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* SYNC_SYSMEM: gpas[8] at 0, sizes[8] at 64, offsets[8] at 128 of 192. */
static void sysmem_bytes(uint8_t out[16 + 192])
{
	static const uint8_t hdr[] = { HDR(0x00, 0xc0) };

	memset(out, 0, 16 + 192);
	memcpy(out, hdr, sizeof(hdr));
	put_le64(out + 16 + 0, 0);
	put_le64(out + 16 + 8, 0x100000);
	put_le64(out + 16 + 64, 0xa0000);
	put_le64(out + 16 + 72, 0x7f00000);
	put_le64(out + 16 + 128, 0);
	put_le64(out + 16 + 136, 0x100000);
}

static void sysmem_msg(struct link_msg *m, const int *fds)
{
	link_msg_sysmem(m);
	assert_int_equal(link_msg_sysmem_add(m, fds[0], 0, 0xa0000, 0), 0);
	assert_int_equal(link_msg_sysmem_add(m, fds[1], 0x100000, 0x7f00000, 0x100000), 0);
}

/* Sends m from a link of role `from` and compares the bytes the peer gets. */
static void check_encoding(enum link_role from, const struct link_msg *m,
			   const uint8_t *want, size_t len, unsigned want_fds)
{
	struct lt_env e;
	uint8_t got[512];
	int fds[16];
	unsigned nfds;

	lt_setup(&e, from);
	assert_int_equal(link_send(&e.link, m, 1000), 0);
	assert_int_equal(lt_raw_recv(e.raw, got, sizeof(got), fds, &nfds), len);
	assert_memory_equal(got, want, len);
	assert_int_equal(nfds, want_fds);
	lt_close_all(fds, nfds);
	lt_teardown(&e);
}

/* Feeds bytes to a link of role `to` and returns what it decoded. */
static void check_decoding(enum link_role to, const uint8_t *bytes, size_t len,
			   const int *fds, unsigned nfds, struct link_msg *out)
{
	struct lt_env e;

	lt_setup(&e, to);
	lt_raw_send(e.raw, bytes, len, fds, nfds);
	assert_int_equal(link_recv(&e.link, out, 1000), 1);
	assert_int_equal(out->size, len - LINK_HDR_SIZE);
	assert_int_equal(out->nfds, nfds);
	for (unsigned i = 0; i < out->nfds; i++) {
		struct stat a, b;

		/* A new descriptor of the same open file. */
		assert_int_not_equal(out->fds[i], fds[i]);
		assert_int_equal(fstat(out->fds[i], &a), 0);
		assert_int_equal(fstat(fds[i], &b), 0);
		assert_true(a.st_ino == b.st_ino && a.st_dev == b.st_dev);
		assert_true(fcntl(out->fds[i], F_GETFD) & FD_CLOEXEC);
	}
	link_msg_close_fds(out);
	lt_teardown(&e);
}

static void test_header(void **state)
{
	uint8_t h[LINK_HDR_SIZE];
	const uint8_t want[] = { 0x05, 0, 0, 0, 0, 0, 0, 0, 0x18, 0, 0, 0, 0, 0, 0, 0 };

	link_hdr_encode(h, LINK_BAR_READ, 24);
	assert_memory_equal(h, want, sizeof(want));
	assert_int_equal(LINK_HDR_SIZE, 16);
	assert_string_equal(link_cmd_name(LINK_DEVICE_RESET), "DEVICE_RESET");
	assert_string_equal(link_cmd_name(99), "unknown");
}

static void test_cfg_wire(void **state)
{
	struct link_msg m, d;

	link_msg_cfg(&m, LINK_PCI_CFGREAD, 0, 0xdead, 2); /* val ignored in a read */
	check_encoding(LINK_ROLE_PROXY, &m, cfgread_vendor, sizeof(cfgread_vendor), 0);
	link_msg_cfg(&m, LINK_PCI_CFGWRITE, 4, 0x107, 2);
	check_encoding(LINK_ROLE_PROXY, &m, cfgwrite_cmd, sizeof(cfgwrite_cmd), 0);
	check_decoding(LINK_ROLE_REMOTE, cfgwrite_cmd, sizeof(cfgwrite_cmd), NULL, 0, &d);
	assert_int_equal(d.cmd, LINK_PCI_CFGWRITE);
	assert_int_equal(d.data.conf.addr, 4);
	assert_int_equal(d.data.conf.val, 0x107);
	assert_int_equal(d.data.conf.len, 2);
}

static void test_bar_wire(void **state)
{
	struct link_msg m, d;

	link_msg_bar(&m, LINK_BAR_WRITE, 0xfebf1010, 0x1122334455667788ull, 4, true);
	check_encoding(LINK_ROLE_PROXY, &m, bar_write_mem, sizeof(bar_write_mem), 0);
	link_msg_bar(&m, LINK_BAR_READ, 0xc004, 0, 2, false);
	check_encoding(LINK_ROLE_PROXY, &m, bar_read_io, sizeof(bar_read_io), 0);
	check_decoding(LINK_ROLE_REMOTE, bar_write_mem, sizeof(bar_write_mem), NULL, 0, &d);
	assert_int_equal(d.cmd, LINK_BAR_WRITE);
	assert_true(d.data.bar.addr == 0xfebf1010);
	assert_true(d.data.bar.val == 0x1122334455667788ull);
	assert_int_equal(d.data.bar.size, 4);
	assert_int_equal(d.data.bar.memory, 1);
	check_decoding(LINK_ROLE_REMOTE, bar_read_io, sizeof(bar_read_io), NULL, 0, &d);
	assert_int_equal(d.data.bar.memory, 0);
}

static void test_ret_wire(void **state)
{
	struct lt_env e;
	uint8_t got[64];
	int fds[4];
	unsigned nfds;
	struct link_msg d;

	lt_setup(&e, LINK_ROLE_REMOTE);
	assert_int_equal(link_send_ret(&e.link, 0x8086, false, 1000), 0);
	assert_int_equal(lt_raw_recv(e.raw, got, sizeof(got), fds, &nfds), sizeof(ret_val));
	assert_memory_equal(got, ret_val, sizeof(ret_val));
	assert_int_equal(link_send_ret(&e.link, 123, true, 1000), 0);
	assert_int_equal(lt_raw_recv(e.raw, got, sizeof(got), fds, &nfds), sizeof(ret_empty));
	assert_memory_equal(got, ret_empty, sizeof(ret_empty));
	lt_teardown(&e);
	check_decoding(LINK_ROLE_PROXY, ret_val, sizeof(ret_val), NULL, 0, &d);
	assert_true(d.cmd == LINK_RET && d.data.u64 == 0x8086);
	check_decoding(LINK_ROLE_PROXY, ret_empty, sizeof(ret_empty), NULL, 0, &d);
	assert_true(d.cmd == LINK_RET && d.size == 0);
}

static void test_irqfd_reset_wire(void **state)
{
	struct link_msg m, d;
	int efd[2];

	lt_eventfds(efd, 2);
	link_msg_irqfd(&m, efd[0], efd[1]);
	check_encoding(LINK_ROLE_PROXY, &m, set_irqfd, sizeof(set_irqfd), 2);
	check_decoding(LINK_ROLE_REMOTE, set_irqfd, sizeof(set_irqfd), efd, 2, &d);
	assert_int_equal(d.cmd, LINK_SET_IRQFD);
	link_msg_reset(&m);
	check_encoding(LINK_ROLE_PROXY, &m, device_reset, sizeof(device_reset), 0);
	check_decoding(LINK_ROLE_REMOTE, device_reset, sizeof(device_reset), NULL, 0, &d);
	assert_int_equal(d.cmd, LINK_DEVICE_RESET);
	lt_close_all(efd, 2);
}

static void test_sysmem_wire(void **state)
{
	uint8_t want[16 + 192];
	struct link_msg m, d;
	int mfd[2];

	for (int i = 0; i < 2; i++) {
		mfd[i] = memfd_create("lt-ram", MFD_CLOEXEC);
		assert_true(mfd[i] >= 0);
	}
	sysmem_bytes(want);
	sysmem_msg(&m, mfd);
	check_encoding(LINK_ROLE_PROXY, &m, want, sizeof(want), 2);
	check_decoding(LINK_ROLE_REMOTE, want, sizeof(want), mfd, 2, &d);
	assert_int_equal(d.cmd, LINK_SYNC_SYSMEM);
	assert_true(d.data.sysmem.gpas[1] == 0x100000);
	assert_true(d.data.sysmem.sizes[1] == 0x7f00000);
	assert_true(d.data.sysmem.offsets[1] == 0x100000);
	lt_close_all(mfd, 2);
}

/* Two links over one socketpair: every request and its answer. */
struct duo {
	struct logger log;
	struct link proxy, remote;
	int base_fds;
};

static void duo_setup(struct duo *d)
{
	int sv[2];

	d->base_fds = fds_open_count();
	d->log = (struct logger){ .level = LOG_ERROR, .fd = 2 };
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(link_init(&d->proxy, sv[0], LINK_ROLE_PROXY, &d->log, "proxy"), 0);
	assert_int_equal(link_init(&d->remote, sv[1], LINK_ROLE_REMOTE, &d->log, "remote"), 0);
}

static void duo_teardown(struct duo *d)
{
	link_destroy(&d->proxy);
	link_destroy(&d->remote);
	assert_int_equal(fds_open_count(), d->base_fds);
}

static void test_roundtrip_all(void **state)
{
	struct link_msg reqs[7], got;
	struct duo d;
	int fds[4];

	lt_eventfds(fds, 4);
	duo_setup(&d);
	link_msg_sysmem(&reqs[0]);
	for (int i = 0; i < 2; i++)
		link_msg_sysmem_add(&reqs[0], fds[i], 0x100000ull * i, 0x1000, 0x2000ull * i);
	link_msg_cfg(&reqs[1], LINK_PCI_CFGWRITE, 0x10, 0xfebf0000, 4);
	link_msg_cfg(&reqs[2], LINK_PCI_CFGREAD, 0xfff, 0, 1);
	link_msg_bar(&reqs[3], LINK_BAR_WRITE, 0xfebf0008, UINT64_MAX, 8, true);
	link_msg_bar(&reqs[4], LINK_BAR_READ, 0xfffe, 0, 2, false);
	link_msg_irqfd(&reqs[5], fds[2], fds[3]);
	link_msg_reset(&reqs[6]);
	for (int i = 0; i < 7; i++)
		assert_int_equal(link_send(&d.proxy, &reqs[i], 1000), 0);
	for (int i = 0; i < 7; i++) {
		assert_int_equal(link_recv(&d.remote, &got, 1000), 1);
		assert_int_equal(got.cmd, reqs[i].cmd);
		assert_int_equal(got.size, reqs[i].size);
		assert_memory_equal(&got.data, &reqs[i].data, got.size);
		assert_int_equal(got.nfds, reqs[i].nfds);
		link_msg_close_fds(&got);
	}
	assert_int_equal(link_recv_nb(&d.remote, &got), 0); /* nothing more */
	duo_teardown(&d);
	lt_close_all(fds, 4);
}

/* A device process on a thread: answers n requests with addr + 1. */
static void *echo_remote(void *arg)
{
	struct link *l = arg;
	struct link_msg m;

	while (link_recv(l, &m, 2000) == 1) {
		uint64_t v = m.cmd == LINK_PCI_CFGREAD ? m.data.conf.addr + 1 : m.data.bar.addr + 1;

		link_msg_close_fds(&m);
		if (link_send_ret(l, v, m.cmd == LINK_DEVICE_RESET, 1000))
			break;
	}
	return NULL;
}

static void test_call(void **state)
{
	struct link_msg req;
	struct duo d;
	pthread_t t;
	uint64_t v = 0;

	duo_setup(&d);
	assert_int_equal(pthread_create(&t, NULL, echo_remote, &d.remote), 0);
	for (uint32_t a = 0; a < 64; a += 4) {
		link_msg_cfg(&req, LINK_PCI_CFGREAD, a, 0, 4);
		assert_int_equal(link_call(&d.proxy, &req, &v, 1000), 0);
		assert_int_equal(v, a + 1);
	}
	link_msg_bar(&req, LINK_BAR_READ, 0xfe000000, 0, 8, true);
	assert_int_equal(link_call(&d.proxy, &req, &v, 1000), 0);
	assert_true(v == 0xfe000001);
	link_msg_reset(&req);
	v = 7;
	assert_int_equal(link_call(&d.proxy, &req, &v, 1000), 0);
	assert_int_equal(v, 0); /* empty RET */
	/* The device process leaves: the proxy sees -EPIPE at once. */
	shutdown(d.proxy.fd, SHUT_WR);
	pthread_join(t, NULL);
	link_msg_cfg(&req, LINK_PCI_CFGREAD, 0, 0, 4);
	shutdown(d.remote.fd, SHUT_RDWR);
	assert_int_equal(link_call(&d.proxy, &req, &v, 1000) < 0, 1);
	assert_true(link_broken(&d.proxy));
	duo_teardown(&d);
}

static void test_call_timeout(void **state)
{
	struct link_msg req, got;
	struct lt_env e;
	uint64_t v;

	lt_setup(&e, LINK_ROLE_PROXY);
	link_msg_cfg(&req, LINK_PCI_CFGREAD, 0, 0, 2);
	assert_int_equal(link_call(&e.link, &req, &v, 50), -ETIMEDOUT);
	assert_true(link_broken(&e.link));
	assert_non_null(strstr(lt_log(&e), "no reply to PCI_CFGREAD within 50 ms"));
	/* A late reply must not answer the next request: the link stays down. */
	lt_raw_msg(e.raw, LINK_RET, 8, "\1\0\0\0\0\0\0\0", 8, NULL, 0);
	assert_int_equal(link_call(&e.link, &req, &v, 50), -EPIPE);
	assert_int_equal(link_recv_nb(&e.link, &got), -EPIPE);
	lt_teardown(&e);
}

static void test_partial_reads(void **state)
{
	struct link_msg m;
	struct lt_env e;
	int efd[2];

	lt_eventfds(efd, 2);
	lt_setup(&e, LINK_ROLE_REMOTE);
	assert_int_equal(link_recv_nb(&e.link, &m), 0);
	/* A BAR write trickling in: 5 + 11 header bytes, then 24 in three steps. */
	lt_raw_send(e.raw, bar_write_mem, 5, NULL, 0);
	assert_int_equal(link_recv_nb(&e.link, &m), 0);
	lt_raw_send(e.raw, bar_write_mem + 5, 11, NULL, 0);
	assert_int_equal(link_recv_nb(&e.link, &m), 0);
	lt_raw_send(e.raw, bar_write_mem + 16, 1, NULL, 0);
	assert_int_equal(link_recv_nb(&e.link, &m), 0);
	lt_raw_send(e.raw, bar_write_mem + 17, 20, NULL, 0);
	assert_int_equal(link_recv_nb(&e.link, &m), 0);
	lt_raw_send(e.raw, bar_write_mem + 37, 3, NULL, 0);
	assert_int_equal(link_recv_nb(&e.link, &m), 1);
	assert_true(m.data.bar.val == 0x1122334455667788ull);
	/* fds ride with the first byte; the rest may come later. */
	lt_raw_send(e.raw, set_irqfd, 1, efd, 2);
	assert_int_equal(link_recv_nb(&e.link, &m), 0);
	lt_raw_send(e.raw, set_irqfd + 1, 15, NULL, 0);
	assert_int_equal(link_recv_nb(&e.link, &m), 1);
	assert_int_equal(m.nfds, 2);
	link_msg_close_fds(&m);
	/* Two messages queued at once come out one by one. */
	lt_raw_send(e.raw, device_reset, sizeof(device_reset), NULL, 0);
	lt_raw_send(e.raw, cfgread_vendor, sizeof(cfgread_vendor), NULL, 0);
	assert_int_equal(link_recv_nb(&e.link, &m), 1);
	assert_int_equal(m.cmd, LINK_DEVICE_RESET);
	assert_int_equal(link_recv_nb(&e.link, &m), 1);
	assert_int_equal(m.cmd, LINK_PCI_CFGREAD);
	assert_int_equal(link_recv(&e.link, &m, 20), -ETIMEDOUT); /* leaves the link up */
	assert_false(link_broken(&e.link));
	lt_teardown(&e);
	lt_close_all(efd, 2);
}

/* Fills the peer's socket so that sends must wait. */
static size_t fill_socket(int fd)
{
	static const uint8_t junk[4096];
	size_t total = 0;
	ssize_t n;

	while ((n = send(fd, junk, sizeof(junk), MSG_DONTWAIT)) > 0)
		total += (size_t)n;
	while ((n = send(fd, junk, 1, MSG_DONTWAIT)) > 0)
		total += (size_t)n;
	return total;
}

struct drainer {
	int fd;
	size_t junk;
	uint8_t tail[512];
	size_t tail_len;
};

static void *drain(void *arg)
{
	struct drainer *d = arg;
	uint8_t buf[4096];
	size_t left = d->junk;

	usleep(30000);
	while (left) {
		ssize_t n = read(d->fd, buf, left < sizeof(buf) ? left : sizeof(buf));

		if (n <= 0)
			return NULL;
		left -= (size_t)n;
	}
	while (d->tail_len < sizeof(bar_write_mem)) {
		ssize_t n = read(d->fd, d->tail + d->tail_len, sizeof(d->tail) - d->tail_len);

		if (n <= 0)
			break;
		d->tail_len += (size_t)n;
	}
	return NULL;
}

static void test_send_waits(void **state)
{
	struct drainer dr = { 0 };
	struct link_msg m;
	struct lt_env e;
	pthread_t t;

	lt_setup(&e, LINK_ROLE_PROXY);
	link_msg_bar(&m, LINK_BAR_WRITE, 0xfebf1010, 0x1122334455667788ull, 4, true);
	dr.fd = e.raw;
	dr.junk = fill_socket(e.link.fd);
	assert_true(dr.junk > 0);
	assert_int_equal(pthread_create(&t, NULL, drain, &dr), 0);
	assert_int_equal(link_send(&e.link, &m, 2000), 0);
	pthread_join(t, NULL);
	assert_int_equal(dr.tail_len, sizeof(bar_write_mem));
	assert_memory_equal(dr.tail, bar_write_mem, sizeof(bar_write_mem));
	/* Nobody drains: the send gives up and the link is down. */
	fill_socket(e.link.fd);
	assert_int_equal(link_send(&e.link, &m, 30), -ETIMEDOUT);
	assert_true(link_broken(&e.link));
	lt_teardown(&e);
}

static int check_ext_word(const struct link_msg *m, const char **why)
{
	if (m->data.raw[0] == 0xff) {
		*why = "reserved byte";
		return -EBADMSG;
	}
	return 0;
}

static void test_extensions(void **state)
{
	static const struct link_cmd_rule rules[] = {
		{ 4, 64, 0, 1, LINK_ROLE_PROXY, check_ext_word },
		{ 0 }, /* a hole: unknown */
	};
	static const struct link_ext ext = { rules, 2 };
	struct link_msg m;
	struct lt_env e;

	/* Accepted where the table is installed (after negotiation) ... */
	lt_setup(&e, LINK_ROLE_REMOTE);
	e.link.ext = &ext;
	lt_raw_msg(e.raw, LINK_EXT_BASE, 8, "\1\2\3\4\5\6\7\10", 8, NULL, 0);
	assert_int_equal(link_recv(&e.link, &m, 1000), 1);
	assert_int_equal(m.cmd, LINK_EXT_BASE);
	assert_int_equal(m.size, 8);
	lt_raw_msg(e.raw, LINK_EXT_BASE, 4, "\xff\0\0\0", 4, NULL, 0);
	assert_int_equal(link_recv(&e.link, &m, 1000), -EBADMSG);
	assert_non_null(strstr(lt_log(&e), "reserved byte"));
	lt_teardown(&e);
	lt_setup(&e, LINK_ROLE_REMOTE);
	e.link.ext = &ext;
	lt_raw_msg(e.raw, LINK_EXT_BASE + 1, 0, NULL, 0, NULL, 0);
	assert_int_equal(link_recv(&e.link, &m, 1000), -EBADMSG);
	lt_teardown(&e);
	/* ... and an unknown command everywhere else, as QEMU treats it. */
	lt_setup(&e, LINK_ROLE_REMOTE);
	lt_raw_msg(e.raw, LINK_EXT_BASE, 8, "\1\2\3\4\5\6\7\10", 8, NULL, 0);
	assert_int_equal(link_recv(&e.link, &m, 1000), -EBADMSG);
	assert_non_null(strstr(lt_log(&e), "unknown command 4096"));
	lt_teardown(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_cfg_wire),
		cmocka_unit_test(test_bar_wire),
		cmocka_unit_test(test_ret_wire),
		cmocka_unit_test(test_irqfd_reset_wire),
		cmocka_unit_test(test_sysmem_wire),
		cmocka_unit_test(test_roundtrip_all),
		cmocka_unit_test(test_call),
		cmocka_unit_test(test_call_timeout),
		cmocka_unit_test(test_partial_reads),
		cmocka_unit_test(test_send_waits),
		cmocka_unit_test(test_extensions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
