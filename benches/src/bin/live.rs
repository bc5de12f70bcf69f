//! `trawl-live-compare`: does a live reader keep up with lttng-ust at full
//! speed? `trawl cat --format none` against `babeltrace2 --input-format=lttng-live
//! -o dummy`, each reading its own live session of the same workload, in one run.
//!
//! Each run: a private relay daemon, a live session (blocking channel, so the
//! tracer never drops: it waits, and the relay keeps everything), a reader
//! attached before the workload starts, then the malloc/free loop at the
//! highest rate lttng-ust sustains here. When the workload ends the session
//! is stopped and destroyed, and the reader ends once it has read everything.
//!
//! Reported per reader: events read, CPU seconds (user + system) per million
//! events, and the drain time, from the session's end to the reader's end. A
//! reader that keeps up drains in about one live timer whatever the workload
//! size; a reader that falls behind needs longer the more it is fed, so every
//! run is made at two workload sizes. Readers alternate, and the CPU ratio
//! compares medians.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;
use trawl_benches::{count_events, median};

#[path = "../../../pipelines/tests/common/lttng/mod.rs"]
#[allow(
    dead_code,
    reason = "shared with the integration tests; not all of it is used here"
)]
mod lttng;

/// Live timer of the sessions (µs). LTTng's default is 1 s; 100 ms is what
/// users who want events promptly pick, and it is the harder case (more
/// beacons and index polls per second).
const LIVE_TIMER_US: u64 = 100_000;

/// Command line.
#[derive(Debug, Parser)]
#[command(
    name = "trawl-live-compare",
    about = "CPU per million events and drain time of live readers: trawl vs babeltrace2"
)]
struct Cli {
    /// The `trawl` binary (default: next to this one).
    #[arg(long)]
    trawl: Option<PathBuf>,
    /// malloc/free iterations of the smaller workload (2 events each); the
    /// larger one is twice that.
    #[arg(long, default_value_t = 1_000_000)]
    iterations: u64,
    /// Runs of each reader at each size.
    #[arg(long, default_value_t = 2)]
    reps: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reader {
    Trawl,
    Babeltrace,
}

impl Reader {
    fn name(self) -> &'static str {
        match self {
            Reader::Trawl => "trawl cat --format none",
            Reader::Babeltrace => "babeltrace2 lttng-live -o dummy",
        }
    }
}

/// One reader's run.
#[derive(Debug, Clone, Copy)]
struct Run {
    events: u64,
    /// Events per second the workload produced.
    produced_per_s: f64,
    cpu: Duration,
    /// Of which in the kernel (socket reads, page faults).
    sys: Duration,
    drain: Duration,
    max_rss_kib: u64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("trawl-live-compare: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> Result<(), Box<dyn std::error::Error>> {
    let me = std::env::current_exe()?;
    let exe_dir = me.parent().unwrap_or(Path::new("."));
    let trawl = cli.trawl.clone().unwrap_or_else(|| exe_dir.join("trawl"));
    if !trawl.is_file() {
        return Err(format!(
            "{}: no trawl binary (cargo build --release)",
            trawl.display()
        )
        .into());
    }
    let daemon = lttng::LttngDaemon::start()?;
    let program = daemon.build_malloc_loop()?;
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")?
        .trim()
        .to_string();
    let mut results: Vec<(u64, Reader, Run)> = Vec::new();
    let mut n = 0;
    for size in [cli.iterations, cli.iterations * 2] {
        for rep in 0..cli.reps {
            let order = if rep % 2 == 0 {
                [Reader::Trawl, Reader::Babeltrace]
            } else {
                [Reader::Babeltrace, Reader::Trawl]
            };
            for reader in order {
                n += 1;
                let r = one_run(&daemon, &program, &hostname, &trawl, reader, size, n)?;
                eprintln!(
                    "{:<32} {size} iterations: {} events, CPU {:.2} s ({:.2} s system), drain {:.0} ms",
                    reader.name(),
                    r.events,
                    r.cpu.as_secs_f64(),
                    r.sys.as_secs_f64(),
                    r.drain.as_secs_f64() * 1e3
                );
                results.push((size, reader, r));
            }
        }
    }
    report(&results);
    Ok(())
}

fn one_run(
    daemon: &lttng::LttngDaemon,
    program: &Path,
    hostname: &str,
    trawl: &Path,
    reader: Reader,
    iterations: u64,
    n: u32,
) -> Result<Run, Box<dyn std::error::Error>> {
    let out = daemon.home().join(format!("relay-{n}"));
    let relayd = daemon.start_relayd(&out)?;
    let name = format!("keepup{n}");
    let session = daemon
        .session(&name)
        .live(&relayd, LIVE_TIMER_US)
        .events(&["lttng_ust_libc:malloc", "lttng_ust_libc:free"])
        .contexts(lttng::ALL_CONTEXTS)
        .subbuffers(4 << 20, 8)
        .blocking(true)
        .create()?;
    session.start()?;
    let url = format!("{}/host/{hostname}/{name}", relayd.live_url());
    let mut cmd = Command::new("/usr/bin/time");
    cmd.args(["-f", "trawl-cpu %U %S %M"]);
    match reader {
        Reader::Trawl => cmd.arg(trawl).args([
            "cat",
            "--format",
            "none",
            "--from-beginning",
            "--session-not-found-action",
            "end",
            &url,
        ]),
        Reader::Babeltrace => cmd.args([
            "babeltrace2",
            "--input-format=lttng-live",
            &url,
            "--params=session-not-found-action=\"end\"",
            "-o",
            "dummy",
        ]),
    };
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    // Attached before the first event.
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    session.run_traced(
        program,
        &[&iterations.to_string()],
        Duration::from_secs(600),
    )?;
    let workload = started.elapsed();
    session.stop()?;
    let trace = session.destroy()?;
    let ended = Instant::now();
    let output = child.wait_with_output()?;
    let drain = ended.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(format!("{}: {}: {stderr}", reader.name(), output.status).into());
    }
    let line = stderr
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("trawl-cpu "))
        .ok_or_else(|| format!("no CPU report from /usr/bin/time: {stderr}"))?;
    let f: Vec<f64> = line
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    let [user, sys, rss] = f[..] else {
        return Err(format!("unexpected /usr/bin/time output: {line}").into());
    };
    let counts = count_events(&trace)?;
    // trawl says how many it read: all of them, or the comparison is void.
    if reader == Reader::Trawl {
        let read = stderr
            .lines()
            .find_map(|l| l.strip_suffix(" events")?.trim().parse::<u64>().ok());
        if read != Some(counts.events) {
            return Err(format!(
                "trawl read {read:?} events of the {} the relay wrote: {stderr}",
                counts.events
            )
            .into());
        }
    }
    Ok(Run {
        events: counts.events,
        produced_per_s: counts.events as f64 / workload.as_secs_f64(),
        cpu: Duration::from_secs_f64(user + sys),
        sys: Duration::from_secs_f64(sys),
        drain,
        max_rss_kib: rss as u64,
    })
}

fn cpu_per_million(r: &Run) -> f64 {
    r.cpu.as_secs_f64() / (r.events as f64 / 1e6)
}

fn report(results: &[(u64, Reader, Run)]) {
    println!();
    println!(
        "{:<32} {:>11} {:>11} {:>14} {:>12} {:>10} {:>10}",
        "reader", "iterations", "events", "produced ev/s", "CPU s/M ev", "drain ms", "peak RSS"
    );
    for (size, reader, r) in results {
        println!(
            "{:<32} {:>11} {:>11} {:>14.0} {:>12.3} {:>10.0} {:>7} MiB",
            reader.name(),
            size,
            r.events,
            r.produced_per_s,
            cpu_per_million(r),
            r.drain.as_secs_f64() * 1e3,
            r.max_rss_kib / 1024
        );
    }
    let med = |reader: Reader, f: &dyn Fn(&Run) -> Duration| {
        let v: Vec<Duration> = results
            .iter()
            .filter(|(_, who, _)| *who == reader)
            .map(|(_, _, r)| f(r))
            .collect();
        median(&v)
    };
    let per_m = |r: &Run| Duration::from_secs_f64(cpu_per_million(r));
    if let (Some(t), Some(b)) = (med(Reader::Trawl, &per_m), med(Reader::Babeltrace, &per_m)) {
        println!(
            "ratio: babeltrace2 uses {:.1}x trawl's CPU per million events (medians)",
            b.as_secs_f64() / t.as_secs_f64().max(f64::MIN_POSITIVE)
        );
    }
    for reader in [Reader::Trawl, Reader::Babeltrace] {
        let drains: Vec<String> = results
            .iter()
            .filter(|(_, who, _)| *who == reader)
            .map(|(size, _, r)| format!("{size}: {:.0} ms", r.drain.as_secs_f64() * 1e3))
            .collect();
        println!(
            "drain after the session ended, {}: {}",
            reader.name(),
            drains.join(", ")
        );
    }
}
