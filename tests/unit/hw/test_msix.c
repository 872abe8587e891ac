/* MSI-X: capability, table and PBA accesses, masking and pending delivery. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/iobus.h"
#include "hw/pci/msix.h"
#include "hw/pci/pci.h"

#define NVEC 4
#define TABLE 0x0
#define PBA 0x800
#define MAX_MSGS 64

struct ctx {
	struct pci_device pci;
	struct msix msix;
	pthread_mutex_t lock;
	unsigned nmsgs;
	uint64_t addr[MAX_MSGS];
	uint32_t data[MAX_MSGS];
	unsigned long total;
};

static int record(void *opaque, uint64_t addr, uint32_t data)
{
	struct ctx *c = opaque;

	pthread_mutex_lock(&c->lock);
	if (c->nmsgs < MAX_MSGS) {
		c->addr[c->nmsgs] = addr;
		c->data[c->nmsgs] = data;
		c->nmsgs++;
	}
	c->total++;
	pthread_mutex_unlock(&c->lock);
	return 0;
}

static void cfg_write(struct pci_device *pdev, unsigned off, unsigned size, uint32_t val)
{
	struct ctx *c = pdev->opaque;

	msix_config_write(&c->msix, off, size, val);
}

static const struct pci_device_ops ops = { .config_write = cfg_write };

static uint64_t dummy_read(void *dev, uint64_t off, unsigned size)
{
	return 0;
}

static void dummy_write(void *dev, uint64_t off, uint64_t v, unsigned size)
{
}

static const struct io_ops dummy_ops = { dummy_read, dummy_write };

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	pthread_mutex_init(&c->lock, NULL);
	assert_int_equal(pci_device_init(&c->pci, "msix-test", PCI_CFG_SPACE_SIZE, &ops, c), 0);
	assert_int_equal(pci_set_bar(&c->pci, 0, PCI_BAR_MEM32, false, 4096, &dummy_ops, NULL), 0);
	assert_int_equal(pci_set_bar(&c->pci, 1, PCI_BAR_MEM32, false, 4096, &msix_bar_ops,
				     &c->msix), 0);
	assert_int_equal(msix_init(&c->msix, &c->pci, NVEC, 1, TABLE, PBA, record, c), 0);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	msix_destroy(&c->msix);
	pci_device_destroy(&c->pci);
	pthread_mutex_destroy(&c->lock);
	free(c);
	return 0;
}

static uint64_t bar_rd(struct ctx *c, uint64_t off, unsigned size)
{
	return msix_bar_ops.read(&c->msix, off, size);
}

static void bar_wr(struct ctx *c, uint64_t off, uint64_t v, unsigned size)
{
	msix_bar_ops.write(&c->msix, off, v, size);
}

static unsigned cap(struct ctx *c)
{
	return pci_find_capability(&c->pci, PCI_CAP_ID_MSIX);
}

static void set_control(struct ctx *c, uint16_t flags)
{
	pci_config_write(&c->pci, cap(c) + PCI_MSIX_FLAGS, 2, flags);
}

/* Vector v: address 0xfee0_0000 + v * 0x1000, data 0x40 + v, unmasked or not. */
static void program(struct ctx *c, unsigned v, bool masked)
{
	uint64_t e = TABLE + v * PCI_MSIX_ENTRY_SIZE;

	bar_wr(c, e, 0xfee00000ull + v * 0x1000, 8);
	bar_wr(c, e + 8, 0x40 + v, 4);
	bar_wr(c, e + 12, masked, 4);
}

static void test_capability(void **state)
{
	struct ctx *c = *state;
	unsigned off = cap(c);

	assert_true(off >= PCI_CAP_FIRST);
	assert_int_equal(pci_config_read(&c->pci, off + PCI_MSIX_FLAGS, 2), NVEC - 1);
	assert_int_equal(pci_config_read(&c->pci, off + PCI_MSIX_TABLE, 4), TABLE | 1);
	assert_int_equal(pci_config_read(&c->pci, off + PCI_MSIX_PBA, 4), PBA | 1);
	/* Only enable and function mask are writable. */
	pci_config_write(&c->pci, off + PCI_MSIX_FLAGS, 2, 0xffff);
	assert_int_equal(pci_config_read(&c->pci, off + PCI_MSIX_FLAGS, 2),
			 PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL | (NVEC - 1));
	assert_true(msix_enabled(&c->msix));
	pci_config_write(&c->pci, off + PCI_MSIX_FLAGS + 1, 1, 0);
	assert_false(msix_enabled(&c->msix));
	pci_config_write(&c->pci, off + PCI_MSIX_TABLE, 4, 0x1234);
	assert_int_equal(pci_config_read(&c->pci, off + PCI_MSIX_TABLE, 4), TABLE | 1);
	assert_int_equal(msix_bar_span(&c->msix), PBA + 8);
}

static void test_init_errors(void **state)
{
	struct pci_device p;
	struct msix m;

	(void)state;
	assert_int_equal(pci_device_init(&p, "x", PCI_CFG_SPACE_SIZE, NULL, NULL), 0);
	assert_int_equal(msix_init(&m, &p, 0, 0, 0, 0x800, NULL, NULL), -EINVAL);
	assert_int_equal(msix_init(&m, &p, MSIX_MAX_VECTORS + 1, 0, 0, 0x800, NULL, NULL),
			 -EINVAL);
	assert_int_equal(msix_init(&m, &p, 4, 0, 4, 0x800, NULL, NULL), -EINVAL);
	assert_int_equal(msix_init(&m, &p, 4, 0, 0, 0x804, NULL, NULL), -EINVAL);
	assert_int_equal(msix_init(&m, &p, 4, 0, 0, 0x30, NULL, NULL), -EINVAL); /* overlap */
	assert_int_equal(msix_init(&m, &p, 4, 6, 0, 0x800, NULL, NULL), -EINVAL);
	assert_int_equal(pci_find_capability(&p, PCI_CAP_ID_MSIX), 0);
	/* The PBA may come first. */
	assert_int_equal(msix_init(&m, &p, 2, 0, 0x100, 0, NULL, NULL), 0);
	assert_int_equal(msix_bar_span(&m), 0x120);
	msix_destroy(&m);
	pci_device_destroy(&p);
}

static void test_table_access(void **state)
{
	struct ctx *c = *state;
	uint64_t e1 = TABLE + PCI_MSIX_ENTRY_SIZE;

	/* Every vector starts masked with a zero message. */
	for (unsigned v = 0; v < NVEC; v++) {
		assert_int_equal(bar_rd(c, TABLE + v * 16 + 12, 4), 1);
		assert_int_equal(bar_rd(c, TABLE + v * 16, 8), 0);
	}
	bar_wr(c, e1, 0x12345678fee0100full, 8);
	assert_int_equal(bar_rd(c, e1, 4), 0xfee0100c); /* bits 1:0 read as zero */
	assert_int_equal(bar_rd(c, e1 + 4, 4), 0x12345678);
	assert_int_equal(bar_rd(c, e1, 8), 0x12345678fee0100cull);
	bar_wr(c, e1 + 8, 0xffffffff00004021ull, 8); /* data and control as a QWORD */
	assert_int_equal(bar_rd(c, e1 + 8, 4), 0x4021);
	assert_int_equal(bar_rd(c, e1 + 12, 4), 1); /* reserved control bits stay zero */
	assert_int_equal(bar_rd(c, e1 + 9, 1), 0x40);
	assert_int_equal(bar_rd(c, e1 + 8, 2), 0x4021);
	/* Narrow and misaligned writes do nothing; misaligned reads give zero. */
	bar_wr(c, e1 + 8, 0x55, 2);
	bar_wr(c, e1 + 8, 0x55, 1);
	bar_wr(c, e1 + 4, 0, 8);
	assert_int_equal(bar_rd(c, e1 + 8, 4), 0x4021);
	assert_int_equal(bar_rd(c, e1 + 4, 4), 0x12345678);
	assert_int_equal(bar_rd(c, e1 + 4, 8), 0);
	/* Beyond the table and PBA: zero, writes ignored. */
	bar_wr(c, TABLE + NVEC * 16, 0xabcd, 4);
	assert_int_equal(bar_rd(c, TABLE + NVEC * 16, 4), 0);
	/* The PBA is read-only. */
	bar_wr(c, PBA, ~0ull, 8);
	assert_int_equal(bar_rd(c, PBA, 8), 0);
}

static void test_disabled_drops(void **state)
{
	struct ctx *c = *state;

	program(c, 0, false);
	msix_notify(&c->msix, 0);
	assert_int_equal(c->nmsgs, 0);
	assert_int_equal(bar_rd(c, PBA, 8), 0);
	set_control(c, PCI_MSIX_FLAGS_ENABLE);
	msix_notify(&c->msix, NVEC); /* out of range */
	assert_int_equal(c->nmsgs, 0);
	msix_notify(&c->msix, 0);
	assert_int_equal(c->nmsgs, 1);
	assert_int_equal(c->addr[0], 0xfee00000);
	assert_int_equal(c->data[0], 0x40);
}

static void test_vector_mask_pending(void **state)
{
	struct ctx *c = *state;

	program(c, 2, true);
	set_control(c, PCI_MSIX_FLAGS_ENABLE);
	msix_notify(&c->msix, 2);
	msix_notify(&c->msix, 2);
	assert_int_equal(c->nmsgs, 0);
	assert_int_equal(bar_rd(c, PBA, 8), 1 << 2);
	assert_int_equal(bar_rd(c, PBA, 4), 1 << 2);
	assert_int_equal(bar_rd(c, PBA, 1), 1 << 2);
	/* Unmasking sends the pending message once and clears the bit. */
	bar_wr(c, TABLE + 2 * 16 + 12, 0, 4);
	assert_int_equal(c->nmsgs, 1);
	assert_int_equal(c->addr[0], 0xfee02000);
	assert_int_equal(c->data[0], 0x42);
	assert_int_equal(bar_rd(c, PBA, 8), 0);
	bar_wr(c, TABLE + 2 * 16 + 12, 0, 4);
	assert_int_equal(c->nmsgs, 1);
	/* Unmasking through a QWORD write of data + control works too. */
	bar_wr(c, TABLE + 2 * 16 + 12, 1, 4);
	msix_notify(&c->msix, 2);
	bar_wr(c, TABLE + 2 * 16 + 8, 0x77, 8);
	assert_int_equal(c->nmsgs, 2);
	assert_int_equal(c->data[1], 0x77);
}

static void test_function_mask(void **state)
{
	struct ctx *c = *state;

	program(c, 0, false);
	program(c, 1, false);
	program(c, 3, true);
	set_control(c, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	msix_notify(&c->msix, 0);
	msix_notify(&c->msix, 1);
	msix_notify(&c->msix, 3);
	assert_int_equal(c->nmsgs, 0);
	assert_int_equal(bar_rd(c, PBA, 8), 0xb);
	/* A vector unmask under the function mask sends nothing. */
	bar_wr(c, TABLE + 0 * 16 + 12, 0, 4);
	assert_int_equal(c->nmsgs, 0);
	set_control(c, PCI_MSIX_FLAGS_ENABLE);
	assert_int_equal(c->nmsgs, 2);
	assert_int_equal(c->data[0], 0x40);
	assert_int_equal(c->data[1], 0x41);
	assert_int_equal(bar_rd(c, PBA, 8), 1 << 3); /* vector 3 is still masked */
}

static void test_pending_across_disable(void **state)
{
	struct ctx *c = *state;

	program(c, 1, true);
	set_control(c, PCI_MSIX_FLAGS_ENABLE);
	msix_notify(&c->msix, 1);
	set_control(c, 0);
	bar_wr(c, TABLE + 16 + 12, 0, 4); /* unmasked while disabled: held */
	assert_int_equal(c->nmsgs, 0);
	assert_int_equal(bar_rd(c, PBA, 8), 2);
	set_control(c, PCI_MSIX_FLAGS_ENABLE);
	assert_int_equal(c->nmsgs, 1);
	assert_int_equal(c->data[0], 0x41);
	assert_int_equal(bar_rd(c, PBA, 8), 0);
}

struct stress {
	struct ctx *c;
	unsigned vec;
	unsigned n;
};

static void *notifier(void *arg)
{
	struct stress *s = arg;

	for (unsigned i = 0; i < s->n; i++)
		msix_notify(&s->c->msix, s->vec);
	return NULL;
}

/* Notifies from two threads while the guest toggles masks: nothing is lost. */
static void test_threads(void **state)
{
	struct ctx *c = *state;
	struct stress s[2] = { { c, 0, 20000 }, { c, 1, 20000 } };
	pthread_t th[2];

	program(c, 0, false);
	program(c, 1, false);
	set_control(c, PCI_MSIX_FLAGS_ENABLE);
	for (unsigned i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, notifier, &s[i]), 0);
	for (unsigned i = 0; i < 2000; i++) {
		bar_wr(c, TABLE + (i & 1) * 16 + 12, i >> 1 & 1, 4);
		set_control(c, PCI_MSIX_FLAGS_ENABLE | (i % 3 ? 0 : PCI_MSIX_FLAGS_MASKALL));
	}
	for (unsigned i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	set_control(c, PCI_MSIX_FLAGS_ENABLE);
	bar_wr(c, TABLE + 12, 0, 4);
	bar_wr(c, TABLE + 16 + 12, 0, 4);
	assert_int_equal(bar_rd(c, PBA, 8), 0);
	assert_true(c->total >= 2);
	assert_true(c->total <= 40000);
}

/* A function reset: disabled, every vector masked and zeroed, nothing pending. */
static void test_reset(void **state)
{
	struct ctx *c = *state;

	program(c, 0, false);
	program(c, 1, true);
	set_control(c, PCI_MSIX_FLAGS_ENABLE);
	msix_notify(&c->msix, 1); /* pending: masked */
	assert_int_equal(bar_rd(c, PBA, 8), 2);
	msix_reset(&c->msix);
	assert_false(msix_enabled(&c->msix));
	assert_int_equal(bar_rd(c, PBA, 8), 0);
	for (unsigned v = 0; v < NVEC; v++) {
		assert_int_equal(bar_rd(c, TABLE + v * PCI_MSIX_ENTRY_SIZE, 8), 0);
		assert_int_equal(bar_rd(c, TABLE + v * PCI_MSIX_ENTRY_SIZE + 12, 4), 1);
	}
	msix_notify(&c->msix, 0);
	assert_int_equal(c->nmsgs, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_capability, setup, teardown),
		cmocka_unit_test(test_init_errors),
		cmocka_unit_test_setup_teardown(test_table_access, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disabled_drops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vector_mask_pending, setup, teardown),
		cmocka_unit_test_setup_teardown(test_function_mask, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pending_across_disable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset, setup, teardown),
	};

	return cmocka_run_group_tests_name("msix", tests, NULL, NULL);
}
