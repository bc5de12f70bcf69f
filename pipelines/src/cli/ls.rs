//! `trawl ls`: the tracing sessions a relay daemon serves live.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use trawl_source_lttng::live::{LiveUrl, SessionEntry, list_sessions};

/// Arguments of `trawl ls`.
#[derive(Debug, Args)]
pub struct LsArgs {
    /// The relay daemon: `net://HOST[:PORT]` (viewer port, 5344 by default).
    #[arg(value_name = "URL")]
    pub url: String,
    /// Seconds to wait for the relay daemon to answer.
    #[arg(long, default_value_t = DEFAULT_TIMEOUT_S, value_name = "SECONDS")]
    pub timeout: u64,
}

/// How long `trawl ls` waits for the relay daemon by default.
pub const DEFAULT_TIMEOUT_S: u64 = 10;

pub(super) fn run(args: LsArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let url = LiveUrl::parse(&args.url)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let sessions = runtime.block_on(list_sessions(&url, Duration::from_secs(args.timeout)))?;
    let base = args.url.trim_end_matches('/');
    for s in merged(sessions) {
        println!(
            "{base}/host/{}/{} (timer = {}, {} stream(s), {} client(s) connected)",
            s.hostname, s.session_name, s.live_timer_us, s.streams, s.clients
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// One entry per (hostname, session name), in the relay's order: a tracing
/// session appears as one relay session per domain (kernel, user space), and
/// babeltrace2 lists it once with their streams added up and the largest
/// client count.
fn merged(sessions: Vec<SessionEntry>) -> Vec<SessionEntry> {
    let mut out: Vec<SessionEntry> = Vec::with_capacity(sessions.len());
    for s in sessions {
        match out
            .iter_mut()
            .find(|o| o.hostname == s.hostname && o.session_name == s.session_name)
        {
            Some(o) => {
                o.streams = o.streams.saturating_add(s.streams);
                o.clients = o.clients.max(s.clients);
            }
            None => out.push(s),
        }
    }
    out
}
