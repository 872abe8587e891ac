/* What the proxy tests share: a PCI host, guest RAM, a dev_host, a fake device. */
#ifndef TESTS_PROXY_ENV_H
#define TESTS_PROXY_ENV_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/evloop.h"
#include "core/iobus.h"
#include "core/log.h"
#include "core/memory.h"
#include "fake_dev.h"
#include "hw/device.h"
#include "hw/pci/pci.h"
#include "remote/proxy.h"
#include "splitvm/accel.h"
#include "../../common/fds.h"

#define PX_MAX_IOEV 16
#define PX_MAX_ROUTES 16

struct px_env {
	struct logger log; /* into a pipe the test reads back */
	int log_rd;
	char logbuf[16384];
	size_t loglen;
	struct guest_memory mem;
	struct iobus pio, mmio;
	struct pci_host pci;
	struct dev_host host;
	struct evloop loop; /* after px_env_supervise() */
	bool has_loop;
	struct fake_dev fake;
	bool fake_running;
	struct proxy *px;
	int base_fds;
	/* add_irqfd/del_irqfd calls */
	unsigned nadd, ndel;
	int irq_fd, irq_resample;
	unsigned irq_gsi;
	/* The accelerator's side of the extensions (px_env_accel()): what is registered now. */
	pthread_mutex_t acc_lock;
	struct accel_ioeventfd ioev[PX_MAX_IOEV];
	unsigned nioev, ioev_adds, ioev_dels;
	struct px_route { int fd; uint64_t addr; uint32_t data; } routes[PX_MAX_ROUTES];
	unsigned nroutes, route_sets, route_dels;
	unsigned nsignal; /* signal_msi calls */
	uint64_t sig_addr;
	uint32_t sig_data;
};

/* Host, RAM (1 region of 1 MiB, or 2: a second at 4 GiB) and a fresh fake. */
struct px_env *px_env_new(unsigned nregions);
/* Gives the host ioeventfds, MSI routes and signal_msi, recorded in e. */
void px_env_accel(struct px_env *e);
/* The registered ioeventfd at addr, or NULL. */
const struct accel_ioeventfd *px_env_ioev(struct px_env *e, uint64_t addr);
/* The route of fd, or NULL. */
const struct px_route *px_env_route(struct px_env *e, int fd);
/* A socketpair with the fake serving one end; the other end for the proxy. */
int px_env_fake_link(struct px_env *e);
/* A proxy config for fd with a short timeout and no settling. */
struct proxy_config px_env_config(struct px_env *e, int fd, int timeout_ms);
/* fake_link + config + proxy_create: the error of proxy_create. */
int px_env_create(struct px_env *e, int timeout_ms);
/* Destroys the proxy, joins the fake, checks no fd stayed open. */
void px_env_free(struct px_env *e);
/* Gives the host an event loop: proxies created from now on are supervised. */
void px_env_supervise(struct px_env *e);
/* Runs the loop until done(e, arg) or ms pass; whether done. */
bool px_env_run(struct px_env *e, int ms, bool (*done)(struct px_env *e, const void *arg),
		const void *arg);
/* Everything logged so far. */
const char *px_env_log(struct px_env *e);
unsigned px_env_log_lines(struct px_env *e);

#endif
