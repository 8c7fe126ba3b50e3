//! A short tour: compose the paper's activations into dfdx models at type level, train a few
//! steps on the MNIST subset shipped with the crate, read the learned ELSA parameters, and
//! save and reload a model.
//!
//! ```text
//! cargo run --release --example compose
//! ```
//!
//! It takes no options (`--help` says so). The saved model goes to a private temporary
//! directory, created for this run and removed at its end.

use arelu::experiment::batches::Images;
use arelu::mnist::Mnist;
use arelu::nn::{Act, MnistConv};
use arelu::{Activation, Arelu, Elsa, Pau, Swish};
use dfdx::losses::cross_entropy_with_logits_loss;
use dfdx::optim::{Adam, Sgd};
use dfdx::prelude::*;

/// A short tour of composing the paper's activations into dfdx models: a few training steps on
/// the shipped MNIST subset, the learned ELSA parameters, and a save-and-reload round trip.
#[derive(clap::Parser)]
#[command(about)]
struct Args {}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Args {} = clap::Parser::parse();
    let dev = Cpu::seed_from_u64(0);
    let mnist = Mnist::load_shipped()?;
    let images = Images::new(&mnist.train);

    // 1. Activations are dfdx builders: put them in tuples next to dfdx's own layers.
    type Mlp = (
        Linear<4, 16>,
        Elsa<Swish>,
        Linear<16, 16>,
        Pau,
        Linear<16, 2>,
    );
    let mlp = dev.build_module::<Mlp, f32>();
    println!(
        "Elsa<Swish> parameters: {:?} = {:?}",
        mlp.1.param_names(),
        mlp.1.param_values()
    );
    println!("PAU has {} parameters", mlp.3.param_names().len());

    // 2. The paper's network is a type, generic over its activation.
    let mut arelu_net = dev.build_module::<MnistConv<Arelu>, f32>();
    let mut elsa_net = dev.build_module::<MnistConv<Elsa<Swish>>, f32>();

    // Initial values can be chosen from code: start AReLU's first layer at α = 0.5, β = 1.
    arelu_net.0 .1.try_set_params(&[0.5, 1.0])?;

    // 3. Train both for a few steps on the same batches.
    let mut sgd = Sgd::new(
        &arelu_net,
        SgdConfig {
            lr: 0.01,
            momentum: Some(Momentum::Classic(0.9)),
            weight_decay: None,
        },
    );
    let mut adam = Adam::new(
        &elsa_net,
        AdamConfig {
            lr: 1e-3,
            ..Default::default()
        },
    );
    let mut arelu_grads = arelu_net.alloc_grads();
    let mut elsa_grads = elsa_net.alloc_grads();
    for step in 0..20 {
        let batch: Vec<usize> = (step * 128..(step + 1) * 128).collect();
        let (x, y) = images.batch(&dev, &batch);

        let loss = cross_entropy_with_logits_loss(
            arelu_net.forward_mut(x.clone().traced(arelu_grads)),
            y.clone(),
        );
        let arelu_loss = loss.array();
        arelu_grads = loss.backward();
        sgd.update(&mut arelu_net, &arelu_grads)?;
        arelu_net.zero_grads(&mut arelu_grads);

        let loss = cross_entropy_with_logits_loss(elsa_net.forward_mut(x.traced(elsa_grads)), y);
        let elsa_loss = loss.array();
        elsa_grads = loss.backward();
        adam.update(&mut elsa_net, &elsa_grads)?;
        elsa_net.zero_grads(&mut elsa_grads);

        if step % 5 == 4 {
            println!("step {:2}: AReLU (SGD) loss {arelu_loss:.3}, Elsa<Swish> (Adam) loss {elsa_loss:.3}", step + 1);
        }
    }

    // 4. The learned α and β of each activation layer, and the learned curve.
    for (i, layer) in [&arelu_net.0 .1, &arelu_net.1 .1, &arelu_net.2 .1]
        .iter()
        .enumerate()
    {
        let learned: Arelu = layer.activation();
        println!(
            "AReLU layer {}: alpha {:.4}, beta {:.4}; f(-1) = {:.4}, f(1) = {:.4}",
            i + 1,
            learned.alpha,
            learned.beta,
            learned.eval(-1.0f64),
            learned.eval(1.0f64)
        );
    }
    let elsa = elsa_net.0 .1.activation();
    println!(
        "Elsa<Swish> layer 1: alpha {:.4}, beta {:.4}",
        elsa.alpha, elsa.beta
    );

    // 5. Save and reload with safetensors: same parameters, same outputs.
    // A fresh directory only this process can write to: a fixed name in the shared temporary
    // directory could be a link planted by another user, and writing would follow it.
    let dir = tempfile::Builder::new()
        .prefix("arelu-compose-")
        .tempdir()?;
    let path = dir.path().join("model.safetensors");
    arelu_net.save_safetensors(&path)?;
    let mut reloaded = dev.build_module::<MnistConv<Arelu>, f32>();
    reloaded
        .load_safetensors(&path)
        .map_err(|e| format!("loading {}: {e:?}", path.display()))?;
    let (x, _) = images.batch(&dev, &[0, 1, 2]);
    let same = reloaded.forward(x.clone()).as_vec() == arelu_net.forward(x).as_vec();
    println!("reloaded from {}: same outputs: {same}", path.display());
    dir.close()?;
    if !same {
        return Err("the reloaded model gives different outputs".into());
    }

    // `Act<A>` builds a layer for any activation type in generic code.
    let _generic = dev.build_module::<Act<Elsa<Pau>>, f64>();
    Ok(())
}
