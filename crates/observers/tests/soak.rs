//! Load: 10,000 calls from 64 concurrent callers through the wrapped client into a DuckDB
//! file: every call has exactly one row and nothing fails. (Memory over a 1,000,000-call run
//! is measured by the benchmarks, not here.)

#![cfg(all(feature = "openai", feature = "duckdb"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use futures_util::StreamExt;
use observers::{wrap_openai, ChatCompletionRequest, ChatMessage, DuckDbStore, OpenAi, Store};
use observers_testkit::openai::{MockOpenAi, Scenario};

const CALLS: usize = 10_000;
const CALLERS: usize = 64;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_calls_from_64_callers_give_ten_thousand_rows() {
    let server = MockOpenAi::start_with(Scenario::Text).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = DuckDbStore::open(dir.path().join("store.db")).unwrap();
    let client = wrap_openai(OpenAi::builder().base_url(server.base_url()).build().unwrap(), store.clone());

    let callers: Vec<_> = (0..CALLERS)
        .map(|caller| {
            let client = client.clone();
            tokio::spawn(async move {
                for n in (caller..CALLS).step_by(CALLERS) {
                    let request = ChatCompletionRequest::new("gpt-4o-mini")
                        .message(ChatMessage::user(format!("call {n}")));
                    if n % 4 == 0 {
                        let mut stream = client.chat().completions().create_stream(request).await.unwrap();
                        while let Some(chunk) = stream.next().await {
                            chunk.unwrap();
                        }
                    } else {
                        client.chat().completions().create(request).await.unwrap();
                    }
                }
            })
        })
        .collect();
    for caller in callers {
        caller.await.unwrap();
    }
    store.flush().await.unwrap();
    assert_eq!(store.count().await.unwrap(), CALLS as u64);
    assert_eq!(store.stats().failed, 0);
    assert_eq!(client.records_lost(), 0);
    let errors = store.query("SELECT count(*) FROM openai_records WHERE error IS NOT NULL").await.unwrap();
    let errors = errors[0]
        .column(0)
        .as_any()
        .downcast_ref::<observers::core::arrow::array::Int64Array>()
        .unwrap()
        .value(0);
    assert_eq!(errors, 0);
    let questions: BTreeSet<String> = store
        .unsynced(None, CALLS + 1)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.messages[0].content.clone().unwrap())
        .collect();
    assert_eq!(questions.len(), CALLS, "one row per call, none duplicated");
}
