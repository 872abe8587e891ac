/*
 * i8042 keyboard controller without devices. The controller's own commands
 * work (self-test, command byte, port tests and loopback, enabling and
 * disabling the ports, the output port); bytes for the keyboard or the mouse
 * come back as 0xfe with the time-out bit, as from an empty socket, so an OS
 * gives up on them at once. Pulsing the reset line ends the run.
 */
#include "hw/i8042.h"

#include <errno.h>
#include <string.h>

#include "core/vm.h"

/* Status register. */
#define STR_OBF 0x01
#define STR_SYS 0x04
#define STR_CMD 0x08     /* the last write went to the command port */
#define STR_KEYLOCK 0x10 /* set: the keyboard is not inhibited */
#define STR_AUXDATA 0x20
#define STR_TIMEOUT 0x40

/* Controller configuration byte. */
#define CTR_KBDINT 0x01
#define CTR_AUXINT 0x02
#define CTR_SYS 0x04
#define CTR_KBDDIS 0x10
#define CTR_AUXDIS 0x20
#define CTR_XLATE 0x40

/* Commands. */
#define CMD_READ_CTR 0x20
#define CMD_WRITE_CTR 0x60
#define CMD_AUX_DISABLE 0xa7
#define CMD_AUX_ENABLE 0xa8
#define CMD_AUX_TEST 0xa9
#define CMD_SELF_TEST 0xaa
#define CMD_KBD_TEST 0xab
#define CMD_KBD_DISABLE 0xad
#define CMD_KBD_ENABLE 0xae
#define CMD_READ_OUTPORT 0xd0
#define CMD_WRITE_OUTPORT 0xd1
#define CMD_KBD_LOOP 0xd2
#define CMD_AUX_LOOP 0xd3
#define CMD_AUX_SEND 0xd4
#define CMD_PULSE 0xf0 /* 0xf0..0xff: pulse the output lines clear in bits 0..3 */

#define SELF_TEST_OK 0x55
#define PORT_TEST_OK 0x00
#define DEV_NO_ANSWER 0xfe
#define OUTPORT_RESET 0x01 /* active low */
#define OUTPORT_A20 0x02
#define PORT92_RESET 0x01
#define PORT92_A20 0x02

static void update_irqs(struct i8042 *k)
{
	bool irq1 = k->out_full && !k->out_aux && (k->ctr & CTR_KBDINT);
	bool irq12 = k->out_full && k->out_aux && (k->ctr & CTR_AUXINT);

	if (irq1 != k->irq1)
		vm_set_irq(k->vm, I8042_KBD_IRQ, irq1);
	if (irq12 != k->irq12)
		vm_set_irq(k->vm, I8042_AUX_IRQ, irq12);
	k->irq1 = irq1;
	k->irq12 = irq12;
}

/* One output buffer: a new byte replaces one nobody read. */
static void output(struct i8042 *k, uint8_t v, bool aux, bool timeout)
{
	k->out = v;
	k->out_full = true;
	k->out_aux = aux;
	if (timeout)
		k->status |= STR_TIMEOUT;
	else
		k->status &= (uint8_t)~STR_TIMEOUT;
	update_irqs(k);
}

static void reset_machine(struct i8042 *k, const char *how)
{
	log_info(&k->vm->log, "guest reset through %s", how);
	vm_request_stop(k->vm, VM_EXIT_RESET);
}

static void set_ctr(struct i8042 *k, uint8_t v)
{
	k->ctr = v;
	k->status = (uint8_t)((k->status & ~STR_SYS) | (v & CTR_SYS ? STR_SYS : 0));
	update_irqs(k);
}

static void command(struct i8042 *k, uint8_t cmd)
{
	k->pending = 0;
	switch (cmd) {
	case CMD_READ_CTR:
		output(k, k->ctr, false, false);
		break;
	case CMD_WRITE_CTR:
	case CMD_WRITE_OUTPORT:
	case CMD_KBD_LOOP:
	case CMD_AUX_LOOP:
	case CMD_AUX_SEND:
		k->pending = cmd; /* the data byte follows on port 0x60 */
		break;
	case CMD_AUX_DISABLE:
		set_ctr(k, k->ctr | CTR_AUXDIS);
		break;
	case CMD_AUX_ENABLE:
		set_ctr(k, k->ctr & ~CTR_AUXDIS);
		break;
	case CMD_KBD_DISABLE:
		set_ctr(k, k->ctr | CTR_KBDDIS);
		break;
	case CMD_KBD_ENABLE:
		set_ctr(k, k->ctr & ~CTR_KBDDIS);
		break;
	case CMD_SELF_TEST:
		k->status |= STR_SYS;
		output(k, SELF_TEST_OK, false, false);
		break;
	case CMD_AUX_TEST:
	case CMD_KBD_TEST:
		output(k, PORT_TEST_OK, false, false);
		break;
	case CMD_READ_OUTPORT:
		output(k, k->outport, false, false);
		break;
	default:
		if (cmd >= CMD_PULSE && !(cmd & OUTPORT_RESET))
			reset_machine(k, "the i8042");
		else if (cmd < CMD_PULSE)
			log_debug(&k->vm->log, "i8042: command %#x ignored", cmd);
		break;
	}
}

static void data(struct i8042 *k, uint8_t v)
{
	uint8_t cmd = k->pending;

	k->pending = 0;
	switch (cmd) {
	case CMD_WRITE_CTR:
		set_ctr(k, v);
		break;
	case CMD_WRITE_OUTPORT:
		k->outport = v | OUTPORT_RESET;
		if (!(v & OUTPORT_RESET))
			reset_machine(k, "the i8042 output port");
		break;
	case CMD_KBD_LOOP:
		output(k, v, false, false);
		break;
	case CMD_AUX_LOOP:
		output(k, v, true, false);
		break;
	case CMD_AUX_SEND:
		output(k, DEV_NO_ANSWER, true, true); /* no mouse */
		break;
	default:
		output(k, DEV_NO_ANSWER, false, true); /* no keyboard */
		break;
	}
}

static uint64_t data_read(void *dev, uint64_t off, unsigned size)
{
	struct i8042 *k = dev;
	uint8_t v;

	pthread_mutex_lock(&k->lock);
	v = k->out;
	k->out_full = false;
	k->status &= (uint8_t)~STR_TIMEOUT;
	update_irqs(k);
	pthread_mutex_unlock(&k->lock);
	return v;
}

static void data_write(void *dev, uint64_t off, uint64_t value, unsigned size)
{
	struct i8042 *k = dev;

	pthread_mutex_lock(&k->lock);
	k->status &= (uint8_t)~STR_CMD;
	data(k, (uint8_t)value);
	pthread_mutex_unlock(&k->lock);
}

static uint64_t status_read(void *dev, uint64_t off, unsigned size)
{
	struct i8042 *k = dev;
	uint8_t v;

	pthread_mutex_lock(&k->lock);
	v = k->status | STR_KEYLOCK;
	if (k->out_full)
		v |= STR_OBF | (k->out_aux ? STR_AUXDATA : 0);
	pthread_mutex_unlock(&k->lock);
	return v;
}

static void command_write(void *dev, uint64_t off, uint64_t value, unsigned size)
{
	struct i8042 *k = dev;

	pthread_mutex_lock(&k->lock);
	k->status |= STR_CMD;
	command(k, (uint8_t)value);
	pthread_mutex_unlock(&k->lock);
}

const struct io_ops i8042_data_ops = {
	.read = data_read,
	.write = data_write,
};

const struct io_ops i8042_cmd_ops = {
	.read = status_read,
	.write = command_write,
};

static uint64_t port92_read(void *dev, uint64_t off, unsigned size)
{
	struct i8042 *k = dev;
	uint8_t v;

	pthread_mutex_lock(&k->lock);
	v = k->port92;
	pthread_mutex_unlock(&k->lock);
	return v;
}

/* Bit 0 going from 0 to 1 resets the CPU ("fast reset"). */
static void port92_write(void *dev, uint64_t off, uint64_t value, unsigned size)
{
	struct i8042 *k = dev;

	pthread_mutex_lock(&k->lock);
	if ((value & PORT92_RESET) && !(k->port92 & PORT92_RESET))
		reset_machine(k, "port 0x92");
	k->port92 = (uint8_t)value;
	pthread_mutex_unlock(&k->lock);
}

const struct io_ops i8042_port92_ops = {
	.read = port92_read,
	.write = port92_write,
};

int i8042_init(struct i8042 *k, struct vm *vm)
{
	memset(k, 0, sizeof(*k));
	k->vm = vm;
	/* As a BIOS leaves it: self-test passed, translation on. */
	k->ctr = CTR_KBDINT | CTR_SYS | CTR_XLATE;
	k->status = STR_SYS;
	k->outport = OUTPORT_RESET | OUTPORT_A20;
	k->port92 = PORT92_A20;
	return -pthread_mutex_init(&k->lock, NULL);
}

void i8042_destroy(struct i8042 *k)
{
	if (!k->vm)
		return;
	pthread_mutex_destroy(&k->lock);
	k->vm = NULL;
}
