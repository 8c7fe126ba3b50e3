//! The paper's figures: their runs kept in a results file ([`FigureStore`]) so that an
//! interrupted `figures` resumes, and a per-epoch quantity of several runs (test accuracy, a
//! layer's `α` or `β`) reduced to its mean and standard deviation at every epoch.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::lr::LearningRate;
use super::record::Settings;
use super::store::{Store, StoreRecord};
use super::table::Cell;
use super::train::{EpochResult, Optimizer, RunResult, RunSpec};
use crate::name::ActivationName;

/// One finished run of a figure, every epoch kept (one line of the figures' `results.jsonl`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FigureRecord {
    /// The activation variant.
    pub activation: ActivationName,
    /// The SGD learning rate.
    pub lr: LearningRate,
    /// The seed.
    pub seed: u64,
    /// The initial `(α, β)` of Figure 2's runs; `None` for Figure 3's.
    pub initial_alpha_beta: Option<(f64, f64)>,
    /// Every epoch's outcome.
    pub epochs: Vec<EpochResult>,
}

/// A figure run's identity: activation, learning rate, seed and initial `(α, β)` (as bits:
/// exact).
pub type FigureKey = (ActivationName, LearningRate, u64, Option<(u64, u64)>);

impl FigureRecord {
    /// The record of a finished run.
    pub fn from_result(result: &RunResult) -> Self {
        Self {
            activation: result.spec.activation,
            lr: result.spec.lr,
            seed: result.spec.seed,
            initial_alpha_beta: result.spec.initial_alpha_beta,
            epochs: result.epochs.clone(),
        }
    }

    /// The run again, as the runner made it (SGD, as every figure run).
    pub fn to_result(&self) -> RunResult {
        RunResult {
            spec: RunSpec {
                activation: self.activation,
                optimizer: Optimizer::Sgd,
                lr: self.lr,
                seed: self.seed,
                epochs: self.epochs.len(),
                initial_alpha_beta: self.initial_alpha_beta,
            },
            epochs: self.epochs.clone(),
        }
    }

    /// The key of the run `spec` describes.
    pub fn key_of(spec: &RunSpec) -> FigureKey {
        figure_key(spec.activation, spec.lr, spec.seed, spec.initial_alpha_beta)
    }
}

/// A figure run's key from its parts (the initial `(α, β)` as bits).
fn figure_key(
    activation: ActivationName,
    lr: LearningRate,
    seed: u64,
    initial_alpha_beta: Option<(f64, f64)>,
) -> FigureKey {
    let init = initial_alpha_beta.map(|(a, b)| (a.to_bits(), b.to_bits()));
    (activation, lr, seed, init)
}

impl StoreRecord for FigureRecord {
    type Key = FigureKey;
    /// From the record's fields, without rebuilding its run (which copies every epoch).
    fn key(&self) -> FigureKey {
        figure_key(self.activation, self.lr, self.seed, self.initial_alpha_beta)
    }
}

/// The figures' results file: the same settings as the tables' (data, image counts, epochs,
/// batch size), one [`FigureRecord`] per line.
pub type FigureStore = Store<Settings, FigureRecord>;

/// One point of a curve over epochs: the epoch (1-based) and the mean, sample standard
/// deviation and count of the runs' values there.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochPoint {
    /// 1-based epoch number.
    pub epoch: usize,
    /// The values of the runs at this epoch.
    pub cell: Cell,
}

/// `value` of every run at every epoch, reduced to one [`EpochPoint`] per epoch, in epoch
/// order. A run contributes to an epoch when it reached it and `value` gives a finite number,
/// so runs of different lengths and missing values are handled; epochs without any value are
/// left out.
pub fn per_epoch<'a>(
    runs: impl IntoIterator<Item = &'a RunResult>,
    value: impl Fn(&EpochResult) -> Option<f64>,
) -> Vec<EpochPoint> {
    let mut by_epoch: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
    for run in runs {
        for epoch in &run.epochs {
            if let Some(v) = value(epoch).filter(|v| v.is_finite()) {
                by_epoch.entry(epoch.epoch).or_default().push(v);
            }
        }
    }
    by_epoch
        .into_iter()
        .filter_map(|(epoch, values)| {
            Some(EpochPoint {
                epoch,
                cell: Cell::from_values(&values)?,
            })
        })
        .collect()
}

/// The mean test accuracy (percent) of `runs` at every epoch.
pub fn accuracy_per_epoch<'a>(runs: impl IntoIterator<Item = &'a RunResult>) -> Vec<EpochPoint> {
    per_epoch(runs, |e| Some(e.test_accuracy))
}

/// Parameter `param` (0 = `α`, 1 = `β` for AReLU) of activation layer `layer` (0, 1, 2) of
/// `runs` at every epoch, the mean over the runs.
pub fn param_per_epoch<'a>(
    runs: impl IntoIterator<Item = &'a RunResult>,
    layer: usize,
    param: usize,
) -> Vec<EpochPoint> {
    per_epoch(runs, |e| {
        e.activation_params.get(layer)?.get(param).copied()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::train::{Optimizer, RunSpec};
    use crate::name::{ActivationName, BaseActivation};

    fn run(seed: u64, accuracies: &[f64]) -> RunResult {
        let spec = RunSpec {
            activation: ActivationName::new(BaseActivation::Arelu, false).unwrap(),
            optimizer: Optimizer::Sgd,
            lr: crate::experiment::LearningRate::new(1e-3).unwrap(),
            seed,
            epochs: accuracies.len(),
            initial_alpha_beta: None,
        };
        let epochs = (accuracies.iter().enumerate())
            .map(|(i, &acc)| EpochResult {
                epoch: i + 1,
                test_accuracy: acc,
                train_loss: 0.0,
                train_seconds: 0.0,
                activation_params: vec![vec![0.5 + seed as f64, 2.0]; 3],
            })
            .collect();
        RunResult { spec, epochs }
    }

    #[test]
    fn mean_and_std_per_epoch() {
        let runs = [run(0, &[10.0, 50.0]), run(1, &[20.0, 70.0, 90.0])];
        let points = accuracy_per_epoch(&runs);
        assert_eq!(points.len(), 3);
        assert_eq!(points[0].epoch, 1);
        assert!((points[0].cell.mean - 15.0).abs() < 1e-12);
        assert!((points[0].cell.std - 50f64.sqrt()).abs() < 1e-12);
        assert_eq!(points[0].cell.n, 2);
        assert!((points[1].cell.mean - 60.0).abs() < 1e-12);
        // Only the longer run reached epoch 3.
        assert_eq!((points[2].epoch, points[2].cell.n), (3, 1));
        assert_eq!(points[2].cell.std, 0.0);

        let alpha = param_per_epoch(&runs, 2, 0);
        assert!((alpha[0].cell.mean - 1.0).abs() < 1e-12);
        // A parameter the runs do not have gives no points; NaN values are skipped.
        assert!(param_per_epoch(&runs, 3, 0).is_empty());
        assert!(per_epoch(&runs, |_| Some(f64::NAN)).is_empty());
    }
}
