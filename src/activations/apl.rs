//! APL, the adaptive piecewise linear unit with `S` hinges.

use crate::activation::Float;

use super::fixed::{relu, scaled};
use crate::activation::{check_param_count, Activation};
use crate::error::ActivationError;

/// `APL(x) = max(0, x) + Σᵢ aᵢ·max(0, −x + bᵢ)` with `S` hinges (1 by default); every
/// `aᵢ = 0.2`, `bᵢ = 0.5` initially. Parameters, in order: `a0..a{S-1}`, `b0..b{S-1}`.
///
/// The hinge count is part of the type, so that a dfdx layer knows its parameter count:
/// `Apl<3>` has six parameters.
///
/// Kinks follow PyTorch's `clamp_min`, whose gradient passes at the boundary: `∂/∂x` of
/// `max(0, x)` is 1 at `x = 0`, and the hinge `i` is active at `x = bᵢ`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Apl<const S: usize = 1> {
    /// The slopes `aᵢ`.
    pub a: [f64; S],
    /// The hinge locations `bᵢ`.
    pub b: [f64; S],
}

impl<const S: usize> Default for Apl<S> {
    fn default() -> Self {
        Self {
            a: [0.2; S],
            b: [0.5; S],
        }
    }
}

impl<const S: usize> Activation for Apl<S> {
    type Prepared<F: Float> = ([F; S], [F; S]);

    fn name(&self) -> String {
        "apl".into()
    }
    fn param_names(&self) -> Vec<String> {
        (0..S)
            .map(|i| format!("a{i}"))
            .chain((0..S).map(|i| format!("b{i}")))
            .collect()
    }
    fn params(&self) -> Vec<f64> {
        self.a.iter().chain(&self.b).copied().collect()
    }
    fn set_params(&mut self, values: &[f64]) -> Result<(), ActivationError> {
        check_param_count("apl", 2 * S, values)?;
        self.a.copy_from_slice(&values[..S]);
        self.b.copy_from_slice(&values[S..]);
        Ok(())
    }
    fn num_params(&self) -> usize {
        2 * S
    }
    #[inline(always)]
    fn prepare<F: Float>(&self, params: &[F]) -> Self::Prepared<F> {
        (
            core::array::from_fn(|i| params[i]),
            core::array::from_fn(|i| params[S + i]),
        )
    }
    #[inline(always)]
    fn value<F: Float>(&self, (a, b): &Self::Prepared<F>, x: F, _noise: F) -> F {
        let mut y = relu(x);
        for i in 0..S {
            y = y + scaled(a[i], relu(b[i] - x));
        }
        y
    }
    #[inline(always)]
    fn backward<F: Float>(
        &self,
        (a, b): &Self::Prepared<F>,
        x: F,
        _noise: F,
        grad_out: F,
        param_grads: &mut [F],
    ) -> F {
        let mut dx = if x >= F::zero() { F::one() } else { F::zero() };
        for i in 0..S {
            let hinge = b[i] - x;
            if hinge >= F::zero() {
                dx = dx - a[i];
                param_grads[i] = param_grads[i] + grad_out * hinge;
                param_grads[S + i] = param_grads[S + i] + grad_out * a[i];
            }
        }
        grad_out * dx
    }
}
