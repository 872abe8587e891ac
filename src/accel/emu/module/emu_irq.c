/*
 * Interrupt lines, MSIs, irqfds and ioeventfds of accel-emu.so.
 *
 * Lines: accel-kvm's PC routing. ISA IRQ n (GSI 0-15) drives 8259 input n
 * and IOAPIC pin n, except IRQ 0 (the PIT), which reaches IOAPIC pin 2 as
 * the MP table says; GSI 2 (the cascade) goes nowhere; GSI 16-23 only
 * reach the IOAPIC. As in KVM, a GSI's level is the OR of its sources
 * (set_irq and each level irqfd), so PCI devices can share a line: one
 * source letting go does not lower it under another.
 *
 * irqfd: one VM thread waits (epoll) on every registered eventfd. An edge
 * irqfd pulses its GSI; a level one (with a resample fd) asserts it, and the
 * guest's EOI of that pin (the IOAPIC's EOI hook) deasserts it and signals
 * the resample fd, so the device re-raises it if it still needs service;
 * an 8259 EOI of its ISA IRQ does the same. An MSI route sends its message
 * to the APIC bus instead. A slot's epoll tag carries a generation, so an
 * event returned for a slot deleted (and perhaps reused) since is dropped
 * without reading the fd: its count stays for whoever owns it now.
 *
 * ioeventfd: a table matched on every guest port/MMIO write before the
 * core's dispatch; a match signals the eventfd and the device never sees
 * the write. An empty table costs one atomic load.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "accel/emu/module/emu_mod.h"

#define STOP_TAG UINT64_MAX
#define WAKE_TAG (UINT64_MAX - 1) /* a halted vCPU's own eventfd */

/* Drives both controllers a GSI reaches (pin: its IOAPIC pin or -1). */
static void drive_gsi(struct accel_vm *vm, unsigned gsi, int pin, int level)
{
	if (gsi < PIC_IRQS)
		pic_set_irq(&vm->pic, gsi, level);
	if (pin >= 0)
		ioapic_set_irq(&vm->ioapic, (unsigned)pin, level);
}

/* Drives gsi to the OR of its sources (irq_lock held). */
static void line_update(struct accel_vm *vm, unsigned gsi)
{
	int level = (vm->vmm_levels >> gsi) & 1;

	for (unsigned k = 0; k < EMU_MAX_IRQFD && !level; k++) {
		const struct emu_irqfd *f = &vm->irqfd[k];

		level = f->fd >= 0 && !f->msi && f->gsi == gsi && f->asserted;
	}
	drive_gsi(vm, gsi, ioapic_gsi_to_pin(gsi), level);
}

int emu_set_irq(struct accel_vm *vm, unsigned gsi, int level)
{
	if (gsi >= IOAPIC_PINS)
		return -EINVAL;
	pthread_mutex_lock(&vm->irq_lock);
	if (level)
		vm->vmm_levels |= 1u << gsi;
	else
		vm->vmm_levels &= ~(1u << gsi);
	line_update(vm, gsi);
	pthread_mutex_unlock(&vm->irq_lock);
	return 0;
}

int emu_signal_msi(struct accel_vm *vm, uint64_t addr, uint32_t data)
{
	int r = apic_bus_msi(&vm->bus, addr, data);

	return r < 0 ? r : 0;
}

static void eventfd_signal(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return; /* a closed fd: the device went away */
}

/* An irqfd fired (irq_lock held). */
static void irqfd_fire(struct accel_vm *vm, struct emu_irqfd *f)
{
	uint64_t cnt;

	if (read(f->fd, &cnt, sizeof(cnt)) != sizeof(cnt))
		return;
	if (f->msi) {
		apic_bus_msi(&vm->bus, f->msi_addr, f->msi_data);
		return;
	}
	if (f->resample_fd >= 0) {
		f->asserted = true;
		line_update(vm, f->gsi);
		return;
	}
	drive_gsi(vm, f->gsi, f->pin, 1); /* an edge irqfd pulses */
	line_update(vm, f->gsi);
}

/* Fires the irqfds behind epoll events; false at the stop event. */
static bool fire_events(struct accel_vm *vm, const struct epoll_event *evs, int n)
{
	bool go_on = true;

	pthread_mutex_lock(&vm->irq_lock);
	for (int k = 0; k < n; k++) {
		uint64_t tag = evs[k].data.u64;
		struct emu_irqfd *f = &vm->irqfd[(uint32_t)tag % EMU_MAX_IRQFD];

		if (tag == STOP_TAG || tag == WAKE_TAG) {
			go_on = tag != STOP_TAG;
			continue;
		}
		/* The slot may have been deleted (and reused) since. */
		if (f->fd >= 0 && f->gen == (uint32_t)(tag >> 32))
			irqfd_fire(vm, f);
	}
	pthread_mutex_unlock(&vm->irq_lock);
	return go_on;
}

static void *irq_thread_main(void *arg)
{
	struct accel_vm *vm = arg;
	struct epoll_event evs[16];

	for (;;) {
		int n = epoll_wait(vm->epfd, evs, 16, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || !fire_events(vm, evs, n))
			return NULL;
	}
}

/* epoll_pwait2's relative timeout for an absolute CLOCK_MONOTONIC deadline. */
static int halt_epoll(int epfd, struct epoll_event *evs, int max, uint64_t deadline_ns)
{
	struct timespec rel;
	uint64_t now_ns, left;
	int n;

	if (deadline_ns == UINT64_MAX)
		return epoll_wait(epfd, evs, max, -1);
	now_ns = emu_host_ns();
	left = deadline_ns > now_ns ? deadline_ns - now_ns : 0;
	rel = (struct timespec){ .tv_sec = (time_t)(left / EMU_NSEC_PER_SEC),
				 .tv_nsec = (long)(left % EMU_NSEC_PER_SEC) };
	n = epoll_pwait2(epfd, evs, max, &rel, NULL);
	if (n < 0 && errno == ENOSYS) { /* before Linux 5.11: whole milliseconds, rounded up */
		uint64_t ms = (left + 999999u) / 1000000u;

		n = epoll_wait(epfd, evs, max, ms > INT_MAX ? INT_MAX : (int)ms);
	}
	return n;
}

/*
 * Halt polling, as KVM's halt_poll_ns: a HLT first looks for its events
 * without sleeping for up to halt_poll_ns, which spares the wake-up (tens
 * of microseconds across CPUs on some hosts) when an I/O completes soon.
 * The window doubles while halts end after it but within HALT_POLL_MAX_NS
 * and halves when one lasts longer, so an idle guest soon stops polling.
 */
#define HALT_POLL_MIN_NS 10000u
#define HALT_POLL_MAX_NS 200000u

static int halt_poll(struct accel_vcpu *v, struct epoll_event *evs, int max,
		     uint64_t start, uint64_t deadline_ns)
{
	uint64_t until = start + v->halt_poll_ns;
	int n = 0;

	if (until > deadline_ns)
		until = deadline_ns;
	while (!n && emu_host_ns() < until)
		n = epoll_wait(v->halt_epfd, evs, max, 0);
	return n;
}

static void halt_poll_adapt(struct accel_vcpu *v, uint64_t waited)
{
	if (waited > HALT_POLL_MAX_NS)
		v->halt_poll_ns /= 2;
	else if (waited > v->halt_poll_ns)
		v->halt_poll_ns = v->halt_poll_ns ? v->halt_poll_ns * 2 : HALT_POLL_MIN_NS;
	if (v->halt_poll_ns > HALT_POLL_MAX_NS)
		v->halt_poll_ns = HALT_POLL_MAX_NS;
	if (v->halt_poll_ns < HALT_POLL_MIN_NS / 2)
		v->halt_poll_ns = 0;
}

void emu_irq_halt(struct accel_vcpu *v, bool intr_enabled, uint64_t deadline_ns)
{
	struct epoll_event evs[16];
	uint64_t cnt;
	int n = 0;

	if (lapic_halt_arm(v->lapic, intr_enabled, v->halt_wake_fd)) {
		uint64_t start = emu_host_ns();

		n = halt_poll(v, evs, 16, start, deadline_ns);
		if (!n)
			n = halt_epoll(v->halt_epfd, evs, 16, deadline_ns);
		halt_poll_adapt(v, emu_host_ns() - start);
	}
	lapic_halt_disarm(v->lapic);
	for (int k = 0; k < n; k++)
		if (evs[k].data.u64 == WAKE_TAG && read(v->halt_wake_fd, &cnt, sizeof(cnt)) < 0)
			break; /* EAGAIN: nothing to take */
	/* After disarming: what they post does not signal our own wake fd. */
	if (n > 0)
		fire_events(v->vm, evs, n);
}

/* The guest ended gsi's interrupt: level irqfds on it deassert and ask
 * their device (resample fd) whether it still needs service. */
static void resample_gsi(struct accel_vm *vm, unsigned gsi)
{
	pthread_mutex_lock(&vm->irq_lock);
	for (unsigned k = 0; k < EMU_MAX_IRQFD; k++) {
		struct emu_irqfd *f = &vm->irqfd[k];

		if (f->fd < 0 || f->msi || f->resample_fd < 0 || f->gsi != gsi)
			continue;
		f->asserted = false;
		line_update(vm, gsi);
		eventfd_signal(f->resample_fd);
	}
	pthread_mutex_unlock(&vm->irq_lock);
}

/* IOAPIC EOI hook (a vCPU thread, no IOAPIC lock held). */
static void irqfd_resample(void *opaque, unsigned pin)
{
	struct accel_vm *vm = opaque;

	for (unsigned gsi = 0; gsi < IOAPIC_PINS; gsi++)
		if (ioapic_gsi_to_pin(gsi) == (int)pin)
			resample_gsi(vm, gsi);
}

void emu_irq_pic_eoi(void *opaque, unsigned irq)
{
	resample_gsi(opaque, irq);
}

/* Each vCPU's HLT epoll set: its wake eventfd, later the irqfds. */
static int halt_sets_init(struct accel_vm *vm)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = WAKE_TAG };

	for (unsigned i = 0; i < vm->ncpus; i++)
		vm->vcpu[i].halt_epfd = vm->vcpu[i].halt_wake_fd = -1;
	for (unsigned i = 0; i < vm->ncpus; i++) {
		struct accel_vcpu *v = &vm->vcpu[i];

		v->halt_epfd = epoll_create1(EPOLL_CLOEXEC);
		v->halt_wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (v->halt_epfd < 0 || v->halt_wake_fd < 0 ||
		    epoll_ctl(v->halt_epfd, EPOLL_CTL_ADD, v->halt_wake_fd, &ev) < 0)
			return -errno;
	}
	return 0;
}

static void halt_sets_fini(struct accel_vm *vm)
{
	for (unsigned i = 0; i < vm->ncpus; i++) {
		struct accel_vcpu *v = &vm->vcpu[i];

		if (v->halt_wake_fd >= 0)
			close(v->halt_wake_fd);
		if (v->halt_epfd >= 0)
			close(v->halt_epfd);
		v->halt_epfd = v->halt_wake_fd = -1;
	}
}

int emu_irq_init(struct accel_vm *vm)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = STOP_TAG };
	int err;

	pthread_mutex_init(&vm->irq_lock, NULL);
	pthread_mutex_init(&vm->ioev_lock, NULL);
	for (unsigned k = 0; k < EMU_MAX_IRQFD; k++)
		vm->irqfd[k] = (struct emu_irqfd){ .fd = -1, .resample_fd = -1, .pin = -1 };
	ioapic_set_eoi_hook(&vm->ioapic, irqfd_resample, vm);
	vm->epfd = vm->stop_fd = -1;
	err = halt_sets_init(vm);
	if (err)
		goto fail;
	vm->epfd = epoll_create1(EPOLL_CLOEXEC);
	vm->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->epfd < 0 || vm->stop_fd < 0 ||
	    epoll_ctl(vm->epfd, EPOLL_CTL_ADD, vm->stop_fd, &ev) < 0) {
		err = -errno;
		goto fail;
	}
	err = -pthread_create(&vm->irq_thread, NULL, irq_thread_main, vm);
	if (err)
		goto fail;
	vm->irq_thread_started = true;
	return 0;
fail:
	emu_irq_fini(vm);
	return err;
}

void emu_irq_fini(struct accel_vm *vm)
{
	if (vm->irq_thread_started) {
		eventfd_signal(vm->stop_fd);
		pthread_join(vm->irq_thread, NULL);
		vm->irq_thread_started = false;
	}
	if (vm->stop_fd >= 0)
		close(vm->stop_fd);
	if (vm->epfd >= 0)
		close(vm->epfd);
	vm->stop_fd = vm->epfd = -1;
	halt_sets_fini(vm);
	pthread_mutex_destroy(&vm->ioev_lock);
	pthread_mutex_destroy(&vm->irq_lock);
}

static struct emu_irqfd *irqfd_find(struct accel_vm *vm, int fd)
{
	for (unsigned k = 0; k < EMU_MAX_IRQFD; k++)
		if (vm->irqfd[k].fd == fd)
			return &vm->irqfd[k];
	return NULL;
}

/* Stops watching fd (ENOENT from an epoll set it never joined is fine). */
static void irqfd_unwatch(struct accel_vm *vm, int fd)
{
	for (unsigned i = 0; i < vm->ncpus; i++)
		epoll_ctl(vm->vcpu[i].halt_epfd, EPOLL_CTL_DEL, fd, NULL);
	epoll_ctl(vm->epfd, EPOLL_CTL_DEL, fd, NULL);
}

/*
 * Watches fd from every vCPU's HLT epoll set, then from the irq thread's,
 * all exclusive: the eventfd wakes the first of them that sleeps in
 * epoll_wait, so a halted vCPU takes its own interrupt with no thread hop
 * (as KVM injects in the kernel) and the irq thread serves running vCPUs.
 * Reads must not block: two sets can report one count.
 */
static int irqfd_watch(struct accel_vm *vm, int fd, uint64_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE, .data.u64 = tag };
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0))
		return -errno;
	for (unsigned i = 0; i < vm->ncpus; i++)
		if (epoll_ctl(vm->vcpu[i].halt_epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
			goto fail;
	if (epoll_ctl(vm->epfd, EPOLL_CTL_ADD, fd, &ev) == 0)
		return 0;
fail:
	fl = -errno;
	irqfd_unwatch(vm, fd);
	return fl;
}

/* Takes a free slot for fd and starts watching it (irq_lock held). */
static int irqfd_insert(struct accel_vm *vm, const struct emu_irqfd *tmpl)
{
	struct emu_irqfd *f = irqfd_find(vm, -1);
	uint64_t tag;
	int err;

	if (irqfd_find(vm, tmpl->fd))
		return -EBUSY;
	if (!f)
		return -ENOSPC;
	tag = (uint64_t)f->gen << 32 | (uint64_t)(f - vm->irqfd);
	err = irqfd_watch(vm, tmpl->fd, tag);
	if (err)
		return err;
	*f = *tmpl;
	f->gen = (uint32_t)(tag >> 32);
	return 0;
}

static void irqfd_remove(struct accel_vm *vm, struct emu_irqfd *f)
{
	irqfd_unwatch(vm, f->fd);
	*f = (struct emu_irqfd){ .fd = -1, .resample_fd = -1, .pin = -1, .gen = f->gen + 1 };
}

int emu_add_irqfd(struct accel_vm *vm, int fd, unsigned gsi, int resample_fd)
{
	struct emu_irqfd f = { .fd = fd, .resample_fd = resample_fd, .gsi = gsi,
			       .pin = ioapic_gsi_to_pin(gsi) };
	int err;

	if (fd < 0 || gsi >= IOAPIC_PINS)
		return -EINVAL;
	pthread_mutex_lock(&vm->irq_lock);
	err = irqfd_insert(vm, &f);
	pthread_mutex_unlock(&vm->irq_lock);
	return err;
}

int emu_del_irqfd(struct accel_vm *vm, int fd, unsigned gsi)
{
	struct emu_irqfd *f;
	int err = -ENOENT;

	if (fd < 0)
		return -EINVAL;
	pthread_mutex_lock(&vm->irq_lock);
	f = irqfd_find(vm, fd);
	if (f && !f->msi && f->gsi == gsi) {
		irqfd_remove(vm, f);
		line_update(vm, gsi);
		err = 0;
	}
	pthread_mutex_unlock(&vm->irq_lock);
	return err;
}

int emu_set_msi_irqfd(struct accel_vm *vm, int fd, uint64_t addr, uint32_t data)
{
	struct emu_irqfd tmpl = { .fd = fd, .resample_fd = -1, .pin = -1, .msi = true,
				  .msi_addr = addr, .msi_data = data };
	struct emu_irqfd *f;
	int err = 0;

	if (fd < 0)
		return -EINVAL;
	pthread_mutex_lock(&vm->irq_lock);
	f = irqfd_find(vm, fd);
	if (f && !f->msi)
		err = -EBUSY;
	else if (f) {
		f->msi_addr = addr; /* the irq thread reads these under irq_lock */
		f->msi_data = data;
	} else
		err = irqfd_insert(vm, &tmpl);
	pthread_mutex_unlock(&vm->irq_lock);
	return err;
}

int emu_del_msi_irqfd(struct accel_vm *vm, int fd)
{
	struct emu_irqfd *f;
	int err = -ENOENT;

	if (fd < 0)
		return -EINVAL;
	pthread_mutex_lock(&vm->irq_lock);
	f = irqfd_find(vm, fd);
	if (f && f->msi) {
		irqfd_remove(vm, f);
		err = 0;
	}
	pthread_mutex_unlock(&vm->irq_lock);
	return err;
}

static bool ioev_same(const struct accel_ioeventfd *a, const struct accel_ioeventfd *b)
{
	return a->addr == b->addr && a->len == b->len && a->pio == b->pio && a->fd == b->fd &&
	       a->has_datamatch == b->has_datamatch &&
	       (!a->has_datamatch || a->datamatch == b->datamatch);
}

int emu_add_ioeventfd(struct accel_vm *vm, const struct accel_ioeventfd *ev)
{
	unsigned n;
	int err = 0;

	if (ev->fd < 0 || (ev->pio && (ev->len == 0 || ev->addr > 0xffff)) ||
	    (ev->len != 0 && ev->len != 1 && ev->len != 2 && ev->len != 4 && ev->len != 8))
		return -EINVAL;
	pthread_mutex_lock(&vm->ioev_lock);
	n = atomic_load(&vm->nioev);
	for (unsigned k = 0; k < n; k++)
		if (ioev_same(&vm->ioev[k], ev))
			err = -EEXIST;
	if (!err && n == EMU_MAX_IOEVENTFD)
		err = -ENOSPC;
	if (!err) {
		vm->ioev[n] = *ev;
		atomic_store(&vm->nioev, n + 1);
	}
	pthread_mutex_unlock(&vm->ioev_lock);
	return err;
}

int emu_del_ioeventfd(struct accel_vm *vm, const struct accel_ioeventfd *ev)
{
	int err = -ENOENT;
	unsigned n;

	pthread_mutex_lock(&vm->ioev_lock);
	n = atomic_load(&vm->nioev);
	for (unsigned k = 0; k < n; k++) {
		if (!ioev_same(&vm->ioev[k], ev))
			continue;
		vm->ioev[k] = vm->ioev[n - 1];
		atomic_store(&vm->nioev, n - 1);
		err = 0;
		break;
	}
	pthread_mutex_unlock(&vm->ioev_lock);
	return err;
}

static bool ioev_match(const struct accel_ioeventfd *e, bool pio, uint64_t addr,
		       const void *data, unsigned size)
{
	uint64_t v = 0, mask;

	if (e->pio != pio || e->addr != addr || (e->len && e->len != size))
		return false;
	if (!e->has_datamatch)
		return true;
	memcpy(&v, data, size > 8 ? 8 : size);
	mask = size >= 8 ? ~0ull : (1ull << (size * 8)) - 1;
	return v == (e->datamatch & mask);
}

bool emu_ioeventfd_write(struct accel_vm *vm, bool pio, uint64_t addr, const void *data,
			 unsigned size)
{
	bool hit = false;
	unsigned n;

	if (!atomic_load_explicit(&vm->nioev, memory_order_relaxed))
		return false;
	pthread_mutex_lock(&vm->ioev_lock);
	n = atomic_load(&vm->nioev);
	for (unsigned k = 0; k < n && !hit; k++) {
		if (ioev_match(&vm->ioev[k], pio, addr, data, size)) {
			eventfd_signal(vm->ioev[k].fd);
			hit = true;
		}
	}
	pthread_mutex_unlock(&vm->ioev_lock);
	return hit;
}
