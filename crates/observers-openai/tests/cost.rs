//! `cost_usd` is computed when a call is recorded, from the wrapper's price table; a model
//! the table does not know leaves it NULL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use observers_core::pricing::{Price, Prices};
use observers_core::{ChatCompletionRecord, Store};
use observers_openai::{wrap_openai_with, ChatCompletionRequest, ChatMessage, OpenAi, WrapOptions};
use observers_store_duckdb::DuckDbStore;
use observers_testkit::openai::{MockOpenAi, Scenario};

/// One call to `model` through a client wrapped with `options`; its row, read back from a
/// real DuckDB file.
async fn recorded_call(scenario: Scenario, model: &str, options: WrapOptions) -> ChatCompletionRecord {
    let server = MockOpenAi::start_with(scenario).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = DuckDbStore::open(dir.path().join("store.db")).unwrap();
    let client = OpenAi::builder().base_url(server.base_url()).api_key("sk-test-cost").build().unwrap();
    let client = wrap_openai_with(client, store.clone(), options);
    let request = ChatCompletionRequest::new(model).message(ChatMessage::user("What does a call cost?"));
    let _ = client.chat().completions().create(request).await;
    store.flush().await.unwrap();
    let mut rows = store.unsynced(None, 10).await.unwrap();
    assert_eq!(rows.len(), 1);
    rows.remove(0)
}

fn expected(prices: &Prices, row: &ChatCompletionRecord) -> f64 {
    let price = prices.get(row.model.as_deref().unwrap()).unwrap();
    let tokens = |n: Option<i32>| u64::try_from(n.unwrap()).unwrap();
    price.cost(
        tokens(row.prompt_tokens),
        tokens(row.completion_tokens),
        row.cached_tokens.unwrap_or(0) as u64,
    )
}

#[tokio::test]
async fn a_priced_model_gets_its_cost_from_the_shipped_table() {
    for model in ["gpt-4o-mini", "gpt-4o-mini-2024-07-18", "openai/gpt-4o-mini"] {
        let row = recorded_call(Scenario::Text, model, WrapOptions::default()).await;
        assert!(row.prompt_tokens.is_some_and(|t| t > 0) && row.completion_tokens.is_some_and(|t| t > 0));
        let cost = row.cost_usd.expect("gpt-4o-mini is in the shipped table");
        assert!(cost > 0.0);
        assert_eq!(cost, expected(&Prices::shipped(), &row), "{model}");
    }
}

#[tokio::test]
async fn an_unknown_model_has_no_cost_never_a_guess() {
    let row = recorded_call(Scenario::Text, "my-local-llama", WrapOptions::default()).await;
    assert!(row.prompt_tokens.is_some());
    assert_eq!(row.cost_usd, None);
}

#[tokio::test]
async fn a_failed_call_without_usage_has_no_cost() {
    let row = recorded_call(Scenario::HttpError(429), "gpt-4o-mini", WrapOptions::default()).await;
    assert!(row.error.is_some());
    assert_eq!(row.cost_usd, None);
}

#[tokio::test]
async fn the_users_table_replaces_the_shipped_one_and_their_function_sees_the_cost() {
    let mine = Prices::empty().with(Price {
        model: "my-local-llama".into(),
        input: 1.0,
        cached_input: None,
        output: 3.0,
        source: None,
        taken: None,
    });
    let seen = Arc::new(Mutex::new(None));
    let seen_by_redactor = seen.clone();
    let options = WrapOptions::default().prices(mine.clone()).redact(move |record| {
        *seen_by_redactor.lock().unwrap() = Some(record.cost_usd);
    });
    let row = recorded_call(Scenario::Text, "my-local-llama", options).await;
    let cost = expected(&mine, &row);
    assert_eq!(row.cost_usd, Some(cost));
    assert_eq!(*seen.lock().unwrap(), Some(Some(cost)));

    // The empty table records no cost, even for a model the shipped table knows.
    let row =
        recorded_call(Scenario::Text, "gpt-4o-mini", WrapOptions::default().prices(Prices::empty())).await;
    assert_eq!(row.cost_usd, None);
}
