// SPDX-License-Identifier: GPL-2.0
/*
 * PF_VJCHAN on virtio-net: frames that the device writes into the channel
 * ring itself.
 *
 * Runs in a QEMU guest with a second virtio-net NIC of MAC 52:54:00:76:6a:01
 * whose backend is a "-netdev dgram" UDP socket on the host, where
 * vjchan-inject (userspace/vjchan-tools) serves it.  Without that NIC every
 * test skips.  The guest asks for frames with request frames (EtherType
 * 0x88b5, payload "VJREQ" | phase | mode | pad | first | count | total, big
 * endian) sent on an AF_PACKET socket; the injector answers with IPv4/UDP
 * frames from 10.77.0.1:7001 to 10.77.0.2:(7000 + phase) whose every byte
 * follows from (phase, sequence number), so the guest checks each frame byte
 * for byte.  The NIC gets 10.77.0.2/24 and no IPv6, so that the guest itself
 * keeps quiet on it.
 *
 * The path through QEMU may lose frames: the guest asks for at most CHUNK
 * frames at a time, and asks again from the first missing one when a chunk
 * does not complete.  Frames that arrive twice because of that are counted,
 * and so are the requests sent again.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/bpf.h>
#include <linux/if_arp.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/types.h>
#include <linux/vjchan.h>

#include "../../kselftest_harness.h"
#include "vjchan_lib.h"

/* The harness: see the comment at the top. */
#define GUEST_MAC	{ 0x52, 0x54, 0x00, 0x76, 0x6a, 0x01 }
#define HOST_MAC	{ 0x52, 0x54, 0x00, 0x76, 0x6a, 0xfe }
#define GUEST_MAC_STR	"52:54:00:76:6a:01"
#define ADDR_HOST	"10.77.0.1"
#define ADDR_GUEST	"10.77.0.2"
#define PREFIX_LEN	24
#define ETH_P_VJREQ	0x88b5
#define PORT_BASE	7000		/* data frames go to PORT_BASE + phase */
#define SRC_PORT	7001

#define MODE_FRAMES	0		/* send frames first .. first + count - 1 */
#define MODE_FLOOD	1		/* send frames for count milliseconds */
#define MODE_ARP	2		/* ARP probe; a reply is confirmed with frame 0 */

/* The phases of the tests: destination port PORT_BASE + phase. */
#define PHASE_CH	1		/* for the channel */
#define PHASE_STACK	2		/* for a UDP socket, no channel bound */
#define PHASE_OTHER	3		/* for a UDP socket, channel bound */
#define PHASE_ARP	4		/* confirms an ARP probe, channel bound */
#define TOTAL_CH	1024
#define TOTAL_STACK	256
#define TOTAL_OTHER	128

#define CHUNK		64		/* frames asked for at a time */
#define WAIT_MS		5000		/* for the next frame, before asking again */
#define MAX_REREQ	5		/* times to ask again per chunk */
#define QUIET_MS	500		/* no frame for this long: nothing in flight */
#define QUIET_MAX_MS	30000
#define FLOOD_MS	3000
#define FLOOD_ROUNDS	20
#define ROUND_WAIT_MS	100		/* per round, for a first flood frame */
#define ARP_WAIT_MS	10000		/* for the confirmation of an ARP probe */
#define ARP_RETRIES	3		/* times to ask for an ARP probe again */

#define HDRS_LEN	(ETH_HLEN + 20 + 8)	/* Ethernet, IPv4, UDP */
#define PL_HDR		16		/* "VJ", phase, 0, n, L, 4 zero bytes */
#define FRAME_MAX	2048
#define REQ_LEN		60		/* request frames are padded to this */

/* Harness timeouts, and how much of them the test itself may use. */
#define ZC_TIMEOUT	300
#define STACK_TIMEOUT	180
#define OTHER_TIMEOUT	120
#define FLOOD_TIMEOUT	180
#define XDP_TIMEOUT	60
#define ARP_TIMEOUT	60
#define TIMEOUT_SLACK	20

struct ring {
	__u8 *map;
	size_t size;
	struct vj_ring_offsets off;
	__u32 *prod;
	__u32 *cons;
	__u32 *flags;
	__u32 next;		/* next index to consume */
	/*
	 * Markers (zero_copy_receive): when @marked is set, ring_consume()
	 * fills each buffer it consumed with mark_byte() before releasing it,
	 * and checks each frame that arrives in a buffer it marked: the frame
	 * replaced the marker and nothing else did.  @marked has one entry per
	 * slot (there are at most as many buffers as slots).
	 */
	bool *marked;
	__u32 frames_marked;	/* frames that arrived in a marked buffer */
};

/* Where fetch() takes frames from. */
enum rx_kind {
	RX_RING,		/* whole frames, from a channel ring */
	RX_UDP,			/* UDP payloads, from a UDP socket */
};

struct rx {
	enum rx_kind kind;
	int fd;
	struct ring *r;
};

/* What fetch() saw. */
struct fetch_count {
	__u32 frames;		/* frames received, all of them */
	__u32 dups;		/* frames received again */
	__u32 rerequests;	/* requests sent again */
	__u32 disorder;		/* frames out of order within one answer */
	__u32 padded;		/* frames padded to ETH_ZLEN */
};

FIXTURE(virtio)
{
	char ifname[IF_NAMESIZE];
	int ifindex;
	__u8 mac[ETH_ALEN];
	int req;		/* AF_PACKET socket that sends the requests */
	int fd;			/* channel socket, or -1 */
	int udp;		/* UDP socket, or -1 */
	int link;		/* BPF link of an XDP program, or -1 */
	struct ring r;
	__u64 deadline;		/* ns: the test fails rather than run past this */
};

/* ------------------------------------------------------------------ */
/* Small helpers that do not report.                                   */

/* Milliseconds from now until @end (ns), at least 0. */
static int ms_until(__u64 end)
{
	__u64 now = now_ns();

	if (now >= end)
		return 0;
	return (int)((end - now + 999999) / 1000000);
}

/* The interface with the harness's MAC address: its index, 0 if none. */
static int find_nic(char *name, __u8 *mac)
{
	static const __u8 want[ETH_ALEN] = GUEST_MAC;
	struct if_nameindex *ifs, *i;
	struct ifreq ifr;
	int fd, found = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	ifs = if_nameindex();
	for (i = ifs; i && i->if_index && !found; i++) {
		memset(&ifr, 0, sizeof(ifr));
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", i->if_name);
		if (ioctl(fd, SIOCGIFHWADDR, &ifr) ||
		    ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER ||
		    memcmp(ifr.ifr_hwaddr.sa_data, want, ETH_ALEN))
			continue;
		snprintf(name, IF_NAMESIZE, "%s", i->if_name);
		memcpy(mac, want, ETH_ALEN);
		found = i->if_index;
	}
	if (ifs)
		if_freenameindex(ifs);
	close(fd);
	return found;
}

static int vj_socket(void)
{
	return socket(PF_VJCHAN, SOCK_RAW | SOCK_NONBLOCK, VJ_PROTO_DEFAULT);
}

static int vj_bind(int fd, __u32 ifindex, __u32 queue)
{
	struct sockaddr_vj a = {
		.svj_family = AF_VJCHAN,
		.svj_ifindex = ifindex,
		.svj_queue_id = queue,
	};

	return bind(fd, (struct sockaddr *)&a, sizeof(a));
}

/* IPv4 UDP to @port (any address): the filter of the channels here. */
static int vj_add_port_filter(int fd, __u16 port)
{
	struct vj_filter f = {
		.type = VJ_FILTER_IPV4,
		.flags = VJ_FILTER_F_DST_PORT,
		.l4_proto = IPPROTO_UDP,
		.dst_port = htons(port),
	};

	return setsockopt(fd, SOL_VJCHAN, VJ_ADD_FILTER, &f, sizeof(f));
}

/* ------------------------------------------------------------------ */
/* Frames of the harness specification.                                */

/* Payload length L of frame @n: 16..1472 bytes. */
static __u32 payload_len(__u32 n)
{
	return PL_HDR + (__u32)((__u64)n * 37 % 1457);
}

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

static __u32 get_be32(const __u8 *p)
{
	return (__u32)p[0] << 24 | (__u32)p[1] << 16 | (__u32)p[2] << 8 | p[3];
}

/* The IPv4 header checksum, in host byte order, of the 20 bytes at @ip. */
static __u16 ip_csum(const __u8 *ip)
{
	__u32 sum = 0;
	int i;

	for (i = 0; i < 20; i += 2)
		sum += (__u32)ip[i] << 8 | ip[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum & 0xffff;
}

/* Data frame @n of @phase, exactly as the injector builds it; its length. */
static size_t build_frame(__u8 *buf, __u8 phase, __u32 n)
{
	static const __u8 guest[ETH_ALEN] = GUEST_MAC, host[ETH_ALEN] = HOST_MAC;
	__u32 len = payload_len(n), i;
	__u8 *ip = buf + ETH_HLEN;
	__u8 *udp = ip + 20;
	__u8 *pl = udp + 8;

	memcpy(buf, guest, ETH_ALEN);
	memcpy(buf + ETH_ALEN, host, ETH_ALEN);
	put_be16(buf + 12, ETH_P_IP);

	memset(ip, 0, 20);
	ip[0] = 0x45;
	put_be16(ip + 2, 20 + 8 + len);
	put_be16(ip + 4, n & 0xffff);
	put_be16(ip + 6, 0x4000);
	ip[8] = 64;
	ip[9] = IPPROTO_UDP;
	inet_pton(AF_INET, ADDR_HOST, ip + 12);
	inet_pton(AF_INET, ADDR_GUEST, ip + 16);
	put_be16(ip + 10, ip_csum(ip));

	put_be16(udp, SRC_PORT);
	put_be16(udp + 2, PORT_BASE + phase);
	put_be16(udp + 4, 8 + len);
	put_be16(udp + 6, 0);

	memset(pl, 0, PL_HDR);
	pl[0] = 'V';
	pl[1] = 'J';
	pl[2] = phase;
	put_be32(pl + 4, n);
	put_be32(pl + 8, len);
	for (i = PL_HDR; i < len; i++)
		pl[i] = (i + n * 7) & 0xff;
	return HDRS_LEN + len;
}

static bool all_zero(const __u8 *p, size_t len)
{
	while (len--)
		if (*p++)
			return false;
	return true;
}

/*
 * Check what @kind received: a whole frame (RX_RING) or a UDP payload
 * (RX_UDP) of @phase with a sequence number below @total, byte for byte.
 * Frames shorter than ETH_ZLEN may come padded with zeros to ETH_ZLEN (a
 * device may pad); @padded is set then.  Returns the sequence number in
 * @seq and 0, or -1 with the reason in @why.
 */
static int check_frame(enum rx_kind kind, const __u8 *got, size_t len, __u8 phase,
		       __u32 total, __u32 *seq, bool *padded, char *why, size_t wlen)
{
	size_t off = kind == RX_RING ? 0 : HDRS_LEN;
	__u8 exp[FRAME_MAX];
	size_t elen, i;
	__u32 n;

	*padded = false;
	if (len + off < HDRS_LEN + 8) {
		snprintf(why, wlen, "%zu bytes: too short for a data frame", len);
		return -1;
	}
	n = get_be32(got + HDRS_LEN + 4 - off);
	if (n >= total) {
		snprintf(why, wlen, "%zu bytes, sequence number %u of %u", len, n, total);
		return -1;
	}
	*seq = n;
	elen = build_frame(exp, phase, n) - off;
	if (len != elen) {
		if (kind != RX_RING || elen >= ETH_ZLEN || len != ETH_ZLEN ||
		    !all_zero(got + elen, len - elen)) {
			snprintf(why, wlen, "frame %u: %zu bytes, not %zu", n, len, elen);
			return -1;
		}
		*padded = true;
	}
	for (i = 0; i < elen; i++) {
		if (got[i] != exp[off + i]) {
			snprintf(why, wlen, "frame %u (%zu bytes): byte %zu is %#x, not %#x",
				 n, len, i, got[i], exp[off + i]);
			return -1;
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* The ring.                                                           */

static __u32 ring_avail(struct ring *r)
{
	return __atomic_load_n(r->prod, __ATOMIC_ACQUIRE) - r->next;
}

static void ring_release(struct ring *r)
{
	__atomic_store_n(r->cons, r->next, __ATOMIC_RELEASE);
}

/* Map the ring of bound socket @fd; frames may already wait in it. */
static void ring_map(struct __test_metadata *_metadata, int fd, struct ring *r)
{
	struct vj_ring_offsets *o = &r->off;
	socklen_t len = sizeof(*o);

	memset(r, 0, sizeof(*r));
	ASSERT_EQ(0, getsockopt(fd, SOL_VJCHAN, VJ_RING_OFFSETS, o, &len))
		TH_LOG("VJ_RING_OFFSETS: %s", strerror(errno));
	ASSERT_EQ(sizeof(*o), (size_t)len);
	ASSERT_NE(0U, o->nr_slots);
	ASSERT_EQ(0U, o->nr_slots & (o->nr_slots - 1));
	ASSERT_LE(sizeof(struct vj_desc), o->desc_size);
	ASSERT_LE(o->producer + 4, o->mmap_size);
	ASSERT_LE(o->consumer + 4, o->mmap_size);
	ASSERT_LE(o->flags + 4, o->mmap_size);
	ASSERT_LE(o->desc + (__u64)o->nr_slots * o->desc_size, o->mmap_size);
	ASSERT_NE(0U, o->nr_bufs);
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
}

static void ring_unmap(struct __test_metadata *_metadata, struct ring *r)
{
	if (r->map)
		EXPECT_EQ(0, munmap(r->map, r->size));
	r->map = NULL;
	free(r->marked);
	r->marked = NULL;
}

/* The marker: byte @i of a marked buffer; no frame of the harness has it. */
static __u8 mark_byte(size_t i)
{
	return (__u8)(0xa5 ^ i ^ (i >> 8) * 0x3b);
}

/* The first byte of @len at @p (byte @from of its buffer) not the marker, or @len. */
static size_t mark_mismatch(const __u8 *p, size_t from, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != mark_byte(from + i))
			break;
	return i;
}

/*
 * Wait up to @ms for a frame in @r, sleeping the documented way: store the
 * consumer index, set VJ_RING_NEED_WAKEUP, full fence, look again, poll().
 * Returns true if a frame is there.
 */
static bool ring_wait(struct __test_metadata *_metadata, int fd, struct ring *r, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	__u64 end = now_ns() + (__u64)ms * 1000000ULL;
	int left, ret;

	for (;;) {
		if (ring_avail(r))
			return true;
		left = ms_until(end);
		if (!left)
			return false;
		ring_release(r);
		__atomic_store_n(r->flags, VJ_RING_NEED_WAKEUP, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (!ring_avail(r)) {
			pfd.revents = 0;
			ret = poll(&pfd, 1, left);
			ASSERT_TRUE(ret >= 0 || errno == EINTR) TH_LOG("poll: %s", strerror(errno));
			ASSERT_EQ(0, pfd.revents & (POLLERR | POLLNVAL))
				TH_LOG("poll: revents %#x", pfd.revents);
		}
		__atomic_store_n(r->flags, 0, __ATOMIC_RELAXED);
	}
}

/*
 * Consume the next frame of @r, which the producer has passed: check its
 * descriptor, copy the frame into @buf, release the slot.  Its length.
 */
static size_t ring_consume(struct __test_metadata *_metadata, struct ring *r, __u8 *buf)
{
	const struct vj_ring_offsets *o = &r->off;
	__u32 prod = __atomic_load_n(r->prod, __ATOMIC_ACQUIRE);
	struct vj_desc d;
	__u64 rel;

	ASSERT_NE(prod, r->next);
	ASSERT_GE(o->nr_bufs, prod - r->next)
		TH_LOG("producer %u is %u ahead of consumer %u", prod, prod - r->next, r->next);
	memcpy(&d, r->map + o->desc + (size_t)(r->next & (o->nr_slots - 1)) * o->desc_size,
	       sizeof(d));
	ASSERT_LE(o->buffers, d.addr) TH_LOG("index %u: addr %#llx before the buffers",
					     r->next, (unsigned long long)d.addr);
	rel = d.addr - o->buffers;
	ASSERT_GT((__u64)o->nr_bufs * o->buf_size, rel)
		TH_LOG("index %u: addr %#llx past the buffers", r->next,
		       (unsigned long long)d.addr);
	ASSERT_EQ(o->headroom, rel % o->buf_size)
		TH_LOG("index %u: frame not headroom bytes into its buffer", r->next);
	ASSERT_NE(0U, d.len) TH_LOG("index %u: empty frame", r->next);
	ASSERT_GE((__u32)FRAME_MAX, d.len) TH_LOG("index %u: %u bytes", r->next, d.len);
	ASSERT_LE(rel % o->buf_size + d.len, o->buf_size)
		TH_LOG("index %u: frame (len %u) runs past its buffer", r->next, d.len);
	ASSERT_LE(d.addr + d.len, r->size);
	memcpy(buf, r->map + d.addr, d.len);
	if (r->marked) {
		__u32 b = rel / o->buf_size;
		__u8 *start = r->map + o->buffers + (size_t)b * o->buf_size;
		size_t head = o->headroom, tail = head + d.len, bad;

		if (r->marked[b]) {
			/*
			 * The device wrote the frame into this buffer after the
			 * marker was put there through this mapping: the frame
			 * is where the marker was, and the headroom (the
			 * virtio-net header goes to kernel memory) and the
			 * bytes after the frame still hold the marker.
			 */
			r->frames_marked++;
			bad = mark_mismatch(start, 0, head);
			ASSERT_EQ(head, bad)
				TH_LOG("index %u, buffer %u: headroom byte %zu written (%#x)",
				       r->next, b, bad, start[bad]);
			ASSERT_NE(d.len, mark_mismatch(start + head, head, d.len))
				TH_LOG("index %u, buffer %u: the marker is still there",
				       r->next, b);
			bad = mark_mismatch(start + tail, tail, o->buf_size - tail);
			ASSERT_EQ(o->buf_size - tail, bad)
				TH_LOG("index %u, buffer %u: byte %zu past the frame (%u): %#x",
				       r->next, b, tail + bad, d.len, start[tail + bad]);
		}
		/* Ours until released: the marker goes in before the release. */
		for (bad = 0; bad < o->buf_size; bad++)
			start[bad] = mark_byte(bad);
		r->marked[b] = true;
	}
	r->next++;
	ring_release(r);
	return d.len;
}

static void vj_stats(struct __test_metadata *_metadata, int fd, struct vj_statistics *st)
{
	socklen_t len = sizeof(*st);

	memset(st, 0, sizeof(*st));
	ASSERT_EQ(0, getsockopt(fd, SOL_VJCHAN, VJ_STATISTICS, st, &len))
		TH_LOG("VJ_STATISTICS: %s", strerror(errno));
	ASSERT_EQ(sizeof(*st), (size_t)len);
}

/* A channel on queue 0 of the NIC for PORT_BASE + PHASE_CH, ring mapped. */
static int open_channel(struct __test_metadata *_metadata, struct _test_data_virtio *self,
			struct ring *r)
{
	int fd = vj_socket();

	ASSERT_LE(0, fd) TH_LOG("socket(PF_VJCHAN): %s", strerror(errno));
	ASSERT_EQ(0, vj_add_port_filter(fd, PORT_BASE + PHASE_CH))
		TH_LOG("VJ_ADD_FILTER: %s", strerror(errno));
	ASSERT_EQ(0, vj_bind(fd, self->ifindex, 0))
		TH_LOG("bind %s queue 0: %s", self->ifname, strerror(errno));
	ring_map(_metadata, fd, r);
	return fd;
}

/* ------------------------------------------------------------------ */
/* Requests and receiving.                                             */

static void send_request(struct __test_metadata *_metadata, struct _test_data_virtio *self,
			 __u8 phase, __u8 mode, __u32 first, __u32 count, __u32 total)
{
	struct pollfd pfd = { .fd = self->req, .events = POLLOUT };
	__u8 buf[REQ_LEN] = { 0 };
	ssize_t n;

	memset(buf, 0xff, ETH_ALEN);
	memcpy(buf + ETH_ALEN, self->mac, ETH_ALEN);
	put_be16(buf + 12, ETH_P_VJREQ);
	memcpy(buf + ETH_HLEN, "VJREQ", 5);
	buf[ETH_HLEN + 5] = phase;
	buf[ETH_HLEN + 6] = mode;
	put_be32(buf + ETH_HLEN + 8, first);
	put_be32(buf + ETH_HLEN + 12, count);
	put_be32(buf + ETH_HLEN + 16, total);

	ASSERT_EQ(1, poll(&pfd, 1, WAIT_MS)) TH_LOG("packet socket not writable");
	n = send(self->req, buf, sizeof(buf), 0);
	ASSERT_EQ((ssize_t)sizeof(buf), n) TH_LOG("send request: %s", strerror(errno));
}

/*
 * The next frame (RX_RING) or UDP payload (RX_UDP) from @rx within @ms, into
 * @buf: its length, 0 if none came.
 */
static size_t rx_next(struct __test_metadata *_metadata, struct rx *rx, __u8 *buf, int ms)
{
	struct pollfd pfd = { .fd = rx->fd, .events = POLLIN };
	struct sockaddr_in from;
	socklen_t flen = sizeof(from);
	char addr[INET_ADDRSTRLEN];
	ssize_t n;

	if (rx->kind == RX_RING) {
		if (!ring_wait(_metadata, rx->fd, rx->r, ms))
			return 0;
		return ring_consume(_metadata, rx->r, buf);
	}
	if (poll(&pfd, 1, ms) != 1)
		return 0;
	n = recvfrom(rx->fd, buf, FRAME_MAX, 0, (struct sockaddr *)&from, &flen);
	ASSERT_LE(0, n) TH_LOG("recvfrom: %s", strerror(errno));
	inet_ntop(AF_INET, &from.sin_addr, addr, sizeof(addr));
	ASSERT_EQ(0, strcmp(addr, ADDR_HOST)) TH_LOG("datagram from %s", addr);
	ASSERT_EQ(SRC_PORT, ntohs(from.sin_port));
	return n;
}

/*
 * Ask for frames @first .. @first + @count - 1 of @phase (mode 0) and
 * receive them from @rx, each checked byte for byte; within each answer they
 * must come in order.  When no frame comes for WAIT_MS, or the last frame
 * asked for came but some before it did not, ask again from the first
 * missing one, at most MAX_REREQ times.  Frames received twice are counted.
 */
static void fetch(struct __test_metadata *_metadata, struct _test_data_virtio *self,
		  struct rx *rx, __u8 phase, __u32 first, __u32 count, __u32 total,
		  struct fetch_count *c)
{
	__u32 next = first, end = first + count, last = 0, seq = 0, tries = 0;
	bool have_last = false, padded, have[CHUNK] = { false };
	__u8 buf[FRAME_MAX];
	char why[128];
	size_t len;

	ASSERT_GE((__u32)CHUNK, count);
	send_request(_metadata, self, phase, MODE_FRAMES, first, count, total);
	while (next < end) {
		ASSERT_LT(now_ns(), self->deadline)
			TH_LOG("out of time at frame %u of phase %u", next, phase);
		len = rx_next(_metadata, rx, buf, WAIT_MS);
		if (len) {
			ASSERT_EQ(0, check_frame(rx->kind, buf, len, phase, total, &seq, &padded,
						 why, sizeof(why)))
				TH_LOG("phase %u, waiting for frame %u: %s", phase, next, why);
			c->frames++;
			c->padded += padded;
			if (have_last && seq <= last)
				c->disorder++;
			have_last = true;
			last = seq;
			if (seq < first || seq >= end || have[seq - first])
				c->dups++;
			else
				have[seq - first] = true;
			while (next < end && have[next - first])
				next++;
			/* The answer is complete: anything still missing is lost. */
			if (seq != end - 1 || next >= end)
				continue;
		}
		ASSERT_GT((__u32)MAX_REREQ, tries)
			TH_LOG("phase %u: frames from %u on missing after %u requests (%s?)",
			       phase, next, tries + 1, "no vjchan-inject on the host");
		tries++;
		c->rerequests++;
		have_last = false;
		send_request(_metadata, self, phase, MODE_FRAMES, next, end - next, total);
	}
}

/* Receive from @rx until nothing came for QUIET_MS; each frame checked. */
static __u32 drain(struct __test_metadata *_metadata, struct rx *rx, __u8 phase, __u32 total)
{
	__u64 end = now_ns() + QUIET_MAX_MS * 1000000ULL;
	__u8 buf[FRAME_MAX];
	__u32 n = 0, seq;
	bool padded;
	char why[128];
	size_t len;

	while ((len = rx_next(_metadata, rx, buf, QUIET_MS))) {
		EXPECT_EQ(0, check_frame(rx->kind, buf, len, phase, total, &seq, &padded,
					 why, sizeof(why)))
			TH_LOG("phase %u, late frame: %s", phase, why);
		n++;
		ASSERT_GT(end, now_ns()) TH_LOG("phase %u: frames keep coming", phase);
	}
	return n;
}

/* Forget what is on its way to the NIC: wait until nothing came for QUIET_MS. */
static __u32 quiesce(struct __test_metadata *_metadata, int ifindex)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_ALL),
		.sll_ifindex = ifindex,
	};
	__u64 end = now_ns() + QUIET_MAX_MS * 1000000ULL;
	struct pollfd pfd = { .events = POLLIN };
	socklen_t slen;
	__u8 buf[FRAME_MAX];
	__u32 n = 0;
	int fd;

	fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, htons(ETH_P_ALL));
	ASSERT_LE(0, fd) TH_LOG("AF_PACKET: %s", strerror(errno));
	ASSERT_EQ(0, bind(fd, (struct sockaddr *)&sll, sizeof(sll)));
	pfd.fd = fd;
	while (poll(&pfd, 1, QUIET_MS) == 1) {
		slen = sizeof(sll);
		if (recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&sll, &slen) > 0 &&
		    sll.sll_pkttype != PACKET_OUTGOING)
			n++;
		ASSERT_GT(end, now_ns()) TH_LOG("the NIC never goes quiet");
	}
	close(fd);
	return n;
}

/* An ordinary UDP socket on ADDR_GUEST:@port, with room for a few chunks. */
static int udp_socket(struct __test_metadata *_metadata, __u16 port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	int size = 4 << 20;

	ASSERT_LE(0, fd) TH_LOG("socket: %s", strerror(errno));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	inet_pton(AF_INET, ADDR_GUEST, &sin.sin_addr);
	ASSERT_EQ(0, bind(fd, (struct sockaddr *)&sin, sizeof(sin)))
		TH_LOG("bind udp %s:%u: %s", ADDR_GUEST, port, strerror(errno));
	return fd;
}

static void log_count(struct __test_metadata *_metadata, const char *what,
		      const struct fetch_count *c)
{
	TH_LOG("%s: %u frames received, %u re-requests, %u duplicates, %u padded",
	       what, c->frames, c->rerequests, c->dups, c->padded);
}

/* ------------------------------------------------------------------ */

FIXTURE_SETUP(virtio)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };
	char path[128];
	__u32 n;
	int fd;

	self->req = -1;
	self->fd = -1;
	self->udp = -1;
	self->link = -1;
	memset(&self->r, 0, sizeof(self->r));
	self->deadline = now_ns() + 60 * 1000000000ULL;

	self->ifindex = find_nic(self->ifname, self->mac);
	if (!self->ifindex)
		SKIP(return, "no NIC with MAC " GUEST_MAC_STR ": not in the vjchan QEMU harness");
	fd = vj_socket();
	if (fd < 0 && errno == EAFNOSUPPORT)
		SKIP(return, "PF_VJCHAN not supported (CONFIG_VJCHAN=n)");
	ASSERT_LE(0, fd) TH_LOG("socket: %s", strerror(errno));
	close(fd);
	if (run("ip -V >/dev/null 2>&1"))
		SKIP(return, "ip (iproute2) not found");

	/* No IPv6 autoconfiguration chatter on the NIC. */
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", self->ifname);
	write_file(path, "1");
	ASSERT_EQ(0, run("ip link set dev %s up", self->ifname));
	/* "replace": the address may already be there from an earlier run. */
	ASSERT_EQ(0, run("ip addr replace %s/%d dev %s", ADDR_GUEST, PREFIX_LEN, self->ifname));

	/* Sends requests, receives nothing (protocol 0). */
	self->req = socket(AF_PACKET, SOCK_RAW, 0);
	ASSERT_LE(0, self->req) TH_LOG("AF_PACKET: %s", strerror(errno));
	sll.sll_ifindex = self->ifindex;
	ASSERT_EQ(0, bind(self->req, (struct sockaddr *)&sll, sizeof(sll)))
		TH_LOG("bind AF_PACKET to %s: %s", self->ifname, strerror(errno));

	/* Frames an earlier test asked for may still be on their way. */
	n = quiesce(_metadata, self->ifindex);
	if (n)
		TH_LOG("%u frames were still on their way to %s", n, self->ifname);
}

FIXTURE_TEARDOWN(virtio)
{
	if (self->link >= 0)
		EXPECT_EQ(0, close(self->link));
	ring_unmap(_metadata, &self->r);
	if (self->fd >= 0)
		EXPECT_EQ(0, close(self->fd));
	if (self->udp >= 0)
		close(self->udp);
	if (self->req >= 0)
		close(self->req);
}

static void set_budget(struct _test_data_virtio *self, int timeout)
{
	self->deadline = now_ns() + (__u64)(timeout - TIMEOUT_SLACK) * 1000000000ULL;
}

/*
 * Every frame of phase 1 lands in the channel's ring, where the device put
 * it: in order, byte for byte, and nothing was copied or went to the stack.
 * The device writes the pages this process maps: every buffer the test
 * consumed is filled with a marker through the mapping before it is
 * released, and when a later frame arrives in it (lent to the device again
 * after the release), the frame is where the marker was and nothing else of
 * the buffer changed.  The buffers posted at bind, before the ring could be
 * mapped, carry one frame each unmarked: all the others are checked.
 */
TEST_F_TIMEOUT(virtio, zero_copy_receive, ZC_TIMEOUT)
{
	struct rx rx = { .kind = RX_RING, .r = &self->r };
	struct fetch_count c = { 0 };
	struct vj_statistics st;
	__u32 first, late;

	set_budget(self, ZC_TIMEOUT);
	self->fd = open_channel(_metadata, self, &self->r);
	self->r.marked = calloc(self->r.off.nr_bufs, sizeof(*self->r.marked));
	ASSERT_NE(NULL, self->r.marked);
	rx.fd = self->fd;
	for (first = 0; first < TOTAL_CH; first += CHUNK)
		fetch(_metadata, self, &rx, PHASE_CH, first, CHUNK, TOTAL_CH, &c);
	/* Copies of re-requested frames may still come. */
	late = drain(_metadata, &rx, PHASE_CH, TOTAL_CH);
	log_count(_metadata, "ring", &c);
	TH_LOG("%u of %u frames arrived in a buffer marked through the mapping",
	       self->r.frames_marked, c.frames + late);
	EXPECT_LT(0U, self->r.frames_marked);
	/* At most one frame per buffer (nr_bufs of them) came unmarked. */
	EXPECT_LE(c.frames + late, self->r.frames_marked + self->r.off.nr_bufs);
	EXPECT_EQ(0U, c.disorder) TH_LOG("%u frames out of order", c.disorder);
	EXPECT_EQ(0U, ring_avail(&self->r));

	vj_stats(_metadata, self->fd, &st);
	TH_LOG("rx_packets %llu rx_bytes %llu rx_ring_full %llu rx_wakeups %llu",
	       (unsigned long long)st.rx_packets, (unsigned long long)st.rx_bytes,
	       (unsigned long long)st.rx_ring_full, (unsigned long long)st.rx_wakeups);
	EXPECT_EQ(0U, st.rx_copies);
	EXPECT_EQ(0U, st.rx_stack);
	EXPECT_EQ(c.frames + late, st.rx_packets) TH_LOG("%u late frames", late);
	EXPECT_EQ(0U, st.rx_invalid_consumer);
	EXPECT_EQ(0U, st.rx_bad_length);
}

/* No channel: the frames of phase 2 reach an ordinary UDP socket. */
TEST_F_TIMEOUT(virtio, stack_receive_without_channel, STACK_TIMEOUT)
{
	struct rx rx = { .kind = RX_UDP };
	struct fetch_count c = { 0 };
	__u32 first;

	set_budget(self, STACK_TIMEOUT);
	self->udp = udp_socket(_metadata, PORT_BASE + PHASE_STACK);
	rx.fd = self->udp;
	for (first = 0; first < TOTAL_STACK; first += CHUNK)
		fetch(_metadata, self, &rx, PHASE_STACK, first, CHUNK, TOTAL_STACK, &c);
	log_count(_metadata, "udp", &c);
	EXPECT_EQ(0U, c.disorder) TH_LOG("%u frames out of order", c.disorder);
}

/*
 * A channel for phase 1 is bound: the frames of phase 3 do not match its
 * filter and reach the UDP socket through the stack, copied once each.
 */
TEST_F_TIMEOUT(virtio, nonmatching_to_stack_with_channel, OTHER_TIMEOUT)
{
	struct rx rx = { .kind = RX_UDP };
	struct fetch_count c = { 0 };
	struct vj_statistics st;
	__u32 first, late;

	set_budget(self, OTHER_TIMEOUT);
	self->fd = open_channel(_metadata, self, &self->r);
	self->udp = udp_socket(_metadata, PORT_BASE + PHASE_OTHER);
	rx.fd = self->udp;
	for (first = 0; first < TOTAL_OTHER; first += CHUNK)
		fetch(_metadata, self, &rx, PHASE_OTHER, first, CHUNK, TOTAL_OTHER, &c);
	/* Copies of re-requested frames may still come. */
	late = drain(_metadata, &rx, PHASE_OTHER, TOTAL_OTHER);
	log_count(_metadata, "udp", &c);
	EXPECT_EQ(0U, c.disorder) TH_LOG("%u frames out of order", c.disorder);

	vj_stats(_metadata, self->fd, &st);
	EXPECT_EQ(0U, st.rx_packets);
	EXPECT_EQ(0U, ring_avail(&self->r));
	EXPECT_EQ(st.rx_stack, st.rx_copies);
	EXPECT_EQ(c.frames + late, st.rx_stack) TH_LOG("%u late frames", late);
	if (!c.rerequests)
		EXPECT_EQ((__u64)TOTAL_OTHER, st.rx_stack);
	EXPECT_EQ(0U, st.rx_ring_full);
}

/*
 * Channels come and go on the queue while phase 1 floods it; each one's
 * frames are right.  Then a last one gets a whole chunk.
 */
TEST_F_TIMEOUT(virtio, bind_unbind_under_flood, FLOOD_TIMEOUT)
{
	struct rx rx = { .kind = RX_RING };
	struct fetch_count c = { 0 };
	__u32 i, k, seq, consumed = 0, bound_empty = 0, late;
	struct vj_statistics st;
	__u8 buf[FRAME_MAX];
	struct ring r;
	__u64 flood_end;
	char why[128];
	bool padded;
	size_t len;
	int fd;

	set_budget(self, FLOOD_TIMEOUT);
	send_request(_metadata, self, PHASE_CH, MODE_FLOOD, 0, FLOOD_MS, TOTAL_CH);
	flood_end = now_ns() + (FLOOD_MS + QUIET_MS) * 1000000ULL;

	for (i = 0; i < FLOOD_ROUNDS; i++) {
		fd = open_channel(_metadata, self, &r);
		if (!ring_wait(_metadata, fd, &r, ROUND_WAIT_MS))
			bound_empty++;
		/* What is there now, and no more than a ring's worth. */
		for (k = 0; k < r.off.nr_bufs && ring_avail(&r); k++) {
			len = ring_consume(_metadata, &r, buf);
			ASSERT_EQ(0, check_frame(RX_RING, buf, len, PHASE_CH, TOTAL_CH, &seq,
						 &padded, why, sizeof(why)))
				TH_LOG("round %u: %s", i, why);
			consumed++;
		}
		EXPECT_EQ(0, munmap(r.map, r.size));
		EXPECT_EQ(0, close(fd));
	}
	TH_LOG("%u frames consumed in %u rounds, %u rounds without a frame",
	       consumed, FLOOD_ROUNDS, bound_empty);
	EXPECT_LT(0U, consumed) TH_LOG("no frame of the flood reached a channel");

	/* The queue is free: a last channel, bound while the flood may go on. */
	self->fd = open_channel(_metadata, self, &self->r);
	rx.fd = self->fd;
	rx.r = &self->r;
	late = 0;
	while (now_ns() < flood_end)
		late += drain(_metadata, &rx, PHASE_CH, TOTAL_CH);
	late += drain(_metadata, &rx, PHASE_CH, TOTAL_CH);
	TH_LOG("%u flood frames in the last channel", late);

	fetch(_metadata, self, &rx, PHASE_CH, 0, CHUNK, TOTAL_CH, &c);
	log_count(_metadata, "ring", &c);
	EXPECT_EQ(0U, c.disorder) TH_LOG("%u frames out of order", c.disorder);
	vj_stats(_metadata, self->fd, &st);
	EXPECT_LE(late + c.frames, st.rx_packets);
	EXPECT_EQ(0U, st.rx_invalid_consumer);
	EXPECT_EQ(0U, st.rx_bad_length);
}

/*
 * A channel on a queue and an XDP program on the device exclude each other:
 * whichever comes second fails with EBUSY, and gets its turn once the first
 * is gone.  The XDP program is attached with a BPF link, and detached by
 * closing the link.
 */
TEST_F_TIMEOUT(virtio, xdp_excludes_channel, XDP_TIMEOUT)
{
	int prog, ret, err;

	/* No bpf() in this kernel (CONFIG_BPF_SYSCALL=n), or not allowed. */
	prog = vj_xdp_prog(XDP_PASS);
	err = errno;
	if (prog < 0 && (err == vj_no_syscall_errno() || err == EPERM))
		SKIP(return, "bpf(BPF_PROG_LOAD): %s", strerror(err));
	ASSERT_LE(0, prog) TH_LOG("bpf(BPF_PROG_LOAD): %s", strerror(err));

	/* A channel is bound to queue 0: no XDP program on the device. */
	self->fd = open_channel(_metadata, self, &self->r);
	self->link = vj_xdp_link(prog, self->ifindex);
	err = errno;
	ASSERT_EQ(-1, self->link) TH_LOG("XDP attached to %s with a channel bound", self->ifname);
	ASSERT_EQ(EBUSY, err) TH_LOG("XDP with a channel bound: %s, not EBUSY", strerror(err));

	/* The channel is gone: the program attaches. */
	ring_unmap(_metadata, &self->r);
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
	self->link = vj_xdp_link(prog, self->ifindex);
	ASSERT_LE(0, self->link) TH_LOG("XDP on %s with the channel gone: %s",
					self->ifname, strerror(errno));
	/* The link holds the program. */
	EXPECT_EQ(0, close(prog));

	/* The program is attached: no channel binds to queue 0. */
	self->fd = vj_socket();
	ASSERT_LE(0, self->fd) TH_LOG("socket(PF_VJCHAN): %s", strerror(errno));
	ASSERT_EQ(0, vj_add_port_filter(self->fd, PORT_BASE + PHASE_CH))
		TH_LOG("VJ_ADD_FILTER: %s", strerror(errno));
	ret = vj_bind(self->fd, self->ifindex, 0);
	err = errno;
	ASSERT_EQ(-1, ret) TH_LOG("channel bound to %s queue 0 with XDP attached", self->ifname);
	ASSERT_EQ(EBUSY, err) TH_LOG("bind with XDP attached: %s, not EBUSY", strerror(err));
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;

	/* The link is closed, so the program is detached: a new channel binds. */
	ASSERT_EQ(0, close(self->link));
	self->link = -1;
	self->fd = open_channel(_metadata, self, &self->r);
}

/*
 * ARP keeps working with a channel bound.  The injector's ARP request for
 * ADDR_GUEST does not match the channel's filter (IPv4 UDP to phase 1's
 * port), so it reaches the stack, which answers it; only a correct reply
 * makes the injector confirm with frame 0 of phase 4, which reaches the UDP
 * socket through the stack too.  The injector waits 5 s for the reply: ask
 * again when no confirmation came in twice that.
 */
TEST_F_TIMEOUT(virtio, arp_answered_while_bound, ARP_TIMEOUT)
{
	struct rx rx = { .kind = RX_UDP };
	struct vj_statistics st;
	__u8 buf[FRAME_MAX];
	__u32 tries = 0, seq;
	size_t len = 0;
	char why[128];
	bool padded;

	set_budget(self, ARP_TIMEOUT);
	self->fd = open_channel(_metadata, self, &self->r);
	self->udp = udp_socket(_metadata, PORT_BASE + PHASE_ARP);
	rx.fd = self->udp;
	while (!len) {
		ASSERT_GE((__u32)ARP_RETRIES, tries)
			TH_LOG("no confirmation of the ARP probe after %u requests (%s?)",
			       tries, "no ARP reply, or a vjchan-inject without mode 2");
		ASSERT_LT(now_ns(), self->deadline) TH_LOG("out of time for the ARP probe");
		send_request(_metadata, self, PHASE_ARP, MODE_ARP, 0, 1, 1);
		tries++;
		len = rx_next(_metadata, &rx, buf, ARP_WAIT_MS);
	}
	/* A total of 1: the confirmation is frame 0. */
	ASSERT_EQ(0, check_frame(RX_UDP, buf, len, PHASE_ARP, 1, &seq, &padded,
				 why, sizeof(why)))
		TH_LOG("confirmation of the ARP probe: %s", why);
	TH_LOG("ARP probe confirmed after %u requests", tries);

	vj_stats(_metadata, self->fd, &st);
	TH_LOG("rx_packets %llu rx_stack %llu rx_copies %llu",
	       (unsigned long long)st.rx_packets, (unsigned long long)st.rx_stack,
	       (unsigned long long)st.rx_copies);
	/* At least the ARP request and the confirmation. */
	EXPECT_LE(2U, st.rx_stack);
	EXPECT_EQ(st.rx_stack, st.rx_copies);
	EXPECT_EQ(0U, st.rx_packets);
	EXPECT_EQ(0U, ring_avail(&self->r));
}

TEST_HARNESS_MAIN
