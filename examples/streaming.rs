//! Streaming: chunks reach you as they arrive; the record holds the whole answer, the token
//! usage (`stream_usage(true)` asks the server for it) and the time to first token.
//!
//! `cargo run --example streaming`

#![allow(clippy::print_stdout)]

mod common;

use futures_util::StreamExt;
use observers::openai::WrapOptions;
use observers::{wrap_openai_with, ChatCompletionRequest, ChatMessage, DuckDbStore, Store};
use observers_testkit::openai::Scenario;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let backend =
        common::backend("gpt-4o-mini", Scenario::SlowFirstToken(std::time::Duration::from_millis(150)))
            .await?;
    let store = DuckDbStore::open_default()?;
    let client = wrap_openai_with(backend.client, store.clone(), WrapOptions::default().stream_usage(true));

    let request = ChatCompletionRequest::new(&backend.model)
        .message(ChatMessage::user("Write a haiku about observability."));
    let mut stream = client.chat().completions().create_stream(request).await?;
    while let Some(chunk) = stream.next().await {
        print!("{}", chunk?.content().unwrap_or_default());
    }
    println!();

    store.flush().await?;
    let batches = store
        .query("SELECT time_to_first_token_ms, latency_ms, total_tokens, len(raw_response::JSON[]) AS chunks FROM openai_records ORDER BY id DESC LIMIT 1")
        .await?;
    println!("{}", observers::core::arrow::util::pretty::pretty_format_batches(&batches)?);
    store.close().await?;
    Ok(())
}
