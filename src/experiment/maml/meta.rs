//! The computation of a MAML run: parameters as one flat `f64` vector, support and query
//! gradients, the inner loop, first- and second-order meta-gradients, Adam on the
//! meta-parameters and the final test on new tasks.

use std::time::Instant;

use dfdx::losses::cross_entropy_with_logits_loss;
use dfdx::nn::{
    BuildOnDevice, DeviceBuildExt, Module, ModuleMut, RecursiveWalker, TensorCollection,
    TensorOptions, TensorVisitor, ViewTensorMut, ZeroGrads,
};
use dfdx::optim::{Adam, AdamConfig, Optimizer as _};
use dfdx::prelude::{AsArray, Trace};
use dfdx::shapes::{Const, HasShape, Shape};
use dfdx::tensor::{Cpu, CpuError, Gradients, Tensor, TensorFromVec};
use dfdx::tensor_ops::Backward;
use rand::rngs::StdRng;
use rand::seq::index::sample;
use rand::SeedableRng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::tasks::{Task, TaskSampler};
use super::{MamlConfig, MamlError, Order, MNIST_MEAN, MNIST_STD};
use crate::activation::Activation;
use crate::experiment::batches::PIXELS;
use crate::mnist::MnistSplit;
use crate::name::{ActivationName, ActivationVisitor};
use crate::nn::fused::uniform;
use crate::nn::{ImageInput, MnistConvNet};

/// The head sizes a run can use: each is compiled in for every activation, so only Table
/// 3's 5-way head is (another size is one more arm in [`run_maml`]'s dispatch).
pub const SUPPORTED_WAYS: [usize; 1] = [5];

/// The size of the central difference of a Hessian-vector product, relative to `1 + ‖θ‖`:
/// `θ ± εv` with `ε‖v‖ = HVP_STEP · (1 + ‖θ‖)`. In `f64` the rounding error of the difference
/// is then about `1e-16 / 1e-6` of the gradient, the truncation error about `1e-12` of the
/// third derivative, and a kink of ReLU or of the max-pooling lies within the step only
/// where an input sits within about `1e-6` of it.
pub const HVP_STEP: f64 = 1e-6;

type Net<A, const N: usize> = <MnistConvNet<A, 1, N> as BuildOnDevice<Cpu, f64>>::Built;

/// Images and one-hot labels of a support or query set.
#[derive(Debug, Clone)]
pub struct Batch<const N: usize> {
    x: ImageInput<1, f64, Cpu>,
    y: Tensor<(usize, Const<N>), f64, Cpu>,
    labels: Vec<usize>,
}

impl<const N: usize> Batch<N> {
    /// The images `indices` of `split`, normalised with [`MNIST_MEAN`] and [`MNIST_STD`],
    /// with their task labels.
    ///
    /// # Errors
    /// [`MamlError::Setting`] when an index is out of range, a label is not below `N`, the
    /// two lists differ in length or the split's images are not 28x28.
    pub fn new(
        dev: &Cpu,
        split: &MnistSplit,
        indices: &[usize],
        labels: &[usize],
    ) -> Result<Self, MamlError> {
        if indices.len() != labels.len() || labels.iter().any(|&l| l >= N) {
            return Err(MamlError::Setting(format!(
                "a batch needs one label below {N} per image"
            )));
        }
        if split.pixels_per_image() != PIXELS || indices.iter().any(|&i| i >= split.len()) {
            return Err(MamlError::Setting(
                "batch images must be 28x28 and within the split".into(),
            ));
        }
        let mut pixels = Vec::with_capacity(indices.len() * PIXELS);
        let mut one_hot = vec![0.0f64; indices.len() * N];
        for (row, (&i, &label)) in indices.iter().zip(labels).enumerate() {
            pixels.extend(
                split
                    .image(i)
                    .iter()
                    .map(|&p| (p as f64 / 255.0 - MNIST_MEAN) / MNIST_STD),
            );
            one_hot[row * N + label] = 1.0;
        }
        let n = indices.len();
        Ok(Self {
            x: dev.try_tensor_from_vec(pixels, (n, Const, Const, Const))?,
            y: dev.try_tensor_from_vec(one_hot, (n, Const))?,
            labels: labels.to_vec(),
        })
    }

    /// The number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

/// `MnistConvNet<A, 1, N>` in `f64` driven by flat parameter vectors: every function takes
/// the parameters it evaluates at, so one learner serves any number of tasks.
///
/// ```
/// use arelu::experiment::maml::Learner;
/// use arelu::Relu;
///
/// let learner = Learner::<Relu, 5>::new(0);
/// assert_eq!(learner.params().len(), learner.num_params());
/// ```
#[derive(Debug, Clone)]
pub struct Learner<A: Activation, const N: usize> {
    dev: Cpu,
    model: Net<A, N>,
}

impl<A: Activation, const N: usize> Learner<A, N> {
    /// A network initialised from `seed` (PyTorch's default initialisation).
    pub fn new(seed: u64) -> Self {
        let dev = Cpu::seed_from_u64(seed);
        let model = dev.build_module::<MnistConvNet<A, 1, N>, f64>();
        Self { dev, model }
    }

    /// The device the learner's tensors live on.
    pub fn device(&self) -> &Cpu {
        &self.dev
    }

    /// The number of parameters.
    pub fn num_params(&self) -> usize {
        self.params().len()
    }

    /// The parameters as one vector, in dfdx's visiting order.
    pub fn params(&self) -> Vec<f64> {
        let mut out = Vec::new();
        // The walk views tensors mutably; a clone shares the tensors' data (nothing is
        // copied), and reading a tensor cannot fail.
        let _ = walk(&mut self.model.clone(), Flat::ReadParams(&mut out));
        out
    }

    /// Sets the parameters from one vector (as [`Learner::params`] gives).
    ///
    /// # Errors
    /// [`MamlError::Setting`] when `theta` has the wrong length.
    pub fn set_params(&mut self, theta: &[f64]) -> Result<(), MamlError> {
        let count = walk(&mut self.model, Flat::WriteParams(theta))?;
        if count != theta.len() {
            return Err(MamlError::Setting(format!(
                "{} parameter values for a network with {count}",
                theta.len(),
            )));
        }
        Ok(())
    }

    /// Each activation layer's parameter values.
    pub fn activation_params(&self) -> Vec<Vec<f64>> {
        vec![
            self.model.0 .1.param_values(),
            self.model.1 .1.param_values(),
            self.model.2 .1.param_values(),
        ]
    }

    /// Seeds the training noise of the three activation layers for the next pass.
    fn set_noise(&mut self, key: u64) {
        self.model.0 .1.set_noise_seed(mix(key, 1));
        self.model.1 .1.set_noise_seed(mix(key, 2));
        self.model.2 .1.set_noise_seed(mix(key, 3));
    }

    /// The mean loss on `batch` at `theta` in training mode, its gradient, and how many
    /// images the logits classify right. `noise` keys RReLU's random slopes: the same key
    /// gives the same slopes.
    ///
    /// # Errors
    /// When `theta` has the wrong length or a tensor operation fails.
    pub fn loss_and_gradient(
        &mut self,
        theta: &[f64],
        batch: &Batch<N>,
        noise: u64,
    ) -> Result<(f64, Vec<f64>, usize), MamlError> {
        self.set_params(theta)?;
        self.set_noise(noise);
        let grads = self.model.try_alloc_grads()?;
        let logits = self.model.try_forward_mut(batch.x.clone().traced(grads))?;
        let correct = count_correct::<N>(&logits.as_vec(), &batch.labels);
        let loss = cross_entropy_with_logits_loss(logits, batch.y.clone());
        let value = loss.array();
        let grads = loss.try_backward()?;
        let mut gradient = Vec::with_capacity(theta.len());
        // Reading cannot fail: every parameter got a gradient entry from `alloc_grads`.
        let _ = walk(&mut self.model, Flat::ReadGrads(&grads, &mut gradient));
        Ok((value, gradient, correct))
    }

    /// How many images of `batch` the network at `theta` classifies right, in evaluation
    /// mode.
    ///
    /// # Errors
    /// When `theta` has the wrong length or a tensor operation fails.
    pub fn correct(&mut self, theta: &[f64], batch: &Batch<N>) -> Result<usize, MamlError> {
        self.set_params(theta)?;
        let logits = self.model.try_forward(batch.x.clone())?;
        Ok(count_correct::<N>(&logits.as_vec(), &batch.labels))
    }

    /// The inner loop: `steps` SGD steps `θ ← θ − lr·∇L_support(θ)` from `theta`. Returns
    /// the adapted parameters and the parameters before each step (`steps` vectors). Step
    /// `k` draws its noise from `mix(noise, k)`.
    ///
    /// # Errors
    /// When a gradient fails.
    pub fn adapt(
        &mut self,
        theta: &[f64],
        support: &Batch<N>,
        steps: usize,
        lr: f64,
        noise: u64,
    ) -> Result<(Vec<f64>, Vec<Vec<f64>>), MamlError> {
        let mut current = theta.to_vec();
        let mut before = Vec::with_capacity(steps);
        for k in 0..steps {
            let (_, grad, _) = self.loss_and_gradient(&current, support, mix(noise, k as u64))?;
            let next: Vec<f64> = current.iter().zip(&grad).map(|(t, g)| t - lr * g).collect();
            before.push(std::mem::replace(&mut current, next));
        }
        Ok((current, before))
    }

    /// One task's query loss after the inner loop from `theta`, the number of query images
    /// classified right, and the gradient of that loss with respect to `theta` (second
    /// order) or to the adapted parameters (first order).
    ///
    /// # Errors
    /// When a gradient fails.
    #[allow(clippy::too_many_arguments)]
    pub fn meta_gradient(
        &mut self,
        theta: &[f64],
        support: &Batch<N>,
        query: &Batch<N>,
        steps: usize,
        lr: f64,
        order: Order,
        noise: u64,
    ) -> Result<TaskOutcome, MamlError> {
        let (adapted, before) = self.adapt(theta, support, steps, lr, noise)?;
        let (query_loss, mut v, query_correct) =
            self.loss_and_gradient(&adapted, query, mix(noise, steps as u64))?;
        if order == Order::Second {
            // θ_{k+1} = θ_k − lr·g(θ_k) has the Jacobian I − lr·H(θ_k) (symmetric), so the
            // gradient with respect to θ_k is v_k = v_{k+1} − lr·H(θ_k)·v_{k+1}.
            for (k, point) in before.iter().enumerate().rev() {
                let hv = hessian_vector_product(self, point, &v, support, mix(noise, k as u64))?;
                for (vi, hi) in v.iter_mut().zip(&hv) {
                    *vi -= lr * hi;
                }
            }
        }
        Ok(TaskOutcome {
            gradient: v,
            query_loss,
            query_correct,
        })
    }

    /// Applies one Adam step with the meta-gradient `gradient` to the learner's own
    /// parameters.
    fn adam_step(
        &mut self,
        adam: &mut Adam<Net<A, N>, f64, Cpu>,
        gradient: &[f64],
    ) -> Result<(), MamlError> {
        let mut grads = self.model.try_alloc_grads()?;
        walk(&mut self.model, Flat::WriteGrads(&mut grads, gradient))?;
        // Every parameter has a gradient entry, so no parameter is reported unused.
        let _ = adam.update(&mut self.model, &grads);
        Ok(())
    }
}

/// A task's contribution to a meta-step.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskOutcome {
    /// The gradient of the query loss with respect to the meta-parameters.
    pub gradient: Vec<f64>,
    /// The query loss after adaptation.
    pub query_loss: f64,
    /// Query images classified right after adaptation.
    pub query_correct: usize,
}

/// `H(θ)·v`, the support loss's Hessian at `theta` times `v`, as the central difference
/// `(∇L(θ + εv) − ∇L(θ − εv)) / 2ε` with `ε‖v‖ = HVP_STEP·(1 + ‖θ‖)`; both gradients use the
/// noise key `noise`. Zero when `v` is.
///
/// # Errors
/// When a gradient fails.
pub fn hessian_vector_product<A: Activation, const N: usize>(
    learner: &mut Learner<A, N>,
    theta: &[f64],
    v: &[f64],
    batch: &Batch<N>,
    noise: u64,
) -> Result<Vec<f64>, MamlError> {
    let v_norm = norm(v);
    if v_norm == 0.0 || !v_norm.is_finite() {
        return Ok(vec![if v_norm == 0.0 { 0.0 } else { f64::NAN }; v.len()]);
    }
    let eps = HVP_STEP * (1.0 + norm(theta)) / v_norm;
    let shifted = |sign: f64| -> Vec<f64> {
        theta
            .iter()
            .zip(v)
            .map(|(t, d)| t + sign * eps * d)
            .collect()
    };
    let (_, plus, _) = learner.loss_and_gradient(&shifted(1.0), batch, noise)?;
    let (_, minus, _) = learner.loss_and_gradient(&shifted(-1.0), batch, noise)?;
    Ok(plus
        .iter()
        .zip(&minus)
        .map(|(p, m)| (p - m) / (2.0 * eps))
        .collect())
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// SplitMix64's finaliser over a key and an index: the noise keys of the passes.
fn mix(key: u64, index: u64) -> u64 {
    uniform(key, index).to_bits() ^ index.rotate_left(17)
}

fn count_correct<const N: usize>(logits: &[f64], labels: &[usize]) -> usize {
    labels
        .iter()
        .enumerate()
        .filter(|&(row, &label)| {
            let scores = &logits[row * N..(row + 1) * N];
            let best = scores
                .iter()
                .enumerate()
                .fold((0, f64::NEG_INFINITY), |best, (k, &s)| {
                    if s > best.1 {
                        (k, s)
                    } else {
                        best
                    }
                })
                .0;
            best == label
        })
        .count()
}

/// What a walk over a network's trainable tensors (those dfdx updates, in its visiting
/// order) does with each: their values or their gradients, read into or written from one
/// flat vector.
enum Flat<'a> {
    /// Appends each tensor's values.
    ReadParams(&'a mut Vec<f64>),
    /// Sets each tensor from the next values; a vector too short leaves the rest as it is
    /// (the walk's count tells the caller).
    WriteParams(&'a [f64]),
    /// Appends each tensor's gradient, which must be in the gradients.
    ReadGrads(&'a Gradients<f64, Cpu>, &'a mut Vec<f64>),
    /// Sets each tensor's gradient from the next values; fails on a vector too short.
    WriteGrads(&'a mut Gradients<f64, Cpu>, &'a [f64]),
}

/// The one visitor of the flat vectors: does its [`Flat`] to every trainable tensor,
/// counting the values it passes.
struct FlatVisitor<'a> {
    op: Flat<'a>,
    offset: usize,
}

impl TensorVisitor<f64, Cpu> for FlatVisitor<'_> {
    type Viewer = ViewTensorMut;
    type Err = CpuError;
    type E2 = f64;
    type D2 = Cpu;

    fn visit<S: Shape>(
        &mut self,
        opts: TensorOptions<S, f64, Cpu>,
        t: &mut Tensor<S, f64, Cpu>,
    ) -> Result<Option<Tensor<S, f64, Cpu>>, CpuError> {
        if !opts.do_gradient_update {
            return Ok(None);
        }
        let n = t.shape().num_elements();
        let range = self.offset..self.offset + n;
        match &mut self.op {
            Flat::ReadParams(out) => out.extend(t.as_vec()),
            Flat::WriteParams(src) => {
                if let Some(values) = src.get(range) {
                    t.copy_from(values);
                }
            }
            Flat::ReadGrads(grads, out) => out.extend(grads.get(t).as_vec()),
            Flat::WriteGrads(grads, src) => {
                let grad = grads.get_or_alloc_mut(t)?;
                match src.get(range) {
                    Some(values) if grad.len() == n => grad.copy_from_slice(values),
                    _ => return Err(CpuError::WrongNumElements),
                }
            }
        }
        self.offset += n;
        Ok(None)
    }
}

/// Does `op` to every trainable tensor of `model`; returns the number of values passed (the
/// network's parameter count).
fn walk<M: TensorCollection<f64, Cpu>>(model: &mut M, op: Flat<'_>) -> Result<usize, CpuError> {
    let mut visitor = FlatVisitor { op, offset: 0 };
    M::iter_tensors(&mut RecursiveWalker {
        m: model,
        f: &mut visitor,
    })?;
    Ok(visitor.offset)
}

/// One run to make: an activation, a seed and the settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MamlSpec {
    /// The activation variant.
    pub activation: ActivationName,
    /// Seeds the initialisation, the task pool, the meta-steps' tasks, the test tasks and
    /// RReLU's noise.
    pub seed: u64,
    /// The settings.
    pub config: MamlConfig,
}

/// A finished run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MamlResult {
    /// Mean query accuracy (percent) over each meta-step's tasks after adaptation, before the
    /// step's update.
    pub step_accuracy: Vec<f64>,
    /// Mean query loss of each meta-step.
    pub step_loss: Vec<f64>,
    /// The best of `step_accuracy`: the figure the reference code reports.
    pub best_train_accuracy: f64,
    /// Mean query accuracy (percent) on the new test tasks after adaptation.
    pub test_accuracy: f64,
    /// Half the width of its 95% interval (1.96 standard errors over tasks).
    pub test_ci95: f64,
    /// Seconds of meta-training.
    pub train_seconds: f64,
    /// Seconds of the final test.
    pub test_seconds: f64,
    /// Each activation layer's parameter values after meta-training.
    pub activation_params: Vec<Vec<f64>>,
}

const POOL_KEY: u64 = 0x504F_4F4C;
const STEP_KEY: u64 = 0x5354_4550;
const TEST_KEY: u64 = 0x5445_5354;
const NOISE_KEY: u64 = 0x4E4F_4953;

/// Makes one meta-learning run on `train` (task pool) and `test` (final test tasks). The
/// same spec and data give the same result on the same machine: tasks are summed in a fixed
/// order whatever the thread count.
///
/// # Errors
/// When a setting is out of range (see [`MamlConfig::validate`]), a digit has too few images
/// or a tensor operation fails.
pub fn run_maml(
    spec: MamlSpec,
    train: &MnistSplit,
    test: &MnistSplit,
) -> Result<MamlResult, MamlError> {
    struct Visit<'a>(MamlSpec, &'a MnistSplit, &'a MnistSplit);
    impl ActivationVisitor for Visit<'_> {
        type Output = Result<MamlResult, MamlError>;
        fn visit<A: Activation>(self) -> Self::Output {
            match self.0.config.ways {
                5 => run_typed::<A, 5>(self.0, self.1, self.2),
                ways => Err(MamlError::Setting(format!(
                    "ways must be one of {SUPPORTED_WAYS:?}, got {ways}"
                ))),
            }
        }
    }
    spec.config.validate()?;
    spec.activation.visit(Visit(spec, train, test))
}

fn task_batches<const N: usize>(
    dev: &Cpu,
    split: &MnistSplit,
    task: &Task,
) -> Result<(Batch<N>, Batch<N>), MamlError> {
    Ok((
        Batch::new(dev, split, &task.support, &task.support_labels)?,
        Batch::new(dev, split, &task.query, &task.query_labels)?,
    ))
}

fn run_typed<A: Activation, const N: usize>(
    spec: MamlSpec,
    train: &MnistSplit,
    test: &MnistSplit,
) -> Result<MamlResult, MamlError> {
    let config = spec.config;
    let seed = spec.seed;
    let pool =
        TaskSampler::new(&train.labels, N, config.shots)?.pool(config.pool_size, seed ^ POOL_KEY);
    let test_tasks =
        TaskSampler::new(&test.labels, N, config.shots)?.pool(config.test_tasks, seed ^ TEST_KEY);
    let mut learner = Learner::<A, N>::new(seed);
    let mut adam = Adam::new(
        &learner.model,
        AdamConfig {
            lr: config.outer_lr,
            ..Default::default()
        },
    );
    let mut rng = StdRng::seed_from_u64(seed ^ STEP_KEY);
    let noise_base = mix(seed, NOISE_KEY);
    let start = Instant::now();
    let mut step_accuracy = Vec::with_capacity(config.iterations);
    let mut step_loss = Vec::with_capacity(config.iterations);
    for step in 0..config.iterations {
        let theta = learner.params();
        let chosen = sample(&mut rng, pool.len(), config.tasks_per_step).into_vec();
        let step_noise = mix(noise_base, step as u64);
        let outcomes: Vec<TaskOutcome> = chosen
            .par_iter()
            .enumerate()
            .map_init(
                || learner.clone(),
                |worker, (j, &t)| {
                    let (support, query) = task_batches::<N>(&worker.dev, train, &pool[t])?;
                    worker.meta_gradient(
                        &theta,
                        &support,
                        &query,
                        config.inner_steps,
                        config.inner_lr,
                        config.order,
                        mix(step_noise, j as u64),
                    )
                },
            )
            .collect::<Result<_, MamlError>>()?;
        let tasks = outcomes.len() as f64;
        let mut gradient = vec![0.0; theta.len()];
        let (mut loss, mut correct, mut images) = (0.0, 0usize, 0usize);
        for (outcome, &t) in outcomes.iter().zip(&chosen) {
            for (g, o) in gradient.iter_mut().zip(&outcome.gradient) {
                *g += o / tasks;
            }
            loss += outcome.query_loss / tasks;
            correct += outcome.query_correct;
            images += pool[t].query.len();
        }
        step_loss.push(loss);
        step_accuracy.push(100.0 * correct as f64 / images.max(1) as f64);
        learner.adam_step(&mut adam, &gradient)?;
    }
    let train_seconds = start.elapsed().as_secs_f64();

    let start = Instant::now();
    let theta = learner.params();
    let test_noise = mix(noise_base, u64::MAX);
    let accuracies: Vec<f64> = test_tasks
        .par_iter()
        .enumerate()
        .map_init(
            || learner.clone(),
            |worker, (j, task)| {
                let (support, query) = task_batches::<N>(&worker.dev, test, task)?;
                let (adapted, _) = worker.adapt(
                    &theta,
                    &support,
                    config.inner_steps,
                    config.inner_lr,
                    mix(test_noise, j as u64),
                )?;
                let correct = worker.correct(&adapted, &query)?;
                Ok(100.0 * correct as f64 / query.len().max(1) as f64)
            },
        )
        .collect::<Result<_, MamlError>>()?;
    let n = accuracies.len() as f64;
    let test_accuracy = accuracies.iter().sum::<f64>() / n;
    let sd = if accuracies.len() > 1 {
        (accuracies
            .iter()
            .map(|a| (a - test_accuracy).powi(2))
            .sum::<f64>()
            / (n - 1.0))
            .sqrt()
    } else {
        0.0
    };
    Ok(MamlResult {
        best_train_accuracy: step_accuracy
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max),
        step_accuracy,
        step_loss,
        test_accuracy,
        test_ci95: 1.96 * sd / n.sqrt(),
        train_seconds,
        test_seconds: start.elapsed().as_secs_f64(),
        activation_params: learner.activation_params(),
    })
}
