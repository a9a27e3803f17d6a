//! The receive ring: a shared mapping that the kernel fills and this process drains.
//!
//! # Design and safety
//!
//! The ring is a `MAP_SHARED` mapping ([`memmap2::MmapRaw`]) that the kernel writes while
//! this process reads it, and that another process holding the same socket could map and
//! write too.  Rust's rules for references do not hold for such memory in general, so:
//!
//! - **The shared words** (producer, status, consumer, flags) are reached only as
//!   [`AtomicU32`]s made from raw pointers into the mapping ([`AtomicU32::from_ptr`]), the
//!   pattern io_uring and AF_XDP crates use: there is never a `&u32` or `&mut u32` to them.
//!   The producer index is loaded with `Acquire` (pairs with the kernel's release store),
//!   the consumer index stored with `Release` (pairs with the kernel's read of it before it
//!   reuses a buffer), and [`RxRing::wait`] follows the wakeup protocol with a full fence.
//! - **Descriptors** are read once per frame with a volatile read into a local copy, which
//!   is then validated and is all that is used afterwards: a value changed behind our back
//!   cannot change what was checked.
//! - **Every value read from the mapping is validated** before it is used to form a
//!   pointer: the producer index must be at most `nr_bufs` slots ahead of the consumer index
//!   and not behind frames already received; a descriptor's `addr` must be `headroom` bytes
//!   into one of the `nr_bufs` buffers and its `len` between 1 and `frame_max`.  A
//!   violation is an [`Error`], never a panic or an out-of-bounds access.  The offsets
//!   themselves (from `VJ_RING_OFFSETS`) are checked against the mapping's length, the
//!   alignment of each word, and overlap: the words this process writes (consumer, flags)
//!   never overlap the descriptors or the buffers it lends out.
//! - **Frame bytes** are lent as `&[u8]` ([`Frame::bytes`]) for as long as the [`Frame`]
//!   lives.  This is sound under the ABI's ownership rule: a frame belongs to user space
//!   from the moment the producer index passes its slot until the consumer index passes
//!   it, and the kernel never writes a buffer it has not had back (it keeps its own record
//!   of which buffer each slot holds and accepts a consumer index only between the last one
//!   it accepted and the producer).  This crate moves the consumer index past a slot only
//!   after its `Frame` is dropped, and nothing in this crate writes into the buffer area.
//!   What the ABI cannot exclude is *another process* that maps the same ring (it needs the
//!   socket and `CAP_NET_ADMIN`) and writes into a buffer, or rewrites a descriptor so that
//!   it names a buffer the kernel still owns: then the bytes behind a `&[u8]` may change
//!   while it is borrowed.  As with the buffers of io_uring and AF_XDP crates, this crate
//!   accepts that trust boundary: whoever shares the ring is trusted not to write frames
//!   it does not own.  No value written there can make this crate read outside the
//!   mapping, panic, or produce an invalid value (every byte is a valid `u8`).  Code that
//!   does not want to rely on that uses [`Frame::as_ptr`] with volatile reads.

use std::cell::{Cell, RefCell};
use std::mem::{align_of, size_of};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::sync::atomic::{fence, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use memmap2::{MmapOptions, MmapRaw};
use vjchan_uapi as uapi;

use crate::channel::{Channel, Features};
use crate::error::{DescProblem, Error, Result};
use crate::release::ReleaseTracker;

/// The most slots this crate accepts in a ring (the kernel's maximum today is
/// [`uapi::VJ_RING_SLOTS_MAX`]); bounds the memory the release tracker takes.
const MAX_SLOTS: u32 = 1 << 20;

/// The ring's layout, checked against the mapping.
#[derive(Clone, Copy, Debug)]
struct Geometry {
    producer: usize,
    consumer: usize,
    flags: usize,
    status: Option<usize>,
    desc: usize,
    desc_size: usize,
    mask: u32,
    buffers: u64,
    buf_size: u64,
    headroom: u64,
    nr_bufs: u32,
    frame_max: u32,
}

fn geometry(
    off: &uapi::RingOffsets,
    base: *const u8,
    len: usize,
    status: bool,
) -> Result<Geometry> {
    let bad = |why| Err(Error::Geometry(why));
    let size = len as u64;
    if off.mmap_size != size {
        return bad("mmap_size differs from the mapping's length");
    }
    if off.nr_slots == 0 || !off.nr_slots.is_power_of_two() || off.nr_slots > MAX_SLOTS {
        return bad("nr_slots is not a power of two in range");
    }
    if (off.desc_size as usize) < size_of::<uapi::Desc>()
        || off.desc_size as usize % align_of::<uapi::Desc>() != 0
    {
        return bad("desc_size too small or not a multiple of the descriptor's alignment");
    }
    let desc_end = u64::from(off.nr_slots)
        .checked_mul(u64::from(off.desc_size))
        .and_then(|n| n.checked_add(off.desc));
    let Some(desc_end) = desc_end.filter(|&e| e <= size) else {
        return bad("descriptors outside the mapping");
    };
    if (base as usize).wrapping_add(off.desc as usize) % align_of::<uapi::Desc>() != 0 {
        return bad("descriptors misaligned");
    }
    if off.buf_size == 0 || off.headroom >= off.buf_size {
        return bad("buf_size 0 or headroom not below it");
    }
    if off.frame_max == 0 || off.frame_max > off.buf_size - off.headroom {
        return bad("frame_max 0 or over buf_size - headroom");
    }
    if off.nr_bufs == 0 || off.nr_bufs > off.nr_slots {
        return bad("nr_bufs 0 or over nr_slots");
    }
    let buf_end = u64::from(off.nr_bufs)
        .checked_mul(u64::from(off.buf_size))
        .and_then(|n| n.checked_add(off.buffers));
    let Some(buf_end) = buf_end.filter(|&e| e <= size) else {
        return bad("buffers outside the mapping");
    };
    let overlaps = |a: u64, a_end: u64, b: u64, b_end: u64| a < b_end && b < a_end;
    if overlaps(off.desc, desc_end, off.buffers, buf_end) {
        return bad("descriptors overlap the buffers");
    }
    let mut words = vec![off.producer, off.consumer, off.flags];
    if status {
        words.push(off.status);
    }
    for (i, &w) in words.iter().enumerate() {
        let end = w.checked_add(4).filter(|&e| e <= size);
        let Some(end) = end else {
            return bad("a ring word outside the mapping");
        };
        if (base as usize).wrapping_add(w as usize) % align_of::<AtomicU32>() != 0 {
            return bad("a ring word misaligned");
        }
        if overlaps(w, end, off.desc, desc_end) || overlaps(w, end, off.buffers, buf_end) {
            return bad("a ring word overlaps the descriptors or the buffers");
        }
        if words[..i].iter().any(|&v| overlaps(w, end, v, v + 4)) {
            return bad("two ring words overlap");
        }
    }
    // Every offset checked so far is below `size`, which is a `usize`.
    Ok(Geometry {
        producer: off.producer as usize,
        consumer: off.consumer as usize,
        flags: off.flags as usize,
        status: status.then_some(off.status as usize),
        desc: off.desc as usize,
        desc_size: off.desc_size as usize,
        mask: off.nr_slots - 1,
        buffers: off.buffers,
        buf_size: u64::from(off.buf_size),
        headroom: u64::from(off.headroom),
        nr_bufs: off.nr_bufs,
        frame_max: off.frame_max,
    })
}

impl Geometry {
    /// Checks a descriptor; `Ok` means `[addr, addr + len)` lies in one buffer, past its
    /// headroom, inside the mapping.
    fn check(&self, d: &uapi::Desc) -> Result<(), DescProblem> {
        let area = u64::from(self.nr_bufs) * self.buf_size;
        let Some(rel) = d.addr.checked_sub(self.buffers).filter(|&r| r < area) else {
            return Err(DescProblem::OutsideBuffers);
        };
        if rel % self.buf_size != self.headroom {
            return Err(DescProblem::Misaligned);
        }
        if d.len == 0 {
            return Err(DescProblem::Empty);
        }
        if d.len > self.frame_max {
            return Err(DescProblem::TooLong);
        }
        Ok(())
    }
}

/// The `VJ_DESC_F_*` bits of a descriptor.  Unknown bits are kept but mean nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct DescFlags(u32);

impl DescFlags {
    /// The frame's outermost TCP/UDP checksum is known to be correct.
    pub const CSUM_OK: DescFlags = DescFlags(uapi::VJ_DESC_F_CSUM_OK);
    /// `rxhash` is valid.
    pub const RXHASH: DescFlags = DescFlags(uapi::VJ_DESC_F_RXHASH);
    /// `tstamp` is valid.
    pub const TSTAMP: DescFlags = DescFlags(uapi::VJ_DESC_F_TSTAMP);

    /// The raw bits.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Whether every bit of `other` is set.
    pub const fn contains(self, other: DescFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

/// The kernel-written status word (`VJ_RING_STATUS_*`); unknown bits are ignored.  Without
/// [`Features::STATUS`] it is always empty.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RingStatus(u32);

impl RingStatus {
    /// The device went away: the channel is unbound for good.  Frames still in the ring are
    /// valid; no more will come.
    pub const fn dev_gone(self) -> bool {
        self.0 & uapi::VJ_RING_STATUS_DEV_GONE != 0
    }

    /// The driver found the ring full with no buffer posted and waits for a kick
    /// ([`RxRing::kick`], which `recv_batch` and `wait` do when they find the ring empty).
    pub const fn need_kick(self) -> bool {
        self.0 & uapi::VJ_RING_STATUS_NEED_KICK != 0
    }

    /// The raw bits, unknown ones included.
    pub const fn bits(self) -> u32 {
        self.0
    }
}

/// What [`RxRing::wait`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitOutcome {
    /// Frames may be there: call [`RxRing::recv_batch`].  (Also returned at once, without
    /// sleeping, while frames received earlier are not released: the kernel's `poll` says
    /// readable as long as its consumer index is behind the producer.)
    Ready,
    /// The timeout passed without a frame.
    TimedOut,
    /// The device went away and no frame is left to receive.
    DeviceGone,
}

/// A mapped receive ring, with the [`Channel`] it belongs to.
///
/// Receive with [`recv_batch`](Self::recv_batch), sleep with [`wait`](Self::wait) (or put
/// the ring's descriptor, [`AsFd`], in your own poll/epoll/mio/tokio loop after
/// [`prepare_sleep`](Self::prepare_sleep)).  Frames are lent as [`Frame`]s and given back
/// when dropped, in any order.  See the [module documentation](self) for the safety design.
///
/// An `RxRing` is `Send` but not `Sync`: one thread consumes a ring.
pub struct RxRing {
    // Dropped first: unmapped before the socket is closed.
    map: MmapRaw,
    geo: Geometry,
    offsets: uapi::RingOffsets,
    tracker: RefCell<ReleaseTracker>,
    /// The consumer index last stored into the ring.
    published: Cell<u32>,
    /// Descriptor storage reused from batch to batch.
    spare: Cell<Vec<uapi::Desc>>,
    channel: Channel,
}

impl RxRing {
    /// Maps the ring of a bound channel: `mmap_size` bytes at offset 0, `MAP_SHARED`,
    /// read-write; checks its geometry.
    pub fn map(channel: Channel) -> Result<Self> {
        let features = channel.features()?;
        let offsets = channel.offsets()?;
        let len = usize::try_from(offsets.mmap_size)
            .ok()
            .filter(|&l| l > 0)
            .ok_or(Error::Geometry("mmap_size 0 or too big for this machine"))?;
        let map = MmapOptions::new()
            .len(len)
            .offset(uapi::VJ_MMAP_OFFSET_RX_RING)
            .map_raw(&channel)
            .map_err(|source| Error::Os { op: "mmap", source })?;
        Self::from_parts(map, offsets, features.contains(Features::STATUS), channel)
    }

    /// Builds the ring over `map`, which must be the ring of `channel` (or, in tests, memory
    /// that nobody but the test writes as the kernel would).
    pub(crate) fn from_parts(
        map: MmapRaw,
        offsets: uapi::RingOffsets,
        has_status: bool,
        channel: Channel,
    ) -> Result<Self> {
        let geo = geometry(&offsets, map.as_ptr(), map.len(), has_status)?;
        let mut ring = RxRing {
            map,
            geo,
            offsets,
            tracker: RefCell::new(ReleaseTracker::new(0, geo.mask + 1)),
            published: Cell::new(0),
            spare: Cell::new(Vec::new()),
            channel,
        };
        // Only this process writes the consumer index, and it has not yet: it holds the
        // index the kernel started the ring at (not necessarily 0).
        let start = ring.word(ring.geo.consumer).load(Ordering::Relaxed);
        ring.tracker = RefCell::new(ReleaseTracker::new(start, geo.mask + 1));
        ring.published.set(start);
        Ok(ring)
    }

    /// The shared word at byte offset `off`, as an atomic.
    fn word(&self, off: usize) -> &AtomicU32 {
        // SAFETY: `off` is one of the word offsets `geometry()` checked: `off + 4` is within
        // the mapping, the address is 4-byte aligned, and the mapping lives as long as
        // `self`.  The word is only ever accessed atomically in this process (no reference
        // to it as plain data exists); the kernel and other processes accessing it are
        // outside this program and access it as a `__u32` with atomic instructions.
        unsafe { AtomicU32::from_ptr(self.map.as_mut_ptr().add(off).cast::<u32>()) }
    }

    /// The channel of the ring: filters and statistics.
    pub fn channel(&self) -> &Channel {
        &self.channel
    }

    /// The ring's offsets and geometry, as the kernel gave them (and as checked).
    pub fn offsets(&self) -> &uapi::RingOffsets {
        &self.offsets
    }

    /// The status word (a relaxed load).
    pub fn status(&self) -> RingStatus {
        match self.geo.status {
            Some(off) => RingStatus(self.word(off).load(Ordering::Relaxed)),
            None => RingStatus(0),
        }
    }

    /// Frames received and not yet behind the consumer index (held, or released while an
    /// earlier one is held).
    pub fn outstanding(&self) -> u32 {
        self.tracker.borrow().outstanding()
    }

    /// Frames published and not yet received, from a fresh (acquire) load of the producer
    /// index.
    pub fn available(&self) -> Result<u32> {
        let t = self.tracker.borrow();
        self.check_producer(&t, self.word(self.geo.producer).load(Ordering::Acquire))
    }

    /// Validates `prod` against the tracker; returns how many slots are published and not
    /// yet received.
    fn check_producer(&self, t: &ReleaseTracker, prod: u32) -> Result<u32> {
        let total = prod.wrapping_sub(t.consumer());
        let taken = t.outstanding();
        if total > self.geo.nr_bufs || total < taken {
            return Err(Error::Producer {
                producer: prod,
                consumer: t.consumer(),
                received: t.received(),
                nr_bufs: self.geo.nr_bufs,
            });
        }
        Ok(total - taken)
    }

    /// Hands released slots back to the kernel: one release store of the consumer index, if
    /// it moved.  `recv_batch`, `wait`, `prepare_sleep` and dropping a [`Batch`] do it;
    /// dropping a [`Frame`] only records the release.
    pub fn flush(&self) {
        let cons = self.tracker.borrow().consumer();
        if cons != self.published.get() {
            // (D): everything read from the released frames happened before.
            self.word(self.geo.consumer).store(cons, Ordering::Release);
            self.published.set(cons);
        }
    }

    /// Asks the driver to refill: `poll()` with a timeout of 0.
    pub fn kick(&self) -> Result<()> {
        self.poll(0).map(|_| ())
    }

    fn poll(&self, timeout_ms: libc::c_int) -> Result<libc::c_short> {
        let mut pfd = libc::pollfd {
            fd: self.channel.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: `pfd` is one valid, writable pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
        match n {
            n if n < 0 => Err(Error::last_os("poll")),
            0 => Ok(0),
            _ => Ok(pfd.revents),
        }
    }

    fn kick_if_needed(&self) -> Result<()> {
        if self.status().need_kick() {
            self.kick()?;
        }
        Ok(())
    }

    fn read_desc(&self, index: u32) -> uapi::Desc {
        let slot = (index & self.geo.mask) as usize;
        // In bounds and aligned: `geometry()` checked `desc + nr_slots * desc_size` against
        // the mapping and the alignment of `desc` and `desc_size`.
        let off = self.geo.desc + slot * self.geo.desc_size;
        // SAFETY: `off .. off + size_of::<Desc>()` is inside the mapping, aligned for
        // `Desc` (see above), and every bit pattern is a valid `Desc`.  A volatile read: the
        // memory is shared with the kernel (which does not write a published slot) and
        // possibly other processes; the copy is validated before use.
        unsafe {
            self.map
                .as_ptr()
                .add(off)
                .cast::<uapi::Desc>()
                .read_volatile()
        }
    }

    /// Receives up to `max` published frames.
    ///
    /// Stores the consumer index first if frames were released.  Loads the producer index
    /// (acquire) and checks it; reads and checks each descriptor.  If a descriptor is bad,
    /// the frames before it are returned and the next call fails with
    /// [`Error::Descriptor`] (the slot stays unreceived; see [`skip`](Self::skip)).  An
    /// empty ring gives an empty batch, after kicking the driver if the status word asks
    /// for it.
    pub fn recv_batch(&self, max: usize) -> Result<Batch<'_>> {
        self.flush();
        let mut t = self.tracker.borrow_mut();
        let prod = self.word(self.geo.producer).load(Ordering::Acquire);
        let avail = self.check_producer(&t, prod)?;
        let first = t.received();
        let mut descs = self.spare.take();
        descs.clear();
        let n = avail.min(u32::try_from(max).unwrap_or(u32::MAX));
        for i in 0..n {
            let index = first.wrapping_add(i);
            let d = self.read_desc(index);
            if let Err(problem) = self.geo.check(&d) {
                if i == 0 {
                    self.spare.set(descs);
                    return Err(Error::Descriptor {
                        index,
                        addr: d.addr,
                        len: d.len,
                        problem,
                    });
                }
                break;
            }
            descs.push(d);
        }
        // `avail <= nr_bufs <= nr_slots` minus what is outstanding: always room.
        if t.receive(descs.len() as u32).is_none() {
            self.spare.set(descs);
            return Err(Error::Producer {
                producer: prod,
                consumer: t.consumer(),
                received: t.received(),
                nr_bufs: self.geo.nr_bufs,
            });
        }
        drop(t);
        if avail == 0 {
            self.kick_if_needed()?;
        }
        Ok(Batch {
            ring: self,
            first,
            descs,
            pos: 0,
        })
    }

    /// Receives the next published slot without reading its descriptor and releases it at
    /// once: the way past a slot whose descriptor [`recv_batch`](Self::recv_batch) refused.
    /// Returns whether there was a slot.
    pub fn skip(&self) -> Result<bool> {
        let mut t = self.tracker.borrow_mut();
        let prod = self.word(self.geo.producer).load(Ordering::Acquire);
        if self.check_producer(&t, prod)? == 0 {
            return Ok(false);
        }
        if let Some(index) = t.receive(1) {
            let _ = t.release(index);
        }
        drop(t);
        self.flush();
        Ok(true)
    }

    fn release(&self, index: u32) {
        // Cannot fail: each received index is owned by exactly one Frame or Batch slot.
        let _ = self.tracker.borrow_mut().release(index);
    }

    /// Whether frames are published and not yet received (producer loaded with acquire).
    fn has_new(&self) -> bool {
        let t = self.tracker.borrow();
        self.word(self.geo.producer).load(Ordering::Acquire) != t.received()
    }

    /// Prepares to sleep in your own event loop: stores the consumer index, sets
    /// `VJ_RING_NEED_WAKEUP`, issues the full fence and re-checks the producer index.
    /// Returns `true` if frames arrived meanwhile (do not sleep: receive them); `false`:
    /// sleep on the ring's descriptor, then call [`end_sleep`](Self::end_sleep).
    pub fn prepare_sleep(&self) -> bool {
        self.flush();
        if self.has_new() {
            return true;
        }
        self.word(self.geo.flags)
            .fetch_or(uapi::VJ_RING_NEED_WAKEUP, Ordering::Relaxed);
        // (E): the flag store before the producer load; pairs with the kernel's full fence
        // (F) between its producer store and its flag load.
        fence(Ordering::SeqCst);
        let new = self.has_new();
        if new {
            self.end_sleep();
        }
        new
    }

    /// Clears `VJ_RING_NEED_WAKEUP` after a sleep, so that a busy consumer costs the kernel
    /// no wakeups.
    pub fn end_sleep(&self) {
        self.word(self.geo.flags)
            .fetch_and(!uapi::VJ_RING_NEED_WAKEUP, Ordering::Relaxed);
    }

    /// Sleeps until frames are published, the device goes away, or `timeout` passes (`None`:
    /// no timeout), following the wakeup protocol: store the consumer index, set
    /// `VJ_RING_NEED_WAKEUP`, full fence, re-check the producer, `poll()`, clear the flag.
    /// Kicks the driver first if the status word asks for it.  Interrupted `poll`s are
    /// restarted.
    pub fn wait(&self, timeout: Option<Duration>) -> Result<WaitOutcome> {
        self.flush();
        if self.has_new() {
            return Ok(WaitOutcome::Ready);
        }
        if self.status().dev_gone() {
            return Ok(WaitOutcome::DeviceGone);
        }
        self.kick_if_needed()?;
        if self.prepare_sleep() {
            return Ok(WaitOutcome::Ready);
        }
        let deadline = timeout.map(|t| Instant::now() + t);
        let revents = loop {
            let ms = match deadline {
                None => -1,
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    // Round up, so that a short timeout does not become a busy loop.
                    let ms = left.as_nanos().div_ceil(1_000_000);
                    libc::c_int::try_from(ms).unwrap_or(libc::c_int::MAX)
                }
            };
            match self.poll(ms) {
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
                r => break r,
            }
        };
        self.end_sleep();
        let revents = revents?;
        if self.has_new() {
            return Ok(WaitOutcome::Ready);
        }
        if revents & (libc::POLLERR | libc::POLLHUP) != 0 || self.status().dev_gone() {
            return Ok(WaitOutcome::DeviceGone);
        }
        if revents == 0 {
            return Ok(WaitOutcome::TimedOut);
        }
        Ok(WaitOutcome::Ready)
    }
}

impl std::fmt::Debug for RxRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let t = self.tracker.borrow();
        f.debug_struct("RxRing")
            .field("channel", &self.channel)
            .field("offsets", &self.offsets)
            .field("consumer", &t.consumer())
            .field("received", &t.received())
            .field("published", &self.published.get())
            .finish_non_exhaustive()
    }
}

impl AsFd for RxRing {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.channel.as_fd()
    }
}

impl AsRawFd for RxRing {
    fn as_raw_fd(&self) -> RawFd {
        self.channel.as_raw_fd()
    }
}

/// Frames received together by [`RxRing::recv_batch`]: an iterator of [`Frame`]s.
///
/// Frames not taken from the batch are released when it drops; dropping it also stores the
/// consumer index.
#[derive(Debug)]
pub struct Batch<'r> {
    ring: &'r RxRing,
    first: u32,
    descs: Vec<uapi::Desc>,
    pos: usize,
}

impl<'r> Iterator for Batch<'r> {
    type Item = Frame<'r>;

    fn next(&mut self) -> Option<Frame<'r>> {
        let desc = *self.descs.get(self.pos)?;
        let index = self.first.wrapping_add(self.pos as u32);
        self.pos += 1;
        Some(Frame {
            ring: self.ring,
            index,
            desc,
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.descs.len() - self.pos;
        (n, Some(n))
    }
}

impl ExactSizeIterator for Batch<'_> {}

impl Batch<'_> {
    /// Whether no frame is left in the batch (the ring was empty if it is new).
    pub fn is_empty(&self) -> bool {
        self.pos == self.descs.len()
    }
}

impl Drop for Batch<'_> {
    fn drop(&mut self) {
        for i in self.pos..self.descs.len() {
            self.ring.release(self.first.wrapping_add(i as u32));
        }
        self.ring.spare.set(std::mem::take(&mut self.descs));
        self.ring.flush();
    }
}

/// A received frame, lent from the ring; its slot is released when it drops.
///
/// The descriptor was copied and checked when the frame was received: [`len`](Self::len),
/// [`flags`](Self::flags) and the rest come from that copy.  The bytes are the ring's own
/// (zero copy); see the [module documentation](self) for what makes [`bytes`](Self::bytes)
/// sound.
#[derive(Debug)]
pub struct Frame<'r> {
    ring: &'r RxRing,
    index: u32,
    desc: uapi::Desc,
}

impl Frame<'_> {
    /// The ring index of the frame's slot (free-running).
    pub fn index(&self) -> u32 {
        self.index
    }

    /// The frame's length, Ethernet header included (1 to `frame_max`).
    pub fn len(&self) -> usize {
        self.desc.len as usize
    }

    /// Always `false`: the kernel never publishes an empty frame and this crate refuses one.
    pub fn is_empty(&self) -> bool {
        self.desc.len == 0
    }

    /// The frame's offset from the start of the mapping (the descriptor's `addr`).
    pub fn offset(&self) -> u64 {
        self.desc.addr
    }

    /// The descriptor as read and checked when the frame was received.
    pub fn desc(&self) -> &uapi::Desc {
        &self.desc
    }

    /// The descriptor's flags.
    pub fn flags(&self) -> DescFlags {
        DescFlags(self.desc.flags)
    }

    /// Whether the frame's outermost TCP/UDP checksum is known to be correct
    /// (`VJ_DESC_F_CSUM_OK`); `false` means unknown, not wrong.
    pub fn csum_ok(&self) -> bool {
        self.flags().contains(DescFlags::CSUM_OK)
    }

    /// The flow hash, with `VJ_DESC_F_RXHASH`: to spread flows, not to identify them.
    pub fn rxhash(&self) -> Option<u32> {
        self.flags()
            .contains(DescFlags::RXHASH)
            .then_some(self.desc.rxhash)
    }

    /// When the kernel took the frame, in ns of `CLOCK_MONOTONIC`, with `VJ_DESC_F_TSTAMP`
    /// (rings set up with `VJ_RING_SETUP_F_TSTAMP`).
    pub fn tstamp(&self) -> Option<u64> {
        self.flags()
            .contains(DescFlags::TSTAMP)
            .then_some(self.desc.tstamp)
    }

    /// A raw pointer to the frame's first byte in the mapping, valid for [`len`](Self::len)
    /// bytes while the frame lives.
    pub fn as_ptr(&self) -> *const u8 {
        // In bounds: checked when received (`Geometry::check`).
        self.ring.map.as_ptr().wrapping_add(self.desc.addr as usize)
    }

    /// The frame's bytes, in the ring (no copy), for as long as the frame is borrowed.
    ///
    /// The kernel does not write them until the frame is released.  Another process that
    /// maps the same ring could (see the [module documentation](self)); such a change is
    /// outside this crate's trust boundary, and can change bytes, not make them invalid.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `Geometry::check` proved `addr .. addr + len` lies in one buffer inside
        // the mapping, which outlives `self` (the ring is borrowed for `'r`).  The buffer
        // belongs to this process until the frame is released, which happens only when
        // `self` drops, after this borrow ends; nothing in this crate writes the buffer
        // area, and the kernel writes a buffer only after the consumer index gave it back.
        unsafe { std::slice::from_raw_parts(self.as_ptr(), self.len()) }
    }

    /// A copy of the frame's bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        self.bytes().to_vec()
    }
}

impl std::ops::Deref for Frame<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.bytes()
    }
}

impl AsRef<[u8]> for Frame<'_> {
    fn as_ref(&self) -> &[u8] {
        self.bytes()
    }
}

impl Drop for Frame<'_> {
    fn drop(&mut self) {
        self.ring.release(self.index);
    }
}

#[cfg(test)]
mod tests;
