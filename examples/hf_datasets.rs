//! Publish chat completions to a Hugging Face Hub dataset, as Parquet shards the dataset
//! viewer, `datasets.load_dataset`, DuckDB (`hf://`) and TRL read.
//!
//! ```sh
//! HF_TOKEN=hf_... cargo run --example hf_datasets --features hf   # pushes to the Hub (HF_ENDPOINT)
//! cargo run --example hf_datasets --features hf                   # no token: an embedded fake Hub
//! ```
//! LLM calls go where the quickstart's go (`OPENAI_BASE_URL` / `OPENAI_API_KEY`, else the
//! embedded mock server). The dataset is `OBSERVERS_HF_REPO` (default `observers-demo` in the
//! token owner's namespace).

#![allow(clippy::print_stdout)]

mod common;

use observers::hf::HubStore;
use observers::openai::WrapOptions;
use observers::{wrap_openai_with, ChatCompletionRequest, ChatMessage, Store};
use observers_testkit::hub::{self as fake, FakeHub};
use observers_testkit::openai::Scenario;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_env_filter("observers=info").init();
    let backend = common::backend("gpt-4o-mini", Scenario::Text).await?;
    let repo = std::env::var("OBSERVERS_HF_REPO").unwrap_or("observers-demo".into());

    // With a token, the real Hub (or HF_ENDPOINT); without, a fake Hub on this machine.
    let mut builder = HubStore::builder().repo_id(&repo).private(true);
    let fake_hub = match observers::hf::token_from_env() {
        Some(_) => None,
        None => {
            let hub = FakeHub::start().await?;
            println!("No HF_TOKEN: pushing to an embedded fake Hub at {}", hub.endpoint());
            builder = builder.endpoint(hub.endpoint()).token(fake::WRITE_TOKEN);
            let folder = std::env::temp_dir().join(format!("observers-hf-demo-{}", std::process::id()));
            builder = builder.folder(folder);
            Some(hub)
        }
    };
    let store = builder.build()?;
    let client = wrap_openai_with(backend.client, store.clone(), WrapOptions::default().tags(["hf-demo"]));

    for question in ["What is a Parquet file?", "Why log LLM calls?", "What does TRL do?"] {
        let request = ChatCompletionRequest::new(&backend.model).message(ChatMessage::user(question));
        let completion = client.chat().completions().create(request).await?;
        println!("{question} -> {}", completion.content().unwrap_or_default());
    }

    // Push now (it also happens every 5 minutes and when the store closes).
    let pushed = store.push().await?;
    println!(
        "Pushed {} records in {} shard(s), {} bytes: {}",
        pushed.records,
        pushed.shards,
        pushed.bytes,
        pushed.commit_url.as_deref().unwrap_or("(nothing new)")
    );
    if let Some(hub) = &fake_hub {
        let owner_repo = if repo.contains('/') { repo.clone() } else { format!("{}/{repo}", fake::USER) };
        println!("The fake Hub now holds: {:?}", hub.files(&owner_repo));
    }
    println!("Load it: datasets.load_dataset(\"{repo}\", split=\"train\")");
    store.close().await?;
    Ok(())
}
