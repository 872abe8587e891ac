/*
 * The negotiated extensions (issue 7), proxy side and device process side
 * together: splitvm's proxy against `splitvm remote` (virtio-rng on a
 * thread) and against the QEMU-like fake, which ends its link on any
 * command it does not know.
 *
 * - a QEMU-like peer sees the probe (a config read) and plain mpqemu only;
 * - with splitvm's device process: no start-up settle, doorbells become
 *   ioeventfds of the accelerator (and follow the BAR), a signalled doorbell
 *   reaches the device with no BAR write, MSI-X vectors go through MSI
 *   routes with masking and pending bits, memory writes are posted and
 *   never overtaken (by a read or a doorbell), heartbeats flow, and a
 *   peer that stops answering them breaks the link.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "proxy_env.h"
#include "remote/proxy_int.h"
#include "remote/remote.h"

#define COMMON 0x0000
#define NOTIFY 0x3000
#define PBA 0x800
#define DESC 0x10000u
#define AVAIL 0x10800u
#define USED 0x11000u
#define BUF 0x12000u
#define QSIZE 8
#define MSI_ADDR 0xfee00000u
#define MSI_DATA 0x41u

static int64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- splitvm remote on a thread ---------------------------------------------- */

/* rx_start() gives the remote its fast channel's thread (as `splitvm remote` does). */
static bool rx_fastchan;

struct rx {
	struct px_env *e;
	struct remote *r;
	struct logger rlog; /* the remote's log, at debug level */
	int rlog_rd;
	char rlogbuf[1 << 20];
	size_t rloglen;
	pthread_t thread;
	int status;
	uint64_t bar1, bar4;
	uint16_t avail_idx;
};

static void *run_remote(void *arg)
{
	struct rx *x = arg;

	x->status = remote_run(x->r);
	return NULL;
}

static const char *rlog(struct rx *x)
{
	ssize_t n;

	while (x->rloglen < sizeof(x->rlogbuf) - 1 &&
	       (n = read(x->rlog_rd, x->rlogbuf + x->rloglen,
			 sizeof(x->rlogbuf) - 1 - x->rloglen)) > 0)
		x->rloglen += (size_t)n;
	x->rlogbuf[x->rloglen] = 0;
	return x->rlogbuf;
}

static unsigned count_of(const char *hay, const char *needle)
{
	unsigned n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* A proxy with the accelerator's services against splitvm remote. */
static struct rx *rx_start(unsigned heartbeat_ms, int settle_ms)
{
	struct rx *x = calloc(1, sizeof(*x));
	struct proxy_config cfg;

	assert_non_null(x);
	x->e = px_env_new(1);
	px_env_accel(x->e);
	x->rlog_rd = -1;
	{
		int sv[2], pfd[2];

		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
		assert_int_equal(pipe2(pfd, O_CLOEXEC | O_NONBLOCK), 0);
		fcntl(pfd[1], F_SETPIPE_SZ, 1 << 20);
		x->rlog = (struct logger){ .level = LOG_DEBUG, .fd = pfd[1] };
		x->rlog_rd = pfd[0];
		assert_int_equal(remote_create(&x->r, "virtio-rng", &x->rlog), 0);
		assert_int_equal(remote_attach(x->r, sv[1]), 0);
		if (rx_fastchan)
			assert_int_equal(remote_start_threads(x->r), 0);
		assert_int_equal(pthread_create(&x->thread, NULL, run_remote, x), 0);
		cfg = px_env_config(x->e, sv[0], 2000);
	}
	cfg.heartbeat_ms = heartbeat_ms;
	cfg.settle_ms = settle_ms;
	assert_int_equal(proxy_create(&x->e->host, &cfg, &x->e->px), 0);
	proxy_config_clear(&cfg);
	x->bar1 = pci_bar_base(proxy_pci(x->e->px), 1);
	x->bar4 = pci_bar_base(proxy_pci(x->e->px), 4);
	assert_true(x->bar1 && x->bar4);
	return x;
}

static void rx_finish(struct rx *x)
{
	proxy_destroy(x->e->px);
	x->e->px = NULL;
	pthread_join(x->thread, NULL);
	assert_int_equal(x->status, 0);
	remote_destroy(x->r);
	close(x->rlog.fd);
	close(x->rlog_rd);
	px_env_free(x->e);
	free(x);
}

static uint64_t mmio_read(struct rx *x, uint64_t addr, unsigned size)
{
	uint64_t v = 0;

	iobus_access(&x->e->mmio, addr, &v, size, false);
	return v;
}

static void mmio_write(struct rx *x, uint64_t addr, uint64_t v, unsigned size)
{
	iobus_access(&x->e->mmio, addr, &v, size, true);
}

static void *ram(struct rx *x, uint64_t addr)
{
	return gpa_to_hva(&x->e->mem, gpa(addr), 0x1000);
}

/* The device's MSI-X capability, walked through the proxy (config reads forwarded). */
static unsigned msix_cap(struct rx *x)
{
	struct pci_device *pdev = proxy_pci(x->e->px);
	unsigned off = pci_config_read(pdev, PCI_CAPABILITY_LIST, 1);

	while (off && (pci_config_read(pdev, off, 1) != PCI_CAP_ID_MSIX))
		off = pci_config_read(pdev, off + 1, 1);
	assert_true(off != 0);
	return off;
}

static void msix_control(struct rx *x, uint16_t flags)
{
	pci_config_write(proxy_pci(x->e->px), msix_cap(x) + PCI_MSIX_FLAGS, 2, flags);
}

static void common_write(struct rx *x, unsigned off, uint64_t v, unsigned size)
{
	mmio_write(x, x->bar4 + COMMON + off, v, size);
}

/* virtio 1.x set-up through the proxy's BAR: one queue on MSI-X vector 0. */
static void driver_setup(struct rx *x)
{
	uint8_t st = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;

	memset(ram(x, DESC), 0, 0x1000);
	memset(ram(x, AVAIL), 0, 0x1000);
	memset(ram(x, USED), 0, 0x1000);
	x->avail_idx = 0;
	common_write(x, VIRTIO_PCI_COMMON_STATUS, 0, 1);
	common_write(x, VIRTIO_PCI_COMMON_STATUS, st, 1);
	common_write(x, VIRTIO_PCI_COMMON_GFSELECT, 1, 4);
	common_write(x, VIRTIO_PCI_COMMON_GF, 1u << (VIRTIO_F_VERSION_1 - 32), 4);
	st |= VIRTIO_CONFIG_S_FEATURES_OK;
	common_write(x, VIRTIO_PCI_COMMON_STATUS, st, 1);
	common_write(x, VIRTIO_PCI_COMMON_Q_SELECT, 0, 2);
	common_write(x, VIRTIO_PCI_COMMON_Q_SIZE, QSIZE, 2);
	common_write(x, VIRTIO_PCI_COMMON_Q_MSIX, 0, 2);
	common_write(x, VIRTIO_PCI_COMMON_Q_DESCLO, DESC, 4);
	common_write(x, VIRTIO_PCI_COMMON_Q_DESCHI, 0, 4);
	common_write(x, VIRTIO_PCI_COMMON_Q_AVAILLO, AVAIL, 4);
	common_write(x, VIRTIO_PCI_COMMON_Q_AVAILHI, 0, 4);
	common_write(x, VIRTIO_PCI_COMMON_Q_USEDLO, USED, 4);
	common_write(x, VIRTIO_PCI_COMMON_Q_USEDHI, 0, 4);
	common_write(x, VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2);
	common_write(x, VIRTIO_PCI_COMMON_STATUS, st | VIRTIO_CONFIG_S_DRIVER_OK, 1);
}

/* MSI-X table entry 0 (the proxy's own table), then enable. */
static void msix_setup(struct rx *x, bool masked)
{
	mmio_write(x, x->bar1 + 0, MSI_ADDR, 4);
	mmio_write(x, x->bar1 + 4, 0, 4);
	mmio_write(x, x->bar1 + 8, MSI_DATA, 4);
	mmio_write(x, x->bar1 + 12, masked, 4);
	msix_control(x, PCI_MSIX_FLAGS_ENABLE);
}

/* The doorbell of queue 0 as the accelerator would ring it: its eventfd. */
static void ring_doorbell(struct rx *x)
{
	const struct accel_ioeventfd *ev = px_env_ioev(x->e, x->bar4 + NOTIFY);
	uint64_t one = 1;

	assert_non_null(ev);
	assert_int_equal(ev->len, 2);
	assert_false(ev->pio);
	assert_int_equal(write(ev->fd, &one, sizeof(one)), sizeof(one));
}

/* Publishes one 64-byte writable buffer; the doorbell is the caller's. */
static uint16_t publish(struct rx *x)
{
	struct vring_desc *d = ram(x, DESC);
	struct vring_avail *a = ram(x, AVAIL);

	d[0] = (struct vring_desc){ .addr = BUF, .len = 64, .flags = VRING_DESC_F_WRITE };
	a->ring[x->avail_idx % QSIZE] = 0;
	x->avail_idx++;
	__atomic_store_n(&a->idx, x->avail_idx, __ATOMIC_RELEASE);
	return x->avail_idx;
}

static bool used_reaches(struct rx *x, uint16_t want, int ms)
{
	struct vring_used *u = ram(x, USED);

	for (int i = 0; i < ms; i++) {
		if (__atomic_load_n(&u->idx, __ATOMIC_ACQUIRE) == want)
			return true;
		usleep(1000);
	}
	return false;
}

static bool fd_counted(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1;
}

/* The vector 0 eventfd: the one routed to MSI_ADDR/MSI_DATA, or the proxy's own. */
static int vector0_fd(struct rx *x)
{
	return x->e->px->msix.vec[0].fd;
}

/* ---- a QEMU-like peer ------------------------------------------------------------ */

/* The fake ends its link on any command it does not know: it must never see one. */
static void test_qemu_peer_plain(void **state)
{
	struct px_env *e = px_env_new(1);
	struct proxy_config cfg;
	uint64_t v = 0, bar1;

	px_env_accel(e);
	cfg = px_env_config(e, px_env_fake_link(e), 500);
	cfg.heartbeat_ms = 20;
	assert_int_equal(proxy_create(&e->host, &cfg, &e->px), 0);
	proxy_config_clear(&cfg);
	assert_int_equal(e->fake.nprobe, 1);
	assert_false(e->px->splitvm_peer);
	assert_int_equal(e->px->features, 0);
	bar1 = pci_bar_base(proxy_pci(e->px), 1);
	v = 0xab;
	iobus_access(&e->mmio, bar1 + 8, &v, 4, true);
	assert_int_equal(e->fake.last_bar_cmd, LINK_BAR_WRITE); /* not posted */
	usleep(150 * 1000); /* seven heartbeat periods: none may be sent */
	v = 0;
	iobus_access(&e->mmio, bar1 + 8, &v, 4, false);
	assert_true(v == (uint32_t)(FAKE_MAGIC | (bar1 + 8)));
	assert_false(link_broken(&e->fake.link));
	assert_false(link_broken(&e->px->link));
	assert_int_equal(e->fake.qemu_violations, 0);
	assert_int_equal(e->nioev + e->ioev_adds + e->nroutes + e->route_sets, 0);
	assert_false(e->px->chan_on);
	px_env_free(e);
	(void)state;
}

/* ---- splitvm remote -------------------------------------------------------------- */

static void test_negotiated(void **state)
{
	int64_t t0 = ms_now();
	struct rx *x = rx_start(0, PROXY_SETTLE_MS);

	/* No 300 ms wait for a start-up reset our device process does not do. */
	assert_true(ms_now() - t0 < PROXY_SETTLE_MS);
	assert_true(x->e->px->splitvm_peer);
	assert_int_equal(x->e->px->features, LINK_F_POSTED | LINK_F_DOORBELL | LINK_F_MSIX);
	assert_true(x->e->px->msix.owned);
	assert_non_null(strstr(rlog(x), "extensions v1: doorbells msix posted-writes"));
	rx_finish(x);
	(void)state;
}

/* A signalled doorbell reaches the device: no BAR write crosses the link. */
static void test_doorbell(void **state)
{
	struct rx *x = rx_start(0, 0);
	uint16_t want;
	unsigned writes;

	driver_setup(x);
	(void)mmio_read(x, x->bar4 + COMMON + VIRTIO_PCI_COMMON_STATUS, 1); /* flushes */
	writes = count_of(rlog(x), "BAR_WRITE");
	want = publish(x);
	ring_doorbell(x);
	assert_true(used_reaches(x, want, 5000));
	assert_int_equal(count_of(rlog(x), "BAR_WRITE"), writes);
	/* One doorbell registration for the one queue, at the notify address. */
	assert_int_equal(x->e->nioev, 1);
	rx_finish(x);
	(void)state;
}

/* The ioeventfd follows the BAR: moved, decoding off and on. */
static void test_doorbell_follows_bar(void **state)
{
	struct rx *x = rx_start(0, 0);
	struct pci_device *pdev = proxy_pci(x->e->px);
	uint64_t moved = x->bar4 + 0x100000;
	uint16_t want;

	pci_config_write(pdev, PCI_BASE_ADDRESS_4, 4, (uint32_t)moved | 0xc);
	assert_null(px_env_ioev(x->e, x->bar4 + NOTIFY));
	assert_non_null(px_env_ioev(x->e, moved + NOTIFY));
	pci_config_write(pdev, PCI_COMMAND, 2, 0);
	assert_int_equal(x->e->nioev, 0);
	pci_config_write(pdev, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	assert_int_equal(x->e->nioev, 1);
	x->bar4 = moved;
	driver_setup(x);
	want = publish(x);
	ring_doorbell(x);
	assert_true(used_reaches(x, want, 5000));
	rx_finish(x);
	(void)state;
}

/* An unmasked vector is an MSI route; the device signals its eventfd. */
static void test_msix_route(void **state)
{
	struct rx *x = rx_start(0, 0);
	const struct px_route *r;
	unsigned writes;
	uint16_t want;

	driver_setup(x);
	(void)mmio_read(x, x->bar4 + COMMON, 4); /* flushes the posted writes */
	writes = count_of(rlog(x), "BAR_WRITE");
	msix_setup(x, false);
	r = px_env_route(x->e, vector0_fd(x));
	assert_non_null(r);
	assert_int_equal(r->addr, MSI_ADDR);
	assert_int_equal(r->data, MSI_DATA);
	assert_int_equal(x->e->nroutes, 1); /* the other vector stays masked */
	/* The table is the proxy's: the device process never sees it. */
	assert_int_equal(mmio_read(x, x->bar1 + 8, 4), MSI_DATA);
	assert_int_equal(count_of(rlog(x), "BAR_WRITE"), writes);
	want = publish(x);
	ring_doorbell(x);
	assert_true(used_reaches(x, want, 5000));
	assert_true(fd_counted(vector0_fd(x), 5000)); /* the accelerator would deliver it */
	assert_int_equal(x->e->nsignal, 0);
	/* A new message for the vector changes the route in place. */
	mmio_write(x, x->bar1 + 8, MSI_DATA + 1, 4);
	assert_int_equal(px_env_route(x->e, vector0_fd(x))->data, MSI_DATA + 1);
	/* MSI-X off: no route, and INTx again (the device's own choice). */
	msix_control(x, 0);
	assert_int_equal(x->e->nroutes, 0);
	rx_finish(x);
	(void)state;
}

/* Masked: counted as pending (PBA), delivered once when unmasked. */
static void test_msix_mask(void **state)
{
	struct rx *x = rx_start(0, 0);
	uint16_t want;

	driver_setup(x);
	msix_setup(x, true);
	assert_int_equal(x->e->nroutes, 0);
	assert_int_equal(mmio_read(x, x->bar1 + PBA, 8), 0);
	want = publish(x);
	ring_doorbell(x);
	assert_true(used_reaches(x, want, 5000));
	assert_true(fd_counted(vector0_fd(x), 5000));
	assert_int_equal(mmio_read(x, x->bar1 + PBA, 8), 1);
	assert_int_equal(mmio_read(x, x->bar1 + PBA, 4), 1);
	mmio_write(x, x->bar1 + 12, 0, 4); /* unmask */
	assert_int_equal(x->e->nsignal, 1);
	assert_int_equal(x->e->sig_addr, MSI_ADDR);
	assert_int_equal(x->e->sig_data, MSI_DATA);
	assert_false(fd_counted(vector0_fd(x), 0));
	assert_int_equal(mmio_read(x, x->bar1 + PBA, 8), 0);
	assert_non_null(px_env_route(x->e, vector0_fd(x)));
	/* Function mask: the same, for every vector. */
	msix_control(x, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	assert_int_equal(x->e->nroutes, 0);
	want = publish(x);
	ring_doorbell(x);
	assert_true(used_reaches(x, want, 5000));
	assert_true(fd_counted(vector0_fd(x), 5000));
	assert_int_equal(mmio_read(x, x->bar1 + PBA, 8), 1);
	msix_control(x, PCI_MSIX_FLAGS_ENABLE);
	assert_int_equal(x->e->nsignal, 2);
	/* Pending, then MSI-X disabled: dropped, not delivered later. */
	msix_control(x, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	want = publish(x);
	ring_doorbell(x);
	assert_true(used_reaches(x, want, 5000));
	assert_true(fd_counted(vector0_fd(x), 5000));
	msix_control(x, 0);
	msix_control(x, PCI_MSIX_FLAGS_ENABLE);
	assert_int_equal(x->e->nsignal, 2);
	rx_finish(x);
	(void)state;
}

/* Memory writes are posted; a read, or a doorbell, comes after them. */
static void test_posted_order(void **state)
{
	struct rx *x = rx_start(0, 0);
	unsigned posted;

	common_write(x, VIRTIO_PCI_COMMON_DFSELECT, 1, 4);
	assert_int_equal(mmio_read(x, x->bar4 + COMMON + VIRTIO_PCI_COMMON_DFSELECT, 4), 1);
	posted = count_of(rlog(x), "EXT_BAR_WRITE");
	assert_true(posted >= 1);
	/* The whole set-up posted, then at once the doorbell: never lost. */
	for (int round = 0; round < 20; round++) {
		uint16_t want;

		driver_setup(x);
		want = publish(x);
		ring_doorbell(x);
		assert_true(used_reaches(x, want, 5000));
	}
	assert_true(count_of(rlog(x), "EXT_BAR_WRITE") >= posted + 20 * 16);
	assert_int_equal(count_of(rlog(x), "remote: BAR_WRITE"), 0);
	rx_finish(x);
	(void)state;
}

static void test_heartbeat(void **state)
{
	struct rx *x = rx_start(20, 0);

	assert_true(x->e->px->features & LINK_F_HEARTBEAT);
	usleep(200 * 1000);
	assert_true(count_of(rlog(x), "EXT_HEARTBEAT") >= 3);
	assert_false(link_broken(&x->e->px->link));
	rx_finish(x);
	(void)state;
}

struct hb_break {
	struct proxy *px;
	int err;
	bool on_hb_thread;
};

static void on_break(void *opaque, int err, const char *what)
{
	struct hb_break *b = opaque;

	b->err = err;
	/* Told apart from a vCPU's timeout. */
	b->on_hb_thread = proxy_ext_heartbeat_thread(b->px);
	assert_non_null(strstr(what, "no reply to EXT_HEARTBEAT within 100 ms"));
}

/* A device process that stops answering heartbeats: the link breaks, once. */
static void test_heartbeat_lost(void **state)
{
	struct px_env *e = px_env_new(1);
	struct proxy_config cfg;
	struct hb_break broke = { 0 };
	int64_t t0;
	uint64_t v = 0;

	e->fake.splitvm = true;
	e->fake.take = LINK_F_HEARTBEAT | LINK_F_POSTED;
	cfg = px_env_config(e, px_env_fake_link(e), 100);
	cfg.heartbeat_ms = 20;
	assert_int_equal(proxy_create(&e->host, &cfg, &e->px), 0);
	proxy_config_clear(&cfg);
	assert_int_equal(e->fake.nhello, 1);
	assert_int_equal(e->fake.hello.heartbeat_ms, 20);
	assert_int_equal(e->px->features, LINK_F_HEARTBEAT | LINK_F_POSTED);
	broke.px = e->px;
	assert_false(proxy_ext_heartbeat_thread(e->px));
	pthread_mutex_lock(&e->px->link.lock);
	e->px->link.on_break = on_break;
	e->px->link.break_opaque = &broke;
	pthread_mutex_unlock(&e->px->link.lock);
	usleep(100 * 1000);
	assert_true(e->fake.nheartbeat >= 2);
	assert_int_equal(broke.err, 0);
	pthread_mutex_lock(&e->fake.lock);
	e->fake.hb_hang = true;
	pthread_mutex_unlock(&e->fake.lock);
	t0 = ms_now();
	while (!link_broken(&e->px->link) && ms_now() - t0 < 2000)
		usleep(5000);
	assert_int_equal(broke.err, -ETIMEDOUT);
	assert_true(broke.on_hb_thread);
	assert_true(ms_now() - t0 < 1000);
	iobus_access(&e->mmio, pci_bar_base(proxy_pci(e->px), 1), &v, 4, false);
	assert_int_equal(v, 0xffffffff);
	px_env_free(e);
	(void)state;
}

/* A doorbell fd must be an eventfd, and is made non-blocking: a vCPU writes it. */
static void doorbell_fd_case(int fd, bool registered)
{
	struct px_env *e = px_env_new(1);
	struct proxy_config cfg;
	uint64_t bar1;
	int fl;

	px_env_accel(e);
	e->fake.splitvm = true;
	e->fake.take = LINK_F_DOORBELL;
	e->fake.db_fd = fd;
	cfg = px_env_config(e, px_env_fake_link(e), 500);
	assert_int_equal(proxy_create(&e->host, &cfg, &e->px), 0);
	proxy_config_clear(&cfg);
	bar1 = pci_bar_base(proxy_pci(e->px), 1);
	assert_int_equal(e->px->features, LINK_F_DOORBELL);
	assert_true(e->px->db[5].used);
	assert_int_equal(e->nioev, registered);
	if (registered) {
		assert_non_null(px_env_ioev(e, bar1 + 0x100));
		fl = fcntl(fd, F_GETFL);
		assert_true(fl & O_NONBLOCK);
	} else {
		assert_non_null(strstr(px_env_log(e), "doorbell 5 does not come with an eventfd"));
	}
	assert_false(link_broken(&e->px->link));
	px_env_free(e);
}

static void test_doorbell_fd_checked(void **state)
{
	int p[2], efd = eventfd(0, EFD_CLOEXEC); /* blocking, as a hostile peer would make it */

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	doorbell_fd_case(p[1], false);
	doorbell_fd_case(efd, true);
	close(p[0]);
	close(p[1]);
	close(efd);
	(void)state;
}

/* ---- the fast channel ---------------------------------------------------------- */

static int fastchan_on(void **state)
{
	rx_fastchan = true;
	(void)state;
	return 0;
}

static int fastchan_off(void **state)
{
	rx_fastchan = false;
	(void)state;
	return 0;
}

/*
 * With the channel: accesses never reach the socket, the doorbell the
 * COMMAND write made is in place when that write returns (announced on the
 * socket, read before the next access), and a doorbell rung right after
 * posted writes on the channel never overtakes them (the device process's
 * event loop serves the channel first).
 */
static void test_fastchan(void **state)
{
	struct rx *x = rx_start(0, 0);
	unsigned reads, writes;

	assert_int_equal(x->e->px->features & LINK_F_FASTCHAN, LINK_F_FASTCHAN);
	assert_true(x->e->px->chan_on);
	assert_non_null(strstr(rlog(x), " fast-channel "));
	assert_int_equal(x->e->nioev, 1);
	reads = count_of(rlog(x), "remote: BAR_READ") + count_of(rlog(x), "remote: PCI_CFGREAD");
	writes = count_of(rlog(x), "BAR_WRITE");
	for (int round = 0; round < 20; round++) {
		uint16_t want;

		driver_setup(x);
		want = publish(x);
		ring_doorbell(x);
		assert_true(used_reaches(x, want, 5000));
	}
	(void)msix_cap(x);
	assert_int_equal(count_of(rlog(x), "remote: BAR_READ") +
			 count_of(rlog(x), "remote: PCI_CFGREAD"), reads);
	assert_int_equal(count_of(rlog(x), "BAR_WRITE"), writes);
	assert_int_equal(x->e->nioev, 1);
	assert_false(proxy_failed(x->e->px));
	rx_finish(x);
	(void)state;
}

/* A request the link would refuse ends the device process, as on the link. */
static void bad_request(const struct fastchan_req *q, const char *why)
{
	struct rx *x = rx_start(0, 0);
	struct fastchan_rep rep;

	assert_int_equal(fastchan_vmm_request(&x->e->px->chan, q, &rep,
					      fastchan_now_ns() + 300 * 1000000ll), -ETIMEDOUT);
	pthread_join(x->thread, NULL);
	assert_int_equal(x->status, -EBADMSG);
	print_message("  %s", strstr(rlog(x), "remote: bad request"));
	assert_non_null(strstr(rlog(x), why));
	proxy_destroy(x->e->px);
	x->e->px = NULL;
	remote_destroy(x->r);
	close(x->rlog.fd);
	close(x->rlog_rd);
	px_env_free(x->e);
	free(x);
}

static void test_fastchan_bad_request(void **state)
{
	struct fastchan_req q = { .cmd = 99 };

	bad_request(&q, "bad request 99 on the fast channel");
	q = (struct fastchan_req){ .cmd = LINK_BAR_READ };
	q.u.bar = (struct link_bar_access){ .addr = 0xc0000000, .size = 3, .memory = 1 };
	bad_request(&q, "BAR access size not 1, 2, 4 or 8");
	q = (struct fastchan_req){ .cmd = LINK_EXT_BAR_WRITE };
	q.u.bar = (struct link_bar_access){ .addr = 0x1000, .size = 4, .memory = 0 };
	bad_request(&q, "posted write to I/O space");
	q = (struct fastchan_req){ .cmd = LINK_PCI_CFGREAD };
	q.u.conf = (struct link_pci_conf){ .addr = 4095, .len = 4 };
	bad_request(&q, "config access beyond 4 KiB");
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_qemu_peer_plain),
		cmocka_unit_test(test_negotiated),
		cmocka_unit_test(test_doorbell),
		cmocka_unit_test(test_doorbell_follows_bar),
		cmocka_unit_test(test_doorbell_fd_checked),
		cmocka_unit_test(test_msix_route),
		cmocka_unit_test(test_msix_mask),
		cmocka_unit_test(test_posted_order),
		cmocka_unit_test(test_heartbeat),
		cmocka_unit_test(test_heartbeat_lost),
		cmocka_unit_test_setup_teardown(test_fastchan, fastchan_on, fastchan_off),
		cmocka_unit_test_setup_teardown(test_fastchan_bad_request, fastchan_on,
						fastchan_off),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
