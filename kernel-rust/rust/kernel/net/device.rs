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
