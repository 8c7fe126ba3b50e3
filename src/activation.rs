//! The [`Activation`] trait: one activation layer described as an element-wise function.
//!
//! An implementation states, for a single element `x` and the layer's learnable scalars `θ`:
//! the value `f(x; θ)`, the derivative `∂f/∂x`, and the derivatives `∂f/∂θⱼ`. The dfdx layers
//! of [`crate::nn`] run exactly these definitions inside one fused forward kernel and one fused
//! backward kernel, so the trait is shaped for a hot loop:
//!
//! 1. [`Activation::prepare`] runs once per pass and turns the raw parameter values into
//!    whatever the element loop needs (a clamped `α`, `σ(β)`, `|bₖ|`, ...), so that nothing
//!    per-layer is recomputed per element;
//! 2. [`Activation::value`] and [`Activation::backward`] run once per element and are
//!    generic over the float type, so the same definition serves `f32` and `f64`.
//!
//! Stochastic activations (RReLU) receive a uniform sample `u ∈ [0, 1)` per element. In
//! evaluation mode the kernels pass [`EVAL_NOISE`] (`0.5`), the mean of the distribution, which
//! for RReLU is exactly the evaluation-mode slope `(l + u) / 2`.

use core::fmt::Debug;

use crate::error::ActivationError;

/// The float types the activations are generic over, `f32` and `f64`: a
/// [`num_traits::Float`] that can cross threads (so that the fused kernels can split work
/// across cores), with the transcendental functions the activations call in their hot loops.
///
/// For `f64` those are the standard library's. For `f32` they are branch-free polynomial forms
/// (see [`crate::math`]) that the compiler vectorises, where a call into the C library would
/// keep the loop scalar: `exp` within 1 ulp, `exp_m1` within 2, `ln_1p` within 3 and `tanh`
/// within 7 ulp of the exact values.
pub trait Float: num_traits::Float + Send + Sync + Debug + 'static {
    /// `eˣ`, vectorisable.
    fn exp_simd(self) -> Self;
    /// `eˣ − 1`, vectorisable.
    fn exp_m1_simd(self) -> Self;
    /// `ln(1 + x)`, vectorisable.
    fn ln_1p_simd(self) -> Self;
    /// `tanh(x)`, vectorisable.
    fn tanh_simd(self) -> Self;
}

impl Float for f32 {
    #[inline(always)]
    fn exp_simd(self) -> f32 {
        crate::math::exp_f32(self)
    }
    #[inline(always)]
    fn exp_m1_simd(self) -> f32 {
        crate::math::exp_m1_f32(self)
    }
    #[inline(always)]
    fn ln_1p_simd(self) -> f32 {
        crate::math::ln_1p_f32(self)
    }
    #[inline(always)]
    fn tanh_simd(self) -> f32 {
        crate::math::tanh_f32(self)
    }
}

impl Float for f64 {
    #[inline(always)]
    fn exp_simd(self) -> f64 {
        self.exp()
    }
    #[inline(always)]
    fn exp_m1_simd(self) -> f64 {
        self.exp_m1()
    }
    #[inline(always)]
    fn ln_1p_simd(self) -> f64 {
        self.ln_1p()
    }
    #[inline(always)]
    fn tanh_simd(self) -> f64 {
        self.tanh()
    }
}

/// The noise value used in evaluation mode and by every deterministic activation: the mean
/// of `U(0, 1)`.
pub const EVAL_NOISE: f64 = 0.5;

/// Converts an `f64` constant into the float type `F`.
///
/// For `f32` and `f64` this conversion always succeeds; a float type that cannot represent the
/// value gets NaN rather than a panic.
#[inline(always)]
pub fn cast<F: Float>(value: f64) -> F {
    F::from(value).unwrap_or_else(F::nan)
}

/// The logistic sigmoid `σ(t) = 1 / (1 + e^-t)`, finite for every finite `t`.
#[inline(always)]
pub fn sigmoid<F: Float>(t: F) -> F {
    F::one() / (F::one() + (-t).exp_simd())
}

/// One activation layer as an element-wise function with learnable per-layer scalars.
///
/// The struct that implements this trait holds the hyperparameters (a slope, a hinge count)
/// and the current values of the learnable parameters. Used as a dfdx layer builder, those
/// values are the initial values of the layer's parameter tensors.
///
/// # Example
///
/// ```
/// use arelu::{Activation, Arelu};
///
/// let act = Arelu::default(); // α = 0.9, β = 2.0
/// assert_eq!(act.param_names(), ["alpha", "beta"]);
/// let y: f64 = act.eval(-2.0);
/// assert!((y - (-1.8)).abs() < 1e-12); // C(0.9)·x
/// let (dy_dx, dy_dparams) = act.derivatives(3.0_f64);
/// assert!((dy_dx - (1.0 + 1.0 / (1.0 + (-2.0f64).exp()))).abs() < 1e-12);
/// assert_eq!(dy_dparams.len(), 2);
/// ```
pub trait Activation: Clone + Debug + Default + Send + Sync + 'static {
    /// What [`Activation::prepare`] derives from the parameter values once per pass.
    type Prepared<F: Float>: Clone + Send + Sync;

    /// True when [`Activation::value`] depends on its `noise` argument in training mode.
    const STOCHASTIC: bool = false;

    /// The runtime name, as accepted by [`crate::ActivationName`] (`"relu"`, `"elsa-swish"`).
    fn name(&self) -> String;

    /// The names of the learnable parameters, in the order of [`Activation::params`].
    fn param_names(&self) -> Vec<String>;

    /// The current values of the learnable parameters (initial values for a layer builder).
    fn params(&self) -> Vec<f64>;

    /// Replaces the values of the learnable parameters.
    ///
    /// # Errors
    /// [`ActivationError::ParamCount`] when `values` does not hold exactly
    /// [`Activation::num_params`] values.
    fn set_params(&mut self, values: &[f64]) -> Result<(), ActivationError>;

    /// The number of learnable parameters.
    fn num_params(&self) -> usize {
        self.param_names().len()
    }

    /// Derives the per-pass constants from the parameter values `params` (in the order of
    /// [`Activation::param_names`]; its length is [`Activation::num_params`]).
    fn prepare<F: Float>(&self, params: &[F]) -> Self::Prepared<F>;

    /// `f(x)`. `noise` is a uniform sample in `[0, 1)` for stochastic activations in training,
    /// and [`EVAL_NOISE`] otherwise.
    fn value<F: Float>(&self, prepared: &Self::Prepared<F>, x: F, noise: F) -> F;

    /// The backward pass for one element: returns `grad_out · ∂f/∂x` and adds
    /// `grad_out · ∂f/∂θⱼ` to `param_grads[j]` for every parameter `j`.
    ///
    /// Where a derivative is undefined (a kink), the value PyTorch's autograd gives is used;
    /// each implementation documents its choice.
    fn backward<F: Float>(
        &self,
        prepared: &Self::Prepared<F>,
        x: F,
        noise: F,
        grad_out: F,
        param_grads: &mut [F],
    ) -> F;

    /// A bound `B` such that, for every finite `|x| ≤ B`, [`Activation::value_bulk`] returns
    /// exactly (bit for bit) what [`Activation::value`] returns, and (unless
    /// [`Activation::BACKWARD_BULK_BOUND`] says otherwise) [`Activation::backward_bulk`] what
    /// [`Activation::backward`] returns. `None` (the default): there is no separate bulk form.
    ///
    /// It serves activations whose general form pays on every element for inputs that are
    /// rare (a change of formula far out, selects that give the limits at `±∞`): the fused
    /// kernels work in blocks of 256 elements and take the bulk forms for a block whose
    /// elements all lie within `B`. The forward pass computes the bulk values and the check
    /// in one sweep and writes the block again with [`Activation::value`] if the check fails,
    /// so [`Activation::value_bulk`] must return (any value, without panicking) for every
    /// input. The kernels compare with `B` cast to the element type, so `B` must be exact in
    /// `f32` (a power of two, or `f32::MAX`).
    const BULK_BOUND: Option<f64> = None;

    /// The bound of [`Activation::backward_bulk`], as [`Activation::BULK_BOUND`] is the bound
    /// of [`Activation::value_bulk`]; the same by default. `None` where only the value has a
    /// bulk form: the backward kernel then skips the check, which costs a read of each
    /// element (up to a fifth of a cheap activation's backward pass,
    /// `benches/activation_kernels.rs`).
    const BACKWARD_BULK_BOUND: Option<f64> = Self::BULK_BOUND;

    /// [`Activation::value`] for a finite `|x| ≤` [`Activation::BULK_BOUND`]; the default
    /// calls it. Also called beyond the bound, where its result is discarded.
    #[inline(always)]
    fn value_bulk<F: Float>(&self, prepared: &Self::Prepared<F>, x: F, noise: F) -> F {
        self.value(prepared, x, noise)
    }

    /// [`Activation::backward`] for a finite `|x| ≤` [`Activation::BACKWARD_BULK_BOUND`]; the
    /// default calls it.
    #[inline(always)]
    fn backward_bulk<F: Float>(
        &self,
        prepared: &Self::Prepared<F>,
        x: F,
        noise: F,
        grad_out: F,
        param_grads: &mut [F],
    ) -> F {
        self.backward(prepared, x, noise, grad_out, param_grads)
    }

    /// The hyperparameters: every number besides the learnable parameters that defines the
    /// function (a LeakyReLU slope, RReLU bounds, Softplus's `β` and threshold). Empty for an
    /// activation without any (the default).
    ///
    /// A dfdx layer stores them in its state, so that a saved model, or one converted with
    /// `to_dtype`/`to_device`, computes the same function. An activation that has
    /// hyperparameters must override this and [`Activation::from_config`] together, and the
    /// list's length must be the same for every value of the type.
    fn config(&self) -> Vec<f64> {
        Vec::new()
    }

    /// The activation with hyperparameters `config` (as [`Activation::config`] gives them)
    /// and the type's default parameter values.
    ///
    /// The default implementation accepts only an empty list and returns `Self::default()`.
    ///
    /// # Errors
    /// [`ActivationError::InvalidHyperparameter`] when `config` has the wrong length or a
    /// value outside its valid range.
    fn from_config(config: &[f64]) -> Result<Self, ActivationError> {
        check_config_len(&Self::default().name(), 0, config)?;
        Ok(Self::default())
    }

    /// Whether this configuration is a true element-wise function, as the fused layers need.
    /// Only a Maxout with a group size above 1 is not.
    ///
    /// # Errors
    /// [`ActivationError::InvalidHyperparameter`] naming what is not element-wise.
    fn check_elementwise(&self) -> Result<(), ActivationError> {
        Ok(())
    }

    /// The parameter values converted to `F`.
    fn params_as<F: Float>(&self) -> Vec<F> {
        self.params().into_iter().map(cast).collect()
    }

    /// `f(x)` with this activation's own parameter values, in evaluation mode.
    fn eval<F: Float>(&self, x: F) -> F {
        let prepared = self.prepare(&self.params_as::<F>());
        self.value(&prepared, x, cast(EVAL_NOISE))
    }

    /// `(∂f/∂x, [∂f/∂θⱼ])` at `x` with this activation's own parameter values, in evaluation
    /// mode.
    fn derivatives<F: Float>(&self, x: F) -> (F, Vec<F>) {
        let prepared = self.prepare(&self.params_as::<F>());
        let mut param_grads = vec![F::zero(); self.num_params()];
        let dx = self.backward(&prepared, x, cast(EVAL_NOISE), F::one(), &mut param_grads);
        (dx, param_grads)
    }
}

/// Checks a `set_params` argument's length.
pub(crate) fn check_param_count(
    name: &str,
    expected: usize,
    values: &[f64],
) -> Result<(), ActivationError> {
    if values.len() == expected {
        Ok(())
    } else {
        Err(ActivationError::ParamCount {
            activation: name.to_string(),
            expected,
            got: values.len(),
        })
    }
}

/// Checks a `from_config` argument's length.
pub(crate) fn check_config_len(
    name: &str,
    expected: usize,
    config: &[f64],
) -> Result<(), ActivationError> {
    if config.len() == expected {
        Ok(())
    } else {
        Err(ActivationError::ConfigLength {
            activation: name.to_string(),
            expected,
            got: config.len(),
        })
    }
}
