//! Backward pass of [`ConvPool2D`](super::ConvPool2D), from the pooled gradient: only each
//! window's maximum gets a gradient, so each pooled output with a nonzero gradient adds its
//! contribution at that position alone.
//!
//! The weight gradient is summed in one of two layouts, chosen by the input channel count:
//!
//! * **channels last** (8 input channels or more): each image's input is copied pixel by
//!   pixel with its channels in arrays of [`WIDE`] (one AVX-512 register of `f32`), so that
//!   a hit's whole `K`x`K` patch is `K * K` arrays, summed with multiply-adds (FMA where the CPU has it) in
//!   registers over all of an output channel's hits ([`ChannelBlock::weight_patch`]);
//! * **kernel rows** (fewer input channels, e.g. a network's first layer): each kernel row
//!   is one `[E; ROW_LANES]` array ([`weight_rows`]), so that a single channel does not waste a
//!   register on one value.
//!
//! The input gradient is added hit by hit into a channels-last copy of the image's
//! gradient ([`input_patches`]); `benches/layers.rs` times the alternatives.

use rayon::prelude::*;

use crate::activation::Float;
use crate::nn::dims::{ConvDims, PoolDims};
use crate::nn::simd::{mul_add, with_fma, with_simd};

/// Lanes of the kernel-row form: one kernel row (K <= ROW_LANES values) is handled as one
/// `[E; ROW_LANES]` array, which the compiler maps onto a vector register.
const ROW_LANES: usize = 8;

/// Input channels per array of the input gradient's channels-last loop ([`input_patches`]).
const DX_LANES: usize = 8;

/// Input channels per array of the channels-last form.
const WIDE: usize = 16;

/// The fewest input channels for which the weight gradient is computed channels last.
const CHANNELS_LAST_MIN: usize = 8;

/// Arrays of sums a channels-last kernel keeps in registers (of AVX-512's 32): a block of
/// `CH` channel arrays of a `K`x`K` patch holds `K * K * CH` of them.
const REGISTER_SUMS: usize = 28;

/// One pooled output with a nonzero gradient: the gradient, and where its window's maximum
/// is in an input plane (the top-left corner of the input patch it was computed from).
#[derive(Clone, Copy)]
struct Hit<E> {
    grad: E,
    at: u32,
}

/// What the backward pass keeps from the forward pass.
pub(crate) struct Saved {
    pub(super) pool: PoolDims,
    /// Per pooled output, where its window's maximum is: the offset `y * W + x` of the
    /// maximum's input patch in an input plane.
    pub(super) argmax: Vec<u32>,
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
pub(super) fn backward<const K: usize, E: Float + Send + Sync>(
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
    let w_cl = match dx {
        Some(_) => {
            let mut w_cl = Vec::new();
            to_channels_last::<DX_LANES, E>(w, d.c_in, K * K, &mut w_cl);
            w_cl
        }
        None => Vec::new(),
    };
    let per_task = d.per_task();
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
                d,
                x: &x[first * d.in_img()..],
                grad_out: gout,
                argmax,
                pooled_ch,
                w_cl: &w_cl,
            };
            with_simd(
                #[inline(always)]
                || acc.add_images::<K>(&images, dx),
            );
            acc
        })
        .collect();
    // summed in task order, so results do not depend on scheduling
    for task in partials {
        task.add_weight_gradient_to::<K>(d, dw);
        for (a, &b) in db.iter_mut().zip(&task.db) {
            *a = *a + b;
        }
    }
}

/// The data of one task's images: inputs (from the task's first image to the end of the
/// batch, so that vector loads past its last image stay inside the buffer where they can),
/// the pooled gradients and argmax of its images alone, and the weight channels last (empty
/// if no input gradient is wanted).
struct TaskImages<'a, E> {
    d: &'a ConvDims,
    x: &'a [E],
    grad_out: &'a [E],
    argmax: &'a [u32],
    pooled_ch: usize,
    w_cl: &'a [[E; DX_LANES]],
}

/// How the weight gradient is summed (see the module's documentation).
#[derive(Clone, Copy, PartialEq)]
enum WeightLayout {
    /// `[E; ROW_LANES]` per kernel row, lanes `K..` dropped at the end.
    Rows,
    /// The exact `(OUT, IN, K, K)` array, for kernels wider than `ROW_LANES`.
    Exact,
    /// `(OUT, K, K, chunks)` arrays of `WIDE` input channels.
    ChannelsLast,
}

impl WeightLayout {
    fn of<const K: usize>(d: &ConvDims) -> Self {
        if d.c_in >= CHANNELS_LAST_MIN {
            WeightLayout::ChannelsLast
        } else if K <= ROW_LANES {
            WeightLayout::Rows
        } else {
            WeightLayout::Exact
        }
    }
}

/// One task's gradient sums and scratch buffers.
struct TaskGradients<E> {
    layout: WeightLayout,
    /// The weight gradient in `layout`'s form (one of the three).
    dw_rows: Vec<[E; ROW_LANES]>,
    dw: Vec<E>,
    dw_cl: Vec<[E; WIDE]>,
    db: Vec<E>,
    /// The current channel's pooled outputs with a nonzero gradient.
    hits: Vec<Hit<E>>,
    /// How many of `hits` are the current channel's.
    kept: usize,
    /// The current image's input, channels last (for [`WeightLayout::ChannelsLast`]).
    x_image: Vec<[E; WIDE]>,
    /// The current image's input gradient, channels last: pixel by pixel, its channels
    /// in `ceil(IN / DX_LANES)` arrays (lanes past `IN` unused).
    dx_image: Vec<[E; DX_LANES]>,
}

impl<E: Float> TaskGradients<E> {
    fn new<const K: usize>(d: &ConvDims) -> Self {
        let layout = WeightLayout::of::<K>(d);
        let len = |of: WeightLayout, n: usize| if layout == of { n } else { 0 };
        let chunks = d.c_in.div_ceil(WIDE);
        TaskGradients {
            layout,
            dw_rows: vec![[E::zero(); ROW_LANES]; len(WeightLayout::Rows, d.c_out * d.c_in * K)],
            dw: vec![E::zero(); len(WeightLayout::Exact, d.weight_len())],
            dw_cl: vec![
                [E::zero(); WIDE];
                len(WeightLayout::ChannelsLast, d.c_out * K * K * chunks)
            ],
            db: vec![E::zero(); d.c_out],
            hits: Vec::new(),
            kept: 0,
            x_image: Vec::new(),
            dx_image: Vec::new(),
        }
    }

    /// Adds this task's weight gradient to `dw` (`(OUT, IN, K, K)`).
    fn add_weight_gradient_to<const K: usize>(&self, d: &ConvDims, dw: &mut [E]) {
        match self.layout {
            WeightLayout::Rows => {
                for (dst, row) in dw.chunks_exact_mut(K).zip(&self.dw_rows) {
                    for (a, &b) in dst.iter_mut().zip(&row[..K]) {
                        *a = *a + b;
                    }
                }
            }
            WeightLayout::Exact => {
                for (a, &b) in dw.iter_mut().zip(&self.dw) {
                    *a = *a + b;
                }
            }
            WeightLayout::ChannelsLast => {
                let chunks = d.c_in.div_ceil(WIDE);
                for (plane, dst) in dw.chunks_exact_mut(K * K).enumerate() {
                    let (o, c) = (plane / d.c_in, plane % d.c_in);
                    for (t, a) in dst.iter_mut().enumerate() {
                        *a = *a + self.dw_cl[(o * K * K + t) * chunks + c / WIDE][c % WIDE];
                    }
                }
            }
        }
    }

    /// Adds the gradients of the task's images; `dx`, when given, is their input gradient.
    #[inline(always)]
    fn add_images<const K: usize>(&mut self, images: &TaskImages<'_, E>, mut dx: Option<&mut [E]>) {
        let d = images.d;
        let plane = d.h * d.w;
        let chunks = d.c_in.div_ceil(WIDE);
        let dx_chunks = d.c_in.div_ceil(DX_LANES);
        let pooled_img = d.c_out * images.pooled_ch;
        let n = images.grad_out.len() / pooled_img;
        for img in 0..n {
            let x_img = &images.x[img * d.in_img()..];
            let grad = &images.grad_out[img * pooled_img..(img + 1) * pooled_img];
            let argmax = &images.argmax[img * pooled_img..(img + 1) * pooled_img];
            if self.layout == WeightLayout::ChannelsLast {
                let x_img = &x_img[..d.in_img()];
                to_channels_last::<WIDE, E>(x_img, d.c_in, plane, &mut self.x_image);
            }
            if dx.is_some() {
                self.dx_image.clear();
                self.dx_image
                    .resize(plane * dx_chunks, [E::zero(); DX_LANES]);
            }
            for o in 0..d.c_out {
                let channel = o * images.pooled_ch..(o + 1) * images.pooled_ch;
                self.collect_hits(o, &grad[channel.clone()], &argmax[channel]);
                let hits = &self.hits[..self.kept];
                if hits.is_empty() {
                    continue;
                }
                match self.layout {
                    WeightLayout::Rows => {
                        let rows = &mut self.dw_rows[o * d.c_in * K..(o + 1) * d.c_in * K];
                        for (c, dw) in rows.chunks_exact_mut(K).enumerate() {
                            weight_rows::<K, E>(hits, &x_img[c * plane..], d.w, dw);
                        }
                    }
                    WeightLayout::Exact => {
                        let patch = o * d.c_in * K * K..(o + 1) * d.c_in * K * K;
                        exact_weight_patches::<K, E>(d, hits, x_img, &mut self.dw[patch]);
                    }
                    WeightLayout::ChannelsLast => {
                        let range = o * K * K * chunks..(o + 1) * K * K * chunks;
                        let dw = self.dw_cl[range].as_flattened_mut();
                        let x = self.x_image.as_flattened();
                        // `N`, the values per block, is `WIDE` times the block's arrays
                        const { assert!(WIDE == 16) };
                        for_channel_blocks::<K>(
                            chunks,
                            #[inline(always)]
                            |block| match block.ch {
                                1 => block.weight_patch::<K, 16, E>(hits, x, d.w, dw),
                                2 => block.weight_patch::<K, 32, E>(hits, x, d.w, dw),
                                3 => block.weight_patch::<K, 48, E>(hits, x, d.w, dw),
                                _ => block.weight_patch::<K, 64, E>(hits, x, d.w, dw),
                            },
                        );
                    }
                }
                if dx.is_some() {
                    let w_o = &images.w_cl[o * K * K * dx_chunks..(o + 1) * K * K * dx_chunks];
                    let dx_image = &mut self.dx_image;
                    // a copy of the loop per common channel count, each with its inner
                    // loops' lengths known and unrolled
                    match dx_chunks {
                        1 => input_patches::<K, E>(hits, w_o, d.w, 1, dx_image),
                        2 => input_patches::<K, E>(hits, w_o, d.w, 2, dx_image),
                        3 => input_patches::<K, E>(hits, w_o, d.w, 3, dx_image),
                        4 => input_patches::<K, E>(hits, w_o, d.w, 4, dx_image),
                        _ => input_patches::<K, E>(hits, w_o, d.w, dx_chunks, dx_image),
                    }
                }
            }
            if let Some(dx) = dx.as_deref_mut() {
                let dst = &mut dx[img * d.in_img()..(img + 1) * d.in_img()];
                for (c, dst) in dst.chunks_exact_mut(plane).enumerate() {
                    let (chunk, lane) = (c / DX_LANES, c % DX_LANES);
                    for (pixel, v) in dst.iter_mut().enumerate() {
                        *v = *v + self.dx_image[pixel * dx_chunks + chunk][lane];
                    }
                }
            }
        }
    }

    /// The pooled outputs of channel `o` of one image whose gradient is not zero, into
    /// `self.hits`, and the sum of their gradients into the bias gradient.
    #[inline(always)]
    fn collect_hits(&mut self, o: usize, grad: &[E], argmax: &[u32]) {
        // without a branch on the gradient, which after a ReLU is zero at random: each
        // output is written, and kept by advancing past it if its gradient is not zero
        if self.hits.len() < grad.len() {
            self.hits.resize(
                grad.len(),
                Hit {
                    grad: E::zero(),
                    at: 0,
                },
            );
        }
        let mut kept = 0;
        let mut sum = self.db[o];
        for (&grad, &at) in grad.iter().zip(argmax) {
            sum = sum + grad;
            self.hits[kept] = Hit { grad, at };
            kept += usize::from(grad != E::zero());
        }
        self.kept = kept;
        self.db[o] = sum;
    }
}

/// A block of `ch` channel arrays, from array `first` of `chunks`, of a channels-last layout.
#[derive(Clone, Copy)]
struct ChannelBlock {
    first: usize,
    ch: usize,
    chunks: usize,
}

/// Calls `kernel` for each block of channel arrays, as many per block as keep a `K`x`K`
/// patch's sums in registers (at most 4).
#[inline(always)]
fn for_channel_blocks<const K: usize>(chunks: usize, mut kernel: impl FnMut(ChannelBlock)) {
    let per_block = (REGISTER_SUMS / (K * K)).clamp(1, 4);
    let mut first = 0;
    while first < chunks {
        let ch = (chunks - first).min(per_block);
        kernel(ChannelBlock { first, ch, chunks });
        first += ch;
    }
}

impl ChannelBlock {
    /// [`Self::weight_patch_with`], compiled on its own for the CPU's vector instructions
    /// (inlined into the whole backward pass, the compiler left some block sizes scalar), and
    /// with constant addresses when the block is all of the channels, the common case.
    fn weight_patch<const K: usize, const N: usize, E: Float>(
        self,
        hits: &[Hit<E>],
        x: &[E],
        width: usize,
        dw: &mut [E],
    ) {
        debug_assert_eq!(N, self.ch * WIDE);
        if self.first == 0 && self.ch == self.chunks {
            with_fma(
                dw,
                #[inline(always)]
                |dw| Self::weight_patch_with::<K, N, true, E>(0, N, hits, x, width, dw),
                #[inline(always)]
                |dw| Self::weight_patch_with::<K, N, false, E>(0, N, hits, x, width, dw),
            )
        } else {
            let (first, stride) = (self.first * WIDE, self.chunks * WIDE);
            with_fma(
                dw,
                #[inline(always)]
                |dw| Self::weight_patch_with::<K, N, true, E>(first, stride, hits, x, width, dw),
                #[inline(always)]
                |dw| Self::weight_patch_with::<K, N, false, E>(first, stride, hits, x, width, dw),
            )
        }
    }

    /// `dw[ki, kj] += Σ_hits g * x[at + (ki, kj)]` for the `N` channels from `first`, `dw`
    /// being one output channel's `(K, K, channels)` weight gradient and `x` the image
    /// channels last, both as flat values with `stride` values per pixel: the `K * K` cells
    /// of `N` sums stay in registers over all the hits.
    #[inline(always)]
    fn weight_patch_with<const K: usize, const N: usize, const FMA: bool, E: Float>(
        first: usize,
        stride: usize,
        hits: &[Hit<E>],
        x: &[E],
        width: usize,
        dw: &mut [E],
    ) {
        let mut sums = [[[E::zero(); N]; K]; K];
        let row_len = (K - 1) * stride + N;
        for hit in hits {
            let g = hit.grad;
            for (ki, sums) in sums.iter_mut().enumerate() {
                let start = (hit.at as usize + ki * width) * stride + first;
                let row = &x[start..start + row_len];
                for (kj, sum) in sums.iter_mut().enumerate() {
                    // fixed-size arrays and a local copy of the whole array, so that every
                    // loop becomes whole vector operations on sums held in registers (nested
                    // loops over arrays and lanes, or an array indexed in place, were left
                    // as scalar code with the sums in memory for some sizes)
                    let v: &[E; N] = row[kj * stride..kj * stride + N]
                        .try_into()
                        .expect("N values");
                    let mut s = *sum;
                    for l in 0..N {
                        s[l] = mul_add::<FMA, E>(g, v[l], s[l]);
                    }
                    *sum = s;
                }
            }
        }
        for (ki, sums) in sums.iter().enumerate() {
            for (kj, sum) in sums.iter().enumerate() {
                let start = (ki * K + kj) * stride + first;
                let dst: &mut [E; N] = (&mut dw[start..start + N]).try_into().expect("N values");
                let mut v = *dst;
                for l in 0..N {
                    v[l] = v[l] + sum[l];
                }
                *dst = v;
            }
        }
    }
}

/// `ROW_LANES` elements of `x` from `at`, zeros where `x` ends.
#[inline(always)]
fn load_lanes<E: Float>(x: &[E], at: usize) -> [E; ROW_LANES] {
    let mut v = [E::zero(); ROW_LANES];
    let tail = x.get(at..).unwrap_or(&[]);
    let n = tail.len().min(ROW_LANES);
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
    dw: &mut [[E; ROW_LANES]],
) {
    let mut acc = [[E::zero(); ROW_LANES]; K];
    let span = (K - 1) * width + ROW_LANES;
    for hit in hits {
        let g = hit.grad;
        if let Some(patch) = x.get(hit.at as usize..hit.at as usize + span) {
            for (ki, acc) in acc.iter_mut().enumerate() {
                let row: &[E; ROW_LANES] = patch[ki * width..ki * width + ROW_LANES]
                    .try_into()
                    .expect("ROW_LANES elements");
                for l in 0..ROW_LANES {
                    acc[l] = acc[l] + g * row[l];
                }
            }
        } else {
            // the last rows of the batch: lanes past its end read as zeros
            for (ki, acc) in acc.iter_mut().enumerate() {
                let row = load_lanes(x, hit.at as usize + ki * width);
                for l in 0..ROW_LANES {
                    acc[l] = acc[l] + g * row[l];
                }
            }
        }
    }
    for (dst, acc) in dw.iter_mut().zip(&acc) {
        for l in 0..ROW_LANES {
            dst[l] = dst[l] + acc[l];
        }
    }
}

/// `(groups, channels, positions)` values (row-major) into `out` as `(groups, positions,
/// chunks)` arrays of `L` channels, `chunks = ceil(channels / L)`, zero past `channels`: the
/// channels-last layout of the weight (`L = DX_LANES`, for the input gradient's loop) and of
/// each image's input (`L = WIDE`, for the weight gradient's).
fn to_channels_last<const L: usize, E: Float>(
    values: &[E],
    channels: usize,
    positions: usize,
    out: &mut Vec<[E; L]>,
) {
    out.clear();
    if channels == 0 || positions == 0 {
        return;
    }
    let chunks = channels.div_ceil(L);
    let groups = values.len() / (channels * positions);
    out.resize(groups * positions * chunks, [E::zero(); L]);
    for (plane, values) in values.chunks_exact(positions).enumerate() {
        let (group, c) = (plane / channels, plane % channels);
        for (p, &v) in values.iter().enumerate() {
            out[(group * positions + p) * chunks + c / L][c % L] = v;
        }
    }
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
    w: &[[E; DX_LANES]],
    width: usize,
    chunks: usize,
    dx: &mut [[E; DX_LANES]],
) {
    let run = K * chunks;
    for hit in hits {
        let g = hit.grad;
        for ki in 0..K {
            let start = (hit.at as usize + ki * width) * chunks;
            let dst = &mut dx[start..start + run];
            let src = &w[ki * run..(ki + 1) * run];
            for (dst, src) in dst.iter_mut().zip(src) {
                // whole arrays in and out: the form the compiler turns into vector code
                // (element by element in memory, it did not)
                let mut sum = *dst;
                for l in 0..DX_LANES {
                    sum[l] = sum[l] + g * src[l];
                }
                *dst = sum;
            }
        }
    }
}

/// The weight gradient of one output channel over the hits, element by element (for kernels
/// wider than `ROW_LANES` on few channels): `x` is the image, `dw` the channel's `(IN, K, K)`
/// weight gradient.
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
                let xs = c * plane + hit.at as usize + ki * d.w;
                let ws = (c * K + ki) * K;
                for kj in 0..K {
                    dw[ws + kj] = dw[ws + kj] + hit.grad * x[xs + kj];
                }
            }
        }
    }
}
