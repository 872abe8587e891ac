/* --device spec parsing and the registry's refusals. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/log.h"
#include "hw/device.h"

static int log_pipe[2];
static struct logger lg;

static const char *logged(void)
{
	static char buf[4096];
	ssize_t n = read(log_pipe[0], buf, sizeof(buf) - 1);

	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static void test_parse_params(void **state)
{
	struct devspec s;
	unsigned pos = 0;
	bool b;
	uint64_t n;

	(void)state;
	assert_int_equal(devspec_parse(&s, "virtio-net,user,hostfwd=tcp::1-:2,hostfwd=udp::3-:4,"
				       "ro=off,q=0x10", &lg), 0);
	assert_string_equal(s.kind, "virtio-net");
	assert_int_equal(s.nparams, 5);
	assert_string_equal(devspec_get(&s, "user"), "");
	assert_null(devspec_get(&s, "tap"));
	assert_string_equal(devspec_next(&s, "hostfwd", &pos), "tcp::1-:2");
	assert_string_equal(devspec_next(&s, "hostfwd", &pos), "udp::3-:4");
	assert_null(devspec_next(&s, "hostfwd", &pos));
	assert_int_equal(devspec_bool(&s, "ro", true, &b, &lg), 0);
	assert_false(b);
	assert_int_equal(devspec_bool(&s, "user", false, &b, &lg), 0);
	assert_true(b);
	assert_int_equal(devspec_bool(&s, "absent", true, &b, &lg), 0);
	assert_true(b);
	assert_int_equal(devspec_u64(&s, "q", 1, 1, 64, &n, &lg), 0);
	assert_int_equal(n, 16);
	for (unsigned i = 0; i < s.nparams; i++)
		assert_true(s.params[i].used);
	devspec_free(&s);
}

static void test_parse_refusals(void **state)
{
	static const char *const bad[] = { "", ",x", "k=v", "kind,=v", "kind,,x" };
	struct devspec s;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(devspec_parse(&s, bad[i], &lg), -EINVAL);
	assert_non_null(strstr(logged(), "--device"));
}

static void test_bad_values(void **state)
{
	struct devspec s;
	bool b;
	uint64_t n;

	(void)state;
	assert_int_equal(devspec_parse(&s, "k,ro=maybe,q=99,r=-1,t=1x", &lg), 0);
	assert_int_equal(devspec_bool(&s, "ro", false, &b, &lg), -EINVAL);
	assert_int_equal(devspec_u64(&s, "q", 1, 1, 64, &n, &lg), -EINVAL);
	assert_int_equal(devspec_u64(&s, "r", 1, 0, 64, &n, &lg), -EINVAL);
	assert_int_equal(devspec_u64(&s, "t", 1, 0, 64, &n, &lg), -EINVAL);
	assert_non_null(strstr(logged(), "ro=maybe: expected on or off"));
	devspec_free(&s);
}

static void test_unknown_kind(void **state)
{
	struct device d;

	(void)state;
	assert_int_equal(device_parse(&d, "no-such-device,x=1", &lg), -EINVAL);
	assert_non_null(strstr(logged(), "unknown device 'no-such-device'"));
	device_destroy(&d); /* harmless after a refusal */
}

static void test_too_many_params(void **state)
{
	char text[256] = "k";
	struct devspec s;

	(void)state;
	for (int i = 0; i <= DEVSPEC_MAX_PARAMS; i++)
		strcat(text, ",a");
	assert_int_equal(devspec_parse(&s, text, &lg), -EINVAL);
	assert_non_null(strstr(logged(), "too many options"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_params),
		cmocka_unit_test(test_parse_refusals),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_unknown_kind),
		cmocka_unit_test(test_too_many_params),
	};

	if (pipe2(log_pipe, O_NONBLOCK) < 0)
		return 1;
	lg = (struct logger){ .level = LOG_DEBUG, .fd = log_pipe[1] };
	return cmocka_run_group_tests(tests, NULL, NULL);
}
