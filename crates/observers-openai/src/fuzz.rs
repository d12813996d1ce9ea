//! Fuzz targets (proptest) for what the client parses from servers: response bodies and
//! stream chunks, down to the stored form of the record they make. The SSE parser's targets
//! are in `sse`. Every target's name starts with `fuzz_`: `cargo xtask fuzz` runs them for
//! many more cases than the test suite does.

use proptest::prelude::*;
use serde_json::Value;

use bytes::Bytes;

use crate::client::parse_answer;
use crate::observe::{fill_from_completion, record_error};
use crate::types::ChatCompletion;

/// Any JSON: the values a field may hold when a server gets it wrong.
pub(crate) fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        any::<String>().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 32, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A field's value: usually of a type some server sends there, sometimes anything.
fn scalar() -> BoxedStrategy<Value> {
    prop_oneof![
        3 => any::<String>().prop_map(Value::from),
        1 => "[a-z_]{0,12}".prop_map(Value::from),
        2 => (0_u64..4).prop_map(Value::from),
        1 => any::<u64>().prop_map(Value::from),
        1 => any::<i64>().prop_map(Value::from),
        1 => Just(Value::Null),
        1 => arb_json(),
    ]
    .boxed()
}

/// An object with any subset of `fields`.
fn object(fields: Vec<(&'static str, BoxedStrategy<Value>)>) -> BoxedStrategy<Value> {
    let fields: Vec<_> = fields
        .into_iter()
        .map(|(key, value)| proptest::option::of(value).prop_map(move |v| v.map(|v| (key.to_owned(), v))))
        .collect();
    fields.prop_map(|pairs| Value::Object(pairs.into_iter().flatten().collect())).boxed()
}

/// A list of `item`s, or something that is not a list.
fn list(item: BoxedStrategy<Value>) -> BoxedStrategy<Value> {
    prop_oneof![4 => proptest::collection::vec(item, 0..4).prop_map(Value::Array), 1 => scalar()].boxed()
}

fn or_scalar(value: BoxedStrategy<Value>) -> BoxedStrategy<Value> {
    prop_oneof![4 => value, 1 => scalar()].boxed()
}

/// The JSON text of an object: tool-call arguments as they should be.
pub(crate) fn arb_arguments() -> BoxedStrategy<String> {
    proptest::collection::btree_map("[a-z_]{1,8}", arb_json(), 0..4)
        .prop_map(|m| Value::Object(m.into_iter().collect()).to_string())
        .boxed()
}

fn function() -> BoxedStrategy<Value> {
    let arguments = prop_oneof![2 => scalar(), 1 => arb_arguments().prop_map(Value::from)].boxed();
    object(vec![("name", scalar()), ("arguments", arguments)])
}

fn message() -> BoxedStrategy<Value> {
    let tool_call = object(vec![
        ("index", scalar()),
        ("id", scalar()),
        ("type", scalar()),
        ("function", or_scalar(function())),
    ]);
    object(vec![
        ("role", scalar()),
        ("content", scalar()),
        ("tool_calls", list(tool_call)),
        ("function_call", or_scalar(function())),
        ("refusal", scalar()),
    ])
}

/// A chat-completion body (`message_key` = "message") or stream chunk ("delta"), with every
/// field present or not and of the right type or not.
fn completion_like(message_key: &'static str) -> BoxedStrategy<Value> {
    // An `error` may ride next to or instead of `choices`, or inside a choice (gateways).
    let choice = object(vec![
        ("index", scalar()),
        (message_key, or_scalar(message())),
        ("finish_reason", scalar()),
        ("error", or_scalar(error())),
    ]);
    let usage = object(vec![
        ("prompt_tokens", scalar()),
        ("completion_tokens", scalar()),
        ("total_tokens", scalar()),
    ]);
    object(vec![
        ("id", scalar()),
        ("model", scalar()),
        ("choices", list(choice)),
        ("usage", or_scalar(usage)),
        ("error", or_scalar(error())),
        ("object", prop_oneof![3 => scalar(), 1 => Just(Value::from("error"))].boxed()),
        ("message", scalar()),
    ])
}

/// An error object as providers put it in a body.
fn error() -> BoxedStrategy<Value> {
    object(vec![("message", scalar()), ("code", scalar()), ("type", scalar()), ("metadata", scalar())])
}

/// Non-streaming answer bodies.
pub(crate) fn arb_response() -> BoxedStrategy<Value> {
    completion_like("message")
}

/// Stream chunks.
pub(crate) fn arb_chunk() -> BoxedStrategy<Value> {
    completion_like("delta")
}

/// The record can be stored: it passes the stores' check, converts to the Arrow schema and
/// reads back the same.
pub(crate) fn assert_storable(record: &observers_core::ChatCompletionRecord) {
    record.validate().expect("a record made from a server's answer is storable");
    let batch = observers_core::records_to_batch(std::slice::from_ref(record)).expect("to Arrow");
    let back = observers_core::records_from_batch(&batch).expect("from Arrow");
    let json = |r: &observers_core::ChatCompletionRecord| serde_json::to_value(r).expect("serializes");
    assert_eq!(back.len(), 1);
    assert_eq!(json(&back[0]), json(record));
}

proptest! {
    /// Any JSON body of a non-streaming answer is parsed or refused; whatever parses makes a
    /// storable record.
    #[test]
    fn fuzz_response_bodies(body in arb_response()) {
        let text = body.to_string();
        let mut record = observers_core::ChatCompletionRecord::new("m");
        let answer = parse_answer(Bytes::from(text.clone()), str::to_owned);
        let has_error = |v: &Value| v.get("error").and_then(Value::as_object).is_some_and(|e| !e.is_empty());
        if has_error(&body) {
            prop_assert!(answer.is_err(), "an answer with an error object is an error: {text}");
        }
        match answer {
            Ok(answer) => {
                fill_from_completion(&mut record, &answer.completion);
                record.raw_response = crate::observe::raw_json(text.as_bytes());
            }
            Err(error) => {
                // An error in a success answer is always the caller's error and the record's.
                record_error(&mut record, &error);
                prop_assert!(!error.to_string().is_empty());
            }
        }
        assert_storable(&record);
    }

    /// Arbitrary bytes as a response body never panic the parser.
    #[test]
    fn fuzz_response_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = serde_json::from_slice::<ChatCompletion>(&bytes);
    }
}
