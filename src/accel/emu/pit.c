/*
 * 8254 PIT: counters as functions of the time since their load, the
 * control word, latch and read-back commands, gates, and channel 0's next
 * rising edge as a deadline. See pit.h.
 */
#include "accel/emu/pit.h"

#include <errno.h>
#include <string.h>

#define RW_LATCH 0
#define RW_LSB 1
#define RW_MSB 2
#define RW_WORD 3
#define READBACK_NO_COUNT 0x20
#define READBACK_NO_STATUS 0x10
#define P61_GATE2 0x01
#define P61_REFRESH 0x10
#define P61_OUT2 0x20
#define REFRESH_NS 15085 /* DRAM refresh request period: bit 4 toggles with it */

static bool periodic(const struct pit_channel *c)
{
	return c->mode == 2 || c->mode == 3;
}

/* Ticks since load_ns. */
static uint64_t ticks_since(const struct pit_channel *c, uint64_t now)
{
	if (now <= c->load_ns)
		return 0;
	return emu_scale(now - c->load_ns, PIT_HZ, EMU_NSEC_PER_SEC, 0);
}

/* The first host time at which `ticks` ticks have elapsed since load_ns. */
static uint64_t tick_time(const struct pit_channel *c, uint64_t ticks)
{
	uint64_t d;

	if (ticks == PIT_NONE)
		return PIT_NONE;
	d = emu_scale(ticks, EMU_NSEC_PER_SEC, PIT_HZ, 1);
	return d > PIT_NONE - 1 - c->load_ns ? PIT_NONE - 1 : c->load_ns + d;
}

/* Mode 3 halves: OUT is high for the first (n + 1) / 2 ticks of a period. */
static uint32_t square_value(uint32_t n, uint64_t pos)
{
	uint64_t hi = (n + 1) / 2;

	return (uint32_t)(pos < hi ? n - 2 * pos : n - 2 * (pos - hi));
}

static uint16_t count_at(const struct pit_channel *c, uint64_t d)
{
	uint32_t n = c->reload;

	if (!c->counting)
		return c->frozen;
	if (c->mode == 2)
		return (uint16_t)(n - d % n);
	if (c->mode == 3)
		return (uint16_t)square_value(n, d % n);
	return (uint16_t)(c->start - d);
}

static bool out_at(const struct pit_channel *c, uint64_t d)
{
	uint32_t n = c->reload;

	if (!c->counting)
		return c->out_idle;
	switch (c->mode) {
	case 0:
	case 1: /* low while counting, high from the terminal count on */
		return c->done || d >= c->start;
	case 2: /* low for the tick at count 1 */
		return n <= 1 || d % n != n - 1;
	case 3:
		return n <= 1 || d % n < (n + 1) / 2;
	default: /* 4, 5: a one-tick low strobe at the terminal count */
		return c->done || d != c->start;
	}
}

/* The first rising OUT edge after tick d, PIT_NONE if none comes. */
static uint64_t next_edge(const struct pit_channel *c, uint64_t d)
{
	uint64_t n = c->reload, e;

	if (!c->counting)
		return PIT_NONE;
	if (periodic(c))
		return n > 1 ? (d / n + 1) * n : PIT_NONE;
	if (c->done)
		return PIT_NONE;
	e = c->mode <= 1 ? c->start : (uint64_t)c->start + 1;
	return e > d ? e : PIT_NONE;
}

/* Channel 0 changed: a due edge is kept, the deadline follows the new state. */
static void ch0_changed(struct pit *p, uint64_t now)
{
	const struct pit_channel *c = &p->ch[0];

	if (p->edge_ns <= now)
		p->due = true;
	p->edge_ns = tick_time(c, next_edge(c, ticks_since(c, now)));
	atomic_store_explicit(&p->deadline, p->due ? 0 : p->edge_ns, memory_order_release);
}

int pit_init(struct pit *p, const struct emu_timebase *tb)
{
	int err;

	memset(p, 0, sizeof(*p));
	err = pthread_mutex_init(&p->lock, NULL);
	if (err)
		return -err;
	p->tb = tb;
	p->edge_ns = PIT_NONE;
	atomic_store(&p->deadline, PIT_NONE);
	for (unsigned i = 0; i < 3; i++) {
		/* As KVM's: idle until programmed; channel 2's gate is port 0x61. */
		p->ch[i] = (struct pit_channel){ .reload = 0x10000, .rw = RW_WORD, .gate = i != 2,
						 .out_idle = true };
	}
	return 0;
}

void pit_destroy(struct pit *p)
{
	pthread_mutex_destroy(&p->lock);
}

bool pit_check(struct pit *p, uint64_t now_ns)
{
	const struct pit_channel *c = &p->ch[0];
	bool fired;

	if (now_ns < pit_deadline(p))
		return false;
	pthread_mutex_lock(&p->lock);
	fired = p->due || now_ns >= p->edge_ns;
	p->due = false;
	if (now_ns >= p->edge_ns) /* missed periods coalesce: the next edge after now */
		p->edge_ns = tick_time(c, next_edge(c, ticks_since(c, now_ns)));
	atomic_store_explicit(&p->deadline, p->edge_ns, memory_order_release);
	pthread_mutex_unlock(&p->lock);
	return fired;
}

/* Stops counting, keeping the count and OUT as they are now. */
static void freeze(struct pit_channel *c, uint64_t now)
{
	uint64_t d = ticks_since(c, now);

	if (!c->counting)
		return;
	c->frozen = count_at(c, d);
	c->out_idle = periodic(c) || out_at(c, d);
	c->done = !periodic(c) && (c->done || d >= c->start);
	c->counting = false;
}

/* Starts counting from `start` now. */
static void run_from(struct pit_channel *c, uint32_t start, uint64_t now)
{
	c->start = start;
	c->load_ns = now;
	c->counting = true;
}

static void set_gate(struct pit_channel *c, bool gate, uint64_t now)
{
	if (gate == c->gate)
		return;
	c->gate = gate;
	if (!gate) {
		if (c->mode != 1 && c->mode != 5)
			freeze(c, now); /* gate low disables counting (2, 3: OUT high) */
		return;
	}
	if (!c->loaded)
		return;
	if (c->mode == 0 || c->mode == 4) {
		if (!c->counting) /* resume where the count stopped */
			run_from(c, c->frozen ? c->frozen : 0x10000, now);
	} else { /* 1, 5: trigger; 2, 3: reload */
		c->done = false;
		run_from(c, c->reload, now);
	}
}

/* A complete count arrived. */
static void load_count(struct pit_channel *c, uint32_t v, uint64_t now)
{
	c->reload = v ? v : 0x10000;
	c->loaded = true;
	c->null_count = false;
	if (c->mode == 1 || c->mode == 5) {
		if (!c->counting)
			c->frozen = (uint16_t)c->reload; /* waits for a gate trigger */
		return;
	}
	c->done = false;
	if (c->gate) {
		run_from(c, c->reload, now);
		return;
	}
	c->counting = false;
	c->frozen = (uint16_t)c->reload;
	c->out_idle = c->mode != 0;
}

static void write_count(struct pit_channel *c, uint8_t v, uint64_t now)
{
	switch (c->rw) {
	case RW_LSB:
		load_count(c, v, now);
		break;
	case RW_MSB:
		load_count(c, (uint32_t)v << 8, now);
		break;
	default:
		if (c->write_msb) {
			c->write_msb = false;
			load_count(c, c->wbyte | (uint32_t)v << 8, now);
			break;
		}
		c->wbyte = v;
		c->write_msb = true;
		if (c->mode == 0) { /* the first byte stops counting, OUT goes low */
			freeze(c, now);
			c->out_idle = false;
		}
		break;
	}
}

static void latch_count(struct pit_channel *c, uint64_t now)
{
	if (c->latched)
		return;
	c->latch = count_at(c, ticks_since(c, now));
	c->latched = c->rw == RW_WORD ? 2 : 1;
}

static void latch_status(struct pit_channel *c, uint64_t now)
{
	if (c->status_latched)
		return;
	c->status = (uint8_t)(out_at(c, ticks_since(c, now)) << 7 | c->null_count << 6 |
			      c->rw << 4 | c->mode << 1 | c->bcd);
	c->status_latched = true;
}

/* A control word: mode and access for one channel; counting stops until a
 * new count arrives. */
static void program(struct pit_channel *c, uint8_t v, uint64_t now)
{
	freeze(c, now);
	c->rw = (v >> 4) & 3;
	c->mode = (v >> 1) & 7;
	if (c->mode >= 6)
		c->mode -= 4; /* 6, 7 are 2, 3 */
	c->bcd = v & 1;
	c->loaded = c->done = false;
	c->null_count = true;
	c->out_idle = c->mode != 0;
	c->write_msb = c->read_msb = false;
	c->latched = 0;
	c->status_latched = false;
}

static void write_control(struct pit *p, uint8_t v, uint64_t now)
{
	unsigned sel = v >> 6;

	if (sel == 3) { /* read-back: channels in bits 1-3 */
		for (unsigned i = 0; i < 3; i++) {
			if (!(v & (2u << i)))
				continue;
			if (!(v & READBACK_NO_COUNT))
				latch_count(&p->ch[i], now);
			if (!(v & READBACK_NO_STATUS))
				latch_status(&p->ch[i], now);
		}
		return;
	}
	if (((v >> 4) & 3) == RW_LATCH)
		latch_count(&p->ch[sel], now);
	else
		program(&p->ch[sel], v, now);
}

static uint8_t read_count(struct pit_channel *c, uint64_t now)
{
	uint16_t v;
	bool msb;

	if (c->status_latched) {
		c->status_latched = false;
		return c->status;
	}
	if (c->latched) {
		v = c->latch;
		msb = c->rw == RW_MSB || (c->rw == RW_WORD && c->latched == 1);
		c->latched--;
	} else {
		v = count_at(c, ticks_since(c, now));
		msb = c->rw == RW_MSB || (c->rw == RW_WORD && c->read_msb);
		if (c->rw == RW_WORD)
			c->read_msb = !c->read_msb;
	}
	return (uint8_t)(msb ? v >> 8 : v);
}

static uint8_t read_port61(struct pit *p, uint64_t now)
{
	const struct pit_channel *c = &p->ch[2];
	uint8_t v = p->port61;

	if (out_at(c, ticks_since(c, now)))
		v |= P61_OUT2;
	if ((now / REFRESH_NS) & 1)
		v |= P61_REFRESH;
	return v;
}

uint8_t pit_read(struct pit *p, uint16_t port)
{
	uint64_t now = emu_tb_now(p->tb);
	uint8_t v = 0; /* the control word port is write-only: 0, as KVM and QEMU */

	pthread_mutex_lock(&p->lock);
	if (port == PIT_PORT_SPEAKER)
		v = read_port61(p, now);
	else if (port < PIT_PORT_CMD)
		v = read_count(&p->ch[port - PIT_PORT_CH0], now);
	pthread_mutex_unlock(&p->lock);
	return v;
}

void pit_write(struct pit *p, uint16_t port, uint8_t v)
{
	uint64_t now = emu_tb_now(p->tb);

	pthread_mutex_lock(&p->lock);
	if (port == PIT_PORT_SPEAKER) {
		p->port61 = v & 0x0f;
		set_gate(&p->ch[2], v & P61_GATE2, now);
	} else if (port == PIT_PORT_CMD) {
		write_control(p, v, now);
	} else {
		write_count(&p->ch[port - PIT_PORT_CH0], v, now);
	}
	if (port != PIT_PORT_SPEAKER)
		ch0_changed(p, now);
	pthread_mutex_unlock(&p->lock);
}
