/* Console input from pipes and files, with sink backpressure. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/console.h"
#include "core/log.h"

#define TOTAL 20000

struct slow_sink {
	struct console *con;
	uint8_t got[TOTAL];
	size_t len;
	size_t room; /* bytes the "UART" accepts before the guest drains it */
	unsigned pauses;
};

static size_t sink_space(void *opaque)
{
	struct slow_sink *s = opaque;

	if (s->room == 0)
		s->pauses++;
	return s->room;
}

static void sink_receive(void *opaque, const uint8_t *buf, size_t len)
{
	struct slow_sink *s = opaque;

	assert_true(len <= s->room);
	assert_true(s->len + len <= TOTAL);
	memcpy(s->got + s->len, buf, len);
	s->len += len;
	s->room -= len;
}

/* Feeds fd as stdin and runs the loop until everything arrived. */
static void pump(int fd, const uint8_t *expect, size_t total)
{
	struct logger log = { LOG_ERROR, -1 };
	struct evloop loop;
	struct console con;
	struct slow_sink *s = calloc(1, sizeof(*s));
	int saved = dup(0);

	assert_int_equal(dup2(fd, 0), 0);
	assert_int_equal(evloop_init(&loop), 0);
	assert_int_equal(console_open(&con, CONSOLE_STDIO, NULL, &loop, &log), 0);
	s->con = &con;
	console_set_sink(&con, &(struct console_sink){ sink_space, sink_receive, s });
	for (int rounds = 0; s->len < total && rounds < 100000; rounds++) {
		/* The guest drains the FIFO only once the console had to stop. */
		if (rounds == 0 || atomic_load(&con.paused)) {
			s->room = 97;
			console_resume(&con);
		}
		assert_true(evloop_run_once(&loop, 1000) >= 0);
	}
	assert_int_equal(s->len, total);
	if (total) {
		assert_memory_equal(s->got, expect, total);
		assert_true(s->pauses > 0);
	}
	console_close(&con);
	evloop_destroy(&loop);
	dup2(saved, 0);
	close(saved);
	free(s);
}

static void fill(uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(i * 7 + i / 251);
}

static void test_pipe_input(void **state)
{
	static uint8_t data[TOTAL];
	int p[2];

	fill(data, TOTAL);
	assert_int_equal(pipe(p), 0);
	fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
	assert_int_equal(write(p[1], data, TOTAL), TOTAL);
	close(p[1]);
	pump(p[0], data, TOTAL);
	close(p[0]);
}

static void test_file_input(void **state)
{
	static uint8_t data[TOTAL];
	char path[] = "/tmp/splitvm-console-XXXXXX";
	int fd = mkstemp(path);

	fill(data, TOTAL);
	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(write(fd, data, TOTAL), TOTAL);
	lseek(fd, 0, SEEK_SET);
	pump(fd, data, TOTAL); /* regular files cannot be polled */
	close(fd);
}

static void test_devnull_input(void **state)
{
	int fd = open("/dev/null", O_RDONLY);

	pump(fd, NULL, 0);
	close(fd);
}

static void test_file_output(void **state)
{
	struct logger log = { LOG_ERROR, -1 };
	char path[] = "/tmp/splitvm-console-out-XXXXXX";
	struct evloop loop;
	struct console con;
	char buf[64] = "";
	int fd = mkstemp(path);

	close(fd);
	assert_int_equal(evloop_init(&loop), 0);
	assert_int_equal(console_open(&con, CONSOLE_FILE, path, &loop, &log), 0);
	console_write(&con, "hello\r\n", 7);
	console_close(&con);
	fd = open(path, O_RDONLY);
	assert_int_equal(read(fd, buf, sizeof(buf)), 7);
	assert_string_equal(buf, "hello\r\n");
	close(fd);
	unlink(path);
	assert_int_not_equal(console_open(&con, CONSOLE_FILE, "/nonexistent/dir/x", &loop, &log), 0);
	evloop_destroy(&loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pipe_input),
		cmocka_unit_test(test_file_input),
		cmocka_unit_test(test_devnull_input),
		cmocka_unit_test(test_file_output),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
