/*
 * Guest-side helpers of the accelerator tests: descriptor tables, identity
 * page tables, boot states for real, 32-bit protected and 64-bit long mode,
 * and a handful of hand-assembled instructions.
 */
#include <string.h>

#include "harness.h"


#define CR0_PE (1ull << 0)
#define CR0_MP (1ull << 1)
#define CR0_ET (1ull << 4)
#define CR0_NE (1ull << 5)
#define CR0_WP (1ull << 16)
#define CR0_PG (1ull << 31)
#define CR4_PAE (1ull << 5)
#define CR4_OSFXSR (1ull << 9)
#define CR4_OSXMMEXCPT (1ull << 10)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)

#define PTE_P  (1ull << 0)
#define PTE_RW (1ull << 1)
#define PTE_PS (1ull << 7)

/* A flat segment descriptor: access byte and flags nibble vary. */
static uint64_t gdt_entry(uint32_t base, uint32_t limit, uint8_t access, uint8_t flags)
{
	return (uint64_t)(limit & 0xffff) | ((uint64_t)(base & 0xffffff) << 16) |
	       ((uint64_t)access << 40) | ((uint64_t)((limit >> 16) & 0xf) << 48) |
	       ((uint64_t)(flags & 0xf) << 52) | ((uint64_t)(base >> 24) << 56);
}

static void write_tables(struct t_host *t)
{
	uint64_t *gdt = t_gpa(t, T_GDT);
	uint64_t *pml4 = t_gpa(t, T_PML4);
	uint64_t *pdpt = t_gpa(t, T_PML4 + 0x1000);
	uint64_t *pd = t_gpa(t, T_PML4 + 0x2000);
	uint64_t *pdpt_hi = t_gpa(t, T_PML4 + 0x3000);
	uint64_t *pd3 = t_gpa(t, T_PML4 + 0x4000);
	unsigned i;

	gdt[0] = 0;
	gdt[1] = gdt_entry(0, 0xfffff, 0x9a, 0xc); /* 0x08 code32 */
	gdt[2] = gdt_entry(0, 0xfffff, 0x9a, 0xa); /* 0x10 code64 */
	gdt[3] = gdt_entry(0, 0xfffff, 0x92, 0xc); /* 0x18 data */
	gdt[4] = gdt_entry(T_TSS, 0x67, 0x8b, 0);  /* 0x20 busy TSS */
	gdt[5] = 0;
	pml4[0] = (T_PML4 + 0x1000) | PTE_P | PTE_RW;
	pdpt[0] = (T_PML4 + 0x2000) | PTE_P | PTE_RW;
	/* The same first GiB again where Linux runs: -2 GiB (PML4 511, PDPT 510). */
	pml4[511] = (T_PML4 + 0x3000) | PTE_P | PTE_RW;
	pdpt_hi[510] = (T_PML4 + 0x2000) | PTE_P | PTE_RW;
	/* [3 GiB, 4 GiB) too, for the LAPIC and IOAPIC. */
	pdpt[3] = (T_PML4 + 0x4000) | PTE_P | PTE_RW;
	for (i = 0; i < 512; i++) {
		pd[i] = ((uint64_t)i << 21) | PTE_P | PTE_RW | PTE_PS;
		pd3[i] = (0xc0000000ull + ((uint64_t)i << 21)) | PTE_P | PTE_RW | PTE_PS;
	}
}

static struct cpu_segment seg(uint16_t sel, uint8_t type, uint8_t s, uint8_t l, uint8_t db,
			      uint8_t g, uint32_t limit)
{
	return (struct cpu_segment){ .selector = sel, .type = type, .s = s, .present = 1,
				     .l = l, .db = db, .g = g, .limit = limit };
}

static void set_data_segs(struct cpu_boot_state *st, struct cpu_segment d)
{
	st->ds = st->es = st->fs = st->gs = st->ss = d;
}

void t_boot_state(struct t_host *t, enum t_mode mode, struct cpu_boot_state *st)
{
	memset(st, 0, sizeof(*st));
	write_tables(t);
	st->gdt = (struct cpu_table){ T_GDT, 6 * 8 - 1 };
	st->idt = (struct cpu_table){ T_IDT, 0 };
	st->tr = seg(T_SEL_TSS, 0xb, 0, 0, 0, 0, 0x67);
	st->tr.base = T_TSS;
	st->ldt = seg(0, 0x2, 0, 0, 0, 0, 0xffff);
	st->rip = T_CODE;
	st->rflags = 0x2;
	st->gpr[CPU_RSP] = T_STACK;
	st->gpr[CPU_RBX] = T_MMIO_DONE;
	st->gpr[CPU_RSI] = T_DATA + 0x100;
	st->gpr[CPU_RDI] = T_DATA;
	switch (mode) {
	case T_REAL:
		st->cs = seg(0, 0xb, 1, 0, 0, 0, 0xffff);
		set_data_segs(st, seg(0, 0x3, 1, 0, 0, 0, 0xffff));
		st->fs.base = T_MMIO_DONE; /* a_done writes fs:[bx] */
		st->fs.selector = (uint16_t)(T_MMIO_DONE >> 4);
		st->gpr[CPU_RBX] = 0;
		st->cr0 = CR0_ET;
		break;
	case T_PROT32:
		st->cs = seg(T_SEL_CODE32, 0xb, 1, 0, 1, 1, 0xffffffff);
		set_data_segs(st, seg(T_SEL_DATA, 0x3, 1, 0, 1, 1, 0xffffffff));
		st->cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE;
		break;
	case T_LONG64:
		st->cs = seg(T_SEL_CODE64, 0xb, 1, 1, 0, 1, 0xffffffff);
		set_data_segs(st, seg(T_SEL_DATA, 0x3, 1, 0, 1, 1, 0xffffffff));
		st->cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
		st->cr3 = T_PML4;
		st->cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
		st->efer = EFER_LME | EFER_LMA;
		break;
	}
}

void t_boot_state_high(struct cpu_boot_state *st)
{
	st->rip += T_HIGH;
	st->gpr[CPU_RSP] += T_HIGH;
	st->gpr[CPU_RSI] += T_HIGH;
	st->gpr[CPU_RDI] += T_HIGH;
	st->gpr[CPU_RBX] += T_HIGH;
}

void t_idt_set(struct t_host *t, unsigned vec, uint64_t h)
{
	uint64_t *g = t_gpa(t, T_IDT + vec * 16);

	g[0] = (h & 0xffff) | ((uint64_t)T_SEL_CODE64 << 16) | (0x8eull << 40) |
	       ((h >> 16 & 0xffff) << 48);
	g[1] = h >> 32;
}

size_t t_put_isr(struct t_host *t, uint64_t at)
{
	static const uint8_t isr[] = {
		0x50,                                     /* push rax */
		0xf0, 0xff, 0x04, 0x25,                   /* lock inc dword [T_COUNTER] */
		T_COUNTER & 0xff, T_COUNTER >> 8 & 0xff, 0, 0,
		0xb8, 0xb0, 0x00, 0xe0, 0xfe,             /* mov eax, 0xfee000b0 (EOI) */
		0xc7, 0x00, 0, 0, 0, 0,                   /* mov dword [rax], 0 */
		0x58,                                     /* pop rax */
		0x48, 0xcf,                               /* iretq */
	};

	memcpy(t_gpa(t, at), isr, sizeof(isr));
	return sizeof(isr);
}

void a_bytes(struct t_asm *a, const uint8_t *p, size_t n)
{
	if (a->n + n > sizeof(a->b))
		return;
	memcpy(a->b + a->n, p, n);
	a->n += n;
}

void a_u8(struct t_asm *a, uint8_t v)
{
	a_bytes(a, &v, 1);
}

void a_u16(struct t_asm *a, uint16_t v)
{
	a_bytes(a, (const uint8_t *)&v, 2);
}

void a_u32(struct t_asm *a, uint32_t v)
{
	a_bytes(a, (const uint8_t *)&v, 4);
}

/* 0x66 selects the operand size that is not the mode's default. */
void a_opsize(struct t_asm *a, unsigned size)
{
	bool is16 = a->mode == T_REAL;

	if ((size == 2 && !is16) || (size == 4 && is16))
		a_u8(a, 0x66);
}

void a_mov_dx(struct t_asm *a, uint16_t port)
{
	a_opsize(a, 2);
	a_u8(a, 0xba);
	a_u16(a, port);
}

void a_mov_eax(struct t_asm *a, uint32_t v)
{
	a_opsize(a, 4);
	a_u8(a, 0xb8);
	a_u32(a, v);
}

void a_mov_ecx(struct t_asm *a, uint32_t v)
{
	a_opsize(a, 4);
	a_u8(a, 0xb9);
	a_u32(a, v);
}

static void a_sized(struct t_asm *a, unsigned size, uint8_t op8)
{
	if (size == 1) {
		a_u8(a, op8);
		return;
	}
	a_opsize(a, size);
	a_u8(a, op8 + 1);
}

void a_out_dx(struct t_asm *a, unsigned size)
{
	a_sized(a, size, 0xee);
}

void a_out_imm(struct t_asm *a, uint8_t port, unsigned size)
{
	a_sized(a, size, 0xe6);
	a_u8(a, port);
}

void a_in_dx(struct t_asm *a, unsigned size)
{
	a_sized(a, size, 0xec);
}

void a_in_imm(struct t_asm *a, uint8_t port, unsigned size)
{
	a_sized(a, size, 0xe4);
	a_u8(a, port);
}

void a_rep_outs(struct t_asm *a, unsigned size)
{
	a_u8(a, 0xf3);
	a_sized(a, size, 0x6e);
}

void a_rep_ins(struct t_asm *a, unsigned size)
{
	a_u8(a, 0xf3);
	a_sized(a, size, 0x6c);
}

void a_store_eax_rdi(struct t_asm *a)
{
	static const uint8_t real[] = { 0x66, 0x89, 0x05 }; /* mov [di], eax */
	static const uint8_t flat[] = { 0x89, 0x07 };       /* mov [rdi], eax */
	static const uint8_t l64[] = { 0x48, 0x89, 0x07 };  /* mov [rdi], rax */

	if (a->mode == T_REAL)
		a_bytes(a, real, sizeof(real));
	else if (a->mode == T_LONG64)
		a_bytes(a, l64, sizeof(l64));
	else
		a_bytes(a, flat, sizeof(flat));
}

void a_done(struct t_asm *a)
{
	static const uint8_t real[] = { 0x64, 0x88, 0x07 }; /* mov fs:[bx], al */
	static const uint8_t flat[] = { 0x88, 0x03 };       /* mov [rbx], al */

	if (a->mode == T_REAL)
		a_bytes(a, real, sizeof(real));
	else
		a_bytes(a, flat, sizeof(flat));
}

void a_hlt_loop(struct t_asm *a)
{
	static const uint8_t code[] = { 0xf4, 0xeb, 0xfd }; /* 1: hlt; jmp 1b */

	a_bytes(a, code, sizeof(code));
}

void a_inc_eax(struct t_asm *a)
{
	a_opsize(a, 4);
	a_u8(a, 0xff);
	a_u8(a, 0xc0);
}

void a_dec_ecx(struct t_asm *a)
{
	a_opsize(a, 4);
	a_u8(a, 0xff);
	a_u8(a, 0xc9);
}

void a_jnz(struct t_asm *a, size_t target)
{
	a_u8(a, 0x75);
	a_u8(a, (uint8_t)(target - (a->n + 1)));
}

void a_mov_mem32(struct t_asm *a, uint32_t addr, uint32_t v)
{
	a_u8(a, 0xb8); /* mov eax, addr */
	a_u32(a, addr);
	a_u8(a, 0xc7); /* mov dword [rax], v */
	a_u8(a, 0x00);
	a_u32(a, v);
}
