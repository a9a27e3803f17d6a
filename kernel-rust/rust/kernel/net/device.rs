// SPDX-License-Identifier: GPL-2.0

//! Network devices and the RTNL lock.
//!
//! C headers: [`include/linux/netdevice.h`](srctree/include/linux/netdevice.h),
//! [`include/linux/rtnetlink.h`](srctree/include/linux/rtnetlink.h).

use crate::{
    bindings,
    net::socket::Sock,
    prelude::*,
    sync::aref::{
        ARef,
        AlwaysRefCounted, //
    },
    types::{
        NotThreadSafe,
        Opaque, //
    },
};
use core::ptr::NonNull;

/// A network device (`struct net_device`).
///
/// # Invariants
///
/// The device is valid while a reference to it is held: it is reference-counted by
/// `dev_hold()`/`dev_put()` ([`ARef<NetDevice>`]), or borrowed for the duration of a callback.
/// Holding a reference keeps the memory valid, not the device registered: the code holding one
/// must drop it when the device is unregistered, or the unregistration waits for it.
#[repr(transparent)]
pub struct NetDevice(Opaque<bindings::net_device>);

// SAFETY: A `struct net_device` can be used and its reference dropped from any thread.
unsafe impl Send for NetDevice {}
// SAFETY: The methods of `NetDevice` that take `&self` may be called from any thread at once.
unsafe impl Sync for NetDevice {}

// SAFETY: `dev_hold()` and `dev_put()` keep the device's memory valid while a reference is held.
unsafe impl AlwaysRefCounted for NetDevice {
    fn inc_ref(&self) {
        // SAFETY: By the type invariant the device is valid.
        unsafe { bindings::dev_hold(self.0.get()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: The caller owns a reference to the device.
        unsafe { bindings::dev_put(obj.cast().as_ptr()) };
    }
}

impl NetDevice {
    /// Creates a reference to a `struct net_device` from a raw pointer.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a valid `struct net_device` for the lifetime `'a`.
    pub unsafe fn from_raw<'a>(ptr: *mut bindings::net_device) -> &'a Self {
        // SAFETY: `NetDevice` is a transparent wrapper of `struct net_device`; valid per the
        // requirements.
        unsafe { &*ptr.cast() }
    }

    /// The raw pointer.
    pub fn as_ptr(&self) -> *mut bindings::net_device {
        self.0.get()
    }

    /// The interface index.
    pub fn ifindex(&self) -> i32 {
        // SAFETY: By the type invariant the device is valid; `ifindex` does not change while it
        // is registered and is an `int` read whole.
        unsafe { (*self.0.get()).ifindex }
    }
}

impl NetDevice {
    /// Passes a copy of an Ethernet frame to the stack, as received on this device
    /// (`netif_rx()`): its first bytes are `head`, a kernel snapshot, and the `len` bytes after
    /// them are read once from `offset` in `pages` (within one page). `EINVAL` if the range is
    /// not within one page or the frame is shorter than an Ethernet header, `ENOMEM` without
    /// memory.
    ///
    /// Callable from any context.
    #[cfg(CONFIG_VJCHAN)]
    pub fn receive_copy(
        &self,
        head: &[u8],
        pages: &crate::mm::shared::SharedPages,
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
        crate::error::to_result(ret)
    }

    /// Asks the driver to refill receive queue `qid` with buffers of its channel, which had none
    /// to give (its ring was full) and now has. Callable from process context.
    #[cfg(CONFIG_VJCHAN)]
    pub fn channel_kick(&self, qid: u32) {
        // SAFETY: `self` is a valid device.
        unsafe { bindings::vj_rx_channel_kick(self.as_ptr(), qid) };
    }

    /// Whether the device has netfilter ingress hooks (nftables `netdev` or `inet` chains of
    /// type filter and hook `ingress`) that a frame received on it must pass.
    ///
    /// Cheap: a static key and a pointer test.
    #[cfg(CONFIG_VJCHAN)]
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
    #[cfg(CONFIG_VJCHAN)]
    pub fn nf_ingress(
        &self,
        head: &[u8],
        pages: &crate::mm::shared::SharedPages,
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
        crate::error::to_result(ret).map(|()| ret > 0)
    }
}

/// Holds the RTNL lock (`rtnl_lock()`) until dropped.
///
/// Configuration of network devices is serialised by it; device notifiers run under it.
pub struct Rtnl {
    _not_send: NotThreadSafe,
}

impl Rtnl {
    /// Takes the RTNL lock; may sleep.
    pub fn lock() -> Self {
        // SAFETY: Taking the RTNL lock is always allowed in process context.
        unsafe { bindings::rtnl_lock() };
        Self {
            _not_send: NotThreadSafe,
        }
    }

    /// The device with interface index `ifindex` in the network namespace of `sk`, with a
    /// reference taken; `ENODEV` if there is none.
    pub fn dev_get_by_index(&self, sk: &Sock, ifindex: i32) -> Result<ARef<NetDevice>> {
        // SAFETY: `sk` is valid; RTNL is held (by `self`), which `__dev_get_by_index()` needs and
        // which keeps the device registered until the reference is taken below.
        let dev = unsafe { bindings::__dev_get_by_index(bindings::sock_net(sk.as_ptr()), ifindex) };
        if dev.is_null() {
            return Err(ENODEV);
        }
        // SAFETY: `dev` is a registered device, valid while RTNL is held.
        Ok(unsafe { NetDevice::from_raw(dev) }.into())
    }
}

impl Drop for Rtnl {
    fn drop(&mut self) {
        // SAFETY: `self` was created by `Rtnl::lock`, which took the lock.
        unsafe { bindings::rtnl_unlock() };
    }
}
