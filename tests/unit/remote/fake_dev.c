#include "fake_dev.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void put(uint8_t *p, unsigned len, uint32_t v)
{
	for (unsigned i = 0; i < len; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

void fake_set_bar(struct fake_dev *f, unsigned reg_idx, uint32_t mask, uint32_t flags)
{
	unsigned off = reg_idx == 6 ? 0x30 : 0x10 + 4 * reg_idx;

	f->bar_mask[reg_idx] = mask;
	f->bar_flags[reg_idx] = flags;
	put(f->cfg + off, 4, flags);
}

void fake_init(struct fake_dev *f)
{
	memset(f, 0, sizeof(*f));
	f->irqfd = f->resamplefd = -1;
	f->db_fd = -1;
	f->reset_after_ms = -1;
	f->log = (struct logger){ .level = LOG_ERROR, .fd = 2 };
	pthread_mutex_init(&f->lock, NULL);
	put(f->cfg + 0x00, 4, 0x56781234);
	put(f->cfg + 0x08, 4, 0x01800002); /* class 0x0180, revision 2 */
	put(f->cfg + 0x2c, 4, 0xef01abcd);
	f->cfg[0x06] = 0x10; /* capability list */
	f->cfg[0x34] = 0x40;
	f->cfg[0x3d] = 1;
	f->cfg[0x40] = 0x09; /* vendor specific, then MSI */
	f->cfg[0x41] = 0x50;
	f->cfg[0x42] = 0x08;
	f->cfg[0x50] = 0x05;
	fake_set_bar(f, 0, 0xffffff00, 0x1);
	fake_set_bar(f, 1, 0xfffff000, 0x0);
	fake_set_bar(f, 2, 0xfff00000, 0xc); /* 64-bit prefetchable */
	fake_set_bar(f, 3, 0xffffffff, 0x0);
	fake_set_bar(f, 6, 0xfffff801, 0x0); /* ROM: address and enable */
}

void fake_reset(struct fake_dev *f)
{
	put(f->cfg + 0x04, 2, 0);
	f->cfg[0x3c] = 0;
	for (unsigned i = 0; i < FAKE_BAR_REGS; i++)
		put(f->cfg + (i == 6 ? 0x30 : 0x10 + 4 * i), 4, f->bar_flags[i]);
}

uint32_t fake_cfg32(struct fake_dev *f, unsigned off)
{
	uint32_t v;

	pthread_mutex_lock(&f->lock);
	memcpy(&v, f->cfg + off, 4);
	pthread_mutex_unlock(&f->lock);
	return v;
}

static int bar_reg(unsigned off)
{
	if (off >= 0x10 && off < 0x28)
		return (int)(off - 0x10) / 4;
	return off == 0x30 ? 6 : -1;
}

static void cfg_write(struct fake_dev *f, const struct link_pci_conf *c)
{
	int r = bar_reg(c->addr & ~3u);

	if (r >= 0) {
		/* Only whole-dword BAR writes, as the proxy makes them. */
		if (c->len == 4 && !(c->addr & 3))
			put(f->cfg + c->addr, 4, (c->val & f->bar_mask[r]) | f->bar_flags[r]);
		return;
	}
	for (int i = 0; i < c->len; i++) {
		unsigned off = c->addr + (unsigned)i;

		if (off == 0x04 || off == 0x05 || off == 0x3c || off >= 0x40)
			f->cfg[off] = (uint8_t)(c->val >> (8 * i));
	}
}

/* What splitvm's remote does when decoding goes on: its doorbell, before the RET. */
static void announce_doorbell(struct fake_dev *f)
{
	struct link_doorbell d = { .id = 5, .bar = 1, .len = 4, .offset = 0x100 };
	struct link_msg m;

	link_msg_doorbell(&m, LINK_EXT_DOORBELL_ADD, &d, f->db_fd);
	link_send(&f->link, &m, 1000);
}

/* QEMU 7.2's rule: any access whose dword passes the end is refused. */
uint64_t fake_cfg_access(struct fake_dev *f, uint32_t cmd, const struct link_pci_conf *c)
{
	uint32_t v = 0;

	f->ncfg++;
	f->last_cfg = *c;
	f->last_cfg_cmd = cmd;
	if (!f->first_ms)
		f->first_ms = ms_now();
	if (c->addr + 4 > sizeof(f->cfg)) {
		f->qemu_violations++;
		return UINT64_MAX;
	}
	if (cmd == LINK_PCI_CFGWRITE) {
		cfg_write(f, c);
		if (c->addr == 0x04 && f->db_fd >= 0 && f->link.ext)
			announce_doorbell(f);
		return 0;
	}
	memcpy(&v, f->cfg + c->addr, (size_t)c->len);
	if (c->val == LINK_HELLO_MAGIC)
		f->nprobe++; /* QEMU ignores val in a read, as we do unless splitvm */
	if (f->splitvm && c->val == LINK_HELLO_MAGIC && c->addr == 0 && c->len == 4) {
		f->link.ext = &link_ext_v1;
		return (uint64_t)LINK_HELLO_REPLY << 32 | v;
	}
	return v;
}

/* The extension requests (only reachable once the probe installed the table). */
static bool handle_ext(struct fake_dev *f, struct link_msg *m)
{
	switch (m->cmd) {
	case LINK_EXT_HELLO:
		f->nhello++;
		f->hello = m->data.hello;
		return link_send_ret(&f->link, m->data.hello.features & f->take, false, 1000) == 0;
	case LINK_EXT_HEARTBEAT:
		f->nheartbeat++;
		return f->hb_hang || link_send_ret(&f->link, m->data.u64, false, 1000) == 0;
	case LINK_EXT_BAR_WRITE:
		f->nposted++;
		f->last_bar = m->data.bar;
		f->last_bar_cmd = m->cmd;
		return true;
	case LINK_EXT_FASTCHAN:
		return fake_chan_open(f, m) == 0 && link_send_ret(&f->link, 0, false, 1000) == 0;
	}
	return false;
}

static void take_sysmem(struct fake_dev *f, struct link_msg *m)
{
	f->nsysmem++;
	f->nregions = m->nfds;
	for (unsigned i = 0; i < m->nfds; i++) {
		f->gpas[i] = m->data.sysmem.gpas[i];
		f->sizes[i] = m->data.sysmem.sizes[i];
	}
	link_msg_close_fds(m);
}

static void take_irqfd(struct fake_dev *f, struct link_msg *m)
{
	f->nirqfd++;
	if (f->irqfd >= 0)
		close(f->irqfd);
	if (f->resamplefd >= 0)
		close(f->resamplefd);
	f->irqfd = m->fds[0];
	f->resamplefd = m->fds[1];
	m->fds[0] = m->fds[1] = -1; /* kept */
	m->nfds = 0;
}

/* A BAR_READ when told to misbehave: false if the link is to end. */
static bool misbehave(struct fake_dev *f)
{
	static const char garbage[32] = "this is not a message at all...";
	/* A request where a RET belongs: our own link would refuse to send it. */
	uint8_t wrong[LINK_HDR_SIZE + 12] = { 0 };

	switch (f->mode) {
	case FAKE_HANG_BAR:
		return true;
	case FAKE_GARBAGE_BAR:
		return write(f->link.fd, garbage, sizeof(garbage)) > 0;
	case FAKE_WRONG_BAR:
		link_hdr_encode(wrong, LINK_PCI_CFGREAD, 12);
		wrong[LINK_HDR_SIZE + 8] = 4;
		return write(f->link.fd, wrong, sizeof(wrong)) > 0;
	default:
		shutdown(f->link.fd, SHUT_RDWR); /* the process "died" */
		return false;
	}
}

bool fake_control(struct fake_dev *f, uint32_t what)
{
	switch (what) {
	case FAKE_CTL_EXIT:
		_exit(3);
	case FAKE_CTL_HANG:
		f->mode = FAKE_HANG_BAR;
		f->chan_mode = FAKE_CHAN_HANG;
		break;
	case FAKE_CTL_CLOSE:
		shutdown(f->link.fd, SHUT_RDWR);
		return false;
	default:
		break;
	}
	return true;
}

/* A FAKE_CTL write: answered, except by the ends it asks for. */
static bool control(struct fake_dev *f, uint32_t what)
{
	return fake_control(f, what) && link_send_ret(&f->link, 0, false, 1000) == 0;
}

/* One request; false when the link should end. */
static bool handle(struct fake_dev *f, struct link_msg *m)
{
	uint64_t ret = 0;

	switch (m->cmd) {
	case LINK_SYNC_SYSMEM:
		take_sysmem(f, m);
		return true;
	case LINK_SET_IRQFD:
		take_irqfd(f, m);
		return true;
	case LINK_DEVICE_RESET:
		f->nreset++;
		fake_reset(f);
		return link_send_ret(&f->link, 0, true, 1000) == 0;
	case LINK_PCI_CFGREAD:
	case LINK_PCI_CFGWRITE:
		if (m->cmd == LINK_PCI_CFGWRITE && m->data.conf.addr == FAKE_CTL)
			return control(f, m->data.conf.val);
		ret = fake_cfg_access(f, m->cmd, &m->data.conf);
		break;
	case LINK_BAR_READ:
	case LINK_BAR_WRITE:
		f->nbar++;
		f->last_bar = m->data.bar;
		f->last_bar_cmd = m->cmd;
		if (m->cmd == LINK_BAR_READ && f->mode != FAKE_NORMAL)
			return misbehave(f);
		ret = m->cmd == LINK_BAR_READ ? FAKE_MAGIC | m->data.bar.addr : 0;
		break;
	default:
		return handle_ext(f, m);
	}
	return link_send_ret(&f->link, ret, false, 1000) == 0;
}

void fake_serve(struct fake_dev *f)
{
	struct link_msg m;

	for (;;) {
		int r = link_recv(&f->link, &m, 5);
		bool go;

		pthread_mutex_lock(&f->lock);
		if (f->reset_after_ms >= 0 && f->first_ms && !f->quirk_done &&
		    ms_now() - f->first_ms >= f->reset_after_ms) {
			fake_reset(f);
			f->quirk_done = true;
		}
		go = r == -ETIMEDOUT || (r == 1 && handle(f, &m));
		if (r == 1)
			link_msg_close_fds(&m);
		pthread_mutex_unlock(&f->lock);
		if (!go)
			break;
	}
}

static void *fake_main(void *arg)
{
	fake_serve(arg);
	return NULL;
}

void fake_start(struct fake_dev *f, int fd)
{
	if (link_init(&f->link, fd, LINK_ROLE_REMOTE, &f->log, "fake") == 0 &&
	    pthread_create(&f->thread, NULL, fake_main, f) == 0)
		f->started = true;
}

void fake_join(struct fake_dev *f)
{
	if (f->started)
		pthread_join(f->thread, NULL);
	f->started = false;
	fake_chan_close(f);
	link_destroy(&f->link);
	if (f->irqfd >= 0)
		close(f->irqfd);
	if (f->resamplefd >= 0)
		close(f->resamplefd);
	f->irqfd = f->resamplefd = -1;
	pthread_mutex_destroy(&f->lock);
}
