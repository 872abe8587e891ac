/* Helpers for the x86 boot tests (see x86_test.h). */
#include "x86_test.h"

#include <elf.h>
#include <errno.h>
#include <limits.h>
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "core/arch.h"

int fixture_init(struct fixture *f, uint64_t ram_size)
{
	struct mem_range r[GUEST_MEM_MAX_REGIONS];
	int n = arch_ram_layout(ram_size, r, GUEST_MEM_MAX_REGIONS);

	if (n < 0)
		return n;
	return fixture_init_ranges(f, r, (unsigned)n);
}

int fixture_init_ranges(struct fixture *f, const struct mem_range *r, unsigned n)
{
	memset(f, 0, sizeof(*f));
	f->lg = (struct logger){ .level = LOG_DEBUG, .fd = memfd_create("log", MFD_CLOEXEC) };
	if (f->lg.fd < 0)
		return -errno;
	return guest_memory_init(&f->mem, r, n);
}

void fixture_destroy(struct fixture *f)
{
	guest_memory_destroy(&f->mem);
	close(f->lg.fd);
}

unsigned fixture_log(struct fixture *f)
{
	ssize_t n = pread(f->lg.fd, f->log, sizeof(f->log) - 1, 0);
	unsigned errors = 0;

	f->log[n > 0 ? n : 0] = '\0';
	if (getenv("X86_TEST_VERBOSE"))
		fputs(f->log, stderr);
	for (const char *p = f->log; (p = strstr(p, "error: ")); p++)
		errors++;
	/* Start afresh for the next check. */
	if (ftruncate(f->lg.fd, 0) == 0)
		lseek(f->lg.fd, 0, SEEK_SET);
	return errors;
}

#define TMP_MAX_FILES 64

/* Test-only state: the temporary directory and the files made in it. */
static char tmp_path[PATH_MAX];
static char *tmp_files[TMP_MAX_FILES];
static unsigned tmp_nfiles;

const char *tmp_dir(void)
{
	if (!tmp_path[0]) {
		const char *base = getenv("TMPDIR");

		snprintf(tmp_path, sizeof(tmp_path), "%s/x86-boot-XXXXXX", base ? base : "/tmp");
		if (!mkdtemp(tmp_path))
			abort();
	}
	return tmp_path;
}

const char *tmp_file(const void *buf, size_t len)
{
	char *path;
	FILE *fp;

	if (tmp_nfiles >= TMP_MAX_FILES || asprintf(&path, "%s/f%u", tmp_dir(), tmp_nfiles) < 0)
		abort();
	tmp_files[tmp_nfiles++] = path;
	fp = fopen(path, "wb");
	if (!fp || (len && fwrite(buf, 1, len, fp) != len) || fclose(fp))
		abort();
	return path;
}

void tmp_cleanup(void)
{
	for (unsigned i = 0; i < tmp_nfiles; i++) {
		unlink(tmp_files[i]);
		free(tmp_files[i]);
	}
	tmp_nfiles = 0;
	if (tmp_path[0])
		rmdir(tmp_path);
	tmp_path[0] = '\0';
}

void fill_pattern(uint8_t *p, size_t len, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 1;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		/* Mostly small values: compressible, like code. */
		p[i] = (uint8_t)(x % 7 ? x % 16 : x >> 24);
	}
}

struct test_elf make_elf(const struct test_seg *segs, unsigned n, uint64_t entry)
{
	size_t hdr_end = sizeof(Elf64_Ehdr) + n * sizeof(Elf64_Phdr), len = hdr_end;
	uint64_t off[16];
	struct test_elf e;
	Elf64_Ehdr *eh;
	Elf64_Phdr *ph;

	for (unsigned i = 0; i < n; i++) {
		if (segs[i].offset == TEST_AT_ZERO)
			off[i] = 0;
		else
			off[i] = segs[i].offset ? segs[i].offset : (len + 4095) & ~4095ull;
		if (off[i] + segs[i].filesz > len)
			len = off[i] + segs[i].filesz;
	}
	e.len = len;
	e.buf = calloc(1, len);
	eh = (Elf64_Ehdr *)e.buf;
	ph = (Elf64_Phdr *)(e.buf + sizeof(*eh));
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_EXEC;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_entry = entry;
	eh->e_phoff = sizeof(*eh);
	eh->e_ehsize = sizeof(*eh);
	eh->e_phentsize = sizeof(*ph);
	eh->e_phnum = (uint16_t)n;
	for (unsigned i = 0; i < n; i++) {
		uint64_t start = off[i] > hdr_end ? off[i] : hdr_end;

		ph[i] = (Elf64_Phdr){
			.p_type = PT_LOAD, .p_flags = segs[i].flags, .p_offset = off[i],
			.p_vaddr = segs[i].vaddr ? segs[i].vaddr : segs[i].paddr,
			.p_paddr = segs[i].paddr, .p_filesz = segs[i].filesz,
			.p_memsz = segs[i].memsz, .p_align = 4096,
		};
		if (off[i] + segs[i].filesz > start)
			fill_pattern(e.buf + start, off[i] + segs[i].filesz - start, segs[i].seed);
	}
	return e;
}

static int compress_gzip(const uint8_t *in, size_t len, uint8_t *out, size_t *olen)
{
	z_stream z = { 0 };
	int ret;

	if (deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	z.next_in = (uint8_t *)in;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = (uInt)*olen;
	ret = deflate(&z, Z_FINISH);
	*olen = z.total_out;
	deflateEnd(&z);
	return ret == Z_STREAM_END ? 0 : -EIO;
}

/* xz as the kernel builds it: x86 BCJ filter, then LZMA2, CRC32. */
static int compress_xz(const uint8_t *in, size_t len, uint8_t *out, size_t *olen)
{
	lzma_options_lzma opt;
	lzma_filter filters[] = {
		{ LZMA_FILTER_X86, NULL },
		{ LZMA_FILTER_LZMA2, &opt },
		{ LZMA_VLI_UNKNOWN, NULL },
	};
	size_t pos = 0;

	lzma_lzma_preset(&opt, 6);
	if (lzma_stream_buffer_encode(filters, LZMA_CHECK_CRC32, NULL, in, len, out, &pos,
				      *olen) != LZMA_OK)
		return -EIO;
	*olen = pos;
	return 0;
}

/* The legacy .lzma format with an end marker, as `lzma -9` writes from a pipe. */
static int compress_lzma(const uint8_t *in, size_t len, uint8_t *out, size_t *olen)
{
	lzma_stream s = LZMA_STREAM_INIT;
	lzma_options_lzma opt;
	lzma_ret ret;

	lzma_lzma_preset(&opt, 6);
	if (lzma_alone_encoder(&s, &opt) != LZMA_OK)
		return -ENOMEM;
	s.next_in = in;
	s.avail_in = len;
	s.next_out = out;
	s.avail_out = *olen;
	ret = lzma_code(&s, LZMA_FINISH);
	*olen = s.total_out;
	lzma_end(&s);
	return ret == LZMA_STREAM_END ? 0 : -EIO;
}

static int compress_zstd(const uint8_t *in, size_t len, uint8_t *out, size_t *olen)
{
	ZSTD_CCtx *c = ZSTD_createCCtx();
	size_t ret;

	if (!c)
		return -ENOMEM;
	ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, 19);
	ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
	ret = ZSTD_compress2(c, out, *olen, in, len);
	ZSTD_freeCCtx(c);
	if (ZSTD_isError(ret))
		return -EIO;
	*olen = ret;
	return 0;
}

bool elf_matches(const struct guest_memory *m, const struct test_elf *e)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)e->buf;
	const Elf64_Phdr *ph = (const Elf64_Phdr *)(e->buf + eh->e_phoff);

	for (unsigned i = 0; i < eh->e_phnum; i++) {
		const uint8_t *p = gpa_to_hva(m, gpa(ph[i].p_paddr), ph[i].p_memsz);

		if (ph[i].p_type != PT_LOAD)
			continue;
		if (!p || memcmp(p, e->buf + ph[i].p_offset, ph[i].p_filesz))
			return false;
		for (uint64_t j = ph[i].p_filesz; j < ph[i].p_memsz; j++) {
			if (p[j])
				return false;
		}
	}
	return true;
}

int compress_buf(const char *format, const uint8_t *in, size_t len, uint8_t **out,
		 size_t *out_len)
{
	size_t cap = len + len / 2 + 4096, n = cap;
	uint8_t *buf = malloc(cap + 4);
	int err = -EINVAL;

	if (!strcmp(format, "gzip"))
		err = compress_gzip(in, len, buf, &n);
	else if (!strcmp(format, "xz"))
		err = compress_xz(in, len, buf, &n);
	else if (!strcmp(format, "lzma"))
		err = compress_lzma(in, len, buf, &n);
	else if (!strcmp(format, "zstd"))
		err = compress_zstd(in, len, buf, &n);
	if (err) {
		free(buf);
		return err;
	}
	/* kbuild's size_append: the unpacked size, little-endian. */
	for (unsigned i = 0; i < 4; i++)
		buf[n++] = (uint8_t)(len >> (8 * i));
	*out = buf;
	*out_len = n;
	return 0;
}

struct setup_header *bz_hdr(uint8_t *image)
{
	return (struct setup_header *)(image + BOOT_HDR_OFFSET);
}

struct test_elf make_bzimage(const uint8_t *payload, size_t len)
{
	const size_t setup = 5 * BOOT_SECTOR_SIZE, tail = 64;
	struct test_elf bz;
	struct setup_header *h;

	bz.len = setup + TEST_PM_STUB + len + tail;
	bz.buf = calloc(1, bz.len);
	fill_pattern(bz.buf, setup, 99);
	memset(bz.buf + BOOT_HDR_OFFSET, 0, BOOT_HDR_AREA_END - BOOT_HDR_OFFSET);
	fill_pattern(bz.buf + setup, TEST_PM_STUB, 98);
	memcpy(bz.buf + setup + TEST_PM_STUB, payload, len);
	fill_pattern(bz.buf + setup + TEST_PM_STUB + len, tail, 97);
	h = bz_hdr(bz.buf);
	h->setup_sects = 4;
	h->syssize = (uint32_t)((bz.len - setup + 15) / 16);
	h->boot_flag = BOOT_FLAG_MAGIC;
	h->jump = 0x6aeb; /* jmp short to 0x26c: the header ends there */
	h->header = BOOT_HDR_MAGIC;
	h->version = 0x020f;
	h->loadflags = LOADED_HIGH;
	h->code32_start = 0x100000;
	h->initrd_addr_max = 0x7fffffff;
	h->kernel_alignment = 0x200000;
	h->relocatable_kernel = 1;
	h->min_alignment = 21;
	h->xloadflags = XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G;
	h->cmdline_size = 0x7ff;
	h->payload_offset = TEST_PM_STUB;
	h->payload_length = (uint32_t)len;
	h->pref_address = 0x1000000;
	h->init_size = 0x400000;
	return bz;
}
