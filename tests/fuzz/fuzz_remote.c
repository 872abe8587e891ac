/*
 * libFuzzer target: `splitvm remote` (remote.c) serving a device to a VMM
 * that sends arbitrary, mostly well-formed messages: config and BAR
 * accesses that program the PCI function and drive the virtio device,
 * guest RAM tables over a shared memfd, irqfd pairs, resets, and raw bytes.
 *
 * Input: byte 0 picks the device (see kinds[]), then records, each an op
 * byte (low 3 bits) and its operands (the layout tests/fuzz/run.py's seeds
 * use):
 *   0 CFGREAD    addr:u16 len:u8            1 CFGWRITE  addr:u16 val:u32 len:u8
 *   2 BAR_READ   base:u8 off:u16 size:u8    3 BAR_WRITE base:u8 off:u16 size:u8 val:u64
 *   4 SYNC_SYSMEM n:u8, n x (gpa:u8 pages:u8 offset:u8), in 64 KiB units
 *   5 SET_IRQFD  (two new eventfds)         6 DEVICE_RESET
 *   7 RAW        len:u8 bytes, sent as they are; with bit 3 of the op set,
 *                off:u16 len:u8 bytes written to guest RAM at off instead
 *                (rings and buffers for the device; RAM starts zeroed);
 *                with bit 4 set (and not 3), an extension (issue 7), sub:u8:
 *                0 the probe, 1 EXT_HELLO features:u8 heartbeat:u16,
 *                2 EXT_HEARTBEAT seq:u64, 3 EXT_BAR_WRITE as BAR_WRITE,
 *                4 EXT_MSIX_FDS first:u8 n:u8 (n % 8 + 1 new eventfds),
 *                5 EXT_FASTCHAN sealed:u8 (a new page; bit 0 clear: a memfd
 *                that may shrink), 6 a fast channel request: 32 bytes put
 *                in the page's slot as they are, then posted

 * The remote runs between records, its replies are read and dropped.
 * A crash, a sanitizer report, a remote that does not end on EOF, or an fd
 * left open after it is destroyed is a bug; the remote ending with an
 * error is the right answer to a bad message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "remote/fastchan.h"
#include "remote/link.h"
#include "remote/remote.h"
#include "../common/fds.h"
#include "fuzz_log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define UNIT 0x10000ull   /* SYNC_SYSMEM granule */
#define RAM_SIZE (16 * UNIT) /* the memfd: 1 MiB */

static const char *const kinds[] = {
	"virtio-rng",
	"virtio-console,file=/dev/null",
	"virtio-net,user",
};

/* Where BARs are: the remote's start addresses, a VMM's, I/O space. */
static const uint64_t bases[] = { 0xc0000000, 0xc0004000, 0xfe000000, 0xfebff000 };

struct in {
	const uint8_t *p, *end;
};

static uint64_t take(struct in *in, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n && in->p < in->end; i++)
		v |= (uint64_t)*in->p++ << (8 * i);
	return v;
}

/* One memfd for every run: guest RAM as the VMM shares it. */
static int ram_fd(void)
{
	static int fd = -1;

	if (fd < 0) {
		fd = memfd_create("fuzz-ram", MFD_CLOEXEC);
		if (fd < 0)
			abort();
	}
	return fd;
}

/* Zeroed for each input (nothing maps it between inputs). */
static void ram_clear(void)
{
	if (ftruncate(ram_fd(), 0) < 0 || ftruncate(ram_fd(), RAM_SIZE) < 0)
		abort();
}

static void raw_bytes(int raw, struct in *in, bool to_ram)
{
	off_t off = to_ram ? (off_t)take(in, 2) : 0;
	size_t n = (size_t)take(in, 1);

	if (n > (size_t)(in->end - in->p))
		n = (size_t)(in->end - in->p);
	if (to_ram)
		(void)pwrite(ram_fd(), in->p, n, off);
	else
		(void)send(raw, in->p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
	in->p += n;
}

static void sysmem(struct link *l, struct in *in)
{
	unsigned n = (unsigned)take(in, 1) % 4;
	struct link_msg m;

	link_msg_sysmem(&m);
	for (unsigned i = 0; i < n; i++) {
		uint64_t g = take(in, 1), pages = take(in, 1) % 17, off = take(in, 1) % 17;

		link_msg_sysmem_add(&m, ram_fd(), g * UNIT, pages * UNIT, (int64_t)(off * UNIT));
	}
	link_send(l, &m, 0); /* our link refuses what it would refuse: then nothing */
}

static void irqfds(struct link *l)
{
	int fds[2] = { eventfd(0, EFD_CLOEXEC), eventfd(0, EFD_CLOEXEC) };
	struct link_msg m;

	if (fds[0] >= 0 && fds[1] >= 0) {
		link_msg_irqfd(&m, fds[0], fds[1]);
		link_send(l, &m, 0);
	}
	close(fds[0]);
	close(fds[1]);
}

static void bar(struct link *l, struct in *in, bool write)
{
	uint64_t base = bases[take(in, 1) % 4], off = take(in, 2), sel = take(in, 1);
	struct link_msg m;
	bool memory = !(sel & 4);

	if (!memory)
		base = 0xc000;
	link_msg_bar(&m, write ? LINK_BAR_WRITE : LINK_BAR_READ, base + off,
		     write ? take(in, 8) : 0, 1u << (sel & 3), memory);
	link_send(l, &m, 0);
}

static void msix_fds(struct link *l, struct in *in)
{
	unsigned first = (unsigned)take(in, 1), n = (unsigned)take(in, 1) % 8 + 1;
	int fds[8];
	struct link_msg m;

	link_msg_msix_fds(&m, first);
	for (unsigned i = 0; i < n; i++) {
		fds[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (fds[i] < 0)
			abort();
		link_msg_msix_fds_add(&m, fds[i]);
	}
	link_send(l, &m, 0);
	for (unsigned i = 0; i < n; i++)
		close(fds[i]);
}

/* The VMM's end of the fast channel, for one input. */
static struct fastchan_vmm chan;

static void fastchan_page(struct link *l, struct in *in)
{
	struct link_msg m;
	int fd;

	if (take(in, 1) & 1) {
		fastchan_vmm_close(&chan);
		if (fastchan_vmm_open(&chan))
			abort();
		fd = chan.fd;
	} else {
		fd = memfd_create("fuzz-unsealed", MFD_CLOEXEC);
		if (fd < 0 || ftruncate(fd, FASTCHAN_SIZE) < 0)
			abort();
	}
	link_msg_fastchan(&m, fd, FASTCHAN_SIZE);
	link_send(l, &m, 0);
	if (fd != chan.fd)
		close(fd);
}

/* Raw bytes in the slot, posted (the slot waits for the one before: else dropped). */
static void fastchan_request(struct in *in)
{
	struct fastchan_req q = { 0 };
	uint8_t raw[sizeof(q)] = { 0 };

	for (unsigned i = 0; i < sizeof(raw); i++)
		raw[i] = (uint8_t)take(in, 1);
	memcpy(&q, raw, sizeof(q));
	if (chan.page)
		fastchan_vmm_request(&chan, &q, NULL, fastchan_now_ns());
}

/* The extension messages, valid or not for the remote's state (probe first or not). */
static void extension(struct link *l, struct in *in)
{
	struct link_msg m;

	switch (take(in, 1) % 7) {
	case 0:
		link_msg_hello_probe(&m);
		break;
	case 1: {
		uint64_t f = take(in, 1) & LINK_F_ALL;

		link_msg_hello(&m, f, (unsigned)take(in, 2));
		break;
	}
	case 2:
		link_msg_heartbeat(&m, take(in, 8));
		break;
	case 3: {
		uint64_t off = take(in, 2), sel = take(in, 1);

		link_msg_bar(&m, LINK_BAR_WRITE, bases[take(in, 1) % 4] + off, take(in, 8),
			     1u << (sel & 3), true);
		m.cmd = LINK_EXT_BAR_WRITE;
		break;
	}
	case 4:
		msix_fds(l, in);
		return;
	case 5:
		fastchan_page(l, in);
		return;
	default:
		fastchan_request(in);
		return;
	}
	link_send(l, &m, 0);
}

static void record(struct link *l, int raw, struct in *in)
{
	static const int lens[] = { 1, 2, 4, 4 };
	unsigned byte = (unsigned)take(in, 1), op = byte & 7;
	struct link_msg m;

	switch (op) {
	case 0:
	case 1: {
		uint32_t addr = (uint32_t)take(in, 2) & 0xfff, val = op ? (uint32_t)take(in, 4) : 0;

		link_msg_cfg(&m, op ? LINK_PCI_CFGWRITE : LINK_PCI_CFGREAD, addr, val,
			     lens[take(in, 1) & 3]);
		link_send(l, &m, 0);
		break;
	}
	case 2:
	case 3:
		bar(l, in, op == 3);
		break;
	case 4:
		sysmem(l, in);
		break;
	case 5:
		irqfds(l);
		break;
	case 6:
		link_msg_reset(&m);
		link_send(l, &m, 0);
		break;
	default:
		if ((byte & 0x18) == 0x10)
			extension(l, in);
		else
			raw_bytes(raw, in, byte & 8);
	}
}

/* Lets the remote work, and throws its replies away. */
static int settle(struct remote *r, int fd)
{
	uint8_t buf[4096];
	int rc = 1;

	for (int i = 0; i < 4 && rc == 1; i++) {
		rc = remote_fastchan_poll(r);
		if (rc == 1)
			rc = remote_step(r, 0);
	}
	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = { data + 1, data + size };
	struct remote *r;
	struct link l;
	int base, sv[2], rc = 1;

	if (size < 1)
		return 0;
	ram_clear();
	fuzz_quiet_log(); /* opened once, before counting */
	base = fds_open_count();
	if (remote_create(&r, kinds[data[0] % 3], fuzz_quiet_log()) ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) ||
	    remote_attach(r, sv[1]) || link_init(&l, sv[0], LINK_ROLE_PROXY, fuzz_quiet_log(), "vmm"))
		abort();
	remote_fastchan_inline(r); /* served here, between records */
	l.ext = &link_ext_v1; /* our side sends extensions whenever asked to */
	while (in.p < in.end && rc == 1) {
		record(&l, sv[0], &in);
		rc = settle(r, sv[0]);
	}
	link_destroy(&l); /* EOF: the remote must end now */
	for (int i = 0; i < 100 && rc == 1; i++)
		rc = remote_step(r, 10);
	if (rc == 1)
		abort();
	remote_destroy(r);
	fastchan_vmm_close(&chan);
	if (fds_open_count() != base)
		abort(); /* a received fd leaked */
	return 0;
}
