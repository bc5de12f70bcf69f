//! The reference decoder: event counts of a trace from `babeltrace2`.

use std::io;
use std::path::Path;
use std::process::Command;

/// `babeltrace2` could not count a trace.
#[derive(Debug, thiserror::Error)]
pub enum BabeltraceError {
    /// `babeltrace2` could not be started.
    #[error("cannot run babeltrace2: {0}")]
    Spawn(#[from] io::Error),
    /// It ran and failed.
    #[error("babeltrace2 failed on {trace} ({status}): {stderr}")]
    Failed {
        /// The trace.
        trace: String,
        /// How it ended.
        status: String,
        /// Its stderr.
        stderr: String,
    },
    /// Its output has no final "Event messages" line.
    #[error("no event count in babeltrace2's counter output: {0}")]
    NoCount(String),
}

/// What `babeltrace2 -c sink.utils.counter` counted in a trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Event messages.
    pub events: u64,
    /// Events the tracer reported as discarded (ring buffer full).
    pub discarded_events: u64,
    /// Packets reported as lost.
    pub discarded_packets: u64,
}

/// Counts the events of `trace` with `babeltrace2 -c sink.utils.counter`.
pub fn count_events(trace: &Path) -> Result<Counts, BabeltraceError> {
    let out = Command::new("babeltrace2")
        .arg("--component=sink.utils.counter")
        .arg(trace)
        .output()?;
    if !out.status.success() {
        return Err(BabeltraceError::Failed {
            trace: trace.display().to_string(),
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    let text = String::from_utf8_lossy(&out.stdout);
    parse_counter_output(&text).ok_or_else(|| BabeltraceError::NoCount(text.into_owned()))
}

/// The final block of `sink.utils.counter` output (it prints running totals,
/// then the final block).
pub fn parse_counter_output(text: &str) -> Option<Counts> {
    let last = |what: &str| -> Option<u64> {
        text.lines()
            .rev()
            .filter(|l| l.trim_end().ends_with(what))
            .find_map(|l| l.split_whitespace().next()?.parse().ok())
    };
    Some(Counts {
        events: last(" Event messages")?,
        discarded_events: last(" Discarded event messages").unwrap_or(0),
        discarded_packets: last(" Discarded packet messages").unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_output_takes_the_last_block() {
        let text = "   10 Event messages\n    2 Stream beginning messages\n\n  \
                    4000002 Event messages\n        3 Discarded event messages\n";
        let counts = parse_counter_output(text).unwrap();
        assert_eq!(counts.events, 4_000_002);
        assert_eq!(counts.discarded_events, 3);
        assert_eq!(counts.discarded_packets, 0);
        assert_eq!(parse_counter_output("nothing here"), None);
    }
}
