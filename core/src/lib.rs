//! trawl's contracts: what crosses a stage boundary and how stages behave.
//!
//! Everything a stage emits is a [`Message`] (DESIGN.md §2): a batch of events
//! of one event class from one trace, a [`Watermark`], a [`Loss`], or a batch of
//! container records. Stages are [`Source`]s, [`Transform`]s or [`Sink`]s
//! (DESIGN.md §3). This crate does no I/O and holds no concrete stage.
//!
//! ```
//! use trawl_core::{envelope, Message, Watermark};
//!
//! let schema = envelope::schema(vec![]);
//! assert_eq!(schema.field(0).name(), envelope::TS);
//! let msg = Message::Watermark(Watermark { host: "h".into(), domain: "ust".into(), ts: 10 });
//! assert_eq!(msg.kind(), "watermark");
//! ```

pub mod containers;
pub mod envelope;
mod error;
mod message;
mod stage;

pub use error::{Error, Result};
pub use message::{Containers, EventBatch, Loss, Message, Watermark};
pub use stage::{Sink, Source, Transform};
