// SPDX-License-Identifier: GPL-2.0

//! Network channels: the side that network drivers see.
//!
//! A channel is bound to one receive queue of a network device. Drivers find it with
//! `vj_rx_channel()` and call its operations through `include/linux/vjchan.h`: take a buffer
//! to receive into, hand it back filled, or give it back unused. This module turns a Rust type
//! implementing [`RxChannel`] into such a channel ([`Channel`]). An implementation keeps a
//! [`Channels`] in a `static`: the operations drivers call, and a netdevice notifier that
//! unbinds its channels from a device that is being unregistered. While a [`Registration`] of it
//! exists, [`Channels::attach`] binds channels to device queues; dropping the registration
//! unbinds every channel it bound.
//!
//! A queue slot can only hold channels attached through some [`Channels`], and each knows its
//! own by the address of its operations, so the notifier never mistakes another
//! implementation's channel for one of its own type.
//!
//! C header: [`include/linux/vjchan.h`](srctree/include/linux/vjchan.h).

use crate::{
    bindings,
    error::to_result,
    ffi::{
        c_int,
        c_uint,
        c_ulong,
        c_void, //
    },
    mm::shared::SharedPages,
    net::device::{
        NetDevice,
        Rtnl, //
    },
    page::Page,
    prelude::*,
    sync::Arc,
    types::Opaque,
};
use core::{
    marker::PhantomData,
    ptr,
    sync::atomic::{
        AtomicBool,
        Ordering, //
    },
};

/// At most this many bytes of a frame's headers are passed to [`RxChannel::matches`]
/// (`VJ_RX_HDR_MAX`).
pub const RX_HDR_MAX: usize = bindings::VJ_RX_HDR_MAX as usize;

/// A buffer a channel lends to a driver to receive one frame into.
pub struct RxBuf<'a> {
    /// The page the frame goes into.
    pub page: &'a Page,
    /// Where the frame starts in `page`.
    pub offset: u32,
    /// How many bytes the frame may use from `offset`; `offset + size` is within the page.
    pub size: u32,
    /// The channel's number of the buffer.
    pub id: u32,
}

/// What [`RxChannel::netif_rx`] or [`RxChannel::deliver`] did with a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RxResult {
    /// Published to the channel's ring without a copy.
    Ring,
    /// Matched no filter: a copy went to the stack.
    Stack,
    /// Dropped and counted.
    Drop,
}

/// What a driver knows of a frame it hands to a channel (`struct vj_rx_meta`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RxMeta {
    /// The frame's TCP/UDP checksum is known good: verified by the device or computed by the
    /// kernel.
    pub csum_ok: bool,
    /// The flow hash, if the device or the kernel computed one.
    pub rxhash: Option<u32>,
}

impl RxMeta {
    /// # Safety
    ///
    /// `meta` is null or valid for reads.
    unsafe fn from_c(meta: *const bindings::vj_rx_meta) -> Self {
        if meta.is_null() {
            return Self::default();
        }
        // SAFETY: `meta` is not null, so valid for reads per the requirements.
        let m = unsafe { meta.read() };
        Self {
            csum_ok: m.flags & bindings::VJ_RX_META_CSUM_OK != 0,
            rxhash: (m.flags & bindings::VJ_RX_META_RXHASH != 0).then_some(m.rxhash),
        }
    }
}

/// The time stamp channels give received frames: nanoseconds of `CLOCK_MONOTONIC`.
pub fn rx_timestamp() -> u64 {
    // SAFETY: Always safe to call.
    let t = unsafe { bindings::ktime_get() };
    u64::try_from(t).unwrap_or(0)
}

/// Why the C side of a channel (`vj_rx_skb()`) dropped a frame that the channel had taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RxDrop {
    /// No memory for a copy or a segment.
    NoMem,
    /// The frame does not fit a buffer, or is malformed.
    Length,
    /// The device's netfilter ingress policy dropped it.
    Policy,
}

/// The operations of a channel, called by drivers (see the [module documentation](self)).
///
/// All of them may be called from any context, concurrently on several CPUs, and must not
/// sleep. The buffer ids and lengths drivers pass are not trusted: a wrong one must be detected
/// and counted, never followed.
pub trait RxChannel: Send + Sync + 'static {
    /// Takes a free buffer for a driver to receive into; `None` if there is none (the ring is
    /// full).
    fn get_buffer(&self) -> Option<RxBuf<'_>>;

    /// A driver hands back buffer `id` holding a frame of `len` bytes received on `dev`, with
    /// what the device said of it.
    fn netif_rx(&self, id: u32, len: u32, meta: RxMeta, dev: &NetDevice) -> RxResult;

    /// A driver gives back buffer `id` without a frame in it.
    fn put_buffer(&self, id: u32);

    /// Whether the frame whose first bytes are `headers` (a kernel copy, at most
    /// `VJ_RX_HDR_MAX` bytes) is the channel's: `vj_rx_skb()` then takes it, else the driver
    /// goes on with its normal path.
    fn matches(&self, headers: &[u8]) -> bool;

    /// Publishes buffer `id`, into which the kernel wrote a frame of `len` bytes that
    /// [`RxChannel::matches`] took and the device's policy accepted; no classification again.
    /// A `len` of 0 or longer than the buffer gives the buffer back, counted.
    fn deliver(&self, id: u32, len: u32, meta: RxMeta) -> RxResult;

    /// Counts a frame the C side dropped after [`RxChannel::matches`] took it.
    fn count_drop(&self, why: RxDrop);

    /// The channel was unbound from `dev` because the device is being unregistered (or the
    /// [`Registration`] that let it be attached is being dropped). Called under RTNL, after
    /// drivers stopped seeing the channel and before the binding's reference to it is dropped.
    fn unbound(&self, dev: &NetDevice);
}

/// A channel: the C `struct vj_channel` that drivers see, and the [`RxChannel`] behind it.
///
/// # Invariants
///
/// `head` is the first field (`repr(C)`), so a pointer to it is a pointer to the `Channel`. Its
/// `ops` are null until the channel is first attached, then the operations of the one
/// [`Channels<T>`] that attached it; they are written under RTNL only.
#[repr(C)]
#[pin_data]
pub struct Channel<T: RxChannel> {
    head: Opaque<bindings::vj_channel>,
    #[pin]
    data: T,
}

// SAFETY: `head` is written only under RTNL, by `Channels::attach` before drivers can see the
// channel, and read by drivers after that (its `ops` point to a table in a `static`); `T` is
// `Send`.
unsafe impl<T: RxChannel> Send for Channel<T> {}
// SAFETY: As above; `T` is `Sync`.
unsafe impl<T: RxChannel> Sync for Channel<T> {}

impl<T: RxChannel> core::ops::Deref for Channel<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.data
    }
}

impl<T: RxChannel> Channel<T> {
    /// Creates a channel around `data`, charged to the caller's memory cgroup.
    pub fn new(data: impl PinInit<T, Error>) -> Result<Arc<Self>> {
        Arc::pin_init(
            // INVARIANT: `head` is the first field, its `ops` null.
            try_pin_init!(Self {
                head: Opaque::new(bindings::vj_channel {
                    ops: ptr::null(),
                    frame_max: 0,
                }),
                data <- data,
            }),
            GFP_KERNEL_ACCOUNT,
        )
    }

    fn as_raw(this: &Arc<Self>) -> *mut bindings::vj_channel {
        Arc::as_ptr(this).cast_mut().cast()
    }

    /// Unbinds the channel from receive queue `qid` of `dev`, if it is bound there, waits until
    /// no driver can still be using it through the binding, and drops the binding's reference.
    /// Returns whether it was bound there.
    pub fn detach(this: &Arc<Self>, _rtnl: &Rtnl, dev: &NetDevice, qid: u32) -> bool {
        // SAFETY: `dev` is valid and RTNL is held.
        if unsafe { bindings::vj_rx_channel_rtnl(dev.as_ptr(), qid) } != Self::as_raw(this) {
            return false;
        }
        // The driver gives back the channel's buffers and stops using it here.
        // SAFETY: `dev` is valid and RTNL is held, so the slot still holds `this`.
        let cur = unsafe { bindings::vj_rx_channel_detach(dev.as_ptr(), qid) };
        // SAFETY: Always allowed in process context.
        unsafe { bindings::synchronize_net() };
        // SAFETY: `cur` is `this`, whose reference the slot held (from `into_raw` in `attach`);
        // after the grace period no driver uses it through the slot.
        drop(unsafe { Arc::from_raw(cur.cast::<Self>()) });
        true
    }

    /// # Safety
    ///
    /// `ch` must point to the head of a live `Channel<T>`.
    unsafe fn from_head<'a>(ch: *mut bindings::vj_channel) -> &'a Self {
        // SAFETY: By the type invariant the head is at offset 0; live per the requirements.
        unsafe { &*ch.cast::<Self>() }
    }

    /// # Safety
    ///
    /// Called by a driver through `vj_get_buffer()` with `buf` valid for writes and `ch` a
    /// channel it may use: either found with `vj_rx_channel()` in the RCU read-side critical
    /// section the call is made in, or handed to the driver's `setup` when it was bound and
    /// not yet unbound (`setup(NULL)` has not returned).
    unsafe extern "C" fn get_buffer_c(
        ch: *mut bindings::vj_channel,
        buf: *mut bindings::vj_buf,
    ) -> c_int {
        // SAFETY: The slot's reference keeps the channel alive while it is bound. Unbinding
        // (`Channel::detach`, the notifier) calls the driver's `setup(NULL)`, after which the
        // driver no longer uses the pointer `setup` got, then waits for an RCU grace period,
        // after which no read-side section that found it in the slot is left, and only then
        // drops that reference. Either way the caller's `ch` is live during the call.
        let this = unsafe { Self::from_head(ch) };
        match this.data.get_buffer() {
            Some(b) => {
                // SAFETY: `buf` is valid for writes.
                unsafe {
                    buf.write(bindings::vj_buf {
                        page: b.page.as_ptr(),
                        offset: b.offset,
                        size: b.size,
                        id: b.id,
                    })
                };
                0
            }
            None => ENOBUFS.to_errno(),
        }
    }

    /// # Safety
    ///
    /// As for [`Self::get_buffer_c`], with `buf` valid for reads, `meta` null or valid for
    /// reads and `dev` a valid device.
    unsafe extern "C" fn netif_rx_c(
        ch: *mut bindings::vj_channel,
        buf: *const bindings::vj_buf,
        len: c_uint,
        meta: *const bindings::vj_rx_meta,
        dev: *mut bindings::net_device,
    ) -> bindings::vj_rx_result {
        // SAFETY: As in `get_buffer_c`.
        let this = unsafe { Self::from_head(ch) };
        // SAFETY: `buf` is valid for reads.
        let id = unsafe { (*buf).id };
        // SAFETY: `meta` is null or valid for reads (the driver's).
        let meta = unsafe { RxMeta::from_c(meta) };
        // SAFETY: `dev` is valid for the duration of the call.
        let dev = unsafe { NetDevice::from_raw(dev) };
        Self::result_c(this.data.netif_rx(id, len, meta, dev))
    }

    /// # Safety
    ///
    /// As for [`Self::get_buffer_c`], with `buf` valid for reads.
    unsafe extern "C" fn put_buffer_c(ch: *mut bindings::vj_channel, buf: *const bindings::vj_buf) {
        // SAFETY: As in `get_buffer_c`.
        let this = unsafe { Self::from_head(ch) };
        // SAFETY: `buf` is valid for reads.
        this.data.put_buffer(unsafe { (*buf).id });
    }
}

impl<T: RxChannel> Channel<T> {
    fn result_c(r: RxResult) -> bindings::vj_rx_result {
        match r {
            RxResult::Ring => bindings::vj_rx_result_VJ_RX_RING,
            RxResult::Stack => bindings::vj_rx_result_VJ_RX_STACK,
            RxResult::Drop => bindings::vj_rx_result_VJ_RX_DROP,
        }
    }

    /// # Safety
    ///
    /// As for [`Self::get_buffer_c`], with `hdr` valid for reads of `len` bytes of kernel memory
    /// that nobody writes during the call.
    unsafe extern "C" fn match_c(
        ch: *mut bindings::vj_channel,
        hdr: *const c_void,
        len: c_uint,
    ) -> bool {
        // SAFETY: As in `get_buffer_c`.
        let this = unsafe { Self::from_head(ch) };
        if hdr.is_null() {
            return false;
        }
        // SAFETY: `hdr` is valid for reads of `len` bytes and not written during the call (the
        // caller's kernel copy of the headers).
        let headers = unsafe { core::slice::from_raw_parts(hdr.cast::<u8>(), len as usize) };
        this.data.matches(headers)
    }

    /// # Safety
    ///
    /// As for [`Self::get_buffer_c`], with `buf` valid for reads and `meta` null or valid for
    /// reads.
    unsafe extern "C" fn deliver_c(
        ch: *mut bindings::vj_channel,
        buf: *const bindings::vj_buf,
        len: c_uint,
        meta: *const bindings::vj_rx_meta,
    ) -> bindings::vj_rx_result {
        // SAFETY: As in `get_buffer_c`.
        let this = unsafe { Self::from_head(ch) };
        // SAFETY: `buf` is valid for reads.
        let id = unsafe { (*buf).id };
        // SAFETY: `meta` is null or valid for reads (`vj_rx_skb()`'s).
        let meta = unsafe { RxMeta::from_c(meta) };
        Self::result_c(this.data.deliver(id, len, meta))
    }

    /// # Safety
    ///
    /// As for [`Self::get_buffer_c`].
    unsafe extern "C" fn count_drop_c(ch: *mut bindings::vj_channel, why: bindings::vj_rx_drop) {
        // SAFETY: As in `get_buffer_c`.
        let this = unsafe { Self::from_head(ch) };
        let why = match why {
            bindings::vj_rx_drop_VJ_RX_DROP_NOMEM => RxDrop::NoMem,
            bindings::vj_rx_drop_VJ_RX_DROP_POLICY => RxDrop::Policy,
            _ => RxDrop::Length,
        };
        this.data.count_drop(why);
    }
}

/// What channels need of the device they are bound to: its stack and netfilter ingress hooks
/// for frames read from a channel's shared pages, and its driver's refill.
impl NetDevice {
    /// Passes a copy of an Ethernet frame to the stack, as received on this device
    /// (`netif_rx()`): its first bytes are `head`, a kernel snapshot, and the `len` bytes after
    /// them are read once from `offset` in `pages` (within one page). `EINVAL` if the range is
    /// not within one page or the frame is shorter than an Ethernet header, `ENOMEM` without
    /// memory.
    ///
    /// Callable from any context.
    pub fn receive_copy(
        &self,
        head: &[u8],
        pages: &SharedPages,
        offset: usize,
        len: usize,
    ) -> Result {
        let hlen = u32::try_from(head.len()).map_err(|_| EINVAL)?;
        let len32 = u32::try_from(len).map_err(|_| EINVAL)?;
        // SAFETY: The helper copies `head` and exactly the `len` bytes at `p` into a new skb and
        // keeps no pointer; it creates no Rust reference. `self` is a valid device.
        let ret = unsafe {
            pages.with_raw(offset, len, |p| {
                bindings::vj_rx_copy_to_stack(
                    self.as_ptr(),
                    head.as_ptr().cast(),
                    hlen,
                    p.cast(),
                    len32,
                )
            })
        }?;
        to_result(ret)
    }

    /// Asks the driver to refill receive queue `qid` with buffers of its channel, which had none
    /// to give (its ring was full) and now has. Callable from process context.
    pub fn channel_kick(&self, qid: u32) {
        // SAFETY: `self` is a valid device.
        unsafe { bindings::vj_rx_channel_kick(self.as_ptr(), qid) };
    }

    /// Whether the device has netfilter ingress hooks (nftables `netdev` or `inet` chains of
    /// type filter and hook `ingress`) that a frame received on it must pass.
    ///
    /// Cheap: a static key and a pointer test.
    pub fn nf_ingress_active(&self) -> bool {
        // SAFETY: `self` is a valid device.
        unsafe { bindings::vj_rx_nf_ingress_active(self.as_ptr()) }
    }

    /// Runs the device's netfilter ingress hooks on a copy of an Ethernet frame, as the stack
    /// would on receiving it: `head` (a kernel snapshot) followed by the `len` bytes at `offset`
    /// in `pages` (within one page), read once. Returns whether the policy accepts the frame;
    /// `EINVAL` if the range is not within one page or the frame is shorter than an Ethernet
    /// header, `ENOMEM` if no copy could be made.
    ///
    /// Called from a driver's receive path, with bottom halves disabled.
    pub fn nf_ingress(
        &self,
        head: &[u8],
        pages: &SharedPages,
        offset: usize,
        len: usize,
    ) -> Result<bool> {
        let hlen = u32::try_from(head.len()).map_err(|_| EINVAL)?;
        let len32 = u32::try_from(len).map_err(|_| EINVAL)?;
        // SAFETY: The helper copies `head` and exactly the `len` bytes at `p` into a new skb and
        // keeps no pointer; it creates no Rust reference. `self` is a valid device.
        let ret = unsafe {
            pages.with_raw(offset, len, |p| {
                bindings::vj_rx_nf_ingress(
                    self.as_ptr(),
                    head.as_ptr().cast(),
                    hlen,
                    p.cast(),
                    len32,
                )
            })
        }?;
        to_result(ret).map(|()| ret > 0)
    }
}

/// The channels of one implementation `T`: the operations drivers call on them, and the
/// netdevice notifier that unbinds them from devices that go away. Lives in a `static` of the
/// implementation; a [`Registration`] puts it to work.
///
/// # Invariants
///
/// - `ops` is a table of `Channel<T>`'s operations, never written; its address identifies the
///   channels attached through this `Channels` (the `static` is never moved).
/// - `on_chain` is true while a [`Registration`] of this `Channels` exists, from before `nb`
///   is registered as a netdevice notifier until after it is unregistered, so `nb` is never
///   registered twice.
/// - `live` is true only while `nb` is registered: from after its registration succeeded until
///   before its unregistration starts. Channels are attached only while it is true.
pub struct Channels<T: RxChannel> {
    ops: bindings::vj_channel_ops,
    nb: Opaque<bindings::notifier_block>,
    on_chain: AtomicBool,
    live: AtomicBool,
    _t: PhantomData<T>,
}

// SAFETY: `ops` is never written; `nb` is written only by the notifier chain, under its own
// locking; the flags are atomic.
unsafe impl<T: RxChannel> Sync for Channels<T> {}

impl<T: RxChannel> Channels<T> {
    /// The storage of the channels of `T`; to be used as the initialiser of a `static`.
    pub const fn new() -> Self {
        Self {
            // INVARIANT: `Channel<T>`'s operations.
            ops: bindings::vj_channel_ops {
                get_buffer: Some(Channel::<T>::get_buffer_c),
                netif_rx: Some(Channel::<T>::netif_rx_c),
                put_buffer: Some(Channel::<T>::put_buffer_c),
                match_: Some(Channel::<T>::match_c),
                deliver: Some(Channel::<T>::deliver_c),
                count_drop: Some(Channel::<T>::count_drop_c),
            },
            nb: Opaque::new(bindings::notifier_block {
                notifier_call: Some(Self::notifier_call),
                next: ptr::null_mut(),
                priority: 0,
            }),
            on_chain: AtomicBool::new(false),
            live: AtomicBool::new(false),
            _t: PhantomData,
        }
    }

    /// Binds channel `ch` to receive queue `qid` of `dev`: drivers see it from now on, lending
    /// it frames of up to `frame_max` bytes. Fails with `ENODEV` if there is no
    /// [`Registration`] of `self`, `EBUSY` if `ch` was attached through another [`Channels`]
    /// or a channel is bound to the queue, `EINVAL` if `dev` has no such queue, `EMSGSIZE` if a
    /// frame of the device's MTU does not fit `frame_max`, and with the driver's error.
    ///
    /// The binding holds a reference to the channel until [`Channel::detach`], until the device
    /// is unregistered or the [`Registration`] is dropped: then [`RxChannel::unbound`] is called.
    pub fn attach(
        &'static self,
        ch: Arc<Channel<T>>,
        _rtnl: &Rtnl,
        dev: &NetDevice,
        qid: u32,
        frame_max: u32,
    ) -> Result {
        // Under RTNL: the notifier is registered (`live`), and a `Registration` dropped after
        // this check unregisters it under RTNL after this attachment, which unbinds it.
        if !self.live.load(Ordering::Acquire) {
            return Err(ENODEV);
        }
        let raw = Arc::into_raw(ch).cast_mut();
        let head = raw.cast::<bindings::vj_channel>();
        // SAFETY: `raw` points to a live channel whose head is its first field (type invariant);
        // its `ops` are written only under RTNL, which the caller holds.
        let ops = unsafe { (*head).ops };
        let ret = if ops.is_null() || ptr::eq(ops, &self.ops) {
            // SAFETY: As above; `ops` is written only while null, before any driver sees the
            // channel, and drivers read `frame_max` only in their `setup`, under RTNL.
            unsafe {
                if ops.is_null() {
                    // INVARIANT: first attached, through `self`.
                    (*head).ops = &self.ops;
                }
                (*head).frame_max = frame_max;
            }
            // SAFETY: `dev` is valid and RTNL is held; `head` is the `struct vj_channel` of a
            // live channel, kept alive by the reference the slot now owns.
            unsafe { bindings::vj_rx_channel_attach(dev.as_ptr(), qid, head) }
        } else {
            EBUSY.to_errno()
        };
        if ret != 0 {
            // SAFETY: The slot did not take the reference made by `into_raw` above.
            drop(unsafe { Arc::from_raw(raw) });
        }
        to_result(ret)
    }

    /// # Safety
    ///
    /// Called by the netdevice notifier chain, under RTNL, with `nb` the `nb` of a `Channels<T>`
    /// and `ptr` a `struct netdev_notifier_info`.
    unsafe extern "C" fn notifier_call(
        nb: *mut bindings::notifier_block,
        event: c_ulong,
        ptr: *mut c_void,
    ) -> c_int {
        if event != bindings::netdev_cmd_NETDEV_UNREGISTER as c_ulong {
            return bindings::NOTIFY_DONE as c_int;
        }
        // SAFETY: `nb` is the `nb` field of a `Channels<T>`, which lives in a `static`.
        let this = unsafe {
            &*nb.cast::<u8>()
                .sub(core::mem::offset_of!(Self, nb))
                .cast::<Self>()
        };
        // SAFETY: `ptr` is a `struct netdev_notifier_info` of a valid device.
        let dev = unsafe { bindings::netdev_notifier_info_to_dev(ptr.cast()) };
        // SAFETY: `dev` is valid during the callback.
        let queues = unsafe { bindings::vj_num_rx_queues(dev) };
        for qid in 0..queues {
            // SAFETY: `dev` is valid and RTNL is held.
            let ch = unsafe { bindings::vj_rx_channel_rtnl(dev, qid) };
            // SAFETY: A channel in a slot is a live `struct vj_channel`; its `ops` are written
            // only under RTNL, which is held.
            if ch.is_null() || !ptr::eq(unsafe { (*ch).ops }, &this.ops) {
                continue;
            }
            // SAFETY: `dev` is valid and RTNL is held; the slot holds `ch`.
            let ch = unsafe { bindings::vj_rx_channel_detach(dev, qid) };
            // SAFETY: Its `ops` are `this.ops`, so `ch` was attached by `this.attach()` (type
            // invariant of `Channel`), which made the slot own a reference to a `Channel<T>`.
            let ch = unsafe { Arc::from_raw(ch.cast::<Channel<T>>()) };
            // SAFETY: Always allowed in process context; after it, no driver uses `ch` through
            // the slot.
            unsafe { bindings::synchronize_net() };
            // SAFETY: `dev` is valid during the callback.
            ch.data.unbound(unsafe { NetDevice::from_raw(dev) });
            drop(ch);
        }
        bindings::NOTIFY_DONE as c_int
    }
}

impl<T: RxChannel> Default for Channels<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// The channels of `T` at work: [`Channels::attach`] binds them, and they are unbound from
/// devices that go away, until this is dropped, which unbinds every one of them.
///
/// It must be dropped before the code of `T` goes away (keep it in the module's data, as
/// for other registrations): leaked with `core::mem::forget`, it would leave the notifier
/// registered.
///
/// # Invariants
///
/// `channels.nb` is registered as a netdevice notifier from creation until drop.
pub struct Registration<T: RxChannel> {
    channels: &'static Channels<T>,
}

impl<T: RxChannel> Registration<T> {
    /// Registers the notifier of `channels`; `EBUSY` if a `Registration` of it exists (or is
    /// still being dropped).
    pub fn register(channels: &'static Channels<T>) -> Result<Self> {
        if channels
            .on_chain
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return Err(EBUSY);
        }
        // SAFETY: `nb` lives in a `static` (never moved), is initialised, and is not registered
        // (`on_chain` was false, and it is cleared only after the unregistration).
        let ret = unsafe { bindings::register_netdevice_notifier(channels.nb.get()) };
        if ret != 0 {
            channels.on_chain.store(false, Ordering::Release);
            return Err(Error::from_errno(ret));
        }
        // INVARIANT: registered just above; channels may be attached from now on.
        channels.live.store(true, Ordering::Release);
        Ok(Self { channels })
    }
}

impl<T: RxChannel> Drop for Registration<T> {
    fn drop(&mut self) {
        // No attachment from now on; those made before are unbound below.
        self.channels.live.store(false, Ordering::Release);
        // Unregistering replays NETDEV_UNREGISTER for every device to the notifier (under
        // RTNL), which unbinds every channel attached through `self.channels`.
        // SAFETY: `nb` is registered (type invariant).
        unsafe { bindings::unregister_netdevice_notifier(self.channels.nb.get()) };
        self.channels.on_chain.store(false, Ordering::Release);
    }
}
