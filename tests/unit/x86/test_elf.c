/*
 * Plain ELF64 kernels and guest programs: loaded at p_paddr, entered at
 * e_entry, with a synthesized setup header; malformed files refused.
 */
#include <elf.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "arch/x86/layout.h"
#include "x86_test.h"

static int setup(void **state)
{
	static struct fixture f;

	*state = &f;
	return fixture_init(&f, 64 * MiB);
}

static int teardown(void **state)
{
	fixture_destroy(*state);
	tmp_cleanup();
	return 0;
}

/* Two segments like tests/guests: text at 2 MiB, then data with bss. */
static struct test_elf guest_elf(void)
{
	const struct test_seg segs[] = {
		{ .paddr = 0x200000, .filesz = 0x1800, .memsz = 0x1800, .flags = PF_R | PF_X, .seed = 1 },
		{ .paddr = 0x202000, .filesz = 0x300, .memsz = 0x5000, .flags = PF_R | PF_W, .seed = 2 },
	};

	return make_elf(segs, 2, 0x200010);
}

static int load(struct fixture *f, const char *path, const char *append,
		struct cpu_boot_state *st)
{
	struct vm_config cfg = { .kernel = path, .append = append, .unpack = UNPACK_VMM };

	return x86_load_guest(&f->mem, &f->lg, &cfg, st);
}

static void loads_guest(void **state)
{
	struct fixture *f = *state;
	struct test_elf e = guest_elf();
	const char *path = tmp_file(e.buf, e.len);
	struct cpu_boot_state st;
	const struct boot_params *bp;

	/* Stale bytes where the bss goes: the loader must clear them. */
	memset(gpa_to_hva(&f->mem, gpa(0x202000), 0x5000), 0xcc, 0x5000);
	assert_int_equal(load(f, path, "hello=1", &st), 0);
	assert_int_equal(fixture_log(f), 0);
	assert_true(elf_matches(&f->mem, &e));
	assert_int_equal(st.rip, 0x200010);
	assert_int_equal(st.gpr[CPU_RSI], X86_ZERO_PAGE);
	bp = gpa_to_hva(&f->mem, gpa(X86_ZERO_PAGE), sizeof(*bp));
	assert_int_equal(bp->hdr.boot_flag, 0xaa55);
	assert_int_equal(bp->hdr.header, 0x53726448);
	assert_true(bp->hdr.version >= 0x020c);
	assert_int_equal(bp->hdr.type_of_loader, 0xff);
	assert_int_equal(bp->hdr.cmd_line_ptr, X86_CMDLINE);
	assert_int_equal(bp->e820_entries, 6);
	assert_string_equal(gpa_to_hva(&f->mem, gpa(X86_CMDLINE), 8), "hello=1");
	free(e.buf);
}

/* ld often maps the headers with the first segment (file offset 0). */
static void segment_at_offset_zero(void **state)
{
	struct fixture *f = *state;
	const struct test_seg segs[] = {
		{ .paddr = 0x400000, .filesz = 0x2000, .memsz = 0x2000, .flags = PF_X,
		  .seed = 3, .offset = TEST_AT_ZERO },
		{ .paddr = 0x403000, .filesz = 0x1000, .memsz = 0x1000, .flags = PF_W, .seed = 4 },
	};
	struct test_elf e = make_elf(segs, 2, 0x400100);
	struct cpu_boot_state st;

	assert_int_equal(load(f, tmp_file(e.buf, e.len), NULL, &st), 0);
	assert_true(elf_matches(&f->mem, &e));
	assert_int_equal(memcmp(gpa_to_hva(&f->mem, gpa(0x400000), 4), "\x7f" "ELF", 4), 0);
	free(e.buf);
}

/* Two segments sharing file bytes: fine from a file, which can seek back. */
static void shared_file_bytes(void **state)
{
	struct fixture *f = *state;
	const struct test_seg segs[] = {
		{ .paddr = 0x300000, .filesz = 0x2000, .memsz = 0x2000, .flags = PF_X, .seed = 6 },
		{ .paddr = 0x400000, .filesz = 0x1000, .memsz = 0x1000, .flags = PF_R, .seed = 7,
		  .offset = 0x1800 },
	};
	struct test_elf e = make_elf(segs, 2, 0x300000);
	struct cpu_boot_state st;

	assert_int_equal(load(f, tmp_file(e.buf, e.len), NULL, &st), 0);
	assert_true(elf_matches(&f->mem, &e));
	free(e.buf);
}

/* A vmlinux-style virtual e_entry is converted through its segment. */
static void virtual_entry(void **state)
{
	struct fixture *f = *state;
	const struct test_seg segs[] = {
		{ .paddr = 0x1000000, .vaddr = 0xffffffff81000000ull, .filesz = 0x1000,
		  .memsz = 0x1000, .flags = PF_X, .seed = 5 },
	};
	struct test_elf e = make_elf(segs, 1, 0xffffffff81000040ull);
	struct cpu_boot_state st;

	assert_int_equal(load(f, tmp_file(e.buf, e.len), NULL, &st), 0);
	assert_int_equal(st.rip, 0x1000040);
	free(e.buf);
}

/* Loads path expecting err, with exactly one error line naming the file. */
static void refused(struct fixture *f, const void *buf, size_t len, int err)
{
	const char *path = tmp_file(buf, len);
	struct cpu_boot_state st;

	assert_int_equal(load(f, path, NULL, &st), err);
	assert_int_equal(fixture_log(f), 1);
	assert_non_null(strstr(f->log, path));
}

static void bad_headers(void **state)
{
	struct fixture *f = *state;
	struct test_elf e = guest_elf();
	Elf64_Ehdr *eh = (Elf64_Ehdr *)e.buf;
	uint8_t junk[4096];

	eh->e_ident[EI_CLASS] = ELFCLASS32;
	refused(f, e.buf, e.len, -ENOEXEC);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_machine = EM_AARCH64;
	refused(f, e.buf, e.len, -ENOEXEC);
	eh->e_machine = EM_X86_64;
	eh->e_type = ET_REL;
	refused(f, e.buf, e.len, -ENOEXEC);
	eh->e_type = ET_EXEC;
	eh->e_phnum = 0;
	refused(f, e.buf, e.len, -ENOEXEC);
	eh->e_phnum = 2;
	eh->e_phoff = 1ull << 40;
	refused(f, e.buf, e.len, -ENOEXEC);
	eh->e_phoff = sizeof(*eh);
	eh->e_entry = 0x900000; /* in RAM but in no segment */
	refused(f, e.buf, e.len, -ENOEXEC);
	refused(f, e.buf, 40, -ENOEXEC);        /* truncated ELF header */
	refused(f, e.buf, 100, -ENOEXEC);       /* truncated program headers */
	fill_pattern(junk, sizeof(junk), 9);
	refused(f, junk, sizeof(junk), -ENOEXEC); /* neither bzImage nor ELF */
	refused(f, "", 0, -ENOEXEC);
	free(e.buf);
}

static void bad_segments(void **state)
{
	struct fixture *f = *state;
	struct test_elf e = guest_elf();
	Elf64_Phdr *ph = (Elf64_Phdr *)(e.buf + sizeof(Elf64_Ehdr));
	Elf64_Phdr saved = ph[1];

	refused(f, e.buf, e.len - 1, -ENOEXEC);  /* data cut short */
	ph[1].p_offset = 1ull << 40;             /* outside the file */
	refused(f, e.buf, e.len, -ENOEXEC);
	ph[1].p_offset = UINT64_MAX - 8;         /* offset + size overflows */
	refused(f, e.buf, e.len, -ENOEXEC);
	ph[1] = saved;
	ph[1].p_filesz = ph[1].p_memsz + 1;
	refused(f, e.buf, e.len, -ENOEXEC);
	ph[1] = saved;
	ph[1].p_paddr = 64 * MiB - 0x1000;       /* runs past the end of RAM */
	refused(f, e.buf, e.len, -EFBIG);
	ph[1].p_paddr = 0x9f000;                 /* over the boot structures */
	refused(f, e.buf, e.len, -EFBIG);
	ph[1].p_paddr = 0xc0000000;              /* in the PCI hole */
	refused(f, e.buf, e.len, -EFBIG);
	ph[1].p_paddr = UINT64_MAX - 0x100;      /* address wraps */
	refused(f, e.buf, e.len, -EFBIG);
	ph[1] = saved;
	ph[1].p_memsz = 100 * MiB;               /* kernel larger than RAM */
	refused(f, e.buf, e.len, -EFBIG);
	free(e.buf);
}

static void bad_files(void **state)
{
	struct fixture *f = *state;
	struct cpu_boot_state st;
	char missing[4200];

	snprintf(missing, sizeof(missing), "%s/no-such-kernel", tmp_dir());
	assert_int_equal(load(f, missing, NULL, &st), -ENOENT);
	assert_int_equal(fixture_log(f), 1);
	assert_non_null(strstr(f->log, missing));
	assert_int_equal(load(f, tmp_dir(), NULL, &st), -EACCES);
	assert_int_equal(fixture_log(f), 1);
}

static void cmdline_too_long(void **state)
{
	struct fixture *f = *state;
	struct test_elf e = guest_elf();
	const char *path = tmp_file(e.buf, e.len);
	char *big = malloc(X86_CMDLINE_MAX + 1);
	struct cpu_boot_state st;

	memset(big, 'x', X86_CMDLINE_MAX);
	big[X86_CMDLINE_MAX] = '\0';
	assert_int_equal(load(f, path, big, &st), -EINVAL);
	assert_int_equal(fixture_log(f), 1);
	big[X86_CMDLINE_MAX - 1] = '\0';
	assert_int_equal(load(f, path, big, &st), 0);
	free(big);
	free(e.buf);
}

static void ram_too_small(void **state)
{
	const struct mem_range r = { gpa(0), 0x80000 };
	struct test_elf e = guest_elf();
	struct cpu_boot_state st;
	struct fixture f;

	assert_int_equal(fixture_init_ranges(&f, &r, 1), 0);
	assert_int_equal(load(&f, tmp_file(e.buf, e.len), NULL, &st), -EFBIG);
	assert_int_equal(fixture_log(&f), 1);
	fixture_destroy(&f);
	free(e.buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(loads_guest, setup, teardown),
		cmocka_unit_test_setup_teardown(segment_at_offset_zero, setup, teardown),
		cmocka_unit_test_setup_teardown(shared_file_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(virtual_entry, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_headers, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_segments, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_files, setup, teardown),
		cmocka_unit_test_setup_teardown(cmdline_too_long, setup, teardown),
		cmocka_unit_test_setup_teardown(ram_too_small, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
