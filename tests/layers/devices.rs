//! The composed path that the layers run on devices other than the CPU
//! (`ActivationLayer::try_forward_composed`) computes, from the layer's own state, what the
//! fused CPU kernels compute: values and every gradient, for all 37 variants with non-default
//! settings, in evaluation and in training (RReLU's noise).

use arelu::nn::composed::ComposedActivation;
use arelu::nn::fused::Noise;
use arelu::nn::ActivationLayer;
use arelu::{Activation, ActivationName, ComposedVisitor};
use dfdx::prelude::*;

fn non_default<A: Activation>() -> A {
    let config: Vec<f64> = A::default()
        .config()
        .iter()
        .map(|v| v * 1.5 + 0.25)
        .collect();
    let mut act = A::from_config(&config).unwrap_or_default();
    let params: Vec<f64> = act.params().iter().map(|v| v * 0.75 - 0.125).collect();
    act.set_params(&params).unwrap();
    act
}

struct Both;

impl ComposedVisitor for Both {
    type Output = ();
    fn visit<A: ComposedActivation>(self) {
        let dev = Cpu::seed_from_u64(9);
        let layer = ActivationLayer::<A, f64, Cpu>::try_new(non_default::<A>(), &dev).unwrap();
        let name = layer.activation().name();
        for noise in [Noise::Eval, Noise::Train { seed: 77 }] {
            // Off every kink: the composed form's `relu` and the fused kernels take different (each
            // documented) derivatives at exactly a hinge, as APL's at x = b (0.25 here).
            let values: Vec<f64> = (0..48).map(|i| -3.0 + 0.13 * i as f64 + 1e-3).collect();
            let x: Tensor<Rank2<6, 8>, f64, Cpu> = dev.tensor_from_vec(values, Default::default());
            let weights: Tensor<Rank2<6, 8>, f64, Cpu> = dev.sample_normal();

            let fused = layer.try_forward_fused(x.leaky_trace(), noise).unwrap();
            let fused_y = fused.as_vec();
            let fused_grads = (fused * weights.clone()).sum().backward();
            let composed = layer.try_forward_composed(x.leaky_trace(), noise).unwrap();
            let composed_y = composed.as_vec();
            let composed_grads = (composed * weights).sum().backward();

            let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(1.0);
            for (a, b) in fused_y.iter().zip(&composed_y) {
                assert!(close(*a, *b), "{name}: y {a} vs {b}");
            }
            let (gf, gc) = (
                fused_grads.get(&x).as_vec(),
                composed_grads.get(&x).as_vec(),
            );
            for (a, b) in gf.iter().zip(&gc) {
                assert!(close(*a, *b), "{name}: dx {a} vs {b}");
            }
            for p in layer.param_tensors() {
                let (a, b) = (fused_grads.get(p).array(), composed_grads.get(p).array());
                assert!(close(a, b), "{name}: dθ {a} vs {b}");
            }
        }
    }
}

#[test]
fn both_paths_agree_from_the_layer_state() {
    for name in ActivationName::all() {
        name.visit_composed(Both);
    }
}

#[test]
fn the_composed_path_refuses_a_state_of_another_activation() {
    let dev = Cpu::default();
    let arelu = dev.build_module::<arelu::Arelu, f32>();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("arelu.safetensors");
    arelu.save_safetensors(&path).unwrap();
    let mut other = dev.build_module::<arelu::Elsa<arelu::Swish>, f32>();
    other.load_safetensors(&path).unwrap();
    let x: Tensor<Rank1<4>, f32, Cpu> = dev.zeros();
    assert!(other.try_forward_composed(x, Noise::Eval).is_err());
}
