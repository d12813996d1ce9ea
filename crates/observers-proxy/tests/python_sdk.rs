//! The official Python `openai` client through the proxy, as a Python app uses it with only
//! its base URL changed: a plain call, a stream with `include_usage`, tool calls (whole and
//! streamed), an error, and an endpoint that is not recorded. The rows are then read with the
//! DuckDB CLI from the file the proxy wrote.
//!
//! The interpreter is `$OBSERVERS_PYTHON` (set by `cargo xtask test` to its venv), else
//! `python3`; the test fails, never skips, when `openai` is missing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;
use std::time::Duration;

use common::{Setup, KEY};
use observers_core::Store;
use observers_testkit::openai::{Scenario, MOCK_ANSWER_PREFIX};
use observers_testkit::tools::{duckdb_csv, python_with_openai};

const SCRIPT: &str = r#"
import json, os, sys
import openai
from openai import OpenAI

print("VERSION", openai.__version__, flush=True)
client = OpenAI(base_url=os.environ["PROXY_URL"], api_key=os.environ["PROXY_TEST_KEY"], max_retries=0)
messages = [{"role": "system", "content": "You are terse."},
            {"role": "user", "content": "What is the capital of France?"}]
tools = [{"type": "function", "function": {"name": "get_weather", "description": "Weather of a city",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]

r = client.chat.completions.create(model="gpt-4o-mini", messages=messages, temperature=0.3,
                                   extra_headers={"X-Observers-Tags": "python,plain",
                                                  "X-Observers-User-Id": "u-py",
                                                  "X-Observers-Property-App": "sdk-test"})
print("PLAIN", json.dumps({"content": r.choices[0].message.content, "total": r.usage.total_tokens}), flush=True)

text, total, chunks = "", None, 0
for chunk in client.chat.completions.create(model="gpt-4o-mini", messages=messages, stream=True,
                                            stream_options={"include_usage": True},
                                            extra_headers={"X-Observers-Tags": "python,stream"}):
    chunks += 1
    if chunk.choices and chunk.choices[0].delta.content:
        text += chunk.choices[0].delta.content
    if chunk.usage:
        total = chunk.usage.total_tokens
print("STREAM", json.dumps({"content": text, "total": total, "chunks": chunks}), flush=True)

r = client.chat.completions.create(model="mock:tool_calls", messages=messages, tools=tools)
calls = [[c.id, c.function.name, c.function.arguments] for c in r.choices[0].message.tool_calls]
print("TOOLS", json.dumps({"calls": calls, "finish": r.choices[0].finish_reason}), flush=True)

fragments = {}
for chunk in client.chat.completions.create(model="mock:tool_calls", messages=messages, tools=tools,
                                            stream=True):
    for call in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
        fragments.setdefault(call.index, "")
        fragments[call.index] += call.function.arguments or ""
print("STREAMED_TOOLS", json.dumps([fragments[i] for i in sorted(fragments)]), flush=True)

try:
    client.chat.completions.create(model="mock:http_error_429", messages=messages)
    raise AssertionError("a 429 was expected")
except openai.RateLimitError as err:
    print("ERROR", json.dumps({"status": err.status_code, "code": err.code}), flush=True)

models = client.models.list()
print("MODELS", len(models.data), flush=True)
"#;

/// The lines the script printed with `tag`, without it.
fn line<'a>(out: &'a str, tag: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(tag).and_then(|rest| rest.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("no {tag} line in:\n{out}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_python_client_works_through_the_proxy_and_every_call_is_a_row() {
    let python = python_with_openai();
    let mut s = Setup::new(Scenario::Text).await;
    let url = s.proxy().base_url();
    let run = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .args(["-c", SCRIPT])
            .env("PROXY_URL", url)
            .env("PROXY_TEST_KEY", KEY)
            .env_remove("OPENAI_BASE_URL")
            .env_remove("OPENAI_API_KEY")
            .output()
            .unwrap()
    });
    let output = tokio::time::timeout(Duration::from_secs(180), run).await.expect("the script hung").unwrap();
    let out = String::from_utf8_lossy(&output.stdout).into_owned();
    let err = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "the script failed:\n{out}\n{err}");
    eprintln!("{}", line(&out, "VERSION"));

    let answer = format!("{MOCK_ANSWER_PREFIX}What is the capital of France?");
    let plain: serde_json::Value = serde_json::from_str(line(&out, "PLAIN")).unwrap();
    assert_eq!(plain["content"], answer.as_str());
    let stream: serde_json::Value = serde_json::from_str(line(&out, "STREAM")).unwrap();
    assert_eq!(stream["content"], answer.as_str());
    assert_eq!(stream["total"], plain["total"]);
    let tools: serde_json::Value = serde_json::from_str(line(&out, "TOOLS")).unwrap();
    assert_eq!(tools["finish"], "tool_calls");
    assert_eq!(tools["calls"][0][1], "get_weather");
    assert_eq!(
        line(&out, "STREAMED_TOOLS"),
        r#"["{\"city\":\"Paris\"}", "{\"timezone\":\"Europe/Paris\"}"]"#
    );
    assert_eq!(line(&out, "ERROR"), r#"{"status": 429, "code": "rate_limit_exceeded"}"#);
    assert!(line(&out, "MODELS").parse::<usize>().unwrap() > 0);

    let stats = s.shutdown().await;
    assert_eq!((stats.requests, stats.recorded, stats.records_lost), (6, 5, 0));
    s.store.close().await.unwrap();

    let path = s.dir.path().join("store.db");
    let sql = format!(
        "select model, finish_reason, total_tokens, array_to_string(tags, '|'), coalesce(user_id, ''), \
                coalesce(properties->>'$.app', ''), coalesce(tool_calls->>'$[0].function.name', ''), \
                coalesce(tool_calls->>'$[1].function.arguments', ''), error is null, \
                time_to_first_token_ms is not null, assistant_message is not distinct from $${answer}$$ \
         from openai_records order by id"
    );
    let rows = duckdb_csv(&path, &sql, true);
    let expected = [
        "gpt-4o-mini,stop,18,python|plain,u-py,sdk-test,,,true,false,true",
        "gpt-4o-mini,stop,18,python|stream,,,,,true,true,true",
        "mock:tool_calls,tool_calls,19,,,,get_weather,\"{\"\"timezone\"\":\"\"Europe/Paris\"\"}\",true,false,false",
        // Streamed without include_usage: no token counts.
        "mock:tool_calls,tool_calls,NULL,,,,get_weather,\"{\"\"timezone\"\":\"\"Europe/Paris\"\"}\",true,true,false",
        "mock:http_error_429,error,NULL,,,,,,false,false,false",
    ];
    assert_eq!(rows.lines().collect::<Vec<_>>(), expected, "rows:\n{rows}");
    let leaked = duckdb_csv(
        &path,
        &format!("select count(*) from openai_records r where r::varchar like '%{KEY}%'"),
        true,
    );
    assert_eq!(leaked.trim(), "0", "the API key reached a row");
}
