// SPDX-License-Identifier: GPL-2.0
/*
 * PF_VJCHAN must not break, weaken or endanger the traffic it does not
 * take, and what it delivers must be complete.
 *
 * offload: two network namespaces joined by a veth pair with its default
 * offloads (checksum offload, TSO/GSO, VLAN tag insertion): vjoa in the
 * sender's namespace, vjob in the receiver's, where the test process lives
 * and a channel binds vjob's only receive queue.  Ordinary TCP and UDP
 * sockets send in one namespace and receive in the other.
 *  - Frames that match no filter stay on veth's normal path with their
 *    metadata (checksum state, GSO, VLAN tag): the sockets get every byte,
 *    the channel counts them in rx_stack and copies none (rx_copies 0), a
 *    full ring does not stop them, and rewriting the ring's buffers from
 *    user space cannot inject anything into them.
 *  - Frames that match are complete in the ring: valid IPv4 header, UDP and
 *    TCP checksums, GSO super-frames segmented to the MTU, VLAN tags inline.
 *  - The device's netfilter ingress policy sees a tagged frame as the stack
 *    would, untagged: an `ip saddr` rule drops it.
 *
 * hygiene: one namespace with a veth pair.  Who may bind and change
 * filters (CAP_NET_ADMIN, checked against the socket's opener and the
 * caller), what a failed bind leaves behind (nothing, not even its
 * RLIMIT_MEMLOCK charge), socket filters (refused), and what the socket
 * says when its device goes away (POLLERR | POLLHUP, SO_ERROR ENODEV once).
 *
 * SKIPs without PF_VJCHAN, ip(8), IPv6, 802.1Q VLAN devices, nft(8) or the
 * features a test needs.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/io_uring.h>
#include <linux/time_types.h>
#include <linux/types.h>
#include <linux/vjchan.h>

#include "../../kselftest_harness.h"
#include "vjchan_lib.h"

#define DEV_A		"vjoa"		/* the sender's end, in nsa */
#define DEV_B		"vjob"		/* the receiver's end, in nsb: the channel's */
#define VID		5
#define VDEV_A		"vjoa.5"
#define VDEV_B		"vjob.5"
#define MAC_A		"02:98:00:00:00:01"
#define MAC_B		"02:98:00:00:00:02"
#define ADDR_A4		"10.98.0.1"
#define ADDR_B4		"10.98.0.2"
#define ADDR_A6		"fd98::1"
#define ADDR_B6		"fd98::2"
#define VADDR_A		"10.98.5.1"	/* the sender on the VLAN */
#define VADDR_A2	"10.98.5.3"	/* a second sender on the VLAN */
#define VADDR_B		"10.98.5.2"
#define FORGED_SADDR	"10.98.0.66"	/* the source of forged datagrams */
#define PORT_CH		7100		/* UDP: the channel's */
#define PORT_STACK	7101		/* UDP: an ordinary socket's */
#define PORT_TCP	7102		/* TCP: an ordinary connection */
#define PORT_TCP_CH	7103		/* TCP: a connection whose data the channel takes */
#define FORGED_SPORT	6666
#define MTU		1500
#define WAIT_MS		3000		/* for what veth does at once */
#define FRAME_MAX	2048

static const __u8 mac_a[ETH_ALEN] = { 0x02, 0x98, 0, 0, 0, 0x01 };
static const __u8 mac_b[ETH_ALEN] = { 0x02, 0x98, 0, 0, 0, 0x02 };

FIXTURE(offload)
{
	int nsa, nsb;		/* network namespaces: the sender's, the receiver's */
	int ifa, ifb;		/* vjoa in nsa, vjob in nsb */
	int vifa, vifb;		/* vjoa.5 and vjob.5 once vlan_setup() made them */
	int have_ipv6;
	int fd;			/* the channel socket, in nsb, unbound */
	struct vj_ring r;
	__u64 features;
};

/* ------------------------------------------------------------------ */
/* Namespaces, sockets, payloads                                       */

static int enter_ns(int ns)
{
	return setns(ns, CLONE_NEWNET);
}

/* Runs a shell command in network namespace @ns; the caller stays in nsb. */
static __printf(3, 4) int run_ns(struct _test_data_offload *self, int ns,
				 const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int ret;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (enter_ns(ns))
		return -1;
	ret = run("%s", cmd);
	if (enter_ns(self->nsb))
		return -1;
	return ret;
}

/* A socket created in network namespace @ns (it stays there). */
static int socket_ns(struct _test_data_offload *self, int ns, int domain, int type)
{
	int fd, err;

	if (enter_ns(ns))
		return -1;
	fd = socket(domain, type | SOCK_CLOEXEC, 0);
	err = errno;
	if (enter_ns(self->nsb)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	errno = err;
	return fd;
}

static int ifindex_ns(struct _test_data_offload *self, int ns, const char *name)
{
	int idx;

	if (enter_ns(ns))
		return 0;
	idx = if_nametoindex(name);
	if (enter_ns(self->nsb))
		return 0;
	return idx;
}

/* Whether offload @feature is active on @dev of @ns (see dev_feature_active()). */
static int feature_ns(struct _test_data_offload *self, int ns, const char *dev,
		      const char *feature)
{
	int ret;

	if (enter_ns(ns))
		return -1;
	ret = dev_feature_active(dev, feature);
	if (enter_ns(self->nsb))
		return -1;
	return ret;
}

static socklen_t sockaddr_of(int family, const char *addr, __u16 port,
			     struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		if (addr)
			inet_pton(AF_INET6, addr, &s6->sin6_addr);
		return sizeof(*s6);
	}
	((struct sockaddr_in *)ss)->sin_family = AF_INET;
	((struct sockaddr_in *)ss)->sin_port = htons(port);
	if (addr)
		inet_pton(AF_INET, addr, &((struct sockaddr_in *)ss)->sin_addr);
	return sizeof(struct sockaddr_in);
}

static __u16 local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		return 0;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* A datagram's payload: seq (be32), length (be16), then a pattern of seq. */
static void fill_payload(__u8 *p, size_t len, __u32 seq)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (__u8)(seq * 29u + i * 7u + 3u);
	if (len >= 6) {
		p[0] = seq >> 24;
		p[1] = seq >> 16;
		p[2] = seq >> 8;
		p[3] = seq;
		p[4] = len >> 8;
		p[5] = len;
	}
}

/* Byte @i of a TCP stream: no period a misplaced segment could hide in. */
static __u8 stream_byte(size_t i)
{
	__u32 x = (__u32)i * 2654435761u;

	return (__u8)((x ^ (x >> 15)) >> 8);
}

static void fill_stream(__u8 *p, size_t off, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = stream_byte(off + i);
}

static bool stream_matches(const __u8 *p, size_t off, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != stream_byte(off + i))
			return false;
	return true;
}

/* Runs each of @n commands in @ns, silently if @quiet; 0 if all exited 0. */
static int run_all(struct _test_data_offload *self, int ns, const char *const *cmds, int n,
		   bool quiet)
{
	int i;

	for (i = 0; i < n; i++)
		if (run_ns(self, ns, "%s%s", cmds[i], quiet ? " >/dev/null 2>&1" : ""))
			return -1;
	return 0;
}

static const char *const setup_b[] = {
	"ip link set lo up",
	"ip link set " DEV_B " up",
	"ip addr add " ADDR_B4 "/24 dev " DEV_B,
	"ip neigh replace " ADDR_A4 " lladdr " MAC_A " dev " DEV_B " nud permanent",
};

static const char *const setup_a[] = {
	"ip link set lo up",
	"ip link set " DEV_A " up",
	"ip addr add " ADDR_A4 "/24 dev " DEV_A,
	"ip neigh replace " ADDR_B4 " lladdr " MAC_B " dev " DEV_A " nud permanent",
};

/* IPv6 with static neighbours and no DAD: nothing to wait for. */
static const char *const setup6_b[] = {
	"ip addr add " ADDR_B6 "/64 dev " DEV_B " nodad",
	"ip -6 neigh replace " ADDR_A6 " lladdr " MAC_A " dev " DEV_B " nud permanent",
};

static const char *const setup6_a[] = {
	"ip addr add " ADDR_A6 "/64 dev " DEV_A " nodad",
	"ip -6 neigh replace " ADDR_B6 " lladdr " MAC_B " dev " DEV_A " nud permanent",
};

static const char *const vlan_b[] = {
	"ip link set " VDEV_B " up",
	"ip addr add " VADDR_B "/24 dev " VDEV_B,
	"ip neigh replace " VADDR_A " lladdr " MAC_A " dev " VDEV_B " nud permanent",
	"ip neigh replace " VADDR_A2 " lladdr " MAC_A " dev " VDEV_B " nud permanent",
};

static const char *const vlan_a[] = {
	"ip link add link " DEV_A " name " VDEV_A " type vlan id 5",
	"ip link set " VDEV_A " up",
	"ip addr add " VADDR_A "/24 dev " VDEV_A,
	"ip addr add " VADDR_A2 "/24 dev " VDEV_A,
	"ip neigh replace " VADDR_B " lladdr " MAC_B " dev " VDEV_A " nud permanent",
};

/* ------------------------------------------------------------------ */

FIXTURE_SETUP(offload)
{
	char nspath[64], peer[192];
	int fd;

	self->fd = -1;
	self->nsa = -1;
	self->nsb = -1;
	memset(&self->r, 0, sizeof(self->r));

	fd = vj_open();
	if (fd < 0 && errno == EAFNOSUPPORT)
		SKIP(return, "PF_VJCHAN not supported (CONFIG_VJCHAN=n)");
	ASSERT_LE(0, fd) TH_LOG("socket: %s", strerror(errno));
	close(fd);
	if (run("ip -V >/dev/null 2>&1"))
		SKIP(return, "ip (iproute2) not found");

	if (unshare(CLONE_NEWNET)) {
		if (errno == EPERM)
			SKIP(return, "cannot create a network namespace (not root?)");
		ASSERT_EQ(0, -errno) TH_LOG("unshare: %s", strerror(errno));
	}
	self->nsa = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, self->nsa);
	ASSERT_EQ(0, unshare(CLONE_NEWNET)) TH_LOG("unshare: %s", strerror(errno));
	self->nsb = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, self->nsb);

	/* One queue each; vjoa goes to nsa. */
	snprintf(nspath, sizeof(nspath), "/proc/%d/fd/%d", getpid(), self->nsa);
	snprintf(peer, sizeof(peer), "name %s address %s numtxqueues 1 numrxqueues 1 netns %s",
		 DEV_A, MAC_A, nspath);
	if (run("ip link add %s address %s numtxqueues 1 numrxqueues 1 type veth peer %s",
		DEV_B, MAC_B, peer))
		SKIP(return, "cannot create a veth pair across namespaces (CONFIG_VETH=n?)");
	ASSERT_EQ(0, run_all(self, self->nsb, setup_b, ARRAY_SIZE(setup_b), false));
	ASSERT_EQ(0, run_all(self, self->nsa, setup_a, ARRAY_SIZE(setup_a), false));
	self->have_ipv6 = !run_all(self, self->nsb, setup6_b, ARRAY_SIZE(setup6_b), true) &&
			  !run_all(self, self->nsa, setup6_a, ARRAY_SIZE(setup6_a), true);

	self->ifb = if_nametoindex(DEV_B);
	self->ifa = ifindex_ns(self, self->nsa, DEV_A);
	ASSERT_NE(0, self->ifb);
	ASSERT_NE(0, self->ifa);

	self->fd = vj_open();
	ASSERT_LE(0, self->fd) TH_LOG("socket: %s", strerror(errno));
	self->features = vj_read_features(self->fd);
}

FIXTURE_TEARDOWN(offload)
{
	vj_ring_unmap(&self->r);
	if (self->fd >= 0)
		close(self->fd);
	/* The pair goes with either end; the namespaces with their last user. */
	if (self->nsb >= 0 && !enter_ns(self->nsb))
		run("ip link del " DEV_B " >/dev/null 2>&1");
	if (self->nsa >= 0)
		close(self->nsa);
	if (self->nsb >= 0)
		close(self->nsb);
}

/* Binds the channel to vjob queue 0 with filters @f[0..n) and maps the ring. */
static void channel(struct __test_metadata *_metadata, struct _test_data_offload *self,
		    const struct vj_filter *f, int n)
{
	int i;

	ASSERT_EQ(0, vj_bind_queue(self->fd, self->ifb, 0))
		TH_LOG("bind %s queue 0: %s", DEV_B, strerror(errno));
	for (i = 0; i < n; i++)
		ASSERT_EQ(0, vj_filter_op(self->fd, VJ_ADD_FILTER, &f[i]))
			TH_LOG("filter %d: %s", i, strerror(errno));
	ASSERT_EQ(0, vj_ring_map(self->fd, &self->r)) TH_LOG("map: %s", strerror(errno));
	ASSERT_EQ(0U, vj_ring_avail(&self->r));
}

static void stats(struct __test_metadata *_metadata, struct _test_data_offload *self,
		  struct vj_statistics *st)
{
	ASSERT_EQ(0, vj_read_stats(self->fd, st)) TH_LOG("VJ_STATISTICS: %s", strerror(errno));
}

/* The sender's offloads are the defaults the tests are about. */
static void expect_default_offloads(struct __test_metadata *_metadata,
				    struct _test_data_offload *self, bool tso)
{
	EXPECT_EQ(1, feature_ns(self, self->nsa, DEV_A, "tx-checksum-ip-generic"))
		TH_LOG("%s does not offload checksums: the test proves less", DEV_A);
	EXPECT_EQ(1, tso ? feature_ns(self, self->nsa, DEV_A, "tx-tcp-segmentation") : 1)
		TH_LOG("%s does not do TSO: the test proves less", DEV_A);
}

/* Makes vjoa.5 and vjob.5 (VLAN 5) with addresses; false without 802.1Q support. */
static bool vlan_setup(struct __test_metadata *_metadata, struct _test_data_offload *self)
{
	if (run("ip link add link " DEV_B " name " VDEV_B " type vlan id 5 >/dev/null 2>&1"))
		return false;
	EXPECT_EQ(0, run_all(self, self->nsb, vlan_b, ARRAY_SIZE(vlan_b), false));
	EXPECT_EQ(0, run_all(self, self->nsa, vlan_a, ARRAY_SIZE(vlan_a), false));
	self->vifb = if_nametoindex(VDEV_B);
	self->vifa = ifindex_ns(self, self->nsa, VDEV_A);
	EXPECT_NE(0, self->vifb);
	EXPECT_NE(0, self->vifa);
	/* What the VLAN tests are about: veth inserts the tag "in hardware". */
	EXPECT_EQ(1, feature_ns(self, self->nsa, DEV_A, "tx-vlan-hw-insert"))
		TH_LOG("%s does not offload VLAN tags", DEV_A);
	return self->vifa && self->vifb;
}

/* ------------------------------------------------------------------ */
/* UDP through sockets                                                 */

static const size_t udp4_sizes[] = { 6, 18, 64, 512, 1000, 1400, 1472 };
/* 1472 bytes over IPv6 are fragmented: fragments never match a port filter. */
static const size_t udp6_sizes[] = { 6, 18, 64, 512, 1000, 1400, 1452, 1472 };
static const size_t udp6_ring_sizes[] = { 6, 18, 64, 512, 1000, 1400, 1452 };

/* A UDP socket in @ns, bound to @addr:@port (@port 0: any). */
static int udp_socket_ns(struct __test_metadata *_metadata, struct _test_data_offload *self,
			 int ns, int family, const char *addr, __u16 port)
{
	struct sockaddr_storage ss;
	socklen_t len = sockaddr_of(family, addr, port, &ss);
	int fd = socket_ns(self, ns, family, SOCK_DGRAM);

	EXPECT_LE(0, fd) TH_LOG("socket: %s", strerror(errno));
	if (fd < 0)
		return -1;
	EXPECT_EQ(0, bind(fd, (struct sockaddr *)&ss, len))
		TH_LOG("bind %s:%u: %s", addr ? addr : "*", port, strerror(errno));
	return fd;
}

static int udp_connect(int fd, int family, const char *addr, __u16 port)
{
	struct sockaddr_storage ss;
	socklen_t len = sockaddr_of(family, addr, port, &ss);

	return connect(fd, (struct sockaddr *)&ss, len);
}

/*
 * Sends datagrams of each of @sizes, @rounds times, from @src in nsa to a
 * socket on @dst:@port in nsb, one at a time, and checks that each arrives
 * whole and unchanged, on interface @ifindex.  Returns how many it sent.
 */
static __u32 udp_to_socket(struct __test_metadata *_metadata, struct _test_data_offload *self,
			   int family, const char *src, const char *dst, __u16 port,
			   int ifindex, const size_t *sizes, size_t nsizes, int rounds)
{
	int one = 1, tx, rx;
	__u8 buf[2048], exp[2048];
	__u32 seq = 0;
	size_t k;

	rx = udp_socket_ns(_metadata, self, self->nsb, family, dst, port);
	tx = udp_socket_ns(_metadata, self, self->nsa, family, src, 0);
	if (rx < 0 || tx < 0)
		return 0;
	EXPECT_EQ(0, setsockopt(rx, family == AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP,
				family == AF_INET6 ? IPV6_RECVPKTINFO : IP_PKTINFO, &one,
				sizeof(one)));
	EXPECT_EQ(0, udp_connect(tx, family, dst, port)) TH_LOG("connect: %s", strerror(errno));

	for (; rounds > 0; rounds--) {
		for (k = 0; k < nsizes; k++, seq++) {
			struct pollfd pfd = { .fd = rx, .events = POLLIN };
			char ctl[256];
			struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
			struct msghdr msg = {
				.msg_iov = &iov,
				.msg_iovlen = 1,
				.msg_control = ctl,
				.msg_controllen = sizeof(ctl),
			};
			struct cmsghdr *c;
			int got_if = 0;
			ssize_t n;

			fill_payload(exp, sizes[k], seq);
			ASSERT_EQ((ssize_t)sizes[k], send(tx, exp, sizes[k], 0))
				TH_LOG("send %zu: %s", sizes[k], strerror(errno));
			ASSERT_EQ(1, poll(&pfd, 1, WAIT_MS))
				TH_LOG("datagram %u of %zu bytes did not arrive", seq, sizes[k]);
			n = recvmsg(rx, &msg, MSG_DONTWAIT);
			ASSERT_EQ((ssize_t)sizes[k], n) TH_LOG("datagram %u", seq);
			EXPECT_EQ(0, memcmp(exp, buf, sizes[k]))
				TH_LOG("datagram %u of %zu bytes differs", seq, sizes[k]);
			for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
				if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO)
					got_if = ((struct in_pktinfo *)CMSG_DATA(c))->ipi_ifindex;
				if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO)
					got_if = ((struct in6_pktinfo *)CMSG_DATA(c))->ipi6_ifindex;
			}
			EXPECT_EQ(ifindex, got_if) TH_LOG("datagram %u came in on the wrong device",
							  seq);
		}
	}
	close(tx);
	close(rx);
	return seq;
}

/*
 * Checks a UDP frame taken from the ring: from @src:@sport to @dst:@dport,
 * tagged with VLAN 5 inline if @vlan, at most an MTU long, with complete,
 * valid checksums and payload @exp of @size bytes.
 */
static void check_udp_frame(struct __test_metadata *_metadata, const __u8 *f, __u32 len,
			    int family, bool vlan, const char *src, __u16 sport,
			    const char *dst, __u16 dport, const __u8 *exp, size_t size)
{
	__u8 a[16], b[16];
	struct frame_info fi;
	size_t alen = family == AF_INET6 ? 16 : 4;

	ASSERT_EQ(0, frame_parse(f, len, &fi)) TH_LOG("frame of %u bytes: %s", len, fi.err);
	EXPECT_EQ(0, memcmp(f, mac_b, ETH_ALEN));
	EXPECT_EQ(0, memcmp(f + ETH_ALEN, mac_a, ETH_ALEN));
	if (vlan) {
		EXPECT_EQ(ETH_P_8021Q, fi.tpid) TH_LOG("no VLAN tag in the frame");
		EXPECT_EQ(VID, fi.tci & 0xfff);
	} else {
		EXPECT_EQ(0, fi.tpid) TH_LOG("a VLAN tag in an untagged frame");
	}
	EXPECT_GE((__u32)(ETH_HLEN + (vlan ? 4 : 0) + MTU), len);
	ASSERT_EQ(family, fi.family);
	ASSERT_EQ(IPPROTO_UDP, fi.proto);
	inet_pton(family, src, a);
	inet_pton(family, dst, b);
	EXPECT_EQ(0, memcmp(fi.ip + (family == AF_INET6 ? 8 : 12), a, alen));
	EXPECT_EQ(0, memcmp(fi.ip + (family == AF_INET6 ? 24 : 16), b, alen));
	EXPECT_EQ(sport, fi.sport);
	EXPECT_EQ(dport, fi.dport);
	EXPECT_EQ(0, frame_csum_check(&fi))
		TH_LOG("datagram of %zu bytes: %s not complete and valid", size, fi.err);
	ASSERT_EQ(size, fi.paylen);
	EXPECT_EQ(0, memcmp(exp, fi.payload, size)) TH_LOG("payload of %zu bytes differs", size);
}

/*
 * Sends each of @sizes from @src in nsa to @dst:PORT_CH, one at a time,
 * and checks each frame the ring receives (check_udp_frame()).  A socket
 * on @dst:PORT_CH checks that none of them also reaches the stack.
 */
static void udp_to_ring(struct __test_metadata *_metadata, struct _test_data_offload *self,
			int family, bool vlan, const char *src, const char *dst,
			const size_t *sizes, size_t nsizes, int rounds)
{
	struct vj_statistics st;
	struct sockaddr_storage to;
	socklen_t tolen = sockaddr_of(family, dst, PORT_CH, &to);
	__u8 exp[2048];
	__u32 seq = 0, len;
	const __u8 *f;
	__u16 sport;
	size_t k;
	int tx, catcher;

	catcher = udp_socket_ns(_metadata, self, self->nsb, family, dst, PORT_CH);
	tx = udp_socket_ns(_metadata, self, self->nsa, family, src, 0);
	ASSERT_LE(0, catcher);
	ASSERT_LE(0, tx);
	sport = local_port(tx);
	for (; rounds > 0; rounds--) {
		for (k = 0; k < nsizes; k++, seq++) {
			fill_payload(exp, sizes[k], seq);
			ASSERT_EQ((ssize_t)sizes[k], sendto(tx, exp, sizes[k], 0,
							    (struct sockaddr *)&to, tolen))
				TH_LOG("send: %s", strerror(errno));
			ASSERT_EQ(1U, vj_ring_wait(&self->r, 1, WAIT_MS))
				TH_LOG("datagram %u of %zu bytes not in the ring", seq, sizes[k]);
			f = vj_ring_frame(&self->r, self->r.next, &len);
			ASSERT_NE(NULL, f) TH_LOG("descriptor of index %u out of bounds",
						  self->r.next);
			check_udp_frame(_metadata, f, len, family, vlan, src, sport, dst, PORT_CH,
					exp, sizes[k]);
			self->r.next++;
			vj_ring_release(&self->r);
		}
	}
	close(tx);
	usleep(50 * 1000);
	EXPECT_EQ(0U, vj_ring_avail(&self->r));
	errno = 0;
	EXPECT_EQ(-1, recv(catcher, exp, sizeof(exp), MSG_DONTWAIT))
		TH_LOG("a datagram the channel took also reached the stack");
	EXPECT_EQ(EAGAIN, errno);
	close(catcher);
	stats(_metadata, self, &st);
	EXPECT_EQ(seq, st.rx_packets);
	EXPECT_EQ(0U, st.rx_bad_length);
	EXPECT_EQ(0U, st.rx_ring_full);
}

/* After traffic for the stack only: counted in rx_stack, never copied. */
static void expect_stack_not_copied(struct __test_metadata *_metadata,
				    struct _test_data_offload *self, __u32 at_least)
{
	struct vj_statistics st;

	stats(_metadata, self, &st);
	EXPECT_LE((__u64)at_least, st.rx_stack);
	EXPECT_EQ(0U, st.rx_copies) TH_LOG("veth copied %llu frames for the stack",
					   (unsigned long long)st.rx_copies);
	EXPECT_EQ(0U, st.rx_packets);
	EXPECT_EQ(0U, st.rx_bad_length);
	EXPECT_EQ(0U, vj_ring_avail(&self->r));
}

/* UDP/IPv4 with checksum offload, to a port no filter takes: byte-exact, no copy. */
TEST_F(offload, udp4_nonmatching_reaches_socket)
{
	struct vj_filter f = vj_port_filter(AF_INET, IPPROTO_UDP, PORT_CH);
	__u32 n;

	channel(_metadata, self, &f, 1);
	expect_default_offloads(_metadata, self, false);
	n = udp_to_socket(_metadata, self, AF_INET, ADDR_A4, ADDR_B4, PORT_STACK, self->ifb,
			  udp4_sizes, ARRAY_SIZE(udp4_sizes), 3);
	expect_stack_not_copied(_metadata, self, n);
}

/* The same over IPv6, whose UDP checksum is mandatory; 1472 bytes go in fragments. */
TEST_F(offload, udp6_nonmatching_reaches_socket)
{
	struct vj_filter f = vj_port_filter(AF_INET6, IPPROTO_UDP, PORT_CH);
	__u32 n;

	if (!self->have_ipv6)
		SKIP(return, "no IPv6");
	channel(_metadata, self, &f, 1);
	expect_default_offloads(_metadata, self, false);
	n = udp_to_socket(_metadata, self, AF_INET6, ADDR_A6, ADDR_B6, PORT_STACK, self->ifb,
			  udp6_sizes, ARRAY_SIZE(udp6_sizes), 3);
	expect_stack_not_copied(_metadata, self, n);
}

/* UDP/IPv4 to the channel's port: in the ring with complete, valid checksums. */
TEST_F(offload, udp4_match_ring_checksums_valid)
{
	struct vj_filter f = vj_port_filter(AF_INET, IPPROTO_UDP, PORT_CH);

	channel(_metadata, self, &f, 1);
	expect_default_offloads(_metadata, self, false);
	udp_to_ring(_metadata, self, AF_INET, false, ADDR_A4, ADDR_B4, udp4_sizes,
		    ARRAY_SIZE(udp4_sizes), 2);
}

/* The same over IPv6 (where a receiver must verify the UDP checksum). */
TEST_F(offload, udp6_match_ring_checksums_valid)
{
	struct vj_filter f = vj_port_filter(AF_INET6, IPPROTO_UDP, PORT_CH);

	if (!self->have_ipv6)
		SKIP(return, "no IPv6");
	channel(_metadata, self, &f, 1);
	expect_default_offloads(_metadata, self, false);
	udp_to_ring(_metadata, self, AF_INET6, false, ADDR_A6, ADDR_B6, udp6_ring_sizes,
		    ARRAY_SIZE(udp6_ring_sizes), 2);
}

/*
 * A full ring holds back the channel's frames only: with every buffer held
 * by user space, other UDP flows still reach their sockets (no buffer is
 * taken for them), and a matching datagram is dropped and counted.
 */
TEST_F(offload, ring_full_nonmatching_still_flows)
{
	struct vj_filter f = vj_port_filter(AF_INET, IPPROTO_UDP, PORT_CH);
	struct sockaddr_storage to;
	struct vj_statistics st;
	socklen_t tolen;
	__u8 buf[64];
	__u32 i, n;
	int tx;

	channel(_metadata, self, &f, 1);
	tx = udp_socket_ns(_metadata, self, self->nsa, AF_INET, ADDR_A4, 0);
	ASSERT_LE(0, tx);
	/* Unconnected: an ICMP error from the stack, if one came, would not stop it. */
	tolen = sockaddr_of(AF_INET, ADDR_B4, PORT_CH, &to);
	for (i = 0; i < self->r.off.nr_bufs; i++) {
		fill_payload(buf, sizeof(buf), i);
		ASSERT_EQ((ssize_t)sizeof(buf), sendto(tx, buf, sizeof(buf), 0,
						       (struct sockaddr *)&to, tolen));
		if (i % 32 == 31)	/* veth's backlog is not what is tested here */
			vj_ring_wait(&self->r, i + 1, WAIT_MS);
	}
	ASSERT_EQ(self->r.off.nr_bufs, vj_ring_wait(&self->r, self->r.off.nr_bufs, WAIT_MS));

	n = udp_to_socket(_metadata, self, AF_INET, ADDR_A4, ADDR_B4, PORT_STACK, self->ifb,
			  udp4_sizes, ARRAY_SIZE(udp4_sizes), 2);
	stats(_metadata, self, &st);
	EXPECT_LE((__u64)n, st.rx_stack);
	EXPECT_EQ(0U, st.rx_copies);
	EXPECT_EQ(0U, st.rx_ring_full) TH_LOG("frames for the stack took ring buffers");

	/* The channel's own frames are what a full ring drops. */
	ASSERT_EQ((ssize_t)sizeof(buf), sendto(tx, buf, sizeof(buf), 0, (struct sockaddr *)&to,
					       tolen));
	usleep(100 * 1000);
	stats(_metadata, self, &st);
	EXPECT_EQ(1U, st.rx_ring_full);
	EXPECT_EQ(self->r.off.nr_bufs, st.rx_packets);
	close(tx);
}

/* ------------------------------------------------------------------ */
/* TCP through sockets                                                 */

/* A listening TCP socket in nsb on @port. */
static int tcp_listen_b(struct __test_metadata *_metadata, struct _test_data_offload *self,
			int family, __u16 port)
{
	struct sockaddr_storage ss;
	socklen_t len = sockaddr_of(family, NULL, port, &ss);
	int one = 1, fd;

	fd = socket_ns(self, self->nsb, family, SOCK_STREAM);
	EXPECT_LE(0, fd);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	EXPECT_EQ(0, bind(fd, (struct sockaddr *)&ss, len)) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(0, listen(fd, 4));
	return fd;
}

/*
 * Connects from nsa to @dst:@port and accepts in nsb: the handshake crosses
 * the bound queue.  A handshake that the channel breaks fails within
 * WAIT_MS instead of waiting for TCP's retries.  Returns the two ends.
 */
static void tcp_pair(struct __test_metadata *_metadata, struct _test_data_offload *self,
		     int family, const char *dst, __u16 port, int *client, int *server)
{
	struct pollfd pfd;
	struct sockaddr_storage ss;
	socklen_t len = sockaddr_of(family, dst, port, &ss);
	int lfd, c, s, err = 0;
	socklen_t elen = sizeof(err);

	*client = -1;
	*server = -1;
	lfd = tcp_listen_b(_metadata, self, family, port);
	ASSERT_LE(0, lfd);
	c = socket_ns(self, self->nsa, family, SOCK_STREAM | SOCK_NONBLOCK);
	ASSERT_LE(0, c);
	ASSERT_TRUE(!connect(c, (struct sockaddr *)&ss, len) || errno == EINPROGRESS)
		TH_LOG("connect: %s", strerror(errno));
	pfd.fd = c;
	pfd.events = POLLOUT;
	ASSERT_EQ(1, poll(&pfd, 1, WAIT_MS)) TH_LOG("TCP handshake did not complete");
	ASSERT_EQ(0, getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &elen));
	ASSERT_EQ(0, err) TH_LOG("connect: %s", strerror(err));
	pfd.fd = lfd;
	pfd.events = POLLIN;
	ASSERT_EQ(1, poll(&pfd, 1, WAIT_MS)) TH_LOG("nothing to accept");
	s = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	ASSERT_LE(0, s) TH_LOG("accept: %s", strerror(errno));
	close(lfd);
	*client = c;
	*server = s;
}

struct tcp_tx {
	int fd;			/* blocking */
	size_t total;
	size_t sent;
	int err;
};

static void *tcp_sender(void *arg)
{
	struct tcp_tx *t = arg;
	__u8 buf[65536];
	ssize_t n;
	size_t len;

	while (t->sent < t->total) {
		len = t->total - t->sent < sizeof(buf) ? t->total - t->sent : sizeof(buf);
		fill_stream(buf, t->sent, len);
		n = send(t->fd, buf, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			t->err = errno;
			return NULL;
		}
		t->sent += n;
	}
	if (shutdown(t->fd, SHUT_WR))
		t->err = errno;
	return NULL;
}

/*
 * A bulk transfer of @total bytes from nsa to an ordinary socket in nsb,
 * with TSO: every byte arrives in order, unchanged, within a minute.
 */
static void tcp_bulk(struct __test_metadata *_metadata, struct _test_data_offload *self,
		     int family, const char *dst, size_t total)
{
	struct timeval tv = { .tv_sec = 20 };
	__u64 end = now_ns() + 60 * 1000000000ULL, t0 = now_ns();
	struct tcp_tx t = { 0 };
	static __u8 buf[65536];
	size_t got = 0;
	pthread_t th;
	int c, s;

	tcp_pair(_metadata, self, family, dst, PORT_TCP, &c, &s);
	ASSERT_EQ(0, fcntl(c, F_SETFL, 0));
	/* A receiver that gives up must not leave the sender blocked for ever. */
	setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	t.fd = c;
	t.total = total;
	ASSERT_EQ(0, pthread_create(&th, NULL, tcp_sender, &t));
	while (now_ns() < end) {
		struct pollfd pfd = { .fd = s, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, 5000) != 1)
			break;
		n = recv(s, buf, sizeof(buf), MSG_DONTWAIT);
		if (n <= 0)
			break;
		if (!stream_matches(buf, got, n)) {
			EXPECT_TRUE(0) TH_LOG("stream differs in bytes %zu..%zu", got, got + n);
			break;
		}
		got += n;
	}
	close(s);
	pthread_join(th, NULL);
	close(c);
	TH_LOG("%zu of %zu bytes in %llu ms", got, total,
	       (unsigned long long)((now_ns() - t0) / 1000000));
	EXPECT_EQ(total, got);
	EXPECT_EQ(0, t.err) TH_LOG("sender: %s", strerror(t.err));
}

/* 4 MiB over TCP/IPv4 with TSO, past a channel that filters other ports. */
TEST_F_TIMEOUT(offload, tcp4_bulk_nonmatching, 120)
{
	struct vj_filter f[2] = {
		vj_port_filter(AF_INET, IPPROTO_UDP, PORT_CH),
		vj_port_filter(AF_INET, IPPROTO_TCP, PORT_TCP_CH),
	};

	channel(_metadata, self, f, 2);
	expect_default_offloads(_metadata, self, true);
	tcp_bulk(_metadata, self, AF_INET, ADDR_B4, 4 << 20);
	expect_stack_not_copied(_metadata, self, 1);
}

/* 1 MiB over TCP/IPv6 likewise. */
TEST_F_TIMEOUT(offload, tcp6_bulk_nonmatching, 120)
{
	struct vj_filter f[2] = {
		vj_port_filter(AF_INET6, IPPROTO_UDP, PORT_CH),
		vj_port_filter(AF_INET6, IPPROTO_TCP, PORT_TCP_CH),
	};

	if (!self->have_ipv6)
		SKIP(return, "no IPv6");
	channel(_metadata, self, f, 2);
	expect_default_offloads(_metadata, self, true);
	tcp_bulk(_metadata, self, AF_INET6, ADDR_B6, 1 << 20);
	expect_stack_not_copied(_metadata, self, 1);
}

#define SEG_MAX		1024	/* data frames kept by tcp_to_ring() */

struct seg {
	__u32 seq;
	__u32 len;
	__u8 *data;
};

static int seg_cmp(const void *a, const void *b)
{
	const struct seg *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/*
 * A TCP connection to PORT_TCP_CH is established through the stack; then a
 * filter gives its data to the channel and the client sends with TSO (its
 * first flight is one GSO super-frame of up to initcwnd segments).  Since
 * the stack sees nothing, the client retransmits.  The ring must get
 * segments of at most an MTU, each with a valid TCP checksum, whose
 * payloads, placed by sequence number, are a gapless prefix of the stream.
 */
static void tcp_to_ring(struct __test_metadata *_metadata, struct _test_data_offload *self,
			int family, const char *dst)
{
	struct vj_filter f = vj_port_filter(family, IPPROTO_TCP, PORT_TCP_CH);
	size_t total = 256 << 10, queued = 0, covered, maxlen = 0;
	__u64 end, last = 0;
	struct vj_statistics st;
	struct seg *segs;
	__u32 nseg = 0, frames = 0, base, i, len;
	__u8 *buf;
	int c, s;

	channel(_metadata, self, NULL, 0);
	expect_default_offloads(_metadata, self, true);
	/*
	 * A first flight of 40 segments (not the default 10), if the routes
	 * take it: the sender's congestion window and the receiver's window.
	 */
	if (run_ns(self, self->nsa, "ip %s route add %s dev " DEV_A " initcwnd 40",
		   family == AF_INET6 ? "-6" : "-4", dst) ||
	    run("ip %s route add %s dev " DEV_B " initrwnd 40", family == AF_INET6 ? "-6" : "-4",
		family == AF_INET6 ? ADDR_A6 : ADDR_A4))
		TH_LOG("initcwnd/initrwnd 40 refused: the first flight is the default one");
	tcp_pair(_metadata, self, family, dst, PORT_TCP_CH, &c, &s);
	ASSERT_EQ(0, vj_filter_op(self->fd, VJ_ADD_FILTER, &f));

	buf = malloc(total);
	segs = calloc(SEG_MAX, sizeof(*segs));
	ASSERT_NE(NULL, buf);
	ASSERT_NE(NULL, segs);
	fill_stream(buf, 0, total);
	while (queued < total) {
		ssize_t n = send(c, buf + queued, total - queued, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n <= 0)
			break;
		queued += n;
	}
	ASSERT_LT(0U, queued) TH_LOG("send: %s", strerror(errno));

	/* Until a second passes without a frame (retransmits come slower). */
	end = now_ns() + 8000000000ULL;
	while (now_ns() < end && (!last || now_ns() - last < 1000000000ULL)) {
		struct frame_info fi;
		const __u8 *fr;

		if (!vj_ring_avail(&self->r)) {
			usleep(1000);
			continue;
		}
		last = now_ns();
		fr = vj_ring_frame(&self->r, self->r.next, &len);
		ASSERT_NE(NULL, fr) TH_LOG("descriptor of index %u out of bounds", self->r.next);
		frames++;
		if (len > maxlen)
			maxlen = len;
		EXPECT_GE((__u32)(ETH_HLEN + MTU), len) TH_LOG("frame %u: %u bytes", frames, len);
		ASSERT_EQ(0, frame_parse(fr, len, &fi))
			TH_LOG("frame %u (%u bytes): %s", frames, len, fi.err);
		ASSERT_EQ(family, fi.family);
		ASSERT_EQ(IPPROTO_TCP, fi.proto);
		EXPECT_EQ(PORT_TCP_CH, fi.dport);
		EXPECT_EQ(0, frame_csum_check(&fi))
			TH_LOG("frame %u (%u bytes, seq %u): %s", frames, len, fi.seq, fi.err);
		if (fi.paylen && nseg < SEG_MAX) {
			segs[nseg].seq = fi.seq;
			segs[nseg].len = fi.paylen;
			segs[nseg].data = malloc(fi.paylen);
			ASSERT_NE(NULL, segs[nseg].data);
			memcpy(segs[nseg].data, fi.payload, fi.paylen);
			nseg++;
		}
		self->r.next++;
		vj_ring_release(&self->r);
	}
	TH_LOG("%u frames (%u with data, longest %zu bytes) for %zu bytes queued", frames, nseg,
	       maxlen, queued);
	ASSERT_LT(1U, nseg) TH_LOG("fewer than two data segments in the ring");

	/*
	 * No data went before the filter: the lowest sequence number is the
	 * stream's first byte (a retransmit has it too).
	 */
	base = segs[0].seq;
	for (i = 1; i < nseg; i++)
		if ((__s32)(segs[i].seq - base) < 0)
			base = segs[i].seq;
	for (i = 0; i < nseg; i++)
		segs[i].seq -= base;
	qsort(segs, nseg, sizeof(*segs), seg_cmp);
	covered = 0;
	for (i = 0; i < nseg; i++) {
		ASSERT_GE(queued, (size_t)segs[i].seq + segs[i].len)
			TH_LOG("segment at %u (%u bytes) beyond what was sent", segs[i].seq,
			       segs[i].len);
		EXPECT_TRUE(stream_matches(segs[i].data, segs[i].seq, segs[i].len))
			TH_LOG("segment at %u (%u bytes) differs from the stream", segs[i].seq,
			       segs[i].len);
		EXPECT_GE(covered, (size_t)segs[i].seq)
			TH_LOG("bytes %zu..%u of the stream missing", covered, segs[i].seq);
		if (segs[i].seq + segs[i].len > covered)
			covered = segs[i].seq + segs[i].len;
	}
	TH_LOG("the ring holds the stream's first %zu bytes", covered);
	/* Most of a first flight (10 segments at least): it was cut, not dropped. */
	EXPECT_LE((size_t)8 * (MTU - 52), covered);

	stats(_metadata, self, &st);
	EXPECT_EQ(0U, st.rx_bad_length) TH_LOG("GSO frames dropped as too long");
	/* A retransmit may have come in since the loop. */
	EXPECT_LE(frames, st.rx_packets);
	EXPECT_GE(frames + vj_ring_avail(&self->r), st.rx_packets);
	for (i = 0; i < nseg; i++)
		free(segs[i].data);
	free(segs);
	free(buf);
	close(c);
	close(s);
}

TEST_F_TIMEOUT(offload, tcp4_tso_match_segmented, 60)
{
	tcp_to_ring(_metadata, self, AF_INET, ADDR_B4);
}

TEST_F_TIMEOUT(offload, tcp6_tso_match_segmented, 60)
{
	if (!self->have_ipv6)
		SKIP(return, "no IPv6");
	tcp_to_ring(_metadata, self, AF_INET6, ADDR_B6);
}

/* ------------------------------------------------------------------ */
/* VLAN                                                                */

/* UDP over VLAN 5, tag offloaded, to a port no filter takes: the socket on vjob.5 gets it. */
TEST_F(offload, vlan_udp_nonmatching_reaches_vlan_socket)
{
	struct vj_filter f = vj_port_filter(AF_INET, IPPROTO_UDP, PORT_CH);
	__u32 n;

	if (!vlan_setup(_metadata, self))
		SKIP(return, "no 802.1Q VLAN devices (CONFIG_VLAN_8021Q)");
	channel(_metadata, self, &f, 1);
	n = udp_to_socket(_metadata, self, AF_INET, VADDR_A, VADDR_B, PORT_STACK, self->vifb,
			  udp4_sizes, ARRAY_SIZE(udp4_sizes), 2);
	expect_stack_not_copied(_metadata, self, n);
}

/* UDP over VLAN 5 to the channel's port: the tag is inline in the ring's frames. */
TEST_F(offload, vlan_udp_match_tag_inline)
{
	struct vj_filter f = vj_port_filter(AF_INET, IPPROTO_UDP, PORT_CH);

	if (!vlan_setup(_metadata, self))
		SKIP(return, "no 802.1Q VLAN devices (CONFIG_VLAN_8021Q)");
	channel(_metadata, self, &f, 1);
	udp_to_ring(_metadata, self, AF_INET, true, VADDR_A, VADDR_B, udp4_sizes,
		    ARRAY_SIZE(udp4_sizes), 2);
}

/* ------------------------------------------------------------------ */
/* netfilter ingress sees what the stack sees                          */

/* What the netfilter tests miss, if anything. */
static const char *nf_missing(struct _test_data_offload *self)
{
	if (!(self->features & VJ_FEATURE_NF_INGRESS))
		return "no VJ_FEATURE_NF_INGRESS in this kernel";
	if (run("nft --version >/dev/null 2>&1"))
		return "nft not found";
	return NULL;
}

/* A netdev ingress chain on vjob whose rule drops what VADDR_A sends. */
static void nft_drop_saddr(struct __test_metadata *_metadata)
{
	ASSERT_EQ(0, run("nft add table netdev vjo"));
	ASSERT_EQ(0, run("nft add chain netdev vjo in '{ type filter hook ingress device %s %s }'",
			 DEV_B, "priority 0;"));
	ASSERT_EQ(0, run("nft add rule netdev vjo in ip saddr " VADDR_A " drop"));
}

/* An IPv4/UDP frame @src -> VADDR_B:PORT_CH, tagged inline with VLAN 5 if @tag. */
static size_t build_udp_frame(__u8 *f, const char *src, bool tag, __u32 seq)
{
	size_t off = tag ? 4 : 0, paylen = 64, iplen = 20 + 8 + paylen;
	__u8 *ip = f + ETH_HLEN + off, *udp = ip + 20;
	__u32 sum;

	memset(f, 0, ETH_HLEN + off + iplen);
	memcpy(f, mac_b, ETH_ALEN);
	memcpy(f + ETH_ALEN, mac_a, ETH_ALEN);
	if (tag) {
		f[12] = ETH_P_8021Q >> 8;
		f[13] = ETH_P_8021Q & 0xff;
		f[15] = VID;
	}
	f[12 + off] = ETH_P_IP >> 8;
	f[13 + off] = ETH_P_IP & 0xff;
	ip[0] = 0x45;
	ip[2] = iplen >> 8;
	ip[3] = iplen;
	ip[8] = 64;
	ip[9] = IPPROTO_UDP;
	inet_pton(AF_INET, src, ip + 12);
	inet_pton(AF_INET, VADDR_B, ip + 16);
	sum = ~csum_add_bytes(0, ip, 20) & 0xffff;
	ip[10] = sum >> 8;
	ip[11] = sum;
	udp[0] = 40000 >> 8;
	udp[1] = 40000 & 0xff;
	udp[2] = PORT_CH >> 8;
	udp[3] = PORT_CH & 0xff;
	udp[5] = 8 + paylen;
	fill_payload(udp + 8, paylen, seq);
	return ETH_HLEN + off + iplen;
}

/*
 * Frames with the 802.1Q tag inline (sent through AF_PACKET): the stack
 * untags before its ingress hooks, so `ip saddr VADDR_A drop` on vjob drops
 * VADDR_A's frames, tagged or not, before the ring (rx_nf_dropped); a
 * second sender's frames are delivered, tag inline.
 */
TEST_F(offload, nft_saddr_drop_inline_tag)
{
	struct vj_filter f = vj_port_filter(AF_INET, IPPROTO_UDP, PORT_CH);
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };
	struct vj_statistics st;
	__u32 i, len, ndrop = 0, npass = 0;
	struct frame_info fi;
	__u8 fr[256];
	const __u8 *p;
	size_t n;
	int pkt;

	if (nf_missing(self))
		SKIP(return, "%s", nf_missing(self));
	channel(_metadata, self, &f, 1);
	nft_drop_saddr(_metadata);
	pkt = socket_ns(self, self->nsa, AF_PACKET, SOCK_RAW);
	ASSERT_LE(0, pkt);
	sll.sll_ifindex = self->ifa;
	ASSERT_EQ(0, bind(pkt, (struct sockaddr *)&sll, sizeof(sll)));

	for (i = 0; i < 16; i++) {
		n = build_udp_frame(fr, VADDR_A, true, i);
		ASSERT_EQ((ssize_t)n, send(pkt, fr, n, 0)) TH_LOG("%s", strerror(errno));
		ndrop++;
		if (i % 4 == 0) {
			n = build_udp_frame(fr, VADDR_A, false, i);
			ASSERT_EQ((ssize_t)n, send(pkt, fr, n, 0));
			ndrop++;
			n = build_udp_frame(fr, VADDR_A2, true, i);
			ASSERT_EQ((ssize_t)n, send(pkt, fr, n, 0));
			npass++;
		}
	}
	EXPECT_EQ(npass, vj_ring_wait(&self->r, npass, WAIT_MS));
	usleep(100 * 1000);
	ASSERT_EQ(npass, vj_ring_avail(&self->r)) TH_LOG("frames the rule drops were delivered");
	for (i = 0; i < npass; i++) {
		p = vj_ring_frame(&self->r, self->r.next, &len);
		ASSERT_NE(NULL, p);
		ASSERT_EQ(0, frame_parse(p, len, &fi)) TH_LOG("%s", fi.err);
		EXPECT_EQ(ETH_P_8021Q, fi.tpid);
		EXPECT_EQ(VID, fi.tci & 0xfff);
		n = build_udp_frame(fr, VADDR_A2, true, 4 * i);
		EXPECT_EQ(n, len);
		EXPECT_EQ(0, memcmp(fr, p, n < len ? n : len));
		self->r.next++;
	}
	vj_ring_release(&self->r);
	stats(_metadata, self, &st);
	EXPECT_EQ(npass, st.rx_packets);
	EXPECT_EQ(ndrop, st.rx_nf_dropped);
	close(pkt);
}

/* The same with the tag offloaded: UDP sockets on vjoa.5 send. */
TEST_F(offload, nft_saddr_drop_offloaded_tag)
{
	struct vj_filter f = vj_port_filter(AF_INET, IPPROTO_UDP, PORT_CH);
	struct sockaddr_storage to;
	socklen_t tolen = sockaddr_of(AF_INET, VADDR_B, PORT_CH, &to);
	struct vj_statistics st;
	__u8 buf[100], exp[100];
	__u32 i, len;
	const __u8 *p;
	int t1, t2;

	if (nf_missing(self))
		SKIP(return, "%s", nf_missing(self));
	if (!vlan_setup(_metadata, self))
		SKIP(return, "no 802.1Q VLAN devices (CONFIG_VLAN_8021Q)");
	channel(_metadata, self, &f, 1);
	nft_drop_saddr(_metadata);
	t1 = udp_socket_ns(_metadata, self, self->nsa, AF_INET, VADDR_A, 0);
	t2 = udp_socket_ns(_metadata, self, self->nsa, AF_INET, VADDR_A2, 0);
	ASSERT_LE(0, t1);
	ASSERT_LE(0, t2);
	for (i = 0; i < 16; i++) {
		fill_payload(buf, sizeof(buf), i);
		ASSERT_EQ((ssize_t)sizeof(buf), sendto(t1, buf, sizeof(buf), 0,
						       (struct sockaddr *)&to, tolen));
		ASSERT_EQ((ssize_t)sizeof(buf), sendto(t2, buf, sizeof(buf), 0,
						       (struct sockaddr *)&to, tolen));
	}
	EXPECT_EQ(16U, vj_ring_wait(&self->r, 16, WAIT_MS));
	usleep(100 * 1000);
	ASSERT_EQ(16U, vj_ring_avail(&self->r)) TH_LOG("frames the rule drops were delivered");
	for (i = 0; i < 16; i++) {
		p = vj_ring_frame(&self->r, self->r.next, &len);
		ASSERT_NE(NULL, p);
		fill_payload(exp, sizeof(exp), i);
		check_udp_frame(_metadata, p, len, AF_INET, true, VADDR_A2, local_port(t2),
				VADDR_B, PORT_CH, exp, sizeof(exp));
		self->r.next++;
	}
	vj_ring_release(&self->r);
	stats(_metadata, self, &st);
	EXPECT_EQ(16U, st.rx_packets);
	EXPECT_EQ(16U, st.rx_nf_dropped);
	close(t1);
	close(t2);
}

/* ------------------------------------------------------------------ */
/* The stack never reads what user space can write                     */

#define SCRIBBLE_MS	3000

struct scribbler {
	struct vj_ring *r;
	const __u8 *tmpl;	/* one buffer's worth of forgery */
	int stop;
	__u64 passes;
};

static void *scribble(void *arg)
{
	struct scribbler *s = arg;
	const struct vj_ring_offsets *o = &s->r->off;
	__u32 i;

	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		for (i = 0; i < o->nr_bufs; i++)
			memcpy(s->r->map + o->buffers + (size_t)i * o->buf_size, s->tmpl,
			       o->buf_size);
		s->passes++;
	}
	return NULL;
}

struct udp_tx {
	int fd;
	__u64 end;
	__u32 sent;		/* written by the sender, read after join */
	int done;
	int err;
};

static size_t flow_len(__u32 seq)
{
	return 16 + (seq * 37u) % 1200;
}

static void *udp_sender(void *arg)
{
	struct udp_tx *t = arg;
	__u8 buf[2048];
	size_t len;

	while (now_ns() < t->end) {
		len = flow_len(t->sent);
		fill_payload(buf, len, t->sent);
		if (send(t->fd, buf, len, 0) != (ssize_t)len) {
			if (errno == EAGAIN || errno == ENOBUFS || errno == EINTR) {
				usleep(100);
				continue;
			}
			t->err = errno;
			break;
		}
		t->sent++;
		if (t->sent % 16 == 0)
			usleep(1000);
	}
	__atomic_store_n(&t->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * One buffer of forgery: wherever a frame may start, an IPv4/UDP datagram
 * from FORGED_SADDR to PORT_STACK with no checksum (which the stack
 * accepts), and the same bytes repeated through the rest of the buffer.
 */
static void build_forgery(__u8 *b, size_t size, size_t headroom)
{
	static const char text[] = "FORGED!!";
	__u8 f[128];
	__u8 *ip = f + ETH_HLEN, *udp = ip + 20;
	size_t flen = sizeof(f), i;
	__u32 sum;

	memset(f, 0, sizeof(f));
	memcpy(f, mac_b, ETH_ALEN);
	memcpy(f + ETH_ALEN, mac_a, ETH_ALEN);
	f[12] = ETH_P_IP >> 8;
	f[13] = ETH_P_IP & 0xff;
	ip[0] = 0x45;
	ip[2] = (flen - ETH_HLEN) >> 8;
	ip[3] = flen - ETH_HLEN;
	ip[8] = 64;
	ip[9] = IPPROTO_UDP;
	inet_pton(AF_INET, FORGED_SADDR, ip + 12);
	inet_pton(AF_INET, ADDR_B4, ip + 16);
	sum = ~csum_add_bytes(0, ip, 20) & 0xffff;
	ip[10] = sum >> 8;
	ip[11] = sum;
	udp[0] = FORGED_SPORT >> 8;
	udp[1] = FORGED_SPORT & 0xff;
	udp[2] = PORT_STACK >> 8;
	udp[3] = PORT_STACK & 0xff;
	udp[4] = (flen - ETH_HLEN - 20) >> 8;
	udp[5] = flen - ETH_HLEN - 20;
	for (i = 8; i < flen - ETH_HLEN - 20; i++)
		udp[i] = text[(i - 8) % 8];
	/* The headroom too (a virtio-net header would be there), then from headroom on. */
	for (i = 0; i < headroom; i++)
		b[i] = f[i % flen];
	for (i = headroom; i < size; i++)
		b[i] = f[(i - headroom) % flen];
}

/*
 * A thread rewrites every buffer of the ring with a forged datagram for an
 * ordinary UDP socket, as fast as it can, while a sender sends a numbered
 * flow to that socket (no filter takes it).  The socket gets only what was
 * sent, byte for byte, and nothing from the forged address.
 */
TEST_F_TIMEOUT(offload, rewrite_buffers_no_injection, 60)
{
	struct vj_filter f = vj_port_filter(AF_INET, IPPROTO_UDP, PORT_CH);
	struct scribbler sc = { 0 };
	struct udp_tx t = { 0 };
	__u32 legit = 0, bad = 0, forged = 0, dup = 0, seq;
	int bufsz = 4 << 20, rx, tx;
	struct vj_statistics st;
	pthread_t ths, tht;
	__u8 *tmpl, *seen;
	__u8 buf[2048], exp[2048];
	__u64 idle_end = 0;
	__u16 sport;

	channel(_metadata, self, &f, 1);
	tmpl = malloc(self->r.off.buf_size);
	seen = calloc(1, 1 << 20);
	ASSERT_NE(NULL, tmpl);
	ASSERT_NE(NULL, seen);
	build_forgery(tmpl, self->r.off.buf_size, self->r.off.headroom);

	rx = udp_socket_ns(_metadata, self, self->nsb, AF_INET, NULL, PORT_STACK);
	tx = udp_socket_ns(_metadata, self, self->nsa, AF_INET, ADDR_A4, 0);
	ASSERT_LE(0, rx);
	ASSERT_LE(0, tx);
	setsockopt(rx, SOL_SOCKET, SO_RCVBUFFORCE, &bufsz, sizeof(bufsz));
	ASSERT_EQ(0, udp_connect(tx, AF_INET, ADDR_B4, PORT_STACK));
	sport = local_port(tx);

	sc.r = &self->r;
	sc.tmpl = tmpl;
	ASSERT_EQ(0, pthread_create(&ths, NULL, scribble, &sc));
	t.fd = tx;
	t.end = now_ns() + SCRIBBLE_MS * 1000000ULL;
	ASSERT_EQ(0, pthread_create(&tht, NULL, udp_sender, &t));

	for (;;) {
		struct pollfd pfd = { .fd = rx, .events = POLLIN };
		struct sockaddr_in from;
		socklen_t flen = sizeof(from);
		char a[INET_ADDRSTRLEN];
		ssize_t n;

		if (!idle_end && __atomic_load_n(&t.done, __ATOMIC_ACQUIRE))
			idle_end = now_ns() + 500000000ULL;
		if (idle_end && now_ns() > idle_end)
			break;
		if (poll(&pfd, 1, 100) != 1)
			continue;
		n = recvfrom(rx, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &flen);
		if (n < 0)
			continue;
		inet_ntop(AF_INET, &from.sin_addr, a, sizeof(a));
		if (!strcmp(a, FORGED_SADDR) || ntohs(from.sin_port) == FORGED_SPORT ||
		    (n >= 8 && !memcmp(buf, "FORGED!!", 8))) {
			if (!forged++)
				TH_LOG("forged datagram of %zd bytes from %s:%u", n, a,
				       ntohs(from.sin_port));
			continue;
		}
		seq = n >= 4 ? (__u32)buf[0] << 24 | buf[1] << 16 | buf[2] << 8 | buf[3] : ~0U;
		if (strcmp(a, ADDR_A4) || ntohs(from.sin_port) != sport || seq >= (1U << 23) ||
		    (size_t)n != flow_len(seq)) {
			if (!bad++)
				TH_LOG("datagram of %zd bytes from %s:%u, seq %u", n, a,
				       ntohs(from.sin_port), seq);
			continue;
		}
		fill_payload(exp, n, seq);
		if (memcmp(exp, buf, n)) {
			if (!bad++)
				TH_LOG("datagram seq %u differs", seq);
			continue;
		}
		if (seen[seq >> 3] & (1 << (seq & 7)))
			dup++;
		seen[seq >> 3] |= 1 << (seq & 7);
		legit++;
	}
	__atomic_store_n(&sc.stop, 1, __ATOMIC_RELEASE);
	pthread_join(ths, NULL);
	pthread_join(tht, NULL);
	TH_LOG("%u sent, %u received, %llu passes over the buffers", t.sent, legit,
	       (unsigned long long)sc.passes);
	EXPECT_EQ(0, t.err) TH_LOG("sender: %s", strerror(t.err));
	EXPECT_EQ(0U, forged) TH_LOG("the stack delivered forged datagrams");
	EXPECT_EQ(0U, bad);
	EXPECT_EQ(0U, dup);
	EXPECT_LT(0U, sc.passes);
	EXPECT_LT(0U, legit);
	/* Losses (sockets, backlog) are allowed; a flow that does not get through is not. */
	EXPECT_LE(t.sent / 10, legit);
	stats(_metadata, self, &st);
	EXPECT_EQ(0U, st.rx_packets);
	EXPECT_EQ(0U, st.rx_copies);
	close(rx);
	close(tx);
	free(tmpl);
	free(seen);
}

/* ================================================================== */
/* hygiene: privilege, failed binds, socket filters, device removal    */

#define HDEV_A		"vjha"
#define HDEV_B		"vjhb"

FIXTURE(hygiene)
{
	int fd;			/* a channel socket, unbound */
	int ifa, ifb;
	__u64 features;
};

FIXTURE_SETUP(hygiene)
{
	int fd;

	self->fd = -1;
	fd = vj_open();
	if (fd < 0 && errno == EAFNOSUPPORT)
		SKIP(return, "PF_VJCHAN not supported (CONFIG_VJCHAN=n)");
	ASSERT_LE(0, fd) TH_LOG("socket: %s", strerror(errno));
	close(fd);
	if (run("ip -V >/dev/null 2>&1"))
		SKIP(return, "ip (iproute2) not found");
	if (unshare(CLONE_NEWNET))
		SKIP(return, "cannot create a network namespace: %s", strerror(errno));
	if (run("ip link add " HDEV_A " numtxqueues 1 numrxqueues 1 type veth peer name " HDEV_B
		" numtxqueues 1 numrxqueues 1"))
		SKIP(return, "cannot create a veth pair (CONFIG_VETH=n?)");
	ASSERT_EQ(0, run("ip link set " HDEV_A " up && ip link set " HDEV_B " up"));
	self->ifa = if_nametoindex(HDEV_A);
	self->ifb = if_nametoindex(HDEV_B);
	ASSERT_NE(0, self->ifa);
	ASSERT_NE(0, self->ifb);
	/* In this namespace: a socket's namespace is where it was created. */
	self->fd = vj_open();
	ASSERT_LE(0, self->fd) TH_LOG("socket: %s", strerror(errno));
	self->features = vj_read_features(self->fd);
}

FIXTURE_TEARDOWN(hygiene)
{
	if (self->fd >= 0)
		close(self->fd);
	run("ip link del " HDEV_A " >/dev/null 2>&1");
}

/* Child exit statuses: bits of what went wrong, or a step that failed. */
#define CHILD_SETUP	0x40

static void wait_child_bits(struct __test_metadata *_metadata, pid_t pid, const char *const *what,
			    int nwhat)
{
	int status, i;

	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status)) TH_LOG("child status %#x", status);
	EXPECT_EQ(0, WEXITSTATUS(status) & CHILD_SETUP)
		TH_LOG("child setup failed: %#x", WEXITSTATUS(status));
	for (i = 0; i < nwhat; i++)
		EXPECT_EQ(0, WEXITSTATUS(status) & (1 << i)) TH_LOG("%s", what[i]);
}

/* A call that must fail with EPERM: 0 if it did. */
static int eperm(int ret)
{
	return ret == -1 && errno == EPERM ? 0 : 1;
}

/*
 * The channel's powers do not go with the file: a bound socket passed over
 * SCM_RIGHTS to a process without capabilities cannot add or delete
 * filters there, map the ring, or set up a ring geometry.
 */
TEST_F(hygiene, scm_rights_no_caps_filters_and_mmap_eperm)
{
	static const char *const what[] = {
		"VJ_ADD_FILTER without capabilities did not fail with EPERM",
		"VJ_DEL_FILTER without capabilities did not fail with EPERM",
		"mmap() without capabilities did not fail with EPERM",
		"VJ_RING_SETUP without capabilities did not fail with EPERM",
	};
	struct vj_filter f1 = vj_port_filter(AF_INET, IPPROTO_UDP, PORT_CH);
	struct vj_filter f2 = vj_port_filter(AF_INET, IPPROTO_TCP, PORT_TCP_CH);
	struct vj_ring_offsets o;
	socklen_t olen = sizeof(o);
	struct vj_ring r;
	int sp[2];
	pid_t pid;

	ASSERT_EQ(0, vj_bind_queue(self->fd, self->ifb, 0)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, vj_filter_op(self->fd, VJ_ADD_FILTER, &f1));
	ASSERT_EQ(0, getsockopt(self->fd, SOL_VJCHAN, VJ_RING_OFFSETS, &o, &olen));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct vj_ring_setup rs;
		int fd, bits = 0;
		void *p;

		close(sp[0]);
		if (drop_all_caps() || have_effective_cap(CAP_NET_ADMIN) ||
		    have_effective_cap(CAP_NET_RAW))
			_exit(CHILD_SETUP);
		fd = recv_fd(sp[1]);
		if (fd < 0)
			_exit(CHILD_SETUP);
		bits |= eperm(vj_filter_op(fd, VJ_ADD_FILTER, &f2)) << 0;
		bits |= eperm(vj_filter_op(fd, VJ_DEL_FILTER, &f1)) << 1;
		p = mmap(NULL, o.mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
			 VJ_MMAP_OFFSET_RX_RING);
		bits |= (p != MAP_FAILED || errno != EPERM) << 2;
		memset(&rs, 0, sizeof(rs));
		bits |= (setsockopt(fd, SOL_VJCHAN, VJ_RING_SETUP, &rs, sizeof(rs)) != -1 ||
			 errno != EPERM) << 3;
		_exit(bits);
	}
	close(sp[1]);
	ASSERT_EQ(0, send_fd(sp[0], self->fd));
	close(sp[0]);
	wait_child_bits(_metadata, pid, what, ARRAY_SIZE(what));

	/* Nothing changed: f1 is still there, f2 never was; the owner maps the ring. */
	EXPECT_EQ(0, vj_filter_op(self->fd, VJ_DEL_FILTER, &f1)) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(0, vj_filter_op(self->fd, VJ_ADD_FILTER, &f2)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, vj_ring_map(self->fd, &r)) TH_LOG("%s", strerror(errno));
	vj_ring_unmap(&r);
}

/*
 * Both sides count: a socket opened by a process without capabilities
 * cannot change filters there, nor be bound or given filters by a
 * privileged process it is passed to.
 */
TEST_F(hygiene, unprivileged_opener_eperm)
{
	static const char *const what[] = {
		"VJ_ADD_FILTER on its own socket without capabilities did not fail with EPERM",
	};
	struct vj_filter f = vj_port_filter(AF_INET, IPPROTO_UDP, PORT_CH);
	int sp[2], fd;
	pid_t pid;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int bits = 0;

		close(sp[0]);
		if (drop_all_caps() || have_effective_cap(CAP_NET_ADMIN))
			_exit(CHILD_SETUP);
		fd = vj_open();
		if (fd < 0)
			_exit(CHILD_SETUP);
		bits |= eperm(vj_filter_op(fd, VJ_ADD_FILTER, &f));
		if (send_fd(sp[1], fd))
			_exit(CHILD_SETUP);
		_exit(bits);
	}
	close(sp[1]);
	fd = recv_fd(sp[0]);
	close(sp[0]);
	wait_child_bits(_metadata, pid, what, ARRAY_SIZE(what));
	ASSERT_LE(0, fd);
	ASSERT_TRUE(have_effective_cap(CAP_NET_ADMIN));
	errno = 0;
	EXPECT_EQ(-1, vj_bind_queue(fd, self->ifb, 0));
	EXPECT_EQ(EPERM, errno);
	errno = 0;
	EXPECT_EQ(-1, vj_filter_op(fd, VJ_ADD_FILTER, &f));
	EXPECT_EQ(EPERM, errno);
	close(fd);
	/* The queue is still free. */
	EXPECT_EQ(0, vj_bind_queue(self->fd, self->ifb, 0)) TH_LOG("%s", strerror(errno));
}

/*
 * A failed bind frees the ring and its RLIMIT_MEMLOCK charge at once: with
 * room for one ring, a valid bind on another socket succeeds after each
 * failed one while the failed socket is still open.
 */
TEST_F(hygiene, failed_bind_frees_ring_and_memlock)
{
	__u32 lo = if_nametoindex("lo");
	struct vj_ring_offsets o;
	socklen_t olen = sizeof(o);
	struct rlimit rl;
	int i, s;
	struct {
		int ifindex;
		__u32 queue;
		int err;
	} fails[] = {
		{ self->ifb, 7, EINVAL },	/* no such queue */
		{ (int)lo, 0, EOPNOTSUPP },	/* no channel support */
		{ 4242, 0, ENODEV },		/* no such device */
		{ self->ifb, 1, EINVAL },
	};

	if (!(self->features & VJ_FEATURE_MEMLOCK))
		SKIP(return, "no VJ_FEATURE_MEMLOCK in this kernel");
	ASSERT_NE(0U, lo);
	ASSERT_EQ(0, getsockopt(self->fd, SOL_VJCHAN, VJ_RING_OFFSETS, &o, &olen));
	/* One ring and a half: room for one ring, not two. */
	rl.rlim_cur = o.mmap_size + o.mmap_size / 2;
	rl.rlim_max = rl.rlim_cur;
	ASSERT_EQ(0, setrlimit(RLIMIT_MEMLOCK, &rl));
	ASSERT_EQ(0, set_effective_cap(0, CAP_IPC_LOCK));

	for (i = 0; i < (int)ARRAY_SIZE(fails); i++) {
		errno = 0;
		EXPECT_EQ(-1, vj_bind_queue(self->fd, fails[i].ifindex, fails[i].queue));
		EXPECT_EQ(fails[i].err, errno) TH_LOG("failure %d", i);
		s = vj_open();
		ASSERT_LE(0, s);
		EXPECT_EQ(0, vj_bind_queue(s, self->ifb, 0))
			TH_LOG("bind after failure %d (%s): %s", i, strerror(fails[i].err),
			       strerror(errno));
		close(s);
	}
	/* The failed socket binds, and then the limit holds. */
	EXPECT_EQ(0, vj_bind_queue(self->fd, self->ifb, 0)) TH_LOG("%s", strerror(errno));
	s = vj_open();
	ASSERT_LE(0, s);
	errno = 0;
	EXPECT_EQ(-1, vj_bind_queue(s, self->ifa, 0));
	EXPECT_EQ(ENOBUFS, errno);
	close(s);
}

/* A socket filter is refused (EPERM in the rst; EOPNOTSUPP, EINVAL would do). */
static bool filter_refused(int ret)
{
	return ret == -1 && (errno == EPERM || errno == EOPNOTSUPP || errno == EINVAL);
}

/* A BPF socket filter program that accepts everything: its fd, or -1. */
static int socket_filter_prog(void)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0xffff },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
	attr.insns = (__u64)(unsigned long)insns;
	attr.insn_cnt = ARRAY_SIZE(insns);
	attr.license = (__u64)(unsigned long)"GPL";
	return syscall(__NR_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
}

/*
 * Socket filters are refused, not accepted and ignored (frames reach the
 * ring without an skb to run them on): classic and eBPF, before and after
 * bind, and SO_LOCK_FILTER does not change that.
 */
TEST_F(hygiene, socket_filters_refused)
{
	struct sock_filter accept_all = BPF_STMT(BPF_RET | BPF_K, 0xffff);
	struct sock_fprog prog = { .len = 1, .filter = &accept_all };
	int zero = 0, bpf;

	EXPECT_TRUE(filter_refused(setsockopt(self->fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog,
					      sizeof(prog))))
		TH_LOG("SO_ATTACH_FILTER on an unbound socket: %s", strerror(errno));
	setsockopt(self->fd, SOL_SOCKET, SO_LOCK_FILTER, &zero, sizeof(zero));
	EXPECT_TRUE(filter_refused(setsockopt(self->fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog,
					      sizeof(prog))))
		TH_LOG("SO_ATTACH_FILTER after SO_LOCK_FILTER 0: %s", strerror(errno));

	ASSERT_EQ(0, vj_bind_queue(self->fd, self->ifb, 0)) TH_LOG("%s", strerror(errno));
	EXPECT_TRUE(filter_refused(setsockopt(self->fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog,
					      sizeof(prog))))
		TH_LOG("SO_ATTACH_FILTER on a bound socket: %s", strerror(errno));

	bpf = socket_filter_prog();
	if (bpf < 0) {
		TH_LOG("no BPF socket filter program (%s): SO_ATTACH_BPF not tried",
		       strerror(errno));
		return;
	}
	EXPECT_TRUE(filter_refused(setsockopt(self->fd, SOL_SOCKET, SO_ATTACH_BPF, &bpf,
					      sizeof(bpf))))
		TH_LOG("SO_ATTACH_BPF on a bound socket: %s", strerror(errno));
	close(bpf);
}

static void *del_device(void *arg)
{
	(void)arg;
	usleep(200 * 1000);
	return (void *)(intptr_t)run("ip link del " HDEV_A);
}

/*
 * When the bound device goes, a sleeping poll() wakes with POLLERR |
 * POLLHUP (so does epoll), SO_ERROR says ENODEV once, and the hangup
 * stays.
 */
TEST_F(hygiene, device_gone_pollhup_so_error)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct pollfd pfd = { .events = POLLIN };
	int err = -1, ep;
	socklen_t len = sizeof(err);
	struct vj_ring r;
	__u32 *status;
	pthread_t th;
	void *ret;
	__u64 t0;

	ASSERT_EQ(0, vj_bind_queue(self->fd, self->ifb, 0)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, vj_ring_map(self->fd, &r));
	status = (__u32 *)(r.map + r.off.status);
	EXPECT_EQ(0U, __atomic_load_n(status, __ATOMIC_ACQUIRE) & VJ_RING_STATUS_DEV_GONE);
	ASSERT_EQ(0, getsockopt(self->fd, SOL_SOCKET, SO_ERROR, &err, &len));
	EXPECT_EQ(0, err);
	ep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, self->fd, &ev));

	ASSERT_EQ(0, pthread_create(&th, NULL, del_device, NULL));
	t0 = now_ns();
	pfd.fd = self->fd;
	EXPECT_EQ(1, poll(&pfd, 1, 10 * 1000)) TH_LOG("poll() not woken");
	pthread_join(th, &ret);
	ASSERT_EQ(0, (int)(intptr_t)ret) TH_LOG("ip link del failed");
	EXPECT_GT(5000000000ULL, now_ns() - t0) TH_LOG("woken late");
	EXPECT_EQ(POLLERR | POLLHUP, pfd.revents & (POLLERR | POLLHUP))
		TH_LOG("revents %#x", pfd.revents);
	EXPECT_EQ(1, epoll_wait(ep, &ev, 1, 0));
	EXPECT_EQ((__u32)(EPOLLERR | EPOLLHUP), ev.events & (EPOLLERR | EPOLLHUP))
		TH_LOG("events %#x", ev.events);
	/* The status word says it without a system call. */
	EXPECT_EQ(VJ_RING_STATUS_DEV_GONE,
		  __atomic_load_n(status, __ATOMIC_ACQUIRE) & VJ_RING_STATUS_DEV_GONE);

	/* ENODEV, once. */
	len = sizeof(err);
	ASSERT_EQ(0, getsockopt(self->fd, SOL_SOCKET, SO_ERROR, &err, &len));
	EXPECT_EQ(ENODEV, err) TH_LOG("SO_ERROR %d", err);
	len = sizeof(err);
	ASSERT_EQ(0, getsockopt(self->fd, SOL_SOCKET, SO_ERROR, &err, &len));
	EXPECT_EQ(0, err);
	/* The hangup stays; the socket cannot be bound again. */
	pfd.revents = 0;
	EXPECT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_TRUE(pfd.revents & POLLHUP) TH_LOG("revents %#x", pfd.revents);
	errno = 0;
	EXPECT_EQ(-1, vj_bind_queue(self->fd, self->ifb, 0));
	vj_ring_unmap(&r);
	close(ep);
}

/* ------------------------------------------------------------------ */
/* io_uring and read()/write() on a channel socket (issue 10, item 5)  */

/*
 * A channel socket neither sends nor receives through the socket calls
 * (the rst: send(2), recv(2), read(2) and write(2) fail with EINVAL; it
 * never reports EPOLLOUT).  io_uring's READ, WRITE, READV, WRITEV, RECV and
 * SEND take the same recvmsg/sendmsg path, so each must complete at once
 * with -EINVAL.  With EOPNOTSUPP (sock_no_recvmsg()) io_uring would retry
 * once the socket polled ready, and a READ would never complete.  io_uring
 * is driven with raw system calls (no liburing); each completion is waited
 * for URING_WAIT_MS at most.
 */
#define URING_WAIT_MS	2000		/* for a completion that must come */
#define URING_QUIET_MS	300		/* for one that must not */
#define URING_ENTRIES	8
#define URING_TIMEOUT	90		/* 24 operations that may each wait URING_WAIT_MS */
#define ETH_P_URING	0x88b5		/* the channel's EtherType in these tests */

struct uring {
	int fd;
	__u32 features;
	void *sq_map, *cq_map;
	size_t sq_len, cq_len;
	struct io_uring_sqe *sqes;
	size_t sqes_len;
	__u32 *sq_tail, *sq_mask, *sq_array;
	__u32 *cq_head, *cq_tail, *cq_mask;
	struct io_uring_cqe *cqes;
};

/* Why io_uring cannot be used here, or NULL: sets up @u. */
static const char *uring_setup(struct uring *u)
{
	static char why[160];
	struct io_uring_params p;
	char dis[16] = "";
	int fd, err, s;
	ssize_t n;

	memset(u, 0, sizeof(*u));
	u->fd = -1;
	memset(&p, 0, sizeof(p));
	fd = syscall(__NR_io_uring_setup, URING_ENTRIES, &p);
	if (fd < 0) {
		err = errno;
		s = open("/proc/sys/kernel/io_uring_disabled", O_RDONLY | O_CLOEXEC);
		if (s >= 0) {
			n = read(s, dis, sizeof(dis) - 1);
			dis[n > 0 ? n : 0] = 0;
			dis[strcspn(dis, "\n")] = 0;
			close(s);
		}
		snprintf(why, sizeof(why), "io_uring_setup: %s (CONFIG_IO_URING=n%s%s%s)",
			 strerror(err), dis[0] ? ", or kernel.io_uring_disabled=" : "", dis,
			 dis[0] ? "" : "?");
		errno = err;
		/* Switched off, or no io_uring in this kernel (no sysctl either). */
		return (err == EPERM || access("/proc/sys/kernel/io_uring_disabled", F_OK)) ?
			why : NULL;
	}
	u->fd = fd;
	u->features = p.features;
	u->sq_len = p.sq_off.array + p.sq_entries * sizeof(__u32);
	u->cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	u->sq_map = mmap(NULL, u->sq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd,
			 IORING_OFF_SQ_RING);
	u->cq_map = mmap(NULL, u->cq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd,
			 IORING_OFF_CQ_RING);
	u->sqes_len = p.sq_entries * sizeof(struct io_uring_sqe);
	u->sqes = mmap(NULL, u->sqes_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd,
		       IORING_OFF_SQES);
	if (u->sq_map == MAP_FAILED || u->cq_map == MAP_FAILED || u->sqes == MAP_FAILED) {
		snprintf(why, sizeof(why), "mmap of the io_uring rings: %s", strerror(errno));
		return why;	/* not a skip reason: uring_setup()'s caller asserts */
	}
	u->sq_tail = (__u32 *)((char *)u->sq_map + p.sq_off.tail);
	u->sq_mask = (__u32 *)((char *)u->sq_map + p.sq_off.ring_mask);
	u->sq_array = (__u32 *)((char *)u->sq_map + p.sq_off.array);
	u->cq_head = (__u32 *)((char *)u->cq_map + p.cq_off.head);
	u->cq_tail = (__u32 *)((char *)u->cq_map + p.cq_off.tail);
	u->cq_mask = (__u32 *)((char *)u->cq_map + p.cq_off.ring_mask);
	u->cqes = (struct io_uring_cqe *)((char *)u->cq_map + p.cq_off.cqes);
	return NULL;
}

static void uring_exit(struct uring *u)
{
	if (u->sqes && u->sqes != MAP_FAILED)
		munmap(u->sqes, u->sqes_len);
	if (u->cq_map && u->cq_map != MAP_FAILED)
		munmap(u->cq_map, u->cq_len);
	if (u->sq_map && u->sq_map != MAP_FAILED)
		munmap(u->sq_map, u->sq_len);
	if (u->fd >= 0)
		close(u->fd);
	u->fd = -1;
}

/*
 * Sets up @u for a test: true, or false when the test is skipped (io_uring
 * is not there) or failed.
 */
static bool uring_setup_or_skip(struct __test_metadata *_metadata, struct uring *u)
{
	const char *why = uring_setup(u);

	if (why && u->fd < 0)
		SKIP(return false, "%s", why);
	EXPECT_EQ(NULL, why) TH_LOG("%s", why ? why : "");
	EXPECT_LE(0, u->fd) TH_LOG("io_uring_setup: %s", strerror(errno));
	return !why && u->fd >= 0;
}

/* Queues @sqe and submits it: 0, or -errno. */
static int uring_submit(struct uring *u, const struct io_uring_sqe *sqe)
{
	__u32 tail = *u->sq_tail, idx = tail & *u->sq_mask;
	int ret;

	u->sqes[idx] = *sqe;
	u->sq_array[idx] = idx;
	__atomic_store_n(u->sq_tail, tail + 1, __ATOMIC_RELEASE);
	ret = syscall(__NR_io_uring_enter, u->fd, 1, 0, 0, NULL, 0);
	if (ret < 0)
		return -errno;
	return ret == 1 ? 0 : -EAGAIN;
}

/*
 * Waits up to @ms for a completion and takes it: true with it in @cqe, false
 * if none came.  Waits in io_uring_enter() with a timeout
 * (IORING_ENTER_EXT_ARG) where the kernel has it, else in poll() on the
 * ring's fd.
 */
static bool uring_wait(struct uring *u, int ms, struct io_uring_cqe *cqe)
{
	struct __kernel_timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
	struct io_uring_getevents_arg arg = { .ts = (__u64)(unsigned long)&ts };
	struct pollfd pfd = { .fd = u->fd, .events = POLLIN };
	__u64 end = now_ns() + (__u64)ms * 1000000ULL;
	__u32 head;

	for (;;) {
		head = *u->cq_head;
		if (head != __atomic_load_n(u->cq_tail, __ATOMIC_ACQUIRE)) {
			*cqe = u->cqes[head & *u->cq_mask];
			__atomic_store_n(u->cq_head, head + 1, __ATOMIC_RELEASE);
			return true;
		}
		if (now_ns() >= end)
			return false;
		if (u->features & IORING_FEAT_EXT_ARG)
			syscall(__NR_io_uring_enter, u->fd, 0, 1,
				IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG, &arg, sizeof(arg));
		else
			poll(&pfd, 1, (int)((end - now_ns()) / 1000000ULL) + 1);
	}
}

static const char *uring_op_name(__u8 op)
{
	switch (op) {
	case IORING_OP_READ: return "IORING_OP_READ";
	case IORING_OP_WRITE: return "IORING_OP_WRITE";
	case IORING_OP_READV: return "IORING_OP_READV";
	case IORING_OP_WRITEV: return "IORING_OP_WRITEV";
	case IORING_OP_RECV: return "IORING_OP_RECV";
	case IORING_OP_SEND: return "IORING_OP_SEND";
	default: return "IORING_OP_?";
	}
}

/* An SQE of @op on @fd for the @len bytes at @buf (@iov for READV/WRITEV). */
static void uring_prep(struct io_uring_sqe *sqe, __u8 op, int fd, void *buf, __u32 len,
		       struct iovec *iov, __u8 flags, __u64 user_data)
{
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = op;
	sqe->fd = fd;
	sqe->flags = flags;
	sqe->user_data = user_data;
	if (op == IORING_OP_READV || op == IORING_OP_WRITEV) {
		iov->iov_base = buf;
		iov->iov_len = len;
		sqe->addr = (__u64)(unsigned long)iov;
		sqe->len = 1;
	} else {
		sqe->addr = (__u64)(unsigned long)buf;
		sqe->len = len;
	}
	/* READ/WRITE: offset 0 (-1, the file position, is the same on a stream) */
	sqe->off = 0;
}

/*
 * Each read/write/recv/send operation of io_uring on @fd, inline and forced
 * to io_uring's worker threads (IOSQE_ASYNC), completes within
 * URING_WAIT_MS with -EINVAL.
 */
static void uring_all_einval(struct __test_metadata *_metadata, int fd, const char *what)
{
	static const __u8 ops[] = {
		IORING_OP_READ, IORING_OP_WRITE, IORING_OP_READV, IORING_OP_WRITEV,
		IORING_OP_RECV, IORING_OP_SEND,
	};
	struct io_uring_sqe sqe, cancel;
	struct io_uring_cqe cqe;
	struct iovec iov;
	char buf[64] = "not sent";
	struct uring u;
	unsigned int i, async;
	__u64 t0, ud, slowest = 0;
	int ret;

	if (!uring_setup_or_skip(_metadata, &u))
		return;
	for (async = 0; async < 2; async++) {
		for (i = 0; i < ARRAY_SIZE(ops); i++) {
			ud = 0x100 + async * 0x10 + i;
			uring_prep(&sqe, ops[i], fd, buf, sizeof(buf), &iov,
				   async ? IOSQE_ASYNC : 0, ud);
			t0 = now_ns();
			ret = uring_submit(&u, &sqe);
			ASSERT_EQ(0, ret) TH_LOG("%s: io_uring_enter (submit %s): %s", what,
						 uring_op_name(ops[i]), strerror(-ret));
			if (!uring_wait(&u, URING_WAIT_MS, &cqe)) {
				EXPECT_TRUE(false)
					TH_LOG("%s: %s%s did not complete within %d ms", what,
					       uring_op_name(ops[i]), async ? " (IOSQE_ASYNC)" : "",
					       URING_WAIT_MS);
				/* Cancel it, and let its completion go. */
				memset(&cancel, 0, sizeof(cancel));
				cancel.opcode = IORING_OP_ASYNC_CANCEL;
				cancel.fd = -1;
				cancel.addr = ud;
				cancel.user_data = 1;
				if (!uring_submit(&u, &cancel)) {
					uring_wait(&u, URING_WAIT_MS, &cqe);
					uring_wait(&u, URING_WAIT_MS, &cqe);
				}
				continue;
			}
			EXPECT_EQ(ud, cqe.user_data);
			EXPECT_EQ(-EINVAL, cqe.res)
				TH_LOG("%s: %s%s completed with %d (%s), not -EINVAL", what,
				       uring_op_name(ops[i]), async ? " (IOSQE_ASYNC)" : "",
				       cqe.res, cqe.res < 0 ? strerror(-cqe.res) : "a length");
			if (now_ns() - t0 > slowest)
				slowest = now_ns() - t0;
		}
	}
	TH_LOG("%s: %zu io_uring operations, the slowest completed after %llu us", what,
	       2 * ARRAY_SIZE(ops), (unsigned long long)slowest / 1000);
	uring_exit(&u);
}

/* read(), write(), readv(), writev() on @fd fail at once with EINVAL. */
static void rw_all_einval(struct __test_metadata *_metadata, int fd, const char *what)
{
	char buf[64] = "not sent";
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	ssize_t n;

	errno = 0;
	n = read(fd, buf, sizeof(buf));
	EXPECT_EQ(-1, n) TH_LOG("%s: read() returned %zd", what, n);
	EXPECT_EQ(EINVAL, errno) TH_LOG("%s: read(): %s", what, strerror(errno));
	errno = 0;
	n = write(fd, buf, sizeof(buf));
	EXPECT_EQ(-1, n) TH_LOG("%s: write() returned %zd", what, n);
	EXPECT_EQ(EINVAL, errno) TH_LOG("%s: write(): %s", what, strerror(errno));
	errno = 0;
	n = readv(fd, &iov, 1);
	EXPECT_EQ(-1, n) TH_LOG("%s: readv() returned %zd", what, n);
	EXPECT_EQ(EINVAL, errno) TH_LOG("%s: readv(): %s", what, strerror(errno));
	errno = 0;
	n = writev(fd, &iov, 1);
	EXPECT_EQ(-1, n) TH_LOG("%s: writev() returned %zd", what, n);
	EXPECT_EQ(EINVAL, errno) TH_LOG("%s: writev(): %s", what, strerror(errno));
}

/* An EtherType filter for ETH_P_URING on self->fd, bound to HDEV_B, mapped. */
static void uring_channel(struct __test_metadata *_metadata, struct _test_data_hygiene *self,
			  struct vj_ring *r)
{
	struct vj_filter f = {
		.type = VJ_FILTER_ETHERTYPE,
		.ethertype = htons(ETH_P_URING),
	};

	ASSERT_EQ(0, vj_filter_op(self->fd, VJ_ADD_FILTER, &f))
		TH_LOG("VJ_ADD_FILTER: %s", strerror(errno));
	ASSERT_EQ(0, vj_bind_queue(self->fd, self->ifb, 0))
		TH_LOG("bind " HDEV_B ": %s", strerror(errno));
	ASSERT_EQ(0, vj_ring_map(self->fd, r)) TH_LOG("map the ring: %s", strerror(errno));
}

/* Sends one ETH_P_URING frame on HDEV_A (to HDEV_B's queue 0). */
static void uring_send_frame(struct __test_metadata *_metadata, struct _test_data_hygiene *self)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_URING),
		.sll_ifindex = self->ifa,
		.sll_halen = ETH_ALEN,
	};
	__u8 frame[60] = { 0 };
	int pkt;

	pkt = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, pkt) TH_LOG("AF_PACKET: %s", strerror(errno));
	memset(frame, 0xff, ETH_ALEN);
	frame[ETH_ALEN] = 0x02;
	frame[12] = ETH_P_URING >> 8;
	frame[13] = ETH_P_URING & 0xff;
	memcpy(frame + ETH_HLEN, "VJURING", 7);
	memset(sll.sll_addr, 0xff, ETH_ALEN);
	ASSERT_EQ((ssize_t)sizeof(frame), sendto(pkt, frame, sizeof(frame), 0,
						 (struct sockaddr *)&sll, sizeof(sll)))
		TH_LOG("send on " HDEV_A ": %s", strerror(errno));
	close(pkt);
}

/* read()/write() fail with EINVAL, unbound and bound (with a frame in the ring). */
TEST_F(hygiene, read_write_einval)
{
	struct vj_ring r;

	rw_all_einval(_metadata, self->fd, "unbound");
	uring_channel(_metadata, self, &r);
	rw_all_einval(_metadata, self->fd, "bound, ring empty");
	uring_send_frame(_metadata, self);
	ASSERT_EQ(1U, vj_ring_wait(&r, 1, WAIT_MS)) TH_LOG("no frame in the ring");
	rw_all_einval(_metadata, self->fd, "bound, a frame in the ring");
	/* Nothing consumed it. */
	EXPECT_EQ(1U, vj_ring_avail(&r));
	vj_ring_unmap(&r);
}

/* io_uring's read/write/recv/send on a socket that was never bound. */
TEST_F_TIMEOUT(hygiene, uring_rw_unbound_einval, URING_TIMEOUT)
{
	uring_all_einval(_metadata, self->fd, "unbound");
}

/* The same on a bound socket, its ring empty and then with a frame in it. */
TEST_F_TIMEOUT(hygiene, uring_rw_bound_einval, URING_TIMEOUT)
{
	struct vj_ring r;

	uring_channel(_metadata, self, &r);
	uring_all_einval(_metadata, self->fd, "bound, ring empty");
	uring_send_frame(_metadata, self);
	ASSERT_EQ(1U, vj_ring_wait(&r, 1, WAIT_MS)) TH_LOG("no frame in the ring");
	uring_all_einval(_metadata, self->fd, "bound, a frame in the ring");
	EXPECT_EQ(1U, vj_ring_avail(&r)) TH_LOG("an io_uring operation consumed a frame");
	vj_ring_unmap(&r);
}

/*
 * IORING_RECVSEND_POLL_FIRST makes RECV wait for EPOLLIN before it tries:
 * on an empty ring it waits (it must not complete), and a frame published
 * while the consumer asked to be woken (VJ_RING_NEED_WAKEUP) wakes it; it
 * then fails with -EINVAL, and the frame is still in the ring.
 */
TEST_F(hygiene, uring_recv_poll_first_woken_by_frame)
{
	struct io_uring_sqe sqe;
	struct io_uring_cqe cqe;
	struct vj_statistics st;
	char buf[64];
	struct uring u;
	struct vj_ring r;
	int ret;

	if (!uring_setup_or_skip(_metadata, &u))
		return;
	uring_channel(_metadata, self, &r);
	__atomic_store_n(r.flags, VJ_RING_NEED_WAKEUP, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	ASSERT_EQ(0U, vj_ring_avail(&r));

	uring_prep(&sqe, IORING_OP_RECV, self->fd, buf, sizeof(buf), NULL, 0, 7);
	sqe.ioprio = IORING_RECVSEND_POLL_FIRST;
	ret = uring_submit(&u, &sqe);
	ASSERT_EQ(0, ret) TH_LOG("submit RECV: %s", strerror(-ret));
	ret = uring_wait(&u, URING_QUIET_MS, &cqe);
	EXPECT_FALSE(ret) TH_LOG("RECV (poll first) on an empty ring completed: %d", cqe.res);
	if (ret) {
		uring_exit(&u);
		vj_ring_unmap(&r);
		return;
	}

	uring_send_frame(_metadata, self);
	ASSERT_EQ(1U, vj_ring_wait(&r, 1, WAIT_MS)) TH_LOG("no frame in the ring");
	ret = uring_wait(&u, URING_WAIT_MS, &cqe);
	EXPECT_TRUE(ret) TH_LOG("RECV (poll first) not woken within %d ms by a frame",
				URING_WAIT_MS);
	if (ret) {
		EXPECT_EQ(7U, cqe.user_data);
		EXPECT_EQ(-EINVAL, cqe.res)
			TH_LOG("RECV (poll first): %d, not -EINVAL", cqe.res);
	}
	ASSERT_EQ(0, vj_read_stats(self->fd, &st));
	EXPECT_LE(1U, st.rx_wakeups) TH_LOG("no wakeup counted");
	EXPECT_EQ(1U, vj_ring_avail(&r)) TH_LOG("the frame left the ring");
	uring_exit(&u);	/* cancels a RECV still waiting */
	vj_ring_unmap(&r);
}

/*
 * SEND with IORING_RECVSEND_POLL_FIRST waits for EPOLLOUT, which a channel
 * socket never reports (the rst): it stays pending, unbound or bound.  An
 * IORING_OP_ASYNC_CANCEL ends the unbound one with -ECANCELED; the bound one
 * ends when the device goes away (EPOLLERR | EPOLLHUP wake it), and then
 * fails with -EINVAL.  Neither leaves anything behind (closing the ring
 * and the socket afterwards, KASAN/kmemleak on the debug kernel).
 */
TEST_F(hygiene, uring_send_poll_first_cancel_and_device_gone)
{
	struct io_uring_sqe sqe;
	struct io_uring_cqe cqe;
	char buf[64] = "not sent";
	struct uring u;
	struct vj_ring r;
	int ret, fd2, got, i;

	if (!uring_setup_or_skip(_metadata, &u))
		return;
	fd2 = vj_open();
	ASSERT_LE(0, fd2);
	uring_prep(&sqe, IORING_OP_SEND, fd2, buf, sizeof(buf), NULL, 0, 11);
	sqe.ioprio = IORING_RECVSEND_POLL_FIRST;
	ret = uring_submit(&u, &sqe);
	ASSERT_EQ(0, ret) TH_LOG("submit SEND: %s", strerror(-ret));
	ret = uring_wait(&u, URING_QUIET_MS, &cqe);
	EXPECT_FALSE(ret) TH_LOG("SEND (poll first) on an unbound socket completed: %d",
				 cqe.res);
	if (!ret) {
		memset(&sqe, 0, sizeof(sqe));
		sqe.opcode = IORING_OP_ASYNC_CANCEL;
		sqe.fd = -1;
		sqe.addr = 11;
		sqe.user_data = 12;
		ret = uring_submit(&u, &sqe);
		ASSERT_EQ(0, ret) TH_LOG("submit ASYNC_CANCEL: %s", strerror(-ret));
		got = 0;
		for (i = 0; i < 2 && uring_wait(&u, URING_WAIT_MS, &cqe); i++) {
			if (cqe.user_data == 11) {
				EXPECT_EQ(-ECANCELED, cqe.res)
					TH_LOG("cancelled SEND: %d", cqe.res);
				got |= 1;
			} else if (cqe.user_data == 12) {
				EXPECT_EQ(0, cqe.res) TH_LOG("ASYNC_CANCEL: %d", cqe.res);
				got |= 2;
			}
		}
		EXPECT_EQ(3, got) TH_LOG("completions of the SEND and its cancel: %#x of 0x3", got);
	}
	EXPECT_EQ(0, close(fd2));

	uring_channel(_metadata, self, &r);
	uring_prep(&sqe, IORING_OP_SEND, self->fd, buf, sizeof(buf), NULL, 0, 13);
	sqe.ioprio = IORING_RECVSEND_POLL_FIRST;
	ret = uring_submit(&u, &sqe);
	ASSERT_EQ(0, ret) TH_LOG("submit SEND: %s", strerror(-ret));
	ret = uring_wait(&u, URING_QUIET_MS, &cqe);
	EXPECT_FALSE(ret) TH_LOG("SEND (poll first) on a bound socket completed: %d", cqe.res);
	if (!ret) {
		ASSERT_EQ(0, run("ip link del " HDEV_A));
		ret = uring_wait(&u, URING_WAIT_MS, &cqe);
		EXPECT_TRUE(ret) TH_LOG("SEND (poll first) pending %d ms after the device left",
					URING_WAIT_MS);
		if (ret) {
			EXPECT_EQ(13U, cqe.user_data);
			EXPECT_EQ(-EINVAL, cqe.res)
				TH_LOG("SEND after the device went: %d", cqe.res);
		}
	}
	uring_exit(&u);
	vj_ring_unmap(&r);
}

TEST_HARNESS_MAIN
