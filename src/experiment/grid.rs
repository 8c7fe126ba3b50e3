//! A grid of training runs (activations x ELSA x optimisers x learning rates x seeds), run
//! on several worker threads, each finished run handed back at once.

use std::sync::mpsc;
use std::sync::Mutex;

use thiserror::Error;

use super::batches::Images;
use super::lr::LearningRate;
use super::record::{RunKey, RunRecord};
use super::train::{train_run, Optimizer, RunResult, RunSpec};
use crate::name::{ActivationName, BaseActivation};

/// Which variants of each activation to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElsaMode {
    /// The activations alone (Table 1).
    Off,
    /// The activations wrapped in ELSA (Table 4).
    On,
    /// Both.
    Both,
}

impl std::str::FromStr for ElsaMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "off" => Ok(Self::Off),
            "on" => Ok(Self::On),
            "both" => Ok(Self::Both),
            other => Err(format!(
                "unknown ELSA mode `{other}` (valid: off, on, both)"
            )),
        }
    }
}

/// The most epochs per run a grid accepts.
pub const MAX_EPOCHS: usize = 1000;
/// The most seeds a grid accepts.
pub const MAX_SEEDS: u64 = 1000;
/// The most runs a grid accepts.
pub const MAX_RUNS: usize = 1_000_000;
/// The largest learning rate a grid accepts (rates must be positive and at most this).
pub const MAX_LR: f64 = 100.0;

/// Why a grid is refused.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum GridError {
    /// A list option without entries.
    #[error("{0} must not be empty")]
    Empty(&'static str),
    /// A numeric setting outside its range.
    #[error("{option} must be in {range}, got {value}")]
    OutOfRange {
        /// The option (`"--epochs"`).
        option: &'static str,
        /// Its valid range, as text.
        range: String,
        /// The value given.
        value: String,
    },
    /// More runs than [`MAX_RUNS`] (or than a `usize` holds).
    #[error("the grid has more than {MAX_RUNS} runs; make it smaller or split it with --shard")]
    TooLarge,
    /// Only AReLU with `--elsa on`: `elsa-arelu` is not a variant.
    #[error(
        "the grid has no runs: AReLU is not wrapped in ELSA (it already is ELSA around ReLU); \
         use --elsa off or both for arelu, or elsa-relu's base `relu` with --elsa on"
    )]
    NoRuns,
}

/// `items` without repetitions, first occurrences kept in order (`same` decides equality).
fn distinct<T: Copy>(items: &[T], same: impl Fn(&T, &T) -> bool) -> Vec<T> {
    let mut out: Vec<T> = Vec::with_capacity(items.len());
    for item in items {
        if !out.iter().any(|o| same(o, item)) {
            out.push(*item);
        }
    }
    out
}

/// The runs to make. Repeated entries in the lists count once.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    /// Base activations, in table order.
    pub activations: Vec<BaseActivation>,
    /// With, without, or both.
    pub elsa: ElsaMode,
    /// Optimisers.
    pub optimizers: Vec<Optimizer>,
    /// Learning rates.
    pub lrs: Vec<LearningRate>,
    /// Seeds `0..seeds`.
    pub seeds: u64,
    /// Epochs per run.
    pub epochs: usize,
}

impl Grid {
    /// Every run, seed-major (all first seeds, then all second seeds...), so that an
    /// interrupted grid still has whole tables for the seeds it finished. `elsa-arelu` is left
    /// out: AReLU already is ELSA around ReLU.
    ///
    /// Call [`Grid::validate`] first: this allocates one spec per run.
    pub fn specs(&self) -> Vec<RunSpec> {
        let grid = self.deduplicated();
        let mut specs = Vec::new();
        for seed in 0..grid.seeds {
            for activation in grid.variants() {
                for &optimizer in &grid.optimizers {
                    for &lr in &grid.lrs {
                        specs.push(RunSpec {
                            activation,
                            optimizer,
                            lr,
                            seed,
                            epochs: self.epochs,
                            initial_alpha_beta: None,
                        });
                    }
                }
            }
        }
        specs
    }

    /// This grid with every list's repeated entries removed, first occurrences kept in
    /// order.
    pub fn deduplicated(&self) -> Grid {
        Grid {
            activations: distinct(&self.activations, |a, b| a == b),
            optimizers: distinct(&self.optimizers, |a, b| a == b),
            lrs: distinct(&self.lrs, |a, b| a == b),
            ..self.clone()
        }
    }

    /// The activation variants, in run order: per ELSA flag, the activations in the order
    /// given (`elsa-arelu` left out).
    fn variants(&self) -> Vec<ActivationName> {
        let elsa_flags: &[bool] = match self.elsa {
            ElsaMode::Off => &[false],
            ElsaMode::On => &[true],
            ElsaMode::Both => &[false, true],
        };
        let activations = distinct(&self.activations, |a, b| a == b);
        elsa_flags
            .iter()
            .flat_map(|&elsa| {
                activations
                    .iter()
                    .filter_map(move |&base| ActivationName::new(base, elsa).ok())
            })
            .collect()
    }

    /// The number of runs, computed with checked arithmetic.
    ///
    /// # Errors
    /// [`GridError::TooLarge`] above [`MAX_RUNS`].
    pub fn size(&self) -> Result<usize, GridError> {
        let grid = self.deduplicated();
        let seeds = usize::try_from(grid.seeds).map_err(|_| GridError::TooLarge)?;
        grid.variants()
            .len()
            .checked_mul(grid.optimizers.len())
            .and_then(|n| n.checked_mul(grid.lrs.len()))
            .and_then(|n| n.checked_mul(seeds))
            .filter(|&n| n <= MAX_RUNS)
            .ok_or(GridError::TooLarge)
    }

    /// Checks every setting against its range and returns the number of runs: epochs in
    /// `1..=`[`MAX_EPOCHS`], seeds in `1..=`[`MAX_SEEDS`], learning rates at most
    /// [`MAX_LR`] (they are positive by their type; [`learning_rate`] checks a number
    /// given on the command line against the whole range), non-empty lists, at least one
    /// and at most [`MAX_RUNS`] runs.
    ///
    /// # Errors
    /// The first setting out of range, as a [`GridError`].
    ///
    /// ```
    /// use arelu::experiment::grid::{learning_rate, ElsaMode, Grid, GridError};
    /// use arelu::experiment::Optimizer;
    /// use arelu::BaseActivation;
    ///
    /// let lr = |value| learning_rate(value).unwrap();
    /// let mut grid = Grid {
    ///     activations: vec![BaseActivation::Relu, BaseActivation::Relu],
    ///     elsa: ElsaMode::Both,
    ///     optimizers: vec![Optimizer::Sgd],
    ///     lrs: vec![lr(1e-2), lr(1e-2), lr(1e-3)],
    ///     seeds: 2,
    ///     epochs: 1,
    /// };
    /// assert_eq!(grid.validate(), Ok(2 * 1 * 2 * 2)); // repeats count once
    /// grid.epochs = usize::MAX;
    /// assert!(matches!(grid.validate(), Err(GridError::OutOfRange { option: "--epochs", .. })));
    /// assert!(matches!(learning_rate(0.0), Err(GridError::OutOfRange { option: "--lrs", .. })));
    /// ```
    pub fn validate(&self) -> Result<usize, GridError> {
        if self.activations.is_empty() {
            return Err(GridError::Empty("--activations"));
        }
        if self.optimizers.is_empty() {
            return Err(GridError::Empty("--optimizers"));
        }
        if self.lrs.is_empty() {
            return Err(GridError::Empty("--lrs"));
        }
        if !(1..=MAX_EPOCHS).contains(&self.epochs) {
            return Err(GridError::OutOfRange {
                option: "--epochs",
                range: format!("1..={MAX_EPOCHS}"),
                value: self.epochs.to_string(),
            });
        }
        if !(1..=MAX_SEEDS).contains(&self.seeds) {
            return Err(GridError::OutOfRange {
                option: "--seeds",
                range: format!("1..={MAX_SEEDS}"),
                value: self.seeds.to_string(),
            });
        }
        if let Some(lr) = self.lrs.iter().find(|lr| lr.get() > MAX_LR) {
            return Err(lr_out_of_range(lr.get()));
        }
        match self.size()? {
            0 => Err(GridError::NoRuns),
            n => Ok(n),
        }
    }

    /// Whether a stored record belongs to this grid.
    pub fn contains(&self, record: &RunRecord) -> bool {
        let elsa_ok = match self.elsa {
            ElsaMode::Off => !record.activation.is_elsa(),
            ElsaMode::On => record.activation.is_elsa(),
            ElsaMode::Both => true,
        };
        elsa_ok
            && self.activations.contains(&record.activation.base())
            && self.optimizers.contains(&record.optimizer)
            && self.lrs.contains(&record.lr)
            && record.seed < self.seeds
    }
}

/// A learning rate given as a number (on the command line), checked against the range a
/// grid accepts, `(0, `[`MAX_LR`]`]`.
///
/// # Errors
/// [`GridError::OutOfRange`] for `--lrs` outside that range (NaN included).
pub fn learning_rate(value: f64) -> Result<LearningRate, GridError> {
    match LearningRate::new(value) {
        Ok(lr) if value <= MAX_LR => Ok(lr),
        _ => Err(lr_out_of_range(value)),
    }
}

fn lr_out_of_range(value: f64) -> GridError {
    GridError::OutOfRange {
        option: "--lrs",
        range: format!("(0, {MAX_LR}]"),
        value: value.to_string(),
    }
}

impl RunSpec {
    /// This run's key in a results file.
    pub fn key(&self) -> RunKey {
        RunKey {
            activation: self.activation,
            optimizer: self.optimizer,
            lr: self.lr,
            seed: self.seed,
        }
    }
}

impl RunRecord {
    /// The record of a finished run (its last epoch).
    pub fn from_result(result: &RunResult) -> Self {
        let spec = result.spec;
        let last = result.epochs.last();
        Self {
            activation: spec.activation,
            optimizer: spec.optimizer,
            lr: spec.lr,
            seed: spec.seed,
            epoch: last.map_or(0, |e| e.epoch),
            test_accuracy: last.map_or(f64::NAN, |e| e.test_accuracy),
            train_seconds: result.epochs.iter().map(|e| e.train_seconds).sum(),
            accuracy_per_epoch: result.epochs.iter().map(|e| e.test_accuracy).collect(),
            activation_params: last
                .map(|e| e.activation_params.clone())
                .unwrap_or_default(),
            diverged_at: result.diverged_at(),
        }
    }
}

/// Runs `specs` on `jobs` worker threads and calls `on_result` on the calling thread with
/// each result as soon as it is done (in completion order). With more than one job, each run
/// computes on one thread (independent runs in parallel); with one job, a run uses every
/// core. Stops early, returning the error, if `on_result` fails.
pub fn run_grid<Err>(
    specs: &[RunSpec],
    train: &Images,
    test: &Images,
    jobs: usize,
    mut on_result: impl FnMut(RunResult) -> Result<(), Err>,
) -> Result<(), Err> {
    if jobs <= 1 {
        for &spec in specs {
            on_result(train_run(spec, train, test))?;
        }
        return Ok(());
    }
    let queue = Mutex::new(specs.iter().copied());
    let (sender, receiver) = mpsc::channel();
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let sender = sender.clone();
            let (queue, stop) = (&queue, &stop);
            scope.spawn(move || {
                let single = rayon::ThreadPoolBuilder::new().num_threads(1).build();
                loop {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    let next = queue.lock().ok().and_then(|mut q| q.next());
                    let Some(spec) = next else { break };
                    let result = match &single {
                        Ok(pool) => pool.install(|| train_run(spec, train, test)),
                        Err(_) => train_run(spec, train, test),
                    };
                    if sender.send(result).is_err() {
                        break;
                    }
                }
            });
        }
        drop(sender);
        for result in receiver {
            if let Err(e) = on_result(result) {
                stop.store(true, std::sync::atomic::Ordering::Relaxed);
                return Err(e);
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::train::EpochResult;

    fn lr(value: f64) -> LearningRate {
        LearningRate::new(value).unwrap()
    }

    fn grid() -> Grid {
        Grid {
            activations: vec![BaseActivation::Relu, BaseActivation::Arelu],
            elsa: ElsaMode::Both,
            optimizers: vec![Optimizer::Sgd],
            lrs: vec![lr(1e-2)],
            seeds: 1,
            epochs: 1,
        }
    }

    #[test]
    fn repeated_list_entries_make_one_run_each() {
        let mut repeated = grid();
        repeated.activations.push(BaseActivation::Relu);
        repeated.optimizers.push(Optimizer::Sgd);
        repeated.lrs.push(lr(0.01));
        assert_eq!(repeated.specs(), grid().specs());
        // relu, arelu, elsa-relu.
        assert_eq!(repeated.validate(), Ok(3));
        let keys: std::collections::HashSet<_> =
            repeated.specs().iter().map(RunSpec::key).collect();
        assert_eq!(keys.len(), repeated.specs().len());
    }

    #[test]
    fn settings_out_of_range_are_refused_before_anything_is_allocated() {
        let check = |change: fn(&mut Grid), option: &str| {
            let mut g = grid();
            change(&mut g);
            match g.validate() {
                Err(GridError::OutOfRange { option: o, .. }) => assert_eq!(o, option),
                other => panic!("{option}: {other:?}"),
            }
        };
        check(|g| g.epochs = usize::MAX, "--epochs");
        check(|g| g.epochs = 100_000_000_000, "--epochs");
        check(|g| g.epochs = 0, "--epochs");
        check(|g| g.seeds = u64::MAX, "--seeds");
        check(|g| g.lrs = vec![lr(1e300)], "--lrs");
        check(|g| g.lrs = vec![lr(1e-2), lr(100.5)], "--lrs");
        for bad in [1e300, 100.5, f64::NAN, f64::INFINITY, -1e-3, 0.0] {
            match learning_rate(bad) {
                Err(GridError::OutOfRange { option, range, .. }) => {
                    assert_eq!((option, range.as_str()), ("--lrs", "(0, 100]"), "{bad}");
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
        assert_eq!(learning_rate(MAX_LR), Ok(lr(MAX_LR)));
        assert_eq!(
            learning_rate(f64::NAN).unwrap_err().to_string(),
            "--lrs must be in (0, 100], got NaN"
        );
        let mut g = grid();
        g.lrs = (1..=1000).map(|i| lr(i as f64 * 1e-3)).collect();
        g.seeds = MAX_SEEDS;
        assert_eq!(g.validate(), Err(GridError::TooLarge));
        g.optimizers.clear();
        assert_eq!(g.validate(), Err(GridError::Empty("--optimizers")));
        let mut g = grid();
        g.activations = vec![BaseActivation::Arelu];
        g.elsa = ElsaMode::On;
        assert_eq!(g.validate(), Err(GridError::NoRuns));
        assert!(GridError::NoRuns.to_string().contains("--elsa off or both"));
    }

    #[test]
    fn a_run_with_a_non_finite_loss_or_parameter_is_recorded_as_diverged() {
        let spec = grid().specs()[0];
        let epoch = |epoch, loss: f64, param: f64| EpochResult {
            epoch,
            test_accuracy: 8.5,
            train_loss: loss,
            train_seconds: 0.0,
            activation_params: vec![vec![0.9, param]; 3],
        };
        let fine = RunResult {
            spec,
            epochs: vec![epoch(1, 2.3, 2.0), epoch(2, 0.5, 2.0)],
        };
        assert_eq!(RunRecord::from_result(&fine).diverged_at, None);
        for (loss, param) in [(f64::NAN, 2.0), (f64::INFINITY, 2.0), (0.5, f64::NAN)] {
            let diverged = RunResult {
                spec,
                epochs: vec![
                    epoch(1, 2.3, 2.0),
                    epoch(2, loss, param),
                    epoch(3, 0.1, 2.0),
                ],
            };
            assert_eq!(RunRecord::from_result(&diverged).diverged_at, Some(2));
        }
    }
}
