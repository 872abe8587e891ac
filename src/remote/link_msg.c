/*
 * Link messages: the per-command rules every message must pass, on receive
 * and before sending, and the builders. The rules are stricter than QEMU
 * 7.2's own checks where QEMU would misbehave; docs/mpqemu.md compares them.
 */
#include "remote/link.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

/* The payload layouts are QEMU's on x86-64, byte for byte. */
_Static_assert(sizeof(struct link_sysmem) == 192, "SyncSysmemMsg");
_Static_assert(offsetof(struct link_sysmem, sizes) == 64, "SyncSysmemMsg.sizes");
_Static_assert(offsetof(struct link_sysmem, offsets) == 128, "SyncSysmemMsg.offsets");
_Static_assert(sizeof(struct link_pci_conf) == 12, "PciConfDataMsg");
_Static_assert(sizeof(struct link_bar_access) == 24, "BarAccessMsg");
_Static_assert(offsetof(struct link_bar_access, size) == 16, "BarAccessMsg.size");
_Static_assert(offsetof(struct link_bar_access, memory) == 20, "BarAccessMsg.memory");
_Static_assert(LINK_QEMU_PAYLOAD_MAX <= LINK_PAYLOAD_MAX, "receive buffer");
_Static_assert(sizeof(struct link_hello) == 16, "link_hello");
_Static_assert(sizeof(struct link_doorbell) == 24, "link_doorbell");
_Static_assert(sizeof(struct link_inflight) == 16, "link_inflight");

#define PAGE_MASK_4K 0xfffull
#define PCI_ID_DWORD 0 /* vendor and device ID */
#define IO_SPACE_END 0x10000ull

static int bad(const char **why, const char *reason)
{
	*why = reason;
	return -EBADMSG;
}

/* [a, a+size) and [b, b+size) as inclusive ranges, sizes non-zero. */
static bool ranges_overlap(uint64_t a, uint64_t asize, uint64_t b, uint64_t bsize)
{
	return a <= b + (bsize - 1) && b <= a + (asize - 1);
}

static int check_region(const struct link_sysmem *s, unsigned int i, const char **why)
{
	uint64_t gpa = s->gpas[i], size = s->sizes[i];
	int64_t off = s->offsets[i];

	if (size == 0)
		return bad(why, "empty RAM region");
	/* The device process maps regions: pages in the file and in the guest. */
	if ((gpa | size | (uint64_t)off) & PAGE_MASK_4K)
		return bad(why, "RAM region not 4 KiB aligned");
	if (size - 1 > UINT64_MAX - gpa)
		return bad(why, "RAM region wraps the address space");
	if (off < 0 || size > (uint64_t)INT64_MAX - (uint64_t)off)
		return bad(why, "RAM region offset out of range");
	for (unsigned int j = 0; j < i; j++) {
		if (ranges_overlap(gpa, size, s->gpas[j], s->sizes[j]))
			return bad(why, "RAM regions overlap");
	}
	return 0;
}

static int check_sysmem(const struct link_msg *m, const char **why)
{
	for (unsigned int i = 0; i < m->nfds; i++) {
		int err = check_region(&m->data.sysmem, i, why);

		if (err)
			return err;
	}
	return 0;
}

static int check_ret(const struct link_msg *m, const char **why)
{
	/* QEMU answers DEVICE_RESET with an empty RET, everything else with 8 bytes. */
	if (m->size != 0 && m->size != sizeof(uint64_t))
		return bad(why, "RET payload neither 0 nor 8 bytes");
	return 0;
}

static int check_cfg(const struct link_msg *m, const char **why)
{
	const struct link_pci_conf *c = &m->data.conf;

	if (c->len != 1 && c->len != 2 && c->len != 4)
		return bad(why, "config access length not 1, 2 or 4");
	if (c->addr > LINK_CFG_SPACE - (uint32_t)c->len)
		return bad(why, "config access beyond 4 KiB");
	return 0;
}

static int check_bar(const struct link_msg *m, const char **why)
{
	const struct link_bar_access *b = &m->data.bar;

	if (b->size != 1 && b->size != 2 && b->size != 4 && b->size != 8)
		return bad(why, "BAR access size not 1, 2, 4 or 8");
	if (b->memory > 1)
		return bad(why, "BAR access space neither memory nor I/O");
	if (b->addr > UINT64_MAX - (b->size - 1))
		return bad(why, "BAR access wraps the address space");
	if (!b->memory && b->addr + b->size > IO_SPACE_END)
		return bad(why, "BAR access beyond I/O space");
	return 0;
}

#define FROM_PROXY LINK_ROLE_PROXY
#define FROM_REMOTE LINK_ROLE_REMOTE

static const struct link_cmd_rule qemu_rules[LINK_QEMU_NCMDS] = {
	[LINK_SYNC_SYSMEM] = { sizeof(struct link_sysmem), sizeof(struct link_sysmem),
			       1, LINK_MAX_FDS, FROM_PROXY, check_sysmem },
	[LINK_RET] = { 0, sizeof(uint64_t), 0, 0, FROM_REMOTE, check_ret },
	[LINK_PCI_CFGWRITE] = { sizeof(struct link_pci_conf), sizeof(struct link_pci_conf),
				0, 0, FROM_PROXY, check_cfg },
	[LINK_PCI_CFGREAD] = { sizeof(struct link_pci_conf), sizeof(struct link_pci_conf),
			       0, 0, FROM_PROXY, check_cfg },
	[LINK_BAR_WRITE] = { sizeof(struct link_bar_access), sizeof(struct link_bar_access),
			     0, 0, FROM_PROXY, check_bar },
	[LINK_BAR_READ] = { sizeof(struct link_bar_access), sizeof(struct link_bar_access),
			    0, 0, FROM_PROXY, check_bar },
	[LINK_SET_IRQFD] = { 0, 0, 2, 2, FROM_PROXY, NULL },
	[LINK_DEVICE_RESET] = { 0, 0, 0, 0, FROM_PROXY, NULL },
};

/* ---- extensions (issue 7): accepted only once negotiated ---------------- */

static int check_hello(const struct link_msg *m, const char **why)
{
	const struct link_hello *h = &m->data.hello;

	if (h->version == 0)
		return bad(why, "extension version 0");
	if (h->heartbeat_ms > LINK_HEARTBEAT_MAX_MS)
		return bad(why, "heartbeat period out of range");
	return 0;
}

static int check_posted(const struct link_msg *m, const char **why)
{
	/* PCI posts memory writes only; I/O and config writes wait for completion. */
	if (m->data.bar.memory != 1)
		return bad(why, "posted write to I/O space");
	return check_bar(m, why);
}

static int check_msix_fds(const struct link_msg *m, const char **why)
{
	const struct link_msix_fds *x = &m->data.msix;

	if (x->count != m->nfds)
		return bad(why, "MSI-X vector count differs from the fds carried");
	if (x->first >= LINK_MSIX_MAX || x->count > LINK_MSIX_MAX - x->first)
		return bad(why, "MSI-X vectors out of range");
	return 0;
}

static int check_doorbell(const struct link_msg *m, const char **why)
{
	const struct link_doorbell *d = &m->data.doorbell;

	if (d->id >= LINK_DOORBELL_MAX)
		return bad(why, "doorbell id out of range");
	if (m->cmd == LINK_EXT_DOORBELL_DEL)
		return 0;
	if (d->bar >= 6)
		return bad(why, "doorbell BAR out of range");
	if (d->len != 1 && d->len != 2 && d->len != 4 && d->len != 8)
		return bad(why, "doorbell length not 1, 2, 4 or 8");
	if (d->flags & ~LINK_DOORBELL_DATAMATCH || d->pad)
		return bad(why, "unknown doorbell flags");
	if (d->offset > UINT64_MAX - d->len)
		return bad(why, "doorbell offset out of range");
	return 0;
}

static int check_fastchan(const struct link_msg *m, const char **why)
{
	if (m->data.fastchan.size != LINK_FASTCHAN_SIZE)
		return bad(why, "fast channel not of one page");
	return 0;
}

static int check_inflight(const struct link_msg *m, const char **why)
{
	const struct link_inflight *j = &m->data.inflight;

	if (j->version == 0 || j->pad)
		return bad(why, "journal version 0 or padding set");
	if (j->size == 0 || j->size > (1ull << 30))
		return bad(why, "journal size out of range");
	return 0;
}

#define EXT(cmd) [(cmd) - LINK_EXT_BASE]

static const struct link_cmd_rule ext_rules[LINK_EXT_END - LINK_EXT_BASE] = {
	EXT(LINK_EXT_HELLO) = { sizeof(struct link_hello), sizeof(struct link_hello), 0, 0,
				FROM_PROXY, check_hello },
	EXT(LINK_EXT_HEARTBEAT) = { sizeof(uint64_t), sizeof(uint64_t), 0, 0, FROM_PROXY, NULL },
	EXT(LINK_EXT_BAR_WRITE) = { sizeof(struct link_bar_access),
				    sizeof(struct link_bar_access), 0, 0, FROM_PROXY,
				    check_posted },
	EXT(LINK_EXT_MSIX_FDS) = { sizeof(struct link_msix_fds), sizeof(struct link_msix_fds), 1,
				   LINK_MAX_FDS, FROM_PROXY, check_msix_fds },
	EXT(LINK_EXT_DOORBELL_ADD) = { sizeof(struct link_doorbell),
				       sizeof(struct link_doorbell), 1, 1, FROM_REMOTE,
				       check_doorbell },
	EXT(LINK_EXT_DOORBELL_DEL) = { sizeof(struct link_doorbell),
				       sizeof(struct link_doorbell), 0, 0, FROM_REMOTE,
				       check_doorbell },
	EXT(LINK_EXT_FASTCHAN) = { sizeof(struct link_fastchan), sizeof(struct link_fastchan), 1,
				   1, FROM_PROXY, check_fastchan },
	EXT(LINK_EXT_INFLIGHT) = { sizeof(struct link_inflight), sizeof(struct link_inflight),
				   1, 1, FROM_PROXY, check_inflight },
};

const struct link_ext link_ext_v1 = {
	.rules = ext_rules,
	.nrules = LINK_EXT_END - LINK_EXT_BASE,
};

static const char *const cmd_names[LINK_QEMU_NCMDS] = {
	"SYNC_SYSMEM", "RET", "PCI_CFGWRITE", "PCI_CFGREAD",
	"BAR_WRITE", "BAR_READ", "SET_IRQFD", "DEVICE_RESET",
};

static const char *const ext_names[LINK_EXT_END - LINK_EXT_BASE] = {
	"EXT_HELLO", "EXT_HEARTBEAT", "EXT_BAR_WRITE", "EXT_MSIX_FDS",
	"EXT_DOORBELL_ADD", "EXT_DOORBELL_DEL",
	"EXT_FASTCHAN",
	[LINK_EXT_INFLIGHT - LINK_EXT_BASE] = "EXT_INFLIGHT",
};

const char *link_cmd_name(uint32_t cmd)
{
	if (cmd < LINK_QEMU_NCMDS)
		return cmd_names[cmd];
	if (cmd >= LINK_EXT_BASE && cmd < LINK_EXT_END)
		return ext_names[cmd - LINK_EXT_BASE];
	return cmd >= LINK_EXT_BASE ? "extension" : "unknown";
}

const struct link_cmd_rule *link_rule(const struct link_ext *ext, uint32_t cmd)
{
	const struct link_cmd_rule *r;

	if (cmd < LINK_QEMU_NCMDS)
		return &qemu_rules[cmd];
	if (!ext || cmd < LINK_EXT_BASE || cmd - LINK_EXT_BASE >= ext->nrules)
		return NULL;
	r = &ext->rules[cmd - LINK_EXT_BASE];
	/* An empty slot (no sender) is a number not in use. */
	return r->senders && r->max_size <= LINK_PAYLOAD_MAX ? r : NULL;
}

int link_validate(const struct link *l, enum link_role sender, const struct link_msg *m,
		  const char **why)
{
	const struct link_cmd_rule *r = link_rule(l->ext, m->cmd);

	if (!r)
		return bad(why, "unknown command");
	if (!(r->senders & sender))
		return bad(why, sender == LINK_ROLE_PROXY ? "command not sent by a proxy"
							  : "command not sent by a device process");
	if (m->size < r->min_size || m->size > r->max_size)
		return bad(why, "wrong payload size");
	if (m->nfds < r->min_fds || m->nfds > r->max_fds)
		return bad(why, m->nfds > r->max_fds ? "too many fds" : "too few fds");
	if (m->cmd == LINK_SYNC_SYSMEM && m->nfds > l->max_regions)
		return bad(why, "more RAM regions than this link takes");
	return r->check ? r->check(m, why) : 0;
}

void link_msg_close_fds(struct link_msg *m)
{
	for (unsigned int i = 0; i < m->nfds && i < LINK_MAX_FDS; i++) {
		if (m->fds[i] >= 0)
			close(m->fds[i]);
		m->fds[i] = -1;
	}
	m->nfds = 0;
}

static void msg_start(struct link_msg *m, uint32_t cmd, uint32_t size)
{
	memset(m, 0, sizeof(*m));
	m->cmd = cmd;
	m->size = size;
	for (unsigned int i = 0; i < LINK_MAX_FDS; i++)
		m->fds[i] = -1;
}

void link_msg_cfg(struct link_msg *m, uint32_t cmd, uint32_t addr, uint32_t val, int len)
{
	msg_start(m, cmd, sizeof(m->data.conf));
	m->data.conf.addr = addr;
	m->data.conf.val = cmd == LINK_PCI_CFGWRITE ? val : 0;
	m->data.conf.len = len;
}

void link_msg_bar(struct link_msg *m, uint32_t cmd, uint64_t addr, uint64_t val,
		  unsigned int size, bool memory)
{
	msg_start(m, cmd, sizeof(m->data.bar));
	m->data.bar.addr = addr;
	m->data.bar.val = cmd == LINK_BAR_WRITE ? val : 0;
	m->data.bar.size = size;
	m->data.bar.memory = memory;
}

void link_msg_irqfd(struct link_msg *m, int irqfd, int resamplefd)
{
	msg_start(m, LINK_SET_IRQFD, 0);
	m->fds[0] = irqfd;
	m->fds[1] = resamplefd;
	m->nfds = 2;
}

void link_msg_reset(struct link_msg *m)
{
	msg_start(m, LINK_DEVICE_RESET, 0);
}

void link_msg_sysmem(struct link_msg *m)
{
	msg_start(m, LINK_SYNC_SYSMEM, sizeof(m->data.sysmem));
}

int link_msg_sysmem_add(struct link_msg *m, int fd, uint64_t gpa, uint64_t size, int64_t offset)
{
	unsigned int i = m->nfds;

	if (i >= LINK_MAX_FDS)
		return -E2BIG;
	m->data.sysmem.gpas[i] = gpa;
	m->data.sysmem.sizes[i] = size;
	m->data.sysmem.offsets[i] = offset;
	m->fds[i] = fd;
	m->nfds = i + 1;
	return 0;
}

void link_hdr_encode(uint8_t out[LINK_HDR_SIZE], uint32_t cmd, uint64_t size)
{
	/* x86-64 is little-endian: int cmd, 4 bytes of padding, size_t size. */
	memset(out, 0, LINK_HDR_SIZE);
	memcpy(out, &cmd, sizeof(cmd));
	memcpy(out + 8, &size, sizeof(size));
}

/* ---- extension builders ------------------------------------------------------ */

void link_msg_hello_probe(struct link_msg *m)
{
	link_msg_cfg(m, LINK_PCI_CFGREAD, PCI_ID_DWORD, 0, 4);
	m->data.conf.val = LINK_HELLO_MAGIC;
}

bool link_is_hello_probe(const struct link_msg *m)
{
	const struct link_pci_conf *c = &m->data.conf;

	return m->cmd == LINK_PCI_CFGREAD && c->addr == PCI_ID_DWORD && c->len == 4 &&
	       c->val == LINK_HELLO_MAGIC;
}

void link_msg_hello(struct link_msg *m, uint64_t features, unsigned heartbeat_ms)
{
	msg_start(m, LINK_EXT_HELLO, sizeof(m->data.hello));
	m->data.hello.version = LINK_EXT_VERSION;
	m->data.hello.heartbeat_ms = heartbeat_ms;
	m->data.hello.features = features;
}

void link_msg_heartbeat(struct link_msg *m, uint64_t seq)
{
	msg_start(m, LINK_EXT_HEARTBEAT, sizeof(uint64_t));
	m->data.u64 = seq;
}

void link_msg_msix_fds(struct link_msg *m, uint32_t first)
{
	msg_start(m, LINK_EXT_MSIX_FDS, sizeof(m->data.msix));
	m->data.msix.first = first;
}

int link_msg_msix_fds_add(struct link_msg *m, int fd)
{
	if (m->nfds >= LINK_MAX_FDS)
		return -E2BIG;
	m->fds[m->nfds++] = fd;
	m->data.msix.count = m->nfds;
	return 0;
}

void link_msg_doorbell(struct link_msg *m, uint32_t cmd, const struct link_doorbell *d, int fd)
{
	msg_start(m, cmd, sizeof(m->data.doorbell));
	m->data.doorbell = *d;
	if (cmd == LINK_EXT_DOORBELL_ADD) {
		m->fds[0] = fd;
		m->nfds = 1;
	}
}

void link_msg_fastchan(struct link_msg *m, int fd, uint64_t size)
{
	msg_start(m, LINK_EXT_FASTCHAN, sizeof(m->data.fastchan));
	m->data.fastchan.size = size;
	m->fds[0] = fd;
	m->nfds = 1;
}

void link_msg_inflight(struct link_msg *m, uint32_t version, uint64_t size, int fd)
{
	msg_start(m, LINK_EXT_INFLIGHT, sizeof(m->data.inflight));
	m->data.inflight.version = version;
	m->data.inflight.size = size;
	m->fds[0] = fd;
	m->nfds = 1;
}
