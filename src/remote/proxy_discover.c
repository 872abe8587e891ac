/*
 * What a device process offers, found through the link (proxy_int.h): a
 * QEMU remote's start-up reset waited out, then IDs, header type, BARs
 * sized as firmware sizes them, the expansion ROM, PCI Express or not, the
 * MSI-X capability.
 */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "hw/device.h"
#include "remote/proxy_int.h"

#define ROM_SIZING 0xfffff800u
#define CAP_WALK_MAX 48

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * QEMU 7.2's remote serves what is queued as soon as its machine exists,
 * then resets every device, undoing early config writes (docs/mpqemu.md).
 * A sentinel in the interrupt line register, which reset clears, shows
 * when that is behind us; if it survives settle_ms, the reset came first.
 */
int px_settle(struct proxy *p, int settle_ms)
{
	int64_t t0;
	uint32_t v = 0;
	int err;

	if (settle_ms <= 0 || p->splitvm_peer)
		return 0; /* our own device process does not reset itself */
	err = px_cfg_write(p, PCI_INTERRUPT_LINE, 1, 0xa5);
	t0 = now_ms();
	while (!err && now_ms() - t0 < settle_ms) {
		usleep(5000);
		err = px_cfg_read(p, PCI_INTERRUPT_LINE, 1, &v);
		if (!err && v == 0) {
			log_debug(p->host->log, "%s: device reset by its process after %lld ms",
				  p->name, (long long)(now_ms() - t0));
			break;
		}
	}
	return err;
}

/* Writes all ones to a BAR register, reads back, restores. */
static int size_reg(struct proxy *p, unsigned reg, uint32_t probe, uint32_t *mask)
{
	uint32_t orig;
	int err = px_cfg_read(p, reg, 4, &orig);

	if (!err)
		err = px_cfg_write(p, reg, 4, probe);
	if (!err)
		err = px_cfg_read(p, reg, 4, mask);
	if (!err)
		err = px_cfg_write(p, reg, 4, orig);
	return err;
}

static int bad_bar(struct proxy *p, unsigned i, uint32_t v)
{
	log_error(p->host->log, "%s: BAR %u of the device reads back %#x after sizing: not a BAR",
		  p->name, i, v);
	return -EPROTO;
}

/* BAR i from its all-ones read-back; *next: the slot after it. */
static int size_bar(struct proxy *p, struct proxy_found *f, unsigned i, unsigned *next)
{
	uint32_t lo, hi = 0;
	uint64_t mask;
	int err = size_reg(p, BAR_REG(i), 0xffffffff, &lo);

	*next = i + 1;
	if (err || lo == 0)
		return err;
	if (lo & PCI_BASE_ADDRESS_SPACE_IO) {
		mask = lo & PCI_BASE_ADDRESS_IO_MASK;
		if (!(mask >> 16))
			mask |= 0xffff0000u; /* 16-bit I/O decoders leave the top clear */
		f->bars[i].kind = PCI_BAR_IO;
	} else {
		switch (lo & PCI_BASE_ADDRESS_MEM_TYPE_MASK) {
		case PCI_BASE_ADDRESS_MEM_TYPE_64:
			if (i + 1 >= PCI_BAR_COUNT)
				return bad_bar(p, i, lo);
			err = size_reg(p, BAR_REG(i + 1), 0xffffffff, &hi);
			if (err)
				return err;
			f->bars[i].kind = PCI_BAR_MEM64;
			*next = i + 2;
			break;
		case PCI_BASE_ADDRESS_MEM_TYPE_32:
		case PCI_BASE_ADDRESS_MEM_TYPE_1M:
			f->bars[i].kind = PCI_BAR_MEM32;
			break;
		default:
			return bad_bar(p, i, lo);
		}
		f->bars[i].prefetch = lo & PCI_BASE_ADDRESS_MEM_PREFETCH;
		mask = (uint64_t)hi << 32 | (lo & (uint32_t)PCI_BASE_ADDRESS_MEM_MASK);
	}
	if (!mask)
		return bad_bar(p, i, lo);
	f->bars[i].size = mask & -mask; /* the lowest address bit that sticks */
	return 0;
}

/* The expansion ROM at 0x30, which QEMU 7.2's proxy misses (it sizes 0x28). */
static int size_rom(struct proxy *p, struct proxy_found *f)
{
	uint32_t v, mask;
	int err = size_reg(p, PCI_ROM_ADDRESS, ROM_SIZING, &v);

	mask = v & (uint32_t)PCI_ROM_ADDRESS_MASK;
	if (!err && mask) {
		f->bars[PCI_BAR_ROM].kind = PCI_BAR_MEM32;
		f->bars[PCI_BAR_ROM].size = mask & -mask;
	}
	return err;
}

/* PCI Express functions have 4 KiB of config space. */
static int find_cfg_size(struct proxy *p, struct proxy_found *f)
{
	uint32_t status, off, hdr;
	int err = px_cfg_read(p, PCI_STATUS, 2, &status);

	f->cfg_size = PCI_CFG_SPACE_SIZE;
	if (err || !(status & PCI_STATUS_CAP_LIST))
		return err;
	err = px_cfg_read(p, PCI_CAPABILITY_LIST, 1, &off);
	for (unsigned n = 0; !err && n < CAP_WALK_MAX; n++) {
		off &= ~3u;
		if (off < PCI_CAP_FIRST || off > PCI_CFG_SPACE_SIZE - 4)
			break;
		err = px_cfg_read(p, off, 2, &hdr);
		if (!err && (hdr & 0xff) == PCI_CAP_ID_EXP) {
			f->cfg_size = PCI_CFG_SPACE_EXP_SIZE;
			break;
		}
		off = hdr >> 8;
	}
	return err;
}

int px_discover(struct proxy *p, struct proxy_found *f)
{
	uint32_t hdr = 0, pin = 0;
	int err;

	memset(f, 0, sizeof(*f));
	err = px_cfg_read(p, PCI_VENDOR_ID, 4, &f->id);
	if (!err && ((f->id & 0xffff) == 0xffff || (f->id & 0xffff) == 0)) {
		log_error(p->host->log, "%s: no PCI function answers (IDs %08x)", p->name, f->id);
		return -ENODEV;
	}
	if (!err)
		err = px_cfg_read(p, PCI_CLASS_REVISION, 4, &f->class_rev);
	if (!err)
		err = px_cfg_read(p, PCI_HEADER_TYPE, 1, &hdr);
	if (!err && (hdr & 0x7f) != PCI_HEADER_TYPE_NORMAL) {
		log_error(p->host->log, "%s: header type %#x: only plain functions can be proxied",
			  p->name, hdr);
		return -ENOTSUP;
	}
	if (!err)
		err = px_cfg_read(p, PCI_SUBSYSTEM_VENDOR_ID, 4, &f->subsys);
	if (!err)
		err = px_cfg_read(p, PCI_INTERRUPT_PIN, 1, &pin);
	f->pin = pin <= 4 ? (uint8_t)pin : 0;
	for (unsigned i = 0; !err && i < PCI_BAR_COUNT;)
		err = size_bar(p, f, i, &i);
	if (!err)
		err = size_rom(p, f);
	if (!err)
		err = find_cfg_size(p, f);
	if (!err)
		err = proxy_msix_discover(p);
	return err;
}
