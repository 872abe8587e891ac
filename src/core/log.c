#include "core/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void log_vprintf(const struct logger *lg, enum log_level level, const char *fmt, va_list ap)
{
	char line[1024];
	int n, m;

	if (!lg || level > lg->level)
		return;
	n = snprintf(line, sizeof(line), "splitvm: %s: ", level_names[level]);
	m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	if (m < 0)
		return;
	n += m;
	if (n > (int)sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* One write per line keeps lines whole when vCPU threads log at once. */
	while (write(lg->fd, line, n) < 0 && errno == EINTR)
		;
}

void log_printf(const struct logger *lg, enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vprintf(lg, level, fmt, ap);
	va_end(ap);
}

int log_level_parse(const char *name, enum log_level *out)
{
	for (unsigned i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (!strcmp(name, level_names[i])) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}
