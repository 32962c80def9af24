//! Instructions one sampler pass (`sample_now()`) costs, counted by valgrind's callgrind over
//! the whole program and every thread (a gate that holds on a noisy machine, and that still
//! counts the pass when it runs on the sampler's own threads rather than the caller's).
//! `scripts/pass-instructions.sh` runs this binary under callgrind at two pass counts and
//! divides the difference by the extra passes, so start-up and shutdown cancel out; run
//! alone it just makes the passes.
//!
//! Usage: `pass_instructions <gpus> <passes> h200|plain`: a sampler on `<gpus>` fake H200s
//! (`fake_nvml::h200s`: every figure, GPM, this process on each GPU), with the fake at an
//! H200's measured call costs (`h200`) or at none (`plain`: the same devices and figures),
//! then `<passes>` calls of `sample_now()`.
//!
//! The fake spends an H200's cost by spinning on the clock, so under callgrind (tens of times
//! slower) the `h200` count includes a spin whose length in instructions depends on how fast
//! valgrind runs (about 3 % of the count with 1 GPU and 17 % with 8, measured on 2 cores):
//! `plain` is the count of the pass's own work. The XID watcher is off in both
//! (`gpu.<i>.events=0`): it polls on a timer, which would add instructions by wall time.

#[cfg(all(feature = "nvml", target_os = "linux"))]
#[path = "../tests/common/fake_nvml.rs"]
mod fake_nvml;

fn main() {
    #[cfg(all(feature = "nvml", target_os = "linux"))]
    {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let parsed = (|| {
            let gpus: usize = args.first()?.parse().ok()?;
            let passes: u32 = args.get(1)?.parse().ok()?;
            let preset = args.get(2).map(String::as_str).unwrap_or("h200");
            matches!(preset, "h200" | "plain").then(|| (gpus, passes, preset.to_owned()))
        })();
        match parsed {
            Some((gpus, passes, preset)) => run(gpus, passes, &preset),
            // `cargo bench` (criterion's flags, `--test`): a few passes of each kind.
            None => {
                for preset in ["h200", "plain"] {
                    for gpus in [1, 8] {
                        run(gpus, 3, preset);
                    }
                }
            }
        }
    }
}

#[cfg(all(feature = "nvml", target_os = "linux"))]
fn run(gpus: usize, passes: u32, preset: &str) {
    use std::time::Duration;
    assert!((1..=8).contains(&gpus), "1 to 8 fake H200s");
    let mut config: String = fake_nvml::h200s(gpus)
        .lines()
        .filter(|l| preset == "h200" || !l.starts_with("cost."))
        .map(|l| format!("{l}\n"))
        .collect();
    for i in 0..gpus {
        config.push_str(&format!("gpu.{i}.events=0\n"));
    }
    let fake = fake_nvml::FakeNvml::new(&config);
    // The thread sleeps through the run: every pass counted is an explicit one.
    let sampler = otel_resmon::Sampler::builder()
        .ignore_env(true)
        .nvml_library(fake.library())
        .interval(Duration::from_secs(3600))
        // Under valgrind every call runs some fifty times slower: no bound may cut a read
        // short, or a pass would carry figures instead of reading them and count less.
        .start_timeout(Duration::from_secs(600))
        .driver_deadline(Duration::from_secs(10))
        .on_warning(|_| {})
        .build()
        .expect("sampler");
    assert_eq!(
        sampler.latest().gpus.len(),
        gpus,
        "the fake's GPUs are visible"
    );
    for _ in 0..passes {
        let snapshot = std::hint::black_box(sampler.sample_now());
        assert!(
            snapshot
                .gpus
                .iter()
                .all(|g| g.is_fresh(otel_resmon::GpuTier::Fast)),
            "every pass read every GPU's fast tier"
        );
    }
    assert_eq!(
        sampler.latest().gpus.len(),
        gpus,
        "the last pass read every GPU"
    );
}
