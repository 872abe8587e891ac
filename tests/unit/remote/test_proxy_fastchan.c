/*
 * The fast channel (LINK_F_FASTCHAN), proxy side, against the fake device
 * serving it with the real device-side code (fake_chan.c): requests and
 * replies go through the page, not the socket; a device that never
 * answers costs a vCPU its timeout and no more; one that scribbles
 * garbage into its reply fails the device at once; proxy_fail() from
 * another thread wakes a waiting vCPU; a peer that does not take the
 * feature gets none of it. The channel's spin policy is checked alone.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "proxy_env.h"
#include "remote/proxy_int.h"

static int64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A proxy against the fake as splitvm's device process, taking `take`. */
static struct px_env *start(uint64_t take, int timeout_ms)
{
	struct px_env *e = px_env_new(1);

	e->fake.splitvm = true;
	e->fake.take = take;
	assert_int_equal(px_env_create(e, timeout_ms), 0);
	return e;
}

static uint64_t bar1(struct px_env *e)
{
	return pci_bar_base(proxy_pci(e->px), 1);
}

static uint64_t bar_read(struct px_env *e, uint64_t addr)
{
	uint64_t v = 0;

	iobus_access(&e->mmio, addr, &v, 4, false);
	return v;
}

static void bar_write(struct px_env *e, uint64_t addr, uint64_t v)
{
	iobus_access(&e->mmio, addr, &v, 4, true);
}

static void set_mode(struct px_env *e, enum fake_chan_mode mode)
{
	pthread_mutex_lock(&e->fake.lock);
	e->fake.chan_mode = mode;
	pthread_mutex_unlock(&e->fake.lock);
}

static unsigned nchan(struct px_env *e)
{
	unsigned n;

	pthread_mutex_lock(&e->fake.lock);
	n = e->fake.nchan;
	pthread_mutex_unlock(&e->fake.lock);
	return n;
}

/* Config and BAR accesses travel through the page; the socket sees none. */
static void test_requests(void **state)
{
	struct px_env *e = start(LINK_F_FASTCHAN, 2000);
	struct pci_device *pdev = proxy_pci(e->px);
	unsigned ncfg, n;
	uint64_t b = bar1(e);

	assert_true(e->px->chan_on);
	assert_true(e->fake.chan_on);
	assert_int_equal(e->px->features, LINK_F_FASTCHAN);
	/* Programming the device at attach went through it already. */
	assert_true(nchan(e) > 0);
	n = nchan(e);
	ncfg = e->fake.ncfg;
	assert_int_equal(pci_config_read(pdev, PCI_VENDOR_ID, 4), 0x56781234);
	pci_config_write(pdev, PCI_INTERRUPT_LINE, 1, 0x0b);
	assert_int_equal(e->fake.last_cfg.addr, PCI_INTERRUPT_LINE);
	assert_int_equal(pci_config_read(pdev, PCI_INTERRUPT_LINE, 1), 0x0b);
	assert_int_equal(bar_read(e, b + 8), (uint32_t)(FAKE_MAGIC | (b + 8)));
	bar_write(e, b + 12, 0x77);
	assert_int_equal(e->fake.last_bar.addr, b + 12);
	assert_int_equal(e->fake.last_bar.val, 0x77);
	assert_int_equal(e->fake.last_bar_cmd, LINK_BAR_WRITE);
	/* Three config and two BAR accesses, all five through the page. */
	assert_int_equal(e->fake.ncfg, ncfg + 3);
	assert_int_equal(nchan(e), n + 5);
	assert_false(proxy_failed(e->px));
	px_env_free(e);
	(void)state;
}

/* Posted writes go through the page too, and a read after them sees them done. */
static void test_posted(void **state)
{
	struct px_env *e = start(LINK_F_FASTCHAN | LINK_F_POSTED, 2000);
	uint64_t b = bar1(e);

	for (unsigned i = 0; i < 100; i++)
		bar_write(e, b + 16, i);
	assert_int_equal(bar_read(e, b + 8), (uint32_t)(FAKE_MAGIC | (b + 8)));
	assert_int_equal(e->fake.nposted, 0); /* none on the socket */
	pthread_mutex_lock(&e->fake.lock);
	assert_int_equal(e->fake.last_bar_cmd, LINK_BAR_READ);
	pthread_mutex_unlock(&e->fake.lock);
	bar_write(e, b + 16, 1234);
	/* The socket's turn waits for it: the fake has it before DEVICE_RESET's RET. */
	assert_int_equal(fastchan_vmm_drain(&e->px->chan, fastchan_now_ns() + 1000000000), 0);
	pthread_mutex_lock(&e->fake.lock);
	assert_int_equal(e->fake.last_bar_cmd, LINK_EXT_BAR_WRITE);
	assert_int_equal(e->fake.last_bar.val, 1234);
	pthread_mutex_unlock(&e->fake.lock);
	px_env_free(e);
	(void)state;
}

/* A device that never answers: the vCPU waits its timeout, then reads all ones. */
static void test_hang(void **state)
{
	struct px_env *e = start(LINK_F_FASTCHAN, 300);
	int64_t t0;

	set_mode(e, FAKE_CHAN_HANG);
	t0 = ms_now();
	assert_int_equal(bar_read(e, bar1(e)), 0xffffffff);
	print_message("  waited %lld ms\n", (long long)(ms_now() - t0));
	assert_true(ms_now() - t0 >= 300);
	assert_true(ms_now() - t0 < 1500);
	assert_true(proxy_failed(e->px));
	assert_non_null(strstr(px_env_log(e), "no reply to BAR_READ within 300 ms"));
	assert_int_equal(px_env_log_lines(e), 1);
	/* Failed: answered without the device, at once. */
	t0 = ms_now();
	assert_int_equal(bar_read(e, bar1(e)), 0xffffffff);
	assert_true(ms_now() - t0 < 100);
	px_env_free(e);
	(void)state;
}

/* Garbage in the reply: the device fails at once, not at the timeout. */
static void garbage_case(enum fake_chan_mode mode, bool write, const char *line)
{
	struct px_env *e = start(LINK_F_FASTCHAN, 5000);
	int64_t t0;

	set_mode(e, mode);
	t0 = ms_now();
	if (write)
		bar_write(e, bar1(e) + 4, 1);
	else
		assert_int_equal(bar_read(e, bar1(e)), 0xffffffff);
	assert_true(ms_now() - t0 < 1000);
	assert_true(proxy_failed(e->px));
	print_message("  %s", px_env_log(e));
	assert_non_null(strstr(px_env_log(e), line));
	assert_int_equal(px_env_log_lines(e), 1);
	px_env_free(e);
}

static void test_garbage(void **state)
{
	garbage_case(FAKE_CHAN_BAD_SEQ, false, "bad reply to BAR_READ on the fast channel");
	garbage_case(FAKE_CHAN_BAD_WRITE, true, "bad reply to BAR_WRITE on the fast channel");
	garbage_case(FAKE_CHAN_AHEAD, false, "bad reply to BAR_READ on the fast channel");
	/* "A message on the socket first", and it is a RET: nothing asked for one. */
	garbage_case(FAKE_CHAN_STRAY_RET, false, "RET with no request pending");
	(void)state;
}

static void *fail_later(void *arg)
{
	usleep(200 * 1000);
	proxy_fail(arg, PROXY_FAIL_UNRESPONSIVE, "no heartbeat for a while");
	return NULL;
}

/* Supervision from another thread wakes a vCPU waiting on the channel at once. */
static void test_fail_wakes(void **state)
{
	struct px_env *e = start(LINK_F_FASTCHAN, 10000);
	pthread_t t;
	int64_t t0;

	set_mode(e, FAKE_CHAN_HANG);
	assert_int_equal(pthread_create(&t, NULL, fail_later, e->px), 0);
	t0 = ms_now();
	assert_int_equal(bar_read(e, bar1(e)), 0xffffffff);
	print_message("  the read ended after %lld ms\n", (long long)(ms_now() - t0));
	assert_true(ms_now() - t0 < 2000);
	pthread_join(t, NULL);
	assert_non_null(strstr(px_env_log(e), "no heartbeat for a while"));
	assert_int_equal(px_env_log_lines(e), 1);
	px_env_free(e);
	(void)state;
}

/* Not taken (or a QEMU-like peer): no EXT_FASTCHAN, everything on the socket. */
static void test_not_taken(void **state)
{
	struct px_env *e = start(LINK_F_POSTED, 2000);
	unsigned nbar = e->fake.nbar;

	assert_true(e->px->splitvm_peer);
	assert_false(e->px->chan_on);
	assert_false(e->fake.chan_on);
	assert_int_equal(bar_read(e, bar1(e)), (uint32_t)(FAKE_MAGIC | bar1(e)));
	assert_int_equal(e->fake.nbar, nbar + 1);
	assert_int_equal(nchan(e), 0);
	px_env_free(e);
	e = px_env_new(1); /* QEMU-like: the probe answered with the IDs alone */
	assert_int_equal(px_env_create(e, 2000), 0);
	assert_false(e->px->splitvm_peer);
	assert_false(e->px->chan_on);
	assert_false(e->fake.chan_on);
	assert_int_equal(e->fake.qemu_violations, 0);
	px_env_free(e);
	(void)state;
}

/* The policy: spin while it pays, stop after misses, probe further apart. */
static void test_spin_policy(void **state)
{
	struct fastchan_spin s;
	unsigned skipped = 0;

	fastchan_spin_init(&s, 1000);
	assert_int_equal(fastchan_spin_next(&s), 1000);
	fastchan_spin_done(&s, 1000, true);
	for (unsigned i = 0; i < 7; i++) {
		assert_int_equal(fastchan_spin_next(&s), 1000);
		fastchan_spin_done(&s, 1000, false);
	}
	assert_int_equal(fastchan_spin_next(&s), 1000);
	fastchan_spin_done(&s, 1000, false); /* the 8th miss in a row */
	/* Probes after 1, 2, 4 ... waits without spinning. */
	for (unsigned probes = 0; probes < 3; probes++) {
		uint32_t b;

		while ((b = fastchan_spin_next(&s)) == 0) {
			fastchan_spin_done(&s, 0, false);
			skipped++;
		}
		assert_int_equal(b, 1000);
		fastchan_spin_done(&s, b, false);
	}
	assert_int_equal(skipped, 1 + 2 + 4);
	/* A probe that pays: spinning again at once. */
	while (!fastchan_spin_next(&s))
		;
	fastchan_spin_done(&s, 1000, true);
	assert_int_equal(fastchan_spin_next(&s), 1000);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_requests),
		cmocka_unit_test(test_posted),
		cmocka_unit_test(test_hang),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_fail_wakes),
		cmocka_unit_test(test_not_taken),
		cmocka_unit_test(test_spin_policy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
