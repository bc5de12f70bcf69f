//! The live viewer client, end to end.
//!
//! - `real_relay`: against a real `lttng-relayd` fed by a private
//!   `lttng-sessiond`, tracing `lttng_ust_libc:*` of short processes;
//! - `decode`: live packets through the metadata parser and the decoder,
//!   compared with babeltrace2 on the relay's output;
//! - `fake_relay`: against fake relays that lie, and a scripted one.
//!
//! Privacy: a root session daemon always uses `/var/run/lttng` (and
//! `/dev/shm`), whatever `LTTNG_HOME` says, and other tests on this machine
//! may run one. So our session daemon, the `lttng` commands and the traced
//! programs run in their own mount namespace with private tmpfs mounts over
//! both (`unshare --mount`, then `nsenter`). The relay daemon only speaks TCP
//! on free loopback ports. Without lttng (or without the right to unshare)
//! the tests print `skipped: ...` and pass.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers too: a failed unwrap is a failed test"
)]

#[macro_use]
mod relay;

mod decode;
mod fake_relay;
mod real_relay;
mod source;
