/*
 * The KVM VM: memory slots, in-kernel irqchip and PIT, interrupt lines, MSIs,
 * irqfds and ioeventfds.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "accel/kvm/kvm.h"

#define KVM_API_VERSION_WANTED 12

struct kvm_cap_need {
	long cap;
	const char *name;
};

static const struct kvm_cap_need required_caps[] = {
	{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
	{ KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR" },
	{ KVM_CAP_SET_IDENTITY_MAP_ADDR, "KVM_CAP_SET_IDENTITY_MAP_ADDR" },
	{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID" },
	{ KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP" },
	{ KVM_CAP_PIT2, "KVM_CAP_PIT2" },
	{ KVM_CAP_IRQFD, "KVM_CAP_IRQFD" },
	{ KVM_CAP_IRQFD_RESAMPLE, "KVM_CAP_IRQFD_RESAMPLE" },
	{ KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD" },
	{ KVM_CAP_SIGNAL_MSI, "KVM_CAP_SIGNAL_MSI" },
	{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT" },
	{ KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE" },
};

int kvm_open_dev(int *fd, char *why, size_t why_len)
{
	int r, v;

	*fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (*fd < 0) {
		r = -errno;
		snprintf(why, why_len, "cannot open /dev/kvm: %s", strerror(errno));
		return r;
	}
	v = ioctl(*fd, KVM_GET_API_VERSION, 0);
	if (v != KVM_API_VERSION_WANTED) {
		snprintf(why, why_len, "/dev/kvm has API version %d, want %d", v,
			 KVM_API_VERSION_WANTED);
		close(*fd);
		*fd = -1;
		return -ENOTSUP;
	}
	return 0;
}

int kvm_check_required_caps(int kvm_fd, char *why, size_t why_len)
{
	size_t i;

	for (i = 0; i < sizeof(required_caps) / sizeof(required_caps[0]); i++) {
		if (kvm_check_extension(kvm_fd, required_caps[i].cap) <= 0) {
			snprintf(why, why_len, "/dev/kvm lacks %s", required_caps[i].name);
			return -ENOTSUP;
		}
	}
	return 0;
}

static int vm_ioctl(struct accel_vm *vm, unsigned long req, void *arg, const char *what)
{
	int r = ioctl(vm->vm_fd, req, arg);

	if (r < 0) {
		r = -errno;
		kvm_log(vm, ACCEL_LOG_ERROR, "kvm: %s: %s", what, strerror(-r));
	}
	return r;
}

static int kvm_set_memory(struct accel_vm *vm)
{
	const struct accel_host *h = vm->host;
	int max = kvm_check_extension(vm->kvm_fd, KVM_CAP_NR_MEMSLOTS);
	unsigned i;

	if (max > 0 && h->nram > (unsigned)max) {
		kvm_log(vm, ACCEL_LOG_ERROR, "kvm: %u RAM regions, only %d memory slots",
			h->nram, max);
		return -E2BIG;
	}
	for (i = 0; i < h->nram; i++) {
		struct kvm_userspace_memory_region mr = {
			.slot = i,
			.guest_phys_addr = h->ram[i].base.raw,
			.memory_size = h->ram[i].size,
			.userspace_addr = (uintptr_t)h->ram[i].hva,
		};
		int r = vm_ioctl(vm, KVM_SET_USER_MEMORY_REGION, &mr,
				 "KVM_SET_USER_MEMORY_REGION");

		if (r < 0)
			return r;
		vm->nslots++;
	}
	return 0;
}

static void add_route(struct kvm_irq_routing *rt, unsigned gsi, unsigned chip, unsigned pin)
{
	struct kvm_irq_routing_entry *e = &rt->entries[rt->nr++];

	*e = (struct kvm_irq_routing_entry){ .gsi = gsi, .type = KVM_IRQ_ROUTING_IRQCHIP };
	e->u.irqchip.irqchip = chip;
	e->u.irqchip.pin = pin;
}

static void add_msi_route(struct kvm_irq_routing *rt, unsigned gsi, const struct kvm_msi_route *m)
{
	struct kvm_irq_routing_entry *e = &rt->entries[rt->nr++];

	*e = (struct kvm_irq_routing_entry){ .gsi = gsi, .type = KVM_IRQ_ROUTING_MSI };
	e->u.msi.address_lo = (uint32_t)m->addr;
	e->u.msi.address_hi = (uint32_t)(m->addr >> 32);
	e->u.msi.data = m->data;
}

/*
 * The PC routing the MP table describes: ISA IRQ 0 (the PIT) reaches the
 * IOAPIC on pin 2, the other ISA IRQs their own pin and the 8259s; GSI 2 is
 * the cascade. KVM's default would put IRQ 0 on IOAPIC pin 0. Then the MSI
 * routes in use (route_lock held, or before any vCPU).
 */
static int kvm_set_routing(struct accel_vm *vm)
{
	struct kvm_irq_routing *rt;
	int r;

	rt = calloc(1, sizeof(*rt) + (48 + KVM_MSI_ROUTES) * sizeof(rt->entries[0]));
	if (!rt)
		return -ENOMEM;
	for (unsigned k = 0; k < KVM_MSI_ROUTES; k++) {
		if (vm->msi[k].fd >= 0)
			add_msi_route(rt, KVM_MSI_GSI_BASE + k, &vm->msi[k]);
	}
	for (unsigned gsi = 0; gsi < 16; gsi++) {
		if (gsi != 2)
			add_route(rt, gsi, gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE,
				  gsi & 7);
	}
	for (unsigned gsi = 0; gsi < KVM_IOAPIC_NUM_PINS; gsi++) {
		if (gsi != 2)
			add_route(rt, gsi, KVM_IRQCHIP_IOAPIC, gsi == 0 ? 2 : gsi);
	}
	r = vm_ioctl(vm, KVM_SET_GSI_ROUTING, rt, "KVM_SET_GSI_ROUTING");
	free(rt);
	return r;
}

/* The x86 platform pieces that must exist before any vCPU. */
static int kvm_setup_platform(struct accel_vm *vm)
{
	uint64_t ident = KVM_IDENTITY_MAP_ADDR;
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	int r;

	r = vm_ioctl(vm, KVM_SET_IDENTITY_MAP_ADDR, &ident, "KVM_SET_IDENTITY_MAP_ADDR");
	if (r < 0)
		return r;
	r = ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)KVM_TSS_ADDR);
	if (r < 0) {
		r = -errno;
		kvm_log(vm, ACCEL_LOG_ERROR, "kvm: KVM_SET_TSS_ADDR: %s", strerror(-r));
		return r;
	}
	r = vm_ioctl(vm, KVM_CREATE_IRQCHIP, NULL, "KVM_CREATE_IRQCHIP");
	if (r < 0)
		return r;
	r = kvm_set_routing(vm);
	if (r < 0)
		return r;
	return vm_ioctl(vm, KVM_CREATE_PIT2, &pit, "KVM_CREATE_PIT2");
}

static void kvm_vm_destroy(struct accel_vm *vm)
{
	if (!vm)
		return;
	if (vm->vm_fd >= 0)
		close(vm->vm_fd); /* drops the slots, irqchip, irqfds and ioeventfds */
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	pthread_mutex_destroy(&vm->route_lock);
	free(vm->cpuid);
	free(vm);
}

static int kvm_vm_open(struct accel_vm *vm)
{
	char why[256];
	int r;

	r = kvm_open_dev(&vm->kvm_fd, why, sizeof(why));
	if (r == 0)
		r = kvm_check_required_caps(vm->kvm_fd, why, sizeof(why));
	if (r < 0) {
		kvm_log(vm, ACCEL_LOG_ERROR, "kvm: %s", why);
		return r;
	}
	vm->run_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vm->run_size < (int)sizeof(struct kvm_run)) {
		kvm_log(vm, ACCEL_LOG_ERROR, "kvm: bad KVM_GET_VCPU_MMAP_SIZE %d", vm->run_size);
		return -EINVAL;
	}
	vm->irq_line_status = kvm_check_extension(vm->kvm_fd, KVM_CAP_IRQ_INJECT_STATUS) > 0;
	vm->tsc_deadline = kvm_check_extension(vm->kvm_fd, KVM_CAP_TSC_DEADLINE_TIMER) > 0;
	do {
		vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	} while (vm->vm_fd < 0 && errno == EINTR);
	if (vm->vm_fd < 0) {
		r = -errno;
		kvm_log(vm, ACCEL_LOG_ERROR, "kvm: KVM_CREATE_VM: %s", strerror(-r));
		return r;
	}
	return 0;
}

static int kvm_vm_create(const struct accel_host *host, struct accel_vm **out)
{
	struct accel_vm *vm;
	int r;

	*out = NULL;
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return -ENOMEM;
	vm->host = host;
	vm->kvm_fd = -1;
	vm->vm_fd = -1;
	pthread_mutex_init(&vm->route_lock, NULL);
	for (unsigned k = 0; k < KVM_MSI_ROUTES; k++)
		vm->msi[k].fd = -1;
	r = kvm_vm_open(vm);
	if (r < 0)
		goto fail;
	r = kvm_setup_platform(vm);
	if (r < 0)
		goto fail;
	r = kvm_set_memory(vm);
	if (r < 0)
		goto fail;
	r = kvm_cpuid_query(vm);
	if (r < 0)
		goto fail;
	r = kvm_install_kick_handler();
	if (r < 0) {
		kvm_log(vm, ACCEL_LOG_ERROR, "kvm: kick signal handler: %s", strerror(-r));
		goto fail;
	}
	*out = vm;
	return 0;
fail:
	kvm_vm_destroy(vm);
	return r;
}

static int kvm_set_irq(struct accel_vm *vm, unsigned gsi, int level)
{
	struct kvm_irq_level irq = { .irq = gsi, .level = level ? 1 : 0 };

	if (vm->irq_line_status)
		return vm_ioctl(vm, KVM_IRQ_LINE_STATUS, &irq, "KVM_IRQ_LINE_STATUS");
	return vm_ioctl(vm, KVM_IRQ_LINE, &irq, "KVM_IRQ_LINE");
}

/* Returns 0 when delivered or blocked by the guest, -errno on failure. */
static int kvm_signal_msi(struct accel_vm *vm, uint64_t addr, uint32_t data)
{
	struct kvm_msi msi = {
		.address_lo = (uint32_t)addr,
		.address_hi = (uint32_t)(addr >> 32),
		.data = data,
	};
	int r = vm_ioctl(vm, KVM_SIGNAL_MSI, &msi, "KVM_SIGNAL_MSI");

	return r < 0 ? r : 0;
}

static int kvm_add_irqfd(struct accel_vm *vm, int fd, unsigned gsi, int resample_fd)
{
	struct kvm_irqfd irqfd = { .fd = (uint32_t)fd, .gsi = gsi };

	if (resample_fd >= 0) {
		irqfd.flags = KVM_IRQFD_FLAG_RESAMPLE;
		irqfd.resamplefd = (uint32_t)resample_fd;
	}
	return vm_ioctl(vm, KVM_IRQFD, &irqfd, "KVM_IRQFD");
}

static int kvm_del_irqfd(struct accel_vm *vm, int fd, unsigned gsi)
{
	struct kvm_irqfd irqfd = {
		.fd = (uint32_t)fd,
		.gsi = gsi,
		.flags = KVM_IRQFD_FLAG_DEASSIGN,
	};

	return vm_ioctl(vm, KVM_IRQFD, &irqfd, "KVM_IRQFD deassign");
}

static struct kvm_msi_route *msi_route(struct accel_vm *vm, int fd)
{
	for (unsigned k = 0; k < KVM_MSI_ROUTES; k++)
		if (vm->msi[k].fd == fd)
			return &vm->msi[k];
	return NULL;
}

/* A new route first, then the irqfd on its GSI; a changed one in place. */
static int kvm_set_msi_irqfd(struct accel_vm *vm, int fd, uint64_t addr, uint32_t data)
{
	struct kvm_msi_route *m, old;
	bool added;
	int r;

	if (fd < 0)
		return -EINVAL;
	pthread_mutex_lock(&vm->route_lock);
	m = msi_route(vm, fd);
	added = !m;
	if (added)
		m = msi_route(vm, -1);
	r = -ENOSPC;
	if (!m)
		goto out;
	old = *m;
	*m = (struct kvm_msi_route){ .fd = fd, .addr = addr, .data = data };
	r = kvm_set_routing(vm);
	if (!r && added)
		r = kvm_add_irqfd(vm, fd, KVM_MSI_GSI_BASE + (unsigned)(m - vm->msi), -1);
	if (r) {
		*m = old;
		kvm_set_routing(vm);
	}
out:
	pthread_mutex_unlock(&vm->route_lock);
	return r;
}

static int kvm_del_msi_irqfd(struct accel_vm *vm, int fd)
{
	struct kvm_msi_route *m;
	int r = -ENOENT;

	if (fd < 0)
		return -EINVAL;
	pthread_mutex_lock(&vm->route_lock);
	m = msi_route(vm, fd);
	if (m) {
		/* Deassigning waits for KVM's shutdown work: no delivery after this. */
		r = kvm_del_irqfd(vm, fd, KVM_MSI_GSI_BASE + (unsigned)(m - vm->msi));
		m->fd = -1;
		kvm_set_routing(vm);
	}
	pthread_mutex_unlock(&vm->route_lock);
	return r;
}

static void fill_ioeventfd(struct kvm_ioeventfd *k, const struct accel_ioeventfd *ev)
{
	memset(k, 0, sizeof(*k));
	k->addr = ev->addr;
	k->len = ev->len;
	k->fd = ev->fd;
	if (ev->pio)
		k->flags |= KVM_IOEVENTFD_FLAG_PIO;
	if (ev->has_datamatch) {
		k->flags |= KVM_IOEVENTFD_FLAG_DATAMATCH;
		k->datamatch = ev->datamatch;
	}
}

static int kvm_add_ioeventfd(struct accel_vm *vm, const struct accel_ioeventfd *ev)
{
	struct kvm_ioeventfd k;

	fill_ioeventfd(&k, ev);
	return vm_ioctl(vm, KVM_IOEVENTFD, &k, "KVM_IOEVENTFD");
}

static int kvm_del_ioeventfd(struct accel_vm *vm, const struct accel_ioeventfd *ev)
{
	struct kvm_ioeventfd k;

	fill_ioeventfd(&k, ev);
	k.flags |= KVM_IOEVENTFD_FLAG_DEASSIGN;
	return vm_ioctl(vm, KVM_IOEVENTFD, &k, "KVM_IOEVENTFD deassign");
}

const struct accel_vm_ops kvm_vm_ops = {
	.create = kvm_vm_create,
	.destroy = kvm_vm_destroy,
	.set_irq = kvm_set_irq,
	.signal_msi = kvm_signal_msi,
	.add_irqfd = kvm_add_irqfd,
	.del_irqfd = kvm_del_irqfd,
	.add_ioeventfd = kvm_add_ioeventfd,
	.del_ioeventfd = kvm_del_ioeventfd,
	.set_msi_irqfd = kvm_set_msi_irqfd,
	.del_msi_irqfd = kvm_del_msi_irqfd,
};
