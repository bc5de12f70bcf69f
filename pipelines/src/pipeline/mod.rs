//! Pipelines: a TOML config naming sources, transforms and sinks and the
//! edges between them ([`config`] has the format), checked into a
//! [`Topology`] and run in one process.
//!
//! # How it runs
//!
//! One OS thread per stage, bounded queues between them ([`edges`]). Stages
//! are synchronous (`trawl_core::{Source, Transform, Sink}`): a thread each
//! lets a slow sink, a CPU-heavy decoder and a transform use separate cores
//! without a scheduler in between, and a full queue simply blocks the
//! producer's thread: that is the backpressure, all the way back to the
//! source, which then stops reading its input. Async sources (the live
//! relay client) implement [`AsyncSource`] and run on a single-threaded
//! tokio runtime on their own thread, where a shutdown cancels the pending
//! read at once; an async sink or transform would do the same.
//!
//! A tokio multi-thread runtime with every sync stage in `spawn_blocking`
//! would do the same work with more machinery; threads keep each stage's
//! stack readable and its blocking visible in the counters ([`metrics`]).
//!
//! # Shutdown
//!
//! SIGINT/SIGTERM ([`Shutdown::on_signals`]) or a failing stage stops the
//! sources; every queue is drained, every transform and sink flushed, and
//! `trawl run` exits 0: nothing a source emitted is lost.
//!
//! ```
//! use trawl_pipelines::pipeline::Topology;
//!
//! let config = r#"
//! [sources.traces]
//! type = "lttng"
//! paths = ["traces"]
//!
//! [sinks.out]
//! type = "null"
//! inputs = ["traces"]
//! "#;
//! let topology = Topology::parse("p.toml", config, ".".into()).unwrap();
//! assert!(topology.summary().ends_with("  sinks.out (null) <- traces\n"));
//!
//! let wrong = config.replace(r#"["traces"]"#, r#"["trace"]"#);
//! let errors = Topology::parse("p.toml", &wrong, ".".into()).unwrap_err();
//! assert_eq!(
//!     errors.to_string(),
//!     "p.toml:2:10: sources.traces: no stage reads its output (name it in some stage's `inputs`)\n\
//!      p.toml:8:11: sinks.out.inputs[0]: no stage named \"trace\"",
//! );
//! ```

pub mod config;
mod edges;
mod error;
pub mod metrics;
mod registry;
mod runner;
mod topology;

pub use config::{RunnerConfig, Section};
pub use error::{ConfigError, ConfigErrorKind, ConfigErrors, RunError};
pub use registry::{BuildContext, BuildError, StageFactory};
pub use runner::{
    AsyncSource, CLOSE_TIMEOUT, LocalBoxFuture, RunReport, Shutdown, SignalGuard, SourceStage,
    Stage,
};
pub use topology::Topology;
