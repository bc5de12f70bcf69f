//! Why an event could not be rendered.
//!
//! Every variant is a broken contract between the decoder's Arrow batches
//! (notes: arrow-mapping) and the trace class they were decoded with; the
//! formatter never guesses, it names the class, the column and the value.

use arrow_schema::DataType;

/// An event that cannot be rendered from its batch and trace class.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FormatError {
    /// The trace class has no stream class with this id.
    #[error("no stream class with id {id} in the trace class")]
    UnknownStreamClass {
        /// The stream class id asked for.
        id: u64,
    },
    /// The stream class has no event class with this id.
    #[error("no event class with id {id} in stream class {stream_class_id}")]
    UnknownEventClass {
        /// The stream class searched.
        stream_class_id: u64,
        /// The event class id asked for.
        id: u64,
    },
    /// The batch has fewer rows than the row asked for.
    #[error("row {row} is out of range: the batch has {rows} rows")]
    RowOutOfRange {
        /// The row asked for.
        row: usize,
        /// Rows in the batch.
        rows: usize,
    },
    /// The batch has fewer columns than the trace class needs.
    #[error(
        "event class {event:?}: field {field:?} needs column {column} but the batch has {columns}"
    )]
    MissingColumn {
        /// The event class name.
        event: String,
        /// The field (metadata name).
        field: String,
        /// The column index needed.
        column: usize,
        /// Columns in the batch.
        columns: usize,
    },
    /// A column or nested child does not have the Arrow type the field's
    /// CTF type maps to.
    #[error("event class {event:?}: field {field:?} is {found} in the batch, expected {expected}")]
    ColumnType {
        /// The event class name.
        event: String,
        /// The field (metadata name).
        field: String,
        /// What the mapping contract says.
        expected: &'static str,
        /// What the batch holds.
        found: DataType,
    },
    /// A value that the CTF decoder always produces is null.
    #[error("field {field:?} is null at index {index}")]
    NullValue {
        /// The field (metadata name).
        field: String,
        /// Index in its Arrow array.
        index: usize,
    },
    /// A variant value with no option selected.
    #[error("variant {field:?} has no selected option at index {index}")]
    NoVariantOption {
        /// The variant field (metadata name).
        field: String,
        /// Index in its Arrow array.
        index: usize,
    },
}
