//! Text renderings of decoded events (filled by the formatter work).
