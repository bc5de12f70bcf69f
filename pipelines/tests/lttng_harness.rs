//! The LTTng harness itself, checked against babeltrace2: real daemons, real
//! traced programs, every context the pipeline relies on.

use std::path::Path;
use std::process::Command;

use crate::common::lttng::{self, ALL_CONTEXTS, Buffers, LttngDaemon, LttngError};
use crate::common::lttng_or_skip;

/// `babeltrace2 ARGS` (UTC), or `None` with a "skipped" line if it is missing.
fn babeltrace2(args: &[&str]) -> Option<String> {
    let out = match Command::new("babeltrace2")
        .args(args)
        .env("TZ", "UTC")
        .output()
    {
        Ok(out) => out,
        Err(e) => {
            eprintln!("skipped: babeltrace2: {e}");
            return None;
        }
    };
    assert!(
        out.status.success(),
        "babeltrace2 {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The `lttng_ust_libc:*` lines of the text dump of `trace`.
fn libc_events(trace: &Path) -> Option<Vec<String>> {
    let text = babeltrace2(&[trace.to_str()?])?;
    Some(
        text.lines()
            .filter(|l| l.contains(" lttng_ust_libc:"))
            .map(str::to_owned)
            .collect(),
    )
}

/// Every event line carries every context, and the program's name.
fn assert_contexts(events: &[String], procname: &str) {
    assert!(!events.is_empty(), "no lttng_ust_libc events");
    for line in events {
        for context in ALL_CONTEXTS {
            assert!(
                line.contains(&format!("{context} = ")),
                "{context} missing: {line}"
            );
        }
        assert!(
            line.contains(&format!("procname = \"{procname}\"")),
            "{line}"
        );
    }
}

/// Records `program ARGS` into a fresh session with all contexts; returns the trace.
fn record(
    daemon: &LttngDaemon,
    name: &str,
    buffers: Buffers,
    program: &str,
    args: &[&str],
) -> std::path::PathBuf {
    daemon
        .session(name)
        .buffers(buffers)
        .contexts(ALL_CONTEXTS)
        .record(Path::new(program), args)
        .expect("record")
}

#[test]
fn per_uid_trace_of_ls_has_libc_events_with_all_contexts() {
    let Some(daemon) = lttng_or_skip() else {
        return;
    };
    let trace = record(&daemon, "peruid", Buffers::PerUid, "/bin/ls", &["-l", "/"]);
    assert!(
        trace.join("ust/uid").is_dir(),
        "per-UID layout: {}",
        trace.display()
    );
    let Some(events) = libc_events(&trace) else {
        return;
    };
    assert_contexts(&events, "ls");
}

#[test]
fn per_pid_trace_of_true_has_libc_events_with_all_contexts() {
    let Some(daemon) = lttng_or_skip() else {
        return;
    };
    let trace = record(&daemon, "perpid", Buffers::PerPid, "/bin/true", &[]);
    assert!(
        trace.join("ust/pid").is_dir(),
        "per-PID layout: {}",
        trace.display()
    );
    let Some(events) = libc_events(&trace) else {
        return;
    };
    assert_contexts(&events, "true");
}

#[test]
fn malloc_loop_trace_is_loss_free() {
    let Some(daemon) = lttng_or_skip() else {
        return;
    };
    let iterations = 200_000;
    let out = daemon.home().join("malloc");
    let trace = lttng::record_malloc_trace(&daemon, "malloc", &out, iterations, Buffers::PerUid)
        .expect("record malloc loop");
    let Some(counts) = babeltrace2(&["-c", "sink.utils.counter", trace.to_str().expect("utf-8")])
    else {
        return;
    };
    // The counter prints running totals; the last block is the final one.
    let last = |what: &str| -> u64 {
        counts
            .lines()
            .filter(|l| l.trim_end().ends_with(what))
            .filter_map(|l| l.split_whitespace().next()?.parse().ok())
            .next_back()
            .unwrap_or_else(|| panic!("no {what:?} in {counts}"))
    };
    let events = last("Event messages");
    assert!(
        (2 * iterations..2 * iterations + 100).contains(&events),
        "{events} events for {iterations} malloc/free pairs"
    );
    assert_eq!(last("Discarded event messages"), 0);
    assert_eq!(last("Discarded packet messages"), 0);
}

#[test]
fn live_session_through_private_relayd() {
    let Some(daemon) = lttng_or_skip() else {
        return;
    };
    let relayd = daemon
        .start_relayd(&daemon.home().join("relayd"))
        .expect("start lttng-relayd");
    assert!(relayd.live_url().starts_with("net://127.0.0.1:"));
    let trace = daemon
        .session("live")
        .live(&relayd, 100_000)
        .contexts(ALL_CONTEXTS)
        .record(Path::new("/bin/ls"), &["/"])
        .expect("record live ls");
    assert!(
        trace.starts_with(relayd.output()) && trace != relayd.output(),
        "{}",
        trace.display()
    );
    let Some(events) = libc_events(&trace) else {
        return;
    };
    assert_contexts(&events, "ls");
}

#[test]
fn two_daemons_with_the_same_session_name_do_not_see_each_other() {
    let Some(first) = lttng_or_skip() else { return };
    let Some(second) = lttng_or_skip() else {
        return;
    };
    let a = record(&first, "same", Buffers::PerPid, "/bin/true", &[]);
    let b = record(&second, "same", Buffers::PerPid, "/bin/ls", &["/"]);
    let (Some(a), Some(b)) = (libc_events(&a), libc_events(&b)) else {
        return;
    };
    assert_contexts(&a, "true");
    assert_contexts(&b, "ls");
}

#[test]
fn failing_lttng_command_names_the_command_and_its_stderr() {
    let Some(daemon) = lttng_or_skip() else {
        return;
    };
    let err = daemon
        .lttng(&["enable-event", "-u", "-s", "no-such-session", "x"])
        .expect_err("no such session");
    match &err {
        LttngError::Command {
            command, stderr, ..
        } => {
            assert!(
                command.contains("lttng --no-sessiond enable-event"),
                "{command}"
            );
            assert!(!stderr.is_empty(), "{err}");
        }
        other => panic!("unexpected error: {other}"),
    }
}
