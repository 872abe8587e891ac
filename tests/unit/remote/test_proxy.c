/*
 * The proxy PCI device against a fake device process on a socketpair:
 * discovery, config and BAR forwarding, a QEMU-like start-up reset, and a
 * device process that hangs, sends garbage or dies (all ones, one log line,
 * no crash, no fd left open).
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "proxy_env.h"

static int64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t mmio_read(struct px_env *e, uint64_t addr, unsigned size)
{
	uint64_t v = 0;

	iobus_access(&e->mmio, addr, &v, size, false);
	return v;
}

static void mmio_write(struct px_env *e, uint64_t addr, uint64_t v, unsigned size)
{
	iobus_access(&e->mmio, addr, &v, size, true);
}

static uint64_t pio_read(struct px_env *e, uint64_t port, unsigned size)
{
	uint64_t v = 0;

	iobus_access(&e->pio, port, &v, size, false);
	return v;
}

static void test_discovery(void **state)
{
	struct px_env *e = px_env_new(1);
	struct pci_device *pdev;
	struct fake_dev *f = &e->fake;

	assert_int_equal(px_env_create(e, 2000), 0);
	pdev = proxy_pci(e->px);
	assert_int_equal(pci_cfg_get(pdev, PCI_VENDOR_ID, 4), 0x56781234);
	assert_int_equal(pci_cfg_get(pdev, PCI_CLASS_REVISION, 4), 0x01800002);
	assert_int_equal(pci_cfg_get(pdev, PCI_SUBSYSTEM_VENDOR_ID, 4), 0xef01abcd);
	assert_int_equal(pdev->cfg_size, 256);
	assert_int_equal(pdev->bars[0].kind, PCI_BAR_IO);
	assert_int_equal(pdev->bars[0].size, 256);
	assert_int_equal(pdev->bars[1].kind, PCI_BAR_MEM32);
	assert_int_equal(pdev->bars[1].size, 4096);
	assert_int_equal(pdev->bars[2].kind, PCI_BAR_MEM64);
	assert_true(pdev->bars[2].prefetch);
	assert_int_equal(pdev->bars[2].size, 1 << 20);
	assert_int_equal(pdev->bars[4].kind, PCI_BAR_UNUSED);
	assert_int_equal(pdev->bars[PCI_BAR_ROM].kind, PCI_BAR_MEM32);
	assert_int_equal(pdev->bars[PCI_BAR_ROM].size, 2048);
	/* INTA of slot 1: GSI 16 + (1 + 1 - 1) % 8, wired with the fds the device got. */
	assert_int_equal(pdev->cfg[PCI_INTERRUPT_PIN], 1);
	assert_int_equal(e->nadd, 1);
	assert_int_equal(e->irq_gsi, pdev->gsi);
	assert_int_equal(pdev->gsi, 17);
	/* What the device saw: RAM, the irqfd pair, a reset, then firmware's setup. */
	assert_int_equal(f->nsysmem, 1);
	assert_int_equal(f->nregions, 1);
	assert_int_equal(f->gpas[0], 0);
	assert_int_equal(f->sizes[0], 1 << 20);
	assert_int_equal(f->nirqfd, 1);
	assert_int_equal(f->nreset, 1);
	for (unsigned off = 0x10; off < 0x28; off += 4)
		assert_int_equal(fake_cfg32(f, off), pci_cfg_get(pdev, off, 4));
	assert_int_equal(fake_cfg32(f, 0x30), pci_cfg_get(pdev, 0x30, 4));
	assert_int_equal(fake_cfg32(f, 0x04) & 0xffff, PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
	assert_int_equal(fake_cfg32(f, 0x3c) & 0xff, 17);
	assert_int_equal(f->qemu_violations, 0);
	/* The device's irqfd is the one the accelerator waits on. */
	{
		uint64_t one = 1, got = 0;

		assert_int_equal(write(f->irqfd, &one, 8), 8);
		assert_int_equal(read(e->irq_fd, &got, 8), 8);
		assert_int_equal(got, 1);
	}
	assert_int_equal(px_env_log_lines(e), 0);
	px_env_free(e);
	(void)state;
}

static void test_config_forwarding(void **state)
{
	struct px_env *e = px_env_new(1);
	struct fake_dev *f = &e->fake;
	struct pci_device *pdev;
	unsigned n;

	assert_int_equal(px_env_create(e, 2000), 0);
	pdev = proxy_pci(e->px);
	n = f->ncfg;
	assert_int_equal(pci_config_read(pdev, 0x00, 2), 0x1234);
	assert_int_equal(f->ncfg, n + 1);
	/* Capabilities live in the device only. */
	assert_int_equal(pci_config_read(pdev, PCI_CAPABILITY_LIST, 1), 0x40);
	assert_int_equal(pci_config_read(pdev, 0x40, 4), 0x00085009);
	pci_config_write(pdev, 0x44, 4, 0xdeadbeef);
	assert_int_equal(fake_cfg32(f, 0x44), 0xdeadbeef);
	/* The last bytes go as the whole last dword: QEMU 7.2 refuses less. */
	pci_config_write(pdev, 0xfc, 4, 0x44332211);
	assert_int_equal(pci_config_read(pdev, 0xff, 1), 0x44);
	assert_int_equal(f->last_cfg.addr, 0xfc);
	assert_int_equal(f->last_cfg.len, 4);
	pci_config_write(pdev, 0xfe, 1, 0xaa);
	assert_int_equal(fake_cfg32(f, 0xfc), 0x44aa2211);
	assert_int_equal(pci_config_read(pdev, 0xfd, 2), 0xaa22);
	assert_int_equal(f->qemu_violations, 0);
	/* The guest sizes BAR1: the device answers, the BAR leaves the bus meanwhile. */
	pci_config_write(pdev, 0x14, 4, 0xffffffff);
	assert_int_equal(pci_config_read(pdev, 0x14, 4), 0xfffff000);
	assert_int_equal(pci_bar_base(pdev, 1), 0);
	pci_config_write(pdev, 0x14, 4, 0xc0001000);
	assert_int_equal(pci_bar_base(pdev, 1), 0xc0001000);
	/* Past a 256-byte space nothing is forwarded. */
	n = f->ncfg;
	assert_int_equal(pci_config_read(pdev, 0x100, 4), 0);
	pci_config_write(pdev, 0x100, 4, 1);
	assert_int_equal(f->ncfg, n);
	px_env_free(e);
	(void)state;
}

static void test_bar_forwarding(void **state)
{
	struct px_env *e = px_env_new(1);
	struct fake_dev *f = &e->fake;
	struct pci_device *pdev;
	uint64_t io, b1, b2, rom, v;

	assert_int_equal(px_env_create(e, 2000), 0);
	pdev = proxy_pci(e->px);
	io = pci_bar_base(pdev, 0);
	b1 = pci_bar_base(pdev, 1);
	b2 = pci_bar_base(pdev, 2);
	assert_true(io && b1 && b2);
	v = mmio_read(e, b1 + 0x10, 4);
	assert_int_equal(v, (uint32_t)(FAKE_MAGIC | (b1 + 0x10)));
	assert_int_equal(f->last_bar.addr, b1 + 0x10);
	assert_int_equal(f->last_bar.memory, 1);
	assert_int_equal(f->last_bar.size, 4);
	assert_int_equal(pio_read(e, io + 2, 2), (uint16_t)(io + 2));
	assert_int_equal(f->last_bar.addr, io + 2);
	assert_int_equal(f->last_bar.memory, 0);
	assert_int_equal(mmio_read(e, b2 + 8, 8), FAKE_MAGIC | (b2 + 8));
	mmio_write(e, b1 + 4, 0x12345, 2);
	assert_int_equal(f->last_bar_cmd, LINK_BAR_WRITE);
	assert_int_equal(f->last_bar.val, 0x2345);
	assert_int_equal(f->last_bar.size, 2);
	/* The guest moves BAR1: both sides follow, the old address is dead. */
	pci_config_write(pdev, 0x14, 4, 0xd0000000);
	assert_int_equal(fake_cfg32(f, 0x14), 0xd0000000);
	assert_int_equal(mmio_read(e, 0xd0000020, 4), (uint32_t)(FAKE_MAGIC | 0xd0000020));
	assert_int_equal(f->last_bar.addr, 0xd0000020);
	assert_int_equal(mmio_read(e, b1, 4), 0xffffffff);
	assert_int_equal(f->last_bar.addr, 0xd0000020);
	/* The expansion ROM once enabled. */
	pci_config_write(pdev, PCI_ROM_ADDRESS, 4, 0xd0100001);
	rom = pci_bar_base(pdev, PCI_BAR_ROM);
	assert_int_equal(rom, 0xd0100000);
	assert_int_equal(mmio_read(e, rom + 0x7fc, 4), (uint32_t)(FAKE_MAGIC | (rom + 0x7fc)));
	/* Memory decoding off: nothing reaches the device. */
	pci_config_write(pdev, PCI_COMMAND, 2, PCI_COMMAND_IO);
	assert_int_equal(fake_cfg32(f, 0x04) & 0xffff, PCI_COMMAND_IO);
	assert_int_equal(mmio_read(e, 0xd0000020, 4), 0xffffffff);
	assert_int_equal(pio_read(e, io, 1), (uint8_t)io);
	assert_int_equal(px_env_log_lines(e), 0);
	px_env_free(e);
	(void)state;
}

/* A misbehaving device process: all ones, one log line, and quiet after that. */
static void broken_link(enum fake_mode mode, const char *why)
{
	struct px_env *e = px_env_new(1);
	struct pci_device *pdev;
	uint64_t b1;
	int64_t t0;

	assert_int_equal(px_env_create(e, 300), 0);
	pdev = proxy_pci(e->px);
	b1 = pci_bar_base(pdev, 1);
	e->fake.mode = mode;
	t0 = ms_now();
	assert_int_equal(mmio_read(e, b1, 4), 0xffffffff);
	assert_true(ms_now() - t0 < 2000);
	print_message("  %s: %s", why, px_env_log(e));
	assert_int_equal(px_env_log_lines(e), 1);
	assert_non_null(strstr(px_env_log(e), "test-proxy"));
	assert_non_null(strstr(px_env_log(e), why));
	t0 = ms_now();
	assert_int_equal(mmio_read(e, b1, 8), UINT64_MAX);
	mmio_write(e, b1, 1, 4);
	assert_int_equal(pci_config_read(pdev, 0, 4), 0xffffffff);
	pci_config_write(pdev, 0x44, 4, 1);
	assert_true(ms_now() - t0 < 100);
	assert_int_equal(px_env_log_lines(e), 1);
	px_env_free(e);
}

static void test_timeout(void **state)
{
	broken_link(FAKE_HANG_BAR, "no reply to BAR_READ within 300 ms");
	(void)state;
}

static void test_garbage(void **state)
{
	broken_link(FAKE_GARBAGE_BAR, "unknown command");
	(void)state;
}

static void test_peer_dies(void **state)
{
	broken_link(FAKE_CLOSE_BAR, "peer closed");
	(void)state;
}

static void test_wrong_reply(void **state)
{
	broken_link(FAKE_WRONG_BAR, "PCI_CFGREAD from the wrong side");
	(void)state;
}

/* A device the proxy cannot offer: creation fails cleanly, nothing leaks. */
static void refused(void (*spoil)(struct fake_dev *f), int want, const char *why)
{
	struct px_env *e = px_env_new(1);

	spoil(&e->fake);
	assert_int_equal(px_env_create(e, 1000), want);
	assert_null(e->px);
	print_message("  %s", px_env_log(e));
	assert_non_null(strstr(px_env_log(e), why));
	assert_int_equal(e->nadd, 0);
	assert_null(pci_host_device(&e->pci, PCI_DEVFN(1, 0)));
	px_env_free(e);
}

static void no_function(struct fake_dev *f)
{
	memset(f->cfg, 0xff, 4);
}

static void bridge(struct fake_dev *f)
{
	f->cfg[PCI_HEADER_TYPE] = 1;
}

static void bar5_64bit(struct fake_dev *f)
{
	fake_set_bar(f, 5, 0xfffff000, 0x4);
}

static void bar_reserved_type(struct fake_dev *f)
{
	fake_set_bar(f, 4, 0xfffff000, 0x6);
}

static void bar_too_small(struct fake_dev *f)
{
	fake_set_bar(f, 4, 0xfffe0000, 0x1); /* 128 KiB of I/O space */
}

static void test_refusals(void **state)
{
	refused(no_function, -ENODEV, "no PCI function answers");
	refused(bridge, -ENOTSUP, "header type 0x1");
	refused(bar5_64bit, -EPROTO, "BAR 5");
	refused(bar_reserved_type, -EPROTO, "BAR 4");
	refused(bar_too_small, -EINVAL, "BAR 4 (0x20000 bytes)");
	(void)state;
}

static void test_peer_gone_at_start(void **state)
{
	struct px_env *e = px_env_new(1);
	int sv[2];
	struct proxy_config cfg;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	close(sv[1]);
	cfg = px_env_config(e, sv[0], 500);
	assert_true(proxy_create(&e->host, &cfg, &e->px) < 0);
	proxy_config_clear(&cfg);
	assert_null(e->px);
	assert_int_equal(px_env_log_lines(e), 1);
	assert_non_null(strstr(px_env_log(e), "closed its link"));
	px_env_free(e);
	(void)state;
}

static void test_regions(void **state)
{
	struct px_env *e = px_env_new(2);
	struct proxy_config cfg;

	assert_int_equal(px_env_create(e, 1000), 0);
	assert_int_equal(e->fake.nregions, 2);
	assert_int_equal(e->fake.gpas[1], 1ull << 32);
	assert_int_equal(e->fake.sizes[1], 1 << 20);
	px_env_free(e);

	/* More regions than the device process takes: refused before sending. */
	e = px_env_new(2);
	cfg = px_env_config(e, px_env_fake_link(e), 1000);
	cfg.max_regions = 1;
	assert_int_equal(proxy_create(&e->host, &cfg, &e->px), -E2BIG);
	proxy_config_clear(&cfg);
	assert_int_equal(e->fake.nsysmem, 0);
	px_env_free(e);
	(void)state;
}

/* QEMU 7.2's remote resets its devices just after it starts serving. */
static void test_settle(void **state)
{
	struct px_env *e = px_env_new(1);
	struct proxy_config cfg;
	struct pci_device *pdev;
	int64_t t0;

	e->fake.reset_after_ms = 40;
	cfg = px_env_config(e, px_env_fake_link(e), 1000);
	cfg.settle_ms = PROXY_SETTLE_MS;
	t0 = ms_now();
	assert_int_equal(proxy_create(&e->host, &cfg, &e->px), 0);
	proxy_config_clear(&cfg);
	print_message("  created in %lld ms\n", (long long)(ms_now() - t0));
	assert_true(ms_now() - t0 < PROXY_SETTLE_MS);
	usleep(100 * 1000);
	pdev = proxy_pci(e->px);
	assert_true(e->fake.quirk_done);
	assert_int_equal(fake_cfg32(&e->fake, 0x14), pci_cfg_get(pdev, 0x14, 4));
	assert_int_equal(fake_cfg32(&e->fake, 0x04) & 3, 3);
	px_env_free(e);
	(void)state;
}

static void pcie(struct fake_dev *f)
{
	f->cfg[0x50] = PCI_CAP_ID_EXP;
}

static void test_pcie(void **state)
{
	struct px_env *e = px_env_new(1);
	unsigned n;

	pcie(&e->fake);
	assert_int_equal(px_env_create(e, 1000), 0);
	assert_int_equal(proxy_pci(e->px)->cfg_size, 4096);
	/* Extended config space goes to the device (this one has none). */
	n = e->fake.ncfg;
	pci_config_read(proxy_pci(e->px), 0x100, 4);
	assert_int_equal(e->fake.ncfg, n + 1);
	/* ... and a 4 KiB space has no QEMU end-of-space workaround. */
	pci_config_read(proxy_pci(e->px), 0xff, 1);
	assert_int_equal(e->fake.last_cfg.addr, 0xff);
	px_env_free(e);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_discovery),
		cmocka_unit_test(test_config_forwarding),
		cmocka_unit_test(test_bar_forwarding),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_peer_dies),
		cmocka_unit_test(test_wrong_reply),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_peer_gone_at_start),
		cmocka_unit_test(test_regions),
		cmocka_unit_test(test_settle),
		cmocka_unit_test(test_pcie),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
