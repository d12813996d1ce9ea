//! Text answers shaped like other OpenAI-compatible servers, field for field as recorded in
//! provider-wire-formats.md: vLLM (§2), TGI (§1.1–1.2), Ollama (§3), llama.cpp (§4), and the
//! Hugging Face router proxying Together AI (§1.4, §8).

use axum::http::StatusCode;

use super::exchange::Exchange;
use super::wire::{obj, Framing, Json, Reply, NULL};
use super::{
    HF_ROUTER_MODEL, LLAMA_CPP_MODEL, OLLAMA_MODEL, PROVIDER_DISCONNECTED_MESSAGE, PROVIDER_ERROR_CODE,
    PROVIDER_ERROR_MESSAGE, TGI_MODEL, VLLM_MODEL,
};

/// TGI's `system_fingerprint`: `<version>-<docker label|native>`.
const TGI_FINGERPRINT: &str = "3.1.2-dev0-native";
/// Ollama's fixed `system_fingerprint`.
const OLLAMA_FINGERPRINT: &str = "fp_ollama";
/// llama.cpp's `system_fingerprint`: `b<build>-<commit>`.
const LLAMA_CPP_FINGERPRINT: &str = "b5966-a414a44";
/// Together's `seed`: larger than `i64::MAX`, as in the captured bodies.
const TOGETHER_SEED: u64 = 14_429_055_041_780_593_000;
/// The token id Together reports on the last chunk (Llama 3's `<|eot_id|>`).
const TOGETHER_EOS_TOKEN: u64 = 128_009;

/// A `200 text/event-stream` reply of `chunks`, ended by `[DONE]` in the same framing.
fn stream(framing: Framing, chunks: impl IntoIterator<Item = Json>) -> Reply {
    let mut steps: Vec<_> = chunks.into_iter().map(|chunk| framing.event(&chunk)).collect();
    steps.push(framing.done());
    Reply::sse(steps)
}

/// A `200 application/json` reply.
fn ok(body: &Json) -> Reply {
    Reply::json(StatusCode::OK, body)
}

/// `Scenario::Vllm`: `reasoning_content`/`tool_calls: []`/`stop_reason` in the message; the
/// stream starts with `{"role":"assistant","content":""}`, finishes on a last `content: ""`
/// delta with `stop_reason`, and has no `usage` key except on the include_usage chunk.
pub(crate) fn vllm(x: &Exchange) -> Reply {
    let id = format!("chatcmpl-{}", x.pseudo_hex(32));
    let tokens = x.answer_tokens();
    let usage = |details: bool| {
        let mut usage = obj! {
            "prompt_tokens": x.prompt_tokens,
            "total_tokens": x.prompt_tokens + tokens,
            "completion_tokens": tokens,
        };
        if details {
            usage.push("prompt_tokens_details", NULL);
        }
        usage
    };
    if !x.stream {
        let message = obj! {
            "role": "assistant",
            "reasoning_content": NULL,
            "content": &x.answer,
            "tool_calls": Json::empty_array(),
        };
        let choice = obj! {
            "index": 0_u64,
            "message": message,
            "logprobs": NULL,
            "finish_reason": "stop",
            "stop_reason": NULL,
        };
        return ok(&obj! {
            "id": &id,
            "object": "chat.completion",
            "created": x.created,
            "model": VLLM_MODEL,
            "choices": vec![choice],
            "usage": usage(true),
            "prompt_logprobs": NULL,
            "kv_transfer_params": NULL,
        });
    }
    let chunk = |choices: Vec<Json>| {
        obj! {
            "id": &id,
            "object": "chat.completion.chunk",
            "created": x.created,
            "model": VLLM_MODEL,
            "choices": choices,
        }
    };
    let delta =
        |delta: Json| vec![obj! { "index": 0_u64, "delta": delta, "logprobs": NULL, "finish_reason": NULL }];
    let mut chunks = vec![chunk(delta(obj! { "role": "assistant", "content": "" }))];
    chunks.extend(x.answer_pieces().into_iter().map(|piece| chunk(delta(obj! { "content": piece }))));
    let last = obj! {
        "index": 0_u64,
        "delta": obj! { "content": "" },
        "logprobs": NULL,
        "finish_reason": "stop",
        "stop_reason": NULL,
    };
    chunks.push(chunk(vec![last]));
    if x.include_usage {
        let mut usage_chunk = chunk(Vec::new());
        usage_chunk.push("usage", usage(false));
        chunks.push(usage_chunk);
    }
    stream(Framing::OPENAI, chunks)
}

/// `Scenario::Tgi`: `id: ""`, `object` first, `data:` without a space, `role` in every delta,
/// finish on a last `content: ""` delta, `"usage": null` on every chunk.
pub(crate) fn tgi(x: &Exchange) -> Reply {
    let usage = x.plain_usage(x.answer_tokens());
    if !x.stream {
        let message = obj! { "role": "assistant", "content": &x.answer };
        let choice = obj! { "index": 0_u64, "message": message, "logprobs": NULL, "finish_reason": "stop" };
        return ok(&obj! {
            "object": "chat.completion",
            "id": "",
            "created": x.created,
            "model": TGI_MODEL,
            "system_fingerprint": TGI_FINGERPRINT,
            "choices": vec![choice],
            "usage": usage,
        });
    }
    let chunk = |choices: Vec<Json>, usage: Json| {
        obj! {
            "object": "chat.completion.chunk",
            "id": "",
            "created": x.created,
            "model": TGI_MODEL,
            "system_fingerprint": TGI_FINGERPRINT,
            "choices": choices,
            "usage": usage,
        }
    };
    let token = |content: &str, finish_reason: Option<&str>| {
        let delta = obj! { "role": "assistant", "content": content };
        chunk(
            vec![obj! { "index": 0_u64, "delta": delta, "logprobs": NULL, "finish_reason": finish_reason }],
            NULL,
        )
    };
    let mut chunks: Vec<_> = x.answer_pieces().into_iter().map(|piece| token(piece, None)).collect();
    chunks.push(token("", Some("stop")));
    if x.include_usage {
        chunks.push(chunk(Vec::new(), usage));
    }
    stream(Framing::TGI, chunks)
}

/// `Scenario::Ollama`: ids `chatcmpl-<0..998>`, `fp_ollama`, no `logprobs`; the stream repeats
/// `role` in every delta and finishes on a last `content: ""` delta (releases before #17485).
pub(crate) fn ollama(x: &Exchange) -> Reply {
    let id = format!("chatcmpl-{}", x.seq.wrapping_mul(7919).wrapping_add(926) % 999);
    let tokens = x.answer_tokens();
    let envelope = |object: &str, choices: Vec<Json>| {
        obj! {
            "id": &id,
            "object": object,
            "created": x.created,
            "model": OLLAMA_MODEL,
            "system_fingerprint": OLLAMA_FINGERPRINT,
            "choices": choices,
        }
    };
    if !x.stream {
        let message = obj! { "role": "assistant", "content": &x.answer };
        let mut body = envelope(
            "chat.completion",
            vec![obj! { "index": 0_u64, "message": message, "finish_reason": "stop" }],
        );
        body.push("usage", x.plain_usage(tokens));
        return ok(&body);
    }
    let delta = |content: &str, finish_reason: Option<&str>| {
        let delta = obj! { "role": "assistant", "content": content };
        envelope(
            "chat.completion.chunk",
            vec![obj! { "index": 0_u64, "delta": delta, "finish_reason": finish_reason }],
        )
    };
    let mut chunks: Vec<_> = x.answer_pieces().into_iter().map(|piece| delta(piece, None)).collect();
    chunks.push(delta("", Some("stop")));
    if x.include_usage {
        let mut usage_chunk = envelope("chat.completion.chunk", Vec::new());
        usage_chunk.push("usage", x.plain_usage(tokens));
        chunks.push(usage_chunk);
    }
    stream(Framing::OPENAI, chunks)
}

/// llama.cpp's `timings` object (made-up but consistent speeds).
fn llama_cpp_timings(x: &Exchange, predicted: u64) -> Json {
    const PROMPT_MS_PER_TOKEN: f64 = 0.5;
    const PREDICTED_MS_PER_TOKEN: f64 = 12.5;
    obj! {
        "cache_n": 0_u64,
        "prompt_n": x.prompt_tokens,
        "prompt_ms": x.prompt_tokens as f64 * PROMPT_MS_PER_TOKEN,
        "prompt_per_token_ms": PROMPT_MS_PER_TOKEN,
        "prompt_per_second": 1000.0 / PROMPT_MS_PER_TOKEN,
        "predicted_n": predicted,
        "predicted_ms": predicted as f64 * PREDICTED_MS_PER_TOKEN,
        "predicted_per_token_ms": PREDICTED_MS_PER_TOKEN,
        "predicted_per_second": 1000.0 / PREDICTED_MS_PER_TOKEN,
    }
}

/// `Scenario::LlamaCpp`: `choices` first, `finish_reason` before `index`, `timings`; the
/// stream has `model: ""`, a `content: null` role chunk, a `delta: {}` finish chunk, and
/// `timings` on the last chunk (the include_usage chunk when there is one).
pub(crate) fn llama_cpp(x: &Exchange) -> Reply {
    let id = format!("chatcmpl-{}", x.pseudo_hex(32));
    let tokens = x.answer_tokens();
    let usage = obj! {
        "completion_tokens": tokens,
        "prompt_tokens": x.prompt_tokens,
        "total_tokens": x.prompt_tokens + tokens,
    };
    let timings = llama_cpp_timings(x, tokens);
    let envelope = |choices: Vec<Json>, model: &str, object: &str| {
        obj! {
            "choices": choices,
            "created": x.created,
            "model": model,
            "system_fingerprint": LLAMA_CPP_FINGERPRINT,
            "object": object,
        }
    };
    if !x.stream {
        let message = obj! { "role": "assistant", "content": &x.answer };
        let choice = obj! { "finish_reason": "stop", "index": 0_u64, "message": message };
        let mut body = envelope(vec![choice], LLAMA_CPP_MODEL, "chat.completion");
        body.push("usage", usage);
        body.push("id", &id);
        body.push("timings", timings);
        return ok(&body);
    }
    let chunk = |finish_reason: Option<&str>, delta: Json| {
        let choice = obj! { "finish_reason": finish_reason, "index": 0_u64, "delta": delta };
        obj! {
            "choices": vec![choice],
            "created": x.created,
            "id": &id,
            "model": "",
            "system_fingerprint": LLAMA_CPP_FINGERPRINT,
            "object": "chat.completion.chunk",
        }
    };
    let mut chunks = vec![chunk(None, obj! { "role": "assistant", "content": NULL })];
    chunks.extend(x.answer_pieces().into_iter().map(|piece| chunk(None, obj! { "content": piece })));
    let mut finish = chunk(Some("stop"), obj! {});
    if x.include_usage {
        chunks.push(finish);
        finish = obj! {
            "choices": Json::empty_array(),
            "created": x.created,
            "id": &id,
            "model": "",
            "system_fingerprint": LLAMA_CPP_FINGERPRINT,
            "object": "chat.completion.chunk",
            "usage": usage,
        };
    }
    finish.push("timings", timings);
    chunks.push(finish);
    stream(Framing::OPENAI, chunks)
}

/// `Scenario::HfRouter`: router.huggingface.co passes the upstream provider's body through;
/// this is Together AI's: ids `<hex>-SJC`, `prompt: []`, `finish_reason: "eos"`, a `seed`
/// above `i64::MAX`; the stream carries `text` and `token_id`, and usage on the last content
/// chunk (always, include_usage or not) instead of a separate chunk.
pub(crate) fn hf_router(x: &Exchange) -> Reply {
    let id = format!("{}-SJC", x.pseudo_hex(16));
    let usage = x.plain_usage(x.answer_tokens());
    if !x.stream {
        let message = obj! { "role": "assistant", "content": &x.answer };
        let choice = obj! {
            "finish_reason": "eos",
            "seed": TOGETHER_SEED,
            "logprobs": NULL,
            "index": 0_u64,
            "message": message,
        };
        return ok(&obj! {
            "id": &id,
            "object": "chat.completion",
            "created": x.created,
            "model": HF_ROUTER_MODEL,
            "prompt": Json::empty_array(),
            "choices": vec![choice],
            "usage": usage,
        });
    }
    let pieces = x.answer_pieces();
    let last = pieces.len().saturating_sub(1);
    let chunks = pieces.into_iter().enumerate().map(|(at, piece)| {
        let is_last = at == last;
        let token_id = if is_last { TOGETHER_EOS_TOKEN } else { 1000 + x.seq + at as u64 };
        let delta = obj! { "token_id": token_id, "role": "assistant", "content": piece, "tool_calls": NULL };
        let choice = obj! {
            "index": 0_u64,
            "text": piece,
            "logprobs": NULL,
            "finish_reason": is_last.then_some("eos"),
            "seed": is_last.then_some(TOGETHER_SEED),
            "delta": delta,
        };
        obj! {
            "id": &id,
            "object": "chat.completion.chunk",
            "created": x.created,
            "choices": vec![choice],
            "model": HF_ROUTER_MODEL,
            "usage": is_last.then(|| usage.clone()),
        }
    });
    stream(Framing::OPENAI, chunks.collect::<Vec<_>>())
}

/// OpenRouter's id of a generation: `gen-<seconds>-<20 alphanumerics>`.
fn openrouter_id(x: &Exchange) -> String {
    format!("gen-{}-{}", x.created, x.pseudo_hex(20))
}

/// An OpenRouter chunk (provider-wire-formats.md §6) with one choice.
fn openrouter_chunk(x: &Exchange, id: &str, delta: Json, finish_reason: Json) -> Json {
    let choice = obj! {
        "index": 0_u64,
        "delta": delta,
        "finish_reason": finish_reason.clone(),
        "native_finish_reason": finish_reason,
        "logprobs": NULL,
    };
    obj! {
        "id": id,
        "provider": "MockProvider",
        "model": &x.model,
        "object": "chat.completion.chunk",
        "created": x.created,
        "choices": vec![choice],
    }
}

/// The streamed answer's first pieces, then `last`, an error chunk; no `[DONE]`.
fn openrouter_failing_stream(x: &Exchange, id: &str, last: Json) -> Reply {
    let framing = Framing::OPENAI;
    let mut steps = vec![framing.comment("OPENROUTER PROCESSING")];
    steps.push(framing.event(&openrouter_chunk(x, id, obj! { "role": "assistant", "content": "" }, NULL)));
    let pieces = x.answer_pieces();
    for piece in pieces.get(..2).unwrap_or(&pieces) {
        steps.push(framing.event(&openrouter_chunk(
            x,
            id,
            obj! { "role": "assistant", "content": *piece },
            NULL,
        )));
    }
    steps.push(framing.event(&last));
    Reply::sse(steps)
}

/// `Scenario::ErrorInBody`: OpenRouter's upstream failure with HTTP 200 (§6): not streamed,
/// the error and no `choices`; streamed, a mid-stream error chunk.
pub(crate) fn openrouter_error(x: &Exchange) -> Reply {
    let id = openrouter_id(x);
    if !x.stream {
        let metadata = obj! {
            "raw": "{\"error\":{\"message\":\"Resource has been exhausted (e.g. check quota).\"}}",
            "provider_name": "MockProvider",
        };
        let error =
            obj! { "message": PROVIDER_ERROR_MESSAGE, "code": PROVIDER_ERROR_CODE, "metadata": metadata };
        return ok(&obj! { "error": error, "user_id": "user_mock" });
    }
    let mut last = openrouter_chunk(x, &id, obj! { "content": "" }, "error".into());
    last.push("error", obj! { "code": "server_error", "message": PROVIDER_DISCONNECTED_MESSAGE });
    openrouter_failing_stream(x, &id, last)
}

/// `Scenario::ErrorInChoice`: the error inside the choice, with an id, a model and usage.
pub(crate) fn openrouter_choice_error(x: &Exchange) -> Reply {
    let id = openrouter_id(x);
    let error = obj! { "code": 502_u16, "message": PROVIDER_DISCONNECTED_MESSAGE, "metadata": obj! { "provider_name": "MockProvider" } };
    if !x.stream {
        let choice = obj! {
            "logprobs": NULL,
            "finish_reason": "error",
            "native_finish_reason": "error",
            "index": 0_u64,
            "message": obj! { "role": "assistant", "content": "", "refusal": NULL, "reasoning": NULL },
            "error": error,
        };
        return ok(&obj! {
            "id": &id,
            "provider": "MockProvider",
            "model": &x.model,
            "object": "chat.completion",
            "created": x.created,
            "choices": vec![choice],
            "usage": x.plain_usage(0),
        });
    }
    let mut last = openrouter_chunk(x, &id, obj! { "content": "" }, "error".into());
    if let Json::Object(fields) = &mut last {
        if let Some((_, Json::Array(choices))) = fields.iter_mut().find(|(key, _)| *key == "choices") {
            choices.iter_mut().for_each(|choice| choice.push("error", error.clone()));
        }
    }
    openrouter_failing_stream(x, &id, last)
}
