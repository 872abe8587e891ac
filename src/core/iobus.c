#include "core/iobus.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

int iobus_init(struct iobus *bus, const char *name, const struct logger *log)
{
	memset(bus, 0, sizeof(*bus));
	bus->name = name;
	bus->log = log;
	return -pthread_rwlock_init(&bus->lock, NULL);
}

void iobus_destroy(struct iobus *bus)
{
	if (!bus->name)
		return; /* never initialised */
	free(bus->ranges);
	pthread_rwlock_destroy(&bus->lock);
	memset(bus, 0, sizeof(*bus));
}

/* Index of the first range whose end is above addr. */
static unsigned lower_bound(const struct iobus *bus, uint64_t addr)
{
	unsigned lo = 0, hi = bus->count;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		const struct io_range *r = &bus->ranges[mid];

		if (r->base + r->len - 1 < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int iobus_register(struct iobus *bus, uint64_t base, uint64_t len,
		   const struct io_ops *ops, void *dev, const char *name)
{
	unsigned i;
	int err = 0;

	if (len == 0 || base + len - 1 < base)
		return -EINVAL;
	pthread_rwlock_wrlock(&bus->lock);
	i = lower_bound(bus, base);
	if (i < bus->count && bus->ranges[i].base <= base + len - 1) {
		err = -EBUSY;
		goto out;
	}
	if (bus->count == bus->cap) {
		unsigned cap = bus->cap ? bus->cap * 2 : 16;
		struct io_range *r = realloc(bus->ranges, cap * sizeof(*r));

		if (!r) {
			err = -ENOMEM;
			goto out;
		}
		bus->ranges = r;
		bus->cap = cap;
	}
	memmove(&bus->ranges[i + 1], &bus->ranges[i], (bus->count - i) * sizeof(bus->ranges[0]));
	bus->ranges[i] = (struct io_range){ base, len, ops, dev, name };
	bus->count++;
out:
	pthread_rwlock_unlock(&bus->lock);
	return err;
}

int iobus_unregister(struct iobus *bus, uint64_t base, void *dev)
{
	unsigned i;
	int err = -ENOENT;

	pthread_rwlock_wrlock(&bus->lock);
	i = lower_bound(bus, base);
	if (i < bus->count && bus->ranges[i].base == base && bus->ranges[i].dev == dev) {
		memmove(&bus->ranges[i], &bus->ranges[i + 1],
			(bus->count - i - 1) * sizeof(bus->ranges[0]));
		bus->count--;
		err = 0;
	}
	pthread_rwlock_unlock(&bus->lock);
	return err;
}

static uint64_t load_le(const void *data, unsigned size)
{
	uint64_t v = 0;

	memcpy(&v, data, size); /* x86 hosts only: little-endian */
	return v;
}

bool iobus_access(struct iobus *bus, uint64_t addr, void *data, unsigned size, bool is_write)
{
	struct io_range r = { 0 };
	unsigned i;

	/*
	 * Call the device outside the lock: a handler may move its own ranges
	 * (a BAR write through ECAM). Devices live as long as the VM, so the
	 * copied range stays valid.
	 */
	pthread_rwlock_rdlock(&bus->lock);
	i = lower_bound(bus, addr);
	if (i < bus->count && bus->ranges[i].base <= addr &&
	    addr + size - 1 <= bus->ranges[i].base + bus->ranges[i].len - 1)
		r = bus->ranges[i];
	pthread_rwlock_unlock(&bus->lock);
	if (r.ops && is_write) {
		r.ops->write(r.dev, addr - r.base, load_le(data, size), size);
		return true;
	}
	if (r.ops) {
		uint64_t v = r.ops->read(r.dev, addr - r.base, size);
		memcpy(data, &v, size);
		return true;
	}
	if (!is_write)
		memset(data, 0xff, size);
	log_debug(bus->log, "%s: unclaimed %s of %u bytes at %#llx", bus->name,
		  is_write ? "write" : "read", size, (unsigned long long)addr);
	return false;
}
