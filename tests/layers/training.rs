//! A few optimiser steps on a fixed batch lower the loss of `MnistConv<A>` for every one of
//! the 37 variants, with SGD (momentum 0.9) and with Adam, and move the activation
//! parameters.

use arelu::experiment::batches::Images;
use arelu::mnist::Mnist;
use arelu::nn::MnistConv;
use arelu::{Activation, ActivationName, ActivationVisitor};
use dfdx::losses::cross_entropy_with_logits_loss;
use dfdx::optim::{Adam, Sgd};
use dfdx::prelude::*;

struct Fit<'a> {
    images: &'a Images,
    adam: bool,
}

impl ActivationVisitor for Fit<'_> {
    type Output = (Vec<f32>, bool, String);
    fn visit<A: Activation>(self) -> Self::Output {
        let dev = Cpu::seed_from_u64(1);
        let mut model = dev.build_module::<MnistConv<A>, f32>();
        let indices: Vec<usize> = (0..64).collect();
        let (x, y) = self.images.batch(&dev, &indices);
        let before = model.0 .1.param_values();
        let mut sgd = Sgd::new(
            &model,
            SgdConfig {
                lr: 0.01,
                momentum: Some(Momentum::Classic(0.9)),
                weight_decay: None,
            },
        );
        let mut adam = Adam::new(
            &model,
            AdamConfig {
                lr: 0.005,
                ..Default::default()
            },
        );
        let mut grads = model.alloc_grads();
        let mut losses = Vec::new();
        for _ in 0..10 {
            let logits = model.forward_mut(x.clone().traced(grads));
            let loss = cross_entropy_with_logits_loss(logits, y.clone());
            losses.push(loss.array());
            grads = loss.backward();
            if self.adam {
                adam.update(&mut model, &grads).unwrap();
            } else {
                sgd.update(&mut model, &grads).unwrap();
            }
            model.zero_grads(&mut grads);
        }
        let after = model.0 .1.param_values();
        let moved = before.is_empty() || before.iter().zip(&after).all(|(b, a)| b != a);
        (losses, moved, A::default().name())
    }
}

fn check(adam: bool) {
    let mnist = Mnist::load_shipped().unwrap();
    let images = Images::new(&mnist.train);
    for name in ActivationName::all() {
        let (losses, moved, type_name) = name.visit(Fit {
            images: &images,
            adam,
        });
        assert_eq!(type_name, name.to_string());
        let (first, last) = (losses[0], *losses.last().unwrap());
        assert!(
            last < first,
            "{name} (adam {adam}): loss {first} -> {last}: {losses:?}"
        );
        assert!(
            moved,
            "{name} (adam {adam}): the activation parameters did not all move"
        );
    }
}

#[test]
fn sgd_lowers_the_loss_for_every_variant() {
    check(false);
}

#[test]
fn adam_lowers_the_loss_for_every_variant() {
    check(true);
}
