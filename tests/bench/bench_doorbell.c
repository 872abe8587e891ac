/*
 * Doorbell-to-device latency (issue 7): virtio-rng in-process against the
 * same device in its own process (`isolated=on`), and in its own process
 * with plain mpqemu (ext=off: what QEMU 7.2's proxy does).
 *
 * usage: bench-doorbell [ROUNDS [ITERS]]
 *        (and, as its own device process: bench-doorbell remote --link fd=3 ...)
 *
 * This program plays the vCPU and the accelerator. A request is a 64-byte
 * buffer published on the queue; the doorbell is rung as the accelerator
 * would ring it: the registered ioeventfd is signalled (in-process and
 * isolated), or, without one (ext=off), the notify register is written,
 * which becomes a BAR_WRITE awaiting its RET. Two figures per variant:
 *  - doorbell -> used: until the used ring shows the request (spinning);
 *  - doorbell -> interrupt: until the request's interrupt arrives, waiting
 *    in poll() (MSI-X: the vector's eventfd, which is the MSI route in
 *    isolated mode; plain mpqemu: INTx on the irqfd, acknowledged through
 *    the ISR and the resample fd as a pci=nomsi guest does).
 * Variants alternate round by round; each round's median is kept and the
 * median of those is printed, with the ratio to in-process (goal: within
 * 10%, issue 7).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "core/evloop.h"
#include "core/iobus.h"
#include "core/log.h"
#include "core/memory.h"
#include "hw/device.h"
#include "hw/pci/pci.h"
#include "remote/remote.h"
#include "remote/remote_opts.h"
#include "remote/sandbox.h"
#include "splitvm/accel.h"

#define DESC 0x10000u
#define AVAIL 0x10800u
#define USED 0x11000u
#define BUF 0x12000u
#define QSIZE 64
#define MSI_ADDR 0xfee00000u
#define MAX_FDS 16

enum variant { IN_PROCESS, ISOLATED, PLAIN, NVARIANTS };
static const char *const variant_names[NVARIANTS] = {
	"in-process", "isolated=on", "isolated=on,ext=off"
};

struct bench {
	struct logger log;
	struct guest_memory mem;
	struct iobus pio, mmio;
	struct pci_host pci;
	struct evloop loop;
	pthread_t loop_thread;
	int loop_stop;
	struct dev_host host;
	struct device dev;
	enum variant v;
	pthread_mutex_t lock;
	struct accel_ioeventfd ioev[MAX_FDS];
	unsigned nioev;
	int route_fd;  /* the vector-0 MSI route's eventfd */
	int msi_fd;    /* in-process MSIs land here */
	int intx_fd, resample_fd;
	uint64_t bar4;
	uint16_t avail_idx;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "bench-doorbell: %s\n", what);
	exit(1);
}

/* ---- the accelerator and VMM services ------------------------------------------ */

static int add_ioev(void *opaque, const struct accel_ioeventfd *ev)
{
	struct bench *b = opaque;

	pthread_mutex_lock(&b->lock);
	if (b->nioev < MAX_FDS)
		b->ioev[b->nioev++] = *ev;
	pthread_mutex_unlock(&b->lock);
	return 0;
}

static int del_ioev(void *opaque, const struct accel_ioeventfd *ev)
{
	struct bench *b = opaque;

	pthread_mutex_lock(&b->lock);
	for (unsigned i = 0; i < b->nioev; i++) {
		if (b->ioev[i].addr == ev->addr && b->ioev[i].fd == ev->fd) {
			b->ioev[i] = b->ioev[--b->nioev];
			break;
		}
	}
	pthread_mutex_unlock(&b->lock);
	return 0;
}

static int set_route(void *opaque, int fd, uint64_t addr, uint32_t data)
{
	struct bench *b = opaque;

	if (data == 0)
		b->route_fd = fd;
	return 0;
}

static int del_route(void *opaque, int fd)
{
	return 0;
}

static int signal_msi(void *opaque, uint64_t addr, uint32_t data)
{
	struct bench *b = opaque;
	uint64_t one = 1;

	if (data == 0 && write(b->msi_fd, &one, sizeof(one)) < 0)
		return -errno;
	return 0;
}

static int add_irqfd(void *opaque, int fd, unsigned gsi, int resample_fd)
{
	struct bench *b = opaque;

	b->intx_fd = fd;
	b->resample_fd = resample_fd;
	return 0;
}

static int del_irqfd(void *opaque, int fd, unsigned gsi)
{
	return 0;
}

static void *loop_main(void *arg)
{
	struct bench *b = arg;

	while (!__atomic_load_n(&b->loop_stop, __ATOMIC_ACQUIRE))
		evloop_run_once(&b->loop, 100);
	return NULL;
}

static void machine_init(struct bench *b, enum variant v)
{
	const struct mem_range ram = { gpa(0), 1 << 20 };
	struct pci_host_config pc = {
		.pio = &b->pio, .mmio = &b->mmio, .log = &b->log,
		.io_base = 0xc000, .io_size = 0x4000,
		.mem32_base = 0xc0000000, .mem32_size = 0x20000000,
		.mem64_base = 1ull << 39, .mem64_size = 1ull << 39,
		.intx_gsi_base = 16, .intx_gsi_count = 8,
	};

	memset(b, 0, sizeof(*b));
	b->v = v;
	b->log = (struct logger){ .level = LOG_WARN, .fd = 2 };
	b->route_fd = b->intx_fd = b->resample_fd = -1;
	b->msi_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	pthread_mutex_init(&b->lock, NULL);
	if (guest_memory_init(&b->mem, &ram, 1) || iobus_init(&b->pio, "pio", &b->log) ||
	    iobus_init(&b->mmio, "mmio", &b->log) || pci_host_init(&b->pci, &pc) ||
	    evloop_init(&b->loop) || b->msi_fd < 0)
		die("cannot set up the machine");
	b->host = (struct dev_host){
		.log = &b->log, .mem = &b->mem, .loop = &b->loop, .pci = &b->pci, .opaque = b,
		.signal_msi = signal_msi, .add_ioeventfd = add_ioev, .del_ioeventfd = del_ioev,
		.add_irqfd = add_irqfd, .del_irqfd = del_irqfd,
		.set_msi_irqfd = set_route, .del_msi_irqfd = del_route,
	};
	if (pthread_create(&b->loop_thread, NULL, loop_main, b))
		die("cannot start the event loop");
}

/* The loop stops first: no device work runs while the device goes. */
static void machine_fini(struct bench *b)
{
	__atomic_store_n(&b->loop_stop, 1, __ATOMIC_RELEASE);
	evloop_wake(&b->loop);
	pthread_join(b->loop_thread, NULL);
	device_destroy(&b->dev);
	pci_host_destroy(&b->pci);
	iobus_destroy(&b->mmio);
	iobus_destroy(&b->pio);
	evloop_destroy(&b->loop);
	guest_memory_destroy(&b->mem);
	close(b->msi_fd);
}

/* ---- the driver ---------------------------------------------------------------- */

static void *ram(struct bench *b, uint64_t a)
{
	return gpa_to_hva(&b->mem, gpa(a), 0x1000);
}

static uint64_t mmio_read(struct bench *b, uint64_t a, unsigned size)
{
	uint64_t v = 0;

	iobus_access(&b->mmio, a, &v, size, false);
	return v;
}

static void mmio_write(struct bench *b, uint64_t a, uint64_t v, unsigned size)
{
	iobus_access(&b->mmio, a, &v, size, true);
}

static void common(struct bench *b, unsigned off, uint64_t v, unsigned size)
{
	mmio_write(b, b->bar4 + off, v, size);
}

static struct pci_device *function(struct bench *b)
{
	for (unsigned devfn = 1; devfn < PCI_DEVFNS; devfn++) {
		struct pci_device *p = pci_host_device(&b->pci, devfn);

		if (p)
			return p;
	}
	die("no device on the bus");
	return NULL;
}

static void msix_on(struct bench *b, struct pci_device *pdev)
{
	uint64_t bar1 = pci_bar_base(pdev, 1);
	unsigned cap = pci_config_read(pdev, PCI_CAPABILITY_LIST, 1);

	while (cap && pci_config_read(pdev, cap, 1) != PCI_CAP_ID_MSIX)
		cap = pci_config_read(pdev, cap + 1, 1);
	if (!cap)
		die("no MSI-X capability");
	mmio_write(b, bar1, MSI_ADDR, 4);
	mmio_write(b, bar1 + 4, 0, 4);
	mmio_write(b, bar1 + 8, 0, 4);  /* vector 0: data 0 */
	mmio_write(b, bar1 + 12, 0, 4); /* unmasked */
	pci_config_write(pdev, cap + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
}

static void driver_setup(struct bench *b)
{
	struct pci_device *pdev = function(b);
	uint8_t st = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;
	bool msix = b->v != PLAIN;

	b->bar4 = pci_bar_base(pdev, 4);
	if (msix)
		msix_on(b, pdev);
	common(b, VIRTIO_PCI_COMMON_STATUS, 0, 1);
	common(b, VIRTIO_PCI_COMMON_STATUS, st, 1);
	common(b, VIRTIO_PCI_COMMON_GFSELECT, 1, 4);
	common(b, VIRTIO_PCI_COMMON_GF, 1u << (VIRTIO_F_VERSION_1 - 32), 4);
	st |= VIRTIO_CONFIG_S_FEATURES_OK;
	common(b, VIRTIO_PCI_COMMON_STATUS, st, 1);
	common(b, VIRTIO_PCI_COMMON_Q_SELECT, 0, 2);
	common(b, VIRTIO_PCI_COMMON_Q_SIZE, QSIZE, 2);
	common(b, VIRTIO_PCI_COMMON_Q_MSIX, msix ? 0 : VIRTIO_MSI_NO_VECTOR, 2);
	common(b, VIRTIO_PCI_COMMON_Q_DESCLO, DESC, 4);
	common(b, VIRTIO_PCI_COMMON_Q_AVAILLO, AVAIL, 4);
	common(b, VIRTIO_PCI_COMMON_Q_USEDLO, USED, 4);
	common(b, VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2);
	common(b, VIRTIO_PCI_COMMON_STATUS, st | VIRTIO_CONFIG_S_DRIVER_OK, 1);
	if (mmio_read(b, b->bar4 + VIRTIO_PCI_COMMON_STATUS, 1) != (st | VIRTIO_CONFIG_S_DRIVER_OK))
		die("the device did not take DRIVER_OK");
}

static void publish(struct bench *b)
{
	struct vring_desc *d = ram(b, DESC);
	struct vring_avail *a = ram(b, AVAIL);
	uint16_t slot = b->avail_idx % QSIZE;

	d[slot] = (struct vring_desc){ .addr = BUF + 64 * slot, .len = 64,
				       .flags = VRING_DESC_F_WRITE };
	a->ring[slot] = slot;
	b->avail_idx++;
	__atomic_store_n(&a->idx, b->avail_idx, __ATOMIC_RELEASE);
}

static int doorbell_fd(struct bench *b)
{
	int fd = -1;

	pthread_mutex_lock(&b->lock);
	for (unsigned i = 0; i < b->nioev; i++)
		if (b->ioev[i].addr == b->bar4 + 0x3000)
			fd = b->ioev[i].fd;
	pthread_mutex_unlock(&b->lock);
	return fd;
}

/* The accelerator's part: the ioeventfd, or the write reaching the device's BAR. */
static void ring(struct bench *b, int fd)
{
	uint64_t one = 1;

	if (fd >= 0) {
		if (write(fd, &one, sizeof(one)) < 0)
			die("doorbell write");
		return;
	}
	mmio_write(b, b->bar4 + 0x3000, 0, 2);
}

static void wait_used(struct bench *b)
{
	struct vring_used *u = ram(b, USED);

	while (__atomic_load_n(&u->idx, __ATOMIC_ACQUIRE) != b->avail_idx)
		;
}

static void wait_irq(struct bench *b)
{
	int fd = b->v == IN_PROCESS ? b->msi_fd : b->v == ISOLATED ? b->route_fd : b->intx_fd;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t n, one = 1;

	if (poll(&p, 1, 5000) != 1 || read(fd, &n, sizeof(n)) != sizeof(n))
		die("no interrupt within 5 s");
	if (b->v == PLAIN) {
		/* INTx: the ISR read acknowledges, the EOI resamples. */
		(void)mmio_read(b, b->bar4 + 0x1000, 1);
		if (write(b->resample_fd, &one, sizeof(one)) < 0)
			die("resample");
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t median(uint64_t *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	return v[n / 2];
}

/* One round of one variant: medians of doorbell->used and doorbell->interrupt (ns). */
static void round_of(enum variant v, unsigned iters, uint64_t *used_ns, uint64_t *irq_ns)
{
	static struct bench b;
	uint64_t *t = calloc(iters, sizeof(*t));
	int fd;

	machine_init(&b, v);
	if (v == IN_PROCESS) {
		if (device_parse(&b.dev, "virtio-rng", &b.log) ||
		    device_create(&b.dev, &b.host))
			die("cannot create virtio-rng");
	} else {
		if (device_parse(&b.dev, v == PLAIN ? "virtio-rng,isolated=on,ext=off"
						    : "virtio-rng,isolated=on", &b.log) ||
		    device_create(&b.dev, &b.host))
			die("cannot start the device process");
	}
	driver_setup(&b);
	fd = v == PLAIN ? -1 : doorbell_fd(&b);
	if (v != PLAIN && fd < 0)
		die("no doorbell ioeventfd registered");
	for (unsigned i = 0; i < iters; i++) {
		uint64_t t0 = now_ns();

		publish(&b);
		ring(&b, fd);
		wait_used(&b);
		t[i] = now_ns() - t0;
		wait_irq(&b);
	}
	*used_ns = median(t, iters);
	for (unsigned i = 0; i < iters; i++) {
		uint64_t t0 = now_ns();

		publish(&b);
		ring(&b, fd);
		wait_irq(&b);
		t[i] = now_ns() - t0;
	}
	*irq_ns = median(t, iters);
	machine_fini(&b);
	free(t);
}

/* isolated=on starts this binary as `... remote --link fd=3 --device SPEC`. */
static int remote_main(int argc, char **argv)
{
	struct logger log = LOGGER_DEFAULT;
	struct remote_options o;
	struct remote *r;
	char err[256];
	int fd, rc;

	if (parse_remote_args(argc, argv, &o, err, sizeof(err)) != 0)
		return 2;
	log.level = o.log_level;
	/* As `splitvm remote` does: the sandbox's cost is part of the figure. */
	if (o.sandbox)
		sandbox_close_inherited(o.link_fd);
	if (remote_create(&r, o.device, &log))
		return 1;
	rc = remote_open_link(&o, &log, &fd);
	if (!rc)
		rc = remote_attach(r, fd);
	if (!rc && o.sandbox)
		rc = sandbox_apply_with(remote_sandbox(r), &log, NULL, remote_start_threads, r);
	else if (!rc)
		rc = remote_start_threads(r);
	if (!rc)
		rc = remote_run(r);
	remote_destroy(r);
	return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
	unsigned rounds = argc > 1 ? (unsigned)atoi(argv[1]) : 9;
	unsigned iters = argc > 2 ? (unsigned)atoi(argv[2]) : 2000;
	uint64_t used[NVARIANTS][64], irq[NVARIANTS][64];

	if (argc > 1 && !strcmp(argv[1], "remote"))
		return remote_main(argc - 1, argv + 1);
	if (rounds < 1 || rounds > 64 || iters < 10)
		die("usage: bench-doorbell [ROUNDS (1..64) [ITERS (>= 10)]]");
	for (unsigned r = 0; r < rounds; r++)
		for (unsigned v = 0; v < NVARIANTS; v++)
			round_of((enum variant)v, iters, &used[v][r], &irq[v][r]);
	printf("doorbell latency, virtio-rng, median of %u rounds x %u requests (us):\n", rounds,
	       iters);
	for (unsigned v = 0; v < NVARIANTS; v++) {
		uint64_t u = median(used[v], rounds), i = median(irq[v], rounds);
		uint64_t u0 = median(used[0], rounds), i0 = median(irq[0], rounds);

		printf("  %-22s doorbell->used %7.1f  doorbell->interrupt %7.1f", variant_names[v],
		       u / 1000.0, i / 1000.0);
		if (v)
			printf("   ratio to in-process %.2fx / %.2fx", (double)u / (double)u0,
			       (double)i / (double)i0);
		printf("\n");
	}
	return 0;
}
