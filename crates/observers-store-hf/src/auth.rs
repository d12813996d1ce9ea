//! Token and endpoint, found where the Hugging Face tools put them.
//!
//! Written here instead of taken from `hf-hub`: hf-hub 0.5 reads only `$HF_HOME/token` (not
//! `HF_TOKEN` nor `HF_TOKEN_PATH`) and hf-hub 1.0 has no public getter for the token it
//! resolves; the lookup is a few lines.

use std::path::PathBuf;

/// The public Hub.
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

/// `$HF_HOME`, default `~/.cache/huggingface`.
pub fn hf_home() -> Option<PathBuf> {
    match std::env::var_os("HF_HOME").filter(|v| !v.is_empty()) {
        Some(home) => Some(PathBuf::from(home)),
        None => std::env::var_os("XDG_CACHE_HOME")
            .filter(|v| !v.is_empty())
            .map(|cache| PathBuf::from(cache).join("huggingface"))
            .or_else(|| dirs::home_dir().map(|home| home.join(".cache").join("huggingface"))),
    }
}

/// The token: `HF_TOKEN`, else the file at `HF_TOKEN_PATH`, else `$HF_HOME/token`.
pub fn token_from_env() -> Option<String> {
    if let Some(token) =
        std::env::var("HF_TOKEN").ok().map(|t| t.trim().to_string()).filter(|t| !t.is_empty())
    {
        return Some(token);
    }
    let path = std::env::var_os("HF_TOKEN_PATH")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| hf_home().map(|home| home.join("token")))?;
    let token = std::fs::read_to_string(path).ok()?;
    Some(token.trim().to_string()).filter(|t| !t.is_empty())
}

/// `HF_ENDPOINT`, else the public Hub; without a trailing slash.
pub fn endpoint_from_env() -> String {
    std::env::var("HF_ENDPOINT")
        .ok()
        .filter(|e| !e.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_ENDPOINT.to_string())
        .trim_end_matches('/')
        .to_string()
}
