// SPDX-License-Identifier: GPL-2.0
/*
 * PF_VJCHAN: what a bound channel keeps for itself in the drivers'
 * reconfiguration paths, and what it must leave as it was (issue 10,
 * item 3).  Each refusal is EBUSY while the channel is bound and goes away
 * with the channel.
 *
 * veth (fixture veth): every test runs in a network namespace of its own
 * with a veth pair vja <-> vjb.  vja has one transmit queue, so every frame
 * it sends arrives on queue 0 of vjb, which has two receive queues and
 * 10.99.0.2/24.  Frames are sent by an AF_PACKET socket on vja.
 *
 * virtio-net (fixture vnet): the harness NIC of vjchan_virtio_test (MAC
 * 52:54:00:76:6a:01, Documentation/virtio-harness.md); these tests send no
 * traffic.
 *
 * Multi-queue virtio-net (fixture vnet_mq): a third NIC, MAC
 * 52:54:00:76:6a:02, two queue pairs, whose QEMU backend is a multi-queue tap
 * device of the host served by ci/mq-peer.py.  The guest asks it, with
 * request frames (EtherType 0x88b5, payload "VJMQ" | op | 0 | id | count |
 * port, big endian), for a burst of IPv4/UDP frames of distinct flows (the
 * host's tap spreads them over both queues) or for the offloads of its tap,
 * which follow the guest offloads the guest driver sets; or for traffic of
 * the host's own stack through the tap, from 10.78.0.1: a TCP stream of a
 * known pattern (op 3) or UDP datagrams (op 4), answered with the bytes or
 * datagrams sent.
 *
 * Without its NIC (ci/boot.sh run by hand) or its prerequisite, each
 * fixture's tests skip.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <linux/bpf.h>
#include <linux/ethtool.h>
#include <linux/filter.h>
#include <linux/genetlink.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <linux/netdev.h>
#include <linux/types.h>
#include <linux/vjchan.h>

#include "../../kselftest_harness.h"
#include "vjchan_lib.h"

#define WAIT_MS		2000		/* for a frame that must come */
#define QUIET_MS	300		/* for one that must not */
#define FRAME_MAX	2048

/* veth */
#define DEV_A		"vja"
#define DEV_B		"vjb"
#define ADDR_A		"10.99.0.1"
#define ADDR_B		"10.99.0.2"
#define PORT_CH		7000		/* the channel's filter */
#define PORT_STACK	7001		/* an ordinary UDP socket */
#define SPORT		40000
#define SMALL_MTU	1000		/* vjb's MTU in the oversized frame tests */
#define BIG_LEN		1200		/* a frame longer than that MTU allows */
#define SMALL_LEN	200		/* one that fits */

/* virtio-net */
#define VNET_MAC	{ 0x52, 0x54, 0x00, 0x76, 0x6a, 0x01 }
#define VNET_MAC_STR	"52:54:00:76:6a:01"
#define VNET_PORT	7001
#define BIG_MTU		1800		/* frames of it do not fit a 1792-byte buffer */

/* Multi-queue virtio-net and ci/mq-peer.py. */
#define MQ_MAC		{ 0x52, 0x54, 0x00, 0x76, 0x6a, 0x02 }
#define MQ_MAC_STR	"52:54:00:76:6a:02"
#define MQ_ADDR_GUEST	"10.78.0.2"
#define MQ_PREFIX	24
#define MQ_PORT		7100
#define ETH_P_MQREQ	0x88b5		/* requests, guest -> host */
#define ETH_P_MQANS	0x88b6		/* answers to op FEATURES, host -> guest */
#define MQ_OP_FLOWS	1		/* count UDP frames, frame i from port 20000 + i */
#define MQ_OP_FEATURES	2		/* one answer: the tap's TSO and checksum offload */
#define MQ_FLOWS	64
#define MQ_PAYLOAD	32
#define MQ_REQ_LEN	60
#define MQ_QUIET_MS	1500		/* no frame of a burst for this long: it is over */
#define MQ_TRIES	3
#define MQ_OP_TCP	3		/* the host's TCP stack sends a stream */
#define MQ_OP_UDP	4		/* the host's UDP stack sends datagrams */
#define MQ_ADDR_HOST	"10.78.0.1"	/* the host's side of the tap (ops 3, 4) */
#define MQ_TCP_PORT	7101		/* the stream's destination port */
#define MQ_OTHER_PORT	7102		/* a filter that matches none of the traffic */
#define MQ_TCP_BYTES	(384 * 1024)
#define MQ_UDP_N	64
#define MQ_UDP_MAX	1472		/* datagram i: MQ_UDP_MAX - (i * 97) % 1450 bytes */
#define MQ_STREAM_S	60		/* for a whole stream or burst */
#define MQ_STREAM_TIMEOUT 150
#define MQ_GUEST_ISN	0x10000000U	/* the sequence number the ring receiver starts at */
#define MQ_WINDOW	65535		/* the window it offers (no scaling) */
#define MQ_MSS		1460

#define XDP_TIMEOUT	60
#define MQ_TIMEOUT	120
#define FREEZE_TIMEOUT	120

/* ================================================================== */
/* veth                                                                */

FIXTURE(veth)
{
	int fd;			/* a channel socket, unbound */
	int pkt;		/* AF_PACKET socket on vja that sends */
	int ifa, ifb;
	__u8 mac_a[ETH_ALEN], mac_b[ETH_ALEN];
	struct vj_ring r;
};

/* The one's complement sum of @len bytes at @p, as big-endian 16-bit words,
 * added to @sum and folded.
 */
static __u32 sum16(__u32 sum, const __u8 *p, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (__u32)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (__u32)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

static __u16 ip_csum(const __u8 *ip)
{
	return ~sum16(0, ip, 20) & 0xffff;
}

/* An IPv4/UDP frame of @len bytes in all from vja to vjb:@dport, UDP
 * checksum 0 (none).  The payload starts with @seq.
 */
static size_t build_udp(struct _test_data_veth *self, __u8 *buf, __u16 dport, size_t len,
			__u32 seq)
{
	__u8 *ip = buf + ETH_HLEN, *udp = ip + 20;
	size_t i, iplen = len - ETH_HLEN;

	memcpy(buf, self->mac_b, ETH_ALEN);
	memcpy(buf + ETH_ALEN, self->mac_a, ETH_ALEN);
	buf[12] = ETH_P_IP >> 8;
	buf[13] = ETH_P_IP & 0xff;
	memset(ip, 0, 20);
	ip[0] = 0x45;
	ip[2] = iplen >> 8;
	ip[3] = iplen & 0xff;
	ip[6] = 0x40;
	ip[8] = 64;
	ip[9] = IPPROTO_UDP;
	inet_pton(AF_INET, ADDR_A, ip + 12);
	inet_pton(AF_INET, ADDR_B, ip + 16);
	i = ip_csum(ip);
	ip[10] = i >> 8;
	ip[11] = i & 0xff;
	udp[0] = SPORT >> 8;
	udp[1] = SPORT & 0xff;
	udp[2] = dport >> 8;
	udp[3] = dport & 0xff;
	udp[4] = (iplen - 20) >> 8;
	udp[5] = (iplen - 20) & 0xff;
	udp[6] = 0;
	udp[7] = 0;
	memcpy(udp + 8, &seq, sizeof(seq));
	for (i = ETH_HLEN + 28 + sizeof(seq); i < len; i++)
		buf[i] = (__u8)(i + seq);
	return len;
}

/* Sends a frame of build_udp() on vja; true if veth dropped it at once (its
 * ndo_start_xmit said NET_XMIT_DROP: ENOBUFS), allowed only if @may_drop.
 */
static bool send_udp_drop(struct __test_metadata *_metadata, struct _test_data_veth *self,
			  __u16 dport, size_t len, __u32 seq, bool may_drop)
{
	struct pollfd pfd = { .fd = self->pkt, .events = POLLOUT };
	__u8 buf[FRAME_MAX];
	ssize_t n;

	build_udp(self, buf, dport, len, seq);
	ASSERT_EQ(1, poll(&pfd, 1, WAIT_MS)) TH_LOG("packet socket not writable");
	n = send(self->pkt, buf, len, 0);
	if (n < 0 && errno == ENOBUFS && may_drop)
		return true;
	ASSERT_EQ((ssize_t)len, n) TH_LOG("send %zu bytes: %s", len, strerror(errno));
	return false;
}

static void send_udp(struct __test_metadata *_metadata, struct _test_data_veth *self,
		     __u16 dport, size_t len, __u32 seq)
{
	send_udp_drop(_metadata, self, dport, len, seq, false);
}

/* An ordinary UDP socket on ADDR_B:@port. */
static int veth_udp_socket(struct __test_metadata *_metadata, __u16 port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	ASSERT_LE(0, fd) TH_LOG("socket: %s", strerror(errno));
	inet_pton(AF_INET, ADDR_B, &sin.sin_addr);
	ASSERT_EQ(0, bind(fd, (struct sockaddr *)&sin, sizeof(sin)))
		TH_LOG("bind udp %s:%u: %s", ADDR_B, port, strerror(errno));
	return fd;
}

/* The next datagram of UDP socket @fd within @ms: its length (its first
 * bytes in @seq), 0 if none came.
 */
static size_t udp_wait(int fd, int ms, __u32 *seq)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	__u8 buf[FRAME_MAX];
	ssize_t n;

	if (poll(&pfd, 1, ms) != 1)
		return 0;
	n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n <= 0)
		return 0;
	if (seq && n >= (ssize_t)sizeof(*seq))
		memcpy(seq, buf, sizeof(*seq));
	return n;
}

/* A channel on @fd for IPv4 UDP to @port, bound to vjb queue @queue, its
 * ring mapped into @r.
 */
static void veth_channel(struct __test_metadata *_metadata, struct _test_data_veth *self,
			 int fd, __u32 queue, __u16 port, struct vj_ring *r)
{
	struct vj_filter f = vj_port_filter(AF_INET, IPPROTO_UDP, port);

	ASSERT_EQ(0, vj_filter_op(fd, VJ_ADD_FILTER, &f))
		TH_LOG("VJ_ADD_FILTER: %s", strerror(errno));
	ASSERT_EQ(0, vj_bind_queue(fd, self->ifb, queue))
		TH_LOG("bind %s queue %u: %s", DEV_B, queue, strerror(errno));
	ASSERT_EQ(0, vj_ring_map(fd, r)) TH_LOG("map the ring: %s", strerror(errno));
}

/* Whether errno @err of bpf() says this kernel has none, or forbids it. */
static int bpf_missing(int err)
{
	return err == vj_no_syscall_errno() || err == EPERM;
}

FIXTURE_SETUP(veth)
{
	struct sock_filter drop_all = BPF_STMT(BPF_RET | BPF_K, 0);
	struct sock_fprog prog = { .len = 1, .filter = &drop_all };
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };
	struct ifreq ifr;
	int fd;

	self->fd = -1;
	self->pkt = -1;
	memset(&self->r, 0, sizeof(self->r));

	fd = vj_open();
	if (fd < 0 && errno == EAFNOSUPPORT)
		SKIP(return, "PF_VJCHAN not supported (CONFIG_VJCHAN=n)");
	ASSERT_LE(0, fd) TH_LOG("socket: %s", strerror(errno));
	close(fd);

	if (unshare(CLONE_NEWNET)) {
		if (errno == EPERM)
			SKIP(return, "cannot create a network namespace (not root?)");
		ASSERT_EQ(0, -errno) TH_LOG("unshare(CLONE_NEWNET): %s", strerror(errno));
	}
	if (run("ip -V >/dev/null 2>&1"))
		SKIP(return, "ip (iproute2) not found");

	/* No IPv6 autoconfiguration chatter from vja into vjb. */
	write_file("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
	write_file("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");

	if (run("ip link add " DEV_A " numtxqueues 1 numrxqueues 1 type veth peer name "
		DEV_B " numtxqueues 2 numrxqueues 2"))
		SKIP(return, "cannot create a veth pair (CONFIG_VETH=n?)");
	ASSERT_EQ(0, run("ip link set dev " DEV_A " up && ip link set dev " DEV_B
			 " up && ip addr add " ADDR_B "/24 dev " DEV_B));
	self->ifa = if_nametoindex(DEV_A);
	self->ifb = if_nametoindex(DEV_B);
	ASSERT_NE(0, self->ifa);
	ASSERT_NE(0, self->ifb);

	self->pkt = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	ASSERT_LE(0, self->pkt) TH_LOG("AF_PACKET: %s", strerror(errno));
	/* The sender never reads: receive nothing. */
	ASSERT_EQ(0, setsockopt(self->pkt, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)));
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = self->ifa;
	ASSERT_EQ(0, bind(self->pkt, (struct sockaddr *)&sll, sizeof(sll)))
		TH_LOG("bind AF_PACKET to %s: %s", DEV_A, strerror(errno));

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", DEV_A);
	ASSERT_EQ(0, ioctl(self->pkt, SIOCGIFHWADDR, &ifr));
	memcpy(self->mac_a, ifr.ifr_hwaddr.sa_data, ETH_ALEN);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", DEV_B);
	ASSERT_EQ(0, ioctl(self->pkt, SIOCGIFHWADDR, &ifr));
	memcpy(self->mac_b, ifr.ifr_hwaddr.sa_data, ETH_ALEN);

	self->fd = vj_open();
	ASSERT_LE(0, self->fd) TH_LOG("socket: %s", strerror(errno));
}

FIXTURE_TEARDOWN(veth)
{
	vj_ring_unmap(&self->r);
	if (self->fd >= 0)
		EXPECT_EQ(0, close(self->fd));
	if (self->pkt >= 0)
		close(self->pkt);
	/* The namespace, the veth pair and its XDP program go with this process. */
}

/*
 * An XDP program on vjb excludes a channel on any queue of vjb: bind fails
 * with EBUSY, and the program's policy (XDP_DROP, a firewall) still holds
 * for every frame.  The old kernel bound the channel, and then every frame
 * went through the channel's copy to the stack, past the firewall, to the
 * UDP socket.  Once the program is detached, the channel binds.
 */
TEST_F_TIMEOUT(veth, bind_refused_while_xdp_attached, XDP_TIMEOUT)
{
	struct vj_filter f = vj_port_filter(AF_INET, IPPROTO_UDP, PORT_CH);
	int prog, udp, ret, err, fd2;
	__u32 q;

	prog = vj_xdp_prog(XDP_DROP);
	err = errno;
	if (prog < 0 && bpf_missing(err))
		SKIP(return, "bpf(BPF_PROG_LOAD) of an XDP program: %s", strerror(err));
	ASSERT_LE(0, prog) TH_LOG("bpf(BPF_PROG_LOAD): %s", strerror(err));
	udp = veth_udp_socket(_metadata, PORT_STACK);

	ASSERT_EQ(0, vj_xdp_attach_nl(self->ifb, prog, XDP_FLAGS_DRV_MODE))
		TH_LOG("XDP (driver mode) on %s: %s", DEV_B, strerror(errno));
	send_udp(_metadata, self, PORT_STACK, SMALL_LEN, 1);
	ASSERT_EQ(0U, udp_wait(udp, QUIET_MS, NULL)) TH_LOG("XDP_DROP let a frame through");

	ASSERT_EQ(0, vj_filter_op(self->fd, VJ_ADD_FILTER, &f));
	for (q = 0; q < 2; q++) {
		ret = vj_bind_queue(self->fd, self->ifb, q);
		err = errno;
		EXPECT_EQ(-1, ret) TH_LOG("bound to %s queue %u with XDP attached", DEV_B, q);
		EXPECT_EQ(EBUSY, err) TH_LOG("bind queue %u with XDP attached: %s, not EBUSY", q,
					     strerror(err));
		if (!ret)
			break;
	}
	/* Whatever happened, the firewall holds. */
	send_udp(_metadata, self, PORT_STACK, SMALL_LEN, 2);
	EXPECT_EQ(0U, udp_wait(udp, QUIET_MS, NULL))
		TH_LOG("a frame got past XDP_DROP to the UDP socket");

	/* Detached: a channel binds (a new socket: the first may be bound). */
	ASSERT_EQ(0, vj_xdp_attach_nl(self->ifb, -1, XDP_FLAGS_DRV_MODE))
		TH_LOG("detach XDP: %s", strerror(errno));
	fd2 = vj_open();
	ASSERT_LE(0, fd2);
	veth_channel(_metadata, self, fd2, 0, PORT_CH, &self->r);
	send_udp(_metadata, self, PORT_CH, SMALL_LEN, 4);
	EXPECT_EQ(1U, vj_ring_wait(&self->r, 1, WAIT_MS)) TH_LOG("the channel got no frame");
	send_udp(_metadata, self, PORT_STACK, SMALL_LEN, 5);
	EXPECT_EQ((size_t)SMALL_LEN - ETH_HLEN - 28, udp_wait(udp, WAIT_MS, NULL))
		TH_LOG("the UDP socket got no frame with XDP detached");
	vj_ring_unmap(&self->r);
	EXPECT_EQ(0, close(fd2));
	close(udp);
	close(prog);
}

/*
 * A channel on vjb excludes an XDP program on vjb: attaching one fails with
 * EBUSY through rtnetlink and through a BPF link alike, and nothing is
 * attached (frames still reach the channel and the stack).  Once the channel
 * is gone, the program attaches and drops.
 */
TEST_F_TIMEOUT(veth, xdp_refused_while_bound, XDP_TIMEOUT)
{
	int prog, udp, ret, err, link;

	prog = vj_xdp_prog(XDP_DROP);
	err = errno;
	if (prog < 0 && bpf_missing(err))
		SKIP(return, "bpf(BPF_PROG_LOAD) of an XDP program: %s", strerror(err));
	ASSERT_LE(0, prog) TH_LOG("bpf(BPF_PROG_LOAD): %s", strerror(err));
	udp = veth_udp_socket(_metadata, PORT_STACK);
	veth_channel(_metadata, self, self->fd, 0, PORT_CH, &self->r);

	ret = vj_xdp_attach_nl(self->ifb, prog, XDP_FLAGS_DRV_MODE);
	err = errno;
	EXPECT_EQ(-1, ret) TH_LOG("XDP attached (rtnetlink) to %s with a channel bound", DEV_B);
	EXPECT_EQ(EBUSY, err) TH_LOG("XDP (rtnetlink) with a channel bound: %s, not EBUSY",
				     strerror(err));
	if (!ret)
		vj_xdp_attach_nl(self->ifb, -1, XDP_FLAGS_DRV_MODE);
	link = vj_xdp_link(prog, self->ifb);
	err = errno;
	EXPECT_EQ(-1, link) TH_LOG("XDP attached (BPF link) to %s with a channel bound", DEV_B);
	EXPECT_EQ(EBUSY, err) TH_LOG("XDP (BPF link) with a channel bound: %s, not EBUSY",
				     strerror(err));
	if (link >= 0)
		close(link);

	/* Nothing was attached: both paths still receive. */
	send_udp(_metadata, self, PORT_CH, SMALL_LEN, 1);
	EXPECT_EQ(1U, vj_ring_wait(&self->r, 1, WAIT_MS)) TH_LOG("the channel got no frame");
	send_udp(_metadata, self, PORT_STACK, SMALL_LEN, 2);
	EXPECT_EQ((size_t)SMALL_LEN - ETH_HLEN - 28, udp_wait(udp, WAIT_MS, NULL))
		TH_LOG("the UDP socket got no frame");

	/* The channel is gone: the program attaches, and drops. */
	vj_ring_unmap(&self->r);
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
	ASSERT_EQ(0, vj_xdp_attach_nl(self->ifb, prog, XDP_FLAGS_DRV_MODE))
		TH_LOG("XDP on %s with the channel gone: %s", DEV_B, strerror(errno));
	send_udp(_metadata, self, PORT_STACK, SMALL_LEN, 3);
	EXPECT_EQ(0U, udp_wait(udp, QUIET_MS, NULL)) TH_LOG("XDP_DROP let a frame through");
	EXPECT_EQ(0, vj_xdp_attach_nl(self->ifb, -1, XDP_FLAGS_DRV_MODE));
	close(udp);
	close(prog);
}

/*
 * `ethtool -L vjb rx 1` with a channel on queue 1 fails with EBUSY: the
 * channel keeps its queue.  Changes that keep it are allowed.  After close()
 * the same change succeeds, queue 1 is gone (bind: EINVAL), and once it is
 * back a channel binds to it again.
 */
TEST_F(veth, set_channels_below_bound_queue_refused)
{
	struct ethtool_channels ch0, ch;
	int ret, err, fd2;

	ASSERT_EQ(0, vj_get_channels(DEV_B, &ch0)) TH_LOG("ETHTOOL_GCHANNELS: %s", strerror(errno));
	ASSERT_EQ(2U, ch0.rx_count);
	ASSERT_EQ(2U, ch0.max_rx);
	veth_channel(_metadata, self, self->fd, 1, PORT_CH, &self->r);

	ch = ch0;
	ch.rx_count = 1;
	ret = vj_set_channels(DEV_B, &ch);
	err = errno;
	EXPECT_EQ(-1, ret) TH_LOG("rx queues of %s reduced below its bound queue 1", DEV_B);
	EXPECT_EQ(EBUSY, err) TH_LOG("ETHTOOL_SCHANNELS rx 1: %s, not EBUSY", strerror(err));
	ASSERT_EQ(0, vj_get_channels(DEV_B, &ch));
	ASSERT_EQ(2U, ch.rx_count) TH_LOG("queue 1 went away under its channel");

	/* Fewer transmit queues leave the bound receive queue alone. */
	ch = ch0;
	ch.tx_count = 1;
	EXPECT_EQ(0, vj_set_channels(DEV_B, &ch)) TH_LOG("tx 1: %s", strerror(errno));
	EXPECT_EQ(0, vj_set_channels(DEV_B, &ch0)) TH_LOG("tx 2: %s", strerror(errno));

	/* The channel is gone: the queue may go too. */
	vj_ring_unmap(&self->r);
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
	ch = ch0;
	ch.rx_count = 1;
	ASSERT_EQ(0, vj_set_channels(DEV_B, &ch)) TH_LOG("rx 1 after close: %s", strerror(errno));
	ASSERT_EQ(0, vj_get_channels(DEV_B, &ch));
	EXPECT_EQ(1U, ch.rx_count);

	fd2 = vj_open();
	ASSERT_LE(0, fd2);
	ret = vj_bind_queue(fd2, self->ifb, 1);
	err = errno;
	EXPECT_EQ(-1, ret) TH_LOG("bound to queue 1 of %s, which has one queue", DEV_B);
	EXPECT_EQ(EINVAL, err) TH_LOG("bind to a queue not in use: %s, not EINVAL", strerror(err));
	EXPECT_EQ(0, close(fd2));

	ASSERT_EQ(0, vj_set_channels(DEV_B, &ch0)) TH_LOG("rx 2: %s", strerror(errno));
	fd2 = vj_open();
	ASSERT_LE(0, fd2);
	EXPECT_EQ(0, vj_bind_queue(fd2, self->ifb, 1))
		TH_LOG("bind queue 1 once it is back: %s", strerror(errno));
	EXPECT_EQ(0, close(fd2));
}

/*
 * vjb's MTU is SMALL_MTU; a BIG_LEN frame for @dport is sent, then a
 * SMALL_LEN one.  The big one must be dropped (counted in vjb's rx_dropped)
 * and reach neither the channel (@channel: bound to queue 0 for PORT_CH),
 * nor a packet socket on vjb, nor a UDP socket; the small one arrives.
 */
static void oversized_dropped(struct __test_metadata *_metadata, struct _test_data_veth *self,
			      bool channel, __u16 dport)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP) };
	bool to_ring = channel && dport == PORT_CH;
	long long drop0, drop1;
	struct vj_statistics st;
	__u8 buf[FRAME_MAX];
	socklen_t slen;
	int udp, tap;
	__u32 seq = 0;
	size_t len;
	ssize_t n;

	ASSERT_EQ(0, vj_set_mtu(DEV_B, SMALL_MTU)) TH_LOG("MTU %d: %s", SMALL_MTU,
							  strerror(errno));
	udp = veth_udp_socket(_metadata, dport);
	/* What reaches vjb's stack (a frame in the ring does not). */
	tap = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_IP));
	ASSERT_LE(0, tap);
	sll.sll_ifindex = self->ifb;
	ASSERT_EQ(0, bind(tap, (struct sockaddr *)&sll, sizeof(sll)));
	if (channel)
		veth_channel(_metadata, self, self->fd, 0, PORT_CH, &self->r);

	drop0 = vj_dev_rx_dropped(DEV_B);
	/* ENOBUFS: veth dropped it in its xmit and said so; a send that
	 * succeeds proves nothing either way.
	 */
	if (send_udp_drop(_metadata, self, dport, BIG_LEN, 1, true))
		TH_LOG("the %d-byte frame: send() says ENOBUFS (dropped by veth)", BIG_LEN);
	send_udp(_metadata, self, dport, SMALL_LEN, 2);

	if (to_ring) {
		const __u8 *f;
		__u32 flen = 0;

		ASSERT_LE(1U, vj_ring_wait(&self->r, 1, WAIT_MS)) TH_LOG("no frame in the ring");
		/* The small frame came after the big one: it is all there is. */
		usleep(QUIET_MS * 1000);
		EXPECT_EQ(1U, vj_ring_avail(&self->r)) TH_LOG("%u frames in the ring",
							      vj_ring_avail(&self->r));
		f = vj_ring_frame(&self->r, self->r.next, &flen);
		ASSERT_NE(NULL, f);
		EXPECT_EQ((__u32)SMALL_LEN, flen) TH_LOG("a frame of %u bytes in the ring", flen);
		ASSERT_EQ(0, vj_read_stats(self->fd, &st));
		EXPECT_EQ(1U, st.rx_packets);
		EXPECT_EQ(0U, udp_wait(udp, 0, NULL)) TH_LOG("a datagram reached the UDP socket");
	} else {
		len = udp_wait(udp, WAIT_MS, &seq);
		ASSERT_NE(0U, len) TH_LOG("the UDP socket got nothing");
		EXPECT_EQ((size_t)SMALL_LEN - ETH_HLEN - 28, len)
			TH_LOG("a datagram of %zu bytes reached the UDP socket", len);
		EXPECT_EQ(0U, udp_wait(udp, 0, NULL)) TH_LOG("more than one datagram");
		if (channel) {
			ASSERT_EQ(0, vj_read_stats(self->fd, &st));
			EXPECT_EQ(0U, st.rx_packets);
		}
	}
	/* The packet socket on vjb saw the small frame at most. */
	for (;;) {
		slen = sizeof(sll);
		n = recvfrom(tap, buf, sizeof(buf), 0, (struct sockaddr *)&sll, &slen);
		if (n < 0)
			break;
		EXPECT_GE(SMALL_LEN, n)
			TH_LOG("a frame of %zd bytes reached %s's stack", n, DEV_B);
	}
	drop1 = vj_dev_rx_dropped(DEV_B);
	if (drop0 >= 0 && drop1 >= 0)
		EXPECT_EQ(drop0 + 1, drop1) TH_LOG("rx_dropped %lld -> %lld", drop0, drop1);
	close(tap);
	close(udp);
}

/* Bound and matching: the oversized frame is not published. */
TEST_F(veth, oversized_frame_dropped_matching_channel)
{
	oversized_dropped(_metadata, self, true, PORT_CH);
}

/* Bound, not matching: it does not reach the stack through the channel. */
TEST_F(veth, oversized_frame_dropped_nonmatching_channel)
{
	oversized_dropped(_metadata, self, true, PORT_STACK);
}

/* No channel: veth drops it, as it always did (the reference). */
TEST_F(veth, oversized_frame_dropped_without_channel)
{
	oversized_dropped(_metadata, self, false, PORT_STACK);
}

/* The transmit "drop" counter of @ifname in /proc/net/dev (tx_dropped), or -1. */
static long long dev_tx_dropped(const char *ifname)
{
	return vj_dev_stat(ifname, 11);
}

/* An XDP program that redirects every frame to @ifindex
 * (r0 = bpf_redirect(ifindex, 0); exit): its fd, or -1 with errno.
 */
static int xdp_redirect_prog(int ifindex)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_1, .imm = ifindex },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_2, .imm = 0 },
		{ .code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_redirect },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.prog_type = BPF_PROG_TYPE_XDP;
	attr.insns = (__u64)(unsigned long)insns;
	attr.insn_cnt = ARRAY_SIZE(insns);
	attr.license = (__u64)(unsigned long)"GPL";
	return vj_sys_bpf(BPF_PROG_LOAD, &attr);
}

#define DEV_C		"vjc"		/* sends into DEV_D */
#define DEV_D		"vjd"		/* its XDP program redirects to DEV_A */
#define REDIR_N		4		/* frames per port and round */

/* Datagrams on UDP socket @fd within @ms, each @len bytes, until none comes
 * for QUIET_MS once @want came.
 */
static __u32 udp_count(int fd, __u32 want, int ms, size_t len, bool *wrong)
{
	__u32 n = 0;
	size_t got;

	while ((got = udp_wait(fd, n < want ? ms : QUIET_MS, NULL))) {
		if (got != len)
			*wrong = true;
		n++;
	}
	return n;
}

/* Sends REDIR_N frames of build_udp() for @dport on AF_PACKET socket @pkt (DEV_C). */
static void send_redir(struct __test_metadata *_metadata, struct _test_data_veth *self, int pkt,
		       __u16 dport, __u32 seq0)
{
	__u8 buf[FRAME_MAX];
	__u32 i;
	ssize_t n;

	for (i = 0; i < REDIR_N; i++) {
		build_udp(self, buf, dport, SMALL_LEN, seq0 + i);
		n = send(pkt, buf, SMALL_LEN, 0);
		ASSERT_EQ((ssize_t)SMALL_LEN, n) TH_LOG("send on " DEV_C ": %s", strerror(errno));
	}
}

/*
 * ndo_xdp_xmit into a veth queue that has a channel is refused (EBUSY, the
 * rst): frames that an XDP program elsewhere redirects into vja would
 * otherwise reach vjb's queue past the channel and its filters.  A second
 * pair vjc -> vjd, with an XDP program on vjd that redirects every frame
 * to vja; vjb has GRO on, so that veth takes XDP frames (NAPI) without an
 * XDP program on vjb, which a channel would exclude.  Without a channel the
 * redirected frames reach vjb's UDP sockets; with a channel on each of
 * vjb's queues (veth picks the queue by CPU) neither the ring nor the stack
 * gets any of them, matching its filter or not, and vja counts each in its
 * tx_dropped (veth_ndo_xdp_xmit()); frames vja sends the ordinary way still
 * reach the channel.  After close, redirected frames flow again.
 */
TEST_F_TIMEOUT(veth, xdp_redirect_into_bound_queue_refused, XDP_TIMEOUT)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
	struct sock_filter drop_all = BPF_STMT(BPF_RET | BPF_K, 0);
	struct sock_fprog fprog = { .len = 1, .filter = &drop_all };
	struct vj_statistics st0, st1;
	int prog, ifd, pkt, udp_ch, udp_st, fd2, err, chg, on;
	long long drop0, drop1;
	struct vj_ring r1;
	bool wrong = false;
	__u32 n;
	size_t dlen = SMALL_LEN - ETH_HLEN - 28;

	memset(&r1, 0, sizeof(r1));
	if (run("ip link add " DEV_C " numtxqueues 1 numrxqueues 1 type veth peer name " DEV_D
		" numtxqueues 1 numrxqueues 1"))
		SKIP(return, "cannot create a second veth pair");
	ASSERT_EQ(0, run("ip link set dev " DEV_C " up && ip link set dev " DEV_D " up"));
	ifd = if_nametoindex(DEV_D);
	ASSERT_NE(0, ifd);

	prog = xdp_redirect_prog(self->ifa);
	err = errno;
	if (prog < 0 && bpf_missing(err))
		SKIP(return, "bpf(BPF_PROG_LOAD) of an XDP program: %s", strerror(err));
	ASSERT_LE(0, prog) TH_LOG("bpf(BPF_PROG_LOAD) of bpf_redirect(%d): %s", self->ifa,
				  strerror(err));
	ASSERT_EQ(0, vj_xdp_attach_nl(ifd, prog, XDP_FLAGS_DRV_MODE))
		TH_LOG("XDP (driver mode) on " DEV_D ": %s", strerror(errno));

	/* NAPI on vjb without XDP there: GRO. */
	if (vj_feature_get(DEV_B, "rx-gro", &chg, &on) || !chg)
		SKIP(return, "rx-gro of " DEV_B " cannot change");
	ASSERT_LE(0, vj_feature_set(DEV_B, "rx-gro", 1));
	ASSERT_EQ(0, vj_feature_get(DEV_B, "rx-gro", &chg, &on));
	ASSERT_EQ(1, on) TH_LOG("GRO is still off on " DEV_B);

	pkt = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	ASSERT_LE(0, pkt) TH_LOG("AF_PACKET: %s", strerror(errno));
	ASSERT_EQ(0, setsockopt(pkt, SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof(fprog)));
	sll.sll_ifindex = if_nametoindex(DEV_C);
	ASSERT_EQ(0, bind(pkt, (struct sockaddr *)&sll, sizeof(sll)));
	udp_ch = veth_udp_socket(_metadata, PORT_CH);
	udp_st = veth_udp_socket(_metadata, PORT_STACK);

	/* The reference: no channel, the redirected frames reach vjb's stack. */
	send_redir(_metadata, self, pkt, PORT_CH, 0);
	n = udp_count(udp_ch, REDIR_N, WAIT_MS, dlen, &wrong);
	ASSERT_EQ((__u32)REDIR_N, n)
		TH_LOG("without a channel %u of %d redirected frames reached vjb's UDP socket",
		       n, REDIR_N);

	/* A channel on each of vjb's queues. */
	veth_channel(_metadata, self, self->fd, 0, PORT_CH, &self->r);
	fd2 = vj_open();
	ASSERT_LE(0, fd2);
	veth_channel(_metadata, self, fd2, 1, PORT_CH, &r1);
	drop0 = dev_tx_dropped(DEV_A);
	send_redir(_metadata, self, pkt, PORT_CH, 100);
	send_redir(_metadata, self, pkt, PORT_STACK, 200);
	EXPECT_EQ(0U, udp_count(udp_ch, 0, 0, dlen, &wrong))
		TH_LOG("a redirected frame for the channel's port reached the UDP socket");
	EXPECT_EQ(0U, udp_count(udp_st, 0, 0, dlen, &wrong))
		TH_LOG("a redirected frame for another port reached the UDP socket");
	EXPECT_EQ(0U, vj_ring_avail(&self->r)) TH_LOG("a redirected frame in queue 0's ring");
	EXPECT_EQ(0U, vj_ring_avail(&r1)) TH_LOG("a redirected frame in queue 1's ring");
	ASSERT_EQ(0, vj_read_stats(self->fd, &st0));
	ASSERT_EQ(0, vj_read_stats(fd2, &st1));
	EXPECT_EQ(0U, st0.rx_packets + st1.rx_packets);
	EXPECT_EQ(0U, st0.rx_stack + st1.rx_stack) TH_LOG("the channels saw redirected frames");
	drop1 = dev_tx_dropped(DEV_A);
	if (drop0 >= 0 && drop1 >= 0) {
		EXPECT_EQ(drop0 + 2 * REDIR_N, drop1)
			TH_LOG(DEV_A " tx_dropped %lld -> %lld for %d refused frames", drop0, drop1,
			       2 * REDIR_N);
	} else {
		TH_LOG("no tx_dropped of " DEV_A " in /proc/net/dev: drops not counted");
	}

	/* Frames vja sends itself still reach the channel on queue 0. */
	send_udp(_metadata, self, PORT_CH, SMALL_LEN, 300);
	EXPECT_EQ(1U, vj_ring_wait(&self->r, 1, WAIT_MS)) TH_LOG("the channel got no frame");

	/* The channels are gone: redirected frames flow again. */
	vj_ring_unmap(&r1);
	EXPECT_EQ(0, close(fd2));
	vj_ring_unmap(&self->r);
	EXPECT_EQ(0, close(self->fd));
	self->fd = -1;
	send_redir(_metadata, self, pkt, PORT_CH, 400);
	n = udp_count(udp_ch, REDIR_N, WAIT_MS, dlen, &wrong);
	EXPECT_EQ((__u32)REDIR_N, n) TH_LOG("after close %u of %d redirected frames arrived", n,
					    REDIR_N);
	EXPECT_FALSE(wrong) TH_LOG("a datagram of the wrong length");

	EXPECT_EQ(0, vj_xdp_attach_nl(ifd, -1, XDP_FLAGS_DRV_MODE));
	close(udp_st);
	close(udp_ch);
	close(pkt);
	close(prog);
}

/* The ring's status word, or NULL if this kernel has none. */
static __u32 *ring_status(int fd, const struct vj_ring *r)
{
	if (!(vj_read_features(fd) & VJ_FEATURE_STATUS) || !r->off.status ||
	    r->off.status + 4 > r->size)
		return NULL;
	return (__u32 *)(r->map + r->off.status);
}

static __u32 status_of(const __u32 *status)
{
	return __atomic_load_n(status, __ATOMIC_RELAXED);
}

/*
 * A ring that user space does not drain fills up on veth: a matching frame
 * that finds no free buffer is dropped and counted in rx_ring_full, once
 * per frame, and nothing overwrites a published slot.  veth takes a buffer
 * per frame and needs no kick: once the consumer releases slots, the next
 * frame is published without any system call.  VJ_RING_STATUS_NEED_KICK may
 * show on veth (the rst); poll() clears it, and it stays clear while the
 * ring has room.
 */
TEST_F_TIMEOUT(veth, ring_full_drops_counted_no_kick_needed, 120)
{
	struct pollfd pfd = { .events = POLLIN };
	struct vj_statistics st;
	__u32 *status, i, pub, limit;
	const __u8 *f;
	__u32 flen, seq;

	veth_channel(_metadata, self, self->fd, 0, PORT_CH, &self->r);
	status = ring_status(self->fd, &self->r);
	if (!status)
		SKIP(return, "no ring status word (VJ_FEATURE_STATUS)");
	EXPECT_EQ(0U, status_of(status) & VJ_RING_STATUS_NEED_KICK);

	/* Fill it: each send goes through veth_xmit() before it returns. */
	limit = self->r.off.nr_slots + 8;
	for (i = 0; i < limit; i++) {
		send_udp(_metadata, self, PORT_CH, SMALL_LEN, i);
		ASSERT_EQ(0, vj_read_stats(self->fd, &st));
		if (st.rx_ring_full)
			break;
	}
	ASSERT_GT(limit, i) TH_LOG("%u frames sent, none dropped for a full ring", limit);
	pub = vj_ring_avail(&self->r);
	TH_LOG("the ring took %u frames (%u slots); frame %u was dropped", pub,
	       self->r.off.nr_slots, i);
	EXPECT_EQ(i, pub);
	EXPECT_EQ((__u64)pub, st.rx_packets);
	EXPECT_EQ(1U, st.rx_ring_full);
	EXPECT_GE(self->r.off.nr_slots, pub);
	TH_LOG("VJ_RING_STATUS_NEED_KICK with the ring full on veth: %s",
	       status_of(status) & VJ_RING_STATUS_NEED_KICK ? "set" : "clear");

	/* More frames: each dropped and counted, the published ones untouched. */
	for (i = 0; i < 3; i++)
		send_udp(_metadata, self, PORT_CH, SMALL_LEN, 1000 + i);
	ASSERT_EQ(0, vj_read_stats(self->fd, &st));
	EXPECT_EQ(4U, st.rx_ring_full);
	EXPECT_EQ(pub, vj_ring_avail(&self->r));
	f = vj_ring_frame(&self->r, self->r.next, &flen);
	ASSERT_NE(NULL, f);
	memcpy(&seq, f + ETH_HLEN + 28, sizeof(seq));
	EXPECT_EQ(0U, seq) TH_LOG("the oldest slot holds frame %u, not 0", seq);
	EXPECT_EQ((__u32)SMALL_LEN, flen);

	/* Release everything, no system call: the next frame is published. */
	self->r.next += pub;
	vj_ring_release(&self->r);
	send_udp(_metadata, self, PORT_CH, SMALL_LEN, 2000);
	EXPECT_EQ(1U, vj_ring_avail(&self->r))
		TH_LOG("veth needed a kick: no frame after the consumer released slots");
	ASSERT_EQ(0, vj_read_stats(self->fd, &st));
	EXPECT_EQ(4U, st.rx_ring_full);

	/* poll() clears the bit (set or not); it stays clear with room in the ring. */
	pfd.fd = self->fd;
	EXPECT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_EQ(0U, status_of(status) & VJ_RING_STATUS_NEED_KICK)
		TH_LOG("NEED_KICK still set after poll() with free buffers");
	send_udp(_metadata, self, PORT_CH, SMALL_LEN, 2001);
	EXPECT_EQ(2U, vj_ring_avail(&self->r));
	EXPECT_EQ(0U, status_of(status) & VJ_RING_STATUS_NEED_KICK);
}

/* ================================================================== */
/* virtio-net: the harness NIC                                         */

FIXTURE(vnet)
{
	char ifname[IF_NAMESIZE];
	int ifindex;
	int mtu0;		/* the MTU at setup, restored by the teardown */
	bool ready;
};

/* A channel on queue 0 of @ifindex for IPv4 UDP to VNET_PORT: its fd. */
static int vnet_channel(struct __test_metadata *_metadata, int ifindex, const char *ifname,
			__u32 queue, __u16 port, struct vj_ring *r)
{
	struct vj_filter f = vj_port_filter(AF_INET, IPPROTO_UDP, port);
	int fd = vj_open();

	ASSERT_LE(0, fd) TH_LOG("socket(PF_VJCHAN): %s", strerror(errno));
	ASSERT_EQ(0, vj_filter_op(fd, VJ_ADD_FILTER, &f)) TH_LOG("VJ_ADD_FILTER: %s",
								 strerror(errno));
	ASSERT_EQ(0, vj_bind_queue(fd, ifindex, queue))
		TH_LOG("bind %s queue %u: %s", ifname, queue, strerror(errno));
	if (r)
		ASSERT_EQ(0, vj_ring_map(fd, r)) TH_LOG("map the ring: %s", strerror(errno));
	return fd;
}

/* Brings @ifname up with no IPv6 (no chatter of the guest's own). */
static int nic_up(const char *ifname)
{
	char path[128];

	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", ifname);
	write_file(path, "1");
	return run("ip link set dev %s up", ifname);
}

FIXTURE_SETUP(vnet)
{
	static const __u8 mac[ETH_ALEN] = VNET_MAC;
	int fd;

	self->ready = false;
	self->ifindex = vj_find_nic_by_mac(mac, self->ifname);
	if (!self->ifindex)
		SKIP(return, "no NIC with MAC " VNET_MAC_STR ": not in the vjchan QEMU harness");
	fd = vj_open();
	if (fd < 0 && errno == EAFNOSUPPORT)
		SKIP(return, "PF_VJCHAN not supported (CONFIG_VJCHAN=n)");
	ASSERT_LE(0, fd) TH_LOG("socket: %s", strerror(errno));
	close(fd);
	if (run("ip -V >/dev/null 2>&1"))
		SKIP(return, "ip (iproute2) not found");
	ASSERT_EQ(0, nic_up(self->ifname));
	self->mtu0 = vj_get_mtu(self->ifname);
	ASSERT_LT(0, self->mtu0) TH_LOG("SIOCGIFMTU %s: %s", self->ifname, strerror(errno));
	self->ready = true;
}

/* In the parent, after the test's process is gone (with its channels):
 * the NIC is shared with the tests that come after.
 */
FIXTURE_TEARDOWN_PARENT(vnet)
{
	if (!self->ready)
		return;
	if (vj_get_mtu(self->ifname) != self->mtu0) {
		EXPECT_EQ(0, vj_set_mtu(self->ifname, self->mtu0))
			TH_LOG("restore the MTU of %s: %s", self->ifname, strerror(errno));
	}
}

/*
 * With a channel bound, the MTU cannot change (EBUSY): the channel's
 * buffers were checked against it.  Once the channel is gone it can.
 */
TEST_F(vnet, mtu_change_refused_while_bound)
{
	struct vj_ring r;
	int fd, ret, err;

	fd = vnet_channel(_metadata, self->ifindex, self->ifname, 0, VNET_PORT, &r);
	ret = vj_set_mtu(self->ifname, self->mtu0 - 100);
	err = errno;
	EXPECT_EQ(-1, ret) TH_LOG("MTU of %s lowered with a channel bound", self->ifname);
	EXPECT_EQ(EBUSY, err) TH_LOG("SIOCSIFMTU %d: %s, not EBUSY", self->mtu0 - 100,
				     strerror(err));
	ret = vj_set_mtu(self->ifname, self->mtu0 + 100);
	err = errno;
	EXPECT_EQ(-1, ret) TH_LOG("MTU of %s raised with a channel bound", self->ifname);
	EXPECT_EQ(EBUSY, err) TH_LOG("SIOCSIFMTU %d: %s, not EBUSY", self->mtu0 + 100,
				     strerror(err));
	EXPECT_EQ(self->mtu0, vj_get_mtu(self->ifname));

	vj_ring_unmap(&r);
	ASSERT_EQ(0, close(fd));
	EXPECT_EQ(0, vj_set_mtu(self->ifname, self->mtu0 - 100))
		TH_LOG("SIOCSIFMTU %d after close: %s", self->mtu0 - 100, strerror(errno));
	EXPECT_EQ(self->mtu0 - 100, vj_get_mtu(self->ifname));
	EXPECT_EQ(0, vj_set_mtu(self->ifname, self->mtu0))
		TH_LOG("SIOCSIFMTU %d: %s", self->mtu0, strerror(errno));
}

/*
 * A channel's buffers hold 1792 bytes of frame: at an MTU of 1800 (frames
 * of up to 1800 + 14 + 4 bytes) bind fails with EMSGSIZE; back at the
 * normal MTU it succeeds.
 */
TEST_F(vnet, bind_refused_mtu_over_frame_buffer)
{
	struct vj_filter f = vj_port_filter(AF_INET, IPPROTO_UDP, VNET_PORT);
	int fd, ret, err;

	if (vj_set_mtu(self->ifname, BIG_MTU))
		SKIP(return, "SIOCSIFMTU %d on %s: %s (the device's max_mtu; QEMU's host_mtu?)",
		     BIG_MTU, self->ifname, strerror(errno));
	fd = vj_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, vj_filter_op(fd, VJ_ADD_FILTER, &f));
	ret = vj_bind_queue(fd, self->ifindex, 0);
	err = errno;
	EXPECT_EQ(-1, ret) TH_LOG("channel bound to %s at MTU %d", self->ifname, BIG_MTU);
	EXPECT_EQ(EMSGSIZE, err) TH_LOG("bind at MTU %d: %s, not EMSGSIZE", BIG_MTU,
					strerror(err));
	ASSERT_EQ(0, close(fd));

	ASSERT_EQ(0, vj_set_mtu(self->ifname, self->mtu0));
	fd = vnet_channel(_metadata, self->ifindex, self->ifname, 0, VNET_PORT, NULL);
	EXPECT_EQ(0, close(fd));
}

/* ================================================================== */
/* Multi-queue virtio-net and ci/mq-peer.py                            */

FIXTURE(vnet_mq)
{
	char ifname[IF_NAMESIZE];
	int ifindex;
	__u8 mac[ETH_ALEN];
	int req;		/* AF_PACKET socket that sends requests */
	int ans;		/* AF_PACKET socket for ETH_P_MQANS answers */
	int udp;		/* UDP socket on MQ_ADDR_GUEST:MQ_PORT */
	__u16 id;		/* of the last request */
	__u32 combined0;	/* queue pairs at setup: restored */
	int gro0;		/* rx-gro-hw at setup, -1: not looked at */
	bool ready;
	bool pm_test_set;	/* /sys/power/pm_test to be reset */
};

/* What a burst of flows brought. */
struct mq_count {
	__u32 ring;		/* frames in the channel's ring */
	__u32 stack;		/* datagrams on the UDP socket */
};

static void put_be16(__u8 *p, __u16 v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static void put_be32(__u8 *p, __u32 v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static __u16 get_be16(const __u8 *p)
{
	return p[0] << 8 | p[1];
}

static __u32 get_be32(const __u8 *p)
{
	return (__u32)p[0] << 24 | (__u32)p[1] << 16 | (__u32)p[2] << 8 | p[3];
}

/* Sends request self->id of @op to the peer, for @port (and from @sport, ops 3 and 4). */
static void mq_request_to(struct __test_metadata *_metadata, struct _test_data_vnet_mq *self,
			  __u8 op, __u32 count, __u16 port, __u16 sport)
{
	struct pollfd pfd = { .fd = self->req, .events = POLLOUT };
	__u8 buf[MQ_REQ_LEN] = { 0 };
	ssize_t n;

	memset(buf, 0xff, ETH_ALEN);
	memcpy(buf + ETH_ALEN, self->mac, ETH_ALEN);
	put_be16(buf + 12, ETH_P_MQREQ);
	memcpy(buf + ETH_HLEN, "VJMQ", 4);
	buf[ETH_HLEN + 4] = op;
	put_be16(buf + ETH_HLEN + 6, self->id);
	put_be32(buf + ETH_HLEN + 8, count);
	put_be16(buf + ETH_HLEN + 12, port);
	put_be16(buf + ETH_HLEN + 14, sport);
	ASSERT_EQ(1, poll(&pfd, 1, WAIT_MS)) TH_LOG("packet socket not writable");
	n = send(self->req, buf, sizeof(buf), 0);
	ASSERT_EQ((ssize_t)sizeof(buf), n) TH_LOG("send request: %s", strerror(errno));
}

/* A new request of @op for MQ_PORT. */
static void mq_request(struct __test_metadata *_metadata, struct _test_data_vnet_mq *self,
		       __u8 op, __u32 count)
{
	self->id++;
	mq_request_to(_metadata, self, op, count, MQ_PORT, 0);
}

/* The flow number of a payload of the peer's answer to the last request,
 * -1 if it is not one, -2 if it is one but its bytes are wrong.
 */
static int mq_flow_of(struct _test_data_vnet_mq *self, const __u8 *p, size_t len, __u32 count)
{
	__u32 seq, i;

	if (len != MQ_PAYLOAD || memcmp(p, "VJMQ", 4) || get_be16(p + 4) != self->id)
		return -1;
	seq = get_be32(p + 8);
	if (seq >= count)
		return -2;
	for (i = 12; i < MQ_PAYLOAD; i++)
		if (p[i] != (__u8)(i + seq))
			return -2;
	return (int)seq;
}

/*
 * Checks a frame of the peer in a ring: IPv4 (no options) and UDP to
 * MQ_PORT with valid, complete checksums (a channel gets complete frames).
 * NULL, or what is wrong; the UDP payload in @pl and @plen.
 */
static const char *mq_frame_check(const __u8 *f, size_t len, const __u8 **pl, size_t *plen)
{
	const __u8 *ip = f + ETH_HLEN, *udp = ip + 20;
	__u8 pseudo[12];
	size_t iplen;

	if (len < ETH_HLEN + 28 || get_be16(f + 12) != ETH_P_IP || ip[0] != 0x45 ||
	    ip[9] != IPPROTO_UDP)
		return "not IPv4/UDP without options";
	iplen = get_be16(ip + 2);
	if (iplen < 28 || ETH_HLEN + iplen > len || get_be16(udp + 4) != iplen - 20)
		return "IPv4 or UDP length wrong";
	if (get_be16(udp + 2) != MQ_PORT)
		return "not to MQ_PORT";
	if (sum16(0, ip, 20) != 0xffff)
		return "IPv4 header checksum";
	memcpy(pseudo, ip + 12, 8);
	pseudo[8] = 0;
	pseudo[9] = IPPROTO_UDP;
	memcpy(pseudo + 10, udp + 4, 2);
	if (!get_be16(udp + 6) || sum16(sum16(0, pseudo, 12), udp, iplen - 20) != 0xffff)
		return "UDP checksum incomplete or wrong";
	*pl = udp + 8;
	*plen = iplen - 28;
	return NULL;
}

/*
 * Asks the peer for @count frames of distinct flows to MQ_PORT and counts
 * where they arrive: in the ring @r (if it is mapped: a channel with a
 * filter for MQ_PORT) or on the UDP socket.  Each frame is checked; frames
 * of earlier requests are ignored.  Asks again (at most MQ_TRIES times in
 * all) if nothing came.
 */
static void mq_flows(struct __test_metadata *_metadata, struct _test_data_vnet_mq *self,
		     struct vj_ring *r, __u32 count, struct mq_count *c)
{
	bool seen[MQ_FLOWS] = { false };
	__u8 buf[FRAME_MAX];
	const __u8 *f, *pl;
	const char *why;
	size_t plen;
	__u64 last;
	int tries = 1, seq;
	__u32 flen;
	ssize_t n;
	bool got;

	ASSERT_GE((__u32)MQ_FLOWS, count);
	memset(c, 0, sizeof(*c));
	mq_request(_metadata, self, MQ_OP_FLOWS, count);
	last = now_ns();
	while (c->ring + c->stack < count) {
		got = false;
		while (r && r->map && vj_ring_avail(r)) {
			f = vj_ring_frame(r, r->next, &flen);
			ASSERT_NE(NULL, f) TH_LOG("ring index %u: bad descriptor", r->next);
			why = mq_frame_check(f, flen, &pl, &plen);
			EXPECT_EQ(NULL, why) TH_LOG("a %u-byte frame in the ring: %s", flen, why);
			seq = why ? -1 : mq_flow_of(self, pl, plen, count);
			EXPECT_NE(-2, seq) TH_LOG("a frame of flow %u is wrong", get_be32(pl + 8));
			if (seq >= 0 && !seen[seq]) {
				seen[seq] = true;
				c->ring++;
				got = true;
			}
			r->next++;
		}
		if (r && r->map)
			vj_ring_release(r);
		while ((n = recv(self->udp, buf, sizeof(buf), MSG_DONTWAIT)) >= 0) {
			seq = mq_flow_of(self, buf, n, count);
			EXPECT_NE(-2, seq) TH_LOG("a datagram of flow %u is wrong",
						  get_be32(buf + 8));
			if (seq >= 0 && !seen[seq]) {
				seen[seq] = true;
				c->stack++;
				got = true;
			}
		}
		if (got)
			last = now_ns();
		if (now_ns() - last > MQ_QUIET_MS * 1000000ULL) {
			if (c->ring + c->stack || tries >= MQ_TRIES)
				break;
			/* Nothing at all: the request may be lost. */
			tries++;
			mq_request(_metadata, self, MQ_OP_FLOWS, count);
			last = now_ns();
		}
		usleep(1000);
	}
	TH_LOG("%u flows asked for: %u in the ring, %u on the UDP socket (%d requests)",
	       count, c->ring, c->stack, tries);
	ASSERT_LT(0U, c->ring + c->stack)
		TH_LOG("nothing from the host (no ci/mq-peer.py on the tap?)");
}

/* Asks the peer for its tap's offloads: 0, or -1 if no answer came. */
static int mq_features(struct __test_metadata *_metadata, struct _test_data_vnet_mq *self,
		       int *tso, int *csum)
{
	struct pollfd pfd = { .fd = self->ans, .events = POLLIN };
	__u8 buf[FRAME_MAX];
	const __u8 *p;
	int tries;
	ssize_t n;

	for (tries = 0; tries < MQ_TRIES; tries++) {
		mq_request(_metadata, self, MQ_OP_FEATURES, 1);
		while (poll(&pfd, 1, WAIT_MS) == 1) {
			n = recv(self->ans, buf, sizeof(buf), MSG_DONTWAIT);
			p = buf + ETH_HLEN;
			if (n < ETH_HLEN + 12 || get_be16(buf + 12) != ETH_P_MQANS ||
			    memcmp(p, "VJMQ", 4) || p[4] != MQ_OP_FEATURES ||
			    get_be16(p + 6) != self->id)
				continue;
			if (!p[8])
				return -1;	/* the peer could not tell */
			*tso = p[9];
			*csum = p[10];
			return 0;
		}
	}
	return -1;
}

/* The attributes after the generic netlink header of message @nh. */
#define GENL_ATTRS(nh)	((struct nlattr *)((char *)NLMSG_DATA(nh) + GENL_HDRLEN))
#define GENL_ATTRLEN(nh) ((int)(nh)->nlmsg_len - (int)NLMSG_LENGTH(GENL_HDRLEN))
#define NLA_DATA(a)	((void *)((char *)(a) + NLA_HDRLEN))

/* Whether attribute @a lies within the @len bytes left. */
static bool nla_ok(const struct nlattr *a, int len)
{
	return len >= (int)NLA_HDRLEN && a->nla_len >= NLA_HDRLEN && a->nla_len <= len;
}

/* The attribute after @a, with @len reduced by @a's size. */
static struct nlattr *nla_next(const struct nlattr *a, int *len)
{
	*len -= NLA_ALIGN(a->nla_len);
	return (struct nlattr *)((char *)a + NLA_ALIGN(a->nla_len));
}

/* Appends attribute @type of @len bytes at @data to message @nh. */
static void nl_put(struct nlmsghdr *nh, __u16 type, const void *data, __u16 len)
{
	struct nlattr *a = (struct nlattr *)((char *)nh + NLMSG_ALIGN(nh->nlmsg_len));

	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	memcpy(NLA_DATA(a), data, len);
	nh->nlmsg_len = NLMSG_ALIGN(nh->nlmsg_len) + NLA_ALIGN(a->nla_len);
}

/* The id of generic netlink family @name, or -1. */
static int genl_family(int sock, const char *name)
{
	struct {
		struct nlmsghdr nh;
		struct genlmsghdr g;
		char attrs[64];
	} req = { 0 };
	char ans[8192];
	struct nlmsghdr *nh = (struct nlmsghdr *)ans;
	struct nlattr *a;
	ssize_t n;
	int len;

	req.nh.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN);
	req.nh.nlmsg_type = GENL_ID_CTRL;
	req.nh.nlmsg_flags = NLM_F_REQUEST;
	req.g.cmd = CTRL_CMD_GETFAMILY;
	req.g.version = 1;
	nl_put(&req.nh, CTRL_ATTR_FAMILY_NAME, name, strlen(name) + 1);
	if (send(sock, &req, req.nh.nlmsg_len, 0) < 0)
		return -1;
	n = recv(sock, ans, sizeof(ans), 0);
	if (n < 0 || !NLMSG_OK(nh, (size_t)n) || nh->nlmsg_type == NLMSG_ERROR)
		return -1;
	len = GENL_ATTRLEN(nh);
	for (a = GENL_ATTRS(nh); nla_ok(a, len); a = nla_next(a, &len))
		if ((a->nla_type & NLA_TYPE_MASK) == CTRL_ATTR_FAMILY_ID)
			return *(__u16 *)NLA_DATA(a);
	return -1;
}

/*
 * Packets receive queue @queue of @ifindex has passed to the stack, from the
 * netdev family's per-queue statistics (NETDEV_CMD_QSTATS_GET, scope queue,
 * what `ynl --family netdev --dump qstats-get` shows), or -1 if the device
 * or this kernel has none.
 */
static long long queue_rx_packets(int ifindex, __u32 queue)
{
	struct {
		struct nlmsghdr nh;
		struct genlmsghdr g;
		char attrs[64];
	} req = { 0 };
	__u32 scope = NETDEV_QSTATS_SCOPE_QUEUE, idx = ifindex;
	long long v = -1, pk;
	char ans[16384];
	struct nlmsghdr *nh;
	struct nlattr *a;
	int sock, fam, len, type, id;
	bool done = false;
	ssize_t n;

	sock = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (sock < 0)
		return -1;
	fam = genl_family(sock, NETDEV_FAMILY_NAME);
	if (fam < 0)
		goto out;
	req.nh.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN);
	req.nh.nlmsg_type = fam;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.g.cmd = NETDEV_CMD_QSTATS_GET;
	req.g.version = 1;
	nl_put(&req.nh, NETDEV_A_QSTATS_IFINDEX, &idx, sizeof(idx));
	nl_put(&req.nh, NETDEV_A_QSTATS_SCOPE, &scope, sizeof(scope));
	if (send(sock, &req, req.nh.nlmsg_len, 0) < 0)
		goto out;
	while (!done && (n = recv(sock, ans, sizeof(ans), 0)) > 0) {
		for (nh = (struct nlmsghdr *)ans; NLMSG_OK(nh, (size_t)n); nh = NLMSG_NEXT(nh, n)) {
			if (nh->nlmsg_type == NLMSG_DONE || nh->nlmsg_type == NLMSG_ERROR) {
				done = true;
				break;
			}
			type = -1;
			id = -1;
			pk = -1;
			len = GENL_ATTRLEN(nh);
			for (a = GENL_ATTRS(nh); nla_ok(a, len); a = nla_next(a, &len)) {
				void *d = NLA_DATA(a);

				switch (a->nla_type & NLA_TYPE_MASK) {
				case NETDEV_A_QSTATS_QUEUE_TYPE:
					type = *(__u32 *)d;
					break;
				case NETDEV_A_QSTATS_QUEUE_ID:
					id = *(__u32 *)d;
					break;
				case NETDEV_A_QSTATS_RX_PACKETS:
					pk = a->nla_len == NLA_HDRLEN + 8 ? (long long)*(__u64 *)d :
									      *(__u32 *)d;
					break;
				}
			}
			if (type == NETDEV_QUEUE_TYPE_RX && id == (int)queue && pk >= 0)
				v = pk;
		}
	}
out:
	close(sock);
	return v;
}

/* `ethtool -L @ifname combined @n`: 0, or -1 with errno. */
static int set_combined(const char *ifname, __u32 n)
{
	struct ethtool_channels ch;

	if (vj_get_channels(ifname, &ch))
		return -1;
	ch.combined_count = n;
	ch.rx_count = 0;
	ch.tx_count = 0;
	ch.other_count = 0;
	return vj_set_channels(ifname, &ch);
}

static __u32 get_combined(const char *ifname)
{
	struct ethtool_channels ch;

	return vj_get_channels(ifname, &ch) ? 0 : ch.combined_count;
}

FIXTURE_SETUP(vnet_mq)
{
	static const __u8 mac[ETH_ALEN] = MQ_MAC;
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(MQ_PORT) };
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };
	struct ethtool_channels ch;
	int fd, size = 1 << 20;

	self->ready = false;
	self->pm_test_set = false;
	self->gro0 = -1;
	self->req = -1;
	self->ans = -1;
	self->udp = -1;
	self->id = (__u16)(getpid() << 8);
	memcpy(self->mac, mac, ETH_ALEN);
	self->ifindex = vj_find_nic_by_mac(mac, self->ifname);
	if (!self->ifindex)
		SKIP(return, "no NIC with MAC " MQ_MAC_STR
		     ": no multi-queue NIC here (ci/tests.sh adds one when the host can make a tap)");
	fd = vj_open();
	if (fd < 0 && errno == EAFNOSUPPORT)
		SKIP(return, "PF_VJCHAN not supported (CONFIG_VJCHAN=n)");
	ASSERT_LE(0, fd) TH_LOG("socket: %s", strerror(errno));
	close(fd);
	if (run("ip -V >/dev/null 2>&1"))
		SKIP(return, "ip (iproute2) not found");
	ASSERT_EQ(0, vj_get_channels(self->ifname, &ch))
		TH_LOG("ETHTOOL_GCHANNELS %s: %s", self->ifname, strerror(errno));
	if (ch.max_combined < 2)
		SKIP(return, "%s has %u queue pair(s): not multi-queue", self->ifname,
		     ch.max_combined);
	self->combined0 = ch.combined_count;
	self->ready = true;
	/* An earlier test may have left one queue pair. */
	if (ch.combined_count != 2) {
		ASSERT_EQ(0, set_combined(self->ifname, 2)) TH_LOG("combined 2: %s",
								   strerror(errno));
	}
	ASSERT_EQ(0, nic_up(self->ifname));
	ASSERT_EQ(0, run("ip addr replace %s/%d dev %s", MQ_ADDR_GUEST, MQ_PREFIX,
			 self->ifname));

	self->req = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, self->req) TH_LOG("AF_PACKET: %s", strerror(errno));
	sll.sll_ifindex = self->ifindex;
	ASSERT_EQ(0, bind(self->req, (struct sockaddr *)&sll, sizeof(sll)));
	self->ans = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_MQANS));
	ASSERT_LE(0, self->ans) TH_LOG("AF_PACKET: %s", strerror(errno));
	sll.sll_protocol = htons(ETH_P_MQANS);
	ASSERT_EQ(0, bind(self->ans, (struct sockaddr *)&sll, sizeof(sll)));

	self->udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, self->udp);
	if (setsockopt(self->udp, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)))
		setsockopt(self->udp, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	inet_pton(AF_INET, MQ_ADDR_GUEST, &sin.sin_addr);
	ASSERT_EQ(0, bind(self->udp, (struct sockaddr *)&sin, sizeof(sin)))
		TH_LOG("bind udp %s:%u: %s", MQ_ADDR_GUEST, MQ_PORT, strerror(errno));
}

/* In the parent, after the test's process (and its channels) is gone. */
FIXTURE_TEARDOWN_PARENT(vnet_mq)
{
	int chg, on;

	if (self->pm_test_set)
		write_file("/sys/power/pm_test", "none");
	if (!self->ready)
		return;
	if (get_combined(self->ifname) != self->combined0) {
		EXPECT_EQ(0, set_combined(self->ifname, self->combined0))
			TH_LOG("restore combined %u on %s: %s", self->combined0, self->ifname,
			       strerror(errno));
	}
	/* Also when it looks right: a refused request stays wanted. */
	if (self->gro0 >= 0) {
		vj_feature_set(self->ifname, "rx-gro-hw", self->gro0);
		if (!vj_feature_get(self->ifname, "rx-gro-hw", &chg, &on)) {
			EXPECT_EQ(self->gro0, on) TH_LOG("rx-gro-hw of %s not restored",
							 self->ifname);
		}
	}
}

/*
 * The panic of issue 10: bind queue 1, `ethtool -L combined 1`, close,
 * `ethtool -L combined 2`, traffic on queue 1.  Now the first -L fails with
 * EBUSY and the channel goes on receiving; after close() it succeeds (a bind
 * to queue 1 then fails with EINVAL); after -L combined 2 traffic reaches
 * the stack through queue 1 (its netdev qstats count it), and a new channel
 * binds to queue 1 and receives.
 */
TEST_F_TIMEOUT(vnet_mq, set_channels_below_bound_queue_refused, MQ_TIMEOUT)
{
	long long q1_before, q1_after;
	struct mq_count c;
	struct vj_ring r;
	int fd, ret, err;

	fd = vnet_channel(_metadata, self->ifindex, self->ifname, 1, MQ_PORT, &r);
	mq_flows(_metadata, self, &r, MQ_FLOWS, &c);
	EXPECT_LT(0U, c.ring) TH_LOG("no flow reached queue 1 (does the host's tap spread them?)");

	ret = set_combined(self->ifname, 1);
	err = errno;
	EXPECT_EQ(-1, ret) TH_LOG("%s down to one queue pair with queue 1 bound", self->ifname);
	EXPECT_EQ(EBUSY, err) TH_LOG("combined 1: %s, not EBUSY", strerror(err));
	ASSERT_EQ(2U, get_combined(self->ifname)) TH_LOG("queue 1 went away under its channel");
	/* The channel still receives. */
	mq_flows(_metadata, self, &r, MQ_FLOWS, &c);
	EXPECT_LT(0U, c.ring) TH_LOG("the channel on queue 1 got nothing after the refused -L");

	vj_ring_unmap(&r);
	ASSERT_EQ(0, close(fd));
	ASSERT_EQ(0, set_combined(self->ifname, 1)) TH_LOG("combined 1 after close: %s",
							   strerror(errno));
	EXPECT_EQ(1U, get_combined(self->ifname));
	fd = vj_open();
	ASSERT_LE(0, fd);
	ret = vj_bind_queue(fd, self->ifindex, 1);
	err = errno;
	EXPECT_EQ(-1, ret) TH_LOG("bound to queue 1 of %s with one queue pair", self->ifname);
	EXPECT_EQ(EINVAL, err) TH_LOG("bind to a queue not in use: %s, not EINVAL",
				      strerror(err));
	EXPECT_EQ(0, close(fd));
	mq_flows(_metadata, self, NULL, MQ_FLOWS, &c);

	/* Queue 1 is back, and traffic on it goes to the stack. */
	ASSERT_EQ(0, set_combined(self->ifname, 2)) TH_LOG("combined 2: %s", strerror(errno));
	q1_before = queue_rx_packets(self->ifindex, 1);
	mq_flows(_metadata, self, NULL, MQ_FLOWS, &c);
	q1_after = queue_rx_packets(self->ifindex, 1);
	if (q1_before >= 0 && q1_after >= 0) {
		TH_LOG("queue 1 passed %lld packets to the stack", q1_after - q1_before);
		EXPECT_LT(q1_before, q1_after) TH_LOG("no frame on queue 1");
	} else {
		TH_LOG("no per-queue statistics (netdev qstats) for %s: queue 1 not counted",
		       self->ifname);
	}

	/* A new channel on queue 1 (the old kernel: EBUSY, with no channel). */
	fd = vnet_channel(_metadata, self->ifindex, self->ifname, 1, MQ_PORT, &r);
	mq_flows(_metadata, self, &r, MQ_FLOWS, &c);
	EXPECT_LT(0U, c.ring) TH_LOG("the new channel on queue 1 got nothing");
	vj_ring_unmap(&r);
	EXPECT_EQ(0, close(fd));
}

/*
 * With a channel bound, GRO_HW cannot change: the driver refuses with
 * EBUSY (the ioctl reports an unfulfilled wish and the kernel logs the
 * error), and the feature stays as it was.  Once the channel is gone it can.
 */
TEST_F_TIMEOUT(vnet_mq, gro_hw_change_refused_while_bound, MQ_TIMEOUT)
{
	char rec[1024];
	bool logged = false;
	int chg, on, now, fd, ret, kmsg;
	ssize_t n;

	if (vj_feature_get(self->ifname, "rx-gro-hw", &chg, &on))
		SKIP(return, "no rx-gro-hw feature on %s", self->ifname);
	if (!chg)
		SKIP(return, "rx-gro-hw of %s cannot change (no VIRTIO_NET_F_CTRL_GUEST_OFFLOADS)",
		     self->ifname);
	self->gro0 = on;

	fd = vnet_channel(_metadata, self->ifindex, self->ifname, 0, MQ_PORT, NULL);
	kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (kmsg >= 0)
		lseek(kmsg, 0, SEEK_END);
	ret = vj_feature_set(self->ifname, "rx-gro-hw", !on);
	TH_LOG("rx-gro-hw %s with a channel bound: ioctl returned %d (%s)", on ? "off" : "on",
	       ret, ret < 0 ? strerror(errno) : ret ? "not done" : "done");
	EXPECT_NE(0, ret) TH_LOG("rx-gro-hw of %s changed with a channel bound", self->ifname);
	ASSERT_EQ(0, vj_feature_get(self->ifname, "rx-gro-hw", &chg, &now));
	EXPECT_EQ(on, now);
	if (kmsg >= 0) {
		while ((n = read(kmsg, rec, sizeof(rec) - 1)) > 0 || (n < 0 && errno == EPIPE)) {
			if (n <= 0)
				continue;
			rec[n] = 0;
			if (strstr(rec, self->ifname) && strstr(rec, "set_features() failed (-16)"))
				logged = true;
		}
		close(kmsg);
		EXPECT_TRUE(logged) TH_LOG("no \"set_features() failed (-16)\" (EBUSY) from %s",
					   self->ifname);
	}

	ASSERT_EQ(0, close(fd));
	EXPECT_EQ(0, vj_feature_set(self->ifname, "rx-gro-hw", !on))
		TH_LOG("rx-gro-hw %s after close: not done", on ? "off" : "on");
	ASSERT_EQ(0, vj_feature_get(self->ifname, "rx-gro-hw", &chg, &now));
	EXPECT_EQ(!on, now);
	EXPECT_EQ(0, vj_feature_set(self->ifname, "rx-gro-hw", on));
	ASSERT_EQ(0, vj_feature_get(self->ifname, "rx-gro-hw", &chg, &now));
	EXPECT_EQ(on, now);
}

/*
 * While a channel is bound the guest offloads are off, so that the device
 * writes only complete frames into the ring; after it they are back.  What
 * the guest driver sets, QEMU passes to the host's tap (TUNSETOFFLOAD): the
 * peer reports the tap's TSO and checksum offload.
 */
TEST_F_TIMEOUT(vnet_mq, guest_offloads_off_while_bound, MQ_TIMEOUT)
{
	int tso0, csum0, tso, csum, fd;
	struct mq_count c;
	struct vj_ring r;

	ASSERT_EQ(0, mq_features(_metadata, self, &tso0, &csum0))
		TH_LOG("no answer about the offloads (no ci/mq-peer.py on the tap?)");
	TH_LOG("without a channel: the host's tap has TSO %s, checksum offload %s",
	       tso0 ? "on" : "off", csum0 ? "on" : "off");
	if (!tso0 && !csum0)
		SKIP(return, "the guest offloads are off without a channel: nothing to see");

	fd = vnet_channel(_metadata, self->ifindex, self->ifname, 0, MQ_PORT, &r);
	ASSERT_EQ(0, mq_features(_metadata, self, &tso, &csum));
	EXPECT_EQ(0, tso) TH_LOG("TSO still on with a channel bound");
	EXPECT_EQ(0, csum) TH_LOG("checksum offload still on with a channel bound");
	/* The frames the channel gets are complete (mq_flows checks them). */
	mq_flows(_metadata, self, &r, MQ_FLOWS, &c);

	vj_ring_unmap(&r);
	ASSERT_EQ(0, close(fd));
	ASSERT_EQ(0, mq_features(_metadata, self, &tso, &csum));
	EXPECT_EQ(tso0, tso) TH_LOG("TSO not restored after close");
	EXPECT_EQ(csum0, csum) TH_LOG("checksum offload not restored after close");
}

/*
 * Ordinary traffic of the host's own stack through a bound queue (issue 10,
 * item 1, on virtio-net): a TCP stream and UDP datagrams that the host sends
 * through its tap with the offloads the tap has (TSO and checksum offload,
 * as the guest driver enables them).  Bind clears the guest offloads, so the
 * host's tap must segment and checksum: every frame the device writes is a
 * complete frame of at most MTU + 14 bytes.  The flow's frames all go to one
 * tap queue, chosen by the host: a channel is bound on each queue pair.
 */

/* A channel with one IPv4 filter for @proto to @port on each queue pair. */
static void mq_channels(struct __test_metadata *_metadata, struct _test_data_vnet_mq *self,
			__u8 proto, __u16 port, int fd[2], struct vj_ring r[2])
{
	struct vj_filter f = vj_port_filter(AF_INET, proto, port);
	__u32 q;

	for (q = 0; q < 2; q++) {
		fd[q] = vj_open();
		ASSERT_LE(0, fd[q]) TH_LOG("socket(PF_VJCHAN): %s", strerror(errno));
		ASSERT_EQ(0, vj_filter_op(fd[q], VJ_ADD_FILTER, &f))
			TH_LOG("VJ_ADD_FILTER: %s", strerror(errno));
		ASSERT_EQ(0, vj_bind_queue(fd[q], self->ifindex, q))
			TH_LOG("bind %s queue %u: %s", self->ifname, q, strerror(errno));
		ASSERT_EQ(0, vj_ring_map(fd[q], &r[q])) TH_LOG("map the ring: %s", strerror(errno));
	}
}

static void mq_channels_close(struct __test_metadata *_metadata, int fd[2], struct vj_ring r[2])
{
	int q;

	for (q = 0; q < 2; q++) {
		vj_ring_unmap(&r[q]);
		EXPECT_EQ(0, close(fd[q]));
	}
}

/* The sum of both channels' statistics. */
static void mq_stats(struct __test_metadata *_metadata, int fd[2], struct vj_statistics *sum)
{
	struct vj_statistics st;
	int q;

	memset(sum, 0, sizeof(*sum));
	for (q = 0; q < 2; q++) {
		ASSERT_EQ(0, vj_read_stats(fd[q], &st)) TH_LOG("VJ_STATISTICS: %s",
							       strerror(errno));
		TH_LOG("queue %d: rx_packets %llu rx_stack %llu rx_copies %llu", q,
		       (unsigned long long)st.rx_packets, (unsigned long long)st.rx_stack,
		       (unsigned long long)st.rx_copies);
		TH_LOG("queue %d: rx_ring_full %llu rx_bad_length %llu rx_nomem %llu", q,
		       (unsigned long long)st.rx_ring_full, (unsigned long long)st.rx_bad_length,
		       (unsigned long long)st.rx_nomem);
		sum->rx_packets += st.rx_packets;
		sum->rx_stack += st.rx_stack;
		sum->rx_copies += st.rx_copies;
		sum->rx_ring_full += st.rx_ring_full;
		sum->rx_bad_length += st.rx_bad_length;
	}
}

/* The descriptor of index @idx. */
static struct vj_desc mq_desc(const struct vj_ring *r, __u32 idx)
{
	const struct vj_ring_offsets *o = &r->off;
	struct vj_desc d;

	memcpy(&d, r->map + o->desc + (size_t)(idx & (o->nr_slots - 1)) * o->desc_size,
	       sizeof(d));
	return d;
}

/* What the checks of a ring's frames saw. */
struct mq_ring_seen {
	__u32 frames;		/* frames taken from the rings */
	__u32 bad;		/* of them, incomplete or wrong */
	__u32 csum_ok;		/* with VJ_DESC_F_CSUM_OK */
	__u32 longest;
};

/*
 * Checks frame @idx of ring @r: IPv4/@proto to @port from MQ_ADDR_HOST, no
 * VLAN tag, at most @mtu + 14 bytes, both checksums complete and valid, and
 * descriptor flags that are consistent (no time stamp, none asked for; a
 * hash only with VJ_DESC_F_RXHASH; VJ_DESC_F_CSUM_OK may be set, the checksum
 * is checked either way).  NULL, or what is wrong; the frame parsed in @fi.
 */
static const char *mq_ring_frame(const struct vj_ring *r, __u32 idx, int mtu, __u8 proto,
				 __u16 port, struct frame_info *fi, struct mq_ring_seen *seen)
{
	struct vj_desc d = mq_desc(r, idx);
	struct in_addr host;
	const __u8 *f;
	__u32 len;

	seen->frames++;
	f = vj_ring_frame(r, idx, &len);
	if (!f)
		return "bad descriptor";
	if (len > seen->longest)
		seen->longest = len;
	if (d.flags & VJ_DESC_F_CSUM_OK)
		seen->csum_ok++;
	if (len > (__u32)mtu + ETH_HLEN)
		return "longer than MTU + 14";
	if (d.flags & VJ_DESC_F_TSTAMP || d.tstamp)
		return "a time stamp nobody asked for";
	if (!(d.flags & VJ_DESC_F_RXHASH) && d.rxhash)
		return "a hash without VJ_DESC_F_RXHASH";
	if (frame_parse(f, len, fi))
		return fi->err;
	inet_pton(AF_INET, MQ_ADDR_HOST, &host);
	if (fi->tpid || fi->family != AF_INET || fi->proto != proto || fi->dport != port ||
	    memcmp(fi->ip + 12, &host, 4))
		return "not of the flow of the filter";
	if (frame_csum_check(fi))
		return d.flags & VJ_DESC_F_CSUM_OK ? "VJ_DESC_F_CSUM_OK on a bad checksum" :
						     fi->err;
	return NULL;
}

/* Byte @k of the stream of request @id (ci/mq-peer.py, op 3). */
static __u8 mq_stream_byte(__u16 id, __u32 k)
{
	__u32 w = (k / 4) ^ ((__u32)id << 16);

	return w >> (24 - 8 * (k % 4));
}

/* Whether @len bytes at @p are the stream's from offset @off on. */
static bool mq_stream_ok(__u16 id, __u32 off, const __u8 *p, size_t len)
{
	size_t i;

	if (off > MQ_TCP_BYTES || len > MQ_TCP_BYTES - off)
		return false;
	for (i = 0; i < len; i++)
		if (p[i] != mq_stream_byte(id, off + i))
			return false;
	return true;
}

/* The peer's answer to stream request self->id: 0, or -1 if none came in @ms. */
static int mq_stream_answer(struct _test_data_vnet_mq *self, __u8 op, int ms, __u8 *ok,
			    __u8 *tso, __u8 *csum, __u32 *sent)
{
	struct pollfd pfd = { .fd = self->ans, .events = POLLIN };
	__u64 end = now_ns() + (__u64)ms * 1000000ULL;
	__u8 buf[FRAME_MAX];
	const __u8 *p = buf + ETH_HLEN;
	ssize_t n;

	while (now_ns() < end) {
		if (poll(&pfd, 1, 100) != 1)
			continue;
		n = recv(self->ans, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < ETH_HLEN + 16 || get_be16(buf + 12) != ETH_P_MQANS ||
		    memcmp(p, "VJMQ", 4) || p[4] != op || get_be16(p + 6) != self->id)
			continue;
		*ok = p[8];
		*tso = p[9];
		*csum = p[10];
		*sent = get_be32(p + 12);
		return 0;
	}
	return -1;
}

/* Checks the answer to stream request self->id: the peer sent @want. */
static void mq_stream_done(struct __test_metadata *_metadata, struct _test_data_vnet_mq *self,
			   __u8 op, __u32 want)
{
	__u8 ok, tso, csum;
	__u32 sent;

	ASSERT_EQ(0, mq_stream_answer(self, op, 5000, &ok, &tso, &csum, &sent))
		TH_LOG("no answer from the peer to request %u (op %u)", self->id, op);
	TH_LOG("the peer: %s, %u sent; its tap had TSO %s, checksum offload %s",
	       ok ? "done" : "failed", sent, tso ? "on" : "off", csum ? "on" : "off");
	EXPECT_EQ(1, ok);
	EXPECT_EQ(want, sent);
}

/* The TCP receiver on the rings: what it knows of the connection. */
struct mq_tcp {
	__u8 host_mac[ETH_ALEN];
	__u8 host_ip[4];
	__u8 guest_ip[4];
	__u16 sport;		/* the host's port */
	__u32 irs;		/* the host's initial sequence number */
	__u32 rcv_nxt;
	__u32 snd_nxt;
	__u16 ip_id;
	bool syn;		/* a SYN came */
	bool fin;		/* and the FIN, in order */
	__u32 dup;		/* segments wholly received before */
	__u32 ooo;		/* segments after a hole */
	__u32 bad_data;		/* segments whose data is not the stream's */
	__u32 acks;
};

/* Sends a segment of the guest's side (no data) with @flags, through self->req. */
static void mq_tcp_send(struct __test_metadata *_metadata, struct _test_data_vnet_mq *self,
			struct mq_tcp *t, __u8 flags)
{
	__u8 f[ETH_HLEN + 20 + 24] = { 0 }, pseudo[12];
	__u8 *ip = f + ETH_HLEN, *tcp = ip + 20;
	size_t tcplen = flags & 0x02 ? 24 : 20;
	__u32 sum;
	ssize_t n;

	memcpy(f, t->host_mac, ETH_ALEN);
	memcpy(f + ETH_ALEN, self->mac, ETH_ALEN);
	put_be16(f + 12, ETH_P_IP);
	ip[0] = 0x45;
	put_be16(ip + 2, 20 + tcplen);
	put_be16(ip + 4, t->ip_id++);
	put_be16(ip + 6, 0x4000);
	ip[8] = 64;
	ip[9] = IPPROTO_TCP;
	memcpy(ip + 12, t->guest_ip, 4);
	memcpy(ip + 16, t->host_ip, 4);
	put_be16(ip + 10, ~csum_add_bytes(0, ip, 20) & 0xffff);
	put_be16(tcp, MQ_TCP_PORT);
	put_be16(tcp + 2, t->sport);
	put_be32(tcp + 4, t->snd_nxt);
	put_be32(tcp + 8, t->rcv_nxt);
	tcp[12] = (tcplen / 4) << 4;
	tcp[13] = flags;
	put_be16(tcp + 14, MQ_WINDOW);
	if (flags & 0x02) {
		tcp[20] = 2;		/* MSS */
		tcp[21] = 4;
		put_be16(tcp + 22, MQ_MSS);
	}
	memcpy(pseudo, ip + 12, 8);
	pseudo[8] = 0;
	pseudo[9] = IPPROTO_TCP;
	put_be16(pseudo + 10, tcplen);
	sum = csum_add_bytes(csum_add_bytes(0, pseudo, sizeof(pseudo)), tcp, tcplen);
	put_be16(tcp + 16, ~sum & 0xffff);
	n = send(self->req, f, ETH_HLEN + 20 + tcplen, 0);
	ASSERT_EQ((ssize_t)(ETH_HLEN + 20 + tcplen), n) TH_LOG("send a segment: %s",
							       strerror(errno));
	t->acks++;
}

/*
 * Takes one segment of the host's stream from a ring (parsed in @fi, its
 * frame at @f): the SYN, data, the FIN.  Sets *@reply to the flags of the
 * segment to answer with.
 */
static void mq_tcp_segment(struct _test_data_vnet_mq *self, struct mq_tcp *t, const __u8 *f,
			   const struct frame_info *fi, __u8 *reply)
{
	__u32 off, end;
	__s32 d;

	if ((fi->tcp_flags & 0x12) == 0x02) {	/* SYN, no ACK */
		if (!t->syn) {
			memcpy(t->host_mac, f + ETH_ALEN, ETH_ALEN);
			memcpy(t->host_ip, fi->ip + 12, 4);
			memcpy(t->guest_ip, fi->ip + 16, 4);
			t->sport = fi->sport;
			t->irs = fi->seq;
			t->rcv_nxt = fi->seq + 1;
			t->syn = true;
		}
		if (fi->sport == t->sport)
			*reply |= 0x12;		/* (again) SYN, ACK */
		return;
	}
	if (!t->syn || fi->sport != t->sport)
		return;
	if (!fi->paylen && !(fi->tcp_flags & 0x01))
		return;				/* an ACK of ours */
	off = fi->seq - t->irs - 1;
	if (!mq_stream_ok(self->id, off, fi->payload, fi->paylen))
		t->bad_data++;
	end = fi->seq + fi->paylen;
	d = (__s32)(fi->seq - t->rcv_nxt);
	if (d > 0) {
		t->ooo++;
	} else if ((__s32)(end - t->rcv_nxt) < 0 || (!fi->paylen && d < 0)) {
		t->dup++;
	} else {
		t->rcv_nxt = end;
		if (fi->tcp_flags & 0x01) {
			t->rcv_nxt++;
			t->fin = true;
		}
	}
	*reply |= 0x10;				/* ACK */
}

/*
 * A bulk TCP stream of the host's stack to a port a channel filters: every
 * segment goes to the rings, none to the stack.  The test is the receiver:
 * it answers the SYN and acknowledges what it got through a packet socket
 * (no scaling, a 64 KiB window), and checks each frame: complete checksums,
 * no frame over MTU + 14 bytes (the host's tap segmented: bind turned the
 * guest offloads off), data at its offset in the stream, all of it in order
 * up to the FIN.
 */
TEST_F_TIMEOUT(vnet_mq, tcp_bulk_match_ring_complete, MQ_STREAM_TIMEOUT)
{
	struct mq_tcp t = { .snd_nxt = MQ_GUEST_ISN, .ip_id = 1 };
	struct mq_ring_seen seen = { 0 };
	struct vj_statistics st;
	struct frame_info fi;
	struct vj_ring r[2];
	int fd[2], q, mtu, tries = 1;
	__u64 end, asked;
	const char *why;
	__u32 got;
	__u8 reply;
	bool sent_fin = false;

	mtu = vj_get_mtu(self->ifname);
	ASSERT_LT(0, mtu);
	mq_channels(_metadata, self, IPPROTO_TCP, MQ_TCP_PORT, fd, r);
	self->id++;
	mq_request_to(_metadata, self, MQ_OP_TCP, MQ_TCP_BYTES, MQ_TCP_PORT, 0);
	asked = now_ns();
	end = asked + MQ_STREAM_S * 1000000000ULL;
	while (!sent_fin && now_ns() < end) {
		reply = 0;
		for (q = 0; q < 2; q++) {
			while (vj_ring_avail(&r[q])) {
				why = mq_ring_frame(&r[q], r[q].next, mtu, IPPROTO_TCP,
						    MQ_TCP_PORT, &fi, &seen);
				if (why) {
					seen.bad++;
					EXPECT_EQ(NULL, why) TH_LOG("a frame of queue %d: %s", q,
								    why);
				} else {
					mq_tcp_segment(self, &t, fi.ip - ETH_HLEN, &fi, &reply);
				}
				r[q].next++;
			}
			vj_ring_release(&r[q]);
		}
		if (reply & 0x02) {
			t.snd_nxt = MQ_GUEST_ISN;
			mq_tcp_send(_metadata, self, &t, 0x12);
			t.snd_nxt = MQ_GUEST_ISN + 1;
		} else if (reply && t.fin) {
			mq_tcp_send(_metadata, self, &t, 0x11);	/* FIN, ACK */
			sent_fin = true;
		} else if (reply) {
			mq_tcp_send(_metadata, self, &t, 0x10);
		}
		if (!t.syn && now_ns() - asked > 3000000000ULL && tries < MQ_TRIES) {
			/* No SYN: the request may be lost (the peer serves an id once). */
			tries++;
			mq_request_to(_metadata, self, MQ_OP_TCP, MQ_TCP_BYTES, MQ_TCP_PORT, 0);
			asked = now_ns();
		}
		if (!reply)
			usleep(500);
	}
	got = t.syn ? t.rcv_nxt - t.irs - 1 - (t.fin ? 1 : 0) : 0;
	TH_LOG("%u frames in the rings, %u bad, %u with VJ_DESC_F_CSUM_OK, longest %u bytes",
	       seen.frames, seen.bad, seen.csum_ok, seen.longest);
	TH_LOG("%u of %u bytes in order, FIN %s; %u duplicate, %u out of order; %u sent",
	       got, MQ_TCP_BYTES, t.fin ? "seen" : "not seen", t.dup, t.ooo, t.acks);
	ASSERT_TRUE(t.syn) TH_LOG("no SYN from the host (no ci/mq-peer.py on the tap?)");
	EXPECT_EQ(0U, seen.bad);
	EXPECT_EQ(0U, t.bad_data) TH_LOG("segments whose data is not the stream's");
	EXPECT_EQ((__u32)MQ_TCP_BYTES, got);
	EXPECT_TRUE(t.fin);
	mq_stream_done(_metadata, self, MQ_OP_TCP, MQ_TCP_BYTES);
	mq_stats(_metadata, fd, &st);
	EXPECT_LE((__u64)seen.frames, st.rx_packets);
	EXPECT_EQ(0ULL, st.rx_bad_length);
	mq_channels_close(_metadata, fd, r);
}

/*
 * The same stream to a port no filter names (the channels filter another):
 * it reaches a TCP socket of the guest byte for byte, and the channels
 * count its frames as passed to the stack (a copy each, on virtio-net).
 */
TEST_F_TIMEOUT(vnet_mq, tcp_bulk_nonmatching_reaches_socket, MQ_STREAM_TIMEOUT)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(MQ_TCP_PORT) };
	struct pollfd pfd = { .events = POLLIN };
	__u32 got = 0, wrong = 0, i;
	struct vj_statistics st;
	int fd[2], lfd, cfd = -1, tries, one = 1;
	struct vj_ring r[2];
	__u8 buf[16384];
	__u64 end;
	ssize_t n;

	mq_channels(_metadata, self, IPPROTO_TCP, MQ_OTHER_PORT, fd, r);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, lfd);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	inet_pton(AF_INET, MQ_ADDR_GUEST, &sin.sin_addr);
	ASSERT_EQ(0, bind(lfd, (struct sockaddr *)&sin, sizeof(sin)))
		TH_LOG("bind tcp %s:%u: %s", MQ_ADDR_GUEST, MQ_TCP_PORT, strerror(errno));
	ASSERT_EQ(0, listen(lfd, 4));
	self->id++;
	pfd.fd = lfd;
	for (tries = 0; tries < MQ_TRIES && cfd < 0; tries++) {
		mq_request_to(_metadata, self, MQ_OP_TCP, MQ_TCP_BYTES, MQ_TCP_PORT, 0);
		if (poll(&pfd, 1, 5000) == 1)
			cfd = accept(lfd, NULL, NULL);
	}
	ASSERT_LE(0, cfd) TH_LOG("no connection from the host (no ci/mq-peer.py on the tap?)");
	pfd.fd = cfd;
	end = now_ns() + MQ_STREAM_S * 1000000000ULL;
	while (now_ns() < end) {
		if (poll(&pfd, 1, 1000) != 1)
			continue;
		n = recv(cfd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && errno == EAGAIN)
			continue;
		ASSERT_LE(0, n) TH_LOG("recv: %s", strerror(errno));
		if (!n)
			break;
		for (i = 0; i < (__u32)n; i++)
			if (got + i >= MQ_TCP_BYTES || buf[i] != mq_stream_byte(self->id, got + i))
				wrong++;
		got += n;
	}
	TH_LOG("%u of %u bytes on the TCP socket, %u wrong", got, MQ_TCP_BYTES, wrong);
	EXPECT_EQ((__u32)MQ_TCP_BYTES, got);
	EXPECT_EQ(0U, wrong);
	close(cfd);
	close(lfd);
	mq_stream_done(_metadata, self, MQ_OP_TCP, MQ_TCP_BYTES);
	mq_stats(_metadata, fd, &st);
	EXPECT_EQ(0ULL, st.rx_packets) TH_LOG("frames in a ring whose filter names another port");
	EXPECT_LE((__u64)(MQ_TCP_BYTES / MQ_MSS), st.rx_stack)
		TH_LOG("the stream's frames not counted as passed to the stack");
	EXPECT_EQ(st.rx_stack, st.rx_copies);
	mq_channels_close(_metadata, fd, r);
}

/* The length of datagram @i of op 4. */
static size_t mq_udp_len(__u32 i)
{
	return MQ_UDP_MAX - (i * 97) % 1450;
}

/* Datagram @i of the answer to request @id, or -1 (-2: of it, but wrong). */
static int mq_udp_of(__u16 id, const __u8 *p, size_t len)
{
	__u32 i;
	size_t k;

	if (len < 16 || memcmp(p, "VJMU", 4) || get_be16(p + 4) != id)
		return -1;
	i = get_be32(p + 8);
	if (i >= MQ_UDP_N || len != mq_udp_len(i) || get_be32(p + 12) != len ||
	    get_be32(p + 16))
		return -2;
	for (k = 20; k < len; k++)
		if (p[k] != (__u8)(k + 7 * i))
			return -2;
	return (int)i;
}

/*
 * MQ_UDP_N datagrams of the host's UDP stack (1472 bytes down to 23) to the
 * port of the channels' filter (@match) or to MQ_PORT with the filter on
 * another port: in the rings, complete and within MTU + 14 bytes, or on the
 * UDP socket; each datagram once, unchanged.
 */
static void mq_udp(struct __test_metadata *_metadata, struct _test_data_vnet_mq *self,
		   bool match)
{
	struct mq_ring_seen seen = { 0 };
	bool dgram[MQ_UDP_N] = { false };
	__u32 ring = 0, stack = 0, wrong = 0;
	struct vj_statistics st;
	struct frame_info fi;
	struct vj_ring r[2];
	int fd[2], q, i, mtu, tries = 1;
	__u8 buf[FRAME_MAX];
	const char *why;
	__u64 last;
	ssize_t n;

	mtu = vj_get_mtu(self->ifname);
	ASSERT_LT(0, mtu);
	mq_channels(_metadata, self, IPPROTO_UDP, match ? MQ_PORT : MQ_OTHER_PORT, fd, r);
	self->id++;
	mq_request_to(_metadata, self, MQ_OP_UDP, MQ_UDP_N, MQ_PORT, 0);
	last = now_ns();
	while (ring + stack < MQ_UDP_N) {
		bool got = false;

		for (q = 0; q < 2; q++) {
			while (vj_ring_avail(&r[q])) {
				why = mq_ring_frame(&r[q], r[q].next, mtu, IPPROTO_UDP, MQ_PORT,
						    &fi, &seen);
				i = why ? -1 : mq_udp_of(self->id, fi.payload, fi.paylen);
				if (why) {
					seen.bad++;
					EXPECT_EQ(NULL, why) TH_LOG("a frame of queue %d: %s", q,
								    why);
				} else if (i == -2) {
					wrong++;
				} else if (i >= 0 && !dgram[i]) {
					dgram[i] = true;
					ring++;
					got = true;
				}
				r[q].next++;
			}
			vj_ring_release(&r[q]);
		}
		while ((n = recv(self->udp, buf, sizeof(buf), MSG_DONTWAIT)) >= 0) {
			i = mq_udp_of(self->id, buf, n);
			if (i == -2) {
				wrong++;
			} else if (i >= 0 && !dgram[i]) {
				dgram[i] = true;
				stack++;
				got = true;
			}
		}
		if (got)
			last = now_ns();
		if (now_ns() - last > 3000000000ULL) {
			if (ring + stack || tries >= MQ_TRIES)
				break;
			tries++;	/* nothing: the request may be lost */
			mq_request_to(_metadata, self, MQ_OP_UDP, MQ_UDP_N, MQ_PORT, 0);
			last = now_ns();
		}
		usleep(1000);
	}
	TH_LOG("%u datagrams in the rings, %u on the UDP socket, %u wrong", ring, stack, wrong);
	TH_LOG("%u frames in the rings, %u bad, %u with VJ_DESC_F_CSUM_OK, longest %u bytes",
	       seen.frames, seen.bad, seen.csum_ok, seen.longest);
	ASSERT_LT(0U, ring + stack) TH_LOG("nothing from the host (no ci/mq-peer.py on the tap?)");
	EXPECT_EQ(0U, seen.bad);
	EXPECT_EQ(0U, wrong);
	EXPECT_EQ((__u32)(match ? MQ_UDP_N : 0), ring);
	EXPECT_EQ((__u32)(match ? 0 : MQ_UDP_N), stack);
	mq_stream_done(_metadata, self, MQ_OP_UDP, MQ_UDP_N);
	mq_stats(_metadata, fd, &st);
	if (match) {
		EXPECT_LE((__u64)MQ_UDP_N, st.rx_packets);
	} else {
		EXPECT_EQ(0ULL, st.rx_packets);
		EXPECT_LE((__u64)MQ_UDP_N, st.rx_stack);
		EXPECT_EQ(st.rx_stack, st.rx_copies);
	}
	mq_channels_close(_metadata, fd, r);
}

TEST_F_TIMEOUT(vnet_mq, udp_match_ring_complete, MQ_STREAM_TIMEOUT)
{
	mq_udp(_metadata, self, true);
}

TEST_F_TIMEOUT(vnet_mq, udp_nonmatching_reaches_socket, MQ_STREAM_TIMEOUT)
{
	mq_udp(_metadata, self, false);
}

/* Writes @val to @path: 0, or -1 with the write's errno. */
static int write_sysfs(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), err;
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, val, strlen(val));
	err = errno;
	close(fd);
	errno = err;
	return n == (ssize_t)strlen(val) ? 0 : -1;
}

/* Why the freeze test skips. */
#define NO_FREEZE	"no freeze with a device test: needs CONFIG_PM_SLEEP=y " \
			"(CONFIG_SUSPEND=y) and CONFIG_PM_DEBUG=y"
#define FREEZE_9P_FS	"a virtio 9p or virtio-fs device is in use (virtme-ng's file systems): " \
			"virtio-fs refuses to suspend and 9p has no restore, so no freeze " \
			"succeeds here, channel or not"

/*
 * A suspend (freeze, with /sys/power/pm_test "devices": the devices are
 * suspended and resumed, the machine does not sleep) is refused with EBUSY
 * while a channel is bound, since the queues and their buffers would go
 * away under it; the channel still receives afterwards.  Without a channel
 * the same freeze succeeds and the NIC works after it.
 */
TEST_F_TIMEOUT(vnet_mq, freeze_refused_while_bound, FREEZE_TIMEOUT)
{
	char states[128] = "";
	struct mq_count c;
	struct vj_ring r;
	int fd, ret, err;
	ssize_t n;

	fd = open("/sys/power/state", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, states, sizeof(states) - 1);
		states[n > 0 ? n : 0] = 0;
		close(fd);
	}
	states[strcspn(states, "\n")] = 0;
	ret = access("/sys/power/pm_test", W_OK);
	if (!strstr(states, "freeze") || ret)
		SKIP(return, "%s (/sys/power/state \"%s\", pm_test %s)", NO_FREEZE, states,
		     ret ? "missing" : "there");
	if (vj_virtio_driver_in_use("9pnet_virtio") || vj_virtio_driver_in_use("virtiofs"))
		SKIP(return, "%s", FREEZE_9P_FS);

	ASSERT_EQ(0, write_sysfs("/sys/power/pm_test", "devices"))
		TH_LOG("pm_test devices: %s", strerror(errno));
	self->pm_test_set = true;
	if (write_sysfs("/sys/power/state", "freeze"))
		SKIP(return, "a freeze without any channel fails here: %s", strerror(errno));
	mq_flows(_metadata, self, NULL, MQ_FLOWS, &c);

	fd = vnet_channel(_metadata, self->ifindex, self->ifname, 0, MQ_PORT, &r);
	ret = write_sysfs("/sys/power/state", "freeze");
	err = errno;
	EXPECT_EQ(-1, ret) TH_LOG("froze with a channel bound");
	EXPECT_EQ(EBUSY, err) TH_LOG("freeze with a channel bound: %s, not EBUSY", strerror(err));
	mq_flows(_metadata, self, &r, MQ_FLOWS, &c);
	EXPECT_LT(0U, c.ring) TH_LOG("the channel got nothing after the freeze");

	vj_ring_unmap(&r);
	ASSERT_EQ(0, close(fd));
	EXPECT_EQ(0, write_sysfs("/sys/power/state", "freeze"))
		TH_LOG("freeze with the channel gone: %s", strerror(errno));
	mq_flows(_metadata, self, NULL, MQ_FLOWS, &c);
}

/* ================================================================== */
/* virtio-net, the harness NIC: the driver starved by a full ring      */

/* vjchan-inject on the host (vjchan_virtio_test.c): request frames. */
#define ETH_P_VJREQ	0x88b5
#define VJREQ_LEN	60
#define VJREQ_FRAMES	0		/* frames first .. first + count - 1 */
#define VJREQ_FLOOD	1		/* frames for count milliseconds */
#define KICK_PHASE	9		/* frames to 10.77.0.2:7009 */
#define KICK_PORT	(7000 + KICK_PHASE)
#define KICK_TOTAL	4096
#define KICK_FLOOD_MS	1000
#define KICK_TIMEOUT	120
#define KICK_FILL_S	60		/* for the ring to fill */

/* Asks vjchan-inject for frames of KICK_PHASE on AF_PACKET socket @req. */
static void inject_request(struct __test_metadata *_metadata, int req, const __u8 *mac, __u8 mode,
			   __u32 first, __u32 count)
{
	struct pollfd pfd = { .fd = req, .events = POLLOUT };
	__u8 buf[VJREQ_LEN] = { 0 };
	ssize_t n;

	memset(buf, 0xff, ETH_ALEN);
	memcpy(buf + ETH_ALEN, mac, ETH_ALEN);
	put_be16(buf + 12, ETH_P_VJREQ);
	memcpy(buf + ETH_HLEN, "VJREQ", 5);
	buf[ETH_HLEN + 5] = KICK_PHASE;
	buf[ETH_HLEN + 6] = mode;
	put_be32(buf + ETH_HLEN + 8, first);
	put_be32(buf + ETH_HLEN + 12, count);
	put_be32(buf + ETH_HLEN + 16, KICK_TOTAL);
	ASSERT_EQ(1, poll(&pfd, 1, WAIT_MS)) TH_LOG("packet socket not writable");
	n = send(req, buf, sizeof(buf), 0);
	ASSERT_EQ((ssize_t)sizeof(buf), n) TH_LOG("send request: %s", strerror(errno));
}

/* Whether the frame of ring index @idx is an IPv4/UDP frame to KICK_PORT. */
static bool kick_frame_ok(const struct vj_ring *r, __u32 idx)
{
	const __u8 *f;
	__u32 len;

	f = vj_ring_frame(r, idx, &len);
	return f && len >= ETH_HLEN + 28 && get_be16(f + 12) == ETH_P_IP &&
	       f[ETH_HLEN + 9] == IPPROTO_UDP && get_be16(f + ETH_HLEN + 22) == KICK_PORT;
}

/*
 * VJ_RING_STATUS_NEED_KICK on virtio-net, which lends the device the ring's
 * buffers ahead of frames.  The host floods the channel's port and the
 * consumer takes nothing: once user space holds every buffer the driver has
 * none to post, and the status word says so (rx_ring_full counts the
 * refills that fell short).  No timer polls the ring: while nothing is
 * released rx_ring_full and the producer stay still, and releasing slots
 * alone (no system call; reading the statistics frees them too) leaves the
 * bit set.  poll() clears it and kicks the driver, and frames flow again
 * (the documented protocol, the rst's "The status word").
 */
TEST_F_TIMEOUT(vnet, need_kick_set_when_starved_cleared_by_poll, KICK_TIMEOUT)
{
	static const __u8 mac[ETH_ALEN] = VNET_MAC;
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };
	struct pollfd pfd = { .events = POLLIN };
	struct vj_statistics st, st2;
	__u32 *status, prod, pub, n, i, avail, quiet, bad = 0;
	__u64 end, flood_end = 0;
	struct vj_ring r;
	int fd, req, tries;

	req = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, req) TH_LOG("AF_PACKET: %s", strerror(errno));
	sll.sll_ifindex = self->ifindex;
	ASSERT_EQ(0, bind(req, (struct sockaddr *)&sll, sizeof(sll)));

	fd = vnet_channel(_metadata, self->ifindex, self->ifname, 0, KICK_PORT, &r);
	status = ring_status(fd, &r);
	if (!status)
		SKIP(return, "no ring status word (VJ_FEATURE_STATUS)");
	EXPECT_EQ(0U, status_of(status) & VJ_RING_STATUS_NEED_KICK)
		TH_LOG("NEED_KICK set on a fresh channel");

	/* Flood until the driver starves. */
	end = now_ns() + KICK_FILL_S * 1000000000ULL;
	while (!(status_of(status) & VJ_RING_STATUS_NEED_KICK) && now_ns() < end) {
		if (now_ns() >= flood_end) {
			inject_request(_metadata, req, mac, VJREQ_FLOOD, 0, KICK_FLOOD_MS);
			flood_end = now_ns() + (KICK_FLOOD_MS + 500) * 1000000ULL;
		}
		usleep(2000);
	}
	pub = vj_ring_avail(&r);
	ASSERT_EQ(0, vj_read_stats(fd, &st));
	TH_LOG("%u frames in the ring (%u slots), rx_ring_full %llu, status %#x", pub,
	       r.off.nr_slots, (unsigned long long)st.rx_ring_full, status_of(status));
	ASSERT_TRUE(!!(status_of(status) & VJ_RING_STATUS_NEED_KICK))
		TH_LOG("no NEED_KICK within %d s of floods (no vjchan-inject on the host?)",
		       KICK_FILL_S);
	EXPECT_LT(0U, pub);
	EXPECT_GE(r.off.nr_slots, pub);
	EXPECT_EQ((__u64)pub, st.rx_packets);
	EXPECT_LE(1U, st.rx_ring_full);
	for (i = 0; i < pub; i++)
		bad += !kick_frame_ok(&r, r.next + i);
	EXPECT_EQ(0U, bad) TH_LOG("%u frames in the ring are not the injector's", bad);

	/* Starved, and nothing polls: wait for the flood to end, then look twice. */
	while (now_ns() < flood_end)
		usleep(10000);
	ASSERT_EQ(0, vj_read_stats(fd, &st));
	prod = __atomic_load_n(r.prod, __ATOMIC_ACQUIRE);
	usleep(1000 * 1000);
	ASSERT_EQ(0, vj_read_stats(fd, &st2));
	EXPECT_EQ(st.rx_ring_full, st2.rx_ring_full)
		TH_LOG("rx_ring_full went on counting while starved: %llu -> %llu (a timer?)",
		       (unsigned long long)st.rx_ring_full, (unsigned long long)st2.rx_ring_full);
	EXPECT_EQ(prod, __atomic_load_n(r.prod, __ATOMIC_ACQUIRE));
	EXPECT_TRUE(!!(status_of(status) & VJ_RING_STATUS_NEED_KICK));

	/* Released, no poll(): the statistics read frees the buffers, no kick. */
	r.next += vj_ring_avail(&r);
	vj_ring_release(&r);
	ASSERT_EQ(0, vj_read_stats(fd, &st));
	usleep(200 * 1000);
	EXPECT_TRUE(!!(status_of(status) & VJ_RING_STATUS_NEED_KICK))
		TH_LOG("NEED_KICK cleared without poll()");
	TH_LOG("after the release, without poll(): %u new frames",
	       vj_ring_avail(&r));

	/* poll() clears it and kicks: frames flow again. */
	pfd.fd = fd;
	EXPECT_LE(0, poll(&pfd, 1, 0));
	EXPECT_EQ(0U, status_of(status) & VJ_RING_STATUS_NEED_KICK)
		TH_LOG("NEED_KICK still set after poll() released slots");
	/*
	 * Consume as a spinning consumer does: release, and poll() whenever
	 * the ring is empty (what the host still had queued comes first).
	 */
	n = 0;
	quiet = 0;
	for (tries = 0; tries < 3 && !n; tries++) {
		inject_request(_metadata, req, mac, VJREQ_FRAMES, tries * 64, 32);
		end = now_ns() + 5000 * 1000000ULL;
		while (now_ns() < end) {
			avail = vj_ring_avail(&r);
			for (i = 0; i < avail; i++) {
				bad += !kick_frame_ok(&r, r.next);
				r.next++;
			}
			n += avail;
			vj_ring_release(&r);
			if (!avail) {
				EXPECT_LE(0, poll(&pfd, 1, 0));
				if (n && ++quiet > 250)
					break;
				usleep(2000);
			} else {
				quiet = 0;
			}
		}
	}
	EXPECT_LT(0U, n) TH_LOG("no frame in the ring after the kick");
	EXPECT_EQ(0U, bad) TH_LOG("%u frames after the kick are not the injector's", bad);
	EXPECT_EQ(0U, status_of(status) & VJ_RING_STATUS_NEED_KICK)
		TH_LOG("NEED_KICK set with every slot released and poll() called");
	ASSERT_EQ(0, vj_read_stats(fd, &st2));
	TH_LOG("%u frames after the kick; rx_packets %llu, rx_ring_full %llu", n,
	       (unsigned long long)st2.rx_packets, (unsigned long long)st2.rx_ring_full);

	/* Let the rest of what was asked for arrive before the NIC is shared again. */
	usleep(QUIET_MS * 1000);
	vj_ring_unmap(&r);
	EXPECT_EQ(0, close(fd));
	close(req);
}

TEST_HARNESS_MAIN
