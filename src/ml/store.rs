//! Keeping what was learnt: one file per topic with the stream's forest, regressor and
//! Half-Space Trees, written after refits (at most one write a second) and on exit, and read
//! back by the next run, whose versions continue from the file's.
//!
//! The file is JSON with a format number first; it is written to a temporary name of the
//! writer's own and renamed, so a crash mid-write leaves the previous file, and two members
//! of a group on one machine replace each other's file whole (the last one's models win).
//! A file of another format, of another stream, or damaged (unreadable, or a tree that would
//! read past its end) is refused with a one-line reason, and training starts from scratch.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::forest::FlatForest;
use super::hst::HalfSpaceTrees;
use super::regression::Regressor;
use crate::streams::StreamKind;

/// Bumped whenever the saved shapes change.
pub const FORMAT: u32 = 1;

/// What a stream's models are, on disk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedModels {
    pub format: u32,
    pub stream: StreamKind,
    pub version: u32,
    pub training_size: usize,
    pub forest: Option<FlatForest>,
    pub regressor: Option<SavedRegressor>,
    pub anomaly: HalfSpaceTrees,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedRegressor {
    pub model: Regressor,
    pub holdout_mae_linear: f64,
    pub holdout_mae_forest: f64,
}

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("cannot read {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("cannot write {path}: {reason}")]
    Write { path: PathBuf, reason: String },
    #[error("{path} is not a model file of this version ({reason}); training starts afresh")]
    Refused { path: PathBuf, reason: String },
}

/// The file of `topic`'s models in `dir` (the topic name made safe for a file name).
pub fn path_for(dir: &Path, topic: &str) -> PathBuf {
    let safe: String = topic
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    dir.join(format!("{safe}.models.json"))
}

/// Reads the models of `stream` from `path`: `Ok(None)` when there is no file.
pub fn load(path: &Path, stream: StreamKind) -> Result<Option<SavedModels>, StoreError> {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(StoreError::Read {
                path: path.into(),
                reason: e.to_string(),
            });
        }
    };
    let refused = |reason: String| StoreError::Refused {
        path: path.into(),
        reason,
    };
    // The format first, so that a file of another version says so rather than failing on
    // whichever field changed.
    #[derive(Deserialize)]
    struct Header {
        format: u32,
    }
    let header: Header =
        serde_json::from_slice(&text).map_err(|e| refused(format!("unreadable: {e}")))?;
    if header.format != FORMAT {
        return Err(refused(format!(
            "format {}, expected {FORMAT}",
            header.format
        )));
    }
    let saved: SavedModels =
        serde_json::from_slice(&text).map_err(|e| refused(format!("unreadable: {e}")))?;
    if saved.stream != stream {
        return Err(refused(format!(
            "models of the {} stream",
            saved.stream.name()
        )));
    }
    saved.validate().map_err(refused)?;
    Ok(Some(saved))
}

impl SavedModels {
    fn validate(&self) -> Result<(), String> {
        if let Some(f) = &self.forest {
            f.validate()?;
        }
        if let Some(r) = &self.regressor {
            r.model.validate(
                super::regression::RegressionSpec::for_stream(self.stream)
                    .inputs
                    .len(),
            )?;
        }
        self.anomaly.validate()
    }

    /// Writes the models to `path` (through a temporary file and a rename).
    pub fn save(&self, path: &Path) -> Result<(), StoreError> {
        let failed = |reason: String| StoreError::Write {
            path: path.into(),
            reason,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| failed(e.to_string()))?;
        }
        let text = serde_json::to_vec(self).map_err(|e| failed(e.to_string()))?;
        // A name of this writer's own: two members of a group on one machine (or two saves
        // of one process) write the same topic's file, and must not write into one temporary.
        static WRITES: AtomicU64 = AtomicU64::new(0);
        let n = WRITES.fetch_add(1, Ordering::Relaxed);
        let tmp = path.with_extension(format!("json.{}.{n}.tmp", std::process::id()));
        let written = std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, path));
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written.map_err(|e| failed(e.to_string()))
    }
}
