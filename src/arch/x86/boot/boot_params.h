/*
 * The Linux/x86 zero page (struct boot_params) and the setup header inside
 * it, as Documentation/x86/boot.rst and zero-page.rst describe them. Only the
 * fields the loader touches are named; the rest is padding. Offsets are
 * checked at compile time against the documentation. Little-endian host.
 */
#ifndef ARCH_X86_BOOT_BOOT_PARAMS_H
#define ARCH_X86_BOOT_BOOT_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#define BOOT_HDR_OFFSET        0x1f1   /* setup header inside the zero page */
#define BOOT_HDR_JUMP_END      0x201   /* byte: header ends at 0x202 + it */
#define BOOT_HDR_AREA_END      0x290   /* room reserved for the header */
#define BOOT_FLAG_MAGIC        0xaa55
#define BOOT_HDR_MAGIC         0x53726448u /* "HdrS" */
#define BOOT_MIN_VERSION       0x020c      /* 2.12: xloadflags */
#define BOOT_SECTOR_SIZE       512
#define BOOT_DEFAULT_SETUP_SECTS 4         /* setup_sects == 0 means 4 */
#define BOOT_ENTRY64_OFFSET    0x200       /* 64-bit entry in protected-mode code */
#define BOOT_LOADER_UNDEFINED  0xff        /* type_of_loader: no assigned ID */

/* loadflags */
#define LOADED_HIGH            (1u << 0)
#define KASLR_FLAG             (1u << 1)
#define KEEP_SEGMENTS          (1u << 6)
#define CAN_USE_HEAP           (1u << 7)

/* xloadflags */
#define XLF_KERNEL_64              (1u << 0)
#define XLF_CAN_BE_LOADED_ABOVE_4G (1u << 1)

#define E820_RAM               1
#define E820_RESERVED          2
#define E820_MAX_ENTRIES_ZP    128

struct setup_header {
	uint8_t setup_sects;
	uint16_t root_flags;
	uint32_t syssize;
	uint16_t ram_size;
	uint16_t vid_mode;
	uint16_t root_dev;
	uint16_t boot_flag;
	uint16_t jump;
	uint32_t header;
	uint16_t version;
	uint32_t realmode_swtch;
	uint16_t start_sys_seg;
	uint16_t kernel_version;
	uint8_t type_of_loader;
	uint8_t loadflags;
	uint16_t setup_move_size;
	uint32_t code32_start;
	uint32_t ramdisk_image;
	uint32_t ramdisk_size;
	uint32_t bootsect_kludge;
	uint16_t heap_end_ptr;
	uint8_t ext_loader_ver;
	uint8_t ext_loader_type;
	uint32_t cmd_line_ptr;
	uint32_t initrd_addr_max;
	uint32_t kernel_alignment;
	uint8_t relocatable_kernel;
	uint8_t min_alignment;
	uint16_t xloadflags;
	uint32_t cmdline_size;
	uint32_t hardware_subarch;
	uint64_t hardware_subarch_data;
	uint32_t payload_offset;
	uint32_t payload_length;
	uint64_t setup_data;
	uint64_t pref_address;
	uint32_t init_size;
	uint32_t handover_offset;
	uint32_t kernel_info_offset;
} __attribute__((packed));

struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
} __attribute__((packed));

struct boot_params {
	uint8_t _pad0[0x0c0];
	uint32_t ext_ramdisk_image;
	uint32_t ext_ramdisk_size;
	uint32_t ext_cmd_line_ptr;
	uint8_t _pad1[0x1e8 - 0x0cc];
	uint8_t e820_entries;
	uint8_t _pad2[BOOT_HDR_OFFSET - 0x1e9]; /* incl. sentinel at 0x1ef: 0 */
	struct setup_header hdr;
	uint8_t _pad3[0x2d0 - BOOT_HDR_OFFSET - sizeof(struct setup_header)];
	struct e820_entry e820_table[E820_MAX_ENTRIES_ZP];
	uint8_t _pad4[0x1000 - 0x2d0 - E820_MAX_ENTRIES_ZP * sizeof(struct e820_entry)];
} __attribute__((packed));

#define HDR_OFF(f) (BOOT_HDR_OFFSET + offsetof(struct setup_header, f))

_Static_assert(HDR_OFF(boot_flag) == 0x1fe, "boot_flag");
_Static_assert(HDR_OFF(header) == 0x202, "header");
_Static_assert(HDR_OFF(type_of_loader) == 0x210, "type_of_loader");
_Static_assert(HDR_OFF(loadflags) == 0x211, "loadflags");
_Static_assert(HDR_OFF(ramdisk_image) == 0x218, "ramdisk_image");
_Static_assert(HDR_OFF(ramdisk_size) == 0x21c, "ramdisk_size");
_Static_assert(HDR_OFF(cmd_line_ptr) == 0x228, "cmd_line_ptr");
_Static_assert(HDR_OFF(initrd_addr_max) == 0x22c, "initrd_addr_max");
_Static_assert(HDR_OFF(xloadflags) == 0x236, "xloadflags");
_Static_assert(HDR_OFF(cmdline_size) == 0x238, "cmdline_size");
_Static_assert(HDR_OFF(payload_offset) == 0x248, "payload_offset");
_Static_assert(HDR_OFF(pref_address) == 0x258, "pref_address");
_Static_assert(HDR_OFF(init_size) == 0x260, "init_size");
_Static_assert(HDR_OFF(kernel_info_offset) + 4 == 0x26c, "setup header end");
_Static_assert(offsetof(struct boot_params, ext_ramdisk_image) == 0x0c0, "ext_ramdisk_image");
_Static_assert(offsetof(struct boot_params, ext_cmd_line_ptr) == 0x0c8, "ext_cmd_line_ptr");
_Static_assert(offsetof(struct boot_params, e820_entries) == 0x1e8, "e820_entries");
_Static_assert(offsetof(struct boot_params, e820_table) == 0x2d0, "e820_table");
_Static_assert(sizeof(struct boot_params) == 0x1000, "zero page size");

#endif
