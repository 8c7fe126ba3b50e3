//! The MNIST grid's results file: its settings header and one finished run per line
//! ([`RunRecord`]), kept in a [`Store`](super::store::Store).

use serde::{Deserialize, Deserializer, Serialize};

use super::store::StoreRecord;
use super::train::Optimizer;
use crate::mnist::MnistSplit;

/// The settings that make results comparable: runs made under other settings cannot share a
/// table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// The file format's version.
    pub format: u32,
    /// The images used, by content: not the path they were read from, so that the same data
    /// from another working directory, path or compression resumes the same file.
    pub data: DataChecksums,
    /// Training images used.
    pub train_images: usize,
    /// Test images.
    pub test_images: usize,
    /// Epochs per run.
    pub epochs: usize,
    /// The batch size.
    pub batch_size: usize,
}

/// The current format version (2: the data named by checksums instead of its path).
pub const FORMAT: u32 = 2;

/// The images of a grid, by content: the [`MnistSplit::checksum`] of the training images
/// used (after any limit) and of the test images, in hexadecimal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataChecksums {
    /// CRC-32 of the training images used.
    pub train_crc32: String,
    /// CRC-32 of the test images.
    pub test_crc32: String,
}

impl DataChecksums {
    /// The checksums of a training and a test split.
    pub fn of(train: &MnistSplit, test: &MnistSplit) -> Self {
        Self {
            train_crc32: format!("{:08x}", train.checksum()),
            test_crc32: format!("{:08x}", test.checksum()),
        }
    }
}

/// The MNIST grid's results file.
pub type RunStore = super::store::Store<Settings, RunRecord>;

/// The identity of a run within a grid.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RunKey {
    /// Base activation name.
    pub activation: String,
    /// ELSA-wrapped.
    pub elsa: bool,
    /// Optimiser.
    pub optimizer: Optimizer,
    /// Learning rate, as bits (exact).
    pub lr_bits: u64,
    /// Seed.
    pub seed: u64,
}

impl RunKey {
    /// The key of a record.
    pub fn of(record: &RunRecord) -> Self {
        Self {
            activation: record.activation.clone(),
            elsa: record.elsa,
            optimizer: record.optimizer,
            lr_bits: record.lr.to_bits(),
            seed: record.seed,
        }
    }
}

impl StoreRecord for RunRecord {
    type Key = RunKey;
    fn key(&self) -> RunKey {
        RunKey::of(self)
    }
}

/// One finished training run (one line of `results.jsonl`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The base activation's name (`"swish"`), without the `elsa-` prefix.
    pub activation: String,
    /// Whether the activation was wrapped in ELSA.
    pub elsa: bool,
    /// The optimiser.
    pub optimizer: Optimizer,
    /// The learning rate.
    pub lr: f64,
    /// The seed.
    pub seed: u64,
    /// The epoch this record reports (the last one trained).
    pub epoch: usize,
    /// Test accuracy after `epoch`, in percent.
    pub test_accuracy: f64,
    /// Training seconds summed over all epochs of the run.
    pub train_seconds: f64,
    /// Test accuracy after each epoch, in percent (`[epoch 1, epoch 2, ...]`).
    pub accuracy_per_epoch: Vec<f64>,
    /// Each activation layer's parameter values after the last epoch. A run that diverged
    /// has NaN here; JSON has no NaN, so it is written as `null` and read back as NaN.
    #[serde(deserialize_with = "nan_from_null")]
    pub activation_params: Vec<Vec<f64>>,
    /// The first epoch after which the training loss or an activation parameter was not
    /// finite: the run diverged and its accuracy means nothing. Absent in the files of runs
    /// that did not diverge (and in files written before divergence was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diverged_at: Option<usize>,
}

/// Reads `null` (how serde_json writes a non-finite float) as NaN.
fn nan_from_null<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<f64>>, D::Error> {
    let raw: Vec<Vec<Option<f64>>> = Deserialize::deserialize(d)?;
    Ok(raw
        .into_iter()
        .map(|layer| layer.into_iter().map(|v| v.unwrap_or(f64::NAN)).collect())
        .collect())
}
