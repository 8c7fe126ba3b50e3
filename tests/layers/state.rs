//! A layer's whole definition survives dfdx's save/load, `to_dtype` and `ResetParams`: the
//! hyperparameters, the initial values chosen at construction and the noise seed, for all 37
//! variants with non-default settings.

use arelu::nn::{Act, ActivationLayer};
use arelu::{Activation, ActivationName, ActivationVisitor, Apl, Arelu, Elsa, Swish};
use dfdx::prelude::*;

/// A seed above 2⁵³, which an `f64` could not hold exactly.
const SEED: u64 = 0xDEAD_BEEF_1234_5678;

/// `A` with every hyperparameter and parameter moved off its default (Maxout has no other
/// element-wise setting than its default).
fn non_default<A: Activation>() -> A {
    let default = A::default();
    let config: Vec<f64> = default.config().iter().map(|v| v * 1.5 + 0.25).collect();
    let mut act = A::from_config(&config).unwrap_or_default();
    if !default.name().contains("maxout") && !default.config().is_empty() {
        assert_ne!(act.config(), default.config(), "{}", default.name());
    }
    let params: Vec<f64> = act.params().iter().map(|v| v * 0.75 - 0.125).collect();
    act.set_params(&params).unwrap();
    act
}

fn input<E: Dtype>(dev: &Cpu) -> Tensor<Rank1<64>, E, Cpu> {
    let values: Vec<E> = (0..64)
        .map(|i| E::from_f64(-4.0 + 8.0 * i as f64 / 63.0).unwrap())
        .collect();
    dev.tensor_from_vec(values, Rank1::<64>::default())
}

/// Eval output, and the outputs of two training passes (RReLU draws from its seed).
fn outputs<A: Activation, E: Dtype + arelu::activation::Float>(
    layer: &mut ActivationLayer<A, E, Cpu>,
    dev: &Cpu,
) -> Vec<Vec<E>>
where
    Cpu: Device<E>,
{
    let eval = layer.forward(input::<E>(dev)).as_vec();
    let mut out = vec![eval];
    for _ in 0..2 {
        let grads = layer.alloc_grads();
        out.push(layer.forward_mut(input::<E>(dev).traced(grads)).as_vec());
    }
    out
}

/// `to_dtype::<f64>()` for either float type (dfdx's conversion bound is not public).
trait Widen: Sized + Dtype {
    fn widen<A: Activation>(layer: &ActivationLayer<A, Self, Cpu>) -> ActivationLayer<A, f64, Cpu>;
}

impl Widen for f32 {
    fn widen<A: Activation>(layer: &ActivationLayer<A, f32, Cpu>) -> ActivationLayer<A, f64, Cpu> {
        layer.to_dtype::<f64>()
    }
}

impl Widen for f64 {
    fn widen<A: Activation>(layer: &ActivationLayer<A, f64, Cpu>) -> ActivationLayer<A, f64, Cpu> {
        layer.to_dtype::<f64>()
    }
}

fn check<A: Activation, E>()
where
    E: Dtype + arelu::activation::Float + dfdx::tensor::safetensors::SafeDtype + Widen,
    Cpu: Device<E>,
{
    let dev = Cpu::seed_from_u64(3);
    let act = non_default::<A>();
    let name = act.name();
    let mut layer = ActivationLayer::<A, E, Cpu>::try_new(act.clone(), &dev).unwrap();
    layer.set_noise_seed(SEED);
    // Current values differ from the initial ones.
    let trained: Vec<f64> = act.params().iter().map(|v| v + 0.0625).collect();
    layer.try_set_params(&trained).unwrap();
    let mut original = layer.clone();
    let expected = outputs(&mut original, &dev);

    // save → load into a freshly built model of the same type.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("layer.safetensors");
    layer.save_safetensors(&path).unwrap();
    let mut loaded = dev.build_module::<Act<A>, E>();
    assert_ne!(loaded.noise_seed().unwrap(), SEED);
    loaded.load_safetensors(&path).unwrap();
    assert_eq!(
        outputs(&mut loaded, &dev),
        expected,
        "{name}: outputs after load"
    );
    assert_eq!(loaded.noise_seed().unwrap(), SEED, "{name}");
    assert_eq!(loaded.initial_params().unwrap(), act.params(), "{name}");
    let stored = loaded.stored_activation().unwrap();
    assert_eq!(stored.config(), act.config(), "{name}");
    assert_eq!(loaded.activation().config(), act.config(), "{name}");
    // ResetParams restores the construction values, not the type's defaults.
    loaded.reset_params();
    let rounded: Vec<f64> = act
        .params()
        .iter()
        .map(|&v| E::from_f64(v).unwrap().to_f64().unwrap())
        .collect();
    assert_eq!(loaded.param_values(), rounded, "{name}: reset");

    // to_dtype keeps everything exactly; the outputs agree up to the precision of E.
    let mut wide = E::widen(&layer);
    assert_eq!(wide.noise_seed().unwrap(), SEED, "{name}");
    assert_eq!(wide.initial_params().unwrap(), act.params(), "{name}");
    assert_eq!(wide.stored_activation().unwrap().config(), act.config());
    assert_eq!(wide.param_values(), layer.param_values(), "{name}");
    let wide_out: Vec<Vec<f64>> = outputs::<A, f64>(&mut wide, &dev);
    for (a, b) in wide_out.iter().flatten().zip(expected.iter().flatten()) {
        let b: f64 = b.to_f64().unwrap();
        assert!(
            (a - b).abs() <= 1e-4 * a.abs().max(1.0),
            "{name}: {a} vs {b}"
        );
    }
}

struct Check;

impl ActivationVisitor for Check {
    type Output = ();
    fn visit<A: Activation>(self) {
        check::<A, f32>();
        check::<A, f64>();
    }
}

#[test]
fn every_variant_keeps_its_settings_through_save_load_to_dtype_and_reset() {
    let mut count = 0;
    for name in ActivationName::all() {
        name.visit(Check);
        count += 1;
    }
    assert_eq!(count, 37);
}

#[test]
fn reset_restores_the_values_given_at_construction() {
    let dev = Cpu::default();
    let mut layer: ActivationLayer<Arelu, f32, Cpu> =
        ActivationLayer::try_new(Arelu::new(0.5, 1.0), &dev).unwrap();
    layer.try_set_params(&[0.1, 0.2]).unwrap();
    layer.reset_params();
    assert_eq!(layer.param_values(), [0.5, 1.0]);
}

#[test]
fn reset_restores_every_parameter_of_a_large_layer() {
    let dev = Cpu::default();
    let mut act = Apl::<20>::default();
    let initial: Vec<f64> = (0..40).map(|i| 0.25 * i as f64 - 3.0).collect();
    act.set_params(&initial).unwrap();
    let mut layer: ActivationLayer<Apl<20>, f64, Cpu> =
        ActivationLayer::try_new(act, &dev).unwrap();
    layer.try_set_params(&[0.0; 40]).unwrap();
    layer.reset_params();
    assert_eq!(layer.param_values(), initial);
}

#[test]
fn a_state_of_another_activation_is_refused_by_the_passes() {
    // Same tensor names and shapes (alpha, beta, state): dfdx's own load accepts the file,
    // but the layer does not compute with a state that is not its own.
    let dev = Cpu::default();
    let arelu = dev.build_module::<Arelu, f32>();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("arelu.safetensors");
    arelu.save_safetensors(&path).unwrap();
    let mut elsa = dev.build_module::<Elsa<Swish>, f32>();
    elsa.load_safetensors(&path).unwrap();
    assert!(elsa.stored_activation().is_err());
    assert!(elsa.try_forward(input::<f32>(&dev)).is_err());
    // ResetParams repairs it to the type's default configuration.
    elsa.reset_params();
    // An f32 layer holds 0.9 as the nearest f32.
    assert_eq!(elsa.param_values(), [f64::from(0.9f32), 2.0]);
    assert!(elsa.try_forward(input::<f32>(&dev)).is_ok());
}
