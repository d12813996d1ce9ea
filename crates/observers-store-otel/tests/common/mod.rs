//! What the integration tests share: a store that keeps the records it is given (to compare
//! spans with), and the wrapped client on the loopback OpenAI mock.

#![allow(dead_code, unreachable_pub)]

use observers_core::Fanout;
use observers_openai::{wrap_openai_with, OpenAi, WrapOptions};
use observers_store_otel::OtelStore;
use observers_testkit::openai::MockOpenAi;

/// Keeps every record, in order (testkit's).
pub type Kept = observers_testkit::records::KeptStore;

/// The client wrapped to record in `otel` and in the returned [`Kept`], both at once.
pub fn wrapped(server: &MockOpenAi, otel: &OtelStore) -> (OpenAi, Kept) {
    let kept = Kept::default();
    let client = OpenAi::builder().base_url(server.base_url()).api_key("sk-test-otel").build().unwrap();
    let both = Fanout::new().with(otel.clone()).with(kept.clone());
    (wrap_openai_with(client, both, WrapOptions::default().stream_usage(true)), kept)
}
