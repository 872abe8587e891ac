/* The 8259A pair: Linux's init sequence and probe, masking, priorities and
 * EOIs, the cascade, ELCR level inputs, spurious IRQs, auto-EOI, poll. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "accel/emu/pic.h"

#define M_CMD PIC_MASTER_CMD
#define M_DATA PIC_MASTER_DATA
#define S_CMD PIC_SLAVE_CMD
#define S_DATA PIC_SLAVE_DATA
#define OCW3_READ_IRR 0x0a
#define OCW3_READ_ISR 0x0b
#define OCW3_POLL 0x0c
#define EOI 0x20
#define SPECIFIC_EOI(ir) (0x60 | (ir))

struct fixture {
	struct pic pic;
	bool out;          /* INT as last reported */
	unsigned changes;  /* INT reports */
	uint16_t eoi_seen; /* IRQs the EOI callback got */
};

static void on_output(void *opaque, bool level)
{
	struct fixture *f = opaque;

	f->out = level;
	f->changes++;
}

static void on_eoi(void *opaque, unsigned irq)
{
	struct fixture *f = opaque;

	f->eoi_seen |= (uint16_t)(1u << irq);
}

/* Linux's init_8259A(auto_eoi): vectors 0x30/0x38, slave on IR2. */
static void linux_init(struct pic *p, bool auto_eoi)
{
	pic_write(p, M_DATA, 0xff);
	pic_write(p, M_CMD, 0x11);
	pic_write(p, M_DATA, 0x30);
	pic_write(p, M_DATA, 1u << PIC_CASCADE_IRQ);
	pic_write(p, M_DATA, auto_eoi ? 0x03 : 0x01);
	pic_write(p, S_CMD, 0x11);
	pic_write(p, S_DATA, 0x38);
	pic_write(p, S_DATA, PIC_CASCADE_IRQ);
	pic_write(p, S_DATA, 0x01);
	pic_write(p, M_DATA, 0xfb); /* everything masked but the cascade */
	pic_write(p, S_DATA, 0xff);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct pic_config cfg = { .output = on_output, .eoi = on_eoi, .opaque = f };

	assert_int_equal(pic_init(&f->pic, &cfg), 0);
	linux_init(&f->pic, false);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	pic_destroy(&f->pic);
	free(f);
	return 0;
}

static uint8_t reg(struct pic *p, uint16_t cmd, uint8_t ocw3)
{
	pic_write(p, cmd, ocw3);
	return pic_read(p, cmd);
}

static void unmask(struct pic *p, unsigned irq)
{
	uint16_t port = irq < 8 ? M_DATA : S_DATA;

	pic_write(p, port, pic_read(p, port) & ~(1u << (irq & 7)));
}

static void pulse(struct pic *p, unsigned irq)
{
	pic_set_irq(p, irq, 1);
	pic_set_irq(p, irq, 0);
}

/* probe_8259A writes a mask and reads it back. */
static void test_probe_and_init(void **state)
{
	struct fixture *f = *state;
	struct pic *p = &f->pic;

	pic_write(p, S_DATA, 0xff);
	pic_write(p, M_DATA, 0xfb);
	assert_int_equal(pic_read(p, M_DATA), 0xfb);
	assert_int_equal(pic_read(p, S_DATA), 0xff);
	assert_int_equal(reg(p, M_CMD, OCW3_READ_IRR), 0);
	assert_int_equal(reg(p, M_CMD, OCW3_READ_ISR), 0);
	assert_false(f->out);
	/* ICW1 clears the mask and forgets edge requests */
	pulse(p, 1);
	pic_write(p, M_CMD, 0x11);
	assert_int_equal(pic_read(p, M_DATA), 0); /* the IMR: cleared */
	assert_int_equal(reg(p, M_CMD, OCW3_READ_IRR), 0);
	linux_init(p, false);
}

static void test_timer_irq(void **state)
{
	struct fixture *f = *state;
	struct pic *p = &f->pic;

	unmask(p, 0);
	pulse(p, 0);
	assert_true(f->out);
	assert_int_equal(reg(p, M_CMD, OCW3_READ_IRR), 0x01);
	assert_int_equal(pic_intack(p), 0x30);
	assert_false(f->out);
	assert_int_equal(reg(p, M_CMD, OCW3_READ_IRR), 0);
	assert_int_equal(reg(p, M_CMD, OCW3_READ_ISR), 0x01);
	/* another tick while in service waits for the EOI */
	pulse(p, 0);
	assert_false(f->out);
	pic_write(p, M_CMD, SPECIFIC_EOI(0));
	assert_int_equal(reg(p, M_CMD, OCW3_READ_ISR), 0);
	assert_true(f->eoi_seen & 1);
	assert_true(f->out);
	assert_int_equal(pic_intack(p), 0x30);
}

static void test_masking(void **state)
{
	struct fixture *f = *state;
	struct pic *p = &f->pic;

	pulse(p, 4);
	assert_false(f->out);
	assert_int_equal(reg(p, M_CMD, OCW3_READ_IRR), 0x10); /* latched while masked */
	unmask(p, 4);
	assert_true(f->out);
	pic_write(p, M_DATA, 0xff);
	assert_false(f->out);
	unmask(p, 4);
	assert_int_equal(pic_intack(p), 0x34);
}

/* Lower IR numbers win; a non-specific EOI ends the highest in service. */
static void test_priority_and_eoi(void **state)
{
	struct fixture *f = *state;
	struct pic *p = &f->pic;

	pic_write(p, M_DATA, 0x00);
	pulse(p, 3);
	pulse(p, 1);
	assert_int_equal(pic_intack(p), 0x31);
	assert_false(f->out); /* IR3 is below IR1 in service */
	pulse(p, 0);
	assert_true(f->out); /* IR0 nests */
	assert_int_equal(pic_intack(p), 0x30);
	assert_int_equal(reg(p, M_CMD, OCW3_READ_ISR), 0x03);
	pic_write(p, M_CMD, EOI);
	assert_int_equal(reg(p, M_CMD, OCW3_READ_ISR), 0x02);
	assert_false(f->out);
	pic_write(p, M_CMD, EOI);
	assert_int_equal(reg(p, M_CMD, OCW3_READ_ISR), 0);
	assert_true(f->out);
	assert_int_equal(pic_intack(p), 0x33);
	pic_write(p, M_CMD, EOI);
	/* an edge line held high does not request again */
	pic_set_irq(p, 5, 1);
	assert_int_equal(pic_intack(p), 0x35);
	pic_write(p, M_CMD, SPECIFIC_EOI(5));
	assert_false(f->out);
	pic_set_irq(p, 5, 0);
	pic_set_irq(p, 5, 1);
	assert_true(f->out);
}

/* Set priority and rotation: the IR after the named one becomes the highest. */
static void test_rotation(void **state)
{
	struct fixture *f = *state;
	struct pic *p = &f->pic;

	pic_write(p, M_DATA, 0x00);
	pic_write(p, M_CMD, 0xc3); /* IR3 lowest: IR4 highest */
	pulse(p, 1);
	pulse(p, 5);
	assert_int_equal(pic_intack(p), 0x35);
	pic_write(p, M_CMD, 0xa0); /* rotate on non-specific EOI: IR5 lowest */
	pulse(p, 5);
	assert_int_equal(pic_intack(p), 0x31); /* IR1 now above IR5 */
	pic_write(p, M_CMD, EOI);
	assert_int_equal(pic_intack(p), 0x35);
	pic_write(p, M_CMD, 0xc7); /* back to IR0 highest */
	pic_write(p, M_CMD, EOI);
	assert_false(f->out);
}

static void test_cascade(void **state)
{
	struct fixture *f = *state;
	struct pic *p = &f->pic;

	unmask(p, 10);
	pulse(p, 10);
	assert_true(f->out);
	assert_int_equal(reg(p, M_CMD, OCW3_READ_IRR), 0x04);
	assert_int_equal(pic_intack(p), 0x3a);
	assert_int_equal(reg(p, M_CMD, OCW3_READ_ISR), 0x04);
	assert_int_equal(reg(p, S_CMD, OCW3_READ_ISR), 0x04);
	assert_false(f->out);
	/* Linux's order: the slave's EOI, then the cascade's on the master */
	pic_write(p, S_CMD, SPECIFIC_EOI(2));
	pic_write(p, M_CMD, SPECIFIC_EOI(PIC_CASCADE_IRQ));
	assert_int_equal(reg(p, M_CMD, OCW3_READ_ISR), 0);
	assert_int_equal(reg(p, S_CMD, OCW3_READ_ISR), 0);
	assert_true(f->eoi_seen & (1u << 10));
	assert_false(f->eoi_seen & (1u << PIC_CASCADE_IRQ));
	/* a masked cascade hides the slave */
	pic_write(p, M_DATA, 0xff);
	pulse(p, 10);
	assert_false(f->out);
	unmask(p, 2);
	assert_int_equal(pic_intack(p), 0x3a);
}

/* ELCR: level inputs hold IRR while asserted and request again after EOI. */
static void test_elcr_level(void **state)
{
	struct fixture *f = *state;
	struct pic *p = &f->pic;

	pic_write(p, PIC_ELCR_MASTER, 0xff);
	assert_int_equal(pic_read(p, PIC_ELCR_MASTER), 0xf8); /* IRQ 0-2 are edge */
	pic_write(p, PIC_ELCR_SLAVE, 0xff);
	assert_int_equal(pic_read(p, PIC_ELCR_SLAVE), 0xde); /* IRQ 8, 13 are edge */
	pic_write(p, PIC_ELCR_MASTER, 0x00);
	pic_write(p, PIC_ELCR_SLAVE, 0x08); /* IRQ 11 level */
	unmask(p, 11);
	pic_set_irq(p, 11, 1);
	assert_int_equal(pic_intack(p), 0x3b);
	pic_write(p, S_CMD, EOI);
	pic_write(p, M_CMD, EOI);
	assert_true(f->eoi_seen & (1u << 11));
	assert_true(f->out); /* still asserted: again */
	assert_int_equal(pic_intack(p), 0x3b);
	pic_set_irq(p, 11, 0);
	assert_int_equal(reg(p, S_CMD, OCW3_READ_IRR), 0);
	pic_write(p, S_CMD, EOI);
	pic_write(p, M_CMD, EOI);
	assert_false(f->out);
}

static void test_spurious(void **state)
{
	struct fixture *f = *state;
	struct pic *p = &f->pic;

	assert_int_equal(pic_intack(p), 0x37); /* nothing: IRQ 7, not in service */
	assert_int_equal(reg(p, M_CMD, OCW3_READ_ISR), 0);
	/* a level request on the slave that goes away before the INTA */
	pic_write(p, PIC_ELCR_SLAVE, 0x02); /* IRQ 9 level */
	unmask(p, 9);
	pic_set_irq(p, 9, 1);
	assert_true(f->out);
	pic_set_irq(p, 9, 0);
	assert_int_equal(pic_intack(p), 0x3f); /* IRQ 15 */
	assert_int_equal(reg(p, S_CMD, OCW3_READ_ISR), 0);
	assert_int_equal(reg(p, M_CMD, OCW3_READ_ISR), 0x04); /* Linux EOIs the cascade */
	pic_write(p, M_CMD, SPECIFIC_EOI(PIC_CASCADE_IRQ));
	assert_false(f->out);
}

static void test_auto_eoi(void **state)
{
	struct fixture *f = *state;
	struct pic *p = &f->pic;

	linux_init(p, true);
	unmask(p, 0);
	pulse(p, 0);
	assert_int_equal(pic_intack(p), 0x30);
	assert_int_equal(reg(p, M_CMD, OCW3_READ_ISR), 0);
	assert_true(f->eoi_seen & 1);
	pulse(p, 0);
	assert_true(f->out); /* no EOI needed */
}

static void test_poll(void **state)
{
	struct fixture *f = *state;
	struct pic *p = &f->pic;

	pic_write(p, M_DATA, 0x00);
	pic_write(p, M_CMD, OCW3_POLL);
	assert_int_equal(pic_read(p, M_CMD), 0); /* nothing pending */
	pulse(p, 6);
	pic_write(p, M_CMD, OCW3_POLL);
	assert_int_equal(pic_read(p, M_DATA), 0x86);
	assert_false(f->out);
	assert_int_equal(reg(p, M_CMD, OCW3_READ_ISR), 0x40);
	assert_int_equal(pic_read(p, M_DATA), 0x00); /* poll is one read: the IMR again */
}

/* Special mask mode: masking the level in service lets lower ones in. */
static void test_special_mask(void **state)
{
	struct fixture *f = *state;
	struct pic *p = &f->pic;

	pic_write(p, M_DATA, 0x00);
	pulse(p, 1);
	assert_int_equal(pic_intack(p), 0x31);
	pulse(p, 4);
	assert_false(f->out);
	pic_write(p, M_CMD, 0x68); /* special mask mode on */
	pic_write(p, M_DATA, 0x02); /* mask the level in service */
	assert_true(f->out);        /* lower levels may interrupt it */
	assert_int_equal(pic_intack(p), 0x34);
	pic_write(p, M_CMD, 0x48); /* off */
	pic_write(p, M_CMD, 0x40); /* OCW2 no-op */
	assert_int_equal(reg(p, M_CMD, OCW3_READ_ISR), 0x12);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_probe_and_init, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timer_irq, setup, teardown),
		cmocka_unit_test_setup_teardown(test_masking, setup, teardown),
		cmocka_unit_test_setup_teardown(test_priority_and_eoi, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cascade, setup, teardown),
		cmocka_unit_test_setup_teardown(test_elcr_level, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spurious, setup, teardown),
		cmocka_unit_test_setup_teardown(test_auto_eoi, setup, teardown),
		cmocka_unit_test_setup_teardown(test_poll, setup, teardown),
		cmocka_unit_test_setup_teardown(test_special_mask, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
