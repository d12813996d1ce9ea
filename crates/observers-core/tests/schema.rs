//! Record ↔ Arrow conversion: every column, null and non-null, odd content.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{TimeZone, Utc};
use observers_core::arrow::datatypes::DataType;
use observers_core::schema::is_json;
use observers_core::serde_json::{json, value::RawValue};
use observers_core::{records_from_batch, records_to_batch, schema, ChatCompletionRecord, Message, COLUMNS};
use proptest::prelude::*;

fn full_record() -> ChatCompletionRecord {
    let mut r = ChatCompletionRecord::started_at(
        Some("gpt-4o-mini".into()),
        Utc.with_ymd_and_hms(2026, 11, 29, 12, 30, 45).unwrap() + chrono::Duration::microseconds(123_456),
    );
    r.messages = vec![
        Message::new("system", "You are terse."),
        Message {
            role: "user".into(),
            content: Some(r#"[{"type":"text","text":"what is this?"},{"type":"image_url","image_url":{"url":"https://x/y.png"}}]"#.into()),
            name: Some("alice".into()),
            tool_call_id: None,
            tool_calls: None,
        },
        Message {
            role: "assistant".into(),
            content: None,
            name: None,
            tool_call_id: None,
            tool_calls: Some(json!([{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}])),
        },
        Message { role: "tool".into(), content: Some("42".into()), name: None, tool_call_id: Some("call_1".into()), tool_calls: None },
    ];
    r.assistant_message = Some("Voilà — 你好 👋".into());
    r.completion_tokens = Some(7);
    r.prompt_tokens = Some(31);
    r.total_tokens = Some(38);
    r.finish_reason = Some("stop".into());
    r.tool_calls = Some(
        json!([{"id": "call_2", "type": "function", "function": {"name": "g", "arguments": "{\"a\":1}"}}]),
    );
    r.function_call = Some(json!({"name": "legacy", "arguments": "{}"}));
    r.tags = vec!["prod".into(), "ünïcode".into(), String::new()];
    r.properties = Some(json!({"user": "u1", "session": {"id": 3}}));
    r.error = Some("HTTP 500: upstream overloaded".into());
    r.raw_response =
        Some(RawValue::from_string(r#"{"id": "chatcmpl-1",  "object":"chat.completion"}"#.into()).unwrap());
    r.synced_at = Some(Utc.with_ymd_and_hms(2026, 11, 30, 0, 0, 0).unwrap());
    r.arguments = Some(json!({"temperature": 0.2, "stream": false, "tools": []}));
    r.response_id = Some("chatcmpl-1".into());
    r.latency_ms = Some(12.5);
    r.time_to_first_token_ms = Some(3.25);
    r.cached_tokens = Some(16);
    r.reasoning_tokens = Some(4);
    r.cost_usd = Some(0.000_123_5);
    r.user_id = Some("user-42".into());
    r.session_id = Some("conversation-7".into());
    r.trace_id = Some("4bf92f3577b34da6a3ce929d0e0e4736".into());
    r.span_id = Some("00f067aa0ba902b7".into());
    r.parent_span_id = Some("b7ad6b7169203331".into());
    r
}

/// Compares every field, `raw_response` by its exact text.
fn assert_same(a: &ChatCompletionRecord, b: &ChatCompletionRecord) {
    let text = |r: &ChatCompletionRecord| r.raw_response.as_ref().map(|v| v.get().to_string());
    assert_eq!(text(a), text(b), "raw_response");
    let mut a = a.clone();
    let mut b = b.clone();
    a.raw_response = None;
    b.raw_response = None;
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
}

fn round_trip(records: &[ChatCompletionRecord]) -> Vec<ChatCompletionRecord> {
    let batch = records_to_batch(records).expect("to batch");
    assert_eq!(batch.num_rows(), records.len());
    records_from_batch(&batch).expect("from batch")
}

#[test]
fn every_column_round_trips_set_and_null() {
    let full = full_record();
    let empty = ChatCompletionRecord::started_at(None, Utc::now());
    let back = round_trip(&[full.clone(), empty.clone()]);
    assert_same(&back[0], &full);
    assert_same(&back[1], &empty);

    let batch = records_to_batch(&[full, empty]).unwrap();
    for (i, name) in COLUMNS.iter().enumerate() {
        let column = batch.column(i);
        let set_in_full = column.is_valid(0);
        assert!(set_in_full, "column {name} should be set in the full record");
        let nullable_in_empty = !["id", "timestamp", "messages", "tags"].contains(name);
        assert_eq!(column.is_null(1), nullable_in_empty, "column {name} null-ness in the empty record");
    }
}

#[test]
fn schema_is_the_documented_one() {
    let schema = schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, COLUMNS);
    let json_columns: Vec<&str> =
        schema.fields().iter().filter(|f| is_json(f)).map(|f| f.name().as_str()).collect();
    assert_eq!(json_columns, ["tool_calls", "function_call", "properties", "raw_response", "arguments"]);
    assert!(matches!(schema.field_with_name("tags").unwrap().data_type(), DataType::List(_)));
    assert_eq!(schema.field_with_name("total_tokens").unwrap().data_type(), &DataType::Int32);
}

#[test]
fn huge_content_and_empty_lists() {
    let mut r = ChatCompletionRecord::new("m");
    let huge = "é".repeat(5 * 1024 * 1024);
    r.messages.push(Message::new("user", huge.clone()));
    r.assistant_message = Some(huge.clone());
    let back = round_trip(&[r.clone(), ChatCompletionRecord::new("m")]);
    assert_eq!(back[0].messages[0].content.as_deref(), Some(huge.as_str()));
    assert_eq!(back[0].assistant_message.as_deref(), Some(huge.as_str()));
    assert!(back[1].messages.is_empty() && back[1].tags.is_empty());
}

/// Numbers in JSON columns come back bit for bit. serde_json's default float parser can be off
/// by one unit in the last place; this value (found by fuzzing) was.
#[test]
fn json_numbers_round_trip_exactly() {
    let x: f64 = "-2.961071091002028e-155".parse().unwrap();
    let mut record = ChatCompletionRecord::new("m");
    record.properties = Some(json!({ "x": x, "max": f64::MAX, "tiny": f64::MIN_POSITIVE, "big": u64::MAX }));
    let back = round_trip(std::slice::from_ref(&record));
    assert_eq!(back[0].properties, record.properties);
    assert_eq!(back[0].properties.as_ref().unwrap()["x"].as_f64().unwrap().to_bits(), x.to_bits());
}

#[test]
fn an_empty_slice_gives_an_empty_batch() {
    let batch = records_to_batch(&[]).unwrap();
    assert_eq!(batch.num_rows(), 0);
    assert!(records_from_batch(&batch).unwrap().is_empty());
}

#[test]
fn corrupt_json_in_a_batch_is_an_error_naming_the_column() {
    use observers_core::arrow::array::{ArrayRef, RecordBatch, StringArray};
    use std::sync::Arc;
    let batch = records_to_batch(&[ChatCompletionRecord::new("m")]).unwrap();
    let mut columns = batch.columns().to_vec();
    let at = COLUMNS.iter().position(|c| *c == "properties").unwrap();
    columns[at] = Arc::new(StringArray::from(vec![Some("{not json")])) as ArrayRef;
    let bad = RecordBatch::try_new(batch.schema(), columns).unwrap();
    let err = records_from_batch(&bad).unwrap_err().to_string();
    assert!(err.contains("properties"), "{err}");
}

fn arb_text() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(any::<String>())
}

prop_compose! {
    fn arb_record()(
        model in arb_text(),
        secs in 0i64..4_000_000_000,
        messages in proptest::collection::vec((any::<String>(), arb_text(), arb_text()), 0..4),
        answer in arb_text(),
        tokens in proptest::option::of(any::<i32>()),
        tags in proptest::collection::vec(any::<String>(), 0..4),
        props in proptest::option::of(proptest::collection::btree_map(any::<String>(), any::<String>(), 0..3)),
        latency in proptest::option::of(0.0f64..1e9),
        cost in proptest::option::of(0.0f64..1e6),
        identity in (arb_text(), arb_text(), proptest::option::of(any::<i32>())),
    ) -> ChatCompletionRecord {
        let mut r = ChatCompletionRecord::started_at(model, chrono::DateTime::from_timestamp(secs, 0).unwrap());
        r.messages = messages.into_iter().map(|(role, content, name)| Message {
            role, content, name, tool_call_id: None, tool_calls: None }).collect();
        r.assistant_message = answer;
        r.total_tokens = tokens;
        r.tags = tags;
        r.properties = props.map(|p| json!(p));
        r.latency_ms = latency;
        r.cost_usd = cost;
        (r.user_id, r.session_id, r.cached_tokens) = identity;
        r
    }
}

proptest! {
    #[test]
    fn fuzz_records_round_trip(records in proptest::collection::vec(arb_record(), 0..8)) {
        let back = round_trip(&records);
        prop_assert_eq!(back.len(), records.len());
        for (a, b) in back.iter().zip(&records) {
            assert_same(a, b);
        }
    }
}
