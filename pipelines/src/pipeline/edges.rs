//! In-memory edges: one bounded queue per consuming stage.
//!
//! Every stage that has inputs owns one queue of `edge_capacity` messages;
//! each stage it names in `inputs` holds a sender to it (fan-in: the queue
//! is shared by its producers and ends when the last of them ends). A
//! stage read by several others sends each of them the message (fan-out: a
//! clone for all but the last; Arrow data is shared, not copied). A full
//! queue blocks the sender until the consumer takes a message: memory is
//! bounded and nothing is dropped.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::Instant;

use trawl_core::Message;

use super::metrics::StageMetrics;

/// The receiving end of a stage's queue.
pub(crate) type Input = Receiver<Message>;

/// A stage's queue: the sender its producers clone, and its receiving end.
pub(crate) fn queue(capacity: usize) -> (SyncSender<Message>, Input) {
    sync_channel(capacity)
}

/// Where a stage's messages go: the queues of every stage reading it.
pub(crate) struct Output {
    consumers: Vec<SyncSender<Message>>,
    metrics: Arc<StageMetrics>,
}

impl Output {
    pub(crate) fn new(consumers: Vec<SyncSender<Message>>, metrics: Arc<StageMetrics>) -> Self {
        Output { consumers, metrics }
    }

    /// Delivers `msg` to every consumer, waiting while a queue is full.
    /// Fails with [`trawl_core::Error::Closed`] when a consumer has gone
    /// away (it failed).
    pub(crate) fn send(&self, msg: Message) -> trawl_core::Result<()> {
        let Some((last, rest)) = self.consumers.split_last() else {
            return Ok(());
        };
        for tx in rest {
            self.send_one(tx, msg.clone())?;
        }
        self.metrics.sent(&msg);
        self.send_one(last, msg)
    }

    fn send_one(&self, tx: &SyncSender<Message>, msg: Message) -> trawl_core::Result<()> {
        match tx.try_send(msg) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(msg)) => {
                // Counted before waiting: a stage blocked for good shows it.
                self.metrics.stalled();
                let waiting = Instant::now();
                let sent = tx.send(msg).map_err(|_| trawl_core::Error::Closed);
                self.metrics.blocked(waiting.elapsed());
                sent
            }
            Err(TrySendError::Disconnected(_)) => Err(trawl_core::Error::Closed),
        }
    }
}
