//! Backward pass of [`ConvPool2D`](super::ConvPool2D), from the pooled gradient: only each
//! window's maximum gets a gradient, so each pooled output with a nonzero gradient adds its
//! contribution at that position alone.

use num_traits::Float;
use rayon::prelude::*;

use crate::nn::conv::ConvDims;
use crate::nn::pool::PoolDims;
use crate::nn::simd::with_simd;

/// Lanes of the vector loops of the backward pass: one kernel row (K <= LANES values) is
/// handled as one `[E; LANES]` array, which the compiler maps onto vector registers.
const LANES: usize = 8;

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
    let w_channels_last = channels_last_weights::<K, E>(d, w);
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
        task.add_weight_gradient_to::<K>(dw);
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
    /// How many of `hits` are the current channel's.
    kept: usize,
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
            kept: 0,
            dx_image: Vec::new(),
        }
    }

    /// Adds this task's weight gradient to `dw` (`(OUT, IN, K, K)`), dropping the lanes past
    /// `K` of the row form.
    fn add_weight_gradient_to<const K: usize>(&self, dw: &mut [E]) {
        if K <= LANES {
            for (dst, row) in dw.chunks_exact_mut(K).zip(&self.dw_rows) {
                for (a, &b) in dst.iter_mut().zip(&row[..K]) {
                    *a = *a + b;
                }
            }
        } else {
            for (a, &b) in dw.iter_mut().zip(&self.dw) {
                *a = *a + b;
            }
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
                self.collect_hits(o, &images.grad_out[start..end], &images.argmax[start..end]);
                let hits = &self.hits[..self.kept];
                if hits.is_empty() {
                    continue;
                }
                let rows = o * d.c_in * K;
                if K <= LANES {
                    for c in 0..d.c_in {
                        let dw = &mut self.dw_rows[rows + c * K..rows + (c + 1) * K];
                        weight_rows::<K, E>(hits, &x_img[c * plane..], d.w, dw);
                    }
                } else {
                    let patch = rows * K..(rows + d.c_in * K) * K;
                    exact_weight_patches::<K, E>(d, hits, x_img, &mut self.dw[patch]);
                }
                if dx.is_some() {
                    let w_o = &w_cl[o * K * K * chunks..(o + 1) * K * K * chunks];
                    let dx_image = &mut self.dx_image;
                    // a copy of the loop per common channel count, each with its inner
                    // loops' lengths known and unrolled
                    match chunks {
                        1 => input_patches::<K, E>(hits, w_o, d.w, 1, dx_image),
                        2 => input_patches::<K, E>(hits, w_o, d.w, 2, dx_image),
                        3 => input_patches::<K, E>(hits, w_o, d.w, 3, dx_image),
                        4 => input_patches::<K, E>(hits, w_o, d.w, 4, dx_image),
                        _ => input_patches::<K, E>(hits, w_o, d.w, chunks, dx_image),
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
        if let Some(patch) = x.get(hit.at as usize..hit.at as usize + span) {
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
                let row = load_lanes(x, hit.at as usize + ki * width);
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
            let start = (hit.at as usize + ki * width) * chunks;
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
                let xs = c * plane + hit.at as usize + ki * d.w;
                let ws = (c * K + ki) * K;
                for kj in 0..K {
                    dw[ws + kj] = dw[ws + kj] + hit.grad * x[xs + kj];
                }
            }
        }
    }
}
