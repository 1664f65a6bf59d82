//! The models' feature columns, one named set per stream. A rule set writes a row in the
//! order its set declares, and every reader (the regressor's inputs, the model card, a
//! per-event explanation) names a column through the same enum, so a column is defined once.

use crate::named::Named;
use crate::named_enum;

/// Length of every feature vector handed to the models (streams pad with zeros).
pub const FEATURES: usize = 16;

/// One event's features.
pub type FeatureVector = [f64; FEATURES];

named_enum! {
    /// What the sensor models see of one reading.
    pub enum SensorFeature {
        Temperature = "temperature",
        Humidity = "humidity",
        Pressure = "pressure",
        ZTemperature = "z_temperature",
        ZHumidity = "z_humidity",
        ZPressure = "z_pressure",
        TempMinusMean = "temp_minus_mean",
        TempStd = "temp_std",
        FlatRun = "flat_run",
        SecsSinceLast = "secs_since_last",
        Hour = "hour",
        Status = "status",
        TempMean = "temp_mean",
        HumidityMean = "humidity_mean",
    }
}

named_enum! {
    /// What the transaction models see of one payment.
    pub enum TransactionFeature {
        Amount = "amount",
        LogAmount = "log_amount",
        ZStream = "z_stream",
        ZCustomer = "z_customer",
        CustomerTxns = "customer_txns",
        Txns10s = "txns_10s",
        Tiny60s = "tiny_60s",
        SecsSinceLast = "secs_since_last",
        LocalHour = "local_hour",
        FarRegion = "far_region",
        Category = "category",
        Payment = "payment",
        CustomerLogMean = "customer_log_mean",
        CustomerLogStd = "customer_log_std",
    }
}

named_enum! {
    /// What the log models see of one request.
    pub enum LogFeature {
        ResponseTimeMs = "response_time_ms",
        LogLatency = "log_latency",
        ZLatency = "z_latency",
        StatusCode = "status_code",
        Is5xx = "is_5xx",
        Is4xx = "is_4xx",
        ErrorShare = "error_share",
        P95Ratio = "p95_ratio",
        Level = "level",
        MsSinceLast = "ms_since_last",
        Hour = "hour",
        Service = "service",
        Endpoint = "endpoint",
        P95Ms = "p95_ms",
        RecentErrors = "recent_5xx_share",
        RecentLatency = "recent_latency_vs_baseline",
    }
}

/// Writes a row given as (column, value) pairs in the set's order: the compiler checks that
/// every column is there, a debug assertion that they come in order.
pub fn write_row<F: Named, const N: usize>(out: &mut FeatureVector, row: [(F, f64); N]) {
    const {
        assert!(
            N == F::ALL.len() && N <= FEATURES,
            "one value per feature column"
        );
    }
    debug_assert!(
        row.iter().enumerate().all(|(i, (f, _))| f.index() == i),
        "feature row out of column order: {row:?}"
    );
    for (slot, (_, v)) in out.iter_mut().zip(row) {
        *slot = v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stream_fits_the_vector() {
        for n in [
            SensorFeature::COUNT,
            TransactionFeature::COUNT,
            LogFeature::COUNT,
        ] {
            assert!(n <= FEATURES);
        }
    }

    #[test]
    fn a_row_lands_in_its_columns() {
        let mut out = [f64::NAN; FEATURES];
        let row: [(LogFeature, f64); LogFeature::COUNT] =
            std::array::from_fn(|i| (LogFeature::ALL[i], i as f64));
        write_row(&mut out, row);
        assert_eq!(
            out[LogFeature::Hour.index()],
            LogFeature::Hour.index() as f64
        );
    }
}
