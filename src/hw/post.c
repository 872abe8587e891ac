/* POST port 0x80: the --boot-timer probe. */
#include "hw/post.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "core/vm.h"

static uint64_t post_read(void *dev, uint64_t off, unsigned size)
{
	return 0xff;
}

/*
 * The user asked for these lines, so they bypass --log-level; one write(2)
 * per line keeps them whole next to other threads' output.
 */
static void post_write(void *dev, uint64_t off, uint64_t value, unsigned size)
{
	struct post_port *p = dev;
	const struct vm *vm = p->vm;
	uint64_t us;
	char line[96];
	int n;

	if (!vm->cfg || !vm->cfg->boot_timer)
		return;
	us = (vm_now_ns() - vm->start_ns) / 1000;
	n = snprintf(line, sizeof(line), "splitvm: boot-timer: 0x%02x at %llu us\n",
		     (unsigned)(value & 0xff), (unsigned long long)us);
	if (n <= 0 || (size_t)n >= sizeof(line))
		return;
	while (write(vm->log.fd, line, (size_t)n) < 0 && errno == EINTR)
		;
}

const struct io_ops post_port_ops = {
	.read = post_read,
	.write = post_write,
};

void post_port_init(struct post_port *p, struct vm *vm)
{
	p->vm = vm;
}
