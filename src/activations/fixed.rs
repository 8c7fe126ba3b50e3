//! The mechanism shared by the 13 fixed activations: no learnable parameters, so the
//! [`Activation`] plumbing (names, parameter lists, preparation) is written once here and each
//! fixed activation states only its value and its derivative.

use crate::activation::Float;

use crate::activation::{check_config_len, check_param_count, Activation};
use crate::error::ActivationError;

/// An activation without learnable parameters, described by its value and derivative.
///
/// Every `FixedActivation` is an [`Activation`] with zero parameters through a blanket
/// implementation.
pub trait FixedActivation: Clone + core::fmt::Debug + Default + Send + Sync + 'static {
    /// The runtime name.
    const NAME: &'static str;
    /// True when the value depends on the per-element noise in training (RReLU).
    const STOCHASTIC: bool = false;
    /// `f(x)`; `noise` as in [`Activation::value`].
    fn f<F: Float>(&self, x: F, noise: F) -> F;
    /// `∂f/∂x`; `noise` as in [`Activation::value`].
    fn df<F: Float>(&self, x: F, noise: F) -> F;
    /// As [`Activation::BULK_BOUND`], for both [`FixedActivation::f_bulk`] and
    /// [`FixedActivation::df_bulk`]; none by default.
    const BULK_BOUND: Option<f64> = None;
    /// [`FixedActivation::f`] for a finite `|x| ≤` [`FixedActivation::BULK_BOUND`], bit for
    /// bit; the default calls it.
    #[inline(always)]
    fn f_bulk<F: Float>(&self, x: F, noise: F) -> F {
        self.f(x, noise)
    }
    /// [`FixedActivation::df`] for a finite `|x| ≤` [`FixedActivation::BULK_BOUND`], bit for
    /// bit; the default calls it.
    #[inline(always)]
    fn df_bulk<F: Float>(&self, x: F, noise: F) -> F {
        self.df(x, noise)
    }
    /// As [`Activation::check_elementwise`].
    fn require_elementwise(&self) -> Result<(), ActivationError> {
        Ok(())
    }
    /// As [`Activation::config`]: the hyperparameters; none by default.
    fn config(&self) -> Vec<f64> {
        Vec::new()
    }
    /// As [`Activation::from_config`]; accepts only an empty list by default.
    ///
    /// # Errors
    /// As [`Activation::from_config`].
    fn from_config(config: &[f64]) -> Result<Self, ActivationError> {
        check_config_len(Self::NAME, 0, config)?;
        Ok(Self::default())
    }
}

impl<T: FixedActivation> Activation for T {
    type Prepared<F: Float> = ();
    const STOCHASTIC: bool = <T as FixedActivation>::STOCHASTIC;
    const BULK_BOUND: Option<f64> = <T as FixedActivation>::BULK_BOUND;

    fn name(&self) -> String {
        T::NAME.to_string()
    }
    fn param_names(&self) -> Vec<String> {
        Vec::new()
    }
    fn params(&self) -> Vec<f64> {
        Vec::new()
    }
    fn set_params(&mut self, values: &[f64]) -> Result<(), ActivationError> {
        check_param_count(T::NAME, 0, values)
    }
    fn num_params(&self) -> usize {
        0
    }
    fn check_elementwise(&self) -> Result<(), ActivationError> {
        self.require_elementwise()
    }
    fn config(&self) -> Vec<f64> {
        FixedActivation::config(self)
    }
    fn from_config(config: &[f64]) -> Result<Self, ActivationError> {
        <T as FixedActivation>::from_config(config)
    }
    #[inline(always)]
    fn prepare<F: Float>(&self, _params: &[F]) -> Self::Prepared<F> {}
    #[inline(always)]
    fn value<F: Float>(&self, _prepared: &(), x: F, noise: F) -> F {
        self.f(x, noise)
    }
    #[inline(always)]
    fn backward<F: Float>(
        &self,
        _prepared: &(),
        x: F,
        noise: F,
        grad_out: F,
        _param_grads: &mut [F],
    ) -> F {
        grad_out * self.df(x, noise)
    }
    #[inline(always)]
    fn value_bulk<F: Float>(&self, _prepared: &(), x: F, noise: F) -> F {
        self.f_bulk(x, noise)
    }
    #[inline(always)]
    fn backward_bulk<F: Float>(
        &self,
        _prepared: &(),
        x: F,
        noise: F,
        grad_out: F,
        _param_grads: &mut [F],
    ) -> F {
        grad_out * self.df_bulk(x, noise)
    }
}

/// `a·x`, except that a zero factor gives zero even for infinite `x`: the limit of the
/// formula, where IEEE arithmetic would give NaN (`LeakyReLU(-∞)` with slope 0 is 0).
#[inline(always)]
pub(crate) fn scaled<F: Float>(a: F, x: F) -> F {
    if a == F::zero() && !x.is_nan() {
        F::zero()
    } else {
        a * x
    }
}

/// `max(0, x)` that propagates NaN (`Float::max` would drop it).
#[inline(always)]
pub(crate) fn relu<F: Float>(x: F) -> F {
    if x > F::zero() || x.is_nan() {
        x
    } else {
        F::zero()
    }
}

/// An error for a hyperparameter that must be finite.
pub(crate) fn require(
    ok: bool,
    activation: &'static str,
    reason: impl Into<String>,
) -> Result<(), ActivationError> {
    if ok {
        Ok(())
    } else {
        Err(ActivationError::InvalidHyperparameter {
            activation,
            reason: reason.into(),
        })
    }
}
