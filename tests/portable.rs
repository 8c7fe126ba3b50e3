//! The vectorised kernels (AVX2 and FMA, AVX-512, selected at run time) against their
//! portable form (`force_portable`), forward and backward: the activation kernels of all 37
//! variants agree bit for bit (no fused multiply-adds there), `ConvPool2D` up to the rounding
//! of its fused multiply-adds, and its portable form is the one with a separate multiply and
//! add, which a CPU without FMA runs.
//!
//! The switch applies to the whole process, so the tests of this file take turns.

use std::sync::Mutex;

use arelu::activation::{Activation, Float};
use arelu::nn::conv_pool::ConvPool2D;
use arelu::nn::force_portable;
use arelu::nn::fused::{backward, forward, Noise};
use arelu::{ActivationName, ActivationVisitor};
use dfdx::prelude::*;

/// Held while a test uses the switch.
static SWITCH: Mutex<()> = Mutex::new(());

/// `run()` with the vectorised kernels, then with the portable ones.
fn both_forms<R>(run: impl Fn() -> R) -> (R, R) {
    let _turn = SWITCH.lock().unwrap_or_else(|e| e.into_inner());
    force_portable(false);
    let vectorised = run();
    force_portable(true);
    let portable = run();
    force_portable(false);
    (vectorised, portable)
}

/// Whether this CPU runs a different form than the portable one for FMA kernels.
fn has_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `n` values in about [-4, 4] from a simple LCG.
fn spread<E: Float>(n: usize, seed: u64) -> Vec<E> {
    let mut state = seed.wrapping_mul(6364136223846793005) | 1;
    (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let u = (state >> 11) as f64 / (1u64 << 53) as f64;
            E::from((u - 0.5) * 8.0).unwrap()
        })
        .collect()
}

/// Output, input gradient (added onto ones) and parameter gradient sums of the fused
/// kernels, over enough elements to take the parallel path with a ragged last chunk.
fn kernel_results<A: Activation, E: Float>(noise: Noise) -> (Vec<E>, Vec<E>, Vec<f64>) {
    let act = A::default();
    let params: Vec<E> = act
        .params()
        .iter()
        .enumerate()
        .map(|(i, v)| E::from(v + 0.05 + 0.01 * i as f64).unwrap())
        .collect();
    let x = spread::<E>(3 * (1 << 14) + 17, 1);
    let dy = spread::<E>(x.len(), 2);
    let mut y = vec![E::zero(); x.len()];
    forward(&act, &params, noise, &x, &mut y);
    let mut dx = vec![E::one(); x.len()];
    let sums = backward(&act, &params, noise, &x, &dy, &mut dx);
    (y, dx, sums)
}

struct SameBits;

impl ActivationVisitor for SameBits {
    type Output = ();
    fn visit<A: Activation>(self) {
        let name = A::default().name();
        for noise in [Noise::Eval, Noise::Train { seed: 7 }] {
            let (a, b) = both_forms(|| kernel_results::<A, f32>(noise));
            assert_eq!(
                bits(&a.0, |v| v.to_bits() as u64),
                bits(&b.0, |v| v.to_bits() as u64),
                "{name} f32 y ({noise:?})"
            );
            assert_eq!(
                bits(&a.1, |v| v.to_bits() as u64),
                bits(&b.1, |v| v.to_bits() as u64),
                "{name} f32 dx ({noise:?})"
            );
            assert_eq!(
                bits(&a.2, f64::to_bits),
                bits(&b.2, f64::to_bits),
                "{name} f32 parameter gradients ({noise:?})"
            );
            let (a, b) = both_forms(|| kernel_results::<A, f64>(noise));
            assert_eq!(
                bits(&a.0, f64::to_bits),
                bits(&b.0, f64::to_bits),
                "{name} f64 y"
            );
            assert_eq!(
                bits(&a.1, f64::to_bits),
                bits(&b.1, f64::to_bits),
                "{name} f64 dx"
            );
            assert_eq!(
                bits(&a.2, f64::to_bits),
                bits(&b.2, f64::to_bits),
                "{name} f64 parameter gradients"
            );
        }
    }
}

fn bits<E: Copy>(values: &[E], to_bits: impl Fn(E) -> u64) -> Vec<u64> {
    values.iter().map(|&v| to_bits(v)).collect()
}

#[test]
fn activation_kernels_of_all_37_variants_are_bit_identical_in_both_forms() {
    let mut visited = 0;
    for name in ActivationName::all() {
        name.visit(SameBits);
        visited += 1;
    }
    assert_eq!(visited, 37);
}

/// `ConvPool2D<IN, OUT, K, 2>` on a batch of `n` `side`x`side` images: output, and the
/// gradients of `sum(output * r)` for the input, weight and bias, all flattened.
fn conv_pool_results<const IN: usize, const OUT: usize, const K: usize>(
    n: usize,
    side: usize,
) -> Vec<f64> {
    let dev = Cpu::seed_from_u64(IN as u64 * 31 + OUT as u64);
    let layer = dev.build_module::<ConvPool2D<IN, OUT, K, 2>, f64>();
    let x: Tensor<(usize, Const<IN>, usize, usize), f64, Cpu> =
        dev.tensor_from_vec(spread(n * IN * side * side, 3), (n, Const, side, side));
    let y = layer.forward(x.leaky_trace());
    let mut values = y.as_vec();
    let r = dev.tensor_from_vec(spread(values.len(), 4), *y.shape());
    let grads = (y * r).sum().backward();
    values.extend(grads.get(&x).as_vec());
    values.extend(grads.get(&layer.weight).as_vec());
    values.extend(grads.get(&layer.bias).as_vec());
    values
}

#[test]
fn conv_pool_agrees_in_both_forms() {
    let mut differ = 0;
    let mut check = |(vectorised, portable): (Vec<f64>, Vec<f64>), what: &str| {
        assert_eq!(vectorised.len(), portable.len(), "{what}");
        for (i, (v, p)) in vectorised.iter().zip(&portable).enumerate() {
            assert!(
                (v - p).abs() <= 1e-12 * (1.0 + p.abs()),
                "{what}[{i}]: vectorised {v} vs portable {p}"
            );
            differ += usize::from(v != p);
        }
    };
    // the MNIST network's layers: kernel-row and channels-last weight gradients
    check(both_forms(|| conv_pool_results::<1, 10, 5>(5, 28)), "1->10");
    check(
        both_forms(|| conv_pool_results::<10, 20, 5>(5, 12)),
        "10->20",
    );
    check(
        both_forms(|| conv_pool_results::<20, 40, 3>(17, 4)),
        "20->40",
    );
    // odd channel counts: partly used arrays of output and input channels
    check(both_forms(|| conv_pool_results::<9, 11, 3>(3, 9)), "9->11");
    if has_fma() {
        // the switch takes effect: fused and separate multiply-adds round differently
        assert!(differ > 0, "the portable form ran in both runs");
    }
}
