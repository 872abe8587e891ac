/*
 * The fast channel (LINK_F_FASTCHAN, docs/mpqemu.md "Extensions"): config
 * and BAR accesses between the proxy and its device process through one
 * request slot in a page of shared memory instead of the socket.
 *
 * Each side publishes in a word of its own: seq << 1, and the other side
 * sets bit 0 in it before it sleeps on it (FUTEX_WAIT on the shared page),
 * so a wake-up syscall is made only for a side that sleeps. A waiting side
 * first spins for a while it adapts (struct fastchan_spin): spinning pays
 * when the other side runs on another CPU, and is pure loss when both
 * share one (the other side cannot run while we spin).
 *
 * Both sides treat the page as hostile: a request or reply is copied once,
 * then checked; the VMM waits at most until its deadline, and its failure
 * flag (fastchan_vmm_fail()) lives in its own memory.
 */
#ifndef REMOTE_FASTCHAN_H
#define REMOTE_FASTCHAN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "remote/link.h"

#define FASTCHAN_SIZE LINK_FASTCHAN_SIZE
#define FASTCHAN_SEQ_MASK 0x7fffffffu

/* A request: a link command and its payload, as the socket would carry them. */
struct fastchan_req {
	uint32_t cmd; /* LINK_PCI_CFGREAD/WRITE, LINK_BAR_READ/WRITE, LINK_EXT_BAR_WRITE */
	uint32_t pad;
	union {
		struct link_pci_conf conf;
		struct link_bar_access bar;
		uint64_t w[3];
	} u;
};

struct fastchan_rep {
	uint64_t val;       /* the RET's value */
	uint32_t sock_msgs; /* extension messages the device process sent on the socket so far */
	uint32_t pad;
};

#define FASTCHAN_REQ_WORDS (sizeof(struct fastchan_req) / 8)
#define FASTCHAN_REP_WORDS (sizeof(struct fastchan_rep) / 8)

/*
 * The shared page: the VMM writes the first line, the device process the
 * second. Each side also says on which CPU it last published (a hint: no
 * spinning while the other side shares our CPU, it could not run).
 */
struct fastchan_page {
	_Alignas(64) _Atomic uint32_t req_word;
	_Atomic uint32_t req_cpu;
	_Atomic uint64_t req[FASTCHAN_REQ_WORDS];
	_Alignas(64) _Atomic uint32_t rep_word;
	_Atomic uint32_t rep_cpu;
	_Atomic uint64_t rep[FASTCHAN_REP_WORDS];
};

/*
 * How long a waiting side spins before it sleeps: max_ns while spinning
 * pays; after SPIN_MISSES_MAX waits in a row that had to sleep anyway, 0,
 * with a probe (one spin of max_ns) after 1, 2, 4 ... 64 waits.
 */
struct fastchan_spin {
	uint32_t budget_ns;
	uint32_t misses;
	uint32_t skip, backoff;
	uint32_t max_ns;
};

/* ---- the VMM's side ---------------------------------------------------------- */

struct fastchan_vmm {
	struct fastchan_page *page; /* NULL: closed */
	int fd;                     /* the memfd, for EXT_FASTCHAN */
	uint32_t seq;               /* the latest request */
	bool pending;               /* it was posted and its completion not seen */
	atomic_bool failed;
	struct fastchan_spin spin;
	pthread_mutex_t lock;       /* one request at a time */
};

/* A sealed memfd of FASTCHAN_SIZE bytes, mapped. 0 or -errno. */
int fastchan_vmm_open(struct fastchan_vmm *c);
/* Once nobody uses it (and nobody can fail it any more). */
void fastchan_vmm_close(struct fastchan_vmm *c);
/* Any thread: every wait ends at once with -ECANCELED, now and later. */
void fastchan_vmm_fail(struct fastchan_vmm *c);
/*
 * Waits for the slot (a request posted before), puts req in it and, with
 * rep, waits for the reply until deadline_ns (CLOCK_MONOTONIC). 0;
 * -ETIMEDOUT; -ECANCELED (failed); -EBADMSG: a reply that is not one.
 */
int fastchan_vmm_request(struct fastchan_vmm *c, const struct fastchan_req *req,
			 struct fastchan_rep *rep, int64_t deadline_ns);
/* Waits until a posted request was served: the device saw everything sent so far. */
int fastchan_vmm_drain(struct fastchan_vmm *c, int64_t deadline_ns);

/* ---- the device process's side ------------------------------------------------ */

/*
 * The handler of one request (copied out of the page): 0 with the reply
 * filled, or -errno: a bad request, which ends the channel.
 */
typedef int (*fastchan_handler)(void *opaque, const struct fastchan_req *req,
				struct fastchan_rep *rep);

struct fastchan_dev {
	struct fastchan_page *page; /* NULL: not mapped */
	_Atomic uint32_t served;    /* the latest request answered */
	atomic_bool stop;
	struct fastchan_spin spin;
	pthread_mutex_t lock;       /* one server at a time (its thread, or the event loop) */
};

void fastchan_dev_init(struct fastchan_dev *d);
/*
 * Maps the VMM's memfd after checking it: a regular file of FASTCHAN_SIZE
 * bytes that cannot shrink (F_SEAL_SHRINK: else the VMM could make our
 * accesses fault). fd stays the caller's. 0 or -errno with *why set.
 */
int fastchan_dev_map(struct fastchan_dev *d, int fd, const char **why);
void fastchan_dev_fini(struct fastchan_dev *d);
/* Waits (spinning, then sleeping) for a request not served yet: 0, or -ECANCELED on stop. */
int fastchan_dev_wait(struct fastchan_dev *d);
/* Serves the pending request, if any: 1 served, 0 none, or the handler's error. */
int fastchan_dev_serve(struct fastchan_dev *d, fastchan_handler fn, void *opaque);
/* Any thread: fastchan_dev_wait() returns -ECANCELED from now on. */
void fastchan_dev_stop(struct fastchan_dev *d);

/* ---- shared ---------------------------------------------------------------------- */

int64_t fastchan_now_ns(void);
/* The spin policy, exposed for tests: the budget the next wait gets. */
void fastchan_spin_init(struct fastchan_spin *s, uint32_t max_ns);
uint32_t fastchan_spin_next(struct fastchan_spin *s);
void fastchan_spin_done(struct fastchan_spin *s, uint32_t budget_ns, bool in_spin);

#endif
