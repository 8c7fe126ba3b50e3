//! A convolution followed by max pooling, as one layer with one backward pass.
//!
//! [`ConvPool2D<IN, OUT, K, POOL>`] computes what [`Conv2D<IN, OUT, K>`] followed by
//! [`MaxPool2D<POOL>`] computes (the same values and gradients up to the order of the sums),
//! with the same parameters, names and initialisation as the `Conv2D`. It is faster for two
//! reasons:
//!
//! * the convolution's full-size output never becomes a dfdx tensor: a direct convolution,
//!   vectorised over the output channels, writes one image at a time into a per-thread
//!   buffer, pooled while it is still in cache; only the pooled maps (a `POOL`² fraction)
//!   are written out (see `forward.rs` for the layout);
//! * the backward pass starts from the pooled gradient. Only the maximum of each window gets
//!   a gradient, so instead of convolving a mostly-zero full-size gradient (what the
//!   separate layers do, at the cost of a whole convolution) it adds each pooled gradient's
//!   contribution at its window's maximum alone: a `POOL`² fraction of the work, less again
//!   where the gradient is zero (after a ReLU, for half of the outputs).
//!
//! The one difference from the separate layers is the arithmetic of a zero gradient: the
//! separate layers multiply it with every input under the window (so an infinite input there
//! gives NaN), this layer skips it. Every finite case agrees.
//!
//! Shapes follow [`crate::nn::conv`] and [`crate::nn::pool`]: `(B, IN, H, W)` gives
//! `(B, OUT, (H - K + 1) / POOL, (W - K + 1) / POOL)` with runtime spatial dimensions, and
//! `(IN, H, W)` gives `(OUT, .., ..)`. `try_forward` returns `Err(CpuError::WrongNumElements)`
//! if the image is smaller than the kernel or the convolution's output smaller than one
//! pooling window. The device is [`Cpu`]; `E` is any `Dtype + Float` (`f32`, `f64`).
//!
//! ```
//! use arelu::nn::conv::Conv2D;
//! use arelu::nn::conv_pool::ConvPool2D;
//! use arelu::nn::pool::MaxPool2D;
//! use dfdx::prelude::*;
//!
//! let dev = Cpu::default();
//! let combined = dev.build_module::<ConvPool2D<1, 4, 3, 2>, f32>();
//! let x: Tensor<(usize, Const<1>, usize, usize), f32, _> =
//!     dev.sample_normal_like(&(2, Const, 10, 10));
//! let y = combined.forward(x.clone());
//! assert_eq!(y.shape(), &(2, Const::<4>, 4, 4));
//!
//! // the same as the two layers, with the same weight and bias, up to rounding
//! let mut conv = dev.build_module::<Conv2D<1, 4, 3>, f32>();
//! conv.weight = combined.weight.clone();
//! conv.bias = combined.bias.clone();
//! let separate = MaxPool2D::<2>.forward(conv.forward(x));
//! for (a, b) in y.as_vec().iter().zip(separate.as_vec()) {
//!     assert!((a - b).abs() < 1e-5);
//! }
//! ```
//!
//! [`Conv2D<IN, OUT, K>`]: crate::nn::conv::Conv2D
//! [`MaxPool2D<POOL>`]: crate::nn::pool::MaxPool2D

use dfdx::nn::{
    BuildModule, BuildOnDevice, Module, ModuleVisitor, NonMutableModule, TensorCollection,
};
use dfdx::shapes::{Const, Dim, Dtype, Rank1, Rank4};
use dfdx::tensor::{Cpu, CpuError, Storage, Tape, Tensor};
use dfdx::tensor_ops::Device;
use rand::distributions::uniform::SampleUniform;

use super::conv::conv_init;
use super::dims::{ConvDims, PoolDims};
use super::tape::{forward_one_image, record_conv_op, BatchedOut, ConvOpOutput};
use crate::activation::Float;

mod backward;
mod forward;

use backward::{backward, Saved};

/// Builder for a `K`x`K` convolution from `IN` to `OUT` channels (stride 1, no padding, with
/// bias) followed by `POOL`x`POOL` max pooling (stride `POOL`), as one layer. Build it with
/// `dev.build_module::<ConvPool2D<IN, OUT, K, POOL>, E>()`. See the [module docs](self).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ConvPool2D<
    const IN: usize,
    const OUT: usize,
    const K: usize,
    const POOL: usize,
    const INPUT_GRAD: bool = true,
>;

/// A [`ConvPool2D`] for the first layer of a network, whose input is data: like
/// [`InputConv2D`](crate::nn::conv::InputConv2D), it computes no gradient for its input.
pub type InputConvPool2D<const IN: usize, const OUT: usize, const K: usize, const POOL: usize> =
    ConvPool2D<IN, OUT, K, POOL, false>;

impl<const IN: usize, const OUT: usize, const K: usize, const P: usize, const G: bool, E, D>
    BuildOnDevice<D, E> for ConvPool2D<IN, OUT, K, P, G>
where
    E: Dtype,
    D: Device<E>,
    DeviceConvPool2D<IN, OUT, K, P, E, D, G>: BuildModule<D, E>,
{
    type Built = DeviceConvPool2D<IN, OUT, K, P, E, D, G>;
    fn try_build_on_device(device: &D) -> Result<Self::Built, D::Err> {
        Self::Built::try_build(device)
    }
}

/// A built [`ConvPool2D`]: the convolution's `weight` `(OUT, IN, K, K)` and `bias` `(OUT,)`,
/// visited by dfdx's [`TensorCollection`] under those names, initialised as PyTorch does
/// (`U(-1/sqrt(IN*K*K), 1/sqrt(IN*K*K))`), like [`DeviceConv2D`](crate::nn::conv::DeviceConv2D).
#[derive(Debug, Clone)]
pub struct DeviceConvPool2D<
    const IN: usize,
    const OUT: usize,
    const K: usize,
    const POOL: usize,
    E: Dtype,
    D: Storage<E>,
    const INPUT_GRAD: bool = true,
> {
    /// Kernel, shape `(OUT, IN, K, K)`.
    pub weight: Tensor<Rank4<OUT, IN, K, K>, E, D>,
    /// Bias, shape `(OUT,)`.
    pub bias: Tensor<Rank1<OUT>, E, D>,
}

impl<const IN: usize, const OUT: usize, const K: usize, const P: usize, E, D, const G: bool>
    NonMutableModule for DeviceConvPool2D<IN, OUT, K, P, E, D, G>
where
    E: Dtype,
    D: Storage<E>,
{
}

impl<const IN: usize, const OUT: usize, const K: usize, const P: usize, E, D, const G: bool>
    TensorCollection<E, D> for DeviceConvPool2D<IN, OUT, K, P, E, D, G>
where
    E: Dtype + Float + SampleUniform,
    D: Device<E>,
{
    type To<E2: Dtype, D2: Device<E2>> = DeviceConvPool2D<IN, OUT, K, P, E2, D2, G>;

    fn iter_tensors<V: ModuleVisitor<Self, E, D>>(
        visitor: &mut V,
    ) -> Result<Option<Self::To<V::E2, V::D2>>, V::Err> {
        visitor.visit_fields(
            (
                Self::tensor(
                    "weight",
                    |s| &s.weight,
                    |s| &mut s.weight,
                    conv_init::<IN, K, _, _, _>(),
                ),
                Self::tensor(
                    "bias",
                    |s| &s.bias,
                    |s| &mut s.bias,
                    conv_init::<IN, K, _, _, _>(),
                ),
            ),
            |(weight, bias)| DeviceConvPool2D { weight, bias },
        )
    }
}

impl<
        const IN: usize,
        const OUT: usize,
        const K: usize,
        const P: usize,
        const G: bool,
        E,
        B,
        H,
        W,
        T,
    > Module<Tensor<(B, Const<IN>, H, W), E, Cpu, T>> for DeviceConvPool2D<IN, OUT, K, P, E, Cpu, G>
where
    E: Dtype + Float,
    B: Dim,
    H: Dim,
    W: Dim,
    T: Tape<E, Cpu>,
{
    type Output = Tensor<(B, Const<OUT>, usize, usize), E, Cpu, T>;
    type Error = CpuError;

    /// Batched forward: `(B, IN, H, W) -> (B, OUT, (H-K+1)/POOL, (W-K+1)/POOL)`.
    fn try_forward(
        &self,
        x: Tensor<(B, Const<IN>, H, W), E, Cpu, T>,
    ) -> Result<Self::Output, CpuError> {
        self.forward_batched(x)
    }
}

impl<
        const IN: usize,
        const OUT: usize,
        const K: usize,
        const P: usize,
        const G: bool,
        E,
        H,
        W,
        T,
    > Module<Tensor<(Const<IN>, H, W), E, Cpu, T>> for DeviceConvPool2D<IN, OUT, K, P, E, Cpu, G>
where
    E: Dtype + Float,
    H: Dim,
    W: Dim,
    T: Tape<E, Cpu>,
{
    type Output = Tensor<(Const<OUT>, usize, usize), E, Cpu, T>;
    type Error = CpuError;

    /// Unbatched forward: `(IN, H, W) -> (OUT, (H-K+1)/POOL, (W-K+1)/POOL)`.
    fn try_forward(
        &self,
        x: Tensor<(Const<IN>, H, W), E, Cpu, T>,
    ) -> Result<Self::Output, CpuError> {
        forward_one_image(x, |x| self.forward_batched(x))
    }
}

impl<const IN: usize, const OUT: usize, const K: usize, const P: usize, const G: bool, E>
    DeviceConvPool2D<IN, OUT, K, P, E, Cpu, G>
where
    E: Dtype + Float,
{
    fn forward_batched<B: Dim, H: Dim, W: Dim, T: Tape<E, Cpu>>(
        &self,
        x: Tensor<(B, Const<IN>, H, W), E, Cpu, T>,
    ) -> Result<BatchedOut<B, OUT, E, T>, CpuError> {
        const { assert!(K > 0, "ConvPool2D kernel size K must be positive") };
        const { assert!(P > 0, "ConvPool2D pooling size POOL must be positive") };
        record_conv_op::<K, G, _, _, _, _, _, _, _, _>(
            x,
            &self.weight,
            &self.bias,
            |d, x, w, b| {
                let pd = pool_dims::<P>(d).ok_or(CpuError::WrongNumElements)?;
                let mut out = vec![E::zero(); d.batch * d.c_out * pd.ho * pd.wo];
                let mut argmax = vec![0u32; out.len()];
                forward::forward::<K, E>(d, &pd, P, x, w, b, &mut out, &mut argmax);
                Ok(ConvOpOutput {
                    data: out,
                    h: pd.ho,
                    w: pd.wo,
                    saved: Saved { pool: pd, argmax },
                })
            },
            |d, saved, x, w, grad_out, grad_x, grad_w, grad_b| {
                backward::<K, E>(d, &saved, x, w, grad_out, grad_x, grad_w, grad_b)
            },
        )
    }
}

/// The pooling of a `d`-sized convolution's output; `None` if it is smaller than a window or
/// an input plane's positions do not fit the `u32` the argmax is stored in.
fn pool_dims<const P: usize>(d: &ConvDims) -> Option<PoolDims> {
    let pd = PoolDims {
        planes: d.batch * d.c_out,
        h: d.ho,
        w: d.wo,
        ho: d.ho / P,
        wo: d.wo / P,
    };
    let fits = u32::try_from(d.h * d.w).is_ok();
    (pd.ho > 0 && pd.wo > 0 && fits).then_some(pd)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::conv::{Conv2D, DeviceConv2D};
    use crate::nn::pool::MaxPool2D;
    use crate::nn::test_support::{sgd_losses, Maps};
    use dfdx::nn::{DeviceBuildExt, NumParams};
    use dfdx::prelude::*;
    use rand::{rngs::StdRng, Rng, SeedableRng};

    /// Output, and the gradients of `sum(output * r)` for the input (when there is one),
    /// weight and bias.
    #[derive(Debug)]
    struct Run<E> {
        y: Vec<E>,
        dx: Option<Vec<E>>,
        dw: Vec<E>,
        db: Vec<E>,
    }

    /// [`Run`] of a traced output `y` of input `x`, with the layer's weight and bias.
    fn run_of<const IN: usize, const OUT: usize, const K: usize, E: Dtype + Float>(
        y: Maps<OUT, E, OwnedTape<E, Cpu>>,
        x: &Maps<IN, E>,
        weight: &Tensor<Rank4<OUT, IN, K, K>, E, Cpu>,
        bias: &Tensor<Rank1<OUT>, E, Cpu>,
        r: &[E],
    ) -> Run<E>
    where
        Cpu: Device<E>,
    {
        let y_vals = y.as_vec();
        let r = y.device().tensor_from_vec(r.to_vec(), *y.shape());
        let grads = (y * r).sum().backward();
        // dfdx panics for a tensor it holds no gradient for
        let dx = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| grads.get(x).as_vec()));
        Run {
            y: y_vals,
            dx: dx.ok(),
            dw: grads.get(weight).as_vec(),
            db: grads.get(bias).as_vec(),
        }
    }

    /// The combined layer and `Conv2D` then `MaxPool2D` with the same parameters, on the same
    /// input and upstream gradient.
    fn both<const IN: usize, const OUT: usize, const K: usize, const P: usize, E>(
        x: &Maps<IN, E>,
        r_of: impl Fn(usize) -> E,
        zero_weights: bool,
    ) -> (Run<E>, Run<E>)
    where
        E: Dtype + Float + SampleUniform,
        Cpu: Device<E>,
    {
        let dev = x.device().clone();
        let mut combined = dev.build_module::<ConvPool2D<IN, OUT, K, P>, E>();
        if zero_weights {
            combined.weight = dev.zeros();
        }
        let conv = DeviceConv2D::<IN, OUT, K, E, Cpu> {
            weight: combined.weight.clone(),
            bias: combined.bias.clone(),
        };
        let y_combined = combined.forward(x.leaky_trace());
        let r: Vec<E> = (0..y_combined.shape().num_elements()).map(&r_of).collect();
        let a = run_of(y_combined, x, &combined.weight, &combined.bias, &r);
        let y_sep = MaxPool2D::<P>.forward(conv.forward(x.leaky_trace()));
        let b = run_of(y_sep, x, &conv.weight, &conv.bias, &r);
        (a, b)
    }

    fn assert_close<E: Float + std::fmt::Debug>(a: &[E], b: &[E], tol: f64, what: &str) {
        assert_eq!(a.len(), b.len(), "{what}: length");
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            let (x, y) = (x.to_f64().unwrap(), y.to_f64().unwrap());
            let same_special = (x.is_nan() && y.is_nan()) || x == y;
            assert!(
                same_special || (x - y).abs() <= tol * (1.0 + y.abs()),
                "{what}[{i}]: {x} vs {y}"
            );
        }
    }

    fn assert_same<E: Float + std::fmt::Debug>(a: &Run<E>, b: &Run<E>, tol: f64) {
        // the sums run in another order than in Conv2D's GEMM: equal up to rounding
        assert_close(&a.y, &b.y, tol, "y");
        assert_close(
            a.dx.as_deref().expect("combined dx"),
            b.dx.as_deref().expect("separate dx"),
            tol,
            "dx",
        );
        assert_close(&a.dw, &b.dw, tol, "dw");
        assert_close(&a.db, &b.db, tol, "db");
    }

    fn random_maps<const C: usize, E: Dtype + Float>(
        dev: &Cpu,
        n: usize,
        h: usize,
        w: usize,
        rng: &mut StdRng,
    ) -> Maps<C, E>
    where
        Cpu: Device<E>,
    {
        let data = (0..n * C * h * w)
            .map(|_| E::from(rng.gen_range(-1.0..1.0)).unwrap())
            .collect();
        dev.tensor_from_vec(data, (n, Const::<C>, h, w))
    }

    /// Upstream gradients with about one zero in four, as after a ReLU.
    fn sparse_r<E: Float>(seed: u64) -> impl Fn(usize) -> E {
        move |i| {
            let v = ((i as u64 * 2654435761 + seed) % 1000) as f64 / 500.0 - 1.0;
            let v = if i % 4 == 1 { 0.0 } else { v };
            E::from(v).unwrap()
        }
    }

    fn check<const IN: usize, const OUT: usize, const K: usize, const P: usize>(
        n: usize,
        h: usize,
        w: usize,
        seed: u64,
    ) {
        let dev = Cpu::seed_from_u64(seed);
        let mut rng = StdRng::seed_from_u64(seed);
        let x64 = random_maps::<IN, f64>(&dev, n, h, w, &mut rng);
        let (a, b) = both::<IN, OUT, K, P, f64>(&x64, sparse_r(seed), false);
        assert_same(&a, &b, 1e-12);
        let x32 = random_maps::<IN, f32>(&dev, n, h, w, &mut rng);
        let (a, b) = both::<IN, OUT, K, P, f32>(&x32, sparse_r(seed), false);
        assert_same(&a, &b, 1e-4);
    }

    #[test]
    fn matches_conv_then_pool_for_many_shapes() {
        // the MNIST network's three layers
        check::<1, 10, 5, 2>(3, 28, 28, 1);
        check::<10, 20, 5, 2>(3, 12, 12, 2);
        check::<20, 40, 3, 2>(17, 4, 4, 3);
        // rows and columns that do not fill a window, odd sizes
        check::<2, 3, 3, 2>(2, 9, 12, 4);
        check::<3, 2, 2, 3>(2, 11, 8, 5);
        // kernels wider than the vector lanes take the exact loop
        check::<2, 3, 9, 2>(2, 13, 14, 6);
        // pooling sizes without their own kernel
        check::<1, 2, 3, 4>(2, 13, 13, 7);
        check::<1, 2, 2, 9>(2, 10, 11, 8);
        // one window covering the whole map; a 1x1 kernel
        check::<2, 2, 1, 5>(2, 5, 5, 9);
        // a batch that splits into several tasks with a short last one
        check::<2, 3, 3, 2>(37, 7, 7, 10);
        // the channels-last weight gradient (8 input channels or more): one partly used
        // array of channels; several blocks of arrays, of one and of three and one arrays;
        // a kernel wider than the vector lanes
        check::<8, 3, 3, 2>(2, 7, 7, 11);
        check::<17, 3, 5, 2>(3, 9, 9, 12);
        check::<50, 2, 3, 2>(2, 6, 6, 13);
        check::<9, 2, 9, 2>(2, 11, 11, 14);
    }

    #[test]
    fn ties_and_non_finite_values_match_conv_then_pool() {
        let dev = Cpu::seed_from_u64(11);
        let mut rng = StdRng::seed_from_u64(11);
        // zero weights: every window is a tie, the gradient goes to its first element
        let x = random_maps::<2, f64>(&dev, 3, 9, 9, &mut rng);
        let (a, b) = both::<2, 3, 3, 2, f64>(&x, sparse_r(1), true);
        assert_same(&a, &b, 1e-12);
        // NaN and infinite upstream gradients
        let r = |i: usize| match i % 7 {
            2 => f64::INFINITY,
            4 => f64::NEG_INFINITY,
            5 => f64::NAN,
            _ => sparse_r::<f64>(3)(i),
        };
        let (a, b) = both::<2, 3, 3, 2, f64>(&x, r, false);
        assert_same(&a, &b, 1e-12);
        // NaN and infinity in the input: the same outputs (NaN wins its window) and input and
        // bias gradients. The separate layers multiply the zero gradients of the positions
        // that lost their window with the input too, so their weight gradient has NaN
        // (0 * inf, 0 * NaN) where the combined layer's has the sum over the maxima alone.
        let mut data = x.as_vec();
        data[10] = f64::NAN;
        data[40] = f64::INFINITY;
        let x = dev.tensor_from_vec(data, *x.shape());
        let (a, b) = both::<2, 3, 3, 2, f64>(&x, |_| 1.0, false);
        assert_close(&a.y, &b.y, 1e-12, "y");
        assert_close(
            a.dx.as_deref().unwrap(),
            b.dx.as_deref().unwrap(),
            1e-12,
            "dx",
        );
        assert_close(&a.db, &b.db, 1e-12, "db");
        let mut finite_where_separate_is_not = 0;
        for (i, (combined, separate)) in a.dw.iter().zip(&b.dw).enumerate() {
            if separate.is_finite() {
                assert!(
                    (combined - separate).abs() <= 1e-12 * (1.0 + separate.abs()),
                    "dw[{i}]"
                );
            } else if combined.is_finite() {
                finite_where_separate_is_not += 1;
            }
        }
        assert!(
            finite_where_separate_is_not > 0,
            "the case above is exercised"
        );
    }

    #[test]
    fn permuted_input_and_input_layer() {
        let dev = Cpu::seed_from_u64(12);
        let mut rng = StdRng::seed_from_u64(12);
        let x = random_maps::<3, f64>(&dev, 2, 8, 10, &mut rng);
        // the same values as a non-contiguous (W, H swapped twice) view
        let xt: Tensor<(usize, Const<3>, usize, usize), f64, Cpu> = dev.tensor_from_vec(
            {
                let v = x.as_vec();
                let mut t = vec![0.0; v.len()];
                for i in 0..2 * 3 {
                    for r in 0..8 {
                        for c in 0..10 {
                            t[(i * 10 + c) * 8 + r] = v[(i * 8 + r) * 10 + c];
                        }
                    }
                }
                t
            },
            (2, Const, 10, 8),
        );
        let combined = dev.build_module::<ConvPool2D<3, 4, 3, 2>, f64>();
        let y = combined.forward(xt.leaky_trace().permute::<_, Axes4<0, 1, 3, 2>>());
        let r: Vec<f64> = (0..y.shape().num_elements()).map(sparse_r(5)).collect();
        let permuted = run_of(y, &xt, &combined.weight, &combined.bias, &r);
        let contiguous = run_of(
            combined.forward(x.leaky_trace()),
            &x,
            &combined.weight,
            &combined.bias,
            &r,
        );
        assert_eq!(permuted.y, contiguous.y);
        assert_close(&permuted.dw, &contiguous.dw, 1e-12, "dw");
        assert_close(&permuted.db, &contiguous.db, 1e-12, "db");
        // the input gradient comes back in the permuted tensor's own layout
        let dx_p = permuted.dx.expect("dx");
        let dx_c = contiguous.dx.expect("dx");
        for i in 0..2 * 3 {
            for r in 0..8 {
                for c in 0..10 {
                    let (p, q) = (dx_p[(i * 10 + c) * 8 + r], dx_c[(i * 8 + r) * 10 + c]);
                    assert!((p - q).abs() < 1e-12, "dx {p} vs {q}");
                }
            }
        }

        // the input layer: same values and parameter gradients, no input gradient
        let mut first = dev.build_module::<InputConvPool2D<3, 4, 3, 2>, f64>();
        first.weight = combined.weight.clone();
        first.bias = combined.bias.clone();
        let without = run_of(
            first.forward(x.leaky_trace()),
            &x,
            &first.weight,
            &first.bias,
            &r,
        );
        assert!(without.dx.is_none());
        assert_eq!(without.y, contiguous.y);
        assert_close(&without.dw, &contiguous.dw, 1e-12, "dw");
        assert_close(&without.db, &contiguous.db, 1e-12, "db");
    }

    #[test]
    fn gradients_match_finite_differences() {
        let dev = Cpu::seed_from_u64(13);
        let mut rng = StdRng::seed_from_u64(13);
        let x = random_maps::<2, f64>(&dev, 2, 7, 7, &mut rng);
        let m = dev.build_module::<ConvPool2D<2, 3, 3, 2>, f64>();
        let r: Vec<f64> = (0..2 * 3 * 2 * 2).map(sparse_r(2)).collect();
        let loss = |m: &DeviceConvPool2D<2, 3, 3, 2, f64, Cpu>, x: &Maps<2, f64>| -> f64 {
            m.forward(x.clone())
                .as_vec()
                .iter()
                .zip(&r)
                .map(|(a, b)| a * b)
                .sum()
        };
        let got = run_of(m.forward(x.leaky_trace()), &x, &m.weight, &m.bias, &r);
        let eps = 1e-6;
        let xv = x.as_vec();
        for i in (0..xv.len()).step_by(7) {
            let shifted = |d: f64| {
                let mut v = xv.clone();
                v[i] += d;
                loss(&m, &dev.tensor_from_vec(v, *x.shape()))
            };
            let fd = (shifted(eps) - shifted(-eps)) / (2.0 * eps);
            let dx = got.dx.as_ref().expect("dx")[i];
            assert!((fd - dx).abs() < 1e-6, "dx[{i}]: {dx} vs {fd}");
        }
        let wv = m.weight.as_vec();
        for i in 0..wv.len() {
            let shifted = |d: f64| {
                let mut v = wv.clone();
                v[i] += d;
                let mut m2 = m.clone();
                m2.weight = dev.tensor_from_vec(v, *m.weight.shape());
                loss(&m2, &x)
            };
            let fd = (shifted(eps) - shifted(-eps)) / (2.0 * eps);
            assert!(
                (fd - got.dw[i]).abs() < 1e-6,
                "dw[{i}]: {} vs {fd}",
                got.dw[i]
            );
        }
    }

    #[test]
    fn shapes_errors_parameters_and_training() {
        let dev = Cpu::seed_from_u64(14);
        let m = dev.build_module::<ConvPool2D<2, 3, 3, 2>, f32>();
        // unbatched
        let x: Tensor<Rank3<2, 9, 8>, f32, Cpu> = dev.sample_normal();
        let y = m.forward(x);
        assert_eq!(y.shape(), &(Const::<3>, 3, 3));
        // smaller than the kernel, or than one window after it
        let small: Maps<2, f32> = dev.zeros_like(&(1, Const, 2, 9));
        assert!(m.try_forward(small).is_err());
        let small: Maps<2, f32> = dev.zeros_like(&(1, Const, 3, 9));
        assert!(m.try_forward(small).is_err());
        // the parameters of a Conv2D: names, count, PyTorch's bound 1/sqrt(2*3*3)
        assert_eq!(m.num_trainable_params(), 3 * 2 * 3 * 3 + 3);
        let bound = 1.0 / 18f32.sqrt();
        assert!(m.weight.as_vec().iter().all(|v| v.abs() <= bound));
        assert!(m.bias.as_vec().iter().any(|&v| v != 0.0));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("conv_pool.safetensors");
        m.save_safetensors(&path).expect("save");
        let mut loaded = dev.build_module::<ConvPool2D<2, 3, 3, 2>, f32>();
        loaded.load_safetensors(&path).expect("load");
        assert_eq!(loaded.weight.as_vec(), m.weight.as_vec());
        assert_eq!(loaded.bias.as_vec(), m.bias.as_vec());
        // trains in a tuple model
        let mut model = dev.build_module::<(ConvPool2D<1, 4, 3, 2>, Conv2D<4, 2, 3>), f32>();
        let x: Maps<1, f32> = dev.sample_normal_like(&(4, Const, 10, 10));
        let target: Maps<2, f32> = dev.sample_normal_like(&(4, Const, 2, 2));
        let losses = sgd_losses(&mut model, &x, &target, 30);
        assert!(losses[29] < 0.5 * losses[0], "losses {losses:?}");
    }
}
