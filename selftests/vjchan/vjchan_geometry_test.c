// SPDX-License-Identifier: GPL-2.0
/*
 * PF_VJCHAN ring geometry: VJ_RING_SETUP and what VJ_RING_OFFSETS says of
 * it, the refusals (EINVAL, EBUSY, EMSGSIZE at bind), rings of several
 * geometries receiving byte-exact frames and filling at exactly nr_bufs
 * frames, and the descriptor flags (VJ_DESC_F_TSTAMP, VJ_DESC_F_CSUM_OK,
 * VJ_DESC_F_RXHASH).
 *
 * Every test runs in a network namespace of its own with a veth pair
 * vga <-> vgb (one queue each).  Frames are sent by an AF_PACKET socket on
 * vga, or by a UDP socket routed out of vga (vgb has no address: a static
 * neighbour entry sends 10.98.0.2 to its MAC address); the channel binds
 * queue 0 of vgb.  Where a check depends on the page size, the sizes are
 * taken from sysconf(), not assumed.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/types.h>
#include <linux/vjchan.h>

#include "../../kselftest_harness.h"
#include "vjchan_lib.h"

#define DEV_A		"vga"
#define DEV_B		"vgb"
#define ADDR_A		"10.98.0.1"
#define ADDR_B		"10.98.0.2"	/* not configured: a neighbour of vga */
#define ETH_P_GEO	0x88b5		/* IEEE local experimental 1 */
#define PORT_CH		7100
#define WAIT_MS		2000
#define FRAME_BUF	65536
#define LL_OVERHEAD	(ETH_HLEN + 4)	/* what bind adds to the MTU: header, VLAN tag */

FIXTURE(geo)
{
	int fd;			/* the channel socket, unbound */
	int pkt;		/* AF_PACKET socket bound to vga */
	int ifa, ifb;
	__u8 mac_a[ETH_ALEN], mac_b[ETH_ALEN];
	struct vj_ring r;
	__u8 *buf;		/* FRAME_BUF bytes */
};

/* ------------------------------------------------------------------ */
/* Helpers that do not report.                                         */

static size_t pagesz(void)
{
	return sysconf(_SC_PAGESIZE);
}

static int vj_socket(void)
{
	return socket(PF_VJCHAN, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, VJ_PROTO_DEFAULT);
}

/* VJ_RING_SETUP; 0 or -1 with errno. */
static int ring_setup(int fd, __u64 size, __u32 nr_slots, __u32 buf_size, __u32 flags)
{
	struct vj_ring_setup rs = {
		.size = size,
		.nr_slots = nr_slots,
		.buf_size = buf_size,
		.flags = flags,
	};

	return setsockopt(fd, SOL_VJCHAN, VJ_RING_SETUP, &rs, sizeof(rs));
}

/* VJ_RING_OFFSETS of the right size; 0 or -1 with errno. */
static int offsets(int fd, struct vj_ring_offsets *o)
{
	socklen_t len = sizeof(*o);

	memset(o, 0, sizeof(*o));
	if (getsockopt(fd, SOL_VJCHAN, VJ_RING_OFFSETS, o, &len))
		return -1;
	if (len != sizeof(*o)) {
		errno = EPROTO;
		return -1;
	}
	return 0;
}

static int bind_b(struct _test_data_geo *self, int fd)
{
	return vj_bind_queue(fd, self->ifb, 0);
}

static int set_mtu_both(int mtu)
{
	return run("ip link set dev " DEV_A " mtu %d && ip link set dev " DEV_B " mtu %d",
		   mtu, mtu);
}

static __u8 pattern(__u32 seq, size_t i)
{
	return (__u8)(seq * 31 + i * 7 + (i >> 8));
}

/* A raw frame from vga to vgb: EtherType ETH_P_GEO, seq, then a pattern. */
static size_t build_raw(struct _test_data_geo *self, __u8 *f, size_t len, __u32 seq)
{
	size_t i;

	memcpy(f, self->mac_b, ETH_ALEN);
	memcpy(f + ETH_ALEN, self->mac_a, ETH_ALEN);
	f[12] = ETH_P_GEO >> 8;
	f[13] = ETH_P_GEO & 0xff;
	f[14] = seq >> 24;
	f[15] = seq >> 16;
	f[16] = seq >> 8;
	f[17] = seq;
	for (i = 18; i < len; i++)
		f[i] = pattern(seq, i);
	return len;
}

/* Sends raw frame @seq of @len bytes on vga; 0, or -1 with errno. */
static int send_raw(struct _test_data_geo *self, __u32 seq, size_t len)
{
	struct pollfd pfd = { .fd = self->pkt, .events = POLLOUT };
	__u64 end = now_ns() + WAIT_MS * 1000000ULL;
	ssize_t n;

	build_raw(self, self->buf, len, seq);
	for (;;) {
		n = send(self->pkt, self->buf, len, 0);
		if (n == (ssize_t)len)
			return 0;
		if (n >= 0) {
			errno = EMSGSIZE;
			return -1;
		}
		if ((errno != ENOBUFS && errno != EAGAIN && errno != EINTR) || now_ns() > end)
			return -1;
		poll(&pfd, 1, 10);
	}
}

/*
 * Sends raw frames @seq .. @seq + @n - 1 on vga, frame s of 60 + s % 64
 * bytes, in batches of sendmmsg(2) (a fill of 32000 frames is 500 calls,
 * not 32000: the debug kernel runs this under TCG); 0, or -1 with errno.
 */
#define BATCH		64
#define SHORT_LEN(s)	(60 + (s) % 64)

static int send_raw_many(struct _test_data_geo *self, __u32 seq, __u32 n)
{
	struct pollfd pfd = { .fd = self->pkt, .events = POLLOUT };
	__u64 end = now_ns() + 10 * WAIT_MS * 1000000ULL;
	struct mmsghdr msg[BATCH];
	struct iovec iov[BATCH];
	__u32 done = 0, k, i;
	int ret;

	while (done < n) {
		k = n - done < BATCH ? n - done : BATCH;
		memset(msg, 0, sizeof(msg));
		for (i = 0; i < k; i++) {
			iov[i].iov_base = self->buf + (size_t)i * 128;
			iov[i].iov_len = build_raw(self, iov[i].iov_base,
						   SHORT_LEN(seq + done + i), seq + done + i);
			msg[i].msg_hdr.msg_iov = &iov[i];
			msg[i].msg_hdr.msg_iovlen = 1;
		}
		ret = sendmmsg(self->pkt, msg, k, 0);
		if (ret > 0) {
			for (i = 0; i < (__u32)ret; i++)
				if (msg[i].msg_len != iov[i].iov_len) {
					errno = EMSGSIZE;
					return -1;
				}
			done += ret;
			continue;
		}
		if (ret == 0 || (errno != ENOBUFS && errno != EAGAIN && errno != EINTR) ||
		    now_ns() > end)
			return -1;
		poll(&pfd, 1, 10);
	}
	return 0;
}

static __u64 stat_ring_full(int fd)
{
	struct vj_statistics st;

	if (vj_read_stats(fd, &st))
		return ~0ULL;
	return st.rx_ring_full;
}

/* Waits up to WAIT_MS for rx_ring_full to reach @want; returns the last value. */
static __u64 wait_ring_full(int fd, __u64 want)
{
	__u64 end = now_ns() + WAIT_MS * 1000000ULL, v;

	while ((v = stat_ring_full(fd)) < want && now_ns() < end)
		usleep(1000);
	return v;
}

/* The descriptor of ring index @idx. */
static struct vj_desc desc_of(const struct vj_ring *r, __u32 idx)
{
	const struct vj_ring_offsets *o = &r->off;
	struct vj_desc d;

	memcpy(&d, r->map + o->desc + (size_t)(idx & (o->nr_slots - 1)) * o->desc_size,
	       sizeof(d));
	return d;
}

/* ------------------------------------------------------------------ */
/* Checks that report.                                                 */

/*
 * @o is a layout the uapi header allows (vj_ring_layout_ok()), of
 * @nr_slots slots and buffers of @buf_size (each 0: not checked).
 */
static void expect_layout(struct __test_metadata *_metadata, const struct vj_ring_offsets *o,
			  __u32 nr_slots, __u32 buf_size)
{
	TH_LOG("mmap_size %llu, nr_slots %u, nr_bufs %u, buf_size %u, frame_max %u",
	       (unsigned long long)o->mmap_size, o->nr_slots, o->nr_bufs, o->buf_size,
	       o->frame_max);
	TH_LOG("desc %#llx, consumer %#llx, flags %#llx, buffers %#llx",
	       (unsigned long long)o->desc, (unsigned long long)o->consumer,
	       (unsigned long long)o->flags, (unsigned long long)o->buffers);
	EXPECT_TRUE(vj_ring_layout_ok(o, pagesz()));
	EXPECT_EQ(o->buf_size - o->headroom, o->frame_max);
	EXPECT_LE(o->nr_bufs, o->nr_slots);
	EXPECT_LE((__u32)VJ_RING_SLOTS_MIN, o->nr_bufs);
	/* Every buffer that fits is used: what is left is less than one. */
	EXPECT_LE(o->buffers + (__u64)o->nr_bufs * o->buf_size, o->mmap_size);
	EXPECT_LT(o->mmap_size - o->buffers - (__u64)o->nr_bufs * o->buf_size,
		  (__u64)o->buf_size + pagesz());
	EXPECT_EQ(0U, o->reserved[0]);
	EXPECT_EQ(0U, o->reserved[1]);
	if (nr_slots)
		EXPECT_EQ(nr_slots, o->nr_slots);
	if (buf_size)
		EXPECT_EQ(buf_size, o->buf_size);
}

/*
 * Consumes the next frame of the ring and checks it is raw frame @seq of
 * @len bytes, byte for byte, with descriptor flags @flags and the fields
 * of flags that are clear 0.  Does not release.
 */
static void expect_raw(struct __test_metadata *_metadata, struct _test_data_geo *self,
		       __u32 seq, size_t len, __u32 flags)
{
	struct vj_ring *r = &self->r;
	struct vj_desc d = desc_of(r, r->next);
	__u32 got_len = 0;
	__u8 *f;

	f = vj_ring_frame(r, r->next, &got_len);
	ASSERT_NE(NULL, f) TH_LOG("seq %u: descriptor addr %#llx len %u not in a buffer", seq,
				  (unsigned long long)d.addr, d.len);
	ASSERT_EQ(len, got_len) TH_LOG("seq %u", seq);
	ASSERT_LE(got_len, r->off.frame_max);
	build_raw(self, self->buf, len, seq);
	EXPECT_EQ(0, memcmp(self->buf, f, len)) TH_LOG("frame seq %u of %zu bytes differs",
						       seq, len);
	EXPECT_EQ(flags, d.flags) TH_LOG("seq %u: desc.flags %#x", seq, d.flags);
	if (!(d.flags & VJ_DESC_F_RXHASH))
		EXPECT_EQ(0U, d.rxhash);
	if (!(d.flags & VJ_DESC_F_TSTAMP))
		EXPECT_EQ(0U, d.tstamp);
	EXPECT_EQ(0U, d.reserved);
	r->next++;
}

/* ------------------------------------------------------------------ */

FIXTURE_SETUP(geo)
{
	struct sock_filter drop_all = BPF_STMT(BPF_RET | BPF_K, 0);
	struct sock_fprog prog = { .len = 1, .filter = &drop_all };
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };
	struct ifreq ifr;
	int fd;

	self->fd = -1;
	self->pkt = -1;
	self->buf = NULL;
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
	write_file("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
	write_file("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
	if (run("ip link add " DEV_A " numtxqueues 1 numrxqueues 1 type veth peer name "
		DEV_B " numtxqueues 1 numrxqueues 1"))
		SKIP(return, "cannot create a veth pair (CONFIG_VETH=n?)");
	ASSERT_EQ(0, run("ip link set dev " DEV_A " up && ip link set dev " DEV_B " up"));
	self->ifa = if_nametoindex(DEV_A);
	self->ifb = if_nametoindex(DEV_B);
	ASSERT_NE(0, self->ifa);
	ASSERT_NE(0, self->ifb);

	self->pkt = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
	ASSERT_LE(0, self->pkt) TH_LOG("AF_PACKET: %s", strerror(errno));
	ASSERT_EQ(0, setsockopt(self->pkt, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)));
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = self->ifa;
	ASSERT_EQ(0, bind(self->pkt, (struct sockaddr *)&sll, sizeof(sll)));
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, DEV_A, sizeof(DEV_A));
	ASSERT_EQ(0, ioctl(self->pkt, SIOCGIFHWADDR, &ifr));
	memcpy(self->mac_a, ifr.ifr_hwaddr.sa_data, ETH_ALEN);
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, DEV_B, sizeof(DEV_B));
	ASSERT_EQ(0, ioctl(self->pkt, SIOCGIFHWADDR, &ifr));
	memcpy(self->mac_b, ifr.ifr_hwaddr.sa_data, ETH_ALEN);

	self->buf = malloc(FRAME_BUF);
	ASSERT_NE(NULL, self->buf);
	self->fd = vj_socket();
	ASSERT_LE(0, self->fd) TH_LOG("socket: %s", strerror(errno));
}

FIXTURE_TEARDOWN(geo)
{
	vj_ring_unmap(&self->r);
	if (self->fd >= 0)
		close(self->fd);
	if (self->pkt >= 0)
		close(self->pkt);
	free(self->buf);
}

/* ================================================================== */
/* VJ_RING_SETUP refusals                                              */

TEST_F(geo, features)
{
	__u64 feat = vj_read_features(self->fd);

	EXPECT_NE(0U, feat & VJ_FEATURE_RING_SETUP)
		TH_LOG("features %#llx", (unsigned long long)feat);
}

TEST_F(geo, setup_optlen)
{
	struct vj_ring_setup rs[2];
	static const socklen_t lens[] = { 0, 1, 8, sizeof(rs[0]) - 1, sizeof(rs[0]) + 1,
					  sizeof(rs[0]) + 8, sizeof(rs) };
	socklen_t len = sizeof(rs[0]);
	unsigned int i;

	memset(rs, 0, sizeof(rs));
	for (i = 0; i < ARRAY_SIZE(lens); i++) {
		errno = 0;
		EXPECT_EQ(-1, setsockopt(self->fd, SOL_VJCHAN, VJ_RING_SETUP, rs, lens[i]))
			TH_LOG("optlen %u", lens[i]);
		EXPECT_EQ(EINVAL, errno) TH_LOG("optlen %u", lens[i]);
	}
	EXPECT_EQ(40U, sizeof(rs[0]));
	EXPECT_EQ(0, setsockopt(self->fd, SOL_VJCHAN, VJ_RING_SETUP, rs, sizeof(rs[0])))
		TH_LOG("%s", strerror(errno));
	/* Not a getsockopt option. */
	errno = 0;
	EXPECT_EQ(-1, getsockopt(self->fd, SOL_VJCHAN, VJ_RING_SETUP, rs, &len));
	EXPECT_EQ(ENOPROTOOPT, errno);
}

TEST_F(geo, setup_reserved_and_flags)
{
	struct vj_ring_setup rs;
	unsigned int i;

	for (i = 0; i < 5 + 31; i++) {
		memset(&rs, 0, sizeof(rs));
		if (i == 0)
			rs.reserved0 = 1;
		else if (i == 1)
			rs.reserved0 = 0x80000000u;
		else if (i == 2)
			rs.reserved[0] = 1;
		else if (i == 3)
			rs.reserved[1] = 1ULL << 63;
		else if (i == 4)
			rs.flags = VJ_RING_SETUP_F_TSTAMP | 1U << 1;
		else
			rs.flags = 1U << (i - 4);	/* every bit but F_TSTAMP */
		errno = 0;
		EXPECT_EQ(-1, setsockopt(self->fd, SOL_VJCHAN, VJ_RING_SETUP, &rs, sizeof(rs)))
			TH_LOG("case %u: flags %#x", i, rs.flags);
		EXPECT_EQ(EINVAL, errno) TH_LOG("case %u", i);
	}
	EXPECT_EQ(0, ring_setup(self->fd, 0, 0, 0, VJ_RING_SETUP_F_TSTAMP))
		TH_LOG("%s", strerror(errno));
	EXPECT_EQ(0, ring_setup(self->fd, 0, 0, 0, 0)) TH_LOG("%s", strerror(errno));
}

TEST_F(geo, setup_buf_size)
{
	const __u32 bad[] = { 1, 256, 512, VJ_RING_BUF_SIZE_MIN - 1, VJ_RING_BUF_SIZE_MIN + 1,
			      1536, 3000, pagesz() - 1, pagesz() + 1, 2 * pagesz(),
			      4 * pagesz(), 0x80000000u, 0xffffffffu };
	struct vj_ring_offsets o;
	unsigned int i;
	__u32 b;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		errno = 0;
		EXPECT_EQ(-1, ring_setup(self->fd, 0, 0, bad[i], 0)) TH_LOG("buf_size %u", bad[i]);
		EXPECT_EQ(EINVAL, errno) TH_LOG("buf_size %u", bad[i]);
	}
	/* Every power of two from the minimum to the page size. */
	for (b = VJ_RING_BUF_SIZE_MIN; b <= pagesz(); b *= 2) {
		ASSERT_EQ(0, ring_setup(self->fd, 0, 0, b, 0)) TH_LOG("buf_size %u: %s", b,
								      strerror(errno));
		ASSERT_EQ(0, offsets(self->fd, &o));
		EXPECT_EQ(b, o.buf_size);
		EXPECT_TRUE(vj_ring_layout_ok(&o, pagesz())) TH_LOG("buf_size %u", b);
	}
}

TEST_F(geo, setup_nr_slots)
{
	static const __u32 bad[] = { 1, 2, 8, VJ_RING_SLOTS_MIN - 1, VJ_RING_SLOTS_MIN + 1, 24,
				     1000, VJ_RING_SLOTS_MAX - 1, VJ_RING_SLOTS_MAX + 1,
				     2 * VJ_RING_SLOTS_MAX, 0x80000000u, 0xffffffffu };
	struct vj_ring_offsets o;
	unsigned int i;
	__u32 n;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		errno = 0;
		EXPECT_EQ(-1, ring_setup(self->fd, 0, bad[i], 0, 0)) TH_LOG("nr_slots %u", bad[i]);
		EXPECT_EQ(EINVAL, errno) TH_LOG("nr_slots %u", bad[i]);
	}
	/* Every power of two in range; the size left 0 is what nr_slots buffers need. */
	for (n = VJ_RING_SLOTS_MIN; n <= VJ_RING_SLOTS_MAX; n *= 2) {
		ASSERT_EQ(0, ring_setup(self->fd, 0, n, 0, 0))
			TH_LOG("nr_slots %u: %s", n, strerror(errno));
		ASSERT_EQ(0, offsets(self->fd, &o));
		EXPECT_EQ(n, o.nr_slots);
		EXPECT_EQ(n, o.nr_bufs);
		EXPECT_TRUE(vj_ring_layout_ok(&o, pagesz())) TH_LOG("nr_slots %u", n);
		EXPECT_EQ((o.buffers + (__u64)n * o.buf_size + pagesz() - 1) / pagesz() * pagesz(),
			  o.mmap_size) TH_LOG("nr_slots %u", n);
	}
}

TEST_F(geo, setup_size)
{
	const __u64 ps = pagesz();
	const __u64 bad[] = { 1, ps - 1, ps + 1, VJ_RING_SIZE_DEFAULT + 1,
			      VJ_RING_SIZE_DEFAULT + ps / 2, VJ_RING_SIZE_MAX + ps,
			      2 * VJ_RING_SIZE_MAX, 1ULL << 63, ~0ULL, ~0ULL - ps + 1 };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		errno = 0;
		EXPECT_EQ(-1, ring_setup(self->fd, bad[i], 0, 0, 0))
			TH_LOG("size %#llx", (unsigned long long)bad[i]);
		EXPECT_EQ(EINVAL, errno) TH_LOG("size %#llx", (unsigned long long)bad[i]);
	}
	/* nr_slots 0 with more buffers than VJ_RING_SLOTS_MAX can describe. */
	errno = 0;
	EXPECT_EQ(-1, ring_setup(self->fd, VJ_RING_SIZE_MAX, 0, VJ_RING_BUF_SIZE_MIN, 0));
	EXPECT_EQ(EINVAL, errno);
	/* Too many slots for the largest size left 0: their buffers do not fit. */
	if ((__u64)VJ_RING_SLOTS_MAX * pagesz() >= VJ_RING_SIZE_MAX) {
		errno = 0;
		EXPECT_EQ(-1, ring_setup(self->fd, 0, VJ_RING_SLOTS_MAX, pagesz(), 0));
		EXPECT_EQ(EINVAL, errno);
	}
}

/* A size whose buffers would outnumber the slots; too few buffers. */
TEST_F(geo, setup_buffers_vs_slots)
{
	struct vj_ring_offsets o, d;
	__u64 size16;

	/* The default: nr_slots is the smallest that describes every buffer. */
	ASSERT_EQ(0, offsets(self->fd, &d));
	errno = 0;
	EXPECT_EQ(-1, ring_setup(self->fd, d.mmap_size, d.nr_slots / 2, d.buf_size, 0))
		TH_LOG("size %llu with %u slots", (unsigned long long)d.mmap_size,
		       d.nr_slots / 2);
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(-1, ring_setup(self->fd, VJ_RING_SIZE_DEFAULT, VJ_RING_SLOTS_MIN,
				 VJ_RING_BUF_SIZE_MIN, 0));
	EXPECT_EQ(EINVAL, errno);
	/* The same size with nr_slots 0, and explicitly with its slots: the default. */
	ASSERT_EQ(0, ring_setup(self->fd, d.mmap_size, 0, 0, 0));
	ASSERT_EQ(0, offsets(self->fd, &o));
	EXPECT_EQ(0, memcmp(&d, &o, sizeof(o)));
	ASSERT_EQ(0, ring_setup(self->fd, d.mmap_size, d.nr_slots, d.buf_size, 0));
	ASSERT_EQ(0, offsets(self->fd, &o));
	EXPECT_EQ(0, memcmp(&d, &o, sizeof(o)));

	/* Exactly VJ_RING_SLOTS_MIN buffers of a page; one page less is too few. */
	ASSERT_EQ(0, ring_setup(self->fd, 0, VJ_RING_SLOTS_MIN, pagesz(), 0));
	ASSERT_EQ(0, offsets(self->fd, &o));
	EXPECT_EQ((__u32)VJ_RING_SLOTS_MIN, o.nr_bufs);
	size16 = o.mmap_size;
	EXPECT_EQ(o.buffers + VJ_RING_SLOTS_MIN * pagesz(), size16);
	ASSERT_EQ(0, ring_setup(self->fd, size16, 0, pagesz(), 0)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, offsets(self->fd, &o));
	EXPECT_EQ((__u32)VJ_RING_SLOTS_MIN, o.nr_slots);
	EXPECT_EQ((__u32)VJ_RING_SLOTS_MIN, o.nr_bufs);
	EXPECT_EQ(size16, o.mmap_size);
	errno = 0;
	EXPECT_EQ(-1, ring_setup(self->fd, size16 - pagesz(), 0, pagesz(), 0));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(-1, ring_setup(self->fd, size16 - pagesz(), VJ_RING_SLOTS_MIN, pagesz(), 0));
	EXPECT_EQ(EINVAL, errno);
	/* Control pages only, or one page: no buffer at all. */
	errno = 0;
	EXPECT_EQ(-1, ring_setup(self->fd, o.buffers, 0, pagesz(), 0));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(-1, ring_setup(self->fd, pagesz(), 0, 0, 0));
	EXPECT_EQ(EINVAL, errno);
}

/* A refused setup changes nothing: the last good one holds. */
TEST_F(geo, setup_refused_keeps_previous)
{
	struct vj_ring_offsets a, o;

	ASSERT_EQ(0, ring_setup(self->fd, 0, 64, VJ_RING_BUF_SIZE_MIN, 0));
	ASSERT_EQ(0, offsets(self->fd, &a));
	EXPECT_EQ(64U, a.nr_slots);
	EXPECT_EQ(-1, ring_setup(self->fd, 0, 24, 0, 0));
	EXPECT_EQ(-1, ring_setup(self->fd, 0, 128, 3000, 0));
	EXPECT_EQ(-1, ring_setup(self->fd, 1, 0, 0, 0));
	ASSERT_EQ(0, offsets(self->fd, &o));
	EXPECT_EQ(0, memcmp(&a, &o, sizeof(o)));
}

TEST_F(geo, setup_ebusy_after_bind)
{
	struct vj_ring_offsets a, o;

	ASSERT_EQ(0, ring_setup(self->fd, 0, 128, 0, 0));
	ASSERT_EQ(0, offsets(self->fd, &a));
	ASSERT_EQ(0, bind_b(self, self->fd)) TH_LOG("bind: %s", strerror(errno));
	errno = 0;
	EXPECT_EQ(-1, ring_setup(self->fd, 0, 0, 0, 0));
	EXPECT_EQ(EBUSY, errno);
	errno = 0;
	EXPECT_EQ(-1, ring_setup(self->fd, 0, 128, 0, VJ_RING_SETUP_F_TSTAMP));
	EXPECT_EQ(EBUSY, errno);
	/* A setup that is wrong in itself is EINVAL, bound or not. */
	errno = 0;
	EXPECT_EQ(-1, ring_setup(self->fd, 0, 24, 0, 0));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, offsets(self->fd, &o));
	EXPECT_EQ(0, memcmp(&a, &o, sizeof(o)));
	ASSERT_EQ(0, vj_ring_map(self->fd, &self->r)) TH_LOG("map: %s", strerror(errno));
	EXPECT_EQ(a.mmap_size, self->r.size);
}

/* ================================================================== */
/* VJ_RING_OFFSETS                                                     */

TEST_F(geo, offsets_default)
{
	struct vj_ring_offsets o;
	__u32 b = pagesz() < 2048 ? pagesz() : 2048;

	ASSERT_EQ(0, offsets(self->fd, &o));
	expect_layout(_metadata, &o, 0, b);
	EXPECT_EQ((VJ_RING_SIZE_DEFAULT + pagesz() - 1) / pagesz() * pagesz(), o.mmap_size);
	/* nr_slots is the smallest power of two for the buffers (see setup_buffers_vs_slots). */
	EXPECT_GE(o.nr_slots, o.nr_bufs);
}

TEST_F(geo, offsets_optlen)
{
	__u8 buf[sizeof(struct vj_ring_offsets) + 64];
	static const socklen_t bad[] = { 0, 1, 8, 64, VJ_RING_OFFSETS_SIZE_VER0 - 1 };
	struct vj_ring_offsets o;
	socklen_t len;
	unsigned int i;

	EXPECT_EQ(96U, sizeof(struct vj_ring_offsets));
	EXPECT_EQ((size_t)VJ_RING_OFFSETS_SIZE_VER0, sizeof(struct vj_ring_offsets));
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		len = bad[i];
		errno = 0;
		EXPECT_EQ(-1, getsockopt(self->fd, SOL_VJCHAN, VJ_RING_OFFSETS, buf, &len))
			TH_LOG("optlen %u", bad[i]);
		EXPECT_EQ(EINVAL, errno) TH_LOG("optlen %u", bad[i]);
	}
	ASSERT_EQ(0, offsets(self->fd, &o));
	/* Longer: the kernel's size is returned, the rest left alone. */
	memset(buf, 0xa5, sizeof(buf));
	len = sizeof(buf);
	ASSERT_EQ(0, getsockopt(self->fd, SOL_VJCHAN, VJ_RING_OFFSETS, buf, &len));
	EXPECT_EQ((socklen_t)VJ_RING_OFFSETS_SIZE_VER0, len);
	EXPECT_EQ(0, memcmp(buf, &o, sizeof(o)));
	for (i = sizeof(o); i < sizeof(buf); i++)
		EXPECT_EQ(0xa5, buf[i]) TH_LOG("byte %u written", i);
}

/* Before bind, VJ_RING_OFFSETS gives the geometry that was set up; bind keeps it. */
TEST_F(geo, offsets_reflect_setup)
{
	const __u64 ps = pagesz();
	struct {
		__u64 size;
		__u32 nr_slots, buf_size;
	} c[] = {
		{ 0, 16, VJ_RING_BUF_SIZE_MIN },
		{ 0, 256, 0 },
		{ 0, 1024, ps },
		{ 2 * VJ_RING_SIZE_DEFAULT, 0, 0 },
		{ 64 * ps, 0, ps },
		{ 64 * ps, 0, VJ_RING_BUF_SIZE_MIN },
		{ 8ULL << 20, 4096, 0 },
	};
	struct vj_ring_offsets o, o2;
	unsigned int i;
	int fd;

	for (i = 0; i < ARRAY_SIZE(c); i++) {
		fd = vj_socket();
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, ring_setup(fd, c[i].size, c[i].nr_slots, c[i].buf_size, 0))
			TH_LOG("case %u: %s", i, strerror(errno));
		ASSERT_EQ(0, offsets(fd, &o));
		expect_layout(_metadata, &o, c[i].nr_slots, c[i].buf_size);
		if (c[i].size) {
			EXPECT_EQ(c[i].size, o.mmap_size) TH_LOG("case %u", i);
			/* The buffers fill the mapping. */
			EXPECT_GT((__u64)o.buf_size,
				  o.mmap_size - o.buffers - (__u64)o.nr_bufs * o.buf_size);
			/* nr_slots derived: the smallest; half as many refused. */
			if (!c[i].nr_slots && o.nr_slots / 2 >= VJ_RING_SLOTS_MIN) {
				errno = 0;
				EXPECT_EQ(-1, ring_setup(fd, c[i].size, o.nr_slots / 2,
							 c[i].buf_size, 0)) TH_LOG("case %u", i);
				EXPECT_EQ(EINVAL, errno);
				ASSERT_EQ(0, offsets(fd, &o2));
				EXPECT_EQ(0, memcmp(&o, &o2, sizeof(o)));
			}
		} else if (c[i].nr_slots) {
			EXPECT_EQ(c[i].nr_slots, o.nr_bufs) TH_LOG("case %u", i);
		}
		/* Time stamps do not change the geometry. */
		ASSERT_EQ(0, ring_setup(fd, c[i].size, c[i].nr_slots, c[i].buf_size,
					VJ_RING_SETUP_F_TSTAMP));
		ASSERT_EQ(0, offsets(fd, &o2));
		EXPECT_EQ(0, memcmp(&o, &o2, sizeof(o)));
		/* Bound (the MTU fits every case), the layout is the same. */
		if (o.frame_max >= 1500 + LL_OVERHEAD) {
			ASSERT_EQ(0, bind_b(self, fd))
				TH_LOG("case %u: bind: %s", i, strerror(errno));
			ASSERT_EQ(0, offsets(fd, &o2));
			EXPECT_EQ(0, memcmp(&o, &o2, sizeof(o))) TH_LOG("case %u", i);
		}
		close(fd);
	}
}

/* ================================================================== */
/* bind: the MTU must fit                                              */

TEST_F(geo, bind_emsgsize)
{
	struct vj_ring_offsets o;
	int mtu;

	ASSERT_EQ(0, ring_setup(self->fd, 0, 0, VJ_RING_BUF_SIZE_MIN, 0));
	ASSERT_EQ(0, offsets(self->fd, &o));
	ASSERT_LT(o.frame_max, 1500U + LL_OVERHEAD);
	/* The default MTU 1500 does not fit a buffer of 1 KiB. */
	errno = 0;
	EXPECT_EQ(-1, bind_b(self, self->fd));
	EXPECT_EQ(EMSGSIZE, errno);
	errno = 0;
	EXPECT_EQ(MAP_FAILED, mmap(NULL, o.mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED,
				   self->fd, 0));
	EXPECT_EQ(EINVAL, errno);
	/* One byte too many, then just enough. */
	mtu = o.frame_max - LL_OVERHEAD;
	ASSERT_EQ(0, set_mtu_both(mtu + 1));
	errno = 0;
	EXPECT_EQ(-1, bind_b(self, self->fd));
	EXPECT_EQ(EMSGSIZE, errno);
	ASSERT_EQ(0, set_mtu_both(mtu));
	/* A failed bind left the socket as it was: it can still be set up. */
	ASSERT_EQ(0, ring_setup(self->fd, 0, 32, VJ_RING_BUF_SIZE_MIN, 0));
	EXPECT_EQ(0, bind_b(self, self->fd)) TH_LOG("MTU %d: %s", mtu, strerror(errno));
	ASSERT_EQ(0, vj_ring_map(self->fd, &self->r)) TH_LOG("map: %s", strerror(errno));
	EXPECT_EQ(32U, self->r.off.nr_slots);
}

/* ================================================================== */
/* Rings of several geometries                                         */

/*
 * Sets up @size/@nr_slots/@buf_size (all 0: no VJ_RING_SETUP), lowers the
 * MTU so that frames fit, binds and maps; frames of lengths 60 to MTU + 14
 * arrive byte for byte; the mapping is exactly mmap_size; the ring fills
 * at exactly nr_bufs frames, then drops (rx_ring_full); the frames held
 * are intact, in distinct buffers; once released, frames flow again; one
 * longer than frame_max (with the MTU raised after bind) is dropped.
 */
static void geometry(struct __test_metadata *_metadata, struct _test_data_geo *self,
		     __u64 size, __u32 nr_slots, __u32 buf_size)
{
	struct vj_filter f = { .type = VJ_FILTER_ETHERTYPE, .ethertype = htons(ETH_P_GEO) };
	size_t lens[16] = { 0 }, nlen = 0, i, ps = pagesz();
	struct vj_ring *r = &self->r;
	struct vj_statistics st;
	struct vj_ring_offsets o;
	__u32 seq = 0, n, extra = 5, flen;
	__u8 *seen, *f2;
	__u64 rel;
	void *p;
	int mtu;

	if (size || nr_slots || buf_size)
		ASSERT_EQ(0, ring_setup(self->fd, size, nr_slots, buf_size, 0))
			TH_LOG("setup %llu/%u/%u: %s", (unsigned long long)size, nr_slots,
			       buf_size, strerror(errno));
	ASSERT_EQ(0, offsets(self->fd, &o));
	expect_layout(_metadata, &o, nr_slots, buf_size);
	if (size)
		EXPECT_EQ(size, o.mmap_size);
	mtu = o.frame_max - LL_OVERHEAD;
	if (mtu > 9000)
		mtu = 9000;
	ASSERT_EQ(0, set_mtu_both(mtu)) TH_LOG("MTU %d", mtu);
	ASSERT_EQ(0, bind_b(self, self->fd)) TH_LOG("bind: %s", strerror(errno));
	ASSERT_EQ(0, vj_filter_op(self->fd, VJ_ADD_FILTER, &f));
	ASSERT_EQ(0, vj_ring_map(self->fd, r)) TH_LOG("map: %s", strerror(errno));
	ASSERT_EQ(0, memcmp(&o, &r->off, sizeof(o)));
	ASSERT_EQ(0U, vj_ring_avail(r));

	/* The mapping: exactly mmap_size at offset 0. */
	errno = 0;
	p = mmap(NULL, o.mmap_size + ps, PROT_READ, MAP_SHARED, self->fd, 0);
	EXPECT_EQ(MAP_FAILED, p) TH_LOG("mapped %llu bytes", (unsigned long long)o.mmap_size + ps);
	if (p != MAP_FAILED)
		munmap(p, o.mmap_size + ps);
	p = mmap(NULL, o.mmap_size, PROT_READ, MAP_SHARED, self->fd, ps);
	EXPECT_EQ(MAP_FAILED, p) TH_LOG("mapped at offset %zu", ps);
	if (p != MAP_FAILED)
		munmap(p, o.mmap_size);
	/* The last page is there (a fault would end the test). */
	(void)__atomic_load_n(r->map + o.mmap_size - 1, __ATOMIC_RELAXED);

	/* Lengths from 60 to MTU + 14, the longest included. */
	lens[nlen++] = 60;
	lens[nlen++] = 61;
	lens[nlen++] = 64;
	lens[nlen++] = 127;
	lens[nlen++] = 256;
	lens[nlen++] = 511;
	lens[nlen++] = mtu / 2 + 1;
	lens[nlen++] = mtu;
	lens[nlen++] = mtu + ETH_HLEN - 1;
	lens[nlen++] = mtu + ETH_HLEN;
	for (i = 0; i < nlen; i++)
		ASSERT_EQ(0, send_raw(self, seq + i, lens[i]))
			TH_LOG("send %zu: %s", lens[i], strerror(errno));
	ASSERT_EQ(nlen, vj_ring_wait(r, nlen, WAIT_MS));
	for (i = 0; i < nlen; i++)
		expect_raw(_metadata, self, seq + i, lens[i], 0);
	vj_ring_release(r);
	seq += nlen;

	/* Fill: exactly nr_bufs frames fit, then rx_ring_full counts. */
	n = o.nr_bufs;
	ASSERT_EQ(0, send_raw_many(self, seq, n + extra))
		TH_LOG("sending %u frames: %s", n + extra, strerror(errno));
	EXPECT_EQ(extra, wait_ring_full(self->fd, extra));
	EXPECT_EQ(n, vj_ring_avail(r));
	ASSERT_EQ(0, vj_read_stats(self->fd, &st));
	EXPECT_EQ(nlen + n, st.rx_packets);
	EXPECT_EQ(extra, st.rx_ring_full);
	EXPECT_EQ(0U, st.rx_bad_length);
	EXPECT_EQ(0U, st.rx_invalid_consumer);
	/* Every frame held, in a buffer of its own. */
	seen = calloc(o.nr_bufs, 1);
	ASSERT_NE(NULL, seen);
	for (i = 0; i < n; i++) {
		f2 = vj_ring_frame(r, r->next, &flen);
		ASSERT_NE(NULL, f2) TH_LOG("frame %zu of the full ring", i);
		rel = (f2 - r->map) - o.buffers;
		EXPECT_EQ(0, seen[rel / o.buf_size]) TH_LOG("buffer %llu twice",
							    (unsigned long long)rel / o.buf_size);
		seen[rel / o.buf_size] = 1;
		expect_raw(_metadata, self, seq + i, SHORT_LEN(seq + i), 0);
		if (_metadata->exit_code != KSFT_PASS)
			break;
	}
	free(seen);
	seq += n + extra;

	/* Released, the ring takes frames again. */
	vj_ring_release(r);
	ASSERT_EQ(0, send_raw(self, seq, 100));
	ASSERT_EQ(1U, vj_ring_wait(r, 1, WAIT_MS));
	expect_raw(_metadata, self, seq, 100, 0);
	vj_ring_release(r);
	seq++;

	/* MTU raised after bind: a frame longer than frame_max is dropped. */
	ASSERT_EQ(0, set_mtu_both(o.frame_max));
	ASSERT_EQ(0, send_raw(self, seq, o.frame_max + 1));
	ASSERT_EQ(0, send_raw(self, seq + 1, o.frame_max));
	ASSERT_EQ(1U, vj_ring_wait(r, 1, WAIT_MS));
	expect_raw(_metadata, self, seq + 1, o.frame_max, 0);
	vj_ring_release(r);
	ASSERT_EQ(0, vj_read_stats(self->fd, &st));
	EXPECT_EQ(1U, st.rx_bad_length);
	EXPECT_EQ(nlen + n + 2, st.rx_packets);
	EXPECT_EQ(extra, st.rx_ring_full);
}

TEST_F(geo, geometry_default)
{
	geometry(_metadata, self, 0, 0, 0);
}

/* The fewest slots and the smallest buffers: frame_max 768, MTU 750. */
TEST_F(geo, geometry_smallest)
{
	geometry(_metadata, self, 0, VJ_RING_SLOTS_MIN, VJ_RING_BUF_SIZE_MIN);
}

/* Buffers of a page: the longest frames. */
TEST_F(geo, geometry_page_buffers)
{
	geometry(_metadata, self, 0, 64, pagesz());
}

/* A size given, the slots derived; buffers of 1 KiB. */
TEST_F(geo, geometry_sized)
{
	geometry(_metadata, self, 2 * VJ_RING_SIZE_DEFAULT, 0, VJ_RING_BUF_SIZE_MIN);
}

/*
 * The most slots (VJ_RING_SLOTS_MAX) in 64 MiB of buffers of 2 KiB: 32254
 * buffers on 4 KiB pages.  Not the largest size allowed (VJ_RING_SIZE_MAX,
 * 1 GiB, or 128 MiB for VJ_RING_SLOTS_MAX buffers of a page): the guest has
 * 2 GiB.  This is the largest slot count and descriptor area (1 MiB), and
 * a ring of 16384 pages charged to RLIMIT_MEMLOCK (raised here, for a
 * caller without CAP_IPC_LOCK).
 */
TEST_F_TIMEOUT(geo, geometry_largest, 120)
{
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
	__u64 size = 64ULL << 20;

	ASSERT_EQ(0, setrlimit(RLIMIT_MEMLOCK, &rl))
		TH_LOG("RLIMIT_MEMLOCK: %s", strerror(errno));
	geometry(_metadata, self, size, VJ_RING_SLOTS_MAX, 2048);
}

/* ================================================================== */
/* Descriptor flags                                                    */

/* With VJ_RING_SETUP_F_TSTAMP, every frame has a CLOCK_MONOTONIC time stamp. */
TEST_F(geo, tstamp)
{
	struct vj_filter f = { .type = VJ_FILTER_ETHERTYPE, .ethertype = htons(ETH_P_GEO) };
	struct vj_ring *r = &self->r;
	__u64 t0, t1, prev = 0;
	struct vj_desc d;
	__u32 i, n = 40;

	ASSERT_EQ(0, ring_setup(self->fd, 0, 0, 0, VJ_RING_SETUP_F_TSTAMP));
	ASSERT_EQ(0, bind_b(self, self->fd)) TH_LOG("bind: %s", strerror(errno));
	ASSERT_EQ(0, vj_filter_op(self->fd, VJ_ADD_FILTER, &f));
	ASSERT_EQ(0, vj_ring_map(self->fd, r)) TH_LOG("map: %s", strerror(errno));
	t0 = now_ns();
	for (i = 0; i < n; i++) {
		ASSERT_EQ(0, send_raw(self, i, 60 + i * 13));
		if (i == n / 2)
			usleep(20000);	/* time goes on between frames */
	}
	ASSERT_EQ(n, vj_ring_wait(r, n, WAIT_MS));
	t1 = now_ns();
	for (i = 0; i < n; i++) {
		d = desc_of(r, r->next);
		EXPECT_LE(t0, d.tstamp) TH_LOG("frame %u: tstamp %llu before the send at %llu", i,
					       (unsigned long long)d.tstamp,
					       (unsigned long long)t0);
		EXPECT_GE(t1, d.tstamp) TH_LOG("frame %u: tstamp %llu after the receive at %llu",
					       i, (unsigned long long)d.tstamp,
					       (unsigned long long)t1);
		EXPECT_LE(prev, d.tstamp) TH_LOG("frame %u: time stamps go back", i);
		prev = d.tstamp;
		expect_raw(_metadata, self, i, 60 + i * 13, VJ_DESC_F_TSTAMP);
	}
	/* 20 ms between the halves. */
	EXPECT_LE(desc_of(r, r->next - n + n / 2).tstamp + 20000000ULL,
		  desc_of(r, r->next - n + n / 2 + 1).tstamp);
	vj_ring_release(r);
}

/* Without VJ_RING_SETUP_F_TSTAMP, set up or not, no time stamp. */
TEST_F(geo, no_tstamp_unless_asked)
{
	struct vj_filter f = { .type = VJ_FILTER_ETHERTYPE, .ethertype = htons(ETH_P_GEO) };
	struct vj_ring *r = &self->r;
	__u32 i;

	/* Asked, then set up again without: the last setup counts. */
	ASSERT_EQ(0, ring_setup(self->fd, 0, 0, 0, VJ_RING_SETUP_F_TSTAMP));
	ASSERT_EQ(0, ring_setup(self->fd, 0, 0, 0, 0));
	ASSERT_EQ(0, bind_b(self, self->fd)) TH_LOG("bind: %s", strerror(errno));
	ASSERT_EQ(0, vj_filter_op(self->fd, VJ_ADD_FILTER, &f));
	ASSERT_EQ(0, vj_ring_map(self->fd, r)) TH_LOG("map: %s", strerror(errno));
	for (i = 0; i < 8; i++)
		ASSERT_EQ(0, send_raw(self, i, 100 + i));
	ASSERT_EQ(8U, vj_ring_wait(r, 8, WAIT_MS));
	for (i = 0; i < 8; i++)
		expect_raw(_metadata, self, i, 100 + i, 0);
	vj_ring_release(r);
}

/* Routes 10.98.0.2 out of vga to vgb's MAC address (vgb has no address). */
static void udp_route(struct __test_metadata *_metadata, struct _test_data_geo *self)
{
	char mac[18];

	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", self->mac_b[0],
		 self->mac_b[1], self->mac_b[2], self->mac_b[3], self->mac_b[4], self->mac_b[5]);
	ASSERT_EQ(0, run("ip addr add " ADDR_A "/24 dev " DEV_A " && ip neigh replace " ADDR_B
			 " lladdr %s dev " DEV_A " nud permanent", mac));
}

/*
 * Datagrams of a UDP socket on the sending side arrive with a valid UDP
 * checksum.  With veth's default offloads the kernel finishes the checksum
 * (CHECKSUM_PARTIAL): VJ_DESC_F_CSUM_OK.  A connected socket's flow hash
 * comes along: VJ_DESC_F_RXHASH, the same for every datagram.  With the
 * sender's checksum offload off, the checksum is computed in software and
 * nothing says it is good: no VJ_DESC_F_CSUM_OK, and still valid.
 */
TEST_F(geo, udp_csum_ok_and_rxhash)
{
	struct vj_filter f = vj_port_filter(AF_INET, IPPROTO_UDP, PORT_CH);
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(PORT_CH) };
	static const size_t sizes[] = { 1, 18, 100, 1000, 1472 };
	struct vj_ring *r = &self->r;
	struct frame_info fi;
	__u8 payload[1500];
	__u32 len, hash = 0;
	unsigned int round, i, j;
	struct vj_desc d;
	int tx, ret;
	__u8 *fr;

	udp_route(_metadata, self);
	ASSERT_EQ(0, bind_b(self, self->fd)) TH_LOG("bind: %s", strerror(errno));
	ASSERT_EQ(0, vj_filter_op(self->fd, VJ_ADD_FILTER, &f));
	ASSERT_EQ(0, vj_ring_map(self->fd, r)) TH_LOG("map: %s", strerror(errno));
	inet_pton(AF_INET, ADDR_B, &to.sin_addr);
	EXPECT_EQ(1, dev_feature_active(DEV_A, "tx-checksum-ip-generic"))
		TH_LOG("veth's checksum offload is not on by default");

	for (round = 0; round < 2; round++) {
		if (round == 1) {
			ret = vj_feature_set(DEV_A, "tx-checksum-ip-generic", 0);
			ASSERT_EQ(0, ret) TH_LOG("turning off tx-checksum-ip-generic: %d %s", ret,
						 strerror(errno));
			ASSERT_EQ(0, dev_feature_active(DEV_A, "tx-checksum-ip-generic"));
		}
		tx = socket(AF_INET, SOCK_DGRAM, 0);
		ASSERT_LE(0, tx);
		ASSERT_EQ(0, connect(tx, (struct sockaddr *)&to, sizeof(to)))
			TH_LOG("connect: %s", strerror(errno));
		for (i = 0; i < ARRAY_SIZE(sizes); i++) {
			for (j = 0; j < sizes[i]; j++)
				payload[j] = (__u8)(i * 41 + j * 3 + round);
			ASSERT_EQ((ssize_t)sizes[i], send(tx, payload, sizes[i], 0))
				TH_LOG("send %zu: %s", sizes[i], strerror(errno));
		}
		ASSERT_EQ(ARRAY_SIZE(sizes), vj_ring_wait(r, ARRAY_SIZE(sizes), WAIT_MS));
		for (i = 0; i < ARRAY_SIZE(sizes); i++) {
			d = desc_of(r, r->next);
			fr = vj_ring_frame(r, r->next, &len);
			ASSERT_NE(NULL, fr);
			ASSERT_EQ(0, frame_parse(fr, len, &fi))
				TH_LOG("round %u datagram %u: %s", round, i, fi.err);
			EXPECT_EQ(IPPROTO_UDP, fi.proto);
			EXPECT_EQ(PORT_CH, fi.dport);
			ASSERT_EQ(sizes[i], fi.paylen);
			for (j = 0; j < sizes[i]; j++)
				payload[j] = (__u8)(i * 41 + j * 3 + round);
			EXPECT_EQ(0, memcmp(payload, fi.payload, sizes[i]));
			EXPECT_EQ(0, frame_csum_check(&fi)) TH_LOG("round %u datagram %u: %s",
								   round, i, fi.err);
			/* Offload on: the kernel finished the checksum; off: nobody says. */
			EXPECT_EQ(round == 0 ? VJ_DESC_F_CSUM_OK : 0U, d.flags & VJ_DESC_F_CSUM_OK)
				TH_LOG("round %u datagram %u: flags %#x", round, i, d.flags);
			EXPECT_NE(0U, d.flags & VJ_DESC_F_RXHASH)
				TH_LOG("round %u datagram %u of a connected socket: flags %#x",
				       round, i, d.flags);
			if (i == 0)
				hash = d.rxhash;
			EXPECT_EQ(hash, d.rxhash) TH_LOG("round %u datagram %u", round, i);
			EXPECT_EQ(0U, d.flags & VJ_DESC_F_TSTAMP);
			EXPECT_EQ(0U, d.tstamp);
			EXPECT_EQ(0U, d.reserved);
			r->next++;
		}
		vj_ring_release(r);
		close(tx);
	}
}

TEST_HARNESS_MAIN
