//! The `observers` command line: `observers sync`, `export`, `stats`, `report`, `reprice` and `proxy`
//! (`sync` and `stats` also run as `cargo xtask sync` / `cargo xtask stats` inside this
//! repository).

// This module is a command line: its results go to stdout, its progress and errors to stderr.
#![allow(clippy::print_stdout)]

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

mod export;
mod query;
mod report;
mod reprice;
mod stats;
mod window;

use crate::sync::{sync_to_hub, SyncEvent, SyncOptions, DEFAULT_BATCH_SIZE};
use crate::DuckDbStore;

mod proxy;

/// Observability for LLM apps: work with the calls your application recorded.
#[derive(Debug, Parser)]
#[command(name = "observers", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Push the records of a local store that the Hub dataset lacks, and mark them synced.
    Sync {
        /// The dataset: `owner/name`, or `name` in the token owner's namespace.
        #[arg(long)]
        repo: String,
        /// The local store.
        #[arg(long, default_value = "store.db")]
        db: PathBuf,
        /// Create the dataset private (if it does not exist).
        #[arg(long)]
        private: bool,
        /// The branch to commit to.
        #[arg(long, default_value = "main")]
        revision: String,
        /// Rows per Parquet shard (and the most rows held in memory at once).
        #[arg(long, default_value_t = DEFAULT_BATCH_SIZE)]
        batch_size: usize,
        /// Only say what would be pushed.
        #[arg(long)]
        dry_run: bool,
        /// Hugging Face token (default: HF_TOKEN, else the token `hf auth login` saved).
        #[arg(long, env = "HF_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// The Hub (default: HF_ENDPOINT, else https://huggingface.co).
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// Send the records of a local store that an OpenTelemetry collector (Phoenix, Jaeger,
    /// Tempo, Langfuse...) has not had, as GenAI spans, and note them exported.
    Export(export::Args),
    /// Calls, errors, latency and time-to-first-token percentiles, tokens and cost over a
    /// time window, per model, tag or day.
    Stats(stats::Args),
    /// One self-contained HTML file of charts: calls and cost over time, latency and TTFT
    /// per model, error kinds, tokens, the slowest and most expensive calls.
    Report(report::Args),
    /// Recompute the cost of every stored call from the price table (and yours: --prices).
    Reprice(reprice::Args),
    /// An OpenAI-compatible proxy recording every chat completion: point any app, in any
    /// language, at it with OPENAI_BASE_URL=http://127.0.0.1:8788/v1.
    Proxy(proxy::ProxyArgs),
}

/// Parses `args` (the first is the program name) and runs the command.
pub fn run<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { ExitCode::from(2) } else { ExitCode::SUCCESS };
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => return fail(format!("could not start the async runtime: {e}")),
    };
    match runtime.block_on(execute(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => fail(message),
    }
}

fn fail(message: String) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::FAILURE
}

/// DuckDB's memory cap for the command line: it reads the store once, front to back, so a
/// large cache buys nothing; what the sync's statements need beyond it (sorting the ids to
/// assign shards) spills to disk. The `sync` bench's 1,000,000-row store syncs within 64 MB.
pub const CLI_MEMORY_LIMIT: &str = "100MB";

/// Opens an existing store: a command that reads one must not create an empty file.
fn open_existing(db: &Path) -> Result<DuckDbStore, String> {
    open_existing_with(db, CLI_MEMORY_LIMIT)
}

/// [`open_existing`] with DuckDB's memory capped at `memory_limit`.
fn open_existing_with(db: &Path, memory_limit: &str) -> Result<DuckDbStore, String> {
    if !db.exists() {
        return Err(format!(
            "no store at {}: run your application first (it creates store.db), or pass --db <path>",
            db.display()
        ));
    }
    // Every core: the commands scan the whole store, unlike an app's store, which inserts.
    DuckDbStore::builder(db).memory_limit(memory_limit).threads(None).open().map_err(|e| e.to_string())
}

async fn execute(command: Command) -> Result<(), String> {
    match command {
        Command::Sync { repo, db, private, revision, batch_size, dry_run, token, endpoint } => {
            let store = open_existing(&db)?;
            let options = SyncOptions {
                private,
                revision,
                batch_size,
                dry_run,
                token,
                endpoint,
                ..SyncOptions::new(repo)
            };
            sync(&store, &options).await
        }
        Command::Export(args) => export::run(args).await,
        Command::Stats(args) => stats::run(args).await,
        Command::Report(args) => report::run(args).await,
        Command::Reprice(args) => reprice::run(args).await,
        Command::Proxy(args) => proxy::run(args).await,
    }
}

async fn sync(store: &DuckDbStore, options: &SyncOptions) -> Result<(), String> {
    let terminal = std::io::stderr().is_terminal();
    let bar = ProgressBar::hidden();
    let report = sync_to_hub(store, options, |event| match event {
        SyncEvent::Planned { rows } => {
            if terminal {
                bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
                bar.set_length(*rows);
                bar.set_style(
                    ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} rows ({per_sec})")
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                bar.set_message("writing shards");
            } else {
                eprintln!("{rows} rows to push");
            }
        }
        SyncEvent::ShardWritten { rows } => {
            bar.inc(*rows);
            if !terminal {
                eprintln!("wrote a shard of {rows} rows");
            }
        }
        SyncEvent::Pushed(summary) => {
            bar.finish_and_clear();
            if !terminal {
                eprintln!("pushed {} shards ({} bytes)", summary.shards, summary.bytes);
            }
        }
    })
    .await
    .map_err(|e| e.to_string())?;
    bar.finish_and_clear();
    if report.dry_run {
        println!(
            "dry run: would push {} rows in {} shard(s), about {} bytes, to {}",
            report.rows, report.shards, report.bytes, report.repo_id
        );
    } else {
        println!(
            "pushed {} rows in {} shard(s), {} bytes, to {}{}",
            report.rows,
            report.shards,
            report.bytes,
            report.repo_id,
            report.commit_url.map(|url| format!(": {url}")).unwrap_or_default()
        );
    }
    Ok(())
}
