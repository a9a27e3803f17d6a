//! `vjchan-hello`: opens a PF_VJCHAN socket and says what the kernel answered.
//!
//! Exit status 0 if the socket could be created and closed, 1 otherwise.

use std::ffi::CStr;
use std::io;
use std::process::ExitCode;

fn kernel_release() -> String {
    // SAFETY: `utsname` is plain data; `uname` fills it or fails.
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `uts` is a valid, writable `utsname`.
    if unsafe { libc::uname(&mut uts) } != 0 {
        return format!("unknown ({})", io::Error::last_os_error());
    }
    // SAFETY: `uname` NUL-terminates `release`.
    let rel = unsafe { CStr::from_ptr(uts.release.as_ptr()) };
    rel.to_string_lossy().into_owned()
}

fn main() -> ExitCode {
    println!("kernel: Linux {}", kernel_release());
    let family = libc::c_int::from(vjchan_uapi::PF_VJCHAN);
    // SAFETY: plain system call with integer arguments.
    let fd = unsafe {
        libc::socket(
            family,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            vjchan_uapi::VJ_PROTO_DEFAULT,
        )
    };
    if fd < 0 {
        let err = io::Error::last_os_error();
        println!("socket(PF_VJCHAN={family}, SOCK_RAW, 0): FAILED: {err}");
        return ExitCode::FAILURE;
    }
    println!("socket(PF_VJCHAN={family}, SOCK_RAW, 0) = fd {fd}: a PF_VJCHAN socket");
    // SAFETY: `fd` is a socket we own.
    if unsafe { libc::close(fd) } != 0 {
        println!("close: FAILED: {}", io::Error::last_os_error());
        return ExitCode::FAILURE;
    }
    println!("close(fd {fd}) = 0");
    ExitCode::SUCCESS
}
