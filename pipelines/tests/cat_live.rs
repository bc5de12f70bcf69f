//! `trawl cat net://...` on a real relay daemon, against babeltrace2 reading
//! what the relay wrote.

use std::io::Read;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::lttng::{LiveRecording, RUN_TIMEOUT};
use crate::common::lttng_or_skip;

fn trawl_cat(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_trawl"))
        .arg("cat")
        .args(args)
        .env("TZ", "UTC")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for `child` (at most `timeout`): its status, stdout and stderr.
fn wait(mut child: Child, timeout: Duration) -> (std::process::ExitStatus, Vec<u8>, String) {
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut b = Vec::new();
        stdout.read_to_end(&mut b).unwrap();
        b
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        stderr.read_to_string(&mut s).unwrap();
        s
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("trawl cat did not end within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (status, out.join().unwrap(), err.join().unwrap())
}

#[test]
fn live_cat_prints_what_babeltrace2_prints_from_the_relay_output() {
    let Some(daemon) = lttng_or_skip() else {
        return;
    };
    let LiveRecording {
        relayd,
        session,
        url,
    } = daemon.live_recording("kitten").expect("live session");
    let cat = trawl_cat(&[
        &url,
        "--from-beginning",
        "--session-not-found-action",
        "end",
    ]);
    for dir in ["/usr/lib", "/usr/share", "/etc"] {
        session
            .run_traced(Path::new("/bin/ls"), &["-la", dir], RUN_TIMEOUT)
            .unwrap();
    }
    session.stop().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    session.destroy().unwrap();
    let (status, ours, stderr) = wait(cat, Duration::from_secs(60));
    assert!(status.success(), "{status}: {stderr}");

    let Ok(bt) = Command::new("babeltrace2")
        .arg(relayd.output())
        .env("TZ", "UTC")
        .output()
    else {
        eprintln!("skipped the comparison: babeltrace2 is not installed (make test installs it)");
        return;
    };
    let theirs = String::from_utf8_lossy(&bt.stdout);
    let ours = String::from_utf8_lossy(&ours);
    assert!(theirs.lines().count() > 100);
    assert_eq!(ours.lines().count(), theirs.lines().count());
    // Same events, same values, same order (so the same time deltas).
    assert!(ours == theirs, "outputs differ");
}

/// No such session: `fail` says so and exits 2, `end` exits quietly.
#[test]
fn session_not_found_actions() {
    let Some(daemon) = lttng_or_skip() else {
        return;
    };
    let relayd = daemon
        .start_relayd(&daemon.home().join("relayd"))
        .expect("lttng-relayd");
    let url = relayd.session_url("nobody-home");

    let fail = trawl_cat(&[&url, "--session-not-found-action", "fail"]);
    let (status, out, err) = wait(fail, Duration::from_secs(30));
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(out.is_empty());
    assert!(err.contains("nobody-home"), "{err}");

    let end = trawl_cat(&[&url, "--session-not-found-action", "end"]);
    let (status, out, err) = wait(end, Duration::from_secs(30));
    assert!(status.success(), "{err}");
    assert!(out.is_empty());
}

/// Nothing listens: `trawl cat` keeps retrying and says so on stderr; a
/// plain directory mixed with a URL is refused.
#[test]
fn unreachable_relay_is_retried_and_reported() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("net://127.0.0.1:{port}/host/h/s");
    let mut cat = trawl_cat(&[&url]);
    std::thread::sleep(Duration::from_millis(1500));
    let _ = cat.kill();
    let (_, out, err) = wait(cat, Duration::from_secs(10));
    assert!(out.is_empty());
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    assert!(err.contains("reconnecting"), "{err}");

    let mixed = trawl_cat(&[&url, "/tmp"]);
    let (status, _, err) = wait(mixed, Duration::from_secs(10));
    assert_eq!(status.code(), Some(2));
    assert!(err.contains("cannot be read together"), "{err}");
}
