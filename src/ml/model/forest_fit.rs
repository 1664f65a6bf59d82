//! The forest's lifecycle: a bounded, class-balanced training buffer, when a fit is due
//! (warm-up, refit cadence, drift), the fit itself on a background thread or inline, and how
//! long the old forest may serve while its successor fits. The regressor's rows ride along
//! in the same fit job, on a thread of their own, when its own cadence says so.

use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::time::Instant;

use ndarray::{Array1, Array2};
use rand_chacha::ChaCha8Rng;

use super::config::MlConfig;
use crate::analytics::Observation;
use crate::ml::MlError;
use crate::ml::forest::{FlatForest, ForestParams};
use crate::ml::grow;
use crate::ml::regression::{self, RegressionChoice, RegressionSpec, Regressor};
use crate::ml::reservoir::{ClassReservoir, Row};
use crate::streams::StreamKind;

/// Labelled events a model serves while its successor fits, at most (see `overdue`)...
const STALE_EVENTS: usize = 400;

/// ... or 1/this of the labelled events seen, once that is more (see `stale_limit`).
const STALE_SHARE: u64 = 64;

/// How many labelled events a model may serve while its successor fits, once `labelled`
/// have been seen: 400 for the first 25,600, then 1/64 of them. A long stream refits after
/// a sixteenth (on a drift) to a half of what it had seen; being late by a sixty-fourth of
/// it changes little in what the serving model knows, and a backlog read at full speed no
/// longer waits for every fit (the figures are in docs/perf-journal.md).
pub(in crate::ml) fn stale_limit(labelled: u64) -> usize {
    STALE_EVENTS.max(usize::try_from(labelled / STALE_SHARE).unwrap_or(usize::MAX))
}

/// A mature model is refitted once `refit_every` labelled events, and 1/this of all those
/// seen, came after its fit: the stream has grown by half since. The training buffer
/// samples the whole stream, so a third of its rows are then new; refitting after a quarter
/// fitted a long stream half as often again for the same forests' F1 (docs/perf-journal.md).
pub(super) const MATURE_SHARE: u64 = 3;

/// A drift brings the next refit forward to when 1/this of the labelled events seen have
/// come since the last fit (at once when they have): the buffer samples the whole stream,
/// so about that share of its rows is then from after the drift. Sensors drift as one of
/// their incident kinds, several times per 20,000 readings: a refit at every one of them
/// was most of a long backlog's CPU, and learnt from a handful of new rows each.
const DRIFT_SHARE: usize = 16;

/// What a fit hands back.
pub(super) struct Fitted {
    pub(super) forest: Option<FlatForest>,
    pub(super) regressor: Option<(Regressor, RegressionChoice)>,
    rows: usize,
    fit_ms: f64,
    error: Option<String>,
}

/// The regressor's training rows for a fit, when its cadence says so.
pub(super) type RegressionRows = Option<(Array2<f64>, Array1<f64>)>;

/// The forest, its training buffer and the fit in flight.
pub(super) struct ForestFit {
    buffer: ClassReservoir,
    forest: Option<Arc<FlatForest>>,
    pending: Option<Receiver<Fitted>>,
    pub(super) version: u32,
    pub(super) training_size: usize,
    pub(super) fit_ms: f64,
    since_fit: usize,
    /// A drift asked for a refit that has not started yet.
    pub(super) refit_now: bool,
    pub(super) last_error: Option<String>,
}

impl ForestFit {
    pub(super) fn new(cfg: &MlConfig, classes: usize) -> Self {
        Self {
            buffer: ClassReservoir::new(cfg.buffer, classes),
            forest: None,
            pending: None,
            version: 0,
            training_size: 0,
            fit_ms: 0.0,
            since_fit: 0,
            refit_now: false,
            last_error: None,
        }
    }

    pub(super) fn forest(&self) -> Option<&FlatForest> {
        self.forest.as_deref()
    }

    pub(super) fn is_fitting(&self) -> bool {
        self.pending.is_some()
    }

    /// Both classes are in the buffer: a forest can be fitted.
    pub(super) fn has_both(&self) -> bool {
        self.buffer.has_both()
    }

    /// Takes a labelled event into the buffer; a row with a value a message left out is
    /// scored but not learnt from.
    pub(super) fn learn(&mut self, obs: &Observation, class: usize, rng: &mut ChaCha8Rng) {
        if !obs.features.iter().all(|v| v.is_finite()) {
            return;
        }
        self.since_fit += 1;
        let row = Row {
            x: obs.features,
            class,
        };
        self.buffer.insert(row, rng);
    }

    /// Whether a forest fit is due after `labelled` labelled events.
    pub(super) fn due(&self, cfg: &MlConfig, labelled: u64) -> bool {
        if self.version == 0 {
            labelled as usize >= cfg.warmup
        } else {
            let interval = self.refit_interval(cfg, labelled);
            let after_drift = (labelled as usize / DRIFT_SHARE).clamp(1, interval);
            self.since_fit >= interval || (self.refit_now && self.since_fit >= after_drift)
        }
    }

    /// Labelled events between refits: while the model is young each refit waits as many
    /// events as the last one was trained on (500, 1,000, 2,000, …), so the early models,
    /// fitted on a handful of incidents, are soon replaced; then every `refit_every`, or a
    /// third of what was seen once that is more: a long stream is not refitted every few
    /// thousand events for ever (drift still brings a refit forward).
    fn refit_interval(&self, cfg: &MlConfig, labelled: u64) -> usize {
        if self.young(cfg) {
            cfg.refit_every.min(self.training_size.max(cfg.warmup))
        } else {
            cfg.refit_every.max((labelled / MATURE_SHARE) as usize)
        }
    }

    /// A model trained on less than half a buffer of rows.
    fn young(&self, cfg: &MlConfig) -> bool {
        self.training_size < cfg.buffer / 2
    }

    /// Starts a fit of the forest (and of the regressor on `reg`): on a thread of its own
    /// in the background mode, else here, returning what it fitted.
    pub(super) fn start(&mut self, job: FitJob, cfg: &MlConfig) -> Option<Fitted> {
        let (x, y) = self.buffer.matrix();
        let params = ForestParams {
            trees: cfg.trees,
            max_depth: cfg.max_depth,
            feature_fraction: cfg.feature_fraction,
            seed: cfg.seed.wrapping_add(u64::from(self.version)),
        };
        tracing::debug!(
            stream = job.kind.name(),
            labelled = job.labelled,
            since_fit = self.since_fit,
            drift = self.refit_now,
            regression = job.reg.is_some(),
            "fit"
        );
        self.since_fit = 0;
        self.refit_now = false;
        let FitJob {
            kind,
            classes,
            reg,
            spec,
            ..
        } = job;
        let run = move || fit_all(&x, &y, &params, classes, reg, &spec);
        if !cfg.background {
            return Some(run());
        }
        let (tx, rx) = mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name(format!("fit-{}", kind.name()))
            .spawn(move || {
                yield_to_the_consumer();
                let _ = tx.send(run());
            });
        match spawned {
            Ok(_) => self.pending = Some(rx),
            Err(e) => self.last_error = Some(format!("cannot start a fit thread: {e}")),
        }
        None
    }

    /// Whether the serving model has served its `stale_limit` while its successor fits:
    /// staleness is bounded in events, so a backlog read at full speed is judged by models
    /// as fresh as when events arrive slowly (at a few thousand events per second the fit is
    /// done before that; a backlog read at full speed waits for it). The first model too:
    /// no model is the stalest of all, and a short backlog read before the first fit's
    /// thread got a core was otherwise judged by none.
    pub(super) fn overdue(&self, labelled: u64) -> bool {
        self.since_fit >= stale_limit(labelled)
    }

    /// The fit in flight, once it has ended (`wait`: waits for it).
    pub(super) fn take(&mut self, wait: bool) -> Option<Fitted> {
        let rx = self.pending.as_ref()?;
        let got = if wait {
            rx.recv().map_err(|_| TryRecvError::Disconnected)
        } else {
            rx.try_recv()
        };
        match got {
            Ok(f) => {
                self.pending = None;
                Some(f)
            }
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => {
                self.pending = None;
                self.last_error = Some("a fit thread died".into());
                None
            }
        }
    }

    /// Serves the forest a fit made (and takes its error, or that it had none).
    pub(super) fn install(&mut self, f: &mut Fitted) {
        self.last_error = f.error.take();
        if let Some(forest) = f.forest.take() {
            self.forest = Some(Arc::new(forest));
            self.version += 1;
            self.training_size = f.rows;
            self.fit_ms = f.fit_ms;
        }
    }

    /// Starts from a saved forest.
    pub(super) fn restore(
        &mut self,
        version: u32,
        training_size: usize,
        forest: Option<FlatForest>,
    ) {
        self.version = version;
        self.training_size = training_size;
        self.forest = forest.map(Arc::new);
    }
}

/// What a fit needs besides the forest's own buffer.
pub(super) struct FitJob {
    pub(super) kind: StreamKind,
    pub(super) labelled: u64,
    pub(super) classes: usize,
    pub(super) reg: RegressionRows,
    pub(super) spec: RegressionSpec,
}

/// Lowers the calling thread's priority (and that of the threads it starts: the fit's tree
/// growers), so that a background fit takes what the consumer leaves of the cores instead
/// of delaying events. Nice 19, the lowest: three streams fitting at once run nine such
/// threads, which at nice 10 weighed together about as much as the consumer's thread.
/// Linux only; elsewhere fits run as they are.
fn yield_to_the_consumer() {
    #[cfg(target_os = "linux")]
    // SAFETY: plain system calls on the calling thread's own id; failure changes nothing.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 19);
    }
}

/// Fits the forest and, beside it on another thread, the regressor.
fn fit_all(
    x: &Array2<f64>,
    y: &Array1<usize>,
    params: &ForestParams,
    classes: usize,
    reg: RegressionRows,
    spec: &RegressionSpec,
) -> Fitted {
    let start = Instant::now();
    let (forest, regressor) = std::thread::scope(|scope| {
        let regressor =
            scope.spawn(|| reg.map(|(rx, ry)| regression::fit_best(&rx, &ry, spec, params.seed)));
        // Without labelled rows (a topic without labels) there is no forest to fit.
        let forest = (!y.is_empty()).then(|| grow::fit(x, y, params, classes));
        let regressor = regressor
            .join()
            .unwrap_or_else(|_| Some(Err(MlError::Fit("the regression thread failed".into()))));
        (forest, regressor)
    });
    let fit_ms = start.elapsed().as_secs_f64() * 1000.0;
    let mut error = None;
    let forest = forest.and_then(|f| f.map_err(|e| error = Some(e.to_string())).ok());
    let regressor = match regressor {
        Some(Ok(r)) => Some(r),
        Some(Err(MlError::Data(_))) | None => None,
        Some(Err(e)) => {
            error = Some(e.to_string());
            None
        }
    };
    Fitted {
        forest,
        regressor,
        rows: x.nrows(),
        fit_ms,
        error,
    }
}
