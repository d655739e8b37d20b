//! The start of both executables (`gardefou` and the rm shim's hot path, `gardefou-shim`), in
//! place of Rust's runtime set-up before `main`: it costs ~0.15 ms here (it reads
//! /proc/self/maps for the main thread's stack guard), paid by every guarded command. What
//! they go without: the "stack overflow" message (an overflow still kills the process, and a
//! shim that dies runs nothing). std::env::args_os works without it on glibc.

/// The executable's C `main`, calling `run` through [`enter`]. (A unit-test build keeps the
/// test harness's own `main`.)
macro_rules! c_main {
    ($run:expr) => {
        #[cfg(not(test))]
        #[unsafe(no_mangle)]
        extern "C" fn main(
            _argc: std::ffi::c_int,
            _argv: *const *const std::ffi::c_char,
        ) -> std::ffi::c_int {
            start::enter($run)
        }
    };
}

/// Sets up what gardefou depends on, then runs `run`; a panic ends with status 101, as
/// Rust's own `main` would (an unwind must not cross the C `main`).
pub fn enter(run: fn()) -> std::ffi::c_int {
    runtime_setup();
    // A panic has printed its message.
    match std::panic::catch_unwind(run) {
        Ok(()) => 0,
        Err(_) => 101,
    }
}

/// What Rust's runtime would have done before `main`, that gardefou depends on:
/// - standard input, output and error open: a caller that closed one must not have gardefou's
///   next file (an audit log, a snapshot) become fd 1 and take its output;
/// - SIGPIPE ignored, so that writing to a child that stopped reading is an error to report,
///   not a silent death (children get the default back when spawned: std resets it).
fn runtime_setup() {
    use nix::fcntl::{OFlag, open};
    use nix::sys::signal::{SigHandler, Signal, signal};
    use nix::sys::stat::Mode;
    use std::os::fd::{AsRawFd, IntoRawFd};
    for fd in 0..=2 {
        // SAFETY: F_GETFD only reads the descriptor's flags; a closed one gives EBADF.
        let closed = unsafe { nix::libc::fcntl(fd, nix::libc::F_GETFD) } == -1
            && nix::errno::Errno::last() == nix::errno::Errno::EBADF;
        if closed {
            // The lowest free descriptor: this one.
            match open("/dev/null", OFlag::O_RDWR, Mode::empty()) {
                Ok(null) if null.as_raw_fd() == fd => {
                    let _ = null.into_raw_fd();
                }
                _ => std::process::abort(),
            }
        }
    }
    // SAFETY: SIG_IGN installs no handler code.
    let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigIgn) };
}
