//! The MNIST grid's results file: its settings header and one finished run per line
//! ([`RunRecord`]), kept in a [`Store`](super::store::Store).

use serde::{Deserialize, Deserializer, Serialize};

use super::lr::LearningRate;
use super::store::StoreRecord;
use super::train::Optimizer;
use crate::error::ActivationError;
use crate::mnist::MnistSplit;
use crate::name::ActivationName;

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RunKey {
    /// The activation variant.
    pub activation: ActivationName,
    /// Optimiser.
    pub optimizer: Optimizer,
    /// Learning rate (compared exactly).
    pub lr: LearningRate,
    /// Seed.
    pub seed: u64,
}

impl RunKey {
    /// The key of a record.
    pub fn of(record: &RunRecord) -> Self {
        Self {
            activation: record.activation,
            optimizer: record.optimizer,
            lr: record.lr,
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
///
/// In the file the activation is two fields, the base name and the ELSA flag
/// (`"activation":"swish","elsa":true`); a line with an unknown name, `elsa-arelu` or a
/// learning rate that is not positive and finite is refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "RawRunRecord", try_from = "RawRunRecord")]
pub struct RunRecord {
    /// The activation variant.
    pub activation: ActivationName,
    /// The optimiser.
    pub optimizer: Optimizer,
    /// The learning rate.
    pub lr: LearningRate,
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
    pub activation_params: Vec<Vec<f64>>,
    /// The first epoch after which the training loss or an activation parameter was not
    /// finite: the run diverged and its accuracy means nothing. Absent in the files of runs
    /// that did not diverge (and in files written before divergence was recorded).
    pub diverged_at: Option<usize>,
}

/// A [`RunRecord`] as its line of the file has it (the field order is the file's).
#[derive(Serialize, Deserialize)]
struct RawRunRecord {
    activation: String,
    elsa: bool,
    optimizer: Optimizer,
    lr: LearningRate,
    seed: u64,
    epoch: usize,
    test_accuracy: f64,
    train_seconds: f64,
    accuracy_per_epoch: Vec<f64>,
    #[serde(deserialize_with = "nan_from_null")]
    activation_params: Vec<Vec<f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    diverged_at: Option<usize>,
}

impl From<RunRecord> for RawRunRecord {
    fn from(r: RunRecord) -> Self {
        let (activation, elsa) = name_to_fields(r.activation);
        Self {
            activation,
            elsa,
            optimizer: r.optimizer,
            lr: r.lr,
            seed: r.seed,
            epoch: r.epoch,
            test_accuracy: r.test_accuracy,
            train_seconds: r.train_seconds,
            accuracy_per_epoch: r.accuracy_per_epoch,
            activation_params: r.activation_params,
            diverged_at: r.diverged_at,
        }
    }
}

impl TryFrom<RawRunRecord> for RunRecord {
    type Error = ActivationError;
    fn try_from(r: RawRunRecord) -> Result<Self, ActivationError> {
        Ok(Self {
            activation: name_from_fields(&r.activation, r.elsa)?,
            optimizer: r.optimizer,
            lr: r.lr,
            seed: r.seed,
            epoch: r.epoch,
            test_accuracy: r.test_accuracy,
            train_seconds: r.train_seconds,
            accuracy_per_epoch: r.accuracy_per_epoch,
            activation_params: r.activation_params,
            diverged_at: r.diverged_at,
        })
    }
}

/// An activation as the results files write it: the base name (`"swish"`) and, in a field
/// of its own, whether it is wrapped in ELSA.
pub(crate) fn name_to_fields(name: ActivationName) -> (String, bool) {
    (name.base().as_str().to_string(), name.is_elsa())
}

/// The activation of a results file's two fields (see [`name_to_fields`]).
///
/// # Errors
/// An unknown base name, or `elsa-arelu`.
pub(crate) fn name_from_fields(base: &str, elsa: bool) -> Result<ActivationName, ActivationError> {
    ActivationName::new(base.parse()?, elsa)
}

/// Reads `null` (how serde_json writes a non-finite float) as NaN.
fn nan_from_null<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<f64>>, D::Error> {
    let raw: Vec<Vec<Option<f64>>> = Deserialize::deserialize(d)?;
    Ok(raw
        .into_iter()
        .map(|layer| layer.into_iter().map(|v| v.unwrap_or(f64::NAN)).collect())
        .collect())
}

/// The record lines (after the settings line) of a results file committed under
/// `results/`, for the tests that read them back; `None`, said on stderr, where the file is
/// absent (the packaged crate leaves `results/` out).
#[cfg(test)]
pub(crate) fn committed_lines(path: &str) -> Option<Vec<String>> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = root.join(path);
    if !path.exists() && !root.join(".git").exists() {
        eprintln!(
            "skipped: {} is not here (not a repository checkout)",
            path.display()
        );
        return None;
    }
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Some(text.lines().skip(1).map(str::to_string).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_committed_record_reads_and_writes_back_byte_for_byte() {
        let Some(lines) = committed_lines("results/full/results.jsonl") else {
            return;
        };
        assert!(lines.len() > 1000, "{}", lines.len());
        for line in &lines {
            let record: RunRecord = serde_json::from_str(line).unwrap();
            assert_eq!(&serde_json::to_string(&record).unwrap(), line);
        }
    }

    fn record() -> RunRecord {
        RunRecord {
            activation: "elsa-swish".parse().unwrap(),
            optimizer: Optimizer::Adam,
            lr: LearningRate::new(1e-5).unwrap(),
            seed: 3,
            epoch: 2,
            test_accuracy: 97.25,
            train_seconds: 1.5,
            accuracy_per_epoch: vec![90.0, 97.25],
            activation_params: vec![vec![0.5, f64::NAN], vec![]],
            diverged_at: Some(2),
        }
    }

    #[test]
    fn a_record_round_trips_with_its_fields_in_the_file_order() {
        let line = serde_json::to_string(&record()).unwrap();
        assert_eq!(
            line,
            "{\"activation\":\"swish\",\"elsa\":true,\"optimizer\":\"adam\",\"lr\":0.00001,\
             \"seed\":3,\"epoch\":2,\"test_accuracy\":97.25,\"train_seconds\":1.5,\
             \"accuracy_per_epoch\":[90.0,97.25],\"activation_params\":[[0.5,null],[]],\
             \"diverged_at\":2}"
        );
        let back: RunRecord = serde_json::from_str(&line).unwrap();
        assert_eq!(back.activation, record().activation);
        assert_eq!(back.lr, record().lr);
        assert!(back.activation_params[0][1].is_nan());
        assert_eq!(serde_json::to_string(&back).unwrap(), line);
        assert_eq!(RunKey::of(&back), RunKey::of(&record()));
    }

    #[test]
    fn unknown_names_elsa_arelu_and_bad_rates_are_refused() {
        let line = serde_json::to_string(&record()).unwrap();
        for (from, to) in [
            ("\"swish\"", "\"softmax\""),
            ("\"swish\"", "\"elsa-swish\""),
            ("\"swish\"", "\"arelu\""),
            ("0.00001", "0"),
            ("0.00001", "-0.01"),
        ] {
            let bad = line.replacen(from, to, 1);
            assert!(serde_json::from_str::<RunRecord>(&bad).is_err(), "{bad}");
        }
    }
}
