//! The activity tier: GPM's figures between this read's sample and the last one (Hopper and
//! newer), and this process's share of the device from the driver's per-process samples
//! newer than the last one seen. Both are means over the window since the last read; the
//! first read of a device only starts its window. Read by the sampler thread, after a pass,
//! on the GPU thread, after the pass's answer (1.9 ms and 2.1 ms a read on an H200).

use std::mem::ManuallyDrop;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use nvml_wrapper::enums::gpm::GpmMetricId;
use nvml_wrapper::error::{nvml_sym, nvml_try, NvmlError};
use nvml_wrapper::gpm::{gpm_metrics_get, GpmSample};
use nvml_wrapper::{Device, Nvml};
use nvml_wrapper_sys::bindings::{
    nvmlGpmSample_t, nvmlProcessUtilizationSample_t, nvmlReturn_enum_NVML_ERROR_INSUFFICIENT_SIZE,
};

use super::fields::FieldReader;
use super::process_utilization::{share, Sample, Share};
use crate::sampler::pid_namespace::{self, PidNamespace};
use crate::snapshot::{GpuActivity, GpuField, MissingReason};
use crate::sync::lock;

/// GPM's shortest useful window: samples closer than about 0.2 s read 0 (a real H200 read 0
/// over 0.05 s under full load), so a read sooner than this after the last keeps its window
/// open.
pub(crate) const MIN_WINDOW: Duration = Duration::from_millis(200);

/// Whether a device gives GPM, read with its statics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum GpmSupport {
    Yes,
    No(MissingReason),
}

impl GpmSupport {
    /// Before the statics are read.
    pub(crate) const UNKNOWN: GpmSupport = GpmSupport::No(MissingReason::NoSamples);
}

/// What GPM gives once, from `device`: in MIG mode the whole GPU's figures are not this
/// instance's; a driver without the call is too old for it.
pub(super) fn gpm_support(
    device: &Device<'_>,
    mig: Option<bool>,
    reader: &mut FieldReader<'_>,
) -> GpmSupport {
    if mig == Some(true) {
        return GpmSupport::No(MissingReason::Mig);
    }
    match reader.call("nvmlGpmQueryDeviceSupport", || device.gpm_support()) {
        Ok(true) => GpmSupport::Yes,
        Ok(false) => GpmSupport::No(MissingReason::NotSupported),
        Err(err) => GpmSupport::No(no_symbol(&err).unwrap_or_else(|| {
            reader
                .reason(err)
                .unwrap_or(MissingReason::Failed("the GPU is lost".into()))
        })),
    }
}

/// Records why `field` is missing after `err`: a driver without the call is too old; other
/// errors as every other read's (a failure warns once).
fn failed(reader: &mut FieldReader<'_>, field: GpuField, err: NvmlError) {
    match no_symbol(&err) {
        Some(reason) => reader.missing(field, reason),
        None => {
            reader.read::<()>(field, Err(err));
        }
    }
}

/// A driver without the function (older than GPM or per-process utilization).
fn no_symbol(err: &NvmlError) -> Option<MissingReason> {
    matches!(
        err,
        NvmlError::FailedToLoadSymbol(_) | NvmlError::FunctionNotFound
    )
    .then_some(MissingReason::DriverTooOld)
}

/// The GPM figures asked for, in the order of [`put`].
const METRICS: [GpmMetricId; 14] = [
    GpmMetricId::SmUtil,
    GpmMetricId::SmOccupancy,
    GpmMetricId::AnyTensorUtil,
    GpmMetricId::HmmaTensorUtil,
    GpmMetricId::ImmaTensorUtil,
    GpmMetricId::DfmaTensorUtil,
    GpmMetricId::DramBwUtil,
    GpmMetricId::Fp16Util,
    GpmMetricId::Fp32Util,
    GpmMetricId::Fp64Util,
    GpmMetricId::PcieRxPerSec,
    GpmMetricId::PcieTxPerSec,
    GpmMetricId::NvlinkTotalRxPerSec,
    GpmMetricId::NvlinkTotalTxPerSec,
];

/// GPM's rates are MiB per second (`nvml.h`).
const MIB: f64 = 1024.0 * 1024.0;

/// Puts GPM's answers on `a`: percentages as 0..1 (a value outside 0..100 is dropped, never
/// clamped), rates as bytes per second (a negative or non-finite one is dropped); a metric
/// the device does not give stays `None`.
fn put(a: &mut GpuActivity, values: &[Option<f64>]) {
    let v = |k: usize| values.get(k).copied().flatten();
    let share = |k: usize| {
        v(k).filter(|p| (0.0..=100.0).contains(p))
            .map(|p| p / 100.0)
    };
    let rate = |k: usize| {
        v(k).filter(|r| *r >= 0.0 && r.is_finite())
            .map(|r| r * MIB)
            .filter(|r| r.is_finite())
    };
    a.sm = share(0);
    a.sm_occupancy = share(1);
    a.tensor = share(2);
    a.tensor_hmma = share(3);
    a.tensor_imma = share(4);
    a.tensor_dfma = share(5);
    a.dram = share(6);
    a.fp16 = share(7);
    a.fp32 = share(8);
    a.fp64 = share(9);
    a.pcie_rx = rate(10);
    a.pcie_tx = rate(11);
    a.nvlink_rx = rate(12);
    a.nvlink_tx = rate(13);
}

/// GPM's last sample of a device: the start of its next window.
struct Previous {
    nvml: Arc<Nvml>,
    handle: nvmlGpmSample_t,
}

// SAFETY: the handle is an opaque driver allocation used by one thread at a time (the state
// that holds it is behind a mutex); nvml-wrapper's own `GpmSample` is `Send` for the same
// reason.
unsafe impl Send for Previous {}

impl Previous {
    /// The sample, lent to `f`: still owned, and freed, by `self`.
    fn with<R>(&self, f: impl FnOnce(&Nvml, &GpmSample<'_>) -> R) -> R {
        // SAFETY: the handle came from `GpmSample::into_handle` of a sample of this same
        // `Nvml`, and only `Drop` below frees it; `ManuallyDrop` keeps this view from
        // freeing it too.
        let sample = ManuallyDrop::new(unsafe { GpmSample::from_handle(&self.nvml, self.handle) });
        f(&self.nvml, &sample)
    }
}

impl Drop for Previous {
    fn drop(&mut self) {
        // SAFETY: as in `with`: the handle is this `Nvml`'s and freed here only, once.
        let sample = unsafe { GpmSample::from_handle(&self.nvml, self.handle) };
        crate::sampler::in_flight::call("nvmlGpmSampleFree", None, move || drop(sample));
    }
}

/// One device's state between activity reads: only the sampler thread touches it.
#[derive(Default)]
pub(crate) struct ActivityState {
    /// GPM's sample of the last read (taken then, so its window is the read's).
    gpm: Option<Previous>,
    /// The newest per-process sample seen (the driver's microseconds since the epoch).
    last_seen: Option<u64>,
    /// When the last read was made, and after which pass: the next window starts there.
    last_read: Option<(Instant, u64)>,
}

/// What an activity read needs beside the device.
#[derive(Clone)]
pub(crate) struct ActivityContext {
    pub(crate) nvml: Arc<Nvml>,
    pub(crate) state: Arc<Mutex<ActivityState>>,
    pub(crate) gpm: GpmSupport,
    pub(crate) pid: u32,
    pub(crate) pid_namespace: PidNamespace,
    /// The pass this read follows (its `seq`): a window that starts here began after it.
    pub(crate) after_pass: u64,
}

/// One activity read of `device` into `reader`'s sample: every figure a mean over one
/// window, from the last read to this one. `false` when the last read is too recent for a
/// window (GPM reads 0 under `MIN_WINDOW`): then nothing is read, and the last read stands.
pub(super) fn read(
    device: &Device<'_>,
    cx: &ActivityContext,
    reader: &mut FieldReader<'_>,
) -> bool {
    let mut state = lock(&cx.state);
    let now = Instant::now();
    if state
        .last_read
        .is_some_and(|(at, _)| now.saturating_duration_since(at) < MIN_WINDOW)
    {
        return false;
    }
    let mut a = GpuActivity::default();
    // The device must be this NVML's: the GPM handle and the raw call below assume it.
    let same = std::ptr::eq(device.nvml(), &*cx.nvml);
    match &cx.gpm {
        GpmSupport::No(reason) => reader.missing(GpuField::Gpm, reason.clone()),
        GpmSupport::Yes if same => gpm(device, &cx.nvml, &mut state, &mut a, reader),
        GpmSupport::Yes => reader.missing(GpuField::Gpm, MissingReason::NoSamples),
    }
    if same {
        process(device, cx, &mut state, &mut a, reader);
    }
    let any = a.process_sm.is_some() || a.sm.is_some() || a.tensor.is_some() || a.dram.is_some();
    if let (true, Some((from, after))) = (any, state.last_read) {
        a.window = Some((from, now));
        a.from_pass = Some(after);
    }
    state.last_read = Some((now, cx.after_pass));
    reader.sample.activity = Arc::new(a);
    true
}

/// GPM: a new sample, and the figures between the last read's sample and it. A failed
/// sample drops the last one too, so a window never spans a read that had none.
fn gpm(
    device: &Device<'_>,
    nvml: &Arc<Nvml>,
    state: &mut ActivityState,
    a: &mut GpuActivity,
    reader: &mut FieldReader<'_>,
) {
    let previous = state.gpm.take();
    let sample = match reader.call("nvmlGpmSampleGet", || device.gpm_sample()) {
        Ok(sample) => sample,
        Err(err) => return failed(reader, GpuField::Gpm, err),
    };
    let next = Previous {
        nvml: nvml.clone(),
        handle: sample.into_handle(),
    };
    let Some(previous) = previous.filter(|p| Arc::ptr_eq(&p.nvml, nvml)) else {
        // The first sample only starts the window.
        state.gpm = Some(next);
        reader.missing(GpuField::Gpm, MissingReason::NoSamples);
        return;
    };
    let got = previous.with(|nvml, first| {
        next.with(|_, second| {
            reader.call("nvmlGpmMetricsGet", || {
                gpm_metrics_get(nvml, first, second, &METRICS)
            })
        })
    });
    drop(previous);
    state.gpm = Some(next);
    match got {
        Ok(results) => {
            let values: Vec<Option<f64>> = results
                .iter()
                .map(|r| r.as_ref().ok().map(|m| m.value))
                .collect();
            put(a, &values);
            if values.iter().all(Option::is_none) {
                reader.missing(GpuField::Gpm, MissingReason::NotSupported);
            }
        }
        Err(err) => failed(reader, GpuField::Gpm, err),
    }
}

/// The wall clock in microseconds, as the driver stamps its per-process samples ("CPU
/// timestamp in microseconds", `nvml.h`).
fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// How far past this process's wall clock a per-process sample may be stamped and still
/// count, microseconds. The driver stamps its samples with the same clock, so a sample
/// stamped later than this was stamped before a step of the clock back (NTP, a VM resume),
/// or is wrong: it counts in no window (it would hide every sample until the clock reaches
/// it), and a mark that far ahead restarts the window.
const STAMP_SLACK_US: u64 = 100_000;

/// Where the next window of per-process samples starts: the newest sample seen, `mark`,
/// unless it lies further ahead of the wall clock `now` than [`STAMP_SLACK_US`] (the clock
/// stepped back since), or there is none yet: then `None`, and the window starts now.
fn window_start(mark: Option<u64>, now: u64) -> Option<u64> {
    mark.filter(|m| *m <= now.saturating_add(STAMP_SLACK_US))
}

/// The newest stamp among `stamps` that counts (none later than `until`), or `mark`: the
/// next window's start. Never later than `until` when `mark` is not.
fn next_mark(mark: u64, stamps: impl Iterator<Item = u64>, until: u64) -> u64 {
    stamps.filter(|t| *t <= until).fold(mark, u64::max)
}

/// Samples room is made for in the first call: one per process per driver sample period.
const SAMPLES: u32 = 64;

/// The most per-process samples read in one call (24 bytes each): a driver that claims
/// more gives no share, and nothing is allocated from its count.
const MAX_SAMPLES: u32 = 16384;

/// Why the per-process samples gave nothing.
enum Sampled {
    Failed(NvmlError),
    /// The driver says it holds more than [`MAX_SAMPLES`].
    TooMany(u32),
}

/// The driver's per-process samples newer than `last_seen`, in one call where they fit
/// (nvml-wrapper's `process_utilization_stats` asks for the count first, and each call costs
/// 2.1 ms on an H200), else a second with the count the driver gave, never more than
/// [`MAX_SAMPLES`].
fn process_samples(
    device: &Device<'_>,
    nvml: &Nvml,
    last_seen: u64,
) -> Result<Vec<nvmlProcessUtilizationSample_t>, Sampled> {
    let call =
        nvml_sym(nvml.lib().nvmlDeviceGetProcessUtilization.as_ref()).map_err(Sampled::Failed)?;
    debug_assert!(std::ptr::eq(device.nvml(), nvml));
    let empty = nvmlProcessUtilizationSample_t {
        pid: 0,
        timeStamp: 0,
        smUtil: 0,
        memUtil: 0,
        encUtil: 0,
        decUtil: 0,
    };
    let mut room = SAMPLES;
    for _ in 0..2 {
        let mut samples = vec![empty; room as usize];
        let mut count = room;
        // SAFETY: the device handle is this NVML instance's and alive while `device` is;
        // `samples` has room for `count` entries, all the driver may write.
        let code = unsafe { call(device.handle(), samples.as_mut_ptr(), &mut count, last_seen) };
        if code == nvmlReturn_enum_NVML_ERROR_INSUFFICIENT_SIZE {
            if count > MAX_SAMPLES {
                return Err(Sampled::TooMany(count));
            }
            room = count.max(room);
            continue;
        }
        nvml_try(code).map_err(Sampled::Failed)?;
        samples.truncate(count as usize);
        return Ok(samples);
    }
    Err(Sampled::Failed(NvmlError::InsufficientSize(None)))
}

/// This process's share: the driver's samples since the last seen. The first read only
/// marks where the next one starts, and so does a read after the wall clock stepped back
/// past the last sample seen (the samples since cannot be told from those before).
fn process(
    device: &Device<'_>,
    cx: &ActivityContext,
    state: &mut ActivityState,
    a: &mut GpuActivity,
    reader: &mut FieldReader<'_>,
) {
    let before = now_us();
    let Some(last_seen) = window_start(state.last_seen, before) else {
        state.last_seen = Some(before);
        reader.missing(GpuField::ProcessUtilization, MissingReason::NoSamples);
        return;
    };
    let got = reader
        .call("nvmlDeviceGetProcessUtilization", || {
            Ok(process_samples(device, &cx.nvml, last_seen))
        })
        .unwrap_or_else(|err| Err(Sampled::Failed(err)));
    let samples = match got {
        Ok(samples) => samples,
        // No process ran since the last read.
        Err(Sampled::Failed(NvmlError::NotFound)) => {
            reader.missing(GpuField::ProcessUtilization, MissingReason::NoSamples);
            return;
        }
        Err(err) => {
            // The samples until now would land in the next window: leave them out.
            state.last_seen = Some(now_us().max(last_seen));
            return match err {
                Sampled::Failed(err) => failed(reader, GpuField::ProcessUtilization, err),
                Sampled::TooMany(count) => super::devices::implausible(
                    reader,
                    GpuField::ProcessUtilization,
                    format!(
                        "the driver holds {count} per-process samples, more than the \
                         {MAX_SAMPLES} read"
                    ),
                ),
            };
        }
    };
    // Samples stamped past the wall clock now count in no window.
    let until = now_us().saturating_add(STAMP_SLACK_US);
    // Carried forward: no sample is read twice.
    state.last_seen = Some(next_mark(
        last_seen,
        samples.iter().map(|s| s.timeStamp),
        until,
    ));
    let samples: Vec<Sample> = samples
        .iter()
        .map(|s| Sample {
            pid: s.pid,
            sm: s.smUtil,
            memory: s.memUtil,
            at: s.timeStamp,
        })
        .collect();
    match share(
        &samples,
        until,
        cx.pid,
        cx.pid_namespace,
        pid_namespace::visible,
    ) {
        Share::Of { sm, memory } => {
            a.process_sm = Some(sm);
            a.process_memory_busy = Some(memory);
        }
        Share::NoSamples => reader.missing(GpuField::ProcessUtilization, MissingReason::NoSamples),
        Share::Namespace => {
            reader.missing(GpuField::ProcessUtilization, MissingReason::PidNamespace)
        }
    }
}

#[cfg(test)]
#[path = "activity_tests.rs"]
mod tests;
