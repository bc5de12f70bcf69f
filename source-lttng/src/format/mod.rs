//! Text renderings of decoded events.
//!
//! - [`PrettyFormatter`]: babeltrace2's default text output, byte for byte
//!   (what `trawl cat` prints; `TZ=UTC babeltrace2 TRACE` is the oracle).
//! - [`JsonFormatter`]: one JSON object per event per line, mirroring the
//!   Arrow columns (the shape is documented on the type).
//!
//! Both take an event as a row of its event class's Arrow batch (the
//! mapping contract of the decoder) plus the resolved [`TraceClass`], which
//! carries what Arrow does not: display bases, enum mappings, the env, the
//! clocks.
//!
//! A one-event trace, decoded and printed:
//!
//! ```
//! use std::sync::Arc;
//! use trawl_source_lttng::decode::TraceDecoder;
//! use trawl_source_lttng::format::{JsonFormatter, PrettyFormatter};
//! use trawl_source_lttng::metadata::parse_metadata;
//!
//! let class = Arc::new(parse_metadata(
//!     "/* CTF 1.8 */
//!      trace { major = 1; minor = 8; byte_order = le; };
//!      env { hostname = \"box\"; };
//!      event { name = greeting; fields := struct { string _text; }; };",
//! )?);
//! let decoder = TraceDecoder::new(Arc::clone(&class))?;
//! let mut stream = decoder.new_stream(0);
//! stream.decode_packet(&decoder, b"hi?\0", 0)?; // no header: the file is one packet
//! let events = stream.take(&decoder)?;
//!
//! let mut out = Vec::new();
//! let (sc, ec) = (events.stream_class_ids[0], events.event_class_ids[0]);
//! PrettyFormatter::new().write_event(&mut out, &class, sc, ec, &events.batches[0], 0)?;
//! // No clock: no timestamp. `_text` loses its `_`; `?` is escaped.
//! assert_eq!(out, b"box greeting: { text = \"hi\\?\" }\n");
//!
//! out.clear();
//! JsonFormatter::new().write_event(&mut out, &class, &events.batches[0], 0)?;
//! assert_eq!(
//!     String::from_utf8(out)?,
//!     "{\"ts\":null,\"time\":null,\"host\":\"box\",\"domain\":\"\",\"stream_id\":0,\
//!      \"cpu\":null,\"event\":\"greeting\",\"text\":\"hi?\"}\n"
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`TraceClass`]: crate::metadata::TraceClass

mod error;
mod json;
mod layout;
mod notice;
mod pretty;
mod render;
#[cfg(test)]
mod test_util;
mod text;
mod values;

pub use error::FormatError;
pub use json::JsonFormatter;
pub use notice::{DiscardedNotice, trace_name};
pub use pretty::PrettyFormatter;
