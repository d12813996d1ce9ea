//! The one Arrow schema of [`ChatCompletionRecord`], and conversions both ways.
//!
//! Every store writes this schema: DuckDB inserts these batches, Parquet shards are these
//! batches. Stores never declare columns of their own. The schema only ever grows by
//! nullable columns appended at the end, so files written by older versions stay readable.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use arrow::array::{
    Array, ArrayRef, AsArray, Float64Array, Int32Array, ListArray, RecordBatch, StringArray, StructArray,
    TimestampMicrosecondArray,
};
use arrow::buffer::OffsetBuffer;
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use chrono::{DateTime, Utc};
use serde_json::value::RawValue;
use serde_json::Value;
use uuid::Uuid;

use crate::error::{Result, StoreError};
use crate::record::{ChatCompletionRecord, Message};

/// Version of the record schema, stored in the schema metadata under `observers.schema_version`.
pub const SCHEMA_VERSION: &str = "2";

/// Field metadata key marking text columns that hold JSON (`JSON` in DuckDB).
pub const LOGICAL_TYPE_KEY: &str = "observers.logical_type";

/// The column names, in order.
pub const COLUMNS: [&str; 28] = [
    "id",
    "model",
    "timestamp",
    "messages",
    "assistant_message",
    "completion_tokens",
    "prompt_tokens",
    "total_tokens",
    "finish_reason",
    "tool_calls",
    "function_call",
    "tags",
    "properties",
    "error",
    "raw_response",
    "synced_at",
    "arguments",
    "response_id",
    "latency_ms",
    "time_to_first_token_ms",
    // Schema version 2.
    "cached_tokens",
    "reasoning_tokens",
    "cost_usd",
    "user_id",
    "session_id",
    "trace_id",
    "span_id",
    "parent_span_id",
];

fn text(name: &str, nullable: bool) -> Field {
    Field::new(name, DataType::Utf8, nullable)
}

fn json(name: &str) -> Field {
    text(name, true).with_metadata(HashMap::from([(LOGICAL_TYPE_KEY.into(), "json".into())]))
}

fn timestamp(name: &str, nullable: bool) -> Field {
    // No time zone: DuckDB maps this to TIMESTAMP (values are UTC by convention), and casts
    // between TIMESTAMPTZ and TIMESTAMP would depend on the session's time zone.
    Field::new(name, DataType::Timestamp(TimeUnit::Microsecond, None), nullable)
}

/// Whether `field` holds JSON text.
pub fn is_json(field: &Field) -> bool {
    field.metadata().get(LOGICAL_TYPE_KEY).map(String::as_str) == Some("json")
}

/// The fields of one element of `messages`.
pub fn message_fields() -> Fields {
    Fields::from(vec![
        text("role", true),
        text("content", true),
        text("name", true),
        text("tool_call_id", true),
        json("tool_calls"),
    ])
}

/// The Arrow schema of a record, columns in [`COLUMNS`] order.
///
/// # Example
/// ```
/// let schema = observers_core::schema();
/// assert_eq!(schema.field(0).name(), "id");
/// assert_eq!(schema.fields().len(), observers_core::COLUMNS.len());
/// ```
pub fn schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            let messages_item = Field::new("item", DataType::Struct(message_fields()), true);
            let tags_item = Field::new("item", DataType::Utf8, true);
            let fields = vec![
                text("id", false),
                text("model", true),
                timestamp("timestamp", false),
                Field::new("messages", DataType::List(Arc::new(messages_item)), true),
                text("assistant_message", true),
                Field::new("completion_tokens", DataType::Int32, true),
                Field::new("prompt_tokens", DataType::Int32, true),
                Field::new("total_tokens", DataType::Int32, true),
                text("finish_reason", true),
                json("tool_calls"),
                json("function_call"),
                Field::new("tags", DataType::List(Arc::new(tags_item)), true),
                json("properties"),
                text("error", true),
                json("raw_response"),
                timestamp("synced_at", true),
                json("arguments"),
                text("response_id", true),
                Field::new("latency_ms", DataType::Float64, true),
                Field::new("time_to_first_token_ms", DataType::Float64, true),
                Field::new("cached_tokens", DataType::Int32, true),
                Field::new("reasoning_tokens", DataType::Int32, true),
                Field::new("cost_usd", DataType::Float64, true),
                text("user_id", true),
                text("session_id", true),
                text("trace_id", true),
                text("span_id", true),
                text("parent_span_id", true),
            ];
            let metadata =
                HashMap::from([("observers.schema_version".to_string(), SCHEMA_VERSION.to_string())]);
            Arc::new(Schema::new_with_metadata(fields, metadata))
        })
        .clone()
}

fn json_text(value: &Option<Value>) -> Option<String> {
    value.as_ref().map(Value::to_string)
}

fn micros(t: &DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// Converts records to one [`RecordBatch`] of [`schema()`]; fails if a record does not
/// [`validate`](ChatCompletionRecord::validate).
///
/// # Example
/// ```
/// use observers_core::{records_to_batch, records_from_batch, ChatCompletionRecord};
///
/// let record = ChatCompletionRecord::new("gpt-4o-mini");
/// let batch = records_to_batch(std::slice::from_ref(&record))?;
/// assert_eq!(batch.num_rows(), 1);
/// assert_eq!(records_from_batch(&batch)?[0].id, record.id);
/// # Ok::<(), observers_core::StoreError>(())
/// ```
pub fn records_to_batch(records: &[ChatCompletionRecord]) -> Result<RecordBatch> {
    for record in records {
        record.validate()?;
    }
    let strings = |f: &dyn Fn(&ChatCompletionRecord) -> Option<String>| -> ArrayRef {
        Arc::new(records.iter().map(f).collect::<StringArray>())
    };
    let strs = |f: &dyn Fn(&ChatCompletionRecord) -> Option<&str>| -> ArrayRef {
        Arc::new(records.iter().map(f).collect::<StringArray>())
    };
    let ints = |f: &dyn Fn(&ChatCompletionRecord) -> Option<i32>| -> ArrayRef {
        Arc::new(records.iter().map(f).collect::<Int32Array>())
    };
    let floats = |f: &dyn Fn(&ChatCompletionRecord) -> Option<f64>| -> ArrayRef {
        Arc::new(records.iter().map(f).collect::<Float64Array>())
    };
    let schema = schema();
    let columns: Vec<ArrayRef> = vec![
        strings(&|r| Some(r.id.to_string())),
        strs(&|r| r.model.as_deref()),
        Arc::new(records.iter().map(|r| Some(micros(&r.timestamp))).collect::<TimestampMicrosecondArray>()),
        messages_array(records, &schema)?,
        strs(&|r| r.assistant_message.as_deref()),
        ints(&|r| r.completion_tokens),
        ints(&|r| r.prompt_tokens),
        ints(&|r| r.total_tokens),
        strs(&|r| r.finish_reason.as_deref()),
        strings(&|r| json_text(&r.tool_calls)),
        strings(&|r| json_text(&r.function_call)),
        tags_array(records, &schema)?,
        strings(&|r| json_text(&r.properties)),
        strs(&|r| r.error.as_deref()),
        strs(&|r| r.raw_response.as_deref().map(RawValue::get)),
        Arc::new(
            records.iter().map(|r| r.synced_at.as_ref().map(micros)).collect::<TimestampMicrosecondArray>(),
        ),
        strings(&|r| json_text(&r.arguments)),
        strs(&|r| r.response_id.as_deref()),
        floats(&|r| r.latency_ms),
        floats(&|r| r.time_to_first_token_ms),
        ints(&|r| r.cached_tokens),
        ints(&|r| r.reasoning_tokens),
        floats(&|r| r.cost_usd),
        strs(&|r| r.user_id.as_deref()),
        strs(&|r| r.session_id.as_deref()),
        strs(&|r| r.trace_id.as_deref()),
        strs(&|r| r.span_id.as_deref()),
        strs(&|r| r.parent_span_id.as_deref()),
    ];
    Ok(RecordBatch::try_new(schema, columns)?)
}

fn list_field(schema: &Schema, column: &'static str) -> Result<Arc<Field>> {
    match schema.field_with_name(column)?.data_type() {
        DataType::List(item) => Ok(item.clone()),
        other => Err(StoreError::Schema { column, reason: format!("expected a list, found {other}") }),
    }
}

fn offsets<'a>(lengths: impl Iterator<Item = usize> + 'a) -> OffsetBuffer<i32> {
    OffsetBuffer::from_lengths(lengths)
}

fn messages_array(records: &[ChatCompletionRecord], schema: &Schema) -> Result<ArrayRef> {
    let all = || records.iter().flat_map(|r| r.messages.iter());
    let children: Vec<ArrayRef> = vec![
        Arc::new(all().map(|m| Some(m.role.as_str())).collect::<StringArray>()),
        Arc::new(all().map(|m| m.content.as_deref()).collect::<StringArray>()),
        Arc::new(all().map(|m| m.name.as_deref()).collect::<StringArray>()),
        Arc::new(all().map(|m| m.tool_call_id.as_deref()).collect::<StringArray>()),
        Arc::new(all().map(|m| json_text(&m.tool_calls)).collect::<StringArray>()),
    ];
    let items = StructArray::try_new(message_fields(), children, None)?;
    let offsets = offsets(records.iter().map(|r| r.messages.len()));
    Ok(Arc::new(ListArray::try_new(list_field(schema, "messages")?, offsets, Arc::new(items), None)?))
}

fn tags_array(records: &[ChatCompletionRecord], schema: &Schema) -> Result<ArrayRef> {
    let values: StringArray = records.iter().flat_map(|r| r.tags.iter().map(Some)).collect();
    let offsets = offsets(records.iter().map(|r| r.tags.len()));
    Ok(Arc::new(ListArray::try_new(list_field(schema, "tags")?, offsets, Arc::new(values), None)?))
}

/// Typed access to the columns of a batch, by name, whatever exact Arrow types a reader
/// produced (Utf8View, LargeUtf8, Int64...): columns are cast to the schema's type first.
struct Columns<'a> {
    batch: &'a RecordBatch,
}

impl Columns<'_> {
    fn get(&self, column: &'static str, to: &DataType) -> Result<Option<ArrayRef>> {
        let Some(array) = self.batch.column_by_name(column) else {
            return Ok(None);
        };
        if array.data_type() == to {
            return Ok(Some(array.clone()));
        }
        cast(array, to).map(Some).map_err(|e| StoreError::Schema { column, reason: e.to_string() })
    }

    fn strings(&self, column: &'static str) -> Result<Option<StringArray>> {
        Ok(self.get(column, &DataType::Utf8)?.map(|a| a.as_string::<i32>().clone()))
    }

    fn required_strings(&self, column: &'static str) -> Result<StringArray> {
        self.strings(column)?.ok_or(StoreError::Schema { column, reason: "missing column".into() })
    }

    fn ints(&self, column: &'static str) -> Result<Option<Int32Array>> {
        Ok(self.get(column, &DataType::Int32)?.map(|a| a.as_primitive().clone()))
    }

    fn floats(&self, column: &'static str) -> Result<Option<Float64Array>> {
        Ok(self.get(column, &DataType::Float64)?.map(|a| a.as_primitive().clone()))
    }

    fn timestamps(&self, column: &'static str) -> Result<Option<TimestampMicrosecondArray>> {
        let to = DataType::Timestamp(TimeUnit::Microsecond, None);
        Ok(self.get(column, &to)?.map(|a| a.as_primitive().clone()))
    }

    fn list(&self, column: &'static str) -> Result<Option<ListArray>> {
        let Some(array) = self.batch.column_by_name(column) else {
            return Ok(None);
        };
        let array = match array.data_type() {
            DataType::List(_) => array.clone(),
            DataType::LargeList(item) | DataType::ListView(item) | DataType::LargeListView(item) => {
                cast(array, &DataType::List(item.clone()))
                    .map_err(|e| StoreError::Schema { column, reason: e.to_string() })?
            }
            other => {
                return Err(StoreError::Schema { column, reason: format!("expected a list, found {other}") })
            }
        };
        Ok(Some(array.as_list::<i32>().clone()))
    }
}

fn value<T: Array + ?Sized>(array: Option<&T>, row: usize) -> Option<&T>
where
    for<'a> &'a T: Array,
{
    array.filter(|a| a.is_valid(row))
}

fn opt_str(array: Option<&StringArray>, row: usize) -> Option<String> {
    array.filter(|a| a.is_valid(row)).map(|a| a.value(row).to_string())
}

fn opt_json(array: Option<&StringArray>, row: usize, column: &'static str) -> Result<Option<Value>> {
    match array.filter(|a| a.is_valid(row)) {
        None => Ok(None),
        Some(a) => serde_json::from_str(a.value(row))
            .map(Some)
            .map_err(|source| StoreError::InvalidJson { column, source }),
    }
}

fn to_datetime(micros: i64, column: &'static str) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_micros(micros)
        .ok_or(StoreError::Schema { column, reason: format!("timestamp {micros} µs is out of range") })
}

/// Converts a batch back to records. Columns are found by name, so any reader's batch works
/// (DuckDB query results, Parquet files, [`records_to_batch`] output); a column missing from
/// an older file reads as empty.
pub fn records_from_batch(batch: &RecordBatch) -> Result<Vec<ChatCompletionRecord>> {
    let c = Columns { batch };
    let ids = c.required_strings("id")?;
    let model = c.strings("model")?;
    let timestamp = c
        .timestamps("timestamp")?
        .ok_or(StoreError::Schema { column: "timestamp", reason: "missing column".into() })?;
    let messages = c.list("messages")?;
    let assistant_message = c.strings("assistant_message")?;
    let completion_tokens = c.ints("completion_tokens")?;
    let prompt_tokens = c.ints("prompt_tokens")?;
    let total_tokens = c.ints("total_tokens")?;
    let finish_reason = c.strings("finish_reason")?;
    let tool_calls = c.strings("tool_calls")?;
    let function_call = c.strings("function_call")?;
    let tags = c.list("tags")?;
    let properties = c.strings("properties")?;
    let error = c.strings("error")?;
    let raw_response = c.strings("raw_response")?;
    let synced_at = c.timestamps("synced_at")?;
    let arguments = c.strings("arguments")?;
    let response_id = c.strings("response_id")?;
    let latency_ms = c.floats("latency_ms")?;
    let ttft_ms = c.floats("time_to_first_token_ms")?;
    let cached_tokens = c.ints("cached_tokens")?;
    let reasoning_tokens = c.ints("reasoning_tokens")?;
    let cost_usd = c.floats("cost_usd")?;
    let user_id = c.strings("user_id")?;
    let session_id = c.strings("session_id")?;
    let trace_id = c.strings("trace_id")?;
    let span_id = c.strings("span_id")?;
    let parent_span_id = c.strings("parent_span_id")?;

    let mut out = Vec::with_capacity(batch.num_rows());
    for row in 0..batch.num_rows() {
        let id = Uuid::parse_str(ids.value(row))
            .map_err(|e| StoreError::Schema { column: "id", reason: e.to_string() })?;
        let raw = match value(raw_response.as_ref(), row) {
            None => None,
            Some(a) => Some(
                RawValue::from_string(a.value(row).to_string())
                    .map_err(|source| StoreError::InvalidJson { column: "raw_response", source })?,
            ),
        };
        out.push(ChatCompletionRecord {
            id,
            model: opt_str(model.as_ref(), row),
            timestamp: to_datetime(timestamp.value(row), "timestamp")?,
            messages: read_messages(messages.as_ref(), row)?,
            assistant_message: opt_str(assistant_message.as_ref(), row),
            completion_tokens: value(completion_tokens.as_ref(), row).map(|a| a.value(row)),
            prompt_tokens: value(prompt_tokens.as_ref(), row).map(|a| a.value(row)),
            total_tokens: value(total_tokens.as_ref(), row).map(|a| a.value(row)),
            finish_reason: opt_str(finish_reason.as_ref(), row),
            tool_calls: opt_json(tool_calls.as_ref(), row, "tool_calls")?,
            function_call: opt_json(function_call.as_ref(), row, "function_call")?,
            tags: read_tags(tags.as_ref(), row)?,
            properties: opt_json(properties.as_ref(), row, "properties")?,
            error: opt_str(error.as_ref(), row),
            raw_response: raw,
            synced_at: match value(synced_at.as_ref(), row) {
                Some(a) => Some(to_datetime(a.value(row), "synced_at")?),
                None => None,
            },
            arguments: opt_json(arguments.as_ref(), row, "arguments")?,
            response_id: opt_str(response_id.as_ref(), row),
            latency_ms: value(latency_ms.as_ref(), row).map(|a| a.value(row)),
            time_to_first_token_ms: value(ttft_ms.as_ref(), row).map(|a| a.value(row)),
            cached_tokens: value(cached_tokens.as_ref(), row).map(|a| a.value(row)),
            reasoning_tokens: value(reasoning_tokens.as_ref(), row).map(|a| a.value(row)),
            cost_usd: value(cost_usd.as_ref(), row).map(|a| a.value(row)),
            user_id: opt_str(user_id.as_ref(), row),
            session_id: opt_str(session_id.as_ref(), row),
            trace_id: opt_str(trace_id.as_ref(), row),
            span_id: opt_str(span_id.as_ref(), row),
            parent_span_id: opt_str(parent_span_id.as_ref(), row),
        });
    }
    Ok(out)
}

fn read_tags(tags: Option<&ListArray>, row: usize) -> Result<Vec<String>> {
    let Some(list) = tags.filter(|l| l.is_valid(row)) else {
        return Ok(Vec::new());
    };
    let values = cast(&list.value(row), &DataType::Utf8)
        .map_err(|e| StoreError::Schema { column: "tags", reason: e.to_string() })?;
    Ok(values.as_string::<i32>().iter().map(|t| t.unwrap_or_default().to_string()).collect())
}

fn read_messages(messages: Option<&ListArray>, row: usize) -> Result<Vec<Message>> {
    let Some(list) = messages.filter(|l| l.is_valid(row)) else {
        return Ok(Vec::new());
    };
    let items = list.value(row);
    let Some(items) = items.as_struct_opt() else {
        return Err(StoreError::Schema { column: "messages", reason: "items are not structs".into() });
    };
    let field = |name: &str| -> Result<Option<StringArray>> {
        match items.column_by_name(name) {
            None => Ok(None),
            Some(a) => cast(a, &DataType::Utf8)
                .map(|a| Some(a.as_string::<i32>().clone()))
                .map_err(|e| StoreError::Schema { column: "messages", reason: e.to_string() }),
        }
    };
    let (role, content, name, tool_call_id, tool_calls) =
        (field("role")?, field("content")?, field("name")?, field("tool_call_id")?, field("tool_calls")?);
    (0..items.len())
        .map(|i| {
            Ok(Message {
                role: opt_str(role.as_ref(), i).unwrap_or_default(),
                content: opt_str(content.as_ref(), i),
                name: opt_str(name.as_ref(), i),
                tool_call_id: opt_str(tool_call_id.as_ref(), i),
                tool_calls: opt_json(tool_calls.as_ref(), i, "messages")?,
            })
        })
        .collect()
}
