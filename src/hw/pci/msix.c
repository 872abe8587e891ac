/*
 * MSI-X: the capability, the vector table and the pending-bit array.
 *
 * The table and PBA take aligned 4- and 8-byte accesses (PCI Local Bus 3.0,
 * 6.8.2: software uses DWORD or aligned QWORD accesses); smaller aligned
 * reads are answered too, anything else reads as zero and writes nothing.
 * Messages are collected under m->lock and sent after it is dropped, so the
 * signal function may take its own locks.
 */
#include "hw/pci/msix.h"

#include <errno.h>
#include <string.h>

#include "core/iobus.h"
#include "hw/pci/pci.h"

#define ENTRY_DWORDS (PCI_MSIX_ENTRY_SIZE / 4)
#define CTRL_DWORD (PCI_MSIX_ENTRY_VECTOR_CTRL / 4)
#define PBA_BYTES 8 /* one QWORD holds the bits of MSIX_MAX_VECTORS */

struct msix_msg {
	uint64_t addr;
	uint32_t data;
};

static bool vec_masked(const struct msix *m, unsigned v)
{
	return m->func_masked || (m->table[v][CTRL_DWORD] & PCI_MSIX_ENTRY_CTRL_MASKBIT);
}

static struct msix_msg msg_of(const struct msix *m, unsigned v)
{
	return (struct msix_msg){
		.addr = (uint64_t)m->table[v][1] << 32 | m->table[v][0],
		.data = m->table[v][2],
	};
}

/* Takes the pending vectors that may be sent now (m->lock held). */
static unsigned take_pending(struct msix *m, struct msix_msg *out)
{
	unsigned n = 0;

	if (!m->enabled || m->func_masked || !m->pba)
		return 0;
	for (unsigned v = 0; v < m->nvec; v++) {
		if (!(m->pba >> v & 1) || vec_masked(m, v))
			continue;
		m->pba &= ~(1ull << v);
		out[n++] = msg_of(m, v);
	}
	return n;
}

static void send(const struct msix *m, const struct msix_msg *msgs, unsigned n)
{
	for (unsigned i = 0; i < n && m->signal; i++)
		m->signal(m->signal_opaque, msgs[i].addr, msgs[i].data);
}

int msix_init(struct msix *m, struct pci_device *pdev, unsigned nvec, unsigned bar,
	      uint32_t table_off, uint32_t pba_off, msix_signal_fn signal, void *opaque)
{
	uint32_t table_end = table_off + nvec * PCI_MSIX_ENTRY_SIZE;
	int cap;

	if (nvec == 0 || nvec > MSIX_MAX_VECTORS || bar >= PCI_BAR_COUNT ||
	    (table_off | pba_off) & 7 || table_end < table_off ||
	    (pba_off < table_end && pba_off + PBA_BYTES > table_off))
		return -EINVAL;
	cap = pci_add_capability(pdev, PCI_CAP_ID_MSIX, PCI_CAP_MSIX_SIZEOF);
	if (cap < 0)
		return cap;
	memset(m, 0, sizeof(*m));
	m->pdev = pdev;
	m->nvec = nvec;
	m->cap = (unsigned)cap;
	m->table_off = table_off;
	m->pba_off = pba_off;
	m->signal = signal;
	m->signal_opaque = opaque;
	pdev->msix = m;
	for (unsigned v = 0; v < nvec; v++)
		m->table[v][CTRL_DWORD] = PCI_MSIX_ENTRY_CTRL_MASKBIT;
	pthread_mutex_init(&m->lock, NULL);
	pci_cfg_set(pdev, m->cap + PCI_MSIX_FLAGS, 2, nvec - 1);
	pci_cfg_set_wmask(pdev, m->cap + PCI_MSIX_FLAGS, 2,
			  PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	pci_cfg_set(pdev, m->cap + PCI_MSIX_TABLE, 4, table_off | bar);
	pci_cfg_set(pdev, m->cap + PCI_MSIX_PBA, 4, pba_off | bar);
	return 0;
}

void msix_destroy(struct msix *m)
{
	if (!m->pdev)
		return;
	if (m->pdev->msix == m)
		m->pdev->msix = NULL;
	pthread_mutex_destroy(&m->lock);
	m->pdev = NULL;
}

uint32_t msix_bar_span(const struct msix *m)
{
	uint32_t table_end = m->table_off + m->nvec * PCI_MSIX_ENTRY_SIZE;
	uint32_t pba_end = m->pba_off + PBA_BYTES;
	uint32_t start = m->table_off < m->pba_off ? m->table_off : m->pba_off;

	return (table_end > pba_end ? table_end : pba_end) - start;
}

void msix_config_write(struct msix *m, unsigned off, unsigned size, uint32_t val)
{
	unsigned ctl = m->cap + PCI_MSIX_FLAGS;
	struct msix_msg msgs[MSIX_MAX_VECTORS];
	uint16_t flags;
	unsigned n;

	if (off + size <= ctl || off >= ctl + 2)
		return;
	flags = (uint16_t)pci_cfg_get(m->pdev, ctl, 2);
	pthread_mutex_lock(&m->lock);
	m->enabled = flags & PCI_MSIX_FLAGS_ENABLE;
	m->func_masked = flags & PCI_MSIX_FLAGS_MASKALL;
	n = take_pending(m, msgs);
	pthread_mutex_unlock(&m->lock);
	send(m, msgs, n);
}

bool msix_enabled(struct msix *m)
{
	bool on;

	pthread_mutex_lock(&m->lock);
	on = m->enabled;
	pthread_mutex_unlock(&m->lock);
	return on;
}

void msix_reset(struct msix *m)
{
	pthread_mutex_lock(&m->lock);
	memset(m->table, 0, sizeof(m->table));
	for (unsigned v = 0; v < m->nvec; v++)
		m->table[v][CTRL_DWORD] = PCI_MSIX_ENTRY_CTRL_MASKBIT;
	m->pba = 0;
	m->enabled = false;
	m->func_masked = false;
	pthread_mutex_unlock(&m->lock);
}

void msix_notify(struct msix *m, unsigned vec)
{
	struct msix_msg msg;
	msix_vector_fn sink;

	pthread_mutex_lock(&m->lock);
	if (vec >= m->nvec || !m->enabled) {
		pthread_mutex_unlock(&m->lock);
		return;
	}
	sink = m->sink;
	if (sink) {
		pthread_mutex_unlock(&m->lock);
		sink(m->sink_opaque, vec);
		return;
	}
	if (vec_masked(m, vec)) {
		m->pba |= 1ull << vec;
		pthread_mutex_unlock(&m->lock);
		return;
	}
	msg = msg_of(m, vec);
	pthread_mutex_unlock(&m->lock);
	send(m, &msg, 1);
}

void msix_set_sink(struct msix *m, msix_vector_fn fn, void *opaque)
{
	pthread_mutex_lock(&m->lock);
	m->sink = fn;
	m->sink_opaque = opaque;
	m->pba = 0;
	pthread_mutex_unlock(&m->lock);
}

/* The DWORD at BAR offset off (4-aligned), m->lock held. */
static uint32_t read_dword(const struct msix *m, uint64_t off)
{
	uint64_t t = off - m->table_off, p = off - m->pba_off;

	if (off >= m->table_off && t < (uint64_t)m->nvec * PCI_MSIX_ENTRY_SIZE)
		return m->table[t / PCI_MSIX_ENTRY_SIZE][t % PCI_MSIX_ENTRY_SIZE / 4];
	if (off >= m->pba_off && p < PBA_BYTES)
		return (uint32_t)(m->pba >> (8 * p));
	return 0;
}

static uint64_t bar_read(void *dev, uint64_t off, unsigned size)
{
	struct msix *m = dev;
	uint64_t v;

	if (off & (size - 1))
		return 0;
	pthread_mutex_lock(&m->lock);
	if (size == 8)
		v = read_dword(m, off) | (uint64_t)read_dword(m, off + 4) << 32;
	else
		v = (read_dword(m, off & ~3ull) >> (8 * (off & 3))) &
		    (uint32_t)((1ull << (8 * size)) - 1);
	pthread_mutex_unlock(&m->lock);
	return v;
}

/* One DWORD of the table (m->lock held); an unmask may send a message. */
static unsigned write_dword(struct msix *m, uint64_t off, uint32_t val, struct msix_msg *out)
{
	uint64_t t = off - m->table_off;
	unsigned v, dw;

	if (off < m->table_off || t >= (uint64_t)m->nvec * PCI_MSIX_ENTRY_SIZE)
		return 0; /* the PBA is read-only */
	v = (unsigned)(t / PCI_MSIX_ENTRY_SIZE);
	dw = (unsigned)(t % PCI_MSIX_ENTRY_SIZE / 4);
	if (dw == 0)
		val &= ~3u; /* message addresses are DWORD aligned */
	else if (dw == CTRL_DWORD)
		val &= PCI_MSIX_ENTRY_CTRL_MASKBIT;
	m->table[v][dw] = val;
	if (dw != CTRL_DWORD || vec_masked(m, v) || !m->enabled || !(m->pba >> v & 1))
		return 0;
	m->pba &= ~(1ull << v);
	*out = msg_of(m, v);
	return 1;
}

static void bar_write(void *dev, uint64_t off, uint64_t value, unsigned size)
{
	struct msix *m = dev;
	struct msix_msg msgs[2];
	unsigned n = 0;

	if ((size != 4 && size != 8) || off & (size - 1))
		return;
	pthread_mutex_lock(&m->lock);
	n += write_dword(m, off, (uint32_t)value, &msgs[n]);
	if (size == 8)
		n += write_dword(m, off + 4, (uint32_t)(value >> 32), &msgs[n]);
	pthread_mutex_unlock(&m->lock);
	send(m, msgs, n);
}

const struct io_ops msix_bar_ops = {
	.read = bar_read,
	.write = bar_write,
};
