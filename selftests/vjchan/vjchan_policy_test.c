// SPDX-License-Identifier: GPL-2.0
/*
 * PF_VJCHAN and policy: the device's netfilter ingress policy applies to the
 * frames a channel delivers, and rings are charged to RLIMIT_MEMLOCK.
 *
 * Each test runs in a network namespace of its own with a veth pair: frames
 * sent on vja through an AF_PACKET socket arrive on vjb, whose queue 0 has a
 * channel with a filter for IPv4/UDP to ports PORT_CH and PORT_DROP.
 * nftables rules come from nft(8); without it the netfilter tests skip.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/capability.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/types.h>
#include <linux/vjchan.h>

#include "../../kselftest_harness.h"
#include "vjchan_lib.h"

#define DEV_A		"vja"
#define DEV_B		"vjb"
#define ADDR_A		"10.79.0.1"
#define ADDR_B		"10.79.0.2"
#define PORT_CH		9001	/* the channel's, no rule */
#define PORT_DROP	9000	/* the channel's, dropped by the rules */
#define PORT_STACK	9002	/* no filter: to the stack */
#define NFRAMES		64ULL
#define FRAME_LEN	(ETH_HLEN + 20 + 8 + 64)
#define WAIT_MS		5000
#define RING_BYTES	(256UL * 4096)

struct ring {
	__u8 *map;
	size_t size;
	struct vj_ring_offsets off;
	__u32 *prod;
	__u32 *cons;
	__u32 next;
};

FIXTURE(policy)
{
	int fd;			/* channel socket bound to vjb queue 0 */
	int pkt;		/* AF_PACKET socket on vja, sends */
	int ifb;
	__u8 mac_a[ETH_ALEN], mac_b[ETH_ALEN];
	struct ring r;
	__u64 features;
	int have_nft;
};

static int vj_socket(void)
{
	return socket(PF_VJCHAN, SOCK_RAW | SOCK_NONBLOCK, VJ_PROTO_DEFAULT);
}

static int vj_bind(int fd, int ifindex, __u32 queue)
{
	struct sockaddr_vj a = {
		.svj_family = AF_VJCHAN,
		.svj_ifindex = ifindex,
		.svj_queue_id = queue,
	};

	return bind(fd, (struct sockaddr *)&a, sizeof(a));
}

static int vj_udp_filter(int fd, __u16 port)
{
	struct vj_filter f = {
		.type = VJ_FILTER_IPV4,
		.flags = VJ_FILTER_F_DST_PORT,
		.l4_proto = IPPROTO_UDP,
		.dst_port = htons(port),
	};

	return setsockopt(fd, SOL_VJCHAN, VJ_ADD_FILTER, &f, sizeof(f));
}

static __u64 vj_features(int fd)
{
	socklen_t len = sizeof(__u64);
	__u64 v = 0;

	if (getsockopt(fd, SOL_VJCHAN, VJ_FEATURES, &v, &len))
		return 0;
	return v;
}

static void vj_stats(struct __test_metadata *_metadata, int fd,
		     struct vj_statistics *st)
{
	socklen_t len = sizeof(*st);

	memset(st, 0, sizeof(*st));
	ASSERT_EQ(0, getsockopt(fd, SOL_VJCHAN, VJ_STATISTICS, st, &len))
		TH_LOG("VJ_STATISTICS: %s", strerror(errno));
	ASSERT_EQ(VJ_STATISTICS_SIZE_VER1, (int)len);
}

static __u16 ip_csum(const __u8 *p, size_t len)
{
	__u32 sum = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += p[i] << 8 | p[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

/* An IPv4/UDP frame from vja to vjb, dst port @port, every byte from @seq. */
static void build_udp(struct _test_data_policy *self, __u8 *f, __u16 port, __u32 seq)
{
	__u8 *ip = f + ETH_HLEN, *udp = ip + 20, *pl = udp + 8;
	size_t i;

	memset(f, 0, FRAME_LEN);
	memcpy(f, self->mac_b, ETH_ALEN);
	memcpy(f + ETH_ALEN, self->mac_a, ETH_ALEN);
	f[12] = 0x08;
	ip[0] = 0x45;
	ip[2] = (FRAME_LEN - ETH_HLEN) >> 8;
	ip[3] = (FRAME_LEN - ETH_HLEN) & 0xff;
	ip[8] = 64;
	ip[9] = IPPROTO_UDP;
	inet_pton(AF_INET, ADDR_A, ip + 12);
	inet_pton(AF_INET, ADDR_B, ip + 16);
	i = ip_csum(ip, 20);
	ip[10] = i >> 8;
	ip[11] = i & 0xff;
	udp[0] = 40000 >> 8;
	udp[1] = 40000 & 0xff;
	udp[2] = port >> 8;
	udp[3] = port & 0xff;
	udp[5] = FRAME_LEN - ETH_HLEN - 20;
	memcpy(pl, &seq, sizeof(seq));
	for (i = sizeof(seq); i < FRAME_LEN - (size_t)(pl - f); i++)
		pl[i] = (__u8)(seq * 7 + i);
}

static void send_udp(struct __test_metadata *_metadata, struct _test_data_policy *self,
		     __u16 port, __u32 seq)
{
	__u8 f[FRAME_LEN];

	build_udp(self, f, port, seq);
	ASSERT_EQ(FRAME_LEN, send(self->pkt, f, FRAME_LEN, 0))
		TH_LOG("send: %s", strerror(errno));
}

static void ring_map(struct __test_metadata *_metadata, int fd, struct ring *r)
{
	socklen_t len = sizeof(r->off);

	ASSERT_EQ(0, getsockopt(fd, SOL_VJCHAN, VJ_RING_OFFSETS, &r->off, &len));
	r->size = r->off.mmap_size;
	r->map = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		      VJ_MMAP_OFFSET_RX_RING);
	if (r->map == MAP_FAILED)
		r->map = NULL;
	ASSERT_NE(NULL, r->map) TH_LOG("mmap: %s", strerror(errno));
	r->prod = (__u32 *)(r->map + r->off.producer);
	r->cons = (__u32 *)(r->map + r->off.consumer);
	r->next = __atomic_load_n(r->cons, __ATOMIC_RELAXED);
}

/*
 * Takes the next frame of the ring within WAIT_MS and checks it is frame
 * @seq to @port, byte for byte.
 */
static void expect_frame(struct __test_metadata *_metadata,
			 struct _test_data_policy *self, __u16 port, __u32 seq)
{
	struct ring *r = &self->r;
	__u64 end = now_ns() + WAIT_MS * 1000000ULL;
	__u8 want[FRAME_LEN];
	struct vj_desc d;

	while (__atomic_load_n(r->prod, __ATOMIC_ACQUIRE) == r->next && now_ns() < end)
		usleep(1000);
	ASSERT_NE(r->next, __atomic_load_n(r->prod, __ATOMIC_ACQUIRE))
		TH_LOG("frame %u to port %u did not arrive", seq, port);
	memcpy(&d, r->map + r->off.desc +
	       (size_t)(r->next & (r->off.nr_slots - 1)) * r->off.desc_size, sizeof(d));
	ASSERT_EQ(FRAME_LEN, (int)d.len);
	ASSERT_LE(d.addr + d.len, r->size);
	/* In one of the nr_bufs buffers. */
	ASSERT_LE(r->off.buffers + r->off.headroom, d.addr);
	ASSERT_LE(d.addr + d.len, r->off.buffers + (__u64)r->off.nr_bufs * r->off.buf_size);
	/* Sent with AF_PACKET: no checksum offload, no flow hash, no time stamp. */
	EXPECT_EQ(0U, d.flags) TH_LOG("frame %u: desc.flags %#x", seq, d.flags);
	build_udp(self, want, port, seq);
	EXPECT_EQ(0, memcmp(want, r->map + d.addr, FRAME_LEN))
		TH_LOG("frame %u to port %u differs", seq, port);
	r->next++;
	__atomic_store_n(r->cons, r->next, __ATOMIC_RELEASE);
}

/* Waits a moment and checks nothing more is in the ring. */
static void expect_ring_empty(struct __test_metadata *_metadata, struct ring *r)
{
	usleep(100 * 1000);
	EXPECT_EQ(r->next, __atomic_load_n(r->prod, __ATOMIC_ACQUIRE))
		TH_LOG("%u unexpected frames in the ring",
		       __atomic_load_n(r->prod, __ATOMIC_ACQUIRE) - r->next);
}

/* Sends @n frames alternately to PORT_CH and PORT_DROP; checks which arrive. */
static void send_mixed(struct __test_metadata *_metadata, struct _test_data_policy *self,
		       __u32 n, int drop_expected)
{
	__u32 i;

	for (i = 0; i < n; i++) {
		send_udp(_metadata, self, PORT_CH, i);
		send_udp(_metadata, self, PORT_DROP, i);
		expect_frame(_metadata, self, PORT_CH, i);
		if (!drop_expected)
			expect_frame(_metadata, self, PORT_DROP, i);
	}
	expect_ring_empty(_metadata, &self->r);
}

FIXTURE_SETUP(policy)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };
	struct ifreq ifr;
	int fd;

	self->fd = -1;
	self->pkt = -1;
	memset(&self->r, 0, sizeof(self->r));

	fd = vj_socket();
	if (fd < 0 && errno == EAFNOSUPPORT)
		SKIP(return, "PF_VJCHAN not supported (CONFIG_VJCHAN=n)");
	ASSERT_LE(0, fd);
	close(fd);
	if (unshare(CLONE_NEWNET))
		SKIP(return, "cannot create a network namespace: %s", strerror(errno));
	if (run("ip -V >/dev/null 2>&1"))
		SKIP(return, "ip (iproute2) not found");
	self->have_nft = run("nft --version >/dev/null 2>&1") == 0;
	run("sysctl -qw net.ipv6.conf.all.disable_ipv6=1 >/dev/null 2>&1");
	run("sysctl -qw net.ipv6.conf.default.disable_ipv6=1 >/dev/null 2>&1");
	if (run("ip link add " DEV_A " numrxqueues 2 type veth peer name " DEV_B
		" numrxqueues 2"))
		SKIP(return, "cannot create a veth pair (CONFIG_VETH=n?)");
	ASSERT_EQ(0, run("ip link set dev " DEV_A " up && ip link set dev " DEV_B
			 " up && ip addr add " ADDR_B "/24 dev " DEV_B));
	self->ifb = if_nametoindex(DEV_B);
	ASSERT_NE(0, self->ifb);

	self->pkt = socket(AF_PACKET, SOCK_RAW, 0);
	ASSERT_LE(0, self->pkt);
	sll.sll_ifindex = if_nametoindex(DEV_A);
	ASSERT_EQ(0, bind(self->pkt, (struct sockaddr *)&sll, sizeof(sll)));
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, DEV_A, sizeof(DEV_A));
	ASSERT_EQ(0, ioctl(self->pkt, SIOCGIFHWADDR, &ifr));
	memcpy(self->mac_a, ifr.ifr_hwaddr.sa_data, ETH_ALEN);
	memcpy(ifr.ifr_name, DEV_B, sizeof(DEV_B));
	ASSERT_EQ(0, ioctl(self->pkt, SIOCGIFHWADDR, &ifr));
	memcpy(self->mac_b, ifr.ifr_hwaddr.sa_data, ETH_ALEN);

	self->fd = vj_socket();
	ASSERT_LE(0, self->fd);
	self->features = vj_features(self->fd);
}

FIXTURE_TEARDOWN(policy)
{
	if (self->r.map)
		EXPECT_EQ(0, munmap(self->r.map, self->r.size));
	if (self->fd >= 0)
		EXPECT_EQ(0, close(self->fd));
	if (self->pkt >= 0)
		close(self->pkt);
}

/* What the netfilter tests miss, if anything: the feature, nft(8) (@nft). */
static const char *nf_missing(struct _test_data_policy *self, int nft)
{
	if (!(self->features & VJ_FEATURE_NF_INGRESS))
		return "no VJ_FEATURE_NF_INGRESS in this kernel";
	if (nft && !self->have_nft)
		return "nft not found";
	return NULL;
}

/* Binds vjb queue 0 with filters for PORT_CH and PORT_DROP and maps the ring. */
static void channel(struct __test_metadata *_metadata, struct _test_data_policy *self)
{
	ASSERT_EQ(0, vj_bind(self->fd, self->ifb, 0)) TH_LOG("bind: %s", strerror(errno));
	ASSERT_EQ(0, vj_udp_filter(self->fd, PORT_CH));
	ASSERT_EQ(0, vj_udp_filter(self->fd, PORT_DROP));
	ring_map(_metadata, self->fd, &self->r);
}

/* Table vjt of @family with chain "in", hooked at the ingress of @dev. */
static int nft_chain(const char *family, const char *dev, const char *policy)
{
	if (run("nft add table %s vjt", family))
		return -1;
	return run("nft add chain %s vjt in '{ type filter hook ingress device %s priority 0;%s }'",
		   family, dev, policy);
}

/* Without any rule, both ports' frames arrive (the baseline of the tests below). */
TEST_F(policy, no_rules_all_delivered)
{
	struct vj_statistics st;

	if (nf_missing(self, 0))
		SKIP(return, "%s", nf_missing(self, 0));
	channel(_metadata, self);
	send_mixed(_metadata, self, NFRAMES, 0);
	vj_stats(_metadata, self->fd, &st);
	EXPECT_EQ(2 * NFRAMES, st.rx_packets);
	EXPECT_EQ(0ULL, st.rx_nf_dropped);
	EXPECT_EQ(0ULL, st.rx_copies);
}

/* An nftables netdev ingress rule that drops a flow stops its delivery. */
TEST_F(policy, nft_netdev_drop_stops_delivery)
{
	struct vj_statistics st;

	if (nf_missing(self, 1))
		SKIP(return, "%s", nf_missing(self, 1));
	channel(_metadata, self);
	ASSERT_EQ(0, nft_chain("netdev", DEV_B, ""));
	ASSERT_EQ(0, run("nft add rule netdev vjt in udp dport %d drop", PORT_DROP));
	send_mixed(_metadata, self, NFRAMES, 1);
	vj_stats(_metadata, self->fd, &st);
	EXPECT_EQ(NFRAMES, st.rx_packets);
	EXPECT_EQ(NFRAMES, st.rx_nf_dropped);
	EXPECT_EQ(0ULL, st.rx_copies);
	EXPECT_EQ(0ULL, st.rx_nomem);

	/* Without the rule, the flow is delivered again. */
	ASSERT_EQ(0, run("nft delete table netdev vjt"));
	send_mixed(_metadata, self, 8, 0);
	vj_stats(_metadata, self->fd, &st);
	EXPECT_EQ(NFRAMES, st.rx_nf_dropped);
}

/* So does a rule in an inet table's ingress chain. */
TEST_F(policy, nft_inet_ingress_drop_stops_delivery)
{
	struct vj_statistics st;

	if (nf_missing(self, 1))
		SKIP(return, "%s", nf_missing(self, 1));
	channel(_metadata, self);
	ASSERT_EQ(0, nft_chain("inet", DEV_B, ""));
	ASSERT_EQ(0, run("nft add rule inet vjt in udp dport %d drop", PORT_DROP));
	send_mixed(_metadata, self, NFRAMES, 1);
	vj_stats(_metadata, self->fd, &st);
	EXPECT_EQ(NFRAMES, st.rx_nf_dropped);
	EXPECT_EQ(NFRAMES, st.rx_packets);
}

/* A chain whose policy is drop drops everything, the channel's frames included. */
TEST_F(policy, nft_chain_policy_drop)
{
	struct vj_statistics st;

	if (nf_missing(self, 1))
		SKIP(return, "%s", nf_missing(self, 1));
	channel(_metadata, self);
	ASSERT_EQ(0, nft_chain("netdev", DEV_B, " policy drop;"));
	send_udp(_metadata, self, PORT_CH, 0);
	send_udp(_metadata, self, PORT_DROP, 0);
	expect_ring_empty(_metadata, &self->r);
	vj_stats(_metadata, self->fd, &st);
	EXPECT_EQ(0ULL, st.rx_packets);
	EXPECT_EQ(2ULL, st.rx_nf_dropped);
}

/*
 * The hooks really see the channel's frames: a counting accept rule counts
 * each of them once, and the frames are delivered.
 */
TEST_F(policy, nft_counter_sees_each_frame_once)
{
	char out[256];
	FILE *p;
	int found = 0;

	if (nf_missing(self, 1))
		SKIP(return, "%s", nf_missing(self, 1));
	channel(_metadata, self);
	ASSERT_EQ(0, nft_chain("netdev", DEV_B, ""));
	ASSERT_EQ(0, run("nft add rule netdev vjt in udp dport %d counter accept", PORT_DROP));
	send_mixed(_metadata, self, NFRAMES, 0);
	p = popen("nft list chain netdev vjt in", "r");
	ASSERT_NE(NULL, p);
	while (fgets(out, sizeof(out), p)) {
		unsigned long long pk;
		char *c = strstr(out, "counter packets ");

		if (c && sscanf(c, "counter packets %llu", &pk) == 1) {
			EXPECT_EQ(NFRAMES, pk) TH_LOG("%s", out);
			found = 1;
		}
	}
	pclose(p);
	EXPECT_TRUE(found) TH_LOG("no counter in nft's listing");
}

/* A rule on another device does not touch this device's channel. */
TEST_F(policy, nft_rule_on_other_device)
{
	struct vj_statistics st;

	if (nf_missing(self, 1))
		SKIP(return, "%s", nf_missing(self, 1));
	channel(_metadata, self);
	ASSERT_EQ(0, nft_chain("netdev", DEV_A, ""));
	ASSERT_EQ(0, run("nft add rule netdev vjt in udp dport %d drop", PORT_DROP));
	send_mixed(_metadata, self, 8, 0);
	vj_stats(_metadata, self->fd, &st);
	EXPECT_EQ(0ULL, st.rx_nf_dropped);
}

/* Frames for no filter take the stack path, where the same policy applies. */
TEST_F(policy, nft_drop_applies_to_stack_path)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(PORT_STACK) };
	struct vj_statistics st;
	char buf[128];
	int udp;

	if (nf_missing(self, 1))
		SKIP(return, "%s", nf_missing(self, 1));
	channel(_metadata, self);
	udp = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	ASSERT_LE(0, udp);
	ASSERT_EQ(0, bind(udp, (struct sockaddr *)&sin, sizeof(sin)));
	ASSERT_EQ(0, nft_chain("netdev", DEV_B, ""));
	ASSERT_EQ(0, run("nft add rule netdev vjt in udp dport %d drop", PORT_STACK));
	send_udp(_metadata, self, PORT_STACK, 1);
	usleep(200 * 1000);
	EXPECT_EQ(-1, recv(udp, buf, sizeof(buf), 0));
	vj_stats(_metadata, self->fd, &st);
	EXPECT_EQ(1ULL, st.rx_stack);
	EXPECT_EQ(0ULL, st.rx_nf_dropped);
	/* Without the rule, the same frame reaches the socket. */
	ASSERT_EQ(0, run("nft delete table netdev vjt"));
	send_udp(_metadata, self, PORT_STACK, 2);
	usleep(200 * 1000);
	EXPECT_EQ(FRAME_LEN - ETH_HLEN - 28, recv(udp, buf, sizeof(buf), 0));
	close(udp);
}

/* ------------------------------------------------------------------ */
/* RLIMIT_MEMLOCK                                                      */

static int memlock_ready(struct _test_data_policy *self, rlim_t limit)
{
	struct rlimit rl = { limit, limit };

	if (!(self->features & VJ_FEATURE_MEMLOCK))
		return 0;
	if (setrlimit(RLIMIT_MEMLOCK, &rl))
		return 0;
	return set_effective_cap(0, CAP_IPC_LOCK) == 0;
}

/* Binds a new socket to vjb queue @q; returns it, or -errno. */
static int bind_new(struct _test_data_policy *self, __u32 q)
{
	int fd = vj_socket(), err;

	if (fd < 0)
		return -errno;
	if (!vj_bind(fd, self->ifb, q))
		return fd;
	err = -errno;
	close(fd);
	return err;
}

/*
 * Over the limit, bind fails with ENOBUFS; closing a channel returns its
 * charge at once.
 */
TEST_F(policy, memlock_limit)
{
	int a, b;

	/* One ring and a half: room for one channel. */
	if (!memlock_ready(self, RING_BYTES * 3 / 2))
		SKIP(return, "no VJ_FEATURE_MEMLOCK, or cannot set the limit");
	a = bind_new(self, 0);
	ASSERT_LE(0, a) TH_LOG("first bind: %s", strerror(-a));
	b = bind_new(self, 1);
	ASSERT_EQ(-ENOBUFS, b);
	EXPECT_EQ(0, close(a));
	b = bind_new(self, 1);
	ASSERT_LE(0, b) TH_LOG("bind after close: %s", strerror(-b));
	close(b);
	/* A failed bind charged nothing: two in a row still fit one at a time. */
	a = bind_new(self, 0);
	ASSERT_LE(0, a);
	EXPECT_EQ(-ENOBUFS, bind_new(self, 1));
	EXPECT_EQ(-ENOBUFS, bind_new(self, 1));
	close(a);
}

/* A mapping keeps the channel, and its charge, until munmap. */
TEST_F(policy, memlock_charge_held_until_munmap)
{
	struct ring r;
	int a, b;

	if (!memlock_ready(self, RING_BYTES * 3 / 2))
		SKIP(return, "no VJ_FEATURE_MEMLOCK, or cannot set the limit");
	a = bind_new(self, 0);
	ASSERT_LE(0, a);
	ring_map(_metadata, a, &r);
	EXPECT_EQ(0, close(a));
	EXPECT_EQ(-ENOBUFS, bind_new(self, 1));
	EXPECT_EQ(0, munmap(r.map, r.size));
	b = bind_new(self, 1);
	ASSERT_LE(0, b) TH_LOG("bind after munmap: %s", strerror(-b));
	close(b);
}

/* CAP_IPC_LOCK lifts the limit, as for mlock(2). */
TEST_F(policy, memlock_cap_ipc_lock_exempt)
{
	int a, b;

	if (!memlock_ready(self, 0))
		SKIP(return, "no VJ_FEATURE_MEMLOCK, or cannot set the limit");
	EXPECT_EQ(-ENOBUFS, bind_new(self, 0));
	ASSERT_EQ(0, set_effective_cap(1, CAP_IPC_LOCK));
	a = bind_new(self, 0);
	ASSERT_LE(0, a) TH_LOG("bind with CAP_IPC_LOCK: %s", strerror(-a));
	b = bind_new(self, 1);
	ASSERT_LE(0, b);
	close(a);
	close(b);
}

TEST_HARNESS_MAIN
