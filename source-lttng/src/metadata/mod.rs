//! CTF 1.8 metadata: the resolved trace class model and the TSDL parser.
//!
//! [`metadata_text`] turns the bytes of a metadata stream (plain text or
//! packetized) into TSDL text; [`parse_metadata`] turns the text into a
//! [`TraceClass`]. The pipeline is lexer → recursive-descent parser (which
//! expands type aliases in lexical scope) → resolver (which resolves variant
//! tags and sequence lengths into [`FieldPath`]s and attaches events to their
//! stream classes).
//!
//! Metadata grows while a live session traces (new event classes, new stream
//! classes are appended). There is no incremental state: call
//! [`parse_metadata`] again on the whole, longer text. Parsing is linear and
//! fast (the 1,400-event-class LTTng kernel metadata takes a few
//! milliseconds in release builds), and a fresh parse guarantees the result
//! is exactly what a reader of the full text would get.
//!
//! ```
//! use trawl_source_lttng::metadata::{metadata_text, parse_metadata};
//! let text = metadata_text(b"/* CTF 1.8 */
//!     typealias integer { size = 8; } := uint8_t;
//!     trace { major = 1; minor = 8; byte_order = le; };
//!     event { name = \"hello\"; fields := struct { uint8_t x; }; };").unwrap();
//! let tc = parse_metadata(&text).unwrap();
//! assert_eq!(tc.streams[0].events[0].name, "hello");
//! ```

mod attrs;
mod error;
mod lexer;
mod model;
mod packetized;
mod parser;
mod resolve;
mod types;

pub use error::{MetadataError, Pos};
pub use model::*;

/// Turns metadata stream bytes into TSDL text.
///
/// Packetized streams (packets starting with magic 0x75D11D57 in either byte
/// order, 37-byte header) are checked (no compression, encryption or
/// checksum, version 1.8, one UUID) and their payloads concatenated. Anything
/// else is taken as plain text. Invalid UTF-8 is replaced (TSDL is ASCII;
/// only string literals could carry other bytes).
pub fn metadata_text(bytes: &[u8]) -> Result<String, MetadataError> {
    if packetized::is_packetized(bytes) {
        let text = packetized::depacketize(bytes)?;
        Ok(String::from_utf8_lossy(&text).into_owned())
    } else {
        Ok(String::from_utf8_lossy(bytes).into_owned())
    }
}

/// Parses a whole TSDL text into the resolved trace class.
///
/// Call it again on the full, longer text when live metadata grows.
pub fn parse_metadata(text: &str) -> Result<TraceClass, MetadataError> {
    let tokens = lexer::tokenize(text)?;
    let parsed = parser::Parser::new(&tokens).parse()?;
    resolve::resolve(parsed)
}
