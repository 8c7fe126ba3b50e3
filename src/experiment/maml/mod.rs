//! Meta-learning (the paper's Sec. 4.5 and Table 3): `MnistConvNet<A, 1, N>` trained by
//! MAML on N-way K-shot MNIST tasks, first or second order.
//!
//! The protocol, per run (one activation, one seed):
//!
//! - tasks: [`TaskSampler`] draws N distinct digits and `2K` images of each from the
//!   training images, `K` for the support set and `K` for the query set; a fixed pool of
//!   [`MamlConfig::pool_size`] tasks is drawn once from the seed and every meta-step samples
//!   [`MamlConfig::tasks_per_step`] distinct tasks from it;
//! - pixels are normalised with MNIST's mean 0.1307 and standard deviation 0.3081
//!   ([`MNIST_MEAN`], [`MNIST_STD`]), as in the reference code;
//! - inner loop: [`MamlConfig::inner_steps`] plain SGD steps on the support loss (log-softmax
//!   and NLL) with [`MamlConfig::inner_lr`]; every parameter adapts, the activations' own
//!   parameters included;
//! - outer loop: Adam ([`MamlConfig::outer_lr`], PyTorch's betas and epsilon) on the mean query
//!   loss of the step's tasks after adaptation;
//! - the meta-gradient is either first order (the query gradient at the adapted parameters)
//!   or exact second order: the query gradient carried back through every inner step,
//!   `v ← v − α·H·v`, with each Hessian-vector product `H·v` a central difference of two
//!   support gradients at `θ ± εv` (see [`hessian_vector_product`]). The whole computation
//!   runs in `f64`, so the difference is exact to about eight digits;
//! - reported: the best mean query accuracy over the meta-steps on the training pool (the
//!   figure the reference code prints) and, after meta-training, the mean query accuracy with
//!   a 95% interval on [`MamlConfig::test_tasks`] new tasks drawn from the test images and
//!   adapted with the same inner loop.
//!
//! RReLU draws its training noise from a key per pass (step, task, inner step), so the two
//! gradients of a Hessian-vector product see the same slopes and the run is deterministic.

mod meta;
mod table;
mod tasks;

pub use meta::{
    hessian_vector_product, run_maml, Batch, Learner, MamlResult, MamlSpec, TaskOutcome, HVP_STEP,
    SUPPORTED_WAYS,
};
pub use table::{
    cells, csv, generate_maml, markdown, write_outputs, MamlCell, MamlGenerateError, MamlGrid,
    MamlKey, MamlRecord, MamlSettings, FORMAT,
};
pub use tasks::{Task, TaskSampler, DIGITS};

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The mean of MNIST's training pixels in `[0, 1]`, as the reference code normalises.
pub const MNIST_MEAN: f64 = 0.1307;
/// The standard deviation of MNIST's training pixels in `[0, 1]`.
pub const MNIST_STD: f64 = 0.3081;

/// Why a meta-learning run could not be made.
#[derive(Debug, Error)]
pub enum MamlError {
    /// A setting outside its valid range.
    #[error("invalid meta-learning setting: {0}")]
    Setting(String),
    /// A digit has too few images for the task size.
    #[error("digit {digit} has {available} images, a task needs {needed}")]
    TooFewImages {
        /// The digit.
        digit: usize,
        /// Images a task needs of each class (`2K`).
        needed: usize,
        /// Images of that digit.
        available: usize,
    },
    /// A tensor operation failed.
    #[error("tensor operation failed: {0:?}")]
    Device(dfdx::tensor::CpuError),
}

impl From<dfdx::tensor::CpuError> for MamlError {
    fn from(e: dfdx::tensor::CpuError) -> Self {
        MamlError::Device(e)
    }
}

/// First- or second-order MAML.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    /// The query gradient at the adapted parameters, the inner loop's Jacobian taken as the
    /// identity.
    First,
    /// The exact meta-gradient, through the inner loop's Hessians.
    Second,
}

impl Order {
    /// `"first"` or `"second"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Order::First => "first",
            Order::Second => "second",
        }
    }
}

impl std::str::FromStr for Order {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "first" => Ok(Order::First),
            "second" => Ok(Order::Second),
            other => Err(format!("unknown order `{other}` (valid: first, second)")),
        }
    }
}

/// The settings of a meta-learning run (everything but the activation and the seed).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MamlConfig {
    /// Classes per task (N); see [`SUPPORTED_WAYS`].
    pub ways: usize,
    /// Support images per class (K), and as many query images.
    pub shots: usize,
    /// Meta-steps.
    pub iterations: usize,
    /// Tasks per meta-step.
    pub tasks_per_step: usize,
    /// SGD steps of the inner loop.
    pub inner_steps: usize,
    /// The inner loop's learning rate.
    pub inner_lr: f64,
    /// Adam's learning rate on the meta-parameters.
    pub outer_lr: f64,
    /// First or second order.
    pub order: Order,
    /// Tasks drawn once from the training images to sample the meta-steps' tasks from.
    pub pool_size: usize,
    /// New tasks from the test images for the final accuracy.
    pub test_tasks: usize,
}

impl MamlConfig {
    /// The paper's protocol for `shots`: 5-way, 100 meta-steps of 32 tasks, 5 inner steps,
    /// both learning rates 0.005, second order, a pool of 1,000 training tasks and 1,000 test
    /// tasks.
    ///
    /// ```
    /// use arelu::experiment::maml::{MamlConfig, Order};
    ///
    /// let config = MamlConfig::paper(1);
    /// assert_eq!((config.ways, config.shots, config.order), (5, 1, Order::Second));
    /// assert!(config.validate().is_ok());
    /// ```
    pub fn paper(shots: usize) -> Self {
        Self {
            ways: 5,
            shots,
            iterations: 100,
            tasks_per_step: 32,
            inner_steps: 5,
            inner_lr: 0.005,
            outer_lr: 0.005,
            order: Order::Second,
            pool_size: 1000,
            test_tasks: 1000,
        }
    }

    /// Checks every setting.
    ///
    /// # Errors
    /// [`MamlError::Setting`] naming the first setting out of range.
    pub fn validate(&self) -> Result<(), MamlError> {
        let bad = |s: String| Err(MamlError::Setting(s));
        if !SUPPORTED_WAYS.contains(&self.ways) {
            return bad(format!(
                "ways must be one of {SUPPORTED_WAYS:?}, got {}",
                self.ways
            ));
        }
        if self.shots == 0 || self.iterations == 0 || self.tasks_per_step == 0 {
            return bad("shots, iterations and tasks per step must be at least 1".into());
        }
        if self.test_tasks == 0 {
            return bad("test tasks must be at least 1".into());
        }
        if self.pool_size < self.tasks_per_step {
            return bad(format!(
                "the task pool ({}) must hold at least the tasks of one step ({})",
                self.pool_size, self.tasks_per_step
            ));
        }
        for (name, lr) in [("inner", self.inner_lr), ("outer", self.outer_lr)] {
            if !(lr.is_finite() && lr > 0.0) {
                return bad(format!(
                    "the {name} learning rate must be positive and finite, got {lr}"
                ));
            }
        }
        Ok(())
    }
}
