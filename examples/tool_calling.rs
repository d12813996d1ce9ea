//! Tool calling: the model asks for a tool, we run it and send the result back. Both calls
//! are recorded; the first row holds the tool calls (merged across chunks when streamed).
//!
//! `cargo run --example tool_calling`

#![allow(clippy::print_stdout)]

mod common;

use observers::{wrap_openai, ChatCompletionRequest, ChatMessage, DuckDbStore, Store};
use observers_testkit::openai::Scenario;
use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let backend = common::backend("gpt-4o-mini", Scenario::ToolCalls).await?;
    let store = DuckDbStore::open_default()?;
    let client = wrap_openai(backend.client, store.clone());

    let tools = json!([{
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather in a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
        }
    }]);
    let question = ChatMessage::user("What's the weather in Paris?");
    let request = ChatCompletionRequest::new(&backend.model).message(question.clone()).tools(tools.clone());
    let completion = client.chat().completions().create(request).await?;

    // Answer each tool call with a (pretend) result, then ask again.
    let message = completion.choices.first().map(|c| c.message.clone()).unwrap_or_default();
    let mut follow_up = ChatCompletionRequest::new(&backend.model)
        .message(question)
        .message(ChatMessage::from(serde_json::to_value(&message)?))
        .tools(tools);
    for call in message.tool_calls.iter().flatten() {
        println!("The model calls {:?} with {:?}", call.function.name, call.function.arguments);
        let id = call.id.clone().unwrap_or_default();
        follow_up =
            follow_up.message(ChatMessage::tool(id, json!({"celsius": 18, "sky": "clear"}).to_string()));
    }
    if let Some(mock) = &backend.mock {
        mock.set_scenario(Scenario::Text); // the mock answers in text now
    }
    let answer = client.chat().completions().create(follow_up).await?;
    println!("Answer: {}", answer.content().unwrap_or_default());

    store.flush().await?;
    common::print_latest(&store, 2).await?;
    store.close().await?;
    Ok(())
}
