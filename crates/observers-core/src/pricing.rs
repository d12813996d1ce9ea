//! What calls cost: a price table per model, and the cost of a record's tokens.
//!
//! observers ships a table ([`Prices::shipped`], the data file `prices.json` of this crate:
//! OpenAI, Anthropic, DeepSeek, Mistral, and open models under Groq's and Together's own
//! names), each price with its source page and the date it was taken. Your own table, in
//! the same JSON format, replaces or extends it ([`Prices::from_path`], [`Prices::merge`]).
//!
//! A model is found by its name as recorded, ignoring case; failing that, without a
//! provider prefix that gateways add (`openai/gpt-4o-mini` from OpenRouter or LiteLLM; the
//! table's `strip_prefixes`), then without a snapshot date (`gpt-4o-mini-2024-07-18`,
//! `claude-sonnet-4-20250514`), unless the dated name has a price of its own. Nothing else
//! is guessed: a model not found has no price and its calls no cost (`None`, NULL in the
//! stores).
//!
//! # Example
//! ```
//! use observers_core::pricing::{Price, Prices};
//!
//! let prices = Prices::shipped();
//! let price = prices.get("openai/gpt-4o-mini-2024-07-18").expect("shipped");
//! assert_eq!(price.input, 0.15); // USD per million tokens
//! // 1,000 prompt tokens of which 200 cached, 500 completion tokens:
//! let cost = price.cost(1_000, 500, 200);
//! assert!((cost - (800.0 * 0.15 + 200.0 * 0.075 + 500.0 * 0.6) / 1e6).abs() < 1e-12);
//! assert!(prices.get("my-finetune").is_none()); // unknown: no cost, never a guess
//!
//! // Your own prices, on top of the shipped ones:
//! let mine = Prices::from_json(r#"{"models": {"my-finetune": {"input": 1.0, "output": 2.0}}}"#)?;
//! let prices = Prices::shipped().merge(mine);
//! assert_eq!(prices.get("my-finetune").map(|p| p.output), Some(2.0));
//! # Ok::<(), observers_core::pricing::PriceError>(())
//! ```

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use serde::Deserialize;

use crate::record::ChatCompletionRecord;

/// The table observers ships (`prices.json` in this crate).
pub const SHIPPED_JSON: &str = include_str!("../prices.json");

/// What a model costs, in US dollars per million tokens.
#[derive(Debug, Clone, PartialEq)]
pub struct Price {
    /// The name this price is listed under in its table.
    pub model: String,
    /// Prompt tokens not served from the provider's cache.
    pub input: f64,
    /// Prompt tokens served from the provider's cache; `None` when the provider has no
    /// cache discount for this model (they cost [`input`](Self::input)).
    pub cached_input: Option<f64>,
    /// Completion tokens (reasoning tokens included: providers bill them as output).
    pub output: f64,
    /// Where the price was read (a URL), when the table says.
    pub source: Option<String>,
    /// When it was read (`YYYY-MM-DD`), when the table says.
    pub taken: Option<String>,
}

impl Price {
    /// The cost in US dollars of a call with these token counts. `cached_tokens` are the
    /// part of `prompt_tokens` the provider served from its cache (clamped to
    /// `0..=prompt_tokens`).
    pub fn cost(&self, prompt_tokens: u64, completion_tokens: u64, cached_tokens: u64) -> f64 {
        let cached = cached_tokens.min(prompt_tokens);
        // `observers reprice` computes the same sum in SQL, term by term in this order
        // (observers-store-duckdb's `reprice`); a test holds them equal.
        ((prompt_tokens - cached) as f64 * self.input
            + cached as f64 * self.cached_input.unwrap_or(self.input)
            + completion_tokens as f64 * self.output)
            / 1e6
    }
}

/// A price table: model names (and their aliases) to [`Price`]s.
///
/// Cheap to clone (the entries are shared).
#[derive(Debug, Clone, Default)]
pub struct Prices {
    /// Lowercased name or alias → price.
    by_name: HashMap<String, Arc<Price>>,
    /// Lowercased provider prefixes tried away (`openai/`).
    strip_prefixes: Vec<String>,
}

/// Why a price table could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PriceError {
    /// The file could not be read.
    #[error("could not read the price table {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
    /// The text is not a price table (bad JSON, an unknown or misspelt field, a missing price).
    #[error(
        "the price table is not valid: {0} (expected {{\"models\": {{\"<model>\": {{\"input\": <USD per 1M tokens>, \"output\": <...>, \"cached_input\": <optional>}}}}}})"
    )]
    Json(#[source] serde_json::Error),
    /// A price is negative or not a number.
    #[error("the price table gives model `{model}` an invalid {field} price {value}: prices are USD per million tokens, 0 or more")]
    InvalidPrice {
        /// The model.
        model: String,
        /// `input`, `cached_input` or `output`.
        field: &'static str,
        /// The value found.
        value: f64,
    },
    /// An entry names a source the table's `sources` does not define.
    #[error("the price table gives model `{model}` the source `{source_key}`, which its `sources` does not define")]
    UnknownSource {
        /// The model.
        model: String,
        /// The missing key.
        source_key: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TableFile {
    #[serde(default)]
    #[allow(dead_code)]
    about: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    unit: Option<String>,
    #[serde(default)]
    strip_prefixes: Vec<String>,
    #[serde(default)]
    sources: BTreeMap<String, SourceFile>,
    models: BTreeMap<String, EntryFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceFile {
    url: String,
    #[serde(default)]
    taken: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryFile {
    input: f64,
    output: f64,
    #[serde(default)]
    cached_input: Option<f64>,
    /// A key of `sources`, or a URL.
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    taken: Option<String>,
    #[serde(default)]
    aliases: Vec<String>,
}

// A test parses the shipped file, so the empty fallback never ships.
static SHIPPED: LazyLock<Prices> = LazyLock::new(|| Prices::from_json(SHIPPED_JSON).unwrap_or_default());

impl Prices {
    /// The table observers ships (see the [module docs](self)).
    pub fn shipped() -> Prices {
        SHIPPED.clone()
    }

    /// An empty table: no call gets a cost.
    pub fn empty() -> Prices {
        Prices::default()
    }

    /// Reads a table in the JSON format of the shipped one:
    /// `{"models": {"<name>": {"input": 0.15, "cached_input": 0.075, "output": 0.6,
    /// "source": "<url or key of \"sources\">", "taken": "2026-12-02", "aliases": [...]}}}`,
    /// prices in USD per million tokens; optional top-level `sources`
    /// (`{"<key>": {"url": ..., "taken": ...}}`) and `strip_prefixes` (`["openai/"]`).
    pub fn from_json(text: &str) -> Result<Prices, PriceError> {
        let file: TableFile = serde_json::from_str(text).map_err(PriceError::Json)?;
        let mut prices = Prices {
            by_name: HashMap::new(),
            strip_prefixes: file.strip_prefixes.iter().map(|p| p.to_lowercase()).collect(),
        };
        for (model, entry) in file.models {
            for (field, value) in [
                ("input", Some(entry.input)),
                ("cached_input", entry.cached_input),
                ("output", Some(entry.output)),
            ] {
                if let Some(value) = value.filter(|v| !v.is_finite() || *v < 0.0) {
                    return Err(PriceError::InvalidPrice { model, field, value });
                }
            }
            let (source, taken) = match entry.source {
                Some(key) if !key.contains("://") => match file.sources.get(&key) {
                    Some(source) => (Some(source.url.clone()), entry.taken.or_else(|| source.taken.clone())),
                    None => return Err(PriceError::UnknownSource { model, source_key: key }),
                },
                url => (url, entry.taken),
            };
            let price = Arc::new(Price {
                model: model.clone(),
                input: entry.input,
                cached_input: entry.cached_input,
                output: entry.output,
                source,
                taken,
            });
            for name in std::iter::once(&model).chain(&entry.aliases) {
                prices.by_name.insert(name.trim().to_lowercase(), price.clone());
            }
        }
        Ok(prices)
    }

    /// Reads a table from a JSON file (see [`from_json`](Self::from_json)).
    pub fn from_path(path: impl AsRef<Path>) -> Result<Prices, PriceError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|source| PriceError::Io { path: path.to_path_buf(), source })?;
        Prices::from_json(&text)
    }

    /// This table with `other`'s entries added; where both price a name, `other`'s wins.
    pub fn merge(mut self, other: Prices) -> Prices {
        self.by_name.extend(other.by_name);
        for prefix in other.strip_prefixes {
            if !self.strip_prefixes.contains(&prefix) {
                self.strip_prefixes.push(prefix);
            }
        }
        self
    }

    /// This table with `price` listed under `price.model`.
    pub fn with(mut self, price: Price) -> Prices {
        self.by_name.insert(price.model.trim().to_lowercase(), Arc::new(price));
        self
    }

    /// How many names (models and aliases) the table prices.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// Whether the table prices nothing.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// The price of `model` (see the [module docs](self) for how names are matched), or
    /// `None` when the table does not know it.
    pub fn get(&self, model: &str) -> Option<&Price> {
        let name = model.trim().to_lowercase();
        if let Some(price) = self.lookup(&name) {
            return Some(price);
        }
        self.strip_prefixes.iter().find_map(|prefix| self.lookup(name.strip_prefix(prefix.as_str())?))
    }

    /// The exact name, else the name without a snapshot date.
    fn lookup(&self, name: &str) -> Option<&Price> {
        self.by_name.get(name).or_else(|| self.by_name.get(without_date(name)?)).map(Arc::as_ref)
    }

    /// What `record` cost: `None` when its model has no price or its prompt or completion
    /// token count is unknown.
    pub fn cost(&self, record: &ChatCompletionRecord) -> Option<f64> {
        let price = self.get(record.model.as_deref()?)?;
        let tokens = |n: Option<i32>| n.and_then(|n| u64::try_from(n).ok());
        Some(price.cost(
            tokens(record.prompt_tokens)?,
            tokens(record.completion_tokens)?,
            tokens(record.cached_tokens).unwrap_or(0),
        ))
    }
}

/// `name` without a trailing snapshot date: `-YYYY-MM-DD` (OpenAI) or `-YYYYMMDD`
/// (Anthropic); `None` when it has none.
fn without_date(name: &str) -> Option<&str> {
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let bytes = name.as_bytes();
    // -YYYY-MM-DD
    if name.len() > 11 && name.is_char_boundary(name.len() - 11) {
        let (base, date) = name.split_at(name.len() - 11);
        let d = date.as_bytes();
        if d[0] == b'-'
            && d[5] == b'-'
            && d[8] == b'-'
            && digits(&date[1..5])
            && digits(&date[6..8])
            && digits(&date[9..])
        {
            return Some(base);
        }
    }
    // -YYYYMMDD, a plausible date (20xx), so `-0613`-style or other numbers are not taken.
    if name.len() > 9 && name.is_char_boundary(name.len() - 9) {
        let (base, date) = name.split_at(name.len() - 9);
        if bytes[name.len() - 9] == b'-' && digits(&date[1..]) && date[1..].starts_with("20") {
            return Some(base);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_table_parses_and_every_price_has_a_source_and_date() {
        let prices = Prices::from_json(SHIPPED_JSON).expect("the shipped prices.json must parse");
        assert!(prices.len() > 40, "{}", prices.len());
        for price in prices.by_name.values() {
            let source = price.source.as_deref().unwrap_or_default();
            assert!(source.starts_with("https://"), "{}: {source}", price.model);
            let taken = price.taken.as_deref().unwrap_or_default();
            assert!(taken.len() == 10 && taken.starts_with("20"), "{}: {taken}", price.model);
        }
    }

    #[test]
    fn names_match_through_dates_prefixes_and_case_but_nothing_else() {
        let prices = Prices::shipped();
        let input = |name: &str| prices.get(name).map(|p| p.input);
        assert_eq!(input("gpt-4o-mini"), Some(0.15));
        assert_eq!(input("gpt-4o-mini-2024-07-18"), Some(0.15));
        assert_eq!(input("openai/gpt-4o-mini"), Some(0.15));
        assert_eq!(input("OpenAI/GPT-4o-mini-2024-07-18"), Some(0.15));
        // A snapshot with a price of its own keeps it.
        assert_eq!(input("gpt-4o-2024-05-13"), Some(5.0));
        assert_eq!(input("gpt-4o-2024-08-06"), Some(2.5));
        assert_eq!(input("claude-sonnet-4-20250514"), Some(3.0));
        assert_eq!(input("anthropic/claude-sonnet-4.5"), Some(3.0));
        assert_eq!(input("claude-3-5-haiku-20241022"), Some(0.8));
        assert_eq!(input("meta-llama/llama-3.3-70b-instruct-turbo"), Some(0.88));
        // Never guessed: other suffixes, fine-tunes, other providers' prefixes, near names.
        for unknown in [
            "gpt-4o-mini-search-preview",
            "ft:gpt-4o-mini-2024-07-18:acme::abc123",
            "gpt-3.5-turbo-0125",
            "azure/gpt-4o",
            "deepseek/deepseek-chat",
            "meta-llama/Llama-3.3-70B-Instruct",
            "gpt-4o-mini-2024",
            "llama3",
            "",
        ] {
            assert_eq!(input(unknown), None, "{unknown}");
        }
    }

    #[test]
    fn cost_uses_cached_and_output_prices_and_needs_both_counts() {
        let prices = Prices::shipped();
        let mut record = ChatCompletionRecord::new("gpt-4o-mini-2024-07-18");
        assert_eq!(prices.cost(&record), None, "no usage: no cost");
        record.prompt_tokens = Some(1_000_000);
        assert_eq!(prices.cost(&record), None, "no completion count: no cost");
        record.completion_tokens = Some(1_000_000);
        assert_eq!(prices.cost(&record), Some(0.15 + 0.6));
        record.cached_tokens = Some(500_000);
        let cost = prices.cost(&record).unwrap_or_default();
        assert!((cost - (0.075 + 0.0375 + 0.6)).abs() < 1e-12, "{cost}");
        record.cached_tokens = Some(5_000_000); // more than the prompt: clamped
        assert!((prices.cost(&record).unwrap_or_default() - (0.075 + 0.6)).abs() < 1e-12);
        record.prompt_tokens = Some(-1);
        assert_eq!(prices.cost(&record), None, "a negative count is not a count");
        record.model = Some("my-model".into());
        record.prompt_tokens = Some(1);
        assert_eq!(prices.cost(&record), None);
        // No cache price: cached tokens cost the input price.
        let price = prices.get("gpt-4").cloned().unwrap_or_else(|| unreachable!());
        assert_eq!(price.cost(1_000_000, 0, 1_000_000), 30.0);
    }

    #[test]
    fn user_tables_merge_and_bad_ones_say_what_is_wrong() {
        let mine = Prices::from_json(
            r#"{"sources": {"me": {"url": "https://example.com/prices", "taken": "2026-01-01"}},
                "models": {"gpt-4o-mini": {"input": 1, "output": 2, "source": "me"},
                           "local-llama": {"input": 0, "output": 0, "source": "https://example.com", "aliases": ["llama"]}}}"#,
        )
        .map_err(|e| e.to_string());
        let mine = match mine {
            Ok(mine) => mine,
            Err(e) => panic!("{e}"),
        };
        let prices = Prices::shipped().merge(mine);
        let gpt = prices.get("openai/gpt-4o-mini-2024-07-18").cloned();
        assert_eq!(gpt.as_ref().map(|p| (p.input, p.output)), Some((1.0, 2.0)));
        assert_eq!(gpt.and_then(|p| p.taken), Some("2026-01-01".into()));
        assert_eq!(prices.get("LLAMA").map(|p| p.input), Some(0.0));
        assert_eq!(prices.get("gpt-4o").map(|p| p.input), Some(2.5), "the shipped rest stays");

        let error = |text: &str| Prices::from_json(text).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error("{").contains("not valid"));
        assert!(error(r#"{"models": {"m": {"input": 1, "ouput": 2}}}"#).contains("ouput"));
        assert!(error(r#"{"models": {"m": {"input": -1, "output": 2}}}"#).contains("invalid input price -1"));
        assert!(error(r#"{"models": {"m": {"input": 1, "output": 2, "source": "x"}}}"#).contains("`x`"));
        let missing = Prices::from_path("/nonexistent/prices.json").err().map(|e| e.to_string());
        assert!(missing.unwrap_or_default().contains("/nonexistent/prices.json"));
    }

    #[test]
    fn dates_are_recognised_only_as_dates() {
        assert_eq!(without_date("gpt-4o-2024-08-06"), Some("gpt-4o"));
        assert_eq!(without_date("claude-3-haiku-20240307"), Some("claude-3-haiku"));
        assert_eq!(without_date("gpt-4-0613"), None);
        assert_eq!(without_date("model-12345678"), None);
        assert_eq!(without_date("x-2024-0a-01"), None);
        assert_eq!(without_date("é-2024-01-01"), Some("é"));
        assert_eq!(without_date("2024-01-01"), None);
    }
}
