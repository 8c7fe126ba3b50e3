//! Synthetic runs shared by the tests of the table modules.

use super::Summary;
use crate::experiment::lr::LearningRate;
use crate::experiment::record::RunRecord;
use crate::experiment::train::Optimizer;
use crate::name::ActivationName;

pub(super) const SGD: Optimizer = Optimizer::Sgd;
pub(super) const ADAM: Optimizer = Optimizer::Adam;
pub(super) const LRS: [f64; 2] = [1e-2, 1e-4];
pub(super) const OPTS: [Optimizer; 2] = [SGD, ADAM];

/// `values` as learning rates.
pub(super) fn lrs(values: &[f64]) -> Vec<LearningRate> {
    values
        .iter()
        .map(|&v| LearningRate::new(v).unwrap())
        .collect()
}

/// The base activation `base`, wrapped in ELSA when `elsa` is.
pub(super) fn name(base: &str, elsa: bool) -> ActivationName {
    ActivationName::new(base.parse().unwrap(), elsa).unwrap()
}

pub(super) fn record(
    activation: &str,
    elsa: bool,
    opt: Optimizer,
    lr: f64,
    seed: u64,
    acc: f64,
) -> RunRecord {
    RunRecord {
        activation: name(activation, elsa),
        optimizer: opt,
        lr: LearningRate::new(lr).unwrap(),
        seed,
        epoch: 1,
        test_accuracy: acc,
        train_seconds: 1.5,
        accuracy_per_epoch: vec![acc],
        activation_params: vec![],
        diverged_at: None,
    }
}

/// Means per (activation, elsa) over columns SGD 1e-2, SGD 1e-4, Adam 1e-2, Adam 1e-4;
/// `None` = no run. Each cell has 3 seeds at mean - 0.5, mean, mean + 0.5 (std 0.5),
/// except relu SGD 1e-2: 97, 98, 99.5.
pub(super) const MEANS: [(&str, bool, [Option<f64>; 4]); 7] = [
    (
        "arelu",
        false,
        [Some(98.5), Some(60.0), Some(94.0), Some(92.0)],
    ),
    ("sigmoid", false, [Some(90.0), Some(40.0), Some(95.0), None]),
    ("relu", false, [None, Some(30.0), Some(97.0), Some(90.0)]),
    (
        "prelu",
        false,
        [Some(97.5), Some(50.0), Some(96.0), Some(91.0)],
    ),
    (
        "relu",
        true,
        [Some(98.3), Some(70.0), Some(96.0), Some(90.0)],
    ),
    (
        "sigmoid",
        true,
        [Some(89.0), Some(45.0), Some(95.5), Some(80.0)],
    ),
    ("prelu", true, [Some(97.0), Some(55.0), None, Some(92.0)]),
];

pub(super) fn records() -> Vec<RunRecord> {
    let mut out = Vec::new();
    for (act, elsa, means) in MEANS {
        for (c, mean) in means.iter().enumerate() {
            let (opt, lr) = (OPTS[c / 2], LRS[c % 2]);
            if let Some(m) = mean {
                for (seed, d) in [(0, -0.5), (1, 0.0), (2, 0.5)] {
                    out.push(record(act, elsa, opt, lr, seed, m + d));
                }
            }
        }
    }
    for (seed, acc) in [(0, 97.0), (1, 98.0), (2, 99.5)] {
        out.push(record("relu", false, SGD, 0.01, seed, acc));
    }
    out.reverse();
    out
}

pub(super) fn summary() -> Summary {
    Summary::from_records(&records(), &OPTS, &lrs(&LRS))
}

/// The cells of the markdown table rows (first line = header), `|` split and trimmed.
pub(super) fn rows(md: &str) -> Vec<Vec<String>> {
    md.lines()
        .take_while(|l| l.starts_with('|'))
        .filter(|l| !l.starts_with("|---"))
        .map(|l| {
            let inner = l.trim().trim_start_matches('|').trim_end_matches('|');
            inner.split('|').map(|s| s.trim().to_string()).collect()
        })
        .collect()
}

pub(super) fn find<'a>(table: &'a [Vec<String>], name: &str) -> &'a [String] {
    table
        .iter()
        .find(|r| r[0] == name)
        .unwrap_or_else(|| panic!("no row {name}"))
}
