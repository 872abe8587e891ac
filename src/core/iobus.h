/*
 * Port I/O and MMIO dispatch by address range. Devices register a range with
 * an ops table; an access is routed to the one device whose range holds it.
 * Registration may happen while vCPUs run (PCI BAR moves): the bus is guarded
 * by a reader-writer lock, readers being the vCPU threads.
 */
#ifndef CORE_IOBUS_H
#define CORE_IOBUS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct logger;

struct io_ops {
	/* offset is relative to the registered base; size 1, 2, 4 or 8. */
	uint64_t (*read)(void *dev, uint64_t offset, unsigned size);
	void (*write)(void *dev, uint64_t offset, uint64_t value, unsigned size);
};

struct io_range {
	uint64_t base;
	uint64_t len;
	const struct io_ops *ops;
	void *dev;
	const char *name;
};

struct iobus {
	const char *name; /* "pio" or "mmio", for logs */
	const struct logger *log;
	pthread_rwlock_t lock;
	struct io_range *ranges; /* sorted by base, disjoint */
	unsigned count, cap;
};

int iobus_init(struct iobus *bus, const char *name, const struct logger *log);
void iobus_destroy(struct iobus *bus);
/* -EBUSY if the range overlaps one already registered. */
int iobus_register(struct iobus *bus, uint64_t base, uint64_t len,
		   const struct io_ops *ops, void *dev, const char *name);
int iobus_unregister(struct iobus *bus, uint64_t base, void *dev);
/*
 * Dispatch one access; data is little-endian. Unclaimed reads return all
 * ones and unclaimed writes are dropped. Returns false if unclaimed.
 */
bool iobus_access(struct iobus *bus, uint64_t addr, void *data, unsigned size, bool is_write);

#endif
