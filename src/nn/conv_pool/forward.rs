//! Forward pass of [`ConvPool2D`](super::ConvPool2D): a direct convolution vectorised over
//! output channels, pooled while the image's convolution output is still in cache.
//!
//! The convolution of one image is written channels last (pixel by pixel, the output channels
//! in arrays of [`OUT_LANES`]), so that both steps are vector code without shuffles:
//!
//! * convolution: for a run of up to 8 pixels of a row and one array of output channels, the
//!   sums stay in registers; each weight array (`OUT_LANES` output channels of one input tap) is
//!   multiplied by each pixel's input value and added;
//! * pooling: a window's elements are whole arrays, compared lane by lane in the window's
//!   row-major order with selects (first maximum on ties, the last NaN), the same rule as
//!   [`MaxPool2D`](crate::nn::pool::MaxPool2D).
//!
//! Compared with im2col and a GEMM this copies no input into columns and packs no operands for
//! every image, and the full-size convolution output never leaves a per-thread buffer.

use rayon::prelude::*;

use crate::activation::Float;
use crate::nn::dims::{ConvDims, PoolDims};
use crate::nn::simd::{mul_add, with_fma, with_simd};

/// Output channels per array.
pub(super) const OUT_LANES: usize = 8;

/// The weights and bias in the kernel's layout: `(IN, K, K, chunks)` and `(chunks)` arrays of
/// `OUT_LANES` output channels each, `chunks = ceil(OUT / OUT_LANES)`, zero past `OUT`.
pub(super) struct ChannelsLast<E> {
    weight: Vec<[E; OUT_LANES]>,
    bias: Vec<[E; OUT_LANES]>,
    chunks: usize,
}

impl<E: Float> ChannelsLast<E> {
    pub(super) fn new(d: &ConvDims, w: &[E], b: &[E]) -> Self {
        let chunks = d.c_out.div_ceil(OUT_LANES);
        let kk = d.k * d.k;
        let mut weight = vec![[E::zero(); OUT_LANES]; d.c_in * kk * chunks];
        let mut bias = vec![[E::zero(); OUT_LANES]; chunks];
        for o in 0..d.c_out {
            let (chunk, lane) = (o / OUT_LANES, o % OUT_LANES);
            bias[chunk][lane] = b[o];
            for c in 0..d.c_in {
                for t in 0..kk {
                    weight[(c * kk + t) * chunks + chunk][lane] = w[(o * d.c_in + c) * kk + t];
                }
            }
        }
        ChannelsLast {
            weight,
            bias,
            chunks,
        }
    }
}

/// Convolution then `pool`x`pool` max pooling of every image in `x`, into `out`
/// (`(batch, OUT, pooled h, pooled w)`) and `argmax` (per pooled output, where its window's
/// maximum is: see [`pool_image`]).
#[allow(clippy::too_many_arguments)]
pub(super) fn forward<const K: usize, E: Float + Send + Sync>(
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
    let weights = ChannelsLast::new(d, w, bias);
    let per_task = d.per_task();
    out.par_chunks_mut(per_task * pooled_img)
        .zip(argmax.par_chunks_mut(per_task * pooled_img))
        .zip(x.par_chunks(per_task * d.in_img()))
        .for_each(|((out, argmax), x)| {
            let mut conv = vec![[E::zero(); OUT_LANES]; d.p() * weights.chunks];
            let pooled_arrays = pd.ho * pd.wo * weights.chunks;
            let mut pooled = Pooled {
                max: vec![[E::zero(); OUT_LANES]; pooled_arrays],
                at: vec![[0; OUT_LANES]; pooled_arrays],
            };
            let images = out
                .chunks_exact_mut(pooled_img)
                .zip(argmax.chunks_exact_mut(pooled_img))
                .zip(x.chunks_exact(d.in_img()));
            for ((out, argmax), x) in images {
                with_fma(
                    &mut conv[..],
                    #[inline(always)]
                    |conv| convolve_image::<K, true, E>(d, pd, pool, x, &weights, conv),
                    #[inline(always)]
                    |conv| convolve_image::<K, false, E>(d, pd, pool, x, &weights, conv),
                );
                let chunks = weights.chunks;
                with_simd(
                    #[inline(always)]
                    || match pool {
                        // the common size with its window loops unrolled
                        2 => pool_image(d, pd, 2, &conv, chunks, &mut pooled, out, argmax),
                        _ => pool_image(d, pd, pool, &conv, chunks, &mut pooled, out, argmax),
                    },
                );
            }
        });
}

/// The convolution of one image, channels last, into `conv` (`(ho, wo, chunks)` arrays);
/// only the rows and columns that pooling windows cover.
///
/// Each row is done in runs of 8, 4, 2 and 1 pixels, a short run with several arrays of
/// output channels at once: every block has about 8 independent sums, enough to keep the
/// multiply-add units busy (a single sum would wait on its previous addition every time)
/// and few enough to stay in registers.
#[inline(always)]
fn convolve_image<const K: usize, const FMA: bool, E: Float>(
    d: &ConvDims,
    pd: &PoolDims,
    pool: usize,
    x: &[E],
    weights: &ChannelsLast<E>,
    conv: &mut [[E; OUT_LANES]],
) {
    let (rows, cols) = (pd.ho * pool, pd.wo * pool);
    for y in 0..rows {
        let mut x0 = 0;
        while x0 + 8 <= cols {
            pixel_run::<K, 8, 1, FMA, E>(d, x, weights, y, x0, conv);
            x0 += 8;
        }
        if x0 + 4 <= cols {
            pixel_run::<K, 4, 2, FMA, E>(d, x, weights, y, x0, conv);
            x0 += 4;
        }
        if x0 + 2 <= cols {
            pixel_run::<K, 2, 4, FMA, E>(d, x, weights, y, x0, conv);
            x0 += 2;
        }
        if x0 < cols {
            pixel_run::<K, 1, 4, FMA, E>(d, x, weights, y, x0, conv);
        }
    }
}

/// The convolution at pixels `(y, x0..x0 + PX)`, every output channel, into `conv`: `CB`
/// arrays of output channels at a time, then the rest one by one.
#[inline(always)]
fn pixel_run<const K: usize, const PX: usize, const CB: usize, const FMA: bool, E: Float>(
    d: &ConvDims,
    x: &[E],
    weights: &ChannelsLast<E>,
    y: usize,
    x0: usize,
    conv: &mut [[E; OUT_LANES]],
) {
    let mut chunk = 0;
    while chunk + CB <= weights.chunks {
        pixel_block::<K, PX, CB, FMA, E>(d, x, weights, y, x0, chunk, conv);
        chunk += CB;
    }
    while chunk < weights.chunks {
        pixel_block::<K, PX, 1, FMA, E>(d, x, weights, y, x0, chunk, conv);
        chunk += 1;
    }
}

/// The convolution at pixels `(y, x0..x0 + PX)` for the output channels of arrays
/// `chunk0..chunk0 + CB`, the `PX * CB` sums in registers over every input tap.
#[inline(always)]
fn pixel_block<const K: usize, const PX: usize, const CB: usize, const FMA: bool, E: Float>(
    d: &ConvDims,
    x: &[E],
    weights: &ChannelsLast<E>,
    y: usize,
    x0: usize,
    chunk0: usize,
    conv: &mut [[E; OUT_LANES]],
) {
    let (plane, chunks) = (d.h * d.w, weights.chunks);
    let mut acc = [[[E::zero(); OUT_LANES]; PX]; CB];
    for (cb, acc) in acc.iter_mut().enumerate() {
        *acc = [weights.bias[chunk0 + cb]; PX];
    }
    for c in 0..d.c_in {
        for ki in 0..K {
            let start = c * plane + (y + ki) * d.w + x0;
            let inputs = &x[start..start + K - 1 + PX];
            let taps = &weights.weight[(c * K + ki) * K * chunks..(c * K + ki + 1) * K * chunks];
            for kj in 0..K {
                let tap = &taps[kj * chunks + chunk0..kj * chunks + chunk0 + CB];
                for (wv, acc) in tap.iter().zip(acc.iter_mut()) {
                    for (p, acc) in acc.iter_mut().enumerate() {
                        let v = inputs[kj + p];
                        for l in 0..OUT_LANES {
                            acc[l] = mul_add::<FMA, E>(wv[l], v, acc[l]);
                        }
                    }
                }
            }
        }
    }
    for (cb, acc) in acc.iter().enumerate() {
        for (p, acc) in acc.iter().enumerate() {
            conv[((y * d.wo) + x0 + p) * chunks + chunk0 + cb] = *acc;
        }
    }
}

/// One image's pooled maps and argmax, channels last (`(pooled h, pooled w, chunks)` arrays).
struct Pooled<E> {
    max: Vec<[E; OUT_LANES]>,
    at: Vec<[u32; OUT_LANES]>,
}

/// Max pooling of one image's channels-last convolution into `out` and `argmax`
/// (`(OUT, pooled h, pooled w)`); `argmax` gets the position of each window's maximum as the
/// offset of its input patch in an input plane (`y * W + x`), what the backward pass needs.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn pool_image<E: Float>(
    d: &ConvDims,
    pd: &PoolDims,
    pool: usize,
    conv: &[[E; OUT_LANES]],
    chunks: usize,
    pooled: &mut Pooled<E>,
    out: &mut [E],
    argmax: &mut [u32],
) {
    let pooled_ch = pd.ho * pd.wo;
    for r in 0..pd.ho {
        for s in 0..pd.wo {
            for chunk in 0..chunks {
                let first = (pool * r) * d.wo + pool * s;
                let mut best = conv[first * chunks + chunk];
                // fits: the layer checked that an input plane's size fits in u32
                let mut best_at = [((pool * r) * d.w + pool * s) as u32; OUT_LANES];
                for i in 0..pool {
                    for j in 0..pool {
                        let v = conv[((pool * r + i) * d.wo + pool * s + j) * chunks + chunk];
                        let at = ((pool * r + i) * d.w + pool * s + j) as u32;
                        for l in 0..OUT_LANES {
                            let take = v[l] > best[l] || v[l].is_nan();
                            best[l] = if take { v[l] } else { best[l] };
                            best_at[l] = if take { at } else { best_at[l] };
                        }
                    }
                }
                let at = (r * pd.wo + s) * chunks + chunk;
                pooled.max[at] = best;
                pooled.at[at] = best_at;
            }
        }
    }
    // channels last to the output's channels first: element by element, but from memory
    // rather than from vector registers lane by lane
    for o in 0..d.c_out {
        let (chunk, lane) = (o / OUT_LANES, o % OUT_LANES);
        let out = &mut out[o * pooled_ch..(o + 1) * pooled_ch];
        let argmax = &mut argmax[o * pooled_ch..(o + 1) * pooled_ch];
        for (q, (out, argmax)) in out.iter_mut().zip(argmax).enumerate() {
            *out = pooled.max[q * chunks + chunk][lane];
            *argmax = pooled.at[q * chunks + chunk][lane];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, Rng, SeedableRng};

    /// The kernel as run on CPUs without FMA (a separate multiply and add) gives the sums of
    /// the FMA form up to rounding; the layer's tests cover the form this CPU runs.
    #[test]
    fn separate_and_fma_multiply_add_agree() {
        let mut rng = StdRng::seed_from_u64(3);
        let d = ConvDims::new(1, 3, 11, 3, 9, 10).expect("fits");
        let pd = PoolDims {
            planes: d.c_out,
            h: d.ho,
            w: d.wo,
            ho: d.ho / 2,
            wo: d.wo / 2,
        };
        let random = |n: usize, rng: &mut StdRng| -> Vec<f64> {
            (0..n).map(|_| rng.gen_range(-1.0..1.0)).collect()
        };
        let x = random(d.in_img(), &mut rng);
        let w = random(d.weight_len(), &mut rng);
        let b = random(d.c_out, &mut rng);
        let weights = ChannelsLast::new(&d, &w, &b);
        let mut fma = vec![[0.0; OUT_LANES]; d.p() * weights.chunks];
        let mut separate = fma.clone();
        convolve_image::<3, true, f64>(&d, &pd, 2, &x, &weights, &mut fma);
        convolve_image::<3, false, f64>(&d, &pd, 2, &x, &weights, &mut separate);
        let mut checked = 0;
        for y in 0..2 * pd.ho {
            for col in 0..2 * pd.wo {
                for o in 0..d.c_out {
                    let at = (y * d.wo + col) * weights.chunks + o / OUT_LANES;
                    let (f, s) = (fma[at][o % OUT_LANES], separate[at][o % OUT_LANES]);
                    let mut direct = b[o];
                    for c in 0..d.c_in {
                        for ki in 0..3 {
                            for kj in 0..3 {
                                direct += w[((o * d.c_in + c) * 3 + ki) * 3 + kj]
                                    * x[(c * d.h + y + ki) * d.w + col + kj];
                            }
                        }
                    }
                    assert!((f - direct).abs() < 1e-12, "FMA {f} vs {direct}");
                    assert!((s - direct).abs() < 1e-12, "separate {s} vs {direct}");
                    checked += 1;
                }
            }
        }
        // the rows and columns that pooling windows cover: 6 of 7, all 8
        assert_eq!(checked, 6 * 8 * 11);
    }
}
