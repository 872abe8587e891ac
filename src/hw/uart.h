/*
 * An 8250/16550A UART: what the guest writes goes to the console, console
 * input comes back through a receive buffer of a few KiB with backpressure.
 */
#ifndef HW_UART_H
#define HW_UART_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct io_ops;
struct vm;

#define UART_REGS 8
#define UART_RX_SIZE 4096 /* host-side receive buffer */
#define UART_FIFO_SIZE 16 /* what the chip itself holds */

struct uart {
	struct vm *vm;
	unsigned irq;
	pthread_mutex_t lock; /* vCPU threads and the main thread (input) */
	uint8_t rx[UART_RX_SIZE];
	unsigned rx_head, rx_count;
	bool rx_full;   /* the console was told there is no room */
	bool thr_int;   /* THR-empty interrupt pending */
	bool irq_level; /* what the interrupt line carries now */
	uint8_t ier, lcr, mcr, lsr_err, msr, scr, dll, dlm, fcr;
};

/* Becomes the console's input sink. */
int uart_init(struct uart *u, struct vm *vm, unsigned irq);
void uart_destroy(struct uart *u);

/* UART_REGS ports; dev = the struct uart. */
extern const struct io_ops uart_ops;

#endif
