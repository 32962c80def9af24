//! Cheap clocks for the span hot path.

/// CPU time the calling thread has used, nanoseconds; `None` where the platform has no
/// per-thread CPU clock.
#[cfg(unix)]
pub(crate) fn thread_cpu_ns() -> Option<u64> {
    read(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// CPU time the calling thread has used, nanoseconds; `None` where the platform has no
/// per-thread CPU clock.
#[cfg(not(unix))]
pub(crate) fn thread_cpu_ns() -> Option<u64> {
    None
}

/// A monotonic clock at a few milliseconds' resolution that costs a few nanoseconds to read
/// (Linux `CLOCK_MONOTONIC_COARSE`, from the vDSO); `None` elsewhere.
#[cfg(target_os = "linux")]
pub(crate) fn coarse_ns() -> Option<u64> {
    read(libc::CLOCK_MONOTONIC_COARSE)
}

/// A monotonic clock at a few milliseconds' resolution; `None` on this platform.
#[cfg(not(target_os = "linux"))]
pub(crate) fn coarse_ns() -> Option<u64> {
    None
}

#[cfg(unix)]
fn read(clock: libc::clockid_t) -> Option<u64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one `timespec` into the valid pointer we pass and reads
    // nothing else; the clock ids used here exist on the platforms that compile this.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    (rc == 0).then(|| ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}
