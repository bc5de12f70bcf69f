//! `Loss` messages as rows of the `losses` dataset.

use std::sync::{Arc, LazyLock};

use arrow_array::builder::StringDictionaryBuilder;
use arrow_array::types::Int32Type;
use arrow_array::{RecordBatch, TimestampNanosecondArray, UInt32Array, UInt64Array};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use trawl_core::{Loss, envelope};

use crate::error::Result;

/// The schema of the `losses` dataset: `ts` (the end of the loss window, else
/// its start, else the time the loss was reported), then the [`Loss`] fields.
pub(crate) static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new(envelope::TS, envelope::ts_type(), false),
        Field::new(envelope::HOST, envelope::dict_utf8_type(), false),
        Field::new(envelope::DOMAIN, envelope::dict_utf8_type(), false),
        Field::new(envelope::STREAM_ID, DataType::UInt64, false),
        Field::new(envelope::CPU, DataType::UInt32, true),
        Field::new("events_discarded", DataType::UInt64, false),
        Field::new("packets_lost", DataType::UInt64, false),
        Field::new("from_ts", envelope::ts_type(), true),
        Field::new("to_ts", envelope::ts_type(), true),
    ]))
});

/// The time under which `loss` is filed.
pub(crate) fn loss_ts(loss: &Loss) -> i64 {
    loss.to_ts
        .or(loss.from_ts)
        .unwrap_or_else(|| chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX))
}

/// One row.
pub(crate) fn batch(loss: &Loss) -> Result<RecordBatch> {
    let ts =
        |v: Option<i64>| Arc::new(TimestampNanosecondArray::from(vec![v]).with_timezone("UTC"));
    let dict = |v: &str| {
        let mut b = StringDictionaryBuilder::<Int32Type>::new();
        b.append_value(v);
        Arc::new(b.finish())
    };
    Ok(RecordBatch::try_new(
        SCHEMA.clone(),
        vec![
            ts(Some(loss_ts(loss))),
            dict(&loss.host),
            dict(&loss.domain),
            Arc::new(UInt64Array::from(vec![loss.stream_id])),
            Arc::new(UInt32Array::from(vec![loss.cpu])),
            Arc::new(UInt64Array::from(vec![loss.events_discarded])),
            Arc::new(UInt64Array::from(vec![loss.packets_lost])),
            ts(loss.from_ts),
            ts(loss.to_ts),
        ],
    )?)
}
