#include "core/vm.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "core/arch.h"

uint64_t vm_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int vm_create(struct vm *vm, const struct vm_config *cfg, uint64_t start_ns)
{
	struct mem_range ranges[GUEST_MEM_MAX_REGIONS];
	int n, err;

	memset(vm, 0, sizeof(*vm));
	vm->log = (struct logger){ .level = cfg->log_level, .fd = STDERR_FILENO };
	vm->cfg = cfg;
	vm->start_ns = start_ns;
	vm->ncpus = cfg->ncpus;
	vm->signal_watch.fd = -1;
	vm->loop.epfd = vm->loop.wake_fd = -1;
	vm->mem.fd = -1;
	pthread_mutex_init(&vm->gate_lock, NULL);
	pthread_cond_init(&vm->gate_cond, NULL);
	n = arch_ram_layout(cfg->mem_size, ranges, GUEST_MEM_MAX_REGIONS);
	if (n < 0)
		return n;
	err = guest_memory_init(&vm->mem, ranges, (unsigned)n);
	if (err) {
		log_error(&vm->log, "cannot allocate %llu MiB of guest RAM: %s",
			  (unsigned long long)(cfg->mem_size >> 20), strerror(-err));
		return err;
	}
	err = iobus_init(&vm->pio, "pio", &vm->log);
	if (!err)
		err = iobus_init(&vm->mmio, "mmio", &vm->log);
	if (!err)
		err = evloop_init(&vm->loop);
	if (err)
		log_error(&vm->log, "cannot set up the VM: %s", strerror(-err));
	return err;
}

static int parse_devices(struct vm *vm)
{
	for (unsigned i = 0; i < vm->cfg->ndevices; i++) {
		int err = device_parse(&vm->devices[i], vm->cfg->devices[i], &vm->log);

		if (err)
			return err;
		vm->ndevices = i + 1;
	}
	return 0;
}

int vm_load(struct vm *vm)
{
	int err = parse_devices(vm);

	if (err)
		return err;
	return arch_load_guest(vm, &vm->bsp_state);
}

static void on_signal(void *opaque, uint32_t events)
{
	struct vm *vm = opaque;
	struct signalfd_siginfo si;

	if (read(vm->signal_watch.fd, &si, sizeof(si)) != sizeof(si))
		return;
	log_info(&vm->log, "terminating on signal %u", si.ssi_signo);
	vm_request_stop(vm, VM_EXIT_QUIT);
}

/* Termination signals become loop events; threads inherit the mask. */
static int setup_signals(struct vm *vm)
{
	sigset_t set;
	int err;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	err = -pthread_sigmask(SIG_BLOCK, &set, &vm->saved_sigmask);
	if (err)
		return err;
	vm->sigmask_saved = true;
	vm->signal_watch = (struct ev_watch){ -1, on_signal, vm };
	vm->signal_watch.fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (vm->signal_watch.fd < 0)
		return -errno;
	return evloop_add(&vm->loop, &vm->signal_watch, EPOLLIN);
}

static void on_console_quit(void *opaque)
{
	vm_request_stop(opaque, VM_EXIT_QUIT);
}

static void host_pio(void *opaque, uint16_t port, void *data, unsigned size, bool is_write)
{
	struct vm *vm = opaque;

	iobus_access(&vm->pio, port, data, size, is_write);
}

static void host_mmio(void *opaque, uint64_t addr, void *data, unsigned size, bool is_write)
{
	struct vm *vm = opaque;

	iobus_access(&vm->mmio, addr, data, size, is_write);
}

static bool host_should_stop(void *opaque)
{
	return vm_stopping(opaque);
}

static void host_request_stop(void *opaque, enum accel_stop_reason why)
{
	static const enum vm_exit map[] = {
		[ACCEL_STOP_RESET] = VM_EXIT_RESET,
		[ACCEL_STOP_POWEROFF] = VM_EXIT_POWEROFF,
		[ACCEL_STOP_ERROR] = VM_EXIT_ERROR,
	};

	vm_request_stop(opaque, (unsigned)why <= ACCEL_STOP_ERROR ? map[why] : VM_EXIT_ERROR);
}

static __attribute__((format(printf, 3, 0))) void host_log(void *opaque,
							    enum accel_log_level level,
							    const char *fmt, va_list ap)
{
	struct vm *vm = opaque;

	log_vprintf(&vm->log, (enum log_level)level, fmt, ap);
}

static int setup_accel(struct vm *vm)
{
	const char *name = vm->cfg->accel;
	char why[256] = "";
	int probe, err;

	if (!strcmp(name, "auto"))
		name = accel_auto_choice();
	err = accel_load(&vm->accel, name, &vm->log);
	if (err)
		return err;
	probe = vm->accel.ops->probe(why, sizeof(why));
	if (probe < 0) {
		log_error(&vm->log, "accelerator %s cannot run on this host: %s", name, why);
		return probe;
	}
	if (probe == ACCEL_PROBE_LIMITED)
		log_warn(&vm->log, "accelerator %s is limited on this host: %s", name, why);
	vm->host = (struct accel_host){
		.opaque = vm,
		.ncpus = vm->ncpus,
		.ram = vm->mem.regions,
		.nram = vm->mem.nregions,
		.pio = host_pio,
		.mmio = host_mmio,
		.should_stop = host_should_stop,
		.request_stop = host_request_stop,
		.log = host_log,
	};
	err = vm->accel.ops->vm->create(&vm->host, &vm->accel.vm);
	if (err)
		log_error(&vm->log, "accelerator %s: cannot create the VM: %s", name, strerror(-err));
	return err;
}

static int dev_signal_msi(void *opaque, uint64_t addr, uint32_t data)
{
	return vm_signal_msi(opaque, addr, data);
}

static int dev_add_ioeventfd(void *opaque, const struct accel_ioeventfd *ev)
{
	struct vm *vm = opaque;

	return vm->accel.ops->vm->add_ioeventfd(vm->accel.vm, ev);
}

static int dev_del_ioeventfd(void *opaque, const struct accel_ioeventfd *ev)
{
	struct vm *vm = opaque;

	return vm->accel.ops->vm->del_ioeventfd(vm->accel.vm, ev);
}

static int dev_add_irqfd(void *opaque, int fd, unsigned gsi, int resample_fd)
{
	struct vm *vm = opaque;

	if (!vm->accel.vm)
		return -ENODEV;
	return vm->accel.ops->vm->add_irqfd(vm->accel.vm, fd, gsi, resample_fd);
}

static int dev_del_irqfd(void *opaque, int fd, unsigned gsi)
{
	struct vm *vm = opaque;

	if (!vm->accel.vm)
		return -ENODEV;
	return vm->accel.ops->vm->del_irqfd(vm->accel.vm, fd, gsi);
}

static int dev_set_msi_irqfd(void *opaque, int fd, uint64_t addr, uint32_t data)
{
	struct vm *vm = opaque;

	if (!vm->accel.vm)
		return -ENODEV;
	return vm->accel.ops->vm->set_msi_irqfd(vm->accel.vm, fd, addr, data);
}

static int dev_del_msi_irqfd(void *opaque, int fd)
{
	struct vm *vm = opaque;

	if (!vm->accel.vm)
		return -ENODEV;
	return vm->accel.ops->vm->del_msi_irqfd(vm->accel.vm, fd);
}

/* On the PCI host, before the platform tables that list their interrupts. */
static int create_devices(struct vm *vm)
{
	vm->dev_host = (struct dev_host){
		.log = &vm->log,
		.mem = &vm->mem,
		.loop = &vm->loop,
		.pci = arch_pci_host(vm),
		.opaque = vm,
		.signal_msi = dev_signal_msi,
		.add_ioeventfd = dev_add_ioeventfd,
		.del_ioeventfd = dev_del_ioeventfd,
		.add_irqfd = dev_add_irqfd,
		.del_irqfd = dev_del_irqfd,
		.set_msi_irqfd = dev_set_msi_irqfd,
		.del_msi_irqfd = dev_del_msi_irqfd,
	};
	for (unsigned i = 0; i < vm->ndevices; i++) {
		int err = device_create(&vm->devices[i], &vm->dev_host);

		if (err)
			return err;
	}
	return 0;
}

int vm_setup(struct vm *vm)
{
	int err;

	err = console_open(&vm->console, vm->cfg->console, vm->cfg->console_path, &vm->loop, &vm->log);
	if (err)
		return err;
	vm->console.quit = on_console_quit;
	vm->console.quit_opaque = vm;
	err = setup_signals(vm);
	if (err) {
		log_error(&vm->log, "cannot set up signal handling: %s", strerror(-err));
		return err;
	}
	err = setup_accel(vm);
	if (err)
		return err;
	err = arch_machine_init(vm);
	if (err) {
		log_error(&vm->log, "cannot set up the machine: %s", strerror(-err));
		return err;
	}
	err = create_devices(vm);
	if (!err)
		err = arch_machine_finalize(vm);
	return err;
}

void vm_request_stop(struct vm *vm, enum vm_exit why)
{
	int none = VM_EXIT_NONE;

	if (atomic_compare_exchange_strong(&vm->exit_reason, &none, (int)why))
		evloop_wake(&vm->loop);
}

bool vm_stopping(const struct vm *vm)
{
	return atomic_load(&vm->exit_reason) != VM_EXIT_NONE;
}

int vm_set_irq(struct vm *vm, unsigned gsi, int level)
{
	if (!vm->accel.vm)
		return 0;
	return vm->accel.ops->vm->set_irq(vm->accel.vm, gsi, level);
}

int vm_signal_msi(struct vm *vm, uint64_t addr, uint32_t data)
{
	if (!vm->accel.vm)
		return 0;
	return vm->accel.ops->vm->signal_msi(vm->accel.vm, addr, data);
}

/* Every vCPU exists before any runs: the boot CPU may send SIPIs at once. */
static void vcpu_gate_wait(struct vm *vm)
{
	pthread_mutex_lock(&vm->gate_lock);
	vm->vcpus_ready++;
	pthread_cond_broadcast(&vm->gate_cond);
	while (!vm->gate_open)
		pthread_cond_wait(&vm->gate_cond, &vm->gate_lock);
	pthread_mutex_unlock(&vm->gate_lock);
}

static void vcpu_gate_open(struct vm *vm, unsigned started)
{
	pthread_mutex_lock(&vm->gate_lock);
	while (vm->vcpus_ready < started)
		pthread_cond_wait(&vm->gate_cond, &vm->gate_lock);
	vm->gate_open = true;
	pthread_cond_broadcast(&vm->gate_cond);
	pthread_mutex_unlock(&vm->gate_lock);
}

static void *vcpu_main(void *arg)
{
	struct vcpu_thread *t = arg;
	struct vm *vm = t->vm;
	const struct accel_vcpu_ops *ops = vm->accel.ops->vcpu;

	t->err = ops->create(vm->accel.vm, t->index, &t->accel);
	if (!t->err && t->index == 0)
		t->err = ops->set_boot_state(t->accel, &vm->bsp_state);
	if (t->err) {
		log_error(&vm->log, "cannot create vCPU %u: %s", t->index, strerror(-t->err));
		vm_request_stop(vm, VM_EXIT_ERROR);
	}
	vcpu_gate_wait(vm);
	if (!t->err && !vm_stopping(vm)) {
		t->err = ops->run(t->accel);
		if (t->err) {
			log_error(&vm->log, "vCPU %u failed: %s", t->index, strerror(-t->err));
			vm_request_stop(vm, VM_EXIT_ERROR);
		}
	}
	return NULL;
}

static int start_vcpus(struct vm *vm)
{
	unsigned i;
	int err = 0;

	vm->vcpus = calloc(vm->ncpus, sizeof(*vm->vcpus));
	if (!vm->vcpus)
		return -ENOMEM;
	for (i = 0; i < vm->ncpus; i++) {
		struct vcpu_thread *t = &vm->vcpus[i];

		t->vm = vm;
		t->index = i;
		err = -pthread_create(&t->thread, NULL, vcpu_main, t);
		if (err) {
			log_error(&vm->log, "cannot start vCPU thread %u: %s", i, strerror(-err));
			vm_request_stop(vm, VM_EXIT_ERROR);
			break;
		}
		t->started = true;
	}
	vcpu_gate_open(vm, i);
	return err;
}

static void stop_vcpus(struct vm *vm)
{
	for (unsigned i = 0; i < vm->ncpus && vm->vcpus; i++) {
		struct vcpu_thread *t = &vm->vcpus[i];

		if (t->accel)
			vm->accel.ops->vcpu->kick(t->accel);
	}
	for (unsigned i = 0; i < vm->ncpus && vm->vcpus; i++) {
		if (vm->vcpus[i].started)
			pthread_join(vm->vcpus[i].thread, NULL);
		vm->vcpus[i].started = false;
	}
}

enum vm_exit vm_run(struct vm *vm)
{
	int err = start_vcpus(vm);

	while (!err && !vm_stopping(vm)) {
		err = evloop_run_once(&vm->loop, -1);
		err = err < 0 ? err : 0;
	}
	if (err) {
		log_error(&vm->log, "event loop failed: %s", strerror(-err));
		vm_request_stop(vm, VM_EXIT_ERROR);
	}
	stop_vcpus(vm);
	return (enum vm_exit)atomic_load(&vm->exit_reason);
}

void vm_destroy(struct vm *vm)
{
	stop_vcpus(vm);
	for (unsigned i = 0; i < vm->ncpus && vm->vcpus; i++) {
		if (vm->vcpus[i].accel)
			vm->accel.ops->vcpu->destroy(vm->vcpus[i].accel);
	}
	free(vm->vcpus);
	vm->vcpus = NULL;
	/* Devices finish their I/O (disks flush) before their bus goes away. */
	for (unsigned i = vm->ndevices; i-- > 0;)
		device_destroy(&vm->devices[i]);
	vm->ndevices = 0;
	if (vm->arch)
		arch_machine_destroy(vm);
	if (vm->accel.vm)
		vm->accel.ops->vm->destroy(vm->accel.vm);
	vm->accel.vm = NULL;
	console_close(&vm->console);
	if (vm->signal_watch.fd >= 0)
		close(vm->signal_watch.fd);
	if (vm->sigmask_saved)
		pthread_sigmask(SIG_SETMASK, &vm->saved_sigmask, NULL);
	evloop_destroy(&vm->loop);
	iobus_destroy(&vm->mmio);
	iobus_destroy(&vm->pio);
	guest_memory_destroy(&vm->mem);
	accel_unload(&vm->accel);
	pthread_cond_destroy(&vm->gate_cond);
	pthread_mutex_destroy(&vm->gate_lock);
}
