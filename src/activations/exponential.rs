//! Exponential-linear fixed activations: CELU, ELU, SELU.
//!
//! Kinks follow PyTorch's autograd, which takes the negative branch at `x = 0`:
//! `CELU'(0) = 1`, `ELU'(0) = a`, `SELU'(0) = λ·a`.

use crate::activation::Float;

use super::fixed::{require, FixedActivation};
use crate::activation::cast;
use crate::error::ActivationError;

/// `CELU(x) = max(0, x) + min(0, a·(exp(x/a) − 1))`, `a = 1` by default.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Celu {
    alpha: f64,
}

impl Celu {
    /// A CELU with scale `alpha`.
    ///
    /// # Errors
    /// When `alpha` is zero or not finite (PyTorch refuses `alpha = 0` too).
    pub fn new(alpha: f64) -> Result<Self, ActivationError> {
        require(
            alpha.is_finite() && alpha != 0.0,
            "celu",
            "alpha must be finite and non-zero",
        )?;
        Ok(Self { alpha })
    }

    /// The scale `a`.
    pub fn alpha(&self) -> f64 {
        self.alpha
    }
}

impl Default for Celu {
    fn default() -> Self {
        Self { alpha: 1.0 }
    }
}

impl FixedActivation for Celu {
    const NAME: &'static str = "celu";
    fn config(&self) -> Vec<f64> {
        vec![self.alpha]
    }
    fn from_config(config: &[f64]) -> Result<Self, ActivationError> {
        crate::activation::check_config_len(Self::NAME, 1, config)?;
        Self::new(config[0])
    }
    #[inline(always)]
    fn f<F: Float>(&self, x: F, _noise: F) -> F {
        if x > F::zero() || x.is_nan() {
            x
        } else {
            let a = cast::<F>(self.alpha);
            a * (x / a).exp_m1_simd()
        }
    }
    #[inline(always)]
    fn df<F: Float>(&self, x: F, _noise: F) -> F {
        if x > F::zero() {
            F::one()
        } else {
            (x / cast(self.alpha)).exp_simd()
        }
    }
}

/// `ELU(x) = x` for `x > 0`, `a·(exp(x) − 1)` otherwise; `a = 1` by default.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Elu {
    alpha: f64,
}

impl Elu {
    /// An ELU with scale `alpha`.
    ///
    /// # Errors
    /// When `alpha` is not finite.
    pub fn new(alpha: f64) -> Result<Self, ActivationError> {
        require(alpha.is_finite(), "elu", "alpha must be finite")?;
        Ok(Self { alpha })
    }

    /// The scale `a`.
    pub fn alpha(&self) -> f64 {
        self.alpha
    }
}

impl Default for Elu {
    fn default() -> Self {
        Self { alpha: 1.0 }
    }
}

impl FixedActivation for Elu {
    const NAME: &'static str = "elu";
    fn config(&self) -> Vec<f64> {
        vec![self.alpha]
    }
    fn from_config(config: &[f64]) -> Result<Self, ActivationError> {
        crate::activation::check_config_len(Self::NAME, 1, config)?;
        Self::new(config[0])
    }
    #[inline(always)]
    fn f<F: Float>(&self, x: F, _noise: F) -> F {
        if x > F::zero() || x.is_nan() {
            x
        } else {
            cast::<F>(self.alpha) * x.exp_m1_simd()
        }
    }
    #[inline(always)]
    fn df<F: Float>(&self, x: F, _noise: F) -> F {
        if x > F::zero() {
            F::one()
        } else {
            cast::<F>(self.alpha) * x.exp_simd()
        }
    }
}

/// `SELU(x) = λ·x` for `x > 0`, `λ·a·(exp(x) − 1)` otherwise, with PyTorch's constants.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Selu;

impl Selu {
    /// λ.
    pub const LAMBDA: f64 = 1.050_700_987_355_480_5;
    /// a.
    pub const ALPHA: f64 = 1.673_263_242_354_377_3;
}

impl FixedActivation for Selu {
    const NAME: &'static str = "selu";
    #[inline(always)]
    fn f<F: Float>(&self, x: F, _noise: F) -> F {
        let lambda = cast::<F>(Self::LAMBDA);
        if x > F::zero() || x.is_nan() {
            lambda * x
        } else {
            lambda * cast(Self::ALPHA) * x.exp_m1_simd()
        }
    }
    #[inline(always)]
    fn df<F: Float>(&self, x: F, _noise: F) -> F {
        let lambda = cast::<F>(Self::LAMBDA);
        if x > F::zero() {
            lambda
        } else {
            lambda * cast(Self::ALPHA) * x.exp_simd()
        }
    }
}
