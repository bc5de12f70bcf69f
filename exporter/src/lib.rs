//! Per-container aggregations and the Prometheus/OpenMetrics endpoint
//! (DESIGN.md §1).
//!
//! Empty until the metrics issue lands; nothing here pretends to work.
