//! Cross-host correlation: packet matching, convex-hull clock sync, flows and
//! spans (DESIGN.md §1, §4).
//!
//! Empty until the correlation issue lands; nothing here pretends to work.
