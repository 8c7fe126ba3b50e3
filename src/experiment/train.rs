//! One training run: `MnistConv<A>` trained with SGD (momentum 0.9) or Adam from a seed,
//! evaluated on the test set after every epoch.

use std::time::Instant;

use dfdx::losses::cross_entropy_with_logits_loss;
use dfdx::nn::{DeviceBuildExt, Module, ModuleMut, ZeroGrads};
use dfdx::optim::{Adam, AdamConfig, Momentum, Optimizer as _, Sgd, SgdConfig};
use dfdx::prelude::{AsArray, Cpu, Trace};
use dfdx::tensor::Tensor;
use dfdx::tensor_ops::Backward;
use serde::{Deserialize, Serialize};

use super::batches::{Images, Shuffler};
use super::lr::LearningRate;
use crate::activation::Activation;
use crate::name::{ActivationName, ActivationVisitor};
use crate::nn::MnistConv;

/// The batch size of the paper's protocol.
pub const BATCH_SIZE: usize = 128;

/// The optimiser of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Optimizer {
    /// SGD with momentum 0.9, no Nesterov, no weight decay.
    Sgd,
    /// Adam with PyTorch's defaults (0.9, 0.999, 1e-8).
    Adam,
}

impl Optimizer {
    /// `"sgd"` or `"adam"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Optimizer::Sgd => "sgd",
            Optimizer::Adam => "adam",
        }
    }
}

impl std::str::FromStr for Optimizer {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "sgd" => Ok(Optimizer::Sgd),
            "adam" => Ok(Optimizer::Adam),
            other => Err(format!("unknown optimizer `{other}` (valid: sgd, adam)")),
        }
    }
}

/// What to train.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunSpec {
    /// The activation variant.
    pub activation: ActivationName,
    /// The optimiser.
    pub optimizer: Optimizer,
    /// The learning rate.
    pub lr: LearningRate,
    /// Seeds the initialisation and the shuffling.
    pub seed: u64,
    /// Epochs to train.
    pub epochs: usize,
    /// Initial `(α, β)` of every activation layer's ELSA term (AReLU or `Elsa<A>`), instead
    /// of the paper's `(0.9, 2.0)`; for the initialisation study of Figure 2.
    pub initial_alpha_beta: Option<(f64, f64)>,
}

/// One epoch's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochResult {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Accuracy on the test set after this epoch, in percent.
    pub test_accuracy: f64,
    /// Mean training loss over the epoch's batches (NaN or infinite when the run diverged;
    /// JSON has neither, so such a value is written as `null` and read back as NaN).
    #[serde(deserialize_with = "super::json_nan::scalar")]
    pub train_loss: f64,
    /// Seconds spent training in this epoch (evaluation excluded).
    pub train_seconds: f64,
    /// Each activation layer's parameter values after this epoch (three layers); non-finite
    /// values as for `train_loss`.
    #[serde(deserialize_with = "super::json_nan::nested")]
    pub activation_params: Vec<Vec<f64>>,
}

/// A finished run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunResult {
    /// What was trained.
    pub spec: RunSpec,
    /// One entry per epoch.
    pub epochs: Vec<EpochResult>,
}

impl RunResult {
    /// The first epoch after which the mean training loss or an activation parameter is not
    /// finite: from there on the run diverged (a network with non-finite weights predicts
    /// one class, so its accuracy is the share of that class, not a result).
    pub fn diverged_at(&self) -> Option<usize> {
        let non_finite = |e: &&EpochResult| {
            !e.train_loss.is_finite()
                || e.activation_params.iter().flatten().any(|p| !p.is_finite())
        };
        self.epochs.iter().find(non_finite).map(|e| e.epoch)
    }
}

/// Trains `MnistConv<A>` for `spec` (its activation chosen at run time) on `train`, testing
/// on `test` after each epoch. The same spec and data give bit-identical results on the same
/// machine with the same thread count.
pub fn train_run(spec: RunSpec, train: &Images, test: &Images) -> RunResult {
    struct Visit<'a>(RunSpec, &'a Images, &'a Images);
    impl ActivationVisitor for Visit<'_> {
        type Output = RunResult;
        fn visit<A: Activation>(self) -> RunResult {
            train_typed::<A>(self.0, self.1, self.2)
        }
    }
    spec.activation.visit(Visit(spec, train, test))
}

/// [`train_run`] with the activation type known at compile time.
pub fn train_typed<A: Activation>(spec: RunSpec, train: &Images, test: &Images) -> RunResult {
    let dev = Cpu::seed_from_u64(spec.seed);
    let mut model = dev.build_module::<MnistConv<A>, f32>();
    if let Some((alpha, beta)) = spec.initial_alpha_beta {
        // α and β are the last two parameters of AReLU and of every `Elsa<A>`.
        for layer in [&mut model.0 .1, &mut model.1 .1, &mut model.2 .1] {
            let mut values = layer.param_values();
            let n = values.len();
            if n >= 2 && layer.param_names()[n - 2..] == ["alpha", "beta"] {
                values[n - 2] = alpha;
                values[n - 1] = beta;
                // Same length as the layer's own values, so this cannot fail.
                let _ = layer.try_set_params(&values);
            }
        }
    }
    let mut shuffler = Shuffler::new(train.len(), spec.seed);
    let mut sgd = Sgd::new(
        &model,
        SgdConfig {
            lr: spec.lr.get(),
            momentum: Some(Momentum::Classic(0.9)),
            weight_decay: None,
        },
    );
    let mut adam = Adam::new(
        &model,
        AdamConfig {
            lr: spec.lr.get(),
            ..Default::default()
        },
    );
    let mut grads = model.alloc_grads();
    let mut epochs = Vec::with_capacity(spec.epochs);
    for epoch in 1..=spec.epochs {
        let start = Instant::now();
        let mut loss_sum = 0.0;
        let mut batches = 0usize;
        for indices in shuffler.epoch(BATCH_SIZE) {
            let (x, y) = train.batch(&dev, indices);
            let logits = model.forward_mut(x.traced(grads));
            let loss = cross_entropy_with_logits_loss(logits, y);
            loss_sum += loss.array() as f64;
            batches += 1;
            grads = loss.backward();
            // dfdx's optimisers report unused parameters as errors; every parameter of the
            // network is used, so this cannot fail.
            let _ = match spec.optimizer {
                Optimizer::Sgd => sgd.update(&mut model, &grads),
                Optimizer::Adam => adam.update(&mut model, &grads),
            };
            model.zero_grads(&mut grads);
        }
        let train_seconds = start.elapsed().as_secs_f64();
        epochs.push(EpochResult {
            epoch,
            test_accuracy: accuracy(&model, &dev, test),
            train_loss: loss_sum / batches.max(1) as f64,
            train_seconds,
            activation_params: vec![
                model.0 .1.param_values(),
                model.1 .1.param_values(),
                model.2 .1.param_values(),
            ],
        });
    }
    RunResult { spec, epochs }
}

/// Test accuracy in percent.
pub fn accuracy<M>(model: &M, dev: &Cpu, test: &Images) -> f64
where
    M: Module<
        crate::nn::MnistInput<f32, Cpu>,
        Output = Tensor<(usize, dfdx::shapes::Const<10>), f32, Cpu>,
    >,
{
    let indices: Vec<usize> = (0..test.len()).collect();
    let mut correct = 0usize;
    for chunk in indices.chunks(1000) {
        let (x, _) = test.batch(dev, chunk);
        let Ok(logits) = model.try_forward(x) else {
            return f64::NAN;
        };
        let logits = logits.as_vec();
        for (row, &i) in chunk.iter().enumerate() {
            let scores = &logits[row * 10..(row + 1) * 10];
            let predicted = scores
                .iter()
                .enumerate()
                .fold((0, f32::NEG_INFINITY), |best, (k, &s)| {
                    if s > best.1 {
                        (k, s)
                    } else {
                        best
                    }
                })
                .0;
            correct += (predicted == test.labels()[i] as usize) as usize;
        }
    }
    100.0 * correct as f64 / test.len().max(1) as f64
}
