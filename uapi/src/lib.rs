//! Rust mirror of `include/uapi/linux/vjchan.h`, the user ABI of PF_VJCHAN sockets.
//!
//! The C header (`uapi/vjchan.h` in this repository) is the source of truth; the test
//! `tests/c_header.rs` compiles it with the C compiler and checks every value, every struct
//! size and every field offset here against it.
//!
//! PF_VJCHAN: Van Jacobson network channels.
//!
//! A PF_VJCHAN socket owns a channel: a ring of pages that the kernel fills with received
//! frames and that the process maps with `mmap(2)`.  `bind(2)` attaches the channel to one
//! receive queue of a network device; flow filters (`setsockopt`) say which frames belong to
//! it; frames that match no filter go on to the normal stack.
//!
//! The ring's layout is not ABI: user space reads the offsets of its parts with
//! `getsockopt(VJ_RING_OFFSETS)` and maps `mmap_size` bytes at offset
//! [`VJ_MMAP_OFFSET_RX_RING`].
//!
//! The structs are `#[repr(C)]`, have no padding and derive the [`zerocopy`] traits, so they
//! can be read from and written to byte buffers (`getsockopt`/`setsockopt` option values, the
//! mapped ring) without `unsafe`.  Fields keep the C names.  `__be16` fields are
//! [`zerocopy::network_endian::U16`], which cannot be mixed up with a host-order `u16`.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

use zerocopy::network_endian::U16 as Be16;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

// Address family and socket option level.  Address family numbers are not part of the
// kernel's uapi headers; like libbpf does for AF_XDP, they are provided here for user space.
// They match include/linux/socket.h.

/// `AF_VJCHAN`: the address family of network channel sockets.
pub const AF_VJCHAN: u16 = 46;
/// `PF_VJCHAN`: the protocol family, equal to [`AF_VJCHAN`].
pub const PF_VJCHAN: u16 = AF_VJCHAN;
/// `SOL_VJCHAN`: the socket option level of PF_VJCHAN.
pub const SOL_VJCHAN: i32 = 288;
/// `VJ_PROTO_DEFAULT`: the only protocol, the third argument of `socket(2)`:
/// `socket(PF_VJCHAN, SOCK_RAW, VJ_PROTO_DEFAULT)`.
pub const VJ_PROTO_DEFAULT: i32 = 0;

/// `struct sockaddr_vj`, the address of `bind(2)`.
///
/// bind(2): attach the channel to receive queue `svj_queue_id` of the device `svj_ifindex`,
/// in the socket's network namespace.  A device channel can take any traffic of its queue, so
/// binding, mapping the ring and changing filters need `CAP_NET_ADMIN` in the user namespace
/// that owns that network namespace, both for the socket's opener and for the caller.  A
/// socket is bound once (a failed bind leaves nothing allocated); a queue has at most one
/// channel.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct SockaddrVj {
    /// [`AF_VJCHAN`].
    pub svj_family: u16,
    /// None defined yet: must be 0.
    pub svj_flags: u16,
    /// Interface index of the device.
    pub svj_ifindex: u32,
    /// Receive queue of the device.
    pub svj_queue_id: u32,
    /// Must be 0.
    pub svj_reserved: u32,
}

// Socket options at level SOL_VJCHAN.

/// `VJ_RING_OFFSETS`: get: [`RingOffsets`] (`struct vj_ring_offsets`).
pub const VJ_RING_OFFSETS: i32 = 1;
/// `VJ_STATISTICS`: get: [`Statistics`] (`struct vj_statistics`).
pub const VJ_STATISTICS: i32 = 2;
/// `VJ_FEATURES`: get: `__u64`, `VJ_FEATURE_*` bits.
pub const VJ_FEATURES: i32 = 3;
/// `VJ_ADD_FILTER`: set: [`Filter`] (`struct vj_filter`).
pub const VJ_ADD_FILTER: i32 = 4;
/// `VJ_DEL_FILTER`: set: [`Filter`] (`struct vj_filter`), as added.
pub const VJ_DEL_FILTER: i32 = 5;
/// `VJ_RING_SETUP`: set, before `bind(2)`: [`RingSetup`] (`struct vj_ring_setup`).
pub const VJ_RING_SETUP: i32 = 6;

// VJ_FEATURES bits: what this kernel's channels do.

/// `VJ_FEATURE_RX_RING`: [`VJ_FEATURES`] bit: the receive ring.
pub const VJ_FEATURE_RX_RING: u64 = 1 << 0;
/// `VJ_FEATURE_NEED_WAKEUP`: [`VJ_FEATURES`] bit: the [`VJ_RING_NEED_WAKEUP`] flag.
pub const VJ_FEATURE_NEED_WAKEUP: u64 = 1 << 1;
/// `VJ_FEATURE_FILTER_ETHERTYPE`: [`VJ_FEATURES`] bit: [`VJ_FILTER_ETHERTYPE`] filters.
pub const VJ_FEATURE_FILTER_ETHERTYPE: u64 = 1 << 2;
/// `VJ_FEATURE_FILTER_IP`: [`VJ_FEATURES`] bit: [`VJ_FILTER_IPV4`] and [`VJ_FILTER_IPV6`]
/// filters.
pub const VJ_FEATURE_FILTER_IP: u64 = 1 << 3;
/// `VJ_FEATURE_NF_INGRESS`: [`VJ_FEATURES`] bit: the netfilter ingress policy of the device
/// (nftables `netdev`/`inet` ingress chains) applies to frames delivered into the ring.
pub const VJ_FEATURE_NF_INGRESS: u64 = 1 << 4;
/// `VJ_FEATURE_MEMLOCK`: [`VJ_FEATURES`] bit: rings are charged to `RLIMIT_MEMLOCK`.
pub const VJ_FEATURE_MEMLOCK: u64 = 1 << 5;
/// `VJ_FEATURE_STATUS`: [`VJ_FEATURES`] bit: [`RingOffsets::status`] is valid.
pub const VJ_FEATURE_STATUS: u64 = 1 << 6;
/// `VJ_FEATURE_RING_SETUP`: [`VJ_FEATURES`] bit: [`VJ_RING_SETUP`], and
/// [`RingOffsets::nr_bufs`] and [`RingOffsets::frame_max`] are valid.
pub const VJ_FEATURE_RING_SETUP: u64 = 1 << 7;
/// `VJ_FEATURE_DESC_FLAGS`: [`VJ_FEATURES`] bit: [`Desc::flags`] (with `rxhash` and `tstamp`)
/// say what the kernel knows of each frame.
pub const VJ_FEATURE_DESC_FLAGS: u64 = 1 << 8;

/// `VJ_MMAP_OFFSET_RX_RING`: `mmap(2)` offset of the receive ring.
pub const VJ_MMAP_OFFSET_RX_RING: u64 = 0;

/// `struct vj_ring_setup`, the value of [`VJ_RING_SETUP`]: the geometry of the ring, chosen
/// before `bind(2)` (`EBUSY` after it); without it bind uses the defaults.
///
/// A field left 0 takes its default or is derived from the others:
///
/// - `buf_size`: bytes per buffer, headroom included; a power of two from
///   [`VJ_RING_BUF_SIZE_MIN`] to the page size (default 2048).  A frame holds
///   `buf_size - headroom` bytes ([`RingOffsets::frame_max`]); bind refuses with `EMSGSIZE`
///   when that is less than the device's MTU plus an Ethernet header and a VLAN tag.
/// - `nr_slots`: descriptors in the ring; a power of two from [`VJ_RING_SLOTS_MIN`] to
///   [`VJ_RING_SLOTS_MAX`].  0: the smallest that describes every buffer that fits in `size`.
/// - `size`: bytes to map, a multiple of the page size, at most [`VJ_RING_SIZE_MAX`].  0:
///   [`VJ_RING_SIZE_DEFAULT`] (256 pages of 4 KiB) if `nr_slots` is 0, else what `nr_slots`
///   buffers need.
///
/// Every page of the ring is used: the first pages hold the ring's words and descriptors,
/// the rest buffers, `nr_bufs` (`<= nr_slots`) of them.  A size whose buffers would outnumber
/// `nr_slots`, or that holds fewer than [`VJ_RING_SLOTS_MIN`] buffers, is refused with
/// `EINVAL`.  The ring is charged to `RLIMIT_MEMLOCK` at bind.  `optlen` must be
/// `size_of::<RingSetup>()`; reserved fields and unknown flags must be 0.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct RingSetup {
    /// Bytes to map; 0: derived.
    pub size: u64,
    /// Descriptors; 0: derived.
    pub nr_slots: u32,
    /// Bytes per buffer; 0: 2048.
    pub buf_size: u32,
    /// `VJ_RING_SETUP_F_*`.
    pub flags: u32,
    /// Reserved.
    pub reserved0: u32,
    /// Reserved.
    pub reserved: [u64; 2],
}

/// `VJ_RING_SETUP_F_TSTAMP`: [`RingSetup::flags`] bit: stamp each frame ([`VJ_DESC_F_TSTAMP`]).
pub const VJ_RING_SETUP_F_TSTAMP: u32 = 1 << 0;
/// `VJ_RING_SIZE_DEFAULT`: the default size of a ring, 1 MiB.
pub const VJ_RING_SIZE_DEFAULT: u64 = 1 << 20;
/// `VJ_RING_SIZE_MAX`: the largest ring, 1 GiB.
pub const VJ_RING_SIZE_MAX: u64 = 1 << 30;
/// `VJ_RING_SLOTS_MIN`: the fewest slots (and buffers) a ring has.
pub const VJ_RING_SLOTS_MIN: u32 = 16;
/// `VJ_RING_SLOTS_MAX`: the most slots a ring has.
pub const VJ_RING_SLOTS_MAX: u32 = 32768;
/// `VJ_RING_BUF_SIZE_MIN`: the smallest buffer.
pub const VJ_RING_BUF_SIZE_MIN: u32 = 1024;

/// `struct vj_ring_offsets`, the value of [`VJ_RING_OFFSETS`].
///
/// Where the parts of the ring are, as byte offsets from the start of the mapping, for the
/// geometry bind uses (before bind: the one it would use).  The producer index and the status
/// word are written by the kernel only, at the start; the consumer index and the flags word by
/// user space only, after the descriptors; each sits on a cache line of its own.  Grows at the
/// end: the kernel copies `min(optlen, its own size)` bytes and returns that length; `optlen`
/// must cover at least [`VJ_RING_OFFSETS_SIZE_VER0`].
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct RingOffsets {
    /// Bytes to map at [`VJ_MMAP_OFFSET_RX_RING`].
    pub mmap_size: u64,
    /// Producer index: `__u32`, kernel-written, free-running.
    pub producer: u64,
    /// Consumer index: `__u32`, user-written, free-running.
    pub consumer: u64,
    /// Flags word: `__u32`, user-written, `VJ_RING_*` bits ([`VJ_RING_NEED_WAKEUP`]).
    pub flags: u64,
    /// Descriptors: `nr_slots` descriptors of `desc_size` bytes ([`Desc`]).
    pub desc: u64,
    /// Buffer area: `nr_bufs` buffers of `buf_size` bytes.
    pub buffers: u64,
    /// A power of two; slot of index `i`: `i & (nr_slots - 1)`.
    pub nr_slots: u32,
    /// `>= size_of::<Desc>()` (`sizeof(struct vj_desc)`).
    pub desc_size: u32,
    /// Bytes per buffer, headroom included.
    pub buf_size: u32,
    /// Bytes before the frame in each buffer.
    pub headroom: u32,
    /// Status word: `__u32`, kernel-written, `VJ_RING_STATUS_*` bits (with
    /// [`VJ_FEATURE_STATUS`]; else 0).
    pub status: u64,
    /// Buffers, `<= nr_slots`: at most this many slots are in use.
    pub nr_bufs: u32,
    /// The longest frame: `buf_size - headroom`.
    pub frame_max: u32,
    /// Reserved.
    pub reserved: [u64; 2],
}

/// `VJ_RING_OFFSETS_SIZE_VER0`: the size of the first version of [`RingOffsets`], the least
/// `optlen` [`VJ_RING_OFFSETS`] accepts.
pub const VJ_RING_OFFSETS_SIZE_VER0: usize = 96;

/// `VJ_RING_NEED_WAKEUP`: bit of the flags word: wake me when the producer moves.
pub const VJ_RING_NEED_WAKEUP: u32 = 1 << 0;

/// `VJ_RING_STATUS_DEV_GONE`: bit of the status word: the device went away; the channel is
/// unbound for good (`poll()` also says `EPOLLERR | EPOLLHUP`, `SO_ERROR` `ENODEV`).
/// Unknown bits of the status word are ignored.
pub const VJ_RING_STATUS_DEV_GONE: u32 = 1 << 0;
/// `VJ_RING_STATUS_NEED_KICK`: bit of the status word: the driver found the ring full and
/// holds no buffer: after releasing slots, call `poll()` so that it refills.
pub const VJ_RING_STATUS_NEED_KICK: u32 = 1 << 1;

/// `struct vj_desc`: one slot of the ring: where the frame of that slot is, and what the
/// kernel knows of it.
///
/// A field whose `VJ_DESC_F_*` bit is clear is 0 and means nothing; unknown flag bits are
/// ignored.  Frames are complete as on the wire: VLAN tags are in the frame, checksums filled
/// in (a frame the sender asked the kernel to checksum is checksummed before it is published).
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct Desc {
    /// Offset of the frame from the start of the mapping.
    pub addr: u64,
    /// Frame length, Ethernet header included.
    pub len: u32,
    /// `VJ_DESC_F_*`.
    pub flags: u32,
    /// With [`VJ_DESC_F_RXHASH`].
    pub rxhash: u32,
    /// Reserved.
    pub reserved: u32,
    /// With [`VJ_DESC_F_TSTAMP`].
    pub tstamp: u64,
}

/// `VJ_DESC_F_CSUM_OK`: [`Desc::flags`] bit: the frame's outermost TCP/UDP checksum is known
/// to be correct (the device verified it, or the kernel computed it); the receiver may skip
/// checking it.  Without it, check it if you rely on it.
pub const VJ_DESC_F_CSUM_OK: u32 = 1 << 0;
/// `VJ_DESC_F_RXHASH`: [`Desc::flags`] bit: `rxhash` is a hash the device or the kernel tied to
/// the frame's flow (on veth the sending socket's, which may change during a connection): to
/// spread flows, not to identify them.
pub const VJ_DESC_F_RXHASH: u32 = 1 << 1;
/// `VJ_DESC_F_TSTAMP`: [`Desc::flags`] bit: `tstamp` is the time the kernel took the frame, in
/// ns of `CLOCK_MONOTONIC` (with [`VJ_RING_SETUP_F_TSTAMP`]).
pub const VJ_DESC_F_TSTAMP: u32 = 1 << 2;

/// `struct vj_statistics`, the value of [`VJ_STATISTICS`].
///
/// Grows at the end: the kernel copies `min(optlen, its own size)` bytes and returns that
/// length; `optlen` must cover at least [`VJ_STATISTICS_SIZE_VER0`].
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct Statistics {
    /// Frames published into the ring.
    pub rx_packets: u64,
    /// Their bytes.
    pub rx_bytes: u64,
    /// Frames that matched no filter: to the stack.
    pub rx_stack: u64,
    /// Frames vjchan copied (to the stack).
    pub rx_copies: u64,
    /// No free buffer: slots not released.
    pub rx_ring_full: u64,
    /// Consumer index values ignored.
    pub rx_invalid_consumer: u64,
    /// Frames dropped: length 0 or too long.
    pub rx_bad_length: u64,
    /// Wakeups done because [`VJ_RING_NEED_WAKEUP`] was set.
    pub rx_wakeups: u64,
    /// Frames the device's netfilter ingress policy dropped (since
    /// [`VJ_STATISTICS_SIZE_VER1`]).
    pub rx_nf_dropped: u64,
    /// Frames dropped: no memory for a copy (since [`VJ_STATISTICS_SIZE_VER1`]).
    pub rx_nomem: u64,
}

/// `VJ_STATISTICS_SIZE_VER0`: the size of the first version of [`Statistics`], the least
/// `optlen` [`VJ_STATISTICS`] accepts.
pub const VJ_STATISTICS_SIZE_VER0: usize = 64;
/// `VJ_STATISTICS_SIZE_VER1`: the size of [`Statistics`] with `rx_nf_dropped` and `rx_nomem`.
pub const VJ_STATISTICS_SIZE_VER1: usize = 80;

// struct vj_filter.type

/// `VJ_FILTER_ETHERTYPE`: [`Filter::type`] value: every frame of one EtherType.
pub const VJ_FILTER_ETHERTYPE: u16 = 1;
/// `VJ_FILTER_IPV4`: [`Filter::type`] value: IPv4 to a transport port / address.
pub const VJ_FILTER_IPV4: u16 = 2;
/// `VJ_FILTER_IPV6`: [`Filter::type`] value: IPv6 (no extension headers), likewise.
pub const VJ_FILTER_IPV6: u16 = 3;

// struct vj_filter.flags.  `1U << n` in C; u16 here, the type of the field they go in.

/// `VJ_FILTER_F_DST_ADDR`: [`Filter::flags`] bit: match `dst_addr`.
pub const VJ_FILTER_F_DST_ADDR: u16 = 1 << 0;
/// `VJ_FILTER_F_DST_PORT`: [`Filter::flags`] bit: match `dst_port`.
pub const VJ_FILTER_F_DST_PORT: u16 = 1 << 1;

/// `VJ_MAX_FILTERS`: at most this many filters per channel.
pub const VJ_MAX_FILTERS: usize = 16;

/// `struct vj_filter`, the value of [`VJ_ADD_FILTER`] and [`VJ_DEL_FILTER`]: a flow filter.
///
/// A frame belongs to the channel if any filter matches it.  Packet fields are in network
/// byte order (the `__be16` fields are [`zerocopy::network_endian::U16`]: build them with
/// `U16::new(host_value)`).  Unused and reserved fields must be 0.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct Filter {
    /// `VJ_FILTER_*`.
    pub r#type: u16,
    /// `VJ_FILTER_F_*`; IPv4/IPv6 only.
    pub flags: u16,
    /// `__be16`: [`VJ_FILTER_ETHERTYPE`] only.
    pub ethertype: Be16,
    /// `IPPROTO_UDP` or `IPPROTO_TCP`; IPv4/IPv6 only.
    pub l4_proto: u8,
    /// Reserved.
    pub reserved0: u8,
    /// `__be16`: with [`VJ_FILTER_F_DST_PORT`].
    pub dst_port: Be16,
    /// Reserved.
    pub reserved1: u16,
    /// Reserved.
    pub reserved2: u32,
    /// With [`VJ_FILTER_F_DST_ADDR`]; IPv4: first 4 bytes.
    pub dst_addr: [u8; 16],
    /// Reserved.
    pub reserved: [u64; 2],
}

// The sizes the C compiler gives these structs on every Linux ABI (checked field by field
// against the header in tests/c_header.rs).
const _: () = assert!(size_of::<SockaddrVj>() == 16);
const _: () = assert!(size_of::<RingOffsets>() == VJ_RING_OFFSETS_SIZE_VER0);
const _: () = assert!(size_of::<RingSetup>() == 40);
const _: () = assert!(size_of::<Desc>() == 32);
const _: () = assert!(size_of::<Statistics>() == VJ_STATISTICS_SIZE_VER1);
const _: () = assert!(size_of::<Filter>() == 48);
const _: () = assert!(size_of::<Statistics>() >= VJ_STATISTICS_SIZE_VER0);
