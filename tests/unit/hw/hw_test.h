/*
 * Helpers for the device tests: a struct vm built by hand (no accelerator,
 * so vm_set_irq is a no-op), its console writing into a pipe, its log into
 * another, and port I/O through the buses as a vCPU would do it.
 */
#ifndef TESTS_UNIT_HW_TEST_H
#define TESTS_UNIT_HW_TEST_H

#include <stddef.h>
#include <stdint.h>

#include "core/vm.h"

struct hw_fixture {
	struct vm vm;
	struct vm_config cfg;
	int out[2]; /* console output */
	int err[2]; /* the VMM's stderr (log and boot timer) */
};

struct hw_fixture *hw_fixture_new(uint64_t ram_size);
void hw_fixture_free(struct hw_fixture *f);
/* What the console or stderr received so far (NUL-terminated). */
size_t hw_console_output(struct hw_fixture *f, char *buf, size_t len);
size_t hw_stderr_output(struct hw_fixture *f, char *buf, size_t len);

uint32_t pio_in(struct vm *vm, uint16_t port, unsigned size);
void pio_out(struct vm *vm, uint16_t port, uint32_t v, unsigned size);
uint64_t mmio_in(struct vm *vm, uint64_t addr, unsigned size);
void mmio_out(struct vm *vm, uint64_t addr, uint64_t v, unsigned size);

static inline uint8_t inb(struct vm *vm, uint16_t port)
{
	return (uint8_t)pio_in(vm, port, 1);
}

static inline void outb(struct vm *vm, uint16_t port, uint8_t v)
{
	pio_out(vm, port, v, 1);
}

#endif
