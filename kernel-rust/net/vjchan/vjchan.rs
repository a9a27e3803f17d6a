// SPDX-License-Identifier: GPL-2.0

//! PF_VJCHAN: Van Jacobson network channels.
//!
//! A PF_VJCHAN socket owns a network channel: a receive ring of [`NR_PAGES`] pages that the
//! process maps with `mmap(2)` and that drivers fill directly. `bind(2)` attaches the channel to
//! one receive queue of a device; flow filters (`setsockopt(2)`) say which frames belong to it.
//! A driver takes buffers from the channel before frames arrive (`vj_get_buffer()`) and hands
//! them back filled (`vj_netif_rx()`): a frame that matches a filter is published to the ring
//! where it lies, without a copy; one that matches none is copied to the normal stack.
//!
//! # The ring and its barriers
//!
//! The layout (offsets exported by `VJ_RING_OFFSETS`, not ABI):
//!
//! ```text
//!   0                 producer (u32)        written by the kernel only
//!   64                status (u32)          written by the kernel only
//!   PAGE_SIZE         NR_SLOTS descriptors  written by the kernel only
//!   4 * PAGE_SIZE     NR_SLOTS buffers      frames written by drivers
//!   size - 128        consumer (u32)        written by user space only
//!   size - 64         flags (u32)           written by user space only
//! ```
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
mod ring;

use filter::{
    Filter,
    Headers,
    HEADER_COPY,
    UAPI_FILTER_SIZE, //
};
use kernel::{
    mm::shared::SharedPages,
    net::{
        channel::{
            self,
            RxBuf,
            RxChannel,
            RxDrop,
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

/// Pages in a channel's ring.
const NR_PAGES: usize = 256;
/// Slots (and buffers) in a ring.
const NR_SLOTS: usize = 256;
/// The size of the mapping.
const MMAP_SIZE: usize = NR_PAGES * PAGE_SIZE;
/// Where the producer index is.
const PRODUCER_OFF: usize = 0;
/// Where the status word is: kernel-written, its own cache line.
const STATUS_OFF: usize = 64;
/// Where the descriptors are.
const DESC_OFF: usize = PAGE_SIZE;
/// The size of a descriptor (`struct vj_desc`).
const DESC_SIZE: usize = 32;
/// Where the buffers are.
const BUF_OFF: usize = 4 * PAGE_SIZE;
/// The size of a buffer.
const BUF_SIZE: usize = 2048;
/// Bytes before the frame in each buffer.
const HEADROOM: usize = 256;
/// The longest frame a buffer holds.
const FRAME_MAX: usize = BUF_SIZE - HEADROOM;
/// Where the consumer index is: its own cache line, at the end.
const CONSUMER_OFF: usize = MMAP_SIZE - 128;
/// Where the flags word is: its own cache line, at the end.
const FLAGS_OFF: usize = MMAP_SIZE - 64;
/// `VJ_RING_NEED_WAKEUP`.
const NEED_WAKEUP: u32 = uapi::VJ_RING_NEED_WAKEUP;
/// At most this many filters per channel.
const MAX_FILTERS: usize = uapi::VJ_MAX_FILTERS as usize;

const _: () = {
    assert!(STATUS_OFF >= PRODUCER_OFF + 64);
    assert!(DESC_OFF >= STATUS_OFF + 64);
    assert!(DESC_OFF + NR_SLOTS * DESC_SIZE <= BUF_OFF);
    assert!(BUF_OFF + NR_SLOTS * BUF_SIZE <= CONSUMER_OFF);
    assert!(CONSUMER_OFF + 64 <= FLAGS_OFF && FLAGS_OFF + 64 <= MMAP_SIZE);
    // A buffer never spans two pages.
    assert!(PAGE_SIZE % BUF_SIZE == 0 && BUF_OFF % BUF_SIZE == 0);
    assert!(FRAME_MAX >= 1514 + 4);
    assert!(HEADER_COPY <= FRAME_MAX);
    // Drivers hand `matches` at most this many header bytes.
    assert!(HEADER_COPY == channel::RX_HDR_MAX);
    assert!(NR_SLOTS <= 1 << 16);
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
    reserved: [u64; 3],
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
// SAFETY: Integers only, no padding (the sizes are checked below).
unsafe impl AsBytes for RingOffsets {}
// SAFETY: Integers only, no padding (the sizes are checked below).
unsafe impl AsBytes for Stats {}

const _: () = {
    assert!(size_of::<SockAddrVj>() == size_of::<uapi::sockaddr_vj>());
    assert!(size_of::<RingOffsets>() == size_of::<uapi::vj_ring_offsets>());
    assert!(size_of::<RingOffsets>() == 96);
    assert!(size_of::<Stats>() == size_of::<uapi::vj_statistics>());
    assert!(size_of::<Stats>() == uapi::VJ_STATISTICS_SIZE_VER1 as usize);
    assert!(size_of::<Stats>() >= uapi::VJ_STATISTICS_SIZE_VER0 as usize);
    assert!(size_of::<uapi::vj_desc>() == DESC_SIZE);
    assert!(size_of::<uapi::vj_filter>() == UAPI_FILTER_SIZE);
};

/// The offsets this kernel's rings have.
const OFFSETS: RingOffsets = RingOffsets {
    mmap_size: MMAP_SIZE as u64,
    producer: PRODUCER_OFF as u64,
    consumer: CONSUMER_OFF as u64,
    flags: FLAGS_OFF as u64,
    desc: DESC_OFF as u64,
    buffers: BUF_OFF as u64,
    nr_slots: NR_SLOTS as u32,
    desc_size: DESC_SIZE as u32,
    buf_size: BUF_SIZE as u32,
    headroom: HEADROOM as u32,
    status: STATUS_OFF as u64,
    reserved: [0; 3],
};

/// What this kernel's channels do (`VJ_FEATURES`).
const FEATURES: u64 = uapi::VJ_FEATURE_RX_RING as u64
    | uapi::VJ_FEATURE_NEED_WAKEUP as u64
    | uapi::VJ_FEATURE_FILTER_ETHERTYPE as u64
    | uapi::VJ_FEATURE_FILTER_IP as u64
    | uapi::VJ_FEATURE_NF_INGRESS as u64
    | uapi::VJ_FEATURE_MEMLOCK as u64
    | uapi::VJ_FEATURE_STATUS as u64;

/// Where the frame of buffer `id` starts in the mapping.
fn frame_offset(id: BufId) -> usize {
    BUF_OFF + usize::from(id) * BUF_SIZE + HEADROOM
}

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
    if a.family != socket::AF_VJCHAN || a.flags != 0 || a.reserved != 0 {
        return Err(EINVAL);
    }
    let ifindex = i32::try_from(a.ifindex).map_err(|_| ENODEV)?;
    Ok((ifindex, a.queue_id))
}

/// The receive state of a channel, under its spinlock.
struct RxState {
    ring: RxRing<NR_SLOTS>,
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
    fn refresh_consumer(&mut self, pages: &SharedPages) {
        let Ok(cons) = pages.load_u32(CONSUMER_OFF) else {
            return;
        };
        if self.ring.observe_consumer(cons) == ConsumerIndex::Invalid {
            self.stats.rx_invalid_consumer += 1;
        }
    }

    /// Sets or clears `bits` of the ring's status word.
    fn set_status(&mut self, pages: &SharedPages, bits: u32, on: bool) {
        let new = if on {
            self.status | bits
        } else {
            self.status & !bits
        };
        if new != self.status {
            self.status = new;
            let _ = pages.store_u32(STATUS_OFF, new);
        }
    }

    /// Whether a starved driver should be kicked now: slots were released. Clears the state.
    fn take_kick(&mut self, pages: &SharedPages) -> bool {
        if !self.starved || self.ring.free_buffers() == 0 {
            return false;
        }
        self.starved = false;
        self.set_status(pages, uapi::VJ_RING_STATUS_NEED_KICK, false);
        true
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

/// Which device queue a channel is bound to.
struct Binding {
    dev: Option<ARef<NetDevice>>,
    qid: u32,
    /// `bind(2)` succeeded once; a socket binds once.
    bound: bool,
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
    pages: SetOnce<SharedPages>,
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
                ring: RxRing::new(0),
                filters: [None; MAX_FILTERS],
                stats: Stats::default(),
                starved: false,
                status: 0,
            }),
            binding <- new_mutex!(Binding { dev: None, qid: 0, bound: false }),
            pages: SetOnce::new(),
            sk: SetOnce::new(),
            mappable: Atomic::new(false),
            dev_gone: Atomic::new(false),
        })
    }

    /// Publishes buffer `id`, holding `len` bytes, to the ring and wakes the consumer if it asked.
    fn publish(
        &self,
        pages: &SharedPages,
        mut st: kernel::sync::SpinLockIrqGuard<'_, RxState>,
        id: BufId,
        len: u32,
    ) -> RxResult {
        let Ok(slot) = st.ring.publish(id) else {
            return RxResult::Drop;
        };
        let desc = DESC_OFF + slot * DESC_SIZE;
        let written = pages
            .store_u64(desc, frame_offset(id) as u64)
            .and_then(|()| pages.store_u32(desc + 8, len))
            .and_then(|()| pages.store_u32(desc + 12, 0))
            .and_then(|()| pages.store_u32(desc + 16, 0))
            .and_then(|()| pages.store_u32(desc + 20, 0))
            .and_then(|()| pages.store_u64(desc + 24, 0));
        st.stats.rx_packets += 1;
        st.stats.rx_bytes += u64::from(len);
        // (B): pairs with (C) in user space.
        let _ = pages.store_u32_release(PRODUCER_OFF, st.ring.producer());
        if written.is_err() {
            return RxResult::Drop;
        }
        // (F): pairs with (E) in user space.
        smp_mb(Full);
        let wake = pages.load_u32(FLAGS_OFF).unwrap_or(0) & NEED_WAKEUP != 0;
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
        if st.ring.recycle(id).is_ok() {
            st.stats.rx_bad_length += 1;
        }
        RxResult::Drop
    }

    /// Frees what the consumer released and, if a driver starved for buffers and there are
    /// some now, asks it to refill (from process context).
    fn refresh_and_kick(&self, pages: &SharedPages) {
        let kick = {
            let mut st = self.rx.lock();
            st.refresh_consumer(pages);
            st.take_kick(pages)
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
    const FRAME_MAX: u32 = FRAME_MAX as u32;

    fn get_buffer(&self) -> Option<RxBuf<'_>> {
        let pages = self.pages.as_ref()?;
        let id = {
            let mut st = self.rx.lock();
            let id = st.ring.get_buffer().or_else(|| {
                st.refresh_consumer(pages);
                st.ring.get_buffer()
            });
            // Full because user space holds slots (not because the driver holds every
            // buffer, posted ahead of frames): the driver waits for a kick.
            if id.is_none() && st.ring.published() != 0 {
                st.stats.rx_ring_full += 1;
                if st.ring.posted() == 0 {
                    st.starved = true;
                    st.set_status(pages, uapi::VJ_RING_STATUS_NEED_KICK, true);
                }
            }
            id?
        };
        let Some((page, offset)) = pages.page_at(frame_offset(id)) else {
            let _ = self.rx.lock().ring.recycle(id);
            return None;
        };
        Some(RxBuf {
            page,
            offset: offset as u32,
            size: FRAME_MAX as u32,
            id: u32::from(id),
        })
    }

    fn netif_rx(&self, id: u32, len: u32, dev: &NetDevice) -> RxResult {
        let (Some(pages), Ok(id)) = (self.pages.as_ref(), BufId::try_from(id)) else {
            return RxResult::Drop;
        };
        let size = len as usize;
        if size == 0 || size > FRAME_MAX {
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
        if pages.read(frame_offset(id), head).is_err() {
            return self.bad_length(id);
        }
        let head = &copy[..n];
        let (rest_off, rest_len) = (frame_offset(id) + n, size - n);
        let headers = Headers::parse(head);
        let mut st = self.rx.lock();
        if st.matches(&headers) {
            // The device's netfilter ingress policy applies to the channel's frames as it would
            // to the stack's: a frame it drops is not delivered (see the rst). The hooks run
            // without the lock; without hooks the frame is published under the lock held.
            if dev.nf_ingress_active() {
                drop(st);
                let verdict = dev.nf_ingress(head, pages, rest_off, rest_len);
                st = self.rx.lock();
                if verdict != Ok(true) {
                    if st.ring.recycle(id).is_ok() {
                        match verdict {
                            Ok(_) => st.stats.rx_nf_dropped += 1,
                            Err(e) => st.stats.count_copy_failure(e),
                        }
                    }
                    return RxResult::Drop;
                }
            }
            return self.publish(pages, st, id, len);
        }
        drop(st);
        // No filter matched: a copy goes to the stack (whose policy applies there), then the
        // buffer is free again.
        let sent = dev.receive_copy(head, pages, rest_off, rest_len);
        let mut st = self.rx.lock();
        if st.ring.recycle(id).is_err() {
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
            let _ = self.rx.lock().ring.recycle(id);
        }
    }

    fn matches(&self, headers: &[u8]) -> bool {
        let headers = Headers::parse(headers.get(..HEADER_COPY).unwrap_or(headers));
        let mut st = self.rx.lock();
        if st.matches(&headers) {
            return true;
        }
        // The driver passes it on, untouched, to the stack.
        st.stats.rx_stack += 1;
        false
    }

    fn deliver(&self, id: u32, len: u32) -> RxResult {
        let (Some(pages), Ok(id)) = (self.pages.as_ref(), BufId::try_from(id)) else {
            return RxResult::Drop;
        };
        if len == 0 || len as usize > FRAME_MAX {
            return self.bad_length(id);
        }
        self.publish(pages, self.rx.lock(), id, len)
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
        if let Some(pages) = self.pages.as_ref() {
            self.rx
                .lock()
                .set_status(pages, uapi::VJ_RING_STATUS_DEV_GONE, true);
        }
        if let Some(sk) = self.sk.as_ref() {
            sk.report_error(ENODEV);
        }
    }
}

/// The storage of the PF_VJCHAN family.
static VJCHAN_FAMILY: socket::Family<Chan> = socket::Family::new();

/// The capability a device channel needs: it can take any traffic of its queue.
const CAP: i32 = socket::CAP_NET_ADMIN;

#[vtable]
impl socket::Socket for Chan {
    const FAMILY: u16 = socket::AF_VJCHAN;
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
        // The ring is allocated before the locks are taken: 256 pages, accounted to the
        // caller's memory cgroup and charged to its user's RLIMIT_MEMLOCK (ENOBUFS beyond it)
        // until the channel is freed. If the bind fails, both go at once.
        let pages = match this.pages.as_ref() {
            Some(_) => None,
            None => Some(SharedPages::new_memlock(NR_PAGES, GFP_KERNEL_ACCOUNT)?),
        };
        let rtnl = Rtnl::lock();
        let mut b = this.binding.lock();
        if b.bound || this.dev_gone.load(Acquire) {
            return Err(EINVAL);
        }
        let dev = rtnl.dev_get_by_index(sk, ifindex)?;
        this.sk.populate(sk.into());
        // Drivers see the channel from here on, but it lends them no buffer until the ring is
        // in place, below; then they are kicked to take some.
        channel::Channel::attach(this.into(), &rtnl, &dev, qid)?;
        if let Some(p) = pages {
            this.pages.populate(p);
        }
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
        match this.pages.as_ref() {
            Some(pages) if this.mappable.load(Acquire) => pages.map(vma),
            _ => Err(EINVAL),
        }
    }

    fn poll(this: ArcBorrow<'_, channel::Channel<Chan>>, _sk: &Sock) -> u32 {
        let mut mask = 0;
        if this.dev_gone.load(Acquire) {
            mask |= socket::poll_mask::ERR | socket::poll_mask::HUP;
        }
        if let Some(pages) = this.pages.as_ref() {
            this.refresh_and_kick(pages);
            if this.rx.lock().ring.published() != 0 {
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
        if level != socket::SOL_VJCHAN {
            return Err(ENOPROTOOPT);
        }
        let add = match u32::try_from(optname) {
            Ok(uapi::VJ_ADD_FILTER) => true,
            Ok(uapi::VJ_DEL_FILTER) => false,
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
        if level != socket::SOL_VJCHAN {
            return Err(ENOPROTOOPT);
        }
        match u32::try_from(optname) {
            Ok(uapi::VJ_RING_OFFSETS) => opt.write(OFFSETS.as_bytes()),
            Ok(uapi::VJ_FEATURES) => opt.write(&FEATURES.to_ne_bytes()),
            Ok(uapi::VJ_STATISTICS) => {
                if opt.len() < uapi::VJ_STATISTICS_SIZE_VER0 as usize {
                    return Err(EINVAL);
                }
                let stats = {
                    let mut st = this.rx.lock();
                    if let Some(pages) = this.pages.as_ref() {
                        st.refresh_consumer(pages);
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
    _channels: Pin<KBox<channel::Registration<Chan>>>,
}

impl kernel::Module for VjchanModule {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        // Channels are unbound from devices that go away before sockets can bind any.
        let channels = KBox::pin_init(channel::Registration::new(), GFP_KERNEL)?;
        let family = socket::Registration::register()?;
        pr_info!("PF_VJCHAN (family {}) registered\n", socket::AF_VJCHAN);
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
        let af = socket::AF_VJCHAN;
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
            ring: RxRing::new(0),
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
        // Each shared word on a cache line of its own, nothing past the mapping.
        let o = OFFSETS;
        let words = [o.producer, o.status, o.consumer, o.flags];
        for (i, a) in words.iter().enumerate() {
            assert_eq!(a % 64, 0);
            assert!(a + 4 <= o.mmap_size);
            for b in &words[i + 1..] {
                assert!(a / 64 != b / 64);
            }
        }
        assert!(o.nr_slots.is_power_of_two());
        assert!(o.desc + u64::from(o.nr_slots * o.desc_size) <= o.buffers);
        assert!(o.buffers + u64::from(o.nr_slots * o.buf_size) <= o.consumer);
        assert_eq!(o.mmap_size, (NR_PAGES * PAGE_SIZE) as u64);
        let last = frame_offset((NR_SLOTS - 1) as BufId) + FRAME_MAX;
        assert!(last as u64 <= o.consumer);
    }

    #[test]
    fn family_numbers_match_uapi() {
        // include/uapi/linux/vjchan.h provides these numbers to user space.
        assert_eq!(socket::AF_VJCHAN, 46);
        assert_eq!(socket::SOL_VJCHAN, 288);
    }
}
