//! Piecewise-linear fixed activations: ReLU, ReLU6, LeakyReLU, RReLU.
//!
//! Kinks follow PyTorch's autograd: `ReLU'(0) = 0`, `ReLU6'(0) = ReLU6'(6) = 0`,
//! `LeakyReLU'(0) = slope`, `RReLU'(0) = a` (the slope in use).

use crate::activation::Float;

use super::fixed::{relu, require, scaled, FixedActivation};
use crate::activation::cast;
use crate::error::ActivationError;

/// `ReLU(x) = max(0, x)`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Relu;

impl FixedActivation for Relu {
    const NAME: &'static str = "relu";
    #[inline(always)]
    fn f<F: Float>(&self, x: F, _noise: F) -> F {
        relu(x)
    }
    #[inline(always)]
    fn df<F: Float>(&self, x: F, _noise: F) -> F {
        if x > F::zero() {
            F::one()
        } else {
            F::zero()
        }
    }
}

/// `ReLU6(x) = min(max(0, x), 6)`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Relu6;

impl FixedActivation for Relu6 {
    const NAME: &'static str = "relu6";
    #[inline(always)]
    fn f<F: Float>(&self, x: F, _noise: F) -> F {
        let six = cast::<F>(6.0);
        if x > six {
            six
        } else {
            relu(x)
        }
    }
    #[inline(always)]
    fn df<F: Float>(&self, x: F, _noise: F) -> F {
        if x > F::zero() && x < cast(6.0) {
            F::one()
        } else {
            F::zero()
        }
    }
}

/// `LeakyReLU(x) = x` for `x ≥ 0`, `s·x` otherwise; `s = 0.01` by default (PyTorch's default;
/// dfdx's own LeakyReLU uses 0.05).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LeakyRelu {
    slope: f64,
}

impl LeakyRelu {
    /// PyTorch's default negative slope.
    pub const DEFAULT_SLOPE: f64 = 0.01;

    /// A LeakyReLU with negative slope `slope`.
    ///
    /// # Errors
    /// When `slope` is not finite.
    pub fn new(slope: f64) -> Result<Self, ActivationError> {
        require(slope.is_finite(), "leaky_relu", "slope must be finite")?;
        Ok(Self { slope })
    }

    /// The negative slope.
    pub fn slope(&self) -> f64 {
        self.slope
    }
}

impl Default for LeakyRelu {
    fn default() -> Self {
        Self {
            slope: Self::DEFAULT_SLOPE,
        }
    }
}

impl FixedActivation for LeakyRelu {
    const NAME: &'static str = "leaky_relu";
    fn config(&self) -> Vec<f64> {
        vec![self.slope]
    }
    fn from_config(config: &[f64]) -> Result<Self, ActivationError> {
        crate::activation::check_config_len(Self::NAME, 1, config)?;
        Self::new(config[0])
    }
    #[inline(always)]
    fn f<F: Float>(&self, x: F, _noise: F) -> F {
        if x >= F::zero() || x.is_nan() {
            x
        } else {
            scaled(cast(self.slope), x)
        }
    }
    #[inline(always)]
    fn df<F: Float>(&self, x: F, _noise: F) -> F {
        if x > F::zero() {
            F::one()
        } else {
            cast(self.slope)
        }
    }
}

/// Randomized leaky ReLU: `x` for `x ≥ 0`, `a·x` otherwise.
///
/// In training `a ~ U(l, u)` is drawn per element per forward pass (the dfdx layer draws it
/// from the per-element noise); in evaluation `a = (l + u) / 2`. Defaults `l = 1/8`,
/// `u = 1/3` as PyTorch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rrelu {
    lower: f64,
    upper: f64,
}

impl Rrelu {
    /// A RReLU with slopes drawn from `U(lower, upper)`.
    ///
    /// # Errors
    /// When a bound is not finite or `lower > upper`.
    pub fn new(lower: f64, upper: f64) -> Result<Self, ActivationError> {
        require(
            lower.is_finite() && upper.is_finite(),
            "rrelu",
            "bounds must be finite",
        )?;
        require(
            lower <= upper,
            "rrelu",
            format!("lower bound {lower} is above upper bound {upper}"),
        )?;
        Ok(Self { lower, upper })
    }

    /// `(l, u)`.
    pub fn bounds(&self) -> (f64, f64) {
        (self.lower, self.upper)
    }

    /// The slope for a uniform sample `noise ∈ [0, 1)`: `l + (u − l)·noise`; `noise = 0.5`
    /// gives the evaluation-mode slope `(l + u) / 2`.
    #[inline(always)]
    pub fn slope<F: Float>(&self, noise: F) -> F {
        let lower = cast::<F>(self.lower);
        lower + (cast::<F>(self.upper) - lower) * noise
    }
}

impl Default for Rrelu {
    fn default() -> Self {
        Self {
            lower: 1.0 / 8.0,
            upper: 1.0 / 3.0,
        }
    }
}

impl FixedActivation for Rrelu {
    const NAME: &'static str = "rrelu";
    fn config(&self) -> Vec<f64> {
        vec![self.lower, self.upper]
    }
    fn from_config(config: &[f64]) -> Result<Self, ActivationError> {
        crate::activation::check_config_len(Self::NAME, 2, config)?;
        Self::new(config[0], config[1])
    }
    const STOCHASTIC: bool = true;
    #[inline(always)]
    fn f<F: Float>(&self, x: F, noise: F) -> F {
        if x >= F::zero() || x.is_nan() {
            x
        } else {
            scaled(self.slope(noise), x)
        }
    }
    #[inline(always)]
    fn df<F: Float>(&self, x: F, noise: F) -> F {
        if x > F::zero() {
            F::one()
        } else {
            self.slope(noise)
        }
    }
}
