//! What a stream's models are set up with: the binary maps its config file onto this.

/// Model settings (the binary maps its config file onto this).
#[derive(Debug, Clone, PartialEq)]
pub struct MlConfig {
    pub trees: usize,
    pub max_depth: usize,
    pub feature_fraction: f64,
    pub buffer: usize,
    pub warmup: usize,
    pub refit_every: usize,
    pub seed: u64,
    /// Fit on a background thread (live use). When false, fits run inline at fixed event
    /// counts, which makes predictions reproducible for a seed (tests and benchmarks).
    pub background: bool,
    /// Events in the sliding window of the prequential scores.
    pub score_window: usize,
    /// Refit when the forest's error or the stream's key metric drifts.
    pub drift: bool,
}

impl Default for MlConfig {
    fn default() -> Self {
        Self {
            trees: 32,
            max_depth: 10,
            feature_fraction: 0.5,
            buffer: 4000,
            warmup: 500,
            refit_every: 3000,
            seed: 42,
            background: true,
            score_window: 20_000,
            drift: true,
        }
    }
}
