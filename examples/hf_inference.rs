//! Hugging Face Inference: the router at `router.huggingface.co/v1` speaks the OpenAI API.
//! With `HF_TOKEN` set this calls it; without, the embedded mock answers in its shape.
//!
//! `HF_TOKEN=hf_... cargo run --example hf_inference`

#![allow(clippy::print_stdout)]

mod common;

use observers::{wrap_openai, ChatCompletionRequest, ChatMessage, DuckDbStore, OpenAi, Store};
use observers_testkit::openai::{MockOpenAi, Scenario};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let model = std::env::var("OBSERVERS_MODEL").unwrap_or("meta-llama/Llama-3.1-8B-Instruct".into());
    // `OpenAi::hf_inference()` reads HF_TOKEN; keep the mock alive while the client uses it.
    let (client, _mock) = match OpenAi::hf_inference() {
        Ok(client) => (client, None),
        Err(_) => {
            let mock = MockOpenAi::start_with(Scenario::HfRouter).await?;
            println!("No HF_TOKEN set: talking to the embedded mock server at {}", mock.base_url());
            (OpenAi::builder().base_url(mock.base_url()).build()?, Some(mock))
        }
    };
    let store = DuckDbStore::open_default()?;
    let client = wrap_openai(client, store.clone());

    let request =
        ChatCompletionRequest::new(model).message(ChatMessage::user("What is the Hugging Face Hub?"));
    let completion = client.chat().completions().create(request).await?;
    println!("{}", completion.content().unwrap_or_default());

    store.flush().await?;
    common::print_latest(&store, 1).await?;
    store.close().await?;
    Ok(())
}
