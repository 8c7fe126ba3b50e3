//! SLAF, the self-learnable polynomial activation with `K` coefficients.

use crate::activation::Float;

use crate::activation::{check_param_count, Activation};
use crate::error::ActivationError;

/// `SLAF(x) = Σ_{i=0..K−1} cᵢ·xⁱ`, every `cᵢ = 1` initially, `K = 2` by default (which makes
/// it the affine `1 + x`). Parameters `c0..c{K-1}`; `x⁰ = 1` everywhere, 0 included.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slaf<const K: usize = 2> {
    /// The coefficients `cᵢ`.
    pub c: [f64; K],
}

impl<const K: usize> Default for Slaf<K> {
    fn default() -> Self {
        Self { c: [1.0; K] }
    }
}

impl<const K: usize> Activation for Slaf<K> {
    type Prepared<F: Float> = [F; K];

    fn name(&self) -> String {
        "slaf".into()
    }
    fn param_names(&self) -> Vec<String> {
        (0..K).map(|i| format!("c{i}")).collect()
    }
    fn params(&self) -> Vec<f64> {
        self.c.to_vec()
    }
    fn set_params(&mut self, values: &[f64]) -> Result<(), ActivationError> {
        check_param_count("slaf", K, values)?;
        self.c.copy_from_slice(values);
        Ok(())
    }
    fn num_params(&self) -> usize {
        K
    }
    #[inline(always)]
    fn prepare<F: Float>(&self, params: &[F]) -> [F; K] {
        core::array::from_fn(|i| params[i])
    }
    #[inline(always)]
    fn value<F: Float>(&self, c: &[F; K], x: F, _noise: F) -> F {
        // Horner's scheme, started from the leading coefficient so that an infinite `x`
        // gives the polynomial's limit rather than `0·∞ = NaN`.
        match c.split_last() {
            Some((&leading, rest)) => rest.iter().rev().fold(leading, |acc, &ci| acc * x + ci),
            None => F::zero(),
        }
    }
    #[inline(always)]
    fn backward<F: Float>(
        &self,
        c: &[F; K],
        x: F,
        _noise: F,
        grad_out: F,
        param_grads: &mut [F],
    ) -> F {
        let mut power = F::one(); // xⁱ
        let mut previous_power = F::zero(); // xⁱ⁻¹, 0 for i = 0
        let mut dx = F::zero();
        for i in 0..K {
            param_grads[i] = param_grads[i] + grad_out * power;
            if i > 0 {
                dx = dx + c[i] * F::from(i).unwrap_or_else(F::nan) * previous_power;
            }
            previous_power = power;
            power = power * x;
        }
        grad_out * dx
    }
}
