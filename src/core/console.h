/*
 * The serial console backend: stdio (raw mode on a terminal, Ctrl-A x quits),
 * a file, or nothing. Input is read by the main loop and handed to a sink
 * (the UART); output is written from whichever thread the UART runs on.
 */
#ifndef CORE_CONSOLE_H
#define CORE_CONSOLE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <termios.h>

#include "core/evloop.h"
#include "core/options.h"

struct logger;

struct console_sink {
	/* Room for input bytes now; 0 pauses reading until console_resume(). */
	size_t (*space)(void *opaque);
	void (*receive)(void *opaque, const uint8_t *buf, size_t len);
	void *opaque;
};

struct console {
	const struct logger *log;
	struct evloop *loop;
	int in_fd, out_fd;
	bool owns_out_fd;
	bool tty;             /* stdin is a terminal in raw mode */
	struct termios saved; /* restored on close */
	bool escape;          /* saw Ctrl-A */
	bool pollable;        /* in_fd works with epoll (not a regular file) */
	bool input_on;        /* in_fd is being read */
	_Atomic bool paused;  /* the sink was full */
	struct ev_watch watch;
	struct ev_watch resume_watch; /* eventfd written by console_resume() */
	struct console_sink sink;
	pthread_mutex_t out_lock;
	void (*quit)(void *opaque); /* Ctrl-A x */
	void *quit_opaque;
};

int console_open(struct console *c, enum console_kind kind, const char *path,
		 struct evloop *loop, const struct logger *log);
void console_close(struct console *c);
void console_set_sink(struct console *c, const struct console_sink *sink);
/* Thread-safe. Writes everything or drops it if the output is gone. */
void console_write(struct console *c, const void *buf, size_t len);
/* Thread-safe: the sink has room again. */
void console_resume(struct console *c);

#endif
