/*
 * The virtio 1.x modern PCI transport (layout in virtio_pci.h).
 *
 * Locks, outermost first: pci.lock (config space, the PCI_CFG window, the
 * doorbell registrations), vdev->lock (every BAR register, ISR, interrupt
 * routing), then the MSI-X and INTx leaf locks. BAR handlers never take
 * pci.lock.
 */
#define VIRTIO_PCI_NO_LEGACY
#include "hw/virtio/virtio_pci.h"

#include <endian.h>
#include <errno.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_pci.h>
#include <stdlib.h>
#include <string.h>

#include "core/iobus.h"
#include "core/log.h"
#include "hw/device.h"
#include "hw/pci/msix.h"
#include "hw/pci/pci.h"
#include "hw/virtio/virtio.h"
#include "hw/virtio/vq_journal.h"
#include "splitvm/accel.h"

#define ISR_QUEUE 0x1
#define COMMON_SIZE sizeof(struct virtio_pci_common_cfg)
#define MSIX_BAR_SIZE 0x1000
#define MSIX_PBA_OFF 0x800
#define PCI_CFG_DATA offsetof(struct virtio_pci_cfg_cap, pci_cfg_data)
#define MAX_QUEUES (VIRTIO_PCI_REGION_SIZE / VIRTIO_PCI_NOTIFY_MULT)

struct virtio_pci {
	struct pci_device pci;
	struct virtio_dev *vdev;
	struct msix msix;
	unsigned cfg_cap; /* the VIRTIO_PCI_CAP_PCI_CFG window */
	/* Under vdev->lock. */
	uint32_t dfselect, gfselect;
	uint16_t queue_sel;
	/* Under pci.lock. */
	uint64_t doorbell_base; /* BAR base the ioeventfds are registered for; 0: none */
	bool *doorbell_ev;      /* per queue: its ioeventfd is registered */
};

static bool overlaps(unsigned off, unsigned size, unsigned start, unsigned len)
{
	return off < start + len && start < off + size;
}

/* ---- common configuration ------------------------------------------------ */

static struct virtq *selected_vq(const struct virtio_pci *vp)
{
	struct virtio_dev *vdev = vp->vdev;

	return vp->queue_sel < vdev->nqueues ? &vdev->vqs[vp->queue_sel] : NULL;
}

static uint32_t feature_word(uint64_t features, uint32_t sel)
{
	return sel < 2 ? (uint32_t)(features >> (32 * sel)) : 0;
}

/* The structure as the driver sees it now (vdev->lock held). */
static void common_image(const struct virtio_pci *vp, struct virtio_pci_common_cfg *c)
{
	const struct virtio_dev *vdev = vp->vdev;
	const struct virtq *vq = selected_vq(vp);

	memset(c, 0, sizeof(*c));
	c->device_feature_select = htole32(vp->dfselect);
	c->device_feature = htole32(feature_word(vdev->features, vp->dfselect));
	c->guest_feature_select = htole32(vp->gfselect);
	c->guest_feature = htole32(feature_word(vdev->drv_features, vp->gfselect));
	c->msix_config = htole16(vdev->config_msix_vector);
	c->num_queues = htole16((uint16_t)vdev->nqueues);
	c->device_status = vdev->status;
	c->config_generation = (uint8_t)vdev->config_generation;
	c->queue_select = htole16(vp->queue_sel);
	c->queue_msix_vector = htole16(MSIX_NO_VECTOR);
	if (!vq)
		return; /* queue_size 0: no such queue */
	c->queue_size = htole16(vq->size);
	c->queue_msix_vector = htole16(vq->msix_vector);
	c->queue_enable = htole16(vq->enabled);
	c->queue_notify_off = htole16(vp->queue_sel);
	c->queue_desc_lo = htole32((uint32_t)vq->desc_addr);
	c->queue_desc_hi = htole32((uint32_t)(vq->desc_addr >> 32));
	c->queue_avail_lo = htole32((uint32_t)vq->avail_addr);
	c->queue_avail_hi = htole32((uint32_t)(vq->avail_addr >> 32));
	c->queue_used_lo = htole32((uint32_t)vq->used_addr);
	c->queue_used_hi = htole32((uint32_t)(vq->used_addr >> 32));
}

static uint64_t common_read(const struct virtio_pci *vp, unsigned off, unsigned size)
{
	struct virtio_pci_common_cfg c;
	uint64_t v = 0;

	if (off + size > COMMON_SIZE)
		return 0;
	common_image(vp, &c);
	memcpy(&v, (const uint8_t *)&c + off, size);
	return le64toh(v);
}

static uint16_t checked_vector(const struct virtio_pci *vp, uint64_t vec)
{
	return vec < vp->msix.nvec ? (uint16_t)vec : MSIX_NO_VECTOR;
}

static void transport_reset(struct virtio_pci *vp)
{
	vp->dfselect = vp->gfselect = 0;
	vp->queue_sel = 0;
	pci_set_irq(&vp->pci, 0);
}

static void write_status(struct virtio_pci *vp, uint8_t status)
{
	if (status == 0) {
		virtio_reset(vp->vdev);
		transport_reset(vp);
		return;
	}
	virtio_set_status(vp->vdev, status);
}

static void write_driver_features(struct virtio_pci *vp, uint32_t val)
{
	struct virtio_dev *vdev = vp->vdev;
	unsigned shift = 32 * vp->gfselect;

	/* Features are fixed once FEATURES_OK was written. */
	if (vp->gfselect >= 2 || (vdev->status & VIRTIO_CONFIG_S_FEATURES_OK))
		return;
	vdev->drv_features = (vdev->drv_features & ~(0xffffffffull << shift)) |
			     (uint64_t)val << shift;
}

static bool is_queue_size(const struct virtq *vq, uint64_t v)
{
	return v && v <= vq->max_size && !(v & (v - 1));
}

/* desc/driver/device: written whole (8 bytes) or by 4-byte halves. */
static void write_queue_addr(struct virtq *vq, unsigned off, uint64_t val, unsigned size)
{
	unsigned rel = off - VIRTIO_PCI_COMMON_Q_DESCLO;
	uint64_t *a = rel < 8 ? &vq->desc_addr : rel < 16 ? &vq->avail_addr : &vq->used_addr;

	if (size == 8 && !(rel & 7))
		*a = val;
	else if (size == 4 && (rel & 4))
		*a = (*a & 0xffffffffull) | (uint64_t)(uint32_t)val << 32;
	else if (size == 4)
		*a = (*a & ~0xffffffffull) | (uint32_t)val;
}

/* queue_* registers (vdev->lock held); the ring's layout is frozen once enabled. */
static void queue_write(struct virtio_pci *vp, unsigned off, uint64_t val, unsigned size)
{
	struct virtq *vq = selected_vq(vp);

	if (!vq)
		return;
	if (off == VIRTIO_PCI_COMMON_Q_MSIX && size == 2) {
		vq->msix_vector = checked_vector(vp, val);
		vq_journal_vector(vq);
		return;
	}
	if (vq->enabled)
		return;
	if (off == VIRTIO_PCI_COMMON_Q_SIZE && size == 2 && is_queue_size(vq, val))
		vq->size = (uint16_t)val;
	else if (off == VIRTIO_PCI_COMMON_Q_ENABLE && size == 2 && val == 1)
		virtq_enable(vq);
	else if (off >= VIRTIO_PCI_COMMON_Q_DESCLO && off < VIRTIO_PCI_COMMON_Q_NDATA)
		write_queue_addr(vq, off, val, size);
}

/* Fields are written at their own width; anything else is dropped. */
static void common_write(struct virtio_pci *vp, unsigned off, uint64_t val, unsigned size)
{
	struct virtio_dev *vdev = vp->vdev;

	switch (off) {
	case VIRTIO_PCI_COMMON_DFSELECT:
		if (size == 4)
			vp->dfselect = (uint32_t)val;
		break;
	case VIRTIO_PCI_COMMON_GFSELECT:
		if (size == 4)
			vp->gfselect = (uint32_t)val;
		break;
	case VIRTIO_PCI_COMMON_GF:
		if (size == 4)
			write_driver_features(vp, (uint32_t)val);
		break;
	case VIRTIO_PCI_COMMON_MSIX:
		if (size == 2)
			vdev->config_msix_vector = checked_vector(vp, val);
		break;
	case VIRTIO_PCI_COMMON_STATUS:
		if (size == 1)
			write_status(vp, (uint8_t)val);
		break;
	case VIRTIO_PCI_COMMON_Q_SELECT:
		if (size == 2)
			vp->queue_sel = (uint16_t)val;
		break;
	default:
		if (off >= VIRTIO_PCI_COMMON_Q_SIZE)
			queue_write(vp, off, val, size);
		break;
	}
}

/* ---- the virtio BAR --------------------------------------------------------- */

/* Reading the ISR acknowledges it: the bits clear and INTx goes down. */
static uint64_t isr_read(struct virtio_pci *vp, unsigned off)
{
	uint8_t isr;

	if (off != 0)
		return 0;
	isr = vp->vdev->isr;
	vp->vdev->isr = 0;
	pci_set_irq(&vp->pci, 0);
	return isr;
}

static void notify_write(struct virtio_pci *vp, unsigned off, unsigned size)
{
	unsigned q = off / VIRTIO_PCI_NOTIFY_MULT;

	if (off % VIRTIO_PCI_NOTIFY_MULT || q >= vp->vdev->nqueues || (size != 2 && size != 4))
		return;
	virtq_kick(&vp->vdev->vqs[q]);
}

static uint64_t bar_read(void *dev, uint64_t off, unsigned size)
{
	struct virtio_pci *vp = dev;
	struct virtio_dev *vdev = vp->vdev;
	unsigned region = (unsigned)(off / VIRTIO_PCI_REGION_SIZE) * VIRTIO_PCI_REGION_SIZE;
	unsigned roff = (unsigned)(off % VIRTIO_PCI_REGION_SIZE);
	uint64_t v = 0;

	if (off >= VIRTIO_PCI_BAR_SIZE || roff + size > VIRTIO_PCI_REGION_SIZE)
		return 0;
	pthread_mutex_lock(&vdev->lock);
	switch (region) {
	case VIRTIO_PCI_COMMON_OFF:
		v = common_read(vp, roff, size);
		break;
	case VIRTIO_PCI_ISR_OFF:
		v = isr_read(vp, roff);
		break;
	case VIRTIO_PCI_DEVICE_OFF:
		if (roff + size <= vdev->config_size)
			virtio_config_access(vdev, roff, &v, size, false);
		v = le64toh(v);
		break;
	}
	pthread_mutex_unlock(&vdev->lock);
	return v;
}

static void bar_write(void *dev, uint64_t off, uint64_t value, unsigned size)
{
	struct virtio_pci *vp = dev;
	struct virtio_dev *vdev = vp->vdev;
	unsigned region = (unsigned)(off / VIRTIO_PCI_REGION_SIZE) * VIRTIO_PCI_REGION_SIZE;
	unsigned roff = (unsigned)(off % VIRTIO_PCI_REGION_SIZE);
	uint64_t le = htole64(value);

	if (off >= VIRTIO_PCI_BAR_SIZE || roff + size > VIRTIO_PCI_REGION_SIZE)
		return;
	pthread_mutex_lock(&vdev->lock);
	switch (region) {
	case VIRTIO_PCI_COMMON_OFF:
		if (roff + size <= COMMON_SIZE)
			common_write(vp, roff, value, size);
		break;
	case VIRTIO_PCI_DEVICE_OFF:
		if (roff + size <= vdev->config_size)
			virtio_config_access(vdev, roff, &le, size, true);
		break;
	case VIRTIO_PCI_NOTIFY_OFF:
		notify_write(vp, roff, size);
		break;
	}
	pthread_mutex_unlock(&vdev->lock);
}

static const struct io_ops virtio_bar_ops = {
	.read = bar_read,
	.write = bar_write,
};

/* ---- interrupts --------------------------------------------------------------- */

/* vdev->lock held: the ISR and MSI-X enable cannot change under us. */
static void raise(struct virtio_pci *vp, uint16_t vector, uint8_t isr)
{
	if (msix_enabled(&vp->msix)) {
		if (vector != MSIX_NO_VECTOR)
			msix_notify(&vp->msix, vector);
		return;
	}
	vp->vdev->isr |= isr;
	pci_set_irq(&vp->pci, 1);
}

static void vpci_notify_queue(void *transport, struct virtq *vq)
{
	raise(transport, vq->msix_vector, ISR_QUEUE);
}

static void vpci_notify_config(void *transport)
{
	struct virtio_pci *vp = transport;

	/* The configuration bit is set whichever way the interrupt goes. */
	vp->vdev->isr |= VIRTIO_PCI_ISR_CONFIG;
	raise(vp, vp->vdev->config_msix_vector, VIRTIO_PCI_ISR_CONFIG);
}

/* ---- doorbells ------------------------------------------------------------------ */

static struct accel_ioeventfd doorbell(const struct virtio_pci *vp, unsigned q)
{
	return (struct accel_ioeventfd){
		.addr = vp->doorbell_base + VIRTIO_PCI_NOTIFY_OFF + q * VIRTIO_PCI_NOTIFY_MULT,
		.len = 2,
		.fd = vp->vdev->vqs[q].kick_fd,
	};
}

static void doorbells_del(struct virtio_pci *vp)
{
	const struct dev_host *host = vp->vdev->host;

	for (unsigned q = 0; q < vp->vdev->nqueues; q++) {
		struct accel_ioeventfd ev = doorbell(vp, q);

		if (vp->doorbell_ev[q] && host->del_ioeventfd)
			host->del_ioeventfd(host->opaque, &ev);
		vp->doorbell_ev[q] = false;
	}
	vp->doorbell_base = 0;
}

/*
 * Follows the BAR (pci.lock held): ioeventfds at the doorbells while the
 * BAR decodes; a doorbell without one arrives as a BAR write instead.
 */
static void doorbells_update(struct virtio_pci *vp)
{
	const struct dev_host *host = vp->vdev->host;
	uint64_t base = pci_bar_base(&vp->pci, VIRTIO_PCI_BAR);
	int err;

	if (base == vp->doorbell_base)
		return;
	doorbells_del(vp);
	if (!base || !host->add_ioeventfd)
		return;
	vp->doorbell_base = base;
	for (unsigned q = 0; q < vp->vdev->nqueues; q++) {
		struct accel_ioeventfd ev = doorbell(vp, q);

		if (ev.fd < 0)
			continue;
		err = host->add_ioeventfd(host->opaque, &ev);
		vp->doorbell_ev[q] = err == 0;
		if (err)
			log_debug(host->log, "%s: queue %u doorbell through BAR writes: %s",
				  vp->vdev->name, q, strerror(-err));
	}
}

/* ---- configuration space ------------------------------------------------------- */

/*
 * VIRTIO_PCI_CAP_PCI_CFG: an access to pci_cfg_data reaches cap.length bytes
 * at cap.offset of BAR cap.bar (pci.lock held). Bad windows do nothing.
 */
static void cfg_window(struct virtio_pci *vp, bool is_write)
{
	struct pci_device *pdev = &vp->pci;
	unsigned c = vp->cfg_cap;
	unsigned bar = pci_cfg_get(pdev, c + VIRTIO_PCI_CAP_BAR, 1);
	uint32_t off = pci_cfg_get(pdev, c + VIRTIO_PCI_CAP_OFFSET, 4);
	uint32_t len = pci_cfg_get(pdev, c + VIRTIO_PCI_CAP_LENGTH, 4);
	const struct pci_bar *b;

	if (bar >= PCI_BAR_COUNT || (len != 1 && len != 2 && len != 4) || off % len)
		return;
	b = &pdev->bars[bar];
	if (b->kind == PCI_BAR_UNUSED || (uint64_t)off + len > b->size)
		return;
	if (is_write)
		b->ops->write(b->opaque, off, pci_cfg_get(pdev, c + PCI_CFG_DATA, len), len);
	else
		pci_cfg_set(pdev, c + PCI_CFG_DATA, len, (uint32_t)b->ops->read(b->opaque, off, len));
}

static uint32_t vpci_config_read(struct pci_device *pdev, unsigned off, unsigned size,
				 uint32_t val)
{
	struct virtio_pci *vp = pdev->opaque;

	if (!overlaps(off, size, vp->cfg_cap + PCI_CFG_DATA, 4))
		return val;
	cfg_window(vp, false);
	return pci_cfg_get(pdev, off, size);
}

static void vpci_config_write(struct pci_device *pdev, unsigned off, unsigned size,
			      uint32_t val)
{
	struct virtio_pci *vp = pdev->opaque;

	if (overlaps(off, size, vp->msix.cap + PCI_MSIX_FLAGS, 2)) {
		pthread_mutex_lock(&vp->vdev->lock);
		msix_config_write(&vp->msix, off, size, val);
		/* With MSI-X on, the function must not assert INTx. */
		if (msix_enabled(&vp->msix))
			pci_set_irq(pdev, 0);
		pthread_mutex_unlock(&vp->vdev->lock);
	}
	if (overlaps(off, size, vp->cfg_cap + PCI_CFG_DATA, 4))
		cfg_window(vp, true);
	if (overlaps(off, size, PCI_COMMAND, 2) ||
	    overlaps(off, size, PCI_BASE_ADDRESS_0 + 4 * VIRTIO_PCI_BAR, 8))
		doorbells_update(vp);
}

/* A function reset (pci.lock held): the device as after status 0, MSI-X off. */
static void vpci_reset(struct pci_device *pdev)
{
	struct virtio_pci *vp = pdev->opaque;

	pthread_mutex_lock(&vp->vdev->lock);
	virtio_reset(vp->vdev);
	transport_reset(vp);
	msix_reset(&vp->msix);
	pthread_mutex_unlock(&vp->vdev->lock);
	doorbells_update(vp); /* the BAR is unmapped now */
}

static const struct pci_device_ops vpci_pci_ops = {
	.config_read = vpci_config_read,
	.config_write = vpci_config_write,
	.reset = vpci_reset,
};

/* ---- setup ---------------------------------------------------------------------- */

static int add_cap(struct virtio_pci *vp, uint8_t type, unsigned len, uint32_t off,
		   uint32_t length)
{
	struct pci_device *pdev = &vp->pci;
	int cap = pci_add_capability(pdev, PCI_CAP_ID_VNDR, len);

	if (cap < 0)
		return cap;
	pci_cfg_set(pdev, cap + VIRTIO_PCI_CAP_LEN, 1, len);
	pci_cfg_set(pdev, cap + VIRTIO_PCI_CAP_CFG_TYPE, 1, type);
	pci_cfg_set(pdev, cap + VIRTIO_PCI_CAP_BAR, 1, VIRTIO_PCI_BAR);
	pci_cfg_set(pdev, cap + VIRTIO_PCI_CAP_OFFSET, 4, off);
	pci_cfg_set(pdev, cap + VIRTIO_PCI_CAP_LENGTH, 4, length);
	return cap;
}

static int add_caps(struct virtio_pci *vp)
{
	struct pci_device *pdev = &vp->pci;
	const struct virtio_dev *vdev = vp->vdev;
	int cap;

	if (add_cap(vp, VIRTIO_PCI_CAP_COMMON_CFG, sizeof(struct virtio_pci_cap),
		    VIRTIO_PCI_COMMON_OFF, COMMON_SIZE) < 0 ||
	    add_cap(vp, VIRTIO_PCI_CAP_ISR_CFG, sizeof(struct virtio_pci_cap),
		    VIRTIO_PCI_ISR_OFF, 1) < 0)
		return -ENOSPC;
	if (vdev->config_size &&
	    add_cap(vp, VIRTIO_PCI_CAP_DEVICE_CFG, sizeof(struct virtio_pci_cap),
		    VIRTIO_PCI_DEVICE_OFF, vdev->config_size) < 0)
		return -ENOSPC;
	cap = add_cap(vp, VIRTIO_PCI_CAP_NOTIFY_CFG, sizeof(struct virtio_pci_notify_cap),
		      VIRTIO_PCI_NOTIFY_OFF, vdev->nqueues * VIRTIO_PCI_NOTIFY_MULT);
	if (cap < 0)
		return cap;
	pci_cfg_set(pdev, cap + VIRTIO_PCI_NOTIFY_CAP_MULT, 4, VIRTIO_PCI_NOTIFY_MULT);
	cap = add_cap(vp, VIRTIO_PCI_CAP_PCI_CFG, sizeof(struct virtio_pci_cfg_cap), 0, 0);
	if (cap < 0)
		return cap;
	vp->cfg_cap = (unsigned)cap;
	pci_cfg_set(pdev, cap + VIRTIO_PCI_CAP_BAR, 1, 0);
	pci_cfg_set_wmask(pdev, cap + VIRTIO_PCI_CAP_BAR, 1, 0xff);
	pci_cfg_set_wmask(pdev, cap + VIRTIO_PCI_CAP_OFFSET, 4, 0xffffffff);
	pci_cfg_set_wmask(pdev, cap + VIRTIO_PCI_CAP_LENGTH, 4, 0xffffffff);
	pci_cfg_set_wmask(pdev, cap + PCI_CFG_DATA, 4, 0xffffffff);
	return 0;
}

static uint32_t class_of(uint16_t device_id)
{
	switch (device_id) {
	case VIRTIO_ID_BLOCK:
		return 0x010000; /* mass storage, SCSI: as QEMU */
	case VIRTIO_ID_NET:
		return 0x020000; /* Ethernet */
	case VIRTIO_ID_CONSOLE:
		return 0x078000; /* other communication controller */
	default:
		return 0xff0000; /* unassigned class */
	}
}

/* The function with its IDs, BARs and capabilities, not yet on the bus. */
static int build(struct virtio_pci *vp)
{
	struct virtio_dev *vdev = vp->vdev;
	struct pci_device *pdev = &vp->pci;
	unsigned nvec = vdev->nqueues + 1;
	int err;

	err = pci_device_init(pdev, vdev->name, PCI_CFG_SPACE_SIZE, &vpci_pci_ops, vp);
	if (err)
		return err;
	pci_set_ids(pdev, VIRTIO_PCI_VENDOR, VIRTIO_PCI_DEVICE_BASE + vdev->device_id,
		    VIRTIO_PCI_SUBSYS_VENDOR, VIRTIO_PCI_SUBSYS, class_of(vdev->device_id), 1);
	pci_set_intx_pin(pdev, 1);
	err = pci_set_bar(pdev, VIRTIO_PCI_BAR_MSIX, PCI_BAR_MEM32, false, MSIX_BAR_SIZE,
			  &msix_bar_ops, &vp->msix);
	if (!err)
		err = pci_set_bar(pdev, VIRTIO_PCI_BAR, PCI_BAR_MEM64, true, VIRTIO_PCI_BAR_SIZE,
				  &virtio_bar_ops, vp);
	if (!err)
		err = add_caps(vp);
	/* Too many queues for a vector each: the driver then shares vectors. */
	if (!err)
		err = msix_init(&vp->msix, pdev, nvec < MSIX_MAX_VECTORS ? nvec : MSIX_MAX_VECTORS,
				VIRTIO_PCI_BAR_MSIX, 0, MSIX_PBA_OFF, vdev->host->signal_msi,
				vdev->host->opaque);
	if (err)
		pci_device_destroy(pdev);
	return err;
}

static void free_vp(struct virtio_pci *vp)
{
	free(vp->doorbell_ev);
	free(vp);
}

static void vpci_destroy(void *transport)
{
	struct virtio_pci *vp = transport;

	if (vp->pci.host) {
		pthread_mutex_lock(&vp->pci.lock);
		doorbells_del(vp);
		pthread_mutex_unlock(&vp->pci.lock);
		pci_host_remove(vp->pci.host, &vp->pci);
	}
	vp->vdev->transport = NULL;
	vp->vdev->transport_opaque = NULL;
	msix_destroy(&vp->msix);
	pci_device_destroy(&vp->pci);
	free_vp(vp);
}

static const struct virtio_transport_ops vpci_transport_ops = {
	.notify_queue = vpci_notify_queue,
	.notify_config = vpci_notify_config,
	.destroy = vpci_destroy,
};

int virtio_pci_attach(struct virtio_dev *vdev)
{
	const struct dev_host *host = vdev->host;
	struct virtio_pci *vp;
	int err;

	if (!host->pci || !vdev->nqueues || vdev->nqueues > MAX_QUEUES ||
	    vdev->config_size > VIRTIO_PCI_REGION_SIZE) {
		log_error(host->log, "%s: cannot be a PCI device (%u queues, %u config bytes)",
			  vdev->name, vdev->nqueues, vdev->config_size);
		return -EINVAL;
	}
	vp = calloc(1, sizeof(*vp));
	if (!vp)
		return -ENOMEM;
	vp->vdev = vdev;
	vp->doorbell_ev = calloc(vdev->nqueues, sizeof(*vp->doorbell_ev));
	err = vp->doorbell_ev ? build(vp) : -ENOMEM;
	if (err) {
		free_vp(vp);
		return err;
	}
	vdev->transport = &vpci_transport_ops;
	vdev->transport_opaque = vp;
	err = pci_host_add(host->pci, &vp->pci, -1, 0);
	if (err) {
		log_error(host->log, "%s: cannot plug into PCI: %s", vdev->name, strerror(-err));
		vdev->transport = NULL;
		vdev->transport_opaque = NULL;
		msix_destroy(&vp->msix);
		pci_device_destroy(&vp->pci);
		free_vp(vp);
		return err;
	}
	pthread_mutex_lock(&vp->pci.lock);
	doorbells_update(vp);
	pthread_mutex_unlock(&vp->pci.lock);
	return 0;
}
