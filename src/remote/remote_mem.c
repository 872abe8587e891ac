/* Guest RAM from SYNC_SYSMEM (remote_mem.h). */
#include "remote/remote_mem.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"

_Static_assert(GUEST_MEM_MAX_REGIONS >= LINK_MAX_FDS, "a SYNC_SYSMEM fits a guest_memory");

/* The files a new table uses; fresh ones were mapped by this sync. */
struct file_set {
	struct remote_file f[LINK_MAX_FDS];
	bool fresh[LINK_MAX_FDS];
	unsigned n;
};

void remote_mem_init(struct remote_mem *rm, const struct logger *log)
{
	memset(rm, 0, sizeof(*rm));
	rm->log = log;
	rm->mem.fd = -1;
}

static int find_file(const struct remote_file *files, unsigned n, const struct stat *st,
		     uint64_t end)
{
	for (unsigned i = 0; i < n; i++)
		if (files[i].dev == st->st_dev && files[i].ino == st->st_ino && end <= files[i].len)
			return (int)i;
	return -1;
}

/* A shrinkable file could be truncated under us: accesses would SIGBUS. */
static void check_seals(struct remote_mem *rm, int fd)
{
	int seals = fcntl(fd, F_GET_SEALS);

	if (seals < 0 || !(seals & F_SEAL_SHRINK))
		log_info(rm->log, "remote: guest RAM file is not sealed against shrinking; "
			 "the VMM must not truncate it");
}

/* Maps the whole file of fd; the fd becomes the set's on success. */
static int map_file(struct remote_mem *rm, struct file_set *set, int fd, const struct stat *st)
{
	struct remote_file *f = &set->f[set->n];
	void *p;

	p = mmap(NULL, (size_t)st->st_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
		 fd, 0);
	if (p == MAP_FAILED) {
		int err = -errno;

		log_error(rm->log, "remote: cannot map guest RAM (%lld bytes): %s",
			  (long long)st->st_size, strerror(errno));
		return err;
	}
	madvise(p, (size_t)st->st_size, MADV_DONTDUMP);
	check_seals(rm, fd);
	*f = (struct remote_file){ st->st_dev, st->st_ino, fd, p, (uint64_t)st->st_size };
	set->fresh[set->n++] = true;
	return (int)set->n - 1;
}

/* The set's file holding region i of m, mapped or found; its index or -errno. */
static int region_file(struct remote_mem *rm, struct file_set *set, struct link_msg *m,
		       unsigned i)
{
	uint64_t end = (uint64_t)m->data.sysmem.offsets[i] + m->data.sysmem.sizes[i];
	struct stat st;
	int k;

	if (fstat(m->fds[i], &st) < 0 || !S_ISREG(st.st_mode)) {
		log_error(rm->log, "remote: SYNC_SYSMEM region %u: not a memory file", i);
		return -EINVAL;
	}
	if (end > (uint64_t)st.st_size) {
		log_error(rm->log, "remote: SYNC_SYSMEM region %u ends at %#llx, past its file's "
			  "%#llx bytes", i, (unsigned long long)end, (unsigned long long)st.st_size);
		return -EINVAL;
	}
	k = find_file(set->f, set->n, &st, end);
	if (k >= 0)
		return k;
	k = find_file(rm->files, rm->nfiles, &st, end);
	if (k >= 0) {
		set->f[set->n] = rm->files[k];
		set->fresh[set->n++] = false;
		return (int)set->n - 1;
	}
	k = map_file(rm, set, m->fds[i], &st);
	if (k >= 0)
		m->fds[i] = -1; /* the set's now */
	return k;
}

static void set_release_fresh(struct file_set *set)
{
	for (unsigned i = 0; i < set->n; i++) {
		if (!set->fresh[i])
			continue;
		munmap(set->f[i].map, set->f[i].len);
		close(set->f[i].fd);
	}
	set->n = 0;
}

static bool in_set(const struct file_set *set, const struct remote_file *f)
{
	for (unsigned i = 0; i < set->n; i++)
		if (set->f[i].map == f->map)
			return true;
	return false;
}

/*
 * Overlays a mapping no table names any more (see remote_mem.h). Shared
 * anonymous memory, like the RAM it replaces: a private mapping as big as
 * guest RAM would count against a sandboxed process's RLIMIT_DATA.
 */
static void retire(struct remote_mem *rm, struct remote_file *f)
{
	void *p = mmap(f->map, f->len, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED) {
		/* Cannot happen for a range we own; unmapping is the fallback. */
		munmap(f->map, f->len);
	} else {
		rm->retired[rm->nretired].addr = f->map;
		rm->retired[rm->nretired++].len = f->len;
	}
	close(f->fd);
}

static unsigned count_dropped(const struct remote_mem *rm, const struct file_set *set)
{
	unsigned n = 0;

	for (unsigned i = 0; i < rm->nfiles; i++)
		n += !in_set(set, &rm->files[i]);
	return n;
}

/* The table of m's regions over the set's files, sorted by address. */
static void build_table(struct guest_memory *t, const struct link_msg *m,
			const struct file_set *set, const int *slot)
{
	memset(t, 0, sizeof(*t));
	t->fd = -1;
	for (unsigned i = 0; i < m->nfds; i++) {
		const struct remote_file *f = &set->f[slot[i]];
		struct guest_ram_region r = {
			.base = gpa(m->data.sysmem.gpas[i]),
			.size = m->data.sysmem.sizes[i],
			.hva = f->map + m->data.sysmem.offsets[i],
			.fd = f->fd,
			.fd_offset = (uint64_t)m->data.sysmem.offsets[i],
		};
		unsigned j = t->nregions++;

		for (; j > 0 && t->regions[j - 1].base.raw > r.base.raw; j--)
			t->regions[j] = t->regions[j - 1];
		t->regions[j] = r;
		t->total += r.size;
	}
}

int remote_mem_sync(struct remote_mem *rm, struct link_msg *m)
{
	struct file_set set = { .n = 0 };
	int slot[LINK_MAX_FDS];
	unsigned dropped;
	int err = 0;

	for (unsigned i = 0; i < m->nfds && !err; i++) {
		slot[i] = region_file(rm, &set, m, i);
		err = slot[i] < 0 ? slot[i] : 0;
	}
	dropped = err ? 0 : count_dropped(rm, &set);
	if (!err && rm->nretired + dropped > REMOTE_MEM_MAX_RETIRED) {
		log_error(rm->log, "remote: SYNC_SYSMEM replaces more than %d RAM files in all",
			  REMOTE_MEM_MAX_RETIRED);
		err = -ENOSPC;
	}
	if (err) {
		set_release_fresh(&set);
		link_msg_close_fds(m);
		return err;
	}
	for (unsigned i = 0; i < rm->nfiles; i++)
		if (!in_set(&set, &rm->files[i]))
			retire(rm, &rm->files[i]);
	memcpy(rm->files, set.f, sizeof(set.f[0]) * set.n);
	rm->nfiles = set.n;
	build_table(&rm->mem, m, &set, slot);
	link_msg_close_fds(m);
	log_debug(rm->log, "remote: guest RAM: %u regions, %llu MiB in %u files", rm->mem.nregions,
		  (unsigned long long)(rm->mem.total >> 20), rm->nfiles);
	return 0;
}

void remote_mem_destroy(struct remote_mem *rm)
{
	for (unsigned i = 0; i < rm->nfiles; i++) {
		munmap(rm->files[i].map, rm->files[i].len);
		close(rm->files[i].fd);
	}
	for (unsigned i = 0; i < rm->nretired; i++)
		munmap(rm->retired[i].addr, rm->retired[i].len);
	remote_mem_init(rm, rm->log);
}
