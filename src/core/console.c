#include "core/console.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/log.h"

static void kick(struct console *c);

#define CTRL_A 0x01
#define READ_CHUNK 4096

static void make_raw(struct console *c)
{
	struct termios t;

	if (tcgetattr(c->in_fd, &c->saved) < 0)
		return;
	t = c->saved;
	/* Every key goes to the guest, Ctrl-C included; output keeps OPOST. */
	t.c_iflag &= ~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
	t.c_lflag &= ~(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
	t.c_cflag &= ~(CSIZE | PARENB);
	t.c_cflag |= CS8;
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	if (tcsetattr(c->in_fd, TCSANOW, &t) == 0)
		c->tty = true;
}

/* Passes input to the sink, interpreting Ctrl-A escapes on a terminal. */
static void deliver(struct console *c, const uint8_t *buf, size_t len)
{
	size_t start = 0;

	if (!c->tty) {
		if (c->sink.receive)
			c->sink.receive(c->sink.opaque, buf, len);
		return;
	}
	for (size_t i = 0; i < len; i++) {
		uint8_t pass = 0;

		if (c->escape) {
			c->escape = false;
			if (buf[i] == 'x') {
				if (c->quit)
					c->quit(c->quit_opaque);
				return;
			}
			pass = buf[i] == CTRL_A ? CTRL_A : 0;
		} else if (buf[i] == CTRL_A) {
			c->escape = true;
		} else {
			continue;
		}
		if (i > start && c->sink.receive)
			c->sink.receive(c->sink.opaque, buf + start, i - start);
		if (pass && c->sink.receive)
			c->sink.receive(c->sink.opaque, &pass, 1);
		start = i + 1;
	}
	if (len > start && c->sink.receive)
		c->sink.receive(c->sink.opaque, buf + start, len - start);
}

static void stop_input(struct console *c)
{
	if (c->input_on && c->pollable)
		evloop_del(c->loop, &c->watch);
	c->input_on = false;
}

static size_t sink_space(struct console *c)
{
	size_t space = c->sink.space ? c->sink.space(c->sink.opaque) : READ_CHUNK;

	return space < READ_CHUNK ? space : READ_CHUNK;
}

/* Reads what the sink has room for; a full sink pauses input. */
static void read_input(struct console *c)
{
	uint8_t buf[READ_CHUNK];
	unsigned rounds = c->pollable ? 1 : 16; /* a regular file is always ready */

	while (c->input_on && rounds--) {
		size_t space = sink_space(c);
		ssize_t n;

		if (space == 0) {
			atomic_store(&c->paused, true);
			if (c->pollable)
				evloop_mod(c->loop, &c->watch, 0);
			/* Room may have appeared between the check and the flag. */
			if (sink_space(c))
				console_resume(c);
			return;
		}
		n = read(c->in_fd, buf, space);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			return;
		if (n <= 0) {
			/* End of input is not an error: the guest keeps running. */
			stop_input(c);
			return;
		}
		deliver(c, buf, (size_t)n);
	}
	if (c->input_on && !c->pollable)
		kick(c); /* yield to the loop, then read on */
}

static void on_input(void *opaque, uint32_t events)
{
	read_input(opaque);
}

static void on_resume(void *opaque, uint32_t events)
{
	struct console *c = opaque;
	uint64_t v;

	if (read(c->resume_watch.fd, &v, sizeof(v)) < 0)
		return;
	if (!c->input_on)
		return;
	if (c->pollable)
		evloop_mod(c->loop, &c->watch, EPOLLIN);
	else
		read_input(c);
}

static int start_input(struct console *c)
{
	int err;

	c->resume_watch = (struct ev_watch){ -1, on_resume, c };
	c->resume_watch.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->resume_watch.fd < 0)
		return -errno;
	err = evloop_add(c->loop, &c->resume_watch, EPOLLIN);
	if (err)
		return err;
	c->watch = (struct ev_watch){ c->in_fd, on_input, c };
	c->pollable = true;
	err = evloop_add(c->loop, &c->watch, EPOLLIN);
	if (err == -EPERM) {
		/* Regular files and /dev/null cannot be polled: read on demand. */
		c->pollable = false;
		err = 0;
	}
	c->input_on = err == 0;
	if (!c->pollable)
		kick(c);
	return err;
}

int console_open(struct console *c, enum console_kind kind, const char *path,
		 struct evloop *loop, const struct logger *log)
{
	memset(c, 0, sizeof(*c));
	c->log = log;
	c->loop = loop;
	c->in_fd = c->out_fd = -1;
	c->resume_watch.fd = -1;
	pthread_mutex_init(&c->out_lock, NULL);
	if (kind == CONSOLE_NONE)
		return 0;
	if (kind == CONSOLE_FILE) {
		c->out_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (c->out_fd < 0) {
			log_error(log, "cannot open console file %s: %s", path, strerror(errno));
			return -errno;
		}
		c->owns_out_fd = true;
		return 0;
	}
	c->in_fd = STDIN_FILENO;
	c->out_fd = STDOUT_FILENO;
	if (isatty(c->in_fd))
		make_raw(c);
	return start_input(c);
}

void console_close(struct console *c)
{
	if (!c->loop)
		return; /* never opened */
	stop_input(c);
	if (c->resume_watch.fd >= 0) {
		evloop_del(c->loop, &c->resume_watch);
		close(c->resume_watch.fd);
		c->resume_watch.fd = -1;
	}
	if (c->tty) {
		tcsetattr(c->in_fd, TCSANOW, &c->saved);
		c->tty = false;
	}
	if (c->owns_out_fd && c->out_fd >= 0)
		close(c->out_fd);
	c->out_fd = -1;
	pthread_mutex_destroy(&c->out_lock);
	c->loop = NULL;
}

void console_set_sink(struct console *c, const struct console_sink *sink)
{
	c->sink = *sink;
}

void console_write(struct console *c, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	if (c->out_fd < 0)
		return;
	pthread_mutex_lock(&c->out_lock);
	while (len && c->out_fd >= 0) {
		ssize_t n = write(c->out_fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* The reader went away: drop output rather than stall the guest. */
			log_warn(c->log, "console output failed: %s", strerror(errno));
			if (c->owns_out_fd)
				close(c->out_fd);
			c->owns_out_fd = false;
			c->out_fd = -1;
			break;
		}
		p += n;
		len -= (size_t)n;
	}
	pthread_mutex_unlock(&c->out_lock);
}

static void kick(struct console *c)
{
	uint64_t one = 1;

	if (c->resume_watch.fd >= 0 && write(c->resume_watch.fd, &one, sizeof(one)) < 0)
		return;
}

void console_resume(struct console *c)
{
	if (atomic_exchange(&c->paused, false))
		kick(c);
}
