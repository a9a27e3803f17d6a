//! Rust mirror of `include/uapi/linux/vjchan.h`, the user ABI of PF_VJCHAN sockets.
//!
//! The C header (`uapi/vjchan.h` in this repository) is the source of truth; the test
//! `tests/c_header.rs` compiles it with the C compiler and checks every value here against it.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]

/// `AF_VJCHAN`: the address family of network channel sockets.
pub const AF_VJCHAN: u16 = 46;
/// `PF_VJCHAN`: the protocol family, equal to [`AF_VJCHAN`].
pub const PF_VJCHAN: u16 = AF_VJCHAN;
/// `SOL_VJCHAN`: the socket option level of PF_VJCHAN.
pub const SOL_VJCHAN: i32 = 288;
/// `VJCHAN_PROTO_DEFAULT`: the only protocol, the third argument of `socket(2)`.
pub const VJCHAN_PROTO_DEFAULT: i32 = 0;
