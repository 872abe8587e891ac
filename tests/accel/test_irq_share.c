/*
 * A GSI shared by two sources (set_irq and a level irqfd, as two PCI
 * devices on one INTx line): deleting the irqfd must not lower the line
 * the other source still holds. Seen by the guest: a level-triggered
 * IOAPIC pin whose interrupt is EOIed while the line is still up is
 * delivered again.
 *
 * The guest's handler counts without EOI (remote IRR stays set, so an
 * asserted line is delivered once, not in a storm); the guest EOIs when
 * the host sets T_FLAG to 1 and stops when it sets 2.
 *
 * accel-emu only: KVM keeps a GSI's sources apart itself (irq_source_id),
 * and this host's nested /dev/kvm delivers a level interrupt again
 * although it was not EOIed (12 times in half a second, seen once), which
 * this guest cannot stand.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "test_kvm.h"

#define T_PORT_READY 0x511
#define T_FLAG       T_DATA
#define IOAPIC       0xfec00000u
#define LAPIC        0xfee00000u
#define VECTOR       0x34
#define GSI          21

/* cmp dword [T_FLAG], value; jne back to the cmp */
static void a_wait_flag(struct t_asm *a, uint8_t value)
{
	const uint8_t loop[] = {
				 0x83, 0x3c, 0x25, T_FLAG & 0xff, T_FLAG >> 8 & 0xff, 0, 0, value,
				 0x75, 0xf6 };

	a_bytes(a, loop, sizeof(loop));
}

static void share_guest(struct t_host *t, struct cpu_boot_state *st)
{
	static const uint8_t mask_pics[] = { 0xb0, 0xff, 0xe6, 0x21, 0xe6, 0xa1 };
	static const uint8_t isr[] = {
		0xf0, 0xff, 0x04, 0x25, T_COUNTER & 0xff, T_COUNTER >> 8 & 0xff, 0, 0,
		/* lock inc dword [T_COUNTER] */
		0x48, 0xcf, /* iretq, no EOI */
	};
	struct t_asm a = { .mode = T_LONG64 };

	a_bytes(&a, mask_pics, sizeof(mask_pics));
	a_mov_mem32(&a, LAPIC + 0xf0, 0x1ff);                  /* SVR: enabled */
	a_mov_mem32(&a, IOAPIC, 0x10 + 2 * GSI);               /* RTE low: */
	a_mov_mem32(&a, IOAPIC + 0x10, VECTOR | 1u << 15);     /* level, unmasked */
	a_mov_mem32(&a, IOAPIC, 0x11 + 2 * GSI);
	a_mov_mem32(&a, IOAPIC + 0x10, 0);                     /* to APIC 0 */
	a_mov_dx(&a, T_PORT_READY);
	a_out_dx(&a, 1);
	a_u8(&a, 0xfb); /* sti */
	a_wait_flag(&a, 1);
	a_mov_mem32(&a, LAPIC + 0xb0, 0); /* EOI: an asserted line comes again */
	a_wait_flag(&a, 2);
	a_u8(&a, 0xfa); /* cli */
	a_done(&a);
	a_hlt_loop(&a);
	t_put_code(t, a.b, a.n);
	memcpy(t_gpa(t, T_ISR), isr, sizeof(isr));
	t_boot_state(t, T_LONG64, st);
	t_idt_set(t, VECTOR, T_ISR);
	st->idt.limit = 0xfff;
}

struct sharer {
	struct t_host *t;
	int irqfd, resample_fd;
	int err;
	const char *why;
};

static uint32_t counted(struct t_host *t)
{
	return atomic_load((_Atomic uint32_t *)t_gpa(t, T_COUNTER));
}

/* Polls the guest's counter for up to ms milliseconds. */
static bool wait_count(struct t_host *t, uint32_t want, unsigned ms)
{
	struct timespec step = { 0, 1000000L };

	for (unsigned i = 0; i < ms; i++) {
		if (counted(t) >= want)
			return true;
		nanosleep(&step, NULL);
	}
	return counted(t) >= want;
}

static bool guest_ready(struct t_host *t)
{
	struct timespec step = { 0, 1000000L };
	struct t_access acc;

	for (unsigned i = 0; i < 3000; i++) {
		if (t_find(t, true, T_PORT_READY, &acc, 1) > 0)
			return true;
		nanosleep(&step, NULL);
	}
	return false;
}

static void set_flag(struct t_host *t, uint32_t v)
{
	atomic_store((_Atomic uint32_t *)t_gpa(t, T_FLAG), v);
}

static void *share_main(void *arg)
{
	struct sharer *s = arg;
	const struct accel_vm_ops *vm = s->t->ops->vm;

	if (!guest_ready(s->t)) {
		s->why = "the guest never got ready";
		set_flag(s->t, 2);
		return NULL;
	}
	s->err = vm->set_irq(s->t->vm, GSI, 1);
	if (!s->err && !wait_count(s->t, 1, 2000))
		s->why = "the asserted line was not delivered";
	if (!s->err && !s->why)
		s->err = vm->del_irqfd(s->t->vm, s->irqfd, GSI);
	set_flag(s->t, 1);
	if (!s->err && !s->why && !wait_count(s->t, 2, 500))
		s->why = "deleting the irqfd lowered a line set_irq still holds";
	set_flag(s->t, 2);
	if (!s->err)
		s->err = vm->set_irq(s->t->vm, GSI, 0);
	return NULL;
}

void case_irq_shared_line(struct t_case *c)
{
	struct t_host *t = t_vm(c, 1);
	struct sharer s = { .t = t, .irqfd = eventfd(0, EFD_CLOEXEC),
			    .resample_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) };
	struct cpu_boot_state st;
	struct accel_vcpu *v;
	pthread_t th;
	int r = c->ops->vm->add_irqfd(t->vm, s.irqfd, GSI, s.resample_fd);

	T_REQUIRE(c, r == 0, "add_irqfd with resample: %d", r);
	share_guest(t, &st);
	v = t_vcpu(c, t, 0, &st);
	pthread_create(&th, NULL, share_main, &s);
	t_run_checked(c, t, v, 5000);
	pthread_join(th, NULL);
	close(s.irqfd);
	close(s.resample_fd);
	T_REQUIRE(c, s.err == 0, "set_irq/del_irqfd failed: %d: %s", s.err, t->errlog);
	T_REQUIRE(c, !s.why, "%s (%u interrupts)", s.why ? s.why : "", counted(t));
	T_REQUIRE(c, counted(t) == 2, "%u interrupts handled, want 2", counted(t));
}
