/*
 * The interpreter's legacy modes, with hand-assembled code: real-mode
 * arithmetic and the 16-bit addressing forms (BP -> SS, 64 KiB wrap,
 * overrides), 66/67 prefixes in real mode, the decode cache following the
 * mode, and an AP start modelled on Linux's trampoline_64.S: SIPI -> real
 * mode -> LGDT, CR0.PE, far jump -> 32-bit (CR4.PAE, CR3, EFER.LME via
 * RDMSR/WRMSR, CR0.PG) -> far jump -> 64-bit code reaching a marker.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "accel/emu/emu.h"

#define RAM_SIZE (4u << 20)

struct rig {
	struct guest_ram_region region;
	struct emu_mem mem;
	struct emu_cpu cpu;
	uint8_t *ram;
};

static int setup(void **state)
{
	struct rig *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	r->ram = aligned_alloc(4096, RAM_SIZE);
	assert_non_null(r->ram);
	for (uint32_t a = 0; a < RAM_SIZE; a++) /* a pattern that tells addresses apart */
		r->ram[a] = (uint8_t)(a * 7 + (a >> 8) + (a >> 16));
	r->region = (struct guest_ram_region){ .base = { 0 }, .size = RAM_SIZE, .hva = r->ram, .fd = -1 };
	r->mem = (struct emu_mem){ .ram = &r->region, .nram = 1 };
	assert_int_equal(emu_cpu_init(&r->cpu, &r->mem), 0);
	*state = r;
	return 0;
}

static int teardown(void **state)
{
	struct rig *r = *state;

	emu_cpu_fini(&r->cpu);
	free(r->ram);
	free(r);
	return 0;
}

static uint16_t rd16(const struct rig *r, uint32_t a)
{
	return (uint16_t)(r->ram[a] | r->ram[a + 1] << 8);
}

/* Code placed at a guest-physical address, emitted byte by byte. */
struct code {
	uint8_t *p;
	uint32_t base, n;
};

static void emit(struct code *c, unsigned count, ...)
{
	va_list ap;

	va_start(ap, count);
	for (unsigned k = 0; k < count; k++)
		c->p[c->n++] = (uint8_t)va_arg(ap, int);
	va_end(ap);
}

static void emit16(struct code *c, uint16_t v)
{
	emit(c, 2, v & 0xff, v >> 8);
}

static void emit32(struct code *c, uint32_t v)
{
	emit16(c, (uint16_t)v);
	emit16(c, (uint16_t)(v >> 16));
}

static struct code at(struct rig *r, uint32_t pa)
{
	return (struct code){ .p = r->ram + pa, .base = pa };
}

static int run(struct rig *r)
{
	return emu_run(&r->cpu, 100000);
}

/* Real mode at vector << 12, then set some registers. */
#define VEC 0x10u
#define CODE (VEC << 12)

static void real_start(struct rig *r)
{
	emu_cpu_sipi(&r->cpu, VEC);
	assert_int_equal(r->cpu.mode, EMU_MODE_16);
	assert_int_equal(r->cpu.r[EMU_RIP], CODE);
	assert_int_equal(emu_get_eip(&r->cpu), 0);
}

static void test_real_arith(void **state)
{
	struct rig *r = *state;
	struct code c = at(r, CODE);

	emit(&c, 3, 0xb8, 0x34, 0x12);       /* mov ax, 0x1234 */
	emit(&c, 3, 0xbb, 0x00, 0xf0);       /* mov bx, 0xf000 */
	emit(&c, 2, 0x01, 0xd8);             /* add ax, bx: 0x0234, CF */
	emit(&c, 3, 0xb9, 0xff, 0xff);       /* mov cx, 0xffff */
	emit(&c, 1, 0x41);                   /* inc cx: 0, ZF (not REX) */
	emit(&c, 1, 0x4b);                   /* dec bx */
	emit(&c, 2, 0x88, 0xe2);             /* mov dl, ah */
	emit(&c, 1, 0xf4);                   /* hlt */
	real_start(r);
	r->cpu.r[1] = 0xaaaa0000ull;         /* upper bits must survive 16-bit writes */
	assert_int_equal(run(r), EMU_EXIT_HLT);
	assert_int_equal(r->cpu.r[0], 0x0234);
	assert_int_equal(r->cpu.r[1], 0xaaaa0000ull);
	assert_int_equal(r->cpu.r[3], 0xefff);
	assert_int_equal(r->cpu.r[2], 0x02);
	assert_int_equal(emu_get_eip(&r->cpu), c.n);
	assert_true(emu_get_rflags(&r->cpu) & EMU_CF); /* INC/DEC keep the ADD's carry */
}

/* One 16-bit load through a ModRM form: which linear address it used. */
struct form16 {
	uint8_t bytes[5];
	unsigned len;
	uint16_t bx, bp, si, di;
	uint32_t linear;
};

#define DS_SEL 0x2000u
#define SS_SEL 0x3000u
#define ES_SEL 0x4000u

static void test_real_addressing(void **state)
{
	static const struct form16 forms[] = {
		{ { 0x8b, 0x00 }, 2, 0x10, 0, 0x20, 0, (DS_SEL << 4) + 0x30 },          /* [bx+si] */
		{ { 0x8b, 0x01 }, 2, 0x10, 0, 0, 0x22, (DS_SEL << 4) + 0x32 },          /* [bx+di] */
		{ { 0x8b, 0x02 }, 2, 0, 0x100, 0x20, 0, (SS_SEL << 4) + 0x120 },        /* [bp+si] */
		{ { 0x8b, 0x43, 0xf0 }, 3, 0, 0x100, 0, 0x30, (SS_SEL << 4) + 0x120 },  /* [bp+di-16] */
		{ { 0x8b, 0x04 }, 2, 0, 0, 0x444, 0, (DS_SEL << 4) + 0x444 },           /* [si] */
		{ { 0x8b, 0x05 }, 2, 0, 0, 0, 0x556, (DS_SEL << 4) + 0x556 },           /* [di] */
		{ { 0x8b, 0x06, 0x34, 0x12 }, 4, 0, 0x100, 0, 0, (DS_SEL << 4) + 0x1234 }, /* [disp16] */
		{ { 0x8b, 0x46, 0x02 }, 3, 0, 0x100, 0, 0, (SS_SEL << 4) + 0x102 },     /* [bp+2] */
		{ { 0x8b, 0x86, 0x00, 0x10 }, 4, 0, 0x100, 0, 0, (SS_SEL << 4) + 0x1100 }, /* [bp+0x1000] */
		{ { 0x8b, 0x07 }, 2, 0x778, 0, 0, 0, (DS_SEL << 4) + 0x778 },           /* [bx] */
		{ { 0x8b, 0x00 }, 2, 0xfff0, 0, 0x20, 0, (DS_SEL << 4) + 0x10 },        /* wraps at 64 KiB */
		{ { 0x8b, 0x46, 0x80 }, 3, 0, 0x0010, 0, 0, (SS_SEL << 4) + 0xff90 },   /* [bp-128] wraps */
		{ { 0x26, 0x8b, 0x07 }, 3, 0x66, 0, 0, 0, (ES_SEL << 4) + 0x66 },       /* es:[bx] */
		{ { 0x3e, 0x8b, 0x02 }, 3, 0, 0x100, 0x20, 0, (DS_SEL << 4) + 0x120 },  /* ds:[bp+si] */
		{ { 0x36, 0x8b, 0x07 }, 3, 0x66, 0, 0, 0, (SS_SEL << 4) + 0x66 },       /* ss:[bx] */
	};
	struct rig *r = *state;

	for (unsigned f = 0; f < sizeof(forms) / sizeof(forms[0]); f++) {
		const struct form16 *t = &forms[f];
		struct code c = at(r, CODE);

		emit(&c, 3, 0xb8, DS_SEL & 0xff, DS_SEL >> 8); /* mov ax, DS_SEL */
		emit(&c, 2, 0x8e, 0xd8);                       /* mov ds, ax */
		emit(&c, 3, 0xb8, SS_SEL & 0xff, SS_SEL >> 8);
		emit(&c, 2, 0x8e, 0xd0);                       /* mov ss, ax */
		emit(&c, 3, 0xb8, ES_SEL & 0xff, ES_SEL >> 8);
		emit(&c, 2, 0x8e, 0xc0);                       /* mov es, ax */
		for (unsigned k = 0; k < t->len; k++)
			emit(&c, 1, t->bytes[k]);
		emit(&c, 1, 0xf4);
		real_start(r);
		r->cpu.r[3] = t->bx;
		r->cpu.r[5] = t->bp;
		r->cpu.r[6] = t->si;
		r->cpu.r[7] = t->di;
		assert_int_equal(run(r), EMU_EXIT_HLT);
		assert_int_equal(r->cpu.r[0], rd16(r, t->linear));
		assert_int_equal(r->cpu.seg[EMU_SEG_SS].sel, SS_SEL);
		assert_int_equal(r->cpu.segbase[EMU_SB_DS], DS_SEL << 4);
	}
}

/* 66: 32-bit operands; 67: 32-bit addressing (SIB, EBP -> SS); near
 * call/ret and push/pop on SS:SP; a rel16 Jcc. DS stays 0 (reset). */
static void test_real_prefixes(void **state)
{
	struct rig *r = *state;
	struct code c = at(r, CODE);

	emit(&c, 3, 0xb8, 0x00, 0x30); emit(&c, 2, 0x8e, 0xd0);     /* ss = 0x3000 */
	emit(&c, 3, 0xbc, 0x00, 0x01);                               /* mov sp, 0x100 */
	emit(&c, 2, 0x66, 0xb8); emit32(&c, 0x89abcdefu);           /* mov eax, imm32 */
	emit(&c, 2, 0x66, 0xbb); emit32(&c, 0x80000000u);           /* mov ebx, imm32 */
	emit(&c, 3, 0x66, 0x01, 0xd8);                               /* add eax, ebx: CF */
	emit(&c, 4, 0x67, 0x8b, 0x14, 0x8d); emit32(&c, 0x200);     /* mov dx, [ecx*4+0x200] */
	emit(&c, 5, 0x67, 0x66, 0x8b, 0x75, 0x08);                   /* mov esi, [ebp+8]: SS */
	emit(&c, 2, 0x66, 0x50);                                     /* push eax */
	emit(&c, 1, 0x5f);                                           /* pop di */
	emit(&c, 1, 0x5d);                                           /* pop bp */
	emit(&c, 3, 0xe8, 0x08, 0x00);                               /* call callee */
	emit(&c, 2, 0x31, 0xc9);                                     /* xor cx, cx */
	emit(&c, 4, 0x0f, 0x84, 0x01, 0x00);                         /* jz rel16 +1 */
	emit(&c, 1, 0xf4);                                           /* skipped */
	emit(&c, 1, 0xf4);                                           /* end */
	emit(&c, 1, 0x43);                                           /* callee: inc bx */
	emit(&c, 1, 0xc3);                                           /* ret */
	real_start(r);
	r->cpu.r[1] = 0x10;
	r->cpu.r[5] = 0x20;
	assert_int_equal(run(r), EMU_EXIT_HLT);
	assert_int_equal(emu_get_eip(&r->cpu), c.n - 2);
	assert_int_equal(r->cpu.r[0], 0x09abcdefu);
	assert_int_equal(r->cpu.r[3], 0x80000001u);
	assert_int_equal(r->cpu.r[2], rd16(r, 0x240));
	assert_int_equal(r->cpu.r[6], rd16(r, 0x30028) | (uint32_t)rd16(r, 0x3002a) << 16);
	assert_int_equal(r->cpu.r[7], 0xcdef);
	assert_int_equal(r->cpu.r[5], 0x09ab);
	assert_int_equal(r->cpu.r[4], 0x100);
	assert_int_equal(r->cpu.r[1], 0);
	assert_true(emu_get_rflags(&r->cpu) & EMU_ZF);
}

/*
 * The same bytes in two modes: 40 F4 is REX + HLT in 64-bit mode and
 * INC AX; HLT in real mode. The block decoded in 64-bit mode must not be
 * reused after the switch.
 */
static void test_mode_keyed_cache(void **state)
{
	struct rig *r = *state;
	struct code c = at(r, CODE);

	emit(&c, 2, 0x40, 0xf4);
	r->cpu.r[EMU_RIP] = CODE;
	r->cpu.r[0] = 5;
	assert_int_equal(run(r), EMU_EXIT_HLT);
	assert_int_equal(r->cpu.r[0], 5);
	real_start(r);
	assert_int_equal(run(r), EMU_EXIT_HLT);
	assert_int_equal(r->cpu.r[0], 1);
	assert_int_equal(emu_get_eip(&r->cpu), 2);
}

/*
 * Linux's AP start (arch/x86/realmode/rm/trampoline_64.S), laid out as the
 * kernel lays it out: the real-mode part at the SIPI page, a GDT with
 * __KERNEL32_CS (8), __KERNEL_CS (0x10), __KERNEL_DS (0x18), startup_32,
 * startup_64 jumping through tr_start to the kernel's entry (a marker).
 */
#define TR_VEC 0x08u
#define TR_BASE (TR_VEC << 12)      /* real_mode_base */
#define TR_GDT 0x8800u
#define TR_IDT 0x8840u
#define TR_HDR 0x8860u               /* tr_start, tr_efer, tr_cr4 */
#define PA_STARTUP_32 0x8400u
#define PA_STARTUP_64 0x8600u
#define PA_PGD 0xa000u
#define KERNEL_ENTRY 0x200000u
#define MARKER 0x6464646464646464ull

static void lay_out_trampoline(struct rig *r)
{
	struct code c = at(r, TR_BASE);
	uint64_t gdt[4] = { 0, 0x00cf9b000000ffffull, 0x00af9b000000ffffull, 0x00cf93000000ffffull };

	/* trampoline_start (16-bit) */
	emit(&c, 1, 0xfa);                                 /* cli */
	emit(&c, 2, 0x0f, 0x09);                           /* wbinvd */
	emit(&c, 1, 0xea); emit16(&c, 8); emit16(&c, TR_BASE >> 4); /* ljmpw real_mode_seg:1f */
	assert_int_equal(c.n, 8);
	emit(&c, 2, 0x8c, 0xc8);                           /* 1: mov ax, cs */
	emit(&c, 2, 0x8e, 0xd8);                           /* mov ds, ax */
	emit(&c, 2, 0x8e, 0xc0);                           /* mov es, ax */
	emit(&c, 2, 0x8e, 0xd0);                           /* mov ss, ax */
	emit(&c, 2, 0x66, 0xbc); emit32(&c, 0x1000);       /* movl $rm_stack_end, %esp */
	emit(&c, 1, 0xe8); emit16(&c, 0x100 - (c.n + 2));  /* call verify_cpu (at +0x100) */
	emit(&c, 3, 0x66, 0x85, 0xc0);                     /* testl %eax, %eax */
	emit(&c, 2, 0x75, 0x7e);                           /* jnz no_longmode (far away: hlt) */
	emit(&c, 4, 0x66, 0x0f, 0x01, 0x1e); emit16(&c, TR_IDT - TR_BASE); /* lidtl tr_idt */
	emit(&c, 4, 0x66, 0x0f, 0x01, 0x16); emit16(&c, TR_GDT - TR_BASE); /* lgdtl tr_gdt */
	emit(&c, 1, 0xba); emit16(&c, 0x18);               /* movw $__KERNEL_DS, %dx */
	emit(&c, 2, 0x66, 0xb8); emit32(&c, 1);            /* movl $X86_CR0_PE, %eax */
	emit(&c, 3, 0x0f, 0x22, 0xc0);                     /* movl %eax, %cr0 */
	emit(&c, 2, 0x66, 0xea); emit32(&c, PA_STARTUP_32); emit16(&c, 0x08); /* ljmpl */
	assert_true(c.n < 0x80);
	c.n = 0x80;                                        /* no_longmode: hlt */
	emit(&c, 1, 0xf4);

	/* verify_cpu, reduced: flags dance, CPUID, success */
	c.n = 0x100;
	emit(&c, 1, 0x9c);                                 /* pushf */
	emit(&c, 2, 0x6a, 0x00);                           /* push $0 */
	emit(&c, 1, 0x9d);                                 /* popf */
	emit(&c, 2, 0x66, 0xb8); emit32(&c, 0x80000001u);  /* movl $0x80000001, %eax */
	emit(&c, 2, 0x0f, 0xa2);                           /* cpuid */
	emit(&c, 4, 0x66, 0x0f, 0xba, 0xe2); emit(&c, 1, 29); /* btl $29, %edx (LM) */
	emit(&c, 2, 0x73, 0x05);                           /* jnc .no */
	emit(&c, 3, 0x66, 0x31, 0xc0);                     /* xorl %eax, %eax */
	emit(&c, 1, 0x9d);                                 /* popf */
	emit(&c, 1, 0xc3);                                 /* ret */
	emit(&c, 2, 0x66, 0xb8); emit32(&c, 1);            /* .no: movl $1, %eax */
	emit(&c, 1, 0x9d);
	emit(&c, 1, 0xc3);

	/* startup_32 (32-bit, flat) */
	c = at(r, PA_STARTUP_32);
	emit(&c, 2, 0x8e, 0xd2);                           /* movl %edx, %ss */
	emit(&c, 2, 0x81, 0xc4); emit32(&c, TR_BASE);      /* addl $pa_real_mode_base, %esp */
	emit(&c, 2, 0x8e, 0xda);                           /* %ds */
	emit(&c, 2, 0x8e, 0xc2);                           /* %es */
	emit(&c, 2, 0x8e, 0xe2);                           /* %fs */
	emit(&c, 2, 0x8e, 0xea);                           /* %gs */
	emit(&c, 1, 0xa1); emit32(&c, TR_HDR + 16);        /* movl pa_tr_cr4, %eax */
	emit(&c, 3, 0x0f, 0x22, 0xe0);                     /* movl %eax, %cr4 */
	emit(&c, 1, 0xb8); emit32(&c, PA_PGD);             /* movl $pa_trampoline_pgd, %eax */
	emit(&c, 3, 0x0f, 0x22, 0xd8);                     /* movl %eax, %cr3 */
	emit(&c, 1, 0xb9); emit32(&c, EMU_MSR_EFER);       /* movl $MSR_EFER, %ecx */
	emit(&c, 2, 0x0f, 0x32);                           /* rdmsr */
	emit(&c, 2, 0x3b, 0x05); emit32(&c, TR_HDR + 8);   /* cmp pa_tr_efer, %eax */
	emit(&c, 2, 0x75, 0x08);                           /* jne .Lwrite_efer */
	emit(&c, 2, 0x3b, 0x15); emit32(&c, TR_HDR + 12);  /* cmp pa_tr_efer + 4, %edx */
	emit(&c, 2, 0x74, 0x0d);                           /* je .Ldone_efer */
	emit(&c, 1, 0xa1); emit32(&c, TR_HDR + 8);         /* .Lwrite_efer: movl pa_tr_efer, %eax */
	emit(&c, 2, 0x8b, 0x15); emit32(&c, TR_HDR + 12);  /* movl pa_tr_efer + 4, %edx */
	emit(&c, 2, 0x0f, 0x30);                           /* wrmsr */
	emit(&c, 1, 0xb8); emit32(&c, 0x80010021u);        /* .Ldone_efer: PG | WP | NE | PE */
	emit(&c, 3, 0x0f, 0x22, 0xc0);                     /* movl %eax, %cr0 */
	emit(&c, 1, 0xea); emit32(&c, PA_STARTUP_64); emit16(&c, 0x10); /* ljmpl $__KERNEL_CS */

	/* startup_64: jmpq *tr_start(%rip) */
	c = at(r, PA_STARTUP_64);
	emit(&c, 2, 0xff, 0x25); emit32(&c, TR_HDR - (PA_STARTUP_64 + 6));

	/* the kernel's entry: 64-bit only code (REX.W), then hlt */
	c = at(r, KERNEL_ENTRY);
	emit(&c, 2, 0x48, 0xb8); emit32(&c, (uint32_t)MARKER); emit32(&c, (uint32_t)(MARKER >> 32));
	emit(&c, 4, 0x48, 0x8d, 0x4c, 0x24); emit(&c, 1, 0xf8); /* lea -8(%rsp), %rcx */
	emit(&c, 1, 0xf4);

	/* tr_gdt: limit and base in the null descriptor, as Linux does */
	memcpy(r->ram + TR_GDT, gdt, sizeof(gdt));
	r->ram[TR_GDT] = sizeof(gdt) - 1;
	r->ram[TR_GDT + 1] = 0;
	memcpy(r->ram + TR_GDT + 2, &(uint32_t){ TR_GDT }, 4);
	r->ram[TR_GDT + 6] = r->ram[TR_GDT + 7] = 0;
	memset(r->ram + TR_IDT, 0, 6);
	/* trampoline_header: tr_start, tr_efer (LME | NXE), tr_cr4 (PAE | PGE) */
	memcpy(r->ram + TR_HDR, &(uint64_t){ KERNEL_ENTRY }, 8);
	memcpy(r->ram + TR_HDR + 8, &(uint64_t){ 0x900 }, 8);
	memcpy(r->ram + TR_HDR + 16, &(uint32_t){ 0xa0 }, 4);
	/* identity page tables: 1 GiB with 2 MiB pages */
	memset(r->ram + PA_PGD, 0, 3 * 4096);
	memcpy(r->ram + PA_PGD, &(uint64_t){ (PA_PGD + 0x1000) | 3 }, 8);
	memcpy(r->ram + PA_PGD + 0x1000, &(uint64_t){ (PA_PGD + 0x2000) | 3 }, 8);
	for (uint64_t k = 0; k < 512; k++)
		memcpy(r->ram + PA_PGD + 0x2000 + k * 8, &(uint64_t){ (k << 21) | 0x83 }, 8);
}

static void test_trampoline(void **state)
{
	struct rig *r = *state;
	struct emu_cpu *cpu = &r->cpu;

	lay_out_trampoline(r);
	emu_cpu_init_signal(cpu);
	assert_true(cpu->wait_sipi);
	emu_cpu_sipi(cpu, TR_VEC);
	assert_false(cpu->wait_sipi);
	assert_int_equal(cpu->r[EMU_RIP], TR_BASE);
	assert_int_equal(cpu->seg[EMU_SEG_CS].sel, TR_VEC << 8);
	assert_int_equal(run(r), EMU_EXIT_HLT);

	assert_int_equal(cpu->mode, EMU_MODE_64);
	assert_int_equal(cpu->r[0], MARKER);
	assert_int_equal(cpu->r[EMU_RIP], KERNEL_ENTRY + 10 + 5 + 1);
	assert_int_equal(cpu->r[4], TR_BASE + 0x1000);
	assert_int_equal(cpu->r[1], TR_BASE + 0x1000 - 8);
	assert_int_equal(cpu->seg[EMU_SEG_CS].sel, 0x10);
	assert_true(cpu->seg[EMU_SEG_CS].attr & EMU_SEG_L);
	assert_int_equal(cpu->seg[EMU_SEG_DS].sel, 0x18);
	assert_int_equal(cpu->seg[EMU_SEG_SS].limit, 0xffffffffu);
	assert_int_equal(cpu->efer & (EMU_EFER_LME | EMU_EFER_LMA | 0x800), EMU_EFER_LME | EMU_EFER_LMA | 0x800);
	assert_int_equal(cpu->cr0, 0x80010031u);
	assert_int_equal(cpu->cr3, PA_PGD);
	assert_int_equal(cpu->cr4, 0xa0);
	assert_int_equal(cpu->gdtr.base, TR_GDT);
	assert_int_equal(cpu->gdtr.limit, 31);
	assert_int_equal(cpu->idtr.limit, 0);
	assert_false(emu_get_rflags(cpu) & EMU_IF);
}

/* Far jump checks: a non-code selector for CS faults with its selector. */
static void test_bad_far_jump(void **state)
{
	struct rig *r = *state;
	struct emu_cpu *cpu = &r->cpu;
	struct code c;

	lay_out_trampoline(r);
	c = at(r, PA_STARTUP_32);
	emit(&c, 1, 0xea); emit32(&c, PA_STARTUP_64); emit16(&c, 0x18); /* CS = data */
	emu_cpu_sipi(cpu, TR_VEC);
	assert_int_equal(run(r), EMU_EXIT_EXCEPTION);
	assert_int_equal(cpu->exc.vector, EMU_GP);
	assert_int_equal(cpu->exc.err, 0x18);
	assert_int_equal(cpu->mode, EMU_MODE_32);
	assert_int_equal(emu_get_eip(cpu), PA_STARTUP_32);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_real_arith, setup, teardown),
		cmocka_unit_test_setup_teardown(test_real_addressing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_real_prefixes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mode_keyed_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trampoline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_far_jump, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
