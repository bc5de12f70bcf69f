//! `trawl validate` and `trawl run`: config errors with line and column,
//! the `lttng` → `jsonl` path against `trawl cat --format json`,
//! backpressure through a sink that cannot write, the stage counters on a
//! `prometheus` sink's /metrics, and SIGTERM draining.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

use crate::common::lttng::{self, Buffers, LiveRecording};
use crate::common::{files_under, lttng_or_skip};

fn trawl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trawl"))
        .args(args)
        .env("TZ", "UTC")
        .output()
        .expect("run trawl")
}

fn corpus(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data/ctf-traces")
        .join(dir)
}

/// Writes `config` into a new temporary directory; returns both.
fn config_file(config: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.toml");
    std::fs::write(&path, config).unwrap();
    (dir, path)
}

/// `trawl validate` on `config`: exit status 2 and these error lines
/// (without the `trawl: error: FILE:` prefix).
fn assert_invalid(config: &str, expected: &[&str]) {
    let (_dir, path) = config_file(config);
    let out = trawl(&["validate", path.to_str().unwrap()]);
    let stderr = String::from_utf8(out.stderr).unwrap();
    let prefix = format!("trawl: error: {}:", path.display());
    let got: Vec<_> = stderr
        .lines()
        .map(|l| l.strip_prefix(&prefix).unwrap_or(l))
        .collect();
    assert_eq!(got, expected, "config:\n{config}");
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
}

const SOURCE: &str = "[sources.src]\ntype = \"lttng\"\npaths = [\"t\"]\n";

#[test]
fn validate_names_line_column_and_path_of_each_mistake() {
    // Not TOML.
    assert_invalid(
        "[sources.a]\ntype = \"lttng\n",
        &["2:14: invalid basic string, expected `\"`"],
    );
    // Unknown keys: a section, a runner key, a stage option, `inputs` on a source.
    assert_invalid(
        &format!(
            "[runer]\n\n[runner]\nedge_capacty = 4\n\n{SOURCE}batch_row = 3\n\n\
             [sources.b]\ntype = \"lttng\"\npaths = [\"t\"]\ninputs = [\"src\"]\n\n\
             [sinks.out]\ntype = \"null\"\ninputs = [\"src\", \"b\"]\ncolor = 1\n"
        ),
        &[
            "1:2: runer: unknown section `runer`, expected one of `runner`, `sources`, `transforms`, `sinks`",
            "4:1: runner.edge_capacty: unknown field `edge_capacty`, expected `edge_capacity` or `metrics_interval_secs`",
            "9:1: sources.src.batch_row: unknown field `batch_row`, expected `paths` or `batch_rows`",
            "14:1: sources.b.inputs: unknown field `inputs`, expected `paths` or `batch_rows`",
            "19:1: sinks.out.color: unknown field `color`, there are no fields",
        ],
    );
    // Wrong types and values, missing and unknown `type`.
    assert_invalid(
        "[runner]\nedge_capacity = 0\nmetrics_interval_secs = -1.0\n\n\
         [sources.src]\ntype = \"lttng\"\npaths = \"t\"\n\n\
         [sources.b]\ntype = \"lttng\"\npaths = []\nbatch_rows = 0\n\n\
         [sources.c]\ntype = \"lttng\"\npaths = []\n\n\
         [sinks.out]\ntype = \"jsonl\"\ninputs = [\"src\", \"b\", \"c\", 4]\n\n\
         [sinks.p]\ntype = \"kafka\"\ninputs = [\"src\"]\n\n\
         [sinks.q]\ninputs = [\"src\"]\n",
        &[
            "2:17: runner.edge_capacity: invalid value: integer `0`, expected a nonzero usize",
            "7:9: sources.src.paths: invalid type: string \"t\", expected a sequence",
            "12:14: sources.b.batch_rows: invalid value: integer `0`, expected a nonzero usize",
            "16:9: sources.c.paths: at least one path is needed",
            "20:28: sinks.out.inputs[3]: invalid type: integer `4`, expected a string",
            "23:8: sinks.p.type: unknown sink type \"kafka\", expected one of \"jsonl\", \"null\", \"parquet\", \"prometheus\"",
            "26:8: sinks.q: missing field `type`",
        ],
    );
    // Edges: unknown, sink or repeated inputs, no inputs, no consumer,
    // one name twice, a cycle.
    assert_invalid(
        &format!(
            "{SOURCE}\n[sources.idle]\ntype = \"lttng\"\npaths = [\"t\"]\n\n\
             [transforms.a]\ntype = \"filter\"\ninputs = [\"src\", \"b\"]\nevents = [\"x\"]\n\n\
             [transforms.b]\ntype = \"filter\"\ninputs = [\"a\"]\nevents = [\"x\"]\n\n\
             [sinks.out]\ntype = \"null\"\ninputs = [\"src\", \"x\", \"out\", \"src\", \"a\"]\n\n\
             [sinks.none]\ntype = \"null\"\ninputs = []\n\n\
             [sinks.src]\ntype = \"null\"\ninputs = [\"a\"]\n"
        ),
        &[
            "5:10: sources.idle: no stage reads its output (name it in some stage's `inputs`)",
            "9:13: transforms.a: cycle: a -> b -> a",
            "21:18: sinks.out.inputs[1]: no stage named \"x\"",
            "21:23: sinks.out.inputs[2]: \"out\" is a sink: sinks have no output",
            "21:30: sinks.out.inputs[3]: \"src\" is listed twice",
            "25:10: sinks.none.inputs: no inputs: a sink needs at least one",
            "27:8: sinks.src: a stage named \"src\" is already defined at 1:10",
        ],
    );
    // Checks of a stage's own: the containers source's backoff.
    assert_invalid(
        "[sources.c]\ntype = \"containers\"\nreconnect_min_ms = 0\n\n\
         [sources.d]\ntype = \"containers\"\nreconnect_min_ms = 500\nreconnect_max_ms = 100\n\n\
         [sinks.out]\ntype = \"null\"\ninputs = [\"c\", \"d\"]\n",
        &[
            "3:20: sources.c.reconnect_min_ms: must be > 0",
            "8:20: sources.d.reconnect_max_ms: must be at least reconnect_min_ms (500)",
        ],
    );
    // Nothing to run.
    assert_invalid(
        "# empty\n",
        &[
            "1:1: a pipeline needs at least one source",
            "1:1: a pipeline needs at least one sink",
        ],
    );
}

#[test]
fn example_config_is_valid() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/pipeline.toml");
    let out = trawl(&["validate", example.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains(": ok: 1 source, 1 transform, 2 sinks, 3 edges\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("  sinks.all (jsonl) <- traces\n"),
        "{stdout}"
    );
}

#[test]
fn example_config_with_every_commented_stage_is_valid() {
    // The commented stages document every option with its default: they
    // must stay valid as options change.
    let dir = tempfile::tempdir().unwrap();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/pipeline.toml");
    let text = std::fs::read_to_string(&example).unwrap();
    let (head, more) = text.split_once("# ~~~ More stages").unwrap();
    // Commented TOML (`# [table]`, `# key = value`, `# # note`) is
    // uncommented; prose stays a comment.
    let is_toml = |rest: &str| {
        rest.starts_with(['[', '#'])
            || rest
                .split_once(" = ")
                .is_some_and(|(key, _)| key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
    };
    let uncommented: String = more
        .lines()
        .map(|l| match l.strip_prefix("# ") {
            Some(rest) if is_toml(rest) => rest,
            _ => l,
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let config = dir.path().join("all.toml");
    let paths = example.parent().unwrap().display().to_string();
    let head = head.replace("\"../../../", &format!("\"{paths}/../../../"));
    std::fs::write(&config, format!("{head}# ~~~ More stages{uncommented}")).unwrap();
    let out = trawl(&["validate", config.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(": ok: 3 sources, 2 transforms, 4 sinks, 7 edges\n"),
        "{stdout}"
    );
}

/// A `[runner]` + `lttng` → `jsonl` config.
fn jsonl_pipeline(trace: &Path, out: &Path, runner: &str, batch_rows: usize) -> String {
    format!(
        "[runner]\n{runner}\n\n[sources.traces]\ntype = \"lttng\"\npaths = [{:?}]\n\
         batch_rows = {batch_rows}\n\n[sinks.out]\ntype = \"jsonl\"\ninputs = [\"traces\"]\n\
         path = {:?}\n",
        trace.display().to_string(),
        out.display().to_string(),
    )
}

/// The `at=end` counters of `stage` in `trawl run`'s stderr.
fn final_counters(stderr: &str, stage: &str) -> HashMap<String, String> {
    let tag = format!("at=end stage={stage} ");
    let line = stderr
        .lines()
        .find(|l| l.contains(&tag))
        .unwrap_or_else(|| panic!("no final counters of {stage} in {stderr}"));
    counters(line)
}

fn counters(line: &str) -> HashMap<String, String> {
    line.split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn count(counters: &HashMap<String, String>, key: &str) -> u64 {
    counters[key].parse().unwrap()
}

/// `trawl cat --format json` lines of `trace`, as the sink writes them
/// (`"ts":0` for events without a clock: see `stages::jsonl`), sorted.
fn cat_json_sorted(trace: &Path) -> Vec<String> {
    let out = trawl(&["cat", "--format", "json", trace.to_str().unwrap()]);
    let mut lines: Vec<_> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            l.replace(
                "\"ts\":null,\"time\":null",
                "\"ts\":0,\"time\":\"1970-01-01T00:00:00.000000000Z\"",
            )
        })
        .collect();
    lines.sort();
    lines
}

/// Runs `trace` through `lttng` → `jsonl` and compares with `trawl cat`.
fn assert_jsonl_like_cat(trace: &Path) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("events.jsonl");
    let config = dir.path().join("p.toml");
    std::fs::write(
        &config,
        jsonl_pipeline(trace, &out, "metrics_interval_secs = 0", 1000),
    )
    .unwrap();
    let run = trawl(&["run", config.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{}: {stderr}", trace.display());
    let mut ours: Vec<_> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    ours.sort();
    let theirs = cat_json_sorted(trace);
    assert_eq!(ours.len(), theirs.len(), "{}", trace.display());
    assert!(ours == theirs, "{}: lines differ", trace.display());
    let source = final_counters(&stderr, "sources.traces");
    let sink = final_counters(&stderr, "sinks.out");
    assert_eq!(count(&source, "events_out"), ours.len() as u64);
    assert_eq!(count(&sink, "events_in"), ours.len() as u64);
}

#[test]
fn lttng_to_jsonl_writes_the_events_cat_prints_over_the_corpus() {
    let mut checked = 0;
    for entry in std::fs::read_dir(corpus("succeed")).unwrap() {
        let trace = entry.unwrap().path();
        // Traces `trawl cat` reports errors for are covered by its own tests.
        if !trawl(&["cat", "--format", "none", trace.to_str().unwrap()])
            .status
            .success()
        {
            continue;
        }
        assert_jsonl_like_cat(&trace);
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} traces checked");
}

#[test]
fn lttng_to_jsonl_writes_the_events_cat_prints_for_a_recorded_trace() {
    let Some(daemon) = lttng_or_skip() else {
        return;
    };
    let out = daemon.home().join("pipeline");
    let trace = lttng::record_malloc_trace(&daemon, "pipeline", &out, 5_000, Buffers::PerUid)
        .expect("record malloc loop");
    assert_jsonl_like_cat(&trace);
}

/// A running `trawl run` whose `jsonl` sink writes into a named pipe that
/// the test reads when it wants: the sink blocks while the test does not
/// read.
struct Blocked {
    child: Child,
    fifo: Option<BufReader<std::fs::File>>,
    stderr: Receiver<String>,
    _dir: tempfile::TempDir,
}

/// 12,305 events, batches of 64 rows, queues of one message.
const TRACE: &str = "succeed/lttng-tracefile-rotation";
const TRACE_EVENTS: usize = 12_305;
const EDGE_CAPACITY: u64 = 1;

impl Blocked {
    fn start() -> Blocked {
        Blocked::start_with("")
    }

    /// [`Blocked::start`] with `sinks` (more sink sections reading `traces`).
    fn start_with(sinks: &str) -> Blocked {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("events.fifo");
        let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
        assert!(made.success());
        let config = dir.path().join("p.toml");
        let runner = format!("edge_capacity = {EDGE_CAPACITY}\nmetrics_interval_secs = 0.02");
        let pipeline = jsonl_pipeline(&corpus(TRACE), &fifo, &runner, 64) + sinks;
        std::fs::write(&config, pipeline).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_trawl"))
            .args(["run", config.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("trawl run");
        let (tx, stderr) = channel();
        let pipe = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Opening blocks until trawl has opened the pipe for writing: open
        // on a thread, and fail (rather than hang) if trawl exits first.
        let opening = std::thread::spawn(move || std::fs::File::open(&fifo));
        while !opening.is_finished() {
            if let Some(status) = child.try_wait().unwrap() {
                let said: Vec<String> = stderr.try_iter().collect();
                panic!(
                    "trawl run exited ({status}) before opening its output:\n{}",
                    said.join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let fifo = BufReader::new(opening.join().unwrap().unwrap());
        Blocked {
            child,
            fifo: Some(fifo),
            stderr,
            _dir: dir,
        }
    }

    /// The next periodic counters of `stage`.
    fn next_report(&self, stage: &str) -> HashMap<String, String> {
        let tag = format!("stage={stage} ");
        loop {
            let line = self
                .stderr
                .recv_timeout(Duration::from_secs(60))
                .expect("trawl run reports its counters");
            if line.starts_with("trawl: metrics at=") && line.contains(&tag) {
                return counters(&line);
            }
        }
    }

    fn read_lines(&mut self, n: Option<usize>) -> Vec<String> {
        let fifo = self.fifo.as_mut().unwrap();
        let mut lines = Vec::new();
        let mut line = String::new();
        while n.is_none_or(|n| lines.len() < n) {
            line.clear();
            if fifo.read_line(&mut line).unwrap() == 0 {
                break;
            }
            assert!(line.ends_with('\n'), "a partial line: {line:?}");
            lines.push(line.trim_end().to_string());
        }
        lines
    }

    /// Waits for the exit; returns the status and the rest of stderr.
    fn finish(mut self) -> (std::process::ExitStatus, String) {
        self.fifo = None;
        let status = self.child.wait().unwrap();
        let rest: Vec<_> = self.stderr.iter().collect();
        (status, rest.join("\n"))
    }
}

#[test]
fn a_sink_that_cannot_write_blocks_the_source_and_loses_nothing() {
    let mut run = Blocked::start();
    // Wait, not reading, until the source has found its queue full
    // (reports come every 20 ms: this is 100 s at most).
    let source = (0..5000)
        .map(|_| run.next_report("sources.traces"))
        .find(|source| count(source, "stalls") > 0)
        .expect("the source never found its queue full");
    // Then, over several reports: the source is held back, not buffering:
    // at most the queue and the batch in each stage's hands are ahead of
    // the sink (a message is counted out when handed over, in when taken).
    for _ in 0..5 {
        let source = run.next_report("sources.traces");
        let sink = run.next_report("sinks.out");
        let ahead = count(&source, "batches_out") - count(&sink, "batches_in");
        assert!(
            ahead <= EDGE_CAPACITY + 2,
            "{ahead} batches ahead: {source:?}"
        );
        assert!(
            count(&source, "events_out") < TRACE_EVENTS as u64 / 4,
            "the source ran ahead: {source:?}"
        );
    }
    assert!(count(&source, "events_out") < TRACE_EVENTS as u64);
    // Now read everything: all of it arrives.
    let lines = run.read_lines(None);
    let (status, stderr) = run.finish();
    assert!(status.success(), "{stderr}");
    assert_eq!(lines.len(), TRACE_EVENTS);
    assert_eq!(
        count(&final_counters(&stderr, "sinks.out"), "events_in"),
        TRACE_EVENTS as u64
    );
}

#[test]
fn a_prometheus_sink_exports_the_counters_of_every_stage() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let store = tempfile::tempdir().unwrap();
    let mut run = Blocked::start_with(&format!(
        "\n[sinks.metrics]\ntype = \"prometheus\"\ninputs = [\"traces\"]\n\
         listen = \"127.0.0.1:{port}\"\n\n[sinks.store]\ntype = \"parquet\"\n\
         inputs = [\"traces\"]\npath = {:?}\n",
        store.path().display().to_string()
    ));
    // While the jsonl sink blocks the source, /metrics shows it.
    (0..5000)
        .map(|_| run.next_report("sources.traces"))
        .find(|source| count(source, "stalls") > 0)
        .expect("the source never found its queue full");
    let text = metrics_text(port);
    let sample = |name: &str, stage: &str| -> f64 {
        let prefix = format!("{name}{{stage=\"{stage}\"}} ");
        let line = text
            .lines()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no {prefix} in\n{text}"));
        line[prefix.len()..].parse().unwrap()
    };
    let sent = sample("trawl_pipeline_sent_events_total", "sources.traces");
    assert!(sent > 0.0 && sent < TRACE_EVENTS as f64, "{text}");
    assert!(sample("trawl_pipeline_stalls_total", "sources.traces") > 0.0);
    assert!(sample("trawl_pipeline_received_events_total", "sinks.metrics") > 0.0);
    assert!(sample("trawl_pipeline_received_events_total", "sinks.out") <= sent);
    assert!(sample("trawl_pipeline_lag_seconds", "sources.traces") > 0.0);
    assert_eq!(sample("trawl_pipeline_errors_total", "sinks.store"), 0.0);
    // Then to the end: the Parquet sink says how many files it wrote.
    run.read_lines(None);
    let (status, stderr) = run.finish();
    assert!(status.success(), "{stderr}");
    let files = files_under(store.path())
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .count();
    assert!(files > 0);
    assert_eq!(
        count(&final_counters(&stderr, "sinks.store"), "files"),
        files as u64
    );
}

/// A plain `GET /metrics` on the loopback `port`: the body.
fn metrics_text(port: u16) -> String {
    use std::io::Write;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(s, "GET /metrics HTTP/1.0\r\n\r\n").unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{response}");
    body.to_string()
}

#[test]
fn sigterm_drains_the_pipeline_and_flushes_every_sink() {
    let mut run = Blocked::start();
    let mut lines = run.read_lines(Some(1000));
    let signalled = Command::new("kill")
        .args(["-TERM", &run.child.id().to_string()])
        .status()
        .expect("kill");
    assert!(signalled.success());
    lines.extend(run.read_lines(None));
    let (status, stderr) = run.finish();
    assert!(status.success(), "{stderr}");
    assert!(
        stderr.contains("trawl: SIGTERM: stopping the sources"),
        "{stderr}"
    );
    // Stopped mid-run, and whatever the source emitted reached the file.
    let source = final_counters(&stderr, "sources.traces");
    let sink = final_counters(&stderr, "sinks.out");
    assert!(lines.len() < TRACE_EVENTS, "the run was not interrupted");
    assert_eq!(count(&source, "events_out"), lines.len() as u64);
    assert_eq!(count(&sink, "events_in"), lines.len() as u64);
    // And it is a consistent cut: for each stream and event class, the
    // first events of that stream, without gaps or repeats.
    let full = {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("all.jsonl");
        let config = dir.path().join("p.toml");
        std::fs::write(&config, jsonl_pipeline(&corpus(TRACE), &out, "", 64)).unwrap();
        assert!(trawl(&["run", config.to_str().unwrap()]).status.success());
        std::fs::read_to_string(out).unwrap()
    };
    let group = |line: &str| {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        format!(
            "{}/{}/{}/{}",
            v["host"], v["domain"], v["stream_id"], v["event"]
        )
    };
    let mut expected: HashMap<String, Vec<&str>> = HashMap::new();
    for line in full.lines() {
        expected.entry(group(line)).or_default().push(line);
    }
    let mut got: HashMap<String, Vec<&str>> = HashMap::new();
    for line in &lines {
        got.entry(group(line)).or_default().push(line);
    }
    for (key, got) in got {
        let all = &expected[&key];
        assert_eq!(
            got[..],
            all[..got.len()],
            "{key}: not a prefix of the stream"
        );
    }
}

/// `trawl run` with a config that does not check: status 2, no output.
#[test]
fn run_refuses_a_wrong_config() {
    let (_dir, path) = config_file("[sources.a]\ntype = \"lttng\"\n");
    let out = trawl(&["run", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("p.toml:1:1: sources.a: missing field `paths`"),
        "{stderr}"
    );
    let mut none = String::new();
    out.stdout.as_slice().read_to_string(&mut none).unwrap();
    assert!(none.is_empty());
}

/// `lttng-live` → `jsonl` on a real relay: the events `trawl cat` prints
/// from what the relay wrote, and the run ends with the session.
#[test]
fn lttng_live_to_jsonl_writes_the_events_the_relay_wrote() {
    let Some(daemon) = lttng_or_skip() else {
        return;
    };
    let LiveRecording {
        relayd,
        session,
        url,
    } = daemon.live_recording("piped").expect("live session");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("events.jsonl");
    let config = dir.path().join("p.toml");
    std::fs::write(
        &config,
        format!(
            "[sources.live]\ntype = \"lttng-live\"\nurls = [{url:?}]\nseek = \"beginning\"\n\
             session_not_found = \"end\"\npoll_interval_ms = 20\n\n[sinks.out]\ntype = \"jsonl\"\n\
             inputs = [\"live\"]\npath = {:?}\n",
            out.display().to_string()
        ),
    )
    .unwrap();
    let run = Command::new(env!("CARGO_BIN_EXE_trawl"))
        .args(["run", config.to_str().unwrap()])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    for dir in ["/usr/lib", "/etc"] {
        session
            .run_traced(Path::new("/bin/ls"), &["-la", dir], lttng::RUN_TIMEOUT)
            .unwrap();
    }
    session.stop().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    session.destroy().unwrap();
    let run = run.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    let mut ours: Vec<_> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    ours.sort();
    let theirs = cat_json_sorted(relayd.output());
    assert!(theirs.len() > 100);
    assert_eq!(ours.len(), theirs.len());
    assert!(ours == theirs, "lines differ");
    assert_eq!(
        count(&final_counters(&stderr, "sinks.out"), "events_in"),
        ours.len() as u64
    );
}
