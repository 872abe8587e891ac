/*
 * Guest RAM of a device process: the regions of the VMM's last SYNC_SYSMEM,
 * each a range of a file (memfd) the VMM passed, mapped MAP_SHARED.
 *
 * Every file is mapped once, whole, and found again by its inode: a
 * SYNC_SYSMEM that names the same file (QEMU sends one on every memory
 * topology change, mostly the same memfd cut differently) keeps the same
 * mapping, so host pointers a device holds across messages (virtqueue
 * rings, in-flight requests) stay valid. Only the guest-physical table is
 * replaced. A file no longer named is unmapped by overlaying it with
 * anonymous memory: a stale pointer then reads zeros and writes into
 * scratch instead of faulting or hitting a later mapping; the address
 * range is released at the end.
 *
 * Single-threaded: the table changes between link messages on the thread
 * that runs the devices, so device code must not keep a guest address
 * translation across a return to the event loop except into this memory
 * (which stays mapped as said above).
 */
#ifndef REMOTE_REMOTE_MEM_H
#define REMOTE_REMOTE_MEM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/memory.h"
#include "remote/link.h"

/* Files replaced in one run before the VMM is refused (address space). */
#define REMOTE_MEM_MAX_RETIRED 64

struct remote_file {
	dev_t dev;
	ino_t ino;
	int fd;
	uint8_t *map;
	uint64_t len; /* mapped bytes: the file's size when it was first named */
};

struct remote_mem {
	const struct logger *log;
	struct guest_memory mem; /* the table devices see (dev_host.mem) */
	struct remote_file files[LINK_MAX_FDS];
	unsigned nfiles;
	struct {
		void *addr;
		uint64_t len;
	} retired[REMOTE_MEM_MAX_RETIRED];
	unsigned nretired;
};

void remote_mem_init(struct remote_mem *rm, const struct logger *log);
/*
 * Replaces the RAM table with the regions of a validated SYNC_SYSMEM. The
 * message's fds are consumed (kept or closed) whatever the outcome. On
 * error (a region beyond its file, a file that cannot be mapped) the old
 * table stays and -errno is returned, logged.
 */
int remote_mem_sync(struct remote_mem *rm, struct link_msg *m);
void remote_mem_destroy(struct remote_mem *rm);

#endif
