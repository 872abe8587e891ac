/* The device registry: every kind --device knows, and a device's life. */
#include "hw/device.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "hw/virtio/devices.h"
#include "remote/proxy.h"

/* Kinds join this table as they are written. */
static const struct device_kind *const kinds[] = {
	&virtio_blk_kind,
	&virtio_rng_kind,
	&virtio_console_kind,
	&virtio_net_kind,
	&remote_kind,
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
	dprintf(fd, "  KIND,...,isolated=on[,timeout=MS][,heartbeat=MS][,ext=off][,restart=on]   "
		"any kind but remote, in a process of its own\n");
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

/* The spec without isolated=on, as `splitvm remote --device` takes it. */
static int remote_spec(struct device *dev)
{
	const struct devspec *s = &dev->spec;
	size_t len = strlen(s->text) + 1;
	char *out = malloc(len), *p = out;

	if (!out)
		return -ENOMEM;
	p += snprintf(p, len, "%s", s->kind);
	for (unsigned i = 0; i < s->nparams; i++) {
		const struct devspec_param *q = &s->params[i];

		if (strcmp(q->key, "isolated") && !proxy_opt_key(q->key))
			p += snprintf(p, len - (size_t)(p - out), ",%s%s%s", q->key,
				      q->value ? "=" : "", q->value ? q->value : "");
	}
	dev->remote_spec = out;
	return 0;
}

/*
 * The spec was valid here; the device process opens its files itself, so
 * what parsing acquired (files, listening sockets) is given back now.
 */
static int isolate(struct device *dev, const struct logger *log)
{
	if (dev->kind == &remote_kind) {
		log_error(log, "--device %s: a remote device is isolated already", dev->spec.text);
		return -EINVAL;
	}
	if (dev->kind->config_free)
		dev->kind->config_free(dev->config);
	free(dev->config);
	dev->config = NULL;
	return remote_spec(dev);
}

/* The proxy's own options of an isolated device, read before the kind sees its spec. */
static int parse_proxy_opts(struct device *dev, const struct logger *log)
{
	dev->proxy_opts = calloc(1, sizeof(*dev->proxy_opts));
	if (!dev->proxy_opts)
		return -ENOMEM;
	return proxy_parse_opts(&dev->spec, dev->proxy_opts, log);
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
	err = devspec_bool(&dev->spec, "isolated", false, &dev->isolated, log);
	if (!err && dev->isolated && dev->kind != &remote_kind)
		err = parse_proxy_opts(dev, log);
	/* The remote kind refuses it itself: that process is not ours to restart. */
	if (!err && !dev->isolated && dev->kind != &remote_kind &&
	    devspec_get(&dev->spec, "restart")) {
		log_error(log, "--device %s: restart=on needs isolated=on", text);
		err = -EINVAL;
	}
	if (!err)
		err = dev->kind->parse(&dev->spec, dev->config, log);
	if (!err)
		err = check_all_used(&dev->spec, log);
	if (!err && dev->isolated)
		err = isolate(dev, log);
	if (err)
		goto fail;
	return 0;
fail:
	device_destroy(dev);
	return err;
}

static int create_isolated(struct device *dev, const struct dev_host *host)
{
	struct proxy_config cfg;
	int err = proxy_spawn(dev->remote_spec, dev->spec.text, &cfg, host->log);

	if (!err && dev->proxy_opts)
		proxy_apply_opts(&cfg, dev->proxy_opts);
	if (!err)
		err = proxy_create(host, &cfg, (struct proxy **)&dev->state);
	proxy_config_clear(&cfg);
	return err;
}

int device_create(struct device *dev, const struct dev_host *host)
{
	int err;

	/* A proxy needs a VMM's interrupts: a device process cannot host one. */
	if ((dev->isolated || dev->kind == &remote_kind) && !host->add_irqfd) {
		log_error(host->log, "--device %s: no other device process can be reached from "
			  "here", dev->spec.text);
		return -EINVAL;
	}
	err = dev->isolated ? create_isolated(dev, host)
			    : dev->kind->create(host, dev->config, &dev->state);

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
	if (dev->state && dev->isolated)
		proxy_destroy(dev->state);
	else if (dev->state)
		dev->kind->destroy(dev->state);
	dev->state = NULL;
	free(dev->remote_spec);
	dev->remote_spec = NULL;
	free(dev->proxy_opts);
	dev->proxy_opts = NULL;
	if (dev->config && dev->kind && dev->kind->config_free)
		dev->kind->config_free(dev->config);
	free(dev->config);
	dev->config = NULL;
	devspec_free(&dev->spec);
	dev->kind = NULL;
}
