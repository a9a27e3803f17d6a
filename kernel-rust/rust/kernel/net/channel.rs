// SPDX-License-Identifier: GPL-2.0

//! Network channels: the side that network drivers see.
//!
//! A channel is bound to one receive queue of a network device. Drivers find it with
//! `vj_rx_channel()` and call its operations through `include/linux/vjchan.h`: take a buffer
//! to receive into, hand it back filled, or give it back unused. This module turns a Rust type
//! implementing [`RxChannel`] into such a channel ([`Channel`]), binds it to device queues and
//! unbinds it, and unbinds every channel from a device that is being unregistered
//! ([`Registration`]).
//!
//! There is one implementation of channels in the kernel (`net/vjchan`), so one [`Registration`]
//! and one channel type; [`Registration::new`] fails with `EBUSY` for a second one.
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
    /// The longest frame a buffer of the channel holds (`struct vj_channel.frame_max`).
    const FRAME_MAX: u32;

    /// Takes a free buffer for a driver to receive into; `None` if there is none (the ring is
    /// full).
    fn get_buffer(&self) -> Option<RxBuf<'_>>;

    /// A driver hands back buffer `id` holding a frame of `len` bytes received on `dev`.
    fn netif_rx(&self, id: u32, len: u32, dev: &NetDevice) -> RxResult;

    /// A driver gives back buffer `id` without a frame in it.
    fn put_buffer(&self, id: u32);

    /// Whether the frame whose first bytes are `headers` (a kernel copy, at most
    /// `VJ_RX_HDR_MAX` bytes) is the channel's: `vj_rx_skb()` then takes it, else the driver
    /// goes on with its normal path.
    fn matches(&self, headers: &[u8]) -> bool;

    /// Publishes buffer `id`, into which the kernel wrote a frame of `len` bytes that
    /// [`RxChannel::matches`] took and the device's policy accepted; no classification again.
    /// A `len` of 0 or longer than the buffer gives the buffer back, counted.
    fn deliver(&self, id: u32, len: u32) -> RxResult;

    /// Counts a frame the C side dropped after [`RxChannel::matches`] took it.
    fn count_drop(&self, why: RxDrop);

    /// The channel was unbound from `dev` because the device is being unregistered. Called
    /// under RTNL, after drivers stopped seeing the channel and before the binding's reference
    /// to it is dropped.
    fn unbound(&self, dev: &NetDevice);
}

/// A channel: the C `struct vj_channel` that drivers see, and the [`RxChannel`] behind it.
///
/// # Invariants
///
/// `head` is the first field (`repr(C)`), so a pointer to it is a pointer to the `Channel`, and
/// its `ops` are [`Channel::OPS`] of this `T`.
#[repr(C)]
#[pin_data]
pub struct Channel<T: RxChannel> {
    head: Opaque<bindings::vj_channel>,
    #[pin]
    data: T,
}

// SAFETY: `head` is written once, before the channel is shared, and only read afterwards (its
// `ops` point to a constant table); `T` is `Send`.
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
    const OPS: bindings::vj_channel_ops = bindings::vj_channel_ops {
        get_buffer: Some(Self::get_buffer_c),
        netif_rx: Some(Self::netif_rx_c),
        put_buffer: Some(Self::put_buffer_c),
        match_: Some(Self::match_c),
        deliver: Some(Self::deliver_c),
        count_drop: Some(Self::count_drop_c),
    };

    /// Creates a channel around `data`, charged to the caller's memory cgroup.
    pub fn new(data: impl PinInit<T, Error>) -> Result<Arc<Self>> {
        Arc::pin_init(
            // INVARIANT: `head` is the first field and its `ops` are `Self::OPS`.
            try_pin_init!(Self {
                head: Opaque::new(bindings::vj_channel {
                    ops: &Self::OPS,
                    frame_max: T::FRAME_MAX,
                }),
                data <- data,
            }),
            GFP_KERNEL_ACCOUNT,
        )
    }

    fn as_raw(this: &Arc<Self>) -> *mut bindings::vj_channel {
        Arc::as_ptr(this).cast_mut().cast()
    }

    /// Binds the channel to receive queue `qid` of `dev`: drivers see it from now on. Fails
    /// with `EINVAL` if `dev` has no such queue and with `EBUSY` if a channel is bound to it.
    ///
    /// The binding holds a reference to the channel until [`Channel::detach`], or until the
    /// device is unregistered: then [`RxChannel::unbound`] is called (a [`Registration`] must
    /// exist while channels are bound).
    pub fn attach(this: Arc<Self>, _rtnl: &Rtnl, dev: &NetDevice, qid: u32) -> Result {
        let raw = Arc::into_raw(this).cast_mut();
        // SAFETY: `dev` is valid and RTNL is held; `raw` points to the `struct vj_channel` head
        // of a live channel (type invariant), kept alive by the reference the slot now owns.
        let ret = unsafe { bindings::vj_rx_channel_attach(dev.as_ptr(), qid, raw.cast()) };
        if ret != 0 {
            // SAFETY: The slot did not take the reference made by `into_raw` above.
            drop(unsafe { Arc::from_raw(raw) });
        }
        to_result(ret)
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
    /// Called by a driver through `vj_get_buffer()`, with `ch` from `vj_rx_channel()` within
    /// the same RCU read-side critical section and `buf` valid for writes.
    unsafe extern "C" fn get_buffer_c(
        ch: *mut bindings::vj_channel,
        buf: *mut bindings::vj_buf,
    ) -> c_int {
        // SAFETY: A channel found through a queue slot lives until an RCU grace period after it
        // is detached, and the caller is in a read-side critical section.
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
    /// As for [`Self::get_buffer_c`], with `buf` valid for reads and `dev` a valid device.
    unsafe extern "C" fn netif_rx_c(
        ch: *mut bindings::vj_channel,
        buf: *const bindings::vj_buf,
        len: c_uint,
        dev: *mut bindings::net_device,
    ) -> bindings::vj_rx_result {
        // SAFETY: As in `get_buffer_c`.
        let this = unsafe { Self::from_head(ch) };
        // SAFETY: `buf` is valid for reads.
        let id = unsafe { (*buf).id };
        // SAFETY: `dev` is valid for the duration of the call.
        let dev = unsafe { NetDevice::from_raw(dev) };
        Self::result_c(this.data.netif_rx(id, len, dev))
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
    /// As for [`Self::get_buffer_c`], with `buf` valid for reads.
    unsafe extern "C" fn deliver_c(
        ch: *mut bindings::vj_channel,
        buf: *const bindings::vj_buf,
        len: c_uint,
    ) -> bindings::vj_rx_result {
        // SAFETY: As in `get_buffer_c`.
        let this = unsafe { Self::from_head(ch) };
        // SAFETY: `buf` is valid for reads.
        let id = unsafe { (*buf).id };
        Self::result_c(this.data.deliver(id, len))
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

/// Whether a [`Registration`] exists.
static REGISTERED: AtomicBool = AtomicBool::new(false);

/// Unbinds the channels of type `T` from devices that are being unregistered (a netdevice
/// notifier), until dropped.
///
/// # Invariants
///
/// `nb` is registered as a netdevice notifier from creation until drop.
#[pin_data(PinnedDrop)]
pub struct Registration<T: RxChannel> {
    #[pin]
    nb: Opaque<bindings::notifier_block>,
    _p: PhantomData<T>,
}

// SAFETY: The notifier block is only touched by the notifier chain, under its own locking.
unsafe impl<T: RxChannel> Send for Registration<T> {}
// SAFETY: `Registration` has no methods taking `&self`.
unsafe impl<T: RxChannel> Sync for Registration<T> {}

impl<T: RxChannel> Registration<T> {
    /// Registers the notifier; `EBUSY` if a `Registration` exists already.
    pub fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            nb <- Opaque::try_ffi_init(|nb: *mut bindings::notifier_block| {
                if REGISTERED.swap(true, Ordering::AcqRel) {
                    return Err(EBUSY);
                }
                // SAFETY: `nb` is valid for writes; a zeroed notifier block is a valid one.
                unsafe {
                    nb.write(pin_init::zeroed());
                    (*nb).notifier_call = Some(Self::notifier_call);
                }
                // SAFETY: `nb` is pinned and stays registered until `drop`.
                let ret = unsafe { bindings::register_netdevice_notifier(nb) };
                if ret != 0 {
                    REGISTERED.store(false, Ordering::Release);
                }
                to_result(ret)
            }),
            _p: PhantomData,
        })
    }

    /// # Safety
    ///
    /// Called by the netdevice notifier chain, under RTNL, with `ptr` a
    /// `struct netdev_notifier_info`.
    unsafe extern "C" fn notifier_call(
        _nb: *mut bindings::notifier_block,
        event: c_ulong,
        ptr: *mut c_void,
    ) -> c_int {
        if event != bindings::netdev_cmd_NETDEV_UNREGISTER as c_ulong {
            return bindings::NOTIFY_DONE as c_int;
        }
        // SAFETY: `ptr` is a `struct netdev_notifier_info` of a valid device.
        let dev = unsafe { bindings::netdev_notifier_info_to_dev(ptr.cast()) };
        // SAFETY: `dev` is valid during the callback.
        let queues = unsafe { bindings::vj_num_rx_queues(dev) };
        for qid in 0..queues {
            // SAFETY: `dev` is valid and RTNL is held.
            let ch = unsafe { bindings::vj_rx_channel_detach(dev, qid) };
            if ch.is_null() {
                continue;
            }
            // SAFETY: Only `Channel::<T>::attach` fills the slots (there is one `Registration`
            // and one channel type), so `ch` is the head of a `Channel<T>` whose reference the
            // slot held; `dev` is valid.
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

#[pinned_drop]
impl<T: RxChannel> PinnedDrop for Registration<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: `nb` was registered in `new` (type invariant).
        unsafe { bindings::unregister_netdevice_notifier(self.nb.get()) };
        REGISTERED.store(false, Ordering::Release);
    }
}
