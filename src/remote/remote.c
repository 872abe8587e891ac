/*
 * The device process's machine (remote.h): a PCI host with its own buses,
 * one device, guest RAM from the link, and the link's messages turned into
 * config and BAR accesses.
 */
#include "remote/remote_int.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "core/arch.h"

void remote_stop(struct remote *r, int status)
{
	if (r->done)
		return;
	r->done = true;
	r->status = status;
}

/* ---- INTx ------------------------------------------------------------------ */

/* Eventfds are the VMM's: never block on one it filled or drained. */
static bool fd_ready(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };

	return poll(&p, 1, 0) == 1 && (p.revents & events);
}

static void intx_signal(struct remote *r)
{
	uint64_t one = 1;

	if (r->intx.irqfd < 0)
		return;
	if (!fd_ready(r->intx.irqfd, POLLOUT) || write(r->intx.irqfd, &one, sizeof(one)) < 0)
		log_debug(r->log, "remote: cannot signal the INTx irqfd");
}

/* The PCI host's set_irq: one line per process, whatever its number. */
static int remote_set_irq(void *opaque, unsigned gsi, int level)
{
	struct remote *r = opaque;
	bool rising = level && !r->intx.level;

	r->intx.level = level != 0;
	if (rising)
		intx_signal(r);
	return 0;
}

static void on_resample(void *opaque, uint32_t events)
{
	struct remote *r = opaque;
	uint64_t n;

	if (fd_ready(r->intx.resamplefd, POLLIN) &&
	    read(r->intx.resamplefd, &n, sizeof(n)) < 0)
		log_debug(r->log, "remote: cannot read the resample fd");
	if (r->intx.level)
		intx_signal(r);
}

static void intx_close(struct remote *r)
{
	if (r->intx.resamplefd >= 0) {
		evloop_del(&r->loop, &r->intx.resample_watch);
		close(r->intx.resamplefd);
	}
	if (r->intx.irqfd >= 0)
		close(r->intx.irqfd);
	r->intx.irqfd = r->intx.resamplefd = -1;
}

/* SET_IRQFD: the pair replaces any earlier one; its fds become ours. */
static int intx_set_fds(struct remote *r, struct link_msg *m)
{
	int err;

	intx_close(r);
	r->intx.irqfd = m->fds[0];
	r->intx.resamplefd = m->fds[1];
	m->fds[0] = m->fds[1] = -1;
	m->nfds = 0;
	r->intx.resample_watch = (struct ev_watch){ r->intx.resamplefd, on_resample, r };
	err = evloop_add(&r->loop, &r->intx.resample_watch, EPOLLIN);
	if (err) {
		log_error(r->log, "remote: SET_IRQFD: the resample fd cannot be watched: %s",
			  strerror(-err));
		close(r->intx.resamplefd);
		r->intx.resamplefd = -1;
		intx_close(r);
		return err;
	}
	if (r->intx.level)
		intx_signal(r);
	return 0;
}

/*
 * Plain mpqemu has no MSI (a VMM that negotiated MSI-X owns the table and
 * gets the vectors instead): say so once, since the guest will wait.
 */
static int remote_signal_msi(void *opaque, uint64_t addr, uint32_t data)
{
	struct remote *r = opaque;

	if (!r->msi_warned)
		log_warn(r->log, "remote: MSI-X message dropped: this VMM's link carries INTx "
			 "only (boot the guest with pci=nomsi)");
	r->msi_warned = true;
	return -ENOTSUP;
}

/* ---- messages ------------------------------------------------------------------ */

/* Doorbell changes the request caused go out first, then the RET. */
static int reply_ex(struct remote *r, uint64_t val, bool empty)
{
	int err = remote_ext_flush(r);

	return err ? err : link_send_ret(&r->link, val, empty, REPLY_TIMEOUT_MS);
}

static int reply(struct remote *r, uint64_t val)
{
	return reply_ex(r, val, false);
}

uint64_t remote_bar_access(struct remote *r, const struct link_bar_access *b, uint64_t val,
			   bool is_write)
{
	struct iobus *bus = b->memory ? &r->mmio : &r->pio;
	uint64_t data = is_write ? val : 0;

	/* Nothing there: reads give all ones, writes are dropped, as on a bus. */
	if (!iobus_access(bus, b->addr, &data, b->size, is_write))
		log_debug(r->log, "remote: %s of %u bytes at %s %#llx: nothing there",
			  is_write ? "write" : "read", b->size, b->memory ? "memory" : "I/O",
			  (unsigned long long)b->addr);
	return is_write ? 0 : data;
}

uint64_t remote_access(struct remote *r, const struct link_msg *m)
{
	const struct link_pci_conf *c = &m->data.conf;

	switch (m->cmd) {
	case LINK_PCI_CFGREAD:
		return pci_config_read(r->pdev, c->addr, (unsigned)c->len);
	case LINK_PCI_CFGWRITE:
		pci_config_write(r->pdev, c->addr, (unsigned)c->len, c->val);
		return 0;
	case LINK_BAR_READ:
		return remote_bar_access(r, &m->data.bar, 0, false);
	case LINK_BAR_WRITE:
	case LINK_EXT_BAR_WRITE:
		return remote_bar_access(r, &m->data.bar, m->data.bar.val, true);
	}
	return UINT64_MAX;
}

static int handle(struct remote *r, struct link_msg *m)
{
	switch (m->cmd) {
	case LINK_SYNC_SYSMEM:
		return remote_mem_sync(&r->mem, m);
	case LINK_SET_IRQFD:
		return intx_set_fds(r, m);
	case LINK_PCI_CFGREAD:
		if (link_is_hello_probe(m))
			return reply(r, remote_ext_probe(r, pci_config_read(r->pdev, 0, 4)));
		return reply(r, remote_access(r, m));
	case LINK_PCI_CFGWRITE:
	case LINK_BAR_READ:
	case LINK_BAR_WRITE:
		return reply(r, remote_access(r, m));
	case LINK_DEVICE_RESET:
		pci_device_reset(r->pdev);
		/* QEMU answers a reset with an empty RET (docs/mpqemu.md). */
		return reply_ex(r, 0, true);
	}
	if (m->cmd >= LINK_EXT_BASE)
		return remote_ext_handle(r, m);
	log_error(r->log, "remote: unexpected %s from the VMM", link_cmd_name(m->cmd));
	return -EPROTO;
}

void remote_on_link(void *opaque, uint32_t events)
{
	struct remote *r = opaque;
	struct link_msg m;

	while (!r->done) {
		int n = link_recv_nb(&r->link, &m), err;

		if (n == 0)
			return;
		if (n < 0) {
			/* The link logged why; the VMM closing is the normal end. */
			remote_stop(r, n == -EPIPE ? 0 : n);
			return;
		}
		log_debug(r->log, "remote: %s", link_cmd_name(m.cmd));
		err = handle(r, &m);
		link_msg_close_fds(&m);
		if (err)
			remote_stop(r, err);
	}
}

/* ---- setup ---------------------------------------------------------------------- */

static void on_signal(void *opaque, uint32_t events)
{
	struct remote *r = opaque;
	struct signalfd_siginfo si;

	if (read(r->signal_watch.fd, &si, sizeof(si)) != sizeof(si))
		return;
	log_info(r->log, "remote: terminating on signal %u", si.ssi_signo);
	remote_stop(r, 0);
}

static void term_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
}

int remote_block_signals(void)
{
	sigset_t set;

	term_signals(&set);
	return -pthread_sigmask(SIG_BLOCK, &set, NULL);
}

static int watch_signals(struct remote *r)
{
	sigset_t set;

	term_signals(&set);
	r->signal_watch = (struct ev_watch){ -1, on_signal, r };
	r->signal_watch.fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (r->signal_watch.fd < 0)
		return -errno;
	return evloop_add(&r->loop, &r->signal_watch, EPOLLIN);
}

static int init_pci(struct remote *r)
{
	struct pci_host_config cfg = {
		.pio = &r->pio,
		.mmio = &r->mmio,
		.log = r->log,
		.set_irq = remote_set_irq,
		.irq_opaque = r,
	};
	int err;

	/* The VMM's machine's windows: BARs start where it would put them. */
	arch_pci_windows(&cfg);
	err = iobus_init(&r->pio, "pio", r->log);
	if (!err)
		err = iobus_init(&r->mmio, "mmio", r->log);
	if (!err)
		err = pci_host_init(&r->pci, &cfg);
	r->pci_ready = err == 0;
	return err;
}

struct pci_device *remote_function(struct remote *r)
{
	for (unsigned devfn = 1; devfn < PCI_DEVFNS && !r->pdev; devfn++)
		r->pdev = pci_host_device(&r->pci, devfn);
	return r->pdev;
}

static int create_device(struct remote *r)
{
	int err;

	r->host = (struct dev_host){
		.log = r->log,
		.mem = &r->mem.mem,
		.loop = &r->loop,
		.pci = &r->pci,
		.opaque = r,
		.signal_msi = remote_signal_msi,
		/*
		 * Recorded, and registered by the VMM once negotiated; until then
		 * (and with QEMU's proxy) doorbells arrive as BAR writes.
		 */
		.add_ioeventfd = remote_add_ioeventfd,
		.del_ioeventfd = remote_del_ioeventfd,
	};
	err = device_create(&r->dev, &r->host);
	if (err)
		return err;
	if (!remote_function(r)) {
		log_error(r->log, "remote: --device %s is not a PCI device", r->dev.spec.text);
		return -ENODEV;
	}
	return 0;
}

static int setup(struct remote *r)
{
	int err = evloop_init(&r->loop);

	if (!err)
		err = watch_signals(r);
	if (!err)
		err = init_pci(r);
	if (err) {
		log_error(r->log, "remote: cannot set up the machine: %s", strerror(-err));
		return err;
	}
	return create_device(r);
}

int remote_create(struct remote **out, const char *spec, const struct logger *log)
{
	struct remote *r = calloc(1, sizeof(*r));
	int err;

	if (!r)
		return -ENOMEM;
	r->log = log;
	r->loop.epfd = r->loop.wake_fd = -1;
	r->signal_watch.fd = -1;
	r->link.fd = -1;
	r->intx.irqfd = r->intx.resamplefd = -1;
	remote_ext_init(r);
	remote_fastchan_init(r);
	remote_mem_init(&r->mem, log);
	err = device_parse(&r->dev, spec, log);
	if (err) {
		free(r);
		return err;
	}
	err = setup(r);
	if (err) {
		remote_destroy(r);
		return err == -EINVAL ? -EIO : err; /* -EINVAL says: a bad spec */
	}
	*out = r;
	return 0;
}

int remote_attach(struct remote *r, int link_fd)
{
	int err;

	if (r->link.fd >= 0) {
		close(link_fd);
		return -EBUSY;
	}
	err = link_init(&r->link, link_fd, LINK_ROLE_REMOTE, r->log, r->dev.spec.text);
	if (err) {
		log_error(r->log, "remote: the link must be a connected UNIX stream socket: %s",
			  strerror(-err));
		close(link_fd);
		return err;
	}
	r->link_watch = (struct ev_watch){ link_fd, remote_on_link, r };
	err = evloop_add(&r->loop, &r->link_watch, EPOLLIN);
	if (err)
		log_error(r->log, "remote: cannot watch the link: %s", strerror(-err));
	return err;
}

int remote_step(struct remote *r, int timeout_ms)
{
	int n;

	if (r->link.fd < 0)
		return -ENOTCONN;
	if (!r->done) {
		n = evloop_run_once(&r->loop, timeout_ms);
		if (n < 0) {
			log_error(r->log, "remote: event loop failed: %s", strerror(-n));
			remote_stop(r, n);
		}
		if (remote_fastchan_error(r))
			remote_stop(r, remote_fastchan_error(r));
	}
	return r->done ? r->status : 1;
}

int remote_run(struct remote *r)
{
	int rc;

	while ((rc = remote_step(r, -1)) == 1)
		;
	return rc;
}

const struct device_sandbox *remote_sandbox(const struct remote *r)
{
	return device_sandbox(&r->dev);
}

void remote_destroy(struct remote *r)
{
	if (!r)
		return;
	/*
	 * No request is served any more; the device finishes its work while its
	 * memory and buses still exist.
	 */
	remote_fastchan_fini(r);
	device_destroy(&r->dev);
	if (r->pci_ready)
		pci_host_destroy(&r->pci);
	iobus_destroy(&r->mmio);
	iobus_destroy(&r->pio);
	intx_close(r);
	remote_ext_fini(r);
	link_destroy(&r->link);
	if (r->signal_watch.fd >= 0)
		close(r->signal_watch.fd);
	evloop_destroy(&r->loop);
	remote_mem_destroy(&r->mem);
	free(r);
}
