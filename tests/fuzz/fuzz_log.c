#include "fuzz_log.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

const struct logger *fuzz_quiet_log(void)
{
	static struct logger lg = { .level = LOG_DEBUG, .fd = -1 };

	if (lg.fd < 0)
		lg.fd = getenv("FUZZ_LOG") ? dup(2) : open("/dev/null", O_WRONLY | O_CLOEXEC);
	return &lg;
}
