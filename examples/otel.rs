//! The quickstart's calls, recorded in `store.db` and sent as OpenTelemetry GenAI spans to the
//! collector `OTEL_EXPORTER_OTLP_ENDPOINT` names (Phoenix, Jaeger, Tempo, an OpenTelemetry
//! Collector...), both at once.
//!
//! ```sh
//! pip install arize-phoenix && phoenix serve          # a local Phoenix on port 6006
//! OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:6006 cargo run --example otel --features otel
//! ```
//! With no endpoint set it says how to start Phoenix and exits. With no API key it talks to
//! an embedded mock server, like the quickstart.

#![allow(clippy::print_stdout)]

mod common;

use observers::openai::WrapOptions;
use observers::otel::ENDPOINT_VAR;
use observers::{
    wrap_openai_with, ChatCompletionRequest, ChatMessage, DuckDbStore, Fanout, OtelStore, Store,
};
use observers_testkit::openai::Scenario;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_env_filter("observers=info").init();
    if std::env::var_os(ENDPOINT_VAR).is_none()
        && std::env::var_os(observers::otel::TRACES_ENDPOINT_VAR).is_none()
    {
        println!(
            "Set {ENDPOINT_VAR} to your OpenTelemetry collector to send spans there. To try it with \
             Arize Phoenix on this machine:\n\n    pip install arize-phoenix && phoenix serve\n    \
             {ENDPOINT_VAR}=http://localhost:6006 cargo run --example otel --features otel\n\nthen open \
             http://localhost:6006. Message content is sent only with \
             OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true."
        );
        return Ok(());
    }
    let backend = common::backend("gpt-4o-mini", Scenario::Text).await?;

    // One line for both: the local file and the collector, every record to each.
    let collector = OtelStore::from_env()?;
    let store = Fanout::new().with(DuckDbStore::open_default()?).with(collector.clone());
    let client =
        wrap_openai_with(backend.client, store.clone(), WrapOptions::default().tags(["otel-example"]));

    for question in ["Tell me a joke about databases.", "Name three uses of DuckDB, briefly."] {
        let request = ChatCompletionRequest::new(&backend.model).message(ChatMessage::user(question));
        let completion = client.chat().completions().create(request).await?;
        println!("{question}\n  {}", completion.content().unwrap_or_default());
    }

    store.close().await?;
    println!(
        "\n{} spans sent to {} ({} dropped); the rows are in ./store.db",
        collector.exported(),
        collector.endpoint(),
        collector.dropped()
    );
    Ok(())
}
