//! Reading single values out of Arrow arrays for the text renderings.

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrayRef, StructArray};
use arrow_schema::DataType;

use super::FormatError;

fn null(field: &str, index: usize) -> FormatError {
    FormatError::NullValue {
        field: field.to_string(),
        index,
    }
}

fn wrong(field: &str, expected: &'static str, arr: &dyn Array) -> FormatError {
    FormatError::ColumnType {
        event: String::new(),
        field: field.to_string(),
        expected,
        found: arr.data_type().clone(),
    }
}

/// The integer at `index` of any Arrow integer array, widened.
pub(crate) fn int_at(arr: &dyn Array, index: usize, field: &str) -> Result<i128, FormatError> {
    if arr.is_null(index) {
        return Err(null(field, index));
    }
    let v = match arr.data_type() {
        DataType::Int8 => i128::from(arr.as_primitive::<Int8Type>().value(index)),
        DataType::Int16 => i128::from(arr.as_primitive::<Int16Type>().value(index)),
        DataType::Int32 => i128::from(arr.as_primitive::<Int32Type>().value(index)),
        DataType::Int64 => i128::from(arr.as_primitive::<Int64Type>().value(index)),
        DataType::UInt8 => i128::from(arr.as_primitive::<UInt8Type>().value(index)),
        DataType::UInt16 => i128::from(arr.as_primitive::<UInt16Type>().value(index)),
        DataType::UInt32 => i128::from(arr.as_primitive::<UInt32Type>().value(index)),
        DataType::UInt64 => i128::from(arr.as_primitive::<UInt64Type>().value(index)),
        _ => return Err(wrong(field, "an integer", arr)),
    };
    Ok(v)
}

/// The float at `index` of a Float32 or Float64 array, as `f64`.
pub(crate) fn float_at(arr: &dyn Array, index: usize, field: &str) -> Result<f64, FormatError> {
    if arr.is_null(index) {
        return Err(null(field, index));
    }
    match arr.data_type() {
        DataType::Float32 => Ok(f64::from(
            arr.as_primitive::<arrow_array::types::Float32Type>()
                .value(index),
        )),
        DataType::Float64 => Ok(arr
            .as_primitive::<arrow_array::types::Float64Type>()
            .value(index)),
        _ => Err(wrong(field, "a float", arr)),
    }
}

/// The string at `index` of a Utf8 array.
pub(crate) fn str_at<'a>(
    arr: &'a dyn Array,
    index: usize,
    field: &str,
) -> Result<&'a str, FormatError> {
    if arr.is_null(index) {
        return Err(null(field, index));
    }
    match arr.as_string_opt::<i32>() {
        Some(s) => Ok(s.value(index)),
        None => Err(wrong(field, "Utf8", arr)),
    }
}

/// The struct array `arr`, checked non-null at `index`.
pub(crate) fn struct_at<'a>(
    arr: &'a dyn Array,
    index: usize,
    field: &str,
) -> Result<&'a StructArray, FormatError> {
    if arr.is_null(index) {
        return Err(null(field, index));
    }
    arr.as_struct_opt()
        .ok_or_else(|| wrong(field, "a struct", arr))
}

/// The element values of the list at `index`: the child array and the
/// range of its indexes (List or FixedSizeList).
pub(crate) fn list_at<'a>(
    arr: &'a dyn Array,
    index: usize,
    field: &str,
) -> Result<(&'a ArrayRef, std::ops::Range<usize>), FormatError> {
    if arr.is_null(index) {
        // A zero-length array has nothing to hold: accept it null.
        if let Some(l) = arr.as_fixed_size_list_opt()
            && l.value_length() == 0
        {
            return Ok((l.values(), 0..0));
        }
        return Err(null(field, index));
    }
    if let Some(l) = arr.as_list_opt::<i32>() {
        let offsets = l.value_offsets();
        let start = usize::try_from(offsets[index]).unwrap_or(0);
        let end = usize::try_from(offsets[index + 1]).unwrap_or(start);
        return Ok((l.values(), start..end.max(start)));
    }
    if let Some(l) = arr.as_fixed_size_list_opt() {
        let start = usize::try_from(l.value_offset(index)).unwrap_or(0);
        let len = usize::try_from(l.value_length()).unwrap_or(0);
        return Ok((l.values(), start..start + len));
    }
    Err(wrong(field, "a List or FixedSizeList", arr))
}
