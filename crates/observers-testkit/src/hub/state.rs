//! The fake's in-memory model: repos, their `main` history (full file snapshots per commit),
//! their LFS object stores and announced uploads, plus queued faults and a logical clock.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use bytes::Bytes;

use super::git::{self, TreeIds};
use super::{Fault, Route};

/// The logical clock's start: 2026-01-01T00:00:00Z.
const EPOCH: u64 = 1_767_225_600;

/// The only branch.
pub(crate) const MAIN: &str = "main";

/// The files of a commit, by path.
pub(crate) type Files = BTreeMap<String, Entry>;

/// Everything the fake Hub holds.
#[derive(Debug, Default)]
pub(crate) struct HubState {
    repos: BTreeMap<String, Repo>,
    faults: HashMap<Route, VecDeque<Fault>>,
    clock: u64,
}

impl HubState {
    /// The repo `owner/name`.
    pub(crate) fn repo(&self, repo_id: &str) -> Option<&Repo> {
        self.repos.get(repo_id)
    }

    /// The repo `owner/name`, mutable.
    pub(crate) fn repo_mut(&mut self, repo_id: &str) -> Option<&mut Repo> {
        self.repos.get_mut(repo_id)
    }

    /// Every repo id.
    pub(crate) fn repo_ids(&self) -> BTreeSet<String> {
        self.repos.keys().cloned().collect()
    }

    /// Queues `times` copies of `fault` for `route`.
    pub(crate) fn queue_fault(&mut self, route: Route, fault: Fault, times: usize) {
        self.faults.entry(route).or_default().extend(std::iter::repeat_n(fault, times));
    }

    /// The next queued fault of `route`, if any.
    pub(crate) fn take_fault(&mut self, route: Route) -> Option<Fault> {
        self.faults.get_mut(&route)?.pop_front()
    }

    /// Advances the logical clock by one second and returns it (seconds since the Unix epoch).
    pub(crate) fn tick(&mut self) -> u64 {
        self.clock += 1;
        EPOCH + self.clock
    }

    /// Creates a repo whose first commit holds the Hub's default `.gitattributes`.
    pub(crate) fn create_repo(&mut self, repo_id: &str, private: bool) -> &Repo {
        let time = self.tick();
        let mut repo = Repo {
            id: repo_id.to_owned(),
            object_id: git::sha256_hex(format!("{repo_id}@{time}").as_bytes())[..24].to_owned(),
            private,
            created_at: time,
            commits: Vec::new(),
            objects: HashMap::new(),
            pending: HashMap::new(),
            uploads: 0,
        };
        let mut files = BTreeMap::new();
        files.insert(
            ".gitattributes".to_owned(),
            Entry::regular(Bytes::from_static(git::DEFAULT_GITATTRIBUTES.as_bytes())),
        );
        repo.add_commit(files, "initial commit", "", time);
        self.repos.entry(repo_id.to_owned()).or_insert(repo)
    }
}

/// One dataset repo.
#[derive(Debug)]
pub(crate) struct Repo {
    /// `owner/name`.
    pub(crate) id: String,
    /// The Hub's `_id` (24 hex digits).
    pub(crate) object_id: String,
    /// Whether only its owner sees it.
    pub(crate) private: bool,
    /// Creation time, seconds since the Unix epoch.
    pub(crate) created_at: u64,
    /// The history of `main`, oldest first; never empty.
    pub(crate) commits: Vec<Commit>,
    /// Uploaded LFS objects by sha256.
    pub(crate) objects: HashMap<String, Bytes>,
    /// Uploads announced by the LFS batch and not finished yet, by sha256.
    pub(crate) pending: HashMap<String, Pending>,
    /// Multipart uploads started so far (for upload ids).
    uploads: u64,
}

impl Repo {
    /// The head of `main`.
    pub(crate) fn head(&self) -> &Commit {
        &self.commits[self.commits.len() - 1]
    }

    /// The index in `commits` of a revision: `main`, `refs/heads/main`, or a full or unique
    /// (≥5 hex digits) prefix of a commit id.
    pub(crate) fn resolve_index(&self, rev: &str) -> Option<usize> {
        if is_branch(rev) {
            return Some(self.commits.len() - 1);
        }
        let hex = rev.len() >= 5 && rev.len() <= 40 && rev.bytes().all(|b| b.is_ascii_hexdigit());
        if !hex {
            return None;
        }
        let rev = rev.to_ascii_lowercase();
        let mut matches = self.commits.iter().enumerate().filter(|(_, commit)| commit.id.starts_with(&rev));
        let (index, _) = matches.next()?;
        matches.next().is_none().then_some(index)
    }

    /// The commit a revision names.
    pub(crate) fn resolve(&self, rev: &str) -> Option<&Commit> {
        self.resolve_index(rev).map(|index| &self.commits[index])
    }

    /// The commit where the node at `path` last changed, at or before commit `index`.
    pub(crate) fn last_change(&self, index: usize, path: &str) -> &Commit {
        let oid_at = |at: usize| self.commits[at].node(path).map(|node| node.oid().to_owned());
        let current = oid_at(index);
        let mut at = index;
        while at > 0 && oid_at(at - 1) == current {
            at -= 1;
        }
        &self.commits[at]
    }

    /// Appends a commit of `files` to `main` and returns it.
    pub(crate) fn add_commit(&mut self, files: Files, title: &str, description: &str, time: u64) -> &Commit {
        let trees = git::tree_ids(files.iter().map(|(path, entry)| (path.as_str(), entry.oid.as_str())));
        let message =
            if description.is_empty() { title.to_owned() } else { format!("{title}\n\n{description}") };
        let parent = self.commits.last().map(|commit| commit.id.clone());
        let id = git::commit_id(&trees.root, parent.as_deref(), time, &message);
        self.commits.push(Commit { id, title: title.to_owned(), message, time, files, trees });
        self.head()
    }

    /// A new multipart upload id.
    pub(crate) fn next_upload_id(&mut self) -> String {
        self.uploads += 1;
        format!("fake-upload-{}-{}", self.object_id, self.uploads)
    }
}

/// Whether `rev` names the `main` branch.
pub(crate) fn is_branch(rev: &str) -> bool {
    rev == MAIN || rev == "refs/heads/main"
}

/// An upload the LFS batch announced.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    /// The object size the batch was told.
    pub(crate) size: u64,
    /// The multipart state, for objects uploaded in parts.
    pub(crate) multipart: Option<Multipart>,
}

/// A multipart upload in progress.
#[derive(Debug, Clone)]
pub(crate) struct Multipart {
    /// The `uploadId` its URLs carry.
    pub(crate) upload_id: String,
    /// Every part but the last has exactly this size.
    pub(crate) chunk_size: u64,
    /// Received parts by number (1-based): bytes and the ETag answered.
    pub(crate) parts: BTreeMap<u32, (Bytes, String)>,
}

impl Multipart {
    /// How many parts an object of `size` bytes has.
    pub(crate) fn part_count(size: u64, chunk_size: u64) -> u64 {
        size.div_ceil(chunk_size.max(1))
    }
}

/// One commit of `main`.
#[derive(Debug, Clone)]
pub(crate) struct Commit {
    /// The git commit id.
    pub(crate) id: String,
    /// The summary.
    pub(crate) title: String,
    /// Summary, blank line and description (just the summary without a description).
    pub(crate) message: String,
    /// Seconds since the Unix epoch.
    pub(crate) time: u64,
    /// Every file at this commit.
    pub(crate) files: Files,
    /// The tree ids of this commit's directories.
    pub(crate) trees: TreeIds,
}

impl Commit {
    /// The commit time as the Hub writes dates (`2026-01-01T00:00:01.000Z`).
    pub(crate) fn date(&self) -> String {
        iso8601(self.time)
    }

    /// The file or directory at `path` (`""` is the root directory).
    pub(crate) fn node(&self, path: &str) -> Option<Node<'_>> {
        if path.is_empty() {
            return Some(Node::Dir(&self.trees.root));
        }
        if let Some(entry) = self.files.get(path) {
            return Some(Node::File(entry));
        }
        self.trees.dirs.get(path).map(|id| Node::Dir(id))
    }

    /// Paths this commit created or changed, and paths it removed, compared with `parent`.
    pub(crate) fn diff(&self, parent: Option<&Commit>) -> (Vec<String>, Vec<String>) {
        let before = |path: &str| parent.and_then(|parent| parent.files.get(path)).map(|entry| &entry.oid);
        let added = self
            .files
            .iter()
            .filter(|(path, entry)| before(path) != Some(&entry.oid))
            .map(|(path, _)| path.clone());
        let deleted = parent
            .map(|parent| {
                parent.files.keys().filter(|path| !self.files.contains_key(*path)).cloned().collect()
            })
            .unwrap_or_default();
        (added.collect(), deleted)
    }

    /// The `.gitattributes` content at this commit.
    pub(crate) fn gitattributes(&self) -> String {
        self.text(".gitattributes")
    }

    /// The content of a text file at this commit (empty when it does not exist).
    pub(crate) fn text(&self, path: &str) -> String {
        self.files
            .get(path)
            .map(|entry| String::from_utf8_lossy(&entry.content).into_owned())
            .unwrap_or_default()
    }
}

/// A file or a directory of a commit.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Node<'a> {
    /// A file.
    File(&'a Entry),
    /// A directory, with its tree id.
    Dir(&'a str),
}

impl Node<'_> {
    /// The git id: the blob id (of the pointer for LFS files) or the tree id.
    pub(crate) fn oid(&self) -> &str {
        match self {
            Node::File(entry) => &entry.oid,
            Node::Dir(id) => id,
        }
    }
}

/// One file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The real content (not the LFS pointer).
    pub(crate) content: Bytes,
    /// The git blob id of what git stores: the content, or the LFS pointer.
    pub(crate) oid: String,
    /// The sha256 of the content, for LFS files.
    pub(crate) lfs: Option<String>,
}

impl Entry {
    /// A file stored in git.
    pub(crate) fn regular(content: Bytes) -> Entry {
        Entry { oid: git::blob_id(&content), content, lfs: None }
    }

    /// A file stored in LFS, whose content has this sha256.
    pub(crate) fn lfs(content: Bytes, sha256: String) -> Entry {
        let pointer = git::lfs_pointer(&sha256, content.len());
        Entry { oid: git::blob_id(pointer.as_bytes()), content, lfs: Some(sha256) }
    }

    /// The size of the LFS pointer file, for LFS files.
    pub(crate) fn pointer_size(&self) -> Option<usize> {
        self.lfs.as_ref().map(|sha256| git::lfs_pointer(sha256, self.content.len()).len())
    }

    /// The id preupload compares with the client's hash: sha256 for LFS, blob id otherwise.
    pub(crate) fn upload_oid(&self) -> &str {
        self.lfs.as_deref().unwrap_or(&self.oid)
    }
}

/// `seconds` since the Unix epoch as `YYYY-MM-DDTHH:MM:SS.000Z`.
pub(crate) fn iso8601(seconds: u64) -> String {
    let days = seconds / 86_400;
    let rest = seconds % 86_400;
    // Howard Hinnant's civil_from_days, for days since 1970-01-01 (non-negative here).
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.000Z", rest / 3600, rest % 3600 / 60, rest % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_dates() {
        assert_eq!(iso8601(EPOCH), "2026-01-01T00:00:00.000Z");
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(951_782_400 + 3661), "2000-02-29T01:01:01.000Z");
    }

    #[test]
    fn resolves_revisions() {
        let mut state = HubState::default();
        state.create_repo("tester/demo", false);
        let repo = state.repo("tester/demo").map(|repo| repo.head().id.clone()).unwrap_or_default();
        let repo_ref = state.repo("tester/demo");
        assert!(repo_ref.is_some_and(|r| r.resolve("main").is_some()));
        assert!(repo_ref.is_some_and(|r| r.resolve(&repo).is_some()));
        assert!(repo_ref.is_some_and(|r| r.resolve(&repo[..7]).is_some()));
        assert!(repo_ref.is_some_and(|r| r.resolve("dev").is_none()));
    }
}
