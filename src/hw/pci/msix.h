/*
 * MSI-X for a PCI device model: the capability, the vector table and the
 * pending-bit array (served from one of the device's BARs), per-vector and
 * function masking with pending delivery on unmask.
 *
 * The device's config_write hook passes every config write on to
 * msix_config_write() so enable and function-mask changes take effect; the
 * table and PBA are guest-accessible through msix_bar_ops (dev = struct msix),
 * with offsets relative to the start of the BAR given to msix_init(). Messages go out through
 * the signal function (vm_signal_msi in the VMM, an irqfd route elsewhere).
 */
#ifndef HW_PCI_MSIX_H
#define HW_PCI_MSIX_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct io_ops;
struct pci_device;

#define MSIX_MAX_VECTORS 64
#define MSIX_NO_VECTOR 0xffff /* VIRTIO_MSI_NO_VECTOR and friends */

typedef int (*msix_signal_fn)(void *opaque, uint64_t addr, uint32_t data);
typedef void (*msix_vector_fn)(void *opaque, unsigned vec);

struct msix {
	struct pci_device *pdev;
	unsigned nvec;
	unsigned cap;       /* capability offset in config space */
	uint32_t table_off; /* within the BAR */
	uint32_t pba_off;
	uint32_t table[MSIX_MAX_VECTORS][4]; /* addr lo, addr hi, data, control */
	uint64_t pba;       /* pending bits */
	bool enabled;
	bool func_masked;
	msix_signal_fn signal;
	void *signal_opaque;
	msix_vector_fn sink; /* the table is owned elsewhere: vectors go here */
	void *sink_opaque;
	pthread_mutex_t lock; /* a leaf: taken under pdev->lock or device locks */
};

/*
 * Adds the capability (table at table_off, PBA at pba_off of BAR bar, both
 * 8-byte aligned); all vectors start masked. The caller declares the BAR and
 * routes [table_off, pba_off + 8) of it to msix_bar_ops.
 */
int msix_init(struct msix *m, struct pci_device *pdev, unsigned nvec, unsigned bar,
	      uint32_t table_off, uint32_t pba_off, msix_signal_fn signal, void *opaque);
void msix_destroy(struct msix *m);
/* The bytes of BAR space the table and PBA take (from table_off). */
uint32_t msix_bar_span(const struct msix *m);
/* From the device's config_write hook (pdev->lock held). */
void msix_config_write(struct msix *m, unsigned off, unsigned size, uint32_t val);
bool msix_enabled(struct msix *m);
/*
 * Power-on state after a function reset: disabled, unmasked function,
 * every vector masked with a zero message, nothing pending. The control
 * word in config space is the caller's (pci_device_reset() clears it).
 */
void msix_reset(struct msix *m);
/* Sends vector vec, or marks it pending while masked. Thread-safe. */
void msix_notify(struct msix *m, unsigned vec);
/*
 * The table is owned elsewhere (the VMM of a device process): from now on
 * msix_notify() of a vector while MSI-X is enabled calls fn(opaque, vec),
 * whatever this copy's table and masks say; masking and pending bits are
 * the owner's. Survives msix_reset(). Before the device signals anything.
 */
void msix_set_sink(struct msix *m, msix_vector_fn fn, void *opaque);

extern const struct io_ops msix_bar_ops;

#endif
