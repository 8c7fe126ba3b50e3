//! The layers inside dfdx: builders, tuples, parameter visitors, optimisers, save and load,
//! train versus eval.

use arelu::{Activation, Arelu, Elsa, Pau, Prelu, Rrelu, Swish};
use dfdx::optim::{Adam, Sgd};
use dfdx::prelude::*;

#[test]
fn activation_types_are_builders_usable_in_tuples() {
    let dev = Cpu::default();
    type Model = (Linear<3, 5>, Elsa<Swish>, Linear<5, 2>, Arelu);
    let model = dev.build_module::<Model, f64>();
    assert_eq!(model.1.param_names(), ["alpha", "beta"]);
    assert_eq!(model.1.param_values(), [0.9, 2.0]);
    let x: Tensor<Rank2<4, 3>, f64, _> = dev.sample_normal();
    let y = model.forward(x);
    assert!(y.as_vec().iter().all(|v| v.is_finite()));
}

#[test]
fn num_params_counts_activation_parameters() {
    let dev = Cpu::default();
    assert_eq!(
        dev.build_module::<Elsa<Pau>, f32>().num_trainable_params(),
        12
    );
    assert_eq!(dev.build_module::<Arelu, f32>().num_trainable_params(), 2);
    assert_eq!(
        dev.build_module::<arelu::Relu, f32>()
            .num_trainable_params(),
        0
    );
    assert_eq!(
        dev.build_module::<(Linear<2, 2>, Prelu), f32>()
            .num_trainable_params(),
        6 + 1
    );
}

#[test]
fn reset_params_restores_the_initial_values() {
    let dev = Cpu::default();
    let mut layer = dev.build_module::<Elsa<Prelu>, f64>();
    layer.try_set_params(&[1.0, 2.0, 3.0]).unwrap();
    assert_eq!(layer.param_values(), [1.0, 2.0, 3.0]);
    layer.reset_params();
    assert_eq!(layer.param_values(), [0.25, 0.9, 2.0]);
}

#[test]
fn initial_values_can_be_chosen_from_code() {
    let dev = Cpu::default();
    let layer = arelu::nn::ActivationLayer::try_new(Arelu::new(0.3, -1.0), &dev).unwrap();
    let layer: arelu::nn::ActivationLayer<Arelu, f32, Cpu> = layer;
    assert_eq!(layer.param_values(), [0.3f32 as f64, -1.0]);
    assert_eq!(layer.activation(), Arelu::new(0.3f32 as f64, -1.0));
    let mut other = dev.build_module::<Arelu, f32>();
    assert!(other.try_set_params(&[1.0]).is_err());
    other.try_set_activation(Arelu::new(0.5, 0.5)).unwrap();
    assert_eq!(other.param_values(), [0.5, 0.5]);
    // A Maxout with groups is not element-wise and is refused with a typed error.
    let grouped = arelu::Maxout::new(2).unwrap();
    assert!(arelu::nn::ActivationLayer::<arelu::Maxout, f32, Cpu>::try_new(grouped, &dev).is_err());
}

#[test]
fn sgd_and_adam_update_alpha_and_beta() {
    let dev = Cpu::seed_from_u64(0);
    type Model = (Linear<4, 8>, Arelu, Linear<8, 1>);
    let mut model = dev.build_module::<Model, f32>();
    let x: Tensor<Rank2<16, 4>, f32, _> = dev.sample_normal();
    let target: Tensor<Rank2<16, 1>, f32, _> = dev.sample_normal();
    let mut sgd = Sgd::new(
        &model,
        SgdConfig {
            lr: 0.1,
            momentum: Some(Momentum::Classic(0.9)),
            weight_decay: None,
        },
    );
    let mut adam = Adam::new(
        &model,
        AdamConfig {
            lr: 0.01,
            ..Default::default()
        },
    );
    let before = model.1.param_values();
    let mut losses = Vec::new();
    for step in 0..20 {
        let grads = model.alloc_grads();
        let loss = mse_loss(model.forward_mut(x.clone().traced(grads)), target.clone());
        losses.push(loss.array());
        let grads = loss.backward();
        if step < 10 {
            sgd.update(&mut model, &grads).unwrap();
        } else {
            adam.update(&mut model, &grads).unwrap();
        }
    }
    let after = model.1.param_values();
    assert_ne!(before[0], after[0], "alpha moved");
    assert_ne!(before[1], after[1], "beta moved");
    assert!(losses.last().unwrap() < &losses[0], "loss fell: {losses:?}");
}

#[test]
fn save_and_load_round_trip_through_safetensors() {
    let dev = Cpu::default();
    type Model = (Linear<3, 3>, Elsa<Pau>);
    let mut model = dev.build_module::<Model, f32>();
    let values: Vec<f64> = (0..12).map(|i| 0.1 * i as f64 - 0.3).collect();
    model.1.try_set_params(&values).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    model.save_safetensors(&path).unwrap();
    let mut loaded = dev.build_module::<Model, f32>();
    loaded.load_safetensors(&path).unwrap();
    assert_eq!(loaded.1.param_values(), model.1.param_values());
    let x: Tensor<Rank2<2, 3>, f32, _> = dev.sample_normal();
    assert_eq!(loaded.forward(x.clone()).array(), model.forward(x).array());
}

#[test]
fn rrelu_is_random_only_in_training() {
    let dev = Cpu::default();
    let mut layer = dev.build_module::<Rrelu, f64>();
    let x: Tensor<Rank1<1000>, f64, _> = dev.ones() * -1.0;
    // Evaluation: the mean slope, with or without a tape, and through forward_mut without one.
    let eval = layer.forward(x.clone()).as_vec();
    assert!(eval.iter().all(|&v| (v
        + Rrelu::default().bounds().0 / 2.0
        + Rrelu::default().bounds().1 / 2.0)
        .abs()
        < 1e-12));
    assert_eq!(layer.forward_mut(x.clone()).as_vec(), eval);
    // Training: slopes drawn from U(1/8, 1/3), different at every pass.
    let first = layer.forward_mut(x.clone().leaky_trace()).as_vec();
    let second = layer.forward_mut(x.clone().leaky_trace()).as_vec();
    assert_ne!(first, second);
    let (low, high) = Rrelu::default().bounds();
    assert!(first.iter().all(|&v| -v >= low && -v < high));
    let mean = first.iter().map(|v| -v).sum::<f64>() / 1000.0;
    assert!(
        (mean - (low + high) / 2.0).abs() < 0.02,
        "mean slope {mean}"
    );
}

#[test]
fn zero_grads_and_gradient_accumulation_work() {
    let dev = Cpu::default();
    let layer = dev.build_module::<Arelu, f64>();
    let x: Tensor<Rank1<3>, f64, _> = dev.tensor([-1.0, 2.0, 3.0]);
    let mut grads = layer.alloc_grads();
    for _ in 0..2 {
        let y = layer.forward(x.clone().traced(grads)).sum();
        grads = y.backward();
    }
    // Two accumulated passes: d(sum y)/dα = 2·(−1).
    assert_eq!(grads.get(&layer.param_tensors()[0]).array(), -2.0);
    layer.zero_grads(&mut grads);
    assert_eq!(grads.get(&layer.param_tensors()[0]).array(), 0.0);
    let _ = Arelu::default().num_params();
}
