/* Kick, wait-for-SIPI and parallel vCPU cases of the accel-kvm.so tests. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "test_kvm.h"

#define MS 1000000ull

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* A guest that never exits by itself must still stop on a kick. */
static void kick_case(struct t_case *c, const uint8_t *code, size_t len)
{
	struct t_host *t = t_vm(c, 1);
	struct cpu_boot_state st;
	struct t_run_result res;

	t_put_code(t, code, len);
	t_boot_state(t, T_LONG64, &st);
	res = t_run(t, t_vcpu(c, t, 0, &st), 200);
	T_REQUIRE(c, res.timed_out, "the guest stopped by itself: %s", t->errlog);
	T_REQUIRE(c, res.ret == 0, "run returned %d", res.ret);
	T_REQUIRE(c, res.ns < 200 * MS + 2000 * MS, "run took %llu ms after a kick at 200 ms",
		  (unsigned long long)(res.ns / MS));
	T_REQUIRE(c, t->nacc == 0, "%u unexpected exits", t->nacc);
}

void case_kick_loop(struct t_case *c)
{
	static const uint8_t code[] = { 0xeb, 0xfe }; /* jmp $ */

	kick_case(c, code, sizeof(code));
}

void case_kick_hlt(struct t_case *c)
{
	static const uint8_t code[] = { 0xfa, 0xf4, 0xeb, 0xfd }; /* cli; 1: hlt; jmp 1b */

	kick_case(c, code, sizeof(code));
}

struct kicker {
	struct t_host *t;
	struct accel_vcpu *v;
};

static void *kick_thrice(void *arg)
{
	struct kicker *k = arg;
	int i;

	for (i = 0; i < 3; i++) {
		sleep_ms(50);
		k->t->ops->vcpu->kick(k->v);
	}
	return NULL;
}

/* A kick without a stop request leaves the vCPU running. */
void case_kick_no_stop(struct t_case *c)
{
	static const uint8_t code[] = { 0xeb, 0xfe };
	struct t_host *t = t_vm(c, 1);
	struct cpu_boot_state st;
	struct t_run_result res;
	struct kicker k = { .t = t };
	pthread_t th;

	t_put_code(t, code, sizeof(code));
	t_boot_state(t, T_LONG64, &st);
	k.v = t_vcpu(c, t, 0, &st);
	pthread_create(&th, NULL, kick_thrice, &k);
	res = t_run(t, k.v, 400);
	pthread_join(th, NULL);
	T_REQUIRE(c, res.timed_out && res.ns >= 390 * MS, "run returned after %llu ms",
		  (unsigned long long)(res.ns / MS));
	T_REQUIRE(c, res.ret == 0, "run returned %d", res.ret);
}

/* A kick before run() only costs one empty KVM_RUN; the guest completes. */
void case_kick_before_run(struct t_case *c)
{
	struct t_host *t = t_vm(c, 1);
	struct t_asm a = { .mode = T_LONG64 };
	struct cpu_boot_state st;
	struct accel_vcpu *v;

	a_mov_dx(&a, T_PORT_DX);
	a_mov_eax(&a, 7);
	a_out_dx(&a, 4);
	a_done(&a);
	a_hlt_loop(&a);
	t_put_code(t, a.b, a.n);
	t_boot_state(t, T_LONG64, &st);
	v = t_vcpu(c, t, 0, &st);
	c->ops->vcpu->kick(v);
	t_run_checked(c, t, v, 3000);
	T_REQUIRE(c, t->nacc == 2 && t->acc[0].data == 7, "%u exits", t->nacc);
}

/* An AP with no boot state sits in wait-for-SIPI: it runs nothing. */
void case_ap_waits_for_sipi(struct t_case *c)
{
	struct t_host *t = t_vm(c, 2);
	struct accel_vcpu *bsp = t_vcpu(c, t, 0, NULL), *ap = t_vcpu(c, t, 1, NULL);
	struct t_run_result res;

	(void)bsp;
	res = t_run(t, ap, 300);
	T_REQUIRE(c, res.timed_out && res.ret == 0, "AP run: ret %d timed out %d: %s", res.ret,
		  res.timed_out, t->errlog);
	T_REQUIRE(c, t->nacc == 0, "the AP executed: %u exits, first at 0x%llx", t->nacc,
		  (unsigned long long)t->acc[0].addr);
}

#define NPAR 4

struct par_vcpu {
	struct t_case *c;
	struct t_host *t;
	pthread_barrier_t *start;
	unsigned index;
	struct accel_vcpu *v;
	atomic_bool created;
	int ret;
};

/* Each thread creates its own vCPU (as the core does), then runs it. */
static void *par_main(void *arg)
{
	struct par_vcpu *p = arg;
	struct cpu_boot_state st;

	pthread_barrier_wait(p->start);
	p->ret = p->c->ops->vcpu->create(p->t->vm, p->index, &p->v);
	if (p->ret == 0) {
		t_boot_state(p->t, T_LONG64, &st);
		st.gpr[CPU_RAX] = 0x100 + p->index;
		p->ret = p->c->ops->vcpu->set_boot_state(p->v, &st);
	}
	atomic_store(&p->created, true);
	if (p->ret == 0)
		p->ret = p->c->ops->vcpu->run(p->v);
	return NULL;
}

static unsigned par_seen(struct t_host *t, bool *seen)
{
	struct t_access acc[NPAR * 2];
	unsigned i, n = t_find(t, true, T_PORT_DX, acc, NPAR * 2);

	for (i = 0; i < n && i < NPAR * 2; i++)
		if (acc[i].data >= 0x100 && acc[i].data < 0x100 + NPAR)
			seen[acc[i].data - 0x100] = true;
	return n;
}

void case_parallel_vcpus(struct t_case *c)
{
	static const uint8_t code[] = { 0x66, 0xba, 0x10, 0x05, 0xef, /* mov dx; out dx, eax */
					0xfa, 0xf4, 0xeb, 0xfd };    /* cli; hlt loop */
	struct t_host *t = t_vm(c, NPAR);
	struct par_vcpu p[NPAR];
	pthread_t th[NPAR];
	pthread_barrier_t start;
	bool seen[NPAR] = { false };
	unsigned i, n = 0, waited;

	t_put_code(t, code, sizeof(code));
	pthread_barrier_init(&start, NULL, NPAR);
	for (i = 0; i < NPAR; i++) {
		p[i] = (struct par_vcpu){ .c = c, .t = t, .start = &start, .index = i };
		pthread_create(&th[i], NULL, par_main, &p[i]);
	}
	for (waited = 0; waited < 3000 && n < NPAR; waited += 5) {
		sleep_ms(5);
		n = par_seen(t, seen);
	}
	for (i = 0; i < NPAR; i++)
		while (!atomic_load(&p[i].created))
			sleep_ms(1);
	atomic_store(&t->stop, ACCEL_STOP_POWEROFF + 1);
	for (i = 0; i < NPAR; i++)
		if (p[i].v)
			c->ops->vcpu->kick(p[i].v);
	for (i = 0; i < NPAR; i++) {
		pthread_join(th[i], NULL);
		T_REQUIRE(c, p[i].ret == 0, "vcpu %u: %d: %s", i, p[i].ret, t->errlog);
		T_REQUIRE(c, seen[i], "vcpu %u never ran (%u accesses)", i, n);
	}
	T_REQUIRE(c, n == NPAR, "%u accesses, want %u", n, NPAR);
}

static void sipi_bsp_code(struct t_asm *a)
{
	a_mov_mem32(a, 0xfee000f0, 0x1ff);   /* SVR: LAPIC enabled */
	a_mov_mem32(a, 0xfee00310, 1u << 24); /* ICR high: APIC 1 */
	a_mov_mem32(a, 0xfee00300, 0x4500);  /* INIT, assert */
	a_mov_mem32(a, 0xfee00300, 0x4600 | (T_AP_CODE >> 12)); /* SIPI */
	a_u8(a, 0xfa);                        /* cli */
	a_hlt_loop(a);
}

struct ap_thread {
	struct t_case *c;
	struct t_host *t;
	struct accel_vcpu *v;
	atomic_bool created;
	int ret;
};

static void *ap_main(void *arg)
{
	struct ap_thread *a = arg;

	a->ret = a->c->ops->vcpu->create(a->t->vm, 1, &a->v);
	atomic_store(&a->created, true);
	if (a->ret == 0)
		a->ret = a->c->ops->vcpu->run(a->v);
	return NULL;
}

/* The BSP starts the AP with INIT and SIPI; the AP runs real-mode code. */
void case_init_sipi(struct t_case *c)
{
	static const uint8_t ap_code[] = { 0xba, 0x10, 0x05, 0xb8, 0xa1, 0x01, 0xef, /* out */
					   0xfa, 0xf4, 0xeb, 0xfd };
	struct t_host *t = t_vm(c, 2);
	struct ap_thread ap = { .c = c, .t = t };
	struct t_asm a = { .mode = T_LONG64 };
	struct cpu_boot_state st;
	struct t_run_result res;
	struct t_access acc;
	pthread_t th;

	sipi_bsp_code(&a);
	t_put_code(t, a.b, a.n);
	memcpy(t_gpa(t, T_AP_CODE), ap_code, sizeof(ap_code));
	t_boot_state(t, T_LONG64, &st);
	pthread_create(&th, NULL, ap_main, &ap);
	while (!atomic_load(&ap.created))
		sleep_ms(1);
	/* The BSP halts after the SIPI; the watchdog ends both after 500 ms. */
	res = t_run(t, t_vcpu(c, t, 0, &st), 500);
	if (ap.v)
		c->ops->vcpu->kick(ap.v);
	pthread_join(th, NULL);
	T_REQUIRE(c, res.ret == 0 && ap.ret == 0, "bsp %d ap %d: %s", res.ret, ap.ret, t->errlog);
	T_REQUIRE(c, t_find(t, true, T_PORT_DX, &acc, 1) == 1 && acc.data == 0x1a1,
		  "the AP did not run after INIT/SIPI (%u exits)", t->nacc);
}
