//! Runs a topology: one thread per stage, bounded queues between them
//! ([`super::edges`]), a reporter thread for the counters, and a shutdown
//! that drains instead of dropping.
//!
//! Shutdown ([`Shutdown::trigger`], on SIGINT/SIGTERM or when a stage
//! fails): sources stop producing (a blocking source between two messages,
//! an async source at once: its pending `next_message` is dropped, then
//! `close` runs), and end their output. Every other stage keeps reading
//! until all its producers have ended and its queue is empty, flushes, and
//! ends its own output in turn. So every message a source emitted reaches
//! the sinks, and every sink is flushed.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use trawl_core::{Message, Sink, Source, Transform};

use super::config::RunnerConfig;
use super::edges::{Input, Output, queue};
use super::error::RunError;
use super::metrics::{Snapshot, StageMetrics};

/// How long an async source's `close` may take at shutdown.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// A future an async source returns; it runs on the source's own thread,
/// so it need not be `Send`.
pub type LocalBoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// A source whose I/O is async (a network client). It runs on a tokio
/// runtime of its own thread; at shutdown its pending `next_message` future
/// is dropped, so that future must be cancel-safe in the sense that
/// dropping it loses nothing already returned, then `close` runs.
///
/// A type with inherent `async fn next_message(&mut self)` and
/// `async fn close(self)` plugs in with (as `stages/lttng_live.rs` does):
///
/// ```text
/// impl AsyncSource for LiveSource {
///     fn next_message(&mut self) -> LocalBoxFuture<'_, trawl_core::Result<Option<Message>>> {
///         Box::pin(LiveSource::next_message(self))
///     }
///     fn close(self: Box<Self>) -> LocalBoxFuture<'static, ()> {
///         Box::pin(LiveSource::close(*self))
///     }
/// }
/// ```
pub trait AsyncSource: Send {
    /// The next message, or `None` at the end of the input.
    fn next_message(&mut self) -> LocalBoxFuture<'_, trawl_core::Result<Option<Message>>>;
    /// Releases the source's resources (say goodbye to the server).
    fn close(self: Box<Self>) -> LocalBoxFuture<'static, ()>;
}

/// A built source.
pub enum SourceStage {
    /// A source whose `next_message` blocks its thread; the shutdown is
    /// seen between two messages.
    Blocking(Box<dyn Source + Send>),
    /// An async source, cancelled at shutdown.
    Async(Box<dyn AsyncSource>),
}

/// A built stage, ready to run on its thread.
pub enum Stage {
    /// Produces messages.
    Source(SourceStage),
    /// Maps messages.
    Transform(Box<dyn Transform + Send>),
    /// Consumes messages.
    Sink(Box<dyn Sink + Send>),
}

/// Asks a running pipeline to stop its sources and drain. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Shutdown {
    flag: Arc<AtomicBool>,
    wake: Arc<watch::Sender<bool>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown {
            flag: Arc::new(AtomicBool::new(false)),
            wake: Arc::new(watch::Sender::new(false)),
        }
    }
}

impl Shutdown {
    /// A shutdown not yet triggered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stops the sources; the rest of the pipeline drains and flushes.
    pub fn trigger(&self) {
        self.flag.store(true, Ordering::SeqCst);
        self.wake.send_replace(true);
    }

    /// Whether [`Self::trigger`] was called.
    pub fn is_triggered(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// Triggers on the first SIGINT or SIGTERM; a second one exits at once
    /// (status 130). The handlers stay until the returned guard is dropped.
    pub fn on_signals(&self) -> Result<SignalGuard, RunError> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let os = |source| RunError::Os {
            context: "installing the SIGINT/SIGTERM handlers",
            source,
        };
        let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]).map_err(os)?;
        let handle = signals.handle();
        let shutdown = self.clone();
        let thread = std::thread::Builder::new()
            .name("trawl:signals".into())
            .spawn(move || {
                for signal in signals.forever() {
                    let name = if signal == SIGINT {
                        "SIGINT"
                    } else {
                        "SIGTERM"
                    };
                    if shutdown.is_triggered() {
                        eprintln!("trawl: {name} again: exiting without draining");
                        std::process::exit(130);
                    }
                    eprintln!("trawl: {name}: stopping the sources, draining the pipeline");
                    shutdown.trigger();
                }
            })
            .map_err(os)?;
        Ok(SignalGuard {
            handle,
            thread: Some(thread),
        })
    }
}

/// Keeps the signal handlers of [`Shutdown::on_signals`] installed.
#[derive(Debug)]
pub struct SignalGuard {
    handle: signal_hook::iterator::Handle,
    thread: Option<JoinHandle<()>>,
}

impl Drop for SignalGuard {
    fn drop(&mut self) {
        self.handle.close();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A stage placed in the graph.
pub(crate) struct RunNode {
    pub metrics: Arc<StageMetrics>,
    /// Indices of the stages it reads, all smaller than its own.
    pub inputs: Vec<usize>,
    pub stage: Stage,
}

/// How a run ended.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// Each stage's name and final counters, in topological order.
    pub stages: Vec<(String, Snapshot)>,
    /// Stages that failed, with why (input errors they went on after are in
    /// their counters, not here).
    pub failures: Vec<(String, String)>,
}

impl RunReport {
    /// Whether every stage ran without a failure or an input error.
    pub fn is_clean(&self) -> bool {
        self.failures.is_empty() && self.stages.iter().all(|(_, s)| s.errors == 0)
    }
}

/// Runs `nodes` (in topological order) until the sources end or `shutdown`
/// is triggered and everything is drained.
pub(crate) fn execute(
    nodes: Vec<RunNode>,
    settings: &RunnerConfig,
    shutdown: &Shutdown,
) -> Result<RunReport, RunError> {
    let os = |source| RunError::Os {
        context: "starting a stage thread",
        source,
    };
    let capacity = settings.edge_capacity.get();
    let mut senders = Vec::with_capacity(nodes.len());
    let mut inputs = Vec::with_capacity(nodes.len());
    for node in &nodes {
        let (tx, rx) = queue(capacity);
        senders.push(tx);
        inputs.push((!node.inputs.is_empty()).then_some(rx));
    }
    let mut consumers: Vec<Vec<_>> = nodes.iter().map(|_| Vec::new()).collect();
    for (i, node) in nodes.iter().enumerate() {
        for &j in &node.inputs {
            consumers[j].push(senders[i].clone());
        }
    }
    drop(senders);
    let all_metrics: Vec<_> = nodes.iter().map(|n| n.metrics.clone()).collect();
    let mut threads = Vec::with_capacity(nodes.len());
    for ((node, input), consumers) in nodes.into_iter().zip(inputs).zip(consumers) {
        let metrics = node.metrics.clone();
        let output = Output::new(consumers, metrics.clone());
        let shutdown = shutdown.clone();
        let thread = std::thread::Builder::new()
            .name(format!("trawl:{}", metrics.name()))
            .spawn(move || {
                let result = run_stage(node.stage, input, &output, &metrics, &shutdown);
                if let Err(e) = &result
                    && !matches!(e, trawl_core::Error::Closed)
                {
                    // Stop the sources; what is in flight still drains.
                    shutdown.trigger();
                }
                result
            })
            .map_err(os)?;
        threads.push((thread, node.metrics));
    }
    let reporter =
        start_reporter(all_metrics.clone(), settings.metrics_interval_secs).map_err(os)?;
    let mut failures = Vec::new();
    for (thread, metrics) in threads {
        let why = match thread.join() {
            Ok(Ok(())) => continue,
            // A consequence of a failure downstream, reported there.
            Ok(Err(trawl_core::Error::Closed)) => continue,
            Ok(Err(e)) => e.to_string(),
            Err(_) => "the stage panicked".to_string(),
        };
        metrics.error(&why);
        failures.push((metrics.name().to_string(), why));
    }
    reporter.stop();
    let stages = all_metrics
        .iter()
        .map(|m| {
            eprintln!("{}", m.line("end"));
            (m.name().to_string(), m.snapshot())
        })
        .collect();
    Ok(RunReport { stages, failures })
}

fn run_stage(
    stage: Stage,
    input: Option<Input>,
    output: &Output,
    metrics: &StageMetrics,
    shutdown: &Shutdown,
) -> trawl_core::Result<()> {
    let mut out = Vec::new();
    match stage {
        Stage::Source(SourceStage::Blocking(mut source)) => {
            while !shutdown.is_triggered() {
                match source.next_message()? {
                    Some(msg) => output.send(msg)?,
                    None => break,
                }
            }
        }
        Stage::Source(SourceStage::Async(source)) => run_async_source(source, output, shutdown)?,
        Stage::Transform(mut transform) => {
            for msg in input.into_iter().flatten() {
                metrics.received(&msg);
                transform.process(msg, &mut out)?;
                for msg in out.drain(..) {
                    output.send(msg)?;
                }
            }
            transform.flush(&mut out)?;
            for msg in out.drain(..) {
                output.send(msg)?;
            }
        }
        Stage::Sink(mut sink) => {
            for msg in input.into_iter().flatten() {
                metrics.received(&msg);
                sink.consume(msg)?;
            }
            sink.flush()?;
        }
    }
    Ok(())
}

/// Drives an async source on a single-threaded runtime of this thread. A
/// full edge blocks the thread, runtime included: that is the backpressure
/// (the source stops reading its socket).
fn run_async_source(
    mut source: Box<dyn AsyncSource>,
    output: &Output,
    shutdown: &Shutdown,
) -> trawl_core::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| trawl_core::Error::Io {
            context: "starting an async runtime".into(),
            source,
        })?;
    let mut stop = shutdown.wake.subscribe();
    runtime.block_on(async move {
        let result = loop {
            if *stop.borrow_and_update() {
                break Ok(());
            }
            let next = tokio::select! {
                biased;
                _ = stop.changed() => continue,
                next = source.next_message() => next,
            };
            match next {
                Ok(Some(msg)) => {
                    if let Err(e) = output.send(msg) {
                        break Err(e);
                    }
                }
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, source.close()).await;
        result
    })
}

/// Logs every stage's counters every `interval_secs` (never if 0).
struct Reporter {
    done: std::sync::mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

fn start_reporter(
    metrics: Vec<Arc<StageMetrics>>,
    interval_secs: f64,
) -> std::io::Result<Reporter> {
    let (done, stop) = std::sync::mpsc::channel::<()>();
    let interval = (interval_secs > 0.0).then(|| Duration::from_secs_f64(interval_secs));
    let started = Instant::now();
    let thread = std::thread::Builder::new()
        .name("trawl:metrics".into())
        .spawn(move || {
            while let Some(interval) = interval {
                match stop.recv_timeout(interval) {
                    Err(RecvTimeoutError::Timeout) => {
                        let at = format!("{:.1}s", started.elapsed().as_secs_f64());
                        for m in &metrics {
                            eprintln!("{}", m.line(&at));
                        }
                    }
                    _ => break,
                }
            }
            if interval.is_none() {
                let _ = stop.recv();
            }
        })?;
    Ok(Reporter { done, thread })
}

impl Reporter {
    fn stop(self) {
        drop(self.done);
        let _ = self.thread.join();
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroUsize;
    use std::sync::Mutex;
    use std::sync::atomic::AtomicU64;
    use std::sync::mpsc::{Receiver, Sender, channel};

    use trawl_core::Watermark;

    use super::*;

    fn mark(ts: i64) -> Message {
        Message::Watermark(Watermark {
            host: "h".into(),
            domain: "ust".into(),
            ts,
        })
    }

    fn ts_of(msg: &Message) -> i64 {
        match msg {
            Message::Watermark(w) => w.ts,
            other => panic!("unexpected {}", other.kind()),
        }
    }

    /// Emits watermarks 0, 1, 2, ... until `limit` (or forever), counting.
    struct Counting {
        next: i64,
        limit: Option<i64>,
        produced: Arc<AtomicU64>,
    }

    impl Source for Counting {
        fn next_message(&mut self) -> trawl_core::Result<Option<Message>> {
            if self.limit.is_some_and(|l| self.next >= l) {
                return Ok(None);
            }
            self.next += 1;
            self.produced.fetch_add(1, Ordering::SeqCst);
            Ok(Some(mark(self.next - 1)))
        }
    }

    /// Takes a message only when the test sends a token; reports each one.
    struct Gated {
        tokens: Receiver<()>,
        seen: Sender<i64>,
    }

    impl Sink for Gated {
        fn consume(&mut self, msg: Message) -> trawl_core::Result<()> {
            let _ = self.tokens.recv();
            let _ = self.seen.send(ts_of(&msg));
            Ok(())
        }
        fn flush(&mut self) -> trawl_core::Result<()> {
            let _ = self.seen.send(-1);
            Ok(())
        }
    }

    /// Collects every message.
    struct Collect(Arc<Mutex<Vec<i64>>>);

    impl Sink for Collect {
        fn consume(&mut self, msg: Message) -> trawl_core::Result<()> {
            self.0.lock().unwrap().push(ts_of(&msg));
            Ok(())
        }
        fn flush(&mut self) -> trawl_core::Result<()> {
            Ok(())
        }
    }

    fn node(name: &str, inputs: Vec<usize>, stage: Stage) -> RunNode {
        let source = matches!(stage, Stage::Source(_));
        RunNode {
            metrics: Arc::new(StageMetrics::new(name.into(), source)),
            inputs,
            stage,
        }
    }

    fn settings(capacity: usize) -> RunnerConfig {
        RunnerConfig {
            edge_capacity: NonZeroUsize::new(capacity).unwrap(),
            metrics_interval_secs: 0.0,
        }
    }

    /// A sink that takes nothing holds the endless source back: it has
    /// produced at most the queue plus the message in each thread's hands.
    #[test]
    fn a_full_edge_blocks_the_source_and_shutdown_drains_it() {
        let produced = Arc::new(AtomicU64::new(0));
        let (give, tokens) = channel();
        let (seen_tx, seen) = channel();
        let nodes = vec![
            node(
                "sources.endless",
                vec![],
                Stage::Source(SourceStage::Blocking(Box::new(Counting {
                    next: 0,
                    limit: None,
                    produced: produced.clone(),
                }))),
            ),
            node(
                "sinks.gated",
                vec![0],
                Stage::Sink(Box::new(Gated {
                    tokens,
                    seen: seen_tx,
                })),
            ),
        ];
        let shutdown = Shutdown::new();
        let run = {
            let shutdown = shutdown.clone();
            std::thread::spawn(move || execute(nodes, &settings(4), &shutdown).unwrap())
        };
        // Let the sink take 10 messages, one at a time.
        for want in 0..10 {
            give.send(()).unwrap();
            assert_eq!(seen.recv().unwrap(), want);
        }
        // The sink now waits for a token. Whatever the scheduling, the
        // source can be at most: 10 taken + 1 in the sink's hands + 4 queued
        // + 1 in its own hands ahead.
        while produced.load(Ordering::SeqCst) < 15 {
            std::thread::yield_now();
        }
        assert!(produced.load(Ordering::SeqCst) <= 16);
        shutdown.trigger();
        // Drain: every produced message reaches the sink, in order.
        let mut got = 10;
        loop {
            let _ = give.send(());
            match seen.recv().unwrap() {
                -1 => break,
                ts => {
                    assert_eq!(ts, got);
                    got += 1;
                }
            }
        }
        let report = run.join().unwrap();
        assert_eq!(got as u64, produced.load(Ordering::SeqCst));
        assert!(report.is_clean());
        assert!(report.stages[0].1.stalls >= 1, "{:?}", report.stages[0]);
    }

    /// One source read by two sinks (fan-out) and two sources read by one
    /// sink (fan-in): everything arrives, each source's order kept.
    #[test]
    fn fan_out_and_fan_in_deliver_everything() {
        let source = |limit, offset| {
            Stage::Source(SourceStage::Blocking(Box::new(Counting {
                next: offset,
                limit: Some(offset + limit),
                produced: Arc::new(AtomicU64::new(0)),
            })))
        };
        let (a, b) = (Arc::default(), Arc::default());
        let nodes = vec![
            node("sources.one", vec![], source(100, 0)),
            node("sources.two", vec![], source(50, 1000)),
            node(
                "sinks.a",
                vec![0],
                Stage::Sink(Box::new(Collect(Arc::clone(&a)))),
            ),
            node(
                "sinks.b",
                vec![0, 1],
                Stage::Sink(Box::new(Collect(Arc::clone(&b)))),
            ),
        ];
        let report = execute(nodes, &settings(2), &Shutdown::new()).unwrap();
        assert!(report.is_clean());
        assert_eq!(*a.lock().unwrap(), (0..100).collect::<Vec<_>>());
        let b = b.lock().unwrap();
        let one: Vec<_> = b.iter().copied().filter(|&t| t < 1000).collect();
        let two: Vec<_> = b.iter().copied().filter(|&t| t >= 1000).collect();
        assert_eq!(one, (0..100).collect::<Vec<_>>());
        assert_eq!(two, (1000..1050).collect::<Vec<_>>());
    }

    /// Emits `ready` messages, then waits forever (an idle live session).
    struct Idle {
        ready: i64,
        closed: Arc<AtomicBool>,
    }

    impl AsyncSource for Idle {
        fn next_message(&mut self) -> LocalBoxFuture<'_, trawl_core::Result<Option<Message>>> {
            Box::pin(async move {
                if self.ready == 0 {
                    std::future::pending::<()>().await;
                }
                self.ready -= 1;
                Ok(Some(mark(self.ready)))
            })
        }

        fn close(self: Box<Self>) -> LocalBoxFuture<'static, ()> {
            Box::pin(async move { self.closed.store(true, Ordering::SeqCst) })
        }
    }

    /// An async source blocked on its input is cancelled by the shutdown,
    /// closed, and what it emitted before is delivered.
    #[test]
    fn shutdown_cancels_a_waiting_async_source() {
        let closed = Arc::new(AtomicBool::new(false));
        let got = Arc::new(Mutex::new(Vec::new()));
        let nodes = vec![
            node(
                "sources.live",
                vec![],
                Stage::Source(SourceStage::Async(Box::new(Idle {
                    ready: 3,
                    closed: closed.clone(),
                }))),
            ),
            node(
                "sinks.all",
                vec![0],
                Stage::Sink(Box::new(Collect(got.clone()))),
            ),
        ];
        let shutdown = Shutdown::new();
        let run = {
            let shutdown = shutdown.clone();
            std::thread::spawn(move || execute(nodes, &settings(8), &shutdown).unwrap())
        };
        while got.lock().unwrap().len() < 3 {
            std::thread::yield_now();
        }
        shutdown.trigger();
        let report = run.join().unwrap();
        assert!(closed.load(Ordering::SeqCst));
        assert_eq!(*got.lock().unwrap(), vec![2, 1, 0]);
        assert!(report.is_clean());
    }

    /// A failing sink stops the pipeline and is reported; the run ends.
    #[test]
    fn a_failing_sink_stops_the_sources() {
        struct Broken;
        impl Sink for Broken {
            fn consume(&mut self, _: Message) -> trawl_core::Result<()> {
                Err(trawl_core::Error::BadInput("disk on fire".into()))
            }
            fn flush(&mut self) -> trawl_core::Result<()> {
                Ok(())
            }
        }
        let nodes = vec![
            node(
                "sources.endless",
                vec![],
                Stage::Source(SourceStage::Blocking(Box::new(Counting {
                    next: 0,
                    limit: None,
                    produced: Arc::new(AtomicU64::new(0)),
                }))),
            ),
            node("sinks.broken", vec![0], Stage::Sink(Box::new(Broken))),
        ];
        let report = execute(nodes, &settings(2), &Shutdown::new()).unwrap();
        assert_eq!(
            report.failures,
            vec![("sinks.broken".to_string(), "disk on fire".to_string())]
        );
        assert!(!report.is_clean());
    }
}
