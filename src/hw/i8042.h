/*
 * The i8042 keyboard controller, with nothing plugged into its ports: enough
 * for an OS to probe it quietly and to reset the machine through it. Port
 * 0x92 (system control port A) shares the reset line.
 */
#ifndef HW_I8042_H
#define HW_I8042_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct io_ops;
struct vm;

#define I8042_KBD_IRQ 1
#define I8042_AUX_IRQ 12

struct i8042 {
	struct vm *vm;
	pthread_mutex_t lock;
	uint8_t ctr;     /* controller configuration ("command byte") */
	uint8_t status;  /* status register bits other than OBF and AUXDATA */
	uint8_t out;     /* output buffer */
	bool out_full, out_aux;
	uint8_t pending; /* a command waiting for its data byte, or 0 */
	uint8_t outport; /* output port: bit 0 is the reset line (active low) */
	uint8_t port92;
	bool irq1, irq12;
};

int i8042_init(struct i8042 *k, struct vm *vm);
void i8042_destroy(struct i8042 *k);

/* One port each (0x60 data, 0x64 command and status); dev = the i8042. */
extern const struct io_ops i8042_data_ops;
extern const struct io_ops i8042_cmd_ops;
/* Port 0x92; dev = the i8042. */
extern const struct io_ops i8042_port92_ops;

#endif
