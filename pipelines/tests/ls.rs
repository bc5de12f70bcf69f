//! `trawl ls` against babeltrace2's session listing, on a real relay daemon.

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

use crate::common::lttng::ALL_CONTEXTS;
use crate::common::lttng_or_skip;

#[test]
fn lists_live_sessions_like_babeltrace2() {
    let Some(daemon) = lttng_or_skip() else {
        return;
    };
    if Command::new("babeltrace2")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: babeltrace2 is not installed (make test installs it)");
        return;
    }
    let relayd = daemon
        .start_relayd(&daemon.home().join("relayd"))
        .expect("lttng-relayd");
    let session = daemon
        .session("alpha")
        .live(&relayd, 200_000)
        .contexts(ALL_CONTEXTS)
        .start_traced(Path::new("/bin/ls"), &["/"])
        .expect("traced ls in a live session");

    let url = relayd.live_url();
    let ours = Command::new(env!("CARGO_BIN_EXE_trawl"))
        .args(["ls", &url])
        .output()
        .unwrap();
    let theirs = Command::new("babeltrace2")
        .args(["--input-format=lttng-live", &url])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&ours.stdout);
    assert!(
        ours.status.success(),
        "{}",
        String::from_utf8_lossy(&ours.stderr)
    );
    assert_eq!(text, String::from_utf8_lossy(&theirs.stdout));
    assert!(text.starts_with(&format!("{url}/host/")), "{text}");
    assert!(text.contains("/alpha (timer = 200000, "), "{text}");
    session.stop().expect("stop");
    session.destroy().expect("destroy");
}

/// Nothing listens: the error names the address, and the exit status is 2.
#[test]
fn an_unreachable_relay_is_a_clear_error() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    }; // closed again: nobody listens there now
    let url = format!("net://127.0.0.1:{port}");
    let out = Command::new(env!("CARGO_BIN_EXE_trawl"))
        .args(["ls", &url, "--timeout", "2"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&format!("127.0.0.1:{port}")), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
