//! Project automation, run as `cargo xtask <command>` (see `.cargo/config.toml`).
//!
//! - `cargo xtask test`: installs what the tests need (a Python venv with the `duckdb` CLI
//!   and the interop packages of `xtask/requirements.txt`), then runs every test.
//! - `cargo xtask ci`: what CI runs: format check, clippy, rustdoc, `audit`, the quickstart
//!   example, the tests.
//! - `cargo xtask audit`: cargo-deny's checks, advisories included, against the RustSec
//!   database snapshot in `xtask/advisory-db/` (see the `audit` module).
//! - `cargo xtask bench [--compare]`: the benchmarks, in release mode (`--compare`: side by
//!   side with Python observers).
//! - `cargo xtask fuzz [--cases N]`: the fuzz targets (proptests named `fuzz_*`) for N cases
//!   each (default 50,000; the test suite runs 256).
//! - `cargo xtask sync --repo owner/name`: push `./store.db` to a Hub dataset, and
//!   `cargo xtask stats`: calls, errors, latency, tokens and cost; the same code as the `observers` binary.

// A command-line tool: its reports go to stdout.
#![allow(clippy::print_stdout)]

use std::env;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use clap::{Parser, Subcommand};

mod audit;

#[derive(Parser)]
#[command(about = "observers project tasks")]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Install test tools (Python venv with the duckdb CLI...), then run all tests.
    Test {
        /// Extra arguments for the test runner (e.g. a test name filter).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// The fuzz targets (proptests named `fuzz_*`: SSE, response and chunk parsers, records to
    /// Arrow) for many cases.
    Fuzz {
        /// Cases per target.
        #[arg(long, default_value_t = DEFAULT_FUZZ_CASES)]
        cases: u32,
    },
    /// Everything CI checks: fmt, clippy, rustdoc, audit, the quickstart example, the tests,
    /// the fuzz targets.
    Ci,
    /// cargo-deny: advisories (RustSec snapshot in xtask/advisory-db), bans, licenses, sources.
    Audit {
        /// `--online` (the live database), `--update [--from <git url or path>]` (refresh the
        /// snapshot).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Push the local store's records to a Hub dataset (`observers sync --help`).
    Sync {
        /// Arguments of `observers sync`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Calls, errors, latency, tokens and cost of the local store (`observers stats --help`).
    Stats {
        /// Arguments of `observers stats`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Run the benchmarks (release build) and print their figures.
    Bench {
        /// Instead, the side-by-side comparison with Python observers and the official
        /// `openai` SDK (installed first in a venv from xtask/compare/requirements.txt).
        #[arg(long)]
        compare: bool,
        /// Extra arguments for the benchmarks (e.g. a benchmark name filter).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

type Result<T = ()> = std::result::Result<T, String>;

/// About two minutes on two cores in the dev profile.
const DEFAULT_FUZZ_CASES: u32 = 50_000;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Task::Sync { args } => return observers_cli("sync", args),
        Task::Stats { args } => return observers_cli("stats", args),
        Task::Test { args } => test(&args),
        Task::Ci => ci(),
        Task::Fuzz { cases } => fuzz(cases),
        Task::Audit { args } => audit::audit(&args),
        Task::Bench { compare, args } => bench(compare, &args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `observers <command> <args>` in the directory `cargo xtask` was called from.
fn observers_cli(command: &str, args: Vec<String>) -> ExitCode {
    let argv = ["observers".to_string(), command.to_string()].into_iter().chain(args);
    observers::cli::run(argv)
}

fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_else(|| ".".into())
}

fn target_dir() -> PathBuf {
    env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| project_root().join("target"))
}

fn cargo() -> Command {
    let mut command = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(project_root());
    command
}

fn run(command: &mut Command) -> Result {
    eprintln!("xtask: running {command:?}");
    let status = command.status().map_err(|e| format!("could not start {command:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{command:?} failed with {status}"))
    }
}

/// The venv with the Python tools tests drive; created or updated when requirements change.
fn python_venv() -> Result<PathBuf> {
    let venv =
        env::var_os("OBSERVERS_VENV").map(PathBuf::from).unwrap_or_else(|| target_dir().join("py-venv"));
    venv_with(venv, "xtask/requirements.txt")
}

/// The venv at `venv` holding the packages of `requirements` (a path in the repository);
/// created or updated when they change.
fn venv_with(venv: PathBuf, requirements: &str) -> Result<PathBuf> {
    let requirements = project_root().join(requirements);
    let wanted =
        std::fs::read_to_string(&requirements).map_err(|e| format!("{}: {e}", requirements.display()))?;
    let stamp = venv.join(".observers-requirements");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) {
        return Ok(venv);
    }
    let python = env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    run(Command::new(&python).args(["-m", "venv"]).arg(&venv))?;
    run(Command::new(venv.join("bin/python"))
        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r"])
        .arg(&requirements))?;
    std::fs::write(&stamp, wanted).map_err(|e| format!("{}: {e}", stamp.display()))?;
    Ok(venv)
}

fn with_venv(command: &mut Command, venv: &Path) -> Result {
    let mut path = vec![venv.join("bin")];
    path.extend(env::split_paths(&env::var_os("PATH").unwrap_or_default()));
    let path: OsString = env::join_paths(path).map_err(|e| e.to_string())?;
    command
        .env("PATH", path)
        .env("OBSERVERS_DUCKDB_CLI", venv.join("bin/duckdb"))
        .env("OBSERVERS_PYTHON", venv.join("bin/python"))
        .env("VIRTUAL_ENV", venv);
    Ok(())
}

fn has_nextest() -> bool {
    cargo().args(["nextest", "--version"]).output().map(|o| o.status.success()).unwrap_or(false)
}

fn test(args: &[String]) -> Result {
    let venv = python_venv()?;
    // Doc tests first (nextest does not run them), so the runner's summary closes the output.
    let mut doc = cargo();
    doc.args(["test", "--workspace", "--all-features", "--doc"]);
    with_venv(&mut doc, &venv)?;
    run(&mut doc)?;
    let mut tests = cargo();
    if has_nextest() {
        tests.args(["nextest", "run", "--workspace", "--all-features", "--no-fail-fast"]);
    } else {
        tests.args(["test", "--workspace", "--all-features", "--no-fail-fast"]);
    }
    tests.args(args);
    with_venv(&mut tests, &venv)?;
    run(&mut tests)
}

fn ci() -> Result {
    let mut steps = Steps::default();
    let outcome = ci_steps(&mut steps);
    steps.report();
    outcome
}

fn ci_steps(steps: &mut Steps) -> Result {
    steps.time("fmt", || run(cargo().args(["fmt", "--all", "--", "--check"])))?;
    steps.time("clippy", || {
        run(cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--",
            "-D",
            "warnings",
        ]))
    })?;
    steps.time("rustdoc", || {
        run(cargo()
            .args(["doc", "--workspace", "--all-features", "--no-deps"])
            .env("RUSTDOCFLAGS", "-D warnings"))
    })?;
    steps.time("audit", || audit::audit(&[]))?;
    steps.time("quickstart", || {
        run(cargo()
            .args(["run", "--example", "quickstart"])
            .env_remove("OPENAI_API_KEY")
            .env_remove("HF_TOKEN"))
    })?;
    steps.time("test", || test(&[]))?;
    steps.time("fuzz", || fuzz(DEFAULT_FUZZ_CASES))
}

/// Wall time of each CI step, printed at the end so a slow step is seen.
#[derive(Default)]
struct Steps(Vec<(&'static str, std::time::Duration, bool)>);

impl Steps {
    fn time(&mut self, name: &'static str, step: impl FnOnce() -> Result) -> Result {
        let start = std::time::Instant::now();
        let outcome = step();
        self.0.push((name, start.elapsed(), outcome.is_ok()));
        outcome
    }

    fn report(&self) {
        eprintln!("xtask: ci step times");
        for (name, elapsed, ok) in &self.0 {
            let failed = if *ok { "" } else { "  (failed)" };
            eprintln!("xtask:   {name:<11} {:>8.1} s{failed}", elapsed.as_secs_f64());
        }
        let total: std::time::Duration = self.0.iter().map(|(_, elapsed, _)| *elapsed).sum();
        eprintln!("xtask:   {:<11} {:>8.1} s", "total", total.as_secs_f64());
    }
}

/// Runs every `fuzz_*` proptest for `cases` cases.
fn fuzz(cases: u32) -> Result {
    let mut command = cargo();
    if has_nextest() {
        command.args(["nextest", "run", "--workspace", "--all-features", "-E", "test(/fuzz_/)"]);
    } else {
        command.args(["test", "--workspace", "--all-features", "fuzz_"]);
    }
    run(command.env("PROPTEST_CASES", cases.to_string()))
}

/// Runs every benchmark (release), echoing their output, then prints their result rows as one
/// table and writes them to `<target>/bench/results.json`.
fn bench(compare: bool, args: &[String]) -> Result {
    let mut command = cargo();
    if compare {
        let venv = venv_with(target_dir().join("compare-venv"), "xtask/compare/requirements.txt")?;
        command
            .args(["bench", "--workspace", "--all-features", "--bench", "compare"])
            .env("OBSERVERS_COMPARE_PYTHON", venv.join("bin/python"));
    } else {
        command.args(["bench", "--workspace", "--all-features", "--benches"]);
    }
    if !args.is_empty() {
        command.arg("--").args(args);
    }
    eprintln!("xtask: running {command:?}");
    let output = command
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("could not start {command:?}: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    print!("{stdout}");
    if !output.status.success() {
        return Err(format!("the benchmarks failed with {}", output.status));
    }
    // Each bench prints a title line (`name: what was measured`), then markdown table rows and
    // notes; gather them per bench.
    let mut results: Vec<(String, Vec<String>)> = Vec::new();
    let libtest = |line: &str| line.starts_with("running ") || line.starts_with("test ");
    for line in stdout.lines().filter(|line| !libtest(line)) {
        let is_title = !line.starts_with('|')
            && line.split_once(':').is_some_and(|(name, _)| {
                !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            });
        if is_title {
            results.push((line.to_string(), Vec::new()));
        } else if let Some((_, lines)) = results.last_mut() {
            if !line.trim().is_empty() && !line.starts_with("|---") {
                lines.push(line.to_string());
            }
        }
    }
    println!("\n## All benchmarks\n");
    for (title, lines) in &results {
        println!("### {title}");
        for line in lines {
            println!("{line}");
        }
        println!();
    }
    // Keyed by the bench's name (the title's part before `:`), so a figure can be followed
    // from run to run; see CONTRIBUTING.md.
    // Merged into what earlier runs wrote, so `--compare` or a filtered run keeps the rest.
    let dir = target_dir().join("bench");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join("results.json");
    let mut json: serde_json::Map<String, serde_json::Value> =
        std::fs::read(&path).ok().and_then(|bytes| serde_json::from_slice(&bytes).ok()).unwrap_or_default();
    for (title, lines) in &results {
        let (name, what) = title.split_once(':').unwrap_or((title, ""));
        json.insert(name.to_string(), serde_json::json!({"title": what.trim(), "lines": lines}));
    }
    std::fs::write(&path, serde_json::to_string_pretty(&json).unwrap_or_default())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    eprintln!("xtask: results written to {}", path.display());
    Ok(())
}
