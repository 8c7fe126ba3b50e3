//! An activation given by its forward pass alone, in dfdx tensor operations; dfdx's autodiff
//! derives the backward pass.
//!
//! The quickest way to try a new function in a network: no derivative to write, and it runs
//! on any dfdx device. It is slower than an [`Activation`](crate::Activation) on the CPU (one
//! tensor per intermediate result, no fused kernel) and cannot be wrapped in
//! [`Elsa`](crate::Elsa), which needs the element-wise value and derivative. Once the
//! function is settled, writing it as a [`FixedActivation`](crate::FixedActivation) gives
//! both.
//!
//! It has no parameters and no settings: the type is the whole definition, so saving,
//! loading, `to_dtype` and `to_device` have nothing to keep.
//!
//! ```
//! use arelu::nn::autodiff::{Autodiff, AutodiffActivation};
//! use arelu::nn::composed::ComposeTape;
//! use arelu::Float;
//! use dfdx::prelude::*;
//!
//! /// Mish, x·tanh(ln(1 + eˣ)), from dfdx's operations.
//! struct MishOps;
//!
//! impl AutodiffActivation for MishOps {
//!     fn forward<S: Shape, E: Dtype + Float, D: Device<E>, T: ComposeTape<E, D>>(
//!         x: Tensor<S, E, D, T>,
//!     ) -> Tensor<S, E, D, T> {
//!         // `with_empty_tape`: the second use of `x`, whose gradient dfdx adds to the first's
//!         x.with_empty_tape() * (x.exp() + E::one()).ln().tanh()
//!     }
//! }
//!
//! let dev = Cpu::default();
//! let model = dev.build_module::<(Linear<2, 3>, Autodiff<MishOps>, Linear<3, 1>), f64>();
//! let x = dev.tensor([[0.5, -1.0]]);
//! let grads = model.forward(x.trace(model.alloc_grads())).sum().backward();
//! assert!(grads.get(&model.0.weight).array()[0][0].is_finite());
//! ```

use std::fmt;
use std::marker::PhantomData;

use dfdx::nn::{Module, NonMutableModule, ZeroSizedModule};
use dfdx::shapes::{Dtype, Shape};
use dfdx::tensor::Tensor;
use dfdx::tensor_ops::Device;

use super::composed::ComposeTape;
use crate::activation::Float;

/// An element-wise function written with dfdx tensor operations; [`Autodiff<Self>`] is its
/// layer. `forward` is an associated function (no `self`), so the function can carry no
/// settings that a dfdx conversion would lose.
pub trait AutodiffActivation: 'static {
    /// `f(x)` for every element of `x`, keeping `x`'s tape (use
    /// `x.with_empty_tape()` for a second use of `x`).
    fn forward<S: Shape, E: Dtype + Float, D: Device<E>, T: ComposeTape<E, D>>(
        x: Tensor<S, E, D, T>,
    ) -> Tensor<S, E, D, T>;
}

/// The dfdx layer, and its builder, of an [`AutodiffActivation`]: a zero-sized module like
/// dfdx's own `ReLU`, for any device, dtype and shape.
///
/// # Shapes
/// Any shape `S`: `Tensor<S, E, D, T>` → `Tensor<S, E, D, T>`.
pub struct Autodiff<A>(PhantomData<fn() -> A>);

impl<A> Default for Autodiff<A> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<A> Clone for Autodiff<A> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<A> Copy for Autodiff<A> {}

impl<A> fmt::Debug for Autodiff<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Autodiff<{}>", std::any::type_name::<A>())
    }
}

impl<A: AutodiffActivation> ZeroSizedModule for Autodiff<A> {}
impl<A: AutodiffActivation> NonMutableModule for Autodiff<A> {}

impl<A, S, E, D, T> Module<Tensor<S, E, D, T>> for Autodiff<A>
where
    A: AutodiffActivation,
    S: Shape,
    E: Dtype + Float,
    D: Device<E>,
    T: ComposeTape<E, D>,
{
    type Output = Tensor<S, E, D, T>;
    type Error = D::Err;

    fn try_forward(&self, x: Tensor<S, E, D, T>) -> Result<Self::Output, D::Err> {
        Ok(A::forward(x))
    }
}

#[cfg(test)]
mod tests {
    use dfdx::optim::{Sgd, SgdConfig};
    use dfdx::prelude::*;

    use super::*;
    use crate::activations::{FixedActivation, Swish};
    use crate::nn::Act;

    /// Swish from dfdx's operations, against the crate's own `Swish` (fused kernels).
    struct SwishOps;

    impl AutodiffActivation for SwishOps {
        fn forward<S: Shape, E: Dtype + Float, D: Device<E>, T: ComposeTape<E, D>>(
            x: Tensor<S, E, D, T>,
        ) -> Tensor<S, E, D, T> {
            x.with_empty_tape() * x.sigmoid()
        }
    }

    #[test]
    fn values_and_gradients_equal_the_fused_layer() {
        let dev = Cpu::default();
        let data = [-30.0, -2.5, -0.25, 0.0, 0.5, 3.0, 40.0];
        let x = dev.tensor(data);
        let ops = Autodiff::<SwishOps>::default();
        let fused = dev.build_module::<Act<Swish>, f64>();
        let y_ops = ops.forward(x.leaky_trace());
        let y_fused = fused.forward(x.leaky_trace());
        for (a, b) in y_ops.array().iter().zip(y_fused.array()) {
            assert!((a - b).abs() <= 1e-12 * (1.0 + b.abs()), "{a} vs {b}");
        }
        // d/dx Σ (xᵢ + 1)·f(xᵢ) = (xᵢ + 1)·f'(xᵢ): a different weight per element
        let weights = dev.tensor(data.map(|v| v + 1.0));
        let g_ops = (y_ops * weights.clone()).sum().backward();
        let g_fused = (y_fused * weights).sum().backward();
        let (a, b) = (g_ops.get(&x).array(), g_fused.get(&x).array());
        for i in 0..data.len() {
            let expected = (data[i] + 1.0) * Swish.df(data[i], 0.5);
            assert!((a[i] - expected).abs() <= 1e-12 * (1.0 + expected.abs()));
            assert!((b[i] - expected).abs() <= 1e-12 * (1.0 + expected.abs()));
        }
    }

    #[test]
    fn it_builds_in_a_tuple_trains_and_survives_a_dtype_change() {
        let dev = Cpu::seed_from_u64(3);
        let mut model = dev.build_module::<(Linear<3, 4>, Autodiff<SwishOps>, Linear<4, 1>), f32>();
        let x = dev.tensor([[0.5f32, -1.0, 2.0], [1.5, 0.25, -0.5]]);
        let target = dev.tensor([[1.0f32], [-1.0]]);
        let loss = |y: Tensor<Rank2<2, 1>, f32, Cpu>| mse_loss(y, target.clone()).array();
        let before = loss(model.forward(x.clone()));
        let mut sgd = Sgd::new(&model, SgdConfig::default());
        for _ in 0..20 {
            let y = model.forward(x.trace(model.alloc_grads()));
            let grads = mse_loss(y, target.clone()).backward();
            sgd.update(&mut model, &grads).unwrap();
        }
        let after = loss(model.forward(x.clone()));
        assert!(after < before, "{after} vs {before}");
        let wide = model.clone().to_dtype::<f64>();
        let y64 = wide.forward(dev.tensor([[0.5f64, -1.0, 2.0]])).array()[0][0];
        let y32 = model.forward(dev.tensor([[0.5f32, -1.0, 2.0]])).array()[0][0];
        assert!((y64 - y32 as f64).abs() < 1e-5, "{y64} vs {y32}");
        assert!(format!("{:?}", model.1).contains("SwishOps"));
    }
}
