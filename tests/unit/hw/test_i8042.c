/* The i8042 as Linux's driver probes it, its reset paths, and the POST port. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hw/i8042.h"
#include "hw/post.h"
#include "hw_test.h"

#define DATA 0x60
#define CMD 0x64
#define STATUS 0x64
#define PORT92 0x92
#define POST 0x80

#define STR_OBF 0x01
#define STR_SYS 0x04
#define STR_KEYLOCK 0x10
#define STR_AUXDATA 0x20
#define STR_TIMEOUT 0x40

struct ctx {
	struct hw_fixture *f;
	struct i8042 k;
	struct post_port post;
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	struct iobus *pio;

	c->f = hw_fixture_new(1 << 20);
	pio = &c->f->vm.pio;
	assert_int_equal(i8042_init(&c->k, &c->f->vm), 0);
	post_port_init(&c->post, &c->f->vm);
	assert_int_equal(iobus_register(pio, DATA, 1, &i8042_data_ops, &c->k, "i8042-data"), 0);
	assert_int_equal(iobus_register(pio, CMD, 1, &i8042_cmd_ops, &c->k, "i8042-cmd"), 0);
	assert_int_equal(iobus_register(pio, PORT92, 1, &i8042_port92_ops, &c->k, "port92"), 0);
	assert_int_equal(iobus_register(pio, POST, 1, &post_port_ops, &c->post, "post"), 0);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	i8042_destroy(&c->k);
	hw_fixture_free(c->f);
	free(c);
	return 0;
}

/* A controller command with one result byte, as i8042_command() does it. */
static uint8_t command(struct ctx *c, uint8_t cmd)
{
	outb(&c->f->vm, CMD, cmd);
	assert_true(inb(&c->f->vm, STATUS) & STR_OBF);
	return inb(&c->f->vm, DATA);
}

static int exit_reason(struct ctx *c)
{
	return atomic_load(&c->f->vm.exit_reason);
}

static void test_idle_status(void **state)
{
	struct ctx *c = *state;
	uint8_t st = inb(&c->f->vm, STATUS);

	/* Nothing to flush, self-test passed, keyboard not inhibited. */
	assert_int_equal(st & STR_OBF, 0);
	assert_true(st & STR_SYS);
	assert_true(st & STR_KEYLOCK);
}

static void test_self_test(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(command(c, 0xaa), 0x55);
	assert_int_equal(inb(&c->f->vm, STATUS) & STR_OBF, 0);
}

static void test_command_byte(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(command(c, 0x20), 0x45);
	outb(&c->f->vm, CMD, 0x60);
	outb(&c->f->vm, DATA, 0x56);
	assert_int_equal(inb(&c->f->vm, STATUS) & STR_OBF, 0);
	assert_int_equal(command(c, 0x20), 0x56);
	/* Port enable and disable flip the command byte's bits. */
	outb(&c->f->vm, CMD, 0xa8);
	assert_int_equal(command(c, 0x20) & 0x20, 0);
	outb(&c->f->vm, CMD, 0xa7);
	assert_int_equal(command(c, 0x20) & 0x20, 0x20);
	outb(&c->f->vm, CMD, 0xad);
	assert_int_equal(command(c, 0x20) & 0x10, 0x10);
	outb(&c->f->vm, CMD, 0xae);
	assert_int_equal(command(c, 0x20) & 0x10, 0);
}

static void test_port_tests(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(command(c, 0xab), 0x00);
	assert_int_equal(command(c, 0xa9), 0x00);
	assert_int_equal(command(c, 0xd0) & 0x03, 0x03); /* reset line high, A20 on */
}

/* The AUX loopback Linux uses to find the mouse port and test IRQ 12. */
static void test_aux_loop(void **state)
{
	struct ctx *c = *state;

	outb(&c->f->vm, CMD, 0x60);
	outb(&c->f->vm, DATA, 0x47); /* both interrupts on */
	outb(&c->f->vm, CMD, 0xd3);
	outb(&c->f->vm, DATA, 0x5a);
	assert_int_equal(inb(&c->f->vm, STATUS) & (STR_OBF | STR_AUXDATA), STR_OBF | STR_AUXDATA);
	assert_true(c->k.irq12);
	assert_false(c->k.irq1);
	assert_int_equal(inb(&c->f->vm, DATA), 0x5a);
	assert_false(c->k.irq12);
	outb(&c->f->vm, CMD, 0xd2);
	outb(&c->f->vm, DATA, 0x33);
	assert_true(c->k.irq1);
	assert_int_equal(inb(&c->f->vm, DATA), 0x33);
}

/* No keyboard and no mouse: their commands time out at once. */
static void test_absent_devices(void **state)
{
	struct ctx *c = *state;
	uint8_t st;

	outb(&c->f->vm, DATA, 0xf2); /* keyboard GET ID */
	st = inb(&c->f->vm, STATUS);
	assert_int_equal(st & (STR_OBF | STR_TIMEOUT | STR_AUXDATA), STR_OBF | STR_TIMEOUT);
	assert_true(c->k.irq1);
	assert_int_equal(inb(&c->f->vm, DATA), 0xfe);
	assert_int_equal(inb(&c->f->vm, STATUS) & (STR_OBF | STR_TIMEOUT), 0);
	outb(&c->f->vm, CMD, 0xd4);
	outb(&c->f->vm, DATA, 0xf2);
	st = inb(&c->f->vm, STATUS);
	assert_int_equal(st & (STR_OBF | STR_TIMEOUT | STR_AUXDATA),
			 STR_OBF | STR_TIMEOUT | STR_AUXDATA);
	assert_int_equal(inb(&c->f->vm, DATA), 0xfe);
	assert_int_equal(exit_reason(c), VM_EXIT_NONE);
}

static void test_reset_command(void **state)
{
	struct ctx *c = *state;

	outb(&c->f->vm, CMD, 0xff); /* pulses nothing */
	assert_int_equal(exit_reason(c), VM_EXIT_NONE);
	outb(&c->f->vm, CMD, 0xfe);
	assert_int_equal(exit_reason(c), VM_EXIT_RESET);
}

static void test_reset_outport(void **state)
{
	struct ctx *c = *state;

	outb(&c->f->vm, CMD, 0xd1);
	outb(&c->f->vm, DATA, 0xdf); /* A20 on, reset line high */
	assert_int_equal(exit_reason(c), VM_EXIT_NONE);
	outb(&c->f->vm, CMD, 0xd1);
	outb(&c->f->vm, DATA, 0xde);
	assert_int_equal(exit_reason(c), VM_EXIT_RESET);
}

static void test_reset_port92(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(inb(&c->f->vm, PORT92), 0x02);
	outb(&c->f->vm, PORT92, 0x02);
	assert_int_equal(exit_reason(c), VM_EXIT_NONE);
	outb(&c->f->vm, PORT92, 0x03);
	assert_int_equal(exit_reason(c), VM_EXIT_RESET);
}

static void test_post_boot_timer(void **state)
{
	struct ctx *c = *state;
	char err[256];
	unsigned v;
	unsigned long long us;
	int end = 0;

	c->f->cfg.boot_timer = true;
	c->f->vm.log.level = LOG_ERROR; /* printed whatever the level */
	outb(&c->f->vm, POST, 0x2a);
	hw_stderr_output(c->f, err, sizeof(err));
	assert_int_equal(sscanf(err, "splitvm: boot-timer: 0x%2x at %llu us\n%n", &v, &us, &end),
			 2);
	assert_int_equal(v, 0x2a);
	assert_int_equal((size_t)end, strlen(err));
	assert_true(us < 60ull * 1000 * 1000);
	outb(&c->f->vm, POST, 0x00);
	hw_stderr_output(c->f, err, sizeof(err));
	assert_non_null(strstr(err, "boot-timer: 0x00 at "));
}

static void test_post_silent(void **state)
{
	struct ctx *c = *state;
	char err[64];

	outb(&c->f->vm, POST, 0x2a);
	assert_int_equal(hw_stderr_output(c->f, err, sizeof(err)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_idle_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_self_test, setup, teardown),
		cmocka_unit_test_setup_teardown(test_command_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_port_tests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_aux_loop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_absent_devices, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_command, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_outport, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_port92, setup, teardown),
		cmocka_unit_test_setup_teardown(test_post_boot_timer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_post_silent, setup, teardown),
	};

	return cmocka_run_group_tests_name("i8042 and POST", tests, NULL, NULL);
}
