//! The recording proxy: observe apps in any language, with no code change.
//!
//! ```sh
//! cargo run --example proxy --features proxy             # a few calls, then the rows
//! cargo run --example proxy --features proxy -- --serve  # keeps serving until Ctrl-C
//! ```
//! It starts the proxy on 127.0.0.1 in front of the API in `OPENAI_BASE_URL` /
//! `OPENAI_API_KEY` (with neither set, an embedded mock server, and says so), calls it as any
//! app would (here an unwrapped client: only its base URL is the proxy's), and prints the rows
//! the proxy recorded in `./store.db`. With `--serve` it then waits for your own apps:
//! `OPENAI_BASE_URL=<the printed URL> python your_app.py`. For a long-running proxy, use the
//! command: `observers proxy`.

#![allow(clippy::print_stdout)]

mod common;

use futures_util::StreamExt;
use observers::openai::WrapOptions;
use observers::proxy::Proxy;
use observers::{ChatCompletionRequest, ChatMessage, DuckDbStore, OpenAi, Store};
use observers_testkit::openai::MockOpenAi;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_env_filter("observers=info,observers_proxy=info").init();
    let set = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let mut mock = None;
    let (upstream, key, model) = match (set("OPENAI_BASE_URL"), set("OPENAI_API_KEY")) {
        (None, None) => {
            let server = MockOpenAi::start().await?;
            println!("No OPENAI_API_KEY or OPENAI_BASE_URL set: the upstream is an embedded mock server");
            let url = server.base_url();
            mock = Some(server);
            (url, "no-key-needed".to_owned(), "gpt-4o-mini".to_owned())
        }
        (url, key) => (
            url.unwrap_or_else(|| observers::openai::OPENAI_BASE_URL.to_owned()),
            key.unwrap_or_default(),
            set("OBSERVERS_MODEL").unwrap_or_else(|| "gpt-4o-mini".to_owned()),
        ),
    };

    // 1. The proxy: in front of the upstream, recording into ./store.db.
    let store = DuckDbStore::open_default()?;
    let proxy = Proxy::builder()
        .upstream(&upstream)
        .store(store.clone())
        .listen("127.0.0.1:0".parse()?) // a free port; `observers proxy` defaults to 8788
        .options(WrapOptions::default().tags(["proxy-example"]))
        .start()
        .await?;
    let base_url = proxy.base_url();
    println!("Proxy at {base_url}, forwarding to {upstream}");
    println!("From any language, only the base URL changes:");
    println!("  OPENAI_BASE_URL={base_url} python your_app.py");
    println!(
        "  curl {base_url}/chat/completions -H \"Authorization: Bearer $OPENAI_API_KEY\" \
         -H 'X-Observers-Tags: curl' -d '{{\"model\":\"{model}\",\"messages\":[{{\"role\":\"user\",\"content\":\"Hi\"}}]}}'"
    );

    // 2. An app calling through it: a plain client (not wrapped) pointed at the proxy. The
    //    `X-Observers-*` headers add metadata to its records and are not forwarded.
    let app = OpenAi::builder()
        .base_url(&base_url)
        .api_key(key)
        .header("X-Observers-Tags", "example-app")
        .header("X-Observers-User-Id", "user-42")
        .build()?;
    let request =
        ChatCompletionRequest::new(&model).message(ChatMessage::user("Tell me a joke about proxies."));
    let completion = app.chat().completions().create(request).await?;
    println!("\nAnswer: {}", completion.content().unwrap_or_default());
    let request = ChatCompletionRequest::new(&model)
        .message(ChatMessage::user("Name three uses of DuckDB, briefly."))
        .param("stream_options", serde_json::json!({"include_usage": true}));
    let mut stream = app.chat().completions().create_stream(request).await?;
    print!("Streamed: ");
    while let Some(chunk) = stream.next().await {
        print!("{}", chunk?.content().unwrap_or_default());
    }
    println!();

    // 3. Stop it (requests in flight finish, the store is flushed), then look at the rows.
    let stats = if std::env::args().any(|arg| arg == "--serve") {
        println!("\nServing until Ctrl-C: point your apps at {base_url}");
        proxy.shutdown_on_signal().await?
    } else {
        proxy.shutdown().await?
    };
    println!("\nThe proxy relayed {} requests and recorded {} calls.", stats.requests, stats.recorded);
    common::print_latest(&store, 5).await?;
    store.close().await?;
    drop(mock);
    Ok(())
}
