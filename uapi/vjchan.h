/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * PF_VJCHAN: Van Jacobson network channels.
 *
 * A PF_VJCHAN socket owns a channel: a ring of pages that the kernel fills
 * with received frames and that the process maps with mmap(2).  bind(2)
 * attaches the channel to one receive queue of a network device; flow
 * filters (setsockopt) say which frames belong to it; frames that match no
 * filter go on to the normal stack.
 *
 * The ring's layout is not ABI: user space reads the offsets of its parts
 * with getsockopt(VJ_RING_OFFSETS) and maps mmap_size bytes at offset
 * VJ_MMAP_OFFSET_RX_RING.
 *
 * See Documentation/networking/vjchan.rst.
 */
#ifndef _UAPI_LINUX_VJCHAN_H
#define _UAPI_LINUX_VJCHAN_H

#include <linux/types.h>

/*
 * Address family and socket option level.  Address family numbers are not
 * part of the kernel's uapi headers; like libbpf does for AF_XDP, they are
 * provided here for user space.  They match include/linux/socket.h.
 */
#ifndef AF_VJCHAN
#define AF_VJCHAN	46
#endif
#ifndef PF_VJCHAN
#define PF_VJCHAN	AF_VJCHAN
#endif
#ifndef SOL_VJCHAN
#define SOL_VJCHAN	288
#endif

/* socket(PF_VJCHAN, SOCK_RAW, VJ_PROTO_DEFAULT) */
#define VJ_PROTO_DEFAULT	0

/*
 * bind(2): attach the channel to receive queue svj_queue_id of the device
 * svj_ifindex, in the socket's network namespace.  A device channel can
 * take any traffic of its queue, so binding, mapping the ring and changing
 * filters need CAP_NET_ADMIN in the user namespace that owns that network
 * namespace, both for the socket's opener and for the caller.  A socket is
 * bound once (a failed bind leaves nothing allocated); a queue has at most
 * one channel.
 */
struct sockaddr_vj {
	__u16	svj_family;	/* AF_VJCHAN */
	__u16	svj_flags;	/* none defined yet: must be 0 */
	__u32	svj_ifindex;
	__u32	svj_queue_id;
	__u32	svj_reserved;	/* must be 0 */
};

/* Socket options at level SOL_VJCHAN. */
#define VJ_RING_OFFSETS		1	/* get: struct vj_ring_offsets */
#define VJ_STATISTICS		2	/* get: struct vj_statistics */
#define VJ_FEATURES		3	/* get: __u64, VJ_FEATURE_* bits */
#define VJ_ADD_FILTER		4	/* set: struct vj_filter */
#define VJ_DEL_FILTER		5	/* set: struct vj_filter, as added */
#define VJ_RING_SETUP		6	/* set, before bind: struct vj_ring_setup */

/* VJ_FEATURES bits: what this kernel's channels do. */
#define VJ_FEATURE_RX_RING		(1ULL << 0)
#define VJ_FEATURE_NEED_WAKEUP		(1ULL << 1)
#define VJ_FEATURE_FILTER_ETHERTYPE	(1ULL << 2)
#define VJ_FEATURE_FILTER_IP		(1ULL << 3)
#define VJ_FEATURE_NF_INGRESS		(1ULL << 4)	/* netfilter ingress policy applies */
#define VJ_FEATURE_MEMLOCK		(1ULL << 5)	/* rings charged to RLIMIT_MEMLOCK */
#define VJ_FEATURE_STATUS		(1ULL << 6)	/* vj_ring_offsets.status is valid */
#define VJ_FEATURE_RING_SETUP		(1ULL << 7)	/* VJ_RING_SETUP, nr_bufs and frame_max */
#define VJ_FEATURE_DESC_FLAGS		(1ULL << 8)	/* vj_desc.flags, rxhash, tstamp */

/* mmap(2) offset of the receive ring. */
#define VJ_MMAP_OFFSET_RX_RING	0ULL

/*
 * VJ_RING_SETUP: the geometry of the ring, chosen before bind(2) (EBUSY
 * after it); without it bind uses the defaults.  A field left 0 takes its
 * default or is derived from the others:
 *
 * - buf_size: bytes per buffer, headroom included; a power of two from
 *   VJ_RING_BUF_SIZE_MIN to the page size (default 2048).  A frame holds
 *   buf_size - headroom bytes (vj_ring_offsets.frame_max); bind refuses with
 *   EMSGSIZE when that is less than the device's MTU plus an Ethernet
 *   header and a VLAN tag.
 * - nr_slots: descriptors in the ring; a power of two from
 *   VJ_RING_SLOTS_MIN to VJ_RING_SLOTS_MAX.  0: the smallest that
 *   describes every buffer that fits in size.
 * - size: bytes to map, a multiple of the page size, at most
 *   VJ_RING_SIZE_MAX.  0: VJ_RING_SIZE_DEFAULT (256 pages of 4 KiB) if
 *   nr_slots is 0, else what nr_slots buffers need.
 *
 * Every page of the ring is used: the first pages hold the ring's words and
 * descriptors, the rest buffers, nr_bufs (<= nr_slots) of them.  A size
 * whose buffers would outnumber nr_slots, or that holds fewer than
 * VJ_RING_SLOTS_MIN buffers, is refused with EINVAL.  The ring is charged
 * to RLIMIT_MEMLOCK at bind.  optlen must be sizeof(struct vj_ring_setup);
 * reserved fields and unknown flags must be 0.
 */
struct vj_ring_setup {
	__u64	size;
	__u32	nr_slots;
	__u32	buf_size;
	__u32	flags;		/* VJ_RING_SETUP_F_* */
	__u32	reserved0;
	__u64	reserved[2];
};

/* vj_ring_setup.flags */
#define VJ_RING_SETUP_F_TSTAMP	(1U << 0)	/* stamp each frame: VJ_DESC_F_TSTAMP */

#define VJ_RING_SIZE_DEFAULT	(1ULL << 20)
#define VJ_RING_SIZE_MAX	(1ULL << 30)
#define VJ_RING_SLOTS_MIN	16
#define VJ_RING_SLOTS_MAX	32768
#define VJ_RING_BUF_SIZE_MIN	1024

/*
 * VJ_RING_OFFSETS: where the parts of the ring are, as byte offsets from
 * the start of the mapping, for the geometry bind uses (before bind: the
 * one it would use).  The producer index and the status word are written by
 * the kernel only, at the start; the consumer index and the flags word by
 * user space only, after the descriptors; each on a cache line of its own.
 * Grows at the end: the kernel copies min(optlen, its own size) bytes and
 * returns that length; optlen must cover at least
 * VJ_RING_OFFSETS_SIZE_VER0.
 */
struct vj_ring_offsets {
	__u64	mmap_size;	/* bytes to map at VJ_MMAP_OFFSET_RX_RING */
	__u64	producer;	/* __u32, kernel-written, free-running */
	__u64	consumer;	/* __u32, user-written, free-running */
	__u64	flags;		/* __u32, user-written, VJ_RING_* bits */
	__u64	desc;		/* nr_slots descriptors of desc_size bytes */
	__u64	buffers;	/* buffer area: nr_bufs buffers of buf_size */
	__u32	nr_slots;	/* a power of two; slot of index i: i & (nr_slots - 1) */
	__u32	desc_size;	/* >= sizeof(struct vj_desc) */
	__u32	buf_size;	/* bytes per buffer, headroom included */
	__u32	headroom;	/* bytes before the frame in each buffer */
	__u64	status;		/* __u32, kernel-written, VJ_RING_STATUS_* */
	__u32	nr_bufs;	/* buffers, <= nr_slots: at most this many slots are in use */
	__u32	frame_max;	/* longest frame: buf_size - headroom */
	__u64	reserved[2];
};

#define VJ_RING_OFFSETS_SIZE_VER0	96

/* Bits of the flags word. */
#define VJ_RING_NEED_WAKEUP	(1U << 0)	/* wake me when the producer moves */

/* Bits of the status word, set by the kernel (with VJ_FEATURE_STATUS; without
 * it the offset is 0).  Unknown bits are ignored.
 */
#define VJ_RING_STATUS_DEV_GONE	(1U << 0)	/* the device went away: the channel
						 * is unbound for good (poll() also
						 * says EPOLLERR|EPOLLHUP, SO_ERROR
						 * ENODEV)
						 */
#define VJ_RING_STATUS_NEED_KICK (1U << 1)	/* the driver found the ring full
						 * and holds no buffer: after
						 * releasing slots, call poll() so
						 * that it refills
						 */

/*
 * One slot of the ring: where the frame of that slot is, and what the kernel
 * knows of it.  A field whose VJ_DESC_F_* bit is clear is 0 and means
 * nothing; unknown flag bits are ignored.  Frames are complete as on the
 * wire: VLAN tags are in the frame, checksums filled in (a frame the sender
 * asked the kernel to checksum is checksummed before it is published).
 */
struct vj_desc {
	__u64	addr;		/* offset of the frame from the start of the mapping */
	__u32	len;		/* frame length, Ethernet header included */
	__u32	flags;		/* VJ_DESC_F_* */
	__u32	rxhash;		/* with VJ_DESC_F_RXHASH */
	__u32	reserved;
	__u64	tstamp;		/* with VJ_DESC_F_TSTAMP */
};

/*
 * vj_desc.flags.  VJ_DESC_F_CSUM_OK: the frame's outermost TCP/UDP checksum
 * is known to be correct (the device verified it, or the kernel computed
 * it); the receiver may skip checking it.  Without it, check it if you rely
 * on it.  VJ_DESC_F_RXHASH: rxhash is a hash the device or the kernel tied
 * to the frame's flow (on veth the sending socket's, which may change during
 * a connection): to spread flows, not to identify them.
 * VJ_DESC_F_TSTAMP: tstamp is the time the kernel took the frame, in ns of
 * CLOCK_MONOTONIC (with VJ_RING_SETUP_F_TSTAMP).
 */
#define VJ_DESC_F_CSUM_OK	(1U << 0)
#define VJ_DESC_F_RXHASH	(1U << 1)
#define VJ_DESC_F_TSTAMP	(1U << 2)

/*
 * VJ_STATISTICS.  Grows at the end: the kernel copies min(optlen, its own
 * size) bytes and returns that length; optlen must cover at least
 * VJ_STATISTICS_SIZE_VER0.
 */
struct vj_statistics {
	__u64	rx_packets;		/* frames published into the ring */
	__u64	rx_bytes;		/* their bytes */
	__u64	rx_stack;		/* frames that matched no filter: to the stack */
	__u64	rx_copies;		/* frames vjchan copied (to the stack) */
	__u64	rx_ring_full;		/* no free buffer: slots not released */
	__u64	rx_invalid_consumer;	/* consumer index values ignored */
	__u64	rx_bad_length;		/* frames dropped: length 0 or too long */
	__u64	rx_wakeups;		/* wakeups done because VJ_RING_NEED_WAKEUP was set */
	/* Since VJ_STATISTICS_SIZE_VER1: */
	__u64	rx_nf_dropped;		/* frames the device's netfilter ingress policy dropped */
	__u64	rx_nomem;		/* frames dropped: no memory for a copy */
};

#define VJ_STATISTICS_SIZE_VER0	64
#define VJ_STATISTICS_SIZE_VER1	80

/* struct vj_filter.type */
#define VJ_FILTER_ETHERTYPE	1	/* every frame of one EtherType */
#define VJ_FILTER_IPV4		2	/* IPv4 to a transport port / address */
#define VJ_FILTER_IPV6		3	/* IPv6 (no extension headers), likewise */

/* struct vj_filter.flags */
#define VJ_FILTER_F_DST_ADDR	(1U << 0)	/* match dst_addr */
#define VJ_FILTER_F_DST_PORT	(1U << 1)	/* match dst_port */

/* At most this many filters per channel. */
#define VJ_MAX_FILTERS		16

/*
 * A flow filter.  A frame belongs to the channel if any filter matches it.
 * Packet fields are in network byte order.  Unused and reserved fields must
 * be 0.
 */
struct vj_filter {
	__u16	type;		/* VJ_FILTER_* */
	__u16	flags;		/* VJ_FILTER_F_*; IPv4/IPv6 only */
	__be16	ethertype;	/* VJ_FILTER_ETHERTYPE only */
	__u8	l4_proto;	/* IPPROTO_UDP or IPPROTO_TCP; IPv4/IPv6 only */
	__u8	reserved0;
	__be16	dst_port;	/* with VJ_FILTER_F_DST_PORT */
	__u16	reserved1;
	__u32	reserved2;
	__u8	dst_addr[16];	/* with VJ_FILTER_F_DST_ADDR; IPv4: first 4 bytes */
	__u64	reserved[2];
};

#endif /* _UAPI_LINUX_VJCHAN_H */
