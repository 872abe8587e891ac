/*
 * The vCPU run loop and kick.
 *
 * Kick protocol: the kicker sets run->immediate_exit, then signals the vCPU
 * thread. The loop clears immediate_exit *before* it reads should_stop, so
 * a kick that races with a loop iteration either is seen by that read or
 * leaves immediate_exit set for the next KVM_RUN, which then returns at once.
 * The signal covers a vCPU already inside KVM_RUN, halted in-kernel or
 * waiting for SIPI: its handler does nothing, but without SA_RESTART the
 * ioctl returns EINTR.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "accel/kvm/kvm.h"

/*
 * A failure is logged once and reported through request_stop(ERROR); run()
 * then returns 0 like any other stop, so the core does not log it again.
 */
enum exit_action {
	EXIT_CONTINUE,
	EXIT_STOP, /* a stop was requested: return 0 */
};

static void kick_handler(int sig)
{
	(void)sig;
}

int kvm_install_kick_handler(void)
{
	struct sigaction sa = { .sa_handler = kick_handler }; /* no SA_RESTART */

	sigemptyset(&sa.sa_mask);
	if (sigaction(KVM_KICK_SIGNAL, &sa, NULL) < 0)
		return -errno;
	return 0;
}

void kvm_vcpu_kick(struct accel_vcpu *v)
{
	__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	pthread_kill(v->thread, KVM_KICK_SIGNAL);
}

static uint64_t vcpu_rip(struct accel_vcpu *v)
{
	struct kvm_regs regs;

	return ioctl(v->fd, KVM_GET_REGS, &regs) < 0 ? ~0ull : regs.rip;
}

__attribute__((format(printf, 2, 3)))
static enum exit_action vcpu_fail(struct accel_vcpu *v, const char *fmt, ...)
{
	const struct accel_host *h = v->vm->host;
	char what[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	kvm_log(v->vm, ACCEL_LOG_ERROR, "kvm: vcpu %u: %s, at rip 0x%llx", v->index, what,
		(unsigned long long)vcpu_rip(v));
	h->request_stop(h->opaque, ACCEL_STOP_ERROR);
	return EXIT_STOP;
}

static const char *internal_error_name(uint32_t suberror)
{
	switch (suberror) {
	case KVM_INTERNAL_ERROR_EMULATION:
		return "instruction emulation failed";
	case KVM_INTERNAL_ERROR_SIMUL_EX:
		return "exception while delivering an exception";
	case KVM_INTERNAL_ERROR_DELIVERY_EV:
		return "event delivery failed";
	default:
		return "internal error";
	}
}

static enum exit_action stop_with(struct accel_vcpu *v, enum accel_stop_reason why)
{
	const struct accel_host *h = v->vm->host;

	h->request_stop(h->opaque, why);
	return EXIT_STOP;
}

/* Every iteration of string I/O, in order; the data sits inside kvm_run. */
static enum exit_action handle_io(struct accel_vcpu *v)
{
	const struct accel_host *h = v->vm->host;
	struct kvm_run *run = v->run;
	unsigned size = run->io.size, count = run->io.count;
	bool is_write = run->io.direction == KVM_EXIT_IO_OUT;
	uint8_t *p = (uint8_t *)run + run->io.data_offset;
	uint64_t end = (uint64_t)run->io.data_offset + (uint64_t)size * count;
	unsigned i;

	if ((size != 1 && size != 2 && size != 4) || end > (uint64_t)v->vm->run_size)
		return vcpu_fail(v, "bad I/O exit: size %u count %u", size, count);
	for (i = 0; i < count; i++, p += size)
		h->pio(h->opaque, run->io.port, p, size, is_write);
	return EXIT_CONTINUE;
}

/* Odd lengths (an access split at a page boundary) go byte by byte. */
static enum exit_action handle_mmio(struct accel_vcpu *v)
{
	const struct accel_host *h = v->vm->host;
	struct kvm_run *run = v->run;
	uint32_t len = run->mmio.len;
	uint32_t i;

	if (len == 0 || len > sizeof(run->mmio.data))
		return vcpu_fail(v, "bad MMIO exit: 0x%llx len %u",
				 (unsigned long long)run->mmio.phys_addr, len);
	if (len == 1 || len == 2 || len == 4 || len == 8) {
		h->mmio(h->opaque, run->mmio.phys_addr, run->mmio.data, len,
			run->mmio.is_write);
		return EXIT_CONTINUE;
	}
	for (i = 0; i < len; i++)
		h->mmio(h->opaque, run->mmio.phys_addr + i, &run->mmio.data[i], 1,
			run->mmio.is_write);
	return EXIT_CONTINUE;
}

static enum exit_action handle_system_event(struct accel_vcpu *v)
{
	switch (v->run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		return stop_with(v, ACCEL_STOP_POWEROFF);
	case KVM_SYSTEM_EVENT_RESET:
		return stop_with(v, ACCEL_STOP_RESET);
	case KVM_SYSTEM_EVENT_WAKEUP:
		return EXIT_CONTINUE;
	default:
		return vcpu_fail(v, "unhandled system event %u", v->run->system_event.type);
	}
}

static enum exit_action handle_hlt(struct accel_vcpu *v)
{
	/* The in-kernel irqchip halts in the kernel; resume if KVM says otherwise. */
	if (!v->warned_hlt)
		kvm_log(v->vm, ACCEL_LOG_WARN, "kvm: vcpu %u: unexpected HLT exit", v->index);
	v->warned_hlt = true;
	return EXIT_CONTINUE;
}

static enum exit_action handle_exit(struct accel_vcpu *v)
{
	struct kvm_run *run = v->run;

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		return handle_io(v);
	case KVM_EXIT_MMIO:
		return handle_mmio(v);
	case KVM_EXIT_INTR:
		return EXIT_CONTINUE;
	case KVM_EXIT_SHUTDOWN: /* triple fault */
		return stop_with(v, ACCEL_STOP_RESET);
	case KVM_EXIT_SYSTEM_EVENT:
		return handle_system_event(v);
	case KVM_EXIT_HLT:
		return handle_hlt(v);
	case KVM_EXIT_FAIL_ENTRY:
		return vcpu_fail(v, "VM entry failed: hardware reason 0x%llx",
				 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
	case KVM_EXIT_INTERNAL_ERROR:
		return vcpu_fail(v, "KVM %s (suberror %u)",
				 internal_error_name(run->internal.suberror),
				 run->internal.suberror);
	default:
		return vcpu_fail(v, "unhandled KVM exit %u", run->exit_reason);
	}
}

int kvm_vcpu_run(struct accel_vcpu *v)
{
	const struct accel_host *h = v->vm->host;

	for (;;) {
		__atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
		if (h->should_stop(h->opaque))
			return 0;
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			int err = errno;

			if (err == EINTR || err == EAGAIN)
				continue;
			kvm_log(v->vm, ACCEL_LOG_ERROR, "kvm: vcpu %u: KVM_RUN: %s", v->index,
				strerror(err));
			h->request_stop(h->opaque, ACCEL_STOP_ERROR);
			return 0;
		}
		if (handle_exit(v) == EXIT_STOP)
			return 0;
	}
}
