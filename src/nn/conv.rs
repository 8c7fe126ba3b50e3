//! Stable-Rust 2-D convolution layer for [dfdx] 0.13 on the CPU.
//!
//! dfdx 0.13 ships a `Conv2D` layer, but only behind its `nightly` feature
//! (it needs `generic_const_exprs` to compute the output size in the type),
//! and that feature no longer compiles. This module provides a replacement
//! that works on stable Rust, restricted to what this crate needs:
//!
//! * stride 1, no padding, no dilation, no groups, **with** bias;
//! * device [`Cpu`] only, dtype `E` = `f32` or `f64` (the types of
//!   [`crate::activation::Float`]), through the [`gemm`] kernels;
//! * PyTorch's default initialisation: weight and bias are both drawn from
//!   `U(-1/sqrt(fan_in), 1/sqrt(fan_in))` with `fan_in = IN * K * K`.
//!
//! # Shape convention
//!
//! Stable Rust cannot express the output size `H - K + 1` for a generic
//! `Const<H>`, so the spatial dimensions of the **output** are always runtime
//! `usize` dimensions:
//!
//! | input                                   | output                                     |
//! |-----------------------------------------|--------------------------------------------|
//! | `(B, Const<IN>, H, W)` (batched)        | `(B, Const<OUT>, usize, usize)`            |
//! | `(Const<IN>, H, W)` (single image)      | `(Const<OUT>, usize, usize)`               |
//!
//! `B`, `H` and `W` may be any [`Dim`] (`usize` or `Const<N>`), so both
//! `Rank4<..>` tensors and `(usize, Const<IN>, usize, usize)` tensors (the
//! output of a previous [`Conv2D`] or [`crate::nn::pool::MaxPool2D`]) are
//! accepted. The output height is `H - K + 1` and width `W - K + 1`.
//!
//! To go back to a compile-time shape (e.g. before a dfdx `Linear`), use
//! dfdx's `Reshape<Rank2<BATCH, FEATURES>>` module or
//! `x.reshape_like(&(batch, Const::<FEATURES>))` (both panic on an element
//! count mismatch; `try_reshape_like` does too, it is a dfdx `assert_eq!`).
//!
//! # Errors and panics
//!
//! `try_forward` returns `Err(CpuError::WrongNumElements)` if the input image
//! is smaller than the kernel (`H < K` or `W < K`); `forward` unwraps that
//! error and so panics. `K == 0` is rejected at compile time. There are no
//! other panics on user input.
//!
//! # Example
//!
//! ```
//! use arelu::nn::conv::Conv2D;
//! use dfdx::nn::{DeviceBuildExt, Module};
//! use dfdx::prelude::*;
//!
//! let dev = Cpu::default();
//! let conv = dev.build_module::<Conv2D<1, 4, 3>, f32>();
//! assert_eq!(conv.weight.shape(), &(Const::<4>, Const::<1>, Const::<3>, Const::<3>));
//!
//! // batched input with runtime batch/height/width
//! let x: Tensor<(usize, Const<1>, usize, usize), f32, _> =
//!     dev.sample_normal_like(&(2, Const, 8, 8));
//! let y = conv.forward(x.leaky_trace());
//! assert_eq!(y.shape(), &(2, Const::<4>, 6, 6));
//! let grads = y.sum().backward();
//! assert_eq!(grads.get(&conv.weight).shape(), conv.weight.shape());
//!
//! // compile-time shaped input works too; the output spatial dims are usize
//! let x: Tensor<Rank4<3, 1, 5, 7>, f32, _> = dev.sample_normal();
//! let y: Tensor<(Const<3>, Const<4>, usize, usize), f32, _> = conv.forward(x);
//! assert_eq!(y.shape(), &(Const::<3>, Const::<4>, 3, 5));
//!
//! // inside a dfdx tuple model, together with arelu's MaxPool2D
//! use arelu::nn::pool::MaxPool2D;
//! type Model = (Conv2D<1, 4, 3>, ReLU, MaxPool2D<2>, Conv2D<4, 8, 3>);
//! let model = dev.build_module::<Model, f32>();
//! let x: Tensor<(usize, Const<1>, usize, usize), f32, _> =
//!     dev.sample_normal_like(&(2, Const, 12, 12));
//! let y = model.forward(x);
//! assert_eq!(y.shape(), &(2, Const::<8>, 3, 3));
//! ```

use std::any::TypeId;

use dfdx::nn::{
    BuildModule, BuildOnDevice, Module, ModuleVisitor, NonMutableModule, TensorCollection,
    TensorOptions,
};
use dfdx::shapes::{Const, ConstShape, Dim, Dtype, Rank1, Rank4};
use dfdx::tensor::{Cpu, CpuError, Storage, Tape, Tensor};
use dfdx::tensor_ops::Device;
use rand::distributions::{uniform::SampleUniform, Uniform};
use rayon::prelude::*;

use super::dims::ConvDims;
use super::tape::{forward_one_image, record_conv_op, BatchedOut, ConvOpOutput};
use crate::activation::Float;

/// Builder for a 2-D convolution with `IN` input channels, `OUT` output
/// channels and a `K`x`K` kernel (stride 1, no padding, with bias).
///
/// Device/dtype free, like dfdx's `Linear<I, O>` builder: build it with
/// `dev.build_module::<Conv2D<IN, OUT, K>, E>()`, which gives a
/// [`DeviceConv2D`]. See the [module docs](self) for shapes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Conv2D<const IN: usize, const OUT: usize, const K: usize, const INPUT_GRAD: bool = true>;

/// A [`Conv2D`] for the first layer of a network, whose input is data: it computes no
/// gradient for its input, as PyTorch does for an input that does not require grad.
///
/// Same parameters, initialisation, names and outputs as [`Conv2D`]; only the backward pass
/// differs: it leaves the input's gradient out (`grads.get(&input)` then panics, as for any
/// tensor dfdx has no gradient for) and saves the work of computing it, a GEMM and a col2im
/// over the whole input.
///
/// ```
/// use arelu::nn::conv::InputConv2D;
/// use dfdx::nn::{DeviceBuildExt, Module};
/// use dfdx::prelude::*;
///
/// let dev = Cpu::default();
/// let conv = dev.build_module::<InputConv2D<1, 4, 3>, f32>();
/// let x: Tensor<(usize, Const<1>, usize, usize), f32, _> =
///     dev.sample_normal_like(&(2, Const, 8, 8));
/// let grads = conv.forward(x.leaky_trace()).sum().backward();
/// assert_eq!(grads.get(&conv.weight).shape(), conv.weight.shape());
/// ```
pub type InputConv2D<const IN: usize, const OUT: usize, const K: usize> = Conv2D<IN, OUT, K, false>;

impl<const IN: usize, const OUT: usize, const K: usize, const G: bool, E: Dtype, D: Device<E>>
    BuildOnDevice<D, E> for Conv2D<IN, OUT, K, G>
where
    DeviceConv2D<IN, OUT, K, E, D, G>: BuildModule<D, E>,
{
    type Built = DeviceConv2D<IN, OUT, K, E, D, G>;
    fn try_build_on_device(device: &D) -> Result<Self::Built, D::Err> {
        Self::Built::try_build(device)
    }
}

/// A built 2-D convolution layer (stride 1, no padding, with bias).
///
/// `out[b, o, i, j] = bias[o] + sum_{c, ki, kj} weight[o, c, ki, kj] * x[b, c, i + ki, j + kj]`
/// (a cross-correlation, like PyTorch's `Conv2d`).
///
/// The forward pass (see [`Module`] impls) is implemented for the [`Cpu`]
/// device only. The tensors are visited by dfdx's [`TensorCollection`]
/// machinery under the names `"weight"` and `"bias"`, so optimizers,
/// `ZeroGrads`, `ResetParams`, `NumParams`, `ToDtype` and safetensors
/// save/load work as for dfdx's own layers.
#[derive(Debug, Clone)]
pub struct DeviceConv2D<
    const IN: usize,
    const OUT: usize,
    const K: usize,
    E: Dtype,
    D: Storage<E>,
    const INPUT_GRAD: bool = true,
> {
    /// Kernel, shape `(OUT, IN, K, K)`.
    pub weight: Tensor<Rank4<OUT, IN, K, K>, E, D>,
    /// Bias, shape `(OUT,)`.
    pub bias: Tensor<Rank1<OUT>, E, D>,
}

impl<const IN: usize, const OUT: usize, const K: usize, E: Dtype, D: Storage<E>, const G: bool>
    NonMutableModule for DeviceConv2D<IN, OUT, K, E, D, G>
{
}

impl<const IN: usize, const OUT: usize, const K: usize, E, D, const G: bool> TensorCollection<E, D>
    for DeviceConv2D<IN, OUT, K, E, D, G>
where
    E: Dtype + Float + SampleUniform,
    D: Device<E>,
{
    type To<E2: Dtype, D2: Device<E2>> = DeviceConv2D<IN, OUT, K, E2, D2, G>;

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
            |(weight, bias)| DeviceConv2D { weight, bias },
        )
    }
}

/// PyTorch's default initialisation of a convolution's weight and bias:
/// `U(-1/sqrt(fan_in), 1/sqrt(fan_in))`, `fan_in = IN * K * K`.
pub(crate) fn conv_init<const IN: usize, const K: usize, S, E, D>() -> TensorOptions<S, E, D>
where
    S: ConstShape,
    E: Dtype + Float + SampleUniform,
    D: Device<E>,
{
    TensorOptions::reset_with(|t| {
        let b = init_bound::<E>(IN * K * K);
        t.try_fill_with_distr(Uniform::new_inclusive(-b, b))
    })
}

/// `1 / sqrt(fan_in)` (PyTorch's default bound); `fan_in == 0` gives 0.
fn init_bound<E: Float>(fan_in: usize) -> E {
    if fan_in == 0 {
        return E::zero();
    }
    let fan_in = E::from(fan_in).unwrap_or_else(E::max_value);
    E::one() / fan_in.sqrt()
}

impl<const IN: usize, const OUT: usize, const K: usize, const G: bool, E, B, H, W, T>
    Module<Tensor<(B, Const<IN>, H, W), E, Cpu, T>> for DeviceConv2D<IN, OUT, K, E, Cpu, G>
where
    E: Dtype + Float,
    B: Dim,
    H: Dim,
    W: Dim,
    T: Tape<E, Cpu>,
{
    type Output = Tensor<(B, Const<OUT>, usize, usize), E, Cpu, T>;
    type Error = CpuError;

    /// Batched forward: `(B, IN, H, W) -> (B, OUT, H-K+1, W-K+1)`.
    ///
    /// Returns `Err(CpuError::WrongNumElements)` if `H < K` or `W < K`.
    fn try_forward(
        &self,
        x: Tensor<(B, Const<IN>, H, W), E, Cpu, T>,
    ) -> Result<Self::Output, CpuError> {
        self.forward_batched(x)
    }
}

impl<const IN: usize, const OUT: usize, const K: usize, const G: bool, E, H, W, T>
    Module<Tensor<(Const<IN>, H, W), E, Cpu, T>> for DeviceConv2D<IN, OUT, K, E, Cpu, G>
where
    E: Dtype + Float,
    H: Dim,
    W: Dim,
    T: Tape<E, Cpu>,
{
    type Output = Tensor<(Const<OUT>, usize, usize), E, Cpu, T>;
    type Error = CpuError;

    /// Unbatched forward: `(IN, H, W) -> (OUT, H-K+1, W-K+1)`.
    ///
    /// Returns `Err(CpuError::WrongNumElements)` if `H < K` or `W < K`.
    fn try_forward(
        &self,
        x: Tensor<(Const<IN>, H, W), E, Cpu, T>,
    ) -> Result<Self::Output, CpuError> {
        forward_one_image(x, |x| self.forward_batched(x))
    }
}

impl<const IN: usize, const OUT: usize, const K: usize, const INPUT_GRAD: bool, E>
    DeviceConv2D<IN, OUT, K, E, Cpu, INPUT_GRAD>
where
    E: Dtype + Float,
{
    fn forward_batched<B: Dim, H: Dim, W: Dim, T: Tape<E, Cpu>>(
        &self,
        x: Tensor<(B, Const<IN>, H, W), E, Cpu, T>,
    ) -> Result<BatchedOut<B, OUT, E, T>, CpuError> {
        const { assert!(K > 0, "Conv2D kernel size K must be positive") };
        record_conv_op::<K, INPUT_GRAD, _, _, _, _, _, _, _, _>(
            x,
            &self.weight,
            &self.bias,
            |d, x, w, b| {
                let mut out = vec![E::zero(); d.out_len()];
                conv_forward(d, x, w, b, &mut out);
                Ok(ConvOpOutput {
                    data: out,
                    h: d.ho,
                    w: d.wo,
                    saved: (),
                })
            },
            |d, (), x, w, grad_out, grad_x, grad_w, grad_b| {
                conv_backward(d, x, w, grad_out, grad_x, grad_w, grad_b)
            },
        )
    }
}

/// How many images go into one GEMM: enough to give the GEMM at least [`TARGET_COLS`]
/// columns (small images, deep layers), at most `n`.
fn gemm_group(d: &ConvDims, n: usize) -> usize {
    TARGET_COLS.div_ceil(d.p().max(1)).clamp(1, n.max(1))
}

/// Minimum number of GEMM columns (output pixels of a group of images).
const TARGET_COLS: usize = 64;

/// im2col for `n` consecutive images `x` (each `d.in_img()` long) into
/// `cols`, an `ikk x (n * p)` row-major matrix: column `img * p + oh * wo + ow`
/// of row `(c * k + ki) * k + kj` holds `x[img, c, oh + ki, ow + kj]`.
fn im2col<E: Copy>(d: &ConvDims, x: &[E], n: usize, cols: &mut [E]) {
    let (p, ncols) = (d.p(), n * d.p());
    for img in 0..n {
        let xi = &x[img * d.in_img()..(img + 1) * d.in_img()];
        for c in 0..d.c_in {
            let plane = &xi[c * d.h * d.w..(c + 1) * d.h * d.w];
            for ki in 0..d.k {
                for kj in 0..d.k {
                    let r = (c * d.k + ki) * d.k + kj;
                    let row = &mut cols[r * ncols + img * p..r * ncols + (img + 1) * p];
                    for (oh, dst) in row.chunks_exact_mut(d.wo).enumerate() {
                        let start = (oh + ki) * d.w + kj;
                        copy_row(dst, &plane[start..start + d.wo]);
                    }
                }
            }
        }
    }
}

/// `dst.copy_from_slice(src)`, but without a `memcpy` call for the short
/// rows of small images, where the call costs more than the copy
/// (`benches/layers.rs` times the layer).
#[inline(always)]
fn copy_row<E: Copy>(dst: &mut [E], src: &[E]) {
    if dst.len() >= 64 {
        dst.copy_from_slice(src);
        return;
    }
    let mut d8 = dst.chunks_exact_mut(8);
    let mut s8 = src.chunks_exact(8);
    for (d, s) in (&mut d8).zip(&mut s8) {
        let s: &[E; 8] = s.try_into().expect("chunk of 8");
        let d: &mut [E; 8] = d.try_into().expect("chunk of 8");
        *d = *s;
    }
    for (d, s) in d8.into_remainder().iter_mut().zip(s8.remainder()) {
        *d = *s;
    }
}

/// Inverse of [`im2col`], accumulating: `dx[img, c, oh + ki, ow + kj] += cols[..]`.
fn col2im_add<E: Float>(d: &ConvDims, cols: &[E], n: usize, dx: &mut [E]) {
    let (p, ncols) = (d.p(), n * d.p());
    for img in 0..n {
        let dxi = &mut dx[img * d.in_img()..(img + 1) * d.in_img()];
        for c in 0..d.c_in {
            let plane = &mut dxi[c * d.h * d.w..(c + 1) * d.h * d.w];
            for ki in 0..d.k {
                for kj in 0..d.k {
                    let r = (c * d.k + ki) * d.k + kj;
                    let row = &cols[r * ncols + img * p..r * ncols + (img + 1) * p];
                    for (oh, src) in row.chunks_exact(d.wo).enumerate() {
                        let start = (oh + ki) * d.w + kj;
                        for (o, &s) in plane[start..start + d.wo].iter_mut().zip(src) {
                            *o = *o + s;
                        }
                    }
                }
            }
        }
    }
}

/// Forward pass on contiguous buffers: `out = conv(x, w) + bias`.
fn conv_forward<E: Float + Send + Sync + 'static>(
    d: &ConvDims,
    x: &[E],
    w: &[E],
    bias: &[E],
    out: &mut [E],
) {
    let (p, ikk, c_out) = (d.p(), d.ikk(), d.c_out);
    if out.is_empty() {
        return;
    }
    if ikk == 0 {
        // no input channels: the output is just the bias
        for (o, plane) in out.chunks_exact_mut(p).enumerate() {
            plane.fill(bias[o % c_out]);
        }
        return;
    }
    let per_task = d.per_task();
    out.par_chunks_mut(per_task * d.out_img())
        .zip(x.par_chunks(per_task * d.in_img()))
        .for_each(|(out, x)| {
            conv_forward_images(d, x, w, bias, out);
        });
}

/// [`conv_forward`] of the images in `x` (a whole number of them, `d.batch` is not used)
/// into `out`, on the calling thread. Needs `d.ikk() > 0`.
fn conv_forward_images<E: Float + 'static>(
    d: &ConvDims,
    x: &[E],
    w: &[E],
    bias: &[E],
    out: &mut [E],
) {
    let (p, ikk, c_out) = (d.p(), d.ikk(), d.c_out);
    let n = out.len() / d.out_img();
    let g = gemm_group(d, n);
    let mut cols = vec![E::zero(); ikk * g * p];
    let mut tmp = vec![E::zero(); if g > 1 { c_out * g * p } else { 0 }];
    let mut start = 0;
    while start < n {
        let gn = g.min(n - start);
        let ncols = gn * p;
        let xs = &x[start * d.in_img()..(start + gn) * d.in_img()];
        let os = &mut out[start * d.out_img()..(start + gn) * d.out_img()];
        let cols = &mut cols[..ikk * ncols];
        im2col(d, xs, gn, cols);
        let w_mat = Mat::row_major(c_out, ikk);
        if gn == 1 {
            for (plane, &b) in os.chunks_exact_mut(p).zip(bias) {
                plane.fill(b);
            }
            gemm_into(
                os,
                Mat::row_major(c_out, p),
                true,
                w,
                w_mat,
                cols,
                Mat::row_major(ikk, p),
            );
        } else {
            let tmp = &mut tmp[..c_out * ncols];
            let cm = Mat::row_major(ikk, ncols);
            gemm_into(tmp, Mat::row_major(c_out, ncols), false, w, w_mat, cols, cm);
            for (img, oi) in os.chunks_exact_mut(d.out_img()).enumerate() {
                for (o, plane) in oi.chunks_exact_mut(p).enumerate() {
                    let src = &tmp[o * ncols + img * p..o * ncols + (img + 1) * p];
                    let b = bias[o];
                    for (dst, &s) in plane.iter_mut().zip(src) {
                        *dst = s + b;
                    }
                }
            }
        }
        start += gn;
    }
}

/// Backward pass on contiguous buffers. Accumulates into `dw`, `db`, and into
/// `dx` when the input gradient is wanted. The im2col columns are computed
/// again, group by group, so that they are read back from cache: the columns
/// of a whole batch are megabytes, which would go to memory and back.
#[allow(clippy::too_many_arguments)]
fn conv_backward<E: Float + Send + Sync + 'static>(
    d: &ConvDims,
    x: &[E],
    w: &[E],
    grad_out: &[E],
    dx: Option<&mut [E]>,
    dw: &mut [E],
    db: &mut [E],
) {
    let (p, ikk, c_out) = (d.p(), d.ikk(), d.c_out);
    if grad_out.is_empty() {
        return;
    }
    if ikk == 0 {
        for (o, plane) in grad_out.chunks_exact(p).enumerate() {
            db[o % c_out] = plane.iter().fold(db[o % c_out], |a, &v| a + v);
        }
        return;
    }
    let per_task = d.per_task();
    // one input-gradient slice (or none) per task, in task order
    let dx_tasks: Vec<Option<&mut [E]>> = match dx {
        Some(dx) => dx.chunks_mut(per_task * d.in_img()).map(Some).collect(),
        None => (0..d.batch.div_ceil(per_task)).map(|_| None).collect(),
    };
    let partials: Vec<(Vec<E>, Vec<E>)> = dx_tasks
        .into_par_iter()
        .zip(x.par_chunks(per_task * d.in_img()))
        .zip(grad_out.par_chunks(per_task * d.out_img()))
        .map(|((mut dx, x), gout)| {
            let n = gout.len() / d.out_img();
            let g = gemm_group(d, n);
            let mut dw_local = vec![E::zero(); c_out * ikk];
            let mut db_local = vec![E::zero(); c_out];
            let mut cols = vec![E::zero(); ikk * g * p];
            let mut dcols = vec![E::zero(); if dx.is_some() { ikk * g * p } else { 0 }];
            let mut gtmp = vec![E::zero(); if g > 1 { c_out * g * p } else { 0 }];
            let mut start = 0;
            while start < n {
                let gn = g.min(n - start);
                let ncols = gn * p;
                let xs = &x[start * d.in_img()..(start + gn) * d.in_img()];
                let gs = &gout[start * d.out_img()..(start + gn) * d.out_img()];
                // G: the upstream gradient of the group as a c_out x ncols matrix
                let gmat: &[E] = if gn == 1 {
                    gs
                } else {
                    let gt = &mut gtmp[..c_out * ncols];
                    for (img, gi) in gs.chunks_exact(d.out_img()).enumerate() {
                        for (o, plane) in gi.chunks_exact(p).enumerate() {
                            gt[o * ncols + img * p..o * ncols + (img + 1) * p]
                                .copy_from_slice(plane);
                        }
                    }
                    gt
                };
                for (acc, row) in db_local.iter_mut().zip(gmat.chunks_exact(ncols)) {
                    *acc = row.iter().fold(*acc, |a, &v| a + v);
                }
                let cols = &mut cols[..ikk * ncols];
                im2col(d, xs, gn, cols);
                let g_mat = Mat::row_major(c_out, ncols);
                // dW (c_out x ikk) += G (c_out x ncols) * cols^T (ncols x ikk)
                let cols_t = Mat {
                    rows: ncols,
                    cols: ikk,
                    rs: 1,
                    cs: ncols,
                };
                gemm_into(
                    &mut dw_local,
                    Mat::row_major(c_out, ikk),
                    true,
                    gmat,
                    g_mat,
                    cols,
                    cols_t,
                );
                if let Some(dx) = dx.as_deref_mut() {
                    // dcols (ikk x ncols) = W^T (ikk x c_out) * G (c_out x ncols)
                    let dcols = &mut dcols[..ikk * ncols];
                    let w_t = Mat {
                        rows: ikk,
                        cols: c_out,
                        rs: 1,
                        cs: ikk,
                    };
                    gemm_into(
                        dcols,
                        Mat::row_major(ikk, ncols),
                        false,
                        w,
                        w_t,
                        gmat,
                        g_mat,
                    );
                    let dxs = &mut dx[start * d.in_img()..(start + gn) * d.in_img()];
                    col2im_add(d, dcols, gn, dxs);
                }
                start += gn;
            }
            (dw_local, db_local)
        })
        .collect();
    for (dw_local, db_local) in partials {
        for (a, b) in dw.iter_mut().zip(dw_local) {
            *a = *a + b;
        }
        for (a, b) in db.iter_mut().zip(db_local) {
            *a = *a + b;
        }
    }
}

/// Shape and (row, column) strides of a matrix stored in a slice.
#[derive(Debug, Clone, Copy)]
struct Mat {
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

impl Mat {
    fn row_major(rows: usize, cols: usize) -> Self {
        Mat {
            rows,
            cols,
            rs: cols,
            cs: 1,
        }
    }
    /// Minimum slice length that holds every element.
    fn min_len(&self) -> usize {
        if self.rows == 0 || self.cols == 0 {
            0
        } else {
            (self.rows - 1) * self.rs + (self.cols - 1) * self.cs + 1
        }
    }
}

/// `dst = (accumulate ? dst : 0) + lhs * rhs`, single-threaded (callers
/// parallelise over images). Uses the `gemm` crate, and a portable loop when
/// the inner dimension is empty.
///
/// Panics if the shapes disagree or a slice is too short (internal
/// invariants, checked so that the `unsafe` GEMM call is sound).
fn gemm_into<E: Float + 'static>(
    dst: &mut [E],
    dm: Mat,
    accumulate: bool,
    lhs: &[E],
    lm: Mat,
    rhs: &[E],
    rm: Mat,
) {
    assert!(dm.rows == lm.rows && dm.cols == rm.cols && lm.cols == rm.rows);
    assert!(dst.len() >= dm.min_len() && lhs.len() >= lm.min_len() && rhs.len() >= rm.min_len());
    let (m, n, k) = (dm.rows, dm.cols, lm.cols);
    if m == 0 || n == 0 {
        return;
    }
    let is_gemm_type =
        TypeId::of::<E>() == TypeId::of::<f32>() || TypeId::of::<E>() == TypeId::of::<f64>();
    if !is_gemm_type || k == 0 {
        return gemm_fallback(dst, dm, accumulate, lhs, lm, rhs, rm);
    }
    // SAFETY: `E` is f32 or f64 (checked above), which `gemm` supports (it
    // dispatches on `TypeId`). All pointers are valid for every index
    // `(rows - 1) * rs + (cols - 1) * cs` they are accessed with (checked by
    // the asserts above), `dst` is a unique borrow and does not overlap the
    // shared `lhs`/`rhs` borrows. Strides fit in isize because they index
    // existing slices.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            dm.cs as isize,
            dm.rs as isize,
            accumulate,
            lhs.as_ptr(),
            lm.cs as isize,
            lm.rs as isize,
            rhs.as_ptr(),
            rm.cs as isize,
            rm.rs as isize,
            E::one(),
            E::one(),
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// Portable reference GEMM with the same contract as [`gemm_into`].
fn gemm_fallback<E: Float>(
    dst: &mut [E],
    dm: Mat,
    accumulate: bool,
    lhs: &[E],
    lm: Mat,
    rhs: &[E],
    rm: Mat,
) {
    for i in 0..dm.rows {
        for j in 0..dm.cols {
            let mut acc = E::zero();
            for l in 0..lm.cols {
                acc = acc + lhs[i * lm.rs + l * lm.cs] * rhs[l * rm.rs + j * rm.cs];
            }
            let o = &mut dst[i * dm.rs + j * dm.cs];
            *o = if accumulate { *o + acc } else { acc };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::test_support::{sgd_losses, Maps};
    use dfdx::nn::{DeviceBuildExt, NumParams, ResetParams};
    use dfdx::prelude::*;
    use rand::{rngs::StdRng, Rng, SeedableRng};

    type Shape4 = (usize, usize, usize, usize);

    /// Naive direct convolution: returns output (batch, c_out, ho, wo) flat.
    fn naive_forward(x: &[f64], xs: Shape4, w: &[f64], ws: Shape4, b: &[f64]) -> Vec<f64> {
        let (n, ci, h, wd) = xs;
        let (co, _, k, _) = ws;
        let (ho, wo) = (h - k + 1, wd - k + 1);
        let mut out = vec![0.0; n * co * ho * wo];
        for bi in 0..n {
            for o in 0..co {
                for i in 0..ho {
                    for j in 0..wo {
                        let mut acc = b[o];
                        for c in 0..ci {
                            for ki in 0..k {
                                for kj in 0..k {
                                    acc += w[((o * ci + c) * k + ki) * k + kj]
                                        * x[((bi * ci + c) * h + i + ki) * wd + j + kj];
                                }
                            }
                        }
                        out[((bi * co + o) * ho + i) * wo + j] = acc;
                    }
                }
            }
        }
        out
    }

    /// Naive backward: returns (dx, dw, db) for upstream gradient `g`.
    fn naive_backward(
        x: &[f64],
        xs: Shape4,
        w: &[f64],
        ws: Shape4,
        g: &[f64],
    ) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let (n, ci, h, wd) = xs;
        let (co, _, k, _) = ws;
        let (ho, wo) = (h - k + 1, wd - k + 1);
        let mut dx = vec![0.0; x.len()];
        let mut dw = vec![0.0; w.len()];
        let mut db = vec![0.0; co];
        for bi in 0..n {
            for o in 0..co {
                for i in 0..ho {
                    for j in 0..wo {
                        let go = g[((bi * co + o) * ho + i) * wo + j];
                        db[o] += go;
                        for c in 0..ci {
                            for ki in 0..k {
                                for kj in 0..k {
                                    let xi = ((bi * ci + c) * h + i + ki) * wd + j + kj;
                                    let wi = ((o * ci + c) * k + ki) * k + kj;
                                    dx[xi] += w[wi] * go;
                                    dw[wi] += x[xi] * go;
                                }
                            }
                        }
                    }
                }
            }
        }
        (dx, dw, db)
    }

    fn random_vec(rng: &mut StdRng, n: usize) -> Vec<f64> {
        (0..n).map(|_| rng.gen_range(-1.0..1.0)).collect()
    }

    fn assert_close(a: &[f64], b: &[f64], tol: f64, what: &str) {
        assert_eq!(a.len(), b.len(), "{what}: length");
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!(
                (x - y).abs() <= tol * (1.0 + y.abs()),
                "{what}[{i}]: {x} vs {y}"
            );
        }
    }

    type In4 = (usize, Const<2>, usize, usize);

    /// loss = sum(conv(x) * r); returns (loss, dx, dw, db) from dfdx autograd.
    fn conv_loss_and_grads(
        m: &DeviceConv2D<2, 3, 3, f64, Cpu>,
        x: &Tensor<In4, f64, Cpu>,
        r: &[f64],
    ) -> (f64, Vec<f64>, Vec<f64>, Vec<f64>) {
        let (loss, dx, dw, db) = loss_and_grads(m, x, r);
        (
            loss,
            dx.expect("Conv2D computes the input gradient"),
            dw,
            db,
        )
    }

    /// [`conv_loss_and_grads`] for either kind of convolution: `dx` is `None`
    /// when dfdx holds no gradient for the input (its `get` panics).
    fn loss_and_grads<const G: bool>(
        m: &DeviceConv2D<2, 3, 3, f64, Cpu, G>,
        x: &Tensor<In4, f64, Cpu>,
        r: &[f64],
    ) -> (f64, Option<Vec<f64>>, Vec<f64>, Vec<f64>) {
        let dev = Cpu::default();
        let y = m.forward(x.leaky_trace());
        let rt = dev.tensor_from_vec(r.to_vec(), *y.shape());
        let loss = (y * rt).sum();
        let l = loss.array();
        let g = loss.backward();
        let dx = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| g.get(x).as_vec()));
        (
            l,
            dx.ok(),
            g.get(&m.weight).as_vec(),
            g.get(&m.bias).as_vec(),
        )
    }

    fn loss_only(m: &DeviceConv2D<2, 3, 3, f64, Cpu>, x: &Tensor<In4, f64, Cpu>, r: &[f64]) -> f64 {
        let dev = Cpu::default();
        let y = m.forward(x.clone());
        let rt = dev.tensor_from_vec(r.to_vec(), *y.shape());
        (y * rt).sum::<Rank0, _>().array()
    }

    #[test]
    fn forward_and_gradients_match_naive_reference() {
        let dev = Cpu::seed_from_u64(0);
        let mut rng = StdRng::seed_from_u64(1);
        let m = dev.build_module::<Conv2D<2, 3, 3>, f64>();
        let xs = (2, 2, 6, 6);
        let xv = random_vec(&mut rng, 2 * 2 * 36);
        let x: Tensor<In4, f64, Cpu> = dev.tensor_from_vec(xv.clone(), (2, Const, 6, 6));
        let (w, b) = (m.weight.as_vec(), m.bias.as_vec());
        let y = m.forward(x.clone());
        assert_eq!(y.shape(), &(2, Const::<3>, 4, 4));
        let expect = naive_forward(&xv, xs, &w, (3, 2, 3, 3), &b);
        assert_close(&y.as_vec(), &expect, 1e-12, "forward");

        let r = random_vec(&mut rng, expect.len());
        let (_, dx, dw, db) = conv_loss_and_grads(&m, &x, &r);
        let (ndx, ndw, ndb) = naive_backward(&xv, xs, &w, (3, 2, 3, 3), &r);
        assert_close(&dx, &ndx, 1e-12, "dx");
        assert_close(&dw, &ndw, 1e-12, "dw");
        assert_close(&db, &ndb, 1e-12, "db");
    }

    /// A batch that rayon splits into tasks of several GEMM groups, the last
    /// group of a task shorter than the others (13 images of 4x4 outputs: 16
    /// columns each, so 4 images per GEMM), against the naive reference; and
    /// `InputConv2D` with the same parameters: same output and parameter
    /// gradients, no input gradient.
    #[test]
    fn grouped_batch_matches_reference_and_input_conv_skips_only_dx() {
        let mut rng = StdRng::seed_from_u64(11);
        let m = Cpu::seed_from_u64(12).build_module::<Conv2D<2, 3, 3>, f64>();
        let first = Cpu::seed_from_u64(12).build_module::<InputConv2D<2, 3, 3>, f64>();
        assert_eq!(m.weight.as_vec(), first.weight.as_vec());
        let dev = Cpu::default();
        let (n, side) = (13, 6);
        let xv = random_vec(&mut rng, n * 2 * side * side);
        let x: Tensor<In4, f64, Cpu> = dev.tensor_from_vec(xv.clone(), (n, Const, side, side));
        let (w, b) = (m.weight.as_vec(), m.bias.as_vec());
        let xs = (n, 2, side, side);
        let expect = naive_forward(&xv, xs, &w, (3, 2, 3, 3), &b);
        let r = random_vec(&mut rng, expect.len());
        let (ndx, ndw, ndb) = naive_backward(&xv, xs, &w, (3, 2, 3, 3), &r);

        assert_close(&m.forward(x.clone()).as_vec(), &expect, 1e-12, "forward");
        let (_, dx, dw, db) = conv_loss_and_grads(&m, &x, &r);
        assert_close(&dx, &ndx, 1e-12, "dx");
        assert_close(&dw, &ndw, 1e-12, "dw");
        assert_close(&db, &ndb, 1e-12, "db");

        let y = first.forward(x.clone());
        assert_close(&y.as_vec(), &expect, 1e-12, "InputConv2D forward");
        let (_, dx, dw, db) = loss_and_grads(&first, &x, &r);
        assert_close(&dw, &ndw, 1e-12, "InputConv2D dw");
        assert_close(&db, &ndb, 1e-12, "InputConv2D db");
        assert!(dx.is_none(), "InputConv2D must not compute dx");
    }

    #[test]
    fn gradients_match_finite_differences_f64() {
        let dev = Cpu::seed_from_u64(2);
        let mut rng = StdRng::seed_from_u64(3);
        let m = dev.build_module::<Conv2D<2, 3, 3>, f64>();
        let xv = random_vec(&mut rng, 2 * 2 * 36);
        let x: Tensor<In4, f64, Cpu> = dev.tensor_from_vec(xv.clone(), (2, Const, 6, 6));
        let r = random_vec(&mut rng, 2 * 3 * 16);
        let (_, dx, dw, db) = conv_loss_and_grads(&m, &x, &r);
        let eps = 1e-6;
        let tol = 1e-7;

        for i in 0..xv.len() {
            let mut p = xv.clone();
            p[i] += eps;
            let lp = loss_only(&m, &dev.tensor_from_vec(p.clone(), (2, Const, 6, 6)), &r);
            p[i] -= 2.0 * eps;
            let lm = loss_only(&m, &dev.tensor_from_vec(p, (2, Const, 6, 6)), &r);
            let fd = (lp - lm) / (2.0 * eps);
            assert!((fd - dx[i]).abs() < tol, "dx[{i}]: fd {fd} vs {}", dx[i]);
        }
        let wv = m.weight.as_vec();
        for i in 0..wv.len() {
            let mut mm = m.clone();
            let mut p = wv.clone();
            p[i] += eps;
            mm.weight.copy_from(&p);
            let lp = loss_only(&mm, &x, &r);
            p[i] -= 2.0 * eps;
            mm.weight.copy_from(&p);
            let lm = loss_only(&mm, &x, &r);
            let fd = (lp - lm) / (2.0 * eps);
            assert!((fd - dw[i]).abs() < tol, "dw[{i}]: fd {fd} vs {}", dw[i]);
        }
        let bv = m.bias.as_vec();
        for i in 0..bv.len() {
            let mut mm = m.clone();
            let mut p = bv.clone();
            p[i] += eps;
            mm.bias.copy_from(&p);
            let lp = loss_only(&mm, &x, &r);
            p[i] -= 2.0 * eps;
            mm.bias.copy_from(&p);
            let lm = loss_only(&mm, &x, &r);
            let fd = (lp - lm) / (2.0 * eps);
            assert!((fd - db[i]).abs() < tol, "db[{i}]: fd {fd} vs {}", db[i]);
        }
    }

    #[test]
    fn non_contiguous_input_and_weight() {
        let dev = Cpu::seed_from_u64(4);
        let mut rng = StdRng::seed_from_u64(5);
        let m = dev.build_module::<Conv2D<2, 3, 3>, f64>();
        let (n, c, h, w) = (2, 2, 6, 5);
        let xv = random_vec(&mut rng, n * c * h * w);
        // Build the same logical (n, c, h, w) tensor from an (n, h, w, c) layout.
        let mut nhwc = vec![0.0; xv.len()];
        for bi in 0..n {
            for ci in 0..c {
                for i in 0..h {
                    for j in 0..w {
                        nhwc[((bi * h + i) * w + j) * c + ci] = xv[((bi * c + ci) * h + i) * w + j];
                    }
                }
            }
        }
        let base: Tensor<(usize, usize, usize, Const<2>), f64, Cpu> =
            dev.tensor_from_vec(nhwc, (n, h, w, Const));
        let x = base.leaky_trace().permute::<In4, Axes4<0, 3, 1, 2>>();
        assert_eq!(x.as_vec(), xv);
        let y = m.forward(x);
        let expect = naive_forward(
            &xv,
            (n, c, h, w),
            &m.weight.as_vec(),
            (3, 2, 3, 3),
            &m.bias.as_vec(),
        );
        assert_close(&y.as_vec(), &expect, 1e-12, "forward");
        let r = random_vec(&mut rng, expect.len());
        let rt = dev.tensor_from_vec(r.clone(), *y.shape());
        let g = (y * rt).sum().backward();
        let (ndx, ndw, ndb) =
            naive_backward(&xv, (n, c, h, w), &m.weight.as_vec(), (3, 2, 3, 3), &r);
        // gradient of `base` is in its own (n, h, w, c) layout
        let gb = g.get(&base).as_vec();
        for bi in 0..n {
            for ci in 0..c {
                for i in 0..h {
                    for j in 0..w {
                        let a = gb[((bi * h + i) * w + j) * c + ci];
                        let e = ndx[((bi * c + ci) * h + i) * w + j];
                        assert!((a - e).abs() < 1e-12, "{a} vs {e}");
                    }
                }
            }
        }
        assert_close(&g.get(&m.weight).as_vec(), &ndw, 1e-12, "dw");
        assert_close(&g.get(&m.bias).as_vec(), &ndb, 1e-12, "db");

        // A non-contiguous weight: its gradient must follow its own layout.
        let mut m2 = m.clone();
        let wv = m.weight.as_vec();
        let mut w_perm = vec![0.0; wv.len()]; // stored as (IN, OUT, K, K)
        for o in 0..3 {
            for ci in 0..2 {
                for k in 0..9 {
                    w_perm[(ci * 3 + o) * 9 + k] = wv[(o * 2 + ci) * 9 + k];
                }
            }
        }
        let wt: Tensor<Rank4<2, 3, 3, 3>, f64, Cpu> =
            dev.tensor_from_vec(w_perm, (Const, Const, Const, Const));
        m2.weight = wt.permute::<Rank4<3, 2, 3, 3>, Axes4<1, 0, 2, 3>>();
        assert_eq!(m2.weight.as_vec(), wv);
        let x: Tensor<In4, f64, Cpu> = dev.tensor_from_vec(xv.clone(), (n, Const, h, w));
        let y = m2.forward(x.clone());
        assert_close(&y.as_vec(), &expect, 1e-12, "forward, strided weight");
        let (_, dx, dw, _) = conv_loss_and_grads(&m2, &x, &r);
        assert_close(&dw, &ndw, 1e-12, "dw, strided weight");
        assert_close(&dx, &ndx, 1e-12, "dx, strided weight");
    }

    fn f32_matches_f64<const N: usize>() {
        let dev = Cpu::seed_from_u64(6);
        let m64 = dev.build_module::<Conv2D<2, 3, 3>, f64>();
        let m32 = m64.clone().to_dtype::<f32>();
        let mut rng = StdRng::seed_from_u64(7);
        let xv = random_vec(&mut rng, N * 2 * 7 * 8);
        let x64: Tensor<In4, f64, Cpu> = dev.tensor_from_vec(xv.clone(), (N, Const, 7, 8));
        let x32 = x64.clone().to_dtype::<f32>();
        let y64 = m64.forward(x64.leaky_trace());
        let y32 = m32.forward(x32.leaky_trace());
        assert_eq!(y32.shape(), &(N, Const::<3>, 5, 6));
        let a: Vec<f64> = y32.as_vec().iter().map(|&v| v as f64).collect();
        assert_close(&a, &y64.as_vec(), 1e-5, "f32 forward");
        let g64 = y64.square().sum().backward();
        let g32 = y32.square().sum().backward();
        let to64 = |v: Vec<f32>| v.into_iter().map(f64::from).collect::<Vec<_>>();
        assert_close(
            &to64(g32.get(&x32).as_vec()),
            &g64.get(&x64).as_vec(),
            1e-4,
            "f32 dx",
        );
        assert_close(
            &to64(g32.get(&m32.weight).as_vec()),
            &g64.get(&m64.weight).as_vec(),
            1e-4,
            "f32 dw",
        );
        assert_close(
            &to64(g32.get(&m32.bias).as_vec()),
            &g64.get(&m64.bias).as_vec(),
            1e-4,
            "f32 db",
        );
    }

    #[test]
    fn f32_matches_f64_small_and_large_batches() {
        // batch 1 (one image per GEMM), batch 33 (several images per GEMM,
        // uneven split over threads)
        f32_matches_f64::<1>();
        f32_matches_f64::<33>();
    }

    #[test]
    fn unbatched_and_const_shapes() {
        let dev = Cpu::seed_from_u64(8);
        let m = dev.build_module::<Conv2D<2, 3, 3>, f32>();
        let x: Tensor<Rank4<2, 2, 6, 5>, f32, _> = dev.sample_normal();
        let y: Tensor<(Const<2>, Const<3>, usize, usize), f32, _> = m.forward(x.clone());
        assert_eq!(y.shape(), &(Const, Const, 4, 3));
        let y_all = y.as_vec();
        // image 1 on its own, 3-D
        let x1: Tensor<Rank3<2, 6, 5>, f32, _> =
            dev.tensor_from_vec(x.as_vec()[60..].to_vec(), (Const, Const, Const));
        let y1 = m.forward(x1.leaky_trace());
        assert_eq!(y1.shape(), &(Const::<3>, 4, 3));
        assert_eq!(y1.as_vec(), y_all[36..].to_vec());
        let g = y1.sum().backward();
        assert_eq!(g.get(&x1).shape(), x1.shape());
    }

    #[test]
    fn too_small_input_is_an_error_not_a_panic() {
        let dev = Cpu::default();
        let m = dev.build_module::<Conv2D<1, 1, 3>, f32>();
        let x: Tensor<(usize, Const<1>, usize, usize), f32, _> = dev.zeros_like(&(1, Const, 2, 5));
        assert!(m.try_forward(x).is_err());
        // empty batch is fine
        let x: Tensor<(usize, Const<1>, usize, usize), f32, _> = dev.zeros_like(&(0, Const, 3, 3));
        assert_eq!(m.forward(x).shape(), &(0, Const::<1>, 1, 1));
    }

    #[test]
    fn initialization_params_and_safetensors() {
        let dev = Cpu::seed_from_u64(9);
        let mut m = dev.build_module::<Conv2D<4, 8, 5>, f32>();
        assert_eq!(m.num_trainable_params(), 8 * 4 * 25 + 8);
        let bound = 1.0 / (4.0f32 * 25.0).sqrt();
        for v in m.weight.as_vec().into_iter().chain(m.bias.as_vec()) {
            assert!(v.abs() <= bound);
        }
        // roughly uniform over the whole range
        let wmax = m
            .weight
            .as_vec()
            .into_iter()
            .fold(0.0f32, |a, v| a.max(v.abs()));
        assert!(wmax > 0.8 * bound);
        let before = m.weight.as_vec();
        m.reset_params();
        assert_ne!(before, m.weight.as_vec());

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("conv.safetensors");
        m.save_safetensors(&path).unwrap();
        let mut m2 = dev.build_module::<Conv2D<4, 8, 5>, f32>();
        m2.load_safetensors(&path).unwrap();
        assert_eq!(m2.weight.as_vec(), m.weight.as_vec());
        assert_eq!(m2.bias.as_vec(), m.bias.as_vec());
    }

    #[test]
    fn trains_in_tuple_model_with_sgd() {
        let dev = Cpu::seed_from_u64(10);
        type Model = (Conv2D<1, 4, 3>, ReLU, Conv2D<4, 2, 3>);
        let mut model = dev.build_module::<Model, f32>();
        let x: Maps<1, f32> = dev.sample_normal_like(&(8, Const, 9, 9));
        let target: Maps<2, f32> = dev.sample_normal_like(&(8, Const, 5, 5));
        let losses = sgd_losses(&mut model, &x, &target, 60);
        assert!(losses.iter().all(|l| l.is_finite()));
        assert!(
            losses[59] < 0.8 * losses[0],
            "loss did not decrease: {losses:?}"
        );
    }

    #[test]
    fn fallback_matmul_matches_gemm() {
        let mut rng = StdRng::seed_from_u64(11);
        let a = random_vec(&mut rng, 5 * 7);
        let b = random_vec(&mut rng, 7 * 3);
        let c0 = random_vec(&mut rng, 5 * 3);
        // a row-major, b transposed storage, dst column-major, accumulate
        let (am, bm, cm) = (
            Mat::row_major(5, 7),
            Mat {
                rows: 7,
                cols: 3,
                rs: 1,
                cs: 7,
            },
            Mat {
                rows: 5,
                cols: 3,
                rs: 1,
                cs: 5,
            },
        );
        let mut c1 = c0.clone();
        let mut c2 = c0.clone();
        gemm_into(&mut c1, cm, true, &a, am, &b, bm);
        gemm_fallback(&mut c2, cm, true, &a, am, &b, bm);
        assert_close(&c1, &c2, 1e-12, "accumulate");
        gemm_into(&mut c1, cm, false, &a, am, &b, bm);
        gemm_fallback(&mut c2, cm, false, &a, am, &b, bm);
        assert_close(&c1, &c2, 1e-12, "overwrite");
    }
}
