/*
 * One port I/O instruction form in one CPU mode, run in a fresh VM: the guest
 * does the access, then writes T_MMIO_DONE. Shared by the tests and by the
 * platform probe (kvm-platform-probe), which runs every form.
 */
#include <stdio.h>
#include <string.h>

#include "t_pio.h"

#define PIO_VALUE 0xa1b2c3d4u
#define RAX_BEFORE 0x1122334455667788ull /* what `in` must partly keep */
#define STR_COUNT 4

static const char *const mode_names[] = { "real", "prot32", "long64" };
static const char *const kind_names[] = { "out imm8", "out dx", "in imm8", "in dx",
					  "rep outs", "rep ins" };

const char *t_mode_name(enum t_mode m)
{
	return mode_names[m];
}

void t_pio_form_name(const struct t_pio_form *f, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s %s size %u", mode_names[f->mode], f->high ? " high" : "",
		 kind_names[f->kind], f->size);
}

static uint16_t form_port(const struct t_pio_form *f)
{
	return (f->kind == T_OUT_IMM || f->kind == T_IN_IMM) ? T_PORT_IMM : T_PORT_DX;
}

static void assemble(const struct t_pio_form *f, struct t_asm *a)
{
	a->mode = f->mode;
	if (f->kind != T_IN_IMM && f->kind != T_IN_DX)
		a_mov_eax(a, PIO_VALUE);
	a_mov_dx(a, T_PORT_DX);
	a_mov_ecx(a, STR_COUNT);
	switch (f->kind) {
	case T_OUT_IMM: a_out_imm(a, T_PORT_IMM, f->size); break;
	case T_OUT_DX:  a_out_dx(a, f->size); break;
	case T_IN_IMM:  a_in_imm(a, T_PORT_IMM, f->size); a_store_eax_rdi(a); break;
	case T_IN_DX:   a_in_dx(a, f->size); a_store_eax_rdi(a); break;
	case T_OUTS:    a_rep_outs(a, f->size); break;
	case T_INS:     a_rep_ins(a, f->size); break;
	}
	a_done(a);
	a_hlt_loop(a);
}

static uint32_t size_mask(unsigned size)
{
	return size == 4 ? 0xffffffffu : (1u << (size * 8)) - 1;
}

/* rax after `in`: 32-bit results zero-extend in long mode, others merge. */
static uint64_t rax_after_in(const struct t_pio_form *f)
{
	uint64_t m = size_mask(f->size);

	if (f->mode == T_LONG64 && f->size == 4)
		return PIO_VALUE;
	if (f->mode != T_LONG64)
		return (uint32_t)((RAX_BEFORE & ~m) | (PIO_VALUE & m));
	return (RAX_BEFORE & ~m) | (PIO_VALUE & m);
}

/* Checks what the host saw and what the guest stored; "" when right. */
static void verify(struct t_host *t, const struct t_pio_form *f, char *why, size_t len)
{
	struct t_access acc[8];
	bool str = f->kind == T_OUTS || f->kind == T_INS;
	bool in = f->kind == T_IN_IMM || f->kind == T_IN_DX || f->kind == T_INS;
	unsigned want = str ? STR_COUNT : 1, n, i;
	uint8_t *src = t_gpa(t, T_DATA + 0x100), *dst = t_gpa(t, T_DATA);
	uint64_t stored = 0;

	why[0] = '\0';
	n = t_find(t, true, form_port(f), acc, 8);
	if (n != want) {
		snprintf(why, len, "%u port accesses, want %u", n, want);
		return;
	}
	for (i = 0; i < n; i++) {
		uint32_t expect = PIO_VALUE;

		if (f->kind == T_OUTS)
			memcpy(&expect, src + i * f->size, 4);
		if (acc[i].size != f->size || acc[i].is_write == in ||
		    (!in && (uint32_t)acc[i].data != (expect & size_mask(f->size)))) {
			snprintf(why, len, "access %u: %s size %u data 0x%llx", i,
				 acc[i].is_write ? "write" : "read", acc[i].size,
				 (unsigned long long)acc[i].data);
			return;
		}
	}
	if (f->kind == T_INS) {
		for (i = 0; i < STR_COUNT * f->size; i++)
			if (dst[i] != ((PIO_VALUE >> ((i % f->size) * 8)) & 0xff)) {
				snprintf(why, len, "rep ins stored byte %u = 0x%x", i, dst[i]);
				return;
			}
	} else if (in) {
		memcpy(&stored, dst, f->mode == T_LONG64 ? 8 : 4);
		if (stored != rax_after_in(f))
			snprintf(why, len, "rax after in: 0x%llx, want 0x%llx",
				 (unsigned long long)stored, (unsigned long long)rax_after_in(f));
	}
}

void t_pio_run(struct t_host *t, const struct t_pio_form *f, char *why, size_t len)
{
	struct cpu_boot_state st;
	struct accel_vcpu *vcpu;
	struct t_run_result res;
	struct t_asm a = { .n = 0 };
	uint8_t *src = t_gpa(t, T_DATA + 0x100);
	unsigned i;
	int r;

	for (i = 0; i < 64; i++)
		src[i] = (uint8_t)(0x10 + i);
	t->pio_in_value = PIO_VALUE;
	assemble(f, &a);
	t_put_code(t, a.b, a.n);
	t_boot_state(t, f->mode, &st);
	if (f->high)
		t_boot_state_high(&st);
	st.gpr[CPU_RAX] = RAX_BEFORE;
	r = t->ops->vcpu->create(t->vm, 0, &vcpu);
	if (r == 0)
		r = t->ops->vcpu->set_boot_state(vcpu, &st);
	if (r < 0) {
		snprintf(why, len, "vcpu setup: %d", r);
		return;
	}
	res = t_run(t, vcpu, 2000);
	t->ops->vcpu->destroy(vcpu);
	if (res.timed_out)
		snprintf(why, len, "no done marker within 2 s (%u exits)",
			 (unsigned)atomic_load(&t->exits));
	else if (atomic_load(&t->stop))
		snprintf(why, len, "stop request %d: %s", atomic_load(&t->stop) - 1, t->errlog);
	else
		verify(t, f, why, len);
}

/* n `out dx` of rising values; checks every one arrived, in order. */
static void verify_loop(struct t_host *t, unsigned size, unsigned n, char *why, size_t len)
{
	unsigned i, got = 0;

	pthread_mutex_lock(&t->lock);
	for (i = 0; i < t->nacc; i++) {
		const struct t_access *x = &t->acc[i];

		if (!x->pio || x->addr != T_PORT_DX)
			continue;
		if (x->size != size || !x->is_write || x->data != (got & size_mask(size))) {
			snprintf(why, len, "out %u of %u: size %u data 0x%llx", got, n, x->size,
				 (unsigned long long)x->data);
			break;
		}
		got++;
	}
	pthread_mutex_unlock(&t->lock);
	if (!why[0] && got != n)
		snprintf(why, len, "%u of %u outs arrived", got, n);
}

uint64_t t_pio_loop(struct t_host *t, enum t_mode mode, unsigned size, unsigned n, char *why,
		    size_t len)
{
	struct cpu_boot_state st;
	struct accel_vcpu *vcpu;
	struct t_run_result res;
	struct t_asm a = { .mode = mode };
	size_t top;
	int r;

	why[0] = '\0';
	a_mov_dx(&a, T_PORT_DX);
	a_mov_ecx(&a, n);
	a_mov_eax(&a, 0);
	top = a.n;
	a_out_dx(&a, size);
	a_inc_eax(&a);
	a_dec_ecx(&a);
	a_jnz(&a, top);
	a_done(&a);
	a_hlt_loop(&a);
	t_put_code(t, a.b, a.n);
	t_boot_state(t, mode, &st);
	r = t->ops->vcpu->create(t->vm, 0, &vcpu);
	if (r == 0)
		r = t->ops->vcpu->set_boot_state(vcpu, &st);
	if (r < 0) {
		snprintf(why, len, "vcpu setup: %d", r);
		return 0;
	}
	res = t_run(t, vcpu, 10000);
	t->ops->vcpu->destroy(vcpu);
	if (res.timed_out)
		snprintf(why, len, "no done marker within 10 s (%u exits)",
			 (unsigned)atomic_load(&t->exits));
	else if (atomic_load(&t->stop))
		snprintf(why, len, "stop request %d: %s", atomic_load(&t->stop) - 1, t->errlog);
	else if (!atomic_load(&t->count_only))
		verify_loop(t, size, n, why, len);
	else if (atomic_load(&t->exits) != n + 1)
		snprintf(why, len, "%lu exits, want %u", atomic_load(&t->exits), n + 1);
	return res.ns;
}
