//! The fused kernels and the composed dfdx-ops path agree, in values and in every gradient
//! (input and parameters), for all 37 variants, in f32 and f64, on contiguous and permuted
//! inputs.

use arelu::nn::composed::ComposedActivation;
use arelu::nn::fused::Noise;
use arelu::nn::ActivationLayer;
use arelu::{ActivationName, ComposedVisitor};
use dfdx::prelude::*;

type Shape3 = Rank3<3, 4, 5>;

/// Compares both paths for one activation type, element type `E`, with tolerance `tol`.
fn compare<A: ComposedActivation, E>(tol: f64, permuted: bool, noise: Noise)
where
    E: Dtype + arelu::activation::Float,
    Cpu: Device<E>,
{
    let dev = Cpu::seed_from_u64(11);
    let mut layer = ActivationLayer::<A, E, Cpu>::try_new(A::default(), &dev).unwrap();
    // Move every parameter off its default so that nothing is checked only at a special
    // point (Mixture's p = 0, PAU's near-zero b1 and b3).
    let shifted: Vec<f64> = layer
        .param_values()
        .iter()
        .enumerate()
        .map(|(i, v)| v + 0.05 + 0.01 * i as f64)
        .collect();
    layer.try_set_params(&shifted).unwrap();

    let x: Tensor<Shape3, E, Cpu> = if permuted {
        // Stored transposed: the strides are not the standard ones.
        let stored: Tensor<Rank3<5, 4, 3>, E, Cpu> =
            dev.tensor_from_vec(spread(60, 1), Rank3::<5, 4, 3>::default());
        stored.permute::<Shape3, Axes3<2, 1, 0>>()
    } else {
        dev.tensor_from_vec(spread(60, 1), Shape3::default())
    };
    let weights: Tensor<Shape3, E, Cpu> = dev.tensor_from_vec(spread(60, 2), Shape3::default());

    // The input is an intermediate result (x·1.5), not a leaf: both paths must hand the
    // gradient on to what came before them.
    let scale = E::from_f64(1.5).unwrap();
    let y_fused = layer
        .try_forward_fused(x.leaky_trace() * scale, noise)
        .unwrap();
    let y_fused_values = y_fused.as_vec();
    let fused_grads = (y_fused * weights.clone()).sum().backward();

    let y_composed = A::default().composed(x.leaky_trace() * scale, layer.param_tensors(), noise);
    let y_composed_values = y_composed.as_vec();
    let composed_grads = (y_composed * weights).sum().backward();

    let name = A::default().name();
    let close = |what: &str, a: &[E], b: &[E]| {
        assert_eq!(a.len(), b.len());
        for (i, (a, b)) in a.iter().zip(b).enumerate() {
            let (a, b) = (a.to_f64().unwrap(), b.to_f64().unwrap());
            assert!(
                (a - b).abs() <= tol * a.abs().max(b.abs()).max(1.0),
                "{name} {what}[{i}] (permuted {permuted}): fused {a} vs composed {b}"
            );
        }
    };
    close("y", &y_fused_values, &y_composed_values);
    close(
        "dx",
        &fused_grads.get(&x).as_vec(),
        &composed_grads.get(&x).as_vec(),
    );
    for (p, pname) in layer.param_tensors().iter().zip(layer.param_names()) {
        close(
            &format!("d{pname}"),
            &fused_grads.get(p).as_vec(),
            &composed_grads.get(p).as_vec(),
        );
    }
}

/// `n` values spread over about [-4, 4], none at a kink (0, 0.5 or 6), from a simple LCG.
fn spread<E: arelu::activation::Float>(n: usize, seed: u64) -> Vec<E> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let u = (state >> 11) as f64 / (1u64 << 53) as f64;
            let v = (u - 0.5) * 8.0;
            // Keep clear of the kinks, where one-sided conventions may differ.
            let v = if (v.abs()) < 0.05 || (v - 0.5).abs() < 0.05 {
                v + 0.2
            } else {
                v
            };
            E::from(v).unwrap()
        })
        .collect()
}

struct Compare {
    permuted: bool,
    noise: Noise,
}

impl ComposedVisitor for Compare {
    type Output = ();
    fn visit<A: ComposedActivation>(self) {
        compare::<A, f64>(1e-9, self.permuted, self.noise);
        compare::<A, f32>(2e-4, self.permuted, self.noise);
    }
}

#[test]
fn all_37_variants_agree_on_contiguous_inputs() {
    for name in ActivationName::all() {
        name.visit_composed(Compare {
            permuted: false,
            noise: Noise::Eval,
        });
    }
}

#[test]
fn all_37_variants_agree_on_permuted_inputs() {
    for name in ActivationName::all() {
        name.visit_composed(Compare {
            permuted: true,
            noise: Noise::Eval,
        });
    }
}

#[test]
fn training_noise_agrees_for_rrelu() {
    for name in ["rrelu", "elsa-rrelu"] {
        let name: ActivationName = name.parse().unwrap();
        name.visit_composed(Compare {
            permuted: false,
            noise: Noise::Train { seed: 3 },
        });
        name.visit_composed(Compare {
            permuted: true,
            noise: Noise::Train { seed: 4 },
        });
    }
}
