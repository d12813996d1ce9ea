//! Observe every chat completion of any OpenAI-compatible API (work in progress: the client
//! wrapper lands here).
