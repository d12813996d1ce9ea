//! Quickstart: record every chat completion into a local DuckDB file, then look at it.
//!
//! ```sh
//! cargo run --example quickstart
//! duckdb store.db "from openai_records limit 10"
//! ```
//! With `OPENAI_API_KEY` (or `OPENAI_BASE_URL` for a local server, `HF_TOKEN` for Hugging
//! Face) it calls that API; with none it talks to an embedded mock server and says so.

#![allow(clippy::print_stdout)]

mod common;

use futures_util::StreamExt;
use observers::openai::WrapOptions;
use observers::{wrap_openai_with, ChatCompletionRequest, ChatMessage, DuckDbStore, Store};
use observers_testkit::openai::Scenario;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_env_filter("observers=info").init();
    let backend = common::backend("gpt-4o-mini", Scenario::Text).await?;

    // 1. Open the store (./store.db, created if missing) and wrap the client with it.
    let store = DuckDbStore::open_default()?;
    let options = WrapOptions::default().tags(["quickstart"]).stream_usage(true);
    let client = wrap_openai_with(backend.client, store.clone(), options);

    // 2. Use the client as usual: every call becomes a row.
    let request = ChatCompletionRequest::new(&backend.model)
        .message(ChatMessage::system("You are a concise assistant."))
        .message(ChatMessage::user("Tell me a joke about databases."))
        .property("user", "quickstart-user".into());
    let completion = client.chat().completions().create(request).await?;
    println!("\nAnswer: {}", completion.content().unwrap_or_default());

    // Streams are recorded too, reassembled once they end.
    let request = ChatCompletionRequest::new(&backend.model)
        .message(ChatMessage::user("Name three uses of DuckDB, briefly."));
    let mut stream = client.chat().completions().create_stream(request).await?;
    print!("Streamed: ");
    while let Some(chunk) = stream.next().await {
        print!("{}", chunk?.content().unwrap_or_default());
    }
    println!();

    // 3. Wait until the rows are written, then look at them.
    store.flush().await?;
    common::print_latest(&store, 5).await?;
    println!("Query them yourself: duckdb {} \"from openai_records limit 10\"", store.path().display());
    store.close().await?;
    Ok(())
}
