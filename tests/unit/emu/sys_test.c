/* The long-mode machine of the system tests (see sys_test.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "splitvm/cpu_state.h"
#include "sys_test.h"

static void pio(void *opaque, uint16_t port, void *data, unsigned size, bool is_write)
{
	struct sys_fixture *f = opaque;

	f->npio++;
	f->pio_port = port;
	f->pio_size = size;
	f->pio_write = is_write;
	if (is_write) {
		f->pio_val = 0;
		memcpy(&f->pio_val, data, size);
	} else {
		uint32_t v = 0x12345678;

		memcpy(data, &v, size);
	}
}

void put(struct sys_fixture *f, uint64_t gpa, const void *bytes, unsigned n)
{
	memcpy(f->ram + gpa, bytes, n);
	emu_icache_flush(&f->cpu); /* code written behind the CPU's back */
}

uint64_t rd64(struct sys_fixture *f, uint64_t gpa)
{
	uint64_t v;

	memcpy(&v, f->ram + gpa, 8);
	return v;
}

void wr64(struct sys_fixture *f, uint64_t gpa, uint64_t v)
{
	memcpy(f->ram + gpa, &v, 8);
}

uint64_t *pte(struct sys_fixture *f, uint64_t va)
{
	return (uint64_t *)(void *)(f->ram + PT_BASE + (va >> 12) * 8);
}

void set_gate(struct sys_fixture *f, unsigned v, uint64_t h, unsigned dpl, unsigned ist,
	      int present)
{
	uint64_t lo = (h & 0xffff) | 0x10ull << 16 | (uint64_t)ist << 32 |
		      (uint64_t)(0xe | dpl << 5 | (present ? 0x80 : 0)) << 40 |
		      ((h >> 16) & 0xffff) << 48;

	wr64(f, IDT_BASE + v * 16, lo);
	wr64(f, IDT_BASE + v * 16 + 8, h >> 32);
}

static void build_tables(struct sys_fixture *f)
{
	static const uint64_t gdt[] = {
		0, 0, 0x00af9b000000ffffull, 0x00cf93000000ffffull, 0,
		0x00cff3000000ffffull, 0x00affb000000ffffull, 0,
	};
	uint64_t tss_lo = 0x67 | (uint64_t)TSS_BASE << 16 | 0x89ull << 40;

	memcpy(f->ram + 0x500, gdt, sizeof(gdt));
	wr64(f, 0x500 + 0x40, tss_lo);
	wr64(f, 0x500 + 0x48, 0);
	wr64(f, 0x1000, 0x2000 | PTE_P | PTE_W | PTE_U);
	wr64(f, 0x2000, 0x3000 | PTE_P | PTE_W | PTE_U);
	wr64(f, 0x3000, PT_BASE | PTE_P | PTE_W | PTE_U);
	for (uint64_t p = 0; p < 512; p++)
		wr64(f, PT_BASE + p * 8, p << 12 | PTE_P | PTE_W | PTE_U);
	for (uint64_t m = 1; m < 4; m++) /* 2 MiB pages up to 8 MiB */
		wr64(f, 0x3000 + m * 8, m << 21 | 0x80 | PTE_P | PTE_W | PTE_U);
	for (unsigned v = 0; v < 256; v++) {
		f->ram[HANDLER(v)] = 0xf4; /* HLT */
		set_gate(f, v, HANDLER(v), 0, 0, 1);
	}
	wr64(f, TSS_BASE + 4, STACK0);
	wr64(f, TSS_BASE + 0x24, STACK_IST);
	f->ram[TSS_BASE + 0x66] = 0x68; /* the I/O bitmap starts past the limit: none */
}

static struct cpu_segment code_seg(unsigned dpl)
{
	return (struct cpu_segment){ .selector = (uint16_t)(dpl ? 0x33 : 0x10), .type = 0xb,
		.s = 1, .dpl = (uint8_t)dpl, .present = 1, .l = 1, .g = 1, .limit = 0xffffffff };
}

static struct cpu_segment data_seg(unsigned dpl)
{
	return (struct cpu_segment){ .selector = (uint16_t)(dpl ? 0x2b : 0x18), .type = 3,
		.s = 1, .dpl = (uint8_t)dpl, .present = 1, .db = 1, .g = 1, .limit = 0xffffffff };
}

struct sys_fixture *sys_new(int user)
{
	struct sys_fixture *f = calloc(1, sizeof(*f));
	struct cpu_boot_state st = { 0 };
	unsigned dpl = user ? 3 : 0;
	int fd = memfd_create("sys-test", 0);

	assert_non_null(f);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, RAM_SIZE), 0);
	f->ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(f->ram != MAP_FAILED);
	f->region = (struct guest_ram_region){ .base = gpa(0), .size = RAM_SIZE, .hva = f->ram,
					       .fd = fd };
	f->mem = (struct emu_mem){ .ram = &f->region, .nram = 1, .pio = pio, .opaque = f };
	assert_int_equal(emu_cpu_init(&f->cpu, &f->mem), 0);
	build_tables(f);

	st.rip = CODE;
	st.rflags = 2;
	st.gpr[CPU_RSP] = user ? USTACK : STACK;
	st.cs = code_seg(dpl);
	st.ds = st.es = st.ss = data_seg(dpl);
	st.fs = st.gs = (struct cpu_segment){ .unusable = 1 };
	st.tr = (struct cpu_segment){ .selector = 0x40, .base = TSS_BASE, .limit = 0x67,
				      .type = 0xb, .present = 1 };
	st.ldt = (struct cpu_segment){ .unusable = 1 };
	st.gdt = (struct cpu_table){ 0x500, 0x4f };
	st.idt = (struct cpu_table){ IDT_BASE, 0xfff };
	st.cr0 = 0x80050033; /* PG WP AM NE ET MP PE */
	st.cr3 = 0x1000;
	st.cr4 = 0x6a0;      /* OSXMMEXCPT OSFXSR PGE PAE */
	st.efer = 0xd01;     /* NXE LMA LME SCE */
	assert_int_equal(emu_cpu_load_state(&f->cpu, &st), 0);
	emu_sys_enable(&f->cpu);
	return f;
}

void sys_free(struct sys_fixture *f)
{
	emu_cpu_fini(&f->cpu);
	munmap(f->ram, RAM_SIZE);
	close(f->region.fd);
	free(f);
}

int run(struct sys_fixture *f)
{
	int r;

	do
		r = emu_run(&f->cpu, 100000);
	while (r == EMU_EXIT_NONE && f->cpu.icount < 1000000);
	return r;
}
