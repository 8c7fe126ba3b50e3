//! The activations of `examples/custom_activation.rs` are first-class: exact derivatives,
//! dfdx builders in tuples, ELSA, training in `MnistConv`, save and load, and a curve snapshot.

#[allow(dead_code)]
#[path = "../examples/custom_activation.rs"]
mod example;

use arelu::experiment::batches::Images;
use arelu::mnist::Mnist;
use arelu::nn::{load_checked, ActivationLayer};
use arelu::{curve, Activation, Elsa};
use dfdx::prelude::*;
use example::{LearnableMish, Mish};

/// The analytic derivatives agree with central differences of the value.
fn check_derivatives<A: Activation>(act: &A) {
    let h = 1e-6;
    for i in 0..=80 {
        let x = -4.0 + 0.1 * i as f64 + 0.013;
        let (dx, dparams) = act.derivatives(x);
        let numeric = (act.eval(x + h) - act.eval(x - h)) / (2.0 * h);
        assert!(
            (dx - numeric).abs() < 1e-6,
            "{} at {x}: {dx} vs {numeric}",
            act.name()
        );
        for (j, d) in dparams.iter().enumerate() {
            let shifted = |delta: f64| {
                let mut a = act.clone();
                let mut p = a.params();
                p[j] += delta;
                a.set_params(&p).unwrap();
                a.eval(x)
            };
            let numeric = (shifted(h) - shifted(-h)) / (2.0 * h);
            assert!(
                (d - numeric).abs() < 1e-6,
                "{} param {j} at {x}",
                act.name()
            );
        }
    }
}

#[test]
fn the_derivatives_are_exact() {
    check_derivatives(&Mish);
    check_derivatives(&LearnableMish { a: 0.7 });
    check_derivatives(&Elsa::new(LearnableMish { a: 1.3 }));
}

#[test]
fn the_curves_match_their_snapshots() {
    let grid = curve::grid(-4.0, 4.0, 0.5).unwrap();
    insta::assert_snapshot!(
        "curve_elsa-mish",
        curve::snapshot_table(&Elsa::new(Mish), &grid)
    );
    insta::assert_snapshot!(
        "curve_elsa-learnable_mish",
        curve::snapshot_table(&Elsa::new(LearnableMish::default()), &grid)
    );
}

#[test]
fn they_build_bare_in_dfdx_tuples() {
    let dev = Cpu::default();
    let model = dev.build_module::<(Linear<4, 8>, Mish, Linear<8, 8>, LearnableMish), f64>();
    assert_eq!(model.3.param_names(), ["a"]);
    let x = dev.tensor([0.5, -1.0, 2.0, 0.0]);
    let hidden = model.0.forward(x.clone());
    let expected: Vec<f64> = hidden.as_vec().iter().map(|&v| Mish.eval(v)).collect();
    let y = model.1.forward(hidden);
    for (a, b) in y.as_vec().iter().zip(&expected) {
        assert!((a - b).abs() < 1e-12);
    }
}

#[test]
fn training_in_mnist_conv_lowers_the_loss_and_moves_the_parameter() {
    let mnist = Mnist::load_shipped().unwrap();
    let images = Images::new(&mnist.train);
    for losses in [
        example::train_for_test::<Elsa<Mish>>(&images, 8),
        example::train_for_test::<Elsa<LearnableMish>>(&images, 8),
    ] {
        assert!(losses.last().unwrap() < &losses[0], "{losses:?}");
    }
}

#[test]
fn the_initial_value_survives_save_and_checked_load() {
    let dev = Cpu::default();
    let layer: ActivationLayer<Elsa<LearnableMish>, f32, Cpu> =
        ActivationLayer::try_new(Elsa::new(LearnableMish { a: 0.5 }), &dev).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mish.safetensors");
    layer.save_safetensors(&path).unwrap();
    let mut loaded = dev.build_module::<Elsa<LearnableMish>, f32>();
    load_checked(&mut loaded, &path).unwrap();
    assert_eq!(loaded.param_values()[0], 0.5);
    loaded.try_set_params(&[2.0, 0.1, 0.1]).unwrap();
    loaded.reset_params();
    // An f32 layer holds 0.9 as the nearest f32.
    assert_eq!(loaded.param_values(), [0.5, f64::from(0.9f32), 2.0]);
}
