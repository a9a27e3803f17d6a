//! The PF_VJCHAN socket: open, geometry, bind, filters, features, statistics.

use std::mem::size_of;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use vjchan_uapi as uapi;
use zerocopy::{FromBytes, Immutable, IntoBytes};

use crate::error::{Error, Result};
use crate::filter::FlowFilter;

/// The `VJ_FEATURE_*` bits of a kernel (`getsockopt(VJ_FEATURES)`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Features(u64);

impl Features {
    /// The receive ring.
    pub const RX_RING: Features = Features(uapi::VJ_FEATURE_RX_RING);
    /// The `VJ_RING_NEED_WAKEUP` flag.
    pub const NEED_WAKEUP: Features = Features(uapi::VJ_FEATURE_NEED_WAKEUP);
    /// EtherType filters.
    pub const FILTER_ETHERTYPE: Features = Features(uapi::VJ_FEATURE_FILTER_ETHERTYPE);
    /// IPv4 and IPv6 filters.
    pub const FILTER_IP: Features = Features(uapi::VJ_FEATURE_FILTER_IP);
    /// The device's netfilter ingress policy applies to channel frames.
    pub const NF_INGRESS: Features = Features(uapi::VJ_FEATURE_NF_INGRESS);
    /// Rings are charged to `RLIMIT_MEMLOCK`.
    pub const MEMLOCK: Features = Features(uapi::VJ_FEATURE_MEMLOCK);
    /// The ring has a status word.
    pub const STATUS: Features = Features(uapi::VJ_FEATURE_STATUS);
    /// `VJ_RING_SETUP` and descriptor flags.
    pub const RING_SETUP: Features = Features(uapi::VJ_FEATURE_RING_SETUP);

    /// Features from raw bits (unknown bits are kept).
    pub const fn from_bits(bits: u64) -> Self {
        Features(bits)
    }

    /// The raw bits.
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// Whether every bit of `other` is set.
    pub const fn contains(self, other: Features) -> bool {
        self.0 & other.0 == other.0
    }
}

/// The counters of a channel (`getsockopt(VJ_STATISTICS)`), with how much of them the
/// kernel filled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// The counters; those the kernel did not return are 0.
    pub counters: uapi::Statistics,
    /// The bytes the kernel returned (at least [`uapi::VJ_STATISTICS_SIZE_VER0`]).
    pub len: usize,
}

impl Stats {
    /// `rx_nf_dropped`, if the kernel returned it (`VJ_STATISTICS_SIZE_VER1`).
    pub fn rx_nf_dropped(&self) -> Option<u64> {
        (self.len >= uapi::VJ_STATISTICS_SIZE_VER1).then_some(self.counters.rx_nf_dropped)
    }

    /// `rx_nomem`, if the kernel returned it (`VJ_STATISTICS_SIZE_VER1`).
    pub fn rx_nomem(&self) -> Option<u64> {
        (self.len >= uapi::VJ_STATISTICS_SIZE_VER1).then_some(self.counters.rx_nomem)
    }
}

/// A `PF_VJCHAN` socket: a network channel.
///
/// Open it, choose its ring's geometry if you want ([`setup`](Self::setup)), add
/// [filters](Self::add_filter), [`bind`](Self::bind) it to a receive queue, then map its
/// ring with [`RxRing::map`](crate::RxRing::map).  Binding, mapping and changing filters
/// need `CAP_NET_ADMIN`.  The socket is closed on drop.
#[derive(Debug)]
pub struct Channel {
    fd: OwnedFd,
}

fn getsockopt_into<T: FromBytes + IntoBytes>(
    fd: BorrowedFd<'_>,
    name: libc::c_int,
    op: &'static str,
    out: &mut T,
) -> Result<usize> {
    let buf = out.as_mut_bytes();
    let mut len = buf.len() as libc::socklen_t;
    // SAFETY: `buf` is writable for `len` bytes, and `len` is a valid socklen_t the call
    // may update; the kernel writes at most `len` bytes.  Any bytes are a valid `T`.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            uapi::SOL_VJCHAN,
            name,
            buf.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(Error::last_os(op));
    }
    Ok((len as usize).min(buf.len()))
}

fn setsockopt_from<T: IntoBytes + Immutable>(
    fd: BorrowedFd<'_>,
    name: libc::c_int,
    op: &'static str,
    val: &T,
) -> Result<()> {
    let buf = val.as_bytes();
    // SAFETY: `buf` is readable for its length; the kernel only reads it.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            uapi::SOL_VJCHAN,
            name,
            buf.as_ptr().cast(),
            buf.len() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(Error::last_os(op));
    }
    Ok(())
}

impl Channel {
    /// `socket(PF_VJCHAN, SOCK_RAW | SOCK_CLOEXEC, 0)`: a new, unbound channel.  Needs no
    /// privilege; fails with `EAFNOSUPPORT` on a kernel without PF_VJCHAN.
    pub fn open() -> Result<Self> {
        // SAFETY: a plain system call with integer arguments.
        let fd = unsafe {
            libc::socket(
                libc::c_int::from(uapi::PF_VJCHAN),
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                uapi::VJ_PROTO_DEFAULT,
            )
        };
        if fd < 0 {
            return Err(Error::last_os("socket(PF_VJCHAN)"));
        }
        // SAFETY: `fd` was just returned by socket(2): open, and owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Channel { fd })
    }

    /// Wraps a descriptor without checking it (tests use other sockets for `poll`).
    #[cfg(test)]
    pub(crate) fn from_fd_unchecked(fd: OwnedFd) -> Self {
        Channel { fd }
    }

    /// The `VJ_FEATURE_*` bits of this kernel (`getsockopt(VJ_FEATURES)`).
    pub fn features(&self) -> Result<Features> {
        let mut bits = 0u64;
        let len = getsockopt_into(
            self.fd.as_fd(),
            uapi::VJ_FEATURES,
            "getsockopt(VJ_FEATURES)",
            &mut bits,
        )?;
        if len < size_of::<u64>() {
            return Err(Error::ShortOption {
                op: "getsockopt(VJ_FEATURES)",
                len,
                min: size_of::<u64>(),
            });
        }
        Ok(Features(bits))
    }

    /// `VJ_RING_SETUP`: chooses the ring's geometry, before [`bind`](Self::bind) (`EBUSY`
    /// after it).  Fields left 0 take their defaults; see [`uapi::RingSetup`].
    pub fn setup(&self, setup: &uapi::RingSetup) -> Result<()> {
        setsockopt_from(
            self.fd.as_fd(),
            uapi::VJ_RING_SETUP,
            "setsockopt(VJ_RING_SETUP)",
            setup,
        )
    }

    /// Attaches the channel to receive queue `queue` of the device `ifindex`; allocates the
    /// ring.  A socket binds once; a queue has at most one channel.
    pub fn bind(&self, ifindex: u32, queue: u32) -> Result<()> {
        let addr = uapi::SockaddrVj {
            svj_family: uapi::AF_VJCHAN,
            svj_flags: 0,
            svj_ifindex: ifindex,
            svj_queue_id: queue,
            svj_reserved: 0,
        };
        // SAFETY: `addr` is a readable `struct sockaddr_vj` of the length passed; the kernel
        // only reads it.
        let rc = unsafe {
            libc::bind(
                self.fd.as_raw_fd(),
                (&addr as *const uapi::SockaddrVj).cast(),
                size_of::<uapi::SockaddrVj>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(Error::last_os("bind"));
        }
        Ok(())
    }

    /// `VJ_ADD_FILTER`: frames matching `filter` now belong to the channel.
    pub fn add_filter(&self, filter: &FlowFilter) -> Result<()> {
        setsockopt_from(
            self.fd.as_fd(),
            uapi::VJ_ADD_FILTER,
            "setsockopt(VJ_ADD_FILTER)",
            filter.as_uapi(),
        )
    }

    /// `VJ_DEL_FILTER`: removes a filter added with the same value.
    pub fn del_filter(&self, filter: &FlowFilter) -> Result<()> {
        setsockopt_from(
            self.fd.as_fd(),
            uapi::VJ_DEL_FILTER,
            "setsockopt(VJ_DEL_FILTER)",
            filter.as_uapi(),
        )
    }

    /// The channel's counters (`VJ_STATISTICS`).  An older kernel returns fewer of them:
    /// see [`Stats::len`].
    pub fn stats(&self) -> Result<Stats> {
        let mut counters = uapi::Statistics::default();
        let len = getsockopt_into(
            self.fd.as_fd(),
            uapi::VJ_STATISTICS,
            "getsockopt(VJ_STATISTICS)",
            &mut counters,
        )?;
        if len < uapi::VJ_STATISTICS_SIZE_VER0 {
            return Err(Error::ShortOption {
                op: "getsockopt(VJ_STATISTICS)",
                len,
                min: uapi::VJ_STATISTICS_SIZE_VER0,
            });
        }
        Ok(Stats { counters, len })
    }

    /// Where the parts of the ring are (`VJ_RING_OFFSETS`); before `bind`, for the geometry
    /// `bind` would use.
    pub fn offsets(&self) -> Result<uapi::RingOffsets> {
        let mut off = uapi::RingOffsets::default();
        let len = getsockopt_into(
            self.fd.as_fd(),
            uapi::VJ_RING_OFFSETS,
            "getsockopt(VJ_RING_OFFSETS)",
            &mut off,
        )?;
        if len < uapi::VJ_RING_OFFSETS_SIZE_VER0 {
            return Err(Error::ShortOption {
                op: "getsockopt(VJ_RING_OFFSETS)",
                len,
                min: uapi::VJ_RING_OFFSETS_SIZE_VER0,
            });
        }
        Ok(off)
    }
}

impl TryFrom<OwnedFd> for Channel {
    type Error = Error;

    /// Adopts a descriptor (one received over a Unix socket, say) after checking that it
    /// is a `PF_VJCHAN` socket (`SO_DOMAIN`).
    fn try_from(fd: OwnedFd) -> Result<Self> {
        let mut domain: libc::c_int = 0;
        let mut len = size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: `domain` is writable for `len` bytes.
        let rc = unsafe {
            libc::getsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_DOMAIN,
                (&mut domain as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        if rc != 0 {
            return Err(Error::last_os("getsockopt(SO_DOMAIN)"));
        }
        if domain != libc::c_int::from(uapi::AF_VJCHAN) {
            return Err(Error::NotAChannel(domain));
        }
        Ok(Channel { fd })
    }
}

impl From<Channel> for OwnedFd {
    fn from(c: Channel) -> Self {
        c.fd
    }
}

impl AsFd for Channel {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for Channel {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}
