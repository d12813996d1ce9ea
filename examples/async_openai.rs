//! Record every chat completion of an async-openai client you already have: the one change
//! is where the client is built; the calls keep async-openai's own types.
//!
//! ```sh
//! cargo run --example async_openai --features async-openai
//! duckdb store.db "from openai_records limit 10"
//! ```
//! With `OPENAI_API_KEY` (or `OPENAI_BASE_URL` for a local server, `HF_TOKEN` for Hugging
//! Face) it calls that API; with none it talks to an embedded mock server and says so.

#![allow(clippy::print_stdout)]

mod common;

use async_openai::config::OpenAIConfig;
use async_openai::types::chat::{
    ChatCompletionRequestSystemMessage, ChatCompletionRequestUserMessage, ChatCompletionStreamOptions,
    CreateChatCompletionRequestArgs,
};
use async_openai::Client;
use futures_util::StreamExt;
use observers::async_openai::WrapOptions;
use observers::{DuckDbStore, Store};
use observers_testkit::openai::MockOpenAi;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_env_filter("observers=info").init();
    let (config, model, _mock) = config().await?;

    // 1. Open the store (./store.db, created if missing).
    let store = DuckDbStore::open_default()?;

    // 2. The one change: before, `let client = Client::with_config(config);`
    let options = WrapOptions::default().tags(["async-openai-example"]);
    let client = observers::async_openai::wrap_with(Client::with_config(config), store.clone(), options);

    // 3. Your async-openai code, unchanged: every call becomes a row.
    let request = CreateChatCompletionRequestArgs::default()
        .model(&model)
        .messages([
            ChatCompletionRequestSystemMessage::from("You are a concise assistant.").into(),
            ChatCompletionRequestUserMessage::from("Tell me a joke about databases.").into(),
        ])
        .build()?;
    let response = client.chat().create(request).await?;
    println!("\nAnswer: {}", response.choices[0].message.content.as_deref().unwrap_or_default());

    // Streams are recorded too, reassembled once they end (ask for usage to get tokens).
    let request = CreateChatCompletionRequestArgs::default()
        .model(&model)
        .messages([ChatCompletionRequestUserMessage::from("Name three uses of DuckDB, briefly.").into()])
        .stream_options(ChatCompletionStreamOptions { include_usage: Some(true), include_obfuscation: None })
        .build()?;
    let mut stream = client.chat().create_stream(request).await?;
    print!("Streamed: ");
    while let Some(chunk) = stream.next().await {
        for choice in chunk?.choices {
            print!("{}", choice.delta.content.unwrap_or_default());
        }
    }
    println!();

    // 4. Wait until the rows are written, then look at them.
    store.flush().await?;
    common::print_latest(&store, 5).await?;
    println!("Query them yourself: duckdb {} \"from openai_records limit 10\"", store.path().display());
    store.close().await?;
    Ok(())
}

/// `OPENAI_API_KEY` / `OPENAI_BASE_URL` → that API (async-openai reads them itself); else
/// `HF_TOKEN` → Hugging Face Inference; else the embedded mock server, kept alive by the
/// returned handle.
async fn config() -> Result<(OpenAIConfig, String, Option<MockOpenAi>), Box<dyn std::error::Error>> {
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
    let model = std::env::var("OBSERVERS_MODEL").ok();
    if set("OPENAI_API_KEY") || set("OPENAI_BASE_URL") {
        let config = OpenAIConfig::new();
        println!("Calling the API at {}", async_openai::config::Config::api_base(&config));
        return Ok((config, model.unwrap_or("gpt-4o-mini".into()), None));
    }
    if set("HF_TOKEN") {
        println!("Calling Hugging Face Inference ({})", observers::openai::HF_ROUTER_BASE_URL);
        let config = OpenAIConfig::new()
            .with_api_base(observers::openai::HF_ROUTER_BASE_URL)
            .with_api_key(std::env::var("HF_TOKEN")?);
        return Ok((config, model.unwrap_or("meta-llama/Llama-3.1-8B-Instruct".into()), None));
    }
    let mock = MockOpenAi::start().await?;
    println!(
        "No OPENAI_API_KEY, OPENAI_BASE_URL or HF_TOKEN set: talking to the embedded mock server at {}",
        mock.base_url()
    );
    let config = OpenAIConfig::new().with_api_base(mock.base_url()).with_api_key("sk-mock");
    Ok((config, model.unwrap_or("gpt-4o-mini".into()), Some(mock)))
}
