//! Wall time and peak RSS of one command run.
//!
//! Peak RSS comes from `getrusage(RUSAGE_CHILDREN).ru_maxrss`, which is the
//! maximum over *all* children a process ever reaped. To get it for one
//! command, the comparison harness re-executes itself as a tiny measuring
//! process (`trawl-compare measure -- CMD ARGS`) whose only child is `CMD`:
//! [`run_and_report`] is that process, [`measure`] the caller's side.

use std::ffi::OsString;
use std::io;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use nix::sys::resource::{UsageWho, getrusage};

/// The first word of the report line [`run_and_report`] prints.
const REPORT_TAG: &str = "trawl-measure";

/// What one run cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Measurement {
    /// Wall-clock time from spawn to exit.
    pub wall: Duration,
    /// Peak resident set size, in KiB.
    pub max_rss_kib: u64,
}

/// A measured command that could not run or failed.
#[derive(Debug, thiserror::Error)]
pub enum MeasureError {
    /// The command could not be started.
    #[error("cannot run `{command}`: {source}")]
    Spawn {
        /// The command line.
        command: String,
        /// Why.
        source: io::Error,
    },
    /// The command ran and failed.
    #[error("`{command}` failed ({status}): {stderr}")]
    Failed {
        /// The command line.
        command: String,
        /// How it ended.
        status: String,
        /// The end of its stderr.
        stderr: String,
    },
    /// The measuring process printed no report line.
    #[error("no measurement from `{command}`; it printed: {stdout}")]
    NoReport {
        /// The command line.
        command: String,
        /// What it printed instead.
        stdout: String,
    },
}

/// Runs `program ARGS` under the measuring process `measurer` (this binary,
/// which must dispatch `measure -- ...` to [`run_and_report`]). The command's
/// stdout is discarded; a failure reports the tail of its stderr.
pub fn measure(
    measurer: &Path,
    program: &Path,
    args: &[OsString],
) -> Result<Measurement, MeasureError> {
    let mut command = program.display().to_string();
    for arg in args {
        command.push(' ');
        command.push_str(&arg.to_string_lossy());
    }
    let output = Command::new(measurer)
        .arg("measure")
        .arg("--")
        .arg(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| MeasureError::Spawn {
            command: command.clone(),
            source,
        })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(10).collect();
        return Err(MeasureError::Failed {
            command,
            status: output.status.to_string(),
            stderr: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
        });
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    parse_report(&stdout).ok_or_else(|| MeasureError::NoReport {
        command,
        stdout: stdout.into_owned(),
    })
}

/// `trawl-measure WALL_NS MAX_RSS_KIB` → a [`Measurement`].
fn parse_report(stdout: &str) -> Option<Measurement> {
    let line = stdout.lines().rev().find(|l| l.starts_with(REPORT_TAG))?;
    let mut words = line.split_whitespace().skip(1);
    let wall_ns: u64 = words.next()?.parse().ok()?;
    let max_rss_kib: u64 = words.next()?.parse().ok()?;
    Some(Measurement {
        wall: Duration::from_nanos(wall_ns),
        max_rss_kib,
    })
}

/// The measuring process: runs `program ARGS` (stdout to /dev/null, stderr
/// inherited), prints `trawl-measure WALL_NS MAX_RSS_KIB` and exits with the
/// command's status (1 if it died of a signal).
pub fn run_and_report(program: &OsString, args: &[OsString]) -> ExitCode {
    let start = Instant::now();
    let status = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status();
    let wall = start.elapsed();
    let status = match status {
        Ok(status) => status,
        Err(e) => {
            eprintln!("cannot run {}: {e}", program.to_string_lossy());
            return ExitCode::from(127);
        }
    };
    match getrusage(UsageWho::RUSAGE_CHILDREN) {
        // ru_maxrss is in KiB on Linux.
        Ok(usage) => println!(
            "{REPORT_TAG} {} {}",
            wall.as_nanos(),
            u64::try_from(usage.max_rss()).unwrap_or(0)
        ),
        Err(e) => eprintln!("getrusage: {e}"),
    }
    match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        None => {
            eprintln!("{} ended by {status}", program.to_string_lossy());
            ExitCode::from(1)
        }
    }
}

/// The median of `values` (the lower middle for an even count); `None` if empty.
pub fn median(values: &[Duration]) -> Option<Duration> {
    let mut sorted = values.to_vec();
    sorted.sort();
    sorted.get(sorted.len().checked_sub(1)? / 2).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_line_round_trips() {
        let m = parse_report("noise\ntrawl-measure 1500000000 20480\n").unwrap();
        assert_eq!(m.wall, Duration::from_millis(1500));
        assert_eq!(m.max_rss_kib, 20480);
        assert!(parse_report("trawl-measure x 1").is_none());
        assert!(parse_report("").is_none());
    }

    #[test]
    fn median_of_odd_even_and_empty() {
        let d = Duration::from_secs;
        assert_eq!(median(&[d(3), d(1), d(2)]), Some(d(2)));
        assert_eq!(median(&[d(4), d(1), d(3), d(2)]), Some(d(2)));
        assert_eq!(median(&[]), None);
    }
}
