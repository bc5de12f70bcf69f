//! `trawl cat` against babeltrace2 2.0.4, the reference decoder, over the
//! conformance corpus: same stdout byte for byte, same loss notices, and a
//! clean refusal of every trace of the fail corpus.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn corpus(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data/ctf-traces")
        .join(dir)
}

fn trawl(args: &[&str], input: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trawl"))
        .args(args)
        .arg(input)
        .env("TZ", "UTC")
        .output()
        .expect("run trawl")
}

fn babeltrace2(input: &Path) -> Option<Output> {
    Command::new("babeltrace2")
        .arg(input)
        .env("TZ", "UTC")
        .output()
        .ok()
}

fn dirs(of: &Path) -> Vec<PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(of)
        .unwrap_or_else(|e| panic!("{}: {e}", of.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    v
}

/// Corpus traces where babeltrace2 2.0.4 itself is wrong, with the evidence.
const BABELTRACE_BUGS: &[(&str, &str)] = &[(
    "meta-ctx-sequence",
    "babeltrace2 2.0.4 aborts: `ctf-meta-update-value-storing-indexes.c:65: \
     update_field_class_stored_value_index(): Assertion `tgt_fc` failed` \
     (a sequence whose length is in the event context); fixed in later babeltrace2",
)];

fn oracle_missing() -> bool {
    if Command::new("babeltrace2")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: babeltrace2 is not installed (make test installs it)");
        return true;
    }
    false
}

#[test]
fn succeed_corpus_prints_like_babeltrace2() {
    if oracle_missing() {
        return;
    }
    let mut mismatches = Vec::new();
    for dir in dirs(&corpus("succeed")) {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let ours = trawl(&["cat"], &dir);
        if let Some((_, why)) = BABELTRACE_BUGS.iter().find(|(n, _)| *n == name) {
            let bt = babeltrace2(&dir).unwrap();
            assert!(
                !bt.status.success(),
                "{name}: babeltrace2 no longer fails ({why}): compare again"
            );
            // Its only stream file is empty: nothing to print, nothing wrong.
            assert!(
                ours.status.success(),
                "{name}: {}",
                String::from_utf8_lossy(&ours.stderr)
            );
            assert!(
                ours.stdout.is_empty(),
                "{name}: events from an empty stream"
            );
            continue;
        }
        let theirs = babeltrace2(&dir).unwrap();
        if !ours.status.success() || ours.stdout != theirs.stdout {
            mismatches.push(describe(&name, &ours, &theirs));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} traces differ:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

/// The first differing line, to make a failure readable.
fn describe(name: &str, ours: &Output, theirs: &Output) -> String {
    let a = String::from_utf8_lossy(&ours.stdout);
    let b = String::from_utf8_lossy(&theirs.stdout);
    let first = a.lines().zip(b.lines()).position(|(x, y)| x != y);
    let (la, lb) = (a.lines().count(), b.lines().count());
    match first {
        Some(i) => format!(
            "{name}: line {}:\n  trawl:       {}\n  babeltrace2: {}",
            i + 1,
            a.lines().nth(i).unwrap_or(""),
            b.lines().nth(i).unwrap_or("")
        ),
        None => format!(
            "{name}: trawl {la} lines (exit {:?}), babeltrace2 {lb} lines; trawl stderr: {}",
            ours.status.code(),
            String::from_utf8_lossy(&ours.stderr)
                .lines()
                .next()
                .unwrap_or("")
        ),
    }
}

fn warnings(stderr: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stderr)
        .lines()
        .filter(|l| l.starts_with("WARNING: Tracer"))
        .map(str::to_owned)
        .collect()
}

/// Every trace of `dirs`, stdout and loss notices, against babeltrace2.
fn assert_like_babeltrace2(dirs: Vec<PathBuf>) {
    for dir in dirs {
        let ours = trawl(&["cat"], &dir);
        let theirs = babeltrace2(&dir).unwrap();
        assert!(
            ours.stdout == theirs.stdout,
            "{}",
            describe(&dir.display().to_string(), &ours, &theirs)
        );
        assert_eq!(
            warnings(&ours.stderr),
            warnings(&theirs.stderr),
            "{}",
            dir.display()
        );
    }
}

#[test]
fn lost_packets_are_reported_as_babeltrace2_reports_them() {
    if oracle_missing() {
        return;
    }
    assert_like_babeltrace2(dirs(&corpus("packet-seq-num")));
}

/// Streams that overlap in time, or not, or are empty, merge as babeltrace2 merges them.
#[test]
fn intersecting_streams_merge_like_babeltrace2() {
    if oracle_missing() {
        return;
    }
    assert_like_babeltrace2(dirs(&corpus("intersection")));
}

/// Any traces named in `TRAWL_COMPARE_TRACES` (`:`-separated), e.g. real
/// traces from a production host, against babeltrace2.
#[test]
fn traces_from_env_print_like_babeltrace2() {
    let Ok(list) = std::env::var("TRAWL_COMPARE_TRACES") else {
        eprintln!("skipped: set TRAWL_COMPARE_TRACES=DIR[:DIR...] to compare more traces");
        return;
    };
    if oracle_missing() {
        return;
    }
    assert_like_babeltrace2(std::env::split_paths(&list).collect());
}

#[test]
fn fail_corpus_is_refused_cleanly() {
    for dir in dirs(&corpus("fail")) {
        let out = trawl(&["cat"], &dir);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let name = dir.display();
        assert!(!out.status.success(), "{name}: accepted");
        assert!(!stderr.contains("panicked"), "{name}: panic: {stderr}");
        assert!(
            stderr.contains("trawl: error:"),
            "{name}: no error line: {stderr}"
        );
        assert!(
            stderr.contains(dir.file_name().unwrap().to_str().unwrap()),
            "{name}: error does not name the trace: {stderr}"
        );
    }
}

mod real_traces {
    //! Real lttng-ust traces recorded by the test: per-UID and per-PID
    //! buffers, every namespace context, several short-lived processes.

    use std::path::Path;

    use super::{babeltrace2, describe, oracle_missing, trawl, warnings};
    use crate::common::lttng::{ALL_CONTEXTS, Buffers, LttngDaemon};
    use crate::common::lttng_or_skip;

    /// Records a shell running several programs, each a traced process.
    fn record(daemon: &LttngDaemon, name: &str, buffers: Buffers) -> std::path::PathBuf {
        let script = "ls -l /usr/share/doc >/dev/null; true; date >/dev/null; ls / >/dev/null";
        daemon
            .session(name)
            .buffers(buffers)
            .contexts(ALL_CONTEXTS)
            .record(Path::new("/bin/sh"), &["-c", script])
            .expect("record")
    }

    fn assert_same_as_babeltrace2(trace: &Path) {
        let ours = trawl(&["cat"], trace);
        let theirs = babeltrace2(trace).expect("babeltrace2");
        assert!(
            theirs.status.success(),
            "babeltrace2 failed on {}",
            trace.display()
        );
        let lines = theirs.stdout.iter().filter(|&&b| b == b'\n').count();
        assert!(
            lines > 100,
            "only {lines} events recorded in {}",
            trace.display()
        );
        assert!(
            ours.stdout == theirs.stdout,
            "{}",
            describe(&trace.display().to_string(), &ours, &theirs)
        );
        assert_eq!(warnings(&ours.stderr), warnings(&theirs.stderr));
        assert!(
            ours.status.success(),
            "{}",
            String::from_utf8_lossy(&ours.stderr)
        );
    }

    #[test]
    fn per_uid_buffers_print_like_babeltrace2() {
        let Some(daemon) = lttng_or_skip() else {
            return;
        };
        if oracle_missing() {
            return;
        }
        let trace = record(&daemon, "catuid", Buffers::PerUid);
        assert!(trace.join("ust/uid").is_dir(), "{}", trace.display());
        assert_same_as_babeltrace2(&trace);
    }

    /// A relay daemon's output tree (`HOST/SESSION-DATE/ust/uid/...`) with
    /// two sessions in it, read from its root: every trace found, merged.
    #[test]
    fn relay_daemon_tree_with_two_sessions_prints_like_babeltrace2() {
        let Some(daemon) = lttng_or_skip() else {
            return;
        };
        if oracle_missing() {
            return;
        }
        let relayd = daemon
            .start_relayd(&daemon.home().join("relayd"))
            .expect("lttng-relayd");
        for name in ["first", "second"] {
            daemon
                .session(name)
                .live(&relayd, 100_000)
                .contexts(ALL_CONTEXTS)
                .record(Path::new("/bin/ls"), &["/"])
                .expect("record live ls");
        }
        let root = relayd.output();
        let hosts: Vec<_> = std::fs::read_dir(root).expect("relayd output").collect();
        assert_eq!(
            hosts.len(),
            1,
            "one HOST directory under {}",
            root.display()
        );
        assert_same_as_babeltrace2(root);
    }

    #[test]
    fn per_pid_buffers_print_like_babeltrace2() {
        let Some(daemon) = lttng_or_skip() else {
            return;
        };
        if oracle_missing() {
            return;
        }
        let trace = record(&daemon, "catpid", Buffers::PerPid);
        let pids = std::fs::read_dir(trace.join("ust/pid"))
            .expect("per-PID layout")
            .count();
        assert!(
            pids >= 4,
            "{pids} per-PID traces: the shell and its children"
        );
        assert_same_as_babeltrace2(&trace);
    }
}

/// `--format json` and `--format none` see the same events as the text output.
#[test]
fn json_and_none_formats_count_every_event() {
    for name in [
        "multi-domains",
        "session-rotation",
        "sequence",
        "meta-variant-one-underscore",
    ] {
        let dir = corpus("succeed").join(name);
        let text = trawl(&["cat"], &dir);
        let events = text.stdout.iter().filter(|&&b| b == b'\n').count();
        assert!(events > 0, "{name}");

        let json = trawl(&["cat", "--format", "json"], &dir);
        assert!(
            json.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&json.stderr)
        );
        let lines: Vec<serde_json::Value> = String::from_utf8(json.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{name}: {e}: {l}")))
            .collect();
        assert_eq!(lines.len(), events, "{name}");
        assert!(
            lines
                .iter()
                .all(|v| v["event"].is_string() && v.get("stream_id").is_some())
        );

        let none = trawl(&["cat", "--format", "none"], &dir);
        assert!(none.status.success(), "{name}");
        assert!(
            none.stdout.is_empty(),
            "{name}: --format none printed events"
        );
        let summary = String::from_utf8_lossy(&none.stderr);
        assert!(
            summary.starts_with(&format!("{events} events ")),
            "{name}: {summary}"
        );
    }
}

/// Times print in the local time zone, as babeltrace2 prints them.
#[test]
fn times_follow_the_local_time_zone() {
    if oracle_missing() {
        return;
    }
    for tz in ["America/Montreal", "Asia/Kolkata"] {
        for name in ["wk-heartbeat-u", "multi-domains"] {
            let dir = corpus("succeed").join(name);
            let run = |program: &str, args: &[&str]| {
                Command::new(program)
                    .args(args)
                    .arg(&dir)
                    .env("TZ", tz)
                    .output()
                    .unwrap()
            };
            let ours = run(env!("CARGO_BIN_EXE_trawl"), &["cat"]);
            let theirs = run("babeltrace2", &[]);
            assert!(
                ours.stdout == theirs.stdout,
                "{}",
                describe(&format!("{name} in {tz}"), &ours, &theirs)
            );
        }
    }
}

/// `trawl cat T | head` ends quietly when `head` has read enough.
#[test]
fn a_closed_pipe_ends_quietly() {
    use std::io::Read;
    let dir = corpus("succeed").join("lttng-tracefile-rotation");
    let mut child = Command::new(env!("CARGO_BIN_EXE_trawl"))
        .args(["cat"])
        .arg(&dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 64];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap(); // then drop: pipe closed
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One trace with bad metadata next to a good one: the good one is printed,
/// the bad one named, and the exit status says something went wrong.
#[test]
fn a_bad_trace_does_not_stop_the_others() {
    let dir = tempfile::tempdir().unwrap();
    for (from, to) in [("succeed/smalltrace", "good"), ("fail/fail2", "bad")] {
        let src = corpus(from);
        std::fs::create_dir(dir.path().join(to)).unwrap();
        for f in std::fs::read_dir(&src).unwrap() {
            let f = f.unwrap().path();
            std::fs::copy(&f, dir.path().join(to).join(f.file_name().unwrap())).unwrap();
        }
    }
    let out = trawl(&["cat"], dir.path());
    let good = trawl(&["cat"], &corpus("succeed/smalltrace"));
    assert_eq!(out.stdout, good.stdout);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad: metadata: line 9, column 16"),
        "{stderr}"
    );
}
