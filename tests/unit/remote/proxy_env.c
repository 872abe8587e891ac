#include "proxy_env.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

static int add_irqfd(void *opaque, int fd, unsigned gsi, int resample_fd)
{
	struct px_env *e = opaque;

	e->nadd++;
	e->irq_fd = fd;
	e->irq_gsi = gsi;
	e->irq_resample = resample_fd;
	return 0;
}

static int del_irqfd(void *opaque, int fd, unsigned gsi)
{
	struct px_env *e = opaque;

	e->ndel++;
	assert_int_equal(fd, e->irq_fd);
	assert_int_equal(gsi, e->irq_gsi);
	return 0;
}

static int add_ioev(void *opaque, const struct accel_ioeventfd *ev)
{
	struct px_env *e = opaque;

	pthread_mutex_lock(&e->acc_lock);
	assert_true(e->nioev < PX_MAX_IOEV);
	e->ioev[e->nioev++] = *ev;
	e->ioev_adds++;
	pthread_mutex_unlock(&e->acc_lock);
	return 0;
}

static int del_ioev(void *opaque, const struct accel_ioeventfd *ev)
{
	struct px_env *e = opaque;
	int err = -ENOENT;

	pthread_mutex_lock(&e->acc_lock);
	for (unsigned i = 0; i < e->nioev; i++) {
		if (e->ioev[i].addr != ev->addr || e->ioev[i].fd != ev->fd)
			continue;
		e->ioev[i] = e->ioev[--e->nioev];
		e->ioev_dels++;
		err = 0;
		break;
	}
	pthread_mutex_unlock(&e->acc_lock);
	assert_int_equal(err, 0);
	return err;
}

static int set_route(void *opaque, int fd, uint64_t addr, uint32_t data)
{
	struct px_env *e = opaque;
	unsigned i;

	pthread_mutex_lock(&e->acc_lock);
	for (i = 0; i < e->nroutes && e->routes[i].fd != fd; i++)
		;
	assert_true(i < PX_MAX_ROUTES);
	e->routes[i] = (struct px_route){ fd, addr, data };
	if (i == e->nroutes)
		e->nroutes++;
	e->route_sets++;
	pthread_mutex_unlock(&e->acc_lock);
	return 0;
}

static int del_route(void *opaque, int fd)
{
	struct px_env *e = opaque;
	int err = -ENOENT;

	pthread_mutex_lock(&e->acc_lock);
	for (unsigned i = 0; i < e->nroutes; i++) {
		if (e->routes[i].fd != fd)
			continue;
		e->routes[i] = e->routes[--e->nroutes];
		e->route_dels++;
		err = 0;
		break;
	}
	pthread_mutex_unlock(&e->acc_lock);
	assert_int_equal(err, 0);
	return err;
}

static int signal_msi(void *opaque, uint64_t addr, uint32_t data)
{
	struct px_env *e = opaque;

	pthread_mutex_lock(&e->acc_lock);
	e->nsignal++;
	e->sig_addr = addr;
	e->sig_data = data;
	pthread_mutex_unlock(&e->acc_lock);
	return 0;
}

void px_env_accel(struct px_env *e)
{
	e->host.add_ioeventfd = add_ioev;
	e->host.del_ioeventfd = del_ioev;
	e->host.set_msi_irqfd = set_route;
	e->host.del_msi_irqfd = del_route;
	e->host.signal_msi = signal_msi;
}

const struct accel_ioeventfd *px_env_ioev(struct px_env *e, uint64_t addr)
{
	const struct accel_ioeventfd *found = NULL;

	pthread_mutex_lock(&e->acc_lock);
	for (unsigned i = 0; i < e->nioev; i++)
		if (e->ioev[i].addr == addr)
			found = &e->ioev[i];
	pthread_mutex_unlock(&e->acc_lock);
	return found;
}

const struct px_route *px_env_route(struct px_env *e, int fd)
{
	const struct px_route *found = NULL;

	pthread_mutex_lock(&e->acc_lock);
	for (unsigned i = 0; i < e->nroutes; i++)
		if (e->routes[i].fd == fd)
			found = &e->routes[i];
	pthread_mutex_unlock(&e->acc_lock);
	return found;
}

struct px_env *px_env_new(unsigned nregions)
{
	struct px_env *e = calloc(1, sizeof(*e));
	const struct mem_range ranges[2] = { { gpa(0), 1 << 20 }, { gpa(1ull << 32), 1 << 20 } };
	struct pci_host_config pc = {
		.pio = &e->pio, .mmio = &e->mmio, .log = &e->log,
		.io_base = 0xc000, .io_size = 0x4000,
		.mem32_base = 0xc0000000, .mem32_size = 0x20000000,
		.mem64_base = 1ull << 39, .mem64_size = 1ull << 39,
		.intx_gsi_base = 16, .intx_gsi_count = 8,
	};
	int pipefd[2];

	assert_non_null(e);
	e->base_fds = fds_open_count();
	assert_int_equal(pipe2(pipefd, O_CLOEXEC | O_NONBLOCK), 0);
	e->log = (struct logger){ .level = LOG_WARN, .fd = pipefd[1] };
	e->log_rd = pipefd[0];
	assert_int_equal(guest_memory_init(&e->mem, ranges, nregions), 0);
	assert_int_equal(iobus_init(&e->pio, "pio", &e->log), 0);
	assert_int_equal(iobus_init(&e->mmio, "mmio", &e->log), 0);
	assert_int_equal(pci_host_init(&e->pci, &pc), 0);
	e->host = (struct dev_host){
		.log = &e->log, .mem = &e->mem, .pci = &e->pci, .opaque = e,
		.add_irqfd = add_irqfd, .del_irqfd = del_irqfd,
	};
	e->irq_fd = e->irq_resample = -1;
	pthread_mutex_init(&e->acc_lock, NULL);
	fake_init(&e->fake);
	return e;
}

int px_env_fake_link(struct px_env *e)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	fake_start(&e->fake, sv[1]);
	assert_true(e->fake.started);
	e->fake_running = true;
	return sv[0];
}

struct proxy_config px_env_config(struct px_env *e, int fd, int timeout_ms)
{
	return (struct proxy_config){
		.fd = fd,
		.name = strdup("test-proxy"),
		.timeout_ms = timeout_ms,
		.max_regions = LINK_QEMU_MAX_REGIONS,
		.log = &e->log,
	};
}

int px_env_create(struct px_env *e, int timeout_ms)
{
	struct proxy_config cfg = px_env_config(e, px_env_fake_link(e), timeout_ms);
	int err = proxy_create(&e->host, &cfg, &e->px);

	proxy_config_clear(&cfg);
	return err;
}

void px_env_supervise(struct px_env *e)
{
	assert_int_equal(evloop_init(&e->loop), 0);
	e->has_loop = true;
	e->host.loop = &e->loop;
}

bool px_env_run(struct px_env *e, int ms, bool (*done)(struct px_env *e, const void *arg),
		const void *arg)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (done && done(e, arg))
			return true;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 >= ms)
			return false;
		assert_true(evloop_run_once(&e->loop, 10) >= 0);
	}
}

void px_env_free(struct px_env *e)
{
	proxy_destroy(e->px);
	if (e->fake_running)
		fake_join(&e->fake);
	if (e->has_loop)
		evloop_destroy(&e->loop);
	pci_host_destroy(&e->pci);
	iobus_destroy(&e->mmio);
	iobus_destroy(&e->pio);
	guest_memory_destroy(&e->mem);
	close(e->log.fd);
	close(e->log_rd);
	/* The proxy took back everything it registered. */
	assert_int_equal(e->nioev, 0);
	assert_int_equal(e->nroutes, 0);
	pthread_mutex_destroy(&e->acc_lock);
	assert_int_equal(fds_open_count(), e->base_fds);
	free(e);
}

const char *px_env_log(struct px_env *e)
{
	size_t cap = sizeof(e->logbuf) - 1;
	ssize_t n;

	while (e->loglen < cap && (n = read(e->log_rd, e->logbuf + e->loglen, cap - e->loglen)) > 0)
		e->loglen += (size_t)n;
	e->logbuf[e->loglen] = 0;
	return e->logbuf;
}

unsigned px_env_log_lines(struct px_env *e)
{
	const char *s = px_env_log(e);
	unsigned n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}
