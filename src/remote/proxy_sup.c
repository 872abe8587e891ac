/*
 * Supervision of a proxy's device process (proxy_int.h), on the VMM's event
 * loop: the link's hang-up, the end of a device process we started (its
 * pidfd), failures reported by any thread (proxy_fail), restarts.
 *
 * One failure, from proxy_fail() to a device process live again (or none):
 * INTx is lowered, the link no longer watched; our process, if it still
 * runs, is killed (it closed its link: after PROXY_EXIT_GRACE_MS, to let
 * its exit status say why), and reaped; with restart=on a new one is
 * started and px_restore() brings it to where the guest left the device.
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/evloop.h"
#include "core/log.h"
#include "hw/device.h"
#include "remote/proxy_int.h"

struct proxy_sup {
	struct proxy *p;
	struct evloop *loop;
	const struct logger *log;
	const char *name; /* the proxy's */
	char *spec;       /* our device process's --device; NULL: not ours */
	bool restart;
	pid_t child;      /* ours and not reaped yet, or 0 */
	int pidfd, wake_fd, timer_fd;
	struct ev_watch wake_w, timer_w, pid_w, link_w;
	bool pid_on, link_on;
	atomic_bool report_eof; /* a closed link to report with the exit status */
	/* the failure being handled */
	bool unwired, killed, grace, gave_up, answered;
	unsigned generation;
	int64_t starts[PROXY_RESTART_MAX]; /* when the latest restarts began */
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the device process ---------------------------------------------------- */

static void unwatch(struct proxy_sup *s, struct ev_watch *w, bool *on)
{
	if (*on)
		evloop_del(s->loop, w);
	*on = false;
}

static void watch_child(struct proxy_sup *s, pid_t pid)
{
	s->child = pid;
	s->killed = false;
	/* Without pidfds (Linux < 5.3) the closed link and a timer tell instead. */
	s->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (s->pidfd < 0) {
		log_debug(s->log, "%s: no pidfd for device process %d: %s", s->name, (int)pid,
			  strerror(errno));
		return;
	}
	s->pid_w.fd = s->pidfd;
	s->pid_on = evloop_add(s->loop, &s->pid_w, EPOLLIN) == 0;
}

static void forget_child(struct proxy_sup *s)
{
	unwatch(s, &s->pid_w, &s->pid_on);
	if (s->pidfd >= 0)
		close(s->pidfd);
	s->pidfd = -1;
	s->child = 0;
}

static void kill_child(struct proxy_sup *s)
{
	if (s->child > 0 && !s->killed)
		kill(s->child, SIGKILL);
	s->killed = true;
}

/* The process's end, in the words of the failure line. */
static void report_status(struct proxy_sup *s, pid_t pid, int status)
{
	char what[128], how[64];

	proxy_status_text(status, how, sizeof(how));
	snprintf(what, sizeof(what), "device process %d %s", (int)pid, how);
	if (atomic_exchange(&s->report_eof, false))
		px_report(s->p, what); /* it closed its link, and this is why */
	else if (!proxy_failed(s->p))
		proxy_fail(s->p, PROXY_FAIL_EXITED, what);
	else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && s->killed)
		log_info(s->log, "%s: %s", s->name, what); /* failed before: reported then */
	else
		log_warn(s->log, "%s: %s", s->name, what); /* e.g. a restart that did not come up */
}

/* Reaps our process if it ended (or waits for it: block). True once it is gone. */
static bool reap(struct proxy_sup *s, bool block)
{
	pid_t pid = s->child, r;
	int status = 0;

	if (pid <= 0)
		return true;
	do
		r = waitpid(pid, &status, block ? 0 : WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return false;
	forget_child(s);
	if (r == pid)
		report_status(s, pid, status);
	return true;
}

/* ---- restarts ------------------------------------------------------------------ */

/* Restarts within the window, this one included (recorded), or 0: no room. */
static unsigned may_restart(struct proxy_sup *s)
{
	int64_t now = now_ms();
	unsigned oldest = 0, recent = 0;

	for (unsigned i = 0; i < PROXY_RESTART_MAX; i++) {
		if (s->starts[i] && now - s->starts[i] < PROXY_RESTART_WINDOW_MS)
			recent++;
		if (s->starts[i] < s->starts[oldest])
			oldest = i;
	}
	if (recent >= PROXY_RESTART_MAX)
		return 0;
	s->starts[oldest] = now ? now : 1;
	return recent + 1;
}

static void restart(struct proxy_sup *s)
{
	struct proxy_config cfg;
	unsigned nth = may_restart(s);
	pid_t pid;
	int fd, err;

	if (!nth) {
		log_error(s->log, "%s: not restarted: %u restarts within %d s; the device stays "
			  "failed", s->name, PROXY_RESTART_MAX, PROXY_RESTART_WINDOW_MS / 1000);
		s->gave_up = true;
		return;
	}
	err = proxy_spawn(s->spec, s->name, &cfg, s->log);
	if (err) {
		s->gave_up = true; /* logged; nothing would change on a retry */
		return;
	}
	pid = cfg.child;
	fd = cfg.fd;
	cfg.child = 0;
	cfg.fd = -1;
	proxy_config_clear(&cfg);
	watch_child(s, pid);
	s->generation++;
	if (px_restore(s->p, fd)) {
		/* Logged; its end brings the next attempt, if the window allows. */
		log_warn(s->log, "%s: restarted device process %d did not come up", s->name,
			 (int)pid);
		kill_child(s);
		s->unwired = false; /* it may have been wired before it failed */
		return;
	}
	s->unwired = false;
	s->answered = false;
	log_warn(s->log, "%s: device process %d restarted (%u of at most %u within %d s); the "
		 "guest must reset the device to use it again", s->name, (int)pid, nth,
		 PROXY_RESTART_MAX, PROXY_RESTART_WINDOW_MS / 1000);
}

/* ---- the failure, step by step ------------------------------------------------- */

static void arm_grace(struct proxy_sup *s)
{
	struct itimerspec t = { .it_value = { PROXY_EXIT_GRACE_MS / 1000,
					      (PROXY_EXIT_GRACE_MS % 1000) * 1000000L } };

	if (!s->grace)
		timerfd_settime(s->timer_fd, 0, &t, NULL);
	s->grace = true;
}

/* Whatever comes next for a failed device; called again as events arrive. */
static void advance(struct proxy_sup *s)
{
	if (!proxy_failed(s->p) || s->gave_up)
		return;
	if (!s->unwired) {
		px_unwire(s->p);
		sup_watch_link(s, -1);
		s->unwired = true;
	}
	if (!reap(s, false)) {
		if (atomic_load(&s->report_eof)) {
			arm_grace(s); /* its exit status may yet say why it left */
			return;
		}
		kill_child(s);
		if (s->pidfd >= 0 || !reap(s, true))
			return; /* its pidfd tells */
	}
	if (atomic_exchange(&s->report_eof, false))
		px_report(s->p, "the device process closed its link");
	/* Gone for sure: nobody else writes its queues' used rings now. */
	if (!s->answered)
		proxy_inflight_takeover(s->p);
	s->answered = true;
	if (s->restart)
		restart(s);
}

static void on_wake(void *opaque, uint32_t events)
{
	struct proxy_sup *s = opaque;
	uint64_t v;

	(void)events;
	while (read(s->wake_fd, &v, sizeof(v)) == sizeof(v))
		;
	advance(s);
}

static void on_child(void *opaque, uint32_t events)
{
	struct proxy_sup *s = opaque;

	(void)events;
	if (reap(s, false))
		advance(s);
}

/* A device process that closed its link but did not exit within the grace. */
static void on_timer(void *opaque, uint32_t events)
{
	struct proxy_sup *s = opaque;
	uint64_t v;
	char what[128];

	(void)events;
	if (read(s->timer_fd, &v, sizeof(v)) != sizeof(v))
		return;
	s->grace = false;
	if (reap(s, false)) {
		advance(s);
		return;
	}
	if (atomic_exchange(&s->report_eof, false)) {
		snprintf(what, sizeof(what), "device process %d closed its link and did not exit: "
			 "killed", (int)s->child);
		px_report(s->p, what);
	}
	advance(s);
}

static void on_link(void *opaque, uint32_t events)
{
	struct proxy_sup *s = opaque;

	/* Level-triggered: once is enough. */
	sup_watch_link(s, -1);
	if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		proxy_fail(s->p, PROXY_FAIL_EOF, "hang-up");
}

/* ---- the interface ------------------------------------------------------------- */

int sup_watch_link(struct proxy_sup *s, int fd)
{
	unwatch(s, &s->link_w, &s->link_on);
	if (fd < 0)
		return 0;
	s->link_w.fd = fd;
	/* Replies are read by the thread that asked: only a hang-up is ours. */
	if (evloop_add(s->loop, &s->link_w, EPOLLRDHUP))
		return -errno;
	s->link_on = true;
	return 0;
}

void sup_notify(struct proxy_sup *s)
{
	uint64_t one = 1;

	while (write(s->wake_fd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}

bool sup_take_eof(struct proxy_sup *s)
{
	if (!s || !s->spec)
		return false;
	atomic_store(&s->report_eof, true);
	return true;
}

unsigned sup_generation(const struct proxy_sup *s)
{
	return s->generation;
}

pid_t sup_child(const struct proxy_sup *s)
{
	return s->child;
}

static int sup_init(struct proxy_sup *s)
{
	s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	s->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (s->wake_fd < 0 || s->timer_fd < 0)
		return -errno;
	s->wake_w = (struct ev_watch){ s->wake_fd, on_wake, s };
	s->timer_w = (struct ev_watch){ s->timer_fd, on_timer, s };
	s->pid_w = (struct ev_watch){ -1, on_child, s };
	s->link_w = (struct ev_watch){ -1, on_link, s };
	if (evloop_add(s->loop, &s->wake_w, EPOLLIN))
		return -errno;
	if (evloop_add(s->loop, &s->timer_w, EPOLLIN)) {
		evloop_del(s->loop, &s->wake_w);
		return -errno;
	}
	return 0;
}

int sup_create(struct proxy *p, const struct dev_host *host, pid_t child,
	       struct proxy_config *cfg, struct proxy_sup **out)
{
	struct proxy_sup *s;
	int err;

	*out = NULL;
	if (!host->loop)
		return 0; /* a test without one: failures are only reported */
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	*s = (struct proxy_sup){ .p = p, .loop = host->loop, .log = host->log, .name = p->name,
				 .pidfd = -1, .wake_fd = -1, .timer_fd = -1, .generation = 1 };
	err = sup_init(s);
	if (err) {
		log_error(s->log, "%s: cannot supervise the device process: %s", p->name,
			  strerror(-err));
		if (s->wake_fd >= 0)
			close(s->wake_fd);
		if (s->timer_fd >= 0)
			close(s->timer_fd);
		free(s);
		return err;
	}
	if (child > 0) {
		s->spec = cfg->spec;
		cfg->spec = NULL;
		s->restart = cfg->restart && s->spec;
		watch_child(s, child);
	}
	*out = s;
	return 0;
}

void sup_destroy(struct proxy_sup *s, bool failed)
{
	if (!s)
		return;
	unwatch(s, &s->link_w, &s->link_on);
	unwatch(s, &s->pid_w, &s->pid_on);
	evloop_del(s->loop, &s->timer_w);
	evloop_del(s->loop, &s->wake_w);
	if (s->child > 0 && (failed || s->killed)) {
		kill_child(s);
		reap(s, true);
	} else if (s->child > 0) {
		/* A live device finishes its work (disks flush) once its link closed. */
		proxy_reap(s->child, s->name, PROXY_REAP_MS, s->log);
	}
	forget_child(s);
	close(s->wake_fd);
	close(s->timer_fd);
	free(s->spec);
	free(s);
}
