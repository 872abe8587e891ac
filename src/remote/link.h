/*
 * The link between a proxy PCI device (VMM side) and its device process
 * (remote side): QEMU 7.2's multi-process ("mpqemu") wire protocol over a
 * UNIX stream socket, byte-compatible on x86-64. docs/mpqemu.md describes
 * the format and what QEMU itself accepts.
 *
 * A message is a 16-byte header {le32 cmd, 4 bytes padding, le64 size}, then
 * `size` payload bytes; file descriptors ride with the first byte of the
 * header as SCM_RIGHTS. Every received message is validated (command, exact
 * payload size, fd count, ranges) before the caller sees it; a bad message
 * breaks the link with one logged error, and every fd it carried is closed.
 *
 * Both roles use the same object:
 *  - the proxy sends requests and waits for RET with link_call() on a vCPU
 *    thread, bounded by a timeout; link_send() for requests without reply
 *    (SYNC_SYSMEM, SET_IRQFD). A mutex keeps each request/reply pair whole
 *    when several threads share one link; on a proxy link only link_call()
 *    receives.
 *  - the remote reads requests with link_recv_nb() from its event loop
 *    (the socket stays readable-driven, partial messages are kept in the
 *    link) and answers with link_send_ret().
 */
#ifndef REMOTE_LINK_H
#define REMOTE_LINK_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/log.h"

#define LINK_HDR_SIZE 16
/* SYNC_SYSMEM's arrays and QEMU's fd limit (REMOTE_MAX_FDS). */
#define LINK_MAX_FDS 8
/* QEMU 7.2's remote refuses a message with 8 fds: at most 7 RAM regions. */
#define LINK_QEMU_MAX_REGIONS 7
/* Largest payload a QEMU peer reads (its payload union). */
#define LINK_QEMU_PAYLOAD_MAX 192
/* Our receive buffer; extension payloads may use all of it. */
#define LINK_PAYLOAD_MAX 256
/* Config space of a PCI Express function; conventional PCI uses 256. */
#define LINK_CFG_SPACE 4096

/* Command numbers are QEMU's enum order: they are wire values. */
enum link_cmd {
	LINK_SYNC_SYSMEM = 0,
	LINK_RET = 1,
	LINK_PCI_CFGWRITE = 2,
	LINK_PCI_CFGREAD = 3,
	LINK_BAR_WRITE = 4,
	LINK_BAR_READ = 5,
	LINK_SET_IRQFD = 6,
	LINK_DEVICE_RESET = 7,
	LINK_QEMU_NCMDS = 8,
	/*
	 * splitvm's own commands (issue 7) live at LINK_EXT_BASE and above. A
	 * QEMU peer ends its link on any of them, so they are sent only after
	 * negotiation, and received only on a link given an extension table.
	 */
	LINK_EXT_BASE = 0x1000,
	/* proxy: struct link_hello; RET: the features the device process takes */
	LINK_EXT_HELLO = LINK_EXT_BASE,
	/* proxy: a uint64_t sequence number; RET: the same number */
	LINK_EXT_HEARTBEAT,
	/* proxy: a memory-space BarAccessMsg that gets no RET (posted) */
	LINK_EXT_BAR_WRITE,
	/* proxy: struct link_msix_fds and one eventfd per vector */
	LINK_EXT_MSIX_FDS,
	/* device process, just before a RET: struct link_doorbell and its eventfd */
	LINK_EXT_DOORBELL_ADD,
	/* device process, just before a RET: struct link_doorbell (id only) */
	LINK_EXT_DOORBELL_DEL,
	/* proxy: struct link_fastchan and the channel's memfd (fastchan.h); RET 0 */
	LINK_EXT_FASTCHAN,
	/* proxy: struct link_inflight and the journal's memfd (no answer) */
	LINK_EXT_INFLIGHT,
	LINK_EXT_END,
};

/*
 * Negotiation (docs/mpqemu.md, "Extensions"). The proxy's first request is
 * a PCI_CFGREAD of the IDs (offset 0, 4 bytes) whose val, which QEMU
 * ignores in a read, is LINK_HELLO_MAGIC. QEMU answers the IDs (32 bits);
 * splitvm's remote answers them with LINK_HELLO_REPLY in the upper half of
 * the RET and from then on takes the extension commands; the proxy then
 * sends EXT_HELLO. QEMU's proxy sends val 0 in reads, so a splitvm remote
 * behind it never leaves plain mpqemu either.
 */
#define LINK_HELLO_MAGIC 0x5e1f7e57u
#define LINK_HELLO_REPLY 0x53504c56u /* "VLPS" */
#define LINK_EXT_VERSION 1

/* Features of EXT_HELLO: the proxy offers, the device process answers the subset it takes. */
#define LINK_F_HEARTBEAT (1ull << 0) /* EXT_HEARTBEAT requests */
#define LINK_F_POSTED (1ull << 1)    /* EXT_BAR_WRITE for memory-space writes */
#define LINK_F_MSIX (1ull << 2)      /* the proxy owns the MSI-X table: EXT_MSIX_FDS */
#define LINK_F_DOORBELL (1ull << 3)  /* EXT_DOORBELL_ADD/DEL from the device process */
#define LINK_F_FASTCHAN (1ull << 4)  /* EXT_FASTCHAN: config and BAR accesses in shared memory */
#define LINK_F_INFLIGHT (1ull << 5)  /* EXT_INFLIGHT: the virtqueue journal */
#define LINK_F_ALL (LINK_F_HEARTBEAT | LINK_F_POSTED | LINK_F_MSIX | LINK_F_DOORBELL | \
		    LINK_F_FASTCHAN)

/* Doorbells a device process may have at once; MSI-X vectors EXT_MSIX_FDS may name. */
#define LINK_DOORBELL_MAX 64
#define LINK_MSIX_MAX 2048
#define LINK_HEARTBEAT_MAX_MS 3600000

struct link_hello {
	uint32_t version;      /* LINK_EXT_VERSION */
	uint32_t heartbeat_ms; /* the proxy's period; 0: none */
	uint64_t features;     /* LINK_F_* offered */
};

/* Vectors [first, first + count) signal the count fds carried, in order. */
struct link_msix_fds {
	uint32_t first;
	uint32_t count;
};

#define LINK_DOORBELL_DATAMATCH 0x1

/*
 * A doorbell in BAR bar at offset: a guest write of len bytes there (of
 * value datamatch, with LINK_DOORBELL_DATAMATCH) signals the eventfd
 * instead of becoming a BAR_WRITE. id (< LINK_DOORBELL_MAX) names it.
 */
struct link_doorbell {
	uint32_t id;
	uint8_t bar;
	uint8_t len;
	uint8_t flags;
	uint8_t pad;
	uint64_t offset;
	uint64_t datamatch;
};

/* EXT_FASTCHAN: the memfd carried holds the channel's page. */
#define LINK_FASTCHAN_SIZE 4096
struct link_fastchan {
	uint64_t size; /* LINK_FASTCHAN_SIZE */
};

/* The virtqueue journal (hw/virtio/vq_journal.h): size bytes of the memfd carried. */
struct link_inflight {
	uint32_t version; /* VQ_JOURNAL_VERSION */
	uint32_t pad;
	uint64_t size;
};

/* QEMU's SyncSysmemMsg: slots [0, nfds) are used, one fd each. */
struct link_sysmem {
	uint64_t gpas[LINK_MAX_FDS];
	uint64_t sizes[LINK_MAX_FDS];
	int64_t offsets[LINK_MAX_FDS]; /* off_t: offset of the region in its fd */
};

/* QEMU's PciConfDataMsg. val is ignored in a read request. */
struct link_pci_conf {
	uint32_t addr;
	uint32_t val;
	int32_t len;
};

/* QEMU's BarAccessMsg: addr is an absolute bus address in memory or I/O space. */
struct link_bar_access {
	uint64_t addr;
	uint64_t val;
	uint32_t size;
	uint8_t memory; /* a C bool in QEMU: 1 memory space, 0 I/O space */
	uint8_t pad[3];
};

struct link_msg {
	uint32_t cmd;
	uint32_t size; /* payload bytes; a size_t on the wire */
	union {
		uint64_t u64; /* RET */
		struct link_sysmem sysmem;
		struct link_pci_conf conf;
		struct link_bar_access bar;
		struct link_hello hello;
		struct link_msix_fds msix;
		struct link_doorbell doorbell;
		struct link_fastchan fastchan;
		struct link_inflight inflight;
		uint8_t raw[LINK_PAYLOAD_MAX];
	} data;
	int fds[LINK_MAX_FDS];
	unsigned int nfds;
};

/* Which end of a link we are; a rule names the ends that may send a command. */
enum link_role {
	LINK_ROLE_PROXY = 1,  /* the VMM: sends requests */
	LINK_ROLE_REMOTE = 2, /* the device process: answers with RET */
};

/* What a command may carry: exact or bounded payload size and fd count. */
struct link_cmd_rule {
	uint32_t min_size, max_size;
	uint8_t min_fds, max_fds;
	uint8_t senders; /* mask of enum link_role */
	/* Further checks of the payload; 0 or -EBADMSG with *why set. */
	int (*check)(const struct link_msg *m, const char **why);
};

/* Extension commands a link accepts: rules[i] is for LINK_EXT_BASE + i. */
struct link_ext {
	const struct link_cmd_rule *rules;
	unsigned int nrules;
};

/* Receive state of a partly read message (non-blocking use). */
struct link_rx {
	uint8_t hdr[LINK_HDR_SIZE];
	size_t got;   /* bytes of header + payload read so far */
	bool started; /* fds may arrive only with the first bytes */
	struct link_msg msg;
};

struct link {
	int fd;
	enum link_role role;
	const struct logger *log;
	const char *name;          /* for log lines, e.g. the device id */
	const struct link_ext *ext; /* NULL: QEMU's commands only */
	/*
	 * Proxy side: an extension message the device process sends while a
	 * reply is awaited (link lock held). Fds it keeps are set to -1 in m;
	 * a negative return breaks the link. NULL: such a message breaks it.
	 */
	int (*on_ext)(void *opaque, struct link_msg *m);
	void *ext_opaque;
	/* SYNC_SYSMEM regions accepted and sent; LINK_QEMU_MAX_REGIONS for QEMU */
	unsigned int max_regions;
	int err;                    /* sticky: the error that broke the link */
	bool in_call;               /* a reply is awaited: the peer may not leave */
	/*
	 * Optional: told once of what broke the link, instead of the log line
	 * (the proxy reports failures itself, with the device process's fate).
	 * Called on the failing thread, with the link's lock held.
	 */
	void (*on_break)(void *opaque, int err, const char *what);
	void *break_opaque;
	pthread_mutex_t lock;       /* one request/reply pair at a time */
	struct link_rx rx;
};

/*
 * fd: a connected SOCK_STREAM UNIX socket, the link's own on success (the
 * caller's on failure). name must outlive the link.
 */
int link_init(struct link *l, int fd, enum link_role role, const struct logger *log,
	      const char *name);
/* Closes the socket and any fds of a partly received message. */
void link_destroy(struct link *l);
static inline bool link_broken(const struct link *l)
{
	return l->err != 0;
}

/*
 * Sends m with its fds (which stay the caller's), whole or not at all
 * within timeout_ms (-1: no limit). Refuses a message that would not pass
 * our own validation. 0 or negative errno; a failure breaks the link.
 */
int link_send(struct link *l, const struct link_msg *m, int timeout_ms);
/* Answers a request: RET with an 8-byte value, or an empty one (DEVICE_RESET). */
int link_send_ret(struct link *l, uint64_t val, bool empty, int timeout_ms);

/*
 * Reads what the socket holds without blocking: 1 with a whole validated
 * message in *m (its fds now the caller's), 0 if more bytes are needed,
 * -EPIPE when the peer closed between messages, another negative errno
 * (-EBADMSG, -EPROTO, ...) when the link broke.
 */
int link_recv_nb(struct link *l, struct link_msg *m);
/*
 * Same, waiting up to timeout_ms (-1: no limit) for a whole message. Its
 * -ETIMEDOUT leaves the link up, a partial message kept for the next call.
 */
int link_recv(struct link *l, struct link_msg *m, int timeout_ms);

/*
 * Request/reply: sends req and waits for its RET, storing the RET's value
 * (0 for an empty RET) in *ret. A timeout breaks the link: a late reply
 * could otherwise answer the next request.
 */
int link_call(struct link *l, const struct link_msg *req, uint64_t *ret, int timeout_ms);

/*
 * Proxy side, no request pending: reads the extension messages the device
 * process sent on its own (each through on_ext) until done(opaque), within
 * timeout_ms. A RET here is a bad message; a timeout breaks the link.
 */
int link_take_ext(struct link *l, bool (*done)(void *opaque), void *opaque, int timeout_ms);

/* Breaks the link from outside (a bad answer): logged like any other failure. */
void link_break(struct link *l, int err, const char *why);

/*
 * Validation alone, of a message m sent by `sender` under l's settings
 * (extension table, region limit). 0 or -EBADMSG with *why set.
 */
int link_validate(const struct link *l, enum link_role sender, const struct link_msg *m,
		  const char **why);
/* The rule for cmd on a link with extension table ext, or NULL: unknown. */
const struct link_cmd_rule *link_rule(const struct link_ext *ext, uint32_t cmd);
void link_msg_close_fds(struct link_msg *m);
const char *link_cmd_name(uint32_t cmd);

/* Message builders: zero the whole message, then fill one command. */
void link_msg_cfg(struct link_msg *m, uint32_t cmd, uint32_t addr, uint32_t val, int len);
void link_msg_bar(struct link_msg *m, uint32_t cmd, uint64_t addr, uint64_t val,
		  unsigned int size, bool memory);
void link_msg_irqfd(struct link_msg *m, int irqfd, int resamplefd);
void link_msg_reset(struct link_msg *m);
/* Starts an empty SYNC_SYSMEM; link_msg_sysmem_add() appends a region. */
void link_msg_sysmem(struct link_msg *m);
int link_msg_sysmem_add(struct link_msg *m, int fd, uint64_t gpa, uint64_t size, int64_t offset);

/* The extension table both ends install once negotiation succeeded. */
extern const struct link_ext link_ext_v1;
/* The proxy's negotiation probe (a PCI_CFGREAD of the IDs) and its recognition. */
void link_msg_hello_probe(struct link_msg *m);
bool link_is_hello_probe(const struct link_msg *m);
void link_msg_hello(struct link_msg *m, uint64_t features, unsigned heartbeat_ms);
void link_msg_heartbeat(struct link_msg *m, uint64_t seq);
/* Starts an empty EXT_MSIX_FDS for vectors from first; add fds in order. */
void link_msg_msix_fds(struct link_msg *m, uint32_t first);
int link_msg_msix_fds_add(struct link_msg *m, int fd);
void link_msg_doorbell(struct link_msg *m, uint32_t cmd, const struct link_doorbell *d, int fd);
void link_msg_fastchan(struct link_msg *m, int fd, uint64_t size);
void link_msg_inflight(struct link_msg *m, uint32_t version, uint64_t size, int fd);

/* Wire encoding of a header, for tests and tools. */
void link_hdr_encode(uint8_t out[LINK_HDR_SIZE], uint32_t cmd, uint64_t size);

#endif
