//! The forest's training rows: a bounded, class-balanced buffer (reservoir sampling per
//! class), so that a class of a few events in a hundred is not drowned out by the normal ones.

use ndarray::{Array1, Array2};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::forest::MAX_CLASSES;
use crate::analytics::FEATURES;

/// A labelled row kept for training.
#[derive(Debug, Clone, Copy)]
pub(super) struct Row {
    pub x: [f64; FEATURES],
    pub class: usize,
}

/// Per-class reservoirs that together hold at most `cap` rows: normal events get half,
/// the incident classes share the other half, so a 2 % class is not drowned out.
#[derive(Debug, Clone)]
pub struct ClassReservoir {
    cap: usize,
    classes: Vec<(Vec<Row>, u64)>,
}

impl ClassReservoir {
    pub fn new(cap: usize, classes: usize) -> Self {
        Self {
            cap: cap.max(2),
            classes: vec![(Vec::new(), 0); classes.clamp(2, MAX_CLASSES)],
        }
    }

    fn class_cap(&self, class: usize) -> usize {
        let incident_classes = (self.classes.len() - 1).max(1);
        if class == 0 {
            self.cap / 2
        } else {
            (self.cap / 2 / incident_classes).max(1)
        }
    }

    pub(super) fn insert(&mut self, row: Row, rng: &mut ChaCha8Rng) {
        let cap = self.class_cap(row.class);
        let Some((rows, seen)) = self.classes.get_mut(row.class) else {
            return;
        };
        *seen += 1;
        if rows.len() < cap {
            rows.push(row);
        } else {
            let j = rng.gen_range(0..*seen);
            if (j as usize) < cap {
                rows[j as usize] = row;
            }
        }
    }

    pub fn len(&self) -> usize {
        self.classes.iter().map(|c| c.0.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether both normal and at least one incident class are present.
    pub fn has_both(&self) -> bool {
        !self.classes[0].0.is_empty() && self.classes[1..].iter().any(|c| !c.0.is_empty())
    }

    pub(super) fn matrix(&self) -> (Array2<f64>, Array1<usize>) {
        let rows: Vec<&Row> = self.classes.iter().flat_map(|c| c.0.iter()).collect();
        let x = Array2::from_shape_fn((rows.len(), FEATURES), |(i, j)| rows[i].x[j]);
        let y = rows.iter().map(|r| r.class).collect();
        (x, y)
    }
}
