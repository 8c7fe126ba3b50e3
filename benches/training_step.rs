//! One training step (forward, backward, SGD update) of `MnistConv<A>` at batch 128 on the
//! shipped MNIST subset, for a few activations side by side.

use arelu::experiment::batches::Images;
use arelu::mnist::Mnist;
use arelu::nn::MnistConv;
use arelu::Activation;
use arelu::{ActivationName, ActivationVisitor};
use criterion::{criterion_group, criterion_main, Criterion};
use dfdx::losses::cross_entropy_with_logits_loss;
use dfdx::optim::Sgd;
use dfdx::prelude::*;

struct Step<'a> {
    c: &'a mut Criterion,
    images: &'a Images,
}

impl ActivationVisitor for Step<'_> {
    type Output = ();
    fn visit<A: Activation>(self) {
        let dev = Cpu::seed_from_u64(0);
        let mut model = dev.build_module::<MnistConv<A>, f32>();
        let mut sgd = Sgd::new(
            &model,
            SgdConfig {
                lr: 0.01,
                momentum: Some(Momentum::Classic(0.9)),
                weight_decay: None,
            },
        );
        let indices: Vec<usize> = (0..128).collect();
        let (x, y) = self.images.batch(&dev, &indices);
        let mut grads = model.alloc_grads();
        let mut group = self.c.benchmark_group("MnistConv training step, batch 128");
        group.sample_size(20);
        group.bench_function(A::default().name(), |b| {
            b.iter(|| {
                let logits = model.forward_mut(x.clone().traced(grads.clone()));
                let loss = cross_entropy_with_logits_loss(logits, y.clone());
                let g = loss.backward();
                sgd.update(&mut model, &g).unwrap();
                grads = g;
                model.zero_grads(&mut grads);
            })
        });
        group.finish();
    }
}

fn training_step(c: &mut Criterion) {
    let mnist = Mnist::load_shipped().expect("the shipped subset loads");
    let images = Images::new(&mnist.train);
    for name in [
        "relu",
        "elsa-relu",
        "arelu",
        "swish",
        "elsa-swish",
        "pau",
        "elsa-pau",
    ] {
        let name: ActivationName = name.parse().expect("a valid name");
        name.visit(Step { c, images: &images });
    }
}

criterion_group!(benches, training_step);
criterion_main!(benches);
