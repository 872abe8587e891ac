/*
 * `splitvm remote` in-process: a remote machine with virtio-rng runs on a
 * thread at one end of a socketpair; the test is the VMM at the other end,
 * speaking through a proxy link as QEMU's x-pci-proxy-dev would. Config
 * reads of the IDs, QEMU's BAR probe, BAR reads and writes of the common
 * configuration, a virtqueue request served into a shared memfd, INTx on
 * an eventfd with resampling, DEVICE_RESET, and garbage that ends the
 * process with an error, never a crash or a leaked fd.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/pci_regs.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "link_test.h"
#include "remote/inflight.h"
#include "remote/remote.h"

#define TIMEOUT_MS 5000
#define RAM_SIZE (2u << 20)
#define BAR1 0xfebff000u        /* MSI-X table */
#define BAR4 0xfe000000u        /* virtio structures */
#define COMMON (BAR4 + 0x0000)
#define ISR (BAR4 + 0x1000)
#define NOTIFY (BAR4 + 0x3000)
/* The queue's rings and buffer, in the second RAM region (gpa 1 MiB up). */
#define DESC 0x100000u
#define AVAIL 0x100800u
#define USED 0x101000u
#define BUF 0x102000u
#define QSIZE 8

struct rt {
	struct lt_env e; /* e.link: our proxy end */
	struct remote *r;
	pthread_t thread;
	int status;
	int memfd;
	uint8_t *ram;
	int irq[2]; /* irqfd, resample */
	uint16_t avail_idx;
};

static void *run_remote(void *arg)
{
	struct rt *t = arg;

	t->status = remote_run(t->r);
	return NULL;
}

static void rt_start(struct rt *t, const char *spec)
{
	memset(t, 0, sizeof(*t));
	t->memfd = t->irq[0] = t->irq[1] = -1;
	lt_setup(&t->e, LINK_ROLE_PROXY);
	t->e.log.level = LOG_INFO;
	assert_int_equal(remote_create(&t->r, spec, &t->e.log), 0);
	assert_int_equal(remote_attach(t->r, t->e.raw), 0);
	t->e.raw = -1; /* the remote's */
	assert_int_equal(pthread_create(&t->thread, NULL, run_remote, t), 0);
}

/* Closes our end (or finds the remote gone) and returns its status. */
static int rt_finish(struct rt *t)
{
	link_destroy(&t->e.link);
	pthread_join(t->thread, NULL);
	remote_destroy(t->r);
	if (t->ram)
		munmap(t->ram, RAM_SIZE);
	if (t->memfd >= 0)
		close(t->memfd);
	if (t->irq[0] >= 0)
		lt_close_all(t->irq, 2);
	lt_teardown(&t->e);
	return t->status;
}

static uint64_t call(struct rt *t, const struct link_msg *m)
{
	uint64_t v = 0;

	assert_int_equal(link_call(&t->e.link, m, &v, TIMEOUT_MS), 0);
	return v;
}

static uint32_t cfg_read(struct rt *t, uint32_t addr, int len)
{
	struct link_msg m;

	link_msg_cfg(&m, LINK_PCI_CFGREAD, addr, 0, len);
	return (uint32_t)call(t, &m);
}

static void cfg_write(struct rt *t, uint32_t addr, uint32_t val, int len)
{
	struct link_msg m;

	link_msg_cfg(&m, LINK_PCI_CFGWRITE, addr, val, len);
	assert_int_equal(call(t, &m), 0);
}

static uint64_t bar_read(struct rt *t, uint64_t addr, unsigned size, bool mem)
{
	struct link_msg m;

	link_msg_bar(&m, LINK_BAR_READ, addr, 0, size, mem);
	return call(t, &m);
}

static void bar_write(struct rt *t, uint64_t addr, uint64_t val, unsigned size)
{
	struct link_msg m;

	link_msg_bar(&m, LINK_BAR_WRITE, addr, val, size, true);
	assert_int_equal(call(t, &m), 0);
}

/* Where a VMM's firmware would put the BARs, then decoding on. */
static void program_bars(struct rt *t)
{
	cfg_write(t, PCI_BASE_ADDRESS_1, BAR1, 4);
	cfg_write(t, PCI_BASE_ADDRESS_4, BAR4, 4);
	cfg_write(t, PCI_BASE_ADDRESS_5, 0, 4);
	cfg_write(t, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
}

/* The memfd as QEMU sends it: [0, 1 MiB) and [1 MiB, 2 MiB) as two regions. */
static void share_ram(struct rt *t)
{
	struct link_msg m;

	t->memfd = memfd_create("test-ram", MFD_CLOEXEC);
	assert_true(t->memfd >= 0);
	assert_int_equal(ftruncate(t->memfd, RAM_SIZE), 0);
	t->ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, t->memfd, 0);
	assert_true(t->ram != MAP_FAILED);
	link_msg_sysmem(&m);
	assert_int_equal(link_msg_sysmem_add(&m, t->memfd, 0, RAM_SIZE / 2, 0), 0);
	assert_int_equal(link_msg_sysmem_add(&m, t->memfd, RAM_SIZE / 2, RAM_SIZE / 2,
					     RAM_SIZE / 2), 0);
	assert_int_equal(link_send(&t->e.link, &m, TIMEOUT_MS), 0);
}

static void set_irqfd(struct rt *t)
{
	struct link_msg m;

	lt_eventfds(t->irq, 2);
	link_msg_irqfd(&m, t->irq[0], t->irq[1]);
	assert_int_equal(link_send(&t->e.link, &m, TIMEOUT_MS), 0);
}

/* True if the irqfd fires within ms; consumes it. */
static bool irq_fired(struct rt *t, int ms)
{
	struct pollfd p = { .fd = t->irq[0], .events = POLLIN };
	uint64_t n;

	if (poll(&p, 1, ms) != 1)
		return false;
	assert_int_equal(read(t->irq[0], &n, 8), 8);
	return true;
}

static void resample(struct rt *t)
{
	uint64_t one = 1;

	assert_int_equal(write(t->irq[1], &one, 8), 8);
}

static void test_ids(void **state)
{
	struct rt t;

	rt_start(&t, "virtio-rng");
	assert_int_equal(cfg_read(&t, PCI_VENDOR_ID, 4), 0x10441af4);
	assert_int_equal(cfg_read(&t, PCI_CLASS_DEVICE, 2), 0xff00); /* unassigned class */
	assert_int_equal(cfg_read(&t, PCI_SUBSYSTEM_VENDOR_ID, 4), 0x11001af4);
	assert_int_equal(cfg_read(&t, PCI_INTERRUPT_PIN, 1), 1);
	assert_int_equal(cfg_read(&t, PCI_CAPABILITY_LIST, 1) & 3, 0);
	/* Past QEMU's limits: a byte at 0xff, and the extended space reads 0. */
	assert_int_equal(cfg_read(&t, 0xff, 1), 0);
	assert_int_equal(cfg_read(&t, 0x100, 4), 0);
	cfg_write(&t, 0xffc, 0xffffffff, 4);
	assert_int_equal(rt_finish(&t), 0);
}

/* QEMU's proxy probe: all ones into each dword 0x10..0x28, then back. */
static void test_bar_sizing(void **state)
{
	static const uint32_t want[7] = { 0, 0xfffff000, 0, 0, 0xffffc00c, 0xffffffff, 0 };
	struct rt t;

	rt_start(&t, "virtio-rng");
	for (unsigned i = 0; i < 7; i++) {
		uint32_t off = PCI_BASE_ADDRESS_0 + 4 * i, orig = cfg_read(&t, off, 4), ones;

		cfg_write(&t, off, 0xffffffff, 4);
		ones = cfg_read(&t, off, 4);
		cfg_write(&t, off, orig, 4);
		assert_int_equal(ones, want[i]);
		assert_int_equal(cfg_read(&t, off, 4), orig);
	}
	assert_int_equal(rt_finish(&t), 0);
}

static void test_bar_access(void **state)
{
	struct rt t;

	rt_start(&t, "virtio-rng");
	program_bars(&t);
	assert_int_equal(bar_read(&t, COMMON + VIRTIO_PCI_COMMON_NUMQ, 2, true), 1);
	bar_write(&t, COMMON + VIRTIO_PCI_COMMON_DFSELECT, 1, 4);
	assert_int_equal(bar_read(&t, COMMON + VIRTIO_PCI_COMMON_DFSELECT, 4, true), 1);
	assert_int_equal(bar_read(&t, COMMON + VIRTIO_PCI_COMMON_DF, 4, true),
			 1u << (VIRTIO_F_VERSION_1 - 32));
	/* MSI-X table entry 0's data word (BAR1): written and read back. */
	bar_write(&t, BAR1 + 8, 0x12345678, 4);
	assert_int_equal(bar_read(&t, BAR1 + 8, 4, true), 0x12345678);
	/* Nothing there: all ones, in memory and I/O space; writes are dropped. */
	assert_int_equal(bar_read(&t, 0xfd000000, 4, true), 0xffffffff);
	assert_true(bar_read(&t, 0xfd000000, 8, true) == UINT64_MAX);
	assert_int_equal(bar_read(&t, 0x5000, 2, false), 0xffff);
	bar_write(&t, 0xfd000000, 1, 4);
	/* The BAR follows the VMM's config writes. */
	cfg_write(&t, PCI_BASE_ADDRESS_4, BAR4 + 0x100000, 4);
	assert_int_equal(bar_read(&t, COMMON + VIRTIO_PCI_COMMON_NUMQ, 2, true), 0xffff);
	assert_int_equal(bar_read(&t, COMMON + 0x100000 + VIRTIO_PCI_COMMON_NUMQ, 2, true), 1);
	cfg_write(&t, PCI_COMMAND, 0, 2);
	assert_int_equal(bar_read(&t, COMMON + 0x100000 + VIRTIO_PCI_COMMON_NUMQ, 2, true), 0xffff);
	assert_int_equal(rt_finish(&t), 0);
}

static void common_write(struct rt *t, unsigned off, uint64_t val, unsigned size)
{
	bar_write(t, COMMON + off, val, size);
}

/* The driver's side of virtio 1.x initialisation, through the BAR. */
static void driver_setup(struct rt *t)
{
	uint8_t status = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;

	memset(t->ram + DESC, 0, USED + 0x1000 - DESC);
	t->avail_idx = 0;
	common_write(t, VIRTIO_PCI_COMMON_STATUS, 0, 1);
	common_write(t, VIRTIO_PCI_COMMON_STATUS, status, 1);
	common_write(t, VIRTIO_PCI_COMMON_GFSELECT, 1, 4);
	common_write(t, VIRTIO_PCI_COMMON_GF, 1u << (VIRTIO_F_VERSION_1 - 32), 4);
	status |= VIRTIO_CONFIG_S_FEATURES_OK;
	common_write(t, VIRTIO_PCI_COMMON_STATUS, status, 1);
	assert_int_equal(bar_read(t, COMMON + VIRTIO_PCI_COMMON_STATUS, 1, true), status);
	common_write(t, VIRTIO_PCI_COMMON_Q_SELECT, 0, 2);
	common_write(t, VIRTIO_PCI_COMMON_Q_SIZE, QSIZE, 2);
	common_write(t, VIRTIO_PCI_COMMON_Q_DESCLO, DESC, 4);
	common_write(t, VIRTIO_PCI_COMMON_Q_DESCHI, 0, 4);
	common_write(t, VIRTIO_PCI_COMMON_Q_AVAILLO, AVAIL, 4);
	common_write(t, VIRTIO_PCI_COMMON_Q_AVAILHI, 0, 4);
	common_write(t, VIRTIO_PCI_COMMON_Q_USEDLO, USED, 4);
	common_write(t, VIRTIO_PCI_COMMON_Q_USEDHI, 0, 4);
	common_write(t, VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2);
	common_write(t, VIRTIO_PCI_COMMON_STATUS, status | VIRTIO_CONFIG_S_DRIVER_OK, 1);
}

/* One 64-byte writable buffer, published and notified; waits for the used entry. */
static void rng_request(struct rt *t, uint8_t *buf_in_ram)
{
	struct vring_desc *d = (struct vring_desc *)(t->ram + DESC);
	struct vring_avail *a = (struct vring_avail *)(t->ram + AVAIL);
	struct vring_used *u = (struct vring_used *)(t->ram + USED);
	uint16_t want = (uint16_t)(t->avail_idx + 1);

	memset(buf_in_ram, 0, 64);
	d[0] = (struct vring_desc){ .addr = BUF, .len = 64, .flags = VRING_DESC_F_WRITE };
	a->ring[t->avail_idx % QSIZE] = 0;
	__atomic_store_n(&a->idx, want, __ATOMIC_RELEASE);
	t->avail_idx = want;
	bar_write(t, NOTIFY, 0, 2);
	for (int i = 0; i < 500 && __atomic_load_n(&u->idx, __ATOMIC_ACQUIRE) != want; i++)
		usleep(10000);
	assert_int_equal(__atomic_load_n(&u->idx, __ATOMIC_ACQUIRE), want);
	assert_int_equal(u->ring[(want - 1) % QSIZE].id, 0);
	assert_int_equal(u->ring[(want - 1) % QSIZE].len, 64);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static void test_queue_and_intx(void **state)
{
	struct rt t;

	rt_start(&t, "virtio-rng");
	share_ram(&t);
	set_irqfd(&t);
	program_bars(&t);
	driver_setup(&t);
	rng_request(&t, t.ram + BUF);
	assert_false(all_zero(t.ram + BUF, 64)); /* random bytes in the VMM's memfd */
	/* MSI-X is off: INTx through the irqfd. */
	assert_true(irq_fired(&t, TIMEOUT_MS));
	assert_int_equal(bar_read(&t, ISR, 1, true), 1); /* acknowledges: the line drops */
	resample(&t);
	assert_false(irq_fired(&t, 100));
	/* The guest EOIs while the line is still up: signalled again. */
	rng_request(&t, t.ram + BUF);
	assert_true(irq_fired(&t, TIMEOUT_MS));
	resample(&t);
	assert_true(irq_fired(&t, TIMEOUT_MS));
	assert_int_equal(bar_read(&t, ISR, 1, true), 1);
	resample(&t);
	assert_false(irq_fired(&t, 100));
	assert_int_equal(rt_finish(&t), 0);
}

/* The VMM re-sends its RAM cut differently: the live queue keeps working. */
static void test_resync_live_queue(void **state)
{
	struct rt t;
	struct link_msg m;
	int other;
	uint8_t *ram2;

	rt_start(&t, "virtio-rng");
	share_ram(&t);
	program_bars(&t);
	driver_setup(&t);
	rng_request(&t, t.ram + BUF);
	link_msg_sysmem(&m);
	assert_int_equal(link_msg_sysmem_add(&m, t.memfd, 0, RAM_SIZE, 0), 0);
	assert_int_equal(link_send(&t.e.link, &m, TIMEOUT_MS), 0);
	rng_request(&t, t.ram + BUF);
	assert_false(all_zero(t.ram + BUF, 64));
	/*
	 * RAM moves to another file: the old rings are gone (the device sees
	 * scratch memory, no fault); after a reset the driver sets up again.
	 */
	other = memfd_create("test-ram2", MFD_CLOEXEC);
	assert_int_equal(ftruncate(other, RAM_SIZE), 0);
	ram2 = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, other, 0);
	assert_true(ram2 != MAP_FAILED);
	link_msg_sysmem(&m);
	assert_int_equal(link_msg_sysmem_add(&m, other, 0, RAM_SIZE, 0), 0);
	assert_int_equal(link_send(&t.e.link, &m, TIMEOUT_MS), 0);
	bar_write(&t, NOTIFY, 0, 2);
	munmap(t.ram, RAM_SIZE);
	close(t.memfd);
	t.ram = ram2;
	t.memfd = other;
	driver_setup(&t);
	rng_request(&t, t.ram + BUF);
	assert_false(all_zero(t.ram + BUF, 64));
	assert_int_equal(rt_finish(&t), 0);
}

static void test_device_reset(void **state)
{
	struct rt t;
	struct link_msg m;

	rt_start(&t, "virtio-rng");
	share_ram(&t);
	program_bars(&t);
	driver_setup(&t);
	link_msg_reset(&m);
	assert_int_equal(link_send(&t.e.link, &m, TIMEOUT_MS), 0);
	assert_int_equal(link_recv(&t.e.link, &m, TIMEOUT_MS), 1);
	assert_int_equal(m.cmd, LINK_RET);
	assert_int_equal(m.size, 0); /* as QEMU: no payload */
	/* Power-on registers: decoding off, BAR addresses gone, type bits kept. */
	assert_int_equal(cfg_read(&t, PCI_COMMAND, 2), 0);
	assert_int_equal(cfg_read(&t, PCI_BASE_ADDRESS_4, 4), 0x0000000c);
	assert_int_equal(cfg_read(&t, PCI_BASE_ADDRESS_1, 4), 0);
	assert_int_equal(bar_read(&t, COMMON + VIRTIO_PCI_COMMON_NUMQ, 2, true), 0xffff);
	/* Programmed again, the device is at status 0 with its queue disabled. */
	program_bars(&t);
	assert_int_equal(bar_read(&t, COMMON + VIRTIO_PCI_COMMON_STATUS, 1, true), 0);
	assert_int_equal(bar_read(&t, COMMON + VIRTIO_PCI_COMMON_Q_ENABLE, 2, true), 0);
	driver_setup(&t);
	rng_request(&t, t.ram + BUF);
	assert_int_equal(rt_finish(&t), 0);
}

/* Bad input from the VMM: the remote stops with an error, logged. */
static int garbage(const void *bytes, size_t len, const int *fds, unsigned nfds,
		   const char *expect_log)
{
	struct rt t;
	int status;

	rt_start(&t, "virtio-rng");
	lt_raw_send(t.e.link.fd, bytes, len, fds, nfds);
	pthread_join(t.thread, NULL); /* ends on its own */
	status = t.status;
	if (!strstr(lt_log(&t.e), expect_log))
		fail_msg("log has no '%s': %s", expect_log, lt_log(&t.e));
	link_destroy(&t.e.link);
	remote_destroy(t.r);
	lt_teardown(&t.e);
	return status;
}

struct doorbells {
	unsigned adds, dels;
	struct link_doorbell last;
};

static int on_ext(void *opaque, struct link_msg *m)
{
	struct doorbells *d = opaque;

	d->last = m->data.doorbell;
	if (m->cmd == LINK_EXT_DOORBELL_ADD)
		d->adds++;
	else
		d->dels++;
	return 0;
}

/*
 * Issue 7 from the device process's side: the probe, EXT_HELLO, and the
 * queue's doorbell announced just before the RET of the write that turned
 * decoding on, withdrawn before the RET of a reset. A VMM that never
 * probes (QEMU's proxy, every other test here) hears none of it: its
 * plain link would break on the first extension message.
 */
static void test_extensions(void **state)
{
	struct doorbells d = { 0 };
	struct link_msg m;
	uint64_t v;
	struct rt t;

	rt_start(&t, "virtio-rng");
	link_msg_hello_probe(&m);
	v = call(&t, &m);
	assert_int_equal(v >> 32, LINK_HELLO_REPLY);
	assert_int_equal((uint32_t)v, 0x10441af4);
	t.e.link.ext = &link_ext_v1;
	t.e.link.on_ext = on_ext;
	t.e.link.ext_opaque = &d;
	link_msg_hello(&m, LINK_F_ALL, 250);
	/* No fast channel without its thread (remote_start_threads()). */
	assert_int_equal(call(&t, &m), LINK_F_ALL & ~LINK_F_FASTCHAN);
	assert_non_null(strstr(lt_log(&t.e), "doorbells msix posted-writes heartbeat (heartbeat 250 ms)"));
	program_bars(&t);
	assert_int_equal(d.adds, 1);
	assert_int_equal(d.last.bar, 4);
	assert_int_equal(d.last.offset, NOTIFY - BAR4);
	assert_int_equal(d.last.len, 2);
	/* Moving the BAR changes nothing on the wire: the doorbell is BAR-relative. */
	cfg_write(&t, PCI_BASE_ADDRESS_4, BAR4 + 0x100000, 4);
	assert_int_equal(d.adds + d.dels, 1);
	link_msg_heartbeat(&m, 77);
	assert_int_equal(call(&t, &m), 77);
	link_msg_reset(&m);
	call(&t, &m);
	assert_int_equal(d.dels, 1);
	/* EXT_HELLO twice is a bad message: the process ends with an error. */
	link_msg_hello(&m, 0, 0);
	assert_int_equal(link_send(&t.e.link, &m, TIMEOUT_MS), 0);
	assert_int_equal(rt_finish(&t), -EPROTO);
}

/* Negotiates LINK_F_INFLIGHT alone and hands over j's memfd. */
static void give_journal(struct rt *t, struct inflight_journal *j)
{
	struct link_msg m;
	uint64_t v;

	link_msg_hello_probe(&m);
	v = call(t, &m);
	assert_int_equal(v >> 32, LINK_HELLO_REPLY);
	t->e.link.ext = &link_ext_v1;
	link_msg_hello(&m, LINK_F_INFLIGHT, 0);
	assert_int_equal(call(t, &m), LINK_F_INFLIGHT);
	assert_int_equal(inflight_journal_create(j), 0);
	link_msg_inflight(&m, VQ_JOURNAL_VERSION, VQ_JOURNAL_BYTES, j->fd);
	assert_int_equal(link_send(&t->e.link, &m, TIMEOUT_MS), 0);
}

/*
 * The virtqueue journal (LINK_F_INFLIGHT): the device process's virtio core
 * records its queue and what it takes and completes, in the VMM's memfd; a
 * second journal ends the link.
 */
static void test_journal(void **state)
{
	struct inflight_journal j;
	struct vq_journal_queue *q;
	struct link_msg m;
	struct rt t;

	rt_start(&t, "virtio-rng");
	give_journal(&t, &j);
	q = &j.map->q[0];
	share_ram(&t);
	program_bars(&t);
	driver_setup(&t);
	rng_request(&t, t.ram + BUF);
	rng_request(&t, t.ram + BUF);
	assert_int_equal(q->enabled, 1);
	assert_int_equal(q->size, QSIZE);
	assert_int_equal(q->desc, DESC);
	assert_int_equal(q->avail, AVAIL);
	assert_int_equal(q->used, USED);
	assert_int_equal(q->next_avail, 2);
	assert_int_equal(q->taken[0], 0); /* both answered */
	assert_int_equal(q->completing, 0);
	assert_int_equal(j.map->q[1].enabled, 0);
	/* The driver's reset: the record is disabled. */
	common_write(&t, VIRTIO_PCI_COMMON_STATUS, 0, 1);
	assert_int_equal(q->enabled, 0);
	link_msg_inflight(&m, VQ_JOURNAL_VERSION, VQ_JOURNAL_BYTES, j.fd);
	assert_int_equal(link_send(&t.e.link, &m, TIMEOUT_MS), 0);
	inflight_journal_destroy(&j);
	assert_int_equal(rt_finish(&t), -EPROTO);
}

/*
 * Taken, a journal ends with the link like anything else; one that is not
 * a file, or of another size, is refused and ends the link with an error.
 */
static void test_journal_refused(void **state)
{
	struct inflight_journal j;
	struct link_msg m;
	struct rt t;
	int pipefd[2];

	rt_start(&t, "virtio-rng");
	give_journal(&t, &j);
	inflight_journal_destroy(&j);
	assert_int_equal(rt_finish(&t), 0);
	rt_start(&t, "virtio-rng");
	link_msg_hello_probe(&m);
	call(&t, &m);
	t.e.link.ext = &link_ext_v1;
	link_msg_hello(&m, LINK_F_INFLIGHT, 0);
	assert_int_equal(call(&t, &m), LINK_F_INFLIGHT);
	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	link_msg_inflight(&m, VQ_JOURNAL_VERSION, VQ_JOURNAL_BYTES, pipefd[0]);
	assert_int_equal(link_send(&t.e.link, &m, TIMEOUT_MS), 0);
	close(pipefd[0]);
	close(pipefd[1]);
	assert_int_equal(rt_finish(&t), -EPROTO);
	rt_start(&t, "virtio-rng");
	link_msg_hello_probe(&m);
	call(&t, &m);
	t.e.link.ext = &link_ext_v1;
	link_msg_hello(&m, LINK_F_INFLIGHT, 0);
	call(&t, &m);
	assert_int_equal(inflight_journal_create(&j), 0);
	link_msg_inflight(&m, VQ_JOURNAL_VERSION, 4096, j.fd);
	assert_int_equal(link_send(&t.e.link, &m, TIMEOUT_MS), 0);
	inflight_journal_destroy(&j);
	assert_int_equal(rt_finish(&t), -EPROTO);
}

static void test_garbage(void **state)
{
	uint8_t buf[LINK_HDR_SIZE + 192] = { 0 };
	struct link_sysmem sm = { .gpas = { 0 }, .sizes = { 0x200000 }, .offsets = { 0 } };
	int fds[2], pipefd[2];

	link_hdr_encode(buf, 99, 0);
	assert_true(garbage(buf, LINK_HDR_SIZE, NULL, 0, "unknown command") < 0);
	link_hdr_encode(buf, LINK_RET, 8); /* the VMM does not send RET */
	assert_true(garbage(buf, LINK_HDR_SIZE + 8, NULL, 0, "RET") < 0);
	link_hdr_encode(buf, LINK_PCI_CFGREAD, 1000);
	assert_true(garbage(buf, LINK_HDR_SIZE, NULL, 0, "link") < 0);
	/* A region beyond its file: SIGBUS if mapped, so refused. */
	fds[0] = memfd_create("small", MFD_CLOEXEC);
	assert_int_equal(ftruncate(fds[0], 0x1000), 0);
	memcpy(buf + LINK_HDR_SIZE, &sm, sizeof(sm));
	link_hdr_encode(buf, LINK_SYNC_SYSMEM, 192);
	assert_true(garbage(buf, LINK_HDR_SIZE + 192, fds, 1, "past its file") < 0);
	close(fds[0]);
	/* RAM that is a pipe; an irqfd pair whose resample fd cannot be watched. */
	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	assert_true(garbage(buf, LINK_HDR_SIZE + 192, pipefd, 1, "not a memory file") < 0);
	fds[0] = pipefd[1];
	fds[1] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	link_hdr_encode(buf, LINK_SET_IRQFD, 0);
	assert_true(garbage(buf, LINK_HDR_SIZE, fds, 2, "resample fd") < 0);
	close(fds[1]);
	close(pipefd[0]);
	close(pipefd[1]);
}

/* The VMM leaving mid-message is an error; between messages it is the end. */
static void test_eof(void **state)
{
	uint8_t buf[LINK_HDR_SIZE + 4];
	struct rt t;

	rt_start(&t, "virtio-rng");
	link_hdr_encode(buf, LINK_PCI_CFGREAD, 12);
	lt_raw_send(t.e.link.fd, buf, sizeof(buf), NULL, 0);
	assert_true(rt_finish(&t) < 0);
	rt_start(&t, "virtio-rng");
	assert_int_equal(cfg_read(&t, 0, 2), 0x1af4);
	assert_int_equal(rt_finish(&t), 0);
}

static void test_bad_spec(void **state)
{
	struct logger quiet = { .level = LOG_ERROR, .fd = -1 };
	int base = fds_open_count(), fds[2];
	struct remote *r = NULL;

	assert_int_equal(remote_create(&r, "no-such-device", &quiet), -EINVAL);
	assert_int_equal(remote_create(&r, "virtio-rng,color=red", &quiet), -EINVAL);
	assert_null(r);
	assert_int_equal(fds_open_count(), base);
	/* A link that is not a socket: refused, and the fd closed all the same. */
	assert_int_equal(remote_create(&r, "virtio-rng", &quiet), 0);
	assert_int_equal(remote_run(r), -ENOTCONN);
	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	close(fds[1]);
	assert_int_equal(remote_attach(r, fds[0]), -ENOTSOCK);
	remote_destroy(r);
	assert_int_equal(fds_open_count(), base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ids),
		cmocka_unit_test(test_bar_sizing),
		cmocka_unit_test(test_bar_access),
		cmocka_unit_test(test_queue_and_intx),
		cmocka_unit_test(test_resync_live_queue),
		cmocka_unit_test(test_device_reset),
		cmocka_unit_test(test_extensions),
		cmocka_unit_test(test_journal),
		cmocka_unit_test(test_journal_refused),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_eof),
		cmocka_unit_test(test_bad_spec),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
