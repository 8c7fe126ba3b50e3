//! ELSA, the element-wise sign-based attention of the paper (Sec. 3.2), and `Elsa<A>`, which
//! adds it to any base activation (Sec. 4.6).
//!
//! ```text
//! Elsa<A>(x) = A(x) + L(x),   L(x) = C(α)·x for x < 0,  σ(β)·x for x ≥ 0
//! ```
//!
//! with `C(t) = clamp(t, 0.01, 0.99)` and two learnable scalars per layer, `α = 0.9` and
//! `β = 2.0` initially, on top of `A`'s own. Their gradients (Sec. 3.4):
//! `∂L/∂α = x` for `x < 0` while `α ∈ [0.01, 0.99]` (the clamp cuts it outside),
//! `∂L/∂β = σ(β)(1 − σ(β))·x` for `x ≥ 0`, `∂L/∂x = C(α)` for `x < 0`, `σ(β)` for `x ≥ 0`.
//!
//! **Deviation of the reference code.** The paper's reference PyTorch ELSA module computes
//! the clamped α and σ(β) and then adds `x·β` and `x·α` with the *raw* parameters. This crate
//! implements the paper's formula above.

use crate::activation::Float;

use crate::activation::{cast, check_param_count, sigmoid, Activation, EVAL_NOISE};
use crate::error::ActivationError;

/// The clamp bounds of `C(α)`.
pub const ALPHA_BOUNDS: (f64, f64) = (0.01, 0.99);
/// The paper's initial `α`.
pub const DEFAULT_ALPHA: f64 = 0.9;
/// The paper's initial `β`.
pub const DEFAULT_BETA: f64 = 2.0;

/// The per-pass constants of the attention term `L`: `C(α)`, `σ(β)` and what its gradients
/// need. Shared by [`Elsa`] and [`crate::Arelu`].
#[derive(Debug, Clone, Copy)]
pub struct ElsaTerm<F> {
    /// `C(α)`, the scale of negative elements.
    pub negative_scale: F,
    /// `σ(β)`, the scale of non-negative elements.
    pub positive_scale: F,
    /// `σ(β)(1 − σ(β))`.
    pub sigmoid_slope: F,
    /// Whether `α` lies inside the clamp, so that its gradient flows.
    pub alpha_in_range: bool,
}

impl<F: Float> ElsaTerm<F> {
    /// The constants for parameter values `α`, `β`.
    #[inline(always)]
    pub fn new(alpha: F, beta: F) -> Self {
        let (low, high) = (cast::<F>(ALPHA_BOUNDS.0), cast::<F>(ALPHA_BOUNDS.1));
        let sig = sigmoid(beta);
        Self {
            // `max`/`min` in this order keep a NaN α as NaN rather than dropping it.
            negative_scale: if alpha.is_nan() {
                alpha
            } else {
                alpha.max(low).min(high)
            },
            positive_scale: sig,
            sigmoid_slope: sig * (F::one() - sig),
            // PyTorch's clamp passes the gradient at the bounds themselves.
            alpha_in_range: alpha >= low && alpha <= high,
        }
    }

    /// `L(x)`.
    #[inline(always)]
    pub fn value(&self, x: F) -> F {
        if x < F::zero() {
            self.negative_scale * x
        } else {
            self.positive_scale * x
        }
    }

    /// Adds `grad_out·∂L/∂α` to `d_alpha` and `grad_out·∂L/∂β` to `d_beta`; returns
    /// `grad_out·∂L/∂x`.
    ///
    /// Written as selects rather than branches (adding an exact zero where a gradient does not
    /// flow), so that the fused backward loop compiles to SIMD code.
    #[inline(always)]
    pub fn backward(&self, x: F, grad_out: F, d_alpha: &mut F, d_beta: &mut F) -> F {
        let zero = F::zero();
        let negative = x < zero;
        let scaled = grad_out * x;
        let alpha_flows = negative && self.alpha_in_range;
        *d_alpha = *d_alpha + if alpha_flows { scaled } else { zero };
        *d_beta = *d_beta
            + if negative {
                zero
            } else {
                scaled * self.sigmoid_slope
            };
        grad_out
            * if negative {
                self.negative_scale
            } else {
                self.positive_scale
            }
    }
}

/// `A(x) + L(x)` at an infinite `x`: the sum itself, or, where the base and the term head to
/// opposite infinities (APL at `−∞`: `+∞ − ∞`), `x` times the sum's slope there, the limit of a
/// sum of two asymptotically linear terms. (Should the slopes cancel exactly, the finite limit
/// is not worked out and the value stays NaN.)
fn limit_at_infinity<A: Activation, F: Float>(
    activation: &A,
    base: &A::Prepared<F>,
    term: &ElsaTerm<F>,
    x: F,
) -> F {
    let noise = cast::<F>(EVAL_NOISE);
    let sum = activation.value(base, x, noise) + term.value(x);
    if !sum.is_nan() {
        return sum;
    }
    let mut base_grads = vec![F::zero(); activation.num_params()];
    let (mut d_alpha, mut d_beta) = (F::zero(), F::zero());
    let slope = activation.backward(base, x, noise, F::one(), &mut base_grads)
        + term.backward(x, F::one(), &mut d_alpha, &mut d_beta);
    x * slope
}

/// Any activation `A` plus the ELSA term: `Elsa<A>(x) = A(x) + L(x)`.
///
/// At `x = ±∞` the value is the formula's limit, also where `A` and `L` head to opposite
/// infinities (`Elsa<Apl>` at `−∞`, whose slope there is `C(α) − a > 0`, tends to `−∞`).
///
/// Parameters: `A`'s, then `alpha` and `beta`. (Should a base name a parameter `alpha` or
/// `beta` itself, the base's are renamed `base_alpha`/`base_beta` so that names stay unique.)
///
/// ```
/// use arelu::{Activation, Elsa, Swish};
///
/// let act = Elsa::<Swish>::default();
/// assert_eq!(act.name(), "elsa-swish");
/// assert_eq!(act.param_names(), ["alpha", "beta"]);
/// let x = 1.5_f64;
/// let sigma = |t: f64| 1.0 / (1.0 + (-t).exp());
/// assert!((act.eval(x) - (x * sigma(x) + sigma(2.0) * x)).abs() < 1e-12);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Elsa<A> {
    /// The base activation.
    pub base: A,
    /// `α`, whose clamp scales negative elements.
    pub alpha: f64,
    /// `β`, whose sigmoid scales non-negative elements.
    pub beta: f64,
}

impl<A: Activation> Elsa<A> {
    /// ELSA around `base` with the paper's initial `α = 0.9`, `β = 2.0`.
    pub fn new(base: A) -> Self {
        Self {
            base,
            alpha: DEFAULT_ALPHA,
            beta: DEFAULT_BETA,
        }
    }

    /// Sets the initial `α` and `β`.
    pub fn with_alpha_beta(mut self, alpha: f64, beta: f64) -> Self {
        self.alpha = alpha;
        self.beta = beta;
        self
    }
}

impl<A: Activation> Default for Elsa<A> {
    fn default() -> Self {
        Self::new(A::default())
    }
}

impl<A: Activation> Activation for Elsa<A> {
    /// The base's constants, the term's, and the limits of the sum at `+∞` and `−∞`.
    type Prepared<F: Float> = (A::Prepared<F>, ElsaTerm<F>, [F; 2]);
    const STOCHASTIC: bool = A::STOCHASTIC;
    /// The base's bound; for a base without one, every finite `|x|` up to `f32::MAX` (exact
    /// in `f32`, so `±∞` still takes the general form): the general value differs only in the
    /// select of the limit at `±∞`.
    const BULK_BOUND: Option<f64> = match A::BULK_BOUND {
        Some(bound) => Some(bound),
        None => Some(f32::MAX as f64),
    };
    /// The base's: the backward pass has no select of its own to skip.
    const BACKWARD_BULK_BOUND: Option<f64> = A::BACKWARD_BULK_BOUND;

    fn name(&self) -> String {
        format!("elsa-{}", self.base.name())
    }
    fn param_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .base
            .param_names()
            .into_iter()
            .map(|n| match n.as_str() {
                "alpha" | "beta" => format!("base_{n}"),
                _ => n,
            })
            .collect();
        names.push("alpha".into());
        names.push("beta".into());
        names
    }
    fn params(&self) -> Vec<f64> {
        let mut values = self.base.params();
        values.push(self.alpha);
        values.push(self.beta);
        values
    }
    fn set_params(&mut self, values: &[f64]) -> Result<(), ActivationError> {
        let n = self.base.num_params();
        check_param_count(&self.name(), n + 2, values)?;
        self.base.set_params(&values[..n])?;
        self.alpha = values[n];
        self.beta = values[n + 1];
        Ok(())
    }
    fn num_params(&self) -> usize {
        self.base.num_params() + 2
    }
    fn check_elementwise(&self) -> Result<(), ActivationError> {
        self.base.check_elementwise()
    }
    fn config(&self) -> Vec<f64> {
        self.base.config()
    }
    fn from_config(config: &[f64]) -> Result<Self, ActivationError> {
        Ok(Self::new(A::from_config(config)?))
    }
    #[inline(always)]
    fn prepare<F: Float>(&self, params: &[F]) -> Self::Prepared<F> {
        let n = params.len() - 2;
        let base = self.base.prepare(&params[..n]);
        let term = ElsaTerm::new(params[n], params[n + 1]);
        let limits = [F::infinity(), F::neg_infinity()]
            .map(|x| limit_at_infinity(&self.base, &base, &term, x));
        (base, term, limits)
    }
    #[inline(always)]
    fn value<F: Float>(&self, (base, term, limits): &Self::Prepared<F>, x: F, noise: F) -> F {
        let sum = self.base.value(base, x, noise) + term.value(x);
        // selects, so that the loop over the elements stays vector code
        let limit = if x > F::zero() { limits[0] } else { limits[1] };
        if sum.is_nan() & x.is_infinite() {
            limit
        } else {
            sum
        }
    }
    #[inline(always)]
    fn value_bulk<F: Float>(&self, (base, term, _): &Self::Prepared<F>, x: F, noise: F) -> F {
        // x is finite: the limits are not needed
        self.base.value_bulk(base, x, noise) + term.value(x)
    }
    // `backward_bulk` and `backward` are written out alike rather than through one helper
    // taking the base's pass as a closure: that closure was not inlined around PAU's backward,
    // and the fused kernel ran 4.6x slower (`benches/activation_kernels.rs`, elsa-pau).
    #[inline(always)]
    fn backward_bulk<F: Float>(
        &self,
        (base, term, _): &Self::Prepared<F>,
        x: F,
        noise: F,
        grad_out: F,
        param_grads: &mut [F],
    ) -> F {
        let n = param_grads.len() - 2;
        let (base_grads, elsa_grads) = param_grads.split_at_mut(n);
        let (d_alpha, d_beta) = elsa_grads.split_at_mut(1);
        self.base
            .backward_bulk(base, x, noise, grad_out, base_grads)
            + term.backward(x, grad_out, &mut d_alpha[0], &mut d_beta[0])
    }
    #[inline(always)]
    fn backward<F: Float>(
        &self,
        (base, term, _): &Self::Prepared<F>,
        x: F,
        noise: F,
        grad_out: F,
        param_grads: &mut [F],
    ) -> F {
        let n = param_grads.len() - 2;
        let (base_grads, elsa_grads) = param_grads.split_at_mut(n);
        let (d_alpha, d_beta) = elsa_grads.split_at_mut(1);
        self.base.backward(base, x, noise, grad_out, base_grads)
            + term.backward(x, grad_out, &mut d_alpha[0], &mut d_beta[0])
    }
}
