//! PReLU, the leaky ReLU with a learnable slope.

use crate::activation::Float;

use super::fixed::scaled;
use crate::activation::{check_param_count, Activation};
use crate::error::ActivationError;

/// `PReLU(x) = x` for `x ≥ 0`, `a·x` otherwise; `a = 0.25` initially (PyTorch's default;
/// dfdx's own PReLU starts at 0). Parameter `a`.
///
/// At `x = 0`, `∂/∂x = a` as in PyTorch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prelu {
    /// The negative slope.
    pub a: f64,
}

impl Default for Prelu {
    fn default() -> Self {
        Self { a: 0.25 }
    }
}

impl Activation for Prelu {
    type Prepared<F: Float> = F;

    fn name(&self) -> String {
        "prelu".into()
    }
    fn param_names(&self) -> Vec<String> {
        vec!["a".into()]
    }
    fn params(&self) -> Vec<f64> {
        vec![self.a]
    }
    fn set_params(&mut self, values: &[f64]) -> Result<(), ActivationError> {
        check_param_count("prelu", 1, values)?;
        self.a = values[0];
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
    fn value<F: Float>(&self, &a: &F, x: F, _noise: F) -> F {
        if x >= F::zero() || x.is_nan() {
            x
        } else {
            scaled(a, x)
        }
    }
    #[inline(always)]
    fn backward<F: Float>(&self, &a: &F, x: F, _noise: F, grad_out: F, param_grads: &mut [F]) -> F {
        if x > F::zero() {
            grad_out
        } else {
            param_grads[0] = param_grads[0] + grad_out * x;
            grad_out * a
        }
    }
}
