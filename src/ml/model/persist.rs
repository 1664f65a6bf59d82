//! Where a stream's models are written: after refits at most once a `SAVE_EVERY`, on a
//! thread of its own in the background mode, and on exit; the last failure in one line.

use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::time::{Duration, Instant};

use crate::ml::store::{SavedModels, StoreError};
use crate::streams::StreamKind;

/// Model writes after refits start at most this often; the last models are written on exit
/// (`StreamModel::save`). A backlog refits every few milliseconds, and writing each (most of
/// a megabyte of JSON) was a visible share of a short backlog's CPU, for models the next
/// refit replaced before the write ended.
const SAVE_EVERY: Duration = Duration::from_secs(1);

/// The store's path, the write in flight, when the last write started, whether a refit
/// since then is not written yet, and the last failure.
#[derive(Default)]
pub(super) struct Persist {
    path: Option<PathBuf>,
    saving: Option<Receiver<Result<(), StoreError>>>,
    saved_at: Option<Instant>,
    pub(super) unsaved: bool,
    pub(super) error: Option<String>,
}

impl Persist {
    pub(super) fn at(path: PathBuf) -> Self {
        Self {
            path: Some(path),
            ..Self::default()
        }
    }

    /// Whether a write may start now: the last has ended and `SAVE_EVERY` has passed since
    /// it started. Counts the write as started when it may.
    pub(super) fn due(&mut self) -> bool {
        let recent = self.saved_at.is_some_and(|t| t.elapsed() < SAVE_EVERY);
        if self.saving.is_some() || recent {
            return false;
        }
        self.unsaved = false;
        self.saved_at = Some(Instant::now());
        true
    }

    /// Whether there is a store to write to.
    pub(super) fn enabled(&self) -> bool {
        self.path.is_some()
    }

    /// Writes `saved`: on a thread of its own in the background mode (the consumer only
    /// copies the models), here otherwise.
    pub(super) fn write(&mut self, saved: SavedModels, background: bool, kind: StreamKind) {
        let Some(path) = self.path.clone() else {
            return;
        };
        if !background {
            self.error = saved.save(&path).err().map(|e| e.to_string());
            return;
        }
        let (tx, rx) = mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name(format!("save-{}", kind.name()))
            .spawn(move || {
                let _ = tx.send(saved.save(&path));
            });
        self.saving = spawned.is_ok().then_some(rx);
    }

    /// Waits for the write in flight, so that the next write to end is the newest models.
    pub(super) fn finish(&mut self) {
        if let Some(rx) = self.saving.take() {
            let _ = rx.recv();
        }
        self.unsaved = false;
    }

    /// Writes `saved` here and now.
    pub(super) fn write_now(&self, saved: &SavedModels) -> Result<(), StoreError> {
        match &self.path {
            Some(path) => saved.save(path),
            None => Ok(()),
        }
    }

    /// Takes the result of a write that has ended.
    pub(super) fn collect(&mut self) {
        let Some(rx) = &self.saving else { return };
        match rx.try_recv() {
            Ok(r) => {
                self.error = r.err().map(|e| e.to_string());
                self.saving = None;
            }
            Err(TryRecvError::Empty) => {}
            Err(TryRecvError::Disconnected) => self.saving = None,
        }
    }
}
