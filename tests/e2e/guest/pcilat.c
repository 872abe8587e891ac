/*
 * pcilat: the guest's view of a PCI device's access latency (bench_remote.py).
 *
 *   pcilat /sys/bus/pci/devices/DDDD:BB:DD.F [BATCHES [PER_BATCH]]
 *
 * Times config-space reads through ports 0xcf8/0xcfc (the vendor/device
 * dword; the index write at 0xcf8 stays in the VMM, the data read at 0xcfc
 * is what a proxy forwards) and 32-bit reads of a virtio device's
 * device_feature register, in the memory BAR its common configuration
 * capability names. Both registers read without side effects. Each batch of
 * PER_BATCH reads is timed with CLOCK_MONOTONIC; an empty batch (the clock
 * reads alone) is timed in the same round and its median subtracted. Prints
 *   clock NS          the empty batch's median
 *   cfg MEDIAN MIN P90 READS BAD VALUE
 *   bar MEDIAN MIN P90 READS BAD VALUE
 * in ns per read over the batches; VALUE is what the register read (hex),
 * BAD counts reads that returned another value (for cfg: than the IDs in
 * sysfs; e.g. the kernel used 0xcf8 in between; for bar: than the first).
 * "error ..." and status 1 on failure.
 *
 * Freestanding (no libc: a static glibc binary would add ~300 KB to every
 * boot's initramfs); built by image.py with gcc -static -nostdlib.
 */
#include <stdint.h>

#define SYS_read 0
#define SYS_write 1
#define SYS_open 2
#define SYS_close 3
#define SYS_mmap 9
#define SYS_pread64 17
#define SYS_ioperm 173
#define SYS_clock_gettime 228
#define SYS_exit_group 231

#define MAX_BATCHES 1001
#define PAGE 4096ul

static long sys3(long n, long a, long b, long c)
{
	long r;

	__asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c)
			 : "rcx", "r11", "memory");
	return r;
}

static long sys6(long n, long a, long b, long c, long d, long e, long f)
{
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	long r;

	__asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10),
			 "r"(r8), "r"(r9) : "rcx", "r11", "memory");
	return r;
}

static void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static uint32_t inl(uint16_t port)
{
	uint32_t v;

	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static uint64_t now_ns(void)
{
	struct {
		long sec, nsec;
	} ts;

	sys3(SYS_clock_gettime, 1 /* CLOCK_MONOTONIC */, (long)&ts, 0);
	return (uint64_t)ts.sec * 1000000000u + (uint64_t)ts.nsec;
}

/* ---- output ---- */

static char out[512];
static unsigned int out_len;

static void put(const char *s)
{
	while (*s && out_len < sizeof(out) - 1)
		out[out_len++] = *s++;
}

static void put_u(uint64_t v)
{
	char b[24];
	int i = 0;

	do
		b[i++] = (char)('0' + v % 10);
	while ((v /= 10) && i < 23);
	while (i && out_len < sizeof(out) - 1)
		out[out_len++] = b[--i];
}

static void put_hex(uint32_t v)
{
	put("0x");
	for (int sh = 28; sh >= 0; sh -= 4) {
		char d[2] = { "0123456789abcdef"[(v >> sh) & 15], 0 };

		put(d);
	}
}

static void flush(void)
{
	sys3(SYS_write, 1, (long)out, out_len);
	out_len = 0;
}

static int fail(const char *what)
{
	put("error ");
	put(what);
	put("\n");
	flush();
	return 1;
}

/* ---- arguments, sysfs ---- */

static uint64_t parse_num(const char *s, unsigned int base, const char **end)
{
	uint64_t v = 0;

	for (;; s++) {
		unsigned int d;

		if (*s >= '0' && *s <= '9')
			d = (unsigned int)(*s - '0');
		else if (*s >= 'a' && *s <= 'f')
			d = (unsigned int)(*s - 'a' + 10);
		else
			break;
		if (d >= base)
			break;
		v = v * base + d;
	}
	*end = s;
	return v;
}

static unsigned int slen(const char *s)
{
	unsigned int n = 0;

	while (s[n])
		n++;
	return n;
}

/* dir + "/" + name into buf (256 bytes). */
static const char *path(char *buf, const char *dir, const char *name)
{
	unsigned int n = 0;

	while (*dir && n < 200)
		buf[n++] = *dir++;
	buf[n++] = '/';
	while (*name && n < 254)
		buf[n++] = *name++;
	buf[n] = 0;
	return buf;
}

/* The conf1 address of dword 0 from the device's name "DDDD:BB:DD.F". */
static int conf1_addr(const char *dev, uint32_t *addr)
{
	unsigned int n = slen(dev);
	const char *p, *e;
	uint64_t bus, slot, fn;

	if (n < 12)
		return -1;
	p = dev + n - 7;
	bus = parse_num(p, 16, &e);
	if (e != p + 2 || *e != ':')
		return -1;
	slot = parse_num(e + 1, 16, &e);
	if (*e != '.' || slot > 31)
		return -1;
	fn = parse_num(e + 1, 16, &e);
	if (*e || fn > 7)
		return -1;
	*addr = 0x80000000u | (uint32_t)(bus << 16 | slot << 11 | fn << 8);
	return 0;
}

/* The BAR and offset of the virtio common configuration, from the caps. */
static int find_common(const uint8_t *cfg, unsigned int *bar, uint32_t *off)
{
	unsigned int pos = cfg[0x34] & 0xfc, hops = 0;

	if (!(cfg[0x06] & 0x10))
		return -1;
	while (pos >= 0x40 && pos < 0xf0 && hops++ < 48) {
		if (cfg[pos] == 0x09 && cfg[pos + 3] == 1 /* VIRTIO_PCI_CAP_COMMON_CFG */) {
			*bar = cfg[pos + 4];
			*off = (uint32_t)cfg[pos + 8] | (uint32_t)cfg[pos + 9] << 8 |
			       (uint32_t)cfg[pos + 10] << 16 | (uint32_t)cfg[pos + 11] << 24;
			return *bar < 6 ? 0 : -1;
		}
		pos = cfg[pos + 1] & 0xfc;
	}
	return -1;
}

/* ---- measuring ---- */

struct probe {
	uint32_t conf1, ids;
	volatile uint32_t *reg;
	uint32_t reg_val;
	unsigned int per;
	uint64_t bad;
};

enum what { EMPTY, CFG, BAR };

/* ns for one batch of `per` reads of `what`. */
static uint64_t batch(struct probe *p, enum what what)
{
	uint64_t t0 = now_ns(), t1;
	unsigned int i;

	if (what == CFG) {
		for (i = 0; i < p->per; i++) {
			outl(0xcf8, p->conf1);
			p->bad += inl(0xcfc) != p->ids;
		}
	} else if (what == BAR) {
		for (i = 0; i < p->per; i++)
			p->bad += *p->reg != p->reg_val;
	}
	t1 = now_ns();
	return t1 - t0;
}

static void sort(uint64_t *v, unsigned int n)
{
	for (unsigned int i = 1; i < n; i++) {
		uint64_t x = v[i];
		unsigned int j = i;

		for (; j && v[j - 1] > x; j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
}

static uint64_t per_read(uint64_t t, uint64_t empty, unsigned int per)
{
	return (t > empty ? t - empty : 0) / per;
}

static void report(const char *name, uint64_t *t, unsigned int n, uint64_t empty,
		   const struct probe *p, uint64_t bad, uint32_t val)
{
	sort(t, n);
	put(name);
	put(" ");
	put_u(per_read(t[n / 2], empty, p->per));
	put(" ");
	put_u(per_read(t[0], empty, p->per));
	put(" ");
	put_u(per_read(t[n * 9 / 10], empty, p->per));
	put(" ");
	put_u((uint64_t)n * p->per);
	put(" ");
	put_u(bad);
	put(" ");
	put_hex(val);
	put("\n");
	flush();
}

static uint64_t t_empty[MAX_BATCHES], t_cfg[MAX_BATCHES], t_bar[MAX_BATCHES];

static void measure(struct probe *p, unsigned int batches)
{
	uint64_t bad_cfg = 0, bad_bar = 0, empty;

	batch(p, CFG); /* warm-up: page tables, translated code */
	batch(p, BAR);
	p->bad = 0;
	for (unsigned int b = 0; b < batches; b++) {
		t_empty[b] = batch(p, EMPTY);
		t_cfg[b] = batch(p, CFG);
		bad_cfg += p->bad;
		p->bad = 0;
		t_bar[b] = batch(p, BAR);
		bad_bar += p->bad;
		p->bad = 0;
	}
	sort(t_empty, batches);
	empty = t_empty[batches / 2];
	put("clock ");
	put_u(empty);
	put("\n");
	flush();
	report("cfg", t_cfg, batches, empty, p, bad_cfg, p->ids);
	report("bar", t_bar, batches, empty, p, bad_bar, p->reg_val);
}

/* ---- setting up ---- */

static int map_register(const char *dev, const uint8_t *cfg, struct probe *p)
{
	char buf[256], name[] = "resource0";
	unsigned int bar;
	uint32_t off;
	long fd, m;

	if (find_common(cfg, &bar, &off))
		return fail("no virtio common configuration capability");
	name[8] = (char)('0' + bar);
	fd = sys3(SYS_open, (long)path(buf, dev, name), 2 /* O_RDWR */, 0);
	if (fd < 0)
		return fail("cannot open the BAR's resource file");
	off += 4; /* device_feature */
	m = sys6(SYS_mmap, 0, (long)((off & ~(PAGE - 1)) + PAGE), 3 /* PROT_READ|WRITE */,
		 1 /* MAP_SHARED */, fd, 0);
	sys3(SYS_close, fd, 0, 0);
	if (m < 0 && m > -4096)
		return fail("cannot map the BAR");
	p->reg = (volatile uint32_t *)(m + off);
	p->reg_val = *p->reg;
	return 0;
}

static int setup(const char *dev, struct probe *p)
{
	uint8_t cfg[256];
	char buf[256];
	long fd, n;

	if (conf1_addr(dev, &p->conf1))
		return fail("the device's path does not end in DDDD:BB:DD.F");
	fd = sys3(SYS_open, (long)path(buf, dev, "config"), 0, 0);
	if (fd < 0)
		return fail("cannot open config");
	n = sys6(SYS_pread64, fd, (long)cfg, sizeof(cfg), 0, 0, 0);
	sys3(SYS_close, fd, 0, 0);
	if (n != (long)sizeof(cfg))
		return fail("cannot read 256 bytes of config (not root?)");
	p->ids = (uint32_t)cfg[0] | (uint32_t)cfg[1] << 8 | (uint32_t)cfg[2] << 16 |
		 (uint32_t)cfg[3] << 24;
	if (sys3(SYS_ioperm, 0xcf8, 8, 1))
		return fail("ioperm(0xcf8) refused");
	return map_register(dev, cfg, p);
}

static int pcilat(int argc, char **argv)
{
	struct probe p = { .per = 64 };
	unsigned int batches = 101;
	const char *e;

	if (argc < 2)
		return fail("usage: pcilat SYSFS-DEVICE [BATCHES [PER_BATCH]]");
	if (argc > 2)
		batches = (unsigned int)parse_num(argv[2], 10, &e);
	if (argc > 3)
		p.per = (unsigned int)parse_num(argv[3], 10, &e);
	if (batches < 1 || batches > MAX_BATCHES || p.per < 1 || p.per > 100000)
		return fail("BATCHES must be 1-1001, PER_BATCH 1-100000");
	if (setup(argv[1], &p))
		return 1;
	measure(&p, batches);
	return 0;
}

void start_c(long *sp);

void start_c(long *sp)
{
	sys3(SYS_exit_group, pcilat((int)sp[0], (char **)(sp + 1)), 0, 0);
	for (;;)
		;
}

__asm__(".globl _start\n"
	"_start:\n"
	"	xor %ebp, %ebp\n"
	"	mov %rsp, %rdi\n"
	"	and $-16, %rsp\n"
	"	call start_c\n"
	"	hlt\n");
