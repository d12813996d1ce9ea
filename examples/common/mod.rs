//! Shared by the examples: pick the API to talk to, and print what was recorded.

#![allow(dead_code, clippy::print_stdout)]

use observers::core::arrow::util::pretty::pretty_format_batches;
use observers::{DuckDbStore, OpenAi};
use observers_testkit::openai::{MockOpenAi, Scenario};

/// The API the example talks to, and the mock server when there is no real one.
pub(crate) struct Backend {
    pub(crate) client: OpenAi,
    /// The model to ask for.
    pub(crate) model: String,
    /// Present when no API is configured: the embedded loopback server.
    pub(crate) mock: Option<MockOpenAi>,
}

/// `OPENAI_API_KEY` / `OPENAI_BASE_URL` → that API; else `HF_TOKEN` → Hugging Face
/// Inference; else the embedded mock server (`scenario` picks how it answers).
pub(crate) async fn backend(
    openai_model: &str,
    scenario: Scenario,
) -> Result<Backend, Box<dyn std::error::Error>> {
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
    let model = std::env::var("OBSERVERS_MODEL").ok();
    if set("OPENAI_API_KEY") || set("OPENAI_BASE_URL") {
        let client = OpenAi::from_env()?;
        println!(
            "Calling the API at {}",
            std::env::var("OPENAI_BASE_URL").unwrap_or(observers::openai::OPENAI_BASE_URL.into())
        );
        return Ok(Backend { client, model: model.unwrap_or(openai_model.into()), mock: None });
    }
    if set("HF_TOKEN") {
        println!("Calling Hugging Face Inference ({})", observers::openai::HF_ROUTER_BASE_URL);
        let model = model.unwrap_or("meta-llama/Llama-3.1-8B-Instruct".into());
        return Ok(Backend { client: OpenAi::hf_inference()?, model, mock: None });
    }
    let mock = MockOpenAi::start_with(scenario).await?;
    println!(
        "No OPENAI_API_KEY, OPENAI_BASE_URL or HF_TOKEN set: talking to the embedded mock server at {}",
        mock.base_url()
    );
    let client = OpenAi::builder().base_url(mock.base_url()).build()?;
    Ok(Backend { client, model: model.unwrap_or(openai_model.into()), mock: Some(mock) })
}

/// Prints the latest `limit` rows of the store as a table.
pub(crate) async fn print_latest(
    store: &DuckDbStore,
    limit: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let batches = store
        .query(format!(
            "SELECT strftime(timestamp, '%H:%M:%S') AS time, model,
                    left(messages[-1].content, 40) AS question,
                    left(coalesce(assistant_message, tool_calls::VARCHAR), 40) AS answer,
                    finish_reason, total_tokens AS tokens, round(latency_ms, 1) AS latency_ms,
                    left(error, 40) AS error
             FROM openai_records ORDER BY id DESC LIMIT {limit}"
        ))
        .await?;
    println!("\nLatest rows of openai_records in {}:", store.path().display());
    println!("{}", pretty_format_batches(&batches)?);
    Ok(())
}
