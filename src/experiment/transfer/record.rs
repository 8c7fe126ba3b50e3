//! One finished transfer run as stored (one JSON object per line), and the settings that make
//! runs comparable.

use serde::{Deserialize, Deserializer, Serialize};

use crate::error::ActivationError;
use crate::experiment::record::{name_from_fields, name_to_fields};
use crate::name::ActivationName;

/// One finished transfer run: every column of Table 2 for one activation variant and seed.
/// In the file the activation is two fields, the base name and the ELSA flag
/// (`"activation":"swish","elsa":true`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "RawTransferRecord", try_from = "RawTransferRecord")]
pub struct TransferRecord {
    /// The activation variant.
    pub activation: ActivationName,
    /// The seed.
    pub seed: u64,
    /// The pretrained model's accuracy on the source test set (MNIST), in percent.
    pub source_accuracy: f64,
    /// "No pretrain": target test accuracy of the model trained on the target alone.
    pub scratch_accuracy: f64,
    /// "No finetune": target test accuracy of the pretrained model.
    pub no_finetune_accuracy: f64,
    /// Target test accuracy after each fine-tuning epoch (`[epoch 1, epoch 2, ...]`).
    pub finetune_accuracy_per_epoch: Vec<f64>,
    /// Pretraining seconds; `None` when the pretrained model was reloaded from its file.
    pub pretrain_seconds: Option<f64>,
    /// Fine-tuning seconds (evaluations excluded).
    pub finetune_seconds: f64,
    /// Seconds of training on the target alone.
    pub scratch_seconds: f64,
    /// Each activation layer's parameters after pretraining (three layers). Non-finite
    /// values are written as `null` (JSON has no NaN) and read back as NaN (as every
    /// accuracy above).
    pub pretrained_params: Vec<Vec<f64>>,
    /// The same after fine-tuning.
    pub finetuned_params: Vec<Vec<f64>>,
}

/// A [`TransferRecord`] as its line of the file has it (the field order is the file's).
#[derive(Serialize, Deserialize)]
struct RawTransferRecord {
    activation: String,
    elsa: bool,
    seed: u64,
    #[serde(deserialize_with = "nan_from_null")]
    source_accuracy: f64,
    #[serde(deserialize_with = "nan_from_null")]
    scratch_accuracy: f64,
    #[serde(deserialize_with = "nan_from_null")]
    no_finetune_accuracy: f64,
    #[serde(deserialize_with = "nans_from_nulls")]
    finetune_accuracy_per_epoch: Vec<f64>,
    pretrain_seconds: Option<f64>,
    finetune_seconds: f64,
    scratch_seconds: f64,
    #[serde(deserialize_with = "nan_rows_from_nulls")]
    pretrained_params: Vec<Vec<f64>>,
    #[serde(deserialize_with = "nan_rows_from_nulls")]
    finetuned_params: Vec<Vec<f64>>,
}

impl From<TransferRecord> for RawTransferRecord {
    fn from(r: TransferRecord) -> Self {
        let (activation, elsa) = name_to_fields(r.activation);
        Self {
            activation,
            elsa,
            seed: r.seed,
            source_accuracy: r.source_accuracy,
            scratch_accuracy: r.scratch_accuracy,
            no_finetune_accuracy: r.no_finetune_accuracy,
            finetune_accuracy_per_epoch: r.finetune_accuracy_per_epoch,
            pretrain_seconds: r.pretrain_seconds,
            finetune_seconds: r.finetune_seconds,
            scratch_seconds: r.scratch_seconds,
            pretrained_params: r.pretrained_params,
            finetuned_params: r.finetuned_params,
        }
    }
}

impl TryFrom<RawTransferRecord> for TransferRecord {
    type Error = ActivationError;
    fn try_from(r: RawTransferRecord) -> Result<Self, ActivationError> {
        Ok(Self {
            activation: name_from_fields(&r.activation, r.elsa)?,
            seed: r.seed,
            source_accuracy: r.source_accuracy,
            scratch_accuracy: r.scratch_accuracy,
            no_finetune_accuracy: r.no_finetune_accuracy,
            finetune_accuracy_per_epoch: r.finetune_accuracy_per_epoch,
            pretrain_seconds: r.pretrain_seconds,
            finetune_seconds: r.finetune_seconds,
            scratch_seconds: r.scratch_seconds,
            pretrained_params: r.pretrained_params,
            finetuned_params: r.finetuned_params,
        })
    }
}

impl TransferRecord {
    /// The variant's name as the tables write it (`"elsa-swish"`).
    pub fn variant(&self) -> String {
        self.activation.to_string()
    }

    /// Target test accuracy after `epochs` fine-tuning epochs, when they were run.
    pub fn finetuned_after(&self, epochs: usize) -> Option<f64> {
        epochs
            .checked_sub(1)
            .and_then(|i| self.finetune_accuracy_per_epoch.get(i))
            .copied()
    }
}

/// The settings that make transfer runs comparable (the first line of `results.jsonl`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransferSettings {
    /// The file format's version.
    pub format: u32,
    /// The target domain (`"mnist-colour seed 0"` or `"svhn DIR"`).
    pub target: String,
    /// Where MNIST came from (`"shipped subset"` or the directory given).
    pub source: String,
    /// Pretraining images (MNIST training images `0..n`).
    pub pretrain_images: usize,
    /// Source test images.
    pub source_test_images: usize,
    /// Target training images.
    pub target_train_images: usize,
    /// Target test images.
    pub target_test_images: usize,
    /// Pretraining epochs.
    pub pretrain_epochs: usize,
    /// Pretraining learning rate.
    pub pretrain_lr: f64,
    /// Fine-tuning epochs (the longest column).
    pub finetune_epochs: usize,
    /// Fine-tuning learning rate.
    pub finetune_lr: f64,
    /// Epochs of training on the target alone.
    pub scratch_epochs: usize,
    /// Its learning rate.
    pub scratch_lr: f64,
    /// The batch size.
    pub batch_size: usize,
}

/// The current format version of [`TransferSettings`] and [`TransferRecord`].
pub const TRANSFER_FORMAT: u32 = 1;

fn nan_from_null<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

fn nans_from_nulls<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
    let raw: Vec<Option<f64>> = Deserialize::deserialize(d)?;
    Ok(raw.into_iter().map(|v| v.unwrap_or(f64::NAN)).collect())
}

fn nan_rows_from_nulls<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<f64>>, D::Error> {
    let raw: Vec<Vec<Option<f64>>> = Deserialize::deserialize(d)?;
    Ok(raw
        .into_iter()
        .map(|row| row.into_iter().map(|v| v.unwrap_or(f64::NAN)).collect())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_values_round_trip_through_json() {
        let record = TransferRecord {
            activation: "elsa-relu".parse().unwrap(),
            seed: 2,
            source_accuracy: 97.5,
            scratch_accuracy: f64::NAN,
            no_finetune_accuracy: 40.0,
            finetune_accuracy_per_epoch: vec![41.0, f64::NAN],
            pretrain_seconds: None,
            finetune_seconds: 1.0,
            scratch_seconds: 2.0,
            pretrained_params: vec![vec![0.9, f64::NAN]],
            finetuned_params: vec![vec![1.0, 2.0]],
        };
        let line = serde_json::to_string(&record).unwrap();
        let back: TransferRecord = serde_json::from_str(&line).unwrap();
        assert!(back.scratch_accuracy.is_nan());
        assert!(back.finetune_accuracy_per_epoch[1].is_nan());
        assert!(back.pretrained_params[0][1].is_nan());
        assert_eq!(back.finetuned_after(1), Some(41.0));
        assert_eq!(back.finetuned_after(3), None);
        assert_eq!(back.finetuned_after(0), None);
        assert_eq!(back.variant(), "elsa-relu");
        assert!(line.starts_with("{\"activation\":\"relu\",\"elsa\":true,\"seed\":2,"));
        assert!(serde_json::from_str::<TransferRecord>(&line.replacen(
            "\"relu\"",
            "\"elsa-relu\"",
            1
        ))
        .is_err());
    }

    #[test]
    fn every_committed_record_reads_and_writes_back_byte_for_byte() {
        let path = "results/table2-mnist-colour/results.jsonl";
        let Some(lines) = crate::experiment::record::committed_lines(path) else {
            return;
        };
        assert!(lines.len() >= 19, "{}", lines.len());
        for line in &lines {
            let record: TransferRecord = serde_json::from_str(line).unwrap();
            assert_eq!(&serde_json::to_string(&record).unwrap(), line);
        }
    }
}
