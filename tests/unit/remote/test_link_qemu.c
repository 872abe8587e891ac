/*
 * Interop probe: our link as the proxy, QEMU 7.2 as the device process
 *   qemu-system-x86_64 -machine x-remote -device lsi53c895a,id=lsi0
 *       -object x-remote-object,id=robj0,devid=lsi0,fd=N
 * on one end of a socketpair. Checks the wire format against the real
 * peer (IDs, BAR sizes, an empty RET for DEVICE_RESET), guest RAM shared
 * by SYNC_SYSMEM (the chip's SCRIPTS processor copies memory by DMA and
 * raises INTx through the irqfd of SET_IRQFD), and the limits of QEMU 7.2's
 * remote that docs/mpqemu.md describes. Exits 77 (skipped) without QEMU;
 * $QEMU names another binary.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "link_test.h"
#include "qemu_peer.h"

#define TIMEOUT_MS 5000
#define RAM_SIZE (2u << 20)
#define BAR_IO 0xc000u
#define BAR_MMIO 0xfebf0000u
#define BAR_RAM 0xfebf2000u

struct qemu {
	pid_t pid;
	int err_rd; /* QEMU's stderr */
	struct logger log;
	struct link link;
	char errtext[4096];
	int status;
};

static void qemu_start(struct qemu *q)
{
	int sv[2], ep[2];

	memset(q, 0, sizeof(*q));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(pipe2(ep, O_CLOEXEC), 0);
	q->pid = qemu_spawn_lsi_remote(sv[1], ep[1]);
	close(sv[1]);
	close(ep[1]);
	q->err_rd = ep[0];
	q->log = (struct logger){ .level = LOG_ERROR, .fd = 2 };
	assert_int_equal(link_init(&q->link, sv[0], LINK_ROLE_PROXY, &q->log, "qemu"), 0);
}

/* Waits up to 5 s for QEMU to exit (then kills it) and keeps its stderr. */
static void qemu_collect(struct qemu *q)
{
	ssize_t n;
	size_t len = 0;

	q->status = qemu_reap(q->pid);
	while (len < sizeof(q->errtext) - 1 &&
	       (n = read(q->err_rd, q->errtext + len, sizeof(q->errtext) - 1 - len)) > 0)
		len += (size_t)n;
	q->errtext[len] = 0;
	close(q->err_rd);
}

static void qemu_stop(struct qemu *q)
{
	link_destroy(&q->link); /* QEMU ends when its link closes */
	qemu_collect(q);
}

static uint64_t call(struct qemu *q, const struct link_msg *m)
{
	uint64_t v = 0;

	assert_int_equal(link_call(&q->link, m, &v, TIMEOUT_MS), 0);
	return v;
}

static uint32_t cfg_read(struct qemu *q, uint32_t addr, int len)
{
	struct link_msg m;

	link_msg_cfg(&m, LINK_PCI_CFGREAD, addr, 0, len);
	return (uint32_t)call(q, &m);
}

static void cfg_write(struct qemu *q, uint32_t addr, uint32_t val, int len)
{
	struct link_msg m;

	link_msg_cfg(&m, LINK_PCI_CFGWRITE, addr, val, len);
	assert_int_equal(call(q, &m), 0);
}

static uint64_t bar_read(struct qemu *q, uint64_t addr, unsigned size, bool mem)
{
	struct link_msg m;

	link_msg_bar(&m, LINK_BAR_READ, addr, 0, size, mem);
	return call(q, &m);
}

static void bar_write(struct qemu *q, uint64_t addr, uint64_t val, unsigned size, bool mem)
{
	struct link_msg m;

	link_msg_bar(&m, LINK_BAR_WRITE, addr, val, size, mem);
	assert_int_equal(call(q, &m), 0);
}

/* The memfd guest RAM at gpa 0, sent the way QEMU's proxy sends it. */
static uint8_t *share_ram(struct qemu *q, int *memfd)
{
	struct link_msg m;
	uint8_t *ram;

	*memfd = memfd_create("probe-ram", MFD_CLOEXEC);
	assert_true(*memfd >= 0);
	assert_int_equal(ftruncate(*memfd, RAM_SIZE), 0);
	ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, *memfd, 0);
	assert_true(ram != MAP_FAILED);
	link_msg_sysmem(&m);
	assert_int_equal(link_msg_sysmem_add(&m, *memfd, 0, RAM_SIZE, 0), 0);
	assert_int_equal(link_send(&q->link, &m, TIMEOUT_MS), 0);
	return ram;
}

static int64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * QEMU 7.2's remote starts reading its link when the machine is created and
 * resets every device right after that: config written before then is lost.
 * A sentinel in the interrupt line register (cleared by reset) shows when
 * the reset is behind us; if it survives 300 ms our write came after it.
 */
static void qemu_settle(struct qemu *q)
{
	int64_t t0 = ms_now();

	cfg_write(q, 0x3c, 0xa5, 1);
	while (ms_now() - t0 < 300) {
		usleep(5000);
		if (cfg_read(q, 0x3c, 1) == 0) {
			print_message("  QEMU reset the device %lld ms after our first config write\n",
				      (long long)(ms_now() - t0));
			return;
		}
	}
	cfg_write(q, 0x3c, 0, 1);
}

/* QEMU's own BAR probe: all-ones into each of the 7 dwords from 0x10. */
static uint32_t probe_bar(struct qemu *q, uint32_t off)
{
	uint32_t orig = cfg_read(q, off, 4), ones;

	cfg_write(q, off, 0xffffffff, 4);
	ones = cfg_read(q, off, 4);
	cfg_write(q, off, orig, 4);
	return ones;
}

static void test_ids_and_bars(void **state)
{
	static const uint32_t want[7] = { 0xffffff01, 0xfffffc00, 0xffffe000, 0, 0, 0, 0 };
	struct link_msg m;
	struct qemu q;
	int memfd;
	uint8_t *ram;

	qemu_start(&q);
	ram = share_ram(&q, &memfd);
	print_message("  vendor %04x device %04x class %04x subsystem %04x:%04x\n",
		      cfg_read(&q, 0x00, 2), cfg_read(&q, 0x02, 2), cfg_read(&q, 0x0a, 2),
		      cfg_read(&q, 0x2c, 2), cfg_read(&q, 0x2e, 2));
	assert_int_equal(cfg_read(&q, 0x00, 2), 0x1000);
	assert_int_equal(cfg_read(&q, 0x02, 2), 0x0012);
	assert_int_equal(cfg_read(&q, 0x0a, 2), 0x0100);
	assert_int_equal(cfg_read(&q, 0x00, 4), 0x00121000);
	for (int i = 0; i < 7; i++) {
		uint32_t v = probe_bar(&q, 0x10 + 4 * i);

		print_message("  all-ones at 0x%02x reads back %08x\n", 0x10 + 4 * i, v);
		assert_int_equal(v, want[i]);
	}
	print_message("  expansion ROM at 0x30 reads back %08x\n", probe_bar(&q, 0x30));
	/* DEVICE_RESET's RET is empty: a 16-byte header with size 0. */
	link_msg_reset(&m);
	assert_int_equal(link_send(&q.link, &m, TIMEOUT_MS), 0);
	assert_int_equal(link_recv(&q.link, &m, TIMEOUT_MS), 1);
	assert_int_equal(m.cmd, LINK_RET);
	assert_int_equal(m.size, 0);
	qemu_stop(&q);
	print_message("  QEMU exit status %d on close\n", WEXITSTATUS(q.status));
	munmap(ram, RAM_SIZE);
	close(memfd);
}

/* LSI53C895A registers (BAR1 MMIO, BAR0 I/O). */
#define LSI_DSTAT 0x0c
#define LSI_DSP 0x2c
#define LSI_DSPS 0x30
#define LSI_DIEN 0x39
#define LSI_DSTAT_SIR 0x04

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void test_dma_and_irq(void **state)
{
	struct link_msg m;
	struct qemu q;
	int memfd, efd[2];
	uint8_t *ram;
	struct pollfd p;
	uint64_t ticks;

	qemu_start(&q);
	ram = share_ram(&q, &memfd);
	lt_eventfds(efd, 2);
	link_msg_irqfd(&m, efd[0], efd[1]);
	assert_int_equal(link_send(&q.link, &m, TIMEOUT_MS), 0);
	qemu_settle(&q);
	cfg_write(&q, 0x10, BAR_IO, 4);
	cfg_write(&q, 0x14, BAR_MMIO, 4);
	cfg_write(&q, 0x18, BAR_RAM, 4);
	cfg_write(&q, 0x04, 0x0007, 2); /* I/O, memory, bus master */
	/* SCRIPTS in guest RAM: MEMORY MOVE 16 bytes 0x2000 -> 0x3000; INT 0x1234. */
	memcpy(ram + 0x2000, "shared-ram-probe", 16);
	put32(ram + 0x1000, 0xc0000000 | 16);
	put32(ram + 0x1004, 0x2000);
	put32(ram + 0x1008, 0x3000);
	put32(ram + 0x100c, 0x98080000);
	put32(ram + 0x1010, 0x1234);
	bar_write(&q, BAR_MMIO + LSI_DIEN, LSI_DSTAT_SIR, 1, true);
	bar_write(&q, BAR_MMIO + LSI_DSP, 0x1000, 4, true); /* starts the script */
	p = (struct pollfd){ .fd = efd[0], .events = POLLIN };
	assert_int_equal(poll(&p, 1, TIMEOUT_MS), 1);
	assert_int_equal(read(efd[0], &ticks, 8), 8);
	print_message("  irqfd fired (%llu); RAM at 0x3000: \"%.16s\"\n",
		      (unsigned long long)ticks, (const char *)ram + 0x3000);
	assert_memory_equal(ram + 0x3000, "shared-ram-probe", 16);
	assert_int_equal(bar_read(&q, BAR_MMIO + LSI_DSPS, 4, true), 0x1234);
	assert_int_equal(bar_read(&q, BAR_IO + LSI_DSPS, 4, false), 0x1234);
	assert_int_equal(bar_read(&q, BAR_MMIO + LSI_DSTAT, 1, true) & LSI_DSTAT_SIR, LSI_DSTAT_SIR);
	/* QEMU 7.2 does not check fds on config commands: one rides along unrefused. */
	{
		uint8_t buf[LINK_HDR_SIZE + 12] = { 0 };

		link_hdr_encode(buf, LINK_PCI_CFGREAD, 12);
		buf[LINK_HDR_SIZE + 8] = 2;
		lt_raw_send(q.link.fd, buf, sizeof(buf), &efd[1], 1);
		assert_int_equal(link_recv(&q.link, &m, TIMEOUT_MS), 1);
		print_message("  CFGREAD with an fd attached answered %llx\n",
			      (unsigned long long)m.data.u64);
		assert_int_equal(m.data.u64, 0x1000);
	}
	qemu_stop(&q);
	lt_close_all(efd, 2);
	munmap(ram, RAM_SIZE);
	close(memfd);
}

/* Sends m raw (past our own checks) and reports how QEMU takes it. */
static int qemu_refuses(struct qemu *q, const void *bytes, size_t len, const int *fds,
			unsigned nfds, uint64_t *ret)
{
	struct link_msg m;
	int r;

	lt_raw_send(q->link.fd, bytes, len, fds, nfds);
	r = link_recv(&q->link, &m, TIMEOUT_MS);
	if (r == 1)
		*ret = m.data.u64;
	return r;
}

static void test_limits(void **state)
{
	uint8_t buf[LINK_HDR_SIZE + 192] = { 0 };
	struct link_msg m;
	struct qemu q;
	int fds[8];
	uint64_t v = 0;
	int r;

	/* 7 RAM regions are taken, 8 end the device process. */
	for (unsigned n = 7; n <= 8; n++) {
		qemu_start(&q);
		link_msg_sysmem(&m);
		for (unsigned i = 0; i < n; i++) {
			fds[i] = memfd_create("probe", MFD_CLOEXEC);
			assert_int_equal(ftruncate(fds[i], 0x1000), 0);
			link_msg_sysmem_add(&m, fds[i], 0x100000ull * i, 0x1000, 0);
		}
		assert_int_equal(link_send(&q.link, &m, TIMEOUT_MS), 0);
		lt_close_all(fds, n);
		link_msg_cfg(&m, LINK_PCI_CFGREAD, 0, 0, 2);
		r = link_call(&q.link, &m, &v, TIMEOUT_MS);
		qemu_stop(&q);
		print_message("  SYNC_SYSMEM with %u regions: next call %d, QEMU status %d: %s",
			      n, r, WEXITSTATUS(q.status), q.errtext[0] ? q.errtext : "\n");
		if (n == 7)
			assert_int_equal(r, 0);
		else
			assert_true(r == -EPIPE || r == -ECONNRESET);
	}
	/* A 1-byte config read at 0xff: the last byte of a 256-byte space. */
	qemu_start(&q);
	assert_int_equal(cfg_read(&q, 0xfc, 4), 0);
	link_hdr_encode(buf, LINK_PCI_CFGREAD, 12);
	buf[LINK_HDR_SIZE] = 0xff;
	buf[LINK_HDR_SIZE + 8] = 1;
	r = qemu_refuses(&q, buf, LINK_HDR_SIZE + 12, NULL, 0, &v);
	print_message("  CFGREAD 1 byte at 0xff: %d, RET %llx\n", r, (unsigned long long)v);
	assert_int_equal(r, 1);
	assert_true(v == UINT64_MAX);
	r = link_recv(&q.link, &m, TIMEOUT_MS);
	qemu_stop(&q);
	print_message("  then: %d, QEMU status %d: %s", r, WEXITSTATUS(q.status), q.errtext);
	assert_int_equal(r, -EPIPE);
	/* A command number QEMU does not know. */
	qemu_start(&q);
	link_hdr_encode(buf, LINK_QEMU_NCMDS, 0);
	r = qemu_refuses(&q, buf, LINK_HDR_SIZE, NULL, 0, &v);
	qemu_stop(&q);
	print_message("  command 8: %d, QEMU status %d: %s", r, WEXITSTATUS(q.status), q.errtext);
	assert_int_equal(r, -EPIPE);
}

/* A device of our own for QEMU as the VMM: IDs, a 4 KiB BAR0 and a 2 KiB ROM. */
struct fake_dev {
	uint8_t cfg[256];
	unsigned counts[LINK_QEMU_NCMDS];
	unsigned order[4]; /* the first commands received */
	unsigned n, sysmem_max;
	bool probed_28, guest_rom;
};

static uint32_t fake_cfg(struct fake_dev *d, const struct link_pci_conf *c, bool write)
{
	uint32_t v = 0, mask = 0xffffffff;

	if (c->addr + (uint32_t)c->len > sizeof(d->cfg))
		return 0;
	if (!write) {
		memcpy(&v, d->cfg + c->addr, (size_t)c->len);
		return v;
	}
	if (c->addr == 0x28 && c->val == 0xffffffff)
		d->probed_28 = true;
	if (c->addr == 0x30 && c->val && c->val != 0xfffff800 && (c->val & ~1u) != 0xfffff800)
		d->guest_rom = true;
	if (c->addr >= 0x10 && c->addr < 0x30 && c->len == 4)
		mask = c->addr == 0x10 ? ~0xfffu : 0;
	else if (c->addr == 0x30 && c->len == 4)
		mask = ~0x7feu;
	else if (c->addr < 0x3c)
		mask = c->addr == 0x04 ? 0xffff : 0;
	v = c->val & mask;
	memcpy(d->cfg + c->addr, &v, (size_t)c->len);
	return 0;
}

/* Answers QEMU's proxy until the link has been quiet for 1.5 s. */
static void serve(struct link *l, struct fake_dev *d)
{
	struct link_msg m;
	int64_t t0 = ms_now();

	while (ms_now() - t0 < 20000 && link_recv(l, &m, 1500) == 1) {
		uint64_t ret = 0;

		d->counts[m.cmd]++;
		if (d->n < 4)
			d->order[d->n++] = m.cmd;
		if (m.cmd == LINK_SYNC_SYSMEM && m.nfds > d->sysmem_max)
			d->sysmem_max = m.nfds;
		if (m.cmd == LINK_PCI_CFGREAD || m.cmd == LINK_PCI_CFGWRITE)
			ret = fake_cfg(d, &m.data.conf, m.cmd == LINK_PCI_CFGWRITE);
		link_msg_close_fds(&m);
		if (m.cmd != LINK_SYNC_SYSMEM && m.cmd != LINK_SET_IRQFD)
			assert_int_equal(link_send_ret(l, ret, m.cmd == LINK_DEVICE_RESET, 1000), 0);
	}
}

static void test_qemu_as_vmm(void **state)
{
	struct fake_dev d = { 0 };
	struct qemu q;
	int sv[2], ep[2];
	char devarg[64];
	const char *vmm_argv[] = { "qemu", "-nodefaults", "-display", "none", "-m", "256M",
				   "-object", "memory-backend-memfd,id=mem,size=256M",
				   "-machine", "pc,memory-backend=mem", "-device", devarg, NULL };

	memcpy(d.cfg, "\xf4\x1a\xf0\x10", 4);
	d.cfg[0x0b] = 0xff; /* class: unassigned */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(pipe2(ep, O_CLOEXEC), 0);
	snprintf(devarg, sizeof(devarg), "x-pci-proxy-dev,id=p0,fd=%d", sv[1]);
	memset(&q, 0, sizeof(q));
	q.pid = qemu_spawn(vmm_argv, sv[1], ep[1]);
	close(sv[1]);
	close(ep[1]);
	q.err_rd = ep[0];
	q.log = (struct logger){ .level = LOG_ERROR, .fd = 2 };
	assert_int_equal(link_init(&q.link, sv[0], LINK_ROLE_REMOTE, &q.log, "qemu-vmm"), 0);
	serve(&q.link, &d);
	print_message("  from QEMU's proxy: SYNC_SYSMEM %u (up to %u regions), SET_IRQFD %u, "
		      "CFGREAD %u, CFGWRITE %u, BAR_READ %u, BAR_WRITE %u, DEVICE_RESET %u\n",
		      d.counts[0], d.sysmem_max, d.counts[6], d.counts[3], d.counts[2],
		      d.counts[5], d.counts[4], d.counts[7]);
	print_message("  first: %s, %s, %s; proxy probed 0x28: %d; guest placed the ROM: %d\n",
		      link_cmd_name(d.order[0]), link_cmd_name(d.order[1]),
		      link_cmd_name(d.order[2]), d.probed_28, d.guest_rom);
	assert_false(link_broken(&q.link)); /* all of it passed our validation */
	assert_int_equal(d.order[0], LINK_SYNC_SYSMEM);
	assert_int_equal(d.order[1], LINK_SET_IRQFD);
	assert_int_equal(d.order[2], LINK_PCI_CFGREAD);
	assert_true(d.probed_28);
	kill(q.pid, SIGTERM);
	qemu_stop(&q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ids_and_bars),
		cmocka_unit_test(test_dma_and_irq),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_qemu_as_vmm),
	};

	if (!qemu_find()) {
		printf("qemu-system-x86_64 not found: skipped\n");
		return 77;
	}
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
