/*
 * A fake device process for the proxy tests: a 256-byte config space with
 * BARs that size like hardware, answering the link from a thread (or from
 * the process itself, when a test binary is started as `... remote`).
 * It records what the proxy sent and misbehaves on request.
 */
#ifndef TESTS_FAKE_DEV_H
#define TESTS_FAKE_DEV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/log.h"
#include "remote/link.h"

enum fake_mode {
	FAKE_NORMAL,
	FAKE_HANG_BAR,    /* never answers BAR_READ */
	FAKE_GARBAGE_BAR, /* answers BAR_READ with bytes that are no message */
	FAKE_CLOSE_BAR,   /* closes the link on BAR_READ */
	FAKE_WRONG_BAR,   /* answers BAR_READ with a request of its own */
};

/*
 * A config write here changes the fake's behaviour (supervision tests):
 * FAKE_CTL_EXIT ends the process with status 3 (only in a process of its
 * own), FAKE_CTL_HANG stops answering BAR reads, FAKE_CTL_CLOSE shuts the
 * link down without a reply.
 */
#define FAKE_CTL 0xf0
enum { FAKE_CTL_EXIT = 1, FAKE_CTL_HANG = 2, FAKE_CTL_CLOSE = 3 };

#define FAKE_BAR_REGS 7 /* 0x10..0x24 and the ROM at 0x30 */
#define FAKE_MAGIC 0x5a5a000000000000ull /* BAR reads return this | address */

struct fake_dev {
	struct link link;
	struct logger log;
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	/* the device */
	uint8_t cfg[256];
	uint32_t bar_mask[FAKE_BAR_REGS], bar_flags[FAKE_BAR_REGS];
	enum fake_mode mode;
	int reset_after_ms; /* QEMU's start-up reset this long after the first request; -1 none */
	int64_t first_ms;
	bool quirk_done;
	/* what the proxy sent */
	unsigned nsysmem, nregions, nirqfd, nreset, ncfg, nbar, qemu_violations;
	uint64_t gpas[LINK_MAX_FDS], sizes[LINK_MAX_FDS];
	int irqfd, resamplefd; /* kept open to raise INTx */
	struct link_pci_conf last_cfg;
	uint32_t last_cfg_cmd;
	struct link_bar_access last_bar;
	uint32_t last_bar_cmd;
	/* splitvm's device process as far as the link goes: probe, EXT_HELLO, heartbeats */
	bool splitvm;
	uint64_t take;   /* the features EXT_HELLO takes of those offered */
	bool hb_hang;    /* heartbeats are read, never answered */
	unsigned nprobe, nhello, nheartbeat, nposted;
	int db_fd;       /* >= 0: announced as doorbell 5 (BAR 1 at 0x100) before COMMAND's RET */
	struct link_hello hello;
};

/* A device with IDs 1234:5678, BAR0 I/O 256 B, BAR1 4 KiB, BAR2/3 64-bit 1 MiB, ROM 2 KiB. */
void fake_init(struct fake_dev *f);
/* Serves link fd (taken) on a thread. */
void fake_start(struct fake_dev *f, int fd);
/* Waits for the thread (the proxy closed its end first) and frees. */
void fake_join(struct fake_dev *f);
/* Serves until the link ends; for a process. */
void fake_serve(struct fake_dev *f);
uint32_t fake_cfg32(struct fake_dev *f, unsigned off);
void fake_set_bar(struct fake_dev *f, unsigned reg_idx, uint32_t mask, uint32_t flags);
/* Resets like a PCI function: COMMAND, BARs, interrupt line cleared. */
void fake_reset(struct fake_dev *f);

#endif
