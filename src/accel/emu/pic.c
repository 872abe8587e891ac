/*
 * Dual 8259A: request, mask and in-service registers per chip, priority
 * with rotation, the ICW/OCW state machine, the cascade, INTA and poll.
 * See pic.h for what is modelled and the locking rules.
 */
#include "accel/emu/pic.h"

#include <errno.h>
#include <string.h>

#define ICW1 0x10       /* command port, bit 4: initialisation */
#define ICW1_IC4 0x01
#define ICW1_SNGL 0x02
#define OCW3 0x08       /* command port, bits 4:3 = 01 */
#define OCW3_RIS 0x01
#define OCW3_RR 0x02
#define OCW3_POLL 0x04
#define OCW3_SMM 0x20
#define OCW3_ESMM 0x40
#define ICW4_AEOI 0x02
#define ICW4_SFNM 0x10
#define NO_PRIO 8

/* PC wiring: IRQ 0-2 and 8, 13 are always edge-triggered. */
static const uint8_t elcr_mask[2] = { 0xf8, 0xde };

static struct pic_chip *chip_of(struct pic *p, uint16_t port)
{
	if (port == PIC_ELCR_MASTER || port == PIC_ELCR_SLAVE)
		return &p->chip[port & 1];
	return &p->chip[port >= PIC_SLAVE_CMD];
}

static unsigned chip_irq(const struct pic *p, const struct pic_chip *c, unsigned ir)
{
	return (c == &p->chip[1] ? 8 : 0) + ir;
}

/* Priority (0 = highest) of the best request in mask, NO_PRIO if none. */
static unsigned best_prio(const struct pic_chip *c, uint8_t mask)
{
	for (unsigned pr = 0; pr < 8; pr++)
		if (mask & (1u << ((pr + c->prio_add) & 7)))
			return pr;
	return NO_PRIO;
}

/* The IR the chip presents on INT, or -1: an unmasked request of higher
 * priority than everything in service. */
static int chip_pending(const struct pic *p, const struct pic_chip *c)
{
	unsigned req = best_prio(c, c->irr & ~c->imr);
	uint8_t busy = c->isr;

	if (req == NO_PRIO)
		return -1;
	if (c->special_mask)
		busy &= ~c->imr; /* masked levels in service do not block others */
	if (c->sfnm && c == &p->chip[0])
		busy &= ~(1u << PIC_CASCADE_IRQ); /* the slave may nest its own requests */
	if (req < best_prio(c, busy))
		return (int)((req + c->prio_add) & 7);
	return -1;
}

/* Recomputes the cascade and INT; reports a change of INT. */
static void update(struct pic *p)
{
	struct pic_chip *m = &p->chip[0];
	bool out;

	/* The slave's INT re-latches IR2 while it is up (KVM's model): a
	 * request the master dropped at INTA cannot be lost. */
	if (chip_pending(p, &p->chip[1]) >= 0)
		m->irr |= 1u << PIC_CASCADE_IRQ;
	out = chip_pending(p, m) >= 0;
	if (out == p->output)
		return;
	p->output = out;
	if (p->cfg.output)
		p->cfg.output(p->cfg.opaque, out);
}

static void clear_isr(struct pic *p, struct pic_chip *c, unsigned ir)
{
	c->isr &= ~(1u << ir);
	if (c != &p->chip[0] || ir != PIC_CASCADE_IRQ)
		p->eoi_done |= (uint16_t)(1u << chip_irq(p, c, ir));
}

/* Drops the lock, then tells the EOI callback what was ended. */
static void unlock_and_report(struct pic *p)
{
	uint16_t done = p->eoi_done;

	p->eoi_done = 0;
	pthread_mutex_unlock(&p->lock);
	for (unsigned irq = 0; done && p->cfg.eoi && irq < PIC_IRQS; irq++)
		if (done & (1u << irq))
			p->cfg.eoi(p->cfg.opaque, irq);
}

static void chip_reset(struct pic_chip *c, uint8_t mask)
{
	memset(c, 0, sizeof(*c));
	c->elcr_mask = mask;
}

int pic_init(struct pic *p, const struct pic_config *cfg)
{
	int err;

	memset(p, 0, sizeof(*p));
	err = pthread_mutex_init(&p->lock, NULL);
	if (err)
		return -err;
	if (cfg)
		p->cfg = *cfg;
	chip_reset(&p->chip[0], elcr_mask[0]);
	chip_reset(&p->chip[1], elcr_mask[1]);
	return 0;
}

void pic_destroy(struct pic *p)
{
	pthread_mutex_destroy(&p->lock);
}

/* A line's new level: edges latch IRR, levels hold it. */
static void chip_set_line(struct pic_chip *c, unsigned ir, bool level)
{
	uint8_t bit = (uint8_t)(1u << ir);

	if (c->elcr & bit)
		c->irr = level ? c->irr | bit : c->irr & ~bit;
	else if (level && !(c->lines & bit))
		c->irr |= bit;
	c->lines = level ? c->lines | bit : c->lines & ~bit;
}

void pic_set_irq(struct pic *p, unsigned irq, int level)
{
	if (irq >= PIC_IRQS || irq == PIC_CASCADE_IRQ)
		return;
	pthread_mutex_lock(&p->lock);
	chip_set_line(&p->chip[irq >> 3], irq & 7, level != 0);
	update(p);
	pthread_mutex_unlock(&p->lock);
}

/* INTA (or a poll) on one chip: IR goes in service. */
static void chip_ack(struct pic *p, struct pic_chip *c, unsigned ir)
{
	uint8_t bit = (uint8_t)(1u << ir);

	c->isr |= bit;
	if (!(c->elcr & bit))
		c->irr &= ~bit; /* a level request stays while its line is up */
	if (c->auto_eoi) {
		if (c->rotate_auto_eoi)
			c->prio_add = (ir + 1) & 7;
		clear_isr(p, c, ir);
	}
}

uint8_t pic_intack(struct pic *p)
{
	struct pic_chip *m = &p->chip[0], *s = &p->chip[1];
	uint8_t vec;
	int ir, ir2;

	pthread_mutex_lock(&p->lock);
	ir = chip_pending(p, m);
	if (ir < 0) {
		vec = m->base + 7; /* spurious IRQ 7: nothing goes in service */
	} else {
		chip_ack(p, m, (unsigned)ir);
		if (ir != PIC_CASCADE_IRQ) {
			vec = (uint8_t)(m->base + ir);
		} else if ((ir2 = chip_pending(p, s)) >= 0) {
			chip_ack(p, s, (unsigned)ir2);
			vec = (uint8_t)(s->base + ir2);
		} else {
			vec = s->base + 7; /* spurious IRQ 15 */
		}
	}
	update(p);
	unlock_and_report(p);
	return vec;
}

bool pic_output(struct pic *p)
{
	bool out;

	pthread_mutex_lock(&p->lock);
	out = p->output;
	pthread_mutex_unlock(&p->lock);
	return out;
}

/* OCW3 poll: the read is the INTA; bit 7 says whether there was a request. */
static uint8_t chip_poll(struct pic *p, struct pic_chip *c)
{
	int ir = chip_pending(p, c);

	c->poll = false;
	if (c == &p->chip[1])
		p->chip[0].irr &= ~(1u << PIC_CASCADE_IRQ); /* update() re-latches it if due */
	if (ir < 0)
		return 0;
	chip_ack(p, c, (unsigned)ir);
	return (uint8_t)(0x80 | ir);
}

uint8_t pic_read(struct pic *p, uint16_t port)
{
	struct pic_chip *c = chip_of(p, port);
	uint8_t v;

	pthread_mutex_lock(&p->lock);
	if (port == PIC_ELCR_MASTER || port == PIC_ELCR_SLAVE)
		v = c->elcr;
	else if (c->poll)
		v = chip_poll(p, c);
	else if (port & 1)
		v = c->imr;
	else
		v = c->read_isr ? c->isr : c->irr;
	update(p);
	unlock_and_report(p);
	return v;
}

/* ICW1: the chip restarts; edge requests need a new rising edge. */
static void write_icw1(struct pic_chip *c, uint8_t v)
{
	c->icw = 2;
	c->need_icw4 = v & ICW1_IC4;
	c->single = v & ICW1_SNGL;
	c->imr = c->isr = 0;
	c->irr &= c->elcr;
	c->prio_add = 0;
	c->read_isr = c->poll = c->special_mask = false;
	c->rotate_auto_eoi = false;
	if (!c->need_icw4)
		c->auto_eoi = c->sfnm = false;
}

static void write_ocw2(struct pic *p, struct pic_chip *c, uint8_t v)
{
	unsigned ir = v & 7, pr;

	switch (v >> 5) {
	case 0: /* clear / set rotate in auto-EOI mode */
	case 4:
		c->rotate_auto_eoi = v >> 7;
		return;
	case 1: /* non-specific EOI: the highest level in service */
	case 5: /* ... and rotate */
		pr = best_prio(c, c->isr);
		if (pr == NO_PRIO)
			return;
		ir = (pr + c->prio_add) & 7;
		if (v >> 7)
			c->prio_add = (ir + 1) & 7;
		clear_isr(p, c, ir);
		return;
	case 3: /* specific EOI */
		clear_isr(p, c, ir);
		return;
	case 7: /* specific EOI and rotate */
		clear_isr(p, c, ir);
		c->prio_add = (ir + 1) & 7;
		return;
	case 6: /* set priority: ir becomes the lowest */
		c->prio_add = (ir + 1) & 7;
		return;
	default: /* 2: no operation */
		return;
	}
}

static void write_ocw3(struct pic_chip *c, uint8_t v)
{
	if (v & OCW3_POLL)
		c->poll = true;
	if (v & OCW3_RR)
		c->read_isr = v & OCW3_RIS;
	if (v & OCW3_ESMM)
		c->special_mask = v & OCW3_SMM;
}

/* Data port: ICW2-4 during initialisation, OCW1 (the mask) after. */
static void write_data(struct pic_chip *c, uint8_t v)
{
	switch (c->icw) {
	case 2:
		c->base = v & 0xf8;
		c->icw = !c->single ? 3 : c->need_icw4 ? 4 : 0;
		break;
	case 3: /* cascade wiring: fixed on a PC */
		c->icw = c->need_icw4 ? 4 : 0;
		break;
	case 4:
		c->auto_eoi = v & ICW4_AEOI;
		c->sfnm = v & ICW4_SFNM;
		c->icw = 0;
		break;
	default:
		c->imr = v;
		break;
	}
}

static void write_elcr(struct pic_chip *c, uint8_t v)
{
	c->elcr = v & c->elcr_mask;
	/* Level requests follow their lines; edge ones keep their latch. */
	c->irr = (uint8_t)((c->irr & ~c->elcr) | (c->lines & c->elcr));
}

void pic_write(struct pic *p, uint16_t port, uint8_t v)
{
	struct pic_chip *c = chip_of(p, port);

	pthread_mutex_lock(&p->lock);
	if (port == PIC_ELCR_MASTER || port == PIC_ELCR_SLAVE)
		write_elcr(c, v);
	else if (port & 1)
		write_data(c, v);
	else if (v & ICW1)
		write_icw1(c, v);
	else if (v & OCW3)
		write_ocw3(c, v);
	else
		write_ocw2(p, c, v);
	update(p);
	unlock_and_report(p);
}
