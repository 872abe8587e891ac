/*
 * PCI devices and the PCI host (root bus 0).
 *
 * A device model embeds a struct pci_device, fills its configuration header
 * and declares its BARs, then adds it to a host. The host gives the BARs
 * their first addresses (there is no firmware), maps them on the PIO/MMIO
 * buses, and maps them again wherever the guest moves them or when it toggles
 * the decode bits of COMMAND. The host needs no struct vm: a device process
 * runs the same code with its own buses and an irqfd behind set_irq.
 *
 * Locking, outermost first: pdev->lock (configuration space and BAR mapping;
 * the config hooks run under it), then the device model's own lock, then
 * host->irq_lock (a leaf). A device may call pci_set_irq() from its BAR
 * handlers while holding its own lock; it must not call the config accessors
 * there.
 */
#ifndef HW_PCI_PCI_H
#define HW_PCI_PCI_H

#include <linux/pci_regs.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct io_ops;
struct iobus;
struct logger;
struct msix;
struct pci_host;

#define PCI_BAR_COUNT 6
#define PCI_BAR_ROM 6 /* bars[PCI_BAR_ROM] is the expansion ROM at 0x30 */
#define PCI_SLOTS 32
#define PCI_FUNCS 8
#define PCI_DEVFNS (PCI_SLOTS * PCI_FUNCS)
#define PCI_DEVFN(slot, fn) ((unsigned)(slot) << 3 | (unsigned)(fn))
#define PCI_HEADER_MULTI_FUNCTION 0x80
#define PCI_CAP_FIRST 0x40 /* capabilities live between here and 0x100 */
#define PCI_INTX_LINES_MAX 32

/* Red Hat's ID for a generic host bridge: no OS carries quirks for it. */
#define PCI_HOST_BRIDGE_VENDOR 0x1b36
#define PCI_HOST_BRIDGE_DEVICE 0x0008
#define PCI_CLASS_HOST_BRIDGE 0x060000

enum pci_bar_kind {
	PCI_BAR_UNUSED,
	PCI_BAR_IO,
	PCI_BAR_MEM32,
	PCI_BAR_MEM64, /* takes this slot and the next one */
};

struct pci_bar {
	enum pci_bar_kind kind;
	bool prefetch;
	uint64_t size; /* a power of two */
	const struct io_ops *ops;
	void *opaque;  /* the iobus dev: offsets arrive relative to the BAR */
	_Atomic uint64_t base; /* where it is mapped now; 0 = not mapped */
};

struct pci_device;

/* Both optional; called with pdev->lock held. */
struct pci_device_ops {
	/* val is the emulated value of the access; returns what the guest reads. */
	uint32_t (*config_read)(struct pci_device *pdev, unsigned off, unsigned size, uint32_t val);
	/* After the write took effect (BARs moved, COMMAND applied). */
	void (*config_write)(struct pci_device *pdev, unsigned off, unsigned size, uint32_t val);
	/* pci_device_reset(): the registers are at power-on values; reset the model. */
	void (*reset)(struct pci_device *pdev);
};

struct pci_device {
	const char *name;
	const struct pci_device_ops *ops;
	void *opaque;
	pthread_mutex_t lock;
	unsigned cfg_size; /* 256, or 4096 for PCI Express extended space */
	uint8_t *cfg;      /* the registers */
	uint8_t *wmask;    /* bits the guest may write */
	uint8_t *w1cmask;  /* bits the guest clears by writing 1 */
	struct pci_bar bars[PCI_BAR_COUNT + 1];
	unsigned cap_end; /* next free capability offset */
	struct msix *msix; /* its MSI-X state, set by msix_init(), or NULL */
	/* Set by pci_host_add(). */
	struct pci_host *host;
	unsigned devfn;
	unsigned gsi; /* the interrupt line INTx is routed to, if intx_pin */
	/* INTx, under host->irq_lock. */
	bool intx_level;    /* the device asserts its pin */
	bool intx_disabled; /* COMMAND.INTX_DISABLE */
	bool intx_on_line;  /* counted on the host's line */
};

/* Windows the host assigns BARs from, and where INTx goes. */
struct pci_host_config {
	struct iobus *pio, *mmio;
	const struct logger *log;
	uint64_t io_base, io_size;
	uint64_t mem32_base, mem32_size;
	uint64_t mem64_base, mem64_size;
	/* INTx of slot s, pin p (1..4) goes to gsi_base + (s + p - 1) % gsi_count. */
	unsigned intx_gsi_base, intx_gsi_count;
	int (*set_irq)(void *opaque, unsigned gsi, int level);
	void *irq_opaque;
};

struct pci_window {
	uint64_t base, size, used;
};

struct pci_host {
	struct pci_host_config cfg;
	struct pci_window io, mem32, mem64;
	pthread_mutex_t lock; /* the device table and the 0xcf8 latch */
	uint32_t conf1_addr;
	struct pci_device *devs[PCI_DEVFNS];
	pthread_mutex_t irq_lock;
	unsigned line_count[PCI_INTX_LINES_MAX]; /* devices asserting each line */
	struct pci_device bridge;                /* 00:00.0 */
};

/* Device side (pci.c). */
int pci_device_init(struct pci_device *pdev, const char *name, unsigned cfg_size,
		    const struct pci_device_ops *ops, void *opaque);
void pci_device_destroy(struct pci_device *pdev);
/* class is the 24-bit class code (base, sub-class, prog-if). */
void pci_set_ids(struct pci_device *pdev, uint16_t vendor, uint16_t device,
		 uint16_t subsys_vendor, uint16_t subsys, uint32_t class, uint8_t revision);
/* Before pci_host_add(): size is a power of two, at least 16 (4 for I/O). */
int pci_set_bar(struct pci_device *pdev, unsigned idx, enum pci_bar_kind kind, bool prefetch,
		uint64_t size, const struct io_ops *ops, void *opaque);
int pci_set_rom(struct pci_device *pdev, uint64_t size, const struct io_ops *ops, void *opaque);
/* pin: 1..4 for INTA..INTD, 0 for none. */
void pci_set_intx_pin(struct pci_device *pdev, unsigned pin);
/*
 * Appends a capability of len bytes (incl. its ID and next bytes) to the list
 * and returns its offset, or -ENOSPC. The caller fills it and its wmask.
 * MSI and MSI-X build on this: the capability's control word is made
 * writable with pci_cfg_set_wmask(), the config_write hook mirrors enable and
 * mask bits into the device's own state, the MSI-X table and PBA are served
 * from a BAR, and messages go out through vm_signal_msi() or an irqfd.
 */
int pci_add_capability(struct pci_device *pdev, uint8_t id, unsigned len);
/* Offset of the first capability with this ID, or 0. */
unsigned pci_find_capability(const struct pci_device *pdev, uint8_t id);

/* Raw register access for setting up and for hooks (no side effects). */
uint32_t pci_cfg_get(const struct pci_device *pdev, unsigned off, unsigned size);
void pci_cfg_set(struct pci_device *pdev, unsigned off, unsigned size, uint32_t val);
void pci_cfg_set_wmask(struct pci_device *pdev, unsigned off, unsigned size, uint32_t mask);
void pci_cfg_set_w1cmask(struct pci_device *pdev, unsigned off, unsigned size, uint32_t mask);

/* Guest accesses: any offset, size 1, 2 or 4, inside cfg_size. */
uint32_t pci_config_read(struct pci_device *pdev, unsigned off, unsigned size);
void pci_config_write(struct pci_device *pdev, unsigned off, unsigned size, uint32_t val);

/*
 * A reset of the function, as a VMM's system reset does it (QEMU's device
 * process on DEVICE_RESET): decoding off, BAR addresses 0 (unmapped),
 * every other writable register bit cleared (INTx line, cache line size,
 * capability controls such as MSI-X enable), sticky status bits cleared;
 * then the ops' reset hook resets the device model. Whoever set the
 * function up (firmware, a proxy) programs it again.
 */
void pci_device_reset(struct pci_device *pdev);

/* Drives INTx (level-triggered, shared). Thread-safe; see the lock order. */
void pci_set_irq(struct pci_device *pdev, int level);
/* Where BAR idx is mapped now, or 0. Lock-free: BAR handlers may call it. */
uint64_t pci_bar_base(struct pci_device *pdev, unsigned idx);

/* Host side (pci_host.c). */
int pci_host_init(struct pci_host *host, const struct pci_host_config *cfg);
void pci_host_destroy(struct pci_host *host);
/*
 * Adds a device at slot.fn (slot < 0: the first free slot, function 0),
 * assigns its BARs and INTx line and enables decoding, as firmware would.
 * Devices are added before the vCPUs start.
 */
int pci_host_add(struct pci_host *host, struct pci_device *pdev, int slot, unsigned fn);
/*
 * Takes a device off the bus: unmaps its BARs and releases its INTx line.
 * The caller makes sure no vCPU is still in its handlers (the VM stopped).
 */
void pci_host_remove(struct pci_host *host, struct pci_device *pdev);
struct pci_device *pci_host_device(struct pci_host *host, unsigned devfn);
/* Re-evaluates the mapping of every BAR of pdev (pdev->lock held). */
void pci_host_update_bars(struct pci_host *host, struct pci_device *pdev);
/* The INTx line for slot and pin (1..4). */
unsigned pci_host_intx_gsi(const struct pci_host *host, unsigned slot, unsigned pin);

/* Configuration mechanism #1: 8 ports (address at +0, data at +4); dev = host. */
extern const struct io_ops pci_conf1_ops;
/* ECAM (bus << 20 | devfn << 12 | register); dev = host. */
extern const struct io_ops pci_ecam_ops;

#endif
