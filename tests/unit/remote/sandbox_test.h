/* Helpers for the sandbox tests: sandboxed children and what /proc says of them. */
#ifndef TESTS_SANDBOX_TEST_H
#define TESTS_SANDBOX_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum st_mode {
	ST_ISOLATE, /* namespaces and the empty root only */
	ST_FULL,    /* sandbox_apply() */
};

/*
 * Forks a child that creates a remote machine for spec with a link
 * attached, applies the sandbox (mode), then returns fn(arg) as its exit
 * status. Returns the child's wait status (killed after 10 s).
 */
int st_run(const char *spec, enum st_mode mode, int (*fn)(void *), void *arg);
/* The same in the calling process (a child already): fn's result, or 90+. */
int st_run_here(const char *spec, enum st_mode mode, int (*fn)(void *), void *arg);

/* Forks a child returning fn(arg) as its exit status; its wait status. */
int st_fork(int (*fn)(void *), void *arg);

/* A sandboxed child that waits until st_stop(). */
struct st_child {
	pid_t pid;
	unsigned applied; /* SANDBOX_* bits it reported */
	int hold;         /* closing it lets the child exit */
};

void st_start(struct st_child *c, const char *spec, enum st_mode mode);
int st_stop(struct st_child *c);

/* Reads /proc/PID/NAME into buf (NUL-terminated). */
void st_read_proc(pid_t pid, const char *name, char *buf, size_t len);
/* Asserts that the line "FIELD\tVALUE" is in text. */
void st_assert_field(const char *text, const char *field, const char *value);
/* Asserts that /proc/PID/limits text has soft and hard limit value for name. */
void st_assert_limit(const char *text, const char *name, unsigned long value);
/* Asserts that pid is (or is not) in a namespace of its own of that type. */
void st_assert_ns(pid_t pid, const char *type, bool own);

/*
 * `BIN remote --link fd=3 --device SPEC [--sandbox off]` started with
 * sandbox_fork(), the test as its VMM: guest RAM sent (a 4 MiB memfd), a
 * config read answered. pidns: the child is PID 1 of its own namespace.
 */
struct st_remote {
	pid_t pid;
	bool pidns;
	int fd;  /* our end of the link */
	int ram; /* the memfd */
};

void st_remote_start(struct st_remote *rp, const char *bin, const char *spec, bool sandbox);
/* Closes the link; the process's wait status. */
int st_remote_stop(struct st_remote *rp);
/* Asserts NSpid shows PID 1 in a namespace of its own, if it got one. */
void st_assert_pid1(const char *status, pid_t pid, bool pidns);
/* Prints the process's resident memory from smaps, guest RAM apart. */
void st_print_rss(pid_t pid, const char *what);

/* "virtio-blk,file=TMP,aio=threads" on a fresh 1 MiB file; cleanup removes it. */
void st_blk_spec(char *spec, size_t len);
void st_blk_cleanup(const char *spec);

#endif
