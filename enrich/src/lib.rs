//! Container enrichment: runtime watchers, the container-record stream and the
//! join of container metadata onto events (DESIGN.md §1, §2).
//!
//! Empty until the enrichment issue lands; nothing here pretends to work.
