/* Types shared by the VMM core and accelerator modules. */
#ifndef SPLITVM_TYPES_H
#define SPLITVM_TYPES_H

#include <stdint.h>

/*
 * A guest-physical address. A distinct struct type so that a guest address can
 * never be mistaken for a host pointer or a plain length: the only way from
 * one to a host pointer is a checked accessor (core/memory.h).
 */
typedef struct {
	uint64_t raw;
} gpa_t;

static inline gpa_t gpa(uint64_t raw)
{
	return (gpa_t){ raw };
}

static inline gpa_t gpa_add(gpa_t a, uint64_t off)
{
	return (gpa_t){ a.raw + off };
}

/* One contiguous block of guest RAM, backed by a shared memory file. */
struct guest_ram_region {
	gpa_t base;
	uint64_t size;
	uint8_t *hva;       /* mapping in this process */
	int fd;             /* memfd holding the RAM (shared with device processes) */
	uint64_t fd_offset; /* where this region starts in fd */
};

#endif
