/* Parsing of --device specs: "KIND[,KEY[=VALUE]]...". */
#include "hw/device.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"

static int add_param(struct devspec *s, char *item, const struct logger *log)
{
	char *eq = strchr(item, '=');

	if (!*item || eq == item) {
		log_error(log, "--device %s: empty option name", s->text);
		return -EINVAL;
	}
	if (s->nparams == DEVSPEC_MAX_PARAMS) {
		log_error(log, "--device %s: too many options (at most %d)", s->text,
			  DEVSPEC_MAX_PARAMS);
		return -EINVAL;
	}
	if (eq)
		*eq = '\0';
	s->params[s->nparams++] = (struct devspec_param){ item, eq ? eq + 1 : NULL, false };
	return 0;
}

int devspec_parse(struct devspec *s, const char *text, const struct logger *log)
{
	char *item, *next;
	int err = 0;

	memset(s, 0, sizeof(*s));
	s->text = text;
	s->buf = strdup(text);
	if (!s->buf)
		return -ENOMEM;
	next = s->buf;
	s->kind = strsep(&next, ",");
	if (!*s->kind || strchr(s->kind, '=')) {
		log_error(log, "--device %s: expected a device kind first (KIND[,KEY=VALUE]...)",
			  text);
		err = -EINVAL;
	}
	while (!err && (item = strsep(&next, ",")))
		err = add_param(s, item, log);
	if (err)
		devspec_free(s);
	return err;
}

void devspec_free(struct devspec *s)
{
	free(s->buf);
	s->buf = NULL;
	s->nparams = 0;
}

const char *devspec_next(struct devspec *s, const char *key, unsigned *pos)
{
	for (; *pos < s->nparams; (*pos)++) {
		struct devspec_param *p = &s->params[*pos];

		if (strcmp(p->key, key))
			continue;
		p->used = true;
		(*pos)++;
		return p->value ? p->value : "";
	}
	return NULL;
}

const char *devspec_get(struct devspec *s, const char *key)
{
	unsigned pos = 0;

	return devspec_next(s, key, &pos);
}

int devspec_bool(struct devspec *s, const char *key, bool def, bool *out,
		 const struct logger *log)
{
	static const char *const yes[] = { "", "on", "yes", "true", "1" };
	static const char *const no[] = { "off", "no", "false", "0" };
	const char *v = devspec_get(s, key);

	*out = def;
	if (!v)
		return 0;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (!strcasecmp(v, yes[i]))
			return *out = true, 0;
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (!strcasecmp(v, no[i]))
			return *out = false, 0;
	log_error(log, "--device %s: %s=%s: expected on or off", s->text, key, v);
	return -EINVAL;
}

int devspec_u64(struct devspec *s, const char *key, uint64_t def, uint64_t min, uint64_t max,
		uint64_t *out, const struct logger *log)
{
	const char *v = devspec_get(s, key);
	char *end;
	unsigned long long n;

	*out = def;
	if (!v)
		return 0;
	errno = 0;
	n = strtoull(v, &end, 0);
	if (!*v || *end || errno || *v == '-' || n < min || n > max) {
		log_error(log, "--device %s: %s=%s: expected a number from %llu to %llu", s->text,
			  key, v, (unsigned long long)min, (unsigned long long)max);
		return -EINVAL;
	}
	*out = n;
	return 0;
}
