//! The composed path: every activation written with dfdx's own tensor operations, so that
//! dfdx's autodiff derives the gradients.
//!
//! It serves two purposes. It runs on any dfdx device (the fused kernels are CPU-only), and
//! it is an independent check of the fused kernels' hand-written gradients: the tests compare
//! both paths, values and all gradients, for all 37 variants. It is slower (one tensor per
//! intermediate result) and is not what the layers run on the CPU.
//!
//! ```
//! use arelu::nn::composed::ComposedActivation;
//! use arelu::nn::fused::Noise;
//! use arelu::{Activation, Elsa, Swish};
//! use dfdx::prelude::*;
//!
//! let dev = Cpu::default();
//! let act = Elsa::<Swish>::default();
//! let params: Vec<Tensor<(), f64, Cpu>> =
//!     act.params().iter().map(|&v| dev.tensor(v)).collect();
//! let x = dev.tensor([-1.0, 0.5, 2.0]);
//! let y = act.composed(x, &params, Noise::Eval);
//! assert!((y.array()[2] - act.eval(2.0)).abs() < 1e-12);
//! ```

use dfdx::shapes::{Dtype, HasShape, Shape};
use dfdx::tensor::{Merge, NoneTape, PutTape, SplitTape, Tape, Tensor, WithEmptyTape};
use dfdx::tensor_ops::{BroadcastTo, ChooseFrom, Device, TryGe, TryGt, TryLt};

use super::fused::Noise;
use crate::activation::{cast, Activation, Float};
use crate::activations::*;
use crate::elsa::{Elsa, ALPHA_BOUNDS};

/// The tapes the composed path works with (dfdx's `OwnedTape` and `NoneTape`).
pub trait ComposeTape<E: Dtype, D: Device<E>>: Tape<E, D> + Merge<Self> + Merge<NoneTape> {}
impl<E: Dtype, D: Device<E>, T: Tape<E, D> + Merge<T> + Merge<NoneTape>> ComposeTape<E, D> for T {}

/// An activation written with dfdx tensor operations.
pub trait ComposedActivation: Activation {
    /// `f(x)` with parameter tensors `params` (0-d, in the order of
    /// [`Activation::param_names`]); stochastic activations read `noise` as the fused kernels
    /// do (element `i` in row-major order gets `noise.at(i)`).
    fn composed<S: Shape, E: Dtype + Float, D: Device<E>, T: ComposeTape<E, D>>(
        &self,
        x: Tensor<S, E, D, T>,
        params: &[Tensor<(), E, D>],
        noise: Noise,
    ) -> Tensor<S, E, D, T>;
}

/// A parameter broadcast to `shape`, on the tape type `T` so that its gradient is recorded.
fn param<S: Shape, E: Dtype, D: Device<E>, T: ComposeTape<E, D>>(
    p: &Tensor<(), E, D>,
    shape: &S,
) -> Tensor<S, E, D, T> {
    p.retaped::<T>().broadcast_like::<S, S::AllAxes>(shape)
}

/// A constant broadcast to `shape`, without gradient.
fn constant<S: Shape, E: Dtype + Float, D: Device<E>>(
    device: &D,
    value: f64,
    shape: &S,
) -> Tensor<S, E, D> {
    device
        .tensor_from_vec(vec![cast::<E>(value)], ())
        .broadcast_like::<S, S::AllAxes>(shape)
}

/// `x ≥ 0 ? x : slope·x` (the LeakyReLU family).
fn leaky<S: Shape, E: Dtype + Float, D: Device<E>, T: ComposeTape<E, D>>(
    x: Tensor<S, E, D, T>,
    slope: Tensor<S, E, D, T>,
) -> Tensor<S, E, D, T> {
    let negative = x.with_empty_tape() * slope;
    x.ge(E::zero()).choose(x, negative)
}

/// `x > 0 ? x : scale·(exp(x / a) − 1)` (the ELU family).
fn exponential_linear<S: Shape, E: Dtype + Float, D: Device<E>, T: ComposeTape<E, D>>(
    x: Tensor<S, E, D, T>,
    scale: f64,
    inner: f64,
) -> Tensor<S, E, D, T> {
    let negative = ((x.with_empty_tape() * cast::<E>(inner)).exp() - E::one()) * cast::<E>(scale);
    x.gt(E::zero()).choose(x, negative)
}

/// `Σⱼ cⱼ·xʲ` with parameter tensors `c`, for an `x` whose tape was split off: every use
/// of `x` records on a tape of its own, and [`with_tape`] puts the input's tape back.
fn polynomial<S: Shape, E: Dtype + Float, D: Device<E>, T: ComposeTape<E, D>>(
    x: &Tensor<S, E, D>,
    c: &[Tensor<(), E, D>],
) -> Tensor<S, E, D, T> {
    let shape = *x.shape();
    let mut sum = param::<S, E, D, T>(&c[0], &shape);
    for (j, cj) in c.iter().enumerate().skip(1) {
        sum = sum + param::<S, E, D, T>(cj, &shape) * x.retaped::<T>().powi(j as i32);
    }
    sum
}

/// Merges the input's `tape` (everything recorded upstream) into `y`'s. A composed form that
/// uses its input several times splits the tape off first and must hand it back here, or
/// the gradient would stop at this layer.
fn with_tape<S: Shape, E: Dtype, D: Device<E>, T: ComposeTape<E, D>>(
    y: Tensor<S, E, D, T>,
    tape: T,
) -> Tensor<S, E, D, T> {
    let (y, own) = y.split_tape();
    y.put_tape(own.merge(tape))
}

macro_rules! composed_fixed {
    ($($ty:ty => |$act:ident, $x:ident, $noise:ident| $body:expr;)*) => {$(
        impl ComposedActivation for $ty {
            #[allow(unused_variables)]
            fn composed<S: Shape, E: Dtype + Float, D: Device<E>, T: ComposeTape<E, D>>(
                &self,
                $x: Tensor<S, E, D, T>,
                _params: &[Tensor<(), E, D>],
                $noise: Noise,
            ) -> Tensor<S, E, D, T> {
                let $act = self;
                $body
            }
        }
    )*};
}

composed_fixed! {
    Relu => |act, x, noise| x.relu();
    Relu6 => |act, x, noise| x.clamp(0.0, 6.0);
    LeakyRelu => |act, x, noise| {
        let slope = constant(x.device(), act.slope(), x.shape()).retaped::<T>();
        leaky(x, slope)
    };
    Rrelu => |act, x, noise| {
        let shape = *x.shape();
        let n = shape.num_elements();
        let slopes: Vec<E> = (0..n).map(|i| act.slope(noise.at::<E>(i))).collect();
        let slope = x.device().tensor_from_vec(slopes, shape).retaped::<T>();
        leaky(x, slope)
    };
    Celu => |act, x, noise| exponential_linear(x, act.alpha(), 1.0 / act.alpha());
    Elu => |act, x, noise| exponential_linear(x, act.alpha(), 1.0);
    Selu => |act, x, noise| {
        exponential_linear(x, Selu::ALPHA, 1.0) * cast::<E>(Selu::LAMBDA)
    };
    Gelu => |act, x, noise| {
        let cube = x.with_empty_tape().powi(3) * cast::<E>(Gelu::CUBIC);
        let inner = (cube + x.with_empty_tape()) * cast::<E>(Gelu::K);
        x * (inner.tanh() + E::one()) * cast::<E>(0.5)
    };
    Maxout => |act, x, noise| x;
    Sigmoid => |act, x, noise| x.sigmoid();
    Softplus => |act, x, noise| {
        let (beta, threshold) = act.settings();
        let bx = x.with_empty_tape() * cast::<E>(beta);
        let above = bx.gt(cast::<E>(threshold));
        let soft = (bx.exp() + E::one()).ln() / cast::<E>(beta);
        above.choose(x, soft)
    };
    Swish => |act, x, noise| x.with_empty_tape() * x.sigmoid();
    Tanh => |act, x, noise| x.tanh();
}

impl<const N: usize> ComposedActivation for Apl<N> {
    fn composed<S: Shape, E: Dtype + Float, D: Device<E>, T: ComposeTape<E, D>>(
        &self,
        x: Tensor<S, E, D, T>,
        params: &[Tensor<(), E, D>],
        _noise: Noise,
    ) -> Tensor<S, E, D, T> {
        let shape = *x.shape();
        let (x, tape) = x.split_tape();
        let mut y = x.retaped::<T>().relu();
        for i in 0..N {
            let a = param::<S, E, D, T>(&params[i], &shape);
            let b = param::<S, E, D, T>(&params[N + i], &shape);
            y = y + a * (b - x.retaped::<T>()).relu();
        }
        with_tape(y, tape)
    }
}

impl ComposedActivation for Mixture {
    fn composed<S: Shape, E: Dtype + Float, D: Device<E>, T: ComposeTape<E, D>>(
        &self,
        x: Tensor<S, E, D, T>,
        params: &[Tensor<(), E, D>],
        _noise: Noise,
    ) -> Tensor<S, E, D, T> {
        let shape = *x.shape();
        let p = param::<S, E, D, T>(&params[0], &shape);
        let one_minus_p = ((params[0].retaped::<T>() * -E::one()) + E::one())
            .broadcast_like::<S, S::AllAxes>(&shape);
        p * x.with_empty_tape() + one_minus_p * x.relu()
    }
}

impl ComposedActivation for Pau {
    fn composed<S: Shape, E: Dtype + Float, D: Device<E>, T: ComposeTape<E, D>>(
        &self,
        x: Tensor<S, E, D, T>,
        params: &[Tensor<(), E, D>],
        _noise: Noise,
    ) -> Tensor<S, E, D, T> {
        let shape = *x.shape();
        let (x, tape) = x.split_tape();
        let numerator = polynomial::<S, E, D, T>(&x, &params[..6]);
        let mut denominator = constant(x.device(), 1.0, &shape).retaped::<T>();
        for (k, b) in params[6..].iter().enumerate() {
            // |b| on the 0-d tensor, then broadcast.
            let b = b
                .retaped::<T>()
                .abs()
                .broadcast_like::<S, S::AllAxes>(&shape);
            denominator = denominator + b * x.retaped::<T>().abs().powi(k as i32 + 1);
        }
        with_tape(numerator / denominator, tape)
    }
}

impl ComposedActivation for Prelu {
    fn composed<S: Shape, E: Dtype + Float, D: Device<E>, T: ComposeTape<E, D>>(
        &self,
        x: Tensor<S, E, D, T>,
        params: &[Tensor<(), E, D>],
        _noise: Noise,
    ) -> Tensor<S, E, D, T> {
        let slope = param::<S, E, D, T>(&params[0], x.shape());
        leaky(x, slope)
    }
}

impl<const K: usize> ComposedActivation for Slaf<K> {
    fn composed<S: Shape, E: Dtype + Float, D: Device<E>, T: ComposeTape<E, D>>(
        &self,
        x: Tensor<S, E, D, T>,
        params: &[Tensor<(), E, D>],
        _noise: Noise,
    ) -> Tensor<S, E, D, T> {
        let (x, tape) = x.split_tape();
        with_tape(polynomial::<S, E, D, T>(&x, params), tape)
    }
}

/// `(C(α), σ(β))` broadcast to `shape`.
fn elsa_scales<S: Shape, E: Dtype + Float, D: Device<E>, T: ComposeTape<E, D>>(
    alpha: &Tensor<(), E, D>,
    beta: &Tensor<(), E, D>,
    shape: &S,
) -> [Tensor<S, E, D, T>; 2] {
    let clamped = alpha.retaped::<T>().clamp(ALPHA_BOUNDS.0, ALPHA_BOUNDS.1);
    let sigma = beta.retaped::<T>().sigmoid();
    [
        clamped.broadcast_like::<S, S::AllAxes>(shape),
        sigma.broadcast_like::<S, S::AllAxes>(shape),
    ]
}

impl ComposedActivation for Arelu {
    fn composed<S: Shape, E: Dtype + Float, D: Device<E>, T: ComposeTape<E, D>>(
        &self,
        x: Tensor<S, E, D, T>,
        params: &[Tensor<(), E, D>],
        _noise: Noise,
    ) -> Tensor<S, E, D, T> {
        let [negative, sigma] = elsa_scales::<S, E, D, T>(&params[0], &params[1], x.shape());
        let positive = sigma + E::one();
        let mask = x.lt(E::zero());
        mask.choose(negative * x.with_empty_tape(), positive * x)
    }
}

impl<A: ComposedActivation> ComposedActivation for Elsa<A> {
    fn composed<S: Shape, E: Dtype + Float, D: Device<E>, T: ComposeTape<E, D>>(
        &self,
        x: Tensor<S, E, D, T>,
        params: &[Tensor<(), E, D>],
        noise: Noise,
    ) -> Tensor<S, E, D, T> {
        let n = params.len() - 2;
        let base = self.base.composed(x.with_empty_tape(), &params[..n], noise);
        let [negative, positive] = elsa_scales::<S, E, D, T>(&params[n], &params[n + 1], x.shape());
        let mask = x.lt(E::zero());
        let attention = mask.choose(negative * x.with_empty_tape(), positive * x);
        base + attention
    }
}
