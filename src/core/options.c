#include "core/options.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hw/device.h"

#define MIN_MEM (8ull << 20)
#define MAX_MEM (256ull << 30) /* below the 64-bit PCI window */

int parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	unsigned shift = 20; /* a bare number means MiB, as in QEMU's -m */
	char *end;

	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	switch (toupper((unsigned char)*end)) {
	case '\0': break;
	case 'K': shift = 10; end++; break;
	case 'M': shift = 20; end++; break;
	case 'G': shift = 30; end++; break;
	case 'T': shift = 40; end++; break;
	default: return -EINVAL;
	}
	if (*end == 'i' && end[1] == 'B')
		end += 2;
	else if (*end == 'B')
		end++;
	if (*end || v > (UINT64_MAX >> shift))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

static const char run_help[] =
	"usage: splitvm run --kernel PATH [options]\n"
	"\n"
	"  --kernel PATH        Linux bzImage or ELF (vmlinux, test guest)\n"
	"  --initrd PATH        initial ramdisk\n"
	"  --append CMDLINE     kernel command line\n"
	"  --mem SIZE           guest RAM, e.g. 128M or 1G (default 256M)\n"
	"  --cpus N             vCPUs, 1..64 (default 1)\n"
	"  --accel NAME         auto, kvm or emu (default auto)\n"
	"  --console KIND       stdio, none or file=PATH (default stdio)\n"
	"  --device SPEC        add a device (repeatable)\n"
	"  --boot-timer         print writes to port 0x80 with the time since start\n"
	"  --kernel-unpack WHO  vmm (default) or guest: who unpacks a bzImage\n"
	"  --log-level LEVEL    error, warn, info or debug (default warn)\n"
	"\n"
	"On a terminal, Ctrl-A x quits and Ctrl-A Ctrl-A sends Ctrl-A.\n"
	"Exit status: 0 guest reset or power-off, 1 VMM failure, 2 bad usage or input.\n";

void print_run_help(int fd)
{
	static const char devices[] = "\nDevices (--device SPEC):\n";

	if (write(fd, run_help, sizeof(run_help) - 1) < 0)
		return;
	if (write(fd, devices, sizeof(devices) - 1) < 0)
		return;
	device_kinds_usage(fd);
}

enum { OPT_KERNEL = 256, OPT_INITRD, OPT_APPEND, OPT_MEM, OPT_CPUS, OPT_ACCEL,
       OPT_CONSOLE, OPT_DEVICE, OPT_BOOT_TIMER, OPT_UNPACK, OPT_LOG_LEVEL, OPT_HELP };

static const struct option run_options[] = {
	{ "kernel", required_argument, NULL, OPT_KERNEL },
	{ "initrd", required_argument, NULL, OPT_INITRD },
	{ "append", required_argument, NULL, OPT_APPEND },
	{ "mem", required_argument, NULL, OPT_MEM },
	{ "cpus", required_argument, NULL, OPT_CPUS },
	{ "accel", required_argument, NULL, OPT_ACCEL },
	{ "console", required_argument, NULL, OPT_CONSOLE },
	{ "device", required_argument, NULL, OPT_DEVICE },
	{ "boot-timer", no_argument, NULL, OPT_BOOT_TIMER },
	{ "kernel-unpack", required_argument, NULL, OPT_UNPACK },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

#define fail(...) do { snprintf(err, err_len, __VA_ARGS__); return -EINVAL; } while (0)

static int parse_mem(struct vm_config *cfg, const char *arg, char *err, size_t err_len)
{
	if (parse_size(arg, &cfg->mem_size) < 0)
		fail("invalid --mem size '%s' (use e.g. 128M or 1G)", arg);
	if (cfg->mem_size < MIN_MEM || cfg->mem_size > MAX_MEM)
		fail("--mem %s out of range (8M..256G)", arg);
	if (cfg->mem_size & 0xfff)
		fail("--mem %s is not a multiple of 4K", arg);
	return 0;
}

static int parse_cpus(struct vm_config *cfg, const char *arg, char *err, size_t err_len)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(arg, &end, 10);
	if (errno || end == arg || *end || n < 1 || n > VM_MAX_CPUS)
		fail("invalid --cpus '%s' (1..%d)", arg, VM_MAX_CPUS);
	cfg->ncpus = (unsigned)n;
	return 0;
}

static int parse_console(struct vm_config *cfg, const char *arg, char *err, size_t err_len)
{
	if (!strcmp(arg, "stdio"))
		cfg->console = CONSOLE_STDIO;
	else if (!strcmp(arg, "none"))
		cfg->console = CONSOLE_NONE;
	else if (!strncmp(arg, "file=", 5) && arg[5]) {
		cfg->console = CONSOLE_FILE;
		cfg->console_path = arg + 5;
	} else
		fail("invalid --console '%s' (stdio, none or file=PATH)", arg);
	return 0;
}

static int parse_one(struct vm_config *cfg, int opt, const char *arg, char *err, size_t err_len)
{
	switch (opt) {
	case OPT_KERNEL: cfg->kernel = arg; return 0;
	case OPT_INITRD: cfg->initrd = arg; return 0;
	case OPT_APPEND: cfg->append = arg; return 0;
	case OPT_MEM: return parse_mem(cfg, arg, err, err_len);
	case OPT_CPUS: return parse_cpus(cfg, arg, err, err_len);
	case OPT_CONSOLE: return parse_console(cfg, arg, err, err_len);
	case OPT_BOOT_TIMER: cfg->boot_timer = true; return 0;
	case OPT_ACCEL:
		if (strcmp(arg, "auto") && strcmp(arg, "kvm") && strcmp(arg, "emu"))
			fail("unknown accelerator '%s' (auto, kvm or emu)", arg);
		cfg->accel = arg;
		return 0;
	case OPT_DEVICE:
		if (cfg->ndevices == VM_MAX_DEVICES)
			fail("too many --device options (at most %d)", VM_MAX_DEVICES);
		cfg->devices[cfg->ndevices++] = arg;
		return 0;
	case OPT_UNPACK:
		if (!strcmp(arg, "vmm"))
			cfg->unpack = UNPACK_VMM;
		else if (!strcmp(arg, "guest"))
			cfg->unpack = UNPACK_GUEST;
		else
			fail("invalid --kernel-unpack '%s' (vmm or guest)", arg);
		return 0;
	case OPT_LOG_LEVEL:
		if (log_level_parse(arg, &cfg->log_level) < 0)
			fail("invalid --log-level '%s' (error, warn, info or debug)", arg);
		return 0;
	}
	fail("internal: unhandled option %d", opt);
}

static void config_defaults(struct vm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->mem_size = VM_DEFAULT_MEM;
	cfg->ncpus = 1;
	cfg->accel = "auto";
	cfg->console = CONSOLE_STDIO;
	cfg->unpack = UNPACK_VMM;
	cfg->log_level = LOG_WARN;
}

int parse_run_args(int argc, char **argv, struct vm_config *cfg, char *err, size_t err_len)
{
	int opt;

	config_defaults(cfg);
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":", run_options, NULL)) != -1) {
		if (opt == OPT_HELP)
			return 1;
		if (opt == '?')
			fail("unknown option '%s' (see splitvm run --help)", argv[optind - 1]);
		if (opt == ':')
			fail("option '%s' needs a value", argv[optind - 1]);
		if (parse_one(cfg, opt, optarg, err, err_len) < 0)
			return -EINVAL;
	}
	if (optind < argc)
		fail("unexpected argument '%s'", argv[optind]);
	if (!cfg->kernel)
		fail("missing --kernel PATH (see splitvm run --help)");
	return 0;
}
