/* The device registry: every kind --device knows, and a device's life. */
#include "hw/device.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "hw/virtio/devices.h"

/* Kinds join this table as they are written. */
static const struct device_kind *const kinds[] = {
	&virtio_blk_kind,
	&virtio_rng_kind,
	&virtio_console_kind,
	&virtio_net_kind,
	NULL,
};

const struct device_kind *device_kind_find(const char *name)
{
	for (size_t i = 0; kinds[i]; i++)
		if (!strcmp(kinds[i]->name, name))
			return kinds[i];
	return NULL;
}

void device_kinds_usage(int fd)
{
	for (size_t i = 0; kinds[i]; i++) {
		if (dprintf(fd, "  %s\n", kinds[i]->usage) < 0)
			return;
	}
}

static int unknown_kind(const struct devspec *s, const struct logger *log)
{
	log_error(log, "unknown device '%s' in --device %s (kinds: see splitvm run --help)",
		  s->kind, s->text);
	return -EINVAL;
}

/* An option no kind read is a typo or a feature we lack: refuse it. */
static int check_all_used(const struct devspec *s, const struct logger *log)
{
	for (unsigned i = 0; i < s->nparams; i++) {
		if (s->params[i].used)
			continue;
		log_error(log, "--device %s: unknown option '%s' for %s", s->text,
			  s->params[i].key, s->kind);
		return -EINVAL;
	}
	return 0;
}

int device_parse(struct device *dev, const char *text, const struct logger *log)
{
	int err;

	memset(dev, 0, sizeof(*dev));
	err = devspec_parse(&dev->spec, text, log);
	if (err)
		return err;
	dev->kind = device_kind_find(dev->spec.kind);
	if (!dev->kind) {
		err = unknown_kind(&dev->spec, log);
		goto fail;
	}
	dev->config = calloc(1, dev->kind->config_size ? dev->kind->config_size : 1);
	if (!dev->config) {
		err = -ENOMEM;
		goto fail;
	}
	err = dev->kind->parse(&dev->spec, dev->config, log);
	if (!err)
		err = check_all_used(&dev->spec, log);
	if (err)
		goto fail;
	return 0;
fail:
	device_destroy(dev);
	return err;
}

int device_create(struct device *dev, const struct dev_host *host)
{
	int err = dev->kind->create(host, dev->config, &dev->state);

	if (err)
		log_error(host->log, "--device %s: cannot create the device: %s", dev->spec.text,
			  strerror(-err));
	return err;
}

const struct device_sandbox *device_sandbox(const struct device *dev)
{
	return dev->kind && dev->kind->sandbox ? dev->kind->sandbox(dev->config) : NULL;
}

void device_destroy(struct device *dev)
{
	if (dev->state)
		dev->kind->destroy(dev->state);
	dev->state = NULL;
	if (dev->config && dev->kind && dev->kind->config_free)
		dev->kind->config_free(dev->config);
	free(dev->config);
	dev->config = NULL;
	devspec_free(&dev->spec);
	dev->kind = NULL;
}
