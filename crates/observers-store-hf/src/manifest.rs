//! Which shards were committed to the Hub, kept next to them.
//!
//! The manifest is an optimisation, not the source of truth: before each commit the Hub is
//! asked which shard paths it already has (preupload answers their sha256), so a shard that
//! was committed just before a crash, or by another process, is never uploaded twice.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// File name of the manifest in the shard folder.
pub(crate) const MANIFEST: &str = "manifest.json";

/// One committed shard.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Committed {
    pub(crate) sha256: String,
    pub(crate) size: u64,
    pub(crate) rows: u64,
    pub(crate) commit: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Manifest {
    #[serde(default)]
    pub(crate) committed: BTreeMap<String, Committed>,
}

impl Manifest {
    /// Reads the manifest; a missing or unreadable one is empty (the Hub is asked anyway).
    pub(crate) fn load(dir: &Path) -> Manifest {
        let path = dir.join(MANIFEST);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!(path = %path.display(), error = %e, "ignoring an unreadable shard manifest");
                Manifest::default()
            }),
            Err(_) => Manifest::default(),
        }
    }

    /// Writes it atomically (temporary file, sync, rename).
    pub(crate) fn save(&self, dir: &Path) -> Result<()> {
        let path = dir.join(MANIFEST);
        let tmp: PathBuf = dir.join(format!("{MANIFEST}.tmp"));
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| Error::Config(e.to_string()))?;
        let write = || -> std::io::Result<()> {
            let mut file = std::fs::File::create(&tmp)?;
            std::io::Write::write_all(&mut file, &bytes)?;
            file.sync_all()?;
            std::fs::rename(&tmp, &path)
        };
        write().map_err(Error::io("write the shard manifest", &path))
    }
}
