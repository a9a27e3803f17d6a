// SPDX-License-Identifier: GPL-2.0

//! Flow filters of a channel: which received frames belong to it.
//!
//! Pure logic, like `ring.rs`: the same file serves the vjchan module and the host crate
//! `kernel-rust/host`, where it is tested with proptest.
//!
//! A frame sits in a ring buffer that user space can write while the kernel looks at it, so
//! the kernel first copies at most [`HEADER_COPY`] bytes of it into memory of its own, and
//! [`Headers::parse`] reads only that copy: what is classified is what was copied, whatever
//! user space does to the buffer meanwhile. Parsing never fails: what cannot be parsed is
//! simply not matched by the filters that need it.

/// How many bytes of a frame classification looks at: Ethernet, one VLAN tag, the longest
/// IPv4 header and the transport ports fit.
pub const HEADER_COPY: usize = 128;

/// `ETH_P_IP`.
pub const ETH_P_IP: u16 = 0x0800;
/// `ETH_P_IPV6`.
pub const ETH_P_IPV6: u16 = 0x86dd;
/// `ETH_P_8021Q`.
pub const ETH_P_8021Q: u16 = 0x8100;
/// `ETH_P_8021AD`.
pub const ETH_P_8021AD: u16 = 0x88a8;
/// `IPPROTO_TCP`.
pub const IPPROTO_TCP: u8 = 6;
/// `IPPROTO_UDP`.
pub const IPPROTO_UDP: u8 = 17;

/// A transport protocol a filter can ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L4 {
    /// UDP.
    Udp,
    /// TCP.
    Tcp,
}

impl L4 {
    /// The IP protocol number.
    pub const fn proto(self) -> u8 {
        match self {
            L4::Udp => IPPROTO_UDP,
            L4::Tcp => IPPROTO_TCP,
        }
    }
}

/// One flow filter. A frame belongs to a channel if any of its filters matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Filter {
    /// Every frame of this EtherType (after at most one VLAN tag).
    EtherType(u16),
    /// IPv4 datagrams of transport `l4` to `dst` (any address if `None`) and destination port
    /// `dport` (any port if `None`).
    Ipv4 {
        /// Destination address, network byte order.
        dst: Option<[u8; 4]>,
        /// Transport protocol.
        l4: L4,
        /// Destination port, host byte order.
        dport: Option<u16>,
    },
    /// IPv6 packets whose next header is `l4` (no extension headers), to `dst` (any address if
    /// `None`) and destination port `dport` (any port if `None`).
    Ipv6 {
        /// Destination address, network byte order.
        dst: Option<[u8; 16]>,
        /// Transport protocol.
        l4: L4,
        /// Destination port, host byte order.
        dport: Option<u16>,
    },
}

/// The network layer of a frame, as far as filters care.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L3 {
    /// Neither IPv4 nor IPv6, or a header that does not parse.
    Other,
    /// IPv4.
    Ipv4 {
        /// Destination address.
        dst: [u8; 4],
        /// The protocol field.
        proto: u8,
        /// The destination port, if this is the first fragment and the ports were copied.
        dport: Option<u16>,
    },
    /// IPv6.
    Ipv6 {
        /// Destination address.
        dst: [u8; 16],
        /// The next header field.
        next: u8,
        /// The destination port, if the ports were copied.
        dport: Option<u16>,
    },
}

/// What classification knows about a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Headers {
    /// The EtherType after at most one VLAN tag; `None` for frames shorter than that.
    pub ethertype: Option<u16>,
    /// The network layer.
    pub l3: L3,
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

fn array<const K: usize>(b: &[u8], at: usize) -> Option<[u8; K]> {
    let s = b.get(at..at.checked_add(K)?)?;
    let mut a = [0; K];
    a.copy_from_slice(s);
    Some(a)
}

impl Headers {
    /// Parses the start of an Ethernet frame (`copy` is at most [`HEADER_COPY`] bytes of it, in
    /// memory the kernel owns).
    pub fn parse(copy: &[u8]) -> Self {
        let mut off = 12;
        let mut ethertype = be16(copy, off);
        if matches!(ethertype, Some(ETH_P_8021Q | ETH_P_8021AD)) {
            off += 4;
            ethertype = be16(copy, off);
        }
        let l3_off = off + 2;
        let l3 = match ethertype {
            Some(ETH_P_IP) => Self::ipv4(copy, l3_off),
            Some(ETH_P_IPV6) => Self::ipv6(copy, l3_off),
            _ => None,
        }
        .unwrap_or(L3::Other);
        Headers { ethertype, l3 }
    }

    fn ipv4(b: &[u8], at: usize) -> Option<L3> {
        let vihl = *b.get(at)?;
        let ihl = usize::from(vihl & 0xf) * 4;
        if vihl >> 4 != 4 || ihl < 20 {
            return None;
        }
        let frag = be16(b, at + 6)?;
        let proto = *b.get(at + 9)?;
        let dst = array::<4>(b, at + 16)?;
        // Only the first fragment carries the transport header.
        let dport = if frag & 0x1fff == 0 {
            be16(b, at + ihl + 2)
        } else {
            None
        };
        Some(L3::Ipv4 { dst, proto, dport })
    }

    fn ipv6(b: &[u8], at: usize) -> Option<L3> {
        if *b.get(at)? >> 4 != 6 {
            return None;
        }
        let next = *b.get(at + 6)?;
        let dst = array::<16>(b, at + 24)?;
        let dport = be16(b, at + 40 + 2);
        Some(L3::Ipv6 { dst, next, dport })
    }
}

impl Filter {
    /// Whether the frame described by `h` matches this filter.
    pub fn matches(&self, h: &Headers) -> bool {
        let port_ok = |want: Option<u16>, have: Option<u16>| match want {
            None => true,
            Some(p) => have == Some(p),
        };
        match (*self, h.l3) {
            (Filter::EtherType(t), _) => h.ethertype == Some(t),
            (
                Filter::Ipv4 { dst, l4, dport },
                L3::Ipv4 {
                    dst: d,
                    proto,
                    dport: p,
                },
            ) => proto == l4.proto() && dst.is_none_or(|a| a == d) && port_ok(dport, p),
            (
                Filter::Ipv6 { dst, l4, dport },
                L3::Ipv6 {
                    dst: d,
                    next,
                    dport: p,
                },
            ) => next == l4.proto() && dst.is_none_or(|a| a == d) && port_ok(dport, p),
            _ => false,
        }
    }
}

/// Whether a frame belongs to a channel with `filters`: any of them matches.
pub fn classify(filters: &[Filter], h: &Headers) -> bool {
    filters.iter().any(|f| f.matches(h))
}

/// The size of `struct vj_filter`, the uapi form of a filter.
pub const UAPI_FILTER_SIZE: usize = 48;

/// `VJ_FILTER_ETHERTYPE`.
pub const VJ_FILTER_ETHERTYPE: u16 = 1;
/// `VJ_FILTER_IPV4`.
pub const VJ_FILTER_IPV4: u16 = 2;
/// `VJ_FILTER_IPV6`.
pub const VJ_FILTER_IPV6: u16 = 3;
/// `VJ_FILTER_F_DST_ADDR`.
pub const VJ_FILTER_F_DST_ADDR: u16 = 1 << 0;
/// `VJ_FILTER_F_DST_PORT`.
pub const VJ_FILTER_F_DST_PORT: u16 = 1 << 1;

impl Filter {
    /// Decodes and validates a `struct vj_filter` given as its bytes (user space wrote them):
    /// `None` unless every rule of the uapi holds: a known type; for EtherType filters a
    /// nonzero EtherType and nothing else; for IP filters UDP or TCP, no unknown flag, and an
    /// address or port only with its flag (an IPv4 address in the first 4 bytes only); every
    /// reserved and unused byte zero.
    pub fn decode(raw: &[u8; UAPI_FILTER_SIZE]) -> Option<Filter> {
        let ne16 = |at: usize| u16::from_ne_bytes([raw[at], raw[at + 1]]);
        let ty = ne16(0);
        let flags = ne16(2);
        let ethertype = u16::from_be_bytes([raw[4], raw[5]]);
        let l4_proto = raw[6];
        let dport = u16::from_be_bytes([raw[8], raw[9]]);
        let addr = array::<16>(raw, 16)?;
        // reserved0, reserved1, reserved2, reserved[2].
        if raw[7] != 0 || raw[10..16].iter().chain(&raw[32..]).any(|&b| b != 0) {
            return None;
        }
        if ty == VJ_FILTER_ETHERTYPE {
            let rest_zero = flags == 0 && l4_proto == 0 && dport == 0 && addr == [0; 16];
            return (ethertype != 0 && rest_zero).then_some(Filter::EtherType(ethertype));
        }
        if ethertype != 0 || flags & !(VJ_FILTER_F_DST_ADDR | VJ_FILTER_F_DST_PORT) != 0 {
            return None;
        }
        let l4 = match l4_proto {
            IPPROTO_UDP => L4::Udp,
            IPPROTO_TCP => L4::Tcp,
            _ => return None,
        };
        let dport = if flags & VJ_FILTER_F_DST_PORT != 0 {
            Some(dport)
        } else if dport != 0 {
            return None;
        } else {
            None
        };
        let want_addr = flags & VJ_FILTER_F_DST_ADDR != 0;
        match ty {
            VJ_FILTER_IPV4 => {
                let (v4, rest) = addr.split_at(4);
                if rest.iter().any(|&b| b != 0) || (!want_addr && v4.iter().any(|&b| b != 0)) {
                    return None;
                }
                let dst = if want_addr { array::<4>(v4, 0) } else { None };
                Some(Filter::Ipv4 { dst, l4, dport })
            }
            VJ_FILTER_IPV6 => {
                if !want_addr && addr != [0; 16] {
                    return None;
                }
                Some(Filter::Ipv6 {
                    dst: want_addr.then_some(addr),
                    l4,
                    dport,
                })
            }
            _ => None,
        }
    }

    /// Encodes the filter as a `struct vj_filter`; [`Filter::decode`] gives it back.
    pub fn encode(&self) -> [u8; UAPI_FILTER_SIZE] {
        let mut raw = [0u8; UAPI_FILTER_SIZE];
        let mut put = |at: usize, b: &[u8]| {
            if let Some(d) = raw.get_mut(at..at + b.len()) {
                d.copy_from_slice(b);
            }
        };
        let (ty, l4, dst, dport): (u16, Option<L4>, &[u8], Option<u16>) = match self {
            Filter::EtherType(t) => {
                put(4, &t.to_be_bytes());
                (VJ_FILTER_ETHERTYPE, None, &[], None)
            }
            Filter::Ipv4 { dst, l4, dport } => (
                VJ_FILTER_IPV4,
                Some(*l4),
                dst.as_ref().map_or(&[][..], |a| &a[..]),
                *dport,
            ),
            Filter::Ipv6 { dst, l4, dport } => (
                VJ_FILTER_IPV6,
                Some(*l4),
                dst.as_ref().map_or(&[][..], |a| &a[..]),
                *dport,
            ),
        };
        let mut flags = 0u16;
        if !dst.is_empty() {
            flags |= VJ_FILTER_F_DST_ADDR;
            put(16, dst);
        }
        if let Some(p) = dport {
            flags |= VJ_FILTER_F_DST_PORT;
            put(8, &p.to_be_bytes());
        }
        put(0, &ty.to_ne_bytes());
        put(2, &flags.to_ne_bytes());
        if let Some(l4) = l4 {
            put(6, &[l4.proto()]);
        }
        raw
    }
}
