/* Size parsing and `splitvm run` option errors. */
#include <setjmp.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/options.h"

static void test_sizes(void **state)
{
	static const struct { const char *s; uint64_t v; } ok[] = {
		{ "128M", 128ull << 20 }, { "1G", 1ull << 30 }, { "1g", 1ull << 30 },
		{ "4096K", 4ull << 20 }, { "256", 256ull << 20 }, { "2GiB", 2ull << 30 },
		{ "512MB", 512ull << 20 }, { "1T", 1ull << 40 },
	};
	static const char *const bad[] = { "", "M", "12Q", "-1", "1.5G", "1GG", "0x10M",
					   "99999999999999999999", "18446744073709551615G" };
	uint64_t v;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(parse_size(ok[i].s, &v), 0);
		assert_int_equal(v, ok[i].v);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_not_equal(parse_size(bad[i], &v), 0);
}

static int parse(struct vm_config *cfg, char *err, size_t len, ...)
{
	char *argv[32] = { (char *)"run" };
	int argc = 1;
	va_list ap;

	va_start(ap, len);
	while ((argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	return parse_run_args(argc, argv, cfg, err, len);
}

static void test_defaults_and_values(void **state)
{
	struct vm_config cfg;
	char err[256];

	assert_int_equal(parse(&cfg, err, sizeof(err), "--kernel", "k", NULL), 0);
	assert_int_equal(cfg.mem_size, 256ull << 20);
	assert_int_equal(cfg.ncpus, 1);
	assert_string_equal(cfg.accel, "auto");
	assert_int_equal(cfg.console, CONSOLE_STDIO);
	assert_int_equal(cfg.unpack, UNPACK_VMM);
	assert_int_equal(parse(&cfg, err, sizeof(err), "--kernel", "k", "--mem", "1G", "--cpus", "64",
			       "--accel", "emu", "--console", "file=/tmp/x", "--initrd", "i",
			       "--append", "console=ttyS0", "--boot-timer", "--log-level", "debug",
			       "--device", "a", "--device", "b", "--kernel-unpack", "guest", NULL), 0);
	assert_int_equal(cfg.mem_size, 1ull << 30);
	assert_int_equal(cfg.ncpus, 64);
	assert_string_equal(cfg.accel, "emu");
	assert_int_equal(cfg.console, CONSOLE_FILE);
	assert_string_equal(cfg.console_path, "/tmp/x");
	assert_string_equal(cfg.append, "console=ttyS0");
	assert_true(cfg.boot_timer);
	assert_int_equal(cfg.log_level, LOG_DEBUG);
	assert_int_equal(cfg.ndevices, 2);
	assert_int_equal(cfg.unpack, UNPACK_GUEST);
	assert_int_equal(parse(&cfg, err, sizeof(err), "--help", NULL), 1);
}

static void expect_error(const char *needle, ...)
{
	char *argv[16] = { (char *)"run" };
	struct vm_config cfg;
	char err[256] = "";
	int argc = 1;
	va_list ap;

	va_start(ap, needle);
	while ((argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	assert_int_equal(parse_run_args(argc, argv, &cfg, err, sizeof(err)), -EINVAL);
	if (!strstr(err, needle))
		fail_msg("error '%s' lacks '%s'", err, needle);
	assert_null(strchr(err, '\n'));
}

static void test_errors(void **state)
{
	expect_error("missing --kernel", NULL);
	expect_error("--cpus", "--kernel", "k", "--cpus", "0", NULL);
	expect_error("--cpus", "--kernel", "k", "--cpus", "65", NULL);
	expect_error("--cpus", "--kernel", "k", "--cpus", "2x", NULL);
	expect_error("--mem", "--kernel", "k", "--mem", "12Q", NULL);
	expect_error("--mem", "--kernel", "k", "--mem", "0", NULL);
	expect_error("out of range", "--kernel", "k", "--mem", "1M", NULL);
	expect_error("out of range", "--kernel", "k", "--mem", "1T", NULL);
	expect_error("multiple of 4K", "--kernel", "k", "--mem", "8193K", NULL);
	expect_error("unknown option '--bogus'", "--kernel", "k", "--bogus", NULL);
	expect_error("needs a value", "--kernel", NULL);
	expect_error("unknown accelerator", "--kernel", "k", "--accel", "xen", NULL);
	expect_error("--console", "--kernel", "k", "--console", "tcp", NULL);
	expect_error("--log-level", "--kernel", "k", "--log-level", "loud", NULL);
	expect_error("unexpected argument", "--kernel", "k", "extra", NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_defaults_and_values),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
