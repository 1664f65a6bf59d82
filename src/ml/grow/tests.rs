//! The classification fitter against linfa's exact search, and its promises: the same
//! seed gives the same forest, explanations add up, files round-trip, bad input is an error.

use super::*;
use crate::ml::forest;

fn data(n: usize, seed: u64) -> (Array2<f64>, Array1<usize>) {
    forest::tests::data_with_noise(n, seed, 0.03)
}

fn params(seed: u64) -> ForestParams {
    ForestParams {
        trees: 30,
        max_depth: 10,
        feature_fraction: 0.8,
        seed,
    }
}

fn accuracy(f: &FlatForest, x: &Array2<f64>, y: &Array1<usize>) -> f64 {
    let right = x
        .rows()
        .into_iter()
        .zip(y)
        .filter(|(r, c)| f.predict(r.as_slice().unwrap_or(&[])).class == **c)
        .count();
    right as f64 / y.len() as f64
}

#[test]
fn as_accurate_as_linfas_exact_search() {
    let (x, y) = data(1500, 1);
    let (tx, ty) = data(2000, 2);
    let ours = fit(&x, &y, &params(7), 3).unwrap();
    let linfa = FlatForest::compile(&forest::fit(&x, &y, &params(7)).unwrap(), 3);
    let (a, b) = (accuracy(&ours, &tx, &ty), accuracy(&linfa, &tx, &ty));
    assert!(a >= b - 0.02, "ours {a:.3}, linfa {b:.3}");
    assert!(a > 0.85, "{a}");
}

#[test]
fn sorting_small_nodes_finds_the_histograms_splits() {
    let (x, y) = data(2000, 8);
    let by_histogram = fit_sorting_below(&x, &y, &params(3), 3, 0).unwrap();
    let by_sorting = fit_sorting_below(&x, &y, &params(3), 3, usize::MAX).unwrap();
    assert_eq!(by_histogram, by_sorting);
    assert_eq!(fit(&x, &y, &params(3), 3).unwrap(), by_sorting);
}

#[test]
fn the_same_seed_gives_the_same_forest_another_seed_another() {
    let (x, y) = data(800, 3);
    assert_eq!(
        fit(&x, &y, &params(5), 3).unwrap(),
        fit(&x, &y, &params(5), 3).unwrap()
    );
    assert_ne!(
        fit(&x, &y, &params(5), 3).unwrap(),
        fit(&x, &y, &params(6), 3).unwrap()
    );
}

#[test]
fn contributions_add_up_to_the_mean_leaf_share() {
    let (x, y) = data(1500, 4);
    let f = fit(&x, &y, &params(1), 3).unwrap();
    for row in data(50, 5).0.rows() {
        let r = row.as_slice().unwrap_or(&[]);
        let p = f.predict(r);
        let parts = f.explain(r, p.class);
        let total: f64 = f.base_share(p.class) + parts.iter().map(|c| c.value).sum::<f64>();
        let leaves = f.mean_leaf_share(r, p.class);
        assert!((total - leaves).abs() < 1e-4, "{total} vs {leaves}");
        assert!(
            parts
                .windows(2)
                .all(|w| w[0].value.abs() >= w[1].value.abs())
        );
    }
    // The class-2 rule reads x0 and x3 only: they explain a confident class-2 call.
    let p = f.predict(&[3.0, 0.0, 0.0, 2.0, 0.0, 0.0]);
    assert_eq!(p.class, 2);
    let top: Vec<usize> = f.explain(&[3.0, 0.0, 0.0, 2.0, 0.0, 0.0], 2)[..2]
        .iter()
        .map(|c| c.feature)
        .collect();
    assert!(top.contains(&0), "{top:?}");
}

#[test]
fn a_forest_survives_a_round_trip_and_a_damaged_one_is_refused() {
    let (x, y) = data(500, 6);
    let f = fit(&x, &y, &params(2), 3).unwrap();
    let json = serde_json::to_string(&f).unwrap();
    let back: FlatForest = serde_json::from_str(&json).unwrap();
    assert_eq!(back, f);
    assert!(back.validate().is_ok());
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let x = Array2::zeros((3, 2));
    assert!(fit(&x, &Array1::from(vec![0, 1]), &params(0), 2).is_err());
    assert!(fit(&x, &Array1::from(vec![0, 1, 5]), &params(0), 2).is_err());
    let one_class = fit(&x, &Array1::from(vec![0, 0, 0]), &params(0), 2).unwrap();
    assert_eq!(one_class.predict(&[1.0, 1.0]).class, 0);
}
