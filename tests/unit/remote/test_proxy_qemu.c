/*
 * The proxy against QEMU 7.2's device process:
 *   qemu-system-x86_64 -machine x-remote -device lsi53c895a,id=lsi0
 *       -object x-remote-object,id=robj0,devid=lsi0,fd=N
 * Discovery finds the chip's IDs and BARs, the BAR addresses the proxy
 * programs survive QEMU's start-up reset, the chip's DMA reaches our RAM
 * and its INTx our irqfd (and comes again on resample while still up),
 * and a config and a BAR read through the whole path are timed. Exits 77
 * (skipped) without QEMU; $QEMU names another binary.
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
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "proxy_env.h"
#include "qemu_peer.h"

#define LSI_DSTAT 0x0c
#define LSI_DSP 0x2c
#define LSI_DSPS 0x30
#define LSI_DIEN 0x39
#define LSI_DSTAT_SIR 0x04
#define SAMPLES 2000

/* QEMU with lsi53c895a on one end of a socketpair; returns the other end. */
static int qemu_start(pid_t *pid)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	*pid = qemu_spawn_lsi_remote(sv[1], -1);
	close(sv[1]);
	return sv[0];
}

static uint64_t ns_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

struct timing {
	struct pci_device *pdev; /* config reads of pdev, or */
	struct iobus *bus;       /* reads of addr on bus */
	uint64_t addr;
};

static double median_us(const struct timing *t)
{
	static uint64_t ns[SAMPLES];

	for (unsigned i = 0; i < SAMPLES; i++) {
		uint64_t t0 = ns_now(), v = 0;

		if (t->pdev)
			v = pci_config_read(t->pdev, PCI_VENDOR_ID, 4);
		else
			iobus_access(t->bus, t->addr, &v, 4, false);
		ns[i] = ns_now() - t0;
		(void)v;
	}
	qsort(ns, SAMPLES, sizeof(ns[0]), cmp_u64);
	return (double)ns[SAMPLES / 2] / 1000.0;
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static bool irq_fired(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t n;

	if (poll(&p, 1, timeout_ms) != 1)
		return false;
	return read(fd, &n, 8) == 8;
}

/* SCRIPTS in guest RAM: MEMORY MOVE 16 bytes 0x2000 -> 0x3000; INT 0x1234. */
static void dma_and_intx(struct px_env *e, uint64_t mmio, uint64_t io)
{
	uint8_t *ram = e->mem.regions[0].hva;
	uint64_t v = 0;

	memcpy(ram + 0x2000, "through-a-proxy!", 16);
	put32(ram + 0x1000, 0xc0000000 | 16);
	put32(ram + 0x1004, 0x2000);
	put32(ram + 0x1008, 0x3000);
	put32(ram + 0x100c, 0x98080000);
	put32(ram + 0x1010, 0x1234);
	pci_config_write(proxy_pci(e->px), PCI_COMMAND, 2, 7); /* + bus master */
	v = LSI_DSTAT_SIR;
	iobus_access(&e->mmio, mmio + LSI_DIEN, &v, 1, true);
	v = 0x1000;
	iobus_access(&e->mmio, mmio + LSI_DSP, &v, 4, true);
	assert_true(irq_fired(e->irq_fd, 5000));
	assert_memory_equal(ram + 0x3000, "through-a-proxy!", 16);
	/* The guest's EOI while the line is still up: QEMU raises it again. */
	v = 1;
	assert_int_equal(write(e->irq_resample, &v, 8), 8);
	assert_true(irq_fired(e->irq_fd, 5000));
	v = 0;
	iobus_access(&e->pio, io + LSI_DSPS, &v, 4, false);
	assert_int_equal(v, 0x1234);
	v = 0;
	iobus_access(&e->mmio, mmio + LSI_DSTAT, &v, 1, false); /* clears the interrupt */
	assert_true(v & LSI_DSTAT_SIR);
	v = 1;
	assert_int_equal(write(e->irq_resample, &v, 8), 8);
	assert_false(irq_fired(e->irq_fd, 200));
}

static void test_lsi(void **state)
{
	struct px_env *e = px_env_new(1);
	struct proxy_config cfg;
	struct pci_device *pdev;
	struct timing t;
	double cfg_us, bar_us, local_us;
	pid_t pid;
	int status;

	cfg = px_env_config(e, qemu_start(&pid), 5000);
	cfg.settle_ms = PROXY_SETTLE_MS;
	assert_int_equal(proxy_create(&e->host, &cfg, &e->px), 0);
	proxy_config_clear(&cfg);
	pdev = proxy_pci(e->px);
	print_message("  %04x:%04x class %06x, BARs %llu (I/O) %llu %llu, ROM %llu, pin %u\n",
		      pci_cfg_get(pdev, 0, 2), pci_cfg_get(pdev, 2, 2),
		      pci_cfg_get(pdev, 8, 4) >> 8, (unsigned long long)pdev->bars[0].size,
		      (unsigned long long)pdev->bars[1].size, (unsigned long long)pdev->bars[2].size,
		      (unsigned long long)pdev->bars[PCI_BAR_ROM].size, pdev->cfg[PCI_INTERRUPT_PIN]);
	assert_int_equal(pci_cfg_get(pdev, 0, 4), 0x00121000);
	assert_int_equal(pdev->bars[0].kind, PCI_BAR_IO);
	assert_int_equal(pdev->bars[0].size, 256);
	assert_int_equal(pdev->bars[1].size, 1024);
	assert_int_equal(pdev->bars[2].size, 8192);
	assert_int_equal(pdev->bars[3].kind, PCI_BAR_UNUSED);
	assert_int_equal(e->nadd, 1);
	/* What the proxy programmed outlived QEMU's own start-up reset. */
	usleep(200 * 1000);
	for (unsigned off = 0x10; off < 0x1c; off += 4)
		assert_int_equal(pci_config_read(pdev, off, 4), pci_cfg_get(pdev, off, 4));
	assert_int_equal(pci_config_read(pdev, PCI_COMMAND, 2) & 3, 3);
	dma_and_intx(e, pci_bar_base(pdev, 1), pci_bar_base(pdev, 0));
	t = (struct timing){ .pdev = pdev };
	cfg_us = median_us(&t);
	t = (struct timing){ .bus = &e->mmio, .addr = pci_bar_base(pdev, 1) + LSI_DSPS };
	bar_us = median_us(&t);
	t = (struct timing){ .pdev = &e->pci.bridge };
	local_us = median_us(&t);
	print_message("  median of %d through the proxy: config read %.1f us, BAR read %.1f us "
		      "(in-process config read %.2f us)\n", SAMPLES, cfg_us, bar_us, local_us);
	assert_int_equal(px_env_log_lines(e), 0);
	proxy_destroy(e->px);
	e->px = NULL;
	status = qemu_reap(pid);
	print_message("  QEMU exit status %d after the proxy closed the link\n",
		      WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	assert_true(WIFEXITED(status));
	px_env_free(e);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lsi),
	};

	if (!qemu_find()) {
		printf("qemu-system-x86_64 not found: skipped\n");
		return 77;
	}
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
