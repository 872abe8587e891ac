/*
 * 8250/16550A UART. Transmission is instantaneous: THR is always empty
 * again by the time the guest looks, so LSR always shows THRE and TEMT, and
 * the THR-empty interrupt is pending again after every write to THR (and
 * whenever IER enables it, as Linux's startup test expects of a 16550).
 * Received bytes wait in a buffer that the console fills as room allows.
 */
#include "hw/uart.h"

#include <errno.h>
#include <linux/serial_reg.h>
#include <string.h>

#include "core/vm.h"

#define IIR_FIFO_BITS 0xc0
#define MODEM_LINES_IDLE (UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS)

static const uint8_t rx_trigger[4] = { 1, 4, 8, 14 };

static bool fifo_on(const struct uart *u)
{
	return u->fcr & UART_FCR_ENABLE_FIFO;
}

static uint8_t iir_of(const struct uart *u)
{
	uint8_t fifo = fifo_on(u) ? IIR_FIFO_BITS : 0;

	/* Sources in priority order: line status, data, THR empty, modem. */
	if ((u->ier & UART_IER_RLSI) && (u->lsr_err & UART_LSR_BRK_ERROR_BITS))
		return fifo | UART_IIR_RLSI;
	if ((u->ier & UART_IER_RDI) && u->rx_count) {
		/* Below the trigger level the chip reports a character timeout. */
		if (fifo && u->rx_count < rx_trigger[u->fcr >> 6])
			return fifo | UART_IIR_RX_TIMEOUT;
		return fifo | UART_IIR_RDI;
	}
	if ((u->ier & UART_IER_THRI) && u->thr_int)
		return fifo | UART_IIR_THRI;
	if ((u->ier & UART_IER_MSI) && (u->msr & UART_MSR_ANY_DELTA))
		return fifo | UART_IIR_MSI;
	return fifo | UART_IIR_NO_INT;
}

/* The line follows whether an interrupt is pending. */
static void update_irq(struct uart *u)
{
	bool level = !(iir_of(u) & UART_IIR_NO_INT);

	if (level == u->irq_level)
		return;
	u->irq_level = level;
	vm_set_irq(u->vm, u->irq, level);
}

static uint8_t lsr_of(const struct uart *u)
{
	uint8_t lsr = UART_LSR_THRE | UART_LSR_TEMT | u->lsr_err;

	if (u->rx_count)
		lsr |= UART_LSR_DR;
	if (fifo_on(u) && (u->lsr_err & (UART_LSR_PE | UART_LSR_FE | UART_LSR_BI)))
		lsr |= UART_LSR_FIFOE;
	return lsr;
}

/* In loopback the modem outputs feed the inputs; else a terminal is there. */
static uint8_t modem_lines(const struct uart *u)
{
	uint8_t m = 0;

	if (!(u->mcr & UART_MCR_LOOP))
		return MODEM_LINES_IDLE;
	if (u->mcr & UART_MCR_DTR)
		m |= UART_MSR_DSR;
	if (u->mcr & UART_MCR_RTS)
		m |= UART_MSR_CTS;
	if (u->mcr & UART_MCR_OUT1)
		m |= UART_MSR_RI;
	if (u->mcr & UART_MCR_OUT2)
		m |= UART_MSR_DCD;
	return m;
}

static void rx_push(struct uart *u, uint8_t b)
{
	if (u->rx_count == UART_RX_SIZE) {
		u->lsr_err |= UART_LSR_OE;
		return;
	}
	u->rx[(u->rx_head + u->rx_count) % UART_RX_SIZE] = b;
	u->rx_count++;
}

/* Input resumes once a quarter of the buffer is free, not byte by byte. */
static void rx_room(struct uart *u, bool *resume)
{
	if (u->rx_full && UART_RX_SIZE - u->rx_count >= UART_RX_SIZE / 4 &&
	    !(u->mcr & UART_MCR_LOOP)) {
		u->rx_full = false;
		*resume = true;
	}
}

static uint8_t rx_pop(struct uart *u, bool *resume)
{
	uint8_t b;

	if (!u->rx_count)
		return 0;
	b = u->rx[u->rx_head];
	u->rx_head = (u->rx_head + 1) % UART_RX_SIZE;
	u->rx_count--;
	rx_room(u, resume);
	return b;
}

/* Clearing the chip's FIFO drops what it holds; the rest waits upstream. */
static void rx_clear(struct uart *u, bool *resume)
{
	unsigned n = u->rx_count < UART_FIFO_SIZE ? u->rx_count : UART_FIFO_SIZE;

	u->rx_head = (u->rx_head + n) % UART_RX_SIZE;
	u->rx_count -= n;
	rx_room(u, resume);
}

static uint8_t reg_read(struct uart *u, unsigned reg, bool *resume)
{
	bool dlab = u->lcr & UART_LCR_DLAB;
	uint8_t v;

	switch (reg) {
	case UART_RX:
		return dlab ? u->dll : rx_pop(u, resume);
	case UART_IER:
		return dlab ? u->dlm : u->ier;
	case UART_IIR:
		v = iir_of(u);
		/* Reading IIR acknowledges a THR-empty interrupt it reports. */
		if ((v & UART_IIR_ID) == UART_IIR_THRI)
			u->thr_int = false;
		return v;
	case UART_LCR:
		return u->lcr;
	case UART_MCR:
		return u->mcr;
	case UART_LSR:
		v = lsr_of(u);
		u->lsr_err = 0;
		return v;
	case UART_MSR:
		v = u->msr;
		u->msr &= (uint8_t)~UART_MSR_ANY_DELTA;
		return v;
	default:
		return u->scr;
	}
}

static void thr_write(struct uart *u, uint8_t b)
{
	if (u->mcr & UART_MCR_LOOP)
		rx_push(u, b);
	else
		console_write(&u->vm->console, &b, 1);
	u->thr_int = true; /* the byte left at once */
}

static void ier_write(struct uart *u, uint8_t v)
{
	uint8_t old = u->ier;

	u->ier = v & 0x0f;
	if (!(old & UART_IER_THRI) && (u->ier & UART_IER_THRI))
		u->thr_int = true; /* THR is empty: enabling the interrupt fires it */
}

/* Without FCR0 the other bits are not programmed. */
static void fcr_write(struct uart *u, uint8_t v, bool *resume)
{
	uint8_t fcr = 0;

	if (v & UART_FCR_ENABLE_FIFO)
		fcr = v & (UART_FCR_ENABLE_FIFO | UART_FCR_TRIGGER_MASK);

	if ((fcr ^ u->fcr) & UART_FCR_ENABLE_FIFO || (fcr && (v & UART_FCR_CLEAR_RCVR)))
		rx_clear(u, resume);
	u->fcr = fcr;
}

static void mcr_write(struct uart *u, uint8_t v, bool *resume)
{
	uint8_t old = modem_lines(u), now, chg;

	u->mcr = v & 0x1f;
	now = modem_lines(u);
	chg = old ^ now;
	if (chg & UART_MSR_CTS)
		u->msr |= UART_MSR_DCTS;
	if (chg & UART_MSR_DSR)
		u->msr |= UART_MSR_DDSR;
	if (chg & UART_MSR_DCD)
		u->msr |= UART_MSR_DDCD;
	if ((old & UART_MSR_RI) && !(now & UART_MSR_RI))
		u->msr |= UART_MSR_TERI;
	u->msr = (u->msr & UART_MSR_ANY_DELTA) | now;
	rx_room(u, resume); /* leaving loopback reconnects the input */
}

static void reg_write(struct uart *u, unsigned reg, uint8_t v, bool *resume)
{
	bool dlab = u->lcr & UART_LCR_DLAB;

	switch (reg) {
	case UART_TX:
		if (dlab)
			u->dll = v;
		else
			thr_write(u, v);
		break;
	case UART_IER:
		if (dlab)
			u->dlm = v;
		else
			ier_write(u, v);
		break;
	case UART_FCR:
		fcr_write(u, v, resume);
		break;
	case UART_LCR:
		u->lcr = v;
		break;
	case UART_MCR:
		mcr_write(u, v, resume);
		break;
	case UART_SCR:
		u->scr = v;
		break;
	default:
		break; /* LSR and MSR are read-only */
	}
}

static uint64_t uart_read(void *dev, uint64_t off, unsigned size)
{
	struct uart *u = dev;
	bool resume = false;
	uint64_t v = 0;

	pthread_mutex_lock(&u->lock);
	for (unsigned i = 0; i < size && off + i < UART_REGS; i++)
		v |= (uint64_t)reg_read(u, (unsigned)off + i, &resume) << (8 * i);
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
	if (resume)
		console_resume(&u->vm->console);
	return v;
}

static void uart_write(void *dev, uint64_t off, uint64_t value, unsigned size)
{
	struct uart *u = dev;
	bool resume = false;

	pthread_mutex_lock(&u->lock);
	for (unsigned i = 0; i < size && off + i < UART_REGS; i++)
		reg_write(u, (unsigned)off + i, (uint8_t)(value >> (8 * i)), &resume);
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
	if (resume)
		console_resume(&u->vm->console);
}

const struct io_ops uart_ops = {
	.read = uart_read,
	.write = uart_write,
};

/* Console side (main thread). Loopback disconnects the input. */
static size_t uart_space(void *opaque)
{
	struct uart *u = opaque;
	size_t room;

	pthread_mutex_lock(&u->lock);
	room = (u->mcr & UART_MCR_LOOP) ? 0 : UART_RX_SIZE - u->rx_count;
	if (!room)
		u->rx_full = true;
	pthread_mutex_unlock(&u->lock);
	return room;
}

static void uart_receive(void *opaque, const uint8_t *buf, size_t len)
{
	struct uart *u = opaque;

	pthread_mutex_lock(&u->lock);
	for (size_t i = 0; i < len; i++)
		rx_push(u, buf[i]);
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
}

int uart_init(struct uart *u, struct vm *vm, unsigned irq)
{
	int err;

	memset(u, 0, sizeof(*u));
	u->vm = vm;
	u->irq = irq;
	u->lcr = UART_LCR_WLEN8;
	u->msr = MODEM_LINES_IDLE;
	u->dll = 12; /* 9600 baud, as a BIOS leaves it */
	err = -pthread_mutex_init(&u->lock, NULL);
	if (err)
		return err;
	console_set_sink(&vm->console, &(struct console_sink){
		.space = uart_space,
		.receive = uart_receive,
		.opaque = u,
	});
	return 0;
}

void uart_destroy(struct uart *u)
{
	if (!u->vm)
		return;
	console_set_sink(&u->vm->console, &(struct console_sink){ 0 });
	pthread_mutex_destroy(&u->lock);
	u->vm = NULL;
}
