//! Pushing: every closed shard of a folder not yet on the Hub, in one commit.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::api::{Announce, CommitFile, HubApi, RepoId};
use crate::card::{dataset_card, DATA_DIR};
use crate::error::{Error, Result};
use crate::manifest::{Committed, Manifest};
use crate::shard::{closed_shards, shard_rows};

/// Largest number of shards in one commit (the Hub takes 256 files per preupload call).
const MAX_SHARDS_PER_COMMIT: usize = 200;
/// A branch that moved under a commit (412) is retried this many times.
const CONFLICT_RETRIES: usize = 5;

/// What one push did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushSummary {
    /// Shards committed by this push.
    pub shards: usize,
    /// Records in them.
    pub records: u64,
    /// Their size in bytes.
    pub bytes: u64,
    /// The commit's URL, when a commit was made.
    pub commit_url: Option<String>,
    /// File names of the shards this push found on the Hub: committed now, or before.
    pub on_hub: Vec<String>,
}

/// Pushes the closed shards of a folder to a dataset (what [`HubStore`](crate::HubStore)
/// runs in the background; build one with [`HubStoreBuilder::pusher`](crate::HubStoreBuilder::pusher)
/// to push shards written with [`write_shard`](crate::write_shard)).
#[derive(Debug)]
pub struct Pusher {
    pub(crate) folder: PathBuf,
    pub(crate) api: HubApi,
    pub(crate) owner: Option<String>,
    pub(crate) name: String,
    /// Resolved (owner known) and created on the Hub.
    pub(crate) repo: Option<RepoId>,
    pub(crate) private: bool,
    pub(crate) revision: String,
}

/// A closed shard waiting for upload.
struct Local {
    path: PathBuf,
    file_name: String,
    repo_path: String,
    size: u64,
    /// The first bytes, for preupload's content sniffing.
    sample: Vec<u8>,
    sha256: String,
    rows: u64,
}

impl Pusher {
    /// The folder of shards.
    pub fn folder(&self) -> &Path {
        &self.folder
    }

    /// `owner/name`, once known (after the first push when the owner comes from the token).
    pub fn repo_id(&self) -> Option<String> {
        self.repo.as_ref().map(ToString::to_string)
    }

    /// The repository, created on first use.
    async fn repo(&mut self) -> Result<RepoId> {
        if let Some(repo) = &self.repo {
            return Ok(repo.clone());
        }
        let owner = match &self.owner {
            Some(owner) => owner.clone(),
            None => self.api.whoami().await?,
        };
        let repo = RepoId { owner, name: self.name.clone() };
        self.api.create_repo(&repo, self.private).await?;
        self.repo = Some(repo.clone());
        Ok(repo)
    }

    /// Pushes every closed shard of the folder not yet on the Hub, in commits of at most 200
    /// shards; shards the Hub already has are not uploaded again.
    pub async fn push(&mut self) -> Result<PushSummary> {
        let mut manifest = Manifest::load(&self.folder);
        let mut total = PushSummary::default();
        let mut waiting = Vec::new();
        for path in closed_shards(&self.folder)? {
            let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            if manifest.committed.contains_key(&file_name) {
                remove_pushed(&path);
                total.on_hub.push(file_name);
            } else {
                waiting.push((path, file_name));
            }
        }
        for batch in waiting.chunks(MAX_SHARDS_PER_COMMIT) {
            let locals =
                batch.iter().map(|(path, name)| load_local(path, name)).collect::<Result<Vec<_>>>()?;
            let summary = self.commit_shards(locals, &mut manifest).await?;
            total.shards += summary.shards;
            total.records += summary.records;
            total.bytes += summary.bytes;
            total.commit_url = summary.commit_url.or(total.commit_url);
            total.on_hub.extend(summary.on_hub);
        }
        Ok(total)
    }

    async fn commit_shards(
        &mut self,
        mut locals: Vec<Local>,
        manifest: &mut Manifest,
    ) -> Result<PushSummary> {
        if locals.is_empty() {
            return Ok(PushSummary::default());
        }
        let repo = self.repo().await?;
        let card = dataset_card(&repo.to_string());
        let mut found = Vec::new();
        for attempt in 1..=CONFLICT_RETRIES {
            let mut announce: Vec<Announce<'_>> = locals
                .iter()
                .map(|l| Announce { path: &l.repo_path, size: l.size, sample: &l.sample })
                .collect();
            announce.push(Announce { path: "README.md", size: card.len() as u64, sample: card.as_bytes() });
            let answer = self.api.preupload(&repo, &self.revision, &announce).await?;
            let existing =
                |path: &str| answer.files.iter().find(|f| f.path == path).and_then(|f| f.oid.clone());

            // Shards the Hub already has (committed before a crash, or by another process).
            let (already, todo): (Vec<Local>, Vec<Local>) = locals
                .into_iter()
                .partition(|l| existing(&l.repo_path).as_deref() == Some(l.sha256.as_str()));
            if !already.is_empty() {
                tracing::info!(shards = already.len(), "shards already on the Hub; not uploading them again");
                record_committed(manifest, &already, "already-on-hub");
                manifest.save(&self.folder)?;
                already.iter().for_each(|l| remove_pushed(&l.path));
                found.extend(already.into_iter().map(|l| l.file_name));
            }
            locals = todo;
            if locals.is_empty() {
                return Ok(PushSummary { on_hub: found, ..PushSummary::default() });
            }
            let card_is_current =
                existing("README.md").as_deref() == Some(git_blob_sha1(card.as_bytes()).as_str());

            // The server decides how each file travels; shards normally go through LFS.
            let regular =
                |l: &Local| answer.files.iter().any(|f| f.path == l.repo_path && f.upload_mode == "regular");
            let lfs: Vec<&Local> = locals.iter().filter(|l| !regular(l)).collect();
            let objects: Vec<(String, u64)> = lfs.iter().map(|l| (l.sha256.clone(), l.size)).collect();
            let answers = if objects.is_empty() {
                Vec::new()
            } else {
                self.api.lfs_batch(&repo, &self.revision, &objects).await?
            };
            for local in lfs {
                let object =
                    answers.iter().find(|o| o.oid == local.sha256).ok_or_else(|| Error::Protocol {
                        action: "negotiate the LFS upload",
                        message: format!("no answer for {}", local.file_name),
                    })?;
                // One shard in memory at a time, whatever the number of shards.
                let content =
                    Bytes::from(std::fs::read(&local.path).map_err(Error::io("read", &local.path))?);
                self.api.upload(object, content).await?;
            }

            let records: u64 = locals.iter().map(|l| l.rows).sum();
            let summary = format!("observers: add {} shard(s), {records} records", locals.len());
            // Files the server wants inline (small, rare for Parquet) are read for the commit.
            let inline: Vec<(&Local, Vec<u8>)> = locals
                .iter()
                .filter(|l| regular(l))
                .map(|l| Ok((l, std::fs::read(&l.path).map_err(Error::io("read", &l.path))?)))
                .collect::<Result<_>>()?;
            let mut files: Vec<CommitFile<'_>> = locals
                .iter()
                .filter(|l| !regular(l))
                .map(|l| CommitFile::Lfs { path: &l.repo_path, oid: &l.sha256, size: l.size })
                .chain(inline.iter().map(|(l, content)| CommitFile::Regular { path: &l.repo_path, content }))
                .collect();
            if !card_is_current {
                files.push(CommitFile::Regular { path: "README.md", content: card.as_bytes() });
            }
            match self.api.commit(&repo, &self.revision, &summary, answer.commit_oid.as_deref(), &files).await
            {
                Ok(commit) => {
                    record_committed(manifest, &locals, &commit.commit_oid);
                    manifest.save(&self.folder)?;
                    locals.iter().for_each(|l| remove_pushed(&l.path));
                    tracing::info!(shards = locals.len(), records, commit = %commit.commit_oid, "pushed shards to the Hub");
                    return Ok(PushSummary {
                        shards: locals.len(),
                        records,
                        bytes: locals.iter().map(|l| l.size).sum(),
                        commit_url: commit.commit_url,
                        on_hub: found.into_iter().chain(locals.into_iter().map(|l| l.file_name)).collect(),
                    });
                }
                // The branch moved (another writer, or our own commit whose answer was lost):
                // ask again what the Hub has, and commit on the new head.
                Err(Error::Hub { status: 412, .. }) if attempt < CONFLICT_RETRIES => {
                    tracing::info!(attempt, "the branch moved during the push; retrying on the new head");
                }
                Err(e) => return Err(e),
            }
        }
        Err(Error::Hub {
            action: "commit",
            status: 412,
            message: "the branch kept moving during the push".into(),
            retry_after: None,
        })
    }
}

fn load_local(path: &Path, file_name: &str) -> Result<Local> {
    use std::io::Read;
    let read_error = Error::io("read", path);
    let mut file = std::fs::File::open(path).map_err(Error::io("open", path))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    let (mut size, mut sample) = (0u64, Vec::new());
    let result: std::io::Result<()> = (|| loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            return Ok(());
        }
        if sample.len() < 512 {
            sample.extend_from_slice(&buffer[..n.min(512 - sample.len())]);
        }
        hasher.update(&buffer[..n]);
        size += n as u64;
    })();
    result.map_err(read_error)?;
    Ok(Local {
        path: path.to_path_buf(),
        file_name: file_name.to_string(),
        repo_path: format!("{DATA_DIR}/{file_name}"),
        rows: shard_rows(path)?,
        size,
        sample,
        sha256: hex::encode(hasher.finalize()),
    })
}

fn record_committed(manifest: &mut Manifest, locals: &[Local], commit: &str) {
    for l in locals {
        let entry = Committed { sha256: l.sha256.clone(), size: l.size, rows: l.rows, commit: commit.into() };
        manifest.committed.insert(l.file_name.clone(), entry);
    }
}

/// A committed shard's local copy is no longer needed.
fn remove_pushed(path: &Path) {
    if let Err(e) = std::fs::remove_file(path) {
        tracing::warn!(path = %path.display(), error = %e, "could not remove a pushed shard");
    }
}

/// Git's blob id of `content`: what preupload answers as `oid` for regular files.
fn git_blob_sha1(content: &[u8]) -> String {
    let mut hasher = Sha1::new();
    hasher.update(format!("blob {}\0", content.len()).as_bytes());
    hasher.update(content);
    hex::encode(hasher.finalize())
}
