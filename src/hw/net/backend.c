/* virtio-net's backend options: user (slirp) or tap, hostfwd and mac. */
#include "hw/net/backend.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "hw/device.h"

static int parse_hostfwds(struct devspec *spec, struct net_config *cfg, const struct logger *log)
{
	const char *v;
	unsigned pos = 0;

	while ((v = devspec_next(spec, "hostfwd", &pos))) {
		if (cfg->type != NET_BACKEND_USER) {
			log_error(log, "--device %s: hostfwd needs user-mode networking", spec->text);
			return -EINVAL;
		}
		if (cfg->nhostfwd == NET_MAX_HOSTFWD) {
			log_error(log, "--device %s: more than %d hostfwd", spec->text,
				  NET_MAX_HOSTFWD);
			return -EINVAL;
		}
		if (net_parse_hostfwd(v, &cfg->hostfwd[cfg->nhostfwd])) {
			log_error(log, "--device %s: bad hostfwd '%s' (expected "
				  "[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT)", spec->text, v);
			return -EINVAL;
		}
		cfg->nhostfwd++;
	}
	return 0;
}

static int parse_backend(struct devspec *spec, struct net_config *cfg, const struct logger *log)
{
	const char *tap = devspec_get(spec, "tap");
	bool user;
	int fd;

	if (devspec_bool(spec, "user", tap == NULL, &user, log))
		return -EINVAL;
	if (user == (tap != NULL)) {
		log_error(log, "--device %s: give exactly one of user and tap=NAME", spec->text);
		return -EINVAL;
	}
	if (user) {
		cfg->type = NET_BACKEND_USER;
		return 0;
	}
	if (!*tap || strlen(tap) >= sizeof(cfg->tap_name)) {
		log_error(log, "--device %s: bad tap interface name '%s'", spec->text, tap);
		return -EINVAL;
	}
	cfg->type = NET_BACKEND_TAP;
	strcpy(cfg->tap_name, tap);
	fd = net_tap_open(tap, log);
	if (fd < 0) {
		log_error(log, "--device %s: cannot open tap '%s': %s", spec->text, tap,
			  strerror(-fd));
		return -EINVAL;
	}
	cfg->tap_fd = fd;
	cfg->tap_offloads = net_tap_probe_offloads(fd);
	return 0;
}

int net_config_parse(struct devspec *spec, struct net_config *cfg, const struct logger *log)
{
	static const uint8_t default_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
	const char *mac = devspec_get(spec, "mac");

	memset(cfg, 0, sizeof(*cfg));
	cfg->tap_fd = -1;
	memcpy(cfg->mac, default_mac, 6);
	if (mac && net_parse_mac(mac, cfg->mac)) {
		log_error(log, "--device %s: bad mac '%s' (expected a unicast address like 52:54:00:12:34:56)",
			  spec->text, mac);
		return -EINVAL;
	}
	if (parse_backend(spec, cfg, log) || parse_hostfwds(spec, cfg, log)) {
		net_config_free(cfg);
		return -EINVAL;
	}
	return 0;
}

void net_config_free(struct net_config *cfg)
{
	if (cfg->tap_fd >= 0)
		close(cfg->tap_fd);
	cfg->tap_fd = -1;
}

int net_backend_create(struct net_config *cfg, const struct net_peer *peer, struct evloop *loop,
		       const struct logger *log, struct net_backend **out)
{
	int err;

	if (cfg->type == NET_BACKEND_USER)
		return net_slirp_create(cfg, peer, loop, log, out);
	if (cfg->tap_fd < 0)
		return -EBADF;
	err = net_tap_create(cfg->tap_fd, cfg->tap_offloads, peer, loop, log, out);
	if (!err)
		cfg->tap_fd = -1; /* the backend owns it now */
	return err;
}
