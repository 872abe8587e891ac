/*
 * Guest RAM: one memfd, mapped once, cut into regions at guest-physical
 * addresses. Every access from VMM code goes through the checked accessors
 * below, which refuse anything not wholly inside one RAM region.
 */
#ifndef CORE_MEMORY_H
#define CORE_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "splitvm/types.h"

#define GUEST_MEM_MAX_REGIONS 8

struct mem_range {
	gpa_t base;
	uint64_t size;
};

struct guest_memory {
	int fd;
	uint8_t *map;   /* whole memfd mapping */
	uint64_t total; /* bytes of RAM */
	unsigned nregions;
	struct guest_ram_region regions[GUEST_MEM_MAX_REGIONS];
};

/* Creates the memfd and maps it; ranges must be sorted and disjoint. */
int guest_memory_init(struct guest_memory *m, const struct mem_range *ranges, unsigned n);
void guest_memory_destroy(struct guest_memory *m);

/* Host pointer to [a, a+len) or NULL if that is not wholly RAM. */
void *gpa_to_hva(const struct guest_memory *m, gpa_t a, uint64_t len);
bool gpa_is_ram(const struct guest_memory *m, gpa_t a, uint64_t len);
int guest_read(const struct guest_memory *m, gpa_t a, void *buf, size_t len);
int guest_write(const struct guest_memory *m, gpa_t a, const void *buf, size_t len);
/* Highest RAM address + 1 below limit (e.g. 4 GiB), or 0. */
uint64_t guest_ram_end_below(const struct guest_memory *m, uint64_t limit);

#endif
