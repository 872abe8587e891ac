/*
 * The POST diagnostic port (0x80). With --boot-timer each write is reported
 * on stderr with the microseconds since the VMM started; a guest writes there
 * to mark a point of its boot. Without it, writes are ignored.
 */
#ifndef HW_POST_H
#define HW_POST_H

struct io_ops;
struct vm;

struct post_port {
	struct vm *vm;
};

void post_port_init(struct post_port *p, struct vm *vm);

/* One port; dev = the struct post_port. */
extern const struct io_ops post_port_ops;

#endif
