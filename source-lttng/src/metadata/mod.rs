//! CTF 1.8 metadata: the resolved trace class model and the TSDL parser.

mod model;

pub use model::*;
