//! The two regressors on data with a known shape, and the binned fit against the sorted.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;

use super::*;

#[test]
fn forest_learns_a_step_function_linear_learns_a_line() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let x = Array2::from_shape_fn((800, 2), |_| rng.gen_range(0.0..10.0));
    let step = Array1::from_iter(
        x.rows()
            .into_iter()
            .map(|r| if r[0] > 5.0 { 10.0 } else { 0.0 }),
    );
    let spec = RegressionSpec {
        target: 0,
        log_target: false,
        inputs: &[],
        target_name: "t",
    };
    let (m, choice) = fit_best(&x, &step, &spec, 1).unwrap();
    assert_eq!(m.name(), "forest", "{choice:?}");
    let line = Array1::from_iter(x.rows().into_iter().map(|r| 3.0 * r[0] - 2.0 * r[1] + 1.0));
    let (m, choice) = fit_best(&x, &line, &spec, 1).unwrap();
    assert_eq!(m.name(), "linear", "{choice:?}");
    assert!((m.predict(&[1.0, 1.0]).0 - 2.0).abs() < 1e-6);
}

#[test]
fn forest_spread_is_an_uncertainty_band() {
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let x = Array2::from_shape_fn((500, 1), |_| rng.gen_range(0.0..1.0));
    let y = Array1::from_iter(
        x.column(0)
            .iter()
            .map(|v| v * 10.0 + rng.gen_range(-1.0..1.0)),
    );
    let f = RegressionForest::fit(&x, &y, 20, 6, 1.0, 3);
    let (mean, spread) = f.predict(&[0.5]);
    assert!((mean - 5.0).abs() < 1.0, "{mean}");
    assert!(spread > 0.0 && spread < 2.0, "{spread}");
}
