/*
 * The emu module's own cases: the machine it presents (CPUID, MSRs,
 * kvmclock, the guest TSC) and its LAPIC timer.
 */
#include <string.h>

#include "test_emu.h"

#define TIMER_VECTOR 0x40
#define LAPIC 0xfee00000u
#define TSC_HZ 2000000000ull

static const uint8_t cpuid_probe[] = {
	0xb8, 0x01, 0, 0, 0, 0x0f, 0xa2,                  /* cpuid(1) */
	0x89, 0x1f, 0x89, 0x4f, 0x04, 0x89, 0x57, 0x08,   /* [0] ebx [4] ecx [8] edx */
	0xb8, 0x0b, 0, 0, 0, 0x31, 0xc9, 0x0f, 0xa2,      /* cpuid(0xb, 0) */
	0x89, 0x57, 0x0c,                                 /* [12] edx */
	0xb8, 0x0b, 0, 0, 0, 0xb9, 0x01, 0, 0, 0, 0x0f, 0xa2, /* cpuid(0xb, 1) */
	0x89, 0x5f, 0x10, 0x89, 0x4f, 0x14,               /* [16] ebx [20] ecx */
	0xb8, 0, 0, 0, 0x40, 0x0f, 0xa2,                  /* cpuid(0x40000000) */
	0x89, 0x5f, 0x18, 0x89, 0x4f, 0x1c, 0x89, 0x57, 0x20,
	0xb8, 0x01, 0, 0, 0x40, 0x0f, 0xa2, 0x89, 0x47, 0x24, /* [36] kvm features */
	0xb9, 0xa0, 0x01, 0, 0, 0x0f, 0x32, 0x89, 0x47, 0x28, /* [40] MISC_ENABLE */
	0xb9, 0xff, 0x02, 0, 0, 0x0f, 0x32, 0x89, 0x47, 0x2c, /* [44] MTRR_DEF_TYPE */
	0xbb, 0x00, 0x00, 0x09, 0x00,                     /* mov ebx, T_MMIO_DONE */
};

struct cpuid_seen {
	uint32_t l1_ebx, l1_ecx, l1_edx, lb_edx, lb1_ebx, lb1_ecx, sig[3], kvm_features;
	uint32_t misc, mtrr;
};

static void check_cpuid(struct t_case *c, const struct cpuid_seen *s, unsigned index)
{
	T_REQUIRE(c, s->l1_ebx >> 24 == index, "vcpu %u: CPUID.1 APIC id %u", index,
		  s->l1_ebx >> 24);
	T_REQUIRE(c, (s->l1_ecx & (1u << 31 | 1u << 24 | 1u << 21)) == (1u << 31 | 1u << 24 | 1u << 21),
		  "vcpu %u: CPUID.1 ecx 0x%x lacks hypervisor/TSC-deadline/x2APIC", index,
		  s->l1_ecx);
	T_REQUIRE(c, s->l1_edx & (1u << 9), "vcpu %u: no APIC bit", index);
	T_REQUIRE(c, s->lb_edx == index, "vcpu %u: CPUID.B x2APIC id %u", index, s->lb_edx);
	T_REQUIRE(c, s->lb1_ebx == 2 && (s->lb1_ecx >> 8 & 0xff) == 2,
		  "vcpu %u: CPUID.B.1 ebx %u ecx 0x%x", index, s->lb1_ebx, s->lb1_ecx);
	T_REQUIRE(c, memcmp(s->sig, "KVMKVMKVM\0\0\0", 12) == 0, "vcpu %u: no KVM signature",
		  index);
	T_REQUIRE(c, s->kvm_features & (1u << 3), "vcpu %u: no kvmclock (0x%x)", index,
		  s->kvm_features);
	T_REQUIRE(c, s->misc & 1, "vcpu %u: MISC_ENABLE 0x%x", index, s->misc);
	T_REQUIRE(c, s->mtrr == 0x806, "vcpu %u: MTRR_DEF_TYPE 0x%x", index, s->mtrr);
}

void case_emu_cpuid(struct t_case *c)
{
	struct t_host *t = t_vm(c, 2);
	struct t_asm a = { .mode = T_LONG64 };
	struct cpu_boot_state st;
	struct cpuid_seen seen;

	a_bytes(&a, cpuid_probe, sizeof(cpuid_probe));
	a_done(&a);
	a_hlt_loop(&a);
	t_put_code(t, a.b, a.n);
	t_boot_state(t, T_LONG64, &st);
	for (unsigned i = 0; i < 2; i++) {
		atomic_store(&t->done, false);
		t_run_checked(c, t, t_vcpu(c, t, i, &st), 3000);
		memcpy(&seen, t_gpa(t, T_DATA), sizeof(seen));
		check_cpuid(c, &seen, i);
	}
}

/* wrmsr(KVM_SYSTEM_TIME_NEW, T_DATA + 0x40 | 1), then rdtsc to [0x80]. */
void case_emu_kvmclock(struct t_case *c)
{
	static const uint8_t code[] = {
		0xb9, 0x01, 0x4d, 0x56, 0x4b,                        /* mov ecx, msr */
		0xb8, (T_DATA + 0x41) & 0xff, (T_DATA + 0x41) >> 8, 0, 0, /* mov eax, gpa | 1 */
		0x31, 0xd2, 0x0f, 0x30,                              /* xor edx, edx; wrmsr */
		0x0f, 0x31, 0x89, 0x87, 0x80, 0, 0, 0, 0x89, 0x97, 0x84, 0, 0, 0, /* rdtsc */
	};
	uint64_t t0 = t_now_ns(), tsc, elapsed;
	struct t_host *t = t_vm(c, 1);
	struct t_asm a = { .mode = T_LONG64 };
	struct cpu_boot_state st;
	const uint8_t *rec;
	uint32_t version, mul;

	a_bytes(&a, code, sizeof(code));
	a_done(&a);
	a_hlt_loop(&a);
	t_put_code(t, a.b, a.n);
	t_boot_state(t, T_LONG64, &st);
	t_run_checked(c, t, t_vcpu(c, t, 0, &st), 3000);
	elapsed = t_now_ns() - t0;
	rec = t_gpa(t, T_DATA + 0x40);
	memcpy(&version, rec, 4);
	memcpy(&mul, rec + 24, 4);
	T_REQUIRE(c, version == 2 && mul == 0x80000000u && rec[28] == 0 && rec[29] == 1,
		  "pvclock version %u mul 0x%x shift %d flags %u", version, mul, (int8_t)rec[28],
		  rec[29]);
	memcpy(&tsc, t_gpa(t, T_DATA + 0x80), 8);
	T_REQUIRE(c, tsc > 0 && tsc / 2 <= elapsed, "guest TSC %llu after %llu ns",
		  (unsigned long long)tsc, (unsigned long long)elapsed);
}

/* cli; until [T_COUNTER] != 0: sti; hlt. */
static void a_wait_counter(struct t_asm *a)
{
	static const uint8_t wait[] = {
		0xfa,
		0x83, 0x3c, 0x25, T_COUNTER & 0xff, T_COUNTER >> 8 & 0xff, 0, 0, 0,
		0x75, 0x04, 0xfb, 0xf4, 0xeb, 0xf1,
	};

	a_bytes(a, wait, sizeof(wait));
}

static void timer_case(struct t_case *c, bool deadline)
{
	static const uint8_t arm_deadline[] = {
		0x0f, 0x31,                       /* rdtsc */
		0x05, 0x80, 0x84, 0x1e, 0x00,     /* add eax, 2000000 (1 ms) */
		0x83, 0xd2, 0x00,                 /* adc edx, 0 */
		0xb9, 0xe0, 0x06, 0, 0, 0x0f, 0x30, /* wrmsr(IA32_TSC_DEADLINE) */
	};
	struct t_host *t = t_vm(c, 1);
	struct t_asm a = { .mode = T_LONG64 };
	struct cpu_boot_state st;
	uint32_t count;

	a_mov_mem32(&a, LAPIC + 0xf0, 0x1ff);               /* SVR: enabled */
	a_mov_mem32(&a, LAPIC + 0x3e0, 0xb);                /* divide by 1 */
	a_mov_mem32(&a, LAPIC + 0x320, TIMER_VECTOR | (deadline ? 2u << 17 : 0));
	if (deadline)
		a_bytes(&a, arm_deadline, sizeof(arm_deadline));
	else
		a_mov_mem32(&a, LAPIC + 0x380, 1000000);    /* 1 ms at 1 GHz */
	a_wait_counter(&a);
	a_done(&a);
	a_hlt_loop(&a);
	t_put_code(t, a.b, a.n);
	t_put_isr(t, T_ISR);
	t_boot_state(t, T_LONG64, &st);
	t_idt_set(t, TIMER_VECTOR, T_ISR);
	st.idt.limit = 0xfff;
	t_run_checked(c, t, t_vcpu(c, t, 0, &st), 3000);
	memcpy(&count, t_gpa(t, T_COUNTER), sizeof(count));
	T_REQUIRE(c, count == 1, "%u timer interrupts, want 1", count);
}

void case_emu_lapic_timer(struct t_case *c)
{
	timer_case(c, false);
}

void case_emu_tsc_deadline(struct t_case *c)
{
	timer_case(c, true);
}
