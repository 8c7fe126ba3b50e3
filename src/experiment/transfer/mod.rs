//! Table 2 of the paper: transfer learning of `MnistConv` with each activation, from MNIST to
//! a target domain (SVHN where a user has it; the stand-in `mnist-colour` otherwise, see
//! [`data`]).
//!
//! For each activation variant and seed ([`TransferSpec`]), [`run_transfer`] pretrains
//! [`TransferNet`] (MNIST-Conv with a three-channel first convolution) on MNIST replicated
//! to three channels, tests it on the target as it is ("no finetune"), fine-tunes it on the
//! target's training images and tests it after every epoch (one trajectory gives the 5-, 10-
//! and 20-epoch columns), and trains the same initial weights on the target alone ("no
//! pretrain"). [`run_specs`] runs many on worker threads; [`table`] makes Table 2.

pub mod data;
pub mod record;
pub mod table;
pub mod train;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Mutex};

pub use data::{ColourImages, ColourImagesError, SplitTag};
pub use record::{TransferRecord, TransferSettings, TRANSFER_FORMAT};
pub use train::{
    run_transfer, run_typed, BuiltTransferNet, Protocol, TransferData, TransferError, TransferNet,
    TransferSpec,
};

use crate::experiment::grid::ElsaMode;
use crate::experiment::store::{Store, StoreError, StoreRecord};
use crate::name::{ActivationName, BaseActivation};

/// The identity of a transfer run in a results file: `(activation, seed)`.
pub type TransferKey = (ActivationName, u64);

impl TransferSpec {
    /// This run's key.
    pub fn key(&self) -> TransferKey {
        (self.activation, self.seed)
    }
}

impl StoreRecord for TransferRecord {
    type Key = TransferKey;
    fn key(&self) -> TransferKey {
        (self.activation, self.seed)
    }
}

/// The results file of a transfer table.
pub type TransferStore = Store<TransferSettings, TransferRecord>;

/// Every run of `activations` × ELSA mode × seeds `0..seeds`, seed-major (so that an
/// interrupted grid has whole tables for the seeds it finished); `elsa-arelu` is left out
/// (AReLU already is ELSA around ReLU).
///
/// ```
/// use arelu::experiment::grid::ElsaMode;
/// use arelu::experiment::transfer::transfer_specs;
/// use arelu::BaseActivation;
/// let specs = transfer_specs(&[BaseActivation::Relu, BaseActivation::Arelu], ElsaMode::Both, 2);
/// assert_eq!(specs.len(), 6); // relu, arelu, elsa-relu; two seeds
/// assert_eq!(specs[3].seed, 1);
/// ```
pub fn transfer_specs(
    activations: &[BaseActivation],
    elsa: ElsaMode,
    seeds: u64,
) -> Vec<TransferSpec> {
    let flags: &[bool] = match elsa {
        ElsaMode::Off => &[false],
        ElsaMode::On => &[true],
        ElsaMode::Both => &[false, true],
    };
    let mut specs = Vec::new();
    for seed in 0..seeds {
        for &elsa in flags {
            for &base in activations {
                if let Ok(activation) = ActivationName::new(base, elsa) {
                    specs.push(TransferSpec { activation, seed });
                }
            }
        }
    }
    specs
}

/// The specs not yet in `done`.
pub fn missing(specs: &[TransferSpec], done: &HashSet<TransferKey>) -> Vec<TransferSpec> {
    specs
        .iter()
        .filter(|s| !done.contains(&s.key()))
        .copied()
        .collect()
}

/// Why [`run_specs`] stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunSpecsError<E: std::error::Error + 'static> {
    /// A run failed.
    #[error(transparent)]
    Run(#[from] TransferError),
    /// Handling a result failed.
    #[error(transparent)]
    OnResult(E),
}

/// Runs `specs` on `jobs` worker threads (each computing on one thread; with one job the run
/// uses every core) and calls `on_result` on the calling thread with each record as soon as
/// it is done, in completion order. Stops at the first error (of a run or of `on_result`).
///
/// # Errors
/// See [`RunSpecsError`].
pub fn run_specs<E: std::error::Error + 'static>(
    specs: &[TransferSpec],
    protocol: &Protocol,
    data: TransferData<'_>,
    models_dir: Option<&Path>,
    jobs: usize,
    mut on_result: impl FnMut(TransferRecord) -> Result<(), E>,
) -> Result<(), RunSpecsError<E>> {
    if jobs <= 1 {
        for &spec in specs {
            let record = run_transfer(spec, protocol, data, models_dir)?;
            on_result(record).map_err(RunSpecsError::OnResult)?;
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
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let next = queue.lock().ok().and_then(|mut q| q.next());
                    let Some(spec) = next else { break };
                    let run = || run_transfer(spec, protocol, data, models_dir);
                    let result = match &single {
                        Ok(pool) => pool.install(run),
                        Err(_) => run(),
                    };
                    if sender.send(result).is_err() {
                        break;
                    }
                }
            });
        }
        drop(sender);
        for result in receiver {
            let outcome = result
                .map_err(RunSpecsError::Run)
                .and_then(|record| on_result(record).map_err(RunSpecsError::OnResult));
            if let Err(e) = outcome {
                stop.store(true, std::sync::atomic::Ordering::Relaxed);
                return Err(e);
            }
        }
        Ok(())
    })
}

/// Why [`generate`] failed.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// The results file.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A run.
    #[error(transparent)]
    Run(#[from] TransferError),
    /// Writing an output file.
    #[error("{}: {source}", .path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// What [`generate`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct Generated {
    /// Runs in the grid.
    pub total: usize,
    /// Runs found already done.
    pub skipped: usize,
    /// Runs made by this call.
    pub ran: usize,
    /// The records of the grid done so far (the table's runs).
    pub records: Vec<TransferRecord>,
    /// The output files written.
    pub files: Vec<PathBuf>,
}

/// The whole table: opens (or resumes) `out/results.jsonl` with `settings`, makes the runs of
/// `specs` not yet there (at most `max_runs` of them when given) on `jobs` threads, each
/// appended as it finishes and handed to `progress`, keeping pretrained models in
/// `out/models/`; then writes `table2.md`, `results.csv` and `summary.json` from every run
/// of `specs` done so far, with fine-tuning columns `finetune` and `target` in the legend.
///
/// # Errors
/// See [`GenerateError`]; a results file with other settings is refused and left as is.
#[allow(clippy::too_many_arguments)]
pub fn generate(
    specs: &[TransferSpec],
    protocol: &Protocol,
    data: TransferData<'_>,
    settings: &TransferSettings,
    out: &Path,
    (jobs, max_runs): (usize, Option<usize>),
    (finetune, target): (&[usize], &str),
    mut progress: impl FnMut(&TransferRecord),
) -> Result<Generated, GenerateError> {
    let mut store = TransferStore::open(out, settings)?;
    let done: HashSet<TransferKey> = store.records().iter().map(StoreRecord::key).collect();
    let mut todo = missing(specs, &done);
    let skipped = specs.len() - todo.len();
    if let Some(max) = max_runs {
        todo.truncate(max);
    }
    let models = out.join("models");
    run_specs(&todo, protocol, data, Some(&models), jobs, |record| {
        progress(&record);
        store.append(&record)
    })
    .map_err(|e| match e {
        RunSpecsError::Run(e) => GenerateError::Run(e),
        RunSpecsError::OnResult(e) => GenerateError::Store(e),
    })?;
    let keys: HashSet<TransferKey> = specs.iter().map(TransferSpec::key).collect();
    let records: Vec<TransferRecord> = store
        .records()
        .iter()
        .filter(|r| keys.contains(&r.key()))
        .cloned()
        .collect();
    let summary = table::Summary::from_records(&records, finetune);
    let mut files = Vec::new();
    for (name, text) in [
        ("table2.md", table::table2_markdown(&summary, target)),
        ("results.csv", table::results_csv(&records)),
        (
            "summary.json",
            table::summary_json(&summary, target).to_string(),
        ),
    ] {
        let path = out.join(name);
        std::fs::write(&path, text).map_err(|source| GenerateError::Write {
            path: path.clone(),
            source,
        })?;
        files.push(path);
    }
    Ok(Generated {
        total: specs.len(),
        skipped,
        ran: todo.len(),
        records,
        files,
    })
}
