//! AReLU, the paper's attention-based ReLU (Eq. 7).

use crate::activation::Float;

use crate::activation::{check_param_count, Activation};
use crate::elsa::{ElsaTerm, DEFAULT_ALPHA, DEFAULT_BETA};
use crate::error::ActivationError;

/// `AReLU(x) = C(α)·x` for `x < 0`, `(1 + σ(β))·x` for `x ≥ 0`; `α = 0.9`, `β = 2.0`
/// initially. Parameters `alpha`, `beta`.
///
/// It is ReLU plus the ELSA term, written in its fused form, and equals
/// [`Elsa<Relu>`](crate::Elsa) in value and in every gradient. At `x = 0` the derivative is
/// `σ(β)`: ReLU'(0) = 0 as in PyTorch plus the ELSA term's `x ≥ 0` branch. (The reference
/// PyTorch module, written with two ReLUs, gives 0 there.) The gradient of `α` is cut when
/// `α` is outside `[0.01, 0.99]`, as the clamp's gradient is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Arelu {
    /// `α`.
    pub alpha: f64,
    /// `β`.
    pub beta: f64,
}

impl Arelu {
    /// An AReLU with initial values `alpha`, `beta`.
    pub fn new(alpha: f64, beta: f64) -> Self {
        Self { alpha, beta }
    }
}

impl Default for Arelu {
    fn default() -> Self {
        Self::new(DEFAULT_ALPHA, DEFAULT_BETA)
    }
}

impl Activation for Arelu {
    type Prepared<F: Float> = ElsaTerm<F>;

    fn name(&self) -> String {
        "arelu".into()
    }
    fn param_names(&self) -> Vec<String> {
        vec!["alpha".into(), "beta".into()]
    }
    fn params(&self) -> Vec<f64> {
        vec![self.alpha, self.beta]
    }
    fn set_params(&mut self, values: &[f64]) -> Result<(), ActivationError> {
        check_param_count("arelu", 2, values)?;
        self.alpha = values[0];
        self.beta = values[1];
        Ok(())
    }
    fn num_params(&self) -> usize {
        2
    }
    #[inline(always)]
    fn prepare<F: Float>(&self, params: &[F]) -> ElsaTerm<F> {
        ElsaTerm::new(params[0], params[1])
    }
    #[inline(always)]
    fn value<F: Float>(&self, t: &ElsaTerm<F>, x: F, _noise: F) -> F {
        if x < F::zero() {
            t.negative_scale * x
        } else {
            (F::one() + t.positive_scale) * x
        }
    }
    #[inline(always)]
    fn backward<F: Float>(
        &self,
        t: &ElsaTerm<F>,
        x: F,
        _noise: F,
        grad_out: F,
        param_grads: &mut [F],
    ) -> F {
        // ReLU's share (its derivative, 0 at x = 0 as in PyTorch) plus the ELSA term's.
        let relu_share = if x > F::zero() { grad_out } else { F::zero() };
        let (d_alpha, d_beta) = param_grads.split_at_mut(1);
        t.backward(x, grad_out, &mut d_alpha[0], &mut d_beta[0]) + relu_share
    }
}
