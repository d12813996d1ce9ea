//! Ollama (or any local OpenAI-compatible server: vLLM, TGI, llama.cpp): no API key, just a
//! base URL. Uses `OPENAI_BASE_URL`, else Ollama's default `http://localhost:11434/v1` when
//! it answers, else the embedded mock in Ollama's shape.
//!
//! `ollama pull llama3.2 && cargo run --example ollama`

#![allow(clippy::print_stdout)]

mod common;

use observers::{wrap_openai, ChatCompletionRequest, ChatMessage, DuckDbStore, OpenAi, Store};
use observers_testkit::openai::{MockOpenAi, Scenario};

const OLLAMA: &str = "http://localhost:11434/v1";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let configured = std::env::var("OPENAI_BASE_URL").ok();
    let ollama_runs = std::net::TcpStream::connect("127.0.0.1:11434").is_ok();
    let mut mock = None;
    let base_url = match configured {
        Some(url) => url,
        None if ollama_runs => OLLAMA.to_string(),
        None => {
            let server = MockOpenAi::start_with(Scenario::Ollama).await?;
            println!("Ollama is not running: talking to the embedded mock server at {}", server.base_url());
            let url = server.base_url();
            mock = Some(server);
            url
        }
    };
    let store = DuckDbStore::open_default()?;
    let client = wrap_openai(OpenAi::builder().base_url(base_url).build()?, store.clone());

    let request = ChatCompletionRequest::new("llama3.2")
        .message(ChatMessage::user("Why is the sky blue? One sentence."));
    let completion = client.chat().completions().create(request).await?;
    println!("{}", completion.content().unwrap_or_default());

    store.flush().await?;
    common::print_latest(&store, 1).await?;
    store.close().await?;
    drop(mock);
    Ok(())
}
