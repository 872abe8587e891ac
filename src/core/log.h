/* Leveled logging. Library-style code logs through this, never printf. */
#ifndef CORE_LOG_H
#define CORE_LOG_H

#include <stdarg.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Set up once before any thread starts, read-only afterwards. */
struct logger {
	enum log_level level;
	int fd; /* usually 2 */
};

#define LOGGER_DEFAULT ((struct logger){ .level = LOG_WARN, .fd = 2 })

void log_printf(const struct logger *lg, enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void log_vprintf(const struct logger *lg, enum log_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
int log_level_parse(const char *name, enum log_level *out);

#define log_error(lg, ...) log_printf((lg), LOG_ERROR, __VA_ARGS__)
#define log_warn(lg, ...) log_printf((lg), LOG_WARN, __VA_ARGS__)
#define log_info(lg, ...) log_printf((lg), LOG_INFO, __VA_ARGS__)
#define log_debug(lg, ...) log_printf((lg), LOG_DEBUG, __VA_ARGS__)

#endif
