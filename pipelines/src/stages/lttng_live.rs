//! `type = "lttng-live"`: sessions of LTTng relay daemons, read while they
//! are recorded (`trawl_source_lttng::live`).

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use trawl_core::Message;
use trawl_source_lttng::live::{
    DEFAULT_POLL_INTERVAL, DEFAULT_RECONNECT_MAX, DEFAULT_RECONNECT_MIN, LiveSource,
    LiveSourceBuilder, LiveUrl, Seek, SessionNotFoundAction,
};

use super::lttng::DEFAULT_BATCH_ROWS;
use crate::pipeline::metrics::StageMetrics;
use crate::pipeline::{
    AsyncSource, BuildContext, BuildError, LocalBoxFuture, SourceStage, Stage, StageFactory,
};

/// Options of an `lttng-live` source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LttngLiveSourceConfig {
    /// Live sessions, `net://RELAY[:PORT]/host/HOSTNAME/SESSION` (the relay
    /// daemon's viewer port is 5344 by default). Several relays and
    /// sessions make one source. Required.
    pub urls: Vec<String>,
    /// Where to start in sessions that already run: `"last"` (only what is
    /// recorded from now on, babeltrace2's choice; the default) or
    /// `"beginning"` (everything the relay still has).
    #[serde(default)]
    pub seek: SeekConfig,
    /// When a session does not exist (yet): `"continue"` (wait for it; the
    /// default), `"fail"` (stop the pipeline with an error) or `"end"`.
    #[serde(default)]
    pub session_not_found: NotFoundConfig,
    /// Milliseconds to wait after a round in which the relay had nothing
    /// new (default [`DEFAULT_POLL_INTERVAL`], 100). Events wait for about
    /// the session's live timer plus this.
    #[serde(default = "default_poll_ms")]
    pub poll_interval_ms: u64,
    /// Rows held per relay before they leave even mid-round (default
    /// [`DEFAULT_BATCH_ROWS`]).
    #[serde(default = "default_batch_rows")]
    pub batch_rows: NonZeroUsize,
    /// First wait before reconnecting to a relay that went away, in ms
    /// (default [`DEFAULT_RECONNECT_MIN`], 100); doubles up to
    /// `reconnect_max_ms` (default [`DEFAULT_RECONNECT_MAX`], 5000).
    #[serde(default = "default_reconnect_min_ms")]
    pub reconnect_min_ms: u64,
    /// Longest wait between reconnection attempts, in ms.
    #[serde(default = "default_reconnect_max_ms")]
    pub reconnect_max_ms: u64,
}

/// `seek` of an `lttng-live` source.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SeekConfig {
    /// Everything the relay still has.
    Beginning,
    /// Only what is recorded from now on.
    #[default]
    Last,
}

/// `session_not_found` of an `lttng-live` source.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NotFoundConfig {
    /// Wait for the session.
    #[default]
    Continue,
    /// Stop with an error.
    Fail,
    /// End this source.
    End,
}

fn default_poll_ms() -> u64 {
    DEFAULT_POLL_INTERVAL.as_millis() as u64
}

fn default_batch_rows() -> NonZeroUsize {
    NonZeroUsize::new(DEFAULT_BATCH_ROWS).unwrap_or(NonZeroUsize::MIN)
}

fn default_reconnect_min_ms() -> u64 {
    DEFAULT_RECONNECT_MIN.as_millis() as u64
}

fn default_reconnect_max_ms() -> u64 {
    DEFAULT_RECONNECT_MAX.as_millis() as u64
}

impl LttngLiveSourceConfig {
    fn builder(&self) -> Result<LiveSourceBuilder, BuildError> {
        let urls = self
            .urls
            .iter()
            .map(|u| LiveUrl::parse(u))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(LiveSourceBuilder::new(urls)
            .seek(match self.seek {
                SeekConfig::Beginning => Seek::Beginning,
                SeekConfig::Last => Seek::Last,
            })
            .session_not_found(match self.session_not_found {
                NotFoundConfig::Continue => SessionNotFoundAction::Continue,
                NotFoundConfig::Fail => SessionNotFoundAction::Fail,
                NotFoundConfig::End => SessionNotFoundAction::End,
            })
            .poll_interval(Duration::from_millis(self.poll_interval_ms))
            .batch_rows(self.batch_rows.get())
            .reconnect_backoff(
                Duration::from_millis(self.reconnect_min_ms),
                Duration::from_millis(self.reconnect_max_ms),
            ))
    }
}

impl StageFactory for LttngLiveSourceConfig {
    fn check(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        if self.urls.is_empty() {
            problems.push(("urls".into(), "at least one URL is needed".into()));
        }
        for (i, url) in self.urls.iter().enumerate() {
            if let Err(e) = LiveUrl::parse(url) {
                problems.push((format!("urls[{i}]"), e.to_string()));
            }
        }
        if self.reconnect_min_ms == 0 || self.reconnect_max_ms < self.reconnect_min_ms {
            problems.push((
                "reconnect_min_ms".into(),
                "must be > 0 and at most reconnect_max_ms".into(),
            ));
        }
        problems
    }

    fn build(&self, ctx: &BuildContext) -> Result<Stage, BuildError> {
        let source = LiveStage {
            builder: Some(self.builder()?),
            source: None,
            metrics: ctx.metrics.clone(),
        };
        Ok(Stage::Source(SourceStage::Async(Box::new(source))))
    }
}

/// The live source, started on the first call (its relay tasks need the
/// runtime of the stage's thread).
struct LiveStage {
    builder: Option<LiveSourceBuilder>,
    source: Option<LiveSource>,
    metrics: Arc<StageMetrics>,
}

impl LiveStage {
    async fn next(&mut self) -> trawl_core::Result<Option<Message>> {
        if let Some(builder) = self.builder.take() {
            self.source = Some(builder.start());
        }
        let Some(source) = self.source.as_mut() else {
            return Ok(None);
        };
        let next = source.next_message().await;
        // Bad packets, lost connections: counted and logged, the source goes on.
        for warning in source.take_warnings() {
            self.metrics.error(&warning);
        }
        next
    }
}

impl AsyncSource for LiveStage {
    fn next_message(&mut self) -> LocalBoxFuture<'_, trawl_core::Result<Option<Message>>> {
        Box::pin(self.next())
    }

    fn close(self: Box<Self>) -> LocalBoxFuture<'static, ()> {
        Box::pin(async move {
            if let Some(source) = self.source {
                source.close().await;
            }
        })
    }
}
