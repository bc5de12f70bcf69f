//! Running commands and daemons: capture, deadlines, termination.

use std::fs;
use std::io::{self, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::{EXIT_GRACE, LttngError, Result};

/// Whether `program` is on `PATH`.
pub(super) fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

/// A printable command line.
pub(super) fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        s.push(' ');
        s.push_str(&arg.to_string_lossy());
    }
    s
}

/// Runs `cmd` to the end (or kills it after `timeout`), capturing its output.
/// Non-zero exit is an error naming the command and its stderr.
pub fn run_captured(cmd: &mut Command, timeout: Duration) -> Result<Output> {
    let command = describe(cmd);
    run_labeled(cmd, command, timeout)
}

/// [`run_captured`], naming the command `command` in errors.
pub(super) fn run_labeled(cmd: &mut Command, command: String, timeout: Duration) -> Result<Output> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| LttngError::Spawn {
            command: command.clone(),
            source,
        })?;
    // Drain both pipes on threads so a chatty child never blocks on a full pipe.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let status = wait_deadline(&mut child, timeout).map_err(|source| LttngError::Spawn {
        command: command.clone(),
        source,
    })?;
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(LttngError::Timeout { command, timeout });
    };
    let output = Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    };
    if !output.status.success() {
        let text = if output.stderr.is_empty() {
            &output.stdout
        } else {
            &output.stderr
        };
        return Err(LttngError::Command {
            command,
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(text).trim().to_owned(),
        });
    }
    Ok(output)
}

/// Waits for `child` until `timeout`; `None` if it is still running.
pub(super) fn wait_deadline(
    child: &mut Child,
    timeout: Duration,
) -> io::Result<Option<ExitStatus>> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// Stops a daemon: SIGTERM (so it cleans up its consumer daemons), then SIGKILL.
pub(super) fn terminate(child: &mut Child) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .stderr(Stdio::null())
        .status();
    if !matches!(wait_deadline(child, EXIT_GRACE), Ok(Some(_))) {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// The last lines of a daemon log, for error messages.
pub(super) fn log_tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(15)..].join("\n");
    if tail.is_empty() {
        "(empty)".to_owned()
    } else {
        tail
    }
}
