//! Smooth fixed activations: GELU, Sigmoid, Softplus, Swish, Tanh.

use crate::activation::Float;

use super::fixed::{require, FixedActivation};
use crate::activation::{cast, sigmoid};
use crate::error::ActivationError;

/// `GELU(x) = 0.5·x·(1 + tanh(k·(x + 0.044715·x³)))`, `k = 0.7979946`: the tanh form with the
/// constant of the paper's reference implementation (√(2/π) ≈ 0.7978846 rounded differently).
///
/// `GELU(−∞)` is its limit 0 (IEEE arithmetic would give `−∞·0 = NaN`), and the derivative
/// tends to 1 and 0 at `±∞` without NaN however large `|x|` is.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Gelu;

impl Gelu {
    /// The tanh form's scale `k`, as in the reference implementation.
    pub const K: f64 = 0.797_994_6;
    /// The cubic coefficient.
    pub const CUBIC: f64 = 0.044_715;
    /// Beyond `|x| = 10⁴` the derivative's second term is exactly 0 (see `df`).
    const DERIVATIVE_BOUND: f64 = 1e4;
}

impl Gelu {
    /// `(u, du/dx)` with `u = k·(x + 0.044715·x³)`.
    #[inline(always)]
    fn inner<F: Float>(x: F) -> (F, F) {
        let k = cast::<F>(Self::K);
        let c = cast::<F>(Self::CUBIC);
        let x2 = x * x;
        (
            k * (x + c * x2 * x),
            k * (F::one() + cast::<F>(3.0) * c * x2),
        )
    }
}

// Computed through `0.5·(1 + tanh(u)) = σ(2u)`, the same function, which keeps full relative
// precision in the negative tail where `1 + tanh(u)` would cancel to nothing.
impl FixedActivation for Gelu {
    const NAME: &'static str = "gelu";
    #[inline(always)]
    fn f<F: Float>(&self, x: F, noise: F) -> F {
        if x == F::neg_infinity() {
            return F::zero();
        }
        self.f_bulk(x, noise)
    }
    #[inline(always)]
    fn df<F: Float>(&self, x: F, _noise: F) -> F {
        // The second term's x and u' are taken at x clamped to ±10⁴: there σ(2u)(1 − σ(2u))
        // is already exactly 0 in f32 and f64, so the term is unchanged, while u' = k(1 + 3cx²)
        // would overflow further out and make it 0·∞ = NaN. (`clamp` keeps NaN.)
        let bound = cast::<F>(Self::DERIVATIVE_BOUND);
        Self::derivative(x, num_traits::clamp(x, -bound, bound))
    }
    /// Within `2¹³ < 10⁴` neither the select at `−∞` nor the clamp changes anything.
    const BULK_BOUND: Option<f64> = Some(8192.0);
    #[inline(always)]
    fn f_bulk<F: Float>(&self, x: F, _noise: F) -> F {
        let (u, _) = Self::inner(x);
        x * sigmoid(u + u)
    }
    #[inline(always)]
    fn df_bulk<F: Float>(&self, x: F, _noise: F) -> F {
        Self::derivative(x, x)
    }
}

impl Gelu {
    /// `d/dx [x·σ(2u)] = σ(2u) + x·2σ(2u)(1 − σ(2u))·u'`, with the second term's `x` and `u'`
    /// taken at `xc` (`x` itself, or `x` clamped where `u'` would overflow).
    #[inline(always)]
    fn derivative<F: Float>(x: F, xc: F) -> F {
        let (u, _) = Self::inner(x);
        let s = sigmoid(u + u);
        let (_, du) = Self::inner(xc);
        s + xc * (s + s) * (F::one() - s) * du
    }
}

/// `Sigmoid(x) = σ(x) = 1 / (1 + e^-x)`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sigmoid;

impl FixedActivation for Sigmoid {
    const NAME: &'static str = "sigmoid";
    #[inline(always)]
    fn f<F: Float>(&self, x: F, _noise: F) -> F {
        sigmoid(x)
    }
    #[inline(always)]
    fn df<F: Float>(&self, x: F, _noise: F) -> F {
        let s = sigmoid(x);
        s * (F::one() - s)
    }
}

/// `Softplus(x) = (1/β)·ln(1 + exp(β·x))`, and `x` itself where `β·x > threshold`
/// (PyTorch's defaults `β = 1`, `threshold = 20`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Softplus {
    beta: f64,
    threshold: f64,
}

impl Softplus {
    /// A Softplus with sharpness `beta` and linear cut-over `threshold`.
    ///
    /// # Errors
    /// When `beta` is zero or not finite, or `threshold` is NaN.
    pub fn new(beta: f64, threshold: f64) -> Result<Self, ActivationError> {
        require(
            beta.is_finite() && beta != 0.0,
            "softplus",
            "beta must be finite and non-zero",
        )?;
        require(!threshold.is_nan(), "softplus", "threshold must not be NaN")?;
        Ok(Self { beta, threshold })
    }

    /// `(β, threshold)`.
    pub fn settings(&self) -> (f64, f64) {
        (self.beta, self.threshold)
    }
}

impl Default for Softplus {
    fn default() -> Self {
        Self {
            beta: 1.0,
            threshold: 20.0,
        }
    }
}

impl FixedActivation for Softplus {
    const NAME: &'static str = "softplus";
    fn config(&self) -> Vec<f64> {
        vec![self.beta, self.threshold]
    }
    fn from_config(config: &[f64]) -> Result<Self, ActivationError> {
        crate::activation::check_config_len(Self::NAME, 2, config)?;
        Self::new(config[0], config[1])
    }
    #[inline(always)]
    fn f<F: Float>(&self, x: F, _noise: F) -> F {
        let beta = cast::<F>(self.beta);
        let bx = beta * x;
        if bx > cast(self.threshold) {
            x
        } else {
            bx.exp_simd().ln_1p_simd() / beta
        }
    }
    #[inline(always)]
    fn df<F: Float>(&self, x: F, _noise: F) -> F {
        let bx = cast::<F>(self.beta) * x;
        if bx > cast(self.threshold) {
            F::one()
        } else {
            sigmoid(bx)
        }
    }
}

/// `Swish(x) = x·σ(x)` (SiLU). `Swish(−∞)` is its limit 0, and the derivative at `±∞` its
/// limits 1 and 0.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Swish;

impl FixedActivation for Swish {
    const NAME: &'static str = "swish";
    #[inline(always)]
    fn f<F: Float>(&self, x: F, _noise: F) -> F {
        if x == F::neg_infinity() {
            return F::zero();
        }
        x * sigmoid(x)
    }
    #[inline(always)]
    fn df<F: Float>(&self, x: F, _noise: F) -> F {
        let s = sigmoid(x);
        // x·σ(x)(1 − σ(x)) is exactly 0 wherever σ saturates, long before x is infinite;
        // clamping x to the finite range keeps it 0 at ±∞ too (where ∞·0 would be NaN).
        // A NaN x still gives NaN through σ.
        let finite_x = x.max(F::min_value()).min(F::max_value());
        s + finite_x * s * (F::one() - s)
    }
}

/// `Tanh(x) = tanh(x)`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Tanh;

impl FixedActivation for Tanh {
    const NAME: &'static str = "tanh";
    #[inline(always)]
    fn f<F: Float>(&self, x: F, _noise: F) -> F {
        x.tanh_simd()
    }
    #[inline(always)]
    fn df<F: Float>(&self, x: F, _noise: F) -> F {
        // 1 − tanh²(x) = 4σ(−2|x|)(1 − σ(−2|x|)): exact in relative terms in the tails, where
        // 1 − t² cancels.
        let s = sigmoid(-(x.abs() + x.abs()));
        cast::<F>(4.0) * s * (F::one() - s)
    }
}
