/*
 * The fast channel (fastchan.h): the words, the adaptive spin, both sides.
 *
 * Why the wake-ups cannot be lost: a side that is about to sleep sets bit 0
 * of the word it waits on (compare-and-swap from the value it checked),
 * and the publishing side swaps the word whole and wakes only if that bit
 * was set. Stopping (or failing) stores its flag, clears bit 0 and wakes:
 * a waiter that set bit 0 before that sees the word change under
 * FUTEX_WAIT; one that set it after sees the flag, which it checks after
 * setting the bit.
 */
#include "remote/fastchan.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <linux/futex.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

_Static_assert(sizeof(struct fastchan_req) == 32, "request: 4 words");
_Static_assert(sizeof(struct fastchan_rep) == 16, "reply: 2 words");
_Static_assert(sizeof(struct fastchan_page) <= FASTCHAN_SIZE, "one page");

/* Spinning stops after this many misses in a row, then probes every 1, 2, 4 ... 64 waits. */
#define SPIN_MISSES_MAX 8u
#define SPIN_BACKOFF_MAX 64u
/* 16 pauses take ~1 us at most: a longer step means we did not run. */
#define SPIN_PREEMPTED_NS 20000

int64_t fastchan_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint32_t seq_of(uint32_t word)
{
	return word >> 1;
}

static long futex(_Atomic uint32_t *w, int op, uint32_t val, const struct timespec *ts)
{
	return syscall(SYS_futex, w, op, val, ts, NULL, 0);
}

static void cpu_relax(void)
{
	__builtin_ia32_pause();
}

/* ---- the spin policy ----------------------------------------------------------- */

void fastchan_spin_init(struct fastchan_spin *s, uint32_t max_ns)
{
	*s = (struct fastchan_spin){ .budget_ns = max_ns, .backoff = 1, .max_ns = max_ns };
}

uint32_t fastchan_spin_next(struct fastchan_spin *s)
{
	if (s->budget_ns)
		return s->budget_ns;
	if (s->skip) {
		s->skip--;
		return 0;
	}
	return s->max_ns; /* a probe */
}

void fastchan_spin_done(struct fastchan_spin *s, uint32_t budget_ns, bool in_spin)
{
	if (in_spin) {
		s->budget_ns = s->max_ns;
		s->misses = 0;
		s->backoff = 1;
		return;
	}
	if (!budget_ns)
		return; /* slept without trying */
	if (s->budget_ns && ++s->misses < SPIN_MISSES_MAX)
		return;
	/* Spinning does not pay now (an idle peer, a busy CPU): probe again later. */
	s->budget_ns = 0;
	s->misses = 0;
	s->skip = s->backoff;
	s->backoff = s->backoff >= SPIN_BACKOFF_MAX ? SPIN_BACKOFF_MAX : 2 * s->backoff;
}

/* ---- waiting and publishing ------------------------------------------------------ */

/*
 * Spins up to budget_ns (of our own running time) for w's sequence to
 * leave old, or stop: whether it did. Time we were preempted for does not
 * count: a loaded CPU would otherwise turn a spin that pays into a "miss".
 */
static bool spin_for(_Atomic uint32_t *w, uint32_t old, const atomic_bool *stop,
		     uint32_t budget_ns, int64_t start)
{
	int64_t last = start, spun = 0;

	for (unsigned i = 1;; i++) {
		if (seq_of(atomic_load_explicit(w, memory_order_acquire)) != old ||
		    atomic_load_explicit(stop, memory_order_relaxed))
			return true;
		if (!(i & 15)) {
			int64_t now = fastchan_now_ns(), step = now - last;

			spun += step < SPIN_PREEMPTED_NS ? step : 0;
			last = now;
			if (spun >= (int64_t)budget_ns)
				return false;
		}
		cpu_relax();
	}
}

/* Sleeps until w's sequence leaves old: 0, -ECANCELED (stop) or -ETIMEDOUT. */
static int sleep_on(_Atomic uint32_t *w, uint32_t old, const atomic_bool *stop,
		    int64_t deadline_ns)
{
	for (;;) {
		uint32_t v = atomic_load(w);
		struct timespec ts, *tsp = NULL;
		int64_t left;

		if (seq_of(v) != old)
			return 0;
		if (atomic_load(stop))
			return -ECANCELED;
		if (deadline_ns >= 0) {
			left = deadline_ns - fastchan_now_ns();
			if (left <= 0)
				return -ETIMEDOUT;
			ts = (struct timespec){ left / 1000000000, left % 1000000000 };
			tsp = &ts;
		}
		if (!(v & 1) && !atomic_compare_exchange_strong(w, &v, v | 1))
			continue;
		v |= 1;
		if (atomic_load(stop))
			return -ECANCELED; /* after the bit: see the top of the file */
		futex(w, FUTEX_WAIT, v, tsp);
	}
}

/* Whether the other side last ran on our CPU: then it cannot run while we spin. */
static bool same_cpu(_Atomic uint32_t *peer_cpu)
{
	int cpu = sched_getcpu();

	return cpu >= 0 && (uint32_t)cpu == atomic_load_explicit(peer_cpu, memory_order_relaxed);
}

static void say_cpu(_Atomic uint32_t *cpu)
{
	int c = sched_getcpu();

	atomic_store_explicit(cpu, c < 0 ? UINT32_MAX : (uint32_t)c, memory_order_relaxed);
}

static int wait_word(_Atomic uint32_t *w, uint32_t old, const atomic_bool *stop,
		     struct fastchan_spin *s, _Atomic uint32_t *peer_cpu, int64_t deadline_ns)
{
	uint32_t budget = same_cpu(peer_cpu) ? 0 : fastchan_spin_next(s);
	int64_t start = fastchan_now_ns();
	bool in_spin = budget && spin_for(w, old, stop, budget, start);
	int err = in_spin ? 0 : sleep_on(w, old, stop, deadline_ns);

	fastchan_spin_done(s, budget, in_spin);
	if (atomic_load(stop))
		return -ECANCELED;
	return err;
}

static void post_word(_Atomic uint32_t *w, uint32_t seq)
{
	uint32_t old = atomic_exchange(w, seq << 1);

	if (old & 1)
		futex(w, FUTEX_WAKE, 1, NULL);
}

/* Ends the waits on w: flag first, then the word changes, then the wake-up. */
static void interrupt_word(_Atomic uint32_t *w, atomic_bool *flag)
{
	atomic_store(flag, true);
	atomic_fetch_and(w, ~1u);
	futex(w, FUTEX_WAKE, INT_MAX, NULL);
}

/* The page is the other side's too: every word is read or written once. */
static void words_out(_Atomic uint64_t *dst, const void *src, unsigned n)
{
	uint64_t w[FASTCHAN_REQ_WORDS];

	memcpy(w, src, n * 8);
	for (unsigned i = 0; i < n; i++)
		atomic_store_explicit(&dst[i], w[i], memory_order_relaxed);
}

static void words_in(void *dst, _Atomic uint64_t *src, unsigned n)
{
	uint64_t w[FASTCHAN_REQ_WORDS];

	for (unsigned i = 0; i < n; i++)
		w[i] = atomic_load_explicit(&src[i], memory_order_relaxed);
	memcpy(dst, w, n * 8);
}

/* ---- the VMM's side ------------------------------------------------------------- */

#define VMM_SPIN_MAX_NS 50000u

int fastchan_vmm_open(struct fastchan_vmm *c)
{
	int err;

	memset(c, 0, sizeof(*c));
	c->fd = memfd_create("splitvm-fastchan", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (c->fd < 0)
		return -errno;
	if (ftruncate(c->fd, FASTCHAN_SIZE) < 0 ||
	    fcntl(c->fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		goto fail;
	c->page = mmap(NULL, FASTCHAN_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, 0);
	if (c->page == MAP_FAILED)
		goto fail;
	err = -pthread_mutex_init(&c->lock, NULL);
	if (err) {
		munmap(c->page, FASTCHAN_SIZE);
		c->page = NULL;
		close(c->fd);
		c->fd = -1;
		return err;
	}
	fastchan_spin_init(&c->spin, VMM_SPIN_MAX_NS);
	atomic_store(&c->page->req_cpu, UINT32_MAX);
	atomic_store(&c->page->rep_cpu, UINT32_MAX);
	return 0;
fail:
	err = -errno;
	close(c->fd);
	c->fd = -1;
	c->page = NULL;
	return err;
}

void fastchan_vmm_close(struct fastchan_vmm *c)
{
	if (!c->page)
		return;
	munmap(c->page, FASTCHAN_SIZE);
	c->page = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	pthread_mutex_destroy(&c->lock);
}

void fastchan_vmm_fail(struct fastchan_vmm *c)
{
	if (c->page)
		interrupt_word(&c->page->rep_word, &c->failed);
	else
		atomic_store(&c->failed, true);
}

/* The reply to c->seq, copied once (lock held). */
static int await_reply(struct fastchan_vmm *c, struct fastchan_rep *rep, int64_t deadline_ns)
{
	uint32_t prev = (c->seq - 1) & FASTCHAN_SEQ_MASK;
	int err = wait_word(&c->page->rep_word, prev, &c->failed, &c->spin, &c->page->rep_cpu,
			    deadline_ns);

	if (err)
		return err;
	/* Anything but our number is garbage: the device wrote the word itself. */
	if (seq_of(atomic_load(&c->page->rep_word)) != c->seq)
		return -EBADMSG;
	if (rep)
		words_in(rep, c->page->rep, FASTCHAN_REP_WORDS);
	c->pending = false;
	return 0;
}

static int drain_locked(struct fastchan_vmm *c, int64_t deadline_ns)
{
	if (atomic_load(&c->failed))
		return -ECANCELED;
	return c->pending ? await_reply(c, NULL, deadline_ns) : 0;
}

int fastchan_vmm_request(struct fastchan_vmm *c, const struct fastchan_req *req,
			 struct fastchan_rep *rep, int64_t deadline_ns)
{
	int err;

	pthread_mutex_lock(&c->lock);
	err = drain_locked(c, deadline_ns);
	if (!err) {
		words_out(c->page->req, req, FASTCHAN_REQ_WORDS);
		c->seq = (c->seq + 1) & FASTCHAN_SEQ_MASK;
		c->pending = true;
		say_cpu(&c->page->req_cpu);
		post_word(&c->page->req_word, c->seq);
		if (rep)
			err = await_reply(c, rep, deadline_ns);
	}
	pthread_mutex_unlock(&c->lock);
	return err;
}

int fastchan_vmm_drain(struct fastchan_vmm *c, int64_t deadline_ns)
{
	int err;

	pthread_mutex_lock(&c->lock);
	err = drain_locked(c, deadline_ns);
	pthread_mutex_unlock(&c->lock);
	return err;
}

/* ---- the device process's side --------------------------------------------------- */

#define DEV_SPIN_MAX_NS 50000u

void fastchan_dev_init(struct fastchan_dev *d)
{
	memset(d, 0, sizeof(*d));
	pthread_mutex_init(&d->lock, NULL);
	fastchan_spin_init(&d->spin, DEV_SPIN_MAX_NS);
}

int fastchan_dev_map(struct fastchan_dev *d, int fd, const char **why)
{
	struct stat st;
	int seals;
	void *p;

	if (d->page) {
		*why = "a second channel";
		return -EBUSY;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size != FASTCHAN_SIZE) {
		*why = "not a file of one page";
		return -EINVAL;
	}
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || !(seals & F_SEAL_SHRINK)) {
		*why = "a file that may shrink";
		return -EINVAL;
	}
	p = mmap(NULL, FASTCHAN_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		*why = "cannot be mapped";
		return -errno;
	}
	d->page = p;
	atomic_store(&d->served, seq_of(atomic_load(&d->page->req_word)));
	return 0;
}

void fastchan_dev_fini(struct fastchan_dev *d)
{
	if (d->page)
		munmap(d->page, FASTCHAN_SIZE);
	d->page = NULL;
	pthread_mutex_destroy(&d->lock);
}

int fastchan_dev_wait(struct fastchan_dev *d)
{
	return wait_word(&d->page->req_word, atomic_load(&d->served), &d->stop, &d->spin,
			 &d->page->req_cpu, -1);
}

int fastchan_dev_serve(struct fastchan_dev *d, fastchan_handler fn, void *opaque)
{
	struct fastchan_rep rep = { 0 };
	struct fastchan_req req;
	uint32_t seq;
	int err = 1;

	pthread_mutex_lock(&d->lock);
	seq = seq_of(atomic_load(&d->page->req_word));
	if (seq == atomic_load(&d->served)) {
		pthread_mutex_unlock(&d->lock);
		return 0;
	}
	words_in(&req, d->page->req, FASTCHAN_REQ_WORDS);
	err = fn(opaque, &req, &rep);
	if (!err) {
		words_out(d->page->rep, &rep, FASTCHAN_REP_WORDS);
		atomic_store(&d->served, seq);
		say_cpu(&d->page->rep_cpu);
		post_word(&d->page->rep_word, seq);
		err = 1;
	}
	pthread_mutex_unlock(&d->lock);
	return err;
}

void fastchan_dev_stop(struct fastchan_dev *d)
{
	if (d->page)
		interrupt_word(&d->page->req_word, &d->stop);
	else
		atomic_store(&d->stop, true);
}
