//! The external programs the interop tests drive, as users have them: the DuckDB CLI, a
//! Python with `huggingface_hub`, `datasets`, `pyarrow` and `openai`, `curl`, and a headless
//! Chromium (for the HTML report). `cargo xtask test` installs the first two in a venv and names
//! them in `OBSERVERS_DUCKDB_CLI` and `OBSERVERS_PYTHON`; Chromium is Debian's `chromium` package.
//!
//! A missing tool is a panic that says how to install it: a test that needs one never skips.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where `cargo xtask test` puts the DuckDB CLI.
pub const DUCKDB_CLI_VAR: &str = "OBSERVERS_DUCKDB_CLI";
/// Where `cargo xtask test` puts the venv's Python.
pub const PYTHON_VAR: &str = "OBSERVERS_PYTHON";

/// The program named by `var`, else `fallback` on `PATH`.
fn program(var: &str, fallback: &str) -> PathBuf {
    std::env::var_os(var).filter(|value| !value.is_empty()).map_or_else(|| fallback.into(), PathBuf::from)
}

/// The `duckdb` CLI: `$OBSERVERS_DUCKDB_CLI`, else `duckdb` on `PATH`.
///
/// # Panics
/// When it does not run, with instructions to install it.
pub fn duckdb_cli() -> PathBuf {
    let cli = program(DUCKDB_CLI_VAR, "duckdb");
    match Command::new(&cli).arg("-version").output() {
        Ok(out) if out.status.success() => cli,
        _ => panic!(
            "the DuckDB CLI ({}) is not installed: run the tests with `cargo xtask test`, which installs \
             it, or `pip install duckdb-cli` and set {DUCKDB_CLI_VAR}",
            cli.display()
        ),
    }
}

/// Runs `sql` with the DuckDB CLI on the database at `path` and returns its CSV output
/// without a header; `read_only` opens the file with `-readonly`.
///
/// # Panics
/// When the CLI is missing or the SQL fails (with DuckDB's message).
pub fn duckdb_csv(path: &Path, sql: &str, read_only: bool) -> String {
    match duckdb_run(path, sql, read_only) {
        Ok(csv) => csv,
        Err(message) => panic!("the DuckDB CLI failed on {sql}: {message}"),
    }
}

/// Like [`duckdb_csv`], but a failing statement is `Err` with DuckDB's message.
///
/// # Panics
/// When the CLI is missing.
pub fn duckdb_run(path: &Path, sql: &str, read_only: bool) -> Result<String, String> {
    let mut args: Vec<OsString> = vec!["-csv".into(), "-noheader".into(), "-bail".into()];
    if read_only {
        args.push("-readonly".into());
    }
    args.push(path.into());
    args.push(sql.into());
    let out = match Command::new(duckdb_cli()).args(&args).output() {
        Ok(out) => out,
        Err(e) => panic!("could not run the DuckDB CLI: {e}"),
    };
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A Python that imports `huggingface_hub`, `datasets` and `pyarrow`: `$OBSERVERS_PYTHON`,
/// else `python3` on `PATH`.
///
/// # Panics
/// When it cannot import them, with Python's message and how to install them.
pub fn python_with_hub_clients() -> PathBuf {
    python_importing(&["huggingface_hub", "datasets", "pyarrow"])
}

/// A Python that imports the official `openai` client: `$OBSERVERS_PYTHON`, else `python3`
/// on `PATH`.
///
/// # Panics
/// When it cannot import it, with Python's message and how to install it.
pub fn python_with_openai() -> PathBuf {
    python_importing(&["openai"])
}

/// A Python with Arize Phoenix (`arize-phoenix`, the server) and its client
/// (`arize-phoenix-client`): `$OBSERVERS_PYTHON`, else `python3` on `PATH`. Checked without
/// importing the server, which takes seconds.
///
/// # Panics
/// When either is missing, with Python's message and how to install them.
pub fn python_with_phoenix() -> PathBuf {
    let python = program(PYTHON_VAR, "python3");
    let check =
        "import importlib.metadata as m; m.version('arize-phoenix'); m.version('arize-phoenix-client')";
    let problem = match Command::new(&python).args(["-c", check]).output() {
        Ok(output) if output.status.success() => return python,
        Ok(output) => String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        Err(err) => err.to_string(),
    };
    panic!(
        "{} has no Arize Phoenix: {problem}\nRun the tests with `cargo xtask test`, which installs the \
         versions in xtask/requirements.txt (arize-phoenix, arize-phoenix-client) into a venv and sets \
         {PYTHON_VAR} to it; or `pip install -r xtask/requirements.txt` into a venv and set {PYTHON_VAR} to \
         its python.",
        python.display()
    );
}

/// `$OBSERVERS_PYTHON`, else `python3` on `PATH`, once it imports `modules`.
fn python_importing(modules: &[&str]) -> PathBuf {
    let python = program(PYTHON_VAR, "python3");
    let check = Command::new(&python).args(["-c", &format!("import {}", modules.join(", "))]).output();
    let problem = match check {
        Ok(output) if output.status.success() => return python,
        Ok(output) => String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        Err(err) => err.to_string(),
    };
    panic!(
        "{} cannot import {}: {problem}\nRun the tests with `cargo xtask test`, which installs the \
         versions in xtask/requirements.txt into a venv and sets {PYTHON_VAR} to it.",
        python.display(),
        modules.join(", ")
    );
}

/// Where a test looks for a Chromium first (else `chromium`, `chromium-browser`,
/// `google-chrome` on `PATH`).
pub const CHROMIUM_VAR: &str = "OBSERVERS_CHROMIUM";

/// A headless Chromium: `$OBSERVERS_CHROMIUM`, else the first of `chromium`,
/// `chromium-browser`, `google-chrome` on `PATH` that runs.
///
/// # Panics
/// When none runs, with instructions to install one.
pub fn chromium() -> PathBuf {
    let candidates: Vec<PathBuf> = match std::env::var_os(CHROMIUM_VAR).filter(|v| !v.is_empty()) {
        Some(path) => vec![path.into()],
        None => ["chromium", "chromium-browser", "google-chrome"].into_iter().map(PathBuf::from).collect(),
    };
    for candidate in &candidates {
        if matches!(Command::new(candidate).arg("--version").output(), Ok(out) if out.status.success()) {
            return candidate.clone();
        }
    }
    panic!(
        "no headless Chromium runs here (tried {candidates:?}): install Debian's with `apt-get install -y \
         chromium` (.ci/run does), or set {CHROMIUM_VAR} to a Chromium or Chrome binary"
    );
}

/// A headless Chromium command that loads nothing but the page it is given: no sandbox (tests
/// run as root), no GPU, no background network, a throwaway profile in `profile`. Add
/// `--dump-dom <url>` or `--screenshot=<png> <url>`.
///
/// # Panics
/// When no Chromium runs (see [`chromium`]).
pub fn headless_chromium(profile: &Path) -> Command {
    let mut command = Command::new(chromium());
    command.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--no-first-run",
        "--no-default-browser-check",
        "--hide-scrollbars",
    ]);
    command.arg(format!("--user-data-dir={}", profile.display()));
    command
}

/// `curl` on `PATH`.
///
/// # Panics
/// When it does not run, with how to install it.
pub fn curl() -> PathBuf {
    let curl = PathBuf::from("curl");
    match Command::new(&curl).arg("--version").output() {
        Ok(out) if out.status.success() => curl,
        _ => panic!(
            "curl is not installed: install it (`apt-get install curl`, `brew install curl`); the tests \
             drive the proxy with it as users do"
        ),
    }
}
