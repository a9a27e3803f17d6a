//! The pure logic of `net/vjchan`, built for the host.
//!
//! The modules are the kernel's own files (`kernel-rust/net/vjchan/`), included by path: one
//! source, compiled into the kernel module and tested here.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
#![forbid(unsafe_code)]

#[path = "../../net/vjchan/ring.rs"]
pub mod ring;

#[path = "../../net/vjchan/filter.rs"]
pub mod filter;

#[path = "../../net/vjchan/geometry.rs"]
pub mod geometry;
