//! Stable-Rust 2-D max pooling layer for [dfdx] 0.13 on the CPU.
//!
//! dfdx 0.13 has a `MaxPool2D` layer, but its forward pass only exists
//! behind the `nightly` feature (it computes the output size in the type with
//! `generic_const_exprs`), and that feature no longer compiles. This module
//! provides a stable replacement for what this crate needs:
//! [`MaxPool2D<K>`] is PyTorch's `MaxPool2d(K)`: a `K`x`K` window, stride
//! `K`, no padding, no dilation, output size rounded down
//! (`H / K`, `W / K`; trailing rows/columns that do not fill a window are
//! ignored).
//!
//! * Device [`Cpu`] only; any `E: Dtype + Float` (`f32`, `f64`).
//! * The gradient of each output goes to the position of the maximum of its
//!   window; on ties, to the **first** maximum in row-major order (like
//!   PyTorch). If a window contains NaN the output is NaN and the gradient
//!   goes to the (last) NaN, exactly as PyTorch's CPU kernel does.
//! * No parameters: it is a dfdx `ZeroSizedModule`, so it can be used in
//!   tuple models and built with `dev.build_module::<MaxPool2D<K>, E>()`.
//!
//! # Shape convention
//!
//! Same as [`crate::nn::conv`]: stable Rust cannot compute `H / K` for a
//! generic `Const<H>`, so the output spatial dimensions are runtime `usize`:
//!
//! | input               | output                        |
//! |---------------------|-------------------------------|
//! | `(B, C, H, W)`      | `(B, C, usize, usize)`        |
//! | `(C, H, W)`         | `(C, usize, usize)`           |
//!
//! where `B`, `C`, `H`, `W` are any [`Dim`] (`usize` or `Const<N>`).
//!
//! # Errors and panics
//!
//! `try_forward` returns `Err(CpuError::WrongNumElements)` if the image is
//! smaller than one window (`H < K` or `W < K`; PyTorch raises an error
//! there too), and `forward` panics in that case. `K == 0` is rejected at
//! compile time.
//!
//! # Example
//!
//! ```
//! use arelu::nn::pool::MaxPool2D;
//! use dfdx::nn::{DeviceBuildExt, Module};
//! use dfdx::prelude::*;
//!
//! let dev = Cpu::default();
//! let pool = dev.build_module::<MaxPool2D<2>, f32>();
//! let x: Tensor<(usize, Const<1>, usize, usize), f32, _> = dev.tensor_from_vec(
//!     vec![
//!         1.0, 2.0, 0.0, 0.0, 9.0,
//!         3.0, 4.0, 0.0, 5.0, 9.0,
//!         9.0, 9.0, 9.0, 9.0, 9.0,
//!     ],
//!     (1, Const, 3, 5),
//! );
//! let y = pool.forward(x.leaky_trace());
//! assert_eq!(y.shape(), &(1, Const::<1>, 1, 2));
//! assert_eq!(y.as_vec(), vec![4.0, 5.0]);
//! let grads = y.sum().backward();
//! assert_eq!(
//!     grads.get(&x).as_vec(),
//!     vec![
//!         0.0, 0.0, 0.0, 0.0, 0.0,
//!         0.0, 1.0, 0.0, 1.0, 0.0,
//!         0.0, 0.0, 0.0, 0.0, 0.0,
//!     ]
//! );
//! ```

use dfdx::nn::{Module, NonMutableModule, ZeroSizedModule};
use dfdx::shapes::{Const, Dim, Dtype, HasShape};
use dfdx::tensor::{Cpu, CpuError, PutTape, SplitTape, Tape, Tensor, TensorFromVec};
use dfdx::tensor_ops::ReshapeTo;
use rayon::prelude::*;

use super::dims::PoolDims;
use super::simd::with_simd;
use super::tape::{grad_of, read_and_write, read_contiguous};
use crate::activation::Float;

/// Max pooling over `K`x`K` windows with stride `K` and no padding
/// (PyTorch's `MaxPool2d(K)`). See the [module docs](self).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct MaxPool2D<const K: usize>;

impl<const K: usize> ZeroSizedModule for MaxPool2D<K> {}
impl<const K: usize> NonMutableModule for MaxPool2D<K> {}

impl<const K: usize, B, C, H, W, E, T> Module<Tensor<(B, C, H, W), E, Cpu, T>> for MaxPool2D<K>
where
    B: Dim,
    C: Dim,
    H: Dim,
    W: Dim,
    E: Dtype + Float,
    T: Tape<E, Cpu>,
{
    type Output = Tensor<(B, C, usize, usize), E, Cpu, T>;
    type Error = CpuError;

    /// Batched forward: `(B, C, H, W) -> (B, C, H / K, W / K)`.
    ///
    /// Returns `Err(CpuError::WrongNumElements)` if `H < K` or `W < K`.
    fn try_forward(&self, x: Tensor<(B, C, H, W), E, Cpu, T>) -> Result<Self::Output, CpuError> {
        max_pool::<K, _, _, _, _, _, _>(x)
    }
}

impl<const K: usize, C, H, W, E, T> Module<Tensor<(C, H, W), E, Cpu, T>> for MaxPool2D<K>
where
    C: Dim,
    H: Dim,
    W: Dim,
    E: Dtype + Float,
    T: Tape<E, Cpu>,
{
    type Output = Tensor<(C, usize, usize), E, Cpu, T>;
    type Error = CpuError;

    /// Unbatched forward: `(C, H, W) -> (C, H / K, W / K)`.
    ///
    /// Returns `Err(CpuError::WrongNumElements)` if `H < K` or `W < K`.
    fn try_forward(&self, x: Tensor<(C, H, W), E, Cpu, T>) -> Result<Self::Output, CpuError> {
        let (c, h, w) = *x.shape();
        let x = x.try_reshape_like(&(Const::<1>, c, h, w))?;
        let y = max_pool::<K, _, _, _, _, _, _>(x)?;
        let (_, _, ho, wo) = *y.shape();
        y.try_reshape_like(&(c, ho, wo))
    }
}

fn max_pool<const K: usize, B, C, H, W, E, T>(
    x: Tensor<(B, C, H, W), E, Cpu, T>,
) -> Result<Pooled<B, C, E, T>, CpuError>
where
    B: Dim,
    C: Dim,
    H: Dim,
    W: Dim,
    E: Dtype + Float,
    T: Tape<E, Cpu>,
{
    const { assert!(K > 0, "MaxPool2D kernel size K must be positive") };
    let (b, c, h, w) = *x.shape();
    let d = PoolDims {
        planes: b.size() * c.size(),
        h: h.size(),
        w: w.size(),
        ho: h.size() / K,
        wo: w.size() / K,
    };
    if d.ho == 0 || d.wo == 0 {
        return Err(CpuError::WrongNumElements);
    }
    // The input gradient buffer follows the storage layout, so work on a
    // contiguous tensor (dfdx records the copy on the tape if one is made).
    let x = x.try_contiguous()?;
    let (x, mut tape) = x.split_tape();
    if u32::try_from(d.h * d.w).is_err() {
        // window positions are stored as u32 indices within a plane
        return Err(CpuError::WrongNumElements);
    }
    let x_data = read_contiguous(&x);
    let in_len = x_data.len();
    let mut out_data = vec![E::zero(); d.planes * d.ho * d.wo];
    let mut argmax = vec![0u32; out_data.len()];
    pool_forward::<K, E>(&d, &x_data, &mut out_data, &mut argmax);
    drop(x_data);
    let out = x
        .device()
        .try_tensor_from_vec(out_data, (b, c, d.ho, d.wo))?;
    if T::OWNS_TAPE {
        let x_ghost = x.ghost();
        let out_ghost = out.ghost();
        drop(x);
        tape.add_backward_op(move |grads| {
            let (grad_out, grad_x) =
                read_and_write(grads, grad_of!(&out_ghost), grad_of!(&x_ghost))?;
            let out_len = d.planes * d.ho * d.wo;
            if grad_out.len() < out_len || grad_x.len() < in_len {
                return Err(CpuError::WrongNumElements);
            }
            let grad_out = &grad_out[..out_len];
            pool_backward(&d, &argmax, grad_out, &mut grad_x[..in_len]);
            Ok(())
        });
    }
    Ok(out.put_tape(tape))
}

/// Output of a batched forward: `(B, C, usize, usize)` on the Cpu.
type Pooled<B, C, E, T> = Tensor<(B, C, usize, usize), E, Cpu, T>;

/// Index (within its plane) and value of the maximum of window `(oh, ow)`:
/// first maximum on ties, the last NaN if there is one (PyTorch semantics).
/// Written with selects rather than branches: which element wins is data
/// dependent, so branches would be mispredicted half the time.
#[inline(always)]
fn window_argmax<const K: usize, E: Float>(
    plane: &[E],
    w: usize,
    oh: usize,
    ow: usize,
) -> (usize, E) {
    let (r0, c0) = (oh * K, ow * K);
    let mut best = E::neg_infinity();
    let mut best_idx = r0 * w + c0;
    for i in 0..K {
        let start = (r0 + i) * w + c0;
        for (j, &v) in plane[start..start + K].iter().enumerate() {
            let take = v > best || v.is_nan();
            best = if take { v } else { best };
            best_idx = if take { start + j } else { best_idx };
        }
    }
    (best_idx, best)
}

/// Max of every window into `out`, and each window's argmax (index within its
/// plane, for the backward pass) into `argmax`.
fn pool_forward<const K: usize, E: Float + Send + Sync>(
    d: &PoolDims,
    x: &[E],
    out: &mut [E],
    argmax: &mut [u32],
) {
    let (in_plane, out_plane) = (d.h * d.w, d.ho * d.wo);
    if out.is_empty() {
        return;
    }
    let per_task = d.per_task();
    out.par_chunks_mut(per_task * out_plane)
        .zip(x.par_chunks(per_task * in_plane))
        .zip(argmax.par_chunks_mut(per_task * out_plane))
        .for_each(|((out, x), argmax)| pool_planes::<K, E>(d, x, out, argmax));
}

/// [`pool_forward`] of the planes in `x` (a whole number of them, `d.planes` is not used),
/// on the calling thread.
fn pool_planes<const K: usize, E: Float>(d: &PoolDims, x: &[E], out: &mut [E], argmax: &mut [u32]) {
    let (in_plane, out_plane) = (d.h * d.w, d.ho * d.wo);
    if K == 2 {
        with_simd(
            #[inline(always)]
            || {
                let planes = out
                    .chunks_exact_mut(out_plane)
                    .zip(x.chunks_exact(in_plane));
                for ((o, plane), argmax) in planes.zip(argmax.chunks_exact_mut(out_plane)) {
                    pool_plane_2x2(plane, d, o, argmax);
                }
            },
        );
        return;
    }
    for (p, (o, plane)) in out
        .chunks_exact_mut(out_plane)
        .zip(x.chunks_exact(in_plane))
        .enumerate()
    {
        for (oh, row) in o.chunks_exact_mut(d.wo).enumerate() {
            for (ow, v) in row.iter_mut().enumerate() {
                let (idx, max) = window_argmax::<K, E>(plane, d.w, oh, ow);
                *v = max;
                // fits: the caller checked that a plane's size fits in u32
                argmax[p * out_plane + oh * d.wo + ow] = idx as u32;
            }
        }
    }
}

/// [`pool_forward`] of one plane for 2x2 windows, the common case. Same selection rule as
/// [`window_argmax`] (first maximum on ties, last NaN).
///
/// Works on [`WINDOWS_PER_BLOCK`] windows of a row at a time, as arrays (a row's last, partial block too,
/// copied into a padded array), with selects rather than branches: which element of a window
/// wins is data dependent, so branches are mispredicted, and scalar code with branches made
/// pooling cost more than the convolution before it. This is the form the compiler turns
/// into vector compares and blends (run under [`with_simd`]).
#[inline(always)]
fn pool_plane_2x2<E: Float>(plane: &[E], d: &PoolDims, out: &mut [E], argmax: &mut [u32]) {
    let (w, wo) = (d.w, d.wo);
    for oh in 0..d.ho {
        let top_start = 2 * oh * w;
        let top = &plane[top_start..top_start + 2 * wo];
        let bottom = &plane[top_start + w..top_start + w + 2 * wo];
        let out_row = &mut out[oh * wo..(oh + 1) * wo];
        let arg_row = &mut argmax[oh * wo..(oh + 1) * wo];
        let mut ow = 0;
        while ow < wo {
            let n = WINDOWS_PER_BLOCK.min(wo - ow);
            let pairs = |row: &[E]| -> [E; 2 * WINDOWS_PER_BLOCK] {
                match row.get(2 * ow..2 * (ow + WINDOWS_PER_BLOCK)) {
                    Some(full) => full.try_into().expect("2 * WINDOWS_PER_BLOCK elements"),
                    None => {
                        let mut block = [E::zero(); 2 * WINDOWS_PER_BLOCK];
                        block[..2 * n].copy_from_slice(&row[2 * ow..2 * (ow + n)]);
                        block
                    }
                }
            };
            let (t, b) = (pairs(top), pairs(bottom));
            // the window's four elements in row-major order, and their offsets from its first
            let candidates = [(&t, 1, 1), (&b, 0, w), (&b, 1, w + 1)];
            let mut best = [E::zero(); WINDOWS_PER_BLOCK];
            let mut offset = [0u32; WINDOWS_PER_BLOCK];
            for l in 0..WINDOWS_PER_BLOCK {
                best[l] = t[2 * l];
            }
            for (row, column, off) in candidates {
                for l in 0..WINDOWS_PER_BLOCK {
                    let v = row[2 * l + column];
                    let take = v > best[l] || v.is_nan();
                    best[l] = if take { v } else { best[l] };
                    // fits: the caller checked that a plane's size fits in u32
                    offset[l] = if take { off as u32 } else { offset[l] };
                }
            }
            let first = (top_start + 2 * ow) as u32;
            for l in 0..n {
                out_row[ow + l] = best[l];
                arg_row[ow + l] = first + 2 * l as u32 + offset[l];
            }
            ow += n;
        }
    }
}

/// Windows per block of [`pool_plane_2x2`].
const WINDOWS_PER_BLOCK: usize = 8;

/// Accumulates `grad_out` into `dx` at each window's argmax, as recorded by
/// the forward pass.
fn pool_backward<E: Float + Send + Sync>(
    d: &PoolDims,
    argmax: &[u32],
    grad_out: &[E],
    dx: &mut [E],
) {
    let (in_plane, out_plane) = (d.h * d.w, d.ho * d.wo);
    if grad_out.is_empty() {
        return;
    }
    let per_task = d.per_task();
    dx.par_chunks_mut(per_task * in_plane)
        .zip(argmax.par_chunks(per_task * out_plane))
        .zip(grad_out.par_chunks(per_task * out_plane))
        .for_each(|((dx, argmax), g)| {
            let planes = dx
                .chunks_exact_mut(in_plane)
                .zip(argmax.chunks_exact(out_plane))
                .zip(g.chunks_exact(out_plane));
            for ((dxp, ap), gp) in planes {
                for (&idx, &gv) in ap.iter().zip(gp) {
                    let idx = idx as usize;
                    dxp[idx] = dxp[idx] + gv;
                }
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::conv::Conv2D;
    use crate::nn::test_support::{sgd_losses, Maps};
    use dfdx::nn::DeviceBuildExt;
    use dfdx::prelude::*;
    use rand::{rngs::StdRng, Rng, SeedableRng};

    type In4 = (usize, Const<3>, usize, usize);

    /// Naive max pool with PyTorch semantics; returns (out, argmax indices
    /// into the flat input).
    fn naive(
        x: &[f64],
        n: usize,
        c: usize,
        h: usize,
        w: usize,
        k: usize,
    ) -> (Vec<f64>, Vec<usize>) {
        let (ho, wo) = (h / k, w / k);
        let mut out = Vec::new();
        let mut idx = Vec::new();
        for p in 0..n * c {
            for i in 0..ho {
                for j in 0..wo {
                    let mut best = f64::NEG_INFINITY;
                    let mut bi = p * h * w + i * k * w + j * k;
                    for a in 0..k {
                        for b in 0..k {
                            let q = p * h * w + (i * k + a) * w + j * k + b;
                            if x[q] > best || x[q].is_nan() {
                                best = x[q];
                                bi = q;
                            }
                        }
                    }
                    out.push(best);
                    idx.push(bi);
                }
            }
        }
        (out, idx)
    }

    fn random_vec(rng: &mut StdRng, n: usize) -> Vec<f64> {
        (0..n).map(|_| rng.gen_range(-1.0..1.0)).collect()
    }

    fn check_against_naive<const K: usize>(n: usize, h: usize, w: usize, seed: u64) {
        let dev = Cpu::default();
        let mut rng = StdRng::seed_from_u64(seed);
        let xv = random_vec(&mut rng, n * 3 * h * w);
        let x: Tensor<In4, f64, _> = dev.tensor_from_vec(xv.clone(), (n, Const, h, w));
        let y = MaxPool2D::<K>.forward(x.leaky_trace());
        assert_eq!(y.shape(), &(n, Const::<3>, h / K, w / K));
        let (expect, idx) = naive(&xv, n, 3, h, w, K);
        assert_eq!(y.as_vec(), expect);
        let r = random_vec(&mut rng, expect.len());
        let rt = dev.tensor_from_vec(r.clone(), *y.shape());
        let g = (y * rt).sum().backward();
        let mut dx = vec![0.0; xv.len()];
        for (i, &q) in idx.iter().enumerate() {
            dx[q] += r[i];
        }
        assert_eq!(g.get(&x).as_vec(), dx);
    }

    #[test]
    fn forward_and_gradient_match_naive_reference() {
        check_against_naive::<2>(2, 6, 6, 0);
        check_against_naive::<2>(2, 7, 5, 1); // floor: last row/column dropped
        check_against_naive::<3>(3, 10, 9, 2);
        check_against_naive::<1>(1, 3, 4, 3);
        // large enough to be split over several rayon tasks
        check_against_naive::<2>(64, 24, 24, 4);
    }

    /// Ties, NaN and -inf everywhere: values drawn from a set of five, so
    /// that most windows hold repeated values. Both the 2x2 path and the
    /// general one must pick the same element as the reference.
    fn check_special_values<const K: usize>(seed: u64) {
        let dev = Cpu::default();
        let mut rng = StdRng::seed_from_u64(seed);
        let choices = [f64::NEG_INFINITY, -1.0, 0.0, 1.0, f64::NAN];
        let (n, h, w) = (4, 12, 10);
        let xv: Vec<f64> = (0..n * 3 * h * w)
            .map(|_| choices[rng.gen_range(0..choices.len())])
            .collect();
        let x: Tensor<In4, f64, _> = dev.tensor_from_vec(xv.clone(), (n, Const, h, w));
        let y = MaxPool2D::<K>.forward(x.leaky_trace());
        let (expect, idx) = naive(&xv, n, 3, h, w, K);
        let got = y.as_vec();
        for (i, (g, e)) in got.iter().zip(&expect).enumerate() {
            assert!(
                g == e || (g.is_nan() && e.is_nan()),
                "output {i}: {g} vs {e}"
            );
        }
        let grad = y.sum().backward().get(&x).as_vec();
        let mut dx = vec![0.0; xv.len()];
        for &q in &idx {
            dx[q] += 1.0;
        }
        assert_eq!(grad, dx);
    }

    #[test]
    fn ties_nan_and_infinity_match_reference_in_every_window() {
        for seed in 0..4 {
            check_special_values::<2>(seed);
            check_special_values::<3>(seed + 10);
        }
    }

    #[test]
    fn gradient_matches_finite_differences_f64() {
        let dev = Cpu::default();
        let mut rng = StdRng::seed_from_u64(5);
        let (n, h, w) = (2, 6, 6);
        let xv = random_vec(&mut rng, n * 3 * h * w);
        let r = random_vec(&mut rng, n * 3 * 9);
        let loss = |v: &[f64]| -> f64 {
            let x: Tensor<In4, f64, _> = dev.tensor_from_vec(v.to_vec(), (n, Const, h, w));
            let y = MaxPool2D::<2>.forward(x);
            y.as_vec().iter().zip(&r).map(|(a, b)| a * b).sum()
        };
        let x: Tensor<In4, f64, _> = dev.tensor_from_vec(xv.clone(), (n, Const, h, w));
        let y = MaxPool2D::<2>.forward(x.leaky_trace());
        let rt = dev.tensor_from_vec(r.clone(), *y.shape());
        let dx = (y * rt).sum().backward().get(&x).as_vec();
        let eps = 1e-6;
        for i in 0..xv.len() {
            let mut p = xv.clone();
            p[i] += eps;
            let lp = loss(&p);
            p[i] -= 2.0 * eps;
            let lm = loss(&p);
            let fd = (lp - lm) / (2.0 * eps);
            assert!((fd - dx[i]).abs() < 1e-7, "dx[{i}]: fd {fd} vs {}", dx[i]);
        }
    }

    #[test]
    fn ties_go_to_first_max_and_nan_propagates() {
        let dev = Cpu::default();
        let nan = f32::NAN;
        let ninf = f32::NEG_INFINITY;
        #[rustfmt::skip]
        let xv = vec![
            // window 0: all equal -> first; window 1: NaN then bigger values
            1.0, 1.0,   2.0, 5.0,   ninf, ninf,
            1.0, 1.0,   nan, 7.0,   ninf, ninf,
        ];
        let x: Tensor<(usize, Const<1>, usize, usize), f32, _> =
            dev.tensor_from_vec(xv, (1, Const, 2, 6));
        let y = MaxPool2D::<2>.forward(x.leaky_trace());
        let yv = y.as_vec();
        assert_eq!(yv[0], 1.0);
        assert!(yv[1].is_nan());
        assert_eq!(yv[2], f32::NEG_INFINITY);
        let g = y.sum().backward().get(&x).as_vec();
        #[rustfmt::skip]
        assert_eq!(g, vec![
            1.0, 0.0,   0.0, 0.0,   1.0, 0.0,
            0.0, 0.0,   1.0, 0.0,   0.0, 0.0,
        ]);
    }

    #[test]
    fn non_contiguous_input_f32() {
        let dev = Cpu::default();
        let mut rng = StdRng::seed_from_u64(6);
        let (n, c, h, w) = (2, 3, 4, 6);
        let xv = random_vec(&mut rng, n * c * h * w);
        // the same logical tensor, stored as (n, h, w, c)
        let mut nhwc = vec![0.0f32; xv.len()];
        for b in 0..n {
            for ci in 0..c {
                for i in 0..h {
                    for j in 0..w {
                        nhwc[((b * h + i) * w + j) * c + ci] =
                            xv[((b * c + ci) * h + i) * w + j] as f32;
                    }
                }
            }
        }
        let base: Tensor<(usize, usize, usize, Const<3>), f32, _> =
            dev.tensor_from_vec(nhwc, (n, h, w, Const));
        let x = base.leaky_trace().permute::<In4, Axes4<0, 3, 1, 2>>();
        let y = MaxPool2D::<2>.forward(x);
        let (expect, idx) = naive(&xv, n, c, h, w, 2);
        let yv: Vec<f64> = y.as_vec().iter().map(|&v| v as f64).collect();
        let expect32: Vec<f64> = expect.iter().map(|&v| v as f32 as f64).collect();
        assert_eq!(yv, expect32);
        let gb = y.sum().backward().get(&base).as_vec();
        let mut dx = vec![0.0f32; xv.len()];
        for &q in &idx {
            dx[q] += 1.0;
        }
        for b in 0..n {
            for ci in 0..c {
                for i in 0..h {
                    for j in 0..w {
                        assert_eq!(
                            gb[((b * h + i) * w + j) * c + ci],
                            dx[((b * c + ci) * h + i) * w + j]
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn unbatched_const_shapes_and_errors() {
        let dev = Cpu::default();
        let pool = dev.build_module::<MaxPool2D<2>, f64>();
        let x: Tensor<Rank3<2, 4, 5>, f64, _> = dev.sample_normal();
        let y = pool.forward(x.leaky_trace());
        assert_eq!(y.shape(), &(Const::<2>, 2, 2));
        let xv: Vec<f64> = x.as_vec();
        let (expect, _) = naive(&xv, 1, 2, 4, 5, 2);
        assert_eq!(y.as_vec(), expect);
        let g = y.sum().backward();
        assert_eq!(g.get(&x).as_vec().iter().sum::<f64>(), 8.0);

        let x: Tensor<Rank4<2, 3, 5, 5>, f64, _> = dev.sample_normal();
        let y: Tensor<(Const<2>, Const<3>, usize, usize), f64, _> = pool.forward(x);
        assert_eq!(y.shape(), &(Const, Const, 2, 2));

        let small: Tensor<(usize, Const<3>, usize, usize), f64, _> =
            dev.zeros_like(&(1, Const, 1, 4));
        assert!(pool.try_forward(small).is_err());
        let empty: Tensor<(usize, Const<3>, usize, usize), f64, _> =
            dev.zeros_like(&(0, Const, 4, 4));
        assert_eq!(pool.forward(empty).shape(), &(0, Const::<3>, 2, 2));
    }

    #[test]
    fn conv_pool_model_trains_with_sgd() {
        let dev = Cpu::seed_from_u64(7);
        type Model = (Conv2D<1, 4, 3>, ReLU, MaxPool2D<2>, Conv2D<4, 2, 2>);
        let mut model = dev.build_module::<Model, f64>();
        let x: Maps<1, f64> = dev.sample_normal_like(&(8, Const, 10, 10));
        let target: Maps<2, f64> = dev.sample_normal_like(&(8, Const, 3, 3));
        let losses = sgd_losses(&mut model, &x, &target, 60);
        assert!(
            losses[59] < 0.8 * losses[0],
            "loss did not decrease: {losses:?}"
        );
    }
}
