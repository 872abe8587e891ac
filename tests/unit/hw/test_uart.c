/* The 16550A UART's registers as a driver sees them through port I/O. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <linux/serial_reg.h>

#include "hw/uart.h"
#include "hw_test.h"

#define COM1 0x3f8

struct ctx {
	struct hw_fixture *f;
	struct uart u;
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	c->f = hw_fixture_new(1 << 20);
	assert_int_equal(uart_init(&c->u, &c->f->vm, 4), 0);
	assert_int_equal(iobus_register(&c->f->vm.pio, COM1, UART_REGS, &uart_ops, &c->u, "com1"),
			 0);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	uart_destroy(&c->u);
	hw_fixture_free(c->f);
	free(c);
	return 0;
}

static uint8_t rd(struct ctx *c, unsigned reg)
{
	return inb(&c->f->vm, (uint16_t)(COM1 + reg));
}

static void wr(struct ctx *c, unsigned reg, uint8_t v)
{
	outb(&c->f->vm, (uint16_t)(COM1 + reg), v);
}

/* Feeds console input the way the main loop does: only what space() allows. */
static size_t feed(struct ctx *c, const char *s, size_t len)
{
	const struct console_sink *sink = &c->f->vm.console.sink;
	size_t room = sink->space(sink->opaque);

	if (len > room)
		len = room;
	sink->receive(sink->opaque, (const uint8_t *)s, len);
	return len;
}

static void test_reset_state(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(rd(c, UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
	assert_int_equal(rd(c, UART_IIR), UART_IIR_NO_INT);
	assert_int_equal(rd(c, UART_IER), 0);
	assert_int_equal(rd(c, UART_MSR), UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS);
	assert_false(c->u.irq_level);
}

static void test_dlab(void **state)
{
	struct ctx *c = *state;
	char out[16];

	wr(c, UART_IER, UART_IER_RDI);
	wr(c, UART_LCR, UART_LCR_DLAB | UART_LCR_WLEN8);
	wr(c, UART_DLL, 0x01);
	wr(c, UART_DLM, 0x02);
	assert_int_equal(rd(c, UART_DLL), 0x01);
	assert_int_equal(rd(c, UART_DLM), 0x02);
	assert_int_equal(rd(c, UART_LCR), UART_LCR_DLAB | UART_LCR_WLEN8);
	wr(c, UART_LCR, UART_LCR_WLEN8);
	/* The divisor writes reached neither IER nor the transmitter. */
	assert_int_equal(rd(c, UART_IER), UART_IER_RDI);
	assert_int_equal(hw_console_output(c->f, out, sizeof(out)), 0);
	wr(c, UART_LCR, UART_LCR_DLAB);
	assert_int_equal(rd(c, UART_DLL), 0x01);
}

/* Linux's autoconfig: IER keeps only its low nibble; SCR is plain storage. */
static void test_ier_scratch(void **state)
{
	struct ctx *c = *state;

	wr(c, UART_IER, 0xff);
	assert_int_equal(rd(c, UART_IER), 0x0f);
	wr(c, UART_IER, 0);
	wr(c, UART_SCR, 0xa5);
	assert_int_equal(rd(c, UART_SCR), 0xa5);
}

static void test_transmit(void **state)
{
	struct ctx *c = *state;
	char out[64];

	for (const char *p = "hello\n"; *p; p++) {
		assert_true(rd(c, UART_LSR) & UART_LSR_THRE);
		wr(c, UART_TX, (uint8_t)*p);
	}
	assert_int_equal(rd(c, UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
	hw_console_output(c->f, out, sizeof(out));
	assert_string_equal(out, "hello\n");
}

/* What Linux's serial8250_startup checks: THRE fires whenever THRI is enabled. */
static void test_thre_on_ier_write(void **state)
{
	struct ctx *c = *state;

	wr(c, UART_IER, UART_IER_THRI);
	assert_true(c->u.irq_level);
	assert_int_equal(rd(c, UART_IIR), UART_IIR_THRI);
	/* Reading IIR acknowledged it. */
	assert_int_equal(rd(c, UART_IIR), UART_IIR_NO_INT);
	assert_false(c->u.irq_level);
	wr(c, UART_IER, 0);
	wr(c, UART_IER, UART_IER_THRI);
	assert_int_equal(rd(c, UART_IIR), UART_IIR_THRI);
	/* Rewriting IER with THRI already set does not fire again. */
	wr(c, UART_IER, UART_IER_THRI);
	assert_int_equal(rd(c, UART_IIR), UART_IIR_NO_INT);
	/* Each byte sent empties THR again. */
	wr(c, UART_TX, 'x');
	assert_true(c->u.irq_level);
	assert_int_equal(rd(c, UART_IIR), UART_IIR_THRI);
}

static void test_iir_priorities(void **state)
{
	struct ctx *c = *state;
	char big[UART_RX_SIZE + 1];
	const struct console_sink *sink = &c->f->vm.console.sink;

	memset(big, 'a', sizeof(big));
	wr(c, UART_IER, 0x0f);
	/* More than the buffer holds: an overrun on top of data, THRE and a delta. */
	sink->receive(sink->opaque, (const uint8_t *)big, sizeof(big));
	wr(c, UART_MCR, UART_MCR_LOOP);
	wr(c, UART_MCR, 0);
	assert_int_equal(rd(c, UART_IIR), UART_IIR_RLSI);
	assert_int_equal(rd(c, UART_LSR),
			 UART_LSR_DR | UART_LSR_OE | UART_LSR_THRE | UART_LSR_TEMT);
	assert_int_equal(rd(c, UART_LSR) & UART_LSR_OE, 0);
	assert_int_equal(rd(c, UART_IIR), UART_IIR_RDI);
	for (unsigned i = 0; i < UART_RX_SIZE; i++)
		assert_int_equal(rd(c, UART_RX), 'a');
	assert_int_equal(rd(c, UART_LSR) & UART_LSR_DR, 0);
	assert_int_equal(rd(c, UART_IIR), UART_IIR_THRI);
	assert_int_equal(rd(c, UART_IIR), UART_IIR_MSI);
	assert_true(rd(c, UART_MSR) & UART_MSR_ANY_DELTA);
	assert_int_equal(rd(c, UART_IIR), UART_IIR_NO_INT);
	assert_false(c->u.irq_level);
}

static void test_fifo(void **state)
{
	struct ctx *c = *state;

	wr(c, UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR_TRIGGER_4);
	assert_int_equal(rd(c, UART_IIR), 0xc0 | UART_IIR_NO_INT);
	wr(c, UART_IER, UART_IER_RDI);
	assert_int_equal(feed(c, "ab", 2), 2);
	/* Below the trigger level: a character timeout. */
	assert_int_equal(rd(c, UART_IIR), 0xc0 | UART_IIR_RX_TIMEOUT);
	assert_int_equal(feed(c, "cd", 2), 2);
	assert_int_equal(rd(c, UART_IIR), 0xc0 | UART_IIR_RDI);
	/* Clearing the FIFO drops what the chip holds. */
	wr(c, UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR_CLEAR_RCVR);
	assert_int_equal(rd(c, UART_LSR) & UART_LSR_DR, 0);
	assert_int_equal(rd(c, UART_IIR), 0xc0 | UART_IIR_NO_INT);
	/* Without FCR0 the FIFO is off and IIR says so. */
	wr(c, UART_FCR, 0);
	assert_int_equal(rd(c, UART_IIR), UART_IIR_NO_INT);
}

static void test_rx_interrupt(void **state)
{
	struct ctx *c = *state;

	wr(c, UART_IER, UART_IER_RDI);
	assert_false(c->u.irq_level);
	assert_int_equal(feed(c, "ok", 2), 2);
	assert_true(c->u.irq_level);
	assert_int_equal(rd(c, UART_IIR), UART_IIR_RDI);
	assert_true(rd(c, UART_LSR) & UART_LSR_DR);
	assert_int_equal(rd(c, UART_RX), 'o');
	assert_true(c->u.irq_level);
	assert_int_equal(rd(c, UART_RX), 'k');
	assert_false(c->u.irq_level);
	assert_int_equal(rd(c, UART_IIR), UART_IIR_NO_INT);
}

static void test_rx_backpressure(void **state)
{
	struct ctx *c = *state;
	struct console *con = &c->f->vm.console;
	static char data[3 * UART_RX_SIZE];
	size_t sent = 0, got = 0;
	unsigned pauses = 0;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)('a' + i % 26);
	while (got < sizeof(data)) {
		if (sent < sizeof(data) && !atomic_load(&con->paused)) {
			sent += feed(c, data + sent, sizeof(data) - sent);
			if (con->sink.space(con->sink.opaque) == 0) {
				atomic_store(&con->paused, true); /* as the console does */
				pauses++;
			}
			continue;
		}
		assert_true(rd(c, UART_LSR) & UART_LSR_DR);
		assert_int_equal(rd(c, UART_RX), (uint8_t)data[got]);
		got++;
	}
	assert_int_equal(sent, sizeof(data));
	assert_true(pauses >= 2);
	/* The guest drained enough each time to resume the console. */
	assert_false(atomic_load(&con->paused));
	assert_int_equal(rd(c, UART_LSR) & UART_LSR_OE, 0);
}

/* Linux's loopback test: MCR = LOOP | OUT2 | RTS gives MSR = DCD | CTS. */
static void test_loopback(void **state)
{
	struct ctx *c = *state;
	const struct console_sink *sink = &c->f->vm.console.sink;
	char out[16];
	uint8_t msr;

	rd(c, UART_MSR);
	wr(c, UART_MCR, UART_MCR_LOOP | UART_MCR_OUT2 | UART_MCR_RTS);
	assert_int_equal(rd(c, UART_MSR) & 0xf0, UART_MSR_DCD | UART_MSR_CTS);
	wr(c, UART_MCR, UART_MCR_LOOP | UART_MCR_OUT1 | UART_MCR_DTR);
	msr = rd(c, UART_MSR);
	assert_int_equal(msr & 0xf0, UART_MSR_RI | UART_MSR_DSR);
	assert_true(msr & UART_MSR_DDSR);
	assert_true(msr & UART_MSR_DCTS);
	assert_true(msr & UART_MSR_DDCD);
	/* RI falling sets TERI. */
	wr(c, UART_MCR, UART_MCR_LOOP);
	assert_true(rd(c, UART_MSR) & UART_MSR_TERI);
	/* Transmitted bytes come back and never reach the console. */
	wr(c, UART_TX, 'Z');
	assert_true(rd(c, UART_LSR) & UART_LSR_DR);
	assert_int_equal(rd(c, UART_RX), 'Z');
	assert_int_equal(hw_console_output(c->f, out, sizeof(out)), 0);
	/* The receiver input is disconnected meanwhile. */
	assert_int_equal(sink->space(sink->opaque), 0);
	wr(c, UART_MCR, UART_MCR_DTR | UART_MCR_RTS | UART_MCR_OUT2);
	assert_int_equal(rd(c, UART_MSR) & 0xf0, UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS);
	assert_int_equal(sink->space(sink->opaque), UART_RX_SIZE);
}

/* Multi-byte accesses act on consecutive registers. */
static void test_wide_access(void **state)
{
	struct ctx *c = *state;

	pio_out(&c->f->vm, COM1 + UART_LCR, 0xa583, 2); /* LCR = DLAB|8N1, MCR = 0xa5 & 0x1f */
	assert_int_equal(rd(c, UART_LCR), 0x83);
	assert_int_equal(rd(c, UART_MCR), 0x05);
	assert_int_equal(pio_in(&c->f->vm, COM1 + UART_LCR, 2), 0x0583);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reset_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dlab, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ier_scratch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transmit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_thre_on_ier_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iir_priorities, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fifo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_interrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_backpressure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loopback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wide_access, setup, teardown),
	};

	return cmocka_run_group_tests_name("uart", tests, NULL, NULL);
}
