//! Maxout: the maximum over each group of `k` consecutive channels.
//!
//! Maxout is not element-wise for `k > 1`: it reads `k` channels to write one, and divides the
//! channel count by `k`. The paper's reference implementation uses `k = 1`, which makes Maxout
//! the identity, and that is the default here. The [`Activation`](crate::Activation)
//! implementation (the element-wise view that dfdx layers and curves use) is exactly that
//! `k = 1` case; layers refuse a Maxout with `k > 1`
//! ([`Activation::check_elementwise`](crate::Activation::check_elementwise)).
//! For `k > 1`, [`Maxout::forward_grouped`] and [`Maxout::backward_grouped`] give the
//! shape-aware definition over a `[outer, channels, inner]` buffer.

use crate::activation::Float;

use super::fixed::{require, FixedActivation};
use crate::error::ActivationError;

/// Maxout over groups of `k` consecutive channels; `k = 1` (the identity) by default.
///
/// ```
/// use arelu::Maxout;
///
/// // 1 sample, 4 channels, 2 positions; groups of 2 channels.
/// let maxout = Maxout::new(2).unwrap();
/// let x = [1.0, -1.0, /* c1 */ 3.0, -5.0, /* c2 */ 0.0, 2.0, /* c3 */ 0.5, 1.0];
/// let y = maxout.forward_grouped(&x, 4, 2).unwrap();
/// assert_eq!(y, vec![3.0, -1.0, 0.5, 2.0]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Maxout {
    group: usize,
}

impl Default for Maxout {
    fn default() -> Self {
        Self { group: 1 }
    }
}

impl Maxout {
    /// A Maxout over groups of `group` channels.
    ///
    /// # Errors
    /// When `group` is 0.
    pub fn new(group: usize) -> Result<Self, ActivationError> {
        require(group > 0, "maxout", "the group size must be at least 1")?;
        Ok(Self { group })
    }

    /// The group size `k`.
    pub fn group(&self) -> usize {
        self.group
    }

    fn check_shape(
        &self,
        len: usize,
        channels: usize,
        inner: usize,
    ) -> Result<usize, ActivationError> {
        let shape_error = |reason: String| ActivationError::Shape {
            activation: "maxout",
            reason,
        };
        if !channels.is_multiple_of(self.group) {
            return Err(shape_error(format!(
                "{channels} channels are not divisible by the group size {}",
                self.group
            )));
        }
        let per_outer = channels
            .checked_mul(inner)
            .filter(|&n| n > 0)
            .ok_or_else(|| shape_error(format!("bad shape: {channels} channels x {inner}")))?;
        if !len.is_multiple_of(per_outer) {
            return Err(shape_error(format!(
                "{len} elements do not divide into {channels} channels of {inner}"
            )));
        }
        Ok(len / per_outer)
    }

    /// Maxout of `input`, laid out `[outer, channels, inner]` (row-major, e.g. NCHW with
    /// `inner = H·W`). Returns `[outer, channels / k, inner]`; NaN in a group gives NaN.
    ///
    /// # Errors
    /// When `channels` is not a multiple of `k` or `input.len()` does not fit the shape.
    pub fn forward_grouped<F: Float>(
        &self,
        input: &[F],
        channels: usize,
        inner: usize,
    ) -> Result<Vec<F>, ActivationError> {
        let outer = self.check_shape(input.len(), channels, inner)?;
        let groups = channels / self.group;
        let mut out = Vec::with_capacity(outer * groups * inner);
        for o in 0..outer {
            for g in 0..groups {
                for i in 0..inner {
                    let (_, best) = self.argmax(input, channels, inner, o, g, i);
                    out.push(best);
                }
            }
        }
        Ok(out)
    }

    /// The gradient of [`Maxout::forward_grouped`]: `grad_out` (`[outer, channels / k, inner]`)
    /// is routed to the first maximum of each group.
    ///
    /// # Errors
    /// As [`Maxout::forward_grouped`], and when `grad_out` has the wrong length.
    pub fn backward_grouped<F: Float>(
        &self,
        input: &[F],
        channels: usize,
        inner: usize,
        grad_out: &[F],
    ) -> Result<Vec<F>, ActivationError> {
        let outer = self.check_shape(input.len(), channels, inner)?;
        let groups = channels / self.group;
        if grad_out.len() != outer * groups * inner {
            return Err(ActivationError::Shape {
                activation: "maxout",
                reason: format!(
                    "grad_out has {} elements, expected {}",
                    grad_out.len(),
                    outer * groups * inner
                ),
            });
        }
        let mut grad_in = vec![F::zero(); input.len()];
        let mut k = 0;
        for o in 0..outer {
            for g in 0..groups {
                for i in 0..inner {
                    let (at, _) = self.argmax(input, channels, inner, o, g, i);
                    grad_in[at] = grad_in[at] + grad_out[k];
                    k += 1;
                }
            }
        }
        Ok(grad_in)
    }

    /// Index and value of the first maximum of one group (NaN wins, as in PyTorch).
    fn argmax<F: Float>(
        &self,
        input: &[F],
        channels: usize,
        inner: usize,
        o: usize,
        g: usize,
        i: usize,
    ) -> (usize, F) {
        let index = |c: usize| (o * channels + g * self.group + c) * inner + i;
        let mut at = index(0);
        for c in 1..self.group {
            let candidate = index(c);
            if input[at].is_nan() {
                break;
            }
            if input[candidate] > input[at] || input[candidate].is_nan() {
                at = candidate;
            }
        }
        (at, input[at])
    }
}

impl FixedActivation for Maxout {
    const NAME: &'static str = "maxout";
    fn config(&self) -> Vec<f64> {
        vec![self.group as f64]
    }
    fn from_config(config: &[f64]) -> Result<Self, ActivationError> {
        crate::activation::check_config_len(Self::NAME, 1, config)?;
        let group = config[0];
        require(
            group.fract() == 0.0 && (1.0..=u32::MAX as f64).contains(&group),
            "maxout",
            format!("group size {group} is not a positive integer"),
        )?;
        Self::new(group as usize)
    }
    #[inline(always)]
    fn f<F: Float>(&self, x: F, _noise: F) -> F {
        x
    }
    #[inline(always)]
    fn df<F: Float>(&self, _x: F, _noise: F) -> F {
        F::one()
    }
    fn require_elementwise(&self) -> Result<(), ActivationError> {
        require(
            self.group == 1,
            "maxout",
            format!(
                "group size {} is not element-wise; use Maxout::forward_grouped",
                self.group
            ),
        )
    }
}
