//! `trawl-demo`: what `make demo` runs. A live LTTng session traced on this
//! machine, read while it is recorded by `trawl run` with the embedded demo
//! pipeline (`pipelines/examples/demo.toml`: live relay → Parquet), then
//! three SQL answers over the tables.
//!
//! The session daemon and relay daemon are private (their own home, ports
//! and run directory, as in the tests). The traced workload is our fake
//! service (`pipelines/demo/workload.c`, with its own tracepoint provider
//! `trawl_demo:request_begin` / `request_end`) under the libc wrapper, plus
//! a common program (`ls`) under the libc wrapper.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;

#[path = "../../../pipelines/tests/common/lttng/mod.rs"]
#[allow(
    dead_code,
    reason = "shared with the integration tests; not all of it is used here"
)]
mod lttng;

/// The demo pipeline, with `@URL@`, `@OUT@` and `@METRICS@` to fill in.
const PIPELINE: &str = include_str!("../../../pipelines/examples/demo.toml");
/// The demo workload and its tracepoint provider.
const DEMO_SOURCES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../pipelines/demo");
/// Live timer of the session (µs): events reach the tables within about this.
const LIVE_TIMER_US: u64 = 200_000;

/// The three questions the demo asks.
const QUERIES: [(&str, &str); 3] = [
    (
        "events per process",
        "SELECT procname, vpid, count(*) AS events FROM events \
         GROUP BY procname, vpid ORDER BY events DESC LIMIT 10",
    ),
    (
        "top event classes",
        "SELECT event, count(*) AS events FROM events GROUP BY event ORDER BY events DESC LIMIT 10",
    ),
    (
        "request latency by route (ms)",
        "SELECT route, count(*) AS requests, \
         round(approx_percentile_cont(duration_ns, 0.5) / 1e6, 2) AS p50, \
         round(approx_percentile_cont(duration_ns, 0.9) / 1e6, 2) AS p90, \
         round(approx_percentile_cont(duration_ns, 0.99) / 1e6, 2) AS p99, \
         sum(CASE WHEN status >= 500 THEN 1 ELSE 0 END) AS errors \
         FROM trawl_demo_request_end GROUP BY route ORDER BY p99 DESC",
    ),
];

/// Command line.
#[derive(Debug, Parser)]
#[command(
    name = "trawl-demo",
    about = "Live LTTng session → trawl run → Parquet → SQL"
)]
struct Cli {
    /// Output directory (emptied first).
    #[arg(long, default_value = "target/trawl-demo")]
    out: PathBuf,
    /// How long the workload runs (seconds).
    #[arg(long, default_value_t = 20)]
    seconds: u32,
    /// The `trawl` binary (default: next to this one).
    #[arg(long)]
    trawl: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("trawl-demo: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> Result<(), Box<dyn std::error::Error>> {
    let me = std::env::current_exe()?;
    let trawl = cli
        .trawl
        .clone()
        .unwrap_or_else(|| me.with_file_name("trawl"));
    if cli.out.exists() {
        std::fs::remove_dir_all(&cli.out)?;
    }
    std::fs::create_dir_all(&cli.out)?;
    let out = std::path::absolute(&cli.out)?;

    println!("== starting a private lttng-sessiond and lttng-relayd");
    let daemon = lttng::LttngDaemon::start()?;
    let relayd = daemon.start_relayd(&out.join("relay"))?;
    let workload = build_workload(&daemon)?;
    let session = daemon
        .session("trawl-demo")
        .live(&relayd, LIVE_TIMER_US)
        .events(&[
            "trawl_demo:*",
            "lttng_ust_libc:malloc",
            "lttng_ust_libc:free",
        ])
        .contexts(lttng::ALL_CONTEXTS)
        .create()?;
    session.start()?;
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")?
        .trim()
        .to_string();
    let url = format!("{}/host/{hostname}/trawl-demo", relayd.live_url());

    let metrics = free_loopback_addr()?;
    let config = out.join("pipeline.toml");
    std::fs::write(
        &config,
        PIPELINE
            .replace("@URL@", &url)
            .replace("@OUT@", &out.display().to_string())
            .replace("@METRICS@", &metrics),
    )?;
    println!("== trawl run {} (live: {url})", config.display());
    let mut runner = Command::new(&trawl)
        .args(["run", &config.display().to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::inherit())
        .stderr(std::fs::File::create(out.join("trawl-run.log"))?)
        .spawn()?;

    println!(
        "== tracing for {} s: the demo service (trawl_demo:* tracepoints) and `ls -lR /usr/share/doc`",
        cli.seconds
    );
    let started = Instant::now();
    let seconds = cli.seconds.to_string();
    let service = std::thread::scope(|s| {
        let service =
            s.spawn(|| session.run_traced(&workload, &[&seconds, "400"], Duration::from_secs(600)));
        let _ = session.run_traced(
            Path::new("/bin/ls"),
            &["-lR", "/usr/share/doc"],
            Duration::from_secs(120),
        );
        // While it runs: what Prometheus would scrape.
        std::thread::sleep(Duration::from_secs(u64::from(cli.seconds) * 3 / 4));
        show_metrics(&metrics);
        service.join()
    });
    let service = service.map_err(|_| "the workload thread panicked")??;
    println!(
        "   {} in {:.1} s",
        String::from_utf8_lossy(&service.stdout).trim(),
        started.elapsed().as_secs_f64()
    );
    session.stop()?;
    session.destroy()?;

    // The source ends with the session; the runner flushes and exits.
    let status = runner.wait()?;
    if !status.success() {
        return Err(format!(
            "trawl run: {status} (see {})",
            out.join("trawl-run.log").display()
        )
        .into());
    }
    print_counters(&out.join("trawl-run.log"));

    let tables = out.join("tables");
    for (title, sql) in QUERIES {
        println!(
            "\n== {title}\n   trawl sql --data {} \"{sql}\"",
            tables.display()
        );
        let answer = Command::new(&trawl)
            .args(["sql", "--data", &tables.display().to_string(), sql])
            .output()?;
        if !answer.status.success() {
            return Err(format!("trawl sql: {}", String::from_utf8_lossy(&answer.stderr)).into());
        }
        print!("{}", String::from_utf8_lossy(&answer.stdout));
    }
    println!("\n== files");
    println!("   Parquet tables:   {}", tables.display());
    println!("   relay's CTF:      {}", out.join("relay").display());
    println!("   pipeline config:  {}", config.display());
    println!(
        "   trawl run log:    {}",
        out.join("trawl-run.log").display()
    );
    println!(
        "   try: {} sql --data {} \"SELECT * FROM trawl_demo_request_end LIMIT 5\"",
        trawl.display(),
        tables.display()
    );
    Ok(())
}

/// A loopback address with a port free right now.
fn free_loopback_addr() -> std::io::Result<String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.to_string())
}

/// GET /metrics once; prints the URL and a few of the demo's series.
fn show_metrics(addr: &str) {
    use std::io::{Read, Write};
    println!("== metrics: http://{addr}/metrics (while the pipeline runs), a few series:");
    let text = std::net::TcpStream::connect(addr).and_then(|mut s| {
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        write!(s, "GET /metrics HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
        let mut body = String::new();
        s.read_to_string(&mut body)?;
        Ok(body)
    });
    match text {
        Ok(text) => {
            let wanted = [
                "trawl_ust_events_total",
                "trawl_ust_request_latency_seconds_count",
                "trawl_ust_request_latency_seconds_sum",
                "trawl_pipeline_sent_events_total",
            ];
            for line in text
                .lines()
                .filter(|l| !l.starts_with('#') && wanted.iter().any(|w| l.contains(w)))
                .filter(|l| !l.contains("_bucket"))
                .take(12)
            {
                println!("   {line}");
            }
        }
        Err(e) => println!("   (no answer from {addr}: {e})"),
    }
}

/// Compiles the demo service with its tracepoint provider.
fn build_workload(daemon: &lttng::LttngDaemon) -> Result<PathBuf, Box<dyn std::error::Error>> {
    let bin = daemon.home().join("trawl-demo-workload");
    let src = Path::new(DEMO_SOURCES);
    let out = Command::new("cc")
        .arg("-O2")
        .arg("-I")
        .arg(src)
        .arg("-o")
        .arg(&bin)
        .arg(src.join("workload.c"))
        .arg(src.join("trawl_demo_tp.c"))
        .args(["-llttng-ust", "-ldl"])
        .output()?;
    if !out.status.success() {
        return Err(format!(
            "building the demo workload: {}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(bin)
}

/// The runner's final per-stage counters.
fn print_counters(log: &Path) {
    let Ok(text) = std::fs::read_to_string(log) else {
        return;
    };
    println!("== pipeline counters at the end");
    for line in text.lines().filter(|l| l.contains("at=end")) {
        println!("   {}", line.trim_start_matches("trawl: metrics "));
    }
}
