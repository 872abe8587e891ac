/*
 * The logger of the link and remote fuzz targets: quiet (/dev/null), or
 * stderr with FUZZ_LOG set, to read what a reproducer logs. Opened on the
 * first call, so call it once before counting fds.
 */
#ifndef TESTS_FUZZ_FUZZ_LOG_H
#define TESTS_FUZZ_FUZZ_LOG_H

#include "core/log.h"

const struct logger *fuzz_quiet_log(void);

#endif
