//! What Parquet cannot hold: a struct without fields (a CTF `struct {}`).
//! Such columns and struct members carry no value, only validity; they are
//! left out of Parquet files (Arrow IPC files keep them).

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, RecordBatch, StructArray};
use arrow_schema::{DataType, Field, FieldRef, Fields, Schema};

use crate::error::Result;

/// `batch` without empty-struct columns and members; unchanged (no copy)
/// when it has none.
pub(crate) fn without_empty_structs(batch: RecordBatch) -> Result<RecordBatch> {
    if !batch
        .schema_ref()
        .fields()
        .iter()
        .any(|f| has_empty_struct(f.data_type()))
    {
        return Ok(batch);
    }
    let schema = batch.schema();
    let mut fields = Vec::new();
    let mut columns = Vec::new();
    for (field, column) in schema.fields().iter().zip(batch.columns()) {
        if let Some((field, column)) = strip(field, column) {
            fields.push(field);
            columns.push(column);
        }
    }
    let schema = Schema::new_with_metadata(fields, schema.metadata().clone());
    Ok(RecordBatch::try_new(Arc::new(schema), columns)?)
}

fn has_empty_struct(t: &DataType) -> bool {
    match t {
        DataType::Struct(fields) => {
            fields.is_empty() || fields.iter().any(|f| has_empty_struct(f.data_type()))
        }
        DataType::List(f)
        | DataType::LargeList(f)
        | DataType::FixedSizeList(f, _)
        | DataType::ListView(f)
        | DataType::LargeListView(f)
        | DataType::Map(f, _) => has_empty_struct(f.data_type()),
        _ => false,
    }
}

/// The column without empty-struct members, or `None` if nothing is left
/// (an empty struct, or a list whose items hold one: rare enough to drop).
fn strip(field: &FieldRef, column: &ArrayRef) -> Option<(FieldRef, ArrayRef)> {
    if !has_empty_struct(field.data_type()) {
        return Some((field.clone(), column.clone()));
    }
    let DataType::Struct(_) = field.data_type() else {
        return None;
    };
    let array = column.as_struct();
    let (children, arrays): (Vec<FieldRef>, Vec<ArrayRef>) = array
        .fields()
        .iter()
        .zip(array.columns())
        .filter_map(|(f, c)| strip(f, c))
        .unzip();
    if children.is_empty() {
        return None;
    }
    let stripped = StructArray::new(Fields::from(children), arrays, array.nulls().cloned());
    let field = Field::new(
        field.name(),
        stripped.data_type().clone(),
        field.is_nullable(),
    )
    .with_metadata(field.metadata().clone());
    Some((Arc::new(field), Arc::new(stripped)))
}

#[cfg(test)]
mod tests {
    use arrow_array::Int32Array;

    use super::*;

    #[test]
    fn empty_structs_are_left_out_and_the_rest_kept() {
        let empty = StructArray::new_empty_fields(2, None);
        let x: ArrayRef = Arc::new(Int32Array::from(vec![1, 2]));
        let nested = StructArray::from(vec![
            (Arc::new(Field::new("x", DataType::Int32, false)), x.clone()),
            (
                Arc::new(Field::new("e", empty.data_type().clone(), false)),
                Arc::new(empty.clone()) as ArrayRef,
            ),
        ]);
        let batch = RecordBatch::try_from_iter([
            ("a", x.clone()),
            ("empty", Arc::new(empty) as ArrayRef),
            ("s", Arc::new(nested) as ArrayRef),
        ])
        .unwrap();
        let out = without_empty_structs(batch).unwrap();
        let names: Vec<_> = out
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        assert_eq!(names, ["a", "s"]);
        let s = out.column(1).as_struct();
        assert_eq!(s.num_columns(), 1);
        assert_eq!(s.column(0).as_ref(), x.as_ref());
    }
}
