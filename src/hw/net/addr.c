/* The text forms of virtio-net's options: hostfwd rules and MAC addresses. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hw/net/backend.h"

/* Copies the text up to sep (or the end when sep is 0) into buf; advances *p past it. */
static int take_field(const char **p, char sep, char *buf, size_t size)
{
	const char *end = sep ? strchr(*p, sep) : *p + strlen(*p);
	size_t n;

	if (!end)
		return -EINVAL;
	n = (size_t)(end - *p);
	if (n >= size)
		return -EINVAL;
	memcpy(buf, *p, n);
	buf[n] = '\0';
	*p = sep ? end + 1 : end;
	return 0;
}

static int parse_port(const char *s, uint16_t *out)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v == 0 || v > 65535)
		return -EINVAL;
	*out = (uint16_t)v;
	return 0;
}

static int parse_addr(const char *s, struct in_addr *out)
{
	if (!*s) {
		out->s_addr = htonl(INADDR_ANY);
		return 0;
	}
	return inet_pton(AF_INET, s, out) == 1 ? 0 : -EINVAL;
}

int net_parse_hostfwd(const char *text, struct net_hostfwd *out)
{
	char buf[64];
	const char *p = text;

	memset(out, 0, sizeof(*out));
	if (take_field(&p, ':', buf, sizeof(buf)))
		return -EINVAL;
	if (!strcmp(buf, "udp"))
		out->udp = true;
	else if (*buf && strcmp(buf, "tcp"))
		return -EINVAL;
	if (take_field(&p, ':', buf, sizeof(buf)) || parse_addr(buf, &out->host_addr))
		return -EINVAL;
	if (take_field(&p, '-', buf, sizeof(buf)) || parse_port(buf, &out->host_port))
		return -EINVAL;
	if (take_field(&p, ':', buf, sizeof(buf)) || parse_addr(buf, &out->guest_addr))
		return -EINVAL;
	if (take_field(&p, 0, buf, sizeof(buf)) || parse_port(buf, &out->guest_port))
		return -EINVAL;
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int net_parse_mac(const char *text, uint8_t mac[6])
{
	uint8_t m[6];

	if (strlen(text) != 17)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		const char *s = text + 3 * i;
		int hi = hexval(s[0]), lo = hexval(s[1]);

		if (hi < 0 || lo < 0 || (i < 5 && s[2] != ':'))
			return -EINVAL;
		m[i] = (uint8_t)(hi << 4 | lo);
	}
	if (m[0] & 1) /* multicast: never a NIC's own address */
		return -EINVAL;
	memcpy(mac, m, 6);
	return 0;
}
