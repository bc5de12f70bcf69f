//! Partitioned, rolling, atomically visible Parquet writer and the DataFusion
//! catalog over it (DESIGN.md §1).
//!
//! Empty until the Parquet sink issue lands; nothing here pretends to work.
