//! The stage contract (DESIGN.md §3).
//!
//! Transforms are synchronous and push-based: no I/O inside, easy to test.
//! Sources and sinks own their I/O; their async runners live with the pipeline
//! runner, and these traits are what a runner drives.

use crate::{Message, Result};

/// Produces messages. `next` returns `Ok(None)` at the end of a finite input.
pub trait Source {
    /// The next message, or `None` when the input is exhausted.
    fn next_message(&mut self) -> Result<Option<Message>>;
}

/// Maps messages to messages; may hold bounded state.
pub trait Transform {
    /// Handle one message, pushing any output to `out`.
    fn process(&mut self, msg: Message, out: &mut Vec<Message>) -> Result<()>;
    /// Emit whatever state is held (end of input or shutdown).
    fn flush(&mut self, out: &mut Vec<Message>) -> Result<()>;
}

/// Consumes messages.
pub trait Sink {
    /// Take one message.
    fn consume(&mut self, msg: Message) -> Result<()>;
    /// Make everything consumed so far durable.
    fn flush(&mut self) -> Result<()>;
}
