//! One finished run as stored in `results.jsonl`: one JSON object per line.

use serde::{Deserialize, Deserializer, Serialize};

use super::train::Optimizer;

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
}

/// Reads `null` (how serde_json writes a non-finite float) as NaN.
fn nan_from_null<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<f64>>, D::Error> {
    let raw: Vec<Vec<Option<f64>>> = Deserialize::deserialize(d)?;
    Ok(raw
        .into_iter()
        .map(|layer| layer.into_iter().map(|v| v.unwrap_or(f64::NAN)).collect())
        .collect())
}
