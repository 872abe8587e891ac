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
#include "remote/fastchan.h"
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

/* How the fast channel (fake_chan.c) answers BAR accesses. */
enum fake_chan_mode {
	FAKE_CHAN_NORMAL,
	FAKE_CHAN_HANG,      /* BAR reads: never answered */
	FAKE_CHAN_BAD_SEQ,   /* BAR reads: a reply word with another number */
	FAKE_CHAN_BAD_WRITE, /* BAR writes: answered 5 (a RET says 0 or all ones) */
	FAKE_CHAN_AHEAD,     /* BAR reads: "100000 messages sent on the socket" */
	FAKE_CHAN_STRAY_RET, /* BAR reads: a RET on the socket, counted as a message sent */
};

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
	/* the fast channel, once EXT_FASTCHAN came (take LINK_F_FASTCHAN) */
	struct fastchan_dev chan;
	pthread_t chan_thread;
	bool chan_on;
	enum fake_chan_mode chan_mode;
	unsigned nchan; /* requests served through it */
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
/* A config access as the link would make it (f->lock held): the RET's value. */
uint64_t fake_cfg_access(struct fake_dev *f, uint32_t cmd, const struct link_pci_conf *c);
/* A FAKE_CTL write's effect on the fake (f->lock held): false if it closed its link. */
bool fake_control(struct fake_dev *f, uint32_t what);

/* fake_chan.c: EXT_FASTCHAN (f->lock held; fds stay the message's), and the end. */
int fake_chan_open(struct fake_dev *f, struct link_msg *m);
void fake_chan_close(struct fake_dev *f);

#endif
