#include "hw_test.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void open_pipe(int fds[2])
{
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0)
		abort();
	fcntl(fds[1], F_SETPIPE_SZ, 1 << 20);
}

struct hw_fixture *hw_fixture_new(uint64_t ram_size)
{
	struct hw_fixture *f = calloc(1, sizeof(*f));
	struct mem_range r = { gpa(0), ram_size };

	if (!f)
		abort();
	open_pipe(f->out);
	open_pipe(f->err);
	f->cfg.ncpus = 1;
	f->vm.cfg = &f->cfg;
	f->vm.ncpus = 1;
	f->vm.log = (struct logger){ .level = LOG_DEBUG, .fd = f->err[1] };
	f->vm.start_ns = vm_now_ns();
	if (guest_memory_init(&f->vm.mem, &r, 1) || iobus_init(&f->vm.pio, "pio", &f->vm.log) ||
	    iobus_init(&f->vm.mmio, "mmio", &f->vm.log) || evloop_init(&f->vm.loop))
		abort();
	f->vm.console.in_fd = -1;
	f->vm.console.out_fd = f->out[1];
	f->vm.console.resume_watch.fd = -1;
	f->vm.console.log = &f->vm.log;
	pthread_mutex_init(&f->vm.console.out_lock, NULL);
	return f;
}

void hw_fixture_free(struct hw_fixture *f)
{
	evloop_destroy(&f->vm.loop);
	iobus_destroy(&f->vm.mmio);
	iobus_destroy(&f->vm.pio);
	guest_memory_destroy(&f->vm.mem);
	pthread_mutex_destroy(&f->vm.console.out_lock);
	for (int i = 0; i < 2; i++) {
		close(f->out[i]);
		close(f->err[i]);
	}
	free(f);
}

static size_t drain(int fd, char *buf, size_t len)
{
	size_t n = 0;
	ssize_t r;

	while (n + 1 < len && (r = read(fd, buf + n, len - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = '\0';
	return n;
}

size_t hw_console_output(struct hw_fixture *f, char *buf, size_t len)
{
	return drain(f->out[0], buf, len);
}

size_t hw_stderr_output(struct hw_fixture *f, char *buf, size_t len)
{
	return drain(f->err[0], buf, len);
}

uint32_t pio_in(struct vm *vm, uint16_t port, unsigned size)
{
	uint32_t v = 0;

	iobus_access(&vm->pio, port, &v, size, false);
	return v;
}

void pio_out(struct vm *vm, uint16_t port, uint32_t v, unsigned size)
{
	iobus_access(&vm->pio, port, &v, size, true);
}

uint64_t mmio_in(struct vm *vm, uint64_t addr, unsigned size)
{
	uint64_t v = 0;

	iobus_access(&vm->mmio, addr, &v, size, false);
	return v;
}

void mmio_out(struct vm *vm, uint64_t addr, uint64_t v, unsigned size)
{
	iobus_access(&vm->mmio, addr, &v, size, true);
}
