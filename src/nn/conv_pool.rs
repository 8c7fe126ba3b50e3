//! A convolution followed by max pooling, as one layer with one backward pass.
//!
//! [`ConvPool2D<IN, OUT, K, POOL>`] computes exactly what [`Conv2D<IN, OUT, K>`] followed by
//! [`MaxPool2D<POOL>`] computes (the same forward values, bit for bit, and the same
//! gradients up to the order of the sums), with the same parameters, names and
//! initialisation as the `Conv2D`. It is faster for two reasons:
//!
//! * the convolution's full-size output never becomes a dfdx tensor: each thread pools it
//!   while it is still in cache, and only the pooled maps (a `POOL`² fraction) are written;
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
//! let fused = dev.build_module::<ConvPool2D<1, 4, 3, 2>, f32>();
//! let x: Tensor<(usize, Const<1>, usize, usize), f32, _> =
//!     dev.sample_normal_like(&(2, Const, 10, 10));
//! let y = fused.forward(x.clone());
//! assert_eq!(y.shape(), &(2, Const::<4>, 4, 4));
//!
//! // the same as the two layers, with the same weight and bias
//! let mut conv = dev.build_module::<Conv2D<1, 4, 3>, f32>();
//! conv.weight = fused.weight.clone();
//! conv.bias = fused.bias.clone();
//! let separate = MaxPool2D::<2>.forward(conv.forward(x));
//! assert_eq!(y.as_vec(), separate.as_vec());
//! ```
//!
//! [`Conv2D<IN, OUT, K>`]: crate::nn::conv::Conv2D
//! [`MaxPool2D<POOL>`]: crate::nn::pool::MaxPool2D

use dfdx::nn::{
    BuildModule, BuildOnDevice, Module, ModuleVisitor, NonMutableModule, TensorCollection,
};
use dfdx::shapes::{Const, Dim, Dtype, HasShape, Rank1, Rank4};
use dfdx::tensor::{Cpu, CpuError, Storage, Tape, Tensor};
use dfdx::tensor_ops::{Device, ReshapeTo};
use num_traits::Float;
use rand::distributions::uniform::SampleUniform;
use rayon::prelude::*;

use super::conv::{
    conv_forward_images, conv_init, record_conv_op, BatchedOut, ConvDims, ConvOpOutput,
    ForwardScratch,
};
use super::pool::{pool_planes, PoolDims};
use super::simd::with_simd;

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
        let (_, h, w) = *x.shape();
        let x = x.try_reshape_like(&(Const::<1>, Const::<IN>, h, w))?;
        let y = self.forward_batched(x)?;
        let (_, _, ho, wo) = *y.shape();
        y.try_reshape_like(&(Const::<OUT>, ho, wo))
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
                forward(d, &pd, P, x, w, b, &mut out, &mut argmax);
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
/// a window position does not fit the `u32` the argmax is stored in.
fn pool_dims<const P: usize>(d: &ConvDims) -> Option<PoolDims> {
    let pd = PoolDims {
        planes: d.batch * d.c_out,
        h: d.ho,
        w: d.wo,
        ho: d.ho / P,
        wo: d.wo / P,
    };
    let fits = u32::try_from(d.ho * d.wo).is_ok();
    (pd.ho > 0 && pd.wo > 0 && fits).then_some(pd)
}

/// Images per parallel task: the batch split evenly over rayon's threads.
fn per_task(batch: usize) -> usize {
    batch.div_ceil(rayon::current_num_threads().max(1)).max(1)
}

/// Convolution then pooling, group by group of images: each group's convolution output
/// stays in a small per-thread buffer and only the pooled maps and their argmax (the window
/// maximum's index within the convolution's output plane) are written.
#[allow(clippy::too_many_arguments)]
fn forward<E: Float + Send + Sync + 'static>(
    d: &ConvDims,
    pd: &PoolDims,
    pool: usize,
    x: &[E],
    w: &[E],
    bias: &[E],
    out: &mut [E],
    argmax: &mut [u32],
) {
    let pooled_img = d.c_out * pd.ho * pd.wo;
    if out.is_empty() {
        return;
    }
    let per_task = per_task(d.batch);
    out.par_chunks_mut(per_task * pooled_img)
        .zip(argmax.par_chunks_mut(per_task * pooled_img))
        .zip(x.par_chunks(per_task * d.in_img()))
        .for_each(|((out, argmax), x)| {
            let n = out.len() / pooled_img;
            // as many images as one GEMM of the convolution takes
            let group = d.group(n);
            let mut conv_out = vec![E::zero(); group * d.out_img()];
            let mut scratch = ForwardScratch::default();
            for ((out, argmax), x) in out
                .chunks_mut(group * pooled_img)
                .zip(argmax.chunks_mut(group * pooled_img))
                .zip(x.chunks(group * d.in_img()))
            {
                let conv_out = &mut conv_out[..x.len() / d.in_img() * d.out_img()];
                if d.ikk() == 0 {
                    // no input channels: the convolution is its bias
                    for (o, plane) in conv_out.chunks_exact_mut(d.p()).enumerate() {
                        plane.fill(bias[o % d.c_out]);
                    }
                } else {
                    conv_forward_images(d, x, w, bias, conv_out, &mut scratch);
                }
                match pool {
                    2 => pool_planes::<2, E>(pd, conv_out, out, argmax),
                    3 => pool_planes::<3, E>(pd, conv_out, out, argmax),
                    _ => pool_planes_any(pool, pd, conv_out, out, argmax),
                }
            }
        });
}

/// [`pool_planes`] for a pooling size given at run time (other than 2 and 3).
fn pool_planes_any<E: Float>(
    pool: usize,
    pd: &PoolDims,
    x: &[E],
    out: &mut [E],
    argmax: &mut [u32],
) {
    macro_rules! sizes {
        ($($k:literal)*) => {
            match pool {
                $($k => pool_planes::<$k, E>(pd, x, out, argmax),)*
                _ => pool_planes_runtime(pool, pd, x, out, argmax),
            }
        };
    }
    sizes!(1 4 5 6 7 8)
}

/// The general pooling loop (first maximum on ties, the last NaN if there is one), for
/// pooling sizes the const-generic kernel is not instantiated for.
fn pool_planes_runtime<E: Float>(
    pool: usize,
    pd: &PoolDims,
    x: &[E],
    out: &mut [E],
    argmax: &mut [u32],
) {
    let (in_plane, out_plane) = (pd.h * pd.w, pd.ho * pd.wo);
    for (p, plane) in x.chunks_exact(in_plane).enumerate() {
        for oh in 0..pd.ho {
            for ow in 0..pd.wo {
                let mut best = E::neg_infinity();
                let mut best_idx = oh * pool * pd.w + ow * pool;
                for i in 0..pool {
                    for j in 0..pool {
                        let idx = (oh * pool + i) * pd.w + ow * pool + j;
                        let v = plane[idx];
                        if v > best || v.is_nan() {
                            best = v;
                            best_idx = idx;
                        }
                    }
                }
                out[p * out_plane + oh * pd.wo + ow] = best;
                // fits: `pool_dims` checked that a plane's size fits in u32
                argmax[p * out_plane + oh * pd.wo + ow] = best_idx as u32;
            }
        }
    }
}

/// Lanes of the vector loops of the backward pass: one kernel row (K <= LANES values) is
/// handled as one `[E; LANES]` array, which the compiler maps onto vector registers.
const LANES: usize = 8;

/// One pooled output with a nonzero gradient: the gradient, and where its window's maximum
/// is in an input plane (the top-left corner of the input patch it was computed from).
#[derive(Clone, Copy)]
struct Hit<E> {
    grad: E,
    at: usize,
}

/// What the backward pass keeps from the forward pass.
pub(crate) struct Saved {
    pool: PoolDims,
    /// Per pooled output, the index of its window's maximum in the convolution's output plane.
    argmax: Vec<u32>,
}

/// Backward pass of convolution + pooling from the pooled gradient. Accumulates into `dw`,
/// `db` and, when given, `dx`; every gradient is a sum over the pooled outputs alone:
///
/// ```text
/// db[o]                  += g[o, q]
/// dw[o, c, ki, kj]       += g[o, q] * x[c, r + ki, s + kj]
/// dx[c, r + ki, s + kj]  += g[o, q] * w[o, c, ki, kj]
/// ```
///
/// where `(r, s)` is the position of the maximum of pooled output `q`'s window.
#[allow(clippy::too_many_arguments)]
fn backward<const K: usize, E: Float + Send + Sync>(
    d: &ConvDims,
    saved: &Saved,
    x: &[E],
    w: &[E],
    grad_out: &[E],
    dx: Option<&mut [E]>,
    dw: &mut [E],
    db: &mut [E],
) {
    let pooled_ch = saved.pool.ho * saved.pool.wo;
    let pooled_img = d.c_out * pooled_ch;
    if pooled_img == 0 || d.batch == 0 {
        return;
    }
    let w_channels_last = channels_last_weights::<K, E>(d, w);
    let per_task = per_task(d.batch);
    let dx_tasks: Vec<Option<&mut [E]>> = match dx {
        Some(dx) => dx.chunks_mut(per_task * d.in_img()).map(Some).collect(),
        None => (0..d.batch.div_ceil(per_task)).map(|_| None).collect(),
    };
    let partials: Vec<TaskGradients<E>> = dx_tasks
        .into_par_iter()
        .zip(grad_out.par_chunks(per_task * pooled_img))
        .zip(saved.argmax.par_chunks(per_task * pooled_img))
        .enumerate()
        .map(|(task, ((dx, gout), argmax))| {
            let mut acc = TaskGradients::new::<K>(d);
            let first = task * per_task;
            let images = TaskImages {
                x: &x[first * d.in_img()..],
                grad_out: gout,
                argmax,
                pooled_ch,
            };
            with_simd(
                #[inline(always)]
                || acc.add_images::<K>(d, &images, &w_channels_last, dx),
            );
            acc
        })
        .collect();
    // summed in task order, so results do not depend on scheduling
    for task in partials {
        for (a, b) in dw.iter_mut().zip(task.dw_exact::<K>()) {
            *a = *a + b;
        }
        for (a, &b) in db.iter_mut().zip(&task.db) {
            *a = *a + b;
        }
    }
}

/// The data of one task's images: inputs (from the task's first image to the end of the
/// batch, so that vector loads past its last image stay inside the buffer where they can),
/// and the pooled gradients and argmax of its images alone.
struct TaskImages<'a, E> {
    x: &'a [E],
    grad_out: &'a [E],
    argmax: &'a [u32],
    pooled_ch: usize,
}

/// One task's gradient sums. For `K <= LANES` the weight gradient is kept as one
/// `[E; LANES]` per kernel row (lanes `K..` collect products of neighbouring inputs and are
/// dropped at the end); for larger kernels as the exact `(OUT, IN, K, K)` array.
struct TaskGradients<E> {
    dw_rows: Vec<[E; LANES]>,
    dw: Vec<E>,
    db: Vec<E>,
    /// The current channel's pooled outputs with a nonzero gradient.
    hits: Vec<Hit<E>>,
    /// The current image's input gradient, channels last: pixel by pixel, its channels
    /// in `ceil(IN / LANES)` arrays (lanes past `IN` unused).
    dx_image: Vec<[E; LANES]>,
}

impl<E: Float> TaskGradients<E> {
    fn new<const K: usize>(d: &ConvDims) -> Self {
        let rows = d.c_out * d.c_in * K;
        let vector = K <= LANES;
        TaskGradients {
            dw_rows: vec![[E::zero(); LANES]; if vector { rows } else { 0 }],
            dw: vec![E::zero(); if vector { 0 } else { d.weight_len() }],
            db: vec![E::zero(); d.c_out],
            hits: Vec::new(),
            dx_image: Vec::new(),
        }
    }

    /// The weight gradient in the `(OUT, IN, K, K)` layout.
    fn dw_exact<const K: usize>(&self) -> Vec<E> {
        if K <= LANES {
            self.dw_rows
                .iter()
                .flat_map(|row| row[..K].iter().copied())
                .collect()
        } else {
            self.dw.clone()
        }
    }

    /// Adds the gradients of the task's images; `dx`, when given, is their input gradient.
    /// `w_cl` is the weight in the layout of [`channels_last_weights`].
    #[inline(always)]
    fn add_images<const K: usize>(
        &mut self,
        d: &ConvDims,
        images: &TaskImages<'_, E>,
        w_cl: &[[E; LANES]],
        mut dx: Option<&mut [E]>,
    ) {
        let plane = d.h * d.w;
        let chunks = d.c_in.div_ceil(LANES);
        let pooled_img = d.c_out * images.pooled_ch;
        let n = images.grad_out.len() / pooled_img;
        for img in 0..n {
            let x_img = &images.x[img * d.in_img()..];
            if dx.is_some() {
                self.dx_image.clear();
                self.dx_image.resize(plane * chunks, [E::zero(); LANES]);
            }
            for o in 0..d.c_out {
                let start = img * pooled_img + o * images.pooled_ch;
                let end = start + images.pooled_ch;
                self.collect_hits(
                    d,
                    o,
                    &images.grad_out[start..end],
                    &images.argmax[start..end],
                );
                if self.hits.is_empty() {
                    continue;
                }
                let rows = o * d.c_in * K;
                if K <= LANES {
                    for c in 0..d.c_in {
                        let dw = &mut self.dw_rows[rows + c * K..rows + (c + 1) * K];
                        weight_rows::<K, E>(&self.hits, &x_img[c * plane..], d.w, dw);
                    }
                } else {
                    let patch = rows * K..(rows + d.c_in * K) * K;
                    exact_weight_patches::<K, E>(d, &self.hits, x_img, &mut self.dw[patch]);
                }
                if dx.is_some() {
                    let w_o = &w_cl[o * K * K * chunks..(o + 1) * K * K * chunks];
                    let dx_image = &mut self.dx_image;
                    // a copy of the loop per common channel count, each with its inner
                    // loops' lengths known and unrolled
                    match chunks {
                        1 => input_patches::<K, E>(&self.hits, w_o, d.w, 1, dx_image),
                        2 => input_patches::<K, E>(&self.hits, w_o, d.w, 2, dx_image),
                        3 => input_patches::<K, E>(&self.hits, w_o, d.w, 3, dx_image),
                        4 => input_patches::<K, E>(&self.hits, w_o, d.w, 4, dx_image),
                        _ => input_patches::<K, E>(&self.hits, w_o, d.w, chunks, dx_image),
                    }
                }
            }
            if let Some(dx) = dx.as_deref_mut() {
                let dst = &mut dx[img * d.in_img()..(img + 1) * d.in_img()];
                for (c, dst) in dst.chunks_exact_mut(plane).enumerate() {
                    let (chunk, lane) = (c / LANES, c % LANES);
                    for (pixel, v) in dst.iter_mut().enumerate() {
                        *v = *v + self.dx_image[pixel * chunks + chunk][lane];
                    }
                }
            }
        }
    }

    /// The pooled outputs of channel `o` of one image whose gradient is not zero, into
    /// `self.hits`, and the sum of their gradients into the bias gradient.
    #[inline(always)]
    fn collect_hits(&mut self, d: &ConvDims, o: usize, grad: &[E], argmax: &[u32]) {
        self.hits.clear();
        let mut sum = self.db[o];
        for (&grad, &idx) in grad.iter().zip(argmax) {
            sum = sum + grad;
            if grad != E::zero() {
                let idx = idx as usize;
                let (r, s) = (idx / d.wo, idx % d.wo);
                self.hits.push(Hit {
                    grad,
                    at: r * d.w + s,
                });
            }
        }
        self.db[o] = sum;
    }
}

/// `LANES` elements of `x` from `at`, zeros where `x` ends.
#[inline(always)]
fn load_lanes<E: Float>(x: &[E], at: usize) -> [E; LANES] {
    let mut v = [E::zero(); LANES];
    let tail = x.get(at..).unwrap_or(&[]);
    let n = tail.len().min(LANES);
    v[..n].copy_from_slice(&tail[..n]);
    v
}

/// `dw[ki][kj] += g * x[at + ki * width + kj]` over the hits, for one (output, input)
/// channel pair; `x` is the input plane (and whatever follows it). Lanes `kj >= K` collect
/// the products of the neighbouring inputs and are dropped by the caller. The sums stay in
/// registers over all the hits, and the inputs are only read: no store waits on a load.
#[inline(always)]
fn weight_rows<const K: usize, E: Float>(
    hits: &[Hit<E>],
    x: &[E],
    width: usize,
    dw: &mut [[E; LANES]],
) {
    let mut acc = [[E::zero(); LANES]; K];
    let span = (K - 1) * width + LANES;
    for hit in hits {
        let g = hit.grad;
        if let Some(patch) = x.get(hit.at..hit.at + span) {
            for (ki, acc) in acc.iter_mut().enumerate() {
                let row: &[E; LANES] = patch[ki * width..ki * width + LANES]
                    .try_into()
                    .expect("LANES elements");
                for l in 0..LANES {
                    acc[l] = acc[l] + g * row[l];
                }
            }
        } else {
            // the last rows of the batch: lanes past its end read as zeros
            for (ki, acc) in acc.iter_mut().enumerate() {
                let row = load_lanes(x, hit.at + ki * width);
                for l in 0..LANES {
                    acc[l] = acc[l] + g * row[l];
                }
            }
        }
    }
    for (dst, acc) in dw.iter_mut().zip(&acc) {
        for l in 0..LANES {
            dst[l] = dst[l] + acc[l];
        }
    }
}

/// The weight in the layout of the input gradient's vector loop: `(OUT, K, K, chunks)` with
/// `chunks = ceil(IN / LANES)` arrays of `LANES` input channels, zero past `IN`.
fn channels_last_weights<const K: usize, E: Float>(d: &ConvDims, w: &[E]) -> Vec<[E; LANES]> {
    let chunks = d.c_in.div_ceil(LANES);
    let mut out = vec![[E::zero(); LANES]; d.c_out * K * K * chunks];
    for o in 0..d.c_out {
        for c in 0..d.c_in {
            for kk in 0..K * K {
                let v = w[(o * d.c_in + c) * K * K + kk];
                out[(o * K * K + kk) * chunks + c / LANES][c % LANES] = v;
            }
        }
    }
    out
}

/// `dx[c, at + ki * width + kj] += g * w[c, ki, kj]` over the hits, for one output channel,
/// with `dx` (the image's input gradient) and `w` (the channel's weight) channels last. A
/// hit's row `ki` is then one contiguous run of `K * chunks` arrays in both, added whole:
/// every array is always read and written at the same place, so the next hit's reads get the
/// stored values straight from the store buffer (row-major vectors at a hit's offset would
/// overlap the previous hit's stores only partly, which stalls each read). The lanes past
/// `IN` collect `g * 0` and are never read back.
#[inline(always)]
fn input_patches<const K: usize, E: Float>(
    hits: &[Hit<E>],
    w: &[[E; LANES]],
    width: usize,
    chunks: usize,
    dx: &mut [[E; LANES]],
) {
    let run = K * chunks;
    for hit in hits {
        let g = hit.grad;
        for ki in 0..K {
            let start = (hit.at + ki * width) * chunks;
            let dst = &mut dx[start..start + run];
            let src = &w[ki * run..(ki + 1) * run];
            for (dst, src) in dst.iter_mut().zip(src) {
                // whole arrays in and out: the form the compiler turns into vector code
                // (element by element in memory, it did not)
                let mut sum = *dst;
                for l in 0..LANES {
                    sum[l] = sum[l] + g * src[l];
                }
                *dst = sum;
            }
        }
    }
}

/// The weight gradient of one output channel over the hits, element by element (for kernels
/// wider than `LANES`): `x` is the image, `dw` the channel's `(IN, K, K)` weight gradient.
fn exact_weight_patches<const K: usize, E: Float>(
    d: &ConvDims,
    hits: &[Hit<E>],
    x: &[E],
    dw: &mut [E],
) {
    let plane = d.h * d.w;
    for hit in hits {
        for c in 0..d.c_in {
            for ki in 0..K {
                let xs = c * plane + hit.at + ki * d.w;
                let ws = (c * K + ki) * K;
                for kj in 0..K {
                    dw[ws + kj] = dw[ws + kj] + hit.grad * x[xs + kj];
                }
            }
        }
    }
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

    /// The fused layer and `Conv2D` then `MaxPool2D` with the same parameters, on the same
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
        let mut fused = dev.build_module::<ConvPool2D<IN, OUT, K, P>, E>();
        if zero_weights {
            fused.weight = dev.zeros();
        }
        let conv = DeviceConv2D::<IN, OUT, K, E, Cpu> {
            weight: fused.weight.clone(),
            bias: fused.bias.clone(),
        };
        let y_fused = fused.forward(x.leaky_trace());
        let r: Vec<E> = (0..y_fused.shape().num_elements()).map(&r_of).collect();
        let a = run_of(y_fused, x, &fused.weight, &fused.bias, &r);
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
        assert_eq!(a.y.len(), b.y.len());
        for (i, (x, y)) in a.y.iter().zip(&b.y).enumerate() {
            // the same convolution and pooling code: bit for bit
            assert!(
                x == y || (x.is_nan() && y.is_nan()),
                "y[{i}]: {x:?} vs {y:?}"
            );
        }
        assert_close(
            a.dx.as_deref().expect("fused dx"),
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
        // (0 * inf, 0 * NaN) where the fused layer's has the sum over the maxima alone.
        let mut data = x.as_vec();
        data[10] = f64::NAN;
        data[40] = f64::INFINITY;
        let x = dev.tensor_from_vec(data, *x.shape());
        let (a, b) = both::<2, 3, 3, 2, f64>(&x, |_| 1.0, false);
        assert_eq!(format!("{:?}", a.y), format!("{:?}", b.y));
        assert_close(
            a.dx.as_deref().unwrap(),
            b.dx.as_deref().unwrap(),
            1e-12,
            "dx",
        );
        assert_close(&a.db, &b.db, 1e-12, "db");
        let mut finite_where_separate_is_not = 0;
        for (i, (fused, separate)) in a.dw.iter().zip(&b.dw).enumerate() {
            if separate.is_finite() {
                assert!(
                    (fused - separate).abs() <= 1e-12 * (1.0 + separate.abs()),
                    "dw[{i}]"
                );
            } else if fused.is_finite() {
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
        let fused = dev.build_module::<ConvPool2D<3, 4, 3, 2>, f64>();
        let y = fused.forward(xt.leaky_trace().permute::<_, Axes4<0, 1, 3, 2>>());
        let r: Vec<f64> = (0..y.shape().num_elements()).map(sparse_r(5)).collect();
        let permuted = run_of(y, &xt, &fused.weight, &fused.bias, &r);
        let contiguous = run_of(
            fused.forward(x.leaky_trace()),
            &x,
            &fused.weight,
            &fused.bias,
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
        first.weight = fused.weight.clone();
        first.bias = fused.bias.clone();
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
        let path =
            std::env::temp_dir().join(format!("conv_pool_{}.safetensors", std::process::id()));
        m.save_safetensors(&path).expect("save");
        let mut loaded = dev.build_module::<ConvPool2D<2, 3, 3, 2>, f32>();
        loaded.load_safetensors(&path).expect("load");
        std::fs::remove_file(&path).ok();
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
