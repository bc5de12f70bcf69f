//! Decode plans and the packet decoder (filled by the decoder work).
