//! Flow filters: which frames of the queue belong to the channel.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use vjchan_uapi as uapi;
use zerocopy::network_endian::U16 as Be16;

/// The transport protocol of an IP filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum L4Proto {
    /// `IPPROTO_UDP`.
    Udp,
    /// `IPPROTO_TCP`.
    Tcp,
}

impl L4Proto {
    fn number(self) -> u8 {
        match self {
            // IPPROTO_* fit a byte; libc has them as c_int.
            L4Proto::Udp => libc::IPPROTO_UDP as u8,
            L4Proto::Tcp => libc::IPPROTO_TCP as u8,
        }
    }
}

/// A flow filter, built only in the forms the kernel accepts (`struct vj_filter` with every
/// unused and reserved field 0, packet fields in network byte order).
///
/// A frame belongs to the channel if any of its filters matches it; a channel has at most
/// [`uapi::VJ_MAX_FILTERS`].  Remove a filter with the same value it was added with.
///
/// ```
/// use std::net::Ipv4Addr;
/// use vjchan::{FlowFilter, L4Proto};
///
/// let all_88b5 = FlowFilter::ethertype(0x88b5);
/// let dns = FlowFilter::ipv4(L4Proto::Udp, Some(Ipv4Addr::new(10, 0, 0, 1)), Some(53));
/// let any_tcp6 = FlowFilter::ipv6(L4Proto::Tcp, None, None);
/// assert_ne!(all_88b5, dns);
/// assert_eq!(dns.as_uapi().dst_port.get(), 53);
/// # let _ = any_tcp6;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlowFilter(uapi::Filter);

impl FlowFilter {
    /// Every frame of EtherType `ethertype` (host byte order, e.g. `0x0800`), read after at
    /// most one VLAN tag.
    pub fn ethertype(ethertype: u16) -> Self {
        FlowFilter(uapi::Filter {
            r#type: uapi::VJ_FILTER_ETHERTYPE,
            ethertype: Be16::new(ethertype),
            ..Default::default()
        })
    }

    fn ip(ty: u16, proto: L4Proto, addr: Option<[u8; 16]>, port: Option<u16>) -> Self {
        let mut f = uapi::Filter {
            r#type: ty,
            l4_proto: proto.number(),
            ..Default::default()
        };
        if let Some(a) = addr {
            f.flags |= uapi::VJ_FILTER_F_DST_ADDR;
            f.dst_addr = a;
        }
        if let Some(p) = port {
            f.flags |= uapi::VJ_FILTER_F_DST_PORT;
            f.dst_port = Be16::new(p);
        }
        FlowFilter(f)
    }

    /// IPv4 packets of protocol `proto`, to `dst_addr` if given, to port `dst_port` if given
    /// (later fragments carry no port and never match a filter with one).
    pub fn ipv4(proto: L4Proto, dst_addr: Option<Ipv4Addr>, dst_port: Option<u16>) -> Self {
        let addr = dst_addr.map(|a| {
            let mut b = [0u8; 16];
            b[..4].copy_from_slice(&a.octets());
            b
        });
        Self::ip(uapi::VJ_FILTER_IPV4, proto, addr, dst_port)
    }

    /// IPv6 packets without extension headers whose next header is `proto`, to `dst_addr`
    /// if given, to port `dst_port` if given.
    pub fn ipv6(proto: L4Proto, dst_addr: Option<Ipv6Addr>, dst_port: Option<u16>) -> Self {
        Self::ip(
            uapi::VJ_FILTER_IPV6,
            proto,
            dst_addr.map(|a| a.octets()),
            dst_port,
        )
    }

    /// Packets of protocol `proto` to the local socket address `local`: IPv4 or IPv6 as
    /// `local` is; an unspecified address (`0.0.0.0`, `::`) matches any destination address
    /// and port 0 any port.
    pub fn to_socket(proto: L4Proto, local: SocketAddr) -> Self {
        let port = (local.port() != 0).then_some(local.port());
        match local.ip() {
            IpAddr::V4(a) => Self::ipv4(proto, (!a.is_unspecified()).then_some(a), port),
            IpAddr::V6(a) => Self::ipv6(proto, (!a.is_unspecified()).then_some(a), port),
        }
    }

    /// The `struct vj_filter` passed to the kernel.
    pub fn as_uapi(&self) -> &uapi::Filter {
        &self.0
    }
}

impl From<FlowFilter> for uapi::Filter {
    fn from(f: FlowFilter) -> Self {
        f.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zerocopy::IntoBytes;

    #[test]
    fn ethertype_is_network_order_and_nothing_else() {
        let f = FlowFilter::ethertype(0x88b5);
        let b = f.as_uapi().as_bytes();
        assert_eq!(&b[..6], &[1, 0, 0, 0, 0x88, 0xb5]);
        assert!(b[6..].iter().all(|&x| x == 0));
    }

    #[test]
    fn ipv4_addr_in_first_four_bytes() {
        let f = FlowFilter::ipv4(L4Proto::Udp, Some(Ipv4Addr::new(192, 0, 2, 7)), Some(4789));
        let u = f.as_uapi();
        assert_eq!(u.r#type, uapi::VJ_FILTER_IPV4);
        assert_eq!(
            u.flags,
            uapi::VJ_FILTER_F_DST_ADDR | uapi::VJ_FILTER_F_DST_PORT
        );
        assert_eq!(u.l4_proto, 17);
        assert_eq!(u.dst_port.as_bytes(), &[0x12, 0xb5]);
        assert_eq!(&u.dst_addr[..4], &[192, 0, 2, 7]);
        assert!(u.dst_addr[4..].iter().all(|&x| x == 0));
        assert_eq!(u.ethertype.get(), 0);
    }

    #[test]
    fn socket_address_forms() {
        let any: SocketAddr = "[::]:0".parse().unwrap();
        let f = FlowFilter::to_socket(L4Proto::Tcp, any);
        assert_eq!(f.as_uapi().r#type, uapi::VJ_FILTER_IPV6);
        assert_eq!(f.as_uapi().flags, 0);
        assert_eq!(f.as_uapi().l4_proto, 6);
        let one: SocketAddr = "10.1.2.3:9".parse().unwrap();
        let g = FlowFilter::to_socket(L4Proto::Udp, one);
        assert_eq!(
            g,
            FlowFilter::ipv4(L4Proto::Udp, Some(Ipv4Addr::new(10, 1, 2, 3)), Some(9))
        );
    }
}
