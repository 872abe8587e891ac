#include "core/memory.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int guest_memory_init(struct guest_memory *m, const struct mem_range *ranges, unsigned n)
{
	uint64_t total = 0;
	int err;

	memset(m, 0, sizeof(*m));
	m->fd = -1;
	if (n == 0 || n > GUEST_MEM_MAX_REGIONS)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		if (ranges[i].size == 0 || ranges[i].base.raw + ranges[i].size < ranges[i].base.raw)
			return -EINVAL;
		if (i && ranges[i].base.raw < ranges[i - 1].base.raw + ranges[i - 1].size)
			return -EINVAL;
		total += ranges[i].size;
	}
	m->fd = memfd_create("splitvm-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (m->fd < 0)
		return -errno;
	if (ftruncate(m->fd, (off_t)total) < 0)
		goto fail;
	m->map = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, m->fd, 0);
	if (m->map == MAP_FAILED) {
		m->map = NULL;
		goto fail;
	}
	/* RAM is never resized: sealing lets device processes trust its size. */
	fcntl(m->fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW);
	madvise(m->map, total, MADV_DONTDUMP);
	m->total = total;
	for (uint64_t off = 0; m->nregions < n; m->nregions++) {
		struct guest_ram_region *r = &m->regions[m->nregions];

		r->base = ranges[m->nregions].base;
		r->size = ranges[m->nregions].size;
		r->hva = m->map + off;
		r->fd = m->fd;
		r->fd_offset = off;
		off += r->size;
	}
	return 0;
fail:
	err = -errno;
	guest_memory_destroy(m);
	return err;
}

void guest_memory_destroy(struct guest_memory *m)
{
	if (m->map)
		munmap(m->map, m->total);
	if (m->fd >= 0)
		close(m->fd);
	memset(m, 0, sizeof(*m));
	m->fd = -1;
}

void *gpa_to_hva(const struct guest_memory *m, gpa_t a, uint64_t len)
{
	for (unsigned i = 0; i < m->nregions; i++) {
		const struct guest_ram_region *r = &m->regions[i];
		uint64_t off = a.raw - r->base.raw;

		if (a.raw >= r->base.raw && off < r->size && len <= r->size - off)
			return r->hva + off;
	}
	return NULL;
}

bool gpa_is_ram(const struct guest_memory *m, gpa_t a, uint64_t len)
{
	return gpa_to_hva(m, a, len) != NULL;
}

int guest_read(const struct guest_memory *m, gpa_t a, void *buf, size_t len)
{
	void *p = gpa_to_hva(m, a, len);

	if (!p)
		return -EFAULT;
	memcpy(buf, p, len);
	return 0;
}

int guest_write(const struct guest_memory *m, gpa_t a, const void *buf, size_t len)
{
	void *p = gpa_to_hva(m, a, len);

	if (!p)
		return -EFAULT;
	memcpy(p, buf, len);
	return 0;
}

uint64_t guest_ram_end_below(const struct guest_memory *m, uint64_t limit)
{
	uint64_t end = 0;

	for (unsigned i = 0; i < m->nregions; i++) {
		const struct guest_ram_region *r = &m->regions[i];

		if (r->base.raw < limit) {
			uint64_t e = r->base.raw + r->size;
			end = e < limit ? e : limit;
		}
	}
	return end;
}
