//! Request and response types, lenient by design.
//!
//! Providers omit fields, add their own, send `null` where OpenAI sends a value, send numbers
//! as strings and strings as numbers. Every response field is optional, unknown fields are
//! kept in `extra`, and the odd shapes of the providers' checklist deserialize without error.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// A chat-completion request: a JSON object, so any parameter a provider invents can be set,
/// plus observers' own per-call [`CallMetadata`] (tags, properties, user and session ids),
/// which is recorded but never sent.
///
/// # Example
/// ```
/// use observers_openai::{ChatCompletionRequest, ChatMessage};
/// use serde_json::json;
///
/// let request = ChatCompletionRequest::new("gpt-4o-mini")
///     .message(ChatMessage::system("Be brief."))
///     .message(ChatMessage::user("What is DuckDB?"))
///     .temperature(0.2)
///     .param("top_k", json!(20))          // any provider-specific parameter
///     .tag("docs-example")                // recorded, not sent
///     .property("plan", json!("pro"))     // recorded, not sent
///     .user_id("u-42")                    // recorded, not sent
///     .session_id("conversation-7");      // recorded, not sent
/// assert_eq!(request.body()["top_k"], 20);
/// assert!(request.body().get("tags").is_none() && request.body().get("user").is_none());
/// assert_eq!(request.metadata().user_id.as_deref(), Some("u-42"));
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatCompletionRequest {
    body: Map<String, Value>,
    metadata: CallMetadata,
}

/// What a call's record carries besides the exchange itself, set per call: recorded, never
/// sent to the provider.
///
/// [`ChatCompletionRequest`] carries one; code that does its own HTTP (a proxy, a client
/// adapter) hands one to [`Recorder::begin`](crate::Recorder::begin).
///
/// # Example
/// ```
/// use observers_openai::CallMetadata;
///
/// let metadata = CallMetadata::default().tag("checkout").user_id("u-42").session_id("s-1");
/// assert_eq!(metadata.tags, ["checkout"]);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct CallMetadata {
    /// Labels to filter on (`list_contains(tags, 'x')`), after the wrapper's own.
    pub tags: Vec<String>,
    /// Key/value properties, over the wrapper's own.
    pub properties: Map<String, Value>,
    /// The end user the call is made for (column `user_id`). Not OpenAI's `user` parameter,
    /// which is sent: set that with [`ChatCompletionRequest::param`] if you want it sent.
    pub user_id: Option<String>,
    /// The conversation or session the call belongs to (column `session_id`).
    pub session_id: Option<String>,
}

impl CallMetadata {
    /// Adds a tag.
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.tags.push(tag.into());
        self
    }

    /// Sets a property.
    pub fn property(mut self, key: impl Into<String>, value: Value) -> Self {
        self.properties.insert(key.into(), value);
        self
    }

    /// Sets the end user's id.
    pub fn user_id(mut self, user_id: impl Into<String>) -> Self {
        self.user_id = Some(user_id.into());
        self
    }

    /// Sets the session's id.
    pub fn session_id(mut self, session_id: impl Into<String>) -> Self {
        self.session_id = Some(session_id.into());
        self
    }
}

impl ChatCompletionRequest {
    /// A request for `model`, with no messages yet.
    pub fn new(model: impl Into<String>) -> Self {
        let mut body = Map::new();
        body.insert("model".into(), Value::String(model.into()));
        body.insert("messages".into(), Value::Array(Vec::new()));
        Self { body, ..Self::default() }
    }

    /// A request from raw JSON (an object with at least `model` and `messages`, as the
    /// OpenAI API takes it).
    pub fn from_json(body: Value) -> Result<Self, crate::Error> {
        match body {
            Value::Object(body) => Ok(Self { body, ..Self::default() }),
            other => Err(crate::Error::InvalidArgument(format!(
                "a chat completion request must be a JSON object, not {}",
                json_kind(&other)
            ))),
        }
    }

    /// Appends a message.
    pub fn message(mut self, message: impl Into<ChatMessage>) -> Self {
        let value = serde_json::to_value(message.into()).unwrap_or(Value::Null);
        match self.body.get_mut("messages") {
            Some(Value::Array(messages)) => messages.push(value),
            _ => {
                self.body.insert("messages".into(), Value::Array(vec![value]));
            }
        }
        self
    }

    /// Appends messages.
    pub fn messages<M: Into<ChatMessage>>(self, messages: impl IntoIterator<Item = M>) -> Self {
        messages.into_iter().fold(self, Self::message)
    }

    /// Sampling temperature.
    pub fn temperature(self, temperature: f64) -> Self {
        self.param("temperature", Value::from(temperature))
    }

    /// Nucleus sampling.
    pub fn top_p(self, top_p: f64) -> Self {
        self.param("top_p", Value::from(top_p))
    }

    /// Largest number of tokens to generate (`max_tokens`).
    pub fn max_tokens(self, max_tokens: u32) -> Self {
        self.param("max_tokens", Value::from(max_tokens))
    }

    /// Tools the model may call (the OpenAI `tools` array).
    pub fn tools(self, tools: Value) -> Self {
        self.param("tools", tools)
    }

    /// How the model picks tools (`"auto"`, `"none"`, `"required"` or an object).
    pub fn tool_choice(self, tool_choice: Value) -> Self {
        self.param("tool_choice", tool_choice)
    }

    /// Sets any request parameter, replacing a previous value.
    pub fn param(mut self, key: impl Into<String>, value: Value) -> Self {
        self.body.insert(key.into(), value);
        self
    }

    /// Adds a tag to this call's record (not sent to the API).
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.metadata.tags.push(tag.into());
        self
    }

    /// Adds a property to this call's record (not sent to the API).
    pub fn property(mut self, key: impl Into<String>, value: Value) -> Self {
        self.metadata.properties.insert(key.into(), value);
        self
    }

    /// The end user this call is made for, kept in the record's `user_id` (not sent to the
    /// API; OpenAI's own `user` parameter is `.param("user", ..)`).
    pub fn user_id(mut self, user_id: impl Into<String>) -> Self {
        self.metadata.user_id = Some(user_id.into());
        self
    }

    /// The conversation or session this call belongs to, kept in the record's `session_id`
    /// (not sent to the API).
    pub fn session_id(mut self, session_id: impl Into<String>) -> Self {
        self.metadata.session_id = Some(session_id.into());
        self
    }

    /// Replaces this call's metadata (tags, properties, user and session ids).
    pub fn with_metadata(mut self, metadata: CallMetadata) -> Self {
        self.metadata = metadata;
        self
    }

    /// This call's metadata: recorded, not sent.
    pub fn metadata(&self) -> &CallMetadata {
        &self.metadata
    }

    /// The JSON body sent to the API.
    pub fn body(&self) -> &Map<String, Value> {
        &self.body
    }

    pub(crate) fn body_mut(&mut self) -> &mut Map<String, Value> {
        &mut self.body
    }

    /// The `model` parameter, when it is a string.
    pub fn model(&self) -> Option<&str> {
        self.body.get("model").and_then(Value::as_str)
    }

    /// Whether the request asks for a stream.
    pub fn is_stream(&self) -> bool {
        self.body.get("stream").and_then(Value::as_bool).unwrap_or(false)
    }
}

impl From<Value> for ChatCompletionRequest {
    /// Wraps any JSON; a non-object becomes a request the API will refuse with its own error.
    fn from(value: Value) -> Self {
        match value {
            Value::Object(body) => Self { body, ..Self::default() },
            other => {
                let mut body = Map::new();
                body.insert("messages".into(), other);
                Self { body, ..Self::default() }
            }
        }
    }
}

pub(crate) fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A request message. Build one with [`ChatMessage::system`], [`user`](ChatMessage::user),
/// [`assistant`](ChatMessage::assistant) or [`tool`](ChatMessage::tool), or from any JSON
/// (`ChatMessage::from(json!({...}))`) for content parts and other shapes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ChatMessage(pub Value);

impl ChatMessage {
    fn text(role: &str, content: impl Into<String>) -> Self {
        Self(serde_json::json!({"role": role, "content": content.into()}))
    }
    /// A system message.
    pub fn system(content: impl Into<String>) -> Self {
        Self::text("system", content)
    }
    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Self::text("user", content)
    }
    /// An assistant message (for conversation history).
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::text("assistant", content)
    }
    /// A tool result answering the call `tool_call_id`.
    pub fn tool(tool_call_id: impl Into<String>, content: impl Into<String>) -> Self {
        Self(
            serde_json::json!({"role": "tool", "tool_call_id": tool_call_id.into(), "content": content.into()}),
        )
    }
}

impl From<Value> for ChatMessage {
    fn from(value: Value) -> Self {
        Self(value)
    }
}

// ---- lenient field deserializers -------------------------------------------------------

/// A string, a number (kept as its text) or null/absent.
fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => Some(s),
        Value::Null => None,
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        other => Some(other.to_string()),
    })
}

/// A non-negative integer, from an integer, a float, a numeric string; else `None`.
fn lenient_count<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n.as_u64().or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

/// A list that may also arrive as `null` or as a single object.
fn lenient_list<'de, D: Deserializer<'de>, T: serde::de::DeserializeOwned>(d: D) -> Result<Vec<T>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => {
            items.into_iter().map(|v| serde_json::from_value(v).map_err(serde::de::Error::custom)).collect()
        }
        single => Ok(vec![serde_json::from_value(single).map_err(serde::de::Error::custom)?]),
    }
}

fn lenient_optional_list<'de, D: Deserializer<'de>, T: serde::de::DeserializeOwned>(
    d: D,
) -> Result<Option<Vec<T>>, D::Error> {
    lenient_list(d).map(|v| if v.is_empty() { None } else { Some(v) })
}

/// Text content: a string, an array of `{type: "text", text}` parts (texts joined), or null.
fn lenient_content<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Null => None,
        Value::String(s) => Some(s),
        Value::Array(parts) => Some(
            parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str).or_else(|| p.as_str()))
                .collect::<String>(),
        ),
        other => Some(other.to_string()),
    })
}

/// Tool-call arguments: a JSON string, or an object (TGI ≤ 2.x) kept as its JSON text.
fn lenient_arguments<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Null => None,
        Value::String(s) => Some(s),
        other => Some(other.to_string()),
    })
}

/// Finish reason: absent, null or `""` are all "none".
fn lenient_reason<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    lenient_string(d).map(|s| s.filter(|s| !s.is_empty()))
}

// ---- responses -------------------------------------------------------------------------

/// A chat completion (non-streaming response).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatCompletion {
    /// The provider's id (`chatcmpl-...`); missing or empty for some providers.
    #[serde(default, deserialize_with = "lenient_string")]
    pub id: Option<String>,
    /// `chat.completion`, when sent.
    #[serde(default, deserialize_with = "lenient_string")]
    pub object: Option<String>,
    /// Creation time as sent (seconds, sometimes a float, milliseconds or a string).
    #[serde(default)]
    pub created: Option<Value>,
    /// The model that answered.
    #[serde(default, deserialize_with = "lenient_string")]
    pub model: Option<String>,
    /// The answers (usually one).
    #[serde(default, deserialize_with = "lenient_list")]
    pub choices: Vec<Choice>,
    /// Token counts, when sent.
    #[serde(default)]
    pub usage: Option<Usage>,
    /// Every other field the provider sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ChatCompletion {
    /// The first choice's text, if any.
    pub fn content(&self) -> Option<&str> {
        self.choices.first().and_then(|c| c.message.content.as_deref())
    }
}

/// One answer of a [`ChatCompletion`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    /// Its position.
    #[serde(default, deserialize_with = "lenient_count")]
    pub index: Option<u64>,
    /// The assistant's message.
    #[serde(default)]
    pub message: AssistantMessage,
    /// Why generation stopped.
    #[serde(default, deserialize_with = "lenient_reason")]
    pub finish_reason: Option<String>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The assistant's message in a [`Choice`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AssistantMessage {
    /// Usually `assistant`.
    #[serde(default, deserialize_with = "lenient_string")]
    pub role: Option<String>,
    /// The text (text parts joined when the provider sends an array).
    #[serde(default, deserialize_with = "lenient_content")]
    pub content: Option<String>,
    /// Tool calls the model made.
    #[serde(default, deserialize_with = "lenient_optional_list", skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
    /// Legacy function call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function_call: Option<Value>,
    /// Every other field (`refusal`, `reasoning_content`, `annotations`...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A tool call in a message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The call's id, used by the `tool` message answering it.
    #[serde(default, deserialize_with = "lenient_string")]
    pub id: Option<String>,
    /// Usually `function`.
    #[serde(rename = "type", default, deserialize_with = "lenient_string")]
    pub kind: Option<String>,
    /// The function and its arguments.
    #[serde(default)]
    pub function: FunctionCall,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A function name and its JSON arguments.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FunctionCall {
    /// The function's name.
    #[serde(default, deserialize_with = "lenient_string")]
    pub name: Option<String>,
    /// Its arguments, as JSON text.
    #[serde(default, deserialize_with = "lenient_arguments")]
    pub arguments: Option<String>,
}

/// Token counts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens in the prompt.
    #[serde(default, deserialize_with = "lenient_count")]
    pub prompt_tokens: Option<u64>,
    /// Tokens generated.
    #[serde(default, deserialize_with = "lenient_count")]
    pub completion_tokens: Option<u64>,
    /// Their sum.
    #[serde(default, deserialize_with = "lenient_count")]
    pub total_tokens: Option<u64>,
    /// Details and provider extras.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One event of a streamed chat completion.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatCompletionChunk {
    /// The provider's id.
    #[serde(default, deserialize_with = "lenient_string")]
    pub id: Option<String>,
    /// `chat.completion.chunk`, when sent.
    #[serde(default, deserialize_with = "lenient_string")]
    pub object: Option<String>,
    /// Creation time as sent.
    #[serde(default)]
    pub created: Option<Value>,
    /// The model that answers.
    #[serde(default, deserialize_with = "lenient_string")]
    pub model: Option<String>,
    /// Deltas, one per choice; empty in usage-only chunks.
    #[serde(default, deserialize_with = "lenient_list")]
    pub choices: Vec<ChunkChoice>,
    /// Token counts (usually on the last chunk only).
    #[serde(default)]
    pub usage: Option<Usage>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ChatCompletionChunk {
    /// The first choice's text delta, if any.
    pub fn content(&self) -> Option<&str> {
        self.choices.first().and_then(|c| c.delta.content.as_deref())
    }
}

/// One choice's delta in a chunk.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChunkChoice {
    /// The choice it belongs to.
    #[serde(default, deserialize_with = "lenient_count")]
    pub index: Option<u64>,
    /// What this chunk adds.
    #[serde(default)]
    pub delta: Delta,
    /// Set on the chunk where generation stopped.
    #[serde(default, deserialize_with = "lenient_reason")]
    pub finish_reason: Option<String>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// What a chunk adds to the message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Delta {
    /// The role, usually on the first chunk only.
    #[serde(default, deserialize_with = "lenient_string")]
    pub role: Option<String>,
    /// A piece of the text.
    #[serde(default, deserialize_with = "lenient_content")]
    pub content: Option<String>,
    /// Fragments of tool calls.
    #[serde(default, deserialize_with = "lenient_optional_list", skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCallDelta>>,
    /// Legacy function call fragment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function_call: Option<Value>,
    /// Every other field (`refusal`, `reasoning_content`...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A fragment of a tool call in a stream.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ToolCallDelta {
    /// Which call it continues (missing for some providers).
    #[serde(default, deserialize_with = "lenient_count")]
    pub index: Option<u64>,
    /// The call's id (first fragment, or every fragment, or never).
    #[serde(default, deserialize_with = "lenient_string")]
    pub id: Option<String>,
    /// Usually `function`.
    #[serde(rename = "type", default, deserialize_with = "lenient_string")]
    pub kind: Option<String>,
    /// Name and a piece of the arguments.
    #[serde(default)]
    pub function: Option<FunctionCall>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn odd_envelopes_deserialize() {
        let c: ChatCompletion = serde_json::from_value(json!({
            "id": 12, "created": 1234.5, "choices": null, "usage": {"prompt_tokens": "3", "total_tokens": 7.0},
            "x_groq": {"id": "q"}
        }))
        .unwrap();
        assert_eq!(c.id.as_deref(), Some("12"));
        assert!(c.choices.is_empty());
        let usage = c.usage.unwrap();
        assert_eq!(
            (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens),
            (Some(3), None, Some(7))
        );
        assert!(c.extra.contains_key("x_groq"));
    }

    #[test]
    fn content_parts_and_object_arguments() {
        let c: ChatCompletion = serde_json::from_value(json!({"choices": [{"message": {
            "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
            "tool_calls": {"id": 0, "function": {"name": "f", "arguments": {"x": 1}}}
        }, "finish_reason": ""}]}))
        .unwrap();
        let choice = &c.choices[0];
        assert_eq!(choice.message.content.as_deref(), Some("ab"));
        assert_eq!(choice.finish_reason, None);
        let call = &choice.message.tool_calls.as_ref().unwrap()[0];
        assert_eq!(call.id.as_deref(), Some("0"));
        assert_eq!(call.function.arguments.as_deref(), Some(r#"{"x":1}"#));
    }
}
