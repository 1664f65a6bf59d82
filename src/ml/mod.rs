//! Models that learn from the stream while it flows: a random forest per stream that says
//! whether an event is an incident (and which kind) with a confidence, a regressor per stream
//! with a useful target, the online training lifecycle, and honest prequential scores.

pub mod bins;
pub mod drift;
pub mod findings;
pub mod forest;
pub mod grow;
pub mod hst;
pub mod metrics;
pub mod model;
pub mod regression;
pub mod replay;
pub mod reservoir;
pub mod store;

pub use drift::Drift;
pub use forest::{FlatForest, Prediction};
pub use metrics::{BinaryScores, Prequential};
pub use model::{MlConfig, ModelSnapshot, StreamModel, Verdict};

use thiserror::Error;

#[derive(Debug, Error)]
pub enum MlError {
    #[error("cannot train: {0}")]
    Data(String),
    #[error("model fit failed: {0}")]
    Fit(String),
}

#[cfg(test)]
mod tests;
