/*
 * kvm-platform-probe MODULE [bench]: runs every port I/O form in every CPU
 * mode, each in a fresh VM in its own process, and prints what this host's
 * /dev/kvm does with it; "bench" also times a PIO exit round trip.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "t_pio.h"

static void pio_cell(struct t_case *c)
{
	const struct t_pio_form *f = c->arg;
	struct t_host *t = calloc(1, sizeof(*t));
	char why[256];

	if (!t || t_host_init(t, c->ops, 1) < 0)
		t_exit(c, T_SKIP, "cannot create a VM: %s", t ? t->errlog : "");
	t_pio_run(t, f, why, sizeof(why));
	if (why[0])
		t_exit(c, T_FAIL, "%s", why);
}

/* Odd forms in long mode: code, then what the host must have seen. */
struct extra {
	const char *name;
	uint8_t code[32];
	size_t len;
	uint64_t rcx, rdx;
	unsigned nacc;    /* accesses to port 0x510 wanted */
	unsigned size;    /* each of this size */
	uint64_t stored;  /* rax stored to T_DATA, if nonzero */
};

static const struct extra extras[] = {
	{ "rex.w out dx,eax", { 0x48, 0xef }, 2, 0, 0x510, 1, 4, 0 },
	{ "rex.w in eax,dx + store rax", { 0x48, 0xed, 0x48, 0x89, 0x07 }, 5, 0, 0x510, 1, 4,
	  0xa1b2c3d4 },
	{ "out dx,al with rdx high bits", { 0xee }, 1, 0, 0xffffffff00000510ull, 1, 1, 0 },
	{ "rep outsb x5000 across pages", { 0xf3, 0x6e }, 2, 5000, 0x510, 5000, 1, 0 },
	{ "rep insb x5000 across pages", { 0xf3, 0x6c }, 2, 5000, 0x510, 5000, 1, 0 },
	{ "rep outsd x3000 across pages", { 0xf3, 0x6f }, 2, 3000, 0x510, 3000, 4, 0 },
	{ "std; rep outsw x100", { 0xfd, 0xf3, 0x66, 0x6f, 0xfc }, 5, 100, 0x510, 100, 2, 0 },
	{ "pic imr out/in 0x21 (in-kernel)",
	  { 0xb0, 0x5a, 0xe6, 0x21, 0x31, 0xc0, 0xe4, 0x21, 0x48, 0x89, 0x07 }, 11, 0, 0, 0, 0,
	  0x5a },
	{ "pit 0x43/0x40 latch (in-kernel)",
	  { 0xb0, 0x34, 0xe6, 0x43, 0xb0, 0x00, 0xe6, 0x40, 0xe6, 0x40, 0xb0, 0x00, 0xe6,
	    0x43, 0xe4, 0x40, 0xe4, 0x40, 0x48, 0x89, 0x07 }, 21, 0, 0, 0, 0, 0 },
};

static void extra_cell(struct t_case *c)
{
	const struct extra *x = c->arg;
	struct t_host *t = calloc(1, sizeof(*t));
	struct accel_vcpu *vcpu;
	struct cpu_boot_state st;
	struct t_run_result res;
	struct t_access acc[8];
	struct t_asm a = { .mode = T_LONG64 };
	uint64_t stored;
	unsigned n;

	if (!t || t_host_init(t, c->ops, 1) < 0)
		t_exit(c, T_SKIP, "cannot create a VM");
	t->pio_in_value = 0xa1b2c3d4;
	a_bytes(&a, x->code, x->len);
	a_done(&a);
	a_hlt_loop(&a);
	t_put_code(t, a.b, a.n);
	t_boot_state(t, T_LONG64, &st);
	st.gpr[CPU_RCX] = x->rcx;
	st.gpr[CPU_RDX] = x->rdx;
	st.gpr[CPU_RAX] = 0x1122334455667788ull;
	st.gpr[CPU_RSI] = T_RAM1_BASE + 0x800;
	if (x->code[0] == 0xfd)
		st.gpr[CPU_RSI] += 0x1000;
	st.gpr[CPU_RDI] = x->stored ? T_DATA : T_RAM1_BASE + 0x800;
	if (c->ops->vcpu->create(t->vm, 0, &vcpu) < 0 ||
	    c->ops->vcpu->set_boot_state(vcpu, &st) < 0)
		t_exit(c, T_FAIL, "vcpu setup");
	res = t_run(t, vcpu, 3000);
	if (res.timed_out || atomic_load(&t->stop))
		t_exit(c, T_FAIL, "timed out %d stop %d %s", res.timed_out,
		       atomic_load(&t->stop), t->errlog);
	n = t_find(t, true, 0x510, acc, 8);
	if (n != x->nacc || (n && acc[0].size != x->size))
		t_exit(c, T_FAIL, "%u accesses to 0x510 (size %u), want %u of size %u", n,
		       n ? acc[0].size : 0, x->nacc, x->size);
	memcpy(&stored, t_gpa(t, T_DATA), 8);
	if (x->stored && stored != x->stored)
		t_exit(c, T_FAIL, "stored 0x%llx want 0x%llx", (unsigned long long)stored,
		       (unsigned long long)x->stored);
	t_exit(c, T_PASS, "stored 0x%llx, %u exits", (unsigned long long)stored,
	       (unsigned)atomic_load(&t->exits));
}

static void run_extras(struct t_case *c)
{
	static const char *const outcome[] = { "ok", "WRONG", "skip", "HANG" };
	char msg[512];
	size_t i;

	for (i = 0; i < sizeof(extras) / sizeof(extras[0]); i++) {
		enum t_outcome o;

		c->arg = (void *)&extras[i];
		o = t_isolate(extra_cell, c, 10000, msg, sizeof(msg));
		printf("long64 %-34s %s %s\n", extras[i].name, outcome[o], msg);
		fflush(stdout);
	}
}

#define LAPIC 0xfee00000u

struct timer_arg {
	bool in;
	unsigned size, n, period;
};

static void timer_code(struct t_asm *a, const struct timer_arg *x)
{
	static const uint8_t store_next[] = { 0x89, 0x07, 0x48, 0x83, 0xc7, 0x04 };
	size_t top;

	a_mov_mem32(a, LAPIC + 0xf0, 0x1ff);      /* SVR: enable, spurious 0xff */
	a_mov_mem32(a, LAPIC + 0x3e0, 0xb);       /* divide by 1 */
	a_mov_mem32(a, LAPIC + 0x320, 0x20040);   /* periodic, vector 0x40 */
	a_mov_mem32(a, LAPIC + 0x380, x->period); /* initial count */
	a_u8(a, 0xfb);                            /* sti */
	a_mov_dx(a, T_PORT_DX);
	a_mov_ecx(a, x->n);
	a_mov_eax(a, 0);
	top = a->n;
	if (x->in) {
		a_in_dx(a, x->size);
		a_bytes(a, store_next, sizeof(store_next)); /* mov [rdi], eax; add rdi, 4 */
	} else {
		a_out_dx(a, x->size);
		a_inc_eax(a);
	}
	a_dec_ecx(a);
	a_jnz(a, top);
	a_u8(a, 0xfa);                            /* cli */
	a_done(a);
	a_hlt_loop(a);
}

static void timer_check(struct t_case *c, struct t_host *t, const struct timer_arg *x)
{
	uint32_t mask = x->size == 4 ? ~0u : (1u << (8 * x->size)) - 1, v;
	const uint32_t *got = t_gpa(t, T_RAM1_BASE);
	struct t_access *acc = malloc(sizeof(*acc) * x->n);
	unsigned i, n = t_find(t, true, T_PORT_DX, acc, x->n);

	if (n != x->n)
		t_exit(c, T_FAIL, "%u port accesses, want %u", n, x->n);
	for (i = 0; i < x->n; i++) {
		v = x->in ? got[i] : (uint32_t)acc[i].data;
		if ((v & mask) != (i & mask))
			t_exit(c, T_FAIL, "value %u is 0x%x", i, v);
	}
	free(acc);
}

static void timer_cell(struct t_case *c)
{
	const struct timer_arg *x = c->arg;
	struct t_host *t = calloc(1, sizeof(*t));
	struct accel_vcpu *vcpu;
	struct cpu_boot_state st;
	struct t_run_result res;
	struct t_asm a = { .mode = T_LONG64 };

	if (!t || t_host_init(t, c->ops, 1) < 0)
		t_exit(c, T_SKIP, "cannot create a VM");
	t->pio_in_seq = true;
	timer_code(&a, x);
	t_put_code(t, a.b, a.n);
	t_put_isr(t, T_ISR);
	t_boot_state(t, T_LONG64, &st);
	t_idt_set(t, 0x40, T_ISR);
	t_idt_set(t, 0xff, T_ISR);
	st.idt.limit = 0xfff;
	st.gpr[CPU_RDI] = T_RAM1_BASE;
	if (c->ops->vcpu->create(t->vm, 0, &vcpu) < 0 ||
	    c->ops->vcpu->set_boot_state(vcpu, &st) < 0)
		t_exit(c, T_FAIL, "vcpu setup");
	res = t_run(t, vcpu, 20000);
	if (res.timed_out || atomic_load(&t->stop))
		t_exit(c, T_FAIL, "timed out %d stop %d %s", res.timed_out,
		       atomic_load(&t->stop), t->errlog);
	timer_check(c, t, x);
	t_exit(c, T_PASS, "%u timer interrupts", *(uint32_t *)t_gpa(t, T_COUNTER));
}

static void run_timer(struct t_case *c)
{
	static const char *const outcome[] = { "ok", "WRONG", "skip", "HANG" };
	struct timer_arg x = { .n = 10000, .period = 20000 };
	char msg[512];

	for (x.in = false; ; x.in = true) {
		for (x.size = 1; x.size <= 4; x.size *= 2) {
			enum t_outcome o;

			c->arg = &x;
			o = t_isolate(timer_cell, c, 30000, msg, sizeof(msg));
			printf("long64  %u %s dx size %u under LAPIC timer: %s %s\n", x.n,
			       x.in ? "in" : "out", x.size, outcome[o], msg);
			fflush(stdout);
		}
		if (x.in)
			break;
	}
}

struct loop_arg {
	enum t_mode mode;
	unsigned size, n;
	bool bench;
};

static void loop_cell(struct t_case *c)
{
	const struct loop_arg *l = c->arg;
	struct t_host *t = calloc(1, sizeof(*t));
	char why[256];
	uint64_t ns;

	if (!t || t_host_init(t, c->ops, 1) < 0)
		t_exit(c, T_SKIP, "cannot create a VM: %s", t ? t->errlog : "");
	atomic_store(&t->count_only, l->bench);
	ns = t_pio_loop(t, l->mode, l->size, l->n, why, sizeof(why));
	if (why[0])
		t_exit(c, T_FAIL, "%s", why);
	t_exit(c, T_PASS, "%.0f ns per out", (double)ns / l->n);
}

static void run_loops(struct t_case *c, bool bench)
{
	static const char *const outcome[] = { "ok", "WRONG", "skip", "HANG" };
	struct loop_arg l = { .bench = bench, .n = bench ? 200000 : 1000 };
	char msg[512];
	enum t_outcome o;

	for (l.mode = T_REAL; l.mode <= T_LONG64; l.mode++)
		for (l.size = 1; l.size <= 4; l.size *= 2) {
			c->arg = &l;
			o = t_isolate(loop_cell, c, 60000, msg, sizeof(msg));
			printf("%-7s loop of %u out dx size %u: %s %s\n", t_mode_name(l.mode), l.n,
			       l.size, outcome[o], msg);
			fflush(stdout);
		}
}

int main(int argc, char **argv)
{
	static const char *const outcome[] = { "ok", "WRONG", "skip", "HANG" };
	struct t_case c = { 0 };
	char why[256], msg[512], name[64];
	struct t_pio_form f;

	if (argc < 2) {
		fprintf(stderr, "usage: %s accel-kvm.so\n", argv[0]);
		return 2;
	}
	c.ops = t_load_module(argv[1], why, sizeof(why));
	if (!c.ops) {
		fprintf(stderr, "%s\n", why);
		return 1;
	}
	printf("probe: %d (%s)\n", c.ops->probe(why, sizeof(why)), why);
	memset(&f, 0, sizeof(f));
	for (unsigned m = 0; m <= 3; m++)
		for (f.kind = T_OUT_IMM; f.kind <= T_INS; f.kind++)
			for (f.size = 1; f.size <= 4; f.size *= 2) {
				f.mode = m == 3 ? T_LONG64 : (enum t_mode)m;
				f.high = m == 3;
				enum t_outcome o;

				c.arg = &f;
				o = t_isolate(pio_cell, &c, 5000, msg, sizeof(msg));
				t_pio_form_name(&f, name, sizeof(name));
				printf("%-28s %s %s\n", name, outcome[o], o == T_PASS ? "" : msg);
				fflush(stdout);
			}
	run_extras(&c);
	run_timer(&c);
	run_loops(&c, false);
	if (argc > 2 && strcmp(argv[2], "bench") == 0)
		run_loops(&c, true);
	return 0;
}
