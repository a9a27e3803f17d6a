// SPDX-License-Identifier: GPL-2.0

//! PF_VJCHAN: Van Jacobson network channels.
//!
//! A PF_VJCHAN socket owns a network channel. This file registers the protocol family; the
//! channel itself comes with the ring.

use kernel::{
    net::socket::{
        self,
        CreateArgs,
        SockOptIn,
        SockOptOut,
        SockType, //
    },
    prelude::*,
};

module! {
    type: VjchanModule,
    name: "vjchan",
    authors: ["vjchan developers"],
    description: "Van Jacobson network channels (PF_VJCHAN)",
    license: "GPL",
    alias: ["net-pf-46"],
}

/// The storage of the PF_VJCHAN family.
static VJCHAN_FAMILY: socket::Family<Channel> = socket::Family::new();

/// Checks the `socket(2)` arguments of a new PF_VJCHAN socket.
///
/// Channels carry whole link-layer frames, so the only type is `SOCK_RAW`; there is one
/// protocol, 0.
fn check_create(args: &CreateArgs) -> Result {
    if args.ty != SockType::RAW {
        return Err(ESOCKTNOSUPPORT);
    }
    if args.protocol != 0 {
        return Err(EPROTONOSUPPORT);
    }
    Ok(())
}

/// One PF_VJCHAN socket.
struct Channel {
    /// Whether the kernel created the socket (`sock_create_kern()`).
    #[allow(dead_code)]
    kern: bool,
}

#[vtable]
impl socket::Socket for Channel {
    const FAMILY: u16 = socket::AF_VJCHAN;
    const NAME: &'static CStr = c"VJCHAN";
    type Ptr = KBox<Self>;

    fn family() -> &'static socket::Family<Self> {
        &VJCHAN_FAMILY
    }

    fn create(args: &CreateArgs) -> Result<KBox<Self>> {
        check_create(args)?;
        Ok(KBox::new(Self { kern: args.kern }, GFP_KERNEL)?)
    }

    fn bind(_this: &Self, _addr: &socket::SockAddr<'_>) -> Result {
        // Binding to a device queue comes with the channel ring.
        Err(EOPNOTSUPP)
    }

    fn mmap(_this: &Self, _vma: &kernel::mm::virt::VmaNew) -> Result {
        // There is no ring to map yet.
        Err(EOPNOTSUPP)
    }

    fn setsockopt(_this: &Self, level: i32, _optname: i32, _optval: &SockOptIn) -> Result {
        if level != socket::SOL_VJCHAN {
            return Err(ENOPROTOOPT);
        }
        // No options are defined yet.
        Err(ENOPROTOOPT)
    }

    fn getsockopt(_this: &Self, level: i32, _optname: i32, _opt: &mut SockOptOut<'_>) -> Result {
        if level != socket::SOL_VJCHAN {
            return Err(ENOPROTOOPT);
        }
        Err(ENOPROTOOPT)
    }
}

struct VjchanModule {
    _family: socket::Registration<Channel>,
}

impl kernel::Module for VjchanModule {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let family = socket::Registration::register()?;
        pr_info!("PF_VJCHAN (family {}) registered\n", socket::AF_VJCHAN);
        Ok(Self { _family: family })
    }
}

#[cfg(CONFIG_VJCHAN_KUNIT_TEST)]
#[kunit_tests(vjchan)]
mod tests {
    use super::*;

    fn args(ty: SockType, protocol: i32) -> CreateArgs {
        CreateArgs {
            ty,
            protocol,
            kern: false,
        }
    }

    #[test]
    fn create_accepts_raw_protocol_zero() {
        assert_eq!(check_create(&args(SockType::RAW, 0)), Ok(()));
    }

    #[test]
    fn create_refuses_other_types() {
        for ty in [SockType::STREAM, SockType::DGRAM, SockType::SEQPACKET] {
            assert_eq!(check_create(&args(ty, 0)), Err(ESOCKTNOSUPPORT));
        }
        assert_eq!(
            check_create(&args(SockType::from_raw(-1), 0)),
            Err(ESOCKTNOSUPPORT)
        );
    }

    #[test]
    fn create_refuses_nonzero_protocols() {
        for protocol in [1, -1, i32::MAX, i32::MIN] {
            assert_eq!(
                check_create(&args(SockType::RAW, protocol)),
                Err(EPROTONOSUPPORT)
            );
        }
    }

    #[test]
    fn family_numbers_match_uapi() {
        // include/uapi/linux/vjchan.h provides these numbers to user space.
        assert_eq!(socket::AF_VJCHAN, 46);
        assert_eq!(socket::SOL_VJCHAN, 288);
    }
}
