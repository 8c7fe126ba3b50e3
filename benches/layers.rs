//! Each layer of `MnistConv<A>` on its own, at the shapes of a batch of 128: forward without
//! a tape, and forward + backward. Shows where a training step spends its time. The separate
//! convolution and pooling layers are timed too, next to the fused layer that replaces them.

use arelu::nn::conv::{Conv2D, InputConv2D};
use arelu::nn::conv_pool::{ConvPool2D, InputConvPool2D};
use arelu::nn::pool::MaxPool2D;
use arelu::nn::Act;
use arelu::Relu;
use criterion::{criterion_group, criterion_main, Criterion};
use dfdx::nn::{DeviceBuildExt, Module};
use dfdx::prelude::*;

const BATCH: usize = 128;

type Maps<const C: usize, T = NoneTape> = Tensor<(usize, Const<C>, usize, usize), f32, Cpu, T>;

/// Benchmarks `layer` on a random `(BATCH, C, side, side)` input, both passes.
fn bench_layer<const C: usize, const CO: usize, M>(
    c: &mut Criterion,
    name: &str,
    layer: &M,
    side: usize,
) where
    M: Module<Maps<C>, Output = Maps<CO>>
        + Module<Maps<C, OwnedTape<f32, Cpu>>, Output = Maps<CO, OwnedTape<f32, Cpu>>>,
{
    let dev = Cpu::seed_from_u64(0);
    let x: Maps<C> = dev.sample_normal_like(&(BATCH, Const, side, side));
    let mut group = c.benchmark_group("MnistConv layer, batch 128");
    group.sample_size(30);
    group.bench_function(format!("{name} forward"), |b| {
        b.iter(|| layer.forward(x.clone()))
    });
    group.bench_function(format!("{name} forward+backward"), |b| {
        b.iter(|| layer.forward(x.leaky_trace()).sum().backward())
    });
    group.finish();
}

fn layers(c: &mut Criterion) {
    let dev = Cpu::seed_from_u64(0);
    let conv1 = dev.build_module::<InputConv2D<1, 10, 5>, f32>();
    let conv2 = dev.build_module::<Conv2D<10, 20, 5>, f32>();
    let conv3 = dev.build_module::<Conv2D<20, 40, 3>, f32>();
    let pool = dev.build_module::<MaxPool2D<2>, f32>();
    let relu = dev.build_module::<Act<Relu>, f32>();
    let conv_pool1 = dev.build_module::<InputConvPool2D<1, 10, 5, 2>, f32>();
    let conv_pool2 = dev.build_module::<ConvPool2D<10, 20, 5, 2>, f32>();
    let conv_pool3 = dev.build_module::<ConvPool2D<20, 40, 3, 2>, f32>();
    bench_layer::<1, 10, _>(c, "conv+pool1 1->10 5x5 on 28x28", &conv_pool1, 28);
    bench_layer::<10, 10, _>(c, "relu1 10x12x12", &relu, 12);
    bench_layer::<10, 20, _>(c, "conv+pool2 10->20 5x5 on 12x12", &conv_pool2, 12);
    bench_layer::<20, 40, _>(c, "conv+pool3 20->40 3x3 on 4x4", &conv_pool3, 4);
    bench_layer::<1, 10, _>(c, "separate conv1 1->10 5x5 on 28x28", &conv1, 28);
    bench_layer::<10, 10, _>(c, "separate pool1 10x24x24", &pool, 24);
    bench_layer::<10, 20, _>(c, "separate conv2 10->20 5x5 on 12x12", &conv2, 12);
    bench_layer::<20, 20, _>(c, "separate pool2 20x8x8", &pool, 8);
    bench_layer::<20, 40, _>(c, "separate conv3 20->40 3x3 on 4x4", &conv3, 4);
}

criterion_group!(benches, layers);
criterion_main!(benches);
