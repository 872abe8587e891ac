/* The fake VMM core of the accelerator tests (see harness.h). */
#include "harness.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const struct accel_ops *t_load_module(const char *path, char *why, size_t why_len)
{
	splitvm_accel_entry_fn entry;
	const struct accel_ops *ops;
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);

	if (!h) {
		snprintf(why, why_len, "dlopen %s: %s", path, dlerror());
		return NULL;
	}
	*(void **)&entry = dlsym(h, SPLITVM_ACCEL_ENTRY);
	if (!entry) {
		snprintf(why, why_len, "%s: no %s symbol", path, SPLITVM_ACCEL_ENTRY);
		return NULL;
	}
	ops = entry();
	if (!ops || ops->abi_version != SPLITVM_ACCEL_ABI_VERSION) {
		snprintf(why, why_len, "%s: bad ABI version", path);
		return NULL;
	}
	return ops;
}

uint64_t t_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void record(struct t_host *t, bool pio, bool is_write, uint64_t addr, const void *data,
		   unsigned size)
{
	struct t_access *a;

	atomic_fetch_add(&t->exits, 1);
	if (atomic_load(&t->count_only))
		return;
	pthread_mutex_lock(&t->lock);
	if (t->nacc < T_MAX_ACCESS) {
		a = &t->acc[t->nacc++];
		*a = (struct t_access){ .pio = pio, .is_write = is_write, .addr = addr, .size = size };
		memcpy(&a->data, data, size > 8 ? 8 : size);
	}
	pthread_mutex_unlock(&t->lock);
}

static void h_pio(void *opaque, uint16_t port, void *data, unsigned size, bool is_write)
{
	struct t_host *t = opaque;

	if (!is_write && t->pio_in_seq) {
		uint32_t v = atomic_fetch_add(&t->in_seq, 1);

		memcpy(data, &v, size);
	} else if (!is_write) {
		memcpy(data, &t->pio_in_value, size);
	}
	record(t, true, is_write, port, data, size);
}

static void h_request_stop(void *opaque, enum accel_stop_reason why)
{
	struct t_host *t = opaque;
	int expect = 0;

	atomic_compare_exchange_strong(&t->stop, &expect, (int)why + 1);
}

static void h_mmio(void *opaque, uint64_t addr, void *data, unsigned size, bool is_write)
{
	static const uint64_t pattern = 0x1122334455667788ull;
	struct t_host *t = opaque;

	if (!is_write)
		memcpy(data, &pattern, size);
	record(t, false, is_write, addr, data, size);
	if (addr == T_MMIO_DONE && is_write)
		atomic_store(&t->done, true);
}

static bool h_should_stop(void *opaque)
{
	struct t_host *t = opaque;

	return atomic_load(&t->stop) != 0 || atomic_load(&t->done);
}

__attribute__((format(printf, 3, 0)))
static void h_log(void *opaque, enum accel_log_level level, const char *fmt, va_list ap)
{
	struct t_host *t = opaque;
	char line[512];
	size_t n;

	vsnprintf(line, sizeof(line), fmt, ap);
	if (level <= ACCEL_LOG_WARN)
		fprintf(stderr, "  [module] %s\n", line);
	if (level != ACCEL_LOG_ERROR)
		return;
	n = strlen(t->errlog);
	snprintf(t->errlog + n, sizeof(t->errlog) - n, "%s;", line);
}

int t_host_init(struct t_host *t, const struct accel_ops *ops, unsigned ncpus)
{
	uint64_t total = T_RAM0_SIZE + T_RAM1_SIZE;
	void *m;

	memset(t, 0, sizeof(*t));
	t->memfd = -1;
	pthread_mutex_init(&t->lock, NULL);
	t->ops = ops;
	t->memfd = memfd_create("t-ram", MFD_CLOEXEC);
	if (t->memfd < 0 || ftruncate(t->memfd, (off_t)total) < 0)
		return -errno;
	m = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, t->memfd, 0);
	if (m == MAP_FAILED)
		return -errno;
	t->mem = m;
	t->ram[0] = (struct guest_ram_region){ gpa(0), T_RAM0_SIZE, t->mem, t->memfd, 0 };
	t->ram[1] = (struct guest_ram_region){ gpa(T_RAM1_BASE), T_RAM1_SIZE,
					       t->mem + T_RAM0_SIZE, t->memfd, T_RAM0_SIZE };
	t->host = (struct accel_host){
		.opaque = t, .ncpus = ncpus, .ram = t->ram, .nram = 2,
		.pio = h_pio, .mmio = h_mmio, .should_stop = h_should_stop,
		.request_stop = h_request_stop, .log = h_log,
	};
	return ops->vm->create(&t->host, &t->vm);
}

void t_host_destroy(struct t_host *t)
{
	if (t->vm)
		t->ops->vm->destroy(t->vm);
	if (t->mem)
		munmap(t->mem, T_RAM0_SIZE + T_RAM1_SIZE);
	if (t->memfd >= 0)
		close(t->memfd);
	pthread_mutex_destroy(&t->lock);
}

void *t_gpa(struct t_host *t, uint64_t a)
{
	if (a < T_RAM0_SIZE)
		return t->mem + a;
	if (a >= T_RAM1_BASE && a < T_RAM1_BASE + T_RAM1_SIZE)
		return t->mem + T_RAM0_SIZE + (a - T_RAM1_BASE);
	abort();
}

void t_put_code(struct t_host *t, const uint8_t *code, size_t len)
{
	memcpy(t_gpa(t, T_CODE), code, len);
}

unsigned t_find(struct t_host *t, bool pio, uint64_t addr, struct t_access *out, unsigned max)
{
	unsigned i, n = 0;

	pthread_mutex_lock(&t->lock);
	for (i = 0; i < t->nacc; i++) {
		if (t->acc[i].pio != pio || t->acc[i].addr != addr)
			continue;
		if (n < max)
			out[n] = t->acc[i];
		n++;
	}
	pthread_mutex_unlock(&t->lock);
	return n;
}

/* Watchdog: after the time limit, request a stop and kick once. */
struct watchdog {
	struct t_host *t;
	struct accel_vcpu *vcpu;
	unsigned timeout_ms;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool finished, fired;
};

static void *watchdog_main(void *arg)
{
	struct watchdog *w = arg;
	struct timespec dl;
	int r = 0;

	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += w->timeout_ms / 1000;
	dl.tv_nsec += (long)(w->timeout_ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&w->lock);
	while (!w->finished && r != ETIMEDOUT)
		r = pthread_cond_timedwait(&w->cond, &w->lock, &dl);
	if (!w->finished) {
		w->fired = true;
		h_request_stop(w->t, ACCEL_STOP_POWEROFF);
		w->t->ops->vcpu->kick(w->vcpu);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

struct t_run_result t_run(struct t_host *t, struct accel_vcpu *vcpu, unsigned timeout_ms)
{
	struct watchdog w = { .t = t, .vcpu = vcpu, .timeout_ms = timeout_ms };
	struct t_run_result res = { 0 };
	pthread_condattr_t ca;
	pthread_t th;
	uint64_t t0;

	pthread_mutex_init(&w.lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w.cond, &ca);
	pthread_create(&th, NULL, watchdog_main, &w);
	t0 = t_now_ns();
	res.ret = t->ops->vcpu->run(vcpu);
	res.ns = t_now_ns() - t0;
	pthread_mutex_lock(&w.lock);
	w.finished = true;
	pthread_cond_signal(&w.cond);
	pthread_mutex_unlock(&w.lock);
	pthread_join(th, NULL);
	res.timed_out = w.fired;
	pthread_cond_destroy(&w.cond);
	pthread_condattr_destroy(&ca);
	pthread_mutex_destroy(&w.lock);
	return res;
}

enum t_outcome t_isolate(void (*fn)(struct t_case *c), struct t_case *c, unsigned timeout_ms,
			 char *msg, size_t msg_len)
{
	uint64_t deadline = t_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	int p[2], status = 0;
	size_t got = 0;
	pid_t pid;

	msg[0] = '\0';
	if (pipe2(p, O_CLOEXEC) < 0)
		return T_FAIL;
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		c->msg_fd = p[1];
		fn(c);
		t_exit(c, T_PASS, " ");
	}
	close(p[1]);
	for (;;) {
		struct pollfd pfd = { .fd = p[0], .events = POLLIN };
		int64_t left = (int64_t)(deadline - t_now_ns()) / 1000000;
		ssize_t n;

		if (left <= 0 || poll(&pfd, 1, (int)left) == 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			close(p[0]);
			snprintf(msg, msg_len, "no result after %u ms (killed)", timeout_ms);
			return T_HANG;
		}
		n = read(p[0], msg + got, msg_len - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got == msg_len - 1)
			break;
	}
	msg[got] = '\0';
	close(p[0]);
	waitpid(pid, &status, 0);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return T_PASS;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
		return T_SKIP;
	if (!WIFEXITED(status))
		snprintf(msg + got, msg_len - got, " (child killed by signal %d)",
			 WTERMSIG(status));
	return T_FAIL;
}

void t_exit(struct t_case *c, enum t_outcome o, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0 && write(c->msg_fd, buf, strnlen(buf, sizeof(buf))) < 0)
		n = 0;
	_exit(o == T_PASS ? 0 : o == T_SKIP ? 77 : 1);
}

struct t_host *t_vm(struct t_case *c, unsigned ncpus)
{
	struct t_host *t = calloc(1, sizeof(*t));
	int r;

	if (!t)
		t_exit(c, T_FAIL, "out of memory");
	r = t_host_init(t, c->ops, ncpus);
	if (r < 0)
		t_exit(c, T_SKIP, "cannot create a KVM VM (%s): %s", strerror(-r), t->errlog);
	return t;
}

struct accel_vcpu *t_vcpu(struct t_case *c, struct t_host *t, unsigned index,
			  const struct cpu_boot_state *st)
{
	struct accel_vcpu *v;
	int r = c->ops->vcpu->create(t->vm, index, &v);

	if (r < 0)
		t_exit(c, T_FAIL, "vcpu %u create: %s: %s", index, strerror(-r), t->errlog);
	if (st) {
		r = c->ops->vcpu->set_boot_state(v, st);
		if (r < 0)
			t_exit(c, T_FAIL, "vcpu %u boot state: %s: %s", index, strerror(-r),
			       t->errlog);
	}
	return v;
}
