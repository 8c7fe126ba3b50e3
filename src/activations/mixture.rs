//! Mixture: a learnable blend of the identity and ReLU.

use crate::activation::Float;

use super::fixed::{relu, scaled};
use crate::activation::{check_param_count, Activation};
use crate::error::ActivationError;

/// `Mixture(x) = p·x + (1 − p)·max(0, x)`, `p = 0` initially (parameter `p`).
///
/// At `x = 0`, `∂/∂x = p` (ReLU'(0) = 0 as in PyTorch).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Mixture {
    /// The weight of the identity.
    pub p: f64,
}

impl Activation for Mixture {
    type Prepared<F: Float> = F;

    fn name(&self) -> String {
        "mixture".into()
    }
    fn param_names(&self) -> Vec<String> {
        vec!["p".into()]
    }
    fn params(&self) -> Vec<f64> {
        vec![self.p]
    }
    fn set_params(&mut self, values: &[f64]) -> Result<(), ActivationError> {
        check_param_count("mixture", 1, values)?;
        self.p = values[0];
        Ok(())
    }
    fn num_params(&self) -> usize {
        1
    }
    #[inline(always)]
    fn prepare<F: Float>(&self, params: &[F]) -> F {
        params[0]
    }
    #[inline(always)]
    fn value<F: Float>(&self, &p: &F, x: F, _noise: F) -> F {
        scaled(p, x) + scaled(F::one() - p, relu(x))
    }
    #[inline(always)]
    fn backward<F: Float>(&self, &p: &F, x: F, _noise: F, grad_out: F, param_grads: &mut [F]) -> F {
        // ∂/∂p = x − max(0, x) = min(x, 0), written so that x = +∞ gives 0, not ∞ − ∞
        // (NaN stays NaN)
        let negative_part = if x > F::zero() { F::zero() } else { x };
        param_grads[0] = param_grads[0] + grad_out * negative_part;
        if x > F::zero() {
            grad_out
        } else {
            grad_out * p
        }
    }
}
