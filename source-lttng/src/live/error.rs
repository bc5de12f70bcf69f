//! Errors of the live client. Each names the relay address, the command in
//! flight and what was wrong, so a user can tell a down relay from a wrong
//! session name from a misbehaving server.

use std::time::Duration;

use super::metadata::MetadataPacketError;
use super::proto::{AttachStatus, Command, ProtoError};
use super::url::UrlError;

/// An error of the live viewer client.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// The URL cannot be used.
    #[error(transparent)]
    Url(#[from] UrlError),
    /// TCP connect to the relay failed.
    #[error("relay {addr}: cannot connect: {source}")]
    Connect {
        /// Relay address.
        addr: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Reading or writing the socket failed (connection reset, closed by the relay...).
    #[error("relay {addr}: {cmd}: {source}")]
    Io {
        /// Relay address.
        addr: String,
        /// Command in flight.
        cmd: Command,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The relay did not answer in time.
    #[error("relay {addr}: {cmd}: no reply within {after:?}")]
    Timeout {
        /// Relay address.
        addr: String,
        /// Command in flight.
        cmd: Command,
        /// The timeout.
        after: Duration,
    },
    /// The reply is malformed.
    #[error("relay {addr}: {cmd}: malformed reply: {source}")]
    Protocol {
        /// Relay address.
        addr: String,
        /// Command in flight.
        cmd: Command,
        /// What was wrong.
        #[source]
        source: ProtoError,
    },
    /// The relay speaks another major protocol version.
    #[error("relay {addr}: protocol version {major}.{minor} is not supported (need 2.x)")]
    Version {
        /// Relay address.
        addr: String,
        /// Relay major.
        major: u32,
        /// Relay minor.
        minor: u32,
    },
    /// The relay refused a command with a status.
    #[error("relay {addr}: {cmd}: {status}")]
    Refused {
        /// Relay address.
        addr: String,
        /// Command.
        cmd: Command,
        /// The status, explained.
        status: String,
    },
    /// The metadata stream of a trace holds a malformed packet.
    #[error("relay {addr}: trace {trace_id}: {source}")]
    Metadata {
        /// Relay address.
        addr: String,
        /// The trace (`ctf_trace_id`).
        trace_id: u64,
        /// What was wrong.
        #[source]
        source: MetadataPacketError,
    },
    /// ATTACH_SESSION was refused.
    #[error("relay {addr}: ATTACH_SESSION {session_id}: {}", attach_refusal(*.status))]
    AttachRefused {
        /// Relay address.
        addr: String,
        /// Relay session id.
        session_id: u64,
        /// The relay's answer.
        status: AttachStatus,
    },
    /// An earlier command failed mid-reply, so the byte stream is out of step.
    #[error("relay {addr}: connection unusable after an earlier error; reconnect")]
    Broken {
        /// Relay address.
        addr: String,
    },
    /// No relay session matches the URL's hostname and session name.
    #[error(
        "relay {addr}: no live session `{session}` of host `{hostname}` \
         (list them with `trawl ls net://{addr}`)"
    )]
    SessionNotFound {
        /// Relay address.
        addr: String,
        /// Traced host asked for.
        hostname: String,
        /// Session name asked for.
        session: String,
    },
}

impl LiveError {
    /// Whether reconnecting may help (the relay went away or stalled), as
    /// opposed to a bad URL, a refused attach or a server that speaks garbage.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            LiveError::Connect { .. }
                | LiveError::Io { .. }
                | LiveError::Timeout { .. }
                | LiveError::Broken { .. }
        )
    }
}

/// What an ATTACH_SESSION refusal means, for users.
fn attach_refusal(status: AttachStatus) -> &'static str {
    match status {
        AttachStatus::Ok => "attached",
        AttachStatus::Already => "another viewer is already attached to this session",
        AttachStatus::Unknown => {
            "no such session (destroyed, or a CTF 2 session hidden from this protocol version)"
        }
        AttachStatus::NotLive => {
            "the session is not a live session (create it with `lttng create --live`)"
        }
        AttachStatus::SeekErr => "the relay could not seek in the session",
        AttachStatus::NoSession => "no viewer session (CREATE_SESSION was not sent)",
    }
}
