//! Container label sets: read from the enrichment columns of a batch once
//! per distinct container per batch, interned into small integer keys.

use std::collections::HashMap;

use arrow_array::cast::AsArray;
use arrow_array::types::Int32Type;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::DataType;
use trawl_core::envelope;

/// The enrichment columns (DESIGN.md §2) behind labels 1..7 of [`crate::ALL_LABELS`].
pub(crate) const COLUMNS: [&str; 6] = [
    "container_id",
    "container_name",
    "container_image",
    "k8s_namespace",
    "k8s_pod",
    "k8s_container",
];

/// Host + the six container labels.
pub(crate) type LabelValues = [String; 7];

/// A string column, plain or dictionary-encoded.
pub(crate) enum StrCol<'a> {
    Plain(&'a arrow_array::StringArray),
    Dict {
        keys: &'a arrow_array::PrimitiveArray<Int32Type>,
        values: &'a arrow_array::StringArray,
    },
}

impl<'a> StrCol<'a> {
    /// The column if it is Utf8 or Dictionary(Int32, Utf8).
    pub(crate) fn of(a: &'a ArrayRef) -> Option<StrCol<'a>> {
        match a.data_type() {
            DataType::Utf8 => Some(StrCol::Plain(a.as_string::<i32>())),
            DataType::Dictionary(k, v) if **k == DataType::Int32 && **v == DataType::Utf8 => {
                let d = a.as_dictionary::<Int32Type>();
                Some(StrCol::Dict {
                    keys: d.keys(),
                    values: d.values().as_string::<i32>(),
                })
            }
            _ => None,
        }
    }

    /// The value at `row` (`None` when null).
    #[inline]
    pub(crate) fn get(&self, row: usize) -> Option<&'a str> {
        match self {
            StrCol::Plain(s) => s.is_valid(row).then(|| s.value(row)),
            StrCol::Dict { keys, values } => {
                if !keys.is_valid(row) {
                    return None;
                }
                let k = keys.value(row) as usize;
                values.is_valid(k).then(|| values.value(k))
            }
        }
    }
}

/// The container key of each row of a batch.
pub(crate) enum RowKeys {
    /// Every row has this key.
    One(u32),
    /// Row `i` has key `keys[i]`.
    PerRow(Vec<u32>),
}

impl RowKeys {
    /// The key of `row`.
    #[inline]
    pub(crate) fn at(&self, row: usize) -> u32 {
        match self {
            RowKeys::One(k) => *k,
            RowKeys::PerRow(v) => v[row],
        }
    }
}

/// Interned label sets: the full set (for `trawl_container_info`) and the
/// series key (only the kept labels).
#[derive(Debug, Default)]
pub(crate) struct Interner {
    keep: [bool; 7],
    series: HashMap<LabelValues, u32>,
    /// Kept labels of each series key (dropped labels empty).
    pub(crate) series_labels: Vec<LabelValues>,
    /// Full label sets seen (for `trawl_container_info`), and when last.
    pub(crate) containers: HashMap<LabelValues, std::time::Instant>,
}

impl Interner {
    pub(crate) fn new(keep: [bool; 7]) -> Self {
        Self {
            keep,
            ..Self::default()
        }
    }

    /// The series key of a full label set.
    pub(crate) fn key(&mut self, full: LabelValues, now: std::time::Instant) -> u32 {
        let kept: LabelValues = std::array::from_fn(|i| {
            if self.keep[i] {
                full[i].clone()
            } else {
                String::new()
            }
        });
        if !full[1].is_empty() {
            self.containers.insert(full, now);
        }
        if let Some(&k) = self.series.get(&kept) {
            return k;
        }
        let k = self.series_labels.len() as u32;
        self.series.insert(kept.clone(), k);
        self.series_labels.push(kept);
        k
    }

    /// The container key of every row of `batch` of host `host`: one lookup
    /// per distinct `container_id` (dictionary key, or run of equal values).
    pub(crate) fn row_keys(
        &mut self,
        batch: &RecordBatch,
        host: &str,
        now: std::time::Instant,
    ) -> RowKeys {
        let cols: Vec<Option<StrCol<'_>>> = COLUMNS
            .iter()
            .map(|c| batch.column_by_name(c).and_then(StrCol::of))
            .collect();
        let full_at = |row: usize| -> LabelValues {
            let mut v: LabelValues = Default::default();
            v[0] = host.to_string();
            for (i, c) in cols.iter().enumerate() {
                if let Some(s) = c.as_ref().and_then(|c| c.get(row)) {
                    v[i + 1] = s.to_string();
                }
            }
            v
        };
        let n = batch.num_rows();
        match &cols[0] {
            None => RowKeys::One(self.key(full_at(0).clone(), now)),
            Some(StrCol::Dict { keys, values }) => {
                // The series key by dictionary key; the last slot for nulls
                // (and keys out of range, which `get` reads as null too).
                let mut by_dict: Vec<Option<u32>> = vec![None; values.len() + 1];
                let out = (0..n)
                    .map(|row| {
                        let d = if keys.is_valid(row) {
                            usize::try_from(keys.value(row))
                                .map_or(values.len(), |k| k.min(values.len()))
                        } else {
                            values.len()
                        };
                        *by_dict[d].get_or_insert_with(|| self.key(full_at(row), now))
                    })
                    .collect();
                RowKeys::PerRow(out)
            }
            Some(StrCol::Plain(ids)) => {
                let mut out = Vec::with_capacity(n);
                let mut last: Option<(Option<&str>, u32)> = None;
                for row in 0..n {
                    let id = ids.is_valid(row).then(|| ids.value(row));
                    let k = match last {
                        Some((prev, k)) if prev == id => k,
                        _ => self.key(full_at(row), now),
                    };
                    last = Some((id, k));
                    out.push(k);
                }
                RowKeys::PerRow(out)
            }
        }
    }
}

/// The host of a batch: its schema metadata, else its first `host` value.
pub(crate) fn host_of(batch: &RecordBatch) -> String {
    if let Some(h) = batch.schema().metadata().get(envelope::META_HOST) {
        return h.clone();
    }
    batch
        .column_by_name(envelope::HOST)
        .and_then(StrCol::of)
        .and_then(|c| c.get(0).map(str::to_string))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::DictionaryArray;

    use super::*;

    #[test]
    fn dictionary_container_ids_key_rows_like_plain_ones() {
        let ids: Vec<Option<&str>> = vec![Some("b"), None, Some("a"), Some("b"), None];
        let dict: DictionaryArray<Int32Type> = ids.iter().copied().collect();
        let plain: arrow_array::StringArray = ids.iter().copied().collect();
        let now = std::time::Instant::now();
        let mut interner = Interner::new([true; 7]);
        let mut keys = |col: ArrayRef| {
            let batch = RecordBatch::try_from_iter([("container_id", col)]).unwrap();
            match interner.row_keys(&batch, "h", now) {
                RowKeys::PerRow(v) => v,
                RowKeys::One(k) => vec![k; batch.num_rows()],
            }
        };
        let from_dict = keys(Arc::new(dict));
        assert_eq!(from_dict, keys(Arc::new(plain)));
        assert_eq!(from_dict[0], from_dict[3]);
        assert_eq!(from_dict[1], from_dict[4]);
        assert_ne!(from_dict[0], from_dict[2]);
        assert_ne!(from_dict[0], from_dict[1]);
        assert_eq!(interner.series_labels[from_dict[2] as usize][1], "a");
        assert_eq!(interner.series_labels[from_dict[1] as usize][1], "");
    }
}
