// SPDX-License-Identifier: GPL-2.0

//! PF_VJCHAN: Van Jacobson network channels.
//!
//! A PF_VJCHAN socket owns a network channel: a receive ring of pages (256 of 4 KiB by default,
//! a geometry user space may choose before `bind(2)`) that the process maps with `mmap(2)` and
//! that drivers fill directly. `bind(2)` attaches the channel to
//! one receive queue of a device; flow filters (`setsockopt(2)`) say which frames belong to it.
//! A driver takes buffers from the channel before frames arrive (`vj_get_buffer()`) and hands
//! them back filled (`vj_netif_rx()`): a frame that matches a filter is published to the ring
//! where it lies, without a copy; one that matches none is copied to the normal stack.
//!
//! # The ring and its barriers
//!
//! The layout is computed by [`geometry`] (offsets exported by `VJ_RING_OFFSETS`, not ABI):
//! the producer index and the status word (kernel-written) at the start, then the descriptors,
//! the consumer index and the flags word (user-written), each word on a cache line of its own,
//! and the buffers in the pages after them.
//!
//! The one barrier diagram of the ring (`Documentation/networking/vjchan.rst`):
//!
//! ```text
//! kernel (producer)                        user space (consumer)
//!   cons = READ_ONCE(consumer)      (A)      prod = load_acquire(producer)     (C)
//!   validate cons (ring.rs)                  read descriptors, frames < prod
//!   write frame, descriptor                  ...
//!   smp_store_release(producer)     (B)      store_release(consumer)           (D)
//!   smp_mb()                        (F)      flags |= NEED_WAKEUP; smp_mb()    (E)
//!   if READ_ONCE(flags) & NEED_WAKEUP        if producer == cons: poll()
//!       wake up the socket
//!
//! B pairs with C: the descriptor and the frame are visible before the index that
//!   publishes them.
//! A pairs with D: the kernel reuses a buffer only after reading a consumer index that
//!   released it (a control dependency orders its later writes), and D orders the
//!   consumer's reads of the buffer before the release.
//! F pairs with E: either the kernel sees the flag or user space sees the new producer
//!   index; with release/acquire alone both could miss, and the wakeup would be lost.
//! ```
//!
//! User space can write every byte of the mapping at any time. The kernel keeps its own state
//! ([`RxRing`]), reads the consumer index once per refresh and accepts it only if it lies
//! between the last accepted value and the producer index (else it is ignored and counted in
//! `rx_invalid_consumer`), classifies a private copy of the frame's headers, and never reads
//! back what it wrote into a descriptor.

// These two files are also the library of the host crate `kernel-rust/host`, which tests every
// item with proptest; a few of their items (accessors, `Filter::encode`) serve only the tests.
#[allow(dead_code, unreachable_pub)]
mod filter;
#[allow(dead_code, unreachable_pub)]
mod geometry;
#[allow(dead_code, unreachable_pub)]
mod ring;

use filter::{
    Filter,
    Headers,
    HEADER_COPY,
    UAPI_FILTER_SIZE, //
};
use geometry::{
    Geometry,
    Request, //
};
use kernel::{
    mm::shared::SharedPages,
    net::{
        channel::{
            self,
            RxBuf,
            RxChannel,
            RxDrop,
            RxMeta,
            RxResult, //
        },
        device::{
            NetDevice,
            Rtnl, //
        },
        socket::{
            self,
            CreateArgs,
            Sock,
            SockAddr,
            SockOptIn,
            SockOptOut,
            SockType, //
        },
    },
    page::PAGE_SIZE,
    prelude::*,
    sync::{
        aref::ARef,
        atomic::{
            Acquire,
            Atomic,
            Release, //
        },
        barrier::{
            smp_mb,
            Full, //
        },
        new_mutex,
        new_spinlock_irq,
        Arc,
        ArcBorrow,
        Mutex,
        SetOnce,
        SpinLockIrq, //
    },
    transmute::{
        AsBytes,
        FromBytes, //
    },
    uapi,
};
use ring::{
    BufId,
    ConsumerIndex,
    RxRing, //
};

module! {
    type: VjchanModule,
    name: "vjchan",
    authors: ["vjchan developers"],
    description: "Van Jacobson network channels (PF_VJCHAN)",
    license: "GPL",
    alias: ["net-pf-46"],
}

/// `AF_VJCHAN` (`include/linux/socket.h`; `include/uapi/linux/vjchan.h` gives it to user space).
const AF_VJCHAN: u16 = uapi::AF_VJCHAN as u16;
/// `SOL_VJCHAN`, likewise.
const SOL_VJCHAN: i32 = uapi::SOL_VJCHAN as i32;
/// The size of a descriptor (`struct vj_desc`).
const DESC_SIZE: usize = geometry::DESC_SIZE;
/// Where the fields of a descriptor are (checked against `struct vj_desc` below).
const DESC_ADDR: usize = 0;
const DESC_LEN: usize = 8;
const DESC_FLAGS: usize = 12;
const DESC_RXHASH: usize = 16;
const DESC_RESERVED: usize = 20;
const DESC_TSTAMP: usize = 24;
/// `VJ_RING_NEED_WAKEUP`.
const NEED_WAKEUP: u32 = uapi::VJ_RING_NEED_WAKEUP;
/// At most this many filters per channel.
const MAX_FILTERS: usize = uapi::VJ_MAX_FILTERS as usize;

const _: () = {
    assert!(geometry::PRODUCER_OFF == 0 && geometry::STATUS_OFF == 64);
    assert!(geometry::HEADROOM + HEADER_COPY <= geometry::BUF_SIZE_MIN);
    // Drivers hand `matches` at most this many header bytes.
    assert!(HEADER_COPY == channel::RX_HDR_MAX);
    assert!(geometry::SLOTS_MAX <= 1 << 16);
    assert!(geometry::SIZE_DEFAULT as u64 == uapi::VJ_RING_SIZE_DEFAULT as u64);
    assert!(geometry::SIZE_MAX as u64 == uapi::VJ_RING_SIZE_MAX as u64);
    assert!(geometry::SLOTS_MIN == uapi::VJ_RING_SLOTS_MIN as usize);
    assert!(geometry::SLOTS_MAX == uapi::VJ_RING_SLOTS_MAX as usize);
    assert!(geometry::BUF_SIZE_MIN == uapi::VJ_RING_BUF_SIZE_MIN as usize);
};

/// `struct sockaddr_vj`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct SockAddrVj {
    family: u16,
    flags: u16,
    ifindex: u32,
    queue_id: u32,
    reserved: u32,
}

/// `struct vj_ring_offsets`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct RingOffsets {
    mmap_size: u64,
    producer: u64,
    consumer: u64,
    flags: u64,
    desc: u64,
    buffers: u64,
    nr_slots: u32,
    desc_size: u32,
    buf_size: u32,
    headroom: u32,
    status: u64,
    nr_bufs: u32,
    frame_max: u32,
    reserved: [u64; 2],
}

/// `struct vj_ring_setup`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct RingSetup {
    size: u64,
    nr_slots: u32,
    buf_size: u32,
    flags: u32,
    reserved0: u32,
    reserved: [u64; 2],
}

/// `struct vj_statistics`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct Stats {
    rx_packets: u64,
    rx_bytes: u64,
    rx_stack: u64,
    rx_copies: u64,
    rx_ring_full: u64,
    rx_invalid_consumer: u64,
    rx_bad_length: u64,
    rx_wakeups: u64,
    rx_nf_dropped: u64,
    rx_nomem: u64,
}

impl Stats {
    /// Counts a frame dropped because no copy of it could be made: no memory, or too short.
    fn count_copy_failure(&mut self, e: Error) {
        if e == ENOMEM {
            self.rx_nomem += 1;
        } else {
            self.rx_bad_length += 1;
        }
    }
}

// SAFETY: Integers only, so any bytes are a valid value.
unsafe impl FromBytes for SockAddrVj {}
// SAFETY: Integers only, so any bytes are a valid value.
unsafe impl FromBytes for RingSetup {}
// SAFETY: Integers only, no padding (the sizes are checked below).
unsafe impl AsBytes for RingOffsets {}
// SAFETY: Integers only, no padding (the sizes are checked below).
unsafe impl AsBytes for Stats {}

const _: () = {
    assert!(size_of::<SockAddrVj>() == size_of::<uapi::sockaddr_vj>());
    assert!(size_of::<RingOffsets>() == size_of::<uapi::vj_ring_offsets>());
    assert!(size_of::<RingOffsets>() == uapi::VJ_RING_OFFSETS_SIZE_VER0 as usize);
    assert!(size_of::<RingSetup>() == size_of::<uapi::vj_ring_setup>());
    // Field by field, where the kernel's copies and offsets must match the uapi header.
    use core::mem::offset_of;
    assert!(offset_of!(RingOffsets, mmap_size) == offset_of!(uapi::vj_ring_offsets, mmap_size));
    assert!(offset_of!(RingOffsets, producer) == offset_of!(uapi::vj_ring_offsets, producer));
    assert!(offset_of!(RingOffsets, consumer) == offset_of!(uapi::vj_ring_offsets, consumer));
    assert!(offset_of!(RingOffsets, flags) == offset_of!(uapi::vj_ring_offsets, flags));
    assert!(offset_of!(RingOffsets, desc) == offset_of!(uapi::vj_ring_offsets, desc));
    assert!(offset_of!(RingOffsets, buffers) == offset_of!(uapi::vj_ring_offsets, buffers));
    assert!(offset_of!(RingOffsets, nr_slots) == offset_of!(uapi::vj_ring_offsets, nr_slots));
    assert!(offset_of!(RingOffsets, desc_size) == offset_of!(uapi::vj_ring_offsets, desc_size));
    assert!(offset_of!(RingOffsets, buf_size) == offset_of!(uapi::vj_ring_offsets, buf_size));
    assert!(offset_of!(RingOffsets, headroom) == offset_of!(uapi::vj_ring_offsets, headroom));
    assert!(offset_of!(RingOffsets, status) == offset_of!(uapi::vj_ring_offsets, status));
    assert!(offset_of!(RingOffsets, nr_bufs) == offset_of!(uapi::vj_ring_offsets, nr_bufs));
    assert!(offset_of!(RingOffsets, frame_max) == offset_of!(uapi::vj_ring_offsets, frame_max));
    assert!(offset_of!(RingSetup, size) == offset_of!(uapi::vj_ring_setup, size));
    assert!(offset_of!(RingSetup, nr_slots) == offset_of!(uapi::vj_ring_setup, nr_slots));
    assert!(offset_of!(RingSetup, buf_size) == offset_of!(uapi::vj_ring_setup, buf_size));
    assert!(offset_of!(RingSetup, flags) == offset_of!(uapi::vj_ring_setup, flags));
    assert!(offset_of!(RingSetup, reserved0) == offset_of!(uapi::vj_ring_setup, reserved0));
    assert!(offset_of!(RingSetup, reserved) == offset_of!(uapi::vj_ring_setup, reserved));
    // The descriptor words `Chan::publish` writes.
    assert!(offset_of!(uapi::vj_desc, addr) == DESC_ADDR);
    assert!(offset_of!(uapi::vj_desc, len) == DESC_LEN);
    assert!(offset_of!(uapi::vj_desc, flags) == DESC_FLAGS);
    assert!(offset_of!(uapi::vj_desc, rxhash) == DESC_RXHASH);
    assert!(offset_of!(uapi::vj_desc, reserved) == DESC_RESERVED);
    assert!(offset_of!(uapi::vj_desc, tstamp) == DESC_TSTAMP);
    assert!(size_of::<Stats>() == size_of::<uapi::vj_statistics>());
    assert!(size_of::<Stats>() == uapi::VJ_STATISTICS_SIZE_VER1 as usize);
    assert!(size_of::<Stats>() >= uapi::VJ_STATISTICS_SIZE_VER0 as usize);
    assert!(size_of::<uapi::vj_desc>() == DESC_SIZE);
    assert!(size_of::<uapi::vj_filter>() == UAPI_FILTER_SIZE);
};

/// The offsets of a ring of geometry `g`.
fn offsets(g: &Geometry) -> RingOffsets {
    RingOffsets {
        mmap_size: g.size() as u64,
        producer: geometry::PRODUCER_OFF as u64,
        consumer: g.consumer_off() as u64,
        flags: g.flags_off() as u64,
        desc: geometry::DESC_OFF as u64,
        buffers: g.buffers_off() as u64,
        nr_slots: g.nr_slots() as u32,
        desc_size: DESC_SIZE as u32,
        buf_size: g.buf_size() as u32,
        headroom: geometry::HEADROOM as u32,
        status: geometry::STATUS_OFF as u64,
        nr_bufs: g.nr_bufs() as u32,
        frame_max: g.frame_max() as u32,
        reserved: [0; 2],
    }
}

/// Checks a `VJ_RING_SETUP` value; returns the geometry and whether frames are stamped.
fn check_setup(r: &RingSetup) -> Result<(Geometry, bool)> {
    if r.reserved0 != 0 || r.reserved != [0; 2] || r.flags & !uapi::VJ_RING_SETUP_F_TSTAMP != 0 {
        return Err(EINVAL);
    }
    let req = Request {
        size: r.size,
        nr_slots: r.nr_slots,
        buf_size: r.buf_size,
    };
    let g = Geometry::new(PAGE_SIZE, req).map_err(|_| EINVAL)?;
    Ok((g, r.flags & uapi::VJ_RING_SETUP_F_TSTAMP != 0))
}

/// What this kernel's channels do (`VJ_FEATURES`).
const FEATURES: u64 = uapi::VJ_FEATURE_RX_RING as u64
    | uapi::VJ_FEATURE_NEED_WAKEUP as u64
    | uapi::VJ_FEATURE_FILTER_ETHERTYPE as u64
    | uapi::VJ_FEATURE_FILTER_IP as u64
    | uapi::VJ_FEATURE_NF_INGRESS as u64
    | uapi::VJ_FEATURE_MEMLOCK as u64
    | uapi::VJ_FEATURE_STATUS as u64
    | uapi::VJ_FEATURE_RING_SETUP as u64
    | uapi::VJ_FEATURE_DESC_FLAGS as u64;

/// Checks the `socket(2)` arguments of a new PF_VJCHAN socket.
///
/// Channels carry whole link-layer frames, so the only type is `SOCK_RAW`; there is one
/// protocol, 0.
fn check_create(args: &CreateArgs) -> Result {
    if args.ty != SockType::RAW {
        return Err(ESOCKTNOSUPPORT);
    }
    if args.protocol != 0 {
        return Err(EPROTONOSUPPORT);
    }
    Ok(())
}

/// Checks a `bind(2)` address; returns the interface index and the queue.
fn check_addr(a: &SockAddrVj) -> Result<(i32, u32)> {
    if a.family != AF_VJCHAN || a.flags != 0 || a.reserved != 0 {
        return Err(EINVAL);
    }
    let ifindex = i32::try_from(a.ifindex).map_err(|_| ENODEV)?;
    Ok((ifindex, a.queue_id))
}

/// The ring's accounting; its state lives in a `KVVec` sized by the geometry (up to 192 KiB).
type Ring = RxRing<KVVec<u16>>;

/// A bound channel's ring: its pages and their layout.
struct RingMem {
    pages: SharedPages,
    geom: Geometry,
    /// Frames are stamped (`VJ_RING_SETUP_F_TSTAMP`).
    tstamp: bool,
}

impl RingMem {
    /// Where the frame of buffer `id` starts in the mapping, if there is such a buffer.
    fn frame_offset(&self, id: BufId) -> Option<usize> {
        self.geom.frame_off(usize::from(id))
    }
}

/// The receive state of a channel, under its spinlock.
struct RxState {
    /// The ring's accounting, from `bind(2)` on.
    ring: Option<Ring>,
    filters: [Option<Filter>; MAX_FILTERS],
    stats: Stats,
    /// A driver asked for a buffer and found none because user space held every slot; it
    /// waits for a kick (`VJ_RING_STATUS_NEED_KICK` is set in the ring).
    starved: bool,
    /// The status word as last written (`VJ_RING_STATUS_*`).
    status: u32,
}

impl RxState {
    /// Reads the consumer index (A) and frees what it released; counts a hostile value.
    fn refresh_consumer(&mut self, mem: &RingMem) {
        let Some(ring) = self.ring.as_mut() else {
            return;
        };
        let Ok(cons) = mem.pages.load_u32(mem.geom.consumer_off()) else {
            return;
        };
        if ring.observe_consumer(cons) == ConsumerIndex::Invalid {
            self.stats.rx_invalid_consumer += 1;
        }
    }

    /// Sets or clears `bits` of the ring's status word.
    fn set_status(&mut self, mem: &RingMem, bits: u32, on: bool) {
        let new = if on {
            self.status | bits
        } else {
            self.status & !bits
        };
        if new != self.status {
            self.status = new;
            let _ = mem.pages.store_u32(geometry::STATUS_OFF, new);
        }
    }

    /// Whether a starved driver should be kicked now: slots were released. Clears the state.
    fn take_kick(&mut self, mem: &RingMem) -> bool {
        let free = self.ring.as_ref().map_or(0, |r| r.free_buffers());
        if !self.starved || free == 0 {
            return false;
        }
        self.starved = false;
        self.set_status(mem, uapi::VJ_RING_STATUS_NEED_KICK, false);
        true
    }

    /// Gives buffer `id` back to the ring; whether it was posted.
    fn recycle(&mut self, id: BufId) -> bool {
        self.ring.as_mut().is_some_and(|r| r.recycle(id).is_ok())
    }

    /// Slots published and not released.
    fn published(&self) -> u32 {
        self.ring.as_ref().map_or(0, |r| r.published())
    }

    fn matches(&self, h: &Headers) -> bool {
        self.filters.iter().flatten().any(|f| f.matches(h))
    }

    fn add_filter(&mut self, f: Filter) -> Result {
        if self.filters.iter().flatten().any(|g| *g == f) {
            return Err(EEXIST);
        }
        let free = self
            .filters
            .iter_mut()
            .find(|g| g.is_none())
            .ok_or(ENOSPC)?;
        *free = Some(f);
        Ok(())
    }

    fn del_filter(&mut self, f: Filter) -> Result {
        let slot = self
            .filters
            .iter_mut()
            .find(|g| **g == Some(f))
            .ok_or(ENOENT)?;
        *slot = None;
        Ok(())
    }
}

/// Which device queue a channel is bound to, and the ring geometry it binds with.
struct Binding {
    dev: Option<ARef<NetDevice>>,
    qid: u32,
    /// `bind(2)` succeeded once; a socket binds once.
    bound: bool,
    /// The geometry `bind(2)` uses (`VJ_RING_SETUP`, or the default).
    geom: Geometry,
    /// Frames are to be stamped.
    tstamp: bool,
}

/// One channel: the private data of one PF_VJCHAN socket, and what drivers see.
#[pin_data]
struct Chan {
    /// The ring accounting, filters and statistics; taken from any context.
    #[pin]
    rx: SpinLockIrq<RxState>,
    /// Taken under RTNL, never the other way round.
    #[pin]
    binding: Mutex<Binding>,
    /// The ring, from the first successful `bind(2)` on.
    mem: SetOnce<RingMem>,
    /// The socket, for wakeups; set by `bind(2)`.
    sk: SetOnce<ARef<Sock>>,
    /// The ring may be mapped: bound once.
    mappable: Atomic<bool>,
    /// The device was unregistered while bound.
    dev_gone: Atomic<bool>,
}

impl Chan {
    fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            rx <- new_spinlock_irq!(RxState {
                ring: None,
                filters: [None; MAX_FILTERS],
                stats: Stats::default(),
                starved: false,
                status: 0,
            }),
            binding <- new_mutex!(Binding {
                dev: None,
                qid: 0,
                bound: false,
                geom: Geometry::default_for(PAGE_SIZE),
                tstamp: false,
            }),
            mem: SetOnce::new(),
            sk: SetOnce::new(),
            mappable: Atomic::new(false),
            dev_gone: Atomic::new(false),
        })
    }

    /// Publishes buffer `id`, holding `len` bytes, to the ring and wakes the consumer if it asked.
    fn publish(
        &self,
        mem: &RingMem,
        mut st: kernel::sync::SpinLockIrqGuard<'_, RxState>,
        id: BufId,
        len: u32,
        meta: RxMeta,
    ) -> RxResult {
        let Some(ring) = st.ring.as_mut() else {
            return RxResult::Drop;
        };
        let slot = ring.slot(ring.producer());
        let (Some(desc), Some(frame)) = (mem.geom.desc_off(slot), mem.frame_offset(id)) else {
            // Not a buffer of this ring's geometry: nothing to publish.
            let _ = ring.recycle(id);
            return RxResult::Drop;
        };
        if ring.publish(id) != Ok(slot) {
            return RxResult::Drop;
        }
        let producer = ring.producer();
        let mut flags = 0;
        if meta.csum_ok {
            flags |= uapi::VJ_DESC_F_CSUM_OK;
        }
        let rxhash = meta.rxhash.unwrap_or(0);
        if meta.rxhash.is_some() {
            flags |= uapi::VJ_DESC_F_RXHASH;
        }
        let tstamp = if mem.tstamp {
            flags |= uapi::VJ_DESC_F_TSTAMP;
            channel::rx_timestamp()
        } else {
            0
        };
        let pages = &mem.pages;
        let written = pages
            .store_u64(desc + DESC_ADDR, frame as u64)
            .and_then(|()| pages.store_u32(desc + DESC_LEN, len))
            .and_then(|()| pages.store_u32(desc + DESC_FLAGS, flags))
            .and_then(|()| pages.store_u32(desc + DESC_RXHASH, rxhash))
            .and_then(|()| pages.store_u32(desc + DESC_RESERVED, 0))
            .and_then(|()| pages.store_u64(desc + DESC_TSTAMP, tstamp));
        st.stats.rx_packets += 1;
        st.stats.rx_bytes += u64::from(len);
        // (B): pairs with (C) in user space.
        let _ = pages.store_u32_release(geometry::PRODUCER_OFF, producer);
        if written.is_err() {
            return RxResult::Drop;
        }
        // (F): pairs with (E) in user space.
        smp_mb(Full);
        let wake = pages.load_u32(mem.geom.flags_off()).unwrap_or(0) & NEED_WAKEUP != 0;
        if wake {
            st.stats.rx_wakeups += 1;
        }
        drop(st);
        if wake {
            if let Some(sk) = self.sk.as_ref() {
                sk.data_ready();
            }
        }
        RxResult::Ring
    }

    /// Gives buffer `id` back, counting a frame of bad length.
    fn bad_length(&self, id: BufId) -> RxResult {
        let mut st = self.rx.lock();
        if st.recycle(id) {
            st.stats.rx_bad_length += 1;
        }
        RxResult::Drop
    }

    /// Frees what the consumer released and, if a driver starved for buffers and there are
    /// some now, asks it to refill (from process context).
    fn refresh_and_kick(&self, mem: &RingMem) {
        let kick = {
            let mut st = self.rx.lock();
            st.refresh_consumer(mem);
            st.take_kick(mem)
        };
        if kick {
            let b = self.binding.lock();
            if let Some(dev) = b.dev.as_ref() {
                dev.channel_kick(b.qid);
            }
        }
    }
}

impl RxChannel for Chan {
    fn get_buffer(&self) -> Option<RxBuf<'_>> {
        let mem = self.mem.as_ref()?;
        let id = {
            let mut st = self.rx.lock();
            let mut id = st.ring.as_mut()?.get_buffer();
            if id.is_none() {
                st.refresh_consumer(mem);
                id = st.ring.as_mut()?.get_buffer();
            }
            // Full because user space holds slots (not because the driver holds every
            // buffer, posted ahead of frames): the driver waits for a kick.
            let (published, posted) = st
                .ring
                .as_ref()
                .map_or((0, 0), |r| (r.published(), r.posted()));
            if id.is_none() && published != 0 {
                st.stats.rx_ring_full += 1;
                if posted == 0 {
                    st.starved = true;
                    st.set_status(mem, uapi::VJ_RING_STATUS_NEED_KICK, true);
                }
            }
            id?
        };
        let Some((page, offset)) = mem.frame_offset(id).and_then(|o| mem.pages.page_at(o)) else {
            self.rx.lock().recycle(id);
            return None;
        };
        Some(RxBuf {
            page,
            offset: offset as u32,
            size: mem.geom.frame_max() as u32,
            id: u32::from(id),
        })
    }

    fn netif_rx(&self, id: u32, len: u32, meta: RxMeta, dev: &NetDevice) -> RxResult {
        let (Some(mem), Ok(id)) = (self.mem.as_ref(), BufId::try_from(id)) else {
            return RxResult::Drop;
        };
        let size = len as usize;
        let Some(frame) = mem.frame_offset(id) else {
            return RxResult::Drop;
        };
        if size == 0 || size > mem.geom.frame_max() {
            return self.bad_length(id);
        }
        // User space may be writing the buffer: every decision and every byte passed on come
        // from one read of it. The headers are classified on a private copy; a frame for the
        // stack (or the netfilter hooks) is built from that copy and one read of the rest.
        let mut copy = [0u8; HEADER_COPY];
        let n = size.min(HEADER_COPY);
        let Some(head) = copy.get_mut(..n) else {
            return self.bad_length(id);
        };
        if mem.pages.read(frame, head).is_err() {
            return self.bad_length(id);
        }
        let head = &copy[..n];
        let (rest_off, rest_len) = (frame + n, size - n);
        let headers = Headers::parse(head);
        let mut st = self.rx.lock();
        if st.matches(&headers) {
            // The device's netfilter ingress policy applies to the channel's frames as it would
            // to the stack's: a frame it drops is not delivered (see the rst). The hooks run
            // without the lock; without hooks the frame is published under the lock held.
            if dev.nf_ingress_active() {
                drop(st);
                let verdict = dev.nf_ingress(head, &mem.pages, rest_off, rest_len);
                st = self.rx.lock();
                if verdict != Ok(true) {
                    if st.recycle(id) {
                        match verdict {
                            Ok(_) => st.stats.rx_nf_dropped += 1,
                            Err(e) => st.stats.count_copy_failure(e),
                        }
                    }
                    return RxResult::Drop;
                }
            }
            return self.publish(mem, st, id, len, meta);
        }
        drop(st);
        // No filter matched: a copy goes to the stack (whose policy applies there), then the
        // buffer is free again.
        let sent = dev.receive_copy(head, &mem.pages, rest_off, rest_len);
        let mut st = self.rx.lock();
        if !st.recycle(id) {
            return RxResult::Drop;
        }
        if let Err(e) = sent {
            st.stats.count_copy_failure(e);
            return RxResult::Drop;
        }
        st.stats.rx_stack += 1;
        st.stats.rx_copies += 1;
        RxResult::Stack
    }

    fn put_buffer(&self, id: u32) {
        if let Ok(id) = BufId::try_from(id) {
            self.rx.lock().recycle(id);
        }
    }

    fn matches(&self, headers: &[u8]) -> bool {
        let headers = Headers::parse(headers.get(..HEADER_COPY).unwrap_or(headers));
        let mut st = self.rx.lock();
        // Until its ring is in place (bind), the channel takes nothing.
        if st.ring.is_some() && st.matches(&headers) {
            return true;
        }
        // The driver passes it on, untouched, to the stack.
        st.stats.rx_stack += 1;
        false
    }

    fn deliver(&self, id: u32, len: u32, meta: RxMeta) -> RxResult {
        let (Some(mem), Ok(id)) = (self.mem.as_ref(), BufId::try_from(id)) else {
            return RxResult::Drop;
        };
        if len == 0 || len as usize > mem.geom.frame_max() {
            return self.bad_length(id);
        }
        self.publish(mem, self.rx.lock(), id, len, meta)
    }

    fn count_drop(&self, why: RxDrop) {
        let mut st = self.rx.lock();
        match why {
            RxDrop::NoMem => st.stats.rx_nomem += 1,
            RxDrop::Length => st.stats.rx_bad_length += 1,
            RxDrop::Policy => st.stats.rx_nf_dropped += 1,
        }
    }

    fn unbound(&self, _dev: &NetDevice) {
        // RTNL is held, so the lock order (RTNL, then `binding`) holds.
        self.binding.lock().dev = None;
        self.dev_gone.store(true, Release);
        if let Some(mem) = self.mem.as_ref() {
            self.rx
                .lock()
                .set_status(mem, uapi::VJ_RING_STATUS_DEV_GONE, true);
        }
        if let Some(sk) = self.sk.as_ref() {
            sk.report_error(ENODEV);
        }
    }
}

/// The storage of the PF_VJCHAN family.
static VJCHAN_FAMILY: socket::Family<Chan> = socket::Family::new();

/// The channels of PF_VJCHAN sockets, as drivers see them.
static VJCHAN_CHANNELS: channel::Channels<Chan> = channel::Channels::new();

/// The capability a device channel needs: it can take any traffic of its queue.
const CAP: i32 = socket::CAP_NET_ADMIN;

#[vtable]
impl socket::Socket for Chan {
    const FAMILY: u16 = AF_VJCHAN;
    const NAME: &'static CStr = c"VJCHAN";
    // Frames reach the ring without an skb: a socket filter could not apply.
    const SOCKET_FILTERS: bool = false;
    type Ptr = Arc<channel::Channel<Chan>>;

    fn family() -> &'static socket::Family<Self> {
        &VJCHAN_FAMILY
    }

    fn create(args: &CreateArgs) -> Result<Self::Ptr> {
        check_create(args)?;
        channel::Channel::new(Chan::new())
    }

    fn release(this: Self::Ptr) {
        // A socket that was never bound (or whose device went away) is closed without RTNL.
        if this.binding.lock().dev.is_none() {
            return;
        }
        let rtnl = Rtnl::lock();
        let mut b = this.binding.lock();
        if let Some(dev) = b.dev.take() {
            channel::Channel::detach(&this, &rtnl, &dev, b.qid);
        }
    }

    fn bind(this: ArcBorrow<'_, channel::Channel<Chan>>, sk: &Sock, addr: &SockAddr<'_>) -> Result {
        let (ifindex, qid) = check_addr(&addr.read::<SockAddrVj>()?)?;
        if !sk.net_capable(CAP) {
            return Err(EPERM);
        }
        let (geom, tstamp) = {
            let b = this.binding.lock();
            if b.bound || this.dev_gone.load(Acquire) {
                return Err(EINVAL);
            }
            (b.geom, b.tstamp)
        };
        // The ring is allocated before the locks are taken, accounted to the caller's memory
        // cgroup and charged to its user's RLIMIT_MEMLOCK (ENOBUFS beyond it) until the
        // channel is freed. If the bind fails, both go at once.
        let mem = RingMem {
            pages: SharedPages::new_memlock(geom.nr_pages(), GFP_KERNEL_ACCOUNT)?,
            geom,
            tstamp,
        };
        let storage = KVVec::from_elem(
            0u16,
            Ring::storage_len(geom.nr_slots(), geom.nr_bufs()),
            GFP_KERNEL_ACCOUNT,
        )?;
        let ring = RxRing::new(0, geom.nr_slots(), geom.nr_bufs(), storage).map_err(|_| EINVAL)?;
        let rtnl = Rtnl::lock();
        let mut b = this.binding.lock();
        // Checked again: `VJ_RING_SETUP` and another bind may have run meanwhile.
        if b.bound
            || this.dev_gone.load(Acquire)
            || this.mem.as_ref().is_some()
            || b.geom != geom
            || b.tstamp != tstamp
        {
            return Err(EINVAL);
        }
        let dev = rtnl.dev_get_by_index(sk, ifindex)?;
        this.sk.populate(sk.into());
        // Drivers see the channel from here on (`EMSGSIZE` if a frame of the device's MTU does
        // not fit a buffer), but it lends them no buffer until the ring is in place, below;
        // then they are kicked to take some.
        VJCHAN_CHANNELS.attach(this.into(), &rtnl, &dev, qid, geom.frame_max() as u32)?;
        this.mem.populate(mem);
        this.rx.lock().ring = Some(ring);
        b.dev = Some(dev);
        b.qid = qid;
        b.bound = true;
        this.mappable.store(true, Release);
        if let Some(dev) = b.dev.as_ref() {
            dev.channel_kick(qid);
        }
        Ok(())
    }

    fn mmap(
        this: ArcBorrow<'_, channel::Channel<Chan>>,
        sk: &Sock,
        vma: &kernel::mm::virt::VmaNew,
    ) -> Result {
        // Whoever maps the ring can write the buffers that the device fills.
        if !sk.net_capable(CAP) {
            return Err(EPERM);
        }
        match this.mem.as_ref() {
            Some(mem) if this.mappable.load(Acquire) => mem.pages.map(vma),
            _ => Err(EINVAL),
        }
    }

    fn poll(this: ArcBorrow<'_, channel::Channel<Chan>>, _sk: &Sock) -> u32 {
        let mut mask = 0;
        if this.dev_gone.load(Acquire) {
            mask |= socket::poll_mask::ERR | socket::poll_mask::HUP;
        }
        if let Some(mem) = this.mem.as_ref() {
            this.refresh_and_kick(mem);
            if this.rx.lock().published() != 0 {
                mask |= socket::poll_mask::IN | socket::poll_mask::RDNORM;
            }
        }
        mask
    }

    fn setsockopt(
        this: ArcBorrow<'_, channel::Channel<Chan>>,
        sk: &Sock,
        level: i32,
        optname: i32,
        optval: &SockOptIn,
    ) -> Result {
        if level != SOL_VJCHAN {
            return Err(ENOPROTOOPT);
        }
        let add = match u32::try_from(optname) {
            Ok(uapi::VJ_ADD_FILTER) => true,
            Ok(uapi::VJ_DEL_FILTER) => false,
            Ok(uapi::VJ_RING_SETUP) => {
                // The geometry the binder's ring will have (and be charged for): the power of
                // binding, whoever holds the file.
                if !sk.net_capable(CAP) {
                    return Err(EPERM);
                }
                if optval.len() != size_of::<RingSetup>() {
                    return Err(EINVAL);
                }
                let (geom, tstamp) = check_setup(&optval.read::<RingSetup>()?)?;
                let mut b = this.binding.lock();
                if b.bound {
                    return Err(EBUSY);
                }
                b.geom = geom;
                b.tstamp = tstamp;
                return Ok(());
            }
            _ => return Err(ENOPROTOOPT),
        };
        // A filter diverts the stack's traffic: the power of binding, whoever holds the file.
        if !sk.net_capable(CAP) {
            return Err(EPERM);
        }
        let raw = optval.read::<[u8; UAPI_FILTER_SIZE]>()?;
        let f = Filter::decode(&raw).ok_or(EINVAL)?;
        let mut st = this.rx.lock();
        if add {
            st.add_filter(f)
        } else {
            st.del_filter(f)
        }
    }

    fn getsockopt(
        this: ArcBorrow<'_, channel::Channel<Chan>>,
        level: i32,
        optname: i32,
        opt: &mut SockOptOut<'_>,
    ) -> Result {
        if level != SOL_VJCHAN {
            return Err(ENOPROTOOPT);
        }
        match u32::try_from(optname) {
            Ok(uapi::VJ_RING_OFFSETS) => {
                if opt.len() < uapi::VJ_RING_OFFSETS_SIZE_VER0 as usize {
                    return Err(EINVAL);
                }
                let geom = match this.mem.as_ref() {
                    Some(mem) => mem.geom,
                    None => this.binding.lock().geom,
                };
                let off = offsets(&geom);
                let n = opt.len().min(size_of::<RingOffsets>());
                opt.write(off.as_bytes().get(..n).ok_or(EINVAL)?)
            }
            Ok(uapi::VJ_FEATURES) => opt.write(&FEATURES.to_ne_bytes()),
            Ok(uapi::VJ_STATISTICS) => {
                if opt.len() < uapi::VJ_STATISTICS_SIZE_VER0 as usize {
                    return Err(EINVAL);
                }
                let stats = {
                    let mut st = this.rx.lock();
                    if let Some(mem) = this.mem.as_ref() {
                        st.refresh_consumer(mem);
                    }
                    st.stats
                };
                let n = opt.len().min(size_of::<Stats>());
                opt.write(stats.as_bytes().get(..n).ok_or(EINVAL)?)
            }
            _ => Err(ENOPROTOOPT),
        }
    }
}

struct VjchanModule {
    _family: socket::Registration<Chan>,
    _channels: channel::Registration<Chan>,
}

impl kernel::Module for VjchanModule {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        // Channels are unbound from devices that go away before sockets can bind any.
        let channels = channel::Registration::register(&VJCHAN_CHANNELS)?;
        let family = socket::Registration::register()?;
        pr_info!("PF_VJCHAN (family {}) registered\n", AF_VJCHAN);
        Ok(Self {
            _family: family,
            _channels: channels,
        })
    }
}

#[cfg(CONFIG_VJCHAN_KUNIT_TEST)]
#[kunit_tests(vjchan)]
mod tests {
    use super::*;

    fn args(ty: SockType, protocol: i32) -> CreateArgs {
        CreateArgs {
            ty,
            protocol,
            kern: false,
        }
    }

    #[test]
    fn create_accepts_raw_protocol_zero() {
        assert_eq!(check_create(&args(SockType::RAW, 0)), Ok(()));
    }

    #[test]
    fn create_refuses_other_types() {
        for ty in [SockType::STREAM, SockType::DGRAM, SockType::SEQPACKET] {
            assert_eq!(check_create(&args(ty, 0)), Err(ESOCKTNOSUPPORT));
        }
        assert_eq!(
            check_create(&args(SockType::from_raw(-1), 0)),
            Err(ESOCKTNOSUPPORT)
        );
    }

    #[test]
    fn create_refuses_nonzero_protocols() {
        for protocol in [1, -1, i32::MAX, i32::MIN] {
            assert_eq!(
                check_create(&args(SockType::RAW, protocol)),
                Err(EPROTONOSUPPORT)
            );
        }
    }

    fn addr(family: u16, flags: u16, ifindex: u32, reserved: u32) -> SockAddrVj {
        SockAddrVj {
            family,
            flags,
            ifindex,
            queue_id: 3,
            reserved,
        }
    }

    #[test]
    fn bind_address_checks() {
        let af = AF_VJCHAN;
        assert_eq!(check_addr(&addr(af, 0, 7, 0)), Ok((7, 3)));
        assert_eq!(check_addr(&addr(af + 1, 0, 7, 0)), Err(EINVAL));
        assert_eq!(check_addr(&addr(af, 1, 7, 0)), Err(EINVAL));
        assert_eq!(check_addr(&addr(af, 0, 7, 1)), Err(EINVAL));
        // An ifindex no device can have.
        assert_eq!(check_addr(&addr(af, 0, u32::MAX, 0)), Err(ENODEV));
    }

    #[test]
    fn filter_set_limits() {
        let mut st = RxState {
            ring: None,
            filters: [None; MAX_FILTERS],
            stats: Stats::default(),
            starved: false,
            status: 0,
        };
        for t in 0..MAX_FILTERS as u16 {
            assert_eq!(st.add_filter(Filter::EtherType(0x8800 + t)), Ok(()));
        }
        assert_eq!(st.add_filter(Filter::EtherType(0x8800)), Err(EEXIST));
        assert_eq!(st.add_filter(Filter::EtherType(0x9000)), Err(ENOSPC));
        assert_eq!(st.del_filter(Filter::EtherType(0x9000)), Err(ENOENT));
        assert_eq!(st.del_filter(Filter::EtherType(0x8803)), Ok(()));
        assert_eq!(st.add_filter(Filter::EtherType(0x9000)), Ok(()));
    }

    #[test]
    fn ring_offsets_are_consistent() {
        // The default geometry: 256 pages of 4 KiB, every one used.
        let g = Geometry::default_for(PAGE_SIZE);
        let o = offsets(&g);
        if PAGE_SIZE == 4096 {
            assert_eq!(o.mmap_size, 256 * 4096);
        }
        // Each shared word on a cache line of its own, nothing past the mapping.
        let words = [o.producer, o.status, o.consumer, o.flags];
        for (i, a) in words.iter().enumerate() {
            assert_eq!(a % 64, 0);
            assert!(a + 4 <= o.mmap_size);
            for b in &words[i + 1..] {
                assert!(a / 64 != b / 64);
            }
        }
        assert!(o.nr_slots.is_power_of_two());
        assert!(o.nr_bufs <= o.nr_slots);
        assert!(o.desc + u64::from(o.nr_slots * o.desc_size) <= o.consumer);
        assert!(o.flags + 64 <= o.buffers);
        let end = o.buffers + u64::from(o.nr_bufs) * u64::from(o.buf_size);
        assert!(end <= o.mmap_size && o.mmap_size - end < PAGE_SIZE as u64);
        assert_eq!(o.frame_max, o.buf_size - o.headroom);
        // A frame of a 1500-byte MTU with an Ethernet header and a VLAN tag fits.
        assert!(o.frame_max >= 1500 + 14 + 4);
    }

    #[test]
    fn ring_setup_checks() {
        let ok = RingSetup::default();
        assert!(check_setup(&ok).is_ok());
        let stamped = RingSetup {
            flags: uapi::VJ_RING_SETUP_F_TSTAMP,
            ..ok
        };
        assert_eq!(check_setup(&stamped).map(|(_, t)| t), Ok(true));
        for bad in [
            RingSetup { flags: 2, ..ok },
            RingSetup { reserved0: 1, ..ok },
            RingSetup {
                reserved: [0, 1],
                ..ok
            },
            RingSetup {
                buf_size: 3000,
                ..ok
            },
            RingSetup { nr_slots: 24, ..ok },
            RingSetup { size: 1, ..ok },
        ] {
            assert_eq!(check_setup(&bad).map(|_| ()), Err(EINVAL));
        }
    }

    #[test]
    fn family_numbers_match_uapi() {
        // include/uapi/linux/vjchan.h provides these numbers to user space.
        assert_eq!(AF_VJCHAN, 46);
        assert_eq!(SOL_VJCHAN, 288);
    }
}
