// SPDX-License-Identifier: GPL-2.0
/*
 * PF_VJCHAN channel ring: bind, mmap, filters, the ring protocol, the
 * veth receive path, and teardown under traffic.
 *
 * Every test runs in a network namespace of its own with a veth pair
 * vja <-> vjb (one queue each); vjb has 10.99.0.2/24.  Frames are sent by
 * an AF_PACKET socket on vja to vjb's MAC address, and the channel socket
 * binds queue 0 of vjb.  The ring's layout is taken from VJ_RING_OFFSETS,
 * never assumed.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/types.h>
#include <linux/vjchan.h>

#include "../../kselftest_harness.h"
#include "vjchan_lib.h"

#define DEV_A		"vja"
#define DEV_B		"vjb"
#define ADDR_A		"10.99.0.1"
#define ADDR_B		"10.99.0.2"
#define ETH_P_VJTEST	0x88b5		/* IEEE local experimental 1 */
#define ETH_P_VJOTHER	0x88b6		/* IEEE local experimental 2 */
#define PORT_CH		7000		/* traffic for the channel */
#define PORT_STACK	7001		/* traffic for an ordinary socket */
#define SPORT		40000
#define WAIT_MS		2000		/* how long to wait for what veth does at once */
#define FRAME_MAX	9216

/* Fields of a test frame after the Ethernet header (raw frames). */
#define RAW_HDR		(ETH_HLEN + 4 + 2)	/* seq, length */

struct ring {
	__u8 *map;
	size_t size;
	struct vj_ring_offsets off;
	__u32 *prod;
	__u32 *cons;
	__u32 *flags;
	__u32 next;		/* next index to consume */
	__u32 released;		/* last value stored into *cons */
};

FIXTURE(ring)
{
	int fd;			/* the channel socket, unbound */
	int pkt;		/* AF_PACKET socket bound to vja */
	int ifa, ifb;
	__u8 mac_a[ETH_ALEN], mac_b[ETH_ALEN];
	struct ring r;
};

/* ------------------------------------------------------------------ */
/* Small helpers that do not report.                                   */

static long pagesz(void)
{
	return sysconf(_SC_PAGESIZE);
}

static int vj_socket(void)
{
	return socket(PF_VJCHAN, SOCK_RAW | SOCK_NONBLOCK, VJ_PROTO_DEFAULT);
}

static int vj_bind_full(int fd, __u16 family, __u16 flags, __u32 ifindex,
			__u32 queue, __u32 reserved, socklen_t len)
{
	struct sockaddr_vj a = {
		.svj_family = family,
		.svj_flags = flags,
		.svj_ifindex = ifindex,
		.svj_queue_id = queue,
		.svj_reserved = reserved,
	};

	return bind(fd, (struct sockaddr *)&a, len);
}

static int vj_bind(int fd, __u32 ifindex, __u32 queue)
{
	return vj_bind_full(fd, AF_VJCHAN, 0, ifindex, queue, 0,
			    sizeof(struct sockaddr_vj));
}

static int vj_offsets(int fd, struct vj_ring_offsets *off)
{
	socklen_t len = sizeof(*off);

	memset(off, 0, sizeof(*off));
	if (getsockopt(fd, SOL_VJCHAN, VJ_RING_OFFSETS, off, &len))
		return -1;
	if (len != sizeof(*off)) {
		errno = EPROTO;
		return -1;
	}
	return 0;
}

static int vj_filter(int fd, int op, const struct vj_filter *f)
{
	return setsockopt(fd, SOL_VJCHAN, op, f, sizeof(*f));
}

static struct vj_filter filter_ethertype(__u16 type)
{
	struct vj_filter f = { .type = VJ_FILTER_ETHERTYPE, .ethertype = htons(type) };

	return f;
}

static struct vj_filter filter_ip4(__u8 proto, __u16 port, const char *addr)
{
	struct vj_filter f = { .type = VJ_FILTER_IPV4, .l4_proto = proto };

	if (port) {
		f.flags |= VJ_FILTER_F_DST_PORT;
		f.dst_port = htons(port);
	}
	if (addr) {
		f.flags |= VJ_FILTER_F_DST_ADDR;
		inet_pton(AF_INET, addr, f.dst_addr);
	}
	return f;
}

static struct vj_filter filter_ip6(__u8 proto, __u16 port)
{
	struct vj_filter f = { .type = VJ_FILTER_IPV6, .l4_proto = proto };

	f.flags = VJ_FILTER_F_DST_PORT;
	f.dst_port = htons(port);
	return f;
}

/* ------------------------------------------------------------------ */
/* Frames.                                                             */

/* Lengths 60..1514, both ends included, in an order that jumps about. */
static size_t raw_len(__u32 seq)
{
	if (seq % 100 == 0)
		return 60;
	if (seq % 100 == 1)
		return 1514;
	return 60 + (seq * 997u) % (1514 - 60 + 1);
}

static __u8 pattern(__u32 seq, size_t i)
{
	return (__u8)(seq * 31u + i * 7u + 1u);
}

static void put_eth(struct _test_data_ring *self, __u8 *buf, __u16 type)
{
	memcpy(buf, self->mac_b, ETH_ALEN);
	memcpy(buf + ETH_ALEN, self->mac_a, ETH_ALEN);
	buf[12] = type >> 8;
	buf[13] = type & 0xff;
}

/* A raw frame: Ethernet header, seq (be32), length (be16), pattern. */
static size_t build_raw(struct _test_data_ring *self, __u8 *buf, size_t len,
			__u32 seq, __u16 type)
{
	size_t i;

	put_eth(self, buf, type);
	buf[14] = seq >> 24;
	buf[15] = seq >> 16;
	buf[16] = seq >> 8;
	buf[17] = seq;
	buf[18] = len >> 8;
	buf[19] = len;
	for (i = RAW_HDR; i < len; i++)
		buf[i] = pattern(seq, i);
	return len;
}

static __u16 ip_csum(const void *data, size_t len)
{
	const __u8 *p = data;
	__u32 sum = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (p[i] << 8) | p[i + 1];
	if (len & 1)
		sum += p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons(~sum & 0xffff);
}

/*
 * An IPv4 frame from 10.99.0.1:SPORT to daddr:dport, UDP (checksum 0) or
 * TCP (a bare SYN; the checksum is left 0, the stack drops it, the channel
 * does not look).  Payload: seq (be32) then the pattern.
 */
static size_t build_ip4(struct _test_data_ring *self, __u8 *buf, __u8 proto,
			const char *daddr, __u16 dport, __u32 seq,
			size_t payload)
{
	size_t l4len = (proto == IPPROTO_TCP ? 20 : 8);
	size_t iplen = 20 + l4len + payload;
	__u8 *ip = buf + ETH_HLEN;
	__u8 *l4 = ip + 20;
	__u8 *pl = l4 + l4len;
	size_t i;

	put_eth(self, buf, ETH_P_IP);
	memset(ip, 0, 20 + l4len);
	ip[0] = 0x45;
	ip[2] = iplen >> 8;
	ip[3] = iplen;
	ip[4] = seq >> 8;
	ip[5] = seq;
	ip[6] = 0x40;				/* DF */
	ip[8] = 64;
	ip[9] = proto;
	inet_pton(AF_INET, ADDR_A, ip + 12);
	inet_pton(AF_INET, daddr, ip + 16);
	memcpy(ip + 10, &(__u16){ ip_csum(ip, 20) }, 2);

	l4[0] = SPORT >> 8;
	l4[1] = SPORT & 0xff;
	l4[2] = dport >> 8;
	l4[3] = dport;
	if (proto == IPPROTO_TCP) {
		l4[12] = 5 << 4;		/* data offset */
		l4[13] = 0x02;			/* SYN */
		l4[14] = 0xff;			/* window */
	} else {
		l4[4] = (8 + payload) >> 8;
		l4[5] = 8 + payload;
		/* checksum 0: none */
	}
	for (i = 0; i < payload; i++)
		pl[i] = pattern(seq, i);
	if (payload >= 4) {
		pl[0] = seq >> 24;
		pl[1] = seq >> 16;
		pl[2] = seq >> 8;
		pl[3] = seq;
	}
	return ETH_HLEN + iplen;
}

static size_t build_udp(struct _test_data_ring *self, __u8 *buf, __u16 dport,
			__u32 seq, size_t payload)
{
	return build_ip4(self, buf, IPPROTO_UDP, ADDR_B, dport, seq, payload);
}

/* IPv6 UDP from fd00::1 to fd00::2 (nothing on the host has them). */
static size_t build_udp6(struct _test_data_ring *self, __u8 *buf, __u16 dport,
			 __u32 seq, size_t payload)
{
	__u8 *ip = buf + ETH_HLEN;
	__u8 *l4 = ip + 40;
	size_t i;

	put_eth(self, buf, ETH_P_IPV6);
	memset(ip, 0, 48);
	ip[0] = 0x60;
	ip[4] = (8 + payload) >> 8;
	ip[5] = 8 + payload;
	ip[6] = IPPROTO_UDP;
	ip[7] = 64;
	inet_pton(AF_INET6, "fd00::1", ip + 8);
	inet_pton(AF_INET6, "fd00::2", ip + 24);
	l4[0] = SPORT >> 8;
	l4[1] = SPORT & 0xff;
	l4[2] = dport >> 8;
	l4[3] = dport;
	l4[4] = (8 + payload) >> 8;
	l4[5] = 8 + payload;
	/* a zero UDP checksum is not valid in IPv6; make a wrong one */
	l4[6] = 0x12;
	l4[7] = 0x34;
	for (i = 0; i < payload; i++)
		l4[8 + i] = pattern(seq, i);
	return ETH_HLEN + 48 + payload;
}

/* Insert a VLAN tag (@tpid, VID 5) after the MAC addresses. */
static size_t add_vlan(__u8 *buf, size_t len, __u16 tpid)
{
	memmove(buf + 16, buf + 12, len - 12);
	buf[12] = tpid >> 8;
	buf[13] = tpid & 0xff;
	buf[14] = 0;
	buf[15] = 5;
	return len + 4;
}

/* IPv6 UDP as build_udp6, behind an 8-byte hop-by-hop options header. */
static size_t build_udp6_hbh(struct _test_data_ring *self, __u8 *buf, __u16 dport,
			     __u32 seq, size_t payload)
{
	size_t len = build_udp6(self, buf, dport, seq, payload);
	__u8 *ip = buf + ETH_HLEN;

	memmove(ip + 48, ip + 40, len - ETH_HLEN - 40);
	ip[40] = IPPROTO_UDP;		/* next header */
	ip[41] = 0;			/* 8 bytes */
	ip[42] = 1;			/* PadN, 4 bytes of padding */
	ip[43] = 4;
	memset(ip + 44, 0, 4);
	ip[6] = 0;			/* hop-by-hop options */
	ip[4] = (8 + 8 + payload) >> 8;
	ip[5] = 8 + 8 + payload;
	return len + 8;
}

/* ------------------------------------------------------------------ */
/* Helpers that report (they need _metadata).                          */

static void send_frame(struct __test_metadata *_metadata,
		       struct _test_data_ring *self, const void *buf, size_t len)
{
	struct pollfd pfd = { .fd = self->pkt, .events = POLLOUT };
	ssize_t n;

	ASSERT_EQ(1, poll(&pfd, 1, WAIT_MS)) TH_LOG("packet socket not writable");
	n = send(self->pkt, buf, len, 0);
	ASSERT_EQ((ssize_t)len, n) TH_LOG("send %zu: %s", len, strerror(errno));
}

static void send_raw(struct __test_metadata *_metadata, struct _test_data_ring *self,
		     __u32 seq, size_t len, __u16 type)
{
	__u8 buf[FRAME_MAX];

	build_raw(self, buf, len, seq, type);
	send_frame(_metadata, self, buf, len);
}

static void send_udp(struct __test_metadata *_metadata, struct _test_data_ring *self,
		     __u16 dport, __u32 seq, size_t payload)
{
	__u8 buf[FRAME_MAX];
	size_t len = build_udp(self, buf, dport, seq, payload);

	send_frame(_metadata, self, buf, len);
}

static void vj_stats(struct __test_metadata *_metadata, int fd,
		     struct vj_statistics *st)
{
	socklen_t len = sizeof(*st);

	memset(st, 0xa5, sizeof(*st));
	ASSERT_EQ(0, getsockopt(fd, SOL_VJCHAN, VJ_STATISTICS, st, &len))
		TH_LOG("VJ_STATISTICS: %s", strerror(errno));
	ASSERT_EQ(sizeof(*st), (size_t)len);
}

static __u64 stat_field(const struct vj_statistics *st, size_t off)
{
	__u64 v;

	memcpy(&v, (const __u8 *)st + off, sizeof(v));
	return v;
}

/* Read the statistics until field @off reaches @want or time runs out. */
static __u64 wait_stat(struct __test_metadata *_metadata, int fd, size_t off,
		       __u64 want)
{
	__u64 end = now_ns() + WAIT_MS * 1000000ULL;
	struct vj_statistics st;

	for (;;) {
		vj_stats(_metadata, fd, &st);
		if (stat_field(&st, off) >= want || now_ns() > end)
			return stat_field(&st, off);
		usleep(1000);
	}
}

#define STAT(name) offsetof(struct vj_statistics, name)

static void vj_bind_b(struct __test_metadata *_metadata, struct _test_data_ring *self)
{
	ASSERT_EQ(0, vj_bind(self->fd, self->ifb, 0))
		TH_LOG("bind %s queue 0: %s", DEV_B, strerror(errno));
}

/* Map the ring of bound socket @fd; frames may already wait in it. */
static void ring_map_any(struct __test_metadata *_metadata, int fd, struct ring *r)
{
	struct vj_ring_offsets *o = &r->off;

	ASSERT_EQ(0, vj_offsets(fd, o)) TH_LOG("VJ_RING_OFFSETS: %s", strerror(errno));
	ASSERT_NE(0U, o->nr_slots);
	ASSERT_EQ(0U, o->nr_slots & (o->nr_slots - 1));
	ASSERT_LE(sizeof(struct vj_desc), o->desc_size);
	ASSERT_LE(o->producer + 4, o->mmap_size);
	ASSERT_LE(o->consumer + 4, o->mmap_size);
	ASSERT_LE(o->flags + 4, o->mmap_size);
	/* Capacity is nr_bufs frames; the tests below fill and count by it. */
	ASSERT_LE((__u32)VJ_RING_SLOTS_MIN, o->nr_bufs);
	ASSERT_LE(o->nr_bufs, o->nr_slots);
	ASSERT_LE(o->buffers + (__u64)o->nr_bufs * o->buf_size, o->mmap_size);
	r->size = o->mmap_size;
	r->map = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		      VJ_MMAP_OFFSET_RX_RING);
	if (r->map == MAP_FAILED)
		r->map = NULL;
	ASSERT_NE(NULL, r->map) TH_LOG("mmap %zu: %s", r->size, strerror(errno));
	r->prod = (__u32 *)(r->map + o->producer);
	r->cons = (__u32 *)(r->map + o->consumer);
	r->flags = (__u32 *)(r->map + o->flags);
	/* Where the kernel starts the indices is its business. */
	r->next = __atomic_load_n(r->cons, __ATOMIC_RELAXED);
	r->released = r->next;
}

/* Map the ring of bound socket @fd, which no frame can have reached yet. */
static void ring_map(struct __test_metadata *_metadata, int fd, struct ring *r)
{
	ring_map_any(_metadata, fd, r);
	ASSERT_EQ(r->next, __atomic_load_n(r->prod, __ATOMIC_ACQUIRE))
		TH_LOG("a freshly bound ring is not empty");
}

/* Bind vjb queue 0 and map the ring. */
static void setup_channel(struct __test_metadata *_metadata, struct _test_data_ring *self)
{
	vj_bind_b(_metadata, self);
	ring_map(_metadata, self->fd, &self->r);
}

static __u32 ring_avail(struct ring *r)
{
	return __atomic_load_n(r->prod, __ATOMIC_ACQUIRE) - r->next;
}

static void ring_release(struct ring *r)
{
	r->released = r->next;
	__atomic_store_n(r->cons, r->released, __ATOMIC_RELEASE);
}

/* Wait until at least @want frames wait in the ring; returns how many. */
static __u32 ring_wait(struct ring *r, __u32 want)
{
	__u64 end = now_ns() + WAIT_MS * 1000000ULL;
	__u32 n;

	while ((n = ring_avail(r)) < want && now_ns() < end)
		usleep(1000);
	return n;
}

/*
 * The frame of ring index @idx (which the producer has passed), checked to
 * lie in one buffer of the buffer area.  Returns a pointer into the ring.
 */
static const __u8 *ring_frame(struct __test_metadata *_metadata, struct ring *r,
			      __u32 idx, __u32 *len, __u32 *bufidx)
{
	const struct vj_ring_offsets *o = &r->off;
	struct vj_desc d;
	__u64 rel;

	memcpy(&d, r->map + o->desc + (size_t)(idx & (o->nr_slots - 1)) * o->desc_size,
	       sizeof(d));
	/*
	 * This file's frames come from AF_PACKET or from the stack of another
	 * namespace: no checksum offload (CHECKSUM_NONE), no socket flow hash
	 * (l4_hash), and no ring asks for time stamps.  A field whose flag is
	 * clear is 0.
	 */
	EXPECT_EQ(0U, d.flags) TH_LOG("index %u: desc.flags %#x", idx, d.flags);
	EXPECT_EQ(0U, d.rxhash) TH_LOG("index %u: rxhash %#x without its flag", idx, d.rxhash);
	EXPECT_EQ(0U, d.reserved) TH_LOG("index %u: reserved %#x", idx, d.reserved);
	EXPECT_EQ(0U, d.tstamp) TH_LOG("index %u: tstamp %llu without its flag", idx,
				       (unsigned long long)d.tstamp);
	ASSERT_LE(o->buffers, d.addr) TH_LOG("index %u: addr %#llx before the buffers",
					     idx, (unsigned long long)d.addr);
	rel = d.addr - o->buffers;
	ASSERT_GT((__u64)o->nr_bufs * o->buf_size, rel)
		TH_LOG("index %u: addr %#llx past the buffers", idx,
		       (unsigned long long)d.addr);
	ASSERT_EQ(o->headroom, rel % o->buf_size)
		TH_LOG("index %u: frame not headroom bytes into its buffer", idx);
	ASSERT_NE(0U, d.len) TH_LOG("index %u: empty frame", idx);
	ASSERT_LE(rel % o->buf_size + d.len, o->buf_size)
		TH_LOG("index %u: frame (len %u) runs past its buffer", idx, d.len);
	ASSERT_LE(d.addr + d.len, r->size);
	*len = d.len;
	if (bufidx)
		*bufidx = rel / o->buf_size;
	return r->map + d.addr;
}

/*
 * Consume one frame: acquire the producer, read the descriptor, copy the
 * frame, release the slot (release store of the consumer index).
 * Returns the frame length, 0 if the ring is empty.
 */
static __u32 ring_consume(struct __test_metadata *_metadata, struct ring *r,
			  __u8 *buf)
{
	__u32 prod = __atomic_load_n(r->prod, __ATOMIC_ACQUIRE);
	const __u8 *f;
	__u32 len = 0;

	if (prod == r->next)
		return 0;
	ASSERT_GE(r->off.nr_bufs, prod - r->next)
		TH_LOG("producer %u is %u ahead of consumer %u", prod,
		       prod - r->next, r->next);
	f = ring_frame(_metadata, r, r->next, &len, NULL);
	memcpy(buf, f, len);
	r->next++;
	ring_release(r);
	return len;
}

static void expect_raw(struct __test_metadata *_metadata, struct _test_data_ring *self,
		       const __u8 *f, __u32 len, __u32 seq, size_t want_len)
{
	__u8 exp[FRAME_MAX];
	__u32 got_seq = 0;

	if (len >= RAW_HDR)
		got_seq = (__u32)f[14] << 24 | f[15] << 16 | f[16] << 8 | f[17];
	ASSERT_EQ(want_len, len) TH_LOG("frame seq %u (got seq %u)", seq, got_seq);
	ASSERT_EQ(seq, got_seq);
	build_raw(self, exp, want_len, seq, ETH_P_VJTEST);
	ASSERT_EQ(0, memcmp(exp, f, len)) TH_LOG("frame seq %u differs", seq);
}

/* Consume the next frame and check it is raw frame @seq of length @len. */
static void consume_raw(struct __test_metadata *_metadata, struct _test_data_ring *self,
			__u32 seq, size_t len)
{
	__u8 buf[FRAME_MAX];
	__u32 got;

	ASSERT_LE(1U, ring_wait(&self->r, 1)) TH_LOG("frame seq %u did not arrive", seq);
	got = ring_consume(_metadata, &self->r, buf);
	expect_raw(_metadata, self, buf, got, seq, len);
}

static void expect_ring_empty(struct __test_metadata *_metadata, struct ring *r)
{
	EXPECT_EQ(0U, ring_avail(r));
}

/* An ordinary UDP socket on 10.99.0.2:port. */
static int udp_socket(struct __test_metadata *_metadata, __u16 port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);

	EXPECT_LE(0, fd);
	inet_pton(AF_INET, ADDR_B, &sin.sin_addr);
	EXPECT_EQ(0, bind(fd, (struct sockaddr *)&sin, sizeof(sin)))
		TH_LOG("bind udp %s:%u: %s", ADDR_B, port, strerror(errno));
	return fd;
}

/* ------------------------------------------------------------------ */

FIXTURE_SETUP(ring)
{
	struct sock_filter drop_all = BPF_STMT(BPF_RET | BPF_K, 0);
	struct sock_fprog prog = { .len = 1, .filter = &drop_all };
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };
	struct ifreq ifr;
	int fd;

	self->fd = -1;
	self->pkt = -1;
	memset(&self->r, 0, sizeof(self->r));

	fd = vj_socket();
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

	/* No IPv6 autoconfiguration chatter from vja into vjb's channel. */
	write_file("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
	write_file("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");

	if (run("ip link add " DEV_A " numtxqueues 1 numrxqueues 1 type veth peer name "
		DEV_B " numtxqueues 1 numrxqueues 1"))
		SKIP(return, "cannot create a veth pair (CONFIG_VETH=n?)");
	ASSERT_EQ(0, run("ip link set dev " DEV_A " up && ip link set dev " DEV_B
			 " up && ip addr add " ADDR_B "/24 dev " DEV_B));

	self->ifa = if_nametoindex(DEV_A);
	self->ifb = if_nametoindex(DEV_B);
	ASSERT_NE(0, self->ifa);
	ASSERT_NE(0, self->ifb);

	self->pkt = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
	ASSERT_LE(0, self->pkt) TH_LOG("AF_PACKET: %s", strerror(errno));
	/* The sender never reads: receive nothing. */
	ASSERT_EQ(0, setsockopt(self->pkt, SOL_SOCKET, SO_ATTACH_FILTER, &prog,
				sizeof(prog)));
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = self->ifa;
	ASSERT_EQ(0, bind(self->pkt, (struct sockaddr *)&sll, sizeof(sll)))
		TH_LOG("bind AF_PACKET to %s: %s", DEV_A, strerror(errno));

	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, DEV_A, sizeof(DEV_A));
	ASSERT_EQ(0, ioctl(self->pkt, SIOCGIFHWADDR, &ifr));
	memcpy(self->mac_a, ifr.ifr_hwaddr.sa_data, ETH_ALEN);
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, DEV_B, sizeof(DEV_B));
	ASSERT_EQ(0, ioctl(self->pkt, SIOCGIFHWADDR, &ifr));
	memcpy(self->mac_b, ifr.ifr_hwaddr.sa_data, ETH_ALEN);

	/* The channel socket, in this namespace. */
	self->fd = vj_socket();
	ASSERT_LE(0, self->fd) TH_LOG("socket: %s", strerror(errno));
}

FIXTURE_TEARDOWN(ring)
{
	if (self->r.map)
		EXPECT_EQ(0, munmap(self->r.map, self->r.size));
	if (self->fd >= 0)
		EXPECT_EQ(0, close(self->fd));
	if (self->pkt >= 0)
		close(self->pkt);
	/* The namespace and the veth pair go away with this process. */
}

/* ================================================================== */
/* Socket options                                                      */

TEST_F(ring, ring_offsets_before_bind)
{
	struct vj_ring_offsets o, o2;
	__u64 lines[4], line;
	unsigned int i, j;
	__u64 descs_end, bufs_end;

	ASSERT_EQ(0, vj_offsets(self->fd, &o)) TH_LOG("%s", strerror(errno));
	EXPECT_NE(0U, o.mmap_size);
	EXPECT_EQ(0U, o.mmap_size % pagesz());
	EXPECT_LE(o.mmap_size, VJ_RING_SIZE_MAX);
	EXPECT_EQ(0U, o.nr_slots & (o.nr_slots - 1)) TH_LOG("nr_slots %u", o.nr_slots);
	EXPECT_LE((__u32)VJ_RING_SLOTS_MIN, o.nr_slots);
	EXPECT_GE((__u32)VJ_RING_SLOTS_MAX, o.nr_slots);
	EXPECT_LE(sizeof(struct vj_desc), o.desc_size);
	EXPECT_LT(o.headroom, o.buf_size);
	EXPECT_EQ(0U, o.buf_size & (o.buf_size - 1)) TH_LOG("buf_size %u", o.buf_size);
	EXPECT_LE((__u32)VJ_RING_BUF_SIZE_MIN, o.buf_size);
	EXPECT_GE((__u64)pagesz(), o.buf_size);
	EXPECT_EQ(o.buf_size - o.headroom, o.frame_max);
	/* At most nr_slots buffers, at least VJ_RING_SLOTS_MIN. */
	EXPECT_LE((__u32)VJ_RING_SLOTS_MIN, o.nr_bufs);
	EXPECT_LE(o.nr_bufs, o.nr_slots);
	for (i = 0; i < ARRAY_SIZE(o.reserved); i++)
		EXPECT_EQ(0U, o.reserved[i]);

	/*
	 * Words: aligned, inside the mapping, each on a cache line of its own:
	 * the kernel's (producer, status) before the descriptors, user space's
	 * (consumer, flags) after them and before the buffers.
	 */
	descs_end = o.desc + (__u64)o.nr_slots * o.desc_size;
	bufs_end = o.buffers + (__u64)o.nr_bufs * o.buf_size;
	lines[0] = o.producer;
	lines[1] = o.status;
	lines[2] = o.consumer;
	lines[3] = o.flags;
	for (i = 0; i < 4; i++) {
		EXPECT_EQ(0U, lines[i] % 4);
		EXPECT_LE(lines[i] + 4, o.mmap_size);
		for (j = 0; j < i; j++)
			EXPECT_NE(lines[i] / 64, lines[j] / 64) TH_LOG("words %u and %u", i, j);
		/* The whole line is the word's: no descriptor, no buffer on it. */
		line = lines[i] & ~63ULL;
		EXPECT_TRUE(line + 64 <= o.desc || line >= descs_end) TH_LOG("word %u", i);
		EXPECT_TRUE(line + 64 <= o.buffers || line >= bufs_end) TH_LOG("word %u", i);
	}
	EXPECT_LE(o.producer + 4, o.desc);
	EXPECT_LE(o.status + 4, o.desc);
	EXPECT_LE(descs_end, o.consumer) TH_LOG("descriptors end at %#llx",
						(unsigned long long)descs_end);
	EXPECT_LE(descs_end, o.flags);
	EXPECT_LE(o.consumer + 64, o.buffers);
	EXPECT_LE(o.flags + 64, o.buffers) TH_LOG("flags %#llx, buffers %#llx",
						  (unsigned long long)o.flags,
						  (unsigned long long)o.buffers);
	/* Descriptors, then nr_bufs buffers; every page of the mapping used. */
	EXPECT_LE(descs_end, o.buffers);
	EXPECT_LE(bufs_end, o.mmap_size);
	EXPECT_GT((__u64)pagesz(), o.mmap_size - bufs_end) TH_LOG("buffers end at %#llx of %#llx",
								  (unsigned long long)bufs_end,
								  (unsigned long long)o.mmap_size);

	/* The layout does not change when the socket is bound. */
	vj_bind_b(_metadata, self);
	ASSERT_EQ(0, vj_offsets(self->fd, &o2));
	EXPECT_EQ(0, memcmp(&o, &o2, sizeof(o)));
}

TEST_F(ring, ring_offsets_short_optlen)
{
	__u8 buf[sizeof(struct vj_ring_offsets)];
	static const socklen_t lens[] = { 0, 1, 8, sizeof(struct vj_ring_offsets) - 1 };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(lens); i++) {
		socklen_t len = lens[i];

		errno = 0;
		EXPECT_EQ(-1, getsockopt(self->fd, SOL_VJCHAN, VJ_RING_OFFSETS, buf, &len))
			TH_LOG("optlen %u", lens[i]);
		EXPECT_EQ(EINVAL, errno) TH_LOG("optlen %u", lens[i]);
	}
}

TEST_F(ring, features)
{
	__u64 feat = 0;
	socklen_t len = sizeof(feat);
	__u64 want = VJ_FEATURE_RX_RING | VJ_FEATURE_NEED_WAKEUP |
		     VJ_FEATURE_FILTER_ETHERTYPE | VJ_FEATURE_FILTER_IP |
		     VJ_FEATURE_RING_SETUP | VJ_FEATURE_DESC_FLAGS;

	ASSERT_EQ(0, getsockopt(self->fd, SOL_VJCHAN, VJ_FEATURES, &feat, &len))
		TH_LOG("%s", strerror(errno));
	EXPECT_EQ(sizeof(feat), (size_t)len);
	EXPECT_EQ(want, feat & want) TH_LOG("features %#llx", (unsigned long long)feat);
}

TEST_F(ring, features_short_optlen)
{
	static const socklen_t lens[] = { 0, 1, 4, 7 };
	__u64 feat;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(lens); i++) {
		socklen_t len = lens[i];

		errno = 0;
		EXPECT_EQ(-1, getsockopt(self->fd, SOL_VJCHAN, VJ_FEATURES, &feat, &len))
			TH_LOG("optlen %u", lens[i]);
		EXPECT_EQ(EINVAL, errno) TH_LOG("optlen %u", lens[i]);
	}
}

TEST_F(ring, statistics_short_optlen)
{
	static const socklen_t lens[] = { 0, 1, 8, VJ_STATISTICS_SIZE_VER0 - 1 };
	struct vj_statistics st;
	unsigned int i;

	vj_bind_b(_metadata, self);
	for (i = 0; i < ARRAY_SIZE(lens); i++) {
		socklen_t len = lens[i];

		errno = 0;
		EXPECT_EQ(-1, getsockopt(self->fd, SOL_VJCHAN, VJ_STATISTICS, &st, &len))
			TH_LOG("optlen %u", lens[i]);
		EXPECT_EQ(EINVAL, errno) TH_LOG("optlen %u", lens[i]);
	}
}

TEST_F(ring, statistics_long_optlen)
{
	__u8 buf[sizeof(struct vj_statistics) + 64];
	socklen_t len = sizeof(buf);
	struct vj_statistics st;
	size_t i;

	vj_bind_b(_metadata, self);
	memset(buf, 0x5a, sizeof(buf));
	ASSERT_EQ(0, getsockopt(self->fd, SOL_VJCHAN, VJ_STATISTICS, buf, &len))
		TH_LOG("%s", strerror(errno));
	EXPECT_EQ(sizeof(struct vj_statistics), (size_t)len);
	for (i = sizeof(struct vj_statistics); i < sizeof(buf); i++)
		EXPECT_EQ(0x5a, buf[i]) TH_LOG("byte %zu past the struct written", i);
	/* Nothing has been received: all zero. */
	memcpy(&st, buf, sizeof(st));
	EXPECT_EQ(0U, st.rx_packets);
	EXPECT_EQ(0U, st.rx_bytes);
	EXPECT_EQ(0U, st.rx_ring_full);
	EXPECT_EQ(0U, st.rx_invalid_consumer);
	EXPECT_EQ(0U, st.rx_bad_length);
	EXPECT_EQ(0U, st.rx_wakeups);

	/* Exactly the version 0 size. */
	len = VJ_STATISTICS_SIZE_VER0;
	ASSERT_EQ(0, getsockopt(self->fd, SOL_VJCHAN, VJ_STATISTICS, buf, &len));
	EXPECT_EQ((socklen_t)VJ_STATISTICS_SIZE_VER0, len);
}

/* ================================================================== */
/* bind                                                                */

TEST_F(ring, bind_short_addrlen)
{
	static const socklen_t lens[] = { 0, 2, 8, 12, sizeof(struct sockaddr_vj) - 1 };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(lens); i++) {
		errno = 0;
		EXPECT_EQ(-1, vj_bind_full(self->fd, AF_VJCHAN, 0, self->ifb, 0, 0, lens[i]))
			TH_LOG("addrlen %u", lens[i]);
		EXPECT_EQ(EINVAL, errno) TH_LOG("addrlen %u", lens[i]);
	}
	/* Nothing was half done. */
	vj_bind_b(_metadata, self);
}

TEST_F(ring, bind_wrong_family)
{
	static const __u16 fams[] = { AF_UNSPEC, AF_INET, AF_PACKET, AF_VJCHAN + 1,
				      0xffff };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(fams); i++) {
		errno = 0;
		EXPECT_EQ(-1, vj_bind_full(self->fd, fams[i], 0, self->ifb, 0, 0,
					   sizeof(struct sockaddr_vj)))
			TH_LOG("family %u", fams[i]);
		EXPECT_EQ(EINVAL, errno) TH_LOG("family %u", fams[i]);
	}
	vj_bind_b(_metadata, self);
}

TEST_F(ring, bind_nonzero_flags_or_reserved)
{
	static const __u16 flags[] = { 1, 2, 0x8000, 0xffff };
	static const __u32 resv[] = { 1, 0x100, 0x80000000u, 0xffffffffu };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(flags); i++) {
		errno = 0;
		EXPECT_EQ(-1, vj_bind_full(self->fd, AF_VJCHAN, flags[i], self->ifb, 0, 0,
					   sizeof(struct sockaddr_vj)))
			TH_LOG("flags %#x", flags[i]);
		EXPECT_EQ(EINVAL, errno) TH_LOG("flags %#x", flags[i]);
	}
	for (i = 0; i < ARRAY_SIZE(resv); i++) {
		errno = 0;
		EXPECT_EQ(-1, vj_bind_full(self->fd, AF_VJCHAN, 0, self->ifb, 0, resv[i],
					   sizeof(struct sockaddr_vj)))
			TH_LOG("reserved %#x", resv[i]);
		EXPECT_EQ(EINVAL, errno) TH_LOG("reserved %#x", resv[i]);
	}
	vj_bind_b(_metadata, self);
}

TEST_F(ring, bind_bad_ifindex)
{
	static const __u32 idx[] = { 0, 4242, 0x7fffffffu, 0xffffffffu };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(idx); i++) {
		errno = 0;
		EXPECT_EQ(-1, vj_bind(self->fd, idx[i], 0)) TH_LOG("ifindex %u", idx[i]);
		EXPECT_EQ(ENODEV, errno) TH_LOG("ifindex %u", idx[i]);
	}
	vj_bind_b(_metadata, self);
}

/* A device whose driver does not support channels: loopback. */
TEST_F(ring, bind_unsupported_device)
{
	__u32 lo = if_nametoindex("lo");

	ASSERT_NE(0U, lo);
	errno = 0;
	EXPECT_EQ(-1, vj_bind(self->fd, lo, 0));
	EXPECT_EQ(EOPNOTSUPP, errno);
	/* The failed bind left the socket free to bind a supported device. */
	vj_bind_b(_metadata, self);
}

/* The socket's namespace counts, not the caller's. */
TEST_F(ring, bind_ifindex_of_other_netns)
{
	int ns, fd;

	ns = open("/proc/self/ns/net", O_RDONLY);
	ASSERT_LE(0, ns);
	ASSERT_EQ(0, unshare(CLONE_NEWNET));
	fd = vj_socket();			/* in the new, empty namespace */
	ASSERT_LE(0, fd) TH_LOG("socket: %s", strerror(errno));
	ASSERT_EQ(0, setns(ns, CLONE_NEWNET)) TH_LOG("setns: %s", strerror(errno));
	close(ns);

	errno = 0;
	EXPECT_EQ(-1, vj_bind(fd, self->ifb, 0));
	EXPECT_EQ(ENODEV, errno);
	EXPECT_EQ(0, close(fd));
	vj_bind_b(_metadata, self);
}

TEST_F(ring, bind_queue_out_of_range)
{
	static const __u32 q[] = { 1, 2, 64, 0x7fffffffu, 0xffffffffu };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(q); i++) {
		errno = 0;
		EXPECT_EQ(-1, vj_bind(self->fd, self->ifb, q[i])) TH_LOG("queue %u", q[i]);
		EXPECT_EQ(EINVAL, errno) TH_LOG("queue %u", q[i]);
	}
	vj_bind_b(_metadata, self);
}

TEST_F(ring, bind_twice)
{
	vj_bind_b(_metadata, self);
	errno = 0;
	EXPECT_EQ(-1, vj_bind(self->fd, self->ifb, 0));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(-1, vj_bind(self->fd, self->ifa, 0));
	EXPECT_EQ(EINVAL, errno);
	/* Still bound to vjb, and working. */
	ring_map(_metadata, self->fd, &self->r);
}

TEST_F(ring, bind_queue_busy)
{
	int fd2, fd3;

	vj_bind_b(_metadata, self);
	fd2 = vj_socket();
	ASSERT_LE(0, fd2);
	errno = 0;
	EXPECT_EQ(-1, vj_bind(fd2, self->ifb, 0));
	EXPECT_EQ(EBUSY, errno);
	/* The other device's queue is free. */
	EXPECT_EQ(0, vj_bind(fd2, self->ifa, 0)) TH_LOG("%s", strerror(errno));
	fd3 = vj_socket();
	ASSERT_LE(0, fd3);
	errno = 0;
	EXPECT_EQ(-1, vj_bind(fd3, self->ifa, 0));
	EXPECT_EQ(EBUSY, errno);
	EXPECT_EQ(0, close(fd3));
	EXPECT_EQ(0, close(fd2));
}

TEST_F(ring, queue_free_after_close)
{
	struct ring r2 = { 0 };
	int fd2, fd3;

	/* Unmapped: the queue is free once the socket is closed. */
	vj_bind_b(_metadata, self);
	EXPECT_EQ(0, close(self->fd));
	self->fd = -1;
	fd2 = vj_socket();
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, vj_bind(fd2, self->ifb, 0)) TH_LOG("%s", strerror(errno));

	/* Mapped: free once closed and unmapped. */
	ring_map(_metadata, fd2, &r2);
	EXPECT_EQ(0, close(fd2));
	EXPECT_EQ(0, munmap(r2.map, r2.size));
	fd3 = vj_socket();
	ASSERT_LE(0, fd3);
	EXPECT_EQ(0, vj_bind(fd3, self->ifb, 0)) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(0, close(fd3));
}

/*
 * A device channel can divert any traffic of its queue: binding one is an
 * administrator's power.  CAP_NET_RAW alone does not do.
 */
TEST_F(ring, bind_without_cap_net_admin)
{
	if (!have_effective_cap(CAP_NET_ADMIN) || !have_effective_cap(CAP_NET_RAW))
		SKIP(return, "no CAP_NET_ADMIN and CAP_NET_RAW to start from");
	ASSERT_EQ(0, set_effective_cap(0, CAP_NET_ADMIN)) TH_LOG("capset: %s", strerror(errno));
	ASSERT_FALSE(have_effective_cap(CAP_NET_ADMIN));
	ASSERT_TRUE(have_effective_cap(CAP_NET_RAW));

	errno = 0;
	EXPECT_EQ(-1, vj_bind(self->fd, self->ifb, 0));
	EXPECT_EQ(EPERM, errno);

	/* CAP_NET_ADMIN, and nothing else, was missing. */
	ASSERT_EQ(0, set_effective_cap(1, CAP_NET_ADMIN)) TH_LOG("capset: %s", strerror(errno));
	vj_bind_b(_metadata, self);
}

TEST_F(ring, bind_as_nobody)
{
	if (getuid() != 0)
		SKIP(return, "not root");
	ASSERT_EQ(0, setgid(65534));
	ASSERT_EQ(0, setuid(65534));
	errno = 0;
	EXPECT_EQ(-1, vj_bind(self->fd, self->ifb, 0));
	EXPECT_EQ(EPERM, errno);
}

/* ================================================================== */
/* mmap                                                                */

TEST_F(ring, mmap_before_bind)
{
	struct vj_ring_offsets o;
	void *p;

	ASSERT_EQ(0, vj_offsets(self->fd, &o));
	errno = 0;
	p = mmap(NULL, o.mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	if (p != MAP_FAILED)
		munmap(p, o.mmap_size);
}

TEST_F(ring, mmap_bad_offset)
{
	struct vj_ring_offsets o;
	off_t offs[3];
	unsigned int i;
	void *p;

	vj_bind_b(_metadata, self);
	ASSERT_EQ(0, vj_offsets(self->fd, &o));
	offs[0] = pagesz();
	offs[1] = 16 * pagesz();
	offs[2] = o.mmap_size;
	for (i = 0; i < ARRAY_SIZE(offs); i++) {
		errno = 0;
		p = mmap(NULL, o.mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd,
			 offs[i]);
		EXPECT_EQ(MAP_FAILED, p) TH_LOG("offset %jd", (intmax_t)offs[i]);
		EXPECT_EQ(EINVAL, errno) TH_LOG("offset %jd", (intmax_t)offs[i]);
		if (p != MAP_FAILED)
			munmap(p, o.mmap_size);
	}
}

TEST_F(ring, mmap_bad_length)
{
	struct vj_ring_offsets o;
	size_t lens[4];
	unsigned int i;
	void *p;

	vj_bind_b(_metadata, self);
	ASSERT_EQ(0, vj_offsets(self->fd, &o));
	lens[0] = pagesz();
	lens[1] = o.mmap_size - pagesz();	/* shorter */
	lens[2] = o.mmap_size + pagesz();	/* longer */
	lens[3] = 2 * o.mmap_size;
	for (i = 0; i < ARRAY_SIZE(lens); i++) {
		errno = 0;
		p = mmap(NULL, lens[i], PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, 0);
		EXPECT_EQ(MAP_FAILED, p) TH_LOG("length %zu", lens[i]);
		EXPECT_EQ(EINVAL, errno) TH_LOG("length %zu", lens[i]);
		if (p != MAP_FAILED)
			munmap(p, lens[i]);
	}
}

TEST_F(ring, mmap_private)
{
	struct vj_ring_offsets o;
	void *p;

	vj_bind_b(_metadata, self);
	ASSERT_EQ(0, vj_offsets(self->fd, &o));
	errno = 0;
	p = mmap(NULL, o.mmap_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, self->fd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	if (p != MAP_FAILED)
		munmap(p, o.mmap_size);
	errno = 0;
	p = mmap(NULL, o.mmap_size, PROT_READ, MAP_PRIVATE, self->fd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	if (p != MAP_FAILED)
		munmap(p, o.mmap_size);
}

TEST_F(ring, mmap_prot_exec)
{
	static const int prots[] = { PROT_READ | PROT_EXEC,
				     PROT_READ | PROT_WRITE | PROT_EXEC };
	struct vj_ring_offsets o;
	unsigned int i;
	void *p;

	vj_bind_b(_metadata, self);
	ASSERT_EQ(0, vj_offsets(self->fd, &o));
	for (i = 0; i < ARRAY_SIZE(prots); i++) {
		errno = 0;
		p = mmap(NULL, o.mmap_size, prots[i], MAP_SHARED, self->fd, 0);
		EXPECT_EQ(MAP_FAILED, p) TH_LOG("prot %#x", prots[i]);
		EXPECT_EQ(EPERM, errno) TH_LOG("prot %#x", prots[i]);
		if (p != MAP_FAILED)
			munmap(p, o.mmap_size);
	}
}

TEST_F(ring, mprotect_exec)
{
	setup_channel(_metadata, self);
	errno = 0;
	EXPECT_EQ(-1, mprotect(self->r.map, self->r.size, PROT_READ | PROT_EXEC));
	EXPECT_EQ(EACCES, errno);
	errno = 0;
	EXPECT_EQ(-1, mprotect(self->r.map, pagesz(), PROT_READ | PROT_WRITE | PROT_EXEC));
	EXPECT_EQ(EACCES, errno);
	/* The mapping is as it was. */
	__atomic_store_n(self->r.flags, 0, __ATOMIC_RELAXED);
	EXPECT_EQ(0U, __atomic_load_n(self->r.prod, __ATOMIC_ACQUIRE) - self->r.next);
}

TEST_F(ring, mremap_grow)
{
	void *p;

	setup_channel(_metadata, self);
	errno = 0;
	p = mremap(self->r.map, self->r.size, self->r.size + pagesz(), MREMAP_MAYMOVE);
	EXPECT_EQ(MAP_FAILED, p) TH_LOG("a channel mapping grew");
	if (p != MAP_FAILED) {
		/* it moved; keep track so that teardown unmaps it */
		munmap(p, self->r.size + pagesz());
		self->r.map = NULL;
	} else {
		TH_LOG("mremap: %s (ok)", strerror(errno));
	}
}

TEST_F(ring, two_mappings_share_pages)
{
	struct vj_filter f = filter_ethertype(ETH_P_VJTEST);
	__u8 *m2;
	__u32 len;
	const __u8 *fr;

	setup_channel(_metadata, self);
	m2 = mmap(NULL, self->r.size, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, m2) TH_LOG("second mmap: %s", strerror(errno));
	ASSERT_NE(self->r.map, m2);
	ASSERT_EQ(0, vj_filter(self->fd, VJ_ADD_FILTER, &f));

	send_raw(_metadata, self, 7, 300, ETH_P_VJTEST);
	ASSERT_EQ(1U, ring_wait(&self->r, 1));
	EXPECT_EQ(*self->r.prod, *(__u32 *)(m2 + self->r.off.producer));
	fr = ring_frame(_metadata, &self->r, self->r.next, &len, NULL);
	EXPECT_EQ(0, memcmp(fr, m2 + (fr - self->r.map), len));
	expect_raw(_metadata, self, m2 + (fr - self->r.map), len, 7, 300);

	/* A user-written word written through one is seen through the other. */
	__atomic_store_n((__u32 *)(m2 + self->r.off.flags), VJ_RING_NEED_WAKEUP,
			 __ATOMIC_RELAXED);
	EXPECT_EQ(VJ_RING_NEED_WAKEUP, __atomic_load_n(self->r.flags, __ATOMIC_RELAXED));
	__atomic_store_n(self->r.flags, 0, __ATOMIC_RELAXED);
	EXPECT_EQ(0U, *(__u32 *)(m2 + self->r.off.flags));
	EXPECT_EQ(0, munmap(m2, self->r.size));

	/* The first mapping goes on working. */
	consume_raw(_metadata, self, 7, 300);
	expect_ring_empty(_metadata, &self->r);
}

/* ================================================================== */
/* Filters (allowed before bind: the socket is unbound here)           */

TEST_F(ring, filter_short_optlen)
{
	struct vj_filter f = filter_ethertype(ETH_P_VJTEST);
	static const socklen_t lens[] = { 0, 1, 16, sizeof(struct vj_filter) - 1 };
	unsigned int i;

	ASSERT_EQ(48U, sizeof(struct vj_filter));
	for (i = 0; i < ARRAY_SIZE(lens); i++) {
		errno = 0;
		EXPECT_EQ(-1, setsockopt(self->fd, SOL_VJCHAN, VJ_ADD_FILTER, &f, lens[i]))
			TH_LOG("add optlen %u", lens[i]);
		EXPECT_EQ(EINVAL, errno) TH_LOG("add optlen %u", lens[i]);
	}
	ASSERT_EQ(0, vj_filter(self->fd, VJ_ADD_FILTER, &f));
	for (i = 0; i < ARRAY_SIZE(lens); i++) {
		errno = 0;
		EXPECT_EQ(-1, setsockopt(self->fd, SOL_VJCHAN, VJ_DEL_FILTER, &f, lens[i]))
			TH_LOG("del optlen %u", lens[i]);
		EXPECT_EQ(EINVAL, errno) TH_LOG("del optlen %u", lens[i]);
	}
	EXPECT_EQ(0, vj_filter(self->fd, VJ_DEL_FILTER, &f));
}

TEST_F(ring, filter_bad_type)
{
	static const __u16 types[] = { 0, 4, 0x100, 0xffff };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(types); i++) {
		struct vj_filter f = filter_ethertype(ETH_P_VJTEST);

		f.type = types[i];
		errno = 0;
		EXPECT_EQ(-1, vj_filter(self->fd, VJ_ADD_FILTER, &f)) TH_LOG("type %u", types[i]);
		EXPECT_EQ(EINVAL, errno) TH_LOG("type %u", types[i]);
	}
}

TEST_F(ring, filter_bad_flags)
{
	static const __u16 bits[] = { 1 << 2, 1 << 3, 1 << 15 };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bits); i++) {
		struct vj_filter f4 = filter_ip4(IPPROTO_UDP, PORT_CH, NULL);
		struct vj_filter f6 = filter_ip6(IPPROTO_UDP, PORT_CH);

		f4.flags |= bits[i];
		errno = 0;
		EXPECT_EQ(-1, vj_filter(self->fd, VJ_ADD_FILTER, &f4)) TH_LOG("flag %#x", bits[i]);
		EXPECT_EQ(EINVAL, errno) TH_LOG("ipv4 flag %#x", bits[i]);
		f6.flags |= bits[i];
		errno = 0;
		EXPECT_EQ(-1, vj_filter(self->fd, VJ_ADD_FILTER, &f6)) TH_LOG("flag %#x", bits[i]);
		EXPECT_EQ(EINVAL, errno) TH_LOG("ipv6 flag %#x", bits[i]);
	}
}

TEST_F(ring, filter_reserved_nonzero)
{
	unsigned int i;

	for (i = 0; i < 5; i++) {
		struct vj_filter f = filter_ip4(IPPROTO_UDP, PORT_CH, NULL);
		struct vj_filter e = filter_ethertype(ETH_P_VJTEST);

		switch (i) {
		case 0:
			f.reserved0 = 1;
			e.reserved0 = 1;
			break;
		case 1:
			f.reserved1 = 0x8000;
			e.reserved1 = 0x8000;
			break;
		case 2:
			f.reserved2 = 1;
			e.reserved2 = 1;
			break;
		case 3:
			f.reserved[0] = 1ULL << 63;
			e.reserved[0] = 1ULL << 63;
			break;
		case 4:
			f.reserved[1] = 1;
			e.reserved[1] = 1;
			break;
		}
		errno = 0;
		EXPECT_EQ(-1, vj_filter(self->fd, VJ_ADD_FILTER, &f)) TH_LOG("ipv4, field %u", i);
		EXPECT_EQ(EINVAL, errno) TH_LOG("ipv4, reserved field %u", i);
		errno = 0;
		EXPECT_EQ(-1, vj_filter(self->fd, VJ_ADD_FILTER, &e))
			TH_LOG("ethertype, field %u", i);
		EXPECT_EQ(EINVAL, errno) TH_LOG("ethertype, reserved field %u", i);
	}
}

TEST_F(ring, filter_ethertype_extra_fields)
{
	unsigned int i;

	for (i = 0; i < 5; i++) {
		struct vj_filter f = filter_ethertype(ETH_P_VJTEST);

		switch (i) {
		case 0:
			f.flags = VJ_FILTER_F_DST_PORT;
			break;
		case 1:
			f.flags = VJ_FILTER_F_DST_ADDR;
			break;
		case 2:
			f.l4_proto = IPPROTO_UDP;
			break;
		case 3:
			f.dst_port = htons(PORT_CH);
			break;
		case 4:
			f.dst_addr[15] = 1;
			break;
		}
		errno = 0;
		EXPECT_EQ(-1, vj_filter(self->fd, VJ_ADD_FILTER, &f)) TH_LOG("case %u", i);
		EXPECT_EQ(EINVAL, errno) TH_LOG("case %u", i);
	}
}

TEST_F(ring, filter_ip_bad_l4_proto)
{
	static const __u8 protos[] = { 0, IPPROTO_ICMP, IPPROTO_SCTP, IPPROTO_UDPLITE,
				       IPPROTO_RAW, 255 };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(protos); i++) {
		struct vj_filter f4 = filter_ip4(protos[i], PORT_CH, NULL);
		struct vj_filter f6 = filter_ip6(protos[i], PORT_CH);

		errno = 0;
		EXPECT_EQ(-1, vj_filter(self->fd, VJ_ADD_FILTER, &f4))
			TH_LOG("proto %u", protos[i]);
		EXPECT_EQ(EINVAL, errno) TH_LOG("ipv4 proto %u", protos[i]);
		errno = 0;
		EXPECT_EQ(-1, vj_filter(self->fd, VJ_ADD_FILTER, &f6))
			TH_LOG("proto %u", protos[i]);
		EXPECT_EQ(EINVAL, errno) TH_LOG("ipv6 proto %u", protos[i]);
	}
}

/* "Unused and reserved fields must be 0" (uapi header), for IP filters. */
TEST_F(ring, filter_ip_unused_fields)
{
	unsigned int i;

	for (i = 0; i < 4; i++) {
		struct vj_filter f = filter_ip4(IPPROTO_UDP, PORT_CH, NULL);

		switch (i) {
		case 0:
			f.ethertype = htons(ETH_P_IP);
			break;
		case 1:			/* an address without F_DST_ADDR */
			f.dst_addr[0] = 10;
			break;
		case 2:			/* a port without F_DST_PORT */
			f = filter_ip4(IPPROTO_UDP, 0, ADDR_B);
			f.dst_port = htons(PORT_CH);
			break;
		case 3:			/* IPv4 uses the first 4 address bytes */
			f = filter_ip4(IPPROTO_UDP, PORT_CH, ADDR_B);
			f.dst_addr[4] = 1;
			break;
		}
		errno = 0;
		EXPECT_EQ(-1, vj_filter(self->fd, VJ_ADD_FILTER, &f)) TH_LOG("case %u", i);
		EXPECT_EQ(EINVAL, errno) TH_LOG("case %u", i);
	}
}

TEST_F(ring, filter_duplicate)
{
	struct vj_filter e = filter_ethertype(ETH_P_VJTEST);
	struct vj_filter u = filter_ip4(IPPROTO_UDP, PORT_CH, ADDR_B);

	ASSERT_EQ(0, vj_filter(self->fd, VJ_ADD_FILTER, &e));
	ASSERT_EQ(0, vj_filter(self->fd, VJ_ADD_FILTER, &u));
	errno = 0;
	EXPECT_EQ(-1, vj_filter(self->fd, VJ_ADD_FILTER, &e));
	EXPECT_EQ(EEXIST, errno);
	errno = 0;
	EXPECT_EQ(-1, vj_filter(self->fd, VJ_ADD_FILTER, &u));
	EXPECT_EQ(EEXIST, errno);
	/* Same after bind. */
	vj_bind_b(_metadata, self);
	errno = 0;
	EXPECT_EQ(-1, vj_filter(self->fd, VJ_ADD_FILTER, &e));
	EXPECT_EQ(EEXIST, errno);
	/* Deleted, it may be added again. */
	EXPECT_EQ(0, vj_filter(self->fd, VJ_DEL_FILTER, &e));
	EXPECT_EQ(0, vj_filter(self->fd, VJ_ADD_FILTER, &e));
}

TEST_F(ring, filter_too_many)
{
	struct vj_filter f;
	unsigned int i;

	for (i = 0; i < VJ_MAX_FILTERS; i++) {
		f = filter_ip4(IPPROTO_UDP, 1000 + i, NULL);
		ASSERT_EQ(0, vj_filter(self->fd, VJ_ADD_FILTER, &f))
			TH_LOG("filter %u: %s", i, strerror(errno));
	}
	f = filter_ip4(IPPROTO_UDP, 1000 + i, NULL);
	errno = 0;
	EXPECT_EQ(-1, vj_filter(self->fd, VJ_ADD_FILTER, &f));
	EXPECT_EQ(ENOSPC, errno);
	f = filter_ethertype(ETH_P_VJTEST);
	errno = 0;
	EXPECT_EQ(-1, vj_filter(self->fd, VJ_ADD_FILTER, &f));
	EXPECT_EQ(ENOSPC, errno);

	/* Room again after a delete. */
	f = filter_ip4(IPPROTO_UDP, 1003, NULL);
	EXPECT_EQ(0, vj_filter(self->fd, VJ_DEL_FILTER, &f));
	f = filter_ethertype(ETH_P_VJTEST);
	EXPECT_EQ(0, vj_filter(self->fd, VJ_ADD_FILTER, &f)) TH_LOG("%s", strerror(errno));
	f = filter_ip4(IPPROTO_UDP, 1003, NULL);
	errno = 0;
	EXPECT_EQ(-1, vj_filter(self->fd, VJ_ADD_FILTER, &f));
	EXPECT_EQ(ENOSPC, errno);
}

TEST_F(ring, filter_delete_absent)
{
	struct vj_filter u = filter_ip4(IPPROTO_UDP, PORT_CH, NULL);
	struct vj_filter f;

	errno = 0;
	EXPECT_EQ(-1, vj_filter(self->fd, VJ_DEL_FILTER, &u));
	EXPECT_EQ(ENOENT, errno);

	ASSERT_EQ(0, vj_filter(self->fd, VJ_ADD_FILTER, &u));
	/* Near misses are not the filter. */
	f = filter_ip4(IPPROTO_UDP, PORT_STACK, NULL);
	errno = 0;
	EXPECT_EQ(-1, vj_filter(self->fd, VJ_DEL_FILTER, &f));
	EXPECT_EQ(ENOENT, errno);
	f = filter_ip4(IPPROTO_TCP, PORT_CH, NULL);
	errno = 0;
	EXPECT_EQ(-1, vj_filter(self->fd, VJ_DEL_FILTER, &f));
	EXPECT_EQ(ENOENT, errno);
	f = filter_ip4(IPPROTO_UDP, PORT_CH, ADDR_B);
	errno = 0;
	EXPECT_EQ(-1, vj_filter(self->fd, VJ_DEL_FILTER, &f));
	EXPECT_EQ(ENOENT, errno);
	f = filter_ip6(IPPROTO_UDP, PORT_CH);
	errno = 0;
	EXPECT_EQ(-1, vj_filter(self->fd, VJ_DEL_FILTER, &f));
	EXPECT_EQ(ENOENT, errno);

	EXPECT_EQ(0, vj_filter(self->fd, VJ_DEL_FILTER, &u));
	errno = 0;
	EXPECT_EQ(-1, vj_filter(self->fd, VJ_DEL_FILTER, &u));
	EXPECT_EQ(ENOENT, errno);
}

TEST_F(ring, filter_add_delete)
{
	struct vj_filter fs[6];
	unsigned int i;

	fs[0] = filter_ethertype(ETH_P_VJTEST);
	fs[1] = filter_ip4(IPPROTO_UDP, PORT_CH, NULL);
	fs[2] = filter_ip4(IPPROTO_TCP, PORT_CH, NULL);
	fs[3] = filter_ip4(IPPROTO_UDP, PORT_CH, ADDR_B);
	fs[4] = filter_ip4(IPPROTO_UDP, 0, ADDR_B);
	fs[5] = filter_ip6(IPPROTO_TCP, PORT_CH);
	for (i = 0; i < ARRAY_SIZE(fs); i++)
		EXPECT_EQ(0, vj_filter(self->fd, VJ_ADD_FILTER, &fs[i]))
			TH_LOG("filter %u: %s", i, strerror(errno));
	vj_bind_b(_metadata, self);
	for (i = 0; i < ARRAY_SIZE(fs); i++)
		EXPECT_EQ(0, vj_filter(self->fd, VJ_DEL_FILTER, &fs[i]))
			TH_LOG("filter %u: %s", i, strerror(errno));
}

/* ================================================================== */
/* Receive path                                                        */

TEST_F(ring, raw_frames_in_order)
{
	struct vj_filter f = filter_ethertype(ETH_P_VJTEST);
	struct vj_statistics st;
	__u64 bytes = 0;
	__u32 seq;

	/* A filter set before bind holds after it. */
	ASSERT_EQ(0, vj_filter(self->fd, VJ_ADD_FILTER, &f));
	setup_channel(_metadata, self);

	for (seq = 0; seq < 100; seq++) {
		send_raw(_metadata, self, seq, raw_len(seq), ETH_P_VJTEST);
		bytes += raw_len(seq);
	}
	EXPECT_EQ(100U, ring_wait(&self->r, 100));
	for (seq = 0; seq < 100; seq++)
		consume_raw(_metadata, self, seq, raw_len(seq));
	expect_ring_empty(_metadata, &self->r);

	vj_stats(_metadata, self->fd, &st);
	EXPECT_EQ(100U, st.rx_packets);
	EXPECT_EQ(bytes, st.rx_bytes);
	EXPECT_EQ(0U, st.rx_stack);
	EXPECT_EQ(0U, st.rx_copies);
	EXPECT_EQ(0U, st.rx_ring_full);
	EXPECT_EQ(0U, st.rx_invalid_consumer);
	EXPECT_EQ(0U, st.rx_bad_length);
	EXPECT_EQ(0U, st.rx_wakeups);
}

/* Many times round the ring, consuming in batches of changing size. */
TEST_F(ring, ring_wraps_around)
{
	struct vj_filter f = filter_ethertype(ETH_P_VJTEST);
	__u32 sent = 0, got = 0, total, batch;
	struct vj_statistics st;

	setup_channel(_metadata, self);
	ASSERT_EQ(0, vj_filter(self->fd, VJ_ADD_FILTER, &f));
	/* Round the slots (indexes wrap at nr_slots), never past capacity. */
	total = 4 * self->r.off.nr_slots + 37;
	while (got < total) {
		batch = 1 + (sent * 7) % (self->r.off.nr_slots - 1);
		while (batch-- && sent < total && sent - got < self->r.off.nr_bufs) {
			send_raw(_metadata, self, sent, 60 + sent % 200, ETH_P_VJTEST);
			sent++;
		}
		ASSERT_EQ(sent - got, ring_wait(&self->r, sent - got));
		/* consume some, not always all */
		batch = (sent - got + 1) / 2 + (sent % 2) * ((sent - got) / 2);
		if (!batch)
			batch = 1;
		while (batch--) {
			consume_raw(_metadata, self, got, 60 + got % 200);
			got++;
		}
	}
	expect_ring_empty(_metadata, &self->r);
	vj_stats(_metadata, self->fd, &st);
	EXPECT_EQ(total, st.rx_packets);
	EXPECT_EQ(0U, st.rx_ring_full);
	EXPECT_EQ(0U, st.rx_invalid_consumer);
}

TEST_F(ring, no_filter_no_match)
{
	struct vj_statistics st;
	__u32 seq;

	setup_channel(_metadata, self);
	for (seq = 0; seq < 5; seq++)
		send_raw(_metadata, self, seq, 100, ETH_P_VJTEST);
	send_udp(_metadata, self, PORT_CH, 5, 32);
	EXPECT_EQ(6U, wait_stat(_metadata, self->fd, STAT(rx_stack), 6));
	expect_ring_empty(_metadata, &self->r);
	vj_stats(_metadata, self->fd, &st);
	EXPECT_EQ(0U, st.rx_packets);
	EXPECT_EQ(6U, st.rx_stack);
	/* veth leaves them on its own path: nothing is copied for the stack. */
	EXPECT_EQ(0U, st.rx_copies);
}

TEST_F(ring, other_ethertype_to_stack)
{
	struct vj_filter f = filter_ethertype(ETH_P_VJTEST);
	struct vj_statistics st;

	setup_channel(_metadata, self);
	ASSERT_EQ(0, vj_filter(self->fd, VJ_ADD_FILTER, &f));
	send_raw(_metadata, self, 0, 200, ETH_P_VJOTHER);
	send_raw(_metadata, self, 1, 201, ETH_P_VJTEST);
	send_raw(_metadata, self, 2, 202, ETH_P_VJOTHER);
	send_raw(_metadata, self, 3, 203, ETH_P_VJTEST);
	EXPECT_EQ(2U, ring_wait(&self->r, 2));
	consume_raw(_metadata, self, 1, 201);
	consume_raw(_metadata, self, 3, 203);
	expect_ring_empty(_metadata, &self->r);
	vj_stats(_metadata, self->fd, &st);
	EXPECT_EQ(2U, st.rx_packets);
	EXPECT_EQ(201U + 203, st.rx_bytes);
	EXPECT_EQ(2U, st.rx_stack);
	EXPECT_EQ(0U, st.rx_copies);
}

static void consume_ip4(struct __test_metadata *_metadata, struct _test_data_ring *self,
			__u8 proto, __u16 dport, __u32 seq, size_t payload)
{
	__u8 exp[FRAME_MAX], buf[FRAME_MAX];
	size_t len;
	__u32 got;

	len = build_ip4(self, exp, proto, ADDR_B, dport, seq, payload);
	ASSERT_LE(1U, ring_wait(&self->r, 1)) TH_LOG("frame seq %u did not arrive", seq);
	got = ring_consume(_metadata, &self->r, buf);
	ASSERT_EQ(len, got) TH_LOG("frame seq %u", seq);
	EXPECT_EQ(0, memcmp(exp, buf, len)) TH_LOG("frame seq %u differs", seq);
}

static size_t udp_payload(__u32 seq)
{
	return 4 + (seq * 131) % 1400;		/* 4..1403: frames of 46..1445 */
}

TEST_F(ring, udp_dst_port_match)
{
	struct vj_filter f = filter_ip4(IPPROTO_UDP, PORT_CH, NULL);
	struct vj_statistics st;
	__u64 bytes = 0;
	__u8 buf[FRAME_MAX];
	__u32 seq;

	setup_channel(_metadata, self);
	ASSERT_EQ(0, vj_filter(self->fd, VJ_ADD_FILTER, &f));	/* after bind */
	for (seq = 0; seq < 20; seq++) {
		send_udp(_metadata, self, PORT_CH, seq, udp_payload(seq));
		bytes += build_udp(self, buf, PORT_CH, seq, udp_payload(seq));
	}
	EXPECT_EQ(20U, ring_wait(&self->r, 20));
	for (seq = 0; seq < 20; seq++)
		consume_ip4(_metadata, self, IPPROTO_UDP, PORT_CH, seq, udp_payload(seq));
	expect_ring_empty(_metadata, &self->r);
	vj_stats(_metadata, self->fd, &st);
	EXPECT_EQ(20U, st.rx_packets);
	EXPECT_EQ(bytes, st.rx_bytes);
	EXPECT_EQ(0U, st.rx_stack);
	EXPECT_EQ(0U, st.rx_copies);
}

TEST_F(ring, udp_other_port_to_stack)
{
	struct vj_filter f = filter_ip4(IPPROTO_UDP, PORT_CH, ADDR_B);
	struct vj_statistics st;
	__u8 buf[FRAME_MAX];
	__u64 bytes = 0;
	__u32 seq;
	int us;

	us = udp_socket(_metadata, PORT_STACK);
	ASSERT_LE(0, us);
	setup_channel(_metadata, self);
	ASSERT_EQ(0, vj_filter(self->fd, VJ_ADD_FILTER, &f));

	/* Matching ones first: never copied. */
	for (seq = 0; seq < 10; seq++) {
		send_udp(_metadata, self, PORT_CH, seq, udp_payload(seq));
		bytes += build_udp(self, buf, PORT_CH, seq, udp_payload(seq));
	}
	EXPECT_EQ(10U, ring_wait(&self->r, 10));
	vj_stats(_metadata, self->fd, &st);
	EXPECT_EQ(10U, st.rx_packets);
	EXPECT_EQ(0U, st.rx_stack);
	EXPECT_EQ(0U, st.rx_copies);

	/* Then both, interleaved. */
	for (seq = 10; seq < 30; seq++) {
		if (seq % 2) {
			send_udp(_metadata, self, PORT_STACK, seq, udp_payload(seq));
		} else {
			send_udp(_metadata, self, PORT_CH, seq, udp_payload(seq));
			bytes += build_udp(self, buf, PORT_CH, seq, udp_payload(seq));
		}
	}
	EXPECT_EQ(20U, ring_wait(&self->r, 20));

	/* The ordinary socket got the other port's datagrams, in order. */
	for (seq = 11; seq < 30; seq += 2) {
		struct pollfd pfd = { .fd = us, .events = POLLIN };
		__u8 exp[FRAME_MAX];
		ssize_t n;

		ASSERT_EQ(1, poll(&pfd, 1, WAIT_MS)) TH_LOG("datagram seq %u missing", seq);
		n = recv(us, buf, sizeof(buf), 0);
		build_udp(self, exp, PORT_STACK, seq, udp_payload(seq));
		ASSERT_EQ((ssize_t)udp_payload(seq), n) TH_LOG("datagram seq %u", seq);
		EXPECT_EQ(0, memcmp(exp + ETH_HLEN + 28, buf, n)) TH_LOG("datagram seq %u", seq);
	}
	errno = 0;
	EXPECT_EQ(-1, recv(us, buf, sizeof(buf), 0));
	EXPECT_EQ(EAGAIN, errno);

	/* And the channel the channel's. */
	for (seq = 0; seq < 30; seq++)
		if (seq < 10 || !(seq % 2))
			consume_ip4(_metadata, self, IPPROTO_UDP, PORT_CH, seq,
				    udp_payload(seq));
	expect_ring_empty(_metadata, &self->r);

	vj_stats(_metadata, self->fd, &st);
	EXPECT_EQ(20U, st.rx_packets);
	EXPECT_EQ(bytes, st.rx_bytes);
	EXPECT_EQ(10U, st.rx_stack);
	EXPECT_EQ(0U, st.rx_copies);
	EXPECT_EQ(0U, st.rx_ring_full);
	close(us);
}

TEST_F(ring, udp_dst_addr_filter)
{
	struct vj_filter wrong = filter_ip4(IPPROTO_UDP, PORT_CH, "10.99.0.3");
	struct vj_filter right = filter_ip4(IPPROTO_UDP, PORT_CH, ADDR_B);
	struct vj_filter any_port = filter_ip4(IPPROTO_UDP, 0, ADDR_B);
	struct vj_statistics st;

	setup_channel(_metadata, self);
	ASSERT_EQ(0, vj_filter(self->fd, VJ_ADD_FILTER, &wrong));
	send_udp(_metadata, self, PORT_CH, 0, 20);
	EXPECT_EQ(1U, wait_stat(_metadata, self->fd, STAT(rx_stack), 1));
	expect_ring_empty(_metadata, &self->r);

	ASSERT_EQ(0, vj_filter(self->fd, VJ_ADD_FILTER, &right));
	send_udp(_metadata, self, PORT_CH, 1, 20);
	consume_ip4(_metadata, self, IPPROTO_UDP, PORT_CH, 1, 20);
	send_udp(_metadata, self, PORT_STACK, 2, 20);
	EXPECT_EQ(2U, wait_stat(_metadata, self->fd, STAT(rx_stack), 2));
	expect_ring_empty(_metadata, &self->r);

	/* Address only: any port. */
	ASSERT_EQ(0, vj_filter(self->fd, VJ_ADD_FILTER, &any_port));
	send_udp(_metadata, self, PORT_STACK, 3, 20);
	consume_ip4(_metadata, self, IPPROTO_UDP, PORT_STACK, 3, 20);
	expect_ring_empty(_metadata, &self->r);
	vj_stats(_metadata, self->fd, &st);
	EXPECT_EQ(2U, st.rx_packets);
	EXPECT_EQ(2U, st.rx_stack);
}

TEST_F(ring, tcp_filter_ignores_udp)
{
	struct vj_filter f = filter_ip4(IPPROTO_TCP, PORT_CH, NULL);
	__u8 buf[FRAME_MAX];
	struct vj_statistics st;
	size_t len;

	setup_channel(_metadata, self);
	ASSERT_EQ(0, vj_filter(self->fd, VJ_ADD_FILTER, &f));
	send_udp(_metadata, self, PORT_CH, 0, 20);
	EXPECT_EQ(1U, wait_stat(_metadata, self->fd, STAT(rx_stack), 1));
	expect_ring_empty(_metadata, &self->r);

	len = build_ip4(self, buf, IPPROTO_TCP, ADDR_B, PORT_CH, 1, 10);
	send_frame(_metadata, self, buf, len);
	consume_ip4(_metadata, self, IPPROTO_TCP, PORT_CH, 1, 10);
	vj_stats(_metadata, self->fd, &st);
	EXPECT_EQ(1U, st.rx_packets);
	EXPECT_EQ(1U, st.rx_stack);
}

TEST_F(ring, udp6_dst_port_match)
{
	struct vj_filter f = filter_ip6(IPPROTO_UDP, PORT_CH);
	__u8 exp[FRAME_MAX], buf[FRAME_MAX];
	struct vj_statistics st;
	size_t len;
	__u32 got;

	setup_channel(_metadata, self);
	ASSERT_EQ(0, vj_filter(self->fd, VJ_ADD_FILTER, &f));
	/* IPv4 to the port: not this filter. */
	send_udp(_metadata, self, PORT_CH, 0, 20);
	EXPECT_EQ(1U, wait_stat(_metadata, self->fd, STAT(rx_stack), 1));
	expect_ring_empty(_metadata, &self->r);
	/* IPv6 to another port: neither. */
	len = build_udp6(self, buf, PORT_STACK, 1, 20);
	send_frame(_metadata, self, buf, len);
	EXPECT_EQ(2U, wait_stat(_metadata, self->fd, STAT(rx_stack), 2));
	expect_ring_empty(_metadata, &self->r);

	/* IPv6 to the port behind an extension header: no match. */
	len = build_udp6_hbh(self, buf, PORT_CH, 3, 20);
	send_frame(_metadata, self, buf, len);
	EXPECT_EQ(3U, wait_stat(_metadata, self->fd, STAT(rx_stack), 3));
	expect_ring_empty(_metadata, &self->r);

	len = build_udp6(self, exp, PORT_CH, 2, 100);
	send_frame(_metadata, self, exp, len);
	ASSERT_EQ(1U, ring_wait(&self->r, 1));
	got = ring_consume(_metadata, &self->r, buf);
	ASSERT_EQ(len, got);
	EXPECT_EQ(0, memcmp(exp, buf, len));
	vj_stats(_metadata, self->fd, &st);
	EXPECT_EQ(1U, st.rx_packets);
	EXPECT_EQ(len, st.rx_bytes);
}

TEST_F(ring, filter_changes_after_bind)
{
	struct vj_filter f = filter_ethertype(ETH_P_VJTEST);
	struct vj_statistics st;

	setup_channel(_metadata, self);
	send_raw(_metadata, self, 0, 100, ETH_P_VJTEST);
	EXPECT_EQ(1U, wait_stat(_metadata, self->fd, STAT(rx_stack), 1));
	expect_ring_empty(_metadata, &self->r);

	ASSERT_EQ(0, vj_filter(self->fd, VJ_ADD_FILTER, &f));
	send_raw(_metadata, self, 1, 101, ETH_P_VJTEST);
	consume_raw(_metadata, self, 1, 101);

	ASSERT_EQ(0, vj_filter(self->fd, VJ_DEL_FILTER, &f));
	send_raw(_metadata, self, 2, 102, ETH_P_VJTEST);
	EXPECT_EQ(2U, wait_stat(_metadata, self->fd, STAT(rx_stack), 2));
	expect_ring_empty(_metadata, &self->r);

	vj_stats(_metadata, self->fd, &st);
	EXPECT_EQ(1U, st.rx_packets);
	EXPECT_EQ(101U, st.rx_bytes);
}

/* The EtherType is read after at most one VLAN tag. */
TEST_F(ring, ethertype_after_vlan_tag)
{
	struct vj_filter f = filter_ethertype(ETH_P_VJTEST);
	static const __u16 tpids[] = { ETH_P_8021Q, ETH_P_8021AD };
	__u8 exp[FRAME_MAX], buf[FRAME_MAX];
	struct vj_statistics st;
	__u64 bytes = 0;
	size_t len;
	__u32 got;
	unsigned int i;

	setup_channel(_metadata, self);
	ASSERT_EQ(0, vj_filter(self->fd, VJ_ADD_FILTER, &f));
	for (i = 0; i < ARRAY_SIZE(tpids); i++) {
		len = build_raw(self, exp, 100, i, ETH_P_VJTEST);
		len = add_vlan(exp, len, tpids[i]);
		send_frame(_metadata, self, exp, len);
		ASSERT_EQ(1U, ring_wait(&self->r, 1)) TH_LOG("tag %#x", tpids[i]);
		got = ring_consume(_metadata, &self->r, buf);
		ASSERT_EQ(len, got) TH_LOG("tag %#x", tpids[i]);
		EXPECT_EQ(0, memcmp(exp, buf, len)) TH_LOG("tag %#x: frame differs", tpids[i]);
		bytes += len;
	}
	/* Two tags: not looked through. */
	len = build_raw(self, exp, 100, 2, ETH_P_VJTEST);
	len = add_vlan(exp, len, ETH_P_8021Q);
	len = add_vlan(exp, len, ETH_P_8021AD);
	send_frame(_metadata, self, exp, len);
	EXPECT_EQ(1U, wait_stat(_metadata, self->fd, STAT(rx_stack), 1));
	expect_ring_empty(_metadata, &self->r);
	/* A tagged frame of another EtherType. */
	len = build_raw(self, exp, 100, 3, ETH_P_VJOTHER);
	len = add_vlan(exp, len, ETH_P_8021Q);
	send_frame(_metadata, self, exp, len);
	EXPECT_EQ(2U, wait_stat(_metadata, self->fd, STAT(rx_stack), 2));
	expect_ring_empty(_metadata, &self->r);

	vj_stats(_metadata, self->fd, &st);
	EXPECT_EQ(2U, st.rx_packets);
	EXPECT_EQ(bytes, st.rx_bytes);
}

/* Only the first fragment carries the ports. */
TEST_F(ring, ipv4_later_fragment_no_port_match)
{
	struct vj_filter port = filter_ip4(IPPROTO_UDP, PORT_CH, NULL);
	__u8 exp[FRAME_MAX], buf[FRAME_MAX];
	__u8 *ip = exp + ETH_HLEN;
	struct vj_statistics st;
	size_t len;
	__u32 got;

	setup_channel(_metadata, self);
	ASSERT_EQ(0, vj_filter(self->fd, VJ_ADD_FILTER, &port));

	/* First fragment (MF, offset 0): has the ports, matches. */
	len = build_udp(self, exp, PORT_CH, 1, 64);
	ip[6] = 0x20;				/* MF */
	ip[7] = 0;
	ip[10] = 0;
	ip[11] = 0;
	memcpy(ip + 10, &(__u16){ ip_csum(ip, 20) }, 2);
	send_frame(_metadata, self, exp, len);
	ASSERT_EQ(1U, ring_wait(&self->r, 1));
	got = ring_consume(_metadata, &self->r, buf);
	ASSERT_EQ(len, got);
	EXPECT_EQ(0, memcmp(exp, buf, len));

	/* A later fragment whose first bytes look like a UDP header to the port. */
	len = build_udp(self, exp, PORT_CH, 2, 64);
	ip[6] = 0x00;
	ip[7] = 0x10;				/* offset 16 * 8 bytes, last */
	ip[10] = 0;
	ip[11] = 0;
	memcpy(ip + 10, &(__u16){ ip_csum(ip, 20) }, 2);
	send_frame(_metadata, self, exp, len);
	EXPECT_EQ(1U, wait_stat(_metadata, self->fd, STAT(rx_stack), 1));
	expect_ring_empty(_metadata, &self->r);

	vj_stats(_metadata, self->fd, &st);
	EXPECT_EQ(1U, st.rx_packets);
	EXPECT_EQ(1U, st.rx_stack);
}

TEST_F(ring, frame_length_limit)
{
	struct vj_filter f = filter_ethertype(ETH_P_VJTEST);
	struct vj_statistics st;
	size_t max, mtu;

	setup_channel(_metadata, self);
	ASSERT_EQ(0, vj_filter(self->fd, VJ_ADD_FILTER, &f));
	max = self->r.off.frame_max;
	mtu = max + 64;
	if (mtu + ETH_HLEN > FRAME_MAX)
		SKIP(return, "buffers larger than this test's frames");
	ASSERT_EQ(0, run("ip link set dev " DEV_A " mtu %zu && ip link set dev " DEV_B
			 " mtu %zu", mtu, mtu));

	send_raw(_metadata, self, 0, max + 1, ETH_P_VJTEST);
	send_raw(_metadata, self, 1, mtu + ETH_HLEN, ETH_P_VJTEST);
	EXPECT_EQ(2U, wait_stat(_metadata, self->fd, STAT(rx_bad_length), 2));
	expect_ring_empty(_metadata, &self->r);

	send_raw(_metadata, self, 2, max, ETH_P_VJTEST);
	consume_raw(_metadata, self, 2, max);
	expect_ring_empty(_metadata, &self->r);
	vj_stats(_metadata, self->fd, &st);
	EXPECT_EQ(1U, st.rx_packets);
	EXPECT_EQ(max, st.rx_bytes);
	EXPECT_EQ(2U, st.rx_bad_length);
	EXPECT_EQ(0U, st.rx_stack);
}

/* ================================================================== */
/* Ring full                                                           */

/* Check the @n unconsumed frames from r->next on: seqs @seq.., distinct buffers. */
static void expect_unconsumed(struct __test_metadata *_metadata,
			      struct _test_data_ring *self, __u32 n, __u32 seq)
{
	__u8 *seen = calloc(self->r.off.nr_bufs, 1);
	__u32 i, len, b;
	const __u8 *f;

	ASSERT_NE(NULL, seen);
	for (i = 0; i < n; i++) {
		f = ring_frame(_metadata, &self->r, self->r.next + i, &len, &b);
		expect_raw(_metadata, self, f, len, seq + i, raw_len(seq + i));
		EXPECT_EQ(0, seen[b]) TH_LOG("buffer %u in two slots", b);
		seen[b] = 1;
	}
	free(seen);
}

TEST_F(ring, ring_full)
{
	struct vj_filter f = filter_ethertype(ETH_P_VJTEST);
	struct vj_statistics st;
	__u32 n, seq, extra = 44;
	__u64 bytes = 0;

	setup_channel(_metadata, self);
	ASSERT_EQ(0, vj_filter(self->fd, VJ_ADD_FILTER, &f));
	/* The ring holds nr_bufs frames, however many slots it has. */
	n = self->r.off.nr_bufs;
	for (seq = 0; seq < n + extra; seq++) {
		send_raw(_metadata, self, seq, raw_len(seq), ETH_P_VJTEST);
		if (seq < n)
			bytes += raw_len(seq);
	}
	EXPECT_EQ(extra, wait_stat(_metadata, self->fd, STAT(rx_ring_full), extra));
	EXPECT_EQ(n, ring_avail(&self->r));
	vj_stats(_metadata, self->fd, &st);
	EXPECT_EQ(n, st.rx_packets);
	EXPECT_EQ(bytes, st.rx_bytes);
	EXPECT_EQ(extra, st.rx_ring_full);
	EXPECT_EQ(0U, st.rx_stack);
	EXPECT_EQ(0U, st.rx_invalid_consumer);

	/* The first n frames, never overwritten. */
	expect_unconsumed(_metadata, self, n, 0);

	/* One slot released: exactly one more fits. */
	consume_raw(_metadata, self, 0, raw_len(0));
	send_raw(_metadata, self, 1000, raw_len(1000), ETH_P_VJTEST);
	send_raw(_metadata, self, 1001, raw_len(1001), ETH_P_VJTEST);
	EXPECT_EQ(extra + 1, wait_stat(_metadata, self->fd, STAT(rx_ring_full), extra + 1));
	EXPECT_EQ(n, ring_avail(&self->r));
	expect_unconsumed(_metadata, self, n - 1, 1);

	/* Consume all: seq 1..n-1 then 1000. */
	for (seq = 1; seq < n; seq++)
		consume_raw(_metadata, self, seq, raw_len(seq));
	consume_raw(_metadata, self, 1000, raw_len(1000));
	expect_ring_empty(_metadata, &self->r);

	/* Frames arrive again. */
	for (seq = 2000; seq < 2010; seq++)
		send_raw(_metadata, self, seq, raw_len(seq), ETH_P_VJTEST);
	EXPECT_EQ(10U, ring_wait(&self->r, 10));
	for (seq = 2000; seq < 2010; seq++)
		consume_raw(_metadata, self, seq, raw_len(seq));
	vj_stats(_metadata, self->fd, &st);
	EXPECT_EQ(n + 11, st.rx_packets);
	EXPECT_EQ(extra + 1, st.rx_ring_full);
}

/*
 * A full ring holds back the channel's frames only: frames that match no
 * filter are classified before they would take a buffer, so they reach
 * the stack while user space holds every slot, and are not counted as
 * ring-full drops; a matching frame is dropped and counted.
 */
TEST_F(ring, ring_full_passes_nonmatching)
{
	struct vj_filter f = filter_ethertype(ETH_P_VJTEST);
	struct pollfd pfd = { .events = POLLIN };
	struct vj_statistics st;
	__u8 buf[FRAME_MAX], exp[FRAME_MAX];
	__u32 n, seq;
	int us;

	us = udp_socket(_metadata, PORT_STACK);
	ASSERT_LE(0, us);
	setup_channel(_metadata, self);
	ASSERT_EQ(0, vj_filter(self->fd, VJ_ADD_FILTER, &f));
	n = self->r.off.nr_bufs;
	for (seq = 0; seq < n; seq++)
		send_raw(_metadata, self, seq, raw_len(seq), ETH_P_VJTEST);
	ASSERT_EQ(n, ring_wait(&self->r, n));

	send_raw(_metadata, self, n, 100, ETH_P_VJOTHER);
	send_udp(_metadata, self, PORT_STACK, n + 1, 50);
	EXPECT_EQ(2U, wait_stat(_metadata, self->fd, STAT(rx_stack), 2));
	pfd.fd = us;
	EXPECT_EQ(1, poll(&pfd, 1, WAIT_MS)) TH_LOG("the datagram did not get past a full ring");
	EXPECT_EQ(50, recv(us, buf, sizeof(buf), MSG_DONTWAIT));
	build_udp(self, exp, PORT_STACK, n + 1, 50);
	EXPECT_EQ(0, memcmp(exp + ETH_HLEN + 28, buf, 50));
	vj_stats(_metadata, self->fd, &st);
	EXPECT_EQ(2U, st.rx_stack);
	EXPECT_EQ(0U, st.rx_copies);
	EXPECT_EQ(0U, st.rx_ring_full) TH_LOG("frames for the stack took ring buffers");
	EXPECT_EQ(n, st.rx_packets);
	expect_unconsumed(_metadata, self, n, 0);

	/* The channel's own frame is what the full ring drops. */
	send_raw(_metadata, self, n + 2, 100, ETH_P_VJTEST);
	EXPECT_EQ(1U, wait_stat(_metadata, self->fd, STAT(rx_ring_full), 1));
	EXPECT_EQ(n, ring_avail(&self->r));
	expect_unconsumed(_metadata, self, n, 0);

	/* With room, the channel gets its frames again. */
	consume_raw(_metadata, self, 0, raw_len(0));
	send_raw(_metadata, self, n + 3, 100, ETH_P_VJTEST);
	EXPECT_EQ(n, ring_wait(&self->r, n));
	vj_stats(_metadata, self->fd, &st);
	EXPECT_EQ(n + 1, st.rx_packets);
	EXPECT_EQ(1U, st.rx_ring_full);
	close(us);
}

/* ================================================================== */
/* Wakeups                                                             */

TEST_F(ring, epoll_needs_wakeup_flag)
{
	struct vj_filter f = filter_ethertype(ETH_P_VJTEST);
	struct epoll_event ev = { .events = EPOLLIN };
	struct pollfd pfd = { .events = POLLIN };
	struct vj_statistics st;
	int ep;

	setup_channel(_metadata, self);
	ASSERT_EQ(0, vj_filter(self->fd, VJ_ADD_FILTER, &f));
	__atomic_store_n(self->r.flags, 0, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);

	ep = epoll_create1(0);
	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, self->fd, &ev));
	EXPECT_EQ(0, epoll_wait(ep, &ev, 1, 0));

	/* Not asked: not woken. */
	send_raw(_metadata, self, 0, 100, ETH_P_VJTEST);
	ASSERT_EQ(1U, ring_wait(&self->r, 1));
	EXPECT_EQ(0, epoll_wait(ep, &ev, 1, 200)) TH_LOG("woken without NEED_WAKEUP");
	/* But a fresh poll sees the frame (and never reports POLLOUT). */
	pfd.fd = self->fd;
	pfd.events = POLLIN | POLLOUT;
	EXPECT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_EQ(POLLIN, pfd.revents & (POLLIN | POLLOUT | POLLERR));
	vj_stats(_metadata, self->fd, &st);
	EXPECT_EQ(0U, st.rx_wakeups);

	consume_raw(_metadata, self, 0, 100);
	pfd.revents = 0;
	EXPECT_EQ(0, poll(&pfd, 1, 0)) TH_LOG("readable with an empty ring");

	/* Asked: woken. */
	__atomic_store_n(self->r.flags, VJ_RING_NEED_WAKEUP, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	ASSERT_EQ(0U, ring_avail(&self->r));
	send_raw(_metadata, self, 1, 101, ETH_P_VJTEST);
	memset(&ev, 0, sizeof(ev));
	EXPECT_EQ(1, epoll_wait(ep, &ev, 1, WAIT_MS)) TH_LOG("not woken with NEED_WAKEUP");
	EXPECT_TRUE(!!(ev.events & EPOLLIN));
	vj_stats(_metadata, self->fd, &st);
	EXPECT_EQ(1U, st.rx_wakeups);
	consume_raw(_metadata, self, 1, 101);
	__atomic_store_n(self->r.flags, 0, __ATOMIC_RELAXED);
	close(ep);
}

/*
 * Whether task @pid sleeps in poll() or ppoll(): /proc/PID/syscall names the
 * system call only while the task is blocked in one, and /proc/PID/stat says
 * the sleep is interruptible ('S'), which is how poll() waits.  Read the
 * system call again after the state, so both describe one sleep.
 */
static bool sleeps_in_poll(pid_t pid)
{
	char path[64], buf[512], *p;
	int i, fd, ok = 1;
	ssize_t n;
	long nr;

	for (i = 0; i < 3 && ok; i++) {
		snprintf(path, sizeof(path), "/proc/%d/%s", pid, i == 1 ? "stat" : "syscall");
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return false;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			return false;
		buf[n] = 0;
		if (i == 1) {
			/* pid (comm) S ...: comm may hold anything, even ')'. */
			p = strrchr(buf, ')');
			ok = p && p[1] == ' ' && p[2] == 'S';
		} else {
			nr = strtol(buf, &p, 10);
			ok = p != buf && nr == SYS_ppoll;
#ifdef SYS_poll
			ok = ok || (p != buf && nr == SYS_poll);
#endif
		}
	}
	return ok;
}

/*
 * A poll() that sleeps is woken by a frame that arrives while it sleeps: the
 * frame is sent only once the test is seen asleep in poll(), so a frame that
 * was already there when poll() looked cannot make it pass.
 */
TEST_F(ring, poll_woken_when_asked)
{
	struct vj_filter f = filter_ethertype(ETH_P_VJTEST);
	struct pollfd pfd = { .events = POLLIN };
	struct vj_statistics st;
	__u8 buf[200];
	__u64 t0;
	int status;
	pid_t pid, parent;

	setup_channel(_metadata, self);
	ASSERT_EQ(0, vj_filter(self->fd, VJ_ADD_FILTER, &f));
	__atomic_store_n(self->r.flags, VJ_RING_NEED_WAKEUP, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	ASSERT_EQ(0U, ring_avail(&self->r));

	build_raw(self, buf, sizeof(buf), 5, ETH_P_VJTEST);
	parent = getpid();
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		__u64 end = now_ns() + 8000000000ULL;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		/* Send only once the test sleeps in poll(); exit 2 if it never does. */
		while (!sleeps_in_poll(parent)) {
			if (now_ns() > end)
				_exit(2);
			usleep(1000);
		}
		_exit(send(self->pkt, buf, sizeof(buf), 0) == (ssize_t)sizeof(buf) ? 0 : 1);
	}
	t0 = now_ns();
	pfd.fd = self->fd;
	EXPECT_EQ(1, poll(&pfd, 1, 10 * 1000));
	EXPECT_TRUE(pfd.revents & POLLIN);
	EXPECT_GT(5000000000ULL, now_ns() - t0) TH_LOG("woken late");
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status)) TH_LOG("sender: status %#x", status);
	EXPECT_NE(2, WEXITSTATUS(status)) TH_LOG("the test was never seen asleep in poll()");
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("sender: send failed");
	consume_raw(_metadata, self, 5, sizeof(buf));
	vj_stats(_metadata, self->fd, &st);
	EXPECT_EQ(1U, st.rx_wakeups);
}

/* ================================================================== */
/* Hostile consumer                                                    */

static __u64 invalid_count(struct __test_metadata *_metadata, int fd)
{
	struct vj_statistics st;

	vj_stats(_metadata, fd, &st);
	return st.rx_invalid_consumer;
}

TEST_F(ring, hostile_consumer)
{
	struct vj_filter f = filter_ethertype(ETH_P_VJTEST);
	__u32 seq = 0, want = 0, prod, bad[3];
	__u64 before, after;
	unsigned int i, k;

	setup_channel(_metadata, self);
	ASSERT_EQ(0, vj_filter(self->fd, VJ_ADD_FILTER, &f));

	for (i = 0; i < 3; i++) {
		/* Leave a few frames unconsumed around the hostile write. */
		for (k = 0; k < 6; k++, seq++)
			send_raw(_metadata, self, seq, raw_len(seq), ETH_P_VJTEST);
		ASSERT_EQ(seq - want, ring_wait(&self->r, seq - want));
		for (k = 0; k < 2; k++, want++)
			consume_raw(_metadata, self, want, raw_len(want));

		prod = __atomic_load_n(self->r.prod, __ATOMIC_ACQUIRE);
		bad[0] = prod + 5;			/* ahead of the producer */
		bad[1] = prod + 0x80000000u;		/* far ahead */
		bad[2] = self->r.released - 1;		/* behind the last release */

		before = invalid_count(_metadata, self->fd);
		__atomic_store_n(self->r.cons, bad[i], __ATOMIC_RELEASE);
		after = invalid_count(_metadata, self->fd);
		EXPECT_LT(before, after)
			TH_LOG("consumer %u (producer %u, released %u) not counted",
			       bad[i], prod, self->r.released);
		/* poll() goes by the last accepted value: frames are waiting. */
		{
			struct pollfd pfd = { .fd = self->fd, .events = POLLIN };

			EXPECT_EQ(1, poll(&pfd, 1, 0));
			EXPECT_EQ(POLLIN, pfd.revents);
		}

		/* Restored: no longer counted, and nothing was lost or overwritten. */
		ring_release(&self->r);
		before = invalid_count(_metadata, self->fd);
		EXPECT_EQ(before, invalid_count(_metadata, self->fd));
		EXPECT_EQ(prod, __atomic_load_n(self->r.prod, __ATOMIC_ACQUIRE));
		expect_unconsumed(_metadata, self, seq - want, want);

		for (k = 0; k < 3; k++, seq++)
			send_raw(_metadata, self, seq, raw_len(seq), ETH_P_VJTEST);
		ASSERT_EQ(seq - want, ring_wait(&self->r, seq - want));
		while (want < seq) {
			consume_raw(_metadata, self, want, raw_len(want));
			want++;
		}
		expect_ring_empty(_metadata, &self->r);
	}
}

/*
 * A consumer value that is never valid must not free slots: with one in
 * place, the ring still fills up to what was really released, and the
 * unreleased frames stay as they were.
 */
TEST_F(ring, hostile_consumer_cannot_free_slots)
{
	struct vj_filter f = filter_ethertype(ETH_P_VJTEST);
	struct vj_statistics st;
	__u32 n, seq = 0, want = 0, bad, room, k;
	__u64 full = 0, inval;
	unsigned int i;

	setup_channel(_metadata, self);
	ASSERT_EQ(0, vj_filter(self->fd, VJ_ADD_FILTER, &f));
	n = self->r.off.nr_bufs;

	for (i = 0; i < 2; i++) {
		for (k = 0; k < 8; k++, seq++)
			send_raw(_metadata, self, seq, raw_len(seq), ETH_P_VJTEST);
		ASSERT_EQ(seq - want, ring_wait(&self->r, seq - want));
		for (k = 0; k < 3; k++, want++)
			consume_raw(_metadata, self, want, raw_len(want));

		if (i == 0)
			bad = self->r.released - 1;
		else
			bad = __atomic_load_n(self->r.prod, __ATOMIC_ACQUIRE) + 0x80000000u;
		inval = invalid_count(_metadata, self->fd);
		__atomic_store_n(self->r.cons, bad, __ATOMIC_RELEASE);

		/* Fill the ring, and 4 more. */
		room = n - (seq - want);
		for (k = 0; k < room + 4; k++, seq++)
			send_raw(_metadata, self, seq, raw_len(seq), ETH_P_VJTEST);
		full += 4;
		EXPECT_EQ(full, wait_stat(_metadata, self->fd, STAT(rx_ring_full), full))
			TH_LOG("consumer %u", bad);
		EXPECT_EQ(n, ring_avail(&self->r));
		EXPECT_LT(inval, invalid_count(_metadata, self->fd));
		expect_unconsumed(_metadata, self, n, want);

		/* Restore; consume all; the 4 dropped ones are the last 4. */
		ring_release(&self->r);
		for (k = 0; k < n; k++, want++)
			consume_raw(_metadata, self, want, raw_len(want));
		expect_ring_empty(_metadata, &self->r);
		want = seq;
	}
	send_raw(_metadata, self, seq, raw_len(seq), ETH_P_VJTEST);
	consume_raw(_metadata, self, seq, raw_len(seq));
	vj_stats(_metadata, self->fd, &st);
	EXPECT_EQ(full, st.rx_ring_full);
}

/*
 * What user space writes into the kernel's words is not read back: a
 * scribbled producer index or descriptors change nothing for the kernel.
 */
TEST_F(ring, hostile_producer_and_descriptors)
{
	struct vj_filter f = filter_ethertype(ETH_P_VJTEST);
	__u32 prod, i, seq;
	__u64 inval;

	setup_channel(_metadata, self);
	ASSERT_EQ(0, vj_filter(self->fd, VJ_ADD_FILTER, &f));
	for (seq = 0; seq < 10; seq++)
		send_raw(_metadata, self, seq, raw_len(seq), ETH_P_VJTEST);
	ASSERT_EQ(10U, ring_wait(&self->r, 10));
	for (seq = 0; seq < 4; seq++)
		consume_raw(_metadata, self, seq, raw_len(seq));
	prod = __atomic_load_n(self->r.prod, __ATOMIC_ACQUIRE);

	/* Descriptors of every slot, released or not, and the producer. */
	memset(self->r.map + self->r.off.desc, 0xff,
	       (size_t)self->r.off.nr_slots * self->r.off.desc_size);
	__atomic_store_n(self->r.prod, prod + 100, __ATOMIC_RELAXED);

	/* A consumer within the scribbled producer is still invalid. */
	inval = invalid_count(_metadata, self->fd);
	__atomic_store_n(self->r.cons, prod + 50, __ATOMIC_RELEASE);
	EXPECT_LT(inval, invalid_count(_metadata, self->fd));
	ring_release(&self->r);

	/*
	 * Frames 10.. arrive with good descriptors, and the producer index is
	 * the kernel's own count again (the scribbled value is not built on).
	 */
	for (seq = 10; seq < 10 + self->r.off.nr_bufs; seq++)
		send_raw(_metadata, self, seq, raw_len(seq), ETH_P_VJTEST);
	/* Room was nr_bufs - 6: the rest was dropped as ring full. */
	EXPECT_EQ(6U, wait_stat(_metadata, self->fd, STAT(rx_ring_full), 6));
	EXPECT_EQ(self->r.off.nr_bufs, ring_avail(&self->r));
	/* Slots 4..9 were published before the scribble: skip their descriptors. */
	self->r.next += 6;
	ring_release(&self->r);
	for (i = 0; i < self->r.off.nr_bufs - 6; i++)
		consume_raw(_metadata, self, 10 + i, raw_len(10 + i));
	expect_ring_empty(_metadata, &self->r);
}

/* ================================================================== */
/* Lifetimes                                                           */

TEST_F(ring, close_while_mapped)
{
	struct vj_filter f = filter_ethertype(ETH_P_VJTEST);
	__u8 buf[FRAME_MAX];
	__u8 *p;
	__u32 len;
	size_t off;

	setup_channel(_metadata, self);
	ASSERT_EQ(0, vj_filter(self->fd, VJ_ADD_FILTER, &f));
	send_raw(_metadata, self, 0, 500, ETH_P_VJTEST);
	send_raw(_metadata, self, 1, 501, ETH_P_VJTEST);
	ASSERT_EQ(2U, ring_wait(&self->r, 2));

	EXPECT_EQ(0, close(self->fd));
	self->fd = -1;

	/* The frames are still there; every page reads and writes. */
	len = ring_consume(_metadata, &self->r, buf);
	expect_raw(_metadata, self, buf, len, 0, 500);
	__atomic_store_n(self->r.flags, VJ_RING_NEED_WAKEUP, __ATOMIC_RELAXED);
	p = self->r.map;
	for (off = 0; off < self->r.size; off += pagesz())
		__atomic_store_n(&p[off], __atomic_load_n(&p[off], __ATOMIC_RELAXED),
				 __ATOMIC_RELAXED);
	len = ring_consume(_metadata, &self->r, buf);
	expect_raw(_metadata, self, buf, len, 1, 501);

	/* Frames sent now harm nothing. */
	send_raw(_metadata, self, 2, 502, ETH_P_VJTEST);
	send_raw(_metadata, self, 3, 503, ETH_P_VJOTHER);
	usleep(10 * 1000);
	for (off = 0; off < self->r.size; off += pagesz())
		(void)__atomic_load_n(&p[off], __ATOMIC_RELAXED);
}

static sigjmp_buf segv_jmp;
static int child_bad;	/* a global, so it keeps its value across siglongjmp */

static void segv_handler(int sig)
{
	(void)sig;
	siglongjmp(segv_jmp, 1);
}

TEST_F(ring, fork_child_has_no_mapping)
{
	struct vj_filter f = filter_ethertype(ETH_P_VJTEST);
	__u32 prod;
	int status;
	pid_t pid;

	setup_channel(_metadata, self);
	ASSERT_EQ(0, vj_filter(self->fd, VJ_ADD_FILTER, &f));
	send_raw(_metadata, self, 0, 100, ETH_P_VJTEST);
	ASSERT_EQ(1U, ring_wait(&self->r, 1));
	prod = __atomic_load_n(self->r.prod, __ATOMIC_ACQUIRE);

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct sigaction sa = { .sa_handler = segv_handler };
		unsigned char vec[1];
		__u8 *m;

		/* No harness macros here: report by exit status. */
		child_bad = 0;
		if (mincore(self->r.map, pagesz(), vec) != -1 || errno != ENOMEM)
			child_bad |= 1;
		if (msync(self->r.map + self->r.off.buffers, pagesz(), MS_ASYNC) != -1 ||
		    errno != ENOMEM)
			child_bad |= 2;
		sigaction(SIGSEGV, &sa, NULL);
		if (!sigsetjmp(segv_jmp, 1)) {
			/* Acquire: the store below stays after the faulting load. */
			(void)__atomic_load_n(self->r.prod, __ATOMIC_ACQUIRE);
			child_bad |= 4;
		}
		/* The inherited socket maps the same pages. */
		m = mmap(NULL, self->r.size, PROT_READ | PROT_WRITE, MAP_SHARED,
			 self->fd, 0);
		if (m == MAP_FAILED ||
		    __atomic_load_n((__u32 *)(m + self->r.off.producer), __ATOMIC_RELAXED) != prod)
			child_bad |= 8;
		_exit(child_bad);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status))
		TH_LOG("child: %s%s%s%s", WEXITSTATUS(status) & 1 ? "mincore works " : "",
		       WEXITSTATUS(status) & 2 ? "msync works " : "",
		       WEXITSTATUS(status) & 4 ? "read did not fault " : "",
		       WEXITSTATUS(status) & 8 ? "own mmap failed or differs" : "");

	/* The parent's mapping is untouched. */
	consume_raw(_metadata, self, 0, 100);
	send_raw(_metadata, self, 1, 101, ETH_P_VJTEST);
	consume_raw(_metadata, self, 1, 101);
}

static void wait_pollerr(struct __test_metadata *_metadata, int fd)
{
	__u64 end = now_ns() + WAIT_MS * 1000000ULL;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	for (;;) {
		pfd.revents = 0;
		ASSERT_LE(0, poll(&pfd, 1, 0));
		if (pfd.revents & POLLERR || now_ns() > end)
			break;
		usleep(1000);
	}
	EXPECT_TRUE(pfd.revents & POLLERR) TH_LOG("revents %#x", pfd.revents);
}

TEST_F(ring, device_deleted_while_bound)
{
	struct vj_filter f = filter_ethertype(ETH_P_VJTEST);
	struct vj_statistics st;
	__u32 len;
	const __u8 *fr;

	setup_channel(_metadata, self);
	ASSERT_EQ(0, vj_filter(self->fd, VJ_ADD_FILTER, &f));
	send_raw(_metadata, self, 0, 321, ETH_P_VJTEST);
	ASSERT_EQ(1U, ring_wait(&self->r, 1));

	ASSERT_EQ(0, run("ip link del dev " DEV_A));
	ASSERT_EQ(0U, if_nametoindex(DEV_B));

	wait_pollerr(_metadata, self->fd);

	/* Mapping and statistics stay. */
	EXPECT_EQ(1U, ring_avail(&self->r));
	fr = ring_frame(_metadata, &self->r, self->r.next, &len, NULL);
	expect_raw(_metadata, self, fr, len, 0, 321);
	vj_stats(_metadata, self->fd, &st);
	EXPECT_EQ(1U, st.rx_packets);
	EXPECT_EQ(321U, st.rx_bytes);
	consume_raw(_metadata, self, 0, 321);
	expect_ring_empty(_metadata, &self->r);

	EXPECT_EQ(0, close(self->fd));
	self->fd = -1;
	EXPECT_EQ(0, munmap(self->r.map, self->r.size));
	self->r.map = NULL;
}

/* Moving the device to another namespace unregisters it from this one. */
TEST_F(ring, device_moved_to_other_netns)
{
	struct vj_filter f = filter_ethertype(ETH_P_VJTEST);
	struct vj_statistics st;
	int p[2], status;
	pid_t pid;
	char c;

	setup_channel(_metadata, self);
	ASSERT_EQ(0, vj_filter(self->fd, VJ_ADD_FILTER, &f));
	send_raw(_metadata, self, 0, 100, ETH_P_VJTEST);
	ASSERT_EQ(1U, ring_wait(&self->r, 1));

	ASSERT_EQ(0, pipe(p));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(p[0]);
		if (unshare(CLONE_NEWNET))
			_exit(1);
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(p[1]);
	ASSERT_EQ(1, read(p[0], &c, 1));
	close(p[0]);
	EXPECT_EQ(0, run("ip link set dev " DEV_B " netns %d", pid));

	wait_pollerr(_metadata, self->fd);

	/* Frames no longer arrive; what was there stays. */
	{
		__u8 buf[128];

		/* vja's peer is gone from here: the send may fail or be dropped */
		build_raw(self, buf, sizeof(buf), 1, ETH_P_VJTEST);
		if (send(self->pkt, buf, sizeof(buf), 0) < 0)
			TH_LOG("send after the move: %s (ok)", strerror(errno));
	}
	usleep(20 * 1000);
	EXPECT_EQ(1U, ring_avail(&self->r));
	vj_stats(_metadata, self->fd, &st);
	EXPECT_EQ(1U, st.rx_packets);
	consume_raw(_metadata, self, 0, 100);
	expect_ring_empty(_metadata, &self->r);

	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	EXPECT_EQ(0, close(self->fd));
	self->fd = -1;
}

/* ================================================================== */
/* Teardown under traffic                                              */

#define TRAFFIC_MS	300		/* traffic before the teardown */
#define TEARDOWN_MS	20000		/* at most this long for a teardown to show */
#define FLOOD_MAX_MS	45000		/* a flood thread stops by itself after this */
#define PING_ID		0x766a		/* ICMP echo identifier of the netns test */
#define NR_POLLERS	4
#define NR_STATS	(sizeof(struct vj_statistics) / sizeof(__u64))

enum { FLOOD_RAW, FLOOD_PING };

/* A thread that sends frames as fast as it can until told to stop. */
struct flood {
	struct _test_data_ring *self;
	int fd;			/* the AF_PACKET socket the frames go out of */
	int kind;		/* FLOOD_RAW: raw frames (raw_len(seq)) from vja */
				/* FLOOD_PING: echo requests from vjb to vja */
	pthread_t thread;
	bool running;
	int stop;		/* set by the main thread */
	__u64 sent;		/* frames sent */
	__u64 failed;		/* sends that failed for want of memory */
	__u64 dead;		/* sends that failed otherwise: the device is gone */
};

/* What the consumer of a flood saw. */
struct flood_rx {
	int kind;
	__u32 next_seq;		/* FLOOD_RAW: the seq of the next frame is at least this */
	__u64 frames;		/* frames consumed */
	__u64 bytes;		/* their bytes */
	__u64 pongs;		/* FLOOD_PING: of which echo replies to our requests */
};

static size_t ping_payload(__u32 seq)
{
	return 32 + seq % 200;
}

/* An ICMP echo request from vjb (ADDR_B) to vja (ADDR_A), sent on vjb. */
static size_t build_ping(struct _test_data_ring *self, __u8 *buf, __u32 seq)
{
	size_t payload = ping_payload(seq);
	size_t iplen = 20 + 8 + payload;
	__u8 *ip = buf + ETH_HLEN;
	__u8 *ic = ip + 20;
	size_t i;

	memcpy(buf, self->mac_a, ETH_ALEN);
	memcpy(buf + ETH_ALEN, self->mac_b, ETH_ALEN);
	buf[12] = ETH_P_IP >> 8;
	buf[13] = ETH_P_IP & 0xff;
	memset(ip, 0, 20 + 8);
	ip[0] = 0x45;
	ip[2] = iplen >> 8;
	ip[3] = iplen;
	ip[4] = seq >> 8;
	ip[5] = seq;
	ip[6] = 0x40;				/* DF */
	ip[8] = 64;
	ip[9] = IPPROTO_ICMP;
	inet_pton(AF_INET, ADDR_B, ip + 12);
	inet_pton(AF_INET, ADDR_A, ip + 16);
	memcpy(ip + 10, &(__u16){ ip_csum(ip, 20) }, 2);

	ic[0] = 8;				/* echo request */
	ic[4] = PING_ID >> 8;
	ic[5] = PING_ID & 0xff;
	ic[6] = seq >> 8;
	ic[7] = seq;
	/* payload: seq (be32), then the pattern */
	ic[8] = seq >> 24;
	ic[9] = seq >> 16;
	ic[10] = seq >> 8;
	ic[11] = seq;
	for (i = 4; i < payload; i++)
		ic[8 + i] = pattern(seq, i);
	memcpy(ic + 2, &(__u16){ ip_csum(ic, 8 + payload) }, 2);
	return ETH_HLEN + iplen;
}

static void *flood_fn(void *arg)
{
	struct flood *fl = arg;
	__u64 end = now_ns() + FLOOD_MAX_MS * 1000000ULL;
	__u8 buf[FRAME_MAX];
	__u32 seq;
	size_t len;

	for (seq = 0; !__atomic_load_n(&fl->stop, __ATOMIC_ACQUIRE); seq++) {
		if (now_ns() > end)
			break;
		if (fl->kind == FLOOD_PING)
			len = build_ping(fl->self, buf, seq);
		else
			len = build_raw(fl->self, buf, raw_len(seq), seq, ETH_P_VJTEST);
		if (send(fl->fd, buf, len, MSG_DONTWAIT) == (ssize_t)len) {
			__atomic_fetch_add(&fl->sent, 1, __ATOMIC_RELAXED);
		} else if (errno == EAGAIN || errno == ENOBUFS || errno == EINTR) {
			__atomic_fetch_add(&fl->failed, 1, __ATOMIC_RELAXED);
			usleep(100);
		} else {
			/* ENXIO, ENETDOWN: the device went away; go on, slowly. */
			__atomic_fetch_add(&fl->dead, 1, __ATOMIC_RELAXED);
			usleep(1000);
		}
		if (seq % 64 == 63)
			sched_yield();
	}
	return NULL;
}

static void flood_start(struct __test_metadata *_metadata, struct flood *fl,
			struct _test_data_ring *self, int fd, int kind)
{
	memset(fl, 0, sizeof(*fl));
	fl->self = self;
	fl->fd = fd;
	fl->kind = kind;
	ASSERT_EQ(0, pthread_create(&fl->thread, NULL, flood_fn, fl));
	fl->running = true;
}

static void flood_stop(struct flood *fl)
{
	if (!fl->running)
		return;
	__atomic_store_n(&fl->stop, 1, __ATOMIC_RELEASE);
	pthread_join(fl->thread, NULL);
	fl->running = false;
}

/* Wait until the flood has failed to send for want of its device. */
static __u64 flood_wait_dead(struct flood *fl)
{
	__u64 end = now_ns() + WAIT_MS * 1000000ULL;

	while (!__atomic_load_n(&fl->dead, __ATOMIC_RELAXED) && now_ns() < end)
		usleep(1000);
	return __atomic_load_n(&fl->dead, __ATOMIC_RELAXED);
}

/* An AF_PACKET socket bound to @ifindex for @proto (0: it receives nothing). */
static int packet_socket(int ifindex, __u16 proto)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(proto),
		.sll_ifindex = ifindex,
	};
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, htons(proto));

	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll))) {
		close(fd);
		return -1;
	}
	return fd;
}

static __u32 raw_seq(const __u8 *f, __u32 len)
{
	if (len < RAW_HDR)
		return 0;
	return (__u32)f[14] << 24 | f[15] << 16 | f[16] << 8 | f[17];
}

/*
 * A raw flood frame in a ring: the right contents, after the frames seen
 * before it (the channel publishes in veth_xmit(), so in the order sent).
 */
static void check_flood_raw(struct __test_metadata *_metadata, struct _test_data_ring *self,
			    const __u8 *f, __u32 len, struct flood_rx *rx)
{
	__u32 seq = raw_seq(f, len);

	ASSERT_LE(rx->next_seq, seq) TH_LOG("frame seq %u after frame seq %u", seq,
					    rx->next_seq - 1);
	expect_raw(_metadata, self, f, len, seq, raw_len(seq));
	rx->next_seq = seq + 1;
}

/*
 * An IPv4 frame from vja's side.  An echo reply to one of build_ping()'s
 * requests is checked in full, and 1 returned; anything else returns 0.
 */
static int check_pong(struct __test_metadata *_metadata, struct _test_data_ring *self,
		      const __u8 *f, __u32 len)
{
	const __u8 *ip = f + ETH_HLEN;
	const __u8 *ic = ip + 20;
	__u8 a[4], b[4];
	__u32 seq;
	size_t i;

	ASSERT_LE(ETH_HLEN + 20U, len);
	ASSERT_EQ(ETH_P_IP, f[12] << 8 | f[13]);
	if (ip[0] != 0x45 || ip[9] != IPPROTO_ICMP || len < ETH_HLEN + 20U + 8 + 4 ||
	    ic[0] != 0 || (ic[4] << 8 | ic[5]) != PING_ID)
		return 0;
	seq = (__u32)ic[8] << 24 | ic[9] << 16 | ic[10] << 8 | ic[11];
	ASSERT_EQ(ETH_HLEN + 20 + 8 + ping_payload(seq), len) TH_LOG("echo reply seq %u", seq);
	EXPECT_EQ(0, memcmp(f, self->mac_b, ETH_ALEN));
	EXPECT_EQ(0, memcmp(f + ETH_ALEN, self->mac_a, ETH_ALEN));
	inet_pton(AF_INET, ADDR_A, a);
	inet_pton(AF_INET, ADDR_B, b);
	EXPECT_EQ(0, memcmp(ip + 12, a, 4));
	EXPECT_EQ(0, memcmp(ip + 16, b, 4));
	EXPECT_EQ(0, ip_csum(ip, 20)) TH_LOG("echo reply seq %u: bad IP checksum", seq);
	EXPECT_EQ(0, ip_csum(ic, len - ETH_HLEN - 20))
		TH_LOG("echo reply seq %u: bad ICMP checksum", seq);
	EXPECT_EQ(seq & 0xffff, (__u32)(ic[6] << 8 | ic[7]));
	for (i = 4; i < ping_payload(seq); i++)
		if (ic[8 + i] != pattern(seq, i))
			break;
	ASSERT_EQ(ping_payload(seq), i) TH_LOG("echo reply seq %u: payload differs", seq);
	return 1;
}

/*
 * Consume up to @max frames of a flood from @r, checking each; returns how
 * many.  The slots are released at the end.
 */
static __u32 consume_flood(struct __test_metadata *_metadata, struct _test_data_ring *self,
			   struct ring *r, struct flood_rx *rx, __u32 max)
{
	__u32 prod = __atomic_load_n(r->prod, __ATOMIC_ACQUIRE);
	const __u8 *f;
	__u32 n = 0, len;

	ASSERT_GE(r->off.nr_bufs, prod - r->next)
		TH_LOG("producer %u is %u ahead of consumer %u", prod, prod - r->next, r->next);
	while (r->next != prod && n < max) {
		f = ring_frame(_metadata, r, r->next, &len, NULL);
		if (rx->kind == FLOOD_PING)
			rx->pongs += check_pong(_metadata, self, f, len);
		else
			check_flood_raw(_metadata, self, f, len, rx);
		rx->frames++;
		rx->bytes += len;
		r->next++;
		n++;
	}
	if (n)
		ring_release(r);
	return n;
}

/* Consume everything in @r, which no longer receives. */
static void drain_flood(struct __test_metadata *_metadata, struct _test_data_ring *self,
			struct ring *r, struct flood_rx *rx)
{
	while (consume_flood(_metadata, self, r, rx, r->off.nr_bufs))
		;
	EXPECT_EQ(__atomic_load_n(r->prod, __ATOMIC_ACQUIRE), r->next);
}

/*
 * Consume the channel's flood for @ms, or (@until_err) until poll() reports
 * POLLERR.  Returns the revents of the last poll().
 */
static short consume_until(struct __test_metadata *_metadata, struct _test_data_ring *self,
			   struct flood_rx *rx, int ms, bool until_err)
{
	__u64 end = now_ns() + ms * 1000000ULL;
	struct pollfd pfd = { .fd = self->fd, .events = POLLIN };

	for (;;) {
		pfd.revents = 0;
		ASSERT_LE(0, poll(&pfd, 1, 0)) TH_LOG("poll: %s", strerror(errno));
		if ((until_err && (pfd.revents & POLLERR)) || now_ns() > end)
			return pfd.revents;
		if (!consume_flood(_metadata, self, &self->r, rx, self->r.off.nr_bufs))
			usleep(200);
	}
}

/* A checksum of the whole mapping (reading every page of it). */
static __u64 ring_sum(const struct ring *r)
{
	const __u64 *p = (const __u64 *)r->map;
	__u64 sum = 0;
	size_t i;

	for (i = 0; i < r->size / sizeof(*p); i++)
		sum = (sum << 7 | sum >> 57) ^ p[i];
	return sum;
}

/* Start ip(8) with @argv without waiting for it: threads may be running. */
static pid_t spawn_ip(char *const argv[])
{
	pid_t pid;
	int err;

	err = posix_spawnp(&pid, "ip", NULL, NULL, argv, environ);
	if (err) {
		errno = err;
		return -1;
	}
	return pid;
}

/* Reap child @pid within @ms, or kill it; 0 if it was reaped in time. */
static int wait_child(pid_t pid, int ms, int *status)
{
	__u64 end = now_ns() + ms * 1000000ULL;
	pid_t ret;

	for (;;) {
		ret = waitpid(pid, status, WNOHANG);
		if (ret == pid)
			return 0;
		if (ret < 0)
			return -1;
		if (now_ns() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, status, 0);
			return -1;
		}
		usleep(1000);
	}
}

/* Read one byte from @fd within @ms; 0 on success. */
static int wait_byte(int fd, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char c;

	if (poll(&pfd, 1, ms) != 1 || read(fd, &c, 1) != 1)
		return -1;
	return 0;
}

/*
 * The channel's device went away under the flood (POLLERR was seen): what
 * was published can be consumed, nothing more arrives though the flood goes
 * on, the counters add up to what was consumed, the socket cannot be bound
 * again, it closes cleanly, and its mapping outlives it unchanged.
 */
static void check_unbound(struct __test_metadata *_metadata, struct _test_data_ring *self,
			  struct flood *fl, struct flood_rx *rx)
{
	struct pollfd pfd = { .fd = self->fd, .events = POLLIN };
	struct vj_statistics st;
	__u64 sum;
	__u32 prod;

	drain_flood(_metadata, self, &self->r, rx);
	EXPECT_LT(0U, flood_wait_dead(fl)) TH_LOG("the sender never saw its device go");
	prod = __atomic_load_n(self->r.prod, __ATOMIC_ACQUIRE);
	usleep(20 * 1000);
	EXPECT_EQ(prod, __atomic_load_n(self->r.prod, __ATOMIC_ACQUIRE))
		TH_LOG("frames arrive after the device went");
	flood_stop(fl);
	EXPECT_LT(0U, fl->sent);
	drain_flood(_metadata, self, &self->r, rx);

	/* POLLERR stays; POLLIN only while frames are left, and none are. */
	ASSERT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_EQ(POLLERR, pfd.revents & (POLLERR | POLLIN)) TH_LOG("revents %#x", pfd.revents);

	vj_stats(_metadata, self->fd, &st);
	EXPECT_LT(0U, st.rx_packets);
	EXPECT_EQ(rx->frames, st.rx_packets);
	EXPECT_EQ(rx->bytes, st.rx_bytes);
	EXPECT_EQ(0U, st.rx_invalid_consumer);
	EXPECT_EQ(0U, st.rx_bad_length);

	errno = 0;
	EXPECT_EQ(-1, vj_bind(self->fd, self->ifb, 0));
	EXPECT_EQ(EINVAL, errno);

	sum = ring_sum(&self->r);
	EXPECT_EQ(0, close(self->fd));
	self->fd = -1;
	EXPECT_EQ(sum, ring_sum(&self->r));
	EXPECT_EQ(0, munmap(self->r.map, self->r.size));
	self->r.map = NULL;
}

TEST_F(ring, device_deleted_under_traffic)
{
	static char *const del[] = { "ip", "link", "del", "dev", DEV_A, NULL };
	struct vj_filter f = filter_ethertype(ETH_P_VJTEST);
	struct flood_rx rx = { .kind = FLOOD_RAW };
	struct flood fl;
	int status = 0;
	short revents;
	pid_t ip;

	setup_channel(_metadata, self);
	ASSERT_EQ(0, vj_filter(self->fd, VJ_ADD_FILTER, &f));
	flood_start(_metadata, &fl, self, self->pkt, FLOOD_RAW);
	consume_until(_metadata, self, &rx, TRAFFIC_MS, false);
	ASSERT_LT(0U, rx.frames) TH_LOG("no frame in %d ms of flood", TRAFFIC_MS);

	/* Delete the pair while frames flow in and the ring is consumed. */
	ip = spawn_ip(del);
	ASSERT_LT(0, ip) TH_LOG("cannot run ip: %s", strerror(errno));
	revents = consume_until(_metadata, self, &rx, TEARDOWN_MS, true);
	EXPECT_EQ(0, wait_child(ip, TEARDOWN_MS, &status));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("ip link del: status %#x", status);
	ASSERT_TRUE(revents & POLLERR) TH_LOG("no POLLERR after the device went");
	EXPECT_EQ(0U, if_nametoindex(DEV_B));
	check_unbound(_metadata, self, &fl, &rx);
}

/*
 * The child of netns_deleted_under_traffic: a network namespace of its own,
 * into which the parent moves vja; it puts ADDR_A on vja and waits to be
 * killed.  Reports each step with a byte on @out.
 */
static __noreturn void netns_child(struct _test_data_ring *self, int in, int out)
{
	char c;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* Nothing of the parent's namespace stays open here. */
	close(self->fd);
	close(self->pkt);
	if (unshare(CLONE_NEWNET))
		_exit(1);
	write_file("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
	write_file("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
	if (write(out, "u", 1) != 1 || read(in, &c, 1) != 1)
		_exit(2);
	if (run("ip link set dev " DEV_A " up && ip addr add " ADDR_A "/24 dev " DEV_A))
		_exit(3);
	if (write(out, "a", 1) != 1)
		_exit(4);
	for (;;)
		pause();
}

/*
 * The namespace of the bound device cannot be deleted while the channel is
 * open: the socket holds a reference to its namespace, and bind only takes
 * devices of that namespace (moving the device out unbinds the channel, see
 * device_moved_to_other_netns).  What can be deleted under an open channel
 * is the namespace of the device's veth peer, and cleanup_net() then takes
 * the bound device with its peer.  So: vja lives in a namespace that only a
 * child process holds; echo requests sent on vjb make that namespace's own
 * kernel answer on vja, into the channel; the child is killed while they
 * flow, and the namespace is dismantled while requests keep coming in.
 */
TEST_F_TIMEOUT(ring, netns_deleted_under_traffic, 60)
{
	struct vj_filter f = filter_ethertype(ETH_P_IP);
	struct flood_rx rx = { .kind = FLOOD_PING };
	int to_child[2], from_child[2], tx, status = 0;
	struct flood fl;
	__u64 end, at_kill;
	short revents;
	pid_t pid;

	ASSERT_EQ(0, pipe(to_child));
	ASSERT_EQ(0, pipe(from_child));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		netns_child(self, to_child[0], from_child[1]);
	close(to_child[0]);
	close(from_child[1]);
	ASSERT_EQ(0, wait_byte(from_child[0], TEARDOWN_MS)) TH_LOG("child: no namespace");
	ASSERT_EQ(0, run("ip link set dev " DEV_A " netns %d", pid));
	ASSERT_EQ(1, write(to_child[1], "m", 1));
	ASSERT_EQ(0, wait_byte(from_child[0], TEARDOWN_MS)) TH_LOG("child: no address on " DEV_A);
	close(to_child[1]);
	close(from_child[0]);

	setup_channel(_metadata, self);
	ASSERT_EQ(0, vj_filter(self->fd, VJ_ADD_FILTER, &f));
	tx = packet_socket(self->ifb, 0);
	ASSERT_LE(0, tx) TH_LOG("AF_PACKET on %s: %s", DEV_B, strerror(errno));
	flood_start(_metadata, &fl, self, tx, FLOOD_PING);

	/* The other namespace answers (after an ARP round trip), into the channel. */
	end = now_ns() + 2 * WAIT_MS * 1000000ULL;
	while (!rx.pongs && now_ns() < end)
		if (!consume_flood(_metadata, self, &self->r, &rx, self->r.off.nr_bufs))
			usleep(200);
	ASSERT_LT(0U, rx.pongs) TH_LOG("no echo reply from the other namespace");
	consume_until(_metadata, self, &rx, TRAFFIC_MS, false);

	/* Its last process goes: the namespace is deleted, vja and vjb with it. */
	at_kill = rx.frames;
	ASSERT_EQ(0, kill(pid, SIGKILL));
	EXPECT_EQ(0, wait_child(pid, WAIT_MS, &status));
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
		TH_LOG("child status %#x", status);
	revents = consume_until(_metadata, self, &rx, TEARDOWN_MS, true);
	ASSERT_TRUE(revents & POLLERR) TH_LOG("no POLLERR after the namespace went");
	EXPECT_EQ(0U, if_nametoindex(DEV_B));
	TH_LOG("%llu frames before the kill, %llu after (%llu not echo replies)",
	       (unsigned long long)at_kill, (unsigned long long)(rx.frames - at_kill),
	       (unsigned long long)(rx.frames - rx.pongs));
	check_unbound(_metadata, self, &fl, &rx);
	close(tx);
}

/*
 * Close while mapped, while frames arrive.  A mapping holds the socket's file,
 * so the channel lives, bound and receiving, until the last mapping goes; then
 * the queue is free again.
 */
TEST_F_TIMEOUT(ring, close_under_traffic, 60)
{
	struct vj_filter f = filter_ethertype(ETH_P_VJTEST);
	struct flood_rx rx = { .kind = FLOOD_RAW };
	struct ring r, old = { 0 };
	struct flood fl;
	unsigned int i;
	__u64 before, end;
	__u32 prod;
	int fd;

	EXPECT_EQ(0, close(self->fd));
	self->fd = -1;
	flood_start(_metadata, &fl, self, self->pkt, FLOOD_RAW);
	for (i = 0; i < 20; i++) {
		fd = vj_socket();
		ASSERT_LE(0, fd) TH_LOG("round %u: socket: %s", i, strerror(errno));
		if (old.map) {
			/* The previous socket is closed but still mapped: still bound. */
			EXPECT_EQ(-1, vj_bind(fd, self->ifb, 0));
			EXPECT_EQ(EBUSY, errno);
			EXPECT_EQ(0, munmap(old.map, old.size));
			old.map = NULL;
		}
		ASSERT_EQ(0, vj_bind(fd, self->ifb, 0))
			TH_LOG("round %u: bind: %s", i, strerror(errno));
		memset(&r, 0, sizeof(r));
		ring_map(_metadata, fd, &r);		/* no filter yet: empty */
		ASSERT_EQ(0, vj_filter(fd, VJ_ADD_FILTER, &f));
		ASSERT_LE(1U, ring_wait(&r, 1)) TH_LOG("round %u: no frame", i);
		before = rx.frames;
		consume_flood(_metadata, self, &r, &rx, 1 + i % 8);

		EXPECT_EQ(0, close(fd));
		/* The mapping keeps the channel alive: frames keep arriving. */
		prod = __atomic_load_n(r.prod, __ATOMIC_ACQUIRE);
		end = now_ns() + WAIT_MS * 1000000ULL;
		while (__atomic_load_n(r.prod, __ATOMIC_ACQUIRE) == prod && now_ns() < end) {
			consume_flood(_metadata, self, &r, &rx, r.off.nr_bufs);
			usleep(1000);
		}
		EXPECT_NE(prod, __atomic_load_n(r.prod, __ATOMIC_ACQUIRE))
			TH_LOG("round %u: nothing arrived after close while mapped", i);
		consume_flood(_metadata, self, &r, &rx, r.off.nr_bufs);
		EXPECT_LT(before, rx.frames);

		if (i % 2)
			old = r;	/* unmapped at the start of the next round */
		else
			EXPECT_EQ(0, munmap(r.map, r.size));
	}
	if (old.map)
		EXPECT_EQ(0, munmap(old.map, old.size));
	flood_stop(&fl);
	EXPECT_LT(0U, fl.sent);
}

TEST_F_TIMEOUT(ring, bind_close_loop_under_traffic, 60)
{
	struct vj_filter f = filter_ethertype(ETH_P_VJTEST);
	struct flood_rx rx = { .kind = FLOOD_RAW };
	struct pollfd pfd = { .events = POLLIN };
	struct vj_statistics st;
	__u8 buf[FRAME_MAX];
	struct flood fl;
	struct ring r;
	unsigned int i;
	__u32 n;
	ssize_t len;
	int fd;

	flood_start(_metadata, &fl, self, self->pkt, FLOOD_RAW);
	for (i = 0; i < 50; i++) {
		fd = vj_socket();
		ASSERT_LE(0, fd) TH_LOG("round %u: socket: %s", i, strerror(errno));
		ASSERT_EQ(0, vj_filter(fd, VJ_ADD_FILTER, &f));
		ASSERT_EQ(0, vj_bind(fd, self->ifb, 0))
			TH_LOG("round %u: bind: %s", i, strerror(errno));
		memset(&r, 0, sizeof(r));
		ring_map_any(_metadata, fd, &r);
		ASSERT_LE(1U, ring_wait(&r, 1)) TH_LOG("round %u: no frame", i);
		n = consume_flood(_metadata, self, &r, &rx, 4);
		EXPECT_LE(1U, n);
		vj_stats(_metadata, fd, &st);
		EXPECT_LE(n, st.rx_packets);
		EXPECT_EQ(0U, st.rx_invalid_consumer);
		EXPECT_EQ(0, munmap(r.map, r.size));
		EXPECT_EQ(0, close(fd));
	}

	/* The queue is free ... */
	vj_bind_b(_metadata, self);
	EXPECT_EQ(0, close(self->fd));
	self->fd = -1;

	/*
	 * ... and with no channel, the frames reach vjb's stack again (through
	 * the per-CPU backlogs: not necessarily in order).
	 */
	fd = packet_socket(self->ifb, ETH_P_VJTEST);
	ASSERT_LE(0, fd) TH_LOG("AF_PACKET on %s: %s", DEV_B, strerror(errno));
	pfd.fd = fd;
	for (i = 0; i < 5; i++) {
		ASSERT_EQ(1, poll(&pfd, 1, WAIT_MS)) TH_LOG("frame %u did not reach the stack", i);
		len = recv(fd, buf, sizeof(buf), 0);
		ASSERT_LT(0, len) TH_LOG("recv: %s", strerror(errno));
		n = raw_seq(buf, len);
		expect_raw(_metadata, self, buf, len, n, raw_len(n));
	}
	close(fd);
	flood_stop(&fl);
	EXPECT_LT(0U, fl.sent);
}

struct poller {
	int fd;
	int *stop;
	pthread_t thread;
	unsigned int loops;		/* poll + VJ_STATISTICS rounds */
	unsigned int pollin;		/* polls that reported POLLIN */
	short bad_revents;		/* anything else poll() reported */
	unsigned int backwards;		/* counters smaller than this thread read before */
	int backwards_field;
	unsigned int torn;		/* rx_bytes not possible for rx_packets */
	int err;			/* errno of a failed call */
	struct vj_statistics last;	/* the last statistics read */
};

static void *poller_fn(void *arg)
{
	__u64 end = now_ns() + FLOOD_MAX_MS * 1000000ULL;
	struct vj_statistics st, prev = { 0 };
	struct poller *p = arg;
	struct pollfd pfd;
	size_t i, off;
	socklen_t len;

	while (!__atomic_load_n(p->stop, __ATOMIC_ACQUIRE) && now_ns() < end) {
		pfd.fd = p->fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (poll(&pfd, 1, 10) < 0) {
			p->err = errno;
			break;
		}
		if (pfd.revents & POLLIN)
			p->pollin++;
		p->bad_revents |= pfd.revents & ~POLLIN;
		len = sizeof(st);
		if (getsockopt(p->fd, SOL_VJCHAN, VJ_STATISTICS, &st, &len)) {
			p->err = errno;
			break;
		}
		if (len != sizeof(st)) {
			p->err = EPROTO;
			break;
		}
		for (i = 0; i < NR_STATS; i++) {
			off = i * sizeof(__u64);
			if (stat_field(&st, off) < stat_field(&prev, off)) {
				p->backwards++;
				p->backwards_field = i;
			}
		}
		/* Every frame of the flood is 60 to 1514 bytes long. */
		if (st.rx_bytes < 60 * st.rx_packets || st.rx_bytes > 1514 * st.rx_packets)
			p->torn++;
		prev = st;
		p->loops++;
	}
	p->last = prev;
	return NULL;
}

/* Sleep the documented way until a frame is in @r or @ms pass. */
static void ring_sleep(int fd, struct ring *r, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	__atomic_store_n(r->flags, VJ_RING_NEED_WAKEUP, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(r->prod, __ATOMIC_ACQUIRE) == r->next)
		poll(&pfd, 1, ms);
	__atomic_store_n(r->flags, 0, __ATOMIC_RELAXED);
}

TEST_F(ring, many_pollers_and_stats)
{
	struct vj_filter f = filter_ethertype(ETH_P_VJTEST);
	struct flood_rx rx = { .kind = FLOOD_RAW };
	struct poller pl[NR_POLLERS];
	unsigned int i, j, pollin = 0;
	struct vj_statistics st;
	struct flood fl;
	int stop = 0;
	__u64 end;

	setup_channel(_metadata, self);
	ASSERT_EQ(0, vj_filter(self->fd, VJ_ADD_FILTER, &f));
	flood_start(_metadata, &fl, self, self->pkt, FLOOD_RAW);
	memset(pl, 0, sizeof(pl));
	for (i = 0; i < NR_POLLERS; i++) {
		pl[i].fd = self->fd;
		pl[i].stop = &stop;
		ASSERT_EQ(0, pthread_create(&pl[i].thread, NULL, poller_fn, &pl[i]));
	}

	end = now_ns() + 2 * TRAFFIC_MS * 1000000ULL;
	while (now_ns() < end)
		if (!consume_flood(_metadata, self, &self->r, &rx, 64))
			ring_sleep(self->fd, &self->r, 10);

	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < NR_POLLERS; i++)
		pthread_join(pl[i].thread, NULL);
	vj_stats(_metadata, self->fd, &st);
	for (i = 0; i < NR_POLLERS; i++) {
		EXPECT_EQ(0, pl[i].err) TH_LOG("poller %u: %s", i, strerror(pl[i].err));
		EXPECT_LT(0U, pl[i].loops) TH_LOG("poller %u never ran", i);
		EXPECT_EQ(0, pl[i].bad_revents)
			TH_LOG("poller %u: revents %#x", i, pl[i].bad_revents);
		EXPECT_EQ(0U, pl[i].backwards)
			TH_LOG("poller %u: counter %d went back", i, pl[i].backwards_field);
		EXPECT_EQ(0U, pl[i].torn) TH_LOG("poller %u: rx_bytes does not fit rx_packets", i);
		/* Read later, every counter is at least as large. */
		for (j = 0; j < NR_STATS; j++)
			EXPECT_LE(stat_field(&pl[i].last, j * sizeof(__u64)),
				  stat_field(&st, j * sizeof(__u64)))
				TH_LOG("poller %u: counter %u", i, j);
		pollin += pl[i].pollin;
	}
	EXPECT_LT(0U, pollin);
	EXPECT_LT(0U, rx.frames);
	EXPECT_LE(rx.frames, st.rx_packets);
	EXPECT_EQ(0U, st.rx_invalid_consumer);
	EXPECT_EQ(0U, st.rx_bad_length);

	/*
	 * Close with the flood still on; what was published before is all
	 * there.  The mapping keeps the channel bound and receiving, so stop
	 * the flood before draining: drain_flood() expects no more frames.
	 */
	EXPECT_EQ(0, close(self->fd));
	self->fd = -1;
	flood_stop(&fl);
	drain_flood(_metadata, self, &self->r, &rx);
	EXPECT_LE(st.rx_packets, rx.frames);
	EXPECT_LT(0U, fl.sent);
}

/* ================================================================== */
/* Hostile arguments, races and odd memory operations                  */

/* The inode number in /proc/self/maps of the file of socket @fd. */
static unsigned long sock_ino(int fd)
{
	struct stat st;

	if (fstat(fd, &st))
		return 0;
	return st.st_ino;
}

/* How many VMAs of this process map the socket with inode @ino. */
static int maps_count(unsigned long ino)
{
	char needle[64], line[512];
	FILE *f = fopen("/proc/self/maps", "r");
	int n = 0;

	if (!f)
		return -1;
	snprintf(needle, sizeof(needle), "socket:[%lu]", ino);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, needle))
			n++;
	fclose(f);
	return n;
}

static int caught_sig;	/* a global, as child_bad */

static void catch_handler(int sig)
{
	caught_sig = sig;
	siglongjmp(segv_jmp, 1);
}

/*
 * Load the byte at @p, or store it back with @write.  Returns 0 if that
 * worked, else the signal it raised (SIGSEGV or SIGBUS).  @val gets the byte.
 */
static int probe_byte(__u8 *p, bool write, __u8 *val)
{
	struct sigaction sa = { .sa_handler = catch_handler }, old_segv, old_bus;
	int ret = 0;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &old_segv);
	sigaction(SIGBUS, &sa, &old_bus);
	caught_sig = 0;
	if (!sigsetjmp(segv_jmp, 1)) {
		__u8 v = __atomic_load_n(p, __ATOMIC_RELAXED);

		if (write)
			__atomic_store_n(p, v, __ATOMIC_RELAXED);
		if (val)
			*val = v;
	} else {
		ret = caught_sig;
	}
	sigaction(SIGSEGV, &old_segv, NULL);
	sigaction(SIGBUS, &old_bus, NULL);
	return ret;
}

TEST_F(ring, sockopt_bad_user_pointers)
{
	static const int gets[] = { VJ_RING_OFFSETS, VJ_STATISTICS, VJ_FEATURES };
	struct vj_filter f = filter_ethertype(ETH_P_VJTEST);
	__u8 buf[sizeof(struct vj_ring_offsets) + sizeof(struct vj_statistics)];
	size_t ps = pagesz();
	struct vj_statistics st;
	socklen_t *ro_len;
	__u8 *hole, *edge;
	socklen_t len;
	unsigned int i;

	/*
	 * Three pages: a filter on the first runs into the second, which is
	 * unmapped (a hole between mappings, so no later mmap() refills it);
	 * the third holds an optlen the kernel can read but not write back.
	 */
	edge = mmap(NULL, 3 * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, edge);
	hole = edge + ps;
	ASSERT_EQ(0, munmap(hole, ps));
	memcpy(hole - 16, &f, 16);
	ro_len = (socklen_t *)(edge + 2 * ps);

	for (i = 0; i < 2; i++) {
		int op = i ? VJ_DEL_FILTER : VJ_ADD_FILTER;

		errno = 0;
		EXPECT_EQ(-1, setsockopt(self->fd, SOL_VJCHAN, op, NULL, sizeof(f)));
		EXPECT_EQ(EFAULT, errno) TH_LOG("op %d, optval NULL", op);
		errno = 0;
		EXPECT_EQ(-1, setsockopt(self->fd, SOL_VJCHAN, op, hole, sizeof(f)));
		EXPECT_EQ(EFAULT, errno) TH_LOG("op %d, optval unmapped", op);
		errno = 0;
		EXPECT_EQ(-1, setsockopt(self->fd, SOL_VJCHAN, op, hole - 16, sizeof(f)));
		EXPECT_EQ(EFAULT, errno) TH_LOG("op %d, optval runs into a hole", op);
	}

	vj_bind_b(_metadata, self);
	for (i = 0; i < ARRAY_SIZE(gets); i++) {
		socklen_t want = gets[i] == VJ_RING_OFFSETS ? sizeof(struct vj_ring_offsets) :
				 gets[i] == VJ_STATISTICS ? sizeof(struct vj_statistics) :
				 sizeof(__u64);

		len = want;
		errno = 0;
		EXPECT_EQ(-1, getsockopt(self->fd, SOL_VJCHAN, gets[i], NULL, &len));
		EXPECT_EQ(EFAULT, errno) TH_LOG("opt %d, optval NULL", gets[i]);
		len = want;
		errno = 0;
		EXPECT_EQ(-1, getsockopt(self->fd, SOL_VJCHAN, gets[i], hole, &len));
		EXPECT_EQ(EFAULT, errno) TH_LOG("opt %d, optval unmapped", gets[i]);
		errno = 0;
		EXPECT_EQ(-1, getsockopt(self->fd, SOL_VJCHAN, gets[i], buf, NULL));
		EXPECT_EQ(EFAULT, errno) TH_LOG("opt %d, optlen NULL", gets[i]);
		errno = 0;
		EXPECT_EQ(-1, getsockopt(self->fd, SOL_VJCHAN, gets[i], buf,
					 (socklen_t *)hole));
		EXPECT_EQ(EFAULT, errno) TH_LOG("opt %d, optlen unmapped", gets[i]);
		*ro_len = want;
		ASSERT_EQ(0, mprotect(ro_len, ps, PROT_READ));
		errno = 0;
		EXPECT_EQ(-1, getsockopt(self->fd, SOL_VJCHAN, gets[i], buf, ro_len));
		EXPECT_EQ(EFAULT, errno) TH_LOG("opt %d, optlen read-only", gets[i]);
		ASSERT_EQ(0, mprotect(ro_len, ps, PROT_READ | PROT_WRITE));
	}
	EXPECT_EQ(0, munmap(edge, 3 * ps));

	/* No half-added filter (adding it is no EEXIST), and all works. */
	ASSERT_EQ(0, vj_filter(self->fd, VJ_ADD_FILTER, &f)) TH_LOG("%s", strerror(errno));
	ring_map(_metadata, self->fd, &self->r);
	send_raw(_metadata, self, 3, 333, ETH_P_VJTEST);
	consume_raw(_metadata, self, 3, 333);
	vj_stats(_metadata, self->fd, &st);
	EXPECT_EQ(1U, st.rx_packets);
	EXPECT_EQ(0U, st.rx_invalid_consumer);
}

/* Lengths and offsets whose arithmetic wraps: clean errors, no mapping. */
TEST_F(ring, mmap_length_offset_wrap)
{
	struct vj_ring_offsets o;
	unsigned long ino;
	size_t ps = pagesz();
	struct {
		size_t len;
		__u64 off;
	} c[12];
	unsigned int i, n = 0;
	void *p;

	vj_bind_b(_metadata, self);
	ASSERT_EQ(0, vj_offsets(self->fd, &o));
	ino = sock_ino(self->fd);
	ASSERT_NE(0UL, ino);
	ASSERT_EQ(0, maps_count(ino));

	/* Offsets and sizes compared without sums that could wrap. */
	ASSERT_LE(o.mmap_size, (__u64)SIZE_MAX / 2);
	ASSERT_LE(o.desc, o.mmap_size);
	ASSERT_LE(o.buffers, o.mmap_size);
	EXPECT_LE((__u64)o.nr_slots * o.desc_size, o.mmap_size - o.desc);
	EXPECT_LE((__u64)o.nr_bufs * o.buf_size, o.mmap_size - o.buffers);
	EXPECT_LE(o.headroom, o.buf_size);

	c[n].len = SIZE_MAX;			c[n++].off = 0;
	c[n].len = SIZE_MAX & ~(ps - 1);	c[n++].off = 0;
	c[n].len = (size_t)1 << 63;		c[n++].off = 0;
	c[n].len = 0;				c[n++].off = 0;
	c[n].len = o.mmap_size + 1;		c[n++].off = 0;
	c[n].len = o.mmap_size;			c[n++].off = 1ULL << 63;
	c[n].len = o.mmap_size;			c[n++].off = (1ULL << 63) - ps;
	c[n].len = o.mmap_size;			c[n++].off = -(__u64)ps;
	c[n].len = o.mmap_size;			c[n++].off = -(__u64)o.mmap_size;
	c[n].len = SIZE_MAX & ~(ps - 1);	c[n++].off = -(__u64)ps;
	c[n].len = o.mmap_size;			c[n++].off = 1;
	c[n].len = o.mmap_size;			c[n++].off = ps - 1;
	for (i = 0; i < n; i++) {
		errno = 0;
		p = mmap(NULL, c[i].len, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd,
			 (off_t)c[i].off);
		EXPECT_EQ(MAP_FAILED, p) TH_LOG("length %#zx offset %#llx mapped", c[i].len,
						(unsigned long long)c[i].off);
		if (p != MAP_FAILED) {
			munmap(p, c[i].len);
			continue;
		}
		TH_LOG("length %#zx offset %#llx: %s", c[i].len,
		       (unsigned long long)c[i].off, strerror(errno));
		EXPECT_TRUE(errno == EINVAL || errno == ENOMEM || errno == EOVERFLOW)
			TH_LOG("length %#zx offset %#llx: errno %d", c[i].len,
			       (unsigned long long)c[i].off, errno);
		EXPECT_EQ(0, maps_count(ino)) TH_LOG("a mapping is left");
	}
	/* The right call still works. */
	ring_map(_metadata, self->fd, &self->r);
	EXPECT_EQ(1, maps_count(ino));
}

struct bind_racer {
	pthread_barrier_t *bar;
	int fd;
	__u32 ifindex;
	int ret;
	int err;
};

static void *bind_racer_fn(void *arg)
{
	struct bind_racer *b = arg;

	pthread_barrier_wait(b->bar);
	b->ret = vj_bind(b->fd, b->ifindex, 0);
	b->err = b->ret ? errno : 0;
	return NULL;
}

/* Bind both racers at once; returns which one won (0 or 1), -1 if not exactly one. */
static int bind_race(struct bind_racer *b)
{
	pthread_barrier_t bar;
	pthread_t t[2];
	int i;

	pthread_barrier_init(&bar, NULL, 2);
	for (i = 0; i < 2; i++) {
		b[i].bar = &bar;
		b[i].ret = -2;
		if (pthread_create(&t[i], NULL, bind_racer_fn, &b[i]))
			return -1;
	}
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&bar);
	if (b[0].ret == 0 && b[1].ret == -1)
		return 0;
	if (b[1].ret == 0 && b[0].ret == -1)
		return 1;
	return -1;
}

#define BIND_RACES	50

TEST_F(ring, bind_race_one_socket)
{
	struct bind_racer b[2];
	unsigned int i, einval = 0, ebusy = 0;
	int w;

	for (i = 0; i < BIND_RACES; i++) {
		int fd = vj_socket();

		ASSERT_LE(0, fd);
		b[0].fd = fd;
		b[1].fd = fd;
		b[0].ifindex = self->ifb;
		b[1].ifindex = self->ifb;
		w = bind_race(b);
		ASSERT_LE(0, w) TH_LOG("round %u: ret %d/%d errno %d/%d", i, b[0].ret,
				       b[1].ret, b[0].err, b[1].err);
		ASSERT_TRUE(b[!w].err == EINVAL || b[!w].err == EBUSY)
			TH_LOG("round %u: loser errno %d", i, b[!w].err);
		einval += b[!w].err == EINVAL;
		ebusy += b[!w].err == EBUSY;
		/* Bound once: a third bind fails as bind_twice says. */
		errno = 0;
		EXPECT_EQ(-1, vj_bind(fd, self->ifb, 0));
		EXPECT_EQ(EINVAL, errno);
		ASSERT_EQ(0, close(fd));
	}
	TH_LOG("losers: %u EINVAL, %u EBUSY", einval, ebusy);
	/* The queue is free after all that. */
	vj_bind_b(_metadata, self);
	ring_map(_metadata, self->fd, &self->r);
}

TEST_F(ring, bind_race_two_sockets)
{
	struct bind_racer b[2];
	unsigned int i, wins[2] = { 0, 0 };
	struct ring r = { 0 };
	int w;

	for (i = 0; i < BIND_RACES; i++) {
		b[0].fd = vj_socket();
		b[1].fd = vj_socket();
		ASSERT_LE(0, b[0].fd);
		ASSERT_LE(0, b[1].fd);
		b[0].ifindex = self->ifb;
		b[1].ifindex = self->ifb;
		w = bind_race(b);
		ASSERT_LE(0, w) TH_LOG("round %u: ret %d/%d errno %d/%d", i, b[0].ret,
				       b[1].ret, b[0].err, b[1].err);
		ASSERT_EQ(EBUSY, b[!w].err) TH_LOG("round %u", i);
		wins[w]++;
		/* The winner is bound and maps; the loser was left unbound. */
		if (i % 10 == 0) {
			ring_map(_metadata, b[w].fd, &r);
			EXPECT_EQ(0, munmap(r.map, r.size));
		}
		errno = 0;
		EXPECT_EQ(MAP_FAILED, mmap(NULL, r.size ? r.size : (size_t)pagesz(),
					   PROT_READ | PROT_WRITE, MAP_SHARED, b[!w].fd, 0));
		EXPECT_EQ(EINVAL, errno);
		EXPECT_EQ(0, vj_bind(b[!w].fd, self->ifa, 0)) TH_LOG("%s", strerror(errno));
		ASSERT_EQ(0, close(b[0].fd));
		ASSERT_EQ(0, close(b[1].fd));
	}
	TH_LOG("wins: %u / %u", wins[0], wins[1]);
	vj_bind_b(_metadata, self);
}

/* Mapped read-only, then made writable: the consumer index written works. */
TEST_F(ring, mprotect_write_upgrade)
{
	struct vj_filter f = filter_ethertype(ETH_P_VJTEST);
	struct pollfd pfd = { .fd = self->fd, .events = POLLIN };
	struct vj_statistics st;
	struct ring *r = &self->r;
	const __u8 *fr;
	__u32 len, prod;
	int sig;

	vj_bind_b(_metadata, self);
	ASSERT_EQ(0, vj_filter(self->fd, VJ_ADD_FILTER, &f));
	ASSERT_EQ(0, vj_offsets(self->fd, &r->off));
	r->size = r->off.mmap_size;
	r->map = mmap(NULL, r->size, PROT_READ, MAP_SHARED, self->fd, 0);
	if (r->map == MAP_FAILED)
		r->map = NULL;
	ASSERT_NE(NULL, r->map) TH_LOG("read-only mmap: %s", strerror(errno));
	r->prod = (__u32 *)(r->map + r->off.producer);
	r->cons = (__u32 *)(r->map + r->off.consumer);
	r->flags = (__u32 *)(r->map + r->off.flags);
	r->next = *r->cons;
	r->released = r->next;

	send_raw(_metadata, self, 0, 200, ETH_P_VJTEST);
	send_raw(_metadata, self, 1, 201, ETH_P_VJTEST);
	ASSERT_EQ(2U, ring_wait(r, 2));
	fr = ring_frame(_metadata, r, r->next, &len, NULL);
	expect_raw(_metadata, self, fr, len, 0, 200);
	fr = ring_frame(_metadata, r, r->next + 1, &len, NULL);
	expect_raw(_metadata, self, fr, len, 1, 201);

	/* Read-only: the consumer index cannot be written. */
	sig = probe_byte((__u8 *)r->cons, true, NULL);
	EXPECT_EQ(SIGSEGV, sig) TH_LOG("write to a read-only ring: signal %d", sig);

	errno = 0;
	ASSERT_EQ(0, mprotect(r->map, r->size, PROT_READ | PROT_WRITE))
		TH_LOG("mprotect(PROT_READ | PROT_WRITE): %s", strerror(errno));
	TH_LOG("mprotect to PROT_READ | PROT_WRITE: allowed");
	EXPECT_EQ(0, probe_byte((__u8 *)r->flags, true, NULL));

	/* The kernel still holds both slots ... */
	ASSERT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_TRUE(pfd.revents & POLLIN);
	/* ... until they are released through the upgraded mapping. */
	prod = __atomic_load_n(r->prod, __ATOMIC_ACQUIRE);
	r->next = prod;
	ring_release(r);
	pfd.revents = 0;
	EXPECT_EQ(0, poll(&pfd, 1, 0)) TH_LOG("revents %#x", pfd.revents);
	vj_stats(_metadata, self->fd, &st);
	EXPECT_EQ(0U, st.rx_invalid_consumer);
	EXPECT_EQ(2U, st.rx_packets);

	/* Fill the whole ring: the released slots were really given back. */
	for (len = 0; len < r->off.nr_bufs; len++)
		send_raw(_metadata, self, 10 + len, 60, ETH_P_VJTEST);
	EXPECT_EQ(r->off.nr_bufs, ring_wait(r, r->off.nr_bufs));
	vj_stats(_metadata, self->fd, &st);
	EXPECT_EQ(0U, st.rx_ring_full);
	EXPECT_EQ(2U + r->off.nr_bufs, st.rx_packets);
	consume_raw(_metadata, self, 10, 60);
}

/*
 * Unmap single pages of mappings of a ring: the rest goes on working.
 * Pieces: without the first page, without a page in the middle of the
 * buffers, without the first page of the buffers, without the last page
 * (the last of the buffers: the consumer and flags words are before them).
 */
#define NR_PIECES	4

TEST_F_TIMEOUT(ring, partial_munmap, 60)
{
	struct vj_filter f = filter_ethertype(ETH_P_VJTEST);
	size_t ps = pagesz(), np, hole[NR_PIECES], checked[NR_PIECES] = { 0 };
	struct pollfd pfd = { .fd = self->fd, .events = POLLIN };
	const struct vj_ring_offsets *o = &self->r.off;
	struct ring *r = &self->r, r2;
	struct vj_statistics st;
	__u8 *m[NR_PIECES];
	unsigned long ino;
	__u32 i, n, len;
	int fd2, vmas = 1;
	__u64 bufs_end;
	const __u8 *fr;
	size_t a, j;

	setup_channel(_metadata, self);
	ASSERT_EQ(0, vj_filter(self->fd, VJ_ADD_FILTER, &f));
	ino = sock_ino(self->fd);
	np = r->size / ps;
	bufs_end = o->buffers + (__u64)o->nr_bufs * o->buf_size;
	hole[0] = 0;
	hole[1] = (o->buffers + bufs_end) / 2 / ps;
	hole[2] = o->buffers / ps;
	hole[3] = np - 1;
	TH_LOG("%zu pages; desc at %#llx, buffers %#llx..%#llx; holes %zu %zu %zu %zu", np,
	       (unsigned long long)o->desc, (unsigned long long)o->buffers,
	       (unsigned long long)bufs_end, hole[0], hole[1], hole[2], hole[3]);
	/* The middle hole is in the buffers, away from indexes and descriptors. */
	ASSERT_LE(o->buffers, hole[1] * ps);
	ASSERT_NE(hole[1], o->producer / ps);
	ASSERT_NE(hole[1], o->consumer / ps);
	ASSERT_NE(hole[1], o->flags / ps);
	ASSERT_TRUE(o->desc + (__u64)o->nr_slots * o->desc_size <= hole[1] * ps ||
		    o->desc >= (hole[1] + 1) * ps);
	/* The other holes in the buffers: their first page, and the last page. */
	ASSERT_EQ(0U, o->buffers % ps);
	ASSERT_NE(hole[1], hole[2]);
	ASSERT_LT(bufs_end - 1, (__u64)(hole[3] + 1) * ps);
	ASSERT_LE((__u64)hole[3] * ps, bufs_end - 1);
	for (j = 0; j < NR_PIECES; j++) {
		m[j] = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, 0);
		ASSERT_NE(MAP_FAILED, m[j]) TH_LOG("mmap: %s", strerror(errno));
		ASSERT_EQ(0, munmap(m[j] + hole[j] * ps, ps))
			TH_LOG("munmap page %zu: %s", hole[j], strerror(errno));
		EXPECT_EQ(SIGSEGV, probe_byte(m[j] + hole[j] * ps, false, NULL));
		vmas += (hole[j] == 0 || hole[j] == np - 1) ? 1 : 2;
	}
	EXPECT_EQ(vmas, maps_count(ino));

	/* Fill every buffer, then read each frame through every piece that has it. */
	n = o->nr_bufs;
	for (i = 0; i < n; i++)
		send_raw(_metadata, self, i, raw_len(i), ETH_P_VJTEST);
	ASSERT_EQ(n, ring_wait(r, n));
	for (i = 0; i < n; i++) {
		fr = ring_frame(_metadata, r, r->next + i, &len, NULL);
		expect_raw(_metadata, self, fr, len, i, raw_len(i));
		a = fr - r->map;
		for (j = 0; j < NR_PIECES; j++) {
			if (a / ps <= hole[j] && (a + len - 1) / ps >= hole[j])
				continue;
			EXPECT_EQ(0, memcmp(fr, m[j] + a, len)) TH_LOG("frame %u, piece %zu", i, j);
			checked[j]++;
		}
	}
	TH_LOG("frames read through the pieces: %zu %zu %zu %zu", checked[0], checked[1],
	       checked[2], checked[3]);
	/* Every buffer holds a frame: the holes in the buffers hid some. */
	EXPECT_EQ(n, checked[0]);
	EXPECT_GT(n, checked[1]);
	EXPECT_GT(n, checked[2]);
	EXPECT_GT(n, checked[3]);
	EXPECT_LT(0U, checked[1]);
	EXPECT_LT(0U, checked[2]);
	EXPECT_LT(0U, checked[3]);
	r->next += n;
	ring_release(r);

	/* Only pieces left: the kernel goes on publishing, a piece consumes. */
	EXPECT_EQ(0, munmap(r->map, r->size));
	r->map = NULL;
	EXPECT_EQ(vmas - 1, maps_count(ino));
	for (i = 0; i < 8; i++)
		send_raw(_metadata, self, n + i, 100 + i, ETH_P_VJTEST);
	EXPECT_EQ(n + 8, wait_stat(_metadata, self->fd, STAT(rx_packets), n + 8));
	r2 = *r;
	r2.map = m[1];
	r2.prod = (__u32 *)(m[1] + o->producer);
	r2.cons = (__u32 *)(m[1] + o->consumer);
	r2.flags = (__u32 *)(m[1] + o->flags);
	ASSERT_EQ(8U, ring_avail(&r2));
	for (i = 0; i < 8; i++) {
		fr = ring_frame(_metadata, &r2, r2.next, &len, NULL);
		a = fr - r2.map;
		if (!(a / ps <= hole[1] && (a + len - 1) / ps >= hole[1]))
			expect_raw(_metadata, self, fr, len, n + i, 100 + i);
		r2.next++;
	}
	ring_release(&r2);
	EXPECT_EQ(0, poll(&pfd, 1, 0)) TH_LOG("revents %#x", pfd.revents);
	vj_stats(_metadata, self->fd, &st);
	EXPECT_EQ(0U, st.rx_ring_full);
	EXPECT_EQ(0U, st.rx_invalid_consumer);

	/* Close, then unmap the pieces one by one: the last one frees the queue. */
	EXPECT_EQ(0, close(self->fd));
	self->fd = -1;
	for (j = 0; j < NR_PIECES; j++)
		EXPECT_EQ(0, munmap(m[j], np * ps));
	EXPECT_EQ(0, maps_count(ino));
	fd2 = vj_socket();
	ASSERT_LE(0, fd2);
	EXPECT_EQ(0, vj_bind(fd2, self->ifb, 0)) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(0, close(fd2));
}

/* Whether madvise() exists at all (it does nothing for length 0). */
static bool have_madvise(void)
{
	return madvise(NULL, 0, MADV_NORMAL) == 0;
}

/* MADV_DONTNEED on a mapping of the ring: the ring is not harmed. */
TEST_F(ring, madvise_dontneed)
{
	struct vj_filter f = filter_ethertype(ETH_P_VJTEST);
	struct vj_statistics st;
	struct ring *r = &self->r;
	__u8 *x, *y, v = 0;
	const __u8 *fr;
	size_t a;
	__u32 len;
	int ret, err, sig;

	setup_channel(_metadata, self);
	ASSERT_EQ(0, vj_filter(self->fd, VJ_ADD_FILTER, &f));
	send_raw(_metadata, self, 0, 700, ETH_P_VJTEST);
	ASSERT_EQ(1U, ring_wait(r, 1));
	fr = ring_frame(_metadata, r, r->next, &len, NULL);
	a = fr - r->map;

	x = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, x);
	ASSERT_EQ(0, memcmp(x + a, fr, len));

	errno = 0;
	ret = madvise(x, r->size, MADV_DONTNEED);
	err = errno;
	if (ret && !have_madvise()) {
		EXPECT_EQ(0, munmap(x, r->size));
		SKIP(return, "no madvise() in this kernel (CONFIG_ADVISE_SYSCALLS=n)");
	}
	TH_LOG("madvise(MADV_DONTNEED): %s", ret ? strerror(err) : "allowed");
	if (ret) {
		EXPECT_TRUE(err == EINVAL || err == EPERM) TH_LOG("errno %d", err);
		EXPECT_EQ(0, memcmp(x + a, fr, len));
	} else {
		/* Zapped: no fault handler brings the pages back. */
		sig = probe_byte(x + a, false, &v);
		TH_LOG("reading a zapped page: %s",
		       sig ? strsignal(sig) : "no signal");
		/* Either it faults, or it reads the ring (not some other page). */
		EXPECT_TRUE(sig ? sig == SIGBUS || sig == SIGSEGV : v == fr[0])
			TH_LOG("signal %d, byte %#x, ring byte %#x", sig, v, fr[0]);
		sig = probe_byte(x + r->off.producer, true, NULL);
		TH_LOG("writing a zapped page: %s", sig ? strsignal(sig) : "no signal");
		if (!sig)
			EXPECT_EQ(__atomic_load_n(r->prod, __ATOMIC_ACQUIRE),
				  *(__u32 *)(x + r->off.producer));
	}

	/* The kernel goes on delivering, into the same pages. */
	send_raw(_metadata, self, 1, 701, ETH_P_VJTEST);
	send_raw(_metadata, self, 2, 702, ETH_P_VJTEST);
	EXPECT_EQ(3U, wait_stat(_metadata, self->fd, STAT(rx_packets), 3));
	ASSERT_EQ(3U, ring_wait(r, 3));

	/* A fresh mapping shows them too. */
	y = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, y);
	EXPECT_EQ(*r->prod, *(__u32 *)(y + r->off.producer));
	EXPECT_EQ(0, memcmp(y, r->map, r->size));
	consume_raw(_metadata, self, 0, 700);
	consume_raw(_metadata, self, 1, 701);
	consume_raw(_metadata, self, 2, 702);
	EXPECT_EQ(0, munmap(x, r->size));
	EXPECT_EQ(0, munmap(y, r->size));
	vj_stats(_metadata, self->fd, &st);
	EXPECT_EQ(3U, st.rx_packets);
	EXPECT_EQ(0U, st.rx_invalid_consumer);
	EXPECT_EQ(0U, st.rx_ring_full);
}

/* Child of madvise_dofork: exit status bits. */
#define DOFORK_NO_MAP	1	/* the mapping was not inherited */
#define DOFORK_FRAMES	2	/* the frames sent later were not seen */
#define DOFORK_PIPE	4

static __noreturn void dofork_child(struct _test_data_ring *self, __u8 *map,
				    const int *to_child, const int *to_parent)
{
	int in = to_child[0], out = to_parent[1];
	const struct vj_ring_offsets *o = &self->r.off;
	__u32 *prod = (__u32 *)(map + o->producer);
	__u32 *cons = (__u32 *)(map + o->consumer);
	__u8 c = 0, exp[FRAME_MAX];
	__u32 p, i, first;
	struct vj_desc d;
	int bad = 0;

	/* The parent's ends: if it dies, read() below sees end of file. */
	close(to_child[1]);
	close(to_parent[0]);
	close(self->fd);
	close(self->pkt);
	if (probe_byte((__u8 *)prod, false, NULL))
		_exit(DOFORK_NO_MAP);
	p = __atomic_load_n(prod, __ATOMIC_ACQUIRE);
	if (write(out, &p, sizeof(p)) != sizeof(p) || read(in, &c, 1) != 1)
		_exit(DOFORK_PIPE);
	/* The parent has closed and unmapped, then sent 4 frames, seq 1..4. */
	first = p;
	for (i = 0; i < 200 && __atomic_load_n(prod, __ATOMIC_ACQUIRE) - first < 4; i++)
		usleep(10000);
	p = __atomic_load_n(prod, __ATOMIC_ACQUIRE);
	if (p - first != 4)
		bad |= DOFORK_FRAMES;
	for (i = first; i != p && !bad; i++) {
		memcpy(&d, map + o->desc + (size_t)(i & (o->nr_slots - 1)) * o->desc_size,
		       sizeof(d));
		build_raw(self, exp, 400 + (i - first), 1 + (i - first), ETH_P_VJTEST);
		if (d.addr + d.len > o->mmap_size || d.len != 400 + (i - first) ||
		    memcmp(map + d.addr, exp, d.len))
			bad |= DOFORK_FRAMES;
	}
	__atomic_store_n(cons, p, __ATOMIC_RELEASE);
	_exit(bad);
}

/* MADV_DOFORK on a VM_DONTCOPY ring mapping. */
TEST_F(ring, madvise_dofork)
{
	struct vj_filter f = filter_ethertype(ETH_P_VJTEST);
	int ret, err, status, to_child[2], to_parent[2], fd2;
	struct ring *r = &self->r;
	unsigned long ino;
	__u32 prod, i;
	pid_t pid;
	__u8 c = 1;

	setup_channel(_metadata, self);
	ASSERT_EQ(0, vj_filter(self->fd, VJ_ADD_FILTER, &f));
	ino = sock_ino(self->fd);
	send_raw(_metadata, self, 0, 300, ETH_P_VJTEST);
	ASSERT_EQ(1U, ring_wait(r, 1));
	prod = __atomic_load_n(r->prod, __ATOMIC_ACQUIRE);

	errno = 0;
	ret = madvise(r->map, r->size, MADV_DOFORK);
	err = errno;
	if (ret && !have_madvise())
		SKIP(return, "no madvise() in this kernel (CONFIG_ADVISE_SYSCALLS=n)");
	TH_LOG("madvise(MADV_DOFORK): %s", ret ? strerror(err) : "allowed");
	if (ret) {
		EXPECT_EQ(EINVAL, err);
		consume_raw(_metadata, self, 0, 300);
		return;
	}

	ASSERT_EQ(0, pipe(to_child));
	ASSERT_EQ(0, pipe(to_parent));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		dofork_child(self, r->map, to_child, to_parent);
	close(to_child[0]);
	close(to_parent[1]);

	/* The child maps the same ring. */
	{
		__u32 cp = 0;

		if (read(to_parent[0], &cp, sizeof(cp)) != sizeof(cp)) {
			ASSERT_EQ(pid, waitpid(pid, &status, 0));
			ASSERT_TRUE(false) TH_LOG("the child exited with %#x before reporting",
						  status);
		}
		EXPECT_EQ(prod, cp);
	}
	/* The parent lets go of everything; the child's mapping keeps the channel. */
	EXPECT_EQ(0, munmap(r->map, r->size));
	r->map = NULL;
	EXPECT_EQ(0, close(self->fd));
	self->fd = -1;
	EXPECT_EQ(0, maps_count(ino));
	fd2 = vj_socket();
	ASSERT_LE(0, fd2);
	errno = 0;
	EXPECT_EQ(-1, vj_bind(fd2, self->ifb, 0));
	EXPECT_EQ(EBUSY, errno) TH_LOG("the queue is free while the child maps the ring");
	for (i = 1; i <= 4; i++)
		send_raw(_metadata, self, i, 400 + i - 1, ETH_P_VJTEST);
	ASSERT_EQ(1, write(to_child[1], &c, 1));

	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status)) TH_LOG("child status %#x", status);
	EXPECT_EQ(0, WEXITSTATUS(status))
		TH_LOG("child: %s%s%s", WEXITSTATUS(status) & DOFORK_NO_MAP ? "no mapping " : "",
		       WEXITSTATUS(status) & DOFORK_FRAMES ? "frames missing or wrong " : "",
		       WEXITSTATUS(status) & DOFORK_PIPE ? "pipe" : "");
	close(to_child[1]);
	close(to_parent[0]);

	/* The last mapping went with the child: the queue is free. */
	EXPECT_EQ(0, vj_bind(fd2, self->ifb, 0)) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(0, close(fd2));
}

/* Frames of every length from an Ethernet header alone to a 64 KiB MTU. */
TEST_F_TIMEOUT(ring, frame_lengths_jumbo_mtu, 60)
{
	struct vj_filter f = filter_ethertype(ETH_P_VJTEST);
	size_t want[8], nwant = 0, bad[8], nbad = 0, max, i, big = 65535 + ETH_HLEN;
	struct vj_statistics st;
	__u8 *buf, *exp;
	__u32 len, seq = 0;
	const __u8 *fr;

	setup_channel(_metadata, self);
	ASSERT_EQ(0, vj_filter(self->fd, VJ_ADD_FILTER, &f));
	max = self->r.off.frame_max;
	buf = malloc(big);
	exp = malloc(big);
	ASSERT_NE(NULL, buf);
	ASSERT_NE(NULL, exp);
	ASSERT_LT(max + 1, 9000U);
	ASSERT_EQ(0, run("ip link set dev " DEV_A " mtu 9000 && ip link set dev " DEV_B
			 " mtu 9000"));
	want[nwant++] = ETH_HLEN;
	want[nwant++] = 60;
	want[nwant++] = max;
	bad[nbad++] = max + 1;
	bad[nbad++] = 9000;
	bad[nbad++] = 9000 + ETH_HLEN;
	if (!run("ip link set dev " DEV_A " mtu 65535 && ip link set dev " DEV_B
		 " mtu 65535")) {
		bad[nbad++] = 65535;
		bad[nbad++] = 65535 + ETH_HLEN;
	} else {
		TH_LOG("MTU 65535 refused: 64 KiB frames not sent");
	}

	/* Interleaved: short, too long, short, ... */
	for (i = 0; i < nwant || i < nbad; i++) {
		if (i < nwant) {
			build_raw(self, buf, want[i], seq++, ETH_P_VJTEST);
			send_frame(_metadata, self, buf, want[i]);
		}
		if (i < nbad) {
			build_raw(self, buf, bad[i], seq++, ETH_P_VJTEST);
			send_frame(_metadata, self, buf, bad[i]);
		}
	}
	TH_LOG("sent %zu frames of at most %zu bytes, %zu longer (up to %zu bytes)", nwant,
	       max, nbad, bad[nbad - 1]);
	EXPECT_EQ(nbad, wait_stat(_metadata, self->fd, STAT(rx_bad_length), nbad));
	ASSERT_EQ(nwant, ring_wait(&self->r, nwant));
	usleep(10000);
	EXPECT_EQ(nwant, ring_avail(&self->r));
	for (i = 0; i < nwant; i++) {
		fr = ring_frame(_metadata, &self->r, self->r.next, &len, NULL);
		ASSERT_EQ(want[i], len) TH_LOG("frame %zu", i);
		/* want[i] was sent as seq 2 * i */
		build_raw(self, exp, want[i], 2 * i, ETH_P_VJTEST);
		EXPECT_EQ(0, memcmp(exp, fr, len)) TH_LOG("frame of %zu bytes differs", want[i]);
		self->r.next++;
	}
	ring_release(&self->r);
	vj_stats(_metadata, self->fd, &st);
	EXPECT_EQ(nwant, st.rx_packets);
	EXPECT_EQ(ETH_HLEN + 60 + max, st.rx_bytes);
	EXPECT_EQ(nbad, st.rx_bad_length);
	EXPECT_EQ(0U, st.rx_stack);
	EXPECT_EQ(0U, st.rx_ring_full);
	free(buf);
	free(exp);
}

/* ------------------------------------------------------------------ */
/* Several CPUs producing into one channel                             */

#define MP_MAX_THREADS	4
#define MP_FRAMES	3000

struct mp_shared {
	__u32 window;		/* at most this many frames in flight */
	__u64 reserved;		/* frames the senders are about to send */
	__u64 consumed;		/* frames the consumer has released */
	int stop;
};

struct mp_sender {
	struct _test_data_ring *self;
	struct mp_shared *sh;
	pthread_t thread;
	int id, cpu, fd;
	__u32 sent;
	unsigned int off_cpu;	/* times it was found on another CPU */
	int err;
};

static size_t mp_len(int id, __u32 seq)
{
	return 60 + (seq * 13u + id * 101u) % 400;
}

/* Ethernet header, id (1 byte), seq (be32), pattern. */
static size_t mp_build(struct _test_data_ring *self, __u8 *buf, int id, __u32 seq)
{
	size_t len = mp_len(id, seq), i;

	put_eth(self, buf, ETH_P_VJTEST);
	buf[14] = id;
	buf[15] = seq >> 24;
	buf[16] = seq >> 16;
	buf[17] = seq >> 8;
	buf[18] = seq;
	for (i = 19; i < len; i++)
		buf[i] = pattern(seq ^ ((__u32)id << 24), i);
	return len;
}

static void *mp_sender_fn(void *arg)
{
	struct mp_sender *s = arg;
	__u64 end = now_ns() + FLOOD_MAX_MS * 1000000ULL;
	cpu_set_t set;
	__u8 buf[FRAME_MAX];
	size_t len;

	CPU_ZERO(&set);
	CPU_SET(s->cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set)) {
		s->err = errno;
		return NULL;
	}
	while (s->sent < MP_FRAMES && !__atomic_load_n(&s->sh->stop, __ATOMIC_ACQUIRE)) {
		if (now_ns() > end) {
			s->err = ETIMEDOUT;
			break;
		}
		if (__atomic_load_n(&s->sh->reserved, __ATOMIC_ACQUIRE) -
		    __atomic_load_n(&s->sh->consumed, __ATOMIC_ACQUIRE) >= s->sh->window) {
			usleep(50);
			continue;
		}
		__atomic_fetch_add(&s->sh->reserved, 1, __ATOMIC_ACQ_REL);
		len = mp_build(s->self, buf, s->id, s->sent);
		while (send(s->fd, buf, len, 0) != (ssize_t)len) {
			if (errno != EAGAIN && errno != ENOBUFS && errno != EINTR) {
				s->err = errno;
				return NULL;
			}
			usleep(100);
		}
		s->sent++;
		if (sched_getcpu() != s->cpu)
			s->off_cpu++;
	}
	return NULL;
}

TEST_F_TIMEOUT(ring, multi_cpu_producers, 120)
{
	struct vj_filter f = filter_ethertype(ETH_P_VJTEST);
	struct mp_sender s[MP_MAX_THREADS];
	__u32 next[MP_MAX_THREADS] = { 0 };
	struct mp_shared sh = { 0 };
	struct ring *r = &self->r;
	__u64 total, got = 0, idle_since;
	struct vj_statistics st;
	__u8 exp[FRAME_MAX];
	int cpus[MP_MAX_THREADS], ncpu = 0, c, i;
	cpu_set_t set;

	ASSERT_EQ(0, sched_getaffinity(0, sizeof(set), &set));
	for (c = 0; c < CPU_SETSIZE && ncpu < MP_MAX_THREADS; c++)
		if (CPU_ISSET(c, &set))
			cpus[ncpu++] = c;
	if (ncpu < 2)
		SKIP(return, "only one CPU");

	setup_channel(_metadata, self);
	ASSERT_EQ(0, vj_filter(self->fd, VJ_ADD_FILTER, &f));
	sh.window = r->off.nr_bufs / 2;
	total = (__u64)ncpu * MP_FRAMES;
	memset(s, 0, sizeof(s));
	for (i = 0; i < ncpu; i++) {
		s[i].self = self;
		s[i].sh = &sh;
		s[i].id = i;
		s[i].cpu = cpus[i];
		s[i].fd = packet_socket(self->ifa, 0);
		ASSERT_LE(0, s[i].fd) TH_LOG("AF_PACKET: %s", strerror(errno));
	}
	for (i = 0; i < ncpu; i++)
		ASSERT_EQ(0, pthread_create(&s[i].thread, NULL, mp_sender_fn, &s[i]));

	idle_since = now_ns();
	while (got < total && now_ns() - idle_since < 5000000000ULL) {
		__u32 prod = __atomic_load_n(r->prod, __ATOMIC_ACQUIRE), len, seq;
		const __u8 *fr;
		int id;

		if (prod == r->next) {
			usleep(50);
			continue;
		}
		ASSERT_GE(r->off.nr_bufs, prod - r->next);
		while (r->next != prod) {
			fr = ring_frame(_metadata, r, r->next, &len, NULL);
			ASSERT_LE(19U, len);
			id = fr[14];
			ASSERT_GT(ncpu, id) TH_LOG("frame of unknown sender %d", id);
			seq = (__u32)fr[15] << 24 | fr[16] << 16 | fr[17] << 8 | fr[18];
			ASSERT_EQ(next[id], seq) TH_LOG("sender %d: seq %u after %u", id, seq,
							next[id] - 1);
			ASSERT_EQ(mp_len(id, seq), len);
			mp_build(self, exp, id, seq);
			ASSERT_EQ(0, memcmp(exp, fr, len)) TH_LOG("sender %d seq %u", id, seq);
			next[id]++;
			r->next++;
			got++;
		}
		ring_release(r);
		__atomic_store_n(&sh.consumed, got, __ATOMIC_RELEASE);
		idle_since = now_ns();
	}
	__atomic_store_n(&sh.stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < ncpu; i++) {
		pthread_join(s[i].thread, NULL);
		close(s[i].fd);
		EXPECT_EQ(0, s[i].err) TH_LOG("sender %d: %s", i, strerror(s[i].err));
		EXPECT_EQ((__u32)MP_FRAMES, s[i].sent) TH_LOG("sender %d", i);
		EXPECT_EQ((__u32)MP_FRAMES, next[i]) TH_LOG("sender %d", i);
		EXPECT_EQ(0U, s[i].off_cpu) TH_LOG("sender %d left CPU %d", i, s[i].cpu);
	}
	TH_LOG("%d senders on CPUs %d..%d, %llu frames", ncpu, cpus[0], cpus[ncpu - 1],
	       (unsigned long long)got);
	EXPECT_EQ(total, got);
	vj_stats(_metadata, self->fd, &st);
	EXPECT_EQ(total, st.rx_packets);
	EXPECT_EQ(0U, st.rx_ring_full);
	EXPECT_EQ(got + st.rx_ring_full, total);
	EXPECT_EQ(0U, st.rx_bad_length);
	EXPECT_EQ(0U, st.rx_invalid_consumer);
}

/* ------------------------------------------------------------------ */
/* User namespaces                                                     */

#define USERNS_SKIP	100	/* exit status: no unprivileged user namespaces */

/* Become uid/gid 65534 with no capabilities, then unshare @flags and map 0. */
static int userns_enter(int flags)
{
	char map[64];

	if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) ||
	    setresuid(65534, 65534, 65534))
		return 10;
	if (have_effective_cap(CAP_NET_ADMIN) || have_effective_cap(CAP_NET_RAW) ||
	    have_effective_cap(CAP_SYS_ADMIN))
		return 11;
	/* setresuid() made us undumpable: /proc/self/ would belong to root. */
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	if (unshare(CLONE_NEWUSER | flags))
		return (errno == EPERM || errno == EINVAL || errno == ENOSPC ||
			errno == EUSERS || errno == EACCES) ? USERNS_SKIP : 12;
	snprintf(map, sizeof(map), "0 %d 1", 65534);
	if (write_file("/proc/self/setgroups", "deny") ||
	    write_file("/proc/self/uid_map", map) ||
	    write_file("/proc/self/gid_map", map))
		return 13;
	if (!have_effective_cap(CAP_NET_ADMIN))
		return 14;
	return 0;
}

static void userns_wait(struct __test_metadata *_metadata, pid_t pid, const char *what)
{
	int status;

	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status)) TH_LOG("child status %#x", status);
	if (WEXITSTATUS(status) == USERNS_SKIP)
		SKIP(return, "unprivileged user namespaces not available");
	EXPECT_EQ(0, WEXITSTATUS(status))
		TH_LOG("%s: child failed at step %d", what, WEXITSTATUS(status));
}

/* An unprivileged user in a user + network namespace of its own may bind. */
TEST_F(ring, userns_own_netns_bind)
{
	pid_t pid;

	if (getuid() != 0)
		SKIP(return, "not root");
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct vj_filter f = filter_ethertype(ETH_P_VJTEST);
		int ret = userns_enter(CLONE_NEWNET), fd, fd2, pkt, i;
		struct vj_ring_offsets o;
		__u32 b0, a0, first, *prod;
		__u8 frame[60] = { 0 };
		void *p;

		if (ret)
			_exit(ret);
		if (run("ip link add a0 type veth peer name b0 >/dev/null 2>&1"))
			_exit(20);
		if (run("ip link set a0 up && ip link set b0 up"))
			_exit(20);
		b0 = if_nametoindex("b0");
		a0 = if_nametoindex("a0");
		if (!b0 || !a0)
			_exit(21);
		fd = vj_socket();
		if (fd < 0)
			_exit(22);
		if (vj_bind(fd, b0, 0))
			_exit(23);
		if (vj_offsets(fd, &o))
			_exit(24);
		p = mmap(NULL, o.mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			_exit(25);
		/* And it receives: a broadcast frame sent on a0. */
		if (vj_filter(fd, VJ_ADD_FILTER, &f))
			_exit(40);
		pkt = packet_socket(a0, 0);
		if (pkt < 0)
			_exit(41);
		memset(frame, 0xff, ETH_ALEN);
		memset(frame + ETH_ALEN, 0x02, ETH_ALEN);
		frame[12] = ETH_P_VJTEST >> 8;
		frame[13] = ETH_P_VJTEST & 0xff;
		prod = (__u32 *)((__u8 *)p + o.producer);
		first = __atomic_load_n(prod, __ATOMIC_ACQUIRE);
		if (send(pkt, frame, sizeof(frame), 0) != (ssize_t)sizeof(frame))
			_exit(42);
		for (i = 0; i < 200 && __atomic_load_n(prod, __ATOMIC_ACQUIRE) == first; i++)
			usleep(10000);
		if (__atomic_load_n(prod, __ATOMIC_ACQUIRE) != first + 1)
			_exit(43);
		/* The capability that counts is CAP_NET_ADMIN in this namespace. */
		fd2 = vj_socket();
		if (fd2 < 0 || set_effective_cap(0, CAP_NET_ADMIN))
			_exit(26);
		errno = 0;
		if (vj_bind(fd2, a0, 0) != -1 || errno != EPERM)
			_exit(27);
		if (set_effective_cap(1, CAP_NET_ADMIN) || vj_bind(fd2, a0, 0))
			_exit(28);
		_exit(0);
	}
	userns_wait(_metadata, pid, "own netns");
}

/* A user namespace of its own gives no right to bind a device of a netns it does not own. */
TEST_F(ring, userns_foreign_netns_bind_eperm)
{
	pid_t pid;

	if (getuid() != 0)
		SKIP(return, "not root");
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int ret = userns_enter(0), fd;

		if (ret)
			_exit(ret);
		/* Creating a socket needs nothing. */
		fd = vj_socket();
		if (fd < 0)
			_exit(30);
		errno = 0;
		if (vj_bind(fd, self->ifb, 0) != -1 || errno != EPERM)
			_exit(31);
		/* Nor does a socket root created help. */
		errno = 0;
		if (vj_bind(self->fd, self->ifb, 0) != -1 || errno != EPERM)
			_exit(32);
		_exit(0);
	}
	userns_wait(_metadata, pid, "foreign netns");
	/* Nothing was bound: the queue is free. */
	vj_bind_b(_metadata, self);
}

/* ------------------------------------------------------------------ */
/* Lost wakeups: edge-triggered epoll against bursts                   */

#define LW_FRAMES	20000
#define LW_MIN_FRAMES	2000		/* a slow (debug) kernel sends at least this */
#define LW_BUDGET_MS	30000		/* the sender stops after this, done or not */
#define LW_WAIT_MS	5000

struct lw_sender {
	struct _test_data_ring *self;
	pthread_t thread;
	unsigned int seed;
	__u32 window;
	__u64 sent;
	__u64 consumed;		/* written by the consumer */
	int stop;
	int done;		/* the sender sent its last frame */
	int efd;		/* an eventfd it signals then, for the consumer's epoll */
	int err;
};

static void *lw_sender_fn(void *arg)
{
	struct lw_sender *s = arg;
	__u64 end = now_ns() + LW_BUDGET_MS * 1000000ULL;
	__u8 buf[FRAME_MAX];
	__u32 burst, k;
	size_t len;

	while (s->sent < LW_FRAMES && !__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		if (now_ns() > end)
			break;
		burst = 1 + rand_r(&s->seed) % 64;
		for (k = 0; k < burst && s->sent < LW_FRAMES; k++) {
			/* Never more than the window in flight: nothing drops. */
			while (s->sent - __atomic_load_n(&s->consumed, __ATOMIC_ACQUIRE) >=
			       s->window) {
				if (__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE))
					return NULL;
				usleep(20);
			}
			len = build_raw(s->self, buf, 60 + s->sent % 200, s->sent, ETH_P_VJTEST);
			if (send(s->self->pkt, buf, len, 0) != (ssize_t)len) {
				if (errno == EAGAIN || errno == ENOBUFS || errno == EINTR) {
					usleep(100);
					k--;
					continue;
				}
				s->err = errno;
				return NULL;
			}
			__atomic_store_n(&s->sent, s->sent + 1, __ATOMIC_RELEASE);
		}
		switch (rand_r(&s->seed) % 4) {
		case 0:
			break;
		case 1:
			sched_yield();
			break;
		case 2:
			usleep(rand_r(&s->seed) % 50);
			break;
		default:
			usleep(rand_r(&s->seed) % 2000);
			break;
		}
	}
	__atomic_store_n(&s->done, 1, __ATOMIC_RELEASE);
	if (eventfd_write(s->efd, 1))
		s->err = errno;
	return NULL;
}

TEST_F_TIMEOUT(ring, epoll_et_lost_wakeup_stress, 180)
{
	struct vj_filter f = filter_ethertype(ETH_P_VJTEST);
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET };
	struct lw_sender s = { 0 };
	__u64 got = 0, sleeps = 0, empty_wakeups = 0, timeouts = 0, max_wait = 0, t0, dt;
	struct ring *r = &self->r;
	struct vj_statistics st;
	int ep, n;

	setup_channel(_metadata, self);
	ASSERT_EQ(0, vj_filter(self->fd, VJ_ADD_FILTER, &f));
	ep = epoll_create1(0);
	ASSERT_LE(0, ep);
	ev.data.fd = self->fd;
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, self->fd, &ev));
	s.efd = eventfd(0, EFD_NONBLOCK);
	ASSERT_LE(0, s.efd);
	ev.events = EPOLLIN;
	ev.data.fd = s.efd;
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, s.efd, &ev));

	s.self = self;
	s.seed = (unsigned int)now_ns();
	s.window = r->off.nr_bufs - 8;
	TH_LOG("seed %u", s.seed);
	ASSERT_EQ(0, pthread_create(&s.thread, NULL, lw_sender_fn, &s));

	/* Until the sender is done and everything it sent is consumed. */
	while (!__atomic_load_n(&s.done, __ATOMIC_ACQUIRE) ||
	       got < __atomic_load_n(&s.sent, __ATOMIC_ACQUIRE)) {
		__u32 prod = __atomic_load_n(r->prod, __ATOMIC_ACQUIRE), len;
		const __u8 *fr;

		if (prod != r->next) {
			ASSERT_GE(r->off.nr_bufs, prod - r->next);
			while (r->next != prod) {
				fr = ring_frame(_metadata, r, r->next, &len, NULL);
				ASSERT_EQ(got, raw_seq(fr, len)) TH_LOG("frame lost or reordered");
				expect_raw(_metadata, self, fr, len, got, 60 + got % 200);
				r->next++;
				got++;
			}
			ring_release(r);
			__atomic_store_n(&s.consumed, got, __ATOMIC_RELEASE);
			continue;
		}
		/* Empty: the documented way to sleep. */
		__atomic_store_n(r->flags, VJ_RING_NEED_WAKEUP, __ATOMIC_RELAXED);
		__sync_synchronize();
		if (__atomic_load_n(r->prod, __ATOMIC_ACQUIRE) != r->next) {
			__atomic_store_n(r->flags, 0, __ATOMIC_RELAXED);
			continue;
		}
		sleeps++;
		t0 = now_ns();
		n = epoll_wait(ep, &ev, 1, LW_WAIT_MS);
		dt = now_ns() - t0;
		__atomic_store_n(r->flags, 0, __ATOMIC_RELAXED);
		ASSERT_LE(0, n) TH_LOG("epoll_wait: %s", strerror(errno));
		if (dt > max_wait)
			max_wait = dt;
		if (n == 0) {
			__u64 sent = __atomic_load_n(&s.sent, __ATOMIC_ACQUIRE);

			timeouts++;
			vj_stats(_metadata, self->fd, &st);
			/* Frames were outstanding, and no wakeup came for 5 s. */
			ASSERT_GE(got + st.rx_ring_full, sent)
				TH_LOG("lost wakeup: sent %llu, got %llu, producer %u, next %u",
				       (unsigned long long)sent, (unsigned long long)got,
				       __atomic_load_n(r->prod, __ATOMIC_ACQUIRE), r->next);
			ASSERT_EQ(0, s.err) TH_LOG("sender: %s", strerror(s.err));
		} else if (ev.data.fd == self->fd &&
			   __atomic_load_n(r->prod, __ATOMIC_ACQUIRE) == r->next) {
			empty_wakeups++;
		}
	}
	__atomic_store_n(&s.stop, 1, __ATOMIC_RELEASE);
	pthread_join(s.thread, NULL);
	close(ep);
	close(s.efd);
	EXPECT_EQ(0, s.err) TH_LOG("sender: %s", strerror(s.err));
	vj_stats(_metadata, self->fd, &st);
	TH_LOG("%llu frames, %llu sleeps, %llu wakeups (%llu empty), %llu timeouts, %llu us max",
	       (unsigned long long)got, (unsigned long long)sleeps,
	       (unsigned long long)st.rx_wakeups, (unsigned long long)empty_wakeups,
	       (unsigned long long)timeouts, (unsigned long long)(max_wait / 1000));
	/* The sender never pauses for long unless the consumer is behind. */
	EXPECT_EQ(0U, timeouts);
	if (s.sent < LW_FRAMES)
		TH_LOG("slow kernel: the sender stopped after %u ms", LW_BUDGET_MS);
	EXPECT_LE((__u64)LW_MIN_FRAMES, s.sent);
	EXPECT_EQ(s.sent, got);
	EXPECT_EQ(s.sent, st.rx_packets);
	EXPECT_EQ(0U, st.rx_ring_full);
	EXPECT_EQ(0U, st.rx_invalid_consumer);
	EXPECT_LT(0U, sleeps);
	EXPECT_LT(0U, st.rx_wakeups);
	EXPECT_LE(st.rx_wakeups, sleeps + s.sent);
}

TEST_HARNESS_MAIN
