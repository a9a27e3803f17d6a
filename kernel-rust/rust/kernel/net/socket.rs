// SPDX-License-Identifier: GPL-2.0

//! Protocol families and BSD sockets.
//!
//! A protocol family (`PF_*`) is written as a type implementing [`Socket`]: one value of it is
//! the private data of one socket of the family. The C structures the networking core needs
//! for a family, a `struct proto` and a `struct net_proto_family`, are kept in a [`Family`],
//! which lives in a `static` of the implementing module so that the family's `create` callback,
//! which the core calls without a context pointer, can find them. A [`Registration`] registers
//! the family with the networking core and unregisters it when dropped.
//!
//! Operations a [`Socket`] does not implement get the core's `sock_no_*` behaviour, except
//! sending and receiving data: a family without them carries none through `send`/`recv`/
//! `read`/`write`, which fail at once with `EINVAL` (not `EOPNOTSUPP`, which io_uring takes
//! for "try again when ready").
//!
//! C headers: [`include/linux/net.h`](srctree/include/linux/net.h),
//! [`include/net/sock.h`](srctree/include/net/sock.h).

use crate::{
    bindings,
    error::{
        from_result,
        to_result,
        VTABLE_DEFAULT_ERROR, //
    },
    iov::IovIterDest,
    mm::virt::VmaNew,
    module::this_module,
    prelude::*,
    sync::aref::AlwaysRefCounted,
    transmute::FromBytes,
    types::{
        ForeignOwnable,
        Opaque, //
    }, //
};
use core::{
    marker::PhantomData,
    mem::{
        size_of,
        MaybeUninit, //
    },
    ptr::{
        self,
        NonNull, //
    },
    sync::atomic::{
        AtomicBool,
        AtomicUsize,
        Ordering, //
    }, //
};

/// The type of a socket (`SOCK_*`), the second argument of `socket(2)`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SockType(i32);

impl SockType {
    /// `SOCK_STREAM`.
    pub const STREAM: Self = Self(bindings::sock_type_SOCK_STREAM as i32);
    /// `SOCK_DGRAM`.
    pub const DGRAM: Self = Self(bindings::sock_type_SOCK_DGRAM as i32);
    /// `SOCK_RAW`.
    pub const RAW: Self = Self(bindings::sock_type_SOCK_RAW as i32);
    /// `SOCK_SEQPACKET`.
    pub const SEQPACKET: Self = Self(bindings::sock_type_SOCK_SEQPACKET as i32);

    /// Creates a [`SockType`] from its C value.
    pub const fn from_raw(raw: i32) -> Self {
        Self(raw)
    }

    /// Returns the C value.
    pub const fn as_raw(self) -> i32 {
        self.0
    }
}

/// The arguments of `socket(2)` that reach a family's `create` callback.
#[derive(Clone, Copy, Debug)]
pub struct CreateArgs {
    /// The socket type.
    pub ty: SockType,
    /// The protocol number, the third argument of `socket(2)`.
    pub protocol: i32,
    /// Whether the socket is created by the kernel (`sock_create_kern()`).
    pub kern: bool,
}

/// A socket address passed to `bind(2)`, already copied into kernel memory.
///
/// # Invariants
///
/// `ptr` is valid for reads of `len` bytes for the lifetime `'a`.
pub struct SockAddr<'a> {
    ptr: *const u8,
    len: usize,
    _p: PhantomData<&'a [u8]>,
}

impl<'a> SockAddr<'a> {
    /// Creates a [`SockAddr`] from the arguments of a `bind` callback.
    ///
    /// # Safety
    ///
    /// If `len` is positive, `ptr` must be valid for reads of `len` bytes for the lifetime `'a`.
    unsafe fn from_raw(ptr: *const bindings::sockaddr_unsized, len: c_int) -> Result<Self> {
        let len = usize::try_from(len).map_err(|_| EINVAL)?;
        // INVARIANT: guaranteed by the safety requirements.
        Ok(Self {
            ptr: ptr.cast(),
            len,
            _p: PhantomData,
        })
    }

    /// The length the caller passed.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the address is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Reads the address as a `A`, failing with `EINVAL` if fewer than `size_of::<A>()` bytes
    /// were passed. Bytes beyond `size_of::<A>()` are ignored.
    pub fn read<A: FromBytes>(&self) -> Result<A> {
        if self.len < size_of::<A>() {
            return Err(EINVAL);
        }
        // SAFETY: By the type invariant `ptr` is valid for reads of `len >= size_of::<A>()`
        // bytes, `read_unaligned` has no alignment requirement, and `A: FromBytes` accepts any
        // bit pattern.
        Ok(unsafe { ptr::read_unaligned(self.ptr.cast::<A>()) })
    }
}

/// The value of a `setsockopt(2)` call: a user or kernel buffer of `optlen` bytes.
pub struct SockOptIn {
    optval: bindings::sockptr_t,
    optlen: u32,
}

impl SockOptIn {
    /// The length the caller passed.
    pub fn len(&self) -> usize {
        self.optlen as usize
    }

    /// Whether the caller passed an empty value.
    pub fn is_empty(&self) -> bool {
        self.optlen == 0
    }

    /// Copies the option value in as a `V`.
    ///
    /// Fails with `EINVAL` if the caller passed fewer than `size_of::<V>()` bytes and with
    /// `EFAULT` if the buffer cannot be read. Extra bytes are ignored.
    pub fn read<V: FromBytes>(&self) -> Result<V> {
        let mut val = MaybeUninit::<V>::uninit();
        // SAFETY: `val` is valid for writes of `size_of::<V>()` bytes and `optval` is the
        // `sockptr_t` the networking core passed with this `optlen`; the helper checks `optlen`
        // against the size before copying.
        to_result(unsafe {
            bindings::copy_safe_from_sockptr(
                val.as_mut_ptr().cast(),
                size_of::<V>(),
                self.optval,
                self.optlen,
            )
        })?;
        // SAFETY: The copy above succeeded, so all `size_of::<V>()` bytes are initialised, and
        // `V: FromBytes` accepts any bit pattern.
        Ok(unsafe { val.assume_init() })
    }
}

/// The result buffer of a `getsockopt(2)` call.
///
/// # Invariants
///
/// `opt` points to a valid `sockopt_t` whose `iter_out` is an `ITER_DEST` iterator, exclusively
/// ours for the lifetime `'a`.
pub struct SockOptOut<'a> {
    opt: *mut bindings::sockopt_t,
    _p: PhantomData<&'a mut bindings::sockopt_t>,
}

impl SockOptOut<'_> {
    /// The size of the caller's buffer.
    pub fn len(&self) -> usize {
        // SAFETY: By the type invariant `opt` is valid.
        let len = unsafe { (*self.opt).optlen };
        usize::try_from(len).unwrap_or(0)
    }

    /// Whether the caller's buffer is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes `data` as the option value and sets the returned length to `data.len()`.
    ///
    /// Fails with `EINVAL`, writing nothing, if the caller's buffer is smaller than `data`, and
    /// with `EFAULT` if the buffer cannot be written.
    pub fn write(&mut self, data: &[u8]) -> Result {
        if self.len() < data.len() {
            return Err(EINVAL);
        }
        let new_len = c_int::try_from(data.len()).map_err(|_| EINVAL)?;
        // SAFETY: By the type invariant `iter_out` is a valid `ITER_DEST` iterator that only we
        // access while `self` lives.
        let iter = unsafe { IovIterDest::from_raw(&raw mut (*self.opt).iter_out) };
        if iter.copy_to_iter(data) != data.len() {
            return Err(EFAULT);
        }
        // SAFETY: By the type invariant `opt` is valid for writes.
        unsafe { (*self.opt).optlen = new_len };
        Ok(())
    }
}

/// `CAP_NET_ADMIN`, for [`Sock::net_capable`].
pub const CAP_NET_ADMIN: i32 = bindings::CAP_NET_ADMIN as i32;
/// `CAP_NET_RAW`, for [`Sock::net_capable`].
pub const CAP_NET_RAW: i32 = bindings::CAP_NET_RAW as i32;

/// The `struct sock` of a socket.
///
/// # Invariants
///
/// The `struct sock` is valid while a reference to it is held: it is reference-counted by
/// `sock_hold()`/`sock_put()` ([`ARef<Sock>`]).
#[repr(transparent)]
pub struct Sock(Opaque<bindings::sock>);

// SAFETY: A `struct sock` can be used and its reference dropped from any thread.
unsafe impl Send for Sock {}
// SAFETY: The methods of `Sock` that take `&self` may be called from any thread at once.
unsafe impl Sync for Sock {}

// SAFETY: `sock_hold()` and `sock_put()` keep the `struct sock` alive while a reference is
// held.
unsafe impl AlwaysRefCounted for Sock {
    fn inc_ref(&self) {
        // SAFETY: By the type invariant the sock is valid.
        unsafe { bindings::sock_hold(self.0.get()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: The caller owns a reference to the sock.
        unsafe { bindings::sock_put(obj.cast().as_ptr()) };
    }
}

impl Sock {
    /// Creates a reference to a `struct sock` from a raw pointer.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a valid `struct sock` for the lifetime `'a`.
    pub unsafe fn from_raw<'a>(ptr: *mut bindings::sock) -> &'a Self {
        // SAFETY: `Sock` is a transparent wrapper of `struct sock`; valid per the requirements.
        unsafe { &*ptr.cast() }
    }

    /// The raw pointer.
    pub fn as_ptr(&self) -> *mut bindings::sock {
        self.0.get()
    }

    /// Wakes up the socket's waiters for data (`sk->sk_data_ready()`).
    ///
    /// Callable from any context, including hard and soft interrupt context.
    pub fn data_ready(&self) {
        let sk = self.0.get();
        // SAFETY: By the type invariant `sk` is valid; `sk_data_ready` is set by
        // `sock_init_data()` before the socket is visible, and code that replaces it (a BPF
        // sockmap, a kernel user) only ever stores another valid callback, with `WRITE_ONCE`:
        // so it is read once, with `READ_ONCE` semantics.
        let cb = unsafe { ptr::read_volatile(&raw const (*sk).sk_data_ready) };
        if let Some(f) = cb {
            // SAFETY: `sk` is valid and `f` is its data-ready callback.
            unsafe { f(sk) };
        }
    }

    /// Whether both the opener of the socket and the current task have capability `cap` in the
    /// user namespace that owns the socket's network namespace (`sk_net_capable()`). A kernel
    /// socket (one without a file) has every capability.
    pub fn net_capable(&self, cap: i32) -> bool {
        // SAFETY: By the type invariant the sock is valid.
        unsafe { bindings::sk_net_capable_or_kern(self.0.get(), cap) }
    }

    /// Reports error `err` to the socket's users: sets `sk_err` (returned once by
    /// `SO_ERROR`) and wakes them (`sk_error_report()`). Callable from process context.
    pub fn report_error(&self, err: Error) {
        // SAFETY: By the type invariant the sock is valid.
        unsafe { bindings::sk_report_error(self.0.get(), -err.to_errno()) };
    }
}

/// Poll event bits (`EPOLL*`), as returned by [`Socket::poll`].
pub mod poll_mask {
    /// `EPOLLIN`: there is data to read.
    pub const IN: u32 = crate::bindings::EPOLLIN;
    /// `EPOLLRDNORM`: normal data can be read.
    pub const RDNORM: u32 = crate::bindings::EPOLLRDNORM;
    /// `EPOLLOUT`: writing is possible.
    pub const OUT: u32 = crate::bindings::EPOLLOUT;
    /// `EPOLLWRNORM`: normal data can be written.
    pub const WRNORM: u32 = crate::bindings::EPOLLWRNORM;
    /// `EPOLLERR`: an error condition.
    pub const ERR: u32 = crate::bindings::EPOLLERR;
    /// `EPOLLHUP`: hang up; the other end (here: the device) is gone. (Bindgen does not see
    /// `EPOLLHUP`, a `__force` cast; `POLLHUP` has the same value.)
    pub const HUP: u32 = crate::bindings::POLLHUP;
}

/// A socket of a protocol family implemented in Rust.
///
/// A value of the implementing type is the private data of one socket: [`Socket::create`]
/// makes it when `socket(2)` is called and [`Socket::release`] gets it back when the last file
/// reference to the socket goes away. The networking core never calls another operation of a
/// socket concurrently with, or after, its `release`.
#[vtable]
pub trait Socket: Sized + 'static {
    /// The address family number (`AF_*`).
    const FAMILY: u16;

    /// The protocol name, as shown in `/proc/net/protocols` (at most 31 bytes are used).
    const NAME: &'static CStr;

    /// The pointer type through which a socket's private data is kept.
    type Ptr: ForeignOwnable + Send + Sync;

    /// Whether the family applies socket filters (`SO_ATTACH_FILTER`, `SO_ATTACH_BPF`). A
    /// family that does not (it passes no skb through `sk_filter()`) says so, and attaching one
    /// then fails with `EPERM` rather than being accepted and ignored.
    const SOCKET_FILTERS: bool = true;

    /// The [`Family`] of this socket type, a `static` of the implementing module.
    fn family() -> &'static Family<Self>;

    /// Creates the private data of a new socket, or fails `socket(2)` with an error.
    fn create(args: &CreateArgs) -> Result<Self::Ptr>;

    /// Called when the socket is closed; gets the private data back.
    fn release(this: Self::Ptr) {
        drop(this);
    }

    /// `bind(2)`; `sk` is the socket's `struct sock`.
    fn bind(
        _this: <Self::Ptr as ForeignOwnable>::Borrowed<'_>,
        _sk: &Sock,
        _addr: &SockAddr<'_>,
    ) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// `mmap(2)` of the socket file; `sk` is the socket's `struct sock`.
    ///
    /// This is the initialisation of a new VMA: see [`VmaNew`].
    fn mmap(
        _this: <Self::Ptr as ForeignOwnable>::Borrowed<'_>,
        _sk: &Sock,
        _vma: &VmaNew,
    ) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// `poll(2)`, `select(2)` and `epoll(7)`: returns the ready events as [`poll_mask`] bits.
    ///
    /// The caller is already registered on the socket's wait queue (`sock_poll_wait()`), so an
    /// event that happens after this looked and that calls [`Sock::data_ready`] wakes it up.
    fn poll(_this: <Self::Ptr as ForeignOwnable>::Borrowed<'_>, _sk: &Sock) -> u32 {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// `setsockopt(2)` at a level other than `SOL_SOCKET`; `sk` is the socket's `struct sock`.
    fn setsockopt(
        _this: <Self::Ptr as ForeignOwnable>::Borrowed<'_>,
        _sk: &Sock,
        _level: i32,
        _optname: i32,
        _optval: &SockOptIn,
    ) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// `getsockopt(2)` at a level other than `SOL_SOCKET`.
    fn getsockopt(
        _this: <Self::Ptr as ForeignOwnable>::Borrowed<'_>,
        _level: i32,
        _optname: i32,
        _opt: &mut SockOptOut<'_>,
    ) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
}

/// The C structures of one protocol family: its `struct proto` and `struct net_proto_family`.
///
/// Lives in a `static` of the module that implements the family and is returned by
/// [`Socket::family`].
///
/// # Invariants
///
/// - `proto` and `data_offset` are written only by [`Registration::register`] while
///   `registered` is false, i.e. before the networking core can see them, and are never written
///   while registered.
/// - While registered, every socket of the family is a `proto.obj_size` allocation holding its
///   `struct sock` at offset 0 and, at `data_offset`, the `T::Ptr::into_foreign()` pointer of
///   its private data.
/// - `npf` is fully initialised by [`Family::new`] and never written afterwards.
pub struct Family<T: Socket> {
    proto: Opaque<bindings::proto>,
    npf: Opaque<bindings::net_proto_family>,
    /// Offset of the private data pointer from the start of the `struct sock`.
    data_offset: AtomicUsize,
    registered: AtomicBool,
    _t: PhantomData<T>,
}

// SAFETY: The C structures are written only before registration, which `registered` makes
// exclusive, and only read by the networking core afterwards.
unsafe impl<T: Socket> Sync for Family<T> {}

impl<T: Socket> Family<T> {
    /// Creates the family's storage; to be used as the initialiser of a `static`.
    pub const fn new() -> Self {
        Self {
            proto: Opaque::zeroed(),
            // INVARIANT: fully initialised here.
            npf: Opaque::new(bindings::net_proto_family {
                family: T::FAMILY as c_int,
                create: Some(SocketVTable::<T>::create),
                owner: this_module::<T::OwnerModule>().as_ptr(),
            }),
            data_offset: AtomicUsize::new(0),
            registered: AtomicBool::new(false),
            _t: PhantomData,
        }
    }

    /// Where the private data pointer of the socket `sk` of this family is.
    ///
    /// # Safety
    ///
    /// `sk` must be a socket allocated for this family while it is registered.
    unsafe fn data_slot(&self, sk: *mut bindings::sock) -> *mut *mut c_void {
        // Relaxed: written before `sock_register()` published the family, whose callbacks
        // are the only callers.
        let off = self.data_offset.load(Ordering::Relaxed);
        // SAFETY: By the type invariant the allocation of `sk` holds a pointer at `off`.
        unsafe { sk.byte_add(off) }.cast()
    }
}

impl<T: Socket> Default for Family<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// A registered protocol family.
///
/// # Invariants
///
/// `T::family()` is registered with `proto_register()` and `sock_register()` for the lifetime
/// of this value, and is unregistered exactly once, in `Drop`.
pub struct Registration<T: Socket> {
    _t: PhantomData<T>,
}

impl<T: Socket> Registration<T> {
    /// Registers the family `T::family()`, so that `socket(T::FAMILY, ...)` creates `T`
    /// sockets. Fails with `EBUSY` if it is registered already, or if another family has the
    /// same number.
    pub fn register() -> Result<Self> {
        let family = T::family();
        if family.registered.swap(true, Ordering::AcqRel) {
            return Err(EBUSY);
        }
        let proto = family.proto.get();
        let name = T::NAME.to_bytes();
        // SAFETY: `registered` was false, so by the type invariant of `Family` no one else reads
        // or writes `proto`; it is valid for writes as part of a `static`.
        unsafe {
            let dst = &raw mut (*proto).name;
            // Leave at least one NUL of the zeroed array at the end.
            let n = name.len().min(array_len(dst) - 1);
            ptr::copy_nonoverlapping(name.as_ptr(), dst.cast::<u8>(), n);
            (*proto).owner = this_module::<T::OwnerModule>().as_ptr();
        }
        // The private data pointer follows `struct sock` as the C compiler lays it out: the
        // size of `bindings::sock` need not be the same (it is not on lockdep kernels).
        // SAFETY: A helper without preconditions.
        let off = unsafe { bindings::sock_priv_offset() };
        let Some(obj_size) = off
            .checked_add(size_of::<*mut c_void>())
            .and_then(|n| c_uint::try_from(n).ok())
        else {
            family.registered.store(false, Ordering::Release);
            return Err(EINVAL);
        };
        family.data_offset.store(off, Ordering::Relaxed);
        // SAFETY: As above, nobody else accesses `proto` yet.
        unsafe { (*proto).obj_size = obj_size };
        // SAFETY: `proto` is initialised above and lives in a `static`.
        if let Err(e) = to_result(unsafe { bindings::proto_register(proto, 0) }) {
            family.registered.store(false, Ordering::Release);
            return Err(e);
        }
        // SAFETY: `npf` is initialised and lives in a `static`; `proto`, which its `create`
        // callback uses, is registered.
        if let Err(e) = to_result(unsafe { bindings::sock_register(family.npf.get()) }) {
            // SAFETY: registered just above.
            unsafe { bindings::proto_unregister(proto) };
            family.registered.store(false, Ordering::Release);
            return Err(e);
        }
        // INVARIANT: both registrations succeeded.
        Ok(Self { _t: PhantomData })
    }
}

impl<T: Socket> Drop for Registration<T> {
    fn drop(&mut self) {
        let family = T::family();
        // SAFETY: By the type invariant the family is registered. `sock_unregister()` waits for
        // concurrent `create` calls; sockets that exist hold a reference on the owning module,
        // and on `proto` through their `struct sock`.
        unsafe {
            bindings::sock_unregister(c_int::from(T::FAMILY));
            bindings::proto_unregister(family.proto.get());
        }
        family.registered.store(false, Ordering::Release);
    }
}

/// The number of elements of the array `_a` points to.
const fn array_len<E, const N: usize>(_a: *mut [E; N]) -> usize {
    N
}

/// The C callbacks of a Rust protocol family.
struct SocketVTable<T: Socket>(PhantomData<T>);

impl<T: Socket> SocketVTable<T> {
    /// Borrows the private data of `sock`.
    ///
    /// # Safety
    ///
    /// `sock` must be a socket of family `T` whose `create` succeeded and whose `release` has
    /// not started; the borrow must end before `release`.
    unsafe fn borrow<'a>(sock: *mut bindings::socket) -> <T::Ptr as ForeignOwnable>::Borrowed<'a> {
        // SAFETY: `create` set `sk` to a socket allocated for `T`, kept until `release`.
        let slot = unsafe { T::family().data_slot((*sock).sk) };
        // SAFETY: The pointer came from `into_foreign` in `create` and `from_foreign` is only
        // called in `release`, which cannot run concurrently with the caller.
        unsafe { <T::Ptr as ForeignOwnable>::borrow(*slot) }
    }

    /// # Safety
    ///
    /// Called by the networking core with a valid `net` and a `sock` being created.
    unsafe extern "C" fn create(
        net: *mut bindings::net,
        sock: *mut bindings::socket,
        protocol: c_int,
        kern: c_int,
    ) -> c_int {
        from_result(|| {
            let args = CreateArgs {
                // SAFETY: `sock` is valid and not yet visible to anyone else.
                ty: SockType(c_int::from(unsafe { (*sock).type_ })),
                protocol,
                kern: kern != 0,
            };
            let data = T::create(&args)?;
            let proto = T::family().proto.get();
            // SAFETY: `net` is valid; `proto` is registered: `create` is only reachable while
            // the family is registered, and `proto` is registered first.
            let sk = unsafe {
                bindings::sk_alloc(
                    net,
                    c_int::from(T::FAMILY),
                    bindings::GFP_KERNEL,
                    proto,
                    kern,
                )
            };
            if sk.is_null() {
                T::release(data);
                return Err(ENOMEM);
            }
            // SAFETY: `sk` was just allocated for the registered family and is not yet visible
            // to anyone else; `sock` is valid.
            unsafe {
                bindings::sock_init_data(sock, sk);
                if !T::SOCKET_FILTERS {
                    // `sk_attach_filter()` and `sk_attach_bpf()` then fail with `EPERM`, and
                    // `SO_LOCK_FILTER` cannot clear it.
                    bindings::sock_set_flag(sk, bindings::sock_flags_SOCK_FILTER_LOCKED);
                }
                *T::family().data_slot(sk) = data.into_foreign();
                (*sock).ops = &Self::OPS;
            }
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the networking core, once, when the last reference to `sock` goes away.
    unsafe extern "C" fn release(sock: *mut bindings::socket) -> c_int {
        // SAFETY: `sock` is valid.
        let sk = unsafe { (*sock).sk };
        if sk.is_null() {
            return 0;
        }
        // SAFETY: `sk` was set up in `create`; no other operation on the socket runs
        // concurrently with `release`.
        let data = unsafe { ptr::replace(T::family().data_slot(sk), ptr::null_mut()) };
        if !data.is_null() {
            // SAFETY: `data` came from `into_foreign` in `create`, and was replaced by null
            // above, so this is the only `from_foreign`.
            T::release(unsafe { <T::Ptr as ForeignOwnable>::from_foreign(data) });
        }
        // SAFETY: `sk` is valid and owned by `sock`; after `sock_orphan()` the socket no
        // longer refers to it, and `sock_put()` drops the reference taken by `sk_alloc()`.
        unsafe {
            bindings::sock_orphan(sk);
            (*sock).sk = ptr::null_mut();
            bindings::sock_put(sk);
        }
        0
    }

    /// # Safety
    ///
    /// Called by the networking core on a live socket of family `T`; `addr` is valid for reads
    /// of `len` bytes.
    unsafe extern "C" fn bind(
        sock: *mut bindings::socket,
        addr: *mut bindings::sockaddr_unsized,
        len: c_int,
    ) -> c_int {
        from_result(|| {
            // SAFETY: `addr` is valid for reads of `len` bytes for the duration of the call.
            let addr = unsafe { SockAddr::from_raw(addr, len) }?;
            // SAFETY: A live socket: its `sk` is valid until `release`, after this call.
            let sk = unsafe { Sock::from_raw((*sock).sk) };
            // SAFETY: A live socket of family `T`; the borrow ends with this call.
            T::bind(unsafe { Self::borrow(sock) }, sk, &addr)?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the networking core on a live socket of family `T`, with a VMA that is being
    /// set up by `mmap(2)` of its file.
    unsafe extern "C" fn mmap(
        _file: *mut bindings::file,
        sock: *mut bindings::socket,
        vma: *mut bindings::vm_area_struct,
    ) -> c_int {
        from_result(|| {
            // SAFETY: `vma` is undergoing initial VMA setup.
            let vma = unsafe { VmaNew::from_raw(vma) };
            // SAFETY: A live socket: its `sk` is valid until `release`, after this call.
            let sk = unsafe { Sock::from_raw((*sock).sk) };
            // SAFETY: A live socket of family `T`; the borrow ends with this call.
            T::mmap(unsafe { Self::borrow(sock) }, sk, vma)?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the networking core on a live socket of family `T`; `wait` is null or a valid
    /// poll table for the duration of the call.
    unsafe extern "C" fn poll(
        file: *mut bindings::file,
        sock: *mut bindings::socket,
        wait: *mut bindings::poll_table_struct,
    ) -> bindings::__poll_t {
        // Register before looking at the state, as every family does: an event after the look
        // then wakes the waiter (`sock_poll_wait()` has the barrier that orders the two).
        // SAFETY: `file`, `sock` and `wait` (null or a poll table) are valid for this call.
        unsafe { bindings::sock_poll_wait(file, sock, wait) };
        // SAFETY: A live socket: its `sk` is valid until `release`, after this call.
        let sk = unsafe { Sock::from_raw((*sock).sk) };
        // SAFETY: A live socket of family `T`; the borrow ends with this call.
        T::poll(unsafe { Self::borrow(sock) }, sk)
    }

    /// # Safety
    ///
    /// Called by the networking core on a live socket of family `T`, with `optval` and `optlen`
    /// as passed to `setsockopt(2)`.
    unsafe extern "C" fn setsockopt(
        sock: *mut bindings::socket,
        level: c_int,
        optname: c_int,
        optval: bindings::sockptr_t,
        optlen: c_uint,
    ) -> c_int {
        let optval = SockOptIn { optval, optlen };
        from_result(|| {
            // SAFETY: A live socket: its `sk` is valid until `release`, after this call.
            let sk = unsafe { Sock::from_raw((*sock).sk) };
            // SAFETY: A live socket of family `T`; the borrow ends with this call.
            T::setsockopt(unsafe { Self::borrow(sock) }, sk, level, optname, &optval)?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the networking core on a live socket of family `T`, with `opt` valid and
    /// exclusively ours for the duration of the call.
    unsafe extern "C" fn getsockopt(
        sock: *mut bindings::socket,
        level: c_int,
        optname: c_int,
        opt: *mut bindings::sockopt_t,
    ) -> c_int {
        // INVARIANT: the core passes a `sockopt_t` whose `iter_out` is `ITER_DEST`, for the
        // duration of this call.
        let mut out = SockOptOut {
            opt,
            _p: PhantomData,
        };
        from_result(|| {
            // SAFETY: A live socket of family `T`; the borrow ends with this call.
            T::getsockopt(unsafe { Self::borrow(sock) }, level, optname, &mut out)?;
            Ok(0)
        })
    }

    /// `sendmsg` of a family that carries no data through the socket calls: `EINVAL`, as
    /// `write(2)` on "an object unsuitable for writing". Not `EOPNOTSUPP` (`sock_no_sendmsg()`):
    /// io_uring takes `EOPNOTSUPP` from a non-blocking attempt for "try again once the file is
    /// ready" and waits for a readiness that never comes, so an `IORING_OP_WRITE` would never
    /// complete.
    extern "C" fn no_data_sendmsg(
        _sock: *mut bindings::socket,
        _msg: *mut bindings::msghdr,
        _len: usize,
    ) -> c_int {
        EINVAL.to_errno()
    }

    /// `recvmsg` of a family that carries no data through the socket calls: `EINVAL`; see
    /// [`Self::no_data_sendmsg`].
    extern "C" fn no_data_recvmsg(
        _sock: *mut bindings::socket,
        _msg: *mut bindings::msghdr,
        _len: usize,
        _flags: c_int,
    ) -> c_int {
        EINVAL.to_errno()
    }

    const OPS: bindings::proto_ops = bindings::proto_ops {
        family: T::FAMILY as c_int,
        owner: this_module::<T::OwnerModule>().as_ptr(),
        release: Some(Self::release),
        bind: if T::HAS_BIND {
            Some(Self::bind)
        } else {
            Some(bindings::sock_no_bind)
        },
        connect: Some(bindings::sock_no_connect),
        socketpair: Some(bindings::sock_no_socketpair),
        accept: Some(bindings::sock_no_accept),
        getname: Some(bindings::sock_no_getname),
        poll: if T::HAS_POLL { Some(Self::poll) } else { None },
        ioctl: Some(bindings::sock_no_ioctl),
        listen: Some(bindings::sock_no_listen),
        shutdown: Some(bindings::sock_no_shutdown),
        setsockopt: if T::HAS_SETSOCKOPT {
            Some(Self::setsockopt)
        } else {
            None
        },
        getsockopt_iter: if T::HAS_GETSOCKOPT {
            Some(Self::getsockopt)
        } else {
            None
        },
        sendmsg: Some(Self::no_data_sendmsg),
        recvmsg: Some(Self::no_data_recvmsg),
        mmap: if T::HAS_MMAP {
            Some(Self::mmap)
        } else {
            Some(bindings::sock_no_mmap)
        },
        ..pin_init::zeroed()
    };
}
