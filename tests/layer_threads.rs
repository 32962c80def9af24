//! Spans that move between threads (by hand and under a multi-threaded tokio runtime) and
//! nested spans each get their own figures.
#![cfg(target_os = "linux")]

mod common;

use common::burn_cpu;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::otel::{float, resmon_keys, traced, traced_activating};
use otel_resmon::{ResourceLayer, Sampler};
use tracing::Instrument;

fn sampler() -> Sampler {
    Sampler::builder()
        .ignore_env(true)
        .gpu(false)
        .interval(Duration::from_millis(20))
        .build()
        .unwrap()
}

#[test]
fn a_span_entered_on_two_threads_sums_both() {
    let s = sampler();
    let t = traced(ResourceLayer::builder(&s).span_cpu_time(true));
    t.run(|| {
        let span = tracing::info_span!("moving");
        let there = span.clone();
        std::thread::spawn(move || {
            let _e = there.enter();
            burn_cpu(0.1);
        })
        .join()
        .unwrap();
        let _e = span.enter();
        burn_cpu(0.1);
    });
    let cpu = float(&t.span("moving"), "resmon.span.cpu.time");
    assert!(
        (0.19..0.3).contains(&cpu),
        "CPU over two threads: {cpu:.3} s"
    );
}

#[test]
fn a_span_entered_on_two_threads_at_once_counts_both() {
    let s = sampler();
    let t = traced(ResourceLayer::builder(&s).span_cpu_time(true));
    t.run(|| {
        let span = tracing::info_span!("shared");
        let barrier = std::sync::Barrier::new(2);
        std::thread::scope(|scope| {
            for _ in 0..2 {
                let (span, barrier) = (span.clone(), &barrier);
                scope.spawn(move || {
                    barrier.wait();
                    let _e = span.enter();
                    // Re-entering on the same thread is not counted twice.
                    let _again = span.enter();
                    burn_cpu(0.1);
                });
            }
        });
    });
    let cpu = float(&t.span("shared"), "resmon.span.cpu.time");
    assert!(
        (0.19..0.3).contains(&cpu),
        "two threads inside at once: {cpu:.3} s"
    );
}

#[test]
fn tasks_on_a_multi_threaded_runtime_get_their_own_figures() {
    let s = sampler();
    let t = traced(ResourceLayer::builder(&s).span_cpu_time(true));
    let dispatch = t.dispatch.clone();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .on_thread_start(move || {
            // Each worker keeps this subscriber as its default for its whole life.
            std::mem::forget(tracing::dispatcher::set_default(&dispatch));
        })
        .build()
        .unwrap();
    // Three busy tasks on two workers, yielding often, so work stealing moves them around.
    let threads: Arc<Mutex<Vec<HashSet<std::thread::ThreadId>>>> =
        Arc::new(Mutex::new(vec![HashSet::new(); 3]));
    let seen = threads.clone();
    t.run(|| {
        rt.block_on(async move {
            let mut tasks = Vec::new();
            for task in 0..3 {
                let seen = seen.clone();
                tasks.push(tokio::spawn(
                    async move {
                        for i in 0..2 {
                            async {
                                for _ in 0..3 {
                                    let id = std::thread::current().id();
                                    seen.lock().unwrap()[task].insert(id);
                                    burn_cpu(0.03);
                                    tokio::task::yield_now().await;
                                }
                            }
                            .instrument(tracing::info_span!("child", task, i))
                            .await;
                        }
                    }
                    .instrument(tracing::info_span!("busy_task", task)),
                ));
            }
            tasks.push(tokio::spawn(
                async {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                .instrument(tracing::info_span!("idle_task")),
            ));
            for task in tasks {
                task.await.unwrap();
            }
        })
    });
    drop(rt);

    let spans = t.spans();
    assert_eq!(spans.len(), 10, "every span exported once");
    assert!(spans.iter().all(|s| !resmon_keys(s).is_empty()));
    let cpu_of = |name: &str| -> Vec<f64> {
        spans
            .iter()
            .filter(|s| s.name == name)
            .map(|s| float(s, "resmon.span.cpu.time"))
            .collect()
    };
    let (busy, children, idle) = (cpu_of("busy_task"), cpu_of("child"), cpu_of("idle_task"));
    let moved = threads
        .lock()
        .unwrap()
        .iter()
        .filter(|t| t.len() > 1)
        .count();
    println!(
        "busy {busy:?}, children {children:?}, idle {idle:?}, {moved} of 3 tasks moved threads"
    );
    for b in &busy {
        assert!(
            (0.17..0.4).contains(b),
            "busy task: {b:.3} s of 0.18 s burned"
        );
    }
    assert!(idle[0] < 0.05, "idle task: {:.3} s", idle[0]);
    for c in &children {
        assert!((0.085..0.2).contains(c), "child: {c:.3} s of 0.09 s burned");
    }
    // A child runs inside its parent's poll: the parent's time includes its children's.
    assert!(busy.iter().sum::<f64>() + 3e-3 >= children.iter().sum::<f64>());
}

/// A second thread that runs what it is given, one call at a time, while the caller waits: the
/// other end of a span that moves between threads.
struct Other {
    jobs: Option<std::sync::mpsc::Sender<Box<dyn FnOnce() + Send>>>,
    done: std::sync::mpsc::Receiver<()>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Other {
    fn start() -> Self {
        let (jobs, todo) = std::sync::mpsc::channel::<Box<dyn FnOnce() + Send>>();
        let (finished, done) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            for job in todo {
                job();
                if finished.send(()).is_err() {
                    return;
                }
            }
        });
        Self {
            jobs: Some(jobs),
            done,
            thread: Some(thread),
        }
    }

    fn run(&self, job: impl FnOnce() + Send + 'static) {
        self.jobs.as_ref().unwrap().send(Box::new(job)).unwrap();
        self.done.recv().unwrap();
    }
}

impl Drop for Other {
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Enters of spans that another thread exits (a guard held across an `.await` whose task then
/// runs on another worker, or `Dispatch::exit` by hand) are not kept for ever on the thread that
/// entered them, and that thread's later spans are measured as usual.
#[test]
fn enters_exited_on_another_thread_are_not_kept() {
    let s = sampler();
    let t = traced_activating(ResourceLayer::builder(&s).span_cpu_time(true), false);
    let other = Other::start();
    t.run(|| {
        for _ in 0..1000 {
            let span = tracing::info_span!("moved");
            let id = span.id().unwrap();
            t.dispatch.enter(&id);
            let dispatch = t.dispatch.clone();
            other.run(move || dispatch.exit(&id));
        }
    });
    let kept = otel_resmon::layer::entered_on_this_thread();
    assert!(
        kept <= 64,
        "this thread keeps {kept} enters of spans exited elsewhere (at most 64)"
    );
    t.run(|| {
        let _e = tracing::info_span!("after").entered();
        burn_cpu(0.05);
    });
    let cpu = float(&t.span("after"), "resmon.span.cpu.time");
    assert!((0.045..0.1).contains(&cpu), "a later span: {cpu:.3} s");
    assert_eq!(otel_resmon::layer::entered_on_this_thread(), kept);
}

/// A span exited on another thread, then entered again on its first thread, is measured there:
/// the enter left behind does not make the new one look nested.
#[test]
fn a_span_exited_elsewhere_is_measured_when_entered_again() {
    let s = sampler();
    let t = traced_activating(ResourceLayer::builder(&s).span_cpu_time(true), false);
    let other = Other::start();
    t.run(|| {
        let span = tracing::info_span!("back");
        let id = span.id().unwrap();
        t.dispatch.enter(&id);
        let (dispatch, moved) = (t.dispatch.clone(), id.clone());
        other.run(move || dispatch.exit(&moved));
        t.dispatch.enter(&id);
        burn_cpu(0.1);
        t.dispatch.exit(&id);
    });
    let cpu = float(&t.span("back"), "resmon.span.cpu.time");
    assert!(
        (0.095..0.2).contains(&cpu),
        "0.1 s burned inside the second enter, {cpu:.3} s counted"
    );
}

/// An enter whose exit happened on another thread does not later charge the span for what its
/// thread did in between: here thread A enters, B exits, A works 0.2 s for something else, B
/// enters again and A exits.
#[test]
fn a_stray_exit_does_not_charge_the_span_for_other_work() {
    let s = sampler();
    let t = traced_activating(ResourceLayer::builder(&s).span_cpu_time(true), false);
    let other = Other::start();
    t.run(|| {
        let span = tracing::info_span!("ping_pong");
        let id = span.id().unwrap();
        t.dispatch.enter(&id);
        let (dispatch, moved) = (t.dispatch.clone(), id.clone());
        other.run(move || dispatch.exit(&moved));
        burn_cpu(0.2);
        let (dispatch, moved) = (t.dispatch.clone(), id.clone());
        other.run(move || dispatch.enter(&moved));
        t.dispatch.exit(&id);
    });
    let cpu = float(&t.span("ping_pong"), "resmon.span.cpu.time");
    assert!(
        cpu < 0.05,
        "the span was charged {cpu:.3} s of its first thread's other work"
    );
}
