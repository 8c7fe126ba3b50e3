//! One transfer run: pretraining on MNIST (three grey channels), the pretrained model on the
//! target domain as it is, fine-tuning it there, and a model trained on the target domain
//! alone.

use std::path::{Path, PathBuf};
use std::time::Instant;

use dfdx::losses::cross_entropy_with_logits_loss;
use dfdx::nn::{
    BuildOnDevice, DeviceBuildExt, LoadFromSafetensors, Module, ModuleMut, SaveToSafetensors,
    ZeroGrads,
};
use dfdx::optim::{Momentum, Optimizer as _, Sgd, SgdConfig};
use dfdx::prelude::{Cpu, Trace};
use dfdx::shapes::Const;
use dfdx::tensor::Tensor;
use dfdx::tensor_ops::Backward;
use thiserror::Error;

use super::data::ColourImages;
use super::record::TransferRecord;
use crate::activation::Activation;
use crate::experiment::batches::Shuffler;
use crate::experiment::train::BATCH_SIZE;
use crate::name::{ActivationName, ActivationVisitor};
use crate::nn::mnist_conv::{ImageInput, MnistConvNet};

/// The network of the transfer experiment: MNIST-Conv with a three-channel first convolution.
///
/// # Shapes
/// `(batch, 3, 28, 28)` → `(batch, 10)`.
pub type TransferNet<A> = MnistConvNet<A, 3, 10>;

/// [`TransferNet<A>`] built on the CPU in `f32`.
pub type BuiltTransferNet<A> = <TransferNet<A> as BuildOnDevice<Cpu, f32>>::Built;

/// The training protocol: every phase uses SGD with momentum 0.9 and batches of
/// [`BATCH_SIZE`], as the MNIST tables.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Protocol {
    /// Epochs of pretraining on the source (the paper: 20).
    pub pretrain_epochs: usize,
    /// The pretraining learning rate (the paper: 1e-2).
    pub pretrain_lr: f64,
    /// Epochs of fine-tuning on the target; the target test accuracy is kept after each.
    pub finetune_epochs: usize,
    /// The fine-tuning learning rate (the paper: 1e-5).
    pub finetune_lr: f64,
    /// Epochs of training on the target alone, from the same initial weights as pretraining.
    pub scratch_epochs: usize,
    /// Its learning rate.
    pub scratch_lr: f64,
}

/// The four image sets of a run.
#[derive(Debug, Clone, Copy)]
pub struct TransferData<'a> {
    /// Pretraining images (MNIST, three grey channels).
    pub source_train: &'a ColourImages,
    /// Their test set, reported as the pretrained model's source accuracy.
    pub source_test: &'a ColourImages,
    /// Fine-tuning and from-scratch training images of the target domain.
    pub target_train: &'a ColourImages,
    /// The target domain's test images: every column of Table 2 is measured on them.
    pub target_test: &'a ColourImages,
}

/// What to run: one activation variant from one seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransferSpec {
    /// The activation variant.
    pub activation: ActivationName,
    /// Seeds the initial weights (the same for pretraining and for training from scratch)
    /// and the shuffling.
    pub seed: u64,
}

/// What can go wrong in a run.
#[derive(Debug, Error)]
pub enum TransferError {
    /// Writing the pretrained model failed.
    #[error("{}: cannot save the pretrained model: {reason}", .path.display())]
    Save {
        /// The file.
        path: PathBuf,
        /// The cause.
        reason: String,
    },
    /// Reading a saved pretrained model failed.
    #[error("{}: cannot load the pretrained model ({reason}); delete the file to pretrain again", .path.display())]
    Load {
        /// The file.
        path: PathBuf,
        /// The cause.
        reason: String,
    },
}

/// The file a pretrained model is kept in: `dir/<variant>-seed<seed>.safetensors`.
pub fn model_path(dir: &Path, spec: TransferSpec) -> PathBuf {
    dir.join(format!("{}-seed{}.safetensors", spec.activation, spec.seed))
}

/// Saves `model` to `path` through a temporary file renamed into place, so that an
/// interrupted save never leaves a partial model under `path`.
///
/// # Errors
/// [`TransferError::Save`].
pub fn save_model<A: Activation>(
    model: &BuiltTransferNet<A>,
    path: &Path,
) -> Result<(), TransferError> {
    let save = |reason: String| TransferError::Save {
        path: path.to_path_buf(),
        reason,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| save(e.to_string()))?;
    }
    let tmp = path.with_extension("safetensors.partial");
    model
        .save_safetensors(&tmp)
        .map_err(|e| save(format!("{e:?}")))?;
    std::fs::rename(&tmp, path).map_err(|e| save(e.to_string()))
}

/// Loads a model saved by [`save_model`] into `model`.
///
/// # Errors
/// [`TransferError::Load`].
pub fn load_model<A: Activation>(
    model: &mut BuiltTransferNet<A>,
    path: &Path,
) -> Result<(), TransferError> {
    model
        .load_safetensors(path)
        .map_err(|e| TransferError::Load {
            path: path.to_path_buf(),
            reason: format!("{e:?}"),
        })
}

/// Trains `model` with SGD (momentum 0.9) for `epochs` epochs on `data`, shuffled from
/// `seed`, calling `after_epoch(epoch, model)` after each; returns the training seconds
/// (the callbacks excluded).
pub fn sgd_epochs<A: Activation>(
    model: &mut BuiltTransferNet<A>,
    dev: &Cpu,
    data: &ColourImages,
    (lr, epochs, seed): (f64, usize, u64),
    mut after_epoch: impl FnMut(usize, &BuiltTransferNet<A>),
) -> f64 {
    let mut shuffler = Shuffler::new(data.len(), seed);
    let mut sgd = Sgd::new(
        &*model,
        SgdConfig {
            lr,
            momentum: Some(Momentum::Classic(0.9)),
            weight_decay: None,
        },
    );
    let mut grads = model.alloc_grads();
    let mut seconds = 0.0;
    for epoch in 1..=epochs {
        let start = Instant::now();
        for indices in shuffler.epoch(BATCH_SIZE) {
            let (x, y) = data.batch(dev, indices);
            let logits = model.forward_mut(x.traced(grads));
            grads = cross_entropy_with_logits_loss(logits, y).backward();
            // dfdx's optimisers report unused parameters as errors; every parameter of the
            // network is used, so this cannot fail.
            let _ = sgd.update(model, &grads);
            model.zero_grads(&mut grads);
        }
        seconds += start.elapsed().as_secs_f64();
        after_epoch(epoch, model);
    }
    seconds
}

/// Test accuracy in percent of a three-channel model; NaN when the forward pass fails.
pub fn accuracy<M>(model: &M, dev: &Cpu, test: &ColourImages) -> f64
where
    M: Module<ImageInput<3, f32, Cpu>, Output = Tensor<(usize, Const<10>), f32, Cpu>>,
{
    let indices: Vec<usize> = (0..test.len()).collect();
    let mut correct = 0usize;
    for chunk in indices.chunks(500) {
        let (x, _) = test.batch(dev, chunk);
        let Ok(logits) = model.try_forward(x) else {
            return f64::NAN;
        };
        let logits = logits.as_vec();
        for (row, &i) in chunk.iter().enumerate() {
            let scores = &logits[row * 10..(row + 1) * 10];
            // The first maximum; NaN scores never win, so a diverged model predicts 0.
            let predicted =
                (1..10).fold(0, |best, k| if scores[k] > scores[best] { k } else { best });
            correct += usize::from(predicted == usize::from(test.labels()[i]));
        }
    }
    100.0 * correct as f64 / test.len().max(1) as f64
}

/// Shuffling seeds of the three phases, so that they do not share an order.
const PRETRAIN_STREAM: u64 = 0;
const FINETUNE_STREAM: u64 = 0x4649_4E45;
const SCRATCH_STREAM: u64 = 0x5343_5241;

/// Runs `spec` (its activation chosen at run time): see [`run_typed`].
///
/// # Errors
/// See [`run_typed`].
pub fn run_transfer(
    spec: TransferSpec,
    protocol: &Protocol,
    data: TransferData<'_>,
    models_dir: Option<&Path>,
) -> Result<TransferRecord, TransferError> {
    struct Visit<'a>(
        TransferSpec,
        &'a Protocol,
        TransferData<'a>,
        Option<&'a Path>,
    );
    impl ActivationVisitor for Visit<'_> {
        type Output = Result<TransferRecord, TransferError>;
        fn visit<A: Activation>(self) -> Self::Output {
            run_typed::<A>(self.0, self.1, self.2, self.3)
        }
    }
    spec.activation
        .visit(Visit(spec, protocol, data, models_dir))
}

/// One run with the activation type known at compile time:
///
/// 1. pretraining on `data.source_train` for `protocol.pretrain_epochs` epochs from the
///    seed's initial weights, or, when `models_dir` holds this run's model (see
///    [`model_path`]), that model; a model trained here is saved there (when given);
/// 2. the pretrained model tested on the target (no fine-tuning);
/// 3. fine-tuning of the pretrained model on `data.target_train` for
///    `protocol.finetune_epochs` epochs, tested after every epoch (so that one trajectory
///    gives the 5-, 10- and 20-epoch columns);
/// 4. training from the same initial weights on `data.target_train` alone.
///
/// The same spec and data give bit-identical results on the same machine with the same
/// thread count, whether or not the pretrained model was reloaded.
///
/// # Errors
/// When the pretrained model cannot be saved or loaded.
pub fn run_typed<A: Activation>(
    spec: TransferSpec,
    protocol: &Protocol,
    data: TransferData<'_>,
    models_dir: Option<&Path>,
) -> Result<TransferRecord, TransferError> {
    let dev = Cpu::seed_from_u64(spec.seed);
    let initial = dev.build_module::<TransferNet<A>, f32>();

    let mut pretrained = initial.clone();
    let saved = models_dir.map(|dir| model_path(dir, spec));
    let pretrain_seconds = match &saved {
        Some(path) if path.exists() => {
            load_model::<A>(&mut pretrained, path)?;
            None
        }
        _ => {
            let seconds = sgd_epochs::<A>(
                &mut pretrained,
                &dev,
                data.source_train,
                (
                    protocol.pretrain_lr,
                    protocol.pretrain_epochs,
                    spec.seed ^ PRETRAIN_STREAM,
                ),
                |_, _| {},
            );
            if let Some(path) = &saved {
                save_model::<A>(&pretrained, path)?;
            }
            Some(seconds)
        }
    };
    let source_accuracy = accuracy(&pretrained, &dev, data.source_test);
    let no_finetune_accuracy = accuracy(&pretrained, &dev, data.target_test);
    let pretrained_params = activation_params::<A>(&pretrained);

    let mut finetuned = pretrained;
    let mut finetune_accuracy_per_epoch = Vec::with_capacity(protocol.finetune_epochs);
    let finetune_seconds = sgd_epochs::<A>(
        &mut finetuned,
        &dev,
        data.target_train,
        (
            protocol.finetune_lr,
            protocol.finetune_epochs,
            spec.seed ^ FINETUNE_STREAM,
        ),
        |_, model| finetune_accuracy_per_epoch.push(accuracy(model, &dev, data.target_test)),
    );

    let mut scratch = initial;
    let scratch_seconds = sgd_epochs::<A>(
        &mut scratch,
        &dev,
        data.target_train,
        (
            protocol.scratch_lr,
            protocol.scratch_epochs,
            spec.seed ^ SCRATCH_STREAM,
        ),
        |_, _| {},
    );
    Ok(TransferRecord {
        activation: spec.activation,
        seed: spec.seed,
        source_accuracy,
        scratch_accuracy: accuracy(&scratch, &dev, data.target_test),
        no_finetune_accuracy,
        finetune_accuracy_per_epoch,
        pretrain_seconds,
        finetune_seconds,
        scratch_seconds,
        pretrained_params,
        finetuned_params: activation_params::<A>(&finetuned),
    })
}

/// Each activation layer's parameter values (three layers).
pub fn activation_params<A: Activation>(model: &BuiltTransferNet<A>) -> Vec<Vec<f64>> {
    vec![
        model.0 .1.param_values(),
        model.1 .1.param_values(),
        model.2 .1.param_values(),
    ]
}
