/* The `splitvm run` configuration, and parsing of its command line. */
#ifndef CORE_OPTIONS_H
#define CORE_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/log.h"

#define VM_MAX_CPUS 64
#define VM_MAX_DEVICES 32
#define VM_DEFAULT_MEM (256ull << 20)

enum console_kind { CONSOLE_STDIO, CONSOLE_NONE, CONSOLE_FILE };

/* How a compressed bzImage payload is unpacked. */
enum kernel_unpack { UNPACK_VMM, UNPACK_GUEST };

struct vm_config {
	const char *kernel;
	const char *initrd;
	const char *append;
	uint64_t mem_size;
	unsigned ncpus;
	const char *accel; /* "auto", "kvm", "emu" or another module name */
	enum console_kind console;
	const char *console_path;
	const char *devices[VM_MAX_DEVICES];
	unsigned ndevices;
	bool boot_timer;
	enum kernel_unpack unpack;
	enum log_level log_level;
};

/* "128M", "1G", "4096K", "1048576": bytes into *out. */
int parse_size(const char *s, uint64_t *out);
/*
 * Parses `run` arguments (argv[0] is "run"). On error returns -EINVAL with a
 * one-line message in err. Returns 1 if help was printed.
 */
int parse_run_args(int argc, char **argv, struct vm_config *cfg, char *err, size_t err_len);
void print_run_help(int fd);

#endif
