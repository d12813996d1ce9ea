//! `cargo xtask audit`: cargo-deny's four checks (advisories, bans, licenses, sources) with
//! the RustSec advisory database taken from a snapshot kept in this repository.
//!
//! CI machines cannot reach GitHub, where the database lives, so `xtask/advisory-db/` holds a
//! dated snapshot of it (CC0-1.0, like the database) and the check runs offline against it.
//! `cargo xtask audit --update` replaces the snapshot with the database's newest commit
//! (needs the network, or `--from <a clone>`); `cargo xtask audit --online` checks against
//! the live database instead.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{cargo, project_root, run, target_dir, Result};

/// The database cargo-deny reads; deny.toml names it in `db-urls`.
const ADVISORY_DB_URL: &str = "https://github.com/rustsec/advisory-db";
/// The directory cargo-deny (0.20) keeps a clone of [`ADVISORY_DB_URL`] in, under its
/// `db-path`: the URL's last segment and cargo's stable hash of the URL.
const ADVISORY_DB_DIR: &str = "advisory-db-3157b0e258782691";
/// Fewer crates with advisories than this means a damaged snapshot (the 2026-08 one has 908).
const MIN_ADVISED_CRATES: usize = 500;
/// Past this age the check warns that the snapshot wants refreshing (cargo-deny's own default).
const STALE_AFTER_DAYS: i64 = 90;
/// The environment variable deny.toml's `db-path` reads.
const DB_PATH_VAR: &str = "OBSERVERS_ADVISORY_DBS";

fn snapshot_dir() -> PathBuf {
    project_root().join("xtask/advisory-db")
}

/// Which commit of the database the snapshot holds, and when it was made.
struct Snapshot {
    commit: String,
    date: String,
}

impl Snapshot {
    fn path() -> PathBuf {
        snapshot_dir().join("SNAPSHOT")
    }

    fn read() -> Result<Snapshot> {
        let path = Snapshot::path();
        let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let field = |name: &str| {
            text.lines()
                .find_map(|line| line.strip_prefix(name)?.strip_prefix(" = "))
                .map(str::to_owned)
                .ok_or_else(|| format!("{}: no `{name} = ...` line", path.display()))
        };
        Ok(Snapshot { commit: field("commit")?, date: field("date")? })
    }

    /// Days since the snapshot's commit.
    fn age_days(&self) -> Option<i64> {
        let date = chrono::DateTime::parse_from_rfc3339(&self.date).ok()?;
        Some((chrono::Utc::now() - date.with_timezone(&chrono::Utc)).num_days())
    }

    fn write(&self) -> Result {
        let text = format!(
            "# The RustSec advisory database snapshot in advisory-db.tar.gz (`cargo xtask audit --update`).\n\
             source = {ADVISORY_DB_URL}\ncommit = {}\ndate = {}\n",
            self.commit, self.date
        );
        fs::write(Snapshot::path(), text).map_err(|e| format!("{}: {e}", Snapshot::path().display()))
    }
}

/// `cargo xtask audit [--online | --update [--from <git url or path>]]`.
pub(crate) fn audit(args: &[String]) -> Result {
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        [] => check_offline(),
        ["--online"] => {
            let dbs = target_dir().join("advisory-dbs-online");
            run(cargo().args(["deny", "check"]).env(DB_PATH_VAR, &dbs))
        }
        ["--update"] => update(ADVISORY_DB_URL),
        ["--update", "--from", source] => update(source),
        _ => Err("usage: cargo xtask audit [--online | --update [--from <git url or path>]]".into()),
    }
}

/// Every cargo-deny check, offline, against the snapshot.
fn check_offline() -> Result {
    let snapshot = Snapshot::read()?;
    let dbs = target_dir().join("advisory-dbs");
    let clone = dbs.join(ADVISORY_DB_DIR);
    install(&snapshot, &clone)?;
    // cargo-deny finds nothing to report in an empty database: make sure this one is not.
    let crates = fs::read_dir(clone.join("crates")).map(Iterator::count).unwrap_or(0);
    if crates < MIN_ADVISED_CRATES {
        return Err(format!(
            "the advisory database unpacked in {} lists {crates} crates, too few to be whole: delete that \
             folder to unpack it again; if this repeats, the snapshot in {} is damaged: run \
             `cargo xtask audit --update`",
            clone.display(),
            snapshot_dir().display()
        ));
    }
    eprintln!(
        "xtask: RustSec advisories as of {} (snapshot {}); refresh with `cargo xtask audit --update`",
        snapshot.date, snapshot.commit
    );
    match snapshot.age_days() {
        Some(days) if days > STALE_AFTER_DAYS => eprintln!(
            "xtask: WARNING: the advisory snapshot is {days} days old: advisories published since are not \
             checked. Run `cargo xtask audit --update` where GitHub is reachable and commit the result."
        ),
        Some(_) => {}
        None => return Err(format!("{}: `date` is not an RFC 3339 date", Snapshot::path().display())),
    }
    // `cargo deny` reads `cargo metadata`, which resolves every target platform: it needs the
    // android, windows and wasm crates a Linux build never downloads. Fetch them (from the
    // registry, which CI reaches) so the offline check works on a machine with an empty cache;
    // only the advisory database stays offline.
    run(cargo().args(["fetch", "--locked"]))?;
    run(cargo().args(["deny", "--offline", "check"]).env(DB_PATH_VAR, &dbs))
}

/// Unpacks the snapshot as the git clone cargo-deny expects (it reads the database's date
/// from the clone's HEAD), unless that commit is already there.
fn install(snapshot: &Snapshot, clone: &Path) -> Result {
    let stamp = clone.join(".git/observers-snapshot");
    if fs::read_to_string(&stamp).ok().as_deref() == Some(snapshot.commit.as_str()) {
        return Ok(());
    }
    if clone.exists() {
        fs::remove_dir_all(clone).map_err(|e| format!("{}: {e}", clone.display()))?;
    }
    fs::create_dir_all(clone).map_err(|e| format!("{}: {e}", clone.display()))?;
    run(Command::new("tar").arg("-xzf").arg(snapshot_dir().join("advisory-db.tar.gz")).arg("-C").arg(clone))?;
    let git = |args: &[&str]| {
        let mut command = Command::new("git");
        command
            .arg("-C")
            .arg(clone)
            .args(["-c", "user.name=observers xtask", "-c", "user.email=xtask@observers.invalid"])
            .args(args)
            .env("GIT_AUTHOR_DATE", &snapshot.date)
            .env("GIT_COMMITTER_DATE", &snapshot.date);
        command
    };
    run(&mut git(&["init", "--quiet"]))?;
    run(&mut git(&["add", "--all"]))?;
    let message = format!("RustSec advisory-db snapshot {}", snapshot.commit);
    run(&mut git(&["commit", "--quiet", "--no-gpg-sign", "-m", &message]))?;
    fs::write(&stamp, &snapshot.commit).map_err(|e| format!("{}: {e}", stamp.display()))
}

/// Replaces the snapshot with the newest commit of `source` (a git URL or a local clone).
fn update(source: &str) -> Result {
    let scratch = target_dir().join("advisory-db-update");
    if scratch.exists() {
        fs::remove_dir_all(&scratch).map_err(|e| format!("{}: {e}", scratch.display()))?;
    }
    run(Command::new("git").args(["clone", "--quiet", "--depth", "1", source]).arg(&scratch))?;
    let head = |format: &str| -> Result<String> {
        let out = Command::new("git")
            .arg("-C")
            .arg(&scratch)
            .args(["log", "-1", &format!("--format={format}")])
            .output()
            .map_err(|e| format!("git log: {e}"))?;
        let value = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if !out.status.success() || value.is_empty() {
            return Err(format!(
                "git log in {}: {}",
                scratch.display(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(value)
    };
    let snapshot = Snapshot { commit: head("%H")?, date: head("%cI")? };
    // The advisories (crates/, rust/) and their license; the rest is the project's own files.
    run(Command::new("git")
        .arg("-C")
        .arg(&scratch)
        .args(["archive", "--format=tar.gz", "-o"])
        .arg(snapshot_dir().join("advisory-db.tar.gz"))
        .args(["HEAD", "crates", "rust", "LICENSE.txt"]))?;
    snapshot.write()?;
    eprintln!("xtask: advisory-db snapshot is now {} ({})", snapshot.commit, snapshot.date);
    Ok(())
}
