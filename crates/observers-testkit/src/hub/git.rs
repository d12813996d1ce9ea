//! Git's object model as the Hub exposes it: blob, tree and commit ids (SHA-1), LFS pointer
//! files, and the `.gitattributes` / `.gitignore` patterns that route files to LFS or skip them.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use super::USER;
use sha1::Sha1;

/// The `.gitattributes` of a new dataset repo on the Hub (2,461 bytes, blob
/// `1ef325f1b111266a6b26e0196871bd78baa8c2f3`, as listed by real dataset repos).
pub(crate) const DEFAULT_GITATTRIBUTES: &str = "\
*.7z filter=lfs diff=lfs merge=lfs -text\n\
*.arrow filter=lfs diff=lfs merge=lfs -text\n\
*.bin filter=lfs diff=lfs merge=lfs -text\n\
*.bz2 filter=lfs diff=lfs merge=lfs -text\n\
*.ckpt filter=lfs diff=lfs merge=lfs -text\n\
*.ftz filter=lfs diff=lfs merge=lfs -text\n\
*.gz filter=lfs diff=lfs merge=lfs -text\n\
*.h5 filter=lfs diff=lfs merge=lfs -text\n\
*.joblib filter=lfs diff=lfs merge=lfs -text\n\
*.lfs.* filter=lfs diff=lfs merge=lfs -text\n\
*.lz4 filter=lfs diff=lfs merge=lfs -text\n\
*.mds filter=lfs diff=lfs merge=lfs -text\n\
*.mlmodel filter=lfs diff=lfs merge=lfs -text\n\
*.model filter=lfs diff=lfs merge=lfs -text\n\
*.msgpack filter=lfs diff=lfs merge=lfs -text\n\
*.npy filter=lfs diff=lfs merge=lfs -text\n\
*.npz filter=lfs diff=lfs merge=lfs -text\n\
*.onnx filter=lfs diff=lfs merge=lfs -text\n\
*.ot filter=lfs diff=lfs merge=lfs -text\n\
*.parquet filter=lfs diff=lfs merge=lfs -text\n\
*.pb filter=lfs diff=lfs merge=lfs -text\n\
*.pickle filter=lfs diff=lfs merge=lfs -text\n\
*.pkl filter=lfs diff=lfs merge=lfs -text\n\
*.pt filter=lfs diff=lfs merge=lfs -text\n\
*.pth filter=lfs diff=lfs merge=lfs -text\n\
*.rar filter=lfs diff=lfs merge=lfs -text\n\
*.safetensors filter=lfs diff=lfs merge=lfs -text\n\
saved_model/**/* filter=lfs diff=lfs merge=lfs -text\n\
*.tar.* filter=lfs diff=lfs merge=lfs -text\n\
*.tar filter=lfs diff=lfs merge=lfs -text\n\
*.tflite filter=lfs diff=lfs merge=lfs -text\n\
*.tgz filter=lfs diff=lfs merge=lfs -text\n\
*.wasm filter=lfs diff=lfs merge=lfs -text\n\
*.xz filter=lfs diff=lfs merge=lfs -text\n\
*.zip filter=lfs diff=lfs merge=lfs -text\n\
*.zst filter=lfs diff=lfs merge=lfs -text\n\
*tfevents* filter=lfs diff=lfs merge=lfs -text\n\
# Audio files - uncompressed\n\
*.pcm filter=lfs diff=lfs merge=lfs -text\n\
*.sam filter=lfs diff=lfs merge=lfs -text\n\
*.raw filter=lfs diff=lfs merge=lfs -text\n\
# Audio files - compressed\n\
*.aac filter=lfs diff=lfs merge=lfs -text\n\
*.flac filter=lfs diff=lfs merge=lfs -text\n\
*.mp3 filter=lfs diff=lfs merge=lfs -text\n\
*.ogg filter=lfs diff=lfs merge=lfs -text\n\
*.wav filter=lfs diff=lfs merge=lfs -text\n\
# Image files - uncompressed\n\
*.bmp filter=lfs diff=lfs merge=lfs -text\n\
*.gif filter=lfs diff=lfs merge=lfs -text\n\
*.png filter=lfs diff=lfs merge=lfs -text\n\
*.tiff filter=lfs diff=lfs merge=lfs -text\n\
# Image files - compressed\n\
*.jpg filter=lfs diff=lfs merge=lfs -text\n\
*.jpeg filter=lfs diff=lfs merge=lfs -text\n\
*.webp filter=lfs diff=lfs merge=lfs -text\n\
# Video files - compressed\n\
*.mp4 filter=lfs diff=lfs merge=lfs -text\n\
*.webm filter=lfs diff=lfs merge=lfs -text\n\
";

/// The attributes the Hub gives an LFS-tracked path.
const LFS_ATTRIBUTES: &str = "filter=lfs diff=lfs merge=lfs -text";

/// The hex SHA-1 of the concatenated `parts`.
fn sha1_hex(parts: &[&[u8]]) -> String {
    let mut hasher = Sha1::new();
    for part in parts {
        hasher.update(part);
    }
    hex::encode(hasher.finalize())
}

/// A git object id: SHA-1 of `"{kind} {len}\0"` followed by the content.
fn object_id(kind: &str, content: &[u8]) -> String {
    sha1_hex(&[format!("{kind} {}\0", content.len()).as_bytes(), content])
}

/// The hex SHA-256 of `bytes` (an LFS object id).
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The git blob id of `content`.
pub(crate) fn blob_id(content: &[u8]) -> String {
    object_id("blob", content)
}

/// The LFS pointer file git stores instead of an LFS object's content.
pub(crate) fn lfs_pointer(sha256: &str, size: usize) -> String {
    format!("version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n")
}

/// Whether `text` is a lowercase hex id of `len` digits.
pub(crate) fn is_hex_id(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The tree ids of a file listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TreeIds {
    /// The root tree id.
    pub(crate) root: String,
    /// The tree id of every directory, by path (`"data"`, `"data/sub"`).
    pub(crate) dirs: BTreeMap<String, String>,
}

/// One entry of a directory while hashing.
enum Child<'a> {
    File(&'a str),
    Dir,
}

/// The git tree ids of the directories holding `files` (`(path, blob id)` pairs).
pub(crate) fn tree_ids<'a>(files: impl IntoIterator<Item = (&'a str, &'a str)>) -> TreeIds {
    let mut children: BTreeMap<String, Vec<(&'a str, Child<'a>)>> = BTreeMap::new();
    children.insert(String::new(), Vec::new());
    for (path, blob) in files {
        let mut parent = String::new();
        let mut parts = path.split('/').peekable();
        while let Some(part) = parts.next() {
            let siblings = children.entry(parent.clone()).or_default();
            if parts.peek().is_none() {
                siblings.push((part, Child::File(blob)));
                break;
            }
            if !siblings.iter().any(|(name, child)| *name == part && matches!(child, Child::Dir)) {
                siblings.push((part, Child::Dir));
            }
            parent = if parent.is_empty() { part.to_owned() } else { format!("{parent}/{part}") };
        }
    }
    let depth = |dir: &str| if dir.is_empty() { 0 } else { dir.matches('/').count() + 1 };
    let mut order: Vec<&String> = children.keys().collect();
    order.sort_by_key(|dir| std::cmp::Reverse(depth(dir)));
    let mut ids: BTreeMap<String, String> = BTreeMap::new();
    for dir in order {
        let mut entries: Vec<(String, &str, String)> = children[dir]
            .iter()
            .map(|(name, child)| match child {
                Child::File(blob) => ((*name).to_owned(), "100644", (*blob).to_owned()),
                Child::Dir => {
                    let path = if dir.is_empty() { (*name).to_owned() } else { format!("{dir}/{name}") };
                    // Git sorts a directory as if its name ended with '/'.
                    (format!("{name}/"), "40000", ids.get(&path).cloned().unwrap_or_default())
                }
            })
            .collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let mut tree = Vec::new();
        for (key, mode, id) in &entries {
            tree.extend_from_slice(format!("{mode} {}\0", key.trim_end_matches('/')).as_bytes());
            tree.extend_from_slice(&hex::decode(id).unwrap_or_default());
        }
        ids.insert(dir.clone(), object_id("tree", &tree));
    }
    let root = ids.remove("").unwrap_or_default();
    TreeIds { root, dirs: ids }
}

/// The id of a commit of `tree` by [`USER`] at `time` (seconds since the epoch).
pub(crate) fn commit_id(tree: &str, parent: Option<&str>, time: u64, message: &str) -> String {
    let mut body = format!("tree {tree}\n");
    if let Some(parent) = parent {
        body.push_str(&format!("parent {parent}\n"));
    }
    let signature = format!("{USER} <{USER}@users.noreply.huggingface.co> {time} +0000");
    body.push_str(&format!("author {signature}\ncommitter {signature}\n\n{message}\n"));
    object_id("commit", body.as_bytes())
}

/// Whether `.gitattributes` content routes `path` to LFS (the last matching line wins).
pub(crate) fn lfs_tracked(gitattributes: &str, path: &str) -> bool {
    let mut tracked = false;
    for line in gitattributes.lines().map(str::trim).filter(|line| !line.is_empty() && !line.starts_with('#'))
    {
        let mut fields = line.split_whitespace();
        let Some(pattern) = fields.next() else { continue };
        let filter = fields.fold(None, |filter, attribute| match attribute {
            "filter=lfs" => Some(true),
            "-filter" | "!filter" => Some(false),
            other if other.starts_with("filter=") => Some(false),
            _ => filter,
        });
        if let Some(filter) = filter.filter(|_| pattern_matches(pattern, path)) {
            tracked = filter;
        }
    }
    tracked
}

/// The `.gitattributes` line the Hub appends for an LFS path no pattern covers.
pub(crate) fn lfs_rule(path: &str) -> String {
    let pattern: String = path
        .chars()
        .map(|c| if c.is_whitespace() { "[[:space:]]".to_owned() } else { c.to_string() })
        .collect();
    format!("{pattern} {LFS_ATTRIBUTES}\n")
}

/// Whether `.gitignore` content ignores `path` (or one of its directories).
pub(crate) fn ignored(gitignore: &str, path: &str) -> bool {
    let mut candidates = vec![path];
    candidates.extend(path.match_indices('/').map(|(at, _)| &path[..at]));
    let mut ignored = false;
    for line in gitignore.lines().map(str::trim_end).filter(|line| !line.is_empty() && !line.starts_with('#'))
    {
        let (negated, pattern) = match line.strip_prefix('!') {
            Some(pattern) => (true, pattern),
            None => (false, line),
        };
        let pattern = pattern.trim_end_matches('/');
        if candidates.iter().any(|candidate| pattern_matches(pattern, candidate)) {
            ignored = !negated;
        }
    }
    ignored
}

/// Git's pattern rule: a pattern with a `/` matches the whole path (relative to the root),
/// one without matches the last path component.
fn pattern_matches(pattern: &str, path: &str) -> bool {
    let pattern = pattern.strip_prefix('/').unwrap_or(pattern);
    if pattern.contains('/') {
        glob(pattern.as_bytes(), path.as_bytes())
    } else {
        let name = path.rsplit('/').next().unwrap_or(path);
        glob(pattern.as_bytes(), name.as_bytes())
    }
}

/// Wildcard matching: `*` and `?` stay within one path component, `**` crosses them,
/// `[[:space:]]` matches whitespace, `\x` is a literal `x`.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    if let Some(rest) = pattern.strip_prefix(b"**/") {
        return glob(rest, text)
            || text.iter().enumerate().any(|(at, &byte)| byte == b'/' && glob(rest, &text[at + 1..]));
    }
    if let Some(rest) = pattern.strip_prefix(b"**") {
        return (0..=text.len()).any(|at| glob(rest, &text[at..]));
    }
    if let Some(rest) = pattern.strip_prefix(b"[[:space:]]") {
        return text.first().is_some_and(u8::is_ascii_whitespace) && glob(rest, &text[1..]);
    }
    match (pattern.first(), text.first()) {
        (None, _) => text.is_empty(),
        (Some(b'*'), _) => (0..=text.len())
            .take_while(|&at| at == 0 || text[at - 1] != b'/')
            .any(|at| glob(&pattern[1..], &text[at..])),
        (Some(b'?'), Some(&byte)) => byte != b'/' && glob(&pattern[1..], &text[1..]),
        (Some(b'\\'), Some(&byte)) if pattern.len() > 1 => {
            byte == pattern[1] && glob(&pattern[2..], &text[1..])
        }
        (Some(&expected), Some(&byte)) => expected == byte && glob(&pattern[1..], &text[1..]),
        (Some(_), None) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_gitattributes_is_the_hubs() {
        assert_eq!(DEFAULT_GITATTRIBUTES.len(), 2461);
        assert_eq!(blob_id(DEFAULT_GITATTRIBUTES.as_bytes()), "1ef325f1b111266a6b26e0196871bd78baa8c2f3");
    }

    #[test]
    fn ids_match_git() {
        // `git hash-object` of "hello\n", and git's empty tree.
        assert_eq!(blob_id(b"hello\n"), "ce013625030ba8dba906f756967f9e9ca394464a");
        assert_eq!(tree_ids([]).root, "4b825dc642cb6eb9a060e54bf8d69288fbee4904");
        // `git mktree` of a/b = "hello\n": tree "a" then the root.
        let ids = tree_ids([("a/b", "ce013625030ba8dba906f756967f9e9ca394464a")]);
        assert_eq!(ids.dirs["a"], "f09792be40f18f537c28b624b7bc7771f25082e1");
        assert_eq!(ids.root, "5402bd8062856e83ade50b9be4aafcb8717cc232");
    }

    #[test]
    fn routes_paths_like_git() {
        let tracked = |path| lfs_tracked(DEFAULT_GITATTRIBUTES, path);
        assert!(tracked("data/train-00000-of-00001.parquet"));
        assert!(tracked("model.tar.gz"));
        assert!(tracked("saved_model/a/b.txt"));
        assert!(tracked("runs/events.out.tfevents.1"));
        assert!(!tracked("README.md"));
        assert!(!tracked("data/log.jsonl"));
        let rules = format!("{DEFAULT_GITATTRIBUTES}{}", lfs_rule("logs/big file.jsonl"));
        assert!(lfs_tracked(&rules, "logs/big file.jsonl"));
        assert!(!lfs_tracked("*.parquet filter=lfs\n*.parquet -filter\n", "x.parquet"));
        assert!(ignored("*.tmp\nbuild/\n", "a/b.tmp"));
        assert!(ignored("*.tmp\nbuild/\n", "build/x/y.txt"));
        assert!(!ignored("*.tmp\n!keep.tmp\n", "keep.tmp"));
    }
}
