//! The fused CPU kernels: one forward pass and one backward pass over a contiguous buffer,
//! generic over the [`Activation`] definition, shared by all 37 variants.
//!
//! The forward pass writes `y = f(x)`. The backward pass writes `dx += dy·∂f/∂x` and, in the
//! same sweep, accumulates `Σ dy·∂f/∂θⱼ` for every parameter: per chunk in the element type,
//! then across chunks in `f64`, so that summing millions of elements keeps its precision.
//! Both split the buffer across threads (rayon) when it is large enough to pay.

use rayon::prelude::*;

use super::simd::with_simd;
use crate::activation::{cast, Activation, Float, EVAL_NOISE};

/// Elements per parallel chunk; also the span of each partial parameter-gradient sum.
const CHUNK: usize = 1 << 14;

/// Where the per-element noise of stochastic activations comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Noise {
    /// Evaluation mode: every element gets [`EVAL_NOISE`].
    Eval,
    /// Training mode: element `i` gets a uniform sample in `[0, 1)` drawn from `(seed, i)` by a
    /// counter-based generator, so the backward pass regenerates the forward pass's draws
    /// without storing them, whatever the thread split.
    Train {
        /// The draw's seed; a layer changes it at every training forward pass.
        seed: u64,
    },
}

impl Noise {
    /// The noise of element `index`.
    #[inline(always)]
    pub fn at<F: Float>(self, index: usize) -> F {
        match self {
            Noise::Eval => cast(EVAL_NOISE),
            Noise::Train { seed } => cast(uniform(seed, index as u64)),
        }
    }
}

/// A uniform sample in `[0, 1)` from `(seed, index)`: SplitMix64's finaliser over the pair,
/// 53 random bits.
#[inline(always)]
pub fn uniform(seed: u64, index: u64) -> f64 {
    let mut z = seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Whether the noise is needed at all: only stochastic activations in training read it.
#[inline(always)]
fn uses_noise<A: Activation>(noise: Noise) -> bool {
    A::STOCHASTIC && noise != Noise::Eval
}

/// Whether a bulk form with bound `bound` ([`Activation::BULK_BOUND`] for the value,
/// [`Activation::BACKWARD_BULK_BOUND`] for the backward pass) applies to all of `x`: there is
/// one, and every element lies within the bound (a NaN does not). The backward kernel asks
/// it of each block of [`BLOCK`] elements before the sweep, since that sweep accumulates into
/// `dx` and cannot be done again; `bound` is a constant there, so for `None` no check and no
/// bulk loop is compiled. (The forward kernel checks inside its bulk sweep instead.)
#[inline(always)]
fn in_bulk<F: Float>(bound: Option<f64>, x: &[F]) -> bool {
    let Some(bound) = bound else {
        return false;
    };
    let bound = cast::<F>(bound);
    // an `&=` over every element rather than an early exit: a loop the compiler vectorises
    let mut inside = true;
    for &v in x {
        inside &= within(v, bound);
    }
    inside
}

/// Whether `|x| ≤ bound`; false for a NaN.
#[inline(always)]
fn within<F: Float>(x: F, bound: F) -> bool {
    x.abs() <= bound
}

/// `out[i] = f(x[i])` for every element, with parameter values `params`.
///
/// `out` and `x` must have the same length (checked: the shorter one bounds the loop).
pub fn forward<A: Activation, F: Float>(
    activation: &A,
    params: &[F],
    noise: Noise,
    x: &[F],
    out: &mut [F],
) {
    let prepared = activation.prepare(params);
    let run = |offset: usize, x: &[F], out: &mut [F]| {
        with_simd(
            #[inline(always)]
            || {
                // Local copies, so the compiler knows the stores to `out` leave them alone.
                let (activation, prepared) = (activation.clone(), prepared.clone());
                // one loop per form and noise source, each without a branch inside; with
                // `inside <= bound`, the same loop also folds the bound check into `inside`
                // (an `&=` rather than an early exit, so that it stays vector code)
                macro_rules! sweep {
                    ($value:ident, $first:expr, $x:expr, $out:expr $(, $inside:ident <= $bound:ident)?) => {
                        if uses_noise::<A>(noise) {
                            for (i, (y, &xi)) in $out.iter_mut().zip($x).enumerate() {
                                *y = activation.$value(&prepared, xi, noise.at($first + i));
                                $($inside &= within(xi, $bound);)?
                            }
                        } else {
                            let half = cast::<F>(EVAL_NOISE);
                            for (y, &xi) in $out.iter_mut().zip($x) {
                                *y = activation.$value(&prepared, xi, half);
                                $($inside &= within(xi, $bound);)?
                            }
                        }
                    };
                }
                // a constant test: no bulk loop is compiled for activations without one
                let Some(bound) = A::BULK_BOUND else {
                    sweep!(value, offset, x, out);
                    return;
                };
                let bound = cast::<F>(bound);
                // Block by block: the bulk form and the bound check run in one sweep, and a
                // block with an element beyond the bound is written again with the general
                // form. A bulk value is only wrong, never unsafe, out of bounds.
                for (b, (xb, ob)) in x.chunks(BLOCK).zip(out.chunks_mut(BLOCK)).enumerate() {
                    let first = offset + b * BLOCK;
                    let mut inside = true;
                    sweep!(value_bulk, first, xb, ob, inside <= bound);
                    if !inside {
                        sweep!(value, first, xb, ob);
                    }
                }
            },
        )
    };
    if x.len() <= CHUNK {
        run(0, x, out);
    } else {
        out.par_chunks_mut(CHUNK)
            .zip(x.par_chunks(CHUNK))
            .enumerate()
            .for_each(|(c, (out, x))| run(c * CHUNK, x, out));
    }
}

/// `grad_x[i] += dy[i]·∂f/∂x(x[i])` for every element; returns `Σᵢ dy[i]·∂f/∂θⱼ(x[i])` for
/// every parameter `j`, summed in `f64`.
pub fn backward<A: Activation, F: Float>(
    activation: &A,
    params: &[F],
    noise: Noise,
    x: &[F],
    grad_out: &[F],
    grad_x: &mut [F],
) -> Vec<f64> {
    let prepared = activation.prepare(params);
    let n_params = params.len();
    let run = |offset: usize, x: &[F], dy: &[F], dx: &mut [F]| -> Vec<f64> {
        let chunk = BackwardChunk {
            activation,
            prepared: &prepared,
            noise,
            offset,
        };
        let partial = with_simd(
            #[inline(always)]
            || chunk.run_any(n_params, x, dy, dx),
        );
        partial
            .iter()
            .map(|p| p.to_f64().unwrap_or(f64::NAN))
            .collect()
    };
    if x.len() <= CHUNK {
        run(0, x, grad_out, grad_x)
    } else {
        // Partial sums are collected in chunk order and added up sequentially, so the result
        // is bit-identical whatever the thread count or scheduling.
        let partials: Vec<Vec<f64>> = grad_x
            .par_chunks_mut(CHUNK)
            .zip(x.par_chunks(CHUNK).zip(grad_out.par_chunks(CHUNK)))
            .enumerate()
            .map(|(c, (dx, (x, dy)))| run(c * CHUNK, x, dy, dx))
            .collect();
        partials
            .iter()
            .fold(vec![0.0; n_params], |mut total, partial| {
                total.iter_mut().zip(partial).for_each(|(t, p)| *t += p);
                total
            })
    }
}

/// Independent accumulators of the backward pass: element `i` adds its parameter gradients
/// to lane `i % SUM_LANES`. One running sum per parameter would chain every element's addition
/// to the previous one (and forbid SIMD, since float addition is not associative); lanes
/// let consecutive elements run side by side. The lanes are added up in a fixed order, so
/// results stay deterministic.
const SUM_LANES: usize = 8;

/// Elements per block of the fixed-count backward pass (a multiple of [`SUM_LANES`]): the
/// per-element parameter gradients of one block are staged in a buffer that stays in L1.
const BLOCK: usize = 256;

/// The most parameters for which the backward pass runs with the parameter count known at
/// compile time; layers with more (e.g. an APL with many hinges) use the general loop.
const MAX_FIXED_PARAMS: usize = 16;

/// One chunk of the backward pass: everything but the buffers.
struct BackwardChunk<'a, A: Activation, F: Float> {
    activation: &'a A,
    prepared: &'a A::Prepared<F>,
    noise: Noise,
    /// Index of the chunk's first element in the whole buffer (for the noise).
    offset: usize,
}

impl<A: Activation, F: Float> BackwardChunk<'_, A, F> {
    /// The pass for a layer with `n_params` parameters; returns their gradient sums.
    #[inline(always)]
    fn run_any(&self, n_params: usize, x: &[F], dy: &[F], dx: &mut [F]) -> Vec<F> {
        let n = x.len().min(dy.len()).min(dx.len());
        let (x, dy, dx) = (&x[..n], &dy[..n], &mut dx[..n]);
        macro_rules! fixed_counts {
            ($($np:literal)*) => {
                match n_params {
                    $($np => self.run_fixed::<$np>(x, dy, dx).to_vec(),)*
                    _ => self.run_general(n_params, x, dy, dx),
                }
            };
        }
        const _: () = assert!(MAX_FIXED_PARAMS == 16);
        fixed_counts!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16)
    }

    /// `NP` parameters, known at compile time. Each block runs in two sweeps: the first
    /// writes `dx` and stages every element's parameter gradients in `staged[j][i]` (a loop
    /// without reductions, which the compiler vectorises); the second adds the staged values
    /// lane-wise into the sums (element-wise additions of `SUM_LANES`-wide rows, SIMD too).
    #[inline(always)]
    fn run_fixed<const NP: usize>(&self, x: &[F], dy: &[F], dx: &mut [F]) -> [F; NP] {
        let mut sums = [[F::zero(); SUM_LANES]; NP];
        let mut staged = [[F::zero(); BLOCK]; NP];
        let blocks = x
            .chunks(BLOCK)
            .zip(dy.chunks(BLOCK))
            .zip(dx.chunks_mut(BLOCK));
        for (b, ((xb, gb), db)) in blocks.enumerate() {
            let first = self.offset + b * BLOCK;
            if uses_noise::<A>(self.noise) {
                self.stage(xb, gb, db, &mut staged, |i| self.noise.at(first + i));
            } else {
                let half = cast::<F>(EVAL_NOISE);
                self.stage(xb, gb, db, &mut staged, |_| half);
            }
            for (sums, staged) in sums.iter_mut().zip(&staged) {
                let rows = staged[..xb.len()].chunks_exact(SUM_LANES);
                let tail = rows.remainder();
                for row in rows {
                    for (sum, &value) in sums.iter_mut().zip(row) {
                        *sum = *sum + value;
                    }
                }
                for (sum, &value) in sums.iter_mut().zip(tail) {
                    *sum = *sum + value;
                }
            }
        }
        sums.map(|lanes| lanes.iter().fold(F::zero(), |total, &lane| total + lane))
    }

    /// The first sweep of [`Self::run_fixed`] over one block.
    #[inline(always)]
    fn stage<const NP: usize>(
        &self,
        x: &[F],
        dy: &[F],
        dx: &mut [F],
        staged: &mut [[F; BLOCK]; NP],
        noise_at: impl Fn(usize) -> F,
    ) {
        // Local copies: the compiler then knows that the stores to `dx` and `staged` cannot
        // change them, keeps them in registers, and can vectorise the loop.
        let (activation, prepared) = (self.activation.clone(), self.prepared.clone());
        // Indexed over slices cut to one length first, which the compiler sees is at most
        // BLOCK: every bounds check goes, and the whole block runs as vector code (an
        // iterator chain indexing `staged` leaves the last elements of each block to a
        // scalar loop; `benches/activation_kernels.rs` times the pass).
        let n = x.len().min(dy.len()).min(dx.len()).min(BLOCK);
        let (x, dy, dx) = (&x[..n], &dy[..n], &mut dx[..n]);
        // one loop per form, each without a branch inside
        macro_rules! sweep {
            ($backward:ident) => {
                for i in 0..n {
                    let mut grads = [F::zero(); NP];
                    let g = activation.$backward(&prepared, x[i], noise_at(i), dy[i], &mut grads);
                    dx[i] = dx[i] + g;
                    for (row, &grad) in staged.iter_mut().zip(&grads) {
                        row[i] = grad;
                    }
                }
            };
        }
        // the block is checked while it is in L1; for an activation without a bulk backward
        // pass the check is a constant `false` and no bulk loop is compiled
        if in_bulk(A::BACKWARD_BULK_BOUND, x) {
            sweep!(backward_bulk)
        } else {
            sweep!(backward)
        }
    }

    /// Any parameter count: per-lane sums on the heap, one element at a time.
    #[inline(always)]
    fn run_general(&self, n_params: usize, x: &[F], dy: &[F], dx: &mut [F]) -> Vec<F> {
        let mut lanes = vec![F::zero(); SUM_LANES * n_params];
        for (i, ((&xi, &gi), dxi)) in x.iter().zip(dy).zip(dx.iter_mut()).enumerate() {
            let lane = &mut lanes[(i % SUM_LANES) * n_params..(i % SUM_LANES + 1) * n_params];
            let noise = self.noise.at(self.offset + i);
            *dxi = *dxi + self.activation.backward(self.prepared, xi, noise, gi, lane);
        }
        (0..n_params)
            .map(|j| {
                (0..SUM_LANES).fold(F::zero(), |total, lane| total + lanes[lane * n_params + j])
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Apl, Arelu, Elsa, Gelu, Pau, Rrelu, Swish, Tanh};

    fn data(n: usize) -> Vec<f64> {
        (0..n)
            .map(|i| ((i * 7919) % 1000) as f64 / 125.0 - 4.0)
            .collect()
    }

    fn check_against_elementwise<A: Activation>(act: A, noise: Noise) {
        // Large enough to take the parallel path with a ragged last chunk.
        check_on(act, noise, &data(3 * CHUNK + 17));
    }

    /// The fused passes over `x` equal [`Activation::value`] and [`Activation::backward`]
    /// (the general forms) element by element, bit for bit.
    fn check_on<A: Activation>(act: A, noise: Noise, x: &[f64]) {
        let dy: Vec<f64> = x.iter().map(|v| 0.5 - v / 8.0).collect();
        let params = act.params();
        let mut out = vec![0.0; x.len()];
        forward(&act, &params, noise, x, &mut out);
        let mut dx = vec![1.0; x.len()]; // gradients accumulate onto what is there
        let sums = backward(&act, &params, noise, x, &dy, &mut dx);
        let prepared = act.prepare(&params);
        let mut expected_sums = vec![0.0; params.len()];
        let mut magnitudes = vec![0.0; params.len()];
        for i in 0..x.len() {
            let u = noise.at::<f64>(i);
            assert_eq!(out[i], act.value(&prepared, x[i], u));
            let mut grads = vec![0.0; params.len()];
            let g = act.backward(&prepared, x[i], u, dy[i], &mut grads);
            assert_eq!(dx[i], 1.0 + g);
            for ((sum, magnitude), grad) in expected_sums.iter_mut().zip(&mut magnitudes).zip(grads)
            {
                *sum += grad;
                *magnitude += grad.abs();
            }
        }
        // sums in another order differ by rounding: at most n·ε times the sum of the terms'
        // sizes for each of the two orders
        let bound = 2.0 * x.len() as f64 * f64::EPSILON;
        for ((s, e), m) in sums.iter().zip(&expected_sums).zip(&magnitudes) {
            assert!(s == e || (s - e).abs() <= bound * m.max(1.0), "{s} vs {e}");
        }
    }

    #[test]
    fn fused_passes_equal_the_elementwise_definition() {
        check_against_elementwise(Arelu::default(), Noise::Eval);
        check_against_elementwise(Elsa::<Swish>::default(), Noise::Eval);
        check_against_elementwise(Elsa::<Pau>::default(), Noise::Eval);
        check_against_elementwise(Rrelu::default(), Noise::Train { seed: 7 });
        check_against_elementwise(Elsa::<Rrelu>::default(), Noise::Train { seed: 9 });
        // More parameters than the fixed-count path takes: the general loop.
        check_against_elementwise(Apl::<9>::default(), Noise::Eval);
        check_against_elementwise(Elsa::<Apl<8>>::default(), Noise::Train { seed: 3 });
    }

    #[test]
    fn a_chunk_with_inputs_beyond_the_bulk_bound_takes_the_general_form() {
        let bound = Pau::BULK_BOUND.unwrap();
        let mut x = data(3 * CHUNK + 17);
        // two blocks of chunk 1 get inputs beyond PAU's bound; chunks 0 and 2 hold inputs on
        // it, which the bulk form takes
        // beyond 1e61 the plain formula overflows in f64 (x⁵), where the general form does not
        for (k, v) in [1e30, -3e9, 2e6, bound + 1.0, 1e100, -1e100]
            .into_iter()
            .enumerate()
        {
            x[CHUNK + 100 * k] = v;
        }
        x[0] = bound;
        x[2 * CHUNK + 5] = -bound;
        assert!(in_bulk(Pau::BULK_BOUND, &x[..CHUNK]));
        assert!(!in_bulk(Pau::BULK_BOUND, &x[CHUNK..2 * CHUNK]));
        assert!(in_bulk(Pau::BULK_BOUND, &x[2 * CHUNK..]));
        check_on(Pau::default(), Noise::Eval, &x);
        check_on(Elsa::<Pau>::default(), Noise::Eval, &x);
        // beyond f32::MAX, ELSA around a base without a bulk form takes the general form,
        // and beyond 2^13 GELU
        x[CHUNK + 700] = 1e300;
        x[CHUNK + 800] = -1e300;
        x[2 * CHUNK + 300] = -1e5;
        check_on(Elsa::<Tanh>::default(), Noise::Eval, &x);
        check_on(Elsa::<Rrelu>::default(), Noise::Train { seed: 5 }, &x);
        check_on(Elsa::<Swish>::default(), Noise::Eval, &x);
        check_on(Gelu, Noise::Eval, &x);
        check_on(Elsa::<Gelu>::default(), Noise::Eval, &x);
    }

    #[test]
    fn the_bulk_check_refuses_nan_infinities_and_activations_without_a_bulk_form() {
        for v in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 2e6] {
            assert!(!in_bulk(Pau::BULK_BOUND, &[0.5, v, -0.5]), "{v}");
            assert!(!in_bulk(Elsa::<Pau>::BULK_BOUND, &[v]), "{v}");
        }
        assert!(!in_bulk(Pau::BULK_BOUND, &[1_048_577.0]));
        assert!(in_bulk(
            Pau::BULK_BOUND,
            &[0.5, -1e6, 0.0, -0.0, 1_048_576.0, -1_048_576.0]
        ));
        assert!(in_bulk::<f32>(Pau::BULK_BOUND, &[]));
        assert!(!in_bulk(Arelu::BULK_BOUND, &[0.5]));
        // ELSA around a base without a bulk form: every finite value, and no bulk backward
        assert!(in_bulk(
            Elsa::<Tanh>::BULK_BOUND,
            &[0.5, f32::MAX, -f32::MAX]
        ));
        assert!(!in_bulk(Elsa::<Tanh>::BULK_BOUND, &[f32::INFINITY]));
        assert!(!in_bulk(Elsa::<Tanh>::BULK_BOUND, &[1e300]));
        assert!(!in_bulk(Elsa::<Tanh>::BACKWARD_BULK_BOUND, &[0.5]));
        assert_eq!(Elsa::<Pau>::BACKWARD_BULK_BOUND, Pau::BULK_BOUND);
    }

    #[test]
    fn training_noise_is_uniform_and_seeded() {
        let draws: Vec<f64> = (0..100_000).map(|i| uniform(42, i)).collect();
        assert!(draws.iter().all(|&u| (0.0..1.0).contains(&u)));
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        assert!((mean - 0.5).abs() < 0.01, "mean {mean}");
        let below_tenth = draws.iter().filter(|&&u| u < 0.1).count() as f64 / 1e5;
        assert!((below_tenth - 0.1).abs() < 0.01, "{below_tenth}");
        assert_ne!(uniform(1, 5), uniform(2, 5));
        assert_eq!(uniform(1, 5), uniform(1, 5));
    }
}
