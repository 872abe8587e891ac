/*
 * ELF64 x86-64 loading from a sequential stream: the headers go into a small
 * buffer, then each PT_LOAD segment is read straight into guest RAM at its
 * p_paddr and its bss cleared. The same code loads a vmlinux or test guest
 * from a file and a vmlinux coming out of a decompressor.
 */
#include <elf.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/boot/boot.h"
#include "arch/x86/layout.h"

#define ELF_HDR_MAX   (64 * 1024) /* ELF header + program headers */
#define ELF_PHNUM_MAX 128

struct elf_ctx {
	struct kstream *s;
	struct guest_memory *mem;
	const struct logger *lg;
	const char *name;
	uint8_t *hdr;   /* the first hdr_len bytes of the file */
	size_t hdr_len;
	Elf64_Phdr load[ELF_PHNUM_MAX];
	unsigned nload;
};

static int elf_bad(const struct elf_ctx *c, const char *what)
{
	log_error(c->lg, "%s: %s", c->name, what);
	return -ENOEXEC;
}

static int elf_check_ehdr(const struct elf_ctx *c, const Elf64_Ehdr *eh)
{
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG))
		return elf_bad(c, "not an ELF file");
	if (eh->e_ident[EI_CLASS] != ELFCLASS64)
		return elf_bad(c, "not a 64-bit ELF file (ELF class is not ELFCLASS64)");
	if (eh->e_ident[EI_DATA] != ELFDATA2LSB)
		return elf_bad(c, "not a little-endian ELF file");
	if (eh->e_machine != EM_X86_64)
		return elf_bad(c, "ELF machine is not x86-64");
	if (eh->e_type != ET_EXEC)
		return elf_bad(c, "ELF file is not an executable (ET_EXEC)");
	if (eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phnum == 0 ||
	    eh->e_phnum > ELF_PHNUM_MAX || eh->e_phoff < sizeof(*eh) ||
	    eh->e_phoff > ELF_HDR_MAX - (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr))
		return elf_bad(c, "malformed or unsupported ELF program header table");
	return 0;
}

/* Reads the ELF header and the program headers into c->hdr. */
static int elf_read_headers(struct elf_ctx *c, Elf64_Ehdr *eh)
{
	int err = c->s->read(c->s, eh, sizeof(*eh));

	if (err == -ENODATA)
		return elf_bad(c, "too short for an ELF header");
	if (err)
		return err;
	err = elf_check_ehdr(c, eh);
	if (err)
		return err;
	c->hdr_len = eh->e_phoff + eh->e_phnum * sizeof(Elf64_Phdr);
	c->hdr = malloc(c->hdr_len);
	if (!c->hdr)
		return -ENOMEM;
	memcpy(c->hdr, eh, sizeof(*eh));
	err = c->s->read(c->s, c->hdr + sizeof(*eh), c->hdr_len - sizeof(*eh));
	if (err == -ENODATA)
		return elf_bad(c, "program headers lie outside the file");
	return err;
}

static int elf_check_segment(const struct elf_ctx *c, unsigned i, const Elf64_Phdr *ph)
{
	uint64_t end = ph->p_paddr + ph->p_memsz;

	if (ph->p_filesz > ph->p_memsz || ph->p_offset + ph->p_filesz < ph->p_offset ||
	    ph->p_offset + ph->p_filesz > c->s->size) {
		log_error(c->lg, "%s: segment %u (file offset 0x%" PRIx64 ", 0x%" PRIx64
			  " bytes) lies outside the file", c->name, i, ph->p_offset, ph->p_filesz);
		return -ENOEXEC;
	}
	if (end < ph->p_paddr || ph->p_paddr < X86_HIGH_MEM_START ||
	    !gpa_is_ram(c->mem, gpa(ph->p_paddr), ph->p_memsz)) {
		log_error(c->lg, "%s: segment %u at 0x%" PRIx64 "-0x%" PRIx64 " does not fit in "
			  "guest RAM (%" PRIu64 " MiB, usable from 1 MiB)", c->name, i,
			  ph->p_paddr, end, c->mem->total >> 20);
		return -EFBIG;
	}
	return 0;
}

/* Collects, checks and sorts (by file offset) the PT_LOAD segments. */
static int elf_collect(struct elf_ctx *c, const Elf64_Ehdr *eh)
{
	int err;

	for (unsigned i = 0; i < eh->e_phnum; i++) {
		Elf64_Phdr ph; /* copied out: e_phoff need not be aligned */
		unsigned j;

		memcpy(&ph, c->hdr + eh->e_phoff + i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		err = elf_check_segment(c, i, &ph);
		if (err)
			return err;
		for (j = c->nload; j > 0 && c->load[j - 1].p_offset > ph.p_offset; j--)
			c->load[j] = c->load[j - 1];
		c->load[j] = ph;
		c->nload++;
	}
	if (!c->nload)
		return elf_bad(c, "no loadable segment");
	return 0;
}

static int elf_load_segment(struct elf_ctx *c, const Elf64_Phdr *ph)
{
	uint8_t *dst = gpa_to_hva(c->mem, gpa(ph->p_paddr), ph->p_memsz);
	uint64_t off = ph->p_offset, len = ph->p_filesz;
	int err = 0;

	/* Segments may start inside the headers (offset 0 is common). */
	if (off < c->hdr_len) {
		uint64_t n = len < c->hdr_len - off ? len : c->hdr_len - off;

		memcpy(dst, c->hdr + off, n);
		off += n;
		len -= n;
	}
	if (len && off < c->s->pos) {
		/* Only a file can go back; a decompressor streams forward. */
		if (!c->s->rewind)
			return elf_bad(c, "segments overlap in the file (unsupported)");
		c->s->rewind(c->s, off);
	}
	if (len)
		err = c->s->skip(c->s, off - c->s->pos);
	if (len && !err)
		err = c->s->read(c->s, dst + (off - ph->p_offset), len);
	if (err == -ENODATA) {
		log_error(c->lg, "%s: segment at file offset 0x%" PRIx64 " lies outside the file",
			  c->name, ph->p_offset);
		return -ENOEXEC;
	}
	if (!err)
		memset(dst + ph->p_filesz, 0, ph->p_memsz - ph->p_filesz);
	return err;
}

/* e_entry is physical in a vmlinux (phys_startup_64); convert if virtual. */
static int elf_entry(struct elf_ctx *c, uint64_t e, uint64_t *out)
{
	for (unsigned i = 0; i < c->nload; i++) {
		const Elf64_Phdr *ph = &c->load[i];

		if (e >= ph->p_paddr && e - ph->p_paddr < ph->p_memsz)
			goto found;
	}
	for (unsigned i = 0; i < c->nload; i++) {
		const Elf64_Phdr *ph = &c->load[i];

		if ((ph->p_flags & PF_X) && e >= ph->p_vaddr && e - ph->p_vaddr < ph->p_memsz) {
			e = e - ph->p_vaddr + ph->p_paddr;
			goto found;
		}
	}
	return elf_bad(c, "entry point lies outside the loadable segments");
found:
	if (e >= X86_4G)
		return elf_bad(c, "entry point lies above 4 GiB");
	*out = e;
	return 0;
}

int elf_load(struct kstream *s, struct guest_memory *mem, const struct logger *lg,
	     const char *name, struct elf_image *out)
{
	struct elf_ctx *c = calloc(1, sizeof(*c));
	Elf64_Ehdr eh;
	int err;

	if (!c)
		return -ENOMEM;
	*c = (struct elf_ctx){ .s = s, .mem = mem, .lg = lg, .name = name };
	err = elf_read_headers(c, &eh);
	if (!err)
		err = elf_collect(c, &eh);
	for (unsigned i = 0; !err && i < c->nload; i++)
		err = elf_load_segment(c, &c->load[i]);
	if (!err)
		err = elf_entry(c, eh.e_entry, &out->entry);
	if (err)
		goto out;
	out->lo = UINT64_MAX;
	out->hi = 0;
	for (unsigned i = 0; i < c->nload; i++) {
		const Elf64_Phdr *ph = &c->load[i];

		if (ph->p_paddr < out->lo)
			out->lo = ph->p_paddr;
		if (ph->p_paddr + ph->p_memsz > out->hi)
			out->hi = ph->p_paddr + ph->p_memsz;
	}
out:
	free(c->hdr);
	free(c);
	return err;
}
