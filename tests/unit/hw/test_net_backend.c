/*
 * virtio-net's backends without the device: option parsing, then the slirp
 * stack driven through a real event loop with hand-built frames (ARP, ping,
 * DHCP, a TCP connection out to the host and one in through hostfwd), and a
 * tap in a network namespace of its own where this process may make one.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/evloop.h"
#include "core/log.h"
#include "hw/device.h"
#include "hw/net/backend.h"
#include "net_frames.h"

#define GUEST_IP 0x0a00020f
#define GW_IP 0x0a000202
#define DNS_IP 0x0a000203
#define MAX_FRAMES 64

struct ctx {
	struct logger log;
	struct evloop loop;
	struct net_backend *be;
	bool full; /* the "guest" has no buffers */
	unsigned nframes;
	size_t len[MAX_FRAMES];
	uint8_t frame[MAX_FRAMES][2048];
};

static int peer_receive(void *opaque, const struct iovec *iov, int iovcnt)
{
	struct ctx *c = opaque;
	size_t off = 0;

	if (c->full)
		return 0;
	if (c->nframes == MAX_FRAMES)
		return 1;
	for (int i = 0; i < iovcnt; i++) {
		size_t n = iov[i].iov_len;

		if (off + n > sizeof(c->frame[0]))
			n = sizeof(c->frame[0]) - off;
		memcpy(c->frame[c->nframes] + off, iov[i].iov_base, n);
		off += n;
	}
	c->len[c->nframes++] = off;
	return 1;
}

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	c->log = (struct logger){ LOG_ERROR, -1 };
	assert_int_equal(evloop_init(&c->loop), 0);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	if (c->be)
		c->be->ops->destroy(c->be);
	evloop_destroy(&c->loop);
	free(c);
	return 0;
}

static void start_slirp(struct ctx *c, const struct net_config *cfg)
{
	struct net_peer peer = { peer_receive, c };

	assert_int_equal(net_slirp_create(cfg, &peer, &c->loop, &c->log, &c->be), 0);
}

static struct net_config user_config(void)
{
	struct net_config cfg = { .type = NET_BACKEND_USER, .tap_fd = -1 };

	return cfg;
}

static void send_frame(struct ctx *c, const uint8_t *f, size_t len)
{
	struct iovec iov = { (void *)f, len };

	assert_int_equal(c->be->ops->send(c->be, &iov, 1), 0);
	if (c->be->ops->flush)
		c->be->ops->flush(c->be);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Runs the loop until a frame matching want() arrived (its index) or 5 s passed (-1). */
static int wait_frame(struct ctx *c, bool (*want)(const uint8_t *f, size_t len))
{
	double end = now_s() + 5;
	unsigned seen = 0;

	for (;;) {
		for (; seen < c->nframes; seen++)
			if (want(c->frame[seen], c->len[seen]))
				return (int)seen;
		if (now_s() > end)
			return -1;
		evloop_run_once(&c->loop, 20);
	}
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* ---- parsing ----------------------------------------------------------- */

static void test_hostfwd_parse(void **state)
{
	struct net_hostfwd h;

	assert_int_equal(net_parse_hostfwd("tcp:127.0.0.1:8080-:80", &h), 0);
	assert_false(h.udp);
	assert_int_equal(ntohl(h.host_addr.s_addr), 0x7f000001);
	assert_int_equal(h.host_port, 8080);
	assert_int_equal(h.guest_addr.s_addr, 0);
	assert_int_equal(h.guest_port, 80);
	assert_int_equal(net_parse_hostfwd("udp::5353-10.0.2.16:53", &h), 0);
	assert_true(h.udp);
	assert_int_equal(h.host_addr.s_addr, 0);
	assert_int_equal(ntohl(h.guest_addr.s_addr), 0x0a000210);
	assert_int_equal(h.guest_port, 53);
	assert_int_equal(net_parse_hostfwd(":127.0.0.1:1-:65535", &h), 0);
	assert_false(h.udp);

	static const char *const bad[] = {
		"", "tcp", "tcp:127.0.0.1:8080", "tcp:127.0.0.1:8080-80", "sctp::1-:2",
		"tcp:localhost:1-:2", "tcp::0-:80", "tcp::1-:65536", "tcp::-1-:80",
		"tcp::80-:8x", "tcp::80-:", "tcp::80-1.2.3:80", "tcp::+80-:80",
		"tcp:127.0.0.1:8080-:80:1",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (net_parse_hostfwd(bad[i], &h) != -EINVAL)
			fail_msg("accepted hostfwd '%s'", bad[i]);
	}
}

static void test_mac_parse(void **state)
{
	uint8_t mac[6];
	static const uint8_t want[6] = { 0x52, 0x54, 0x00, 0xab, 0xCD, 0x01 };

	assert_int_equal(net_parse_mac("52:54:00:ab:CD:01", mac), 0);
	assert_memory_equal(mac, want, 6);
	assert_int_equal(net_parse_mac("01:00:5e:00:00:01", mac), -EINVAL); /* multicast */
	assert_int_equal(net_parse_mac("52:54:00:ab:cd", mac), -EINVAL);
	assert_int_equal(net_parse_mac("52:54:00:ab:cd:0g", mac), -EINVAL);
	assert_int_equal(net_parse_mac("52-54-00-ab-cd-01", mac), -EINVAL);
	assert_int_equal(net_parse_mac("52:54:00:ab:cd:011", mac), -EINVAL);
}

static int parse(struct ctx *c, const char *text, struct net_config *cfg)
{
	struct devspec spec;
	int err;

	assert_int_equal(devspec_parse(&spec, text, &c->log), 0);
	err = net_config_parse(&spec, cfg, &c->log);
	for (unsigned i = 0; !err && i < spec.nparams; i++)
		if (!spec.params[i].used)
			fail_msg("%s: '%s' not read", text, spec.params[i].key);
	devspec_free(&spec);
	return err;
}

static void test_config_parse(void **state)
{
	struct ctx *c = *state;
	struct net_config cfg;
	static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc };

	assert_int_equal(parse(c, "virtio-net,user,hostfwd=tcp:127.0.0.1:8080-:80,"
			       "hostfwd=udp::5353-:53,mac=52:54:00:aa:bb:cc", &cfg), 0);
	assert_int_equal(cfg.type, NET_BACKEND_USER);
	assert_int_equal(cfg.nhostfwd, 2);
	assert_int_equal(cfg.hostfwd[0].host_port, 8080);
	assert_true(cfg.hostfwd[1].udp);
	assert_memory_equal(cfg.mac, mac, 6);
	assert_int_equal(cfg.tap_fd, -1);
	net_config_free(&cfg);

	assert_int_equal(parse(c, "virtio-net", &cfg), 0); /* user by default */
	assert_int_equal(cfg.type, NET_BACKEND_USER);
	assert_int_equal(cfg.mac[5], 0x56);

	static const char *const bad[] = {
		"virtio-net,user,tap=tap0", "virtio-net,user=off", "virtio-net,user=maybe",
		"virtio-net,user,hostfwd=tcp::80", "virtio-net,mac=01:00:00:00:00:01",
		"virtio-net,mac=52:54:00", "virtio-net,tap=",
		"virtio-net,tap=a-name-longer-than-ifnamsiz",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(c, bad[i], &cfg) != -EINVAL)
			fail_msg("accepted %s", bad[i]);
	}
}

/* ---- slirp ----------------------------------------------------------------- */

static bool is_arp_reply_from_gw(const uint8_t *f, size_t len)
{
	return frame_ethertype(f, len) == 0x0806 && len >= 42 && f[21] == 2 &&
	       rd32(f + 28) == GW_IP && rd32(f + 38) == GUEST_IP;
}

static void test_slirp_arp(void **state)
{
	struct ctx *c = *state;
	struct net_config cfg = user_config();
	uint8_t f[128];
	int i;

	start_slirp(c, &cfg);
	send_frame(c, f, frame_arp_request(f, GUEST_IP, GW_IP));
	i = wait_frame(c, is_arp_reply_from_gw);
	assert_true(i >= 0);
	assert_memory_equal(c->frame[i], guest_mac, 6);
}

static bool is_echo_reply(const uint8_t *f, size_t len)
{
	return frame_ip_proto(f, len) == 1 && len >= 42 && f[34] == 0 &&
	       rd32(f + 26) == GW_IP && f[38] == 0x12 && f[39] == 0x34;
}

static void test_slirp_ping_gateway(void **state)
{
	struct ctx *c = *state;
	struct net_config cfg = user_config();
	uint8_t f[128];
	int i;

	start_slirp(c, &cfg);
	send_frame(c, f, frame_arp_request(f, GUEST_IP, GW_IP));
	send_frame(c, f, frame_icmp_echo(f, GUEST_IP, GW_IP, 0x1234, 1));
	i = wait_frame(c, is_echo_reply);
	assert_true(i >= 0);
	assert_int_equal(frame_csum(c->frame[i] + 14, 20, 0), 0xffff); /* valid IP checksum */
}

static bool is_offer(const uint8_t *f, size_t len)
{
	uint32_t y, r, d;

	return frame_dhcp_reply(f, len, &y, &r, &d) == 2;
}

static bool is_ack(const uint8_t *f, size_t len)
{
	uint32_t y, r, d;

	return frame_dhcp_reply(f, len, &y, &r, &d) == 5;
}

static void test_slirp_dhcp(void **state)
{
	struct ctx *c = *state;
	struct net_config cfg = user_config();
	uint8_t f[1024];
	uint32_t yiaddr, router, dns;
	int i;

	start_slirp(c, &cfg);
	send_frame(c, f, frame_dhcp(f, 1, 0xabcd, 0));
	i = wait_frame(c, is_offer);
	assert_true(i >= 0);
	frame_dhcp_reply(c->frame[i], c->len[i], &yiaddr, &router, &dns);
	assert_int_equal(yiaddr, GUEST_IP);
	assert_int_equal(router, GW_IP);
	assert_int_equal(dns, DNS_IP);

	send_frame(c, f, frame_dhcp(f, 3, 0xabcd, yiaddr));
	i = wait_frame(c, is_ack);
	assert_true(i >= 0);
	frame_dhcp_reply(c->frame[i], c->len[i], &yiaddr, &router, &dns);
	assert_int_equal(yiaddr, GUEST_IP);
}

static int listen_loopback(uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
	socklen_t alen = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(s >= 0);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s, 4), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &alen), 0);
	*port = ntohs(a.sin_port);
	return s;
}

static bool is_synack(const uint8_t *f, size_t len)
{
	return frame_ip_proto(f, len) == 6 && len >= 54 && (f[47] & 0x12) == 0x12;
}

/* The guest connects to 10.0.2.2:PORT, which slirp maps to the host's loopback. */
static void test_slirp_tcp_to_host(void **state)
{
	struct ctx *c = *state;
	struct net_config cfg = user_config();
	uint8_t f[256];
	uint16_t port;
	int ls = listen_loopback(&port), i, as;
	uint32_t seq;

	start_slirp(c, &cfg);
	send_frame(c, f, frame_arp_request(f, GUEST_IP, GW_IP));
	send_frame(c, f, frame_tcp(f, GUEST_IP, 40000, GW_IP, port, 1000, 0, 0x02, NULL, 0));
	i = wait_frame(c, is_synack);
	assert_true(i >= 0);
	assert_int_equal(rd32(c->frame[i] + 42), 1001); /* acks our SYN */
	seq = rd32(c->frame[i] + 38);
	send_frame(c, f, frame_tcp(f, GUEST_IP, 40000, GW_IP, port, 1001, seq + 1, 0x18,
				   "hello", 5));
	for (int k = 0; k < 50; k++)
		evloop_run_once(&c->loop, 10);
	as = accept4(ls, NULL, NULL, SOCK_NONBLOCK);
	assert_true(as >= 0);
	char buf[16] = { 0 };
	assert_int_equal(read(as, buf, sizeof(buf)), 5);
	assert_string_equal(buf, "hello");
	close(as);
	close(ls);
}

static bool is_to_guest_port_80(const uint8_t *f, size_t len)
{
	bool arp_for_guest = frame_ethertype(f, len) == 0x0806 && len >= 42 &&
			     rd32(f + 38) == GUEST_IP;
	bool syn = frame_ip_proto(f, len) == 6 && len >= 54 && f[36] == 0 && f[37] == 80 &&
		   (f[47] & 0x02);

	return arp_for_guest || syn;
}

/* A host connection to a forwarded port becomes a SYN to the guest. */
static void test_slirp_hostfwd(void **state)
{
	struct ctx *c = *state;
	struct net_config cfg = user_config();
	uint16_t port;
	int ls = listen_loopback(&port), s;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
	uint8_t f[128];

	close(ls); /* a free port, most likely still free */
	assert_int_equal(net_parse_hostfwd("tcp:127.0.0.1:1-:80", &cfg.hostfwd[0]), 0);
	cfg.hostfwd[0].host_port = port;
	cfg.nhostfwd = 1;
	start_slirp(c, &cfg);
	send_frame(c, f, frame_arp_request(f, GUEST_IP, GW_IP));
	s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	a.sin_port = htons(port);
	assert_true(connect(s, (struct sockaddr *)&a, sizeof(a)) == 0 || errno == EINPROGRESS);
	assert_true(wait_frame(c, is_to_guest_port_80) >= 0);
	close(s);
}

static bool is_udp_to_guest_53(const uint8_t *f, size_t len)
{
	return frame_ip_proto(f, len) == 17 && len >= 42 && f[36] == 0 && f[37] == 53 &&
	       rd32(f + 30) == GUEST_IP;
}

/* A datagram to a forwarded UDP port reaches the guest's port. */
static void test_slirp_hostfwd_udp(void **state)
{
	struct ctx *c = *state;
	struct net_config cfg = user_config();
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
	socklen_t alen = sizeof(a);
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	uint8_t f[128];

	/* A free port: bind one, note it, let it go. */
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &alen), 0);
	close(s);
	assert_int_equal(net_parse_hostfwd("udp:127.0.0.1:1-:53", &cfg.hostfwd[0]), 0);
	cfg.hostfwd[0].host_port = ntohs(a.sin_port);
	cfg.nhostfwd = 1;
	start_slirp(c, &cfg);
	send_frame(c, f, frame_arp_request(f, GUEST_IP, GW_IP)); /* slirp learns our MAC */
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_int_equal(sendto(s, "query", 5, 0, (struct sockaddr *)&a, sizeof(a)), 5);
	assert_true(wait_frame(c, is_udp_to_guest_53) >= 0);
	close(s);
}

/* A port already taken cannot be forwarded: create fails, nothing leaks. */
static void test_slirp_hostfwd_busy(void **state)
{
	struct ctx *c = *state;
	struct net_config cfg = user_config();
	struct net_peer peer = { peer_receive, c };
	uint16_t port;
	int ls = listen_loopback(&port);

	assert_int_equal(net_parse_hostfwd("tcp:127.0.0.1:1-:80", &cfg.hostfwd[0]), 0);
	cfg.hostfwd[0].host_port = port;
	cfg.nhostfwd = 1;
	assert_true(net_slirp_create(&cfg, &peer, &c->loop, &c->log, &c->be) < 0);
	c->be = NULL;
	close(ls);
}

/* No guest buffers: slirp's frames wait, and come on rx_ready in order. */
static void test_slirp_held_frames(void **state)
{
	struct ctx *c = *state;
	struct net_config cfg = user_config();
	uint8_t f[128];

	start_slirp(c, &cfg);
	c->full = true;
	send_frame(c, f, frame_arp_request(f, GUEST_IP, GW_IP));
	send_frame(c, f, frame_icmp_echo(f, GUEST_IP, GW_IP, 0x1234, 1));
	for (int k = 0; k < 10; k++)
		evloop_run_once(&c->loop, 5);
	assert_int_equal(c->nframes, 0);
	c->full = false;
	c->be->ops->rx_ready(c->be);
	assert_int_equal(c->nframes, 2);
	assert_true(is_arp_reply_from_gw(c->frame[0], c->len[0]));
	assert_true(is_echo_reply(c->frame[1], c->len[1]));
}

/* ---- tap (in a network namespace of its own) -------------------------- */

static int set_if(int s, const char *name, uint32_t ip)
{
	struct ifreq ifr = { 0 };
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;

	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(ip);
	if (ioctl(s, SIOCSIFADDR, &ifr) < 0)
		return -errno;
	sin->sin_addr.s_addr = htonl(0xffffff00);
	if (ioctl(s, SIOCSIFNETMASK, &ifr) < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		return -errno;
	ifr.ifr_flags |= IFF_UP;
	return ioctl(s, SIOCSIFFLAGS, &ifr) < 0 ? -errno : 0;
}

static bool is_tap_arp_reply(const uint8_t *f, size_t len)
{
	f += NET_VNET_HDR_LEN;
	len -= len < NET_VNET_HDR_LEN ? len : NET_VNET_HDR_LEN;
	return frame_ethertype(f, len) == 0x0806 && len >= 42 && f[21] == 2 &&
	       rd32(f + 28) == 0x0a090001;
}

/* The child's part: 0 passed, 1 failed, 77 cannot run here. */
static int tap_child(void)
{
	struct ctx *c = calloc(1, sizeof(*c));
	struct net_peer peer = { peer_receive, c };
	uint8_t f[128] = { 0 };
	struct iovec iov[2] = { { f, NET_VNET_HDR_LEN }, { f + 16, 0 } };
	int fd, s, i;

	if (!c || unshare(CLONE_NEWNET) < 0)
		return 77;
	c->log = (struct logger){ LOG_ERROR, 2 };
	fd = net_tap_open("svtest0", &c->log);
	if (fd < 0)
		return 77;
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0 || set_if(s, "svtest0", 0x0a090001) < 0)
		return 1;
	if (evloop_init(&c->loop) ||
	    net_tap_create(fd, net_tap_probe_offloads(fd), &peer, &c->loop, &c->log, &c->be))
		return 1;
	if (!(c->be->tun_offloads & TUN_F_CSUM) || c->be->ops->set_offloads(c->be, TUN_F_CSUM))
		return 1;
	/*
	 * The guest asks who has 10.9.0.1: the host kernel answers through the
	 * tap, and the answer waits while the guest has no buffer.
	 */
	iov[1].iov_len = frame_arp_request(f + 16, 0x0a090002, 0x0a090001);
	c->full = true;
	if (c->be->ops->send(c->be, iov, 2))
		return 1;
	for (int k = 0; k < 20; k++)
		evloop_run_once(&c->loop, 5);
	if (c->nframes)
		return 1;
	c->full = false;
	c->be->ops->rx_ready(c->be);
	if (c->nframes != 1)
		return 1;
	i = wait_frame(c, is_tap_arp_reply);
	if (i < 0 || memcmp(c->frame[i] + NET_VNET_HDR_LEN, guest_mac, 6))
		return 1;
	c->be->ops->destroy(c->be);
	evloop_destroy(&c->loop);
	return 0;
}

static void test_tap_in_netns(void **state)
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(tap_child());
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		skip(); /* no CAP_NET_ADMIN / no /dev/net/tun here */
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hostfwd_parse),
		cmocka_unit_test(test_mac_parse),
		cmocka_unit_test_setup_teardown(test_config_parse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slirp_arp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slirp_ping_gateway, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slirp_dhcp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slirp_tcp_to_host, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slirp_hostfwd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slirp_hostfwd_udp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slirp_hostfwd_busy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slirp_held_frames, setup, teardown),
		cmocka_unit_test(test_tap_in_netns),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
