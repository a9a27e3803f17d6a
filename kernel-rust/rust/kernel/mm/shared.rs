// SPDX-License-Identifier: GPL-2.0

//! Pages shared with user space.
//!
//! [`SharedPages`] is a set of order-0 pages, allocated one by one (they need not be
//! contiguous), that a driver maps into a process with [`SharedPages::map`] and that the kernel
//! and the process then both access: a ring, for example.
//!
//! The process can write any of the memory at any time, so the kernel never forms a reference
//! to it. It reads and writes it through this type only, by atomic loads and stores of `u32` and
//! `u64` (`READ_ONCE`/`WRITE_ONCE`, `smp_store_release`) and by byte copies whose result is a
//! snapshot: what the process writes meanwhile can change the bytes read, never the kernel's
//! control flow through them. Every offset is checked against the size.

use crate::{
    alloc::{flags::__GFP_ZERO, Flags},
    bindings,
    mm::virt::{flags as vm_flags, VmaNew},
    page::{Page, PAGE_SIZE},
    prelude::*,
    sync::atomic::{Atomic, AtomicType, Relaxed, Release},
};
use core::ptr::{self, NonNull};

/// Pages charged to the locked-memory limit (`RLIMIT_MEMLOCK`) of the user who allocated them,
/// as AF_XDP and io_uring charge memory that user space keeps pinned; uncharged when dropped.
///
/// A caller with `CAP_IPC_LOCK` is not limited, and nothing is charged for it.
///
/// # Invariants
///
/// If `user` is `Some`, `self` holds a reference on that `struct user_struct` (`get_uid()`),
/// and `pages` pages of its `locked_vm` were added by `self`.
pub struct MemlockCharge {
    user: Option<NonNull<bindings::user_struct>>,
    pages: usize,
}

// SAFETY: The charge is a counted reference on a user and an amount; any thread may drop it.
unsafe impl Send for MemlockCharge {}
// SAFETY: `&MemlockCharge` allows nothing.
unsafe impl Sync for MemlockCharge {}

impl MemlockCharge {
    /// Charges `pages` pages to the calling task's user: `ENOBUFS` if that user's locked memory
    /// would then exceed the task's `RLIMIT_MEMLOCK`.
    pub fn new(pages: usize) -> Result<Self> {
        // SAFETY: No preconditions; called from process context.
        if unsafe { bindings::capable(bindings::CAP_IPC_LOCK as i32) } {
            return Ok(Self {
                user: None,
                pages: 0,
            });
        }
        // SAFETY: No preconditions; reads the current task's limit.
        let limit = unsafe { bindings::rlimit(bindings::RLIMIT_MEMLOCK) } / PAGE_SIZE;
        // SAFETY: No preconditions; returns the current task's user with a reference taken.
        let user = NonNull::new(unsafe { bindings::get_current_user() }).ok_or(ENOMEM)?;
        let locked = Self::locked_vm(user);
        let mut old = locked.load(Relaxed);
        loop {
            let new = match old.checked_add(pages) {
                Some(new) if new <= limit => new,
                _ => {
                    // SAFETY: Drops the reference taken above.
                    unsafe { bindings::free_uid(user.as_ptr()) };
                    return Err(ENOBUFS);
                }
            };
            match locked.cmpxchg(old, new, Relaxed) {
                Ok(_) => break,
                Err(cur) => old = cur,
            }
        }
        // INVARIANT: the reference was taken and the pages added above.
        Ok(Self {
            user: Some(user),
            pages,
        })
    }

    /// The `locked_vm` counter of `user`.
    fn locked_vm<'a>(user: NonNull<bindings::user_struct>) -> &'a Atomic<usize> {
        // SAFETY: `user` is valid while a reference is held, which callers do for `'a`;
        // `locked_vm` is an `atomic_long_t`, an aligned word that C also only accesses
        // atomically, and has the size and alignment of `usize`.
        unsafe { Atomic::from_ptr((&raw mut (*user.as_ptr()).locked_vm.counter).cast()) }
    }
}

impl Drop for MemlockCharge {
    fn drop(&mut self) {
        if let Some(user) = self.user {
            let _ = Self::locked_vm(user).fetch_sub(self.pages, Relaxed);
            // SAFETY: By the type invariant, `self` holds this reference; it is dropped once.
            unsafe { bindings::free_uid(user.as_ptr()) };
        }
    }
}

/// Order-0 pages shared with user space; see the [module documentation](self).
///
/// # Invariants
///
/// Every page in `pages` is zeroed when allocated and owned by `self`. Through this type the
/// kernel accesses the memory of the pages only with atomic loads and stores and volatile byte
/// loads, never through a Rust reference; the pages may also be written by user space, by
/// devices (DMA) and by C code given a pointer with [`SharedPages::with_raw`], at any time.
pub struct SharedPages {
    pages: KVec<Page>,
    /// Released after the pages (fields drop in order).
    _charge: Option<MemlockCharge>,
}

impl SharedPages {
    /// Allocates `count` zeroed pages, one by one, with `flags` (e.g. `GFP_KERNEL_ACCOUNT`).
    pub fn new(count: usize, flags: Flags) -> Result<Self> {
        let mut pages = KVec::with_capacity(count, flags)?;
        for _ in 0..count {
            // Zeroed: the pages go to user space and must not carry old kernel data.
            pages.push(Page::alloc_page(flags | __GFP_ZERO)?, flags)?;
        }
        // INVARIANT: the pages were just allocated zeroed and are owned by `pages`.
        Ok(Self {
            pages,
            _charge: None,
        })
    }

    /// Like [`SharedPages::new`], and charges the pages to the calling task's user's
    /// locked-memory limit ([`MemlockCharge`]) until they are freed: `ENOBUFS` over the limit.
    pub fn new_memlock(count: usize, flags: Flags) -> Result<Self> {
        let charge = MemlockCharge::new(count)?;
        Ok(Self {
            _charge: Some(charge),
            ..Self::new(count, flags)?
        })
    }

    /// The number of pages.
    pub fn page_count(&self) -> usize {
        self.pages.len()
    }

    /// The size in bytes.
    pub fn size(&self) -> usize {
        self.pages.len() * PAGE_SIZE
    }

    /// The page that holds byte `offset`, and the offset within it.
    pub fn page_at(&self, offset: usize) -> Option<(&Page, usize)> {
        let page = self.pages.get(offset / PAGE_SIZE)?;
        Some((page, offset % PAGE_SIZE))
    }

    /// Maps all the pages, in order, into the new VMA `vma`.
    ///
    /// The mapping must be shared, start at file offset 0 and be exactly [`SharedPages::size`]
    /// bytes long (`EINVAL` otherwise), and must not be executable (`EPERM`); it can never be
    /// made executable later, is not copied into a child on `fork()` (`VM_DONTCOPY`) and cannot
    /// grow (`VM_DONTEXPAND`). The VMA holds references of its own to the pages: they stay
    /// valid for the process after `self` is dropped, until it unmaps them.
    pub fn map(&self, vma: &VmaNew) -> Result {
        if vma.pgoff() != 0 || vma.end().checked_sub(vma.start()) != Some(self.size()) {
            return Err(EINVAL);
        }
        if vma.flags() & vm_flags::SHARED == 0 {
            return Err(EINVAL);
        }
        if vma.try_clear_mayexec().is_err() {
            return Err(EPERM);
        }
        vma.set_dontcopy();
        vma.set_dontexpand();
        let vma = vma.set_mixedmap();
        for (i, page) in self.pages.iter().enumerate() {
            vma.vm_insert_page(vma.start() + i * PAGE_SIZE, page)?;
        }
        Ok(())
    }

    /// Runs `f` with a kernel pointer to `len` bytes at `offset`, which must lie within one
    /// page; fails with `EINVAL` otherwise.
    fn with_ptr<R>(&self, offset: usize, len: usize, f: impl FnOnce(*mut u8) -> R) -> Result<R> {
        let (page, in_page) = self.page_at(offset).ok_or(EINVAL)?;
        // `EINVAL` unless `in_page + len <= PAGE_SIZE`.
        page.with_pointer_into_page(in_page, len, |p| Ok(f(p)))
    }

    /// Runs `f` on the atomic `T` at `offset`, which must be aligned (`EINVAL` otherwise).
    fn with_atomic<T: AtomicType, R>(
        &self,
        offset: usize,
        f: impl FnOnce(&Atomic<T>) -> R,
    ) -> Result<R> {
        if offset % align_of::<T>() != 0 {
            return Err(EINVAL);
        }
        self.with_ptr(offset, size_of::<T>(), |p| {
            // SAFETY: `p` is valid and aligned for a `T` for the duration of the closure, and
            // no Rust reference to the memory exists (type invariant). Other writers (user
            // space, devices, C copies) are outside Rust's memory model, like the other side of
            // `READ_ONCE()`/`WRITE_ONCE()`: they can only make a loaded value arbitrary, which
            // every `T` here (an integer) accepts.
            f(unsafe { Atomic::from_ptr(p.cast::<T>()) })
        })
    }

    /// `READ_ONCE()` of the `u32` at `offset`.
    pub fn load_u32(&self, offset: usize) -> Result<u32> {
        self.with_atomic(offset, |a: &Atomic<u32>| a.load(Relaxed))
    }

    /// `WRITE_ONCE()` of the `u32` at `offset`.
    pub fn store_u32(&self, offset: usize, v: u32) -> Result {
        self.with_atomic(offset, |a: &Atomic<u32>| a.store(v, Relaxed))
    }

    /// `smp_store_release()` of the `u32` at `offset`: every access of the kernel before it is
    /// visible to a reader that loads the value with acquire semantics.
    pub fn store_u32_release(&self, offset: usize, v: u32) -> Result {
        self.with_atomic(offset, |a: &Atomic<u32>| a.store(v, Release))
    }

    /// `WRITE_ONCE()` of the `u64` at `offset`.
    pub fn store_u64(&self, offset: usize, v: u64) -> Result {
        self.with_atomic(offset, |a: &Atomic<u64>| a.store(v, Relaxed))
    }

    /// Copies `buf.len()` bytes at `offset` into `buf`: a snapshot, which user space may be
    /// changing while it is taken. The range may span pages.
    pub fn read(&self, mut offset: usize, buf: &mut [u8]) -> Result {
        let mut done = 0;
        while done < buf.len() {
            let chunk = (PAGE_SIZE - offset % PAGE_SIZE).min(buf.len() - done);
            let dst = buf.get_mut(done..done + chunk).ok_or(EINVAL)?;
            self.with_ptr(offset, chunk, |src| {
                for (i, d) in dst.iter_mut().enumerate() {
                    // SAFETY: `src + i` is within the `chunk` bytes `with_ptr` checked, and no
                    // Rust reference to the memory exists (type invariant). The byte may be
                    // written concurrently (user space, a device, a C copy into the buffer): a
                    // volatile `u8` load cannot tear, and whatever value it returns is a valid
                    // `u8`, taken as the snapshot's byte.
                    *d = unsafe { ptr::read_volatile(src.add(i)) };
                }
            })?;
            done += chunk;
            offset += chunk;
        }
        Ok(())
    }

    /// Calls `f` with a kernel pointer to `len` bytes at `offset` (within one page, `EINVAL`
    /// otherwise), for C code that copies into or out of the shared memory, such as an skb copy.
    ///
    /// # Safety
    ///
    /// `f` may access only those `len` bytes, must not keep the pointer, and must not create a
    /// Rust reference to the memory: user space can write it at any time.
    pub unsafe fn with_raw<R>(
        &self,
        offset: usize,
        len: usize,
        f: impl FnOnce(*mut u8) -> R,
    ) -> Result<R> {
        self.with_ptr(offset, len, f)
    }
}
