//! The LTTng live viewer client: read traces from `lttng-relayd` while they
//! are being recorded.
//!
//! Three layers, each usable alone:
//! - [`proto`]: the wire structs of the viewer protocol, encode/decode over
//!   big-endian bytes, every length and count checked before use;
//! - [`ViewerConnection`]: one TCP connection, one command at a time, with
//!   the version handshake, timeouts and errors that name command and relay;
//! - [`LiveSession`]: attaches to every relay session of one traced host and
//!   session name (kernel and user-space domains are separate relay sessions),
//!   fetches metadata and packets of all streams, and hands out
//!   [`LiveItem`]s: metadata growth, packets, inactivity beacons, stream and
//!   session ends. Decoding the packets is the caller's job: feed
//!   `MetadataGrew` bytes to the metadata parser and `Packet` bytes to the
//!   stream decoder of that trace.
//!
//! ```no_run
//! # async fn demo() -> Result<(), trawl_source_lttng::live::LiveError> {
//! use trawl_source_lttng::live::{LiveItem, LiveSessionBuilder, Seek};
//!
//! let mut session = LiveSessionBuilder::parse("net://localhost/host/web-1/my-session")?
//!     .seek(Seek::Beginning)
//!     .connect()
//!     .await?;
//! while let Some(item) = session.next().await? {
//!     match item {
//!         LiveItem::MetadataGrew { trace_id, text_so_far, .. } => { /* (re)parse */ }
//!         LiveItem::Packet { trace_id, bytes, index, .. } => { /* decode at index.offset */ }
//!         _ => {}
//!     }
//! }
//! session.close().await;
//! # Ok(()) }
//! ```

mod conn;
mod decoder;
mod error;
mod metadata;
pub mod proto;
mod session;
mod source;
mod url;

pub use conn::{
    DEFAULT_COMMAND_TIMEOUT, MetadataChunk, NewStreams, PACKET_REQUEST_MAX, PacketData,
    ViewerConnection,
};
pub use decoder::{LiveDecodeError, LiveDecoder, StreamRows};
pub use error::LiveError;
pub use metadata::MetadataPacketError;
pub use proto::{Flags, Seek, SessionEntry, StreamEntry, TraceFormat, ViewerIndex};
pub use session::{
    DEFAULT_POLL_INTERVAL, DEFAULT_RELIST_INTERVAL, LiveItem, LiveSession, LiveSessionBuilder,
    SessionNotFoundAction, list_sessions,
};
pub use source::{
    CLOSE_TIMEOUT, DEFAULT_QUEUE, DEFAULT_RECONNECT_MAX, DEFAULT_RECONNECT_MIN, LiveOutput,
    LiveSource, LiveSourceBuilder, LiveSourceError,
};
pub use url::{DEFAULT_VIEWER_PORT, LiveUrl, SessionTarget, UrlError};
