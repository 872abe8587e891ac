/* Port I/O instruction forms, for the tests and the platform probe. */
#ifndef TESTS_ACCEL_T_PIO_H
#define TESTS_ACCEL_T_PIO_H

#include <stddef.h>

#include "harness.h"

#define T_PORT_IMM 0xe0  /* no in-kernel device behind either port */
#define T_PORT_DX  0x510

enum t_pio_kind { T_OUT_IMM, T_OUT_DX, T_IN_IMM, T_IN_DX, T_OUTS, T_INS };

struct t_pio_form {
	enum t_mode mode;
	enum t_pio_kind kind;
	unsigned size; /* 1, 2 or 4 */
	bool high;     /* long mode: code, stack and buffers at T_HIGH + x */
};

const char *t_mode_name(enum t_mode m);
void t_pio_form_name(const struct t_pio_form *f, char *buf, size_t len);
/* Runs the form on vCPU 0 of t's VM; why is "" when the host saw it right. */
void t_pio_run(struct t_host *t, const struct t_pio_form *f, char *why, size_t len);

/*
 * A guest loop of n `out dx` (values 0, 1, 2...) then the done marker.
 * Verifies each arrived (all n recorded unless t->count_only). Returns the
 * ns spent in run(); why is "" when right.
 */
uint64_t t_pio_loop(struct t_host *t, enum t_mode mode, unsigned size, unsigned n, char *why,
		    size_t len);

#endif
