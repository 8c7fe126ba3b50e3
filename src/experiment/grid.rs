//! A grid of training runs (activations x ELSA x optimisers x learning rates x seeds), run
//! on several worker threads, each finished run handed back at once.

use std::sync::mpsc;
use std::sync::Mutex;

use super::batches::Images;
use super::record::RunKey;
use super::record::RunRecord;
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

/// The runs to make.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    /// Base activations, in table order.
    pub activations: Vec<BaseActivation>,
    /// With, without, or both.
    pub elsa: ElsaMode,
    /// Optimisers.
    pub optimizers: Vec<Optimizer>,
    /// Learning rates.
    pub lrs: Vec<f64>,
    /// Seeds `0..seeds`.
    pub seeds: u64,
    /// Epochs per run.
    pub epochs: usize,
}

impl Grid {
    /// Every run, seed-major (all first seeds, then all second seeds...), so that an
    /// interrupted grid still has whole tables for the seeds it finished. `elsa-arelu` is left
    /// out: AReLU already is ELSA around ReLU.
    pub fn specs(&self) -> Vec<RunSpec> {
        let mut specs = Vec::new();
        let elsa_flags: &[bool] = match self.elsa {
            ElsaMode::Off => &[false],
            ElsaMode::On => &[true],
            ElsaMode::Both => &[false, true],
        };
        for seed in 0..self.seeds {
            for &elsa in elsa_flags {
                for &base in &self.activations {
                    let Ok(activation) = ActivationName::new(base, elsa) else {
                        continue;
                    };
                    for &optimizer in &self.optimizers {
                        for &lr in &self.lrs {
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
        }
        specs
    }

    /// Whether a stored record belongs to this grid.
    pub fn contains(&self, record: &RunRecord) -> bool {
        let Ok(base) = record.activation.parse::<BaseActivation>() else {
            return false;
        };
        let elsa_ok = match self.elsa {
            ElsaMode::Off => !record.elsa,
            ElsaMode::On => record.elsa,
            ElsaMode::Both => true,
        };
        elsa_ok
            && self.activations.contains(&base)
            && self.optimizers.contains(&record.optimizer)
            && self
                .lrs
                .iter()
                .any(|lr| lr.to_bits() == record.lr.to_bits())
            && record.seed < self.seeds
    }
}

impl RunSpec {
    /// This run's key in a results file.
    pub fn key(&self) -> RunKey {
        RunKey {
            activation: self.activation.base().as_str().to_string(),
            elsa: self.activation.is_elsa(),
            optimizer: self.optimizer,
            lr_bits: self.lr.to_bits(),
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
            activation: spec.activation.base().as_str().to_string(),
            elsa: spec.activation.is_elsa(),
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
