/*
 * Interrupt and doorbell cases of the accel-kvm.so tests: set_irq, irqfd
 * (edge, and level with resample), MSI, ioeventfd on ports and MMIO, and
 * the PC's own timer interrupt: the 8254 on IRQ 0, through the IOAPIC and
 * through the 8259 (ExtINT on LINT0).
 *
 * The interrupt guest (64-bit) masks the 8259s, enables its LAPIC, routes
 * one IOAPIC pin to a vector, reports "ready" on T_PORT_READY, then sleeps
 * in `sti; hlt` until its handler has counted an interrupt.
 */
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>

#include "test_kvm.h"

#define T_PORT_READY 0x511
#define IOAPIC       0xfec00000u
#define LAPIC        0xfee00000u
#define VECTOR       0x33
#define GSI          20 /* IOAPIC only: no 8259 behind it */

static void a_ioapic_route(struct t_asm *a, unsigned pin, bool level)
{
	uint32_t lo = VECTOR | (level ? 1u << 15 : 0);

	a_mov_mem32(a, IOAPIC, 0x10 + 2 * pin);     /* IOREGSEL: low dword */
	a_mov_mem32(a, IOAPIC + 0x10, lo);          /* IOWIN: fixed, unmasked */
	a_mov_mem32(a, IOAPIC, 0x11 + 2 * pin);     /* high dword */
	a_mov_mem32(a, IOAPIC + 0x10, 0);           /* destination APIC 0 */
}

/* The guest sleeps until it has counted want interrupts, spinning spin
 * LOOPs with IF=0 after each (so some arrive while it runs). */
static void irq_guest(struct t_host *t, struct cpu_boot_state *st, bool route, unsigned pin,
		      bool level, uint8_t want, uint32_t spin)
{
	static const uint8_t mask_pics[] = { 0xb0, 0xff, 0xe6, 0x21, 0xe6, 0xa1 };
	const uint8_t wait[] = {
		0xfa,                                           /* 1: cli */
		0x83, 0x3c, 0x25, T_COUNTER & 0xff, T_COUNTER >> 8 & 0xff, 0, 0, want,
		/* cmp dword [T_COUNTER], want */
		0x73, 0x0b,                                     /* jae 2f */
		0xb9, spin & 0xff, spin >> 8 & 0xff, spin >> 16 & 0xff, spin >> 24,
		/* mov ecx, spin */
		0xe2, 0xfe,                                     /* loop . */
		0xfb, 0xf4,                                     /* sti; hlt */
		0xeb, 0xea,                                     /* jmp 1b */
	};                                                      /* 2: */
	struct t_asm a = { .mode = T_LONG64 };

	a_bytes(&a, mask_pics, sizeof(mask_pics));
	a_mov_mem32(&a, LAPIC + 0xf0, 0x1ff); /* SVR: enabled, spurious 0xff */
	if (route)
		a_ioapic_route(&a, pin, level);
	a_mov_dx(&a, T_PORT_READY);
	a_out_dx(&a, 1);
	a_bytes(&a, wait, sizeof(wait));
	a_done(&a);
	a_hlt_loop(&a);
	t_put_code(t, a.b, a.n);
	t_put_isr(t, T_ISR);
	t_boot_state(t, T_LONG64, st);
	t_idt_set(t, VECTOR, T_ISR);
	t_idt_set(t, 0xff, T_ISR);
	st->idt.limit = 0xfff;
}

enum fire_how { FIRE_SET_IRQ, FIRE_IRQFD, FIRE_MSI, FIRE_MSI_IRQFD, FIRE_MSI_ROUTE };

struct firer {
	struct t_host *t;
	enum fire_how how;
	unsigned gsi;
	int fd;
	int err;
};

static bool wait_ready(struct t_host *t)
{
	struct timespec ms = { 0, 1000000L };
	struct t_access acc;
	unsigned i;

	for (i = 0; i < 3000; i++) {
		if (t_find(t, true, T_PORT_READY, &acc, 1) > 0)
			return true;
		nanosleep(&ms, NULL);
	}
	return false;
}

/* Waits for the guest to be ready, then raises one interrupt. */
static void *fire_main(void *arg)
{
	struct firer *f = arg;
	const struct accel_vm_ops *vm = f->t->ops->vm;
	uint64_t one = 1;

	if (!wait_ready(f->t))
		return NULL;
	switch (f->how) {
	case FIRE_SET_IRQ:
		f->err = vm->set_irq(f->t->vm, f->gsi, 1);
		if (f->err == 0)
			f->err = vm->set_irq(f->t->vm, f->gsi, 0);
		break;
	case FIRE_IRQFD:
		if (write(f->fd, &one, sizeof(one)) != sizeof(one))
			f->err = -1;
		break;
	case FIRE_MSI:
		f->err = vm->signal_msi(f->t->vm, LAPIC, VECTOR);
		break;
	case FIRE_MSI_IRQFD:
		if (write(f->fd, &one, sizeof(one)) != sizeof(one))
			f->err = -1;
		break;
	case FIRE_MSI_ROUTE: /* the count is on fd already: adding the route delivers it */
		f->err = vm->set_msi_irqfd(f->t->vm, f->fd, LAPIC, VECTOR);
		break;
	}
	return NULL;
}

/* Runs the interrupt guest while another thread fires; counts handled. */
static void irq_case_on(struct t_case *c, struct t_host *t, enum fire_how how, int fd, bool level,
			unsigned gsi, unsigned pin)
{
	struct firer f = { .t = t, .how = how, .fd = fd, .gsi = gsi };
	struct cpu_boot_state st;
	struct accel_vcpu *v;
	pthread_t th;
	uint32_t count;

	irq_guest(t, &st, how == FIRE_SET_IRQ || how == FIRE_IRQFD, pin, level, 1, 1);
	v = t_vcpu(c, t, 0, &st);
	pthread_create(&th, NULL, fire_main, &f);
	t_run_checked(c, t, v, 3000);
	pthread_join(th, NULL);
	T_REQUIRE(c, f.err == 0, "raising the interrupt failed: %d: %s", f.err, t->errlog);
	memcpy(&count, t_gpa(t, T_COUNTER), sizeof(count));
	T_REQUIRE(c, count == 1, "%u interrupts handled, want 1", count);
}

static void irq_case(struct t_case *c, struct t_host *t, enum fire_how how, int fd, bool level)
{
	irq_case_on(c, t, how, fd, level, GSI, GSI);
}

/* ISA IRQ 0 reaches IOAPIC pin 2, as the MP table says. */
void case_isa_irq0_routing(struct t_case *c)
{
	irq_case_on(c, t_vm(c, 1), FIRE_SET_IRQ, -1, false, 0, 2);
}

void case_set_irq(struct t_case *c)
{
	irq_case(c, t_vm(c, 1), FIRE_SET_IRQ, -1, false);
}

void case_irqfd(struct t_case *c)
{
	struct t_host *t = t_vm(c, 1);
	int fd = eventfd(0, EFD_CLOEXEC);
	int r = c->ops->vm->add_irqfd(t->vm, fd, GSI, -1);

	T_REQUIRE(c, r == 0, "add_irqfd: %d", r);
	irq_case(c, t, FIRE_IRQFD, fd, false);
	r = c->ops->vm->del_irqfd(t->vm, fd, GSI);
	T_REQUIRE(c, r == 0, "del_irqfd: %d", r);
}

/* Level-triggered: the guest's EOI must signal the resample eventfd. */
void case_irqfd_resample(struct t_case *c)
{
	struct t_host *t = t_vm(c, 1);
	int fd = eventfd(0, EFD_CLOEXEC), rfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	struct pollfd pfd = { .fd = rfd, .events = POLLIN };
	int r = c->ops->vm->add_irqfd(t->vm, fd, GSI, rfd);

	T_REQUIRE(c, r == 0, "add_irqfd with resample: %d", r);
	irq_case(c, t, FIRE_IRQFD, fd, true);
	T_REQUIRE(c, poll(&pfd, 1, 1000) == 1, "the resample eventfd was not signalled");
	r = c->ops->vm->del_irqfd(t->vm, fd, GSI);
	T_REQUIRE(c, r == 0, "del_irqfd: %d", r);
}

void case_msi(struct t_case *c)
{
	irq_case(c, t_vm(c, 1), FIRE_MSI, -1, false);
}

static bool fd_counted(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, 0) == 1;
}

/* An MSI route: the eventfd delivers the message; after del it only counts. */
void case_msi_irqfd(struct t_case *c)
{
	struct t_host *t = t_vm(c, 1);
	struct timespec ms50 = { 0, 50000000L };
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	uint64_t one = 1;
	int r = c->ops->vm->set_msi_irqfd(t->vm, fd, LAPIC, VECTOR);

	T_REQUIRE(c, r == 0, "set_msi_irqfd: %d", r);
	irq_case(c, t, FIRE_MSI_IRQFD, fd, false);
	r = c->ops->vm->del_msi_irqfd(t->vm, fd);
	T_REQUIRE(c, r == 0, "del_msi_irqfd: %d", r);
	r = c->ops->vm->del_msi_irqfd(t->vm, fd);
	T_REQUIRE(c, r == -ENOENT, "del_msi_irqfd twice: %d", r);
	T_REQUIRE(c, write(fd, &one, sizeof(one)) == sizeof(one), "eventfd write");
	nanosleep(&ms50, NULL);
	T_REQUIRE(c, fd_counted(fd), "a deleted route consumed the signal");
	close(fd);
}

/* The guest's count of interrupts, read while it runs. */
static uint32_t guest_count(struct t_host *t)
{
	return atomic_load_explicit((_Atomic uint32_t *)t_gpa(t, T_COUNTER), memory_order_acquire);
}

#define MANY 100

struct many_firer {
	struct t_host *t;
	int fd;
	unsigned sent;
};

/* One signal at a time, each after the guest counted the last, at varied
 * delays: some reach a halted vCPU, some a running one. */
static void *fire_many(void *arg)
{
	struct many_firer *f = arg;
	struct timespec us = { 0, 1000L };
	uint64_t one = 1;

	if (!wait_ready(f->t))
		return NULL;
	for (unsigned i = 0; i < MANY; i++) {
		struct timespec gap = { 0, (long)(i % 7) * 30000L };

		for (unsigned w = 0; guest_count(f->t) < i && w < 2000000; w++)
			nanosleep(&us, NULL);
		nanosleep(&gap, NULL);
		if (write(f->fd, &one, sizeof(one)) != sizeof(one))
			return NULL;
		f->sent++;
	}
	return NULL;
}

/* Every signal of an MSI route becomes one interrupt: none is lost to the
 * race between a halted vCPU and whatever serves a running one. */
void case_msi_irqfd_many(struct t_case *c)
{
	struct t_host *t = t_vm(c, 1);
	int fd = eventfd(0, EFD_CLOEXEC); /* blocking: the module must not block on it */
	struct many_firer f = { .t = t, .fd = fd };
	struct cpu_boot_state st;
	pthread_t th;
	int r = c->ops->vm->set_msi_irqfd(t->vm, fd, LAPIC, VECTOR);

	T_REQUIRE(c, r == 0, "set_msi_irqfd: %d", r);
	irq_guest(t, &st, false, 0, false, MANY, 20000);
	pthread_create(&th, NULL, fire_many, &f);
	t_run_checked(c, t, t_vcpu(c, t, 0, &st), 20000);
	pthread_join(th, NULL);
	T_REQUIRE(c, f.sent == MANY && guest_count(t) == MANY, "%u signals sent, %u interrupts",
		  f.sent, guest_count(t));
	T_REQUIRE(c, c->ops->vm->del_msi_irqfd(t->vm, fd) == 0, "del_msi_irqfd");
	close(fd);
}

/* A changed message takes effect. */
void case_msi_irqfd_update(struct t_case *c)
{
	struct t_host *t = t_vm(c, 1);
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	int r;

	/* To APIC ID 1, which does not exist; then to APIC 0. */
	r = c->ops->vm->set_msi_irqfd(t->vm, fd, LAPIC | 1u << 12, VECTOR);
	T_REQUIRE(c, r == 0, "set_msi_irqfd: %d", r);
	r = c->ops->vm->set_msi_irqfd(t->vm, fd, LAPIC, VECTOR);
	T_REQUIRE(c, r == 0, "set_msi_irqfd again: %d", r);
	r = c->ops->vm->add_irqfd(t->vm, fd, GSI, -1);
	T_REQUIRE(c, r != 0, "one fd, a GSI irqfd and an MSI route at once");
	irq_case(c, t, FIRE_MSI_IRQFD, fd, false);
	T_REQUIRE(c, c->ops->vm->del_msi_irqfd(t->vm, fd) == 0, "del_msi_irqfd");
	close(fd);
}

/* A count pending on the eventfd when the route is added is delivered. */
void case_msi_irqfd_pending(struct t_case *c)
{
	struct t_host *t = t_vm(c, 1);
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	uint64_t one = 1;

	T_REQUIRE(c, write(fd, &one, sizeof(one)) == sizeof(one), "eventfd write");
	irq_case(c, t, FIRE_MSI_ROUTE, fd, false);
	T_REQUIRE(c, c->ops->vm->del_msi_irqfd(t->vm, fd) == 0, "del_msi_irqfd");
	close(fd);
}

static uint64_t eventfd_count(int fd)
{
	uint64_t v = 0;

	if (read(fd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

/* out 0x520 twice: 0x1234 matches the ioeventfd, 0x5678 goes to the host. */
void case_ioeventfd_pio(struct t_case *c)
{
	struct t_host *t = t_vm(c, 1);
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	struct accel_ioeventfd ev = { .addr = 0x520, .len = 2, .pio = true,
				      .has_datamatch = true, .datamatch = 0x1234, .fd = fd };
	struct t_asm a = { .mode = T_LONG64 };
	struct cpu_boot_state st;
	struct t_access acc[4];
	unsigned n;
	int r = c->ops->vm->add_ioeventfd(t->vm, &ev);

	T_REQUIRE(c, r == 0, "add_ioeventfd: %d", r);
	a_mov_dx(&a, 0x520);
	a_mov_eax(&a, 0x1234);
	a_out_dx(&a, 2);
	a_mov_eax(&a, 0x5678);
	a_out_dx(&a, 2);
	a_done(&a);
	a_hlt_loop(&a);
	t_put_code(t, a.b, a.n);
	t_boot_state(t, T_LONG64, &st);
	t_run_checked(c, t, t_vcpu(c, t, 0, &st), 3000);
	n = t_find(t, true, 0x520, acc, 4);
	T_REQUIRE(c, n == 1 && acc[0].data == 0x5678, "%u writes reached the host", n);
	T_REQUIRE(c, eventfd_count(fd) == 1, "the ioeventfd did not fire once");
	T_REQUIRE(c, c->ops->vm->del_ioeventfd(t->vm, &ev) == 0, "del_ioeventfd failed");
	T_REQUIRE(c, c->ops->vm->del_ioeventfd(t->vm, &ev) < 0, "second del_ioeventfd worked");
}

/* MMIO doorbell: a 4-byte write of 0xabcd fires, a write of 1 does not. */
void case_ioeventfd_mmio(struct t_case *c)
{
	static const uint8_t code[] = {
		0x48, 0xbe, 0x00, 0x80, 0x09, 0, 0, 0, 0, 0,     /* mov rsi, T_MMIO_TEST */
		0xc7, 0x06, 0xcd, 0xab, 0x00, 0x00,              /* mov dword [rsi], 0xabcd */
		0xc7, 0x06, 0x01, 0x00, 0x00, 0x00,              /* mov dword [rsi], 1 */
	};
	struct t_host *t = t_vm(c, 1);
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	struct accel_ioeventfd ev = { .addr = T_MMIO_TEST, .len = 4, .has_datamatch = true,
				      .datamatch = 0xabcd, .fd = fd };
	struct t_asm a = { .mode = T_LONG64 };
	struct cpu_boot_state st;
	struct t_access acc[4];
	unsigned n;
	int r = c->ops->vm->add_ioeventfd(t->vm, &ev);

	T_REQUIRE(c, r == 0, "add_ioeventfd: %d", r);
	a_bytes(&a, code, sizeof(code));
	a_done(&a);
	a_hlt_loop(&a);
	t_put_code(t, a.b, a.n);
	t_boot_state(t, T_LONG64, &st);
	t_run_checked(c, t, t_vcpu(c, t, 0, &st), 3000);
	n = t_find(t, false, T_MMIO_TEST, acc, 4);
	T_REQUIRE(c, n == 1 && acc[0].data == 1, "%u writes reached the host", n);
	T_REQUIRE(c, eventfd_count(fd) == 1, "the ioeventfd did not fire once");
	T_REQUIRE(c, c->ops->vm->del_ioeventfd(t->vm, &ev) == 0, "del_ioeventfd failed");
}

/* ---- the PIT on IRQ 0 ---------------------------------------------------- */

#define PIT_PERIOD 1193 /* ~1 ms */
#define PIC_BASE 0x30
#define PIT_TICKS 3

static void a_outb(struct t_asm *a, uint8_t port, uint8_t v)
{
	const uint8_t code[] = { 0xb0, v, 0xe6, port }; /* mov al, v; out port, al */

	a_bytes(a, code, sizeof(code));
}

/* Linux's init_8259A with auto-EOI (no 8259 EOI in the handler), vectors
 * PIC_BASE.., everything masked but IRQ 0 (and the cascade) if unmask0. */
static void a_init_8259(struct t_asm *a, bool unmask0)
{
	static const uint8_t seq[][2] = {
		{ 0x21, 0xff }, { 0x20, 0x11 }, { 0x21, PIC_BASE }, { 0x21, 0x04 }, { 0x21, 0x03 },
		{ 0xa0, 0x11 }, { 0xa1, PIC_BASE + 8 }, { 0xa1, 0x02 }, { 0xa1, 0x01 },
		{ 0xa1, 0xff },
	};

	for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++)
		a_outb(a, seq[i][0], seq[i][1]);
	a_outb(a, 0x21, unmask0 ? 0xfa : 0xff);
}

/* Programs the PIT (mode 2, PIT_PERIOD), waits for PIT_TICKS interrupts
 * with `sti; hlt`, stops the PIT (mode 0, no count) and ends. */
static void pit_guest(struct t_host *t, struct cpu_boot_state *st, bool via_pic)
{
	static const uint8_t wait[] = {
		0xfa,                                           /* 1: cli */
		0x83, 0x3c, 0x25, T_COUNTER & 0xff, T_COUNTER >> 8 & 0xff, 0, 0, PIT_TICKS,
		/* cmp dword [T_COUNTER], PIT_TICKS */
		0x73, 0x04,                                     /* jae 2f */
		0xfb, 0xf4,                                     /* sti; hlt */
		0xeb, 0xf1,                                     /* jmp 1b */
	};                                                      /* 2: */
	struct t_asm a = { .mode = T_LONG64 };

	a_init_8259(&a, via_pic);
	a_mov_mem32(&a, LAPIC + 0xf0, 0x1ff);                 /* SVR: enabled */
	a_mov_mem32(&a, LAPIC + 0x350, via_pic ? 0x700 : 0x10700); /* LVT0: ExtINT */
	if (!via_pic)
		a_ioapic_route(&a, 2, false);                 /* IRQ 0 is on pin 2 */
	a_outb(&a, 0x43, 0x34);
	a_outb(&a, 0x40, PIT_PERIOD & 0xff);
	a_outb(&a, 0x40, PIT_PERIOD >> 8);
	a_bytes(&a, wait, sizeof(wait));
	a_outb(&a, 0x43, 0x30);
	a_done(&a);
	a_hlt_loop(&a);
	t_put_code(t, a.b, a.n);
	t_put_isr(t, T_ISR);
	t_boot_state(t, T_LONG64, st);
	t_idt_set(t, via_pic ? PIC_BASE : VECTOR, T_ISR);
	st->idt.limit = 0xfff;
}

static void pit_case(struct t_case *c, bool via_pic)
{
	struct t_host *t = t_vm(c, 1);
	struct cpu_boot_state st;
	uint32_t count;

	pit_guest(t, &st, via_pic);
	t_run_checked(c, t, t_vcpu(c, t, 0, &st), 3000);
	memcpy(&count, t_gpa(t, T_COUNTER), sizeof(count));
	T_REQUIRE(c, count == PIT_TICKS, "%u timer interrupts handled, want %u", count, PIT_TICKS);
	T_REQUIRE(c, t_find(t, true, 0x43, NULL, 0) == 0 && t_find(t, true, 0x20, NULL, 0) == 0,
		  "the PIT or 8259 ports reached the VMM core");
}

/* As Linux's check_timer: the 8259 masked, IRQ 0 through IOAPIC pin 2. */
void case_pit_ioapic(struct t_case *c)
{
	pit_case(c, false);
}

/* Before the IOAPIC is set up: IRQ 0 through the 8259 and LINT0 (ExtINT). */
void case_pit_pic(struct t_case *c)
{
	pit_case(c, true);
}
