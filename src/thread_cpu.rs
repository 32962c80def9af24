//! CPU time of the calling thread, for per-span CPU time.

/// CPU time the calling thread has used, nanoseconds; `None` where the platform has no
/// per-thread CPU clock.
#[cfg(unix)]
pub(crate) fn now() -> Option<u64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one `timespec` into the valid pointer we pass and reads
    // nothing else; CLOCK_THREAD_CPUTIME_ID is supported on every Unix this crate targets.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (rc == 0).then(|| ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

/// CPU time the calling thread has used, nanoseconds; `None` where the platform has no
/// per-thread CPU clock.
#[cfg(not(unix))]
pub(crate) fn now() -> Option<u64> {
    None
}
