//! The flat forest against linfa's, its side-by-side walks, and the data the fitters' tests
//! share.

use linfa::prelude::*;
use ndarray::{Array1, Array2, Axis};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;

use super::*;

/// Walking four trees side by side counts the same votes as walking each alone, for
/// forests whose tree count is and is not a multiple of four.
#[test]
fn side_by_side_walks_vote_as_one_tree_at_a_time() {
    let (x, y) = data_with_noise(600, 11, 0.05);
    for trees in [8, 13] {
        let p = ForestParams {
            trees,
            max_depth: 8,
            feature_fraction: 0.5,
            seed: 3,
        };
        let f = crate::ml::grow::fit(&x, &y, &p, 3).expect("fit");
        let mut rng = ChaCha8Rng::seed_from_u64(12);
        for _ in 0..500 {
            let row: Vec<f64> = (0..6).map(|_| rng.gen_range(-4.0..4.0)).collect();
            let mut one = [0u32; MAX_CLASSES];
            for &r in &f.roots {
                one[f.walk(r, &row).min(MAX_CLASSES - 1)] += 1;
            }
            assert_eq!(f.votes(&row), one, "{trees} trees, {row:?}");
        }
    }
}

/// Three classes on six features: class 2 where x0 + x3/2 > 1.5, class 1 where
/// x1·x2 > 1, otherwise 0; a `noise` share of the labels moved to the next class.
pub(crate) fn data_with_noise(n: usize, seed: u64, noise: f64) -> (Array2<f64>, Array1<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x = Array2::from_shape_fn((n, 6), |_| rng.gen_range(-3.0..3.0));
    let y = x
        .rows()
        .into_iter()
        .map(|r| {
            let c = if r[0] + 0.5 * r[3] > 1.5 {
                2
            } else if r[1] * r[2] > 1.0 {
                1
            } else {
                0
            };
            if rng.gen_bool(noise) { (c + 1) % 3 } else { c }
        })
        .collect();
    (x, y)
}

fn data(n: usize, seed: u64) -> (Array2<f64>, Array1<usize>) {
    data_with_noise(n, seed, 0.0)
}

#[test]
fn flat_forest_gives_exactly_linfas_votes() {
    let (x, y) = data(600, 1);
    let p = ForestParams {
        trees: 15,
        max_depth: 8,
        feature_fraction: 0.7,
        seed: 9,
    };
    let forest = fit(&x, &y, &p).unwrap();
    let flat = FlatForest::compile(&forest, 3);
    let (test, _) = data(400, 2);
    let subsets: Vec<Array2<f64>> = forest
        .model_features
        .iter()
        .map(|f| test.select(Axis(1), f))
        .collect();
    let per_tree: Vec<Array1<usize>> = forest
        .models
        .iter()
        .zip(&subsets)
        .map(|(m, s)| m.predict(s))
        .collect();
    for (i, row) in test.rows().into_iter().enumerate() {
        let ours: Vec<usize> = flat.tree_votes(row.as_slice().unwrap());
        let linfa: Vec<usize> = per_tree.iter().map(|p| p[i]).collect();
        assert_eq!(ours, linfa, "row {i}");
    }
    // And the ensemble's majority matches wherever one class has most of the votes
    // (otherwise ours calls an incident when incident classes together have most).
    let majority = forest.predict(&test);
    for (i, row) in test.rows().into_iter().enumerate() {
        let pred = flat.predict(row.as_slice().unwrap());
        let mut d = pred.distribution;
        d.sort_by(|a, b| b.total_cmp(a));
        if d[0] >= INCIDENT_SHARE {
            assert_eq!(pred.class, majority[i], "row {i}");
        }
    }
}

#[test]
fn confidence_is_the_vote_share() {
    let (x, y) = data(400, 3);
    let p = ForestParams {
        trees: 11,
        max_depth: 6,
        feature_fraction: 0.5,
        seed: 1,
    };
    let flat = FlatForest::compile(&fit(&x, &y, &p).unwrap(), 3);
    for row in data(200, 4).0.rows() {
        let r = row.as_slice().unwrap();
        let pred = flat.predict(r);
        let share = flat
            .tree_votes(r)
            .iter()
            .filter(|&&c| c == pred.class)
            .count() as f64
            / 11.0;
        assert!((0.0..=1.0).contains(&pred.confidence));
        assert_eq!(pred.confidence, share);
        assert!((pred.distribution.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }
}

#[test]
fn a_forest_that_would_loop_or_read_past_its_end_is_refused() {
    let leaf = Node {
        value: 0.0,
        right: 0,
        feature: LEAF,
    };
    let split = |right| Node {
        value: 0.5,
        right,
        feature: 0,
    };
    let mut f = FlatForest::empty(2);
    f.width = 1;
    f.roots = vec![0];
    f.nodes = vec![split(2), leaf, leaf];
    assert!(f.validate().is_ok());
    for bad in [
        vec![split(0), leaf, leaf],
        vec![split(9), leaf, leaf],
        vec![split(1), leaf],
    ] {
        f.nodes = bad;
        assert!(f.validate().is_err(), "{:?}", f.nodes);
    }
    f.nodes = vec![split(2), leaf, Node { value: 7.0, ..leaf }];
    assert!(f.validate().is_err(), "a class out of range");
    f.nodes = vec![split(2), leaf, leaf];
    f.roots = vec![3];
    assert!(f.validate().is_err(), "a root out of range");
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let x = Array2::zeros((3, 2));
    assert!(
        fit(
            &x,
            &Array1::from(vec![0, 1]),
            &ForestParams {
                trees: 2,
                max_depth: 2,
                feature_fraction: 1.0,
                seed: 0
            }
        )
        .is_err()
    );
    assert!(
        fit(
            &x,
            &Array1::from(vec![0, 1, 99]),
            &ForestParams {
                trees: 2,
                max_depth: 2,
                feature_fraction: 1.0,
                seed: 0
            }
        )
        .is_err()
    );
}
