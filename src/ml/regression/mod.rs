//! One regressor per stream, with a target worth predicting:
//! sensor → temperature from humidity, pressure, time of day and the sensor's baselines;
//! transaction → the amount a customer usually spends (the residual is an anomaly signal);
//! log → response time from service, endpoint, status and recent load.
//!
//! Two candidates are fitted on the same rows, linfa-linear's least squares and a small
//! random-forest regressor (bootstrap, feature subsampling, CART on variance; prediction is
//! the mean of leaf values, the spread across trees an uncertainty band), and the one with
//! the lower held-out error serves.

use linfa::prelude::*;
use linfa_linear::LinearRegression;
use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

use super::MlError;
use crate::analytics::FEATURES;
use crate::streams::StreamKind;

mod forest;

use forest::REGRESSION_TREES;
pub use forest::RegressionForest;

/// The regressors' input columns per stream, by name.
mod inputs {
    use crate::analytics::{LogFeature as L, SensorFeature as S, TransactionFeature as T};

    pub const SENSOR_INPUTS: &[usize] = &[
        S::Humidity.index(),
        S::Pressure.index(),
        S::Hour.index(),
        S::TempMean.index(),
        S::HumidityMean.index(),
    ];
    pub const TRANSACTION_INPUTS: &[usize] = &[
        T::CustomerTxns.index(),
        T::LocalHour.index(),
        T::Category.index(),
        T::Payment.index(),
        T::CustomerLogMean.index(),
        T::CustomerLogStd.index(),
    ];
    pub const LOG_INPUTS: &[usize] = &[
        L::Service.index(),
        L::Endpoint.index(),
        L::StatusCode.index(),
        L::ErrorShare.index(),
        L::MsSinceLast.index(),
        L::Hour.index(),
    ];
}

/// Which feature columns feed the regressor and which one it predicts (column positions,
/// written through the stream's feature enum).
#[derive(Debug, Clone, Copy)]
pub struct RegressionSpec {
    pub target: usize,
    /// Whether the target column is a natural log (predictions are reported as exp()).
    pub log_target: bool,
    pub inputs: &'static [usize],
    pub target_name: &'static str,
}

impl RegressionSpec {
    pub fn for_stream(kind: StreamKind) -> Self {
        use crate::analytics::{LogFeature as L, SensorFeature as S, TransactionFeature as T};
        use inputs::*;
        match kind {
            StreamKind::Sensor => Self {
                target: S::Temperature.index(),
                log_target: false,
                inputs: SENSOR_INPUTS,
                target_name: "temperature",
            },
            StreamKind::Transaction => Self {
                target: T::LogAmount.index(),
                log_target: true,
                inputs: TRANSACTION_INPUTS,
                target_name: "amount",
            },
            StreamKind::Log => Self {
                target: L::LogLatency.index(),
                log_target: true,
                inputs: LOG_INPUTS,
                target_name: "response_time_ms",
            },
        }
    }

    /// The input columns of `f`, written into `buf` (no allocation on the per-event path).
    pub fn row<'b>(&self, f: &[f64; FEATURES], buf: &'b mut [f64; FEATURES]) -> &'b [f64] {
        let n = self.inputs.len().min(FEATURES);
        for (slot, &i) in buf.iter_mut().zip(&self.inputs[..n]) {
            *slot = f[i];
        }
        &buf[..n]
    }

    /// The target in natural units.
    pub fn natural(&self, v: f64) -> f64 {
        if self.log_target { v.exp() } else { v }
    }
}

/// A fitted regressor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Regressor {
    /// Least squares, its predictions held to the targets' training range (a log-scale
    /// target extrapolated far past it is an absurd amount once exponentiated).
    Linear {
        weights: Vec<f64>,
        intercept: f64,
        low: f64,
        high: f64,
    },
    Forest(RegressionForest),
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RegressionChoice {
    pub model: &'static str,
    pub holdout_mae_linear: f64,
    pub holdout_mae_forest: f64,
}

impl Regressor {
    pub fn name(&self) -> &'static str {
        match self {
            Regressor::Linear { .. } => "linear",
            Regressor::Forest(_) => "forest",
        }
    }

    /// Checks a regressor read from a file against `inputs` columns: every child after its
    /// parent and in range (so a walk ends), weights one per input.
    pub fn validate(&self, inputs: usize) -> Result<(), String> {
        match self {
            Regressor::Linear {
                weights, low, high, ..
            } if weights.len() == inputs && low <= high => Ok(()),
            Regressor::Linear { .. } => Err("the linear regressor has the wrong width".into()),
            Regressor::Forest(f) => f.validate(),
        }
    }

    /// Prediction and uncertainty (spread across trees; 0 for the linear model).
    pub fn predict(&self, x: &[f64]) -> (f64, f64) {
        match self {
            Regressor::Linear {
                weights,
                intercept,
                low,
                high,
            } => (
                (intercept + weights.iter().zip(x).map(|(w, v)| w * v).sum::<f64>())
                    .clamp(*low, *high),
                0.0,
            ),
            Regressor::Forest(f) => f.predict(x),
        }
    }
}

/// Fits both candidates on 80 % of the rows and keeps the one with the lower MAE on the
/// other 20 % (in the target's natural units).
pub fn fit_best(
    x: &Array2<f64>,
    y: &Array1<f64>,
    spec: &RegressionSpec,
    seed: u64,
) -> Result<(Regressor, RegressionChoice), MlError> {
    let n = x.nrows();
    if n < 20 {
        return Err(MlError::Data(format!(
            "{n} rows are too few for a regression"
        )));
    }
    let cut = n * 4 / 5;
    let (xt, yt) = (
        x.slice(ndarray::s![..cut, ..]).to_owned(),
        y.slice(ndarray::s![..cut]).to_owned(),
    );
    // Least squares fails on collinear or constant columns; the forest does not.
    let linear = fit_linear(&xt, &yt).ok();
    let forest = Regressor::Forest(RegressionForest::fit(
        &xt,
        &yt,
        REGRESSION_TREES,
        8,
        0.7,
        seed,
    ));
    let mae = |m: &Regressor| {
        (cut..n)
            .map(|i| {
                let row: Vec<f64> = x.row(i).to_vec();
                (spec.natural(m.predict(&row).0) - spec.natural(y[i])).abs()
            })
            .sum::<f64>()
            / (n - cut) as f64
    };
    let (ml, mf) = (linear.as_ref().map_or(f64::INFINITY, mae), mae(&forest));
    let choice = RegressionChoice {
        model: if mf <= ml { "forest" } else { "linear" },
        holdout_mae_linear: ml,
        holdout_mae_forest: mf,
    };
    Ok(match linear {
        Some(l) if ml < mf => (l, choice),
        _ => (forest, choice),
    })
}

fn fit_linear(x: &Array2<f64>, y: &Array1<f64>) -> Result<Regressor, MlError> {
    let fitted = LinearRegression::new()
        .fit(&Dataset::new(x.clone(), y.clone()))
        .map_err(|e| MlError::Fit(e.to_string()))?;
    let (low, high) = y
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    Ok(Regressor::Linear {
        weights: fitted.params().to_vec(),
        intercept: fitted.intercept(),
        low,
        high,
    })
}

#[cfg(test)]
mod tests;
