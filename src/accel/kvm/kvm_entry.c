/*
 * accel-kvm.so: the entry symbol, the ops table and the host probe.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "accel/kvm/kvm.h"

void kvm_log(const struct accel_vm *vm, enum accel_log_level level, const char *fmt, ...)
{
	va_list ap;

	if (!vm || !vm->host || !vm->host->log)
		return;
	va_start(ap, fmt);
	vm->host->log(vm->host->opaque, level, fmt, ap);
	va_end(ap);
}

/* KVM_CHECK_EXTENSION: > 0 when present (some caps return a count). */
int kvm_check_extension(int fd, long cap)
{
	int r = ioctl(fd, KVM_CHECK_EXTENSION, cap);

	return r < 0 ? 0 : r;
}

static bool flags_line_has(const char *line, const char *flag)
{
	size_t n = strlen(flag);
	const char *p = line;

	while ((p = strstr(p, flag)) != NULL) {
		bool start = p == line || p[-1] == ' ' || p[-1] == '\t';
		bool end = p[n] == '\0' || p[n] == ' ' || p[n] == '\n';

		if (start && end)
			return true;
		p += n;
	}
	return false;
}

/* True when the first CPU's flags show hardware virtualization. */
static bool cpu_has_hw_virt(void)
{
	char line[8192];
	bool found = false;
	FILE *f = fopen("/proc/cpuinfo", "re");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags", 5) != 0)
			continue;
		found = flags_line_has(line, "vmx") || flags_line_has(line, "svm");
		break;
	}
	fclose(f);
	return found;
}

static int kvm_probe(char *why, size_t why_len)
{
	int fd, r;

	r = kvm_open_dev(&fd, why, why_len);
	if (r < 0)
		return r;
	r = kvm_check_required_caps(fd, why, why_len);
	close(fd);
	if (r < 0)
		return r;
	if (!cpu_has_hw_virt()) {
		snprintf(why, why_len, "/dev/kvm works, but the CPU flags show neither vmx "
			 "nor svm: it is a software nested layer%s; small guests run, "
			 "stock Linux kernels do not boot",
			 access("/sys/module/kvm_pvm", F_OK) == 0 ? " (kvm_pvm)" : "");
		return ACCEL_PROBE_LIMITED;
	}
	snprintf(why, why_len, "hardware virtualization through /dev/kvm");
	return ACCEL_PROBE_OK;
}

static const struct accel_ops kvm_accel_ops = {
	.abi_version = SPLITVM_ACCEL_ABI_VERSION,
	.size = sizeof(struct accel_ops),
	.name = "kvm",
	.description = "Linux KVM (in-kernel irqchip and PIT)",
	.probe = kvm_probe,
	.vm = &kvm_vm_ops,
	.vcpu = &kvm_vcpu_ops,
};

SPLITVM_ACCEL_MODULE(kvm_accel_ops)
